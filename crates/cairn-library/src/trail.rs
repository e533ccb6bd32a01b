//! The reading trail: the pages a user read on the sites where they turned it on, one entry
//! per page (its identity), kept in this browser only and never shared.
//!
//! A content script reports what one visit of a page added (time the page was in view,
//! how far it was scrolled); [`record`] folds a report into the page's entry and
//! [`expired`] says which entries the retention period has passed. Pure, like the rest of
//! the crate: the caller passes the time.

use serde::{Deserialize, Serialize};

use crate::review::DAY_MS;

/// How long the trail keeps a page no visit has touched, unless the user chooses otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// The retention periods the Library offers, in days; 0 keeps the trail until it is cleared.
pub const RETENTION_CHOICES: [u32; 5] = [7, 30, 90, 365, 0];
/// The most in-view time one report may add. Content scripts report every few seconds
/// while a page is in view, so a larger figure is forged or a clock jump: clamped, not kept.
pub const MAX_REPORT_MS: u32 = 5 * 60 * 1000;

/// One page of the trail.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TrailEntry {
    /// The page's identity (`cairn_model::PageKey`): the entry's key, and what ties it to
    /// the highlights and clips kept on the page.
    pub page_key: String,
    /// The address as last visited.
    pub url: String,
    /// The page's title as last seen (may be empty).
    pub title: String,
    pub first_visit_ms: i64,
    pub last_visit_ms: i64,
    /// How many times the page was opened.
    pub visits: u32,
    /// Time the page was in view, over all visits (ms).
    pub active_ms: u64,
    /// The furthest down the page the user scrolled on any visit, in percent of its height.
    pub scrolled_percent: u8,
}

/// What a content script reports of a visit since its last report.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Visit {
    pub page_key: String,
    pub url: String,
    pub title: String,
    pub at_ms: i64,
    /// The page was just opened (the first report of this visit).
    pub opened: bool,
    /// In-view time since the last report (ms); clamped to [`MAX_REPORT_MS`].
    pub active_ms: u32,
    /// How far down the page the user has scrolled on this visit (percent, clamped to 100).
    pub scrolled_percent: u8,
}

/// The page's entry once `visit` is added to what was kept (`None`: never visited, or
/// the entry was deleted since).
pub fn record(kept: Option<TrailEntry>, visit: &Visit) -> TrailEntry {
    let active = u64::from(visit.active_ms.min(MAX_REPORT_MS));
    let scrolled = visit.scrolled_percent.min(100);
    let title = visit.title.trim().to_string();
    match kept {
        None => TrailEntry {
            page_key: visit.page_key.clone(),
            url: visit.url.clone(),
            title,
            first_visit_ms: visit.at_ms,
            last_visit_ms: visit.at_ms,
            visits: 1,
            active_ms: active,
            scrolled_percent: scrolled,
        },
        Some(mut e) => {
            e.visits = e.visits.saturating_add(u32::from(visit.opened));
            e.active_ms = e.active_ms.saturating_add(active);
            e.scrolled_percent = e.scrolled_percent.max(scrolled);
            e.first_visit_ms = e.first_visit_ms.min(visit.at_ms);
            e.last_visit_ms = e.last_visit_ms.max(visit.at_ms);
            e.url = visit.url.clone();
            // A page whose title is set late (a single-page app) keeps the one it had.
            if !title.is_empty() {
                e.title = title;
            }
            e
        }
    }
}

/// The pages whose last visit is older than `retention_days` before `now_ms` (0 keeps all).
pub fn expired<'e>(entries: impl IntoIterator<Item = &'e TrailEntry>, now_ms: i64, retention_days: u32) -> Vec<String> {
    if retention_days == 0 {
        return Vec::new();
    }
    let oldest = now_ms.saturating_sub(i64::from(retention_days) * DAY_MS);
    entries.into_iter().filter(|e| e.last_visit_ms < oldest).map(|e| e.page_key.clone()).collect()
}

/// "4 min", "1 h 20 min", "under a minute": in-view time as a reader says it.
pub fn reading_time(active_ms: u64) -> String {
    let minutes = active_ms / 60_000;
    match minutes {
        0 => "under a minute".to_string(),
        1..=59 => format!("{minutes} min"),
        _ if minutes % 60 == 0 => format!("{} h", minutes / 60),
        _ => format!("{} h {} min", minutes / 60, minutes % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit(at_ms: i64, opened: bool, active_ms: u32, scrolled: u8, title: &str) -> Visit {
        Visit {
            page_key: "https://wiki.example/a".into(),
            url: "https://wiki.example/a#intro".into(),
            title: title.into(),
            at_ms,
            opened,
            active_ms,
            scrolled_percent: scrolled,
        }
    }

    #[test]
    fn a_first_visit_makes_the_entry() {
        let e = record(None, &visit(1_000, true, 0, 10, "  Deploy guide "));
        assert_eq!(e.visits, 1);
        assert_eq!((e.first_visit_ms, e.last_visit_ms), (1_000, 1_000));
        assert_eq!(e.title, "Deploy guide");
        assert_eq!(e.scrolled_percent, 10);
    }

    #[test]
    fn reports_of_one_visit_add_time_and_keep_the_furthest_scroll() {
        let e = record(None, &visit(1_000, true, 0, 40, "Deploy guide"));
        let e = record(Some(e), &visit(16_000, false, 15_000, 80, "Deploy guide"));
        let e = record(Some(e), &visit(31_000, false, 15_000, 20, ""));
        assert_eq!(e.visits, 1, "reports within a visit are not visits");
        assert_eq!(e.active_ms, 30_000);
        assert_eq!(e.scrolled_percent, 80, "scrolling back up does not unread the page");
        assert_eq!(e.last_visit_ms, 31_000);
        assert_eq!(e.title, "Deploy guide", "an empty title does not replace a known one");
    }

    #[test]
    fn a_new_visit_counts_and_moves_the_last_visit() {
        let e = record(None, &visit(1_000, true, 0, 0, "A"));
        let e = record(Some(e), &visit(900_000, true, 0, 0, "A, renamed"));
        assert_eq!(e.visits, 2);
        assert_eq!((e.first_visit_ms, e.last_visit_ms), (1_000, 900_000));
        assert_eq!(e.title, "A, renamed");
    }

    #[test]
    fn forged_figures_are_clamped() {
        let e = record(None, &visit(1_000, true, u32::MAX, 255, "A"));
        assert_eq!(e.active_ms, u64::from(MAX_REPORT_MS));
        assert_eq!(e.scrolled_percent, 100);
    }

    #[test]
    fn entries_past_the_retention_expire_and_zero_keeps_all() {
        let old = record(None, &visit(0, true, 0, 0, "old"));
        let mut new = record(None, &visit(40 * DAY_MS, true, 0, 0, "new"));
        new.page_key = "https://wiki.example/b".into();
        let now = 40 * DAY_MS + 1;
        assert_eq!(expired([&old, &new], now, 30), vec!["https://wiki.example/a".to_string()]);
        assert!(expired([&old, &new], now, 0).is_empty());
        assert!(expired([&old, &new], now, 365).is_empty());
    }

    #[test]
    fn reading_time_reads_like_a_person_says_it() {
        assert_eq!(reading_time(20_000), "under a minute");
        assert_eq!(reading_time(4 * 60_000 + 5_000), "4 min");
        assert_eq!(reading_time(120 * 60_000), "2 h");
        assert_eq!(reading_time(80 * 60_000), "1 h 20 min");
    }
}
