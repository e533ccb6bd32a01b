//! `cairn-server`: serve the API, or administer accounts in the same data directory.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

/// A request allocates and frees many small buffers (rows, JSON, strings) across
/// threads; mimalloc does that with less contention than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use cairn_protocol::api::Role;
use cairn_server::config::{Database, FileConfig, ServerConfig};
use cairn_server::store::postgres::PostgresStore;
use cairn_server::store::sqlite::SqliteStore;
use cairn_server::store::Store;
use cairn_server::{admin, router, AppState};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "cairn-server", version, about = "Cairn's self-hosted server for shared web annotations")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the data is; shared by every command.
#[derive(clap::Args)]
struct DataDir {
    /// Directory holding the SQLite database (created if missing). Default ./cairn-data.
    #[arg(long, env = "CAIRN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A postgres://USER:PASSWORD@HOST/DB URL to use PostgreSQL instead of SQLite.
    #[arg(long, env = "CAIRN_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// PostgreSQL connections per pool (the server keeps two). Default: twice the machine's cores.
    #[arg(long, env = "CAIRN_DATABASE_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=1000))]
    database_connections: Option<u32>,
    /// A TOML file with defaults for these flags (keys: the flag names with '_').
    #[arg(long, env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
}

impl DataDir {
    fn file(&self) -> anyhow::Result<FileConfig> {
        self.config.as_deref().map(FileConfig::load).transpose().map(Option::unwrap_or_default)
    }

    fn database(&self) -> anyhow::Result<Database> {
        let file = self.file()?;
        let dir = self.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("./cairn-data"));
        Database::choose(self.database.as_deref().or(file.database.as_deref()), &dir)
    }
}

#[derive(clap::Args)]
struct ServeOptions {
    /// Address to listen on; port 0 picks a free port (printed on start). Default 127.0.0.1:8787.
    #[arg(long, env = "CAIRN_LISTEN")]
    listen: Option<SocketAddr>,
    /// Seed demo users alice, bob and carol and their communities (public passwords!).
    #[arg(long)]
    demo: bool,
    /// The browser extension's origin, the only one allowed by CORS.
    #[arg(long, env = "CAIRN_EXTENSION_ORIGIN")]
    extension_origin: Option<String>,
    /// The server's public base URL, for W3C annotation IRIs (default: from the Host header).
    #[arg(long, env = "CAIRN_PUBLIC_URL")]
    public_url: Option<String>,
    /// Sustained requests per second per token (0 turns the limit off). Default 50.
    #[arg(long, env = "CAIRN_RATE_LIMIT_PER_SECOND")]
    rate_limit_per_second: Option<f64>,
    /// Burst size per token. Default 200.
    #[arg(long, env = "CAIRN_RATE_LIMIT_BURST")]
    rate_limit_burst: Option<f64>,
    /// Seconds before a request is answered 503. Default 30.
    #[arg(long, env = "CAIRN_REQUEST_TIMEOUT_SECS")]
    request_timeout_secs: Option<u64>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API until SIGINT or SIGTERM.
    Serve {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        options: ServeOptions,
    },
    /// Copy the SQLite database to a new file while the server runs (for PostgreSQL, explains pg_dump).
    Backup {
        /// The file to write; it must not exist.
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        data: DataDir,
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
    /// Set an account's password, read from the first line of standard input.
    Passwd {
        username: String,
        /// Also revoke every token the account holds (its signed-in devices and API tokens).
        #[arg(long)]
        revoke_tokens: bool,
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
    /// Rename a community (its slug stays).
    Rename {
        slug: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Archive a community (read-only), or restore it with --restore.
    Archive {
        slug: String,
        #[arg(long)]
        restore: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Remove a user from a community.
    RemoveMember {
        slug: String,
        username: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Make an invite code and print it (shown once).
    Invite {
        slug: String,
        /// Usable by many people until it expires (default: once).
        #[arg(long)]
        multi_use: bool,
        /// Hours until it expires.
        #[arg(long, default_value_t = 168)]
        hours: u32,
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
        /// Days until the token expires; 0 = never (not recommended: a forgotten token works forever).
        #[arg(long, default_value_t = 365)]
        expires_days: u32,
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

async fn open_store(data: &DataDir) -> anyhow::Result<Arc<dyn Store>> {
    match data.database()? {
        Database::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create data directory {}", dir.display()))?;
            }
            Ok(Arc::new(SqliteStore::open(&path).await?))
        }
        Database::Postgres(url) => {
            let connections = match data.database_connections.or(data.file()?.database_connections) {
                Some(n @ 1..=1000) => n,
                Some(n) => anyhow::bail!("database_connections is {n}; give a number from 1 to 1000"),
                None => PostgresStore::default_connections(),
            };
            Ok(Arc::new(PostgresStore::open(&url, connections).await?))
        }
    }
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

async fn serve(data: &DataDir, options: ServeOptions) -> anyhow::Result<()> {
    let file = data.file()?;
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        extension_origin: options.extension_origin.or(file.extension_origin).unwrap_or(defaults.extension_origin),
        public_url: options.public_url.or(file.public_url),
        rate_per_second: options
            .rate_limit_per_second
            .or(file.rate_limit_per_second)
            .unwrap_or(defaults.rate_per_second),
        rate_burst: options.rate_limit_burst.or(file.rate_limit_burst).unwrap_or(defaults.rate_burst),
        request_timeout: options
            .request_timeout_secs
            .or(file.request_timeout_secs)
            .map(Duration::from_secs)
            .unwrap_or(defaults.request_timeout),
    };
    if config.extension_origin == "*" || config.extension_origin.is_empty() {
        anyhow::bail!("--extension-origin must name one origin, like chrome-extension://<id>");
    }
    let listen = options.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8787)));
    let store = open_store(data).await?;
    if options.demo {
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
    let state = AppState::with_config(store.clone(), config);
    let app = router(state.clone());
    // Without TCP_NODELAY a response written in two parts waits for the client's delayed ACK (~40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // Connection info gives sign-in throttling the client's address.
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Live streams never end by themselves; the shutdown would wait for them forever.
            state.stop_streams();
        })
        .await?;
    store.close().await;
    Ok(())
}

async fn backup(data: &DataDir, to: &Path) -> anyhow::Result<()> {
    match data.database()? {
        Database::Sqlite(path) => {
            let store = SqliteStore::open(&path).await?;
            store.backup(to).await?;
            store.close().await;
            println!("backed up {} to {}", path.display(), to.display());
            Ok(())
        }
        Database::Postgres(_) => {
            println!(
                "PostgreSQL is backed up with its own tools, while the server runs:\n  \
                 pg_dump --format=custom --file={} \"$CAIRN_DATABASE_URL\"\n\
                 and restored into an empty database with:\n  pg_restore --dbname=\"$NEW_DATABASE_URL\" {}",
                to.display(),
                to.display()
            );
            Ok(())
        }
    }
}

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { data, options } => serve(&data, options).await,
        Command::Backup { to, data } => backup(&data, &to).await,
        Command::User(UserCommand::Add { username, display_name, password_stdin, data }) => {
            let password = if password_stdin { Some(password_from_stdin()?) } else { None };
            let store = open_store(&data).await?;
            let user = admin::add_user(store.as_ref(), &username, &display_name, password.as_deref()).await?;
            println!("created user {} ({})", user.username, user.id);
            store.close().await;
            Ok(())
        }
        Command::User(UserCommand::Passwd { username, revoke_tokens, data }) => {
            let password = password_from_stdin()?;
            let store = open_store(&data).await?;
            let revoked = admin::set_password(store.as_ref(), &username, &password, revoke_tokens).await;
            store.close().await;
            let revoked = revoked?;
            println!("set the password of {username}; revoked {revoked} token(s)");
            Ok(())
        }
        Command::Community(command) => {
            let data = match &command {
                CommunityCommand::Create { data, .. }
                | CommunityCommand::Rename { data, .. }
                | CommunityCommand::Archive { data, .. }
                | CommunityCommand::RemoveMember { data, .. }
                | CommunityCommand::Invite { data, .. }
                | CommunityCommand::AddMember { data, .. } => data,
            };
            let store = open_store(data).await?;
            let s = store.as_ref();
            let result = match &command {
                CommunityCommand::Create { slug, name, .. } => {
                    admin::create_community(s, slug, name).await.map(|c| format!("created community {}", c.slug))
                }
                CommunityCommand::Rename { slug, name, .. } => {
                    admin::rename_community(s, slug, name).await.map(|()| format!("renamed {slug} to {name:?}"))
                }
                CommunityCommand::Archive { slug, restore, .. } => admin::archive_community(s, slug, !restore)
                    .await
                    .map(|()| format!("{slug} is {}", if *restore { "active again" } else { "archived" })),
                CommunityCommand::RemoveMember { slug, username, .. } => {
                    admin::remove_member(s, slug, username).await.map(|()| format!("{username} left {slug}"))
                }
                CommunityCommand::Invite { slug, multi_use, hours, .. } => {
                    admin::invite(s, slug, *multi_use, *hours).await
                }
                CommunityCommand::AddMember { slug, username, role, .. } => {
                    admin::add_member(s, slug, username, (*role).into())
                        .await
                        .map(|()| format!("{username} is now a member of {slug}"))
                }
            };
            store.close().await;
            println!("{}", result?);
            Ok(())
        }
        Command::Token(TokenCommand::Issue { username, expires_days, data }) => {
            let store = open_store(&data).await?;
            let token = admin::issue_token(store.as_ref(), &username, Some(expires_days).filter(|d| *d > 0)).await?;
            println!("{token}");
            store.close().await;
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { prefix, data }) => {
            let store = open_store(&data).await?;
            let n = admin::revoke_token(store.as_ref(), &prefix).await?;
            println!("revoked {n} token(s)");
            store.close().await;
            Ok(())
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let level =
        std::env::var("CAIRN_LOG").ok().and_then(|v| v.parse::<tracing::Level>().ok()).unwrap_or(tracing::Level::INFO);
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
