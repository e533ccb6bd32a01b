//! Rendering notes. Notes are Markdown written by other people and shown on your pages, which
//! makes them the main way to attack a Cairn user. Rendering is therefore two
//! independent walls: pulldown-cmark with raw HTML turned into text, then an
//! ammonia allow-list over the result. Either alone should be enough.
//!
//! The server renders with this crate before storing `note_html`, and the
//! extension renders again with it before showing a note: neither trusts HTML
//! that it did not make itself.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

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
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        // Raw HTML is shown as the text the author typed, never interpreted.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        // No remote images: they would tell a third party who read the note and when.
        // The image becomes a plain link the reader can choose to follow.
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url, title, id })
        }
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    sanitizer().clean(&html).to_string()
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

    #[test]
    fn javascript_in_plain_text_is_kept_as_text() {
        let html = render_note("<a href=\"javascript:alert(1)\">x</a>");
        assert!(html.starts_with("<p>&lt;a href="), "{html}");
        assert!(tags_of(&html).iter().all(|t| !t.contains("javascript")), "{html}");
    }
}
