// `cargo xtask bench library`, the node side. Prints one JSON line of figures.
//
// --side minisearch --items F --queries F --updates F: MiniSearch on the same items and
//   keystrokes as Cairn's index (written by cairn-bench-wasm's `bench_library` example).
//   Configured like Cairn's search: the same fields and weights, words split on what is not
//   a letter, digit or mark and folded (case, diacritics), every word required, the last
//   word also as a prefix while it is being typed. Then the same 1,000 note edits Cairn
//   makes, each as `replace` (MiniSearch's incremental update).
// --side cairn-wasm --wasm F --corpus DIR --out DIR [--quick yes]: the `bench_library`
//   example built for wasm32-wasip1, run in node's WASI (V8's wasm, as in the extension's
//   service worker); it prints its own JSON line.

import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import MiniSearch from 'minisearch';
import { parseArgs, timed, memory } from './common.mjs';

const args = parseArgs();
if (args.side === 'cairn-wasm') {
  // node 20's WASI crashes (SIGSEGV, nodejs/node#53087) when TurboFan makes its syscalls
  // fast API calls; as ordinary calls they cost a little more, and the only ones inside
  // timed regions are the clock reads that bound them.
  setFlagsFromString('--no-turbo-fast-api-calls');
  // node:wasi warns that it is experimental; that note is not a figure.
  process.removeAllListeners('warning');
  const { WASI } = await import('node:wasi');
  const wasi = new WASI({
    version: 'preview1',
    args: ['bench_library', '/testdata', '/out', ...(args.quick ? ['--quick'] : [])],
    preopens: { '/testdata': args.corpus, '/out': args.out },
    returnOnExit: true,
  });
  const module = await WebAssembly.compile(readFileSync(args.wasm));
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  process.exitCode = wasi.start(instance);
} else if (args.side === 'minisearch') {
  minisearch();
} else {
  throw new Error(`--side minisearch or cairn-wasm, not ${args.side}`);
}

function minisearch() {
  const items = JSON.parse(readFileSync(args.items, 'utf8'));
  const queries = JSON.parse(readFileSync(args.queries, 'utf8'));
  const updates = JSON.parse(readFileSync(args.updates, 'utf8'));
  // Cairn's word split (text.rs): anything that is not a letter, digit or combining mark.
  const tokenize = (text) => text.split(/[^\p{L}\p{N}\p{M}]+/u).filter(Boolean);

  global.gc?.();
  const before = memory();
  const [buildMs, index] = timed(() => {
    const ms = new MiniSearch({
      fields: ['title', 'quote', 'note', 'tags', 'clip'],
      storeFields: [],
      tokenize,
      // Diacritics folded, as Cairn does.
      processTerm: (term) => term.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase(),
      searchOptions: {
        boost: { title: 3, quote: 3, note: 2, tags: 2, clip: 1 },
        combineWith: 'AND',
      },
    });
    ms.addAll(items);
    return ms;
  });
  global.gc?.();
  const after = memory();

  const latencies = [];
  const totals = [];
  for (const q of queries) {
    const typing = /[\p{L}\p{N}]$/u.test(q);
    const words = tokenize(q).length;
    const [ms, hits] = timed(() => index.search(q, { prefix: (_term, i) => typing && i === words - 1 }));
    latencies.push(ms);
    totals.push(hits.length);
  }

  const byId = new Map(items.map((item) => [item.id, item]));
  const updateMs = [];
  for (const id of updates.ids) {
    const edited = { ...byId.get(id), note: updates.note };
    const [ms] = timed(() => index.replace(edited));
    updateMs.push(ms);
  }

  const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.round((s.length - 1) * p)];
  };
  console.log(
    JSON.stringify({
      build_ms: buildMs,
      heap_growth_bytes: after.heap_used - before.heap_used,
      rss_growth_bytes: after.rss - before.rss,
      key_p50_ms: pct(latencies, 0.5),
      key_p95_ms: pct(latencies, 0.95),
      key_max_ms: pct(latencies, 1),
      updates: updateMs.length,
      update_p50_ms: pct(updateMs, 0.5),
      update_p95_ms: pct(updateMs, 0.95),
      update_max_ms: pct(updateMs, 1),
      totals,
    }),
  );
}
