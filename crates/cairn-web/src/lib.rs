//! Browser glue (being written).
