// `cargo xtask bench anchor`, one side per process (so each side's peak RSS is its own):
//
//   node tests/bench/anchor.mjs --side cairn|hypothesis --workload W.json --out R.json
//        [--wasm target/bench/wasm/cairn_bench_wasm.js] [--runs 7]
//
// The workload (from crates/cairn-bench-wasm/examples/bench_data.rs) holds one long page
// with 500 highlights and the edit corpus; positions are code points. The long page is
// re-anchored `runs` times after one warm-up run; timings go to stdout as JSON, anchors
// (code points) to --out, for the native scorer.

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs, median, timed, loadWasm, memory } from './common.mjs';
import { anchor as hypothesisAnchor } from './hypothesis-match-quote.mjs';

const args = parseArgs();
const runs = Number(args.runs ?? 7);
const side = args.side;
if (side !== 'cairn' && side !== 'hypothesis') throw new Error('--side cairn|hypothesis');

const workload = JSON.parse(readFileSync(args.workload, 'utf8'));
const wasm = side === 'cairn' ? loadWasm(args.wasm) : null;
const before = memory(wasm);

/** Code point <-> UTF-16 conversions for a text (identity when it is all BMP). */
function offsets(text) {
  const cps = [...text];
  if (cps.length === text.length) return { toU16: (c) => c, toCp: (u) => u };
  const u16 = new Uint32Array(cps.length + 1);
  for (let i = 0; i < cps.length; i++) u16[i + 1] = u16[i] + cps[i].length;
  const cp = new Uint32Array(text.length + 1);
  for (let i = 0, c = 0; i <= text.length; i++) {
    while (c < cps.length && u16[c + 1] <= i) c++;
    cp[i] = u16[c] === i ? c : c + 1;
  }
  return { toU16: (c) => u16[Math.min(c, cps.length)], toCp: (u) => cp[Math.min(u, text.length)] };
}

/**
 * What each side does for one page, timed as a whole. Cairn: the selectors serialized,
 * one call into wasm (the page text copied in, a TextIndex built, every annotation
 * resolved), the answer parsed. Hypothesis: its anchor() on every annotation, with the
 * stored positions in UTF-16 as the DOM counts them (converted before timing, since
 * Hypothesis stores them that way), answers converted back to code points after.
 */
function prepare(page) {
  if (side === 'cairn') {
    const selectors = page.cases.map((c) => c.selectors);
    return { run: () => JSON.parse(wasm.anchor_all(page.text, JSON.stringify(selectors))), finish: (r) => r };
  }
  const off = offsets(page.text);
  const cases = page.cases.map((c) => {
    const q = c.selectors.find((s) => s.type === 'TextQuoteSelector');
    const p = c.selectors.find((s) => s.type === 'TextPositionSelector');
    return {
      quote: q ? { exact: q.exact, prefix: q.prefix ?? '', suffix: q.suffix ?? '' } : null,
      position: p ? { start: off.toU16(p.start), end: off.toU16(p.end) } : null,
    };
  });
  return {
    run: () => cases.map((c) => hypothesisAnchor(page.text, c.quote, c.position)),
    finish: (r) => r.map((a) => (a ? [off.toCp(a[0]), off.toCp(a[1])] : null)),
  };
}

const long = prepare(workload.long);
const [warmupMs] = timed(long.run);
const times = [];
let longResult;
for (let i = 0; i < runs; i++) {
  const [ms, r] = timed(long.run);
  times.push(ms);
  longResult = r;
}
const afterLong = memory(wasm);

const [corpusMs, corpusResults] = timed(() =>
  workload.corpus.map((p) => {
    const w = prepare(p);
    return w.finish(w.run());
  }),
);
const after = memory(wasm);

writeFileSync(args.out, JSON.stringify({ long: long.finish(longResult), corpus: corpusResults }));
console.log(
  JSON.stringify({
    side,
    runs,
    warmup_ms: warmupMs,
    times_ms: times,
    median_ms: median(times),
    min_ms: Math.min(...times),
    corpus_ms: corpusMs,
    corpus_pages: workload.corpus.length,
    memory: { before, after_long: afterLong, after },
  }),
);
