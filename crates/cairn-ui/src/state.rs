//! Page state for the popup and the options page, as reducers.

use std::rc::Rc;

use cairn_protocol::messages::{ClipSummary, HighlightSummary, StatusReport, SyncState};
use yew::Reducible;

/// How the connection looks to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tone {
    Good,
    Neutral,
    Bad,
}

/// One line saying whether highlights reach the server.
pub fn connection_label(status: &StatusReport) -> (String, Tone) {
    let Some(user) = &status.user else {
        return ("Not connected: highlights stay on this device".into(), Tone::Neutral);
    };
    if let Some(e) = &status.last_error {
        return (format!("Sync error: {e}"), Tone::Bad);
    }
    match status.pending {
        0 => (format!("Synced as {}", user.display_name), Tone::Good),
        1 => ("1 change waiting to sync".into(), Tone::Neutral),
        n => (format!("{n} changes waiting to sync"), Tone::Neutral),
    }
}

/// Where one highlight stands, in a few words.
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

/// Tags typed as `a, b c, d` (commas or spaces separate).
pub fn parse_tags(input: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for t in input.split([',', ' ']).map(str::trim).filter(|t| !t.is_empty()) {
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_string());
        }
    }
    tags
}

/// The origin (`scheme://host[:port]`) of a page URL, if it is a web page.
pub fn page_origin(url: &str) -> Option<String> {
    cairn_model::PageKey::from_url(url).ok().map(|k| k.origin())
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
    pub error: Option<String>,
    /// The highlight whose note is being edited.
    pub editing: Option<String>,
    /// A message after an action (e.g. "Select the new text on the page...").
    pub info: Option<String>,
}

pub enum PopupAction {
    Opened { page_url: Option<String> },
    PageLoaded { page_key: String, highlights: Vec<HighlightSummary>, clips: Vec<ClipSummary> },
    StatusLoaded(StatusReport),
    Deleted(String),
    StartEditing(String),
    StopEditing,
    NoteSaved { id: String, note: String },
    Info(String),
    Failed(String),
}

impl PopupState {
    /// Whether Cairn runs on the popup's page.
    pub fn site_allowed(&self) -> bool {
        match (&self.page_url, &self.status) {
            (Some(url), Some(status)) => page_origin(url).is_some_and(|o| status.allowed_sites.contains(&o)),
            _ => false,
        }
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
            PopupAction::PageLoaded { page_key, highlights, clips } => {
                s.page_key = Some(page_key);
                s.highlights = highlights;
                s.clips = clips;
                s.loading = false;
            }
            PopupAction::StatusLoaded(status) => s.status = Some(status),
            PopupAction::Deleted(id) => {
                s.highlights.retain(|h| h.id != id);
                s.clips.retain(|c| c.id != id);
            }
            PopupAction::StartEditing(id) => s.editing = Some(id),
            PopupAction::StopEditing => s.editing = None,
            PopupAction::NoteSaved { id, note } => {
                if let Some(h) = s.highlights.iter_mut().find(|h| h.id == id) {
                    h.note = (!note.trim().is_empty()).then_some(note);
                    h.sync = SyncState::Pending;
                }
                s.editing = None;
            }
            PopupAction::Info(text) => s.info = Some(text),
            PopupAction::Failed(e) => {
                s.error = Some(e);
                s.loading = false;
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
            color: Color::Yellow,
            created: "2026-11-23T00:00:00.000Z".into(),
            teammate: None,
            sync: SyncState::Pending,
            orphan: false,
        }
    }

    #[test]
    fn connection_label_says_what_is_going_on() {
        assert_eq!(connection_label(&StatusReport::default()).1, Tone::Neutral);
        assert_eq!(connection_label(&status()), ("Synced as Alice Example".into(), Tone::Good));
        let mut s = status();
        s.pending = 3;
        assert_eq!(connection_label(&s).0, "3 changes waiting to sync");
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
        });
        assert!(!s.loading);
        let s = s.reduce(PopupAction::Deleted("a".into()));
        assert_eq!(s.highlights.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["b"]);
        let s = s.reduce(PopupAction::StartEditing("b".into()));
        assert_eq!(s.editing.as_deref(), Some("b"));
        let s = s.reduce(PopupAction::NoteSaved { id: "b".into(), note: "why".into() });
        assert_eq!((s.editing.clone(), s.highlights[0].note.as_deref()), (None, Some("why")));
        let s = s.reduce(PopupAction::NoteSaved { id: "b".into(), note: "  ".into() });
        assert_eq!(s.highlights[0].note, None);
        let s = s.reduce(PopupAction::Failed("boom".into()));
        assert_eq!(s.error.as_deref(), Some("boom"));
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
        assert_eq!(parse_tags("ops, runbook  ops,,deploy"), vec!["ops", "runbook", "deploy"]);
    }

    #[test]
    fn sync_labels() {
        assert_eq!(sync_label(&SyncState::Rejected { reason: "not a member".into() }), "not shared: not a member");
        assert_eq!(sync_key(&SyncState::Shared), "shared");
    }
}
