//! The Library's Trail and Review tabs: the pages read on the sites where the
//! user keeps a trail, as a timeline, and the day's highlights to read again.
//! What they show is computed in `trail_view` (tested natively); this draws it
//! and sends the user's choices to the background.

use std::rc::Rc;

use cairn_library::review::{answer, ReviewState, Verdict};
use cairn_library::search::Index;
use cairn_library::trail::{reading_time, TrailEntry, RETENTION_CHOICES};
use cairn_library::{page_title, text_fragment_url, LocalRecord};
use cairn_protocol::messages::{teammate_color, PanelRequest, StatusReport, TEAMMATE_PALETTE};
use cairn_web::chrome::local_day_start_ms;
use cairn_web::client;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::items::now_ms;
use crate::library_view::without_scheme;
use crate::state::relative_time;
use crate::trail_view::{review_today, trail_days, trail_titles, TrailRow};
use crate::widgets::Icon;

/// What the Library loaded, shared by its tabs. Cheap to clone; the tabs replace a
/// part of it (through `Shelf` callbacks) once the background has saved a change.
#[derive(Clone)]
pub struct Shelf {
    pub index: Rc<Index>,
    pub trail: Rc<Vec<TrailEntry>>,
    pub trail_sites: Rc<Vec<String>>,
    pub retention_days: u32,
    pub review: Rc<Vec<ReviewState>>,
}

impl PartialEq for Shelf {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.index, &other.index)
            && Rc::ptr_eq(&self.trail, &other.trail)
            && Rc::ptr_eq(&self.trail_sites, &other.trail_sites)
            && self.retention_days == other.retention_days
            && Rc::ptr_eq(&self.review, &other.review)
    }
}

#[derive(Properties, PartialEq)]
pub struct TabProps {
    pub shelf: Shelf,
    pub status: Option<StatusReport>,
    pub query: String,
    /// The shelf as it is after a change the background saved.
    pub update: Callback<Shelf>,
    /// A message for the user: (is it an error, the words).
    pub notify: Callback<(bool, String)>,
}

/// Sends `request`; once the background has saved it, `then` updates the page.
fn send(request: PanelRequest, notify: Callback<(bool, String)>, then: impl FnOnce() + 'static) {
    wasm_bindgen_futures::spawn_local(async move {
        match client::ask(&request).await {
            Ok(_) => then(),
            Err(e) => notify.emit((true, e)),
        }
    });
}

fn retention_label(days: u32) -> &'static str {
    match days {
        7 => "1 week",
        30 => "30 days",
        90 => "90 days",
        365 => "1 year",
        _ => "until I clear it",
    }
}

fn trail_row(row: &TrailRow, on_forget: Callback<MouseEvent>) -> Html {
    let e = row.entry;
    let title = if e.title.is_empty() { without_scheme(&e.url).to_string() } else { e.title.clone() };
    let site = cairn_model::PageKey::from_url(&e.url).map(|k| k.origin()).unwrap_or_default();
    let last = cairn_model::format_rfc3339_ms(e.last_visit_ms);
    let visits = if e.visits == 1 { "1 visit".to_string() } else { format!("{} visits", e.visits) };
    html! {
        <li class="trail-row" data-testid="trail-entry" data-page-key={e.page_key.clone()}>
            <div class="grow">
                <a class="trail-title clamp" style="--lines: 2" href={e.url.clone()} target="_blank" rel="noopener noreferrer"
                    data-testid="trail-title">{ title }</a>
                <p class="page-meta">
                    <span class="site">{ without_scheme(&site).to_string() }</span>
                    <time datetime={last.clone()} title={format!("First visit {}, last {}", cairn_model::format_rfc3339_ms(e.first_visit_ms), last)}>
                        { relative_time(&last, now_ms()) }</time>
                    <span data-testid="trail-time">{ format!("{} in view", reading_time(e.active_ms)) }</span>
                    <span data-testid="trail-scrolled">{ format!("read to {} %", e.scrolled_percent) }</span>
                    <span>{ visits }</span>
                </p>
                if row.highlights > 0 || row.clipped {
                    <p class="trail-kept">
                        if row.highlights > 0 {
                            <span class="chip audience-shared" data-testid="trail-highlights">
                                { if row.highlights == 1 { "1 highlight".to_string() } else { format!("{} highlights", row.highlights) } }</span>
                        }
                        if row.clipped { <span class="chip audience-shared" data-testid="trail-clipped">{ "Clipped" }</span> }
                    </p>
                }
            </div>
            <button type="button" class="btn ghost icon" onclick={on_forget} aria-label={format!("Forget {} from the trail", e.title)}
                title="Forget this page" data-testid="trail-forget"><Icon name="close" /></button>
        </li>
    }
}

#[function_component(TrailTab)]
pub fn trail_tab(p: &TabProps) -> Html {
    let confirm_clear = use_state(|| false);
    let shelf = &p.shelf;
    let allowed: Vec<String> = p.status.as_ref().map(|s| s.allowed_sites.clone()).unwrap_or_default();
    let toggle = |origin: String| {
        let (shelf, update, notify) = (shelf.clone(), p.update.clone(), p.notify.clone());
        Callback::from(move |e: Event| {
            let on = e.target_unchecked_into::<HtmlInputElement>().checked();
            let (shelf, update, origin) = (shelf.clone(), update.clone(), origin.clone());
            let message = if on {
                format!("The trail now records the pages you read on {}", without_scheme(&origin))
            } else {
                format!(
                    "The trail no longer records {}; what it kept stays until you forget it",
                    without_scheme(&origin)
                )
            };
            let request = PanelRequest::SetTrailSite { origin: origin.clone(), on };
            let notify_done = notify.clone();
            send(request, notify.clone(), move || {
                let mut sites: Vec<String> = shelf.trail_sites.iter().filter(|o| **o != origin).cloned().collect();
                if on {
                    sites.push(origin);
                }
                update.emit(Shelf { trail_sites: Rc::new(sites), ..shelf });
                notify_done.emit((false, message));
            });
        })
    };
    let on_retention = {
        let (shelf, update, notify) = (shelf.clone(), p.update.clone(), p.notify.clone());
        Callback::from(move |e: Event| {
            let Ok(days) = e.target_unchecked_into::<HtmlSelectElement>().value().parse::<u32>() else { return };
            let (shelf, update) = (shelf.clone(), update.clone());
            let notify_done = notify.clone();
            send(PanelRequest::SetTrailRetention { days }, notify.clone(), move || {
                update.emit(Shelf { retention_days: days, ..shelf });
                notify_done.emit((false, format!("The trail keeps pages {}", retention_label(days))));
            });
        })
    };
    let forget = |key: String| {
        let (shelf, update, notify) = (shelf.clone(), p.update.clone(), p.notify.clone());
        Callback::from(move |_: MouseEvent| {
            let (shelf, update, key) = (shelf.clone(), update.clone(), key.clone());
            let request = PanelRequest::DeleteTrailEntry { page_key: key.clone() };
            send(request, notify.clone(), move || {
                let trail = shelf.trail.iter().filter(|e| e.page_key != key).cloned().collect();
                update.emit(Shelf { trail: Rc::new(trail), ..shelf });
            });
        })
    };
    let ask_clear = {
        let confirm_clear = confirm_clear.clone();
        Callback::from(move |_: MouseEvent| confirm_clear.set(true))
    };
    let cancel_clear = {
        let confirm_clear = confirm_clear.clone();
        Callback::from(move |_: MouseEvent| confirm_clear.set(false))
    };
    let clear = {
        let (shelf, update, notify, confirm_clear) =
            (shelf.clone(), p.update.clone(), p.notify.clone(), confirm_clear.clone());
        Callback::from(move |_: MouseEvent| {
            let (shelf, update, confirm_clear) = (shelf.clone(), update.clone(), confirm_clear.clone());
            let notify_done = notify.clone();
            send(PanelRequest::ClearTrail {}, notify.clone(), move || {
                confirm_clear.set(false);
                update.emit(Shelf { trail: Rc::new(Vec::new()), ..shelf });
                notify_done.emit((false, "The trail is cleared".into()));
            });
        })
    };
    let today = local_day_start_ms();
    let days = trail_days(&shelf.trail, shelf.index.records(), today, &p.query);
    let n = shelf.trail.len();
    html! {
        <section aria-labelledby="trail-heading" data-testid="trail">
            <h2 id="trail-heading" class="visually-hidden">{ "Reading trail" }</h2>
            <div class="card trail-settings">
                <p class="hint">{ "The pages you read, kept in this browser only and never shared with a community. Off until you turn it on for a site." }</p>
                if allowed.is_empty() {
                    <p class="hint" data-testid="trail-no-sites">{ "Cairn runs on no site yet: allow one in " }<a href="options.html" target="_blank">{ "Options" }</a>{ " first." }</p>
                }
                if !allowed.is_empty() { <p class="field-label">{ "Record the pages I read on" }</p> }
                <ul class="trail-sites" aria-label="Sites where the trail records pages">
                    { for allowed.iter().map(|o| {
                        let on = shelf.trail_sites.contains(o);
                        html! { <li><label class="check">
                            <input type="checkbox" role="switch" checked={on} onchange={toggle(o.clone())} data-testid="trail-site" data-origin={o.clone()} />
                            <span class="site">{ without_scheme(o).to_string() }</span>
                        </label></li> }
                    }) }
                </ul>
                <div class="row trail-actions">
                    <label class="check">{ "Keep pages for" }
                        <select onchange={on_retention} data-testid="trail-retention" aria-label="How long the trail keeps a page">
                            { for RETENTION_CHOICES.iter().map(|d| html! {
                                <option value={d.to_string()} selected={*d == shelf.retention_days}>{ retention_label(*d) }</option>
                            }) }
                        </select>
                    </label>
                    <span class="grow"></span>
                    if *confirm_clear {
                        <span class="hint" role="alert">{ format!("Forget all {n} pages of the trail?") }</span>
                        <button type="button" class="btn small danger" onclick={clear} data-testid="trail-clear-confirm">{ "Clear trail" }</button>
                        <button type="button" class="btn small" onclick={cancel_clear}>{ "Keep it" }</button>
                    } else {
                        <button type="button" class="btn small" onclick={ask_clear} disabled={n == 0} data-testid="trail-clear">{ "Clear trail…" }</button>
                    }
                </div>
            </div>
            if days.is_empty() {
                <div class="empty" data-testid="trail-empty">
                    if n > 0 {
                        <strong>{ format!("No page of the trail matches “{}”", p.query.trim()) }</strong>
                        { "The trail is searched by title and address." }
                    } else if shelf.trail_sites.is_empty() {
                        <strong>{ "The reading trail is off" }</strong>
                        { "Turn it on for a site above: the pages you read there appear here, day by day, with what you kept on them." }
                    } else {
                        <strong>{ "No pages yet" }</strong>
                        { "Pages you read on the sites turned on above appear here, day by day." }
                    }
                </div>
            }
            { for days.iter().map(|day| html! {
                <section class="trail-day" data-testid="trail-day">
                    <h3>{ &day.label }</h3>
                    <ul class="trail-list">
                        { for day.rows.iter().map(|row| trail_row(row, forget(row.entry.page_key.clone()))) }
                    </ul>
                </section>
            }) }
        </section>
    }
}

/// In how many days a kept item comes back: what `answer` would give it.
fn next_interval(state: Option<&ReviewState>) -> u32 {
    answer(state, "", Verdict::Keep, 0).interval_days
}

fn review_card(
    record: &LocalRecord,
    state: Option<&ReviewState>,
    trail_title: Option<&String>,
    on: impl Fn(Verdict) -> Callback<MouseEvent>,
) -> Html {
    let a = &record.annotation;
    let link = text_fragment_url(&a.target.source, a.quote().unwrap_or(""));
    let title = trail_title.cloned().unwrap_or_else(|| without_scheme(&page_title(record)).to_string());
    let created = a.created.clone().unwrap_or_default();
    let keep_days = next_interval(state);
    let style =
        record.teammate.as_deref().map(|t| format!("--item-color: {}", TEAMMATE_PALETTE[teammate_color(t) as usize]));
    html! {
        <li class={classes!("item", "review-card", record.teammate.is_none().then(|| format!("color-{}", a.color().name())), record.teammate.is_some().then_some("teammate"))}
            {style} data-testid="review-item" data-id={record.id.clone()}>
            <blockquote class="quote clamp" style="--lines: 8">{ a.quote().unwrap_or("") }</blockquote>
            if let Some(note) = a.note() {
                <p class="note library-note clamp" style="--lines: 6">{ note }</p>
            }
            <p class="page-meta">
                <a href={link.clone()} target="_blank" rel="noopener noreferrer" class="clamp" style="--lines: 1">{ title }</a>
                if let Some(t) = &record.teammate { <span data-testid="teammate">{ format!("by {t}") }</span> }
                <time datetime={created.clone()}>{ relative_time(&created, now_ms()) }</time>
            </p>
            <div class="row review-actions">
                <button type="button" class="btn small primary" onclick={on(Verdict::Keep)} data-testid="review-keep"
                    title="Worth reading again: it comes back later, then less and less often">
                    { if keep_days == 1 { "Keep · back tomorrow".to_string() } else { format!("Keep · back in {keep_days} days") } }</button>
                <button type="button" class="btn small" onclick={on(Verdict::Snooze)} data-testid="review-snooze" title="Not now: back tomorrow">{ "Not now" }</button>
                <button type="button" class="btn small" onclick={on(Verdict::Archive)} data-testid="review-archive" title="Never bring it back">{ "Archive" }</button>
                <span class="grow"></span>
                <a class="btn ghost small" href={link} target="_blank" rel="noopener noreferrer" data-testid="open-in-context">{ "Open in context" }</a>
            </div>
        </li>
    }
}

#[function_component(ReviewTab)]
pub fn review_tab(p: &TabProps) -> Html {
    let shelf = &p.shelf;
    let today = local_day_start_ms();
    let due = review_today(shelf.index.records(), &shelf.review, &shelf.trail, today);
    let titles = trail_titles(&shelf.trail);
    let on = |id: String| {
        let (shelf, update, notify) = (shelf.clone(), p.update.clone(), p.notify.clone());
        move |verdict: Verdict| {
            let (shelf, update, notify, id) = (shelf.clone(), update.clone(), notify.clone(), id.clone());
            Callback::from(move |_: MouseEvent| {
                let (shelf, update, id) = (shelf.clone(), update.clone(), id.clone());
                let request = PanelRequest::AnswerReview { id: id.clone(), verdict };
                send(request, notify.clone(), move || {
                    // The same answer the background stored, so the card leaves the list at once.
                    let previous = shelf.review.iter().find(|s| s.id == id);
                    let state = answer(previous, &id, verdict, local_day_start_ms());
                    let mut review: Vec<ReviewState> = shelf.review.iter().filter(|s| s.id != id).cloned().collect();
                    review.push(state);
                    update.emit(Shelf { review: Rc::new(review), ..shelf });
                });
            })
        }
    };
    html! {
        <section aria-labelledby="review-heading" data-testid="review">
            <h2 id="review-heading" class="review-heading">
                { match due.len() { 0 => "Nothing to review today".to_string(), 1 => "1 highlight to read again today".to_string(), n => format!("{n} highlights to read again today") } }
            </h2>
            <p class="hint">{ "Highlights come back a day after you make them; each one you keep returns less and less often. Teammates' highlights on pages of your reading trail come back too." }</p>
            if due.is_empty() {
                <div class="empty" data-testid="review-empty">
                    <strong>{ if shelf.review.is_empty() { "Your first review comes tomorrow" } else { "Done for today" } }</strong>
                    { "Highlight passages worth keeping: they come back here to be read again." }
                </div>
            }
            <ul class="items review-list">
                { for due.iter().map(|r| review_card(r, shelf.review.iter().find(|s| s.id == r.id), titles.get(&r.page_key), on(r.id.clone()))) }
            </ul>
        </section>
    }
}
