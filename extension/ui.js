// Loads the Yew UI (crates/cairn-ui) and starts the page named by <body data-page>.
import init, { start_popup, start_panel, start_library, start_options } from './wasm/cairn_ui.js';

await init({ module_or_path: chrome.runtime.getURL('wasm/cairn_ui_bg.wasm') });
const page = document.body.dataset.page;
if (page === 'popup') start_popup();
else if (page === 'panel') start_panel();
else if (page === 'library') start_library();
else start_options();
