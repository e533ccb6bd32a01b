//! `GET /v1/search`: filters, a stable cursor, and membership scoping.

mod common;

use cairn_protocol::api::SearchResponse;
use common::*;
use serde_json::{json, Value};

async fn search(s: &TestServer, token: &str, query: &[(&str, &str)]) -> SearchResponse {
    let response = s.http.get(s.url("/v1/search")).query(query).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn notes(r: &SearchResponse) -> Vec<String> {
    r.annotations.iter().map(|a| a.annotation.note().unwrap_or("").to_string()).collect()
}

both_backends! {
    async fn search_filters_by_page_community_tag_author_text_and_time() {
        let s = TestServer::start().await;
        let (alice, bob, carol) = (s.token("alice").await, s.token("bob").await, s.token("carol").await);
        let mut a1 = annotation(&new_id(), "https://wiki.example/runbook", "Restart the Payment service", T0);
        a1.set_tags(["ops", "payments"]);
        a1.created = Some(cairn_model::format_rfc3339_ms(T0 - 10_000));
        let a2 = annotation(&new_id(), "https://wiki.example/other", "Lunch menu 100%_ok", T0);
        let mine = annotation(&new_id(), "https://wiki.example/runbook", "my private payment note", T0);
        s.push(&alice, "d", json!([upsert(1, &a1, &["demo-team"]), upsert(2, &a2, &["demo-team"]), upsert(3, &mine, &[])])).await;
        let c1 = annotation(&new_id(), "https://wiki.example/runbook", "carol's payment secret", T0);
        s.push(&carol, "d", json!([upsert(1, &c1, &["other-team"])])).await;

        assert_eq!(notes(&search(&s, &bob, &[("q", "PAYMENT")]).await), ["Restart the Payment service"]);
        assert_eq!(search(&s, &alice, &[("q", "payment")]).await.annotations.len(), 2, "own private + shared");
        assert_eq!(search(&s, &bob, &[("url", "https://wiki.example/runbook#x")]).await.annotations.len(), 1);
        assert_eq!(notes(&search(&s, &bob, &[("tag", "Ops")]).await), ["Restart the Payment service"]);
        assert!(search(&s, &bob, &[("tag", "op")]).await.annotations.is_empty(), "tags match whole");
        assert_eq!(search(&s, &bob, &[("author", "alice")]).await.annotations.len(), 2);
        assert!(search(&s, &bob, &[("author", "carol")]).await.annotations.is_empty());
        assert_eq!(search(&s, &bob, &[("community", "demo-team")]).await.annotations.len(), 2);
        // LIKE metacharacters are literal.
        assert_eq!(notes(&search(&s, &bob, &[("q", "100%_")]).await), ["Lunch menu 100%_ok"]);
        assert!(search(&s, &bob, &[("q", "%")]).await.annotations.len() == 1);
        let before = cairn_model::format_rfc3339_ms(T0 - 1);
        assert_eq!(notes(&search(&s, &bob, &[("to", before.as_str())]).await), ["Restart the Payment service"]);
        assert_eq!(search(&s, &bob, &[("from", before.as_str())]).await.annotations.len(), 1);
        // Carol's rows never show up for others, and others' never for her.
        assert_eq!(notes(&search(&s, &carol, &[("q", "payment")]).await), ["carol's payment secret"]);
        let response = s.http.get(s.url("/v1/search")).query(&[("community", "other-team")]).bearer_auth(&bob).send().await.unwrap();
        assert_eq!(response.status(), 403);
        let response = s.http.get(s.url("/v1/search")).query(&[("from", "yesterday")]).bearer_auth(&bob).send().await.unwrap();
        assert_eq!(response.status(), 400);
    }

    async fn the_cursor_pages_through_everything_once_even_while_rows_are_added() {
        let s = TestServer::start().await;
        let alice = s.token("alice").await;
        let batch: Vec<Value> = (0..7)
            .map(|i| upsert(i + 1, &annotation(&new_id(), "https://a.example/p", &format!("note {i}"), T0), &["demo-team"]))
            .collect();
        s.push(&alice, "d", Value::Array(batch)).await;
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut query = vec![("limit", "3".to_string())];
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = search(&s, &alice, &q).await;
            seen.extend(notes(&page));
            pages += 1;
            if pages == 1 {
                // A row added after the first page is newer: it must not shift later pages.
                let late = annotation(&new_id(), "https://a.example/p", "late", T0);
                s.push(&alice, "d", json!([upsert(100, &late, &["demo-team"])])).await;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 7, "{seen:?}");
        assert_eq!(seen.len(), 7, "no row twice: {seen:?}");
        let bad = s.http.get(s.url("/v1/search")).query(&[("cursor", "not-a-cursor")]).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(bad.status(), 400);
    }
}
