//! Describing a selection as selectors, and resolving selectors back to text.
//!
//! Resolution tries, in order, what is cheapest and most certain first:
//!
//! 1. **position**: the stored TextPositionSelector still holds the quote, and the
//!    context around it still agrees;
//! 2. **exact quote**: `memmem` near the position hint, then in the whole text; repeats are
//!    told apart by context (prefix/suffix similarity) and closeness to the hint;
//! 3. **fuzzy quote**: Myers' bit-parallel search ([`crate::approx`]) in a window around
//!    the hint, then in the whole text, each candidate scored as Hypothesis does
//!    (quote 50, prefix 20, suffix 20, position 2).
//!
//! Unlike Hypothesis, a candidate is only taken when it passes a **confidence gate**
//! ([`accept_fuzzy`]): a quote whose words are gone must become an orphan, not land on
//! other words that happen to share letters (h#2634: "Linus" matched "chines").
//! The gate asks for most of the quote's characters *and* for supporting context;
//! both thresholds were tuned on the edit corpus (`tests/edit_corpus.rs`). Context is
//! weighed by its non-whitespace characters only (a side of indentation agrees with
//! every block boundary), and no side with words in it may contradict the place.

use cairn_model::Selector;
use memchr::memmem;

use crate::approx;
use crate::index::collapse_whitespace;
use crate::TextIndex;

/// Characters of context kept before and after a quote, whitespace aside (Hypothesis
/// keeps 32 characters): enough to tell repeated phrases apart, short enough to survive
/// nearby edits.
pub const CONTEXT_CHARS: usize = 32;

/// The most characters of context [`describe`] keeps on one side, whitespace included.
pub const MAX_STORED_CONTEXT: usize = 1024;

/// A resolved annotation: `[start, end)` in code points of the text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anchor {
    pub start: usize,
    pub end: usize,
    pub method: Method,
    /// Confidence in `[0, 1]`: Hypothesis's weighted score (quote 50, prefix 20,
    /// suffix 20, position 2, normalised). 1.0 means quote and context agree exactly.
    pub score: f32,
}

/// How an anchor was found, from most to least certain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The stored position still holds the quoted text.
    Position,
    /// Only a TextPositionSelector was given (no quote to check it against):
    /// the range is used as stored, as other W3C clients expect.
    PositionOnly,
    /// The quote occurs exactly once.
    UniqueQuote,
    /// The quote occurs several times (or was only searched near the hint);
    /// context and position picked one.
    QuoteInContext,
    /// The quote's words are all there, with different whitespace between them.
    Whitespace,
    /// The stored prefix and suffix are still there, side by side near the stored
    /// position, with the quote's words between them give or take a word or two:
    /// the edited passage between them is the anchor.
    Context,
    /// The quote was edited: an approximate match, scored on quote, context and position.
    Fuzzy,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Position => "position",
            Method::PositionOnly => "position-only",
            Method::UniqueQuote => "unique-quote",
            Method::QuoteInContext => "quote-in-context",
            Method::Whitespace => "whitespace",
            Method::Context => "context",
            Method::Fuzzy => "fuzzy",
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
    // Context with words in it: pages' text is full of indentation, and 32 characters of
    // it agree with every block boundary. So each side reaches further, until it holds
    // CONTEXT_CHARS characters that are not whitespace (or MAX_STORED_CONTEXT in all).
    let reach = |chars: &mut dyn Iterator<Item = char>| {
        let (mut all, mut solid) = (0, 0);
        for c in chars {
            if all >= CONTEXT_CHARS && solid >= CONTEXT_CHARS || all >= MAX_STORED_CONTEXT {
                break;
            }
            all += 1;
            solid += !c.is_whitespace() as usize;
        }
        all
    };
    let pb = index.char_to_byte(start - reach(&mut text[..sb].chars().rev()));
    let xb = index.char_to_byte(end + reach(&mut text[eb..].chars()));
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
///
/// Selectors other than TextQuote and TextPosition (Range, XPath, CSS) are ignored
/// here: they need a DOM, and the quote is what decides.
pub fn resolve(index: &TextIndex<'_>, selectors: &[Selector]) -> Option<Anchor> {
    let quote = selectors.iter().find_map(|s| match s {
        Selector::TextQuoteSelector { exact, prefix, suffix } => {
            Some((exact.as_str(), prefix.as_deref().unwrap_or(""), suffix.as_deref().unwrap_or("")))
        }
        _ => None,
    });
    let hint = selectors.iter().find_map(|s| match s {
        Selector::TextPositionSelector { start, end } => Some((*start as usize, *end as usize)),
        _ => None,
    });
    match quote {
        Some((exact, prefix, suffix)) => resolve_quote(index, exact, prefix, suffix, hint.map(|h| h.0)),
        None => {
            let (start, end) = hint?;
            // An empty range stays empty (the W3C model allows it); nothing is painted for it.
            (start <= end && end <= index.char_len()).then_some(Anchor {
                start,
                end,
                method: Method::PositionOnly,
                score: 0.5,
            })
        }
    }
}

/// The strict reading of a TextQuoteSelector: every `[start, end)` (code points) where
/// `prefix`, `exact` and `suffix` occur together verbatim, overlaps included; an empty
/// `exact` matches between characters. [`resolve`] is the forgiving reading that the
/// extension uses; this one answers "is this selector still unambiguous?".
pub fn occurrences(index: &TextIndex<'_>, exact: &str, prefix: &str, suffix: &str) -> Vec<(usize, usize)> {
    let text = index.text();
    let whole = format!("{prefix}{exact}{suffix}");
    let m = exact.chars().count();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(b) = text.get(from..).and_then(|t| t.find(&whole)) {
        let at = from + b;
        let start = index.byte_to_char(at + prefix.len());
        out.push((start, start + m));
        // Step one character, not one match: occurrences may overlap ("ana" in "bananas").
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
        if at >= text.len() {
            break;
        }
    }
    out
}

/// What a quote selector says, decoded once.
struct Quote {
    exact: Vec<char>,
    prefix: Vec<char>,
    suffix: Vec<char>,
}

/// A scored place for the quote.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    start: usize,
    end: usize,
    errors: usize,
    /// (similarity, characters compared) for the prefix and the suffix.
    prefix: (f32, usize),
    suffix: (f32, usize),
    /// Non-whitespace characters among the stored context compared on each side: a
    /// context of indentation agrees with every indented place and says nothing.
    prefix_info: usize,
    suffix_info: usize,
    score: f32,
}

impl Candidate {
    /// Agreement of the stored context with the text around the candidate, weighted by
    /// the characters compared; `None` when there was nothing to compare.
    fn context(&self) -> Option<f32> {
        let (p, s) = (self.prefix.1 as f32, self.suffix.1 as f32);
        if p + s == 0.0 {
            return None;
        }
        Some((self.prefix.0 * p + self.suffix.0 * s) / (p + s))
    }
}

/// Context further from the quote than this is ignored: a selector from another tool
/// may store long context, and only the part next to the quote tells places apart.
const MAX_CONTEXT: usize = 64;

/// How far around the position hint to look first, beyond the quote's own length.
const NEAR_WINDOW: usize = 4096;

/// Candidates scored per fuzzy pass; the rest (more errors, further from the hint) are dropped,
/// which bounds the work on pathological pages (a short quote on a huge repetitive text).
const MAX_CANDIDATES: usize = 256;

fn resolve_quote(
    index: &TextIndex<'_>,
    exact: &str,
    prefix: &str,
    suffix: &str,
    hint: Option<usize>,
) -> Option<Anchor> {
    if exact.is_empty() || index.char_len() == 0 {
        return None;
    }
    let q = Quote {
        exact: exact.chars().collect(),
        prefix: tail(collapse_whitespace(prefix).chars().collect(), MAX_CONTEXT),
        suffix: collapse_whitespace(suffix).chars().take(MAX_CONTEXT).collect(),
    };
    let m = q.exact.len();
    let n = index.char_len();
    // A stored position past the end: text was removed above the quote, and the end of
    // the text is the nearest the quote can be.
    let hint = hint.map(|h| h.min(n - 1));

    // 1. Position: the common case (an unchanged page) costs one slice comparison.
    if let Some(h) = hint {
        if h + m <= n {
            let (sb, eb) = (index.char_to_byte(h), index.char_to_byte(h + m));
            if &index.text()[sb..eb] == exact {
                let c = score(index, &q, h, h + m, 0, Some(h));
                if accept_exact(&q, &c) {
                    return Some(anchor(c, Method::Position));
                }
            }
        }
    }

    // 2. Exact quote: near the hint first, where an edited page usually still has it.
    let finder = memmem::Finder::new(exact.as_bytes());
    let exact_in = |lo: usize, hi: usize| -> Vec<Candidate> {
        let (lb, hb) = (index.char_to_byte(lo), index.char_to_byte(hi));
        finder
            .find_iter(&index.text().as_bytes()[lb..hb])
            .map(|b| index.byte_to_char(lb + b))
            .map(|s| score(index, &q, s, s + m, 0, hint))
            .collect()
    };
    if let Some(h) = hint {
        let (lo, hi) = (h.saturating_sub(NEAR_WINDOW), (h + m + NEAR_WINDOW).min(n));
        if lo > 0 || hi < n {
            if let Some(best) = best_of(exact_in(lo, hi)).filter(strongly_placed) {
                return Some(anchor(best, Method::QuoteInContext));
            }
        }
    }
    let all = exact_in(0, n);
    let unique = all.len() == 1;
    // A quote whose whole block (a heading, a list item, a short paragraph) is still the
    // same, once on the page: the block moved, and its new neighbours say nothing.
    let whole_block = |c: &Candidate| unique && same_block(index, exact, prefix, suffix, c);
    if let Some(best) = best_of(all).filter(|c| accept_exact(&q, c) || whole_block(c)) {
        return Some(anchor(best, if unique { Method::UniqueQuote } else { Method::QuoteInContext }));
    }

    // 3. The quote with its whitespace collapsed, in the collapsed text: re-wrapped or
    // re-indented text (a markup change) costs two errors per space to fuzzy matching.
    let collapsed_quote = collapse_whitespace(exact);
    if collapsed_quote != exact || index.text().contains(char::is_whitespace) {
        let (ctext, map) = index.collapsed();
        let found: Vec<Candidate> = memmem::find_iter(ctext.as_bytes(), collapsed_quote.as_bytes())
            .take(MAX_CANDIDATES)
            .map(|b| score(index, &q, map[b] as usize, map[b + collapsed_quote.len()] as usize, 0, hint))
            .collect();
        if let Some(best) = best_of(found).filter(|c| accept_exact(&q, c)) {
            return Some(anchor(best, Method::Whitespace));
        }
    }

    // Its old neighbours side by side near the stored position, with most of the quote's
    // length gone from between them: the quote was deleted here, and a similar passage
    // elsewhere (a repeated menu, a sibling entry) is not this highlight.
    if deleted_here(index, &q, hint) {
        return None;
    }

    // 4. Between its old neighbours: the stored context still there on both sides, with
    // the quote's words between them, give or take a word or two.
    match between_context(index, &q, block_edges(prefix, suffix), hint) {
        Between::Found(c) => return Some(anchor(c, Method::Context)),
        Between::Undecided => return None,
        Between::NotFound => {}
    }

    // 5. Fuzzy quote. Errors beyond a quarter of the quote are never accepted, so the
    // search need not look for them (Hypothesis searches up to half, then scores all).
    let k = m / 4;
    if k == 0 {
        return None;
    }
    if let Some(h) = hint {
        let (lo, hi) = (h.saturating_sub(NEAR_WINDOW + m), (h + 2 * m + NEAR_WINDOW).min(n));
        let near = best_of(fuzzy_candidates(index, &q, lo, hi, k, hint)).map(|c| snap(index, &q, c));
        if let Some(c) = near.filter(|c| accept_fuzzy(&q, c, true) && same_numbers(index, &q, c)) {
            return Some(anchor(c, Method::Fuzzy));
        }
        if lo == 0 && hi == n {
            return None;
        }
    }
    let found = if m < 3 * 8 {
        fuzzy_candidates(index, &q, 0, n, k, hint)
    } else {
        // A longer quote: only regions holding one of its pieces (8 characters, 16 beyond
        // one machine word) verbatim are searched. A quote edited so much that none of its
        // pieces survives anywhere is an orphan; far from its old place it could not pass
        // the gate anyway (three quarters of it intact, context agreeing). A full scan of a
        // long page per quote is what made Hypothesis freeze.
        let piece = if m > 64 { 16 } else { 8 };
        let mut regions: Vec<(usize, usize)> = Vec::new();
        for (i, chunk) in q.exact.chunks(piece).enumerate() {
            if chunk.len() < piece {
                break;
            }
            let s: String = chunk.iter().collect();
            for b in memmem::find_iter(index.text().as_bytes(), s.as_bytes()).take(MAX_CANDIDATES) {
                let at = index.byte_to_char(b);
                let lo = at.saturating_sub(i * piece + k);
                regions.push((lo, (lo + m + 2 * k).min(n)));
            }
        }
        regions.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (lo, hi) in regions {
            match merged.last_mut() {
                Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        merged.into_iter().flat_map(|(lo, hi)| fuzzy_candidates(index, &q, lo, hi, k, hint)).collect()
    };
    best_of(found)
        .map(|c| snap(index, &q, c))
        .filter(|c| accept_fuzzy(&q, c, false) && same_numbers(index, &q, c))
        .map(|c| anchor(c, Method::Fuzzy))
}

fn tail(mut v: Vec<char>, n: usize) -> Vec<char> {
    if v.len() > n {
        v.drain(..v.len() - n);
    }
    v
}

fn anchor(c: Candidate, method: Method) -> Anchor {
    Anchor { start: c.start, end: c.end, method, score: c.score }
}

/// The highest score; on a tie the earliest in the text (as Hypothesis does).
fn best_of(cands: Vec<Candidate>) -> Option<Candidate> {
    cands.into_iter().fold(None, |best: Option<Candidate>, c| match best {
        Some(b) if b.score >= c.score => Some(b),
        _ => Some(c),
    })
}

/// An exact occurrence is trusted when its context agrees, or when the quote is long
/// enough to be distinctive by itself, or when there is no context to compare.
/// A short quote found elsewhere with unrelated context is the deleted-quote case:
/// "Linus" removed here and still mentioned in another paragraph is not this highlight.
fn accept_exact(q: &Quote, c: &Candidate) -> bool {
    let one_side_agrees = (c.prefix.1 >= 8 && c.prefix.0 >= 0.8) || (c.suffix.1 >= 8 && c.suffix.0 >= 0.8);
    match c.context() {
        None => true,
        Some(ctx) => ctx >= 0.5 || one_side_agrees || q.exact.len() >= 32,
    }
}

/// Whether a break between blocks (whitespace with a line break in it, or the text's edge)
/// was stored before the quote, and after it.
fn block_edges(prefix: &str, suffix: &str) -> (bool, bool) {
    let breaks = |ws: &mut dyn Iterator<Item = char>, empty: bool| {
        empty || ws.take_while(|c| c.is_whitespace()).any(|c| c == '\n')
    };
    (breaks(&mut prefix.chars().rev(), prefix.is_empty()), breaks(&mut suffix.chars(), suffix.is_empty()))
}

/// Whether the block holding the candidate (from the block break before it to the one
/// after it) is the block the quote was stored in: the stored context, up to its nearest
/// block break on each side, is the text around the candidate up to a block break there
/// too. Both breaks must have been stored (or the text's edges), and the block must have
/// words in it.
fn same_block(index: &TextIndex<'_>, exact: &str, prefix: &str, suffix: &str, c: &Candidate) -> bool {
    // The stored side up to its nearest break: `None` when no break was stored.
    fn in_block(side: &str, before: bool) -> Option<&str> {
        if side.is_empty() {
            return Some("");
        }
        let chars: Vec<(usize, char)> = side.char_indices().collect();
        let order: Box<dyn Iterator<Item = &(usize, char)>> =
            if before { Box::new(chars.iter().rev()) } else { Box::new(chars.iter()) };
        let (mut run_has_break, mut run_edge) = (false, None);
        for &(i, ch) in order {
            if ch.is_whitespace() {
                run_edge.get_or_insert(if before { i + ch.len_utf8() } else { i });
                run_has_break |= ch == '\n';
            } else if run_has_break {
                break;
            } else {
                run_edge = None;
            }
        }
        match (run_has_break, run_edge) {
            (true, Some(e)) if before => Some(&side[e..]),
            (true, Some(e)) => Some(&side[..e]),
            _ => None,
        }
    }
    let (Some(p), Some(x)) = (in_block(prefix, true), in_block(suffix, false)) else { return false };
    let words = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).count();
    if words(p) + words(exact) + words(x) < 4 {
        return false;
    }
    let text = index.text();
    let (sb, eb) = (index.char_to_byte(c.start), index.char_to_byte(c.end));
    let (before, after) = (&text[..sb], &text[eb..]);
    let breaks = |ws: &mut dyn Iterator<Item = char>, edge: bool| {
        edge || ws.take_while(|c| c.is_whitespace()).any(|c| c == '\n')
    };
    before.ends_with(p)
        && after.starts_with(x)
        && breaks(&mut before[..before.len() - p.len()].chars().rev(), before.len() == p.len())
        && breaks(&mut after[x.len()..].chars(), after.len() == x.len())
}

/// Near the hint, an exact occurrence is taken without looking further only when the
/// context clearly agrees; otherwise the whole text may hold a better-placed repeat.
fn strongly_placed(c: &Candidate) -> bool {
    c.context().is_none_or(|ctx| ctx >= 0.8)
}

/// The confidence gate for approximate matches (see the module doc). `near`: the
/// candidate is within the window around the stored position.
fn accept_fuzzy(q: &Quote, c: &Candidate, near: bool) -> bool {
    let m = q.exact.len();
    let quote_sim = 1.0 - c.errors as f32 / m as f32;
    let stored_context = c.prefix.1 + c.suffix.1 > 0;
    // Only sides with some words in them count: a side of whitespace (the quote began or
    // ended a block) agrees with every block boundary on the page.
    let (pi, si) = (c.prefix_info, c.suffix_info);
    let (p_says, s_says) = (pi >= INFORMATIVE, si >= INFORMATIVE);
    let info = if p_says { pi } else { 0 } + if s_says { si } else { 0 };
    let ctx = (info > 0).then(|| {
        let (p, s) = (if p_says { pi as f32 } else { 0.0 }, if s_says { si as f32 } else { 0.0 });
        (c.prefix.0 * p + c.suffix.0 * s) / (p + s)
    });
    // Short quotes share letters with too many words: one typo at most, and context
    // with words in it behind it when context was stored (without any, the quote is
    // all there is to go on).
    if m < 12 {
        return m >= 6
            && c.errors <= 1
            && match ctx {
                None => !stored_context,
                Some(x) => info >= 2 * INFORMATIVE && x >= 0.8,
            };
    }
    // Right between its old neighbours, a quote may have lost more: a deleted quote
    // cannot pass this, since nothing quote-like is left between prefix and suffix.
    let hemmed_in = p_says && s_says && c.prefix.0 >= 0.9 && c.suffix.0 >= 0.9;
    if near && hemmed_in && quote_sim >= 0.6 {
        return true;
    }
    // Otherwise an edited quote must still sit in most of its context, and no side with
    // words in it may contradict the place: a similar sentence elsewhere (a repeated
    // menu, a summary, lorem ipsum) shares one side at most.
    let no_side_contradicts = (!p_says || c.prefix.0 >= 0.5) && (!s_says || c.suffix.0 >= 0.5);
    match ctx {
        // Both sides speak: the quote may have lost a word.
        Some(x) if p_says && s_says => quote_sim >= 0.75 && x >= 0.8 && no_side_contradicts,
        // One side only (the quote began or ended a block): near its old place with that
        // side intact it may have lost a word; elsewhere it must be nearly intact.
        Some(x) if info >= 2 * INFORMATIVE => (near && quote_sim >= 0.75 && x >= 0.9) || (quote_sim >= 0.9 && x >= 0.8),
        Some(_) => quote_sim >= 0.9,
        // Context of whitespace only: the quote must be nearly intact.
        // Far from its place, with nothing around it to confirm it, an edited quote is a
        // guess: a near copy of it (a list repeated further down) is as likely.
        None if stored_context => near && quote_sim >= 0.9,
        // No context stored at all (another tool's selector): the quote is all there is.
        None => quote_sim >= 0.75,
    }
}

/// What [`between_context`] found.
enum Between {
    /// The edited passage, between its old neighbours.
    Found(Candidate),
    /// Places near the stored position fit but none is certain (several of them, or one
    /// with a changed number): the annotation is an orphan, and the fuzzy stage, which
    /// weighs less evidence, is not asked.
    Undecided,
    /// No place fits: the fuzzy stage may still find the quote.
    NotFound,
}

/// Characters of stored context, next to the quote, that [`between_context`] looks for
/// verbatim (whitespace collapsed) on each side.
const BRACKET: usize = 24;

/// Stage 4: the stored prefix's last [`BRACKET`] characters and the suffix's first ones,
/// found side by side (whitespace collapsed), with text between them that is the quote
/// give or take a word or two ([`same_passage`]). A side must have words in it to count:
/// whitespace, or one word's letters, agrees with too many places.
///
/// A quote that began (ended) a block, a heading or a list item, often has nothing but
/// indentation and a short neighbour on that side: then the block break stands in for
/// that side (the passage runs from the other side's context to the block's edge), near
/// the stored position only, and only when a single place there fits.
///
/// Near the stored position the nearest fitting place is taken; elsewhere (or with no
/// position stored) only a single place on the whole page, whose words differ from the
/// quote's by one at most.
fn between_context(index: &TextIndex<'_>, q: &Quote, edges: (bool, bool), hint: Option<usize>) -> Between {
    let p: String = q.prefix[q.prefix.len().saturating_sub(BRACKET)..].iter().collect();
    let x: String = q.suffix[..q.suffix.len().min(BRACKET)].iter().collect();
    let informative = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).count() >= 8;
    let (p_says, x_says) = (informative(&p), informative(&x));
    let one_sided = match (p_says, x_says) {
        (true, true) => false,
        (true, false) if edges.1 => true,
        (false, true) if edges.0 => true,
        _ => return Between::NotFound,
    };
    if one_sided && hint.is_none() {
        return Between::NotFound;
    }
    let (ctext, map) = index.collapsed();
    let chars = index.chars();
    let quote_words = words_of(q.exact.iter().copied());
    if quote_words.is_empty() {
        return Between::NotFound;
    }
    let collapsed_len = collapse_whitespace(&q.exact.iter().collect::<String>()).len();
    let max_between = 2 * collapsed_len + 64;
    let breaks = block_breaks(&q.exact);
    let lead_space = q.exact.first().is_some_and(|c| c.is_whitespace());
    let trail_space = q.exact.last().is_some_and(|c| c.is_whitespace());
    // The places: (start, end) in the text, before trimming.
    let mut places: Vec<(usize, usize)> = Vec::new();
    if p_says {
        let suffix_finder = memmem::Finder::new(x.as_bytes());
        for pb in memmem::find_iter(ctext.as_bytes(), p.as_bytes()).take(MAX_CANDIDATES) {
            let from = pb + p.len();
            let a = map[from] as usize;
            if one_sided {
                places.extend(block_edge(chars, a, breaks, 4 * max_between, true).map(|b| (a, b)));
            } else {
                let window = &ctext.as_bytes()[from..(from + max_between).min(ctext.len())];
                places.extend(suffix_finder.find(window).map(|xb| (a, map[from + xb] as usize)));
            }
        }
    } else {
        for xb in memmem::find_iter(ctext.as_bytes(), x.as_bytes()).take(MAX_CANDIDATES) {
            let b = map[xb] as usize;
            places.extend(block_edge(chars, b, breaks, 4 * max_between, false).map(|a| (a, b)));
        }
    }
    // (candidate, words lost + added); places that fit but for a changed number
    let mut found: Vec<(Candidate, usize)> = Vec::new();
    let mut renumbered: Vec<usize> = Vec::new();
    for (mut a, mut b) in places {
        if !lead_space {
            while a < b && chars[a].is_whitespace() {
                a += 1;
            }
        }
        if !trail_space {
            while b > a && chars[b - 1].is_whitespace() {
                b -= 1;
            }
        }
        // Words give or take two; or, failing that, letters: typos can change every word of
        // a short quote ("Peru" → "Pexu") and leave it plainly the same passage.
        let by_letters = || {
            let m = q.exact.len();
            (b - a <= 2 * m && 4 * distance(&chars[a..b], &q.exact) <= m.max(4))
                .then(|| (2, numbers(&chars[a..b]) == numbers(&q.exact)))
        };
        let Some((changed, same_numbers)) =
            same_passage(&quote_words, &words_of(chars[a..b].iter().copied())).or_else(by_letters)
        else {
            continue;
        };
        if one_sided && changed > 2 {
            continue;
        }
        if !same_numbers {
            // The passage is here with a figure changed: not this highlight any more, and
            // no reason to look for it in a similar passage further away.
            renumbered.push(a);
            continue;
        }
        let errors = distance(&chars[a..b], &q.exact);
        found.push((score(index, q, a, b, errors, hint), changed));
    }
    // Near the stored position the nearest place wins: repeated blocks (a list of similar
    // entries, the same steps for two cases) put similar passages between similar context,
    // and an edited page moves text by what was edited above it, not by pages.
    // A quote of a few words, or one with context on one side only, has too little to
    // choose between several such places.
    if let Some(h) = hint {
        let close: Vec<Candidate> =
            found.iter().map(|(c, _)| *c).filter(|c| c.start.abs_diff(h) <= NEAR_WINDOW + q.exact.len()).collect();
        if close.len() > 1 && (one_sided || quote_words.len() <= 3) {
            return Between::Undecided;
        }
        // A place near here that fits but for a changed figure: the passage may be that
        // one, and then a similar one is not it.
        let renumbered_near = renumbered.iter().any(|a| a.abs_diff(h) <= NEAR_WINDOW + q.exact.len());
        if renumbered_near {
            return Between::Undecided;
        }
        if let Some(c) = close.into_iter().min_by_key(|c| c.start.abs_diff(h)) {
            return Between::Found(c);
        }
    }
    match found.as_slice() {
        [(c, changed)] if *changed <= 1 && !one_sided && renumbered.is_empty() => Between::Found(*c),
        _ => Between::NotFound,
    }
}

/// Whether a run of whitespace holds a line break: the edge between two blocks in the
/// text model (which adds nothing at block boundaries, so the page's own line breaks are
/// what is left of them).
fn is_break(run: &[char]) -> bool {
    run.contains(&'\n')
}

/// Block breaks inside a quote (not counting whitespace at its ends).
fn block_breaks(exact: &[char]) -> usize {
    let inner = exact.iter().position(|c| !c.is_whitespace()).map_or(&exact[..0], |s| {
        let e = exact.iter().rposition(|c| !c.is_whitespace()).map_or(s, |e| e + 1);
        &exact[s..e]
    });
    inner.split(|c| !c.is_whitespace()).filter(|run| is_break(run)).count()
}

/// From `at`, the edge of the block that the `skip + 1`-th block break (forward: after
/// `at`, the start of that break; backward: before `at`, its end) delimits, looking at
/// most `limit` characters away; the text's edge counts as a break.
fn block_edge(chars: &[char], at: usize, skip: usize, limit: usize, forward: bool) -> Option<usize> {
    let mut seen = 0;
    if forward {
        let mut i = at;
        // Whitespace right at `at` belongs to the quote's side, not to a break after it.
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        while i < chars.len().min(at + limit) {
            if chars[i].is_whitespace() {
                let s = i;
                while i < chars.len() && chars[i].is_whitespace() {
                    i += 1;
                }
                if is_break(&chars[s..i]) {
                    if seen == skip {
                        return Some(s);
                    }
                    seen += 1;
                }
            } else {
                i += 1;
            }
        }
        (i >= chars.len() && seen == skip).then_some(chars.len())
    } else {
        let mut i = at;
        while i > 0 && chars[i - 1].is_whitespace() {
            i -= 1;
        }
        while i > at.saturating_sub(limit) {
            if chars[i - 1].is_whitespace() {
                let e = i;
                while i > 0 && chars[i - 1].is_whitespace() {
                    i -= 1;
                }
                if is_break(&chars[i..e]) {
                    if seen == skip {
                        return Some(e);
                    }
                    seen += 1;
                }
            } else {
                i -= 1;
            }
        }
        (i == 0 && seen == skip).then_some(0)
    }
}

/// The words of a text for comparing passages: runs of letters and digits (apostrophes
/// inside a word kept: "it’ll" is one word), lower-cased, so that punctuation, capitals
/// and line breaks do not count as changes.
fn words_of(text: impl Iterator<Item = char>) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text {
        if c.is_alphanumeric() || (!word.is_empty() && matches!(c, '\'' | '’')) {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Whether `found` is the passage `quote` after an edit of a word or two: at most two of
/// the quote's words lost (replaced or deleted) and at most two added, three changes in
/// all, half of them kept at least. Returns the words lost plus added, and whether the
/// numbers are the same (a different figure is a different fact, however similar the
/// sentence).
fn same_passage(quote: &[String], found: &[String]) -> Option<(usize, bool)> {
    // Longest common subsequence of words, with the matched words marked.
    let (n, m) = (quote.len(), found.len());
    if n == 0 || m == 0 || m > n + 2 {
        return None;
    }
    let mut lcs = vec![vec![0u16; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if quote[i] == found[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let kept = lcs[0][0] as usize;
    let (lost, added) = (n - kept, m - kept);
    if lost > 2 || added > 2 || lost + added > 3 || 2 * kept < n {
        return None;
    }
    // The numbers (words that start with a digit: "645", "50mm"; "edelweiss123" is a name):
    // their digits in order, whatever separates them ("15,000" is "15000").
    let digits = |ws: &[String]| -> String {
        let numbers = ws.iter().filter(|w| w.chars().next().is_some_and(char::is_numeric));
        numbers.flat_map(|w| w.chars().filter(|c| c.is_numeric())).collect()
    };
    // A number deleted with its words leaves the others as they were ("Sep 2024, 08:42"
    // losing its year); a number changed or added makes another fact.
    let is_number = |w: &&String| w.chars().next().is_some_and(char::is_numeric);
    let (qn, fnum): (Vec<&String>, Vec<&String>) =
        (quote.iter().filter(is_number).collect(), found.iter().filter(is_number).collect());
    let mut rest = qn.iter();
    let only_deleted = fnum.iter().all(|f| rest.any(|q| q == f));
    let same_numbers = digits(quote) == digits(found) || only_deleted;
    Some((lost + added, same_numbers))
}

/// Characters at the far ends of the stored context (the prefix's first, the suffix's
/// last) that [`deleted_here`] looks for: far enough from the quote to survive the
/// deletion of the quote with a few words around it.
const FAR_CONTEXT: usize = 12;

/// Whether the quote was deleted at its stored position: the far ends of its stored
/// context are found near the position, in order, with less than a quarter of the quote's
/// length left between where it was (the rest of the stored context included).
fn deleted_here(index: &TextIndex<'_>, q: &Quote, hint: Option<usize>) -> bool {
    let (Some(h), true) = (hint, q.prefix.len() >= FAR_CONTEXT && q.suffix.len() >= FAR_CONTEXT) else {
        return false;
    };
    let p: String = q.prefix[..FAR_CONTEXT].iter().collect();
    let x: String = q.suffix[q.suffix.len() - FAR_CONTEXT..].iter().collect();
    let informative = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).count() >= 6;
    if !informative(&p) || !informative(&x) {
        return false;
    }
    // Lengths in the collapsed text, where the search runs.
    let m = collapse_whitespace(&q.exact.iter().collect::<String>()).chars().count();
    // Between the two far ends, when nothing was deleted: the rest of the context and the
    // quote. A far end that occurs again in its own side of the context ("profile posts"
    // in two menu entries) may be found at that later place: measure from there.
    let (pc, xc): (Vec<char>, Vec<char>) = (p.chars().collect(), x.chars().collect());
    // Far ends that also occur on the other side ("anomaly in status code 404" before and
    // after the quote) meet wherever that phrase is repeated: they cannot tell a deletion.
    let holds = |side: &[char], part: &[char]| side.windows(part.len()).any(|w| w == part);
    if holds(&q.suffix, &pc) || holds(&q.prefix, &xc) {
        return false;
    }
    let p_last = q.prefix.windows(FAR_CONTEXT).rposition(|w| w == pc.as_slice()).unwrap_or(0);
    let x_first = q.suffix.windows(FAR_CONTEXT).position(|w| w == xc.as_slice()).unwrap_or(0);
    let intact = (q.prefix.len() - p_last - FAR_CONTEXT) + m + x_first;
    let (ctext, map) = index.collapsed();
    let lo = map.partition_point(|&c| (c as usize) < h.saturating_sub(NEAR_WINDOW));
    let hi = map.partition_point(|&c| (c as usize) < h + q.exact.len() + NEAR_WINDOW).min(ctext.len());
    let (lo, hi) = (floor_char(ctext, lo), floor_char(ctext, hi));
    let near = &ctext.as_bytes()[lo..hi];
    // For each place of the suffix's far end, the earliest prefix far end within reach
    // before it: a far end repeated inside the quote or its context must not make the
    // gap look shorter than it is.
    let prefix_finder = memmem::Finder::new(p.as_bytes());
    memmem::find_iter(near, x.as_bytes()).any(|xb| {
        // Only a gap shorter than the intact one matters: look back that far, no further.
        let back = ctext[lo..lo + xb].char_indices().rev().nth(intact + FAR_CONTEXT).map_or(0, |(i, _)| i);
        let from = back;
        prefix_finder.find(&near[from..xb]).is_some_and(|pb| {
            let gap = ctext.get(lo + from + pb + p.len()..lo + xb).map_or(usize::MAX, |g| g.chars().count());
            4 * gap < 4 * intact - 3 * m
        })
    })
}

/// The nearest char boundary at or before byte `b` of `s`.
fn floor_char(s: &str, mut b: usize) -> usize {
    while b > 0 && !s.is_char_boundary(b) {
        b -= 1;
    }
    b
}

/// Whether a fuzzy match has the quote's numbers, in order: "$580" where "$645" was
/// highlighted, or "(1)" for "(2)", is another line of the same table, not an edit.
fn same_numbers(index: &TextIndex<'_>, q: &Quote, c: &Candidate) -> bool {
    numbers(&q.exact) == numbers(&index.chars()[c.start..c.end])
}

/// The digits of a text, in order: separators aside ("15,000" and "15000" are one number).
fn numbers(t: &[char]) -> String {
    t.iter().filter(|c| c.is_numeric()).collect()
}

/// Levenshtein distance of two short strings (two rows of the table).
fn distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + (ca != cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Quotes longer than this are not snapped: the choice costs a quadratic comparison.
const MAX_SNAPPED: usize = 2000;

/// Moves a fuzzy match's ends to word boundaries where the quote's own ends were at one
/// (a highlight of whole words stays one of whole words): an end inside a word goes to
/// that word's edge or the next one's, whichever leaves the passage closer to the quote
/// (on a tie, the whole word is kept); an end on whitespace the quote did not have
/// moves off it. A boundary is a whitespace one when the quote's stored context had
/// whitespace there, else one between a letter or digit and anything else; with no
/// context stored on a side, nothing says where that end was, and it stays.
fn snap(index: &TextIndex<'_>, q: &Quote, c: Candidate) -> Candidate {
    let chars = index.chars();
    let (m, n) = (q.exact.len(), chars.len());
    if m > MAX_SNAPPED || c.start >= c.end {
        return c;
    }
    let space = |ch: char| ch.is_whitespace();
    let alnum = |ch: char| ch.is_alphanumeric();
    // The class of characters that make up a "word" at each end, if the quote began (ended)
    // at a boundary of that class.
    let class = |first: char, outside: Option<char>| -> Option<fn(char) -> bool> {
        if space(first) {
            None
        } else if outside.is_some_and(space) {
            Some(|ch: char| !ch.is_whitespace())
        } else if alnum(first) && outside.is_some_and(|o| !alnum(o)) {
            Some(|ch: char| ch.is_alphanumeric())
        } else {
            None
        }
    };
    let mut starts = vec![c.start];
    if let Some(word) = class(q.exact[0], q.prefix.last().copied()) {
        let mut s = c.start;
        while s < c.end && space(chars[s]) {
            s += 1;
        }
        starts = vec![s];
        if s > 0 && s < c.end && word(chars[s - 1]) && word(chars[s]) {
            let left = (0..s).rev().find(|&k| !word(chars[k])).map_or(0, |k| k + 1);
            let mut right = s;
            while right < c.end && word(chars[right]) {
                right += 1;
            }
            while right < c.end && !word(chars[right]) {
                right += 1;
            }
            starts = vec![left, right];
        }
    }
    let mut ends = vec![c.end];
    if let Some(word) = class(q.exact[m - 1], q.suffix.first().copied()) {
        let mut e = c.end;
        while e > c.start && space(chars[e - 1]) {
            e -= 1;
        }
        ends = vec![e];
        if e < n && e > c.start && word(chars[e - 1]) && word(chars[e]) {
            let right = (e..n).find(|&k| !word(chars[k])).unwrap_or(n);
            let mut left = e;
            while left > c.start && word(chars[left - 1]) {
                left -= 1;
            }
            while left > c.start && !word(chars[left - 1]) {
                left -= 1;
            }
            ends = vec![right, left];
        }
    }
    let mut best = (c.start, c.end, usize::MAX);
    for &s in &starts {
        for &e in &ends {
            if s >= e {
                continue;
            }
            let d = distance(&chars[s..e], &q.exact);
            // Candidates come widest first, so a tie keeps the whole words.
            if d < best.2 {
                best = (s, e, d);
            }
        }
    }
    if (best.0, best.1) == (c.start, c.end) || best.2 == usize::MAX {
        return c;
    }
    // The gate judges the snapped passage: its errors are those of the whole of it.
    Candidate { start: best.0, end: best.1, errors: best.2.max(c.errors), ..c }
}

/// Non-whitespace characters a side of context needs before it counts as evidence.
const INFORMATIVE: usize = 4;

/// Scores `[start, end)` as Hypothesis does: similarity of quote, prefix and suffix,
/// and closeness to the hint, weighted 50/20/20/2 and normalised to `[0, 1]`.
fn score(index: &TextIndex<'_>, q: &Quote, start: usize, end: usize, errors: usize, hint: Option<usize>) -> Candidate {
    let text = index.text();
    // Whitespace is collapsed on both sides: runs of indentation around a quote would
    // otherwise count as agreeing context while saying nothing about the place. Four
    // times the stored length of raw text is read, to have enough once collapsed.
    let pb = index.char_to_byte(start.saturating_sub(8 * q.prefix.len()));
    let (sb, eb) = (index.char_to_byte(start), index.char_to_byte(end));
    let xb = index.char_to_byte(end + 8 * q.suffix.len());
    let before = tail(collapse_whitespace(&text[pb..sb]).chars().collect(), q.prefix.len());
    let after: Vec<char> = collapse_whitespace(&text[eb..xb]).chars().take(q.suffix.len()).collect();
    // At the start or end of the text there is less around the quote than was stored:
    // compare the stored context's nearest characters with what there is.
    let stored_prefix = &q.prefix[q.prefix.len() - before.len().min(q.prefix.len())..];
    let stored_suffix = &q.suffix[..after.len().min(q.suffix.len())];
    let prefix = similarity(stored_prefix, &before);
    let suffix = similarity(stored_suffix, &after);
    let info = |s: &[char]| s.iter().filter(|c| !c.is_whitespace()).count();
    let quote_sim = 1.0 - errors as f32 / q.exact.len() as f32;
    let n = index.char_len().max(1) as f32;
    let pos = hint.map_or(1.0, |h| 1.0 - h.abs_diff(start) as f32 / n);
    let sim_or_1 = |x: (f32, usize)| if x.1 == 0 { 1.0 } else { x.0 };
    let raw = 50.0 * quote_sim + 20.0 * sim_or_1(prefix) + 20.0 * sim_or_1(suffix) + 2.0 * pos;
    Candidate {
        start,
        end,
        errors,
        prefix,
        suffix,
        prefix_info: info(stored_prefix),
        suffix_info: info(stored_suffix),
        score: raw / 92.0,
    }
}

/// `(1 - errors / len, len)`: how much of the stored context is still there.
fn similarity(stored: &[char], actual: &[char]) -> (f32, usize) {
    if stored.is_empty() {
        return (1.0, 0);
    }
    (1.0 - approx::min_errors(actual, stored) as f32 / stored.len() as f32, stored.len())
}

/// Approximate occurrences of the quote in `[lo, hi)`, at most `k` errors, one per
/// run of adjacent end positions (its best), scored.
fn fuzzy_candidates(
    index: &TextIndex<'_>,
    q: &Quote,
    lo: usize,
    hi: usize,
    k: usize,
    hint: Option<usize>,
) -> Vec<Candidate> {
    let window = &index.chars()[lo..hi];
    let mut ends: Vec<(usize, usize)> = Vec::new();
    let mut last_end = usize::MAX - 1;
    approx::for_each_end(window, &q.exact, k, |end, errors| {
        match ends.last_mut() {
            Some(best) if end == last_end + 1 => {
                if errors < best.1 {
                    *best = (end, errors);
                }
            }
            _ => ends.push((end, errors)),
        }
        last_end = end;
    });
    if ends.len() > MAX_CANDIDATES {
        let h = hint.unwrap_or(0);
        ends.sort_by_key(|&(e, errs)| (errs, (lo + e).abs_diff(h)));
        ends.truncate(MAX_CANDIDATES);
    }
    ends.into_iter()
        .map(|(end, errors)| {
            let start = approx::match_start(window, &q.exact, end, errors);
            score(index, q, lo + start, lo + end, errors, hint)
        })
        .collect()
}

/// Hypothesis's `matchQuote`, reproduced for comparison (tests and benchmarks): exact
/// occurrences if any, else the fewest-error approximate matches with up to
/// `min(256, len/2)` errors, scored 50/20/20/2; the best, however low its score.
/// Returns `(start, end, score)` in code points.
pub fn match_quote(
    text: &[char],
    quote: &[char],
    prefix: &[char],
    suffix: &[char],
    hint: Option<usize>,
) -> Option<(usize, usize, f32)> {
    if quote.is_empty() {
        return None;
    }
    let max_errors = (quote.len() / 2).min(256);
    let exact: Vec<approx::Match> = (0..text.len().saturating_sub(quote.len() - 1))
        .filter(|&i| text[i..i + quote.len()] == *quote)
        .map(|i| approx::Match { start: i, end: i + quote.len(), errors: 0 })
        .collect();
    let matches = if exact.is_empty() { approx::search(text, quote, max_errors) } else { exact };
    let sim = |stored: &[char], actual: &[char]| {
        if actual.is_empty() || stored.is_empty() {
            0.0
        } else {
            // Hypothesis searches the actual text within the stored context.
            1.0 - approx::min_errors(stored, actual) as f32 / actual.len() as f32
        }
    };
    matches
        .iter()
        .map(|mt| {
            let q = 1.0 - mt.errors as f32 / quote.len() as f32;
            let p = if prefix.is_empty() {
                1.0
            } else {
                sim(prefix, &text[mt.start.saturating_sub(prefix.len())..mt.start])
            };
            let s = if suffix.is_empty() {
                1.0
            } else {
                sim(suffix, &text[mt.end..(mt.end + suffix.len()).min(text.len())])
            };
            let pos = hint.map_or(1.0, |h| 1.0 - h.abs_diff(mt.start) as f32 / text.len() as f32);
            (mt.start, mt.end, (50.0 * q + 20.0 * p + 20.0 * s + 2.0 * pos) / 92.0)
        })
        .fold(None, |best: Option<(usize, usize, f32)>, c| match best {
            Some(b) if b.2 >= c.2 => Some(b),
            _ => Some(c),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(text: &str, selectors: &[Selector]) -> Option<(String, Method)> {
        let idx = TextIndex::new(text);
        resolve(&idx, selectors).map(|a| (text.chars().skip(a.start).take(a.end - a.start).collect(), a.method))
    }

    fn quote(exact: &str, prefix: &str, suffix: &str) -> Selector {
        Selector::TextQuoteSelector { exact: exact.into(), prefix: Some(prefix.into()), suffix: Some(suffix.into()) }
    }

    #[test]
    fn describe_then_resolve_round_trips() {
        let text = "Deploys go out on Tuesdays. Rollbacks need a ticket. Deploys go out on Tuesdays.";
        let idx = TextIndex::new(text);
        let start = text.rfind("Deploys").unwrap();
        let sel = describe(&idx, start, start + "Deploys go out".len()).unwrap();
        let a = resolve(&idx, &sel).unwrap();
        assert_eq!((a.start, a.end, a.method, a.score), (start, start + 14, Method::Position, 1.0));
        // 32 characters of context that are not whitespace, so a little more than 32 in all.
        assert_eq!(sel[0], quote("Deploys go out", "on Tuesdays. Rollbacks need a ticket. ", " on Tuesdays."));
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
        let sel = [quote("beta", "alpha ", " delta")];
        let a = resolve(&TextIndex::new(text), &sel).unwrap();
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

    /// h#2634: Hypothesis anchored a deleted "Linus" on "chines".
    #[test]
    fn deleted_quote_is_an_orphan_not_a_guess() {
        let sel = [quote("Linus", "by ", " and friends"), Selector::TextPositionSelector { start: 11, end: 16 }];
        assert_eq!(anchor("Written by machines for machines.", &sel), None);
        assert_eq!(anchor("anything", &[]), None);
        // A short quote still present elsewhere, but with none of its context: not this highlight.
        let sel = [
            quote("Linus", "Kernel maintained by ", " since 1991"),
            Selector::TextPositionSelector { start: 21, end: 26 },
        ];
        assert_eq!(anchor("The kernel has many maintainers now. Linus Pauling won two Nobel prizes.", &sel), None);
    }

    #[test]
    fn edited_quote_found_between_its_old_neighbours() {
        let before =
            "Our deploy policy. Rollbacks always need a ticket from the on-call engineer. Questions go to ops.";
        let after =
            "Our deploy policy. Rollbacks always require a ticket from the on-call engineer. Questions go to ops.";
        let idx = TextIndex::new(before);
        let s = before.find("Rollbacks").unwrap();
        let e = before.find(" Questions").unwrap();
        let sel = describe(&idx, s, e).unwrap();
        let idx2 = TextIndex::new(after);
        let a = resolve(&idx2, &sel).unwrap();
        assert_eq!(a.method, Method::Context);
        assert_eq!(&after[a.start..a.end], "Rollbacks always require a ticket from the on-call engineer.");
        assert!(a.score > 0.9 && a.score < 1.0, "{}", a.score);
    }

    /// Issue 16: a short quote that gained a word is the whole edited passage, and one
    /// deleted where it was is an orphan even though a sibling entry looks like it.
    #[test]
    fn a_word_more_is_the_whole_passage_and_a_deleted_entry_is_no_sibling() {
        let before = "Deploy steps for staging: build the image, push it. Deploy steps for production: \
                      build the image, sign it, push it. Questions go to the ops channel.";
        let idx = TextIndex::new(before);
        let s = before.find("sign it, push").unwrap();
        let sel = describe(&idx, s, s + "sign it, push".len()).unwrap();
        let after = before.replace("sign it, push", "sign it, then push");
        let a = resolve(&TextIndex::new(&after), &sel).unwrap();
        assert_eq!((&after[a.start..a.end], a.method), ("sign it, then push", Method::Context));

        let s = before.find("production").unwrap();
        let sel = describe(&idx, s, s + "production".len()).unwrap();
        let after = before.replace("Deploy steps for production: build the image, sign it, push it. ", "");
        assert_eq!(anchor(&after, &sel), None);
    }

    /// A figure is a fact: the same line with another price is not the highlight, even
    /// between the same neighbours; a figure deleted with its words leaves the passage.
    #[test]
    fn a_changed_number_is_another_fact_and_a_deleted_one_is_an_edit() {
        let before = "Price list for this year. Members pay $645 for the full course, guests pay more. Ends.";
        let idx = TextIndex::new(before);
        let s = before.find("Members pay").unwrap();
        let sel = describe(&idx, s, s + "Members pay $645 for the full course".len()).unwrap();
        let changed = before.replace("$645", "$650");
        assert_eq!(anchor(&changed, &sel), None);
        let deleted = before.replace(" $645", "");
        let a = resolve(&TextIndex::new(&deleted), &sel).unwrap();
        assert_eq!(&deleted[a.start..a.end], "Members pay for the full course");
    }

    #[test]
    fn unknown_and_structural_selectors_are_ignored() {
        let text = "one two three";
        let sel = [
            Selector::CssSelector { value: "p".into() },
            Selector::XPathSelector { value: "/p[1]".into() },
            quote("two", "one ", " three"),
        ];
        assert_eq!(anchor(text, &sel), Some(("two".into(), Method::UniqueQuote)));
        let only_position = [Selector::TextPositionSelector { start: 4, end: 7 }];
        assert_eq!(anchor(text, &only_position), Some(("two".into(), Method::PositionOnly)));
        assert_eq!(anchor(text, &[Selector::TextPositionSelector { start: 4, end: 70 }]), None);
        assert_eq!(anchor(text, &[Selector::TextPositionSelector { start: 5, end: 4 }]), None);
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
