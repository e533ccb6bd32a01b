//! Where the shared test corpora are: `$CAIRN_TESTDATA`, else `../shared/testdata`
//! beside the workspace. Missing corpora fail the test loudly: a skipped corpus
//! test would look green while testing nothing.

#![allow(dead_code)]

use std::path::PathBuf;

pub fn testdata() -> PathBuf {
    let dir = match std::env::var_os("CAIRN_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    assert!(
        dir.join("hypothesis-anchoring-fixtures").is_dir(),
        "test corpora not found at {} (set CAIRN_TESTDATA to the shared testdata folder)",
        dir.display()
    );
    dir
}

pub fn json(rel: &str) -> serde_json::Value {
    let path = testdata().join(rel);
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}
