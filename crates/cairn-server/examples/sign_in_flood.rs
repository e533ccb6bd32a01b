//! How a flood of bad sign-ins affects everyone else: `GET /v1/me` latency
//! while 200 parallel anonymous sign-ins with wrong passwords run, against the
//! same latency with nothing else going on. Figures only, never a verdict.
//!
//! ```sh
//! cargo run --release -p cairn-server --example sign_in_flood
//! ```
//!
//! The sign-ins come from 200 loopback addresses (127.0.1.1 and up) with 200
//! usernames, so that the failed-sign-in throttle does not stop them and every
//! one costs an argon2 hash.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_server::config::ServerConfig;
use cairn_server::store::sqlite::SqliteStore;
use cairn_server::store::Store;
use cairn_server::{admin, router, AppState};

const FLOOD: usize = 200;
const SAMPLES: usize = 200;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("bench.sqlite3")).await?);
    admin::seed_demo(store.as_ref()).await?;
    let token = admin::issue_token(store.as_ref(), "alice", None).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    // No per-token rate limit: the samples below would exceed its burst.
    let config = ServerConfig { rate_per_second: 0.0, ..ServerConfig::default() };
    let app = router(AppState::with_config(store.clone(), config));
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await });
    let http = reqwest::Client::new();

    let idle = me_latencies(&http, &base, &token).await?;

    let flooding = Arc::new(AtomicBool::new(true));
    let answered = Arc::new(AtomicU64::new(0));
    let mut attackers = Vec::new();
    for i in 0..FLOOD {
        let ip = IpAddr::from([127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8]);
        let client = reqwest::Client::builder().local_address(ip).build()?;
        let (url, flooding, answered) = (format!("{base}/v1/session"), flooding.clone(), answered.clone());
        attackers.push(tokio::spawn(async move {
            // Stop before the throttle would (10 failures per username and address).
            for n in 0..9 {
                if !flooding.load(Ordering::Relaxed) {
                    break;
                }
                let body = serde_json::json!({"username": format!("user{i}"), "password": format!("guess {n}")});
                if client.post(&url).json(&body).send().await.is_ok() {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let flood_started = Instant::now();
    let waiting = http.get(format!("{base}/metrics")).send().await?.text().await?;
    let waiting = waiting.lines().find(|l| l.starts_with("cairn_password_checks_waiting ")).unwrap_or("").to_string();
    println!("after 200 ms of the flood: {waiting}");
    let during = me_latencies(&http, &base, &token).await?;
    let flood_took = flood_started.elapsed();
    flooding.store(false, Ordering::Relaxed);
    let attempts = answered.load(Ordering::Relaxed);
    for attacker in attackers {
        attacker.abort();
    }

    println!("GET /v1/me, {SAMPLES} sequential requests");
    report("idle", &idle);
    report(&format!("during {FLOOD} parallel bad sign-ins"), &during);
    println!("peak memory of the process (server and clients): {}", peak_memory());
    println!("{attempts} bad sign-ins answered while the samples during the flood took {flood_took:.2?}");
    Ok(())
}

async fn me_latencies(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let response = http.get(format!("{base}/v1/me")).bearer_auth(token).send().await?;
        anyhow::ensure!(response.status() == 200, "GET /v1/me answered {}", response.status());
        response.bytes().await?;
        out.push(started.elapsed());
    }
    out.sort();
    Ok(out)
}

fn report(what: &str, sorted: &[Duration]) {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {what:<40} p50 {:>9.2?}  p90 {:>9.2?}  p99 {:>9.2?}  max {:>9.2?}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

/// The process's peak resident memory (Linux), to show that the hashing slots bound it.
fn peak_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map_or("unknown".into(), |l| l["VmHWM:".len()..].trim().to_string())
}
