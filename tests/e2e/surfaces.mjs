// Every surface of the extension in every state worth looking at, set up for real
// (the demo server, the fixture pages, the built extension in headless Chromium,
// data made through the same channels the extension uses), one after the other.
// Used by `cargo xtask screenshots` (screenshots.mjs) and by the accessibility
// test (accessibility.test.mjs), so both see exactly the same states.
//
// `walkSurfaces(visit)` calls `await visit(page, surface)` once per state, with the
// page showing it and `surface = { surface, state, kind, title }`:
//   kind 'popup'    the toolbar popup, opened in a tab at popup size (400x600)
//   kind 'options'  the options page, in a tab
//   kind 'panel'    the side panel, opened in a tab at side-panel size (360x760) for
//                   the tab of a web page (panel.html?tab=ID)
//   kind 'library'  the Library, in a tab
//   kind 'page'     a web page with Cairn's in-page overlay (a closed shadow root)
// `visit` may change the colour scheme and read the page, but must not navigate it.
import {
  eventually,
  extensionWithPreset,
  launchBrowser,
  openPanel,
  openPopup,
  overlayHtml,
  pageText,
  pointOf,
  select,
  signIn,
  startFixtures,
  startServer,
} from './harness.mjs';

export const VIEWPORTS = {
  popup: { width: 400, height: 600 },
  options: { width: 900, height: 800 },
  panel: { width: 360, height: 760 },
  library: { width: 1100, height: 800 },
  page: { width: 1100, height: 760 },
};

const DEMO = '/intranet/index.html';
const LONG_NOTE_PAGE = '/gallery/long-note.html';
const MANY_PAGE = '/gallery/many.html';
const OFFLINE_PAGE = '/gallery/offline.html';

const article = (title, paragraphs) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>` +
  '<link rel="stylesheet" href="/intranet/wiki.css"></head><body><div class="wiki-content">' +
  `<h1>${title}</h1>${paragraphs.map((p) => `<p>${p}</p>`).join('')}</div></body></html>`;

/** A 3,000-character note in Markdown: paragraphs, lists, emphasis and links. */
export function longNote() {
  const paragraphs = [
    'The incident review found that the canary ran for only twelve minutes before promotion. Nobody watched p99 latency because the dashboard link in the runbook pointed to the old cluster.',
    'We agreed that the **release manager** owns the decision to promote, not the engineer on call. See the [incident timeline](https://wiki.example.com/incidents/4211) for the full sequence of events.',
    'Action items:\n\n- fix the dashboard link in the runbook\n- make the canary wait *at least* thirty minutes\n- page the release manager when p99 latency doubles',
    'The payments team and the platform team own these, due in two weeks; the follow-up review is on the calendar.',
  ];
  let note = '';
  for (let i = 0; note.length < 3000; i++) note += `${paragraphs[i % paragraphs.length]}\n\n`;
  return note.slice(0, 3000);
}

const POPUP_SENDER = (extensionId) => ({ id: extensionId, url: `chrome-extension://${extensionId}/popup.html` });

/** A request on the panel channel (what the popup and options send), answered by the worker. */
export async function panelRequest(browser, message) {
  const reply = await browser.worker.evaluate(
    ({ message, sender }) => globalThis.cairnWorker.handle_message(message, sender),
    { message, sender: POPUP_SENDER(browser.extensionId) },
  );
  if (!reply.ok) throw new Error(`${message.kind}: ${JSON.stringify(reply.error)}`);
  return reply.value;
}

/**
 * Highlights made through the page channel, as the content script makes them: each
 * `{ quote, note?, color?, text? }` is located in the page's text model (or in `text`,
 * for a highlight whose words are no longer on the page: an orphan once it loads).
 */
export async function makeHighlights(browser, page, url, highlights) {
  const pageModel = await pageText(page);
  const title = await page.title();
  const made = await browser.worker.evaluate(
    async ({ pageModel, highlights, sender, title }) => {
      let ok = 0;
      const errors = [];
      for (const h of highlights) {
        const text = h.text ?? pageModel;
        const start = text.indexOf(h.quote);
        if (start < 0) {
          errors.push(`not in the page text: ${h.quote}`);
          continue;
        }
        const reply = await globalThis.cairnWorker.handle_message(
          {
            kind: 'create_highlight',
            text,
            start,
            end: start + h.quote.length,
            title,
            note: h.note ?? null,
            color: h.color ?? null,
          },
          sender,
        );
        if (reply.ok) ok++;
        else errors.push(JSON.stringify(reply.error));
      }
      return { ok, errors };
    },
    { pageModel, highlights, title, sender: { id: browser.extensionId, url, tab: { id: 1 } } },
  );
  if (made.errors.length) throw new Error(`highlights not made: ${made.errors.slice(0, 3).join('; ')}`);
  return made.ok;
}

/** Waits until the worker has nothing left to push. */
export async function synced(browser) {
  await panelRequest(browser, { kind: 'sync_now' });
  await eventually(
    async () => {
      const status = await panelRequest(browser, { kind: 'status' });
      return status.pending === 0 && !status.last_error;
    },
    'everything to be pushed to the server',
    30_000,
  );
}

/** An extension page that has asked the background what to show and shown it. */
async function settled(page) {
  await page.getByTestId('connection').waitFor();
  await eventually(
    () =>
      page.evaluate(() => {
        const c = document.querySelector('[data-testid="connection"]');
        return (
          c &&
          c.textContent.trim() !== '' &&
          c.textContent.trim() !== '…' &&
          !document.body.textContent.includes('Loading…')
        );
      }),
    'the extension page to load',
  );
  await page.evaluate(() => document.fonts.ready);
}

async function popupAt(browser, url, ready) {
  const page = await browser.context.newPage();
  await page.setViewportSize(VIEWPORTS.popup);
  await page.goto(`chrome-extension://${browser.extensionId}/popup.html?url=${encodeURIComponent(url)}`);
  await settled(page);
  if (ready) await eventually(() => ready(page), 'the popup state');
  return page;
}

/** The side panel for the tab showing `url` (a web page already open). */
async function panelAt(browser, url, ready) {
  const page = await openPanel(browser, url, { viewport: VIEWPORTS.panel });
  await settled(page);
  if (ready) await eventually(() => ready(page), 'the side panel state');
  return page;
}

async function libraryPage(browser, ready, tab = 'kept') {
  const page = await browser.context.newPage();
  await page.setViewportSize(VIEWPORTS.library);
  await page.goto(`chrome-extension://${browser.extensionId}/library.html#${tab}`);
  await eventually(() => ready(page), 'the Library state');
  await page.evaluate(() => document.fonts.ready);
  return page;
}

async function optionsPage(browser) {
  const page = await browser.context.newPage();
  await page.setViewportSize(VIEWPORTS.options);
  await page.goto(`chrome-extension://${browser.extensionId}/options.html`);
  await settled(page);
  return page;
}

async function webPage(browser, url) {
  const page = await browser.context.newPage();
  await page.setViewportSize(VIEWPORTS.page);
  await page.goto(url);
  return page;
}

const count = (page, testId) => page.getByTestId(testId).count();

/**
 * Sets up every state in turn and hands each to `visit`. Starts its own server,
 * fixture pages and browsers; the caller runs the harness's `cleanupAll` after.
 * `only` (a predicate on `{ surface, state }`) skips the visits of other states.
 */
export async function walkSurfaces(visit, { only = () => true, log = () => {} } = {}) {
  const server = await startServer();
  const fixtures = await startFixtures();
  const origin = fixtures.origin;
  const demo = `${origin}${DEMO}`;
  fixtures.put(
    LONG_NOTE_PAGE,
    article('Incident review: payments latency', [
      'On Tuesday the payments service was promoted from canary to all regions while p99 latency was doubling.',
      'The rollback took eleven minutes because the on-call engineer was not sure who could decide.',
    ]),
  );
  fixtures.put(
    MANY_PAGE,
    article(
      'Glossary of operations terms',
      Array.from(
        { length: 220 },
        (_, i) => `Term ${i + 1}: a definition of operations term number ${i + 1} for the glossary.`,
      ),
    ),
  );
  fixtures.put(
    OFFLINE_PAGE,
    article('Checklist: before a deploy', ['Freeze the error budget before a deploy, then add a circuit breaker.']),
  );
  const extensionDir = await extensionWithPreset({ allowed_sites: [origin], server_url: server.url });

  const show = async (page, surface) => {
    if (!only(surface)) return page.close();
    log(`${surface.surface} / ${surface.state}`);
    await visit(page, surface);
    await page.close();
  };

  // ---- a new user, signed out ------------------------------------------------
  const visitor = await launchBrowser(extensionDir);
  await show(await popupAt(visitor, 'chrome://extensions/'), {
    surface: 'popup',
    state: 'non-web-page',
    kind: 'popup',
    title: 'Popup on a browser page (chrome://extensions)',
  });
  const notAllowed = demo.replace('127.0.0.1', 'localhost');
  await show(await popupAt(visitor, notAllowed, (p) => count(p, 'allow-site')), {
    surface: 'popup',
    state: 'site-not-allowed',
    kind: 'popup',
    title: 'Popup on a site Cairn is not allowed on',
  });
  await show(await popupAt(visitor, demo, (p) => count(p, 'no-highlights')), {
    surface: 'popup',
    state: 'signed-out-empty',
    kind: 'popup',
    title: 'Popup, signed out, no highlights on the page',
  });
  const options = await optionsPage(visitor);
  await options.getByTestId('sign-in').waitFor();
  await show(options, { surface: 'options', state: 'signed-out', kind: 'options', title: 'Options, signed out' });
  const wrong = await optionsPage(visitor);
  await wrong.getByTestId('username').fill('alice');
  await wrong.getByTestId('password').fill('not-the-password');
  await wrong.getByTestId('sign-in').click();
  await wrong.getByTestId('notice').waitFor();
  await show(wrong, {
    surface: 'options',
    state: 'wrong-password',
    kind: 'options',
    title: 'Options after a wrong password',
  });
  const toolbarPage = await webPage(visitor, demo);
  const canary = await pointOf(toolbarPage, 'canary');
  await toolbarPage.mouse.dblclick(canary.x, canary.y);
  await eventually(async () => (await overlayHtml(toolbarPage)).includes('Highlight'), 'the selection toolbar');
  await show(toolbarPage, {
    surface: 'page',
    state: 'selection-toolbar',
    kind: 'page',
    title: 'Demo page: the toolbar shown on a selection',
  });
  const visitorDemo = await webPage(visitor, demo);
  await show(await panelAt(visitor, demo, (p) => count(p, 'nothing-yet')), {
    surface: 'panel',
    state: 'signed-out-empty',
    kind: 'panel',
    title: 'Side panel, signed out, nothing on the page yet',
  });
  await visitorDemo.close();
  const offSite = await webPage(visitor, notAllowed);
  await show(await panelAt(visitor, notAllowed, (p) => count(p, 'site-off')), {
    surface: 'panel',
    state: 'site-not-allowed',
    kind: 'panel',
    title: 'Side panel on a site Cairn is not allowed on',
  });
  await offSite.close();
  await show(await libraryPage(visitor, (p) => count(p, 'library-empty')), {
    surface: 'library',
    state: 'empty',
    kind: 'library',
    title: 'Library, nothing kept yet',
  });
  await show(await libraryPage(visitor, (p) => count(p, 'trail-empty'), 'trail'), {
    surface: 'library',
    state: 'trail-off',
    kind: 'library',
    title: 'Library: the reading trail, off until turned on for a site',
  });
  await show(await libraryPage(visitor, (p) => count(p, 'review-empty'), 'review'), {
    surface: 'library',
    state: 'review-empty',
    kind: 'library',
    title: 'Library: the daily review, nothing due yet',
  });
  await visitor.context.close();

  // ---- a teammate's highlight, made by bob and synced -------------------------
  const bob = await launchBrowser(extensionDir);
  await signIn(bob.context, bob.extensionId, 'bob', 'bob-demo-password');
  const bobPage = await webPage(bob, demo);
  await makeHighlights(bob, bobPage, demo, [
    {
      quote: 'Check the error budget dashboard first.',
      note: 'The dashboard is **Payments / SLOs**; ask in #payments-releases if it is red.',
    },
  ]);
  await synced(bob);
  await bob.context.close();

  // ---- alice, signed in, with highlights, notes, an orphan and clips ------------
  const alice = await launchBrowser(extensionDir);
  await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password');
  const alicePage = await webPage(alice, demo);
  await makeHighlights(alice, alicePage, demo, [
    {
      quote: 'Tuesdays and Thursdays',
      note: 'Not on public holidays: see the [release calendar](https://wiki.example.com/calendar).',
    },
    { quote: 'A rollback is always the safe choice when p99 latency doubles.', color: 'green' },
    {
      quote: 'Board approval is needed for every deploy after 15:00.',
      text: 'Old version of the runbook. Board approval is needed for every deploy after 15:00. The end.',
      note: 'This rule was dropped in November.',
      color: 'pink',
    },
  ]);
  await alicePage.reload();
  const popupForClips = await popupAt(alice, demo, (p) => count(p, 'clip-article'));
  await popupForClips.getByTestId('clip-article').click();
  await eventually(async () => (await count(popupForClips, 'clip')) === 1, 'the article clip');
  await select(alicePage, 'Promote the canary with');
  await popupForClips.getByTestId('clip-selection').click();
  await eventually(async () => (await count(popupForClips, 'clip')) === 2, 'the selection clip');
  await popupForClips.close();
  await synced(alice);
  await show(
    await popupAt(alice, demo, async (p) => {
      const items = await p.getByTestId('highlight').evaluateAll((els) => els.map((el) => el.dataset));
      return (
        items.length === 4 &&
        items.some((d) => d.orphan === 'true') &&
        (await count(p, 'teammate')) === 1 &&
        (await count(p, 'clip')) === 2
      );
    }),
    {
      surface: 'popup',
      state: 'signed-in-items',
      kind: 'popup',
      title: "Popup, signed in: own highlights with notes, a teammate's, an orphan, two clips",
    },
  );

  // A thread under bob's highlight: alice answers it.
  const listed = await panelRequest(alice, { kind: 'list_page', url: demo });
  const bobs = listed.highlights.find((h) => h.teammate);
  await panelRequest(alice, {
    kind: 'reply',
    parent: bobs.id,
    note: 'It was **green** this morning; I checked before the deploy.',
  });
  // The side panel on the same page: document order, filters, a teammate's with a thread, an orphan, clips.
  const panelReady = async (p) => (await count(p, 'highlight')) === 4 && (await count(p, 'clip')) === 2;
  await show(await panelAt(alice, demo, panelReady), {
    surface: 'panel',
    state: 'signed-in-items',
    kind: 'panel',
    title:
      "Side panel, signed in: the page's highlights in document order, a teammate's with a reply, an orphan, two clips",
  });
  const editing = await panelAt(alice, demo, panelReady);
  await editing.getByTestId('edit-note').first().click();
  await editing.getByTestId('note-input').waitFor();
  await show(editing, {
    surface: 'panel',
    state: 'note-editor',
    kind: 'panel',
    title: 'Side panel: writing a note (an extension page, so the web page cannot read the keys)',
  });
  const sharing = await panelAt(alice, demo, panelReady);
  await sharing.getByTestId('share').first().click();
  await sharing.getByTestId('share-picker').waitFor();
  await show(sharing, {
    surface: 'panel',
    state: 'share-picker',
    kind: 'panel',
    title: 'Side panel: choosing who sees a highlight',
  });
  const filtered = await panelAt(alice, demo, panelReady);
  await filtered.getByTestId('filter').filter({ hasText: 'Teammates' }).click();
  await show(filtered, {
    surface: 'panel',
    state: 'filter-teammates',
    kind: 'panel',
    title: "Side panel filtered to teammates' highlights",
  });

  const longPage = await webPage(alice, `${origin}${LONG_NOTE_PAGE}`);
  await makeHighlights(alice, longPage, `${origin}${LONG_NOTE_PAGE}`, [
    { quote: 'The rollback took eleven minutes', note: longNote() },
  ]);
  await show(await popupAt(alice, `${origin}${LONG_NOTE_PAGE}`, async (p) => (await count(p, 'highlight')) === 1), {
    surface: 'popup',
    state: 'long-note',
    kind: 'popup',
    title: 'Popup with a 3,000-character note',
  });

  await show(await panelAt(alice, `${origin}${LONG_NOTE_PAGE}`, async (p) => (await count(p, 'highlight')) === 1), {
    surface: 'panel',
    state: 'long-note',
    kind: 'panel',
    title: 'Side panel with a 3,000-character note',
  });

  const manyPage = await webPage(alice, `${origin}${MANY_PAGE}`);
  const terms = Array.from({ length: 200 }, (_, i) => ({ quote: `Term ${i + 1}: a definition` }));
  await makeHighlights(alice, manyPage, `${origin}${MANY_PAGE}`, terms);
  await show(await popupAt(alice, `${origin}${MANY_PAGE}`, async (p) => (await count(p, 'highlight')) === 200), {
    surface: 'popup',
    state: '200-items',
    kind: 'popup',
    title: 'Popup with 200 highlights',
  });
  await show(await panelAt(alice, `${origin}${MANY_PAGE}`, async (p) => (await count(p, 'highlight')) === 200), {
    surface: 'panel',
    state: '200-items',
    kind: 'panel',
    title: 'Side panel with 200 highlights',
  });
  await manyPage.close();

  const signedIn = await optionsPage(alice);
  await signedIn.getByTestId('signed-in').waitFor();
  await show(signedIn, {
    surface: 'options',
    state: 'signed-in',
    kind: 'options',
    title: 'Options, signed in as Alice',
  });

  // The page popovers: one's own note, a teammate's, and the long note.
  await alicePage.reload();
  await eventually(async () => (await pageHighlightCount(alicePage)) >= 3, 'the highlights painted on the demo page');
  await clickText(alicePage, 'Tuesdays and Thursdays');
  await eventually(async () => (await overlayHtml(alicePage)).includes('public holidays'), 'the note popover');
  await show(alicePage, {
    surface: 'page',
    state: 'popover-own-note',
    kind: 'page',
    title: 'Demo page: the popover of your highlight with a note',
  });

  const teammatePage = await webPage(alice, demo);
  await eventually(
    async () => (await pageHighlightCount(teammatePage)) >= 3,
    'the highlights painted on the demo page',
  );
  await clickText(teammatePage, 'Check the error budget dashboard first.');
  await eventually(async () => (await overlayHtml(teammatePage)).includes('Payments / SLOs'), "the teammate's popover");
  await show(teammatePage, {
    surface: 'page',
    state: 'popover-teammate',
    kind: 'page',
    title: "Demo page: the popover of a teammate's highlight",
  });

  await longPage.reload();
  await eventually(async () => (await pageHighlightCount(longPage)) === 1, 'the long-note highlight painted');
  await clickText(longPage, 'The rollback took eleven minutes');
  await eventually(async () => (await overlayHtml(longPage)).includes('incident timeline'), 'the long-note popover');
  await show(longPage, {
    surface: 'page',
    state: 'popover-long-note',
    kind: 'page',
    title: 'A page: the popover of a 3,000-character note',
  });

  // The Library: everything alice kept on the four pages, then a search.
  await show(await libraryPage(alice, async (p) => (await count(p, 'library-page')) >= 3), {
    surface: 'library',
    state: 'everything',
    kind: 'library',
    title: 'Library: everything kept, grouped by page, newest first',
  });
  const searching = await libraryPage(alice, async (p) => (await count(p, 'library-page')) >= 3);
  await searching.getByTestId('library-search').fill('rollback');
  await eventually(
    async () => (await count(searching, 'library-page')) >= 1 && (await searching.locator('mark').count()) > 0,
    'the search results',
  );
  await show(searching, {
    surface: 'library',
    state: 'search',
    kind: 'library',
    title: 'Library: searching "rollback", matches marked',
  });

  // The reading trail, turned on for the demo site: the pages alice reads again.
  await panelRequest(alice, { kind: 'set_trail_site', origin, on: true });
  for (const url of [demo, `${origin}${LONG_NOTE_PAGE}`, `${origin}${MANY_PAGE}`]) {
    const read = await webPage(alice, url);
    await read.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  }
  await show(await libraryPage(alice, async (p) => (await count(p, 'trail-entry')) >= 2, 'trail'), {
    surface: 'library',
    state: 'trail',
    kind: 'library',
    title: 'Library: the reading trail, today, with what was kept on each page',
  });

  // The daily review: highlights imported from last spring are due.
  const old = (id, exact, text, created) => ({
    id,
    created,
    user: 'acct:alice@hypothes.is',
    uri: demo,
    text,
    tags: [],
    target: [{ source: demo, selector: [{ type: 'TextQuoteSelector', exact }] }],
  });
  await panelRequest(alice, {
    kind: 'import',
    file_name: 'spring.json',
    text: JSON.stringify({
      annotations: [
        old('Sp1', 'Rollbacks never need a ticket.', 'Say this in every onboarding.', '2026-04-02T09:00:00Z'),
        old('Sp2', 'Remember to update the status page during incidents.', '', '2026-04-09T09:00:00Z'),
        old('Sp3', 'Outside that window you need an approved change ticket', '', '2026-05-20T09:00:00Z'),
      ],
    }),
  });
  await show(await libraryPage(alice, async (p) => (await count(p, 'review-item')) >= 3, 'review'), {
    surface: 'library',
    state: 'review',
    kind: 'library',
    title: 'Library: the daily review, highlights from last spring to read again',
  });

  // ---- the server goes away ------------------------------------------------------
  await server.stop();
  const offlinePage = await webPage(alice, `${origin}${OFFLINE_PAGE}`);
  await makeHighlights(alice, offlinePage, `${origin}${OFFLINE_PAGE}`, [{ quote: 'add a circuit breaker' }]);
  await panelRequest(alice, { kind: 'sync_now' }).catch(() => {});
  await eventually(async () => (await panelRequest(alice, { kind: 'status' })).last_error, 'the sync error');
  await show(await popupAt(alice, `${origin}${OFFLINE_PAGE}`, async (p) => (await count(p, 'highlight')) === 1), {
    surface: 'popup',
    state: 'server-down',
    kind: 'popup',
    title: 'Popup with the server down: a highlight waiting, the sync error',
  });
  await alice.context.close();
}

/** How many ranges Cairn painted on the page, all colours together. */
async function pageHighlightCount(page) {
  return page.evaluate(() => {
    let n = 0;
    for (const [name, h] of CSS.highlights) if (name.startsWith('cairn')) n += h.size;
    return n;
  });
}

/** A real click in the middle of `text` on the page. */
async function clickText(page, text) {
  const p = await pointOf(page, text);
  await page.mouse.click(p.x, p.y);
}
