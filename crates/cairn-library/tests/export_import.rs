//! Exports and imports: every format written, read back where it can carry everything, and
//! other tools' files read leniently.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;

use cairn_library::export::{csv, hypothesis_json, markdown_vault, w3c_collection, CSV_COLUMNS};
use cairn_library::import::{import, Format, ImportOptions, SkipReason};
use cairn_library::{LibraryError, LocalRecord};
use cairn_model::{ClipKind, Color, Selector};
use common::*;
use serde_json::{json, Value};

fn options() -> ImportOptions {
    ImportOptions { now_ms: T0 + 1000 * DAY, seed: 42, existing_ids: HashSet::new() }
}

fn library() -> Vec<LocalRecord> {
    let mut shared = with_tags(
        with_note(
            color(highlight(1, "https://wiki.example/deploys", "Roll back first", 120), Color::Green),
            "**why**: pages are costly",
        ),
        &["sre", "on call"],
    );
    shared.communities = vec!["sre".into()];
    let mut url_only =
        clip(5, "https://blog.example/post", "A \"post\": on, things", "[A post](https://blog.example/post)\n");
    url_only.annotation.target.style_class = Some(ClipKind::UrlOnly.style_class().into());
    url_only.annotation.set_note("read later");
    vec![
        shared,
        highlight(2, "https://wiki.example/deploys", "Canary, then \"wait\"\nten minutes", 30),
        by_teammate(highlight(3, "https://wiki.example/deploys", "Freeze on Fridays", 400), "Ana"),
        clip(4, "https://wiki.example/deploys", "Deploys: the runbook", "# Deploys\n\nRoll back first.\n"),
        url_only,
    ]
}

#[test]
fn w3c_export_then_import_gives_back_equal_annotations() {
    let records = library();
    let bytes = w3c_collection(&records, "urn:uuid:0190f0c2-e2d8-7c3e-8b4a-1b2c3d4e5f60", "My library");
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["type"], "AnnotationCollection");
    assert_eq!(doc["total"], 5);
    assert_eq!(doc["first"]["type"], "AnnotationPage");
    let back = import(&bytes, &options()).unwrap();
    assert_eq!(back.report.format, Format::W3c);
    assert_eq!((back.report.imported, back.report.renamed), (5, 0));
    assert!(back.report.skipped.is_empty());
    let annotations: Vec<_> = back.records.iter().map(|r| &r.annotation).collect();
    assert_eq!(annotations, records.iter().map(|r| &r.annotation).collect::<Vec<_>>());
    // The record's own facts come from the annotation.
    assert_eq!(back.records[0].page_key, records[0].page_key);
    assert_eq!(back.records[0].created_ms, records[0].created_ms);
    // Imported again into the same library, all are duplicates.
    let existing = ImportOptions { existing_ids: records.iter().map(|r| r.id.clone()).collect(), ..options() };
    let again = import(&bytes, &existing).unwrap();
    assert_eq!(again.report.imported, 0);
    assert!(again.report.skipped.iter().all(|s| s.reason == SkipReason::DuplicateId));
}

/// The W3C test suite's MUST assertions, run by the shared validator when python3 and the
/// testdata are present (they are on the development machine and in CI).
#[test]
fn w3c_export_items_pass_the_w3c_test_suite_musts() {
    let testdata = std::env::var_os("CAIRN_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"));
    let validator = testdata.join("../tools/validate_w3c_model.py");
    let suite = testdata.join("w3c-web-annotation-tests");
    if !validator.is_file() || !suite.is_dir() || Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: no python3 or no {}", validator.display());
        return;
    }
    let bytes = w3c_collection(&library(), "urn:uuid:0190f0c2-e2d8-7c3e-8b4a-1b2c3d4e5f60", "My library");
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let dir = std::env::temp_dir().join(format!("cairn-library-w3c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("items.json");
    std::fs::write(&file, serde_json::to_vec(&doc["first"]["items"]).unwrap()).unwrap();
    let out = Command::new("python3")
        .arg(&validator)
        .arg(&suite)
        .arg("annotations/annotationMusts.test")
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.ends_with(": PASS")).count(), 5, "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hypothesis_export_then_import_keeps_what_the_format_carries() {
    let records = library();
    let bytes = hypothesis_json(&records, "acct:me@hypothes.is", "2026-12-03T10:00:00.000Z");
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["export_userid"], "acct:me@hypothes.is");
    let first = &doc["annotations"][0];
    assert_eq!(first["uri"], "https://wiki.example/deploys");
    assert_eq!(first["text"], "**why**: pages are costly");
    assert_eq!(first["tags"], json!(["sre", "on call"]));
    assert_eq!(first["target"][0]["selector"][0]["exact"], "Roll back first");
    assert_eq!(first["document"]["title"][0], "https://wiki.example/deploys");

    let back = import(&bytes, &options()).unwrap();
    assert_eq!(back.report.format, Format::Hypothesis);
    // The article clip has no note: Hypothesis cannot carry its Markdown, so nothing is left of it.
    assert_eq!(back.report.skipped.len(), 1);
    assert_eq!(back.report.skipped[0].reason, SkipReason::NoQuote);
    assert_eq!(back.report.skipped[0].index, 3);
    assert_eq!(back.report.renamed, 0);
    for (old, new) in [(0, 0), (1, 1), (2, 2), (4, 3)] {
        let (a, b) = (&records[old].annotation, &back.records[new].annotation);
        assert_eq!(b.id, a.id);
        assert_eq!(b.target.source, a.target.source);
        assert_eq!(b.note(), a.note());
        assert_eq!(b.tags(), a.tags());
        assert_eq!((&b.created, &b.modified), (&a.created, &a.modified));
        assert_eq!(back.records[new].teammate, records[old].teammate);
        if a.is_clip() {
            assert_eq!(b.clip_kind(), Some(ClipKind::UrlOnly));
        } else {
            assert_eq!(b.target.selector, a.target.selector);
        }
    }
    // Colour is not in Hypothesis's format.
    assert_eq!(back.records[0].annotation.color(), Color::Yellow);
}

#[test]
fn a_hypothesis_client_export_is_read_with_replies_and_page_notes() {
    let file = json!({
        "export_date": "2024-05-02T09:00:00.000Z",
        "export_userid": "acct:me@hypothes.is",
        "client_version": "1.1500.0",
        "annotations": [
            {"id": "Ab12Cd34Ef56", "created": "2024-05-01T10:00:00.123456+00:00", "updated": "2024-05-01T11:00:00.000000+00:00",
             "user": "acct:me@hypothes.is", "uri": "https://example.org/article", "text": "Key claim", "tags": ["Claims"],
             "group": "__world__", "permissions": {}, "hidden": false, "flagged": false, "references": [],
             "target": [{"source": "https://example.org/article", "selector": [
                 {"type": "RangeSelector", "startContainer": "/main[1]/p[2]", "startOffset": 0, "endContainer": "/main[1]/p[2]", "endOffset": 9},
                 {"type": "TextPositionSelector", "start": 100, "end": 109},
                 {"type": "TextQuoteSelector", "exact": "the claim", "prefix": "This is ", "suffix": " we test"}]}],
             "document": {"title": ["An article"]}, "user_info": {"display_name": "Me"}},
            {"id": "Gh78", "created": "2024-05-01T12:00:00.000000+00:00", "updated": "2024-05-01T12:00:00.000000+00:00",
             "user": "acct:other@hypothes.is", "uri": "https://example.org/article", "text": "I agree", "tags": [],
             "references": ["Ab12Cd34Ef56"], "target": [{"source": "https://example.org/article"}]},
            {"id": "Ij90", "created": "2024-05-01T13:00:00.000000+00:00", "updated": "2024-05-01T13:00:00.000000+00:00",
             "user": "acct:other@hypothes.is", "uri": "https://example.org/article", "text": "Whole-page thought", "tags": ["page"],
             "references": [], "target": [{"source": "https://example.org/article"}], "document": {"title": ["An article"]},
             "user_info": {"display_name": "Other Person"}},
            {"id": "Kl12", "user": "acct:me@hypothes.is", "uri": "urn:x-pdf:1234", "text": "pdf note",
             "target": [{"source": "urn:x-pdf:1234", "selector": [{"type": "TextQuoteSelector", "exact": "x"}]}]}
        ]
    });
    let out = import(&serde_json::to_vec(&file).unwrap(), &options()).unwrap();
    assert_eq!(out.report.imported, 2);
    assert_eq!(out.report.renamed, 2);
    let reasons: Vec<(usize, &SkipReason)> = out.report.skipped.iter().map(|s| (s.index, &s.reason)).collect();
    assert_eq!(reasons, [(1, &SkipReason::Reply), (3, &SkipReason::NoTargetUrl)]);
    let h = &out.records[0];
    assert_eq!(h.annotation.quote(), Some("the claim"));
    assert_eq!(h.annotation.note(), Some("Key claim"));
    assert_eq!(h.annotation.tags(), ["Claims"]);
    assert_eq!(h.annotation.target.selector.len(), 2, "Hypothesis's RangeSelector is not W3C's and is dropped");
    assert_eq!(h.annotation.created.as_deref(), Some("2024-05-01T10:00:00.123Z"));
    assert_eq!(h.teammate, None);
    let page_note = &out.records[1];
    assert_eq!(page_note.annotation.clip_kind(), Some(ClipKind::UrlOnly));
    assert_eq!(page_note.annotation.note(), Some("Whole-page thought"));
    assert_eq!(cairn_library::clip_title(&page_note.annotation).as_deref(), Some("An article"));
    assert_eq!(page_note.teammate.as_deref(), Some("Other Person"));
    assert_ne!(out.records[0].id, out.records[1].id);
    for r in &out.records {
        r.annotation.validate().unwrap();
    }
}

#[test]
fn other_tools_w3c_is_read_leniently() {
    let file = json!({
        "@context": "http://www.w3.org/ns/anno.jsonld",
        "type": "AnnotationPage",
        "items": [
            {"@context": "http://www.w3.org/ns/anno.jsonld", "id": "http://example.org/anno1", "type": "Annotation",
             "motivation": ["questioning"], "creator": "http://example.org/me", "generator": {"name": "Tool"},
             "body": [{"value": "Is this true?"}, "http://example.org/external"],
             "target": [{"source": "https://example.org/page", "selector": [
                 {"type": "FragmentSelector", "value": "xywh=1,2,3,4"},
                 {"type": "TextQuoteSelector", "exact": "true"}]}],
             "x-unknown": 1},
            {"type": "Annotation", "motivation": "tagging", "body": {"type": "TextualBody", "value": "later"},
             "target": "https://example.org/other"},
            {"type": "Annotation", "target": {"source": "https://example.org/p", "selector": {"type": "CssSelector", "value": "#a"}}},
            {"type": "Annotation", "body": "http://example.org/b", "target": {"id": "mailto:x@example.org"}},
            {"type": "Collection"},
            7
        ]
    });
    let out = import(&serde_json::to_vec(&file).unwrap(), &options()).unwrap();
    assert_eq!(out.report.format, Format::W3c);
    let reasons: Vec<(usize, &SkipReason)> = out.report.skipped.iter().map(|s| (s.index, &s.reason)).collect();
    assert_eq!(
        reasons,
        [
            (2, &SkipReason::NoQuote),
            (3, &SkipReason::NoTargetUrl),
            (4, &SkipReason::NotAnAnnotation),
            (5, &SkipReason::NotAnAnnotation)
        ]
    );
    let q = &out.records[0].annotation;
    assert_eq!((q.quote(), q.note()), (Some("true"), Some("Is this true?")));
    assert_eq!(q.target.selector, [Selector::TextQuoteSelector { exact: "true".into(), prefix: None, suffix: None }]);
    assert_eq!(q.creator.as_ref().and_then(|c| c.id.as_deref()), Some("http://example.org/me"));
    assert!(q.id.starts_with("urn:uuid:"));
    // A tag about a whole page becomes a URL-only clip carrying the tag.
    let t = &out.records[1].annotation;
    assert_eq!((t.clip_kind(), t.tags()), (Some(ClipKind::UrlOnly), vec!["later"]));
    assert_eq!(out.records[1].created_ms, options().now_ms);
    assert_eq!(out.report.renamed, 2);
}

#[test]
fn cairn_records_round_trip_whole() {
    let mut records = library();
    records[2].orphan = true;
    let bytes = serde_json::to_vec(&records).unwrap();
    let out = import(&bytes, &options()).unwrap();
    assert_eq!(out.report.format, Format::CairnRecords);
    assert_eq!(out.records, records);
    let mut dup = records.clone();
    dup.push(records[0].clone());
    let out = import(&serde_json::to_vec(&dup).unwrap(), &options()).unwrap();
    assert_eq!(out.report.skipped.len(), 1);
    assert_eq!(out.report.skipped[0].reason, SkipReason::DuplicateId);
}

#[test]
fn files_that_are_not_annotations_are_errors() {
    assert!(matches!(import(b"{not json", &options()), Err(LibraryError::NotJson(_))));
    assert!(matches!(import(b"42", &options()), Err(LibraryError::UnknownFormat(_))));
    assert!(matches!(import(br#"{"hello": 1}"#, &options()), Err(LibraryError::UnknownFormat(_))));
    let remote = br#"{"type": "AnnotationCollection", "first": "http://example.org/page1"}"#;
    assert!(matches!(import(remote, &options()), Err(LibraryError::UnknownFormat(_))));
}

/// RFC 4180 read back, to check the writer's quoting.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR must start a CRLF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "the last row ends with CRLF");
    rows
}

#[test]
fn csv_has_one_quoted_row_per_annotation() {
    let records = library();
    let text = String::from_utf8(csv(&records)).unwrap();
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), records.len() + 1);
    assert_eq!(rows[0], CSV_COLUMNS);
    assert!(rows.iter().all(|r| r.len() == CSV_COLUMNS.len()));
    let col = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    assert_eq!(rows[2][col("quote")], "Canary, then \"wait\"\nten minutes");
    assert_eq!(rows[1][col("tags")], "sre; on call");
    assert_eq!(rows[1][col("color")], "green");
    assert_eq!(rows[1][col("kind")], "note");
    assert_eq!(rows[3][col("author")], "Ana");
    assert_eq!(rows[4][col("kind")], "clip:article");
    assert_eq!(rows[5][col("title")], "A \"post\": on, things");
    assert!(rows[2][col("link")].starts_with("https://wiki.example/deploys#:~:text=Canary"));
}

#[test]
fn the_markdown_vault_has_a_file_per_page_with_passages_in_document_order() {
    let mut records = library();
    // A second page whose title collides with the first's file name.
    records.push(clip(6, "https://other.example/", "Deploys: the runbook", "Other body\n"));
    let files = markdown_vault(&records);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    // Pages in page-key order; the first to take a name keeps it.
    assert_eq!(names, ["A post on, things.md", "Deploys the runbook.md", "Deploys the runbook (2).md"]);
    let deploys = String::from_utf8(files[2].1.clone()).unwrap();
    assert!(deploys.starts_with(
        "---\ntitle: \"Deploys: the runbook\"\nurl: \"https://wiki.example/deploys\"\ntags:\n  - \"sre\"\n  - \"on-call\"\n\
         created: \"2026-11-23T14:10:26.000Z\"\ncairn_page_key: \"https://wiki.example/deploys\"\n---\n\n# Deploys: the runbook\n"
    ), "{deploys}");
    assert!(deploys.contains("\n# Deploys\n\nRoll back first.\n"), "the clip's body, without its front matter");
    let order: Vec<usize> = ["> Canary, then", "> Roll back first", "> Freeze on Fridays"]
        .iter()
        .map(|q| deploys.find(q).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "document order: {deploys}");
    assert!(deploys.contains("> Canary, then \"wait\"\n> ten minutes\n"));
    assert!(deploys.contains("[Open the passage](<https://wiki.example/deploys#:~:text=Roll%20back%20first>)"));
    assert!(deploys.contains("\n**why**: pages are costly\n\n#sre #on-call\n"));
    assert!(deploys.contains("\n— Ana\n"));
    let post = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(post.contains("title: \"A \\\"post\\\": on, things\"\n"));
    assert!(post.contains("\nread later\n"));
}
