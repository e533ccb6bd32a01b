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
    /// The caller's token used up its request budget; retry after this many seconds.
    #[error("too many requests; wait {retry_after_secs} s before trying again")]
    RateLimited { retry_after_secs: u64 },
    /// Too many failed sign-ins for this username or from this address. The same
    /// answer whether the username exists or not, and whatever the password.
    #[error("too many failed sign-ins for this username or from this address; wait {retry_after_secs} s before trying again, or ask your server's admin to check who is trying")]
    TooManySignIns { retry_after_secs: u64 },
    /// `If-Match` named a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// An update without `If-Match`.
    #[error("{0}")]
    PreconditionRequired(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    Conflict(String),
    /// The request took too long, or the database is unreachable.
    #[error("{0}")]
    Unavailable(String),
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
            ApiError::RateLimited { .. } | ApiError::TooManySignIns { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            ApiError::RateLimited { .. } | ApiError::TooManySignIns { .. } => "rate_limited",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::PreconditionRequired(_) => "precondition_required",
            ApiError::NotAcceptable(_) => "not_acceptable",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unavailable(_) => "unavailable",
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
        match e {
            StoreError::AlreadyExists(m) => ApiError::Conflict(m),
            StoreError::NotFound(m) => ApiError::NotFound(m),
            e @ StoreError::LastOwner => ApiError::Conflict(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
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
        if let ApiError::RateLimited { retry_after_secs } | ApiError::TooManySignIns { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}
