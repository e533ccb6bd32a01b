//! The daily review: past highlights brought back a few at a time, spaced so that the ones
//! a user keeps come back less and less often (1, 3, 7, 16, 35 ... days), as flash cards do.
//!
//! Pure functions of the records, their [`ReviewState`]s and the time the caller passes:
//! nothing here reads a clock. Pass the start of the user's local day as `today_ms` to get
//! day-sized steps in their time zone.

use std::collections::{HashMap, HashSet};

use cairn_sync::LocalRecord;
use serde::{Deserialize, Serialize};

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Intervals a kept item steps through, in days; the last one repeats.
pub const INTERVALS_DAYS: [u32; 8] = [1, 3, 7, 16, 35, 75, 160, 365];

/// How many items a day brings back by default: enough to be worth opening, few enough to finish.
pub const DEFAULT_DAILY_CAP: usize = 10;

/// Where one reviewed record stands. Records never reviewed have no state.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ReviewState {
    pub id: String,
    /// The interval it was last given, in days (0 after a snooze of a never-kept item).
    pub interval_days: u32,
    /// When it comes back (unix ms); for an archived item, when it was archived.
    pub due_ms: i64,
    /// Never to come back.
    pub archived: bool,
}

/// What the user answered for an item of the day (the message the Library sends carries it).
pub use cairn_protocol::messages::ReviewVerdict as Verdict;

/// The state after the user answered `verdict` for `id` at `today_ms`.
pub fn answer(previous: Option<&ReviewState>, id: &str, verdict: Verdict, today_ms: i64) -> ReviewState {
    let interval = previous.map_or(0, |s| s.interval_days);
    match verdict {
        Verdict::Keep => {
            let next = INTERVALS_DAYS.iter().copied().find(|&d| d > interval).unwrap_or(INTERVALS_DAYS[7]);
            ReviewState {
                id: id.to_string(),
                interval_days: next,
                due_ms: today_ms + i64::from(next) * DAY_MS,
                archived: false,
            }
        }
        Verdict::Snooze => {
            ReviewState { id: id.to_string(), interval_days: interval, due_ms: today_ms + DAY_MS, archived: false }
        }
        Verdict::Archive => {
            // Not i64::MAX: the state is stored through JavaScript, whose numbers are exact only
            // to 2^53, and `archived` alone keeps it from coming back.
            ReviewState { id: id.to_string(), interval_days: interval, due_ms: today_ms, archived: true }
        }
    }
}

/// What goes into a day's review besides the user's own highlights.
#[derive(Clone, Debug, Default)]
pub struct DailyOptions<'a> {
    /// At most this many items ([`DEFAULT_DAILY_CAP`] when 0).
    pub cap: usize,
    /// Page keys of the pages the user read: teammates' highlights on them come back too.
    /// `None` leaves teammates' highlights out.
    pub read_pages: Option<&'a HashSet<String>>,
}

/// When a record is due: its state's due time, or, never reviewed, a day after it was made.
fn due_ms(record: &LocalRecord, state: Option<&ReviewState>) -> Option<i64> {
    match state {
        Some(s) if s.archived => None,
        Some(s) => Some(s.due_ms),
        None => Some(record.created_ms.saturating_add(DAY_MS)),
    }
}

/// The day's review: highlights due by `today_ms`, the longest overdue first, at most the cap.
///
/// Highlights only (a quote to read again): clips are pages, not passages. The user's own
/// come back, and teammates' on pages the user read when `read_pages` is given.
pub fn daily_set<'r>(
    records: impl IntoIterator<Item = &'r LocalRecord>,
    states: &[ReviewState],
    today_ms: i64,
    options: &DailyOptions,
) -> Vec<&'r LocalRecord> {
    let states: HashMap<&str, &ReviewState> = states.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut due: Vec<(i64, &LocalRecord)> = records
        .into_iter()
        .filter(|r| !r.annotation.is_clip() && r.annotation.quote().is_some())
        .filter(|r| r.is_own() || options.read_pages.is_some_and(|read| read.contains(&r.page_key)))
        .filter_map(|r| due_ms(r, states.get(r.id.as_str()).copied()).map(|d| (d, r)))
        .filter(|(d, _)| *d <= today_ms)
        .collect();
    due.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.created_ms.cmp(&b.1.created_ms)).then_with(|| a.1.id.cmp(&b.1.id)));
    let cap = if options.cap == 0 { DEFAULT_DAILY_CAP } else { options.cap };
    due.into_iter().take(cap).map(|(_, r)| r).collect()
}
