//! The extension UI (being written).
