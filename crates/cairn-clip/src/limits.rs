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
