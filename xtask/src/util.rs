//! Small helpers shared by the tasks: paths, running commands with errors that say what to do.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub type Result<T = ()> = std::result::Result<T, String>;

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The workspace root: the parent of this crate's directory.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` (relative to the root).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => project_root().join(dir),
        _ => project_root().join("target"),
    }
}

/// The cargo that runs us (`$CARGO`), so that a toolchain override applies to sub-builds too.
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project_root());
    cmd
}

/// Runs `cmd` with inherited stdio; an error names the command and its exit status.
pub fn run_cmd(cmd: &mut Command) -> Result {
    let shown = show(cmd);
    let status = cmd.status().map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Runs `cmd` and returns its stdout; stderr is passed through.
pub fn output_of(cmd: &mut Command) -> Result<String> {
    let shown = show(cmd);
    let out =
        cmd.stderr(std::process::Stdio::inherit()).output().map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{shown}` failed ({})", out.status));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("`{shown}` printed non-UTF-8 output"))
}

/// The command line, for messages.
pub fn show(cmd: &Command) -> String {
    let program = cmd.get_program();
    let mut s = if std::env::var_os("CARGO").is_some_and(|c| c == program) {
        "cargo".to_string() // not the toolchain's full path
    } else {
        program.to_string_lossy().into_owned()
    };
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Adds the wasm target with rustup unless it is installed already.
pub fn ensure_wasm_target() -> Result {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(out) if out.status.success() => {
            if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == WASM_TARGET) {
                return Ok(());
            }
            println!("    adding the {WASM_TARGET} target with rustup");
            run_cmd(Command::new("rustup").args(["target", "add", WASM_TARGET]))
                .map_err(|e| format!("{e}; install it by hand with `rustup target add {WASM_TARGET}`"))
        }
        _ => {
            // No rustup (a distribution's Rust): look for the target's std in the sysroot.
            let sysroot = output_of(Command::new("rustc").args(["--print", "sysroot"]))?;
            let lib = Path::new(sysroot.trim()).join("lib/rustlib").join(WASM_TARGET);
            if lib.is_dir() {
                Ok(())
            } else {
                Err(format!(
                    "the Rust target {WASM_TARGET} is missing and rustup is not available: \
                     install rustup (https://rustup.rs) or your distribution's std for {WASM_TARGET}"
                ))
            }
        }
    }
}

/// `1.2s`, `3m 04s`.
pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

/// `123.4 KiB`.
pub fn fmt_kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Whether this process runs as root (reads `/proc`, no libc needed).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// The Chromium to use: `$CHROMIUM` or `/usr/bin/chromium`.
pub fn chromium_path() -> PathBuf {
    match std::env::var_os("CHROMIUM") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/usr/bin/chromium"),
    }
}

/// Finds `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(fmt_duration(Duration::from_secs(184)), "3m 04s");
        assert_eq!(fmt_kib(126_362), "123.4 KiB");
    }
}
