//! The toolbar popup: this page's highlights, newest first, and the connection.

use cairn_protocol::messages::{PanelReply, PanelRequest};
use cairn_web::{chrome, client};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::state::{connection_label, page_origin, sync_key, sync_label, PopupAction, PopupState, Tone};

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

fn load(state: UseReducerHandle<PopupState>, url: Option<String>) {
    wasm_bindgen_futures::spawn_local(async move {
        match client::ask(&PanelRequest::Status {}).await {
            Ok(PanelReply::Status(s)) => state.dispatch(PopupAction::StatusLoaded(s)),
            Ok(_) => {}
            Err(e) => state.dispatch(PopupAction::Failed(e)),
        }
        if let Some(url) = url {
            match client::ask(&PanelRequest::ListPage { url }).await {
                Ok(PanelReply::Page { page_key, highlights }) => {
                    state.dispatch(PopupAction::PageLoaded { page_key, highlights })
                }
                Ok(_) => {}
                Err(e) => state.dispatch(PopupAction::Failed(e)),
            }
        }
    });
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

    let sync_now = {
        let state = state.clone();
        Callback::from(move |_| {
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match client::ask(&PanelRequest::SyncNow {}).await {
                    Ok(PanelReply::Status(s)) => state.dispatch(PopupAction::StatusLoaded(s)),
                    Ok(_) => {}
                    Err(e) => state.dispatch(PopupAction::Failed(e)),
                }
                let url = state.page_url.clone();
                load(state, url);
            });
        })
    };

    let allow_site = {
        let state = state.clone();
        Callback::from(move |_| {
            let Some(origin) = state.page_url.as_deref().and_then(page_origin) else { return };
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match chrome::request_host_permission(&origin).await {
                    Ok(true) => {}
                    Ok(false) => return state.dispatch(PopupAction::Failed(format!("Cairn was not given access to {origin}"))),
                    Err(e) => return state.dispatch(PopupAction::Failed(e.to_string())),
                }
                match client::ask(&PanelRequest::AllowSite { origin }).await {
                    Ok(PanelReply::Status(s)) => state.dispatch(PopupAction::StatusLoaded(s)),
                    Ok(_) => {}
                    Err(e) => state.dispatch(PopupAction::Failed(e)),
                }
            });
        })
    };

    let (label, tone) = match &state.status {
        Some(s) => connection_label(s),
        None => ("…".to_string(), Tone::Neutral),
    };
    let tone_class = match tone {
        Tone::Good => "good",
        Tone::Neutral => "neutral",
        Tone::Bad => "bad",
    };

    let body = if state.page_url.is_none() {
        html! { <p class="empty">{ "Open a web page to see its highlights." }</p> }
    } else if state.loading {
        html! { <p class="empty">{ "Loading…" }</p> }
    } else if state.highlights.is_empty() {
        html! { <p class="empty" data-testid="no-highlights">{ "No highlights on this page yet. Select text and choose “Highlight with Cairn”." }</p> }
    } else {
        html! {
            <ul class="highlights" data-testid="highlights">
                { for state.highlights.iter().map(|h| {
                    let delete = {
                        let state = state.clone();
                        let id = h.id.clone();
                        Callback::from(move |_| {
                            let state = state.clone();
                            let id = id.clone();
                            wasm_bindgen_futures::spawn_local(async move {
                                match client::ask(&PanelRequest::DeleteHighlight { id: id.clone() }).await {
                                    Ok(_) => state.dispatch(PopupAction::Deleted(id)),
                                    Err(e) => state.dispatch(PopupAction::Failed(e)),
                                }
                            });
                        })
                    };
                    let editing = state.editing.as_deref() == Some(h.id.as_str());
                    let start_edit = {
                        let state = state.clone();
                        let id = h.id.clone();
                        Callback::from(move |_| state.dispatch(PopupAction::StartEditing(id.clone())))
                    };
                    let save_note = {
                        let state = state.clone();
                        let id = h.id.clone();
                        Callback::from(move |e: SubmitEvent| {
                            e.prevent_default();
                            let note = e
                                .target()
                                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
                                .and_then(|f| f.elements().named_item("note"))
                                .and_then(|n| n.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
                                .map(|t| t.value())
                                .unwrap_or_default();
                            let state = state.clone();
                            let id = id.clone();
                            wasm_bindgen_futures::spawn_local(async move {
                                let request = PanelRequest::EditHighlight { id: id.clone(), note: Some(note.clone()), color: None };
                                match client::ask(&request).await {
                                    Ok(_) => state.dispatch(PopupAction::NoteSaved { id, note }),
                                    Err(e) => state.dispatch(PopupAction::Failed(e)),
                                }
                            });
                        })
                    };
                    let reattach = {
                        let state = state.clone();
                        let id = h.id.clone();
                        Callback::from(move |_| {
                            let Some(page_url) = state.page_url.clone() else { return };
                            let state = state.clone();
                            let id = id.clone();
                            wasm_bindgen_futures::spawn_local(async move {
                                match client::ask(&PanelRequest::ReattachOrphan { id, page_url }).await {
                                    Ok(_) => state.dispatch(PopupAction::Info("Re-attached to the text selected on the page.".into())),
                                    Err(e) => state.dispatch(PopupAction::Failed(e)),
                                }
                            });
                        })
                    };
                    html! {
                        <li class={classes!("highlight", h.color_class())} data-testid="highlight" data-sync={sync_key(&h.sync)} data-orphan={h.orphan.to_string()}>
                            <blockquote data-testid="quote">{ &h.quote }</blockquote>
                            if editing {
                                <form onsubmit={save_note}>
                                    <textarea name="note" data-testid="note-input" value={h.note.clone().unwrap_or_default()} />
                                    <button type="submit" data-testid="save-note">{ "Save" }</button>
                                </form>
                            } else if let Some(note) = &h.note {
                                // Shown as text: the popup never interprets a note as HTML.
                                <p class="note" data-testid="note">{ note }</p>
                            }
                            if h.orphan {
                                <p class="orphan" data-testid="orphan">{ "Not found on the page any more. Select where it belongs, then " }
                                    <button class="link" onclick={reattach} data-testid="reattach">{ "re-attach it" }</button></p>
                            }
                            <p class="meta">
                                if let Some(t) = &h.teammate { <span class="teammate" data-testid="teammate">{ format!("by {t}") }</span>{ " · " } }
                                <span data-testid="sync">{ sync_label(&h.sync) }</span>
                                if h.teammate.is_none() {
                                    { " · " }<button class="link" onclick={start_edit} data-testid="edit-note">{ if h.note.is_some() { "Edit note" } else { "Add note" } }</button>
                                    { " · " }<button class="link" onclick={delete} data-testid="delete">{ "Delete" }</button>
                                }
                            </p>
                        </li>
                    }
                }) }
            </ul>
        }
    };

    let allow = match (&state.page_url, &state.status) {
        (Some(_), Some(_)) if !state.site_allowed() => html! {
            <p class="notice">{ "Cairn is off on this site. " }
                <button onclick={allow_site} data-testid="allow-site">{ "Allow Cairn here" }</button></p>
        },
        _ => html! {},
    };

    html! {
        <main class="popup">
            <header>
                <h1>{ "Cairn" }</h1>
                <a href="options.html" target="_blank" class="link">{ "Options" }</a>
            </header>
            <p class={classes!("connection", tone_class)} data-testid="connection">{ label }</p>
            if let Some(e) = &state.error { <p class="error" role="alert" data-testid="error">{ e }</p> }
            if let Some(i) = &state.info { <p class="ok" role="status" data-testid="info">{ i }</p> }
            { allow }
            { body }
            <footer><button onclick={sync_now} data-testid="sync-now">{ "Sync now" }</button></footer>
        </main>
    }
}

trait ColorClass {
    fn color_class(&self) -> String;
}

impl ColorClass for cairn_protocol::messages::HighlightSummary {
    fn color_class(&self) -> String {
        if self.teammate.is_some() { "teammate".into() } else { format!("color-{}", self.color.name()) }
    }
}
