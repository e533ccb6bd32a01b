//! The HTTP API end to end: a real server, a real database (each test runs on SQLite and on PostgreSQL), real HTTP.

mod common;

use cairn_protocol::api::{MeResponse, Role, SignInResponse, MAX_PUSH_MUTATIONS};
use cairn_server::{admin, tokens};
use common::*;
use serde_json::{json, Value};

const PAGE: &str = "https://wiki.example.com/display/ENG/Runbook?pageId=42";

async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let code = body["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error body: {body}")).to_string();
    let message = body["error"]["message"].as_str().unwrap().to_string();
    assert!(!message.is_empty());
    (status, code, message)
}

both_backends! {
async fn healthz_answers_ok() {
    let s = TestServer::start().await;
    let response = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

async fn people_list_and_revoke_their_own_tokens_and_sign_out() {
    let s = TestServer::start().await;
    let sign_in = |agent: &'static str| {
        let request = s.http.post(s.url("/v1/session")).header("user-agent", agent)
            .json(&json!({"username": "alice", "password": PASSWORD}));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<SignInResponse>().await.unwrap().token
        }
    };
    let laptop = sign_in("Laptop browser").await;
    let phone = sign_in("Phone browser").await;
    let integration = s.token("alice").await;
    let bob = s.token("bob").await;
    let status = |token: &str, path: &str| {
        let request = s.http.get(s.url(path)).bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(&phone, "/v1/me").await, 200);

    // The list: every live token of the caller's, its prefix and label, never a secret or hash.
    let response = s.get("/v1/me/tokens", &laptop).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for secret in [&laptop, &phone, &integration, &bob] {
        assert!(!text.contains(&secret[tokens::DISPLAY_PREFIX_CHARS..]), "a secret is listed: {text}");
        assert!(!text.contains(&tokens::hash(secret)), "a hash is listed: {text}");
    }
    let listed: Value = serde_json::from_str(&text).unwrap();
    let listed = listed["tokens"].as_array().unwrap();
    let entry = |token: &str| {
        listed.iter().find(|t| t["prefix"] == token[..tokens::DISPLAY_PREFIX_CHARS]).unwrap_or_else(|| panic!("{text}")).clone()
    };
    assert_eq!(listed.len(), 3, "alice's three tokens and not bob's: {text}");
    assert_eq!(entry(&laptop)["label"], "signed in from Laptop browser");
    assert_eq!(entry(&laptop)["current"], true);
    assert_eq!(entry(&phone)["current"], false);
    assert!(entry(&phone)["last_used"].is_string(), "the phone was used: {text}");
    assert!(entry(&integration)["last_used"].is_null(), "never used: {text}");
    assert!(entry(&phone)["expires"].is_string() && entry(&integration)["expires"].is_null(), "{text}");
    assert!(entry(&phone)["created"].as_str().unwrap().ends_with('Z'), "{text}");

    // Revoking one's own token by prefix; someone else's prefix is not found and stays valid.
    let revoke = |token: &str, prefix: &str| {
        let request = s.http.delete(s.url(&format!("/v1/me/tokens/{prefix}"))).bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(revoke(&laptop, &phone[..tokens::DISPLAY_PREFIX_CHARS]).await.status(), 204);
    assert_eq!(status(&phone, "/v1/me").await, 401);
    let (code, _, message) = error_of(revoke(&laptop, &bob[..tokens::DISPLAY_PREFIX_CHARS]).await).await;
    assert_eq!(code, 404, "{message}");
    assert_eq!(status(&bob, "/v1/me").await, 200);
    assert_eq!(error_of(revoke(&laptop, "cairn_x").await).await.0, 400);
    assert_eq!(error_of(revoke(&laptop, &phone[..tokens::DISPLAY_PREFIX_CHARS]).await).await.0, 404, "already revoked");

    // Signing out revokes the token presented, and only it.
    let sign_out = |token: &str| {
        let request = s.http.delete(s.url("/v1/session")).bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(sign_out(&laptop).await, 204);
    assert_eq!(status(&laptop, "/v1/me").await, 401);
    assert_eq!(sign_out(&laptop).await, 401, "a revoked token cannot sign out again");
    assert_eq!(status(&integration, "/v1/me").await, 200);
    let left: Value = s.get("/v1/me/tokens", &integration).await.json().await.unwrap();
    assert_eq!(left["tokens"].as_array().unwrap().len(), 1, "{left}");
}

async fn people_change_their_own_password_and_sign_out_their_other_devices() {
    let s = TestServer::start().await;
    let sign_in = |password: &'static str| {
        let request = s.http.post(s.url("/v1/session")).json(&json!({"username": "alice", "password": password}));
        async move { request.send().await.unwrap() }
    };
    let signed_in = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 200);
        response.json::<SignInResponse>().await.unwrap().token
    };
    let laptop = signed_in(sign_in(PASSWORD).await).await;
    let phone = signed_in(sign_in(PASSWORD).await).await;
    let integration = s.token("alice").await;
    let change = |token: &str, body: Value| s.http.put(s.url("/v1/me/password")).bearer_auth(token).json(&body).send();
    let works = |token: &str| {
        let request = s.http.get(s.url("/v1/me")).bearer_auth(token);
        async move { request.send().await.unwrap().status() == 200 }
    };

    // Refused, and nothing changed: a wrong current password, a new one too
    // short, an unknown field, no token at all.
    let wrong = change(&laptop, json!({"current_password": "not-it-at-all", "new_password": "a long new secret"})).await.unwrap();
    assert_eq!(error_of(wrong).await.0, 403);
    let short = change(&laptop, json!({"current_password": PASSWORD, "new_password": "short"})).await.unwrap();
    let (status, code, message) = error_of(short).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert!(message.contains("new_password") && message.contains("8 characters"), "{message}");
    let unknown = change(&laptop, json!({"current_password": PASSWORD, "new_password": "a long new secret", "admin": true}));
    assert_eq!(unknown.await.unwrap().status(), 400);
    let anonymous = s.http.put(s.url("/v1/me/password")).json(&json!({"current_password": PASSWORD, "new_password": "a long new secret"}));
    assert_eq!(anonymous.send().await.unwrap().status(), 401);
    assert_eq!(sign_in(PASSWORD).await.status(), 200, "the password is unchanged");
    assert!(works(&phone).await && works(&integration).await);

    // Changed from the laptop: its token keeps working, every other one is revoked.
    let changed = change(&laptop, json!({"current_password": PASSWORD, "new_password": "correct horse battery"})).await.unwrap();
    assert_eq!(changed.status(), 200);
    let body: Value = changed.json().await.unwrap();
    // The phone's, the integration's, and the one signed in to check the password above.
    assert_eq!(body["revoked_tokens"], 3);
    assert!(works(&laptop).await, "the token that changed the password stays valid");
    assert!(!works(&phone).await && !works(&integration).await, "every other token is revoked");
    assert_eq!(sign_in(PASSWORD).await.status(), 401, "the old password no longer signs in");
    let tablet = signed_in(sign_in("correct horse battery").await).await;

    // Asked not to, a change revokes nothing.
    let body = json!({"current_password": "correct horse battery", "new_password": PASSWORD, "sign_out_elsewhere": false});
    let kept = change(&tablet, body).await.unwrap();
    assert_eq!(kept.json::<Value>().await.unwrap()["revoked_tokens"], 0);
    assert!(works(&laptop).await && works(&tablet).await);
    assert_eq!(sign_in(PASSWORD).await.status(), 200);

    // An account without a password (issued tokens only) is told how it gets one.
    let store = s.store.as_ref();
    admin::add_user(store, "robot", "Build robot", None).await.unwrap();
    let robot = s.token("robot").await;
    let refused = change(&robot, json!({"current_password": "", "new_password": "a long new secret"})).await.unwrap();
    let (status, _, message) = error_of(refused).await;
    assert_eq!(status, 403);
    assert!(message.contains("cairn-server user passwd"), "{message}");
}

async fn sign_in_issues_a_working_token_and_refuses_bad_credentials_alike() {
    let s = TestServer::start().await;
    let response = s
        .http
        .post(s.url("/v1/session"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let signed_in: SignInResponse = response.json().await.unwrap();
    assert!(tokens::looks_like_token(&signed_in.token));
    assert_eq!(signed_in.user.username, "alice");
    let me: MeResponse = s.get("/v1/me", &signed_in.token).await.json().await.unwrap();
    assert_eq!(me.user, signed_in.user);

    let mut answers = Vec::new();
    for (username, password) in [("alice", "wrong-password"), ("nobody", PASSWORD)] {
        let response = s
            .http
            .post(s.url("/v1/session"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        answers.push(error_of(response).await);
    }
    assert_eq!(answers[0].0, 401);
    assert_eq!(answers[0].1, "invalid_credentials");
    assert_eq!(answers[0], answers[1], "unknown user and wrong password must look the same");
}

async fn me_lists_the_callers_communities_with_roles() {
    let s = TestServer::start().await;
    let me: MeResponse = s.get("/v1/me", &s.token("alice").await).await.json().await.unwrap();
    assert_eq!(me.user.display_name, "Alice Example");
    assert_eq!(me.communities.len(), 1);
    assert_eq!(me.communities[0].id, "demo-team");
    assert_eq!(me.communities[0].name, "Demo team");
    assert_eq!(me.communities[0].role, Role::Owner);
    let me: MeResponse = s.get("/v1/me", &s.token("bob").await).await.json().await.unwrap();
    assert_eq!(me.communities[0].role, Role::Member);
}

async fn teammates_see_a_shared_annotation_and_outsiders_never_do() {
    let s = TestServer::start().await;
    let (alice, bob, carol) = (s.token("alice").await, s.token("bob").await, s.token("carol").await);
    let id = new_id();
    let a = annotation(&id, &format!("{PAGE}#section-2"), "**read** this first", T0);
    let results = s.push(&alice, "laptop", json!([upsert(1, &a, &["demo-team"])])).await;
    assert_eq!(statuses(&results), ["applied"]);

    // The same document under another URL (tracking parameter, fragment) has the same key.
    for (token, url) in [(&alice, PAGE.to_string()), (&bob, format!("{PAGE}&utm_source=mail"))] {
        let page = s.page(token, &url).await;
        assert_eq!(page.page_key, PAGE);
        assert_eq!(page.annotations.len(), 1);
        let shared = &page.annotations[0];
        assert_eq!(shared.annotation.id, id);
        assert_eq!(shared.author.username, "alice");
        assert_eq!(shared.author.display_name, "Alice Example");
        assert_eq!(shared.communities, ["demo-team"]);
        assert_eq!(shared.note_html.as_deref(), Some("<p><strong>read</strong> this first</p>\n"));
        assert_eq!(shared.annotation.audience[0].id, "urn:cairn:community:demo-team");
        assert_eq!(shared.annotation.audience[0].name.as_deref(), Some("Demo team"));
    }
    assert!(s.page(&carol, PAGE).await.annotations.is_empty());
}

async fn a_private_annotation_is_visible_to_its_author_only() {
    let s = TestServer::start().await;
    let (alice, bob, carol) = (s.token("alice").await, s.token("bob").await, s.token("carol").await);
    let a = annotation(&new_id(), PAGE, "just for me", T0);
    assert_eq!(statuses(&s.push(&alice, "d1", json!([upsert(1, &a, &[])])).await), ["applied"]);
    let mine = s.page(&alice, PAGE).await;
    assert_eq!(mine.annotations.len(), 1);
    assert!(mine.annotations[0].communities.is_empty());
    assert!(mine.annotations[0].annotation.audience.is_empty());
    assert!(s.page(&bob, PAGE).await.annotations.is_empty());
    assert!(s.page(&carol, PAGE).await.annotations.is_empty());
}

async fn sharing_with_a_community_you_are_not_in_is_rejected_and_stores_nothing() {
    let s = TestServer::start().await;
    let (alice, carol) = (s.token("alice").await, s.token("carol").await);
    let a = annotation(&new_id(), PAGE, "sneaking in", T0);
    let results = s.push(&alice, "d1", json!([upsert(1, &a, &["demo-team", "other-team"])])).await;
    assert_eq!(statuses(&results), ["rejected"]);
    assert_eq!(results[0]["error"]["code"], "not_a_member");
    assert!(results[0]["error"]["message"].as_str().unwrap().contains("other-team"));
    assert!(s.page(&alice, PAGE).await.annotations.is_empty());
    assert!(s.page(&carol, PAGE).await.annotations.is_empty());
    // Rejections are final: the same mutation again is a duplicate, not a new attempt.
    let again = s.push(&alice, "d1", json!([upsert(1, &a, &["demo-team", "other-team"])])).await;
    assert_eq!(statuses(&again), ["duplicate"]);
}

async fn nobody_can_overwrite_or_delete_another_users_annotation() {
    let s = TestServer::start().await;
    let (alice, bob) = (s.token("alice").await, s.token("bob").await);
    let id = new_id();
    let original = annotation(&id, PAGE, "alice wrote this", T0);
    s.push(&alice, "d1", json!([upsert(1, &original, &["demo-team"])])).await;

    let forged = annotation(&id, PAGE, "bob rewrote it", T0 + 60_000);
    let results = s.push(&bob, "b1", json!([upsert(1, &forged, &["demo-team"]), delete(2, &id)])).await;
    assert_eq!(statuses(&results), ["rejected", "rejected"]);
    assert_eq!(results[0]["error"]["code"], "forbidden");
    assert_eq!(results[1]["error"]["code"], "forbidden");

    let page = s.page(&bob, PAGE).await;
    assert_eq!(page.annotations.len(), 1);
    assert_eq!(page.annotations[0].annotation.note(), Some("alice wrote this"));
    assert_eq!(page.annotations[0].author.username, "alice");
}

async fn the_creator_in_a_pushed_body_is_replaced_by_the_caller() {
    let s = TestServer::start().await;
    let (alice, bob) = (s.token("alice").await, s.token("bob").await);
    let bob_id = s.user_id("bob").await;
    let alice_id = s.user_id("alice").await;
    let mut a = serde_json::to_value(annotation(&new_id(), PAGE, "signed by bob?", T0)).unwrap();
    a["creator"] = json!({"id": format!("urn:cairn:user:{bob_id}"), "type": "Person", "name": "Bob Example"});
    a["audience"] = json!([{"id": "urn:cairn:community:other-team", "type": "cairn:Community", "name": "Other team"}]);
    let results = s
        .push(&alice, "d1", json!([{"op": "upsert", "seq": 1, "annotation": a, "communities": ["demo-team"]}]))
        .await;
    assert_eq!(statuses(&results), ["applied"]);
    let page = s.page(&bob, PAGE).await;
    let stored = &page.annotations[0];
    let creator = stored.annotation.creator.as_ref().unwrap();
    assert_eq!(creator.id.as_deref(), Some(format!("urn:cairn:user:{alice_id}").as_str()));
    assert_eq!(creator.name.as_deref(), Some("Alice Example"));
    assert_eq!(stored.author.id, alice_id);
    let audience: Vec<&str> = stored.annotation.audience.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(audience, ["urn:cairn:community:demo-team"]);
}

async fn replaying_a_push_changes_nothing() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    let (id1, id2) = (new_id(), new_id());
    let batch = json!([
        upsert(1, &annotation(&id1, PAGE, "one", T0), &["demo-team"]),
        upsert(2, &annotation(&id2, PAGE, "two", T0 + 1), &[]),
        delete(3, &id1),
    ]);
    assert_eq!(statuses(&s.push(&alice, "d1", batch.clone()).await), ["applied", "applied", "applied"]);
    let before = s.page(&alice, PAGE).await;
    assert_eq!(before.annotations.len(), 1);
    assert_eq!(statuses(&s.push(&alice, "d1", batch.clone()).await), ["duplicate", "duplicate", "duplicate"]);
    assert_eq!(s.page(&alice, PAGE).await, before);
    // The same seqs from another device are that device's own mutations.
    let other = s.push(&alice, "d2", json!([upsert(1, &annotation(&new_id(), PAGE, "three", T0), &[])])).await;
    assert_eq!(statuses(&other), ["applied"]);
}

async fn reordered_and_repeated_mutations_in_a_batch_converge_on_the_newest_edit() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    let id = new_id();
    let older = annotation(&id, PAGE, "first draft", T0);
    let newer = annotation(&id, PAGE, "final text", T0 + 5_000);
    let other = annotation(&new_id(), PAGE, "another", T0);
    let batch = json!([
        upsert(3, &newer, &["demo-team"]),
        upsert(2, &older, &[]),
        upsert(3, &newer, &["demo-team"]),
        upsert(1, &other, &[]),
    ]);
    let results = s.push(&alice, "d1", batch).await;
    assert_eq!(statuses(&results), ["applied", "applied", "duplicate", "applied"]);
    let seqs: Vec<u64> = results.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [3, 2, 3, 1], "results come back in request order");
    let page = s.page(&s.token("bob").await, PAGE).await;
    assert_eq!(page.annotations.len(), 1, "the older edit must not unshare the newer one");
    assert_eq!(page.annotations[0].annotation.note(), Some("final text"));
}

async fn a_delete_is_not_undone_by_an_older_upsert() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    let bob = s.token("bob").await;

    // Delete arrives first for an id the server never saw; the upsert it deletes arrives later.
    let id = new_id();
    assert_eq!(statuses(&s.push(&alice, "phone", json!([delete(7, &id)])).await), ["applied"]);
    let late = s.push(&alice, "laptop", json!([upsert(1, &annotation(&id, PAGE, "zombie", T0), &["demo-team"])])).await;
    assert_eq!(statuses(&late), ["rejected"]);
    assert_eq!(late[0]["error"]["code"], "deleted");

    // Deleting a live, shared annotation hides it from everyone.
    let id2 = new_id();
    s.push(&alice, "laptop", json!([upsert(2, &annotation(&id2, PAGE, "short-lived", T0), &["demo-team"])])).await;
    assert_eq!(s.page(&bob, PAGE).await.annotations.len(), 1);
    assert_eq!(statuses(&s.push(&alice, "phone", json!([delete(8, &id2), delete(9, &id2)])).await), ["applied", "applied"]);
    assert!(s.page(&bob, PAGE).await.annotations.is_empty());
    assert!(s.page(&alice, PAGE).await.annotations.is_empty());
    let revived = s.push(&alice, "laptop", json!([upsert(3, &annotation(&id2, PAGE, "back?", T0 + 1), &[])])).await;
    assert_eq!(revived[0]["error"]["code"], "deleted");
    assert!(s.page(&alice, PAGE).await.annotations.is_empty());
}

/// Page lookups are served from memory by version: a page looked up again shows
/// every edit, and a note edited back and forth is never shown stale.
async fn a_page_looked_up_again_shows_each_annotation_as_it_is_now() {
    let s = TestServer::start().await;
    let (alice, bob) = (s.token("alice").await, s.token("bob").await);
    let id = new_id();
    let mut seq = 0;
    for (i, note) in ["first", "second", "first"].into_iter().enumerate() {
        seq += 1;
        let edit = annotation(&id, PAGE, note, T0 + i as i64 * 1_000);
        assert_eq!(statuses(&s.push(&alice, "d1", json!([upsert(seq, &edit, &["demo-team"])])).await), ["applied"]);
        for token in [&bob, &bob, &alice] {
            let page = s.page(token, PAGE).await;
            assert_eq!(page.annotations.len(), 1);
            assert_eq!(page.annotations[0].note_html.as_deref(), Some(format!("<p>{note}</p>\n").as_str()));
        }
    }
}

async fn broken_request_bodies_are_400_with_a_json_error_and_store_nothing() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    let valid = upsert(1, &annotation(&new_id(), PAGE, "never stored", T0), &[]);
    let cases: Vec<(String, &str)> = vec![
        ("{\"device_id\": \"d1\", \"mutations\": [".into(), "EOF"),
        ("not json at all".into(), "expected"),
        (json!({"device_id": "d1", "mutations": "lots"}).to_string(), "invalid type"),
        (json!({"device_id": 5, "mutations": [valid.clone()]}).to_string(), "invalid type"),
        (json!({"device_id": "d1", "mutations": [valid.clone()], "author": "bob"}).to_string(), "unknown field `author`"),
        (json!({"device_id": "d1"}).to_string(), "missing field `mutations`"),
        (json!({"device_id": "d1", "mutations": [{"op": "upsert", "seq": 1, "communities": []}]}).to_string(), "missing field `annotation`"),
        (json!({"device_id": "d1", "mutations": [{"op": "teleport", "seq": 1}]}).to_string(), "unknown variant"),
        (json!({"device_id": "d1", "mutations": [{"op": "delete", "seq": -1, "id": "x"}]}).to_string(), "invalid value"),
    ];
    for (body, expected) in cases {
        let (status, code, message) = error_of(s.post_raw("/v1/sync/push", &alice, body.clone()).await).await;
        assert_eq!((status, code.as_str()), (400, "bad_request"), "{body}");
        assert!(message.contains(expected), "{body}: {message}");
    }
    let response = s
        .http
        .post(s.url("/v1/sync/push"))
        .bearer_auth(&alice)
        .header("content-type", "text/plain")
        .body(json!({"device_id": "d1", "mutations": [valid.clone()]}).to_string())
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert!(message.contains("Content-Type"), "{message}");

    for device in ["", "has space", "semi;colon", &"d".repeat(65)] {
        let response = s.post("/v1/sync/push", &alice, &json!({"device_id": device, "mutations": [valid.clone()]})).await;
        let (status, code, message) = error_of(response).await;
        assert_eq!((status, code.as_str()), (400, "bad_request"), "{device:?}");
        assert!(message.contains("device_id"), "{message}");
    }
    let response = s.post("/v1/session", "", &json!({"username": "alice", "password": PASSWORD, "remember": true})).await;
    assert_eq!(error_of(response).await.0, 400);

    assert!(s.page(&alice, PAGE).await.annotations.is_empty());
    // None of the refused requests recorded its seq: the valid push still applies.
    assert_eq!(statuses(&s.push(&alice, "d1", json!([valid])).await), ["applied"]);
}

async fn an_oversize_body_is_413() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    let huge = json!({"device_id": "d1", "mutations": [], "padding": "x".repeat(cairn_server::MAX_BODY_BYTES)});
    let (status, code, message) = error_of(s.post("/v1/sync/push", &alice, &huge).await).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
    assert!(message.contains("MiB"), "{message}");
}

async fn too_many_mutations_is_413_batch_too_large_and_applies_none() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    let mutations: Vec<Value> = (0..=MAX_PUSH_MUTATIONS as u64)
        .map(|seq| upsert(seq, &annotation(&new_id(), PAGE, "n", T0), &[]))
        .collect();
    let response = s.post("/v1/sync/push", &alice, &json!({"device_id": "d1", "mutations": mutations})).await;
    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (413, "batch_too_large"));
    assert!(message.contains(&MAX_PUSH_MUTATIONS.to_string()), "{message}");
    assert!(s.page(&alice, PAGE).await.annotations.is_empty());
    // Exactly the maximum is fine.
    let results = s.push(&alice, "d1", json!(mutations[..MAX_PUSH_MUTATIONS])).await;
    assert_eq!(results.len(), MAX_PUSH_MUTATIONS);
    assert!(statuses(&results).iter().all(|s| *s == "applied"));
    assert_eq!(s.page(&alice, PAGE).await.annotations.len(), MAX_PUSH_MUTATIONS);
}

async fn one_invalid_annotation_does_not_sink_the_batch() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    let good1 = annotation(&new_id(), PAGE, "good one", T0);
    let good2 = annotation(&new_id(), PAGE, "good two", T0 + 1);
    // Selectors without a quote (with none at all it would be a page note).
    let mut no_quote = annotation(&new_id(), PAGE, "bad", T0);
    no_quote.target.selector = vec![cairn_model::Selector::TextPositionSelector { start: 0, end: 3 }];
    let mut bad_id = serde_json::to_value(annotation(&new_id(), PAGE, "bad id", T0)).unwrap();
    bad_id["id"] = json!("urn:uuid:6fa459ea-ee8a-3ca4-894e-db77e160355e");
    let results = s
        .push(
            &alice,
            "d1",
            json!([
                upsert(1, &good1, &[]),
                upsert(2, &no_quote, &[]),
                {"op": "upsert", "seq": 3, "annotation": bad_id, "communities": []},
                upsert(4, &good2, &[]),
                delete(5, "not-an-id"),
            ]),
        )
        .await;
    assert_eq!(statuses(&results), ["applied", "rejected", "rejected", "applied", "rejected"]);
    for r in &results[1..3] {
        assert_eq!(r["error"]["code"], "invalid_annotation");
    }
    assert!(results[1]["error"]["message"].as_str().unwrap().contains("TextQuoteSelector"));
    assert!(results[2]["error"]["message"].as_str().unwrap().contains("version 7"));
    let notes: Vec<String> = s
        .page(&alice, PAGE)
        .await
        .annotations
        .iter()
        .map(|a| a.annotation.note().unwrap().to_string())
        .collect();
    assert_eq!(notes, ["good two", "good one"], "newest first");
}

async fn sql_metacharacters_are_stored_and_returned_literally() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    let bob = s.token("bob").await;
    let page = "https://a.example/q?name=O'Brien&x=%22;--&y=1%20OR%201=1";
    let note = "Robert'); DROP TABLE annotations;-- \" \\ % _ ; /* */ \0 ' OR '1'='1";
    let mut a = annotation(&new_id(), page, note, T0);
    a.set_tags(["'; DELETE FROM users; --", "100%_done", "\"quoted\""]);
    let results = s.push(&alice, "d1", json!([upsert(1, &a, &["demo-team"])])).await;
    assert_eq!(statuses(&results), ["applied"]);
    let got = s.page(&bob, page).await;
    assert_eq!(got.annotations.len(), 1);
    let stored = &got.annotations[0].annotation;
    assert_eq!(stored.note(), Some(note));
    assert_eq!(stored.tags(), ["'; DELETE FROM users; --", "100%_done", "\"quoted\""]);
    assert_eq!(stored.target.source, page);
    // A LIKE-style or injected page key matches nothing else.
    assert!(s.page(&bob, "https://a.example/q?name=%25").await.annotations.is_empty());
    assert!(s.page(&bob, "https://a.example/' OR '1'='1").await.annotations.is_empty());
    // And the accounts are all still there.
    let me: MeResponse = s.get("/v1/me", &bob).await.json().await.unwrap();
    assert_eq!(me.user.username, "bob");
}

async fn hostile_markdown_is_served_as_safe_html() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    let note = "<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n\
                ![t](https://tracker.example/p.gif) <svg onload=alert(1)> [d](data:text/html,hi) [ok](https://ok.example/)";
    s.push(&alice, "d1", json!([upsert(1, &annotation(&new_id(), PAGE, note, T0), &["demo-team"])])).await;
    let page = s.page(&s.token("bob").await, PAGE).await;
    let html = page.annotations[0].note_html.clone().unwrap();
    let lower = html.to_ascii_lowercase();
    // Text is escaped by the renderer, so every '<' opens a real tag: check what tags hold.
    let tags: Vec<&str> = lower.split('<').skip(1).map(|t| t.split('>').next().unwrap()).collect();
    assert!(tags.iter().any(|t| t.starts_with("p")), "{html}");
    for tag in &tags {
        for forbidden in ["script", "img", "svg", "javascript:", "data:", "onerror", "onload"] {
            assert!(!tag.contains(forbidden), "{forbidden} in <{tag}> of {html}");
        }
    }
    assert!(html.contains("&lt;script&gt;"), "raw HTML is shown as text: {html}");
    assert!(html.contains("<a href=\"https://ok.example/\" rel=\"noopener noreferrer\">ok</a>"), "{html}");
    // The Markdown itself is returned unchanged: the client renders it again with its own sanitizer.
    assert_eq!(page.annotations[0].annotation.note(), Some(note));
}

async fn requests_without_a_valid_token_are_401() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;

    let response = s.http.get(s.url("/v1/me")).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_of(response).await.1, "unauthorized");

    let forged = tokens::generate().secret;
    for header in ["Basic YWxpY2U6cGFzcw==", "Bearer", "Bearer not-a-token", &format!("Bearer {forged}")] {
        let response = s.http.get(s.url("/v1/me")).header("authorization", header).send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{header}");
        let (status, code, _) = error_of(response).await;
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "{header}");
    }
    let response = s.http.post(s.url("/v1/sync/push")).json(&json!({"device_id": "d", "mutations": []})).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = s.http.get(s.url("/v1/annotations")).query(&[("url", PAGE)]).send().await.unwrap();
    assert_eq!(response.status(), 401);

    assert_eq!(s.get("/v1/me", &alice).await.status(), 200);
    let prefix = &alice[..tokens::DISPLAY_PREFIX_CHARS];
    assert_eq!(admin::revoke_token(s.store.as_ref(), prefix).await.unwrap(), 1);
    let (status, code, message) = error_of(s.get("/v1/me", &alice).await).await;
    assert_eq!((status, code.as_str()), (401, "unauthorized"));
    assert!(message.contains("sign in again"), "{message}");

    let expired = tokens::generate();
    let now = cairn_server::now_ms();
    s.store.insert_token(&s.user_id("alice").await, &expired, "test", Some(now - 1), now - 10).await.unwrap();
    assert_eq!(s.get("/v1/me", &expired.secret).await.status(), 401);

    // Sync pulls and page lookups check the token in the same step as they read
    // (`Store::*_for_token`): the same answers there.
    let bob = s.token("bob").await;
    assert_eq!(token_checked_reads(&s, &bob).await, [200, 200], "a valid token reads");
    for token in [&alice, &expired.secret, &forged] {
        assert_eq!(token_checked_reads(&s, token).await, [401, 401], "a revoked, expired or unknown token reads nothing");
    }
    let (status, code, message) = error_of(s.get("/v1/communities/demo-team/changes", &alice).await).await;
    assert_eq!((status, code.as_str()), (401, "unauthorized"));
    assert!(message.contains("sign in again"), "{message}");
}


async fn page_lookups_need_a_web_url() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    for url in ["not a url", "chrome://settings", "javascript:alert(1)"] {
        let response = s.http.get(s.url("/v1/annotations")).query(&[("url", url)]).bearer_auth(&alice).send().await.unwrap();
        let (status, code, message) = error_of(response).await;
        assert_eq!((status, code.as_str()), (400, "bad_request"), "{url}");
        assert!(message.contains("url"), "{message}");
    }
    let (status, _, message) = error_of(s.get("/v1/annotations", &alice).await).await;
    assert_eq!(status, 400);
    assert!(message.contains("url"), "{message}");
}

async fn unknown_paths_and_protocol_versions_get_json_errors() {
    let s = TestServer::start().await;
    let alice = s.token("alice").await;
    let (status, code, _) = error_of(s.get("/v2/everything", &alice).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));

    let response = s.get("/v1/me", &alice).await;
    assert_eq!(response.headers()["cairn-protocol"], "1");
    let response = s.http.get(s.url("/v1/me")).bearer_auth(&alice).header("cairn-protocol", "99").send().await.unwrap();
    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("protocol"), "{message}");
    let response = s.http.get(s.url("/v1/me")).bearer_auth(&alice).header("cairn-protocol", "1").send().await.unwrap();
    assert_eq!(response.status(), 200);
}

async fn viewers_learn_only_about_their_own_communities() {
    let s = TestServer::start().await;
    admin::add_member(s.store.as_ref(), "other-team", "alice", Role::Member).await.unwrap();
    let (alice, bob, carol) = (s.token("alice").await, s.token("bob").await, s.token("carol").await);
    let a = annotation(&new_id(), PAGE, "for both teams", T0);
    let results = s.push(&alice, "d1", json!([upsert(1, &a, &["other-team", "demo-team"])])).await;
    assert_eq!(statuses(&results), ["applied"]);

    let audience_of = |shared: &cairn_protocol::api::SharedAnnotation| -> Vec<String> {
        shared.annotation.audience.iter().map(|a| a.id.clone()).collect()
    };
    let own = s.page(&alice, PAGE).await;
    assert_eq!(own.annotations[0].communities, ["demo-team", "other-team"]);
    assert_eq!(audience_of(&own.annotations[0]).len(), 2);
    let bobs = s.page(&bob, PAGE).await;
    assert_eq!(bobs.annotations[0].communities, ["demo-team"]);
    assert_eq!(audience_of(&bobs.annotations[0]), ["urn:cairn:community:demo-team"]);
    let carols = s.page(&carol, PAGE).await;
    assert_eq!(carols.annotations[0].communities, ["other-team"]);
    assert_eq!(audience_of(&carols.annotations[0]), ["urn:cairn:community:other-team"]);
    // The change feed says no more than the page lookup does.
    let feed: cairn_protocol::api::ChangesResponse =
        s.get("/v1/communities/demo-team/changes", &bob).await.json().await.unwrap();
    let shared = feed.changes[0].annotation.as_ref().expect("an upsert");
    assert_eq!((shared.communities.as_slice(), audience_of(shared)), (&["demo-team".to_string()][..], vec!["urn:cairn:community:demo-team".to_string()]));
    let feed: cairn_protocol::api::ChangesResponse =
        s.get("/v1/communities/other-team/changes", &alice).await.json().await.unwrap();
    assert_eq!(audience_of(feed.changes[0].annotation.as_ref().expect("an upsert")).len(), 2);

    // Unsharing from one community hides it there and nowhere else.
    let mut edited = a.clone();
    edited.modified = Some(cairn_model::format_rfc3339_ms(T0 + 1_000));
    assert_eq!(statuses(&s.push(&alice, "d1", json!([upsert(2, &edited, &["demo-team"])])).await), ["applied"]);
    assert!(s.page(&carol, PAGE).await.annotations.is_empty());
    assert_eq!(s.page(&bob, PAGE).await.annotations.len(), 1);
    assert_eq!(s.page(&alice, PAGE).await.annotations[0].communities, ["demo-team"]);
}

async fn concurrent_pushes_to_one_community_all_apply() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let (alice, bob) = (s.token("alice").await, s.token("bob").await);
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let s = s.clone();
        let token = if i % 2 == 0 { alice.clone() } else { bob.clone() };
        tasks.push(tokio::spawn(async move {
            let batch: Vec<Value> = (0..5)
                .map(|j| upsert(j, &annotation(&new_id(), PAGE, &format!("note {i}.{j}"), T0), &["demo-team"]))
                .collect();
            s.push(&token, &format!("device-{i}"), json!(batch)).await
        }));
    }
    for task in tasks {
        let results = task.await.unwrap();
        assert_eq!(statuses(&results), ["applied"; 5]);
    }
    assert_eq!(s.page(&alice, PAGE).await.annotations.len(), 40);
    assert_eq!(s.page(&bob, PAGE).await.annotations.len(), 40);
}
}

/// The statuses of a community feed pull and a page lookup with `token`.
async fn token_checked_reads(s: &TestServer, token: &str) -> [u16; 2] {
    let pull = s.get("/v1/communities/demo-team/changes", token).await.status().as_u16();
    let lookup = s.http.get(s.url("/v1/annotations")).query(&[("url", PAGE)]).bearer_auth(token).send().await.unwrap();
    [pull, lookup.status().as_u16()]
}
