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
  // Teammates' colours: TEAMMATE_PALETTE in cairn-protocol, same order (highlights.css has the rules).
  const TEAMMATE_COLORS = ['#e69f00', '#56b4e9', '#009e73', '#d55e00', '#cc79a7', '#0072b2', '#8c6cf0', '#2a9d8f'];
  // Same as the undo window of cairn_protocol::messages.
  const UNDO_WINDOW_MS = 6000;
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

  // Failures are said where the user is looking: in a toast on the page.
  function report(e) {
    toast(e.message || String(e), { error: true });
  }

  // ---- painting -----------------------------------------------------------

  // Highlights on this page: id -> {range, name, data}.
  const painted = new Map();

  function highlightName(h) {
    if (h.teammate) return `cairn-teammate-${(h.teammate_color ?? 0) % TEAMMATE_COLORS.length}`;
    return COLORS.includes(h.color) ? `cairn-${h.color}` : 'cairn-yellow';
  }

  function repaint() {
    if (!globalThis.CSS?.highlights) return;
    const groups = new Map();
    for (const { range, name } of painted.values()) {
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(range);
    }
    const names = [...COLORS.map((c) => `cairn-${c}`), ...TEAMMATE_COLORS.map((_, i) => `cairn-teammate-${i}`)];
    for (const name of names) {
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

  // A refresh (from a teammate's live change, say) and a highlight being made
  // run one after the other: interleaved, the refresh would clear the new
  // highlight from the page and repaint from a listing read before it existed.
  let queue = Promise.resolve();
  function oneAtATime(run) {
    const done = queue.then(run, run);
    queue = done.catch(() => {});
    return done;
  }

  function refresh() {
    return oneAtATime(refreshNow);
  }

  async function refreshNow() {
    const status = await ask({ kind: 'page_status' });
    followTrail(status.trail);
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

  // ---- the reading trail, only where the user turned it on ----------------
  // Reports how long the page was in view and how far down it was read; the
  // background keeps the reports in this browser only, for sites with the trail on.

  const TRAIL_REPORT_MS = 15000;
  const TRAIL_SCROLL_DEBOUNCE_MS = 1000;
  const trail = {
    url: null,
    opened: false,
    visibleSince: 0,
    activeMs: 0,
    scrolled: 0,
    sent: -1,
    timer: 0,
    scrollTimer: 0,
  };

  // The page as the trail knows it: a fragment change is the same page.
  function documentUrl() {
    return location.href.split('#')[0];
  }

  function scrolledPercent() {
    const height = document.documentElement.scrollHeight;
    if (!(height > 0)) return 0;
    return Math.min(100, Math.round(((scrollY + innerHeight) / height) * 100));
  }

  function followTrail(on) {
    if (!on) {
      clearInterval(trail.timer);
      trail.url = null;
      return;
    }
    if (trail.url === documentUrl()) return; // this visit is already followed
    Object.assign(trail, { url: documentUrl(), opened: true, activeMs: 0, sent: -1, scrolled: scrolledPercent() });
    trail.visibleSince = document.visibilityState === 'visible' ? Date.now() : 0;
    reportTrail();
    clearInterval(trail.timer);
    trail.timer = setInterval(reportTrail, TRAIL_REPORT_MS);
  }

  // In-view time since the last report.
  function takeActiveMs() {
    const now = Date.now();
    if (trail.visibleSince) trail.activeMs += now - trail.visibleSince;
    trail.visibleSince = document.visibilityState === 'visible' ? now : 0;
    const ms = trail.activeMs;
    trail.activeMs = 0;
    return ms;
  }

  function reportTrail() {
    // A route change not yet looked at belongs to the next visit.
    if (trail.url === null || trail.url !== documentUrl()) return;
    const opened = trail.opened;
    const activeMs = takeActiveMs();
    if (!opened && activeMs < 1000 && trail.scrolled === trail.sent) return;
    trail.opened = false;
    trail.sent = trail.scrolled;
    const message = {
      kind: 'trail_visit',
      title: document.title.trim().slice(0, 500),
      opened,
      active_ms: Math.min(activeMs, 2 ** 32 - 1),
      scrolled_percent: trail.scrolled,
    };
    // Not an action of the user's: a report that cannot be sent (the extension was
    // updated, say) is dropped rather than shown.
    ask(message).catch(() => {});
  }

  document.addEventListener('visibilitychange', () => {
    if (trail.url === null) return;
    if (document.visibilityState === 'hidden') reportTrail();
    else if (!trail.visibleSince) trail.visibleSince = Date.now();
  });
  addEventListener('pagehide', () => reportTrail());
  addEventListener(
    'scroll',
    () => {
      if (trail.url === null) return;
      const now = scrolledPercent();
      if (now <= trail.scrolled) return;
      trail.scrolled = now;
      clearTimeout(trail.scrollTimer);
      trail.scrollTimer = setTimeout(reportTrail, TRAIL_SCROLL_DEBOUNCE_MS);
    },
    { passive: true },
  );

  // ---- the overlay: toolbar and note popover, in a closed shadow root ------

  const overlay = (() => {
    const host = document.createElement('cairn-overlay');
    host.style.cssText = 'all: initial; position: fixed; z-index: 2147483647; display: none;';
    const root = host.attachShadow({ mode: 'closed' });
    const sheet = new CSSStyleSheet();
    // Constructed stylesheets are not inline styles, so pages with a strict style-src still show them.
    sheet.replaceSync(`
      /* The host carries all: initial against the page's styles, so the font is set here, inside. */
      .root { font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif; color: #1d2420;
        --surface: #fff; --border: #d0cfc6; --muted: #55605a; --hover: #f0efea; --accent: #2f6b55; --accent-text: #fff;
        --bad: #b3261e; --focus: #2f6fd6; --accent-soft: #e2efe9; }
      @media (prefers-color-scheme: dark) {
        .root { color: #e6ebe8; --surface: #1f2421; --border: #3a423d; --muted: #a4b0a9; --hover: #2b322e;
          --accent: #7cc4a4; --accent-text: #10231b; --bad: #ff9b92; --focus: #8ab4ff; --accent-soft: #23382e; }
      }
      .bar, .card, .toast { background: var(--surface); border: 1px solid var(--border); border-radius: 8px;
        box-shadow: 0 2px 4px rgba(0,0,0,.08), 0 8px 24px rgba(0,0,0,.16); }
      .bar { display: flex; gap: 2px; padding: 3px; align-items: center; }
      button { font: inherit; color: inherit; border: 0; background: none; cursor: pointer; border-radius: 5px; padding: 3px 8px; min-height: 28px; }
      button:hover { background: var(--hover); }
      button:focus-visible { outline: 2px solid var(--focus); outline-offset: 1px; }
      button.primary { background: #2f6b55; color: #fff; font-weight: 600; }
      button.danger { color: var(--bad); }
      .swatch { width: 26px; padding: 0; }
      .swatch span { display: inline-block; width: 14px; height: 14px; border-radius: 50%; vertical-align: middle; box-shadow: inset 0 0 0 1px rgba(0,0,0,.2); }
      /* A long note scrolls inside the card; who made it and the actions stay in view. */
      .card { padding: 10px 12px; width: min(380px, calc(100vw - 16px)); max-height: min(60vh, 420px); box-sizing: border-box;
        display: flex; flex-direction: column; }
      .card > .note { overflow: auto; min-height: 0; flex: 1 1 auto; }
      .card > .who, .card > .actions { flex: none; }
      .sep { width: 1px; height: 18px; background: var(--border); margin: 0 2px; }
      .swatch[aria-pressed="true"] span { box-shadow: 0 0 0 2px var(--surface), 0 0 0 4px currentColor; }
      .who { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: center; color: var(--muted); font-size: 12px; margin-bottom: 6px; }
      .who .dot { width: 8px; height: 8px; border-radius: 50%; display: inline-block; }
      .chip { border: 1px solid var(--border); border-radius: 999px; padding: 0 7px; font-size: 11.5px; }
      .chip.shared { background: var(--accent-soft); color: var(--accent); border-color: transparent; }
      .note { overflow-wrap: anywhere; }
      .note :first-child { margin-top: 0; } .note :last-child { margin-bottom: 0; }
      .note p, .note ul, .note ol, .note pre, .note blockquote { margin: 0 0 6px; }
      .note ul, .note ol { padding-left: 18px; }
      .note blockquote { border-left: 3px solid var(--border); padding-left: 8px; color: var(--muted); }
      .note pre { overflow: auto; background: var(--hover); padding: 6px; border-radius: 5px; }
      .note a { color: var(--accent); }
      .actions { display: flex; gap: 4px; margin-top: 8px; align-items: center; flex-wrap: wrap; }
      .error { color: var(--bad); }
      .toast { position: fixed; right: 16px; bottom: 16px; max-width: min(420px, calc(100vw - 32px)); padding: 8px 10px 8px 12px;
        display: flex; gap: 8px; align-items: center; }
      .toast.error { border-color: var(--bad); }
      .toast .text { flex: 1; overflow-wrap: anywhere; }
    `);
    root.adoptedStyleSheets = [sheet];
    const box = document.createElement('div');
    box.className = 'root';
    const toastBox = document.createElement('div');
    toastBox.className = 'root';
    root.append(box, toastBox);
    document.documentElement.append(host);
    return { host, box, toastBox };
  })();

  const SWATCH = { yellow: '#ffdd00', green: '#50c878', blue: '#5aa0ff', pink: '#ff78b4' };

  // "just now", "5 min ago", "3 h ago", "2 d ago", else the date: as the popup says it (cairn-ui's relative_time).
  function relativeTime(iso) {
    const minutes = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));
    if (Number.isNaN(minutes)) return '';
    if (minutes < 1) return 'just now';
    if (minutes < 60) return `${minutes} min ago`;
    if (minutes < 1440) return `${Math.floor(minutes / 60)} h ago`;
    if (minutes < 10080) return `${Math.floor(minutes / 1440)} d ago`;
    return iso.slice(0, 10);
  }

  function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    Object.assign(e, props);
    e.append(...children);
    return e;
  }

  // Places the overlay next to `rect` (below it if it fits, else above), always
  // inside the viewport: the card itself scrolls when its content is taller.
  function showAt(rect) {
    const { host } = overlay;
    host.style.display = 'block';
    host.style.top = '0px';
    host.style.left = '0px';
    const box = overlay.box.getBoundingClientRect();
    const below = rect.bottom + 6;
    const above = rect.top - 6 - box.height;
    const top =
      below + box.height <= innerHeight - 8 ? below : above >= 8 ? above : Math.max(8, innerHeight - 8 - box.height);
    const left = Math.min(Math.max(8, rect.left), Math.max(8, innerWidth - 8 - box.width));
    host.style.top = `${Math.round(top)}px`;
    host.style.left = `${Math.round(left)}px`;
  }

  function hideOverlay() {
    overlay.box.replaceChildren();
    overlay.showing = null;
    if (!overlay.toastBox.childElementCount) overlay.host.style.display = 'none';
  }

  // A short message in the page's corner, for actions started by a shortcut or
  // the context menu (where there is no popup to answer in). `undo` adds a button.
  let toastTimer = 0;
  function toast(text, { error = false, undo = null, ms = error ? 8000 : 3000 } = {}) {
    clearTimeout(toastTimer);
    const close = () => {
      overlay.toastBox.replaceChildren();
      if (!overlay.showing) overlay.host.style.display = 'none';
    };
    const parts = [el('span', { className: 'text', textContent: text })];
    if (undo) {
      const b = el('button', { className: 'primary', textContent: 'Undo' });
      b.addEventListener('click', () => {
        close();
        undo().catch(report);
      });
      parts.push(b);
    }
    const dismiss = el('button', { textContent: '×', title: 'Dismiss' });
    dismiss.setAttribute('aria-label', 'Dismiss');
    dismiss.addEventListener('click', close);
    parts.push(dismiss);
    const box = el('div', { className: `toast${error ? ' error' : ''}` }, ...parts);
    box.setAttribute('role', error ? 'alert' : 'status');
    overlay.toastBox.replaceChildren(box);
    overlay.host.style.display = 'block';
    toastTimer = setTimeout(close, ms);
  }

  // Notes are written in the side panel, an extension page: keys typed there never
  // reach the page's own scripts, as they would in an editor inside the page.
  // The panel opens at once (the click must still count as the user's gesture),
  // then learns which highlight's note to open.
  function writeNoteInPanel(id) {
    chrome.runtime.sendMessage({ kind: 'open_panel' }).catch(() => {});
    if (id) return ask({ kind: 'open_panel', focus: id });
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
    const highlight = el('button', {
      className: 'primary',
      textContent: 'Highlight',
      title: 'Highlight with Cairn (Alt+Shift+U)',
    });
    highlight.addEventListener('click', () => createHighlight(model, at).catch(report));
    const note = el('button', { textContent: 'Note', title: 'Highlight, then write a note in the side panel' });
    note.addEventListener('click', () => {
      writeNoteInPanel(null);
      createHighlight(model, at)
        .then((id) => writeNoteInPanel(id))
        .catch(report);
    });
    const swatches = COLORS.map((c) => {
      const b = el('button', { className: 'swatch', title: `Highlight in ${c}` }, el('span'));
      b.setAttribute('aria-label', `Highlight in ${c}`);
      b.firstChild.style.background = SWATCH[c];
      b.addEventListener('click', () => createHighlight(model, at, { color: c }).catch(report));
      return b;
    });
    const bar = el('div', { className: 'bar' }, highlight, note, el('span', { className: 'sep' }), ...swatches);
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
    const who = el('div', { className: 'who' });
    if (data.teammate) {
      const dot = el('span', { className: 'dot' });
      dot.style.background = TEAMMATE_COLORS[(data.teammate_color ?? 0) % TEAMMATE_COLORS.length];
      who.append(dot, el('strong', { textContent: data.teammate }));
    } else {
      who.append(el('strong', { textContent: 'You' }));
    }
    if (data.created) {
      const when = el('time', {
        textContent: relativeTime(data.created),
        title: new Date(data.created).toLocaleString(),
      });
      who.append(when);
    }
    const shared = data.audience?.length > 0;
    const audience = shared ? data.audience.join(', ') : data.teammate ? `Shared by ${data.teammate}` : 'Only you';
    who.append(
      el('span', {
        className: shared ? 'chip shared' : 'chip',
        textContent: audience,
        title: shared ? `Seen by the members of ${audience}` : 'Private',
      }),
    );
    parts.push(who);
    if (data.note_html) {
      const note = el('div', { className: 'note' });
      // note_html was rendered by the background (cairn-note: Markdown with raw HTML
      // off, then an allow-list sanitizer), never taken from the server or the page.
      note.innerHTML = data.note_html;
      parts.push(note);
    }
    if (!data.teammate) {
      const edit = el('button', {
        textContent: data.note ? 'Edit note' : 'Add note',
        title: 'Write the note in the side panel',
      });
      edit.addEventListener('click', () => {
        hideOverlay();
        writeNoteInPanel(id).catch(report);
      });
      const del = el('button', { className: 'danger', textContent: 'Delete' });
      del.addEventListener('click', () => deleteHighlight(id, data.audience?.length > 0).catch(report));
      const swatches = COLORS.map((c) => {
        const b = el('button', { className: 'swatch', title: `Make it ${c}` }, el('span'));
        b.setAttribute('aria-label', `Make it ${c}`);
        b.setAttribute('aria-pressed', String((data.color || 'yellow') === c));
        b.style.color = SWATCH[c];
        b.firstChild.style.background = SWATCH[c];
        b.addEventListener('click', () => editHighlight(id, { color: c }).catch(report));
        return b;
      });
      parts.push(el('div', { className: 'actions' }, edit, del, ...swatches));
    } else {
      const open = el('button', { textContent: 'Open in panel', title: "See it with the page's other notes" });
      open.addEventListener('click', () => {
        hideOverlay();
        writeNoteInPanel(null);
      });
      parts.push(el('div', { className: 'actions' }, open));
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

  function createHighlight(model, at, extra = {}) {
    return oneAtATime(() => createHighlightNow(model, at, extra));
  }

  async function createHighlightNow(model, at, extra) {
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
    return created.highlight.id;
  }

  // The side panel's list was clicked: bring the passage into view and flash it.
  function reveal(id) {
    const h = painted.get(id);
    if (!h) return;
    const target = h.range.startContainer.parentElement;
    target?.scrollIntoView({ block: 'center', behavior: 'smooth' });
    CSS.highlights.set('cairn-flash', new Highlight(h.range));
    setTimeout(() => CSS.highlights.delete('cairn-flash'), 1500);
  }

  // From the keyboard command or the context menu: answer on the page.
  async function highlightSelection(color) {
    const model = collectText();
    const at = selectionOffsets(model);
    if (!at) throw new Error('Select the text to highlight first, then press the shortcut again');
    await createHighlight(model, at, color ? { color } : {});
    toast('Highlighted');
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

  // Deleted at once here; the background holds the delete back from the server
  // for the undo window, so Undo brings it back for everyone.
  async function deleteHighlight(id, shared) {
    await ask({ kind: 'delete_highlight', id });
    painted.delete(id);
    repaint();
    hideOverlay();
    const text = shared
      ? 'Highlight deleted. Teammates lose it in a few seconds unless you undo.'
      : 'Highlight deleted.';
    toast(text, {
      ms: UNDO_WINDOW_MS,
      undo: async () => {
        await ask({ kind: 'restore_highlight', id });
        await refresh();
        toast('Highlight restored');
      },
    });
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
    return ask({
      ...base,
      html: holder.innerHTML,
      quote: selection.toString(),
      text: model.text,
      start: at.start,
      end: at.end,
    });
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

  // A selection made with the keyboard (Shift+arrows) gets the toolbar too.
  document.addEventListener('keyup', (e) => {
    if (!(e.shiftKey || e.key === 'Shift') || e.composedPath().includes(overlay.host)) return;
    const selection = getSelection();
    if (selection && !selection.isCollapsed) showToolbar();
  });

  chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
    if (sender.id !== chrome.runtime.id || !message) return;
    if (message.kind === 'clip') {
      // From the popup (it says the outcome itself) or from a shortcut or the
      // context menu, where only the page can: `announce` is set for those.
      clip(message).then(
        () => {
          if (message.announce) toast('Clipped: open Cairn from the toolbar to see it');
          sendResponse({ ok: true });
        },
        (e) => {
          if (message.announce) report(e);
          sendResponse({ error: e.message });
        },
      );
      return true; // answered asynchronously
    }
    if (message.kind === 'highlight_selection') highlightSelection().catch(report);
    if (message.kind === 'refresh') refresh().catch(report);
    if (message.kind === 'reattach' && typeof message.id === 'string') reattach(message.id).catch(report);
    if (message.kind === 'reveal' && typeof message.id === 'string') reveal(message.id);
    // Received: the background retries a command only when no page answered.
    sendResponse({ ok: true });
  });

  refresh().catch(report);
})();
