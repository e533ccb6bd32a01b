//! Request extractors that fail with [`ApiError`], so that even a request axum
//! refuses before any handler runs gets Cairn's JSON error body.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::store::User;
use crate::{now_ms, tokens, AppState, MAX_BODY_BYTES};

/// A JSON body. Malformed JSON, wrong types, unknown or missing fields are 400
/// with serde's own message (it names the field and position); an oversize body is 413.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::BadRequest("send the body as JSON with the header Content-Type: application/json".into())
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        other => ApiError::BadRequest(other.body_text()),
    }
}

pub fn too_large() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the request body is larger than {} MiB; send less at a time (a push may be split into several)",
        MAX_BODY_BYTES / (1024 * 1024)
    ))
}

/// Query-string parameters, refused with a 400 that says which one is wrong.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::BadRequest(e.body_text())),
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// The hash of a request's bearer token, not yet checked against the store:
/// for reads that check it themselves in the same step ([`crate::store::WithToken`]).
/// A missing or malformed header is refused here.
pub struct BearerToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthorized(
                "this endpoint needs the header Authorization: Bearer <token>; get a token from POST /v1/session"
                    .into(),
            )
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be \"Bearer <token>\"".into()))?;
        if !tokens::looks_like_token(token) {
            return Err(invalid_token());
        }
        Ok(BearerToken(tokens::hash(token)))
    }
}

/// 401 for a token the store does not accept.
pub fn invalid_token() -> ApiError {
    ApiError::Unauthorized(
        "the token is not valid (unknown, expired or revoked); sign in again with POST /v1/session".into(),
    )
}

/// The user a request acts for, established from its bearer token and nothing else.
pub struct Caller(pub User);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let BearerToken(hash) = BearerToken::from_request_parts(parts, state).await?;
        let user = state.store.user_for_token(&hash, now_ms()).await?.ok_or_else(invalid_token)?;
        Ok(Caller(user))
    }
}

/// The client's IP address, when the server was started with connection info
/// (`into_make_service_with_connect_info`, as `cairn-server serve` is).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(ClientAddr(peer.map(|info| info.0.ip())))
    }
}
