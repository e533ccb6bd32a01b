//! Structural extraction: the page's content found from what its markup declares, for the
//! pages Readability's scoring was not made for.
//!
//! Readability scores paragraphs and keeps the best-scoring subtree, which suits a news
//! article and fails on the pages intranet tools are made of: it keeps one post of a
//! discussion (or none: comment classes are "unlikely candidates"), and on documentation,
//! listings and service pages it picks one block among several. Pages say more than their
//! text density, so this module reads, in order:
//!
//! 1. **posts**: schema.org items that are posts of a discussion (JSON-LD is not needed:
//!    microdata marks the elements themselves), or failing that a run of repeated sibling
//!    elements each holding a post's worth of text; the content is their common ancestor,
//!    so the question, every answer and every comment with its author and date come along;
//! 2. **landmarks**: `main` / `role=main`, the page's `article` elements, common content ids;
//! 3. the body, as a last resort.
//!
//! Inside the chosen root, boilerplate is left out rather than removed (the document is
//! shared with the fallback extractor): navigation, banners, sidebars, cookie and newsletter
//! boxes, share bars, "related" lists, forms, and lists of short links (menus, tables of
//! contents, tag clouds). What is left out is decided from tags, ARIA roles and class/id
//! words, never from one site's markup; site-specific knowledge belongs in [site rules](crate::rules).
//!
//! Every pass is iterative (explicit stacks), as in the Markdown writer.

use std::collections::{HashMap, HashSet};

use dom_query::{Document, NodeId, NodeRef};

use crate::markdown::{node_to_markdown_skipping, node_to_text_skipping, Skip};

/// What the structure of a page gave.
pub(crate) struct Structural {
    pub markdown: String,
    pub text: String,
    /// How the content root was found.
    pub found_by: FoundBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FoundBy {
    /// schema.org posts: a discussion, by the page's own word.
    MarkedPosts,
    /// Repeated post-like siblings: probably a discussion.
    RepeatedPosts,
    /// `main`, `role=main`, `article` or a content id.
    Landmark,
    /// Nothing better than `<body>`.
    Body,
}

/// Text lengths of a subtree, in non-whitespace characters.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    text: usize,
    /// Text inside links.
    link: usize,
    links: usize,
}

/// Elements whose text is never content (the Markdown writer drops them too).
const IGNORED: &[&str] = &["script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas"];

/// The element's name; html5ever gives HTML names in lower case, and the tendril is
/// shared, not copied (this runs for every element of the page).
fn name_of(n: &NodeRef) -> impl std::ops::Deref<Target = str> {
    n.node_name().unwrap_or_default()
}

/// Per-element text and link statistics of everything under `root`.
fn stats(root: &NodeRef) -> HashMap<NodeId, Stats> {
    let mut order = Vec::new();
    let mut stack = vec![*root];
    while let Some(n) = stack.pop() {
        order.push(n);
        for c in n.children_it(false) {
            if c.is_element() && !IGNORED.contains(&&*name_of(&c)) {
                stack.push(c);
            }
        }
    }
    let mut map: HashMap<NodeId, Stats> = HashMap::with_capacity(order.len());
    // Reverse pre-order visits children before their parents.
    for n in order.iter().rev() {
        let mut s = Stats::default();
        for c in n.children_it(false) {
            if c.is_text() {
                s.text += c.text().chars().filter(|ch| !ch.is_whitespace()).count();
            } else if let Some(cs) = map.get(&c.id) {
                s.text += cs.text;
                s.link += cs.link;
                s.links += cs.links;
            }
        }
        if &*name_of(n) == "a" {
            s.link = s.text;
            s.links += 1;
        }
        map.insert(n.id, s);
    }
    map
}

/// Non-whitespace characters of text under `root` a reader could see (`<noscript>` left out).
pub(crate) fn visible_chars(root: &NodeRef) -> usize {
    let mut total = 0;
    let mut stack = vec![*root];
    while let Some(n) = stack.pop() {
        for c in n.children_it(false) {
            if c.is_text() {
                total += c.text().chars().filter(|ch| !ch.is_whitespace()).count();
            } else if c.is_element() && !IGNORED.contains(&&*name_of(&c)) {
                stack.push(c);
            }
        }
    }
    total
}

/// schema.org types and properties that mark one post of a discussion.
const POST_SELECTORS: &str = "[itemtype*='DiscussionForumPosting'], [itemtype*='schema.org/Comment'], \
     [itemtype*='schema.org/Answer'], [itemtype*='schema.org/Question'], [itemprop='comment'], \
     [itemprop='suggestedAnswer'], [itemprop='acceptedAnswer']";

/// The lowest common ancestor of `nodes`.
fn common_ancestor<'a>(nodes: &[NodeRef<'a>]) -> Option<NodeRef<'a>> {
    let first = nodes.first()?;
    let mut chain: Vec<NodeRef<'a>> = std::iter::once(*first).chain(first.ancestors_it(None)).collect();
    for n in &nodes[1..] {
        let mine: HashSet<NodeId> = std::iter::once(n.id).chain(n.ancestors_it(None).map(|a| a.id)).collect();
        let keep = chain.iter().position(|c| mine.contains(&c.id))?;
        chain.drain(..keep);
    }
    chain.first().copied()
}

/// The container of a discussion's posts, from microdata.
fn microdata_posts<'a>(doc: &'a Document, stats: &HashMap<NodeId, Stats>) -> Option<NodeRef<'a>> {
    let items = doc.try_select(POST_SELECTORS)?;
    let posts: Vec<NodeRef> =
        items.nodes().iter().copied().filter(|n| stats.get(&n.id).is_some_and(|s| s.text >= 20)).collect();
    if posts.len() < 2 {
        return None;
    }
    common_ancestor(&posts)
}

/// The signature siblings of one repeated structure share: tag and classes, digits dropped
/// (`post-1234` and `post-1235` are the same kind of thing).
fn signature(n: &NodeRef) -> String {
    let class = n.attr("class").unwrap_or_default();
    let mut words: Vec<String> = class
        .split_whitespace()
        .map(|c| c.chars().filter(|ch| !ch.is_ascii_digit()).collect::<String>())
        .filter(|c| !c.is_empty())
        .collect();
    words.sort();
    format!("{}.{}", &*name_of(n), words.join("."))
}

/// The container of a discussion's posts without microdata: elements of one kind (same
/// tag and classes), anywhere under `root` (replies nest inside the posts they answer),
/// each with a post's worth of mostly unlinked text, most of them signed (an author, a
/// date), that together hold at least half of their common ancestor's text. A list of
/// posts is content, not boilerplate, even when each post alone is short.
fn repeated_posts<'a>(root: &NodeRef<'a>, stats: &HashMap<NodeId, Stats>) -> Option<NodeRef<'a>> {
    let mut groups: HashMap<String, Vec<NodeRef<'a>>> = HashMap::new();
    let mut stack = vec![*root];
    while let Some(n) = stack.pop() {
        for c in n.children_it(false) {
            let Some(s) = stats.get(&c.id) else { continue };
            if s.text < 60 {
                continue;
            }
            stack.push(c);
            // A post is prose: some text, few links in it. Classless elements are layout.
            if s.link * 3 < s.text && c.has_attr("class") && !is_boilerplate_name(&c) {
                groups.entry(signature(&c)).or_default().push(c);
            }
        }
    }
    let text = |n: &NodeRef| stats.get(&n.id).map(|s| s.text).unwrap_or(0);
    let mut best: Option<(usize, NodeRef<'a>)> = None;
    for (sig, members) in groups {
        // `p` siblings are an article's paragraphs, not posts.
        if members.len() < 3 || sig.starts_with("p.") {
            continue;
        }
        // Most items of a discussion name their author or date; sections of a document do not.
        let sample = &members[..members.len().min(6)];
        if sample.iter().filter(|m| has_post_signals(m)).count() * 3 < sample.len() * 2 {
            continue;
        }
        let ids: HashSet<NodeId> = members.iter().map(|m| m.id).collect();
        let Some(container) = common_ancestor(&members) else { continue };
        // Replies inside posts are counted once, with the post that holds them.
        let outer: usize = members
            .iter()
            .filter(|m| !m.ancestors_it(None).take_while(|a| a.id != container.id).any(|a| ids.contains(&a.id)))
            .map(text)
            .sum();
        if outer * 2 < text(&container) {
            continue;
        }
        if best.as_ref().is_none_or(|(t, _)| outer > *t) {
            best = Some((outer, container));
        }
    }
    best.map(|(_, n)| n)
}

/// Class words of the parts that sign a post: its author, avatar or date.
const POST_SIGNAL_WORDS: &[&str] =
    &["author", "user", "avatar", "byline", "date", "time", "posted", "member", "poster", "profile", "nick"];

/// Whether an element looks like one post of a discussion: it has a `<time>`, a link to a
/// user's profile, or a part whose class names its author, avatar or date.
fn has_post_signals(n: &NodeRef) -> bool {
    let mut stack = vec![*n];
    let mut seen = 0;
    while let Some(e) = stack.pop() {
        seen += 1;
        // Bounded: the signals sit near the top of a post.
        if seen > 400 {
            return false;
        }
        let name = name_of(&e);
        if &*name == "time" {
            return true;
        }
        if &*name == "a" {
            if let Some(href) = e.attr("href") {
                let h = href.to_ascii_lowercase();
                if ["/u/", "/user/", "/users/", "/member", "/profile", "/people/", "/author/", "/~"]
                    .iter()
                    .any(|p| h.contains(p))
                {
                    return true;
                }
            }
        }
        if let Some(class) = e.attr("class") {
            let c = class.to_ascii_lowercase();
            if c.split(|ch: char| ch.is_whitespace() || ch == '-' || ch == '_')
                .any(|w| POST_SIGNAL_WORDS.iter().any(|p| w.starts_with(p)))
            {
                return true;
            }
        }
        stack.extend(e.children_it(true).filter(|c| c.is_element()));
    }
    false
}

/// The page's main landmark, its articles, or a common content id.
fn landmark<'a>(doc: &'a Document, body_text: usize, stats: &HashMap<NodeId, Stats>) -> Option<NodeRef<'a>> {
    let text = |n: &NodeRef| stats.get(&n.id).map(|s| s.text).unwrap_or(0);
    let biggest = |sel: &str| -> Option<NodeRef<'a>> {
        let s = doc.try_select(sel)?;
        s.nodes().iter().copied().max_by_key(|n| text(n))
    };
    // A landmark must hold a real share of the page, or it is a widget's own `main`.
    let enough = |n: &NodeRef| text(n) >= 200 && text(n) * 5 >= body_text;
    if let Some(m) = biggest("main, [role='main']").filter(enough) {
        return Some(m);
    }
    if let Some(articles) = doc.try_select("article") {
        let nodes: Vec<NodeRef> = articles.nodes().iter().copied().filter(|n| text(n) >= 100).collect();
        if let Some(a) = common_ancestor(&nodes).filter(enough) {
            return Some(a);
        }
    }
    biggest("#content, #main, #main-content, #maincontent, #primary, .main-content, #page-content").filter(enough)
}

/// Class and id words that name boilerplate. Matched against each word of `class` and `id`
/// split at `-`, `_` and spaces, as prefixes (`sidebar` matches `sidebarLeft`).
const BOILERPLATE_WORDS: &[&str] = &[
    "cookie",
    "consent",
    "gdpr",
    "breadcrumb",
    "newsletter",
    "subscribe",
    "share",
    "sharing",
    "social",
    "related",
    "recommend",
    "advert",
    "sponsor",
    "promo",
    "sidebar",
    "pagination",
    "pager",
    "navbar",
    "menu",
    "skip",
    "signup",
    "login",
    "footer",
    "masthead",
    "popup",
    "modal",
    "toolbar",
    "banner",
    "toc",
    "widget",
    // A post's furniture: its action bar, reactions, vote counter and signature.
    "signature",
    "actions",
    "reactions",
    "vote",
];

fn is_boilerplate_name(n: &NodeRef) -> bool {
    let mut words = String::new();
    for a in ["class", "id"] {
        if let Some(v) = n.attr(a) {
            words.push(' ');
            words.push_str(&v.to_ascii_lowercase());
        }
    }
    words
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
        .any(|w| BOILERPLATE_WORDS.iter().any(|b| w.starts_with(b)))
}

const BOILERPLATE_ROLES: &[&str] =
    &["navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "toolbar", "dialog"];

/// Whether `n`, inside content of `root_text` characters, is boilerplate to leave out.
/// In a thread (`posts`), `header`, `aside` and `footer` are parts of a post (its author
/// card, its date, its signature), not of the page.
fn is_boilerplate(n: &NodeRef, s: Stats, root_text: usize, posts: bool) -> bool {
    // Whatever holds most of the content is not boilerplate, whatever it is called
    // (`<div class="has-sidebar">` around the whole page).
    if s.text * 5 > root_text * 2 {
        return false;
    }
    let name = name_of(n);
    if &*name == "nav" || !posts && matches!(&*name, "aside" | "footer" | "header") {
        return true;
    }
    if &*name == "form" && s.text < 300 {
        return true;
    }
    if n.attr("role").is_some_and(|r| BOILERPLATE_ROLES.contains(&r.trim().to_ascii_lowercase().as_str())) {
        return true;
    }
    if is_boilerplate_name(n) {
        return true;
    }
    // Lists of short links: menus, tables of contents, tag clouds, "more from" lists.
    if matches!(&*name, "ul" | "ol" | "div" | "section" | "dl" | "table" | "p" | "menu")
        && s.links >= 3
        && s.link * 10 >= s.text * 7
        && s.link / s.links < 30
    {
        return true;
    }
    false
}

/// The content a page's structure points at, with boilerplate left out; `None` when the
/// page has no body text.
pub(crate) fn extract(doc: &Document, base: &url::Url, title: &str) -> Option<Structural> {
    let body = doc.try_select("body").map(|b| b.nodes()[0]).unwrap_or_else(|| doc.root());
    let stats = stats(&body);
    let body_text = stats.get(&body.id).map(|s| s.text).unwrap_or(0);
    if body_text == 0 {
        return None;
    }
    let (root, found_by) = if let Some(r) = microdata_posts(doc, &stats) {
        (r, FoundBy::MarkedPosts)
    } else if let Some(l) = landmark(doc, body_text, &stats) {
        match repeated_posts(&l, &stats) {
            Some(p) => (p, FoundBy::RepeatedPosts),
            None => (l, FoundBy::Landmark),
        }
    } else {
        match repeated_posts(&body, &stats) {
            Some(p) => (p, FoundBy::RepeatedPosts),
            None => (body, FoundBy::Body),
        }
    };
    let root_text = stats.get(&root.id).map(|s| s.text).unwrap_or(0);
    let posts = matches!(found_by, FoundBy::MarkedPosts | FoundBy::RepeatedPosts);
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let mut skip = Skip::default();
    let mut title_dropped = false;
    let mut stack: Vec<NodeRef> = root.children_it(false).filter(|c| c.is_element()).collect();
    while let Some(n) = stack.pop() {
        let Some(s) = stats.get(&n.id).copied() else { continue };
        if is_boilerplate(&n, s, root_text, posts) {
            skip.insert(n.id);
            continue;
        }
        // The title is in the front matter; Readability drops the heading that repeats it.
        if !title_dropped && &*name_of(&n) == "h1" {
            let h = n.text().split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
            if !h.is_empty() && (title.contains(&h) || h.contains(&title)) {
                skip.insert(n.id);
                title_dropped = true;
                continue;
            }
        }
        stack.extend(n.children_it(false).filter(|c| c.is_element()));
    }
    let text = node_to_text_skipping(&root, &skip);
    let markdown = node_to_markdown_skipping(&root, Some(base), &skip);
    Some(Structural { markdown, text, found_by })
}

/// schema.org and Open Graph types that say the page is one article (news, blog post,
/// report), the kind of page Readability was made for.
const ARTICLE_TYPES: &[&str] = &[
    "article",
    "newsarticle",
    "blogposting",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "report",
    "scholarlyarticle",
];

/// Whether the page declares itself an article: `og:type`, a JSON-LD `@type`, or microdata.
pub(crate) fn declares_article(doc: &Document) -> bool {
    let is_article = |t: &str| {
        let t = t.trim().trim_start_matches("http://schema.org/").trim_start_matches("https://schema.org/");
        ARTICLE_TYPES.contains(&t.to_ascii_lowercase().as_str())
    };
    if doc.try_select("meta[property='og:type']").and_then(|m| m.attr("content")).is_some_and(|t| is_article(&t)) {
        return true;
    }
    if let Some(items) = doc.try_select("[itemscope][itemtype]") {
        if items.nodes().iter().any(|n| n.attr("itemtype").is_some_and(|t| t.split_whitespace().any(is_article))) {
            return true;
        }
    }
    let Some(scripts) = doc.try_select("script[type='application/ld+json']") else { return false };
    scripts.nodes().iter().any(|n| {
        let text = n.text();
        // A cheap scan for `"@type": "X"` (or a list of types), enough to read a type
        // without a JSON parser in the clip path.
        let mut rest: &str = &text;
        while let Some(i) = rest.find("\"@type\"") {
            rest = &rest[i + 7..];
            let value = rest.trim_start().trim_start_matches(':').trim_start();
            let value = value.trim_start_matches('[').trim_start();
            if let Some(v) = value.strip_prefix('"') {
                if v.split('"').next().is_some_and(is_article) {
                    return true;
                }
            }
        }
        false
    })
}

/// Class and id words of page furniture that is never content on any kind of page: consent
/// banners, tables of contents, breadcrumbs, "was this helpful" boxes. Unlike
/// [`BOILERPLATE_WORDS`] (left out of the structure's content only), these are removed
/// before either extractor runs, because Readability keeps them when they sit inside the
/// article. Whole words only (`toc`, not `tocsin`).
const FURNITURE_WORDS: &[&str] =
    &["cookie", "cookies", "cookiebanner", "consent", "gdpr", "toc", "breadcrumb", "breadcrumbs", "feedback"];

/// Removes page furniture (see [`FURNITURE_WORDS`]) and small forms from the document.
/// Anything holding a third of the page's text or more stays, whatever it is called.
pub(crate) fn remove_furniture(doc: &Document) {
    let Some(body) = doc.try_select("body") else { return };
    let total = visible_chars(&body.nodes()[0]);
    let Some(candidates) = doc.try_select("body [class], body [id], body form") else { return };
    for n in candidates.nodes() {
        let furniture = &*name_of(n) == "form" && visible_chars(n) < 120 && !n.is("form:has(textarea)")
            || ["class", "id"].iter().any(|a| {
                n.attr(a).is_some_and(|v| {
                    v.to_ascii_lowercase()
                        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
                        .any(|w| FURNITURE_WORDS.contains(&w))
                })
            });
        if furniture && visible_chars(n) * 3 < total {
            n.remove_from_parent();
        }
    }
}
