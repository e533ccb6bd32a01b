//! Describing a selection with the *least* context that makes it unambiguous, as
//! Apache Annotator's `describeTextQuote` does ([`describe_minimal`]).
//!
//! The extension keeps [`crate::describe`] (32 characters each side, like Hypothesis):
//! fixed context survives edits better, which is what re-anchoring needs. The minimal
//! form is for exchanging selectors with tools that expect Apache's output, and for
//! telling whether a short quote is unique on its page.

use cairn_model::Selector;
use memchr::memmem;

use crate::TextIndex;

/// Options of [`describe_minimal`], named and defaulted as Apache Annotator's
/// `DescribeTextQuoteOptions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinimalOptions {
    /// Add only the characters that tell the target from each other occurrence, on
    /// whichever side needs fewer; otherwise context is extended on both sides and to
    /// whole words (default `false`).
    pub minimal_context: bool,
    /// Pad prefix + quote + suffix to at least this many characters (default 0).
    pub minimum_quote_length: usize,
    /// When extending context to a word boundary, at most this many characters (default 50).
    pub max_word_length: usize,
}

impl Default for MinimalOptions {
    fn default() -> Self {
        MinimalOptions { minimal_context: false, minimum_quote_length: 0, max_word_length: 50 }
    }
}

/// JavaScript's `/\s/`: Unicode white space plus the BOM, which Rust's `is_whitespace` leaves out.
fn js_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// Describes `[start, end)` (code points; may be empty) as a TextQuoteSelector whose
/// prefix and suffix are just long enough that `prefix + exact + suffix` occurs only at
/// the target, following Apache Annotator's algorithm step by step (so its describe
/// cases give the same selectors). `None` when the range is out of bounds.
///
/// Each round finds the first occurrence other than the target, counts how many
/// characters of prefix and of suffix would rule it out, and extends by those; the
/// text is searched once per round, so this is for one selection at a time, not bulk.
pub fn describe_minimal(index: &TextIndex<'_>, start: usize, end: usize, opts: &MinimalOptions) -> Option<Selector> {
    let n = index.char_len();
    if start > end || end > n {
        return None;
    }
    let t = index.chars();
    let (s, e) = (start, end);
    // The selector is t[p..s] + t[s..e] + t[e..x].
    let (mut p, mut x) = (s, e);
    let min = opts.minimum_quote_length;
    if x - p < min {
        // Half of the missing length as prefix, the rest as suffix, and the prefix again
        // for what the end of the text did not give.
        p = p.saturating_sub((min - (x - p)) / 2);
        if x - p < min {
            x = (x + min - (x - p)).min(n);
            if x - p < min {
                p = p.saturating_sub(min - (x - p));
            }
        }
    }
    let word_start = |mut p: usize| {
        let from = p;
        while p > 0 && from - p < opts.max_word_length && !js_space(t[p - 1]) {
            p -= 1;
        }
        p
    };
    let word_end = |mut x: usize| {
        let from = x;
        while x < n && x - from < opts.max_word_length && !js_space(t[x]) {
            x += 1;
        }
        x
    };
    if !opts.minimal_context {
        p = word_start(p);
        x = word_end(x);
    }
    let text = index.text();
    loop {
        let (pb, xb) = (index.char_to_byte(p), index.char_to_byte(x));
        let pattern = &text.as_bytes()[pb..xb];
        let find_from = |from: usize| -> Option<usize> {
            if pattern.is_empty() {
                return (from <= text.len()).then_some(from);
            }
            memmem::find(text.as_bytes().get(from..)?, pattern).map(|b| from + b)
        };
        let Some(mut first) = find_from(0) else { return Some(selector(t, p, s, e, x)) };
        if first == pb {
            // The target itself comes first: the next occurrence (overlaps count) is the rival.
            let step = text[first..].chars().next().map_or(1, char::len_utf8);
            match find_from(first + step) {
                Some(next) => first = next,
                None => return Some(selector(t, p, s, e, x)),
            }
        }
        let o = index.byte_to_char(first);
        let prefix_needed = needed(t, p, o, true);
        let suffix_needed = needed(t, x, o + (x - p), false);
        match (prefix_needed, suffix_needed) {
            (None, None) => return Some(selector(t, p, s, e, x)), // only a copy of the target itself
            _ if opts.minimal_context => match (prefix_needed, suffix_needed) {
                (Some(a), b) if b.is_none_or(|b| a <= b) => p -= a,
                (_, Some(b)) => x += b,
                _ => unreachable!("one side is Some"),
            },
            (a, b) => {
                if let Some(a) = a {
                    p = word_start(p - a);
                }
                if let Some(b) = b {
                    x = word_end(x + b);
                }
            }
        }
    }
}

/// Apache's `charactersNeededToBeUnique`: reading away from the selector at `target`
/// and from the rival occurrence at `rival` in step, how many characters until they
/// differ (or the rival runs out of text); `None` if the target runs out first.
fn needed(t: &[char], target: usize, rival: usize, backwards: bool) -> Option<usize> {
    let mut k = 0;
    loop {
        k += 1;
        let mine = if backwards { target.checked_sub(k) } else { Some(target + k - 1).filter(|&i| i < t.len()) }?;
        let theirs = if backwards { rival.checked_sub(k) } else { Some(rival + k - 1).filter(|&i| i < t.len()) };
        match theirs {
            Some(r) if t[r] == t[mine] => continue,
            _ => return Some(k),
        }
    }
}

fn selector(t: &[char], p: usize, s: usize, e: usize, x: usize) -> Selector {
    let str_of = |a: usize, b: usize| t[a..b].iter().collect::<String>();
    Selector::TextQuoteSelector { exact: str_of(s, e), prefix: Some(str_of(p, s)), suffix: Some(str_of(e, x)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(text: &str, start: usize, end: usize, opts: MinimalOptions) -> (String, String, String) {
        match describe_minimal(&TextIndex::new(text), start, end, &opts) {
            Some(Selector::TextQuoteSelector { exact, prefix, suffix }) => (prefix.unwrap(), exact, suffix.unwrap()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn context_grows_until_the_selector_is_unique() {
        let text = "To annotate or not to annotate";
        let d = MinimalOptions::default();
        assert_eq!(quote(text, 15, 18, d), ("or ".into(), "not".into(), " to".into()));
        let m = MinimalOptions { minimal_context: true, ..d };
        assert_eq!(quote(text, 26, 30, m), ("to anno".into(), "tate".into(), "".into()));
        // Multi-byte text: offsets are code points.
        assert_eq!(quote("é x é y", 4, 5, m), (" ".into(), "é".into(), "".into()));
        assert!(describe_minimal(&TextIndex::new(text), 5, 31, &d).is_none());
    }
}
