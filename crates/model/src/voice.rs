//! What the voice server needs to know of a member to admit them and
//! forward their media: decided by the main gateway's voice states, read
//! by the voice server, so both sides share this one shape.

use crate::Snowflake;

/// A voice state as the voice server needs it: where the member is, how
/// they are muted, and what they may do there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VoiceAdmission {
    pub channel_id: Snowflake,
    /// Server mute.
    pub mute: bool,
    /// Server deafen.
    pub deaf: bool,
    pub self_mute: bool,
    pub self_deaf: bool,
    /// Not allowed to speak in a stage channel.
    pub suppress: bool,
    /// Holds SPEAK in the channel.
    pub may_speak: bool,
    /// Holds PRIORITY_SPEAKER in the channel.
    pub priority: bool,
    /// Holds STREAM in the channel: may show a camera or a screen.
    pub may_stream: bool,
}

impl VoiceAdmission {
    /// Whether what this connection sends may be forwarded.
    pub fn heard(&self) -> bool {
        self.may_speak && !self.mute && !self.self_mute && !self.suppress
    }

    /// Whether the camera or screen this connection sends may be shown.
    pub fn shown(&self) -> bool {
        self.may_stream && !self.suppress
    }

    /// Whether anything may be forwarded to this connection.
    pub fn listens(&self) -> bool {
        !self.deaf && !self.self_deaf
    }
}
