//! Notes are rendered by `cairn-note`, the same code the extension runs before
//! showing a note, so the server and the client agree on what is safe.

pub use cairn_note::render_note;
