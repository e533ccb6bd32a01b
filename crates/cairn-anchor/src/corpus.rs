//! The edit corpus (feature `corpus`): highlights on real pages, then the pages edited
//! the ways pages get edited, with the right answer for every highlight known.
//!
//! Used by `tests/edit_corpus.rs` (a few pages), by `examples/anchor_bench.rs` and by
//! the `cargo xtask bench anchor` comparison (all pages). Generation is deterministic:
//! the same corpus folder and seed always give the same cases, so runs compare.
//!
//! Two sets of pages (see [`Set`]): Mozilla's Readability test pages
//! (`mozilla-readability-test-pages/test/test-pages/*/source.html`) and the WCXB
//! development pages (`wcxb-dev/html/*.html.gz`: articles, documentation, forums,
//! listings, services, collections, products). Each page becomes its text (the crate's
//! text model, [`crate::html::document_text`]). Quotes of 1–10 whole words that occur
//! once on the page are described with [`crate::describe`], at least [`ZONE`]
//! characters apart so that each edit touches one highlight only; then a fraction of
//! them is edited (see [`EditKind`]), and the rest stay as they were.
//!
//! The right answer of an edited highlight is the whole edited passage, from its first
//! word to its last ([`judge`] wants exactly that range): a highlight that gained a word
//! must cover it, one that lost a word must not reach into its neighbours.

use std::io::Read;
use std::path::{Path, PathBuf};

use cairn_model::Selector;
use memchr::memmem;

use crate::index::collapse_whitespace;
use crate::{describe, TextIndex};

/// Characters around a quote that only that quote's edit may touch.
pub const ZONE: usize = 200;

/// How a highlight's neighbourhood was edited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EditKind {
    Untouched,
    /// One or two characters of the quote substituted, inserted or deleted.
    Typo,
    /// One word, or two, inserted inside the quote (after it, for a one-word quote).
    InsertWord,
    /// A word deleted from the quote (two adjacent words from quotes of six or more);
    /// a quote of one or two words loses the word after it instead.
    DeleteWord,
    /// A word of the quote replaced by a synonym (or, when the quote has none of the
    /// table's words, by another word); a one-word quote's next word is replaced instead.
    ReplaceWord,
    /// A punctuation mark inside the quote changed or removed, or a comma added between
    /// two of its words (after a one-word quote).
    Punctuation,
    /// A sentence split in two inside the quote: `, and more` becomes `. And more`
    /// (just after a one-word quote).
    SplitSentence,
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
    pub const EDITS: [EditKind; 11] = [
        EditKind::Typo,
        EditKind::InsertWord,
        EditKind::DeleteWord,
        EditKind::ReplaceWord,
        EditKind::Punctuation,
        EditKind::SplitSentence,
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
            EditKind::ReplaceWord => "replace-word",
            EditKind::Punctuation => "punctuation",
            EditKind::SplitSentence => "split-sentence",
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
    /// Anchored on exactly the highlight's words (or, for a deleted quote, orphaned).
    Correct,
    /// Anchored mostly on the highlight's words, but not on all of them or on more:
    /// a piece of an edited passage, or an end cut inside a word.
    Partial,
    /// Not anchored although the words are still there.
    Orphan,
    /// Anchored on other words: the failure that matters most.
    Wrong,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Correct, Outcome::Partial, Outcome::Orphan, Outcome::Wrong];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Correct => "correct",
            Outcome::Partial => "partial",
            Outcome::Orphan => "orphan",
            Outcome::Wrong => "wrong",
        }
    }
}

/// Judges an anchor against the right answer: correct only on exactly the expected
/// range; partial when at least half of the anchor lies on the expected words (it is
/// on the highlight, with an end off); wrong when it lies mostly elsewhere.
pub fn judge(case: &Case, anchor: Option<(usize, usize)>) -> Outcome {
    match (case.expected, anchor) {
        (None, None) => Outcome::Correct,
        (None, Some(_)) => Outcome::Wrong,
        (Some(_), None) => Outcome::Orphan,
        (Some(expected), Some(got)) if expected == got => Outcome::Correct,
        (Some((es, ee)), Some((s, e))) => {
            let overlap = ee.min(e).saturating_sub(es.max(s));
            if overlap > 0 && 2 * overlap >= e - s {
                Outcome::Partial
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

/// The two sets of pages the corpus is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Set {
    /// Mozilla's Readability test pages: articles and blog posts.
    Readability,
    /// The WCXB benchmark's development pages: every kind of page, discussions and
    /// listings included, fetched from the web with their navigation and boilerplate.
    Wcxb,
}

impl Set {
    pub const ALL: [Set; 2] = [Set::Readability, Set::Wcxb];

    pub fn name(self) -> &'static str {
        match self {
            Set::Readability => "readability",
            Set::Wcxb => "wcxb-dev",
        }
    }

    /// The set a page belongs to, from its name (`set/page`).
    pub fn of(page_name: &str) -> Option<Set> {
        let set = page_name.split('/').next()?;
        Set::ALL.into_iter().find(|s| s.name() == set)
    }
}

/// The pages of one set, sorted by name: `(name, path)`, the name prefixed with the
/// set's (`readability/001`, `wcxb-dev/0186`).
pub fn page_paths(testdata: &Path, set: Set) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut pages = Vec::new();
    match set {
        Set::Readability => {
            for entry in std::fs::read_dir(testdata.join("mozilla-readability-test-pages/test/test-pages"))? {
                let entry = entry?;
                let source = entry.path().join("source.html");
                if source.is_file() {
                    pages.push((format!("{}/{}", set.name(), entry.file_name().to_string_lossy()), source));
                }
            }
        }
        Set::Wcxb => {
            for entry in std::fs::read_dir(testdata.join("wcxb-dev/html"))? {
                let path = entry?.path();
                let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                if let Some(id) = name.strip_suffix(".html.gz") {
                    pages.push((format!("{}/{id}", set.name()), path));
                }
            }
        }
    }
    pages.sort();
    Ok(pages)
}

/// The text of one corpus page (gzipped or not), by the crate's text model.
pub fn page_text(source: &Path) -> std::io::Result<String> {
    let mut bytes = std::fs::read(source)?;
    if source.extension().is_some_and(|e| e == "gz") {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut raw)?;
        bytes = raw;
    }
    Ok(crate::html::document_text(&String::from_utf8_lossy(&bytes)))
}

/// Edits every page of both sets (or the first `limit` of each): up to `quotes`
/// highlights per page, a fraction `edited` of them edited, kinds taken in turn from
/// [`EditKind::EDITS`].
pub fn generate(
    testdata: &Path,
    limit: Option<usize>,
    quotes: usize,
    edited: f64,
    seed: u64,
) -> std::io::Result<Vec<Page>> {
    let mut pages = Vec::new();
    for set in Set::ALL {
        let paths = page_paths(testdata, set)?;
        for (i, (name, path)) in paths.into_iter().take(limit.unwrap_or(usize::MAX)).enumerate() {
            let text = page_text(&path)?;
            pages.push(edit_page(&name, &text, quotes, edited, seed.wrapping_add(i as u64)));
        }
    }
    Ok(pages)
}

/// The Readability pages' texts joined (in name order, repeated if need be) until at least
/// `min_chars` code points: one long page for timing.
pub fn long_text(testdata: &Path, min_chars: usize) -> std::io::Result<String> {
    let texts: Vec<String> =
        page_paths(testdata, Set::Readability)?.iter().map(|(_, p)| page_text(p)).collect::<Result<_, _>>()?;
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

/// Whether `needle` occurs exactly once in `hay`, overlapping occurrences included.
fn occurs_once(hay: &str, needle: &str) -> bool {
    let finder = memmem::Finder::new(needle.as_bytes());
    let Some(first) = finder.find(hay.as_bytes()) else { return false };
    finder.find(&hay.as_bytes()[first + 1..]).is_none()
}

/// Synonyms, both ways, for [`EditKind::ReplaceWord`]: words common in prose and docs.
const SYNONYMS: &[(&str, &str)] = &[
    ("big", "large"),
    ("small", "little"),
    ("use", "employ"),
    ("used", "employed"),
    ("using", "employing"),
    ("help", "assist"),
    ("show", "display"),
    ("shows", "displays"),
    ("get", "obtain"),
    ("make", "create"),
    ("makes", "creates"),
    ("need", "require"),
    ("needs", "requires"),
    ("start", "begin"),
    ("end", "finish"),
    ("fast", "quick"),
    ("many", "numerous"),
    ("often", "frequently"),
    ("about", "regarding"),
    ("buy", "purchase"),
    ("important", "significant"),
    ("also", "additionally"),
    ("but", "however"),
    ("very", "extremely"),
    ("new", "novel"),
    ("old", "former"),
    ("said", "stated"),
    ("says", "states"),
    ("like", "such as"),
    ("more", "further"),
    ("first", "initial"),
    ("last", "final"),
    ("people", "individuals"),
    ("year", "twelvemonth"),
    ("time", "moment"),
    ("way", "manner"),
    ("good", "fine"),
    ("great", "excellent"),
    ("find", "locate"),
    ("see", "view"),
    ("can", "may"),
    ("will", "shall"),
    ("and", "plus"),
    ("the", "this"),
    ("with", "alongside"),
    ("from", "out of"),
];

/// A synonym for `word` keeping its capitalisation, if the table has one.
fn synonym(word: &str) -> Option<String> {
    let lower = word.to_lowercase();
    let other = SYNONYMS.iter().find_map(|&(a, b)| {
        if a == lower {
            Some(b)
        } else if b == lower {
            Some(a)
        } else {
            None
        }
    })?;
    let mut out = String::new();
    let mut chars = other.chars();
    if word.chars().next().is_some_and(char::is_uppercase) {
        out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
    }
    out.extend(chars);
    Some(out)
}

/// The word of `doc` starting at or after `from` (skipping spaces): its span.
fn next_word(doc: &[char], from: usize) -> Option<(usize, usize)> {
    let s = (from..doc.len()).find(|&k| !is_space(doc[k]))?;
    let e = (s..doc.len()).find(|&k| is_space(doc[k])).unwrap_or(doc.len());
    Some((s, e))
}

/// Makes the highlights of one page and edits it (see the module doc).
pub fn edit_page(name: &str, text: &str, quotes: usize, edited: f64, seed: u64) -> Page {
    let mut rng = Rng::new(seed ^ 0x00C0_FFEE);
    let chars: Vec<char> = text.chars().collect();
    let index = TextIndex::new(text);
    let ws = words(&chars);
    let collapsed = collapse_whitespace(text);

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
        // Unique with its whitespace collapsed too: the resolver treats re-wrapped text as
        // the same words, so a second copy that differs only in whitespace (a menu
        // repeated for small screens) is the same quote, and its place ambiguous.
        if !occurs_once(&collapsed, &collapse_whitespace(&q.iter().collect::<String>())) {
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
                const FILLERS: [&str; 6] = [" really", " newly", " often", " indeed", " still", " clearly"];
                let mut word: Vec<char> = FILLERS[rng.below(FILLERS.len())].chars().collect();
                if rng.below(3) == 0 {
                    word.extend(FILLERS[rng.below(FILLERS.len())].chars());
                }
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
                    // Too short to lose a word and stay itself: the word after it goes.
                    match next_word(&doc, e).filter(|&(_, we)| we < hi_zone) {
                        Some((_, we)) => ((e, we), Vec::new(), Some((s, e))),
                        None => continue,
                    }
                } else {
                    // One inner word, or two adjacent ones from a quote of six words or more.
                    let n = if qw.len() >= 6 && rng.below(3) == 0 { 2 } else { 1 };
                    let w = 1 + rng.below(qw.len() - 1 - n);
                    let mut q = quote.clone();
                    q.drain(qw[w - 1].1..qw[w + n - 1].1);
                    let len = q.len();
                    ((s, e), q, Some((s, s + len)))
                }
            }
            EditKind::ReplaceWord => {
                let qw = words(&quote);
                if qw.len() < 2 {
                    // Replacing a one-word quote would leave nothing of it: the word after it changes.
                    let Some((ws_, we)) = next_word(&doc, e).filter(|&(_, we)| we < hi_zone) else { continue };
                    let word: String = doc[ws_..we].iter().collect();
                    let other = synonym(&word).unwrap_or_else(|| "another".to_string());
                    ((ws_, we), other.chars().collect(), Some((s, e)))
                } else {
                    // Prefer a word the table knows; else any word, replaced by a table word.
                    let bare = |k: usize| -> String {
                        quote[qw[k].0..qw[k].1].iter().filter(|c| c.is_alphanumeric()).collect::<String>()
                    };
                    let known: Vec<usize> = (0..qw.len()).filter(|&k| synonym(&bare(k)).is_some()).collect();
                    let k = if known.is_empty() { rng.below(qw.len()) } else { known[rng.below(known.len())] };
                    let word = bare(k);
                    let other = synonym(&word).unwrap_or_else(|| SYNONYMS[rng.below(SYNONYMS.len())].1.to_string());
                    // Only the word's letters change; punctuation around it stays.
                    let (a, b) = qw[k];
                    let lead = quote[a..b].iter().take_while(|c| !c.is_alphanumeric()).count();
                    let trail = quote[a..b].iter().rev().take_while(|c| !c.is_alphanumeric()).count();
                    let (a, b) = (a + lead, (b - trail).max(a + lead));
                    let mut q = quote.clone();
                    q.splice(a..b, other.chars());
                    let len = q.len();
                    ((s, e), q, Some((s, s + len)))
                }
            }
            EditKind::Punctuation => {
                const MARKS: [char; 6] = [',', '.', ';', ':', '!', '?'];
                let marks: Vec<usize> = (0..quote.len()).filter(|&k| MARKS.contains(&quote[k])).collect();
                let spaces: Vec<usize> = (1..quote.len()).filter(|&k| quote[k] == ' ' && quote[k - 1] != ' ').collect();
                let mut q = quote.clone();
                // The expected range is the edited quote, except that a comma added after a
                // one-word quote is not part of it.
                let mut outside = 0;
                if !marks.is_empty() {
                    let at = marks[rng.below(marks.len())];
                    match rng.below(3) {
                        0 if quote.len() > 1 => {
                            q.remove(at);
                        }
                        _ => q[at] = if q[at] == ',' { ';' } else { ',' },
                    }
                } else if !spaces.is_empty() {
                    q.insert(spaces[rng.below(spaces.len())], ',');
                } else {
                    q.push(',');
                    outside = 1;
                }
                let len = q.len();
                ((s, e), q, Some((s, s + len - outside)))
            }
            EditKind::SplitSentence => {
                let qw = words(&quote);
                // After a comma when the quote has one between words, else between two words.
                let inner: Vec<usize> = (1..qw.len()).map(|k| qw[k - 1].1).collect();
                let after_comma: Vec<usize> = inner.iter().copied().filter(|&k| quote[k - 1] == ',').collect();
                let pick = if !after_comma.is_empty() {
                    Some(after_comma[rng.below(after_comma.len())])
                } else if !inner.is_empty() {
                    Some(inner[rng.below(inner.len())])
                } else {
                    None
                };
                match pick {
                    Some(at) => {
                        let mut q = quote.clone();
                        let from = if q[at - 1] == ',' { at - 1 } else { at };
                        q.splice(from..at, ['.']);
                        // The next word starts a sentence now.
                        if let Some(k) = (from + 1..q.len()).find(|&k| !is_space(q[k])) {
                            q[k] = q[k].to_uppercase().next().unwrap_or(q[k]);
                        }
                        let len = q.len();
                        ((s, e), q, Some((s, s + len)))
                    }
                    None => {
                        // One word: the sentence ends right after it instead.
                        let Some((ws_, we)) = next_word(&doc, e).filter(|&(_, we)| we < hi_zone) else { continue };
                        let mut tail: Vec<char> = vec!['.', ' '];
                        let mut w = doc[ws_..we].to_vec();
                        w[0] = w[0].to_uppercase().next().unwrap_or(w[0]);
                        tail.extend(w);
                        ((e, we), tail, Some((s, e)))
                    }
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
    // A deleted quote that still occurs elsewhere, whitespace aside (a join of neighbours
    // recreated it), has no clear right answer: leave it out.
    let edited_text: String = doc.iter().collect();
    let edited_collapsed = collapse_whitespace(&edited_text);
    cases.retain(|c| !(c.kind == EditKind::DeleteQuote && edited_collapsed.contains(&collapse_whitespace(&c.quote))));
    Page { name: name.to_string(), original: text.to_string(), edited: edited_text, cases }
}

/// Outcomes per set and edit kind, counted in [`Outcome`] order:
/// `[correct, partial, orphan, wrong]`.
pub type Tally = std::collections::BTreeMap<(Set, EditKind), [usize; 4]>;

/// Resolves every case of every page with `resolver` (called with an index of the edited
/// text, reused across the page's cases) and tallies the outcomes.
pub fn evaluate(
    pages: &[Page],
    mut resolver: impl FnMut(&TextIndex<'_>, &[Selector]) -> Option<(usize, usize)>,
) -> Tally {
    let mut tally = Tally::new();
    for page in pages {
        let index = TextIndex::new(&page.edited);
        // A page named outside the two sets (the long timing page) is made of Readability pages.
        let set = Set::of(&page.name).unwrap_or(Set::Readability);
        for case in &page.cases {
            let outcome = judge(case, resolver(&index, &case.selectors));
            tally.entry((set, case.kind)).or_default()[outcome as usize] += 1;
        }
    }
    tally
}

/// Sums of the tally's rows that `keep` selects.
pub fn sum(tally: &Tally, keep: impl Fn(Set, EditKind) -> bool) -> [usize; 4] {
    tally
        .iter()
        .filter(|((set, kind), _)| keep(*set, *kind))
        .fold([0; 4], |acc, (_, t)| std::array::from_fn(|i| acc[i] + t[i]))
}

/// Several resolvers' tallies side by side: one line per edit kind (both sets), then a
/// total per set and overall. Each side shows correct / partial / orphan / wrong and the
/// share correct.
pub fn format_tallies(sides: &[(&str, &Tally)]) -> String {
    let mut kinds: Vec<EditKind> = sides.iter().flat_map(|(_, t)| t.keys().map(|k| k.1)).collect();
    kinds.sort();
    kinds.dedup();
    let cell = |t: [usize; 4]| {
        let n = t.iter().sum::<usize>().max(1);
        format!("{:>5} {:>4} {:>4} {:>4} {:>6.1}%", t[0], t[1], t[2], t[3], 100.0 * t[0] as f64 / n as f64)
    };
    let mut out = format!("{:<16} {:>6}", "edit", "cases");
    for (name, _) in sides {
        out += &format!("   {:<29}", format!("{name}: ok part orph wrong"));
    }
    out.push('\n');
    let mut line = |label: &str, keep: &dyn Fn(Set, EditKind) -> bool| {
        let n: usize = sides.first().map_or(0, |(_, t)| sum(t, keep).iter().sum());
        let mut l = format!("{label:<16} {n:>6}");
        for (_, t) in sides {
            l += &format!("   {:<29}", cell(sum(t, keep)));
        }
        out += l.trim_end();
        out.push('\n');
    };
    for kind in kinds {
        line(kind.name(), &|_, k| k == kind);
    }
    for set in Set::ALL {
        line(&format!("total {}", set.name()), &|s, _| s == set);
    }
    line("total", &|_, _| true);
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
