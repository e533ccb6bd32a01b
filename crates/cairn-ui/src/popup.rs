//! The toolbar popup: this page's highlights, newest first, and the connection.

use cairn_protocol::messages::{PanelReply, PanelRequest};
use cairn_web::{chrome, client};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use cairn_model::ClipKind;
use cairn_protocol::messages::ClipSummary;

use crate::state::{
    clip_preview, connection_label, page_origin, parse_tags, sync_key, sync_label, PopupAction, PopupState, Tone,
};
use crate::zip::{clip_file_name, zip_stored};

/// Saves bytes as a file through the browser's download (a temporary object URL).
fn download(name: &str, bytes: &[u8], mime: &str) -> Result<(), String> {
    let err = |e: wasm_bindgen::JsValue| format!("download failed: {e:?}");
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(err)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(err)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement =
        document.create_element("a").map_err(err)?.dyn_into().map_err(|_| "no anchor")?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    web_sys::Url::revoke_object_url(&url).map_err(err)?;
    Ok(())
}

/// Deletes one of the user's highlights or clips (the background queues the delete).
fn delete_callback<E>(state: &UseReducerHandle<PopupState>, id: &str) -> Callback<E> {
    let state = state.clone();
    let id = id.to_string();
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
}

fn kind_label(kind: ClipKind) -> &'static str {
    match kind {
        ClipKind::Selection => "selection",
        ClipKind::Article => "article",
        ClipKind::UrlOnly => "URL only",
    }
}

fn input_value(id: &str) -> String {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|i| i.value())
        .unwrap_or_default()
}

fn clips_section(state: &UseReducerHandle<PopupState>) -> Html {
    let clip = |kind: ClipKind| {
        let state = state.clone();
        Callback::from(move |_| {
            let Some(page_url) = state.page_url.clone() else { return };
            let note = Some(input_value("clip-note")).filter(|n| !n.trim().is_empty());
            let tags = parse_tags(&input_value("clip-tags"));
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match client::ask(&PanelRequest::ClipPage { page_url: page_url.clone(), clip: kind, note, tags }).await
                {
                    Ok(_) => {
                        state.dispatch(PopupAction::Info("Clipped.".into()));
                        load(state, Some(page_url));
                    }
                    Err(e) => state.dispatch(PopupAction::Failed(e)),
                }
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
            if let Err(e) = download("cairn-clips.zip", &zip_stored(&entries), "application/zip") {
                state.dispatch(PopupAction::Failed(e));
            }
        })
    };
    html! {
        <section class="clips">
            <h2>{ "Clips" }</h2>
            <div class="clip-form">
                <input id="clip-note" data-testid="clip-note" placeholder="Note (optional)" />
                <input id="clip-tags" data-testid="clip-tags" placeholder="Tags, comma separated" />
                <div>
                    <button onclick={clip(ClipKind::Article)} data-testid="clip-article">{ "Clip article" }</button>
                    <button onclick={clip(ClipKind::Selection)} data-testid="clip-selection">{ "Clip selection" }</button>
                    <button onclick={clip(ClipKind::UrlOnly)} data-testid="clip-url">{ "Clip URL only" }</button>
                </div>
            </div>
            if !state.clips.is_empty() {
                <ul class="clip-list">
                    { for state.clips.iter().map(|c| clip_item(state, c)) }
                </ul>
                if state.clips.len() > 1 {
                    <button onclick={download_all} data-testid="download-all">{ "Download all (.zip)" }</button>
                }
            }
        </section>
    }
}

fn clip_item(state: &UseReducerHandle<PopupState>, c: &ClipSummary) -> Html {
    let copy = {
        let markdown = c.markdown.clone();
        let state = state.clone();
        Callback::from(move |_| {
            let markdown = markdown.clone();
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let Some(clipboard) = web_sys::window().map(|w| w.navigator().clipboard()) else { return };
                match wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&markdown)).await {
                    Ok(_) => state.dispatch(PopupAction::Info("Markdown copied.".into())),
                    Err(e) => state.dispatch(PopupAction::Failed(format!("could not copy: {e:?}"))),
                }
            });
        })
    };
    let save = {
        let (title, markdown) = (c.title.clone(), c.markdown.clone());
        let state = state.clone();
        Callback::from(move |_| {
            let name = clip_file_name(&title, &mut Vec::new());
            if let Err(e) = download(&name, markdown.as_bytes(), "text/markdown") {
                state.dispatch(PopupAction::Failed(e));
            }
        })
    };
    let delete = delete_callback(state, &c.id);
    html! {
        <li class="clip" data-testid="clip" data-kind={kind_label(c.clip)} data-sync={sync_key(&c.sync)}>
            <p class="clip-title"><strong data-testid="clip-title">{ &c.title }</strong>{ format!(" · {}", kind_label(c.clip)) }</p>
            // A preview as text: nothing from a clipped page is ever interpreted here.
            <pre class="preview" data-testid="clip-preview">{ clip_preview(&c.markdown, 300) }</pre>
            <p class="meta">
                if let Some(t) = &c.teammate { <span>{ format!("by {t} · ") }</span> }
                <span>{ sync_label(&c.sync) }</span>{ " · " }
                <button class="link" onclick={copy} data-testid="copy-markdown">{ "Copy Markdown" }</button>{ " · " }
                <button class="link" onclick={save} data-testid="download">{ "Download .md" }</button>
                if c.teammate.is_none() {
                    { " · " }<button class="link" onclick={delete} data-testid="delete-clip">{ "Delete" }</button>
                }
            </p>
        </li>
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

fn load(state: UseReducerHandle<PopupState>, url: Option<String>) {
    wasm_bindgen_futures::spawn_local(async move {
        match client::ask(&PanelRequest::Status {}).await {
            Ok(PanelReply::Status(s)) => state.dispatch(PopupAction::StatusLoaded(s)),
            Ok(_) => {}
            Err(e) => state.dispatch(PopupAction::Failed(e)),
        }
        if let Some(url) = url {
            match client::ask(&PanelRequest::ListPage { url }).await {
                Ok(PanelReply::Page { page_key, highlights, clips }) => {
                    state.dispatch(PopupAction::PageLoaded { page_key, highlights, clips })
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
                    Ok(false) => {
                        return state.dispatch(PopupAction::Failed(format!("Cairn was not given access to {origin}")))
                    }
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
                    let delete = delete_callback(&state, &h.id);
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
            if state.page_url.is_some() && state.site_allowed() { { clips_section(&state) } }
            <footer><button onclick={sync_now} data-testid="sync-now">{ "Sync now" }</button></footer>
        </main>
    }
}

trait ColorClass {
    fn color_class(&self) -> String;
}

impl ColorClass for cairn_protocol::messages::HighlightSummary {
    fn color_class(&self) -> String {
        if self.teammate.is_some() {
            "teammate".into()
        } else {
            format!("color-{}", self.color.name())
        }
    }
}
