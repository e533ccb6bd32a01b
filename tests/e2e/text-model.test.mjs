// The text model is written three times: the content script's `collectText`
// (extension/content.js), cairn-anchor's `html::document_text` (Rust, for saved pages:
// the `cairn` CLI and the corpora), and the harness's `pageText()`. Offsets stored by one
// are resolved by another, so they must agree character by character. This test loads
// the same pages in Chromium and in Rust and compares the three texts.
//
// The content script's own function runs: its source is taken from the built
// extension's content.js (not a copy), evaluated in the page. The pages' own scripts do
// not run, since the Rust side parses the HTML without running them (pages that build
// their content in JavaScript differ for that reason alone, which is not what this
// checks): this test serves the pages itself with `Content-Security-Policy: script-src
// 'none'` and aborts every request but the page's. (A context with JavaScript disabled
// cannot run the TreeWalker's filter callback, so that is not an option.)
//
// Pages: tests/fixtures, every Readability test page and every tenth WCXB development
// page (all seven page types), from the shared testdata
// ($CAIRN_TESTDATA, else ../shared/testdata beside the checkout).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { CHROMIUM, CLI_BIN, EXTENSION_DIR, FIXTURES, cleanupAll, pageText, tempDir } from './harness.mjs';

const TESTDATA = process.env.CAIRN_TESTDATA || resolve(FIXTURES, '../../../shared/testdata');

/** `const SKIPPED = ...;` and `function collectText() {...}` from the content script's source. */
function contentScriptTextModel() {
  const src = readFileSync(join(EXTENSION_DIR, 'content.js'), 'utf8');
  const skipped = src.match(/^\s*const SKIPPED = new Set\(\[[^\]]*\]\);$/m);
  const start = src.indexOf('function collectText()');
  assert.ok(skipped && start >= 0, 'content.js no longer has `const SKIPPED` and `function collectText()`');
  // The function's body: up to the brace that closes the one after its signature.
  let depth = 0;
  let end = src.indexOf('{', start);
  for (; end < src.length; end++) {
    if (src[end] === '{') depth++;
    else if (src[end] === '}' && --depth === 0) break;
  }
  return `${skipped[0]}\n${src.slice(start, end + 1)}`;
}

function htmlFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return htmlFiles(path);
    return name.endsWith('.html') ? [path] : [];
  });
}

/** `[name, file the CLI reads, bytes the browser gets]` for every page compared. */
async function pages() {
  assert.ok(
    existsSync(join(TESTDATA, 'wcxb-dev')),
    `shared testdata not found at ${TESTDATA} (set CAIRN_TESTDATA to the shared testdata folder)`,
  );
  const out = htmlFiles(FIXTURES).map((f) => [`fixtures/${relative(FIXTURES, f)}`, f, readFileSync(f)]);
  const readability = join(TESTDATA, 'mozilla-readability-test-pages/test/test-pages');
  for (const name of readdirSync(readability).sort()) {
    const f = join(readability, name, 'source.html');
    if (existsSync(f)) out.push([`readability/${name}`, f, readFileSync(f)]);
  }
  const wcxb = join(TESTDATA, 'wcxb-dev/html');
  const unzipped = await tempDir('wcxb');
  const gz = readdirSync(wcxb)
    .filter((n) => n.endsWith('.html.gz'))
    .sort();
  for (const name of gz.filter((_, i) => i % 10 === 0)) {
    const html = gunzipSync(readFileSync(join(wcxb, name)));
    const f = join(unzipped, name.replace(/\.gz$/, ''));
    writeFileSync(f, html);
    out.push([`wcxb-dev/${name}`, f, html]);
  }
  return out;
}

/** Where two texts first differ, with a little of each around it. */
function firstDifference(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const around = (s) => JSON.stringify(s.slice(Math.max(0, i - 40), i + 40));
  return `lengths ${a.length} and ${b.length}, first difference at UTF-16 offset ${i}:\n    ${around(a)}\n    ${around(b)}`;
}

/** Serves `pages.get(path)` as UTF-8 HTML that may run no script of its own. */
async function startPageServer(pages) {
  const server = createServer((req, res) => {
    const body = pages.get(new URL(req.url, 'http://x').pathname);
    if (!body) return res.writeHead(404).end();
    res
      .writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "script-src 'none'",
        'cache-control': 'no-store',
      })
      .end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

let browser;
let server;
const served = new Map();
before(async () => {
  assert.ok(CLI_BIN, 'CAIRN_CLI_BIN is not set: run the end-to-end tests with `cargo xtask test`');
  server = await startPageServer(served);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
});
after(async () => {
  await browser?.close();
  await server?.close();
  await cleanupAll();
});

test('the content script, the harness and cairn-anchor read the same text from every page', async () => {
  const model = contentScriptTextModel();
  const context = await browser.newContext();
  // Only the page itself is loaded: images, styles and scripts change nothing in the text
  // model and would only wait on the network.
  await context.route('**/*', (route) =>
    route.request().resourceType() === 'document' ? route.continue() : route.abort(),
  );
  const page = await context.newPage();
  const list = await pages();
  assert.ok(list.length >= 180, `only ${list.length} pages`);
  const disagreements = [];
  for (const [name, file, bytes] of list) {
    const path = `/${name.replace(/[^A-Za-z0-9.-]/g, '_')}`;
    served.set(path, bytes);
    await page.goto(server.origin + path, { waitUntil: 'domcontentloaded' });
    // A string is evaluated as it is, like the extension's script; the page's CSP does not apply.
    const browserText = await page.evaluate(`(() => {\n${model}\nreturn collectText().text;\n})()`);
    const harnessText = await pageText(page).catch((e) => `pageText() failed: ${e.message.split('\n')[0]}`);
    const rustText = JSON.parse(
      execFileSync(CLI_BIN, ['anchor', '--html', file, '--text'], { encoding: 'utf8', maxBuffer: 1 << 28 }),
    );
    if (browserText !== rustText) {
      disagreements.push(`${name}: content script vs cairn-anchor: ${firstDifference(browserText, rustText)}`);
    }
    if (browserText !== harnessText)
      disagreements.push(`${name}: content script vs pageText(): ${firstDifference(browserText, harnessText)}`);
  }
  await context.close();
  assert.deepEqual(
    disagreements,
    [],
    `${disagreements.length} of ${list.length} pages disagree:\n${disagreements.join('\n')}`,
  );
});
