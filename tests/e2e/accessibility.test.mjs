// Accessibility: axe-core, run in the real Chromium, on the popup, the side panel, the Library and the options page
// in every state of surfaces.mjs (the same states as the screenshot gallery), in the
// light and the dark colour scheme. Any violation of impact "serious" or "critical"
// fails the state's test, which prints each one's rule id, help text, help URL and the
// elements it was found on; lesser violations are printed as diagnostics.
//
// axe is injected with page.evaluate(source): that goes through the DevTools protocol,
// so the extension pages' CSP (script-src 'self') does not apply to it, and nothing is
// added to the extension for testing.
//
// NOT covered here: Cairn's in-page toolbar and popover. They live in a closed shadow
// root, which axe (a script in the page) cannot enter, by design of closed roots; the
// tests do not open it, since that would test something other than what users get.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { after, test } from 'node:test';
import { cleanupAll, launchBrowser, startStack } from './harness.mjs';
import { walkSurfaces } from './surfaces.mjs';

const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const FAILING = new Set(['serious', 'critical']);
const SCHEMES = ['light', 'dark'];

after(cleanupAll);

/** axe's violations on the page as it is now, in a form that prints well. */
async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof globalThis.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const results = await globalThis.axe.run(document, { resultTypes: ['violations'] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({
        target: n.target.join(' '),
        html: n.html.slice(0, 160),
        summary: n.failureSummary,
      })),
    }));
  });
}

function describeViolation(scheme, v) {
  const nodes = v.nodes
    .map((n) => `      ${n.target}   ${n.html}\n        ${(n.summary || '').replace(/\n/g, '\n        ')}`)
    .join('\n');
  return `  [${scheme}] ${v.id} (${v.impact}): ${v.help}\n    ${v.helpUrl}\n${nodes}`;
}

test('axe finds no serious or critical violation on the popup, side panel, Library and options, in any state, light or dark', async (t) => {
  let checked = 0;
  await walkSurfaces(
    async (page, surface) => {
      await t.test(`${surface.surface} / ${surface.state}`, async (st) => {
        const failing = [];
        for (const colorScheme of SCHEMES) {
          await page.emulateMedia({ colorScheme });
          for (const v of await axeViolations(page)) {
            if (FAILING.has(v.impact)) failing.push(describeViolation(colorScheme, v));
            else st.diagnostic(describeViolation(colorScheme, v));
          }
        }
        checked++;
        assert.equal(
          failing.length,
          0,
          `${failing.length} serious or critical accessibility violation(s) on ${surface.title}:\n${failing.join('\n')}`,
        );
      });
    },
    // The in-page overlay is in a closed shadow root (see above): only the extension's pages.
    { only: (s) => s.kind !== 'page' },
  );
  // 7 popup states, 8 side panel states, 3 Library states and 3 options states (surfaces.mjs).
  assert.ok(checked >= 21, `axe ran on ${checked} states only`);
});

test('axe runs in an extension page despite its CSP, and reports what it should', async () => {
  // A deliberately broken page in the extension's origin would need a file in the
  // extension; instead, break the options page in place and check axe sees it.
  const { extensionDir } = await startStack();
  const { context, extensionId } = await launchBrowser(extensionDir);
  const page = await context.newPage();
  await page.goto(`chrome-extension://${extensionId}/options.html`);
  await page.getByTestId('username').waitFor();
  await page.evaluate(() => {
    const img = document.createElement('img');
    img.src = 'icons/icon-16.png'; // no alt text: axe's image-alt, critical
    document.body.append(img);
  });
  const ids = (await axeViolations(page)).filter((v) => FAILING.has(v.impact)).map((v) => v.id);
  assert.ok(ids.includes('image-alt'), `axe did not report the image without alt text: ${JSON.stringify(ids)}`);
});
