//! Properties of the resolver on arbitrary input: no panic, offsets on code point
//! boundaries and inside the text, and describe → resolve finding the same range.

use cairn_anchor::{describe, resolve, TextIndex};
use cairn_model::Selector;
use proptest::prelude::*;

/// Text with multi-byte and astral characters and repeats, so that byte, UTF-16 and
/// code point offsets all differ and quotes recur.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof!["[a-c ]{1,6}", "[é😀\n]", "ab ab", "\\PC{1,3}"], 0..60)
        .prop_map(|v| v.concat())
}

fn selector() -> impl Strategy<Value = Selector> {
    prop_oneof![
        (text(), proptest::option::of(text()), proptest::option::of(text()))
            .prop_map(|(exact, prefix, suffix)| Selector::TextQuoteSelector { exact, prefix, suffix }),
        (0u64..400, 0u64..400).prop_map(|(start, end)| Selector::TextPositionSelector { start, end }),
        Just(Selector::CssSelector { value: "p".into() }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn resolve_never_panics_and_stays_in_bounds(t in text(), sels in proptest::collection::vec(selector(), 0..4)) {
        let index = TextIndex::new(&t);
        if let Some(a) = resolve(&index, &sels) {
            prop_assert!(a.start <= a.end && a.end <= index.char_len(), "{a:?} in {} chars", index.char_len());
            // Code point offsets always map to char boundaries of the string.
            prop_assert!(t.is_char_boundary(index.char_to_byte(a.start)) && t.is_char_boundary(index.char_to_byte(a.end)));
            prop_assert!((0.0..=1.0).contains(&a.score));
        }
    }

    #[test]
    fn describe_then_resolve_finds_the_same_text(t in text(), a in 0usize..200, len in 1usize..40) {
        let index = TextIndex::new(&t);
        let n = index.char_len();
        prop_assume!(n > 0);
        let start = a % n;
        let end = (start + len).min(n);
        let sel = describe(&index, start, end).unwrap();
        let got = resolve(&index, &sel).expect("a fresh description resolves");
        // Same range (the position still holds the quote, so position wins).
        prop_assert_eq!((got.start, got.end), (start, end));
    }
}
