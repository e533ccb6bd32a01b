//! The W3C Web Annotation data model as Cairn uses it.
//!
//! An [`Annotation`] here *is* the W3C JSON-LD form: what the extension stores,
//! what it pushes to the server and what the server serves through the
//! Web Annotation Protocol are the same document, so nothing is lost in
//! translation between the three.
//! Cairn's own facts map onto W3C terms:
//! the note is a `TextualBody` with purpose `commenting` and format `text/markdown`,
//! each tag a `TextualBody` with purpose `tagging`,
//! the highlight colour the target's `styleClass`,
//! the communities it is shared with the annotation's `audience`.
//!
//! **Architecture invariant:** this crate does no IO, reads no clock and draws no
//! random numbers; callers pass time and entropy in. That keeps it testable natively
//! and usable unchanged in the service worker, the server and the CLI.

mod annotation;
mod id;
mod page;
mod time;

pub use annotation::{
    Agent, Annotation, AnnotationError, Audience, Body, ClipKind, Color, Motivation, Selector, Target, ANNO_CONTEXT,
    MAX_CLIP_BYTES, MAX_NOTE_CHARS, MAX_QUOTE_CHARS, MAX_TAGS, MAX_TAG_CHARS, MAX_URL_CHARS,
};
pub use id::{AnnotationId, IdError};
pub use page::{PageKey, PageKeyError};
pub use time::{format_rfc3339_ms, parse_rfc3339_ms};
