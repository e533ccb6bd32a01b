//! The extension's message channels.
//!
//! Two channels reach the background, told apart by **who sent the message**
//! (the browser fills in `sender`; the message cannot choose its channel):
//!
//! * the *page* channel, [`PageRequest`]: from content scripts. Untrusted: a
//!   compromised renderer can forge anything here. It can only ask about the page
//!   it is on (the page URL comes from `sender.url`, never from the message), and
//!   nothing on it touches tokens, settings or other pages.
//! * the *panel* channel, [`PanelRequest`]: from the extension's own pages
//!   (popup, options). Privileged.
//!
//! [`authorize`] is the one place that turns a raw message and its sender into a
//! typed [`Request`]; the background calls it before anything else.
//! Replies are `{"ok": true, "value": ...}` or `{"ok": false, "error": {code, message}}`
//! because exceptions do not cross the message boundary.

use cairn_model::{ClipKind, Color, PageKey};
use serde::{Deserialize, Serialize};

use crate::api::{CommunityInfo, UserInfo};

/// The most page text a content script may send (UTF-16 code units, as JS counts).
/// 16 Mi units is far past any real article and bounds the worker's memory.
pub const MAX_PAGE_TEXT_UNITS: usize = 16 * 1024 * 1024;
/// How long a deleted highlight or clip can be brought back (undo) before the
/// delete is sent to the server, where teammates lose it.
pub const UNDO_WINDOW_MS: i64 = 6_000;
/// Longest page title kept.
pub const MAX_TITLE_CHARS: usize = 500;
/// The largest file the Library imports at once (a Hypothesis export of tens of
/// thousands of annotations is a few tens of MB).
pub const MAX_IMPORT_BYTES: usize = 48 * 1024 * 1024;
/// The most HTML a content script may send for an article clip (the serialized
/// live DOM). Bounds the worker's memory; cairn-clip refuses more anyway.
pub const MAX_CLIP_HTML_BYTES: usize = 16 * 1024 * 1024;

/// Requests a content script may send about the page it runs in.
///
/// `canonical` is the page's `<link rel=canonical>` href, if any; the background
/// uses it for the page key only when it is on the page's own origin.
/// Edits and deletes on this channel reach only the user's own highlights on the
/// sender's page: the most a forged message can do is what the user could do on
/// that page with the highlight toolbar.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PageRequest {
    /// How many annotations this page has. Cheap, so a page with none stays idle.
    // Struct variants, not unit ones: serde ignores extra fields on unit
    // variants of internally tagged enums, and extra fields must be refused.
    PageStatus {
        #[serde(default)]
        canonical: Option<String>,
    },
    /// Anchor this page's annotations in `text` (the page's text model).
    AnchorAll {
        text: String,
        #[serde(default)]
        canonical: Option<String>,
    },
    /// Highlight `[start, end)` of `text`, in UTF-16 code units as the DOM counts.
    CreateHighlight {
        text: String,
        start: u32,
        end: u32,
        #[serde(default)]
        title: String,
        #[serde(default)]
        color: Option<Color>,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        canonical: Option<String>,
    },
    /// Change the note (empty removes it) or the colour of one of the user's highlights on this page.
    EditHighlight {
        id: String,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        color: Option<Color>,
        #[serde(default)]
        canonical: Option<String>,
    },
    /// Delete one of the user's highlights on this page. The delete reaches the
    /// server only after the undo window ([`UNDO_WINDOW_MS`]).
    DeleteHighlight {
        id: String,
        #[serde(default)]
        canonical: Option<String>,
    },
    /// Undo the delete of one of the user's highlights on this page, within the undo window.
    RestoreHighlight {
        id: String,
        #[serde(default)]
        canonical: Option<String>,
    },
    /// "Open in panel" in the popover: the service worker's loader opens the side
    /// panel for the sender's tab while the click still counts as a user gesture;
    /// this request only confirms it came from an allowed page.
    OpenPanel {
        /// One of the user's highlights on this page whose note the panel opens for
        /// writing (the note is typed there, where the page cannot read the keys).
        #[serde(default)]
        focus: Option<String>,
        #[serde(default)]
        canonical: Option<String>,
    },
    /// Clip this page. What is sent depends on the kind, and nothing more:
    /// `selection`: the selected HTML (`html`), its text (`quote`) and its place in the
    /// page text (`text`, `start`, `end`); `article`: the serialized live DOM (`html`);
    /// `url_only`: nothing from the page but its title.
    Clip {
        clip: ClipKind,
        #[serde(default)]
        html: Option<String>,
        #[serde(default)]
        quote: Option<String>,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        start: Option<u32>,
        #[serde(default)]
        end: Option<u32>,
        #[serde(default)]
        title: String,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        canonical: Option<String>,
    },
    /// Move an orphaned highlight of the user's to `[start, end)` of `text`.
    ReattachHighlight {
        id: String,
        text: String,
        start: u32,
        end: u32,
        #[serde(default)]
        canonical: Option<String>,
    },
    /// What this visit of the page added to the reading trail since the last report:
    /// in-view time (ms) and how far down the user has scrolled (percent). Kept only
    /// where the user turned the trail on for the site ([`PageReply::Status`] says so).
    TrailVisit {
        #[serde(default)]
        title: String,
        /// The first report of this visit (the page was just opened).
        #[serde(default)]
        opened: bool,
        #[serde(default)]
        active_ms: u32,
        #[serde(default)]
        scrolled_percent: u8,
        #[serde(default)]
        canonical: Option<String>,
    },
}

impl PageRequest {
    pub fn canonical(&self) -> Option<&str> {
        match self {
            PageRequest::PageStatus { canonical }
            | PageRequest::AnchorAll { canonical, .. }
            | PageRequest::CreateHighlight { canonical, .. }
            | PageRequest::EditHighlight { canonical, .. }
            | PageRequest::DeleteHighlight { canonical, .. }
            | PageRequest::RestoreHighlight { canonical, .. }
            | PageRequest::OpenPanel { canonical, .. }
            | PageRequest::Clip { canonical, .. }
            | PageRequest::ReattachHighlight { canonical, .. }
            | PageRequest::TrailVisit { canonical, .. } => canonical.as_deref(),
        }
    }
}

/// Requests only the extension's own pages may send.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PanelRequest {
    /// Connection, account, sync queue and allowed sites.
    Status {},
    /// Everything this browser keeps (the user's own records and the teammates'
    /// it has seen), for the Library page. Answered with `cairn_sync::LibraryListing`,
    /// not a `PanelReply`: the records are the store's own type.
    Library {},
    /// Import a file into the Library: Hypothesis's export JSON, W3C annotations
    /// (JSON-LD) from any tool, or Cairn's own export. The background reads it
    /// (`cairn_library::import`), keeps what it can and says what it skipped.
    Import {
        file_name: String,
        text: String,
    },
    /// The highlights of a page, newest first.
    ListPage {
        url: String,
    },
    /// Sign in with a username and password; the server issues a token.
    SignIn {
        server_url: String,
        username: String,
        password: String,
    },
    /// Use a token made elsewhere (`cairn-server token issue`).
    Connect {
        server_url: String,
        token: String,
    },
    SignOut {},
    /// Change the signed-in account's password; the server signs out the
    /// account's other devices and tokens, this one stays signed in.
    ChangePassword {
        current_password: String,
        new_password: String,
    },
    /// Share new highlights with this community (slug), or keep them private (`None`).
    ChooseCommunity {
        community: Option<String>,
    },
    SyncNow {},
    /// Delete one of the user's highlights or clips; held back from the server for
    /// the undo window ([`UNDO_WINDOW_MS`]).
    DeleteHighlight {
        id: String,
    },
    /// Undo a delete within the undo window.
    RestoreDeleted {
        id: String,
    },
    /// Change the note (empty removes it), colour or tags of one of the user's highlights.
    EditHighlight {
        id: String,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        color: Option<Color>,
        #[serde(default)]
        tags: Option<Vec<String>>,
    },
    /// Reply to a highlight (the user's or a teammate's): the reply is seen by
    /// exactly those who see the highlight (the server enforces it).
    Reply {
        parent: String,
        note: String,
    },
    /// Choose who sees one of the user's highlights or clips: the communities
    /// (slugs) it is shared with; empty makes it private again.
    ShareItem {
        id: String,
        communities: Vec<String>,
    },
    /// Scroll the tab showing `page_url` to a highlight and flash it.
    RevealHighlight {
        id: String,
        page_url: String,
    },
    /// Clip the page shown in the tab at `page_url` (the tab's content script does the reading).
    ClipPage {
        page_url: String,
        clip: ClipKind,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
    },
    /// Ask the tab showing `page_url` to re-attach an orphan to its current selection.
    ReattachOrphan {
        id: String,
        page_url: String,
    },
    /// Record the reading trail on an allowed site, or stop (what was kept stays
    /// until deleted or past the retention period).
    SetTrailSite {
        origin: String,
        on: bool,
    },
    /// How many days the trail keeps a page no visit touched; 0 keeps it until cleared.
    SetTrailRetention {
        days: u32,
    },
    /// Forget one page of the trail.
    DeleteTrailEntry {
        page_key: String,
    },
    /// Forget the whole trail.
    ClearTrail {},
    /// The user's answer for one of the day's review items.
    AnswerReview {
        id: String,
        verdict: ReviewVerdict,
    },
    /// Make a community (the user becomes its owner); its slug is made from the name.
    CreateCommunity {
        name: String,
    },
    /// Join a community with an invite code someone gave the user.
    JoinCommunity {
        code: String,
    },
    /// Leave a community (slug): its members no longer see what the user shares there.
    LeaveCommunity {
        community: String,
    },
    /// A community's members, and its usable invites for an owner or moderator.
    Community {
        community: String,
    },
    /// Make an invite code for a community (owner or moderator).
    Invite {
        community: String,
        #[serde(default)]
        multi_use: bool,
    },
    RevokeInvite {
        community: String,
        id: String,
    },
    /// Change a member's role (owner only).
    SetMemberRole {
        community: String,
        username: String,
        role: crate::api::Role,
    },
    /// Remove a member (owners anyone, moderators members).
    RemoveMember {
        community: String,
        username: String,
    },
    /// Let Cairn run on a site (`scheme://host[:port]`).
    AllowSite {
        origin: String,
    },
    DisallowSite {
        origin: String,
    },
}

/// What the user answered for an item of the daily review.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    /// Worth seeing again: the next, longer interval.
    Keep,
    /// Not now: tomorrow, interval unchanged.
    Snooze,
    /// Never again.
    Archive,
}

/// What the background asks of a content script (the only messages a content
/// script accepts, and only from its own extension).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TabCommand {
    /// Highlight the current selection (context menu, keyboard command).
    HighlightSelection {},
    /// Annotations of this page changed: anchor them again.
    Refresh {},
    /// Re-attach this orphan to the current selection.
    Reattach { id: String },
    /// Scroll to this highlight and flash it (the side panel's list was clicked).
    Reveal { id: String },
    /// Clip this page (the content script reads what the kind needs and replies).
    Clip {
        clip: ClipKind,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
        /// Started by a shortcut or the context menu: the page says the outcome
        /// (a popup that asked says it itself).
        #[serde(default)]
        announce: bool,
    },
}

/// Where a highlight goes on the page, in UTF-16 code units of the page text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PlacedHighlight {
    pub id: String,
    pub start: u32,
    pub end: u32,
    pub color: Color,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The note as sanitized HTML (rendered by `cairn-note`), ready for a shadow root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_html: Option<String>,
    /// The teammate who made it; `None` for the user's own highlights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teammate: Option<String>,
    /// Who sees it: the names of the communities it is shared with; empty = only its author.
    #[serde(default)]
    pub audience: Vec<String>,
    /// RFC 3339 creation time.
    #[serde(default)]
    pub created: String,
    /// For a teammate's highlight: its author's place in [`TEAMMATE_PALETTE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teammate_color: Option<u8>,
}

/// Colours that tell teammates apart (Okabe and Ito's palette for colour-blind
/// readers, plus two), in the order [`teammate_color`] picks them. The page's
/// stylesheet (`extension/highlights.css`) and the UI's use the same order.
pub const TEAMMATE_PALETTE: [&str; 8] =
    ["#e69f00", "#56b4e9", "#009e73", "#d55e00", "#cc79a7", "#0072b2", "#8c6cf0", "#2a9d8f"];

/// A teammate's stable colour: the same person gets the same colour on every
/// page and in every surface (FNV-1a of the name they are shown by).
pub fn teammate_color(name: &str) -> u8 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (hash % TEAMMATE_PALETTE.len() as u32) as u8
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PageReply {
    Status {
        count: u32,
        /// The user keeps a reading trail on this site: report the visit.
        #[serde(default)]
        trail: bool,
    },
    Anchored {
        highlights: Vec<PlacedHighlight>,
        orphans: u32,
    },
    Created {
        highlight: PlacedHighlight,
    },
    Edited {
        id: String,
        color: Color,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note_html: Option<String>,
    },
    Reattached {
        highlight: PlacedHighlight,
    },
    Clipped {
        clip: ClipSummary,
    },
    Deleted {
        id: String,
    },
    /// A deleted highlight put back (undo).
    Restored {
        highlight: Option<PlacedHighlight>,
    },
    /// The side panel was asked to open for this page.
    PanelOpening {},
    /// A trail report was read: `kept` is false where the trail is off for the site.
    TrailNoted {
        kept: bool,
    },
}

/// Where a highlight stands with the server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    /// Only on this device (not signed in, or no community chosen, or not yet pushed).
    Local,
    /// Queued for the server.
    Pending,
    /// The server has it.
    Synced,
    /// The server refused it; retrying will not help. The reason is for the user.
    Rejected { reason: String },
    /// A teammate's, received from the server.
    Shared,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HighlightSummary {
    pub id: String,
    pub quote: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The note as sanitized HTML, rendered by the background with `cairn-note`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_html: Option<String>,
    pub color: Color,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teammate: Option<String>,
    pub sync: SyncState,
    /// The last time the page was anchored, this highlight's text was not found.
    #[serde(default)]
    pub orphan: bool,
    /// Who sees it: the communities it is shared with (names once the background
    /// has resolved them); empty = only its author.
    #[serde(default)]
    pub audience: Vec<String>,
    /// The same communities by slug, for choosing them again.
    #[serde(default)]
    pub communities: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Where its text starts in the page (code points), for document order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// Its thread: the replies to it, oldest first.
    #[serde(default)]
    pub replies: Vec<ReplySummary>,
}

/// One reply in a highlight's thread.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ReplySummary {
    pub id: String,
    pub note: String,
    /// The reply as sanitized HTML, rendered by the background with `cairn-note`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_html: Option<String>,
    pub created: String,
    /// Display name of the teammate who wrote it; `None` for the user's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teammate: Option<String>,
    pub sync: SyncState,
}

/// A clip as the popup lists it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ClipSummary {
    pub id: String,
    pub clip: ClipKind,
    pub title: String,
    pub source: String,
    /// The whole Markdown document (front matter and body), for copy and download.
    pub markdown: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teammate: Option<String>,
    pub sync: SyncState,
    /// Who sees it, as for highlights.
    #[serde(default)]
    pub audience: Vec<String>,
    #[serde(default)]
    pub communities: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct StatusReport {
    pub server_url: Option<String>,
    /// Set when signed in.
    pub user: Option<UserInfo>,
    pub communities: Vec<CommunityInfo>,
    /// Where new highlights are shared.
    pub community: Option<String>,
    /// Mutations waiting for the server.
    pub pending: u32,
    /// The last sync failure, worded for the user; `None` after a success.
    pub last_error: Option<String>,
    /// RFC 3339 time of the last successful exchange with the server.
    pub last_sync: Option<String>,
    pub allowed_sites: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PanelReply {
    Status(StatusReport),
    Page {
        page_key: String,
        highlights: Vec<HighlightSummary>,
        #[serde(default)]
        clips: Vec<ClipSummary>,
        /// A highlight whose note the user asked to write from the page, once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        focus: Option<String>,
    },
    Done,
    /// A new invite code, shown once.
    Invited {
        code: String,
        expires_at: String,
    },
    /// A community as its members see it, with its invites for a manager.
    Community {
        detail: crate::api::CommunityDetail,
        #[serde(default)]
        invites: Vec<crate::api::InviteInfo>,
    },
    /// What an import kept and what it skipped, and why, in words for the user.
    Imported {
        format: String,
        imported: u32,
        skipped: Vec<String>,
    },
}

/// What the background tells the open extension pages (the side panel) without
/// being asked, so that they never show a stale page.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Broadcast {
    /// The annotations of a page changed here or on the server, or the user asked
    /// from the page to write a note: list the page again.
    PageChanged { page_key: String },
    /// The user asked, from the page, to write the note of one of their
    /// highlights there: a panel showing that page opens its editor.
    WriteNote { page_key: String, id: String },
}

/// What the browser says about who sent a message (`chrome.runtime.MessageSender`),
/// plus what the background knows about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sender {
    /// `sender.id`: the extension that sent it.
    pub extension_id: Option<String>,
    /// `sender.url`: the URL of the frame that sent it.
    pub url: Option<String>,
    /// `chrome.runtime.id`.
    pub own_id: String,
}

/// A message that passed [`authorize`].
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// From a content script on `page_url` (taken from the sender, not the message).
    Page {
        page_url: String,
        request: PageRequest,
    },
    Panel(PanelRequest),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageError {
    /// Not from this extension at all.
    ForeignSender,
    /// A content script asked for something only extension pages may do.
    Forbidden(String),
    /// The sender's frame is not a web page Cairn can work on.
    BadSenderUrl,
    /// The message does not parse as a request of its channel.
    Malformed(String),
    /// Parsed, but a value is out of range.
    Invalid(String),
}

impl MessageError {
    pub fn code(&self) -> &'static str {
        match self {
            MessageError::ForeignSender => "foreign_sender",
            MessageError::Forbidden(_) => "forbidden",
            MessageError::BadSenderUrl => "bad_sender_url",
            MessageError::Malformed(_) => "malformed",
            MessageError::Invalid(_) => "invalid",
        }
    }
}

impl std::fmt::Display for MessageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageError::ForeignSender => write!(f, "message refused: it did not come from this extension"),
            MessageError::Forbidden(kind) => {
                write!(f, "message refused: {kind:?} may only be sent by the extension's own pages")
            }
            MessageError::BadSenderUrl => write!(f, "message refused: the sending frame is not an http(s) page"),
            MessageError::Malformed(e) => write!(f, "malformed message: {e}"),
            MessageError::Invalid(e) => write!(f, "invalid message: {e}"),
        }
    }
}

impl std::error::Error for MessageError {}

/// Decides which channel a message belongs to (from its sender) and parses it as
/// that channel's request type, refusing anything else.
pub fn authorize(sender: &Sender, raw: serde_json::Value) -> Result<Request, MessageError> {
    if sender.extension_id.as_deref() != Some(sender.own_id.as_str()) {
        return Err(MessageError::ForeignSender);
    }
    let own_origin = format!("chrome-extension://{}/", sender.own_id);
    let moz_origin = format!("moz-extension://{}/", sender.own_id);
    let url = sender.url.as_deref().unwrap_or("");
    if url.starts_with(&own_origin) || url.starts_with(&moz_origin) {
        let request: PanelRequest = serde_json::from_value(raw).map_err(|e| MessageError::Malformed(e.to_string()))?;
        return Ok(Request::Panel(request));
    }
    // Anything else is a content script (or a renderer pretending to be one).
    let key = PageKey::from_url(url).map_err(|_| MessageError::BadSenderUrl)?;
    drop(key);
    let request: PageRequest = match serde_json::from_value(raw.clone()) {
        Ok(r) => r,
        Err(e) => {
            if serde_json::from_value::<PanelRequest>(raw.clone()).is_ok() {
                let kind = raw.get("kind").and_then(|k| k.as_str()).unwrap_or("?").to_string();
                return Err(MessageError::Forbidden(kind));
            }
            return Err(MessageError::Malformed(e.to_string()));
        }
    };
    validate_page_request(&request)?;
    Ok(Request::Page { page_url: url.to_string(), request })
}

fn validate_page_request(r: &PageRequest) -> Result<(), MessageError> {
    let check_text = |text: &str| {
        let units = text.encode_utf16().count();
        if units > MAX_PAGE_TEXT_UNITS {
            return Err(MessageError::Invalid(format!(
                "page text is {units} UTF-16 units; at most {MAX_PAGE_TEXT_UNITS} are accepted"
            )));
        }
        Ok(units)
    };
    match r {
        PageRequest::PageStatus { .. }
        | PageRequest::DeleteHighlight { .. }
        | PageRequest::RestoreHighlight { .. }
        | PageRequest::OpenPanel { .. } => Ok(()),
        PageRequest::AnchorAll { text, .. } => check_text(text).map(|_| ()),
        PageRequest::Clip { clip, html, quote, text, start, end, title, note, tags, .. } => {
            if title.chars().count() > MAX_TITLE_CHARS {
                return Err(MessageError::Invalid(format!("title is longer than {MAX_TITLE_CHARS} characters")));
            }
            check_note(note.as_deref())?;
            if tags.len() > cairn_model::MAX_TAGS {
                return Err(MessageError::Invalid(format!(
                    "{} tags; at most {} are accepted",
                    tags.len(),
                    cairn_model::MAX_TAGS
                )));
            }
            if let Some(h) = html {
                if h.len() > MAX_CLIP_HTML_BYTES {
                    return Err(MessageError::Invalid(format!(
                        "the page is {} bytes of HTML; at most {MAX_CLIP_HTML_BYTES} can be clipped",
                        h.len()
                    )));
                }
            }
            match clip {
                ClipKind::UrlOnly if html.is_some() || text.is_some() || quote.is_some() => {
                    Err(MessageError::Invalid("a URL-only clip carries nothing from the page's content".into()))
                }
                ClipKind::Article if html.is_none() => {
                    Err(MessageError::Invalid("an article clip needs the page's HTML".into()))
                }
                ClipKind::Selection => {
                    let (Some(text), Some(start), Some(end), Some(_), Some(_)) = (text, start, end, html, quote) else {
                        return Err(MessageError::Invalid(
                            "a selection clip needs the selection's HTML, its text and its place in the page".into(),
                        ));
                    };
                    let units = check_text(text)?;
                    check_selection(*start, *end, units)
                }
                _ => Ok(()),
            }
        }
        PageRequest::EditHighlight { note, .. } => check_note(note.as_deref()),
        PageRequest::ReattachHighlight { text, start, end, .. } => {
            let units = check_text(text)?;
            check_selection(*start, *end, units)
        }
        PageRequest::TrailVisit { title, scrolled_percent, .. } => {
            if title.chars().count() > MAX_TITLE_CHARS {
                return Err(MessageError::Invalid(format!("title is longer than {MAX_TITLE_CHARS} characters")));
            }
            if *scrolled_percent > 100 {
                return Err(MessageError::Invalid(format!("scrolled {scrolled_percent} %; at most 100 % of a page")));
            }
            Ok(())
        }
        PageRequest::CreateHighlight { text, start, end, title, note, .. } => {
            let units = check_text(text)?;
            check_selection(*start, *end, units)?;
            if title.chars().count() > MAX_TITLE_CHARS {
                return Err(MessageError::Invalid(format!("title is longer than {MAX_TITLE_CHARS} characters")));
            }
            check_note(note.as_deref())
        }
    }
}

fn check_selection(start: u32, end: u32, units: usize) -> Result<(), MessageError> {
    if start >= end || end as usize > units {
        return Err(MessageError::Invalid(format!(
            "selection [{start}, {end}) is empty or outside the page text (length {units})"
        )));
    }
    Ok(())
}

fn check_note(note: Option<&str>) -> Result<(), MessageError> {
    match note {
        Some(n) if n.chars().count() > cairn_model::MAX_NOTE_CHARS => {
            Err(MessageError::Invalid(format!("note is longer than {} characters", cairn_model::MAX_NOTE_CHARS)))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "abcdefghijklmnopabcdefghijklmnop";

    fn content(url: &str) -> Sender {
        Sender { extension_id: Some(ID.into()), url: Some(url.into()), own_id: ID.into() }
    }

    fn popup() -> Sender {
        content(&format!("chrome-extension://{ID}/popup.html"))
    }

    #[test]
    fn content_script_gets_page_channel_with_sender_url() {
        let r = authorize(&content("https://wiki.example/p#x"), json!({"kind": "page_status"})).unwrap();
        assert_eq!(
            r,
            Request::Page {
                page_url: "https://wiki.example/p#x".into(),
                request: PageRequest::PageStatus { canonical: None }
            }
        );
    }

    #[test]
    fn content_script_cannot_send_privileged_requests() {
        for msg in [
            json!({"kind": "sign_out"}),
            json!({"kind": "connect", "server_url": "https://evil.example", "token": "t"}),
            json!({"kind": "list_page", "url": "https://other.example/"}),
            json!({"kind": "sync_now"}),
            json!({"kind": "choose_community", "community": "other-team"}),
            json!({"kind": "reattach_orphan", "id": "x", "page_url": "https://other.example/"}),
            json!({"kind": "allow_site", "origin": "https://evil.example"}),
            // A page cannot turn the trail on, read it or clear it.
            json!({"kind": "set_trail_site", "origin": "https://wiki.example", "on": true}),
            json!({"kind": "clear_trail"}),
            json!({"kind": "library"}),
        ] {
            let err = authorize(&content("https://wiki.example/"), msg.clone()).unwrap_err();
            assert!(matches!(err, MessageError::Forbidden(_)), "{msg}: {err:?}");
        }
    }

    #[test]
    fn trail_reports_are_bounded_and_name_no_page() {
        let ok = authorize(
            &content("https://wiki.example/p"),
            json!({"kind": "trail_visit", "title": "Deploy", "opened": true, "active_ms": 15000, "scrolled_percent": 40}),
        )
        .unwrap();
        assert!(matches!(ok, Request::Page { request: PageRequest::TrailVisit { scrolled_percent: 40, .. }, .. }));
        for bad in [
            json!({"kind": "trail_visit", "scrolled_percent": 101}),
            json!({"kind": "trail_visit", "title": "t".repeat(MAX_TITLE_CHARS + 1)}),
        ] {
            let err = authorize(&content("https://wiki.example/p"), bad).unwrap_err();
            assert!(matches!(err, MessageError::Invalid(_)), "{err:?}");
        }
        for bad in [
            json!({"kind": "trail_visit", "url": "https://hr.example/"}),
            json!({"kind": "trail_visit", "active_ms": -5}),
            json!({"kind": "trail_visit", "scrolled_percent": 300}),
        ] {
            let err = authorize(&content("https://wiki.example/p"), bad).unwrap_err();
            assert!(matches!(err, MessageError::Malformed(_)), "{err:?}");
        }
    }

    #[test]
    fn content_script_cannot_name_another_page() {
        // A forged field is an unknown field, not a way to pick the page.
        let err =
            authorize(&content("https://wiki.example/"), json!({"kind": "page_status", "url": "https://hr.example/"}))
                .unwrap_err();
        assert!(matches!(err, MessageError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn foreign_and_non_web_senders_are_refused() {
        let mut s = content("https://wiki.example/");
        s.extension_id = Some("someoneelse".into());
        assert_eq!(authorize(&s, json!({"kind": "page_status"})), Err(MessageError::ForeignSender));
        assert_eq!(
            authorize(&content("file:///etc/passwd"), json!({"kind": "page_status"})),
            Err(MessageError::BadSenderUrl)
        );
        assert_eq!(
            authorize(&content("chrome-extension://other/popup.html"), json!({"kind": "status"})).unwrap_err().code(),
            "bad_sender_url"
        );
    }

    #[test]
    fn selections_are_bounds_checked() {
        let bad = [
            json!({"kind": "create_highlight", "text": "hello", "start": 3, "end": 3}),
            json!({"kind": "create_highlight", "text": "hello", "start": 1, "end": 9}),
            json!({"kind": "create_highlight", "text": "hello", "start": -1, "end": 2}),
            json!({"kind": "create_highlight", "text": 5, "start": 0, "end": 2}),
        ];
        for msg in bad {
            assert!(authorize(&content("https://a.example/"), msg.clone()).is_err(), "{msg}");
        }
        let ok = json!({"kind": "create_highlight", "text": "héllo", "start": 1, "end": 4, "color": "blue"});
        assert!(authorize(&content("https://a.example/"), ok).is_ok());
    }

    #[test]
    fn clips_carry_only_what_their_kind_needs() {
        let page = content("https://wiki.example/p");
        let url_only_with_content = json!({"kind": "clip", "clip": "url_only", "html": "<p>secret</p>", "title": "t"});
        assert!(matches!(authorize(&page, url_only_with_content), Err(MessageError::Invalid(_))));
        assert!(authorize(&page, json!({"kind": "clip", "clip": "url_only", "title": "t", "tags": ["a"]})).is_ok());
        assert!(matches!(authorize(&page, json!({"kind": "clip", "clip": "article"})), Err(MessageError::Invalid(_))));
        assert!(authorize(&page, json!({"kind": "clip", "clip": "article", "html": "<p>x</p>"})).is_ok());
        let sel = json!({"kind": "clip", "clip": "selection", "html": "<b>x</b>", "quote": "x", "text": "a x b", "start": 2, "end": 3});
        assert!(authorize(&page, sel).is_ok());
        let sel_out_of_range = json!({"kind": "clip", "clip": "selection", "html": "<b>x</b>", "quote": "x", "text": "a x b", "start": 2, "end": 30});
        assert!(matches!(authorize(&page, sel_out_of_range), Err(MessageError::Invalid(_))));
        let privileged = json!({"kind": "clip_page", "page_url": "https://hr.example/", "clip": "article"});
        assert!(matches!(authorize(&page, privileged), Err(MessageError::Forbidden(_))));
    }

    #[test]
    fn extension_pages_get_panel_channel() {
        let r = authorize(
            &popup(),
            json!({"kind": "sign_in", "server_url": "http://127.0.0.1:1", "username": "a", "password": "b"}),
        )
        .unwrap();
        assert!(matches!(r, Request::Panel(PanelRequest::SignIn { .. })));
        assert!(matches!(authorize(&popup(), json!({"kind": "nope"})), Err(MessageError::Malformed(_))));
    }
}
