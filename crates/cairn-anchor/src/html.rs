//! The text model of a saved HTML page, natively (feature `html`).
//!
//! [`document_text`] is the Rust twin of `collectText` in `extension/content.js`: both
//! implement the text model documented at the crate root, so offsets computed on a
//! saved page mean the same characters as offsets computed in the browser.
//! The HTML parser is html5ever (through `dom_query`), which builds the same tree a
//! browser does for the same bytes; scripts do not run, so pages that build their
//! content in JavaScript have less text here than in the browser.

use dom_query::{Document, Matcher, NodeRef};
use html5ever::tendril::TendrilSink;

/// Elements whose text is not part of the document's text (keep in sync with
/// `SKIPPED` in `extension/content.js`).
pub const SKIPPED: &[&str] = &["script", "style", "noscript", "template", "textarea", "iframe", "object"];

/// The text of the document: every Text node under `<body>`, in tree order,
/// concatenated as is; empty when there is no body.
pub fn document_text(html: &str) -> String {
    let doc = parse_as_a_browser(html);
    let mut out = String::new();
    if let Some(body) = doc.body() {
        walk(&body, &mut out);
    }
    out
}

/// The tree a browser builds, scripts on: `<noscript>` in `<head>` is then raw text. With
/// scripting off (`Document::from`), a `<noscript>` holding an `<img>` or text in the head
/// ends the head there and starts the body early, which puts the rest of the head's
/// whitespace into the body's text (found by `tests/e2e/text-model.test.mjs`).
fn parse_as_a_browser(html: &str) -> Document {
    let opts = html5ever::ParseOpts {
        tree_builder: html5ever::tree_builder::TreeBuilderOpts { scripting_enabled: true, ..Default::default() },
        ..Default::default()
    };
    html5ever::parse_document(Document::default(), opts).one(html)
}

/// Depth-first, with an explicit stack: saved pages can nest deeper than the call stack allows.
fn walk(root: &NodeRef<'_>, out: &mut String) {
    let mut stack: Vec<NodeRef<'_>> = root.children_it(true).collect();
    while let Some(node) = stack.pop() {
        if node.is_text() {
            out.push_str(&node.text());
        } else if node.is_element() {
            let name = node.node_name().map(|n| n.to_ascii_lowercase()).unwrap_or_default();
            if !SKIPPED.contains(&name.as_str()) {
                stack.extend(node.children_it(true));
            }
        }
    }
}

/// A CssSelector whose value is not a CSS selector the parser understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidCss(pub String);

impl std::fmt::Display for InvalidCss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid CSS selector: {:?}", self.0)
    }
}

impl std::error::Error for InvalidCss {}

/// The elements a W3C CssSelector (`value`) selects, in document order, as Apache
/// Annotator's `createCssSelectorMatcher` gives them: the selector is evaluated against
/// the whole document (as `querySelectorAll` on the document), then only elements inside
/// `scope` (strict descendants; the whole document when `None`) are kept. So `"u i"`
/// with a `<u>` scope means "an `i` in a `u` anywhere", not relative to the scope.
pub fn css_select<'a>(
    doc: &'a Document,
    value: &str,
    scope: Option<&NodeRef<'a>>,
) -> Result<Vec<NodeRef<'a>>, InvalidCss> {
    let matcher = Matcher::new(value).map_err(|_| InvalidCss(value.to_string()))?;
    let found = doc.select_matcher(&matcher);
    Ok(found
        .nodes()
        .iter()
        .filter(|n| scope.is_none_or(|s| n.ancestors_it(None).any(|a| a.id == s.id)))
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_text_in_tree_order_without_skipped_elements_or_normalisation() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body>\n  <p>One <b>two</b></p>\
                    <script>var x = 'no';</script><noscript>no</noscript><textarea>no</textarea>\
                    <template><p>no</p></template><p>three&amp;<br>four</p><!-- c --></body></html>";
        assert_eq!(document_text(html), "\n  One twothree&four");
    }

    #[test]
    fn noscript_in_the_head_does_not_start_the_body() {
        let html = "<html><head><noscript><img src=x></noscript>\n  <title>T</title>\n</head><body>B</body></html>";
        assert_eq!(document_text(html), "B");
    }

    #[test]
    fn no_body_content_and_deep_nesting() {
        assert_eq!(document_text(""), "");
        let deep = format!("{}x{}", "<div>".repeat(3_000), "</div>".repeat(3_000));
        assert_eq!(document_text(&deep), "x");
    }

    #[test]
    fn css_selectors_match_in_document_order_within_scope() {
        let doc = Document::from("<p id=a><i>1</i><u><i>2</i></u></p><i>3</i>");
        let texts = |v: Vec<NodeRef<'_>>| v.iter().map(|n| n.text().to_string()).collect::<Vec<_>>();
        assert_eq!(texts(css_select(&doc, "i", None).unwrap()), ["1", "2", "3"]);
        let p = doc.select("#a").nodes()[0];
        assert_eq!(texts(css_select(&doc, "i", Some(&p)).unwrap()), ["1", "2"]);
        // The scope itself is not inside itself.
        assert!(css_select(&doc, "p", Some(&p)).unwrap().is_empty());
        assert_eq!(css_select(&doc, "p[", None).unwrap_err(), InvalidCss("p[".into()));
    }
}
