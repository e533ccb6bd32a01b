//! Imports: Hypothesis exports, W3C JSON-LD from any tool, and Cairn's own records.
//!
//! [`import`] reads one file's bytes, finds which of these it is, and turns every item it
//! can into a [`LocalRecord`] whose annotation passes [`Annotation::validate`]; every item
//! it cannot is listed in the [`ImportReport`] with the reason, so one bad item never costs
//! the rest.
//!
//! Accepted shapes: a Hypothesis export (`{"export_date", "annotations": [...]}`) or API
//! search answer (`{"rows": [...]}`); a W3C annotation, an array of them, an
//! `AnnotationPage` or an `AnnotationCollection` with its first page embedded; a JSON array
//! of Cairn records (what `cairn import` writes and the extension stores).
//!
//! Other tools' W3C is taken leniently: unknown fields are ignored, a target may be a bare
//! IRI or an array (the first is used), selectors and bodies Cairn does not model are
//! dropped, and an annotation about a whole page with only a note becomes a URL-only clip
//! carrying the note (Cairn's form of a page note). Ids that are not Cairn's (a UUIDv7
//! `urn:uuid:`) are replaced by new ones, made from the time and entropy the caller passes:
//! this crate reads no clock and draws no random numbers.

use std::collections::HashSet;
use std::fmt;

use cairn_clip::{clip_url_only, ClipContext, PageRef};
use cairn_model::{
    format_rfc3339_ms, parse_rfc3339_ms, Agent, Annotation, AnnotationError, AnnotationId, Audience, Body, ClipKind,
    Color, Motivation, Selector, ANNO_CONTEXT,
};
use cairn_protocol::messages::SyncState;
use cairn_sync::LocalRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::LibraryError;

/// What the caller passes in place of a clock and a random source.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Now (unix ms): the time of new ids, and the creation time of items without one.
    pub now_ms: i64,
    /// Random bits from the caller; new ids draw their random part from them.
    pub seed: u64,
    /// Ids already in the user's library: items with these ids are skipped as duplicates.
    pub existing_ids: HashSet<String>,
}

/// Which format the file was.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Hypothesis,
    W3c,
    CairnRecords,
}

/// Why one item was not imported.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
#[non_exhaustive]
pub enum SkipReason {
    /// Not an object, or its type is not `Annotation`.
    NotAnAnnotation,
    /// No web page it is about (no target, or a target that is not an http(s) URL).
    NoTargetUrl,
    /// Points into a page but gives no quoted text to find it by.
    NoQuote,
    /// A reply to another annotation: Cairn has no threads.
    Reply,
    /// Its id is already in the library or earlier in the file.
    DuplicateId,
    /// Fails Cairn's checks; the text says which.
    Invalid(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotAnAnnotation => write!(f, "not an annotation"),
            SkipReason::NoTargetUrl => write!(f, "no web page URL in its target"),
            SkipReason::NoQuote => write!(f, "no quoted text to anchor it by"),
            SkipReason::Reply => write!(f, "a reply (Cairn has no threads)"),
            SkipReason::DuplicateId => write!(f, "its id is already imported"),
            SkipReason::Invalid(e) => write!(f, "invalid: {e}"),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The item's place in the file (0-based).
    pub index: usize,
    /// Its id in the file, when it had one.
    pub id: Option<String>,
    pub reason: SkipReason,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    pub format: Format,
    pub imported: usize,
    /// Items that were given a new id (theirs was not a Cairn id, or was missing).
    pub renamed: usize,
    pub skipped: Vec<Skipped>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub records: Vec<LocalRecord>,
    pub report: ImportReport,
}

/// Reads a file in any of the accepted formats (see the module doc).
pub fn import(bytes: &[u8], options: &ImportOptions) -> Result<Import, LibraryError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| LibraryError::NotJson(e.to_string()))?;
    // A Hypothesis export names its user once, for all its annotations.
    let exporter = value.get("export_userid").and_then(Value::as_str).map(str::to_string);
    let (format, items) = detect(value)?;
    let mut run =
        Run { options, ids: IdMaker { now_ms: options.now_ms, state: options.seed }, seen: HashSet::new(), exporter };
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    let mut renamed = 0;
    for (index, item) in items.into_iter().enumerate() {
        let id = item.get("id").and_then(Value::as_str).map(str::to_string);
        let made = match format {
            Format::Hypothesis => run.hypothesis(item),
            Format::W3c => run.w3c(item),
            Format::CairnRecords => run.cairn(item),
        };
        match made.and_then(|(record, new_id)| run.admit(record).map(|r| (r, new_id))) {
            Ok((record, new_id)) => {
                renamed += usize::from(new_id);
                records.push(record);
            }
            Err(reason) => skipped.push(Skipped { index, id, reason }),
        }
    }
    let report = ImportReport { format, imported: records.len(), renamed, skipped };
    Ok(Import { records, report })
}

fn type_has(v: &Value, wanted: &str) -> bool {
    match v.get("type") {
        Some(Value::String(s)) => s == wanted,
        Some(Value::Array(a)) => a.iter().any(|t| t.as_str() == Some(wanted)),
        _ => false,
    }
}

fn detect(value: Value) -> Result<(Format, Vec<Value>), LibraryError> {
    let looks_like_record = |v: &Value| v.get("annotation").is_some() && v.get("page_key").is_some();
    let looks_like_hypothesis = |v: &Value| v.get("uri").is_some() && v.get("@context").is_none();
    match value {
        Value::Array(items) => {
            let format = match items.first() {
                Some(first) if looks_like_record(first) => Format::CairnRecords,
                Some(first) if looks_like_hypothesis(first) => Format::Hypothesis,
                _ => Format::W3c,
            };
            Ok((format, items))
        }
        Value::Object(mut o) => {
            for key in ["annotations", "rows"] {
                if let Some(Value::Array(items)) = o.remove(key) {
                    return Ok((Format::Hypothesis, items));
                }
            }
            let v = Value::Object(o);
            if type_has(&v, "AnnotationCollection") {
                return match v.get("first") {
                    Some(page) if page.is_object() => detect(page.clone()),
                    _ => Err(LibraryError::UnknownFormat(
                        "an AnnotationCollection whose pages are not embedded in it".into(),
                    )),
                };
            }
            if type_has(&v, "AnnotationPage") {
                return match v.get("items") {
                    Some(Value::Array(items)) => Ok((Format::W3c, items.clone())),
                    _ => Ok((Format::W3c, Vec::new())),
                };
            }
            if type_has(&v, "Annotation") || v.get("target").is_some() {
                return Ok((Format::W3c, vec![v]));
            }
            Err(LibraryError::UnknownFormat("an object with no annotations in it".into()))
        }
        other => Err(LibraryError::UnknownFormat(format!("a JSON {}", json_kind(&other)))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// New UUIDv7 ids: the caller's time, and random bits stretched from the caller's seed
/// (SplitMix64, so every id of one import differs).
struct IdMaker {
    now_ms: i64,
    state: u64,
}

impl IdMaker {
    fn next(&mut self) -> String {
        let mut bytes = [0u8; 10];
        let a = self.mix();
        let b = self.mix();
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes()[..2]);
        AnnotationId::new_v7(self.now_ms.max(0) as u64, bytes).to_urn()
    }

    fn mix(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

struct Run<'a> {
    options: &'a ImportOptions,
    ids: IdMaker,
    seen: HashSet<String>,
    exporter: Option<String>,
}

/// A record made from one item, and whether it got a new id.
type Made = Result<(LocalRecord, bool), SkipReason>;

impl Run<'_> {
    /// The last checks every record passes, whatever its format.
    fn admit(&mut self, record: LocalRecord) -> Result<LocalRecord, SkipReason> {
        record.annotation.validate().map_err(skip_reason)?;
        if record.id != record.annotation.id {
            return Err(SkipReason::Invalid("the record's id is not its annotation's".into()));
        }
        if self.options.existing_ids.contains(&record.id) || !self.seen.insert(record.id.clone()) {
            return Err(SkipReason::DuplicateId);
        }
        Ok(record)
    }

    /// The item's id when it is a Cairn id, else a new one.
    fn id_for(&mut self, id: Option<&str>) -> (String, bool) {
        match id.map(|id| id.parse::<AnnotationId>()) {
            Some(Ok(id)) => (id.to_urn(), false),
            _ => (self.ids.next(), true),
        }
    }

    fn record(&self, annotation: Annotation, teammate: Option<String>) -> Result<LocalRecord, SkipReason> {
        let page_key = annotation.page_key().map_err(|_| SkipReason::NoTargetUrl)?;
        let created_ms = annotation.created.as_deref().and_then(parse_rfc3339_ms).unwrap_or(self.options.now_ms);
        Ok(LocalRecord {
            id: annotation.id.clone(),
            page_key: page_key.to_string(),
            created_ms,
            annotation,
            communities: Vec::new(),
            sync: SyncState::Local,
            teammate,
            orphan: false,
        })
    }

    fn cairn(&mut self, item: Value) -> Made {
        let record: LocalRecord =
            serde_json::from_value(item).map_err(|e| SkipReason::Invalid(format!("not a Cairn record: {e}")))?;
        Ok((record, false))
    }

    fn w3c(&mut self, item: Value) -> Made {
        let Value::Object(mut o) = item else { return Err(SkipReason::NotAnAnnotation) };
        if o.contains_key("type") && !type_has(&Value::Object(o.clone()), "Annotation") {
            return Err(SkipReason::NotAnAnnotation);
        }
        let context_ok = match o.get("@context") {
            Some(Value::String(s)) => s == ANNO_CONTEXT,
            Some(Value::Array(a)) => a.iter().any(|c| c.as_str() == Some(ANNO_CONTEXT)),
            _ => false,
        };
        if !context_ok {
            o.insert("@context".into(), Value::String(ANNO_CONTEXT.into()));
        }
        o.insert("type".into(), Value::String("Annotation".into()));
        let (id, renamed) = self.id_for(o.get("id").and_then(Value::as_str));
        o.insert("id".into(), Value::String(id));
        let target = lenient_target(o.remove("target")).ok_or(SkipReason::NoTargetUrl)?;
        let source = target["source"].as_str().unwrap_or("");
        if cairn_model::PageKey::from_url(source).is_err() {
            return Err(SkipReason::NoTargetUrl);
        }
        o.insert("target".into(), target);
        let motivation = first_parsing::<Motivation>(o.remove("motivation"));
        let bodies = lenient_bodies(o.remove("body"), motivation);
        o.insert("body".into(), Value::Array(bodies));
        let has_note = o["body"].as_array().is_some_and(|b| b.iter().any(|b| b["purpose"] == "commenting"));
        let motivation = motivation
            .filter(|m| *m != Motivation::Tagging && *m != Motivation::Describing)
            .unwrap_or(if has_note { Motivation::Commenting } else { Motivation::Highlighting });
        o.insert("motivation".into(), serde_json::to_value(motivation).unwrap_or(Value::Null));
        if let Some(creator) = first_parsing::<Agent>(o.remove("creator").map(iri_to_object)) {
            o.insert("creator".into(), serde_json::to_value(creator).unwrap_or(Value::Null));
        }
        let audience = all_parsing::<Audience>(o.remove("audience").map(iri_to_object));
        o.insert("audience".into(), serde_json::to_value(audience).unwrap_or(Value::Null));
        for field in ["created", "modified"] {
            if o.get(field).and_then(Value::as_str).and_then(parse_rfc3339_ms).is_none() {
                o.remove(field);
            }
        }
        let mut annotation: Annotation =
            serde_json::from_value(Value::Object(o)).map_err(|e| SkipReason::Invalid(e.to_string()))?;
        if annotation.quote().is_none() && !annotation.is_clip() {
            if !annotation.target.selector.is_empty() {
                return Err(SkipReason::NoQuote);
            }
            annotation = self.page_note(annotation, None)?;
        }
        Ok((self.record(annotation, None)?, renamed))
    }

    fn hypothesis(&mut self, item: Value) -> Made {
        let Value::Object(o) = item else { return Err(SkipReason::NotAnAnnotation) };
        if o.get("references").and_then(Value::as_array).is_some_and(|r| !r.is_empty()) {
            return Err(SkipReason::Reply);
        }
        let target = o.get("target").and_then(|t| t.as_array().and_then(|a| a.first()).or(Some(t)));
        let source = target
            .and_then(|t| t.get("source"))
            .or(o.get("uri"))
            .and_then(Value::as_str)
            .ok_or(SkipReason::NoTargetUrl)?;
        if cairn_model::PageKey::from_url(source).is_err() {
            return Err(SkipReason::NoTargetUrl);
        }
        let selectors = all_parsing::<Selector>(target.and_then(|t| t.get("selector")).cloned());
        let (id, renamed) = self.id_for(o.get("id").and_then(Value::as_str));
        let time = |field: &str| o.get(field).and_then(Value::as_str).and_then(parse_rfc3339_ms);
        let created = time("created").unwrap_or(self.options.now_ms);
        let note = o.get("text").and_then(Value::as_str).unwrap_or("");
        let tags: Vec<&str> = o
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let title = o
            .get("document")
            .and_then(|d| d.get("title"))
            .and_then(|t| t.as_array().and_then(|a| a.first()).or(Some(t)))
            .and_then(Value::as_str);
        let id = id.parse::<AnnotationId>().map_err(|e| SkipReason::Invalid(e.to_string()))?;
        let mut annotation = Annotation::new_highlight(id, source, selectors, Color::default(), created);
        annotation.set_note(note);
        annotation.set_tags(tags);
        annotation.modified = Some(format_rfc3339_ms(time("updated").unwrap_or(created)));
        if annotation.quote().is_none() {
            if !annotation.target.selector.is_empty() {
                return Err(SkipReason::NoQuote);
            }
            annotation = self.page_note(annotation, title)?;
        }
        // Annotations by someone other than the exporting user are teammates'.
        let user = o.get("user").and_then(Value::as_str);
        let exporter = self.exporter.as_deref();
        let teammate = match (user, exporter) {
            (Some(u), Some(e)) if u != e => Some(
                o.get("user_info").and_then(|i| i.get("display_name")).and_then(Value::as_str).unwrap_or(u).to_string(),
            ),
            _ => None,
        };
        Ok((self.record(annotation, teammate)?, renamed))
    }

    /// Cairn's form of a note about a whole page: a URL-only clip carrying the note.
    fn page_note(&self, annotation: Annotation, title: Option<&str>) -> Result<Annotation, SkipReason> {
        let note = annotation.note().unwrap_or("").to_string();
        let tags: Vec<String> = annotation.tags().into_iter().map(str::to_string).collect();
        if note.trim().is_empty() && tags.is_empty() {
            return Err(SkipReason::NoQuote);
        }
        let created = annotation.created.clone().unwrap_or_else(|| format_rfc3339_ms(self.options.now_ms));
        let page = PageRef { url: annotation.target.source.clone(), title: title.unwrap_or("").to_string() };
        let context =
            ClipContext { clipped_at: created, note: Some(note.clone()), tags: tags.clone(), communities: vec![] };
        let clip = clip_url_only(&page, &context).map_err(|_| SkipReason::NoTargetUrl)?;
        let id = annotation.annotation_id().map_err(|e| SkipReason::Invalid(e.to_string()))?;
        let created_ms = annotation.created.as_deref().and_then(parse_rfc3339_ms).unwrap_or(self.options.now_ms);
        let mut page_note = Annotation::new_clip(id, ClipKind::UrlOnly, &page.url, vec![], &clip.markdown, created_ms);
        page_note.set_note(&note);
        page_note.set_tags(tags.iter().map(String::as_str));
        page_note.modified = annotation.modified.or(page_note.modified);
        page_note.creator = annotation.creator;
        page_note.audience = annotation.audience;
        Ok(page_note)
    }
}

fn skip_reason(e: AnnotationError) -> SkipReason {
    match e {
        AnnotationError::NoQuote => SkipReason::NoQuote,
        AnnotationError::BadSource(_) => SkipReason::NoTargetUrl,
        other => SkipReason::Invalid(other.to_string()),
    }
}

/// A bare IRI (`"creator": "http://x/me"`) as the object form with that `id`.
fn iri_to_object(v: Value) -> Value {
    match v {
        Value::String(s) => serde_json::json!({ "id": s }),
        Value::Array(a) => Value::Array(a.into_iter().map(iri_to_object).collect()),
        other => other,
    }
}

fn one_or_many(v: Option<Value>) -> Vec<Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => vec![other],
    }
}

fn all_parsing<T: for<'de> Deserialize<'de>>(v: Option<Value>) -> Vec<T> {
    one_or_many(v).into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect()
}

fn first_parsing<T: for<'de> Deserialize<'de>>(v: Option<Value>) -> Option<T> {
    all_parsing(v).into_iter().next()
}

/// The first target that names a page: a bare IRI or an object with `source` (or `id`),
/// keeping only the selectors Cairn models.
fn lenient_target(v: Option<Value>) -> Option<Value> {
    one_or_many(v).into_iter().find_map(|t| {
        let mut out = Map::new();
        match t {
            Value::String(s) => {
                out.insert("source".into(), Value::String(s));
            }
            Value::Object(mut o) => {
                let source = o.remove("source").or_else(|| o.remove("id")).filter(Value::is_string)?;
                out.insert("source".into(), source);
                let selectors = all_parsing::<Selector>(o.remove("selector"));
                out.insert("selector".into(), serde_json::to_value(selectors).ok()?);
                if let Some(class) = o.remove("styleClass").filter(Value::is_string) {
                    out.insert("styleClass".into(), class);
                }
            }
            _ => return None,
        }
        Some(Value::Object(out))
    })
}

/// Textual bodies with a value; one without a purpose is a tag under motivation `tagging`,
/// else a note.
fn lenient_bodies(v: Option<Value>, motivation: Option<Motivation>) -> Vec<Value> {
    let default_purpose = if motivation == Some(Motivation::Tagging) { "tagging" } else { "commenting" };
    one_or_many(v)
        .into_iter()
        .filter_map(|b| {
            let Value::Object(mut o) = b else { return None };
            if !o.get("value").is_some_and(Value::is_string) {
                return None;
            }
            o.entry("type").or_insert_with(|| Value::String("TextualBody".into()));
            if !o.get("purpose").is_some_and(Value::is_string) {
                o.insert("purpose".into(), Value::String(default_purpose.into()));
            }
            serde_json::from_value::<Body>(Value::Object(o)).ok().and_then(|b| serde_json::to_value(b).ok())
        })
        .collect()
}
