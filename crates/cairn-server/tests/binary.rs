//! The real `cairn-server` binary: the listening line, demo accounts, admin commands, shutdown.

use std::path::Path;
use std::process::Stdio;

use cairn_protocol::api::{MeResponse, SignInResponse};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_cairn-server");

/// Starts `serve` and returns the child and the base URL from its first stdout line.
async fn serve(data_dir: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("the server printed nothing");
    let base = line.strip_prefix("cairn-server listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    assert!(!base.ends_with(":0"), "{line}");
    (child, base.to_string())
}

async fn sign_in(base: &str, username: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/v1/session"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn me(base: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(format!("{base}/v1/me")).bearer_auth(token).send().await.unwrap()
}

/// Runs an admin subcommand to completion; returns (success, stdout, stderr).
async fn admin(args: &[&str], data_dir: &Path, stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test]
async fn demo_server_prints_its_address_and_lets_alice_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serve(dir.path(), &["--demo"]).await;
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");

    let response = sign_in(&base, "alice", "alice-demo-password").await;
    assert_eq!(response.status(), 200);
    let session: SignInResponse = response.json().await.unwrap();
    assert_eq!(session.user.display_name, "Alice Example");
    let alice_me: MeResponse = me(&base, &session.token).await.json().await.unwrap();
    let slugs: Vec<&str> = alice_me.communities.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(slugs, ["demo-team"]);
    child.kill().await.unwrap();

    // Seeding again is harmless, and the data (including alice's token) survived the restart.
    let (mut child, base) = serve(dir.path(), &["--demo"]).await;
    assert_eq!(me(&base, &session.token).await.status(), 200);
    let carol: SignInResponse = sign_in(&base, "carol", "carol-demo-password").await.json().await.unwrap();
    let carol_me: MeResponse = me(&base, &carol.token).await.json().await.unwrap();
    assert_eq!(carol_me.communities[0].id, "other-team");

    // SIGTERM stops it cleanly.
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn sigterm_stops_the_server_while_a_live_stream_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serve(dir.path(), &["--demo"]).await;
    let session: SignInResponse = sign_in(&base, "bob", "bob-demo-password").await.json().await.unwrap();
    let mut events =
        reqwest::Client::new().get(format!("{base}/v1/events")).bearer_auth(&session.token).send().await.unwrap();
    assert_eq!(events.status(), 200);
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // A deadline only so that a server that never stops fails the test instead of hanging it.
    let exited = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait()).await;
    assert!(exited.expect("the server did not stop while a live stream was open").unwrap().success());
    // The stream ended instead of being cut: the client reads its end.
    while let Ok(Some(_)) = events.chunk().await {}
}

#[tokio::test]
async fn admin_commands_create_accounts_and_manage_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, out, err) =
        admin(&["user", "add", "dana", "--display-name", "Dana Ops", "--password-stdin"], d, Some("dana-secret-pw\n"))
            .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("created user dana"), "{out}");
    let (ok, _, err) = admin(&["user", "add", "dana", "--display-name", "Again"], d, None).await;
    assert!(!ok);
    assert!(err.contains("exists already"), "{err}");
    let (ok, _, err) = admin(&["user", "add", "Bad Name!", "--display-name", "X"], d, None).await;
    assert!(!ok);
    assert!(err.contains("username"), "{err}");

    assert!(admin(&["community", "create", "ops", "--name", "Operations"], d, None).await.0);
    let (ok, _, err) = admin(&["community", "add-member", "nope", "dana"], d, None).await;
    assert!(!ok);
    assert!(err.contains("no community"), "{err}");
    let (ok, out, err) = admin(&["community", "add-member", "ops", "dana", "--role", "moderator"], d, None).await;
    assert!(ok, "{out}{err}");

    let (ok, out, err) = admin(&["token", "issue", "dana", "--expires-days", "30"], d, None).await;
    assert!(ok, "{err}");
    let token = out.trim().to_string();
    assert!(token.starts_with("cairn_"), "{out}");

    let (mut child, base) = serve(d, &[]).await;
    // Without --expires-days a token expires in a year; 0 makes one that never does.
    let (ok, out, err) = admin(&["token", "issue", "dana"], d, None).await;
    assert!(ok, "{err}");
    let (ok, forever, err) = admin(&["token", "issue", "dana", "--expires-days", "0"], d, None).await;
    assert!(ok, "{err}");
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/v1/me/tokens"))
        .bearer_auth(out.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expiry_of = |t: &str| {
        listed["tokens"].as_array().unwrap().iter().find(|e| e["prefix"] == t.trim()[..14]).unwrap()["expires"].clone()
    };
    let in_a_year = cairn_model::format_rfc3339_ms(cairn_server::now_ms() + 365 * 24 * 3600 * 1000);
    assert_eq!(expiry_of(&out).as_str().unwrap()[..10], in_a_year[..10], "{listed}");
    assert!(expiry_of(&forever).is_null(), "{listed}");
    assert_eq!(expiry_of(&token).as_str().unwrap().len(), in_a_year.len());
    let me_now: MeResponse = me(&base, &token).await.json().await.unwrap();
    assert_eq!(me_now.user.display_name, "Dana Ops");
    assert_eq!(me_now.communities[0].id, "ops");
    assert_eq!(me_now.communities[0].role, cairn_protocol::api::Role::Moderator);
    assert_eq!(sign_in(&base, "dana", "dana-secret-pw").await.status(), 200);

    let (ok, _, err) = admin(&["token", "revoke", "cairn_"], d, None).await;
    assert!(!ok, "a bare prefix must not revoke every token");
    assert!(err.contains("prefix"), "{err}");
    let (ok, out, err) = admin(&["token", "revoke", &token[..14]], d, None).await;
    assert!(ok, "{err}");
    assert!(out.contains("revoked 1"), "{out}");
    assert_eq!(me(&base, &token).await.status(), 401);
    let (ok, _, err) = admin(&["token", "revoke", &token[..14]], d, None).await;
    assert!(!ok);
    assert!(err.contains("no live token"), "{err}");

    // A forgotten password, reset by the operator while the server runs; with
    // --revoke-tokens every device of the account has to sign in again.
    let (ok, _, err) = admin(&["user", "passwd", "dana"], d, Some("short\n")).await;
    assert!(!ok);
    assert!(err.contains("at least 8 characters"), "{err}");
    let (ok, _, err) = admin(&["user", "passwd", "nobody"], d, Some("long enough pw\n")).await;
    assert!(!ok);
    assert!(err.contains("no user named"), "{err}");
    let device = sign_in(&base, "dana", "dana-secret-pw").await.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (ok, out, err) = admin(&["user", "passwd", "dana", "--revoke-tokens"], d, Some("dana-new-secret\n")).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("revoked 4 token(s)"), "{out}"); // two sign-ins and the two tokens issued above
    assert_eq!(me(&base, &device).await.status(), 401, "the signed-in device was signed out");
    assert_eq!(sign_in(&base, "dana", "dana-secret-pw").await.status(), 401);
    assert_eq!(sign_in(&base, "dana", "dana-new-secret").await.status(), 200);
    child.kill().await.unwrap();
}
