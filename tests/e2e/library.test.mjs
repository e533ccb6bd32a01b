// The Library: everything kept, grouped by page, searched as you type with the
// matches marked, filtered by kind and author, and exported.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { allHighlighted, cleanupAll, eventually, launchBrowser, signIn, startStack } from './harness.mjs';
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

    // Imported into a fresh profile, the export gives back the same annotations, which
    // anchor on their pages like any other.
    const fresh = await launchBrowser(extensionDir);
    const freshLibrary = await fresh.context.newPage();
    await freshLibrary.goto(`chrome-extension://${fresh.extensionId}/library.html`);
    await freshLibrary.getByTestId('library-empty').waitFor();
    await freshLibrary.getByTestId('import-file').setInputFiles(await download.path());
    await eventually(
      async () => /Imported 3 items .*W3C annotations/.test(await freshLibrary.getByTestId('notice').textContent()),
      'the import report',
    );
    const back = await eventually(async () => {
      const groups = await shown(freshLibrary);
      return groups.length === 2 && groups;
    }, 'the imported items listed');
    const quotesOf = (groups) => groups.flatMap((g) => g.quotes).sort();
    assert.deepEqual(quotesOf(back), [
      'A rollback is always the safe choice',
      'Deploys happen on Tuesdays and Thursdays',
      'The canary ran for twelve minutes',
    ]);
    const freshPage = await webPage(fresh, runbook);
    await eventually(async () => (await allHighlighted(freshPage)).length === 2, 'the imported highlights anchored');
    // Importing the same file again adds nothing and says why.
    await freshLibrary.getByTestId('import-file').setInputFiles(await download.path());
    await eventually(
      async () => /Imported 0 items.*skipped 3: .*already/.test(await freshLibrary.getByTestId('notice').textContent()),
      'the second import skipping duplicates',
    );
  });

  test('a Hypothesis export imports with a report, and its highlight anchors on the page', async () => {
    const url = put('/library/article.html', 'An article', [
      'This is the claim we test, and it is a good one.',
      'Another paragraph follows it.',
    ]);
    const file = {
      export_date: '2024-05-02T09:00:00.000Z',
      export_userid: 'acct:me@hypothes.is',
      client_version: '1.1500.0',
      annotations: [
        {
          id: 'Ab12Cd34Ef56',
          created: '2024-05-01T10:00:00.123456+00:00',
          updated: '2024-05-01T11:00:00.000000+00:00',
          user: 'acct:me@hypothes.is',
          uri: url,
          text: 'Key claim',
          tags: ['Claims'],
          target: [
            {
              source: url,
              selector: [{ type: 'TextQuoteSelector', exact: 'the claim', prefix: 'This is ', suffix: ' we test' }],
            },
          ],
          document: { title: ['An article'] },
        },
        {
          id: 'Gh78',
          created: '2024-05-01T12:00:00.000000+00:00',
          user: 'acct:other@hypothes.is',
          uri: url,
          text: 'I agree',
          references: ['Ab12Cd34Ef56'],
          target: [{ source: url }],
        },
      ],
    };
    const browser = await launchBrowser(extensionDir);
    const library = await browser.context.newPage();
    await library.goto(`chrome-extension://${browser.extensionId}/library.html`);
    await library.getByTestId('library-empty').waitFor();
    await library.getByTestId('import-file').setInputFiles({
      name: 'hypothesis-export.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(file)),
    });
    const report = await eventually(async () => {
      const t = await library.getByTestId('notice').textContent();
      return /Imported 1 items/.test(t) && t;
    }, 'the import report');
    assert.match(report, /a Hypothesis export/);
    assert.match(report, /skipped 1: item 2 \(Gh78\): .*repl/i);
    await library.getByTestId('library-item').waitFor();
    assert.equal(await library.getByTestId('tag').textContent(), 'Claims');
    const page = await webPage(browser, url);
    await eventually(async () => (await allHighlighted(page)).includes('the claim'), 'the imported highlight painted');

    // A file that is not an export is refused with the reason, and nothing is stored.
    await library.getByTestId('import-file').setInputFiles({
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('just some text'),
    });
    await eventually(
      async () => /notes\.txt: the file is not JSON/.test(await library.getByTestId('notice').textContent()),
      'the refusal',
    );
    assert.equal(await library.getByTestId('library-item').count(), 1);
  });

  test('an empty Library says what will appear there', async () => {
    const browser = await launchBrowser(extensionDir);
    const library = await browser.context.newPage();
    await library.goto(`chrome-extension://${browser.extensionId}/library.html`);
    await library.getByTestId('library-empty').waitFor();
  });
});
