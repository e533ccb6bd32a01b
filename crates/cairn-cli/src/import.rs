//! `cairn import FILE [--out records.json]`
//!
//! Reads a Hypothesis export, W3C annotations (one, an array, a page or a collection) or
//! Cairn records with `cairn_library::import`, the code the extension's Library runs, and
//! writes the records as a JSON array (to `--out`, else stdout). What was skipped, and why,
//! goes to stderr, one line per item.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_library::import::{import, Import, ImportOptions};

const USAGE: &str = "usage: cairn import FILE [--out records.json]";

/// Now in unix ms: the edge has the clock the core does not.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Random bits for new ids, from the standard library's per-process random hash keys.
pub fn entropy() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_i64(now_ms());
    h.finish()
}

/// Reads and imports `path`: the records and the report.
pub fn read(path: &str) -> Result<Import, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let options = ImportOptions { now_ms: now_ms(), seed: entropy(), ..Default::default() };
    import(&bytes, &options).map_err(|e| format!("{path}: {e}"))
}

/// The report, for people: one line of totals, then one per skipped item.
pub fn report(import: &Import) -> String {
    let r = &import.report;
    let mut out = format!(
        "imported {} annotation(s) from {:?} ({} with new ids), skipped {}\n",
        r.imported,
        r.format,
        r.renamed,
        r.skipped.len()
    );
    for s in &r.skipped {
        out.push_str(&format!(
            "  item {}{}: {}\n",
            s.index,
            s.id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default(),
            s.reason
        ));
    }
    out
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut file = None;
    let mut out = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => out = Some(it.next().ok_or_else(|| format!("--out needs a path; {USAGE}"))?.clone()),
            "-h" | "--help" => return Err(USAGE.to_string()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}; {USAGE}")),
            path if file.is_none() => file = Some(path.to_string()),
            extra => return Err(format!("unexpected argument {extra:?}; {USAGE}")),
        }
    }
    let file = file.ok_or_else(|| USAGE.to_string())?;
    let imported = read(&file)?;
    eprint!("{}", report(&imported));
    let json = serde_json::to_vec_pretty(&imported.records).map_err(|e| e.to_string())?;
    match out {
        Some(path) => std::fs::write(&path, json).map_err(|e| format!("cannot write {path}: {e}")),
        None => {
            println!("{}", String::from_utf8_lossy(&json));
            Ok(())
        }
    }
}
