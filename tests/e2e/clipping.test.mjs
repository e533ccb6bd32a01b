// Clipping from the live page: selection, article and URL-only clips from a page
// behind a login, kept across an extension reload, downloaded as the core made them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CLI_BIN, cleanupAll, eventually, launchBrowser, openPopup, select, startStack, tempDir } from './harness.mjs';

let fixtures;
let extensionDir;

before(async () => {
  ({ fixtures, extensionDir } = await startStack());
});
after(cleanupAll);

/** The Markdown body of a clip, without its front matter (which holds the clip time). */
const body = (markdown) => markdown.replace(/^---\n[\s\S]*?\n---\n\n?/, '');

async function clipsIn(popup) {
  return popup.getByTestId('clip').evaluateAll((els) =>
    els.map((el) => ({
      kind: el.dataset.kind,
      title: el.querySelector('[data-testid="clip-title"]').textContent,
      preview: el.querySelector('[data-testid="clip-preview"]').textContent,
    })),
  );
}

describe('clipping', () => {
  test('selection, article and URL-only clips from a page behind a login', async () => {
    const url = `${fixtures.origin}/private/design-doc.html`;
    const { context, extensionId, profile } = await launchBrowser(extensionDir);
    await context.addCookies([{ name: 'session', value: 'demo', url: fixtures.origin }]);
    const page = await context.newPage();
    await page.goto(url);
    await page.getByText('Design: Event bus v2').first().waitFor();

    const popup = await openPopup(context, extensionId, url);
    await popup.getByTestId('clip-article').click();
    await eventually(async () => (await clipsIn(popup)).length === 1, 'the article clip');
    // The live DOM the article was clipped from, to compare with the `cairn` command below.
    const liveHtml = await page.evaluate(() => document.documentElement.outerHTML);

    await select(page, 'Version 2 replaces the single broker');
    await popup.getByTestId('clip-selection').click();
    await eventually(async () => (await clipsIn(popup)).length === 2, 'the selection clip');

    await popup.getByTestId('clip-note').fill('Read before the architecture review');
    await popup.getByTestId('clip-tags').fill('event-bus, design');
    await popup.getByTestId('clip-url').click();
    await eventually(async () => (await clipsIn(popup)).length === 3, 'the URL-only clip');

    const clips = await clipsIn(popup);
    assert.deepEqual(
      clips.map((c) => c.kind),
      ['URL only', 'selection', 'article'],
    );
    // The article's title comes from the page's content (the wiki's title element); the others use the tab title.
    assert.deepEqual(
      clips.map((c) => c.title),
      ['Design: Event bus v2 - Platform - Wiki', 'Design: Event bus v2 - Platform - Wiki', 'Design: Event bus v2'],
    );
    assert.match(clips[2].preview, /# Design: Event bus v2|The event bus carries every domain event/);
    assert.match(clips[1].preview, /Version 2 replaces the single broker/);
    // URL-only: the link and the note, nothing from the page's body.
    assert.doesNotMatch(clips[0].preview, /partitioned log|broker/);
    assert.match(clips[0].preview, /Read before the architecture review/);

    // The article was clipped from the live page: the server that serves it refuses anyone without the cookie.
    const anonymous = await fetch(url);
    assert.equal(anonymous.status, 401);

    // Close the browser and start it again on the same profile: the extension
    // starts from scratch (new service worker, new wasm instance) and everything is still there.
    const markdownBefore = await popup
      .locator('[data-testid="clip"][data-kind="article"] [data-testid="clip-preview"]')
      .textContent();
    await context.close();
    const reopened = await launchBrowser(extensionDir, { profile });
    const tab = await reopened.context.newPage();
    await tab.goto(url);
    const again = await openPopup(reopened.context, reopened.extensionId, url);
    await again.getByTestId('clip').first().waitFor();
    assert.equal((await clipsIn(again)).length, 3);
    assert.equal(
      await again.locator('[data-testid="clip"][data-kind="article"] [data-testid="clip-preview"]').textContent(),
      markdownBefore,
    );

    // Download the article clip: the file is exactly what the core made of this page.
    const [download] = await Promise.all([
      again.waitForEvent('download'),
      again.locator('[data-testid="clip"][data-kind="article"] [data-testid="download"]').click(),
    ]);
    assert.equal(download.suggestedFilename(), 'Design Event bus v2.md');
    const downloaded = await readFile(await download.path(), 'utf8');
    assert.match(
      downloaded,
      /^---\ntitle: "Design: Event bus v2"\nsource: "http:\/\/127\.0\.0\.1:\d+\/private\/design-doc\.html"\n/,
    );
    assert.match(downloaded, /```rust\nbus\.publish\("orders", &event\)\.await\?;\n```/);
    assert.match(downloaded, /\| Region \| Partitions \|/);

    if (!CLI_BIN) throw new Error('CAIRN_CLI_BIN is not set: run the end-to-end tests with `cargo xtask test`');
    const dir = await tempDir('clip');
    const saved = join(dir, 'page.html');
    await writeFile(saved, liveHtml);
    const { stdout } = await promisify(execFile)(CLI_BIN, ['clip', saved, '--url', url, '--format', 'md'], {
      maxBuffer: 16 << 20,
    });
    assert.equal(body(downloaded), body(stdout));
  });
});
