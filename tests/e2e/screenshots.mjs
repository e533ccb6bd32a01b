// `cargo xtask screenshots`: every surface in every state (surfaces.mjs), light and
// dark (`prefers-color-scheme` emulated), as PNGs in CAIRN_SCREENSHOTS_DIR with an
// index.html that shows each state's two schemes side by side.
//
// Environment: the harness's (set by the xtask), plus
//   CAIRN_SCREENSHOTS_DIR   where to write (target/screenshots)
//   CAIRN_SCREENSHOTS_ONLY  optional: only states whose "surface/state" contains this
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cleanupAll } from './harness.mjs';
import { VIEWPORTS, walkSurfaces } from './surfaces.mjs';

const OUT = resolve(process.env.CAIRN_SCREENSHOTS_DIR || 'target/screenshots');
const ONLY = process.env.CAIRN_SCREENSHOTS_ONLY || '';
const SCHEMES = ['light', 'dark'];

const shots = [];

async function shoot(page, surface) {
  const entry = { ...surface, images: {} };
  for (const colorScheme of SCHEMES) {
    await page.emulateMedia({ colorScheme });
    // Two frames: styles recomputed for the new scheme and painted.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const size = await page.evaluate(() => ({
      width: document.documentElement.scrollWidth,
      height: document.documentElement.scrollHeight,
    }));
    const file = `${surface.surface}-${surface.state}-${colorScheme}.png`;
    // The popup and the page as the user sees them (a real popup is at most 800x600 and
    // scrolls inside); the options tab whole, since a tab scrolls anyway.
    await page.screenshot({
      path: join(OUT, file),
      fullPage: surface.kind === 'options',
    });
    entry.images[colorScheme] = { file, ...size };
  }
  shots.push(entry);
  console.log(`  ${surface.surface}/${surface.state}: ${SCHEMES.join(', ')}`);
}

const escape = (s) =>
  String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function indexHtml(error) {
  const rows = shots
    .map((s) => {
      const viewport = VIEWPORTS[s.kind];
      const cells = SCHEMES.map((scheme) => {
        const img = s.images[scheme];
        const overflow =
          s.kind === 'popup' && (img.height > viewport.height || img.width > viewport.width)
            ? `<span class="warn">document ${img.width}&times;${img.height} px in a ${viewport.width}&times;${viewport.height} view</span>`
            : `<span>document ${img.width}&times;${img.height} px</span>`;
        return `<figure class="${scheme}">
  <a href="${escape(img.file)}"><img src="${escape(img.file)}" alt="${escape(`${s.title}, ${scheme}`)}" loading="lazy"></a>
  <figcaption><strong>${escape(s.surface)} / ${escape(s.state)} / ${scheme}</strong> ${overflow}</figcaption>
</figure>`;
      }).join('\n');
      return `<section id="${escape(`${s.surface}-${s.state}`)}" class="kind-${escape(s.kind)}">
<h2>${escape(s.title)}</h2>
<div class="pair">
${cells}
</div>
</section>`;
    })
    .join('\n');
  const toc = shots
    .map((s) => `<li><a href="#${escape(`${s.surface}-${s.state}`)}">${escape(`${s.surface} / ${s.state}`)}</a></li>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Cairn: every surface, light and dark</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; background: #eceff3; color: #1b1f24; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 32px 0 8px; }
  .meta { color: #555; margin: 0 0 12px; }
  .error { background: #fde8e8; color: #8a1c1c; padding: 12px; border-radius: 6px; white-space: pre-wrap; }
  ul.toc { columns: 3; padding-left: 18px; }
  .pair { display: flex; gap: 24px; align-items: flex-start; flex-wrap: wrap; }
  figure { margin: 0; padding: 12px; border-radius: 8px; }
  figure.light { background: #ffffff; }
  figure.dark { background: #16181d; color: #e6e8eb; }
  figure img { display: block; max-width: 100%; height: auto; border: 1px solid #8884; }
  .kind-options img, .kind-page img, .kind-library img { max-width: 620px; }
  figcaption { margin-top: 6px; font-size: 12px; display: flex; flex-direction: column; gap: 2px; }
  .warn { color: #c0392b; font-weight: 600; }
  figure.dark .warn { color: #ff8a80; }
</style>
</head>
<body>
<h1>Cairn: every surface, light and dark</h1>
<p class="meta">${shots.length} states &times; ${SCHEMES.length} colour schemes, made ${escape(new Date().toISOString())} by <code>cargo xtask screenshots</code>. Popups are shown at ${VIEWPORTS.popup.width}&times;${VIEWPORTS.popup.height} (as the browser shows a popup; in red when the popup document is larger, so the whole popup scrolls), the options page whole, web pages at ${VIEWPORTS.page.width}&times;${VIEWPORTS.page.height}.</p>
${error ? `<p class="error">Stopped early: ${escape(error)}</p>` : ''}
<ul class="toc">${toc}</ul>
${rows}
</body>
</html>
`;
}

await mkdir(OUT, { recursive: true });
// Old PNGs would stay listed by nobody but confuse whoever opens the folder.
for (const f of await readdir(OUT)) if (f.endsWith('.png')) await rm(join(OUT, f));

let error = null;
try {
  await walkSurfaces(shoot, { only: (s) => `${s.surface}/${s.state}`.includes(ONLY) });
} catch (e) {
  error = e.stack || String(e);
} finally {
  await cleanupAll();
}
await writeFile(join(OUT, 'index.html'), indexHtml(error));
console.log(`${shots.length} states, ${shots.length * SCHEMES.length} screenshots: ${join(OUT, 'index.html')}`);
if (error) {
  console.error(`screenshots stopped early:\n${error}`);
  process.exit(1);
}
