//! Presence: what a user's sessions say about them (status, activities),
//! kept per session behind the realtime seam and told to the members of
//! their guilds when what others see of it changes. The seam decides each
//! change over every session of every node (a user goes offline when
//! their last live session anywhere ends or expires) and says what to
//! tell; this module tells it.
//!
//! One change is one event for all the user's guilds: the gateway sends it
//! once to each session that shares any of them (see `Audience::Guilds`),
//! not once per shared guild. The event carries each guild's member count:
//! in a guild large for a session (above its `large_threshold`), only a
//! session that asked for the member (op 8 with presences, op 14, op 37)
//! gets it, and bots, as Discord does for lazy guilds.

use std::time::Duration;

use concord_model::Snowflake;
use concord_model::event::{Audience, EventKind};
use concord_realtime::{Status, Touched, Transition, UserPresence};
use serde_json::{Value, json};

use crate::{Service, ServiceError, ServiceResult};

/// A presence as PRESENCE_UPDATE and GUILD_CREATE carry it (without the
/// guild id, which the gateway adds).
pub fn presence_json(user_id: Snowflake, presence: &UserPresence) -> Value {
    let status = presence.status.shown();
    let client_status = match status {
        Status::Offline => json!({}),
        status => json!({ "desktop": status }),
    };
    json!({
        "user": { "id": user_id },
        "status": status,
        "activities": presence.activities,
        "client_status": client_status,
    })
}

impl Service {
    /// A session of the user connected (IDENTIFY or RESUME) with
    /// `presence`; it lasts `ttl` unless a heartbeat renews it.
    pub async fn connect_presence(
        &self,
        user_id: Snowflake,
        session_id: &str,
        presence: UserPresence,
        ttl: Duration,
    ) -> ServiceResult<()> {
        let transition = self
            .realtime
            .presence
            .connect(user_id, session_id, presence, ttl)
            .await
            .map_err(unavailable)?;
        self.tell_presence(user_id, transition).await
    }

    /// A session set a new presence (op 3). A session whose entry expired
    /// meanwhile is connected again with it.
    pub async fn update_presence(
        &self,
        user_id: Snowflake,
        session_id: &str,
        presence: UserPresence,
        ttl: Duration,
    ) -> ServiceResult<()> {
        let presences = &self.realtime.presence;
        let touched = presences
            .update(user_id, session_id, presence.clone())
            .await
            .map_err(unavailable)?;
        self.after_touch(touched, user_id, session_id, presence, ttl)
            .await
    }

    /// A heartbeat: the session is still there for another `ttl`. One
    /// that expired meanwhile (the node stalled past it) is connected again
    /// with `presence`, the session's own.
    pub async fn renew_presence(
        &self,
        user_id: Snowflake,
        session_id: &str,
        presence: UserPresence,
        ttl: Duration,
    ) -> ServiceResult<()> {
        let touched = self
            .realtime
            .presence
            .refresh(user_id, session_id, ttl)
            .await
            .map_err(unavailable)?;
        self.after_touch(touched, user_id, session_id, presence, ttl)
            .await
    }

    /// Tells what a live session's change changed; a session whose entry
    /// expired meanwhile is connected again with `presence`.
    async fn after_touch(
        &self,
        touched: Touched,
        user_id: Snowflake,
        session_id: &str,
        presence: UserPresence,
        ttl: Duration,
    ) -> ServiceResult<()> {
        match touched {
            Touched::Live(transition) => self.tell_presence(user_id, transition).await,
            Touched::Gone => {
                self.connect_presence(user_id, session_id, presence, ttl)
                    .await
            }
        }
    }

    /// The session's connection ended; if it was the user's last live one
    /// on any node, they are offline. What others were told last is what
    /// the change starts from, even if the session expired before its
    /// socket was given up.
    pub async fn end_presence(&self, user_id: Snowflake, session_id: &str) -> ServiceResult<()> {
        let transition = self
            .realtime
            .presence
            .disconnect(user_id, session_id)
            .await
            .map_err(unavailable)?;
        self.tell_presence(user_id, transition).await
    }

    /// Tells of users whose sessions expired without ending (their node
    /// stopped); one node of a cluster runs it (see [`presence_sweep`]).
    /// Returns how many users were told of.
    pub async fn sweep_presences(&self) -> ServiceResult<usize> {
        let mut told = 0;
        loop {
            let swept = self
                .realtime
                .presence
                .sweep(SWEEP_BATCH)
                .await
                .map_err(unavailable)?;
            let done = swept.len() < SWEEP_BATCH;
            for (user_id, transition) in swept {
                self.tell_presence(user_id, Some(transition)).await?;
                told += 1;
            }
            if done {
                return Ok(told);
            }
        }
    }

    /// A user who just joined a guild: its members learn their presence
    /// (nothing to say if they show as offline), by the same rule as any
    /// change of it: in a large guild, only those who asked for it.
    pub(crate) async fn introduce_presence(&self, guild_id: Snowflake, user_id: Snowflake) {
        let shown = self.shown_presences(&[user_id]).await.remove(0);
        if shown.status == Status::Offline {
            return;
        }
        let Ok(audience) = self.presence_audience(user_id, vec![guild_id]).await else {
            return;
        };
        let data = presence_json(user_id, &shown);
        self.publish(EventKind::PresenceUpdate, audience, data)
            .await;
    }

    /// Who hears of `user_id`'s presence in `guild_ids`: their members,
    /// with each guild's member count, by which the gateway sends it in a
    /// large guild only to the sessions that asked for this member (and
    /// to bots). A count is one read of a kept counter, whatever the
    /// guild's size.
    async fn presence_audience(
        &self,
        user_id: Snowflake,
        guild_ids: Vec<Snowflake>,
    ) -> ServiceResult<Audience> {
        let mut member_counts = Vec::with_capacity(guild_ids.len());
        for guild in &guild_ids {
            member_counts.push(self.store.member_count(*guild).await?);
        }
        Ok(Audience::Guilds {
            guild_ids,
            about: user_id,
            member_counts,
        })
    }

    /// What others see of each of `users` now, in order. Presences are
    /// shown, not relied on: if the backend cannot answer, everyone reads
    /// as offline rather than the listing failing.
    pub async fn shown_presences(&self, users: &[Snowflake]) -> Vec<UserPresence> {
        match self.realtime.presence.get_many(users).await {
            Ok(presences) if presences.len() == users.len() => presences,
            Ok(_) => {
                tracing::warn!("presence backend answered for the wrong number of users");
                vec![UserPresence::offline(); users.len()]
            }
            Err(e) => {
                tracing::warn!(error = %e, "presences not read; listed as offline");
                vec![UserPresence::offline(); users.len()]
            }
        }
    }

    /// The presences of `users` who show as something other than offline,
    /// as GUILD_CREATE and GUILD_MEMBERS_CHUNK list them: one read for all.
    pub async fn listed_presences(&self, users: &[Snowflake]) -> Vec<Value> {
        let shown = self.shown_presences(users).await;
        users
            .iter()
            .zip(shown)
            .filter(|(_, p)| p.status != Status::Offline)
            .map(|(id, p)| presence_json(*id, &p))
            .collect()
    }

    /// Tells the user's guilds of `transition`. The backend decides
    /// transitions one at a time, but they are published apart: a later
    /// one (the user resuming on another node) may reach the bus before
    /// an earlier one (their old connection ending here), leaving others
    /// with a stale last word. So once published, what others should see
    /// is read again, and published too if it differs, until the last
    /// thing this node said is current; whichever node publishes last
    /// thus ends on what the backend holds.
    async fn tell_presence(
        &self,
        user_id: Snowflake,
        transition: Option<Transition>,
    ) -> ServiceResult<()> {
        let Some(transition) = transition else {
            return Ok(());
        };
        let guilds = self.store.user_guild_ids(user_id).await?;
        if guilds.is_empty() {
            return Ok(());
        }
        let audience = self.presence_audience(user_id, guilds).await?;
        let mut told = transition.after;
        for _ in 0..PRESENCE_RECHECKS {
            let data = presence_json(user_id, &told);
            self.publish(EventKind::PresenceUpdate, audience.clone(), data)
                .await;
            let now = self
                .realtime
                .presence
                .get_many(&[user_id])
                .await
                .map_err(unavailable)?
                .pop();
            match now {
                Some(now) if now != told => told = now,
                _ => break,
            }
        }
        Ok(())
    }
}

/// How many times a presence change is published at most, when others'
/// changes of the same user keep overtaking it (see `tell_presence`).
const PRESENCE_RECHECKS: usize = 3;

/// Expired sessions forgotten per round trip of a sweep.
const SWEEP_BATCH: usize = 500;
/// How often the presence sweep runs: often enough that a crashed node's
/// users are offline for others within a minute. A session's presence
/// outlives its last heartbeat by the heartbeat timeout (51.25 s by
/// default); the sweep notices it at most this much later.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// The lease that makes one node of a cluster the sweeper.
pub const SWEEP_LEASE: &str = "presence-sweep";

fn unavailable(e: concord_realtime::RealtimeError) -> ServiceError {
    ServiceError::Internal(e.to_string())
}

/// Tells of users whose sessions expired without ending, every few
/// seconds, for as long as the service lives and while this node (named
/// `holder`) holds the [`SWEEP_LEASE`].
pub async fn presence_sweep(service: std::sync::Weak<Service>, holder: String) {
    let sweep = |service: std::sync::Arc<Service>| async move {
        match service.sweep_presences().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(users = n, "presences of stopped sessions told offline"),
            Err(e) => tracing::warn!(error = %e, "presence sweep failed"),
        }
    };
    crate::cluster::leases::each_turn(service, holder, SWEEP_LEASE, SWEEP_EVERY, sweep).await;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use concord_bus::{Delivery, EventBus, LocalBus, Subscription, Topic};
    use concord_model::records::{Guild, Member, Role, User};
    use concord_realtime::Realtime;
    use concord_store::memory::MemoryStore;
    use concord_store::{DEFAULT_BUCKET_MS, NewGuild, Store};

    use super::*;
    use crate::ServiceConfig;

    const ADA: Snowflake = Snowflake(10);
    const GUILD: Snowflake = Snowflake(1);
    const TTL: Duration = Duration::from_secs(60);

    /// Two nodes sharing one store, bus and realtime state; Ada owns a guild.
    async fn two_nodes() -> (Service, Service, Subscription) {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new(DEFAULT_BUCKET_MS));
        store.create_user(&User::new(ADA, "ada")).await.unwrap();
        let guild = NewGuild {
            guild: Guild::new(GUILD, "g", ADA),
            roles: vec![Role::everyone(GUILD)],
            channels: vec![],
            owner: Member::new(GUILD, ADA, 0),
        };
        store.create_guild(&guild).await.unwrap();
        let bus: Arc<dyn EventBus> = Arc::new(LocalBus::new(64));
        let events = bus.subscribe().await.unwrap();
        events.interest().add(&[Topic::All]);
        let realtime = Realtime::local();
        let node = || async {
            let config = ServiceConfig::defaults();
            let service = Service::open(Arc::clone(&store), Arc::clone(&bus), config);
            service.await.unwrap().with_realtime(realtime.clone())
        };
        (node().await, node().await, events)
    }

    /// The statuses told since the last call.
    fn told(events: &mut Subscription) -> Vec<String> {
        let mut statuses = Vec::new();
        while let Some(Delivery::Event(event)) = events.try_next() {
            if event.kind == EventKind::PresenceUpdate {
                let data: Value = serde_json::from_str(&event.data).unwrap();
                statuses.push(data["status"].as_str().unwrap().to_owned());
            }
        }
        statuses
    }

    fn with(status: Status) -> UserPresence {
        UserPresence {
            status,
            activities: Vec::new(),
            afk: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn offline_when_the_last_session_on_any_node_ends() {
        let (a, b, mut events) = two_nodes().await;
        a.connect_presence(ADA, "on-a", with(Status::Idle), TTL)
            .await
            .unwrap();
        b.connect_presence(ADA, "on-b", with(Status::Dnd), TTL)
            .await
            .unwrap();
        assert_eq!(told(&mut events), ["idle", "dnd"]);
        b.end_presence(ADA, "on-b").await.unwrap();
        assert_eq!(told(&mut events), ["idle"], "a's session still shows");
        a.end_presence(ADA, "on-a").await.unwrap();
        assert_eq!(told(&mut events), ["offline"]);
    }

    /// Node b stops without ending its session: once it expires, the
    /// sweep on another node tells the user's guilds, once.
    #[tokio::test(start_paused = true)]
    async fn a_stopped_nodes_sessions_are_swept_offline() {
        let (a, b, mut events) = two_nodes().await;
        b.connect_presence(ADA, "on-b", with(Status::Dnd), TTL)
            .await
            .unwrap();
        assert_eq!(told(&mut events), ["dnd"]);
        // Node b stops: nothing renews or ends its session.
        tokio::time::advance(TTL / 2).await;
        assert_eq!(a.sweep_presences().await.unwrap(), 0, "not expired yet");
        tokio::time::advance(TTL).await;
        assert_eq!(a.shown_presences(&[ADA]).await, [UserPresence::offline()]);
        assert!(told(&mut events).is_empty(), "nobody told yet");
        assert_eq!(a.sweep_presences().await.unwrap(), 1);
        assert_eq!(told(&mut events), ["offline"]);
        assert_eq!(a.sweep_presences().await.unwrap(), 0, "told once");
    }

    /// Ada's connection on node b ends (offline, decided first) while she
    /// resumes on node a (online, decided second), and a publishes first:
    /// b, publishing last, ends on what she is now.
    #[tokio::test(start_paused = true)]
    async fn a_change_published_after_a_later_one_is_followed_by_the_current_presence() {
        let (a, b, mut events) = two_nodes().await;
        b.connect_presence(ADA, "on-b", with(Status::Online), TTL)
            .await
            .unwrap();
        assert_eq!(told(&mut events), ["online"]);
        let presences = &b.realtime.presence;
        let ended = presences.disconnect(ADA, "on-b").await.unwrap();
        a.connect_presence(ADA, "on-a", with(Status::Online), TTL)
            .await
            .unwrap();
        assert_eq!(told(&mut events), ["online"]);
        b.tell_presence(ADA, ended).await.unwrap();
        assert_eq!(
            told(&mut events),
            ["offline", "online"],
            "the last word is that she is online"
        );
    }
}
