//! `cargo xtask bench anchor | clip | library | server`: benchmarks that print figures and ratios
//! against the reference each must beat, measured in one run. Not tests: nothing here
//! fails on a slow figure; a bench fails only when something it needs is missing.
//!
//! * `anchor` (`bench_anchor.rs`): Cairn's wasm resolver against npm `approx-string-match`
//!   driven with Hypothesis's scoring, both in node, on the workload
//!   `cairn_anchor::corpus` generates (issue 3).
//! * `clip` (`bench_clip.rs`): Cairn's wasm `clip_article` against `@mozilla/readability`
//!   on `jsdom`, both in node, on the readability test pages (issue 5).
//! * `library` (`bench_library.rs`): the Library's search index on 20,000 highlights and
//!   2,000 clips, natively and in wasm (WASI in node), against a linear scan and npm
//!   `minisearch` on the same keystrokes; incremental updates and exports (issue 15).
//! * `server` (`bench_server.rs`): the release server on loopback under a fixed-rate,
//!   coordinated-omission-corrected load (issue 4).
//!
//! The wasm side is `crates/cairn-bench-wasm` (exports used only here) with wasm-bindgen
//! `--target nodejs` glue in `target/bench/wasm/`; the JS drivers are `tests/bench/*.mjs`;
//! the native side (workload generation, scoring) is that crate's `bench_data` example, and
//! the Library's whole Cairn side its `bench_library` example (native, and `wasm32-wasip1`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::util::{self, fmt_duration, project_root, target_dir, Result, WASM_TARGET};

pub struct Options {
    /// The shared test corpora (`--corpus`, else `$CAIRN_TESTDATA`, else `../shared/testdata`).
    pub corpus: PathBuf,
    /// Fewer runs and rates: a smoke run of the harness, figures not to be quoted.
    pub quick: bool,
}

pub const HELP: &str = "\
  bench anchor|clip|library|server [--corpus PATH] [--quick]
                       Benchmarks (not tests): print figures and ratios against the
                       reference each must beat. anchor: wasm resolver vs Hypothesis's
                       approx-string-match anchoring in node; clip: wasm clip_article vs
                       Readability.js on jsdom; library: search index on 22,000 items
                       (native and wasm) vs a linear scan and MiniSearch, updates,
                       exports; server: release server under fixed-rate load (sync mix,
                       page lookups, 50,000-annotation pull).
                         --corpus PATH  shared testdata (default $CAIRN_TESTDATA, else
                                        ../shared/testdata beside the checkout)
                         --quick        fewer runs, for checking the harness
";

/// Parses `anchor|clip|library|server [--corpus PATH] [--quick]` and runs the bench.
pub fn main(args: &[&str]) -> Result {
    let Some((which, rest)) = args.split_first() else {
        return Err("bench what? `cargo xtask bench anchor|clip|library|server`".into());
    };
    let mut corpus = None;
    let mut quick = false;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match *a {
            "--corpus" => corpus = Some(PathBuf::from(it.next().ok_or("--corpus needs a path")?)),
            "--quick" => quick = true,
            other => return Err(format!("unknown flag `{other}` for bench (accepts --corpus PATH, --quick)")),
        }
    }
    let corpus = corpus.unwrap_or_else(default_corpus);
    let opts = Options { corpus, quick };
    // Figures from a busy machine mislead: say how busy it is.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let one: f64 = load.split_whitespace().next().and_then(|l| l.parse().ok()).unwrap_or(0.0);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        println!(
            "    load average {one:.1} on {cores} cores{}",
            if one > cores as f64 * 0.5 { ": the machine is busy, figures will be low and noisy" } else { "" }
        );
    }
    let started = Instant::now();
    match *which {
        "anchor" => crate::bench_anchor::run(&opts),
        "clip" => crate::bench_clip::run(&opts),
        "library" => crate::bench_library::run(&opts),
        "server" => crate::bench_server::run(&opts),
        other => Err(format!("unknown bench `{other}`: anchor, clip, library or server")),
    }?;
    println!("\n(bench {which} took {})", fmt_duration(started.elapsed()));
    Ok(())
}

fn default_corpus() -> PathBuf {
    match std::env::var_os("CAIRN_TESTDATA") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => project_root().join("../shared/testdata"),
    }
}

/// Checks that `sub` exists under the corpus folder.
pub fn corpus_dir(opts: &Options, sub: &str) -> Result<PathBuf> {
    let dir = opts.corpus.join(sub);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "the corpus {} is missing: pass --corpus PATH or set CAIRN_TESTDATA to the shared testdata folder",
            dir.display()
        ))
    }
}

/// Where the benches keep their build output and scratch files.
pub fn bench_dir() -> PathBuf {
    target_dir().join("bench")
}

/// `cairn-bench-wasm` built for wasm32 with the extension's profile (`wasm-release`), bound
/// with `--target nodejs` glue; returns the glue's path.
pub fn build_wasm() -> Result<PathBuf> {
    util::ensure_wasm_target()?;
    let t = Instant::now();
    println!("    cargo build -p cairn-bench-wasm ({WASM_TARGET}, wasm-release: the extension's profile)");
    util::run_cmd(util::cargo().args([
        "build",
        "--quiet",
        "--target",
        WASM_TARGET,
        "--profile",
        "wasm-release",
        "-p",
        "cairn-bench-wasm",
    ]))?;
    let input = target_dir().join(WASM_TARGET).join("wasm-release").join("cairn_bench_wasm.wasm");
    if !input.is_file() {
        return Err(format!("cargo did not produce {}", input.display()));
    }
    let out = bench_dir().join("wasm");
    std::fs::create_dir_all(&out).map_err(|e| format!("could not create {}: {e}", out.display()))?;
    let mut b = wasm_bindgen_cli_support::Bindgen::new();
    b.input_path(&input).typescript(false);
    b.nodejs(true)
        .and_then(|b| b.generate(&out))
        .map_err(|e| format!("wasm-bindgen failed on {}: {e:#}", input.display()))?;
    let glue = out.join("cairn_bench_wasm.js");
    let size = std::fs::metadata(out.join("cairn_bench_wasm_bg.wasm")).map(|m| m.len()).unwrap_or(0);
    println!("    wasm ready in {} ({})", fmt_duration(t.elapsed()), util::fmt_kib(size));
    Ok(glue)
}

/// The native helper (`cairn-bench-wasm`'s `bench_data` example), release build.
pub fn build_bench_data() -> Result<PathBuf> {
    println!("    cargo build --release -p cairn-bench-wasm --example bench_data");
    util::run_cmd(util::cargo().args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "cairn-bench-wasm",
        "--example",
        "bench_data",
    ]))?;
    let bin = target_dir().join("release/examples").join(format!("bench_data{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("cargo built the bench_data example but {} is missing", bin.display()))
    }
}

/// node and tests/node_modules (npm ci when stale), and the packages a driver imports.
pub fn ensure_node(packages: &[&str]) -> Result {
    crate::test::ensure_npm_packages()?;
    let modules = project_root().join("tests/node_modules");
    for p in packages {
        if !modules.join(p).join("package.json").is_file() {
            return Err(format!(
                "npm package {p} is missing from tests/node_modules: it is a devDependency in \
                 tests/package.json; run `npm ci` in tests/"
            ));
        }
    }
    Ok(())
}

/// Runs a driver in `tests/bench/` with node and parses the JSON line it prints last.
pub fn run_node(script: &str, args: &[&str]) -> Result<serde_json::Value> {
    let root = project_root();
    let path = root.join("tests/bench").join(script);
    if !path.is_file() {
        return Err(format!("{} is missing", path.display()));
    }
    let mut cmd = Command::new("node");
    // --expose-gc: drivers collect between pages, so one side's garbage is not charged to
    // the next page (jsdom documents otherwise pile up until the heap limit).
    cmd.current_dir(root.join("tests")).args(["--expose-gc", "--max-old-space-size=8192"]).arg(&path).args(args);
    let out = util::output_of(&mut cmd)?;
    let last = out.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
    serde_json::from_str(last).map_err(|e| format!("{script} printed no JSON result ({e}): {out}"))
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// `12.3 ms` / `1.23 s`.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// `123.4 MiB`.
pub fn fmt_mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

/// `PASS` / `MISS` against a target.
pub fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

pub fn f64_of(v: &serde_json::Value, path: &[&str]) -> f64 {
    path.iter().fold(v, |v, k| &v[*k]).as_f64().unwrap_or(f64::NAN)
}
