//! Words as search sees them: split on anything that is not a letter or digit, then folded
//! so that case and accents do not matter ("Résumé", "RESUME" and "resume" are one word).

use std::ops::Range;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// A word of a text: its folded form and where it is in the original, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub folded: String,
    pub range: Range<usize>,
}

/// Folds a word for comparison: canonical decomposition with the combining marks dropped
/// (diacritics), Unicode lower case, and the few letters that do not decompose but are read
/// as plain Latin by people typing a query (ß, æ, œ, ø, ł, đ, ı).
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        fold_char(c, &mut out);
    }
    out
}

fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    decompose_canonical(c, |d| {
        if is_combining_mark(d) {
            return;
        }
        for l in d.to_lowercase() {
            match l {
                'ß' => out.push_str("ss"),
                'æ' => out.push_str("ae"),
                'œ' => out.push_str("oe"),
                'ø' => out.push('o'),
                'ł' => out.push('l'),
                'đ' => out.push('d'),
                'ı' => out.push('i'),
                l => out.push(l),
            }
        }
    });
}

/// Whether `c` belongs to a word. Combining marks do, so that a decomposed "é" stays in one word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The words of `text`, in order, with their byte ranges.
pub(crate) fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_word_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(Token { folded: fold(&text[s..i]), range: s..i });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Token { folded: fold(&text[s..]), range: s..text.len() });
    }
    out.retain(|t| !t.folded.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_and_accents() {
        assert_eq!(fold("Résumé"), "resume");
        assert_eq!(fold("NAÏVE"), "naive");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("Łódź"), "lodz");
        // Already decomposed input folds the same as composed input.
        assert_eq!(fold("Re\u{301}sume\u{301}"), "resume");
        assert_eq!(fold("ΣΟΦΙΑ"), "σοφια");
    }

    #[test]
    fn tokens_keep_their_byte_ranges() {
        let text = "Déjà vu, l'été—2026!";
        let t = tokens(text);
        let words: Vec<&str> = t.iter().map(|t| &text[t.range.clone()]).collect();
        assert_eq!(words, ["Déjà", "vu", "l", "été", "2026"]);
        assert_eq!(t[0].folded, "deja");
        assert_eq!(t[3].folded, "ete");
    }
}
