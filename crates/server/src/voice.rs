//! The voice server's link to the rest of the node: its settings, and who
//! may connect, which the main gateway's voice states decide.

use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use concord_config::{VoiceSettings, VoiceTls};
use concord_model::Snowflake;
use concord_service::Service;
use concord_voice::{TlsSource, VoiceAdmission, VoiceConfig};

/// The voice server's settings as the crate takes them.
pub(crate) fn config(settings: &VoiceSettings) -> VoiceConfig {
    VoiceConfig {
        listen: settings.listen,
        udp: settings.udp,
        webrtc_udp: settings.webrtc_udp,
        public_host: settings.public_host.clone(),
        public_port: settings.public_port,
        public_ip: None,
        tls: match &settings.tls {
            VoiceTls::Files { cert, key } => TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            VoiceTls::SelfSigned { dir } => TlsSource::SelfSigned { dir: dir.clone() },
        },
        heartbeat_interval: concord_voice::HEARTBEAT_INTERVAL,
    }
}

/// Asks the service whether a voice connection may stand. The voice
/// server starts before the service exists (the service names its
/// endpoint), so the service is handed over afterwards; until then, and
/// after it is gone, nobody is admitted.
#[derive(Default)]
pub(crate) struct Admission {
    service: OnceLock<Weak<Service>>,
}

impl Admission {
    pub(crate) fn serve(&self, service: &Arc<Service>) {
        let _ = self.service.set(Arc::downgrade(service));
    }
}

#[async_trait]
impl concord_voice::Admission for Admission {
    async fn admit(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
        session_id: &str,
        token: &str,
    ) -> Option<VoiceAdmission> {
        let service = self.service.get()?.upgrade()?;
        let admission = service
            .voice_admission(guild_id, user_id, session_id, token)
            .await;
        match admission {
            Ok(admission) => admission,
            Err(e) => {
                tracing::warn!(error = %e, "voice admission unavailable; connection refused");
                None
            }
        }
    }
}
