//! Native timings and accuracy of the resolver on the edit corpus:
//!
//! `cargo run --release -p cairn-anchor --features corpus --example anchor_bench -- ../shared/testdata`
//!
//! Prints the time to re-anchor 500 highlights on a page of at least 1 MB of text with
//! 10 % of them edited (Cairn, and Hypothesis's algorithm reproduced natively), then the
//! correct / orphan / wrong tally of both on the whole edit corpus.

use std::path::PathBuf;
use std::time::Instant;

use cairn_anchor::corpus;
use cairn_anchor::{resolve, TextIndex};

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "../shared/testdata".into()));
    let text = corpus::long_text(&dir, 1_000_000).expect("reading the readability pages");
    let page = corpus::edit_page("readability/long", &text, 500, 0.10, 1);
    println!(
        "long page: {} code points ({} bytes), {} highlights, {} edited",
        page.edited.chars().count(),
        page.edited.len(),
        page.cases.len(),
        page.cases.iter().filter(|c| c.kind != corpus::EditKind::Untouched).count()
    );
    let runs = 5;
    let mut best = f64::MAX;
    let mut tally = corpus::Tally::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        // The index is built inside the timing: the extension builds one per page text.
        tally = corpus::evaluate(std::slice::from_ref(&page), |idx: &TextIndex<'_>, sel| {
            resolve(idx, sel).map(|a| (a.start, a.end))
        });
        best = best.min(t0.elapsed().as_secs_f64() * 1000.0);
    }
    println!("cairn: {best:.1} ms (best of {runs})");
    let t0 = Instant::now();
    let baseline = corpus::evaluate(std::slice::from_ref(&page), corpus::hypothesis_resolve);
    let hyp_ms = t0.elapsed().as_secs_f64() * 1000.0;
    println!("hypothesis (native reproduction): {hyp_ms:.1} ms, ratio {:.1}x", hyp_ms / best);
    println!("{}", corpus::format_tallies(&[("Cairn", &tally), ("Hypothesis", &baseline)]));

    let pages = corpus::generate(&dir, None, 40, 0.6, 2024).expect("reading the corpus pages");
    let cases: usize = pages.iter().map(|p| p.cases.len()).sum();
    println!("edit corpus: {} pages, {cases} highlights", pages.len());
    let cairn = corpus::evaluate(&pages, |idx: &TextIndex<'_>, sel| resolve(idx, sel).map(|a| (a.start, a.end)));
    let hyp = corpus::evaluate(&pages, corpus::hypothesis_resolve);
    println!("{}", corpus::format_tallies(&[("Cairn", &cairn), ("Hypothesis", &hyp)]));
}
