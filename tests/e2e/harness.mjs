// The end-to-end harness: a real Cairn server (the built binary, SQLite in a temp
// dir), a static server for the fixture pages, and Debian's Chromium with the
// built extension loaded, driven by playwright-core. Everything on 127.0.0.1.
//
// Environment (set by `cargo xtask test`):
//   CAIRN_EXTENSION_DIR  the unpacked extension (target/dist/extension)
//   CAIRN_SERVER_BIN     the cairn-server binary
//   CAIRN_FIXTURES       tests/fixtures
//   CHROMIUM             the browser (default /usr/bin/chromium)
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the end-to-end tests with \`cargo xtask test\``);
  return v;
}

export const EXTENSION_DIR = required('CAIRN_EXTENSION_DIR');
export const SERVER_BIN = required('CAIRN_SERVER_BIN');
export const FIXTURES = required('CAIRN_FIXTURES');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CLI_BIN = process.env.CAIRN_CLI_BIN;

const cleanups = [];
export async function cleanupAll() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch (e) {
      console.error('cleanup failed:', e);
    }
  }
}

export async function tempDir(prefix) {
  const dir = await mkdtemp(join(tmpdir(), `cairn-${prefix}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts `cairn-server serve --demo` (127.0.0.1, port 0 unless given) and returns
 * its base URL and a handle to stop and restart it on the same data and port.
 */
export async function startServer({ dataDir, port = 0 } = {}) {
  dataDir ??= await tempDir('server');
  const child = spawn(SERVER_BIN, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  cleanups.push(stop);
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`cairn-server did not start:\n${stderr}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`cairn-server exited with ${code}:\n${stderr}`)));
    lines.on('line', (line) => {
      const m = line.match(/^cairn-server listening on (http:\/\/\S+)$/);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
  });
  const restart = () => startServer({ dataDir, port: new URL(url).port });
  return { url, stop, restart };
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
};

/**
 * Serves tests/fixtures on 127.0.0.1:0; paths under strict-csp/ get `script-src 'self'`.
 * `put(path, html)` serves a page made by the test (e.g. an edited version of a page).
 */
export async function startFixtures() {
  const root = resolve(FIXTURES);
  const made = new Map();
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    // Pages under /private/ need a session cookie, like an intranet behind a login.
    if (path.startsWith('/private/') && !(req.headers.cookie || '').includes('session=demo')) {
      res.writeHead(401, { 'content-type': 'text/html' }).end('<h1>Please sign in</h1>');
      return;
    }
    if (made.has(path)) {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(made.get(path));
      return;
    }
    // Single-page-app fixtures: any path under /spa/ serves the app shell.
    const file = join(root, path.startsWith('/spa/') && !extname(path) ? '/spa/index.html' : path);
    if (!file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      const headers = {
        'content-type': TYPES[extname(file)] || 'application/octet-stream',
        'cache-control': 'no-store',
      };
      if (path.includes('strict-csp')) headers['content-security-policy'] = "script-src 'self'";
      res.writeHead(200, headers).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, put: (path, html) => made.set(path, html) };
}

/** A copy of the built extension with a preset.json (allowed sites, server URL). */
export async function extensionWithPreset(preset) {
  const dir = await tempDir('ext');
  await cp(EXTENSION_DIR, dir, { recursive: true });
  await writeFile(join(dir, 'preset.json'), JSON.stringify(preset));
  return dir;
}

/**
 * What every suite starts with: the demo server, the fixture pages and a copy of
 * the extension whose preset allows the fixtures' site and names the server.
 */
export async function startStack() {
  const server = await startServer();
  const fixtures = await startFixtures();
  const extensionDir = await extensionWithPreset({ allowed_sites: [fixtures.origin], server_url: server.url });
  return { server, fixtures, extensionDir };
}

/** A browser with the extension loaded: a fresh profile, or `profile` to reopen one. */
export async function launchBrowser(extensionDir, { profile } = {}) {
  profile ??= await tempDir('profile');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless=new',
      `--disable-extensions-except=${extensionDir}`,
      `--load-extension=${extensionDir}`,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  cleanups.push(() => context.close());
  const worker = context.serviceWorkers()[0] || (await context.waitForEvent('serviceworker'));
  const extensionId = new URL(worker.url()).host;
  // The worker is up once the wasm module answered a status request.
  await worker.evaluate(async () => {
    for (let i = 0; i < 100; i++) {
      if (globalThis.cairnWorker) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the wasm service worker did not start');
  });
  // Installation is done when the content script is registered for the preset's sites.
  await eventually(
    () => worker.evaluate(async () => (await chrome.scripting.getRegisteredContentScripts()).length > 0),
    'the content script registration',
  );
  return { context, worker, extensionId, profile };
}

/** Waits until `probe()` returns a truthy value; returns it. Polls, no fixed sleeps. */
export async function eventually(probe, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`,
  );
}

/** Texts painted by Cairn on a page under a CSS highlight name; `cairn-teammate`
 *  means any teammate's colour (`cairn-teammate-0` ... `-7`). */
export async function highlighted(page, name) {
  return page.evaluate((n) => {
    const out = [];
    for (const [key, h] of CSS.highlights) {
      if (key === n || (n === 'cairn-teammate' && key.startsWith('cairn-teammate-'))) {
        out.push(...[...h].map((r) => r.toString()));
      }
    }
    return out;
  }, name);
}

/** All texts Cairn painted on the page, whatever the colour. */
export async function allHighlighted(page) {
  return page.evaluate(() => {
    const out = [];
    for (const [key, h] of CSS.highlights) {
      if (key.startsWith('cairn-')) out.push(...[...h].map((r) => r.toString()));
    }
    return out;
  });
}

/** Selects `text` on the page (first occurrence inside the element matching `within`). */
export async function select(page, text, within = 'body') {
  await page.evaluate(
    ({ text, within }) => {
      const root = document.querySelector(within);
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const i = n.data.indexOf(text);
        if (i >= 0) {
          const r = document.createRange();
          r.setStart(n, i);
          r.setEnd(n, i + text.length);
          getSelection().removeAllRanges();
          getSelection().addRange(r);
          return;
        }
      }
      throw new Error(`text not found on the page: ${text}`);
    },
    { text, within },
  );
}

/**
 * Does what the context-menu entry and the keyboard command do: the background
 * asks the tab's content script to highlight the selection.
 */
export async function highlightSelection(worker, pageUrl) {
  await worker.evaluate(async (url) => {
    const [tab] = await chrome.tabs.query({ url });
    if (!tab) throw new Error(`no tab for ${url}`);
    await globalThis.cairnWorker.on_highlight_command(tab.id);
  }, pageUrl);
}

/** Opens the options page and signs in with a demo account. */
export async function signIn(context, extensionId, username, password, serverUrl) {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${extensionId}/options.html`);
  if (serverUrl) await page.getByTestId('server-url').fill(serverUrl);
  await page.getByTestId('username').fill(username);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('signed-in').waitFor();
  await page.close();
}

/** Opens the popup for a page (in a tab) and returns it. */
export async function openPopup(context, extensionId, pageUrl) {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${extensionId}/popup.html?url=${encodeURIComponent(pageUrl)}`);
  return page;
}

/**
 * Cairn's in-page UI lives in a closed shadow root, which page scripts (and
 * Playwright locators) cannot enter. The DevTools protocol can: these helpers
 * find elements there the way a user sees them, by their text.
 */
async function overlayNodes(page) {
  const cdp = await page.context().newCDPSession(page);
  const { root } = await cdp.send('DOM.getDocument', { depth: -1, pierce: true });
  const found = [];
  const walk = (node, inOverlay) => {
    const here = inOverlay || node.nodeName === 'CAIRN-OVERLAY';
    if (here) found.push(node);
    for (const c of [...(node.children || []), ...(node.shadowRoots || [])]) walk(c, here);
  };
  walk(root, false);
  return { cdp, found };
}

function textOf(node) {
  if (node.nodeType === 3) return node.nodeValue;
  return [...(node.children || []), ...(node.shadowRoots || [])].map(textOf).join('');
}

/** Clicks the button with this text in Cairn's overlay. */
export async function clickOverlayButton(page, label) {
  const { cdp, found } = await overlayNodes(page);
  const button = found.find((n) => n.nodeName === 'BUTTON' && textOf(n).trim() === label);
  if (!button) throw new Error(`no "${label}" button in Cairn's overlay`);
  const { model } = await cdp.send('DOM.getBoxModel', { backendNodeId: button.backendNodeId });
  const [x1, y1, , , x3, y3] = model.content;
  await cdp.detach();
  await page.mouse.click((x1 + x3) / 2, (y1 + y3) / 2);
}

/** The HTML inside Cairn's overlay (its shadow root), '' when hidden. */
export async function overlayHtml(page) {
  const { cdp, found } = await overlayNodes(page);
  const host = found.find((n) => n.nodeName === 'CAIRN-OVERLAY');
  const shadow = host?.shadowRoots?.[0];
  let html = '';
  if (shadow) {
    for (const child of shadow.children || []) {
      html += (await cdp.send('DOM.getOuterHTML', { backendNodeId: child.backendNodeId })).outerHTML;
    }
  }
  await cdp.detach();
  const visible = await page.evaluate(
    () => getComputedStyle(document.querySelector('cairn-overlay')).display !== 'none',
  );
  return visible ? html : '';
}

/** The page's text model, computed the way the content script does. */
export async function pageText(page) {
  return page.evaluate(() => {
    const skipped = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'TEXTAREA', 'IFRAME', 'OBJECT']);
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode: (n) =>
        n.nodeType === 3
          ? NodeFilter.FILTER_ACCEPT
          : skipped.has(n.nodeName.toUpperCase())
            ? NodeFilter.FILTER_REJECT
            : NodeFilter.FILTER_SKIP,
    });
    let text = '';
    for (let n = walker.nextNode(); n; n = walker.nextNode()) text += n.data;
    return text;
  });
}

/** The centre of the first occurrence of `text` on the page, for real mouse clicks. */
export async function pointOf(page, text) {
  return page.evaluate((text) => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const i = n.data.indexOf(text);
      if (i >= 0) {
        const r = document.createRange();
        r.setStart(n, i);
        r.setEnd(n, i + text.length);
        const b = r.getBoundingClientRect();
        return { x: b.left + b.width / 2, y: b.top + b.height / 2 };
      }
    }
    throw new Error(`text not found on the page: ${text}`);
  }, text);
}

/**
 * Opens Cairn's side panel for the tab showing `pageUrl`, as a page of its own
 * (`panel.html?tab=ID`): the same extension page the browser's side panel hosts,
 * which headless Chromium has no window chrome to show.
 */
export async function openPanel(browser, pageUrl, { viewport = { width: 380, height: 760 } } = {}) {
  const tabId = await browser.worker.evaluate(async (url) => {
    const [tab] = await chrome.tabs.query({ url });
    if (!tab) throw new Error(`no tab for ${url}`);
    return tab.id;
  }, pageUrl);
  const panel = await browser.context.newPage();
  await panel.setViewportSize(viewport);
  await panel.goto(`chrome-extension://${browser.extensionId}/panel.html?tab=${tabId}`);
  await panel.locator('[data-testid="connection"]').filter({ hasNotText: '…' }).waitFor();
  await panel.waitForFunction(() => !document.body.textContent.includes('Loading…'));
  return panel;
}

/** The side panel's (or popup's) highlights as listed: quote, author, audience, note text, tags. */
export async function listedHighlights(page) {
  return page.getByTestId('highlight').evaluateAll((els) =>
    els.map((el) => ({
      quote: el.querySelector('[data-testid="quote"]').textContent,
      teammate: el.querySelector('[data-testid="teammate"]')?.textContent ?? null,
      audience: el.querySelector('[data-testid="audience"]')?.textContent ?? null,
      note: el.querySelector('[data-testid="note"]')?.textContent.trim() ?? null,
      tags: [...el.querySelectorAll('[data-testid="tag"]')].map((t) => t.textContent),
      orphan: el.dataset.orphan === 'true',
    })),
  );
}
