//! The one way passwords are hashed and checked, within bounds.
//!
//! An argon2 hash takes 19 MiB and tens of milliseconds of a core, so
//! hashing without a bound lets anyone with a few hundred connections take
//! the server's memory. Every hash and every check runs here: at most
//! `hash_concurrency` at once, on as many threads of its own, a short
//! queue behind them, and a 429 for whoever finds the queue full or waits
//! too long.
//!
//! The hashing bound is per machine: it guards this process's memory and
//! cores, so it stays local. Logins are also throttled per account and per
//! address, counted in the realtime seam's [`Limiter`] (failure streaks)
//! so that every node sees every failure: after a few failures each
//! further attempt must wait twice as long as the last, and is refused
//! before anything is hashed. A login for an account that does not exist
//! is checked against a dummy hash, so it costs what a real one costs and
//! says nothing about which accounts exist.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use concord_model::codes;
use concord_realtime::{Limiter, RealtimeResult, Streak};
use tokio::sync::Semaphore;

use super::auth;
use crate::Service;
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
/// How long to come back after when the throttle cannot be read.
const THROTTLE_UNKNOWN_RETRY_MS: u64 = 1_000;

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
}

/// Milliseconds still to wait at `now_ms` after `streak` once `free`
/// failures are spent: 2 s after the last of them, then doubling with each
/// failure.
fn wait_ms(streak: Streak, free: u32, now_ms: u64) -> u64 {
    if streak.count < free {
        return 0;
    }
    // Past 2^20 the cap has long been reached; the shift cannot overflow.
    let doublings = (streak.count - free).min(20);
    let backoff = (2_000u64 << doublings).min(MAX_BACKOFF_MS);
    streak
        .last_ms
        .saturating_add(backoff)
        .saturating_sub(now_ms)
}

/// Who a login attempt is counted against.
pub struct LoginAttempt<'a> {
    /// The login name as given (it need not exist).
    pub login: &'a str,
    /// The client's address, as the rate limits see it.
    pub address: &'a str,
}

impl LoginAttempt<'_> {
    fn account_key(&self) -> String {
        format!("login:account:{}", concord_store::login_key(self.login))
    }

    fn address_key(&self) -> String {
        format!("login:address:{}", self.address)
    }

    /// Milliseconds the attempt must wait at `now_ms`: the longer of the
    /// account's and the address's backoff.
    async fn wait_ms(&self, limiter: &dyn Limiter, now_ms: u64) -> RealtimeResult<u64> {
        let (account, address) = (self.account_key(), self.address_key());
        let streaks = limiter.streaks(&[&account, &address], now_ms).await?;
        let wait = |at: usize, free| {
            streaks
                .get(at)
                .copied()
                .flatten()
                .map_or(0, |s| wait_ms(s, free, now_ms))
        };
        Ok(wait(0, ACCOUNT_FREE_FAILURES).max(wait(1, ADDRESS_FREE_FAILURES)))
    }

    /// Counts a failure against the account and the address.
    async fn failed(&self, limiter: &dyn Limiter, now_ms: u64) -> RealtimeResult<()> {
        let (account, address) = (self.account_key(), self.address_key());
        limiter
            .extend_streaks(&[&account, &address], now_ms, FAILURE_MEMORY_MS)
            .await
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
}

impl Service {
    /// A 429 if the account or the address must wait before trying again.
    ///
    /// Fail-closed: when the limiter cannot answer, the login is refused
    /// with a short 429. The throttle is the only guard against guessing a
    /// password online, a login is rare and retried, and every session
    /// already open goes on; letting logins through unthrottled during an
    /// outage would hand a guesser the whole hashing capacity.
    pub(crate) async fn check_login_throttle(
        &self,
        attempt: &LoginAttempt<'_>,
        now_ms: u64,
    ) -> ServiceResult<()> {
        let wait = match attempt.wait_ms(&*self.realtime.limiter, now_ms).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::warn!(error = %e, "login throttle unavailable; login refused");
                THROTTLE_UNKNOWN_RETRY_MS
            }
        };
        match wait {
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

    /// Counts a failed login against the account and the address. A
    /// failure that cannot be counted is logged; the login fails anyway.
    pub(crate) async fn login_failed(&self, attempt: &LoginAttempt<'_>, now_ms: u64) {
        if let Err(e) = attempt.failed(&*self.realtime.limiter, now_ms).await {
            tracing::warn!(error = %e, "login failure not counted");
        }
    }

    /// A successful login clears the account's failures.
    pub(crate) async fn login_succeeded(&self, attempt: &LoginAttempt<'_>) {
        let ended = self
            .realtime
            .limiter
            .end_streak(&attempt.account_key())
            .await;
        if let Err(e) = ended {
            tracing::warn!(error = %e, "login failures not cleared");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_after_the_free_failures_and_is_capped() {
        let at = |count| wait_ms(Streak { count, last_ms: 0 }, 5, 0);
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

    /// Failures are counted in the shared limiter: a second node sees
    /// the first's.
    #[tokio::test]
    async fn a_throttled_account_does_not_slow_others() {
        let limiter: Arc<dyn Limiter> = Arc::new(concord_realtime::LocalLimiter::new());
        let (node_a, node_b) = (&*limiter, &*limiter);
        let ada = LoginAttempt {
            login: "Ada",
            address: "192.0.2.1",
        };
        let bob = LoginAttempt {
            login: "bob",
            address: "192.0.2.1",
        };
        for _ in 0..ACCOUNT_FREE_FAILURES {
            assert_eq!(ada.wait_ms(node_a, 0).await.unwrap(), 0);
            ada.failed(node_a, 0).await.unwrap();
        }
        let ada_again = LoginAttempt {
            login: "ada ",
            address: "192.0.2.9",
        };
        assert_eq!(ada_again.wait_ms(node_b, 10).await.unwrap(), 1_990);
        assert_eq!(bob.wait_ms(node_b, 10).await.unwrap(), 0);
        assert_eq!(ada.wait_ms(node_b, 2_000).await.unwrap(), 0, "waited");
        limiter.end_streak(&ada.account_key()).await.unwrap();
        assert_eq!(ada.wait_ms(node_a, 10).await.unwrap(), 0);
    }
}
