//! `merge_page` against the algorithm it replaced, on random pages.
//!
//! The reference is the old `merge_shared` (a linear scan of the local records per
//! listed annotation) together with what the worker did with its answer: delete
//! every teammate's record of the page, then write all of the answer. The new
//! merge must leave the store in the same state, except where it was changed on
//! purpose:
//! * teammates' records keep their orphan flag while their target is unchanged
//!   (whoever the server now says wrote them);
//! * the user's own records are never replaced by someone else's annotation of
//!   the same id;
//! * an annotation the server lists as the user's is skipped only when this
//!   device has it as the user's own (the old merge also skipped it when the
//!   device had it as a teammate's, deleted that copy, and adopted it on the next
//!   merge: two merges of one listing wrote different things);
//! * the user's own annotations deleted on this device but still listed by the
//!   server (the delete not applied yet) are not adopted: the reference is given
//!   the listing without them.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;

use super::*;

/// The old `merge_shared`, kept verbatim as the reference.
fn naive_merge_shared(my_user_id: &str, local: &[LocalRecord], remote: Vec<SharedAnnotation>) -> Vec<LocalRecord> {
    remote
        .into_iter()
        .filter_map(|shared| {
            let mine = shared.author.id == my_user_id;
            if mine && local.iter().any(|l| l.id == shared.annotation.id) {
                return None;
            }
            let page_key = shared.annotation.page_key().ok()?;
            let created_ms = shared.annotation.created.as_deref().and_then(cairn_model::parse_rfc3339_ms).unwrap_or(0);
            Some(LocalRecord {
                id: shared.annotation.id.clone(),
                page_key: page_key.to_string(),
                created_ms,
                annotation: shared.annotation,
                communities: shared.communities,
                sync: if mine { SyncState::Synced } else { SyncState::Shared },
                teammate: if mine { None } else { Some(shared.author.display_name) },
                orphan: false,
            })
        })
        .collect()
}

type Store = BTreeMap<String, LocalRecord>;

/// What the worker used to do: delete the page's teammates, write every merged record.
/// The old merge is given only the user's own records to skip by (the third change above).
fn naive_store(my_user_id: &str, local: &[LocalRecord], remote: Vec<SharedAnnotation>) -> Store {
    let own: Vec<LocalRecord> = local.iter().filter(|r| r.is_own()).cloned().collect();
    let merged = naive_merge_shared(my_user_id, &own, remote);
    let mut store: Store = own.into_iter().map(|r| (r.id.clone(), r)).collect();
    for r in merged {
        store.insert(r.id.clone(), r);
    }
    store
}

fn apply(local: &[LocalRecord], merge: &PageMerge) -> Store {
    let mut store: Store = local.iter().map(|r| (r.id.clone(), r.clone())).collect();
    for id in &merge.delete {
        store.remove(id);
    }
    for r in &merge.put {
        store.insert(r.id.clone(), r.clone());
    }
    store
}

/// The reference's store with the two deliberate changes applied.
fn expected_store(local: &[LocalRecord], mut store: Store) -> Store {
    for here in local {
        if here.is_own() {
            store.insert(here.id.clone(), here.clone());
        } else if let Some(r) = store.get_mut(&here.id) {
            if same_anchor(&r.annotation, &here.annotation) {
                r.orphan = here.orphan;
            }
        }
    }
    store
}

const ME: &str = "u-me";
const OTHER_PAGE: &str = "https://wiki.example/other";

/// One annotation from a small space, so that ids, quotes and notes collide often.
#[derive(Debug, Clone)]
struct Draft {
    id: u64,
    quote: u8,
    note: Option<u8>,
    /// 0: this page; 1: another page; 2: a URL no page key can be made of.
    source: u8,
}

impl Draft {
    fn annotation(&self) -> Annotation {
        let source = match self.source {
            0 => PAGE,
            1 => OTHER_PAGE,
            _ => "not a url",
        };
        let mut a = Annotation::new_highlight(
            AnnotationId::new_v7(self.id, [self.id as u8; 10]),
            source,
            vec![Selector::TextQuoteSelector { exact: format!("quote {}", self.quote), prefix: None, suffix: None }],
            Color::Yellow,
            self.id as i64,
        );
        if let Some(n) = self.note {
            a.set_note(&format!("note {n}"));
        }
        a
    }
}

fn draft() -> impl Strategy<Value = Draft> {
    (0u64..12, 0u8..3, proptest::option::of(0u8..2), prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)])
        .prop_map(|(id, quote, note, source)| Draft { id, quote, note, source })
}

/// This device's records of the page: the user's own (local, pending, synced)
/// and teammates' copies, some marked orphan; one record per id, as in the store.
fn local_records() -> impl Strategy<Value = Vec<LocalRecord>> {
    proptest::collection::vec((draft(), 0u8..4, any::<bool>()), 0..10).prop_map(|drafts| {
        let mut by_id = BTreeMap::new();
        for (mut d, owner, orphan) in drafts {
            d.source = 0;
            let a = d.annotation();
            let key = a.page_key().unwrap();
            let mut r = LocalRecord::own(a, &key, d.id as i64, Some("demo-team"), owner != 0);
            match owner {
                0 | 1 => {}
                2 => r.sync = SyncState::Synced,
                _ => {
                    r.sync = SyncState::Shared;
                    r.teammate = Some("Bob".into());
                }
            }
            r.orphan = orphan;
            by_id.insert(r.id.clone(), r);
        }
        by_id.into_values().collect()
    })
}

fn listing() -> impl Strategy<Value = Vec<SharedAnnotation>> {
    proptest::collection::vec((draft(), 0u8..3), 0..14).prop_map(|drafts| {
        drafts
            .into_iter()
            .map(|(d, author)| {
                let (id, name) = [(ME, "Me"), ("u-bob", "Bob"), ("u-carol", "Carol")][author as usize];
                shared(d.annotation(), id, name)
            })
            .collect()
    })
}

/// Ids of the pool the user deleted on this device, the server not knowing yet.
fn deleted_ids() -> impl Strategy<Value = HashSet<String>> {
    proptest::collection::hash_set(0u64..12, 0..3).prop_map(|ids| {
        ids.into_iter().map(|id| Draft { id, quote: 0, note: None, source: 0 }.annotation().id).collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn merge_page_leaves_the_store_as_the_old_algorithm_did(
        local in local_records(),
        remote in listing(),
        deleted in deleted_ids(),
    ) {
        let merge = merge_page(ME, PAGE, local.clone(), remote.clone(), &deleted);
        let store = apply(&local, &merge);
        let not_deleted: Vec<SharedAnnotation> = remote
            .iter()
            .filter(|s| !(s.author.id == ME && deleted.contains(&s.annotation.id)))
            .cloned()
            .collect();
        prop_assert_eq!(&store, &expected_store(&local, naive_store(ME, &local, not_deleted)));

        // `page` is what the store now files under the page.
        let mut page = merge.page.clone();
        page.sort_by(|a, b| a.id.cmp(&b.id));
        let filed: Vec<LocalRecord> = store.values().filter(|r| r.page_key == PAGE).cloned().collect();
        prop_assert_eq!(page, filed);

        // Only changes are written: no record is written as it already was.
        for r in &merge.put {
            prop_assert!(local.iter().all(|l| l != r), "rewrote {:?}", r.id);
        }

        // Merging the same listing again writes nothing more for this page.
        let again = merge_page(ME, PAGE, merge.page.clone(), remote, &deleted);
        prop_assert!(again.delete.is_empty());
        prop_assert!(again.put.iter().all(|r| r.page_key != PAGE), "{:?}", again.put);
    }
}
