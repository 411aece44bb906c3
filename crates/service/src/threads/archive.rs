//! Auto-archiving: threads idle past their `auto_archive_duration`.

use concord_model::Snowflake;
use concord_model::event::EventKind;
use concord_model::snowflake::now_ms;

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
        let thread = {
            let _serial = self.thread_lock.lock().await;
            let Some(mut thread) = self.store.channel(thread_id).await? else {
                return Ok(false);
            };
            let Some(state) = thread.thread.as_mut() else {
                return Ok(false);
            };
            if state.archived || state.archive_due_ms() > now {
                return Ok(false);
            }
            state.archived = true;
            state.archive_ms = now;
            if !self.store.update_channel(&thread).await? {
                return Ok(false);
            }
            thread
        };
        let out = self.channel_wire(&thread).await?;
        self.publish(EventKind::ThreadUpdate, thread_audience(&thread), out)
            .await;
        Ok(true)
    }
}

/// Archives idle threads once a minute, for as long as the service lives.
pub async fn auto_archive(service: std::sync::Weak<Service>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let Some(service) = service.upgrade() else {
            return;
        };
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
    use concord_config::{Config, Settings};
    use concord_model::event::EventKind;
    use concord_model::records::{Guild, Member, Role, User};
    use concord_store::memory::MemoryStore;
    use concord_store::{DEFAULT_BUCKET_MS, GuildStore, NewGuild, UserStore};

    use super::*;
    use crate::input::StartThread;
    use crate::{Caller, ServiceConfig};
    use concord_model::records::{Channel, channel_type};

    const OWNER: Snowflake = Snowflake(10);
    const GUILD: Snowflake = Snowflake(1);
    const TEXT: Snowflake = Snowflake(2);

    async fn service() -> (Service, concord_bus::Subscription) {
        let store = Arc::new(MemoryStore::new(DEFAULT_BUCKET_MS));
        store.create_user(&User::new(OWNER, "owner")).await.unwrap();
        let guild = NewGuild {
            guild: Guild::new(GUILD, "g", OWNER),
            roles: vec![Role::everyone(GUILD)],
            channels: vec![Channel::new(TEXT, channel_type::GUILD_TEXT, GUILD, "text")],
            owner: Member::new(GUILD, OWNER, 0),
        };
        store.create_guild(&guild).await.unwrap();
        let bus = Arc::new(LocalBus::new(64));
        let events = bus.subscribe().await.unwrap();
        events.interest().add(&[Topic::All]);
        let config = Config::from_settings(Settings::defaults()).unwrap();
        let config = ServiceConfig {
            worker_id: 0,
            process_id: 0,
            rate_limits: config.rate_limits,
            registration: config.registration,
            public_base: String::new(),
            attachment_max_bytes: config.attachment_max_bytes,
            attachment_url_ttl_s: config.attachment_url_ttl_s,
            upload_concurrency: config.bounds.upload_concurrency as usize,
            cache_max_bytes: config.cache_max_bytes,
            hash_concurrency: config.bounds.hash_concurrency,
        };
        (Service::open(store, bus, config).await.unwrap(), events)
    }

    #[tokio::test]
    async fn idle_threads_archive_themselves_after_their_duration() {
        let (service, mut events) = service().await;
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
        let id: Snowflake = started["id"].as_str().unwrap().parse().unwrap();
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
}
