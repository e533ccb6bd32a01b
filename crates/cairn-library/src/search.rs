//! Search as you type over a user's annotations.
//!
//! [`Index`] is an inverted index kept in memory beside the records: [`Index::upsert`] and
//! [`Index::remove`] touch only the postings of the one record that changed, so the Library
//! stays in step with edits and synced changes without a rebuild.
//!
//! A query is words; a record matches when it has every word (in any field), the last word
//! also as a prefix while the user is still typing it (no space after it yet).
//! Ranking is BM25 per field with field weights: what the user marked (the quote) and what
//! names the page (title or URL) count most, then their own notes and tags, then a clip's
//! body, which is long and mostly the page's words; ties go to the newest record.
//! Words are compared folded ([`crate::fold`]): case and diacritics do not matter.
//!
//! [`linear_scan`] answers the same query by reading every record: it is the reference the
//! index is tested against and benchmarked against, and must give the same hits in the same
//! order.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::{Bound, Range};

use cairn_model::{Color, PageKey};
use cairn_sync::LocalRecord;
use serde::{Deserialize, Serialize};

use crate::page::{kind_of, page_title, strip_front_matter, Kind};
use crate::text::{fold, tokens};

/// The fields a record is searched in, in the order postings are written.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// A clip's title, else the page key (the URL without tracking parameters).
    Title,
    Quote,
    Note,
    Tags,
    /// A clip's Markdown, without its front matter (which repeats the title and URL).
    Clip,
}

const FIELDS: [Field; 5] = [Field::Title, Field::Quote, Field::Note, Field::Tags, Field::Clip];

impl Field {
    fn weight(self) -> f64 {
        match self {
            Field::Title | Field::Quote => 3.0,
            Field::Note | Field::Tags => 2.0,
            Field::Clip => 1.0,
        }
    }
}

/// BM25's usual constants: term-frequency saturation and length normalization.
const K1: f64 = 1.2;
const B: f64 = 0.75;
/// A word that only starts with the typed prefix counts less than the word itself.
const PREFIX_FACTOR: f64 = 0.5;
/// Words per query that count; more is pasted text, not typing.
const MAX_QUERY_WORDS: usize = 32;

/// Whose annotations to show.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Me,
    Teammates,
    /// One teammate, by display name.
    Teammate(String),
}

/// Which site: a page origin (`https://wiki.example`) or a tool that `PageKey` knows
/// (`confluence`, `jira`, `sharepoint`, `github-gitlab`, `mediawiki`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    Origin(String),
    Tool(String),
}

/// What the Library's filters narrow the list to; every field set must hold.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Filter {
    /// Records carrying every one of these tags (compared folded).
    pub tags: Vec<String>,
    /// Shared with this community (slug).
    pub community: Option<String>,
    pub site: Option<Site>,
    pub author: Option<Author>,
    pub color: Option<Color>,
    pub kind: Option<Kind>,
    /// Only the annotations whose text was not found the last time their page was read.
    pub orphans_only: bool,
    /// Created at or after this time (unix ms).
    pub from_ms: Option<i64>,
    /// Created before this time (unix ms).
    pub until_ms: Option<i64>,
}

/// Where a hit matched, for the UI to mark: byte ranges into the field's text as
/// [`field_text`] gives it, and for tags the indices of the matching tags.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    pub title: Vec<Range<usize>>,
    pub quote: Vec<Range<usize>>,
    pub note: Vec<Range<usize>>,
    pub clip: Vec<Range<usize>>,
    pub tags: Vec<usize>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: String,
    /// Higher is better; 0 for every record when the query has no words.
    pub score: f64,
    pub marks: Marks,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Results {
    /// The best `limit` hits, best first.
    pub hits: Vec<Hit>,
    /// How many records match in all.
    pub total: usize,
}

/// The text of one field of a record, as searched and as [`Marks`] count bytes in.
/// For [`Field::Tags`] it is the tags joined by single spaces; marks name tags by index.
pub fn field_text(record: &LocalRecord, field: Field) -> Cow<'_, str> {
    let a = &record.annotation;
    match field {
        Field::Title => Cow::Owned(page_title(record)),
        Field::Quote => Cow::Borrowed(a.quote().unwrap_or("")),
        Field::Note => Cow::Borrowed(a.note().unwrap_or("")),
        Field::Tags => Cow::Owned(a.tags().join(" ")),
        Field::Clip => Cow::Borrowed(a.clip_markdown().map(strip_front_matter).unwrap_or("")),
    }
}

/// The query's words, folded, and whether the last one is still being typed.
struct Terms {
    words: Vec<String>,
    last_is_prefix: bool,
}

impl Terms {
    fn parse(text: &str) -> Terms {
        let mut words: Vec<String> = tokens(text).into_iter().map(|t| t.folded).collect();
        words.truncate(MAX_QUERY_WORDS);
        let last_is_prefix = text.chars().last().is_some_and(char::is_alphanumeric);
        Terms { words, last_is_prefix }
    }

    fn is_prefix(&self, i: usize) -> bool {
        self.last_is_prefix && i + 1 == self.words.len()
    }

    /// Whether a record's word `term` answers query word `i`, and with what factor.
    fn factor(&self, i: usize, term: &str) -> Option<f64> {
        let word = &self.words[i];
        if term == word {
            Some(1.0)
        } else if self.is_prefix(i) && term.starts_with(word.as_str()) {
            Some(PREFIX_FACTOR)
        } else {
            None
        }
    }
}

/// What the filters need about a record, computed once when it is indexed.
struct Facts {
    origin: String,
    tool: Option<&'static str>,
    tags: Vec<String>,
}

impl Facts {
    fn of(record: &LocalRecord) -> Facts {
        let origin = PageKey::from_url(&record.page_key).map(|k| k.origin()).unwrap_or_default();
        Facts {
            origin,
            tool: PageKey::tool_rule(&record.annotation.target.source),
            tags: record.annotation.tags().into_iter().map(fold).collect(),
        }
    }
}

fn passes(filter: &Filter, record: &LocalRecord, facts: &Facts) -> bool {
    let a = &record.annotation;
    filter.tags.iter().all(|t| facts.tags.contains(&fold(t)))
        && filter.community.as_ref().is_none_or(|c| record.communities.contains(c))
        && filter.site.as_ref().is_none_or(|s| match s {
            Site::Origin(o) => facts.origin.eq_ignore_ascii_case(o.trim_end_matches('/')),
            Site::Tool(t) => facts.tool == Some(t.as_str()),
        })
        && filter.author.as_ref().is_none_or(|who| match who {
            Author::Me => record.teammate.is_none(),
            Author::Teammates => record.teammate.is_some(),
            Author::Teammate(name) => record.teammate.as_deref() == Some(name.as_str()),
        })
        && filter.color.is_none_or(|c| !a.is_clip() && a.color() == c)
        && filter.kind.is_none_or(|k| kind_of(record, k))
        && (!filter.orphans_only || record.orphan)
        && filter.from_ms.is_none_or(|t| record.created_ms >= t)
        && filter.until_ms.is_none_or(|t| record.created_ms < t)
}

/// Term frequencies of one record, field by field, and each field's length in words.
fn field_terms(record: &LocalRecord) -> [(BTreeMap<String, u32>, u32); 5] {
    FIELDS.map(|field| {
        let mut counts = BTreeMap::new();
        let words = tokens(&field_text(record, field));
        for t in &words {
            *counts.entry(t.folded.clone()).or_insert(0) += 1;
        }
        (counts, words.len() as u32)
    })
}

/// The statistics BM25 needs about the whole collection.
struct Stats {
    docs: usize,
    total_len: [u64; 5],
}

impl Stats {
    fn idf(&self, df: usize) -> f64 {
        let n = self.docs as f64;
        let df = df as f64;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn score(&self, idf: f64, field: usize, tf: u32, len: u32) -> f64 {
        let avg = (self.total_len[field] as f64 / self.docs.max(1) as f64).max(1.0);
        let tf = f64::from(tf);
        idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * f64::from(len) / avg)) * FIELDS[field].weight()
    }
}

/// Newest first when scores tie; the id keeps the order total.
fn rank(hits: &mut [(f64, &LocalRecord)]) {
    hits.sort_by(|a, b| {
        b.0.total_cmp(&a.0).then(b.1.created_ms.cmp(&a.1.created_ms)).then_with(|| a.1.id.cmp(&b.1.id))
    });
}

fn results(mut hits: Vec<(f64, &LocalRecord)>, terms: &Terms, limit: usize) -> Results {
    rank(&mut hits);
    let total = hits.len();
    let hits = hits
        .into_iter()
        .take(limit)
        .map(|(score, r)| Hit { id: r.id.clone(), score, marks: marks(r, terms) })
        .collect();
    Results { hits, total }
}

fn marks(record: &LocalRecord, terms: &Terms) -> Marks {
    let hit = |folded: &str| (0..terms.words.len()).any(|i| terms.factor(i, folded).is_some());
    let ranges = |field| -> Vec<Range<usize>> {
        tokens(&field_text(record, field)).into_iter().filter(|t| hit(&t.folded)).map(|t| t.range).collect()
    };
    let tags = record
        .annotation
        .tags()
        .iter()
        .enumerate()
        .filter(|(_, tag)| tokens(tag).iter().any(|t| hit(&t.folded)))
        .map(|(i, _)| i)
        .collect();
    Marks {
        title: ranges(Field::Title),
        quote: ranges(Field::Quote),
        note: ranges(Field::Note),
        clip: ranges(Field::Clip),
        tags,
    }
}

struct Doc {
    record: LocalRecord,
    facts: Facts,
    /// Its distinct words, to find its postings again on removal.
    terms: Vec<String>,
    lens: [u32; 5],
}

#[derive(Clone, Copy)]
struct Posting {
    slot: u32,
    field: u8,
    tf: u32,
}

#[derive(Default)]
struct Postings {
    /// How many records have the word (in any field).
    docs: usize,
    /// Grouped by record, in field order within a record.
    list: Vec<Posting>,
}

/// The search index: records by id, and for each folded word, where it occurs.
#[derive(Default)]
pub struct Index {
    docs: Vec<Option<Doc>>,
    free: Vec<u32>,
    by_id: HashMap<String, u32>,
    words: BTreeMap<String, Postings>,
    stats_len: [u64; 5],
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    /// An index of `records` (later ones with the same id replace earlier ones).
    pub fn from_records(records: impl IntoIterator<Item = LocalRecord>) -> Index {
        let mut index = Index::new();
        for r in records {
            index.upsert(r);
        }
        index
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every record in the index, in no particular order.
    pub fn records(&self) -> impl Iterator<Item = &LocalRecord> {
        self.docs.iter().flatten().map(|d| &d.record)
    }

    pub fn get(&self, id: &str) -> Option<&LocalRecord> {
        self.by_id.get(id).and_then(|&slot| self.docs[slot as usize].as_ref()).map(|d| &d.record)
    }

    /// Adds a record, or replaces the one with its id: only that record's words are touched.
    pub fn upsert(&mut self, record: LocalRecord) {
        self.remove(&record.id);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.docs.push(None);
                (self.docs.len() - 1) as u32
            }
        };
        let mut terms = HashSet::new();
        let mut lens = [0; 5];
        for (field, (counts, len)) in field_terms(&record).into_iter().enumerate() {
            lens[field] = len;
            self.stats_len[field] += u64::from(len);
            for (word, tf) in counts {
                let postings = self.words.entry(word.clone()).or_default();
                if terms.insert(word) {
                    postings.docs += 1;
                }
                postings.list.push(Posting { slot, field: field as u8, tf });
            }
        }
        let facts = Facts::of(&record);
        self.by_id.insert(record.id.clone(), slot);
        self.docs[slot as usize] = Some(Doc { record, facts, terms: terms.into_iter().collect(), lens });
    }

    /// Removes the record with this id, if any, and returns it.
    pub fn remove(&mut self, id: &str) -> Option<LocalRecord> {
        let slot = self.by_id.remove(id)?;
        let doc = self.docs[slot as usize].take()?;
        for word in &doc.terms {
            if let Some(postings) = self.words.get_mut(word) {
                postings.list.retain(|p| p.slot != slot);
                postings.docs -= 1;
                if postings.list.is_empty() {
                    self.words.remove(word);
                }
            }
        }
        for (total, len) in self.stats_len.iter_mut().zip(doc.lens) {
            *total -= u64::from(len);
        }
        self.free.push(slot);
        Some(doc.record)
    }

    /// The records matching `query` and `filter`, best first, at most `limit` of them with
    /// their marks. An empty query lists every record the filter lets through, newest first.
    pub fn search(&self, query: &str, filter: &Filter, limit: usize) -> Results {
        let terms = Terms::parse(query);
        let stats = Stats { docs: self.len(), total_len: self.stats_len };
        let doc = |slot: u32| self.docs[slot as usize].as_ref();
        if terms.words.is_empty() {
            let hits = self.docs.iter().flatten().filter(|d| passes(filter, &d.record, &d.facts));
            return results(hits.map(|d| (0.0, &d.record)).collect(), &terms, limit);
        }
        // slot -> (score, how many query words it has matched so far)
        let mut acc: HashMap<u32, (f64, usize)> = HashMap::new();
        for i in 0..terms.words.len() {
            let word = terms.words[i].as_str();
            let expansions: Box<dyn Iterator<Item = (&String, &Postings)>> = if terms.is_prefix(i) {
                Box::new(
                    self.words
                        .range::<str, _>((Bound::Included(word), Bound::Unbounded))
                        .take_while(move |(w, _)| w.starts_with(word)),
                )
            } else {
                Box::new(self.words.get_key_value(word).into_iter())
            };
            for (w, postings) in expansions {
                let idf = stats.idf(postings.docs);
                let factor = terms.factor(i, w).unwrap_or(0.0);
                for p in &postings.list {
                    // Every word must match: after the first, only records still in the running count.
                    let entry = if i == 0 {
                        acc.entry(p.slot).or_insert((0.0, 0))
                    } else {
                        match acc.get_mut(&p.slot) {
                            Some(e) if e.1 >= i => e,
                            _ => continue,
                        }
                    };
                    let Some(d) = doc(p.slot) else { continue };
                    let field = usize::from(p.field);
                    entry.0 += factor * stats.score(idf, field, p.tf, d.lens[field]);
                    entry.1 = i + 1;
                }
            }
        }
        let hits = acc
            .into_iter()
            .filter(|(_, (_, matched))| *matched == terms.words.len())
            .filter_map(|(slot, (score, _))| doc(slot).map(|d| (score, d)))
            .filter(|(_, d)| passes(filter, &d.record, &d.facts))
            .map(|(score, d)| (score, &d.record))
            .collect();
        results(hits, &terms, limit)
    }
}

/// The same answer as [`Index::search`], found by reading every record: the reference for
/// tests and benchmarks. It scores in the same order of additions as the index, so equal
/// inputs give bit-equal scores.
pub fn linear_scan(records: &[LocalRecord], query: &str, filter: &Filter, limit: usize) -> Results {
    let terms = Terms::parse(query);
    let all: Vec<_> = records.iter().map(field_terms).collect();
    let mut stats = Stats { docs: records.len(), total_len: [0; 5] };
    let mut df: HashMap<&str, usize> = HashMap::new();
    for fields in &all {
        let mut seen = HashSet::new();
        for (field, (counts, len)) in fields.iter().enumerate() {
            stats.total_len[field] += u64::from(*len);
            for word in counts.keys() {
                if seen.insert(word.as_str()) {
                    *df.entry(word.as_str()).or_insert(0) += 1;
                }
            }
        }
    }
    let mut hits = Vec::new();
    for (record, fields) in records.iter().zip(&all) {
        if !passes(filter, record, &Facts::of(record)) {
            continue;
        }
        let mut score = 0.0;
        let mut all_matched = true;
        for i in 0..terms.words.len() {
            // This record's words answering query word i, in sorted order, as the index visits them.
            let mut matching: Vec<&String> =
                fields.iter().flat_map(|(c, _)| c.keys()).filter(|w| terms.factor(i, w).is_some()).collect();
            matching.sort();
            matching.dedup();
            all_matched &= !matching.is_empty();
            for w in matching {
                let idf = stats.idf(df[w.as_str()]);
                let factor = terms.factor(i, w).unwrap_or(0.0);
                for (field, (counts, len)) in fields.iter().enumerate() {
                    if let Some(&tf) = counts.get(w) {
                        score += factor * stats.score(idf, field, tf, *len);
                    }
                }
            }
        }
        if all_matched {
            hits.push((score, record));
        }
    }
    results(hits, &terms, limit)
}
