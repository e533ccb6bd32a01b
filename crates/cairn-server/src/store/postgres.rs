//! The PostgreSQL backend, for a server that outgrows one file: selected by a
//! `postgres://` URL (`--database` or `CAIRN_DATABASE_URL`).
//!
//! Transactions run at READ COMMITTED. Sequence numbers come from
//! `UPDATE communities SET next_seq = next_seq + n ... RETURNING`: the row lock
//! it takes is held until commit, so a second writer to the same community
//! waits and gets its numbers only after the first has committed; commit order
//! equals sequence order, which is what the change feed's cursor needs. A push
//! takes these locks last, in community id order, after locking its author's
//! row first (`store::apply`); a conflict that slips through anyway (a
//! deadlock, two authors racing to create one id) is retried by
//! [`Store::apply_push`]. A push's rows go in multi-row statements: here each
//! statement is a round trip.

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
}

portable_store!(PostgresStore, PgConnection);

use crate::store::portable::{author_ids, feed_rows, serve_rows, unflatten, FeedSqlRow, FlatFeedRow, ServedRow, Viewer};
sqlx_hot_reads!(PostgresStore, PgConnection);
