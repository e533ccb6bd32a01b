//! Bodies of the Cairn server's JSON API, version 1 (`/v1/...`).
//!
//! Every error response has the body [`ErrorBody`]: a stable machine-readable
//! `code` and a message that says what was wrong and what to do.

use cairn_model::Annotation;
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks, sent as the `Cairn-Protocol` header.
pub const PROTOCOL_VERSION: u32 = 1;
pub const PROTOCOL_HEADER: &str = "cairn-protocol";
/// Most mutations one push may carry; the extension batches to this.
pub const MAX_PUSH_MUTATIONS: usize = 100;
/// Longest device id accepted.
pub const MAX_DEVICE_ID_CHARS: usize = 64;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub username: String,
    pub password: String,
}

/// `PUT /v1/me/password`: the caller changes their own password.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// At least 8 characters.
    pub new_password: String,
    /// Revoke every other token of the account (its other signed-in devices and
    /// its API tokens); the token this request carries stays valid. Default true:
    /// a password is mostly changed because someone else may know it.
    #[serde(default = "signs_out_elsewhere")]
    pub sign_out_elsewhere: bool,
}

fn signs_out_elsewhere() -> bool {
    true
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ChangePasswordResponse {
    /// How many of the account's other tokens were revoked.
    pub revoked_tokens: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SignInResponse {
    /// A bearer token, shown this once; the server keeps only its hash.
    pub token: String,
    pub user: UserInfo,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    pub display_name: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Moderator,
    Member,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CommunityInfo {
    /// The community's slug, e.g. `platform-eng`: stable, used in URLs and in pushes.
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// `GET /v1/me`: who the token belongs to and where they may share.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MeResponse {
    pub user: UserInfo,
    pub communities: Vec<CommunityInfo>,
}

/// `POST /v1/sync/push`: a batch of one device's mutations, applied in one transaction.
///
/// `(device_id, seq)` makes each mutation idempotent: the server skips any `seq`
/// it has already applied for that device, so a retried push is harmless.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    pub device_id: String,
    pub mutations: Vec<Mutation>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
// Upserts, the big variant, are most of a push: boxing the annotation would add an allocation
// to each of them and save nothing.
#[allow(clippy::large_enum_variant)]
pub enum Mutation {
    /// Create or replace one of the caller's annotations and share it with
    /// `communities` (slugs; empty = private to the author).
    Upsert { seq: u64, annotation: Annotation, communities: Vec<String> },
    /// Delete one of the caller's annotations (the server keeps a tombstone).
    Delete { seq: u64, id: String },
}

impl Mutation {
    pub fn seq(&self) -> u64 {
        match self {
            Mutation::Upsert { seq, .. } | Mutation::Delete { seq, .. } => *seq,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PushResponse {
    /// One result per mutation, in request order.
    pub results: Vec<MutationResult>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MutationResult {
    pub seq: u64,
    pub status: MutationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MutationStatus {
    /// Written in this push.
    Applied,
    /// Already applied by an earlier push with the same (device, seq).
    Duplicate,
    /// Refused for a reason the client must show the user (see `error`);
    /// retrying the same mutation will not help.
    Rejected,
}

/// `GET /v1/annotations?url=...`: what the caller may see on a page.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PageAnnotationsResponse {
    pub page_key: String,
    pub annotations: Vec<SharedAnnotation>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SharedAnnotation {
    pub annotation: Annotation,
    pub author: UserInfo,
    /// The communities it is shared with that the caller belongs to.
    pub communities: Vec<String>,
    /// The note rendered to sanitized HTML by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_html: Option<String>,
}

/// Most rows one page of a change feed or search returns.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// `GET /v1/communities/{slug}/changes?since=&limit=` and `GET /v1/me/changes`:
/// a page of a change feed in sequence order. Apply the page and store `next`
/// together; ask again with `since=next` while `more` is true.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ChangesResponse {
    pub changes: Vec<Change>,
    /// The cursor to pass as `since` next time (the last `seq` here, or `since` if empty).
    pub next: u64,
    pub more: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Change {
    pub seq: u64,
    /// The annotation's `urn:uuid:` id.
    pub id: String,
    pub kind: ChangeKind,
    /// The annotation as it is now, for `upsert` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation: Option<SharedAnnotation>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Created or edited: replace the local copy with `annotation`.
    Upsert,
    /// No longer shared with this community: drop the local copy.
    Unshared,
    /// Deleted by its author (a tombstone): drop the local copy.
    Deleted,
}

/// One message of the live stream `GET /v1/events` (server-sent events, event
/// name `change`): a feed moved to `seq`; pull it to learn what changed.
/// `community` is a slug, or `null` for the caller's own feed (`/v1/me/changes`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    pub community: Option<String>,
    pub seq: u64,
}

/// `GET /v1/search`: matches newest first; pass `cursor` back for the next page.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SearchResponse {
    pub annotations: Vec<SharedAnnotation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /v1/communities`: create a community; the caller becomes its owner.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateCommunityRequest {
    pub slug: String,
    pub name: String,
}

/// A community slug made from its name, as `POST /v1/communities` accepts it: ASCII
/// letters and digits lowercased, anything else a single `-`, at most 64 bytes
/// ("Payments & SRE" -> `payments-sre`; a name with no ASCII letter gives `community`).
pub fn slug_for(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 64 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "community".to_string()
    } else {
        slug[..slug.len().min(64)].trim_end_matches('-').to_string()
    }
}

/// `PATCH /v1/communities/{slug}`: rename (owner or moderator), archive or restore (owner).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateCommunityRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// `GET /v1/communities/{slug}`: the community and its members (members only).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CommunityDetail {
    pub id: String,
    pub name: String,
    pub archived: bool,
    pub members: Vec<MemberInfo>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    pub user: UserInfo,
    pub role: Role,
}

/// `PUT /v1/communities/{slug}/members/{username}`: set a member's role (owner only).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    pub role: Role,
}

/// `POST /v1/communities/{slug}/invites` (owner or moderator).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateInviteRequest {
    /// Usable once (the default) or until it expires.
    #[serde(default)]
    pub multi_use: bool,
    /// Hours until the code expires; default 168 (a week).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_hours: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InviteResponse {
    /// Shown once; the server keeps only its hash.
    pub code: String,
    pub expires_at: String,
    /// What the invite is listed and revoked by ([`InviteInfo::id`]); not the code.
    #[serde(default)]
    pub id: String,
}

/// One invite that can still be used, as `GET /v1/communities/{slug}/invites` lists it
/// (owners and moderators). The code itself is never listed: the server does not keep it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InviteInfo {
    /// The first 16 hex digits of the code's hash: names the invite, reveals nothing of the code.
    pub id: String,
    /// Username of who made it.
    pub created_by: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Joins left; `None`: any number until it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses_left: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct InvitesResponse {
    pub invites: Vec<InviteInfo>,
}

/// `POST /v1/join`: join a community with an invite code.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    pub code: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: ApiError,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// Stable, machine-readable: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `payload_too_large`, `invalid_annotation`, `rate_limited`, `internal`...
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_wire_form_is_tagged_by_op() {
        let json = serde_json::json!({
            "device_id": "d1",
            "mutations": [{"op": "delete", "seq": 3, "id": "urn:uuid:0190f0c2-e2d8-7c3e-8b4a-1b2c3d4e5f60"}]
        });
        let push: PushRequest = serde_json::from_value(json).unwrap();
        assert_eq!(push.mutations[0].seq(), 3);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = serde_json::json!({"device_id": "d1", "mutations": [], "author": "someone-else"});
        let err = serde_json::from_value::<PushRequest>(json).unwrap_err();
        assert!(err.to_string().contains("unknown field `author`"), "{err}");
    }
}

#[cfg(test)]
mod slug_tests {
    use super::slug_for;

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(slug_for("Payments & SRE"), "payments-sre");
        assert_eq!(slug_for("  --Café Platform 2--"), "caf-platform-2");
        assert_eq!(slug_for("日本語"), "community");
        let long = slug_for(&"ab ".repeat(60));
        assert!(long.len() <= 64 && !long.ends_with('-'), "{long}");
    }
}
