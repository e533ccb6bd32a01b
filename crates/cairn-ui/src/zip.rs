//! The ZIP writer and clip file names live in `cairn-library` (the Library's exports use them
//! too); re-exported here so the popup's callers stay as they are.

pub use cairn_library::zip::{clip_file_name, zip_stored};
