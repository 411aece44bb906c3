//! Who may do what in a voice channel, as Discord decides it: joining
//! takes VIEW_CHANNEL and CONNECT, and a channel at its user limit lets in
//! only those who may move members; the voice server lets a member speak
//! with SPEAK and first with PRIORITY_SPEAKER; moving someone takes
//! MOVE_MEMBERS and their own right to connect where they go.

use concord_model::Permissions;
use concord_model::records::{Channel, channel_type};

use crate::{ServiceError, ServiceResult};

/// Whether a channel is one members join by voice.
pub fn is_voice(channel: &Channel) -> bool {
    channel.kind == channel_type::GUILD_VOICE
}

/// A join by someone holding `held` in `channel`: `None` when refused
/// (nothing changes), else the number of others the channel may hold for
/// them to enter (`Some(None)`: no limit applies to them).
pub(crate) fn join_limit(held: Permissions, channel: &Channel) -> Option<Option<u32>> {
    if !held.contains(Permissions::VIEW_CHANNEL | Permissions::CONNECT) {
        return None;
    }
    let limit = channel.user_limit.filter(|l| *l > 0);
    Some(limit.filter(|_| !held.contains(Permissions::MOVE_MEMBERS)))
}

/// What a member may do once connected, as the voice server is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Speech {
    pub may_speak: bool,
    pub priority: bool,
    pub may_stream: bool,
}

pub(crate) fn speech(held: Permissions) -> Speech {
    Speech {
        may_speak: held.contains(Permissions::SPEAK),
        priority: held.contains(Permissions::PRIORITY_SPEAKER),
        may_stream: held.contains(Permissions::STREAM),
    }
}

/// A move of someone else: the mover holds MOVE_MEMBERS in the target
/// channel (`mover`), the moved may connect there (`moved`); 50013 else.
pub(crate) fn may_move(mover: Permissions, moved: Permissions) -> ServiceResult<()> {
    let connect = Permissions::VIEW_CHANNEL | Permissions::CONNECT;
    if mover.contains(Permissions::MOVE_MEMBERS | connect) && moved.contains(connect) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            concord_model::codes::MISSING_PERMISSIONS,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_model::Snowflake;

    fn room(limit: Option<u32>) -> Channel {
        let mut c = Channel::new(
            Snowflake(2),
            channel_type::GUILD_VOICE,
            Snowflake(1),
            "Room",
        );
        c.user_limit = limit;
        c
    }

    const SEE: Permissions = Permissions::VIEW_CHANNEL;

    #[test]
    fn joining_takes_connect_and_the_limit_spares_movers() {
        assert_eq!(join_limit(SEE, &room(None)), None);
        assert_eq!(
            join_limit(SEE | Permissions::CONNECT, &room(None)),
            Some(None)
        );
        assert_eq!(
            join_limit(SEE | Permissions::CONNECT, &room(Some(0))),
            Some(None)
        );
        assert_eq!(
            join_limit(SEE | Permissions::CONNECT, &room(Some(3))),
            Some(Some(3))
        );
        let mover = SEE | Permissions::CONNECT | Permissions::MOVE_MEMBERS;
        assert_eq!(join_limit(mover, &room(Some(3))), Some(None));
        assert_eq!(
            join_limit(Permissions::CONNECT, &room(None)),
            None,
            "unseen"
        );
    }

    #[test]
    fn moving_takes_move_members_and_the_moved_ones_connect() {
        let connect = SEE | Permissions::CONNECT;
        assert!(may_move(connect | Permissions::MOVE_MEMBERS, connect).is_ok());
        assert!(may_move(connect, connect).is_err());
        assert!(may_move(connect | Permissions::MOVE_MEMBERS, SEE).is_err());
    }
}
