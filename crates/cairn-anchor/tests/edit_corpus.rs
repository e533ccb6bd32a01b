//! The edit corpus on a subset of the readability pages (the benchmark runs them all):
//! Cairn must never anchor a deleted quote on other words, and must anchor every
//! untouched highlight where it was. The full tally, and Hypothesis's on the same
//! cases, is printed (`cargo test -p cairn-anchor --test edit_corpus -- --nocapture`).

mod common;

use cairn_anchor::corpus::{self, EditKind, Outcome};
use cairn_anchor::{resolve, TextIndex};

#[test]
fn edit_corpus_has_no_wrong_anchors_on_deleted_quotes() {
    let pages = corpus::generate(&common::testdata(), Some(16), 40, 0.6, 2024).expect("reading the readability pages");
    let cases: usize = pages.iter().map(|p| p.cases.len()).sum();
    assert!(cases >= 300, "only {cases} cases generated");

    let cairn = corpus::evaluate(&pages, |idx: &TextIndex<'_>, sel| resolve(idx, sel).map(|a| (a.start, a.end)));
    let hypothesis = corpus::evaluate(&pages, corpus::hypothesis_resolve);
    println!("Cairn, {} pages, {cases} highlights:\n{}", pages.len(), corpus::format_tally(&cairn));
    println!("Hypothesis (reproduced), same cases:\n{}", corpus::format_tally(&hypothesis));

    // Every wrong anchor, so a failure says what went wrong.
    for page in &pages {
        let index = TextIndex::new(&page.edited);
        for case in &page.cases {
            let a = resolve(&index, &case.selectors);
            let outcome = corpus::judge(case, a.map(|a| (a.start, a.end)));
            if outcome != Outcome::Correct {
                let got = a.map(|a| (a.method.name(), a.score, page.edited.chars().skip(a.start).take(a.end - a.start).collect::<String>()));
                println!("{outcome:?} {} {:?}: {:?} -> {got:?}", page.name, case.kind, case.quote);
            }
        }
    }
    let deleted = cairn.get(&EditKind::DeleteQuote).copied().unwrap_or_default();
    assert!(deleted[0] > 0, "the corpus has no deleted quotes");
    assert_eq!(deleted[Outcome::Wrong as usize], 0, "deleted quotes anchored on other words");
    let untouched = cairn.get(&EditKind::Untouched).copied().unwrap_or_default();
    assert_eq!(untouched[0], untouched.iter().sum::<usize>(), "an untouched highlight moved or orphaned");
}
