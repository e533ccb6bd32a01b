//! The W3C Web Annotation Protocol against the real server on 127.0.0.1:0.
//! Each test is named after the requirement it checks: `rNN_...` is item NN of
//! ../shared/testdata/w3c-annotation-specs/protocol-requirements-extracted.txt
//! (the MUSTs; 42 is a client MUST NOT, checked as the server refusing it).
//! Served annotations are also run through the W3C model validator.

mod common;

use common::*;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

const PROFILE_TYPE: &str = "application/ld+json; profile=\"http://www.w3.org/ns/anno.jsonld\"";
const PREFER_MINIMAL: &str = "return=representation;include=\"http://www.w3.org/ns/ldp#PreferMinimalContainer\"";
const PREFER_IRIS: &str = "return=representation;include=\"http://www.w3.org/ns/oa#PreferContainedIRIs\"";
const PREFER_DESCRIPTIONS: &str =
    "return=representation;include=\"http://www.w3.org/ns/oa#PreferContainedDescriptions\"";

fn body_json() -> Value {
    json!({
        "@context": "http://www.w3.org/ns/anno.jsonld",
        "type": "Annotation",
        "body": {"type": "TextualBody", "value": "A **note** from a W3C client", "format": "text/markdown"},
        "target": {"source": "https://example.org/page1",
                   "selector": {"type": "TextQuoteSelector", "exact": "quoted words"}}
    })
}

struct Ctx {
    s: TestServer,
    alice: String,
    container: String,
}

impl Ctx {
    async fn new() -> Ctx {
        let s = TestServer::start().await;
        let alice = s.token("alice").await;
        let container = s.url("/annotations/demo-team/");
        Ctx { s, alice, container }
    }

    async fn req(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut r = self.s.http.request(method, url).bearer_auth(&self.alice);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        if let Some(b) = body {
            r = r.header("content-type", PROFILE_TYPE).body(serde_json::to_vec(b).unwrap());
        }
        r.send().await.unwrap()
    }

    /// Creates an annotation in the community container; returns its IRI and body.
    async fn create(&self, body: &Value) -> (String, Value) {
        let response = self.req(Method::POST, &self.container, &[], Some(body)).await;
        assert_eq!(response.status(), 201);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        (location, response.json().await.unwrap())
    }

    async fn get(&self, url: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Value) {
        let response = self.req(Method::GET, url, headers, None).await;
        let status = response.status().as_u16();
        let h = response.headers().clone();
        (status, h, response.json().await.unwrap_or(Value::Null))
    }
}

fn link_has(headers: &HeaderMap, target: &str, rel: &str) -> bool {
    headers.get_all("link").iter().any(|v| {
        v.to_str()
            .unwrap()
            .split(',')
            .any(|l| l.contains(&format!("<{target}>")) && l.contains(&format!("rel=\"{rel}\"")))
    })
}

both_backends! {
    async fn r01_r05_r06_annotations_are_served_as_json_ld_with_the_anno_profile() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        let (status, h, body) = c.get(&iri, &[("accept", PROFILE_TYPE)]).await;
        assert_eq!(status, 200);
        assert_eq!(h["content-type"], PROFILE_TYPE);
        assert_eq!(body["@context"], "http://www.w3.org/ns/anno.jsonld");
        assert_eq!(body["type"], "Annotation");
    }

    async fn r03_an_annotation_supports_get_head_and_options() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        let get = c.req(Method::GET, &iri, &[], None).await;
        assert_eq!(get.status(), 200);
        let head = c.req(Method::HEAD, &iri, &[], None).await;
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["etag"], get.headers()["etag"]);
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD has no body");
        let options = c.req(Method::OPTIONS, &iri, &[], None).await;
        assert_eq!(options.status(), 200);
        assert!(options.headers()["allow"].to_str().unwrap().contains("GET"));
    }

    async fn r10_an_annotation_has_a_link_of_type_ldp_resource() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        let (_, h, _) = c.get(&iri, &[]).await;
        assert!(link_has(&h, "http://www.w3.org/ns/ldp#Resource", "type"), "{h:?}");
    }

    async fn r11_get_and_head_of_an_annotation_have_an_etag() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        let (_, h, _) = c.get(&iri, &[]).await;
        let etag = h["etag"].to_str().unwrap();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2, "{etag}");
        assert_eq!(c.req(Method::HEAD, &iri, &[], None).await.headers()["etag"], etag);
    }

    async fn r12_an_annotation_lists_its_methods_in_allow() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        let (_, h, _) = c.get(&iri, &[]).await;
        let allow = h["allow"].to_str().unwrap();
        for m in ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"] {
            assert!(allow.contains(m), "{allow}");
        }
    }

    async fn r13_an_annotation_varies_on_accept() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        let (_, h, _) = c.get(&iri, &[]).await;
        assert!(h.get_all("vary").iter().any(|v| v.to_str().unwrap().contains("Accept")), "{h:?}");
    }

    async fn r14_r16_each_community_and_the_private_space_have_a_container_iri() {
        let c = Ctx::new().await;
        for path in ["/annotations/demo-team/", "/annotations/_me/"] {
            let url = c.s.url(path);
            let parsed = url::Url::parse(&url).unwrap();
            assert!(parsed.query().is_none() && parsed.fragment().is_none() && parsed.path().ends_with('/'));
            assert_eq!(c.get(&url, &[]).await.0, 200, "{path}");
        }
        // Not a member: no container for you.
        assert_eq!(c.get(&c.s.url("/annotations/other-team/"), &[]).await.0, 403);
    }

    async fn r18_a_container_supports_get_head_and_options() {
        let c = Ctx::new().await;
        assert_eq!(c.req(Method::GET, &c.container, &[], None).await.status(), 200);
        let head = c.req(Method::HEAD, &c.container, &[], None).await;
        assert_eq!(head.status(), 200);
        assert!(head.headers().contains_key("etag"));
        let options = c.req(Method::OPTIONS, &c.container, &[], None).await;
        assert_eq!(options.status(), 200);
        assert!(options.headers()["allow"].to_str().unwrap().contains("POST"));
    }

    async fn r19_r20_r28_get_without_accept_describes_the_container_in_json_ld() {
        let c = Ctx::new().await;
        c.create(&body_json()).await;
        let (status, h, body) = c.get(&c.container, &[]).await;
        assert_eq!(status, 200);
        assert!(h["content-type"].to_str().unwrap().starts_with("application/ld+json"));
        assert!(body["@context"].as_array().unwrap().contains(&json!("http://www.w3.org/ns/anno.jsonld")));
        assert_eq!(body["total"], 1);
        let (status, _, _) = c.get(&c.container, &[("accept", "text/turtle")]).await;
        assert_eq!(status, 406, "a format we cannot serve is refused, not mislabelled");
    }

    async fn r24_r25_container_responses_carry_type_and_constrained_by_links() {
        let c = Ctx::new().await;
        let responses = [
            c.req(Method::GET, &c.container, &[], None).await,
            c.req(Method::HEAD, &c.container, &[], None).await,
            c.req(Method::OPTIONS, &c.container, &[], None).await,
            c.req(Method::POST, &c.container, &[], Some(&body_json())).await,
            c.req(Method::POST, &c.container, &[], Some(&json!({"type": "Annotation"}))).await,
        ];
        for r in &responses {
            let h = r.headers();
            assert!(link_has(h, "http://www.w3.org/ns/ldp#BasicContainer", "type"), "{} {h:?}", r.status());
            assert!(link_has(h, "http://www.w3.org/TR/annotation-protocol/", "http://www.w3.org/ns/ldp#constrainedBy"));
        }
    }

    async fn r26_container_get_and_head_have_an_etag_that_changes_with_content() {
        let c = Ctx::new().await;
        let before = c.req(Method::GET, &c.container, &[], None).await.headers()["etag"].clone();
        assert_eq!(c.req(Method::HEAD, &c.container, &[], None).await.headers()["etag"], before);
        c.create(&body_json()).await;
        assert_ne!(c.req(Method::GET, &c.container, &[], None).await.headers()["etag"], before);
    }

    async fn r29_a_container_varies_on_accept() {
        let c = Ctx::new().await;
        let h = c.req(Method::GET, &c.container, &[], None).await.headers().clone();
        assert!(h.get_all("vary").iter().any(|v| v.to_str().unwrap().contains("Accept")), "{h:?}");
    }

    async fn r31_r33_the_collection_has_an_iri_the_collection_type_and_a_first_page() {
        let c = Ctx::new().await;
        c.create(&body_json()).await;
        let (_, _, body) = c.get(&c.container, &[]).await;
        assert!(body["id"].as_str().unwrap().starts_with(&c.container));
        assert!(body["type"].as_array().unwrap().contains(&json!("AnnotationCollection")));
        assert_eq!(body["first"]["type"], "AnnotationPage");
        assert_eq!(body["first"]["items"].as_array().unwrap().len(), 1);
    }

    async fn r38_the_response_names_the_chosen_representation_in_content_location() {
        let c = Ctx::new().await;
        let (_, h, body) = c.get(&c.container, &[("prefer", PREFER_IRIS)]).await;
        assert_eq!(h["content-location"].to_str().unwrap(), body["id"].as_str().unwrap());
        let (_, h2, _) = c.get(&c.container, &[("prefer", PREFER_DESCRIPTIONS)]).await;
        assert_ne!(h["content-location"], h2["content-location"], "IRIs and descriptions are different resources");
    }

    async fn r39_r45_prefer_minimal_container_embeds_nothing() {
        let c = Ctx::new().await;
        c.create(&body_json()).await;
        let (status, _, body) = c.get(&c.container, &[("prefer", PREFER_MINIMAL)]).await;
        assert_eq!(status, 200);
        assert!(body.get("contains").is_none() && body.get("ldp:contains").is_none());
        assert!(body["first"].is_string(), "a link to the first page, not the page: {body}");
        assert!(body["last"].is_string());
    }

    async fn r40_r47_prefer_contained_iris_embeds_a_first_page_of_iris() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        let (_, _, body) = c.get(&c.container, &[("prefer", PREFER_IRIS)]).await;
        assert_eq!(body["first"]["type"], "AnnotationPage");
        assert_eq!(body["first"]["items"], json!([iri]));
    }

    async fn r41_r49_prefer_contained_descriptions_embeds_full_annotations() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        for prefer in [Some(PREFER_DESCRIPTIONS), None] {
            let headers: Vec<(&str, &str)> = prefer.map(|p| vec![("prefer", p)]).unwrap_or_default();
            let (_, _, body) = c.get(&c.container, &headers).await;
            let item = &body["first"]["items"][0];
            assert_eq!(item["id"], iri.as_str());
            assert_eq!(item["type"], "Annotation");
            assert_eq!(item["target"]["source"], "https://example.org/page1");
        }
    }

    async fn r42_asking_for_both_iris_and_descriptions_is_refused() {
        let c = Ctx::new().await;
        let both = "return=representation;include=\"http://www.w3.org/ns/oa#PreferContainedIRIs http://www.w3.org/ns/oa#PreferContainedDescriptions\"";
        assert_eq!(c.get(&c.container, &[("prefer", both)]).await.0, 400);
    }

    async fn r51_r52_r55_pages_have_an_iri_next_and_part_of() {
        let c = Ctx::new().await;
        let alice = c.s.token("alice").await;
        let batch: Vec<Value> = (0..25)
            .map(|i| upsert(i + 1, &annotation(&new_id(), "https://example.org/p", "n", T0 + i as i64), &["demo-team"]))
            .collect();
        c.s.push(&alice, "d1", Value::Array(batch)).await;
        let (_, _, collection) = c.get(&c.container, &[("prefer", PREFER_IRIS)]).await;
        assert_eq!(collection["total"], 25);
        let first = &collection["first"];
        assert_eq!(first["items"].as_array().unwrap().len(), 20);
        let next = first["next"].as_str().expect("a first page that is not the last links to the next");
        let (status, _, page) = c.get(next, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(page["id"], next);
        assert_eq!(page["type"], "AnnotationPage");
        assert_eq!(page["partOf"]["id"], collection["id"]);
        assert_eq!(page["startIndex"], 20);
        assert_eq!(page["items"].as_array().unwrap().len(), 5);
        assert!(page["items"][0].is_string(), "pages follow the IRIs preference");
        assert!(page.get("next").is_none(), "the last page has no next");
        assert_eq!(page["prev"], first["id"]);
        assert_eq!(collection["last"], next);
    }

    async fn r59_resources_link_to_their_annotation_service() {
        let c = Ctx::new().await;
        let response = c.s.get("/v1/me", &c.alice).await;
        let target = c.s.url("/annotations/_me/");
        let header = response.headers()["link"].to_str().unwrap().to_string();
        assert!(header.contains("rel=\"http://www.w3.org/ns/oa#annotationService\""), "{header}");
        let relative = header.split('>').next().unwrap().trim_start_matches('<');
        assert_eq!(c.s.url(relative), target);
        assert_eq!(c.get(&target, &[]).await.0, 200);
    }

    async fn r62_r64_r66_the_server_assigns_an_iri_in_the_container_and_keeps_the_old_as_via() {
        let c = Ctx::new().await;
        let mut body = body_json();
        body["id"] = json!("https://elsewhere.example/anno/1");
        let (iri, created) = c.create(&body).await;
        assert!(iri.starts_with(&c.container) && iri.len() > c.container.len(), "{iri}");
        assert!(!iri[c.container.len()..].contains('/'));
        assert_eq!(created["id"], iri.as_str());
        assert_eq!(created["via"], "https://elsewhere.example/anno/1");
    }

    async fn r65_a_canonical_iri_is_kept_unchanged() {
        let c = Ctx::new().await;
        let mut body = body_json();
        body["canonical"] = json!("urn:uuid:0190f0c2-e2d8-7c3e-8b4a-1b2c3d4e5f60");
        let (iri, created) = c.create(&body).await;
        assert_eq!(created["canonical"], "urn:uuid:0190f0c2-e2d8-7c3e-8b4a-1b2c3d4e5f60");
        assert_eq!(c.get(&iri, &[]).await.2["canonical"], "urn:uuid:0190f0c2-e2d8-7c3e-8b4a-1b2c3d4e5f60");
    }

    async fn r67_r68_create_answers_201_with_location_and_bad_input_is_4xx() {
        let c = Ctx::new().await;
        let response = c.req(Method::POST, &c.container, &[], Some(&body_json())).await;
        assert_eq!(response.status(), 201);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(c.get(&location, &[]).await.0, 200);
        let bad = c.req(Method::POST, &c.container, &[], Some(&json!({"type": "Annotation", "target": 5}))).await;
        assert_eq!(bad.status(), 400);
        let not_member = c.req(Method::POST, &c.s.url("/annotations/other-team/"), &[], Some(&body_json())).await;
        assert_eq!(not_member.status(), 403);
    }

    async fn r71_r74_r75_put_with_the_etag_replaces_and_returns_the_new_state() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        let (_, h, mut current) = c.get(&iri, &[]).await;
        let etag = h["etag"].to_str().unwrap().to_string();
        current["body"] = json!({"type": "TextualBody", "value": "edited", "format": "text/markdown"});
        let response = c.req(Method::PUT, &iri, &[("if-match", &etag)], Some(&current)).await;
        assert_eq!(response.status(), 200);
        assert_ne!(response.headers()["etag"].to_str().unwrap(), etag);
        let updated: Value = response.json().await.unwrap();
        assert_eq!(updated["body"][0]["value"], "edited");
        assert_eq!(c.get(&iri, &[]).await.2["body"][0]["value"], "edited");
    }

    async fn r72_put_without_if_match_is_428_and_with_a_stale_etag_412() {
        let c = Ctx::new().await;
        let (iri, created) = c.create(&body_json()).await;
        assert_eq!(c.req(Method::PUT, &iri, &[], Some(&created)).await.status(), 428);
        assert_eq!(c.req(Method::PUT, &iri, &[("if-match", "\"stale\"")], Some(&created)).await.status(), 412);
        // Someone else cannot change it at all.
        let bob = c.s.token("bob").await;
        let etag = c.get(&iri, &[]).await.1["etag"].to_str().unwrap().to_string();
        let response = c.s.http.put(&iri).bearer_auth(bob).header("if-match", etag).header("content-type", PROFILE_TYPE)
            .body(serde_json::to_vec(&created).unwrap()).send().await.unwrap();
        assert_eq!(response.status(), 403);
    }

    async fn r76_r79_r81_delete_answers_204_and_removes_it_from_the_container() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        assert_eq!(c.req(Method::DELETE, &iri, &[("if-match", "\"stale\"")], None).await.status(), 412);
        assert_eq!(c.req(Method::DELETE, &iri, &[], None).await.status(), 204);
        assert_eq!(c.get(&iri, &[]).await.0, 404);
        let (_, _, body) = c.get(&c.container, &[]).await;
        assert_eq!(body["total"], 0);
        assert!(body.get("first").is_none());
    }

    async fn served_annotations_pass_the_w3c_model_validator() {
        let c = Ctx::new().await;
        let (iri, _) = c.create(&body_json()).await;
        let private = c.req(Method::POST, &c.s.url("/annotations/_me/"), &[], Some(&body_json())).await;
        assert_eq!(private.status(), 201);
        let private_iri = private.headers()["location"].to_str().unwrap().to_string();
        let alice = c.s.token("alice").await;
        let mut pushed = annotation(&new_id(), "https://example.org/p", "pushed by the extension, tagged", T0);
        pushed.set_tags(["ops"]);
        // A reply by the extension, a reply by a W3C client (its target the
        // parent's container IRI), and a note on the whole page.
        let reply = cairn_model::Annotation::new_reply(
            new_id().parse().unwrap(),
            pushed.id.parse().unwrap(),
            "a reply",
            T0 + 1,
        );
        let page_note =
            cairn_model::Annotation::new_page_note(new_id().parse().unwrap(), "https://example.org/p", "about it all", T0);
        let results = c
            .s
            .push(&alice, "d1", json!([upsert(1, &pushed, &["demo-team"]), upsert(2, &reply, &[]), upsert(3, &page_note, &["demo-team"])]))
            .await;
        assert_eq!(statuses(&results), ["applied", "applied", "applied"]);
        let w3c_reply = json!({
            "@context": "http://www.w3.org/ns/anno.jsonld",
            "type": "Annotation",
            "motivation": "replying",
            "body": {"type": "TextualBody", "value": "replied over W3C", "purpose": "commenting"},
            "target": {"source": iri},
        });
        let (reply_iri, _) = c.create(&w3c_reply).await;
        let (_, _, page) = c.get(&c.container, &[]).await;
        let mut docs: Vec<Value> = page["first"]["items"].as_array().unwrap().clone();
        assert!(docs.iter().any(|d| d["motivation"] == "replying" && d["target"]["source"] == iri), "{docs:?}");
        docs.push(c.get(&iri, &[]).await.2);
        docs.push(c.get(&private_iri, &[]).await.2);
        docs.push(c.get(&reply_iri, &[]).await.2);
        assert_eq!(docs.len(), 8);

        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let path = dir.path().join(format!("annotation-{i}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
            files.push(path);
        }
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
        let output = std::process::Command::new("python3")
            .arg(shared.join("tools/validate_w3c_model.py"))
            .arg(shared.join("testdata/w3c-web-annotation-tests"))
            .arg("annotations/annotationMusts.test")
            .args(&files)
            .output()
            .unwrap_or_else(|e| panic!("this test needs python3 (with jsonschema and rfc3987) to run the W3C validator: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "validator failed:\n{stdout}\n{stderr}");
        assert_eq!(stdout.matches(": PASS").count(), 8, "{stdout}");
    }
}
