//! The Cairn side of `cargo xtask bench library`: `bench_library TESTDATA OUT_DIR [--quick]`.
//! xtask runs it twice: built natively (release), and built for `wasm32-wasip1` with the
//! extension's `wasm-release` profile, run in node's WASI (V8's wasm, as in the service
//! worker) by `tests/bench/library.mjs --side cairn-wasm`.
//!
//! Generates a library of 20,000 highlights with notes and 2,000 article clips from the
//! Readability test pages' sentences (deterministic: the same corpus gives the same
//! library), then measures `cairn_library` on it: index build time and RSS growth,
//! keystroke latency (every prefix of several queries) against `search::linear_scan` on the
//! same keystrokes (checked to give the same results), incremental updates (checked against
//! the scan and a fresh build afterwards), and every export. Memory is the RSS natively and
//! the linear memory in wasm. Writes `library-items.json` and `library-queries.json` for the
//! MiniSearch driver (and `library-updates.json`: the edited records and their new note) and
//! prints one JSON line of figures last. Figures only, never assertions.

use std::path::Path;
use std::time::Instant;

use cairn_library::export::{csv, hypothesis_json, markdown_vault, w3c_collection};
use cairn_library::import::{import, ImportOptions};
use cairn_library::search::{field_text, linear_scan, Field, Filter, Index};
use cairn_library::zip::zip_stored;
use cairn_library::LocalRecord;
use cairn_model::{Annotation, AnnotationId, ClipKind, Color, PageKey, Selector};
use serde_json::json;

const HIGHLIGHTS: usize = 20_000;
const CLIPS: usize = 2_000;
const T0: i64 = 1_767_225_600_000; // 2026-01-01
const QUERIES: &[&str] = &[
    "readability article",
    "the new york times",
    "mozilla firefox browser",
    "climate change policy",
    "javascript performance",
    "government report said",
    "music album release",
    "research university study",
];

/// The note the update step writes (the MiniSearch driver writes the same).
const EDITED_NOTE: &str = "An edited note about climate policy and javascript.";
/// Asked after the updates: words of the edited note, and words it replaced.
const AFTER_UPDATE_QUERIES: &[&str] = &["climate policy", "javascript", "edited note", "the", "readab"];

/// SplitMix64: a small deterministic generator, so the library is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self) -> [u8; 10] {
        let a = self.next().to_le_bytes();
        let b = self.next().to_le_bytes();
        [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], b[0], b[1]]
    }
}

/// The sentences of every expected article, tags stripped.
fn sentences(testdata: &Path) -> Result<Vec<String>, String> {
    let dir = testdata.join("mozilla-readability-test-pages/test/test-pages");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for page in entries {
        let Ok(html) = std::fs::read_to_string(page.join("expected.html")) else { continue };
        let mut text = String::with_capacity(html.len());
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    text.push(' ');
                }
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        let text = text.replace("&amp;", "&").replace("&nbsp;", " ").replace("&quot;", "\"").replace("&#39;", "'");
        for s in text.split(". ") {
            let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
            if (40..400).contains(&s.len()) {
                out.push(format!("{s}."));
            }
        }
    }
    if out.len() < 1000 {
        return Err(format!("only {} sentences in {}", out.len(), dir.display()));
    }
    Ok(out)
}

fn library(sentences: &[String]) -> Vec<LocalRecord> {
    let mut rng = Rng(15);
    let tags = ["research", "todo", "design", "policy", "quotes", "follow-up", "reading", "team"];
    let pages: Vec<String> =
        (0..1500).map(|i| format!("https://site{}.example/articles/{}?utm_source=x", i % 40, i)).collect();
    let mut records = Vec::with_capacity(HIGHLIGHTS + CLIPS);
    for i in 0..HIGHLIGHTS + CLIPS {
        let created = T0 + i as i64 * 60_000;
        let url = &pages[rng.below(pages.len())];
        let key = PageKey::from_url(url).expect("generated URLs are valid");
        let id = AnnotationId::new_v7(created as u64, rng.bytes());
        let mut a = if i < HIGHLIGHTS {
            let quote =
                (0..1 + rng.below(2)).map(|_| sentences[rng.below(sentences.len())].as_str()).collect::<Vec<_>>();
            let quote = quote.join(" ");
            let start = rng.below(20_000) as u64;
            let selectors = vec![
                Selector::TextQuoteSelector { exact: quote.clone(), prefix: None, suffix: None },
                Selector::TextPositionSelector { start, end: start + quote.chars().count() as u64 },
            ];
            let mut a = Annotation::new_highlight(id, url, selectors, Color::ALL[rng.below(4)], created);
            a.set_note(&sentences[rng.below(sentences.len())]);
            a
        } else {
            let title = sentences[rng.below(sentences.len())].split_whitespace().take(6).collect::<Vec<_>>().join(" ");
            let fm = cairn_clip::front_matter(&cairn_clip::FrontMatter {
                title,
                source: url.clone(),
                clipped: cairn_model::format_rfc3339_ms(created),
                ..Default::default()
            });
            let body: Vec<&str> = (0..30).map(|_| sentences[rng.below(sentences.len())].as_str()).collect();
            Annotation::new_clip(id, ClipKind::Article, url, vec![], &format!("{fm}{}\n", body.join("\n\n")), created)
        };
        a.set_tags((0..rng.below(3)).map(|_| tags[rng.below(tags.len())]));
        let mut r = LocalRecord::own(a, &key, created, None, false);
        if rng.below(10) == 0 {
            r.teammate = Some(format!("Teammate {}", rng.below(5)));
        }
        records.push(r);
    }
    records
}

/// The resident set natively; in wasm, the linear memory (which only grows).
fn memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    return (core::arch::wasm32::memory_size(0) * 65536) as f64;
    #[cfg(not(target_arch = "wasm32"))]
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<f64>().ok()))
        .map_or(f64::NAN, |pages| pages * 4096.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn keystrokes() -> Vec<String> {
    let mut out = Vec::new();
    for q in QUERIES {
        for end in 1..=q.len() {
            if q.is_char_boundary(end) {
                out.push(q[..end].to_string());
            }
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: bench_library TESTDATA OUT_DIR [--quick]");
        std::process::exit(2);
    }
    if let Err(e) = run(Path::new(&args[0]), Path::new(&args[1]), args.iter().any(|a| a == "--quick")) {
        eprintln!("bench_library: {e}");
        std::process::exit(1);
    }
}

fn run(testdata: &Path, out: &Path, quick: bool) -> Result<(), String> {
    let sentences = sentences(testdata)?;
    let records = library(&sentences);
    let mem_before = memory_bytes();
    let t = Instant::now();
    let mut index = Index::from_records(records.iter().cloned());
    let build_ms = ms(t);
    let mem_after = memory_bytes();

    let keys = keystrokes();
    let filter = Filter::default();
    let mut latencies = Vec::new();
    let mut answers = Vec::new();
    for k in &keys {
        let t = Instant::now();
        let r = index.search(k, &filter, 50);
        latencies.push(ms(t));
        answers.push(r);
    }
    // The scan reads every record per keystroke: run it on every n-th keystroke only.
    let step = if quick { 12 } else { 4 };
    let mut scan = Vec::new();
    let mut same = 0;
    let mut compared = 0;
    for (i, k) in keys.iter().enumerate().step_by(step) {
        let t = Instant::now();
        let r = linear_scan(&records, k, &filter, 50);
        scan.push(ms(t));
        compared += 1;
        same += usize::from(r == answers[i]);
    }
    let mut index_on_scanned: Vec<f64> = latencies.iter().copied().step_by(step).collect();
    latencies.sort_by(f64::total_cmp);
    scan.sort_by(f64::total_cmp);
    index_on_scanned.sort_by(f64::total_cmp);

    // Incremental updates: edit the note of 1,000 records (remove + add of their postings).
    let mut edited_records = records.clone();
    let mut updates = Vec::new();
    for r in edited_records.iter_mut().step_by(records.len() / 1000).take(1000) {
        r.annotation.set_note(EDITED_NOTE);
        let t = Instant::now();
        index.upsert(r.clone());
        updates.push(ms(t));
    }
    updates.sort_by(f64::total_cmp);
    // The updated index must answer as a scan of the edited records and as a fresh build.
    let rebuilt = Index::from_records(edited_records.iter().cloned());
    let mut after_update_same = 0;
    for q in AFTER_UPDATE_QUERIES {
        let r = index.search(q, &filter, 50);
        after_update_same +=
            usize::from(r == linear_scan(&edited_records, q, &filter, 50) && r == rebuilt.search(q, &filter, 50));
    }
    drop(rebuilt);

    let time = |f: &mut dyn FnMut() -> usize| {
        let t = Instant::now();
        let bytes = f();
        (ms(t), bytes)
    };
    let (md_ms, md_bytes) = time(&mut || zip_stored(&markdown_vault(&records)).len());
    let (w3c_ms, w3c_bytes) =
        time(&mut || w3c_collection(&records, "urn:uuid:0190f0c2-e2d8-7c3e-8b4a-1b2c3d4e5f60", "all").len());
    let (hyp_ms, hyp_bytes) =
        time(&mut || hypothesis_json(&records, "acct:me@cairn.local", "2026-12-03T00:00:00Z").len());
    let (csv_ms, csv_bytes) = time(&mut || csv(&records).len());
    let w3c = w3c_collection(&records, "urn:uuid:0190f0c2-e2d8-7c3e-8b4a-1b2c3d4e5f60", "all");
    let t = Instant::now();
    let back = import(&w3c, &ImportOptions { now_ms: T0, seed: 1, ..Default::default() }).map_err(|e| e.to_string())?;
    let import_ms = ms(t);

    // The same items and keystrokes for the MiniSearch driver.
    let items: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "title": field_text(r, Field::Title),
                "quote": field_text(r, Field::Quote),
                "note": field_text(r, Field::Note),
                "tags": field_text(r, Field::Tags),
                "clip": field_text(r, Field::Clip),
            })
        })
        .collect();
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    std::fs::write(out.join("library-items.json"), serde_json::to_vec(&items).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    std::fs::write(out.join("library-queries.json"), serde_json::to_vec(&keys).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let edited_ids: Vec<&str> =
        records.iter().step_by(records.len() / 1000).take(1000).map(|r| r.id.as_str()).collect();
    let updates_file = json!({ "note": EDITED_NOTE, "ids": edited_ids });
    std::fs::write(out.join("library-updates.json"), updates_file.to_string()).map_err(|e| e.to_string())?;

    let totals: Vec<usize> = answers.iter().map(|a| a.total).collect();
    let figures = json!({
        "records": records.len(),
        "highlights": HIGHLIGHTS,
        "clips": CLIPS,
        "text_mib": items.iter().map(|i| i.to_string().len()).sum::<usize>() as f64 / 1048576.0,
        "target": std::env::consts::ARCH,
        "build_ms": build_ms,
        "memory_growth_bytes": mem_after - mem_before,
        "keystrokes": keys.len(),
        "key_p50_ms": percentile(&latencies, 0.5),
        "key_p95_ms": percentile(&latencies, 0.95),
        "key_max_ms": percentile(&latencies, 1.0),
        "scan_keystrokes": compared,
        "scan_same_results": same,
        "scan_p50_ms": percentile(&scan, 0.5),
        "scan_p95_ms": percentile(&scan, 0.95),
        "scan_max_ms": percentile(&scan, 1.0),
        "index_p50_on_scanned_ms": percentile(&index_on_scanned, 0.5),
        "index_p95_on_scanned_ms": percentile(&index_on_scanned, 0.95),
        "updates": updates.len(),
        "update_p50_ms": percentile(&updates, 0.5),
        "update_p95_ms": percentile(&updates, 0.95),
        "update_max_ms": percentile(&updates, 1.0),
        "after_update_queries": AFTER_UPDATE_QUERIES.len(),
        "after_update_same_results": after_update_same,
        "export_md_zip_ms": md_ms, "export_md_zip_bytes": md_bytes,
        "export_w3c_ms": w3c_ms, "export_w3c_bytes": w3c_bytes,
        "export_hypothesis_ms": hyp_ms, "export_hypothesis_bytes": hyp_bytes,
        "export_csv_ms": csv_ms, "export_csv_bytes": csv_bytes,
        "import_w3c_ms": import_ms, "import_w3c_records": back.records.len(),
        "totals": totals,
    });
    println!("{figures}");
    Ok(())
}
