//! PostgreSQL connections for the hot reads, lent without a round trip of their own.
//!
//! sqlx's pool pings a connection (a `Sync` and its `ReadyForQuery`) when it
//! lends one that was idle and again when it takes it back: a pull of one
//! statement cost three round trips, and each woke a PostgreSQL process. Here a
//! connection goes back to the idle list only when its statements finished, by
//! their answers (rows, or an error the database answered with, after which the
//! connection is as good as before: sqlx reads up to the next `ReadyForQuery`
//! before its next statement). A connection whose statement was cancelled
//! midway, or that failed in any other way, is dropped. A connection that died
//! while idle (the database restarted) is found out by the first statement on
//! it, which [`lent!`] then runs again, once, on a new connection: hot reads
//! only read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::{Semaphore, SemaphorePermit};

/// A connection older than this is closed rather than lent, as sqlx's pool does
/// by default: a PostgreSQL process's memory grows with what it has cached.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

pub(crate) struct LentConnections {
    options: PgConnectOptions,
    idle: Mutex<Vec<Idle>>,
    /// One permit per connection there may be, lent or idle.
    permits: Semaphore,
    acquire_timeout: Duration,
    closed: AtomicBool,
}

struct Idle {
    connection: PgConnection,
    connected_at: Instant,
}

/// A lent connection; it goes back when dropped after [`Lent::settle`] found its
/// statements answered, and is closed otherwise.
pub(crate) struct Lent<'p> {
    connection: Option<PgConnection>,
    connected_at: Instant,
    /// Whether it was idle in the pool before (so it may have died meanwhile).
    reused: bool,
    answered: bool,
    pool: &'p LentConnections,
    _permit: SemaphorePermit<'p>,
}

impl LentConnections {
    /// At most `max_connections`, connected when first needed.
    pub(crate) fn new(options: PgConnectOptions, max_connections: u32, acquire_timeout: Duration) -> LentConnections {
        LentConnections {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max_connections.max(1) as usize),
            acquire_timeout,
            closed: AtomicBool::new(false),
        }
    }

    /// A connection: the one that went idle last (its process is the likeliest
    /// to be in the CPU's caches), else a new one.
    pub(crate) async fn lend(&self) -> Result<Lent<'_>, sqlx::Error> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        while let Some(idle) = self.take_idle() {
            if idle.connected_at.elapsed() < MAX_LIFETIME {
                return Ok(self.lent(idle.connection, idle.connected_at, true, permit));
            }
            let _ = idle.connection.close().await;
        }
        self.lend_new(permit).await
    }

    async fn lend_new<'p>(&'p self, permit: SemaphorePermit<'p>) -> Result<Lent<'p>, sqlx::Error> {
        let connection = tokio::time::timeout(self.acquire_timeout, self.options.connect())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        Ok(self.lent(connection, Instant::now(), false, permit))
    }

    fn lent<'p>(
        &'p self,
        connection: PgConnection,
        connected_at: Instant,
        reused: bool,
        permit: SemaphorePermit<'p>,
    ) -> Lent<'p> {
        Lent { connection: Some(connection), connected_at, reused, answered: false, pool: self, _permit: permit }
    }

    fn take_idle(&self) -> Option<Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Closes the idle connections; lent ones close as they come back.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.permits.close();
        while let Some(idle) = self.take_idle() {
            let _ = idle.connection.close().await;
        }
    }
}

impl Lent<'_> {
    pub(crate) fn connection(&mut self) -> &mut PgConnection {
        self.connection.as_mut().expect("a lent connection is there until dropped")
    }

    /// Notes how the statements run on it ended, and hands `result` on.
    pub(crate) fn settle<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        self.answered = match &result {
            Ok(_) => true,
            Err(e @ sqlx::Error::Database(_)) => !connection_lost(e),
            Err(_) => false,
        };
        result
    }

    /// Notes whether it is ready for other statements (for transactions, which
    /// judge that themselves).
    pub(crate) fn reusable(&mut self, yes: bool) {
        self.answered = yes;
    }

    /// Whether `error`, from a statement on this connection, means it had died
    /// while idle, so that the statement is worth running once more on a new one.
    /// The other idle connections likely died with it (the database restarted):
    /// they are closed too.
    pub(crate) fn died_idle(&self, error: &sqlx::Error) -> bool {
        let died = self.reused && connection_lost(error);
        if died {
            drop(std::mem::take(&mut *self.pool.idle.lock().unwrap_or_else(|e| e.into_inner())));
        }
        died
    }
}

/// Whether `error` means the connection is gone: a broken socket or stream, or
/// the server ending the session (SQLSTATE class 08, connection exception; 57P,
/// operator intervention, as when it shuts down).
fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if self.answered && !self.pool.closed.load(Ordering::Acquire) {
            let idle = Idle { connection, connected_at: self.connected_at };
            self.pool.idle.lock().unwrap_or_else(|e| e.into_inner()).push(idle);
        }
        // Otherwise dropping it closes its socket; PostgreSQL ends its process.
    }
}

/// Runs `$body` (a `Result<_, sqlx::Error>` expression that may use `$conn`, a
/// `&mut PgConnection`) on a connection lent from `$pool`; once more on a new
/// connection if the lent one turns out to have died while idle.
macro_rules! lent {
    ($pool:expr, |$conn:ident| $body:expr) => {{
        let pool: &$crate::store::lent_connections::LentConnections = &$pool;
        let mut again = true;
        loop {
            let mut lent = match pool.lend().await {
                Ok(lent) => lent,
                Err(e) => break Err(e),
            };
            let result = {
                let $conn: &mut sqlx::PgConnection = lent.connection();
                $body
            };
            match lent.settle(result) {
                Err(e) if again && lent.died_idle(&e) => {
                    tracing::info!(error = %e, "a PostgreSQL connection had closed while idle; running the statement on a new one");
                    again = false;
                }
                result => break result,
            }
        }
    }};
}
pub(crate) use lent;
