//! The SQLite backend: one file in the data directory, for a team's server.
//!
//! Settings and why: WAL so readers never wait for the writer; `synchronous=NORMAL`,
//! which in WAL mode loses at most the last commits on power loss but never
//! corrupts; foreign keys on (SQLite's default is off); a busy timeout so a
//! second writer waits instead of failing. Write transactions start with
//! `BEGIN IMMEDIATE`: taking the write lock up front means a transaction that
//! has read something can never fail to upgrade to a writer halfway through.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use cairn_model::Annotation;
use cairn_protocol::api::{MutationResult, MutationStatus, Role, SharedAnnotation, UserInfo};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqliteConnection;

use super::{parse_role, role_name, Community, Membership, Store, StoreError, User};
use crate::push::{
    decide_delete, decide_upsert, stamp, DeleteDecision, PreparedMutation, PreparedUpsert, Rejection, StoredState,
    UpsertDecision,
};
use crate::tokens::NewToken;

pub struct SqliteStore {
    pool: SqlitePool,
}

fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string()
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
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(|e| {
            StoreError::Backend(format!("cannot open database {}: {e}", path.display()))
        })?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot migrate database {}: {e}", path.display())))?;
        Ok(SqliteStore { pool })
    }

    /// Waits for open connections to finish and checkpoints the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn memberships_on(conn: &mut SqliteConnection, user_id: &str) -> Result<Vec<Membership>, StoreError> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.id, c.slug, c.name, m.role FROM memberships m JOIN communities c ON c.id = m.community_id
         WHERE m.user_id = ? ORDER BY c.slug",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    rows.into_iter()
        .map(|(id, slug, name, role)| {
            let role = parse_role(&role).ok_or_else(|| StoreError::Backend(format!("unknown role {role:?}")))?;
            Ok(Membership { community: Community { id, slug, name }, role })
        })
        .collect()
}

async fn stored_state(conn: &mut SqliteConnection, id: &str) -> Result<Option<StoredState>, StoreError> {
    let row: Option<(String, Option<i64>, i64)> =
        sqlx::query_as("SELECT author_id, deleted_at, modified_at FROM annotations WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
    Ok(row.map(|(author_id, deleted_at, modified_ms)| StoredState {
        author_id,
        deleted: deleted_at.is_some(),
        modified_ms,
    }))
}

/// Takes the community's next sequence number. Called only inside a write
/// transaction, so numbers are handed out in commit order.
async fn next_seq(conn: &mut SqliteConnection, community_id: &str) -> Result<i64, StoreError> {
    sqlx::query_scalar("UPDATE communities SET next_seq = next_seq + 1 WHERE id = ? RETURNING next_seq - 1")
        .bind(community_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)
}

async fn write_upsert(
    conn: &mut SqliteConnection,
    author: &User,
    memberships: &[Membership],
    upsert: PreparedUpsert,
    now_ms: i64,
) -> Result<Result<(), Rejection>, StoreError> {
    let stored = stored_state(conn, &upsert.id).await?;
    let (decision, audience) = match decide_upsert(author, stored.as_ref(), &upsert, memberships) {
        Ok(d) => d,
        Err(rejection) => return Ok(Err(rejection)),
    };
    if decision == UpsertDecision::KeepStored {
        return Ok(Ok(()));
    }
    let mut annotation = upsert.annotation;
    stamp(&mut annotation, author, &audience);
    let body_json = serde_json::to_string(&annotation).map_err(|e| StoreError::Backend(e.to_string()))?;
    sqlx::query(
        "INSERT INTO annotations (id, author_id, page_key, source_url, body_json, note_html, created_at, modified_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET page_key = excluded.page_key, source_url = excluded.source_url,
             body_json = excluded.body_json, note_html = excluded.note_html, modified_at = excluded.modified_at",
    )
    .bind(&upsert.id)
    .bind(&author.id)
    .bind(&upsert.page_key)
    .bind(&annotation.target.source)
    .bind(&body_json)
    .bind(&upsert.note_html)
    .bind(upsert.created_ms)
    .bind(upsert.modified_ms)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;

    let shared_before: Vec<String> =
        sqlx::query_scalar("SELECT community_id FROM annotation_shares WHERE annotation_id = ? AND removed_at IS NULL")
            .bind(&upsert.id)
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
    for community in &audience {
        let seq = next_seq(conn, &community.id).await?;
        sqlx::query(
            "INSERT INTO annotation_shares (annotation_id, community_id, seq, removed_at) VALUES (?, ?, ?, NULL)
             ON CONFLICT (annotation_id, community_id) DO UPDATE SET seq = excluded.seq, removed_at = NULL",
        )
        .bind(&upsert.id)
        .bind(&community.id)
        .bind(seq)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    for community_id in shared_before.iter().filter(|id| !audience.iter().any(|c| &c.id == *id)) {
        let seq = next_seq(conn, community_id).await?;
        sqlx::query("UPDATE annotation_shares SET seq = ?, removed_at = ? WHERE annotation_id = ? AND community_id = ?")
            .bind(seq)
            .bind(now_ms)
            .bind(&upsert.id)
            .bind(community_id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(Ok(()))
}

async fn write_delete(
    conn: &mut SqliteConnection,
    author: &User,
    id: &str,
    now_ms: i64,
) -> Result<Result<(), Rejection>, StoreError> {
    let stored = stored_state(conn, id).await?;
    match decide_delete(author, id, stored.as_ref()) {
        Err(rejection) => return Ok(Err(rejection)),
        Ok(DeleteDecision::AlreadyDeleted) => return Ok(Ok(())),
        Ok(DeleteDecision::Tombstone) => {}
    }
    // A tombstone keeps who and when, never the content: deleted means gone.
    sqlx::query(
        "INSERT INTO annotations (id, author_id, created_at, modified_at, deleted_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET page_key = NULL, source_url = NULL, body_json = NULL, note_html = NULL,
             modified_at = excluded.modified_at, deleted_at = excluded.deleted_at",
    )
    .bind(id)
    .bind(&author.id)
    .bind(now_ms)
    .bind(now_ms)
    .bind(now_ms)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    // Communities that had it hear about the deletion through a new sequence number.
    let shared_with: Vec<String> =
        sqlx::query_scalar("SELECT community_id FROM annotation_shares WHERE annotation_id = ? AND removed_at IS NULL")
            .bind(id)
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
    for community_id in shared_with {
        let seq = next_seq(conn, &community_id).await?;
        sqlx::query("UPDATE annotation_shares SET seq = ? WHERE annotation_id = ? AND community_id = ?")
            .bind(seq)
            .bind(id)
            .bind(&community_id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(Ok(()))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: Option<&str>,
        now_ms: i64,
    ) -> Result<User, StoreError> {
        let user = User { id: new_id(), username: username.into(), display_name: display_name.into() };
        sqlx::query("INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.display_name)
            .bind(password_hash)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists(format!("a user named {username:?} exists already"))
                } else {
                    backend(e)
                }
            })?;
        Ok(user)
    }

    async fn user_with_password(&self, username: &str) -> Result<Option<(User, Option<String>)>, StoreError> {
        let row: Option<(String, String, String, Option<String>)> =
            sqlx::query_as("SELECT id, username, display_name, password_hash FROM users WHERE username = ?")
                .bind(username)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(row.map(|(id, username, display_name, hash)| (User { id, username, display_name }, hash)))
    }

    async fn create_community(&self, slug: &str, name: &str, now_ms: i64) -> Result<Community, StoreError> {
        let community = Community { id: new_id(), slug: slug.into(), name: name.into() };
        sqlx::query("INSERT INTO communities (id, slug, name, created_at) VALUES (?, ?, ?, ?)")
            .bind(&community.id)
            .bind(&community.slug)
            .bind(&community.name)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists(format!("a community with slug {slug:?} exists already"))
                } else {
                    backend(e)
                }
            })?;
        Ok(community)
    }

    async fn community(&self, slug: &str) -> Result<Option<Community>, StoreError> {
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT id, slug, name FROM communities WHERE slug = ?")
                .bind(slug)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(row.map(|(id, slug, name)| Community { id, slug, name }))
    }

    async fn set_membership(
        &self,
        user_id: &str,
        community_id: &str,
        role: Role,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO memberships (user_id, community_id, role, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (user_id, community_id) DO UPDATE SET role = excluded.role",
        )
        .bind(user_id)
        .bind(community_id)
        .bind(role_name(role))
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        memberships_on(&mut conn, user_id).await
    }

    async fn insert_token(
        &self,
        user_id: &str,
        token: &NewToken,
        expires_at_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (id, user_id, token_hash, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(new_id())
        .bind(user_id)
        .bind(&token.hash)
        .bind(&token.prefix)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn user_for_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>, StoreError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT u.id, u.username, u.display_name FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.map(|(id, username, display_name)| User { id, username, display_name }))
    }

    async fn revoke_tokens(&self, prefix_or_hash: &str, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = ? WHERE (prefix = ? OR token_hash = ?) AND revoked_at IS NULL",
        )
        .bind(now_ms)
        .bind(prefix_or_hash)
        .bind(prefix_or_hash)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn apply_push(
        &self,
        author: &User,
        device_id: &str,
        mutations: Vec<PreparedMutation>,
        now_ms: i64,
    ) -> Result<Vec<MutationResult>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
        // Read inside the transaction: a membership removed a moment ago no longer counts.
        let memberships = memberships_on(&mut tx, &author.id).await?;
        let mut results = Vec::with_capacity(mutations.len());
        for mutation in mutations {
            let seq = mutation.seq();
            let first_time = sqlx::query(
                "INSERT INTO applied_mutations (user_id, device_id, seq, applied_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&author.id)
            .bind(device_id)
            .bind(seq)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
                == 1;
            let seq = seq as u64; // prepare() only lets non-negative values through.
            if !first_time {
                results.push(MutationResult { seq, status: MutationStatus::Duplicate, error: None });
                continue;
            }
            let outcome = match mutation {
                PreparedMutation::Invalid { rejection, .. } => Err(rejection),
                PreparedMutation::Upsert(upsert) => write_upsert(&mut tx, author, &memberships, *upsert, now_ms).await?,
                PreparedMutation::Delete { id, .. } => write_delete(&mut tx, author, &id, now_ms).await?,
            };
            results.push(match outcome {
                Ok(()) => MutationResult { seq, status: MutationStatus::Applied, error: None },
                Err(r) => MutationResult { seq, status: MutationStatus::Rejected, error: Some(r.to_wire()) },
            });
        }
        tx.commit().await.map_err(backend)?;
        Ok(results)
    }

    async fn page_annotations(&self, viewer: &User, page_key: &str) -> Result<Vec<SharedAnnotation>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        // Every read is scoped by the viewer: own annotations, or shared with one
        // of the viewer's communities. There is no unscoped query to misuse.
        let rows: Vec<(String, String, Option<String>, String, String, String)> = sqlx::query_as(
            "SELECT a.id, a.body_json, a.note_html, u.id, u.username, u.display_name
             FROM annotations a JOIN users u ON u.id = a.author_id
             WHERE a.page_key = ?1 AND a.deleted_at IS NULL AND a.body_json IS NOT NULL
               AND (a.author_id = ?2 OR EXISTS (
                   SELECT 1 FROM annotation_shares s JOIN memberships m ON m.community_id = s.community_id
                   WHERE s.annotation_id = a.id AND s.removed_at IS NULL AND m.user_id = ?2))
             ORDER BY a.created_at DESC, a.id DESC",
        )
        .bind(page_key)
        .bind(&viewer.id)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        let shares: Vec<(String, String)> = sqlx::query_as(
            "SELECT s.annotation_id, c.slug
             FROM annotation_shares s
             JOIN annotations a ON a.id = s.annotation_id
             JOIN communities c ON c.id = s.community_id
             WHERE a.page_key = ?1 AND a.deleted_at IS NULL AND s.removed_at IS NULL
               AND (a.author_id = ?2 OR s.community_id IN (SELECT community_id FROM memberships WHERE user_id = ?2))
             ORDER BY c.slug",
        )
        .bind(page_key)
        .bind(&viewer.id)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        let mut visible_shares: HashMap<String, Vec<String>> = HashMap::new();
        for (annotation_id, slug) in shares {
            visible_shares.entry(annotation_id).or_default().push(slug);
        }
        rows.into_iter()
            .map(|(id, body_json, note_html, author_id, username, display_name)| {
                let mut annotation: Annotation = serde_json::from_str(&body_json)
                    .map_err(|e| StoreError::Backend(format!("stored annotation {id} is unreadable: {e}")))?;
                let communities = visible_shares.remove(&id).unwrap_or_default();
                // The viewer learns nothing about communities they are not in.
                annotation.audience.retain(|a| {
                    a.id.strip_prefix("urn:cairn:community:").is_some_and(|slug| communities.iter().any(|c| c == slug))
                });
                Ok(SharedAnnotation {
                    annotation,
                    author: UserInfo { id: author_id, username, display_name },
                    communities,
                    note_html,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        store.apply_push(&alice, "d", batch, 100).await.unwrap();
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
        store.apply_push(&alice, "d", batch, 200).await.unwrap();
        assert_eq!(
            shares(&store).await,
            [
                (a_urn.clone(), "ops".into(), 2, true),
                (a_urn.clone(), "team".into(), 3, false),
                (b_urn.clone(), "team".into(), 4, false),
            ]
        );
        let deleted: (Option<String>, Option<i64>) =
            sqlx::query_as("SELECT body_json, deleted_at FROM annotations WHERE id = ?")
                .bind(&b_urn)
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(deleted, (None, Some(200)), "a tombstone keeps no content");
    }
}
