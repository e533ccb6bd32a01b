//! Records for the unit tests of this crate's modules.

use cairn_model::{Annotation, AnnotationId, Color, PageKey, Selector};
use cairn_protocol::messages::SyncState;

use crate::LocalRecord;

/// One of the user's highlights on `https://wiki.example.com/a`, told apart by `id_byte`.
pub fn own_record(id_byte: u8, sync: SyncState, community: Option<&str>) -> LocalRecord {
    let key = PageKey::from_url("https://wiki.example.com/a").unwrap();
    let quote = Selector::TextQuoteSelector { exact: "x".into(), prefix: None, suffix: None };
    let annotation = Annotation::new_highlight(
        AnnotationId::new_v7(1_700_000_000_000, [id_byte; 10]),
        "https://wiki.example.com/a",
        vec![quote],
        Color::Yellow,
        1_700_000_000_000,
    );
    let mut r = LocalRecord::own(annotation, &key, 1, community, true);
    r.sync = sync;
    r
}
