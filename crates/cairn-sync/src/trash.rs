//! Deletes that can be undone.
//!
//! A delete is not sent to the server at once: the record leaves the user's lists
//! and waits here for the undo window. Undo puts it back as it was; once the
//! window has passed, the delete is queued like any other mutation (and only then
//! do teammates lose a shared item). Nothing is lost if the background stops in
//! between: the held records are stored, and whoever looks next settles what is due.

use cairn_protocol::api::Mutation;
use cairn_protocol::messages::SyncState;
use serde::{Deserialize, Serialize};

use crate::LocalRecord;

/// A deleted record, held back until `until_ms`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HeldDelete {
    pub record: LocalRecord,
    pub until_ms: i64,
}

/// Holds `record` for `window_ms` from `now_ms`.
pub fn hold(held: &mut Vec<HeldDelete>, record: LocalRecord, now_ms: i64, window_ms: i64) {
    held.retain(|h| h.record.id != record.id);
    held.push(HeldDelete { record, until_ms: now_ms + window_ms });
}

/// Takes a held record back (undo), if its window has not passed.
pub fn restore(held: &mut Vec<HeldDelete>, id: &str, now_ms: i64) -> Option<LocalRecord> {
    let i = held.iter().position(|h| h.record.id == id && now_ms < h.until_ms)?;
    Some(held.remove(i).record)
}

/// Removes the records whose window has passed and answers the delete mutations
/// to queue for them, numbered from `next_seq` (which it advances). A record the
/// server never had (only on this device) needs none.
pub fn settle_due(held: &mut Vec<HeldDelete>, now_ms: i64, next_seq: &mut u64) -> Vec<Mutation> {
    let mut mutations = Vec::new();
    held.retain(|h| {
        if now_ms < h.until_ms {
            return true;
        }
        if h.record.sync != SyncState::Local {
            mutations.push(Mutation::Delete { seq: *next_seq, id: h.record.id.clone() });
            *next_seq += 1;
        }
        false
    });
    mutations
}

/// When the next held delete falls due, if any.
pub fn next_due(held: &[HeldDelete]) -> Option<i64> {
    held.iter().map(|h| h.until_ms).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id_byte: u8, sync: SyncState) -> LocalRecord {
        crate::fixtures::own_record(id_byte, sync, Some("team"))
    }

    #[test]
    fn undo_within_the_window_gives_the_record_back_unchanged() {
        let mut held = Vec::new();
        let r = record(1, SyncState::Synced);
        hold(&mut held, r.clone(), 1_000, 6_000);
        assert_eq!(restore(&mut held, &r.id, 6_999), Some(r));
        assert!(held.is_empty());
    }

    #[test]
    fn undo_after_the_window_is_refused_and_the_delete_is_queued_once() {
        let mut held = Vec::new();
        let r = record(2, SyncState::Synced);
        hold(&mut held, r.clone(), 1_000, 6_000);
        assert_eq!(restore(&mut held, &r.id, 7_000), None);
        let mut seq = 5;
        assert_eq!(settle_due(&mut held, 6_999, &mut seq), vec![]);
        assert_eq!(settle_due(&mut held, 7_000, &mut seq), vec![Mutation::Delete { seq: 5, id: r.id.clone() }]);
        assert_eq!(seq, 6);
        assert_eq!(settle_due(&mut held, 9_000, &mut seq), vec![]);
        assert!(held.is_empty());
    }

    #[test]
    fn a_record_only_on_this_device_needs_no_server_delete() {
        let mut held = Vec::new();
        hold(&mut held, record(3, SyncState::Local), 0, 10);
        let mut seq = 1;
        assert_eq!(settle_due(&mut held, 10, &mut seq), vec![]);
        assert_eq!((seq, held.len()), (1, 0));
    }

    #[test]
    fn only_due_records_are_settled_and_next_due_is_the_earliest() {
        let mut held = Vec::new();
        let (a, b) = (record(4, SyncState::Pending), record(5, SyncState::Synced));
        hold(&mut held, a.clone(), 0, 100);
        hold(&mut held, b.clone(), 50, 100);
        assert_eq!(next_due(&held), Some(100));
        let mut seq = 1;
        assert_eq!(settle_due(&mut held, 120, &mut seq), vec![Mutation::Delete { seq: 1, id: a.id }]);
        assert_eq!(next_due(&held), Some(150));
        assert_eq!(held[0].record.id, b.id);
    }
}
