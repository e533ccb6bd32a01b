//! Tidy checks, run by `cargo test`: the repository's rules that the compiler does not enforce.
//!
//! * The pure crates (no IO: model, anchoring, protocol, sync planning) depend, even transitively,
//!   on nothing browser-, runtime- or database-specific.
//! * No `dbg!` left in Rust sources.
//! * Every crate root starts with a `//!` doc comment saying what the crate is.
//! * No build output is tracked by git.
//! * Rust is formatted as `rustfmt.toml` says (`cargo fmt --all -- --check`).
//! * Clippy is quiet on the workspace, natively and for the two wasm crates as `cargo xtask dist`
//!   builds them.
//! * The hand-written JavaScript is formatted as `.prettierrc.json` says (prettier from
//!   `tests/node_modules`).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{self, project_root};

/// Crates that must stay pure, whatever their description says.
const PURE_CRATES: &[&str] = &["cairn-model", "cairn-anchor", "cairn-protocol", "cairn-sync", "cairn-library"];

/// A description sentence starting with this marks a crate pure too (e.g. "... Pure: no IO.").
const PURE_MARKER: &str = "Pure";

/// Dependencies a pure crate must not pull in, by exact name or (ending in `-`) by prefix.
const FORBIDDEN: &[&str] = &[
    "wasm-bindgen",
    "wasm-bindgen-futures",
    "web-sys",
    "js-sys",
    "tokio",
    "sqlx",
    "sqlx-",
    "yew",
    "gloo",
    "gloo-",
    "indexed_db_futures",
    "axum",
    "hyper",
    "reqwest",
];

fn is_forbidden(name: &str) -> bool {
    FORBIDDEN.iter().any(|f| match f.strip_suffix('-') {
        Some(_) => name.starts_with(f),
        None => name == *f,
    })
}

fn is_marked_pure(description: &str) -> bool {
    description.starts_with(PURE_MARKER)
        || description.contains(&format!(". {PURE_MARKER}:"))
        || description.contains(&format!(". {PURE_MARKER}."))
}

/// Whether `package`'s normal dependency on `dep` is really on, given its enabled features.
///
/// The metadata's resolve graph lists optional dependencies that only a weak feature
/// (`dep?/feature`) names, which do not get built; e.g. uuid's `std = ["wasm-bindgen?/std"]`.
/// An optional dependency is on when an enabled feature is its implicit feature or names it as
/// `dep:x` or `x/feature`.
fn optional_dep_enabled(package: &Value, enabled: &Value, dep: &str) -> bool {
    let decls: Vec<&Value> = package["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["name"] == dep && d["kind"].is_null())
        .collect();
    if decls.is_empty() || decls.iter().any(|d| d["optional"] != true) {
        return true;
    }
    let enabled: Vec<&str> = enabled.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    decls.iter().any(|d| {
        let key = d["rename"].as_str().unwrap_or(dep);
        enabled.contains(&key)
            || enabled.iter().any(|f| {
                package["features"][*f]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|x| x == format!("dep:{key}") || x.starts_with(&format!("{key}/")))
            })
    })
}

/// For each pure workspace crate, every forbidden crate it reaches through normal (not dev, not
/// build) dependencies, with the chain that pulls it in: `cairn-x -> foo -> tokio`.
fn forbidden_paths(metadata: &Value, pure_names: &[&str]) -> Vec<String> {
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let name_of: BTreeMap<&str, &str> =
        packages.iter().filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?))).collect();
    let members: Vec<&str> =
        metadata["workspace_members"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let pure: Vec<&str> = packages
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(&id)))
        .filter(|p| {
            pure_names.contains(&p["name"].as_str().unwrap_or(""))
                || is_marked_pure(p["description"].as_str().unwrap_or(""))
        })
        .filter_map(|p| p["id"].as_str())
        .collect();

    // id -> ids of its normal dependencies (any target platform: pure means pure everywhere).
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"].as_array().into_iter().flatten() {
        let Some(id) = node["id"].as_str() else { continue };
        let deps = node["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"].is_null()))
            .filter_map(|d| d["pkg"].as_str())
            .filter(|dep| {
                let pkg = packages.iter().find(|p| p["id"] == id);
                let dep_name = name_of.get(dep).copied().unwrap_or("");
                pkg.is_none_or(|p| optional_dep_enabled(p, &node["features"], dep_name))
            })
            .collect();
        graph.insert(id, deps);
    }

    let mut problems = Vec::new();
    for start in pure {
        // Breadth first, so each reported chain is a shortest one.
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut seen = vec![start];
        while let Some(id) = queue.pop_front() {
            for &dep in graph.get(id).into_iter().flatten() {
                if seen.contains(&dep) {
                    continue;
                }
                seen.push(dep);
                parent.insert(dep, id);
                if is_forbidden(name_of.get(dep).copied().unwrap_or("")) {
                    let mut chain = vec![dep];
                    let mut at = dep;
                    while let Some(&p) = parent.get(at) {
                        chain.push(p);
                        at = p;
                    }
                    chain.reverse();
                    let names: Vec<&str> = chain.iter().map(|id| name_of.get(id).copied().unwrap_or(id)).collect();
                    problems.push(format!(
                        "pure crate `{}` depends on forbidden `{}`: {}",
                        names[0],
                        names[names.len() - 1],
                        names.join(" -> ")
                    ));
                } else {
                    queue.push_back(dep);
                }
            }
        }
    }
    problems
}

fn workspace_metadata() -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(project_root())
        .args(["metadata", "--format-version", "1"])
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn pure_crates_have_no_forbidden_dependencies() {
    let metadata = workspace_metadata();
    // The walk sees real edges: the browser glue, were it pure, would fail.
    if metadata["packages"].as_array().into_iter().flatten().any(|p| p["name"] == "cairn-web") {
        let glue = forbidden_paths(&metadata, &["cairn-web"]);
        assert!(glue.iter().any(|p| p.contains("-> wasm-bindgen")), "{glue:?}");
    }
    let problems = forbidden_paths(&metadata, PURE_CRATES);
    assert!(
        problems.is_empty(),
        "the pure crates must build without browser, runtime or database crates \
         (move that code to cairn-web, cairn-ui or cairn-server):\n{}",
        problems.join("\n")
    );
}

/// `file:line` of every `dbg` macro call in `text`.
fn dbg_calls(path: &Path, text: &str) -> Vec<String> {
    let needle = concat!("dbg", "!("); // split so that this file does not match itself
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| format!("{}:{}", path.display(), i + 1))
        .collect()
}

#[test]
fn no_dbg_calls() {
    let root = project_root();
    let mut hits = Vec::new();
    for dir in ["crates", "xtask"] {
        for file in rust_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            hits.extend(dbg_calls(file.strip_prefix(&root).unwrap_or(&file), &text));
        }
    }
    assert!(hits.is_empty(), "remove these dbg! calls:\n{}", hits.join("\n"));
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name();
            if p.is_dir() {
                if name != "target" && name != "node_modules" && !name.to_string_lossy().starts_with('.') {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Whether the first non-blank line is a `//!` comment.
fn starts_with_crate_doc(text: &str) -> bool {
    text.lines().find(|l| !l.trim().is_empty()).is_some_and(|l| l.trim_start().starts_with("//!"))
}

#[test]
fn every_crate_root_has_docs() {
    let root = project_root();
    let mut crate_dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    crate_dirs.push(root.join("xtask"));
    let mut missing = Vec::new();
    for dir in crate_dirs {
        for file in ["src/lib.rs", "src/main.rs"] {
            let path = dir.join(file);
            if let Ok(text) = std::fs::read_to_string(&path) {
                if !starts_with_crate_doc(&text) {
                    missing.push(path.strip_prefix(&root).unwrap_or(&path).display().to_string());
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these crate roots must start with a `//!` comment saying what the crate is for:\n{}",
        missing.join("\n")
    );
}

/// Tracked paths that are build output.
fn tracked_artifacts<'a>(files: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    files
        .into_iter()
        .filter(|f| {
            f.ends_with(".wasm")
                || f.starts_with("target/")
                || f.starts_with("dist/")
                || f.split('/').any(|c| c == "node_modules")
        })
        .collect()
}

#[test]
fn no_build_output_is_tracked() {
    let out = Command::new("git").current_dir(project_root()).args(["ls-files", "-z"]).output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        _ => {
            eprintln!("tidy: not a git checkout (or no git); skipping the tracked-files check");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let bad = tracked_artifacts(text.split('\0').filter(|f| !f.is_empty()));
    assert!(bad.is_empty(), "build output is tracked by git; `git rm --cached` these:\n{}", bad.join("\n"));
}

/// The files `cargo fmt -- --check` printed a difference for (`Diff in /path/file.rs:12:`), once each.
fn unformatted_files(check_output: &str) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for line in check_output.lines() {
        let Some(rest) = line.strip_prefix("Diff in ") else { continue };
        // `path:line:` (older rustfmt: `path at line N:`)
        let rest = rest.trim_end_matches(':');
        let path = match rest.rsplit_once(':') {
            Some((path, n)) if n.chars().all(|c| c.is_ascii_digit()) => path,
            _ => rest.split(" at line ").next().unwrap_or(rest),
        };
        if !files.iter().any(|f| f == path) {
            files.push(path.to_string());
        }
    }
    files
}

#[test]
fn rust_is_formatted() {
    let out = util::cargo().args(["fmt", "--all", "--", "--check"]).output().expect("run cargo fmt");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let root = project_root();
    let files: Vec<String> = unformatted_files(&stdout)
        .into_iter()
        .map(|f| Path::new(&f).strip_prefix(&root).map_or(f.clone(), |p| p.display().to_string()))
        .collect();
    assert!(
        !files.is_empty(),
        "`cargo fmt --all -- --check` failed (is rustfmt installed? `rustup component add rustfmt`):\n{stderr}"
    );
    panic!(
        "these files are not formatted as rustfmt.toml says; run `cargo fmt --all` and commit the result:\n{}",
        files.join("\n")
    );
}

/// The warnings and errors in `cargo clippy --message-format=json` output, rendered, once each
/// (a lib and its unit tests report the lib's warnings twice).
fn clippy_diagnostics(json_lines: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for line in json_lines.lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else { continue };
        if msg["reason"] != "compiler-message" {
            continue;
        }
        let level = msg["message"]["level"].as_str().unwrap_or("");
        // A summary line ("3 warnings emitted") has no span; the diagnostics themselves do.
        let has_span = msg["message"]["spans"].as_array().is_some_and(|s| !s.is_empty());
        if (level == "warning" || level.starts_with("error")) && has_span {
            let rendered = msg["message"]["rendered"].as_str().unwrap_or("").trim_end().to_string();
            if !found.contains(&rendered) {
                found.push(rendered);
            }
        }
    }
    found
}

/// Clippy runs nested in the test run, on the same target directory as the `cargo test` that
/// runs it: cargo releases the build lock before it runs test binaries (checked with cargo 1.95:
/// a test running `cargo check` on its own crate and target dir finishes), so the nested cargo
/// does not wait on its parent, and it reuses the test build's build scripts and proc macros
/// (sqlx's, serde's, yew's: clippy's check units are otherwise its own). Its arguments are
/// plain `cargo clippy`'s, without `-D warnings` (a warning is found in the JSON output instead),
/// so a contributor's own `cargo clippy` run and this one share their cache, warnings included.
/// Cost on the 2-core machine: see the README's "Tests" section.
///
/// Inside `cargo test` rather than a separate step of `cargo xtask test`, so that `cargo test`
/// alone catches a warning too; the wasm run needs the wasm32 target (`cargo xtask test` adds
/// it; otherwise `rustup target add wasm32-unknown-unknown`).
#[test]
fn clippy_is_quiet() {
    let runs: [(&[&str], &str); 2] = [
        (&["clippy", "--workspace", "--all-targets"], "cargo clippy --workspace --all-targets"),
        // The browser code is `cfg(target_arch = "wasm32")`: natively cairn-web and cairn-ui are
        // empty. All features: cairn-web's `worker`, which `cargo xtask dist` builds.
        (
            &["clippy", "-p", "cairn-web", "-p", "cairn-ui", "--target", util::WASM_TARGET, "--all-features"],
            "cargo clippy -p cairn-web -p cairn-ui --target wasm32-unknown-unknown --all-features",
        ),
    ];
    let mut problems = Vec::new();
    for (args, shown) in runs {
        let out = util::cargo().args(args).arg("--message-format=json").output().expect("run cargo clippy");
        let found = clippy_diagnostics(&String::from_utf8_lossy(&out.stdout));
        if !found.is_empty() {
            problems.push(format!(
                "`{shown}` is not clean; fix the code (`{shown} --fix --allow-dirty` fixes some) or, only where \
                 the code is right, `#[allow(clippy::...)]` it with the reason next to it:\n\n{}",
                found.join("\n\n")
            ));
        } else if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let hint = if stderr.contains("may not be installed") || stderr.contains("can't find crate for `core`") {
                format!(" (the target is missing: `rustup target add {}`)", util::WASM_TARGET)
            } else if stderr.contains("clippy") && stderr.contains("not installed") {
                " (clippy is missing: `rustup component add clippy`)".to_string()
            } else {
                String::new()
            };
            problems.push(format!("`{shown}` failed{hint}:\n{stderr}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// The files `prettier --check` named (`[warn] path`), without its closing summary line.
fn prettier_unformatted(check_stderr: &str) -> Vec<&str> {
    check_stderr
        .lines()
        .filter_map(|l| l.strip_prefix("[warn] "))
        .filter(|f| !f.starts_with("Code style issues"))
        .collect()
}

/// `extension/*.js` and `tests/**/*.mjs` (the globs of `npm run format:check` in tests/), with
/// the prettier that `npm ci` in tests/ installs. Without it (no node, or tests/ not installed)
/// the check is skipped, except in CI (`CI` set), where `cargo xtask test` installs it first.
#[test]
fn javascript_is_formatted() {
    let root = project_root();
    let prettier = root.join("tests/node_modules/prettier/bin/prettier.cjs");
    let out = Command::new("node")
        .current_dir(&root)
        .arg(&prettier)
        .args(["--check", "extension/*.js", "tests/**/*.mjs"])
        .output();
    let out = match out {
        Ok(o) if prettier.is_file() => o,
        _ => {
            let why = "needs node and prettier (`npm ci` in tests/; `cargo xtask test` does it)";
            assert!(std::env::var_os("CI").is_none(), "the JavaScript formatting check {why}");
            eprintln!("tidy: skipping the JavaScript formatting check: it {why}");
            return;
        }
    };
    if out.status.success() {
        return;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let files = prettier_unformatted(&stderr);
    assert!(!files.is_empty(), "prettier --check failed:\n{stderr}");
    panic!(
        "these files are not formatted as .prettierrc.json says; run `npm --prefix tests run format` and \
         commit the result:\n{}",
        files.join("\n")
    );
}

// The checks above must be able to fail: each helper is tested on a bad input.

#[test]
fn finds_the_chain_to_a_forbidden_dependency() {
    let metadata = serde_json::json!({
        "packages": [
            {"id": "a", "name": "cairn-model", "description": null},
            {"id": "b", "name": "cairn-thing", "description": "Does things. Pure: no IO."},
            {"id": "c", "name": "helper", "description": "x"},
            {"id": "d", "name": "tokio", "description": "x"},
            {"id": "e", "name": "sqlx-core", "description": "x"},
            {"id": "f", "name": "cairn-server", "description": "Not pure."},
            {"id": "g", "name": "wasm-bindgen", "description": "x"},
            {"id": "h", "name": "web-sys", "description": "x"}
        ],
        "workspace_members": ["a", "b", "f"],
        "resolve": {"nodes": [
            {"id": "a", "deps": [
                {"pkg": "c", "dep_kinds": [{"kind": null, "target": null}]},
                {"pkg": "h", "dep_kinds": [{"kind": "dev", "target": null}]}
            ]},
            {"id": "b", "deps": [
                {"pkg": "e", "dep_kinds": [{"kind": null, "target": "cfg(unix)"}]},
                {"pkg": "g", "dep_kinds": [{"kind": "build", "target": null}]}
            ]},
            {"id": "c", "deps": [{"pkg": "d", "dep_kinds": [{"kind": null, "target": null}]}]},
            {"id": "d", "deps": []},
            {"id": "e", "deps": []},
            {"id": "f", "deps": [{"pkg": "d", "dep_kinds": [{"kind": null, "target": null}]}]},
            {"id": "g", "deps": []},
            {"id": "h", "deps": []}
        ]}
    });
    assert_eq!(
        forbidden_paths(&metadata, PURE_CRATES),
        [
            "pure crate `cairn-model` depends on forbidden `tokio`: cairn-model -> helper -> tokio",
            "pure crate `cairn-thing` depends on forbidden `sqlx-core`: cairn-thing -> sqlx-core",
        ]
    );
}

#[test]
fn forbidden_names_and_markers() {
    for name in ["tokio", "sqlx", "sqlx-sqlite", "gloo-utils", "web-sys", "indexed_db_futures"] {
        assert!(is_forbidden(name), "{name}");
    }
    for name in ["tokio-util-free", "serde", "url", "wasm-bindgen-macro2", "gloomy"] {
        assert!(!is_forbidden(name), "{name}");
    }
    assert!(is_marked_pure("Anchoring. Pure: no IO."));
    assert!(is_marked_pure("Pure data types."));
    assert!(!is_marked_pure("Browser glue. No domain logic."));
}

#[test]
fn tidy_helpers_catch_bad_input() {
    let bad = format!("fn f() {{\n    {}x);\n}}\n", concat!("dbg", "!("));
    assert_eq!(dbg_calls(Path::new("a.rs"), &bad), ["a.rs:2"]);
    assert!(dbg_calls(Path::new("a.rs"), "fn f() {}\n").is_empty());

    assert!(starts_with_crate_doc("\n//! Docs.\nfn f() {}\n"));
    assert!(!starts_with_crate_doc("/// Item docs.\nfn f() {}\n"));
    assert!(!starts_with_crate_doc("use x;\n//! late\n"));
    assert!(!starts_with_crate_doc(""));

    assert_eq!(
        tracked_artifacts([
            "crates/a/src/lib.rs",
            "x/y.wasm",
            "target/debug/a",
            "dist/extension/manifest.json",
            "tests/node_modules/p/index.js",
            "tests/package-lock.json",
        ]),
        ["x/y.wasm", "target/debug/a", "dist/extension/manifest.json", "tests/node_modules/p/index.js"]
    );
}

#[test]
fn fmt_and_clippy_output_is_read() {
    let check = "Diff in /w/crates/a/src/lib.rs:12:\n-fn f( ) {}\n+fn f() {}\nDiff in /w/crates/a/src/lib.rs:30:\n \
                 x\nDiff in /w/b.rs at line 4:\n y\n";
    assert_eq!(unformatted_files(check), ["/w/crates/a/src/lib.rs", "/w/b.rs"]);
    assert!(unformatted_files("").is_empty());

    let span = r#"[{"file_name": "src/lib.rs"}]"#;
    let msg = |level: &str, spans: &str, text: &str| {
        format!(
            r#"{{"reason": "compiler-message", "message": {{"level": "{level}", "spans": {spans}, "rendered": "{text}\n"}}}}"#
        )
    };
    let json = [
        r#"{"reason": "compiler-artifact", "target": {"name": "a"}}"#.to_string(),
        msg("warning", span, "warning: redundant closure"),
        msg("warning", span, "warning: redundant closure"),
        msg("warning", "[]", "warning: 1 warning emitted"),
        msg("error", span, "error: cannot find value"),
        r#"{"reason": "build-finished", "success": false}"#.to_string(),
        "not json".to_string(),
    ]
    .join("\n");
    assert_eq!(clippy_diagnostics(&json), ["warning: redundant closure", "error: cannot find value"]);
    assert!(clippy_diagnostics(r#"{"reason": "build-finished", "success": true}"#).is_empty());

    let prettier = "[warn] extension/ui.js\n[warn] tests/e2e/a.test.mjs\n\
                    [warn] Code style issues found in 2 files. Run Prettier with --write to fix.\n";
    assert_eq!(prettier_unformatted(prettier), ["extension/ui.js", "tests/e2e/a.test.mjs"]);
    assert!(prettier_unformatted("Checking formatting...\nAll matched files use Prettier code style!\n").is_empty());
}

#[test]
fn weak_features_do_not_pull_optional_dependencies() {
    let metadata_for = |uuid_features: &[&str]| {
        serde_json::json!({
            "packages": [
                {"id": "m", "name": "cairn-model", "description": null, "dependencies": [
                    {"name": "uuid", "kind": null, "optional": false}
                ], "features": {}},
                {"id": "u", "name": "uuid", "description": null, "dependencies": [
                    {"name": "wasm-bindgen", "kind": null, "optional": true, "rename": null}
                ], "features": {"std": ["wasm-bindgen?/std"], "js": ["dep:wasm-bindgen"]}},
                {"id": "w", "name": "wasm-bindgen", "description": null, "dependencies": [], "features": {}}
            ],
            "workspace_members": ["m"],
            "resolve": {"nodes": [
                {"id": "m", "features": [], "deps": [{"pkg": "u", "dep_kinds": [{"kind": null, "target": null}]}]},
                {"id": "u", "features": uuid_features, "deps": [{"pkg": "w", "dep_kinds": [{"kind": null, "target": "cfg(target_family = \"wasm\")"}]}]},
                {"id": "w", "features": [], "deps": []}
            ]}
        })
    };
    assert!(forbidden_paths(&metadata_for(&["std"]), PURE_CRATES).is_empty());
    assert_eq!(
        forbidden_paths(&metadata_for(&["std", "js"]), PURE_CRATES),
        ["pure crate `cairn-model` depends on forbidden `wasm-bindgen`: cairn-model -> uuid -> wasm-bindgen"]
    );
}
