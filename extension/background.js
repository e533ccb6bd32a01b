// Cairn's service worker: a loader, nothing more. All decisions are made in Rust
// (crates/cairn-web, feature `worker`). Listeners are registered synchronously at
// the top level because MV3 may start this worker just to deliver one event;
// each handler waits for the wasm module, then hands the event over.
import init, * as cairn from './wasm/cairn_web.js';

const ready = init({ module_or_path: chrome.runtime.getURL('wasm/cairn_web_bg.wasm') }).then(() => {
  // Reachable only from the extension's own contexts (DevTools, the e2e tests):
  // lets a test hand the worker a forged sender and see it refused.
  globalThis.cairnWorker = cairn;
  return cairn.on_start();
});

function safely(what, run) {
  ready.then(run).catch((e) => console.error(`Cairn: ${what} failed:`, e));
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  // Opening the side panel is allowed only while the user's click is handled,
  // which an await would end: so here, at once. Harmless whoever asks; the
  // request itself is still checked by the worker below like any other.
  if (message?.kind === 'open_panel' && sender.tab?.id !== undefined) {
    chrome.sidePanel.open({ tabId: sender.tab.id }).catch(() => {});
  }
  ready
    .then(() => cairn.handle_message(message, sender))
    .then(sendResponse, (e) => sendResponse({ ok: false, error: { code: 'internal', message: String(e) } }));
  return true; // the reply is asynchronous
});

chrome.runtime.onInstalled.addListener(() => safely('install', () => cairn.on_installed()));
chrome.runtime.onStartup.addListener(() => safely('startup', () => cairn.on_start()));
chrome.alarms.onAlarm.addListener((alarm) => safely('alarm', () => cairn.on_alarm(alarm.name)));
chrome.contextMenus.onClicked.addListener((info, tab) => {
  const tabId = tab?.id ?? -1;
  if (info.menuItemId === 'cairn-highlight') safely('context menu', () => cairn.on_highlight_command(tabId));
  if (info.menuItemId === 'cairn-clip-selection')
    safely('context menu', () => cairn.on_clip_command(tabId, 'selection'));
  if (info.menuItemId === 'cairn-clip-article') safely('context menu', () => cairn.on_clip_command(tabId, 'article'));
});
chrome.commands.onCommand.addListener((command, tab) => {
  const tabId = tab?.id ?? -1;
  if (command === 'highlight-selection') safely('command', () => cairn.on_highlight_command(tabId));
  if (command === 'clip-page') safely('command', () => cairn.on_clip_command(tabId, 'article'));
  if (command === 'open-panel' && tab) chrome.sidePanel.open({ windowId: tab.windowId }).catch(() => {});
  if (command === 'open-library') chrome.tabs.create({ url: chrome.runtime.getURL('library.html') }).catch(() => {});
});
self.addEventListener('online', () => safely('online', () => cairn.on_online()));
