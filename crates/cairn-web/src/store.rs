//! The local store: IndexedDB in the extension's own origin, written only by the
//! background.
//!
//! Object stores:
//! * `records`: [`LocalRecord`]s keyed by annotation id, indexed by page key;
//! * `outbox`: mutations waiting for the server, keyed by their `seq`;
//! * `meta`: one [`Settings`] value under the key `settings`.
//!
//! Every change that the user sees as "saved" is one IndexedDB transaction that
//! writes the record *and* its outbox entry *and* the next sequence number, so a
//! worker stopped at any point leaves either all of it or none of it.
//! Content scripts run in the page's origin and cannot open this database.

use cairn_protocol::api::{CommunityInfo, Mutation, UserInfo};
use cairn_sync::LocalRecord;
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use serde::{Deserialize, Serialize};

const DB_NAME: &str = "cairn";
const DB_VERSION: u32 = 1;
const RECORDS: &str = "records";
const OUTBOX: &str = "outbox";
const META: &str = "meta";
const BY_PAGE: &str = "by_page";
const SETTINGS_KEY: &str = "settings";

/// What the background remembers between runs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// Random, made on first start: half of the server's idempotency key.
    pub device_id: String,
    /// The `seq` the next mutation gets.
    pub next_seq: u64,
    pub server_url: Option<String>,
    /// The bearer token. Lives only here, in the extension's origin.
    pub token: Option<String>,
    pub user: Option<UserInfo>,
    pub communities: Vec<CommunityInfo>,
    /// Where new highlights are shared.
    pub community: Option<String>,
    /// Origins (`scheme://host[:port]`) where Cairn runs.
    pub allowed_sites: Vec<String>,
    pub last_error: Option<String>,
    pub last_sync_ms: Option<i64>,
    /// Failed pushes in a row, for backoff.
    pub push_failures: u32,
    /// Do not retry a failed push before this time (ms).
    pub next_attempt_ms: i64,
    /// Deleted records waiting out the undo window before the delete is queued.
    #[serde(default)]
    pub held_deletes: Vec<cairn_sync::trash::HeldDelete>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct OutboxEntry {
    seq: u64,
    mutation: Mutation,
}

#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "local storage failed: {}", self.0)
    }
}

impl<E: std::fmt::Display> From<E> for StoreError
where
    E: Into<indexed_db_futures::error::Error>,
{
    fn from(e: E) -> Self {
        StoreError(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Store {
    db: Database,
}

/// A change to apply atomically: records to put or delete, mutations to queue or
/// acknowledge, and the settings to save with them.
#[derive(Default)]
pub struct Change {
    pub put: Vec<LocalRecord>,
    pub delete: Vec<String>,
    pub enqueue: Vec<Mutation>,
    pub acknowledge: Vec<u64>,
    pub settings: Option<Settings>,
}

impl Store {
    pub async fn open() -> Result<Store> {
        let db = Database::open(DB_NAME)
            .with_version(DB_VERSION)
            .with_on_upgrade_needed(|event, db| {
                // Version 1: the initial schema. Later versions add steps here, never rewrite this one.
                if event.old_version() < 1.0 {
                    let records = db.create_object_store(RECORDS).with_key_path("id".into()).build()?;
                    records.create_index(BY_PAGE, "page_key".into()).build()?;
                    db.create_object_store(OUTBOX).with_key_path("seq".into()).build()?;
                    db.create_object_store(META).build()?;
                }
                Ok(())
            })
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(Store { db })
    }

    pub async fn settings(&self) -> Result<Option<Settings>> {
        let tx = self.db.transaction(META).build()?;
        let meta = tx.object_store(META)?;
        let s: Option<Settings> = meta.get(SETTINGS_KEY).serde()?.await?;
        Ok(s)
    }

    pub async fn page_records(&self, page_key: &str) -> Result<Vec<LocalRecord>> {
        let tx = self.db.transaction(RECORDS).build()?;
        let records = tx.object_store(RECORDS)?;
        let by_page = records.index(BY_PAGE)?;
        let found: Vec<LocalRecord> = by_page
            .get_all()
            .with_query(page_key.to_string()..=page_key.to_string())
            .serde()?
            .await?
            .collect::<std::result::Result<_, _>>()?;
        Ok(found)
    }

    pub async fn record(&self, id: &str) -> Result<Option<LocalRecord>> {
        let tx = self.db.transaction(RECORDS).build()?;
        let records = tx.object_store(RECORDS)?;
        let r: Option<LocalRecord> = records.get(id.to_string()).serde()?.await?;
        Ok(r)
    }

    /// All records of the user's own that are only on this device.
    pub async fn local_only_records(&self) -> Result<Vec<LocalRecord>> {
        let tx = self.db.transaction(RECORDS).build()?;
        let records = tx.object_store(RECORDS)?;
        let all: Vec<LocalRecord> = records.get_all().serde()?.await?.collect::<std::result::Result<_, _>>()?;
        Ok(all.into_iter().filter(|r| r.is_own() && r.sync == cairn_protocol::messages::SyncState::Local).collect())
    }

    pub async fn outbox(&self) -> Result<Vec<Mutation>> {
        let tx = self.db.transaction(OUTBOX).build()?;
        let outbox = tx.object_store(OUTBOX)?;
        let entries: Vec<OutboxEntry> = outbox.get_all().serde()?.await?.collect::<std::result::Result<_, _>>()?;
        Ok(entries.into_iter().map(|e| e.mutation).collect())
    }

    pub async fn outbox_len(&self) -> Result<u32> {
        let tx = self.db.transaction(OUTBOX).build()?;
        let outbox = tx.object_store(OUTBOX)?;
        Ok(outbox.count().await?)
    }

    /// Writes what refreshing a page from the server changed, in one transaction:
    /// the records to put (updated in place) and to delete, and the refresh's
    /// outcome recorded in the settings by `note`. The settings are read inside
    /// the transaction, so that what another request saved while the page was
    /// being fetched (a sequence number, say) is kept, not overwritten with the
    /// copy read before the fetch.
    pub async fn save_page_refresh(
        &self,
        put: Vec<LocalRecord>,
        delete: Vec<String>,
        note: impl FnOnce(&mut Settings),
    ) -> Result<()> {
        let tx = self.db.transaction([RECORDS, META]).with_mode(TransactionMode::Readwrite).build()?;
        {
            let records = tx.object_store(RECORDS)?;
            for id in delete {
                records.delete(id).build()?;
            }
            for r in put {
                records.put(r).serde()?;
            }
            let meta = tx.object_store(META)?;
            let settings: Option<Settings> = meta.get(SETTINGS_KEY).serde()?.await?;
            if let Some(mut s) = settings {
                note(&mut s);
                meta.put(s).with_key(SETTINGS_KEY.to_string()).serde()?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies a [`Change`] in one transaction: all of it or none of it.
    pub async fn apply(&self, change: Change) -> Result<()> {
        let tx = self.db.transaction([RECORDS, OUTBOX, META]).with_mode(TransactionMode::Readwrite).build()?;
        {
            let records = tx.object_store(RECORDS)?;
            for id in &change.delete {
                records.delete(id.clone()).build()?;
            }
            for r in change.put {
                records.put(r).serde()?;
            }
            let outbox = tx.object_store(OUTBOX)?;
            for seq in &change.acknowledge {
                outbox.delete(*seq as f64).build()?;
            }
            for m in change.enqueue {
                outbox.put(OutboxEntry { seq: m.seq(), mutation: m }).serde()?;
            }
            if let Some(s) = change.settings {
                tx.object_store(META)?.put(s).with_key(SETTINGS_KEY.to_string()).serde()?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
