//! The local store: IndexedDB in the extension's own origin, written only by the
//! background.
//!
//! Object stores:
//! * `records`: [`LocalRecord`]s keyed by annotation id, indexed by page key;
//! * `outbox`: mutations waiting for the server, keyed by their `seq`;
//! * `meta`: one [`Settings`] value under the key `settings`;
//! * `trail`: the reading trail's [`TrailEntry`]s keyed by page key (version 2);
//! * `review`: the daily review's [`ReviewState`]s keyed by annotation id (version 2).
//!
//! Every change that the user sees as "saved" is one IndexedDB transaction that
//! writes the record *and* its outbox entry *and* the next sequence number, so a
//! worker stopped at any point leaves either all of it or none of it.
//! Content scripts run in the page's origin and cannot open this database.
//!
//! Once they exist, the settings are written only by [`Store::update`], which
//! reads them inside its write transaction and changes them there: a handler's
//! copy, read before it awaited the network or another transaction, is never
//! written back over what another handler saved meanwhile. Mutations get their
//! `seq` there too.

use cairn_library::review::ReviewState;
use cairn_library::trail::{self, TrailEntry, Visit};
use cairn_protocol::api::{CommunityInfo, Mutation, UserInfo};
use cairn_protocol::messages::SyncState;
use cairn_sync::queue::Queued;
use cairn_sync::LocalRecord;
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use serde::{Deserialize, Serialize};

const DB_NAME: &str = "cairn";
const DB_VERSION: u32 = 2;
const RECORDS: &str = "records";
const TRAIL: &str = "trail";
const REVIEW: &str = "review";
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
    /// Allowed origins where the user keeps a reading trail (off by default).
    #[serde(default)]
    pub trail_sites: Vec<String>,
    /// Days the trail keeps a page no visit touched; 0 keeps it until cleared.
    #[serde(default = "default_retention")]
    pub trail_retention_days: u32,
}

fn default_retention() -> u32 {
    trail::DEFAULT_RETENTION_DAYS
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
/// acknowledge. [`Store::apply`] writes it alone, [`Store::update`] with a change
/// to the settings.
#[derive(Default)]
pub struct Change {
    pub put: Vec<LocalRecord>,
    pub delete: Vec<String>,
    /// Records whose sync state to set, read in the transaction (so that what
    /// another request wrote since they were last read is kept); one that is gone
    /// stays gone.
    pub set_sync: Vec<(String, SyncState)>,
    /// Mutations to queue. Each gets its `seq` in the transaction, from the
    /// `next_seq` stored then ([`cairn_sync::queue::number`]).
    pub enqueue: Vec<Queued>,
    pub acknowledge: Vec<u64>,
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
                // Version 2: the reading trail and the daily review.
                if event.old_version() < 2.0 {
                    db.create_object_store(TRAIL).with_key_path("page_key".into()).build()?;
                    db.create_object_store(REVIEW).with_key_path("id".into()).build()?;
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

    /// The settings, stored first as `fresh()` makes them if there are none yet,
    /// in one transaction (two first requests racing keep one device id).
    pub async fn settings_or_init(&self, fresh: impl FnOnce() -> Settings) -> Result<Settings> {
        let tx = self.db.transaction(META).with_mode(TransactionMode::Readwrite).build()?;
        let settings = {
            let meta = tx.object_store(META)?;
            match meta.get(SETTINGS_KEY).serde()?.await? {
                Some(s) => s,
                None => {
                    let s = fresh();
                    meta.put(&s).with_key(SETTINGS_KEY.to_string()).serde()?;
                    s
                }
            }
        };
        tx.commit().await?;
        Ok(settings)
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

    /// Every record, of every page (the Library).
    pub async fn all_records(&self) -> Result<Vec<LocalRecord>> {
        let tx = self.db.transaction(RECORDS).build()?;
        let records = tx.object_store(RECORDS)?;
        let all: Vec<LocalRecord> = records.get_all().serde()?.await?.collect::<std::result::Result<_, _>>()?;
        Ok(all)
    }

    pub async fn record(&self, id: &str) -> Result<Option<LocalRecord>> {
        let tx = self.db.transaction(RECORDS).build()?;
        let records = tx.object_store(RECORDS)?;
        let r: Option<LocalRecord> = records.get(id.to_string()).serde()?.await?;
        Ok(r)
    }

    /// The whole reading trail.
    pub async fn trail(&self) -> Result<Vec<TrailEntry>> {
        let tx = self.db.transaction(TRAIL).build()?;
        let trail = tx.object_store(TRAIL)?;
        let all: Vec<TrailEntry> = trail.get_all().serde()?.await?.collect::<std::result::Result<_, _>>()?;
        Ok(all)
    }

    /// Adds a visit report to its page's entry, read and written in one transaction
    /// (two reports of one visit racing both count).
    pub async fn record_visit(&self, visit: &Visit) -> Result<()> {
        let tx = self.db.transaction(TRAIL).with_mode(TransactionMode::Readwrite).build()?;
        {
            let store = tx.object_store(TRAIL)?;
            let kept: Option<TrailEntry> = store.get(visit.page_key.clone()).serde()?.await?;
            store.put(trail::record(kept, visit)).serde()?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets these pages of the trail.
    pub async fn delete_trail(&self, page_keys: &[String]) -> Result<()> {
        let tx = self.db.transaction(TRAIL).with_mode(TransactionMode::Readwrite).build()?;
        {
            let store = tx.object_store(TRAIL)?;
            for key in page_keys {
                store.delete(key.clone()).build()?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn clear_trail(&self) -> Result<()> {
        let tx = self.db.transaction(TRAIL).with_mode(TransactionMode::Readwrite).build()?;
        tx.object_store(TRAIL)?.clear()?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn review_states(&self) -> Result<Vec<ReviewState>> {
        let tx = self.db.transaction(REVIEW).build()?;
        let review = tx.object_store(REVIEW)?;
        let all: Vec<ReviewState> = review.get_all().serde()?.await?.collect::<std::result::Result<_, _>>()?;
        Ok(all)
    }

    pub async fn review_state(&self, id: &str) -> Result<Option<ReviewState>> {
        let tx = self.db.transaction(REVIEW).build()?;
        let state: Option<ReviewState> = tx.object_store(REVIEW)?.get(id.to_string()).serde()?.await?;
        Ok(state)
    }

    pub async fn put_review_state(&self, state: ReviewState) -> Result<()> {
        let tx = self.db.transaction(REVIEW).with_mode(TransactionMode::Readwrite).build()?;
        tx.object_store(REVIEW)?.put(state).serde()?;
        tx.commit().await?;
        Ok(())
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

    /// Applies a [`Change`] in one transaction: all of it or none of it.
    pub async fn apply(&self, change: Change) -> Result<()> {
        self.update(|_| Some((change, ()))).await.map(|_| ())
    }

    /// Changes the settings and writes what goes with the change, in one
    /// transaction: `plan` gets the settings as stored now, read inside that
    /// transaction, changes them in place and answers the [`Change`] to write with
    /// them and a value for the caller; `None` writes nothing.
    ///
    /// This is the only way to write the settings once they exist: a copy read
    /// before an `await` would overwrite whatever another request saved meanwhile
    /// (a sequence number, a held delete).
    pub async fn update<T>(&self, plan: impl FnOnce(&mut Settings) -> Option<(Change, T)>) -> Result<Option<T>> {
        self.write(false, |settings, _| plan(settings)).await
    }

    /// [`Store::update`], and `plan` also gets the user's records that are only on
    /// this device, read in the same transaction.
    pub async fn update_with_local_only<T>(
        &self,
        plan: impl FnOnce(&mut Settings, Vec<LocalRecord>) -> Option<(Change, T)>,
    ) -> Result<Option<T>> {
        self.write(true, plan).await
    }

    async fn write<T>(
        &self,
        read_local_only: bool,
        plan: impl FnOnce(&mut Settings, Vec<LocalRecord>) -> Option<(Change, T)>,
    ) -> Result<Option<T>> {
        let tx = self.db.transaction([RECORDS, OUTBOX, META]).with_mode(TransactionMode::Readwrite).build()?;
        let answer = {
            let records = tx.object_store(RECORDS)?;
            let outbox = tx.object_store(OUTBOX)?;
            let meta = tx.object_store(META)?;
            let Some(mut settings): Option<Settings> = meta.get(SETTINGS_KEY).serde()?.await? else {
                return Err(StoreError("the settings are missing".into()));
            };
            let before = settings.clone();
            let local_only = if read_local_only {
                let all: Vec<LocalRecord> = records.get_all().serde()?.await?.collect::<std::result::Result<_, _>>()?;
                all.into_iter().filter(|r| r.is_own() && r.sync == SyncState::Local).collect()
            } else {
                Vec::new()
            };
            // Dropping the transaction uncommitted aborts it: nothing is written.
            let Some((change, answer)) = plan(&mut settings, local_only) else { return Ok(None) };
            for id in &change.delete {
                records.delete(id.clone()).build()?;
            }
            for r in change.put {
                records.put(r).serde()?;
            }
            for (id, sync) in change.set_sync {
                let found: Option<LocalRecord> = records.get(id).serde()?.await?;
                if let Some(mut r) = found {
                    r.sync = sync;
                    records.put(r).serde()?;
                }
            }
            if !change.enqueue.is_empty() {
                let queued: Vec<f64> =
                    outbox.get_all_keys().primitive()?.await?.collect::<std::result::Result<_, _>>()?;
                let highest = queued.into_iter().map(|k| k as u64).max();
                for m in cairn_sync::queue::number(change.enqueue, &mut settings.next_seq, highest) {
                    // `add`, not `put`: a seq already queued fails the transaction
                    // rather than overwrite the mutation waiting under it.
                    outbox.add(OutboxEntry { seq: m.seq(), mutation: m }).serde()?;
                }
            }
            for seq in &change.acknowledge {
                outbox.delete(*seq as f64).build()?;
            }
            if settings != before {
                meta.put(&settings).with_key(SETTINGS_KEY.to_string()).serde()?;
            }
            answer
        };
        tx.commit().await?;
        Ok(Some(answer))
    }
}
