//! Voice regions: Concord has one, the server itself (each guild's voice
//! goes to the node its first member joined through), listed as Discord
//! lists its own so clients can show and set `rtc_region`.

use concord_model::Snowflake;
use serde::Serialize;

use crate::{Caller, Service, ServiceResult};

/// Discord's voice region object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct VoiceRegion {
    pub id: &'static str,
    pub name: &'static str,
    pub optimal: bool,
    pub deprecated: bool,
    pub custom: bool,
}

/// The region every voice channel is in.
const REGION: VoiceRegion = VoiceRegion {
    id: "concord",
    name: "Concord",
    optimal: true,
    deprecated: false,
    custom: true,
};

/// `GET /voice/regions` and `GET /guilds/{g}/regions`.
pub fn regions() -> Vec<VoiceRegion> {
    vec![REGION]
}

/// Whether a channel's `rtc_region` may be set to `id`.
pub fn is_region(id: &str) -> bool {
    regions().iter().any(|r| r.id == id)
}

impl Service {
    /// The regions a guild's voice channels may use, for its members.
    pub async fn guild_regions(
        &self,
        caller: Caller,
        guild_id: Snowflake,
    ) -> ServiceResult<Vec<VoiceRegion>> {
        self.guild_view(caller, guild_id).await?;
        Ok(regions())
    }
}
