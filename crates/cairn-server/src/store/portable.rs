//! The queries, written once in SQL that SQLite and PostgreSQL both accept, and
//! instantiated for each backend by [`portable_store!`].
//!
//! A backend module defines its store struct (with `pool` and `read` fields), a
//! `begin_write(&self)` (a write transaction, `BEGIN IMMEDIATE` on SQLite), and the
//! hot paths the trait delegates to (`try_apply_push`, `hot_*`): [`sqlx_hot_reads!`]
//! makes them for PostgreSQL; SQLite runs them on rusqlite (`sqlite.rs`).
//!
//! Only plain types cross the boundary (`String`, `i64`, `Option`), so the same
//! row tuples decode on both databases.

use cairn_protocol::api::{ChangeKind, SharedAnnotation, UserInfo};

use super::{FeedRow, StoreError};

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
    match code.as_deref() {
        // PostgreSQL serialization failure and deadlock; SQLite busy and locked.
        Some("40001" | "40P01" | "5" | "6" | "517") => StoreError::Conflict(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

/// A unique-constraint violation becomes `AlreadyExists(message)` (the user's
/// mistake, said in their words); anything else is a backend error.
pub(crate) fn unique_or_backend(message: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| if is_unique_violation(&e) { StoreError::AlreadyExists(message()) } else { backend(e) }
}

pub(crate) fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string()
}

/// `$from, $from+1, ...` for `n` values, for `IN (...)` lists.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Escapes `%`, `_` and `\` for `LIKE ... ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A value bound to a dynamically built query.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    /// A text value that may be NULL.
    OptText(Option<String>),
    /// An integer that may be NULL.
    OptInt(Option<i64>),
}

/// [`VISIBLE`] as a literal, so that constant queries can `concat!` it.
macro_rules! visible_sql {
    () => {
        "(a.author_id = $1 OR EXISTS (
    SELECT 1 FROM annotation_shares vs JOIN memberships vm ON vm.community_id = vs.community_id
    WHERE vs.annotation_id = a.id AND vs.removed_at IS NULL AND vm.user_id = $1))"
    };
}

/// The viewer may see an annotation: they wrote it, or it is shared with one of
/// their communities. `$1` is always the viewer's id. Every read uses it.
pub(crate) const VISIBLE: &str = visible_sql!();

/// The columns of a hydrated annotation: `a` joined to its author `u`, then the
/// slugs of its live shares the viewer (`$1`) may know about (all of them for the
/// author, else those of the viewer's communities), aggregated by `slug_list`
/// (the backend's `group_concat`/`string_agg` of `c.slug` with a space). One
/// query loads everything a response needs.
pub(crate) fn hydrated_columns(slug_list: &str) -> String {
    format!(
        "a.id, a.body_json, a.note_html, a.extra_json, a.created_at, a.modified_at, u.id, u.username, u.display_name,
         (SELECT {slug_list} FROM annotation_shares vs2 JOIN communities c ON c.id = vs2.community_id
          WHERE vs2.annotation_id = a.id AND vs2.removed_at IS NULL
            AND (a.author_id = $1 OR vs2.community_id IN (SELECT community_id FROM memberships WHERE user_id = $1)))"
    )
}

/// A row of [`hydrated_columns`]; `body_json` is NULL for a tombstone.
pub(crate) type AnnotationRow =
    (String, Option<String>, Option<String>, Option<String>, i64, i64, String, String, String, Option<String>);

/// The slugs of a `slug_list` column, sorted.
pub(crate) fn slugs_of(list: Option<&str>) -> Vec<String> {
    let mut communities: Vec<String> =
        list.unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(String::from).collect();
    communities.sort_unstable();
    communities
}

fn parse_stored(id: &str, body_json: &str, communities: &[String]) -> Result<cairn_model::Annotation, StoreError> {
    let mut annotation: cairn_model::Annotation = serde_json::from_str(body_json)
        .map_err(|e| StoreError::Backend(format!("stored annotation {id} is unreadable: {e}")))?;
    // The viewer learns nothing about communities they are not in.
    annotation.audience.retain(|a| {
        a.id.strip_prefix("urn:cairn:community:").is_some_and(|slug| communities.iter().any(|c| c == slug))
    });
    Ok(annotation)
}

/// Turns one hydrated row into the annotation as the viewer sees it (`None` for a tombstone).
pub(crate) fn assemble_row(row: AnnotationRow) -> Result<Option<super::StoredAnnotation>, StoreError> {
    let (id, body_json, note_html, extra_json, created_ms, modified_ms, author_id, username, display_name, slugs) = row;
    let Some(body_json) = body_json else { return Ok(None) };
    let communities = slugs_of(slugs.as_deref());
    let annotation = parse_stored(&id, &body_json, &communities)?;
    let shared = SharedAnnotation {
        annotation,
        author: UserInfo { id: author_id, username, display_name },
        communities,
        note_html,
    };
    Ok(Some(super::StoredAnnotation { shared, created_ms, modified_ms, extra_json }))
}

/// The hot reads (token checks, memberships, page lookups, change feeds): the
/// SQL is shared; each backend runs it its own way (`sqlx` for PostgreSQL,
/// `rusqlite` for SQLite, see `sqlite.rs`) and turns rows into results with the
/// functions below. `$1` is the viewer's id (or the token hash) throughout.
pub(crate) mod hot {
    pub const USER_FOR_TOKEN: &str =
        "SELECT u.id, u.username, u.display_name FROM tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)";

    /// (id, slug, name, archived_at, role) of the viewer's communities.
    pub const MEMBERSHIPS: &str = "SELECT c.id, c.slug, c.name, c.archived_at, m.role FROM memberships m
         JOIN communities c ON c.id = m.community_id WHERE m.user_id = $1 ORDER BY c.slug";

    /// The slugs of the viewer's communities.
    pub const VIEWER_SLUGS: &str =
        "SELECT c.slug FROM memberships m JOIN communities c ON c.id = m.community_id WHERE m.user_id = $1";

    /// (id, author_seq) of the live annotations on page `$2` the viewer may see,
    /// newest first: which versions the page shows (`store::page_cache`).
    pub const PAGE: &str = concat!(
        "SELECT a.id, a.author_seq FROM annotations a
         WHERE a.page_key = $2 AND a.deleted_at IS NULL AND a.body_json IS NOT NULL AND ",
        visible_sql!(),
        " ORDER BY a.created_at DESC, a.id DESC"
    );

    /// (id, username, display_name) of one author. Rows name their authors by id and
    /// each distinct author is looked up once: a page of a hundred rows has a few
    /// authors, and joining `users` cost a hundred index lookups.
    pub const AUTHOR: &str = "SELECT id, username, display_name FROM users WHERE id = $1";

    /// (seq, id, removed_at, deleted_at, [`super::ServedRow`] columns) of the viewer's
    /// own feed after `$2`, at most `$3` rows.
    pub const OWN_FEED: &str = "SELECT a.author_seq, a.id, CAST(NULL AS BIGINT), a.deleted_at,
             a.id, a.body_json, a.note_html, a.author_id, a.share_slugs
         FROM annotations a
         WHERE a.author_id = $1 AND a.author_seq > $2 ORDER BY a.author_seq LIMIT $3";
}

/// An annotation row as the hot reads load it: (id, body_json, note_html,
/// author id, share_slugs); `body_json` is NULL for a tombstone.
pub(crate) type ServedRow = (String, Option<String>, Option<String>, String, Option<String>);

/// A change-feed row: (seq, id, removed_at, deleted_at) and the annotation.
pub(crate) type FeedSqlRow = (i64, String, Option<i64>, Option<i64>, ServedRow);

/// Who is reading: the communities they belong to decide which shares they may
/// know of. With the authors of the rows read.
pub(crate) struct Viewer<'a> {
    pub id: &'a str,
    pub slugs: &'a [String],
    pub authors: std::collections::HashMap<String, UserInfo>,
}

/// The distinct authors of `rows`, to look up.
pub(crate) fn author_ids<'r>(rows: impl Iterator<Item = &'r ServedRow>) -> Vec<String> {
    let mut ids: Vec<String> = rows.map(|r| r.3.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Turns one row into the annotation as sent to the viewer (`None` for a tombstone).
///
/// The communities shown are its live shares the viewer may know of: all of them
/// for its author, else those of the viewer's communities. A push stamps the
/// stored JSON's `audience` with exactly the live shares (`push::stamp`) and
/// `share_slugs` in the same statement, so when the viewer may know of all of them
/// the stored JSON is what they may see, byte for byte, and is sent unparsed;
/// otherwise the audience is filtered as in [`assemble_row`].
pub(crate) fn serve_row(row: ServedRow, viewer: &Viewer) -> Result<Option<super::ServedAnnotation>, StoreError> {
    let (id, body_json, note_html, author_id, share_slugs) = row;
    let Some(body_json) = body_json else { return Ok(None) };
    let author = viewer
        .authors
        .get(&author_id)
        .cloned()
        .ok_or_else(|| StoreError::Backend(format!("the author of {id} was not loaded")))?;
    let may_know = |slug: &String| author_id == viewer.id || viewer.slugs.contains(slug);
    let (communities, body_json) = match share_slugs {
        Some(list) => {
            let all = slugs_of(Some(&list));
            let communities: Vec<String> = all.iter().filter(|s| may_know(s)).cloned().collect();
            if communities.len() == all.len() {
                (communities, body_json)
            } else {
                let annotation = parse_stored(&id, &body_json, &communities)?;
                (communities, serde_json::to_string(&annotation).map_err(|e| StoreError::Backend(e.to_string()))?)
            }
        }
        // Not written by this version (NULL): the stamped audience says where it is shared.
        None => {
            let mut annotation: cairn_model::Annotation = serde_json::from_str(&body_json)
                .map_err(|e| StoreError::Backend(format!("stored annotation {id} is unreadable: {e}")))?;
            annotation
                .audience
                .retain(|a| a.id.strip_prefix("urn:cairn:community:").is_some_and(|s| may_know(&s.to_string())));
            let mut communities: Vec<String> = annotation
                .audience
                .iter()
                .filter_map(|a| a.id.strip_prefix("urn:cairn:community:").map(String::from))
                .collect();
            communities.sort_unstable();
            (communities, serde_json::to_string(&annotation).map_err(|e| StoreError::Backend(e.to_string()))?)
        }
    };
    Ok(Some(super::ServedAnnotation {
        annotation_json: body_json,
        author,
        communities,
        note_html,
        wire_json: std::sync::OnceLock::new(),
    }))
}

/// A membership row of [`hot::MEMBERSHIPS`].
pub(crate) fn membership_of(
    (id, slug, name, archived_at, role): (String, String, String, Option<i64>, String),
) -> Result<super::Membership, StoreError> {
    let role = super::parse_role(&role).ok_or_else(|| StoreError::Backend(format!("unknown role {role:?}")))?;
    Ok(super::Membership { community: super::Community { id, slug, name, archived: archived_at.is_some() }, role })
}

/// Hydrated rows in the order the query returned them.
pub(crate) fn assemble(rows: Vec<AnnotationRow>) -> Result<Vec<super::StoredAnnotation>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.extend(assemble_row(row)?);
    }
    Ok(out)
}

/// A change-feed row as the feed shows it to `viewer`.
pub(crate) fn feed_row(
    (seq, id, removed_at, deleted_at, row): FeedSqlRow,
    viewer: &Viewer,
) -> Result<FeedRow, StoreError> {
    let (kind, annotation) = if deleted_at.is_some() {
        (ChangeKind::Deleted, None)
    } else if removed_at.is_some() {
        (ChangeKind::Unshared, None)
    } else {
        match serve_row(row, viewer)? {
            Some(a) => (ChangeKind::Upsert, Some(std::sync::Arc::new(a))),
            // A live share of a row without content cannot be shown: it reads as unshared.
            None => (ChangeKind::Unshared, None),
        }
    };
    Ok(FeedRow { seq, id, kind, annotation })
}

/// The feed rows, in order.
pub(crate) fn feed_rows(rows: Vec<FeedSqlRow>, viewer: &Viewer) -> Result<Vec<FeedRow>, StoreError> {
    rows.into_iter().map(|row| feed_row(row, viewer)).collect()
}

/// Implements [`super::Store`] for `$store` on connections of type `$conn`.
macro_rules! portable_store {
    ($store:ident, $conn:ty) => {
        use async_trait::async_trait;
        use cairn_protocol::api::{Role, UserInfo};

        use crate::push::PreparedMutation;
        use crate::store::portable::{
            assemble, backend, hot, hydrated_columns, like_escape, membership_of, new_id, placeholders,
            unique_or_backend, AnnotationRow, Arg, VISIBLE,
        };
        use crate::store::{
            parse_role, role_name, ChangeNotice, Community, ContainerScope, FeedRow, Invite, JoinOutcome, Member, Membership,
            PushOutcome, SearchFilter, ServedAnnotation, Store, StoreError, StoredAnnotation, TokenInfo, User,
            WithToken,
        };
        use crate::tokens::NewToken;

        type CommunityRow = (String, String, String, Option<i64>);

        fn community_of((id, slug, name, archived_at): CommunityRow) -> Community {
            Community { id, slug, name, archived: archived_at.is_some() }
        }

        /// Loads the annotations `ids` that `viewer_id` may see, in the order given.
        async fn hydrate(
            conn: &mut $conn,
            viewer_id: &str,
            ids: &[String],
        ) -> Result<Vec<StoredAnnotation>, StoreError> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let list = placeholders(2, ids.len());
            let sql = format!(
                "SELECT {} FROM annotations a JOIN users u ON u.id = a.author_id
                 WHERE a.id IN ({list}) AND a.deleted_at IS NULL AND a.body_json IS NOT NULL AND {VISIBLE}",
                hydrated_columns(SLUG_LIST)
            );
            let mut query = sqlx::query_as::<_, AnnotationRow>(&sql).bind(viewer_id);
            for id in ids {
                query = query.bind(id);
            }
            let rows = query.fetch_all(&mut *conn).await.map_err(backend)?;
            let mut by_id: std::collections::HashMap<String, StoredAnnotation> =
                assemble(rows)?.into_iter().map(|a| (a.shared.annotation.id.clone(), a)).collect();
            Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
        }

        /// `(where clause, args)` selecting a container's live annotations; `$1` is the viewer.
        fn container_clause(viewer: &User, scope: &ContainerScope) -> (&'static str, Vec<Arg>) {
            match scope {
                ContainerScope::Community(c) => (
                    "a.deleted_at IS NULL AND a.body_json IS NOT NULL AND EXISTS (
                         SELECT 1 FROM annotation_shares s JOIN memberships m ON m.community_id = s.community_id
                         WHERE s.annotation_id = a.id AND s.removed_at IS NULL AND s.community_id = $2 AND m.user_id = $1)",
                    vec![Arg::Text(viewer.id.clone()), Arg::Text(c.id.clone())],
                ),
                ContainerScope::Private => (
                    "a.deleted_at IS NULL AND a.body_json IS NOT NULL AND a.author_id = $1 AND NOT EXISTS (
                         SELECT 1 FROM annotation_shares s WHERE s.annotation_id = a.id AND s.removed_at IS NULL)",
                    vec![Arg::Text(viewer.id.clone())],
                ),
            }
        }

        macro_rules! bind_all {
            ($query:expr, $args:expr) => {{
                let mut q = $query;
                for arg in $args {
                    q = match arg {
                        Arg::Text(s) => q.bind(s.clone()),
                        Arg::Int(i) => q.bind(*i),
                        Arg::OptText(s) => q.bind(s.clone()),
                        Arg::OptInt(i) => q.bind(*i),
                    };
                }
                q
            }};
        }

        /// Serialises membership changes of one community until the transaction
        /// ends: a write to its row locks it on PostgreSQL (SQLite's write
        /// transactions are serial already), so two owners leaving at once are
        /// checked one after the other.
        async fn lock_memberships(conn: &mut $conn, community_id: &str) -> Result<(), StoreError> {
            sqlx::query("UPDATE communities SET name = name WHERE id = $1")
                .bind(community_id)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            Ok(())
        }

        async fn is_owner(conn: &mut $conn, user_id: &str, community_id: &str) -> Result<bool, StoreError> {
            let role: Option<String> =
                sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1 AND community_id = $2")
                    .bind(user_id)
                    .bind(community_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(backend)?;
            Ok(role.as_deref() == Some(role_name(Role::Owner)))
        }

        /// Refuses (and so rolls back) a change that left the community without an owner.
        async fn keep_an_owner(conn: &mut $conn, community_id: &str) -> Result<(), StoreError> {
            let owners: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM memberships WHERE community_id = $1 AND role = $2",
            )
            .bind(community_id)
            .bind(role_name(Role::Owner))
            .fetch_one(&mut *conn)
            .await
            .map_err(backend)?;
            if owners == 0 {
                return Err(StoreError::LastOwner);
            }
            Ok(())
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query_scalar::<_, i64>("SELECT CAST(1 AS BIGINT)").fetch_one(&self.read).await.map_err(backend)?;
                Ok(())
            }

            async fn close(&self) {
                self.close_pools().await;
            }

            fn changes_announced(&self) -> Option<tokio::sync::broadcast::Receiver<ChangeNotice>> {
                self.subscribe_to_announcements()
            }

            async fn create_user(
                &self,
                username: &str,
                display_name: &str,
                password_hash: Option<&str>,
                now_ms: i64,
            ) -> Result<User, StoreError> {
                let user = User { id: new_id(), username: username.into(), display_name: display_name.into() };
                sqlx::query(
                    "INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&user.id)
                .bind(&user.username)
                .bind(&user.display_name)
                .bind(password_hash)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(unique_or_backend(|| format!("a user named {username:?} exists already")))?;
                Ok(user)
            }

            async fn user_with_password(&self, username: &str) -> Result<Option<(User, Option<String>)>, StoreError> {
                let row: Option<(String, String, String, Option<String>)> =
                    sqlx::query_as("SELECT id, username, display_name, password_hash FROM users WHERE username = $1")
                        .bind(username)
                        .fetch_optional(&self.read)
                        .await
                        .map_err(backend)?;
                Ok(row.map(|(id, username, display_name, hash)| (User { id, username, display_name }, hash)))
            }

            async fn set_password(
                &self,
                user_id: &str,
                password_hash: &str,
                revoke: crate::store::RevokeTokens<'_>,
                now_ms: i64,
            ) -> Result<u64, StoreError> {
                use crate::store::RevokeTokens;
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                if updated == 0 {
                    return Err(StoreError::NotFound(format!("no user with id {user_id:?}")));
                }
                let revoke_sql = "UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL";
                let revoked = match revoke {
                    RevokeTokens::Nothing => 0,
                    RevokeTokens::All => {
                        sqlx::query(revoke_sql).bind(now_ms).bind(user_id).execute(&mut *tx).await.map_err(backend)?.rows_affected()
                    }
                    RevokeTokens::AllBut(keep) => sqlx::query(&format!("{revoke_sql} AND token_hash <> $3"))
                        .bind(now_ms)
                        .bind(user_id)
                        .bind(keep)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?
                        .rows_affected(),
                };
                tx.commit().await.map_err(backend)?;
                Ok(revoked)
            }

            async fn create_community(&self, slug: &str, name: &str, now_ms: i64) -> Result<Community, StoreError> {
                let community = Community { id: new_id(), slug: slug.into(), name: name.into(), archived: false };
                sqlx::query("INSERT INTO communities (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&community.id)
                    .bind(&community.slug)
                    .bind(&community.name)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(unique_or_backend(|| format!("a community with slug {slug:?} exists already")))?;
                Ok(community)
            }

            async fn community(&self, slug: &str) -> Result<Option<Community>, StoreError> {
                let row: Option<CommunityRow> =
                    sqlx::query_as("SELECT id, slug, name, archived_at FROM communities WHERE slug = $1")
                        .bind(slug)
                        .fetch_optional(&self.read)
                        .await
                        .map_err(backend)?;
                Ok(row.map(community_of))
            }

            async fn rename_community(&self, community_id: &str, name: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE communities SET name = $1 WHERE id = $2")
                    .bind(name)
                    .bind(community_id)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(())
            }

            async fn set_archived(&self, community_id: &str, archived_at_ms: Option<i64>) -> Result<(), StoreError> {
                sqlx::query("UPDATE communities SET archived_at = $1 WHERE id = $2")
                    .bind(archived_at_ms)
                    .bind(community_id)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(())
            }

            async fn set_membership(
                &self,
                user_id: &str,
                community_id: &str,
                role: Role,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                lock_memberships(&mut *tx, community_id).await?;
                let was_owner = is_owner(&mut *tx, user_id, community_id).await?;
                sqlx::query(
                    "INSERT INTO memberships (user_id, community_id, role, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (user_id, community_id) DO UPDATE SET role = excluded.role",
                )
                .bind(user_id)
                .bind(community_id)
                .bind(role_name(role))
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                if was_owner && role != Role::Owner {
                    keep_an_owner(&mut *tx, community_id).await?;
                }
                tx.commit().await.map_err(backend)?;
                Ok(())
            }

            async fn remove_membership(&self, user_id: &str, community_id: &str) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                lock_memberships(&mut *tx, community_id).await?;
                let was_owner = is_owner(&mut *tx, user_id, community_id).await?;
                let done = sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND community_id = $2")
                    .bind(user_id)
                    .bind(community_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if was_owner {
                    keep_an_owner(&mut *tx, community_id).await?;
                }
                tx.commit().await.map_err(backend)?;
                Ok(done.rows_affected() > 0)
            }

            async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
                self.hot_memberships(user_id).await
            }

            async fn members(&self, community_id: &str) -> Result<Vec<Member>, StoreError> {
                let rows: Vec<(String, String, String, String)> = sqlx::query_as(
                    "SELECT u.id, u.username, u.display_name, m.role FROM memberships m JOIN users u ON u.id = m.user_id
                     WHERE m.community_id = $1 ORDER BY u.username",
                )
                .bind(community_id)
                .fetch_all(&self.read)
                .await
                .map_err(backend)?;
                rows.into_iter()
                    .map(|(id, username, display_name, role)| {
                        let role = parse_role(&role)
                            .ok_or_else(|| StoreError::Backend(format!("unknown role {role:?}")))?;
                        Ok(Member { user: UserInfo { id, username, display_name }, role })
                    })
                    .collect()
            }

            async fn create_invite(
                &self,
                community_id: &str,
                created_by: &str,
                code_hash: &str,
                expires_at_ms: Option<i64>,
                uses: Option<i64>,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO invites (code_hash, community_id, created_by, created_at, expires_at, uses_left)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(code_hash)
                .bind(community_id)
                .bind(created_by)
                .bind(now_ms)
                .bind(expires_at_ms)
                .bind(uses)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(())
            }

            async fn invites(&self, community_id: &str, now_ms: i64) -> Result<Vec<Invite>, StoreError> {
                let rows: Vec<(String, String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT substr(i.code_hash, 1, 16), u.username, i.created_at, i.expires_at, i.uses_left
                     FROM invites i JOIN users u ON u.id = i.created_by
                     WHERE i.community_id = $1 AND (i.expires_at IS NULL OR i.expires_at > $2)
                       AND (i.uses_left IS NULL OR i.uses_left > 0)
                     ORDER BY i.created_at DESC, i.code_hash",
                )
                .bind(community_id)
                .bind(now_ms)
                .fetch_all(&self.read)
                .await
                .map_err(backend)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, created_by, created_at_ms, expires_at_ms, uses_left)| Invite {
                        id,
                        created_by,
                        created_at_ms,
                        expires_at_ms,
                        uses_left,
                    })
                    .collect())
            }

            async fn revoke_invite(&self, community_id: &str, id: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM invites WHERE community_id = $1 AND substr(code_hash, 1, 16) = $2")
                    .bind(community_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() > 0)
            }

            async fn redeem_invite(&self, code_hash: &str, user_id: &str, now_ms: i64) -> Result<JoinOutcome, StoreError> {
                let mut tx = self.begin_write().await?;
                // Taking a use and checking validity in one statement: two people racing
                // for a single-use code cannot both get it.
                let community_id: Option<String> = sqlx::query_scalar(
                    "UPDATE invites SET uses_left = uses_left - 1
                     WHERE code_hash = $1 AND (expires_at IS NULL OR expires_at > $2) AND (uses_left IS NULL OR uses_left > 0)
                     RETURNING community_id",
                )
                .bind(code_hash)
                .bind(now_ms)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
                let Some(community_id) = community_id else {
                    return Ok(JoinOutcome::InvalidCode);
                };
                let community: CommunityRow =
                    sqlx::query_as("SELECT id, slug, name, archived_at FROM communities WHERE id = $1")
                        .bind(&community_id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(backend)?;
                let community = community_of(community);
                let joined = sqlx::query(
                    "INSERT INTO memberships (user_id, community_id, role, created_at) VALUES ($1, $2, 'member', $3)
                     ON CONFLICT DO NOTHING",
                )
                .bind(user_id)
                .bind(&community_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected()
                    == 1;
                if !joined {
                    // Already a member: keep the code's use for someone else.
                    tx.rollback().await.map_err(backend)?;
                    return Ok(JoinOutcome::AlreadyMember(community));
                }
                tx.commit().await.map_err(backend)?;
                Ok(JoinOutcome::Joined(community))
            }

            async fn insert_token(
                &self,
                user_id: &str,
                token: &NewToken,
                label: &str,
                expires_at_ms: Option<i64>,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO tokens (id, user_id, token_hash, prefix, label, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(new_id())
                .bind(user_id)
                .bind(&token.hash)
                .bind(&token.prefix)
                .bind(label)
                .bind(now_ms)
                .bind(expires_at_ms)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(())
            }

            async fn live_tokens(
                &self,
                user_id: &str,
                current_hash: &str,
                now_ms: i64,
            ) -> Result<Vec<TokenInfo>, StoreError> {
                let rows: Vec<(String, String, i64, Option<i64>, Option<i64>, bool)> = sqlx::query_as(
                    "SELECT prefix, label, created_at, last_used_at, expires_at, token_hash = $2 FROM tokens
                     WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)
                     ORDER BY created_at DESC, prefix",
                )
                .bind(user_id)
                .bind(current_hash)
                .bind(now_ms)
                .fetch_all(&self.read)
                .await
                .map_err(backend)?;
                Ok(rows
                    .into_iter()
                    .map(|(prefix, label, created_at, last_used_at, expires_at, current)| TokenInfo {
                        prefix,
                        label,
                        created_at,
                        last_used_at,
                        expires_at,
                        current,
                    })
                    .collect())
            }

            async fn revoke_own_token(&self, user_id: &str, prefix: &str, now_ms: i64) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND prefix = $3 AND revoked_at IS NULL",
                )
                .bind(now_ms)
                .bind(user_id)
                .bind(prefix)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(done.rows_affected())
            }

            async fn touch_token(&self, token_hash: &str, now_ms: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE token_hash = $2")
                    .bind(now_ms)
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(())
            }

            async fn user_for_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>, StoreError> {
                self.hot_user_for_token(token_hash, now_ms).await
            }

            async fn revoke_tokens(&self, prefix_or_hash: &str, now_ms: i64) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "UPDATE tokens SET revoked_at = $1 WHERE (prefix = $2 OR token_hash = $2) AND revoked_at IS NULL",
                )
                .bind(now_ms)
                .bind(prefix_or_hash)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(done.rows_affected())
            }

            async fn apply_push(
                &self,
                author: &User,
                device_id: Option<&str>,
                mutations: Vec<PreparedMutation>,
                now_ms: i64,
            ) -> Result<PushOutcome, StoreError> {
                let mut attempt = 0u32;
                loop {
                    match self.try_apply_push(author, device_id, mutations.clone(), now_ms).await {
                        Err(StoreError::Conflict(e)) if attempt < 8 => {
                            attempt += 1;
                            tracing::debug!(attempt, error = %e, "push transaction conflicted; retrying");
                            tokio::time::sleep(std::time::Duration::from_millis(5 << attempt.min(6))).await;
                        }
                        other => return other,
                    }
                }
            }

            async fn page_annotations(&self, viewer: &User, page_key: &str) -> Result<Vec<std::sync::Arc<ServedAnnotation>>, StoreError> {
                self.hot_page_annotations(viewer, page_key).await
            }

            async fn community_changes(
                &self,
                viewer: &User,
                slug: &str,
                since: i64,
                limit: i64,
            ) -> Result<Option<Vec<FeedRow>>, StoreError> {
                self.hot_community_changes(viewer, slug, since, limit).await
            }

            async fn own_changes(&self, viewer: &User, since: i64, limit: i64) -> Result<Vec<FeedRow>, StoreError> {
                self.hot_own_changes(viewer, since, limit).await
            }

            async fn page_annotations_for_token(
                &self,
                token_hash: &str,
                now_ms: i64,
                page_key: &str,
            ) -> Result<WithToken<Vec<std::sync::Arc<ServedAnnotation>>>, StoreError> {
                self.hot_page_annotations_for_token(token_hash, now_ms, page_key).await
            }

            async fn community_changes_for_token(
                &self,
                token_hash: &str,
                now_ms: i64,
                slug: &str,
                since: i64,
                limit: i64,
            ) -> Result<WithToken<Option<Vec<FeedRow>>>, StoreError> {
                self.hot_community_changes_for_token(token_hash, now_ms, slug, since, limit).await
            }

            async fn search(&self, viewer: &User, f: &SearchFilter) -> Result<Vec<StoredAnnotation>, StoreError> {
                let mut conn = self.read.acquire().await.map_err(backend)?;
                let mut args = vec![Arg::Text(viewer.id.clone())];
                let mut sql = format!(
                    "SELECT a.id FROM annotations a WHERE a.deleted_at IS NULL AND a.body_json IS NOT NULL AND {VISIBLE}"
                );
                fn push(sql: &mut String, args: &mut Vec<Arg>, clause: &str, arg: Arg) {
                    args.push(arg);
                    sql.push_str(&clause.replace("$?", &format!("${}", args.len())));
                }
                if let Some(key) = &f.page_key {
                    push(&mut sql, &mut args, " AND a.page_key = $?", Arg::Text(key.clone()));
                }
                if let Some(c) = &f.community_id {
                    push(
                        &mut sql,
                        &mut args,
                        " AND EXISTS (SELECT 1 FROM annotation_shares s WHERE s.annotation_id = a.id
                             AND s.removed_at IS NULL AND s.community_id = $?)",
                        Arg::Text(c.clone()),
                    );
                }
                if let Some(tag) = &f.tag {
                    let pattern = format!("%\n{}\n%", like_escape(&tag.to_lowercase()));
                    push(&mut sql, &mut args, " AND a.tags_text LIKE $? ESCAPE '\\'", Arg::Text(pattern));
                }
                if let Some(author) = &f.author_username {
                    push(&mut sql, &mut args, " AND a.author_id IN (SELECT id FROM users WHERE username = $?)", Arg::Text(author.clone()));
                }
                if let Some(text) = &f.text {
                    let pattern = format!("%{}%", like_escape(&text.to_lowercase()));
                    push(&mut sql, &mut args, " AND a.search_text LIKE $? ESCAPE '\\'", Arg::Text(pattern));
                }
                if let Some(from) = f.created_from_ms {
                    push(&mut sql, &mut args, " AND a.created_at >= $?", Arg::Int(from));
                }
                if let Some(before) = f.created_before_ms {
                    push(&mut sql, &mut args, " AND a.created_at < $?", Arg::Int(before));
                }
                if let Some((created, id)) = &f.after {
                    args.push(Arg::Int(*created));
                    let c = args.len();
                    args.push(Arg::Text(id.clone()));
                    let i = args.len();
                    sql.push_str(&format!(" AND (a.created_at < ${c} OR (a.created_at = ${c} AND a.id < ${i}))"));
                }
                push(&mut sql, &mut args, " ORDER BY a.created_at DESC, a.id DESC LIMIT $?", Arg::Int(f.limit));
                let ids: Vec<String> =
                    bind_all!(sqlx::query_scalar(&sql), &args).fetch_all(&mut *conn).await.map_err(backend)?;
                hydrate(&mut conn, &viewer.id, &ids).await
            }

            async fn container_summary(
                &self,
                viewer: &User,
                scope: &ContainerScope,
            ) -> Result<(i64, Option<i64>), StoreError> {
                let (clause, args) = container_clause(viewer, scope);
                let sql = format!("SELECT COUNT(*), MAX(a.modified_at) FROM annotations a WHERE {clause}");
                let row: (i64, Option<i64>) =
                    bind_all!(sqlx::query_as(&sql), &args).fetch_one(&self.read).await.map_err(backend)?;
                Ok(row)
            }

            async fn container_page(
                &self,
                viewer: &User,
                scope: &ContainerScope,
                offset: i64,
                limit: i64,
            ) -> Result<Vec<StoredAnnotation>, StoreError> {
                let mut conn = self.read.acquire().await.map_err(backend)?;
                let (clause, mut args) = container_clause(viewer, scope);
                let n = args.len();
                let sql = format!(
                    "SELECT a.id FROM annotations a WHERE {clause} ORDER BY a.created_at, a.id LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                );
                args.push(Arg::Int(limit));
                args.push(Arg::Int(offset));
                let ids: Vec<String> =
                    bind_all!(sqlx::query_scalar(&sql), &args).fetch_all(&mut *conn).await.map_err(backend)?;
                hydrate(&mut conn, &viewer.id, &ids).await
            }

            async fn container_annotation(
                &self,
                viewer: &User,
                scope: &ContainerScope,
                id: &str,
            ) -> Result<Option<StoredAnnotation>, StoreError> {
                let mut conn = self.read.acquire().await.map_err(backend)?;
                let (clause, mut args) = container_clause(viewer, scope);
                let sql = format!("SELECT a.id FROM annotations a WHERE {clause} AND a.id = ${}", args.len() + 1);
                args.push(Arg::Text(id.to_string()));
                let found: Option<String> =
                    bind_all!(sqlx::query_scalar(&sql), &args).fetch_optional(&mut *conn).await.map_err(backend)?;
                match found {
                    None => Ok(None),
                    Some(id) => Ok(hydrate(&mut conn, &viewer.id, &[id]).await?.pop()),
                }
            }
        }
    };
}
