//! The clip kinds end to end through the public API, and hostile inputs: every one must
//! finish with `Ok` or a clear `ClipError`, never a panic or a stack overflow.

use cairn_clip::{
    article, clip_article, clip_selection, clip_url_only, front_matter, html_to_markdown, ClipContext, ClipError,
    ClipKind, ClipOptions, FrontMatter, PageRef, MAX_DEPTH,
};

fn context() -> ClipContext {
    ClipContext {
        clipped_at: "2024-03-01T10:00:00Z".into(),
        note: Some("check with: the team".into()),
        tags: vec!["ops".into(), "yes".into()],
        communities: vec!["Platform: core".into()],
    }
}

const ARTICLE: &str = r#"<html lang="en"><head><title>Rust on wasm | Example Blog</title>
<meta name="author" content="Ana Lima"><meta property="article:published_time" content="2024-02-01T09:00:00Z">
<link rel="canonical" href="/posts/rust-wasm"></head><body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>Rust on wasm</h1>
<p>Rust compiles to WebAssembly with a single target and no runtime, which keeps modules small and startup fast for extensions.</p>
<p>The same crate can be tested natively with cargo test and shipped to the browser, because pure code has no platform dependencies at all.</p>
<pre><code class="language-rust">fn main() {}</code></pre>
<p>Tracking pixels and scripts are dropped.<img src="https://t.example/pixel.gif" width="1" height="1"><script>alert(1)</script></p>
</article><footer>© Example</footer></body></html>"#;

#[test]
fn article_clip_has_front_matter_metadata_and_body() {
    let clip = clip_article(ARTICLE, "https://blog.example.com/p?id=1", &context()).unwrap();
    assert_eq!(clip.kind, ClipKind::Article);
    assert_eq!(clip.source, "https://blog.example.com/posts/rust-wasm");
    let a = clip.article.as_ref().unwrap();
    assert_eq!(a.byline.as_deref(), Some("Ana Lima"));
    assert_eq!(a.published.as_deref(), Some("2024-02-01T09:00:00Z"));
    assert_eq!(a.lang.as_deref(), Some("en"));
    // Readability.js keeps a "title | site" whole when the first part is under 5 words.
    assert!(clip.markdown.starts_with("---\ntitle: \"Rust on wasm | Example Blog\"\nsource: \"https://blog.example.com/posts/rust-wasm\"\nauthor: \"Ana Lima\"\npublished: \"2024-02-01T09:00:00Z\"\nclipped: \"2024-03-01T10:00:00Z\"\ntags:\n  - \"ops\"\n  - \"yes\"\ncommunities:\n  - \"Platform: core\"\n---\n\n> check with: the team\n\n"), "{}", clip.markdown);
    assert!(clip.markdown.contains("```rust\nfn main() {}\n```"));
    assert!(!clip.markdown.contains("pixel.gif") && !clip.markdown.contains("alert("), "{}", clip.markdown);
    assert!(!clip.markdown.contains("About"));
    // Same input, same bytes.
    assert_eq!(clip, clip_article(ARTICLE, "https://blog.example.com/p?id=1", &context()).unwrap());
}

#[test]
fn selection_clip_links_back_with_a_text_fragment() {
    let page = PageRef { url: "https://wiki.example.com/a/page.html#top".into(), title: "Runbook".into() };
    let clip = clip_selection(
        "<p>Deploys <b>freeze</b> on Fridays, see <a href='cal.html'>calendar</a>.</p>",
        "Deploys freeze on Fridays, see calendar.",
        &page,
        &context(),
    )
    .unwrap();
    assert_eq!(clip.kind, ClipKind::Selection);
    assert_eq!(
        clip.source,
        "https://wiki.example.com/a/page.html#:~:text=Deploys%20freeze%20on%20Fridays%2C%20see%20calendar."
    );
    assert!(
        clip.markdown.contains("Deploys **freeze** on Fridays, see [calendar](https://wiki.example.com/a/cal.html)."),
        "{}",
        clip.markdown
    );
    assert!(clip.markdown.ends_with(&format!("— [Runbook]({})\n", clip.source)), "{}", clip.markdown);
    assert!(clip.markdown.contains("source: \"https://wiki.example.com/a/page.html#:~:text="));
}

#[test]
fn url_only_clip_keeps_no_page_content() {
    let page = PageRef { url: "https://hr.example.com/salaries".into(), title: "".into() };
    let clip = clip_url_only(&page, &context()).unwrap();
    assert_eq!(clip.kind, ClipKind::UrlOnly);
    assert_eq!(clip.title, "hr.example.com/salaries");
    assert!(
        clip.markdown.ends_with("[hr.example.com/salaries](https://hr.example.com/salaries)\n\ncheck with: the team\n"),
        "{}",
        clip.markdown
    );
    assert_eq!(
        clip_url_only(&PageRef { url: "not a url".into(), title: "x".into() }, &context()),
        Err(ClipError::BadUrl { url: "not a url".into() })
    );
}

#[test]
fn front_matter_quotes_yaml_special_values() {
    let fm = FrontMatter {
        title: "Re: \"quotes\" \\ # not a comment\nnext\u{2028}line".into(),
        source: "https://x.example/?a=1&b=2".into(),
        author: Some("  ".into()),
        published: None,
        clipped: "2024-03-01".into(),
        tags: vec!["- dash".into(), "null".into(), " ".into()],
        communities: vec![],
    };
    assert_eq!(
        front_matter(&fm),
        "---\ntitle: \"Re: \\\"quotes\\\" \\\\ # not a comment\\nnext\\u2028line\"\nsource: \"https://x.example/?a=1&b=2\"\nclipped: \"2024-03-01\"\ntags:\n  - \"- dash\"\n  - \"null\"\ncommunities: []\n---\n\n"
    );
}

#[test]
fn markdown_writer_style() {
    let md = html_to_markdown(
        r#"<h3>Title</h3><div class="highlight highlight-source-python"><pre>print(1)</pre></div>
<pre data-lang="go"><code>x := 1</code></pre><pre><code class="lang-js">a()</code></pre>
<ul><li>a<ul><li>b</li></ul></li></ul><p>Text with * and _ and &lt;script&gt; and `tick`</p>
<table><tr><td>1</td><td>a|b</td></tr><tr><td>2</td><td>c</td></tr></table>
<p><a href="javascript:alert(1)">bad link</a> <a href="../up">up</a> <img src="/i.png" alt="[x]"></p>"#,
        Some("https://e.example/a/b/c.html"),
    )
    .unwrap();
    assert_eq!(
        md,
        "### Title\n\n```python\nprint(1)\n```\n\n```go\nx := 1\n```\n\n```js\na()\n```\n\n-   a\n    -   b\n\nText with \\* and \\_ and \\<script> and \\`tick\\`\n\n|  |  |\n| --- | --- |\n| 1 | a\\|b |\n| 2 | c |\n\nbad link [up](https://e.example/a/up) ![\\[x\\]](https://e.example/i.png)"
    );
}

#[test]
fn not_readerable_pages_can_be_refused() {
    let links = format!("<html><body>{}</body></html>", "<a href='/x'>x</a> ".repeat(50));
    let strict = ClipOptions { require_readerable: true, ..ClipOptions::default() };
    assert_eq!(article(&links, "https://e.example/", &strict), Err(ClipError::NotReaderable));
    assert!(!cairn_clip::is_probably_readerable(&links));
}

#[test]
fn bad_urls_are_refused() {
    assert_eq!(
        article(ARTICLE, "/relative", &ClipOptions::default()),
        Err(ClipError::BadUrl { url: "/relative".into() })
    );
}

// ----- hostile inputs ------------------------------------------------------------------

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let depth = 100_000;
    let html = format!("{}text{}", "<div>".repeat(depth), "</div>".repeat(depth));
    match article(&html, "https://e.example/", &ClipOptions::default()) {
        Err(ClipError::TooDeep { limit, .. }) => assert_eq!(limit, MAX_DEPTH),
        other => panic!("expected TooDeep, got {other:?}"),
    }
    assert!(matches!(html_to_markdown(&html, None), Err(ClipError::TooDeep { .. })));
    // Unclosed inline formatting nests too, through the parser's reconstruction.
    let html = "<b><i><u>x".repeat(2_000);
    assert!(matches!(
        article(&html, "https://e.example/", &ClipOptions::default()),
        Err(ClipError::TooDeep { .. }) | Ok(_) | Err(ClipError::NoContent)
    ));
}

#[test]
fn nesting_below_the_limit_converts() {
    let depth = MAX_DEPTH - 10;
    let html = format!("{}<p>deep text</p>{}", "<div>".repeat(depth), "</div>".repeat(depth));
    assert_eq!(html_to_markdown(&html, None).unwrap(), "deep text");
}

#[test]
fn oversized_html_is_refused() {
    let options = ClipOptions { max_html_bytes: 1000, ..ClipOptions::default() };
    let html = "<p>x</p>".repeat(200);
    assert_eq!(article(&html, "https://e.example/", &options), Err(ClipError::TooLarge { bytes: 1600, limit: 1000 }));
}

#[test]
fn ten_megabytes_of_html_finish() {
    let para = "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua, <a href=\"/l\">link</a>.</p>\n";
    let mut html = String::from("<html><body><article>");
    while html.len() < 10 * 1024 * 1024 {
        html.push_str(para);
    }
    html.push_str("</article></body></html>");
    let a = article(&html, "https://e.example/", &ClipOptions::default()).unwrap();
    assert!(a.markdown.len() > 1_000_000);
}

#[test]
fn giant_table_finishes() {
    let mut html = String::from("<table>");
    for r in 0..20_000 {
        html.push_str(&format!("<tr><td>{r}</td><td>cell</td><td>|</td></tr>"));
    }
    html.push_str("</table>");
    let md = html_to_markdown(&html, None).unwrap();
    assert_eq!(md.lines().count(), 20_002);
}

/// A small deterministic generator of tag soup (no external fuzzing crate): random
/// nesting, unclosed and stray tags, attributes with odd URLs, entities and Markdown
/// syntax. Every input must convert without panicking, twice to the same bytes.
#[test]
fn generated_tag_soup_never_panics() {
    const PIECES: &[&str] = &[
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<ul>",
        "<li>",
        "</li>",
        "</ul>",
        "<ol start=\"-3\">",
        "<table>",
        "<tr>",
        "<td>",
        "<th>",
        "</table>",
        "<pre>",
        "</pre>",
        "<code>",
        "</code>",
        "<a href=\"javascript:x\">",
        "<a href=\"  \">",
        "<a href=\"http://[::1\">",
        "</a>",
        "<img src=\"\">",
        "<img src=\"%%\" alt=\"]]\">",
        "<b>",
        "</i>",
        "<br>",
        "<hr>",
        "<h1>",
        "</h7>",
        "<blockquote>",
        "<math><annotation encoding=\"tex\">x^2",
        "<script>",
        "</script>",
        "<!--",
        "-->",
        "&amp;",
        "&#0;",
        "&#xFFFFFFFF;",
        "* ",
        "_",
        "`",
        "```",
        "\n",
        "  ",
        "\u{a0}",
        "1. ",
        "# ",
        "> ",
        "|",
        "\\",
        "[",
        "]",
        "text",
        "ü",
        "<svg><p>",
        "<template>",
        "<table><caption>c</caption>",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let len = (next() % 200) as usize;
        let html: String = (0..len).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect();
        let first = html_to_markdown(&html, Some("https://e.example/x/")).unwrap();
        assert_eq!(first, html_to_markdown(&html, Some("https://e.example/x/")).unwrap());
        let wrapped = format!("<html><body><article>{html}</article></body></html>");
        match article(&wrapped, "https://e.example/", &ClipOptions::default()) {
            Ok(_) | Err(ClipError::NoContent) | Err(ClipError::NotReaderable) => {}
            Err(e) => panic!("unexpected error {e} for {html:?}"),
        }
    }
}
