//! Applying a push inside a write transaction, written once for every backend.
//!
//! What a push may do is decided by the pure functions of [`crate::push`]; this is
//! the order of reads and writes around them. It talks to the database only
//! through [`PushTx`]: a handful of primitives each backend implements on its own
//! transaction (sqlx for PostgreSQL, rusqlite for SQLite, where the whole push
//! runs on one thread without a hand-off per statement). The caller begins the
//! transaction (`BEGIN IMMEDIATE` on SQLite) before and commits after.
//!
//! A push runs in three phases, so that it holds the locks other writers wait for
//! as briefly as possible and sends few statements:
//! 1. **Read.** With the author's row locked (pushes by one author queue there;
//!    nobody else writes their annotations), read memberships, which mutations
//!    are new, and the stored state and live shares of every id
//!    ([`PushTx::read_for_push`]: one statement on PostgreSQL).
//! 2. **Decide** every mutation in memory ([`crate::push`]), producing the rows to write.
//! 3. **Write** the annotation rows (several rows a statement where the backend
//!    gains by it), then the author's feed counter and the share rows with new
//!    feed positions ([`PushTx::finish_push`]), taking each touched community's counter lock in
//!    community id order (so two pushes never wait on each other in a cycle).
//!    The counter locks are held until commit, so positions follow commit order,
//!    which is what the change feed's cursor needs. SQLite takes them in the
//!    transaction (it has one writer anyway); PostgreSQL takes them, writes the
//!    share rows and announces the new positions inside COMMIT, so that no
//!    client round trip runs under the lock.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use cairn_protocol::api::{MutationResult, MutationStatus};

use super::portable::{placeholders, Arg};
use super::replies::{self, ParentChange, ThreadRow, Threads};
use super::{ChangeNotice, Community, Membership, PushOutcome, StoreError, User};
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
    async fn stored_states(
        &mut self,
        sql: &str,
        ids: &[&str],
    ) -> Result<Vec<(String, String, Option<i64>, i64)>, StoreError>;
    /// `(annotation id, community id, slug)` of the live shares of `ids`.
    async fn live_shares(&mut self, sql: &str, ids: &[&str]) -> Result<Vec<(String, String, String)>, StoreError>;
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<(), StoreError>;
    /// Runs a statement selecting [`ThreadRow`]'s columns (in its order).
    async fn thread_rows(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<ThreadRow>, StoreError>;
    /// Runs a statement selecting communities' `id, slug, name, archived_at`.
    async fn communities(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Community>, StoreError>;
    /// Whether concurrent pushes can interleave, so that reading another
    /// author's row to decide on needs a row lock (`FOR SHARE` / `FOR UPDATE`,
    /// PostgreSQL); SQLite has one writer at a time and no such clause.
    fn locks_rows(&self) -> bool {
        false
    }
    /// Phase 1's reads, the author's row being locked (the caller began the
    /// transaction so): their next personal-feed number, their memberships (read
    /// inside the transaction: a membership removed a moment ago no longer
    /// counts), which of `seqs` are new from `device_id` (recording them; all are
    /// new without a device), and what is stored of `ids`. One statement on
    /// PostgreSQL, where each is a round trip; here, one after the other.
    async fn read_for_push(
        &mut self,
        author_id: &str,
        device_id: Option<&str>,
        seqs: &[i64],
        ids: &[&str],
        now_ms: i64,
    ) -> Result<PushReads, StoreError>
    where
        Self: Sized,
    {
        let author_next = self
            .integers("SELECT next_seq FROM users WHERE id = $1", &[text(author_id)])
            .await?
            .first()
            .copied()
            .ok_or_else(|| StoreError::Backend(format!("no counter row for user {author_id}")))?;
        let memberships = self.memberships(author_id).await?;
        let first_times = match device_id {
            None => vec![true; seqs.len()],
            Some(device_id) => record_applied(self, author_id, device_id, seqs, now_ms).await?,
        };
        let (stored, shares) = read_stored(self, ids).await?;
        Ok(PushReads { author_next, memberships, first_times, stored, shares })
    }
    /// Writes `rows` (each [`RowsStatement::columns`] values, keys distinct) with
    /// `statement`; answers how many rows were written (an upsert whose `WHERE`
    /// refused the update writes none). PostgreSQL sends one multi-row statement:
    /// each statement is a round trip. SQLite runs the one-row statement per row:
    /// in process, a cached statement is cheaper than parsing a new one.
    async fn write_rows(&mut self, statement: &RowsStatement, rows: &[&[Arg]]) -> Result<u64, StoreError>;
    /// The end of a push by `author_id`: writes back their next personal-feed
    /// number if it moved (`author_next`), and each community's share rows
    /// ([`ShareBatches`]) at new feed positions, numbered in batch order. Answers
    /// the first position of each community, or `None` when the database writes,
    /// numbers and announces them itself as the transaction commits (PostgreSQL,
    /// migration `0004_shares_written_at_commit`, in one statement; it then
    /// announces the author's personal feed too). SQLite: [`finish_numbered`].
    async fn finish_push(
        &mut self,
        author_id: &str,
        author_next: Option<i64>,
        batches: &ShareBatches,
    ) -> Result<Option<HashMap<String, i64>>, StoreError>;
}

/// A push's share rows by community id, in community id order (the order
/// counters are locked in, so two pushes never wait on each other in a cycle).
pub(crate) type ShareBatches = BTreeMap<String, ShareBatch>;

/// One community's share rows of a push.
#[derive(Default)]
pub(crate) struct ShareBatch {
    pub slug: String,
    /// (annotation id, removed_at) in push order, an annotation written twice
    /// kept once, at its last place.
    pub rows: Vec<(String, Option<i64>)>,
}

/// [`PushTx::finish_push`] statement by statement: takes the positions now and
/// writes the rows with them; the counter rows stay locked until commit, so
/// positions still follow commit order. (SQLite: one writer at a time anyway.)
pub(crate) async fn finish_numbered<T: PushTx>(
    tx: &mut T,
    author_id: &str,
    author_next: Option<i64>,
    batches: &ShareBatches,
) -> Result<Option<HashMap<String, i64>>, StoreError> {
    if let Some(next) = author_next {
        tx.execute("UPDATE users SET next_seq = $1 WHERE id = $2", &[Arg::Int(next), text(author_id)]).await?;
    }
    let mut first = HashMap::new();
    let mut rows: Vec<(&'static RowsStatement, String, Vec<Arg>)> = Vec::new();
    for (community_id, batch) in batches {
        let taken = batch.rows.len() as i64;
        let end = tx
            .integers(
                "UPDATE communities SET next_seq = next_seq + $1 WHERE id = $2 RETURNING next_seq",
                &[Arg::Int(taken), text(community_id)],
            )
            .await?
            .first()
            .copied()
            .ok_or_else(|| StoreError::Backend(format!("no counter row for community {community_id}")))?;
        first.insert(community_id.clone(), end - taken);
        for (place, (annotation_id, removed_at)) in batch.rows.iter().enumerate() {
            let values = vec![
                text(annotation_id),
                text(community_id),
                Arg::Int(end - taken + place as i64),
                Arg::OptInt(*removed_at),
            ];
            rows.push((&SHARE, format!("{annotation_id} {community_id}"), values));
        }
    }
    write_in_order(tx, &rows).await?;
    Ok(Some(first))
}

/// An `INSERT ... VALUES` for any number of rows.
pub(crate) struct RowsStatement {
    /// `table (column, ...)`
    pub into: &'static str,
    pub columns: usize,
    /// What follows the values: the `ON CONFLICT` clause.
    pub then: &'static str,
}

impl RowsStatement {
    /// The statement for `rows` rows, parameters numbered row by row.
    pub(crate) fn sql(&self, rows: usize) -> String {
        let values: Vec<String> =
            (0..rows).map(|r| format!("({})", placeholders(1 + r * self.columns, self.columns))).collect();
        format!("INSERT INTO {} VALUES {} {}", self.into, values.join(", "), self.then)
    }
}

/// Rows a statement writes at most: PostgreSQL takes at most 65,535 parameters.
const MAX_ROWS_A_STATEMENT: usize = 1_000;

/// An annotation as pushed. Only its author may overwrite it: the `WHERE` makes
/// the write of anyone else a no-op, which [`write_plan`] turns into a conflict
/// (two authors racing to create the same id on PostgreSQL), and the retry then
/// rejects it as not theirs.
pub(crate) const UPSERT_ANNOTATION: RowsStatement = RowsStatement {
    into: "annotations (id, author_id, page_key, source_url, body_json, note_html,
         created_at, modified_at, author_seq, search_text, tags_text, extra_json, share_slugs, parent_id)",
    columns: 14,
    then: "ON CONFLICT (id) DO UPDATE SET page_key = excluded.page_key, source_url = excluded.source_url,
         parent_id = excluded.parent_id,
         body_json = excluded.body_json, note_html = excluded.note_html, share_slugs = excluded.share_slugs,
         modified_at = excluded.modified_at, author_seq = excluded.author_seq,
         search_text = excluded.search_text, tags_text = excluded.tags_text,
         extra_json = COALESCE(excluded.extra_json, annotations.extra_json)
     WHERE annotations.author_id = excluded.author_id",
};

/// A tombstone keeps who and when, never the content: deleted means gone.
pub(crate) const TOMBSTONE: RowsStatement = RowsStatement {
    into: "annotations (id, author_id, created_at, modified_at, deleted_at, author_seq)",
    columns: 6,
    then: "ON CONFLICT (id) DO UPDATE SET page_key = NULL, source_url = NULL, body_json = NULL, note_html = NULL,
         search_text = NULL, tags_text = NULL, extra_json = NULL, share_slugs = NULL,
         modified_at = excluded.modified_at, deleted_at = excluded.deleted_at, author_seq = excluded.author_seq
     WHERE annotations.author_id = excluded.author_id",
};

/// A share (`removed_at` NULL), an unshare (`removed_at` set) or a share moved to
/// a new sequence number: all three are this row, upserted.
const SHARE: RowsStatement = RowsStatement {
    into: "annotation_shares (annotation_id, community_id, seq, removed_at)",
    columns: 4,
    then:
        "ON CONFLICT (annotation_id, community_id) DO UPDATE SET seq = excluded.seq, removed_at = excluded.removed_at",
};

/// What phase 1 reads ([`PushTx::read_for_push`]).
pub(crate) struct PushReads {
    /// The author's next personal-feed number.
    pub author_next: i64,
    pub memberships: Vec<Membership>,
    /// For each seq asked about, in order: whether this is its first time.
    pub first_times: Vec<bool>,
    /// `(id, author_id, deleted_at, modified_at)` of the ids that exist.
    pub stored: Vec<(String, String, Option<i64>, i64)>,
    /// `(annotation id, community id, slug)` of their live shares, by annotation id then community id.
    pub shares: Vec<(String, String, String)>,
}

/// The stored states and live shares of `ids`, in two queries.
async fn read_stored<T: PushTx>(
    tx: &mut T,
    ids: &[&str],
) -> Result<(Vec<(String, String, Option<i64>, i64)>, Vec<(String, String, String)>), StoreError> {
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let list = placeholders(1, ids.len());
    let sql = format!("SELECT id, author_id, deleted_at, modified_at FROM annotations WHERE id IN ({list})");
    let stored = tx.stored_states(&sql, ids).await?;
    let sql = format!(
        "SELECT s.annotation_id, s.community_id, c.slug FROM annotation_shares s JOIN communities c ON c.id = s.community_id
         WHERE s.annotation_id IN ({list}) AND s.removed_at IS NULL ORDER BY s.annotation_id, s.community_id"
    );
    let shares = tx.live_shares(&sql, ids).await?;
    Ok((stored, shares))
}

/// What one push transaction knows about the rows it touches: loaded in a few
/// queries up front and kept current as the batch is decided.
#[derive(Default)]
pub(crate) struct PushState {
    /// What the database holds for each id of the batch (`None`: never seen).
    pub(crate) stored: HashMap<String, Option<StoredState>>,
    /// (community id, slug) of each id's live shares, in community id order.
    pub(crate) shares: HashMap<String, Vec<(String, String)>>,
    /// The parents and replies this push wrote ([`replies`]).
    pub(crate) threads: Threads,
    /// The author's next personal-feed number (their row is locked).
    author_next: i64,
    /// Whether `author_next` moved.
    author_seq_taken: bool,
}

pub(crate) fn text(s: &str) -> Arg {
    Arg::Text(s.to_string())
}

impl PushState {
    fn of(ids: &[&str], reads: &PushReads) -> PushState {
        let mut state = PushState { author_next: reads.author_next, ..PushState::default() };
        for id in ids {
            state.stored.insert(id.to_string(), None);
            state.shares.insert(id.to_string(), Vec::new());
        }
        for (id, author_id, deleted_at, modified_ms) in &reads.stored {
            let stored =
                StoredState { author_id: author_id.clone(), deleted: deleted_at.is_some(), modified_ms: *modified_ms };
            state.stored.insert(id.clone(), Some(stored));
        }
        for (id, community_id, slug) in &reads.shares {
            state.shares.entry(id.clone()).or_default().push((community_id.clone(), slug.clone()));
        }
        state
    }

    /// Takes the author's next personal-feed number.
    pub(crate) fn next_author_seq(&mut self) -> i64 {
        self.author_seq_taken = true;
        self.author_next += 1;
        self.author_next - 1
    }
}

/// A share row to write once its community's feed positions are taken.
struct ShareWrite {
    annotation_id: String,
    community_id: String,
    slug: String,
    removed_at: Option<i64>,
}

/// What the decided mutations write, in order.
#[derive(Default)]
pub(crate) struct Plan {
    /// (statement, id, values) of each annotation row write.
    pub(crate) annotations: Vec<(&'static RowsStatement, String, Vec<Arg>)>,
    shares: Vec<ShareWrite>,
    /// In order: `Ok(author seq)` for the author's feed, `Err(index into shares)` for a community's.
    notices: Vec<Result<i64, usize>>,
    /// (author id, seq) taken in other authors' feeds (replies following their parent).
    pub(crate) other_feeds: Vec<(String, i64)>,
}

impl Plan {
    pub(crate) fn share(&mut self, annotation_id: &str, community_id: &str, slug: &str, removed_at: Option<i64>) {
        self.notices.push(Err(self.shares.len()));
        self.shares.push(ShareWrite {
            annotation_id: annotation_id.to_string(),
            community_id: community_id.to_string(),
            slug: slug.to_string(),
            removed_at,
        });
    }

    /// The share rows as [`ShareBatches`].
    fn share_batches(&self) -> ShareBatches {
        let mut batches = ShareBatches::new();
        for share in &self.shares {
            let batch = batches.entry(share.community_id.clone()).or_default();
            batch.slug.clone_from(&share.slug);
            batch.rows.retain(|(id, _)| id != &share.annotation_id);
            batch.rows.push((share.annotation_id.clone(), share.removed_at));
        }
        batches
    }
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
    Ok(first_times(seqs, tx.integers(&sql, &args).await?))
}

/// For each of `seqs`, whether it is among those recorded `new` just now; a seq
/// repeated within the batch is new only the first time.
pub(crate) fn first_times(seqs: &[i64], new: impl IntoIterator<Item = i64>) -> Vec<bool> {
    let mut new: HashSet<i64> = new.into_iter().collect();
    seqs.iter().map(|seq| new.remove(seq)).collect()
}

async fn plan_upsert<T: PushTx>(
    tx: &mut T,
    plan: &mut Plan,
    state: &mut PushState,
    author: &User,
    memberships: &[Membership],
    upsert: PreparedUpsert,
    now_ms: i64,
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
    let (page_key, audience): (String, Vec<Community>) = match &upsert.parent {
        Some(parent_id) => {
            match replies::parent_for(tx, state, author, memberships, parent_id, stored.is_none()).await? {
                Ok(parent) => (parent.page_key, parent.audience),
                Err(rejection) => return Ok(Err(rejection)),
            }
        }
        None => (upsert.page_key.clone(), audience.into_iter().cloned().collect()),
    };
    let mut annotation = upsert.annotation;
    stamp(&mut annotation, author, &audience.iter().collect::<Vec<_>>());
    let body_json = serde_json::to_string(&annotation).map_err(|e| StoreError::Backend(e.to_string()))?;
    // The same communities as the stamped `audience`: `portable::serve_row` relies on
    // it ("" when shared with none; NULL only for rows written before the column).
    let share_slugs = audience.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>().join(" ");
    let author_seq = state.next_author_seq();
    let values = vec![
        text(&upsert.id),
        text(&author.id),
        Arg::OptText(Some(page_key.clone())),
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
        Arg::OptText(upsert.parent.clone()),
    ];
    match &upsert.parent {
        Some(parent_id) => replies::wrote_reply(state, &upsert.id, parent_id, author, annotation, values.clone()),
        None => replies::wrote_parent(state, &upsert.id, &page_key, &audience),
    }
    plan.annotations.push((&UPSERT_ANNOTATION, upsert.id.clone(), values));
    plan.notices.push(Ok(author_seq));
    for community in &audience {
        plan.share(&upsert.id, &community.id, &community.slug, None);
    }
    for (community_id, slug) in shared_before.iter().filter(|(id, _)| !audience.iter().any(|c| &c.id == id)) {
        plan.share(&upsert.id, community_id, slug, Some(now_ms));
    }
    let existed = stored.is_some();
    let author_id = stored.map(|s| s.author_id).unwrap_or_else(|| author.id.clone());
    state
        .stored
        .insert(upsert.id.clone(), Some(StoredState { author_id, deleted: false, modified_ms: upsert.modified_ms }));
    state.shares.insert(upsert.id.clone(), audience.iter().map(|c| (c.id.clone(), c.slug.clone())).collect());
    let moved = before_ids.len() != audience.len() || audience.iter().any(|c| !before_ids.contains(&c.id));
    if upsert.parent.is_none() && existed && moved {
        replies::follow_parent(tx, plan, state, author, &upsert.id, ParentChange::Audience(&audience), now_ms).await?;
    }
    Ok(Ok(()))
}

async fn plan_delete<T: PushTx>(
    tx: &mut T,
    plan: &mut Plan,
    state: &mut PushState,
    author: &User,
    id: &str,
    now_ms: i64,
) -> Result<Result<(), Rejection>, StoreError> {
    let stored = state.stored.get(id).cloned().flatten();
    match decide_delete(author, id, stored.as_ref()) {
        Err(rejection) => return Ok(Err(rejection)),
        Ok(DeleteDecision::AlreadyDeleted) => return Ok(Ok(())),
        Ok(DeleteDecision::Tombstone) => {}
    }
    let author_seq = state.next_author_seq();
    let values =
        vec![text(id), text(&author.id), Arg::Int(now_ms), Arg::Int(now_ms), Arg::Int(now_ms), Arg::Int(author_seq)];
    plan.annotations.push((&TOMBSTONE, id.to_string(), values));
    plan.notices.push(Ok(author_seq));
    let existed = stored.is_some();
    let author_id = stored.map(|s| s.author_id).unwrap_or_else(|| author.id.clone());
    state.stored.insert(id.to_string(), Some(StoredState { author_id, deleted: true, modified_ms: now_ms }));
    // Communities that had it hear about the deletion through a new sequence number;
    // the share rows stay live (only their seq moves): a later mutation of this id sees them.
    for (community_id, slug) in state.shares.get(id).cloned().unwrap_or_default() {
        plan.share(id, &community_id, &slug, None);
    }
    // Its replies go with it (a reply has none: threads are flat).
    state.threads.forget(id);
    if existed {
        replies::follow_parent(tx, plan, state, author, id, ParentChange::Deleted, now_ms).await?;
    }
    Ok(Ok(()))
}

/// Writes `rows` (statement, key, values) in order, as few statements as the
/// order allows: consecutive rows of one statement go together until a key repeats
/// (one statement may not upsert a row twice). Answers the rows written.
async fn write_in_order<T: PushTx>(
    tx: &mut T,
    rows: &[(&'static RowsStatement, String, Vec<Arg>)],
) -> Result<u64, StoreError> {
    let mut written = 0;
    let mut start = 0;
    while start < rows.len() {
        let statement = rows[start].0;
        let mut keys = HashSet::new();
        let mut end = start;
        while end < rows.len()
            && end - start < MAX_ROWS_A_STATEMENT
            && std::ptr::eq(rows[end].0, statement)
            && keys.insert(rows[end].1.as_str())
        {
            end += 1;
        }
        let values: Vec<&[Arg]> = rows[start..end].iter().map(|(_, _, v)| v.as_slice()).collect();
        written += tx.write_rows(statement, &values).await?;
        start = end;
    }
    Ok(written)
}

/// Writes what the push decided (phase 3); answers the feed positions it created
/// for the caller to announce (none when the database announces them at commit).
async fn write_plan<T: PushTx>(
    tx: &mut T,
    plan: Plan,
    state: &PushState,
    author: &User,
) -> Result<Vec<ChangeNotice>, StoreError> {
    let written = write_in_order(tx, &plan.annotations).await?;
    if written != plan.annotations.len() as u64 {
        // Someone else created one of these ids since it was read (PostgreSQL only:
        // SQLite has one writer). The retry reads it and rejects it as not theirs.
        return Err(StoreError::Conflict("an annotation of this push was created by someone else meanwhile".into()));
    }
    let batches = plan.share_batches();
    let author_next = state.author_seq_taken.then_some(state.author_next);
    let Some(first) = tx.finish_push(&author.id, author_next, &batches).await? else {
        // The database announces them as the push commits.
        return Ok(Vec::new());
    };
    let others = plan.other_feeds.iter().map(|(author_id, seq)| ChangeNotice {
        community: None,
        author_id: author_id.clone(),
        seq: *seq,
    });
    let notices = plan
        .notices
        .iter()
        .map(|notice| match notice {
            Ok(seq) => ChangeNotice { community: None, author_id: author.id.clone(), seq: *seq },
            Err(i) => {
                // The community's last position of this push: listeners pull up to there.
                let share = &plan.shares[*i];
                let seq = first[&share.community_id] + batches[&share.community_id].rows.len() as i64 - 1;
                ChangeNotice { community: Some(share.slug.clone()), author_id: author.id.clone(), seq }
            }
        })
        .chain(others)
        .collect();
    Ok(notices)
}

/// Applies `mutations` by `author` (from `device_id`, if any) in the open write
/// transaction `tx`, which the caller began holding the author's row (pushes by
/// one author queue there; nobody else writes their annotations: PostgreSQL
/// locks it in the BEGIN, SQLite's `BEGIN IMMEDIATE` holds the whole file); the
/// caller commits, then announces the outcome's notices
/// (none when the database announces them itself).
pub(crate) async fn apply_push<T: PushTx>(
    tx: &mut T,
    author: &User,
    device_id: Option<&str>,
    mutations: Vec<PreparedMutation>,
    now_ms: i64,
) -> Result<PushOutcome, StoreError> {
    // Phase 1. The author's row is locked already: their pushes queue there,
    // before anything is read.
    let mut outcome = PushOutcome { results: Vec::with_capacity(mutations.len()), notices: Vec::new() };
    let seqs: Vec<i64> = mutations.iter().map(|m| m.seq()).collect();
    // Every id of the batch, also those of mutations that turn out to be replays
    // (they are skipped below): which are replays is read in the same step.
    let mut ids: Vec<&str> = Vec::new();
    for mutation in &mutations {
        let id = match mutation {
            PreparedMutation::Upsert(u) => u.id.as_str(),
            PreparedMutation::Delete { id, .. } => id.as_str(),
            PreparedMutation::Invalid { .. } => continue,
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let reads = tx.read_for_push(&author.id, device_id, &seqs, &ids, now_ms).await?;
    let mut state = PushState::of(&ids, &reads);
    let (memberships, first_times) = (reads.memberships, reads.first_times);

    // Phase 2.
    let mut plan = Plan::default();
    for (mutation, first_time) in mutations.into_iter().zip(first_times) {
        let seq = mutation.seq() as u64; // prepare() only lets non-negative values through.
        if !first_time {
            outcome.results.push(MutationResult { seq, status: MutationStatus::Duplicate, error: None });
            continue;
        }
        let result = match mutation {
            PreparedMutation::Invalid { rejection, .. } => Err(rejection),
            PreparedMutation::Upsert(upsert) => {
                plan_upsert(tx, &mut plan, &mut state, author, &memberships, *upsert, now_ms).await?
            }
            PreparedMutation::Delete { id, .. } => plan_delete(tx, &mut plan, &mut state, author, &id, now_ms).await?,
        };
        outcome.results.push(match result {
            Ok(()) => MutationResult { seq, status: MutationStatus::Applied, error: None },
            Err(r) => MutationResult { seq, status: MutationStatus::Rejected, error: Some(r.to_wire()) },
        });
    }

    // Phase 3. Only the last position of each feed matters to listeners.
    let notices = write_plan(tx, plan, &state, author).await?;
    let mut seen = HashSet::new();
    let mut notices: Vec<ChangeNotice> = notices.into_iter().rev().filter(|n| seen.insert(feed_of(n))).collect();
    notices.reverse();
    outcome.notices = notices;
    Ok(outcome)
}

/// Which feed a notice is about: a community's, or (`None`) an author's own.
fn feed_of(notice: &ChangeNotice) -> (Option<String>, Option<String>) {
    match &notice.community {
        Some(slug) => (Some(slug.clone()), None),
        None => (None, Some(notice.author_id.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_statements_number_their_parameters_row_by_row() {
        let sql = SHARE.sql(2);
        assert!(sql.starts_with("INSERT INTO annotation_shares (annotation_id, community_id, seq, removed_at) VALUES ($1, $2, $3, $4), ($5, $6, $7, $8) ON CONFLICT"), "{sql}");
    }
}
