//! The Library: everything kept in this browser, grouped by page, searched as
//! the user types (cairn-library's index, in this page's memory), filtered by
//! kind, tag and author, with "open in context" and the exports; the reading
//! trail and the daily review in tabs of their own (`trail.rs`).
//!
//! The records come from the background in one request; the index is built
//! here once and searched on every keystroke without asking the background.

use std::rc::Rc;

use cairn_library::export::{csv, hypothesis_json, markdown_vault, w3c_collection};
use cairn_library::search::{field_text, Author, Field, Filter, Hit, Index};
use cairn_library::zip::zip_stored;
use cairn_library::{text_fragment_url, LibraryListing, LocalRecord};
use cairn_protocol::messages::{teammate_color, PanelReply, PanelRequest, StatusReport, TEAMMATE_PALETTE};
use cairn_web::{chrome, client};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::items::{download, now_ms};
use crate::library_view::{excerpt, grouped, marked, marks_of, tags_in_use, PageGroup, KINDS, SHOWN};
use crate::state::{audience_label, relative_time};
use crate::trail::{ReviewTab, Shelf, TrailTab};
use crate::trail_view::{review_today, trail_titles};
use crate::widgets::Icon;

#[derive(Clone)]
enum Loaded {
    Loading,
    Failed(String),
    Ready(Shelf),
}

/// The Library's tabs; the address's fragment names one (`library.html#review`).
#[derive(Clone, Copy, PartialEq)]
enum Tab {
    Kept,
    Trail,
    Review,
}

impl Tab {
    const ALL: [(Tab, &'static str, &'static str); 3] =
        [(Tab::Kept, "kept", "Kept"), (Tab::Trail, "trail", "Reading trail"), (Tab::Review, "review", "Review")];

    fn from_hash() -> Tab {
        let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
        Tab::ALL.iter().find(|(_, name, _)| hash.trim_start_matches('#') == *name).map_or(Tab::Kept, |(t, _, _)| *t)
    }

    fn name(self) -> &'static str {
        Tab::ALL.iter().find(|(t, _, _)| *t == self).map_or("kept", |(_, n, _)| n)
    }
}

/// Text with the matched words marked.
fn marked_html(text: &str, marks: &[std::ops::Range<usize>]) -> Html {
    html! {
        { for marked(text, marks).into_iter().map(|(t, m)| if m { html! { <mark>{ t }</mark> } } else { html! { { t } } }) }
    }
}

/// Community slugs as the user knows them (their names).
fn audience_names(status: Option<&StatusReport>, slugs: &[String]) -> Vec<String> {
    slugs
        .iter()
        .map(|s| status.and_then(|st| st.communities.iter().find(|c| &c.id == s)).map_or(s.clone(), |c| c.name.clone()))
        .collect()
}

fn item_view(record: &LocalRecord, hit: &Hit, status: Option<&StatusReport>) -> Html {
    let a = &record.annotation;
    let quote = field_text(record, Field::Quote);
    let note = field_text(record, Field::Note);
    let clip = field_text(record, Field::Clip);
    let color_class = match &record.teammate {
        Some(_) => "teammate".to_string(),
        None if a.is_clip() => "clip".to_string(),
        None => format!("color-{}", a.color().name()),
    };
    let style =
        record.teammate.as_deref().map(|t| format!("--item-color: {}", TEAMMATE_PALETTE[teammate_color(t) as usize]));
    let link = text_fragment_url(&a.target.source, a.quote().unwrap_or(""));
    let audience = audience_label(&audience_names(status, &record.communities), record.teammate.as_deref());
    let created = a.created.clone().unwrap_or_default();
    let (note_text, note_marks) = excerpt(&note, marks_of(&hit.marks, Field::Note), 400);
    let (clip_text, clip_marks) = excerpt(&clip, marks_of(&hit.marks, Field::Clip), 320);
    let tags = a.tags();
    html! {
        <li class={classes!("item", color_class)} style={style} data-testid="library-item" data-id={record.id.clone()}>
            if !quote.is_empty() {
                <blockquote class="quote clamp" style="--lines: 5" data-testid="quote">{ marked_html(&quote, marks_of(&hit.marks, Field::Quote)) }</blockquote>
            }
            if a.is_clip() {
                <p class="hint"><strong>{ "Clip" }</strong>{ " · Markdown of the page as you saw it" }</p>
                <pre class="preview" data-testid="clip-preview">{ marked_html(&clip_text, &clip_marks) }</pre>
            }
            if !note.is_empty() {
                <p class="note library-note clamp" style="--lines: 6" data-testid="note">{ marked_html(&note_text, &note_marks) }</p>
            }
            if record.orphan {
                <p class="orphan">{ "Not found on the page the last time it was read." }</p>
            }
            <div class="meta">
                <span class={if record.communities.is_empty() && record.teammate.is_none() { "chip audience-private" } else { "chip audience-shared" }}
                    data-testid="audience">{ audience }</span>
                if let Some(t) = &record.teammate { <span data-testid="teammate">{ format!("by {t}") }</span> }
                { for tags.iter().enumerate().map(|(i, t)| {
                    let hit_tag = hit.marks.tags.contains(&i);
                    html! { <span class={classes!("chip", "tag", hit_tag.then_some("matched"))} data-testid="tag">{ t }</span> }
                }) }
                <time datetime={created.clone()} title={created.clone()}>{ relative_time(&created, now_ms()) }</time>
                <span class="actions">
                    <a class="btn ghost small" href={link} target="_blank" rel="noopener noreferrer" data-testid="open-in-context"
                        title="Open the page at this passage">{ "Open in context" }</a>
                </span>
            </div>
        </li>
    }
}

/// Items a page shows before "Show all": a page with hundreds of highlights
/// must not bury the pages after it.
const FOLD_AFTER: usize = 5;

fn page_view(
    group: &PageGroup,
    index: &Index,
    status: Option<&StatusReport>,
    unfolded: bool,
    unfold: Callback<MouseEvent>,
) -> Html {
    let site = cairn_model::PageKey::from_url(&group.url).map(|k| k.origin()).unwrap_or_default();
    let when = relative_time(&cairn_model::format_rfc3339_ms(group.newest_ms), now_ms());
    let n = group.items.len();
    html! {
        <article class="page-group" data-testid="library-page" data-page-key={group.page_key.clone()}>
            <header>
                <h2 class="clamp" style="--lines: 2"><a href={group.url.clone()} target="_blank" rel="noopener noreferrer" data-testid="page-title">{ &group.title }</a></h2>
                <p class="page-meta">
                    <span class="site">{ site }</span>
                    <span>{ if n == 1 { "1 item".to_string() } else { format!("{n} items") } }</span>
                    <span>{ when }</span>
                </p>
            </header>
            <ul class="items">
                { for group.items.iter().take(if unfolded { usize::MAX } else { FOLD_AFTER })
                    .filter_map(|h| index.get(&h.id).map(|r| item_view(r, h, status))) }
            </ul>
            if !unfolded && n > FOLD_AFTER {
                <button type="button" class="btn small show-all" onclick={unfold} data-testid="show-all">{ format!("Show all {n}") }</button>
            }
        </article>
    }
}

/// What the exports write, named for the user; each takes the user's own records.
#[derive(Clone, Copy, PartialEq)]
enum Export {
    Vault,
    W3c,
    Hypothesis,
    Csv,
}

fn export(kind: Export, own: &[LocalRecord], status: Option<&StatusReport>) -> (String, Vec<u8>, &'static str) {
    let today = cairn_model::format_rfc3339_ms(now_ms());
    let day = &today[..10];
    match kind {
        Export::Vault => {
            let files = markdown_vault(own);
            (format!("cairn-library-{day}.zip"), zip_stored(&files), "application/zip")
        }
        Export::W3c => {
            let id = format!("urn:cairn:library:{}", now_ms());
            (format!("cairn-library-{day}.jsonld"), w3c_collection(own, &id, "Cairn library"), "application/ld+json")
        }
        Export::Hypothesis => {
            let user = status.and_then(|s| s.user.as_ref()).map_or("me".to_string(), |u| u.username.clone());
            let host = status
                .and_then(|s| s.server_url.as_deref())
                .and_then(|u| u.split("://").nth(1))
                .map_or("cairn.local".to_string(), |h| h.split(['/', ':']).next().unwrap_or("cairn.local").to_string());
            (
                format!("cairn-hypothesis-{day}.json"),
                hypothesis_json(own, &format!("acct:{user}@{host}"), &today),
                "application/json",
            )
        }
        Export::Csv => (format!("cairn-library-{day}.csv"), csv(own), "text/csv"),
    }
}

/// Reads the status and every record from the background and indexes them.
fn load(loaded: UseStateHandle<Loaded>, status: UseStateHandle<Option<StatusReport>>) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(PanelReply::Status(s)) = client::ask(&PanelRequest::Status {}).await {
            status.set(Some(s));
        }
        match client::ask_for::<LibraryListing>(&PanelRequest::Library {}).await {
            Ok(listing) => loaded.set(Loaded::Ready(Shelf {
                // Replies are kept with the annotation they answer, not listed on their own.
                index: Rc::new(Index::from_records(listing.records.into_iter().filter(|r| !r.annotation.is_reply()))),
                trail: Rc::new(listing.trail),
                trail_sites: Rc::new(listing.trail_sites),
                retention_days: listing.trail_retention_days,
                review: Rc::new(listing.review),
            })),
            Err(e) => loaded.set(Loaded::Failed(e)),
        }
    });
}

#[function_component(Library)]
pub fn library() -> Html {
    let loaded = use_state(|| Loaded::Loading);
    let status = use_state(|| None::<StatusReport>);
    let query = use_state(String::new);
    let filter = use_state(Filter::default);
    let notice = use_state(|| None::<(bool, String)>);
    let tab = use_state(Tab::from_hash);
    // Pages whose every item is shown (the rest show the first few).
    let unfolded = use_state(Vec::<String>::new);
    {
        let (loaded, status) = (loaded.clone(), status.clone());
        use_effect_with((), move |_| load(loaded, status));
    }
    let on_import = {
        let (loaded, status, notice) = (loaded.clone(), status.clone(), notice.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            input.set_value(""); // the same file can be chosen again
            let (loaded, status, notice) = (loaded.clone(), status.clone(), notice.clone());
            notice.set(Some((false, format!("Importing {}…", file.name()))));
            wasm_bindgen_futures::spawn_local(async move {
                let text = match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(t) => t.as_string().unwrap_or_default(),
                    Err(e) => return notice.set(Some((true, format!("{} could not be read ({e:?})", file.name())))),
                };
                let request = PanelRequest::Import { file_name: file.name(), text };
                notice.set(Some(match client::ask(&request).await {
                    Ok(PanelReply::Imported { format, imported, skipped }) => {
                        let mut text = format!("Imported {imported} items from {} ({format})", file.name());
                        if !skipped.is_empty() {
                            let shown: Vec<&str> = skipped.iter().take(5).map(String::as_str).collect();
                            text += &format!("; skipped {}: {}", skipped.len(), shown.join("; "));
                            if skipped.len() > 5 {
                                text += "; …";
                            }
                        }
                        (imported == 0 && !skipped.is_empty(), text)
                    }
                    Ok(_) => (true, "The background answered something else; try again".into()),
                    Err(e) => (true, e),
                }));
                load(loaded, status);
            });
        })
    };
    let oninput = {
        let query = query.clone();
        Callback::from(move |e: InputEvent| query.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let set_filter = |change: Rc<dyn Fn(&mut Filter)>| {
        let filter = filter.clone();
        Callback::from(move |_: MouseEvent| {
            let mut f = (*filter).clone();
            change(&mut f);
            filter.set(f);
        })
    };
    let st = (*status).clone();
    let kept = |shelf: &Shelf| -> Html {
        let index = &shelf.index;
        if index.is_empty() {
            return html! {
                <div class="empty" data-testid="library-empty">
                    <strong>{ "Nothing kept yet" }</strong>
                    { "Highlights, notes and clips you make on the sites you allowed appear here, grouped by page, ready to search." }
                </div>
            };
        }
        let (groups, total) = grouped(index, &query, &filter, &trail_titles(&shelf.trail));
        let summary = match total {
            0 => String::new(),
            1 => "1 item".into(),
            n if n > SHOWN => format!("{n} items; the first {SHOWN} shown, search to narrow"),
            n => format!("{n} items on {} pages", groups.len()),
        };
        html! {
            <>
                <p class="hint" role="status" data-testid="library-count">{ summary }</p>
                if groups.is_empty() {
                    <div class="empty" data-testid="no-matches">
                        <strong>{ if query.trim().is_empty() { "Nothing matches these filters".to_string() } else { format!("Nothing matches “{}”", query.trim()) } }</strong>
                        { "Try fewer words, or clear the filters." }
                    </div>
                }
                { for groups.iter().map(|g| {
                    let unfold = {
                        let (unfolded, key) = (unfolded.clone(), g.page_key.clone());
                        Callback::from(move |_| {
                            let mut keys = (*unfolded).clone();
                            keys.push(key.clone());
                            unfolded.set(keys);
                        })
                    };
                    page_view(g, index, st.as_ref(), unfolded.contains(&g.page_key), unfold)
                }) }
            </>
        }
    };
    let update = {
        let loaded = loaded.clone();
        Callback::from(move |shelf: Shelf| loaded.set(Loaded::Ready(shelf)))
    };
    let notify = {
        let notice = notice.clone();
        Callback::from(move |n: (bool, String)| notice.set(Some(n)))
    };
    let body = match &*loaded {
        Loaded::Loading => html! { <p class="empty" aria-busy="true">{ "Loading your library…" }</p> },
        Loaded::Failed(e) => html! {
            <div class="banner bad" role="alert" data-testid="error"><span class="grow">{ format!("The library could not be read: {e}") }</span></div>
        },
        Loaded::Ready(shelf) => match *tab {
            Tab::Kept => kept(shelf),
            Tab::Trail => {
                html! { <TrailTab shelf={shelf.clone()} status={st.clone()} query={(*query).clone()} update={update.clone()} notify={notify.clone()} /> }
            }
            Tab::Review => {
                html! { <ReviewTab shelf={shelf.clone()} status={st.clone()} query={(*query).clone()} update={update.clone()} notify={notify.clone()} /> }
            }
        },
    };
    // How many highlights today's review holds, on its tab.
    // Read again only when the shelf changes, not on every keystroke of a search.
    let shelf = match &*loaded {
        Loaded::Ready(shelf) => Some(shelf.clone()),
        _ => None,
    };
    let due = *use_memo(shelf, |shelf| {
        shelf.as_ref().map_or(0, |s| {
            review_today(s.index.records(), &s.review, &s.trail, cairn_web::chrome::local_day_start_ms()).len()
        })
    });
    let tabs = html! {
        <nav class="tabs" role="tablist" aria-label="Library">
            { for Tab::ALL.iter().map(|(t, name, label)| {
                let on = *tab == *t;
                let onclick = {
                    let (tab, t) = (tab.clone(), *t);
                    Callback::from(move |_: MouseEvent| {
                        tab.set(t);
                        if let Some(w) = web_sys::window() {
                            let _ = w.location().set_hash(t.name());
                        }
                    })
                };
                html! {
                    <button type="button" role="tab" aria-selected={on.to_string()} class={classes!("tab", on.then_some("on"))}
                        {onclick} data-testid={format!("tab-{name}")}>
                        { *label }
                        if *t == Tab::Review && due > 0 { <span class="count" aria-label={format!("{due} due")}>{ due }</span> }
                    </button>
                }
            }) }
        </nav>
    };
    let index = match &*loaded {
        Loaded::Ready(shelf) => Some(shelf.index.clone()),
        _ => None,
    };
    let tags = index.as_ref().map(|i| tags_in_use(i.records())).unwrap_or_default();
    let export_button = |kind: Export, label: &'static str, testid: &'static str| {
        let (index, status, notice) = (index.clone(), status.clone(), notice.clone());
        let disabled = index.is_none();
        let onclick = Callback::from(move |_: MouseEvent| {
            let Some(index) = &index else { return };
            let own: Vec<LocalRecord> = index.records().filter(|r| r.teammate.is_none()).cloned().collect();
            let (name, bytes, mime) = export(kind, &own, status.as_ref());
            let outcome = download(&name, &bytes, mime).map(|()| format!("Exported {} items to {name}", own.len()));
            notice.set(Some(match outcome {
                Ok(m) => (false, m),
                Err(e) => (true, e),
            }));
        });
        html! { <button class="btn small" {onclick} {disabled} data-testid={testid}
        title="Your own highlights, notes and clips">{ label }</button> }
    };
    let dismiss = {
        let notice = notice.clone();
        Callback::from(move |_| notice.set(None))
    };
    html! {
        <main class="library">
            <header class="library-header">
                <h1 class="brand"><img src="icons/cairn.svg" alt="" />{ "Cairn Library" }</h1>
                <div class="search">
                    <Icon name="search" />
                    <input type="search" value={(*query).clone()} {oninput} autofocus=true
                        placeholder={if *tab == Tab::Trail { "Search the pages you read, by title or address" } else { "Search quotes, notes, clips, titles and tags" }}
                        disabled={*tab == Tab::Review}
                        aria-label={if *tab == Tab::Trail { "Search your reading trail" } else { "Search your library" }} data-testid="library-search" />
                </div>
                <a class="btn ghost icon" href="options.html" target="_blank" aria-label="Options" title="Options"><Icon name="settings" /></a>
            </header>
            { tabs }
            <div class="library-body" role="tabpanel">
                if *tab == Tab::Kept {
                <div class="library-bar">
                    <div class="filters" role="group" aria-label="Kind">
                        { for KINDS.iter().map(|(kind, label)| {
                            let on = filter.kind == *kind;
                            let kind = *kind;
                            html! { <button type="button" class={classes!("chip-button", on.then_some("on"))} aria-pressed={on.to_string()}
                                onclick={set_filter(Rc::new(move |f| f.kind = kind))} data-testid="kind-filter">{ *label }</button> }
                        }) }
                        <span class="divider" aria-hidden="true"></span>
                        { for [(None, "Anyone"), (Some(Author::Me), "Mine"), (Some(Author::Teammates), "Teammates'")].into_iter().map(|(author, label)| {
                            let on = filter.author == author;
                            html! { <button type="button" class={classes!("chip-button", on.then_some("on"))} aria-pressed={on.to_string()}
                                onclick={set_filter(Rc::new(move |f| f.author = author.clone()))} data-testid="author-filter">{ label }</button> }
                        }) }
                    </div>
                    if !tags.is_empty() {
                        <div class="filters" role="group" aria-label="Tag">
                            { for tags.iter().take(12).map(|t| {
                                let on = filter.tags.iter().any(|x| x == t);
                                let tag = t.clone();
                                html! { <button type="button" class={classes!("chip-button", "tag", on.then_some("on"))} aria-pressed={on.to_string()}
                                    onclick={set_filter(Rc::new(move |f| if let Some(i) = f.tags.iter().position(|x| x == &tag) { f.tags.remove(i); } else { f.tags.push(tag.clone()); }))}
                                    data-testid="tag-filter">{ format!("#{t}") }</button> }
                            }) }
                        </div>
                    }
                    <div class="row exports" role="group" aria-label="Export">
                        <span class="hint">{ "Export or import:" }</span>
                        { export_button(Export::Vault, "Markdown vault (.zip)", "export-vault") }
                        { export_button(Export::W3c, "W3C JSON-LD", "export-w3c") }
                        { export_button(Export::Hypothesis, "Hypothesis JSON", "export-hypothesis") }
                        { export_button(Export::Csv, "CSV", "export-csv") }
                        <input id="import-file" type="file" accept=".json,.jsonld,application/json,application/ld+json"
                            class="visually-hidden" onchange={on_import} data-testid="import-file" />
                        <label class="btn small" for="import-file" title="Hypothesis export JSON, W3C annotations (JSON-LD) or a Cairn export">
                            { "Import…" }
                        </label>
                    </div>
                </div>
                }
                if let Some((bad, text)) = &*notice {
                    <div class={if *bad { "toast bad" } else { "toast" }} role={if *bad { "alert" } else { "status" }} data-testid="notice">
                        <span class="grow">{ text }</span>
                        <button class="btn small icon" aria-label="Dismiss" onclick={dismiss}><Icon name="close" /></button>
                    </div>
                }
                { body }
            </div>
        </main>
    }
}

/// Opens the Library in a tab of its own (from the popup and the side panel).
pub fn open_library() -> Callback<MouseEvent> {
    Callback::from(|e: MouseEvent| {
        e.prevent_default();
        wasm_bindgen_futures::spawn_local(async {
            let _ = chrome::open_tab("library.html").await;
        });
    })
}
