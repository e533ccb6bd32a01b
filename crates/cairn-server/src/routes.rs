//! The `/v1` handlers. Each one reads its caller from the token ([`Caller`]),
//! checks what the request alone can tell, and leaves the rest to the store.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json as JsonResponse;
use cairn_model::{format_rfc3339_ms, parse_rfc3339_ms, PageKey};
use cairn_protocol::api::{
    ChangeEvent, ChangePasswordRequest, ChangePasswordResponse, CommunityDetail, CommunityInfo, CreateCommunityRequest,
    CreateInviteRequest, InviteInfo, InviteResponse, InvitesResponse, JoinRequest, MeResponse, MemberInfo, PushRequest,
    PushResponse, Role, SearchResponse, SetRoleRequest, SignInRequest, SignInResponse, UpdateCommunityRequest,
    MAX_PAGE_LIMIT, MAX_PUSH_MUTATIONS,
};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::extract::{invalid_token, BearerToken, Caller, ClientAddr, Json, Query};
use crate::ops::SignInThrottle;
use crate::push::{check_device_id, prepare};
use crate::store::{
    ChangeNotice, FeedRow, JoinOutcome, Membership, RevokeTokens, SearchFilter, User, WithToken, INVITE_ID_LEN,
};
use crate::wire::{self, JsonBytes};
use crate::{admin, now_ms, passwords, tokens, AppState};

/// How long a token from sign-in lasts. Long enough that a browser extension
/// rarely asks again, short enough that a forgotten laptop stops working.
pub const SESSION_TOKEN_DAYS: i64 = 90;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Json(request): Json<SignInRequest>,
) -> Result<Response, ApiError> {
    let throttle_keys = SignInThrottle::keys(&request.username, address);
    // Checked before the password, and a correct password is refused too: otherwise
    // an attacker would keep guessing and learn the password from the one answer that differs.
    state.sign_in_throttle.check(&throttle_keys, Instant::now()).map_err(|retry_after_secs| {
        state.metrics.sign_ins_throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ApiError::TooManySignIns { retry_after_secs }
    })?;
    let failed = || {
        state.sign_in_throttle.record_failure(&throttle_keys, Instant::now());
        ApiError::InvalidCredentials
    };
    if request.password.len() > passwords::MAX_BYTES {
        return Err(failed());
    }
    let found = state.store.user_with_password(&request.username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    let password = request.password;
    let matches = hashing(&state, "password check", move || passwords::verify(&password, hash.as_deref())).await?;
    let user = match (user, matches) {
        (Some(user), true) => user,
        _ => return Err(failed()),
    };
    state.sign_in_throttle.forget(&throttle_keys[0]);
    let token = tokens::generate();
    let now = now_ms();
    // The label tells the owner's devices apart in GET /v1/me/tokens.
    let label = match headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()) {
        Some(agent) => format!("signed in from {}", agent.chars().take(120).collect::<String>()),
        None => "signed in".into(),
    };
    state.store.insert_token(&user.id, &token, &label, Some(now + SESSION_TOKEN_DAYS * DAY_MS), now).await?;
    tracing::info!(user = %user.username, token = %token.prefix, "signed in");
    Ok(JsonResponse(SignInResponse { token: token.secret, user: user.info() }).into_response())
}

/// Runs argon2 (tens of milliseconds of CPU) off the async workers, in one of
/// the few slots of [`passwords::HashingSlots`].
async fn hashing<T: Send + 'static>(
    state: &AppState,
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    state.password_slots.run(work).await.map_err(|e| ApiError::Internal(format!("{what} failed: {e}")))
}

/// Signs out: revokes the token the request carries.
pub async fn sign_out(
    State(state): State<AppState>,
    BearerToken(token_hash): BearerToken,
) -> Result<StatusCode, ApiError> {
    let now = now_ms();
    let user = state.store.user_for_token(&token_hash, now).await?.ok_or_else(invalid_token)?;
    state.store.revoke_tokens(&token_hash, now).await?;
    tracing::info!(user = %user.username, "signed out");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/me/tokens`: one of the caller's live tokens, never its secret.
#[derive(Serialize)]
pub struct TokenView {
    /// The token's first characters (`cairn_` and 8 more), which name it.
    prefix: String,
    label: String,
    created: String,
    /// To within 10 minutes; `null` if never used since it was made.
    last_used: Option<String>,
    /// `null`: never expires.
    expires: Option<String>,
    /// The token this request carries.
    current: bool,
}

#[derive(Serialize)]
pub struct TokenList {
    tokens: Vec<TokenView>,
}

pub async fn my_tokens(
    State(state): State<AppState>,
    BearerToken(token_hash): BearerToken,
) -> Result<JsonResponse<TokenList>, ApiError> {
    let now = now_ms();
    let user = state.store.user_for_token(&token_hash, now).await?.ok_or_else(invalid_token)?;
    let tokens = state.store.live_tokens(&user.id, &token_hash, now).await?;
    Ok(JsonResponse(TokenList {
        tokens: tokens
            .into_iter()
            .map(|t| TokenView {
                prefix: t.prefix,
                label: t.label,
                created: format_rfc3339_ms(t.created_at),
                last_used: t.last_used_at.map(format_rfc3339_ms),
                expires: t.expires_at.map(format_rfc3339_ms),
                current: t.current,
            })
            .collect(),
    }))
}

/// Revokes one of the caller's own tokens, named by its prefix.
pub async fn revoke_my_token(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(prefix): Path<String>,
) -> Result<StatusCode, ApiError> {
    if prefix.len() != tokens::DISPLAY_PREFIX_CHARS || !prefix.starts_with(tokens::TOKEN_PREFIX) {
        return Err(ApiError::BadRequest(format!(
            "a token prefix is the first {} characters of a token, like cairn_AbCdEfGh; GET /v1/me/tokens lists yours",
            tokens::DISPLAY_PREFIX_CHARS
        )));
    }
    if state.store.revoke_own_token(&user.id, &prefix, now_ms()).await? == 0 {
        return Err(ApiError::NotFound(format!(
            "none of your live tokens starts with {prefix}; GET /v1/me/tokens lists them"
        )));
    }
    tracing::info!(user = %user.username, token = %prefix, "revoked one of their tokens");
    Ok(StatusCode::NO_CONTENT)
}

/// The caller changes their own password, proving they know the current one;
/// by default every other token of theirs is revoked in the same transaction.
pub async fn change_password(
    State(state): State<AppState>,
    BearerToken(token_hash): BearerToken,
    Json(request): Json<ChangePasswordRequest>,
) -> Result<JsonResponse<ChangePasswordResponse>, ApiError> {
    let user = state.store.user_for_token(&token_hash, now_ms()).await?.ok_or_else(invalid_token)?;
    passwords::check_new(&request.new_password).map_err(|e| ApiError::BadRequest(format!("\"new_password\": {e}")))?;
    let wrong = || ApiError::Forbidden("the current password is wrong; nothing was changed".into());
    if request.current_password.len() > passwords::MAX_BYTES {
        return Err(wrong());
    }
    let (_, stored) = state.store.user_with_password(&user.username).await?.ok_or_else(invalid_token)?;
    let Some(stored) = stored else {
        return Err(ApiError::Forbidden(
            "this account has no password (it uses issued tokens only); an administrator sets one with `cairn-server user passwd`".into(),
        ));
    };
    let current = request.current_password;
    if !hashing(&state, "password check", move || passwords::verify(&current, Some(&stored))).await? {
        return Err(wrong());
    }
    let new_password = request.new_password;
    let hash = hashing(&state, "password hashing", move || passwords::hash(&new_password))
        .await?
        .map_err(|e| ApiError::Internal(format!("cannot hash the password: {e}")))?;
    let revoke = if request.sign_out_elsewhere { RevokeTokens::AllBut(&token_hash) } else { RevokeTokens::Nothing };
    let revoked_tokens = state.store.set_password(&user.id, &hash, revoke, now_ms()).await?;
    tracing::info!(user = %user.username, revoked_tokens, "changed their password");
    Ok(JsonResponse(ChangePasswordResponse { revoked_tokens }))
}

/// Also advertises the caller's private W3C Annotation Container (service discovery).
pub async fn me(State(state): State<AppState>, Caller(user): Caller) -> Result<Response, ApiError> {
    let communities = state.store.memberships(&user.id).await?.iter().map(|m| m.info()).collect();
    let mut response = JsonResponse(MeResponse { user: user.info(), communities }).into_response();
    let link = format!("</annotations/{}/>; rel=\"{}\"", crate::w3c::PRIVATE_CONTAINER, crate::w3c::ANNOTATION_SERVICE);
    if let Ok(value) = HeaderValue::from_str(&link) {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

pub async fn push(
    State(state): State<AppState>,
    Caller(user): Caller,
    Json(request): Json<PushRequest>,
) -> Result<JsonResponse<PushResponse>, ApiError> {
    check_device_id(&request.device_id)?;
    if request.mutations.len() > MAX_PUSH_MUTATIONS {
        return Err(ApiError::BatchTooLarge { got: request.mutations.len(), max: MAX_PUSH_MUTATIONS });
    }
    let now = now_ms();
    let prepared = request.mutations.into_iter().map(|m| prepare(m, now)).collect::<Result<Vec<_>, _>>()?;
    let outcome = state.store.apply_push(&user, Some(&request.device_id), prepared, now).await?;
    state.announce(outcome.notices);
    Ok(JsonResponse(PushResponse { results: outcome.results }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    url: String,
}

pub async fn page_annotations(
    State(state): State<AppState>,
    BearerToken(token_hash): BearerToken,
    Query(query): Query<PageQuery>,
) -> Result<JsonBytes, ApiError> {
    let key = PageKey::from_url(&query.url).map_err(|e| ApiError::BadRequest(format!("\"url\": {e}")))?;
    let annotations = match state.store.page_annotations_for_token(&token_hash, now_ms(), key.as_str()).await? {
        WithToken::Invalid => return Err(invalid_token()),
        WithToken::Valid(annotations) => annotations,
    };
    Ok(wire::page(key.as_str(), &annotations))
}

/// Rows one page of a feed or search returns when the client does not say.
const DEFAULT_PAGE_LIMIT: u32 = 100;

fn page_limit(limit: Option<u32>) -> Result<i64, ApiError> {
    match limit.unwrap_or(DEFAULT_PAGE_LIMIT) {
        n @ 1..=MAX_PAGE_LIMIT => Ok(i64::from(n)),
        n => Err(ApiError::BadRequest(format!("\"limit\" {n} must be between 1 and {MAX_PAGE_LIMIT}"))),
    }
}

/// The caller's membership of `slug`, or 403 (also for a slug that does not
/// exist, so outsiders cannot probe which communities exist).
pub async fn membership_of(state: &AppState, user: &User, slug: &str) -> Result<Membership, ApiError> {
    state
        .store
        .memberships(&user.id)
        .await?
        .into_iter()
        .find(|m| m.community.slug == slug)
        .ok_or_else(|| not_a_member(slug))
}

/// 403 for a community the caller is not in, or one that does not exist.
fn not_a_member(slug: &str) -> ApiError {
    ApiError::Forbidden(format!("you are not a member of community {:?}", truncated(slug)))
}

fn truncated(s: &str) -> String {
    s.chars().take(64).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    #[serde(default)]
    since: u64,
    limit: Option<u32>,
}

fn changes_response(mut rows: Vec<FeedRow>, since: u64, limit: i64) -> JsonBytes {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = rows.last().map(|r| r.seq as u64).unwrap_or(since);
    wire::changes(&rows, next, more)
}

fn since_of(since: u64) -> Result<i64, ApiError> {
    i64::try_from(since).map_err(|_| ApiError::BadRequest("\"since\" is too large".into()))
}

pub async fn community_changes(
    State(state): State<AppState>,
    BearerToken(token_hash): BearerToken,
    Path(slug): Path<String>,
    Query(query): Query<ChangesQuery>,
) -> Result<JsonBytes, ApiError> {
    let limit = page_limit(query.limit)?;
    // One row more than asked tells whether there is more.
    let read = state.store.community_changes_for_token(&token_hash, now_ms(), &slug, since_of(query.since)?, limit + 1);
    let rows = match read.await? {
        WithToken::Invalid => return Err(invalid_token()),
        WithToken::Valid(rows) => rows.ok_or_else(|| not_a_member(&slug))?,
    };
    Ok(changes_response(rows, query.since, limit))
}

pub async fn own_changes(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<ChangesQuery>,
) -> Result<JsonBytes, ApiError> {
    let limit = page_limit(query.limit)?;
    let rows = state.store.own_changes(&user, since_of(query.since)?, limit + 1).await?;
    Ok(changes_response(rows, query.since, limit))
}

/// Whether `user` may hear about `notice`, asked of the database for every event:
/// someone removed from a community a second ago hears nothing more about it.
async fn may_hear(state: &AppState, user: &User, notice: &ChangeNotice) -> Result<bool, ApiError> {
    Ok(match &notice.community {
        None => notice.author_id == user.id,
        Some(slug) => state.store.memberships(&user.id).await?.iter().any(|m| &m.community.slug == slug),
    })
}

/// `GET /v1/events`: server-sent events, each `{community, seq}` only; the
/// client pulls the feed to learn what changed. A client that falls behind
/// gets a `resync` event and should pull every feed.
/// How often an open live stream checks that its token is still valid: a stream
/// ends within this long of its token's revocation or expiry (or a password change).
pub const STREAM_TOKEN_RECHECK: std::time::Duration = std::time::Duration::from_secs(4);

pub async fn events(State(state): State<AppState>, BearerToken(token_hash): BearerToken) -> Result<Response, ApiError> {
    let user = state.store.user_for_token(&token_hash, now_ms()).await?.ok_or_else(invalid_token)?;
    let receiver = state.changes.subscribe();
    let stopping = state.stopping.subscribe();
    let start = tokio::time::Instant::now() + STREAM_TOKEN_RECHECK;
    let recheck = tokio::time::interval_at(start, STREAM_TOKEN_RECHECK);
    let stream = futures_util::stream::unfold(
        (receiver, state, user, token_hash, recheck, stopping),
        |(mut receiver, state, user, token_hash, mut recheck, mut stopping)| async move {
            loop {
                let received = tokio::select! {
                    // The server is shutting down: end the stream (the client reconnects).
                    _ = async { drop(stopping.wait_for(|stop| *stop).await) } => return None,
                    received = receiver.recv() => received,
                    _ = recheck.tick() => match state.store.user_for_token(&token_hash, now_ms()).await {
                        Ok(Some(_)) => continue,
                        // Revoked or expired (or the database is gone): the stream ends.
                        _ => return None,
                    },
                };
                let event = match received {
                    Ok(notice) => match may_hear(&state, &user, &notice).await {
                        Ok(true) => {
                            let body = ChangeEvent { community: notice.community, seq: notice.seq as u64 };
                            Event::default().event("change").json_data(body).ok()
                        }
                        Ok(false) => None,
                        Err(_) => return None,
                    },
                    Err(broadcast::error::RecvError::Lagged(_)) => Some(Event::default().event("resync").data("{}")),
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                if let Some(event) = event {
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        (receiver, state, user, token_hash, recheck, stopping),
                    ));
                }
            }
        },
    );
    let mut response = Sse::new(stream).keep_alive(KeepAlive::default()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    url: Option<String>,
    page_key: Option<String>,
    community: Option<String>,
    tag: Option<String>,
    author: Option<String>,
    q: Option<String>,
    /// RFC 3339; created at or after.
    from: Option<String>,
    /// RFC 3339; created before.
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

fn encode_cursor(created_ms: i64, id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_ms}|{id}"))
}

fn decode_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    use base64::Engine;
    let bad = || ApiError::BadRequest("\"cursor\" is not one this server gave out; start again without it".into());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (created, id) = text.split_once('|').ok_or_else(bad)?;
    Ok((created.parse().map_err(|_| bad())?, id.to_string()))
}

fn time_param(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            parse_rfc3339_ms(v).ok_or_else(|| {
                ApiError::BadRequest(format!("\"{name}\" must be an RFC 3339 time like 2025-01-31T12:00:00Z"))
            })
        })
        .transpose()
}

pub async fn search(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<SearchQuery>,
) -> Result<JsonResponse<SearchResponse>, ApiError> {
    let limit = page_limit(query.limit)?;
    let page_key = match (&query.url, &query.page_key) {
        (Some(_), Some(_)) => return Err(ApiError::BadRequest("give \"url\" or \"page_key\", not both".into())),
        (Some(url), None) => {
            Some(PageKey::from_url(url).map_err(|e| ApiError::BadRequest(format!("\"url\": {e}")))?.to_string())
        }
        (None, key) => key.clone(),
    };
    let community_id = match &query.community {
        Some(slug) => Some(membership_of(&state, &user, slug).await?.community.id),
        None => None,
    };
    let text = query.q.filter(|q| !q.trim().is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::BadRequest("\"q\" may be at most 200 characters".into()));
    }
    let filter = SearchFilter {
        page_key,
        community_id,
        tag: query.tag,
        author_username: query.author,
        text,
        created_from_ms: time_param("from", query.from.as_deref())?,
        created_before_ms: time_param("to", query.to.as_deref())?,
        after: query.cursor.as_deref().map(decode_cursor).transpose()?,
        limit: limit + 1,
    };
    let mut found = state.store.search(&user, &filter).await?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let next_cursor =
        if more { found.last().map(|a| encode_cursor(a.created_ms, &a.shared.annotation.id)) } else { None };
    Ok(JsonResponse(SearchResponse { annotations: found.into_iter().map(|a| a.shared).collect(), next_cursor }))
}

// ---- communities ----

fn check_name(name: &str) -> Result<String, ApiError> {
    let trimmed = name.trim();
    let n = trimmed.chars().count();
    if n == 0 || n > 100 || trimmed.chars().any(char::is_control) {
        return Err(ApiError::BadRequest("\"name\" must be 1 to 100 printable characters".into()));
    }
    Ok(trimmed.to_string())
}

pub async fn create_community(
    State(state): State<AppState>,
    Caller(user): Caller,
    Json(request): Json<CreateCommunityRequest>,
) -> Result<(StatusCode, JsonResponse<CommunityInfo>), ApiError> {
    admin::check_slug(&request.slug).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let name = check_name(&request.name)?;
    let now = now_ms();
    let community = state.store.create_community(&request.slug, &name, now).await?;
    state.store.set_membership(&user.id, &community.id, Role::Owner, now).await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(CommunityInfo { id: community.slug, name: community.name, role: Role::Owner }),
    ))
}

pub async fn community_detail(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(slug): Path<String>,
) -> Result<JsonResponse<CommunityDetail>, ApiError> {
    let m = membership_of(&state, &user, &slug).await?;
    let members = state.store.members(&m.community.id).await?;
    Ok(JsonResponse(CommunityDetail {
        id: m.community.slug,
        name: m.community.name,
        archived: m.community.archived,
        members: members.into_iter().map(|m| MemberInfo { user: m.user, role: m.role }).collect(),
    }))
}

pub async fn update_community(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(slug): Path<String>,
    Json(request): Json<UpdateCommunityRequest>,
) -> Result<StatusCode, ApiError> {
    let m = membership_of(&state, &user, &slug).await?;
    if let Some(name) = &request.name {
        if !m.can_manage() {
            return Err(ApiError::Forbidden("only an owner or moderator may rename a community".into()));
        }
        let name = check_name(name)?;
        state.store.rename_community(&m.community.id, &name).await?;
    }
    if let Some(archived) = request.archived {
        if m.role != Role::Owner {
            return Err(ApiError::Forbidden("only an owner may archive or restore a community".into()));
        }
        state.store.set_archived(&m.community.id, archived.then(now_ms)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_member_role(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path((slug, username)): Path<(String, String)>,
    Json(request): Json<SetRoleRequest>,
) -> Result<StatusCode, ApiError> {
    let m = membership_of(&state, &user, &slug).await?;
    if m.role != Role::Owner {
        return Err(ApiError::Forbidden("only an owner may change roles".into()));
    }
    let members = state.store.members(&m.community.id).await?;
    let target = members
        .iter()
        .find(|x| x.user.username == username)
        .ok_or_else(|| ApiError::NotFound(format!("{:?} is not a member of {slug:?}", truncated(&username))))?;
    // The store refuses to demote the last owner (409), in the transaction that changes the role.
    state.store.set_membership(&target.user.id, &m.community.id, request.role, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member (owner or moderator; moderators may not remove owners), or
/// leaves when `username` is the caller. The last owner cannot leave.
pub async fn remove_member(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path((slug, username)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let m = membership_of(&state, &user, &slug).await?;
    let members = state.store.members(&m.community.id).await?;
    let target = members
        .iter()
        .find(|x| x.user.username == username)
        .ok_or_else(|| ApiError::NotFound(format!("{:?} is not a member of {slug:?}", truncated(&username))))?;
    let leaving = target.user.id == user.id;
    let may_remove = m.role == Role::Owner || (m.role == Role::Moderator && target.role == Role::Member);
    if !leaving && !may_remove {
        return Err(ApiError::Forbidden("you may not remove this member".into()));
    }
    // The store refuses to remove the last owner (409), in the transaction that removes them.
    state.store.remove_membership(&target.user.id, &m.community.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Invite codes: 128-bit random, shown once, stored as SHA-256.
pub async fn create_invite(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(slug): Path<String>,
    Json(request): Json<CreateInviteRequest>,
) -> Result<(StatusCode, JsonResponse<InviteResponse>), ApiError> {
    let m = membership_of(&state, &user, &slug).await?;
    if !m.can_manage() {
        return Err(ApiError::Forbidden("only an owner or moderator may invite".into()));
    }
    if m.community.archived {
        return Err(ApiError::Conflict("the community is archived".into()));
    }
    let hours = request.expires_in_hours.unwrap_or(168);
    if !(1..=24 * 90).contains(&hours) {
        return Err(ApiError::BadRequest("\"expires_in_hours\" must be between 1 and 2160".into()));
    }
    let code = tokens::invite_code();
    let now = now_ms();
    let expires = now + i64::from(hours) * 3_600_000;
    let uses = if request.multi_use { None } else { Some(1) };
    let hash = tokens::hash(&code);
    state.store.create_invite(&m.community.id, &user.id, &hash, Some(expires), uses, now).await?;
    let id = hash[..INVITE_ID_LEN].to_string();
    Ok((StatusCode::CREATED, JsonResponse(InviteResponse { code, expires_at: format_rfc3339_ms(expires), id })))
}

/// The invites that can still be used (owner or moderator): who made each, when it
/// expires, how many joins it has left. Never the codes: only their hashes are kept.
pub async fn list_invites(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(slug): Path<String>,
) -> Result<JsonResponse<InvitesResponse>, ApiError> {
    let m = membership_of(&state, &user, &slug).await?;
    if !m.can_manage() {
        return Err(ApiError::Forbidden("only an owner or moderator may see the invites".into()));
    }
    let invites = state.store.invites(&m.community.id, now_ms()).await?;
    Ok(JsonResponse(InvitesResponse {
        invites: invites
            .into_iter()
            .map(|i| InviteInfo {
                id: i.id,
                created_by: i.created_by,
                created_at: format_rfc3339_ms(i.created_at_ms),
                expires_at: i.expires_at_ms.map(format_rfc3339_ms),
                uses_left: i.uses_left,
            })
            .collect(),
    }))
}

/// Revokes an invite (owner or moderator): its code lets nobody else join.
pub async fn revoke_invite(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path((slug, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let m = membership_of(&state, &user, &slug).await?;
    if !m.can_manage() {
        return Err(ApiError::Forbidden("only an owner or moderator may revoke an invite".into()));
    }
    if id.len() != INVITE_ID_LEN || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(ApiError::BadRequest(format!(
            "{:?} is not an invite id: it is {INVITE_ID_LEN} hex digits, as the invites list shows them",
            truncated(&id)
        )));
    }
    if !state.store.revoke_invite(&m.community.id, &id).await? {
        return Err(ApiError::NotFound(format!("{slug:?} has no invite {id}; it may be used up, expired or revoked")));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn join(
    State(state): State<AppState>,
    Caller(user): Caller,
    Json(request): Json<JoinRequest>,
) -> Result<JsonResponse<CommunityInfo>, ApiError> {
    let invalid = || ApiError::NotFound("this invite code is unknown, expired or used up; ask for a new one".into());
    if request.code.len() > 100 {
        return Err(invalid());
    }
    match state.store.redeem_invite(&tokens::hash(request.code.trim()), &user.id, now_ms()).await? {
        JoinOutcome::InvalidCode => Err(invalid()),
        JoinOutcome::Joined(c) => Ok(JsonResponse(CommunityInfo { id: c.slug, name: c.name, role: Role::Member })),
        JoinOutcome::AlreadyMember(c) => {
            let m = membership_of(&state, &user, &c.slug).await?;
            Ok(JsonResponse(m.info()))
        }
    }
}
