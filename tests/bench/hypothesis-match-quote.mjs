// Hypothesis's quote matching, as the baseline of `cargo xtask bench anchor`.
//
// Ported from hypothesis/client src/annotator/anchoring/match-quote.js (the version at
// 9d28950c84560765f77b8e8e133c0f11ad577410, whose fixtures are in
// ../shared/testdata/hypothesis-anchoring-fixtures) and the order html.js tries selectors in:
// the TextPositionSelector when the text there still equals the quote, then matchQuote()
// with the position as hint. Only the DOM plumbing (ranges, text nodes) is left out, as it
// is on Cairn's side of the benchmark.
//
// Copyright (c) 2013-2019 Hypothes.is Project and contributors. BSD-2-Clause:
// Redistribution and use in source and binary forms, with or without modification, are
// permitted provided that the following conditions are met: 1. Redistributions of source
// code must retain the above copyright notice, this list of conditions and the following
// disclaimer. 2. Redistributions in binary form must reproduce the above copyright notice,
// this list of conditions and the following disclaimer in the documentation and/or other
// materials provided with the distribution. THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT
// HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES ARE DISCLAIMED.
// (Full text: ../shared/testdata/hypothesis-anchoring-fixtures/LICENSE.)

import approxSearch from 'approx-string-match';

/** Exact matches of `str` in `text` (all of them, overlapping), else approximate ones. */
function search(text, str, maxErrors) {
  let matchPos = 0;
  const exactMatches = [];
  while (matchPos !== -1) {
    matchPos = text.indexOf(str, matchPos);
    if (matchPos !== -1) {
      exactMatches.push({ start: matchPos, end: matchPos + str.length, errors: 0 });
      matchPos += 1;
    }
  }
  if (exactMatches.length > 0) {
    return exactMatches;
  }
  // Myers' bit-parallel algorithm, via npm approx-string-match.
  return approxSearch(text, str, maxErrors);
}

/** How well `str` matches somewhere in `text`, in [0, 1]. */
function textMatchScore(text, str) {
  if (str.length === 0 || text.length === 0) {
    return 0.0;
  }
  const matches = search(text, str, str.length);
  // `search` with maxErrors = str.length always finds a match.
  return 1 - matches[0].errors / str.length;
}

/**
 * The best match of `quote` in `text`, or null: candidates within min(256, |quote|/2)
 * errors, scored quote 50, prefix 20, suffix 20, closeness to `context.hint` 2.
 */
export function matchQuote(text, quote, context = {}) {
  if (quote.length === 0) {
    return null;
  }
  const maxErrors = Math.min(256, quote.length / 2);
  const matches = search(text, quote, maxErrors);
  if (matches.length === 0) {
    return null;
  }
  const scoreMatch = (match) => {
    const quoteWeight = 50;
    const prefixWeight = 20;
    const suffixWeight = 20;
    const posWeight = 2;
    const quoteScore = 1 - match.errors / quote.length;
    const prefixScore = context.prefix
      ? textMatchScore(text.slice(Math.max(0, match.start - context.prefix.length), match.start), context.prefix)
      : 1.0;
    const suffixScore = context.suffix
      ? textMatchScore(text.slice(match.end, match.end + context.suffix.length), context.suffix)
      : 1.0;
    let posScore = 1.0;
    if (typeof context.hint === 'number') {
      const offset = Math.abs(match.start - context.hint);
      posScore = 1.0 - offset / text.length;
    }
    const rawScore =
      quoteWeight * quoteScore + prefixWeight * prefixScore + suffixWeight * suffixScore + posWeight * posScore;
    const maxScore = quoteWeight + prefixWeight + suffixWeight + posWeight;
    return rawScore / maxScore;
  };
  const scoredMatches = matches.map((m) => ({ start: m.start, end: m.end, score: scoreMatch(m) }));
  scoredMatches.sort((a, b) => b.score - a.score);
  return scoredMatches[0];
}

/**
 * Anchors one annotation the way html.js's anchor() does, on the page text (UTF-16
 * offsets, as the DOM counts): position first (kept only if it still holds the quote),
 * then the quote. Returns [start, end] or null.
 */
export function anchor(text, quote, position) {
  if (position && quote && text.slice(position.start, position.end) === quote.exact) {
    return [position.start, position.end];
  }
  if (!quote) {
    return position ? [position.start, position.end] : null;
  }
  const m = matchQuote(text, quote.exact, { prefix: quote.prefix, suffix: quote.suffix, hint: position?.start });
  return m ? [m.start, m.end] : null;
}
