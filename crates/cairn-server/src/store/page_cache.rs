//! The annotations of page lookups, kept in memory for both backends.
//!
//! A page lookup runs every time a member opens a page, and the same pages are
//! opened again and again. The lookup reads which annotations the viewer may see
//! on the page, each with its version, and serves each version from memory:
//! shared, already written ([`crate::wire::keep_wire_json`]), read from the
//! database only the first time anyone looks it up. As with the feed cache, the
//! backend reads in two steps ([`PageCache::lookup`], then the missing versions as
//! they are now, then [`PageLookup::finish`]).

use std::collections::HashMap;
use std::sync::Arc;

use cairn_protocol::api::UserInfo;

use crate::store::feed_cache::CachedContent;
use crate::store::portable::Viewer;
use crate::store::{ServedAnnotation, StoreError};

/// Bytes of annotations the page cache keeps: about 20,000 annotations of 1 KiB
/// with their written JSON.
const PAGE_CACHE_BYTES: u64 = 48 << 20;

/// An annotation's content at one version, which never changes: every write of an
/// annotation (`store::apply`) takes the next position of its author's own feed
/// (`author_seq`), so (annotation, `author_seq`) names one state of it, content and
/// shares alike. Keyed by the annotation's UUID as a number; an annotation whose
/// id is not a `urn:uuid:` or that has no `author_seq` (written before there were
/// any) is never cached.
pub(crate) struct PageCache(quick_cache::sync::Cache<(u128, i64), Arc<CachedContent>, ContentWeight>);

/// An annotation as it is now, read for a page lookup: (id, author_seq, deleted_at,
/// body_json, note_html, author id, share_slugs, author's username, author's display name).
pub(crate) type PageContentRow =
    (String, Option<i64>, Option<i64>, Option<String>, Option<String>, String, Option<String>, String, String);

#[derive(Clone)]
struct ContentWeight;

impl quick_cache::Weighter<(u128, i64), Arc<CachedContent>> for ContentWeight {
    fn weight(&self, _: &(u128, i64), content: &Arc<CachedContent>) -> u64 {
        content.weight() + 200
    }
}

fn key_of(annotation_id: &str, version: Option<i64>) -> Option<(u128, i64)> {
    let uuid = uuid::Uuid::try_parse(annotation_id.strip_prefix("urn:uuid:")?).ok()?;
    Some((uuid.as_u128(), version?))
}

enum Slot {
    Cached(Arc<CachedContent>),
    Missing,
}

/// A page lookup between its two steps: the annotations listed, in order, and
/// what the cache had of them.
pub(crate) struct PageLookup<'c> {
    cache: &'c PageCache,
    /// (id, version listed, what was found).
    listed: Vec<(String, Option<i64>, Slot)>,
}

impl PageCache {
    pub fn new() -> PageCache {
        PageCache(quick_cache::sync::Cache::with_weighter(20_000, PAGE_CACHE_BYTES, ContentWeight))
    }

    pub fn lookup(&self) -> PageLookup<'_> {
        PageLookup { cache: self, listed: Vec::new() }
    }
}

impl PageLookup<'_> {
    /// Looks up annotation `id` at version `version`, as the page lists it (in the
    /// order the page shows them).
    pub fn annotation(&mut self, id: String, version: Option<i64>) {
        let slot = match key_of(&id, version).and_then(|key| self.cache.0.get(&key)) {
            Some(content) => Slot::Cached(content),
            None => Slot::Missing,
        };
        self.listed.push((id, version, slot));
    }

    /// The annotations not cached: the backend reads them as they are now.
    pub fn missing(&self) -> Vec<&str> {
        self.listed.iter().filter(|(_, _, slot)| matches!(slot, Slot::Missing)).map(|(id, ..)| id.as_str()).collect()
    }

    /// The page as `viewer` sees it, from the cache and `now` (the [`missing`]
    /// annotations as they are now), caching what it read.
    ///
    /// An annotation written after the page was listed (PostgreSQL reads the two
    /// steps in two snapshots) is shown as it is now only if the viewer may still
    /// see it and it is not deleted: the listing checked the version it listed.
    ///
    /// [`missing`]: PageLookup::missing
    pub fn finish(self, now: Vec<PageContentRow>, viewer: &Viewer) -> Result<Vec<Arc<ServedAnnotation>>, StoreError> {
        let mut now: HashMap<String, PageContentRow> = now.into_iter().map(|row| (row.0.clone(), row)).collect();
        let mut page = Vec::with_capacity(self.listed.len());
        for (id, listed_version, slot) in self.listed {
            let content = match slot {
                Slot::Cached(content) => content,
                Slot::Missing => {
                    let Some((_, version, deleted_at, body, note, author_id, share_slugs, username, display_name)) =
                        now.remove(&id)
                    else {
                        continue;
                    };
                    let (None, Some(body_json)) = (deleted_at, body) else { continue };
                    let author = UserInfo { id: author_id, username, display_name };
                    let content = Arc::new(CachedContent::of(&id, body_json, note, author, share_slugs)?);
                    if version != listed_version && !content.visible_to(viewer) {
                        continue;
                    }
                    if let Some(key) = key_of(&id, version) {
                        self.cache.0.insert(key, content.clone());
                    }
                    content
                }
            };
            page.push(content.served_to(viewer)?);
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "urn:uuid:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    const OTHER: &str = "urn:uuid:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";

    fn now(id: &str, version: i64, shares: &str, deleted: bool) -> PageContentRow {
        let annotation = cairn_model::Annotation::new_highlight(
            id.parse().unwrap(),
            "https://example.org/",
            vec![cairn_model::Selector::TextQuoteSelector { exact: "words".into(), prefix: None, suffix: None }],
            cairn_model::Color::Yellow,
            1,
        );
        let body = serde_json::to_string(&annotation).unwrap();
        let deleted_at = deleted.then_some(5);
        (
            id.into(),
            Some(version),
            deleted_at,
            Some(body),
            None,
            "u1".into(),
            Some(shares.into()),
            "ann".into(),
            "Ann".into(),
        )
    }

    fn look_up<'c>(cache: &'c PageCache, listed: &[(&str, i64)]) -> PageLookup<'c> {
        let mut lookup = cache.lookup();
        for (id, version) in listed {
            lookup.annotation(id.to_string(), Some(*version));
        }
        lookup
    }

    /// A version read once is served from memory after; a newer version is read again.
    #[test]
    fn each_version_is_read_once() {
        let cache = PageCache::new();
        let slugs = vec!["team".to_string()];
        let viewer = Viewer { id: "u2", slugs: &slugs, authors: HashMap::new() };
        let lookup = look_up(&cache, &[(ID, 3), (OTHER, 4)]);
        assert_eq!(lookup.missing(), [ID, OTHER]);
        let page = lookup.finish(vec![now(OTHER, 4, "team", false), now(ID, 3, "team", false)], &viewer).unwrap();
        assert_eq!(page.len(), 2, "in the order listed");
        assert!(page[0].annotation_json.contains(ID));
        assert!(look_up(&cache, &[(ID, 3), (OTHER, 4)]).missing().is_empty());
        assert_eq!(look_up(&cache, &[(ID, 5)]).missing(), [ID], "a new version is another key");
        let mut unkeyed = cache.lookup();
        unkeyed.annotation("not-a-urn".into(), Some(3));
        unkeyed.annotation(ID.into(), None);
        assert_eq!(unkeyed.missing().len(), 2, "no UUID or no version: never cached");
    }

    /// Written between the listing and the read (two snapshots on PostgreSQL): the
    /// newer state is shown only when the viewer may still see it.
    #[test]
    fn a_version_written_since_the_listing_is_checked_again() {
        let cache = PageCache::new();
        let slugs = vec!["team".to_string()];
        let viewer = Viewer { id: "u2", slugs: &slugs, authors: HashMap::new() };
        let page = look_up(&cache, &[(ID, 3)]).finish(vec![now(ID, 4, "other-team", false)], &viewer).unwrap();
        assert!(page.is_empty(), "unshared from the viewer's community since");
        let page = look_up(&cache, &[(ID, 3)]).finish(vec![now(ID, 4, "team", true)], &viewer).unwrap();
        assert!(page.is_empty(), "deleted since");
        let page = look_up(&cache, &[(ID, 3)]).finish(vec![now(ID, 4, "team other-team", false)], &viewer).unwrap();
        assert_eq!(page.len(), 1, "still shared with the viewer");
        assert_eq!(page[0].communities, ["team"], "and only the viewer's communities are named");
        let page = look_up(&cache, &[(ID, 3)]).finish(Vec::new(), &viewer).unwrap();
        assert!(page.is_empty(), "gone");
    }
}
