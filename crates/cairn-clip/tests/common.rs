//! Helpers shared by the corpus tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

/// The shared test corpora: `$CAIRN_TESTDATA`, else `../shared/testdata` beside the
/// workspace. Missing corpora fail the test: a silently skipped accuracy test would let
/// regressions through.
pub fn testdata(sub: &str) -> PathBuf {
    let root = std::env::var_os("CAIRN_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"));
    let dir = root.join(sub);
    assert!(
        dir.is_dir(),
        "test corpus {} is missing: set CAIRN_TESTDATA to the shared testdata folder \
         (CI has it at ../shared/testdata beside the checkout)",
        dir.display()
    );
    dir
}

/// Lower-case word tokens; punctuation separates words, as in the extraction benchmark.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect()
}

/// Word 4-gram shingle precision, recall and F1 (multiset overlap).
pub fn shingle_prf(candidate: &str, reference: &str) -> (f64, f64, f64) {
    fn shingles(text: &str) -> HashMap<Vec<String>, usize> {
        let w = words(text);
        let n = if w.len() >= 4 { 4 } else { 1 };
        let mut m = HashMap::new();
        for g in w.windows(n) {
            *m.entry(g.to_vec()).or_insert(0) += 1;
        }
        m
    }
    let c = shingles(candidate);
    let r = shingles(reference);
    let c_total: usize = c.values().sum();
    let r_total: usize = r.values().sum();
    if c_total == 0 && r_total == 0 {
        return (1.0, 1.0, 1.0);
    }
    let overlap: usize = c.iter().map(|(k, v)| (*v).min(*r.get(k).unwrap_or(&0))).sum();
    let p = if c_total == 0 { 0.0 } else { overlap as f64 / c_total as f64 };
    let rc = if r_total == 0 { 0.0 } else { overlap as f64 / r_total as f64 };
    let f = if p + rc == 0.0 { 0.0 } else { 2.0 * p * rc / (p + rc) };
    (p, rc, f)
}

pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx]
}
