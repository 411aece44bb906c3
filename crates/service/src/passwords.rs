//! The one way passwords are hashed and checked, within bounds.
//!
//! An argon2 hash takes 19 MiB and tens of milliseconds of a core, so
//! hashing without a bound lets anyone with a few hundred connections take
//! the server's memory. Every hash and every check runs here: at most
//! `hash_concurrency` at once, on as many threads of its own, a short
//! queue behind them, and a 429 for whoever finds the queue full or waits
//! too long.
//!
//! Logins are also throttled per account and per address: after a few
//! failures each further attempt must wait twice as long as the last, and
//! is refused before anything is hashed. A login for an account that does
//! not exist is checked against a dummy hash, so it costs what a real one
//! costs and says nothing about which accounts exist.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use concord_model::codes;
use tokio::sync::Semaphore;

use crate::auth;
use crate::bounded::{BoundedTable, Expiring};
use crate::error::{ServiceError, ServiceResult};

/// The longest a hash waits for its turn before the request gets a 429.
const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// Requests allowed to wait per hash that may run: waiting costs no hash
/// memory, but a queue longer than this would not drain within
/// [`QUEUE_WAIT`] anyway.
const WAITING_PER_PERMIT: usize = 16;

/// Failures an account may have before its logins are slowed down.
const ACCOUNT_FREE_FAILURES: u32 = 5;
/// Failures one address may have (many people can share one).
const ADDRESS_FREE_FAILURES: u32 = 20;
/// The longest a throttled login is made to wait.
const MAX_BACKOFF_MS: u64 = 15 * 60 * 1000;
/// Failures are forgotten this long after the last one.
const FAILURE_MEMORY_MS: u64 = 60 * 60 * 1000;
/// Accounts and addresses whose failures are remembered at most.
const THROTTLE_CAPACITY: usize = 100_000;

/// Work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

pub struct Passwords {
    permits: Arc<Semaphore>,
    /// The hashing threads' queue: a fixed set of threads rather than the
    /// blocking pool, because the allocator keeps each thread's 19 MiB
    /// after its hash, and the blocking pool would spread hashes over
    /// hundreds of threads.
    workers: SyncSender<Job>,
    waiting: AtomicUsize,
    max_waiting: usize,
    /// What a login for an unknown account is checked against.
    dummy: Arc<OnceLock<String>>,
    failures: BoundedTable<Failures>,
}

/// Recent login failures of one account or address.
struct Failures {
    count: u32,
    last_ms: u64,
}

impl Expiring for Failures {
    fn expired(&self, now_ms: u64) -> bool {
        now_ms >= self.last_ms.saturating_add(FAILURE_MEMORY_MS)
    }
}

impl Failures {
    /// Milliseconds still to wait at `now_ms` once `free` failures are
    /// spent: 2 s after the last of them, then doubling with each failure.
    fn wait_ms(&self, free: u32, now_ms: u64) -> u64 {
        if self.count < free {
            return 0;
        }
        // Past 2^20 the cap has long been reached; the shift cannot overflow.
        let doublings = (self.count - free).min(20);
        let backoff = (2_000u64 << doublings).min(MAX_BACKOFF_MS);
        self.last_ms.saturating_add(backoff).saturating_sub(now_ms)
    }
}

/// Who a login attempt is counted against.
pub struct LoginAttempt<'a> {
    /// The login name as given (it need not exist).
    pub login: &'a str,
    /// The client's address, as the rate limits see it.
    pub address: &'a str,
}

impl LoginAttempt<'_> {
    fn account_key(&self) -> (u8, String) {
        (0, concord_store::login_key(self.login))
    }

    fn address_key(&self) -> (u8, &str) {
        (1, self.address)
    }
}

/// `count` threads running hashing jobs until the queue is dropped.
fn start_workers(count: usize) -> SyncSender<Job> {
    // One more than the permits: room for the dummy hash made at start.
    let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(count + 1);
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..count {
        let queue = Arc::clone(&queue);
        let spawned = std::thread::Builder::new()
            .name(format!("concord-hash-{i}"))
            .spawn(move || {
                loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        // A panicking hash fails its own request (its
                        // answer is dropped), not the thread.
                        Ok(job) => drop(std::panic::catch_unwind(AssertUnwindSafe(job))),
                        Err(_) => return,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "a password hashing thread could not start");
        }
    }
    jobs
}

/// A hash of a password nobody knows, with the parameters real ones have.
fn dummy_hash() -> String {
    let unguessable = B64.encode(rand::random::<[u8; 24]>());
    auth::hash_password(&unguessable).unwrap_or_default()
}

fn busy(retry_after_ms: u64) -> ServiceError {
    ServiceError::RateLimited {
        code: codes::RESOURCE_RATE_LIMITED,
        retry_after_ms,
    }
}

impl Passwords {
    /// At most `concurrency` hashes at once.
    pub fn new(concurrency: u32) -> Self {
        let permits = concurrency.max(1) as usize;
        let workers = start_workers(permits);
        let dummy = Arc::new(OnceLock::new());
        // Made now, so that not even the first unknown login takes longer.
        let made = Arc::clone(&dummy);
        let _ = workers.try_send(Box::new(move || {
            made.get_or_init(dummy_hash);
        }));
        Passwords {
            permits: Arc::new(Semaphore::new(permits)),
            workers,
            waiting: AtomicUsize::new(0),
            max_waiting: permits * WAITING_PER_PERMIT,
            dummy,
            failures: BoundedTable::new(THROTTLE_CAPACITY),
        }
    }

    /// Runs `work` on a hashing thread once a permit is free. The permit
    /// is held by the work itself, so a client that goes away does not
    /// free it while its hash still runs.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ServiceResult<T> {
        let retry_after_ms = QUEUE_WAIT.as_millis() as u64 / 4;
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    metrics::counter!("concord_password_hashes_refused_total").increment(1);
                    return Err(busy(retry_after_ms));
                }
                let acquired =
                    tokio::time::timeout(QUEUE_WAIT, Arc::clone(&self.permits).acquire_owned())
                        .await;
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                match acquired {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        metrics::counter!("concord_password_hashes_refused_total").increment(1);
                        return Err(busy(retry_after_ms));
                    }
                }
            }
        };
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let output = work();
            drop(permit);
            let _ = done.send(output);
        });
        // A permit is held per job queued or running, and the queue holds
        // more jobs than there are permits: it is never full here.
        self.workers
            .try_send(job)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        result
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// An argon2id hash of `password`.
    pub async fn hash(&self, password: String) -> ServiceResult<String> {
        self.bounded(move || auth::hash_password(&password)).await?
    }

    /// Whether `password` matches `phc`; without a hash (an unknown
    /// account, a bot) it is checked against a dummy, at the same cost,
    /// and never matches.
    pub async fn verify(&self, password: String, phc: Option<String>) -> ServiceResult<bool> {
        let dummy = Arc::clone(&self.dummy);
        self.bounded(move || match phc {
            Some(phc) => auth::verify_password(&password, &phc),
            None => {
                let dummy = dummy.get_or_init(dummy_hash);
                auth::verify_password(&password, dummy);
                false
            }
        })
        .await
    }

    /// A 429 if the account or the address must wait before trying again.
    pub fn check_throttle(&self, attempt: &LoginAttempt<'_>, now_ms: u64) -> ServiceResult<()> {
        let account = self.failures.peek(&attempt.account_key(), |f| {
            f.filter(|f| !f.expired(now_ms))
                .map_or(0, |f| f.wait_ms(ACCOUNT_FREE_FAILURES, now_ms))
        });
        let address = self.failures.peek(&attempt.address_key(), |f| {
            f.filter(|f| !f.expired(now_ms))
                .map_or(0, |f| f.wait_ms(ADDRESS_FREE_FAILURES, now_ms))
        });
        match account.max(address) {
            0 => Ok(()),
            wait => {
                metrics::counter!("concord_logins_throttled_total").increment(1);
                Err(ServiceError::RateLimited {
                    code: codes::GENERAL,
                    retry_after_ms: wait,
                })
            }
        }
    }

    /// Counts a failed login against the account and the address.
    pub fn failed(&self, attempt: &LoginAttempt<'_>, now_ms: u64) {
        let fresh = || Failures {
            count: 0,
            last_ms: now_ms,
        };
        let count = |f: &mut Failures| {
            f.count = f.count.saturating_add(1);
            f.last_ms = now_ms;
        };
        self.failures
            .with(&attempt.account_key(), now_ms, fresh, count);
        self.failures
            .with(&attempt.address_key(), now_ms, fresh, count);
    }

    /// A successful login clears the account's failures.
    pub fn succeeded(&self, attempt: &LoginAttempt<'_>) {
        self.failures.remove(&attempt.account_key());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_after_the_free_failures_and_is_capped() {
        let at = |count| Failures { count, last_ms: 0 }.wait_ms(5, 0);
        assert_eq!((at(4), at(5), at(6), at(7)), (0, 2_000, 4_000, 8_000));
        assert_eq!(at(40), MAX_BACKOFF_MS);
        assert_eq!(at(70), MAX_BACKOFF_MS);
        assert_eq!(at(u32::MAX), MAX_BACKOFF_MS);
    }

    /// An unknown account costs what a real one does: its check runs a
    /// real argon2 verification with the same parameters, and fails.
    #[tokio::test]
    async fn unknown_accounts_are_checked_against_a_real_hash() {
        let params = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
        let real = auth::hash_password("correct horse").unwrap();
        assert!(real.starts_with("$argon2id$"));
        assert_eq!(params(&dummy_hash()), params(&real));
        let passwords = Passwords::new(1);
        assert!(
            !passwords
                .verify("correct horse".into(), None)
                .await
                .unwrap()
        );
        let dummy = passwords.dummy.get().expect("the dummy exists once used");
        assert_eq!(params(dummy), params(&real));
        assert!(
            passwords
                .verify("correct horse".into(), Some(real))
                .await
                .unwrap()
        );
    }

    #[test]
    fn a_throttled_account_does_not_slow_others() {
        let passwords = Passwords::new(1);
        let ada = LoginAttempt {
            login: "Ada",
            address: "192.0.2.1",
        };
        let bob = LoginAttempt {
            login: "bob",
            address: "192.0.2.1",
        };
        for _ in 0..ACCOUNT_FREE_FAILURES {
            assert!(passwords.check_throttle(&ada, 0).is_ok());
            passwords.failed(&ada, 0);
        }
        let ada_again = LoginAttempt {
            login: "ada ",
            address: "192.0.2.9",
        };
        assert!(passwords.check_throttle(&ada_again, 10).is_err());
        assert!(passwords.check_throttle(&bob, 10).is_ok());
        assert!(passwords.check_throttle(&ada, 2_000).is_ok(), "waited");
        passwords.succeeded(&ada);
        assert!(passwords.check_throttle(&ada, 10).is_ok());
    }
}
