//! Facts about a record that the Library shows and filters on, derived from its annotation.

use cairn_model::{Annotation, Selector};
use cairn_sync::LocalRecord;
use serde::{Deserialize, Serialize};

/// What a record is, as the Library's kind filter names it. Kinds overlap the way users
/// talk about them: a note is also a highlight, and a URL-only clip with a note is also a
/// page note.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A passage of a page (has a quote), not a clip.
    Highlight,
    /// A highlight with a note.
    Note,
    /// A clip of any kind (motivation `bookmarking`).
    Clip,
    /// About the whole page: no selector at all, and a note.
    PageNote,
}

/// Whether `record` is of `kind` (see [`Kind`] for how kinds overlap).
pub fn kind_of(record: &LocalRecord, kind: Kind) -> bool {
    let a = &record.annotation;
    match kind {
        Kind::Highlight => !a.is_clip() && a.quote().is_some(),
        Kind::Note => !a.is_clip() && a.quote().is_some() && a.note().is_some(),
        Kind::Clip => a.is_clip(),
        Kind::PageNote => a.target.selector.is_empty() && a.note().is_some(),
    }
}

/// Where the passage starts in the page's text (code points), for document order.
pub fn position_of(annotation: &Annotation) -> Option<u64> {
    annotation.target.selector.iter().find_map(|s| match s {
        Selector::TextPositionSelector { start, .. } => Some(*start),
        _ => None,
    })
}

/// A clip's title, read from the `title:` of its front matter (clips are stored with the
/// front matter `cairn-clip` writes, one double-quoted YAML scalar per line).
pub fn clip_title(annotation: &Annotation) -> Option<String> {
    let rest = annotation.clip_markdown()?.strip_prefix("---\n")?;
    for line in rest.lines() {
        if line == "---" {
            break;
        }
        if let Some(value) = line.strip_prefix("title: ") {
            let title = unquote_yaml(value.trim());
            return (!title.trim().is_empty()).then_some(title);
        }
    }
    None
}

/// What the Library calls a record's page: its clip's title, else the page key.
pub fn page_title(record: &LocalRecord) -> String {
    clip_title(&record.annotation).unwrap_or_else(|| record.page_key.clone())
}

/// The Markdown of a clip without its front matter.
pub(crate) fn strip_front_matter(markdown: &str) -> &str {
    let Some(rest) = markdown.strip_prefix("---\n") else { return markdown };
    match rest.find("\n---\n") {
        Some(end) => rest[end + 5..].trim_start_matches('\n'),
        None => markdown,
    }
}

/// A YAML double-quoted scalar as `cairn-clip` writes it (plain scalars are returned as they are).
fn unquote_yaml(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else { return s.to_string() };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(c);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::{AnnotationId, ClipKind};

    #[test]
    fn a_clip_title_comes_from_its_front_matter() {
        let md = cairn_clip::front_matter(&cairn_clip::FrontMatter {
            title: "Runbook: \"deploys\" \u{1} ok".into(),
            source: "https://a.example/".into(),
            ..Default::default()
        }) + "# Body\n";
        let clip = Annotation::new_clip(
            AnnotationId::new_v7(1, [0; 10]),
            ClipKind::Article,
            "https://a.example/",
            vec![],
            &md,
            1,
        );
        assert_eq!(clip_title(&clip).as_deref(), Some("Runbook: \"deploys\" \u{1} ok"));
        assert_eq!(strip_front_matter(&md), "# Body\n");
        assert_eq!(strip_front_matter("no front matter"), "no front matter");
    }
}
