//! `cairn-server`: serve the API, or administer accounts in the same data directory.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use cairn_protocol::api::Role;
use cairn_server::store::sqlite::SqliteStore;
use cairn_server::{admin, router, AppState};
use clap::{Parser, Subcommand, ValueEnum};

const DB_FILE: &str = "cairn.sqlite3";

#[derive(Parser)]
#[command(name = "cairn-server", version, about = "Cairn's self-hosted server for shared web annotations")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct DataDir {
    /// Directory holding the database (created if missing).
    #[arg(long, default_value = "./cairn-data")]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API until SIGINT or SIGTERM.
    Serve {
        #[command(flatten)]
        data: DataDir,
        /// Address to listen on; port 0 picks a free port (printed on start).
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// Seed demo users alice, bob and carol and their communities (public passwords!).
        #[arg(long)]
        demo: bool,
    },
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage communities and their members.
    #[command(subcommand)]
    Community(CommunityCommand),
    /// Issue and revoke bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. Without --password-stdin it can only use issued tokens.
    Add {
        username: String,
        #[arg(long)]
        display_name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum CommunityCommand {
    /// Create a community.
    Create {
        slug: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Add a user to a community, or change their role.
    AddMember {
        slug: String,
        username: String,
        #[arg(long, value_enum, default_value_t = RoleArg::Member)]
        role: RoleArg,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token for a user and print it (it is shown only this once).
    Issue {
        username: String,
        #[arg(long)]
        expires_days: Option<u32>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Revoke a token by its prefix (e.g. cairn_AbCdEfGh) or by the whole token.
    Revoke {
        prefix: String,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Member,
    Moderator,
    Owner,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Member => Role::Member,
            RoleArg::Moderator => Role::Moderator,
            RoleArg::Owner => Role::Owner,
        }
    }
}

async fn open_store(dir: &Path) -> anyhow::Result<SqliteStore> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
    Ok(SqliteStore::open(&dir.join(DB_FILE)).await?)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn serve(dir: &Path, listen: SocketAddr, demo: bool) -> anyhow::Result<()> {
    let store = Arc::new(open_store(dir).await?);
    if demo {
        admin::seed_demo(store.as_ref()).await.context("cannot seed the demo data")?;
        tracing::warn!("demo accounts alice, bob and carol are active with public passwords");
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    // Scripts and tests wait for exactly this line to learn the port.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "cairn-server listening on http://{addr}")?;
    stdout.flush()?;
    drop(stdout);
    let app = router(AppState::new(store.clone()));
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { data, listen, demo } => serve(&data.data_dir, listen, demo).await,
        Command::User(UserCommand::Add { username, display_name, password_stdin, data }) => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).context("cannot read the password from stdin")?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            let store = open_store(&data.data_dir).await?;
            let user = admin::add_user(&store, &username, &display_name, password.as_deref()).await?;
            println!("created user {} ({})", user.username, user.id);
            store.close().await;
            Ok(())
        }
        Command::Community(CommunityCommand::Create { slug, name, data }) => {
            let store = open_store(&data.data_dir).await?;
            let c = admin::create_community(&store, &slug, &name).await?;
            println!("created community {}", c.slug);
            store.close().await;
            Ok(())
        }
        Command::Community(CommunityCommand::AddMember { slug, username, role, data }) => {
            let store = open_store(&data.data_dir).await?;
            admin::add_member(&store, &slug, &username, role.into()).await?;
            println!("{username} is now a member of {slug}");
            store.close().await;
            Ok(())
        }
        Command::Token(TokenCommand::Issue { username, expires_days, data }) => {
            let store = open_store(&data.data_dir).await?;
            let token = admin::issue_token(&store, &username, expires_days).await?;
            println!("{token}");
            store.close().await;
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { prefix, data }) => {
            let store = open_store(&data.data_dir).await?;
            let n = admin::revoke_token(&store, &prefix).await?;
            println!("revoked {n} token(s)");
            store.close().await;
            Ok(())
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let level = std::env::var("CAIRN_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
