//! The rules of `POST /v1/sync/push`, kept apart from HTTP and SQL.
//!
//! A push goes through two stages. [`prepare`] runs before any transaction and
//! does everything that needs only the request (validation, page key, rendering),
//! so the write transaction stays short. The `decide_*` functions run inside the
//! transaction, on what the database holds at that moment; a store backend must
//! call them rather than re-implement them.
//!
//! Rejections are final: the (device, seq) is recorded as applied, so a client
//! retrying the same mutation gets `duplicate`, never a different outcome.

use cairn_model::{parse_rfc3339_ms, Agent, Annotation, AnnotationId, Audience};
use cairn_protocol::api::{ApiError as WireError, Mutation, MAX_DEVICE_ID_CHARS};

use crate::error::ApiError;
use crate::markdown::render_note;
use crate::store::{Community, Membership, User};

/// Why a single mutation was refused; becomes the `error` of its result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Rejection {
        Rejection { code, message: message.into() }
    }

    pub fn to_wire(&self) -> WireError {
        WireError { code: self.code.into(), message: self.message.clone() }
    }
}

/// A mutation checked as far as possible without the database.
#[derive(Clone, Debug)]
pub enum PreparedMutation {
    Upsert(Box<PreparedUpsert>),
    Delete {
        seq: i64,
        id: String,
    },
    /// Already known to be refused; still recorded under its seq.
    Invalid {
        seq: i64,
        rejection: Rejection,
    },
}

impl PreparedMutation {
    pub fn seq(&self) -> i64 {
        match self {
            PreparedMutation::Upsert(u) => u.seq,
            PreparedMutation::Delete { seq, .. } | PreparedMutation::Invalid { seq, .. } => *seq,
        }
    }
}

#[derive(Clone, Debug)]
pub struct PreparedUpsert {
    pub seq: i64,
    /// The canonical `urn:uuid:` form, also written into `annotation.id`.
    pub id: String,
    pub annotation: Annotation,
    /// Community slugs, duplicates removed, in the order the client gave; empty
    /// for a reply, which is shared as its parent is ([`crate::store`]'s `replies`).
    pub communities: Vec<String>,
    /// The page key; for a reply, empty here and taken from its parent when applied.
    pub page_key: String,
    /// For a reply, the `urn:uuid:` id of the annotation it answers.
    pub parent: Option<String>,
    pub note_html: Option<String>,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Lowercased note, quote and tags, for search.
    pub search_text: String,
    /// Lowercased tags as `"\ntag1\ntag2\n"`, so a tag is matched whole.
    pub tags_text: String,
    /// W3C properties outside Cairn's model (`canonical`, `via`), JSON; `None` keeps what is stored.
    pub extra_json: Option<String>,
}

/// Device ids end up in the primary key of the idempotency table; keeping them
/// short and plain keeps that table small and the ids safe to log.
pub fn check_device_id(device_id: &str) -> Result<(), ApiError> {
    let n = device_id.chars().count();
    if n == 0
        || n > MAX_DEVICE_ID_CHARS
        || !device_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::BadRequest(format!(
            "\"device_id\" must be 1 to {MAX_DEVICE_ID_CHARS} characters of A-Z, a-z, 0-9, '-' and '_'"
        )));
    }
    Ok(())
}

/// Checks and prepares one mutation. Only a `seq` the database cannot hold fails
/// the whole request; anything wrong with the annotation rejects just this mutation.
pub fn prepare(mutation: Mutation, now_ms: i64) -> Result<PreparedMutation, ApiError> {
    let seq = i64::try_from(mutation.seq())
        .map_err(|_| ApiError::BadRequest(format!("\"seq\" {} is too large; at most {}", mutation.seq(), i64::MAX)))?;
    Ok(match mutation {
        Mutation::Delete { id, .. } => match id.parse::<AnnotationId>() {
            Ok(parsed) => PreparedMutation::Delete { seq, id: parsed.to_urn() },
            Err(e) => PreparedMutation::Invalid { seq, rejection: Rejection::new("invalid_annotation", e.to_string()) },
        },
        Mutation::Upsert { annotation, communities, .. } => {
            match prepare_upsert(seq, annotation, communities, now_ms) {
                Ok(u) => PreparedMutation::Upsert(Box::new(u)),
                Err(rejection) => PreparedMutation::Invalid { seq, rejection },
            }
        }
    })
}

fn prepare_upsert(
    seq: i64,
    mut annotation: Annotation,
    communities: Vec<String>,
    now_ms: i64,
) -> Result<PreparedUpsert, Rejection> {
    let invalid = |e: cairn_model::AnnotationError| Rejection::new("invalid_annotation", e.to_string());
    annotation.validate().map_err(invalid)?;
    let id = annotation.annotation_id().map_err(invalid)?.to_urn();
    let parent = annotation.reply_to().map(|p| p.to_urn());
    let page_key = match parent {
        Some(_) => String::new(),
        None => annotation.page_key().map_err(invalid)?.to_string(),
    };
    annotation.id = id.clone();
    if parent.as_deref() == Some(id.as_str()) {
        return Err(Rejection::new("invalid_annotation", "a reply cannot answer itself"));
    }
    let mut unique: Vec<String> = Vec::with_capacity(communities.len());
    // A reply's audience is its parent's: what the client asked for is ignored.
    for slug in communities.into_iter().filter(|_| parent.is_none()) {
        if !unique.contains(&slug) {
            unique.push(slug);
        }
    }
    let modified_ms = annotation.modified.as_deref().and_then(parse_rfc3339_ms).unwrap_or(now_ms);
    let created_ms = annotation.created.as_deref().and_then(parse_rfc3339_ms).unwrap_or(modified_ms);
    let note_html = annotation.note().map(|note| render_note(note).replace('\0', "\u{fffd}"));
    let (search_text, tags_text) = search_columns(&annotation);
    Ok(PreparedUpsert {
        seq,
        id,
        annotation,
        communities: unique,
        page_key,
        parent,
        note_html,
        created_ms,
        modified_ms,
        search_text,
        tags_text,
        extra_json: None,
    })
}

/// What search matches an annotation by: its note, quote and tags, lowercased
/// here so both databases compare the same way. NUL characters are dropped:
/// PostgreSQL text cannot hold them (the JSON body keeps them, escaped).
pub fn search_columns(annotation: &Annotation) -> (String, String) {
    let (text, tags) = search_columns_raw(annotation);
    (text.replace('\0', ""), tags.replace('\0', ""))
}

fn search_columns_raw(annotation: &Annotation) -> (String, String) {
    let tags = annotation.tags();
    let mut text = String::new();
    for part in
        [annotation.note().unwrap_or(""), annotation.quote().unwrap_or("")].into_iter().chain(tags.iter().copied())
    {
        text.push_str(&part.to_lowercase());
        text.push('\n');
    }
    let mut tags_text = String::from("\n");
    for tag in tags {
        tags_text.push_str(&tag.to_lowercase());
        tags_text.push('\n');
    }
    (text, tags_text)
}

/// What the database holds for an annotation id when a mutation arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredState {
    pub author_id: String,
    pub deleted: bool,
    pub modified_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpsertDecision {
    Write,
    /// The stored version was modified later (another of the author's devices
    /// got there first): last writer wins, so the older edit is dropped. It is
    /// still `applied`: the client's intent is satisfied by something newer.
    KeepStored,
}

/// Decides an upsert, and on success returns the communities it is shared with.
/// `stored_shares` are the ids of communities it is shared with now: an archived
/// community keeps what it has (edits still reach it) but gets nothing new.
pub fn decide_upsert<'m>(
    caller: &User,
    stored: Option<&StoredState>,
    upsert: &PreparedUpsert,
    memberships: &'m [Membership],
    stored_shares: &[String],
) -> Result<(UpsertDecision, Vec<&'m Community>), Rejection> {
    if let Some(s) = stored {
        if s.author_id != caller.id {
            return Err(Rejection::new(
                "forbidden",
                format!("annotation {} belongs to another user; only its author can change it", upsert.id),
            ));
        }
        if s.deleted {
            return Err(Rejection::new(
                "deleted",
                format!("annotation {} was deleted; create a new annotation instead", upsert.id),
            ));
        }
    }
    let mut audience = Vec::with_capacity(upsert.communities.len());
    for slug in &upsert.communities {
        match memberships.iter().find(|m| &m.community.slug == slug) {
            Some(m) if m.community.archived && !stored_shares.contains(&m.community.id) => {
                return Err(Rejection::new(
                    "archived",
                    format!("community {:?} is archived; nothing new can be shared with it", truncate(slug)),
                ));
            }
            Some(m) => audience.push(&m.community),
            None => {
                return Err(Rejection::new(
                    "not_a_member",
                    format!(
                        "you are not a member of community {:?}; share only with communities listed by GET /v1/me",
                        truncate(slug)
                    ),
                ));
            }
        }
    }
    let decision = match stored {
        Some(s) if s.modified_ms > upsert.modified_ms => UpsertDecision::KeepStored,
        _ => UpsertDecision::Write,
    };
    Ok((decision, audience))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteDecision {
    /// Write a tombstone (over the live annotation, or for an id never seen, so
    /// that an older upsert arriving later cannot bring it back).
    Tombstone,
    AlreadyDeleted,
}

pub fn decide_delete(caller: &User, id: &str, stored: Option<&StoredState>) -> Result<DeleteDecision, Rejection> {
    match stored {
        None => Ok(DeleteDecision::Tombstone),
        Some(s) if s.author_id != caller.id => Err(Rejection::new(
            "forbidden",
            format!("annotation {id} belongs to another user; only its author can delete it"),
        )),
        Some(s) if s.deleted => Ok(DeleteDecision::AlreadyDeleted),
        Some(_) => Ok(DeleteDecision::Tombstone),
    }
}

/// Writes the facts only the server may state into the stored annotation: who
/// made it (from the token, whatever the client claimed) and who it is shared with.
pub fn stamp(annotation: &mut Annotation, author: &User, audience: &[&Community]) {
    annotation.creator = Some(Agent {
        id: Some(author.agent_iri()),
        kind: Some("Person".into()),
        name: Some(author.display_name.clone()),
    });
    annotation.audience = audience_of(audience);
}

/// The W3C `audience` that names these communities.
pub fn audience_of(audience: &[&Community]) -> Vec<Audience> {
    audience
        .iter()
        .map(|c| Audience { id: c.audience_iri(), kind: Some("cairn:Community".into()), name: Some(c.name.clone()) })
        .collect()
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::{Color, Selector};
    use cairn_protocol::api::Role;

    fn user(id: &str) -> User {
        User { id: id.into(), username: id.into(), display_name: format!("{id} name") }
    }

    fn member_of(slug: &str) -> Membership {
        Membership {
            community: Community {
                id: format!("c-{slug}"),
                slug: slug.into(),
                name: format!("{slug} name"),
                archived: false,
            },
            role: Role::Member,
        }
    }

    fn annotation(modified_ms: i64) -> Annotation {
        Annotation::new_highlight(
            AnnotationId::new_v7(1_700_000_000_000, [1; 10]),
            "https://a.example/page#frag",
            vec![Selector::TextQuoteSelector { exact: "quote".into(), prefix: None, suffix: None }],
            Color::Yellow,
            modified_ms,
        )
    }

    fn upsert(modified_ms: i64, communities: &[&str]) -> PreparedUpsert {
        let m = Mutation::Upsert {
            seq: 1,
            annotation: annotation(modified_ms),
            communities: communities.iter().map(|s| s.to_string()).collect(),
        };
        match prepare(m, 0).unwrap() {
            PreparedMutation::Upsert(u) => *u,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn device_ids_are_short_and_plain() {
        assert!(check_device_id("laptop-1_a").is_ok());
        assert!(check_device_id(&"d".repeat(MAX_DEVICE_ID_CHARS)).is_ok());
        for bad in ["", "has space", "semi;colon", "ünï", &"d".repeat(MAX_DEVICE_ID_CHARS + 1)] {
            assert!(check_device_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prepare_rejects_invalid_annotations_with_the_reason() {
        let mut a = annotation(0);
        a.target.source = "chrome://settings".into();
        let p = prepare(Mutation::Upsert { seq: 7, annotation: a, communities: vec![] }, 0).unwrap();
        match p {
            PreparedMutation::Invalid { seq: 7, rejection } => {
                assert_eq!(rejection.code, "invalid_annotation");
                assert!(rejection.message.contains("chrome"), "{}", rejection.message);
            }
            other => panic!("{other:?}"),
        }
        let p = prepare(Mutation::Delete { seq: 8, id: "'; DROP TABLE annotations; --".into() }, 0).unwrap();
        assert!(matches!(p, PreparedMutation::Invalid { seq: 8, .. }));
        assert!(prepare(Mutation::Delete { seq: u64::MAX, id: "x".into() }, 0).is_err());
    }

    #[test]
    fn prepare_computes_key_dedups_communities_and_keeps_times() {
        let u = upsert(1_800_000_000_000, &["a", "b", "a"]);
        assert_eq!(u.page_key, "https://a.example/page");
        assert_eq!(u.communities, vec!["a", "b"]);
        assert_eq!(u.modified_ms, 1_800_000_000_000);
        assert!(u.id.starts_with("urn:uuid:"));
    }

    #[test]
    fn only_the_author_may_change_or_delete() {
        let alice = user("alice");
        let bob_owns = StoredState { author_id: "bob".into(), deleted: false, modified_ms: 0 };
        let err = decide_upsert(&alice, Some(&bob_owns), &upsert(1, &[]), &[], &[]).unwrap_err();
        assert_eq!(err.code, "forbidden");
        assert_eq!(decide_delete(&alice, "x", Some(&bob_owns)).unwrap_err().code, "forbidden");
        let bob_deleted = StoredState { deleted: true, ..bob_owns };
        assert_eq!(decide_delete(&alice, "x", Some(&bob_deleted)).unwrap_err().code, "forbidden");
    }

    #[test]
    fn sharing_requires_membership_of_every_community() {
        let alice = user("alice");
        let ms = [member_of("team")];
        let (_, audience) = decide_upsert(&alice, None, &upsert(1, &["team"]), &ms, &[]).unwrap();
        assert_eq!(audience[0].slug, "team");
        let err = decide_upsert(&alice, None, &upsert(1, &["team", "other"]), &ms, &[]).unwrap_err();
        assert_eq!(err.code, "not_a_member");
        assert!(err.message.contains("other"));
    }

    #[test]
    fn an_archived_community_keeps_its_shares_but_gets_no_new_ones() {
        let alice = user("alice");
        let mut archived = member_of("old");
        archived.community.archived = true;
        let ms = [archived];
        assert_eq!(decide_upsert(&alice, None, &upsert(1, &["old"]), &ms, &[]).unwrap_err().code, "archived");
        let (_, audience) = decide_upsert(&alice, None, &upsert(1, &["old"]), &ms, &["c-old".to_string()]).unwrap();
        assert_eq!(audience[0].slug, "old");
    }

    #[test]
    fn search_columns_lowercase_and_keep_tags_whole() {
        let mut a = annotation(1);
        a.set_note("Read THIS");
        a.set_tags(["Ops", "on-call"]);
        let (text, tags) = search_columns(&a);
        assert!(text.contains("read this\n"), "{text:?}");
        assert!(text.contains("ops\n"));
        assert_eq!(tags, "\nops\non-call\n");
    }

    #[test]
    fn tombstones_win_and_later_edits_win() {
        let alice = user("alice");
        let gone = StoredState { author_id: "alice".into(), deleted: true, modified_ms: 0 };
        assert_eq!(decide_upsert(&alice, Some(&gone), &upsert(99, &[]), &[], &[]).unwrap_err().code, "deleted");
        assert_eq!(decide_delete(&alice, "x", Some(&gone)), Ok(DeleteDecision::AlreadyDeleted));
        assert_eq!(decide_delete(&alice, "x", None), Ok(DeleteDecision::Tombstone));

        let newer = StoredState { author_id: "alice".into(), deleted: false, modified_ms: 50 };
        assert_eq!(
            decide_upsert(&alice, Some(&newer), &upsert(40, &[]), &[], &[]).unwrap().0,
            UpsertDecision::KeepStored
        );
        assert_eq!(decide_upsert(&alice, Some(&newer), &upsert(50, &[]), &[], &[]).unwrap().0, UpsertDecision::Write);
        assert_eq!(decide_upsert(&alice, Some(&newer), &upsert(60, &[]), &[], &[]).unwrap().0, UpsertDecision::Write);
    }

    #[test]
    fn stamp_overrides_creator_and_audience() {
        let mut a = annotation(0);
        a.creator =
            Some(Agent { id: Some("urn:cairn:user:someone-else".into()), kind: None, name: Some("Mallory".into()) });
        let m = member_of("team");
        stamp(&mut a, &user("alice"), &[&m.community]);
        let creator = a.creator.unwrap();
        assert_eq!(creator.id.as_deref(), Some("urn:cairn:user:alice"));
        assert_eq!(creator.name.as_deref(), Some("alice name"));
        assert_eq!(a.audience[0].id, "urn:cairn:community:team");
    }
}
