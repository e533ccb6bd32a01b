//! One PostgreSQL cluster per test binary, and a fresh database per test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::Connection;

/// A superuser URL of the server tests create their databases in.
fn admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("CAIRN_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => start_cluster().unwrap_or_else(|e| {
            panic!(
                "PostgreSQL tests need a PostgreSQL server and none could be started: {e}\n\
                 Install Debian's `postgresql` package (or run the tests as root, which installs it), \
                 or set CAIRN_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/postgres to a server where USER may create databases."
            )
        }),
    })
}

/// The socket directory of the cluster these tests started (none when
/// `CAIRN_TEST_POSTGRES_URL` names one).
static SOCKET_DIR: OnceLock<PathBuf> = OnceLock::new();

/// `url` (of [`fresh_database`]) through the started cluster's Unix socket instead
/// of TCP, as a server on the database's machine would connect; `None` when the
/// cluster was not started here.
#[allow(dead_code)] // Used by the load benchmark, not by every test binary.
pub fn over_unix_socket(url: &str) -> Option<String> {
    let dir = SOCKET_DIR.get()?;
    Some(format!("{url}?host={}", dir.display()))
}

/// Whether the cluster [`start_cluster`] starts is as durable as the SQLite
/// backend (set by [`durable_as_sqlite`]).
static DURABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes the cluster started here as durable as the SQLite backend
/// (`synchronous=NORMAL` in WAL mode): every write and checkpoint reaches the disk
/// in order (fsync and full-page writes on), and only commits are not waited
/// for (`synchronous_commit=off`: a crash of the machine may lose the last
/// moments, never consistency). Checkpoints are spaced as on a server tuned for
/// writes (`max_wal_size=4GB`; durability is the same), not forced by WAL volume
/// every minute or so of the bench's writes.
/// Tests run without fsync, for speed; the load benchmark compares the two
/// backends and calls this before its first database.
#[allow(dead_code)] // Used by the load benchmark, not by every test binary.
pub fn durable_as_sqlite() {
    DURABLE.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> String {
    let admin = admin_url().to_string();
    let name = format!("cairn_test_{:032x}", rand::random::<u128>());
    let mut conn =
        sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| panic!("cannot connect to {admin}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').expect("CAIRN_TEST_POSTGRES_URL must end with /DATABASE");
    format!("{base}/{name}")
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).map(|s| s.trim() == "0").unwrap_or(false)
}

fn find_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("postgres").exists() && p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    dirs.pop()
}

fn install() -> Result<(), String> {
    if !is_root() {
        return Err("PostgreSQL is not installed under /usr/lib/postgresql and we are not root to install it".into());
    }
    let install = || {
        run(Command::new("apt-get")
            .args(["install", "-y", "-q", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if install().is_err() {
        run(Command::new("apt-get").args(["update", "-q"]))?;
        install()?;
    }
    Ok(())
}

/// Starts a throwaway cluster on a free loopback port; it stops and its
/// directory is removed when this test process exits.
fn start_cluster() -> Result<String, String> {
    let bin = match find_bin_dir() {
        Some(bin) => bin,
        None => {
            install()?;
            find_bin_dir().ok_or("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/postgres appeared")?
        }
    };
    let root = is_root();
    let dir = tempfile::Builder::new().prefix("cairn-pg-").tempdir().map_err(|e| e.to_string())?.keep();
    // The server refuses to run as root, so as root everything runs as `postgres`.
    let as_db_user = |program: &Path| -> Command {
        if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    };
    if root {
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir))?;
    }
    let _ = SOCKET_DIR.set(dir.clone());
    let data = dir.join("data");
    run(as_db_user(&bin.join("initdb"))
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "-D"])
        .arg(&data))?;
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let durability = if DURABLE.load(std::sync::atomic::Ordering::SeqCst) {
        "-c synchronous_commit=off -c max_wal_size=4GB"
    } else {
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    };
    // A watchdog shell stops the server and removes its files once this process is gone.
    let script = format!(
        "{postgres} -D {data} -k {dir} -h 127.0.0.1 -p {port} {durability} \
         -c max_connections=400 -c shared_buffers=64MB >{dir}/log 2>&1 & PG=$!; \
         while [ -d /proc/{pid} ] && kill -0 $PG 2>/dev/null; do sleep 0.5; done; \
         kill -INT $PG 2>/dev/null; wait $PG; rm -rf {dir}",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
        pid = std::process::id(),
    );
    as_db_user(Path::new("/bin/sh"))
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let started = Instant::now();
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            return Err(format!("postgres did not start within 60 s on port {port}; its log:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}
