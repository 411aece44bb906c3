//! The voice WebSocket's messages: opcodes, close codes and the payloads
//! clients send.

use concord_model::Snowflake;
use serde::Deserialize;

pub(crate) mod op {
    pub(crate) const IDENTIFY: u8 = 0;
    pub(crate) const SELECT_PROTOCOL: u8 = 1;
    pub(crate) const READY: u8 = 2;
    pub(crate) const HEARTBEAT: u8 = 3;
    pub(crate) const SESSION_DESCRIPTION: u8 = 4;
    pub(crate) const SPEAKING: u8 = 5;
    pub(crate) const HEARTBEAT_ACK: u8 = 6;
    pub(crate) const RESUME: u8 = 7;
    pub(crate) const HELLO: u8 = 8;
    pub(crate) const RESUMED: u8 = 9;
    pub(crate) const CLIENTS_CONNECT: u8 = 11;
    /// Server to browser: which of its receiving video tracks shows whose
    /// camera or screen.
    pub(crate) const VIDEO: u8 = 12;
    pub(crate) const CLIENT_DISCONNECT: u8 = 13;
}

/// Close codes clients act on.
pub(crate) mod close {
    /// The server stops; clients reconnect through the main gateway.
    pub(crate) const GOING_AWAY: u16 = 1001;
    pub(crate) const DECODE_ERROR: u16 = 4002;
    pub(crate) const NOT_AUTHENTICATED: u16 = 4003;
    pub(crate) const AUTHENTICATION_FAILED: u16 = 4004;
    pub(crate) const ALREADY_AUTHENTICATED: u16 = 4005;
    pub(crate) const SESSION_INVALID: u16 = 4006;
    pub(crate) const SESSION_TIMEOUT: u16 = 4009;
    pub(crate) const UNKNOWN_PROTOCOL: u16 = 4012;
    /// Moved, disconnected, or the channel went away.
    pub(crate) const DISCONNECTED: u16 = 4014;
    pub(crate) const UNKNOWN_ENCRYPTION_MODE: u16 = 4016;
}

/// The lowest `?v=` accepted: from 4 on, Ready carries no heartbeat
/// interval and Hello comes first. No version means 1, as at Discord.
pub(crate) const MIN_VERSION: u8 = 4;
/// From this version on, server messages carry `seq` and heartbeats
/// acknowledge it.
pub(crate) const SEQ_VERSION: u8 = 8;

/// The `?v=` of a request's query; 1 when absent, 0 when unreadable.
pub(crate) fn version(query: Option<&str>) -> u8 {
    let Some(query) = query else { return 1 };
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("v="))
        .map_or(1, |v| v.parse().unwrap_or(0))
}

/// A client message: the opcode and its payload, read further by opcode.
#[derive(Deserialize)]
pub(crate) struct Frame {
    pub(crate) op: u8,
    #[serde(default)]
    pub(crate) d: serde_json::Value,
}

#[derive(Deserialize)]
pub(crate) struct Identify {
    pub(crate) server_id: Snowflake,
    pub(crate) user_id: Snowflake,
    pub(crate) session_id: String,
    pub(crate) token: String,
}

#[derive(Deserialize)]
pub(crate) struct Resume {
    pub(crate) server_id: Snowflake,
    pub(crate) session_id: String,
    pub(crate) token: String,
    /// The last `seq` the client saw (version 8); messages after it are sent again.
    #[serde(default)]
    pub(crate) seq_ack: Option<i64>,
}

/// Select Protocol. `udp` names a mode in `data`; `webrtc` carries the
/// browser's SDP offer, as `sdp` or as `data` (Discord's web client sends
/// both), or as `data.sdp`: any is taken. A browser that sends video names
/// in `streams` which of its offered tracks carries its camera (`video`)
/// and which its screen (`screen`), by their mids.
#[derive(Deserialize)]
pub(crate) struct SelectProtocol {
    pub(crate) protocol: String,
    #[serde(default)]
    pub(crate) data: serde_json::Value,
    #[serde(default)]
    pub(crate) sdp: Option<String>,
    #[serde(default)]
    pub(crate) streams: Vec<StreamTrack>,
}

/// One sending video track of a browser's offer.
#[derive(Deserialize)]
pub(crate) struct StreamTrack {
    /// `video` (a camera) or `screen`, as Discord names its streams.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) mid: String,
}

impl SelectProtocol {
    /// The encryption mode a `udp` selection names.
    pub(crate) fn mode(&self) -> Option<&str> {
        self.data.get("mode")?.as_str()
    }

    /// The SDP offer of a `webrtc` selection.
    pub(crate) fn offer(&self) -> Option<&str> {
        self.sdp
            .as_deref()
            .or_else(|| self.data.as_str())
            .or_else(|| self.data.get("sdp")?.as_str())
    }
}

#[derive(Deserialize)]
pub(crate) struct Speaking {
    /// A bit set: 1 voice, 2 soundshare, 4 priority.
    pub(crate) speaking: u32,
}

/// What a heartbeat is acknowledged with: version 8's `{t}` of `{t,
/// seq_ack}`, earlier versions' nonce as it came.
pub(crate) fn heartbeat_ack(d: &serde_json::Value) -> serde_json::Value {
    match d.get("t") {
        Some(t) => serde_json::json!({ "t": t }),
        None => d.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version(Some("v=8")), 8);
        assert_eq!(version(Some("encoding=json&v=4")), 4);
        assert_eq!(version(Some("v=x")), 0);
        assert_eq!(version(None), 1);
    }

    #[test]
    fn heartbeat_acks() {
        let v8 = serde_json::json!({"t": 1501184119561u64, "seq_ack": 10});
        assert_eq!(
            heartbeat_ack(&v8),
            serde_json::json!({"t": 1501184119561u64})
        );
        assert_eq!(heartbeat_ack(&serde_json::json!(42)), serde_json::json!(42));
    }
}
