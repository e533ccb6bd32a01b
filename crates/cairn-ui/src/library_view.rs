//! What the Library page shows, as pure functions of the index and the query:
//! the hits grouped by page (a page's place is its best hit's), each page's items
//! in the order they stand on the page, and the text cut where the matches are
//! marked. No UI code: tested natively.

use cairn_library::search::{Filter, Hit, Index, Marks};
use cairn_library::{page_title, position_of, Kind, LocalRecord};
use std::collections::HashMap;
use std::ops::Range;

/// How many items the Library shows at once; the count says how many more match.
pub const SHOWN: usize = 300;

/// One page of the Library: its title, address and the items kept on it.
#[derive(Clone, Debug, PartialEq)]
pub struct PageGroup {
    pub page_key: String,
    pub title: String,
    /// The page's address, as the annotation targets it.
    pub url: String,
    /// The newest item's time (unix ms).
    pub newest_ms: i64,
    /// The hits on this page, in the order they stand on the page (notes on the
    /// whole page and clips first, orphans last).
    pub items: Vec<Hit>,
}

/// The Library as filtered and searched: pages in order (by best hit with a
/// query, newest first without), and how many items match in all. `titles` are
/// the page titles the reading trail saw, by page key.
pub fn grouped(
    index: &Index,
    query: &str,
    filter: &Filter,
    titles: &HashMap<String, String>,
) -> (Vec<PageGroup>, usize) {
    let results = index.search(query, filter, SHOWN);
    let mut groups: Vec<PageGroup> = Vec::new();
    for hit in results.hits {
        let Some(record) = index.get(&hit.id) else { continue };
        match groups.iter_mut().find(|g| g.page_key == record.page_key) {
            Some(g) => {
                g.newest_ms = g.newest_ms.max(record.created_ms);
                g.items.push(hit);
            }
            None => groups.push(PageGroup {
                page_key: record.page_key.clone(),
                title: page_title(record),
                url: record.annotation.target.source.clone(),
                newest_ms: record.created_ms,
                items: vec![hit],
            }),
        }
    }
    for g in &mut groups {
        // A clip names the page better than its URL does, and so does the title the trail
        // saw; a bare URL reads better without its scheme.
        match g.items.iter().filter_map(|h| index.get(&h.id)).find(|r| r.annotation.is_clip()) {
            Some(clip) => g.title = page_title(clip),
            None => match titles.get(&g.page_key) {
                Some(t) => g.title = t.clone(),
                None => g.title = without_scheme(&g.title).to_string(),
            },
        }
        g.items.sort_by_key(|h| {
            let r = index.get(&h.id);
            let place = r.and_then(|r| position_of(&r.annotation));
            (r.is_some_and(|r| r.orphan), place.is_some(), place.unwrap_or(0))
        });
    }
    if query.trim().is_empty() {
        groups.sort_by_key(|g| std::cmp::Reverse(g.newest_ms));
    }
    (groups, results.total)
}

/// `https://wiki.example/a` as `wiki.example/a`.
pub fn without_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

/// `text` cut into pieces, each marked or not, at the byte ranges `marks` gives
/// (ranges out of order, overlapping or off a character boundary are mended).
pub fn marked(text: &str, marks: &[Range<usize>]) -> Vec<(String, bool)> {
    let mut ranges: Vec<Range<usize>> = marks
        .iter()
        .map(|r| r.start.min(text.len())..r.end.min(text.len()))
        .filter(|r| r.start < r.end && text.is_char_boundary(r.start) && text.is_char_boundary(r.end))
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut out = Vec::new();
    let mut at = 0;
    for r in ranges {
        let start = r.start.max(at);
        if start >= r.end {
            continue;
        }
        if start > at {
            out.push((text[at..start].to_string(), false));
        }
        out.push((text[start..r.end].to_string(), true));
        at = r.end;
    }
    if at < text.len() {
        out.push((text[at..].to_string(), false));
    }
    out
}

/// The text around the first mark, at most `max` characters, so that a long
/// clip's match is shown with its context rather than the clip's first lines.
pub fn excerpt(text: &str, marks: &[Range<usize>], max: usize) -> (String, Vec<Range<usize>>) {
    if text.chars().count() <= max {
        return (text.to_string(), marks.to_vec());
    }
    let first = marks.iter().map(|r| r.start).min().unwrap_or(0).min(text.len());
    // Start a little before the first match, on a character boundary.
    let mut start = text[..first].char_indices().rev().nth(max / 4).map_or(0, |(i, _)| i);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    // From the start of the match's line, when it begins within reach: lines above
    // it would push the match out of a short preview.
    if let Some(nl) = text[start..first].rfind('\n') {
        start += nl + 1;
    }
    let end = text[start..].char_indices().nth(max).map_or(text.len(), |(i, _)| start + i);
    let prefix = if start > 0 { "…" } else { "" };
    let suffix = if end < text.len() { "…" } else { "" };
    let shift = prefix.len() as isize - start as isize;
    let kept = marks
        .iter()
        .filter(|r| r.start >= start && r.end <= end)
        .map(|r| ((r.start as isize + shift) as usize)..((r.end as isize + shift) as usize))
        .collect();
    (format!("{prefix}{}{suffix}", &text[start..end]), kept)
}

/// The Library's kind filter, as its buttons name it.
pub const KINDS: [(Option<Kind>, &str); 4] = [
    (None, "Everything"),
    (Some(Kind::Highlight), "Highlights"),
    (Some(Kind::Note), "Notes"),
    (Some(Kind::Clip), "Clips"),
];

/// Every tag in use, most used first, for the tag filter.
pub fn tags_in_use<'a>(records: impl Iterator<Item = &'a LocalRecord>) -> Vec<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in records {
        for t in r.annotation.tags() {
            match counts.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(t)) {
                Some((_, n)) => *n += 1,
                None => counts.push((t.to_string(), 1)),
            }
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.into_iter().map(|(t, _)| t).collect()
}

/// Which marks belong to a field of a hit.
pub fn marks_of(marks: &Marks, field: cairn_library::search::Field) -> &[Range<usize>] {
    use cairn_library::search::Field;
    match field {
        Field::Title => &marks.title,
        Field::Quote => &marks.quote,
        Field::Note => &marks.note,
        Field::Clip => &marks.clip,
        Field::Tags => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::{Annotation, AnnotationId, Color, PageKey, Selector};

    fn record(url: &str, quote: &str, start: u64, created_ms: i64, note: Option<&str>) -> LocalRecord {
        let selectors = vec![
            Selector::TextQuoteSelector { exact: quote.into(), prefix: None, suffix: None },
            Selector::TextPositionSelector { start, end: start + quote.chars().count() as u64 },
        ];
        let id = AnnotationId::new_v7(created_ms as u64, [created_ms as u8; 10]);
        let mut a = Annotation::new_highlight(id, url, selectors, Color::Yellow, created_ms);
        if let Some(n) = note {
            a.set_note(n);
        }
        LocalRecord::own(a, &PageKey::from_url(url).unwrap(), created_ms, None, false)
    }

    #[test]
    fn pages_group_their_items_in_document_order_newest_page_first() {
        let index = Index::from_records(vec![
            record("https://wiki.example/a", "second on a", 50, 1, None),
            record("https://wiki.example/a", "first on a", 5, 3, Some("deploy notes")),
            record("https://wiki.example/b", "only on b", 9, 2, None),
        ]);
        let (groups, total) = grouped(&index, "", &Filter::default(), &HashMap::new());
        assert_eq!(total, 3);
        let quotes: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.items.iter().map(|h| index.get(&h.id).unwrap().annotation.quote().unwrap()).collect())
            .collect();
        assert_eq!(quotes, vec![vec!["first on a", "second on a"], vec!["only on b"]]);
        assert_eq!(groups[0].newest_ms, 3);
        assert_eq!(groups[0].title, "wiki.example/a");
        // A page the trail saw is named by its title.
        let titles = HashMap::from([(groups[1].page_key.clone(), "Runbook".to_string())]);
        assert_eq!(grouped(&index, "", &Filter::default(), &titles).0[1].title, "Runbook");

        // A query keeps only what matches, page by page.
        let (groups, total) = grouped(&index, "deploy", &Filter::default(), &HashMap::new());
        assert_eq!((groups.len(), total), (1, 1));
        assert_eq!(groups[0].page_key, index.get(&groups[0].items[0].id).unwrap().page_key);
    }

    #[test]
    fn marks_cut_the_text_and_bad_ranges_are_mended() {
        assert_eq!(
            marked("deploy the canary", &[11..17, 0..6]),
            vec![("deploy".into(), true), (" the ".into(), false), ("canary".into(), true)]
        );
        // Overlapping, past the end, or inside a character: never a panic, never a lost letter.
        let pieces = marked("café au lait", &[0..4, 2..9, 3..4, 10..99]);
        assert_eq!(pieces.iter().map(|(t, _)| t.as_str()).collect::<String>(), "café au lait");
        assert!(pieces.iter().any(|(_, m)| *m));
    }

    #[test]
    fn an_excerpt_keeps_the_match_and_its_marks() {
        let text = format!("{}needle{}", "a ".repeat(500), " b".repeat(500));
        let start = text.find("needle").unwrap();
        let needle = start..start + 6;
        let (ex, marks) = excerpt(&text, std::slice::from_ref(&needle), 80);
        assert!(ex.starts_with('…') && ex.ends_with('…'));
        assert_eq!(marks.len(), 1);
        assert_eq!(&ex[marks[0].clone()], "needle");
        assert!(ex.chars().count() <= 82);
    }
}
