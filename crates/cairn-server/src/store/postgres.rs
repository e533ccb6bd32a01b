//! The PostgreSQL backend, for a server that outgrows one file: selected by a
//! `postgres://` URL (`--database` or `CAIRN_DATABASE_URL`).
//!
//! Transactions run at READ COMMITTED. A community's feed positions are handed
//! out inside COMMIT by a deferred trigger (migration `0003_positions_at_commit`):
//! it locks the community's counter row until the commit is done, so a second
//! writer to the same community gets its numbers only after the first has
//! committed; commit order equals position order, which is what the change
//! feed's cursor needs, and the lock is held for no client round trip. A push
//! locks its author's row first (`store::apply`) and writes its share rows in
//! community id order, so counters are locked in that order; a conflict that
//! slips through anyway (a deadlock, two authors racing to create one id) is
//! retried by [`Store::apply_push`]. A push's rows go in multi-row statements:
//! here each statement is a round trip.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Transaction};

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
    hot: PgPool,
    /// What a community's feed shows at each position, for the feed reads.
    feed_cache: FeedCache,
    /// This store's name in the change notifications it sends, so that it can
    /// ignore its own (its server announced them already).
    process: String,
    /// What other processes committed ([`relay`] sends, [`Store::changes_from_elsewhere`] subscribes).
    elsewhere: tokio::sync::broadcast::Sender<ChangeNotice>,
    /// Whether [`relay`] runs.
    listening: std::sync::Once,
    /// The connection [`relay`] listens on, outside the other pools.
    listen: PgPool,
}

/// The channel pushes announce their committed feed positions on, for the other
/// server processes on this database.
const CHANGES_CHANNEL: &str = "cairn_changes";

/// A notification on [`CHANGES_CHANNEL`] (its payload, as JSON; at most a few
/// hundred bytes, far below PostgreSQL's 8,000).
#[derive(serde::Serialize, serde::Deserialize)]
struct ChangesElsewhere {
    from: String,
    notices: Vec<ChangeNotice>,
}

/// Bytes of annotations the feed cache keeps (about 40,000 annotations of 1 KiB).
const FEED_CACHE_BYTES: u64 = 48 << 20;

/// A feed position's content, which never changes: every write of an annotation
/// moves each of its live shares to a new position (`store::apply`), so while a
/// share is live at a position, the annotation is as that write left it; and a
/// tombstone's position stays a tombstone. A device pulling a feed reads what
/// every other member's devices read too, and serving those rows from memory
/// instead of joining `annotations` for each was most of a pull's cost in
/// PostgreSQL. Positions of removed shares are never cached (what they show
/// depends on later deletes).
type FeedCache = quick_cache::sync::Cache<(String, i64), std::sync::Arc<CachedPosition>, PositionWeight>;

/// A live share's annotation as its position shows it: `None` for a tombstone.
struct CachedPosition {
    annotation_id: String,
    content: Option<CachedContent>,
}

struct CachedContent {
    body_json: String,
    note_html: Option<String>,
    share_slugs: Option<String>,
    /// Accounts are never renamed, so the author's names can be kept with the content.
    author: UserInfo,
}

#[derive(Clone)]
struct PositionWeight;

impl quick_cache::Weighter<(String, i64), std::sync::Arc<CachedPosition>> for PositionWeight {
    fn weight(&self, _: &(String, i64), position: &std::sync::Arc<CachedPosition>) -> u64 {
        let content = position.content.as_ref().map_or(0, |c| {
            c.body_json.len() + c.note_html.as_ref().map_or(0, String::len) + c.share_slugs.as_ref().map_or(0, String::len)
        });
        (content + 200) as u64
    }
}

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
        let hot = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options.clone().options([("plan_cache_mode", "force_generic_plan")]));
        let feed_cache = FeedCache::with_weighter(40_000, FEED_CACHE_BYTES, PositionWeight);
        let listen = PgPoolOptions::new().max_connections(1).connect_lazy_with(options);
        let (elsewhere, _) = tokio::sync::broadcast::channel(1024);
        Ok(PostgresStore {
            read: pool.clone(),
            pool,
            hot,
            feed_cache,
            process: new_id(),
            elsewhere,
            listening: std::sync::Once::new(),
            listen,
        })
    }

    fn changes_elsewhere(&self) -> Option<tokio::sync::broadcast::Receiver<ChangeNotice>> {
        let receiver = self.elsewhere.subscribe();
        // Listening needs a runtime to run on; without one, nothing comes.
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (listen, process, to) = (self.listen.clone(), self.process.clone(), self.elsewhere.clone());
        self.listening.call_once(|| {
            runtime.spawn(relay(listen, process, to));
        });
        Some(receiver)
    }

    async fn close_pools(&self) {
        self.pool.close().await;
        self.hot.close().await;
        self.listen.close().await;
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }
}

portable_store!(PostgresStore, PgConnection);

use std::collections::HashMap;

use crate::store::portable::{feed_row, serve_rows, slugs_of, FeedSqlRow, ServedRow, Viewer};

/// The viewer's community slugs, one space-separated string: an uncorrelated
/// subquery, which PostgreSQL runs once per statement, not per row.
macro_rules! viewer_slugs_sql {
    () => {
        "(SELECT string_agg(vc.slug, ' ') FROM memberships vmm JOIN communities vc ON vc.id = vmm.community_id
          WHERE vmm.user_id = $1)"
    };
}

/// The viewer's community slugs as an array, once per statement.
macro_rules! viewer_slug_array_sql {
    () => {
        "(SELECT COALESCE(array_agg(vc.slug), '{}') FROM memberships vmm JOIN communities vc ON vc.id = vmm.community_id
          WHERE vmm.user_id = $1)"
    };
}

/// The hot reads as one statement each: on PostgreSQL every statement is a round
/// trip and a wake-up of a backend process, and under load these were most of its
/// work. Each answers the rows with their authors' names and the viewer's slugs.
mod one_trip {
    /// [`super::PageSqlRow`]s of the live annotations on page `$2` the viewer `$1` may see, newest first.
    ///
    /// Visible: the viewer wrote it, or one of its live shares (`share_slugs`,
    /// written in the same statement as the stamped audience and in the same
    /// transaction as the share rows) is a community of the viewer's. A row
    /// filter, not the `EXISTS` over `annotation_shares` of [`VISIBLE`]: planned
    /// once for any page, PostgreSQL ran that subquery as a hash of every share.
    pub const PAGE: &str = concat!(
        "SELECT a.id, a.body_json, a.note_html, a.author_id, a.share_slugs, u.username, u.display_name, ",
        viewer_slugs_sql!(),
        " FROM annotations a JOIN users u ON u.id = a.author_id
         WHERE a.page_key = $2 AND a.deleted_at IS NULL AND a.body_json IS NOT NULL
           AND (a.author_id = $1 OR string_to_array(a.share_slugs, ' ') && ",
        viewer_slug_array_sql!(),
        ") ORDER BY a.created_at DESC, a.id DESC"
    );

    /// (community id, viewer's slugs, seq, annotation id, removed_at) of community slug
    /// `$2`'s feed after `$3`, at most `$4` rows: no row at all when `$1` is not a
    /// member, one row with NULL positions when the feed has nothing new.
    /// Membership and positions are read in one snapshot; what the positions show
    /// comes from the feed cache or [`FEED_CONTENTS`].
    pub const FEED_POSITIONS: &str = concat!(
        "SELECT v.community_id, v.slugs, f.seq, f.annotation_id, f.removed_at
         FROM (SELECT c.id AS community_id, ",
        viewer_slugs_sql!(),
        " AS slugs
               FROM communities c JOIN memberships m ON m.community_id = c.id
               WHERE c.slug = $2 AND m.user_id = $1) v
         LEFT JOIN LATERAL (
               SELECT seq, annotation_id, removed_at FROM annotation_shares
               WHERE community_id = v.community_id AND seq > $3 ORDER BY seq LIMIT $4) f ON true
         ORDER BY f.seq"
    );

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

/// A row of [`one_trip::PAGE`]: a [`ServedRow`], its author's username and display name, the viewer's slugs.
type PageSqlRow = (String, Option<String>, Option<String>, String, Option<String>, String, String, Option<String>);

/// A row of [`one_trip::FEED_POSITIONS`].
type PositionRow = (String, Option<String>, Option<i64>, Option<String>, Option<i64>);

/// A row of [`one_trip::FEED_CONTENTS`].
type ContentRow =
    (i64, Option<i64>, String, Option<i64>, Option<String>, Option<String>, String, Option<String>, String, String);

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

/// A feed cache key borrowed from a community id, so that looking a position up
/// allocates nothing; hashes and compares as the owned `(String, i64)`.
#[derive(Hash)]
struct PositionKey<'a>(&'a str, i64);

impl quick_cache::Equivalent<(String, i64)> for PositionKey<'_> {
    fn equivalent(&self, key: &(String, i64)) -> bool {
        self.0 == key.0 && self.1 == key.1
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

/// LISTENs on [`CHANGES_CHANNEL`] (on `listen`, its own connection) and forwards
/// the notices of processes other than `process` to `to`, until the store closes;
/// reconnects after a pause when the connection drops.
async fn relay(listen: PgPool, process: String, to: tokio::sync::broadcast::Sender<ChangeNotice>) {
    while !listen.is_closed() {
        let listening = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&listen).await?;
            listener.listen(CHANGES_CHANNEL).await?;
            loop {
                let notification = listener.recv().await?;
                match serde_json::from_str::<ChangesElsewhere>(notification.payload()) {
                    Ok(changes) if changes.from != process => {
                        for notice in changes.notices {
                            let _ = to.send(notice);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "ignored a malformed change notification"),
                }
            }
        };
        let result: Result<(), sqlx::Error> = listening.await;
        if let Err(e) = result {
            if listen.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "lost the change notifications of other server processes; reconnecting");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
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

    async fn stored_states(&mut self, sql: &str, ids: &[&str]) -> Result<Vec<(String, String, Option<i64>, i64)>, StoreError> {
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

    /// Share rows are numbered as the push commits (migration `0003_positions_at_commit`).
    async fn reserve_positions(
        &mut self,
        _taken: &std::collections::BTreeMap<String, i64>,
    ) -> Result<Option<HashMap<String, i64>>, StoreError> {
        Ok(None)
    }

    async fn write_rows(&mut self, statement: &crate::store::apply::RowsStatement, rows: &[&[Arg]]) -> Result<u64, StoreError> {
        let sql = statement.sql(rows.len());
        let done =
            bind_all!(sqlx::query(&sql), rows.iter().copied().flatten()).execute(&mut *self.0).await.map_err(backend)?;
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
        let mut tx = self.begin_write().await?;
        let applied = crate::store::apply::apply_push(&mut SqlxPushTx(&mut tx), author, device_id, mutations, now_ms).await?;
        tx.commit().await.map_err(backend)?;
        let mut outcome = applied.outcome;
        if !applied.unnumbered.is_empty() {
            // The feeds' positions now, which include this push's: listeners pull up to there.
            let positions: Vec<(String, i64)> = sqlx::query_as(
                "SELECT c.slug, p.next_seq - 1 FROM community_positions p JOIN communities c ON c.id = p.community_id
                 WHERE p.community_id = ANY($1)",
            )
            .bind(&applied.unnumbered)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?;
            for notice in &mut outcome.notices {
                if let Some(slug) = &notice.community {
                    if let Some((_, position)) = positions.iter().find(|(s, _)| s == slug) {
                        notice.seq = *position;
                    }
                }
            }
        }
        if !outcome.notices.is_empty() {
            let payload = serde_json::to_string(&ChangesElsewhere { from: self.process.clone(), notices: outcome.notices.clone() })
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            // Committed already: a failure to tell other processes costs their
            // listeners a prompt event, not data (clients pull), so it is only logged.
            if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANGES_CHANNEL).bind(&payload).execute(&self.read).await {
                tracing::warn!(error = %e, "could not announce changes to other server processes");
            }
        }
        Ok(outcome)
    }

    async fn hot_user_for_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>, StoreError> {
        let row: Option<(String, String, String)> = sqlx::query_as(hot::USER_FOR_TOKEN)
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(&self.hot)
            .await
            .map_err(backend)?;
        Ok(row.map(|(id, username, display_name)| User { id, username, display_name }))
    }

    async fn hot_memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let rows: Vec<(String, String, String, Option<i64>, String)> =
            sqlx::query_as(hot::MEMBERSHIPS).bind(user_id).fetch_all(&self.hot).await.map_err(backend)?;
        rows.into_iter().map(membership_of).collect()
    }

    async fn hot_page_annotations(&self, viewer: &User, page_key: &str) -> Result<Vec<ServedAnnotation>, StoreError> {
        let rows: Vec<PageSqlRow> =
            sqlx::query_as(one_trip::PAGE).bind(&viewer.id).bind(page_key).fetch_all(&self.hot).await.map_err(backend)?;
        let slugs = slugs_of(rows.first().and_then(|r| r.7.as_deref()));
        let mut authors = HashMap::new();
        let mut served: Vec<ServedRow> = Vec::with_capacity(rows.len());
        for (id, body, note, author_id, share_slugs, username, display_name, _) in rows {
            note_author(&mut authors, &author_id, || (username, display_name));
            served.push((id, body, note, author_id, share_slugs));
        }
        serve_rows(served, &Viewer { id: &viewer.id, slugs: &slugs, authors })
    }

    async fn hot_community_changes(
        &self,
        viewer: &User,
        slug: &str,
        since: i64,
        limit: i64,
    ) -> Result<Option<Vec<FeedRow>>, StoreError> {
        let positions: Vec<PositionRow> = sqlx::query_as(one_trip::FEED_POSITIONS)
            .bind(&viewer.id)
            .bind(slug)
            .bind(since)
            .bind(limit)
            .fetch_all(&self.hot)
            .await
            .map_err(backend)?;
        let Some((community_id, slugs, ..)) = positions.first() else { return Ok(None) };
        let (community_id, slugs) = (community_id.clone(), slugs_of(slugs.as_deref()));
        let positions: Vec<(i64, String, Option<i64>)> = positions
            .into_iter()
            .filter_map(|(_, _, seq, id, removed_at)| Some((seq?, id?, removed_at)))
            .collect();
        let cached: Vec<Option<std::sync::Arc<CachedPosition>>> = positions
            .iter()
            .map(|(seq, _, removed_at)| match removed_at {
                None => self.feed_cache.get(&PositionKey(&community_id, *seq)),
                Some(_) => None,
            })
            .collect();
        // What is not cached is read as it is now. A row written since the
        // positions were read shows its newer state (the feed has it again further
        // on) and is not cached: only a position's own content is.
        let missing: Vec<&str> =
            positions.iter().zip(&cached).filter(|(_, c)| c.is_none()).map(|((_, id, _), _)| id.as_str()).collect();
        let mut now: HashMap<String, ContentRow> = HashMap::new();
        if !missing.is_empty() {
            let rows: Vec<ContentRow> = sqlx::query_as(one_trip::FEED_CONTENTS)
                .bind(&community_id)
                .bind(&missing)
                .fetch_all(&self.hot)
                .await
                .map_err(backend)?;
            now.extend(rows.into_iter().map(|row| (row.2.clone(), row)));
        }
        let unshared = |seq: i64, id: String| -> FeedSqlRow { (seq, id.clone(), Some(seq), None, (id, None, None, String::new(), None)) };
        let mut authors = HashMap::new();
        let mut feed: Vec<FeedSqlRow> = Vec::with_capacity(positions.len());
        for ((seq, id, removed_at), cached) in positions.into_iter().zip(cached) {
            let position = match cached {
                Some(position) => position,
                None => {
                    // Gone (a community's shares go only with the community): nothing to show.
                    let Some((now_seq, now_removed, _, deleted_at, body, note, author_id, share_slugs, username, display_name)) =
                        now.remove(&id)
                    else {
                        feed.push(unshared(seq, id));
                        continue;
                    };
                    let content = match (deleted_at, body) {
                        (Some(_), _) => None,
                        (None, Some(body_json)) if now_removed.is_none() => Some(CachedContent {
                            body_json,
                            note_html: note,
                            share_slugs,
                            author: UserInfo { id: author_id, username, display_name },
                        }),
                        // Unshared from this community (or no content): nothing to show.
                        (None, _) => {
                            feed.push(unshared(seq, id));
                            continue;
                        }
                    };
                    let position = std::sync::Arc::new(CachedPosition { annotation_id: id.clone(), content });
                    if now_seq == seq && now_removed.is_none() && removed_at.is_none() {
                        self.feed_cache.insert((community_id.clone(), seq), position.clone());
                    }
                    position
                }
            };
            feed.push(match &position.content {
                None => (seq, id.clone(), None, Some(seq), (id, None, None, String::new(), None)),
                Some(c) => {
                    note_author(&mut authors, &c.author.id, || (c.author.username.clone(), c.author.display_name.clone()));
                    let served = (position.annotation_id.clone(), Some(c.body_json.clone()), c.note_html.clone(), c.author.id.clone(), c.share_slugs.clone());
                    (seq, id, None, None, served)
                }
            });
        }
        let viewer = Viewer { id: &viewer.id, slugs: &slugs, authors };
        feed.into_iter().map(|row| feed_row(row, &viewer)).collect::<Result<Vec<_>, _>>().map(Some)
    }

    async fn hot_own_changes(&self, viewer: &User, since: i64, limit: i64) -> Result<Vec<FeedRow>, StoreError> {
        let rows: Vec<FeedSqlRowPg> = sqlx::query_as(one_trip::OWN_FEED)
            .bind(&viewer.id)
            .bind(since)
            .bind(limit)
            .fetch_all(&self.hot)
            .await
            .map_err(backend)?;
        feed_of(viewer, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup by borrowed key finds what was stored under the owned one
    /// (were their hashes to differ, every pull would silently miss the cache).
    #[test]
    fn feed_cache_lookups_by_borrowed_key_find_owned_keys() {
        let cache = FeedCache::with_weighter(10, 1 << 20, PositionWeight);
        let position = std::sync::Arc::new(CachedPosition { annotation_id: "a".into(), content: None });
        cache.insert(("community".to_string(), 7), position);
        assert!(cache.get(&PositionKey("community", 7)).is_some());
        assert!(cache.get(&PositionKey("community", 8)).is_none());
        assert!(cache.get(&PositionKey("other", 7)).is_none());
    }
}
