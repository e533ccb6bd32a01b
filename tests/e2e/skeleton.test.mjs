// The walking skeleton, end to end: highlight, reload, popup, sign-in, sync,
// a teammate's view, a non-member's view, strict CSP, and forged messages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  allHighlighted,
  cleanupAll,
  eventually,
  highlighted,
  highlightSelection,
  launchBrowser,
  openPopup,
  overlayHtml,
  select,
  signIn,
  startStack,
  startServer,
} from './harness.mjs';

let serverUrl;
let fixtures;
let extensionDir;

before(async () => {
  const stack = await startStack();
  serverUrl = stack.server.url;
  fixtures = stack.fixtures.origin;
  extensionDir = stack.extensionDir;
});
after(cleanupAll);

const RUNBOOK = () => `${fixtures}/intranet/index.html`;
const CSP_PAGE = () => `${fixtures}/strict-csp/index.html`;

async function openPage(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  return page;
}

async function popupTexts(context, extensionId, url) {
  const popup = await openPopup(context, extensionId, url);
  await popup.locator('[data-testid="connection"]').filter({ hasNotText: '…' }).waitFor();
  await popup.waitForFunction(() => !document.body.textContent.includes('Loading…'));
  const items = await popup.getByTestId('highlight').evaluateAll((els) =>
    els.map((el) => ({
      quote: el.querySelector('[data-testid="quote"]').textContent,
      sync: el.dataset.sync,
      teammate: el.querySelector('[data-testid="teammate"]')?.textContent ?? null,
    })),
  );
  // The header's few words plus the banner below it that tells the rest.
  const detail = popup.getByTestId('connection-detail');
  const connection = [
    await popup.getByTestId('connection').textContent(),
    ...((await detail.count()) ? [await detail.textContent()] : []),
  ].join(': ');
  await popup.close();
  return { items, connection };
}

describe('a single user, signed out', () => {
  test('a highlight is painted, stored by the background, and comes back after reload', async () => {
    const { context, worker, extensionId } = await launchBrowser(extensionDir);
    const page = await openPage(context, RUNBOOK());
    await select(page, 'Rollbacks never need a ticket.');
    await highlightSelection(worker, RUNBOOK());
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('Rollbacks never need a ticket.'),
      'the highlight',
    );
    // A shortcut has no popup to answer in: the page says it worked, and says why when it cannot.
    await eventually(async () => (await overlayHtml(page)).includes('Highlighted'), 'the toast');
    await page.evaluate(() => getSelection().removeAllRanges());
    await highlightSelection(worker, RUNBOOK());
    await eventually(
      async () => (await overlayHtml(page)).includes('Select the text to highlight first'),
      'the hint without a selection',
    );
    // The page's own script still ran and its DOM is untouched by the highlight.
    assert.equal(await page.evaluate(() => document.body.dataset.pageScript), 'ran');
    assert.equal(await page.evaluate(() => document.querySelectorAll('mark, [class*=cairn]').length), 0);

    await page.reload();
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('Rollbacks never need a ticket.'),
      'the highlight after reload',
    );

    await select(page, 'Check the error budget dashboard first.');
    await highlightSelection(worker, RUNBOOK());
    await eventually(async () => (await allHighlighted(page)).length === 2, 'the second highlight');

    const { items, connection } = await popupTexts(context, extensionId, RUNBOOK());
    assert.deepEqual(
      items.map((i) => i.quote),
      ['Check the error budget dashboard first.', 'Rollbacks never need a ticket.'],
      'newest first',
    );
    assert.ok(
      items.every((i) => i.sync === 'local'),
      JSON.stringify(items),
    );
    assert.match(connection, /Not connected/);
  });

  test('a selection spanning elements is highlighted across them', async () => {
    const { context, worker } = await launchBrowser(extensionDir);
    const page = await openPage(context, RUNBOOK());
    await page.evaluate(() => {
      const r = document.createRange();
      r.setStart(document.querySelector('#p1 strong').firstChild, 0);
      r.setEnd(document.querySelector('#p1').lastChild, 11);
      getSelection().removeAllRanges();
      getSelection().addRange(r);
    });
    await highlightSelection(worker, RUNBOOK());
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('Tuesdays and Thursdays between 10'),
      'the cross-element highlight',
    );
    await page.reload();
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('Tuesdays and Thursdays between 10'),
      'the cross-element highlight after reload',
    );
  });

  test('a shortcut on a tab where Cairn is not running yet starts it there and is not lost', async () => {
    const { context, worker } = await launchBrowser(extensionDir);
    // As for a tab opened before Cairn was installed or updated: no content script ran in it.
    await worker.evaluate(() => chrome.scripting.unregisterContentScripts());
    const page = await openPage(context, RUNBOOK());
    assert.equal(await page.evaluate(() => CSS.highlights.size), 0);
    await select(page, 'Rollbacks never need a ticket.');
    await highlightSelection(worker, RUNBOOK());
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('Rollbacks never need a ticket.'),
      'the highlight in the tab Cairn started in',
    );
    const badge = await worker.evaluate(async (url) => {
      const [tab] = await chrome.tabs.query({ url });
      return chrome.action.getBadgeText({ tabId: tab.id });
    }, RUNBOOK());
    assert.equal(badge, '', 'the toolbar button must not say Cairn is off on an allowed site');
  });

  test('works on a page whose CSP forbids wasm, without a CSP violation', async () => {
    const { context, worker } = await launchBrowser(extensionDir);
    const page = await openPage(context, CSP_PAGE());
    await select(page, 'raise the pool size');
    await highlightSelection(worker, CSP_PAGE());
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('raise the pool size'),
      'the highlight on the strict-CSP page',
    );
    await page.reload();
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('raise the pool size'),
      'the highlight after reload',
    );
    assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
  });

  test('stays inert on a site that is not allowed, says so, and starts in the open tab once allowed', async () => {
    const { context, worker, extensionId } = await launchBrowser(extensionDir);
    // Same server, other origin (localhost instead of 127.0.0.1): not on the allow list.
    const other = RUNBOOK().replace('127.0.0.1', 'localhost');
    const page = await openPage(context, other);
    await select(page, 'Rollbacks never need a ticket.');
    await highlightSelection(worker, other);
    assert.deepEqual(await allHighlighted(page), []);
    // No content script was injected: the tab has nobody to receive a message.
    const delivery = await worker.evaluate(async (url) => {
      const [tab] = await chrome.tabs.query({ url });
      try {
        await chrome.tabs.sendMessage(tab.id, { kind: 'refresh' });
        return 'delivered';
      } catch (e) {
        return e.message;
      }
    }, other);
    assert.match(delivery, /Receiving end does not exist|Could not establish connection/);
    // The page's own world cannot talk to the extension at all.
    assert.equal(await page.evaluate(() => typeof globalThis.chrome?.runtime?.sendMessage), 'undefined');
    // The shortcut said so where it could: on the toolbar button, for this tab only.
    const badge = async () =>
      worker.evaluate(async (url) => {
        const [tab] = await chrome.tabs.query({ url });
        return chrome.action.getBadgeText({ tabId: tab.id });
      }, other);
    assert.equal(await badge(), 'off');

    // The popup says it once and offers to allow the site; once allowed, the open
    // tab works at once, without a reload.
    const popup = await openPopup(context, extensionId, other);
    await popup.getByTestId('site-off').waitFor();
    assert.equal(await popup.getByTestId('no-highlights').count(), 0, 'no "select text" hint beside "Cairn is off"');
    await popup.getByTestId('allow-site').click();
    await eventually(
      async () => /Cairn is on for/.test(await popup.getByTestId('info').textContent()),
      'the site allowed',
    );
    await popup.close();
    await select(page, 'Rollbacks never need a ticket.');
    await highlightSelection(worker, other);
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('Rollbacks never need a ticket.'),
      'a highlight in the tab that was open',
    );
    assert.equal(await badge(), '');
  });
});

describe('messages are typed and checked by sender', () => {
  test('forged content-script messages cannot reach privileged operations or other sites', async () => {
    const { worker, extensionId } = await launchBrowser(extensionDir);
    const results = await worker.evaluate(
      async ({ extensionId, page }) => {
        const asPage = (url) => ({ id: extensionId, url, tab: { id: 1 } });
        const w = globalThis.cairnWorker;
        return {
          signOut: await w.handle_message({ kind: 'sign_out' }, asPage(page)),
          connect: await w.handle_message(
            { kind: 'connect', server_url: 'https://evil.example', token: 't' },
            asPage(page),
          ),
          changePassword: await w.handle_message(
            { kind: 'change_password', current_password: 'x', new_password: 'pwned-by-a-page' },
            asPage(page),
          ),
          otherSite: await w.handle_message({ kind: 'page_status' }, asPage('https://evil.example/')),
          namedPage: await w.handle_message({ kind: 'page_status', url: 'https://hr.example/' }, asPage(page)),
          badRange: await w.handle_message({ kind: 'create_highlight', text: 'abc', start: 2, end: 9 }, asPage(page)),
          foreign: await w.handle_message(
            { kind: 'status' },
            { id: 'another-extension', url: `chrome-extension://another-extension/x.html` },
          ),
          fileUrl: await w.handle_message({ kind: 'page_status' }, asPage('file:///etc/passwd')),
          popup: await w.handle_message(
            { kind: 'status' },
            { id: extensionId, url: `chrome-extension://${extensionId}/popup.html` },
          ),
        };
      },
      { extensionId, page: RUNBOOK() },
    );
    assert.equal(results.signOut.error.code, 'forbidden');
    assert.equal(results.connect.error.code, 'forbidden');
    assert.equal(results.changePassword.error.code, 'forbidden');
    assert.equal(results.otherSite.error.code, 'site_not_allowed');
    assert.equal(results.namedPage.error.code, 'malformed');
    assert.equal(results.badRange.error.code, 'invalid');
    assert.equal(results.foreign.error.code, 'foreign_sender');
    assert.equal(results.fileUrl.error.code, 'bad_sender_url');
    assert.equal(results.popup.ok, true);
    assert.deepEqual(results.popup.value.allowed_sites, [fixtures]);
  });
});

describe('two teammates and an outsider', () => {
  test("alice's highlight syncs; bob sees it as a teammate's; carol (another community) does not", async () => {
    const alice = await launchBrowser(extensionDir);
    await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password');
    const page = await openPage(alice.context, RUNBOOK());
    await select(page, 'A rollback is always the safe choice');
    await highlightSelection(alice.worker, RUNBOOK());
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('A rollback is always the safe choice'),
      "alice's highlight",
    );
    const synced = await eventually(async () => {
      const { items, connection } = await popupTexts(alice.context, alice.extensionId, RUNBOOK());
      return items.length === 1 && items[0].sync === 'synced' && { items, connection };
    }, 'the popup to say synced');
    assert.match(synced.connection, /Synced as Alice Example/);

    const bob = await launchBrowser(extensionDir);
    await signIn(bob.context, bob.extensionId, 'bob', 'bob-demo-password');
    const bobPage = await openPage(bob.context, RUNBOOK());
    await eventually(
      async () => (await highlighted(bobPage, 'cairn-teammate')).includes('A rollback is always the safe choice'),
      "alice's highlight on bob's page, marked as a teammate's",
    );
    const bobView = await popupTexts(bob.context, bob.extensionId, RUNBOOK());
    assert.deepEqual(bobView.items, [
      { quote: 'A rollback is always the safe choice', sync: 'shared', teammate: 'by Alice Example' },
    ]);

    const carol = await launchBrowser(extensionDir);
    await signIn(carol.context, carol.extensionId, 'carol', 'carol-demo-password');
    const carolPage = await openPage(carol.context, RUNBOOK());
    const carolView = await popupTexts(carol.context, carol.extensionId, RUNBOOK());
    assert.deepEqual(carolView.items, []);
    assert.deepEqual(await allHighlighted(carolPage), []);
  });

  test('a deleted shared highlight can be undone, and teammates lose it only after the undo window', async () => {
    const alice = await launchBrowser(extensionDir);
    await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password');
    const page = await openPage(alice.context, RUNBOOK());
    await select(page, 'Rollbacks never need a ticket.');
    await highlightSelection(alice.worker, RUNBOOK());
    await eventually(
      async () => (await popupTexts(alice.context, alice.extensionId, RUNBOOK())).items[0]?.sync === 'synced',
      'the shared highlight synced',
    );
    const bob = await launchBrowser(extensionDir);
    await signIn(bob.context, bob.extensionId, 'bob', 'bob-demo-password');
    // Earlier tests on this server left other highlights on the page: watch this one.
    const bobSees = async () =>
      (await popupTexts(bob.context, bob.extensionId, RUNBOOK())).items
        .map((i) => i.quote)
        .filter((q) => q === 'Rollbacks never need a ticket.');
    assert.deepEqual(await bobSees(), ['Rollbacks never need a ticket.']);

    // Delete, then Undo: the popup says teammates would lose it, and nothing reaches them.
    const popup = await openPopup(alice.context, alice.extensionId, RUNBOOK());
    const item = () => popup.getByTestId('highlight').filter({ hasText: 'Rollbacks never need a ticket.' });
    await item().getByTestId('delete').click();
    await eventually(
      async () => /Teammates lose it/.test(await popup.getByTestId('info').textContent()),
      'the undo notice',
    );
    assert.equal(await item().count(), 0);
    await popup.getByTestId('undo').click();
    await eventually(async () => (await item().count()) === 1, 'the highlight back in the popup');
    await new Promise((r) => setTimeout(r, 7_000)); // past the undo window (6 s)
    assert.deepEqual(await bobSees(), ['Rollbacks never need a ticket.'], 'an undone delete never reaches teammates');
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('Rollbacks never need a ticket.'),
      'the highlight painted again',
    );

    // Delete for good: bob still has it inside the window, and loses it after.
    await item().getByTestId('delete').click();
    await popup.getByTestId('undo').waitFor();
    assert.deepEqual(await bobSees(), ['Rollbacks never need a ticket.'], 'inside the window the delete is held back');
    await eventually(async () => (await bobSees()).length === 0, 'the delete to reach bob after the window', 20_000);
    await popup.close();
  });

  test('highlights made while the server is down are kept and pushed once it answers', async () => {
    const server = await startServer();
    const alice = await launchBrowser(extensionDir);
    await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password', server.url);
    await server.stop();

    const page = await openPage(alice.context, CSP_PAGE());
    await select(page, 'add a circuit breaker');
    await highlightSelection(alice.worker, CSP_PAGE());
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('add a circuit breaker'),
      'the highlight made offline',
    );
    const offline = await eventually(async () => {
      const view = await popupTexts(alice.context, alice.extensionId, CSP_PAGE());
      return view.connection.includes('Sync error') && view;
    }, 'the popup to show the sync error');
    assert.equal(offline.items[0].sync, 'pending');
    assert.match(offline.connection, /Cannot reach the Cairn server/);

    // Sync now while the server is down says so, and the item still says it waits.
    const popup = await openPopup(alice.context, alice.extensionId, CSP_PAGE());
    await popup.getByTestId('sync-now').click();
    await eventually(
      async () => /Sync failed: Cannot reach/.test(await popup.getByTestId('error').textContent()),
      'the failed sync',
    );
    assert.equal(await popup.getByTestId('highlight').first().getAttribute('data-sync'), 'pending');

    await server.restart();
    await popup.getByTestId('sync-now').click();
    await eventually(
      async () => (await popup.getByTestId('connection').textContent()).includes('Synced as Alice Example'),
      'sync after the server came back',
    );
    // One outcome at a time: the success replaced the error, and the item agrees with the header.
    await eventually(
      async () => /Everything is synced/.test(await popup.getByTestId('info').textContent()),
      'the sync outcome',
    );
    assert.equal(await popup.getByTestId('error').count(), 0);
    await eventually(
      async () => (await popup.getByTestId('highlight').first().getAttribute('data-sync')) === 'synced',
      'the item synced',
    );
    assert.equal(await popup.getByTestId('connection-detail').count(), 0);
    await popup.close();
    const online = await popupTexts(alice.context, alice.extensionId, CSP_PAGE());
    assert.equal(online.items[0].sync, 'synced');
  });
});

describe('the account', () => {
  test('a password changed in the options page signs out other devices and keeps this one', async () => {
    const server = await startServer();
    const signInApi = (password) =>
      fetch(`${server.url}/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password }),
      });
    const other = await (await signInApi('alice-demo-password')).json();
    const alice = await launchBrowser(extensionDir);
    await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password', server.url);

    const options = await alice.context.newPage();
    await options.goto(`chrome-extension://${alice.extensionId}/options.html`);
    await options.getByText('Change password').first().click();
    const change = async (current, next) => {
      await options.getByTestId('current-password').fill(current);
      await options.getByTestId('new-password').fill(next);
      await options.getByTestId('change-password').click();
    };
    await change('not the password', 'a brand new secret');
    await eventually(
      async () => /current password is wrong/.test(await options.getByTestId('notice').textContent()),
      'the refusal',
    );
    assert.equal((await signInApi('alice-demo-password')).status, 200, 'a refused change changes nothing');

    await change('alice-demo-password', 'a brand new secret');
    await eventually(
      async () => /Password changed/.test(await options.getByTestId('notice').textContent()),
      'the change',
    );
    assert.equal(
      await options.getByTestId('current-password').inputValue(),
      '',
      'the password does not stay on the page',
    );
    assert.match(await options.getByTestId('signed-in').textContent(), /as Alice Example/);
    assert.equal((await signInApi('alice-demo-password')).status, 401);
    assert.equal((await signInApi('a brand new secret')).status, 200);
    const otherDevice = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${other.token}` } });
    assert.equal(otherDevice.status, 401, 'the other device was signed out');

    // This browser stays signed in: a highlight made now reaches the server.
    await options.close();
    const page = await openPage(alice.context, RUNBOOK());
    await select(page, 'A rollback is always the safe choice');
    await highlightSelection(alice.worker, RUNBOOK());
    await eventually(async () => {
      const { items } = await popupTexts(alice.context, alice.extensionId, RUNBOOK());
      return items.length === 1 && items[0].sync === 'synced';
    }, 'the highlight made after the change to sync');

    // Signing out revokes this browser's token on the server, not only here.
    const api = await (await signInApi('a brand new secret')).json();
    const tokens = async () =>
      (await (await fetch(`${server.url}/v1/me/tokens`, { headers: { authorization: `Bearer ${api.token}` } })).json())
        .tokens;
    const before = await tokens();
    const signOut = await alice.context.newPage();
    await signOut.goto(`chrome-extension://${alice.extensionId}/options.html`);
    await signOut.getByTestId('sign-out').click();
    await signOut.getByTestId('sign-in').waitFor();
    const after = await tokens();
    assert.equal(
      after.length,
      before.length - 1,
      `tokens before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`,
    );
  });
});
