//! The native side of `cargo xtask bench anchor|clip` (run by xtask, release build):
//!
//! * `anchor-workload TESTDATA OUT.json`: the anchoring workload both JS drivers consume,
//!   from `cairn_anchor::corpus` — one long page (≥ 1 MB of text, 500 highlights, 10 % of
//!   them edited, as `cairn-anchor/examples/anchor_bench.rs`) and the whole edit corpus
//!   (every Readability and WCXB development page, 40 highlights each, 60 % edited).
//!   Positions are code points.
//! * `anchor-score WORKLOAD.json NAME=RESULTS.json...`: judges each driver's anchors with
//!   `corpus::judge` and prints correct / partial / orphan / wrong per edit kind, side by
//!   side, with the native reproduction of Hypothesis's algorithm
//!   (`corpus::hypothesis_resolve`) beside them for reference.
//! * `clip-f1 TESTDATA NAME=RESULTS.json...`: mean word 4-gram shingle F1 of each driver's
//!   article text against `expected.html`, scored exactly as the cairn-clip corpus test does.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_anchor::corpus::{self, Case, EditKind, Page};
use serde_json::{json, Value};

#[path = "../../cairn-clip/tests/common.rs"]
mod clip_common;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("anchor-workload") if args.len() == 3 => anchor_workload(Path::new(&args[1]), Path::new(&args[2])),
        Some("anchor-score") if args.len() >= 3 => anchor_score(Path::new(&args[1]), &args[2..]),
        Some("clip-f1") if args.len() >= 3 => clip_f1(Path::new(&args[1]), &args[2..]),
        _ => Err(
            "usage: bench_data anchor-workload TESTDATA OUT.json | anchor-score WORKLOAD.json NAME=RESULTS.json... \
                  | clip-f1 TESTDATA NAME=RESULTS.json..."
                .into(),
        ),
    };
    if let Err(e) = result {
        eprintln!("bench_data: {e}");
        std::process::exit(1);
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn page_json(page: &Page) -> Value {
    let cases: Vec<Value> = page
        .cases
        .iter()
        .map(|c| json!({ "kind": c.kind.name(), "selectors": c.selectors, "expected": c.expected }))
        .collect();
    json!({ "name": page.name, "text": page.edited, "cases": cases })
}

fn anchor_workload(testdata: &Path, out: &Path) -> Result {
    let err = |e: std::io::Error| format!("reading the corpus pages under {}: {e}", testdata.display());
    let text = corpus::long_text(testdata, 1_000_000).map_err(err)?;
    let long = corpus::edit_page("readability/long", &text, 500, 0.10, 1);
    let pages = corpus::generate(testdata, None, 40, 0.6, 2024).map_err(err)?;
    if pages.is_empty() {
        return Err(format!("no corpus pages under {}", testdata.display()));
    }
    let workload = json!({
        "long": page_json(&long),
        "corpus": pages.iter().map(page_json).collect::<Vec<_>>(),
    });
    std::fs::write(out, workload.to_string()).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "    workload: long page {} code points ({} bytes of UTF-8), {} highlights, {} edited; \
         edit corpus {} pages, {} highlights",
        long.edited.chars().count(),
        long.edited.len(),
        long.cases.len(),
        long.cases.iter().filter(|c| c.kind != EditKind::Untouched).count(),
        pages.len(),
        pages.iter().map(|p| p.cases.len()).sum::<usize>()
    );
    Ok(())
}

fn kind_of(name: &str) -> Result<EditKind> {
    std::iter::once(EditKind::Untouched)
        .chain(EditKind::EDITS)
        .find(|k| k.name() == name)
        .ok_or_else(|| format!("unknown edit kind {name:?}"))
}

/// The workload back as corpus pages (text = the edited text), so `corpus::evaluate` runs on it.
fn pages_of(v: &Value) -> Result<Vec<Page>> {
    let mut pages = Vec::new();
    for p in v.as_array().ok_or("workload pages: not an array")? {
        let text = p["text"].as_str().ok_or("page without text")?.to_string();
        let mut cases = Vec::new();
        for c in p["cases"].as_array().ok_or("page without cases")? {
            cases.push(Case {
                kind: kind_of(c["kind"].as_str().unwrap_or(""))?,
                quote: String::new(),
                selectors: serde_json::from_value(c["selectors"].clone()).map_err(|e| format!("selectors: {e}"))?,
                expected: serde_json::from_value(c["expected"].clone()).map_err(|e| format!("expected: {e}"))?,
            });
        }
        pages.push(Page {
            name: p["name"].as_str().unwrap_or("").to_string(),
            original: String::new(),
            edited: text,
            cases,
        });
    }
    Ok(pages)
}

fn tally_of(pages: &[Page], anchors: &[Value]) -> Result<corpus::Tally> {
    if anchors.len() != pages.len() {
        return Err(format!("{} pages of results for {} pages", anchors.len(), pages.len()));
    }
    let mut tally = corpus::Tally::new();
    for (page, got) in pages.iter().zip(anchors) {
        let got = got.as_array().ok_or("results: a page is not an array")?;
        if got.len() != page.cases.len() {
            return Err(format!("page {}: {} results for {} cases", page.name, got.len(), page.cases.len()));
        }
        let set = corpus::Set::of(&page.name).unwrap_or(corpus::Set::Readability);
        for (case, a) in page.cases.iter().zip(got) {
            let anchor: Option<(usize, usize)> =
                serde_json::from_value(a.clone()).map_err(|e| format!("result: {e}"))?;
            tally.entry((set, case.kind)).or_default()[corpus::judge(case, anchor) as usize] += 1;
        }
    }
    Ok(tally)
}

fn anchor_score(workload: &Path, results: &[String]) -> Result {
    let w = read_json(workload)?;
    let long = pages_of(&Value::Array(vec![w["long"].clone()]))?;
    let corpus_pages = pages_of(&w["corpus"])?;
    let native_long = corpus::evaluate(&long, corpus::hypothesis_resolve);
    let native_corpus = corpus::evaluate(&corpus_pages, corpus::hypothesis_resolve);
    let mut long_sides = Vec::new();
    let mut corpus_sides = Vec::new();
    for arg in results {
        let (name, path) = arg.split_once('=').ok_or_else(|| format!("{arg}: expected NAME=RESULTS.json"))?;
        let r = read_json(Path::new(path))?;
        long_sides.push((name.to_string(), tally_of(&long, std::slice::from_ref(&r["long"]))?));
        corpus_sides.push((
            name.to_string(),
            tally_of(&corpus_pages, r["corpus"].as_array().ok_or("results without corpus")?)?,
        ));
    }
    let table = |sides: &[(String, corpus::Tally)], native: &corpus::Tally| {
        let mut all: Vec<(&str, &corpus::Tally)> = sides.iter().map(|(n, t)| (n.as_str(), t)).collect();
        all.push(("hypothesis-native", native));
        indent(&corpus::format_tallies(&all))
    };
    println!("\n  long page (500 highlights, 10 % edited):\n{}", table(&long_sides, &native_long));
    println!(
        "  edit corpus ({} pages, {} highlights; ok = the whole edited passage exactly):\n{}",
        corpus_pages.len(),
        corpus_pages.iter().map(|p| p.cases.len()).sum::<usize>(),
        table(&corpus_sides, &native_corpus)
    );
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

fn clip_f1(testdata: &Path, results: &[String]) -> Result {
    let dir = testdata.join("mozilla-readability-test-pages/test/test-pages");
    let mut reference: BTreeMap<String, String> = BTreeMap::new();
    for arg in results {
        let (name, path) = arg.split_once('=').ok_or_else(|| format!("{arg}: expected NAME=RESULTS.json"))?;
        let r = read_json(Path::new(path))?;
        let mut f1s = Vec::new();
        let mut failed = 0;
        for p in r["pages"].as_array().ok_or("results without pages")? {
            let page = p["name"].as_str().unwrap_or("");
            let expected = match reference.get(page) {
                Some(t) => t.clone(),
                None => {
                    let html = std::fs::read_to_string(dir.join(page).join("expected.html"))
                        .map_err(|e| format!("{page}/expected.html: {e}"))?;
                    // As crates/cairn-clip/tests/readability_corpus.rs (`expected_text`).
                    let t = dom_query::Document::from(html.as_str()).root().formatted_text().to_string();
                    reference.insert(page.to_string(), t.clone());
                    t
                }
            };
            let text = p["text"].as_str();
            failed += usize::from(text.is_none());
            f1s.push(clip_common::shingle_prf(text.unwrap_or(""), &expected).2);
        }
        let mean = f1s.iter().sum::<f64>() / f1s.len().max(1) as f64;
        f1s.sort_by(f64::total_cmp);
        println!(
            "    {name:<14} mean F1 {mean:.3}   median {:.3}   p10 {:.3}   min {:.3}   ({} pages, {failed} without an article)",
            clip_common::quantile(&f1s, 0.5),
            clip_common::quantile(&f1s, 0.1),
            f1s.first().copied().unwrap_or(f64::NAN),
            f1s.len()
        );
    }
    Ok(())
}
