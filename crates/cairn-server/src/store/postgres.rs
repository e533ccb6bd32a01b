//! The PostgreSQL backend, for a server that outgrows one file: selected by a
//! `postgres://` URL (`--database` or `CAIRN_DATABASE_URL`).
//!
//! Transactions run at READ COMMITTED. A push's share rows are written, with
//! their feed positions, inside COMMIT, by a deferred trigger (migration
//! `0004_shares_written_at_commit`, one batch row per community): it locks the
//! community's counter row until the commit is done, so a second writer to the
//! same community gets its numbers only after the first has committed; commit
//! order equals position order, which is what the change feed's cursor needs,
//! and the lock is held for no client round trip. The same transaction NOTIFYs
//! the new positions, so every server process on the database announces exactly
//! the committed changes. A push locks its author's row first (`store::apply`)
//! and writes its batches in community id order, so counters are locked in that
//! order; a conflict that slips through anyway (a deadlock, two authors racing
//! to create one id) is retried by [`Store::apply_push`].
//!
//! Here each statement is a round trip and a wake-up of a PostgreSQL process,
//! and under load those cost more than the statements: a push reads in one
//! statement, writes rows in multi-row statements, and sends nothing after
//! COMMIT; a sync pull or page lookup checks its token in the statement that
//! reads ([`Store::community_changes_for_token`]), one round trip in all.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::store::lent_connections::{lent, LentConnections};

/// Aggregates `c.slug` over a subquery's rows into one space-separated string.
const SLUG_LIST: &str = "string_agg(c.slug, ' ')";

pub struct PostgresStore {
    pool: PgPool,
    /// The same pool: PostgreSQL readers never wait for writers.
    read: PgPool,
    /// Connections for the hot reads ([`one_trip`], token checks, memberships),
    /// which plan their statements once (`plan_cache_mode = force_generic_plan`).
    /// PostgreSQL otherwise re-plans a prepared statement on every execution while
    /// it estimates a custom plan cheaper, and for these statements planning cost
    /// more than running them: under load it was half of PostgreSQL's time. The
    /// statements are written so that their generic plans are the right ones.
    /// Lent without sqlx's pool's pings (`lent_connections`).
    hot: LentConnections,
    /// Connections for pushes, the hot writes, lent the same way.
    pushes: LentConnections,
    /// What a community's feed shows at each position, for the feed reads.
    feed_cache: FeedCache,
    /// The annotations page lookups show, by version.
    page_cache: PageCache,
    /// What the database announced ([`relay`] sends, [`Store::changes_announced`] subscribes).
    announced: tokio::sync::broadcast::Sender<ChangeNotice>,
    /// The connection [`relay`] listens on, outside the other pools.
    listen: PgPool,
}

/// The channel committed feed positions are announced on, by the triggers of
/// migration `0004_shares_written_at_commit`: a [`ChangeNotice`] as JSON (a
/// hundred bytes or so, far below PostgreSQL's 8,000).
const CHANGES_CHANNEL: &str = "cairn_changes";

impl PostgresStore {
    /// Connections per pool (there are two: writes and cold reads, and the hot
    /// reads) for this machine: twice its cores. A statement keeps a PostgreSQL
    /// process busy only while it runs, so more connections than that only add
    /// processes competing for the same cores: on two cores, 4 a pool held the
    /// sync mix at 1,000 requests a second where 32 fell over at 800.
    pub fn default_connections() -> u32 {
        std::thread::available_parallelism().map_or(2, |n| n.get() as u32) * 2
    }

    /// Connects to `url` and brings the schema up to date; `max_connections` per pool.
    pub async fn open(url: &str, max_connections: u32) -> Result<PostgresStore, StoreError> {
        let options: PgConnectOptions =
            url.parse().map_err(|e| StoreError::Backend(format!("the database URL is not valid: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot migrate the PostgreSQL database: {e}")))?;
        let hot_options = options.clone().options([("plan_cache_mode", "force_generic_plan")]);
        let hot = LentConnections::new(hot_options, max_connections, Duration::from_secs(10));
        let pushes = LentConnections::new(options.clone(), max_connections, Duration::from_secs(10));
        let feed_cache = FeedCache::new();
        let listen = PgPoolOptions::new().max_connections(1).connect_lazy_with(options);
        // Listening before the store is handed out: no change committed after
        // `open` answers goes unheard.
        let listener = listen_for_changes(&listen)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot listen for changes on PostgreSQL: {e}")))?;
        let (announced, _) = tokio::sync::broadcast::channel(1024);
        tokio::spawn(relay(listener, listen.clone(), announced.clone()));
        Ok(PostgresStore {
            read: pool.clone(),
            pool,
            hot,
            pushes,
            feed_cache,
            page_cache: PageCache::new(),
            announced,
            listen,
        })
    }

    fn subscribe_to_announcements(&self) -> Option<tokio::sync::broadcast::Receiver<ChangeNotice>> {
        Some(self.announced.subscribe())
    }

    async fn close_pools(&self) {
        self.pool.close().await;
        self.hot.close().await;
        self.pushes.close().await;
        self.listen.close().await;
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }

    /// How a push's transaction begins: holding its author's row, so that their
    /// pushes queue here, before anything is read (`store::apply`). The lock is
    /// taken in the same round trip as BEGIN, which is sent as a simple query and
    /// so cannot take parameters: the id is a server-made UUID, refused otherwise.
    fn begin_push(author: &User) -> Result<String, StoreError> {
        if author.id.is_empty() || !author.id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(StoreError::Backend(format!("user id {:?} is not one this server made", author.id)));
        }
        Ok(format!("BEGIN; SELECT 1 FROM users WHERE id = '{}' FOR NO KEY UPDATE", author.id))
    }
}

/// Why a push on a lent connection did not commit.
enum PushFailed {
    /// BEGIN failed: nothing was done (the connection may have died while idle).
    Begin(sqlx::Error),
    /// After BEGIN; `reusable` when the transaction was rolled back and the
    /// connection is ready for another.
    Later { error: StoreError, reusable: bool },
}

/// A push in its own transaction on `conn`, of `mutations` (taken once BEGIN
/// succeeded, so that they are still there to retry with if it failed). Anything but a commit ends in an
/// explicit ROLLBACK before the connection may be lent again: a dropped
/// transaction only queues its ROLLBACK until the connection's next statement,
/// and its locks would be held meanwhile.
async fn push_on(
    conn: &mut PgConnection,
    begin: String,
    author: &User,
    device_id: Option<&str>,
    mutations: &mut Option<Vec<PreparedMutation>>,
    now_ms: i64,
) -> Result<PushOutcome, PushFailed> {
    let mut tx = sqlx::Connection::begin_with(conn, begin).await.map_err(PushFailed::Begin)?;
    let mutations = mutations.take().unwrap_or_default();
    match crate::store::apply::apply_push(&mut SqlxPushTx(&mut tx), author, device_id, mutations, now_ms).await {
        // The new positions are announced by the database as this commits.
        Ok(outcome) => match tx.commit().await {
            Ok(()) => Ok(outcome),
            Err(e) => Err(PushFailed::Later { error: backend(e), reusable: false }),
        },
        Err(error) => {
            let reusable = tx.rollback().await.is_ok();
            Err(PushFailed::Later { error, reusable })
        }
    }
}

portable_store!(PostgresStore, PgConnection);

use std::collections::HashMap;

use std::sync::Arc;

use crate::store::feed_cache::{ContentRow, FeedCache};
use crate::store::page_cache::{PageCache, PageContentRow};
use crate::store::portable::{feed_row, slugs_of, FeedSqlRow, Viewer};

/// The viewer's community slugs, one space-separated string: an uncorrelated
/// subquery, which PostgreSQL runs once per statement, not per row.
macro_rules! viewer_slugs_sql {
    () => {
        "(SELECT string_agg(vc.slug, ' ') FROM memberships vmm JOIN communities vc ON vc.id = vmm.community_id
          WHERE vmm.user_id = $1)"
    };
}

/// The hot reads as one statement each: on PostgreSQL every statement is a round
/// trip and a wake-up of a backend process, and under load these were most of its
/// work. Each answers the rows with their authors' names and the viewer's slugs.
mod one_trip {
    /// The viewer `me` of [`PAGE`] and [`FEED_POSITIONS`]: given by id (`$1`).
    macro_rules! me_by_id {
        () => {
            "(SELECT CAST($1 AS TEXT) AS id)"
        };
    }

    /// The viewer `me` of [`PAGE_FOR_TOKEN`] and [`FEED_POSITIONS_FOR_TOKEN`]: the
    /// holder of token hash `$1` if it is valid at time `$now` (as
    /// [`super::hot::USER_FOR_TOKEN`]), else nobody, and then the statement answers
    /// no row at all.
    macro_rules! me_by_token {
        ($now:literal) => {
            concat!(
                "(SELECT t.user_id AS id FROM tokens t
                  WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ",
                $now,
                "))"
            )
        };
    }

    /// [`super::PageSqlRow`]s: (id, author_seq) of the live annotations on page `$2`
    /// the viewer `me` may see, newest first, with the viewer's id and slugs; one
    /// row of NULLs but the viewer's when there are none. What each version shows
    /// comes from the page cache or [`PAGE_CONTENTS`].
    ///
    /// Visible: the viewer wrote it, or one of its live shares (`share_slugs`,
    /// written in the same statement as the stamped audience and in the same
    /// transaction as the share rows) is a community of the viewer's. A row
    /// filter, not the `EXISTS` over `annotation_shares` of [`VISIBLE`]: planned
    /// once for any page, PostgreSQL ran that subquery as a hash of every share.
    macro_rules! page_sql {
        ($me:expr) => {
            concat!(
                "SELECT me.id, s.slugs, p.id, p.author_seq
                 FROM ",
                $me,
                " me
                 CROSS JOIN LATERAL (
                       SELECT string_agg(vc.slug, ' ') AS slugs, COALESCE(array_agg(vc.slug), '{}') AS slug_array
                       FROM memberships vmm JOIN communities vc ON vc.id = vmm.community_id WHERE vmm.user_id = me.id) s
                 LEFT JOIN LATERAL (
                       SELECT a.id, a.author_seq, a.created_at FROM annotations a
                       WHERE a.page_key = $2 AND a.deleted_at IS NULL AND a.body_json IS NOT NULL
                         AND (a.author_id = me.id OR string_to_array(a.share_slugs, ' ') && s.slug_array)) p ON true
                 ORDER BY p.created_at DESC, p.id DESC"
            )
        };
    }
    pub const PAGE: &str = page_sql!(me_by_id!());
    pub const PAGE_FOR_TOKEN: &str = page_sql!(me_by_token!("$3"));

    /// [`super::PageContentRow`]s of the annotations `$1` as they are now.
    pub const PAGE_CONTENTS: &str = "SELECT a.id, a.author_seq, a.deleted_at, a.body_json, a.note_html, a.author_id,
                a.share_slugs, u.username, u.display_name
         FROM annotations a JOIN users u ON u.id = a.author_id WHERE a.id = ANY($1)";

    /// (viewer id, community id, viewer's slugs, seqs, annotation ids, removed_ats)
    /// of community slug `$2`'s feed after `$3`, at most `$4` positions, as the
    /// viewer `me` sees it: NULL community when `me` is not a member, NULL arrays
    /// when the feed has nothing new. One row, its positions in arrays: decoding a
    /// row costs the server more than its values. The arrays are in one order,
    /// whichever the aggregate met the rows in (an `ORDER BY` in each sorted the
    /// rows three times, half of the statement's time): sorted by the reader.
    /// Membership and positions are
    /// read in one snapshot; what the positions show comes from the feed cache or
    /// [`FEED_CONTENTS`].
    macro_rules! feed_positions_sql {
        ($me:expr) => {
            concat!(
                "SELECT me.id, v.community_id, v.slugs, f.seqs, f.ids, f.removed
                 FROM ",
                $me,
                " me
                 LEFT JOIN LATERAL (
                       SELECT c.id AS community_id,
                              (SELECT string_agg(vc.slug, ' ') FROM memberships vmm JOIN communities vc ON vc.id = vmm.community_id
                               WHERE vmm.user_id = me.id) AS slugs
                       FROM communities c JOIN memberships m ON m.community_id = c.id
                       WHERE c.slug = $2 AND m.user_id = me.id) v ON true
                 LEFT JOIN LATERAL (
                       SELECT array_agg(p.seq) AS seqs, array_agg(p.annotation_id) AS ids, array_agg(p.removed_at) AS removed
                       FROM (SELECT seq, annotation_id, removed_at FROM annotation_shares
                             WHERE community_id = v.community_id AND seq > $3 ORDER BY seq LIMIT $4) p) f ON true"
            )
        };
    }
    pub const FEED_POSITIONS: &str = feed_positions_sql!(me_by_id!());
    pub const FEED_POSITIONS_FOR_TOKEN: &str = feed_positions_sql!(me_by_token!("$5"));

    /// [`super::ContentRow`]s: the shares of annotations `$2` in community `$1` as
    /// they are now, with the annotations and their authors.
    pub const FEED_CONTENTS: &str = "SELECT s.seq, s.removed_at, a.id, a.deleted_at, a.body_json, a.note_html,
                a.author_id, a.share_slugs, u.username, u.display_name
         FROM annotation_shares s JOIN annotations a ON a.id = s.annotation_id JOIN users u ON u.id = a.author_id
         WHERE s.community_id = $1 AND s.annotation_id = ANY($2)";

    /// The viewer's own feed after `$2`, at most `$3` rows, each with the viewer's
    /// slugs and the author's names; one row of NULLs but the slugs when it is empty.
    pub const OWN_FEED: &str = concat!(
        "SELECT v.slugs, f.seq, f.annotation_id, f.removed_at, f.deleted_at,
                f.id, f.body_json, f.note_html, f.author_id, f.share_slugs, u.username, u.display_name
         FROM (SELECT ",
        viewer_slugs_sql!(),
        " AS slugs) v
         LEFT JOIN LATERAL (
               SELECT a.author_seq AS seq, a.id AS annotation_id, CAST(NULL AS BIGINT) AS removed_at, a.deleted_at,
                      a.id, a.body_json, a.note_html, a.author_id, a.share_slugs
               FROM annotations a WHERE a.author_id = $1 AND a.author_seq > $2
               ORDER BY a.author_seq LIMIT $3) f ON true
         LEFT JOIN users u ON u.id = f.author_id
         ORDER BY f.seq"
    );
}

/// A row of [`one_trip::PAGE`]: the viewer's id and slugs, then an annotation's
/// id and version (`author_seq`), NULL when the page has none.
type PageSqlRow = (String, Option<String>, Option<String>, Option<i64>);

/// The row of [`one_trip::FEED_POSITIONS`].
type PositionRow =
    (String, Option<String>, Option<String>, Option<Vec<i64>>, Option<Vec<String>>, Option<Vec<Option<i64>>>);

/// A row of [`one_trip::OWN_FEED`]: the viewer's
/// slugs, then a feed row and its author's names, all NULL when the feed is empty.
type FeedSqlRowPg = (
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Records the author a row names, for [`Viewer::authors`] (rows repeat their authors).
fn note_author(authors: &mut HashMap<String, UserInfo>, id: &str, names: impl FnOnce() -> (String, String)) {
    if !authors.contains_key(id) {
        let (username, display_name) = names();
        authors.insert(id.to_string(), UserInfo { id: id.to_string(), username, display_name });
    }
}

/// Feed rows with the viewer they are served to.
fn feed_of(viewer: &User, rows: Vec<FeedSqlRowPg>) -> Result<Vec<FeedRow>, StoreError> {
    let slugs = slugs_of(rows.first().and_then(|r| r.0.as_deref()));
    let mut authors = HashMap::new();
    let mut feed: Vec<FeedSqlRow> = Vec::with_capacity(rows.len());
    for (_, seq, id, removed_at, deleted_at, a_id, body, note, author_id, share_slugs, username, display_name) in rows {
        // The one row of an empty feed.
        let (Some(seq), Some(id), Some(a_id), Some(author_id)) = (seq, id, a_id, author_id) else { continue };
        if let (Some(username), Some(display_name)) = (username, display_name) {
            note_author(&mut authors, &author_id, || (username, display_name));
        }
        feed.push((seq, id, removed_at, deleted_at, (a_id, body, note, author_id, share_slugs)));
    }
    let viewer = Viewer { id: &viewer.id, slugs: &slugs, authors };
    feed.into_iter().map(|row| feed_row(row, &viewer)).collect()
}

async fn listen_for_changes(listen: &PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(listen).await?;
    listener.listen(CHANGES_CHANNEL).await?;
    Ok(listener)
}

/// Forwards what `listener` hears on [`CHANGES_CHANNEL`] to `to`, until the store
/// closes; listens anew on `listen` after a pause when the connection drops.
async fn relay(
    mut listener: sqlx::postgres::PgListener,
    listen: PgPool,
    to: tokio::sync::broadcast::Sender<ChangeNotice>,
) {
    loop {
        let heard: Result<std::convert::Infallible, sqlx::Error> = async {
            loop {
                let notification = listener.recv().await?;
                match serde_json::from_str::<ChangeNotice>(notification.payload()) {
                    Ok(notice) => {
                        let _ = to.send(notice);
                    }
                    Err(e) => tracing::warn!(error = %e, "ignored a malformed change notification"),
                }
            }
        }
        .await;
        let Err(e) = heard;
        loop {
            if listen.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "lost the database's change announcements; listening again");
            tokio::time::sleep(Duration::from_secs(1)).await;
            match listen_for_changes(&listen).await {
                Ok(again) => {
                    listener = again;
                    break;
                }
                Err(_) if listen.is_closed() => return,
                Err(_) => {}
            }
        }
    }
}

mod push_sql {
    /// [`crate::store::apply::PushTx::read_for_push`]: the author `$1`'s next
    /// personal-feed number; records `(author, device $2, seq)` for each of the
    /// seqs `$4` at `$3` and answers the new ones; the author's memberships, and
    /// the stored states and live shares of the annotation ids `$5` (each as JSON
    /// rows, NULL for none).
    pub const READ_FOR_PUSH: &str = "WITH applied AS (
             INSERT INTO applied_mutations (user_id, device_id, seq, applied_at)
             SELECT $1, $2, s, $3 FROM unnest(CAST($4 AS BIGINT[])) AS s
             ON CONFLICT DO NOTHING RETURNING seq)
         SELECT
           (SELECT next_seq FROM users WHERE id = $1),
           (SELECT COALESCE(array_agg(seq), '{}') FROM applied),
           (SELECT json_agg(json_build_array(c.id, c.slug, c.name, c.archived_at, m.role) ORDER BY c.slug)::text
              FROM memberships m JOIN communities c ON c.id = m.community_id WHERE m.user_id = $1),
           (SELECT json_agg(json_build_array(a.id, a.author_id, a.deleted_at, a.modified_at))::text
              FROM annotations a WHERE a.id = ANY(CAST($5 AS TEXT[]))),
           (SELECT json_agg(json_build_array(s.annotation_id, s.community_id, c.slug) ORDER BY s.annotation_id, s.community_id)::text
              FROM annotation_shares s JOIN communities c ON c.id = s.community_id
              WHERE s.annotation_id = ANY(CAST($5 AS TEXT[])) AND s.removed_at IS NULL)";
}

/// A push's database operations on a sqlx transaction.
struct SqlxPushTx<'c>(&'c mut PgConnection);

#[async_trait]
impl crate::store::apply::PushTx for SqlxPushTx<'_> {
    async fn memberships(&mut self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let rows: Vec<(String, String, String, Option<i64>, String)> =
            sqlx::query_as(hot::MEMBERSHIPS).bind(user_id).fetch_all(&mut *self.0).await.map_err(backend)?;
        rows.into_iter().map(membership_of).collect()
    }

    async fn integers(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<i64>, StoreError> {
        bind_all!(sqlx::query_scalar(sql), args).fetch_all(&mut *self.0).await.map_err(backend)
    }

    async fn stored_states(
        &mut self,
        sql: &str,
        ids: &[&str],
    ) -> Result<Vec<(String, String, Option<i64>, i64)>, StoreError> {
        let mut query = sqlx::query_as(sql);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(&mut *self.0).await.map_err(backend)
    }

    async fn live_shares(&mut self, sql: &str, ids: &[&str]) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut query = sqlx::query_as(sql);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(&mut *self.0).await.map_err(backend)
    }

    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<(), StoreError> {
        bind_all!(sqlx::query(sql), args).execute(&mut *self.0).await.map_err(backend)?;
        Ok(())
    }

    fn locks_rows(&self) -> bool {
        true
    }

    async fn thread_rows(
        &mut self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<crate::store::replies::ThreadRow>, StoreError> {
        bind_all!(sqlx::query_as(sql), args).fetch_all(&mut *self.0).await.map_err(backend)
    }

    async fn communities(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Community>, StoreError> {
        let rows: Vec<(String, String, String, Option<i64>)> =
            bind_all!(sqlx::query_as(sql), args).fetch_all(&mut *self.0).await.map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(id, slug, name, archived_at)| Community { id, slug, name, archived: archived_at.is_some() })
            .collect())
    }

    /// All of phase 1 in one statement (each statement is a round trip). Its
    /// snapshot is taken after the author's row was locked by the statement
    /// before, so it sees every push of theirs that committed meanwhile.
    async fn read_for_push(
        &mut self,
        author_id: &str,
        device_id: Option<&str>,
        seqs: &[i64],
        ids: &[&str],
        now_ms: i64,
    ) -> Result<crate::store::apply::PushReads, StoreError> {
        type Reads = (Option<i64>, Vec<i64>, Option<String>, Option<String>, Option<String>);
        let recorded: &[i64] = if device_id.is_some() { seqs } else { &[] };
        let (author_next, new, memberships, stored, shares): Reads = sqlx::query_as(push_sql::READ_FOR_PUSH)
            .bind(author_id)
            .bind(device_id.unwrap_or(""))
            .bind(now_ms)
            .bind(recorded)
            .bind(ids)
            .fetch_one(&mut *self.0)
            .await
            .map_err(backend)?;
        fn rows<T: serde::de::DeserializeOwned>(json: Option<String>) -> Result<Vec<T>, StoreError> {
            json.map_or(Ok(Vec::new()), |json| {
                serde_json::from_str(&json).map_err(|e| StoreError::Backend(format!("unreadable push reads: {e}")))
            })
        }
        let memberships = rows::<(String, String, String, Option<i64>, String)>(memberships)?
            .into_iter()
            .map(membership_of)
            .collect::<Result<Vec<_>, _>>()?;
        let first_times = match device_id {
            None => vec![true; seqs.len()],
            Some(_) => crate::store::apply::first_times(seqs, new),
        };
        let author_next =
            author_next.ok_or_else(|| StoreError::Backend(format!("no counter row for user {author_id}")))?;
        Ok(crate::store::apply::PushReads {
            author_next,
            memberships,
            first_times,
            stored: rows(stored)?,
            shares: rows(shares)?,
        })
    }

    /// Writes the author's feed counter and hands the share rows to the
    /// database, which writes them with their positions as the push commits
    /// (migration `0004_shares_written_at_commit`): one `share_batches` row per
    /// community, in community id order; one statement in all.
    async fn finish_push(
        &mut self,
        author_id: &str,
        author_next: Option<i64>,
        batches: &crate::store::apply::ShareBatches,
    ) -> Result<Option<HashMap<String, i64>>, StoreError> {
        // $1 is the author; $2 their next feed number if it moved; then the batches.
        let counter = author_next.map(|_| "UPDATE users SET next_seq = $2 WHERE id = $1");
        let first = if author_next.is_some() { 3 } else { 2 };
        let sql = match (counter, batches.is_empty()) {
            (None, true) => return Ok(None),
            (Some(counter), true) => counter.to_string(),
            (counter, false) => {
                let values: Vec<String> = (0..batches.len())
                    .map(|i| first + 4 * i)
                    .map(|p| format!("(${}, ${}, $1, ${}, ${})", p, p + 1, p + 2, p + 3))
                    .collect();
                let insert = format!(
                    "INSERT INTO share_batches (community_id, slug, author_id, annotation_ids, removed_ats) VALUES {}",
                    values.join(", ")
                );
                match counter {
                    Some(counter) => format!("WITH counter AS ({counter}) {insert}"),
                    None => insert,
                }
            }
        };
        let mut query = sqlx::query(&sql).bind(author_id);
        if let Some(next) = author_next {
            query = query.bind(next);
        }
        for (community_id, batch) in batches {
            let ids: Vec<&str> = batch.rows.iter().map(|(id, _)| id.as_str()).collect();
            let removed: Vec<Option<i64>> = batch.rows.iter().map(|(_, removed_at)| *removed_at).collect();
            query = query.bind(community_id).bind(&batch.slug).bind(ids).bind(removed);
        }
        query.execute(&mut *self.0).await.map_err(backend)?;
        Ok(None)
    }

    async fn write_rows(
        &mut self,
        statement: &crate::store::apply::RowsStatement,
        rows: &[&[Arg]],
    ) -> Result<u64, StoreError> {
        let sql = statement.sql(rows.len());
        let done = bind_all!(sqlx::query(&sql), rows.iter().copied().flatten())
            .execute(&mut *self.0)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

impl PostgresStore {
    async fn try_apply_push(
        &self,
        author: &User,
        device_id: Option<&str>,
        mutations: Vec<PreparedMutation>,
        now_ms: i64,
    ) -> Result<PushOutcome, StoreError> {
        let begin = PostgresStore::begin_push(author)?;
        let mut mutations = Some(mutations);
        let mut again = true;
        loop {
            let mut lent = self.pushes.lend().await.map_err(backend)?;
            match push_on(lent.connection(), begin.clone(), author, device_id, &mut mutations, now_ms).await {
                Ok(outcome) => {
                    lent.reusable(true);
                    return Ok(outcome);
                }
                Err(PushFailed::Begin(e)) if again && lent.died_idle(&e) => {
                    tracing::info!(error = %e, "a PostgreSQL connection had closed while idle; pushing on a new one");
                    again = false;
                }
                Err(PushFailed::Begin(e)) => return Err(backend(e)),
                Err(PushFailed::Later { error, reusable }) => {
                    lent.reusable(reusable);
                    return Err(error);
                }
            }
        }
    }

    async fn hot_user_for_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>, StoreError> {
        let row: Option<(String, String, String)> = lent!(self.hot, |c| sqlx::query_as(hot::USER_FOR_TOKEN)
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(c)
            .await)
        .map_err(backend)?;
        Ok(row.map(|(id, username, display_name)| User { id, username, display_name }))
    }

    async fn hot_memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let rows: Vec<(String, String, String, Option<i64>, String)> =
            lent!(self.hot, |c| sqlx::query_as(hot::MEMBERSHIPS).bind(user_id).fetch_all(c).await).map_err(backend)?;
        rows.into_iter().map(membership_of).collect()
    }

    async fn hot_page_annotations(
        &self,
        viewer: &User,
        page_key: &str,
    ) -> Result<Vec<Arc<ServedAnnotation>>, StoreError> {
        let rows: Vec<PageSqlRow> =
            lent!(self.hot, |c| sqlx::query_as(one_trip::PAGE).bind(&viewer.id).bind(page_key).fetch_all(c).await)
                .map_err(backend)?;
        self.page_of(rows).await.map(|page| page.unwrap_or_default())
    }

    async fn hot_page_annotations_for_token(
        &self,
        token_hash: &str,
        now_ms: i64,
        page_key: &str,
    ) -> Result<WithToken<Vec<Arc<ServedAnnotation>>>, StoreError> {
        let rows: Vec<PageSqlRow> = lent!(self.hot, |c| sqlx::query_as(one_trip::PAGE_FOR_TOKEN)
            .bind(token_hash)
            .bind(page_key)
            .bind(now_ms)
            .fetch_all(c)
            .await)
        .map_err(backend)?;
        Ok(match self.page_of(rows).await? {
            None => WithToken::Invalid,
            Some(page) => WithToken::Valid(page),
        })
    }

    async fn hot_community_changes(
        &self,
        viewer: &User,
        slug: &str,
        since: i64,
        limit: i64,
    ) -> Result<Option<Vec<FeedRow>>, StoreError> {
        let positions: Option<PositionRow> = lent!(self.hot, |c| sqlx::query_as(one_trip::FEED_POSITIONS)
            .bind(&viewer.id)
            .bind(slug)
            .bind(since)
            .bind(limit)
            .fetch_optional(c)
            .await)
        .map_err(backend)?;
        Ok(self.feed_at(positions).await?.unwrap_or(None))
    }

    async fn hot_community_changes_for_token(
        &self,
        token_hash: &str,
        now_ms: i64,
        slug: &str,
        since: i64,
        limit: i64,
    ) -> Result<WithToken<Option<Vec<FeedRow>>>, StoreError> {
        let positions: Option<PositionRow> = lent!(self.hot, |c| sqlx::query_as(one_trip::FEED_POSITIONS_FOR_TOKEN)
            .bind(token_hash)
            .bind(slug)
            .bind(since)
            .bind(limit)
            .bind(now_ms)
            .fetch_optional(c)
            .await)
        .map_err(backend)?;
        Ok(match self.feed_at(positions).await? {
            None => WithToken::Invalid,
            Some(feed) => WithToken::Valid(feed),
        })
    }

    /// A page's annotations from [`one_trip::PAGE`] rows: `None` when there is no
    /// viewer (no row at all).
    async fn page_of(&self, rows: Vec<PageSqlRow>) -> Result<Option<Vec<Arc<ServedAnnotation>>>, StoreError> {
        let Some((viewer_id, slugs, ..)) = rows.first() else { return Ok(None) };
        let (viewer_id, slugs) = (viewer_id.clone(), slugs_of(slugs.as_deref()));
        let mut lookup = self.page_cache.lookup();
        for (_, _, id, version) in rows {
            // The one row of a page without annotations has no id.
            if let Some(id) = id {
                lookup.annotation(id, version);
            }
        }
        let missing = lookup.missing();
        let now: Vec<PageContentRow> = if missing.is_empty() {
            Vec::new()
        } else {
            lent!(self.hot, |c| sqlx::query_as(one_trip::PAGE_CONTENTS).bind(&missing).fetch_all(c).await)
                .map_err(backend)?
        };
        lookup.finish(now, &Viewer { id: &viewer_id, slugs: &slugs, authors: HashMap::new() }).map(Some)
    }

    /// The feed rows at `positions` ([`one_trip::FEED_POSITIONS`]): `None` when
    /// there is no viewer (no row at all), `Some(None)` when the viewer is not a member.
    async fn feed_at(&self, positions: Option<PositionRow>) -> Result<Option<Option<Vec<FeedRow>>>, StoreError> {
        let Some((viewer_id, community_id, slugs, seqs, ids, removed)) = positions else { return Ok(None) };
        let Some(community_id) = community_id else { return Ok(Some(None)) };
        let slugs = slugs_of(slugs.as_deref());
        let mut lookup = self.feed_cache.lookup(community_id, seqs.as_ref().map_or(0, Vec::len));
        match (seqs, ids, removed) {
            (Some(seqs), Some(ids), Some(removed)) if seqs.len() == ids.len() && ids.len() == removed.len() => {
                for ((seq, id), removed_at) in seqs.into_iter().zip(&ids).zip(removed) {
                    lookup.position(seq, id, removed_at);
                }
            }
            (None, None, None) => {}
            _ => return Err(StoreError::Backend("a feed's positions came back in arrays of different lengths".into())),
        }
        let missing = lookup.missing();
        let now: Vec<ContentRow> = if missing.is_empty() {
            Vec::new()
        } else {
            lent!(self.hot, |c| sqlx::query_as(one_trip::FEED_CONTENTS)
                .bind(lookup.community_id())
                .bind(&missing)
                .fetch_all(c)
                .await)
            .map_err(backend)?
        };
        let viewer = Viewer { id: &viewer_id, slugs: &slugs, authors: HashMap::new() };
        Ok(Some(Some(lookup.finish(now, &viewer)?)))
    }

    async fn hot_own_changes(&self, viewer: &User, since: i64, limit: i64) -> Result<Vec<FeedRow>, StoreError> {
        let rows: Vec<FeedSqlRowPg> = lent!(self.hot, |c| sqlx::query_as(one_trip::OWN_FEED)
            .bind(&viewer.id)
            .bind(since)
            .bind(limit)
            .fetch_all(c)
            .await)
        .map_err(backend)?;
        feed_of(viewer, rows)
    }
}
