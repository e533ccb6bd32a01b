// The whole clip path in headless Chromium on a 5 MB page: the content script
// serializes the live DOM, the service worker's wasm extracts the article and
// writes Markdown, the clip is stored. Timed from the request to the stored clip.
// Usage: node clip-chromium.mjs --extension DIST [--runs N]; prints one JSON line.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { extension: { type: 'string' }, runs: { type: 'string', default: '3' } } });
if (!values.extension) throw new Error('--extension DIST is required (cargo xtask dist builds it)');
// The e2e harness reads these; the bench needs only the extension and the browser.
process.env.CAIRN_EXTENSION_DIR = values.extension;
process.env.CAIRN_SERVER_BIN ||= '/bin/false';
process.env.CAIRN_FIXTURES ||= '.';
const { cleanupAll, eventually, extensionWithPreset, launchBrowser } = await import('../e2e/harness.mjs');

// A long intranet page, ~5 MB of HTML shaped like a wiki's: most of the bytes are
// markup (wrappers with attributes, inline icons, macro scripts), the text is a
// long handbook (sections, paragraphs, lists, code, tables) that fits in one clip.
function page() {
  const parts = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Platform handbook</title></head><body><nav>Home · Docs</nav><article><h1>Platform handbook</h1>',
  ];
  const icon = `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true">${'<path d="M12 2l3 7h7l-5.5 4 2 7-6.5-4.5L5.5 20l2-7L2 9h7z"/>'.repeat(8)}</svg>`;
  const macro = `<script type="text/x-macro">${'window.wikiMacros = (window.wikiMacros || []).concat([{ name: "status", params: { colour: "green" } }]);'.repeat(12)}</script>`;
  let size = 0;
  for (let i = 0; size < 5_000_000; i++) {
    const wrap = (inner) =>
      `<div class="wiki-section" data-section-id="${i}" data-macro-id="m-${i}" data-layout="full-width">${inner}</div>`;
    const p = wrap(
      `<h2>${icon}Section ${i}</h2>${macro}<p>Section ${i} explains how the platform team deploys, observes and rolls back service ${i}. ` +
        'Every change goes through review, a canary and a staged rollout. ' +
        `</p><ul><li>Owner: team ${i % 17}</li><li>Runbook: <a href="/runbooks/${i}">runbook ${i}</a></li></ul>` +
        `<pre><code class="language-sh">deployctl promote service-${i} --region all</code></pre>` +
        `<table><tr><th>Region</th><th>Replicas</th></tr><tr><td>eu-west</td><td>${i % 9}</td></tr></table>`,
    );
    parts.push(p);
    size += p.length;
  }
  parts.push('</article><footer>Company wiki</footer></body></html>');
  return parts.join('');
}

const html = page();
const server = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;
try {
  const ext = await extensionWithPreset({ allowed_sites: [origin] });
  const { context, worker } = await launchBrowser(ext);
  const tab = await context.newPage();
  const url = `${origin}/handbook.html`;
  await tab.goto(url);
  await eventually(
    () => worker.evaluate(async (u) => (await chrome.tabs.query({ url: u })).length === 1, url),
    'the tab',
  );
  const times = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const ms = await worker.evaluate(async (u) => {
      const [t] = await chrome.tabs.query({ url: u });
      const started = performance.now();
      const answer = await chrome.tabs.sendMessage(t.id, { kind: 'clip', clip: 'article' });
      if (!answer?.ok) throw new Error(answer?.error || 'no answer');
      return performance.now() - started;
    }, url);
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ html_bytes: html.length, runs: times, median_ms: times[Math.floor(times.length / 2)] }));
} finally {
  server.close();
  await cleanupAll();
}
