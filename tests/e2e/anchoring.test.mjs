// Highlights that stay put: page edits, orphans and re-attaching, late content,
// route changes, the in-page toolbar and notes, and a long page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  allHighlighted,
  cleanupAll,
  clickOverlayButton,
  eventually,
  highlighted,
  highlightSelection,
  launchBrowser,
  openPanel,
  openPopup,
  overlayHtml,
  pointOf,
  pageText,
  select,
  startStack,
} from './harness.mjs';

let fixtures;
let extensionDir;

before(async () => {
  ({ fixtures, extensionDir } = await startStack());
});
after(cleanupAll);

const article = (paragraphs) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>Design doc</title></head><body><article>${paragraphs
    .map((p) => `<p>${p}</p>`)
    .join('')}</article></body></html>`;

const P1 = 'Our services publish events to a shared bus so that teams can build on each other without coordination.';
const P2 = 'A rollback is always the safe choice when p99 latency doubles after a deploy.';
const P3 = 'Every consumer must be idempotent because the bus delivers at least once.';

async function popupItems(context, extensionId, url) {
  const popup = await openPopup(context, extensionId, url);
  await popup.waitForFunction(
    () => !document.body.textContent.includes('Loading…') && !document.body.textContent.includes('…'),
  );
  const items = await popup.getByTestId('highlight').evaluateAll((els) =>
    els.map((el) => ({
      quote: el.querySelector('[data-testid="quote"]').textContent,
      orphan: el.dataset.orphan === 'true',
    })),
  );
  return { popup, items };
}

describe('anchoring on changing pages', () => {
  test('a highlight follows its words through edits, becomes an orphan when they are gone, and can be re-attached', async () => {
    const url = `${fixtures.origin}/edited/doc.html`;
    fixtures.put('/edited/doc.html', article([P1, P2, P3]));
    const { context, worker, extensionId } = await launchBrowser(extensionDir);
    const page = await context.newPage();
    await page.goto(url);
    await select(page, 'the safe choice when p99 latency doubles');
    await highlightSelection(worker, url);
    await eventually(async () => (await highlighted(page, 'cairn-yellow')).length === 1, 'the highlight');

    // Paragraphs inserted before it, another one moved, markup and whitespace changed.
    fixtures.put(
      '/edited/doc.html',
      article([
        'An introduction was added at the top of the page.',
        P3,
        P1.replace('shared bus', '<em>shared</em>   bus'),
        P2,
      ]),
    );
    await page.reload();
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow'))[0] === 'the safe choice when p99 latency doubles',
      'the highlight on the same words after the edit',
    );

    // A typo fixed inside the quote: a fuzzy match, still on the right words.
    fixtures.put('/edited/doc.html', article([P1, P2.replace('safe choice', 'safe choise'), P3]));
    await page.reload();
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow'))[0] === 'the safe choise when p99 latency doubles',
      'the highlight on the edited words',
    );

    // The sentence is deleted: nothing is highlighted (never the wrong words) and the popup lists an orphan.
    fixtures.put('/edited/doc.html', article([P1, P3]));
    await page.reload();
    // The popup learns about orphans when the page has been anchored: wait for that.
    const { popup, items } = await eventually(async () => {
      const view = await popupItems(context, extensionId, url);
      if (view.items[0]?.orphan) return view;
      await view.popup.close();
      return false;
    }, 'the popup to list the orphan');
    assert.deepEqual(items, [{ quote: 'the safe choice when p99 latency doubles', orphan: true }]);
    assert.deepEqual(await allHighlighted(page), []);

    // Re-attach it to a new selection from the popup.
    await select(page, 'Every consumer must be idempotent');
    await popup.getByTestId('reattach').click();
    await popup.getByTestId('info').waitFor();
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow'))[0] === 'Every consumer must be idempotent',
      'the re-attached highlight',
    );
    await page.reload();
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow'))[0] === 'Every consumer must be idempotent',
      'the re-attached highlight after reload',
    );
  });

  test('content rendered after load is highlighted when it arrives, and route changes load the new page', async () => {
    const { context, worker } = await launchBrowser(extensionDir);
    const page = await context.newPage();
    const one = `${fixtures.origin}/spa/issues/OPS-1`;
    await page.goto(one);
    await page.locator('p.description').waitFor();
    await select(page, 'Rotate them with the vault CLI');
    await highlightSelection(worker, one);
    await eventually(async () => (await highlighted(page, 'cairn-yellow')).length === 1, 'the highlight on OPS-1');

    // Reload: the text arrives 1.5 s after load; the highlight follows it.
    await page.reload();
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow'))[0] === 'Rotate them with the vault CLI',
      'the late highlight',
    );

    // Route change to OPS-2 (pushState): OPS-1's highlight is dropped.
    await page.getByText('OPS-2', { exact: true }).click();
    await page.getByText('Flaky checkout test', { exact: false }).first().waitFor();
    await eventually(async () => (await allHighlighted(page)).length === 0, 'the old highlight to be dropped');
    await select(page, 'Freeze time in the test instead.');
    await highlightSelection(worker, `${fixtures.origin}/spa/issues/OPS-2`);
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow'))[0] === 'Freeze time in the test instead.',
      'the OPS-2 highlight',
    );

    // Back to OPS-1: its highlight returns, OPS-2's does not follow.
    await page.goBack();
    await eventually(async () => {
      const all = await allHighlighted(page);
      return all.length === 1 && all[0] === 'Rotate them with the vault CLI';
    }, "OPS-1's highlight after going back");
  });
});

describe('the in-page toolbar and notes', () => {
  test('select, add a note from the toolbar (written in the side panel), see it rendered safely, delete, undo', async () => {
    const url = `${fixtures.origin}/intranet/index.html`;
    const browser = await launchBrowser(extensionDir);
    const { context, extensionId } = browser;
    const page = await context.newPage();
    await page.goto(url);
    // The side panel beside the page: notes are written there.
    const panel = await openPanel(browser, url);
    await page.bringToFront();
    const canary = await pointOf(page, 'canary');
    await page.mouse.dblclick(canary.x, canary.y);
    await eventually(async () => (await overlayHtml(page)).includes('Highlight'), 'the selection toolbar');
    await clickOverlayButton(page, 'Note');
    await eventually(async () => (await highlighted(page, 'cairn-yellow')).includes('canary'), 'the highlight');
    // The panel opens the new highlight's note editor.
    await panel.getByTestId('note-input').waitFor();
    await panel.keyboard.type('Needs **two** approvals <img src=x onerror=alert(1)> [x](javascript:alert(1))');
    await panel.keyboard.press('Control+Enter');
    await eventually(async () => (await panel.getByTestId('note').count()) === 1, 'the note saved');

    // Clicking the highlight shows the note, rendered from Markdown and sanitized.
    await page.bringToFront();
    await page.mouse.click(canary.x, canary.y);
    const html = await eventually(async () => {
      const h = await overlayHtml(page);
      return h.includes('Only you') && h.includes('approvals') && h;
    }, 'the note popover');
    assert.match(html, /<strong>two<\/strong>/);
    // The raw HTML is shown as text (escaped), never as an element or an attribute.
    assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.doesNotMatch(html, /<img|<[^>]*\son\w+=|href="javascript:/i);

    // Edit note on the page opens it in the panel; keys typed at once go into the editor.
    await clickOverlayButton(page, 'Edit note');
    await eventually(
      () => panel.evaluate(() => document.activeElement?.dataset.testid === 'note-input'),
      'the editor focused in the panel',
    );
    await panel.keyboard.press('Control+A');
    await panel.keyboard.type('Ask the release manager first.');
    await panel.keyboard.press('Control+Enter');
    await eventually(
      async () =>
        (await panel.getByTestId('note').allTextContents()).join().trim() === 'Ask the release manager first.',
      'the edited note in the panel',
    );
    await panel.close();
    await page.reload();
    const { popup, items } = await (async () => {
      const p = await openPopup(context, extensionId, url);
      await p.getByTestId('highlight').first().waitFor();
      return { popup: p, items: (await p.getByTestId('note').allTextContents()).map((t) => t.trim()) };
    })();
    assert.deepEqual(items, ['Ask the release manager first.']);
    await popup.close();

    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('canary'),
      'the highlight after reload',
    );
    await page.mouse.click(canary.x, canary.y);
    await eventually(async () => (await overlayHtml(page)).includes('Delete'), 'the popover');
    await clickOverlayButton(page, 'Delete');
    await eventually(async () => (await allHighlighted(page)).length === 0, 'the highlight to be deleted');
    // Undo brings it back, note and all.
    await eventually(async () => (await overlayHtml(page)).includes('Undo'), 'the undo toast');
    await clickOverlayButton(page, 'Undo');
    await eventually(
      async () => (await highlighted(page, 'cairn-yellow')).includes('canary'),
      'the highlight restored',
    );
    await page.mouse.click(canary.x, canary.y);
    await eventually(async () => (await overlayHtml(page)).includes('release manager'), 'the restored note');
    await clickOverlayButton(page, 'Delete');
    await eventually(async () => (await allHighlighted(page)).length === 0, 'the highlight to be deleted again');
    await page.reload();
    const check = await openPopup(context, extensionId, url);
    await check.getByTestId('no-highlights').waitFor();
  });
});

describe('a long page', () => {
  test('500 highlights on a page with more than 1 MB of text all come back after reload', async () => {
    const words = [
      'deploy',
      'canary',
      'rollback',
      'latency',
      'budget',
      'incident',
      'review',
      'owner',
      'region',
      'ticket',
    ];
    const paragraphs = [];
    let size = 0;
    for (let i = 0; size < 1_100_000; i++) {
      const p =
        `Paragraph ${i}: ` +
        Array.from({ length: 40 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ') +
        '.';
      paragraphs.push(p);
      size += p.length;
    }
    fixtures.put('/long/page.html', article(paragraphs));
    const url = `${fixtures.origin}/long/page.html`;
    const { context, worker, extensionId } = await launchBrowser(extensionDir);
    const page = await context.newPage();
    await page.goto(url);
    const text = await pageText(page);
    assert.ok(text.length > 1_000_000, `page text is ${text.length} characters`);

    // 500 highlights, made through the same page channel the content script uses.
    const made = await worker.evaluate(
      async ({ text, url, extensionId }) => {
        const sender = { id: extensionId, url, tab: { id: 1 } };
        let ok = 0;
        for (let i = 0; i < 500; i++) {
          const marker = `Paragraph ${i * 4}: `;
          const start = text.indexOf(marker);
          const reply = await globalThis.cairnWorker.handle_message(
            { kind: 'create_highlight', text, start, end: start + marker.length + 20 },
            sender,
          );
          if (reply.ok) ok++;
        }
        return ok;
      },
      { text, url, extensionId },
    );
    assert.equal(made, 500);

    await page.reload();
    const painted = await eventually(
      async () => {
        const n = await page.evaluate(() =>
          CSS.highlights.get('cairn-yellow') ? CSS.highlights.get('cairn-yellow').size : 0,
        );
        return n === 500 && n;
      },
      'all 500 highlights',
      60_000,
    );
    assert.equal(painted, 500);
    // The page's own event loop kept running while Cairn anchored (work is done in the service worker).
    assert.equal(await page.evaluate(() => new Promise((r) => setTimeout(() => r('alive'), 0))), 'alive');
  });
});
