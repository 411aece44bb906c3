//! A voice server on loopback with a test admission; its clients are
//! `concord_testkit::voice`'s, which speak the protocol as discord.py and
//! @discordjs/voice do, written apart from the server.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use concord_bus::{EventBus, LocalBus};
use concord_model::event::{Audience, Event, EventKind, NodeId};
use concord_model::{Permissions, Snowflake};
use concord_voice::{Admission, TlsSource, VoiceAdmission, VoiceConfig, VoiceServer};
use serde_json::{Value, json};

pub use concord_testkit::voice::{
    AES, Identity, PATIENCE, Received, Socket, VoiceClient, XCHACHA, discovery_request,
};

pub const GUILD: Snowflake = Snowflake(1_000);
pub const CHANNEL: Snowflake = Snowflake(2_000);
pub const OTHER_CHANNEL: Snowflake = Snowflake(2_001);

/// Admits what it was told to, keyed by (guild, user, session, token).
#[derive(Default)]
pub struct TestAdmission {
    admitted: Mutex<HashMap<(Snowflake, Snowflake, String, String), VoiceAdmission>>,
}

impl TestAdmission {
    /// The main gateway no longer has this user in voice.
    pub fn revoke(&self, user: Snowflake) {
        self.admitted
            .lock()
            .unwrap()
            .retain(|(_, who, _, _), _| *who != user);
    }

    pub fn allow(&self, user: Snowflake, admitted: VoiceAdmission) {
        self.admitted
            .lock()
            .unwrap()
            .insert((GUILD, user, session_of(user), token_of(user)), admitted);
    }
}

#[async_trait]
impl Admission for TestAdmission {
    async fn admit(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
        session_id: &str,
        token: &str,
    ) -> Option<VoiceAdmission> {
        let key = (guild_id, user_id, session_id.to_string(), token.to_string());
        self.admitted.lock().unwrap().get(&key).copied()
    }
}

pub fn session_of(user: Snowflake) -> String {
    format!("session-{user}")
}

pub fn token_of(user: Snowflake) -> String {
    format!("token-{user}")
}

/// What `user` identifies with in [`GUILD`].
pub fn identity(user: Snowflake) -> Identity {
    Identity {
        server_id: GUILD,
        user_id: user,
        session_id: session_of(user),
        token: token_of(user),
    }
}

/// Sends `user`'s Identify on an open socket.
pub async fn identify(ws: Socket, user: Snowflake) -> VoiceClient {
    VoiceClient::identify(ws, &identity(user)).await
}

/// A speaker and listener in [`CHANNEL`] holding SPEAK and STREAM.
pub fn member() -> VoiceAdmission {
    VoiceAdmission {
        channel_id: CHANNEL,
        may_speak: true,
        may_stream: true,
        ..VoiceAdmission::default()
    }
}

pub struct Harness {
    pub server: VoiceServer,
    pub admission: Arc<TestAdmission>,
    pub bus: Arc<LocalBus>,
    pub tls: concord_testkit::voice::Tls,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::with_bus(LocalBus::new(1024)).await
    }

    pub async fn with_bus(bus: LocalBus) -> Harness {
        Harness::with(bus, concord_voice::HEARTBEAT_INTERVAL).await
    }

    /// A server whose Hello names `heartbeat_interval`.
    pub async fn with_heartbeat(heartbeat_interval: std::time::Duration) -> Harness {
        Harness::with(LocalBus::new(1024), heartbeat_interval).await
    }

    async fn with(bus: LocalBus, heartbeat_interval: std::time::Duration) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let admission = Arc::new(TestAdmission::default());
        let bus = Arc::new(bus);
        let config = VoiceConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            udp: "127.0.0.1:0".parse().unwrap(),
            webrtc_udp: "127.0.0.1:0".parse().unwrap(),
            public_host: "127.0.0.1".into(),
            public_port: None,
            public_ip: None,
            tls: TlsSource::SelfSigned {
                dir: dir.path().to_path_buf(),
            },
            heartbeat_interval,
        };
        let server = VoiceServer::start(config, admission.clone(), bus.clone())
            .await
            .expect("voice server starts");
        let tls =
            concord_testkit::voice::tls_trusting(&dir.path().join(concord_voice::SELF_SIGNED_CERT));
        Harness {
            server,
            admission,
            bus,
            tls,
            _dir: dir,
        }
    }

    /// A TLS WebSocket to the voice endpoint with this query.
    pub async fn open(&self, query: &str) -> Result<Socket, String> {
        concord_testkit::voice::connect(&self.tls, &self.server.endpoint(), query).await
    }

    /// A client identified as `user` (allowed with `admitted`), its UDP
    /// discovered and its protocol selected in `mode`.
    pub async fn join(&self, user: u64, admitted: VoiceAdmission, mode: &str) -> VoiceClient {
        let user = Snowflake(user);
        self.admission.allow(user, admitted);
        VoiceClient::join(&self.tls, &self.server.endpoint(), &identity(user), mode).await
    }

    /// Publishes the main gateway's voice state for `user`.
    pub async fn voice_state(&self, user: Snowflake, channel: Option<Snowflake>, flags: Value) {
        let mut data = json!({
            "guild_id": GUILD,
            "channel_id": channel,
            "user_id": user,
            "session_id": session_of(user),
            "mute": false, "deaf": false, "self_mute": false, "self_deaf": false,
            "suppress": false,
        });
        for (key, value) in flags.as_object().unwrap() {
            data[key] = value.clone();
        }
        let audience = Audience::Guild {
            guild_id: GUILD,
            channel_id: None,
            required: Permissions(0),
        };
        self.bus
            .publish(Event::new(
                EventKind::VoiceStateUpdate,
                audience,
                NodeId(9),
                &data,
            ))
            .await
            .unwrap();
    }
}
