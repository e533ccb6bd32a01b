//! The toolbar popup: this page's highlights and clips, newest first, the
//! connection, and one notice for the outcome of the last action.

use cairn_protocol::messages::{
    teammate_color, ClipSummary, HighlightSummary, PanelReply, PanelRequest, TEAMMATE_PALETTE,
};
use cairn_web::{chrome, client};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use cairn_model::ClipKind;

use crate::state::{
    audience_label, clip_preview, connection, page_origin, parse_tags, relative_time, sync_key, sync_label,
    PopupAction, PopupState, Tone,
};
use crate::widgets::{Icon, NoteEditor, NoteView, TagInput};
use crate::zip::{clip_file_name, zip_stored};

type State = UseReducerHandle<PopupState>;

/// Saves bytes as a file through the browser's download (a temporary object URL).
fn download(name: &str, bytes: &[u8], mime: &str) -> Result<(), String> {
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

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Runs a request in the background and reports a failure as the notice.
fn ask(state: &State, request: PanelRequest, then: impl FnOnce(State, PanelReply) + 'static) {
    let state = state.clone();
    wasm_bindgen_futures::spawn_local(async move {
        match client::ask(&request).await {
            Ok(reply) => then(state, reply),
            Err(e) => state.dispatch(PopupAction::Failed(e)),
        }
    });
}

/// Deletes one of the user's highlights or clips; the notice offers Undo.
fn delete_callback<E>(state: &State, id: &str, shared: bool) -> Callback<E> {
    let (state, id) = (state.clone(), id.to_string());
    Callback::from(move |_| {
        let id2 = id.clone();
        ask(&state, PanelRequest::DeleteHighlight { id: id.clone() }, move |s, _| {
            s.dispatch(PopupAction::Deleted { id: id2, shared })
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

fn audience_chip(audience: &[String], teammate: Option<&str>) -> Html {
    let class = if audience.is_empty() { "chip audience-private" } else { "chip audience-shared" };
    let label = audience_label(audience, teammate);
    let title = if audience.is_empty() && teammate.is_none() {
        "Private: only you see it".to_string()
    } else {
        format!("Seen by the members of {label}")
    };
    html! { <span class={class} title={title} data-testid="audience">{ label }</span> }
}

fn sync_badge(item_sync: &cairn_protocol::messages::SyncState) -> Html {
    html! { <span class={classes!("sync-state", sync_key(item_sync))} data-testid="sync">{ sync_label(item_sync) }</span> }
}

fn highlight_item(state: &State, h: &HighlightSummary) -> Html {
    let editing = state.editing.as_deref() == Some(h.id.as_str());
    let expanded = state.expanded.contains(&h.id);
    let own = h.teammate.is_none();
    let style =
        h.teammate.as_deref().map(|t| format!("--item-color: {}", TEAMMATE_PALETTE[teammate_color(t) as usize]));
    let color_class = if own { format!("color-{}", h.color.name()) } else { "teammate".into() };
    let start_edit = {
        let (state, id) = (state.clone(), h.id.clone());
        Callback::from(move |_| state.dispatch(PopupAction::StartEditing(id.clone())))
    };
    let save_note = {
        let (state, id) = (state.clone(), h.id.clone());
        Callback::from(move |note: String| {
            let id2 = id.clone();
            let request = PanelRequest::EditHighlight { id: id.clone(), note: Some(note.clone()), color: None };
            ask(&state, request, move |s, _| {
                s.dispatch(PopupAction::NoteSaved { id: id2, note });
                let url = s.page_url.clone();
                load(s, url);
            });
        })
    };
    let cancel_edit = {
        let state = state.clone();
        Callback::from(move |_| state.dispatch(PopupAction::StopEditing))
    };
    let toggle = {
        let (state, id) = (state.clone(), h.id.clone());
        Callback::from(move |_| state.dispatch(PopupAction::ToggleExpanded(id.clone())))
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
    let delete = delete_callback(state, &h.id, !h.audience.is_empty());
    html! {
        <li class={classes!("item", color_class)} style={style} data-testid="highlight" data-sync={sync_key(&h.sync)} data-orphan={h.orphan.to_string()}>
            <blockquote class="quote clamp" style="--lines: 4" data-testid="quote">{ &h.quote }</blockquote>
            if editing {
                <NoteEditor initial={h.note.clone().unwrap_or_default()} on_save={save_note} on_cancel={cancel_edit} />
            } else if let Some(html) = &h.note_html {
                <NoteView html={html.clone()} expanded={expanded} on_toggle={toggle} />
            }
            if h.orphan {
                <p class="orphan" data-testid="orphan">{ "Not found on the page any more. Select where it belongs, then " }
                    <button class="link" onclick={reattach} data-testid="reattach">{ "re-attach it" }</button></p>
            }
            <div class="meta">
                { audience_chip(&h.audience, h.teammate.as_deref()) }
                if let Some(t) = &h.teammate { <span class="teammate" data-testid="teammate">{ format!("by {t}") }</span> }
                <time datetime={h.created.clone()} title={h.created.clone()}>{ relative_time(&h.created, now_ms()) }</time>
                if own { { sync_badge(&h.sync) } }
                if own && !editing {
                    <span class="actions">
                        <button class="btn ghost small" onclick={start_edit} data-testid="edit-note">{ if h.note.is_some() { "Edit note" } else { "Add note" } }</button>
                        <button class="btn ghost small danger" onclick={delete} data-testid="delete">{ "Delete" }</button>
                    </span>
                }
            </div>
        </li>
    }
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

fn clip_item(state: &State, c: &ClipSummary) -> Html {
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

fn load(state: State, url: Option<String>) {
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

/// The one notice: an outcome, where the user is looking, gone by itself unless it is an error.
fn notice_view(state: &State) -> Html {
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
    // Notices other than errors go by themselves; each timer dismisses only its own notice.
    {
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

    let sync_now = {
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
                            { for state.highlights.iter().map(|h| highlight_item(&state, h)) }
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
