use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{AnnotationId, PageKey};

/// The JSON-LD context every Cairn annotation carries.
pub const ANNO_CONTEXT: &str = "http://www.w3.org/ns/anno.jsonld";

/// Caps on what one annotation may hold. They are part of the model, not of the
/// server, so the extension refuses an oversize note before it is queued instead
/// of queueing something the server will reject forever.
pub const MAX_NOTE_CHARS: usize = 20_000;
pub const MAX_QUOTE_CHARS: usize = 10_000;
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 100;
/// A clip's Markdown, in UTF-8 bytes: one clip always fits in one push request
/// (the server takes 2 MiB), with room for the rest of the annotation.
pub const MAX_CLIP_BYTES: usize = 1024 * 1024;
/// Hypothesis caps `href` at 3,000 characters; long intranet URLs fit under that.
pub const MAX_URL_CHARS: usize = 3_000;
/// Selectors per target: a real describe() makes three; more is a sign of abuse.
const MAX_SELECTORS: usize = 8;

/// A W3C Web Annotation, in its JSON-LD form.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Annotation {
    #[serde(rename = "@context")]
    pub context: serde_json::Value,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motivation: Option<Motivation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<Agent>,
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub body: Vec<Body>,
    pub target: Target,
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<Audience>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Motivation {
    Highlighting,
    Commenting,
    Tagging,
    Bookmarking,
    Describing,
    /// A reply: its target's `source` is the parent annotation's IRI.
    Replying,
}

/// Who made an annotation (W3C `creator`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A community the annotation is shared with (W3C `audience`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Audience {
    pub id: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A textual body: the note (purpose `commenting`) or one tag (purpose `tagging`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Body {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// What is annotated: a part of a web page (a W3C `SpecificResource`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Target {
    /// The page URL exactly as the user saw it (the page key is derived from it).
    pub source: String,
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub selector: Vec<Selector>,
    #[serde(rename = "styleClass", default, skip_serializing_if = "Option::is_none")]
    pub style_class: Option<String>,
}

/// W3C selectors. Positions count Unicode code points, as the model requires.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "type")]
pub enum Selector {
    TextQuoteSelector {
        exact: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        suffix: Option<String>,
    },
    TextPositionSelector {
        start: u64,
        end: u64,
    },
    CssSelector {
        value: String,
    },
    XPathSelector {
        value: String,
    },
    RangeSelector {
        #[serde(rename = "startSelector")]
        start_selector: Box<Selector>,
        #[serde(rename = "endSelector")]
        end_selector: Box<Selector>,
    },
}

/// Highlight colours; stored as the W3C target `styleClass` `cairn-<name>`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    #[default]
    Yellow,
    Green,
    Blue,
    Pink,
}

impl Color {
    pub const ALL: [Color; 4] = [Color::Yellow, Color::Green, Color::Blue, Color::Pink];

    pub fn name(self) -> &'static str {
        match self {
            Color::Yellow => "yellow",
            Color::Green => "green",
            Color::Blue => "blue",
            Color::Pink => "pink",
        }
    }

    pub fn style_class(self) -> String {
        format!("cairn-{}", self.name())
    }

    pub fn from_style_class(class: &str) -> Option<Color> {
        let name = class.strip_prefix("cairn-")?;
        Color::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// The three kinds of clip. Stored as the target's `styleClass`
/// (`cairn-clip-<kind>`): it tells a renderer how to show the target, and keeps
/// the annotation plain W3C JSON-LD.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClipKind {
    /// The selected passage, as Markdown, with selectors to find it again.
    Selection,
    /// The page's main content, as Markdown.
    Article,
    /// Title, URL, note and tags: nothing from the page's content.
    UrlOnly,
}

impl ClipKind {
    pub const ALL: [ClipKind; 3] = [ClipKind::Selection, ClipKind::Article, ClipKind::UrlOnly];

    pub fn style_class(self) -> &'static str {
        match self {
            ClipKind::Selection => "cairn-clip-selection",
            ClipKind::Article => "cairn-clip-article",
            ClipKind::UrlOnly => "cairn-clip-url",
        }
    }
}

/// Why an annotation is not acceptable. Each names the field and the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnotationError {
    MissingContext,
    NotAnAnnotation,
    BadId(String),
    BadSource(String),
    NoQuote,
    QuoteTooLong(usize),
    ClipTooLarge(usize),
    NoteTooLong(usize),
    TooManyTags(usize),
    TagTooLong(String),
    EmptyTag,
    TooManySelectors(usize),
    BadPosition {
        start: u64,
        end: u64,
    },
    BadTimestamp(&'static str),
    /// A reply whose target is not an annotation id (`urn:uuid:` v7, or an IRI ending in one).
    BadParent(String),
    /// A reply or a page note without a note.
    EmptyNote,
}

impl fmt::Display for AnnotationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AnnotationError::*;
        match self {
            MissingContext => write!(f, "\"@context\" must be or include {ANNO_CONTEXT:?}"),
            NotAnAnnotation => write!(f, "\"type\" must be or include \"Annotation\""),
            BadId(e) => write!(f, "\"id\": {e}"),
            BadSource(e) => write!(f, "\"target.source\": {e}"),
            NoQuote => write!(f, "\"target.selector\" must include a TextQuoteSelector with a non-empty \"exact\""),
            QuoteTooLong(n) => write!(f, "the quoted text is {n} characters; at most {MAX_QUOTE_CHARS} are accepted"),
            ClipTooLarge(n) => write!(
                f,
                "the clip is {n} bytes of Markdown; at most {MAX_CLIP_BYTES} are accepted (clip a selection or the URL instead)"
            ),
            NoteTooLong(n) => write!(f, "the note is {n} characters; at most {MAX_NOTE_CHARS} are accepted"),
            TooManyTags(n) => write!(f, "{n} tags; at most {MAX_TAGS} are accepted"),
            TagTooLong(t) => write!(f, "tag {t:?}... is longer than {MAX_TAG_CHARS} characters"),
            EmptyTag => write!(f, "tags must not be empty"),
            TooManySelectors(n) => write!(f, "{n} selectors; at most {MAX_SELECTORS} are accepted"),
            BadPosition { start, end } => {
                write!(f, "TextPositionSelector start {start} is after end {end}")
            }
            BadTimestamp(field) => write!(f, "\"{field}\" is not an RFC 3339 timestamp"),
            BadParent(s) => write!(f, "a reply's \"target.source\" must be the parent annotation's id: {s}"),
            EmptyNote => write!(f, "a reply or a page note needs a non-empty note"),
        }
    }
}

impl std::error::Error for AnnotationError {}

impl Annotation {
    /// A new highlight made on this device, as yet without note or tags.
    pub fn new_highlight(
        id: AnnotationId,
        source: &str,
        selectors: Vec<Selector>,
        color: Color,
        created_ms: i64,
    ) -> Annotation {
        let target = Target { source: source.to_string(), selector: selectors, style_class: Some(color.style_class()) };
        Annotation::made_here(id, Motivation::Highlighting, Vec::new(), target, created_ms)
    }

    /// A clip: a page or a selection kept as Markdown (motivation `bookmarking`,
    /// the Markdown in a `TextualBody` with purpose `describing`). A selection
    /// clip also carries the selectors of the passage, so it can be found again.
    pub fn new_clip(
        id: AnnotationId,
        kind: ClipKind,
        source: &str,
        selectors: Vec<Selector>,
        markdown: &str,
        created_ms: i64,
    ) -> Annotation {
        let body = vec![Body {
            kind: "TextualBody".into(),
            value: markdown.to_string(),
            format: Some("text/markdown".into()),
            purpose: Some("describing".into()),
            language: None,
        }];
        let target =
            Target { source: source.to_string(), selector: selectors, style_class: Some(kind.style_class().into()) };
        Annotation::made_here(id, Motivation::Bookmarking, body, target, created_ms)
    }

    /// A reply to the annotation `parent` (W3C motivation `replying`): the
    /// target is the parent itself (its `urn:uuid:` IRI, no selector), the
    /// body the Markdown note. A reply has no page of its own: the server puts
    /// it on its parent's page and shares it exactly as its parent is shared.
    pub fn new_reply(id: AnnotationId, parent: AnnotationId, markdown: &str, created_ms: i64) -> Annotation {
        let target = Target { source: parent.to_urn(), selector: Vec::new(), style_class: None };
        let mut reply = Annotation::made_here(id, Motivation::Replying, Vec::new(), target, created_ms);
        reply.body.push(Body {
            kind: "TextualBody".into(),
            value: markdown.to_string(),
            format: Some("text/markdown".into()),
            purpose: Some("commenting".into()),
            language: None,
        });
        reply
    }

    /// A note on the whole page: motivation `commenting`, a target with the
    /// page URL and no selector.
    pub fn new_page_note(id: AnnotationId, source: &str, markdown: &str, created_ms: i64) -> Annotation {
        let target = Target { source: source.to_string(), selector: Vec::new(), style_class: None };
        let mut note = Annotation::made_here(id, Motivation::Commenting, Vec::new(), target, created_ms);
        note.set_note(markdown);
        note
    }

    /// Whether this is a reply (motivation `replying`).
    pub fn is_reply(&self) -> bool {
        self.motivation == Some(Motivation::Replying)
    }

    /// The annotation a reply answers: its target's `source`, as `urn:uuid:`
    /// or as any IRI whose last path segment is the id (a W3C container IRI).
    /// `None` for anything but a reply with such a target.
    pub fn reply_to(&self) -> Option<AnnotationId> {
        if !self.is_reply() {
            return None;
        }
        let source = self.target.source.as_str();
        if let Ok(id) = source.parse() {
            return Some(id);
        }
        let path = source.split(['?', '#']).next().unwrap_or("");
        if !(path.starts_with("https://") || path.starts_with("http://")) {
            return None;
        }
        path.trim_end_matches('/').rsplit('/').next()?.parse().ok()
    }

    /// Whether this is a note on the whole page: not a reply or clip, no selector.
    pub fn is_page_note(&self) -> bool {
        !self.is_reply() && !self.is_clip() && self.target.selector.is_empty()
    }

    /// An annotation made on this device: created and modified now, no creator
    /// (the server sets it from the token) and no audience yet.
    fn made_here(
        id: AnnotationId,
        motivation: Motivation,
        body: Vec<Body>,
        target: Target,
        created_ms: i64,
    ) -> Annotation {
        let now = crate::format_rfc3339_ms(created_ms);
        Annotation {
            context: serde_json::Value::String(ANNO_CONTEXT.into()),
            id: id.to_urn(),
            kind: serde_json::Value::String("Annotation".into()),
            motivation: Some(motivation),
            created: Some(now.clone()),
            modified: Some(now),
            creator: None,
            body,
            target,
            audience: Vec::new(),
        }
    }

    /// The kind of clip, for clips.
    pub fn clip_kind(&self) -> Option<ClipKind> {
        if !self.is_clip() {
            return None;
        }
        let class = self.target.style_class.as_deref();
        Some(ClipKind::ALL.into_iter().find(|k| Some(k.style_class()) == class).unwrap_or(ClipKind::Article))
    }

    /// Whether this is a clip rather than a highlight.
    pub fn is_clip(&self) -> bool {
        self.motivation == Some(Motivation::Bookmarking)
    }

    /// A clip's Markdown document.
    pub fn clip_markdown(&self) -> Option<&str> {
        self.body.iter().find(|b| b.purpose.as_deref() == Some("describing")).map(|b| b.value.as_str())
    }

    /// The client-made id, when the JSON-LD id is a `urn:uuid:` v7.
    pub fn annotation_id(&self) -> Result<AnnotationId, AnnotationError> {
        self.id.parse().map_err(|e: crate::IdError| AnnotationError::BadId(e.to_string()))
    }

    pub fn page_key(&self) -> Result<PageKey, AnnotationError> {
        PageKey::from_url(&self.target.source).map_err(|e| AnnotationError::BadSource(e.to_string()))
    }

    /// The highlighted text, from the TextQuoteSelector.
    pub fn quote(&self) -> Option<&str> {
        self.target.selector.iter().find_map(|s| match s {
            Selector::TextQuoteSelector { exact, .. } => Some(exact.as_str()),
            _ => None,
        })
    }

    /// The Markdown note, if any.
    pub fn note(&self) -> Option<&str> {
        self.body.iter().find(|b| b.purpose.as_deref() == Some("commenting")).map(|b| b.value.as_str())
    }

    /// Replaces the note; an empty note removes it. The motivation follows:
    /// a highlight with a note is a comment (a clip stays a clip).
    pub fn set_note(&mut self, markdown: &str) {
        self.body.retain(|b| b.purpose.as_deref() != Some("commenting"));
        let clip = self.is_clip();
        if markdown.trim().is_empty() {
            if !clip {
                self.motivation = Some(Motivation::Highlighting);
            }
        } else {
            self.body.insert(
                0,
                Body {
                    kind: "TextualBody".into(),
                    value: markdown.to_string(),
                    format: Some("text/markdown".into()),
                    purpose: Some("commenting".into()),
                    language: None,
                },
            );
            if !clip {
                self.motivation = Some(Motivation::Commenting);
            }
        }
    }

    pub fn tags(&self) -> Vec<&str> {
        self.body.iter().filter(|b| b.purpose.as_deref() == Some("tagging")).map(|b| b.value.as_str()).collect()
    }

    /// Replaces the tags. Tags are trimmed, empty ones dropped, duplicates merged.
    pub fn set_tags<'a>(&mut self, tags: impl IntoIterator<Item = &'a str>) {
        self.body.retain(|b| b.purpose.as_deref() != Some("tagging"));
        let mut seen = Vec::<String>::new();
        for t in tags {
            let t = t.trim();
            if !t.is_empty() && !seen.iter().any(|s| s == t) {
                seen.push(t.to_string());
            }
        }
        self.body.extend(seen.into_iter().map(|value| Body {
            kind: "TextualBody".into(),
            value,
            format: None,
            purpose: Some("tagging".into()),
            language: None,
        }));
    }

    pub fn color(&self) -> Color {
        self.target.style_class.as_deref().and_then(Color::from_style_class).unwrap_or_default()
    }

    /// Checks what Cairn needs from an annotation, with the first problem found.
    /// Used on every boundary: before queueing in the extension and on push at the server.
    pub fn validate(&self) -> Result<(), AnnotationError> {
        if !json_has(&self.context, ANNO_CONTEXT) {
            return Err(AnnotationError::MissingContext);
        }
        if !json_has(&self.kind, "Annotation") {
            return Err(AnnotationError::NotAnAnnotation);
        }
        if self.is_reply() {
            if self.reply_to().is_none() {
                let source: String = self.target.source.chars().take(80).collect();
                return Err(AnnotationError::BadParent(source));
            }
        } else {
            self.page_key()?;
        }
        if self.target.selector.len() > MAX_SELECTORS {
            return Err(AnnotationError::TooManySelectors(self.target.selector.len()));
        }
        let has_note = self.note().is_some_and(|n| !n.trim().is_empty());
        // Highlights point at text; clips may be of a whole page or just its
        // URL; a reply points at its parent and a page note at the whole page,
        // and both are nothing without their note.
        match self.quote() {
            None if self.is_clip() => {}
            None if self.is_reply() || self.is_page_note() => {
                if !has_note {
                    return Err(AnnotationError::EmptyNote);
                }
            }
            None => return Err(AnnotationError::NoQuote),
            Some("") => return Err(AnnotationError::NoQuote),
            Some(quote) => {
                let n = quote.chars().count();
                if n > MAX_QUOTE_CHARS {
                    return Err(AnnotationError::QuoteTooLong(n));
                }
            }
        }
        if let Some(md) = self.clip_markdown() {
            if md.len() > MAX_CLIP_BYTES {
                return Err(AnnotationError::ClipTooLarge(md.len()));
            }
        }
        for s in &self.target.selector {
            if let Selector::TextPositionSelector { start, end } = s {
                if start > end {
                    return Err(AnnotationError::BadPosition { start: *start, end: *end });
                }
            }
        }
        if let Some(note) = self.note() {
            let n = note.chars().count();
            if n > MAX_NOTE_CHARS {
                return Err(AnnotationError::NoteTooLong(n));
            }
        }
        let tags = self.tags();
        if tags.len() > MAX_TAGS {
            return Err(AnnotationError::TooManyTags(tags.len()));
        }
        for t in tags {
            if t.trim().is_empty() {
                return Err(AnnotationError::EmptyTag);
            }
            if t.chars().count() > MAX_TAG_CHARS {
                return Err(AnnotationError::TagTooLong(t.chars().take(20).collect()));
            }
        }
        for (field, value) in [("created", &self.created), ("modified", &self.modified)] {
            if let Some(v) = value {
                if crate::parse_rfc3339_ms(v).is_none() {
                    return Err(AnnotationError::BadTimestamp(field));
                }
            }
        }
        Ok(())
    }
}

fn json_has(v: &serde_json::Value, wanted: &str) -> bool {
    match v {
        serde_json::Value::String(s) => s == wanted,
        serde_json::Value::Array(items) => items.iter().any(|i| i.as_str() == Some(wanted)),
        _ => false,
    }
}

/// JSON-LD lets a property hold one value or an array of them.
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match OneOrMany::<T>::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(t) => vec![t],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Annotation {
        Annotation::new_highlight(
            AnnotationId::new_v7(1_795_442_966_123, [1; 10]),
            "https://wiki.example/page?utm_source=x#frag",
            vec![
                Selector::TextQuoteSelector {
                    exact: "the quick fox".into(),
                    prefix: Some("Once ".into()),
                    suffix: Some(" jumped".into()),
                },
                Selector::TextPositionSelector { start: 5, end: 18 },
            ],
            Color::Green,
            1_795_442_966_123,
        )
    }

    #[test]
    fn serializes_as_w3c_json_ld() {
        let mut a = sample();
        a.set_note("**why** this matters");
        a.set_tags(["runbook", " oncall ", "runbook", ""]);
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["@context"], ANNO_CONTEXT);
        assert_eq!(json["type"], "Annotation");
        assert_eq!(json["motivation"], "commenting");
        assert_eq!(json["created"], "2026-11-23T14:09:26.123Z");
        assert_eq!(json["target"]["styleClass"], "cairn-green");
        assert_eq!(json["target"]["selector"][0]["type"], "TextQuoteSelector");
        assert_eq!(json["target"]["selector"][1]["start"], 5);
        assert_eq!(json["body"][0]["format"], "text/markdown");
        assert_eq!(json["body"][1]["value"], "runbook");
        assert_eq!(json["body"][2]["value"], "oncall");
        assert_eq!(json["body"].as_array().unwrap().len(), 3);
        let back: Annotation = serde_json::from_value(json).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.note(), Some("**why** this matters"));
        assert_eq!(back.tags(), vec!["runbook", "oncall"]);
        assert_eq!(back.color(), Color::Green);
        back.validate().unwrap();
    }

    #[test]
    fn reads_single_valued_properties() {
        let json = serde_json::json!({
            "@context": ["http://www.w3.org/ns/anno.jsonld"],
            "id": "urn:uuid:0190f0c2-e2d8-7c3e-8b4a-1b2c3d4e5f60",
            "type": "Annotation",
            "body": {"type": "TextualBody", "value": "hi", "purpose": "commenting"},
            "target": {"source": "https://a.example/", "selector": {"type": "TextQuoteSelector", "exact": "x"}}
        });
        let a: Annotation = serde_json::from_value(json).unwrap();
        assert_eq!(a.note(), Some("hi"));
        assert_eq!(a.quote(), Some("x"));
        a.validate().unwrap();
    }

    #[test]
    fn validation_names_the_problem() {
        let mut a = sample();
        a.set_note(&"x".repeat(MAX_NOTE_CHARS + 1));
        assert_eq!(a.validate(), Err(AnnotationError::NoteTooLong(MAX_NOTE_CHARS + 1)));

        let mut a = sample();
        a.target.selector.retain(|s| !matches!(s, Selector::TextQuoteSelector { .. }));
        assert_eq!(a.validate(), Err(AnnotationError::NoQuote));

        let mut a = sample();
        a.target.source = "javascript:alert(1)".into();
        assert!(matches!(a.validate(), Err(AnnotationError::BadSource(_))));

        let mut a = sample();
        a.target.selector.push(Selector::TextPositionSelector { start: 9, end: 2 });
        assert_eq!(a.validate(), Err(AnnotationError::BadPosition { start: 9, end: 2 }));

        let mut a = sample();
        a.context = serde_json::json!("http://example.com/other");
        assert_eq!(a.validate(), Err(AnnotationError::MissingContext));

        let mut a = sample();
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        a.set_tags(many.iter().map(String::as_str));
        assert_eq!(a.validate(), Err(AnnotationError::TooManyTags(MAX_TAGS + 1)));
    }

    #[test]
    fn clips_need_no_quote_but_have_a_size_cap() {
        let id = AnnotationId::new_v7(1_795_442_966_123, [2; 10]);
        let mut clip = Annotation::new_clip(
            id,
            ClipKind::UrlOnly,
            "https://wiki.example/p",
            vec![],
            "---\ntitle: x\n---\n# Hello\n",
            1_795_442_966_123,
        );
        clip.set_note("worth reading");
        clip.set_tags(["design"]);
        clip.validate().unwrap();
        assert!(clip.is_clip());
        assert_eq!(clip.clip_kind(), Some(ClipKind::UrlOnly));
        assert_eq!(sample().clip_kind(), None);
        assert_eq!(clip.clip_markdown(), Some("---\ntitle: x\n---\n# Hello\n"));
        assert_eq!(clip.note(), Some("worth reading"));
        let json = serde_json::to_value(&clip).unwrap();
        assert_eq!(json["motivation"], "bookmarking");
        assert_eq!(json["body"][0]["purpose"], "commenting");
        let big = Annotation::new_clip(
            id,
            ClipKind::Article,
            "https://wiki.example/p",
            vec![],
            &"x".repeat(MAX_CLIP_BYTES + 1),
            0,
        );
        assert_eq!(big.validate(), Err(AnnotationError::ClipTooLarge(MAX_CLIP_BYTES + 1)));
        assert!(!sample().is_clip());
    }

    #[test]
    fn a_reply_targets_its_parent_and_needs_a_note() {
        let parent = AnnotationId::new_v7(1_795_442_966_123, [3; 10]);
        let id = AnnotationId::new_v7(1_795_442_966_200, [4; 10]);
        let reply = Annotation::new_reply(id, parent, "I agree", 1_795_442_966_200);
        reply.validate().unwrap();
        assert!(reply.is_reply() && !reply.is_page_note());
        assert_eq!(reply.reply_to(), Some(parent));
        assert_eq!(reply.note(), Some("I agree"));
        let json = serde_json::to_value(&reply).unwrap();
        assert_eq!(json["motivation"], "replying");
        assert_eq!(json["target"], serde_json::json!({"source": parent.to_urn()}));
        assert_eq!(serde_json::from_value::<Annotation>(json).unwrap(), reply);

        let mut by_iri = reply.clone();
        by_iri.target.source = format!("https://cairn.example/annotations/team/{}", parent.as_uuid());
        assert_eq!(by_iri.reply_to(), Some(parent));
        let mut bad = reply.clone();
        bad.target.source = "https://wiki.example/page".into();
        assert!(matches!(bad.validate(), Err(AnnotationError::BadParent(_))));
        let mut empty = reply.clone();
        empty.body.clear();
        assert_eq!(empty.validate(), Err(AnnotationError::EmptyNote));
        assert_eq!(sample().reply_to(), None);
    }

    #[test]
    fn a_page_note_has_no_selector_but_needs_a_note() {
        let id = AnnotationId::new_v7(1_795_442_966_123, [5; 10]);
        let note = Annotation::new_page_note(id, "https://wiki.example/p", "read this first", 1_795_442_966_123);
        note.validate().unwrap();
        assert!(note.is_page_note() && !note.is_reply() && !note.is_clip());
        assert_eq!(note.motivation, Some(Motivation::Commenting));
        let mut empty = note.clone();
        empty.set_note("");
        assert_eq!(empty.validate(), Err(AnnotationError::EmptyNote));
        // A highlight still needs its quote.
        let mut quoteless = sample();
        quoteless.target.selector.clear();
        assert_eq!(quoteless.validate(), Err(AnnotationError::EmptyNote));
        assert!(!sample().is_page_note());
    }

    #[test]
    fn empty_note_turns_back_into_a_highlight() {
        let mut a = sample();
        a.set_note("n");
        a.set_note("  ");
        assert_eq!(a.note(), None);
        assert_eq!(a.motivation, Some(Motivation::Highlighting));
    }
}
