//! The PostgreSQL backend, for a server that outgrows one file: selected by a
//! `postgres://` URL (`--database` or `CAIRN_DATABASE_URL`).
//!
//! Transactions run at READ COMMITTED. Sequence numbers come from
//! `UPDATE communities SET next_seq = next_seq + 1 ... RETURNING`: the row lock
//! it takes is held until commit, so a second writer to the same community
//! waits and gets the next number only after the first has committed; commit
//! order equals sequence order, which is what the change feed's cursor needs.
//! A push first locks the counter rows of all the author's communities in id
//! order, so two pushes never take the same locks in opposite orders; a
//! deadlock that slips through anyway (e.g. an unshare from a community the
//! author has left) is retried by [`Store::apply_push`].

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Transaction};

/// Aggregates `c.slug` over a subquery's rows into one space-separated string.
const SLUG_LIST: &str = "string_agg(c.slug, ' ')";

pub struct PostgresStore {
    pool: PgPool,
    /// The same pool: PostgreSQL readers never wait for writers.
    read: PgPool,
}

impl PostgresStore {
    /// Connects to `url` and brings the schema up to date.
    pub async fn open(url: &str, max_connections: u32) -> Result<PostgresStore, StoreError> {
        let options: PgConnectOptions =
            url.parse().map_err(|e| StoreError::Backend(format!("the database URL is not valid: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot migrate the PostgreSQL database: {e}")))?;
        Ok(PostgresStore { read: pool.clone(), pool })
    }

    async fn close_pools(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }

    async fn lock_for_push(conn: &mut PgConnection, user_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "SELECT c.id FROM communities c JOIN memberships m ON m.community_id = c.id
             WHERE m.user_id = $1 ORDER BY c.id FOR UPDATE OF c",
        )
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

portable_store!(PostgresStore, PgConnection);

use crate::store::portable::{author_ids, feed_rows, serve_rows, unflatten, FeedSqlRow, FlatFeedRow, ServedRow, Viewer};
sqlx_hot_reads!(PostgresStore, PgConnection);
