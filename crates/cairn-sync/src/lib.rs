//! Sync planning: what the extension keeps, what it sends, and what it makes of
//! the answers, as pure functions of their inputs.
//!
//! The outbox is durable: a highlight and the mutation that carries it to the
//! server are written in the same local transaction, so nothing the user saw as
//! saved can be lost by a worker that stops or a browser that closes. A mutation
//! leaves the outbox only when the server has answered for its `seq`
//! ([`settle`]); the server makes `(device, seq)` idempotent, so re-sending after
//! a crash between "committed" and "acknowledged" is harmless.
//!
//! **Architecture invariant:** no IO, no clock, no randomness: the browser glue
//! passes time and random numbers in, so every decision here is testable natively.

use cairn_model::{Annotation, Color, PageKey, Selector};
use cairn_protocol::api::{Mutation, MutationResult, MutationStatus, SharedAnnotation};
use cairn_protocol::messages::{ClipSummary, HighlightSummary, ReplySummary, SyncState};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

pub mod queue;
pub mod trash;

/// One annotation as this device keeps it: the user's own or a teammate's.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LocalRecord {
    /// The annotation's JSON-LD id (`urn:uuid:...`): the record's key.
    pub id: String,
    pub page_key: String,
    pub created_ms: i64,
    pub annotation: Annotation,
    /// Communities (slugs) it is shared with; empty = private.
    pub communities: Vec<String>,
    pub sync: SyncState,
    /// Display name of the teammate who made it; `None` for the user's own.
    pub teammate: Option<String>,
    /// The last time its page was anchored, the text was not found.
    #[serde(default)]
    pub orphan: bool,
}

impl LocalRecord {
    /// A new highlight of the user's: local until a community is chosen, pending after.
    pub fn own(
        annotation: Annotation,
        page_key: &PageKey,
        created_ms: i64,
        community: Option<&str>,
        signed_in: bool,
    ) -> LocalRecord {
        let communities: Vec<String> = community.map(|c| vec![c.to_string()]).unwrap_or_default();
        LocalRecord {
            id: annotation.id.clone(),
            page_key: page_key.to_string(),
            created_ms,
            sync: if signed_in { SyncState::Pending } else { SyncState::Local },
            annotation,
            communities,
            teammate: None,
            orphan: false,
        }
    }

    /// Applies an edit of the user's: a new note (empty removes it) and/or colour.
    /// The record goes back in the queue (or stays local when signed out).
    pub fn edit(&mut self, note: Option<&str>, color: Option<Color>, now_ms: i64, signed_in: bool) {
        if let Some(note) = note {
            self.annotation.set_note(note);
        }
        if let Some(color) = color {
            self.annotation.target.style_class = Some(color.style_class());
        }
        self.touch(now_ms, signed_in);
    }

    /// Replaces the tags (trimmed, empty ones and repeats dropped by the model).
    pub fn set_tags(&mut self, tags: &[String], now_ms: i64, signed_in: bool) {
        self.annotation.set_tags(tags.iter().map(String::as_str));
        self.touch(now_ms, signed_in);
    }

    /// Chooses who sees it: the communities (slugs); none makes it private. The
    /// annotation's W3C `audience` is written by the server from the communities
    /// the push names, so only the record changes here.
    pub fn share_with(&mut self, communities: Vec<String>, now_ms: i64, signed_in: bool) {
        self.communities = communities;
        self.touch(now_ms, signed_in);
    }

    /// Points an orphan at new text: its selectors are replaced, everything else kept.
    pub fn reattach(&mut self, selectors: Vec<Selector>, now_ms: i64, signed_in: bool) {
        self.annotation.target.selector = selectors;
        self.orphan = false;
        self.touch(now_ms, signed_in);
    }

    fn touch(&mut self, now_ms: i64, signed_in: bool) {
        self.annotation.modified = Some(cairn_model::format_rfc3339_ms(now_ms));
        self.sync = if signed_in || self.sync != SyncState::Local { SyncState::Pending } else { SyncState::Local };
    }

    pub fn is_own(&self) -> bool {
        self.teammate.is_none()
    }

    pub fn summary(&self) -> HighlightSummary {
        HighlightSummary {
            id: self.id.clone(),
            quote: self.annotation.quote().unwrap_or_default().to_string(),
            note: self.annotation.note().map(str::to_string),
            note_html: None,
            color: self.annotation.color(),
            created: cairn_model::format_rfc3339_ms(self.created_ms),
            teammate: self.teammate.clone(),
            sync: self.sync.clone(),
            orphan: self.orphan,
            audience: self.communities.clone(),
            communities: self.communities.clone(),
            tags: self.annotation.tags().into_iter().map(str::to_string).collect(),
            position: self.annotation.target.selector.iter().find_map(|s| match s {
                Selector::TextPositionSelector { start, .. } => Some(*start),
                _ => None,
            }),
            replies: Vec::new(),
        }
    }

    fn reply_summary(&self) -> ReplySummary {
        ReplySummary {
            id: self.id.clone(),
            note: self.annotation.note().unwrap_or_default().to_string(),
            note_html: None,
            created: cairn_model::format_rfc3339_ms(self.created_ms),
            teammate: self.teammate.clone(),
            sync: self.sync.clone(),
        }
    }
}

/// The page key for a page URL and its `<link rel=canonical>` href. The canonical
/// URL counts only on the page's own origin: a page must not be able to file its
/// annotations under another site's page.
pub fn page_key_for(page_url: &str, canonical: Option<&str>) -> Result<PageKey, cairn_model::PageKeyError> {
    let own = PageKey::from_url(page_url)?;
    match canonical.map(PageKey::from_url) {
        Some(Ok(c)) if c.origin() == own.origin() => Ok(c),
        _ => Ok(own),
    }
}

/// Whether an edit from a page may touch this record: the user's own, on that page.
pub fn editable_from_page(record: &LocalRecord, page_key: &PageKey) -> bool {
    record.is_own() && record.page_key == page_key.as_str()
}

/// The mutation that carries a record of the user's to the server.
pub fn upsert_mutation(record: &LocalRecord, seq: u64) -> Mutation {
    Mutation::Upsert { seq, annotation: record.annotation.clone(), communities: record.communities.clone() }
}

fn newest_first(records: &[LocalRecord]) -> Vec<&LocalRecord> {
    let mut sorted: Vec<&LocalRecord> = records.iter().collect();
    sorted.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| b.id.cmp(&a.id)));
    sorted
}

/// Makes items agree with the outbox, which the UI's header counts: an item whose
/// change is still queued says "waiting to sync" even if its record already says
/// synced (a page listing merged while a push is being answered can mark it so
/// before its mutation leaves the outbox).
pub fn agree_with_outbox(highlights: &mut [HighlightSummary], clips: &mut [ClipSummary], outbox: &[Mutation]) {
    let queued: HashSet<&str> = outbox
        .iter()
        .map(|m| match m {
            Mutation::Upsert { annotation, .. } => annotation.id.as_str(),
            Mutation::Delete { id, .. } => id.as_str(),
        })
        .collect();
    let states =
        highlights.iter_mut().map(|h| (&h.id, &mut h.sync)).chain(clips.iter_mut().map(|c| (&c.id, &mut c.sync)));
    for (id, sync) in states {
        if *sync == SyncState::Synced && queued.contains(id.as_str()) {
            *sync = SyncState::Pending;
        }
    }
}

/// The highlights of one page, newest first (ids are UUIDv7, so ties break by creation).
pub fn page_summaries(records: &[LocalRecord]) -> Vec<HighlightSummary> {
    let mut summaries: Vec<HighlightSummary> = newest_first(records)
        .into_iter()
        .filter(|r| !r.annotation.is_clip() && !r.annotation.is_reply())
        .map(LocalRecord::summary)
        .collect();
    // Each reply under the annotation it answers, oldest first; a reply whose
    // parent is not here (deleted, say) is not shown on its own.
    let by_id: HashMap<String, usize> = summaries.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
    let mut replies: Vec<&LocalRecord> = records.iter().filter(|r| r.annotation.is_reply()).collect();
    replies.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then_with(|| a.id.cmp(&b.id)));
    for r in replies {
        let parent = r.annotation.reply_to().map(|p| p.to_urn());
        if let Some(&i) = parent.as_ref().and_then(|p| by_id.get(p)) {
            summaries[i].replies.push(r.reply_summary());
        }
    }
    summaries
}

/// The clips of one page, newest first.
pub fn page_clips(records: &[LocalRecord]) -> Vec<ClipSummary> {
    newest_first(records)
        .into_iter()
        .filter_map(|r| {
            let kind = r.annotation.clip_kind()?;
            let markdown = r.annotation.clip_markdown().unwrap_or_default().to_string();
            Some(ClipSummary {
                id: r.id.clone(),
                clip: kind,
                title: front_matter_title(&markdown).unwrap_or_else(|| r.annotation.target.source.clone()),
                source: r.annotation.target.source.clone(),
                markdown,
                note: r.annotation.note().map(str::to_string),
                tags: r.annotation.tags().into_iter().map(str::to_string).collect(),
                created: cairn_model::format_rfc3339_ms(r.created_ms),
                teammate: r.teammate.clone(),
                sync: r.sync.clone(),
                audience: r.communities.clone(),
                communities: r.communities.clone(),
            })
        })
        .collect()
}

/// The `title` of a clip's YAML front matter (a double-quoted scalar, as
/// cairn-clip writes it).
pub fn front_matter_title(markdown: &str) -> Option<String> {
    let rest = markdown.strip_prefix("---\n")?;
    let block = &rest[..rest.find("\n---")?];
    let raw = block.lines().find_map(|l| l.strip_prefix("title: "))?.trim();
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'x' => {
                out.push(char::from_u32(u32::from_str_radix(&chars.by_ref().take(2).collect::<String>(), 16).ok()?)?)
            }
            'u' => {
                out.push(char::from_u32(u32::from_str_radix(&chars.by_ref().take(4).collect::<String>(), 16).ok()?)?)
            }
            'U' => {
                out.push(char::from_u32(u32::from_str_radix(&chars.by_ref().take(8).collect::<String>(), 16).ok()?)?)
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// The next batch to push: the oldest pending mutations, in sequence order, at
/// most `max` of them and at most `max_bytes` of JSON (but always at least one,
/// which [`cairn_model::MAX_CLIP_BYTES`] keeps under the server's body limit).
pub fn next_batch(outbox: &[Mutation], max: usize, max_bytes: usize) -> Vec<Mutation> {
    let mut sorted: Vec<&Mutation> = outbox.iter().collect();
    sorted.sort_by_key(|m| m.seq());
    let mut batch = Vec::new();
    let mut bytes = 0;
    for m in sorted.into_iter().take(max) {
        let size = serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX / 2);
        if !batch.is_empty() && bytes + size > max_bytes {
            break;
        }
        bytes += size;
        batch.push(m.clone());
    }
    batch
}

/// What a push answer means for the local store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settlement {
    /// Sequence numbers the server answered for: remove them from the outbox.
    pub acknowledged: Vec<u64>,
    /// Records now known to the server.
    pub synced: Vec<String>,
    /// Records the server refused, with the reason to show the user.
    pub rejected: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleError {
    /// The server did not answer for a mutation it was sent: keep it queued.
    Unanswered(u64),
    /// The server answered for a mutation it was not sent.
    Unexpected(u64),
}

impl std::fmt::Display for SettleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettleError::Unanswered(s) => write!(f, "the server did not answer for change #{s}; it stays queued"),
            SettleError::Unexpected(s) => write!(f, "the server answered for change #{s}, which was not sent"),
        }
    }
}

/// Matches a push answer against the batch that was sent.
/// Anything not answered stays queued (never dropped); a mismatch is an error so
/// a confused server cannot make the client forget mutations.
pub fn settle(batch: &[Mutation], results: &[MutationResult]) -> Result<Settlement, SettleError> {
    let sent: HashSet<u64> = batch.iter().map(Mutation::seq).collect();
    let mut answers: HashMap<u64, &MutationResult> = HashMap::with_capacity(results.len());
    for r in results {
        if !sent.contains(&r.seq) {
            return Err(SettleError::Unexpected(r.seq));
        }
        // A repeated answer counts once: the first, as a scan in order would find.
        answers.entry(r.seq).or_insert(r);
    }
    let mut out = Settlement::default();
    for m in batch {
        let r = answers.get(&m.seq()).ok_or(SettleError::Unanswered(m.seq()))?;
        out.acknowledged.push(m.seq());
        let id = match m {
            Mutation::Upsert { annotation, .. } => annotation.id.clone(),
            Mutation::Delete { id, .. } => id.clone(),
        };
        match r.status {
            MutationStatus::Applied | MutationStatus::Duplicate => out.synced.push(id),
            MutationStatus::Rejected => {
                let reason =
                    r.error.as_ref().map(|e| e.message.clone()).unwrap_or_else(|| "refused by the server".into());
                out.rejected.push((id, reason));
            }
        }
    }
    Ok(out)
}

/// What merging a page's server listing changes on this device: only what
/// differs is written, and `page` is the page as the store holds it afterwards,
/// so the caller need not read it back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PageMerge {
    /// Records to write: new ones, and the ones whose server copy differs from
    /// this device's, in the listing's order.
    pub put: Vec<LocalRecord>,
    /// Teammates' records the server no longer lists for the user (deleted,
    /// unshared, or the user left the community).
    pub delete: Vec<String>,
    /// The records filed under the page's key once `put` and `delete` are applied.
    pub page: Vec<LocalRecord>,
}

impl PageMerge {
    /// Whether the store has nothing to write.
    pub fn is_empty(&self) -> bool {
        self.put.is_empty() && self.delete.is_empty()
    }
}

/// Merges what the server lists for a page (`remote`) with this device's records
/// of that page (`local`, every record filed under `page_key`).
///
/// * Teammates' annotations are taken from the server; a copy that has not changed
///   is not written again, and one whose target is unchanged keeps its orphan flag
///   (the flag says what anchoring found on this device, which the server cannot know).
/// * Teammates' records the server no longer lists are deleted.
/// * The user's own annotations made on other devices are adopted as synced; own
///   records already here are left alone, because this device's copy is the newer
///   or the same, and never replaced by someone else's annotation of the same id,
///   so that nothing the user made is lost to an id collision.
/// * The user's own annotations in `unsent_deletes` (deleted here, the delete not
///   yet applied by the server, which therefore still lists them) are not adopted:
///   a deleted highlight does not come back.
///
/// Merging the same listing twice writes nothing the second time.
///
/// Every lookup is by id, so the work is linear in the size of the listing and
/// the writes are linear in what changed.
pub fn merge_page(
    my_user_id: &str,
    page_key: &str,
    local: Vec<LocalRecord>,
    remote: Vec<SharedAnnotation>,
    unsent_deletes: &HashSet<String>,
) -> PageMerge {
    let local_at: HashMap<&str, usize> = local.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();

    // The listing as records, one per id; a repeated id keeps its last copy, as a
    // store written in the listing's order would.
    let mut listed: Vec<LocalRecord> = Vec::with_capacity(remote.len());
    let mut listed_at: HashMap<String, usize> = HashMap::with_capacity(remote.len());
    for shared in remote {
        let mine = shared.author.id == my_user_id;
        if mine
            && (unsent_deletes.contains(&shared.annotation.id)
                || local_at.get(shared.annotation.id.as_str()).is_some_and(|&i| local[i].is_own()))
        {
            continue;
        }
        let Some(record) = record_from_server(shared, mine, page_key) else { continue };
        match listed_at.get(&record.id) {
            Some(&i) => listed[i] = record,
            None => {
                listed_at.insert(record.id.clone(), listed.len());
                listed.push(record);
            }
        }
    }

    let mut put = Vec::new();
    for mut record in listed {
        if let Some(&i) = local_at.get(record.id.as_str()) {
            let here = &local[i];
            if here.is_own() {
                continue;
            }
            if same_anchor(&here.annotation, &record.annotation) {
                record.orphan = here.orphan;
            }
            if record == *here {
                continue;
            }
        }
        put.push(record);
    }
    let delete: Vec<String> =
        local.iter().filter(|r| !r.is_own() && !listed_at.contains_key(&r.id)).map(|r| r.id.clone()).collect();

    // The page moves the unchanged records (most of them) rather than copying them.
    let replaced: HashSet<&str> = put.iter().map(|r| r.id.as_str()).chain(delete.iter().map(String::as_str)).collect();
    let mut page: Vec<LocalRecord> = Vec::with_capacity(local.len() + put.len());
    page.extend(local.into_iter().filter(|r| !replaced.contains(r.id.as_str())));
    page.extend(put.iter().filter(|r| r.page_key == page_key).cloned());
    PageMerge { put, delete, page }
}

/// A record for an annotation the server listed; `None` if its page URL is not
/// one Cairn can file (the server checks this too).
/// A reply targets its parent, not a page: it is kept on the page it was listed
/// for (the server lists replies on their parent's page).
fn record_from_server(shared: SharedAnnotation, mine: bool, listed_on: &str) -> Option<LocalRecord> {
    let page_key = match shared.annotation.is_reply() {
        true => listed_on.to_string(),
        false => shared.annotation.page_key().ok()?.to_string(),
    };
    let created_ms = shared.annotation.created.as_deref().and_then(cairn_model::parse_rfc3339_ms).unwrap_or(0);
    Some(LocalRecord {
        id: shared.annotation.id.clone(),
        page_key,
        created_ms,
        annotation: shared.annotation,
        communities: shared.communities,
        sync: if mine { SyncState::Synced } else { SyncState::Shared },
        teammate: if mine { None } else { Some(shared.author.display_name) },
        orphan: false,
    })
}

/// Whether two versions of an annotation anchor the same way: same page, same
/// selectors (a colour or note change does not move a highlight).
fn same_anchor(a: &Annotation, b: &Annotation) -> bool {
    a.target.source == b.target.source && a.target.selector == b.target.selector
}

/// The ids of the user's deletes that the server may not have applied yet: held
/// for undo ([`trash`]) or queued in the outbox (until the server answers for them).
pub fn unsent_deletes(held: &[trash::HeldDelete], outbox: &[Mutation]) -> HashSet<String> {
    let queued = outbox.iter().filter_map(|m| match m {
        Mutation::Delete { id, .. } => Some(id.clone()),
        Mutation::Upsert { .. } => None,
    });
    held.iter().map(|h| h.record.id.clone()).chain(queued).collect()
}

/// How many highlights a page shows (clips are listed in the popup, not painted).
pub fn highlight_count(records: &[LocalRecord]) -> u32 {
    records.iter().filter(|r| !r.annotation.is_clip() && !r.annotation.is_reply()).count() as u32
}

/// Delay before retry number `attempt` (0-based): exponential from 1 s, capped at
/// 5 min, with full jitter so that many clients coming back online do not retry in step.
/// `unit_random` is a random number in `[0, 1)` supplied by the caller.
pub fn backoff_ms(attempt: u32, unit_random: f64) -> u64 {
    const BASE_MS: u64 = 1_000;
    const CAP_MS: u64 = 300_000;
    let ceiling = BASE_MS.saturating_mul(1u64 << attempt.min(20)).min(CAP_MS);
    let r = unit_random.clamp(0.0, 1.0);
    // Never retry immediately: at least the base delay.
    ((ceiling as f64 * r) as u64).max(BASE_MS)
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
