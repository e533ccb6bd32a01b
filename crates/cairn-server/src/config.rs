//! Server settings: built-in defaults, then an optional TOML file, then
//! environment variables and flags (clap reads both), later ones winning.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The extension id of the demo build (its key is in the repository); a real
/// deployment sets its own with `--extension-origin`.
pub const DEMO_EXTENSION_ORIGIN: &str = "chrome-extension://olgobbnoljhjkginkhjjfcacgmgdlooj";

/// What the HTTP app needs to know at run time.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The one origin allowed to call the API from a browser (CORS). Never `*`, never reflected.
    pub extension_origin: String,
    /// Base URL of the server as clients reach it (`https://cairn.example.com`),
    /// used in W3C annotation IRIs; `None` derives it from the request's Host.
    pub public_url: Option<String>,
    /// Sustained requests per second allowed per token (0 = no limit).
    pub rate_per_second: f64,
    /// Requests a token may make in a burst above the sustained rate.
    pub rate_burst: f64,
    /// Longest a request may take before it is answered 503 (the live stream is exempt).
    pub request_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            extension_origin: DEMO_EXTENSION_ORIGIN.into(),
            public_url: None,
            rate_per_second: 50.0,
            rate_burst: 200.0,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The optional TOML file (`--config FILE` or `CAIRN_CONFIG`); every key is optional
/// and has the name of its flag with `_` for `-`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub database_connections: Option<u32>,
    pub extension_origin: Option<String>,
    pub public_url: Option<String>,
    pub rate_limit_per_second: Option<f64>,
    pub rate_limit_burst: Option<f64>,
    pub request_timeout_secs: Option<u64>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("the config file {} is not valid: {e}", path.display()))
    }
}

/// Where the data lives: a SQLite file in a directory, or a PostgreSQL URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    /// A `postgres://` (or `postgresql://`) URL selects PostgreSQL; otherwise SQLite in `data_dir`.
    pub fn choose(url: Option<&str>, data_dir: &Path) -> anyhow::Result<Database> {
        match url {
            None | Some("") => Ok(Database::Sqlite(data_dir.join("cairn.sqlite3"))),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Database::Postgres(u.into()))
            }
            Some(u) if u.starts_with("sqlite:") => Ok(Database::Sqlite(PathBuf::from(u.trim_start_matches("sqlite:")))),
            Some(_) => anyhow::bail!("--database must be a postgres:// URL or sqlite:PATH"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_scheme_picks_the_backend() {
        let dir = Path::new("/srv/cairn");
        assert_eq!(Database::choose(None, dir).unwrap(), Database::Sqlite(dir.join("cairn.sqlite3")));
        assert_eq!(
            Database::choose(Some("postgres://u@h/db"), dir).unwrap(),
            Database::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(Database::choose(Some("sqlite:/tmp/x.db"), dir).unwrap(), Database::Sqlite("/tmp/x.db".into()));
        assert!(Database::choose(Some("mysql://h/db"), dir).is_err());
    }

    #[test]
    fn the_file_refuses_unknown_keys() {
        let ok: FileConfig = toml::from_str("listen = \"0.0.0.0:80\"\nrate_limit_per_second = 5.0\n").unwrap();
        assert_eq!(ok.listen.unwrap().port(), 80);
        assert!(toml::from_str::<FileConfig>("lisen = \"0.0.0.0:80\"").is_err());
    }

    #[test]
    fn the_file_sets_the_postgresql_pool_size() {
        let file: FileConfig = toml::from_str("database_connections = 16\n").unwrap();
        assert_eq!(file.database_connections, Some(16));
        assert!(toml::from_str::<FileConfig>("database_connections = -1").is_err(), "not a count");
    }
}
