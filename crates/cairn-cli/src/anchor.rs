//! `cairn anchor --html PAGE.html < annotations.jsonl > results.jsonl`
//! `cairn anchor --html PAGE.html --text` (the page's text model, as one JSON string)
//!
//! Anchors annotations in a saved page with exactly the resolver the extension runs
//! (`cairn_anchor::resolve` on the text model of `cairn_anchor::html::document_text`).
//! One JSON object per input line, one result per output line, in the same order.
//! A malformed line gets an error result (with its line number) and the run goes on;
//! the exit status then says that something was malformed.

use std::io::{BufRead, Write};

use cairn_anchor::{describe, html, resolve, TextIndex};
use cairn_model::Selector;
use serde_json::{json, Value};

const USAGE: &str = "usage: cairn anchor --html PAGE.html [--text] < annotations.jsonl > results.jsonl";

pub fn run(args: &[String]) -> Result<(), String> {
    let (page, text_only) = match args {
        [flag, path] if flag == "--html" => (path, false),
        [flag, path, text] if flag == "--html" && text == "--text" => (path, true),
        _ => return Err(USAGE.to_string()),
    };
    let bytes = std::fs::read(page).map_err(|e| format!("cannot read {page}: {e}"))?;
    let text = html::document_text(&String::from_utf8_lossy(&bytes));
    if text_only {
        // The text the offsets of every selector count in: what the e2e test compares with
        // the content script's, character by character (tests/e2e/text-model.test.mjs).
        let mut out = std::io::stdout().lock();
        return writeln!(out, "{}", Value::String(text)).map_err(|e| format!("writing standard output: {e}"));
    }
    let index = TextIndex::new(&text);
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut malformed = 0;
    for (n, line) in stdin.lines().enumerate() {
        let line = line.map_err(|e| format!("reading standard input: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let result = anchor_line(&index, &line, n + 1);
        malformed += (result["status"] == "error") as usize;
        writeln!(out, "{result}").map_err(|e| format!("writing standard output: {e}"))?;
    }
    out.flush().map_err(|e| format!("writing standard output: {e}"))?;
    match malformed {
        0 => Ok(()),
        n => Err(format!("{n} input line(s) were malformed; see their \"error\" results")),
    }
}

/// The result object for one input line.
pub fn anchor_line(index: &TextIndex<'_>, line: &str, number: usize) -> Value {
    let error = |id: &Value, message: String| json!({"id": id, "line": number, "status": "error", "error": message});
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return error(&Value::Null, format!("line {number} is not JSON: {e}")),
    };
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let selectors = match selectors_of(&value) {
        Ok(s) => s,
        Err(message) => return error(&id, format!("line {number}: {message}")),
    };
    match resolve(index, &selectors) {
        Some(a) => json!({
            "id": id,
            "status": "anchored",
            "method": a.method.name(),
            "score": (a.score * 1000.0).round() / 1000.0,
            "selectors": describe(index, a.start, a.end).unwrap_or_default(),
        }),
        None => json!({"id": id, "status": "orphan", "method": null, "score": null, "selectors": []}),
    }
}

/// The usable selectors of an annotation: `target` may be one object or an array of them,
/// and `selector` one object or an array. Selector types this resolver does not use
/// (Range, Fragment, ...) or cannot parse are skipped, as W3C clients must.
fn selectors_of(annotation: &Value) -> Result<Vec<Selector>, String> {
    let target = annotation.get("target").ok_or("no \"target\"")?;
    let targets: Vec<&Value> = match target {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![target],
        Value::String(_) => return Err("\"target\" is a plain URL, with no selector to anchor".into()),
        _ => return Err("\"target\" must be an object or an array".into()),
    };
    let mut selectors = Vec::new();
    for t in targets {
        let raw: Vec<&Value> = match t.get("selector") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(s @ Value::Object(_)) => vec![s],
            _ => continue,
        };
        selectors.extend(raw.into_iter().filter_map(|s| serde_json::from_value::<Selector>(s.clone()).ok()));
        if !selectors.is_empty() {
            break;
        }
    }
    let usable = selectors
        .iter()
        .any(|s| matches!(s, Selector::TextQuoteSelector { .. } | Selector::TextPositionSelector { .. }));
    if !usable {
        return Err("no TextQuoteSelector or TextPositionSelector in \"target\"".into());
    }
    Ok(selectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_line(text: &str, line: &str) -> Value {
        anchor_line(&TextIndex::new(text), line, 7)
    }

    #[test]
    fn anchors_w3c_and_short_forms() {
        let text = "Deploys go out on Tuesdays. Rollbacks need a ticket.";
        let w3c = r#"{"@context":"http://www.w3.org/ns/anno.jsonld","type":"Annotation","id":"urn:x:1",
            "target":[{"source":"http://a.example/","selector":[
              {"type":"RangeSelector","startContainer":"/p[1]","endContainer":"/p[1]","startOffset":0,"endOffset":6},
              {"type":"TextQuoteSelector","exact":"Rollbacks need","prefix":"Tuesdays. "}]}]}"#;
        let r = run_line(text, &w3c.replace('\n', " "));
        assert_eq!(r["status"], "anchored");
        assert_eq!(r["id"], "urn:x:1");
        assert_eq!(r["method"], "unique-quote");
        assert_eq!(r["selectors"][0]["exact"], "Rollbacks need");
        assert_eq!(r["selectors"][1], json!({"type": "TextPositionSelector", "start": 28, "end": 42}));
        let short = r#"{"id":"a","target":{"selector":{"type":"TextQuoteSelector","exact":"Linus"}}}"#;
        assert_eq!(
            run_line(text, short),
            json!({"id":"a","status":"orphan","method":null,"score":null,"selectors":[]})
        );
    }

    #[test]
    fn malformed_lines_say_why_with_their_line_number() {
        let r = run_line("x", "{not json");
        assert_eq!((r["status"].as_str(), r["line"].as_u64()), (Some("error"), Some(7)));
        let r = run_line("x", r#"{"id":"b","target":"http://a.example/"}"#);
        assert_eq!(r["id"], "b");
        assert!(r["error"].as_str().unwrap().contains("plain URL"), "{r}");
        let r = run_line("x", r#"{"id":"c","target":{"selector":[{"type":"FragmentSelector","value":"p=1"}]}}"#);
        assert!(r["error"].as_str().unwrap().contains("no TextQuoteSelector"), "{r}");
    }
}
