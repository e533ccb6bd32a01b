//! YAML front matter in the form Obsidian (and Logseq, Jekyll, Hugo) read.

use serde::{Deserialize, Serialize};

/// The properties a clip carries. Empty optional values are left out rather than written
/// as empty strings, so note apps do not show blank properties.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrontMatter {
    pub title: String,
    pub source: String,
    pub author: Option<String>,
    pub published: Option<String>,
    pub clipped: String,
    pub tags: Vec<String>,
    pub communities: Vec<String>,
}

/// Renders `---`-fenced YAML followed by a blank line.
///
/// Every string is double-quoted with YAML escapes, because page titles freely contain
/// `:`, `#`, `"`, leading `@` or `-`, or words like `yes` and `null` that plain YAML
/// scalars would misread.
pub fn front_matter(fm: &FrontMatter) -> String {
    let mut out = String::from("---\n");
    push_scalar(&mut out, "title", &fm.title);
    push_scalar(&mut out, "source", &fm.source);
    if let Some(a) = fm.author.as_deref().filter(|a| !a.trim().is_empty()) {
        push_scalar(&mut out, "author", a);
    }
    if let Some(p) = fm.published.as_deref().filter(|p| !p.trim().is_empty()) {
        push_scalar(&mut out, "published", p);
    }
    if !fm.clipped.trim().is_empty() {
        push_scalar(&mut out, "clipped", &fm.clipped);
    }
    push_list(&mut out, "tags", &fm.tags);
    push_list(&mut out, "communities", &fm.communities);
    out.push_str("---\n\n");
    out
}

fn push_scalar(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str(": ");
    out.push_str(&yaml_quote(value.trim()));
    out.push('\n');
}

fn push_list(out: &mut String, key: &str, values: &[String]) {
    let values: Vec<&str> = values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
    out.push_str(key);
    if values.is_empty() {
        out.push_str(": []\n");
        return;
    }
    out.push_str(":\n");
    for v in values {
        out.push_str("  - ");
        out.push_str(&yaml_quote(v));
        out.push('\n');
    }
}

/// A YAML double-quoted scalar.
pub(crate) fn yaml_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Other control characters, and the line/paragraph separators YAML treats as
            // line breaks, must be escaped to stay inside the scalar.
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
