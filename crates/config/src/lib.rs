//! Configuration: raw [`Settings`] from flags, `CONCORD_*` environment
//! variables and a TOML file, merged in that precedence over the defaults,
//! then checked into a [`Config`] that the rest of the server is given.
//!
//! One struct serves clap and serde, so a flag, its variable and its file
//! key can never drift apart; `concord.example.toml` is tested against it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

mod example;
pub use example::example_toml;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    On,
    Off,
}

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone who can reach the server.
    Open,
    /// Only with a guild invite code (the account joins that guild) or a registration token.
    Invite,
    /// Only with a one-time registration token from `concord token create`.
    Token,
    /// Nobody; administrators create accounts with `concord user create`.
    Closed,
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Anyone who can reach the server.
    Open,
    /// Only clients on this machine (127.0.0.0/8, ::1), or holders of `metrics_token`.
    Loopback,
}

impl Switch {
    pub fn is_on(self) -> bool {
        self == Switch::On
    }
}

/// Every option, each optional so that sources can be layered.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "CONCORD_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Directory for all persistent data [default: ./data]
    #[arg(long, env = "CONCORD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Public base URL of the gateway, as clients behind a proxy reach it [default: derived from --listen]
    #[arg(long, env = "CONCORD_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Gateway heartbeat interval in milliseconds, under 60000 [default: 41250]
    #[arg(long, env = "CONCORD_GATEWAY_HEARTBEAT_MS")]
    pub gateway_heartbeat_ms: Option<u64>,

    /// Who may create an account [default: open]
    #[arg(long, env = "CONCORD_REGISTRATION")]
    pub registration: Option<Registration>,

    /// Milliseconds a shutdown waits for gateway clients to move and requests to finish [default: 5000]
    #[arg(long, env = "CONCORD_SHUTDOWN_GRACE_MS")]
    pub shutdown_grace_ms: Option<u64>,

    /// Log filter, in tracing's EnvFilter syntax [default: info]
    #[arg(long, env = "CONCORD_LOG")]
    pub log: Option<String>,

    /// Enforce HTTP rate limits [default: on]
    #[arg(long, env = "CONCORD_RATE_LIMITS")]
    pub rate_limits: Option<Switch>,

    /// Requests per second allowed per token (or per address without one) [default: 50]
    #[arg(long, env = "CONCORD_GLOBAL_RATE_LIMIT")]
    pub global_rate_limit: Option<u32>,

    /// Requests per window allowed per route bucket [default: 50]
    #[arg(long, env = "CONCORD_ROUTE_RATE_LIMIT")]
    pub route_rate_limit: Option<u32>,

    /// Length of a route bucket's window in milliseconds [default: 1000]
    #[arg(long, env = "CONCORD_ROUTE_RATE_WINDOW_MS")]
    pub route_rate_window_ms: Option<u64>,

    /// Messages a user may send per channel per window [default: 5]
    #[arg(long, env = "CONCORD_MESSAGE_RATE_LIMIT")]
    pub message_rate_limit: Option<u32>,

    /// Length of the message-send window in milliseconds [default: 5000]
    #[arg(long, env = "CONCORD_MESSAGE_RATE_WINDOW_MS")]
    pub message_rate_window_ms: Option<u64>,

    /// Take the client address for rate limits from the last X-Forwarded-For entry (behind a trusted proxy only) [default: off]
    #[arg(long, env = "CONCORD_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: Option<Switch>,

    /// Times a user may send the same content, across all channels, per window [default: 4]
    #[arg(long, env = "CONCORD_DUPLICATE_MESSAGE_LIMIT")]
    pub duplicate_message_limit: Option<u32>,

    /// Length of the duplicate-content window in milliseconds [default: 10000]
    #[arg(long, env = "CONCORD_DUPLICATE_MESSAGE_WINDOW_MS")]
    pub duplicate_message_window_ms: Option<u64>,

    /// Wait for the journal to reach the disk before acknowledging a write [default: on]
    #[arg(long, env = "CONCORD_FSYNC")]
    pub fsync: Option<Switch>,

    /// Largest file a message may carry, in bytes [default: 26214400]
    #[arg(long, env = "CONCORD_ATTACHMENT_MAX_BYTES")]
    pub attachment_max_bytes: Option<u64>,

    /// Keep a full-text index of messages for search; when off, searches answer "not yet available" [default: on]
    #[arg(long, env = "CONCORD_SEARCH")]
    pub search: Option<Switch>,

    /// Width of a message storage bucket in milliseconds; fixed once data exists [default: 864000000]
    #[arg(long, env = "CONCORD_MESSAGE_BUCKET_MS")]
    pub message_bucket_ms: Option<u64>,

    /// Snowflake worker id, 0-31; with process_id it names this node's ids, which no two running nodes may share: a node whose set pair is taken does not start. Unset, the node takes the first free worker id (0 for a single node)
    #[arg(long, env = "CONCORD_WORKER_ID")]
    pub worker_id: Option<u8>,

    /// Snowflake process id, 0-31 (see worker_id). Unset, the node takes the first free process id (0 for a single node)
    #[arg(long, env = "CONCORD_PROCESS_ID")]
    pub process_id: Option<u8>,

    /// Serve the web client from this directory instead of the copy built into the binary (for working on the client) [default: built in]
    #[arg(long, env = "CONCORD_WEB_DIR")]
    pub web_dir: Option<PathBuf>,

    /// Password hashes computed at once; further logins and registrations wait briefly, then get 429 [default: 8]
    #[arg(long, env = "CONCORD_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<u32>,

    /// Milliseconds a client has to send a request's headers before the connection is closed [default: 30000]
    #[arg(long, env = "CONCORD_HTTP_HEADER_TIMEOUT_MS")]
    pub http_header_timeout_ms: Option<u64>,

    /// Bytes per second a request body must average (after its first second) or the request is ended with 408 [default: 1024]
    #[arg(long, env = "CONCORD_HTTP_MIN_BODY_RATE")]
    pub http_min_body_rate: Option<u64>,

    /// Open client connections (HTTP and gateway) the server keeps; a small reserve above it answers only health checks [default: 16384]
    #[arg(long, env = "CONCORD_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,

    /// Open connections allowed from one client address; more are refused [default: 1000]
    #[arg(long, env = "CONCORD_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<u32>,

    /// Who may read /metrics [default: loopback]
    #[arg(long, env = "CONCORD_METRICS")]
    pub metrics: Option<MetricsAccess>,

    /// A bearer token that also lets clients from elsewhere read /metrics [default: none]
    #[arg(long, env = "CONCORD_METRICS_TOKEN")]
    pub metrics_token: Option<String>,

    /// Bytes of recent messages kept in memory across all channels [default: 67108864]
    #[arg(long, env = "CONCORD_CACHE_MAX_BYTES")]
    pub cache_max_bytes: Option<u64>,

    /// Requests with files received at once; more wait their turn [default: 4]
    #[arg(long, env = "CONCORD_UPLOAD_CONCURRENCY")]
    pub upload_concurrency: Option<u32>,

    /// Seconds an attachment URL stays valid; fetching the message again gives a fresh one [default: 86400]
    #[arg(long, env = "CONCORD_ATTACHMENT_URL_TTL_S")]
    pub attachment_url_ttl_s: Option<u64>,

    /// Directory of attachments' files; every node of a cluster must share it [default: DATA_DIR/attachments]
    #[arg(long, env = "CONCORD_BLOB_DIR")]
    pub blob_dir: Option<PathBuf>,

    /// Directory of the search index; every node of a cluster must share it: one node writes it, the others follow [default: DATA_DIR/search]
    #[arg(long, env = "CONCORD_SEARCH_DIR")]
    pub search_dir: Option<PathBuf>,

    /// Where presence, rate limits, leases and gateway sessions live: a Redis server every node of a cluster shares, as redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]. Unset, they live in this process (one node) [default: in this process]
    #[arg(long, env = "CONCORD_REALTIME")]
    pub realtime: Option<String>,

    /// Prefix of every key Concord keeps in the realtime Redis, so clusters can share one server [default: concord:]
    #[arg(long, env = "CONCORD_REALTIME_PREFIX")]
    pub realtime_prefix: Option<String>,

    /// Where the store lives: unset for the embedded store in DATA_DIR/store, or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE for a PostgreSQL store that several nodes share [default: embedded]
    #[arg(long, env = "CONCORD_STORE")]
    pub store: Option<String>,

    /// Event bus every node of a cluster shares: nats://HOST:PORT, a NATS server with JetStream (several URLs, comma-separated, for a NATS cluster); unset, events stay in this process [default: in-process]
    #[arg(long, env = "CONCORD_BUS")]
    pub bus: Option<String>,

    /// Name of the NATS stream holding the events, and prefix of its subjects; instances sharing a NATS server need different ones [default: concord]
    #[arg(long, env = "CONCORD_BUS_STREAM")]
    pub bus_stream: Option<String>,

    /// Seconds the NATS stream keeps events, as long as a session can resume on another node after missing them [default: 300]
    #[arg(long, env = "CONCORD_BUS_HISTORY_S")]
    pub bus_history_s: Option<u64>,

    /// Events the NATS stream keeps at most, whatever their age [default: 1000000]
    #[arg(long, env = "CONCORD_BUS_HISTORY_EVENTS")]
    pub bus_history_events: Option<u64>,

    /// Hosts the server may call although they resolve to loopback, private or link-local addresses, also over plain http (comma-separated on the command line); URLs users give the server (Web Push endpoints, interactions endpoints) are otherwise refused there [default: none]
    #[arg(long, env = "CONCORD_OUTBOUND_ALLOW", value_delimiter = ',')]
    pub outbound_allow: Option<Vec<String>>,

    // Voice: the voice WebSocket and the media socket of the SFU.
    /// Serve voice channels: the voice WebSocket and its UDP media socket [default: on]
    #[arg(long, env = "CONCORD_VOICE")]
    pub voice: Option<Switch>,

    /// Address of the voice WebSocket (TLS, as the clients require); port 0 picks a free port, which VOICE_SERVER_UPDATE names [default: 127.0.0.1:0]
    #[arg(long, env = "CONCORD_VOICE_LISTEN")]
    pub voice_listen: Option<SocketAddr>,

    /// Address of the voice media socket (UDP, IPv4: the clients are IPv4 only); port 0 picks a free port, which voice Ready names [default: 127.0.0.1:0]
    #[arg(long, env = "CONCORD_VOICE_UDP")]
    pub voice_udp: Option<SocketAddr>,

    /// Address of the browsers' WebRTC media socket (UDP, IPv4), apart from voice_udp's; port 0 picks a free port, which the SDP answer names at the address voice Ready names [default: voice_udp's address, port 0]
    #[arg(long, env = "CONCORD_VOICE_WEBRTC_UDP")]
    pub voice_webrtc_udp: Option<SocketAddr>,

    /// Certificate chain (PEM) of the voice WebSocket; without it and voice_key, a self-signed one is generated into DATA_DIR/voice on first start and its fingerprint logged [default: self-signed]
    #[arg(long, env = "CONCORD_VOICE_CERT")]
    pub voice_cert: Option<PathBuf>,

    /// Private key (PEM) of voice_cert [default: self-signed]
    #[arg(long, env = "CONCORD_VOICE_KEY")]
    pub voice_key: Option<PathBuf>,

    /// HOST or HOST:PORT that voice endpoints name, as clients reach the voice WebSocket (a port when a TLS proxy in front listens on another than voice_listen's), and whose IPv4 address voice Ready names when the media socket is bound to all addresses [default: the host of public_url, else the voice listener's address]
    #[arg(long, env = "CONCORD_VOICE_PUBLIC_HOST")]
    pub voice_public_host: Option<String>,
}

macro_rules! layer {
    ($top:expr, $bottom:expr, $($field:ident),*) => {
        Settings { $($field: $top.$field.or($bottom.$field),)* }
    };
}

impl Settings {
    /// The defaults, every field set.
    pub fn defaults() -> Settings {
        Settings {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: Some(PathBuf::from("./data")),
            public_url: None,
            gateway_heartbeat_ms: Some(41_250),
            registration: Some(Registration::Open),
            shutdown_grace_ms: Some(5_000),
            log: Some("info".into()),
            rate_limits: Some(Switch::On),
            global_rate_limit: Some(50),
            route_rate_limit: Some(50),
            route_rate_window_ms: Some(1_000),
            message_rate_limit: Some(5),
            message_rate_window_ms: Some(5_000),
            trust_forwarded_for: Some(Switch::Off),
            duplicate_message_limit: Some(4),
            duplicate_message_window_ms: Some(10_000),
            fsync: Some(Switch::On),
            attachment_max_bytes: Some(25 * 1024 * 1024),
            search: Some(Switch::On),
            message_bucket_ms: Some(10 * 24 * 60 * 60 * 1000),
            worker_id: None,
            process_id: None,
            web_dir: None,
            hash_concurrency: Some(8),
            http_header_timeout_ms: Some(30_000),
            http_min_body_rate: Some(1024),
            max_connections: Some(16_384),
            max_connections_per_address: Some(1_000),
            metrics: Some(MetricsAccess::Loopback),
            metrics_token: None,
            cache_max_bytes: Some(64 * 1024 * 1024),
            upload_concurrency: Some(4),
            attachment_url_ttl_s: Some(86_400),
            blob_dir: None,
            search_dir: None,
            realtime: None,
            realtime_prefix: Some("concord:".into()),
            store: None,
            bus: None,
            bus_stream: Some("concord".into()),
            bus_history_s: Some(300),
            bus_history_events: Some(1_000_000),
            outbound_allow: Some(Vec::new()),
            voice: Some(Switch::On),
            voice_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            voice_udp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            voice_webrtc_udp: None,
            voice_cert: None,
            voice_key: None,
            voice_public_host: None,
        }
    }

    /// `self` where set, else `below`.
    pub fn over(self, below: Settings) -> Settings {
        layer!(
            self,
            below,
            listen,
            data_dir,
            public_url,
            gateway_heartbeat_ms,
            registration,
            shutdown_grace_ms,
            log,
            rate_limits,
            global_rate_limit,
            route_rate_limit,
            route_rate_window_ms,
            message_rate_limit,
            message_rate_window_ms,
            trust_forwarded_for,
            duplicate_message_limit,
            duplicate_message_window_ms,
            fsync,
            attachment_max_bytes,
            search,
            message_bucket_ms,
            worker_id,
            process_id,
            web_dir,
            hash_concurrency,
            http_header_timeout_ms,
            http_min_body_rate,
            max_connections,
            max_connections_per_address,
            metrics,
            metrics_token,
            cache_max_bytes,
            upload_concurrency,
            attachment_url_ttl_s,
            blob_dir,
            search_dir,
            realtime,
            realtime_prefix,
            store,
            bus,
            bus_stream,
            bus_history_s,
            bus_history_events,
            outbound_allow,
            voice,
            voice_listen,
            voice_udp,
            voice_webrtc_udp,
            voice_cert,
            voice_key,
            voice_public_host
        )
    }

    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::File(e.to_string()))
    }

    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::File(format!("{}: {e}", path.display())))?;
        Self::from_toml(&text)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file: {0}")]
    File(String),
    #[error("invalid setting {0}: {1}")]
    Invalid(&'static str, String),
}

/// A fixed-window rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub window_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub enabled: bool,
    pub global_per_second: u32,
    pub route: Limit,
    pub message: Limit,
    /// The same content from one user, across channels (flood control).
    pub duplicate: Limit,
    /// Anonymous requests are counted by the address a proxy forwards.
    pub trust_forwarded_for: bool,
}

/// Bounds on what clients, signed in or not, may hold of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientBounds {
    pub hash_concurrency: u32,
    pub http_header_timeout_ms: u64,
    pub http_min_body_rate: u64,
    pub max_connections: u32,
    pub max_connections_per_address: u32,
    pub upload_concurrency: u32,
}

/// The checked configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub public_url: Option<String>,
    pub gateway_heartbeat_ms: u64,
    pub registration: Registration,
    pub shutdown_grace_ms: u64,
    pub log: String,
    pub rate_limits: RateLimits,
    pub fsync: bool,
    pub attachment_max_bytes: u64,
    pub search: bool,
    pub message_bucket_ms: u64,
    /// Snowflake ids as set; `None` takes a free one at start.
    pub worker_id: Option<u8>,
    pub process_id: Option<u8>,
    /// Where the web client's files are read from; `None` for the built-in copy.
    pub web_dir: Option<PathBuf>,
    /// The file these settings were read from, if any (set by its reader).
    pub config_file: Option<PathBuf>,
    pub bounds: ClientBounds,
    pub metrics: MetricsAccess,
    pub metrics_token: Option<String>,
    pub cache_max_bytes: u64,
    pub attachment_url_ttl_s: u64,
    /// Where attachments' files live.
    pub blob_dir: PathBuf,
    /// Where the search index lives.
    pub search_dir: PathBuf,
    /// Where the realtime state lives.
    pub realtime: RealtimeBackend,
    /// Where the store lives.
    pub store: StoreLocation,
    /// The networked event bus; `None` keeps events in this process.
    pub bus: Option<BusConfig>,
    /// Hosts outbound requests may reach whatever they resolve to,
    /// lowercased.
    pub outbound_allow: Vec<String>,
    /// The voice server; `None` when voice is off.
    pub voice: Option<VoiceSettings>,
}

/// Where the voice server listens and what it tells clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceSettings {
    /// The voice WebSocket's TLS listener.
    pub listen: SocketAddr,
    /// The media socket, IPv4.
    pub udp: SocketAddr,
    /// The browsers' WebRTC media socket, IPv4.
    pub webrtc_udp: SocketAddr,
    /// The host voice endpoints name.
    pub public_host: String,
    /// The port they name, when not the listener's own (a proxy in front).
    pub public_port: Option<u16>,
    pub tls: VoiceTls,
}

/// The voice WebSocket's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceTls {
    /// PEM files given by the operator.
    Files { cert: PathBuf, key: PathBuf },
    /// Generated once into this directory and kept.
    SelfSigned { dir: PathBuf },
}

impl VoiceSettings {
    fn from_settings(s: &Settings, data_dir: &Path) -> Result<Option<VoiceSettings>, ConfigError> {
        if !s.voice.is_none_or(Switch::is_on) {
            return Ok(None);
        }
        let listen = s.voice_listen.unwrap_or_else(|| ([127, 0, 0, 1], 0).into());
        let udp = s.voice_udp.unwrap_or_else(|| ([127, 0, 0, 1], 0).into());
        if !udp.is_ipv4() {
            return Err(ConfigError::Invalid(
                "voice_udp",
                "must be an IPv4 address: voice clients are IPv4 only".into(),
            ));
        }
        let webrtc_udp = s
            .voice_webrtc_udp
            .unwrap_or_else(|| SocketAddr::new(udp.ip(), 0));
        if !webrtc_udp.is_ipv4() {
            return Err(ConfigError::Invalid(
                "voice_webrtc_udp",
                "must be an IPv4 address, as the address voice Ready names is".into(),
            ));
        }
        let tls = match (&s.voice_cert, &s.voice_key) {
            (Some(cert), Some(key)) => VoiceTls::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            (None, None) => VoiceTls::SelfSigned {
                dir: data_dir.join("voice"),
            },
            _ => {
                return Err(ConfigError::Invalid(
                    "voice_cert",
                    "voice_cert and voice_key go together".into(),
                ));
            }
        };
        let fallback = match listen.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
            ip => ip.to_string(),
        };
        let (public_host, public_port) = match (&s.voice_public_host, &s.public_url) {
            (Some(endpoint), _) => voice_endpoint(endpoint)?,
            // An IPv6 address is no voice host (the clients are IPv4 only).
            (None, Some(url)) => {
                let host = url::Url::parse(url)
                    .ok()
                    .and_then(|url| url.host_str().map(str::to_owned))
                    .filter(|host| !host.contains(':') && !host.starts_with('['));
                (host.unwrap_or(fallback), None)
            }
            (None, None) => (fallback, None),
        };
        Ok(Some(VoiceSettings {
            listen,
            udp,
            webrtc_udp,
            public_host,
            public_port,
            tls,
        }))
    }
}

/// `HOST` or `HOST:PORT` (a name or an IPv4 address, no scheme or path).
fn voice_endpoint(endpoint: &str) -> Result<(String, Option<u16>), ConfigError> {
    let invalid = || {
        ConfigError::Invalid(
            "voice_public_host",
            format!(
                "{endpoint:?} is not HOST or HOST:PORT with a host name or IPv4 address (no scheme or path)"
            ),
        )
    };
    let (host, port) = match endpoint.split_once(':') {
        Some((host, port)) => {
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(invalid)?;
            (host, Some(port))
        }
        None => (endpoint, None),
    };
    if host.is_empty() || host.contains(['/', '@', '?', '#', ' ', '[', ']']) {
        return Err(invalid());
    }
    Ok((host.to_owned(), port))
}

/// Where presence, rate limits, leases and gateway sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealtimeBackend {
    /// In this process: a single node.
    Local,
    /// A Redis server every node of a cluster shares, keys under `prefix`.
    Redis { url: String, prefix: String },
}

impl RealtimeBackend {
    /// The backend `url` names (none: in this process), or why it cannot be
    /// used. The URL is not repeated in the error: it may hold a password.
    fn from_settings(url: Option<String>, prefix: Option<String>) -> Result<Self, ConfigError> {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return Ok(RealtimeBackend::Local);
        };
        let invalid = |why: &str| {
            ConfigError::Invalid(
                "realtime",
                format!("{why}; the form is redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]"),
            )
        };
        let Some(rest) = url.strip_prefix("redis://") else {
            return Err(invalid(
                "must start with redis:// (the only realtime backend is Redis)",
            ));
        };
        if rest.contains(['?', '#']) {
            return Err(invalid("takes no query or fragment"));
        }
        let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host_port.starts_with('[') => {
                (host, Some(port))
            }
            _ => (host_port, None),
        };
        if host.is_empty() {
            return Err(invalid("names no host"));
        }
        if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
            return Err(invalid("the port must be a number from 1 to 65535"));
        }
        if !db.is_empty() && db.parse::<u32>().is_err() {
            return Err(invalid("the database after the / must be a number"));
        }
        let prefix = prefix.unwrap_or_else(|| "concord:".into());
        if prefix.is_empty() {
            return Err(ConfigError::Invalid(
                "realtime_prefix",
                "must not be empty: keys of other programs would mix with Concord's".into(),
            ));
        }
        Ok(RealtimeBackend::Redis { url, prefix })
    }
}

/// The hosts of `outbound_allow`, trimmed and lowercased; a URL or a host
/// with a path is refused, since the option names hosts.
fn outbound_hosts(hosts: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for host in hosts {
        let host = host.trim().to_ascii_lowercase();
        if host.is_empty() {
            continue;
        }
        if host.contains(['/', '@', '?', '#']) || host.contains(char::is_whitespace) {
            return Err(ConfigError::Invalid(
                "outbound_allow",
                format!("{host:?} is not a host name or address (no scheme, port or path)"),
            ));
        }
        out.push(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
        );
    }
    Ok(out)
}

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded store, in the data directory.
    Embedded,
    /// A PostgreSQL database, by its URL.
    Postgres(String),
}

impl StoreLocation {
    /// An unset or empty option is the embedded store; anything else must
    /// be a PostgreSQL URL, and what is wrong with it is said.
    fn parse(option: Option<String>) -> Result<StoreLocation, ConfigError> {
        let Some(text) = option.filter(|t| !t.trim().is_empty()) else {
            return Ok(StoreLocation::Embedded);
        };
        let invalid = |why: String| {
            ConfigError::Invalid(
                "store",
                format!(
                    "{why}; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or unset for the embedded store"
                ),
            )
        };
        let url = url::Url::parse(&text).map_err(|e| invalid(format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(invalid(format!("unknown kind of store {:?}", url.scheme())));
        }
        let socket = url.query_pairs().any(|(key, _)| key == "host");
        if url.host_str().is_none_or(str::is_empty) && !socket {
            return Err(invalid("no host".into()));
        }
        Ok(StoreLocation::Postgres(text))
    }
}

/// A NATS event bus: where it is and what its stream keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// `nats://HOST:PORT`, or several comma-separated.
    pub url: String,
    pub stream: String,
    pub history_s: u64,
    pub history_events: u64,
}

impl BusConfig {
    fn from_settings(s: &Settings) -> Result<Option<BusConfig>, ConfigError> {
        let Some(url) = s.bus.clone() else {
            return Ok(None);
        };
        for server in url.split(',') {
            check_nats_url(server.trim()).map_err(|e| ConfigError::Invalid("bus", e))?;
        }
        let stream = s.bus_stream.clone().unwrap_or_else(|| "concord".into());
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if stream.is_empty() || !stream.chars().all(valid) {
            return Err(ConfigError::Invalid(
                "bus_stream",
                "must be letters, digits, '-' and '_'".into(),
            ));
        }
        let positive = |name, v: Option<u64>| match v {
            Some(v) if v > 0 => Ok(v),
            _ => Err(ConfigError::Invalid(name, "must be greater than 0".into())),
        };
        Ok(Some(BusConfig {
            url,
            stream,
            history_s: positive("bus_history_s", s.bus_history_s)?,
            history_events: positive("bus_history_events", s.bus_history_events)?,
        }))
    }
}

/// Whether `url` names a NATS server the way the client takes it, saying
/// what is wrong if not.
fn check_nats_url(url: &str) -> Result<(), String> {
    let form = "must be nats://HOST:PORT, e.g. nats://127.0.0.1:4222";
    let Some(rest) = url.strip_prefix("nats://").or(url.strip_prefix("tls://")) else {
        return Err(format!("{url:?} {form} (the scheme is nats:// or tls://)"));
    };
    // Credentials, if any, come before the host.
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    if host_port.contains(['/', '?', '#']) {
        return Err(format!("{url:?} {form} (no path or query)"));
    }
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, Some(port)),
        _ => (host_port, None),
    };
    if host.is_empty() {
        return Err(format!("{url:?} {form} (the host is missing)"));
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("{url:?} {form} ({port:?} is not a port)"));
    }
    Ok(())
}

impl Config {
    /// Fills unset options with defaults and checks every value.
    pub fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        let s = s.over(Settings::defaults());
        let nonzero = |name: &'static str, v: Option<u64>| match v {
            Some(v) if v > 0 => Ok(v),
            _ => Err(ConfigError::Invalid(name, "must be greater than 0".into())),
        };
        let five_bits = |name: &'static str, v: Option<u8>| match v {
            None => Ok(None),
            Some(v) if v < 32 => Ok(Some(v)),
            _ => Err(ConfigError::Invalid(
                name,
                "must be between 0 and 31".into(),
            )),
        };
        if let Some(url) = &s.public_url {
            let ok = (url.starts_with("ws://") || url.starts_with("wss://"))
                && !url.contains('?')
                && !url.ends_with('/');
            if !ok {
                return Err(ConfigError::Invalid(
                    "public_url",
                    "must start with ws:// or wss:// and have no query or trailing slash".into(),
                ));
            }
        }
        let limit = |count: Option<u32>, window: Option<u64>, name| {
            Ok::<_, ConfigError>(Limit {
                count: nonzero(name, count.map(u64::from))? as u32,
                window_ms: nonzero(name, window)?,
            })
        };
        let data_dir: PathBuf = s.data_dir.clone().unwrap_or_else(|| "./data".into());
        let bus = BusConfig::from_settings(&s)?;
        let voice = VoiceSettings::from_settings(&s, &data_dir)?;
        Ok(Config {
            listen: s.listen.unwrap_or_else(|| ([127, 0, 0, 1], 8080).into()),
            data_dir: data_dir.clone(),
            public_url: s.public_url,
            gateway_heartbeat_ms: match s.gateway_heartbeat_ms {
                Some(ms) if (100..60_000).contains(&ms) => ms,
                _ => {
                    return Err(ConfigError::Invalid(
                        "gateway_heartbeat_ms",
                        "must be between 100 and 59999".into(),
                    ));
                }
            },
            registration: s.registration.unwrap_or(Registration::Open),
            shutdown_grace_ms: nonzero("shutdown_grace_ms", s.shutdown_grace_ms)?,
            log: s.log.unwrap_or_else(|| "info".into()),
            rate_limits: RateLimits {
                enabled: s.rate_limits.is_some_and(Switch::is_on),
                global_per_second: nonzero("global_rate_limit", s.global_rate_limit.map(u64::from))?
                    as u32,
                route: limit(
                    s.route_rate_limit,
                    s.route_rate_window_ms,
                    "route_rate_limit",
                )?,
                message: limit(
                    s.message_rate_limit,
                    s.message_rate_window_ms,
                    "message_rate_limit",
                )?,
                duplicate: limit(
                    s.duplicate_message_limit,
                    s.duplicate_message_window_ms,
                    "duplicate_message_limit",
                )?,
                trust_forwarded_for: s.trust_forwarded_for.is_some_and(Switch::is_on),
            },
            fsync: s.fsync.is_some_and(Switch::is_on),
            attachment_max_bytes: nonzero("attachment_max_bytes", s.attachment_max_bytes)?,
            search: s.search.is_some_and(Switch::is_on),
            message_bucket_ms: nonzero("message_bucket_ms", s.message_bucket_ms)?,
            worker_id: five_bits("worker_id", s.worker_id)?,
            process_id: five_bits("process_id", s.process_id)?,
            web_dir: s.web_dir,
            config_file: None,
            bounds: ClientBounds {
                hash_concurrency: nonzero("hash_concurrency", s.hash_concurrency.map(u64::from))?
                    as u32,
                http_header_timeout_ms: nonzero(
                    "http_header_timeout_ms",
                    s.http_header_timeout_ms,
                )?,
                http_min_body_rate: s.http_min_body_rate.unwrap_or(0),
                max_connections: nonzero("max_connections", s.max_connections.map(u64::from))?
                    as u32,
                max_connections_per_address: nonzero(
                    "max_connections_per_address",
                    s.max_connections_per_address.map(u64::from),
                )? as u32,
                upload_concurrency: nonzero(
                    "upload_concurrency",
                    s.upload_concurrency.map(u64::from),
                )? as u32,
            },
            metrics: s.metrics.unwrap_or(MetricsAccess::Loopback),
            metrics_token: s.metrics_token.filter(|t| !t.is_empty()),
            cache_max_bytes: nonzero("cache_max_bytes", s.cache_max_bytes)?,
            attachment_url_ttl_s: nonzero("attachment_url_ttl_s", s.attachment_url_ttl_s)?,
            blob_dir: s.blob_dir.unwrap_or_else(|| data_dir.join("attachments")),
            search_dir: s.search_dir.unwrap_or_else(|| data_dir.join("search")),
            realtime: RealtimeBackend::from_settings(s.realtime, s.realtime_prefix)?,
            store: StoreLocation::parse(s.store)?,
            bus,
            outbound_allow: outbound_hosts(s.outbound_allow.unwrap_or_default())?,
            voice,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beats_defaults() {
        let flags = Settings {
            listen: Some("127.0.0.1:9000".parse().unwrap()),
            ..Default::default()
        };
        let file =
            Settings::from_toml("listen = \"127.0.0.1:7000\"\ndata_dir = \"/srv/concord\"\n")
                .unwrap();
        let config = Config::from_settings(flags.over(file)).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.data_dir, PathBuf::from("/srv/concord"));
        assert!(config.rate_limits.enabled);
        assert_eq!(
            config.rate_limits.message,
            Limit {
                count: 5,
                window_ms: 5_000
            }
        );
    }

    #[test]
    fn bad_values_are_named() {
        let s = Settings {
            worker_id: Some(40),
            ..Default::default()
        };
        let err = Config::from_settings(s).unwrap_err().to_string();
        assert!(err.contains("worker_id"), "{err}");
        let s = Settings {
            public_url: Some("ws://host/".into()),
            ..Default::default()
        };
        assert!(Config::from_settings(s).is_err());
        assert!(Settings::from_toml("no_such_option = 1").is_err());
        for (url, what) in [
            ("http://127.0.0.1:4222", "scheme"),
            ("nats://:4222", "host"),
            ("nats://host:99999", "port"),
            ("nats://host:4222/x", "path"),
            ("nats://a:4222,redis://b", "scheme"),
        ] {
            let s = Settings {
                bus: Some(url.into()),
                ..Default::default()
            };
            let err = Config::from_settings(s).unwrap_err().to_string();
            assert!(err.contains("bus") && err.contains(what), "{url}: {err}");
        }
        let s = Settings {
            bus: Some("nats://127.0.0.1:4222, nats://u:p@[::1]:4223,tls://nats".into()),
            ..Default::default()
        };
        let bus = Config::from_settings(s).unwrap().bus.unwrap();
        assert_eq!((bus.stream.as_str(), bus.history_s), ("concord", 300));
        assert!(Settings::from_toml("rate_limits = \"maybe\"").is_err());
    }

    #[test]
    fn voice_is_on_by_default_with_a_self_signed_certificate() {
        let voice = Config::from_settings(Settings::default())
            .unwrap()
            .voice
            .unwrap();
        assert_eq!(voice.listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(voice.public_host, "127.0.0.1");
        assert_eq!(
            voice.tls,
            VoiceTls::SelfSigned {
                dir: PathBuf::from("./data/voice")
            }
        );
        let s = Settings {
            public_url: Some("wss://chat.example.org".into()),
            voice_cert: Some("cert.pem".into()),
            voice_key: Some("key.pem".into()),
            ..Default::default()
        };
        let voice = Config::from_settings(s).unwrap().voice.unwrap();
        assert_eq!(voice.public_host, "chat.example.org");
        assert_eq!(voice.public_port, None);
        assert!(matches!(voice.tls, VoiceTls::Files { .. }));
        let s = Settings {
            voice_public_host: Some("voice.example.org:443".into()),
            ..Default::default()
        };
        let voice = Config::from_settings(s).unwrap().voice.unwrap();
        assert_eq!(
            (voice.public_host.as_str(), voice.public_port),
            ("voice.example.org", Some(443))
        );
        let off = Settings::from_toml("voice = \"off\"").unwrap();
        assert_eq!(Config::from_settings(off).unwrap().voice, None);
        for (s, what) in [
            (
                Settings {
                    voice_cert: Some("cert.pem".into()),
                    ..Default::default()
                },
                "voice_cert",
            ),
            (
                Settings {
                    voice_udp: Some("[::1]:0".parse().unwrap()),
                    ..Default::default()
                },
                "voice_udp",
            ),
            (
                Settings {
                    voice_public_host: Some("wss://voice.example.org".into()),
                    ..Default::default()
                },
                "voice_public_host",
            ),
        ] {
            let err = Config::from_settings(s).unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
        }
    }

    #[test]
    fn realtime_urls_are_checked() {
        let realtime = |url: &str| {
            let s = Settings {
                realtime: Some(url.into()),
                ..Default::default()
            };
            Config::from_settings(s).map(|c| c.realtime)
        };
        assert_eq!(
            Config::from_settings(Settings::default()).unwrap().realtime,
            RealtimeBackend::Local
        );
        for good in [
            "redis://127.0.0.1:6379",
            "redis://cache.internal/2",
            "redis://:secret@[::1]:6380/0",
            "redis://concord:p%40ss@cache:6379",
        ] {
            let backend = realtime(good).unwrap();
            let expected = RealtimeBackend::Redis {
                url: good.into(),
                prefix: "concord:".into(),
            };
            assert_eq!(backend, expected, "{good}");
        }
        for (bad, why) in [
            ("cache:6379", "must start with redis://"),
            ("rediss://cache", "must start with redis://"),
            ("redis://", "names no host"),
            ("redis://:pw@:6379", "names no host"),
            ("redis://cache:port", "port must be a number"),
            ("redis://cache:0", "port must be a number"),
            ("redis://cache/db", "database after the / must be a number"),
            ("redis://cache?timeout=1", "no query"),
        ] {
            let err = realtime(bad).unwrap_err().to_string();
            assert!(
                err.contains("realtime") && err.contains(why),
                "{bad}: {err}"
            );
            assert!(err.contains("redis://[[USER]:PASSWORD@]HOST"), "{err}");
        }
        let secret = realtime("redis://:hunter2@cache:x").unwrap_err();
        assert!(!secret.to_string().contains("hunter2"), "{secret}");
        let s = Settings {
            realtime: Some("redis://cache".into()),
            realtime_prefix: Some(String::new()),
            ..Default::default()
        };
        let err = Config::from_settings(s).unwrap_err().to_string();
        assert!(err.contains("realtime_prefix"), "{err}");
    }

    #[test]
    fn the_store_is_embedded_or_a_postgres_url() {
        let store = |url: &str| {
            let s = Settings {
                store: Some(url.into()),
                ..Default::default()
            };
            Config::from_settings(s).map(|c| c.store)
        };
        assert_eq!(store("").unwrap(), StoreLocation::Embedded);
        let url = "postgres://concord@db.example.org:5433/concord";
        assert_eq!(store(url).unwrap(), StoreLocation::Postgres(url.into()));
        let socket = "postgresql:///concord?host=/run/postgresql";
        assert!(store(socket).is_ok());
        for (bad, why) in [
            ("db.example.org/concord", "not a URL"),
            ("mysql://db/concord", "unknown kind of store"),
            ("postgres://concord@db:99999/concord", "invalid port"),
        ] {
            let err = store(bad).unwrap_err().to_string();
            assert!(err.contains("store") && err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn example_file_is_generated_from_the_options() {
        let committed = include_str!("../../../concord.example.toml");
        assert!(
            committed == example_toml(),
            "concord.example.toml is out of date: run `cargo run -- config example > concord.example.toml`"
        );
    }

    #[test]
    fn example_file_lists_every_option_with_its_default() {
        let text = include_str!("../../../concord.example.toml");
        let uncommented: String = text
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|l| l.contains(" = "))
                    .unwrap_or(l)
            })
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let example = Settings::from_toml(&uncommented).unwrap();
        let mut defaults = Settings::defaults();
        defaults.public_url = example.public_url.clone();
        assert_eq!(example, defaults);
        assert!(example.public_url.is_some(), "public_url is shown too");
    }

    #[test]
    fn outbound_allow_is_a_list_of_hosts() {
        let file =
            Settings::from_toml("outbound_allow = [\"Push.Local\", \" 127.0.0.1 \", \"[::1]\"]")
                .unwrap();
        let config = Config::from_settings(file.over(Settings::defaults())).unwrap();
        assert_eq!(config.outbound_allow, ["push.local", "127.0.0.1", "::1"]);
        let none = Config::from_settings(Settings::defaults()).unwrap();
        assert!(none.outbound_allow.is_empty());
        let url = Settings {
            outbound_allow: Some(vec!["http://push.local/".into()]),
            ..Settings::defaults()
        };
        let err = Config::from_settings(url).unwrap_err().to_string();
        assert!(err.contains("outbound_allow"), "{err}");
    }

    #[test]
    fn outbound_allow_flag_takes_commas() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            settings: Settings,
        }
        let cli =
            Cli::try_parse_from(["concord", "--outbound-allow", "a.local,127.0.0.1"]).unwrap();
        assert_eq!(
            cli.settings.outbound_allow,
            Some(vec!["a.local".to_owned(), "127.0.0.1".to_owned()])
        );
    }
}
