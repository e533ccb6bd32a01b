use cairn_model::Selector;

use crate::TextIndex;

/// Characters of context kept before and after a quote (Hypothesis keeps 32 too):
/// enough to tell repeated phrases apart, short enough to survive nearby edits.
pub const CONTEXT_CHARS: usize = 32;

/// A resolved annotation: `[start, end)` in code points of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub start: usize,
    pub end: usize,
    pub method: Method,
}

/// How an anchor was found, from most to least certain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The stored position still holds the quoted text.
    Position,
    /// The quote occurs exactly once.
    UniqueQuote,
    /// The quote occurs several times; context and position picked one.
    QuoteInContext,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Position => "position",
            Method::UniqueQuote => "unique-quote",
            Method::QuoteInContext => "quote-in-context",
        }
    }
}

/// Describes `[start, end)` (code points) of the text as a TextQuoteSelector and
/// a TextPositionSelector. `None` for an empty or out-of-range selection.
pub fn describe(index: &TextIndex<'_>, start: usize, end: usize) -> Option<Vec<Selector>> {
    if start >= end || end > index.char_len() {
        return None;
    }
    let text = index.text();
    let (sb, eb) = (index.char_to_byte(start), index.char_to_byte(end));
    let pb = index.char_to_byte(start.saturating_sub(CONTEXT_CHARS));
    let xb = index.char_to_byte(end + CONTEXT_CHARS);
    Some(vec![
        Selector::TextQuoteSelector {
            exact: text[sb..eb].to_string(),
            prefix: Some(text[pb..sb].to_string()),
            suffix: Some(text[eb..xb].to_string()),
        },
        Selector::TextPositionSelector { start: start as u64, end: end as u64 },
    ])
}

/// Finds where the selectors point in the text, or `None` when the quote is gone
/// (the annotation is then an orphan: shown in the list, never on wrong words).
pub fn resolve(index: &TextIndex<'_>, selectors: &[Selector]) -> Option<Anchor> {
    let (exact, prefix, suffix) = selectors.iter().find_map(|s| match s {
        Selector::TextQuoteSelector { exact, prefix, suffix } => {
            Some((exact.as_str(), prefix.as_deref().unwrap_or(""), suffix.as_deref().unwrap_or("")))
        }
        _ => None,
    })?;
    if exact.is_empty() {
        return None;
    }
    let hint = selectors.iter().find_map(|s| match s {
        Selector::TextPositionSelector { start, end } => Some((*start as usize, *end as usize)),
        _ => None,
    });
    let text = index.text();
    if let Some((start, end)) = hint {
        if start < end && end <= index.char_len() {
            let (sb, eb) = (index.char_to_byte(start), index.char_to_byte(end));
            if &text[sb..eb] == exact {
                return Some(Anchor { start, end, method: Method::Position });
            }
        }
    }
    let occurrences: Vec<usize> = text.match_indices(exact).map(|(b, _)| b).collect();
    match occurrences.as_slice() {
        [] => None,
        [only] => {
            let start = index.byte_to_char(*only);
            Some(Anchor { start, end: start + exact.chars().count(), method: Method::UniqueQuote })
        }
        many => {
            let len = exact.chars().count();
            let best = many
                .iter()
                .map(|&b| {
                    let before = &text[..b];
                    let after = &text[b + exact.len()..];
                    let start = index.byte_to_char(b);
                    // Context first (characters that still agree), then nearness to
                    // the stored position as the tie-break.
                    let context = common_suffix(before, prefix) + common_prefix(after, suffix);
                    let distance = hint.map(|(s, _)| s.abs_diff(start)).unwrap_or(0);
                    (context, std::cmp::Reverse(distance), std::cmp::Reverse(b), start)
                })
                .max()?;
            let start = best.3;
            Some(Anchor { start, end: start + len, method: Method::QuoteInContext })
        }
    }
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

fn common_suffix(a: &str, b: &str) -> usize {
    a.chars().rev().zip(b.chars().rev()).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(text: &str, selectors: &[Selector]) -> Option<(String, Method)> {
        let idx = TextIndex::new(text);
        resolve(&idx, selectors).map(|a| (text.chars().skip(a.start).take(a.end - a.start).collect(), a.method))
    }

    #[test]
    fn describe_then_resolve_round_trips() {
        let text = "Deploys go out on Tuesdays. Rollbacks need a ticket. Deploys go out on Tuesdays.";
        let idx = TextIndex::new(text);
        let start = text.rfind("Deploys").unwrap();
        let sel = describe(&idx, start, start + "Deploys go out".len()).unwrap();
        let a = resolve(&idx, &sel).unwrap();
        assert_eq!((a.start, a.end, a.method), (start, start + 14, Method::Position));
        assert_eq!(
            sel[0],
            Selector::TextQuoteSelector {
                exact: "Deploys go out".into(),
                prefix: Some("sdays. Rollbacks need a ticket. ".into()),
                suffix: Some(" on Tuesdays.".into()),
            }
        );
    }

    #[test]
    fn moved_text_found_by_quote() {
        let sel = [
            Selector::TextQuoteSelector { exact: "ticket".into(), prefix: None, suffix: None },
            Selector::TextPositionSelector { start: 3, end: 9 },
        ];
        assert_eq!(anchor("A new intro. Rollbacks need a ticket.", &sel), Some(("ticket".into(), Method::UniqueQuote)));
    }

    #[test]
    fn repeated_quote_told_apart_by_context() {
        let text = "alpha beta gamma. alpha beta delta. alpha beta epsilon.";
        let sel = [Selector::TextQuoteSelector {
            exact: "beta".into(),
            prefix: Some("alpha ".into()),
            suffix: Some(" delta".into()),
        }];
        let idx = TextIndex::new(text);
        let a = resolve(&idx, &sel).unwrap();
        assert_eq!(a.start, text.find("beta delta").unwrap());
        assert_eq!(a.method, Method::QuoteInContext);
    }

    #[test]
    fn repeated_quote_without_context_uses_position_hint() {
        let text = "x y x y x y";
        let sel = [
            Selector::TextQuoteSelector { exact: "x".into(), prefix: None, suffix: None },
            // Stored position no longer matches (text shifted by one) but is nearest the third x.
            Selector::TextPositionSelector { start: 9, end: 10 },
        ];
        let a = resolve(&TextIndex::new(text), &sel).unwrap();
        assert_eq!(a.start, 8);
    }

    #[test]
    fn deleted_quote_is_an_orphan_not_a_guess() {
        let sel = [
            Selector::TextQuoteSelector { exact: "Linus".into(), prefix: Some("by ".into()), suffix: None },
            Selector::TextPositionSelector { start: 0, end: 5 },
        ];
        assert_eq!(anchor("Written by machines for machines.", &sel), None);
        assert_eq!(anchor("anything", &[]), None);
    }

    #[test]
    fn positions_count_code_points() {
        let text = "😀 café 😀 naïve";
        let idx = TextIndex::new(text);
        let start = text.chars().position(|c| c == 'n').unwrap();
        let sel = describe(&idx, start, start + 5).unwrap();
        assert_eq!(sel[1], Selector::TextPositionSelector { start: 9, end: 14 });
        assert_eq!(anchor(text, &sel), Some(("naïve".into(), Method::Position)));
        assert!(describe(&idx, 3, 3).is_none());
        assert!(describe(&idx, 3, 99).is_none());
    }
}
