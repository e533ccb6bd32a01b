//! The SQLite backend: one file in the data directory, the zero-configuration default.
//!
//! Settings and why: WAL so readers never wait for the writer; `synchronous=NORMAL`,
//! which in WAL mode loses at most the last commits on power loss but never
//! corrupts; foreign keys on (SQLite's default is off); a busy timeout so a
//! second writer waits instead of failing. Write transactions start with
//! `BEGIN IMMEDIATE`: taking the write lock up front means a transaction that
//! has read something can never fail to upgrade to a writer halfway through,
//! and since there is one writer at a time, sequence numbers follow commit order.

use std::path::Path;
use std::time::Duration;

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
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(writer).await.map_err(|e| {
            StoreError::Backend(format!("cannot open database {}: {e}", path.display()))
        })?;
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
        let store = SqliteStore { pool, read, checkpointer };
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

    async fn close_pools(&self) {
        self.checkpointer.close().await;
        self.read.close().await;
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)
    }

    /// `BEGIN IMMEDIATE` already made this transaction the only writer.
    async fn lock_for_push(_conn: &mut SqliteConnection, _user_id: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

portable_store!(SqliteStore, SqliteConnection);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::Annotation;
    use crate::push::prepare;
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
        let m = Mutation::Upsert { seq, annotation: a, communities: communities.iter().map(|s| s.to_string()).collect() };
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
