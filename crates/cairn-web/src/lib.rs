//! Browser glue for Cairn: the only crate that knows about `chrome.*`, IndexedDB
//! and `fetch`.
//!
//! * [`chrome`]: the few extension APIs Cairn calls, bound with wasm-bindgen.
//! * [`store`]: the IndexedDB store in the extension's own origin (records, outbox, settings).
//! * [`net`]: JSON calls to the Cairn server, with timeouts and errors worded for users.
//! * [`client`]: how extension pages (the Yew UI) talk to the background.
//! * `worker` (feature `worker`): the service worker's entry points.
//!
//! **Architecture invariant:** no domain logic here. What to store, what to push,
//! what an answer means and where a highlight goes are decided by `cairn-sync`,
//! `cairn-anchor` and `cairn-protocol`; this crate moves data between them and
//! the browser. Everything is `cfg(target_arch = "wasm32")`: natively the crate is empty.

#[cfg(target_arch = "wasm32")]
pub mod chrome;
#[cfg(target_arch = "wasm32")]
pub mod client;
#[cfg(target_arch = "wasm32")]
pub mod net;
#[cfg(target_arch = "wasm32")]
pub mod store;
#[cfg(all(target_arch = "wasm32", feature = "worker"))]
mod worker;

/// Serializes to a plain JS value that survives `chrome.runtime.sendMessage`
/// (objects, not `Map`s; numbers, not `BigInt`s).
#[cfg(target_arch = "wasm32")]
pub fn to_js<T: serde::Serialize>(value: &T) -> wasm_bindgen::JsValue {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(wasm_bindgen::JsValue::NULL)
}
