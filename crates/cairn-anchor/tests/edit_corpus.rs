//! The edit corpus (`cairn_anchor::corpus`) on every Readability page and every WCXB
//! development page: Cairn must never anchor a highlight on other words, must anchor
//! every untouched highlight where it was, must orphan every deleted quote, and must
//! find the whole edited passage for nearly every edited one. The floors below sit just
//! under today's scores, at issue 16's goals (today 99.2 % correct overall, 98.7 % on
//! inserted words, 98.1 % on removed ones; the goals are 99 %, and 97 % on inserted or
//! removed words): the misses are orphans, never wrong anchors. The full table, with Hypothesis's
//! method on the same cases beside it, is printed
//! (`cargo test -p cairn-anchor --release --test edit_corpus -- --nocapture`).

mod common;

use cairn_anchor::corpus::{self, EditKind, Outcome, Set};
use cairn_anchor::{resolve, TextIndex};

fn share(t: [usize; 4]) -> f64 {
    t[Outcome::Correct as usize] as f64 / t.iter().sum::<usize>().max(1) as f64
}

#[test]
fn edited_highlights_anchor_on_the_whole_edited_passage_and_never_elsewhere() {
    let pages = corpus::generate(&common::testdata(), None, 40, 0.6, 2024).expect("reading the corpus pages");
    let count = |set: Set| pages.iter().filter(|p| Set::of(&p.name) == Some(set)).count();
    let cases: usize = pages.iter().map(|p| p.cases.len()).sum();
    assert!(
        count(Set::Readability) >= 130 && count(Set::Wcxb) >= 500 && cases >= 16_000,
        "only {} + {} pages, {cases} cases generated",
        count(Set::Readability),
        count(Set::Wcxb)
    );

    let cairn = corpus::evaluate(&pages, |idx: &TextIndex<'_>, sel| resolve(idx, sel).map(|a| (a.start, a.end)));
    let hypothesis = corpus::evaluate(&pages, corpus::hypothesis_resolve);
    println!(
        "{} pages, {cases} highlights:\n{}",
        pages.len(),
        corpus::format_tallies(&[("Cairn", &cairn), ("Hypothesis", &hypothesis)])
    );

    // Every anchor that is not correct, so a failure says what went wrong.
    for page in &pages {
        let index = TextIndex::new(&page.edited);
        let chars: Vec<char> = page.edited.chars().collect();
        let show = |r: Option<(usize, usize)>| r.map(|(s, e)| chars[s..e].iter().collect::<String>());
        for case in &page.cases {
            let a = resolve(&index, &case.selectors);
            let outcome = corpus::judge(case, a.map(|a| (a.start, a.end)));
            if outcome != Outcome::Correct {
                println!(
                    "{outcome:?} {} {}: {:?}\n   expected {:?}\n   got      {:?} ({:?}; stored at {:?}, expected at {:?}, got at {:?})\n   {:?}",
                    page.name,
                    case.kind.name(),
                    case.quote,
                    show(case.expected),
                    show(a.map(|a| (a.start, a.end))),
                    a.map(|a| a.method.name()),
                    case.selectors.iter().find_map(|s| match s {
                        cairn_model::Selector::TextPositionSelector { start, .. } => Some(*start),
                        _ => None,
                    }),
                    case.expected.map(|e| e.0),
                    a.map(|a| a.start),
                    case.selectors.first(),
                );
            }
        }
    }

    let all = corpus::sum(&cairn, |_, _| true);
    assert_eq!(all[Outcome::Wrong as usize], 0, "highlights anchored on other words: {all:?}");
    let deleted = corpus::sum(&cairn, |_, k| k == EditKind::DeleteQuote);
    assert!(deleted[0] >= 800, "deleted quotes: {deleted:?}");
    assert_eq!(share(deleted), 1.0, "deleted quotes not orphaned: {deleted:?}");
    let untouched = corpus::sum(&cairn, |_, k| k == EditKind::Untouched);
    assert_eq!(share(untouched), 1.0, "an untouched highlight moved or orphaned: {untouched:?}");
    for (kind, floor) in [(EditKind::InsertWord, 0.97), (EditKind::DeleteWord, 0.97)] {
        let t = corpus::sum(&cairn, |_, k| k == kind);
        assert!(t.iter().sum::<usize>() >= 800 && share(t) >= floor, "{}: {t:?}", kind.name());
    }
    for set in Set::ALL {
        let t = corpus::sum(&cairn, |s, _| s == set);
        assert!(share(t) >= 0.99, "{}: {t:?}", set.name());
    }
    assert!(share(all) >= 0.99, "overall: {all:?}");
}
