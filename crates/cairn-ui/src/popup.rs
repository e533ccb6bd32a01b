//! The toolbar popup: this page's highlights and clips, newest first, the
//! connection, and one notice for the outcome of the last action.

use cairn_protocol::messages::{PanelReply, PanelRequest};
use cairn_web::{chrome, client};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use cairn_model::ClipKind;

use crate::items::{
    ask, clip_item, download, highlight_item, load, notice_view, sync_now_callback, use_notice_timer, State, Surface,
};
use crate::state::{connection, page_origin, parse_tags, PopupAction, PopupState, Tone};
use crate::widgets::{Icon, TagInput};
use crate::zip::{clip_file_name, zip_stored};

fn input_value(id: &str) -> String {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|i| i.value())
        .unwrap_or_default()
}

fn clips_section(state: &State) -> Html {
    let clip = |kind: ClipKind| {
        let state = state.clone();
        Callback::from(move |_| {
            let Some(page_url) = state.page_url.clone() else { return };
            let note = Some(input_value("clip-note")).filter(|n| !n.trim().is_empty());
            // Chips plus whatever is still typed in the tag field.
            let mut tags = state.clip_tags.clone();
            for t in parse_tags(&input_value("clip-tags")) {
                crate::state::add_tag(&mut tags, &t);
            }
            state.dispatch(PopupAction::ClipStarted);
            ask(&state, PanelRequest::ClipPage { page_url: page_url.clone(), clip: kind, note, tags }, move |s, _| {
                s.dispatch(PopupAction::Clipped);
                load(s, Some(page_url));
            });
        })
    };
    let download_all = {
        let clips = state.clips.clone();
        let state = state.clone();
        Callback::from(move |_| {
            let mut taken = Vec::new();
            let entries: Vec<(String, Vec<u8>)> =
                clips.iter().map(|c| (clip_file_name(&c.title, &mut taken), c.markdown.clone().into_bytes())).collect();
            match download("cairn-clips.zip", &zip_stored(&entries), "application/zip") {
                Ok(()) => {
                    state.dispatch(PopupAction::Succeeded(format!("Downloading {} clips as a .zip", clips.len())))
                }
                Err(e) => state.dispatch(PopupAction::Failed(e)),
            }
        })
    };
    let on_note = {
        let state = state.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(i) = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                state.dispatch(PopupAction::ClipNote(i.value()));
            }
        })
    };
    let on_tags = {
        let state = state.clone();
        Callback::from(move |tags: Vec<String>| state.dispatch(PopupAction::ClipTags(tags)))
    };
    let busy = state.clipping;
    html! {
        <section aria-labelledby="clips-heading">
            <div class="section-head">
                <h2 id="clips-heading">{ "Clips" }</h2>
                if !state.clips.is_empty() { <span class="count">{ state.clips.len() }</span> }
            </div>
            <div class="clip-form">
                <label class="field" style="margin: 0">
                    <span class="visually-hidden">{ "Note for the clip" }</span>
                    <input id="clip-note" data-testid="clip-note" placeholder="Add a note (optional)" value={state.clip_note.clone()} oninput={on_note} />
                </label>
                <TagInput id="clip-tags" label="Tags for the clip" tags={state.clip_tags.clone()} suggestions={state.known_tags()} on_change={on_tags} />
                <div class="row">
                    <button class="btn primary" onclick={clip(ClipKind::Article)} disabled={busy} data-testid="clip-article">{ "Clip article" }</button>
                    <button class="btn" onclick={clip(ClipKind::Selection)} disabled={busy} data-testid="clip-selection">{ "Selection" }</button>
                    <button class="btn" onclick={clip(ClipKind::UrlOnly)} disabled={busy} data-testid="clip-url">{ "URL only" }</button>
                </div>
            </div>
            if !state.clips.is_empty() {
                <ul class="items" style="margin-top: 8px" data-testid="clips">
                    { for state.clips.iter().map(|c| clip_item(state, c)) }
                </ul>
                if state.clips.len() > 1 {
                    <p style="margin-top: 8px"><button class="btn small" onclick={download_all} data-testid="download-all">{ "Download all (.zip)" }</button></p>
                }
            }
        </section>
    }
}

/// The page the popup is about: `?url=` when opened for a given page (e.g. in a
/// tab), else the active tab.
async fn page_url() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    let from_query = search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("url="))
        .and_then(|v| js_sys::decode_uri_component(v).ok())
        .map(String::from);
    match from_query {
        Some(u) => Some(u),
        None => chrome::active_tab_url().await,
    }
    .filter(|u| page_origin(u).is_some())
}

#[function_component(Popup)]
pub fn popup() -> Html {
    let state = use_reducer(PopupState::default);
    {
        let state = state.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let url = page_url().await;
                state.dispatch(PopupAction::Opened { page_url: url.clone() });
                load(state, url);
            });
        });
    }
    use_notice_timer(&state);

    let sync_now = sync_now_callback(&state);

    let allow_site = {
        let state = state.clone();
        Callback::from(move |_| {
            let Some(origin) = state.page_url.as_deref().and_then(page_origin) else { return };
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match chrome::request_host_permission(&origin).await {
                    Ok(true) => {}
                    Ok(false) => {
                        return state.dispatch(PopupAction::Failed(format!(
                            "The browser did not give Cairn access to {origin}, so Cairn stays off there"
                        )))
                    }
                    Err(e) => return state.dispatch(PopupAction::Failed(e.to_string())),
                }
                match client::ask(&PanelRequest::AllowSite { origin: origin.clone() }).await {
                    Ok(PanelReply::Status(s)) => {
                        state.dispatch(PopupAction::StatusLoaded(s));
                        state.dispatch(PopupAction::Succeeded(format!(
                            "Cairn is on for {origin}, in this tab too: select text to highlight it"
                        )));
                        let url = state.page_url.clone();
                        load(state, url);
                    }
                    Ok(_) => {}
                    Err(e) => state.dispatch(PopupAction::Failed(e)),
                }
            });
        })
    };

    // Opened at once, while the click still counts as the user's gesture; the
    // popup then closes, as the browser closes it when focus moves to the panel.
    let open_panel = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| match chrome::open_side_panel() {
            Ok(()) => {
                if let Some(w) = web_sys::window() {
                    let _ = w.close();
                }
            }
            Err(e) => {
                state.dispatch(PopupAction::Failed(format!("The side panel did not open ({e}); try Alt+Shift+O")))
            }
        })
    };
    let conn = state.status.as_ref().map(connection);
    let (label, tone) = conn.as_ref().map_or(("…".to_string(), Tone::Neutral), |c| (c.short.clone(), c.tone));
    let queued = state.status.as_ref().is_some_and(|s| s.user.is_some() && s.last_error.is_none() && s.pending > 0);
    let pill_class = if state.syncing || queued { "busy" } else { tone.class() };
    // The whole story below the header when there is more to say than "synced".
    let open_options = Callback::from(|e: MouseEvent| {
        e.prevent_default();
        wasm_bindgen_futures::spawn_local(async {
            let _ = chrome::open_tab("options.html").await;
        });
    });
    let detail = match conn.as_ref().and_then(|c| c.detail.clone().map(|d| (c.tone, d))) {
        Some((tone, d)) => {
            let action = match (tone, state.status.as_ref().is_some_and(|s| s.user.is_some())) {
                (Tone::Bad, true) => {
                    html! { <button class="btn small" onclick={sync_now.clone()} disabled={state.syncing}>{ "Retry" }</button> }
                }
                (_, false) => {
                    html! { <a class="btn small" href="options.html" onclick={open_options}>{ "Sign in" }</a> }
                }
                (_, true) => {
                    html! { <button class="btn small" onclick={sync_now.clone()} disabled={state.syncing}>{ "Sync now" }</button> }
                }
            };
            let class = if tone == Tone::Bad { "banner bad" } else { "banner" };
            html! {
                <div class={class} style="margin-top: 8px">
                    <span class="grow" data-testid="connection-detail">{ d }</span>{ action }
                </div>
            }
        }
        None => html! {},
    };

    let body = if state.page_url.is_none() {
        html! {
            <div class="empty" data-testid="not-a-page">
                <strong>{ "Nothing to show here" }</strong>
                { "Open a web page on a site you allowed to highlight and clip it." }
            </div>
        }
    } else if state.status.is_some() && !state.site_allowed() {
        let origin = state.page_url.as_deref().and_then(page_origin).unwrap_or_default();
        html! {
            <div class="banner warn" data-testid="site-off">
                <div class="grow">
                    <strong>{ format!("Cairn is off on {origin}") }</strong>
                    <p class="hint">{ "Until you allow this site, Cairn reads nothing here and sends nothing, not even the page's address." }</p>
                </div>
                <button class="btn primary" onclick={allow_site} data-testid="allow-site">{ "Allow here" }</button>
            </div>
        }
    } else if state.loading || state.status.is_none() {
        html! { <p class="empty" aria-busy="true">{ "Loading…" }</p> }
    } else {
        html! {
            <>
                <section aria-labelledby="highlights-heading">
                    <div class="section-head">
                        <h2 id="highlights-heading">{ "Highlights" }</h2>
                        if !state.highlights.is_empty() { <span class="count">{ state.highlights.len() }</span> }
                    </div>
                    if state.highlights.is_empty() {
                        <div class="empty" data-testid="no-highlights">
                            <strong>{ "No highlights on this page yet" }</strong>
                            { "Select text on the page and choose Highlight in the bar that appears, or press " }<kbd>{ "Alt+Shift+U" }</kbd>{ "." }
                        </div>
                    } else {
                        <ul class="items" data-testid="highlights">
                            { for state.highlights.iter().map(|h| highlight_item(&state, h, Surface::Popup)) }
                        </ul>
                    }
                </section>
                { clips_section(&state) }
            </>
        }
    };

    html! {
        <main class="popup">
            <header class="popup-header">
                <h1 class="brand"><img src="icons/cairn.svg" alt="" />{ "Cairn" }</h1>
                <span class={classes!("pill", pill_class)} title={label.clone()} role="status">
                    <span class="dot" aria-hidden="true"></span>
                    <span class="text" data-testid="connection">{ label }</span>
                </span>
                <button class={classes!("btn", "ghost", "icon", state.syncing.then_some("spinning"))} onclick={sync_now} disabled={state.syncing}
                    aria-label="Sync now" title="Sync now" data-testid="sync-now"><Icon name="sync" /></button>
                <button class="btn ghost icon" onclick={open_panel} aria-label="Open the side panel" title="Open the side panel (Alt+Shift+O)"
                    data-testid="open-panel"><Icon name="panel" /></button>
                <a class="btn ghost icon" href="library.html" onclick={crate::library::open_library()} aria-label="Library: everything you kept"
                    title="Library: everything you kept" data-testid="open-library"><Icon name="library" /></a>
                <a class="btn ghost icon" href="options.html" target="_blank" aria-label="Options" title="Options"><Icon name="settings" /></a>
            </header>
            <div class="popup-body">
                if state.site_allowed() { { detail } }
                { body }
                { notice_view(&state) }
            </div>
        </main>
    }
}
