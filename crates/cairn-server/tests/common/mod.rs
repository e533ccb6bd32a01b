//! A real server on 127.0.0.1:0 over a fresh database, and helpers to talk to it.
//!
//! Every API test runs twice, through [`both_backends!`]: once on a temporary
//! SQLite file and once on a fresh PostgreSQL database. PostgreSQL comes from
//! `CAIRN_TEST_POSTGRES_URL` (a superuser URL of a server to create databases
//! in) or else from a private cluster this test binary starts on loopback
//! (installing Debian's `postgresql` package first if it is missing and we are
//! root). If neither works the PostgreSQL tests fail, saying why; they are
//! never skipped.
#![allow(dead_code)]

pub mod postgres;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use cairn_model::{Annotation, AnnotationId, Color, Selector};
use cairn_protocol::api::{PageAnnotationsResponse, Role};
use cairn_server::store::postgres::PostgresStore;
use cairn_server::store::sqlite::SqliteStore;
use cairn_server::store::Store;
use cairn_server::{admin, passwords, router, AppState};
use rand::RngCore;
use serde_json::{json, Value};

/// Every test account's password. Hashed once per test binary: argon2 is slow
/// in debug builds, and sign-in tests still verify it for real.
pub const PASSWORD: &str = "correct-horse-battery";

fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| passwords::hash(PASSWORD).unwrap())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    /// The backend the current test runs on (set by [`both_backends!`]).
    pub static BACKEND: Backend;
}

/// The current test's backend; SQLite outside [`both_backends!`].
pub fn backend() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
}

/// Defines each `async fn name() { ... }` as a module `name` with two tests,
/// `name::sqlite` and `name::postgres`, running the same body on each backend.
#[macro_export]
macro_rules! both_backends {
    ($( $(#[$meta:meta])* async fn $name:ident() $body:block )*) => { $(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body() $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::BACKEND.scope($crate::common::Backend::Sqlite, body()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::BACKEND.scope($crate::common::Backend::Postgres, body()).await
            }
        }
    )* };
}

/// A fresh, empty store of the current backend; for PostgreSQL also its URL
/// (for starting the real binary against it).
pub async fn fresh_store(dir: &std::path::Path) -> (Arc<dyn Store>, Option<String>) {
    match backend() {
        Backend::Sqlite => (Arc::new(SqliteStore::open(&dir.join("test.sqlite3")).await.unwrap()), None),
        Backend::Postgres => {
            let url = postgres::fresh_database().await;
            (Arc::new(PostgresStore::open(&url, 8).await.unwrap()), Some(url))
        }
    }
}

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub state: AppState,
    pub database_url: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// alice and bob in `demo-team` (alice owner), carol alone in `other-team`.
    pub async fn start() -> TestServer {
        TestServer::start_with(|state| state).await
    }

    /// The same, with the app state adjusted first (limits, origins).
    pub async fn start_with(adjust: impl FnOnce(AppState) -> AppState) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let (store, database_url) = fresh_store(dir.path()).await;
        let now = cairn_server::now_ms();
        for (username, display) in [("alice", "Alice Example"), ("bob", "Bob Example"), ("carol", "Carol Outsider")] {
            store.create_user(username, display, Some(password_hash()), now).await.unwrap();
        }
        admin::create_community(store.as_ref(), "demo-team", "Demo team").await.unwrap();
        admin::create_community(store.as_ref(), "other-team", "Other team").await.unwrap();
        admin::add_member(store.as_ref(), "demo-team", "alice", Role::Owner).await.unwrap();
        admin::add_member(store.as_ref(), "demo-team", "bob", Role::Member).await.unwrap();
        admin::add_member(store.as_ref(), "other-team", "carol", Role::Owner).await.unwrap();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = adjust(AppState::new(store.clone()));
        let app = router(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap()
        });
        TestServer {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            store,
            state,
            database_url,
            _dir: dir,
        }
    }

    pub async fn token(&self, username: &str) -> String {
        admin::issue_token(self.store.as_ref(), username, None).await.unwrap()
    }

    pub async fn user_id(&self, username: &str) -> String {
        self.store.user_with_password(username).await.unwrap().unwrap().0.id
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    /// Posts a raw body as JSON, for bodies that are deliberately broken.
    pub async fn post_raw(&self, path: &str, token: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Pushes and returns the per-mutation statuses, asserting the request itself succeeded.
    pub async fn push(&self, token: &str, device: &str, mutations: Value) -> Vec<Value> {
        let response = self.post("/v1/sync/push", token, &json!({"device_id": device, "mutations": mutations})).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body["results"].as_array().unwrap().clone()
    }

    pub async fn page(&self, token: &str, page_url: &str) -> PageAnnotationsResponse {
        let response = self
            .http
            .get(self.url("/v1/annotations"))
            .query(&[("url", page_url)])
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// A fresh, unique, valid UUIDv7 urn.
pub fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut random = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let ms = 1_790_000_000_000 + COUNTER.fetch_add(1, Ordering::Relaxed);
    AnnotationId::new_v7(ms, random).to_urn()
}

/// A valid annotation on `page` with a note, modified at `modified_ms`.
pub fn annotation(id: &str, page: &str, note: &str, modified_ms: i64) -> Annotation {
    let mut a = Annotation::new_highlight(
        id.parse().unwrap(),
        page,
        vec![Selector::TextQuoteSelector { exact: "the quoted words".into(), prefix: None, suffix: None }],
        Color::Green,
        modified_ms,
    );
    a.set_note(note);
    a
}

pub fn upsert(seq: u64, annotation: &Annotation, communities: &[&str]) -> Value {
    json!({"op": "upsert", "seq": seq, "annotation": annotation, "communities": communities})
}

pub fn delete(seq: u64, id: &str) -> Value {
    json!({"op": "delete", "seq": seq, "id": id})
}

pub fn statuses(results: &[Value]) -> Vec<&str> {
    results.iter().map(|r| r["status"].as_str().unwrap()).collect()
}

pub const T0: i64 = 1_795_442_966_123;
