//! A tiny static file server for `tests/fixtures/` (demo and test pages), on std::net threads.
//!
//! GET and HEAD only, one request per connection, no directory listings, nothing outside the root.
//! Paths containing `strict-csp` get `Content-Security-Policy: script-src 'self'`, so that the
//! pages which test wasm under a strict page CSP get one.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::Result;

pub const STRICT_CSP: &str = "script-src 'self'";

/// Binds `127.0.0.1:port` (any free port if that one is taken) and serves `root` from a thread.
/// `log` is handed one line per page served (HTML) and per failed request; assets that load
/// fine are not logged.
pub fn start(root: &Path, port: u16, log: impl Fn(String) + Send + Sync + 'static) -> Result<SocketAddr> {
    let root = root.canonicalize().map_err(|e| format!("cannot serve {}: {e}", root.display()))?;
    let listener = bind_loopback(port)?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let log = std::sync::Arc::new(log);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            let log = log.clone();
            std::thread::spawn(move || {
                let _ = handle(stream, &root, &*log);
            });
        }
    });
    Ok(addr)
}

/// `127.0.0.1:port`, or `127.0.0.1:0` when `port` is in use.
pub fn bind_loopback(port: u16) -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
        .or_else(|_| TcpListener::bind(("127.0.0.1", 0)))
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))
}

/// Answers one request and logs it (before the connection closes) if it is a page or a failure.
fn handle(stream: TcpStream, root: &Path, log: &dyn Fn(String)) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers: nothing in them changes the answer.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut out = stream;
    if method != "GET" && method != "HEAD" {
        respond(&mut out, 405, "text/plain", &[], b"method not allowed\n", method)?;
        log(format!("{method} {target} 405"));
        return Ok(());
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if path.contains("strict-csp") {
        extra.push(("Content-Security-Policy", STRICT_CSP));
    }
    let found = resolve(root, path).and_then(|file| std::fs::read(&file).ok().map(|body| (file, body)));
    match found {
        Some((file, body)) => {
            let ty = content_type(&file);
            respond(&mut out, 200, ty, &extra, &body, method)?;
            if ty.starts_with("text/html") {
                log(format!("{method} {target} 200"));
            }
            Ok(())
        }
        None => {
            respond(&mut out, 404, "text/plain", &extra, b"not found\n", method)?;
            log(format!("{method} {target} 404"));
            Ok(())
        }
    }
}

/// The file under `root` that `url_path` names, or `None` (missing, outside root, a bare directory).
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    let mut file = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            s if s.contains('\\') || s.contains('\0') => return None,
            s => file.push(s),
        }
    }
    if file.is_dir() {
        file.push("index.html");
    }
    // Symlinks must not lead out of the root either.
    let file = file.canonicalize().ok()?;
    (file.starts_with(root) && file.is_file()).then_some(file)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn respond(
    out: &mut TcpStream,
    status: u16,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    method: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        out.write_all(body)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn get(addr: SocketAddr, method: &str, path: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp
    }

    #[test]
    fn serves_files_and_nothing_else() {
        let base = std::env::temp_dir().join(format!("xtask-serve-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("intranet")).unwrap();
        std::fs::create_dir_all(root.join("strict-csp")).unwrap();
        std::fs::write(root.join("intranet/index.html"), "<p>hi</p>").unwrap();
        std::fs::write(root.join("strict-csp/index.html"), "<p>csp</p>").unwrap();
        std::fs::write(root.join("app.js"), "1").unwrap();
        std::fs::write(base.join("secret.txt"), "secret").unwrap();

        let (tx, logged) = std::sync::mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let addr = start(&root, 0, move |line| tx.lock().unwrap().send(line).unwrap()).unwrap();
        let r = get(addr, "GET", "/intranet/index.html?x=1");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("text/html") && r.ends_with("<p>hi</p>"), "{r}");
        assert!(!r.contains("Content-Security-Policy"), "{r}");

        let r = get(addr, "GET", "/intranet/");
        assert!(r.starts_with("HTTP/1.1 200") && r.ends_with("<p>hi</p>"), "{r}");

        let r = get(addr, "GET", "/strict-csp/index.html");
        assert!(r.contains("Content-Security-Policy: script-src 'self'"), "{r}");

        let r = get(addr, "HEAD", "/app.js");
        assert!(r.starts_with("HTTP/1.1 200") && r.contains("text/javascript"), "{r}");
        assert!(r.ends_with("\r\n\r\n"), "HEAD has no body: {r}");

        for bad in ["/../secret.txt", "/%2e%2e/secret.txt", "/intranet/../../secret.txt", "/nope.html", "/"] {
            let r = get(addr, "GET", bad);
            assert!(r.starts_with("HTTP/1.1 404"), "{bad}: {r}");
            assert!(!r.contains("secret\n") && !r.ends_with("secret"), "{bad}: {r}");
        }
        assert!(get(addr, "POST", "/app.js").starts_with("HTTP/1.1 405"));
        // Pages and failures are logged, assets that load fine are not.
        let mut lines: Vec<String> = logged.try_iter().collect();
        lines.sort();
        assert!(lines.contains(&"GET /intranet/index.html?x=1 200".to_string()), "{lines:?}");
        assert!(lines.contains(&"GET /nope.html 404".to_string()), "{lines:?}");
        assert!(lines.contains(&"POST /app.js 405".to_string()), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("HEAD /app.js")), "{lines:?}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
