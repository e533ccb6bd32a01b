//! The edit corpus on all 130 readability pages (3052 highlights): Cairn must never
//! anchor a deleted quote on other words, must anchor every untouched highlight where it
//! was, and must keep its recall (floors below, a little under the current scores:
//! 2874 correct, 172 orphans, 6 wrong, 232 of 232 deleted quotes orphaned). The full tally, and Hypothesis's on the same
//! cases, is printed (`cargo test -p cairn-anchor --test edit_corpus -- --nocapture`).

mod common;

use cairn_anchor::corpus::{self, EditKind, Outcome};
use cairn_anchor::{resolve, TextIndex};

#[test]
fn edit_corpus_has_no_wrong_anchors_on_deleted_quotes() {
    let pages = corpus::generate(&common::testdata(), None, 40, 0.6, 2024).expect("reading the readability pages");
    let cases: usize = pages.iter().map(|p| p.cases.len()).sum();
    assert!(pages.len() >= 130 && cases >= 3000, "only {} pages, {cases} cases generated", pages.len());

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
            if outcome == Outcome::Wrong {
                let got = a.map(|a| {
                    (
                        a.method.name(),
                        a.score,
                        page.edited.chars().skip(a.start).take(a.end - a.start).collect::<String>(),
                    )
                });
                println!(
                    "{outcome:?} {} {:?}: {:?} -> {got:?}\n   sel {:?}\n   expected {:?} got {:?}",
                    page.name,
                    case.kind,
                    case.quote,
                    case.selectors[0],
                    case.expected,
                    a.map(|a| (a.start, a.end))
                );
            }
        }
    }
    let deleted = cairn.get(&EditKind::DeleteQuote).copied().unwrap_or_default();
    assert!(deleted[0] > 0, "the corpus has no deleted quotes");
    assert_eq!(deleted[Outcome::Wrong as usize], 0, "deleted quotes anchored on other words");
    assert!(deleted[0] >= 230, "deleted quotes: {deleted:?}");
    let total = cairn.values().fold([0; 3], |t, k| [t[0] + k[0], t[1] + k[1], t[2] + k[2]]);
    assert!(total[0] >= 2850, "correct anchors fell to {} of {cases}", total[0]);
    assert!(total[2] <= 6, "{} wrong anchors (edited quotes on other words)", total[2]);
    let untouched = cairn.get(&EditKind::Untouched).copied().unwrap_or_default();
    assert_eq!(untouched[0], untouched.iter().sum::<usize>(), "an untouched highlight moved or orphaned");
}
