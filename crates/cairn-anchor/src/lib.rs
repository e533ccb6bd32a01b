//! Anchoring: from a selection to W3C selectors ([`describe`]) and back ([`resolve`]).
//!
//! # The text model
//! Both directions work on *the text of the document*, defined once here and
//! implemented identically by the content script (`extension/content.js`,
//! `collectText`) and by any native reader of saved pages:
//!
//! * the concatenation, in tree order, of the data of every `Text` node under `<body>`;
//! * except text inside `script`, `style`, `noscript`, `template`, `textarea`, `iframe`,
//!   `object` and `svg` `title`/`desc`, and inside Cairn's own UI;
//! * no whitespace is collapsed or added (a `<br>` or block boundary adds nothing),
//!   so an offset always maps back to exactly one DOM position.
//!
//! Positions in selectors count Unicode code points, as the W3C model requires.
//! The DOM counts UTF-16 code units; [`TextIndex`] converts between the two.
//!
//! **Architecture invariant:** this crate knows nothing of the DOM, of the browser or
//! of storage. It takes a string and selectors and returns offsets, so the same code
//! runs in the service worker, the server and the CLI.

mod index;
mod quote;

pub use index::TextIndex;
pub use quote::{describe, resolve, Anchor, Method, CONTEXT_CHARS};
