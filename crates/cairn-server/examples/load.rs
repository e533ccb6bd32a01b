//! Load benchmark for cairn-server (not a test): `cargo run --release -p cairn-server --example load -- [--help]`.
//!
//! The server is the library's router, compiled in release mode, serving real
//! HTTP on 127.0.0.1 from its own Tokio runtime; the load generator runs on
//! another runtime in the same process (both share the machine's cores, as a
//! separate process would).
//!
//! The generator is open-loop at a fixed rate: request `i` is due at
//! `start + i / rate`, and its latency is measured from that due time, so a
//! stalled server is charged for every request that should have been sent
//! meanwhile (coordinated omission corrected). At most `--clients` requests
//! are in flight; a request waiting for a free client is already late.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_model::{Annotation, AnnotationId, Color, Selector};
use cairn_server::config::ServerConfig;
use cairn_server::store::postgres::PostgresStore;
use cairn_server::store::sqlite::SqliteStore;
use cairn_server::store::Store;
use cairn_server::{admin, router, AppState};
use serde_json::{json, Value};

#[path = "../tests/common/postgres.rs"]
#[allow(dead_code)]
mod postgres;

/// As the server binary (`main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str =
    "usage: load [--backend sqlite|postgres|both] [--clients 200] [--step-secs 5] [--seed 5000] [--device-pull 50000]
            [--hold sync|pages@RATE]  (runs that mix at that rate for ten steps, to profile)
PostgreSQL: CAIRN_TEST_POSTGRES_URL, else a throwaway local cluster (as the tests do), reached through its
Unix socket (CAIRN_BENCH_POSTGRES_TCP=1: over TCP); CAIRN_BENCH_PG_CONNECTIONS=N sets the pool size.";

struct Options {
    backends: Vec<&'static str>,
    clients: usize,
    step: Duration,
    seed: usize,
    device_pull: usize,
    /// Instead of searching for the highest rate: one mix at one rate, for profiling.
    hold: Option<(Mix, f64)>,
}

fn options() -> Options {
    let mut o = Options {
        backends: vec!["sqlite", "postgres"],
        clients: 200,
        step: Duration::from_secs(5),
        seed: 5_000,
        device_pull: 50_000,
        hold: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--backend" => {
                o.backends = match value.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    _ => vec!["sqlite", "postgres"],
                }
            }
            "--clients" => o.clients = value.parse().expect("--clients N"),
            "--step-secs" => o.step = Duration::from_secs(value.parse().expect("--step-secs N")),
            "--seed" => o.seed = value.parse().expect("--seed N"),
            "--device-pull" => o.device_pull = value.parse().expect("--device-pull N"),
            "--hold" => {
                let (mix, rate) = value.split_once('@').expect("--hold sync|pages@RATE");
                let mix = if mix == "pages" { Mix::Pages } else { Mix::Sync };
                o.hold = Some((mix, rate.parse().expect("--hold sync|pages@RATE")));
            }
            _ => {
                println!("{USAGE}");
                std::process::exit(if args[i] == "--help" { 0 } else { 2 });
            }
        }
        i += 2;
    }
    o
}

fn new_id(counter: &AtomicU64) -> String {
    let n = counter.fetch_add(1, Ordering::Relaxed);
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&n.to_le_bytes());
    AnnotationId::new_v7(1_790_000_000_000 + n, random).to_urn()
}

fn annotation(id: &str, url: &str, n: u64) -> Value {
    let mut a = Annotation::new_highlight(
        id.parse().unwrap(),
        url,
        vec![Selector::TextQuoteSelector {
            exact: "some quoted words from the page".into(),
            prefix: None,
            suffix: None,
        }],
        Color::Yellow,
        1_790_000_000_000 + n as i64,
    );
    a.set_note("A note of a realistic length, with **some** Markdown and a [link](https://example.org).");
    serde_json::to_value(a).unwrap()
}

struct Bench {
    base: String,
    http: reqwest::Client,
    tokens: Vec<String>,
    ids: AtomicU64,
    seqs: Vec<AtomicU64>,
    max_seq: AtomicU64,
}

impl Bench {
    /// Pushes `count` new annotations, on the sync pages (`page` = None) or on one lookup page.
    async fn push(&self, client: usize, count: usize, page: Option<usize>) -> bool {
        let mutations: Vec<Value> = (0..count)
            .map(|_| {
                let id = new_id(&self.ids);
                let n = self.ids.load(Ordering::Relaxed);
                let seq = self.seqs[client].fetch_add(1, Ordering::Relaxed);
                let url = match page {
                    None => format!("https://bench.example/page/{}", n % 100),
                    Some(p) => format!("https://bench.example/lookup/{p}"),
                };
                json!({"op": "upsert", "seq": seq, "annotation": annotation(&id, &url, n), "communities": ["bench"]})
            })
            .collect();
        let token = &self.tokens[client % self.tokens.len()];
        let device = format!("dev{client}");
        match self
            .http
            .post(format!("{}/v1/sync/push", self.base))
            .bearer_auth(token)
            .json(&json!({"device_id": device, "mutations": mutations}))
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => {
                self.max_seq.fetch_add(count as u64, Ordering::Relaxed);
                r.bytes().await.is_ok()
            }
            _ => false,
        }
    }

    async fn pull(&self, client: usize) -> bool {
        let max = self.max_seq.load(Ordering::Relaxed).saturating_sub(100).max(1);
        let since = (client as u64 * 7919 + self.ids.load(Ordering::Relaxed)) % max;
        let token = &self.tokens[client % self.tokens.len()];
        match self
            .http
            .get(format!("{}/v1/communities/bench/changes?since={since}&limit=100", self.base))
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
            _ => false,
        }
    }

    async fn page(&self, client: usize) -> bool {
        let token = &self.tokens[client % self.tokens.len()];
        let url = format!("https://bench.example/lookup/{}", client % LOOKUP_PAGES);
        match self
            .http
            .get(format!("{}/v1/annotations", self.base))
            .query(&[("url", url)])
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
            _ => false,
        }
    }
}

#[derive(Clone, Copy)]
enum Mix {
    Sync,
    Pages,
}

/// Runs `rate` requests per second for `duration`; returns (p50, p99, max) in ms and the error count.
async fn run_at(bench: Arc<Bench>, mix: Mix, rate: f64, duration: Duration, clients: usize) -> (f64, f64, f64, u64) {
    let total = (rate * duration.as_secs_f64()) as u64;
    let permits = Arc::new(tokio::sync::Semaphore::new(clients));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(total as usize)));
    let push_latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (bench, latencies, errors) = (bench.clone(), latencies.clone(), errors.clone());
        let push_latencies = push_latencies.clone();
        let client = (i as usize) % clients;
        // Every tenth request pushes; `i / 10` spreads the pushes over all clients
        // (and so all users), as `i` would only over the clients 0, 10, 20, ...
        let pusher = (i as usize / 10) % clients;
        tasks.push(tokio::spawn(async move {
            let ok = match mix {
                Mix::Sync if i % 10 == 0 => bench.push(pusher, 10, None).await,
                Mix::Sync => bench.pull(client).await,
                Mix::Pages => bench.page(client).await,
            };
            let latency = due.elapsed();
            drop(permit);
            if !ok {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            latencies.lock().unwrap().push(latency.as_micros() as u64);
            if matches!(mix, Mix::Sync) && i % 10 == 0 {
                push_latencies.lock().unwrap().push(latency.as_micros() as u64);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut pushes = push_latencies.lock().unwrap().clone();
    if !pushes.is_empty() {
        pushes.sort_unstable();
        let p99 = pushes[(pushes.len() * 99 / 100).min(pushes.len() - 1)] as f64 / 1000.0;
        println!("         (pushes alone: p50 {:.1} ms, p99 {p99:.1} ms)", pushes[pushes.len() / 2] as f64 / 1000.0);
    }
    let mut l = latencies.lock().unwrap().clone();
    l.sort_unstable();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1))).copied().unwrap_or(0) as f64 / 1000.0
    };
    (pct(0.50), pct(0.99), l.last().copied().unwrap_or(0) as f64 / 1000.0, errors.load(Ordering::Relaxed))
}

/// Doubles the rate until p99 reaches 100 ms or an error happens, then narrows the
/// step between the last rate held and the first missed (three halvings, so the
/// figure is within 1/16 of the step); returns the highest rate held.
async fn highest_rate(bench: Arc<Bench>, mix: Mix, name: &str, o: &Options) -> f64 {
    // Warm up (connections, caches) at a low rate; not reported.
    run_at(bench.clone(), mix, 50.0, Duration::from_secs(2), o.clients).await;
    let try_rate = |rate: f64| {
        let bench = bench.clone();
        async move {
            let (p50, p99, max, errors) = run_at(bench, mix, rate, o.step, o.clients).await;
            let held = p99 < 100.0 && errors == 0;
            println!("  {name:<6} {rate:>6.0} req/s: p50 {p50:>7.1} ms  p99 {p99:>7.1} ms  max {max:>7.1} ms  errors {errors}{}", if held { "" } else { "  <- not held" });
            held
        }
    };
    let (mut best, mut missed) = (0.0, 100.0);
    while try_rate(missed).await {
        best = missed;
        missed *= 2.0;
        if missed > 50_000.0 {
            return best;
        }
    }
    for _ in 0..3 {
        let rate = ((best + missed) / 2.0_f64).round();
        if try_rate(rate).await {
            best = rate;
        } else {
            missed = rate;
        }
    }
    best
}

async fn seed(bench: Arc<Bench>, n: usize) {
    // Ten pushers of 100 mutations each, as several devices catching up would.
    let batches = n.div_ceil(100) as u64;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..10 {
        let (next, bench) = (next.clone(), bench.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < batches {
                assert!(bench.push(w, 100, None).await, "seeding failed");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Page lookups ask for one of these pages, each with [`PER_LOOKUP_PAGE`] annotations
/// (an intranet page much discussed; the sync mix's pages grow without bound instead).
const LOOKUP_PAGES: usize = 100;
const PER_LOOKUP_PAGE: usize = 20;

async fn seed_lookup_pages(bench: Arc<Bench>) {
    for page in 0..LOOKUP_PAGES {
        assert!(bench.push(page % 10, PER_LOOKUP_PAGE, Some(page)).await, "seeding failed");
    }
}

/// Waits until what earlier runs left for the disk is written (`sync`): a run
/// deletes its databases when it ends, and on a file system mounted with
/// `discard` the next journal commit then trims all those blocks. A commit of
/// that size held every write to the SQLite WAL for ~400 ms, in the middle of the
/// next run's first, slowest steps.
fn settle_the_disk() {
    let started = Instant::now();
    match std::process::Command::new("sync").status() {
        Ok(status) if status.success() => {
            let took = started.elapsed();
            if took > Duration::from_millis(500) {
                println!("  (waited {:.1} s for earlier runs' writes to reach the disk)", took.as_secs_f64());
            }
        }
        _ => println!("  (could not run `sync`: earlier runs' writes may still be reaching the disk)"),
    }
}

/// The store, and the PostgreSQL URL when it is PostgreSQL.
async fn open(backend: &str, dir: &std::path::Path) -> (Arc<dyn Store>, Option<String>) {
    match backend {
        "sqlite" => (Arc::new(SqliteStore::open(&dir.join("bench.sqlite3")).await.unwrap()), None),
        _ => {
            // As durable as the SQLite store it is compared with (fsync on).
            postgres::durable_as_sqlite();
            let url = postgres::fresh_database().await;
            // A server beside its database connects through the Unix socket: on
            // loopback TCP, each round trip cost both processes a trip through the
            // TCP stack. CAIRN_BENCH_POSTGRES_TCP=1 measures over TCP instead.
            let url = match postgres::over_unix_socket(&url) {
                Some(socket) if std::env::var_os("CAIRN_BENCH_POSTGRES_TCP").is_none() => socket,
                _ => url,
            };
            println!("  PostgreSQL at {url}");
            let connections = std::env::var("CAIRN_BENCH_PG_CONNECTIONS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(PostgresStore::default_connections);
            (Arc::new(PostgresStore::open(&url, connections).await.unwrap()), Some(url))
        }
    }
}

/// Gives PostgreSQL's planner statistics of the seeded tables, as autovacuum has
/// on a server that has been running: a fresh database grown in seconds has none,
/// and its plans are those of empty tables.
async fn analyze(url: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
}

fn main() {
    let o = options();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()
        .unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load-client")
        .enable_all()
        .build()
        .unwrap();
    for backend in o.backends.clone() {
        settle_the_disk();
        // CAIRN_BENCH_KEEP=DIR keeps the SQLite file there, to look at afterwards.
        let dir = tempfile::tempdir().unwrap();
        let kept = std::env::var_os("CAIRN_BENCH_KEEP").map(std::path::PathBuf::from);
        let (store, postgres_url) = server_rt.block_on(open(backend, kept.as_deref().unwrap_or(dir.path())));
        let config = ServerConfig { rate_per_second: 0.0, ..ServerConfig::default() };
        let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // In the server's runtime: the state starts listening for other processes' changes.
        let app = {
            let _in_server_runtime = server_rt.enter();
            router(AppState::with_config(store.clone(), config))
        };
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        server_rt.spawn(async move { axum::serve(listener, app).await.unwrap() });

        let tokens = server_rt.block_on(async {
            admin::create_community(store.as_ref(), "bench", "Bench").await.unwrap();
            let mut tokens = Vec::new();
            for u in 0..20 {
                let name = format!("user{u}");
                store.create_user(&name, "Bench user", None, 0).await.unwrap();
                admin::add_member(store.as_ref(), "bench", &name, cairn_protocol::api::Role::Member).await.unwrap();
                tokens.push(admin::issue_token(store.as_ref(), &name, None).await.unwrap());
            }
            tokens
        });
        let http = reqwest::Client::builder().pool_max_idle_per_host(o.clients).build().unwrap();
        let bench = Arc::new(Bench {
            base,
            http,
            tokens,
            ids: AtomicU64::new(0),
            seqs: (0..o.clients).map(|_| AtomicU64::new(1)).collect(),
            max_seq: AtomicU64::new(0),
        });
        println!("== {backend}: {} clients, {} s per step", o.clients, o.step.as_secs());
        client_rt.block_on(async {
            let started = Instant::now();
            seed(bench.clone(), o.seed).await;
            seed_lookup_pages(bench.clone()).await;
            if let Some(url) = &postgres_url {
                analyze(url).await;
            }
            println!("  seeded {} annotations in {:.1} s", o.seed, started.elapsed().as_secs_f64());
            if let Some((mix, rate)) = o.hold {
                run_at(bench.clone(), mix, 50.0, Duration::from_secs(2), o.clients).await;
                let (p50, p99, max, errors) = run_at(bench.clone(), mix, rate, o.step * 10, o.clients).await;
                println!("  held {rate:.0} req/s: p50 {p50:.1} ms  p99 {p99:.1} ms  max {max:.1} ms  errors {errors}");
                return;
            }
            let sync = highest_rate(bench.clone(), Mix::Sync, "sync", &o).await;
            let pages = highest_rate(bench.clone(), Mix::Pages, "pages", &o).await;
            let have = bench.max_seq.load(Ordering::Relaxed) as usize;
            if have < o.device_pull {
                seed(bench.clone(), o.device_pull - have).await;
            }
            let started = Instant::now();
            let (mut since, mut rows) = (0u64, 0usize);
            loop {
                let page: Value = bench.http.get(format!("{}/v1/communities/bench/changes?since={since}&limit=500", bench.base))
                    .bearer_auth(&bench.tokens[0]).send().await.unwrap().json().await.unwrap();
                rows += page["changes"].as_array().unwrap().len();
                since = page["next"].as_u64().unwrap();
                if !page["more"].as_bool().unwrap() {
                    break;
                }
            }
            let pull = started.elapsed().as_secs_f64();
            println!("RESULT {backend}: sync mix held {sync:.0} req/s (p99 < 100 ms, 0 errors); page lookups ({PER_LOOKUP_PAGE} annotations a page) held {pages:.0} req/s; new device pulled {rows} annotations in {pull:.1} s");
        });
        server_rt.block_on(store.close());
    }
}
