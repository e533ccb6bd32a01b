//! Site rules: where the content is on pages of the tools people clip at work.
//!
//! Generic extraction guesses; an intranet tool's markup says exactly where the page's
//! content is, so a rule that knows the markup is both more precise and steadier across
//! versions. A rule is plain data ([`SiteRule`]) and applies when one of its `detect`
//! selectors matches the page. The first matching rule in [`SITE_RULES`] wins.
//!
//! # Adding a rule
//!
//! Without a rebuild: write the rule as data ([`RuleData`], e.g. JSON read with serde) and
//! pass it in [`ClipOptions::extra_rules`](crate::ClipOptions::extra_rules); extra rules are
//! tried before the built-in ones, so a company's rule for its own tools wins. `cairn clip
//! --rules RULES.json` takes a JSON array of them.
//!
//! Built in: append a [`SiteRule`] to [`SITE_RULES`] (more specific rules first, since the first
//! match wins) and add a fixture page under `tests/fixtures/` with a test in
//! `tests/site_rules.rs`. Selectors are CSS; a selector the parser rejects simply never
//! matches, so a typo makes a rule inert rather than crashing a clip. Keep selectors to
//! stable hooks (ids, `data-testid`, product class names), not layout classes.
//!
//! A rule renders, in order:
//! 1. the title: the text of the first `title` selector that matches (else the page's
//!    metadata title);
//! 2. `fields` as a bullet list of `**Label:** value` (Jira's status, assignee, …);
//! 3. the body: every element matched by the first `body` selector that matches anything,
//!    with `remove` selectors (edit links, tables of contents) taken out first;
//! 4. each of `sections` (e.g. comments) under its own `##` heading, one `###` per item
//!    named by its author.

use dom_query::{Document, Selection};
use serde::{Deserialize, Serialize};

/// Where a site keeps its content. See the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct SiteRule {
    /// Shown to users as the clip's `site_rule`; stable, lower-case.
    pub name: &'static str,
    /// The rule applies when any of these selectors matches.
    pub detect: &'static [&'static str],
    /// The first selector with non-empty text gives the title.
    pub title: &'static [&'static str],
    /// Key facts shown before the body.
    pub fields: &'static [Field],
    /// The first selector that matches gives the body (all of its matches, in order).
    pub body: &'static [&'static str],
    /// Repeated items shown after the body, e.g. comments.
    pub sections: &'static [Section],
    /// Removed from the page before anything is read.
    pub remove: &'static [&'static str],
}

/// A labelled value, e.g. Jira's "Status".
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub label: &'static str,
    /// Selectors tried in order; the first with non-empty text gives the value.
    pub selectors: &'static [&'static str],
}

/// A list of items such as comments: each `item` match gives one entry, whose `author`
/// and `body` are looked up inside it.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    pub heading: &'static str,
    pub item: &'static str,
    pub author: &'static str,
    pub body: &'static str,
}

/// A site rule as data, for rules loaded at run time: the same fields as [`SiteRule`],
/// owned. Unknown fields are refused, so a misspelt key is an error rather than a rule that
/// silently does less.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleData {
    pub name: String,
    pub detect: Vec<String>,
    pub title: Vec<String>,
    pub fields: Vec<FieldData>,
    pub body: Vec<String>,
    pub sections: Vec<SectionData>,
    pub remove: Vec<String>,
}

/// [`Field`] as data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldData {
    pub label: String,
    pub selectors: Vec<String>,
}

/// [`Section`] as data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SectionData {
    pub heading: String,
    pub item: String,
    pub author: String,
    pub body: String,
}

impl From<&SiteRule> for RuleData {
    fn from(r: &SiteRule) -> Self {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        RuleData {
            name: r.name.to_string(),
            detect: strings(r.detect),
            title: strings(r.title),
            fields: r
                .fields
                .iter()
                .map(|f| FieldData { label: f.label.to_string(), selectors: strings(f.selectors) })
                .collect(),
            body: strings(r.body),
            sections: r
                .sections
                .iter()
                .map(|x| SectionData {
                    heading: x.heading.to_string(),
                    item: x.item.to_string(),
                    author: x.author.to_string(),
                    body: x.body.to_string(),
                })
                .collect(),
            remove: strings(r.remove),
        }
    }
}

/// Chrome that every rule removes: edit buttons and screen-reader-only duplicates.
const COMMON_REMOVE: &[&str] = &[".sr-only", ".visually-hidden", "[aria-hidden=true]"];

/// The built-in rules, most specific first.
pub const SITE_RULES: &[SiteRule] = &[
    SiteRule {
        name: "jira-issue",
        detect: &[
            "#jira #issue-content",
            "#jira .issue-view",
            "[data-testid='issue.views.issue-details.issue-layout.issue-layout']",
        ],
        title: &["#summary-val", "[data-testid='issue.views.issue-base.foundation.summary.heading']"],
        fields: &[
            Field {
                label: "Key",
                selectors: &[
                    "#key-val",
                    "[data-testid='issue.views.issue-base.foundation.breadcrumbs.current-issue.item']",
                ],
            },
            Field { label: "Type", selectors: &["#type-val"] },
            Field {
                label: "Status",
                selectors: &[
                    "#status-val",
                    "[data-testid='issue.views.issue-base.foundation.status.status-field-wrapper']",
                ],
            },
            Field { label: "Priority", selectors: &["#priority-val"] },
            Field { label: "Resolution", selectors: &["#resolution-val"] },
            Field {
                label: "Assignee",
                selectors: &["#assignee-val", "[data-testid='issue.views.field.user.assignee']"],
            },
            Field {
                label: "Reporter",
                selectors: &["#reporter-val", "[data-testid='issue.views.field.user.reporter']"],
            },
            Field {
                label: "Labels",
                selectors: &["#wrap-labels .labels li", "[data-testid='issue.views.field.labels'] a"],
            },
            Field { label: "Fix versions", selectors: &["#fixfor-val"] },
            Field { label: "Created", selectors: &["#created-val time", "#created-val"] },
            Field { label: "Updated", selectors: &["#updated-val time", "#updated-val"] },
        ],
        body: &[
            "#description-val .user-content-block",
            "#description-val",
            "[data-testid='issue.views.field.rich-text.description']",
        ],
        sections: &[
            Section {
                heading: "Comments",
                item: "#issue_actions_container .activity-comment",
                author: ".action-details .user-hover",
                body: ".action-body",
            },
            Section {
                heading: "Comments",
                item: "[data-testid='issue-comment-base.ui.comment.ak-comment.ak-comment']",
                author: "[data-testid='issue-comment-base.ui.comment.ak-comment.ak-comment-author']",
                body: "[data-testid='issue-comment-base.ui.comment.ak-comment.ak-comment-content']",
            },
        ],
        remove: &[".aui-icon", ".issue-link-edit"],
    },
    SiteRule {
        name: "confluence",
        detect: &["#main-content.wiki-content", "meta[name='confluence-request-time']", "meta[name='ajs-page-id']"],
        title: &["#title-text", "[data-testid='title-text']", "h1#title-text a"],
        fields: &[],
        body: &["#main-content", ".wiki-content", "[data-testid='page-content-only']"],
        sections: &[],
        remove: &[
            ".confluence-information-macro-icon",
            ".expand-control-icon",
            ".toc-macro",
            ".aui-icon",
            ".page-metadata-modification-info",
        ],
    },
    SiteRule {
        name: "sharepoint",
        detect: &[
            "meta[name='GENERATOR'][content*='SharePoint']",
            "meta[name='generator'][content*='SharePoint']",
            "[data-sp-feature-tag]",
            "#spPageCanvasContent",
        ],
        title: &[
            "[data-automation-id='pageHeader'] [role='heading']",
            "[data-automation-id='pageHeader'] h1",
            "#pageTitle",
            ".ms-core-pageTitle",
        ],
        fields: &[],
        body: &[
            "[data-sp-feature-tag='Rich Text Editor']",
            "#spPageCanvasContent .CanvasZone",
            "#ctl00_PlaceHolderMain_WikiField",
            ".ms-rtestate-field",
        ],
        sections: &[],
        remove: &["[data-automation-id='pageCommandBar']", ".ms-hidden"],
    },
    SiteRule {
        name: "mediawiki",
        detect: &["body.mediawiki", "meta[name='generator'][content^='MediaWiki']"],
        title: &["#firstHeading"],
        fields: &[],
        body: &["#mw-content-text .mw-parser-output", "#mw-content-text"],
        sections: &[],
        remove: &[
            ".mw-editsection",
            "#toc",
            ".toc",
            ".mw-jump-link",
            ".navbox",
            ".noprint",
            ".mw-empty-elt",
            ".printfooter",
            "#catlinks",
            "sup.reference",
            ".mw-references-wrap",
        ],
    },
    SiteRule {
        name: "gitlab-issue",
        detect: &[
            "body[data-page^='projects:issues:show']",
            "body[data-page^='projects:merge_requests:show']",
            "body[data-page^='projects:work_items:show']",
        ],
        title: &["[data-testid='issue-title']", "[data-testid='title-content']", "h1.title"],
        fields: &[
            Field {
                label: "State",
                selectors: &[
                    "[data-testid='issue-state-badge']",
                    ".issuable-status-badge",
                    "[data-testid='state-badge']",
                ],
            },
            Field {
                label: "Author",
                selectors: &[".issuable-meta .author-link .author", ".detail-page-header .author-link"],
            },
            Field { label: "Assignee", selectors: &[".assignee .author-link", "[data-testid='assignee-link']"] },
            Field {
                label: "Labels",
                selectors: &[".labels-select-wrapper .gl-label-text", "[data-testid='sidebar-labels'] .gl-label-text"],
            },
            Field { label: "Milestone", selectors: &[".milestone .milestone-title", "[data-testid='milestone-link']"] },
            Field { label: "Source branch", selectors: &[".js-source-branch", "[data-testid='source-branch-link']"] },
            Field { label: "Target branch", selectors: &[".js-target-branch", "[data-testid='target-branch-link']"] },
        ],
        body: &[
            ".detail-page-description .description .md",
            ".description .md",
            "[data-testid='work-item-description'] .md",
        ],
        sections: &[Section {
            heading: "Comments",
            item: "#notes-list li.note:not(.system-note)",
            author: ".note-header-author-name",
            body: ".note-text",
        }],
        remove: &[".js-task-list-field", ".gl-sr-only"],
    },
    SiteRule {
        name: "gitlab-readme",
        detect: &[
            "body[data-page^='projects:show'] .readme-holder",
            "body[data-page^='projects:blob:show'] .blob-viewer[data-type='rich']",
        ],
        title: &[".readme-holder .file-title-name", ".file-title-name", "[data-testid='file-title-content']"],
        fields: &[],
        body: &[".readme-holder .blob-viewer .md", ".blob-viewer[data-type='rich'] .md", ".file-content.md"],
        sections: &[],
        remove: &[],
    },
    SiteRule {
        name: "github-issue",
        detect: &["[data-testid='issue-viewer-container']", ".js-issue-title", "#partial-discussion-header"],
        title: &[
            "[data-testid='issue-title']",
            "bdi.js-issue-title",
            ".js-issue-title",
            ".gh-header-title .markdown-title",
        ],
        fields: &[
            Field { label: "State", selectors: &["[data-testid='header-state']", ".gh-header-meta .State"] },
            Field {
                label: "Author",
                selectors: &["[data-testid='issue-body-header-author']", ".gh-header-meta .author"],
            },
            Field {
                label: "Labels",
                selectors: &["[data-testid='sidebar-labels'] .IssueLabel", ".sidebar-labels .IssueLabel"],
            },
            Field { label: "Base branch", selectors: &[".gh-header-meta .base-ref"] },
            Field { label: "Head branch", selectors: &[".gh-header-meta .head-ref"] },
        ],
        body: &[
            "[data-testid='issue-body'] .markdown-body",
            ".js-discussion > .js-comment-container:first-child .comment-body",
            ".js-command-palette-pull-body .comment-body",
        ],
        sections: &[
            Section {
                heading: "Comments",
                item: "[data-testid='comment-viewer-outer-box']",
                author: "[data-testid='avatar-link']",
                body: ".markdown-body",
            },
            Section {
                heading: "Comments",
                item: ".js-discussion .js-timeline-item .timeline-comment",
                author: ".author",
                body: ".comment-body",
            },
        ],
        remove: &[".js-comment-edit-button", ".timeline-comment-actions"],
    },
    SiteRule {
        name: "github-readme",
        detect: &["#readme article.markdown-body", "article.markdown-body[itemprop='text']"],
        title: &[
            "#readme article.markdown-body h1",
            "article.markdown-body[itemprop='text'] h1",
            "strong[itemprop='name'] a",
        ],
        fields: &[],
        body: &["#readme article.markdown-body", "article.markdown-body[itemprop='text']"],
        sections: &[],
        remove: &["a.anchor", ".octicon-link"],
    },
];

/// What a rule found on a page, still as HTML nodes to convert.
pub(crate) struct RuleMatch {
    pub name: String,
    pub title: Option<String>,
    pub markdown: String,
    pub text: String,
}

fn select<'a>(doc: &'a Document, sel: &str) -> Option<Selection<'a>> {
    doc.try_select(sel).filter(|s| s.exists())
}

fn clean_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first rule whose `detect` matches, applied to `doc` (which it mutates: `remove`).
pub(crate) fn apply(doc: &Document, rules: &[RuleData], base: &url::Url) -> Option<RuleMatch> {
    let rule = rules.iter().find(|r| r.detect.iter().any(|d| select(doc, d).is_some()))?;
    for sel in COMMON_REMOVE.iter().copied().chain(rule.remove.iter().map(String::as_str)) {
        if let Some(s) = select(doc, sel) {
            s.remove();
        }
    }
    let title =
        rule.title.iter().filter_map(|t| select(doc, t)).map(|s| clean_text(&s.first().text())).find(|t| !t.is_empty());

    let mut md = String::new();
    let mut text = String::new();
    let fields: Vec<(String, String)> = rule
        .fields
        .iter()
        .filter_map(|f| {
            let value = f
                .selectors
                .iter()
                .filter_map(|s| select(doc, s))
                .map(|s| clean_text(&s.nodes().iter().map(|n| clean_text(&n.text())).collect::<Vec<_>>().join(", ")))
                .find(|v| !v.is_empty())?;
            Some((f.label.to_string(), value))
        })
        .collect();
    for (label, value) in &fields {
        md.push_str(&format!("- **{}:** {}\n", label, crate::markdown::escape_text(value)));
        text.push_str(&format!("{label}: {value}\n"));
    }

    let body = rule.body.iter().find_map(|b| select(doc, b));
    let mut found_body = false;
    if let Some(body) = body {
        for node in body.nodes() {
            let part = crate::markdown::node_to_markdown(node, Some(base));
            if part.is_empty() {
                continue;
            }
            found_body = true;
            push_block(&mut md, &part);
            push_block(&mut text, &crate::markdown::node_to_text(node));
        }
    }

    let mut rendered_headings: Vec<&str> = Vec::new();
    for section in &rule.sections {
        // Rules list the same section once per product version; the first that finds
        // items wins.
        if rendered_headings.contains(&section.heading.as_str()) {
            continue;
        }
        let Some(items) = select(doc, &section.item) else { continue };
        let mut section_md = String::new();
        let mut section_text = String::new();
        for item in items.nodes() {
            let item_sel = Selection::from(*item);
            let author =
                item_sel.try_select(&section.author).map(|s| clean_text(&s.first().text())).filter(|a| !a.is_empty());
            let Some(body) = item_sel.try_select(&section.body).filter(|s| s.exists()) else { continue };
            let body_node = body.nodes()[0];
            let body_md = crate::markdown::node_to_markdown(&body_node, Some(base));
            if body_md.is_empty() {
                continue;
            }
            let heading = author.unwrap_or_else(|| "Comment".to_string());
            section_md.push_str(&format!("### {}\n\n{}\n\n", crate::markdown::escape_text(&heading), body_md));
            section_text.push_str(&format!("{heading}\n{}\n", crate::markdown::node_to_text(&body_node)));
        }
        if !section_md.is_empty() {
            push_block(&mut md, &format!("## {}\n\n{}", section.heading, section_md.trim_end()));
            push_block(&mut text, &format!("{}\n{}", section.heading, section_text.trim_end()));
            rendered_headings.push(&section.heading);
        }
    }

    if !found_body && fields.is_empty() && md.is_empty() {
        return None;
    }
    Some(RuleMatch { name: rule.name.clone(), title, markdown: md.trim().to_string(), text: text.trim().to_string() })
}

fn push_block(out: &mut String, block: &str) {
    let block = block.trim();
    if block.is_empty() {
        return;
    }
    if !out.is_empty() {
        while !out.ends_with("\n\n") {
            out.push('\n');
        }
    }
    out.push_str(block);
    out.push('\n');
}
