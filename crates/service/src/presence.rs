//! Presence: what a user's sessions say about them (status, activities),
//! kept behind the presence seam and told to the members of their guilds
//! when what others see of it changes.
//!
//! One change is one event for all the user's guilds: the gateway sends it
//! once to each session that shares any of them (see `Audience::Guilds`),
//! not once per shared guild.

use std::time::Duration;

use concord_model::Snowflake;
use concord_model::event::{Audience, EventKind};
use concord_realtime::{Status, UserPresence};
use serde_json::{Value, json};

use crate::{Service, ServiceResult};

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
    /// A session set the user's presence (IDENTIFY or op 3); it lasts `ttl`
    /// unless a heartbeat renews it.
    pub async fn set_presence(
        &self,
        user_id: Snowflake,
        presence: UserPresence,
        ttl: Duration,
    ) -> ServiceResult<()> {
        let before = self.realtime.presence.get(user_id).shown();
        self.realtime.presence.set(user_id, presence.clone(), ttl);
        self.tell_presence(user_id, &before, &presence.shown())
            .await
    }

    /// A heartbeat: the user is still there.
    pub fn renew_presence(&self, user_id: Snowflake, ttl: Duration) {
        self.realtime.presence.refresh(user_id, ttl);
    }

    /// The user's last session ended: they are offline. What they had set
    /// counts even if it expired (the heartbeats stopped before the socket
    /// was given up), since others still show it.
    pub async fn end_presence(&self, user_id: Snowflake) -> ServiceResult<()> {
        let before = self
            .realtime
            .presence
            .clear(user_id)
            .map_or_else(UserPresence::offline, |p| p.shown());
        self.tell_presence(user_id, &before, &UserPresence::offline())
            .await
    }

    /// A user who just joined a guild: its members learn their presence
    /// (nothing to say if they show as offline).
    pub(crate) async fn introduce_presence(&self, guild_id: Snowflake, user_id: Snowflake) {
        let shown = self.shown_presence(user_id);
        if shown.status == Status::Offline {
            return;
        }
        let mut data = presence_json(user_id, &shown);
        data["guild_id"] = json!(guild_id);
        self.publish(EventKind::PresenceUpdate, crate::to_guild(guild_id), data)
            .await;
    }

    /// What others see of the user now.
    pub fn shown_presence(&self, user_id: Snowflake) -> UserPresence {
        self.realtime.presence.get(user_id).shown()
    }

    async fn tell_presence(
        &self,
        user_id: Snowflake,
        before: &UserPresence,
        after: &UserPresence,
    ) -> ServiceResult<()> {
        if before == after {
            return Ok(());
        }
        let guilds = self.store.user_guild_ids(user_id).await?;
        if !guilds.is_empty() {
            let data = presence_json(user_id, after);
            let audience = Audience::Guilds {
                guild_ids: guilds,
                about: user_id,
            };
            self.publish(EventKind::PresenceUpdate, audience, data)
                .await;
        }
        Ok(())
    }
}
