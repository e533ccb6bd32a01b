//! `cargo xtask run`: the extension, the demo server and the demo pages, ready to click through.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::dist;
use crate::serve;
use crate::util::{self, project_root, target_dir, Result};

pub struct Options {
    /// Do not launch a browser (also implied when there is no display).
    pub headless: bool,
    pub release_server: bool,
    pub release_dist: bool,
}

const SERVER_PORT: u16 = 8787;
const FIXTURES_PORT: u16 = 8788;
const DEMO_PAGE: &str = "/intranet/index.html";
const DEMO_LOGINS: &str = "    \
    alice / alice-demo-password   (community demo-team)
    bob   / bob-demo-password     (community demo-team)
    carol / carol-demo-password   (community other-team)";

pub fn run(opts: &Options) -> Result {
    let dist = dist::dist(&dist::Options { release: opts.release_dist })?;
    let server_bin = build_server(opts.release_server)?;

    // Children are stopped when this guard drops: on Ctrl-C, on error and on normal exit.
    let mut children = Children::default();
    let (tx, events) = mpsc::channel::<Event>();
    {
        let tx = tx.clone();
        ctrlc::set_handler(move || {
            let _ = tx.send(Event::Interrupted);
        })
        .map_err(|e| format!("could not install the Ctrl-C handler: {e}"))?;
    }

    let run_dir = target_dir().join("cairn-run");
    let data_dir = run_dir.join("data");
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("could not create {}: {e}", data_dir.display()))?;
    let port = match serve::bind_loopback(SERVER_PORT) {
        Ok(l) if l.local_addr().is_ok_and(|a| a.port() == SERVER_PORT) => SERVER_PORT,
        _ => 0,
    };
    let (server, server_url) = start_server(&server_bin, &format!("127.0.0.1:{port}"), &data_dir, "[server] ")?;
    children.push("cairn-server", server);

    let fixtures = project_root().join("tests/fixtures");
    let fixtures_origin = if fixtures.is_dir() {
        let addr = serve::start(&fixtures, FIXTURES_PORT)?;
        Some(format!("http://{addr}"))
    } else {
        println!("    warning: {} is missing; no demo pages are served", fixtures.display());
        None
    };

    let preset = serde_json::json!({
        "allowed_sites": fixtures_origin.iter().collect::<Vec<_>>(),
        "server_url": server_url,
    });
    let preset_path = dist.join("preset.json");
    std::fs::write(&preset_path, serde_json::to_string_pretty(&preset).expect("JSON serializes") + "\n")
        .map_err(|e| format!("could not write {}: {e}", preset_path.display()))?;

    let demo_url = match &fixtures_origin {
        Some(o) => format!("{o}{DEMO_PAGE}"),
        None => server_url.clone(),
    };
    println!();
    println!("    extension  {}", dist.display());
    println!("    server     {server_url}   (data in {})", data_dir.display());
    if let Some(o) = &fixtures_origin {
        println!("    demo pages {o}/   (from {})", fixtures.display());
    }
    println!("    demo page  {demo_url}");
    println!("    demo logins:\n{DEMO_LOGINS}");
    println!();

    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if opts.headless || !has_display {
        if !opts.headless {
            println!("    no DISPLAY or WAYLAND_DISPLAY: not launching a browser.");
        }
        println!("    Load the extension above unpacked (chrome://extensions), then open the demo page.");
    } else {
        let chromium = util::chromium_path();
        let profile = run_dir.join("profile");
        let mut cmd = Command::new(&chromium);
        cmd.arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--load-extension={}", dist.display()))
            .arg(format!("--disable-extensions-except={}", dist.display()))
            .args([
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ]);
        if util::is_root() {
            cmd.arg("--no-sandbox");
        }
        cmd.arg(&demo_url);
        let browser = cmd.spawn().map_err(|e| {
            format!(
                "could not start {}: {e}; install Chromium (apt-get install chromium) \
                 or set CHROMIUM=/path/to/chromium, or use --headless",
                chromium.display()
            )
        })?;
        children.push("chromium", browser);
    }
    println!("    Ctrl-C stops everything.");

    loop {
        match events.recv_timeout(Duration::from_millis(300)) {
            Ok(Event::Interrupted) => {
                println!("\n    stopping");
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Some((name, status)) = children.exited() {
            // A terminal's Ctrl-C reaches the children too; their exit is then no surprise.
            if let Ok(Event::Interrupted) = events.recv_timeout(Duration::from_millis(300)) {
                println!("\n    stopping");
                break;
            }
            if name == "chromium" {
                println!("    the browser closed; stopping");
                break;
            }
            return Err(format!("{name} exited unexpectedly ({status})"));
        }
    }
    drop(children);
    Ok(())
}

enum Event {
    Interrupted,
}

/// `cargo build -p cairn-server`; the binary's path.
pub fn build_server(release: bool) -> Result<PathBuf> {
    let mut cmd = util::cargo();
    cmd.args(["build", "-p", "cairn-server"]);
    if release {
        cmd.arg("--release");
    }
    println!("==> cargo build -p cairn-server{}", if release { " --release" } else { "" });
    util::run_cmd(&mut cmd).map_err(|e| format!("building the server failed: {e}"))?;
    let bin = target_dir()
        .join(if release { "release" } else { "debug" })
        .join(format!("cairn-server{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("cargo built cairn-server but {} is missing", bin.display()))
    }
}

/// Starts `cairn-server serve --demo`, waits for its `listening on URL` line; echoes its output.
fn start_server(bin: &Path, listen: &str, data_dir: &Path, prefix: &'static str) -> Result<(Child, String)> {
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--demo", "--listen", listen, "--data-dir"]).arg(data_dir).stdout(Stdio::piped());
    let shown = util::show(&cmd);
    let mut child = cmd.spawn().map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(first)) = lines.next() {
            println!("{prefix}{first}");
            let _ = tx.send(first);
        }
        for line in lines.map_while(std::result::Result::ok) {
            println!("{prefix}{line}");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => break line,
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("`{shown}` exited ({status}) before it was listening"));
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{shown}` did not print `cairn-server listening on http://...` within 30 s"));
            }
        }
    };
    match parse_listening(&first) {
        Some(url) => Ok((child, url)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("`{shown}` printed {first:?} first; expected `cairn-server listening on http://IP:PORT`"))
        }
    }
}

/// `cairn-server listening on http://127.0.0.1:8787` → `http://127.0.0.1:8787`.
pub fn parse_listening(line: &str) -> Option<String> {
    let url = line.trim().strip_prefix("cairn-server listening on ")?;
    url.starts_with("http://").then(|| url.trim_end_matches('/').to_string())
}

/// Child processes, stopped (SIGTERM, then SIGKILL after 3 s) when dropped.
#[derive(Default)]
struct Children(Vec<(&'static str, Child)>);

impl Children {
    fn push(&mut self, name: &'static str, child: Child) {
        self.0.push((name, child));
    }

    /// The first child that has exited, taken out of the list.
    fn exited(&mut self) -> Option<(&'static str, std::process::ExitStatus)> {
        let i = self.0.iter_mut().position(|(_, c)| matches!(c.try_wait(), Ok(Some(_))))?;
        let (name, mut child) = self.0.remove(i);
        let status = child.wait().ok()?;
        Some((name, status))
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        // Browser first, so it does not report a vanished server.
        for (_, child) in self.0.iter_mut().rev() {
            if let Ok(None) = child.try_wait() {
                let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).stderr(Stdio::null()).status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for (name, child) in self.0.iter_mut().rev() {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if let Ok(None) = child.try_wait() {
                eprintln!("    {name} did not stop on SIGTERM; killing it");
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        assert_eq!(
            parse_listening("cairn-server listening on http://127.0.0.1:8787\n").as_deref(),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(parse_listening("listening on http://127.0.0.1:1"), None);
        assert_eq!(parse_listening("cairn-server listening on 127.0.0.1:1"), None);
    }
}
