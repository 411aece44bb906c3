//! The voice server: Discord's voice protocol (version 8) and a selective
//! forwarding unit (SFU) for the Opus streams of the people in a voice channel.
//!
//! Why it looks the way it does:
//! - **Two sockets per node.** A TLS WebSocket (`wss://`, which the clients
//!   hard-code) carries the signalling; one UDP socket carries every
//!   connection's media, so IP discovery is answered from the very address
//!   and port that Ready named.
//! - **Decrypt once, encrypt per listener.** Each connection has its own key
//!   and each listener its own nonce counter and, per speaker, its own
//!   gapless sequence, so no nonce is ever used twice under one key and a
//!   listener never sees the holes the SFU's choices leave. Opus stays opaque.
//! - **Forwarding by who speaks.** In a crowded channel only the
//!   [`MAX_FORWARDED_SPEAKERS`] loudest current speakers go out, priority
//!   speakers first ([`select`]).
//! - **Who may be here is decided elsewhere.** The main gateway owns voice
//!   states; this crate asks it through [`Admission`] when a client
//!   identifies or resumes, and follows its VOICE_STATE_UPDATE events on the
//!   bus (a move or leave closes the connection with 4014, a deafen stops
//!   what goes to it, a mute drops what comes from it). What this crate keeps
//!   is only node-local media state: sockets, keys, counters.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use concord_bus::EventBus;
use concord_model::Snowflake;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

mod crypto;
mod events;
mod protocol;
mod rtp;
pub mod select;
mod sfu;
mod tls;
mod udp;
mod webrtc;
mod ws;

pub use concord_model::voice::VoiceAdmission;
pub use crypto::Mode;
pub use select::MAX_FORWARDED_SPEAKERS;
pub use tls::{SELF_SIGNED_CERT, SELF_SIGNED_KEY};
pub use ws::HEARTBEAT_INTERVAL;

/// Where the voice server listens and what it tells clients.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// The voice WebSocket's TLS listener.
    pub listen: SocketAddr,
    /// The media socket (IPv4: the clients are IPv4 only); port 0 picks a
    /// free one.
    pub udp: SocketAddr,
    /// The host named in VOICE_SERVER_UPDATE's `endpoint` (a name or an
    /// address, no scheme).
    pub public_host: String,
    /// The port named in `endpoint` when a proxy in front listens on another
    /// than [`VoiceConfig::listen`]; `None` names the listener's own.
    pub public_port: Option<u16>,
    /// The browsers' WebRTC media socket (its own port: a Discord client's
    /// IP discovery would look like STUN to a WebRTC stack); port 0 picks a
    /// free one. Browsers reach it at the address Ready names.
    pub webrtc_udp: SocketAddr,
    /// The address Ready names for UDP; `None` takes the UDP socket's own
    /// when it is bound to one, else `public_host`'s first IPv4 address.
    pub public_ip: Option<Ipv4Addr>,
    pub tls: TlsSource,
    /// The heartbeat interval Hello names ([`HEARTBEAT_INTERVAL`], Discord's,
    /// unless a test wants silence noticed sooner).
    pub heartbeat_interval: Duration,
}

/// Where the WebSocket's certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// A certificate chain and its private key, both PEM.
    Files { cert: PathBuf, key: PathBuf },
    /// A self-signed pair generated into this directory on first start and
    /// read back afterwards; its SHA-256 fingerprint is logged so that a
    /// client can be told to trust it.
    SelfSigned { dir: PathBuf },
}

/// Whether a client may hold a voice connection: the main gateway's voice
/// state decides.
#[async_trait]
pub trait Admission: Send + Sync {
    /// Whether this (guild = `server_id`, user, main-gateway session, voice
    /// token) may connect now, and with what state. It is asked again for a
    /// connection already in (on RESUME, and after the bus lost events), so
    /// it must answer from the current state, not consume the token.
    async fn admit(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
        session_id: &str,
        token: &str,
    ) -> Option<VoiceAdmission>;
}

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("voice: {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("voice TLS: {0}")]
    Tls(String),
    #[error("voice: {0}")]
    Config(String),
    #[error("voice: {0}")]
    Bus(#[from] concord_bus::BusError),
}

impl VoiceError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> VoiceError {
        let what = what.into();
        move |source| VoiceError::Io { what, source }
    }
}

/// How long a stopping server waits for its connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running voice server; [`VoiceServer::shutdown`] stops it.
pub struct VoiceServer {
    endpoint: String,
    udp_addr: SocketAddr,
    webrtc_addr: SocketAddr,
    sfu: Arc<sfu::Sfu>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// Every connection task holds a clone of the sender; all dropped means
    /// all ended.
    done: mpsc::Receiver<()>,
}

impl VoiceServer {
    pub async fn start(
        config: VoiceConfig,
        admission: Arc<dyn Admission>,
        bus: Arc<dyn EventBus>,
    ) -> Result<VoiceServer, VoiceError> {
        let acceptor = tls::acceptor(&config.tls, &config.public_host)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(VoiceError::io(format!("bind {}", config.listen)))?;
        if !config.udp.is_ipv4() {
            return Err(VoiceError::Config(format!(
                "the voice UDP address {} is not IPv4; the clients are IPv4 only",
                config.udp
            )));
        }
        let socket = UdpSocket::bind(config.udp)
            .await
            .map_err(VoiceError::io(format!("bind {}", config.udp)))?;
        let udp_addr = socket.local_addr().map_err(VoiceError::io("udp address"))?;
        let webrtc_socket = UdpSocket::bind(config.webrtc_udp)
            .await
            .map_err(VoiceError::io(format!("bind {}", config.webrtc_udp)))?;
        let webrtc_addr = webrtc_socket
            .local_addr()
            .map_err(VoiceError::io("webrtc udp address"))?;
        let tcp_addr = listener
            .local_addr()
            .map_err(VoiceError::io("tcp address"))?;
        let public_ip = match config.public_ip {
            Some(ip) => ip,
            None => public_ip(&config.public_host, udp_addr).await?,
        };
        let endpoint = format!(
            "{}:{}",
            config.public_host,
            config.public_port.unwrap_or(tcp_addr.port())
        );

        let socket = Arc::new(socket);
        let subscription = bus.subscribe().await?;
        let (bridge, inbox) =
            webrtc::Bridge::new(SocketAddr::new(public_ip.into(), webrtc_addr.port()));
        let sfu = Arc::new(sfu::Sfu::new(
            admission,
            subscription.interest().clone(),
            SocketAddr::new(public_ip.into(), udp_addr.port()),
            bridge,
        ));
        let (stop, stopped) = watch::channel(false);
        let (done_tx, done) = mpsc::channel(1);
        let tasks = vec![
            tokio::spawn(ws::accept_loop(
                listener,
                acceptor,
                sfu.clone(),
                stopped.clone(),
                done_tx,
                config.heartbeat_interval,
            )),
            tokio::spawn(udp::run(socket.clone(), sfu.clone(), stopped.clone())),
            tokio::spawn(webrtc::run(
                Arc::new(webrtc_socket),
                socket,
                sfu.clone(),
                inbox,
                stopped.clone(),
            )),
            tokio::spawn(events::run(subscription, sfu.clone(), stopped.clone())),
            tokio::spawn(sfu::reap(sfu.clone(), stopped)),
        ];
        tracing::info!(%endpoint, %tcp_addr, %udp_addr, %webrtc_addr, %public_ip, "voice server listening");
        Ok(VoiceServer {
            endpoint,
            udp_addr,
            webrtc_addr,
            sfu,
            stop,
            tasks,
            done,
        })
    }

    /// `host:port` of the voice WebSocket, as VOICE_SERVER_UPDATE names it
    /// (no scheme).
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The media socket's local address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The browsers' WebRTC media socket's local address.
    pub fn webrtc_addr(&self) -> SocketAddr {
        self.webrtc_addr
    }

    /// Stops accepting, closes every connection (1001: the clients reconnect
    /// through the main gateway) and waits a while for them to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.sfu.close_all(protocol::close::GOING_AWAY);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.done.recv()).await;
    }
}

/// The IPv4 address Ready names when the config names none.
async fn public_ip(host: &str, udp: SocketAddr) -> Result<Ipv4Addr, VoiceError> {
    if let SocketAddr::V4(v4) = udp
        && !v4.ip().is_unspecified()
    {
        return Ok(*v4.ip());
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(ip);
    }
    let found = tokio::net::lookup_host((host, 0))
        .await
        .map_err(VoiceError::io(format!("resolve {host}")))?
        .find_map(|addr| match addr {
            SocketAddr::V4(v4) => Some(*v4.ip()),
            SocketAddr::V6(_) => None,
        });
    found.ok_or_else(|| {
        VoiceError::Config(format!(
            "{host} has no IPv4 address to name for voice UDP; bind the UDP socket to one"
        ))
    })
}
