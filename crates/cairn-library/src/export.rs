//! Exports of a list of records, in four formats, as bytes the caller saves or zips.
//!
//! What each format carries:
//!
//! * [`w3c_collection`] (W3C Web Annotation JSON-LD) carries every annotation whole: it is
//!   the stored form, and [`crate::import`] gives back equal annotations. The record's
//!   device-side facts (sync state, orphan flag, teammate name, communities not yet pushed)
//!   are not part of the W3C model and are not written.
//! * [`hypothesis_json`] carries the quote, its selectors, the note, tags, times, page URL
//!   and title; it has no place for a highlight's colour or a clip's Markdown (clips are
//!   written as page notes), and Hypothesis's own `RangeSelector` is not Cairn's, so
//!   only quote and position selectors are written.
//! * [`markdown_vault`] is for reading in a note app: one file per page with the quotes,
//!   notes and tags and a link back to each passage; it drops ids, selectors other than
//!   the position order, colours and times other than the page's first.
//! * [`csv`] is for spreadsheets: one row per annotation with its text fields; it drops
//!   selectors (a link back stands for them) and clips' Markdown.

use std::collections::BTreeMap;

use cairn_clip::text_fragment_url;
use cairn_model::{format_rfc3339_ms, AnnotationId, Selector, ANNO_CONTEXT};
use cairn_sync::LocalRecord;
use serde_json::{json, Value};

use crate::page::{clip_title, page_title, position_of, strip_front_matter};
use crate::zip::clip_file_name;

/// A file of an export: its path inside the export (or archive) and its contents.
pub type ExportFile = (String, Vec<u8>);

/// When a record was made, as RFC 3339: its annotation's `created`, else the record's time.
fn created(record: &LocalRecord) -> String {
    record.annotation.created.clone().unwrap_or_else(|| format_rfc3339_ms(record.created_ms))
}

/// A JSON string is a valid YAML double-quoted scalar (YAML 1.2 is a superset of JSON),
/// escapes included, so front matter values are written with the JSON writer.
fn yaml_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// An Obsidian tag: no spaces (they would end it), no leading `#`.
fn obsidian_tag(tag: &str) -> String {
    tag.trim().trim_start_matches('#').split_whitespace().collect::<Vec<_>>().join("-")
}

/// One Markdown file per page, named after the page's title (a clip's, else its URL), with
/// front matter Obsidian reads (`title`, `url`, `tags`, `created`, `cairn_page_key`), the
/// page's clips, then its notes and highlights in the order they appear on the page.
pub fn markdown_vault(records: &[LocalRecord]) -> Vec<ExportFile> {
    let mut pages: BTreeMap<&str, Vec<&LocalRecord>> = BTreeMap::new();
    for r in records {
        pages.entry(r.page_key.as_str()).or_default().push(r);
    }
    let mut taken = Vec::new();
    let mut files = Vec::with_capacity(pages.len());
    for (page_key, mut items) in pages {
        items.sort_by(|a, b| {
            position_of(&a.annotation)
                .unwrap_or(u64::MAX)
                .cmp(&position_of(&b.annotation).unwrap_or(u64::MAX))
                .then(a.created_ms.cmp(&b.created_ms))
                .then_with(|| a.id.cmp(&b.id))
        });
        let title = items.iter().find_map(|r| clip_title(&r.annotation)).unwrap_or_else(|| page_key.to_string());
        let first = items.iter().min_by_key(|r| r.created_ms).copied();
        let url = first.map(|r| r.annotation.target.source.split('#').next().unwrap_or("").to_string());
        let mut tags: Vec<String> = Vec::new();
        for r in &items {
            for t in r.annotation.tags().into_iter().map(obsidian_tag) {
                if !t.is_empty() && !tags.contains(&t) {
                    tags.push(t);
                }
            }
        }
        let mut md = String::from("---\n");
        md.push_str(&format!("title: {}\n", yaml_string(&title)));
        md.push_str(&format!("url: {}\n", yaml_string(url.as_deref().unwrap_or(page_key))));
        if tags.is_empty() {
            md.push_str("tags: []\n");
        } else {
            md.push_str("tags:\n");
            for t in &tags {
                md.push_str(&format!("  - {}\n", yaml_string(t)));
            }
        }
        if let Some(first) = first {
            md.push_str(&format!("created: {}\n", yaml_string(&created(first))));
        }
        md.push_str(&format!("cairn_page_key: {}\n---\n\n# {}\n", yaml_string(page_key), title.trim()));
        for r in items.iter().filter(|r| r.annotation.is_clip()) {
            if let Some(body) = r.annotation.clip_markdown().map(strip_front_matter) {
                md.push('\n');
                md.push_str(body.trim_end());
                md.push('\n');
            }
            push_note_and_tags(&mut md, r);
        }
        let notes: Vec<&&LocalRecord> =
            items.iter().filter(|r| !r.annotation.is_clip() && r.annotation.quote().is_none()).collect();
        if !notes.is_empty() {
            md.push_str("\n## Notes\n");
            for r in notes {
                push_author(&mut md, r);
                push_note_and_tags(&mut md, r);
            }
        }
        let highlights: Vec<&&LocalRecord> =
            items.iter().filter(|r| !r.annotation.is_clip() && r.annotation.quote().is_some()).collect();
        if !highlights.is_empty() {
            md.push_str("\n## Highlights\n");
            for r in highlights {
                let quote = r.annotation.quote().unwrap_or_default();
                md.push('\n');
                for line in quote.lines() {
                    md.push_str("> ");
                    md.push_str(line);
                    md.push('\n');
                }
                let link = text_fragment_url(&r.annotation.target.source, quote);
                md.push_str(&format!("\n[Open the passage](<{link}>)\n"));
                push_author(&mut md, r);
                push_note_and_tags(&mut md, r);
            }
        }
        // A page known only by its URL is named without the scheme, which says nothing.
        let bare = title.strip_prefix("https://").or_else(|| title.strip_prefix("http://")).unwrap_or(&title);
        let name = clip_file_name(bare, &mut taken);
        files.push((name, md.into_bytes()));
    }
    files
}

fn push_author(md: &mut String, r: &LocalRecord) {
    if let Some(name) = &r.teammate {
        md.push_str(&format!("\n— {name}\n"));
    }
}

fn push_note_and_tags(md: &mut String, r: &LocalRecord) {
    if let Some(note) = r.annotation.note() {
        md.push('\n');
        md.push_str(note.trim_end());
        md.push('\n');
    }
    let tags: Vec<String> =
        r.annotation.tags().into_iter().map(obsidian_tag).filter(|t| !t.is_empty()).map(|t| format!("#{t}")).collect();
    if !tags.is_empty() {
        md.push_str(&format!("\n{}\n", tags.join(" ")));
    }
}

/// A W3C `AnnotationCollection` holding every annotation in one embedded `AnnotationPage`.
/// `collection_id` is the collection's IRI (e.g. a `urn:uuid:` the caller makes).
pub fn w3c_collection(records: &[LocalRecord], collection_id: &str, label: &str) -> Vec<u8> {
    let items: Vec<Value> = records.iter().map(|r| w3c_item(&r.annotation)).collect();
    let doc = json!({
        "@context": ANNO_CONTEXT,
        "id": collection_id,
        "type": "AnnotationCollection",
        "label": label,
        "total": items.len(),
        "first": {
            "id": format!("{collection_id}#page1"),
            "type": "AnnotationPage",
            "startIndex": 0,
            "items": items,
        },
    });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

/// An annotation as W3C JSON-LD, with the `stylesheet` the model requires wherever a
/// `styleClass` is used (model 4.4), as the server's protocol endpoint serves it: Cairn's
/// highlight colours are its classes. Importers ignore it, so the round trip is unchanged.
fn w3c_item(annotation: &cairn_model::Annotation) -> Value {
    let mut value = serde_json::to_value(annotation).unwrap_or(Value::Null);
    if let (Value::Object(map), Some(class)) = (&mut value, annotation.target.style_class.as_deref()) {
        let color = cairn_model::Color::from_style_class(class).map_or("yellow", |c| c.name());
        map.insert(
            "stylesheet".into(),
            json!({"type": "CssStylesheet", "value": format!(".{class} {{ background-color: {color}; }}")}),
        );
    }
    value
}

/// The annotation's id as Hypothesis tools expect one (no `urn:` scheme): the bare UUID.
fn hypothesis_id(id: &str) -> String {
    match id.parse::<AnnotationId>() {
        Ok(id) => id.as_uuid().hyphenated().to_string(),
        Err(_) => id.to_string(),
    }
}

/// Hypothesis's export JSON (what its client's "Export" writes): `export_date`,
/// `export_userid`, `client_version` and its API's annotation objects.
/// `export_date` is RFC 3339 (the caller's clock) and `userid` an `acct:name@host` id: the
/// user's own annotations are written as theirs, teammates' under their display name.
pub fn hypothesis_json(records: &[LocalRecord], userid: &str, export_date: &str) -> Vec<u8> {
    let annotations: Vec<Value> = records
        .iter()
        .map(|r| {
            let a = &r.annotation;
            let selectors: Vec<&Selector> = a
                .target
                .selector
                .iter()
                .filter(|s| matches!(s, Selector::TextQuoteSelector { .. } | Selector::TextPositionSelector { .. }))
                .collect();
            let user = match &r.teammate {
                None => userid.to_string(),
                Some(name) => a.creator.as_ref().and_then(|c| c.id.clone()).unwrap_or_else(|| format!("acct:{name}")),
            };
            let read = if r.communities.is_empty() { json!([user]) } else { json!(["group:__world__"]) };
            let created = created(r);
            json!({
                "id": hypothesis_id(&a.id),
                "created": created,
                "updated": a.modified.clone().unwrap_or_else(|| created.clone()),
                "user": user,
                "uri": a.target.source,
                "text": a.note().unwrap_or(""),
                "tags": a.tags(),
                "group": "__world__",
                "permissions": {"read": read, "update": [user], "delete": [user], "admin": [user]},
                "target": [{"source": a.target.source, "selector": selectors}],
                "document": {"title": [page_title(r)]},
                "links": {"incontext": text_fragment_url(&a.target.source, a.quote().unwrap_or(""))},
                "references": [],
                "hidden": false,
                "flagged": false,
                "user_info": {"display_name": r.teammate},
            })
        })
        .collect();
    let doc = json!({
        "export_date": export_date,
        "export_userid": userid,
        "client_version": concat!("cairn ", env!("CARGO_PKG_VERSION")),
        "annotations": annotations,
    });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 15] = [
    "id",
    "created",
    "modified",
    "author",
    "kind",
    "page_key",
    "url",
    "title",
    "quote",
    "note",
    "tags",
    "color",
    "communities",
    "orphan",
    "link",
];

/// One row per annotation, RFC 4180: CRLF line ends, fields with a comma, quote or line
/// break quoted, quotes doubled. Tags and communities are joined by `"; "`.
pub fn csv(records: &[LocalRecord]) -> Vec<u8> {
    let mut out = String::new();
    push_row(&mut out, CSV_COLUMNS.iter().map(|c| c.to_string()));
    for r in records {
        let a = &r.annotation;
        let kind = match a.clip_kind() {
            Some(k) => format!("clip:{}", k.style_class().trim_start_matches("cairn-clip-")),
            None if a.quote().is_none() => "page_note".into(),
            None if a.note().is_some() => "note".into(),
            None => "highlight".into(),
        };
        push_row(
            &mut out,
            [
                a.id.clone(),
                created(r),
                a.modified.clone().unwrap_or_default(),
                r.teammate.clone().unwrap_or_else(|| "me".into()),
                kind,
                r.page_key.clone(),
                a.target.source.clone(),
                page_title(r),
                a.quote().unwrap_or_default().to_string(),
                a.note().unwrap_or_default().to_string(),
                a.tags().join("; "),
                if a.is_clip() { String::new() } else { a.color().name().to_string() },
                r.communities.join("; "),
                r.orphan.to_string(),
                text_fragment_url(&a.target.source, a.quote().unwrap_or("")),
            ],
        );
    }
    out.into_bytes()
}

fn push_row(out: &mut String, fields: impl IntoIterator<Item = String>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&f);
        }
    }
    out.push_str("\r\n");
}
