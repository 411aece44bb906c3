//! A voice server on loopback with a test admission, and a client that
//! speaks the protocol as discord.py and @discordjs/voice do: its own TLS
//! WebSocket, its own UDP socket `connect()`ed to Ready's address, and its
//! own sealing and opening of packets, written apart from the server's.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use async_trait::async_trait;
use chacha20poly1305::XChaCha20Poly1305;
use concord_bus::{EventBus, LocalBus};
use concord_model::event::{Audience, Event, EventKind, NodeId};
use concord_model::{Permissions, Snowflake};
use concord_voice::{Admission, TlsSource, VoiceAdmission, VoiceConfig, VoiceServer};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{WebSocketStream, client_async};

/// How long a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub const GUILD: Snowflake = Snowflake(1_000);
pub const CHANNEL: Snowflake = Snowflake(2_000);
pub const OTHER_CHANNEL: Snowflake = Snowflake(2_001);

pub const AES: &str = "aead_aes256_gcm_rtpsize";
pub const XCHACHA: &str = "aead_xchacha20_poly1305_rtpsize";

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

/// A speaker and listener in [`CHANNEL`] holding SPEAK.
pub fn member() -> VoiceAdmission {
    VoiceAdmission {
        channel_id: CHANNEL,
        may_speak: true,
        ..VoiceAdmission::default()
    }
}

pub struct Harness {
    pub server: VoiceServer,
    pub admission: Arc<TestAdmission>,
    pub bus: Arc<LocalBus>,
    pub tls: Arc<rustls::ClientConfig>,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::with_bus(LocalBus::new(1024)).await
    }

    pub async fn with_bus(bus: LocalBus) -> Harness {
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
        };
        let server = VoiceServer::start(config, admission.clone(), bus.clone())
            .await
            .expect("voice server starts");
        let cert = CertificateDer::from_pem_file(dir.path().join(concord_voice::SELF_SIGNED_CERT))
            .expect("the generated certificate");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Harness {
            server,
            admission,
            bus,
            tls: Arc::new(tls),
            _dir: dir,
        }
    }

    /// A TLS WebSocket to the voice endpoint with this query.
    pub async fn open(&self, query: &str) -> Result<Socket, String> {
        let endpoint = self.server.endpoint();
        let tcp = TcpStream::connect(&endpoint)
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (socket, _) = client_async(format!("wss://{endpoint}/{query}"), tls)
            .await
            .map_err(|e| e.to_string())?;
        Ok(socket)
    }

    /// A client identified as `user` (allowed with `admitted`), its UDP
    /// discovered and its protocol selected in `mode`.
    pub async fn join(&self, user: u64, admitted: VoiceAdmission, mode: &str) -> Client {
        let user = Snowflake(user);
        self.admission.allow(user, admitted);
        let mut client = Client::identify(self.open("?v=8").await.unwrap(), user).await;
        client.ready().await;
        client.discover().await;
        client.select(mode).await;
        client
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

pub type Socket = WebSocketStream<TlsStream<TcpStream>>;

/// What a client took out of a packet it received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
    /// The nonce counter the packet was sealed with.
    pub counter: u32,
    pub payload: Vec<u8>,
}

pub struct Client {
    pub user: Snowflake,
    pub ws: Socket,
    /// Messages read while waiting for another.
    pub backlog: VecDeque<Value>,
    pub ssrc: u32,
    pub media: SocketAddr,
    pub udp: Option<UdpSocket>,
    mode: String,
    key: [u8; 32],
    counter: u32,
    sequence: u16,
    timestamp: u32,
}

impl Client {
    /// Sends Identify on an open socket.
    pub async fn identify(ws: Socket, user: Snowflake) -> Client {
        let mut client = Client::wrap(ws, user);
        let identify = json!({"op": 0, "d": {
            "server_id": GUILD, "user_id": user, "session_id": session_of(user),
            "token": token_of(user), "max_dave_protocol_version": 0,
        }});
        client.send(identify).await;
        client
    }

    /// A client on an open socket that has sent nothing yet.
    pub fn wrap(ws: Socket, user: Snowflake) -> Client {
        Client {
            user,
            ws,
            backlog: VecDeque::new(),
            ssrc: 0,
            media: "0.0.0.0:0".parse().unwrap(),
            udp: None,
            mode: String::new(),
            key: [0; 32],
            counter: 0,
            sequence: 0,
            timestamp: 0,
        }
    }

    pub async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    /// The next message with opcode `op`, keeping the others in the backlog.
    pub async fn expect(&mut self, op: u64) -> Value {
        if let Some(at) = self.backlog.iter().position(|m| m["op"] == op) {
            return self.backlog.remove(at).unwrap();
        }
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no op {op} in time"))
                .unwrap_or_else(|| panic!("socket ended before op {op}"))
                .unwrap_or_else(|e| panic!("socket failed before op {op}: {e}"));
            let Message::Text(text) = message else {
                panic!("expected op {op}, got {message:?}");
            };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["op"] == op {
                return value;
            }
            self.backlog.push_back(value);
        }
    }

    /// How the server ends the socket within `patience`, whatever it
    /// sends first: its close code (`None` for a socket ended without one).
    pub async fn ended_within(&mut self, patience: Duration) -> Option<u16> {
        let end = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return None,
                }
            }
        };
        tokio::time::timeout(patience, end)
            .await
            .expect("the server ends it")
    }

    /// The close code the server ends the socket with.
    pub async fn closed(&mut self) -> u16 {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("closed in time");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) => return u16::from(CloseCode::Status),
                Some(Ok(_)) => continue,
                other => panic!("socket ended without a close frame: {other:?}"),
            }
        }
    }

    /// Reads Ready and connects a UDP socket to the address it names.
    pub async fn ready(&mut self) -> Value {
        let ready = self.expect(2).await;
        self.ssrc = ready["d"]["ssrc"].as_u64().unwrap() as u32;
        self.media = format!(
            "{}:{}",
            ready["d"]["ip"].as_str().unwrap(),
            ready["d"]["port"]
        )
        .parse()
        .unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        udp.connect(self.media).await.unwrap();
        self.udp = Some(udp);
        ready
    }

    pub fn udp(&self) -> &UdpSocket {
        self.udp.as_ref().expect("ready first")
    }

    /// IP discovery as discord.py does it; the address and port answered.
    pub async fn discover(&mut self) -> (String, u16) {
        let answer = discovery(self.udp(), self.ssrc).await;
        let end = answer[8..].iter().position(|&b| b == 0).unwrap() + 8;
        let ip = String::from_utf8(answer[8..end].to_vec()).unwrap();
        let port = u16::from_be_bytes([answer[72], answer[73]]);
        (ip, port)
    }

    /// Select Protocol and the key of Session Description.
    pub async fn select(&mut self, mode: &str) -> Value {
        let local = self.udp().local_addr().unwrap();
        self.send(json!({"op": 1, "d": {"protocol": "udp", "data": {
            "address": local.ip().to_string(), "port": local.port(), "mode": mode,
        }}}))
        .await;
        let description = self.expect(4).await;
        let key: Vec<u8> = serde_json::from_value(description["d"]["secret_key"].clone()).unwrap();
        self.key = key.try_into().unwrap();
        self.mode = description["d"]["mode"].as_str().unwrap().to_string();
        description
    }

    /// Sends an Opus frame (any bytes) as the next packet, with an audio
    /// level extension when `level` is given; the packet as sent.
    pub async fn speak(&mut self, opus: &[u8], level: Option<u8>) -> Vec<u8> {
        let mut header = vec![0x80, 0x78];
        header.extend_from_slice(&self.sequence.to_be_bytes());
        header.extend_from_slice(&self.timestamp.to_be_bytes());
        header.extend_from_slice(&self.ssrc.to_be_bytes());
        let mut plain = Vec::new();
        if let Some(level) = level {
            header[0] |= 0x10;
            header.extend_from_slice(&[0xBE, 0xDE, 0, 1]);
            // Audio level (id 1, one byte, voice bit set), then padding.
            plain.extend_from_slice(&[0x10, 0x80 | level, 0, 0]);
        }
        plain.extend_from_slice(opus);
        let packet = seal(&self.mode, &self.key, &header, &plain, self.counter);
        self.counter += 1;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(960);
        self.udp().send(&packet).await.unwrap();
        packet
    }

    /// The next packet for this client, opened with its own key.
    pub async fn hear(&self) -> Received {
        let mut buf = [0u8; 2048];
        let len = tokio::time::timeout(PATIENCE, self.udp().recv(&mut buf))
            .await
            .expect("a packet in time")
            .unwrap();
        self.open_packet(&buf[..len])
    }

    /// A packet for this client, opened with its own key.
    pub fn open_packet(&self, packet: &[u8]) -> Received {
        open(&self.mode, &self.key, packet).expect("a packet sealed with this client's key")
    }

    pub fn key(&self) -> [u8; 32] {
        self.key
    }
}

/// An IP discovery request for `ssrc`, as discord.py writes it.
pub fn discovery_request(ssrc: u32) -> Vec<u8> {
    let mut request = vec![0u8; 74];
    request[0..2].copy_from_slice(&1u16.to_be_bytes());
    request[2..4].copy_from_slice(&70u16.to_be_bytes());
    request[4..8].copy_from_slice(&ssrc.to_be_bytes());
    request
}

/// Sends an IP discovery request for `ssrc` and waits for a 74-byte answer.
pub async fn discovery(udp: &UdpSocket, ssrc: u32) -> Vec<u8> {
    udp.send(&discovery_request(ssrc)).await.unwrap();
    let mut buf = [0u8; 2048];
    let len = tokio::time::timeout(PATIENCE, udp.recv(&mut buf))
        .await
        .expect("a discovery answer in time")
        .unwrap();
    buf[..len].to_vec()
}

fn nonce<const N: usize>(counter: u32) -> [u8; N] {
    let mut nonce = [0u8; N];
    nonce[..4].copy_from_slice(&counter.to_be_bytes());
    nonce
}

/// `header ‖ AEAD(plain, aad = header) ‖ counter`, as the clients send.
pub fn seal(mode: &str, key: &[u8; 32], header: &[u8], plain: &[u8], counter: u32) -> Vec<u8> {
    let payload = Payload {
        msg: plain,
        aad: header,
    };
    let sealed = match mode {
        AES => Aes256Gcm::new(key.into()).encrypt(&nonce::<12>(counter).into(), payload),
        XCHACHA => {
            XChaCha20Poly1305::new(key.into()).encrypt(&nonce::<24>(counter).into(), payload)
        }
        other => panic!("no mode {other}"),
    }
    .unwrap();
    [header, &sealed, &counter.to_be_bytes()].concat()
}

/// Opens a packet with no CSRCs; `None` if the key does not.
pub fn open(mode: &str, key: &[u8; 32], packet: &[u8]) -> Option<Received> {
    assert_eq!(packet[0], 0x80, "the SFU sends no CSRCs and no extension");
    let (header, rest) = packet.split_at(12);
    let (sealed, counter) = rest.split_at(rest.len() - 4);
    let counter = u32::from_be_bytes(counter.try_into().unwrap());
    let payload = Payload {
        msg: sealed,
        aad: header,
    };
    let plain = match mode {
        AES => Aes256Gcm::new(key.into()).decrypt(&nonce::<12>(counter).into(), payload),
        _ => XChaCha20Poly1305::new(key.into()).decrypt(&nonce::<24>(counter).into(), payload),
    }
    .ok()?;
    Some(Received {
        ssrc: u32::from_be_bytes(header[8..12].try_into().unwrap()),
        sequence: u16::from_be_bytes([header[2], header[3]]),
        timestamp: u32::from_be_bytes(header[4..8].try_into().unwrap()),
        counter,
        payload: plain,
    })
}
