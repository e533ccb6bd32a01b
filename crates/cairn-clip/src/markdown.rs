//! HTML → Markdown, in the style note apps accept as is.
//!
//! The conversion follows turndown (the converter behind most web clippers) closely,
//! so that its test cases tell us when we differ, with these style choices:
//! ATX headings, fenced code blocks (with the language when the page names it),
//! `-` bullets, `_emphasis_`, `**strong**`, `\` hard breaks, `* * *` rules,
//! GFM pipe tables, links and images made absolute against the page URL.
//!
//! The page is first copied into a small arena ([`Tree`]) that keeps only what the
//! writer needs; every pass over it uses an explicit stack, never recursion, so a hostile
//! page cannot overflow the (small, fatal on wasm) call stack.

use std::collections::HashMap;

use dom_query::{Document, NodeRef};

use crate::limits;
use crate::ClipError;

const BULLET: &str = "-";
const HR: &str = "* * *";
const BR: &str = "\\";

/// Converts an HTML document or fragment to Markdown.
///
/// `base_url` makes relative links and images absolute; pass the page URL.
pub fn html_to_markdown(html: &str, base_url: Option<&str>) -> Result<String, ClipError> {
    limits::check_markup_depth(html)?;
    let doc = Document::fragment(html);
    let root = doc.root();
    limits::check_depth(&root)?;
    let base = base_url.and_then(|u| url::Url::parse(u).ok());
    Ok(node_to_markdown(&root, base.as_ref()))
}

/// Converts a parsed node and its descendants. The caller has checked the depth.
pub(crate) fn node_to_markdown(root: &NodeRef, base: Option<&url::Url>) -> String {
    node_to_markdown_skipping(root, base, &Skip::default())
}

/// Nodes (with their subtrees) that a conversion leaves out: the boilerplate that
/// [structural extraction](crate::structure) found inside the content it keeps.
pub(crate) type Skip = std::collections::HashSet<dom_query::NodeId>;

/// [`node_to_markdown`] without the nodes in `skip`.
pub(crate) fn node_to_markdown_skipping(root: &NodeRef, base: Option<&url::Url>, skip: &Skip) -> String {
    let mut tree = Tree::from_dom(root, skip);
    tree.collapse_whitespace();
    let edges = tree.edges();
    Writer { tree: &tree, edges, base, ol_counters: HashMap::new() }.write()
}

/// Plain text of Markdown-converted content: what a reader sees, for search and previews.
pub(crate) fn node_to_text(root: &NodeRef) -> String {
    node_to_text_skipping(root, &Skip::default())
}

/// [`node_to_text`] without the nodes in `skip`.
pub(crate) fn node_to_text_skipping(root: &NodeRef, skip: &Skip) -> String {
    let mut tree = Tree::from_dom(root, skip);
    tree.collapse_whitespace();
    tree.plain_text()
}

// ---------------------------------------------------------------------------------------
// The arena

#[derive(Debug)]
struct Node {
    /// Lower-case element name, or empty for a text node.
    name: String,
    text: String,
    attrs: Vec<(String, String)>,
    children: Vec<usize>,
    parent: usize,
}

impl Node {
    fn is_text(&self) -> bool {
        self.name.is_empty()
    }
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct Tree {
    nodes: Vec<Node>,
}

/// Attributes the writer reads; everything else (event handlers, styles, data) is dropped
/// when copying, so nothing executable can leak into the Markdown.
const KEPT_ATTRS: &[&str] = &[
    "href",
    "src",
    "alt",
    "title",
    "class",
    "start",
    "data-lang",
    "data-language",
    "lang",
    "width",
    "height",
    "srcset",
    "data-src",
    "colspan",
    "alttext",
    "display",
    "encoding",
    "data-syntaxhighlighter-params",
    "data-canonical-lang",
];

/// Elements whose content is never article text: code, styling, embedded objects and
/// form controls.
const DROPPED: &[&str] = &[
    "script", "style", "noscript", "template", "head", "title", "meta", "link", "base", "svg", "iframe", "frame",
    "frameset", "object", "embed", "canvas", "button", "input", "select", "textarea", "option", "dialog", "audio",
    "video", "source", "track", "map", "area", "param",
];

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "audio"
            | "blockquote"
            | "body"
            | "canvas"
            | "center"
            | "dd"
            | "dir"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "frameset"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hgroup"
            | "hr"
            | "html"
            | "isindex"
            | "li"
            | "main"
            | "menu"
            | "nav"
            | "noframes"
            | "noscript"
            | "ol"
            | "output"
            | "p"
            | "pre"
            | "section"
            | "table"
            | "tbody"
            | "td"
            | "tfoot"
            | "th"
            | "thead"
            | "tr"
            | "ul"
            | "details"
            | "summary"
            | "caption"
    )
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "command"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// Elements that mean something even without text (turndown's "meaningful when blank").
fn is_meaningful_when_blank(name: &str) -> bool {
    matches!(name, "a" | "table" | "thead" | "tbody" | "tfoot" | "th" | "td" | "iframe" | "script" | "audio" | "video")
}

fn is_hidden(node: &NodeRef) -> bool {
    if node.has_attr("hidden") {
        return true;
    }
    if node.attr("aria-hidden").is_some_and(|v| v.trim() == "true") {
        return true;
    }
    node.attr("style").is_some_and(|s| {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
        s.contains("display:none") || s.contains("visibility:hidden")
    })
}

/// Images that only track the reader: 1×1 pixels and the usual beacon hosts.
fn is_tracking_pixel(node: &NodeRef) -> bool {
    let tiny =
        |a: &str| node.attr(a).is_some_and(|v| v.trim().trim_end_matches("px").parse::<f32>().is_ok_and(|n| n <= 1.0));
    if tiny("width") || tiny("height") {
        return true;
    }
    let src = node.attr("src").map(|s| s.to_ascii_lowercase()).unwrap_or_default();
    ["/pixel", "pixel.gif", "/beacon", "doubleclick.net", "/tracking", "facebook.com/tr"]
        .iter()
        .any(|p| src.contains(p))
}

impl Tree {
    fn from_dom(root: &NodeRef, skip: &Skip) -> Tree {
        let mut nodes = vec![Node {
            name: "#root".into(),
            text: String::new(),
            attrs: Vec::new(),
            children: Vec::new(),
            parent: 0,
        }];
        // (dom node, arena parent)
        let mut stack: Vec<(NodeRef, usize)> = root.children_it(true).map(|c| (c, 0)).collect();
        while let Some((dom, parent)) = stack.pop() {
            let index = nodes.len();
            if dom.is_text() {
                nodes.push(Node {
                    name: String::new(),
                    text: dom.text().to_string(),
                    attrs: Vec::new(),
                    children: Vec::new(),
                    parent,
                });
                nodes[parent].children.push(index);
                continue;
            }
            if !dom.is_element() {
                continue;
            }
            let name = dom.node_name().map(|n| n.to_ascii_lowercase()).unwrap_or_default();
            if DROPPED.contains(&name.as_str()) || is_hidden(&dom) || skip.contains(&dom.id) {
                continue;
            }
            if name == "img" && is_tracking_pixel(&dom) {
                continue;
            }
            let attrs = KEPT_ATTRS.iter().filter_map(|a| dom.attr(a).map(|v| (a.to_string(), v.to_string()))).collect();
            nodes.push(Node { name, text: String::new(), attrs, children: Vec::new(), parent });
            nodes[parent].children.push(index);
            stack.extend(dom.children_it(true).map(|c| (c, index)));
        }
        Tree { nodes }
    }

    fn is_pre(&self, i: usize) -> bool {
        self.nodes[i].name == "pre"
    }

    /// Turndown's whitespace collapsing: runs of ASCII whitespace become one space, and
    /// spaces at block edges go. `pre` content is left alone.
    fn collapse_whitespace(&mut self) {
        enum Ev {
            Enter(usize),
            Leave(usize),
        }
        let mut prev_text: Option<usize> = None;
        let mut keep_leading_ws = false;
        let mut stack: Vec<Ev> = self.nodes[0].children.iter().rev().map(|&c| Ev::Enter(c)).collect();
        while let Some(ev) = stack.pop() {
            let (i, leaving) = match ev {
                Ev::Enter(i) => (i, false),
                Ev::Leave(i) => (i, true),
            };
            if self.nodes[i].is_text() {
                let mut text = collapse_ascii_ws(&self.nodes[i].text);
                let prev_ends_with_space = prev_text.is_none_or(|p| self.nodes[p].text.ends_with(' '));
                if prev_ends_with_space && !keep_leading_ws && text.starts_with(' ') {
                    text.remove(0);
                }
                if !text.is_empty() {
                    prev_text = Some(i);
                }
                self.nodes[i].text = text;
                continue;
            }
            let name = self.nodes[i].name.as_str();
            if is_block(name) || name == "br" {
                if let Some(p) = prev_text.take() {
                    if self.nodes[p].text.ends_with(' ') {
                        self.nodes[p].text.pop();
                    }
                }
                keep_leading_ws = false;
            } else if is_void(name) || (name == "pre") {
                prev_text = None;
                keep_leading_ws = true;
            } else if prev_text.is_some() {
                keep_leading_ws = false;
            }
            if !leaving && !self.is_pre(i) {
                stack.push(Ev::Leave(i));
                stack.extend(self.nodes[i].children.iter().rev().map(|&c| Ev::Enter(c)));
            }
        }
        if let Some(p) = prev_text {
            if self.nodes[p].text.ends_with(' ') {
                self.nodes[p].text.pop();
            }
        }
        // Empty text nodes are detached so that sibling checks see what turndown sees.
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_text() {
                continue;
            }
            let kids = std::mem::take(&mut self.nodes[i].children);
            let kept = kids
                .into_iter()
                .filter(|&c| !(self.nodes[c].is_text() && self.nodes[c].text.is_empty() && !self.inside_pre(c)))
                .collect();
            self.nodes[i].children = kept;
        }
    }

    fn inside_pre(&self, mut i: usize) -> bool {
        // Bounded by MAX_DEPTH, checked before the tree was built.
        while i != 0 {
            i = self.nodes[i].parent;
            if self.nodes[i].name == "pre" {
                return true;
            }
        }
        false
    }

    /// Post-order facts about each node's text: its leading and trailing whitespace and
    /// whether it is blank, used to move spaces outside `**…**` the way turndown does.
    fn edges(&self) -> Vec<Edge> {
        let mut edges: Vec<Edge> = (0..self.nodes.len()).map(|_| Edge::default()).collect();
        let mut stack: Vec<(usize, bool)> = vec![(0, false)];
        while let Some((i, done)) = stack.pop() {
            let node = &self.nodes[i];
            if node.is_text() {
                edges[i] = Edge::of_text(&node.text);
                continue;
            }
            if !done {
                stack.push((i, true));
                stack.extend(node.children.iter().map(|&c| (c, false)));
                continue;
            }
            let mut e = Edge { all_ws: true, ..Edge::default() };
            let mut has_meaningful = false;
            for &c in &node.children {
                let ce = &edges[c];
                if e.all_ws {
                    e.leading.push_str(&ce.leading);
                }
                if ce.all_ws {
                    e.trailing.push_str(&ce.trailing);
                } else {
                    e.trailing = ce.trailing.clone();
                }
                e.all_ws &= ce.all_ws;
                e.first_char = e.first_char.or(ce.first_char);
                e.last_char = ce.last_char.or(e.last_char);
                let cn = &self.nodes[c].name;
                has_meaningful |=
                    ce.has_meaningful || (!cn.is_empty() && (is_void(cn) || is_meaningful_when_blank(cn)));
            }
            if e.all_ws {
                e.trailing = e.leading.clone();
            }
            e.has_meaningful = has_meaningful;
            edges[i] = e;
        }
        edges
    }

    fn plain_text(&self) -> String {
        let mut out = String::new();
        let mut stack: Vec<(usize, bool)> = self.nodes[0].children.iter().rev().map(|&c| (c, false)).collect();
        while let Some((i, leaving)) = stack.pop() {
            let node = &self.nodes[i];
            if node.is_text() {
                out.push_str(&node.text);
                continue;
            }
            let block = is_block(&node.name) || node.name == "br";
            if block && !out.ends_with('\n') && !out.is_empty() {
                out.push('\n');
            }
            if !leaving {
                stack.push((i, true));
                stack.extend(node.children.iter().rev().map(|&c| (c, false)));
            }
        }
        let lines: Vec<&str> = out.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        lines.join("\n")
    }
}

fn collapse_ascii_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_ws = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c') {
            if !in_ws {
                out.push(' ');
            }
            in_ws = true;
        } else {
            out.push(c);
            in_ws = false;
        }
    }
    out
}

#[derive(Debug, Default, Clone)]
struct Edge {
    leading: String,
    trailing: String,
    all_ws: bool,
    first_char: Option<char>,
    last_char: Option<char>,
    has_meaningful: bool,
}

impl Edge {
    fn of_text(t: &str) -> Edge {
        let lead_len = t.len() - t.trim_start().len();
        let trail_len = t.len() - t.trim_end().len();
        let all_ws = t.trim().is_empty();
        Edge {
            leading: t[..lead_len].to_string(),
            trailing: if all_ws { t.to_string() } else { t[t.len() - trail_len..].to_string() },
            all_ws,
            first_char: t.chars().next(),
            last_char: t.chars().last(),
            has_meaningful: false,
        }
    }
}

/// Splits an edge whitespace run into its ASCII part (at the outside) and the rest, as
/// turndown's `edgeWhitespace` does.
fn split_leading(ws: &str) -> (&str, &str) {
    let ascii_len = ws.len() - ws.trim_start_matches([' ', '\t', '\r', '\n']).len();
    (&ws[..ascii_len], &ws[ascii_len..])
}
fn split_trailing(ws: &str) -> (&str, &str) {
    let ascii_len = ws.len() - ws.trim_end_matches([' ', '\t', '\r', '\n']).len();
    (&ws[ws.len() - ascii_len..], &ws[..ws.len() - ascii_len])
}

// ---------------------------------------------------------------------------------------
// The writer

struct Writer<'a> {
    tree: &'a Tree,
    edges: Vec<Edge>,
    base: Option<&'a url::Url>,
    ol_counters: HashMap<usize, usize>,
}

struct Table {
    rows: Vec<(Vec<String>, bool)>,
    current: Vec<String>,
    current_is_header: bool,
}

impl Writer<'_> {
    fn write(mut self) -> String {
        // An accumulator per open element; children join into the top one.
        let mut acc: Vec<String> = vec![String::new()];
        let mut tables: Vec<Table> = Vec::new();
        let mut code_depth = 0usize;
        let mut stack: Vec<(usize, bool)> = self.tree.nodes[0].children.iter().rev().map(|&c| (c, false)).collect();
        while let Some((i, leaving)) = stack.pop() {
            let node = &self.tree.nodes[i];
            if node.is_text() {
                let text = if code_depth > 0 { node.text.clone() } else { escape_text(&node.text) };
                join_into(acc.last_mut().expect("root accumulator"), &text);
                continue;
            }
            let name = node.name.as_str();
            if !leaving {
                match name {
                    "pre" => {
                        let md = self.code_block(i);
                        join_into(acc.last_mut().expect("root accumulator"), &md);
                        continue;
                    }
                    "math" => {
                        let md = self.math(i);
                        join_into(acc.last_mut().expect("root accumulator"), &md);
                        continue;
                    }
                    "img" | "br" | "hr" | "wbr" => {
                        let md = self.leaf(i);
                        join_into(acc.last_mut().expect("root accumulator"), &md);
                        continue;
                    }
                    _ => {}
                }
                if self.is_blank(i) {
                    let blank = if is_block(name) {
                        "\n\n".to_string()
                    } else {
                        // A blank inline element still separates words ("Foo<span> </span>Bar").
                        let (leading, trailing) = self.flanking(i);
                        format!("{leading}{trailing}")
                    };
                    join_into(acc.last_mut().expect("root accumulator"), &blank);
                    continue;
                }
                if name == "table" {
                    tables.push(Table { rows: Vec::new(), current: Vec::new(), current_is_header: false });
                }
                if name == "code" {
                    code_depth += 1;
                }
                acc.push(String::new());
                stack.push((i, true));
                stack.extend(node.children.iter().rev().map(|&c| (c, false)));
                continue;
            }
            let content = acc.pop().expect("pushed on enter");
            if name == "code" {
                code_depth -= 1;
            }
            let replacement = match name {
                "td" | "th" => {
                    if let Some(t) = tables.last_mut() {
                        t.current.push(table_cell(&content));
                        if name == "th" {
                            t.current_is_header = true;
                        }
                        String::new()
                    } else {
                        self.replace(i, content)
                    }
                }
                "tr" => {
                    if let Some(t) = tables.last_mut() {
                        let in_thead = self.tree.nodes[node.parent].name == "thead";
                        let cells = std::mem::take(&mut t.current);
                        let header = std::mem::take(&mut t.current_is_header) || in_thead;
                        if !cells.is_empty() {
                            t.rows.push((cells, header));
                        }
                        String::new()
                    } else {
                        self.replace(i, content)
                    }
                }
                "table" => {
                    let t = tables.pop().expect("pushed on enter");
                    render_table(t, &content)
                }
                "thead" | "tbody" | "tfoot" if !tables.is_empty() => String::new(),
                _ => self.replace(i, content),
            };
            join_into(acc.last_mut().expect("root accumulator"), &replacement);
        }
        let out = acc.pop().unwrap_or_default();
        trim_trailing_breaks(out.trim_start_matches(['\t', '\r', '\n']).trim_end()).trim_end().to_string()
    }

    fn is_blank(&self, i: usize) -> bool {
        let name = self.tree.nodes[i].name.as_str();
        !is_void(name) && !is_meaningful_when_blank(name) && self.edges[i].all_ws && !self.edges[i].has_meaningful
    }

    /// Turndown's flanking whitespace: spaces at the edge of an inline element move outside
    /// its delimiters, unless a neighbour already supplies one.
    fn flanking(&self, i: usize) -> (String, String) {
        let node = &self.tree.nodes[i];
        if is_block(&node.name) {
            return (String::new(), String::new());
        }
        let e = &self.edges[i];
        let (lead_ascii, lead_other) = split_leading(&e.leading);
        let (trail_ascii, trail_other) = split_trailing(&e.trailing);
        let mut leading = e.leading.clone();
        // All-whitespace text is all leading, as in turndown's edge regex.
        let mut trailing = if e.all_ws { String::new() } else { e.trailing.clone() };
        let siblings = &self.tree.nodes[node.parent].children;
        let pos = siblings.iter().position(|&c| c == i);
        if !lead_ascii.is_empty() {
            let prev = pos.and_then(|p| p.checked_sub(1)).map(|p| siblings[p]);
            if prev.is_some_and(|s| self.sibling_flank(s, true)) {
                leading = lead_other.to_string();
            }
        }
        if !trail_ascii.is_empty() && !e.all_ws {
            let next = pos.and_then(|p| siblings.get(p + 1)).copied();
            if next.is_some_and(|s| self.sibling_flank(s, false)) {
                trailing = trail_other.to_string();
            }
        }
        (leading, trailing)
    }

    fn sibling_flank(&self, s: usize, left: bool) -> bool {
        let node = &self.tree.nodes[s];
        if !node.is_text() && is_block(&node.name) {
            return false;
        }
        let e = &self.edges[s];
        if left {
            e.last_char == Some(' ')
        } else {
            e.first_char == Some(' ')
        }
    }

    fn replace(&mut self, i: usize, content: String) -> String {
        let node = &self.tree.nodes[i];
        let name = node.name.as_str();
        let (leading, trailing) = self.flanking(i);
        let content = if !leading.is_empty() || !trailing.is_empty() { content.trim().to_string() } else { content };
        // A hard break at the end of a block shows as a literal backslash; drop it.
        let content = if is_block(name) { trim_trailing_breaks(&content).to_string() } else { content };
        let body = match name {
            "p" => format!("\n\n{content}\n\n"),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level = usize::from(name.as_bytes()[1] - b'0');
                let text = content.split_whitespace().collect::<Vec<_>>().join(" ");
                let text = text.replace("\\ ", " ");
                format!("\n\n{} {}\n\n", "#".repeat(level), text)
            }
            "blockquote" => {
                let trimmed = content.trim_matches('\n');
                let quoted: Vec<String> = trimmed.split('\n').map(|l| format!("> {l}")).collect();
                format!("\n\n{}\n\n", quoted.join("\n"))
            }
            "ul" | "ol" => {
                let parent = &self.tree.nodes[node.parent];
                let last_element = parent.children.iter().rev().find(|&&c| !self.tree.nodes[c].is_text());
                if parent.name == "li" && last_element == Some(&i) {
                    format!("\n{content}")
                } else {
                    format!("\n\n{content}\n\n")
                }
            }
            "li" => self.list_item(i, &content),
            "a" => self.link(i, &content),
            "em" | "i" | "cite" | "dfn" => {
                if is_blank_markdown(&content) {
                    content
                } else {
                    format!("_{content}_")
                }
            }
            "strong" | "b" => {
                if is_blank_markdown(&content) {
                    content
                } else {
                    format!("**{content}**")
                }
            }
            "del" | "s" | "strike" => {
                if is_blank_markdown(&content) {
                    content
                } else {
                    format!("~~{content}~~")
                }
            }
            "code" | "kbd" | "samp" | "tt" => inline_code(&content),
            "dt" => format!("\n\n**{}**\n\n", content.trim()),
            _ if is_block(name) => format!("\n\n{content}\n\n"),
            _ => content,
        };
        format!("{leading}{body}{trailing}")
    }

    fn list_item(&mut self, i: usize, content: &str) -> String {
        let node = &self.tree.nodes[i];
        let parent = &self.tree.nodes[node.parent];
        let prefix = if parent.name == "ol" {
            let start = parent.attr("start").and_then(|s| s.trim().parse::<i64>().ok());
            let counter = self.ol_counters.entry(node.parent).or_insert(0);
            let n = start.unwrap_or(1) + *counter as i64;
            *counter += 1;
            format!("{n}.  ")
        } else {
            format!("{BULLET}   ")
        };
        let content = content.trim_start_matches('\n');
        let trimmed_end = content.trim_end_matches('\n');
        let content = if trimmed_end.len() < content.len() { format!("{trimmed_end}\n") } else { content.to_string() };
        let indent = " ".repeat(prefix.len());
        let content = content.replace('\n', &format!("\n{indent}"));
        let siblings = &parent.children;
        let has_next = siblings.iter().position(|&c| c == i).is_some_and(|p| p + 1 < siblings.len());
        let newline = if has_next && !content.ends_with('\n') { "\n" } else { "" };
        format!("{prefix}{content}{newline}")
    }

    fn link(&self, i: usize, content: &str) -> String {
        let node = &self.tree.nodes[i];
        let Some(href) = node.attr("href").map(str::trim).filter(|h| !h.is_empty()) else {
            return content.to_string();
        };
        let lower = href.to_ascii_lowercase();
        if lower.starts_with("javascript:") || lower.starts_with("vbscript:") || lower.starts_with("data:") {
            return content.to_string();
        }
        let href = self.absolute(href);
        let title = node
            .attr("title")
            .map(clean_attribute)
            .filter(|t| !t.is_empty())
            .map(|t| format!(" \"{}\"", t.replace('"', "\\\"")))
            .unwrap_or_default();
        format!("[{content}]({}{title})", link_destination(&href))
    }

    fn leaf(&self, i: usize) -> String {
        let node = &self.tree.nodes[i];
        match node.name.as_str() {
            "br" => format!("{BR}\n"),
            "hr" => format!("\n\n{HR}\n\n"),
            "img" => {
                let src = node
                    .attr("src")
                    .filter(|s| !s.trim().is_empty() && !s.trim().starts_with("data:"))
                    .or_else(|| node.attr("data-src"))
                    .map(str::trim)
                    .unwrap_or_default();
                if src.is_empty() {
                    return String::new();
                }
                // Alt text is one line: CommonMark folds its line breaks anyway, and a
                // blank line would end the image.
                let alt = node.attr("alt").unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
                let alt = escape_inline(&alt);
                let title = node
                    .attr("title")
                    .map(clean_attribute)
                    .filter(|t| !t.is_empty())
                    .map(|t| format!(" \"{}\"", t.replace('"', "\\\"")))
                    .unwrap_or_default();
                format!("![{alt}]({}{title})", link_destination(&self.absolute(src)))
            }
            _ => String::new(),
        }
    }

    fn absolute(&self, href: &str) -> String {
        if href.starts_with('#') && self.base.is_none() {
            return href.to_string();
        }
        match self.base {
            Some(base) => base.join(href).map(|u| u.to_string()).unwrap_or_else(|_| href.to_string()),
            None => href.to_string(),
        }
    }

    /// MathML as TeX between dollars when the page carries the TeX source (`alttext` or a
    /// TeX `annotation`), which Obsidian renders; otherwise its text, so no words are lost.
    fn math(&self, i: usize) -> String {
        let node = &self.tree.nodes[i];
        let display = node.attr("display") == Some("block");
        let mut tex = node.attr("alttext").map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        let mut text = String::new();
        let mut stack: Vec<(usize, bool)> = node.children.iter().rev().map(|&c| (c, false)).collect();
        while let Some((c, in_annotation)) = stack.pop() {
            let n = &self.tree.nodes[c];
            if n.is_text() {
                if !in_annotation {
                    text.push_str(&n.text);
                }
                continue;
            }
            if n.name == "annotation" {
                if tex.is_none() && n.attr("encoding").is_some_and(|e| e.contains("tex")) {
                    let t: String = n.children.iter().map(|&k| self.tree.nodes[k].text.as_str()).collect();
                    tex = Some(t.trim().to_string()).filter(|t| !t.is_empty());
                }
                stack.extend(n.children.iter().rev().map(|&k| (k, true)));
                continue;
            }
            stack.extend(n.children.iter().rev().map(|&k| (k, in_annotation)));
        }
        match tex {
            Some(t) if display => format!("\n\n$${t}$$\n\n"),
            Some(t) => format!("${t}$"),
            None => escape_text(&text.split_whitespace().collect::<Vec<_>>().join(" ")),
        }
    }

    fn code_block(&self, pre: usize) -> String {
        let mut code = String::new();
        let mut stack: Vec<usize> = self.tree.nodes[pre].children.iter().rev().copied().collect();
        while let Some(i) = stack.pop() {
            let n = &self.tree.nodes[i];
            if n.is_text() {
                code.push_str(&n.text);
            } else if n.name == "br" {
                code.push('\n');
            } else {
                stack.extend(n.children.iter().rev().copied());
            }
        }
        if code.is_empty() {
            return String::new();
        }
        let language = self.code_language(pre).unwrap_or_default();
        let mut fence_size = 3;
        for line in code.lines() {
            let run = line.chars().take_while(|&c| c == '`').count();
            if run >= fence_size {
                fence_size = run + 1;
            }
        }
        let fence = "`".repeat(fence_size);
        let code = code.strip_suffix('\n').unwrap_or(&code);
        format!("\n\n{fence}{language}\n{code}\n{fence}\n\n")
    }

    /// The language a code block declares, in the spellings highlighters use:
    /// `language-x` / `lang-x` classes (on `pre` or its `code`), `data-lang`, and GitHub's
    /// `highlight-source-x` on the wrapping `div`.
    fn code_language(&self, pre: usize) -> Option<String> {
        let node = &self.tree.nodes[pre];
        let mut candidates: Vec<usize> = vec![pre];
        candidates.extend(node.children.iter().copied().filter(|&c| self.tree.nodes[c].name == "code"));
        if node.parent != 0 {
            candidates.push(node.parent);
        }
        for &c in &candidates {
            let n = &self.tree.nodes[c];
            for attr in ["data-lang", "data-language", "data-canonical-lang", "lang"] {
                if let Some(l) = n.attr(attr).map(str::trim).filter(|l| is_language_name(l)) {
                    return Some(l.to_ascii_lowercase());
                }
            }
            // Confluence: data-syntaxhighlighter-params="brush: bash; gutter: false".
            if let Some(params) = n.attr("data-syntaxhighlighter-params") {
                let brush = params.split(';').find_map(|p| p.trim().strip_prefix("brush:"));
                if let Some(l) = brush.map(str::trim).filter(|l| is_language_name(l)) {
                    return Some(l.to_ascii_lowercase());
                }
            }
            for class in n.attr("class").unwrap_or_default().split_whitespace() {
                // Jira writes `code-java` on the pre itself; elsewhere `code-` prefixes
                // layout classes, so it only counts on `pre`.
                let code_prefix: &[&str] = if c == pre { &["code-"] } else { &[] };
                let prefixes =
                    ["language-", "lang-", "highlight-source-", "highlight-text-", "mw-highlight-lang-", "brush:"];
                for prefix in prefixes.iter().chain(code_prefix) {
                    if let Some(l) =
                        class.strip_prefix(prefix).filter(|l| is_language_name(l) && !NOT_LANGUAGES.contains(l))
                    {
                        return Some(l.to_ascii_lowercase());
                    }
                }
            }
        }
        None
    }
}

/// Content with no visible text (only hard breaks): delimiters around it would show as
/// literal asterisks, so it is emitted bare.
fn trim_trailing_breaks(mut s: &str) -> &str {
    loop {
        let t = s.trim_end_matches([' ', '\n']);
        match t.strip_suffix(BR) {
            // An escaped backslash (`\\`) is text, not a break.
            Some(rest) if !rest.ends_with('\\') => s = rest,
            _ => return s,
        }
    }
}

fn is_blank_markdown(content: &str) -> bool {
    content.replace(&format!("{BR}\n"), "").trim().is_empty()
}

/// Class suffixes that look like languages but name layout.
const NOT_LANGUAGES: &[&str] = &["block", "panel", "content", "wrapper", "container", "snippet", "highlight", "text"];

fn is_language_name(l: &str) -> bool {
    !l.is_empty() && l.len() <= 32 && l.chars().all(|c| c.is_ascii_alphanumeric() || "+-#._".contains(c))
}

/// Turndown's `join`: block separators collapse to at most one blank line.
fn join_into(output: &mut String, replacement: &str) {
    let trimmed_out_len = output.trim_end_matches('\n').len();
    let out_newlines = output.len() - trimmed_out_len;
    let rep = replacement.trim_start_matches('\n');
    let rep_newlines = replacement.len() - rep.len();
    let nls = out_newlines.max(rep_newlines).min(2);
    output.truncate(trimmed_out_len);
    for _ in 0..nls {
        output.push('\n');
    }
    output.push_str(rep);
}

fn inline_code(content: &str) -> String {
    if content.is_empty() {
        return String::new();
    }
    let content = content.replace("\r\n", " ").replace(['\n', '\r'], " ");
    let needs_space = content.starts_with('`')
        || content.ends_with('`')
        || (content.starts_with(' ') && content.ends_with(' ') && content.trim() != "");
    let extra = if needs_space { " " } else { "" };
    // The delimiter must be a backtick run that does not occur in the content.
    let mut runs = std::collections::HashSet::new();
    let mut run = 0;
    for c in content.chars().chain(std::iter::once('\0')) {
        if c == '`' {
            run += 1;
        } else if run > 0 {
            runs.insert(run);
            run = 0;
        }
    }
    let mut n = 1;
    while runs.contains(&n) {
        n += 1;
    }
    let delim = "`".repeat(n);
    format!("{delim}{extra}{content}{extra}{delim}")
}

fn clean_attribute(a: &str) -> String {
    // Blank lines would end the Markdown construct the attribute sits in.
    let mut out = String::new();
    let mut lines = a.split('\n').map(str::trim_start).filter(|l| !l.trim().is_empty());
    if let Some(first) = lines.next() {
        out.push_str(first);
    }
    for l in lines {
        out.push('\n');
        out.push_str(l);
    }
    if a.starts_with('\n') || a.trim().is_empty() {
        out = out.trim().to_string();
    }
    out
}

/// A link destination that CommonMark parses back to the same URL.
pub(crate) fn link_destination(href: &str) -> String {
    let href: String = href.chars().filter(|c| !matches!(c, '\n' | '\r' | '\t')).collect();
    if href.contains(' ') {
        // A destination with spaces must be written in angle brackets.
        return format!("<{}>", href.replace('<', "%3C").replace('>', "%3E"));
    }
    let mut out = String::with_capacity(href.len());
    for c in href.chars() {
        match c {
            '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes inline Markdown syntax (not line-start constructs): for alt text and titles
/// placed inside other syntax.
pub(crate) fn escape_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes text so that Markdown shows it as text (turndown's rules, plus `<` before
/// something tag-like so page text cannot become raw HTML in a note app).
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let chars: Vec<char> = s.chars().collect();
    // Line-start escapes apply at the start of the text node, as in turndown.
    let rest_start = escape_line_start(&chars, &mut out);
    for (k, &c) in chars.iter().enumerate().skip(rest_start) {
        match c {
            '\\' | '*' | '`' | '[' | ']' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '<' if chars.get(k + 1).is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')) => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Escapes what would start a block construct at the beginning of the text; returns how
/// many chars it consumed.
fn escape_line_start(chars: &[char], out: &mut String) -> usize {
    match chars.first() {
        Some('-') => {
            out.push_str("\\-");
            1
        }
        Some('+') if chars.get(1) == Some(&' ') => {
            out.push_str("\\+ ");
            2
        }
        Some('=') => {
            let n = chars.iter().take_while(|&&c| c == '=').count();
            out.push('\\');
            out.extend(std::iter::repeat_n('=', n));
            n
        }
        Some('#') => {
            let n = chars.iter().take_while(|&&c| c == '#').count();
            if n <= 6 && chars.get(n) == Some(&' ') {
                out.push('\\');
                out.extend(std::iter::repeat_n('#', n));
                out.push(' ');
                n + 1
            } else {
                0
            }
        }
        Some('~') if chars.len() >= 3 && chars[1] == '~' && chars[2] == '~' => {
            out.push_str("\\~~~");
            3
        }
        Some('>') => {
            out.push_str("\\>");
            1
        }
        Some(c) if c.is_ascii_digit() => {
            let n = chars.iter().take_while(|c| c.is_ascii_digit()).count();
            if chars.get(n) == Some(&'.') && chars.get(n + 1) == Some(&' ') {
                out.extend(&chars[..n]);
                out.push_str("\\. ");
                n + 2
            } else {
                0
            }
        }
        _ => 0,
    }
}

fn table_cell(content: &str) -> String {
    let flat = content.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat.replace("\\ ", " ");
    flat.replace('|', "\\|")
}

fn render_table(t: Table, leftover: &str) -> String {
    let mut rows = t.rows;
    if rows.is_empty() {
        return format!("\n\n{}\n\n", leftover.trim());
    }
    let columns = rows.iter().map(|(r, _)| r.len()).max().unwrap_or(0);
    // One column is a layout table: its cells are paragraphs, not data.
    if columns <= 1 {
        let body: Vec<String> = rows.into_iter().flat_map(|(r, _)| r).filter(|c| !c.is_empty()).collect();
        return format!("\n\n{}\n\n", body.join("\n\n"));
    }
    for (r, _) in &mut rows {
        r.resize(columns, String::new());
    }
    let mut out = String::from("\n\n");
    let (header, body): (Vec<String>, &[(Vec<String>, bool)]) = if rows[0].1 {
        (rows[0].0.clone(), &rows[1..])
    } else {
        // GFM needs a header row; an empty one keeps every data row as data.
        (vec![String::new(); columns], &rows[..])
    };
    let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
    out.push_str(&line(&header));
    out.push('\n');
    out.push_str(&format!("|{}", " --- |".repeat(columns)));
    for (r, _) in body {
        out.push('\n');
        out.push_str(&line(r));
    }
    out.push_str("\n\n");
    out
}
