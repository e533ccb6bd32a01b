// Loads the Yew UI (crates/cairn-ui) and starts the page named by <body data-page>.
import init, { start_popup, start_options } from './wasm/cairn_ui.js';

await init({ module_or_path: chrome.runtime.getURL('wasm/cairn_ui_bg.wasm') });
if (document.body.dataset.page === 'popup') start_popup();
else start_options();
