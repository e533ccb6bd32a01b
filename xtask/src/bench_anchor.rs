//! `cargo xtask bench anchor`: re-anchoring speed, memory and accuracy, Cairn (wasm) against
//! Hypothesis's algorithm (npm `approx-string-match` + its match-quote scoring, ported in
//! `tests/bench/hypothesis-match-quote.mjs`), both in node, on one workload.
//!
//! 1. `bench_data anchor-workload` writes the workload from `cairn_anchor::corpus`: a page of
//!    ≥ 1 MB of text (readability pages joined) with 500 highlights, 10 % edited, and the
//!    whole edit corpus (every Readability and WCXB development page).
//! 2. `tests/bench/anchor.mjs` runs each side in its own node process (so peak RSS is per
//!    side): the long page re-anchored several times (median), then the edit corpus once.
//! 3. `bench_data anchor-score` judges both sides' anchors with `corpus::judge` and prints
//!    correct / partial / orphan / wrong per edit kind and per page set, side by side.
//!
//! Targets (issues 3 and 16): ≥ 15× faster than the baseline, < 100 ms in wasm; zero wrong
//! anchors, ≥ 99 % correct overall and ≥ 97 % on inserted or removed words.

use crate::bench::{self, f64_of, fmt_mib, fmt_ms, path_str, verdict, Options};
use crate::util::{self, Result};
use std::process::Command;

pub fn run(opts: &Options) -> Result {
    println!("==> bench anchor (corpus {})", opts.corpus.display());
    let testdata =
        bench::corpus_dir(opts, "mozilla-readability-test-pages/test/test-pages").map(|_| opts.corpus.clone())?;
    bench::ensure_node(&["approx-string-match"])?;
    let glue = bench::build_wasm()?;
    let data = bench::build_bench_data()?;

    let dir = bench::bench_dir();
    let workload = dir.join("anchor-workload.json");
    util::run_cmd(Command::new(&data).arg("anchor-workload").arg(&testdata).arg(&workload))?;

    let runs = if opts.quick { "3" } else { "9" };
    let mut sides = Vec::new();
    for (side, label) in [("cairn", "Cairn (wasm)"), ("hypothesis", "Hypothesis (JS)")] {
        println!("    node tests/bench/anchor.mjs --side {side} ({runs} runs after a warm-up)");
        let out = dir.join(format!("anchor-results-{side}.json"));
        let r = bench::run_node(
            "anchor.mjs",
            &[
                "--side",
                side,
                "--workload",
                path_str(&workload),
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

    println!("\nRe-anchoring 500 highlights on the long page (10 % edited), node {}:", node_version());
    println!(
        "  {:<16} {:>10} {:>10} {:>10} {:>12} {:>14} {:>12}",
        "", "median", "min", "warm-up", "peak RSS", "RSS growth", "wasm memory"
    );
    for (label, r, _) in &sides {
        let before = f64_of(r, &["memory", "before", "rss"]);
        let peak = f64_of(r, &["memory", "after_long", "peak_rss"]);
        let wasm_mem = f64_of(r, &["memory", "after_long", "wasm_memory"]);
        println!(
            "  {:<16} {:>10} {:>10} {:>10} {:>12} {:>14} {:>12}",
            label,
            fmt_ms(f64_of(r, &["median_ms"])),
            fmt_ms(f64_of(r, &["min_ms"])),
            fmt_ms(f64_of(r, &["warmup_ms"])),
            fmt_mib(peak),
            fmt_mib(peak - before),
            if wasm_mem.is_nan() { "-".to_string() } else { fmt_mib(wasm_mem) },
        );
    }
    let cairn = f64_of(&sides[0].1, &["median_ms"]);
    let hyp = f64_of(&sides[1].1, &["median_ms"]);
    let ratio = hyp / cairn;
    println!(
        "  heap used after the runs: Cairn {}, Hypothesis {}",
        fmt_mib(f64_of(&sides[0].1, &["memory", "after_long", "heap_used"])),
        fmt_mib(f64_of(&sides[1].1, &["memory", "after_long", "heap_used"]))
    );
    println!("  ratio Hypothesis / Cairn: {ratio:.1}x (target >= 15x: {})", verdict(ratio >= 15.0));
    println!("  Cairn wasm: {} (target < 100 ms: {})", fmt_ms(cairn), verdict(cairn < 100.0));
    println!(
        "  edit corpus, whole pass ({} pages): Cairn {}, Hypothesis {}",
        f64_of(&sides[0].1, &["corpus_pages"]),
        fmt_ms(f64_of(&sides[0].1, &["corpus_ms"])),
        fmt_ms(f64_of(&sides[1].1, &["corpus_ms"])),
    );

    println!("\nAccuracy (anchors judged natively by cairn_anchor::corpus::judge):");
    let mut cmd = Command::new(&data);
    cmd.arg("anchor-score").arg(&workload);
    for (label, _, out) in &sides {
        let name = if label.starts_with("Cairn") { "cairn-wasm" } else { "hypothesis-js" };
        cmd.arg(format!("{name}={}", path_str(out)));
    }
    util::run_cmd(&mut cmd)
}

pub fn node_version() -> String {
    util::output_of(Command::new("node").arg("--version")).map(|v| v.trim().to_string()).unwrap_or_default()
}
