//! Cairn's automation, in Rust, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! Tasks:
//!
//! * `dist [--dev]`: build the extension into `target/dist/extension/`: both wasm crates
//!   (`cairn-web` with `--features worker`, then `cairn-ui`, in two cargo runs so the worker
//!   exports do not leak into the UI), wasm-bindgen `--target web` glue in `wasm/`, `wasm-opt -Oz`
//!   (release only, npm `binaryen` from `tests/node_modules`), the hand-written `extension/` tree
//!   and `manifest.json` derived from the root one and checked against the files it names.
//! * `run [--headless] [--release] [--dev]`: `dist`, then the demo server, a static server for
//!   `tests/fixtures/` and Chromium with the unpacked extension on the demo page. Ctrl-C stops all.
//! * `test [--no-e2e]`: the one command that runs every test on a fresh machine (what CI runs
//!   through `.ci/run`): toolchain, Chromium, npm packages, `cargo test --workspace`, `dist`,
//!   the server build and the `node --test` end-to-end suite in `tests/e2e/`.
//! * `screenshots [--dev]`: `dist`, then every extension surface in every state, light and dark, as
//!   PNGs in `target/screenshots/` with an `index.html` (`tests/e2e/screenshots.mjs`).
//! * `bench anchor|clip|server|library [--corpus PATH] [--quick]`: benchmarks that print figures and
//!   ratios against the reference each must beat (`bench.rs`); not tests.
//!
//! Tidy checks (forbidden dependencies of the pure crates, no `dbg!`, crate docs, no tracked build
//! output, rustfmt, clippy natively and for wasm, prettier once turned on) live in `tidy.rs` and run
//! inside `cargo test`.
//!
//! Dependencies are kept few so that this crate compiles fast: no clap, arguments are hand-parsed.

mod bench;
mod bench_anchor;
mod bench_clip;
mod bench_library;
mod bench_server;
mod dist;
mod icons;
mod manifest;
mod run;
mod screenshots;
mod serve;
mod test;
#[cfg(test)]
mod tidy;
mod util;

use std::process::ExitCode;

const HELP_TEMPLATE: &str = "\
cargo xtask <task> [flags]

Tasks:
  dist [--dev]         Build the unpacked extension into target/dist/extension/
                       (--dev: dev profile, no wasm-opt; faster, bigger).
  run [flags]          dist, then start the demo server, serve tests/fixtures/ and open
                       Chromium with the extension on the demo page. Ctrl-C stops everything.
                         --headless  do not launch a browser; print URLs and wait
                         --release   build the server in release mode
                         --dev       build the extension with the dev profile
  test [--no-e2e]      Run every test, as CI does (installs Chromium and npm packages if
                       missing). --no-e2e skips the browser end-to-end suite.
  screenshots [--dev]  dist, then every surface (popup, options, in-page overlay) in every
                       state, light and dark, into target/screenshots/index.html.
                       CAIRN_SCREENSHOTS_ONLY=popup/ keeps the states whose name has it.
{BENCH}  help                 This text.

Environment: CHROMIUM=/path/to/chromium overrides /usr/bin/chromium.
";

fn help() -> String {
    HELP_TEMPLATE.replace("{BENCH}", bench::HELP)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, flags)) = args.split_first() else {
        print!("{}", help());
        return ExitCode::SUCCESS;
    };
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let result = match task.as_str() {
        "dist" => parse_flags(&flags, &["--dev"])
            .and_then(|f| dist::dist(&dist::Options { release: !f.contains(&"--dev") }).map(|_| ())),
        "run" => parse_flags(&flags, &["--headless", "--release", "--dev"]).and_then(|f| {
            run::run(&run::Options {
                headless: f.contains(&"--headless"),
                release_server: f.contains(&"--release"),
                release_dist: !f.contains(&"--dev"),
            })
        }),
        "test" => parse_flags(&flags, &["--no-e2e"])
            .and_then(|f| test::test(&test::Options { e2e: !f.contains(&"--no-e2e") })),
        "screenshots" => parse_flags(&flags, &["--dev"])
            .and_then(|f| screenshots::screenshots(&screenshots::Options { release_dist: !f.contains(&"--dev") })),
        "bench" => bench::main(&flags),
        "help" | "-h" | "--help" => {
            print!("{}", help());
            Ok(())
        }
        other => Err(format!("unknown task `{other}`; run `cargo xtask` for the list of tasks")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Checks that every flag is one of `known`; returns them.
fn parse_flags<'a>(flags: &[&'a str], known: &[&str]) -> Result<Vec<&'a str>, String> {
    for flag in flags {
        if !known.contains(flag) {
            return Err(if known.is_empty() {
                format!("unexpected argument `{flag}`: this task takes no flags")
            } else {
                format!("unknown flag `{flag}` (this task accepts: {}); run `cargo xtask` for help", known.join(", "))
            });
        }
    }
    Ok(flags.to_vec())
}
