//! Queuing mutations: what the user's saves put in the outbox, and the sequence
//! number each gets.
//!
//! A mutation's `seq` is its key in the outbox and half of the server's
//! idempotency key, so a `seq` used twice loses a change: the second mutation
//! overwrites the first in the outbox, or the server answers "duplicate" for it
//! and it is never applied. Hence a mutation is built here *without* its `seq`
//! ([`Queued`]) and numbered by [`number`] inside the very transaction that
//! queues it, from the `next_seq` stored now, not from a copy read before some
//! `await`. The browser glue calls these functions on the settings it read inside
//! that transaction.

use cairn_model::Annotation;
use cairn_protocol::api::Mutation;
use cairn_protocol::messages::SyncState;

use crate::trash::{self, HeldDelete};
use crate::LocalRecord;

/// A mutation waiting for its `seq`, which [`number`] gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Queued {
    Upsert { annotation: Box<Annotation>, communities: Vec<String> },
    Delete { id: String },
}

impl Queued {
    /// The upsert that carries a record of the user's to the server.
    pub fn upsert(record: &LocalRecord) -> Queued {
        Queued::Upsert { annotation: Box::new(record.annotation.clone()), communities: record.communities.clone() }
    }

    pub fn with_seq(self, seq: u64) -> Mutation {
        match self {
            Queued::Upsert { annotation, communities } => {
                Mutation::Upsert { seq, annotation: *annotation, communities }
            }
            Queued::Delete { id } => Mutation::Delete { seq, id },
        }
    }
}

/// Numbers `queued` in order from `next_seq` and advances `next_seq` past them.
///
/// `highest_queued` is the highest `seq` still in the outbox: numbering starts
/// above it too, so that a `seq` is never reused while its mutation waits, even on
/// a device whose `next_seq` an earlier version rolled back.
pub fn number(queued: Vec<Queued>, next_seq: &mut u64, highest_queued: Option<u64>) -> Vec<Mutation> {
    if let Some(highest) = highest_queued {
        *next_seq = (*next_seq).max(highest.saturating_add(1));
    }
    queued
        .into_iter()
        .map(|q| {
            let seq = *next_seq;
            *next_seq += 1;
            q.with_seq(seq)
        })
        .collect()
}

/// What saving a record of the user's queues, decided with the settings as they
/// are when it is saved: a record kept only on this device goes to the server once
/// the user is signed in, and a pending one is queued. Its audience is never
/// widened here: what was private stays private (synced to the user's own
/// account only) until the user shares it. `record` is updated to the state it
/// is stored in.
pub fn own(record: &mut LocalRecord, signed_in: bool) -> Option<Queued> {
    if signed_in && record.sync == SyncState::Local {
        record.sync = SyncState::Pending;
    }
    (record.sync == SyncState::Pending).then(|| Queued::upsert(record))
}

/// Signing in: every record of the user's kept only on this device (`local_only`)
/// goes to the server with the audience it has (private ones stay private).
/// Returns the records as they are to be stored and the mutations to queue for them.
pub fn adopt_local(local_only: Vec<LocalRecord>) -> (Vec<LocalRecord>, Vec<Queued>) {
    let mut queued = Vec::with_capacity(local_only.len());
    let mut records = Vec::with_capacity(local_only.len());
    for mut r in local_only.into_iter().filter(|r| r.is_own() && r.sync == SyncState::Local) {
        queued.extend(own(&mut r, true));
        records.push(r);
    }
    (records, queued)
}

/// Takes out of `held` the deletes whose undo window has passed and answers the
/// delete mutations to queue for them ([`trash::settle_due`], numbered later by
/// [`number`]).
pub fn due_deletes(held: &mut Vec<HeldDelete>, now_ms: i64) -> Vec<Queued> {
    let mut unnumbered = 0;
    trash::settle_due(held, now_ms, &mut unnumbered)
        .into_iter()
        .filter_map(|m| match m {
            Mutation::Delete { id, .. } => Some(Queued::Delete { id }),
            Mutation::Upsert { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixtures::own_record as record;

    #[test]
    fn mutations_are_numbered_in_order_from_next_seq_which_moves_past_them() {
        let (a, b) = (record(1, SyncState::Pending, Some("t")), record(2, SyncState::Pending, Some("t")));
        let mut next_seq = 7;
        let numbered = number(vec![Queued::upsert(&a), Queued::Delete { id: b.id.clone() }], &mut next_seq, None);
        assert_eq!(numbered, vec![crate::upsert_mutation(&a, 7), Mutation::Delete { seq: 8, id: b.id.clone() }]);
        assert_eq!(next_seq, 9);
        assert_eq!(number(Vec::new(), &mut next_seq, None), vec![]);
        assert_eq!(next_seq, 9);
    }

    #[test]
    fn saves_numbered_one_after_the_other_never_share_a_seq() {
        // Each save numbers against the settings as the previous one left them,
        // which is what reading them inside each save's transaction gives.
        let mut next_seq = 1;
        let mut seen = std::collections::HashSet::new();
        for i in 0..20u8 {
            let r = record(i, SyncState::Pending, Some("t"));
            for m in number(vec![Queued::upsert(&r); (i % 3) as usize], &mut next_seq, None) {
                assert!(seen.insert(m.seq()), "seq {} used twice", m.seq());
            }
        }
    }

    #[test]
    fn numbering_starts_above_what_is_still_queued() {
        // A device whose next_seq was rolled back below its queued mutations.
        let r = record(3, SyncState::Pending, Some("t"));
        let mut next_seq = 4;
        let numbered = number(vec![Queued::upsert(&r)], &mut next_seq, Some(10));
        assert_eq!(numbered[0].seq(), 11);
        assert_eq!(next_seq, 12);
        // A next_seq already above the outbox is kept.
        let mut next_seq = 20;
        assert_eq!(number(vec![Queued::upsert(&r)], &mut next_seq, Some(10))[0].seq(), 20);
    }

    #[test]
    fn a_save_queues_what_is_pending_and_sends_local_records_once_signed_in_without_sharing_them() {
        let mut pending = record(4, SyncState::Pending, Some("t"));
        assert_eq!(own(&mut pending, false), Some(Queued::upsert(&pending)));

        let mut local = record(5, SyncState::Local, None);
        assert_eq!(own(&mut local, false), None);
        assert_eq!((local.sync.clone(), local.communities.len()), (SyncState::Local, 0));

        // Made while signed out, saved after signing in finished: it goes to the
        // server, still private.
        assert!(own(&mut local, true).is_some());
        assert_eq!(local.sync, SyncState::Pending);
        assert!(local.communities.is_empty());

        // A record already shared somewhere keeps its audience.
        let mut shared = record(6, SyncState::Local, Some("other"));
        assert!(own(&mut shared, true).is_some());
        assert_eq!(shared.communities, vec!["other".to_string()]);
    }

    #[test]
    fn signing_in_sends_only_the_users_local_records_and_keeps_private_ones_private() {
        let local = record(7, SyncState::Local, None);
        let synced = record(8, SyncState::Synced, Some("t"));
        let mut teammates = record(9, SyncState::Local, None);
        teammates.teammate = Some("Ann".into());
        let (records, queued) = adopt_local(vec![local.clone(), synced, teammates]);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].id, local.id);
        assert_eq!(records[0].sync, SyncState::Pending);
        assert!(records[0].communities.is_empty(), "a private highlight must not be shared by signing in");
        assert_eq!(queued, vec![Queued::upsert(&records[0])]);
    }

    #[test]
    fn due_deletes_are_taken_out_unnumbered() {
        let mut held = Vec::new();
        let (a, b, c) = (
            record(10, SyncState::Synced, Some("t")),
            record(11, SyncState::Local, None),
            record(12, SyncState::Pending, Some("t")),
        );
        trash::hold(&mut held, a.clone(), 0, 10);
        trash::hold(&mut held, b, 0, 10);
        trash::hold(&mut held, c.clone(), 5, 10);
        assert_eq!(due_deletes(&mut held, 10), vec![Queued::Delete { id: a.id }]);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].record.id, c.id);
    }
}
