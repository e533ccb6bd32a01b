//! The real binary on each backend: serving from PostgreSQL by URL, the backup
//! command, and crash safety (SIGKILL during a write load, restart, check).

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use cairn_protocol::api::{ChangesResponse, SignInResponse};
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_cairn-server");

/// Starts `serve --demo` on the current backend and returns the child and base URL.
async fn serve(data_dir: &Path, database: Option<&str>) -> (Child, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--rate-limit-per-second", "0", "--data-dir"])
        .arg(data_dir);
    if let Some(url) = database {
        cmd.args(["--database", url]);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("the server printed nothing");
    let base = line.strip_prefix("cairn-server listening on ").unwrap().to_string();
    (child, base)
}

async fn sign_in(http: &reqwest::Client, base: &str, user: &str) -> String {
    let r = http
        .post(format!("{base}/v1/session"))
        .json(&json!({"username": user, "password": format!("{user}-demo-password")}))
        .send()
        .await
        .unwrap();
    r.json::<SignInResponse>().await.unwrap().token
}

/// Every annotation id alice has live, from her own change feed.
async fn alice_ids(http: &reqwest::Client, base: &str, token: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut since = 0;
    loop {
        let page: ChangesResponse = http
            .get(format!("{base}/v1/me/changes?since={since}&limit=500"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.extend(page.changes.iter().map(|c| c.id.clone()));
        since = page.next;
        if !page.more {
            return ids;
        }
    }
}

fn database_arg(url: &Option<String>) -> Option<&str> {
    url.as_deref()
}

both_backends! {
    async fn acknowledged_pushes_survive_sigkill_and_no_batch_is_half_applied() {
        let dir = tempfile::tempdir().unwrap();
        let url = match backend() {
            Backend::Sqlite => None,
            Backend::Postgres => Some(common::postgres::fresh_database().await),
        };
        let http = reqwest::Client::new();
        let acked: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let sent: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        for round in 0..3u64 {
            let (mut child, base) = serve(dir.path(), database_arg(&url)).await;
            let token = sign_in(&http, &base, "alice").await;
            let mut writers = Vec::new();
            for w in 0..4u64 {
                let (http, base, token, acked, sent) = (http.clone(), base.clone(), token.clone(), acked.clone(), sent.clone());
                writers.push(tokio::spawn(async move {
                    for n in 0u64.. {
                        let ids: Vec<String> = (0..10).map(|_| new_id()).collect();
                        let mutations: Vec<Value> = ids.iter().enumerate()
                            .map(|(i, id)| upsert(n * 10 + i as u64 + 1, &annotation(id, "https://a.example/crash", "n", T0), &["demo-team"]))
                            .collect();
                        sent.lock().unwrap().push(ids.clone());
                        let device = format!("r{round}w{w}");
                        let result = http.post(format!("{base}/v1/sync/push")).bearer_auth(&token)
                            .json(&json!({"device_id": device, "mutations": mutations})).send().await;
                        match result {
                            Ok(r) if r.status() == 200 => {
                                let body: Value = match r.json().await { Ok(b) => b, Err(_) => return };
                                assert!(body["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{body}");
                                acked.lock().unwrap().push(ids);
                            }
                            _ => return, // the server is gone
                        }
                    }
                }));
            }
            // Kill once some batches are acknowledged, while the writers keep writing.
            while acked.lock().unwrap().len() < (round as usize + 1) * 20 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            child.start_kill().unwrap(); // SIGKILL
            child.wait().await.unwrap();
            for w in writers {
                w.await.unwrap();
            }
        }
        let (mut child, base) = serve(dir.path(), database_arg(&url)).await;
        let token = sign_in(&http, &base, "alice").await;
        let present = alice_ids(&http, &base, &token).await;
        let acked = acked.lock().unwrap().clone();
        for batch in &acked {
            assert!(batch.iter().all(|id| present.contains(id)), "an acknowledged batch was lost");
        }
        for batch in sent.lock().unwrap().iter() {
            let n = batch.iter().filter(|id| present.contains(*id)).count();
            assert!(n == 0 || n == batch.len(), "a batch was half applied: {n} of {}", batch.len());
        }
        assert!(acked.len() >= 60);
        child.start_kill().unwrap();
    }
}

#[tokio::test]
async fn serve_runs_on_postgresql_when_given_a_url() {
    let url = common::postgres::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serve(dir.path(), Some(&url)).await;
    let http = reqwest::Client::new();
    let token = sign_in(&http, &base, "alice").await;
    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
    let me: Value = http.get(format!("{base}/v1/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["communities"][0]["id"], "demo-team");
    assert!(!dir.path().join("cairn.sqlite3").exists(), "nothing was written to SQLite");
    child.start_kill().unwrap();
    // The admin CLI reaches the same database through CAIRN_DATABASE_URL.
    let out = std::process::Command::new(BIN)
        .args(["token", "issue", "bob"])
        .env("CAIRN_DATABASE_URL", &url)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let backup =
        std::process::Command::new(BIN).args(["backup", "--to", "/tmp/x.dump", "--database", &url]).output().unwrap();
    assert!(String::from_utf8_lossy(&backup.stdout).contains("pg_dump"));
}

#[tokio::test]
async fn backup_copies_a_live_sqlite_database_and_a_config_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cairn.toml");
    std::fs::write(&config, format!("data_dir = {:?}\nrate_limit_per_second = 0.0\n", dir.path().join("data")))
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base =
        lines.next_line().await.unwrap().unwrap().strip_prefix("cairn-server listening on ").unwrap().to_string();
    let http = reqwest::Client::new();
    let token = sign_in(&http, &base, "alice").await;
    let id = new_id();
    let r = http.post(format!("{base}/v1/sync/push")).bearer_auth(&token)
        .json(&json!({"device_id": "d", "mutations": [upsert(1, &annotation(&id, "https://a.example/", "kept", T0), &[])]}))
        .send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(dir.path().join("data/cairn.sqlite3").exists(), "the config file chose the data directory");

    let copy = dir.path().join("copy.sqlite3");
    let out = std::process::Command::new(BIN)
        .args(["backup", "--config"])
        .arg(&config)
        .arg("--to")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    child.start_kill().unwrap();
    let again = std::process::Command::new(BIN)
        .args(["backup", "--config"])
        .arg(&config)
        .arg("--to")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(!again.status.success(), "an existing file is never overwritten");

    // The copy is a working database with the annotation in it.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&copy, restored.path().join("cairn.sqlite3")).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(restored.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base =
        lines.next_line().await.unwrap().unwrap().strip_prefix("cairn-server listening on ").unwrap().to_string();
    let token = sign_in(&http, &base, "alice").await;
    assert!(alice_ids(&http, &base, &token).await.contains(&id));
    child.start_kill().unwrap();
}
