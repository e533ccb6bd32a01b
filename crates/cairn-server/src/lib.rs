//! Cairn's server: accounts, communities and shared annotations behind a
//! versioned JSON API (`/v1`).
//!
//! * [`router`] builds the whole HTTP app from an [`AppState`]; `main.rs` only
//!   parses arguments, opens the store and serves, so tests run the very same app.
//! * [`store::Store`] is the storage seam; [`store::sqlite`] its only backend for now.
//! * [`push`] holds the rules of a sync push as pure functions, shared by backends.
//! * [`markdown`] turns notes into HTML that is safe on anyone's page.
//!
//! **Architecture invariant:** who a request acts for comes only from its bearer
//! token ([`extract::Caller`]); no handler reads a user or community id from a body
//! to decide what the caller may see or change.

pub mod admin;
pub mod config;
pub mod error;
pub mod extract;
pub mod markdown;
pub mod ops;
pub mod passwords;
pub mod push;
mod routes;
pub mod store;
pub mod tokens;
pub mod w3c;
mod wire;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use cairn_protocol::api::{PROTOCOL_HEADER, PROTOCOL_VERSION};

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::store::{ChangeNotice, Store};

pub use routes::SESSION_TOKEN_DAYS;

/// Largest request body accepted. A full push (100 annotations with long notes)
/// fits; anything bigger is a bug or an attack.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Feed positions committed by pushes, for the live stream (`/v1/events`).
    pub changes: tokio::sync::broadcast::Sender<ChangeNotice>,
    pub config: Arc<ServerConfig>,
    pub limiter: Arc<ops::RateLimiter>,
    pub metrics: Arc<ops::Metrics>,
    /// Failed sign-ins per username and per client address.
    pub sign_in_throttle: Arc<ops::SignInThrottle>,
    /// How many argon2 computations may run at once.
    pub password_slots: Arc<passwords::HashingSlots>,
    /// When each token's last use was written.
    pub token_use: Arc<ops::TokenUse>,
    /// Set once the server is stopping: open live streams end, so that a graceful
    /// shutdown is not held up by clients that would listen forever.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> AppState {
        AppState::with_config(store, ServerConfig::default())
    }

    pub fn with_config(store: Arc<dyn Store>, config: ServerConfig) -> AppState {
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        // Outside a runtime (a state built for inspection) nothing is relayed.
        let announced =
            tokio::runtime::Handle::try_current().ok().and_then(|rt| Some((store.changes_announced()?, rt)));
        if let Some((mut announced, runtime)) = announced {
            let changes = changes.clone();
            runtime.spawn(async move {
                loop {
                    match announced.recv().await {
                        Ok(notice) => {
                            let _ = changes.send(notice);
                        }
                        // Listeners are told to resync when *they* lag; a lag here only drops prompts.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
        }
        AppState {
            store,
            changes,
            config: Arc::new(config),
            limiter: Arc::default(),
            metrics: Arc::default(),
            sign_in_throttle: Arc::default(),
            password_slots: Arc::new(passwords::HashingSlots::for_this_machine()),
            token_use: Arc::default(),
            stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// Ends every open live stream (`/v1/events`); clients reconnect to whichever
    /// server answers next. Called when a shutdown begins.
    pub fn stop_streams(&self) {
        self.stopping.send_replace(true);
    }

    /// Tells live-stream listeners about committed changes (nobody listening is fine).
    pub fn announce(&self, notices: Vec<ChangeNotice>) {
        for notice in notices {
            let _ = self.changes.send(notice);
        }
    }
}

/// Every route of the JSON API as `(method, path)`, in OpenAPI's path syntax;
/// a test checks that each is in `openapi.json` and answered by [`router`].
pub const API_ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("post", "/v1/session"),
    ("delete", "/v1/session"),
    ("get", "/v1/me"),
    ("get", "/v1/me/tokens"),
    ("delete", "/v1/me/tokens/{prefix}"),
    ("get", "/v1/me/changes"),
    ("put", "/v1/me/password"),
    ("post", "/v1/sync/push"),
    ("get", "/v1/annotations"),
    ("get", "/v1/search"),
    ("get", "/v1/events"),
    ("post", "/v1/communities"),
    ("get", "/v1/communities/{slug}"),
    ("patch", "/v1/communities/{slug}"),
    ("get", "/v1/communities/{slug}/changes"),
    ("post", "/v1/communities/{slug}/invites"),
    ("get", "/v1/communities/{slug}/invites"),
    ("delete", "/v1/communities/{slug}/invites/{id}"),
    ("put", "/v1/communities/{slug}/members/{username}"),
    ("delete", "/v1/communities/{slug}/members/{username}"),
    ("post", "/v1/join"),
];

/// The OpenAPI 3.1 description of the JSON API, served at `/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/session", post(routes::sign_in).delete(routes::sign_out))
        .route("/me", get(routes::me))
        .route("/me/tokens", get(routes::my_tokens))
        .route("/me/tokens/{prefix}", delete(routes::revoke_my_token))
        .route("/me/changes", get(routes::own_changes))
        .route("/me/password", put(routes::change_password))
        .route("/sync/push", post(routes::push))
        .route("/annotations", get(routes::page_annotations))
        .route("/search", get(routes::search))
        .route("/events", get(routes::events))
        .route("/communities", post(routes::create_community))
        .route("/communities/{slug}", get(routes::community_detail).patch(routes::update_community))
        .route("/communities/{slug}/changes", get(routes::community_changes))
        .route("/communities/{slug}/invites", post(routes::create_invite).get(routes::list_invites))
        .route("/communities/{slug}/invites/{id}", delete(routes::revoke_invite))
        .route("/communities/{slug}/members/{username}", put(routes::set_member_role).delete(routes::remove_member))
        .route("/join", post(routes::join));
    let w3c = Router::new()
        .route("/{container}/", get(w3c::container_get).post(w3c::container_post).options(w3c::container_options))
        .route(
            "/{container}/{id}",
            get(w3c::annotation_get)
                .put(w3c::annotation_put)
                .delete(w3c::annotation_delete)
                .options(w3c::annotation_options),
        );
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .nest("/v1", v1)
        .nest("/annotations", w3c)
        .fallback(|| async { ApiError::NotFound("no such endpoint; the API lives under /v1".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(refuse_announced_oversize))
        .layer(middleware::from_fn_with_state(state.clone(), ops::rate_limit))
        .layer(middleware::from_fn_with_state(state.clone(), ops::timeout))
        .layer(middleware::from_fn(protocol_version))
        .layer(middleware::from_fn_with_state(state.clone(), ops::cors))
        .layer(middleware::from_fn_with_state(state.clone(), ops::security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), ops::measure))
        .with_state(state)
}

async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], OPENAPI_JSON).into_response()
}

/// A request that announces a body over the limit is refused at once, before a
/// byte of it is read: the client learns why without uploading megabytes first.
/// (Bodies without a length are still cut off by `DefaultBodyLimit`.)
async fn refuse_announced_oversize(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return extract::too_large().into_response();
    }
    next.run(request).await
}

/// Clients send `Cairn-Protocol: <version>`; the server accepts this version and
/// the one before (none yet), so an extension and its server can be upgraded in
/// either order. A client without the header is treated as current.
async fn protocol_version(request: Request, next: Next) -> Response {
    let accepted = PROTOCOL_VERSION.saturating_sub(1).max(1)..=PROTOCOL_VERSION;
    if let Some(value) = request.headers().get(PROTOCOL_HEADER) {
        let version = value.to_str().ok().and_then(|v| v.trim().parse::<u32>().ok());
        if !version.is_some_and(|v| accepted.contains(&v)) {
            return ApiError::BadRequest(format!(
                "this server speaks Cairn protocol {}..={}; update the extension or the server",
                accepted.start(),
                accepted.end()
            ))
            .into_response();
        }
    }
    let mut response = next.run(request).await;
    response.headers_mut().insert(PROTOCOL_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    response
}

/// Wall-clock time in Unix milliseconds, the unit of every time the store keeps.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
