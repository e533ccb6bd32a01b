//! `cargo xtask run`: the extension, the demo server and the demo pages, ready to click through.

use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::dist;
use crate::serve;
use crate::util::{self, fmt_duration, project_root, target_dir, Result};

pub struct Options {
    /// Do not launch a browser (also implied when there is no display).
    pub headless: bool,
    pub release_server: bool,
    pub release_dist: bool,
}

const SERVER_PORT: u16 = 8787;
const FIXTURES_PORT: u16 = 8788;
const DEMO_PAGE: &str = "/intranet/index.html";
/// Fixed by the `key` in manifest.json (the server's default allowed extension origin names it too).
const EXTENSION_ID: &str = "olgobbnoljhjkginkhjjfcacgmgdlooj";
/// The demo accounts `cairn-server serve --demo` creates, with their community's display name.
const DEMO_LOGINS: &[(&str, &str, &str)] = &[
    ("alice", "alice-demo-password", "Demo team"),
    ("bob", "bob-demo-password", "Demo team"),
    ("carol", "carol-demo-password", "Other team"),
];

pub fn run(opts: &Options) -> Result {
    let started = Instant::now();
    // Children write into pipes, so they cannot tell whether a terminal is at the end: when ours
    // is not one, ask them for no colours (NO_COLOR) and strip what escapes come anyway.
    let plain = !std::io::stdout().is_terminal();
    let t = Instant::now();
    let dist = dist::dist(&dist::Options { release: opts.release_dist })?;
    let dist_time = t.elapsed();
    let t = Instant::now();
    let server_bin = build_server(opts.release_server)?;
    let server_build_time = t.elapsed();

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
    let (server, server_url) =
        start_server(server_command(&server_bin, &format!("127.0.0.1:{port}"), &data_dir, plain), plain)?;
    children.push(SERVER, server);
    // A restart listens where the extension was told the server is.
    let restart_cmd = server_command(&server_bin, server_url.trim_start_matches("http://"), &data_dir, plain);

    let fixtures = project_root().join("tests/fixtures");
    let fixtures_origin = if fixtures.is_dir() {
        let addr = serve::start(&fixtures, FIXTURES_PORT, move |line| print_prefixed("[pages] ", &line, plain))?;
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
    let shortcut = highlight_shortcut(&dist);
    println!();
    println!("    extension  {}", dist.display());
    println!("    options    chrome-extension://{EXTENSION_ID}/options.html");
    println!("    server     {server_url}   (data in {})", data_dir.display());
    if let Some(o) = &fixtures_origin {
        println!("    demo pages {o}/   (from {})", fixtures.display());
    }
    println!("    demo page  {demo_url}");
    println!("    demo logins (username / password, community):");
    for line in demo_logins() {
        println!("      {line}");
    }
    println!();

    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    let (alice, alice_password, _) = DEMO_LOGINS[0];
    let with_browser = !opts.headless && has_display;
    if !with_browser {
        if !opts.headless {
            println!("    no DISPLAY or WAYLAND_DISPLAY: not launching a browser.");
        }
        println!("    Next steps:");
        println!("      1. Load the extension above unpacked: chrome://extensions, Developer mode, Load unpacked.");
        println!("      2. Sign in: open Cairn's Options (the options URL above, or Details > Extension options)");
        println!(
            "         and sign in with a demo login, e.g. {alice} / {alice_password} (the server URL is filled in)."
        );
        println!(
            "      3. Open the demo page, select text and press {shortcut} (or right-click > Highlight with Cairn)."
        );
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
        cmd.arg(&demo_url).stdout(Stdio::piped()).stderr(Stdio::piped());
        if plain {
            cmd.env("NO_COLOR", "1");
        }
        let mut browser = cmd.spawn().map_err(|e| {
            format!(
                "could not start {}: {e}; install Chromium (apt-get install chromium) \
                 or set CHROMIUM=/path/to/chromium, or use --headless",
                chromium.display()
            )
        })?;
        prefix_output(&mut browser, "[chromium] ", plain);
        children.push(BROWSER, browser);
        println!("    Chromium is open on the demo page with Cairn loaded. Next steps:");
        println!("      1. Sign in: Cairn's toolbar button > Options (or the options URL above), then a demo login,");
        println!("         e.g. {alice} / {alice_password} (the server URL is filled in).");
        println!(
            "      2. On the demo page, select text and press {shortcut} (or right-click > Highlight with Cairn)."
        );
    }
    println!();
    println!(
        "    ready in {} (extension {}, server build {}). Ctrl-C stops everything.",
        fmt_duration(started.elapsed()),
        fmt_duration(dist_time),
        fmt_duration(server_build_time)
    );
    // Enter restarts a stopped server; only read a terminal (a closed or redirected stdin
    // would read as an endless stream of empty lines or nothing at all).
    if std::io::stdin().is_terminal() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                if line.is_err() || tx.send(Event::Enter).is_err() {
                    break;
                }
            }
        });
    }

    let mut server_down = false;
    loop {
        match events.recv_timeout(Duration::from_millis(300)) {
            Ok(Event::Interrupted) => {
                println!("\n    stopping");
                break;
            }
            Ok(Event::Enter) if server_down => {
                println!("    restarting the Cairn server");
                let cmd = server_command(&server_bin, server_url.trim_start_matches("http://"), &data_dir, plain);
                match start_server(cmd, plain) {
                    Ok((server, _)) => {
                        children.push(SERVER, server);
                        server_down = false;
                        println!("    the Cairn server is back on {server_url}");
                    }
                    Err(e) => {
                        println!("    could not restart the Cairn server: {e}");
                        println!("    press Enter to try again");
                    }
                }
            }
            Ok(Event::Enter) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Some((name, status)) = children.exited() {
            // A terminal's Ctrl-C reaches the children too; their exit is then no surprise.
            if let Ok(Event::Interrupted) = events.recv_timeout(Duration::from_millis(300)) {
                println!("\n    stopping");
                break;
            }
            if name == BROWSER {
                println!("    the browser closed; stopping");
                break;
            }
            // The server stopped on its own (crashed, or killed): the demo pages and the browser
            // stay up, and the user is told how to bring it back.
            server_down = true;
            println!();
            println!(
                "    the Cairn server stopped ({status}); the demo pages{} stay up.",
                if with_browser { " and the browser" } else { "" }
            );
            if std::io::stdin().is_terminal() {
                println!("    Press Enter here to restart it, or run it yourself:");
            } else {
                println!("    Restart it with:");
            }
            println!("      {}", util::show(&restart_cmd));
            println!("    Highlights made meanwhile are kept and synced when it is back (Cairn's popup > Sync now).");
        }
    }
    drop(children);
    Ok(())
}

const SERVER: &str = "cairn-server";
const BROWSER: &str = "chromium";

enum Event {
    Interrupted,
    /// A line typed on the terminal.
    Enter,
}

/// The logins as printed: `alice / alice-demo-password   Demo team`.
fn demo_logins() -> Vec<String> {
    let width = DEMO_LOGINS.iter().map(|(u, p, _)| u.len() + p.len() + 3).max().unwrap_or(0);
    DEMO_LOGINS.iter().map(|(u, p, c)| format!("{:<width$}   {c}", format!("{u} / {p}"))).collect()
}

/// The highlight command's default key, from the packaged manifest.
fn highlight_shortcut(dist: &Path) -> String {
    std::fs::read_to_string(dist.join("manifest.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|m| m["commands"]["highlight-selection"]["suggested_key"]["default"].as_str().map(String::from))
        .unwrap_or_else(|| "the Highlight with Cairn shortcut".to_string())
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

/// `cairn-server serve --demo --listen LISTEN --data-dir DIR`.
fn server_command(bin: &Path, listen: &str, data_dir: &Path, plain: bool) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--demo", "--listen", listen, "--data-dir"]).arg(data_dir);
    if plain {
        cmd.env("NO_COLOR", "1");
    }
    cmd
}

/// Starts the server, waits for its `listening on URL` line; its output is echoed as `[server] `
/// lines.
fn start_server(mut cmd: Command, plain: bool) -> Result<(Child, String)> {
    const PREFIX: &str = "[server] ";
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let shown = util::show(&cmd);
    let mut child = cmd.spawn().map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || echo_lines(stderr, PREFIX, plain, |_| {}));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut first = Some(tx);
        echo_lines(stdout, PREFIX, plain, move |line| {
            if let Some(tx) = first.take() {
                let _ = tx.send(line.to_string());
            }
        });
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

/// Echoes a child's stdout and stderr line by line behind `prefix`.
fn prefix_output(child: &mut Child, prefix: &'static str, plain: bool) {
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || echo_lines(out, prefix, plain, |_| {}));
    }
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || echo_lines(err, prefix, plain, |_| {}));
    }
}

/// Prints each line of `from` behind `prefix` (escapes stripped when `plain`), after handing it
/// to `seen`; ends at end of file. Lines need not be UTF-8.
fn echo_lines(from: impl Read, prefix: &str, plain: bool, mut seen: impl FnMut(&str)) {
    let mut reader = BufReader::new(from);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        seen(&strip_ansi(line));
        print_prefixed(prefix, line, plain);
    }
}

/// One line of a child's output, behind its prefix.
fn print_prefixed(prefix: &str, line: &str, plain: bool) {
    if plain {
        println!("{prefix}{}", strip_ansi(line));
    } else {
        println!("{prefix}{line}");
    }
}

/// `line` without ANSI escape sequences: CSI (`ESC [ ... final`, colours and cursor moves), OSC
/// (`ESC ] ... BEL` or `ESC ] ... ESC \`) and two-byte escapes.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // Parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
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
    fn strips_ansi_escapes() {
        assert_eq!(
            strip_ansi(
                "\x1b[2m2026-12-03T18:00:00Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[2mcairn_server\x1b[0m\x1b[2m:\x1b[0m up"
            ),
            "2026-12-03T18:00:00Z  INFO cairn_server: up"
        );
        assert_eq!(strip_ansi("\x1b]0;title\x07text \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"), "text link");
        assert_eq!(strip_ansi("plain: 100% [ok]"), "plain: 100% [ok]");
        assert_eq!(strip_ansi("cut \x1b["), "cut ");
    }

    #[test]
    fn logins_name_the_communities_as_the_ui_does() {
        let lines = demo_logins();
        assert_eq!(lines[0], "alice / alice-demo-password   Demo team");
        assert_eq!(lines[2], "carol / carol-demo-password   Other team");
        // The server's demo data is the source of these names and passwords.
        let admin = std::fs::read_to_string(project_root().join("crates/cairn-server/src/admin.rs")).unwrap();
        for (user, password, community) in DEMO_LOGINS {
            assert!(admin.contains(&format!("\"{community}\"")), "{community} is not a demo community's name");
            assert!(admin.contains(&format!("\"{user}\"")) && admin.contains(password), "{user} / {password}");
        }
        let config = std::fs::read_to_string(project_root().join("crates/cairn-server/src/config.rs")).unwrap();
        assert!(config.contains(&format!("chrome-extension://{EXTENSION_ID}")), "the demo build's id changed");
    }

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
