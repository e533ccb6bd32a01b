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
}

impl PostgresStore {
    /// Connects to `url` and brings the schema up to date.
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
            .connect_lazy_with(options.options([("plan_cache_mode", "force_generic_plan")]));
        Ok(PostgresStore { read: pool.clone(), pool, hot })
    }

    async fn close_pools(&self) {
        self.pool.close().await;
        self.hot.close().await;
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }
}

portable_store!(PostgresStore, PgConnection);

use crate::store::portable::{feed_row, serve_rows, FeedSqlRow, ServedRow, Viewer};

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

    /// [`super::FeedSqlRowPg`]s of community slug `$2`'s feed after `$3`, at most `$4`
    /// rows: no row at all when `$1` is not a member, one row of NULLs (but the
    /// viewer's slugs) when the feed has nothing new. Membership and feed are read
    /// in one snapshot. The share rows are limited before annotations are joined:
    /// whatever plan the statistics of the moment suggest, a page reads at most
    /// `$4` annotations (a plan that joined first read every row after `$3`).
    pub const COMMUNITY_FEED: &str = concat!(
        "SELECT v.slugs, f.seq, f.annotation_id, f.removed_at, f.deleted_at,
                f.id, f.body_json, f.note_html, f.author_id, f.share_slugs, u.username, u.display_name
         FROM (SELECT c.id AS community_id, ",
        viewer_slugs_sql!(),
        " AS slugs
               FROM communities c JOIN memberships m ON m.community_id = c.id
               WHERE c.slug = $2 AND m.user_id = $1) v
         LEFT JOIN LATERAL (
               SELECT s.seq, s.annotation_id, s.removed_at, a.deleted_at,
                      a.id, a.body_json, a.note_html, a.author_id, a.share_slugs
               FROM (SELECT seq, annotation_id, removed_at FROM annotation_shares
                     WHERE community_id = v.community_id AND seq > $3 ORDER BY seq LIMIT $4) s
               JOIN annotations a ON a.id = s.annotation_id) f ON true
         LEFT JOIN users u ON u.id = f.author_id
         ORDER BY f.seq"
    );

    /// As [`COMMUNITY_FEED`] for the viewer's own feed after `$2`, at most `$3` rows
    /// (always at least the one row with the viewer's slugs).
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

/// A row of [`one_trip::COMMUNITY_FEED`] and [`one_trip::OWN_FEED`]: the viewer's
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

fn slug_list(slugs: Option<&str>) -> Vec<String> {
    slugs.unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(String::from).collect()
}

/// The author a row names, for [`Viewer::authors`].
fn author_entry(id: &str, username: String, display_name: String) -> (String, UserInfo) {
    (id.to_string(), UserInfo { id: id.to_string(), username, display_name })
}

/// Feed rows with the viewer they are served to.
fn feed_of(viewer: &User, rows: Vec<FeedSqlRowPg>) -> Result<Vec<FeedRow>, StoreError> {
    let slugs = slug_list(rows.first().and_then(|r| r.0.as_deref()));
    let mut authors = std::collections::HashMap::new();
    let mut feed: Vec<FeedSqlRow> = Vec::with_capacity(rows.len());
    for (_, seq, id, removed_at, deleted_at, a_id, body, note, author_id, share_slugs, username, display_name) in rows {
        // The one row of an empty feed.
        let (Some(seq), Some(id), Some(a_id), Some(author_id)) = (seq, id, a_id, author_id) else { continue };
        if let (Some(username), Some(display_name)) = (username, display_name) {
            if !authors.contains_key(&author_id) {
                authors.extend([author_entry(&author_id, username, display_name)]);
            }
        }
        feed.push((seq, id, removed_at, deleted_at, (a_id, body, note, author_id, share_slugs)));
    }
    let viewer = Viewer { id: &viewer.id, slugs: &slugs, authors };
    feed.into_iter().map(|row| feed_row(row, &viewer)).collect()
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
    ) -> Result<Option<std::collections::HashMap<String, i64>>, StoreError> {
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
        let slugs = slug_list(rows.first().and_then(|r| r.7.as_deref()));
        let mut authors = std::collections::HashMap::new();
        let mut served: Vec<ServedRow> = Vec::with_capacity(rows.len());
        for (id, body, note, author_id, share_slugs, username, display_name, _) in rows {
            if !authors.contains_key(&author_id) {
                authors.extend([author_entry(&author_id, username, display_name)]);
            }
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
        let rows: Vec<FeedSqlRowPg> = sqlx::query_as(one_trip::COMMUNITY_FEED)
            .bind(&viewer.id)
            .bind(slug)
            .bind(since)
            .bind(limit)
            .fetch_all(&self.hot)
            .await
            .map_err(backend)?;
        if rows.is_empty() {
            return Ok(None);
        }
        feed_of(viewer, rows).map(Some)
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
