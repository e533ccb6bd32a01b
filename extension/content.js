// Cairn's content script. Plain JavaScript on purpose: pages whose CSP forbids
// wasm (script-src 'self') would refuse a wasm content script, and this file must
// work on every allowed page. It does only DOM work:
//   * reads the page's text model (defined in crates/cairn-anchor/src/lib.rs),
//   * turns the selection into UTF-16 offsets of that text and back into Ranges,
//   * paints highlights with the CSS Custom Highlight API (the page's DOM is not touched),
//   * shows Cairn's toolbar and note popover inside a closed shadow root.
// Everything else (describing, anchoring, storing, syncing, rendering notes) happens
// in the background, which treats every message from here as untrusted.
(() => {
  if (globalThis.__cairnContentScript) return;
  globalThis.__cairnContentScript = true;

  // Elements whose text is not part of the document's text (keep in sync with cairn-anchor).
  const SKIPPED = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'TEXTAREA', 'IFRAME', 'OBJECT']);
  const COLORS = ['yellow', 'green', 'blue', 'pink'];
  // Late content (intranet apps render after load): retry orphans this long.
  const RETRY_FOR_MS = 15000;
  const RETRY_DEBOUNCE_MS = 300;

  // ---- the text model ----------------------------------------------------

  function collectText() {
    const nodes = [];
    const starts = [];
    const parts = [];
    let length = 0;
    if (!document.body) return { nodes, starts, text: '', length };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode(node) {
        if (node.nodeType === Node.TEXT_NODE) return NodeFilter.FILTER_ACCEPT;
        return SKIPPED.has(node.nodeName.toUpperCase()) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_SKIP;
      },
    });
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      nodes.push(n);
      starts.push(length);
      parts.push(n.data);
      length += n.data.length;
    }
    return { nodes, starts, text: parts.join(''), length };
  }

  // The text offset of a DOM boundary point (container, offset).
  function offsetOf(model, container, offset) {
    if (container.nodeType === Node.TEXT_NODE) {
      const i = model.nodes.indexOf(container);
      if (i >= 0) return model.starts[i] + Math.min(offset, container.data.length);
    }
    // An element boundary: the offset of the first text node at or after it.
    const point = document.createRange();
    point.setStart(container, offset);
    let lo = 0;
    let hi = model.nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (point.comparePoint(model.nodes[mid], 0) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo < model.nodes.length ? model.starts[lo] : model.length;
  }

  // The text node holding offset `off`; `atEnd` prefers the node that ends there.
  function locate(model, off, atEnd) {
    let lo = 0;
    let hi = model.nodes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      const s = model.starts[mid];
      if (s < off || (!atEnd && s === off)) lo = mid;
      else hi = mid - 1;
    }
    const node = model.nodes[lo];
    return { node, offset: Math.max(0, Math.min(off - model.starts[lo], node.data.length)) };
  }

  function rangeOf(model, start, end) {
    if (!model.nodes.length || end > model.length || start >= end) return null;
    const a = locate(model, start, false);
    const b = locate(model, end, true);
    const range = document.createRange();
    range.setStart(a.node, a.offset);
    range.setEnd(b.node, b.offset);
    return range;
  }

  function selectionOffsets(model) {
    const selection = getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
    const range = selection.getRangeAt(0);
    if (overlay.host.contains(range.commonAncestorContainer)) return null;
    const start = offsetOf(model, range.startContainer, range.startOffset);
    const end = offsetOf(model, range.endContainer, range.endOffset);
    return end > start ? { start, end } : null;
  }

  // ---- talking to the background ----------------------------------------

  function canonical() {
    return document.querySelector('link[rel~="canonical"]')?.href || null;
  }

  async function ask(message) {
    const reply = await chrome.runtime.sendMessage({ ...message, canonical: canonical() });
    if (!reply || !reply.ok) throw new Error(reply?.error?.message || 'Cairn did not answer');
    return reply.value;
  }

  function report(e) {
    console.warn('Cairn:', e.message);
  }

  // ---- painting -----------------------------------------------------------

  // Highlights on this page: id -> {range, name, data}.
  const painted = new Map();

  function highlightName(h) {
    if (h.teammate) return 'cairn-teammate';
    return COLORS.includes(h.color) ? `cairn-${h.color}` : 'cairn-yellow';
  }

  function repaint() {
    if (!globalThis.CSS?.highlights) return;
    const groups = new Map();
    for (const { range, name } of painted.values()) {
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(range);
    }
    for (const name of [...COLORS.map((c) => `cairn-${c}`), 'cairn-teammate']) {
      const ranges = groups.get(name);
      if (ranges) CSS.highlights.set(name, new Highlight(...ranges));
      else CSS.highlights.delete(name);
    }
  }

  function paint(model, highlights) {
    for (const h of highlights) {
      const range = rangeOf(model, h.start, h.end);
      if (range) painted.set(h.id, { range, name: highlightName(h), data: h });
    }
    repaint();
  }

  // ---- loading, late content, route changes -------------------------------

  let observer = null;
  let retryUntil = 0;
  let retryTimer = 0;
  let pageUrl = location.href;

  async function refresh() {
    const status = await ask({ kind: 'page_status' });
    painted.clear();
    stopWatching();
    if (status.count === 0) {
      repaint();
      return;
    }
    await anchorAll();
  }

  async function anchorAll() {
    const model = collectText();
    const anchored = await ask({ kind: 'anchor_all', text: model.text });
    painted.clear();
    paint(model, anchored.highlights);
    if (anchored.orphans > 0) watchForContent();
    else stopWatching();
  }

  // Some highlights did not anchor: the content may not be there yet. Watch the
  // page (debounced) and try again for a while; a page that never changes costs nothing.
  function watchForContent() {
    if (observer) return;
    retryUntil = Date.now() + RETRY_FOR_MS;
    observer = new MutationObserver(() => {
      if (Date.now() > retryUntil) return stopWatching();
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => anchorAll().catch(report), RETRY_DEBOUNCE_MS);
    });
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
  }

  function stopWatching() {
    observer?.disconnect();
    observer = null;
    clearTimeout(retryTimer);
  }

  // Single-page apps change the URL without loading a page: load the new page's
  // annotations and drop the old highlights.
  function onRouteChange() {
    if (location.href === pageUrl) return;
    const before = new URL(pageUrl);
    const after = new URL(location.href);
    pageUrl = location.href;
    // A fragment-only change scrolls within the same document; keep the highlights.
    if (before.origin + before.pathname + before.search === after.origin + after.pathname + after.search) return;
    hideOverlay();
    // Give the app a moment to render the new route before reading its text.
    setTimeout(() => refresh().catch(report), 50);
  }
  if (globalThis.navigation?.addEventListener) {
    navigation.addEventListener('navigatesuccess', onRouteChange);
  }
  addEventListener('popstate', onRouteChange);
  addEventListener('hashchange', onRouteChange);

  // ---- the overlay: toolbar and note popover, in a closed shadow root ------

  const overlay = (() => {
    const host = document.createElement('cairn-overlay');
    host.style.cssText = 'all: initial; position: fixed; z-index: 2147483647; display: none;';
    const root = host.attachShadow({ mode: 'closed' });
    const sheet = new CSSStyleSheet();
    // Constructed stylesheets are not inline styles, so pages with a strict style-src still show them.
    sheet.replaceSync(`
      :host { font: 13px/1.4 system-ui, sans-serif; color: #1d2622; }
      .bar, .card { background: #fff; border: 1px solid #b9c4bf; border-radius: 6px; box-shadow: 0 2px 8px rgba(0,0,0,.15); }
      .bar { display: flex; gap: 2px; padding: 3px; }
      button { font: inherit; border: 0; background: none; cursor: pointer; border-radius: 4px; padding: 3px 8px; height: 26px; }
      button:hover { background: #eef1ee; }
      .swatch { width: 22px; padding: 0; }
      .swatch span { display: inline-block; width: 14px; height: 14px; border-radius: 50%; vertical-align: middle; }
      .card { padding: 8px 10px; max-width: 360px; }
      .who { color: #5c6b64; font-size: 12px; margin-bottom: 4px; }
      .note :first-child { margin-top: 0; } .note :last-child { margin-bottom: 0; }
      textarea { width: 320px; min-height: 70px; font: inherit; }
      .actions { display: flex; gap: 4px; margin-top: 6px; }
      .error { color: #9b2315; }
    `);
    root.adoptedStyleSheets = [sheet];
    const box = document.createElement('div');
    root.append(box);
    document.documentElement.append(host);
    return { host, box };
  })();

  const SWATCH = { yellow: '#ffdd00', green: '#50c878', blue: '#5aa0ff', pink: '#ff78b4' };

  function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    Object.assign(e, props);
    e.append(...children);
    return e;
  }

  function showAt(rect) {
    const { host } = overlay;
    host.style.display = 'block';
    const top = rect.bottom + 6 + 120 < innerHeight ? rect.bottom + 6 : Math.max(4, rect.top - 40);
    host.style.top = `${Math.round(top)}px`;
    host.style.left = `${Math.round(Math.min(Math.max(4, rect.left), innerWidth - 380))}px`;
  }

  function hideOverlay() {
    overlay.host.style.display = 'none';
    overlay.box.replaceChildren();
    overlay.showing = null;
  }

  function noteEditor(initial, onSave) {
    const area = el('textarea', { value: initial || '', placeholder: 'Note (Markdown). Ctrl+Enter saves.' });
    const save = el('button', { textContent: 'Save', title: 'Save the note (Ctrl+Enter)' });
    const cancel = el('button', { textContent: 'Cancel' });
    save.addEventListener('click', () => onSave(area.value));
    cancel.addEventListener('click', hideOverlay);
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) onSave(area.value);
      if (e.key === 'Escape') hideOverlay();
      e.stopPropagation();
    });
    const card = el('div', { className: 'card' }, area, el('div', { className: 'actions' }, save, cancel));
    // The caller puts the card in the overlay right after this returns; a
    // microtask runs before the next key is handled (a timeout did not: keys
    // typed at once went to the page, and the rest after the old note).
    queueMicrotask(() => {
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    });
    return card;
  }

  // The toolbar for a fresh selection: Highlight, Note, colours. The selection is
  // read now: clicking a button could change it.
  function showToolbar() {
    const selection = getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return hideOverlay();
    const range = selection.getRangeAt(0);
    if (!document.body?.contains(range.commonAncestorContainer)) return;
    const rect = range.getBoundingClientRect();
    if (!rect.width && !rect.height) return;
    const model = collectText();
    const at = selectionOffsets(model);
    if (!at) return;
    const highlight = el('button', { textContent: 'Highlight', title: 'Highlight with Cairn (Alt+Shift+H)' });
    highlight.addEventListener('click', () => createHighlight(model, at).catch(report));
    const note = el('button', { textContent: 'Note', title: 'Highlight and add a note' });
    note.addEventListener('click', () => {
      overlay.box.replaceChildren(
        noteEditor('', (text) => createHighlight(model, at, { note: text }).catch(report)),
      );
    });
    const swatches = COLORS.map((c) => {
      const b = el('button', { className: 'swatch', title: `Highlight in ${c}` }, el('span'));
      b.firstChild.style.background = SWATCH[c];
      b.addEventListener('click', () => createHighlight(model, at, { color: c }).catch(report));
      return b;
    });
    const bar = el('div', { className: 'bar' }, highlight, note, ...swatches);
    // Keep the page's selection while the user clicks a toolbar button.
    bar.addEventListener('mousedown', (e) => e.preventDefault());
    overlay.box.replaceChildren(bar);
    overlay.showing = 'toolbar';
    showAt(rect);
  }

  // The popover for one highlight: its note, who made it, and (for one's own) edit, colour, delete.
  function showHighlight(id) {
    const h = painted.get(id);
    if (!h) return;
    const data = h.data;
    const parts = [];
    parts.push(el('div', { className: 'who', textContent: data.teammate ? `Highlight by ${data.teammate}` : 'Your highlight' }));
    if (data.note_html) {
      const note = el('div', { className: 'note' });
      // note_html was rendered by the background (cairn-note: Markdown with raw HTML
      // off, then an allow-list sanitizer), never taken from the server or the page.
      note.innerHTML = data.note_html;
      parts.push(note);
    }
    if (!data.teammate) {
      const edit = el('button', { textContent: data.note ? 'Edit note' : 'Add note' });
      edit.addEventListener('click', () => {
        overlay.box.replaceChildren(
          noteEditor(data.note, (text) => editHighlight(id, { note: text }).catch(report)),
        );
      });
      const del = el('button', { textContent: 'Delete' });
      del.addEventListener('click', () => deleteHighlight(id).catch(report));
      const swatches = COLORS.map((c) => {
        const b = el('button', { className: 'swatch', title: `Make it ${c}` }, el('span'));
        b.firstChild.style.background = SWATCH[c];
        b.addEventListener('click', () => editHighlight(id, { color: c }).catch(report));
        return b;
      });
      parts.push(el('div', { className: 'actions' }, edit, del, ...swatches));
    }
    overlay.box.replaceChildren(el('div', { className: 'card' }, ...parts));
    overlay.showing = id;
    showAt(h.range.getBoundingClientRect());
  }

  // Which painted highlight is under the point, if any.
  function highlightAt(x, y) {
    if (!painted.size) return null;
    const caret = document.caretPositionFromPoint?.(x, y);
    const node = caret ? caret.offsetNode : document.caretRangeFromPoint?.(x, y)?.startContainer;
    const offset = caret ? caret.offset : document.caretRangeFromPoint?.(x, y)?.startOffset;
    if (!node) return null;
    for (const [id, { range }] of painted) {
      if (range.isPointInRange(node, offset) && range.comparePoint(node, offset) === 0) {
        // The caret lands between characters: make sure the point is on the text, not next to it.
        for (const r of range.getClientRects()) {
          if (x >= r.left && x <= r.right && y >= r.top && y <= r.bottom) return id;
        }
      }
    }
    return null;
  }

  // ---- actions ------------------------------------------------------------

  async function createHighlight(model, at, extra = {}) {
    const created = await ask({
      kind: 'create_highlight',
      text: model.text,
      start: at.start,
      end: at.end,
      title: document.title.slice(0, 500),
      ...extra,
    });
    paint(model, [created.highlight]);
    getSelection()?.removeAllRanges();
    hideOverlay();
  }

  async function highlightSelection(color) {
    const model = collectText();
    const at = selectionOffsets(model);
    if (!at) return;
    await createHighlight(model, at, color ? { color } : {});
  }

  async function editHighlight(id, change) {
    const edited = await ask({ kind: 'edit_highlight', id, ...change });
    const h = painted.get(id);
    if (h) {
      h.data = { ...h.data, color: edited.color, note: edited.note, note_html: edited.note_html };
      h.name = highlightName(h.data);
      repaint();
    }
    hideOverlay();
  }

  async function deleteHighlight(id) {
    await ask({ kind: 'delete_highlight', id });
    painted.delete(id);
    repaint();
    hideOverlay();
  }

  async function reattach(id) {
    const model = collectText();
    const at = selectionOffsets(model);
    if (!at) throw new Error('select the text to re-attach the highlight to, then choose Re-attach');
    const done = await ask({ kind: 'reattach_highlight', id, text: model.text, start: at.start, end: at.end });
    paint(model, [done.highlight]);
    getSelection()?.removeAllRanges();
  }

  // A clip sends what its kind needs and nothing more: a URL-only clip sends
  // only the title; an article clip the live DOM (what the user sees, logged in);
  // a selection clip the selected HTML and where it is in the page text.
  async function clip({ clip, note, tags }) {
    const base = { kind: 'clip', clip, title: document.title.slice(0, 500), note: note ?? null, tags: tags ?? [] };
    if (clip === 'url_only') return ask(base);
    if (clip === 'article') return ask({ ...base, html: document.documentElement.outerHTML });
    const selection = getSelection();
    const model = collectText();
    const at = selectionOffsets(model);
    if (!at) throw new Error('select the passage to clip first');
    const holder = document.createElement('div');
    holder.append(selection.getRangeAt(0).cloneContents());
    return ask({ ...base, html: holder.innerHTML, quote: selection.toString(), text: model.text, start: at.start, end: at.end });
  }

  // ---- events -------------------------------------------------------------

  document.addEventListener('mouseup', (e) => {
    if (e.composedPath().includes(overlay.host)) return;
    // After the browser has updated the selection.
    setTimeout(() => {
      const selection = getSelection();
      if (selection && !selection.isCollapsed) return showToolbar();
      const id = highlightAt(e.clientX, e.clientY);
      if (id) showHighlight(id);
      else if (overlay.showing) hideOverlay();
    }, 0);
  });

  let hoverTimer = 0;
  document.addEventListener('mousemove', (e) => {
    if (!painted.size || overlay.showing === 'toolbar' || e.composedPath().includes(overlay.host)) return;
    clearTimeout(hoverTimer);
    hoverTimer = setTimeout(() => {
      const id = highlightAt(e.clientX, e.clientY);
      if (id && overlay.showing !== id) showHighlight(id);
    }, 250);
  });

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && overlay.showing) hideOverlay();
  });

  chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
    if (sender.id !== chrome.runtime.id || !message) return;
    if (message.kind === 'clip') {
      clip(message).then(
        () => sendResponse({ ok: true }),
        (e) => sendResponse({ error: e.message }),
      );
      return true; // answered asynchronously
    }
    if (message.kind === 'highlight_selection') highlightSelection().catch(report);
    if (message.kind === 'refresh') refresh().catch(report);
    if (message.kind === 'reattach' && typeof message.id === 'string') reattach(message.id).catch(report);
  });

  refresh().catch(report);
})();
