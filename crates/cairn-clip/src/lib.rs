//! Cairn's clipping core: turns a page's serialized DOM into clean Markdown.
//!
//! Three kinds of clip, each a pure function of its inputs:
//!
//! * [`article`] / [`clip_article`]: the main content of a page plus its metadata
//!   (title, byline, site name, published date, language, excerpt, canonical URL).
//!   A [site rule](rules) is tried first, because intranet tools (Confluence, Jira,
//!   SharePoint, MediaWiki, GitHub, GitLab) mark their content precisely and generic
//!   heuristics do worse on them; otherwise a Readability.js-compatible extractor
//!   ([`dom_smoothie`]) picks the content.
//! * [`clip_selection`]: the user's selected HTML, with the page title and a link back to
//!   the exact spot through a [text fragment](text_fragment_url).
//! * [`clip_url_only`]: title, URL, note and tags; nothing from the page body is kept,
//!   for confidential pages.
//!
//! The Markdown writer ([`html_to_markdown`]) and the YAML front matter ([`front_matter`])
//! are shared by all three.
//!
//! **Architecture invariant:** this crate does no IO, reads no clock and starts no
//! threads, and it depends on nothing browser- or server-specific. The extension runs the
//! same code on wasm32 (in the service worker or an offscreen document, on the live page's
//! serialized DOM, so clipping works behind logins with no server fetching anything), and
//! the `cairn clip` command runs it natively. The caller passes the clip time.
//!
//! **API boundary:** [`clip_article`], [`clip_selection`] and [`clip_url_only`] take and
//! return plain, serde-serializable values so that a wasm binding can expose them without
//! logic of its own.
//!
//! Hostile input is bounded rather than trusted: HTML larger than
//! [`ClipOptions::max_html_bytes`] or nested deeper than [`MAX_DEPTH`] is refused with a
//! [`ClipError`] before any recursive library code sees it, and the Markdown writer walks
//! the tree with an explicit stack, because a stack overflow on wasm aborts the whole
//! extension worker.

mod extract;
mod front_matter;
mod limits;
mod markdown;
pub mod rules;
mod structure;
mod text_fragment;

use serde::{Deserialize, Serialize};

pub use extract::{article, is_probably_readerable};
pub use front_matter::{front_matter, FrontMatter};
pub use limits::MAX_DEPTH;
pub use markdown::html_to_markdown;
pub use text_fragment::text_fragment_url;

/// Knobs for [`article`]. `Default` is what the extension and the CLI use.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ClipOptions {
    /// Refuse pages that do not look like an article (see [`is_probably_readerable`])
    /// with [`ClipError::NotReaderable`] instead of returning whatever scored best.
    /// Site-rule pages are always accepted: the rule knows where the content is.
    pub require_readerable: bool,
    /// Try the built-in [site rules](rules::SITE_RULES) before generic extraction.
    pub site_rules: bool,
    /// Larger inputs are refused with [`ClipError::TooLarge`].
    pub max_html_bytes: usize,
    /// Site rules loaded as data (a company's own tools), tried before the built-in ones;
    /// they apply even when `site_rules` is off, since someone asked for them.
    pub extra_rules: Vec<rules::RuleData>,
}

impl Default for ClipOptions {
    fn default() -> Self {
        ClipOptions {
            require_readerable: false,
            site_rules: true,
            // Real pages rarely pass 5 MB of serialized DOM; 16 MB leaves room for
            // long wiki pages while keeping memory (a DOM is ~10x its HTML) bounded.
            max_html_bytes: 16 * 1024 * 1024,
            extra_rules: Vec::new(),
        }
    }
}

/// The main content of a page and its metadata.
///
/// Metadata follows Readability.js (`expected-metadata.json` in its tests): absent
/// values are `None`, never empty strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    pub title: String,
    pub byline: Option<String>,
    pub site_name: Option<String>,
    /// As the page states it (usually ISO 8601); not reinterpreted.
    pub published: Option<String>,
    pub lang: Option<String>,
    pub excerpt: Option<String>,
    /// The canonical URL when the page declares one, else the page URL.
    pub url: String,
    /// The article body as Markdown, without front matter.
    pub markdown: String,
    /// The article's plain text, for search and previews.
    pub text: String,
    /// Whether the page looked like an article; `false` means the content may be
    /// navigation or boilerplate (only returned when `require_readerable` is off).
    pub readerable: bool,
    /// The site rule that found the content, if one did.
    pub site_rule: Option<String>,
}

/// What the user adds to any clip: when, their note, tags and communities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClipContext {
    /// The clip time as the caller formats it (RFC 3339 recommended); the core has no clock.
    pub clipped_at: String,
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub communities: Vec<String>,
}

/// The kinds of clip a user can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipKind {
    Selection,
    Article,
    UrlOnly,
}

/// A finished clip: a Markdown document (front matter + body) ready to save or download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    pub kind: ClipKind,
    pub title: String,
    /// The page the clip came from (for selections, with the text fragment that
    /// leads back to the selected passage).
    pub source: String,
    /// The whole document: YAML front matter, then the body.
    pub markdown: String,
    /// The extracted article, for article clips.
    pub article: Option<Article>,
}

/// Why a clip could not be made. Messages are written for the person clipping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClipError {
    /// The HTML is larger than the configured limit.
    TooLarge { bytes: usize, limit: usize },
    /// Elements are nested deeper than [`MAX_DEPTH`].
    TooDeep { depth: usize, limit: usize },
    /// The page URL is not an absolute URL.
    BadUrl { url: String },
    /// The page does not look like an article (`require_readerable` was set).
    NotReaderable,
    /// No content could be found on the page.
    NoContent,
}

impl std::fmt::Display for ClipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClipError::TooLarge { bytes, limit } => {
                write!(f, "the page is too large to clip ({bytes} bytes of HTML, limit {limit})")
            }
            ClipError::TooDeep { depth, limit } => {
                write!(f, "the page nests elements too deeply to clip (depth {depth}, limit {limit})")
            }
            ClipError::BadUrl { url } => write!(f, "the page URL {url:?} is not an absolute URL"),
            ClipError::NotReaderable => {
                write!(f, "the page does not look like an article; clip a selection or the URL instead")
            }
            ClipError::NoContent => write!(f, "no content was found on the page"),
        }
    }
}

impl std::error::Error for ClipError {}

/// An article clip: [`article`] with default options, wrapped in front matter.
///
/// This is the single entry point the extension and the benchmark call on wasm:
/// strings in, a serializable [`Clip`] out.
pub fn clip_article(html: &str, url: &str, context: &ClipContext) -> Result<Clip, ClipError> {
    clip_article_with(html, url, context, &ClipOptions::default())
}

/// [`clip_article`] with options, e.g. site rules loaded as data
/// ([`ClipOptions::extra_rules`]).
pub fn clip_article_with(
    html: &str,
    url: &str,
    context: &ClipContext,
    options: &ClipOptions,
) -> Result<Clip, ClipError> {
    let article = article(html, url, options)?;
    let fm = FrontMatter {
        title: article.title.clone(),
        source: article.url.clone(),
        author: article.byline.clone(),
        published: article.published.clone(),
        clipped: context.clipped_at.clone(),
        tags: context.tags.clone(),
        communities: context.communities.clone(),
    };
    let mut markdown = front_matter(&fm);
    if let Some(note) = context.note.as_deref().filter(|n| !n.trim().is_empty()) {
        markdown.push_str(&quote_note(note));
    }
    markdown.push_str(&article.markdown);
    markdown.push('\n');
    Ok(Clip {
        kind: ClipKind::Article,
        title: article.title.clone(),
        source: article.url.clone(),
        markdown,
        article: Some(article),
    })
}

/// The page a selection or URL-only clip comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageRef {
    pub url: String,
    pub title: String,
}

/// A selection clip: the selected HTML as Markdown under the page title, with a link back
/// to the passage.
///
/// `quote` is the selection's plain text as the browser reports it
/// (`Selection.toString()`); it builds the `#:~:text=` fragment. The W3C selectors that
/// re-anchor the clip like a highlight are made by `cairn-anchor`, not here.
pub fn clip_selection(
    fragment_html: &str,
    quote: &str,
    page: &PageRef,
    context: &ClipContext,
) -> Result<Clip, ClipError> {
    let base = parse_page_url(&page.url)?;
    limits::check_size(fragment_html, ClipOptions::default().max_html_bytes)?;
    let body = html_to_markdown(fragment_html, Some(base.as_str()))?;
    let source = text_fragment_url(base.as_str(), quote);
    let title = fallback_title(&page.title, &base);
    let mut markdown = front_matter(&page_front_matter(&title, &source, context));
    if let Some(note) = context.note.as_deref().filter(|n| !n.trim().is_empty()) {
        markdown.push_str(&quote_note(note));
    }
    markdown.push_str(&body);
    markdown.push_str("\n\n");
    markdown.push_str(&format!("— [{}]({})\n", markdown::escape_text(&title), markdown::link_destination(&source)));
    Ok(Clip { kind: ClipKind::Selection, title, source, markdown, article: None })
}

/// Front matter for clips that know only the page (no author or date from its content).
fn page_front_matter(title: &str, source: &str, context: &ClipContext) -> FrontMatter {
    FrontMatter {
        title: title.to_string(),
        source: source.to_string(),
        author: None,
        published: None,
        clipped: context.clipped_at.clone(),
        tags: context.tags.clone(),
        communities: context.communities.clone(),
    }
}

/// A URL-only clip: front matter, a link and the user's note. Nothing from the page body
/// is read, so nothing confidential is stored.
pub fn clip_url_only(page: &PageRef, context: &ClipContext) -> Result<Clip, ClipError> {
    let base = parse_page_url(&page.url)?;
    let title = fallback_title(&page.title, &base);
    let mut markdown = front_matter(&page_front_matter(&title, base.as_str(), context));
    markdown.push_str(&format!("[{}]({})\n", markdown::escape_text(&title), markdown::link_destination(base.as_str())));
    if let Some(note) = context.note.as_deref().filter(|n| !n.trim().is_empty()) {
        markdown.push('\n');
        markdown.push_str(&markdown::escape_text(note.trim()));
        markdown.push('\n');
    }
    Ok(Clip { kind: ClipKind::UrlOnly, title, source: base.to_string(), markdown, article: None })
}

fn parse_page_url(url: &str) -> Result<url::Url, ClipError> {
    url::Url::parse(url.trim()).map_err(|_| ClipError::BadUrl { url: url.to_string() })
}

/// A clip always has a title, because note apps name the file after it.
fn fallback_title(title: &str, url: &url::Url) -> String {
    let t = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if !t.is_empty() {
        return t;
    }
    url.host_str().map(|h| format!("{h}{}", url.path())).unwrap_or_else(|| url.to_string())
}

/// The user's note goes first, as a blockquote, so it is visibly theirs and not the page's.
fn quote_note(note: &str) -> String {
    let mut out = String::new();
    for line in note.trim().lines() {
        out.push_str("> ");
        out.push_str(&markdown::escape_text(line));
        out.push('\n');
    }
    out.push('\n');
    out
}
