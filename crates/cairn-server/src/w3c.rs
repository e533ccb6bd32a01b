//! The W3C Web Annotation Protocol (<https://www.w3.org/TR/annotation-protocol/>):
//! one Annotation Container per community (`/annotations/{slug}/`) and one for
//! the caller's private annotations (`/annotations/_me/`, a name no slug can
//! take), served as JSON-LD with the anno.jsonld profile.
//!
//! Writes go through the same push rules and store transaction as the sync
//! API ([`crate::push`]), so an annotation created here is the same row the
//! extension syncs; only the author may change or delete it. An annotation's
//! IRI is its container's IRI plus its UUID; the same annotation shared with
//! two communities has an IRI in each, and `canonical` names it
//! (`urn:uuid:...`) across all of them unless the client gave its own.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_model::{format_rfc3339_ms, Annotation, AnnotationId, ANNO_CONTEXT};
use cairn_protocol::api::{Mutation, MutationStatus};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::{Caller, Query};
use crate::push::{prepare, PreparedMutation};
use crate::routes::membership_of;
use crate::store::{ContainerScope, StoredAnnotation, User};
use crate::{now_ms, AppState};

/// The container of the caller's private annotations.
pub const PRIVATE_CONTAINER: &str = "_me";
pub const ANNOTATION_SERVICE: &str = "http://www.w3.org/ns/oa#annotationService";
pub const MEDIA_TYPE: &str = "application/ld+json; profile=\"http://www.w3.org/ns/anno.jsonld\"";
/// Annotations per AnnotationPage.
pub const PAGE_SIZE: i64 = 20;

const LDP_CONTEXT: &str = "http://www.w3.org/ns/ldp.jsonld";
const PREFER_MINIMAL: &str = "http://www.w3.org/ns/ldp#PreferMinimalContainer";
const PREFER_IRIS: &str = "http://www.w3.org/ns/oa#PreferContainedIRIs";
const PREFER_DESCRIPTIONS: &str = "http://www.w3.org/ns/oa#PreferContainedDescriptions";
const CONTAINER_LINKS: &str = "<http://www.w3.org/ns/ldp#BasicContainer>; rel=\"type\", \
     <http://www.w3.org/TR/annotation-protocol/>; rel=\"http://www.w3.org/ns/ldp#constrainedBy\"";
const ANNOTATION_LINKS: &str = "<http://www.w3.org/ns/ldp#Resource>; rel=\"type\", \
     <http://www.w3.org/ns/oa#Annotation>; rel=\"type\"";
const CONTAINER_ALLOW: &str = "GET, HEAD, OPTIONS, POST";
const ANNOTATION_ALLOW: &str = "GET, HEAD, OPTIONS, PUT, DELETE";
const ACCEPT_POST: &str = "application/ld+json; profile=\"http://www.w3.org/ns/anno.jsonld\", application/json";

/// The server's base URL: configured, or from the request's Host header when it is plain.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn scope_of(state: &AppState, user: &User, container: &str) -> Result<ContainerScope, ApiError> {
    if container == PRIVATE_CONTAINER {
        return Ok(ContainerScope::Private);
    }
    Ok(ContainerScope::Community(membership_of(state, user, container).await?.community))
}

/// The JSON-LD the protocol serves for a stored annotation at `iri`.
fn served(stored: &StoredAnnotation, iri: &str) -> Value {
    let mut value = serde_json::to_value(&stored.shared.annotation).unwrap_or(Value::Null);
    let urn = stored.shared.annotation.id.clone();
    if let Value::Object(map) = &mut value {
        map.insert("id".into(), Value::String(iri.to_string()));
        let extra: Map<String, Value> =
            stored.extra_json.as_deref().and_then(|e| serde_json::from_str(e).ok()).unwrap_or_default();
        map.insert("canonical".into(), extra.get("canonical").cloned().unwrap_or(Value::String(urn)));
        if let Some(via) = extra.get("via") {
            map.insert("via".into(), via.clone());
        }
        // The model requires a stylesheet wherever a styleClass is used (W3C model 4.4);
        // Cairn's highlight colours are its classes.
        if let Some(class) = stored.shared.annotation.target.style_class.as_deref() {
            let color = cairn_model::Color::from_style_class(class).map(|c| c.name()).unwrap_or("yellow");
            map.insert(
                "stylesheet".into(),
                json!({"type": "CssStylesheet", "value": format!(".{class} {{ background-color: {color}; }}")}),
            );
        }
    }
    value
}

fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// JSON-LD is the only representation; a client that cannot take it gets 406.
fn check_accept(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()) else { return Ok(()) };
    let ok = accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        matches!(media.as_str(), "application/ld+json" | "application/json" | "application/*" | "*/*" | "")
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::NotAcceptable("annotations are served as application/ld+json only".into()))
    }
}

fn set(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

/// A JSON-LD response with the given ETag source.
fn jsonld(status: StatusCode, body: &Value) -> (Response, String) {
    let bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
    let tag = etag(&bytes);
    let mut response = (status, bytes).into_response();
    set(&mut response, header::CONTENT_TYPE, MEDIA_TYPE);
    set(&mut response, header::ETAG, &tag);
    (response, tag)
}

fn container_headers(mut response: Response) -> Response {
    set(&mut response, header::LINK, CONTAINER_LINKS);
    set(&mut response, header::ALLOW, CONTAINER_ALLOW);
    set(&mut response, header::HeaderName::from_static("accept-post"), ACCEPT_POST);
    response
}

fn annotation_headers(mut response: Response) -> Response {
    set(&mut response, header::LINK, ANNOTATION_LINKS);
    set(&mut response, header::ALLOW, ANNOTATION_ALLOW);
    response
}

/// Containers answer every response, errors included, with their Link headers.
fn as_container(result: Result<Response, ApiError>) -> Response {
    container_headers(result.unwrap_or_else(IntoResponse::into_response))
}

fn as_annotation(result: Result<Response, ApiError>) -> Response {
    annotation_headers(result.unwrap_or_else(IntoResponse::into_response))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Preference {
    Minimal,
    Iris,
    Descriptions,
}

/// Reads `Prefer: return=representation; include="..."`; without one, descriptions.
fn preference(headers: &HeaderMap) -> Result<(Preference, bool), ApiError> {
    let mut includes: Vec<String> = Vec::new();
    for value in headers.get_all("prefer") {
        let Ok(value) = value.to_str() else { continue };
        for part in value.split(';') {
            if let Some(list) = part.trim().strip_prefix("include=") {
                includes.extend(list.trim_matches('"').split_whitespace().map(str::to_string));
            }
        }
    }
    let has = |iri: &str| includes.iter().any(|i| i == iri);
    if has(PREFER_IRIS) && has(PREFER_DESCRIPTIONS) {
        return Err(ApiError::BadRequest(
            "Prefer may include PreferContainedIRIs or PreferContainedDescriptions, not both".into(),
        ));
    }
    let iris = has(PREFER_IRIS);
    let preference = if has(PREFER_MINIMAL) {
        Preference::Minimal
    } else if iris {
        Preference::Iris
    } else {
        Preference::Descriptions
    };
    Ok((preference, !includes.is_empty()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerQuery {
    page: Option<i64>,
    iris: Option<u8>,
}

fn uuid_of(urn: &str) -> &str {
    urn.strip_prefix("urn:uuid:").unwrap_or(urn)
}

#[allow(clippy::too_many_arguments)] // one call site each, all plain context
async fn page_object(
    state: &AppState,
    user: &User,
    scope: &ContainerScope,
    container_iri: &str,
    iris: bool,
    page: i64,
    total: i64,
    modified: Option<i64>,
) -> Result<Value, ApiError> {
    let last = (total.max(1) - 1) / PAGE_SIZE;
    if page < 0 || page > last {
        return Err(ApiError::NotFound(format!("this container has pages 0 to {last}")));
    }
    let rows = state.store.container_page(user, scope, page * PAGE_SIZE, PAGE_SIZE).await?;
    let flag = u8::from(iris);
    let items: Vec<Value> = rows
        .iter()
        .map(|a| {
            let iri = format!("{container_iri}{}", uuid_of(&a.shared.annotation.id));
            if iris {
                Value::String(iri)
            } else {
                served(a, &iri)
            }
        })
        .collect();
    let mut part_of = json!({"id": format!("{container_iri}?iris={flag}"), "total": total});
    if let Some(m) = modified {
        part_of["modified"] = Value::String(format_rfc3339_ms(m));
    }
    let mut object = json!({
        "id": format!("{container_iri}?iris={flag}&page={page}"),
        "type": "AnnotationPage",
        "partOf": part_of,
        "startIndex": page * PAGE_SIZE,
        "items": items,
    });
    if page < last {
        object["next"] = Value::String(format!("{container_iri}?iris={flag}&page={}", page + 1));
    }
    if page > 0 {
        object["prev"] = Value::String(format!("{container_iri}?iris={flag}&page={}", page - 1));
    }
    Ok(object)
}

fn container_label(scope: &ContainerScope) -> String {
    match scope {
        ContainerScope::Community(c) => format!("Annotations shared with {}", c.name),
        ContainerScope::Private => "My private annotations".into(),
    }
}

pub async fn container_get(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(container): Path<String>,
    query: Result<Query<ContainerQuery>, ApiError>,
    headers: HeaderMap,
) -> Response {
    as_container(container_get_inner(state, caller, container, query, headers).await)
}

async fn container_get_inner(
    state: AppState,
    caller: Result<Caller, ApiError>,
    container: String,
    query: Result<Query<ContainerQuery>, ApiError>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Caller(user) = caller?;
    let Query(query) = query?;
    check_accept(&headers)?;
    let scope = scope_of(&state, &user, &container).await?;
    let container_iri = format!("{}/annotations/{container}/", base_url(&state, &headers));
    let (total, modified) = state.store.container_summary(&user, &scope).await?;

    if let Some(page) = query.page {
        // Pages were chosen with the container's preference already; Prefer is not read here.
        let iris = query.iris == Some(1);
        let mut body = page_object(&state, &user, &scope, &container_iri, iris, page, total, modified).await?;
        body["@context"] = Value::String(ANNO_CONTEXT.into());
        let (mut response, _) = jsonld(StatusCode::OK, &body);
        set(&mut response, header::VARY, "Accept");
        return Ok(response);
    }

    let (preference, given) = preference(&headers)?;
    let iris = match query.iris {
        Some(flag) => flag == 1,
        None => preference == Preference::Iris,
    };
    let flag = u8::from(iris);
    let collection_iri = format!("{container_iri}?iris={flag}");
    let mut body = json!({
        "@context": [ANNO_CONTEXT, LDP_CONTEXT],
        "id": collection_iri,
        "type": ["BasicContainer", "AnnotationCollection"],
        "label": container_label(&scope),
        "total": total,
    });
    if let Some(m) = modified {
        body["modified"] = Value::String(format_rfc3339_ms(m));
    }
    if total > 0 {
        let last = (total - 1) / PAGE_SIZE;
        body["last"] = Value::String(format!("{container_iri}?iris={flag}&page={last}"));
        if preference == Preference::Minimal {
            body["first"] = Value::String(format!("{container_iri}?iris={flag}&page=0"));
        } else {
            body["first"] = page_object(&state, &user, &scope, &container_iri, iris, 0, total, modified).await?;
            if let Some(first) = body["first"].as_object_mut() {
                // Embedded in its collection, the page needs no partOf description of it.
                first.insert("partOf".into(), Value::String(collection_iri.clone()));
            }
        }
    }
    let (mut response, _) = jsonld(StatusCode::OK, &body);
    set(&mut response, header::VARY, "Accept, Prefer");
    set(&mut response, header::CONTENT_LOCATION, &collection_iri);
    if given {
        set(&mut response, header::HeaderName::from_static("preference-applied"), "return=representation");
    }
    Ok(response)
}

pub async fn container_options() -> Response {
    container_headers(StatusCode::OK.into_response())
}

pub async fn annotation_options() -> Response {
    annotation_headers(StatusCode::OK.into_response())
}

/// Maps a refused W3C write to the HTTP status a protocol client expects.
fn write_error(result: &cairn_protocol::api::MutationResult) -> Option<ApiError> {
    if result.status != MutationStatus::Rejected {
        return None;
    }
    let error = result.error.clone()?;
    Some(match error.code.as_str() {
        "forbidden" | "not_a_member" => ApiError::Forbidden(error.message),
        "archived" | "deleted" => ApiError::Conflict(error.message),
        _ => ApiError::BadRequest(error.message),
    })
}

/// Parses a W3C annotation body; returns the annotation and its extra properties.
fn parse_body(body: &Bytes, headers: &HeaderMap) -> Result<(Value, Map<String, Value>), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media != "application/ld+json" && media != "application/json" {
        return Err(ApiError::BadRequest(format!("send the annotation as {MEDIA_TYPE}")));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err(ApiError::BadRequest("the body must be one JSON-LD annotation object".into()));
    };
    let mut extra = Map::new();
    for key in ["canonical", "via"] {
        if let Some(v) = map.remove(key) {
            if !v.is_string() {
                return Err(ApiError::BadRequest(format!("\"{key}\" must be an IRI string")));
            }
            extra.insert(key.into(), v);
        }
    }
    map.entry("@context").or_insert(Value::String(ANNO_CONTEXT.into()));
    map.entry("type").or_insert(Value::String("Annotation".into()));
    Ok((Value::Object(map), extra))
}

fn to_annotation(value: Value) -> Result<Annotation, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::BadRequest(format!("this annotation cannot be stored by Cairn: {e}")))
}

async fn write(
    state: &AppState,
    user: &User,
    annotation: Annotation,
    communities: Vec<String>,
    extra: Map<String, Value>,
) -> Result<(), ApiError> {
    let now = now_ms();
    let mut prepared = prepare(Mutation::Upsert { seq: 0, annotation, communities }, now)?;
    match &mut prepared {
        PreparedMutation::Upsert(u) => {
            u.extra_json = Some(serde_json::to_string(&extra).unwrap_or_else(|_| "{}".into()));
        }
        PreparedMutation::Invalid { rejection, .. } => return Err(ApiError::BadRequest(rejection.message.clone())),
        PreparedMutation::Delete { .. } => {}
    }
    let outcome = state.store.apply_push(user, None, vec![prepared], now).await?;
    if let Some(e) = outcome.results.first().and_then(write_error) {
        return Err(e);
    }
    state.announce(outcome.notices);
    Ok(())
}

fn new_annotation_id(now: i64) -> AnnotationId {
    let mut random = [0u8; 10];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
    AnnotationId::new_v7(now as u64, random)
}

pub async fn container_post(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(container): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    as_container(container_post_inner(state, caller, container, headers, body).await)
}

async fn container_post_inner(
    state: AppState,
    caller: Result<Caller, ApiError>,
    container: String,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Caller(user) = caller?;
    let scope = scope_of(&state, &user, &container).await?;
    let (mut value, mut extra) = parse_body(&body, &headers)?;
    let now = now_ms();
    let id = new_annotation_id(now);
    // The server names the annotation; an IRI the client gave is kept as `via`.
    if let Some(Value::String(given)) = value.get("id") {
        extra.entry("via").or_insert(Value::String(given.clone()));
    }
    value["id"] = Value::String(id.to_urn());
    value["modified"] = Value::String(format_rfc3339_ms(now));
    if value.get("created").is_none() {
        value["created"] = Value::String(format_rfc3339_ms(now));
    }
    let annotation = to_annotation(value)?;
    let communities = match &scope {
        ContainerScope::Community(c) => vec![c.slug.clone()],
        ContainerScope::Private => vec![],
    };
    write(&state, &user, annotation, communities, extra).await?;
    let stored = state
        .store
        .container_annotation(&user, &scope, &id.to_urn())
        .await?
        .ok_or_else(|| ApiError::Internal("a created annotation is not in its container".into()))?;
    let iri = format!("{}/annotations/{container}/{}", base_url(&state, &headers), id.as_uuid().hyphenated());
    let (mut response, _) = jsonld(StatusCode::CREATED, &served(&stored, &iri));
    set(&mut response, header::LOCATION, &iri);
    set(&mut response, header::CONTENT_LOCATION, &iri);
    Ok(response)
}

/// The annotation `id` (a UUID) of `container` as the caller sees it, its IRI and current ETag.
async fn find(
    state: &AppState,
    user: &User,
    container: &str,
    id: &str,
    headers: &HeaderMap,
) -> Result<(ContainerScope, StoredAnnotation, String, Value, String), ApiError> {
    let scope = scope_of(state, user, container).await?;
    let not_found = || ApiError::NotFound("no such annotation in this container".into());
    let parsed: AnnotationId = format!("urn:uuid:{id}").parse().map_err(|_| not_found())?;
    let stored = state.store.container_annotation(user, &scope, &parsed.to_urn()).await?.ok_or_else(not_found)?;
    let iri = format!("{}/annotations/{container}/{}", base_url(state, headers), parsed.as_uuid().hyphenated());
    let body = served(&stored, &iri);
    let tag = etag(&serde_json::to_vec_pretty(&body).unwrap_or_default());
    Ok((scope, stored, iri, body, tag))
}

fn if_match_ok(headers: &HeaderMap, current: &str) -> Option<bool> {
    let value = headers.get(header::IF_MATCH)?.to_str().ok()?;
    Some(value.split(',').map(str::trim).any(|t| t == "*" || t == current || t.strip_prefix("W/") == Some(current)))
}

pub async fn annotation_get(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((container, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    as_annotation(
        async {
            let Caller(user) = caller?;
            check_accept(&headers)?;
            let (_, _, _, body, _) = find(&state, &user, &container, &id, &headers).await?;
            let (mut response, _) = jsonld(StatusCode::OK, &body);
            set(&mut response, header::VARY, "Accept");
            Ok(response)
        }
        .await,
    )
}

pub async fn annotation_put(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((container, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    as_annotation(
        async {
            let Caller(user) = caller?;
            let (scope, stored, iri, _, tag) = find(&state, &user, &container, &id, &headers).await?;
            if stored.shared.author.id != user.id {
                return Err(ApiError::Forbidden("only the author of an annotation may change it".into()));
            }
            match if_match_ok(&headers, &tag) {
                None => {
                    return Err(ApiError::PreconditionRequired(
                        "send If-Match with the ETag you last read, so that no one's change is overwritten".into(),
                    ))
                }
                Some(false) => {
                    return Err(ApiError::PreconditionFailed(
                        "the annotation changed since you read it; GET it again and reapply your change".into(),
                    ))
                }
                Some(true) => {}
            }
            let (mut value, extra) = parse_body(&body, &headers)?;
            let old_extra: Map<String, Value> =
                stored.extra_json.as_deref().and_then(|e| serde_json::from_str(e).ok()).unwrap_or_default();
            for key in ["canonical", "via"] {
                if let (Some(old), Some(new)) = (old_extra.get(key), extra.get(key)) {
                    if old != new {
                        return Err(ApiError::BadRequest(format!("\"{key}\" cannot be changed once set")));
                    }
                }
            }
            let mut merged = old_extra;
            merged.extend(extra);
            let now = now_ms().max(stored.modified_ms + 1);
            value["id"] = Value::String(stored.shared.annotation.id.clone());
            value["created"] = Value::String(format_rfc3339_ms(stored.created_ms));
            value["modified"] = Value::String(format_rfc3339_ms(now));
            let annotation = to_annotation(value)?;
            let communities = match &scope {
                ContainerScope::Community(_) => stored.shared.communities.clone(),
                ContainerScope::Private => vec![],
            };
            write(&state, &user, annotation, communities, merged).await?;
            let fresh = state
                .store
                .container_annotation(&user, &scope, &stored.shared.annotation.id)
                .await?
                .ok_or_else(|| ApiError::Internal("an updated annotation left its container".into()))?;
            let (mut response, _) = jsonld(StatusCode::OK, &served(&fresh, &iri));
            set(&mut response, header::VARY, "Accept");
            Ok(response)
        }
        .await,
    )
}

pub async fn annotation_delete(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((container, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    as_annotation(
        async {
            let Caller(user) = caller?;
            let (_, stored, _, _, tag) = find(&state, &user, &container, &id, &headers).await?;
            if stored.shared.author.id != user.id {
                return Err(ApiError::Forbidden("only the author of an annotation may delete it".into()));
            }
            if if_match_ok(&headers, &tag) == Some(false) {
                return Err(ApiError::PreconditionFailed(
                    "the annotation changed since you read it; GET it again before deleting".into(),
                ));
            }
            let now = now_ms();
            let prepared = PreparedMutation::Delete { seq: 0, id: stored.shared.annotation.id.clone() };
            let outcome = state.store.apply_push(&user, None, vec![prepared], now).await?;
            if let Some(e) = outcome.results.first().and_then(write_error) {
                return Err(e);
            }
            state.announce(outcome.notices);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}
