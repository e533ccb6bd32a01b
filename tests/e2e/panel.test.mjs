// The side panel: the page's annotations in document order (mine and teammates'),
// filters, going to a highlight on the page, notes written where the page cannot
// read the keys, tags on highlights, and who sees each item chosen per item.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  allHighlighted,
  cleanupAll,
  clickOverlayButton,
  eventually,
  highlighted,
  launchBrowser,
  listedHighlights,
  openPanel,
  overlayHtml,
  pointOf,
  signIn,
  startStack,
} from './harness.mjs';
import { makeHighlights, panelRequest, synced } from './surfaces.mjs';

let fixtures;
let extensionDir;

before(async () => {
  ({ fixtures, extensionDir } = await startStack());
});
after(cleanupAll);

const FIRST = 'Deploys happen on Tuesdays and Thursdays only.';
const SECOND = 'Check the error budget dashboard before you promote.';
const LAST = 'Write the incident review within five working days.';

/** A page of its own for each test: the first two passages, sixty filler paragraphs, the last. */
function runbook(path, { keyLogger = false } = {}) {
  const filler = Array.from({ length: 60 }, (_, i) => `<p>Filler paragraph ${i + 1} about nothing in particular.</p>`);
  // A page script that records every key and input event it can see, as a hostile page would.
  const logger = keyLogger
    ? `<script>window.seen = [];
       for (const t of ['keydown', 'keyup', 'keypress', 'input', 'beforeinput'])
         window.addEventListener(t, (e) => window.seen.push(t + ':' + (e.key ?? e.data ?? '')), true);</script>`
    : '';
  fixtures.put(
    path,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Release runbook</title>${logger}</head>` +
      `<body><main><h1>Release runbook</h1><p>${FIRST}</p><p>${SECOND}</p>${filler.join('')}<p>${LAST}</p></main></body></html>`,
  );
  return `${fixtures.origin}${path}`;
}

async function webPage(browser, url) {
  const page = await browser.context.newPage();
  await page.goto(url);
  return page;
}

const quotes = (items) => items.map((h) => h.quote);

describe('the side panel', () => {
  test("lists the page's highlights in document order with a teammate's, filters them, and shows one on the page", async () => {
    const url = runbook('/panel/order.html');
    const bob = await launchBrowser(extensionDir);
    await signIn(bob.context, bob.extensionId, 'bob', 'bob-demo-password');
    const bobPage = await webPage(bob, url);
    await makeHighlights(bob, bobPage, url, [{ quote: SECOND, note: 'Ask in **#payments** first.' }]);
    await synced(bob);

    const alice = await launchBrowser(extensionDir);
    await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password');
    const page = await webPage(alice, url);
    // Made last-first: the panel lists them as they stand on the page.
    await makeHighlights(alice, page, url, [{ quote: LAST }, { quote: FIRST, note: 'Not on public holidays.' }]);
    await page.reload();
    await eventually(async () => (await allHighlighted(page)).length === 3, 'all three highlights painted');

    const panel = await openPanel(alice, url);
    const items = await eventually(async () => {
      const listed = await listedHighlights(panel);
      return listed.length === 3 && listed;
    }, 'the three highlights in the panel');
    assert.deepEqual(quotes(items), [FIRST, SECOND, LAST]);
    assert.equal(items[0].note, 'Not on public holidays.');
    assert.equal(items[0].teammate, null);
    assert.equal(items[1].teammate, 'by Bob Example');
    assert.equal(items[1].note, 'Ask in #payments first.');
    assert.equal(items[1].audience, 'Demo team');

    const filter = async (label) => {
      await panel.getByTestId('filter').filter({ hasText: label }).click();
      return quotes(await listedHighlights(panel));
    };
    assert.deepEqual(await filter('Mine'), [FIRST, LAST]);
    assert.deepEqual(await filter('Teammates'), [SECOND]);
    assert.deepEqual(await filter('Demo team'), [FIRST, SECOND, LAST]);
    assert.deepEqual(await filter('All'), [FIRST, SECOND, LAST]);

    // Clicking the last one brings it into view on the page and flashes it.
    assert.equal(await page.evaluate(() => window.scrollY), 0);
    await panel.getByTestId('reveal').nth(2).click();
    await eventually(() => page.evaluate(() => CSS.highlights.has('cairn-flash')), 'the flash on the page');
    await eventually(
      () =>
        page.evaluate((last) => {
          const p = [...document.querySelectorAll('p')].find((el) => el.textContent === last);
          const r = p.getBoundingClientRect();
          return window.scrollY > 0 && r.top >= 0 && r.bottom <= innerHeight;
        }, LAST),
      'the last highlight scrolled into view',
    );
  });

  test('a note is written in the panel, where the page never sees the keys, and shows rendered on the page; tags too', async () => {
    const url = runbook('/panel/note.html', { keyLogger: true });
    const browser = await launchBrowser(extensionDir);
    const page = await webPage(browser, url);
    // The panel is open beside the page (here a tab of its own, for the tab the page is in).
    const panel = await openPanel(browser, url);
    await panel.getByTestId('nothing-yet').waitFor();
    await page.bringToFront();
    const word = await pointOf(page, 'Thursdays');
    await page.mouse.dblclick(word.x, word.y);
    await eventually(async () => (await overlayHtml(page)).includes('Highlight'), 'the selection toolbar');
    await clickOverlayButton(page, 'Note');
    // The highlight is made at once; the note is not typed in the page.
    await eventually(async () => (await highlighted(page, 'cairn-yellow')).includes('Thursdays'), 'the highlight');
    assert.doesNotMatch(await overlayHtml(page), /textarea/);

    const input = panel.getByTestId('note-input');
    await input.waitFor();
    await eventually(() => input.evaluate((el) => document.activeElement === el), 'the editor focused');
    await panel.keyboard.type('Needs **two** approvals <img src=x onerror=alert(1)>');
    await panel.keyboard.press('Control+Enter');
    await eventually(
      async () => (await listedHighlights(panel))[0]?.note?.startsWith('Needs two approvals'),
      'the saved note',
    );
    await page.bringToFront();
    const seen = await page.evaluate(() => window.seen);
    // The double click and the toolbar click are the page's own; no key was pressed on it.
    assert.deepEqual(seen, [], 'the page saw keys typed in the panel');

    // On the page the popover shows it rendered and sanitized.
    await page.mouse.click(word.x, word.y);
    const html = await eventually(async () => {
      const h = await overlayHtml(page);
      return h.includes('approvals') && h;
    }, 'the note popover');
    assert.match(html, /<strong>two<\/strong>/);
    assert.doesNotMatch(html, /<img|<[^>]*\son\w+=/i);

    // "Edit note" on the page opens the same highlight's editor in the panel.
    await clickOverlayButton(page, 'Edit note');
    await eventually(async () => (await panel.getByTestId('note-input').count()) === 1, 'the editor in the panel');
    assert.match(await panel.getByTestId('note-input').inputValue(), /^Needs \*\*two\*\* approvals/);
    await panel.getByRole('button', { name: 'Cancel' }).click();

    // Tags on a highlight: chips, spaces kept inside a tag; they stay after a reload.
    await panel.getByTestId('edit-tags').click();
    await panel.getByTestId('tag-editor').locator('input').fill('release process, payments');
    await panel.getByTestId('save-tags').click();
    await eventually(
      async () => (await listedHighlights(panel))[0]?.tags.join('|') === 'release process|payments',
      'the tags listed',
    );
    await panel.reload();
    await eventually(
      async () => (await listedHighlights(panel))[0]?.tags.join('|') === 'release process|payments',
      'the tags after a reload',
    );
    assert.deepEqual(await page.evaluate(() => window.seen), [], 'the page saw keys typed in the panel');
  });

  test("a teammate's new highlight and edited note appear on an open page and panel without a reload", async () => {
    const url = runbook('/panel/live.html');
    const bob = await launchBrowser(extensionDir);
    await signIn(bob.context, bob.extensionId, 'bob', 'bob-demo-password');
    const bobPage = await webPage(bob, url);
    const bobPanel = await openPanel(bob, url);
    await bobPanel.getByTestId('nothing-yet').waitFor();

    const alice = await launchBrowser(extensionDir);
    await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password');
    const page = await webPage(alice, url);
    await makeHighlights(alice, page, url, [{ quote: SECOND }]);
    await synced(alice);
    // Bob did nothing: the server's live stream told his browser.
    await eventually(
      async () => (await highlighted(bobPage, 'cairn-teammate')).includes(SECOND),
      'the highlight on bob’s page',
    );
    await eventually(
      async () => (await listedHighlights(bobPanel))[0]?.quote === SECOND,
      'the highlight in bob’s panel',
    );

    const [mine] = (await panelRequest(alice, { kind: 'list_page', url })).highlights;
    await panelRequest(alice, { kind: 'edit_highlight', id: mine.id, note: 'Red means **stop**.' });
    await synced(alice);
    await eventually(
      async () => (await listedHighlights(bobPanel))[0]?.note === 'Red means stop.',
      'the edited note in bob’s panel',
    );
  });

  test('a reply thread under a shared highlight reaches its author live; a private highlight has none', async () => {
    const url = runbook('/panel/thread.html');
    const alice = await launchBrowser(extensionDir);
    await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password');
    const page = await webPage(alice, url);
    await makeHighlights(alice, page, url, [{ quote: FIRST }]);
    await synced(alice);
    const alicePanel = await openPanel(alice, url);
    await alicePanel.getByTestId('reply-button').waitFor();

    const bob = await launchBrowser(extensionDir);
    await signIn(bob.context, bob.extensionId, 'bob', 'bob-demo-password');
    await webPage(bob, url);
    const bobPanel = await openPanel(bob, url);
    await bobPanel.getByTestId('reply-button').click();
    await bobPanel.getByTestId('note-input').fill('Except in **freeze** weeks <script>alert(1)</script>');
    await bobPanel.getByTestId('save-note').click();
    await eventually(async () => (await bobPanel.getByTestId('reply').count()) === 1, "bob's reply listed");
    await synced(bob);

    // Alice's open panel shows it without a reload, rendered safely, by Bob.
    const reply = alicePanel.getByTestId('reply');
    await eventually(async () => (await reply.count()) === 1, "bob's reply in alice's panel", 20_000);
    assert.equal(await reply.getByTestId('reply-author').textContent(), 'Bob Example');
    const html = await reply.getByTestId('reply-note').innerHTML();
    assert.match(html, /<strong>freeze<\/strong>/);
    assert.doesNotMatch(html, /<script/);
    // Only the author deletes a reply.
    assert.equal(await reply.getByTestId('delete-reply').count(), 0);
    // The reply is not a highlight of its own: the page still paints one.
    assert.equal((await listedHighlights(alicePanel)).length, 1);

    // A private highlight has no thread to start.
    await makeHighlights(alice, page, url, [{ quote: LAST }]);
    const [, last] = (await panelRequest(alice, { kind: 'list_page', url })).highlights.sort((a, b) =>
      a.quote === LAST ? 1 : -1,
    );
    await panelRequest(alice, { kind: 'share_item', id: last.id, communities: [] });
    await alicePanel.reload();
    await eventually(async () => (await listedHighlights(alicePanel)).length === 2, 'both highlights');
    assert.equal(await alicePanel.getByTestId('reply-button').count(), 1, 'no Reply on a private highlight');
    const refused = await alice.worker.evaluate(
      ({ id, sender }) => globalThis.cairnWorker.handle_message({ kind: 'reply', parent: id, note: 'hi' }, sender),
      { id: last.id, sender: { id: alice.extensionId, url: `chrome-extension://${alice.extensionId}/panel.html` } },
    );
    assert.equal(refused.error?.code, 'private_parent');
  });

  test('who sees it is chosen per item: private stays private, even after signing in; shared reaches the community only', async () => {
    const url = runbook('/panel/share.html');
    const alice = await launchBrowser(extensionDir);
    const page = await webPage(alice, url);
    // Made signed out: kept in this browser, private.
    await makeHighlights(alice, page, url, [{ quote: FIRST }]);
    await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password');
    // Made signed in: shared with the community chosen in Options (Demo team).
    await makeHighlights(alice, page, url, [{ quote: SECOND }, { quote: LAST }]);

    const panel = await openPanel(alice, url);
    let items = await eventually(async () => {
      const listed = await listedHighlights(panel);
      return listed.length === 3 && listed;
    }, 'the three highlights');
    assert.deepEqual(
      items.map((h) => h.audience),
      ['Only you', 'Demo team', 'Demo team'],
      'signing in must not share what was private',
    );

    // Make the last one private.
    await panel.getByTestId('share').nth(2).click();
    const picker = panel.getByTestId('share-picker');
    await picker.waitFor();
    await picker.getByTestId('share-community').uncheck();
    assert.equal(await picker.getByTestId('share-summary').textContent(), 'Private: only you');
    await picker.getByTestId('save-share').click();
    items = await eventually(async () => {
      const listed = await listedHighlights(panel);
      return listed[2]?.audience === 'Only you' && listed;
    }, 'the last highlight private');
    assert.deepEqual(
      items.map((h) => h.audience),
      ['Only you', 'Demo team', 'Only you'],
    );
    await synced(alice);
    const status = await panelRequest(alice, { kind: 'status' });
    assert.equal(status.pending, 0);

    // Bob (same community) sees only the shared one; Carol (another community) sees nothing.
    const bob = await launchBrowser(extensionDir);
    await signIn(bob.context, bob.extensionId, 'bob', 'bob-demo-password');
    const bobPage = await webPage(bob, url);
    await eventually(async () => (await allHighlighted(bobPage)).length === 1, "bob's page painted");
    assert.deepEqual(await allHighlighted(bobPage), [SECOND]);
    const bobPanel = await openPanel(bob, url);
    const bobItems = await eventually(async () => {
      const listed = await listedHighlights(bobPanel);
      return listed.length === 1 && listed;
    }, "bob's panel");
    assert.equal(bobItems[0].quote, SECOND);
    assert.equal(bobItems[0].teammate, 'by Alice Example');
    // A teammate's item cannot be re-shared by someone else: no share button on it.
    assert.equal(await bobPanel.getByTestId('share').count(), 0);

    const carol = await launchBrowser(extensionDir);
    await signIn(carol.context, carol.extensionId, 'carol', 'carol-demo-password');
    const carolPage = await webPage(carol, url);
    const carolPanel = await openPanel(carol, url);
    await carolPanel.getByTestId('nothing-yet').waitFor();
    assert.deepEqual(await allHighlighted(carolPage), []);
  });
});
