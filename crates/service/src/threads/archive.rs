//! Auto-archiving: threads idle past their `auto_archive_duration`.

use concord_model::Snowflake;
use concord_model::event::EventKind;
use concord_model::snowflake::now_ms;
use concord_store::ThreadUpdate;

use super::thread_audience;
use crate::{Service, ServiceResult};

impl Service {
    /// Archives every active thread idle past its `auto_archive_duration`
    /// at `now`; returns how many. The server runs this every minute.
    pub async fn archive_idle_threads(&self, now: u64) -> ServiceResult<usize> {
        let mut archived = 0;
        let mut after = Snowflake(0);
        loop {
            let guilds = self.store.guilds_after(after, 100).await?;
            let Some(last) = guilds.last() else {
                return Ok(archived);
            };
            after = last.id;
            for guild in guilds {
                for thread in self.store.guild_threads(guild.id).await? {
                    let due = thread
                        .thread
                        .as_ref()
                        .is_some_and(|s| !s.archived && s.archive_due_ms() <= now);
                    if due && self.archive_idle(thread.id, now).await? {
                        archived += 1;
                    }
                }
            }
        }
    }

    /// Archives one thread if it is still idle (a message may just have
    /// arrived, or the thread gone); true if it did.
    async fn archive_idle(&self, thread_id: Snowflake, now: u64) -> ServiceResult<bool> {
        let idle = ThreadUpdate::ArchiveIfIdle { now_ms: now };
        let Some(thread) = self.store.update_thread(thread_id, &idle).await? else {
            return Ok(false);
        };
        let out = self.channel_wire(&thread).await?;
        self.publish(EventKind::ThreadUpdate, thread_audience(&thread), out)
            .await;
        Ok(true)
    }
}

/// How often idle threads are looked for.
const ARCHIVE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// The lease that makes one node of a cluster the archiver.
pub const ARCHIVE_LEASE: &str = "auto-archive";

/// Archives idle threads once a minute, for as long as the service lives
/// and while this node (named `holder`) holds the [`ARCHIVE_LEASE`]: one
/// node of a cluster archives, and another takes over if it stops.
pub async fn auto_archive(service: std::sync::Weak<Service>, holder: String) {
    let mut tick = tokio::time::interval(ARCHIVE_EVERY);
    loop {
        tick.tick().await;
        let Some(service) = service.upgrade() else {
            return;
        };
        if !service
            .takes_turn(ARCHIVE_LEASE, &holder, ARCHIVE_EVERY * 3)
            .await
        {
            continue;
        }
        match service.archive_idle_threads(now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(threads = n, "archived idle threads"),
            Err(e) => tracing::warn!(error = %e, "auto-archiving threads failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use concord_bus::{Delivery, EventBus, LocalBus, Topic};
    use concord_model::event::EventKind;
    use concord_model::records::channel_type;

    use super::*;
    use crate::Caller;
    use crate::cluster::two_nodes::{OWNER, TEXT, config, seeded_store};
    use crate::threads::StartThread;

    async fn service() -> (Service, concord_bus::Subscription) {
        let bus = Arc::new(LocalBus::new(64));
        let events = bus.subscribe().await.unwrap();
        events.interest().add(&[Topic::All]);
        let service = Service::open(seeded_store().await, bus, config(0)).await;
        (service.unwrap(), events)
    }

    /// A new public thread of the world's channel, archived after an hour idle.
    async fn hour_thread(service: &Service) -> Snowflake {
        let caller = Caller {
            id: OWNER,
            bot: false,
        };
        let input = StartThread {
            name: Some("idle".into()),
            kind: Some(channel_type::PUBLIC_THREAD),
            auto_archive_duration: Some(60),
            ..StartThread::default()
        };
        let started = service.start_thread(caller, TEXT, input).await.unwrap();
        started["id"].as_str().unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn idle_threads_archive_themselves_after_their_duration() {
        let (service, mut events) = service().await;
        let id = hour_thread(&service).await;
        let thread = service.store.channel(id).await.unwrap().unwrap();
        let due = thread.thread.as_ref().unwrap().archive_due_ms();

        assert_eq!(service.archive_idle_threads(due - 1).await.unwrap(), 0);
        assert_eq!(service.archive_idle_threads(due).await.unwrap(), 1);
        let state = service
            .store
            .channel(id)
            .await
            .unwrap()
            .unwrap()
            .thread
            .unwrap();
        assert!(state.archived);
        assert_eq!(state.archive_ms, due);
        assert_eq!(
            service.archive_idle_threads(due + 1).await.unwrap(),
            0,
            "an archived thread is left alone"
        );

        let mut updates = Vec::new();
        while let Some(Delivery::Event(event)) = events.try_next() {
            if event.kind == EventKind::ThreadUpdate {
                updates.push(serde_json::from_str::<serde_json::Value>(&event.data).unwrap());
            }
        }
        assert_eq!(updates.len(), 1, "one THREAD_UPDATE, for the archiving");
        assert_eq!(updates[0]["thread_metadata"]["archived"], true);
    }

    /// A thread of the world's channel, idle for two hours already.
    async fn idle_thread(service: &Service) -> Snowflake {
        let id = hour_thread(service).await;
        let mut thread = service.store.channel(id).await.unwrap().unwrap();
        thread.thread.as_mut().unwrap().last_activity_ms = now_ms() - 2 * 60 * 60_000;
        assert!(service.store.update_channel(&thread).await.unwrap());
        id
    }

    async fn archived(service: &Service, id: Snowflake) -> bool {
        let thread = service.store.channel(id).await.unwrap().unwrap();
        thread.thread.unwrap().archived
    }

    /// Nodes sharing leases archive on one node only: the loop of a node
    /// that does not hold the lease runs no pass, and takes over once the
    /// holder gives it up.
    #[tokio::test(start_paused = true)]
    async fn only_the_lease_holder_archives() {
        let realtime = concord_realtime::Realtime::local();
        let (service, _events) = service().await;
        let service = Arc::new(service.with_realtime(realtime.clone()));
        let id = idle_thread(&service).await;
        let leases = &realtime.leases;
        let long = ARCHIVE_EVERY * 100;
        assert!(leases.acquire(ARCHIVE_LEASE, "other", long).await.unwrap());

        let archiver = tokio::spawn(auto_archive(Arc::downgrade(&service), "this".into()));
        // The paused clock runs ahead while every task waits: three turns.
        tokio::time::sleep(ARCHIVE_EVERY * 3).await;
        assert!(
            !archived(&service, id).await,
            "another node holds the lease"
        );

        leases.release(ARCHIVE_LEASE, "other").await.unwrap();
        for _ in 0..3 {
            if archived(&service, id).await {
                break;
            }
            tokio::time::sleep(ARCHIVE_EVERY).await;
        }
        assert!(archived(&service, id).await, "the lease was free to take");
        let now_held = leases.acquire(ARCHIVE_LEASE, "other", long).await.unwrap();
        assert!(!now_held, "this node holds it now");
        archiver.abort();
    }
}
