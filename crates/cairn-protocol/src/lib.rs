//! What crosses a boundary, and nothing else.
//!
//! * [`api`]: the JSON bodies of the server's `/v1` API (sign-in, push, page lookup, errors).
//! * [`messages`]: the extension's message channels and the rule that decides
//!   which sender may send what ([`messages::authorize`]).
//! * [`sse`]: reading the server's live event stream as it arrives.
//!
//! Both sides of each boundary use these types, so a field renamed on one side
//! fails to compile on the other instead of failing in a browser.
//!
//! **Architecture invariant:** pure data and validation; no IO, no runtime.

pub mod api;
pub mod messages;
pub mod sse;
