//! Rendering notes. Notes are Markdown written by other people and shown on your pages, which
//! makes them the main way to attack a Cairn user. Rendering is therefore two
//! independent walls: pulldown-cmark with raw HTML turned into text, then an
//! ammonia allow-list over the result. Either alone should be enough.
//!
//! The server renders with this crate before storing `note_html`, and the
//! extension renders again with it before showing a note: neither trusts HTML
//! that it did not make itself.
//!
//! A note is also bounded in shape: Markdown nests without limit (each `>` of
//! `>>>>…` opens a blockquote) and a browser lays out every level, so a hostile
//! note of 20,000 characters could stall the page it is shown on. Rendering
//! keeps at most [`MAX_DEPTH`] levels of elements (deeper parts are kept as
//! text) and at most [`MAX_ELEMENTS`] elements (the rest is cut, and the cut is
//! marked). Ordinary notes are far inside both and render unchanged.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::OnceLock;

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// Deepest nesting of elements a rendered note keeps. Notes people write nest a
/// handful of levels (a list in a list in a quote, with emphasis).
pub const MAX_DEPTH: usize = 16;

/// Most elements a rendered note has, the mark of a cut note included. A long
/// note with a table of a hundred rows has a few hundred.
pub const MAX_ELEMENTS: usize = 2_000;

/// What marks a note cut at [`MAX_ELEMENTS`].
const CUT_MARK: &str = "\u{2026}";

const ALLOWED_TAGS: &[&str] = &[
    "p",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "br",
    "hr",
    "del",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
];

fn sanitizer() -> &'static Builder<'static> {
    static SANITIZER: OnceLock<Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        let mut b = Builder::default();
        b.tags(ALLOWED_TAGS.iter().copied().collect())
            .generic_attributes(HashSet::new())
            .tag_attributes(HashMap::from([("a", HashSet::from(["href", "title"])), ("ol", HashSet::from(["start"]))]))
            .url_schemes(HashSet::from(["http", "https", "mailto"]))
            // A relative link would resolve against whatever page the note is shown on.
            .url_relative(UrlRelative::Deny)
            .link_rel(Some("noopener noreferrer"));
        b
    })
}

/// Renders a note to HTML that is safe to insert into any page.
pub fn render_note(markdown: &str) -> String {
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Bounded::new(safe_events(markdown)));
    sanitizer().clean(&html).to_string()
}

/// The note's Markdown as events with nothing in them that could run or call out.
fn safe_events(markdown: &str) -> impl Iterator<Item = Event<'_>> {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    Parser::new_ext(markdown, options).map(|event| match event {
        // Raw HTML is shown as the text the author typed, never interpreted.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        // No remote images: they would tell a third party who read the note and when.
        // The image becomes a plain link the reader can choose to follow.
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url, title, id })
        }
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    })
}

/// How a tag opens in the HTML that pulldown-cmark writes for it.
struct Shape {
    /// Levels of nesting it adds: `<pre><code>` is two; a table is two (the
    /// table, then its head or body), its head row one more.
    levels: usize,
    /// Levels its children always add, so that a kept tag keeps its structure:
    /// a list has items, a table rows and cells.
    reserve: usize,
    /// Elements it writes (a table also writes its `<tbody>`).
    elements: usize,
}

fn shape(tag: &Tag<'_>) -> Shape {
    let (levels, reserve, elements) = match tag {
        Tag::HtmlBlock => (0, 0, 0),
        Tag::Table(_) => (2, 2, 2),
        Tag::TableHead => (1, 1, 2),
        Tag::TableRow | Tag::List(_) => (1, 1, 1),
        Tag::CodeBlock(_) => (2, 0, 2),
        _ => (1, 0, 1),
    };
    Shape { levels, reserve, elements }
}

/// Whether a tag is inline, so that its text, when the tag is dropped, runs on
/// without a break.
fn is_inline(end: TagEnd) -> bool {
    matches!(end, TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link | TagEnd::Image)
}

/// A Markdown event stream bounded to [`MAX_DEPTH`] and [`MAX_ELEMENTS`].
///
/// A tag that would open too deep is dropped together with its end (its text
/// stays, as text of the deepest kept element); once the element budget is
/// spent, the open elements are closed, the cut is marked, and the rest of the
/// note is not rendered. Only whole tags are dropped, so what is written stays
/// well nested, and the sanitizer's HTML parser never has to repair it.
struct Bounded<'a, I> {
    events: I,
    /// Every open tag: its end if it was written, `None` if it was dropped,
    /// with the levels it added.
    open: Vec<(Option<TagEnd>, usize)>,
    depth: usize,
    elements: usize,
    /// The closing of a cut note, given out before the stream ends.
    closing: VecDeque<Event<'a>>,
    cut: bool,
}

impl<'a, I: Iterator<Item = Event<'a>>> Bounded<'a, I> {
    fn new(events: I) -> Self {
        Bounded { events, open: Vec::new(), depth: 0, elements: 0, closing: VecDeque::new(), cut: false }
    }

    /// Whether `elements` more fit, leaving room for the mark of a cut.
    fn fits(&self, elements: usize) -> bool {
        self.elements + elements < MAX_ELEMENTS
    }

    fn cut(&mut self) {
        self.cut = true;
        self.closing.extend(self.open.drain(..).rev().filter_map(|(end, _)| end.map(Event::End)));
        self.closing.extend([
            Event::Start(Tag::Paragraph),
            Event::Text(CowStr::Borrowed(CUT_MARK)),
            Event::End(TagEnd::Paragraph),
        ]);
    }

    /// An element without child elements: written if it fits, else its text, if
    /// it has any. `<br>` and `<hr>` hold nothing and so add no level; `<code>`
    /// holds its text and does.
    fn leaf(&mut self, event: Event<'a>) -> Option<Event<'a>> {
        let void = matches!(event, Event::HardBreak | Event::Rule | Event::TaskListMarker(_));
        if !void && self.depth >= MAX_DEPTH {
            return match event {
                Event::Code(text) | Event::InlineMath(text) | Event::DisplayMath(text) => Some(Event::Text(text)),
                _ => None,
            };
        }
        if !self.fits(1) {
            self.cut();
            return None;
        }
        self.elements += 1;
        Some(event)
    }
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for Bounded<'a, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            if self.cut {
                return self.closing.pop_front();
            }
            let event = self.events.next()?;
            match event {
                Event::Start(tag) => {
                    let Shape { levels, reserve, elements } = shape(&tag);
                    if self.depth + levels + reserve > MAX_DEPTH {
                        self.open.push((None, 0));
                        continue;
                    }
                    if !self.fits(elements) {
                        self.cut();
                        continue;
                    }
                    self.depth += levels;
                    self.elements += elements;
                    self.open.push((Some(tag.to_end()), levels));
                    return Some(Event::Start(tag));
                }
                Event::End(end) => match self.open.pop() {
                    Some((Some(_), levels)) => {
                        self.depth -= levels;
                        return Some(Event::End(end));
                    }
                    // A dropped block still ends a line, so that its words do not
                    // run into the next block's.
                    Some((None, _)) if !is_inline(end) => return Some(Event::SoftBreak),
                    // pulldown-cmark balances its tags, so an end always has a start.
                    _ => continue,
                },
                Event::Code(_)
                | Event::InlineMath(_)
                | Event::DisplayMath(_)
                | Event::HardBreak
                | Event::Rule
                | Event::TaskListMarker(_)
                | Event::FootnoteReference(_) => {
                    if let Some(event) = self.leaf(event) {
                        return Some(event);
                    }
                }
                Event::Text(_) | Event::SoftBreak | Event::Html(_) | Event::InlineHtml(_) => return Some(event),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_ordinary_markdown() {
        assert_eq!(render_note("**why** this *matters*"), "<p><strong>why</strong> this <em>matters</em></p>\n");
        let html = render_note("[docs](https://example.com/a?b=1)");
        assert_eq!(html, "<p><a href=\"https://example.com/a?b=1\" rel=\"noopener noreferrer\">docs</a></p>\n");
        assert!(render_note("- a\n- b").contains("<li>a</li>"));
        assert!(render_note("~~gone~~").contains("<del>gone</del>"));
        assert!(render_note("| a | b |\n|---|---|\n| 1 | 2 |").contains("<td>1</td>"));
        assert!(render_note("```\nlet x = 1 < 2;\n```").contains("<pre><code>let x = 1 &lt; 2;\n</code></pre>"));
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = render_note("hello <b>bold</b>");
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
    }

    #[test]
    fn images_become_links_not_fetches() {
        let html = render_note("![cat](https://tracker.example/p.gif)");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("href=\"https://tracker.example/p.gif\""), "{html}");
    }

    /// Inputs gathered from the usual XSS cheat sheets; each must come out inert.
    const HOSTILE: &[&str] = &[
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<svg><script>alert(1)</script></svg>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](java\tscript:alert(1))",
        "[x](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
        "[x](&#x6A;avascript&colon;alert(1))",
        "[x](javascript&#58;alert(1))",
        "<a href=\"&#106;avascript:alert(1)\">x</a>",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](data:image/svg+xml,<svg onload=alert(1)>)",
        "![x](javascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<div style=\"background:url(javascript:alert(1))\">x</div>",
        "<p onclick=\"alert(1)\">click</p>",
        "<a href=x onmouseover=alert(1)>x</a>",
        "[x](https://ok.example \"title\" onmouseover=alert(1))",
        "<<script>script>alert(1)<</script>/script>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "`<script>alert(1)</script>`",
        "[x]: javascript:alert(1)\n\n[link][x]",
        "<details open ontoggle=alert(1)>",
        "<form action=javascript:alert(1)><input type=submit>",
        "<object data=\"data:text/html,<script>alert(1)</script>\">",
        "\u{0}<script>alert(1)</script>",
    ];

    #[test]
    fn hostile_markdown_comes_out_inert() {
        for input in HOSTILE {
            let html = render_note(input);
            let lower = html.to_ascii_lowercase();
            for forbidden in ["<script", "<img", "<svg", "<iframe", "<object", "<form", "<input", "<style", "<math"] {
                assert!(!lower.contains(forbidden), "{input:?} -> {html}");
            }
            // Escaped text may mention anything; what matters is what is inside tags.
            for tag in tags_of(&lower) {
                assert!(!tag.contains("javascript:"), "{input:?} -> {html}");
                assert!(!tag.contains("vbscript:"), "{input:?} -> {html}");
                assert!(!tag.contains("data:"), "{input:?} -> {html}");
                assert!(!tag.contains("style="), "{input:?} -> {html}");
                assert!(!has_event_handler_attribute(tag), "{input:?} -> {html}");
            }
        }
    }

    /// The markup of every tag in `html` (what lies between `<` and `>`).
    /// Text outside tags is always escaped by the renderer, so `<` starts a real tag.
    fn tags_of(html: &str) -> Vec<&str> {
        html.split('<').skip(1).map(|rest| rest.split('>').next().unwrap_or(rest)).collect()
    }

    /// Whether a tag's markup has an attribute named `on...`.
    fn has_event_handler_attribute(tag: &str) -> bool {
        tag.split(|c: char| c.is_whitespace() || c == '/').skip(1).any(|attr| {
            attr.strip_prefix("on").is_some_and(|name| {
                let n = name.bytes().take_while(|c| c.is_ascii_alphabetic()).count();
                n > 0 && name[n..].trim_start().starts_with('=')
            })
        })
    }

    #[test]
    fn the_checks_themselves_catch_what_they_look_for() {
        assert!(has_event_handler_attribute("img src=x onerror=alert(1)"));
        assert!(!has_event_handler_attribute("a href=\"https://x.example/?online=1\""));
        assert_eq!(tags_of("<p>a &lt;b&gt; <a href=\"x\">l</a></p>"), vec!["p", "a href=\"x\"", "/a", "/p"]);
    }

    /// The nesting depth and the element count of rendered HTML, or `None` if
    /// its tags are not balanced.
    fn shape_of(html: &str) -> Option<(usize, usize)> {
        const VOID: &[&str] = &["br", "hr", "img", "input"];
        let (mut depth, mut deepest, mut elements) = (0usize, 0, 0);
        for tag in tags_of(html) {
            let name = tag.split(|c: char| c.is_whitespace() || c == '/').find(|n| !n.is_empty()).unwrap_or("");
            if tag.starts_with('/') {
                depth = depth.checked_sub(1)?;
            } else {
                elements += 1;
                if !VOID.contains(&name) {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
            }
        }
        (depth == 0).then_some((deepest, elements))
    }

    /// What the renderer wrote before notes were bounded: the reference for
    /// "ordinary notes render unchanged".
    fn render_unbounded(markdown: &str) -> String {
        let mut html = String::new();
        pulldown_cmark::html::push_html(&mut html, safe_events(markdown));
        sanitizer().clean(&html).to_string()
    }

    fn within_bounds(html: &str) -> bool {
        shape_of(html).is_some_and(|(depth, elements)| depth <= MAX_DEPTH && elements <= MAX_ELEMENTS)
    }

    #[test]
    fn the_shape_check_counts_what_it_should() {
        assert_eq!(shape_of("<p>a<br>b</p>\n<ul>\n<li><em>x</em></li>\n</ul>"), Some((3, 5)));
        assert_eq!(shape_of("<p><em>x</p>"), None);
        let deep = render_unbounded(&">".repeat(40));
        assert!(shape_of(&deep).is_some_and(|(depth, _)| depth > MAX_DEPTH), "{deep}");
    }

    #[test]
    fn twenty_thousand_quote_marks_nest_no_deeper_than_the_cap() {
        let html = render_note(&">".repeat(20_000));
        assert!(within_bounds(&html), "{:?}", shape_of(&html));
        assert_eq!(html.matches("<blockquote>").count(), MAX_DEPTH);

        let html = render_note(&format!("{} the words at the bottom", ">".repeat(20_000)));
        assert!(within_bounds(&html), "{:?}", shape_of(&html));
        assert!(html.contains("the words at the bottom"), "text below the cap is kept as text");
    }

    #[test]
    fn deep_lists_and_inline_nesting_keep_their_text() {
        let lists: String = (0..300).map(|i| format!("{}- level {i}\n", "  ".repeat(i))).collect();
        let html = render_note(&lists);
        assert!(within_bounds(&html), "{:?}", shape_of(&html));
        assert!(html.contains("level 0") && html.contains("level 299"), "{html}");

        let inline = format!("{}**_~~[link](https://a.example) `code`~~_**  \nnext", ">".repeat(14));
        let html = render_note(&inline);
        assert!(within_bounds(&html), "{:?}", shape_of(&html));
        assert!(html.contains("link") && html.contains("code") && html.contains("next"), "{html}");

        let table = format!("{}| a | b |\n|---|---|\n| 1 | 2 |", ">".repeat(MAX_DEPTH - 2));
        let html = render_note(&table);
        assert!(within_bounds(&html), "{:?}", shape_of(&html));
        assert!(!html.contains("<table>") && html.contains('1') && html.contains('2'), "{html}");
    }

    #[test]
    fn a_note_of_too_many_elements_is_cut_and_marked() {
        let items = "- item\n".repeat(MAX_ELEMENTS * 2);
        let html = render_note(&items);
        assert!(within_bounds(&html), "{:?}", shape_of(&html));
        assert!(html.starts_with("<ul>\n<li>item</li>"), "{}", &html[..40]);
        assert!(html.ends_with("</ul>\n<p>\u{2026}</p>\n"), "{}", &html[html.len() - 40..]);

        let rows: String = (0..MAX_ELEMENTS).map(|i| format!("| {i} | x |\n")).collect();
        let html = render_note(&format!("| a | b |\n|---|---|\n{rows}"));
        assert!(within_bounds(&html), "{:?}", shape_of(&html));
        assert!(html.contains("<td>0</td>") && html.ends_with("</table>\n<p>\u{2026}</p>\n"), "a cut table is closed");

        let breaks = "a  \n".repeat(MAX_ELEMENTS * 2);
        assert!(within_bounds(&render_note(&breaks)));
    }

    #[test]
    fn ordinary_notes_render_as_before() {
        for note in [
            "**why** this *matters*",
            "> quoted\n>\n> > twice, with a [link](https://x.example \"t\")",
            "1. one\n2. two\n   - nested `code`\n     - deeper ~~gone~~\n\n---\n\n# Title\n\n```rust\nfn main() {}\n```",
            "| a | b |\n|:--|--:|\n| 1 | 2 |\n| 3 | 4 |",
            "line  \nbreak and ![img](https://tracker.example/p.gif)",
        ] {
            assert_eq!(render_note(note), render_unbounded(note), "{note:?}");
        }
    }

    #[test]
    fn notes_at_the_depth_cap_render_as_before() {
        // 8 lists of 8 items: the rule inside is at depth 16 but holds nothing.
        let rule = format!("{}---\n", "1. ".repeat(8));
        // 14 quotes, a paragraph, and the code span in it: 16 levels.
        let code = format!("{}`code`", "> ".repeat(14));
        for note in [rule, code] {
            let html = render_note(&note);
            assert_eq!(shape_of(&html).map(|(depth, _)| depth), Some(MAX_DEPTH), "{html}");
            assert_eq!(html, render_unbounded(&note), "{note:?}");
        }
        let too_deep = render_note(&format!("{}`code`", "> ".repeat(15)));
        assert!(within_bounds(&too_deep) && !too_deep.contains("<code>") && too_deep.contains("code"), "{too_deep}");
    }

    /// Pieces of Markdown that nest, repeat and mix, so that random notes reach
    /// past the bounds now and then.
    fn markdown_piece() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(">"),
            Just("- "),
            Just("1. "),
            Just("  "),
            Just("    "),
            Just("*"),
            Just("**"),
            Just("~~"),
            Just("`"),
            Just("```\n"),
            Just("[a](https://x.example)"),
            Just("![i](https://x.example/i.png)"),
            Just("| a | b |\n|---|---|\n| 1 | 2 |\n"),
            Just("# "),
            Just("---\n"),
            Just("<b>"),
            Just("  \n"),
            Just("\n"),
            Just("\n\n"),
            Just("word "),
        ];
        (piece, 1usize..24).prop_map(|(p, n)| p.repeat(n))
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 300, ..Default::default() })]

        #[test]
        fn every_note_is_bounded_and_notes_within_bounds_are_unchanged(
            pieces in proptest::collection::vec(markdown_piece(), 0..24)
        ) {
            let note = pieces.concat();
            let html = render_note(&note);
            proptest::prop_assert!(within_bounds(&html), "{:?} -> {:?}", note, shape_of(&html));
            let before = render_unbounded(&note);
            if shape_of(&before).is_some_and(|(depth, elements)| depth <= MAX_DEPTH && elements < MAX_ELEMENTS) {
                proptest::prop_assert_eq!(html, before);
            }
        }
    }

    #[test]
    fn javascript_in_plain_text_is_kept_as_text() {
        let html = render_note("<a href=\"javascript:alert(1)\">x</a>");
        assert!(html.starts_with("<p>&lt;a href="), "{html}");
        assert!(tags_of(&html).iter().all(|t| !t.contains("javascript")), "{html}");
    }
}
