//! The guild's hand on its members' voice: server mute and deafen, moves
//! and disconnects, through `PATCH /guilds/{g}/members/{u}` (`mute`,
//! `deaf`, `channel_id`). Checked whole before the edit writes anything;
//! a member not in voice cannot be changed there (40032).

use concord_model::records::Member;
use concord_model::{Permissions, Snowflake, codes};
use concord_realtime::voice::Change;
use serde_json::json;

use super::new_token;
use crate::access::voice::{is_voice, may_move};
use crate::guilds::audit::{Details, action};
use crate::{Caller, GuildView, Service, ServiceError, ServiceResult};

/// What a member edit does to the member's voice state.
#[derive(Debug, Default)]
pub(crate) struct VoiceEdit {
    change: Change,
    disconnect: bool,
}

impl Service {
    /// Checks the voice part of an edit of `target` by the viewer: the
    /// rights to mute, deafen and move are checked by the caller of this,
    /// which also applies `mute` and `deaf` to the member; here, that the
    /// target is in voice and may go where they are moved. `None` when the
    /// edit does not touch voice.
    pub(crate) async fn plan_voice_edit(
        &self,
        view: &GuildView,
        target: &Member,
        (mute, deaf): (Option<bool>, Option<bool>),
        channel: Option<Option<Snowflake>>,
    ) -> ServiceResult<Option<VoiceEdit>> {
        if mute.is_none() && deaf.is_none() && channel.is_none() {
            return Ok(None);
        }
        let state = self
            .realtime
            .voice
            .get(target.guild_id, target.user_id)
            .await;
        let state = state
            .map_err(super::unavailable)?
            .ok_or(ServiceError::BadRequest(
                codes::TARGET_NOT_CONNECTED_TO_VOICE,
            ))?;
        let mut edit = VoiceEdit {
            change: Change {
                mute,
                deaf,
                move_to: None,
            },
            disconnect: false,
        };
        match channel {
            None => {}
            Some(None) => {
                view.require(Permissions::MOVE_MEMBERS)?;
                edit.disconnect = true;
            }
            Some(Some(channel_id)) => {
                let channel = self
                    .store
                    .channel(channel_id)
                    .await?
                    .filter(|c| c.guild_id == Some(target.guild_id))
                    .ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))?;
                if !is_voice(&channel) {
                    return Err(ServiceError::BadRequest(codes::CHANNEL_TYPE_INVALID));
                }
                let moved = GuildView {
                    member: target.clone(),
                    ..view.clone()
                };
                may_move(view.in_channel(&channel), moved.in_channel(&channel))?;
                if channel_id != state.channel_id {
                    edit.change.move_to = Some((channel_id, new_token()));
                }
            }
        }
        Ok(Some(edit))
    }

    /// Applies a checked voice edit: the guild hears the new state (and the
    /// moved session its new voice server), the audit log the move or
    /// disconnect.
    pub(crate) async fn apply_voice_edit(
        &self,
        caller: Caller,
        target: &Member,
        edit: VoiceEdit,
    ) -> ServiceResult<()> {
        let guild_id = target.guild_id;
        if edit.disconnect {
            self.disconnect(guild_id, target.user_id, None).await;
            let details = Details {
                options: Some(json!({ "count": "1" })),
                ..Details::default()
            };
            return self
                .audit(guild_id, caller, action::MEMBER_DISCONNECT, details)
                .await;
        }
        let moved_to = edit.change.move_to.as_ref().map(|(c, _)| *c);
        let changed = self
            .realtime
            .voice
            .change(guild_id, target.user_id, edit.change);
        let Some((before, after, endpoint)) = changed.await.map_err(super::unavailable)? else {
            return Ok(());
        };
        if before != after {
            self.announce_voice(&after, Some(after.channel_id)).await;
        }
        if let Some(channel_id) = moved_to {
            self.announce_server(&after, &endpoint).await;
            let details = Details {
                options: Some(json!({ "channel_id": channel_id, "count": "1" })),
                ..Details::default()
            };
            self.audit(guild_id, caller, action::MEMBER_MOVE, details)
                .await?;
        }
        Ok(())
    }
}
