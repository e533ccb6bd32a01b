//! Password hashing with argon2id (the `argon2` crate's defaults, OWASP's
//! recommended floor). Parameters live in each PHC string, so raising them later
//! only affects new hashes and old ones keep verifying.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// The fewest characters a password may have.
pub const MIN_CHARS: usize = 8;
/// Longer passwords are refused before hashing, so that nobody can make the
/// server hash megabytes.
pub const MAX_BYTES: usize = 1024;

/// Why `password` may not become an account's password, if it may not.
pub fn check_new(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_CHARS {
        return Err(format!("the password must be at least {MIN_CHARS} characters"));
    }
    if password.len() > MAX_BYTES {
        return Err(format!("the password must be at most {MAX_BYTES} bytes"));
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Checks `password` against a stored hash; `None` (unknown user, or an account
/// without a password) still runs one argon2 verification so that the time taken
/// does not tell an attacker which usernames exist.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DECOY: OnceLock<String> = OnceLock::new();
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (DECOY.get_or_init(|| hash("decoy password, never matches").unwrap_or_default()).as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        tracing::error!("a stored password hash is not a PHC string");
        return false;
    };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

/// Bounds how many argon2 computations (each tens of milliseconds of CPU and
/// 19 MiB of memory) run at once, so that a flood of sign-ins queues here
/// instead of taking every core and the blocking pool from other requests.
pub struct HashingSlots {
    /// One permit per computation allowed to run; tests hold them to fill the slots.
    pub semaphore: Arc<Semaphore>,
    /// Computations waiting for a slot (a gauge in `/metrics`).
    pub waiting: AtomicU64,
}

impl HashingSlots {
    pub fn new(slots: usize) -> HashingSlots {
        HashingSlots { semaphore: Arc::new(Semaphore::new(slots.max(1))), waiting: AtomicU64::new(0) }
    }

    /// Half the machine's cores (at least one): the other half stays free for everything else.
    pub fn for_this_machine() -> HashingSlots {
        HashingSlots::new(std::thread::available_parallelism().map_or(1, |n| n.get() / 2))
    }

    /// Runs `work` on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        let permit = {
            // Counted down however the wait ends (a request cut off by its timeout included).
            struct Waiting<'a>(&'a AtomicU64);
            impl Drop for Waiting<'_> {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::Relaxed);
                }
            }
            self.waiting.fetch_add(1, Ordering::Relaxed);
            let _waiting = Waiting(&self.waiting);
            self.semaphore.clone().acquire_owned().await.map_err(|e| e.to_string())?
        };
        // The slot is held until the work ends, even if the request is dropped meanwhile.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_computations_run_at_once_than_there_are_slots() {
        let slots = Arc::new(HashingSlots::new(2));
        let (running, most) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (slots, running, most) = (slots.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    slots
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            verify("a guess", None);
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert!(most.load(Ordering::SeqCst) <= 2, "{} ran at once", most.load(Ordering::SeqCst));
    }

    #[test]
    fn verifies_the_right_password_only() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse", Some(&h)));
        assert!(!verify("correct hors", Some(&h)));
        assert!(!verify("correct horse", None));
        assert!(!verify("correct horse", Some("not a hash")));
    }
}
