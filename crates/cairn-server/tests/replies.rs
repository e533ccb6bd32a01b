//! Replies and page notes: a reply is seen by exactly those who see its parent,
//! follows the parent's audience and goes when the parent goes; a note on the
//! whole page is served like any highlight. Each test runs on both databases.

mod common;

use cairn_model::Annotation;
use cairn_protocol::api::{ChangeKind, ChangesResponse};
use common::*;
use serde_json::Value;

const PAGE: &str = "https://wiki.example/threads";

fn reply(id: &str, parent: &str, note: &str, modified_ms: i64) -> Annotation {
    Annotation::new_reply(id.parse().unwrap(), parent.parse().unwrap(), note, modified_ms)
}

/// The ids on `PAGE` as `token`'s holder sees them.
async fn page_ids(server: &TestServer, token: &str) -> Vec<String> {
    let mut ids: Vec<String> =
        server.page(token, PAGE).await.annotations.into_iter().map(|a| a.annotation.id).collect();
    ids.sort();
    ids
}

async fn changes(server: &TestServer, token: &str, path: &str) -> ChangesResponse {
    let response = server.get(path, token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The last change of `id` in a feed.
fn last_change(feed: &ChangesResponse, id: &str) -> Option<ChangeKind> {
    feed.changes.iter().rev().find(|c| c.id == id).map(|c| c.kind)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Reads the live stream (kept in `buffer`) until a `change` event with exactly this data arrives.
async fn hear(stream: &mut reqwest::Response, buffer: &mut String, data: &Value) {
    loop {
        for frame in buffer.split("\n\n").filter(|f| f.contains("event: change")) {
            if let Some(got) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                if &serde_json::from_str::<Value>(got).unwrap() == data {
                    return;
                }
            }
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk()).await;
        let bytes = chunk.unwrap_or_else(|_| panic!("never heard {data}; heard {buffer}")).unwrap().unwrap();
        buffer.push_str(&String::from_utf8_lossy(&bytes));
    }
}

both_backends! {
    async fn the_live_stream_announces_replies_and_their_following_the_parent() {
        let server = TestServer::start().await;
        let (alice, bob) = (server.token("alice").await, server.token("bob").await);
        let mut alices_stream = server.get("/v1/events", &alice).await;
        let mut bobs_stream = server.get("/v1/events", &bob).await;
        let mut bobs_buffer = String::new();
        let parent = new_id();
        let answer = new_id();
        let mut highlight = annotation(&parent, PAGE, "look", T0);
        server.push(&alice, "a1", serde_json::json!([upsert(1, &highlight, &["demo-team"])])).await;
        server.push(&bob, "b1", serde_json::json!([upsert(1, &reply(&answer, &parent, "agreed", T0 + 1), &[])])).await;
        let feed = changes(&server, &alice, "/v1/communities/demo-team/changes?since=0").await;
        hear(&mut alices_stream, &mut String::new(), &serde_json::json!({"community": "demo-team", "seq": feed.next})).await;
        // Alice makes it private: bob's reply is rewritten in his own feed, and he hears of it.
        highlight.modified = Some(cairn_model::format_rfc3339_ms(T0 + 2));
        server.push(&alice, "a1", serde_json::json!([upsert(2, &highlight, &[])])).await;
        let own = changes(&server, &bob, "/v1/me/changes?since=0").await;
        assert_eq!(own.next, 2, "his reply's second version");
        hear(&mut bobs_stream, &mut bobs_buffer, &serde_json::json!({"community": null, "seq": own.next})).await;
        let feed = changes(&server, &bob, "/v1/communities/demo-team/changes?since=0").await;
        assert_eq!(last_change(&feed, &answer), Some(ChangeKind::Unshared));
        hear(&mut bobs_stream, &mut bobs_buffer, &serde_json::json!({"community": "demo-team", "seq": feed.next})).await;
    }

    async fn a_reply_is_served_on_its_parents_page_to_exactly_those_who_see_the_parent() {
        let server = TestServer::start().await;
        let (alice, bob, carol) = (server.token("alice").await, server.token("bob").await, server.token("carol").await);
        let parent = new_id();
        let results = server.push(&alice, "a1", serde_json::json!([upsert(1, &annotation(&parent, PAGE, "look", T0), &["demo-team"])])).await;
        assert_eq!(statuses(&results), ["applied"]);
        let answer = new_id();
        // The communities bob names are ignored: a reply is shared as its parent is.
        let results = server.push(&bob, "b1", serde_json::json!([upsert(1, &reply(&answer, &parent, "agreed", T0 + 1), &[])])).await;
        assert_eq!(statuses(&results), ["applied"]);

        assert_eq!(page_ids(&server, &alice).await, sorted(vec![parent.clone(), answer.clone()]));
        assert_eq!(page_ids(&server, &bob).await, sorted(vec![parent.clone(), answer.clone()]));
        assert!(page_ids(&server, &carol).await.is_empty());

        let served = server.page(&alice, PAGE).await.annotations.into_iter().find(|a| a.annotation.id == answer).unwrap();
        assert_eq!(served.annotation.reply_to().unwrap().to_urn(), parent);
        assert_eq!(served.communities, ["demo-team"]);
        assert_eq!(served.author.username, "bob");
        assert!(served.note_html.unwrap().contains("agreed"));

        let feed = changes(&server, &alice, "/v1/communities/demo-team/changes?since=0").await;
        assert_eq!(last_change(&feed, &answer), Some(ChangeKind::Upsert));
        let own = changes(&server, &bob, "/v1/me/changes?since=0").await;
        assert_eq!(last_change(&own, &answer), Some(ChangeKind::Upsert));
        assert_eq!(server.get("/v1/communities/demo-team/changes?since=0", &carol).await.status(), 403);
    }

    async fn replying_to_an_annotation_you_cannot_see_is_not_found_as_if_it_did_not_exist() {
        let server = TestServer::start().await;
        let (alice, carol) = (server.token("alice").await, server.token("carol").await);
        let shared = new_id();
        let private = new_id();
        server.push(&alice, "a1", serde_json::json!([
            upsert(1, &annotation(&shared, PAGE, "team", T0), &["demo-team"]),
            upsert(2, &annotation(&private, PAGE, "mine", T0), &[]),
        ])).await;
        let results = server.push(&carol, "c1", serde_json::json!([
            upsert(1, &reply(&new_id(), &shared, "hi", T0), &[]),
            upsert(2, &reply(&new_id(), &private, "hi", T0), &[]),
            upsert(3, &reply(&new_id(), &new_id(), "hi", T0), &["other-team"]),
        ])).await;
        let codes: Vec<&str> = results.iter().map(|r| r["error"]["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["not_found", "not_found", "not_found"]);
        let messages: Vec<String> =
            results.iter().map(|r| r["error"]["message"].as_str().unwrap().replace(&shared, "X").replace(&private, "X")).collect();
        assert_eq!(messages[0], messages[1], "the answers must not tell which exists");
        assert!(page_ids(&server, &carol).await.is_empty());
    }

    async fn replies_follow_their_parents_audience_when_it_changes() {
        let server = TestServer::start().await;
        let (alice, bob, carol) = (server.token("alice").await, server.token("bob").await, server.token("carol").await);
        cairn_server::admin::add_member(server.store.as_ref(), "other-team", "alice", cairn_protocol::api::Role::Member).await.unwrap();
        let parent = new_id();
        let answer = new_id();
        let mut highlight = annotation(&parent, PAGE, "look", T0);
        server.push(&alice, "a1", serde_json::json!([upsert(1, &highlight, &["demo-team"])])).await;
        server.push(&bob, "b1", serde_json::json!([upsert(1, &reply(&answer, &parent, "agreed", T0 + 1), &[])])).await;

        // Moved from demo-team to other-team: bob loses the parent (he keeps his
        // own reply, as everyone keeps what they wrote), carol gains the thread.
        highlight.modified = Some(cairn_model::format_rfc3339_ms(T0 + 2));
        server.push(&alice, "a1", serde_json::json!([upsert(2, &highlight, &["other-team"])])).await;
        assert_eq!(page_ids(&server, &carol).await, sorted(vec![parent.clone(), answer.clone()]));
        let served = server.page(&carol, PAGE).await.annotations.into_iter().find(|a| a.annotation.id == answer).unwrap();
        assert_eq!(served.communities, ["other-team"]);
        let bobs = server.page(&bob, PAGE).await.annotations;
        assert_eq!(bobs.len(), 1, "bob keeps only his own reply");
        assert!(bobs[0].communities.is_empty() || bobs[0].communities == ["other-team"]);
        let feed = changes(&server, &alice, "/v1/communities/demo-team/changes?since=0").await;
        assert_eq!(last_change(&feed, &answer), Some(ChangeKind::Unshared));
        let feed = changes(&server, &carol, "/v1/communities/other-team/changes?since=0").await;
        assert_eq!(last_change(&feed, &answer), Some(ChangeKind::Upsert));
        // Bob's devices hear that his reply changed (its audience) in his own feed.
        let own = changes(&server, &bob, "/v1/me/changes?since=0").await;
        let last = own.changes.iter().rev().find(|c| c.id == answer).unwrap();
        assert_eq!(last.annotation.as_ref().unwrap().annotation.audience.len(), 1);
        assert_eq!(own.changes.iter().filter(|c| c.id == answer).count(), 1, "one position per annotation");
        assert!(last.seq > 1);
    }

    async fn a_reply_racing_its_parents_audience_change_ends_up_with_the_parents_audience() {
        let server = TestServer::start().await;
        let (alice, bob, carol) = (server.token("alice").await, server.token("bob").await, server.token("carol").await);
        cairn_server::admin::add_member(server.store.as_ref(), "other-team", "alice", cairn_protocol::api::Role::Member)
            .await
            .unwrap();
        for round in 0..20u64 {
            let page = format!("{PAGE}/race{round}");
            let parent = new_id();
            let answer = new_id();
            let mut highlight = annotation(&parent, &page, "look", T0);
            server.push(&alice, "a1", serde_json::json!([upsert(2 * round + 1, &highlight, &["demo-team"])])).await;
            highlight.modified = Some(cairn_model::format_rfc3339_ms(T0 + 1));
            let widen = serde_json::json!([upsert(2 * round + 2, &highlight, &["demo-team", "other-team"])]);
            let answer_it = serde_json::json!([upsert(round + 1, &reply(&answer, &parent, "agreed", T0 + 1), &[])]);
            let (widened, answered) = tokio::join!(server.push(&alice, "a1", widen), server.push(&bob, "b1", answer_it));
            assert_eq!((statuses(&widened), statuses(&answered)), (vec!["applied"], vec!["applied"]), "round {round}");
            let carols: Vec<String> =
                server.page(&carol, &page).await.annotations.into_iter().map(|a| a.annotation.id).collect();
            assert_eq!(sorted(carols), sorted(vec![parent.clone(), answer.clone()]), "round {round}");
        }
    }

    async fn deleting_a_parent_deletes_its_replies_for_everyone() {
        let server = TestServer::start().await;
        let (alice, bob) = (server.token("alice").await, server.token("bob").await);
        let parent = new_id();
        let answer = new_id();
        server.push(&alice, "a1", serde_json::json!([upsert(1, &annotation(&parent, PAGE, "look", T0), &["demo-team"])])).await;
        server.push(&bob, "b1", serde_json::json!([upsert(1, &reply(&answer, &parent, "agreed", T0 + 1), &[])])).await;
        let results = server.push(&alice, "a1", serde_json::json!([delete(2, &parent)])).await;
        assert_eq!(statuses(&results), ["applied"]);

        assert!(page_ids(&server, &alice).await.is_empty());
        assert!(page_ids(&server, &bob).await.is_empty());
        let feed = changes(&server, &bob, "/v1/communities/demo-team/changes?since=0").await;
        assert_eq!(last_change(&feed, &answer), Some(ChangeKind::Deleted));
        let own = changes(&server, &bob, "/v1/me/changes?since=0").await;
        assert_eq!(last_change(&own, &answer), Some(ChangeKind::Deleted));
        // Nor can it come back, or get new replies.
        let results = server.push(&bob, "b1", serde_json::json!([
            upsert(2, &reply(&answer, &parent, "again", T0 + 5), &[]),
            upsert(3, &reply(&new_id(), &parent, "new", T0 + 5), &[]),
        ])).await;
        let codes: Vec<&str> = results.iter().map(|r| r["error"]["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["deleted", "not_found"]);
    }

    async fn only_its_author_edits_or_deletes_a_reply() {
        let server = TestServer::start().await;
        let (alice, bob) = (server.token("alice").await, server.token("bob").await);
        let parent = new_id();
        let answer = new_id();
        server.push(&alice, "a1", serde_json::json!([upsert(1, &annotation(&parent, PAGE, "look", T0), &["demo-team"])])).await;
        server.push(&bob, "b1", serde_json::json!([upsert(1, &reply(&answer, &parent, "agreed", T0 + 1), &[])])).await;
        let results = server.push(&alice, "a1", serde_json::json!([
            upsert(2, &reply(&answer, &parent, "hijacked", T0 + 2), &[]),
            delete(3, &answer),
        ])).await;
        let codes: Vec<&str> = results.iter().map(|r| r["error"]["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["forbidden", "forbidden"]);
        let results = server.push(&bob, "b1", serde_json::json!([upsert(2, &reply(&answer, &parent, "edited", T0 + 3), &[])])).await;
        assert_eq!(statuses(&results), ["applied"]);
        let served = server.page(&alice, PAGE).await.annotations.into_iter().find(|a| a.annotation.id == answer).unwrap();
        assert_eq!(served.annotation.note(), Some("edited"));
        let results = server.push(&bob, "b1", serde_json::json!([delete(3, &answer)])).await;
        assert_eq!(statuses(&results), ["applied"]);
        assert_eq!(page_ids(&server, &alice).await, vec![parent]);
    }

    async fn a_reply_answers_an_annotation_not_another_reply() {
        let server = TestServer::start().await;
        let (alice, bob) = (server.token("alice").await, server.token("bob").await);
        let parent = new_id();
        let answer = new_id();
        // Parent and reply in one push: the reply finds the parent the push just wrote.
        let results = server.push(&alice, "a1", serde_json::json!([
            upsert(1, &annotation(&parent, PAGE, "look", T0), &["demo-team"]),
            upsert(2, &reply(&answer, &parent, "first", T0), &[]),
        ])).await;
        assert_eq!(statuses(&results), ["applied", "applied"]);
        let results = server.push(&bob, "b1", serde_json::json!([upsert(1, &reply(&new_id(), &answer, "nested", T0), &[])])).await;
        assert_eq!(results[0]["error"]["code"], "invalid_annotation");
    }

    async fn a_reply_in_the_same_push_as_its_parents_audience_change_follows_it() {
        let server = TestServer::start().await;
        let (alice, bob) = (server.token("alice").await, server.token("bob").await);
        let parent = new_id();
        let answer = new_id();
        let mut highlight = annotation(&parent, PAGE, "look", T0);
        server.push(&alice, "a1", serde_json::json!([upsert(1, &highlight, &[])])).await;
        highlight.modified = Some(cairn_model::format_rfc3339_ms(T0 + 2));
        let results = server.push(&alice, "a1", serde_json::json!([
            upsert(2, &reply(&answer, &parent, "note to self", T0 + 1), &[]),
            upsert(3, &highlight, &["demo-team"]),
        ])).await;
        assert_eq!(statuses(&results), ["applied", "applied"]);
        assert_eq!(page_ids(&server, &bob).await, sorted(vec![parent.clone(), answer.clone()]));
        let served = server.page(&bob, PAGE).await.annotations.into_iter().find(|a| a.annotation.id == answer).unwrap();
        assert_eq!(served.communities, ["demo-team"]);
    }

    async fn a_page_note_is_stored_and_served_like_a_highlight() {
        let server = TestServer::start().await;
        let (alice, bob, carol) = (server.token("alice").await, server.token("bob").await, server.token("carol").await);
        let id = new_id();
        let note = Annotation::new_page_note(id.parse().unwrap(), PAGE, "Read the *summary* first", T0);
        let results = server.push(&alice, "a1", serde_json::json!([upsert(1, &note, &["demo-team"])])).await;
        assert_eq!(statuses(&results), ["applied"]);
        let served = server.page(&bob, PAGE).await.annotations;
        assert_eq!(served.len(), 1);
        assert!(served[0].annotation.is_page_note());
        assert!(served[0].annotation.target.selector.is_empty());
        assert_eq!(served[0].note_html.as_deref().map(|h| h.contains("<em>summary</em>")), Some(true));
        assert!(page_ids(&server, &carol).await.is_empty());
        let feed = changes(&server, &bob, "/v1/communities/demo-team/changes?since=0").await;
        assert_eq!(last_change(&feed, &id), Some(ChangeKind::Upsert));
        let found: Value = server.get("/v1/search?q=summary", &bob).await.json().await.unwrap();
        assert_eq!(found["annotations"].as_array().map(Vec::len), Some(1), "{found}");
        // Without a note it is refused, as a highlight without a quote is.
        let mut empty = note.clone();
        empty.set_note("");
        let results = server.push(&alice, "a1", serde_json::json!([upsert(2, &empty, &[])])).await;
        assert_eq!(results[0]["error"]["code"], "invalid_annotation");
    }
}
