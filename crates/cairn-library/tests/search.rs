//! Search: ranking, prefixes, folding, filters, incremental updates, and agreement with the
//! linear scan that reads every record.

mod common;

use cairn_library::search::{field_text, linear_scan, Author, Field, Filter, Index, Site};
use cairn_library::{Kind, LocalRecord};
use cairn_model::Color;
use common::*;

fn ids(index: &Index, query: &str, filter: &Filter) -> Vec<String> {
    let results = index.search(query, filter, 100);
    assert_eq!(results.total, results.hits.len().min(100));
    results.hits.into_iter().map(|h| h.id).collect()
}

fn library() -> Vec<LocalRecord> {
    vec![
        highlight(1, "https://wiki.example/deploys", "Roll back the deploy before paging anyone", 10),
        with_note(
            highlight(2, "https://wiki.example/deploys", "Canary for ten minutes", 200),
            "a rollback is cheaper than a page",
        ),
        with_tags(highlight(3, "https://blog.example/post", "Her Résumé listed seven languages", 5), &["hiring"]),
        clip(4, "https://docs.example/guide", "Rollback guide", "Long body mentioning rollback once among many words."),
        by_teammate(highlight(5, "https://wiki.example/deploys", "Deploys freeze on Fridays", 400), "Ana"),
        color(highlight(6, "https://jira.example.com/browse/OPS-7", "rollback broke the build", 0), Color::Pink),
    ]
}

#[test]
fn quote_and_title_rank_above_note_above_clip_body() {
    let in_quote = highlight(1, "https://a.example/", "the zebra crossing", 0);
    let in_note = with_note(highlight(2, "https://a.example/", "a crossing", 0), "the zebra crossing");
    let in_body = clip(3, "https://b.example/", "Roads", "the zebra crossing");
    let in_title = clip(4, "https://c.example/", "Zebra crossings", "about roads");
    let index = Index::from_records([in_body.clone(), in_note.clone(), in_quote.clone(), in_title.clone()]);
    let hits = ids(&index, "zebra", &Filter::default());
    // Quote and title weigh the same (here the two-word title beats the page keys around it
    // on length); both rank above a note, which ranks above a clip's body.
    assert_eq!(hits[2..], [in_note.id, in_body.id]);
    assert!(hits[..2].contains(&in_quote.id) && hits[..2].contains(&in_title.id));
}

#[test]
fn ties_go_to_the_newest() {
    let a = highlight(1, "https://a.example/", "same words here", 0);
    let b = highlight(2, "https://b.example/", "same words here", 0);
    let index = Index::from_records([a.clone(), b.clone()]);
    assert_eq!(ids(&index, "words", &Filter::default()), [b.id, a.id]);
}

#[test]
fn the_last_word_matches_as_a_prefix_while_typing() {
    let index = Index::from_records(library());
    let r = library();
    assert_eq!(ids(&index, "canary for te", &Filter::default()), [r[1].id.clone()]);
    // Once a space follows it, the word is complete and must match whole.
    assert!(ids(&index, "canary for te ", &Filter::default()).is_empty());
    // Earlier words never match as prefixes.
    assert!(ids(&index, "can ten", &Filter::default()).is_empty());
    // Whole-word matches rank above prefix matches.
    let whole = with_note(highlight(7, "https://c.example/", "deploy", 0), "x");
    let longer = highlight(8, "https://c.example/", "deployment", 0);
    let index = Index::from_records([whole.clone(), longer.clone()]);
    assert_eq!(ids(&index, "deploy", &Filter::default()), [whole.id, longer.id]);
}

#[test]
fn case_and_diacritics_do_not_matter_and_marks_point_at_the_original() {
    let index = Index::from_records(library());
    let r = library();
    let results = index.search("RESUME", &Filter::default(), 10);
    assert_eq!(results.hits.len(), 1);
    let hit = &results.hits[0];
    assert_eq!(hit.id, r[2].id);
    let quote = field_text(&r[2], Field::Quote);
    let marked: Vec<&str> = hit.marks.quote.iter().map(|m| &quote[m.clone()]).collect();
    assert_eq!(marked, ["Résumé"]);
    // Tags are searched, and marked by index.
    let results = index.search("hir", &Filter::default(), 10);
    assert_eq!(results.hits[0].marks.tags, [0]);
    // Titles of pages that are not clips are their page key.
    let results = index.search("blog", &Filter::default(), 10);
    let title = field_text(&r[2], Field::Title);
    assert_eq!(&title[results.hits[0].marks.title[0].clone()], "blog");
}

#[test]
fn filters_narrow_the_results() {
    let index = Index::from_records(library());
    let r = library();
    let all = Filter::default();
    assert_eq!(ids(&index, "", &all).len(), 6);
    // An empty query lists everything, newest first.
    assert_eq!(ids(&index, "", &all)[0], r[5].id);
    let only = |f: Filter| ids(&index, "", &f);
    assert_eq!(only(Filter { tags: vec!["HIRING".into()], ..all.clone() }), [r[2].id.clone()]);
    assert_eq!(only(Filter { author: Some(Author::Teammates), ..all.clone() }), [r[4].id.clone()]);
    assert_eq!(only(Filter { author: Some(Author::Teammate("Ana".into())), ..all.clone() }), [r[4].id.clone()]);
    assert_eq!(only(Filter { author: Some(Author::Me), ..all.clone() }).len(), 5);
    assert_eq!(only(Filter { color: Some(Color::Pink), ..all.clone() }), [r[5].id.clone()]);
    assert_eq!(only(Filter { kind: Some(Kind::Clip), ..all.clone() }), [r[3].id.clone()]);
    assert_eq!(only(Filter { kind: Some(Kind::Note), ..all.clone() }), [r[1].id.clone()]);
    assert_eq!(only(Filter { kind: Some(Kind::Highlight), ..all.clone() }).len(), 5);
    assert_eq!(only(Filter { site: Some(Site::Origin("https://wiki.example/".into())), ..all.clone() }).len(), 3);
    assert_eq!(only(Filter { site: Some(Site::Tool("jira".into())), ..all.clone() }), [r[5].id.clone()]);
    assert_eq!(
        only(Filter { from_ms: Some(r[2].created_ms), until_ms: Some(r[4].created_ms), ..all.clone() }),
        [r[3].id.clone(), r[2].id.clone()]
    );
    assert!(only(Filter { orphans_only: true, ..all.clone() }).is_empty());
    assert!(only(Filter { community: Some("sre".into()), ..all.clone() }).is_empty());
    // Filters and words together.
    // (The page key of the first two says "deploys"; the teammate's is left out.)
    assert_eq!(ids(&index, "deploy", &Filter { author: Some(Author::Me), ..all }), [r[0].id.clone(), r[1].id.clone()]);
}

#[test]
fn upserts_and_removals_change_only_what_they_touch() {
    let mut index = Index::from_records(library());
    let r = library();
    let mut edited = r[0].clone();
    edited.annotation.set_note("zebra crossing");
    index.upsert(edited.clone());
    assert_eq!(index.len(), 6);
    assert_eq!(ids(&index, "zebra", &Filter::default()), [edited.id.clone()]);
    assert_eq!(index.get(&edited.id), Some(&edited));
    index.remove(&r[1].id);
    assert!(ids(&index, "canary", &Filter::default()).is_empty());
    assert!(index.remove(&r[1].id).is_none());
    // The same answers, scores included, as an index built from scratch and as a scan.
    let now: Vec<LocalRecord> = [edited].into_iter().chain(r[2..].iter().cloned()).collect();
    let fresh = Index::from_records(now.clone());
    for q in ["rollback", "deploy", "z", "wiki deploys", "", "r"] {
        assert_eq!(index.search(q, &Filter::default(), 10), fresh.search(q, &Filter::default(), 10), "{q}");
        assert_eq!(index.search(q, &Filter::default(), 10), linear_scan(&now, q, &Filter::default(), 10), "{q}");
    }
}

#[test]
fn the_index_agrees_with_a_linear_scan_on_many_queries() {
    let words = ["alpha", "beta", "gamma", "delta", "Épsilon", "zeta", "eta", "theta", "iota", "kappa"];
    let mut records = Vec::new();
    for n in 0..60u8 {
        let quote: Vec<&str> =
            (0..(3 + n % 7)).map(|i| words[(n as usize * 7 + i as usize * 3) % words.len()]).collect();
        let mut r = highlight(n, &format!("https://s{}.example/p", n % 4), &quote.join(" "), u64::from(n));
        if n % 3 == 0 {
            r = with_note(r, words[n as usize % words.len()]);
        }
        records.push(r);
    }
    let index = Index::from_records(records.clone());
    for q in ["a", "e", "eps", "epsilon", "alpha be", "theta iota k", "s1", "zeta zeta", "nothing"] {
        let f = Filter { author: Some(Author::Me), ..Filter::default() };
        assert_eq!(index.search(q, &f, 20), linear_scan(&records, q, &f, 20), "{q}");
    }
}
