//! `cargo xtask bench clip`: article extraction speed, memory and accuracy, Cairn's wasm
//! `clip_article` against `@mozilla/readability` on `jsdom`, both in node, parse included,
//! on Mozilla Readability's test pages; then accuracy on the WCXB development split.
//!
//! `tests/bench/clip.mjs` runs each side in its own node process (peak RSS per side) and
//! times every page several times (median per page); `bench_data clip-f1` scores both sides'
//! article text against `expected.html` with the cairn-clip corpus test's shingle F1.
//! WCXB-dev is scored natively by cairn-clip's `wcxb` example (the same extraction code the
//! wasm runs): P, R and F1 per page type beside the best published system's figures.
//!
//! Targets (issues 5 and 16): ≥ 20× faster than Readability.js; WCXB-dev F1 ≥ 0.85 overall,
//! ≥ 0.85 on forums, ≥ 0.95 on documentation.

use std::collections::BTreeMap;
use std::process::Command;

use crate::bench::{self, f64_of, fmt_mib, fmt_ms, path_str, verdict, Options};
use crate::util::{self, Result};

pub fn run(opts: &Options) -> Result {
    println!("==> bench clip (corpus {})", opts.corpus.display());
    bench::corpus_dir(opts, "mozilla-readability-test-pages/test/test-pages")?;
    bench::ensure_node(&["jsdom", "@mozilla/readability"])?;
    let glue = bench::build_wasm()?;
    let data = bench::build_bench_data()?;
    let dir = bench::bench_dir();
    let runs = if opts.quick { "1" } else { "3" };

    let mut sides = Vec::new();
    for (side, label) in [("cairn", "Cairn (wasm)"), ("readability", "Readability.js")] {
        println!("    node tests/bench/clip.mjs --side {side} ({runs} runs per page after a warm-up)");
        let out = dir.join(format!("clip-results-{side}.json"));
        let r = bench::run_node(
            "clip.mjs",
            &[
                "--side",
                side,
                "--corpus",
                path_str(&opts.corpus),
                "--out",
                path_str(&out),
                "--runs",
                runs,
                "--wasm",
                path_str(&glue),
            ],
        )?;
        sides.push((label, r, out));
    }

    // Per-page medians of both sides, on the pages both extracted.
    let per_page = |r: &serde_json::Value| -> BTreeMap<String, f64> {
        r["pages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["name"].as_str()?.to_string(), p["median_ms"].as_f64()?)))
            .collect()
    };
    let (a, b) = (per_page(&sides[0].1), per_page(&sides[1].1));
    let common: Vec<&String> = a.keys().filter(|k| b.contains_key(*k)).collect();
    if common.is_empty() {
        return Err("no page was extracted by both sides".into());
    }
    let sum = |m: &BTreeMap<String, f64>| common.iter().map(|k| m[*k]).sum::<f64>();
    let med = |m: &BTreeMap<String, f64>| median(common.iter().map(|k| m[*k]).collect());
    let ratios = median(common.iter().map(|k| b[*k] / a[*k]).collect());
    let total_ratio = sum(&b) / sum(&a);

    println!(
        "\nArticle extraction, parse included, {} pages, node {}:",
        common.len(),
        crate::bench_anchor::node_version()
    );
    println!("  {:<16} {:>16} {:>16} {:>12} {:>14}", "", "median per page", "sum of medians", "peak RSS", "RSS growth");
    for ((label, r, _), m) in sides.iter().zip([&a, &b]) {
        let before = f64_of(r, &["memory", "before", "rss"]);
        let peak = f64_of(r, &["memory", "after", "peak_rss"]);
        println!(
            "  {:<16} {:>16} {:>16} {:>12} {:>14}",
            label,
            fmt_ms(med(m)),
            fmt_ms(sum(m)),
            fmt_mib(peak),
            fmt_mib(peak - before)
        );
    }
    let wasm_mem = f64_of(&sides[0].1, &["memory", "after", "wasm_memory"]);
    println!("  Cairn wasm linear memory at the end: {}", fmt_mib(wasm_mem));
    for (label, r, _) in &sides {
        let failed: Vec<&str> = r["pages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["median_ms"].is_null())
            .filter_map(|p| p["name"].as_str())
            .collect();
        if !failed.is_empty() {
            println!("  {label} threw on {} pages: {}", failed.len(), failed.join(", "));
        }
    }
    let slowest = common.iter().max_by(|x, y| b[**x].total_cmp(&b[**y])).expect("non-empty");
    println!("  largest Readability.js time: {slowest} {} (Cairn {})", fmt_ms(b[*slowest]), fmt_ms(a[*slowest]));
    println!(
        "  ratio Readability.js / Cairn: median of per-page ratios {ratios:.1}x, total time {total_ratio:.1}x \
         (target >= {SPEED_TARGET}x: {})",
        verdict(ratios >= SPEED_TARGET && total_ratio >= SPEED_TARGET)
    );

    println!("\nAccuracy, word 4-gram shingle F1 against expected.html (the cairn-clip corpus test's scoring):");
    let mut cmd = Command::new(&data);
    cmd.arg("clip-f1").arg(&opts.corpus);
    for (label, _, out) in &sides {
        let name = if label.starts_with("Cairn") { "cairn-wasm" } else { "readability" };
        cmd.arg(format!("{name}={}", path_str(out)));
    }
    util::run_cmd(&mut cmd)?;
    println!("  (Cairn runs clip_article as the extension does: default options, site rules on.)");

    wcxb(opts)?;

    // The whole path as a user runs it: headless Chromium, the release extension,
    // the content script serializing a 5 MB page, extraction in the service worker.
    let dist = crate::dist::dist(&crate::dist::Options { release: true })?;
    println!("\n    node tests/bench/clip-chromium.mjs (5 MB page, release extension, headless Chromium)");
    let r = bench::run_node("clip-chromium.mjs", &["--extension", path_str(&dist), "--runs", runs])?;
    println!(
        "  whole clip path in Chromium: median {} for {:.1} MB of HTML (runs: {})",
        fmt_ms(r["median_ms"].as_f64().unwrap_or(f64::NAN)),
        r["html_bytes"].as_f64().unwrap_or(0.0) / 1e6,
        r["runs"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_f64()).map(fmt_ms).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    );
    Ok(())
}

/// Readability.js must take this many times Cairn's time (issue 16).
const SPEED_TARGET: f64 = 20.0;

/// WCXB-dev accuracy per page type, from cairn-clip's `wcxb` example (release build).
fn wcxb(opts: &Options) -> Result {
    let dir = bench::corpus_dir(opts, "wcxb-dev")?;
    println!("\n    cargo run --release -p cairn-clip --example wcxb");
    util::run_cmd(
        util::cargo().args(["run", "--quiet", "--release", "-p", "cairn-clip", "--example", "wcxb", "--"]).arg(&dir),
    )?;
    println!(
        "  (published on the whole development split: rs-trafilatura 0.859, Trafilatura 0.791, dom-smoothie 0.762, \
         Readability 0.675; targets: overall >= 0.85, forum >= 0.85, documentation >= 0.95)"
    );
    Ok(())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}
