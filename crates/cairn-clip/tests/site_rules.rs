//! Site rules on fixture pages shaped like the real tools (their ids, class names and
//! chrome), as the extension sees them after scripts rendered the content.

use cairn_clip::{article, Article, ClipOptions};

fn clip(fixture: &str, url: &str) -> Article {
    let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let html = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    article(&html, url, &ClipOptions::default()).unwrap_or_else(|e| panic!("{fixture}: {e}"))
}

fn assert_has(a: &Article, needles: &[&str]) {
    for n in needles {
        assert!(a.markdown.contains(n), "missing {n:?} in:\n{}", a.markdown);
    }
}

fn assert_lacks(a: &Article, needles: &[&str]) {
    for n in needles {
        assert!(!a.markdown.contains(n), "unexpected {n:?} in:\n{}", a.markdown);
    }
}

#[test]
fn confluence_page() {
    let a = clip("confluence.html", "https://wiki.example.com/wiki/spaces/PLAT/pages/123456/Deploy+runbook");
    assert_eq!(a.site_rule.as_deref(), Some("confluence"));
    assert_eq!(a.title, "Deploy runbook");
    assert_has(
        &a,
        &[
            "Deploys freeze on Fridays",
            "## Steps",
            "[release calendar](https://wiki.example.com/wiki/spaces/PLAT/pages/99/Release+calendar)",
            "```bash\n    ./deploy.sh --env prod\n    ```",
            "| Service | Owner |\n| --- | --- |\n| billing | Ana Lima |",
        ],
    );
    assert_lacks(&a, &["Spaces", "Edit", "Powered by", "Labels", "last modified", "AJS"]);
}

#[test]
fn jira_issue_with_fields_description_and_comments() {
    let a = clip("jira.html", "https://jira.example.com/browse/OPS-42");
    assert_eq!(a.site_rule.as_deref(), Some("jira-issue"));
    assert_eq!(a.title, "Search times out on large tenants");
    assert_has(
        &a,
        &[
            "- **Key:** OPS-42",
            "- **Status:** In Progress",
            "- **Assignee:** Bo Chen",
            "- **Reporter:** Ana Lima",
            "- **Labels:** search, perf",
            "Queries over **10k** documents time out after 30s.",
            "```java\nSearchRequest r = SearchRequest.all();\n```",
            "## Comments",
            "### Bo Chen",
            "the `match_all` path skips the index",
            "### Ana Lima",
            "[!7](https://git.example.com/ops/search/-/merge_requests/7)",
        ],
    );
    assert_lacks(&a, &["Dashboards", "Edit", "Atlassian"]);
    assert!(a.text.contains("Status: In Progress"), "{}", a.text);
}

#[test]
fn sharepoint_modern_page() {
    let a = clip("sharepoint.html", "https://corp.sharepoint.com/sites/hr/SitePages/Travel.aspx");
    assert_eq!(a.site_rule.as_deref(), Some("sharepoint"));
    assert_eq!(a.title, "Travel policy");
    assert_has(
        &a,
        &[
            "## Booking",
            "**14 days**",
            "-   Economy for flights under 6 hours",
            "## Expenses",
            "[the expense tool](https://corp.sharepoint.com/sites/hr/expenses)",
        ],
    );
    assert_lacks(&a, &["Microsoft 365", "Documents", "Comments are turned off", "New"]);
    assert_eq!(a.lang.as_deref(), Some("en-US"));
}

#[test]
fn mediawiki_article_without_edit_links_or_toc() {
    let a = clip("mediawiki.html", "https://wiki.example.com/wiki/Onboarding");
    assert_eq!(a.site_rule.as_deref(), Some("mediawiki"));
    assert_eq!(a.title, "Onboarding");
    assert_has(
        &a,
        &[
            "Welcome to the team.",
            "## Accounts\n",
            "[VPN](https://wiki.example.com/wiki/VPN \"VPN\")",
            "```bash\nssh-keygen -t ed25519\n```",
            "| Day | Task |",
        ],
    );
    assert_lacks(&a, &["edit", "Contents", "Jump to", "HR pages", "Retrieved from", "Recent changes", "[1]"]);
}

#[test]
fn gitlab_issue_with_comments() {
    let a = clip("gitlab-issue.html", "https://git.example.com/ops/search/-/issues/17");
    assert_eq!(a.site_rule.as_deref(), Some("gitlab-issue"));
    assert_eq!(a.title, "Flaky test in CI");
    assert_has(
        &a,
        &[
            "- **State:** Open",
            "- **Author:** Ana Lima",
            "- **Assignee:** Bo Chen",
            "- **Labels:** flaky, ci",
            "`search::tests::ranking` fails about 1 in 20 runs.",
            "```rust\nassert_eq!(top(3), [\"a\", \"b\", \"c\"]);\n```",
            "### Bo Chen",
            "sort by id too",
        ],
    );
    assert_lacks(&a, &["raw markdown", "added ~flaky label", "Dashboard"]);
}

#[test]
fn github_issue_with_comments() {
    let a = clip("github-issue.html", "https://github.com/acme/widget/issues/88");
    assert_eq!(a.site_rule.as_deref(), Some("github-issue"));
    assert_eq!(a.title, "Crash on empty input");
    assert_has(
        &a,
        &[
            "- **State:** Open",
            "`Widget::parse(\"\")` panics:",
            "```\nthread 'main' panicked at 'index out of bounds'\n```",
            "## Comments",
            "### bo",
            "Confirmed, fix in [#89](https://github.com/acme/widget/pull/89).",
        ],
    );
    assert_eq!(
        a.markdown.matches("panics:").count(),
        1,
        "the opening comment is the body, not a comment:\n{}",
        a.markdown
    );
    assert_lacks(&a, &["Pull requests", "©"]);
}

#[test]
fn github_readme() {
    let a = clip("github-readme.html", "https://github.com/acme/widget");
    assert_eq!(a.site_rule.as_deref(), Some("github-readme"));
    assert_eq!(a.title, "widget");
    assert_has(
        &a,
        &[
            "# widget\n",
            "[the guide](https://github.com/acme/widget/blob/main/docs/guide.md)",
            "```rust\nlet w = Widget::new();\n```",
            "![logo](https://github.com/acme/widget/raw/main/logo.png)",
        ],
    );
    assert_lacks(&a, &["Permalink", "stars", "Cargo.toml", "README.md"]);
    assert_eq!(a.site_name.as_deref(), Some("GitHub"));
}

#[test]
fn rules_can_be_turned_off() {
    let path = format!("{}/tests/fixtures/mediawiki.html", env!("CARGO_MANIFEST_DIR"));
    let html = std::fs::read_to_string(path).unwrap();
    let options = ClipOptions { site_rules: false, ..ClipOptions::default() };
    let a = article(&html, "https://wiki.example.com/wiki/Onboarding", &options).unwrap();
    assert_eq!(a.site_rule, None);
}

/// A company's own tool, described in JSON and loaded at run time (no rebuild): the rule
/// finds the ticket's body and its replies, and wins over generic extraction.
#[test]
fn a_rule_loaded_as_data_applies_before_the_built_in_ones() {
    let json = r##"[{
        "name": "acme-tickets",
        "detect": ["body.acme-tickets"],
        "title": ["#ticket-title"],
        "fields": [{ "label": "State", "selectors": ["#ticket-state"] }],
        "body": ["#ticket-body"],
        "sections": [{ "heading": "Replies", "item": ".reply", "author": ".reply-author", "body": ".reply-text" }],
        "remove": [".reply-actions"]
    }]"##;
    let rules: Vec<cairn_clip::rules::RuleData> = serde_json::from_str(json).expect("rule JSON");
    let html = r##"<html><head><title>ACME</title></head><body class="acme-tickets">
        <div id="nav"><a href="/">All tickets</a></div>
        <h2 id="ticket-title">Printer on floor 3 jams</h2><span id="ticket-state">Open</span>
        <div id="ticket-body"><p>It jams on every duplex job.</p></div>
        <div class="reply"><span class="reply-author">Ana Lima</span><div class="reply-text"><p>Replaced the roller.</p></div>
        <div class="reply-actions">Edit Delete</div></div></body></html>"##;
    let options = ClipOptions { extra_rules: rules, ..ClipOptions::default() };
    let a = article(html, "https://tickets.acme.example/t/7", &options).expect("clip");
    assert_eq!(a.site_rule.as_deref(), Some("acme-tickets"));
    assert_eq!(a.title, "Printer on floor 3 jams");
    assert_has(
        &a,
        &["- **State:** Open", "It jams on every duplex job.", "## Replies", "### Ana Lima", "Replaced the roller."],
    );
    assert_lacks(&a, &["All tickets", "Edit Delete"]);
}

#[test]
fn a_misspelt_key_in_a_rule_is_an_error() {
    let json = r#"[{ "name": "x", "detect": ["body"], "bodies": ["main"] }]"#;
    assert!(serde_json::from_str::<Vec<cairn_clip::rules::RuleData>>(json).is_err());
}
