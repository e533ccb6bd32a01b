//! The WCXB development split (`wcxb-dev/`): loading its pages and scoring extractions
//! with the benchmark's own metric, shared by the accuracy test and the `wcxb` example
//! that `cargo xtask bench clip` runs.
//!
//! The metric (the corpus's `SOURCE.txt`): bag-of-words F1 over lower-cased `\w+` tokens
//! of the extracted plain text against `main_content`, per page, averaged over pages and
//! per page type.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Page types in the order the benchmark reports them.
pub const TYPES: [&str; 7] = ["article", "documentation", "service", "forum", "collection", "listing", "product"];

/// The best published system per type (rs-trafilatura, whole development split), and overall.
pub const PUBLISHED_BEST: [(&str, f64); 8] = [
    ("article", 0.932),
    ("documentation", 0.932),
    ("service", 0.844),
    ("forum", 0.808),
    ("collection", 0.716),
    ("listing", 0.707),
    ("product", 0.641),
    ("overall", 0.859),
];

pub struct Page {
    pub id: String,
    pub url: String,
    pub page_type: String,
    pub html: String,
    pub main_content: String,
}

/// Every page of the corpus at `dir`, sorted by id.
pub fn load(dir: &Path) -> Vec<Page> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("ground-truth"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
        .collect();
    ids.sort();
    ids.into_iter()
        .map(|id| {
            let gt_path = dir.join("ground-truth").join(format!("{id}.json"));
            let gt: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&gt_path).expect("ground truth")).expect("json");
            let gz = std::fs::read(dir.join("html").join(format!("{id}.html.gz"))).expect("html.gz");
            let mut bytes = Vec::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut bytes).expect("gunzip");
            Page {
                id,
                url: gt["url"].as_str().unwrap_or("https://example.com/").to_string(),
                page_type: gt["_internal"]["page_type"]["primary"].as_str().unwrap_or("unknown").to_string(),
                html: String::from_utf8_lossy(&bytes).into_owned(),
                main_content: gt["ground_truth"]["main_content"].as_str().unwrap_or("").to_string(),
            }
        })
        .collect()
}

/// Lower-cased `\w+` tokens (Python's `\w`: letters, digits and the underscore, Unicode-aware).
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Bag-of-words precision, recall and F1 (multiset overlap).
pub fn bag_prf(candidate: &str, reference: &str) -> (f64, f64, f64) {
    let count = |t: &str| {
        let mut m: HashMap<String, usize> = HashMap::new();
        for w in tokens(t) {
            *m.entry(w).or_default() += 1;
        }
        m
    };
    let (c, r) = (count(candidate), count(reference));
    let (ct, rt): (usize, usize) = (c.values().sum(), r.values().sum());
    if ct == 0 && rt == 0 {
        return (1.0, 1.0, 1.0);
    }
    let overlap: usize = c.iter().map(|(k, v)| (*v).min(*r.get(k).unwrap_or(&0))).sum();
    let p = if ct == 0 { 0.0 } else { overlap as f64 / ct as f64 };
    let rc = if rt == 0 { 0.0 } else { overlap as f64 / rt as f64 };
    let f = if p + rc == 0.0 { 0.0 } else { 2.0 * p * rc / (p + rc) };
    (p, rc, f)
}

/// One page's score.
pub struct Score {
    pub id: String,
    pub page_type: String,
    pub p: f64,
    pub r: f64,
    pub f1: f64,
}

/// Mean P, R, F1 and page count per type (in [`TYPES`] order), then overall.
pub fn summarize(scores: &[Score]) -> Vec<(String, usize, f64, f64, f64)> {
    let mean = |sel: &dyn Fn(&Score) -> bool| {
        let s: Vec<&Score> = scores.iter().filter(|s| sel(s)).collect();
        let n = s.len().max(1) as f64;
        (
            s.len(),
            s.iter().map(|x| x.p).sum::<f64>() / n,
            s.iter().map(|x| x.r).sum::<f64>() / n,
            s.iter().map(|x| x.f1).sum::<f64>() / n,
        )
    };
    let mut rows: Vec<(String, usize, f64, f64, f64)> = TYPES
        .iter()
        .map(|t| {
            let (n, p, r, f) = mean(&|s: &Score| s.page_type == *t);
            (t.to_string(), n, p, r, f)
        })
        .collect();
    let (n, p, r, f) = mean(&|_| true);
    rows.push(("overall".to_string(), n, p, r, f));
    rows
}

/// The table printed by the test and the bench: ours beside the best published figures.
pub fn table(scores: &[Score]) -> String {
    let mut out =
        format!("  {:<14} {:>5} {:>7} {:>7} {:>7}   {:>22}\n", "type", "pages", "P", "R", "F1", "best published F1");
    for (t, n, p, r, f) in summarize(scores) {
        let best = PUBLISHED_BEST.iter().find(|(k, _)| *k == t).map(|(_, v)| *v).unwrap_or(f64::NAN);
        out.push_str(&format!("  {t:<14} {n:>5} {p:>7.3} {r:>7.3} {f:>7.3}   {best:>8.3} rs-trafilatura\n"));
    }
    out
}
