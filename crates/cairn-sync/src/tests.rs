use super::*;
use cairn_model::{AnnotationId, Color, Selector};
use cairn_protocol::api::{ApiError, UserInfo};

fn annotation(ms: u64, quote: &str) -> Annotation {
    Annotation::new_highlight(
        AnnotationId::new_v7(ms, [ms as u8; 10]),
        "https://wiki.example/page",
        vec![Selector::TextQuoteSelector { exact: quote.into(), prefix: None, suffix: None }],
        Color::Yellow,
        ms as i64,
    )
}

fn record(ms: u64, quote: &str) -> LocalRecord {
    let a = annotation(ms, quote);
    let key = a.page_key().unwrap();
    LocalRecord::own(a, &key, ms as i64, Some("demo-team"), true)
}

fn user(id: &str, name: &str) -> UserInfo {
    UserInfo { id: id.into(), username: id.into(), display_name: name.into() }
}

#[test]
fn summaries_are_newest_first() {
    let recs = vec![record(1_000, "old"), record(3_000, "new"), record(2_000, "mid")];
    let quotes: Vec<String> = page_summaries(&recs).into_iter().map(|s| s.quote).collect();
    assert_eq!(quotes, ["new", "mid", "old"]);
}

#[test]
fn new_records_are_local_until_signed_in() {
    let a = annotation(5, "q");
    let key = a.page_key().unwrap();
    assert_eq!(LocalRecord::own(a.clone(), &key, 5, None, false).sync, SyncState::Local);
    let r = LocalRecord::own(a, &key, 5, Some("t"), true);
    assert_eq!(r.sync, SyncState::Pending);
    assert_eq!(r.communities, vec!["t".to_string()]);
}

#[test]
fn batches_take_oldest_first() {
    let outbox: Vec<Mutation> = [5u64, 1, 3, 2, 4].iter().map(|&s| upsert_mutation(&record(s, "q"), s)).collect();
    let seqs: Vec<u64> = next_batch(&outbox, 3, usize::MAX).iter().map(Mutation::seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
}

#[test]
fn settle_acks_every_answer_and_keeps_rejections_visible() {
    let batch = vec![
        upsert_mutation(&record(1, "a"), 1),
        upsert_mutation(&record(2, "b"), 2),
        Mutation::Delete { seq: 3, id: "urn:x".into() },
    ];
    let results = vec![
        MutationResult { seq: 1, status: MutationStatus::Applied, error: None },
        MutationResult {
            seq: 2,
            status: MutationStatus::Rejected,
            error: Some(ApiError { code: "not_a_member".into(), message: "you are not a member of demo-team".into() }),
        },
        MutationResult { seq: 3, status: MutationStatus::Duplicate, error: None },
    ];
    let s = settle(&batch, &results).unwrap();
    assert_eq!(s.acknowledged, [1, 2, 3]);
    assert_eq!(s.synced, [batch_id(&batch[0]), "urn:x".to_string()]);
    assert_eq!(s.rejected, [(batch_id(&batch[1]), "you are not a member of demo-team".to_string())]);
}

fn batch_id(m: &Mutation) -> String {
    match m {
        Mutation::Upsert { annotation, .. } => annotation.id.clone(),
        Mutation::Delete { id, .. } => id.clone(),
    }
}

#[test]
fn settle_never_forgets_unanswered_mutations() {
    let batch = vec![upsert_mutation(&record(1, "a"), 1), upsert_mutation(&record(2, "b"), 2)];
    let partial = vec![MutationResult { seq: 1, status: MutationStatus::Applied, error: None }];
    assert_eq!(settle(&batch, &partial), Err(SettleError::Unanswered(2)));
    let stray = vec![MutationResult { seq: 9, status: MutationStatus::Applied, error: None }];
    assert_eq!(settle(&batch, &stray), Err(SettleError::Unexpected(9)));
}

const PAGE: &str = "https://wiki.example/page";

fn shared(annotation: Annotation, author: &str, name: &str) -> SharedAnnotation {
    SharedAnnotation { annotation, author: user(author, name), communities: vec!["demo-team".into()], note_html: None }
}

/// A merge on a device with no deletes waiting for the server.
fn merge(local: Vec<LocalRecord>, remote: Vec<SharedAnnotation>) -> PageMerge {
    merge_page("u-me", PAGE, local, remote, &std::collections::HashSet::new())
}

#[test]
fn merge_marks_teammates_and_adopts_own_from_other_devices() {
    let local = vec![record(1, "mine here")];
    let remote = vec![
        shared(local[0].annotation.clone(), "u-me", "Me"),
        shared(annotation(2, "bob's"), "u-bob", "Bob Example"),
        shared(annotation(3, "mine elsewhere"), "u-me", "Me"),
    ];
    let merged = merge(local.clone(), remote);
    assert_eq!(merged.put.len(), 2);
    assert_eq!(merged.put[0].teammate.as_deref(), Some("Bob Example"));
    assert_eq!(merged.put[0].sync, SyncState::Shared);
    assert_eq!(merged.put[0].created_ms, 2);
    assert_eq!(merged.put[1].teammate, None);
    assert_eq!(merged.put[1].sync, SyncState::Synced);
    assert!(merged.delete.is_empty());
    assert_eq!(merged.page.len(), 3);
    assert_eq!(merged.page[0], local[0], "this device's own copy is kept");
}

#[test]
fn unchanged_teammates_are_not_rewritten_and_keep_their_orphan_flag() {
    let bob = |ms: u64, quote: &str| shared(annotation(ms, quote), "u-bob", "Bob");
    let first = merge(vec![], vec![bob(1, "kept"), bob(2, "lost"), bob(3, "gone")]);
    let mut local = first.page;
    local.sort_by_key(|r| r.created_ms);
    local[1].orphan = true; // anchoring did not find "lost" on this device

    let mut moved = annotation(2, "lost");
    moved.set_note("now with a note");
    let again = merge(local.clone(), vec![bob(1, "kept"), shared(moved, "u-bob", "Bob")]);
    assert_eq!(again.delete, vec![local[2].id.clone()], "no longer listed");
    assert_eq!(again.put.len(), 1, "only the changed one is written");
    assert_eq!(again.put[0].annotation.note(), Some("now with a note"));
    assert!(again.put[0].orphan, "a new note does not make an orphan anchorable");

    let reattached = merge(again.page.clone(), vec![bob(1, "kept"), bob(2, "found again")]);
    assert_eq!(reattached.put.len(), 1);
    assert!(!reattached.put[0].orphan, "new selectors: anchoring decides again");

    let settled = merge(again.page.clone(), vec![bob(1, "kept"), bob(2, "lost")]);
    assert_eq!(settled.put.len(), 1);
    assert!(settled.put[0].orphan);
    let twice = merge(settled.page.clone(), vec![bob(1, "kept"), bob(2, "lost")]);
    assert!(twice.is_empty(), "{twice:?}");
    assert_eq!(twice.page.len(), 2);
}

#[test]
fn own_records_are_never_replaced_by_someone_elses_annotation_of_the_same_id() {
    let mine = record(1, "mine");
    let mut forged = mine.annotation.clone();
    forged.set_note("not mine");
    let merged = merge(vec![mine.clone()], vec![shared(forged, "u-eve", "Eve")]);
    assert!(merged.is_empty());
    assert_eq!(merged.page, vec![mine]);
}

#[test]
fn own_highlights_deleted_here_are_not_brought_back_before_the_server_applies_the_delete() {
    let held = record(1, "deleted, undo still possible");
    let queued = record(2, "deleted, delete queued");
    let elsewhere = annotation(3, "mine from another device");
    let trash = vec![trash::HeldDelete { record: held.clone(), until_ms: 10 }];
    let outbox = vec![Mutation::Delete { seq: 7, id: queued.id.clone() }, upsert_mutation(&record(4, "edited"), 8)];
    let unsent = unsent_deletes(&trash, &outbox);
    assert_eq!(unsent, [held.id.clone(), queued.id.clone()].into_iter().collect());

    let remote = vec![
        shared(held.annotation.clone(), "u-me", "Me"),
        shared(queued.annotation.clone(), "u-me", "Me"),
        shared(elsewhere.clone(), "u-me", "Me"),
    ];
    let merged = merge_page("u-me", PAGE, vec![], remote, &unsent);
    let ids: Vec<&str> = merged.put.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [elsewhere.id.as_str()]);
}

#[test]
fn highlight_count_leaves_clips_out() {
    let clip = Annotation::new_clip(
        AnnotationId::new_v7(9, [9; 10]),
        cairn_model::ClipKind::UrlOnly,
        PAGE,
        vec![],
        "---\ntitle: \"t\"\n---\n",
        9,
    );
    let key = clip.page_key().unwrap();
    let records = vec![record(1, "a"), record(2, "b"), LocalRecord::own(clip, &key, 9, None, false)];
    assert_eq!(highlight_count(&records), 2);
}

/// A merge of 10,000 listed annotations (half the user's own, half teammates')
/// into a device that has them all writes exactly what changed.
#[test]
fn merging_ten_thousand_annotations_writes_only_what_changed() {
    const N: u64 = 10_000;
    let author = |ms: u64| if ms & 1 == 0 { ("u-me", "Me") } else { ("u-bob", "Bob") };
    let listing = |changed: &[u64]| -> Vec<SharedAnnotation> {
        (0..N)
            .map(|ms| {
                let mut a = annotation(ms, &format!("quote {ms}"));
                if changed.contains(&ms) {
                    a.set_note("edited");
                }
                let (id, name) = author(ms);
                shared(a, id, name)
            })
            .collect()
    };
    let first = merge(vec![], listing(&[]));
    assert_eq!(first.put.len(), N as usize);
    assert_eq!(first.page.len(), N as usize);
    assert_eq!(first.page.iter().filter(|r| r.is_own()).count(), N as usize / 2);

    let mut local = first.page;
    for r in local.iter_mut().filter(|r| !r.is_own()).step_by(100) {
        r.orphan = true;
    }
    let orphans = local.iter().filter(|r| r.orphan).count();
    assert_eq!(orphans, 50);

    let same = merge(local.clone(), listing(&[]));
    assert!(same.is_empty(), "an unchanged listing writes nothing");
    assert_eq!(same.page.iter().filter(|r| r.orphan).count(), orphans);

    // Two teammates' edits and one of the user's own (which this device already has).
    let mut remote = listing(&[1, 3, 4]);
    let gone = remote.pop().unwrap(); // a teammate's, unshared since
    let changed = merge(local, remote);
    let put: Vec<i64> = changed.put.iter().map(|r| r.created_ms).collect();
    assert_eq!(put, [1, 3]);
    assert_eq!(changed.delete, vec![gone.annotation.id]);
    assert_eq!(changed.page.len(), N as usize - 1);
    assert_eq!(changed.page.iter().filter(|r| r.orphan).count(), orphans);
}

#[test]
fn settle_counts_a_repeated_answer_once() {
    let batch = vec![upsert_mutation(&record(1, "a"), 1)];
    let results = vec![
        MutationResult { seq: 1, status: MutationStatus::Applied, error: None },
        MutationResult { seq: 1, status: MutationStatus::Rejected, error: None },
    ];
    let s = settle(&batch, &results).unwrap();
    assert_eq!(s.acknowledged, [1]);
    assert_eq!(s.synced.len(), 1);
    assert!(s.rejected.is_empty());
}

#[test]
fn backoff_grows_caps_and_jitters() {
    assert_eq!(backoff_ms(0, 0.0), 1_000);
    assert_eq!(backoff_ms(3, 0.999_999), 7_999);
    assert_eq!(backoff_ms(30, 0.5), 150_000);
    assert_eq!(backoff_ms(30, 1.0), 300_000);
    assert!(backoff_ms(10, 0.25) < backoff_ms(10, 0.75));
}

#[test]
fn records_survive_a_json_round_trip() {
    let r = record(7, "persist me");
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<LocalRecord>(&json).unwrap(), r);
}

#[test]
fn canonical_counts_only_on_the_same_origin() {
    let k =
        page_key_for("https://wiki.example/x?utm_source=a", Some("https://wiki.example/display/ENG/Runbook")).unwrap();
    assert_eq!(k.as_str(), "https://wiki.example/display/ENG/Runbook");
    let k = page_key_for("https://wiki.example/x", Some("https://evil.example/hr/salaries")).unwrap();
    assert_eq!(k.as_str(), "https://wiki.example/x");
    let k = page_key_for("https://wiki.example/x", Some("not a url")).unwrap();
    assert_eq!(k.as_str(), "https://wiki.example/x");
    assert!(page_key_for("chrome://settings", None).is_err());
}

#[test]
fn edits_requeue_and_keep_identity() {
    let mut r = record(10, "q");
    r.sync = SyncState::Synced;
    r.edit(Some("a **note**"), Some(Color::Blue), 20, true);
    assert_eq!(r.sync, SyncState::Pending);
    assert_eq!(r.annotation.note(), Some("a **note**"));
    assert_eq!(r.annotation.color(), Color::Blue);
    assert_eq!(r.annotation.modified.as_deref(), Some("1970-01-01T00:00:00.020Z"));
    assert_eq!(r.created_ms, 10);

    let a = annotation(5, "q");
    let key = a.page_key().unwrap();
    let mut local = LocalRecord::own(a, &key, 5, None, false);
    local.edit(None, Some(Color::Pink), 6, false);
    assert_eq!(local.sync, SyncState::Local, "signed out: stays on the device");
}

#[test]
fn reattach_replaces_selectors_and_clears_orphan() {
    let mut r = record(10, "old words");
    r.orphan = true;
    let sel = vec![Selector::TextQuoteSelector { exact: "new words".into(), prefix: None, suffix: None }];
    r.reattach(sel.clone(), 30, true);
    assert_eq!(r.annotation.target.selector, sel);
    assert!(!r.orphan);
    assert_eq!(r.sync, SyncState::Pending);
}

#[test]
fn pages_may_edit_only_their_own_records() {
    let r = record(1, "q");
    let here = PageKey::from_url("https://wiki.example/page").unwrap();
    let elsewhere = PageKey::from_url("https://wiki.example/other").unwrap();
    assert!(editable_from_page(&r, &here));
    assert!(!editable_from_page(&r, &elsewhere));
    let mut teammate = r.clone();
    teammate.teammate = Some("Bob".into());
    assert!(!editable_from_page(&teammate, &here));
}

#[test]
fn batches_stay_under_the_byte_budget_but_always_move() {
    let big = |seq: u64| {
        let a = Annotation::new_clip(
            AnnotationId::new_v7(seq, [seq as u8; 10]),
            cairn_model::ClipKind::Article,
            "https://wiki.example/page",
            vec![],
            &"x".repeat(600_000),
            seq as i64,
        );
        let key = a.page_key().unwrap();
        upsert_mutation(&LocalRecord::own(a, &key, seq as i64, None, true), seq)
    };
    let outbox = vec![big(1), big(2), big(3)];
    assert_eq!(next_batch(&outbox, 100, 1_500_000).len(), 2);
    assert_eq!(next_batch(&outbox, 100, 10).len(), 1, "one oversized mutation still goes alone");
}

#[test]
fn clips_are_listed_apart_from_highlights() {
    let md = "---\ntitle: \"Runbook: \\\"deploys\\\" \\u00e9t\\u00e9\"\nsource: \"https://wiki.example/page\"\n---\n\n# Body\n";
    let mut clip = Annotation::new_clip(
        AnnotationId::new_v7(9, [9; 10]),
        cairn_model::ClipKind::Article,
        "https://wiki.example/page",
        vec![],
        md,
        9,
    );
    clip.set_tags(["ops"]);
    let key = clip.page_key().unwrap();
    let records = vec![record(1, "a highlight"), LocalRecord::own(clip, &key, 9, None, false)];
    assert_eq!(page_summaries(&records).len(), 1);
    let clips = page_clips(&records);
    assert_eq!(clips.len(), 1);
    assert_eq!(clips[0].title, "Runbook: \"deploys\" été");
    assert_eq!(clips[0].clip, cairn_model::ClipKind::Article);
    assert_eq!(clips[0].tags, vec!["ops".to_string()]);
    assert_eq!(front_matter_title("no front matter"), None);
}

mod merge_against_the_old_algorithm;

#[test]
fn items_whose_change_is_still_queued_say_so_whatever_their_record_says() {
    let (mut a, b, c) = (record(1_000, "a"), record(2_000, "b"), record(3_000, "c"));
    a.sync = SyncState::Synced;
    let mut b = b;
    b.sync = SyncState::Synced;
    let mut c = c;
    c.sync = SyncState::Rejected { reason: "not a member".into() };
    let outbox = vec![upsert_mutation(&a, 7), Mutation::Delete { seq: 8, id: c.id.clone() }];
    let mut items = page_summaries(&[a.clone(), b.clone(), c.clone()]);
    agree_with_outbox(&mut items, &mut [], &outbox);
    let by_quote = |q: &str| items.iter().find(|i| i.quote == q).unwrap().sync.clone();
    assert_eq!(by_quote("a"), SyncState::Pending, "queued: waiting, as the header counts it");
    assert_eq!(by_quote("b"), SyncState::Synced, "not queued: stays synced");
    assert!(matches!(by_quote("c"), SyncState::Rejected { .. }), "a refusal is never hidden");
}

#[test]
fn a_teammates_reply_is_kept_on_its_parents_page_and_listed_in_its_thread() {
    let parent = record(1, "mine here");
    let parent_id: AnnotationId = parent.id.parse().unwrap();
    let reply = Annotation::new_reply(AnnotationId::new_v7(5, [5; 10]), parent_id, "Agreed, **but**", 5);
    let early = Annotation::new_reply(AnnotationId::new_v7(4, [4; 10]), parent_id, "First!", 4);
    let orphan_reply = Annotation::new_reply(
        AnnotationId::new_v7(6, [6; 10]),
        AnnotationId::new_v7(99, [9; 10]),
        "to nothing here",
        6,
    );
    let merged = merge(
        vec![parent.clone()],
        vec![
            shared(reply, "u-bob", "Bob Example"),
            shared(early, "u-ann", "Ann"),
            shared(orphan_reply, "u-bob", "Bob"),
        ],
    );
    assert_eq!(merged.put.len(), 3, "replies target their parent, not a page, and are kept on this page");
    assert!(merged.put.iter().all(|r| r.page_key == PAGE));
    let summaries = page_summaries(&merged.page);
    assert_eq!(summaries.len(), 1, "a reply is not a highlight of its own");
    let thread: Vec<(&str, Option<&str>)> =
        summaries[0].replies.iter().map(|r| (r.note.as_str(), r.teammate.as_deref())).collect();
    assert_eq!(thread, [("First!", Some("Ann")), ("Agreed, **but**", Some("Bob Example"))]);
    assert_eq!(highlight_count(&merged.page), 1);
}
