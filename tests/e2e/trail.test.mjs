// The Library's reading trail and daily review: the trail records a visit only on a
// site where the user turned it on (nothing on an allowed site where it is off, nothing
// from a forged report), can be searched, forgotten page by page and cleared; the
// review brings old highlights back and remembers the answers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  cleanupAll,
  eventually,
  extensionWithPreset,
  launchBrowser,
  select,
  highlightSelection,
  startFixtures,
  startServer,
} from './harness.mjs';

let fixtures;
let extensionDir;
// The fixtures again, under another origin: an allowed site whose trail stays off.
let otherOrigin;

before(async () => {
  const server = await startServer();
  fixtures = await startFixtures();
  otherOrigin = fixtures.origin.replace('127.0.0.1', 'localhost');
  extensionDir = await extensionWithPreset({ allowed_sites: [fixtures.origin, otherOrigin], server_url: server.url });
});
after(cleanupAll);

function put(path, title, paragraphs) {
  fixtures.put(
    path,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1>` +
      `${paragraphs.map((p) => `<p>${p}</p>`).join('')}</main></body></html>`,
  );
  return path;
}

/** The trail as the worker stored it. */
function storedTrail(worker) {
  return worker.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('cairn');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const req = open.result.transaction('trail').objectStore('trail').getAll();
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        };
      }),
  );
}

async function openLibrary(browser, tab) {
  const library = await browser.context.newPage();
  await library.goto(`chrome-extension://${browser.extensionId}/library.html#${tab}`);
  return library;
}

const longText = Array.from({ length: 60 }, (_, i) => `Step ${i + 1}: check the payment queue before the deploy.`);

describe('the reading trail', () => {
  test('records pages only where it is turned on, is searched, forgotten and cleared', async () => {
    const runbook = put('/trail/runbook.html', 'Payments runbook', longText);
    const handbook = put('/trail/handbook.html', 'HR handbook', ['Holidays are booked in the HR tool.']);
    const browser = await launchBrowser(extensionDir);
    const library = await openLibrary(browser, 'trail');
    await library.getByTestId('trail-empty').filter({ hasText: 'The reading trail is off' }).waitFor();
    const switches = library.getByTestId('trail-site');
    assert.equal(await switches.count(), 2, 'one switch per allowed site');
    await library.locator(`[data-testid="trail-site"][data-origin="${fixtures.origin}"]`).check();
    await eventually(
      async () => /now records/.test((await library.getByTestId('notice').textContent()) ?? ''),
      'the trail turned on',
    );

    // Read the runbook on the site with the trail on, scrolled to its end; the
    // handbook on the allowed site where the trail is off.
    const page = await browser.context.newPage();
    await page.goto(fixtures.origin + runbook);
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    const elsewhere = await browser.context.newPage();
    await elsewhere.goto(otherOrigin + handbook);
    await elsewhere.locator('h1').waitFor();

    const entry = await eventually(async () => {
      const trail = await storedTrail(browser.worker);
      return trail.length === 1 && trail[0].scrolled_percent === 100 && trail[0];
    }, 'the visit with its scroll depth');
    assert.equal(entry.title, 'Payments runbook');
    assert.equal(entry.url, fixtures.origin + runbook);
    assert.equal(entry.visits, 1);

    // A forged report from the site where the trail is off is answered, and not kept.
    const forged = await browser.worker.evaluate(
      ([url]) =>
        globalThis.cairnWorker.handle_message(
          { kind: 'trail_visit', title: 'Forged', opened: true, active_ms: 1000, scrolled_percent: 50 },
          { id: chrome.runtime.id, url },
        ),
      [otherOrigin + handbook],
    );
    assert.deepEqual(forged, { ok: true, value: { kind: 'trail_noted', kept: false } });
    assert.equal((await storedTrail(browser.worker)).length, 1, 'nothing kept from the site where the trail is off');

    // A second visit counts, and a highlight made on the page marks it in the trail.
    await page.reload();
    await select(page, 'Step 3: check the payment queue');
    await highlightSelection(browser.worker, fixtures.origin + runbook);
    await eventually(async () => (await storedTrail(browser.worker))[0]?.visits === 2, 'the second visit');

    await library.reload();
    const row = library.getByTestId('trail-entry');
    await row.waitFor();
    assert.equal(await row.count(), 1);
    assert.equal(await row.getByTestId('trail-title').textContent(), 'Payments runbook');
    assert.match(await row.getByTestId('trail-scrolled').textContent(), /read to 100 %/);
    assert.match(await row.textContent(), /2 visits/);
    await eventually(
      async () => (await row.getByTestId('trail-highlights').textContent()) === '1 highlight',
      'the highlight marked',
    );
    assert.equal(await library.locator('.trail-day h3').first().textContent(), 'Today');

    // The Kept tab names the page by the title the trail saw.
    await library.getByTestId('tab-kept').click();
    assert.equal(await library.getByTestId('page-title').textContent(), 'Payments runbook');
    await library.getByTestId('tab-trail').click();

    // Searched by title and address.
    await library.getByTestId('library-search').fill('handbook');
    await library.getByTestId('trail-empty').filter({ hasText: 'No page of the trail matches' }).waitFor();
    await library.getByTestId('library-search').fill('payments runbook');
    await row.waitFor();

    // Turning the trail off keeps what it has but records no more.
    await library.locator(`[data-testid="trail-site"][data-origin="${fixtures.origin}"]`).uncheck();
    await eventually(
      async () => /no longer records/.test((await library.getByTestId('notice').textContent()) ?? ''),
      'the trail turned off',
    );
    await page.reload();
    await page.locator('h1').waitFor();
    const offReply = await browser.worker.evaluate(
      ([url]) =>
        globalThis.cairnWorker.handle_message(
          { kind: 'trail_visit', title: 'After', opened: true },
          { id: chrome.runtime.id, url },
        ),
      [fixtures.origin + runbook],
    );
    assert.equal(offReply.value.kept, false);
    assert.equal((await storedTrail(browser.worker))[0].visits, 2, 'no visit recorded once it is off');

    // Forget the page; then a new visit with the trail back on, and clear it all.
    await row.getByTestId('trail-forget').click();
    await eventually(async () => (await storedTrail(browser.worker)).length === 0, 'the page forgotten');
    await library.getByTestId('trail-entry').waitFor({ state: 'detached' });
    await library.locator(`[data-testid="trail-site"][data-origin="${fixtures.origin}"]`).check();
    await page.reload();
    await eventually(async () => (await storedTrail(browser.worker)).length === 1, 'a new visit');
    await library.reload();
    await library.getByTestId('trail-entry').waitFor();
    await library.getByTestId('trail-clear').click();
    await library.getByTestId('trail-clear-confirm').click();
    await library.getByTestId('trail-empty').waitFor();
    assert.equal((await storedTrail(browser.worker)).length, 0, 'the whole trail cleared');

    // The retention period is kept, and a period Cairn does not offer is refused.
    await library.getByTestId('trail-retention').selectOption('30');
    await eventually(
      async () => /keeps pages 30 days/.test((await library.getByTestId('notice').textContent()) ?? ''),
      'the retention saved',
    );
    await library.reload();
    assert.equal(await library.getByTestId('trail-retention').inputValue(), '30');
    const refused = await library.evaluate(() => chrome.runtime.sendMessage({ kind: 'set_trail_retention', days: 12 }));
    assert.equal(refused.ok, false);
    assert.match(refused.error.message, /12 days is not a retention period/);
  });
});

describe('the daily review', () => {
  test('brings back highlights made days ago and remembers what the user answered', async () => {
    const path = put('/trail/review.html', 'Old decisions', ['We chose SQLite first.', 'Postgres came later.']);
    const url = fixtures.origin + path;
    const annotation = (id, exact, created) => ({
      id,
      created,
      user: 'acct:me@hypothes.is',
      uri: url,
      text: '',
      target: [{ source: url, selector: [{ type: 'TextQuoteSelector', exact }] }],
      document: { title: ['Old decisions'] },
    });
    const file = {
      export_date: '2024-05-02T09:00:00.000Z',
      annotations: [
        annotation('One1', 'We chose SQLite first', '2024-05-01T10:00:00.000000+00:00'),
        annotation('Two2', 'Postgres came later', '2024-05-01T11:00:00.000000+00:00'),
      ],
    };
    const browser = await launchBrowser(extensionDir);
    const library = await openLibrary(browser, 'kept');
    await library.getByTestId('library-empty').waitFor();
    await library.getByTestId('import-file').setInputFiles({
      name: 'old.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(file)),
    });
    await library.getByTestId('library-item').first().waitFor();
    await library.reload();
    await library.getByTestId('tab-review').click();
    const cards = library.getByTestId('review-item');
    await eventually(async () => (await cards.count()) === 2, 'two highlights due');
    assert.equal(await library.getByTestId('tab-review').locator('.count').textContent(), '2');
    // The oldest comes first.
    assert.equal(await cards.first().locator('blockquote').textContent(), 'We chose SQLite first');

    await cards.first().getByTestId('review-keep').click();
    await eventually(async () => (await cards.count()) === 1, 'the kept one gone for today');
    await cards.first().getByTestId('review-archive').click();
    await library.getByTestId('review-empty').filter({ hasText: 'Done for today' }).waitFor();

    // Answers are stored: a reload brings neither back today.
    await library.reload();
    await library.getByTestId('review-empty').waitFor();
    assert.equal(await cards.count(), 0);
    assert.equal(await library.getByTestId('tab-review').locator('.count').count(), 0);
  });
});
