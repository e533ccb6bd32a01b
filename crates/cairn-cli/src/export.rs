//! `cairn export --format md|w3c|hypothesis|csv --out PATH [--user ACCT] INPUT`
//!
//! Exports annotations with `cairn_library::export`, the code the extension's Library runs.
//! `INPUT` is anything `cairn import` reads (Cairn records, W3C annotations, a Hypothesis
//! export), so this also converts between formats.
//!
//! * `md`: a Markdown vault, one file per page; `--out` is a directory, or a `.zip` file.
//! * `w3c`: a W3C `AnnotationCollection` (JSON-LD).
//! * `hypothesis`: Hypothesis's export JSON; `--user` is the `acct:` id to write (default
//!   `acct:me@cairn.local`).
//! * `csv`: one row per annotation (RFC 4180).

use std::path::Path;

use cairn_library::export::{csv, hypothesis_json, markdown_vault, w3c_collection};
use cairn_library::zip::zip_stored;
use cairn_model::{format_rfc3339_ms, AnnotationId};

use crate::import::{entropy, now_ms, read, report};

const USAGE: &str = "usage: cairn export --format md|w3c|hypothesis|csv --out PATH [--user ACCT] INPUT";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Markdown,
    W3c,
    Hypothesis,
    Csv,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut format = None;
    let mut out = None;
    let mut user = "acct:me@cairn.local".to_string();
    let mut input = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().cloned().ok_or_else(|| format!("{flag} needs a value; {USAGE}"));
        match arg.as_str() {
            "--format" => {
                format = Some(match value("--format")?.as_str() {
                    "md" | "markdown" => Format::Markdown,
                    "w3c" => Format::W3c,
                    "hypothesis" => Format::Hypothesis,
                    "csv" => Format::Csv,
                    other => return Err(format!("unknown format {other:?}: use md, w3c, hypothesis or csv")),
                })
            }
            "--out" => out = Some(value("--out")?),
            "--user" => user = value("--user")?,
            "-h" | "--help" => return Err(USAGE.to_string()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}; {USAGE}")),
            path if input.is_none() => input = Some(path.to_string()),
            extra => return Err(format!("unexpected argument {extra:?}; {USAGE}")),
        }
    }
    let (Some(format), Some(out), Some(input)) = (format, out, input) else { return Err(USAGE.to_string()) };
    let imported = read(&input)?;
    if !imported.report.skipped.is_empty() {
        eprint!("{}", report(&imported));
    }
    let records = &imported.records;
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let now = now_ms();
    match format {
        Format::Markdown if out.ends_with(".zip") => write(Path::new(&out), &zip_stored(&markdown_vault(records)))?,
        Format::Markdown => {
            let dir = Path::new(&out);
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {out}: {e}"))?;
            for (name, bytes) in markdown_vault(records) {
                write(&dir.join(name), &bytes)?;
            }
        }
        Format::W3c => {
            let seed = entropy().to_le_bytes();
            let id = AnnotationId::new_v7(
                now as u64,
                [seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7], 0, 0],
            );
            write(Path::new(&out), &w3c_collection(records, &id.to_urn(), "Cairn export"))?
        }
        Format::Hypothesis => write(Path::new(&out), &hypothesis_json(records, &user, &format_rfc3339_ms(now)))?,
        Format::Csv => write(Path::new(&out), &csv(records))?,
    }
    eprintln!("exported {} annotation(s) to {out}", records.len());
    Ok(())
}
