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

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

/** Serves tests/fixtures on 127.0.0.1:0; paths under strict-csp/ get `script-src 'self'`. */
export async function startFixtures() {
  const root = resolve(FIXTURES);
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(root, path);
    if (!file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      const headers = { 'content-type': TYPES[extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' };
      if (path.includes('strict-csp')) headers['content-security-policy'] = "script-src 'self'";
      res.writeHead(200, headers).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${server.address().port}`;
}

/** A copy of the built extension with a preset.json (allowed sites, server URL). */
export async function extensionWithPreset(preset) {
  const dir = await tempDir('ext');
  await cp(EXTENSION_DIR, dir, { recursive: true });
  await writeFile(join(dir, 'preset.json'), JSON.stringify(preset));
  return dir;
}

/** A fresh browser profile with the extension loaded. */
export async function launchBrowser(extensionDir) {
  const profile = await tempDir('profile');
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
  return { context, worker, extensionId };
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
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

/** Texts painted by Cairn on a page under a CSS highlight name. */
export async function highlighted(page, name) {
  return page.evaluate((n) => {
    const h = CSS.highlights.get(n);
    return h ? [...h].map((r) => r.toString()) : [];
  }, name);
}

/** All texts Cairn painted on the page, whatever the colour. */
export async function allHighlighted(page) {
  const names = ['cairn-yellow', 'cairn-green', 'cairn-blue', 'cairn-pink', 'cairn-teammate'];
  const out = [];
  for (const n of names) out.push(...(await highlighted(page, n)));
  return out;
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
