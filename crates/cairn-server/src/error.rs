//! The one error type every handler returns.
//!
//! Each variant fixes the HTTP status and the stable `code` of the JSON body
//! ([`cairn_protocol::api::ErrorBody`]), so handlers never build responses by hand
//! and clients can rely on `code` instead of parsing messages.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_protocol::api::{ApiError as WireError, ErrorBody};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; the message names the field and what is expected.
    #[error("{0}")]
    BadRequest(String),
    /// No usable token: missing, unknown, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// Sign-in failed. Deliberately the same for an unknown user and a wrong
    /// password, so the answer does not reveal which usernames exist.
    #[error("username or password is wrong; check both and try again")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("a push may carry at most {max} mutations, this one has {got}; split it into smaller batches")]
    BatchTooLarge { got: usize, max: usize },
    /// Something broke on our side. The detail is logged, never sent: it may
    /// name tables, paths or values the client has no business seeing.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge(_) | ApiError::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::BatchTooLarge { .. } => "batch_too_large",
            ApiError::Internal(_) => "internal",
        }
    }

    fn client_message(&self) -> String {
        match self {
            ApiError::Internal(_) => {
                "the server failed to handle this request; try again later, and tell the server's admin if it keeps happening".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let body = ErrorBody { error: WireError { code: self.code().into(), message: self.client_message() } };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized(_) | ApiError::InvalidCredentials) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
