// The Library: everything kept, grouped by page, searched as you type with the
// matches marked, filtered by kind and author, and exported.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, eventually, launchBrowser, signIn, startStack } from './harness.mjs';
import { makeHighlights, synced } from './surfaces.mjs';

let fixtures;
let extensionDir;

before(async () => {
  ({ fixtures, extensionDir } = await startStack());
});
after(cleanupAll);

function put(path, title, paragraphs) {
  fixtures.put(
    path,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1>` +
      `${paragraphs.map((p) => `<p>${p}</p>`).join('')}</main></body></html>`,
  );
  return `${fixtures.origin}${path}`;
}

async function webPage(browser, url) {
  const page = await browser.context.newPage();
  await page.goto(url);
  return page;
}

/** The Library as shown: each page's title and its items' quotes. */
async function shown(library) {
  return library.getByTestId('library-page').evaluateAll((pages) =>
    pages.map((p) => ({
      title: p.querySelector('[data-testid="page-title"]').textContent,
      quotes: [...p.querySelectorAll('[data-testid="library-item"] [data-testid="quote"]')].map((q) => q.textContent),
    })),
  );
}

describe('the Library', () => {
  test('lists what was kept on several pages, searches as you type, filters, and exports', async () => {
    const runbook = put('/library/runbook.html', 'Release runbook', [
      'Deploys happen on Tuesdays and Thursdays only.',
      'A rollback is always the safe choice when p99 latency doubles.',
    ]);
    const review = put('/library/review.html', 'Incident review 4211', [
      'The canary ran for twelve minutes before promotion.',
      'Nobody watched the latency dashboard during the deploy.',
    ]);
    const bob = await launchBrowser(extensionDir);
    await signIn(bob.context, bob.extensionId, 'bob', 'bob-demo-password');
    const bobPage = await webPage(bob, review);
    await makeHighlights(bob, bobPage, review, [{ quote: 'Nobody watched the latency dashboard during the deploy' }]);
    await synced(bob);

    const alice = await launchBrowser(extensionDir);
    await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password');
    const page = await webPage(alice, runbook);
    await makeHighlights(alice, page, runbook, [
      { quote: 'A rollback is always the safe choice', note: 'Roll back **first**, ask questions later.' },
      { quote: 'Deploys happen on Tuesdays and Thursdays' },
    ]);
    const other = await webPage(alice, review);
    await makeHighlights(alice, other, review, [{ quote: 'The canary ran for twelve minutes' }]);
    await other.reload(); // brings bob's shared highlight into this browser
    await eventually(
      () => other.evaluate(() => [...CSS.highlights.keys()].some((k) => k.startsWith('cairn-teammate'))),
      "bob's highlight on alice's page",
    );

    const library = await alice.context.newPage();
    await library.goto(`chrome-extension://${alice.extensionId}/library.html`);
    await library.getByTestId('library-page').first().waitFor();
    const all = await shown(library);
    assert.deepEqual(
      all.map((p) => p.title).sort(),
      [review, runbook].map((u) => u.replace(/^https?:\/\//, '')).sort(),
      'one group per page, named by the page',
    );
    const runbookGroup = all.find((p) => p.title.endsWith('/library/runbook.html'));
    assert.deepEqual(
      runbookGroup.quotes,
      ['Deploys happen on Tuesdays and Thursdays', 'A rollback is always the safe choice'],
      "a page's items in the order they stand on the page",
    );
    assert.match(await library.getByTestId('library-count').textContent(), /4 items on 2 pages/);

    // Search as you type: the last word matches as a prefix, the matches are marked.
    await library.getByTestId('library-search').pressSequentially('roll');
    await eventually(async () => (await library.getByTestId('library-item').count()) === 1, 'one hit for "roll"');
    const marks = await library.locator('mark').allTextContents();
    assert.ok(marks.length >= 2 && marks.every((m) => /^roll/i.test(m)), `marked: ${marks}`);
    // "deploy" while typing: alice's "Deploys happen…" and bob's "…during the deploy".
    await library.getByTestId('library-search').fill('deploy');
    await eventually(async () => (await library.getByTestId('library-item').count()) === 2, 'two hits for "deploy"');
    // Teammates' finds are searched too, and can be filtered.
    await library.getByTestId('author-filter').filter({ hasText: "Teammates'" }).click();
    await eventually(async () => (await library.getByTestId('library-item').count()) === 1, "bob's hit");
    assert.equal(await library.getByTestId('teammate').textContent(), 'by Bob Example');
    await library.getByTestId('author-filter').filter({ hasText: 'Anyone' }).click();
    await library.getByTestId('library-search').fill('');
    await library.getByTestId('kind-filter').filter({ hasText: 'Notes' }).click();
    await eventually(async () => (await library.getByTestId('library-item').count()) === 1, 'the one note');
    assert.match(await library.getByTestId('note').textContent(), /Roll back \*\*first\*\*/);
    await library.getByTestId('kind-filter').filter({ hasText: 'Everything' }).click();
    await library.getByTestId('library-search').fill('zebra crossing');
    await library.getByTestId('no-matches').waitFor();

    // Open in context links to the passage with a text fragment.
    await library.getByTestId('library-search').fill('canary');
    const href = await library.getByTestId('open-in-context').getAttribute('href');
    assert.equal(href, `${review}#:~:text=The%20canary%20ran%20for%20twelve%20minutes`);

    // The W3C export holds the user's own annotations (not bob's), as a collection.
    const [download] = await Promise.all([library.waitForEvent('download'), library.getByTestId('export-w3c').click()]);
    const doc = JSON.parse(await readFile(await download.path(), 'utf8'));
    assert.deepEqual(doc.type, 'AnnotationCollection');
    const items = doc.first?.items ?? [];
    assert.equal(items.length, 3, JSON.stringify(doc).slice(0, 300));
    assert.ok(items.every((a) => a.type === 'Annotation' && a.target));
    assert.match(await library.getByTestId('notice').textContent(), /Exported 3 items/);
  });

  test('an empty Library says what will appear there', async () => {
    const browser = await launchBrowser(extensionDir);
    const library = await browser.context.newPage();
    await library.goto(`chrome-extension://${browser.extensionId}/library.html`);
    await library.getByTestId('library-empty').waitFor();
  });
});
