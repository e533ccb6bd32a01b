//! `cargo xtask test`: every test, from a fresh machine. What `.ci/run` runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use crate::dist;
use crate::run::build_server;
use crate::util::{self, fmt_duration, project_root, Result};

pub struct Options {
    /// Run the browser end-to-end suite (`tests/e2e/*.test.mjs`).
    pub e2e: bool,
}

pub fn test(opts: &Options) -> Result {
    let started = Instant::now();
    let root = project_root();
    let mut steps = Steps::default();

    steps.run("wasm target", util::ensure_wasm_target)?;
    // `cargo test` runs `cargo fmt` and `cargo clippy` as tidy checks (tidy.rs).
    steps.run("rustfmt and clippy", ensure_rustfmt_and_clippy)?;
    let chromium = steps.run("Chromium", ensure_chromium)?;
    steps.run("npm packages (tests/)", ensure_npm_packages)?;
    steps.run("cargo test --workspace --no-fail-fast", || {
        util::run_cmd(util::cargo().args(["test", "--workspace", "--no-fail-fast"]))
    })?;
    let dist = steps.run("dist (release)", || dist::dist(&dist::Options { release: true }))?;
    let server = steps.run("build cairn-server", || build_server(false))?;
    // The e2e suite checks that the extension's clips are what the `cairn` command
    // (the same core) makes of the same page.
    let cli = steps.run("build cairn (CLI)", || {
        util::run_cmd(util::cargo().args(["build", "-p", "cairn-cli"]))?;
        let bin = util::target_dir().join("debug").join(format!("cairn{}", std::env::consts::EXE_SUFFIX));
        if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("cargo built cairn-cli but {} is missing", bin.display()))
        }
    })?;

    let e2e_dir = root.join("tests/e2e");
    let e2e_files = test_files(&e2e_dir);
    if !opts.e2e {
        println!();
        println!("!!! SKIPPED the end-to-end suite (--no-e2e): the extension was NOT tested in a browser !!!");
    } else if e2e_files.is_empty() {
        println!();
        println!("!!! no tests/e2e/*.test.mjs files: nothing to run end to end !!!");
    } else {
        steps.run("end-to-end (node --test tests/e2e/)", || {
            let mut cmd = Command::new("node");
            cmd.current_dir(&root)
                .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
                .args(e2e_files.iter().map(|f| f.strip_prefix(&root).unwrap_or(f)))
                .env("CAIRN_EXTENSION_DIR", &dist)
                .env("CAIRN_SERVER_BIN", &server)
                .env("CAIRN_CLI_BIN", &cli)
                .env("CAIRN_FIXTURES", root.join("tests/fixtures"))
                .env("CHROMIUM", &chromium);
            util::run_cmd(&mut cmd)
        })?;
    }

    steps.summary();
    println!(
        "all {} steps passed in {}{}",
        steps.done.len(),
        fmt_duration(started.elapsed()),
        if opts.e2e { "" } else { " (end-to-end SKIPPED)" }
    );
    Ok(())
}

/// Announces, times and records each step; a failure names the step.
#[derive(Default)]
struct Steps {
    done: Vec<(&'static str, std::time::Duration)>,
}

impl Steps {
    fn run<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        println!("\n==> [{}] {name}", self.done.len() + 1);
        let t = Instant::now();
        match f() {
            Ok(v) => {
                println!("==> ok: {name} ({})", fmt_duration(t.elapsed()));
                self.done.push((name, t.elapsed()));
                Ok(v)
            }
            Err(e) => {
                self.summary();
                Err(format!("test step `{name}` FAILED after {}: {e}", fmt_duration(t.elapsed())))
            }
        }
    }

    fn summary(&self) {
        println!("\nsteps:");
        for (name, d) in &self.done {
            println!("  {:>8}  {name}", fmt_duration(*d));
        }
    }
}

/// The rustfmt and clippy components, added with rustup when missing (a minimal rustup profile
/// has neither).
fn ensure_rustfmt_and_clippy() -> Result {
    let missing: Vec<&str> = [("rustfmt", "fmt"), ("clippy", "clippy")]
        .into_iter()
        .filter(|(_, sub)| !util::cargo().args([sub, "--version"]).output().is_ok_and(|o| o.status.success()))
        .map(|(component, _)| component)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("    adding {} with rustup", missing.join(" and "));
    util::run_cmd(Command::new("rustup").args(["component", "add"]).args(&missing))
        .map_err(|e| format!("{e}; install them by hand (`rustup component add {}`)", missing.join(" ")))
}

/// `$CHROMIUM` or `/usr/bin/chromium`, installed with apt-get when missing and we are root.
pub(crate) fn ensure_chromium() -> Result<PathBuf> {
    let chromium = util::chromium_path();
    if chromium.is_file() {
        println!("    {}", chromium.display());
        return Ok(chromium);
    }
    let apt = Path::new("/usr/bin/apt-get");
    if chromium != Path::new("/usr/bin/chromium") {
        return Err(format!("CHROMIUM={} does not exist", chromium.display()));
    }
    if !util::is_root() || !apt.is_file() {
        return Err("Chromium is missing: install it (Debian/Ubuntu: `sudo apt-get install -y chromium`) \
             or set CHROMIUM=/path/to/chromium, then run `cargo xtask test` again"
            .into());
    }
    println!("    /usr/bin/chromium is missing; installing it with apt-get");
    util::run_cmd(Command::new(apt).arg("update"))?;
    util::run_cmd(Command::new(apt).args(["install", "-y", "chromium"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
    if chromium.is_file() {
        Ok(chromium)
    } else {
        Err("apt-get installed chromium but /usr/bin/chromium is still missing".into())
    }
}

/// node and npm present; `npm ci` in tests/ when node_modules is missing or older than the lock.
pub(crate) fn ensure_npm_packages() -> Result {
    let node = util::output_of(Command::new("node").arg("--version")).map_err(|_| {
        "node is missing: install Node.js 20 or newer (Debian/Ubuntu: `apt-get install -y nodejs npm`)".to_string()
    })?;
    let major: u32 = node.trim().trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 20 {
        println!("    warning: node {} found; the e2e suite expects node 20 or newer", node.trim());
    }
    let tests = project_root().join("tests");
    let lock = tests.join("package-lock.json");
    let stamp = tests.join("node_modules/.package-lock.json");
    let fresh = match (mtime(&stamp), mtime(&lock)) {
        (Some(installed), Some(locked)) => installed >= locked,
        _ => false,
    };
    if fresh {
        println!("    node {}; tests/node_modules is up to date", node.trim());
        return Ok(());
    }
    if util::which("npm").is_none() {
        return Err(
            "npm is missing: install it (Debian/Ubuntu: `apt-get install -y npm`), it installs the test tooling".into(),
        );
    }
    println!("    node {}; npm ci in tests/", node.trim());
    util::run_cmd(Command::new("npm").current_dir(&tests).args(["ci", "--no-audit", "--no-fund"]))
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// `*.test.mjs` under `dir`, sorted; passed to node one by one (node 20 and 22 treat a directory
/// argument differently).
fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "node_modules") {
                    stack.push(p);
                }
            } else if p.to_string_lossy().ends_with(".test.mjs") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}
