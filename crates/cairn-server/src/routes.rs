//! The `/v1` handlers. Each one reads its caller from the token ([`Caller`]),
//! checks what the request alone can tell, and leaves the rest to the store.

use axum::extract::State;
use axum::Json as JsonResponse;
use cairn_model::PageKey;
use cairn_protocol::api::{
    MeResponse, PageAnnotationsResponse, PushRequest, PushResponse, SignInRequest, SignInResponse, MAX_PUSH_MUTATIONS,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Caller, Json, Query};
use crate::push::{check_device_id, prepare};
use crate::{now_ms, passwords, tokens, AppState};

/// How long a token from sign-in lasts. Long enough that a browser extension
/// rarely asks again, short enough that a forgotten laptop stops working.
pub const SESSION_TOKEN_DAYS: i64 = 90;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Longer passwords are refused before hashing so nobody can make the server hash megabytes.
const MAX_PASSWORD_BYTES: usize = 1024;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn sign_in(
    State(state): State<AppState>,
    Json(request): Json<SignInRequest>,
) -> Result<JsonResponse<SignInResponse>, ApiError> {
    if request.password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::InvalidCredentials);
    }
    let found = state.store.user_with_password(&request.username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let password = request.password;
    let matches = tokio::task::spawn_blocking(move || passwords::verify(&password, hash.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(format!("password check panicked: {e}")))?;
    let user = match (user, matches) {
        (Some(user), true) => user,
        _ => return Err(ApiError::InvalidCredentials),
    };
    let token = tokens::generate();
    let now = now_ms();
    state.store.insert_token(&user.id, &token, Some(now + SESSION_TOKEN_DAYS * DAY_MS), now).await?;
    tracing::info!(user = %user.username, token = %token.prefix, "signed in");
    Ok(JsonResponse(SignInResponse { token: token.secret, user: user.info() }))
}

pub async fn me(State(state): State<AppState>, Caller(user): Caller) -> Result<JsonResponse<MeResponse>, ApiError> {
    let communities = state.store.memberships(&user.id).await?.iter().map(|m| m.info()).collect();
    Ok(JsonResponse(MeResponse { user: user.info(), communities }))
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
    let results = state.store.apply_push(&user, &request.device_id, prepared, now).await?;
    Ok(JsonResponse(PushResponse { results }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    url: String,
}

pub async fn page_annotations(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<PageQuery>,
) -> Result<JsonResponse<PageAnnotationsResponse>, ApiError> {
    let key = PageKey::from_url(&query.url).map_err(|e| ApiError::BadRequest(format!("\"url\": {e}")))?;
    let annotations = state.store.page_annotations(&user, key.as_str()).await?;
    Ok(JsonResponse(PageAnnotationsResponse { page_key: key.to_string(), annotations }))
}
