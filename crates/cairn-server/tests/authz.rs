//! Authorization as a property: random users, communities, memberships and
//! annotations, replies to them, changes of their audience and a delete; then every way of reading (page listing, search, pull, W3C
//! containers, the live stream) is checked against a model of who may see what,
//! and every attempt to write as someone else is refused.

#![allow(clippy::needless_range_loop)] // indices are the model's user and community numbers
#![allow(clippy::result_large_err)] // proptest's error carries the failing Scenario; it is built once, on failure

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_protocol::api::{ChangeEvent, ChangeKind, ChangesResponse, PageAnnotationsResponse, Role, SearchResponse};
use cairn_server::admin;
use common::*;
use proptest::prelude::*;
use serde_json::json;

#[derive(Clone, Debug)]
struct Scenario {
    users: usize,
    communities: usize,
    /// member[u][c]
    member: Vec<Vec<bool>>,
    /// (author, communities asked for)
    annotations: Vec<(usize, Vec<usize>)>,
    /// (replier, index of the annotation answered), pushed after the annotations.
    replies: Vec<(usize, usize)>,
    /// Then: (index of an annotation, communities its author now asks for).
    moves: Vec<(usize, Vec<usize>)>,
    /// Then: the index of an annotation its author deletes, if any.
    delete: Option<usize>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (2usize..5, 1usize..4).prop_flat_map(|(users, communities)| {
        (
            proptest::collection::vec(proptest::collection::vec(any::<bool>(), communities), users),
            proptest::collection::vec((0..users, proptest::collection::vec(0..communities, 0..3)), 1..8),
            proptest::collection::vec((0..users, 0usize..8), 0..6),
            proptest::collection::vec((0usize..8, proptest::collection::vec(0..communities, 0..3)), 0..3),
            proptest::option::of(0usize..8),
        )
            .prop_map(move |(member, annotations, replies, moves, delete)| Scenario {
                users,
                communities,
                member,
                annotations,
                replies,
                moves,
                delete,
            })
    })
}

static CASE: AtomicUsize = AtomicUsize::new(0);
static EVIL_SEQ: AtomicUsize = AtomicUsize::new(1);

/// Reads server-sent `change` events until `stop` arrives; returns those before it.
async fn events_until(response: &mut reqwest::Response, stop: &ChangeEvent) -> Vec<ChangeEvent> {
    let mut buffer = String::new();
    let mut seen = Vec::new();
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some(data) =
                frame.lines().find_map(|l| l.strip_prefix("data: ")).filter(|_| frame.contains("event: change"))
            {
                let event: ChangeEvent = serde_json::from_str(data).unwrap();
                if &event == stop {
                    return seen;
                }
                seen.push(event);
            }
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(20), response.chunk()).await;
        let bytes = chunk.expect("the stop event never came").unwrap().expect("the stream ended");
        buffer.push_str(&String::from_utf8_lossy(&bytes));
    }
}

async fn check(s: &TestServer, sc: Scenario) -> Result<(), TestCaseError> {
    let case = CASE.fetch_add(1, Ordering::Relaxed);
    let now = cairn_server::now_ms();
    let mut tokens = Vec::new();
    let mut names = Vec::new();
    for u in 0..sc.users {
        let name = format!("u{case}x{u}");
        s.store.create_user(&name, "Someone", None, now).await.unwrap();
        tokens.push(admin::issue_token(s.store.as_ref(), &name, None).await.unwrap());
        names.push(name);
    }
    let slugs: Vec<String> = (0..sc.communities).map(|c| format!("c{case}x{c}")).collect();
    for slug in &slugs {
        admin::create_community(s.store.as_ref(), slug, "Community").await.unwrap();
    }
    for u in 0..sc.users {
        for c in 0..sc.communities {
            if sc.member[u][c] {
                admin::add_member(s.store.as_ref(), &slugs[c], &names[u], Role::Member).await.unwrap();
            }
        }
    }
    let mut streams = Vec::new();
    for t in &tokens {
        let r = s.get("/v1/events", t).await;
        prop_assert_eq!(r.status(), 200);
        streams.push(r);
    }
    let page = format!("https://authz.example/case{case}");
    // Model: id -> (author, communities it is shared with); None when the push must be rejected.
    let mut model: HashMap<String, (usize, BTreeSet<usize>)> = HashMap::new();
    // Replies: reply id -> parent id. A reply is shared with its parent's communities.
    let mut parent_of: HashMap<String, String> = HashMap::new();
    let mut annotation_ids: Vec<Option<String>> = Vec::new();
    // Every community each id was ever shared with: its feed may speak of it.
    let mut ever_shared: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for (i, (author, asked)) in sc.annotations.iter().enumerate() {
        let id = new_id();
        let asked: BTreeSet<usize> = asked.iter().copied().collect();
        let asked_slugs: Vec<&str> = asked.iter().map(|c| slugs[*c].as_str()).collect();
        let a = annotation(&id, &page, &format!("needle{case} number {i}"), T0);
        let results = s.push(&tokens[*author], "d", json!([upsert(i as u64 + 1, &a, &asked_slugs)])).await;
        let allowed = asked.iter().all(|c| sc.member[*author][*c]);
        prop_assert_eq!(results[0]["status"] == "applied", allowed, "{:?}", results);
        if allowed {
            ever_shared.insert(id.clone(), asked.clone());
            model.insert(id.clone(), (*author, asked));
        }
        annotation_ids.push(allowed.then_some(id));
    }
    let sees = |model: &HashMap<String, (usize, BTreeSet<usize>)>, viewer: usize, id: &str| -> bool {
        model.get(id).is_some_and(|(author, shared)| *author == viewer || shared.iter().any(|c| sc.member[viewer][*c]))
    };
    for (k, (replier, parent)) in sc.replies.iter().enumerate() {
        let Some(Some(parent_id)) = annotation_ids.get(*parent) else { continue };
        let id = new_id();
        let reply = cairn_model::Annotation::new_reply(
            id.parse().unwrap(),
            parent_id.parse().unwrap(),
            &format!("needle{case} reply {k}"),
            T0,
        );
        // What the replier asks for is ignored: the parent's audience is the reply's.
        let results = s.push(&tokens[*replier], "r", json!([upsert(k as u64 + 1, &reply, &[slugs[0].as_str()])])).await;
        let allowed = sees(&model, *replier, parent_id);
        prop_assert_eq!(results[0]["status"] == "applied", allowed, "{:?}", results);
        if allowed {
            ever_shared.insert(id.clone(), model[parent_id].1.clone());
            model.insert(id.clone(), (*replier, model[parent_id].1.clone()));
            parent_of.insert(id, parent_id.clone());
        } else {
            prop_assert_eq!(&results[0]["error"]["code"], "not_found");
        }
    }
    for (k, (index, asked)) in sc.moves.iter().enumerate() {
        let Some(Some(id)) = annotation_ids.get(*index) else { continue };
        let author = model[id].0;
        let asked: BTreeSet<usize> = asked.iter().copied().collect();
        let asked_slugs: Vec<&str> = asked.iter().map(|c| slugs[*c].as_str()).collect();
        let a = annotation(id, &page, &format!("needle{case} moved {k}"), T0 + 1 + k as i64);
        let results = s.push(&tokens[author], "m", json!([upsert(k as u64 + 1, &a, &asked_slugs)])).await;
        let allowed = asked.iter().all(|c| sc.member[author][*c]);
        prop_assert_eq!(results[0]["status"] == "applied", allowed, "{:?}", results);
        if allowed {
            model.get_mut(id).unwrap().1 = asked.clone();
            ever_shared.get_mut(id).unwrap().extend(asked.iter().copied());
            for (reply, parent) in &parent_of {
                if parent == id {
                    model.get_mut(reply).unwrap().1 = asked.clone();
                    ever_shared.get_mut(reply).unwrap().extend(asked.iter().copied());
                }
            }
        }
    }
    if let Some(Some(id)) = sc.delete.and_then(|index| annotation_ids.get(index)) {
        let results = s.push(&tokens[model[id].0], "x", json!([delete(1, id)])).await;
        prop_assert_eq!(statuses(&results), ["applied"]);
        model.remove(id);
        parent_of.retain(|reply, parent| {
            let gone = parent == id;
            if gone {
                model.remove(reply);
            }
            !gone
        });
    }
    let visible = |viewer: usize, id: &str| -> bool {
        model.get(id).is_some_and(|(author, shared)| *author == viewer || shared.iter().any(|c| sc.member[viewer][*c]))
    };
    for viewer in 0..sc.users {
        let token = &tokens[viewer];
        let listing: PageAnnotationsResponse = s.page(token, &page).await;
        let got: BTreeSet<String> = listing.annotations.iter().map(|a| a.annotation.id.clone()).collect();
        let want: BTreeSet<String> = model.keys().filter(|id| visible(viewer, id)).cloned().collect();
        prop_assert_eq!(&got, &want, "page listing for user {}", viewer);
        for a in &listing.annotations {
            for c in &a.communities {
                let idx = slugs.iter().position(|s| s == c).unwrap();
                prop_assert!(sc.member[viewer][idx] || model[&a.annotation.id].0 == viewer, "leaked community name");
            }
        }
        let found: SearchResponse = s
            .http
            .get(s.url("/v1/search"))
            .query(&[("q", format!("needle{case}")), ("limit", "500".into())])
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let got: BTreeSet<String> = found.annotations.iter().map(|a| a.annotation.id.clone()).collect();
        prop_assert_eq!(&got, &want, "search for user {}", viewer);
        for (c, slug) in slugs.iter().enumerate() {
            let r = s.get(&format!("/v1/communities/{slug}/changes?limit=500"), token).await;
            if !sc.member[viewer][c] {
                prop_assert_eq!(r.status(), 403);
                let r = s.get(&format!("/annotations/{slug}/"), token).await;
                prop_assert_eq!(r.status(), 403);
                continue;
            }
            let feed: ChangesResponse = r.json().await.unwrap();
            let mut last = HashMap::new();
            for change in &feed.changes {
                prop_assert!(ever_shared[&change.id].contains(&c), "a row of another community in {}'s feed", slug);
                last.insert(change.id.clone(), change.kind);
            }
            // Following the feed leaves exactly what the community may see now.
            for (id, kind) in last {
                let live = model.get(&id).is_some_and(|(_, shared)| shared.contains(&c));
                prop_assert_eq!(kind == ChangeKind::Upsert, live, "{} in {}'s feed", id, slug);
            }
        }
        // Writing as someone else: every other user's annotation is refused, both ways.
        for (id, (author, _)) in &model {
            if *author == viewer {
                continue;
            }
            let a = annotation(id, &page, "hijacked", T0 + 1_000_000);
            let seq = EVIL_SEQ.fetch_add(2, Ordering::Relaxed) as u64;
            let results = s.push(token, "evil", json!([upsert(seq, &a, &[]), delete(seq + 1, id)])).await;
            prop_assert!(
                results.iter().all(|r| r["status"] == "rejected" && r["error"]["code"] == "forbidden"),
                "{:?}",
                results
            );
        }
    }
    // Every stream ends with its owner's own sentinel; nothing before it may be about a community they are not in.
    for (viewer, stream) in streams.iter_mut().enumerate() {
        let sentinel = annotation(&new_id(), &page, "sentinel", T0);
        s.push(&tokens[viewer], "sentinel", json!([upsert(1, &sentinel, &[])])).await;
        let mine: ChangesResponse = s.get("/v1/me/changes?limit=500", &tokens[viewer]).await.json().await.unwrap();
        let stop = ChangeEvent { community: None, seq: mine.next };
        for event in events_until(stream, &stop).await {
            if let Some(slug) = &event.community {
                if let Some(c) = slugs.iter().position(|s| s == slug) {
                    prop_assert!(sc.member[viewer][c], "user {} heard about {}", viewer, slug);
                }
            }
        }
    }
    // Nothing anyone tried changed the stored notes.
    let owner_view: HashMap<String, String> = {
        let mut all = HashMap::new();
        for t in &tokens {
            for a in s.page(t, &page).await.annotations {
                all.insert(a.annotation.id.clone(), a.annotation.note().unwrap_or("").to_string());
            }
        }
        all
    };
    prop_assert!(owner_view.values().all(|n| n != "hijacked"));
    Ok(())
}

both_backends! {
    async fn nobody_sees_or_writes_what_they_may_not() {
        let s = TestServer::start_with(|state| {
            let store = state.store.clone();
            cairn_server::AppState::with_config(store, cairn_server::config::ServerConfig { rate_per_second: 0.0, ..Default::default() })
        }).await;
        let handle = tokio::runtime::Handle::current();
        let config = ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() };
        let mut runner = proptest::test_runner::TestRunner::new(config);
        let result = tokio::task::block_in_place(|| runner.run(&scenario(), |sc| handle.block_on(check(&s, sc))));
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}

both_backends! {
    /// Two people pushing the same new id at the same moment: on PostgreSQL both
    /// may read "no such annotation" before either commits. One of them gets it;
    /// the other's push is rejected, writes nothing over it, and shares nothing of
    /// it with their own community.
    async fn two_people_racing_to_create_one_id_leave_it_to_one_of_them() {
        let s = TestServer::start_with(|state| {
            let store = state.store.clone();
            cairn_server::AppState::with_config(store, cairn_server::config::ServerConfig { rate_per_second: 0.0, ..Default::default() })
        }).await;
        let (alice, carol) = (s.token("alice").await, s.token("carol").await);
        let page = "https://docs.example.com/race";
        for round in 0..30u64 {
            let id = new_id();
            let by_alice = json!([upsert(round + 1, &annotation(&id, page, "alice's", T0), &["demo-team"])]);
            let by_carol = json!([upsert(round + 1, &annotation(&id, page, "carol's", T0 + 1), &["other-team"])]);
            let (a, c) = tokio::join!(s.push(&alice, "race", by_alice), s.push(&carol, "race", by_carol));
            let (a, c) = (statuses(&a)[0].to_string(), statuses(&c)[0].to_string());
            let winner = match (a.as_str(), c.as_str()) {
                ("applied", "rejected") => "alice's",
                ("rejected", "applied") => "carol's",
                other => panic!("round {round}: exactly one push may create {id}, got {other:?}"),
            };
            let alice_sees = s.page(&alice, page).await.annotations;
            let carol_sees = s.page(&carol, page).await.annotations;
            let note_of = |seen: &[cairn_protocol::api::SharedAnnotation]| {
                seen.iter().find(|a| a.annotation.id == id).map(|a| a.annotation.note().unwrap_or_default().to_string())
            };
            match winner {
                "alice's" => {
                    assert_eq!(note_of(&alice_sees).as_deref(), Some("alice's"), "round {round}");
                    assert_eq!(note_of(&carol_sees), None, "round {round}: carol's push shared alice's annotation with her team");
                }
                _ => {
                    assert_eq!(note_of(&carol_sees).as_deref(), Some("carol's"), "round {round}");
                    assert_eq!(note_of(&alice_sees), None, "round {round}: alice's push shared carol's annotation with her team");
                }
            }
        }
    }
}
