//! Structural extraction on small pages shaped like the kinds Readability alone gets wrong:
//! threads (every post kept, with its author and date), documentation and listings
//! (navigation, filters, "related" lists and cookie banners left out), pages served
//! inside `<noscript>` or cloaked until scripts run.

use cairn_clip::{article, Article, ClipOptions};

const URL: &str = "https://forum.example.com/t/search-is-slow/42";

fn clip(html: &str) -> Article {
    article(html, URL, &ClipOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn post(author: &str, date: &str, body: &str) -> String {
    format!(
        r#"<div class="post"><div class="post-header"><a class="username" href="/u/{author}">{author}</a>
        <time datetime="{date}">{date}</time></div><div class="post-body"><p>{body}</p></div></div>"#
    )
}

fn chrome(main: &str) -> String {
    format!(
        r#"<html><head><title>Search is slow - Example Forum</title></head><body>
        <div id="cookie-banner"><p>We use cookies to improve your experience. Accept all cookies or manage your choices.</p></div>
        <nav><ul><li><a href="/">Home</a></li><li><a href="/latest">Latest</a></li><li><a href="/top">Top</a></li></ul></nav>
        {main}
        <aside class="related-topics"><h3>Related topics</h3><ul><li><a href="/t/1">Indexing is slow on large tenants too</a></li>
        <li><a href="/t/2">Search returns nothing after upgrade</a></li><li><a href="/t/3">Timeouts everywhere</a></li></ul></aside>
        <footer><p>Powered by Example. Terms of service. Privacy policy.</p></footer></body></html>"#
    )
}

const BODIES: [&str; 4] = [
    "Since the upgrade, every search on our tenant with ten thousand documents takes more than thirty seconds to answer.",
    "Which version did you upgrade from? The new planner skips the index when a query has no filter at all.",
    "We came from 4.2. Adding a filter on the space makes the query fast again, so the planner is the likely cause.",
    "Confirmed: this is a regression in the planner. A fix is queued for the next patch release, thanks for the report.",
];

#[test]
fn every_post_of_a_thread_is_kept_with_its_author_and_date() {
    let authors = ["ana", "bo", "ana", "chen"];
    let posts: String = (0..4).map(|i| post(authors[i], &format!("2026-03-0{}", i + 1), BODIES[i])).collect();
    let a = clip(&chrome(&format!(r#"<main><h1>Search is slow</h1><div class="topic">{posts}</div></main>"#)));
    for body in BODIES {
        assert!(a.text.contains(body), "missing post {body:?} in:\n{}", a.text);
    }
    for needle in ["ana", "bo", "chen", "2026-03-01", "2026-03-04"] {
        assert!(a.markdown.contains(needle), "missing {needle:?} in:\n{}", a.markdown);
    }
    for chrome in ["cookies", "Latest", "Related topics", "Powered by"] {
        assert!(!a.text.contains(chrome), "kept boilerplate {chrome:?} in:\n{}", a.text);
    }
}

#[test]
fn schema_org_comments_make_a_thread_even_without_repeated_classes() {
    let comment = |i: usize, cls: &str| {
        format!(
            r#"<div class="{cls}" itemprop="comment" itemscope itemtype="https://schema.org/Comment">
            <span itemprop="author">user{i}</span><p itemprop="text">{}</p></div>"#,
            BODIES[i]
        )
    };
    let html = chrome(&format!(
        r#"<div id="page"><h1>Search is slow</h1>{}<section>{}{}</section>{}</div>"#,
        comment(0, "first"),
        comment(1, "reply"),
        comment(2, "reply odd"),
        comment(3, "last")
    ));
    let a = clip(&html);
    for body in BODIES {
        assert!(a.text.contains(body), "missing comment {body:?} in:\n{}", a.text);
    }
    assert!(!a.text.contains("Related topics"), "{}", a.text);
}

#[test]
fn a_documentation_page_keeps_its_sections_and_drops_the_menus() {
    let section = |h: &str, p: &str| format!("<section class=\"doc-section\"><h2>{h}</h2><p>{p}</p></section>");
    let html = format!(
        r##"<html><head><title>Deploying - Example Docs</title></head><body>
        <div class="sidebar"><ul><li><a href="/a">Install</a></li><li><a href="/b">Configure</a></li>
        <li><a href="/c">Deploy</a></li><li><a href="/d">Upgrade</a></li></ul></div>
        <main><h1>Deploying</h1>
        <div class="toc"><a href="#one">Build</a> <a href="#two">Ship</a> <a href="#three">Verify</a></div>
        {}{}{}
        <div class="feedback-form"><form><label>Was this page helpful?</label><button>Yes</button></form></div>
        </main><footer>Copyright Example</footer></body></html>"##,
        section("Build", "Run the release build with the production profile; it writes one archive per service."),
        section("Ship", "Upload each archive to the registry and tag it with the commit it was built from."),
        section("Verify", "Open the health page of every service and check that each reports the new commit."),
    );
    let a = clip(&html);
    for needle in ["production profile", "tag it with the commit", "reports the new commit", "## Ship"] {
        assert!(a.markdown.contains(needle), "missing {needle:?} in:\n{}", a.markdown);
    }
    for chrome in ["Install", "Upgrade", "Was this page helpful", "Copyright"] {
        assert!(!a.markdown.contains(chrome), "kept {chrome:?} in:\n{}", a.markdown);
    }
}

#[test]
fn content_served_inside_noscript_is_clipped() {
    let posts: String = (0..3).map(|i| post("ana", "2026-03-01", BODIES[i])).collect();
    let html = format!(
        r#"<html><head><title>Search is slow</title></head><body><div id="app-splash">Loading</div>
        <noscript><main><h1>Search is slow</h1>{posts}</main></noscript></body></html>"#
    );
    let a = clip(&html);
    for body in &BODIES[..3] {
        assert!(a.text.contains(body), "missing {body:?} in:\n{}", a.text);
    }
}

#[test]
fn escaped_noscript_text_stays_out() {
    let html = format!(
        r#"<html><head><title>Search is slow</title></head><body><article><h1>Search is slow</h1><p>{}</p><p>{}</p></article>
        <noscript>&lt;img src="https://tracker.example.com/pixel.gif?id=0123456789abcdef0123456789abcdef0123456789abcdef"&gt;</noscript>
        </body></html>"#,
        BODIES[0], BODIES[1]
    );
    let a = clip(&html);
    assert!(a.text.contains(BODIES[0]), "{}", a.text);
    assert!(!a.text.contains("tracker"), "{}", a.text);
}

#[test]
fn a_page_cloaked_until_scripts_run_is_clipped_but_a_hidden_part_stays_hidden() {
    let cloaked = format!(
        r#"<html><head><title>Deploying</title></head><body><div style="visibility:hidden">
        <article><h1>Deploying</h1><p>{}</p><p>{}</p></article></div></body></html>"#,
        BODIES[0], BODIES[1]
    );
    assert!(clip(&cloaked).text.contains(BODIES[1]));
    let partly = format!(
        r#"<html><head><title>Deploying</title></head><body><article><h1>Deploying</h1>
        <div style="display: none"><p>{}</p></div><p>{}</p><p>{}</p><p>{}</p></article></body></html>"#,
        BODIES[0], BODIES[1], BODIES[2], BODIES[3]
    );
    let a = clip(&partly);
    assert!(!a.text.contains(BODIES[0]), "{}", a.text);
    assert!(a.text.contains(BODIES[3]), "{}", a.text);
}
