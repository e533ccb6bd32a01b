//! Article extraction: a site rule when one matches, else Readability.js's algorithm
//! (through `dom_smoothie`, a faithful port measured against our own heuristic on the
//! Readability test corpus; see the crate README for the numbers).

use dom_query::Document;
use dom_smoothie::{Config, Readability};

use crate::limits::{check_depth, check_markup_depth, check_size};
use crate::markdown::{node_to_markdown, node_to_text};
use crate::{rules, Article, ClipError, ClipOptions};

/// Whether the page looks like it has an article worth extracting, with Readability.js's
/// `isProbablyReaderable` heuristic (enough long, visible paragraphs).
///
/// Pages that fail it (link lists, app shells, search results) give navigation rather
/// than content under generic extraction.
pub fn is_probably_readerable(html: &str) -> bool {
    if check_markup_depth(html).is_err() {
        return false;
    }
    let doc = Document::from(html);
    if check_depth(&doc.root()).is_err() {
        return false;
    }
    dom_smoothie::is_probably_readable(&doc, None, None)
}

/// Extracts the main content of a page and its metadata.
///
/// `html` is the page's serialized DOM (after scripts ran, so late-rendered content is
/// there) and `url` its address, against which links and images are made absolute.
pub fn article(html: &str, url: &str, options: &ClipOptions) -> Result<Article, ClipError> {
    check_size(html, options.max_html_bytes)?;
    let base = url::Url::parse(url.trim()).map_err(|_| ClipError::BadUrl { url: url.to_string() })?;
    check_markup_depth(html)?;
    let doc = Document::from(html);
    check_depth(&doc.root())?;
    let canonical = canonical_url(&doc, &base);
    let lang = doc
        .try_select("html[lang]")
        .and_then(|s| s.attr("lang"))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());

    if options.site_rules {
        if let Some(found) = rules::apply(&doc, rules::SITE_RULES, &base) {
            let readability = Readability::with_document(doc, Some(base.as_str()), Some(config()))
                .map_err(|_| ClipError::BadUrl { url: url.to_string() })?;
            let meta = readability.get_article_metadata(readability.parse_json_ld());
            let title = found.title.unwrap_or(meta.title);
            return Ok(Article {
                title: clean(&title).unwrap_or_default(),
                byline: meta.byline.as_deref().and_then(clean),
                site_name: meta.site_name.as_deref().and_then(clean),
                published: meta.published_time.as_deref().and_then(clean),
                lang: meta.lang.as_deref().and_then(clean).or(lang),
                excerpt: meta.excerpt.as_deref().and_then(clean),
                url: canonical.unwrap_or_else(|| base.to_string()),
                markdown: found.markdown,
                text: found.text,
                readerable: true,
                site_rule: Some(found.name.to_string()),
            });
        }
    }

    let readerable = dom_smoothie::is_probably_readable(&doc, None, None);
    if options.require_readerable && !readerable {
        return Err(ClipError::NotReaderable);
    }
    let mut readability = Readability::with_document(doc, Some(base.as_str()), Some(config()))
        .map_err(|_| ClipError::BadUrl { url: url.to_string() })?;
    let extracted = readability.parse().map_err(|_| ClipError::NoContent)?;
    let content = Document::fragment(extracted.content.to_string());
    let root = content.root();
    let markdown = node_to_markdown(&root, Some(&base));
    let text = node_to_text(&root);
    if text.trim().is_empty() {
        return Err(ClipError::NoContent);
    }
    Ok(Article {
        title: clean(&extracted.title).unwrap_or_default(),
        byline: extracted.byline.as_deref().and_then(clean),
        site_name: extracted.site_name.as_deref().and_then(clean),
        published: extracted.published_time.as_deref().and_then(clean),
        lang: extracted.lang.as_deref().and_then(clean).or(lang),
        excerpt: extracted.excerpt.as_deref().and_then(clean),
        url: canonical.unwrap_or_else(|| base.to_string()),
        markdown,
        text,
        readerable,
        site_rule: None,
    })
}

fn config() -> Config {
    Config {
        // Bounds the scoring work on giant pages; the byte limit already bounds this,
        // this is the same bound in elements.
        max_elements_to_parse: 2_000_000,
        // Classes carry code block languages (`language-rust`); the writer reads nothing
        // else from them, so keeping them changes no other output.
        keep_classes: true,
        ..Config::default()
    }
}

fn clean(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// `<link rel=canonical>`, else `og:url`, made absolute; only http(s) URLs are trusted,
/// so a page cannot point the clip's source at a `javascript:` URL.
fn canonical_url(doc: &Document, base: &url::Url) -> Option<String> {
    let candidates = [("link[rel~='canonical'][href]", "href"), ("meta[property='og:url'][content]", "content")];
    candidates.iter().find_map(|(sel, attr)| {
        let href = doc.try_select(sel)?.attr(attr)?;
        let url = base.join(href.trim()).ok()?;
        matches!(url.scheme(), "http" | "https").then(|| url.to_string())
    })
}
