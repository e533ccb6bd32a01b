//! Where the server keeps its state, behind one trait so that the HTTP layer
//! does not know which database it talks to.
//!
//! **Architecture invariant:** SQL lives only in this module's backends.
//! [`sqlite`] (the zero-configuration default) and [`postgres`] (selected by a
//! `postgres://` URL) each own their connection setup, transaction start and
//! `migrations/<backend>/`; the queries themselves are written once, in the
//! portable subset both databases accept (`$n` parameters, `ON CONFLICT`,
//! `RETURNING`), in [`portable`], and instantiated per backend.
//! What a push may do is decided by the pure functions in [`crate::push`], which
//! every backend calls inside its write transaction, so the rules cannot drift
//! between backends.
//!
//! Times are passed in as Unix milliseconds by the caller: the store reads no clock,
//! which keeps expiry and ordering testable.

#[macro_use]
mod portable;
mod apply;
mod feed_cache;
mod lent_connections;
mod page_cache;
pub mod postgres;
mod replies;
pub mod sqlite;

use async_trait::async_trait;
use cairn_protocol::api::{ChangeKind, CommunityInfo, MutationResult, Role, SharedAnnotation, UserInfo};

use crate::push::PreparedMutation;
use crate::tokens::NewToken;

/// A person with an account on this server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
}

impl User {
    pub fn info(&self) -> UserInfo {
        UserInfo { id: self.id.clone(), username: self.username.clone(), display_name: self.display_name.clone() }
    }

    /// The IRI that names this user as a W3C `creator`.
    pub fn agent_iri(&self) -> String {
        format!("urn:cairn:user:{}", self.id)
    }
}

/// A group whose members see each other's shared annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Community {
    /// Internal id; never leaves the server (clients know communities by slug).
    pub id: String,
    pub slug: String,
    pub name: String,
    /// An archived community is read-only: nothing new can be shared with it.
    pub archived: bool,
}

impl Community {
    /// The IRI that names this community in an annotation's W3C `audience`.
    pub fn audience_iri(&self) -> String {
        format!("urn:cairn:community:{}", self.slug)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub community: Community,
    pub role: Role,
}

impl Membership {
    pub fn info(&self) -> CommunityInfo {
        CommunityInfo { id: self.community.slug.clone(), name: self.community.name.clone(), role: self.role }
    }

    /// Owners and moderators manage a community (rename, invite, remove members).
    pub fn can_manage(&self) -> bool {
        matches!(self.role, Role::Owner | Role::Moderator)
    }
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Moderator => "moderator",
        Role::Member => "member",
    }
}

pub fn parse_role(s: &str) -> Option<Role> {
    match s {
        "owner" => Some(Role::Owner),
        "moderator" => Some(Role::Moderator),
        "member" => Some(Role::Member),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing to create exists already (a username or a community slug).
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    NotFound(String),
    /// Two writers collided (a PostgreSQL deadlock or serialization failure, a
    /// busy SQLite file); the whole transaction may be retried.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// The change would leave a community without an owner; nothing was changed.
    #[error("a community needs at least one owner; make someone else owner first")]
    LastOwner,
    /// The database failed; the message is for logs, not for clients.
    #[error("storage failure: {0}")]
    Backend(String),
}

/// What a push did: the per-mutation results, and the feed positions it created,
/// which the live stream announces once the transaction has committed.
#[derive(Clone, Debug, Default)]
pub struct PushOutcome {
    pub results: Vec<MutationResult>,
    pub notices: Vec<ChangeNotice>,
}

/// "This feed is now at `seq`". A community feed (`community` = its slug) or,
/// with `community` = `None`, the personal feed of `author_id`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangeNotice {
    pub community: Option<String>,
    pub author_id: String,
    pub seq: i64,
}

/// One entry of a change feed, in sequence order.
#[derive(Clone, Debug)]
pub struct FeedRow {
    pub seq: i64,
    /// The annotation's `urn:uuid:` id.
    pub id: String,
    pub kind: ChangeKind,
    /// The current state when `kind` is `Upsert`; shared, because a feed's rows
    /// are the same for nearly every reader (PostgreSQL serves them from memory).
    pub annotation: Option<std::sync::Arc<ServedAnnotation>>,
}

/// An annotation as a viewer may see it, ready to send: [`crate::wire`] writes it as
/// the JSON of a [`SharedAnnotation`], with `annotation_json` copied in as it is.
/// Feeds and page lookups are most of a server's traffic; parsing and
/// re-serializing every annotation of every page of them was a quarter of the
/// server's time.
#[derive(Clone, Debug)]
pub struct ServedAnnotation {
    /// The annotation as a JSON object: the stored JSON itself (written by this
    /// server from a validated `Annotation`) whenever the viewer may see all of it.
    pub annotation_json: String,
    pub author: UserInfo,
    pub communities: Vec<String>,
    pub note_html: Option<String>,
    /// What [`crate::wire`] writes for it, once written, when it is sent again
    /// and again (the PostgreSQL feed cache keeps it): escaping its strings was
    /// the larger part of writing a feed page.
    pub wire_json: std::sync::OnceLock<Vec<u8>>,
}

/// An annotation as a viewer may see it, with what the W3C protocol also needs.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAnnotation {
    pub shared: SharedAnnotation,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// W3C properties outside Cairn's model (`canonical`, `via`), as a JSON object.
    pub extra_json: Option<String>,
}

/// Which annotations an W3C Annotation Container holds.
#[derive(Clone, Debug)]
pub enum ContainerScope {
    /// Live annotations shared with this community (the viewer must be a member).
    Community(Community),
    /// The viewer's own annotations shared with nobody.
    Private,
}

/// Filters of `GET /v1/search`; all optional, combined with AND, always scoped
/// to what the viewer may see.
#[derive(Clone, Debug, Default)]
pub struct SearchFilter {
    pub page_key: Option<String>,
    pub community_id: Option<String>,
    pub tag: Option<String>,
    pub author_username: Option<String>,
    /// Matched case-insensitively as a substring of the note, the quote and the tags.
    pub text: Option<String>,
    pub created_from_ms: Option<i64>,
    pub created_before_ms: Option<i64>,
    /// Keyset cursor: only rows strictly after (created_ms, id) in newest-first order.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user: UserInfo,
    pub role: Role,
}

/// An invite that can still be used; `id` is its code hash's first [`INVITE_ID_LEN`] hex digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    pub id: String,
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub uses_left: Option<i64>,
}

/// How many hex digits of an invite's code hash name it.
pub const INVITE_ID_LEN: usize = 16;

/// Why an invite code did not let someone join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinOutcome {
    Joined(Community),
    AlreadyMember(Community),
    /// Unknown, expired or used up: deliberately one answer for all three.
    InvalidCode,
}

/// What a read that checks its caller's bearer token itself found.
///
/// The sync pulls and page lookups check the token in the same step as they
/// read (one statement on PostgreSQL, one hand-off to a blocking thread on
/// SQLite): they are most of a server's requests, and the token check was one
/// of their two round trips to PostgreSQL. Checked every time, never
/// remembered: a token revoked by another process stops working at once.
#[derive(Debug)]
pub enum WithToken<T> {
    /// The token is unknown, expired or revoked: nothing was read.
    Invalid,
    Valid(T),
}

/// A live token as its owner sees it: never its secret or hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub prefix: String,
    pub label: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// The token the request that asked carries.
    pub current: bool,
}

/// Which of a user's tokens a password change revokes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeTokens<'a> {
    Nothing,
    /// Every unrevoked token but the one with this hash (the request's own).
    AllBut(&'a str),
    All,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Answers when the database is reachable (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Waits for open connections to finish and closes the pool.
    async fn close(&self);

    /// The feed positions the database itself announces as pushes commit, every
    /// server process's on the database included, or `None` when the server
    /// announces its own pushes ([`PushOutcome::notices`]). PostgreSQL: the
    /// committing transaction NOTIFYs (so several servers behind one load
    /// balancer all hear every change, and only committed ones), each store
    /// LISTENs from the moment it opens, and its pushes' outcomes carry no
    /// notices. SQLite has one server process: `None`.
    fn changes_announced(&self) -> Option<tokio::sync::broadcast::Receiver<ChangeNotice>> {
        None
    }

    async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: Option<&str>,
        now_ms: i64,
    ) -> Result<User, StoreError>;

    /// The user with this username and their password hash, if they have one.
    async fn user_with_password(&self, username: &str) -> Result<Option<(User, Option<String>)>, StoreError>;

    /// Sets a user's password hash and revokes the tokens `revoke` names, in one
    /// transaction; answers how many tokens were revoked.
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        revoke: RevokeTokens<'_>,
        now_ms: i64,
    ) -> Result<u64, StoreError>;

    async fn create_community(&self, slug: &str, name: &str, now_ms: i64) -> Result<Community, StoreError>;

    async fn community(&self, slug: &str) -> Result<Option<Community>, StoreError>;

    async fn rename_community(&self, community_id: &str, name: &str) -> Result<(), StoreError>;

    /// Archives (`Some(time)`) or restores (`None`) a community.
    async fn set_archived(&self, community_id: &str, archived_at_ms: Option<i64>) -> Result<(), StoreError>;

    /// Makes `user_id` a member of the community with `role`, or changes their role;
    /// [`StoreError::LastOwner`] if that demotes the community's last owner
    /// (checked in the same transaction as the change).
    async fn set_membership(
        &self,
        user_id: &str,
        community_id: &str,
        role: Role,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Ends a membership; answers whether there was one. [`StoreError::LastOwner`]
    /// if it is the community's last owner's (checked in the same transaction).
    async fn remove_membership(&self, user_id: &str, community_id: &str) -> Result<bool, StoreError>;

    /// The user's communities, ordered by slug.
    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError>;

    /// A community's members, ordered by username.
    async fn members(&self, community_id: &str) -> Result<Vec<Member>, StoreError>;

    async fn create_invite(
        &self,
        community_id: &str,
        created_by: &str,
        code_hash: &str,
        expires_at_ms: Option<i64>,
        uses: Option<i64>,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// The community's invites that can still be used at `now_ms` (not expired, uses
    /// left), newest first.
    async fn invites(&self, community_id: &str, now_ms: i64) -> Result<Vec<Invite>, StoreError>;

    /// Revokes the community's invite named `id`; answers whether there was one.
    async fn revoke_invite(&self, community_id: &str, id: &str) -> Result<bool, StoreError>;

    /// Redeems an invite code (its hash) for `user_id` in one transaction.
    async fn redeem_invite(&self, code_hash: &str, user_id: &str, now_ms: i64) -> Result<JoinOutcome, StoreError>;

    /// Stores a new token's hash; `label` says what it is for (shown to its owner).
    async fn insert_token(
        &self,
        user_id: &str,
        token: &NewToken,
        label: &str,
        expires_at_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// The live (not expired, not revoked) tokens of `user_id`, newest first;
    /// `current` marks the one whose hash is `current_hash`.
    async fn live_tokens(&self, user_id: &str, current_hash: &str, now_ms: i64) -> Result<Vec<TokenInfo>, StoreError>;

    /// Revokes `user_id`'s live token with this display prefix (nobody else's);
    /// returns how many were revoked.
    async fn revoke_own_token(&self, user_id: &str, prefix: &str, now_ms: i64) -> Result<u64, StoreError>;

    /// Records that the token with this hash was used at `now_ms`.
    async fn touch_token(&self, token_hash: &str, now_ms: i64) -> Result<(), StoreError>;

    /// The owner of a live (not expired, not revoked) token with this hash.
    async fn user_for_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>, StoreError>;

    /// Revokes the live tokens with exactly this display prefix or this hash;
    /// returns how many were revoked.
    async fn revoke_tokens(&self, prefix_or_hash: &str, now_ms: i64) -> Result<u64, StoreError>;

    /// Applies one batch in a single write transaction and answers one result
    /// per mutation, in order. Nothing is visible to readers until all are applied.
    /// With a `device_id`, each (author, device, seq) is applied at most once;
    /// without one (W3C protocol writes), every mutation is applied.
    async fn apply_push(
        &self,
        author: &User,
        device_id: Option<&str>,
        mutations: Vec<PreparedMutation>,
        now_ms: i64,
    ) -> Result<PushOutcome, StoreError>;

    /// The live annotations on a page that `viewer` may see: their own and those
    /// shared with a community they belong to. Newest first.
    async fn page_annotations(
        &self,
        viewer: &User,
        page_key: &str,
    ) -> Result<Vec<std::sync::Arc<ServedAnnotation>>, StoreError>;

    /// The change feed of the community `slug` after `since`, in sequence order, as
    /// `viewer` sees it; `None` when they are not a member (or there is no such
    /// community). Membership and feed are read in one snapshot.
    async fn community_changes(
        &self,
        viewer: &User,
        slug: &str,
        since: i64,
        limit: i64,
    ) -> Result<Option<Vec<FeedRow>>, StoreError>;

    /// The viewer's own annotations' change feed after `since`.
    async fn own_changes(&self, viewer: &User, since: i64, limit: i64) -> Result<Vec<FeedRow>, StoreError>;

    /// [`Store::page_annotations`] for the holder of the token `token_hash`
    /// ([`Store::user_for_token`]), checked in the same step.
    async fn page_annotations_for_token(
        &self,
        token_hash: &str,
        now_ms: i64,
        page_key: &str,
    ) -> Result<WithToken<Vec<std::sync::Arc<ServedAnnotation>>>, StoreError>;

    /// [`Store::community_changes`] for the holder of the token `token_hash`
    /// ([`Store::user_for_token`]), checked in the same step.
    async fn community_changes_for_token(
        &self,
        token_hash: &str,
        now_ms: i64,
        slug: &str,
        since: i64,
        limit: i64,
    ) -> Result<WithToken<Option<Vec<FeedRow>>>, StoreError>;

    /// Annotations matching `filter` that `viewer` may see, newest first.
    async fn search(&self, viewer: &User, filter: &SearchFilter) -> Result<Vec<StoredAnnotation>, StoreError>;

    /// A container's size and latest modification time.
    async fn container_summary(&self, viewer: &User, scope: &ContainerScope) -> Result<(i64, Option<i64>), StoreError>;

    /// One page of a container, oldest first.
    async fn container_page(
        &self,
        viewer: &User,
        scope: &ContainerScope,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<StoredAnnotation>, StoreError>;

    /// One annotation of a container, if the viewer may see it there.
    async fn container_annotation(
        &self,
        viewer: &User,
        scope: &ContainerScope,
        id: &str,
    ) -> Result<Option<StoredAnnotation>, StoreError>;
}
