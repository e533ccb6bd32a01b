//! The Library's core (issue 15): everything the Library page and the `cairn` CLI do with a
//! user's annotations that is not drawing or storage.
//!
//! * [`search`]: an in-memory index over [`LocalRecord`]s, updated one record at a time,
//!   that answers a query as the user types (BM25 over fields, prefix on the last word,
//!   filters), with the byte ranges to mark.
//! * [`review`]: the daily review, spaced like flash cards, as pure functions of the
//!   records, their review states and "today".
//! * [`export`]: a Markdown vault (one file per page, Obsidian front matter), W3C JSON-LD,
//!   Hypothesis's export JSON and CSV; [`zip`] packs files into one download.
//! * [`import`]: Hypothesis exports, W3C JSON-LD from any tool and Cairn's own records, with
//!   a report of what was skipped and why.
//! * [`trail`]: the reading trail, one entry per page read on a site where the user turned
//!   it on, folded from the visits content scripts report; never shared.
//!
//! **Architecture invariant:** no IO, no clock, no randomness and nothing browser- or
//! server-specific: the service worker (wasm32) and the CLI (native) run this same code, and
//! callers pass the time and entropy in. Bad input gives a value ([`LibraryError`], or a
//! skipped item in an import report), never a panic.

pub mod export;
pub mod import;
mod page;
pub mod review;
pub mod search;
mod text;
pub mod trail;
pub mod zip;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use cairn_clip::text_fragment_url;
pub use cairn_sync::LocalRecord;
pub use page::{clip_title, kind_of, page_title, position_of, Kind};
pub use text::fold;

/// What the Library page is given, in one answer: every record this browser keeps, the
/// reading trail and where the daily review stands.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct LibraryListing {
    pub records: Vec<LocalRecord>,
    #[serde(default)]
    pub trail: Vec<trail::TrailEntry>,
    /// The origins where the trail is recorded (a subset of the allowed sites).
    #[serde(default)]
    pub trail_sites: Vec<String>,
    /// Days the trail keeps a page no visit touched; 0 keeps it until cleared.
    #[serde(default)]
    pub trail_retention_days: u32,
    #[serde(default)]
    pub review: Vec<review::ReviewState>,
}

/// Why a Library operation could not run at all (single items that cannot be imported are
/// reported, not errors: see [`import::ImportReport`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LibraryError {
    /// The input is not JSON; the parser's message says where.
    NotJson(String),
    /// JSON, but neither a Hypothesis export, W3C annotations nor Cairn records.
    UnknownFormat(String),
}

impl fmt::Display for LibraryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LibraryError::NotJson(e) => write!(f, "the file is not JSON: {e}"),
            LibraryError::UnknownFormat(what) => write!(
                f,
                "not a format Cairn imports ({what}): expected a Hypothesis export, W3C annotations or Cairn records"
            ),
        }
    }
}

impl std::error::Error for LibraryError {}
