// Long content never pushes a surface out of the viewport: the popup (200 items,
// a 3,000-character note, an error) stays within a real popup's size and scrolls
// inside; the side panel never scrolls sideways and keeps its header; the in-page toolbar and popovers (a 3,000-character note) stay inside
// the page's viewport. The states are those of the screenshot gallery (surfaces.mjs).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cleanupAll } from './harness.mjs';
import { VIEWPORTS, walkSurfaces } from './surfaces.mjs';

after(cleanupAll);

/** Boxes of the visible cards and bars inside Cairn's overlay (a closed shadow root, reached through DevTools). */
async function overlayBoxes(page) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument', { depth: -1, pierce: true });
    const found = [];
    const walk = (node, inOverlay) => {
      const here = inOverlay || node.nodeName === 'CAIRN-OVERLAY';
      const cls = (node.attributes || []).reduce((c, v, i, a) => (a[i - 1] === 'class' ? v : c), '');
      if (here && /\b(card|bar|toast)\b/.test(cls)) found.push(node);
      for (const c of [...(node.children || []), ...(node.shadowRoots || [])]) walk(c, here);
    };
    walk(root, false);
    const boxes = [];
    for (const n of found) {
      const { model } = await cdp.send('DOM.getBoxModel', { backendNodeId: n.backendNodeId });
      const xs = [model.border[0], model.border[2], model.border[4], model.border[6]];
      const ys = [model.border[1], model.border[3], model.border[5], model.border[7]];
      boxes.push({ left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs), bottom: Math.max(...ys) });
    }
    return boxes;
  } finally {
    await cdp.detach();
  }
}

test('no surface overflows its viewport, with 200 items or a 3,000-character note', async (t) => {
  const seen = [];
  await walkSurfaces(
    async (page, surface) => {
      await t.test(`${surface.surface} / ${surface.state}`, async () => {
        const view = VIEWPORTS[surface.kind];
        if (surface.kind === 'popup') {
          const doc = await page.evaluate(() => ({
            width: document.documentElement.scrollWidth,
            height: document.documentElement.scrollHeight,
          }));
          // A real popup is at most 800x600: the document must fit, and long lists scroll inside.
          assert.ok(doc.height <= 600 && doc.width <= view.width, `the popup document is ${doc.width}x${doc.height}`);
        } else if (surface.kind === 'panel' || surface.kind === 'library') {
          // The side panel is as tall as the window and scrolls as a page, but never sideways,
          // and its header (status, sync) stays in view at the bottom of a long list.
          const doc = await page.evaluate(() => {
            window.scrollTo(0, document.documentElement.scrollHeight);
            const header = document.querySelector('header').getBoundingClientRect();
            return { width: document.documentElement.scrollWidth, headerTop: header.top };
          });
          assert.ok(doc.width <= view.width, `the ${surface.kind} is ${doc.width} px wide in ${view.width}`);
          assert.equal(doc.headerTop, 0, `the header scrolled out of the ${surface.kind}`);
          await page.evaluate(() => window.scrollTo(0, 0));
        } else {
          const boxes = await overlayBoxes(page);
          assert.ok(boxes.length > 0, 'the overlay shows something');
          for (const b of boxes) {
            assert.ok(
              b.left >= 0 && b.top >= 0 && b.right <= view.width && b.bottom <= view.height,
              `an overlay box at ${JSON.stringify(b)} leaves the ${view.width}x${view.height} viewport`,
            );
          }
        }
        seen.push(surface.state);
      });
    },
    { only: (s) => s.kind !== 'options' },
  );
  for (const state of ['200-items', 'long-note', 'popover-long-note', 'selection-toolbar']) {
    assert.ok(seen.includes(state), `the walk did not reach ${state}`);
  }
});
