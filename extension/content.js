// Cairn's content script. Plain JavaScript on purpose: pages whose CSP forbids
// wasm (script-src 'self') would refuse a wasm content script, and this file must
// work on every allowed page. It does only DOM work:
//   * reads the page's text model (defined in crates/cairn-anchor/src/lib.rs),
//   * turns the selection into UTF-16 offsets of that text and back into Ranges,
//   * paints highlights with the CSS Custom Highlight API (the page's DOM is not touched).
// Everything else — describing, anchoring, storing, syncing — happens in the
// background, which treats every message from here as untrusted.
(() => {
  if (globalThis.__cairnContentScript) return;
  globalThis.__cairnContentScript = true;

  // Elements whose text is not part of the document's text (keep in sync with cairn-anchor).
  const SKIPPED = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'TEXTAREA', 'IFRAME', 'OBJECT']);
  const COLORS = ['yellow', 'green', 'blue', 'pink'];

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

  async function ask(message) {
    const reply = await chrome.runtime.sendMessage(message);
    if (!reply || !reply.ok) throw new Error(reply?.error?.message || 'Cairn did not answer');
    return reply.value;
  }

  // Highlights on this page: id -> {range, name}.
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
      if (range) painted.set(h.id, { range, name: highlightName(h) });
    }
    repaint();
  }

  async function refresh() {
    const status = await ask({ kind: 'page_status' });
    painted.clear();
    if (status.count === 0) {
      repaint();
      return;
    }
    const model = collectText();
    const anchored = await ask({ kind: 'anchor_all', text: model.text });
    paint(model, anchored.highlights);
  }

  async function highlightSelection() {
    const selection = getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return;
    const range = selection.getRangeAt(0);
    const model = collectText();
    const start = offsetOf(model, range.startContainer, range.startOffset);
    const end = offsetOf(model, range.endContainer, range.endOffset);
    if (end <= start) return;
    const created = await ask({ kind: 'create_highlight', text: model.text, start, end, title: document.title.slice(0, 500) });
    paint(model, [created.highlight]);
    selection.removeAllRanges();
  }

  chrome.runtime.onMessage.addListener((message, sender) => {
    if (sender.id !== chrome.runtime.id || !message) return;
    if (message.kind === 'highlight_selection') highlightSelection().catch((e) => console.warn('Cairn:', e.message));
    if (message.kind === 'refresh') refresh().catch((e) => console.warn('Cairn:', e.message));
  });

  refresh().catch((e) => console.warn('Cairn:', e.message));
})();
