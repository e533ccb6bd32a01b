//! Operations and limits: CORS, rate limits, readiness, metrics, the OpenAPI
//! description, and community management over the API.

mod common;

use cairn_protocol::api::{CommunityDetail, CommunityInfo, InviteResponse, InvitesResponse, MeResponse, Role};
use cairn_server::config::ServerConfig;
use cairn_server::{API_ROUTES, OPENAPI_JSON};
use common::*;
use serde_json::{json, Value};

const EXTENSION: &str = "chrome-extension://olgobbnoljhjkginkhjjfcacgmgdlooj";

async fn code_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].as_str().unwrap_or("").to_string())
}

/// A client whose requests come from `ip` (any 127.x.y.z reaches the server on loopback).
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder().local_address(std::net::IpAddr::from(ip)).build().unwrap()
}

async fn sign_in(s: &TestServer, client: &reqwest::Client, username: &str, password: &str) -> reqwest::Response {
    client.post(s.url("/v1/session")).json(&json!({"username": username, "password": password})).send().await.unwrap()
}

/// Status, Retry-After and error body of a refused sign-in.
async fn refusal(response: reqwest::Response) -> (u16, Option<u64>, Value) {
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry, response.json().await.unwrap())
}

both_backends! {
    async fn the_eleventh_failed_sign_in_is_throttled_per_username_and_per_address() {
        let s = TestServer::start().await;
        // Each attacker signs in from its own address, so that only the username counts.
        let mut answers = Vec::new();
        for (n, username) in [(2, "alice"), (3, "nobody-by-this-name")] {
            let attacker = client_from([127, 0, 0, n]);
            for i in 0..10 {
                let (status, retry, body) = refusal(sign_in(&s, &attacker, username, &format!("guess {i}")).await).await;
                assert_eq!((status, retry), (401, None), "failure {i} of {username}: {body}");
            }
            let (status, retry, body) = refusal(sign_in(&s, &attacker, username, "guess 11").await).await;
            assert_eq!(status, 429, "{username}: {body}");
            assert!(retry.is_some_and(|secs| (1..=900).contains(&secs)), "{username}: Retry-After {retry:?}");
            // Only the number of seconds to wait may differ.
            let message = body["error"]["message"].as_str().unwrap().replace(|c: char| c.is_ascii_digit(), "");
            answers.push((body["error"]["code"].clone(), message));
        }
        assert_eq!(answers[0], answers[1], "the answer does not tell whether the username exists");
        assert_eq!(answers[0].0, "rate_limited");

        // A correct password is refused too while the username is throttled, even from
        // another address: if it were accepted, the one different answer would tell an
        // attacker which of their guesses is right, and the throttle would not slow them.
        let elsewhere = client_from([127, 0, 0, 4]);
        assert_eq!(refusal(sign_in(&s, &elsewhere, "alice", PASSWORD).await).await.0, 429);
        // Another user, from an address that did not fail, is unaffected.
        assert_eq!(sign_in(&s, &elsewhere, "bob", PASSWORD).await.status(), 200);
        // The attacker's address is throttled whatever username it tries.
        assert_eq!(refusal(sign_in(&s, &client_from([127, 0, 0, 2]), "bob", PASSWORD).await).await.0, 429);

        // Ten failures spread over ten usernames from one address also throttle that address.
        let sprayer = client_from([127, 0, 0, 5]);
        for i in 0..10 {
            assert_eq!(sign_in(&s, &sprayer, &format!("user{i}"), "guess").await.status(), 401);
        }
        assert_eq!(refusal(sign_in(&s, &sprayer, "carol", PASSWORD).await).await.0, 429);
        let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("cairn_sign_ins_throttled_total 5"), "{metrics}");
    }

    async fn password_checks_wait_for_a_free_slot_while_other_requests_go_on() {
        let s = TestServer::start().await;
        let alice = s.token("alice").await;
        // Take every slot, as a flood of sign-ins would.
        let slots = s.state.password_slots.semaphore.clone();
        let held = slots.clone().acquire_many_owned(slots.available_permits() as u32).await.unwrap();
        let signing_in = tokio::spawn({
            let (client, url) = (s.http.clone(), s.url("/v1/session"));
            async move { client.post(url).json(&json!({"username": "bob", "password": PASSWORD})).send().await.unwrap().status() }
        });
        // The sign-in waits for a slot (the gauge says so) ...
        loop {
            let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
            if metrics.contains("cairn_password_checks_waiting 1") {
                break;
            }
            assert!(!signing_in.is_finished(), "the sign-in did not wait for a slot");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // ... while authenticated requests are answered,
        assert_eq!(s.get("/v1/me", &alice).await.status(), 200);
        assert!(!signing_in.is_finished());
        // and it goes through once a slot is free.
        drop(held);
        assert_eq!(signing_in.await.unwrap(), 200);
    }

    async fn cors_allows_only_the_extension_origin_and_never_reflects_others() {
        let s = TestServer::start().await;
        let alice = s.token("alice").await;
        let ok = s.http.get(s.url("/v1/me")).bearer_auth(&alice).header("origin", EXTENSION).send().await.unwrap();
        assert_eq!(ok.headers()["access-control-allow-origin"], EXTENSION);
        for evil in ["https://evil.example", "chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "null"] {
            let r = s.http.get(s.url("/v1/me")).bearer_auth(&alice).header("origin", evil).send().await.unwrap();
            assert!(r.headers().get("access-control-allow-origin").is_none(), "{evil}");
            let pre = s.http.request(reqwest::Method::OPTIONS, s.url("/v1/sync/push")).header("origin", evil)
                .header("access-control-request-method", "POST").send().await.unwrap();
            assert!(pre.headers().get("access-control-allow-origin").is_none(), "{evil}");
        }
        let pre = s.http.request(reqwest::Method::OPTIONS, s.url("/v1/sync/push")).header("origin", EXTENSION)
            .header("access-control-request-method", "POST").header("access-control-request-headers", "authorization, content-type")
            .send().await.unwrap();
        assert_eq!(pre.status(), 204);
        assert_eq!(pre.headers()["access-control-allow-origin"], EXTENSION);
        assert!(pre.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    }

    async fn a_token_over_its_rate_gets_429_with_retry_after_and_others_are_unaffected() {
        let s = TestServer::start_with(|state| {
            let store = state.store.clone();
            cairn_server::AppState::with_config(store, ServerConfig { rate_per_second: 0.5, rate_burst: 3.0, ..ServerConfig::default() })
        }).await;
        let (alice, bob) = (s.token("alice").await, s.token("bob").await);
        for _ in 0..3 {
            assert_eq!(s.get("/v1/me", &alice).await.status(), 200);
        }
        let limited = s.get("/v1/me", &alice).await;
        assert_eq!(limited.status(), 429);
        let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry >= 1);
        assert_eq!(code_of(limited).await, (429, "rate_limited".into()));
        assert_eq!(s.get("/v1/me", &bob).await.status(), 200);
        let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("cairn_rate_limited_total 1"), "{metrics}");
    }

    async fn every_response_has_the_security_headers_and_personal_ones_are_not_stored() {
        let s = TestServer::start().await;
        let alice = s.token("alice").await;
        let header = |r: &reqwest::Response, name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_string());
        let anonymous = [
            s.http.get(s.url("/healthz")).send().await.unwrap(),
            s.http.get(s.url("/metrics")).send().await.unwrap(),
            s.http.get(s.url("/v1/openapi.json")).send().await.unwrap(),
            s.http.get(s.url("/no/such/path")).send().await.unwrap(),
            s.http.request(reqwest::Method::OPTIONS, s.url("/v1/sync/push")).header("origin", EXTENSION)
                .header("access-control-request-method", "POST").send().await.unwrap(),
        ];
        let personal = [
            s.get("/v1/me", &alice).await,
            s.get("/v1/communities/demo-team", &alice).await,
            s.get("/annotations/_me/", &alice).await,
            s.get("/v1/me", "cairn_not-a-valid-token").await,
            s.http.post(s.url("/v1/session")).json(&json!({"username": "alice", "password": PASSWORD})).send().await.unwrap(),
            s.http.post(s.url("/v1/session")).json(&json!({"username": "alice", "password": "wrong"})).send().await.unwrap(),
        ];
        for r in anonymous.iter().chain(&personal) {
            assert_eq!(header(r, "x-content-type-options").as_deref(), Some("nosniff"), "{}", r.url());
            assert_eq!(header(r, "referrer-policy").as_deref(), Some("no-referrer"), "{}", r.url());
            assert_eq!(header(r, "strict-transport-security"), None, "{}: not over https", r.url());
        }
        for r in &personal {
            assert_eq!(header(r, "cache-control").as_deref(), Some("no-store"), "{} {}", r.url(), r.status());
        }
        assert_eq!(personal[0].status(), 200);
        assert_eq!(personal[4].status(), 200, "the response that carries a token");

        let https = TestServer::start_with(|state| {
            let config = ServerConfig { public_url: Some("https://cairn.example.com".into()), ..ServerConfig::default() };
            cairn_server::AppState::with_config(state.store.clone(), config)
        }).await;
        let r = https.http.get(https.url("/healthz")).send().await.unwrap();
        assert_eq!(header(&r, "strict-transport-security").as_deref(), Some("max-age=31536000"));
    }

    async fn made_up_methods_share_one_metrics_label() {
        let s = TestServer::start().await;
        let rows = |text: &str| text.lines().filter(|l| l.starts_with("cairn_http_requests_total{")).count();
        let before = rows(&s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap());
        for i in 0..100 {
            let method = reqwest::Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
            let response = s.http.request(method, s.url("/healthz")).send().await.unwrap();
            assert_eq!(response.status(), 405);
        }
        let text = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(!text.contains("MADEUP"), "{text}");
        assert!(text.contains("cairn_http_requests_total{method=\"other\",route=\"/healthz\",status=\"405\"} 100"), "{text}");
        assert!(rows(&text) <= before + 2, "/metrics grew from {before} to {} rows:\n{text}", rows(&text));
    }

    async fn two_owners_leaving_or_demoting_each_other_at_once_leave_one_owner() {
        let s = TestServer::start().await;
        let (alice, bob) = (s.token("alice").await, s.token("bob").await);
        for round in 0..16 {
            let slug = format!("pair-{round}");
            assert_eq!(s.post("/v1/communities", &alice, &json!({"slug": slug, "name": "Pair"})).await.status(), 201);
            cairn_server::admin::add_member(s.store.as_ref(), &slug, "bob", Role::Owner).await.unwrap();
            let change = |token: &str, who: &str| {
                let url = s.url(&format!("/v1/communities/{slug}/members/{who}"));
                let request = if round % 2 == 0 {
                    s.http.delete(url) // each owner leaves
                } else {
                    s.http.put(url).json(&json!({"role": "member"})) // each owner demotes the other
                };
                let request = request.bearer_auth(token);
                async move { request.send().await.unwrap() }
            };
            let (by_alice, by_bob) = if round % 2 == 0 {
                tokio::join!(change(&alice, "alice"), change(&bob, "bob"))
            } else {
                tokio::join!(change(&alice, "bob"), change(&bob, "alice"))
            };
            let mut outcomes = [by_alice.status().as_u16(), by_bob.status().as_u16()];
            outcomes.sort();
            // The loser is refused: 409 (it would remove the last owner), or 403 when it
            // was demoted before its own request was authorized.
            assert!(outcomes[0] == 204 && [403, 409].contains(&outcomes[1]), "round {round}: {outcomes:?}");
            let community = s.store.community(&slug).await.unwrap().unwrap();
            let owners = s.store.members(&community.id).await.unwrap().into_iter().filter(|m| m.role == Role::Owner).count();
            assert_eq!(owners, 1, "round {round}");
        }
    }

    async fn readyz_and_metrics_answer() {
        let s = TestServer::start().await;
        assert_eq!(s.http.get(s.url("/readyz")).send().await.unwrap().status(), 200);
        let alice = s.token("alice").await;
        s.get("/v1/me", &alice).await;
        let response = s.http.get(s.url("/metrics")).send().await.unwrap();
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = response.text().await.unwrap();
        assert!(text.contains("cairn_http_requests_total{method=\"GET\",route=\"/v1/me\",status=\"200\"} 1"), "{text}");
        s.store.close().await;
        assert_eq!(s.http.get(s.url("/readyz")).send().await.unwrap().status(), 503);
    }

    async fn every_route_is_in_the_openapi_description_and_answered() {
        let s = TestServer::start().await;
        let served: Value = s.http.get(s.url("/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
        let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        assert_eq!(served, doc);
        assert_eq!(doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum::<usize>(), API_ROUTES.len(),
            "openapi.json describes exactly the routes in API_ROUTES");
        for (method, path) in API_ROUTES {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} is missing from openapi.json");
            let url = s.url(&path.replace("{slug}", "demo-team").replace("{username}", "bob"));
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            if *path == "/v1/events" {
                continue; // a stream; covered in tests/sync.rs
            }
            let response = s.http.request(m, &url).send().await.unwrap();
            let body = response.text().await.unwrap();
            assert!(!body.contains("no such endpoint"), "{method} {path} is not routed");
        }
    }

    async fn communities_are_created_renamed_archived_and_joined_by_invite() {
        let s = TestServer::start().await;
        let (alice, bob, carol) = (s.token("alice").await, s.token("bob").await, s.token("carol").await);
        let created = s.post("/v1/communities", &carol, &json!({"slug": "book-club", "name": "Book club"})).await;
        assert_eq!(created.status(), 201);
        let info: CommunityInfo = created.json().await.unwrap();
        assert_eq!(info.role, Role::Owner);
        assert_eq!(code_of(s.post("/v1/communities", &bob, &json!({"slug": "book-club", "name": "X"})).await).await.0, 409);
        assert_eq!(code_of(s.post("/v1/communities", &bob, &json!({"slug": "Bad Slug", "name": "X"})).await).await.0, 400);

        // Only managers invite; a single-use code works once.
        assert_eq!(s.post("/v1/communities/book-club/invites", &bob, &json!({})).await.status(), 403);
        let invite: InviteResponse = s.post("/v1/communities/book-club/invites", &carol, &json!({})).await.json().await.unwrap();
        let joined: CommunityInfo = s.post("/v1/join", &bob, &json!({"code": invite.code})).await.json().await.unwrap();
        assert_eq!(joined.id, "book-club");
        assert_eq!(code_of(s.post("/v1/join", &alice, &json!({"code": invite.code})).await).await.0, 404);
        assert_eq!(code_of(s.post("/v1/join", &alice, &json!({"code": "inv_nonsense"})).await).await.0, 404);

        // Managers list the invites still usable (never their codes) and revoke them.
        let listed = |token: String| {
            let s = &s;
            async move { s.get("/v1/communities/book-club/invites", &token).await }
        };
        let open: InviteResponse =
            s.post("/v1/communities/book-club/invites", &carol, &json!({"multi_use": true})).await.json().await.unwrap();
        let list: InvitesResponse = listed(carol.clone()).await.json().await.unwrap();
        assert_eq!(list.invites.len(), 1, "the used single-use code is not listed: {list:?}");
        assert_eq!((list.invites[0].id.as_str(), list.invites[0].created_by.as_str()), (open.id.as_str(), "carol"));
        assert_eq!(list.invites[0].uses_left, None);
        let body = listed(carol.clone()).await.text().await.unwrap();
        assert!(!body.contains(&open.code), "the list never carries a code");
        assert_eq!(code_of(listed(bob.clone()).await).await.0, 403, "a member sees no invites");
        assert_eq!(code_of(listed(alice.clone()).await).await.0, 403, "nor does a stranger");
        let revoke = |token: String, id: String| {
            let s = &s;
            async move {
                s.http.delete(s.url(&format!("/v1/communities/book-club/invites/{id}"))).bearer_auth(token).send().await.unwrap()
            }
        };
        assert_eq!(revoke(bob.clone(), open.id.clone()).await.status(), 403);
        assert_eq!(code_of(revoke(carol.clone(), "not-an-id".into()).await).await.0, 400);
        assert_eq!(revoke(carol.clone(), open.id.clone()).await.status(), 204);
        assert_eq!(code_of(revoke(carol.clone(), open.id.clone()).await).await.0, 404, "revoked once");
        assert_eq!(code_of(s.post("/v1/join", &alice, &json!({"code": open.code})).await).await.0, 404, "a revoked code lets nobody in");
        let list: InvitesResponse = listed(carol.clone()).await.json().await.unwrap();
        assert!(list.invites.is_empty());

        let detail: CommunityDetail = s.get("/v1/communities/book-club", &bob).await.json().await.unwrap();
        assert_eq!(detail.members.iter().map(|m| (m.user.username.as_str(), m.role)).collect::<Vec<_>>(),
                   [("bob", Role::Member), ("carol", Role::Owner)]);
        assert_eq!(s.get("/v1/communities/book-club", &alice).await.status(), 403);

        // Rename needs a manager; archive needs the owner and then refuses new shares.
        let patch = |token: &str, body: Value| {
            s.http.patch(s.url("/v1/communities/book-club")).bearer_auth(token.to_string()).json(&body).send()
        };
        assert_eq!(patch(&bob, json!({"name": "Mine"})).await.unwrap().status(), 403);
        assert_eq!(patch(&carol, json!({"name": "Readers"})).await.unwrap().status(), 204);
        let me: MeResponse = s.get("/v1/me", &bob).await.json().await.unwrap();
        assert!(me.communities.iter().any(|c| c.id == "book-club" && c.name == "Readers"));
        assert_eq!(patch(&carol, json!({"archived": true})).await.unwrap().status(), 204);
        let results = s.push(&bob, "d", json!([upsert(1, &annotation(&new_id(), "https://a.example/", "n", T0), &["book-club"])])).await;
        assert_eq!(results[0]["error"]["code"], "archived");

        // Roles and leaving: the last owner cannot leave; a member can.
        let set_role = s.http.put(s.url("/v1/communities/book-club/members/bob")).bearer_auth(&bob).json(&json!({"role": "owner"})).send().await.unwrap();
        assert_eq!(set_role.status(), 403, "nobody promotes themselves");
        let leave = |token: &str, who: &str| s.http.delete(s.url(&format!("/v1/communities/book-club/members/{who}"))).bearer_auth(token.to_string()).send();
        assert_eq!(leave(&carol, "carol").await.unwrap().status(), 409);
        assert_eq!(leave(&bob, "bob").await.unwrap().status(), 204);
        assert_eq!(s.get("/v1/communities/book-club", &bob).await.status(), 403);
    }
}
