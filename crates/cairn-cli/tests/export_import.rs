//! `cairn import` and `cairn export` on files: a Hypothesis export converted to each format
//! and W3C read back.

use std::path::PathBuf;
use std::process::Command;

fn cairn(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const HYPOTHESIS: &str = r#"{"export_date": "2024-05-02T09:00:00.000Z", "export_userid": "acct:me@hypothes.is",
  "client_version": "1.0", "annotations": [
  {"id": "a1", "created": "2024-05-01T10:00:00.000Z", "updated": "2024-05-01T10:00:00.000Z", "user": "acct:me@hypothes.is",
   "uri": "https://example.org/a", "text": "note, with \"quotes\"", "tags": ["t"], "references": [],
   "target": [{"source": "https://example.org/a", "selector": [{"type": "TextQuoteSelector", "exact": "some words"}]}],
   "document": {"title": ["Page A"]}},
  {"id": "a2", "uri": "https://example.org/a", "text": "reply", "references": ["a1"], "target": [{"source": "https://example.org/a"}]}
]}"#;

#[test]
fn a_hypothesis_export_converts_to_every_format_and_w3c_reads_back() {
    let dir = scratch("convert");
    let input = dir.join("hypothesis.json");
    std::fs::write(&input, HYPOTHESIS).unwrap();
    let input = input.to_str().unwrap();

    let records = dir.join("records.json");
    let (ok, _, err) = cairn(&["import", input, "--out", records.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(err.contains("imported 1 annotation(s) from Hypothesis"), "{err}");
    assert!(err.contains("item 1 (a2): a reply"), "{err}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&records).unwrap()).unwrap();
    assert_eq!(saved[0]["annotation"]["target"]["selector"][0]["exact"], "some words");

    for (format, name) in [("w3c", "out.jsonld"), ("hypothesis", "out.json"), ("csv", "out.csv"), ("md", "vault.zip")] {
        let out = dir.join(name);
        let (ok, _, err) =
            cairn(&["export", "--format", format, "--out", out.to_str().unwrap(), records.to_str().unwrap()]);
        assert!(ok, "{format}: {err}");
        assert!(std::fs::metadata(&out).unwrap().len() > 0, "{format}");
    }
    let csv = std::fs::read_to_string(dir.join("out.csv")).unwrap();
    assert!(csv.contains("\"note, with \"\"quotes\"\"\""), "{csv}");
    assert!(std::fs::read(dir.join("vault.zip")).unwrap().starts_with(b"PK\x03\x04"));

    let (ok, _, err) = cairn(&["export", "--format", "md", "--out", dir.join("vault").to_str().unwrap(), input]);
    assert!(ok, "{err}");
    let page = std::fs::read_to_string(dir.join("vault/example.org a.md"));
    let listing: Vec<_> = std::fs::read_dir(dir.join("vault")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(page.is_ok(), "{listing:?}");
    assert!(page.unwrap().contains("> some words\n"));

    let (ok, stdout, err) = cairn(&["import", dir.join("out.jsonld").to_str().unwrap()]);
    assert!(ok, "{err}");
    let back: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(back[0]["annotation"], saved[0]["annotation"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_is_one_line_and_a_failure() {
    let dir = scratch("bad");
    let input = dir.join("x.json");
    std::fs::write(&input, "not json").unwrap();
    let (ok, _, err) = cairn(&["import", input.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.starts_with("cairn: ") && err.contains("not JSON"), "{err}");
    let (ok, _, err) = cairn(&["export", "--format", "pdf", "--out", "x", input.to_str().unwrap()]);
    assert!(!ok && err.contains("unknown format"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
