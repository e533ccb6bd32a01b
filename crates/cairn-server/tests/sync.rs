//! Pull (`/v1/communities/{slug}/changes`, `/v1/me/changes`) and the live stream (`/v1/events`).

mod common;

use std::time::Duration;

use cairn_protocol::api::{ChangeEvent, ChangeKind, ChangesResponse};
use common::*;
use serde_json::{json, Value};

const PAGE: &str = "https://docs.example.com/guide";

async fn changes(s: &TestServer, token: &str, path: &str) -> ChangesResponse {
    let response = s.get(path, token).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Reads server-sent events until one `change` event arrives (or the timeout).
async fn next_change(response: &mut reqwest::Response, buffer: &mut String) -> Option<ChangeEvent> {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if frame.lines().any(|l| l == "event: change") {
                let data = frame.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                return Some(serde_json::from_str(data).unwrap());
            }
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(3), response.chunk()).await {
            Ok(Ok(Some(bytes))) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
            _ => return None,
        }
    }
}

both_backends! {
    async fn a_live_stream_ends_soon_after_its_token_is_revoked() {
        let s = TestServer::start().await;
        let (laptop, phone) = (s.token("bob").await, s.token("bob").await);
        let mut laptop_events = s.get("/v1/events", &laptop).await;
        let mut phone_events = s.get("/v1/events", &phone).await;
        assert_eq!(laptop_events.status(), 200);
        let signed_out = s.http.delete(s.url("/v1/session")).bearer_auth(&laptop).send().await.unwrap();
        assert_eq!(signed_out.status(), 204);
        // The server checks a stream's token every few seconds; the deadline here is
        // only there so that a stream that never ends fails the test instead of hanging it.
        let ended = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(chunk) = laptop_events.chunk().await.unwrap() {
                assert!(!String::from_utf8_lossy(&chunk).contains("event: change"));
            }
        })
        .await;
        assert!(ended.is_ok(), "the revoked token's stream is still open");
        // The other device's stream still hears changes.
        let mut buf = String::new();
        let alice = s.token("alice").await;
        let a = annotation(&new_id(), "https://a.example/", "shared", T0);
        s.push(&alice, "d", json!([upsert(1, &a, &["demo-team"])])).await;
        assert!(next_change(&mut phone_events, &mut buf).await.is_some(), "{buf}");
    }

    async fn the_community_feed_pages_in_sequence_order_with_tombstones_and_unshares() {
        let s = TestServer::start().await;
        let (alice, bob) = (s.token("alice").await, s.token("bob").await);
        let ids: Vec<String> = (0..5).map(|_| new_id()).collect();
        let batch: Vec<Value> =
            ids.iter().enumerate().map(|(i, id)| upsert(i as u64 + 1, &annotation(id, PAGE, "n", T0), &["demo-team"])).collect();
        s.push(&alice, "d1", Value::Array(batch)).await;
        s.push(&alice, "d1", json!([delete(6, &ids[0]), upsert(7, &annotation(&ids[1], PAGE, "private now", T0 + 5), &[])])).await;

        let first = changes(&s, &bob, "/v1/communities/demo-team/changes?since=0&limit=3").await;
        assert_eq!(first.changes.iter().map(|c| c.seq).collect::<Vec<_>>(), [3, 4, 5]);
        assert!(first.more);
        assert_eq!(first.next, 5);
        assert!(first.changes.iter().all(|c| c.kind == ChangeKind::Upsert && c.annotation.is_some()));
        let rest = changes(&s, &bob, "/v1/communities/demo-team/changes?since=5&limit=3").await;
        assert!(!rest.more);
        let kinds: Vec<(String, ChangeKind)> = rest.changes.iter().map(|c| (c.id.clone(), c.kind)).collect();
        assert_eq!(kinds, [(ids[0].clone(), ChangeKind::Deleted), (ids[1].clone(), ChangeKind::Unshared)]);
        assert!(rest.changes.iter().all(|c| c.annotation.is_none()), "gone rows carry no content");
        let empty = changes(&s, &bob, "/v1/communities/demo-team/changes?since=7").await;
        assert!(empty.changes.is_empty());
        assert_eq!(empty.next, 7);
        assert!(!empty.more);
    }

    async fn outsiders_get_403_from_a_community_feed_even_for_unknown_slugs() {
        let s = TestServer::start().await;
        let carol = s.token("carol").await;
        for slug in ["demo-team", "no-such-team"] {
            let response = s.get(&format!("/v1/communities/{slug}/changes"), &carol).await;
            assert_eq!(response.status(), 403);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "forbidden");
        }
        assert_eq!(s.get("/v1/communities/demo-team/changes?limit=0", &carol).await.status(), 400);
    }

    async fn the_personal_feed_has_all_of_my_changes_and_nobody_elses() {
        let s = TestServer::start().await;
        let (alice, bob) = (s.token("alice").await, s.token("bob").await);
        let (private, shared) = (new_id(), new_id());
        s.push(&alice, "d1", json!([upsert(1, &annotation(&private, PAGE, "mine", T0), &[]),
                                   upsert(2, &annotation(&shared, PAGE, "ours", T0), &["demo-team"]),
                                   delete(3, &shared)])).await;
        let mine = changes(&s, &alice, "/v1/me/changes").await;
        let got: Vec<(u64, String, ChangeKind)> = mine.changes.iter().map(|c| (c.seq, c.id.clone(), c.kind)).collect();
        assert_eq!(got, [(1, private.clone(), ChangeKind::Upsert), (3, shared.clone(), ChangeKind::Deleted)]);
        assert_eq!(mine.changes[0].annotation.as_ref().unwrap().annotation.note(), Some("mine"));
        assert!(changes(&s, &bob, "/v1/me/changes").await.changes.is_empty());
    }

    async fn the_live_stream_announces_feed_positions_to_members_only() {
        let s = TestServer::start().await;
        let (alice, bob, carol) = (s.token("alice").await, s.token("bob").await, s.token("carol").await);
        let mut bob_events = s.get("/v1/events", &bob).await;
        assert_eq!(bob_events.status(), 200);
        assert!(bob_events.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let mut carol_events = s.get("/v1/events", &carol).await;
        let (mut bob_buf, mut carol_buf) = (String::new(), String::new());

        s.push(&alice, "d1", json!([upsert(1, &annotation(&new_id(), PAGE, "hello", T0), &["demo-team"])])).await;
        let event = next_change(&mut bob_events, &mut bob_buf).await.expect("bob hears about demo-team");
        assert_eq!(event, ChangeEvent { community: Some("demo-team".into()), seq: 1 });
        assert!(!bob_buf.contains("hello"), "events carry positions, never content");
        assert_eq!(next_change(&mut carol_events, &mut carol_buf).await, None, "carol is not in demo-team");

        // Bob leaves; the next change to demo-team is not announced to him.
        let team = s.store.community("demo-team").await.unwrap().unwrap();
        s.store.remove_membership(&s.user_id("bob").await, &team.id).await.unwrap();
        s.push(&alice, "d1", json!([upsert(2, &annotation(&new_id(), PAGE, "secret", T0), &["demo-team"])])).await;
        assert_eq!(next_change(&mut bob_events, &mut bob_buf).await, None);
    }

    /// Reading a feed again shows the same (PostgreSQL serves positions it has
    /// shown before from memory), and what changed since shows at new positions,
    /// never as the old content.
    async fn a_feed_read_again_shows_changes_at_new_positions_and_nothing_stale() {
        let s = TestServer::start().await;
        let (alice, bob) = (s.token("alice").await, s.token("bob").await);
        let ids: Vec<String> = (0..3).map(|_| new_id()).collect();
        let batch: Vec<Value> =
            ids.iter().enumerate().map(|(i, id)| upsert(i as u64 + 1, &annotation(id, PAGE, "first", T0), &["demo-team"])).collect();
        s.push(&alice, "d1", Value::Array(batch)).await;
        let first = changes(&s, &bob, "/v1/communities/demo-team/changes?since=0").await;
        assert_eq!(first.changes.iter().map(|c| c.seq).collect::<Vec<_>>(), [1, 2, 3]);
        let again = changes(&s, &bob, "/v1/communities/demo-team/changes?since=0").await;
        assert_eq!(serde_json::to_value(&again).unwrap(), serde_json::to_value(&first).unwrap());

        s.push(&alice, "d1", json!([upsert(4, &annotation(&ids[0], PAGE, "edited", T0 + 5), &["demo-team"]),
                                   delete(5, &ids[1]),
                                   upsert(6, &annotation(&ids[2], PAGE, "private now", T0 + 5), &[])])).await;
        for _ in 0..2 {
            let after = changes(&s, &bob, "/v1/communities/demo-team/changes?since=0").await;
            let rows: Vec<(u64, String, ChangeKind)> = after.changes.iter().map(|c| (c.seq, c.id.clone(), c.kind)).collect();
            assert_eq!(rows, [(4, ids[0].clone(), ChangeKind::Upsert), (5, ids[1].clone(), ChangeKind::Deleted), (6, ids[2].clone(), ChangeKind::Unshared)]);
            assert_eq!(after.changes[0].annotation.as_ref().unwrap().annotation.note(), Some("edited"));
            assert!(after.changes[1..].iter().all(|c| c.annotation.is_none()), "gone rows carry no content");
        }
    }

    /// Positions follow commit order: a reader following the feed with its cursor
    /// while several people push never steps past a position that commits later.
    async fn a_reader_following_the_feed_during_concurrent_pushes_misses_nothing() {
        let s = std::sync::Arc::new(TestServer::start().await);
        let (alice, bob) = (s.token("alice").await, s.token("bob").await);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (s, bob, done) = (s.clone(), bob.clone(), done.clone());
            tokio::spawn(async move {
                let (mut since, mut seen) = (0u64, Vec::new());
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                    let page = changes(&s, &bob, &format!("/v1/communities/demo-team/changes?since={since}&limit=7")).await;
                    for change in &page.changes {
                        assert!(change.seq > since, "positions only grow along the feed");
                        since = change.seq;
                        seen.push(change.id.clone());
                    }
                    if finished && !page.more {
                        return seen;
                    }
                }
            })
        };
        let mut writers = Vec::new();
        for w in 0..6u64 {
            let s = s.clone();
            let token = if w % 2 == 0 { alice.clone() } else { bob.clone() };
            writers.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for p in 0..8u64 {
                    let batch: Vec<Value> = (0..3)
                        .map(|j| {
                            let id = new_id();
                            ids.push(id.clone());
                            upsert(p * 3 + j + 1, &annotation(&id, PAGE, "n", T0), &["demo-team"])
                        })
                        .collect();
                    assert_eq!(statuses(&s.push(&token, &format!("writer-{w}"), json!(batch)).await), ["applied"; 3]);
                }
                ids
            }));
        }
        let mut pushed = Vec::new();
        for writer in writers {
            pushed.extend(writer.await.unwrap());
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut seen = reader.await.unwrap();
        seen.sort();
        seen.dedup();
        pushed.sort();
        assert_eq!(seen.len(), pushed.len(), "the reader missed {} of {} annotations", pushed.len() - seen.len(), pushed.len());
        assert_eq!(seen, pushed);
    }

    async fn the_author_hears_about_their_own_private_changes() {
        let s = TestServer::start().await;
        let (alice, bob) = (s.token("alice").await, s.token("bob").await);
        let mut alice_events = s.get("/v1/events", &alice).await;
        let mut bob_events = s.get("/v1/events", &bob).await;
        let (mut a, mut b) = (String::new(), String::new());
        s.push(&alice, "d1", json!([upsert(1, &annotation(&new_id(), PAGE, "private", T0), &[])])).await;
        assert_eq!(next_change(&mut alice_events, &mut a).await, Some(ChangeEvent { community: None, seq: 1 }));
        assert_eq!(next_change(&mut bob_events, &mut b).await, None);
    }
}

/// Two server processes on one PostgreSQL database (a company that outgrew one
/// machine, behind a load balancer): a push through one is announced on the live
/// streams of the other, and each server announces its own pushes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_a_postgresql_database_announce_each_others_changes() {
    common::BACKEND
        .scope(common::Backend::Postgres, async {
            let a = TestServer::start().await;
            let url = a.database_url.clone().expect("a PostgreSQL test server has a URL");
            let store_b: std::sync::Arc<dyn cairn_server::store::Store> =
                std::sync::Arc::new(cairn_server::store::postgres::PostgresStore::open(&url, 4).await.unwrap());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let b = format!("http://{}", listener.local_addr().unwrap());
            let app = cairn_server::router(cairn_server::AppState::new(store_b));
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

            let (alice, bob) = (a.token("alice").await, a.token("bob").await);
            let mut on_b = a.http.get(format!("{b}/v1/events")).bearer_auth(&bob).send().await.unwrap();
            assert_eq!(on_b.status(), 200);
            let mut on_a = a.get("/v1/events", &bob).await;
            let (mut b_buf, mut a_buf) = (String::new(), String::new());
            // Server B started listening when it was created; wait until its LISTEN is in place.
            {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                let started = std::time::Instant::now();
                loop {
                    let listening: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
                    )
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                    // Server A listens too.
                    if listening >= 2 {
                        break;
                    }
                    assert!(started.elapsed() < Duration::from_secs(30), "server B never started listening");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }

            a.push(&alice, "d1", json!([upsert(1, &annotation(&new_id(), PAGE, "hello", T0), &["demo-team"])])).await;
            let expected = ChangeEvent { community: Some("demo-team".into()), seq: 1 };
            assert_eq!(next_change(&mut on_b, &mut b_buf).await, Some(expected.clone()), "server B hears of server A's push");
            assert_eq!(next_change(&mut on_a, &mut a_buf).await, Some(expected), "server A announces its own push");
            assert_eq!(next_change(&mut on_a, &mut a_buf).await, None, "and only once");
        })
        .await
}

/// PostgreSQL restarted, or an administrator ended every session: the server's
/// idle connections are all dead, and the next pull, page lookup and push still
/// succeed (the hot paths lend connections without testing them first, and run
/// a statement that finds its connection dead once more on a new one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_after_the_database_dropped_every_connection_succeed() {
    common::BACKEND
        .scope(common::Backend::Postgres, async {
            let s = TestServer::start().await;
            let url = s.database_url.clone().expect("a PostgreSQL test server has a URL");
            let (alice, bob) = (s.token("alice").await, s.token("bob").await);
            let first = new_id();
            s.push(&alice, "d1", json!([upsert(1, &annotation(&first, PAGE, "before", T0), &["demo-team"])])).await;
            assert_eq!(changes(&s, &bob, "/v1/communities/demo-team/changes?since=0").await.changes.len(), 1);
            assert_eq!(s.page(&bob, PAGE).await.annotations.len(), 1);

            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
            for round in 0..2 {
                let ended: Vec<i32> = sqlx::query_scalar(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                .fetch_all(&mut admin)
                .await
                .unwrap();
                sqlx::query("SELECT pg_terminate_backend(pid) FROM unnest($1::int4[]) AS pid")
                    .bind(&ended)
                    .execute(&mut admin)
                    .await
                    .unwrap();
                assert!(ended.len() >= 2, "round {round}: the server had connections to end ({})", ended.len());
                // The sessions are gone once PostgreSQL has ended their processes
                // (the server's listener connects anew meanwhile).
                let started = std::time::Instant::now();
                while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)")
                    .bind(&ended)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap()
                    > 0
                {
                    assert!(started.elapsed() < Duration::from_secs(30), "the ended sessions never went away");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }

                let feed = changes(&s, &bob, "/v1/communities/demo-team/changes?since=0").await;
                assert_eq!(feed.changes.len(), 1 + round, "round {round}: the pull after the sessions ended");
                assert_eq!(s.page(&bob, PAGE).await.annotations.len(), 1 + round, "round {round}: the page lookup");
                let next = new_id();
                s.push(
                    &alice,
                    "d1",
                    json!([upsert(2 + round as u64, &annotation(&next, PAGE, "after", T0), &["demo-team"])]),
                )
                .await;
            }
            let feed = changes(&s, &bob, "/v1/communities/demo-team/changes?since=0").await;
            assert_eq!(feed.changes.len(), 3, "both pushes after the sessions ended were applied");
        })
        .await
}

/// A state built outside any async runtime (as a tool might) does not panic:
/// forwarding the database's announcements to its live streams needs a runtime,
/// so it forwards nothing; the store, opened in one, listens all the same.
#[test]
fn a_state_built_outside_a_runtime_does_not_panic() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store: std::sync::Arc<dyn cairn_server::store::Store> = runtime.block_on(async {
        let url = common::postgres::fresh_database().await;
        std::sync::Arc::new(cairn_server::store::postgres::PostgresStore::open(&url, 2).await.unwrap())
    });
    let state = cairn_server::AppState::new(store.clone());
    assert!(store.changes_announced().is_some(), "a PostgreSQL store hears the database's announcements");
    drop(state);
    runtime.block_on(store.close());
}
