//! What the Library's Trail and Review tabs show, as pure functions of the listing:
//! the trail as a timeline of days, each page marked with what was kept on it, and
//! the day's review. No UI code: tested natively.

use std::collections::{HashMap, HashSet};

use cairn_library::review::{daily_set, DailyOptions, ReviewState, DAY_MS};
use cairn_library::trail::TrailEntry;
use cairn_library::{fold, LocalRecord};

/// One page of the timeline, with what the user kept on it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrailRow<'a> {
    pub entry: &'a TrailEntry,
    /// The user's own highlights and notes on the page.
    pub highlights: usize,
    /// The user clipped the page.
    pub clipped: bool,
}

/// The pages last visited on one day, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct TrailDay<'a> {
    /// "Today", "Yesterday" or the date ("Mon 30 Nov 2026").
    pub label: String,
    pub rows: Vec<TrailRow<'a>>,
}

/// The trail as days, newest first, keeping the pages whose title or address holds
/// every word of `query`. `today_ms` is the start of the user's day (local midnight).
pub fn trail_days<'a, 'r>(
    entries: &'a [TrailEntry],
    records: impl IntoIterator<Item = &'r LocalRecord>,
    today_ms: i64,
    query: &str,
) -> Vec<TrailDay<'a>> {
    let mut kept: HashMap<&str, (usize, bool)> = HashMap::new();
    for r in records.into_iter().filter(|r| r.is_own() && !r.annotation.is_reply()) {
        let k = kept.entry(r.page_key.as_str()).or_default();
        if r.annotation.is_clip() {
            k.1 = true;
        } else {
            k.0 += 1;
        }
    }
    let words: Vec<String> = fold(query).split_whitespace().map(str::to_string).collect();
    let mut shown: Vec<&TrailEntry> = entries
        .iter()
        .filter(|e| {
            let text = fold(&format!("{} {}", e.title, e.url));
            words.iter().all(|w| text.contains(w.as_str()))
        })
        .collect();
    shown.sort_by(|a, b| b.last_visit_ms.cmp(&a.last_visit_ms).then_with(|| a.page_key.cmp(&b.page_key)));
    let mut days: Vec<(i64, TrailDay)> = Vec::new();
    for entry in shown {
        let day = (entry.last_visit_ms - today_ms).div_euclid(DAY_MS);
        let (highlights, clipped) = kept.get(entry.page_key.as_str()).copied().unwrap_or_default();
        let row = TrailRow { entry, highlights, clipped };
        match days.last_mut() {
            Some((d, group)) if *d == day => group.rows.push(row),
            _ => days.push((day, TrailDay { label: day_label(day, today_ms), rows: vec![row] })),
        }
    }
    days.into_iter().map(|(_, d)| d).collect()
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A day relative to today (0 today, -1 yesterday) as the timeline heads it.
fn day_label(day: i64, today_ms: i64) -> String {
    match day {
        0.. => "Today".to_string(),
        -1 => "Yesterday".to_string(),
        _ => {
            // Noon of that local day, read as UTC: the same date for any time zone within 12 h.
            let noon = today_ms + day * DAY_MS + DAY_MS / 2;
            let date = cairn_model::format_rfc3339_ms(noon);
            let (y, m, d) =
                (&date[0..4], date[5..7].parse::<usize>().unwrap_or(1), date[8..10].trim_start_matches('0'));
            let weekday = WEEKDAYS[noon.div_euclid(DAY_MS).rem_euclid(7) as usize];
            format!("{weekday} {d} {} {y}", MONTHS[(m - 1).min(11)])
        }
    }
}

/// The day's review: the user's highlights that are due, and teammates' on pages the
/// user's trail says they read ("pull, not push").
pub fn review_today<'r>(
    records: impl IntoIterator<Item = &'r LocalRecord>,
    states: &[ReviewState],
    trail: &[TrailEntry],
    today_ms: i64,
) -> Vec<&'r LocalRecord> {
    let read: HashSet<String> = trail.iter().map(|e| e.page_key.clone()).collect();
    // Today's review holds what is due by the end of today, not only by its first millisecond.
    let end_of_today = today_ms + DAY_MS - 1;
    daily_set(records, states, end_of_today, &DailyOptions { cap: 0, read_pages: Some(&read) })
}

/// Titles the trail knows, by page key: pages with highlights but no clip are named
/// by them in the Library instead of by their address.
pub fn trail_titles(trail: &[TrailEntry]) -> HashMap<String, String> {
    trail.iter().filter(|e| !e.title.is_empty()).map(|e| (e.page_key.clone(), e.title.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_library::trail::{record, Visit};
    use cairn_model::{Annotation, AnnotationId, ClipKind, Color, PageKey, Selector};

    const TODAY: i64 = 20_000 * DAY_MS; // a local midnight (Fri 4 Oct 2024, in UTC)

    fn entry(page: &str, title: &str, at_ms: i64) -> TrailEntry {
        record(
            None,
            &Visit {
                page_key: page.into(),
                url: page.into(),
                title: title.into(),
                at_ms,
                opened: true,
                active_ms: 0,
                scrolled_percent: 0,
            },
        )
    }

    fn own(page: &str, quote: &str, created_ms: i64, clip: bool) -> LocalRecord {
        let id = AnnotationId::new_v7(created_ms.max(0) as u64, [created_ms as u8; 10]);
        let a = if clip {
            Annotation::new_clip(id, ClipKind::UrlOnly, page, Vec::new(), "---\ntitle: \"x\"\n---\n", created_ms)
        } else {
            let selectors = vec![Selector::TextQuoteSelector { exact: quote.into(), prefix: None, suffix: None }];
            Annotation::new_highlight(id, page, selectors, Color::Yellow, created_ms)
        };
        LocalRecord::own(a, &PageKey::from_url(page).unwrap(), created_ms, None, false)
    }

    #[test]
    fn the_trail_reads_as_days_newest_first_with_what_was_kept() {
        let trail = vec![
            entry("https://wiki.example/a", "Deploy guide", TODAY + 3_600_000),
            entry("https://wiki.example/b", "Runbook", TODAY - 3_600_000),
            entry("https://wiki.example/c", "Old page", TODAY - 6 * DAY_MS),
            entry("https://wiki.example/d", "Later today", TODAY + 7_200_000),
        ];
        let records = vec![
            own("https://wiki.example/a", "one", 1, false),
            own("https://wiki.example/a", "two", 2, false),
            own("https://wiki.example/b", "", 3, true),
        ];
        let days = trail_days(&trail, &records, TODAY, "");
        let labels: Vec<&str> = days.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(labels, ["Today", "Yesterday", "Sat 28 Sep 2024"]);
        let today: Vec<&str> = days[0].rows.iter().map(|r| r.entry.title.as_str()).collect();
        assert_eq!(today, ["Later today", "Deploy guide"]);
        assert_eq!((days[0].rows[1].highlights, days[0].rows[1].clipped), (2, false));
        assert_eq!((days[1].rows[0].highlights, days[1].rows[0].clipped), (0, true));
    }

    #[test]
    fn the_trail_is_searched_by_title_and_address() {
        let trail = vec![
            entry("https://wiki.example/deploy", "Déploiement", TODAY),
            entry("https://jira.example/PAY-1", "Payments outage", TODAY),
        ];
        let titles = |q| -> Vec<String> {
            trail_days(&trail, &[], TODAY, q)
                .iter()
                .flat_map(|d| d.rows.iter().map(|r| r.entry.title.clone()))
                .collect()
        };
        assert_eq!(titles("deploiement"), ["Déploiement"]);
        assert_eq!(titles("jira outage"), ["Payments outage"]);
        assert!(titles("nothing").is_empty());
    }

    #[test]
    fn review_brings_back_own_highlights_due_today_and_teammates_on_read_pages() {
        let mine = own("https://wiki.example/a", "mine", TODAY - 2 * DAY_MS, false);
        let fresh = own("https://wiki.example/a", "made today", TODAY + 1_000, false);
        let mut teammate_read = own("https://wiki.example/a", "theirs, read", TODAY - 3 * DAY_MS, false);
        teammate_read.teammate = Some("Bob".into());
        let mut teammate_unread = own("https://wiki.example/z", "theirs, unread", TODAY - 3 * DAY_MS, false);
        teammate_unread.teammate = Some("Bob".into());
        let records = vec![mine, fresh, teammate_read, teammate_unread];
        let trail = vec![entry("https://wiki.example/a", "A", TODAY)];
        let quotes: Vec<&str> =
            review_today(&records, &[], &trail, TODAY).iter().filter_map(|r| r.annotation.quote()).collect();
        assert_eq!(quotes, ["theirs, read", "mine"]);
    }
}
