//! The daily review: spacing, snoozing, archiving, the cap, and teammates' highlights.

mod common;

use std::collections::HashSet;

use cairn_library::review::{answer, daily_set, DailyOptions, ReviewState, Verdict, DAY_MS, INTERVALS_DAYS};
use common::*;

#[test]
fn keeping_spaces_an_item_further_each_time() {
    let mut today = T0;
    let mut state: Option<ReviewState> = None;
    let mut seen = Vec::new();
    for _ in 0..INTERVALS_DAYS.len() + 1 {
        let next = answer(state.as_ref(), "urn:x", Verdict::Keep, today);
        seen.push(next.interval_days);
        assert_eq!(next.due_ms, today + i64::from(next.interval_days) * DAY_MS);
        today = next.due_ms;
        state = Some(next);
    }
    assert_eq!(seen, [1, 3, 7, 16, 35, 75, 160, 365, 365]);
}

#[test]
fn snooze_brings_it_back_tomorrow_and_archive_never() {
    let kept = answer(None, "urn:x", Verdict::Keep, T0);
    let kept = answer(Some(&kept), "urn:x", Verdict::Keep, T0 + DAY);
    let snoozed = answer(Some(&kept), "urn:x", Verdict::Snooze, T0 + 4 * DAY);
    assert_eq!((snoozed.interval_days, snoozed.due_ms), (3, T0 + 5 * DAY));
    // After a snooze, keeping goes on from the interval it had.
    assert_eq!(answer(Some(&snoozed), "urn:x", Verdict::Keep, T0 + 5 * DAY).interval_days, 7);
    let records = vec![highlight(1, "https://a.example/", "q", 0)];
    let archived = answer(None, &records[0].id, Verdict::Archive, T0);
    // Stored through JavaScript: every figure stays an exact JS number.
    assert!(archived.due_ms.unsigned_abs() <= 1 << 53, "{archived:?}");
    assert!(daily_set(&records, &[archived], T0 + 10_000 * DAY, &DailyOptions::default()).is_empty());
}

#[test]
fn the_day_brings_back_due_items_longest_overdue_first_up_to_the_cap() {
    let records: Vec<_> = (0..15).map(|n| highlight(n, "https://a.example/", "q", 0)).collect();
    let mut clipped = records.clone();
    clipped.push(clip(20, "https://a.example/", "t", "body"));
    let today = T0 + 2 * DAY;
    // Never reviewed items are due a day after they were made; item 0 was kept yesterday (due in a day).
    let states = vec![answer(None, &records[0].id, Verdict::Keep, T0 + DAY)];
    let set = daily_set(&clipped, &states, today, &DailyOptions::default());
    let expected: Vec<&str> = records[1..11].iter().map(|r| r.id.as_str()).collect();
    assert_eq!(set.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), expected);
    // Overdue states come before newer never-reviewed items.
    let states = vec![ReviewState { id: records[14].id.clone(), interval_days: 3, due_ms: T0, archived: false }];
    let set = daily_set(&records, &states, today, &DailyOptions { cap: 2, read_pages: None });
    assert_eq!(set.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [&records[14].id, &records[0].id]);
    // Nothing is due before a day has passed.
    assert!(daily_set(&records, &[], T0 + DAY / 2, &DailyOptions::default()).is_empty());
}

#[test]
fn teammates_highlights_come_back_only_on_pages_the_user_read() {
    let mine = highlight(1, "https://a.example/", "q", 0);
    let on_read_page = by_teammate(highlight(2, "https://a.example/", "q", 0), "Ana");
    let elsewhere = by_teammate(highlight(3, "https://b.example/", "q", 0), "Ana");
    let records = vec![mine.clone(), on_read_page.clone(), elsewhere];
    let today = T0 + 5 * DAY;
    let ids = |o: &DailyOptions| daily_set(&records, &[], today, o).iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&DailyOptions::default()), vec![mine.id.clone()]);
    let read: HashSet<String> = [mine.page_key.clone()].into();
    assert_eq!(ids(&DailyOptions { cap: 0, read_pages: Some(&read) }), [mine.id, on_read_page.id]);
}
