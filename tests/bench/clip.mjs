// `cargo xtask bench clip`, one side per process (so each side's peak RSS is its own):
//
//   node tests/bench/clip.mjs --side cairn|readability --corpus TESTDATA --out R.json
//        [--wasm target/bench/wasm/cairn_bench_wasm.js] [--runs 5]
//
// Every page of mozilla-readability-test-pages is extracted `runs` times after one
// warm-up, parse included on both sides: Cairn's wasm clip_article (HTML string in,
// Markdown clip out) and @mozilla/readability on a fresh jsdom document (the way
// Omnivore ran it). Per-page medians go to stdout as JSON; the article texts to --out for
// the native F1 scorer.

import { readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, median, timed, loadWasm, memory } from './common.mjs';

const args = parseArgs();
const runs = Number(args.runs ?? 5);
const side = args.side;
if (side !== 'cairn' && side !== 'readability') throw new Error('--side cairn|readability');
// The URL Readability's own test harness gives every page.
const URL = 'http://fakehost/test/page.html';

let extract;
let wasm = null;
if (side === 'cairn') {
  wasm = loadWasm(args.wasm);
  extract = (html) => {
    const r = JSON.parse(wasm.clip_article(html, URL));
    return r.ok ? r.text : null;
  };
} else {
  const { JSDOM, VirtualConsole } = await import('jsdom');
  const { Readability } = await import('@mozilla/readability');
  const virtualConsole = new VirtualConsole(); // pages' CSS and script errors stay quiet
  extract = (html) => {
    const dom = new JSDOM(html, { url: URL, virtualConsole });
    const article = new Readability(dom.window.document).parse();
    dom.window.close();
    return article ? article.textContent : null;
  };
}

const dir = join(args.corpus, 'mozilla-readability-test-pages/test/test-pages');
const names = readdirSync(dir)
  .filter((n) => existsSync(join(dir, n, 'source.html')))
  .sort();
const before = memory(wasm);
const pages = [];
for (const name of names) {
  const html = readFileSync(join(dir, name, 'source.html'), 'utf8');
  let text = null;
  try {
    text = extract(html); // warm-up, and the text scored
  } catch (e) {
    pages.push({ name, error: String(e), median_ms: null, text: null });
    continue;
  }
  const times = [];
  for (let i = 0; i < runs; i++) {
    globalThis.gc?.();
    times.push(timed(() => extract(html))[0]);
  }
  pages.push({ name, bytes: Buffer.byteLength(html), median_ms: median(times), text });
  if (pages.length % 25 === 0) process.stderr.write(`      ${side}: ${pages.length}/${names.length} pages\n`);
}
const after = memory(wasm);
writeFileSync(args.out, JSON.stringify({ pages: pages.map(({ name, text }) => ({ name, text })) }));
console.log(
  JSON.stringify({
    side,
    runs,
    pages: pages.map(({ name, bytes, median_ms, error }) => ({ name, bytes, median_ms, error })),
    memory: { before, after },
  }),
);
