//! Approximate string matching: Myers' bit-parallel algorithm (1999) in Hyyrö's
//! multi-word form, so patterns longer than one machine word work too.
//!
//! This is a port of the algorithm in `approx-string-match` (the npm package
//! Hypothesis uses), with 64-bit words instead of 32. It is written here rather
//! than taken from a crate because the resolver needs two things the crates we
//! looked at do not give together: every end position under an error bound (to
//! score candidates ourselves, near the position hint first), and generic symbols
//! (code points for anchoring, UTF-16 units to check against the npm package's cases).
//!
//! Cost: O(n · ⌈m/64⌉) word operations for a text of n symbols and a pattern of m,
//! less when Ukkonen's cut-off keeps the lower blocks of a long pattern inactive.

use std::collections::HashMap;

const W: usize = 64;

/// A match of a pattern in a text: `[start, end)` in symbols, with its edit distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    pub errors: usize,
}

/// The pattern's match masks: for each distinct symbol, one bit per pattern position.
struct Peq {
    blocks: usize,
    /// `ascii[c]` is the slot of ASCII symbol `c` (0 = the empty slot).
    ascii: [u32; 128],
    other: HashMap<u32, u32>,
    /// `slots × blocks` masks; slot 0 is all zeros.
    masks: Vec<u64>,
}

impl Peq {
    fn new<T: Copy + Into<u32>>(pattern: &[T]) -> Peq {
        let blocks = pattern.len().div_ceil(W);
        let mut peq = Peq { blocks, ascii: [0; 128], other: HashMap::new(), masks: vec![0; blocks] };
        for (i, &sym) in pattern.iter().enumerate() {
            let code: u32 = sym.into();
            let slot = match peq.slot(code) {
                0 => {
                    let slot = (peq.masks.len() / blocks) as u32;
                    peq.masks.extend(std::iter::repeat_n(0, blocks));
                    if code < 128 {
                        peq.ascii[code as usize] = slot;
                    } else {
                        peq.other.insert(code, slot);
                    }
                    slot
                }
                s => s,
            };
            peq.masks[slot as usize * blocks + i / W] |= 1 << (i % W);
        }
        peq
    }

    #[inline]
    fn slot(&self, code: u32) -> u32 {
        if code < 128 {
            self.ascii[code as usize]
        } else {
            self.other.get(&code).copied().unwrap_or(0)
        }
    }
}

/// One column step of block `b`; `h_in` is the horizontal delta entering the block
/// from above (-1, 0 or +1). Returns the delta leaving its last row.
#[inline(always)]
fn advance_block(p: &mut u64, m: &mut u64, eq: u64, last_row: u64, h_in: i32) -> i32 {
    let (pv, mv) = (*p, *m);
    let h_neg = (h_in < 0) as u64;
    let eq = eq | h_neg;
    let xv = eq | mv;
    let xh = ((eq & pv).wrapping_add(pv) ^ pv) | eq;
    let mut ph = mv | !(xh | pv);
    let mut mh = pv & xh;
    let h_out = ((ph & last_row) != 0) as i32 - ((mh & last_row) != 0) as i32;
    ph <<= 1;
    mh <<= 1;
    mh |= h_neg;
    ph |= (h_in > 0) as u64;
    *p = mh | !(xv | ph);
    *m = ph & xv;
    h_out
}

/// Calls `on_end(end, errors)` for every end position (exclusive, in symbols) at which
/// some substring of `text` is within `max_errors` edits of `pattern`, left to right.
pub fn for_each_end<T: Copy + Into<u32>>(
    text: &[T],
    pattern: &[T],
    max_errors: usize,
    mut on_end: impl FnMut(usize, usize),
) {
    let m = pattern.len();
    if m == 0 {
        return;
    }
    let max_errors = max_errors.min(m);
    let peq = Peq::new(pattern);
    let b_max = peq.blocks - 1;
    let mut last_row = vec![1u64 << (W - 1); peq.blocks];
    last_row[b_max] = 1 << ((m - 1) % W);
    let mut pv = vec![!0u64; peq.blocks];
    let mut mv = vec![0u64; peq.blocks];
    // score[b]: the edit distance at the last row of block b for the current column.
    let mut score: Vec<usize> = (0..peq.blocks).map(|b| (b + 1) * W).collect();
    score[b_max] = m;
    // Ukkonen's cut-off: blocks below `y` cannot hold a cell within the bound yet.
    let mut y = max_errors.div_ceil(W).saturating_sub(1);

    if b_max == 0 {
        // One word: the common case (quotes up to 64 code points), without the block bookkeeping.
        let (mut p, mut mm, lr) = (!0u64, 0u64, last_row[0]);
        let mut s = m as isize;
        for (j, &sym) in text.iter().enumerate() {
            let eq = peq.masks[peq.slot(sym.into()) as usize];
            s += advance_block(&mut p, &mut mm, eq, lr, 0) as isize;
            if s as usize <= max_errors {
                on_end(j + 1, s as usize);
            }
        }
        return;
    }

    for (j, &sym) in text.iter().enumerate() {
        let base = peq.slot(sym.into()) as usize * peq.blocks;
        let eqs = &peq.masks[base..base + peq.blocks];
        let mut carry = 0i32;
        for b in 0..=y {
            carry = advance_block(&mut pv[b], &mut mv[b], eqs[b], last_row[b], carry);
            score[b] = (score[b] as isize + carry as isize) as usize;
        }
        if (score[y] as isize - carry as isize) <= max_errors as isize
            && y < b_max
            && ((eqs[y + 1] & 1) != 0 || carry < 0)
        {
            y += 1;
            pv[y] = !0;
            mv[y] = 0;
            let max_block_score = if y == b_max {
                match m % W {
                    0 => W,
                    r => r,
                }
            } else {
                W
            };
            let step = advance_block(&mut pv[y], &mut mv[y], eqs[y], last_row[y], carry);
            score[y] = (score[y - 1] as isize + max_block_score as isize - carry as isize + step as isize) as usize;
        } else {
            while y > 0 && score[y] >= max_errors + W {
                y -= 1;
            }
        }
        if y == b_max && score[y] <= max_errors {
            on_end(j + 1, score[y]);
        }
    }
}

/// The start of the longest match of `pattern` ending at `end` with at most `errors`
/// edits: the same search run backwards from `end`.
pub fn match_start<T: Copy + Into<u32>>(text: &[T], pattern: &[T], end: usize, errors: usize) -> usize {
    let lo = end.saturating_sub(pattern.len() + errors);
    let rev_text: Vec<T> = text[lo..end].iter().rev().copied().collect();
    let rev_pat: Vec<T> = pattern.iter().rev().copied().collect();
    let mut longest = 0;
    for_each_end(&rev_text, &rev_pat, errors, |e, _| longest = longest.max(e));
    end - longest
}

/// All matches of `pattern` in `text` with the fewest errors, if that is at most
/// `max_errors`: the contract of `approx-string-match`'s `search`.
pub fn search<T: Copy + Into<u32>>(text: &[T], pattern: &[T], max_errors: usize) -> Vec<Match> {
    let mut best = usize::MAX;
    let mut ends = Vec::new();
    for_each_end(text, pattern, max_errors, |end, errors| {
        if errors < best {
            best = errors;
            ends.clear();
        }
        if errors == best {
            ends.push(end);
        }
    });
    ends.into_iter().map(|end| Match { start: match_start(text, pattern, end, best), end, errors: best }).collect()
}

/// The fewest edits that turn `pattern` into some substring of `text`
/// (`pattern.len()` when nothing matches at all).
pub fn min_errors<T: Copy + Into<u32>>(text: &[T], pattern: &[T]) -> usize {
    let mut best = pattern.len();
    for_each_end(text, pattern, pattern.len(), |_, e| best = best.min(e));
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    /// A plain dynamic-programming reference: the best error count ending at each position.
    fn naive_ends(text: &[char], pattern: &[char]) -> Vec<usize> {
        let m = pattern.len();
        let mut col: Vec<usize> = (0..=m).collect();
        let mut out = Vec::new();
        for &t in text {
            let mut prev_diag = col[0];
            col[0] = 0;
            for i in 1..=m {
                let cur = col[i];
                col[i] = (prev_diag + (pattern[i - 1] != t) as usize).min(col[i - 1] + 1).min(cur + 1);
                prev_diag = cur;
            }
            out.push(col[m]);
        }
        out
    }

    #[test]
    fn agrees_with_dynamic_programming_on_one_and_several_words() {
        let text =
            chars(&"the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ".repeat(6));
        for pat in [
            "quick brwn fox",
            "lazy dgo",
            "pack my box with five dozen liquor jugs. the quick brown fox jumps over the lazy dog",
            &"jumps over the lazy dog; pack my box with five dozen liquor jugs. ".repeat(3),
        ] {
            let p = chars(pat);
            let want = naive_ends(&text, &p);
            for k in [0, 1, 3, p.len() / 4, p.len() / 2] {
                let mut got = vec![None; text.len()];
                for_each_end(&text, &p, k, |e, errs| got[e - 1] = Some(errs));
                for (j, &w) in want.iter().enumerate() {
                    if w <= k {
                        assert_eq!(got[j], Some(w), "pattern {pat:?} k={k} end={}", j + 1);
                    } else {
                        assert_eq!(got[j], None, "pattern {pat:?} k={k} end={}", j + 1);
                    }
                }
            }
        }
    }

    #[test]
    fn finds_start_of_longest_match() {
        let t = chars("three blind mice");
        assert_eq!(search(&t, &chars("bliind"), 3), vec![Match { start: 6, end: 11, errors: 1 }]);
        assert_eq!(min_errors(&t, &chars("blond")), 1);
        assert!(search(&t, &chars(""), 3).is_empty());
    }
}
