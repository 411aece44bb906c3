//! READY: what a session starts with. The service reads what the
//! identifying user's session needs ([`SessionStart`]) and builds READY's
//! payload from it; GUILD_CREATE, which follows it for each guild, is
//! built next to it (`guild_create`).

use concord_model::records::Application;
use concord_model::{Snowflake, wire};
use serde_json::{Value, json};

use crate::messages::read_states::ReadStateEntry;
use crate::{Caller, Service, ServiceResult};

/// What READY needs about the identifying user.
pub struct SessionStart {
    pub user: wire::CurrentUser,
    pub guild_ids: Vec<Snowflake>,
    /// The bot's application; `None` for user accounts.
    pub application: Option<Application>,
    /// The user's DMs and group DMs; bots get none in READY, as on Discord.
    pub private_channels: Vec<wire::Channel>,
    /// The user's read states; `None` for bots, which have none.
    pub read_states: Option<Vec<ReadStateEntry>>,
    /// The user's notification settings; `None` for bots.
    pub user_guild_settings: Option<Vec<Value>>,
}

impl SessionStart {
    /// READY's payload for a session `session_id` on `shard`, listing
    /// `guilds` (the user's in that shard) as unavailable until each one's
    /// GUILD_CREATE follows. `resume_gateway_url` is the public gateway URL
    /// that reaches any node.
    pub fn ready(
        &self,
        session_id: &str,
        resume_gateway_url: &str,
        shard: [u64; 2],
        guilds: &[Snowflake],
    ) -> Value {
        let application = match &self.application {
            Some(app) => {
                json!({ "id": app.id, "flags": wire::application_flags(app) })
            }
            None => json!({ "id": self.user.user.id, "flags": 0 }),
        };
        let stubs: Vec<Value> = guilds
            .iter()
            .map(|g| json!({ "id": g, "unavailable": true }))
            .collect();
        let mut ready = json!({
            "v": 10,
            "user": self.user,
            "guilds": stubs,
            "session_id": session_id,
            "session_type": "normal",
            "resume_gateway_url": resume_gateway_url,
            "shard": shard,
            "application": application,
            "private_channels": self.private_channels,
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
        });
        if let Some(entries) = &self.read_states {
            ready["read_state"] = json!({ "entries": entries, "partial": false, "version": 1 });
        }
        if let Some(entries) = &self.user_guild_settings {
            ready["user_guild_settings"] =
                json!({ "entries": entries, "partial": false, "version": 0 });
        }
        ready
    }
}

impl Service {
    /// What READY needs about `caller`, read when their session identifies.
    pub async fn session_start(&self, caller: Caller) -> ServiceResult<SessionStart> {
        let user = self.me(caller).await?;
        let guild_ids = self.store.user_guild_ids(caller.id).await?;
        if caller.bot {
            return Ok(SessionStart {
                user,
                guild_ids,
                application: self.store.application(caller.id).await?,
                private_channels: Vec::new(),
                read_states: None,
                user_guild_settings: None,
            });
        }
        Ok(SessionStart {
            user,
            guild_ids,
            application: None,
            private_channels: self.private_channels(caller).await?,
            read_states: Some(self.read_state_entries(caller).await?),
            user_guild_settings: Some(self.user_guild_settings_entries(caller).await?),
        })
    }
}
