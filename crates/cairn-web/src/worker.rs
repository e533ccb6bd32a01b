//! The service worker's entry points, called by `extension/background.js`.
//!
//! The background is the only part of Cairn that writes the local store or talks
//! to the server. Every message goes through [`cairn_protocol::messages::authorize`]
//! first; a content script can only ask about the page it is on, and only when
//! that page's site is allowed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cairn_anchor::TextIndex;
use cairn_model::{Annotation, AnnotationId, ClipKind, PageKey};
use cairn_protocol::api::{
    ChangePasswordRequest, ChangePasswordResponse, MeResponse, PageAnnotationsResponse, PushRequest, PushResponse,
    SignInRequest, SignInResponse, MAX_PUSH_MUTATIONS,
};

/// Bytes of JSON per push: under the server's 2 MiB body limit with room to spare.
const MAX_PUSH_BYTES: usize = 1_500_000;
use cairn_protocol::messages::{
    self, Broadcast, PageReply, PageRequest, PanelReply, PanelRequest, PlacedHighlight, Request, Sender, StatusReport,
    SyncState, TabCommand,
};
use cairn_sync::LocalRecord;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::chrome;
use crate::net::{NetError, Server};
use crate::store::{Change, Settings, Store};

/// An error answered to the sender: a stable code and a message for the user.
struct Failure {
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure::new("storage", e.to_string())
    }
}

impl From<NetError> for Failure {
    fn from(e: NetError) -> Self {
        let code = match e {
            NetError::Unreachable(_) => "unreachable",
            NetError::Unauthorized(_) => "unauthorized",
            NetError::Busy(_) => "busy",
            NetError::Refused { .. } => "refused",
            NetError::BadAnswer(_) => "bad_answer",
        };
        Failure::new(code, e.to_string())
    }
}

type Outcome<T> = Result<T, Failure>;

thread_local! {
    static STORE: RefCell<Option<Rc<Store>>> = const { RefCell::new(None) };
    static PUSHING: Cell<bool> = const { Cell::new(false) };
    /// A highlight whose note the user asked, from the page, to write in the side
    /// panel, and when: handed once to a panel that lists its page soon after (one
    /// that was opening when the request was broadcast).
    static PANEL_FOCUS: RefCell<Option<(String, f64)>> = const { RefCell::new(None) };
    /// The server's live stream is open (or being opened).
    static LIVE: Cell<bool> = const { Cell::new(false) };
    /// A refresh of the open pages is scheduled after a live event.
    static LIVE_REFRESH: Cell<bool> = const { Cell::new(false) };
}

/// How long a note asked for from the page waits for a panel to list its page.
const PANEL_FOCUS_MS: f64 = 10_000.0;

/// Tells the open side panel (and any popup) that a page's annotations changed.
fn announce_page_changed(key: &PageKey) {
    chrome::broadcast(&crate::to_js(&Broadcast::PageChanged { page_key: key.to_string() }));
}

async fn store() -> Outcome<Rc<Store>> {
    if let Some(s) = STORE.with(|s| s.borrow().clone()) {
        return Ok(s);
    }
    let opened = Rc::new(Store::open().await?);
    STORE.with(|s| *s.borrow_mut() = Some(opened.clone()));
    Ok(opened)
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // crypto.getRandomValues cannot fail for 10 or 16 bytes.
    getrandom::getrandom(&mut b).expect("crypto.getRandomValues");
    b
}

/// The settings as stored now: a copy to read, never to write back (writes go
/// through [`Store::update`], which reads them again inside its transaction).
async fn settings(store: &Store) -> Outcome<Settings> {
    if let Some(s) = store.settings().await? {
        return Ok(s);
    }
    Ok(store
        .settings_or_init(|| {
            let device = random_bytes::<16>().iter().map(|b| format!("{b:02x}")).collect::<String>();
            Settings {
                device_id: device,
                next_seq: 1,
                trail_retention_days: cairn_library::trail::DEFAULT_RETENTION_DAYS,
                ..Settings::default()
            }
        })
        .await?)
}

fn reply<T: Serialize>(result: Outcome<T>) -> JsValue {
    #[derive(Serialize)]
    struct Ok<T> {
        ok: bool,
        value: T,
    }
    #[derive(Serialize)]
    struct Err<'a> {
        ok: bool,
        error: ErrBody<'a>,
    }
    #[derive(Serialize)]
    struct ErrBody<'a> {
        code: &'a str,
        message: &'a str,
    }
    match result {
        Result::Ok(value) => crate::to_js(&Ok { ok: true, value }),
        Result::Err(f) => crate::to_js(&Err { ok: false, error: ErrBody { code: f.code, message: &f.message } }),
    }
}

fn js_string(obj: &JsValue, key: &str) -> Option<String> {
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).ok()?.as_string()
}

/// `chrome.runtime.onMessage`: every message from a content script or an extension page.
#[wasm_bindgen]
pub async fn handle_message(message: JsValue, sender: JsValue) -> JsValue {
    let sender = Sender {
        extension_id: js_string(&sender, "id"),
        url: js_string(&sender, "url"),
        own_id: chrome::extension_id(),
    };
    let raw: serde_json::Value = match serde_wasm_bindgen::from_value(message) {
        Ok(v) => v,
        Err(e) => return reply::<()>(Err(Failure::new("malformed", format!("malformed message: {e}")))),
    };
    match messages::authorize(&sender, raw) {
        Err(e) => reply::<()>(Err(Failure { code: e.code(), message: e.to_string() })),
        Ok(Request::Page { page_url, request }) => {
            let changes = !matches!(
                request,
                PageRequest::PageStatus { .. } | PageRequest::AnchorAll { .. } | PageRequest::OpenPanel { .. }
            );
            let key = cairn_sync::page_key_for(&page_url, request.canonical()).ok();
            let outcome = page_request(&page_url, request).await;
            if let (true, Ok(_), Some(key)) = (changes, &outcome, key) {
                announce_page_changed(&key);
            }
            reply(outcome)
        }
        Ok(Request::Panel(PanelRequest::Library {})) => reply(library().await),
        Ok(Request::Panel(request)) => reply(panel_request(request).await),
    }
}

async fn page_request(page_url: &str, request: PageRequest) -> Outcome<PageReply> {
    let store = store().await?;
    let settings = settings(&store).await?;
    let key = cairn_sync::page_key_for(page_url, request.canonical())
        .map_err(|e| Failure::new("bad_sender_url", e.to_string()))?;
    // The content script only runs on allowed sites, but a forged message could
    // come from anywhere: check again here.
    let origin = PageKey::from_url(page_url).map(|k| k.origin()).unwrap_or_default();
    if !settings.allowed_sites.contains(&origin) {
        return Err(Failure::new(
            "site_not_allowed",
            format!("Cairn is off on {origin}; open Cairn's toolbar popup and choose Allow on this site"),
        ));
    }
    let signed_in = settings.token.is_some();
    match request {
        PageRequest::PageStatus { .. } => {
            ensure_live(&settings);
            let records = refresh_shared(&store, &settings, &key, page_url).await?;
            let trail = settings.trail_sites.contains(&origin);
            Ok(PageReply::Status { count: cairn_sync::highlight_count(&records), trail })
        }
        PageRequest::TrailVisit { title, opened, active_ms, scrolled_percent, .. } => {
            // Kept only where the user turned the trail on; never queued for the server.
            let kept = settings.trail_sites.contains(&origin);
            if kept {
                let visit = cairn_library::trail::Visit {
                    page_key: key.as_str().to_string(),
                    url: page_url.to_string(),
                    title,
                    at_ms: now_ms(),
                    opened,
                    active_ms,
                    scrolled_percent,
                };
                store.record_visit(&visit).await?;
            }
            Ok(PageReply::TrailNoted { kept })
        }
        PageRequest::AnchorAll { text, .. } => {
            let records = store.page_records(key.as_str()).await?;
            let index = TextIndex::new(&text);
            let mut highlights = Vec::new();
            let mut orphans = 0;
            let mut changed = Vec::new();
            // Replies and notes on the whole page have no place in the text to find.
            let placed_in_text = |r: &&LocalRecord| !r.annotation.is_clip() && !r.annotation.target.selector.is_empty();
            for r in records.iter().filter(placed_in_text) {
                let anchor = cairn_anchor::resolve(&index, &r.annotation.target.selector);
                if let Some(a) = anchor {
                    highlights.push(placed(&settings, &index, r, a.start, a.end));
                } else {
                    orphans += 1;
                }
                // Remember orphans so the popup can list them and offer to re-attach.
                if r.orphan != anchor.is_none() {
                    let mut r = r.clone();
                    r.orphan = anchor.is_none();
                    changed.push(r);
                }
            }
            if !changed.is_empty() {
                store.apply(Change { put: changed, ..Change::default() }).await?;
            }
            Ok(PageReply::Anchored { highlights, orphans })
        }
        PageRequest::CreateHighlight { text, start, end, title: _, color, note, .. } => {
            let index = TextIndex::new(&text);
            let (start, end) = (index.utf16_to_char(start as usize), index.utf16_to_char(end as usize));
            let selectors = cairn_anchor::describe(&index, start, end)
                .ok_or_else(|| Failure::new("empty_selection", "the selection holds no text of the page"))?;
            let now = now_ms();
            let mut annotation = Annotation::new_highlight(
                AnnotationId::new_v7(now as u64, random_bytes()),
                page_url,
                selectors,
                color.unwrap_or_default(),
                now,
            );
            if let Some(note) = note {
                annotation.set_note(&note);
            }
            annotation.validate().map_err(|e| Failure::new("invalid_annotation", e.to_string()))?;
            let record = LocalRecord::own(annotation, &key, now, settings.community.as_deref(), signed_in);
            let highlight = placed(&settings, &index, &record, start, end);
            save_own(&store, record).await?;
            Ok(PageReply::Created { highlight })
        }
        PageRequest::EditHighlight { id, note, color, .. } => {
            let mut record = own_record_on_page(&store, &id, &key).await?;
            record.edit(note.as_deref(), color, now_ms(), signed_in);
            record.annotation.validate().map_err(|e| Failure::new("invalid_annotation", e.to_string()))?;
            let reply = edited(&record);
            save_own(&store, record).await?;
            Ok(reply)
        }
        PageRequest::DeleteHighlight { id, .. } => {
            let record = own_record_on_page(&store, &id, &key).await?;
            delete_own(&store, record).await?;
            Ok(PageReply::Deleted { id })
        }
        PageRequest::RestoreHighlight { id, .. } => {
            // Only the user's own highlight deleted from this very page.
            let held = settings.held_deletes.iter().find(|h| h.record.id == id).map(|h| &h.record);
            if !held.is_some_and(|r| cairn_sync::editable_from_page(r, &key)) {
                return Err(Failure::new("not_found", "there is no deleted highlight of yours on this page to undo"));
            }
            restore_own(&store, &id).await?;
            // The page anchors it again like any other of its highlights.
            Ok(PageReply::Restored { highlight: None })
        }
        PageRequest::OpenPanel { focus, .. } => {
            if let Some(id) = focus {
                // Only the user's own highlight on this very page.
                let record = store.record(&id).await?;
                if !record.is_some_and(|r| cairn_sync::editable_from_page(&r, &key)) {
                    return Err(Failure::new("not_found", "there is no highlight of yours with that id on this page"));
                }
                PANEL_FOCUS.with(|f| *f.borrow_mut() = Some((id.clone(), js_sys::Date::now())));
                // A panel already open opens the editor now; one still opening
                // finds it with its first listing.
                chrome::broadcast(&crate::to_js(&Broadcast::WriteNote { page_key: key.to_string(), id }));
            }
            Ok(PageReply::PanelOpening {})
        }
        PageRequest::Clip { clip, html, quote, text, start, end, title, note, tags, .. } => {
            let now = now_ms();
            let context = cairn_clip::ClipContext {
                clipped_at: cairn_model::format_rfc3339_ms(now),
                note: note.clone(),
                tags: tags.clone(),
                communities: settings.community.iter().cloned().collect(),
            };
            let page = cairn_clip::PageRef { url: page_url.to_string(), title };
            let fail = |e: cairn_clip::ClipError| Failure::new("clip_failed", e.to_string());
            let (made, selectors) = match clip {
                ClipKind::UrlOnly => (cairn_clip::clip_url_only(&page, &context).map_err(fail)?, Vec::new()),
                ClipKind::Article => {
                    let html = html.unwrap_or_default();
                    (cairn_clip::clip_article(&html, page_url, &context).map_err(fail)?, Vec::new())
                }
                ClipKind::Selection => {
                    let (text, start, end) = (text.unwrap_or_default(), start.unwrap_or(0), end.unwrap_or(0));
                    let index = TextIndex::new(&text);
                    let (start, end) = (index.utf16_to_char(start as usize), index.utf16_to_char(end as usize));
                    let selectors = cairn_anchor::describe(&index, start, end)
                        .ok_or_else(|| Failure::new("empty_selection", "the selection holds no text of the page"))?;
                    let made = cairn_clip::clip_selection(
                        &html.unwrap_or_default(),
                        &quote.unwrap_or_default(),
                        &page,
                        &context,
                    )
                    .map_err(fail)?;
                    (made, selectors)
                }
            };
            let mut annotation = Annotation::new_clip(
                AnnotationId::new_v7(now as u64, random_bytes()),
                clip,
                page_url,
                selectors,
                &made.markdown,
                now,
            );
            if let Some(note) = &note {
                annotation.set_note(note);
            }
            annotation.set_tags(tags.iter().map(String::as_str));
            annotation.validate().map_err(|e| Failure::new("invalid_clip", e.to_string()))?;
            let record = LocalRecord::own(annotation, &key, now, settings.community.as_deref(), signed_in);
            let summary = cairn_sync::page_clips(std::slice::from_ref(&record)).pop();
            save_own(&store, record).await?;
            Ok(PageReply::Clipped { clip: summary.ok_or_else(|| Failure::new("internal", "the clip was not listed"))? })
        }
        PageRequest::ReattachHighlight { id, text, start, end, .. } => {
            let mut record = own_record_on_page(&store, &id, &key).await?;
            let index = TextIndex::new(&text);
            let (start, end) = (index.utf16_to_char(start as usize), index.utf16_to_char(end as usize));
            let selectors = cairn_anchor::describe(&index, start, end)
                .ok_or_else(|| Failure::new("empty_selection", "the selection holds no text of the page"))?;
            record.reattach(selectors, now_ms(), signed_in);
            let highlight = placed(&settings, &index, &record, start, end);
            save_own(&store, record).await?;
            Ok(PageReply::Reattached { highlight })
        }
    }
}

async fn own_record_on_page(store: &Store, id: &str, key: &PageKey) -> Outcome<LocalRecord> {
    let record = store.record(id).await?.ok_or_else(|| Failure::new("not_found", "that highlight is gone"))?;
    if !cairn_sync::editable_from_page(&record, key) {
        return Err(Failure::new("forbidden", "a page may change only your own highlights on that page"));
    }
    Ok(record)
}

fn edited(r: &LocalRecord) -> PageReply {
    PageReply::Edited {
        id: r.id.clone(),
        color: r.annotation.color(),
        note: r.annotation.note().map(str::to_string),
        note_html: r.annotation.note().map(cairn_note::render_note),
    }
}

/// The names of the communities a record is shared with, as the user knows them.
fn audience_names(settings: &Settings, slugs: &[String]) -> Vec<String> {
    slugs
        .iter()
        .map(|slug| {
            settings.communities.iter().find(|c| &c.id == slug).map_or_else(|| slug.clone(), |c| c.name.clone())
        })
        .collect()
}

fn placed(settings: &Settings, index: &TextIndex<'_>, r: &LocalRecord, start: usize, end: usize) -> PlacedHighlight {
    PlacedHighlight {
        id: r.id.clone(),
        start: index.char_to_utf16(start) as u32,
        end: index.char_to_utf16(end) as u32,
        color: r.annotation.color(),
        note: r.annotation.note().map(str::to_string),
        // Rendered here, never taken from the server's note_html: the extension
        // trusts only HTML it made itself.
        note_html: r.annotation.note().map(cairn_note::render_note),
        teammate: r.teammate.clone(),
        audience: audience_names(settings, &r.communities),
        created: cairn_model::format_rfc3339_ms(r.created_ms),
        teammate_color: r.teammate.as_deref().map(messages::teammate_color),
    }
}

/// Deletes one of the user's records: it leaves every list at once, and the
/// delete is queued for the server only when the undo window has passed
/// (`cairn_sync::trash`), so an undo never reaches teammates.
async fn delete_own(store: &Store, record: LocalRecord) -> Outcome<()> {
    let now = now_ms();
    store
        .update(|s| {
            let delete = vec![record.id.clone()];
            cairn_sync::trash::hold(&mut s.held_deletes, record, now, messages::UNDO_WINDOW_MS);
            Some((Change { delete, ..Change::default() }, ()))
        })
        .await?;
    wasm_bindgen_futures::spawn_local(async {
        // A worker stopped before this runs loses nothing: the next push settles what is due.
        chrome::sleep(messages::UNDO_WINDOW_MS as i32 + 50).await;
        let _ = push_now(true).await;
    });
    Ok(())
}

/// Puts a deleted record back if its undo window is still open.
async fn restore_own(store: &Store, id: &str) -> Outcome<LocalRecord> {
    let now = now_ms();
    let restored = store
        .update(|s| {
            let record = cairn_sync::trash::restore(&mut s.held_deletes, id, now)?;
            Some((Change { put: vec![record.clone()], ..Change::default() }, record))
        })
        .await?;
    restored.ok_or_else(|| Failure::new("too_late", "it is too late to undo: the delete was already sent"))
}

/// Queues the deletes whose undo window has passed, in one transaction.
async fn settle_held_deletes(store: &Store) -> Outcome<()> {
    let now = now_ms();
    if cairn_sync::trash::next_due(&settings(store).await?.held_deletes).is_none_or(|due| now < due) {
        return Ok(());
    }
    store
        .update(|s| {
            let enqueue = cairn_sync::queue::due_deletes(&mut s.held_deletes, now);
            Some((Change { enqueue, ..Change::default() }, ()))
        })
        .await?;
    Ok(())
}

/// Everything kept in this browser, for the Library page (an extension page only:
/// `messages::authorize` gives the panel channel to nobody else).
async fn library() -> Outcome<cairn_library::LibraryListing> {
    let store = store().await?;
    let settings = settings(&store).await?;
    let mut trail = store.trail().await?;
    // The retention period is applied when the trail is read: nothing older is shown or kept.
    let expired = cairn_library::trail::expired(&trail, now_ms(), settings.trail_retention_days);
    if !expired.is_empty() {
        store.delete_trail(&expired).await?;
        trail.retain(|e| !expired.contains(&e.page_key));
    }
    Ok(cairn_library::LibraryListing {
        records: store.all_records().await?,
        trail,
        trail_sites: settings.trail_sites.clone(),
        trail_retention_days: settings.trail_retention_days,
        review: store.review_states().await?,
    })
}

/// Imports a file into this browser's records in one transaction: what is the
/// user's goes to the server like anything made here (with the audience the file
/// gave it, private when none), nothing already kept is imported twice, and
/// nothing is stored when the file cannot be read at all.
async fn import_file(store: &Store, settings: &Settings, file_name: &str, text: &str) -> Outcome<PanelReply> {
    if text.len() > messages::MAX_IMPORT_BYTES {
        return Err(Failure::new(
            "too_large",
            format!(
                "{file_name} is {} MB; Cairn imports files of up to {} MB at once: split it and import each part",
                text.len() / 1_000_000,
                messages::MAX_IMPORT_BYTES / 1_000_000
            ),
        ));
    }
    let existing_ids = store.all_records().await?.into_iter().map(|r| r.id).collect();
    let options = cairn_library::import::ImportOptions {
        now_ms: now_ms(),
        seed: u64::from_le_bytes(random_bytes::<8>()),
        existing_ids,
    };
    let import = cairn_library::import::import(text.as_bytes(), &options)
        .map_err(|e| Failure::new("unreadable_file", format!("{file_name}: {e}")))?;
    let report = import.report;
    let mut records = import.records;
    let signed_in = settings.token.is_some();
    store
        .update(|s| {
            let mut enqueue = Vec::new();
            for r in records.iter_mut().filter(|r| r.is_own()) {
                enqueue.extend(cairn_sync::queue::own(r, s.token.is_some()));
            }
            Some((Change { put: records, enqueue, ..Change::default() }, ()))
        })
        .await?;
    if signed_in {
        wasm_bindgen_futures::spawn_local(async {
            let _ = push_now(true).await;
        });
    }
    let skipped = report
        .skipped
        .iter()
        .map(|s| match &s.id {
            Some(id) => format!("item {} ({id}): {}", s.index + 1, s.reason),
            None => format!("item {}: {}", s.index + 1, s.reason),
        })
        .collect();
    let format = match report.format {
        cairn_library::import::Format::Hypothesis => "a Hypothesis export",
        cairn_library::import::Format::W3c => "W3C annotations",
        cairn_library::import::Format::CairnRecords => "a Cairn export",
    };
    Ok(PanelReply::Imported { format: format.into(), imported: report.imported as u32, skipped })
}

/// One of the user's own records, for a change only its author may make.
async fn own_record(store: &Store, id: &str) -> Outcome<LocalRecord> {
    let record = store.record(id).await?.ok_or_else(|| Failure::new("not_found", "that highlight is gone"))?;
    if !record.is_own() {
        return Err(Failure::new("forbidden", "only its author can change a highlight"));
    }
    Ok(record)
}

/// Saves an edit made from an extension page, after checking the annotation is
/// still within the model's limits, and repaints the tabs showing its page.
async fn save_edited(store: &Store, record: LocalRecord) -> Outcome<PanelReply> {
    record.annotation.validate().map_err(|e| Failure::new("invalid_annotation", e.to_string()))?;
    let key = PageKey::from_url(&record.annotation.target.source).ok();
    save_own(store, record).await?;
    if let Some(key) = key {
        tell_tabs(&key, TabCommand::Refresh {}).await;
    }
    Ok(PanelReply::Done)
}

/// Stores one of the user's records and, when signed in, queues it for the
/// server, in one transaction; then tries to push. Whether it is queued is decided
/// with the settings read in that transaction (`cairn_sync::queue::own`), so a
/// record made while a sign-in was finishing is not left on this device.
async fn save_own(store: &Store, mut record: LocalRecord) -> Outcome<()> {
    store
        .update(|s| {
            let enqueue = cairn_sync::queue::own(&mut record, s.token.is_some());
            Some((Change { put: vec![record], enqueue: enqueue.into_iter().collect(), ..Change::default() }, ()))
        })
        .await?;
    wasm_bindgen_futures::spawn_local(async {
        let _ = push_now(true).await;
    });
    Ok(())
}

/// Fetches what the user may see on this page from the server, keeps a copy (so
/// teammates' highlights show offline too), and returns the page's records.
/// Only what changed is written (`cairn_sync::merge_page`). A failed fetch is
/// remembered, not raised: the page still shows what this device has.
async fn refresh_shared(
    store: &Store,
    settings: &Settings,
    key: &PageKey,
    page_url: &str,
) -> Outcome<Vec<LocalRecord>> {
    Ok(refresh_page(store, settings, key, page_url).await?.0)
}

/// [`refresh_shared`], also saying whether anything of the page changed here.
async fn refresh_page(
    store: &Store,
    settings: &Settings,
    key: &PageKey,
    page_url: &str,
) -> Outcome<(Vec<LocalRecord>, bool)> {
    let (Some(base), Some(token), Some(user)) = (&settings.server_url, &settings.token, &settings.user) else {
        return Ok((store.page_records(key.as_str()).await?, false));
    };
    let server = Server { base_url: base, token: Some(token) };
    let path = format!("/v1/annotations?url={}", String::from(js_sys::encode_uri_component(page_url)));
    // Read before and after the fetch: a delete the server applies while the page
    // is fetched, or one the user makes meanwhile, must not bring the highlight back.
    let mut unsent = unsent_deletes(store).await?;
    let fetched: Result<PageAnnotationsResponse, NetError> = server.get(&path, Some(4_000)).await;
    let local = store.page_records(key.as_str()).await?;
    match fetched {
        Ok(listing) => {
            unsent.extend(unsent_deletes(store).await?);
            let merge = cairn_sync::merge_page(&user.id, key.as_str(), local, listing.annotations, &unsent);
            let changed = !merge.put.is_empty() || !merge.delete.is_empty();
            if changed {
                announce_page_changed(key);
            }
            let now = now_ms();
            let saved = store
                .update(|s| {
                    s.last_error = None;
                    s.last_sync_ms = Some(now);
                    Some((Change { put: merge.put, delete: merge.delete, ..Change::default() }, ()))
                })
                .await;
            match saved {
                Ok(_) => Ok((merge.page, changed)),
                // Not saved (a full disk, say): show what the device has, as before the fetch.
                Err(_) => Ok((store.page_records(key.as_str()).await?, false)),
            }
        }
        Err(e) => {
            let _ = store
                .update(|s| {
                    s.last_error = Some(e.to_string());
                    Some((Change::default(), ()))
                })
                .await;
            Ok((local, false))
        }
    }
}

/// Opens the server's live stream (`GET /v1/events`) unless it is open: called
/// whenever an allowed page or the side panel lists a page, so that a
/// teammate's change appears there without a reload. The service worker may be
/// stopped when idle, which ends the stream; the next page or panel opens it
/// again, and every page is fetched whole when it loads, so nothing is missed.
fn ensure_live(settings: &Settings) {
    if settings.token.is_none() || settings.server_url.is_none() || LIVE.with(|l| l.replace(true)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async {
        follow_live().await;
        LIVE.with(|l| l.set(false));
    });
}

async fn follow_live() {
    let mut failures: u32 = 0;
    loop {
        let Ok(store) = store().await else { return };
        let Ok(settings) = settings(&store).await else { return };
        let (Some(base), Some(token)) = (settings.server_url.clone(), settings.token.clone()) else { return };
        let server = Server { base_url: &base, token: Some(&token) };
        let ended = server
            .follow("/v1/events", |event| {
                // `change`: a community's feed (or the user's own) moved; `resync`: the
                // server dropped events for this stream. Either way: look again.
                if event.name == "change" || event.name == "resync" {
                    schedule_live_refresh();
                }
            })
            .await;
        failures = match ended {
            // Signed out, or the token was revoked: nothing to follow.
            Err(NetError::Unauthorized(_)) => return,
            Ok(()) => 0,
            Err(_) => failures + 1,
        };
        if failures > 6 || !allowed_tab_open(&settings).await {
            return;
        }
        chrome::sleep(1_000 * (1 << failures.min(5))).await;
        // What happened while the stream was down.
        schedule_live_refresh();
    }
}

async fn allowed_tab_open(settings: &Settings) -> bool {
    chrome::visible_tabs()
        .await
        .iter()
        .any(|(_, url)| PageKey::from_url(url).is_ok_and(|k| settings.allowed_sites.contains(&k.origin())))
}

/// Refreshes every open allowed page shortly after a live event (events come in
/// bursts: one refresh for a burst).
fn schedule_live_refresh() {
    if LIVE_REFRESH.with(|f| f.replace(true)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async {
        chrome::sleep(150).await;
        LIVE_REFRESH.with(|f| f.set(false));
        let _ = refresh_open_pages().await;
    });
}

/// Fetches the pages open in tabs on allowed sites; where something changed, the
/// tabs repaint and the side panel lists the page again.
async fn refresh_open_pages() -> Outcome<()> {
    let store = store().await?;
    let settings = settings(&store).await?;
    let mut seen = std::collections::HashSet::new();
    for (_, url) in chrome::visible_tabs().await {
        let Ok(key) = PageKey::from_url(&url) else { continue };
        if !settings.allowed_sites.contains(&key.origin()) || !seen.insert(key.to_string()) {
            continue;
        }
        if refresh_page(&store, &settings, &key, &url).await?.1 {
            tell_tabs(&key, TabCommand::Refresh {}).await;
        }
    }
    Ok(())
}

/// The user's deletes the server may still list (held for undo, or queued).
async fn unsent_deletes(store: &Store) -> Outcome<std::collections::HashSet<String>> {
    let held = store.settings().await?.map(|s| s.held_deletes).unwrap_or_default();
    Ok(cairn_sync::unsent_deletes(&held, &store.outbox().await?))
}

/// Pushes the outbox in batches until it is empty or the server cannot take more.
/// `force` ignores the backoff (user asked, or the browser came back online).
async fn push_now(force: bool) -> Outcome<()> {
    if PUSHING.with(|p| p.replace(true)) {
        return Ok(());
    }
    let result = push_loop(force).await;
    PUSHING.with(|p| p.set(false));
    result
}

async fn push_loop(force: bool) -> Outcome<()> {
    let store = store().await?;
    settle_held_deletes(&store).await?;
    loop {
        let settings = settings(&store).await?;
        let (Some(base), Some(token)) = (settings.server_url.clone(), settings.token.clone()) else {
            return Ok(());
        };
        if !force && now_ms() < settings.next_attempt_ms {
            return Ok(());
        }
        let batch = cairn_sync::next_batch(&store.outbox().await?, MAX_PUSH_MUTATIONS, MAX_PUSH_BYTES);
        if batch.is_empty() {
            return Ok(());
        }
        let server = Server { base_url: &base, token: Some(&token) };
        let push = PushRequest { device_id: settings.device_id.clone(), mutations: batch.clone() };
        let answer: Result<PushResponse, NetError> = server.post("/v1/sync/push", &push).await;
        match answer {
            Ok(answer) => {
                let settled = cairn_sync::settle(&batch, &answer.results)
                    .map_err(|e| Failure::new("bad_answer", e.to_string()))?;
                // The records are read in the transaction that marks them: one
                // edited or deleted while the push was out keeps that change.
                let mut set_sync: Vec<(String, SyncState)> =
                    settled.synced.into_iter().map(|id| (id, SyncState::Synced)).collect();
                set_sync.extend(settled.rejected.into_iter().map(|(id, reason)| (id, SyncState::Rejected { reason })));
                let change = Change { acknowledge: settled.acknowledged, set_sync, ..Change::default() };
                let now = now_ms();
                store
                    .update(|s| {
                        s.last_error = None;
                        s.last_sync_ms = Some(now);
                        s.push_failures = 0;
                        s.next_attempt_ms = 0;
                        Some((change, ()))
                    })
                    .await?;
            }
            Err(e) => {
                let random = f64::from(u32::from_le_bytes(random_bytes())) / f64::from(u32::MAX);
                let now = now_ms();
                store
                    .update(|s| {
                        s.next_attempt_ms = now + cairn_sync::backoff_ms(s.push_failures, random) as i64;
                        s.push_failures = s.push_failures.saturating_add(1);
                        s.last_error = Some(e.to_string());
                        Some((Change::default(), ()))
                    })
                    .await?;
                return Err(e.into());
            }
        }
    }
}

async fn panel_request(request: PanelRequest) -> Outcome<PanelReply> {
    let store = store().await?;
    let settings = settings(&store).await?;
    match request {
        PanelRequest::Status {} => Ok(PanelReply::Status(status(&store, &settings).await?)),
        PanelRequest::Import { file_name, text } => import_file(&store, &settings, &file_name, &text).await,
        // Answered by `library()` before this match, with its own reply type.
        PanelRequest::Library {} => Err(Failure::new("internal", "the Library listing has its own reply")),
        PanelRequest::ListPage { url } => {
            let key = PageKey::from_url(&url).map_err(|e| Failure::new("bad_url", e.to_string()))?;
            // Only an allowed site's URL may leave the browser.
            let records = if settings.allowed_sites.contains(&key.origin()) {
                ensure_live(&settings);
                refresh_shared(&store, &settings, &key, &url).await?
            } else {
                store.page_records(key.as_str()).await?
            };
            let mut highlights = cairn_sync::page_summaries(&records);
            for h in &mut highlights {
                // Rendered here, like the page's popover: the UI shows only HTML the background made.
                h.note_html = h.note.as_deref().map(cairn_note::render_note);
                h.audience = audience_names(&settings, &h.audience);
                for r in &mut h.replies {
                    r.note_html = Some(cairn_note::render_note(&r.note));
                }
            }
            let mut clips = cairn_sync::page_clips(&records);
            for c in &mut clips {
                c.audience = audience_names(&settings, &c.audience);
            }
            cairn_sync::agree_with_outbox(&mut highlights, &mut clips, &store.outbox().await?);
            let focus = PANEL_FOCUS.with(|f| {
                let mut f = f.borrow_mut();
                if f.as_ref().is_some_and(|(_, at)| js_sys::Date::now() - at > PANEL_FOCUS_MS) {
                    *f = None; // nobody listed its page in time: not for a later visit
                }
                let here = f.as_ref().is_some_and(|(id, _)| highlights.iter().any(|h| &h.id == id));
                if here {
                    f.take().map(|(id, _)| id)
                } else {
                    None
                }
            });
            Ok(PanelReply::Page { page_key: key.to_string(), highlights, clips, focus })
        }
        PanelRequest::SignIn { server_url, username, password } => {
            let base = server_base(&server_url)?;
            let anon = Server { base_url: &base, token: None };
            let signed: SignInResponse =
                anon.post("/v1/session", &SignInRequest { username, password }).await.map_err(|e| match e {
                    NetError::Unauthorized(_) => Failure::new(
                        "wrong_password",
                        "That username and password do not match an account on this server; check both and try again",
                    ),
                    e => e.into(),
                })?;
            connect(&store, base, signed.token).await
        }
        PanelRequest::Connect { server_url, token } => {
            let base = server_base(&server_url)?;
            connect(&store, base, token.trim().to_string()).await
        }
        PanelRequest::ChangePassword { current_password, new_password } => {
            let (Some(base), Some(token)) = (settings.server_url.as_deref(), settings.token.as_deref()) else {
                return Err(Failure::new("not_signed_in", "sign in first, then change your password"));
            };
            let server = Server { base_url: base, token: Some(token) };
            let request = ChangePasswordRequest { current_password, new_password, sign_out_elsewhere: true };
            let _: ChangePasswordResponse = server.put("/v1/me/password", &request).await?;
            Ok(PanelReply::Status(status(&store, &settings).await?))
        }
        PanelRequest::SignOut {} => {
            // Send what is queued while the token still works, then revoke the token
            // on the server so that it is worth nothing if it leaked from this
            // profile. Both are best effort: signing out never waits on a server
            // that is down (the token then stays valid until it expires).
            let _ = push_now(true).await;
            if let (Some(base), Some(token)) = (&settings.server_url, &settings.token) {
                let _ = Server { base_url: base, token: Some(token) }.delete("/v1/session").await;
            }
            // Only the account's fields: the device id, the sequence numbers and
            // what is queued or held stay.
            let settings = store
                .update(|s| {
                    s.token = None;
                    s.user = None;
                    s.communities.clear();
                    s.community = None;
                    s.last_error = None;
                    Some((Change::default(), s.clone()))
                })
                .await?
                .unwrap_or(settings);
            Ok(PanelReply::Status(status(&store, &settings).await?))
        }
        PanelRequest::ChooseCommunity { community } => {
            // Checked against the communities as stored when the choice is saved.
            let chosen = store
                .update(|s| {
                    if community.as_ref().is_some_and(|c| !s.communities.iter().any(|m| &m.id == c)) {
                        return None;
                    }
                    s.community = community.clone();
                    Some((Change::default(), s.clone()))
                })
                .await?;
            let Some(settings) = chosen else {
                let c = community.unwrap_or_default();
                return Err(Failure::new(
                    "not_a_member",
                    format!("you are not a member of {c:?}; pick one of your communities"),
                ));
            };
            Ok(PanelReply::Status(status(&store, &settings).await?))
        }
        PanelRequest::SyncNow {} => {
            // The outcome is in the status (last_error); the popup shows it.
            let _ = push_now(true).await;
            let settings = self::settings(&store).await?;
            Ok(PanelReply::Status(status(&store, &settings).await?))
        }
        PanelRequest::DeleteHighlight { id } => {
            let record =
                store.record(&id).await?.ok_or_else(|| Failure::new("not_found", "that highlight is already gone"))?;
            if !record.is_own() {
                return Err(Failure::new("forbidden", "only the author can delete a highlight"));
            }
            let key = PageKey::from_url(&record.annotation.target.source).ok();
            delete_own(&store, record).await?;
            if let Some(key) = key {
                tell_tabs(&key, TabCommand::Refresh {}).await;
            }
            Ok(PanelReply::Done)
        }
        PanelRequest::RestoreDeleted { id } => {
            let record = restore_own(&store, &id).await?;
            if let Ok(key) = PageKey::from_url(&record.annotation.target.source) {
                tell_tabs(&key, TabCommand::Refresh {}).await;
            }
            Ok(PanelReply::Done)
        }
        PanelRequest::EditHighlight { id, note, color, tags } => {
            let mut record = own_record(&store, &id).await?;
            let signed_in = settings.token.is_some();
            record.edit(note.as_deref(), color, now_ms(), signed_in);
            if let Some(tags) = tags {
                record.set_tags(&tags, now_ms(), signed_in);
            }
            save_edited(&store, record).await
        }
        PanelRequest::Reply { parent, note } => {
            let parent =
                store
                    .record(&parent)
                    .await?
                    .filter(|p| !p.annotation.is_reply() && !p.annotation.is_clip())
                    .ok_or_else(|| Failure::new("not_found", "that highlight is gone, so it cannot be replied to"))?;
            if parent.teammate.is_none() && parent.communities.is_empty() {
                return Err(Failure::new(
                    "private_parent",
                    "only you see this highlight: share it with a community first, then your teammates can discuss it",
                ));
            }
            let now = now_ms();
            let parent_id: AnnotationId = parent.id.parse().map_err(|_| {
                Failure::new("not_found", "that highlight cannot be replied to (its id is not Cairn's)")
            })?;
            let reply = Annotation::new_reply(AnnotationId::new_v7(now as u64, random_bytes()), parent_id, &note, now);
            reply.validate().map_err(|e| Failure::new("invalid_annotation", e.to_string()))?;
            let key = PageKey::from_url(&parent.annotation.target.source)
                .map_err(|e| Failure::new("bad_url", e.to_string()))?;
            // Shared as its parent is: the server sets the audience from the parent.
            let mut record = LocalRecord::own(reply, &key, now, None, settings.token.is_some());
            record.page_key = parent.page_key.clone();
            record.communities = parent.communities.clone();
            save_own(&store, record).await?;
            chrome::broadcast(&crate::to_js(&Broadcast::PageChanged { page_key: parent.page_key }));
            Ok(PanelReply::Done)
        }
        PanelRequest::ShareItem { id, communities } => {
            if let Some(c) = communities.iter().find(|c| !settings.communities.iter().any(|m| &m.id == *c)) {
                return Err(Failure::new(
                    "not_a_member",
                    format!("you are not a member of {c:?}; pick one of your communities"),
                ));
            }
            let mut record = own_record(&store, &id).await?;
            record.share_with(communities, now_ms(), settings.token.is_some());
            save_edited(&store, record).await
        }
        PanelRequest::RevealHighlight { id, page_url } => {
            let key = PageKey::from_url(&page_url).map_err(|e| Failure::new("bad_url", e.to_string()))?;
            if tell_tabs(&key, TabCommand::Reveal { id }).await == 0 {
                return Err(Failure::new("no_tab", "open the page in a tab to see the highlight there"));
            }
            Ok(PanelReply::Done)
        }
        PanelRequest::ClipPage { page_url, clip, note, tags } => {
            let key = PageKey::from_url(&page_url).map_err(|e| Failure::new("bad_url", e.to_string()))?;
            if !settings.allowed_sites.contains(&key.origin()) {
                return Err(Failure::new(
                    "site_not_allowed",
                    format!("Cairn is off on {}; allow the site first", key.origin()),
                ));
            }
            // The page's content script reads what this kind of clip needs and
            // answers with the outcome; the first tab showing the page does it.
            let message = crate::to_js(&TabCommand::Clip { clip, note, tags, announce: false });
            for (tab, url) in chrome::visible_tabs().await {
                if PageKey::from_url(&url).is_ok_and(|k| k == key) {
                    let answer = chrome::send_to_tab(tab, &message).await.map_err(|e| {
                        Failure::new("no_tab", format!("the page did not answer ({e}); reload it and try again"))
                    })?;
                    return match js_string(&answer, "error") {
                        Some(e) => Err(Failure::new("clip_failed", e)),
                        None => Ok(PanelReply::Done),
                    };
                }
            }
            Err(Failure::new("no_tab", "open the page in a tab to clip it"))
        }
        PanelRequest::ReattachOrphan { id, page_url } => {
            let key = PageKey::from_url(&page_url).map_err(|e| Failure::new("bad_url", e.to_string()))?;
            if tell_tabs(&key, TabCommand::Reattach { id }).await == 0 {
                return Err(Failure::new("no_tab", "open the page, select the new text, then choose Re-attach again"));
            }
            Ok(PanelReply::Done)
        }
        PanelRequest::AllowSite { origin } => {
            let origin = site_origin(&origin)?;
            if !chrome::has_host_permission(&origin).await {
                return Err(Failure::new(
                    "no_permission",
                    format!("the browser has not given Cairn access to {origin}; accept the permission prompt and try again"),
                ));
            }
            let reply = apply_sites(&store, |sites| {
                if !sites.contains(&origin) {
                    sites.push(origin.clone());
                    sites.sort();
                }
            })
            .await?;
            // Tabs already open on the site start Cairn now, without a reload.
            for (tab, url) in chrome::visible_tabs().await {
                if PageKey::from_url(&url).is_ok_and(|k| k.origin() == origin) {
                    let _ = chrome::start_in_tab(tab).await;
                    let _ = chrome::mark_tab(tab, "", "Cairn").await;
                }
            }
            Ok(reply)
        }
        PanelRequest::DisallowSite { origin } => {
            let origin = site_origin(&origin)?;
            apply_sites(&store, |sites| sites.retain(|o| o != &origin)).await
        }
        PanelRequest::CreateCommunity { .. }
        | PanelRequest::JoinCommunity { .. }
        | PanelRequest::LeaveCommunity { .. }
        | PanelRequest::Community { .. }
        | PanelRequest::Invite { .. }
        | PanelRequest::RevokeInvite { .. }
        | PanelRequest::SetMemberRole { .. }
        | PanelRequest::RemoveMember { .. } => community_request(&store, &settings, request).await,
        PanelRequest::SetTrailSite { origin, on } => {
            let origin = site_origin(&origin)?;
            if on && !settings.allowed_sites.contains(&origin) {
                return Err(Failure::new(
                    "site_not_allowed",
                    format!("Cairn is off on {origin}; allow the site first, then turn its reading trail on"),
                ));
            }
            store
                .update(|s| {
                    s.trail_sites.retain(|o| o != &origin);
                    if on {
                        s.trail_sites.push(origin.clone());
                        s.trail_sites.sort();
                    }
                    Some((Change::default(), ()))
                })
                .await?;
            // Open tabs on the site start (or stop) reporting the visit now.
            tell_site_tabs(&origin).await;
            Ok(PanelReply::Done)
        }
        PanelRequest::SetTrailRetention { days } => {
            if !cairn_library::trail::RETENTION_CHOICES.contains(&days) {
                return Err(Failure::new(
                    "bad_retention",
                    format!("{days} days is not a retention period Cairn offers; choose 7, 30, 90 or 365 days, or 0 to keep the trail until cleared"),
                ));
            }
            store
                .update(|s| {
                    s.trail_retention_days = days;
                    Some((Change::default(), ()))
                })
                .await?;
            Ok(PanelReply::Done)
        }
        PanelRequest::DeleteTrailEntry { page_key } => {
            store.delete_trail(&[page_key]).await?;
            Ok(PanelReply::Done)
        }
        PanelRequest::ClearTrail {} => {
            store.clear_trail().await?;
            Ok(PanelReply::Done)
        }
        PanelRequest::AnswerReview { id, verdict } => {
            if store.record(&id).await?.is_none() {
                return Err(Failure::new("not_found", "that highlight is no longer kept here; reload the Library"));
            }
            let previous = store.review_state(&id).await?;
            let state = cairn_library::review::answer(previous.as_ref(), &id, verdict, chrome::local_day_start_ms());
            store.put_review_state(state).await?;
            Ok(PanelReply::Done)
        }
    }
}

/// A path segment as the server reads it, whatever the extension page sent.
fn segment(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// Communities: made, joined, left and managed on the server; the account's list of
/// communities is read again after anything that changes it.
async fn community_request(store: &Store, settings: &Settings, request: PanelRequest) -> Outcome<PanelReply> {
    let (Some(base), Some(token)) = (settings.server_url.as_deref(), settings.token.as_deref()) else {
        return Err(Failure::new("not_signed_in", "sign in to your Cairn server first, then manage communities"));
    };
    let server = Server { base_url: base, token: Some(token) };
    let me = settings.user.as_ref().map(|u| u.username.clone()).unwrap_or_default();
    match request {
        PanelRequest::CreateCommunity { name } => {
            let name = name.trim().to_string();
            if name.is_empty() {
                return Err(Failure::new("bad_name", "give the community a name, like Payments SRE"));
            }
            let base_slug = cairn_protocol::api::slug_for(&name);
            // A slug already taken gets a number: the name is what members see.
            let mut made = None;
            for n in 1..=5 {
                let slug = if n == 1 { base_slug.clone() } else { format!("{base_slug}-{n}") };
                let body = cairn_protocol::api::CreateCommunityRequest { slug, name: name.clone() };
                match server.post::<_, cairn_protocol::api::CommunityInfo>("/v1/communities", &body).await {
                    Ok(c) => {
                        made = Some(c);
                        break;
                    }
                    Err(NetError::Refused { status: 409, .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            if made.is_none() {
                return Err(Failure::new(
                    "name_taken",
                    format!("communities named like {name:?} already exist; choose another name"),
                ));
            }
            reload_communities(store, &server).await
        }
        PanelRequest::JoinCommunity { code } => {
            let code = code.trim().to_string();
            if code.is_empty() {
                return Err(Failure::new(
                    "bad_code",
                    "paste the invite code a community's owner or moderator gave you",
                ));
            }
            let _: cairn_protocol::api::CommunityInfo =
                server.post("/v1/join", &cairn_protocol::api::JoinRequest { code }).await?;
            reload_communities(store, &server).await
        }
        PanelRequest::LeaveCommunity { community } => {
            server.delete(&format!("/v1/communities/{}/members/{}", segment(&community), segment(&me))).await?;
            reload_communities(store, &server).await
        }
        PanelRequest::Community { community } => {
            let detail: cairn_protocol::api::CommunityDetail =
                server.get(&format!("/v1/communities/{}", segment(&community)), None).await?;
            let manages =
                detail.members.iter().any(|m| m.user.username == me && m.role != cairn_protocol::api::Role::Member);
            let invites = if manages {
                let listed: cairn_protocol::api::InvitesResponse =
                    server.get(&format!("/v1/communities/{}/invites", segment(&community)), None).await?;
                listed.invites
            } else {
                Vec::new()
            };
            Ok(PanelReply::Community { detail, invites })
        }
        PanelRequest::Invite { community, multi_use } => {
            let body = cairn_protocol::api::CreateInviteRequest { multi_use, expires_in_hours: None };
            let made: cairn_protocol::api::InviteResponse =
                server.post(&format!("/v1/communities/{}/invites", segment(&community)), &body).await?;
            Ok(PanelReply::Invited { code: made.code, expires_at: made.expires_at })
        }
        PanelRequest::RevokeInvite { community, id } => {
            server.delete(&format!("/v1/communities/{}/invites/{}", segment(&community), segment(&id))).await?;
            Ok(PanelReply::Done)
        }
        PanelRequest::SetMemberRole { community, username, role } => {
            let path = format!("/v1/communities/{}/members/{}", segment(&community), segment(&username));
            let () = server.put(&path, &cairn_protocol::api::SetRoleRequest { role }).await?;
            Ok(PanelReply::Done)
        }
        PanelRequest::RemoveMember { community, username } => {
            server.delete(&format!("/v1/communities/{}/members/{}", segment(&community), segment(&username))).await?;
            Ok(PanelReply::Done)
        }
        _ => Err(Failure::new("internal", "not a community request")),
    }
}

/// Reads the account's communities again and keeps them; a community left is no
/// longer where new highlights go.
async fn reload_communities(store: &Store, server: &Server<'_>) -> Outcome<PanelReply> {
    let me: MeResponse = server.get("/v1/me", None).await?;
    store
        .update(|s| {
            if s.community.as_ref().is_some_and(|c| !me.communities.iter().any(|m| &m.id == c)) {
                s.community = None;
            }
            s.communities = me.communities;
            Some((Change::default(), ()))
        })
        .await?;
    let settings = self::settings(store).await?;
    Ok(PanelReply::Status(status(store, &settings).await?))
}

/// Asks the open tabs of `origin` to look at their page again (the trail was turned on or off).
async fn tell_site_tabs(origin: &str) {
    for (tab, url) in chrome::visible_tabs().await {
        if PageKey::from_url(&url).is_ok_and(|k| k.origin() == origin) {
            let _ = chrome::send_to_tab(tab, &crate::to_js(&TabCommand::Refresh {})).await;
        }
    }
}

/// Changes the allowed sites (as stored now) and installs the hooks for them.
async fn apply_sites(store: &Store, edit: impl FnOnce(&mut Vec<String>)) -> Outcome<PanelReply> {
    let settings = store
        .update(|s| {
            edit(&mut s.allowed_sites);
            // The trail is recorded only where Cairn runs at all.
            let allowed = s.allowed_sites.clone();
            s.trail_sites.retain(|o| allowed.contains(o));
            Some((Change::default(), s.clone()))
        })
        .await?
        .ok_or_else(|| Failure::new("internal", "the allowed sites were not saved"))?;
    install_site_hooks(&settings).await?;
    Ok(PanelReply::Status(status(store, &settings).await?))
}

async fn install_site_hooks(settings: &Settings) -> Outcome<()> {
    chrome::register_content_script(&settings.allowed_sites)
        .await
        .map_err(|e| Failure::new("browser", format!("could not enable Cairn on the allowed sites: {e}")))?;
    chrome::install_context_menu(&settings.allowed_sites)
        .await
        .map_err(|e| Failure::new("browser", format!("could not add the context menu: {e}")))?;
    Ok(())
}

/// `https://Host:443/path` -> `https://host`: what an allow-list entry is.
fn site_origin(input: &str) -> Outcome<String> {
    let key = PageKey::from_url(input.trim())
        .map_err(|e| Failure::new("bad_site", format!("{e}; enter a site like https://wiki.example.com")))?;
    Ok(key.origin())
}

fn server_base(input: &str) -> Outcome<String> {
    let origin = site_origin(input).map_err(|f| Failure::new("bad_server_url", f.message))?;
    let trimmed = input.trim().trim_end_matches('/');
    // Keep a path prefix (servers behind a reverse proxy), drop query and fragment.
    let path = trimmed.strip_prefix(&origin).unwrap_or("").split(['?', '#']).next().unwrap_or("");
    Ok(format!("{origin}{path}"))
}

async fn connect(store: &Store, base: String, token: String) -> Outcome<PanelReply> {
    let server = Server { base_url: &base, token: Some(&token) };
    let me: MeResponse = server.get("/v1/me", None).await?;
    // The account's fields are set on the settings as stored now: the device id,
    // the sequence numbers and the held deletes stay as they are.
    store
        .update_with_local_only(|s, local_only| {
            if s.community.as_ref().is_none_or(|c| !me.communities.iter().any(|m| &m.id == c)) {
                s.community = me.communities.first().map(|c| c.id.clone());
            }
            s.server_url = Some(base);
            s.token = Some(token);
            s.user = Some(me.user);
            s.communities = me.communities;
            s.last_error = None;
            s.push_failures = 0;
            s.next_attempt_ms = 0;
            // Highlights made before signing in were kept on this device; queue them
            // now, in this same transaction, so nothing made offline or signed out
            // is left behind.
            let (put, enqueue) = cairn_sync::queue::adopt_local(local_only);
            Some((Change { put, enqueue, ..Change::default() }, ()))
        })
        .await?;
    let _ = push_now(true).await;
    let settings = self::settings(store).await?;
    Ok(PanelReply::Status(status(store, &settings).await?))
}

async fn status(store: &Store, s: &Settings) -> Outcome<StatusReport> {
    Ok(StatusReport {
        server_url: s.server_url.clone(),
        user: s.user.clone(),
        communities: s.communities.clone(),
        community: s.community.clone(),
        pending: store.outbox_len().await?,
        last_error: s.last_error.clone(),
        last_sync: s.last_sync_ms.map(cairn_model::format_rfc3339_ms),
        allowed_sites: s.allowed_sites.clone(),
    })
}

/// `chrome.runtime.onInstalled`: apply the preset (if the package has one) and
/// install the per-site hooks.
#[wasm_bindgen]
pub async fn on_installed() -> Result<(), JsValue> {
    let store = store().await.map_err(|f| JsValue::from_str(&f.message))?;
    let mut settings = settings(&store).await.map_err(|f| JsValue::from_str(&f.message))?;
    if let Some(preset) = read_preset().await {
        let sites: Vec<String> = preset.allowed_sites.iter().filter_map(|site| site_origin(site).ok()).collect();
        let server_url = preset.server_url.and_then(|u| server_base(&u).ok());
        let updated = store
            .update(|s| {
                for origin in sites {
                    if !s.allowed_sites.contains(&origin) {
                        s.allowed_sites.push(origin);
                    }
                }
                if s.server_url.is_none() {
                    s.server_url = server_url;
                }
                Some((Change::default(), s.clone()))
            })
            .await
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        settings = updated.unwrap_or(settings);
    }
    install_site_hooks(&settings).await.map_err(|f| JsValue::from_str(&f.message))?;
    Ok(())
}

#[derive(serde::Deserialize)]
struct Preset {
    #[serde(default)]
    allowed_sites: Vec<String>,
    #[serde(default)]
    server_url: Option<String>,
}

/// `preset.json` in the package: the unpacked-extension stand-in for enterprise
/// managed settings (the run command writes one for the demo).
async fn read_preset() -> Option<Preset> {
    let url = chrome::extension_url("preset.json");
    let server = Server { base_url: &url, token: None };
    server.get("", Some(2_000)).await.ok()
}

/// Every worker start: make sure the sync alarm exists and push what is queued.
#[wasm_bindgen]
pub async fn on_start() {
    let _ = chrome::ensure_periodic_alarm("cairn-sync", 1.0).await;
    let _ = push_now(false).await;
}

#[wasm_bindgen]
pub async fn on_alarm(_name: String) {
    let _ = push_now(false).await;
}

#[wasm_bindgen]
pub async fn on_online() {
    let _ = push_now(true).await;
}

/// Sends a command to every open tab showing this page; returns how many got it.
async fn tell_tabs(key: &PageKey, command: TabCommand) -> u32 {
    if command == (TabCommand::Refresh {}) {
        announce_page_changed(key);
    }
    let message = crate::to_js(&command);
    let mut told = 0;
    for (tab, url) in chrome::visible_tabs().await {
        if PageKey::from_url(&url).is_ok_and(|k| &k == key) && chrome::send_to_tab(tab, &message).await.is_ok() {
            told += 1;
        }
    }
    told
}

/// Context menu "Highlight with Cairn" and the keyboard command: ask the page's
/// content script to highlight its selection.
#[wasm_bindgen]
pub async fn on_highlight_command(tab_id: i32) {
    if tab_id < 0 {
        return;
    }
    command_tab(tab_id, &TabCommand::HighlightSelection {}).await;
}

/// Hands a keyboard or context-menu command to the tab's content script. A tab
/// on an allowed site may not run it yet (the page is still loading, or it was
/// open before Cairn was installed or updated): start it there and ask again,
/// so the command is never lost. Only a site that is not allowed gets "off".
async fn command_tab(tab_id: i32, command: &TabCommand) {
    let message = crate::to_js(command);
    if chrome::send_to_tab(tab_id, &message).await.is_ok() {
        return;
    }
    if tab_on_allowed_site(tab_id).await && chrome::start_in_tab(tab_id).await.is_ok() {
        // The script registers its listener synchronously, but a document still
        // loading may take a moment before the injected script runs.
        for wait_ms in [0, 100, 250, 500, 1000] {
            chrome::sleep(wait_ms).await;
            if chrome::send_to_tab(tab_id, &message).await.is_ok() {
                return;
            }
        }
    }
    site_is_off(tab_id).await;
}

async fn tab_on_allowed_site(tab_id: i32) -> bool {
    let Some(url) = chrome::visible_tabs().await.into_iter().find(|(id, _)| *id == tab_id).map(|(_, url)| url) else {
        return false;
    };
    let Ok(key) = PageKey::from_url(&url) else { return false };
    let Ok(store) = store().await else { return false };
    settings(&store).await.is_ok_and(|s| s.allowed_sites.contains(&key.origin()))
}

/// A command on a page where Cairn does not run (a site not allowed): say so on
/// the toolbar button, since nothing may be shown inside the page itself.
async fn site_is_off(tab_id: i32) {
    let _ = chrome::mark_tab(tab_id, "off", "Cairn is off on this site: click to allow it here").await;
}

/// Context menu "Clip selection / this page with Cairn" and the clip command.
#[wasm_bindgen]
pub async fn on_clip_command(tab_id: i32, kind: String) {
    let clip = match kind.as_str() {
        "selection" => ClipKind::Selection,
        "url_only" => ClipKind::UrlOnly,
        _ => ClipKind::Article,
    };
    if tab_id >= 0 {
        command_tab(tab_id, &TabCommand::Clip { clip, note: None, tags: Vec::new(), announce: true }).await;
    }
}
