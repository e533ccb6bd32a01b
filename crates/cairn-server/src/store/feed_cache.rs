//! What a community's feed shows at each position, kept in memory for the sync
//! pulls of both backends.
//!
//! A device pulling a feed reads what every other member's devices read too.
//! Reading those rows from the database for each pull, and writing each
//! annotation's JSON for each, was most of a pull's cost on both backends; from
//! here a position's annotation is served as one shared [`ServedAnnotation`]
//! with its written JSON ([`crate::wire::keep_wire_json`]).
//!
//! A feed read goes in two steps, so that each backend reads in its own way
//! (PostgreSQL: a round trip each; SQLite: both in one read transaction): the
//! backend reads the positions into a [`FeedCache::lookup`] (each found in the
//! cache or noted as missing, [`FeedLookup::position`]); it reads the missing
//! ones as they are now ([`ContentRow`]) and [`FeedLookup::finish`] builds the feed.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_protocol::api::{ChangeKind, UserInfo};

use crate::store::portable::{serve_row, Viewer};
use crate::store::{FeedRow, ServedAnnotation, StoreError};

/// Bytes of annotations the feed cache keeps: about 45,000 annotations of 1 KiB
/// with their written JSON. Every push adds positions, and a pull that misses the
/// cache costs the database a read of every row it missed.
const FEED_CACHE_BYTES: u64 = 128 << 20;

/// A feed position's content, which never changes: every write of an annotation
/// moves each of its live shares to a new position (`store::apply`), so while a
/// share is live at a position, the annotation is as that write left it; and a
/// tombstone's position stays a tombstone. Positions of removed shares are never
/// cached (what they show depends on later deletes).
///
/// Keyed by the community's id as a number (ids are UUIDs, `portable::new_id`),
/// so that a lookup hashes and compares 24 bytes in place instead of chasing a
/// string; a community whose id is not a UUID is never cached, so that no two
/// communities can share a key.
pub(crate) struct FeedCache(quick_cache::sync::Cache<(u128, i64), Arc<CachedPosition>, PositionWeight>);

/// A share of one of a feed's annotations as it is now, with the annotation and its
/// author: (seq, removed_at, annotation id, deleted_at, body_json, note_html,
/// author id, share_slugs, author's username, author's display name).
pub(crate) type ContentRow =
    (i64, Option<i64>, String, Option<i64>, Option<String>, Option<String>, String, Option<String>, String, String);

/// A live share's annotation as its position shows it: `None` for a tombstone.
struct CachedPosition {
    annotation_id: String,
    content: Option<CachedContent>,
}

pub(crate) struct CachedContent {
    /// The annotation as everyone who may know of all its shares sees it (its
    /// author, and members of every community it is shared with): nearly every
    /// reader of a feed. Served to them as it is, shared, never copied.
    everything: Arc<ServedAnnotation>,
    author_id: String,
    share_slugs: Option<String>,
}

impl CachedContent {
    pub(crate) fn of(
        id: &str,
        body_json: String,
        note_html: Option<String>,
        author: UserInfo,
        share_slugs: Option<String>,
    ) -> Result<CachedContent, StoreError> {
        let author_id = author.id.clone();
        let as_author = Viewer { id: &author_id, slugs: &[], authors: HashMap::from([(author_id.clone(), author)]) };
        let everything = serve_row(
            (id.to_string(), Some(body_json), note_html, author_id.clone(), share_slugs.clone()),
            &as_author,
        )?
        .ok_or_else(|| StoreError::Backend(format!("annotation {id} has no content")))?;
        crate::wire::keep_wire_json(&everything);
        Ok(CachedContent { everything: Arc::new(everything), author_id, share_slugs })
    }

    /// Whether `viewer` may see it: its author, or a member of a community it is shared with.
    pub(crate) fn visible_to(&self, viewer: &Viewer) -> bool {
        self.author_id == viewer.id
            || self
                .share_slugs
                .as_deref()
                .is_some_and(|list| list.split(' ').any(|s| !s.is_empty() && viewer.slugs.iter().any(|v| v == s)))
    }

    /// Bytes it keeps in memory, for the caches' weighers.
    pub(crate) fn weight(&self) -> u64 {
        let e = &self.everything;
        let written = e.wire_json.get().map_or(0, Vec::len);
        (written
            + e.annotation_json.len()
            + e.note_html.as_ref().map_or(0, String::len)
            + self.share_slugs.as_ref().map_or(0, String::len)) as u64
    }

    /// The annotation as `viewer` may see it.
    pub(crate) fn served_to(&self, viewer: &Viewer) -> Result<Arc<ServedAnnotation>, StoreError> {
        let knows_every_share = self.share_slugs.as_deref().is_some_and(|list| {
            self.author_id == viewer.id
                || list.split(' ').filter(|s| !s.is_empty()).all(|s| viewer.slugs.iter().any(|v| v == s))
        });
        if knows_every_share {
            return Ok(self.everything.clone());
        }
        let e = &self.everything;
        let row = (
            String::new(),
            Some(e.annotation_json.clone()),
            e.note_html.clone(),
            self.author_id.clone(),
            self.share_slugs.clone(),
        );
        let viewer = Viewer {
            id: viewer.id,
            slugs: viewer.slugs,
            authors: HashMap::from([(self.author_id.clone(), e.author.clone())]),
        };
        let served =
            serve_row(row, &viewer)?.ok_or_else(|| StoreError::Backend("a cached annotation has no content".into()))?;
        Ok(Arc::new(served))
    }
}

#[derive(Clone)]
struct PositionWeight;

impl quick_cache::Weighter<(u128, i64), Arc<CachedPosition>> for PositionWeight {
    fn weight(&self, _: &(u128, i64), position: &Arc<CachedPosition>) -> u64 {
        position.content.as_ref().map_or(0, CachedContent::weight) + 300
    }
}

/// What a feed read found for one position.
enum Slot {
    Cached(Arc<CachedPosition>),
    /// Not cached: the annotation's id, to read it as it is now.
    Missing(String),
}

/// A feed read between its two steps: the positions, and what the cache had of them.
pub(crate) struct FeedLookup<'c> {
    cache: &'c FeedCache,
    community_id: String,
    /// `community_id` as a cache key; `None` when it is not a UUID.
    key: Option<u128>,
    /// (seq, removed_at, what was found).
    positions: Vec<(i64, Option<i64>, Slot)>,
}

impl FeedCache {
    pub fn new() -> FeedCache {
        FeedCache(quick_cache::sync::Cache::with_weighter(45_000, FEED_CACHE_BYTES, PositionWeight))
    }

    /// Starts reading community `community_id`'s feed, for about `positions` positions.
    pub fn lookup(&self, community_id: String, positions: usize) -> FeedLookup<'_> {
        let key = uuid::Uuid::try_parse(&community_id).ok().map(|id| id.as_u128());
        FeedLookup { cache: self, community_id, key, positions: Vec::with_capacity(positions) }
    }
}

impl FeedLookup<'_> {
    pub fn community_id(&self) -> &str {
        &self.community_id
    }

    /// Looks up the position `seq` of annotation `annotation_id` (positions may
    /// come in any order); the id is copied only when the position is not cached.
    pub fn position(&mut self, seq: i64, annotation_id: &str, removed_at: Option<i64>) {
        let cached = match (self.key, removed_at) {
            (Some(key), None) => self.cache.0.get(&(key, seq)),
            _ => None,
        };
        let slot = match cached {
            Some(position) => Slot::Cached(position),
            None => Slot::Missing(annotation_id.to_string()),
        };
        self.positions.push((seq, removed_at, slot));
    }

    /// The annotations whose positions were not cached: the backend reads their
    /// shares in this community as they are now.
    pub fn missing(&self) -> Vec<&str> {
        self.positions
            .iter()
            .filter_map(|(_, _, slot)| match slot {
                Slot::Missing(id) => Some(id.as_str()),
                Slot::Cached(_) => None,
            })
            .collect()
    }

    /// The feed as `viewer` sees it, in position order, from the cache and `now`
    /// (the [`missing`] annotations' shares as they are now), caching what it read.
    ///
    /// A row written since the positions were read shows its newer state (the feed
    /// has it again further on) and is not cached: only a position's own content is.
    ///
    /// [`missing`]: FeedLookup::missing
    pub fn finish(mut self, now: Vec<ContentRow>, viewer: &Viewer) -> Result<Vec<FeedRow>, StoreError> {
        self.positions.sort_unstable_by_key(|(seq, ..)| *seq);
        let mut now: HashMap<String, ContentRow> = now.into_iter().map(|row| (row.2.clone(), row)).collect();
        let row = |seq: i64, id: String, kind: ChangeKind, annotation| FeedRow { seq, id, kind, annotation };
        let mut feed: Vec<FeedRow> = Vec::with_capacity(self.positions.len());
        for (seq, removed_at, slot) in self.positions {
            let position = match slot {
                Slot::Cached(position) => position,
                Slot::Missing(id) => {
                    // Gone (a community's shares go only with the community): nothing to show.
                    let Some((
                        now_seq,
                        now_removed,
                        _,
                        deleted_at,
                        body,
                        note,
                        author_id,
                        share_slugs,
                        username,
                        display_name,
                    )) = now.remove(&id)
                    else {
                        feed.push(row(seq, id, ChangeKind::Unshared, None));
                        continue;
                    };
                    let content = match (deleted_at, body) {
                        (Some(_), _) => None,
                        (None, Some(body_json)) if now_removed.is_none() => {
                            let author = UserInfo { id: author_id, username, display_name };
                            Some(CachedContent::of(&id, body_json, note, author, share_slugs)?)
                        }
                        // Unshared from this community (or no content): nothing to show.
                        (None, _) => {
                            feed.push(row(seq, id, ChangeKind::Unshared, None));
                            continue;
                        }
                    };
                    let position = Arc::new(CachedPosition { annotation_id: id, content });
                    if let (Some(key), true) =
                        (self.key, now_seq == seq && now_removed.is_none() && removed_at.is_none())
                    {
                        self.cache.0.insert((key, seq), position.clone());
                    }
                    position
                }
            };
            feed.push(match &position.content {
                None => row(seq, position.annotation_id.clone(), ChangeKind::Deleted, None),
                Some(c) => row(seq, position.annotation_id.clone(), ChangeKind::Upsert, Some(c.served_to(viewer)?)),
            });
        }
        Ok(feed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(seq: i64, id: &str, removed_at: Option<i64>, deleted_at: Option<i64>) -> ContentRow {
        let body = serde_json::json!({"id": id, "type": "Annotation", "target": "https://example.org/"}).to_string();
        let body = deleted_at.is_none().then_some(body);
        (
            seq,
            removed_at,
            id.into(),
            deleted_at,
            body,
            None,
            "u1".into(),
            Some("team".into()),
            "ann".into(),
            "Ann".into(),
        )
    }

    const COMMUNITY: &str = "52178c6b-25a9-46df-80f9-b8c42e8ebfd7";

    fn look_up<'c>(cache: &'c FeedCache, community: &str, positions: &[(i64, &str)]) -> FeedLookup<'c> {
        let mut lookup = cache.lookup(community.into(), positions.len());
        for (seq, id) in positions {
            lookup.position(*seq, id, None);
        }
        lookup
    }

    fn sorted(mut ids: Vec<&str>) -> Vec<&str> {
        ids.sort_unstable();
        ids
    }

    /// Only a position whose share is still live there is cached: a read that
    /// finds the annotation moved on, unshared or deleted serves what it found
    /// and asks the database again next time.
    #[test]
    fn only_positions_still_live_are_cached() {
        let cache = FeedCache::new();
        let slugs = vec!["team".to_string()];
        let viewer = Viewer { id: "u2", slugs: &slugs, authors: HashMap::new() };
        let positions = [(3, "moved"), (1, "live"), (2, "unshared"), (4, "deleted")];
        let lookup = look_up(&cache, COMMUNITY, &positions);
        assert_eq!(sorted(lookup.missing()), ["deleted", "live", "moved", "unshared"], "nothing cached yet");
        let now = vec![
            content(1, "live", None, None),
            content(2, "unshared", Some(99), None),
            content(9, "moved", None, None),
            content(4, "deleted", None, Some(98)),
        ];
        let feed = lookup.finish(now, &viewer).unwrap();
        let kinds: Vec<_> = feed.iter().map(|r| (r.seq, r.id.as_str(), r.kind)).collect();
        assert_eq!(
            kinds,
            [
                (1, "live", ChangeKind::Upsert),
                (2, "unshared", ChangeKind::Unshared),
                (3, "moved", ChangeKind::Upsert),
                (4, "deleted", ChangeKind::Deleted)
            ],
            "in position order"
        );
        let again = look_up(&cache, COMMUNITY, &positions);
        assert_eq!(sorted(again.missing()), ["moved", "unshared"], "the live and the deleted position are cached");
        let feed = again.finish(vec![content(2, "unshared", Some(99), None)], &viewer).unwrap();
        assert_eq!(feed.len(), 4);
        assert_eq!(feed[2].kind, ChangeKind::Unshared, "no share of it here any more: nothing to show");
        let other = look_up(&cache, "0c6ee3e3-5b7e-4a56-9f4c-1f0d8f1ad0c2", &positions);
        assert_eq!(other.missing().len(), 4, "another community's positions are its own");
    }

    /// A community whose id is not a UUID has no key of its own: it is read, never cached.
    #[test]
    fn communities_without_a_uuid_are_never_cached() {
        let cache = FeedCache::new();
        let slugs = vec!["team".to_string()];
        let viewer = Viewer { id: "u2", slugs: &slugs, authors: HashMap::new() };
        for _ in 0..2 {
            let lookup = look_up(&cache, "team", &[(1, "live")]);
            assert_eq!(lookup.missing(), ["live"]);
            let feed = lookup.finish(vec![content(1, "live", None, None)], &viewer).unwrap();
            assert_eq!(feed[0].kind, ChangeKind::Upsert);
        }
    }
}
