//! `cairn`: the core's command line, for checking anchoring and clipping on saved pages.
//!
//! * `cairn anchor --html PAGE.html < annotations.jsonl > results.jsonl` (see `anchor.rs`)
//! * `cairn clip PAGE.html --url URL [--format md|json] [--rules RULES.json]` (see `clip.rs`)
//! * `cairn export --format md|w3c|hypothesis|csv --out PATH INPUT` (see `export.rs`)
//! * `cairn import FILE [--out records.json]` (see `import.rs`)
//!
//! Each subcommand lives in its own module and runs exactly the core code the
//! extension runs; this file only dispatches.

mod clip;

mod anchor;
mod export;
mod import;

use std::process::ExitCode;

const HELP: &str = "\
cairn <command> [args]

Commands:
  anchor --html PAGE.html   Anchor W3C annotations (JSON lines on stdin) in a saved page;
                            one result per line on stdout.
  clip PAGE.html --url URL  Clip a saved page to Markdown (--format md|json, --rules RULES.json).
  export --format md|w3c|hypothesis|csv --out PATH INPUT
                            Export annotations (Cairn records, W3C or a Hypothesis export).
  import FILE [--out records.json]
                            Import Hypothesis, W3C or Cairn annotations as Cairn records.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{HELP}");
        return ExitCode::from(2);
    };
    let result: Result<(), String> = match command.as_str() {
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        "clip" => clip::run(rest),
        "anchor" => anchor::run(rest),
        "export" => export::run(rest),
        "import" => import::run(rest),
        other => Err(format!("unknown command {other:?}; run `cairn help` for the list")),
    };
    let _ = rest;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: {e}");
            ExitCode::FAILURE
        }
    }
}
