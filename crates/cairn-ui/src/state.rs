//! Page state for the popup, the side panel and the options page, as reducers,
//! plus the wording helpers. No UI code: everything here is tested natively.

use std::rc::Rc;

use cairn_protocol::messages::{ClipSummary, HighlightSummary, StatusReport, SyncState};
use yew::Reducible;

/// How something looks to the user: fine, in between, or wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Good,
    Neutral,
    Bad,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Neutral => "neutral",
            Tone::Bad => "bad",
        }
    }
}

/// One line saying whether the user's highlights reach the server. It is the one
/// place the UI speaks of the queue, so the header and the items never disagree:
/// items say "waiting to sync" exactly when this counts them.
pub fn connection_label(status: &StatusReport) -> (String, Tone) {
    let c = connection(status);
    match c.detail {
        Some(d) if c.tone == Tone::Bad => (format!("{}: {d}", c.short), c.tone),
        Some(d) => (format!("{}: {}", c.short, lowercase_first(&d)), c.tone),
        None => (c.short, c.tone),
    }
}

/// The connection for a narrow header: a few words, plus the whole story for a
/// banner below it when there is more to say than "fine".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub short: String,
    pub detail: Option<String>,
    pub tone: Tone,
}

pub fn connection(status: &StatusReport) -> Connection {
    let Some(user) = &status.user else {
        return Connection {
            short: "Not connected".into(),
            detail: Some("Highlights stay on this device. Sign in from Options to share them with your team.".into()),
            tone: Tone::Neutral,
        };
    };
    if let Some(e) = &status.last_error {
        return Connection { short: "Sync error".into(), detail: Some(e.clone()), tone: Tone::Bad };
    }
    match status.pending {
        0 => Connection { short: format!("Synced as {}", user.display_name), detail: None, tone: Tone::Good },
        n => Connection {
            short: format!("Signed in as {}", user.display_name),
            detail: Some(if n == 1 {
                "1 change waiting to sync".into()
            } else {
                format!("{n} changes waiting to sync")
            }),
            tone: Tone::Neutral,
        },
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

/// Where one item stands with the server, in a few words.
pub fn sync_label(state: &SyncState) -> String {
    match state {
        SyncState::Local => "on this device only".into(),
        SyncState::Pending => "waiting to sync".into(),
        SyncState::Synced => "synced".into(),
        SyncState::Rejected { reason } => format!("not shared: {reason}"),
        SyncState::Shared => "from a teammate".into(),
    }
}

pub fn sync_key(state: &SyncState) -> &'static str {
    match state {
        SyncState::Local => "local",
        SyncState::Pending => "pending",
        SyncState::Synced => "synced",
        SyncState::Rejected { .. } => "rejected",
        SyncState::Shared => "shared",
    }
}

/// Who sees an item: "Only you", or the communities it is shared with.
pub fn audience_label(audience: &[String], teammate: Option<&str>) -> String {
    match (audience, teammate) {
        ([], None) => "Only you".into(),
        ([], Some(t)) => format!("Shared by {t}"),
        (names, _) => names.join(", "),
    }
}

/// "just now", "5 min ago", "3 h ago", "2 d ago", or the date, from two RFC 3339 times.
pub fn relative_time(then: &str, now_ms: i64) -> String {
    let Some(then_ms) = cairn_model::parse_rfc3339_ms(then) else { return then.to_string() };
    let minutes = (now_ms - then_ms).max(0) / 60_000;
    match minutes {
        0 => "just now".into(),
        1..=59 => format!("{minutes} min ago"),
        60..=1439 => format!("{} h ago", minutes / 60),
        1440..=10079 => format!("{} d ago", minutes / 1440),
        _ => then.get(..10).unwrap_or(then).to_string(),
    }
}

/// The start of a clip's body (front matter left out), for the preview.
pub fn clip_preview(markdown: &str, max_chars: usize) -> String {
    let body = markdown
        .strip_prefix("---\n")
        .and_then(|rest| rest.find("\n---\n").map(|i| &rest[i + 5..]))
        .unwrap_or(markdown)
        .trim_start();
    let mut preview: String = body.chars().take(max_chars).collect();
    if body.chars().count() > max_chars {
        preview.push('…');
    }
    preview
}

/// Tags typed as `a, b c; d`: commas, semicolons and new lines separate tags;
/// spaces stay inside one ("payments deploy" is one tag, as the field says).
pub fn parse_tags(input: &str) -> Vec<String> {
    let mut tags = Vec::new();
    for t in input.split([',', ';', '\n']) {
        add_tag(&mut tags, t);
    }
    tags
}

/// Adds one tag (trimmed, inner runs of spaces collapsed) unless it is empty or already there.
pub fn add_tag(tags: &mut Vec<String>, raw: &str) {
    let tag = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if !tag.is_empty() && !tags.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
        tags.push(tag);
    }
}

/// Tags the user has used before that start with what is typed, for suggestions.
pub fn tag_suggestions(known: &[String], chosen: &[String], typed: &str, max: usize) -> Vec<String> {
    let typed = typed.trim().to_lowercase();
    let mut out: Vec<String> = Vec::new();
    for t in known {
        let lower = t.to_lowercase();
        if lower.starts_with(&typed)
            && !chosen.iter().any(|c| c.eq_ignore_ascii_case(t))
            && !out.iter().any(|o| o.eq_ignore_ascii_case(t))
        {
            out.push(t.clone());
        }
        if out.len() == max {
            break;
        }
    }
    out
}

/// The most characters a note may have (the model's cap, counted as the user sees them).
pub const NOTE_MAX_CHARS: usize = cairn_model::MAX_NOTE_CHARS;

/// What to say under a note editor: nothing while far from the limit, a count
/// near it, and the refusal past it (the text stays; nothing is cut).
pub fn note_counter(text: &str) -> Option<(String, bool)> {
    let n = text.chars().count();
    if n > NOTE_MAX_CHARS {
        Some((
            format!(
                "{} characters too long: notes hold up to {NOTE_MAX_CHARS}. Shorten it to save.",
                n - NOTE_MAX_CHARS
            ),
            true,
        ))
    } else if n * 10 >= NOTE_MAX_CHARS * 9 {
        Some((format!("{n} / {NOTE_MAX_CHARS}"), false))
    } else {
        None
    }
}

/// The origin (`scheme://host[:port]`) of a page URL, if it is a web page.
pub fn page_origin(url: &str) -> Option<String> {
    cairn_model::PageKey::from_url(url).ok().map(|k| k.origin())
}

/// Whose annotations the side panel lists.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Filter {
    #[default]
    All,
    Mine,
    Teammates,
    /// Shared with this community (slug).
    Community(String),
}

impl Filter {
    pub fn admits(&self, h: &HighlightSummary) -> bool {
        match self {
            Filter::All => true,
            Filter::Mine => h.teammate.is_none(),
            Filter::Teammates => h.teammate.is_some(),
            Filter::Community(slug) => h.communities.iter().any(|c| c == slug),
        }
    }
}

/// The side panel's list: the highlights `filter` admits in the order they
/// appear on the page; notes on the whole page (no place in the text) first,
/// orphans (text no longer found) last, each group oldest first among equals.
pub fn in_document_order<'a>(highlights: &'a [HighlightSummary], filter: &Filter) -> Vec<&'a HighlightSummary> {
    let mut out: Vec<&HighlightSummary> = highlights.iter().filter(|h| filter.admits(h)).collect();
    out.sort_by(|a, b| {
        let rank = |h: &HighlightSummary| (h.orphan, h.position.is_some(), h.position.unwrap_or(0));
        rank(a).cmp(&rank(b)).then_with(|| a.created.cmp(&b.created)).then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// Words for who sees an item, once the user is choosing: nobody else, or the
/// named communities.
pub fn share_summary(chosen: &[String], communities: &[(String, String)]) -> String {
    if chosen.is_empty() {
        return "Private: only you".into();
    }
    let names: Vec<&str> = chosen
        .iter()
        .map(|slug| communities.iter().find(|(id, _)| id == slug).map_or(slug.as_str(), |(_, name)| name.as_str()))
        .collect();
    format!("Shared with {}", names.join(", "))
}

/// A message shown after an action, where the user is looking. Only one is
/// shown at a time, so an old error never sits beside a newer success.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub tone: Tone,
    pub text: String,
    /// A deleted item that "Undo" brings back.
    pub undo: Option<String>,
    /// Tells notices apart so that a timer dismisses only its own.
    pub serial: u32,
}

impl Notice {
    /// How long it stays before it goes by itself; errors stay until replaced or dismissed.
    pub fn lifetime_ms(&self) -> Option<u32> {
        match (self.tone, &self.undo) {
            (Tone::Bad, _) => None,
            (_, Some(_)) => Some(cairn_protocol::messages::UNDO_WINDOW_MS as u32),
            _ => Some(3_500),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct PopupState {
    /// The page the popup is about; `None` when the tab is not a web page Cairn can see.
    pub page_url: Option<String>,
    pub page_key: Option<String>,
    pub highlights: Vec<HighlightSummary>,
    pub clips: Vec<ClipSummary>,
    pub status: Option<StatusReport>,
    pub loading: bool,
    /// A sync the user asked for is running.
    pub syncing: bool,
    /// A clip is being made.
    pub clipping: bool,
    pub notice: Option<Notice>,
    /// The highlight whose note is being edited.
    pub editing: Option<String>,
    /// The highlight whose tags are being edited (side panel).
    pub tagging: Option<String>,
    /// The highlight a reply is being written to (side panel).
    pub replying: Option<String>,
    /// The highlight whose audience is being chosen (side panel), and the choice so far.
    pub sharing: Option<(String, Vec<String>)>,
    /// Whose annotations the side panel lists.
    pub filter: Filter,
    /// Notes shown whole rather than clamped.
    pub expanded: Vec<String>,
    /// The clip form: note and tags for the next clip, cleared once it is made.
    pub clip_note: String,
    pub clip_tags: Vec<String>,
    serial: u32,
}

pub enum PopupAction {
    Opened {
        page_url: Option<String>,
    },
    PageLoaded {
        page_key: String,
        highlights: Vec<HighlightSummary>,
        clips: Vec<ClipSummary>,
        /// A highlight whose note the user asked from the page to write.
        focus: Option<String>,
    },
    SetFilter(Filter),
    /// The user asked from the page to write this highlight's note.
    WriteNote(String),
    StartTagging(String),
    StartReplying(String),
    StartSharing(String),
    /// Tick or untick one community in the audience being chosen.
    ToggleShare(String),
    StatusLoaded(StatusReport),
    SyncStarted,
    /// A sync the user asked for ended; the status says how.
    SyncFinished(StatusReport),
    /// Deleted by the user: gone from the list, with "Undo" offered.
    Deleted {
        id: String,
        shared: bool,
    },
    StartEditing(String),
    StopEditing,
    NoteSaved {
        id: String,
        note: String,
    },
    ToggleExpanded(String),
    ClipNote(String),
    ClipTags(Vec<String>),
    ClipStarted,
    Clipped,
    Succeeded(String),
    Failed(String),
    Dismiss {
        serial: u32,
    },
}

impl PopupState {
    /// Whether Cairn runs on the popup's page.
    pub fn site_allowed(&self) -> bool {
        match (&self.page_url, &self.status) {
            (Some(url), Some(status)) => page_origin(url).is_some_and(|o| status.allowed_sites.contains(&o)),
            _ => false,
        }
    }

    /// Opens the note editor of a highlight (and only it), listed whatever the filter.
    fn write_note(&mut self, id: String) {
        if !self.highlights.iter().any(|h| h.id == id && self.filter.admits(h)) {
            self.filter = Filter::All;
        }
        self.tagging = None;
        self.sharing = None;
        self.replying = None;
        self.editing = Some(id);
    }

    /// Every tag the user has on this page, for suggestions.
    pub fn known_tags(&self) -> Vec<String> {
        let mut tags = Vec::new();
        for t in self.clips.iter().flat_map(|c| &c.tags).chain(self.highlights.iter().flat_map(|h| &h.tags)) {
            add_tag(&mut tags, t);
        }
        tags
    }

    fn notify(&mut self, tone: Tone, text: String, undo: Option<String>) {
        self.serial += 1;
        self.notice = Some(Notice { tone, text, undo, serial: self.serial });
    }
}

impl Reducible for PopupState {
    type Action = PopupAction;

    fn reduce(self: Rc<Self>, action: PopupAction) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            PopupAction::Opened { page_url } => {
                s.loading = page_url.is_some();
                s.page_url = page_url;
            }
            PopupAction::PageLoaded { page_key, highlights, clips, focus } => {
                if s.page_key.as_ref() != Some(&page_key) {
                    // Another page: what was being edited or filtered was about the last one.
                    s.editing = None;
                    s.tagging = None;
                    s.sharing = None;
                    s.replying = None;
                    s.expanded.clear();
                    if matches!(s.filter, Filter::Community(_)) {
                        s.filter = Filter::All;
                    }
                }
                s.page_key = Some(page_key);
                s.highlights = highlights;
                s.clips = clips;
                s.loading = false;
                if let Some(id) = focus {
                    s.write_note(id);
                }
            }
            PopupAction::WriteNote(id) => s.write_note(id),
            PopupAction::SetFilter(filter) => s.filter = filter,
            PopupAction::StartTagging(id) => {
                s.editing = None;
                s.sharing = None;
                s.replying = None;
                s.tagging = Some(id);
            }
            PopupAction::StartReplying(id) => {
                s.editing = None;
                s.sharing = None;
                s.tagging = None;
                s.replying = Some(id);
            }
            PopupAction::StartSharing(id) => {
                let chosen = s.highlights.iter().find(|h| h.id == id).map(|h| h.communities.clone());
                let chosen = chosen.or_else(|| s.clips.iter().find(|c| c.id == id).map(|c| c.communities.clone()));
                s.editing = None;
                s.tagging = None;
                s.replying = None;
                s.sharing = Some((id, chosen.unwrap_or_default()));
            }
            PopupAction::ToggleShare(slug) => {
                if let Some((_, chosen)) = &mut s.sharing {
                    if let Some(i) = chosen.iter().position(|c| c == &slug) {
                        chosen.remove(i);
                    } else {
                        chosen.push(slug);
                    }
                }
            }
            PopupAction::StatusLoaded(status) => s.status = Some(status),
            PopupAction::SyncStarted => s.syncing = true,
            PopupAction::SyncFinished(status) => {
                s.syncing = false;
                match (&status.last_error, status.user.is_some(), status.pending) {
                    (Some(e), _, _) => s.notify(Tone::Bad, format!("Sync failed: {e}"), None),
                    (None, false, _) => {
                        s.notify(Tone::Neutral, "Not signed in: sign in from Options to sync".into(), None)
                    }
                    (None, true, 0) => s.notify(Tone::Good, "Everything is synced".into(), None),
                    (None, true, n) => {
                        s.notify(Tone::Neutral, format!("Sent what the server took; {n} still waiting"), None)
                    }
                }
                s.status = Some(status);
            }
            PopupAction::Deleted { id, shared } => {
                let what = if s.clips.iter().any(|c| c.id == id) { "Clip" } else { "Highlight" };
                s.highlights.retain(|h| h.id != id);
                s.clips.retain(|c| c.id != id);
                s.expanded.retain(|e| e != &id);
                let text = if shared {
                    format!("{what} deleted. Teammates lose it in a few seconds unless you undo.")
                } else {
                    format!("{what} deleted.")
                };
                s.notify(Tone::Neutral, text, Some(id));
            }
            PopupAction::StartEditing(id) => {
                s.tagging = None;
                s.sharing = None;
                s.replying = None;
                s.editing = Some(id);
            }
            PopupAction::StopEditing => {
                s.editing = None;
                s.tagging = None;
                s.sharing = None;
                s.replying = None;
            }
            PopupAction::NoteSaved { id, note } => {
                if let Some(h) = s.highlights.iter_mut().find(|h| h.id == id) {
                    h.note = (!note.trim().is_empty()).then_some(note);
                }
                s.editing = None;
                s.notify(Tone::Good, "Note saved".into(), None);
            }
            PopupAction::ToggleExpanded(id) => {
                if let Some(i) = s.expanded.iter().position(|e| e == &id) {
                    s.expanded.remove(i);
                } else {
                    s.expanded.push(id);
                }
            }
            PopupAction::ClipNote(note) => s.clip_note = note,
            PopupAction::ClipTags(tags) => s.clip_tags = tags,
            PopupAction::ClipStarted => {
                s.clipping = true;
                s.notice = None;
            }
            PopupAction::Clipped => {
                s.clipping = false;
                s.clip_note.clear();
                s.clip_tags.clear();
                s.notify(Tone::Good, "Clipped".into(), None);
            }
            PopupAction::Succeeded(text) => s.notify(Tone::Good, text, None),
            PopupAction::Failed(e) => {
                s.loading = false;
                s.syncing = false;
                s.clipping = false;
                s.notify(Tone::Bad, e, None);
            }
            PopupAction::Dismiss { serial } => {
                if s.notice.as_ref().is_some_and(|n| n.serial == serial) {
                    s.notice = None;
                }
            }
        }
        Rc::new(s)
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct OptionsState {
    pub status: Option<StatusReport>,
    pub busy: bool,
    /// The outcome of the last action: `Ok(text)` or `Err(text)`.
    pub notice: Option<Result<String, String>>,
}

pub enum OptionsAction {
    StatusLoaded(StatusReport),
    Working,
    Succeeded(StatusReport, String),
    Failed(String),
}

impl Reducible for OptionsState {
    type Action = OptionsAction;

    fn reduce(self: Rc<Self>, action: OptionsAction) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            OptionsAction::StatusLoaded(status) => s.status = Some(status),
            OptionsAction::Working => {
                s.busy = true;
                s.notice = None;
            }
            OptionsAction::Succeeded(status, text) => {
                s.status = Some(status);
                s.busy = false;
                s.notice = Some(Ok(text));
            }
            OptionsAction::Failed(e) => {
                s.busy = false;
                s.notice = Some(Err(e));
            }
        }
        Rc::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::Color;
    use cairn_protocol::api::UserInfo;

    fn status() -> StatusReport {
        StatusReport {
            user: Some(UserInfo { id: "u1".into(), username: "alice".into(), display_name: "Alice Example".into() }),
            allowed_sites: vec!["http://127.0.0.1:8788".into()],
            ..StatusReport::default()
        }
    }

    fn summary(id: &str) -> HighlightSummary {
        HighlightSummary {
            id: id.into(),
            quote: "q".into(),
            note: None,
            note_html: None,
            color: Color::Yellow,
            created: "2026-11-23T00:00:00.000Z".into(),
            teammate: None,
            sync: SyncState::Pending,
            orphan: false,
            audience: vec![],
            communities: vec![],
            tags: vec![],
            position: None,
            replies: vec![],
        }
    }

    fn placed(id: &str, position: Option<u64>, teammate: Option<&str>, communities: &[&str]) -> HighlightSummary {
        HighlightSummary {
            position,
            teammate: teammate.map(str::to_string),
            communities: communities.iter().map(|c| c.to_string()).collect(),
            ..summary(id)
        }
    }

    #[test]
    fn the_panel_lists_page_notes_first_then_document_order_then_orphans() {
        let mut orphan = placed("o", Some(1), None, &[]);
        orphan.orphan = true;
        let all = vec![
            placed("late", Some(900), None, &[]),
            orphan,
            placed("early", Some(5), Some("Bob"), &["team"]),
            placed("page-note", None, None, &[]),
            placed("middle", Some(40), None, &["ops"]),
        ];
        let ids = |f: &Filter| in_document_order(&all, f).iter().map(|h| h.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&Filter::All), ["page-note", "early", "middle", "late", "o"]);
        assert_eq!(ids(&Filter::Mine), ["page-note", "middle", "late", "o"]);
        assert_eq!(ids(&Filter::Teammates), ["early"]);
        assert_eq!(ids(&Filter::Community("ops".into())), ["middle"]);
        assert_eq!(ids(&Filter::Community("nobody".into())), Vec::<String>::new());
    }

    #[test]
    fn choosing_an_audience_starts_from_the_items_own_and_toggles() {
        let s = Rc::new(PopupState::default()).reduce(PopupAction::PageLoaded {
            page_key: "k".into(),
            highlights: vec![placed("a", Some(1), None, &["team"])],
            clips: vec![],
            focus: None,
        });
        let s = s.reduce(PopupAction::StartSharing("a".into()));
        assert_eq!(s.sharing, Some(("a".into(), vec!["team".to_string()])));
        let s = s.reduce(PopupAction::ToggleShare("ops".into())).reduce(PopupAction::ToggleShare("team".into()));
        assert_eq!(s.sharing, Some(("a".into(), vec!["ops".to_string()])));
        let communities = vec![("ops".to_string(), "Operations".to_string())];
        assert_eq!(share_summary(&["ops".into()], &communities), "Shared with Operations");
        assert_eq!(share_summary(&[], &communities), "Private: only you");
        // Only one editor at a time.
        let s = s.reduce(PopupAction::StartTagging("a".into()));
        assert_eq!((s.sharing.clone(), s.tagging.as_deref()), (None, Some("a")));
        let s = s.reduce(PopupAction::StartReplying("a".into()));
        assert_eq!((s.tagging.clone(), s.replying.as_deref()), (None, Some("a")));
        let s = s.reduce(PopupAction::StartEditing("a".into()));
        assert_eq!((s.replying.clone(), s.editing.as_deref()), (None, Some("a")));
    }

    #[test]
    fn a_note_asked_for_from_the_page_opens_its_editor_even_under_another_filter() {
        let s = Rc::new(PopupState { filter: Filter::Teammates, ..PopupState::default() });
        let s = s.reduce(PopupAction::PageLoaded {
            page_key: "k".into(),
            highlights: vec![placed("mine", Some(1), None, &[])],
            clips: vec![],
            focus: Some("mine".into()),
        });
        assert_eq!((s.editing.as_deref(), &s.filter), (Some("mine"), &Filter::All));
        // Another page: the editor and a community filter were about the last one.
        let s = s.reduce(PopupAction::SetFilter(Filter::Community("team".into())));
        let s =
            s.reduce(PopupAction::PageLoaded { page_key: "k2".into(), highlights: vec![], clips: vec![], focus: None });
        assert_eq!((s.editing.clone(), &s.filter), (None, &Filter::All));
    }

    #[test]
    fn connection_label_says_what_is_going_on() {
        assert_eq!(connection_label(&StatusReport::default()).1, Tone::Neutral);
        assert_eq!(connection(&StatusReport::default()).short, "Not connected");
        assert_eq!(connection_label(&status()), ("Synced as Alice Example".into(), Tone::Good));
        let mut s = status();
        s.pending = 3;
        assert_eq!(connection_label(&s).0, "Signed in as Alice Example: 3 changes waiting to sync");
        s.last_error = Some("Cannot reach the Cairn server at http://x".into());
        assert_eq!(connection_label(&s), ("Sync error: Cannot reach the Cairn server at http://x".into(), Tone::Bad));
    }

    #[test]
    fn popup_flow() {
        let s = Rc::new(PopupState::default());
        let s = s.reduce(PopupAction::Opened { page_url: Some("http://127.0.0.1:8788/intranet/index.html".into()) });
        assert!(s.loading);
        assert!(!s.site_allowed());
        let s = s.reduce(PopupAction::StatusLoaded(status()));
        assert!(s.site_allowed());
        let s = s.reduce(PopupAction::PageLoaded {
            page_key: "k".into(),
            highlights: vec![summary("a"), summary("b")],
            clips: vec![],
            focus: None,
        });
        assert!(!s.loading);
        let s = s.reduce(PopupAction::Deleted { id: "a".into(), shared: false });
        assert_eq!(s.highlights.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(s.notice.as_ref().and_then(|n| n.undo.as_deref()), Some("a"));
        let s = s.reduce(PopupAction::StartEditing("b".into()));
        assert_eq!(s.editing.as_deref(), Some("b"));
        let s = s.reduce(PopupAction::NoteSaved { id: "b".into(), note: "why".into() });
        assert_eq!((s.editing.clone(), s.highlights[0].note.as_deref()), (None, Some("why")));
        let s = s.reduce(PopupAction::NoteSaved { id: "b".into(), note: "  ".into() });
        assert_eq!(s.highlights[0].note, None);
        let s = s.reduce(PopupAction::Failed("boom".into()));
        assert_eq!(s.notice.as_ref().map(|n| (n.tone, n.text.as_str())), Some((Tone::Bad, "boom")));
    }

    #[test]
    fn one_notice_at_a_time_and_timers_dismiss_only_their_own() {
        let s = Rc::new(PopupState::default()).reduce(PopupAction::Failed("server down".into()));
        let old = s.notice.clone().unwrap();
        assert_eq!(old.lifetime_ms(), None, "errors stay until replaced");
        let s = s.reduce(PopupAction::ClipStarted);
        assert_eq!(s.notice, None, "starting an action clears the old outcome");
        let s = s.reduce(PopupAction::Clipped);
        let new = s.notice.clone().unwrap();
        assert_eq!((new.tone, new.text.as_str()), (Tone::Good, "Clipped"));
        let s = s.reduce(PopupAction::Dismiss { serial: old.serial });
        assert!(s.notice.is_some(), "an older timer does not dismiss a newer notice");
        let s = s.reduce(PopupAction::Dismiss { serial: new.serial });
        assert_eq!(s.notice, None);
    }

    #[test]
    fn a_clip_clears_the_form_so_the_next_one_does_not_reuse_it() {
        let s = Rc::new(PopupState::default())
            .reduce(PopupAction::ClipNote("read first".into()))
            .reduce(PopupAction::ClipTags(vec!["design".into()]))
            .reduce(PopupAction::ClipStarted);
        assert!(s.clipping);
        let s = s.reduce(PopupAction::Clipped);
        assert_eq!((s.clip_note.as_str(), s.clip_tags.len(), s.clipping), ("", 0, false));
    }

    #[test]
    fn sync_now_says_what_happened() {
        let s = Rc::new(PopupState::default()).reduce(PopupAction::SyncStarted);
        assert!(s.syncing);
        let s = s.reduce(PopupAction::SyncFinished(status()));
        assert_eq!(s.notice.as_ref().map(|n| n.text.as_str()), Some("Everything is synced"));
        let mut down = status();
        down.last_error = Some("Cannot reach the Cairn server at http://x".into());
        let s = s.reduce(PopupAction::SyncStarted).reduce(PopupAction::SyncFinished(down));
        assert!(!s.syncing);
        assert_eq!(s.notice.as_ref().map(|n| n.tone), Some(Tone::Bad));
    }

    #[test]
    fn deleting_a_shared_item_says_teammates_lose_it() {
        let mut shared = summary("a");
        shared.audience = vec!["Demo team".into()];
        let s = Rc::new(PopupState { highlights: vec![shared], ..PopupState::default() })
            .reduce(PopupAction::Deleted { id: "a".into(), shared: true });
        let n = s.notice.clone().unwrap();
        assert!(n.text.contains("Teammates lose it"), "{}", n.text);
        assert_eq!(n.lifetime_ms(), Some(cairn_protocol::messages::UNDO_WINDOW_MS as u32));
    }

    #[test]
    fn popup_on_non_web_page() {
        let s = Rc::new(PopupState::default()).reduce(PopupAction::Opened { page_url: None });
        assert!(!s.loading);
        assert!(!s.site_allowed());
        assert_eq!(page_origin("chrome://extensions"), None);
    }

    #[test]
    fn options_flow() {
        let s = Rc::new(OptionsState::default()).reduce(OptionsAction::Working);
        assert!(s.busy);
        let s = s.reduce(OptionsAction::Failed("wrong password".into()));
        assert_eq!((s.busy, s.notice.clone()), (false, Some(Err("wrong password".into()))));
        let s = s.reduce(OptionsAction::Working);
        assert_eq!(s.notice, None);
        let s = s.reduce(OptionsAction::Succeeded(status(), "Signed in".into()));
        assert_eq!(s.status.as_ref().unwrap().user.as_ref().unwrap().username, "alice");
    }

    #[test]
    fn clip_helpers() {
        let md = "---\ntitle: \"x\"\n---\n\n# Heading\n\nBody text";
        assert_eq!(clip_preview(md, 100), "# Heading\n\nBody text");
        assert_eq!(clip_preview(md, 5), "# Hea…");
        assert_eq!(clip_preview("no front matter", 100), "no front matter");
    }

    #[test]
    fn tags_keep_their_spaces_and_commas_separate_them() {
        assert_eq!(parse_tags("payments deploy"), vec!["payments deploy"]);
        assert_eq!(parse_tags("ops, runbook  ops,,deploy; Ops"), vec!["ops", "runbook ops", "deploy"]);
        let mut tags = vec!["Design".to_string()];
        add_tag(&mut tags, "  design ");
        add_tag(&mut tags, "event   bus");
        assert_eq!(tags, vec!["Design", "event bus"]);
        let known = vec!["deploy".to_string(), "Design".into(), "docs".into(), "ops".into()];
        assert_eq!(tag_suggestions(&known, &["docs".into()], "d", 5), vec!["deploy", "Design"]);
        assert_eq!(tag_suggestions(&known, &[], "", 2), vec!["deploy", "Design"]);
    }

    #[test]
    fn note_counter_warns_near_the_limit_and_refuses_past_it() {
        assert_eq!(note_counter("short"), None);
        let near = "a".repeat(NOTE_MAX_CHARS * 9 / 10);
        assert_eq!(note_counter(&near).map(|c| c.1), Some(false));
        let over = "a".repeat(NOTE_MAX_CHARS + 5);
        let (text, over_limit) = note_counter(&over).unwrap();
        assert!(over_limit);
        assert!(text.starts_with("5 characters too long"), "{text}");
    }

    #[test]
    fn wording_helpers() {
        assert_eq!(sync_label(&SyncState::Rejected { reason: "not a member".into() }), "not shared: not a member");
        assert_eq!(sync_key(&SyncState::Shared), "shared");
        assert_eq!(audience_label(&[], None), "Only you");
        assert_eq!(audience_label(&["Demo team".into(), "Ops".into()], None), "Demo team, Ops");
        let now = cairn_model::parse_rfc3339_ms("2026-11-23T12:00:00.000Z").unwrap();
        assert_eq!(relative_time("2026-11-23T11:59:30.000Z", now), "just now");
        assert_eq!(relative_time("2026-11-23T11:15:00.000Z", now), "45 min ago");
        assert_eq!(relative_time("2026-11-23T09:00:00.000Z", now), "3 h ago");
        assert_eq!(relative_time("2026-11-21T12:00:00.000Z", now), "2 d ago");
        assert_eq!(relative_time("2026-10-01T12:00:00.000Z", now), "2026-10-01");
    }
}
