//! The SQLite backend: one file in the data directory, the zero-configuration default.
//!
//! Settings and why: WAL so readers never wait for the writer; `synchronous=NORMAL`,
//! which in WAL mode loses at most the last commits on power loss but never
//! corrupts; foreign keys on (SQLite's default is off); a busy timeout so a
//! second writer waits instead of failing. Write transactions start with
//! `BEGIN IMMEDIATE`: taking the write lock up front means a transaction that
//! has read something can never fail to upgrade to a writer halfway through,
//! and since there is one writer at a time, sequence numbers follow commit order.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{named_params, OpenFlags, OptionalExtension};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, Transaction};

/// Read connections. Each SQLite connection runs on its own thread; on a small
/// machine a few are enough to keep the cores busy, and more only contend.
const READERS: u32 = 4;

/// Aggregates `c.slug` over a subquery's rows into one space-separated string.
const SLUG_LIST: &str = "group_concat(c.slug, ' ')";

pub struct SqliteStore {
    /// The writer: one connection, so writers queue in the pool (asynchronously)
    /// instead of sleeping in SQLite's busy handler; migrations and every write use it.
    pool: SqlitePool,
    /// Readers: read-only connections that never wait for the writer (WAL).
    read: SqlitePool,
    /// Copies the write-ahead log into the database file in the background.
    checkpointer: SqlitePool,
    /// Read-only rusqlite connections for the hot reads (see [`HotReaders`]).
    hot: Arc<HotReaders>,
    /// The rusqlite connection pushes are written on, one at a time: a whole push
    /// transaction runs on one blocking thread (see `store::apply`).
    pusher: Arc<std::sync::Mutex<rusqlite::Connection>>,
    /// What a community's feed shows at each position, for the feed reads.
    feed_cache: Arc<FeedCache>,
    /// The annotations page lookups show, by version.
    page_cache: Arc<PageCache>,
}

/// A rusqlite failure; a busy or locked database is a conflict, which a push retries.
fn sqlite_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Conflict(e.to_string())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// Opens the connection pushes are written on, with the writer's settings.
fn open_pusher(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Backend(format!("cannot open database {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(sqlite_error)?;
    for (pragma, value) in [("synchronous", "NORMAL"), ("foreign_keys", "ON"), ("wal_autocheckpoint", "0")] {
        conn.pragma_update(None, pragma, value).map_err(sqlite_error)?;
    }
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// A cached statement with `args` bound to `$1`, `$2`, ...
fn bound<'c>(
    conn: &'c rusqlite::Connection,
    sql: &str,
    args: &[Arg],
) -> Result<rusqlite::CachedStatement<'c>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(sqlite_error)?;
    for (i, arg) in args.iter().enumerate() {
        let Some(index) = stmt.parameter_index(&format!("${}", i + 1)).map_err(sqlite_error)? else { continue };
        match arg {
            Arg::Text(s) => stmt.raw_bind_parameter(index, s),
            Arg::Int(n) => stmt.raw_bind_parameter(index, n),
            Arg::OptText(s) => stmt.raw_bind_parameter(index, s),
            Arg::OptInt(n) => stmt.raw_bind_parameter(index, n),
        }
        .map_err(sqlite_error)?;
    }
    Ok(stmt)
}

fn texts(ids: &[&str]) -> Vec<Arg> {
    ids.iter().map(|id| Arg::Text(id.to_string())).collect()
}

/// A push's database operations on the rusqlite writer. Every method finishes
/// without waiting, so the push runs to completion in one poll.
struct RusqlitePushTx<'c>(&'c mut rusqlite::Connection);

impl RusqlitePushTx<'_> {
    fn rows<T>(
        &self,
        sql: &str,
        args: &[Arg],
        row: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = bound(self.0, sql, args)?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sqlite_error)? {
            out.push(row(r).map_err(sqlite_error)?);
        }
        Ok(out)
    }
}

#[async_trait]
impl crate::store::apply::PushTx for RusqlitePushTx<'_> {
    async fn memberships(&mut self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        read_memberships(self.0, user_id)
    }

    async fn integers(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<i64>, StoreError> {
        self.rows(sql, args, |r| r.get(0))
    }

    async fn stored_states(
        &mut self,
        sql: &str,
        ids: &[&str],
    ) -> Result<Vec<(String, String, Option<i64>, i64)>, StoreError> {
        self.rows(sql, &texts(ids), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
    }

    async fn live_shares(&mut self, sql: &str, ids: &[&str]) -> Result<Vec<(String, String, String)>, StoreError> {
        self.rows(sql, &texts(ids), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    }

    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<(), StoreError> {
        bound(self.0, sql, args)?.raw_execute().map_err(sqlite_error)?;
        Ok(())
    }

    async fn thread_rows(
        &mut self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<crate::store::replies::ThreadRow>, StoreError> {
        self.rows(sql, args, |r| {
            Ok(crate::store::replies::ThreadRow {
                id: r.get(0)?,
                author_id: r.get(1)?,
                parent_id: r.get(2)?,
                deleted_at: r.get(3)?,
                page_key: r.get(4)?,
                created_at: r.get(5)?,
                modified_at: r.get(6)?,
                body_json: r.get(7)?,
            })
        })
    }

    async fn communities(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<crate::store::Community>, StoreError> {
        self.rows(sql, args, |r| {
            let archived_at: Option<i64> = r.get(3)?;
            Ok(crate::store::Community {
                id: r.get(0)?,
                slug: r.get(1)?,
                name: r.get(2)?,
                archived: archived_at.is_some(),
            })
        })
    }

    async fn finish_push(
        &mut self,
        author_id: &str,
        author_next: Option<i64>,
        batches: &crate::store::apply::ShareBatches,
    ) -> Result<Option<std::collections::HashMap<String, i64>>, StoreError> {
        crate::store::apply::finish_numbered(self, author_id, author_next, batches).await
    }

    async fn write_rows(
        &mut self,
        statement: &crate::store::apply::RowsStatement,
        rows: &[&[Arg]],
    ) -> Result<u64, StoreError> {
        let sql = statement.sql(1);
        let mut written = 0;
        for row in rows {
            written += bound(self.0, &sql, row)?.raw_execute().map_err(sqlite_error)? as u64;
        }
        Ok(written)
    }
}

/// Hot reads that run at once, each on its own connection, all kept open: opening
/// one costs a schema parse and a fresh statement cache, so under load a pool that
/// opened and closed connections spent a sixth of its time doing that. Reads
/// beyond this many wait (asynchronously) for a free connection.
const HOT_CONNECTIONS: usize = 6;

/// The reads nearly every request makes (the token check, the caller's memberships,
/// page lookups and change feeds), run on read-only rusqlite connections on
/// Tokio's blocking pool. sqlx-sqlite copies every value of every row
/// (`sqlite3_value_dup`) and hands each row from its connection thread to the
/// async side; for a feed page of 100 annotations that was most of the request.
/// Here a read is one hand-off and prepared statements are cached per connection.
struct HotReaders {
    path: PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
    /// One permit per connection.
    permits: tokio::sync::Semaphore,
}

impl HotReaders {
    fn connect(&self) -> Result<rusqlite::Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&self.path, flags)
            .map_err(|e| StoreError::Backend(format!("cannot open database {}: {e}", self.path.display())))?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sqlite_error)?;
        // Not memory-mapped: in WAL mode a read transaction that finds the database
        // changed unmaps the whole file (`pagerBeginReadTransaction`), and under a
        // steady write load nearly every one does; the unmapping, the TLB shootdowns
        // and the page faults after it cost more than reading pages with pread
        // (0.55-0.74 against 0.83-0.87 ms of CPU a request at 1,500 sync req/s).
        conn.pragma_update(None, "mmap_size", 0i64).map_err(sqlite_error)?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(conn)
    }

    /// Runs `read` in one read transaction (one snapshot) on an idle connection.
    async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self.permits.acquire().await.map_err(|_| StoreError::Backend("the store is closed".into()))?;
        let readers = self.clone();
        let result = tokio::task::spawn_blocking(move || {
            let idle = readers.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match idle {
                Some(conn) => conn,
                None => readers.connect()?,
            };
            let result = run_cached(&conn, "BEGIN").and_then(|_| {
                let value = read(&conn);
                run_cached(&conn, "END")?;
                value
            });
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            readers.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a read failed: {e}")))?;
        drop(permit);
        result
    }
}

/// Runs a cached statement without parameters (BEGIN, END, COMMIT):
/// `Connection::transaction` would parse them anew each time.
fn run_cached(conn: &rusqlite::Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ()).map_err(sqlite_error)
}

fn user_for_token(conn: &rusqlite::Connection, token_hash: &str, now_ms: i64) -> Result<Option<User>, StoreError> {
    let mut stmt = conn.prepare_cached(hot::USER_FOR_TOKEN).map_err(sqlite_error)?;
    stmt.query_row(named_params! {"$1": token_hash, "$2": now_ms}, |r| {
        Ok(User { id: r.get(0)?, username: r.get(1)?, display_name: r.get(2)? })
    })
    .optional()
    .map_err(sqlite_error)
}

fn page_annotations(
    conn: &rusqlite::Connection,
    cache: &PageCache,
    viewer_id: &str,
    page_key: &str,
) -> Result<Vec<Arc<ServedAnnotation>>, StoreError> {
    let slugs = viewer_slugs(conn, viewer_id)?;
    let mut lookup = cache.lookup();
    let mut stmt = conn.prepare_cached(hot::PAGE).map_err(sqlite_error)?;
    let mut rows = stmt.query(named_params! {"$1": viewer_id, "$2": page_key}).map_err(sqlite_error)?;
    while let Some(r) = rows.next().map_err(sqlite_error)? {
        lookup.annotation(r.get(0).map_err(sqlite_error)?, r.get(1).map_err(sqlite_error)?);
    }
    let now: Vec<PageContentRow> = rows_for_ids(conn, PAGE_CONTENTS, &lookup.missing(), None, |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
    })?;
    lookup.finish(now, &Viewer { id: viewer_id, slugs: &slugs, authors: std::collections::HashMap::new() })
}

/// The rows of `sql` for the annotations `ids`, bound to `$1` as a JSON array
/// (and `$2` to `community_id`, when given): what a cache lookup missed. No
/// statement runs when nothing was missed.
fn rows_for_ids<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    ids: &[&str],
    community_id: Option<&str>,
    row: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(out);
    }
    let ids = serde_json::to_string(ids).map_err(|e| StoreError::Backend(e.to_string()))?;
    let mut stmt = conn.prepare_cached(sql).map_err(sqlite_error)?;
    let mut rows = match community_id {
        Some(community_id) => stmt.query(named_params! {"$1": ids, "$2": community_id}),
        None => stmt.query(named_params! {"$1": ids}),
    }
    .map_err(sqlite_error)?;
    while let Some(r) = rows.next().map_err(sqlite_error)? {
        out.push(row(r).map_err(sqlite_error)?);
    }
    Ok(out)
}

/// [`PageContentRow`]s of the annotations `$1` (a JSON array of ids) as they are now.
const PAGE_CONTENTS: &str =
    "SELECT a.id, a.author_seq, a.deleted_at, a.body_json, a.note_html, a.author_id, a.share_slugs,
            u.username, u.display_name
     FROM annotations a JOIN users u ON u.id = a.author_id WHERE a.id IN (SELECT value FROM json_each($1))";

/// Community `slug`'s feed as `viewer_id` sees it, or `None` when they are not a
/// member: the positions from the database, what they show from `cache` or, for
/// those it has not cached, from the database as it is now (in the same snapshot).
fn community_changes(
    conn: &rusqlite::Connection,
    cache: &FeedCache,
    viewer_id: &str,
    slug: &str,
    since: i64,
    limit: i64,
) -> Result<Option<Vec<FeedRow>>, StoreError> {
    let memberships = read_memberships(conn, viewer_id)?;
    let Some(membership) = memberships.iter().find(|m| m.community.slug == slug) else { return Ok(None) };
    let slugs: Vec<String> = memberships.iter().map(|m| m.community.slug.clone()).collect();
    let mut lookup = cache.lookup(membership.community.id.clone(), usize::try_from(limit).unwrap_or(0).min(1_000));
    let mut stmt = conn.prepare_cached(FEED_POSITIONS).map_err(sqlite_error)?;
    let mut rows =
        stmt.query(named_params! {"$1": membership.community.id, "$2": since, "$3": limit}).map_err(sqlite_error)?;
    while let Some(r) = rows.next().map_err(sqlite_error)? {
        let id = r.get_ref(1).and_then(|v| v.as_str().map_err(Into::into)).map_err(sqlite_error)?;
        lookup.position(r.get(0).map_err(sqlite_error)?, id, r.get(2).map_err(sqlite_error)?);
    }
    let now: Vec<ContentRow> =
        rows_for_ids(conn, FEED_CONTENTS, &lookup.missing(), Some(lookup.community_id()), |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })?;
    let viewer = Viewer { id: viewer_id, slugs: &slugs, authors: std::collections::HashMap::new() };
    lookup.finish(now, &viewer).map(Some)
}

/// (seq, annotation id, removed_at) of community `$1`'s feed after `$2`, at most `$3` positions.
const FEED_POSITIONS: &str = "SELECT seq, annotation_id, removed_at FROM annotation_shares WHERE community_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

/// [`ContentRow`]s: the shares of annotations `$1` (a JSON array of ids) in
/// community `$2` as they are now, with the annotations and their authors.
const FEED_CONTENTS: &str = "SELECT s.seq, s.removed_at, a.id, a.deleted_at, a.body_json, a.note_html,
            a.author_id, a.share_slugs, u.username, u.display_name
     FROM annotation_shares s JOIN annotations a ON a.id = s.annotation_id JOIN users u ON u.id = a.author_id
     WHERE s.community_id = $2 AND s.annotation_id IN (SELECT value FROM json_each($1))";

fn read_memberships(conn: &rusqlite::Connection, user_id: &str) -> Result<Vec<Membership>, StoreError> {
    let mut stmt = conn.prepare_cached(hot::MEMBERSHIPS).map_err(sqlite_error)?;
    let rows = stmt
        .query_map(named_params! {"$1": user_id}, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .map_err(sqlite_error)?;
    rows.map(|row| membership_of(row.map_err(sqlite_error)?)).collect()
}

fn viewer_slugs(conn: &rusqlite::Connection, viewer_id: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(hot::VIEWER_SLUGS).map_err(sqlite_error)?;
    let rows = stmt.query_map(named_params! {"$1": viewer_id}, |r| r.get(0)).map_err(sqlite_error)?;
    rows.collect::<Result<_, _>>().map_err(sqlite_error)
}

fn served_row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<ServedRow> {
    Ok((r.get(at)?, r.get(at + 1)?, r.get(at + 2)?, r.get(at + 3)?, r.get(at + 4)?))
}

/// The viewer as [`Viewer`], with the authors `author_ids`.
fn viewer_with_authors<'v>(
    conn: &rusqlite::Connection,
    viewer_id: &'v str,
    slugs: &'v [String],
    author_ids: Vec<String>,
) -> Result<Viewer<'v>, StoreError> {
    let mut stmt = conn.prepare_cached(hot::AUTHOR).map_err(sqlite_error)?;
    let mut authors = std::collections::HashMap::new();
    for id in author_ids {
        let author = stmt
            .query_row(named_params! {"$1": id}, |r| {
                Ok(UserInfo { id: r.get(0)?, username: r.get(1)?, display_name: r.get(2)? })
            })
            .map_err(sqlite_error)?;
        authors.insert(id, author);
    }
    Ok(Viewer { id: viewer_id, slugs, authors })
}

fn feed_sql_row(r: &rusqlite::Row) -> rusqlite::Result<FeedSqlRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, served_row(r, 4)?))
}

/// The viewer's own feed (`hot::OWN_FEED`, with `params`).
fn own_feed(
    conn: &rusqlite::Connection,
    viewer_id: &str,
    params: &[(&str, &dyn rusqlite::ToSql)],
) -> Result<Vec<FeedRow>, StoreError> {
    let slugs = viewer_slugs(conn, viewer_id)?;
    let mut stmt = conn.prepare_cached(hot::OWN_FEED).map_err(sqlite_error)?;
    let rows = stmt
        .query_map(params, feed_sql_row)
        .map_err(sqlite_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite_error)?;
    let viewer = viewer_with_authors(conn, viewer_id, &slugs, author_ids(rows.iter().map(|r| &r.4)))?;
    feed_rows(rows, &viewer)
}

impl SqliteStore {
    async fn try_apply_push(
        &self,
        author: &User,
        device_id: Option<&str>,
        mutations: Vec<PreparedMutation>,
        now_ms: i64,
    ) -> Result<PushOutcome, StoreError> {
        use futures_util::FutureExt;
        let pusher = self.pusher.clone();
        let (author, device_id) = (author.clone(), device_id.map(String::from));
        tokio::task::spawn_blocking(move || {
            let mut conn = pusher.lock().unwrap_or_else(|e| e.into_inner());
            if !conn.is_autocommit() {
                // Left open by a push that panicked: nothing of it was committed.
                conn.execute_batch("ROLLBACK").map_err(sqlite_error)?;
            }
            run_cached(&conn, "BEGIN IMMEDIATE")?;
            let applied = crate::store::apply::apply_push(
                &mut RusqlitePushTx(&mut conn),
                &author,
                device_id.as_deref(),
                mutations,
                now_ms,
            )
            .now_or_never()
            .unwrap_or_else(|| Err(StoreError::Backend("a SQLite push waited, which it never should".into())));
            let committed = applied.and_then(|outcome| run_cached(&conn, "COMMIT").map(|_| outcome));
            if committed.is_err() && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            committed
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a push failed: {e}")))?
    }

    async fn hot_user_for_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>, StoreError> {
        let token_hash = token_hash.to_string();
        self.hot.run(move |conn| user_for_token(conn, &token_hash, now_ms)).await
    }

    async fn hot_memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let user_id = user_id.to_string();
        self.hot.run(move |conn| read_memberships(conn, &user_id)).await
    }

    async fn hot_page_annotations(
        &self,
        viewer: &User,
        page_key: &str,
    ) -> Result<Vec<Arc<ServedAnnotation>>, StoreError> {
        let (viewer_id, page_key, cache) = (viewer.id.clone(), page_key.to_string(), self.page_cache.clone());
        self.hot.run(move |conn| page_annotations(conn, &cache, &viewer_id, &page_key)).await
    }

    /// The token check and the read in one hand-off to a blocking thread.
    async fn hot_page_annotations_for_token(
        &self,
        token_hash: &str,
        now_ms: i64,
        page_key: &str,
    ) -> Result<WithToken<Vec<Arc<ServedAnnotation>>>, StoreError> {
        let (token_hash, page_key, cache) = (token_hash.to_string(), page_key.to_string(), self.page_cache.clone());
        self.hot
            .run(move |conn| match user_for_token(conn, &token_hash, now_ms)? {
                None => Ok(WithToken::Invalid),
                Some(viewer) => page_annotations(conn, &cache, &viewer.id, &page_key).map(WithToken::Valid),
            })
            .await
    }

    async fn hot_community_changes(
        &self,
        viewer: &User,
        slug: &str,
        since: i64,
        limit: i64,
    ) -> Result<Option<Vec<FeedRow>>, StoreError> {
        let (viewer_id, slug, cache) = (viewer.id.clone(), slug.to_string(), self.feed_cache.clone());
        self.hot.run(move |conn| community_changes(conn, &cache, &viewer_id, &slug, since, limit)).await
    }

    /// The token check and the read in one hand-off to a blocking thread.
    async fn hot_community_changes_for_token(
        &self,
        token_hash: &str,
        now_ms: i64,
        slug: &str,
        since: i64,
        limit: i64,
    ) -> Result<WithToken<Option<Vec<FeedRow>>>, StoreError> {
        let (token_hash, slug, cache) = (token_hash.to_string(), slug.to_string(), self.feed_cache.clone());
        self.hot
            .run(move |conn| match user_for_token(conn, &token_hash, now_ms)? {
                None => Ok(WithToken::Invalid),
                Some(viewer) => community_changes(conn, &cache, &viewer.id, &slug, since, limit).map(WithToken::Valid),
            })
            .await
    }

    async fn hot_own_changes(&self, viewer: &User, since: i64, limit: i64) -> Result<Vec<FeedRow>, StoreError> {
        let viewer_id = viewer.id.clone();
        self.hot
            .run(move |conn| {
                let params = named_params! {"$1": viewer_id, "$2": since, "$3": limit};
                own_feed(conn, &viewer_id, params)
            })
            .await
    }
}

/// Checkpoints the WAL every 200 ms with `PASSIVE` (which waits for nobody and
/// blocks nobody), off the writer's path; stops when the store is closed.
async fn checkpoints(pool: SqlitePool) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::debug!(error = %e, "WAL checkpoint failed; retrying");
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // The writer never checkpoints (that fsyncs, and every queued writer would wait):
        // a background connection does, see `checkpoints`.
        let writer = options.clone().pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(writer)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot open database {}: {e}", path.display())))?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot migrate database {}: {e}", path.display())))?;
        let read = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.clone().create_if_missing(false).read_only(true))
            .await
            .map_err(|e| StoreError::Backend(format!("cannot open database {}: {e}", path.display())))?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Backend(format!("cannot open database {}: {e}", path.display())))?;
        tokio::spawn(checkpoints(checkpointer.clone()));
        let hot = Arc::new(HotReaders {
            path: path.to_path_buf(),
            idle: std::sync::Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(HOT_CONNECTIONS),
        });
        let pusher = Arc::new(std::sync::Mutex::new(open_pusher(path)?));
        let store = SqliteStore {
            pool,
            read,
            checkpointer,
            hot,
            pusher,
            feed_cache: Arc::new(FeedCache::new()),
            page_cache: Arc::new(PageCache::new()),
        };
        store.backfill_search_columns().await?;
        Ok(store)
    }

    /// Rows written before the search columns existed get them now.
    async fn backfill_search_columns(&self) -> Result<(), StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, body_json FROM annotations WHERE body_json IS NOT NULL AND search_text IS NULL")
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        for (id, body_json) in rows {
            let Ok(annotation) = serde_json::from_str::<cairn_model::Annotation>(&body_json) else { continue };
            let (text, tags) = crate::push::search_columns(&annotation);
            sqlx::query("UPDATE annotations SET search_text = $1, tags_text = $2 WHERE id = $3")
                .bind(text)
                .bind(tags)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    /// Writes a consistent copy of the live database to `target` (which must not
    /// exist) with `VACUUM INTO`, while the server keeps serving.
    pub async fn backup(&self, target: &Path) -> Result<(), StoreError> {
        if target.exists() {
            return Err(StoreError::AlreadyExists(format!("{} exists already; choose a new file", target.display())));
        }
        let target = target.to_str().ok_or_else(|| StoreError::Backend("the backup path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1").bind(target).execute(&self.pool).await.map_err(backend)?;
        Ok(())
    }

    /// One server process owns a SQLite file and announces its own pushes.
    fn subscribe_to_announcements(&self) -> Option<tokio::sync::broadcast::Receiver<ChangeNotice>> {
        None
    }

    async fn close_pools(&self) {
        self.hot.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.checkpointer.close().await;
        self.read.close().await;
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)
    }
}

portable_store!(SqliteStore, SqliteConnection);

use crate::store::feed_cache::{ContentRow, FeedCache};
use crate::store::page_cache::{PageCache, PageContentRow};
use crate::store::portable::{author_ids, feed_rows, FeedSqlRow, ServedRow, Viewer};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::prepare;
    use cairn_model::Annotation;
    use cairn_model::{AnnotationId, Color, Selector};
    use cairn_protocol::api::Mutation;

    fn upsert(seq: u64, id: AnnotationId, modified_ms: i64, communities: &[&str]) -> PreparedMutation {
        let a = Annotation::new_highlight(
            id,
            "https://a.example/p",
            vec![Selector::TextQuoteSelector { exact: "q".into(), prefix: None, suffix: None }],
            Color::Blue,
            modified_ms,
        );
        let m =
            Mutation::Upsert { seq, annotation: a, communities: communities.iter().map(|s| s.to_string()).collect() };
        prepare(m, 0).unwrap()
    }

    async fn shares(store: &SqliteStore) -> Vec<(String, String, i64, bool)> {
        sqlx::query_as::<_, (String, String, i64, Option<i64>)>(
            "SELECT s.annotation_id, c.slug, s.seq, s.removed_at FROM annotation_shares s
             JOIN communities c ON c.id = s.community_id ORDER BY c.slug, s.seq",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, c, seq, removed)| (a, c, seq, removed.is_some()))
        .collect()
    }

    /// Rows written before `share_slugs` existed (NULL there) are served from their
    /// stamped audience, and still tell a viewer only about the viewer's communities.
    #[tokio::test]
    async fn rows_without_share_slugs_reveal_only_the_viewers_communities() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite3")).await.unwrap();
        let alice = store.create_user("alice", "Alice", None, 0).await.unwrap();
        let bob = store.create_user("bob", "Bob", None, 0).await.unwrap();
        let team = store.create_community("team", "Team", 0).await.unwrap();
        let ops = store.create_community("ops", "Ops", 0).await.unwrap();
        store.set_membership(&alice.id, &team.id, Role::Owner, 0).await.unwrap();
        store.set_membership(&alice.id, &ops.id, Role::Member, 0).await.unwrap();
        store.set_membership(&bob.id, &team.id, Role::Member, 0).await.unwrap();
        let a = AnnotationId::new_v7(1, [1; 10]);
        store.apply_push(&alice, Some("d"), vec![upsert(1, a, 10, &["team", "ops"])], 100).await.unwrap();
        let audience = |served: &ServedAnnotation| -> Vec<String> {
            let value: serde_json::Value = serde_json::from_str(&served.annotation_json).unwrap();
            value["audience"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()).collect()
        };
        for old_row in [false, true] {
            if old_row {
                sqlx::query("UPDATE annotations SET share_slugs = NULL").execute(&store.pool).await.unwrap();
            }
            let bobs = store.page_annotations(&bob, "https://a.example/p").await.unwrap();
            assert_eq!(bobs[0].communities, ["team"], "old row: {old_row}");
            assert_eq!(audience(&bobs[0]), ["urn:cairn:community:team"], "old row: {old_row}");
            let feed = store.community_changes(&bob, "team", 0, 10).await.unwrap().unwrap();
            assert_eq!(audience(feed[0].annotation.as_ref().unwrap()), ["urn:cairn:community:team"]);
            let own = store.page_annotations(&alice, "https://a.example/p").await.unwrap();
            assert_eq!(own[0].communities, ["ops", "team"], "old row: {old_row}");
            assert_eq!(audience(&own[0]).len(), 2, "old row: {old_row}");
        }
    }

    /// The change feed's contract: every change a community must hear about gets
    /// the next number of that community, in the order the changes were committed.
    #[tokio::test]
    async fn each_change_takes_the_next_sequence_number_of_its_community() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite3")).await.unwrap();
        let alice = store.create_user("alice", "Alice", None, 0).await.unwrap();
        let team = store.create_community("team", "Team", 0).await.unwrap();
        let ops = store.create_community("ops", "Ops", 0).await.unwrap();
        store.set_membership(&alice.id, &team.id, Role::Owner, 0).await.unwrap();
        store.set_membership(&alice.id, &ops.id, Role::Member, 0).await.unwrap();
        let (a, b) = (AnnotationId::new_v7(1, [1; 10]), AnnotationId::new_v7(2, [2; 10]));
        let (a_urn, b_urn) = (a.to_urn(), b.to_urn());

        let batch = vec![upsert(1, a, 10, &["team", "ops"]), upsert(2, b, 10, &["team"])];
        store.apply_push(&alice, Some("d"), batch, 100).await.unwrap();
        assert_eq!(
            shares(&store).await,
            [
                (a_urn.clone(), "ops".into(), 1, false),
                (a_urn.clone(), "team".into(), 1, false),
                (b_urn.clone(), "team".into(), 2, false),
            ]
        );

        // Unshare a from ops, then delete b: both are changes the communities must see.
        let batch = vec![upsert(3, a, 20, &["team"]), PreparedMutation::Delete { seq: 4, id: b_urn.clone() }];
        store.apply_push(&alice, Some("d"), batch, 200).await.unwrap();
        assert_eq!(
            shares(&store).await,
            [
                (a_urn.clone(), "ops".into(), 2, true),
                (a_urn.clone(), "team".into(), 3, false),
                (b_urn.clone(), "team".into(), 4, false),
            ]
        );
        let deleted: (Option<String>, Option<i64>) =
            sqlx::query_as("SELECT body_json, deleted_at FROM annotations WHERE id = $1")
                .bind(&b_urn)
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(deleted, (None, Some(200)), "a tombstone keeps no content");
    }
}
