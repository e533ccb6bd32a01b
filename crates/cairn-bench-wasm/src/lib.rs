//! Benchmark-only exports of Cairn's cores, built for node (`wasm-bindgen --target nodejs`)
//! by `cargo xtask bench anchor|clip` and called from `tests/bench/*.mjs`.
//!
//! Strings in, JSON strings out, so that the JS drivers time exactly what crossing the
//! wasm boundary costs the extension (copying the page text or HTML in, a result out).
//! Nothing here ships in the extension.
//!
//! `examples/bench_data.rs` is the native side: it writes the anchoring workload from
//! `cairn_anchor::corpus` and scores what the drivers return.

use cairn_anchor::{resolve, TextIndex};
use cairn_model::Selector;
use wasm_bindgen::prelude::*;

/// Re-anchors every annotation on one page text.
///
/// `selectors_json` is a JSON array with one element per annotation, each the array of
/// its W3C selectors. Returns a JSON array of `[start, end]` (code points) or `null`
/// (orphan), in the same order. Malformed selectors count as orphans.
#[wasm_bindgen]
pub fn anchor_all(text: &str, selectors_json: &str) -> String {
    let all: Vec<serde_json::Value> = serde_json::from_str(selectors_json).unwrap_or_default();
    let index = TextIndex::new(text);
    let mut out = String::with_capacity(all.len() * 16 + 2);
    out.push('[');
    for (i, v) in all.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let selectors: Vec<Selector> = serde_json::from_value(v).unwrap_or_default();
        match resolve(&index, &selectors) {
            Some(a) => out.push_str(&format!("[{},{}]", a.start, a.end)),
            None => out.push_str("null"),
        }
    }
    out.push(']');
    out
}

/// An article clip of `html` as the extension makes it ([`cairn_clip::clip_article`]),
/// as JSON: `{"ok": true, "title", "text", "markdown_bytes"}` or `{"ok": false, "error"}`.
#[wasm_bindgen]
pub fn clip_article(html: &str, url: &str) -> String {
    let context = cairn_clip::ClipContext { clipped_at: "2025-01-01T00:00:00Z".into(), ..Default::default() };
    let value = match cairn_clip::clip_article(html, url, &context) {
        Ok(clip) => serde_json::json!({
            "ok": true,
            "title": clip.title,
            "text": clip.article.as_ref().map(|a| a.text.as_str()).unwrap_or(""),
            "markdown_bytes": clip.markdown.len(),
        }),
        Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
    };
    value.to_string()
}

/// The wasm module's linear memory in bytes: its high-water mark, since it never shrinks.
#[wasm_bindgen]
pub fn wasm_memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    return (core::arch::wasm32::memory_size(0) * 65536) as f64;
    #[cfg(not(target_arch = "wasm32"))]
    return 0.0;
}
