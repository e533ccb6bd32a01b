use std::fmt;

use url::Url;

/// The identity of a page for annotation purposes: two URLs with the same key
/// show the same document, so annotations made on one appear on the other.
///
/// Made from the URL by dropping what does not change the document: the fragment,
/// tracking parameters (`utm_*`, `fbclid`, `gclid`, ...), credentials, default ports
/// and the case of the host. Then the first matching rule of [`TOOL_RULES`] rewrites
/// the URLs of tools that show one document under several addresses:
///
/// | tool | addresses | key |
/// |---|---|---|
/// | Confluence | `…/pages/viewpage.action?pageId=N`, `…/spaces/KEY/pages/N/Title` | `…/pages/N` |
/// | Jira | `…/browse/KEY-1`, any page with `?selectedIssue=KEY-1` | `…/browse/KEY-1` |
/// | SharePoint | `/sites/X/SitePages/Page.aspx?web=1&csf=1&e=…` | without query |
/// | GitHub, GitLab | `?tab=…`, `?ref_type=…` on `github.*` / `gitlab.*` hosts | without those |
/// | MediaWiki | `…/index.php?title=T` (or with `action=view`), `/wiki/T` | `/wiki/T` |
///
/// [`PageKey::from_url_with_canonical`] also follows the page's `rel=canonical` link
/// when it is on the same origin (another origin could claim any page's annotations).
/// The original URL is kept beside the key (the W3C target `source`), because links
/// back to the page should go where the user was.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PageKey(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageKeyError {
    NotAUrl(String),
    /// Only web pages can be annotated: no `file:`, `chrome:`, `data:` ...
    UnsupportedScheme(String),
    TooLong(usize),
}

impl fmt::Display for PageKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageKeyError::NotAUrl(u) => write!(f, "{u:?} is not an absolute URL"),
            PageKeyError::UnsupportedScheme(s) => {
                write!(f, "pages with scheme {s:?} cannot be annotated; only http and https")
            }
            PageKeyError::TooLong(n) => {
                write!(f, "the page URL is {n} characters long; at most {} are accepted", crate::MAX_URL_CHARS)
            }
        }
    }
}

impl std::error::Error for PageKeyError {}

/// Query parameters that identify a click, not a document.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "yclid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "_ga",
    "_gl",
];

fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

/// A per-tool rule: which tool, and how it rewrites a cleaned URL (`None`: not its URL).
pub struct ToolRule {
    pub tool: &'static str,
    pub rewrite: fn(&Url) -> Option<Url>,
}

/// The per-tool rules, tried in order; the first that applies wins (see [`PageKey`]).
pub const TOOL_RULES: &[ToolRule] = &[
    ToolRule { tool: "confluence", rewrite: confluence },
    ToolRule { tool: "jira", rewrite: jira },
    ToolRule { tool: "sharepoint", rewrite: sharepoint },
    ToolRule { tool: "github-gitlab", rewrite: code_host },
    ToolRule { tool: "mediawiki", rewrite: mediawiki },
];

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn with_path(url: &Url, path: &str) -> Url {
    let mut u = url.clone();
    u.set_path(path);
    u.set_query(None);
    u
}

/// `…/pages/viewpage.action?pageId=N` and `…/spaces/KEY/pages/N[/Title]` → `…/pages/N`.
fn confluence(url: &Url) -> Option<Url> {
    let path = url.path();
    if let Some(base) = path.strip_suffix("/pages/viewpage.action") {
        let id = query(url, "pageId").filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))?;
        return Some(with_path(url, &format!("{base}/pages/{id}")));
    }
    let at = path.find("/spaces/")?;
    let rest: Vec<&str> = path[at + "/spaces/".len()..].split('/').collect();
    match rest.as_slice() {
        [_space, "pages", id, ..] if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
            Some(with_path(url, &format!("{}/pages/{id}", &path[..at])))
        }
        _ => None,
    }
}

fn is_issue_key(k: &str) -> bool {
    match k.split_once('-') {
        Some((p, n)) => {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && p.as_bytes()[0].is_ascii_alphabetic()
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// `…/browse/KEY-1[?…]` and any board or search page with `?selectedIssue=KEY-1` → `…/browse/KEY-1`.
fn jira(url: &Url) -> Option<Url> {
    if let Some(issue) = query(url, "selectedIssue").filter(|k| is_issue_key(k)) {
        // A board's path does not show Jira's own prefix; Jira Cloud and most servers have none.
        return Some(with_path(url, &format!("/browse/{}", issue.to_ascii_uppercase())));
    }
    let at = url.path().find("/browse/")?;
    let issue = url.path()[at + "/browse/".len()..].trim_end_matches('/');
    is_issue_key(issue).then(|| with_path(url, &format!("{}/browse/{issue}", &url.path()[..at])))
}

/// `/sites/X/SitePages/Page.aspx?web=1&csf=1&e=…`: the query only says how the page was opened.
fn sharepoint(url: &Url) -> Option<Url> {
    let lower = url.path().to_ascii_lowercase();
    (lower.contains("/sitepages/") && lower.ends_with(".aspx")).then(|| with_path(url, url.path()))
}

/// GitHub and GitLab: `tab` (which README tab), `ref_type`, `source`, `from` choose a view
/// of the same content; other parameters (`plain=1`, `ref=`) change what is shown.
fn code_host(url: &Url) -> Option<Url> {
    let host = url.host_str()?;
    let known =
        ["github.com", "gitlab.com"].contains(&host) || host.starts_with("github.") || host.starts_with("gitlab.");
    if !known || url.query().is_none() {
        return None;
    }
    let noise = ["tab", "ref_type", "source", "from"];
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !noise.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut u = url.clone();
    if kept.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(kept);
    }
    Some(u)
}

/// `…/index.php?title=T` (alone or with `action=view`) → `/wiki/T`, MediaWiki's article
/// path on Wikipedia and most installs; spaces in titles are underscores there.
fn mediawiki(url: &Url) -> Option<Url> {
    if !url.path().ends_with("/index.php") {
        return None;
    }
    let title = query(url, "title").filter(|t| !t.is_empty())?;
    let only_view = url.query_pairs().all(|(k, v)| k == "title" || (k == "action" && v == "view"));
    only_view.then(|| with_path(url, &format!("/wiki/{}", title.replace(' ', "_"))))
}

impl PageKey {
    /// Which tool rule, if any, applies to `raw` (for diagnostics: "why do these two
    /// URLs share annotations?").
    pub fn tool_rule(raw: &str) -> Option<&'static str> {
        let url = Url::parse(raw).ok()?;
        TOOL_RULES.iter().find(|r| (r.rewrite)(&url).is_some()).map(|r| r.tool)
    }

    /// The key of the page at `raw`, following `canonical` (the page's
    /// `<link rel=canonical href>`, possibly relative) when it is on the same origin.
    pub fn from_url_with_canonical(raw: &str, canonical: Option<&str>) -> Result<PageKey, PageKeyError> {
        let own = PageKey::from_url(raw)?;
        let Some(href) = canonical else { return Ok(own) };
        let base = Url::parse(raw).map_err(|_| PageKeyError::NotAUrl(raw.chars().take(80).collect()))?;
        match base.join(href.trim()) {
            Ok(c) if c.origin() == base.origin() => PageKey::from_url(c.as_str()).or(Ok(own)),
            _ => Ok(own),
        }
    }

    pub fn from_url(raw: &str) -> Result<PageKey, PageKeyError> {
        if raw.chars().count() > crate::MAX_URL_CHARS {
            return Err(PageKeyError::TooLong(raw.chars().count()));
        }
        let mut url = Url::parse(raw).map_err(|_| PageKeyError::NotAUrl(raw.chars().take(80).collect()))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(PageKeyError::UnsupportedScheme(url.scheme().to_string()));
        }
        url.set_fragment(None);
        // Credentials never belong in a key that is stored and shared.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        if let Some(rewritten) = TOOL_RULES.iter().find_map(|r| (r.rewrite)(&url)) {
            url = rewritten;
        }
        Ok(PageKey(url.into()))
    }

    /// The origin (`scheme://host[:port]`) of the page: what site allow-lists are about.
    pub fn origin(&self) -> String {
        Url::parse(&self.0).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(u: &str) -> String {
        PageKey::from_url(u).unwrap().to_string()
    }

    #[test]
    fn drops_fragment_tracking_and_credentials() {
        assert_eq!(
            key("https://Wiki.Example.com:443/display/ENG/Runbook?utm_source=mail&pageId=42&fbclid=x#section-2"),
            "https://wiki.example.com/display/ENG/Runbook?pageId=42"
        );
        assert_eq!(key("http://user:pw@intra.local/a?utm_medium=x"), "http://intra.local/a");
        assert_eq!(key("http://127.0.0.1:8080/demo.html"), "http://127.0.0.1:8080/demo.html");
    }

    #[test]
    fn same_document_same_key() {
        assert_eq!(key("https://a.example/p?x=1#top"), key("https://a.example/p?x=1&gclid=abc"));
        assert_ne!(key("https://a.example/p?x=1"), key("https://a.example/p?x=2"));
    }

    #[test]
    fn refuses_non_web_pages() {
        assert_eq!(
            PageKey::from_url("chrome://settings").unwrap_err(),
            PageKeyError::UnsupportedScheme("chrome".into())
        );
        assert!(matches!(PageKey::from_url("not a url"), Err(PageKeyError::NotAUrl(_))));
        let long = format!("https://a.example/{}", "x".repeat(4000));
        assert!(matches!(PageKey::from_url(&long), Err(PageKeyError::TooLong(_))));
    }

    #[test]
    fn confluence_page_id_whatever_the_address() {
        let k = key("https://wiki.example.com/pages/viewpage.action?pageId=42&focusedCommentId=7");
        assert_eq!(k, "https://wiki.example.com/pages/42");
        assert_eq!(key("https://wiki.example.com/spaces/ENG/pages/42/Runbook+for+deploys"), k);
        assert_eq!(key("https://x.atlassian.net/wiki/spaces/ENG/pages/42"), "https://x.atlassian.net/wiki/pages/42");
        assert_eq!(
            key("https://x.atlassian.net/wiki/pages/viewpage.action?pageId=42"),
            "https://x.atlassian.net/wiki/pages/42"
        );
        // Not a page id: left alone.
        assert_eq!(key("https://wiki.example.com/spaces/ENG/overview"), "https://wiki.example.com/spaces/ENG/overview");
    }

    #[test]
    fn jira_issue_key_from_browse_and_boards() {
        let k = key("https://jira.example.com/browse/OPS-123?focusedCommentId=9");
        assert_eq!(k, "https://jira.example.com/browse/OPS-123");
        assert_eq!(key("https://jira.example.com/jira/software/projects/OPS/boards/4?selectedIssue=OPS-123"), k);
        assert_eq!(key("https://jira.example.com/browse/OPS"), "https://jira.example.com/browse/OPS");
        assert_eq!(PageKey::tool_rule("https://jira.example.com/browse/OPS-1"), Some("jira"));
        assert_eq!(PageKey::tool_rule("https://a.example/"), None);
    }

    #[test]
    fn sharepoint_pages_drop_how_they_were_opened() {
        assert_eq!(
            key("https://corp.sharepoint.com/sites/HR/SitePages/Leave.aspx?web=1&csf=1&e=AbC"),
            "https://corp.sharepoint.com/sites/HR/SitePages/Leave.aspx"
        );
        assert_eq!(
            key("https://corp.sharepoint.com/sites/HR/Shared%20Documents/Forms/AllItems.aspx?id=1"),
            "https://corp.sharepoint.com/sites/HR/Shared%20Documents/Forms/AllItems.aspx?id=1"
        );
    }

    #[test]
    fn code_hosts_drop_view_parameters_only() {
        assert_eq!(key("https://github.com/o/r?tab=readme-ov-file"), "https://github.com/o/r");
        assert_eq!(
            key("https://gitlab.example.com/g/p/-/blob/main/README.md?ref_type=heads"),
            "https://gitlab.example.com/g/p/-/blob/main/README.md"
        );
        assert_eq!(
            key("https://github.com/o/r/blob/main/a.md?plain=1&tab=x"),
            "https://github.com/o/r/blob/main/a.md?plain=1"
        );
        // `tab` elsewhere may well matter.
        assert_eq!(key("https://intra.example/report?tab=2"), "https://intra.example/report?tab=2");
    }

    #[test]
    fn mediawiki_title_whatever_the_address() {
        let k = key("https://en.wikipedia.org/wiki/Regression_testing");
        assert_eq!(k, "https://en.wikipedia.org/wiki/Regression_testing");
        assert_eq!(key("https://en.wikipedia.org/w/index.php?title=Regression testing"), k);
        assert_eq!(key("https://en.wikipedia.org/w/index.php?title=Regression_testing&action=view"), k);
        // An old revision or the edit form is another document.
        assert_eq!(
            key("https://en.wikipedia.org/w/index.php?title=Regression_testing&oldid=5"),
            "https://en.wikipedia.org/w/index.php?title=Regression_testing&oldid=5"
        );
    }

    #[test]
    fn canonical_link_followed_on_the_same_origin_only() {
        let k = |u, c| PageKey::from_url_with_canonical(u, c).unwrap().to_string();
        assert_eq!(k("https://a.example/p?session=1", Some("/articles/p")), "https://a.example/articles/p");
        assert_eq!(k("https://a.example/p", Some("https://evil.example/p")), "https://a.example/p");
        assert_eq!(k("https://a.example/p#x", None), "https://a.example/p");
        assert_eq!(k("https://a.example/p", Some("javascript:alert(1)")), "https://a.example/p");
    }

    #[test]
    fn origin_is_scheme_host_port() {
        assert_eq!(PageKey::from_url("http://127.0.0.1:8080/x?y=1").unwrap().origin(), "http://127.0.0.1:8080");
    }
}
