//! Applying a push inside a write transaction, written once for every backend.
//!
//! What a push may do is decided by the pure functions of [`crate::push`]; this is
//! the order of reads and writes around them. It talks to the database only
//! through [`PushTx`]: a handful of primitives each backend implements on its own
//! transaction (sqlx for PostgreSQL, where each statement is a round trip anyway;
//! rusqlite for SQLite, where the whole push then runs on one thread without a
//! hand-off per statement: under load, each hand-off waited for a core, and a push
//! of ten mutations made some thirty of them). The caller begins the transaction
//! (taking the write lock) before and commits after.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use cairn_protocol::api::{MutationResult, MutationStatus};

use super::portable::{placeholders, Arg};
use super::{ChangeNotice, Membership, PushOutcome, StoreError, User};
use crate::push::{
    decide_delete, decide_upsert, stamp, DeleteDecision, PreparedMutation, PreparedUpsert, Rejection, StoredState,
    UpsertDecision,
};

/// The database operations a push needs, on an open write transaction. Parameters
/// are `$1`, `$2`, ... in the order of `args`.
#[async_trait]
pub(crate) trait PushTx: Send {
    async fn memberships(&mut self, user_id: &str) -> Result<Vec<Membership>, StoreError>;
    /// Runs a statement returning one integer column, one value per row.
    async fn integers(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<i64>, StoreError>;
    /// `(id, author_id, deleted_at, modified_at)` of the annotations `ids` that exist.
    async fn stored_states(&mut self, sql: &str, ids: &[&str]) -> Result<Vec<(String, String, Option<i64>, i64)>, StoreError>;
    /// `(annotation id, community id, slug)` of the live shares of `ids`.
    async fn live_shares(&mut self, sql: &str, ids: &[&str]) -> Result<Vec<(String, String, String)>, StoreError>;
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<(), StoreError>;
}

const UPSERT_ANNOTATION: &str = "INSERT INTO annotations (id, author_id, page_key, source_url, body_json, note_html,
         created_at, modified_at, author_seq, search_text, tags_text, extra_json, share_slugs)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (id) DO UPDATE SET page_key = excluded.page_key, source_url = excluded.source_url,
         body_json = excluded.body_json, note_html = excluded.note_html, share_slugs = excluded.share_slugs,
         modified_at = excluded.modified_at, author_seq = excluded.author_seq,
         search_text = excluded.search_text, tags_text = excluded.tags_text,
         extra_json = COALESCE(excluded.extra_json, annotations.extra_json)";

/// A tombstone keeps who and when, never the content: deleted means gone.
const TOMBSTONE: &str = "INSERT INTO annotations (id, author_id, created_at, modified_at, deleted_at, author_seq)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET page_key = NULL, source_url = NULL, body_json = NULL, note_html = NULL,
         search_text = NULL, tags_text = NULL, extra_json = NULL, share_slugs = NULL,
         modified_at = excluded.modified_at, deleted_at = excluded.deleted_at, author_seq = excluded.author_seq";

const SHARE: &str = "INSERT INTO annotation_shares (annotation_id, community_id, seq, removed_at) VALUES ($1, $2, $3, NULL)
     ON CONFLICT (annotation_id, community_id) DO UPDATE SET seq = excluded.seq, removed_at = NULL";

const UNSHARE: &str = "UPDATE annotation_shares SET seq = $1, removed_at = $2 WHERE annotation_id = $3 AND community_id = $4";

const MOVE_SHARE: &str = "UPDATE annotation_shares SET seq = $1 WHERE annotation_id = $2 AND community_id = $3";

/// What one push transaction knows about the rows it touches: loaded in a few
/// queries up front and kept current as the batch is applied, so that each
/// mutation costs only its own writes. Sequence counters are read once (their
/// rows locked by the read: `UPDATE ... RETURNING`), handed out here, and
/// written back before commit; sequence numbers thus still follow commit order.
#[derive(Default)]
struct PushState {
    /// What the database holds for each id of the batch (`None`: never seen).
    stored: HashMap<String, Option<StoredState>>,
    /// (community id, slug) of each id's live shares, in community id order.
    shares: HashMap<String, Vec<(String, String)>>,
    /// The next author sequence number, once read.
    author_next: Option<i64>,
    /// community id -> next number to hand out.
    community_next: HashMap<String, i64>,
}

fn text(s: &str) -> Arg {
    Arg::Text(s.to_string())
}

impl PushState {
    async fn load<T: PushTx>(tx: &mut T, ids: &[&str]) -> Result<PushState, StoreError> {
        let mut state = PushState::default();
        if ids.is_empty() {
            return Ok(state);
        }
        for id in ids {
            state.stored.insert(id.to_string(), None);
            state.shares.insert(id.to_string(), Vec::new());
        }
        let list = placeholders(1, ids.len());
        let sql = format!("SELECT id, author_id, deleted_at, modified_at FROM annotations WHERE id IN ({list})");
        for (id, author_id, deleted_at, modified_ms) in tx.stored_states(&sql, ids).await? {
            state.stored.insert(id, Some(StoredState { author_id, deleted: deleted_at.is_some(), modified_ms }));
        }
        let sql = format!(
            "SELECT s.annotation_id, s.community_id, c.slug FROM annotation_shares s JOIN communities c ON c.id = s.community_id
             WHERE s.annotation_id IN ({list}) AND s.removed_at IS NULL ORDER BY s.annotation_id, s.community_id"
        );
        for (id, community_id, slug) in tx.live_shares(&sql, ids).await? {
            state.shares.entry(id).or_default().push((community_id, slug));
        }
        Ok(state)
    }

    /// Takes the community's next sequence number.
    async fn next_seq<T: PushTx>(&mut self, tx: &mut T, community_id: &str) -> Result<i64, StoreError> {
        if let Some(next) = self.community_next.get_mut(community_id) {
            *next += 1;
            return Ok(*next - 1);
        }
        let first = counter(tx, "UPDATE communities SET next_seq = next_seq WHERE id = $1 RETURNING next_seq", community_id).await?;
        self.community_next.insert(community_id.to_string(), first + 1);
        Ok(first)
    }

    /// Takes the author's next personal-feed number.
    async fn next_author_seq<T: PushTx>(&mut self, tx: &mut T, user_id: &str) -> Result<i64, StoreError> {
        if let Some(next) = self.author_next.as_mut() {
            *next += 1;
            return Ok(*next - 1);
        }
        let first = counter(tx, "UPDATE users SET next_seq = next_seq WHERE id = $1 RETURNING next_seq", user_id).await?;
        self.author_next = Some(first + 1);
        Ok(first)
    }

    /// Writes the counters back (inside the same transaction).
    async fn save_counters<T: PushTx>(&self, tx: &mut T, user_id: &str) -> Result<(), StoreError> {
        if let Some(next) = self.author_next {
            tx.execute("UPDATE users SET next_seq = $1 WHERE id = $2", &[Arg::Int(next), text(user_id)]).await?;
        }
        let mut touched: Vec<_> = self.community_next.iter().collect();
        touched.sort();
        for (community_id, next) in touched {
            tx.execute("UPDATE communities SET next_seq = $1 WHERE id = $2", &[Arg::Int(*next), text(community_id)]).await?;
        }
        Ok(())
    }
}

async fn counter<T: PushTx>(tx: &mut T, sql: &str, id: &str) -> Result<i64, StoreError> {
    tx.integers(sql, &[text(id)])
        .await?
        .first()
        .copied()
        .ok_or_else(|| StoreError::Backend(format!("no counter row for {id}")))
}

/// Records (author, device, seq) for every mutation in one statement; answers
/// which of them are new. A seq repeated within the batch is new only once.
async fn record_applied<T: PushTx>(
    tx: &mut T,
    author_id: &str,
    device_id: &str,
    seqs: &[i64],
    now_ms: i64,
) -> Result<Vec<bool>, StoreError> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<String> = (0..seqs.len()).map(|i| format!("($1, $2, ${}, $3)", i + 4)).collect();
    let sql = format!(
        "INSERT INTO applied_mutations (user_id, device_id, seq, applied_at) VALUES {}
         ON CONFLICT DO NOTHING RETURNING seq",
        values.join(", ")
    );
    let mut args = vec![text(author_id), text(device_id), Arg::Int(now_ms)];
    args.extend(seqs.iter().map(|s| Arg::Int(*s)));
    let mut new: HashSet<i64> = tx.integers(&sql, &args).await?.into_iter().collect();
    Ok(seqs.iter().map(|seq| new.remove(seq)).collect())
}

async fn write_upsert<T: PushTx>(
    tx: &mut T,
    state: &mut PushState,
    author: &User,
    memberships: &[Membership],
    upsert: PreparedUpsert,
    now_ms: i64,
    notices: &mut Vec<ChangeNotice>,
) -> Result<Result<(), Rejection>, StoreError> {
    let stored = state.stored.get(&upsert.id).cloned().flatten();
    let shared_before = state.shares.get(&upsert.id).cloned().unwrap_or_default();
    let before_ids: Vec<String> = shared_before.iter().map(|(id, _)| id.clone()).collect();
    let (decision, audience) = match decide_upsert(author, stored.as_ref(), &upsert, memberships, &before_ids) {
        Ok(d) => d,
        Err(rejection) => return Ok(Err(rejection)),
    };
    if decision == UpsertDecision::KeepStored {
        return Ok(Ok(()));
    }
    let mut annotation = upsert.annotation;
    stamp(&mut annotation, author, &audience);
    let body_json = serde_json::to_string(&annotation).map_err(|e| StoreError::Backend(e.to_string()))?;
    // The same communities as the stamped `audience`: `portable::serve_row` relies on
    // it ("" when shared with none; NULL only for rows written before the column).
    let share_slugs = audience.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>().join(" ");
    let author_seq = state.next_author_seq(tx, &author.id).await?;
    let args = [
        text(&upsert.id),
        text(&author.id),
        Arg::OptText(Some(upsert.page_key.clone())),
        Arg::OptText(Some(annotation.target.source.clone())),
        Arg::OptText(Some(body_json)),
        Arg::OptText(upsert.note_html.clone()),
        Arg::Int(upsert.created_ms),
        Arg::Int(upsert.modified_ms),
        Arg::Int(author_seq),
        Arg::OptText(Some(upsert.search_text.clone())),
        Arg::OptText(Some(upsert.tags_text.clone())),
        Arg::OptText(upsert.extra_json.clone()),
        Arg::OptText(Some(share_slugs)),
    ];
    tx.execute(UPSERT_ANNOTATION, &args).await?;
    notices.push(ChangeNotice { community: None, author_id: author.id.clone(), seq: author_seq });

    for community in &audience {
        let seq = state.next_seq(tx, &community.id).await?;
        tx.execute(SHARE, &[text(&upsert.id), text(&community.id), Arg::Int(seq)]).await?;
        notices.push(ChangeNotice { community: Some(community.slug.clone()), author_id: author.id.clone(), seq });
    }
    for (community_id, slug) in shared_before.iter().filter(|(id, _)| !audience.iter().any(|c| &c.id == id)) {
        let seq = state.next_seq(tx, community_id).await?;
        tx.execute(UNSHARE, &[Arg::Int(seq), Arg::Int(now_ms), text(&upsert.id), text(community_id)]).await?;
        notices.push(ChangeNotice { community: Some(slug.clone()), author_id: author.id.clone(), seq });
    }
    let author_id = stored.map(|s| s.author_id).unwrap_or_else(|| author.id.clone());
    state.stored.insert(upsert.id.clone(), Some(StoredState { author_id, deleted: false, modified_ms: upsert.modified_ms }));
    state.shares.insert(upsert.id, audience.iter().map(|c| (c.id.clone(), c.slug.clone())).collect());
    Ok(Ok(()))
}

async fn write_delete<T: PushTx>(
    tx: &mut T,
    state: &mut PushState,
    author: &User,
    id: &str,
    now_ms: i64,
    notices: &mut Vec<ChangeNotice>,
) -> Result<Result<(), Rejection>, StoreError> {
    let stored = state.stored.get(id).cloned().flatten();
    match decide_delete(author, id, stored.as_ref()) {
        Err(rejection) => return Ok(Err(rejection)),
        Ok(DeleteDecision::AlreadyDeleted) => return Ok(Ok(())),
        Ok(DeleteDecision::Tombstone) => {}
    }
    let author_seq = state.next_author_seq(tx, &author.id).await?;
    let args = [text(id), text(&author.id), Arg::Int(now_ms), Arg::Int(now_ms), Arg::Int(now_ms), Arg::Int(author_seq)];
    tx.execute(TOMBSTONE, &args).await?;
    notices.push(ChangeNotice { community: None, author_id: author.id.clone(), seq: author_seq });
    // Communities that had it hear about the deletion through a new sequence number.
    let author_id = stored.map(|s| s.author_id).unwrap_or_else(|| author.id.clone());
    state.stored.insert(id.to_string(), Some(StoredState { author_id, deleted: true, modified_ms: now_ms }));
    // The share rows stay live (only their seq moves): a later mutation of this id sees them.
    let live = state.shares.get(id).cloned().unwrap_or_default();
    for (community_id, slug) in live {
        let seq = state.next_seq(tx, &community_id).await?;
        tx.execute(MOVE_SHARE, &[Arg::Int(seq), text(id), text(&community_id)]).await?;
        notices.push(ChangeNotice { community: Some(slug), author_id: author.id.clone(), seq });
    }
    Ok(Ok(()))
}

/// Applies `mutations` by `author` (from `device_id`, if any) in the open write
/// transaction `tx`; the caller commits.
pub(crate) async fn apply_push<T: PushTx>(
    tx: &mut T,
    author: &User,
    device_id: Option<&str>,
    mutations: Vec<PreparedMutation>,
    now_ms: i64,
) -> Result<PushOutcome, StoreError> {
    // Read inside the transaction: a membership removed a moment ago no longer counts.
    let memberships = tx.memberships(&author.id).await?;
    let mut outcome = PushOutcome { results: Vec::with_capacity(mutations.len()), notices: Vec::new() };
    let seqs: Vec<i64> = mutations.iter().map(|m| m.seq()).collect();
    let first_times = match device_id {
        None => vec![true; mutations.len()],
        Some(device_id) => record_applied(tx, &author.id, device_id, &seqs, now_ms).await?,
    };
    let mut ids: Vec<&str> = Vec::new();
    for (mutation, first_time) in mutations.iter().zip(&first_times) {
        let id = match mutation {
            PreparedMutation::Upsert(u) => u.id.as_str(),
            PreparedMutation::Delete { id, .. } => id.as_str(),
            PreparedMutation::Invalid { .. } => continue,
        };
        if *first_time && !ids.contains(&id) {
            ids.push(id);
        }
    }
    let mut state = PushState::load(tx, &ids).await?;
    for (mutation, first_time) in mutations.into_iter().zip(first_times) {
        let seq = mutation.seq() as u64; // prepare() only lets non-negative values through.
        if !first_time {
            outcome.results.push(MutationResult { seq, status: MutationStatus::Duplicate, error: None });
            continue;
        }
        let result = match mutation {
            PreparedMutation::Invalid { rejection, .. } => Err(rejection),
            PreparedMutation::Upsert(upsert) => {
                write_upsert(tx, &mut state, author, &memberships, *upsert, now_ms, &mut outcome.notices).await?
            }
            PreparedMutation::Delete { id, .. } => write_delete(tx, &mut state, author, &id, now_ms, &mut outcome.notices).await?,
        };
        outcome.results.push(match result {
            Ok(()) => MutationResult { seq, status: MutationStatus::Applied, error: None },
            Err(r) => MutationResult { seq, status: MutationStatus::Rejected, error: Some(r.to_wire()) },
        });
    }
    state.save_counters(tx, &author.id).await?;
    // Only the last position of each feed matters to listeners.
    let mut seen = HashSet::new();
    let mut notices: Vec<ChangeNotice> = outcome.notices.into_iter().rev().filter(|n| seen.insert(n.community.clone())).collect();
    notices.reverse();
    outcome.notices = notices;
    Ok(outcome)
}
