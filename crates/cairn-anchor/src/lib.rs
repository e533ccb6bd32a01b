//! Anchoring: from a selection to W3C selectors ([`describe`]) and back ([`resolve`]).
//!
//! # The text model
//! Both directions work on *the text of the document*, defined once here and
//! implemented identically by the content script (`extension/content.js`,
//! `collectText`) and, for saved pages, by [`html::document_text`] (feature `html`):
//!
//! * the concatenation, in tree order, of the data of every `Text` node under `<body>`;
//! * except text inside `script`, `style`, `noscript`, `template`, `textarea`, `iframe`
//!   and `object` elements (and their whole subtrees); shadow roots are not entered,
//!   which keeps Cairn's own UI (in a closed shadow root) out;
//! * no whitespace is collapsed or added (a `<br>` or block boundary adds nothing),
//!   so an offset always maps back to exactly one DOM position.
//!
//! Positions in selectors count Unicode code points, as the W3C model requires.
//! The DOM counts UTF-16 code units; [`TextIndex`] converts between the two.
//!
//! # Resolution
//! Position, then exact quote, then fuzzy quote (Myers, [`approx`]), with a confidence
//! gate below which the annotation is an orphan: see the [`resolve`] module doc in
//! `quote.rs`. The resolver never panics and returns offsets on code point boundaries
//! for any input (property-tested in `tests/properties.rs`).
//!
//! **Architecture invariant:** this crate knows nothing of the DOM, of the browser or
//! of storage. It takes a string and selectors and returns offsets, so the same code
//! runs in the service worker, the server and the CLI. The HTML parser and the edit
//! corpus generator sit behind the `html` and `corpus` features, off in the wasm build.

pub mod approx;
#[cfg(feature = "corpus")]
pub mod corpus;
#[cfg(feature = "html")]
pub mod html;
mod index;
mod minimal;
mod quote;

pub use index::TextIndex;
pub use minimal::{describe_minimal, MinimalOptions};
pub use quote::{describe, match_quote, occurrences, resolve, Anchor, Method, CONTEXT_CHARS};
