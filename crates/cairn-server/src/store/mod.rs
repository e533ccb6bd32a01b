//! Where the server keeps its state, behind one trait so that the HTTP layer
//! does not know which database it talks to.
//!
//! **Architecture invariant:** SQL lives only in backend modules (today
//! [`sqlite`]; PostgreSQL later, with its own `migrations/postgres/`).
//! What a push may do is decided by the pure functions in [`crate::push`], which
//! every backend calls inside its write transaction, so the rules cannot drift
//! between backends.
//!
//! Times are passed in as Unix milliseconds by the caller: the store reads no clock,
//! which keeps expiry and ordering testable.

pub mod sqlite;

use async_trait::async_trait;
use cairn_protocol::api::{CommunityInfo, MutationResult, Role, SharedAnnotation, UserInfo};

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
    /// The database failed; the message is for logs, not for clients.
    #[error("storage failure: {0}")]
    Backend(String),
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: Option<&str>,
        now_ms: i64,
    ) -> Result<User, StoreError>;

    /// The user with this username and their password hash, if they have one.
    async fn user_with_password(&self, username: &str) -> Result<Option<(User, Option<String>)>, StoreError>;

    async fn create_community(&self, slug: &str, name: &str, now_ms: i64) -> Result<Community, StoreError>;

    async fn community(&self, slug: &str) -> Result<Option<Community>, StoreError>;

    /// Makes `user_id` a member of the community with `role`, or changes their role.
    async fn set_membership(&self, user_id: &str, community_id: &str, role: Role, now_ms: i64)
        -> Result<(), StoreError>;

    /// The user's communities, ordered by slug.
    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError>;

    async fn insert_token(
        &self,
        user_id: &str,
        token: &NewToken,
        expires_at_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// The owner of a live (not expired, not revoked) token with this hash.
    async fn user_for_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>, StoreError>;

    /// Revokes the live tokens with exactly this display prefix or this hash;
    /// returns how many were revoked.
    async fn revoke_tokens(&self, prefix_or_hash: &str, now_ms: i64) -> Result<u64, StoreError>;

    /// Applies one device's batch in a single write transaction and answers one
    /// result per mutation, in order. Nothing is visible to readers until all are applied.
    async fn apply_push(
        &self,
        author: &User,
        device_id: &str,
        mutations: Vec<PreparedMutation>,
        now_ms: i64,
    ) -> Result<Vec<MutationResult>, StoreError>;

    /// The live annotations on a page that `viewer` may see: their own and those
    /// shared with a community they belong to. Newest first.
    async fn page_annotations(&self, viewer: &User, page_key: &str) -> Result<Vec<SharedAnnotation>, StoreError>;
}
