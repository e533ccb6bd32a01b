//! `cargo xtask dist`: the unpacked extension in `target/dist/extension/`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::manifest;
use crate::util::{self, fmt_duration, fmt_kib, project_root, target_dir, Result, WASM_TARGET};

pub struct Options {
    /// `wasm-release` profile and wasm-opt; otherwise the `dev` profile, no wasm-opt.
    pub release: bool,
}

/// The two wasm modules, each built by its own cargo run (see the module docs of `main`).
const MODULES: &[(&str, &[&str])] = &[("cairn-web", &["--features", "worker"]), ("cairn-ui", &[])];

const WASM_OPT_FLAGS: &[&str] = &[
    "-Oz",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Where the unpacked extension goes.
pub fn dist_dir() -> PathBuf {
    target_dir().join("dist").join("extension")
}

pub fn dist(opts: &Options) -> Result<PathBuf> {
    let started = Instant::now();
    let root = project_root();
    let dist = dist_dir();
    let (profile, profile_dir) = if opts.release { ("wasm-release", "wasm-release") } else { ("dev", "debug") };
    println!("==> dist ({profile} profile) into {}", dist.display());

    util::ensure_wasm_target()?;

    // Build in a private staging directory and swap it in at the end, so that a dist running at
    // the same time (the target directory is shared) or a failed one never leaves a mixed tree.
    let final_dir = dist;
    let dist = final_dir.with_file_name(format!("extension.staging-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(dist.clone());
    if dist.exists() {
        fs::remove_dir_all(&dist).map_err(|e| format!("could not clear {}: {e}", dist.display()))?;
    }
    let wasm_dir = dist.join("wasm");
    fs::create_dir_all(&wasm_dir).map_err(|e| format!("could not create {}: {e}", wasm_dir.display()))?;

    // Cargo decides whether a crate needs rebuilding; bindgen and wasm-opt (most of a release
    // dist's time once cargo has nothing to do) run only when the module cargo left differs from
    // the one whose output is cached (see `BuildCache`).
    let out_dir = target_dir().join(WASM_TARGET).join(profile_dir);
    let mut fresh = Vec::new();
    let mut cached = Vec::new();
    // Cargo itself takes many seconds to find nothing to do here: the two runs build cairn-web
    // with different features, and its cdylib's fingerprint flips between them. So when no input
    // of the wasm crates changed since the last dist (`InputsStamp`), cargo is not run at all.
    let inputs = InputsStamp::now(profile, opts.release);
    let reusable: Option<Vec<BuildCache>> = if inputs.unchanged() {
        MODULES.iter().map(|(package, _)| BuildCache::existing(profile, &package.replace('-', "_"))).collect()
    } else {
        None
    };
    let skip_cargo = reusable.is_some();
    if let Some(caches) = reusable {
        println!("    no input of the wasm crates changed since the last dist: reusing both modules, cargo not run");
        cached = caches;
    }
    for (package, features) in MODULES.iter().filter(|_| !skip_cargo) {
        let t = Instant::now();
        println!("    cargo build {package} ({WASM_TARGET}, {profile})");
        util::run_cmd(
            util::cargo().args(["build", "--target", WASM_TARGET, "--profile", profile, "-p", package]).args(*features),
        )
        .map_err(|e| format!("building the wasm crate {package} failed: {e}"))?;
        let stem = package.replace('-', "_");
        let input = out_dir.join(format!("{stem}.wasm"));
        // Bindgen right away: the next cargo run may rebuild this crate as a dependency.
        let cache = BuildCache::new(profile, &stem, &input, opts.release)?;
        if cache.is_fresh() {
            println!(
                "    {stem} unchanged: reusing its bound{} module",
                if opts.release { " and optimized" } else { "" }
            );
            cached.push(cache);
            continue;
        }
        let staged = cache.stage()?;
        bindgen(&input, &staged, opts.release)?;
        println!("    built and bound {stem} in {}", fmt_duration(t.elapsed()));
        fresh.push((cache, staged));
    }

    if opts.release && !fresh.is_empty() {
        let mut files = Vec::new();
        for (_, staged) in &fresh {
            files.extend(wasm_files(staged)?);
        }
        wasm_opt(&files)?;
    }
    for (cache, staged) in fresh {
        cache.commit(&staged)?;
        cached.push(cache);
    }
    for cache in &cached {
        copy_tree(&cache.out_dir(), &wasm_dir)?;
    }
    inputs.save();

    let ext_src = root.join("extension");
    if !ext_src.is_dir() {
        return Err(format!("{} is missing: the hand-written extension files live there", ext_src.display()));
    }
    copy_tree(&ext_src, &dist)?;
    crate::icons::render_into(&dist)?;

    let manifest_path = root.join("manifest.json");
    let src = fs::read_to_string(&manifest_path).map_err(|e| {
        format!("could not read {} (the extension's manifest, single source of truth): {e}", manifest_path.display())
    })?;
    let cargo_toml = fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let derived = manifest::derive(&src, manifest::workspace_version(&cargo_toml).as_deref())?;
    let text = serde_json::to_string_pretty(&derived).expect("a JSON value serializes") + "\n";
    fs::write(dist.join("manifest.json"), text).map_err(|e| format!("could not write manifest.json: {e}"))?;
    manifest::validate(&dist, &derived)?;

    print_sizes(&wasm_dir)?;
    swap_in(&dist, &final_dir)?;
    let dist = final_dir;
    println!("    extension ready in {}: {}", fmt_duration(started.elapsed()), dist.display());
    println!("    (chrome://extensions, Developer mode, Load unpacked)");
    Ok(dist)
}

/// wasm-bindgen `--target web` glue, from the same library version the crates link (Cargo.lock).
fn bindgen(input: &Path, out_dir: &Path, release: bool) -> Result {
    if !input.is_file() {
        return Err(format!(
            "cargo did not produce {}: is the crate a cdylib (`crate-type = [\"cdylib\", ...]`)?",
            input.display()
        ));
    }
    let mut b = wasm_bindgen_cli_support::Bindgen::new();
    b.input_path(input).typescript(false).remove_name_section(release).remove_producers_section(release);
    // DWARF is dropped, as the wasm-bindgen CLI does without --keep-debug: with it a dev module
    // is 25 MB. The name section stays in dev builds, so stack traces read well.
    b.web(true)
        .and_then(|b| b.generate(out_dir))
        .map_err(|e| format!("wasm-bindgen failed on {}: {e:#}", input.display()))
}

/// npm's binaryen `wasm-opt`, installed by `npm ci` in `tests/`.
fn wasm_opt_bin() -> PathBuf {
    project_root().join("tests/node_modules/.bin/wasm-opt")
}

/// `wasm-opt -Oz` on each of `files` (the `*_bg.wasm` modules), all at once, when npm's binaryen is
/// installed.
fn wasm_opt(files: &[PathBuf]) -> Result {
    let bin = wasm_opt_bin();
    if !bin.is_file() {
        println!(
            "    SKIPPED wasm-opt: {} not found (run `npm ci` in tests/, or `cargo xtask test` \
             which does); the wasm is unoptimized and bigger",
            bin.display()
        );
        return Ok(());
    }
    let t = Instant::now();
    let mut children = Vec::new();
    for file in files {
        let file = file.clone();
        let tmp = file.with_extension("opt.wasm");
        let mut cmd = Command::new(&bin);
        cmd.args(WASM_OPT_FLAGS).arg(&file).arg("-o").arg(&tmp);
        let shown = util::show(&cmd);
        let child = cmd.spawn().map_err(|e| format!("could not start `{shown}`: {e}"))?;
        children.push((child, shown, file, tmp));
    }
    let mut failure = None;
    for (mut child, shown, file, tmp) in children {
        match child.wait() {
            Ok(s) if s.success() => {
                fs::rename(&tmp, &file).map_err(|e| format!("could not replace {}: {e}", file.display()))?
            }
            Ok(s) => failure = Some(format!("`{shown}` failed ({s})")),
            Err(e) => failure = Some(format!("`{shown}`: {e}")),
        }
    }
    match failure {
        Some(f) => Err(f),
        None => {
            println!("    wasm-opt -Oz in {}", fmt_duration(t.elapsed()));
            Ok(())
        }
    }
}

fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("could not list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

fn print_sizes(wasm_dir: &Path) -> Result {
    for file in wasm_files(wasm_dir)? {
        let bytes = fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes).expect("writing to a Vec cannot fail");
        let gz = gz.finish().expect("writing to a Vec cannot fail");
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        println!("    {name:<20} {:>10}  (gzip {})", fmt_kib(bytes.len() as u64), fmt_kib(gz.len() as u64));
    }
    Ok(())
}

/// Copies `from`'s tree into `to` (files overwrite, directories merge).
pub fn copy_tree(from: &Path, to: &Path) -> Result {
    fs::create_dir_all(to).map_err(|e| format!("could not create {}: {e}", to.display()))?;
    let entries = fs::read_dir(from).map_err(|e| format!("could not list {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let ty = entry.file_type().map_err(|e| format!("{}: {e}", src.display()))?;
        if ty.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            // Follows symlinks: the extension must hold real files.
            fs::copy(&src, &dst).map_err(|e| format!("could not copy {} to {}: {e}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// Replaces `dest` with `staged` (two renames; the old tree is deleted afterwards).
fn swap_in(staged: &Path, dest: &Path) -> Result {
    let old = dest.with_file_name(format!("extension.old-{}", std::process::id()));
    if dest.exists() {
        fs::rename(dest, &old).map_err(|e| format!("could not move {} aside: {e}", dest.display()))?;
    }
    fs::rename(staged, dest).map_err(|e| format!("could not move {} to {}: {e}", staged.display(), dest.display()))?;
    if old.exists() {
        let _ = fs::remove_dir_all(&old);
    }
    Ok(())
}

/// The bound (and, for release, optimized) output of one wasm module, kept in
/// `target/dist/cache/PROFILE/MODULE/` with a stamp that says what it was made from: the module
/// cargo produced (length and hash), this file's own code (bindgen and wasm-opt options), the
/// Cargo.lock (the wasm-bindgen version) and the wasm-opt binary. When the stamp matches, the
/// output is reused as is; otherwise it is made again in a staging directory and swapped in.
struct BuildCache {
    dir: PathBuf,
    key: String,
}

impl BuildCache {
    fn new(profile: &str, stem: &str, input: &Path, release: bool) -> Result<Self> {
        let bytes = fs::read(input).map_err(|e| {
            format!(
                "cargo did not produce {} ({e}): is the crate a cdylib (`crate-type = [\"cdylib\", ...]`)?",
                input.display()
            )
        })?;
        let lock = fs::read(project_root().join("Cargo.lock")).unwrap_or_default();
        let opt = if release {
            match fs::metadata(wasm_opt_bin()) {
                Ok(m) => format!("wasm-opt {} bytes, modified {:?}", m.len(), m.modified().ok()),
                Err(_) => "no wasm-opt".to_string(),
            }
        } else {
            "dev, no wasm-opt".to_string()
        };
        let key = format!(
            "input {} bytes {:016x}\nxtask dist.rs {:016x}\nCargo.lock {:016x}\n{opt}\n",
            bytes.len(),
            hash(&bytes),
            hash(include_bytes!("dist.rs")),
            hash(&lock)
        );
        Ok(BuildCache { dir: target_dir().join("dist").join("cache").join(profile).join(stem), key })
    }

    /// The cached output of a module, whatever it was made from (for when no input changed).
    fn existing(profile: &str, stem: &str) -> Option<Self> {
        let dir = target_dir().join("dist").join("cache").join(profile).join(stem);
        let key = fs::read_to_string(dir.join("stamp")).ok()?;
        let cache = BuildCache { dir, key };
        cache.is_fresh().then_some(cache)
    }

    fn out_dir(&self) -> PathBuf {
        self.dir.join("out")
    }

    fn stamp(&self) -> PathBuf {
        self.dir.join("stamp")
    }

    fn is_fresh(&self) -> bool {
        self.out_dir().is_dir() && fs::read_to_string(self.stamp()).is_ok_and(|s| s == self.key)
    }

    /// An empty directory, private to this process, to make the output in.
    fn stage(&self) -> Result<PathBuf> {
        let staged = self.dir.with_file_name(format!(
            "{}.staging-{}",
            self.dir.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        if staged.exists() {
            fs::remove_dir_all(&staged).map_err(|e| format!("could not clear {}: {e}", staged.display()))?;
        }
        fs::create_dir_all(&staged).map_err(|e| format!("could not create {}: {e}", staged.display()))?;
        Ok(staged)
    }

    /// Replaces the cached output with `staged` and writes the stamp (last, so that an
    /// interrupted commit is never taken as fresh).
    fn commit(&self, staged: &Path) -> Result {
        let _cleanup = RemoveOnDrop(staged.to_path_buf());
        let _ = fs::remove_file(self.stamp());
        let out = self.out_dir();
        if out.exists() {
            fs::remove_dir_all(&out).map_err(|e| format!("could not clear {}: {e}", out.display()))?;
        }
        fs::create_dir_all(&self.dir).map_err(|e| format!("could not create {}: {e}", self.dir.display()))?;
        fs::rename(staged, &out)
            .map_err(|e| format!("could not move {} to {}: {e}", staged.display(), out.display()))?;
        fs::write(self.stamp(), &self.key).map_err(|e| format!("could not write {}: {e}", self.stamp().display()))
    }
}

/// What the wasm modules are built from, summed up cheaply: every file under `crates/` (count and
/// newest modification time), the workspace's Cargo.toml, Cargo.lock and cargo config, the
/// toolchain (`rustc -vV`), RUSTFLAGS, this file's code and the wasm-opt binary. Taken before
/// cargo runs and saved after a dist succeeds, so that an edit made during a build is seen next time.
struct InputsStamp {
    path: PathBuf,
    summary: String,
}

impl InputsStamp {
    fn now(profile: &str, release: bool) -> Self {
        let root = project_root();
        let (mut count, mut newest) = (0u64, std::time::SystemTime::UNIX_EPOCH);
        let mut note = |p: &Path| {
            if let Ok(m) = fs::metadata(p) {
                count += 1;
                newest = newest.max(m.modified().unwrap_or(newest));
            }
        };
        let mut stack = vec![root.join("crates")];
        while let Some(dir) = stack.pop() {
            note(&dir); // a file deleted or renamed changes its directory's time
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                let name = entry.file_name();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    if name != "target" && name != "node_modules" && !name.to_string_lossy().starts_with('.') {
                        stack.push(p);
                    }
                } else {
                    note(&p);
                }
            }
        }
        for f in ["Cargo.toml", "Cargo.lock", ".cargo/config.toml", "rust-toolchain.toml", "rust-toolchain"] {
            note(&root.join(f));
        }
        let rustc = Command::new("rustc").arg("-vV").output().map(|o| o.stdout).unwrap_or_default();
        let flags: Vec<String> = ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS"]
            .iter()
            .map(|v| format!("{v}={}", std::env::var(v).unwrap_or_default()))
            .collect();
        let opt = fs::metadata(wasm_opt_bin()).map(|m| (m.len(), m.modified().ok())).ok();
        let since_epoch = newest.duration_since(std::time::SystemTime::UNIX_EPOCH).unwrap_or_default();
        let summary = format!(
            "{count} files, newest {}.{:09}\nrustc {:016x}\n{}\nxtask dist.rs {:016x}\nrelease {release}, wasm-opt {opt:?}\n",
            since_epoch.as_secs(),
            since_epoch.subsec_nanos(),
            hash(&rustc),
            flags.join(" "),
            hash(include_bytes!("dist.rs")),
        );
        InputsStamp { path: target_dir().join("dist").join("cache").join(profile).join("inputs"), summary }
    }

    fn unchanged(&self) -> bool {
        fs::read_to_string(&self.path).is_ok_and(|s| s == self.summary)
    }

    /// Best effort: without it the next dist runs cargo, nothing worse.
    fn save(&self) {
        if let Some(dir) = self.path.parent() {
            let _ = fs::create_dir_all(dir);
        }
        let _ = fs::write(&self.path, &self.summary);
    }
}

/// A 64-bit hash of `bytes` (SipHash with fixed keys: stable for a given toolchain, which is all
/// a cache stamp needs).
fn hash(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

/// Deletes a directory when dropped, if it is still there (a staging tree after a failure).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}
