//! Article extraction: a site rule when one matches, else Readability.js's algorithm
//! (through `dom_smoothie`, a faithful port measured against our own heuristic on the
//! Readability test corpus; see the crate README for the numbers).

use dom_query::Document;
use dom_smoothie::{Config, Readability};

use crate::limits::{check_depth, check_markup_depth, check_size};
use crate::markdown::{node_to_markdown, node_to_text};
use crate::{rules, structure, Article, ClipError, ClipOptions};

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
    unwrap_noscript_content(&doc);
    uncloak(&doc);
    let canonical = canonical_url(&doc, &base);
    let lang = doc
        .try_select("html[lang]")
        .and_then(|s| s.attr("lang"))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());

    let mut site_rules: Vec<rules::RuleData> = options.extra_rules.clone();
    if options.site_rules {
        site_rules.extend(rules::SITE_RULES.iter().map(rules::RuleData::from));
    }
    if !site_rules.is_empty() {
        if let Some(found) = rules::apply(&doc, &site_rules, &base) {
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
                site_rule: Some(found.name),
            });
        }
    }

    // After the site rules, which know their pages' forms and tables of contents.
    structure::remove_furniture(&doc);
    let readerable = dom_smoothie::is_probably_readable(&doc, None, None);
    if options.require_readerable && !readerable {
        return Err(ClipError::NotReaderable);
    }
    let page_title = doc.try_select("head title").map(|t| t.text().to_string()).unwrap_or_default();
    let structural = structure::extract(&doc, &base, &page_title);
    let declares_article = structure::declares_article(&doc);
    let mut readability = Readability::with_document(doc, Some(base.as_str()), Some(config()))
        .map_err(|_| ClipError::BadUrl { url: url.to_string() })?;
    let extracted = readability.parse().ok();
    let (markdown, text) = match (extracted.as_ref(), structural) {
        (Some(e), s) => {
            let content = Document::fragment(e.content.to_string());
            let root = content.root();
            let text = node_to_text(&root);
            match s.map(|s| (choose(&text, &s, declares_article), s)) {
                Some((Choice::Structure, s)) => (s.markdown, s.text),
                Some((Choice::Both, s)) => {
                    let md = format!("{}\n\n{}", node_to_markdown(&root, Some(&base)), s.markdown);
                    (md, format!("{text}\n{}", s.text))
                }
                _ => (node_to_markdown(&root, Some(&base)), text),
            }
        }
        (None, Some(s)) => (s.markdown, s.text),
        (None, None) => return Err(ClipError::NoContent),
    };
    if text.trim().is_empty() {
        return Err(ClipError::NoContent);
    }
    let meta = match extracted {
        Some(e) => Meta {
            title: e.title.to_string(),
            byline: e.byline.map(|s| s.to_string()),
            site_name: e.site_name.map(|s| s.to_string()),
            published: e.published_time.map(|s| s.to_string()),
            lang: e.lang.map(|s| s.to_string()),
            excerpt: e.excerpt.map(|s| s.to_string()),
        },
        None => {
            let m = readability.get_article_metadata(readability.parse_json_ld());
            Meta {
                title: m.title.to_string(),
                byline: m.byline.map(|s| s.to_string()),
                site_name: m.site_name.map(|s| s.to_string()),
                published: m.published_time.map(|s| s.to_string()),
                lang: m.lang.map(|s| s.to_string()),
                excerpt: m.excerpt.map(|s| s.to_string()),
            }
        }
    };
    Ok(Article {
        title: clean(&meta.title).unwrap_or_default(),
        byline: meta.byline.as_deref().and_then(clean),
        site_name: meta.site_name.as_deref().and_then(clean),
        published: meta.published.as_deref().and_then(clean),
        lang: meta.lang.as_deref().and_then(clean).or(lang),
        excerpt: meta.excerpt.as_deref().and_then(clean),
        url: canonical.unwrap_or_else(|| base.to_string()),
        markdown,
        text,
        readerable,
        site_rule: None,
    })
}

/// Metadata of whichever way the content was found.
struct Meta {
    title: String,
    byline: Option<String>,
    site_name: Option<String>,
    published: Option<String>,
    lang: Option<String>,
    excerpt: Option<String>,
}

/// Which content a clip keeps.
#[derive(Debug, PartialEq)]
enum Choice {
    Readability,
    Structure,
    /// Readability's article, then the discussion below it (a story and its comments,
    /// when the comments are most of the page).
    Both,
}

/// Whether the structure's content replaces Readability's, or follows it.
///
/// Readability is precise on articles and keeps too little elsewhere: one post of a
/// thread, one block of a documentation or service page. When what it kept is a small
/// part of what the page's structure marks as content, the page is not a single article
/// and the structure's content (boilerplate left out) is the better clip; when it kept most
/// of it, its tighter cut wins (it drops an article's bylines, captions and comment
/// sections better).
fn choose(readability_text: &str, s: &structure::Structural, declares_article: bool) -> Choice {
    // Sizes in visible characters, not words: Chinese and Japanese text has no spaces.
    let size = |t: &str| t.chars().filter(|c| !c.is_whitespace()).count();
    let (r, st) = (size(readability_text), size(&s.text));
    // Tenths of the structure's text Readability must keep for its content to stand;
    // tuned on WCXB-dev and Mozilla's corpus. A thread's posts ask for less: an article
    // with a comment section also has posts, and there Readability's cut (the article) is
    // right. A page that declares itself an article (schema.org, Open Graph) asks for much
    // less: many listings and forums declare it too, but on a real article the structure's
    // extra words are captions, bylines and "more stories".
    let posts = matches!(s.found_by, structure::FoundBy::MarkedPosts | structure::FoundBy::RepeatedPosts);
    let tenths = match (declares_article, s.found_by) {
        (_, structure::FoundBy::MarkedPosts) => 5,
        (true, _) => 2,
        (false, structure::FoundBy::RepeatedPosts) => 5,
        (false, _) => 7,
    };
    if r * 10 >= st * tenths {
        // The same thread with less around it: the structure left out what Readability
        // kept around the posts (a cookie notice), and kept what it dropped (a post's
        // author line).
        if posts
            && !declares_article
            && share_within(readability_text, &s.text) >= 8
            && share_within(&s.text, readability_text) >= 8
        {
            return Choice::Structure;
        }
        return Choice::Readability;
    }
    // Readability's content must be part of the structure's, unless it is a scrap (a
    // sidebar blurb, a cookie notice) that the structure rightly left out. A discussion
    // that does not hold it is the discussion of what Readability found: keep both.
    if r < 250 || share_within(&s.text, readability_text) >= 9 {
        Choice::Structure
    } else if posts {
        Choice::Both
    } else {
        Choice::Readability
    }
}

/// How many tenths of `inner`'s words `outer` holds: whether the structure's content
/// extends Readability's, or is some other part of the page.
fn share_within(outer: &str, inner: &str) -> usize {
    let mut bag: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for w in words(outer) {
        *bag.entry(w).or_default() += 1;
    }
    let (mut found, mut total) = (0usize, 0usize);
    for w in words(inner) {
        total += 1;
        if let Some(n) = bag.get_mut(&w).filter(|n| **n > 0) {
            *n -= 1;
            found += 1;
        }
    }
    (found * 10).checked_div(total).unwrap_or(10)
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
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

/// Pages rendered by scripts often serve their content to script-less readers inside
/// `<noscript>` (Discourse's crawler view, for one). A live DOM never has it there; a page
/// saved or fetched without running its scripts does, and then the `<noscript>` markup is
/// the only content. When `<noscript>` holds more text than the rest of the body, its
/// elements become ordinary content.
pub(crate) fn unwrap_noscript_content(doc: &Document) {
    let Some(noscripts) = doc.try_select("body noscript") else { return };
    let Some(body) = doc.try_select("body") else { return };
    // Only parsed markup counts: a DOM serialized by a browser holds `<noscript>` content
    // as escaped text (tracking pixels, mostly), which is no one's content.
    let inside: usize = noscripts
        .nodes()
        .iter()
        .flat_map(|n| n.children_it(false))
        .filter(|c| c.is_element())
        .map(|c| structure::visible_chars(&c))
        .sum();
    let outside = structure::visible_chars(&body.nodes()[0]);
    if inside > outside {
        for n in noscripts.nodes() {
            // `unwrap_node` takes a child and removes its parent, keeping the children.
            match n.first_child() {
                Some(child) => child.unwrap_node(),
                None => n.remove_from_parent(),
            }
        }
    }
}

/// Script-rendered pages often hide their whole body until scripts ran (`visibility:
/// hidden` or `display: none` inline, against a flash of unstyled content). A live DOM has
/// the style removed by then; a page fetched or saved without scripts keeps it, and every
/// word would be dropped as hidden. An inline-hidden element holding most of the page's
/// text (nine tenths: a hidden half is a hidden half) is such a cloak, and is shown.
pub(crate) fn uncloak(doc: &Document) {
    let Some(body) = doc.try_select("body") else { return };
    let Some(styled) = doc.try_select("body [style]") else { return };
    let total = structure::visible_chars(&body.nodes()[0]);
    for n in styled.nodes() {
        let hides = n.attr("style").is_some_and(|s| {
            let s: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
            s.contains("display:none") || s.contains("visibility:hidden")
        });
        if hides && structure::visible_chars(n) * 10 > total * 9 {
            n.remove_attr("style");
        }
    }
}
