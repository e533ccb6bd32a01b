//! `cargo xtask screenshots`: every extension surface in every state, light and dark, rendered by
//! `tests/e2e/screenshots.mjs` (the e2e harness: the real server, the built extension in headless
//! Chromium) into `target/screenshots/` with an `index.html` that shows them side by side.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::dist;
use crate::run::build_server;
use crate::test::ensure_npm_packages;
use crate::util::{self, fmt_duration, project_root, target_dir, Result};

pub struct Options {
    /// Screenshot the release build (what users get); otherwise the dev build.
    pub release_dist: bool,
}

/// Where the gallery goes.
pub fn screenshots_dir() -> PathBuf {
    target_dir().join("screenshots")
}

pub fn screenshots(opts: &Options) -> Result {
    let started = Instant::now();
    let root = project_root();
    // The same Chromium the end-to-end suite uses, installed the same way when missing.
    let chromium = crate::test::ensure_chromium()?;
    ensure_npm_packages()?;
    let dist = dist::dist(&dist::Options { release: opts.release_dist })?;
    let server = build_server(false)?;
    let out = screenshots_dir();

    println!("==> screenshots into {}", out.display());
    let mut cmd = Command::new("node");
    cmd.current_dir(&root)
        .arg("tests/e2e/screenshots.mjs")
        .env("CAIRN_EXTENSION_DIR", &dist)
        .env("CAIRN_SERVER_BIN", &server)
        .env("CAIRN_FIXTURES", root.join("tests/fixtures"))
        .env("CHROMIUM", &chromium)
        .env("CAIRN_SCREENSHOTS_DIR", &out);
    let result = util::run_cmd(&mut cmd);
    let index = out.join("index.html");
    if index.is_file() {
        println!("    gallery: {} (open it in a browser)", index.display());
    }
    result?;
    println!("    done in {}", fmt_duration(started.elapsed()));
    Ok(())
}
