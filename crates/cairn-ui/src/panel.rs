//! The side panel: the annotations of the page in the active tab, mine and
//! teammates', in the order they appear on the page; notes are written here,
//! in an extension page, where the page's own scripts cannot read the keys.
//!
//! It follows the tab the user looks at (or `?tab=ID` when opened for one tab)
//! and lists the page again whenever the background says it changed.

use std::cell::RefCell;
use std::rc::Rc;

use cairn_protocol::messages::Broadcast;
use cairn_web::chrome;
use yew::prelude::*;

use crate::items::{clip_item, highlight_item, load, notice_view, sync_now_callback, use_notice_timer, State, Surface};
use crate::state::{connection, in_document_order, page_origin, Filter, PopupAction, PopupState};
use crate::widgets::Icon;

/// `?tab=ID`: a panel opened for one tab (e.g. in a tab of its own) stays on it.
fn fixed_tab() -> Option<i32> {
    let search = web_sys::window()?.location().search().ok()?;
    search.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("tab="))?.parse().ok()
}

/// Finds the page to show (the fixed tab's, or the active tab's) and lists it;
/// `shown` is the page on screen now, listed again quietly when it is the same.
fn follow_tab(state: State, shown: Option<String>) {
    wasm_bindgen_futures::spawn_local(async move {
        let url = match fixed_tab() {
            Some(id) => chrome::tab_url(id).await,
            None => chrome::active_tab_here().await.map(|(_, url)| url),
        }
        .filter(|u| page_origin(u).is_some());
        if url.is_none() || url != shown {
            state.dispatch(PopupAction::Opened { page_url: url.clone() });
        }
        load(state, url);
    });
}

fn filter_bar(state: &State) -> Html {
    let count = |f: &Filter| state.highlights.iter().filter(|h| f.admits(h)).count();
    let teammates = count(&Filter::Teammates);
    let mut filters = vec![(Filter::All, "All".to_string()), (Filter::Mine, "Mine".to_string())];
    if teammates > 0 || state.filter == Filter::Teammates {
        filters.push((Filter::Teammates, "Teammates".to_string()));
    }
    for c in state.status.iter().flat_map(|s| &s.communities) {
        let f = Filter::Community(c.id.clone());
        if count(&f) > 0 || state.filter == f {
            filters.push((f, c.name.clone()));
        }
    }
    html! {
        <div class="filters" role="group" aria-label="Show" data-testid="filters">
            { for filters.into_iter().map(|(f, label)| {
                let pressed = state.filter == f;
                let n = count(&f);
                let onclick = {
                    let (state, f) = (state.clone(), f.clone());
                    Callback::from(move |_| state.dispatch(PopupAction::SetFilter(f.clone())))
                };
                html! {
                    <button type="button" class={classes!("chip-button", "filter", pressed.then_some("on"))} aria-pressed={pressed.to_string()} {onclick} data-testid="filter">
                        { label }<span class="count">{ n }</span>
                    </button>
                }
            }) }
        </div>
    }
}

fn page_line(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['?', '#']).next().unwrap_or(rest).trim_end_matches('/').to_string()
}

#[function_component(Panel)]
pub fn panel() -> Html {
    let state = use_reducer(PopupState::default);
    // The page shown now (URL, key), for the listeners set up once below: the
    // state they captured would be the first render's.
    let shown: Rc<RefCell<(Option<String>, Option<String>)>> = use_mut_ref(Default::default);
    *shown.borrow_mut() = (state.page_url.clone(), state.page_key.clone());
    {
        let state = state.clone();
        use_effect_with((), move |_| {
            follow_tab(state.clone(), None);
            if fixed_tab().is_none() {
                let (state, shown) = (state.clone(), shown.clone());
                chrome::listen_for_tab_changes(move || follow_tab(state.clone(), shown.borrow().0.clone()));
            }
            chrome::listen_for_broadcasts(move |message| {
                let Ok(broadcast) = serde_wasm_bindgen::from_value::<Broadcast>(message) else { return };
                let (url, key) = shown.borrow().clone();
                match broadcast {
                    Broadcast::PageChanged { page_key } if key.as_deref() == Some(page_key.as_str()) => {
                        load(state.clone(), url)
                    }
                    Broadcast::WriteNote { page_key, id } if key.as_deref() == Some(page_key.as_str()) => {
                        state.dispatch(PopupAction::WriteNote(id));
                        load(state.clone(), url);
                    }
                    _ => {}
                }
            });
        });
    }
    use_notice_timer(&state);
    let sync_now = sync_now_callback(&state);

    let conn = state.status.as_ref().map(connection);
    let label = conn.as_ref().map_or("…".to_string(), |c| c.short.clone());
    let tone = conn.as_ref().map_or("neutral", |c| c.tone.class());
    let listed = in_document_order(&state.highlights, &state.filter);
    let body = if state.page_url.is_none() {
        html! {
            <div class="empty" data-testid="not-a-page">
                <strong>{ "Nothing to show here" }</strong>
                { "Switch to a web page on a site you allowed: its highlights, notes and clips appear here." }
            </div>
        }
    } else if state.status.is_some() && !state.site_allowed() {
        let origin = state.page_url.as_deref().and_then(page_origin).unwrap_or_default();
        html! {
            <div class="empty" data-testid="site-off">
                <strong>{ format!("Cairn is off on {origin}") }</strong>
                { "Allow the site from Cairn's toolbar button to highlight and see your teammates' notes here." }
            </div>
        }
    } else if state.loading || state.status.is_none() {
        html! { <p class="empty" aria-busy="true">{ "Loading…" }</p> }
    } else if state.highlights.is_empty() && state.clips.is_empty() {
        html! {
            <div class="empty" data-testid="nothing-yet">
                <strong>{ "Nothing on this page yet" }</strong>
                { "Select text on the page and choose Highlight or Note in the bar that appears. Your teammates' highlights show here too." }
            </div>
        }
    } else {
        html! {
            <>
                if !state.highlights.is_empty() {
                    { filter_bar(&state) }
                    if listed.is_empty() {
                        <p class="empty" data-testid="filtered-out">{ "Nothing here matches this filter." }</p>
                    } else {
                        <ul class="items" data-testid="highlights">
                            { for listed.iter().map(|h| highlight_item(&state, h, Surface::Panel)) }
                        </ul>
                    }
                }
                if !state.clips.is_empty() {
                    <section aria-labelledby="clips-heading" style="margin-top: 16px">
                        <div class="section-head">
                            <h2 id="clips-heading">{ "Clips" }</h2>
                            <span class="count">{ state.clips.len() }</span>
                        </div>
                        <ul class="items" data-testid="clips">{ for state.clips.iter().map(|c| clip_item(&state, c)) }</ul>
                    </section>
                }
            </>
        }
    };
    html! {
        <main class="panel">
            <header class="popup-header">
                <h1 class="brand"><img src="icons/cairn.svg" alt="" />{ "Cairn" }</h1>
                <span class={classes!("pill", if state.syncing { "busy" } else { tone })} title={label.clone()} role="status">
                    <span class="dot" aria-hidden="true"></span>
                    <span class="text" data-testid="connection">{ label }</span>
                </span>
                <button class={classes!("btn", "ghost", "icon", state.syncing.then_some("spinning"))} onclick={sync_now} disabled={state.syncing}
                    aria-label="Sync now" title="Sync now" data-testid="sync-now"><Icon name="sync" /></button>
                <a class="btn ghost icon" href="library.html" onclick={crate::library::open_library()} aria-label="Library: everything you kept"
                    title="Library: everything you kept" data-testid="open-library"><Icon name="library" /></a>
                <a class="btn ghost icon" href="options.html" target="_blank" aria-label="Options" title="Options"><Icon name="settings" /></a>
            </header>
            if let Some(url) = &state.page_url {
                <p class="page-line" title={url.clone()} data-testid="page">{ page_line(url) }</p>
            }
            <div class="popup-body">
                { body }
                { notice_view(&state) }
            </div>
        </main>
    }
}
