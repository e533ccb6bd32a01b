//! Replies on the write side: the one home of "a reply follows its parent".
//!
//! A reply (W3C motivation `replying`, see `Annotation::reply_to`) is stored as
//! an annotation of its own author with `parent_id` set, on its parent's page
//! (`page_key` copied from the parent) and shared with exactly the parent's
//! live communities (its `audience` and `share_slugs` say so, and it has a share
//! row, hence a feed position, in each). Because a reply is an ordinary
//! annotation row with ordinary share rows, every read (page lookups, feeds,
//! search, W3C containers, the live stream) serves it under the same rule as
//! any annotation: its author, and the members of the communities it is shared
//! with. What is special is kept true here, inside the push transaction:
//!
//! * replying needs a parent the replier may see ([`may_see_parent`]); any
//!   other parent, deleted, private to someone else, or unknown, is `not_found`
//!   alike, so a reply cannot probe for annotations. Threads are flat: a reply
//!   to a reply is refused;
//! * the client's `communities` for a reply are ignored: its audience is the
//!   parent's ([`crate::push::prepare`]);
//! * when a parent's audience changes, each of its live replies is rewritten
//!   with the new audience, at a new version of its author's feed, and its
//!   share rows follow (new positions where it is still shared, unshares where
//!   it no longer is), so followers of a feed the parent left drop its replies;
//! * when a parent is deleted, its replies are deleted with it (tombstones, in
//!   each reply author's feed and every community feed that had them).
//!
//! These rewrites write rows of other authors: the server derives them from
//! the parent, never from the pusher's input, and each is written under its own
//! author's id (the upsert's author check still holds).

use std::collections::HashMap;

use cairn_model::Annotation;

use super::apply::{text, PushState, PushTx, RowsStatement, TOMBSTONE, UPSERT_ANNOTATION};
use super::portable::{placeholders, Arg};
use super::{Community, Membership, StoreError, User};
use crate::push::{audience_of, Rejection, StoredState};

/// The columns [`PushTx::thread_rows`] reads, in [`ThreadRow`]'s order.
const THREAD_COLUMNS: &str = "id, author_id, parent_id, deleted_at, page_key, created_at, modified_at, body_json";

/// What a push reads of a parent or of a reply.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct ThreadRow {
    pub id: String,
    pub author_id: String,
    pub parent_id: Option<String>,
    pub deleted_at: Option<i64>,
    pub page_key: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
    pub body_json: Option<String>,
}

/// What a reply needs of its parent: where it is and who may see it.
#[derive(Clone, Debug)]
pub(crate) struct Parent {
    pub page_key: String,
    /// The parent's live communities, in community id order.
    pub audience: Vec<Community>,
}

/// A thread's state as this push has left it so far (the parents and replies
/// it wrote), consulted before the database.
#[derive(Default)]
pub(crate) struct Threads {
    /// Annotations (not replies) written by this push: their page and audience.
    parents: HashMap<String, Parent>,
    /// Replies written by this push: their parent, and the row values planned.
    replies: HashMap<String, PlannedReply>,
}

struct PlannedReply {
    parent: String,
    author_id: String,
    annotation: Annotation,
    /// The [`UPSERT_ANNOTATION`] values planned for it.
    values: Vec<Arg>,
}

/// Positions of [`UPSERT_ANNOTATION`]'s values a rewrite changes.
const BODY_JSON: usize = 4;
const AUTHOR_SEQ: usize = 8;
const SHARE_SLUGS: usize = 12;

/// The visibility rule of replies, in one place: a reply's viewers are its
/// parent's. Someone may see (and so answer) an annotation when they wrote it
/// or belong to a community it is shared with.
pub(crate) fn may_see_parent(
    viewer: &User,
    parent_author_id: &str,
    parent_audience: &[Community],
    memberships: &[Membership],
) -> bool {
    parent_author_id == viewer.id || parent_audience.iter().any(|c| memberships.iter().any(|m| m.community.id == c.id))
}

fn not_found(parent_id: &str) -> Rejection {
    Rejection::new("not_found", format!("annotation {parent_id} does not exist; a reply needs a parent you can see"))
}

/// The parent of a reply by `replier`, if they may answer it: the push's own
/// writes first, then the database.
pub(crate) async fn parent_for<T: PushTx>(
    tx: &mut T,
    state: &PushState,
    replier: &User,
    memberships: &[Membership],
    parent_id: &str,
    new_reply: bool,
) -> Result<Result<Parent, Rejection>, StoreError> {
    let (author_id, parent) = match (state.threads.parents.get(parent_id), state.stored.get(parent_id)) {
        (Some(parent), Some(Some(stored))) if !stored.deleted => (stored.author_id.clone(), parent.clone()),
        _ if state.threads.replies.contains_key(parent_id) => return Ok(Err(flat())),
        (_, Some(Some(stored))) if stored.deleted => return Ok(Err(not_found(parent_id))),
        _ => {
            // Held until commit: a concurrent change of the parent's audience
            // (which locks it FOR UPDATE before reading its replies) waits for
            // this reply to commit, or this waits for that change and reads it.
            let lock = if tx.locks_rows() { " FOR SHARE" } else { "" };
            let sql = format!("SELECT {THREAD_COLUMNS} FROM annotations WHERE id = $1{lock}");
            let Some(row) = tx.thread_rows(&sql, &[text(parent_id)]).await?.pop() else {
                return Ok(Err(not_found(parent_id)));
            };
            let audience = live_audience(tx, parent_id).await?;
            let (Some(page_key), None) = (row.page_key, row.deleted_at) else {
                return Ok(Err(not_found(parent_id)));
            };
            if row.parent_id.is_some() && may_see_parent(replier, &row.author_id, &audience, memberships) {
                return Ok(Err(flat()));
            }
            (row.author_id, Parent { page_key, audience })
        }
    };
    if !may_see_parent(replier, &author_id, &parent.audience, memberships) {
        return Ok(Err(not_found(parent_id)));
    }
    if let Some(archived) = parent.audience.iter().find(|c| c.archived).filter(|_| new_reply) {
        return Ok(Err(Rejection::new(
            "archived",
            format!(
                "the annotation is shared with the archived community {:?}; nothing new can be added",
                archived.slug
            ),
        )));
    }
    Ok(Ok(parent))
}

fn flat() -> Rejection {
    Rejection::new("invalid_annotation", "a reply answers an annotation, not another reply: reply to its parent")
}

/// The live communities an annotation is shared with, in community id order.
async fn live_audience<T: PushTx>(tx: &mut T, id: &str) -> Result<Vec<Community>, StoreError> {
    tx.communities(
        "SELECT c.id, c.slug, c.name, c.archived_at FROM annotation_shares s JOIN communities c ON c.id = s.community_id
         WHERE s.annotation_id = $1 AND s.removed_at IS NULL ORDER BY c.id",
        &[text(id)],
    )
    .await
}

impl Threads {
    /// Forgets a deleted annotation: a later reply to it finds it deleted.
    pub(crate) fn forget(&mut self, id: &str) {
        self.parents.remove(id);
        self.replies.remove(id);
    }
}

/// Records what this push wrote of an annotation that is not a reply.
pub(crate) fn wrote_parent(state: &mut PushState, id: &str, page_key: &str, audience: &[Community]) {
    let parent = Parent { page_key: page_key.to_string(), audience: audience.to_vec() };
    state.threads.parents.insert(id.to_string(), parent);
}

/// Records what this push wrote of a reply.
pub(crate) fn wrote_reply(
    state: &mut PushState,
    id: &str,
    parent: &str,
    author: &User,
    annotation: Annotation,
    values: Vec<Arg>,
) {
    let reply = PlannedReply { parent: parent.to_string(), author_id: author.id.clone(), annotation, values };
    state.threads.replies.insert(id.to_string(), reply);
}

/// What happened to a parent that its replies must follow.
pub(crate) enum ParentChange<'a> {
    /// Now shared with exactly these communities.
    Audience(&'a [Community]),
    Deleted,
}

/// A reply brought into line with its parent: its version in the author's feed
/// and its rows are planned like the pusher's own writes.
struct Follower {
    id: String,
    author_id: String,
    created_at: i64,
    modified_at: i64,
    annotation: Annotation,
    /// The planned values, when this push wrote the reply itself.
    planned: Option<Vec<Arg>>,
}

/// Makes the live replies of `parent_id` follow `change` (see the module doc).
pub(crate) async fn follow_parent<T: PushTx>(
    tx: &mut T,
    plan: &mut super::apply::Plan,
    state: &mut PushState,
    pusher: &User,
    parent_id: &str,
    change: ParentChange<'_>,
    now_ms: i64,
) -> Result<(), StoreError> {
    if tx.locks_rows() {
        // Replies being written by concurrent pushes hold the parent FOR SHARE
        // (`parent_for`): wait for them, so that the read below sees them.
        tx.execute("SELECT 1 FROM annotations WHERE id = $1 FOR UPDATE", &[text(parent_id)]).await?;
    }
    let mut followers = Vec::new();
    let sql =
        format!("SELECT {THREAD_COLUMNS} FROM annotations WHERE parent_id = $1 AND deleted_at IS NULL ORDER BY id");
    for row in tx.thread_rows(&sql, &[text(parent_id)]).await? {
        if state.threads.replies.contains_key(&row.id)
            || matches!(state.stored.get(&row.id), Some(Some(s)) if s.deleted)
        {
            continue; // Written by this push: taken from the plan below.
        }
        let Some(annotation) = row.body_json.as_deref().and_then(|j| serde_json::from_str(j).ok()) else { continue };
        followers.push(Follower {
            id: row.id,
            author_id: row.author_id,
            created_at: row.created_at,
            modified_at: row.modified_at,
            annotation,
            planned: None,
        });
    }
    let mut planned: Vec<_> = state.threads.replies.iter().filter(|(_, r)| r.parent == parent_id).collect();
    planned.sort_by(|a, b| a.0.cmp(b.0));
    for (id, reply) in planned {
        if matches!(state.stored.get(id), Some(Some(s)) if s.deleted) {
            continue;
        }
        followers.push(Follower {
            id: id.clone(),
            author_id: reply.author_id.clone(),
            created_at: 0,
            modified_at: 0,
            annotation: reply.annotation.clone(),
            planned: Some(reply.values.clone()),
        });
    }
    if followers.is_empty() {
        return Ok(());
    }
    let unknown: Vec<&str> =
        followers.iter().filter(|f| !state.shares.contains_key(&f.id)).map(|f| f.id.as_str()).collect();
    if !unknown.is_empty() {
        let sql = format!(
            "SELECT s.annotation_id, s.community_id, c.slug FROM annotation_shares s JOIN communities c ON c.id = s.community_id
             WHERE s.annotation_id IN ({}) AND s.removed_at IS NULL ORDER BY s.annotation_id, s.community_id",
            placeholders(1, unknown.len())
        );
        for (id, community_id, slug) in tx.live_shares(&sql, &unknown).await? {
            state.shares.entry(id).or_default().push((community_id, slug));
        }
    }
    for follower in followers {
        let seq = next_seq_of(tx, plan, state, pusher, &follower.author_id).await?;
        let before = state.shares.remove(&follower.id).unwrap_or_default();
        match change {
            ParentChange::Deleted => {
                let values = vec![
                    text(&follower.id),
                    text(&follower.author_id),
                    Arg::Int(now_ms),
                    Arg::Int(now_ms),
                    Arg::Int(now_ms),
                    Arg::Int(seq),
                ];
                plan.annotations.push((&TOMBSTONE, follower.id.clone(), values));
                for (community_id, slug) in &before {
                    plan.share(&follower.id, community_id, slug, None);
                }
                let stored = StoredState { author_id: follower.author_id.clone(), deleted: true, modified_ms: now_ms };
                state.stored.insert(follower.id.clone(), Some(stored));
                state.shares.insert(follower.id.clone(), before);
                state.threads.replies.remove(&follower.id);
            }
            ParentChange::Audience(audience) => {
                let mut annotation = follower.annotation;
                annotation.audience = audience_of(&audience.iter().collect::<Vec<_>>());
                let body_json = serde_json::to_string(&annotation).map_err(|e| StoreError::Backend(e.to_string()))?;
                let share_slugs = audience.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>().join(" ");
                match follower.planned {
                    Some(mut values) => {
                        values[BODY_JSON] = Arg::OptText(Some(body_json));
                        values[AUTHOR_SEQ] = Arg::Int(seq);
                        values[SHARE_SLUGS] = Arg::OptText(Some(share_slugs));
                        if let Some(reply) = state.threads.replies.get_mut(&follower.id) {
                            reply.annotation = annotation;
                            reply.values = values.clone();
                        }
                        plan.annotations.push((&UPSERT_ANNOTATION, follower.id.clone(), values));
                    }
                    None => {
                        let values = vec![
                            text(&follower.id),
                            text(&follower.author_id),
                            Arg::Int(follower.created_at),
                            Arg::Int(follower.modified_at),
                            Arg::OptText(Some(body_json)),
                            Arg::OptText(Some(share_slugs)),
                            Arg::Int(seq),
                        ];
                        plan.annotations.push((&FOLLOW_PARENT, follower.id.clone(), values));
                    }
                }
                for community in audience {
                    plan.share(&follower.id, &community.id, &community.slug, None);
                }
                for (community_id, slug) in before.iter().filter(|(id, _)| !audience.iter().any(|c| &c.id == id)) {
                    plan.share(&follower.id, community_id, slug, Some(now_ms));
                }
                let after = audience.iter().map(|c| (c.id.clone(), c.slug.clone())).collect();
                state.shares.insert(follower.id, after);
            }
        }
    }
    Ok(())
}

/// The next number of `author_id`'s personal feed. The pusher's counter is
/// held by the push (written back at its end); another author's is taken in
/// the database at once (their row stays locked until commit, so their feed
/// still follows commit order; on PostgreSQL its trigger announces it).
async fn next_seq_of<T: PushTx>(
    tx: &mut T,
    plan: &mut super::apply::Plan,
    state: &mut PushState,
    pusher: &User,
    author_id: &str,
) -> Result<i64, StoreError> {
    if author_id == pusher.id {
        return Ok(state.next_author_seq());
    }
    let seq = tx
        .integers("UPDATE users SET next_seq = next_seq + 1 WHERE id = $1 RETURNING next_seq - 1", &[text(author_id)])
        .await?
        .first()
        .copied()
        .ok_or_else(|| StoreError::Backend(format!("no counter row for user {author_id}")))?;
    plan.other_feeds.push((author_id.to_string(), seq));
    Ok(seq)
}

/// A reply rewritten to follow its parent: only its audience (in the JSON and
/// `share_slugs`) and its version change. It exists, so the insert never happens.
const FOLLOW_PARENT: RowsStatement = RowsStatement {
    into: "annotations (id, author_id, created_at, modified_at, body_json, share_slugs, author_seq)",
    columns: 7,
    then: "ON CONFLICT (id) DO UPDATE SET body_json = excluded.body_json, share_slugs = excluded.share_slugs,
         author_seq = excluded.author_seq
     WHERE annotations.author_id = excluded.author_id",
};
