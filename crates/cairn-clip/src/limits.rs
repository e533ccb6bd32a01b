//! Bounds on hostile input, checked before any library code that may recurse sees the
//! tree.

use dom_query::NodeRef;

use crate::ClipError;

/// Deepest element nesting accepted. Real pages stay below ~60; Readability-style scoring
/// and the HTML serializer in our dependencies recurse over the tree, and a stack overflow
/// on wasm aborts the extension worker, so deeper trees are refused with
/// [`ClipError::TooDeep`].
pub const MAX_DEPTH: usize = 512;

pub(crate) fn check_size(html: &str, limit: usize) -> Result<(), ClipError> {
    if html.len() > limit {
        return Err(ClipError::TooLarge { bytes: html.len(), limit });
    }
    Ok(())
}

/// Walks the tree with an explicit stack and fails on the first node deeper than
/// [`MAX_DEPTH`].
pub(crate) fn check_depth(root: &NodeRef) -> Result<(), ClipError> {
    let mut stack: Vec<(NodeRef, usize)> = vec![(*root, 0)];
    let mut deepest = 0;
    while let Some((node, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        if depth > MAX_DEPTH {
            return Err(ClipError::TooDeep { depth: deepest, limit: MAX_DEPTH });
        }
        stack.extend(node.children_it(false).filter(|c| c.is_element()).map(|c| (c, depth + 1)));
    }
    Ok(())
}

/// Nesting the markup scan accepts before parsing; looser than [`MAX_DEPTH`] because the
/// scan does not know every implied end tag.
const MARKUP_DEPTH_LIMIT: usize = 2 * MAX_DEPTH;

/// Estimates nesting from the raw markup, before parsing.
///
/// html5ever checks element scopes by walking the stack of open elements, so parsing
/// 100k nested `<div>`s is quadratic; this linear scan refuses such input first.
/// Browsers cap depth the same way (Chromium's parser stops nesting at 512), so the live
/// DOM the extension serializes is never this deep; the check guards saved files.
pub(crate) fn check_markup_depth(html: &str) -> Result<(), ClipError> {
    let bytes = html.as_bytes();
    let mut depth: usize = 0;
    let mut i = 0;
    while let Some(off) = memchr_lt(&bytes[i..]) {
        i += off + 1;
        let Some(&next) = bytes.get(i) else { break };
        if next == b'!' {
            // Comments and doctypes hold no elements.
            i = find(bytes, i, b"-->").or_else(|| find(bytes, i, b">")).unwrap_or(bytes.len());
            continue;
        }
        let closing = next == b'/';
        let start = if closing { i + 1 } else { i };
        let name_len = bytes[start..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        if name_len == 0 {
            continue;
        }
        let name = html[start..start + name_len].to_ascii_lowercase();
        let end = find(bytes, start, b">").unwrap_or(bytes.len());
        let self_closing = end > 0 && bytes.get(end - 1) == Some(&b'/');
        i = end.min(bytes.len());
        if implied_or_void(&name) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
            continue;
        }
        if matches!(name.as_str(), "script" | "style" | "textarea" | "title" | "xmp" | "plaintext") {
            // Raw text: tags inside are not elements.
            let close = format!("</{name}");
            i = find_ci(html, i, &close).unwrap_or(bytes.len());
            continue;
        }
        if !self_closing {
            depth += 1;
            if depth > MARKUP_DEPTH_LIMIT {
                return Err(ClipError::TooDeep { depth, limit: MAX_DEPTH });
            }
        }
    }
    Ok(())
}

/// Void elements and those whose end tag may be left out (`<p>`, `<li>`, …): not counted.
fn implied_or_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "source"
            | "track"
            | "wbr"
            | "param"
            | "keygen"
            | "command"
            | "p"
            | "li"
            | "dt"
            | "dd"
            | "tr"
            | "td"
            | "th"
            | "option"
            | "optgroup"
            | "thead"
            | "tbody"
            | "tfoot"
            | "colgroup"
            | "rb"
            | "rt"
            | "rp"
            | "rtc"
            | "html"
            | "head"
            | "body"
            | "caption"
    )
}

fn memchr_lt(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'<')
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| from + p + needle.len() - 1)
}

fn find_ci(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if from >= h.len() {
        return None;
    }
    h[from..].windows(n.len()).position(|w| w.eq_ignore_ascii_case(n)).map(|p| from + p)
}
