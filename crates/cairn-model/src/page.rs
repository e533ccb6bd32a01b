use std::fmt;

use url::Url;

/// The identity of a page for annotation purposes: two URLs with the same key
/// show the same document, so annotations made on one appear on the other.
///
/// Made from the URL by dropping what does not change the document: the fragment,
/// tracking parameters (`utm_*`, `fbclid`, `gclid`, ...), default ports and the
/// case of the host. The original URL is kept beside the key (the W3C target
/// `source`), because links back to the page should go where the user was.
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
            PageKeyError::TooLong(n) => write!(
                f,
                "the page URL is {n} characters long; at most {} are accepted",
                crate::MAX_URL_CHARS
            ),
        }
    }
}

impl std::error::Error for PageKeyError {}

/// Query parameters that identify a click, not a document.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid",
    "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "_ga", "_gl",
];

fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

impl PageKey {
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
    fn origin_is_scheme_host_port() {
        assert_eq!(PageKey::from_url("http://127.0.0.1:8080/x?y=1").unwrap().origin(), "http://127.0.0.1:8080");
    }
}
