//! The JSON of the hottest responses, written by hand: change-feed pages and page
//! lookups carry stored annotation JSON that is copied into the response as it
//! is, where serde would have to parse it again (`RawValue` validates) to embed
//! it. The shapes are those of `cairn_protocol::api::{ChangesResponse,
//! PageAnnotationsResponse}`; the API tests read every response back into those
//! types, so the two cannot drift apart unnoticed.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use cairn_protocol::api::ChangeKind;
use serde::Serialize;

use crate::store::{FeedRow, ServedAnnotation};

/// A JSON body, already written.
pub struct JsonBytes(pub Vec<u8>);

impl IntoResponse for JsonBytes {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

fn push_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing plain strings, numbers and `UserInfo` into a Vec cannot fail.
    serde_json::to_writer(&mut *out, value).expect("serializing to memory");
}

fn push_annotation(out: &mut Vec<u8>, a: &ServedAnnotation) {
    match a.wire_json.get() {
        Some(json) => out.extend_from_slice(json),
        None => write_annotation(out, a),
    }
}

/// `a` as [`push_annotation`] writes it, kept in `a` for the next time it is sent.
pub fn keep_wire_json(a: &ServedAnnotation) {
    a.wire_json.get_or_init(|| {
        let mut json = Vec::with_capacity(256 + a.annotation_json.len());
        write_annotation(&mut json, a);
        json
    });
}

fn write_annotation(out: &mut Vec<u8>, a: &ServedAnnotation) {
    out.extend_from_slice(b"{\"annotation\":");
    out.extend_from_slice(a.annotation_json.as_bytes());
    out.extend_from_slice(b",\"author\":");
    push_value(out, &a.author);
    out.extend_from_slice(b",\"communities\":");
    push_value(out, &a.communities);
    if let Some(html) = &a.note_html {
        out.extend_from_slice(b",\"note_html\":");
        push_value(out, html);
    }
    out.push(b'}');
}

fn kind_name(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Upsert => "upsert",
        ChangeKind::Unshared => "unshared",
        ChangeKind::Deleted => "deleted",
    }
}

/// `ChangesResponse { changes, next, more }`.
pub fn changes(rows: &[FeedRow], next: u64, more: bool) -> JsonBytes {
    let mut out = Vec::with_capacity(
        256 + rows.iter().map(|r| 256 + r.annotation.as_ref().map_or(0, |a| a.annotation_json.len())).sum::<usize>(),
    );
    out.extend_from_slice(b"{\"changes\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!("{{\"seq\":{},\"id\":", row.seq).as_bytes());
        push_value(&mut out, &row.id);
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(kind_name(row.kind).as_bytes());
        out.push(b'"');
        if let Some(a) = &row.annotation {
            out.extend_from_slice(b",\"annotation\":");
            push_annotation(&mut out, a);
        }
        out.push(b'}');
    }
    out.extend_from_slice(format!("],\"next\":{next},\"more\":{more}}}").as_bytes());
    JsonBytes(out)
}

/// `PageAnnotationsResponse { page_key, annotations }`.
pub fn page(page_key: &str, annotations: &[std::sync::Arc<ServedAnnotation>]) -> JsonBytes {
    let mut out = Vec::with_capacity(
        64 + annotations
            .iter()
            .map(|a| a.wire_json.get().map_or(256 + a.annotation_json.len(), Vec::len))
            .sum::<usize>(),
    );
    out.extend_from_slice(b"{\"page_key\":");
    push_value(&mut out, page_key);
    out.extend_from_slice(b",\"annotations\":[");
    for (i, a) in annotations.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_annotation(&mut out, a);
    }
    out.extend_from_slice(b"]}");
    JsonBytes(out)
}

#[cfg(test)]
mod tests {
    use cairn_model::{Annotation, AnnotationId, Color, Selector};
    use cairn_protocol::api::{ChangesResponse, PageAnnotationsResponse, UserInfo};

    use super::*;

    fn served(note_html: Option<&str>) -> ServedAnnotation {
        let a = Annotation::new_highlight(
            AnnotationId::new_v7(1, [3; 10]),
            "https://a.example/p",
            vec![Selector::TextQuoteSelector { exact: "q \"quoted\" \u{2028}".into(), prefix: None, suffix: None }],
            Color::Green,
            5,
        );
        ServedAnnotation {
            annotation_json: serde_json::to_string(&a).unwrap(),
            author: UserInfo { id: "u1".into(), username: "al\"ice".into(), display_name: "Alice </script>".into() },
            communities: vec!["team".into(), "ops".into()],
            note_html: note_html.map(String::from),
            wire_json: Default::default(),
        }
    }

    #[test]
    fn feed_pages_read_back_as_the_protocol_type() {
        let rows = vec![
            FeedRow {
                seq: 7,
                id: "urn:uuid:x".into(),
                kind: ChangeKind::Upsert,
                annotation: Some(std::sync::Arc::new(served(Some("<p>hi</p>")))),
            },
            FeedRow { seq: 9, id: "urn:uuid:y".into(), kind: ChangeKind::Deleted, annotation: None },
            FeedRow { seq: 10, id: "urn:uuid:z".into(), kind: ChangeKind::Unshared, annotation: None },
        ];
        let JsonBytes(body) = changes(&rows, 10, true);
        let back: ChangesResponse = serde_json::from_slice(&body).unwrap();
        assert_eq!((back.next, back.more, back.changes.len()), (10, true, 3));
        let first = back.changes[0].annotation.as_ref().unwrap();
        assert_eq!(
            serde_json::to_string(&first.annotation).unwrap(),
            rows[0].annotation.as_ref().unwrap().annotation_json
        );
        assert_eq!((first.author.username.as_str(), first.note_html.as_deref()), ("al\"ice", Some("<p>hi</p>")));
        assert_eq!(first.communities, ["team", "ops"]);
        assert_eq!((back.changes[1].kind, back.changes[2].kind), (ChangeKind::Deleted, ChangeKind::Unshared));
        assert!(back.changes[1].annotation.is_none());
        let JsonBytes(empty) = changes(&[], 4, false);
        assert_eq!(String::from_utf8(empty).unwrap(), r#"{"changes":[],"next":4,"more":false}"#);
    }

    #[test]
    fn an_annotation_kept_written_is_sent_as_written_the_first_time() {
        let a = served(Some("<p>a \"note\"</p>"));
        let a = std::sync::Arc::new(a);
        let JsonBytes(fresh) = page("a.example/p", std::slice::from_ref(&a));
        keep_wire_json(&a);
        assert!(a.wire_json.get().is_some());
        let JsonBytes(kept) = page("a.example/p", std::slice::from_ref(&a));
        assert_eq!(String::from_utf8(kept).unwrap(), String::from_utf8(fresh).unwrap());
    }

    #[test]
    fn page_lookups_read_back_as_the_protocol_type() {
        let JsonBytes(body) =
            page("a.example/p", &[std::sync::Arc::new(served(None)), std::sync::Arc::new(served(Some("<em>x</em>")))]);
        let back: PageAnnotationsResponse = serde_json::from_slice(&body).unwrap();
        assert_eq!(back.page_key, "a.example/p");
        assert_eq!(back.annotations.len(), 2);
        assert_eq!(back.annotations[0].note_html, None);
        assert!(!String::from_utf8(body).unwrap().contains("\"note_html\":null"));
        assert_eq!(back.annotations[1].author.display_name, "Alice </script>");
    }
}
