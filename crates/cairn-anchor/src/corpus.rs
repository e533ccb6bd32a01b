//! The edit corpus (feature `corpus`): highlights on real pages, then the pages edited
//! the ways pages get edited, with the right answer for every highlight known.
//!
//! Used by `tests/edit_corpus.rs` (a few pages), by `examples/anchor_bench.rs` and by
//! the `cargo xtask bench anchor` comparison (all pages). Generation is deterministic:
//! the same corpus folder and seed always give the same cases, so runs compare.
//!
//! Each page of `mozilla-readability-test-pages/test/test-pages/*/source.html` becomes
//! its text (the crate's text model, [`crate::html::document_text`]). Quotes of 1–10
//! whole words that occur once on the page are described with [`crate::describe`], at
//! least [`ZONE`] characters apart so that each edit touches one highlight only; then a
//! fraction of them is edited (see [`EditKind`]), and the rest stay as they were.

use std::path::{Path, PathBuf};

use cairn_model::Selector;

use crate::{describe, TextIndex};

/// Characters around a quote that only that quote's edit may touch.
pub const ZONE: usize = 200;

/// How a highlight's neighbourhood was edited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EditKind {
    Untouched,
    /// One or two characters of the quote substituted, inserted or deleted.
    Typo,
    /// A word inserted inside the quote (after it, for a one-word quote).
    InsertWord,
    /// A word deleted from the quote (quotes of three words or more).
    DeleteWord,
    /// Spaces inside the quote doubled or turned into a line break and indentation
    /// (what re-wrapping or different markup does to the text model).
    Whitespace,
    /// A sentence inserted just before the quote (its prefix changes).
    InsertSentence,
    /// Text deleted just before the quote (its prefix changes).
    DeleteSentence,
    /// The quote's paragraph moved to the end of the page.
    MoveParagraph,
    /// The quote and the words around it deleted: the right answer is an orphan.
    DeleteQuote,
}

impl EditKind {
    pub const EDITS: [EditKind; 8] = [
        EditKind::Typo,
        EditKind::InsertWord,
        EditKind::DeleteWord,
        EditKind::Whitespace,
        EditKind::InsertSentence,
        EditKind::DeleteSentence,
        EditKind::MoveParagraph,
        EditKind::DeleteQuote,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EditKind::Untouched => "untouched",
            EditKind::Typo => "typo",
            EditKind::InsertWord => "insert-word",
            EditKind::DeleteWord => "delete-word",
            EditKind::Whitespace => "whitespace",
            EditKind::InsertSentence => "insert-sentence",
            EditKind::DeleteSentence => "delete-sentence",
            EditKind::MoveParagraph => "move-paragraph",
            EditKind::DeleteQuote => "delete-quote",
        }
    }
}

/// One highlight: the selectors made on the original page, and where its words are on
/// the edited page (`None`: they were deleted, so the right answer is an orphan).
#[derive(Clone, Debug)]
pub struct Case {
    pub kind: EditKind,
    pub quote: String,
    pub selectors: Vec<Selector>,
    pub expected: Option<(usize, usize)>,
}

/// A page before and after editing, with its highlights.
#[derive(Clone, Debug)]
pub struct Page {
    pub name: String,
    pub original: String,
    pub edited: String,
    pub cases: Vec<Case>,
}

/// How a resolution compares with the right answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Anchored on the highlight's words (or, for a deleted quote, orphaned).
    Correct,
    /// Not anchored although the words are still there.
    Orphan,
    /// Anchored on other words: the failure that matters most.
    Wrong,
}

/// Judges an anchor against the right answer. Fuzzy matches may differ from the edited
/// words by a character or two at the ends, so "correct" means overlapping at least half
/// of the longer of the two ranges.
pub fn judge(case: &Case, anchor: Option<(usize, usize)>) -> Outcome {
    match (case.expected, anchor) {
        (None, None) => Outcome::Correct,
        (None, Some(_)) => Outcome::Wrong,
        (Some(_), None) => Outcome::Orphan,
        (Some((es, ee)), Some((s, e))) => {
            let overlap = ee.min(e).saturating_sub(es.max(s));
            if 2 * overlap >= (ee - es).max(e - s) && overlap > 0 {
                Outcome::Correct
            } else {
                Outcome::Wrong
            }
        }
    }
}

/// SplitMix64: a tiny, well-mixed, seedable generator, so the corpus needs no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)`; `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The corpus's pages, sorted by name: `(name, path of source.html)`.
pub fn page_paths(testdata: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let dir = testdata.join("mozilla-readability-test-pages/test/test-pages");
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let source = entry.path().join("source.html");
        if source.is_file() {
            pages.push((entry.file_name().to_string_lossy().into_owned(), source));
        }
    }
    pages.sort();
    Ok(pages)
}

/// The text of one corpus page, by the crate's text model.
pub fn page_text(source: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(source)?;
    Ok(crate::html::document_text(&String::from_utf8_lossy(&bytes)))
}

/// Edits every page of the corpus (or the first `limit`): up to `quotes` highlights per
/// page, a fraction `edited` of them edited, kinds taken in turn from [`EditKind::EDITS`].
pub fn generate(
    testdata: &Path,
    limit: Option<usize>,
    quotes: usize,
    edited: f64,
    seed: u64,
) -> std::io::Result<Vec<Page>> {
    let mut pages = Vec::new();
    for (i, (name, path)) in page_paths(testdata)?.into_iter().take(limit.unwrap_or(usize::MAX)).enumerate() {
        let text = page_text(&path)?;
        pages.push(edit_page(&name, &text, quotes, edited, seed.wrapping_add(i as u64)));
    }
    Ok(pages)
}

/// The pages' texts joined (in name order, repeated if need be) until at least
/// `min_chars` code points: one long page for timing.
pub fn long_text(testdata: &Path, min_chars: usize) -> std::io::Result<String> {
    let texts: Vec<String> = page_paths(testdata)?.iter().map(|(_, p)| page_text(p)).collect::<Result<_, _>>()?;
    let mut out = String::new();
    let mut count = 0;
    while count < min_chars && texts.iter().any(|t| !t.is_empty()) {
        for t in &texts {
            out.push_str(t);
            out.push('\n');
            count += t.chars().count() + 1;
            if count >= min_chars {
                break;
            }
        }
    }
    Ok(out)
}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Word spans `[start, end)` of the text (maximal runs of non-space characters).
fn words(text: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if is_space(text[i]) {
            i += 1;
            continue;
        }
        let s = i;
        while i < text.len() && !is_space(text[i]) {
            i += 1;
        }
        out.push((s, i));
    }
    out
}

fn count(hay: &[char], needle: &[char]) -> usize {
    if needle.is_empty() || needle.len() > hay.len() {
        return 0;
    }
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// Makes the highlights of one page and edits it (see the module doc).
pub fn edit_page(name: &str, text: &str, quotes: usize, edited: f64, seed: u64) -> Page {
    let mut rng = Rng::new(seed ^ 0x00C0_FFEE);
    let chars: Vec<char> = text.chars().collect();
    let index = TextIndex::new(text);
    let ws = words(&chars);

    // Pick quotes: whole words, containing letters, unique on the page, in separate zones.
    let mut picked: Vec<(usize, usize)> = Vec::new();
    let mut attempts = 0;
    while picked.len() < quotes && attempts < quotes * 20 && ws.len() > 12 {
        attempts += 1;
        let first = rng.below(ws.len());
        let n = 1 + rng.below(10);
        let Some(&(_, end)) = ws.get(first + n - 1) else { continue };
        let start = ws[first].0;
        let q = &chars[start..end];
        let letters = q.iter().filter(|c| c.is_alphabetic()).count();
        if q.len() < 4 || q.len() > 200 || letters * 2 < q.len() {
            continue;
        }
        if picked.iter().any(|&(s, e)| start < e + 2 * ZONE && s < end + 2 * ZONE) {
            continue;
        }
        if count(&chars, q) != 1 {
            continue;
        }
        picked.push((start, end));
    }
    picked.sort();

    // Decide the edits: a fraction of the highlights, kinds in turn.
    let n_edit = ((picked.len() as f64) * edited).round() as usize;
    let mut order: Vec<usize> = (0..picked.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut kinds = vec![EditKind::Untouched; picked.len()];
    let offset = rng.below(EditKind::EDITS.len());
    for (j, &i) in order.iter().take(n_edit).enumerate() {
        kinds[i] = EditKind::EDITS[(j + offset) % EditKind::EDITS.len()];
    }

    let mut cases: Vec<Case> = picked
        .iter()
        .zip(&kinds)
        .map(|(&(s, e), &kind)| Case {
            kind,
            quote: chars[s..e].iter().collect(),
            selectors: describe(&index, s, e).unwrap_or_default(),
            expected: Some((s, e)),
        })
        .collect();

    // Apply the edits from the last highlight to the first, so that each edit only
    // shifts highlights after it, which are already placed and shifted here.
    let mut doc = chars.clone();
    let mut moved: Vec<(usize, Vec<char>, usize)> = Vec::new(); // (case, block, quote offset in block)
    for i in (0..cases.len()).rev() {
        let (s, e) = picked[i];
        let lo_zone = if i == 0 { 0 } else { picked[i - 1].1 + ZONE };
        let lo_zone = lo_zone.max(s.saturating_sub(ZONE));
        let hi_zone = (e + ZONE).min(doc.len());
        let quote: Vec<char> = doc[s..e].to_vec();
        type Span = (usize, usize);
        let (range, replacement, expected): (Span, Vec<char>, Option<Span>) = match kinds[i] {
            EditKind::Untouched => continue,
            EditKind::Typo => {
                let mut q = quote.clone();
                for _ in 0..1 + (q.len() >= 30) as usize {
                    let at = rng.below(q.len());
                    match rng.below(3) {
                        0 => q[at] = if q[at] == 'x' { 'q' } else { 'x' },
                        1 => q.insert(at, 'z'),
                        _ if q.len() > 4 => {
                            q.remove(at);
                        }
                        _ => q[at] = 'k',
                    }
                }
                let len = q.len();
                ((s, e), q, Some((s, s + len)))
            }
            EditKind::InsertWord => {
                let spaces: Vec<usize> = (0..quote.len()).filter(|&k| quote[k] == ' ').collect();
                let at = if spaces.is_empty() { quote.len() } else { spaces[rng.below(spaces.len())] };
                let mut q = quote.clone();
                let word: Vec<char> = [" really", " newly", " often", " indeed"][rng.below(4)].chars().collect();
                q.splice(at..at, word);
                let len = q.len();
                // A one-word quote has no inside: the word lands after it, and the
                // highlighted word itself is what should be found, unchanged.
                let expected = if spaces.is_empty() { (s, e) } else { (s, s + len) };
                ((s, e), q, Some(expected))
            }
            EditKind::DeleteWord => {
                let qw = words(&quote);
                if qw.len() < 3 {
                    // Too short to lose a word and stay itself: a typo instead.
                    let mut q = quote.clone();
                    let at = rng.below(q.len());
                    q[at] = if q[at] == 'x' { 'q' } else { 'x' };
                    let len = q.len();
                    ((s, e), q, Some((s, s + len)))
                } else {
                    let w = 1 + rng.below(qw.len() - 2);
                    let mut q = quote.clone();
                    q.drain(qw[w - 1].1..qw[w].1);
                    let len = q.len();
                    ((s, e), q, Some((s, s + len)))
                }
            }
            EditKind::Whitespace => {
                let q: Vec<char> =
                    quote.iter().flat_map(|&c| if c == ' ' { vec!['\n', ' ', ' '] } else { vec![c] }).collect();
                let q = if q == quote { [vec![' '], quote.clone(), vec![' ']].concat() } else { q };
                let len = q.len();
                let lead = (q.first() == Some(&' ')) as usize;
                ((s, e), q, Some((s + lead, s + len - lead)))
            }
            EditKind::InsertSentence => {
                let at = (lo_zone..s).rev().find(|&k| doc[k] == '.' && k + 1 < s).map_or(s, |k| k + 1);
                let sentence: Vec<char> =
                    " An editor added this sentence later, with a few more words. ".chars().collect();
                let len = sentence.len();
                ((at, at), sentence, Some((s + len, e + len)))
            }
            EditKind::DeleteSentence => {
                let from = s.saturating_sub(80).max(lo_zone);
                let cut = (from, s.saturating_sub(1).max(from));
                let len = cut.1 - cut.0;
                (cut, Vec::new(), Some((s - len, e - len)))
            }
            EditKind::MoveParagraph => {
                let a = (lo_zone..s).rev().find(|&k| doc[k] == '\n').unwrap_or(lo_zone);
                let b = (e..hi_zone).find(|&k| doc[k] == '\n').unwrap_or(hi_zone);
                let block = doc[a..b].to_vec();
                moved.push((i, block, s - a));
                ((a, b), Vec::new(), None)
            }
            EditKind::DeleteQuote => {
                let a = s.saturating_sub(20).max(lo_zone);
                let b = (e + 20).min(hi_zone);
                ((a, b), Vec::new(), None)
            }
        };
        let delta = replacement.len() as isize - (range.1 - range.0) as isize;
        doc.splice(range.0..range.1, replacement);
        for later in cases.iter_mut().skip(i + 1) {
            if let Some((ls, le)) = later.expected {
                later.expected = Some(((ls as isize + delta) as usize, (le as isize + delta) as usize));
            }
        }
        cases[i].expected = expected;
    }
    for (i, block, at) in moved {
        doc.push('\n');
        let start = doc.len() + at;
        let len = cases[i].quote.chars().count();
        doc.extend(block);
        cases[i].expected = Some((start, start + len));
    }
    // A deleted quote that still occurs elsewhere (a join of neighbours recreated it)
    // has no clear right answer: leave it out.
    let edited_text: String = doc.iter().collect();
    cases.retain(|c| !(c.kind == EditKind::DeleteQuote && edited_text.contains(&c.quote)));
    Page { name: name.to_string(), original: text.to_string(), edited: edited_text, cases }
}

/// Outcomes per edit kind: `[correct, orphan, wrong]`.
pub type Tally = std::collections::BTreeMap<EditKind, [usize; 3]>;

/// Resolves every case of every page with `resolver` (called with an index of the edited
/// text, reused across the page's cases) and tallies the outcomes.
pub fn evaluate(
    pages: &[Page],
    mut resolver: impl FnMut(&TextIndex<'_>, &[Selector]) -> Option<(usize, usize)>,
) -> Tally {
    let mut tally = Tally::new();
    for page in pages {
        let index = TextIndex::new(&page.edited);
        for case in &page.cases {
            let outcome = judge(case, resolver(&index, &case.selectors));
            tally.entry(case.kind).or_default()[outcome as usize] += 1;
        }
    }
    tally
}

/// The tally as a table, one line per kind and a total.
pub fn format_tally(tally: &Tally) -> String {
    let mut out = format!("{:<16} {:>8} {:>8} {:>8}\n", "edit", "correct", "orphan", "wrong");
    let mut total = [0; 3];
    for (kind, t) in tally {
        out += &format!("{:<16} {:>8} {:>8} {:>8}\n", kind.name(), t[0], t[1], t[2]);
        (0..3).for_each(|i| total[i] += t[i]);
    }
    out += &format!("{:<16} {:>8} {:>8} {:>8}\n", "total", total[0], total[1], total[2]);
    out
}

/// Hypothesis's anchoring, reproduced natively as the baseline: the stored position if it
/// still holds the quote, else [`crate::match_quote`] over the whole text with the hint.
pub fn hypothesis_resolve(index: &TextIndex<'_>, selectors: &[Selector]) -> Option<(usize, usize)> {
    let (exact, prefix, suffix) = selectors.iter().find_map(|s| match s {
        Selector::TextQuoteSelector { exact, prefix, suffix } => Some((exact.clone(), prefix.clone(), suffix.clone())),
        _ => None,
    })?;
    let hint = selectors.iter().find_map(|s| match s {
        Selector::TextPositionSelector { start, end } => Some((*start as usize, *end as usize)),
        _ => None,
    });
    let text = index.chars();
    let quote: Vec<char> = exact.chars().collect();
    if let Some((s, e)) = hint {
        if e <= text.len() && s < e && text[s..e] == quote[..] {
            return Some((s, e));
        }
    }
    let p: Vec<char> = prefix.unwrap_or_default().chars().collect();
    let x: Vec<char> = suffix.unwrap_or_default().chars().collect();
    crate::match_quote(text, &quote, &p, &x, hint.map(|h| h.0)).map(|(s, e, _)| (s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_ranges_hold_the_edited_quote() {
        let text = "Alpha beta gamma delta. ".repeat(3)
            + &(0..400).map(|i| format!("Sentence number {i} says word{i} and more{i}.\n")).collect::<String>();
        let page = edit_page("t", &text, 30, 1.0, 7);
        assert!(page.cases.len() >= 8, "{}", page.cases.len());
        let edited: Vec<char> = page.edited.chars().collect();
        for c in &page.cases {
            match (c.kind, c.expected) {
                (EditKind::DeleteQuote, e) => assert_eq!(e, None),
                (
                    EditKind::Untouched | EditKind::InsertSentence | EditKind::DeleteSentence | EditKind::MoveParagraph,
                    Some((s, e)),
                ) => {
                    assert_eq!(edited[s..e].iter().collect::<String>(), c.quote, "{:?}", c.kind)
                }
                (_, Some((s, e))) => assert!(e > s && e <= edited.len()),
                (k, None) => panic!("{k:?} without an expected range"),
            }
        }
        // Deterministic: the same seed gives the same corpus.
        assert_eq!(edit_page("t", &text, 30, 1.0, 7).edited, page.edited);
    }
}
