//! What the popup and the side panel share: asking the background, the items
//! (a highlight, a clip) and the one notice.

use cairn_model::ClipKind;
use cairn_protocol::messages::{
    teammate_color, ClipSummary, HighlightSummary, PanelReply, PanelRequest, ReplySummary, TEAMMATE_PALETTE,
};
use cairn_web::client;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::state::{
    audience_label, clip_preview, relative_time, share_summary, sync_key, sync_label, PopupAction, PopupState, Tone,
};
use crate::widgets::{Icon, NoteEditor, NoteView, TagEditor};
use crate::zip::clip_file_name;

pub(crate) type State = UseReducerHandle<PopupState>;

/// Saves bytes as a file through the browser's download (a temporary object URL).
pub(crate) fn download(name: &str, bytes: &[u8], mime: &str) -> Result<(), String> {
    let err = |e: wasm_bindgen::JsValue| format!("The download failed ({e:?}); try again");
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

pub(crate) fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Runs a request in the background and reports a failure as the notice.
pub(crate) fn ask(state: &State, request: PanelRequest, then: impl FnOnce(State, PanelReply) + 'static) {
    let state = state.clone();
    wasm_bindgen_futures::spawn_local(async move {
        match client::ask(&request).await {
            Ok(reply) => then(state, reply),
            Err(e) => state.dispatch(PopupAction::Failed(e)),
        }
    });
}

/// Notices other than errors go by themselves; each timer dismisses only its own.
#[hook]
pub(crate) fn use_notice_timer(state: &State) {
    let state = state.clone();
    let notice = state.notice.clone();
    use_effect_with(notice.as_ref().map(|n| n.serial), move |_| {
        let timer = notice.and_then(|n| {
            let ms = n.lifetime_ms()?;
            Some(gloo_timers::callback::Timeout::new(ms, move || {
                state.dispatch(PopupAction::Dismiss { serial: n.serial })
            }))
        });
        move || drop(timer)
    });
}

/// "Sync now": pushes and pulls, says how it went, then lists the page again.
pub(crate) fn sync_now_callback(state: &State) -> Callback<MouseEvent> {
    let state = state.clone();
    Callback::from(move |_| {
        state.dispatch(PopupAction::SyncStarted);
        ask(&state, PanelRequest::SyncNow {}, |s, reply| {
            if let PanelReply::Status(status) = reply {
                s.dispatch(PopupAction::SyncFinished(status));
            }
            let url = s.page_url.clone();
            load(s, url);
        });
    })
}

/// Deletes one of the user's highlights or clips; the notice offers Undo.
pub(crate) fn delete_callback<E>(state: &State, id: &str, shared: bool) -> Callback<E> {
    let (state, id) = (state.clone(), id.to_string());
    Callback::from(move |_| {
        let id2 = id.clone();
        ask(&state, PanelRequest::DeleteHighlight { id: id.clone() }, move |s, _| {
            s.dispatch(PopupAction::Deleted { id: id2, shared })
        });
    })
}

pub(crate) fn kind_label(kind: ClipKind) -> &'static str {
    match kind {
        ClipKind::Selection => "selection",
        ClipKind::Article => "article",
        ClipKind::UrlOnly => "URL only",
    }
}

pub(crate) fn audience_chip(audience: &[String], teammate: Option<&str>) -> Html {
    let class = if audience.is_empty() { "chip audience-private" } else { "chip audience-shared" };
    let label = audience_label(audience, teammate);
    let title = if audience.is_empty() && teammate.is_none() {
        "Private: only you see it".to_string()
    } else {
        format!("Seen by the members of {label}")
    };
    html! { <span class={class} title={title} data-testid="audience">{ label }</span> }
}

pub(crate) fn sync_badge(item_sync: &cairn_protocol::messages::SyncState) -> Html {
    html! { <span class={classes!("sync-state", sync_key(item_sync))} data-testid="sync">{ sync_label(item_sync) }</span> }
}

/// Where an item is shown: the popup lists it compactly; the side panel adds
/// going to it on the page, tags and choosing who sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    Popup,
    Panel,
}

pub(crate) fn highlight_item(state: &State, h: &HighlightSummary, surface: Surface) -> Html {
    let panel = surface == Surface::Panel;
    let editing = state.editing.as_deref() == Some(h.id.as_str());
    let tagging = panel && state.tagging.as_deref() == Some(h.id.as_str());
    let sharing = state.sharing.as_ref().filter(|(id, _)| panel && id == &h.id).map(|(_, chosen)| chosen.clone());
    let expanded = state.expanded.contains(&h.id);
    let own = h.teammate.is_none();
    let style =
        h.teammate.as_deref().map(|t| format!("--item-color: {}", TEAMMATE_PALETTE[teammate_color(t) as usize]));
    let color_class = if own { format!("color-{}", h.color.name()) } else { "teammate".into() };
    let dispatch = |action: fn(String) -> PopupAction| {
        let (state, id) = (state.clone(), h.id.clone());
        Callback::from(move |_: MouseEvent| state.dispatch(action(id.clone())))
    };
    let saved = |state: &State, request: PanelRequest, done: &'static str| {
        ask(state, request, move |s, _| {
            s.dispatch(PopupAction::StopEditing);
            s.dispatch(PopupAction::Succeeded(done.into()));
            let url = s.page_url.clone();
            load(s, url);
        });
    };
    let save_note = {
        let (state, id) = (state.clone(), h.id.clone());
        Callback::from(move |note: String| {
            let id2 = id.clone();
            let request =
                PanelRequest::EditHighlight { id: id.clone(), note: Some(note.clone()), color: None, tags: None };
            ask(&state, request, move |s, _| {
                s.dispatch(PopupAction::NoteSaved { id: id2, note });
                let url = s.page_url.clone();
                load(s, url);
            });
        })
    };
    let save_tags = {
        let (state, id) = (state.clone(), h.id.clone());
        Callback::from(move |tags: Vec<String>| {
            let request = PanelRequest::EditHighlight { id: id.clone(), note: None, color: None, tags: Some(tags) };
            saved(&state, request, "Tags saved");
        })
    };
    let save_share = {
        let (state, id, chosen) = (state.clone(), h.id.clone(), sharing.clone().unwrap_or_default());
        Callback::from(move |_: MouseEvent| {
            let request = PanelRequest::ShareItem { id: id.clone(), communities: chosen.clone() };
            let done =
                if chosen.is_empty() { "Now private: only you see it" } else { "Shared: your communities see it" };
            saved(&state, request, done);
        })
    };
    let cancel_edit = {
        let state = state.clone();
        Callback::from(move |_| state.dispatch(PopupAction::StopEditing))
    };
    let reattach = {
        let (state, id) = (state.clone(), h.id.clone());
        Callback::from(move |_| {
            let Some(page_url) = state.page_url.clone() else { return };
            ask(&state, PanelRequest::ReattachOrphan { id: id.clone(), page_url }, |s, _| {
                s.dispatch(PopupAction::Succeeded("Re-attached to the text selected on the page.".into()))
            });
        })
    };
    let reveal = {
        let (state, id) = (state.clone(), h.id.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(page_url) = state.page_url.clone() else { return };
            ask(&state, PanelRequest::RevealHighlight { id: id.clone(), page_url }, |_, _| {});
        })
    };
    let delete = delete_callback(state, &h.id, !h.audience.is_empty());
    let communities: Vec<(String, String)> = state
        .status
        .as_ref()
        .map(|s| s.communities.iter().map(|c| (c.id.clone(), c.name.clone())).collect())
        .unwrap_or_default();
    let quote =
        html! { <blockquote class="quote clamp" style="--lines: 4" data-testid="quote">{ &h.quote }</blockquote> };
    let busy = editing || tagging || sharing.is_some() || state.replying.as_deref() == Some(h.id.as_str());
    html! {
        <li class={classes!("item", color_class)} style={style} data-testid="highlight" data-id={h.id.clone()} data-sync={sync_key(&h.sync)} data-orphan={h.orphan.to_string()}>
            if panel && !h.orphan {
                <button type="button" class="quote-link" onclick={reveal} title="Show it on the page" data-testid="reveal">{ quote }</button>
            } else {
                { quote }
            }
            if editing {
                <NoteEditor initial={h.note.clone().unwrap_or_default()} on_save={save_note} on_cancel={cancel_edit.clone()} />
            } else if let Some(html) = &h.note_html {
                <NoteView html={html.clone()} expanded={expanded} on_toggle={dispatch(PopupAction::ToggleExpanded)} />
            }
            if tagging {
                <TagEditor initial={h.tags.clone()} suggestions={state.known_tags()} on_save={save_tags} on_cancel={cancel_edit.clone()} />
            } else if panel && !h.tags.is_empty() {
                <div class="meta">{ for h.tags.iter().map(|t| html! { <span class="chip tag" data-testid="tag">{ t }</span> }) }</div>
            }
            if let Some(chosen) = &sharing {
                <fieldset class="share" data-testid="share-picker">
                    <legend>{ "Who sees it" }</legend>
                    if communities.is_empty() {
                        <p class="hint">{ "You are in no community yet: join or create one in Options to share." }</p>
                    }
                    { for communities.iter().map(|(slug, name)| {
                        let toggle = {
                            let (state, slug) = (state.clone(), slug.clone());
                            Callback::from(move |_: Event| state.dispatch(PopupAction::ToggleShare(slug.clone())))
                        };
                        html! {
                            <label class="check">
                                <input type="checkbox" checked={chosen.contains(slug)} onchange={toggle} data-testid="share-community" value={slug.clone()} />
                                { name }
                            </label>
                        }
                    }) }
                    <p class="hint" data-testid="share-summary">{ share_summary(chosen, &communities) }</p>
                    <div class="row">
                        <button type="button" class="btn primary small" onclick={save_share} data-testid="save-share">{ "Save" }</button>
                        <button type="button" class="btn ghost small" onclick={cancel_edit.reform(|_: MouseEvent| ())}>{ "Cancel" }</button>
                    </div>
                </fieldset>
            }
            if h.orphan {
                <p class="orphan" data-testid="orphan">{ "Not found on the page any more. Select where it belongs, then " }
                    <button class="link" onclick={reattach} data-testid="reattach">{ "re-attach it" }</button></p>
            }
            <div class="meta">
                if panel && own && !busy {
                    <button type="button" class="chip-button" onclick={dispatch(PopupAction::StartSharing)} title="Choose who sees it" data-testid="share">
                        { audience_chip(&h.audience, None) }
                    </button>
                } else {
                    { audience_chip(&h.audience, h.teammate.as_deref()) }
                }
                if let Some(t) = &h.teammate { <span class="teammate" data-testid="teammate">{ format!("by {t}") }</span> }
                <time datetime={h.created.clone()} title={h.created.clone()}>{ relative_time(&h.created, now_ms()) }</time>
                if own { { sync_badge(&h.sync) } }
                if own && !busy {
                    <span class="actions">
                        <button class="btn ghost small" onclick={dispatch(PopupAction::StartEditing)} data-testid="edit-note">{ if h.note.is_some() { "Edit note" } else { "Add note" } }</button>
                        if panel {
                            <button class="btn ghost small" onclick={dispatch(PopupAction::StartTagging)} data-testid="edit-tags">{ if h.tags.is_empty() { "Add tags" } else { "Tags" } }</button>
                        }
                        <button class="btn ghost small danger" onclick={delete} data-testid="delete">{ "Delete" }</button>
                    </span>
                }
            </div>
            if panel { { thread(state, h) } }
        </li>
    }
}
/// A highlight's thread in the side panel: its replies, and writing one.
fn thread(state: &State, h: &HighlightSummary) -> Html {
    let shared = h.teammate.is_some() || !h.communities.is_empty();
    let writing = state.replying.as_deref() == Some(h.id.as_str());
    if h.replies.is_empty() && !shared {
        return html! {};
    }
    let send = {
        let (state, parent) = (state.clone(), h.id.clone());
        Callback::from(move |note: String| {
            ask(&state, PanelRequest::Reply { parent: parent.clone(), note }, |s, _| {
                s.dispatch(PopupAction::StopEditing);
                s.dispatch(PopupAction::Succeeded("Reply sent to everyone who sees the highlight".into()));
                let url = s.page_url.clone();
                load(s, url);
            });
        })
    };
    let cancel = {
        let state = state.clone();
        Callback::from(move |_| state.dispatch(PopupAction::StopEditing))
    };
    let start = {
        let (state, id) = (state.clone(), h.id.clone());
        Callback::from(move |_: MouseEvent| state.dispatch(PopupAction::StartReplying(id.clone())))
    };
    let reply_view = |r: &ReplySummary| {
        let own = r.teammate.is_none();
        let delete = delete_callback::<MouseEvent>(state, &r.id, true);
        html! {
            <li class="reply" data-testid="reply" data-id={r.id.clone()}>
                <div class="meta reply-head">
                    <strong data-testid="reply-author">{ r.teammate.clone().unwrap_or_else(|| "You".into()) }</strong>
                    <time datetime={r.created.clone()} title={r.created.clone()}>{ relative_time(&r.created, now_ms()) }</time>
                    if own { { sync_badge(&r.sync) } }
                    if own {
                        <span class="actions"><button class="btn ghost small danger" onclick={delete} data-testid="delete-reply">{ "Delete" }</button></span>
                    }
                </div>
                if let Some(html) = &r.note_html {
                    <div class="note" data-testid="reply-note">{ Html::from_html_unchecked(html.clone().into()) }</div>
                }
            </li>
        }
    };
    html! {
        <div class="thread" data-testid="thread">
            if !h.replies.is_empty() {
                <ul class="replies" aria-label={format!("{} replies", h.replies.len())}>{ for h.replies.iter().map(reply_view) }</ul>
            }
            if writing {
                <NoteEditor initial={String::new()} on_save={send} on_cancel={cancel} />
            } else if shared {
                <button type="button" class="btn ghost small" onclick={start} data-testid="reply-button">
                    { if h.replies.is_empty() { "Reply" } else { "Reply to the thread" } }
                </button>
            }
        </div>
    }
}

pub(crate) fn clip_item(state: &State, c: &ClipSummary) -> Html {
    let copy = {
        let markdown = c.markdown.clone();
        let state = state.clone();
        Callback::from(move |_| {
            let markdown = markdown.clone();
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let Some(clipboard) = web_sys::window().map(|w| w.navigator().clipboard()) else { return };
                match wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&markdown)).await {
                    Ok(_) => state.dispatch(PopupAction::Succeeded("Markdown copied".into())),
                    Err(e) => state.dispatch(PopupAction::Failed(format!("Could not copy to the clipboard ({e:?})"))),
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
    let delete = delete_callback(state, &c.id, !c.audience.is_empty());
    html! {
        <li class="item clip" data-testid="clip" data-kind={kind_label(c.clip)} data-sync={sync_key(&c.sync)}>
            <p class="clamp" style="--lines: 2"><strong data-testid="clip-title">{ &c.title }</strong></p>
            // A preview as text: nothing from a clipped page is ever interpreted here.
            <pre class="preview" data-testid="clip-preview">{ clip_preview(&c.markdown, 300) }</pre>
            if !c.tags.is_empty() {
                <div class="meta">{ for c.tags.iter().map(|t| html! { <span class="chip" data-testid="clip-tag">{ t }</span> }) }</div>
            }
            <div class="meta">
                <span class="chip">{ kind_label(c.clip) }</span>
                { audience_chip(&c.audience, c.teammate.as_deref()) }
                if let Some(t) = &c.teammate { <span>{ format!("by {t}") }</span> }
                if c.teammate.is_none() { { sync_badge(&c.sync) } }
                <span class="actions">
                    <button class="btn ghost small" onclick={copy} data-testid="copy-markdown">{ "Copy" }</button>
                    <button class="btn ghost small" onclick={save} data-testid="download">{ ".md" }</button>
                    if c.teammate.is_none() {
                        <button class="btn ghost small danger" onclick={delete} data-testid="delete-clip">{ "Delete" }</button>
                    }
                </span>
            </div>
        </li>
    }
}

pub(crate) fn load(state: State, url: Option<String>) {
    wasm_bindgen_futures::spawn_local(async move {
        match client::ask(&PanelRequest::Status {}).await {
            Ok(PanelReply::Status(s)) => state.dispatch(PopupAction::StatusLoaded(s)),
            Ok(_) => {}
            Err(e) => state.dispatch(PopupAction::Failed(e)),
        }
        if let Some(url) = url {
            match client::ask(&PanelRequest::ListPage { url }).await {
                Ok(PanelReply::Page { page_key, highlights, clips, focus }) => {
                    state.dispatch(PopupAction::PageLoaded { page_key, highlights, clips, focus })
                }
                Ok(_) => {}
                Err(e) => state.dispatch(PopupAction::Failed(e)),
            }
        }
    });
}

/// The one notice: an outcome, where the user is looking, gone by itself unless it is an error.
pub(crate) fn notice_view(state: &State) -> Html {
    let Some(n) = state.notice.clone() else { return html! {} };
    let dismiss = {
        let state = state.clone();
        Callback::from(move |_| state.dispatch(PopupAction::Dismiss { serial: n.serial }))
    };
    let undo = n.undo.clone().map(|id| {
        let state = state.clone();
        Callback::from(move |_| {
            state.dispatch(PopupAction::Dismiss { serial: n.serial });
            ask(&state, PanelRequest::RestoreDeleted { id: id.clone() }, |s, _| {
                s.dispatch(PopupAction::Succeeded("Restored".into()));
                let url = s.page_url.clone();
                load(s, url);
            });
        })
    });
    let (class, testid, role) = match n.tone {
        Tone::Bad => ("toast bad", "error", "alert"),
        _ => ("toast", "info", "status"),
    };
    html! {
        <div class={class} role={role} data-testid={testid}>
            <span class="grow">{ &n.text }</span>
            if let Some(undo) = undo { <button class="btn small" onclick={undo} data-testid="undo">{ "Undo" }</button> }
            <button class="btn small icon" aria-label="Dismiss" onclick={dismiss}><Icon name="close" /></button>
        </div>
    }
}
