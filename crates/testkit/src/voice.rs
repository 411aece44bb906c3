//! A client of Discord's voice protocol (version 8) that speaks it as
//! discord.py and @discordjs/voice do: its own TLS WebSocket, its own UDP
//! socket `connect()`ed to Ready's address, and its own sealing and opening
//! of packets, written apart from the voice server's so that a test of one
//! does not take the other's word. The voice server's tests and the load
//! generator's voice phase both drive it.
//!
//! It panics where a test would fail (a message that never comes, a socket
//! that ends); a caller that must survive a failed join runs it in a task.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use concord_model::Snowflake;
use futures_util::{SinkExt, StreamExt};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::{Value, json};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{WebSocketStream, client_async};

/// How long the client waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub const AES: &str = "aead_aes256_gcm_rtpsize";
pub const XCHACHA: &str = "aead_xchacha20_poly1305_rtpsize";

/// Hello's interval when the client saw no Hello (Discord's).
const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(13_750);

pub type Socket = WebSocketStream<TlsStream<TcpStream>>;

/// How the client sets up TLS for the voice WebSocket.
pub type Tls = Arc<rustls::ClientConfig>;

#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS for the voice WebSocket that trusts only the certificate in this
/// PEM file (a server's generated self-signed one).
pub fn tls_trusting(cert_pem: &Path) -> Tls {
    let cert = CertificateDer::from_pem_file(cert_pem).expect("the server's certificate");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("a usable certificate");
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(tls)
}

/// TLS for the voice WebSocket that takes any certificate, for a server
/// whose self-signed one the client has no copy of. Signatures are still
/// checked, so the handshake is a real one; only the identity is not.
pub fn tls_accepting_any() -> Tls {
    let provider = provider();
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Arc::new(tls)
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS WebSocket to a voice `endpoint` (`host:port`, as
/// VOICE_SERVER_UPDATE names it) with this query (`?v=8`).
pub async fn connect(tls: &Tls, endpoint: &str, query: &str) -> Result<Socket, String> {
    let tcp = TcpStream::connect(endpoint)
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let host = endpoint
        .rsplit_once(':')
        .map_or(endpoint, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("{host}: {e}"))?;
    let tls = TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS to {endpoint}: {e}"))?;
    let (socket, _) = client_async(format!("wss://{endpoint}/{query}"), tls)
        .await
        .map_err(|e| format!("WebSocket to {endpoint}: {e}"))?;
    Ok(socket)
}

/// What Identify carries: the main gateway's voice state and
/// VOICE_SERVER_UPDATE name all four.
#[derive(Debug, Clone)]
pub struct Identity {
    pub server_id: Snowflake,
    pub user_id: Snowflake,
    pub session_id: String,
    pub token: String,
}

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

/// The media side of a connection: its UDP socket and what sealing and
/// opening take. Apart from the WebSocket, so that a caller can send and
/// receive media while another task keeps the WebSocket alive.
pub struct Rtp {
    pub udp: UdpSocket,
    pub ssrc: u32,
    mode: String,
    key: [u8; 32],
    counter: u32,
    sequence: u16,
    timestamp: u32,
}

impl Rtp {
    /// The next packet carrying this Opus frame (any bytes), sealed, with
    /// an audio level extension when `level` is given.
    pub fn packet(&mut self, opus: &[u8], level: Option<u8>) -> Vec<u8> {
        let mut header = rtp_header(self.sequence, self.timestamp, self.ssrc);
        let mut plain = Vec::with_capacity(opus.len() + 4);
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
        packet
    }

    /// Sends the next packet (see [`Rtp::packet`]); the packet as sent.
    pub async fn speak(&mut self, opus: &[u8], level: Option<u8>) -> Vec<u8> {
        let packet = self.packet(opus, level);
        self.udp.send(&packet).await.expect("send on loopback");
        packet
    }

    /// A packet for this connection, opened with its own key; `None` if
    /// the key does not open it.
    pub fn open(&self, packet: &[u8]) -> Option<Received> {
        open(&self.mode, &self.key, packet)
    }

    pub fn mode(&self) -> &str {
        &self.mode
    }
}

/// An RTP header without extension: version 2, Opus's payload type 120.
pub fn rtp_header(sequence: u16, timestamp: u32, ssrc: u32) -> Vec<u8> {
    let mut header = vec![0x80, 0x78];
    header.extend_from_slice(&sequence.to_be_bytes());
    header.extend_from_slice(&timestamp.to_be_bytes());
    header.extend_from_slice(&ssrc.to_be_bytes());
    header
}

pub struct VoiceClient {
    pub user: Snowflake,
    pub ws: Socket,
    /// Messages read while waiting for another.
    pub backlog: VecDeque<Value>,
    pub ssrc: u32,
    /// The server's media address, from Ready.
    pub media: SocketAddr,
    /// The UDP side, from Ready on.
    pub rtp: Option<Rtp>,
    /// The last `seq` the server numbered a message with.
    last_seq: Option<u64>,
}

impl VoiceClient {
    /// Identify on a new connection to `endpoint`, Ready, IP discovery and
    /// Select Protocol in `mode`: a client ready to send and receive.
    pub async fn join(tls: &Tls, endpoint: &str, identity: &Identity, mode: &str) -> VoiceClient {
        let socket = connect(tls, endpoint, "?v=8")
            .await
            .unwrap_or_else(|e| panic!("voice WebSocket: {e}"));
        let mut client = VoiceClient::identify(socket, identity).await;
        client.ready().await;
        client.discover().await;
        client.select(mode).await;
        client
    }

    /// Sends Identify on an open socket.
    pub async fn identify(ws: Socket, identity: &Identity) -> VoiceClient {
        let mut client = VoiceClient::wrap(ws, identity.user_id);
        let identify = json!({"op": 0, "d": {
            "server_id": identity.server_id, "user_id": identity.user_id,
            "session_id": identity.session_id, "token": identity.token,
            "max_dave_protocol_version": 0,
        }});
        client.send(identify).await;
        client
    }

    /// A client on an open socket that has sent nothing yet.
    pub fn wrap(ws: Socket, user: Snowflake) -> VoiceClient {
        VoiceClient {
            user,
            ws,
            backlog: VecDeque::new(),
            ssrc: 0,
            media: "0.0.0.0:0".parse().expect("an address"),
            rtp: None,
            last_seq: None,
        }
    }

    pub async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("send on the voice WebSocket");
    }

    /// Notes a message's `seq`, for heartbeats' `seq_ack`.
    fn numbered(&mut self, message: &Value) {
        if let Some(seq) = message["seq"].as_u64() {
            self.last_seq = Some(seq);
        }
    }

    /// The next message with opcode `op`, keeping the others in the backlog.
    pub async fn expect(&mut self, op: u64) -> Value {
        if let Some(at) = self.backlog.iter().position(|m| m["op"] == op) {
            return self.backlog.remove(at).expect("found");
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
            let value: Value = serde_json::from_str(&text).expect("a JSON message");
            self.numbered(&value);
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
        self.ssrc = ready["d"]["ssrc"].as_u64().expect("Ready's ssrc") as u32;
        self.media = format!(
            "{}:{}",
            ready["d"]["ip"].as_str().expect("Ready's ip"),
            ready["d"]["port"]
        )
        .parse()
        .expect("Ready's address");
        let local = if self.media.ip().is_loopback() {
            "127.0.0.1:0"
        } else {
            "0.0.0.0:0"
        };
        let udp = UdpSocket::bind(local).await.expect("a UDP socket");
        udp.connect(self.media)
            .await
            .expect("connect to Ready's address");
        self.rtp = Some(Rtp {
            udp,
            ssrc: self.ssrc,
            mode: String::new(),
            key: [0; 32],
            counter: 0,
            sequence: 0,
            timestamp: 0,
        });
        ready
    }

    fn rtp(&self) -> &Rtp {
        self.rtp.as_ref().expect("ready first")
    }

    pub fn udp(&self) -> &UdpSocket {
        &self.rtp().udp
    }

    /// IP discovery as discord.py does it; the address and port answered.
    pub async fn discover(&mut self) -> (String, u16) {
        let answer = discovery(self.udp(), self.ssrc).await;
        let end = answer[8..]
            .iter()
            .position(|&b| b == 0)
            .expect("a NUL-terminated address")
            + 8;
        let ip = String::from_utf8(answer[8..end].to_vec()).expect("an address in ASCII");
        let port = u16::from_be_bytes([answer[72], answer[73]]);
        (ip, port)
    }

    /// Select Protocol and the key of Session Description.
    pub async fn select(&mut self, mode: &str) -> Value {
        let local = self.udp().local_addr().expect("a bound socket");
        self.send(json!({"op": 1, "d": {"protocol": "udp", "data": {
            "address": local.ip().to_string(), "port": local.port(), "mode": mode,
        }}}))
        .await;
        let description = self.expect(4).await;
        let key: Vec<u8> = serde_json::from_value(description["d"]["secret_key"].clone())
            .expect("Session Description's key");
        let rtp = self.rtp.as_mut().expect("ready first");
        rtp.key = key.try_into().expect("a 32-byte key");
        rtp.mode = description["d"]["mode"]
            .as_str()
            .expect("Session Description's mode")
            .to_string();
        description
    }

    /// Sends an Opus frame (any bytes) as the next packet, with an audio
    /// level extension when `level` is given; the packet as sent.
    pub async fn speak(&mut self, opus: &[u8], level: Option<u8>) -> Vec<u8> {
        self.rtp
            .as_mut()
            .expect("ready first")
            .speak(opus, level)
            .await
    }

    /// The next packet for this client, opened with its own key.
    pub async fn hear(&self) -> Received {
        let mut buf = [0u8; 2048];
        let len = tokio::time::timeout(PATIENCE, self.udp().recv(&mut buf))
            .await
            .expect("a packet in time")
            .expect("a packet");
        self.open_packet(&buf[..len])
    }

    /// A packet for this client, opened with its own key.
    pub fn open_packet(&self, packet: &[u8]) -> Received {
        self.rtp()
            .open(packet)
            .expect("a packet sealed with this client's key")
    }

    pub fn key(&self) -> [u8; 32] {
        self.rtp().key
    }

    /// Heartbeats at Hello's interval and reads (and drops) what the server
    /// sends, until `stop` turns true or the server ends the socket; then
    /// leaves as a client does, closing with 1000.
    pub async fn keep_alive(mut self, mut stop: watch::Receiver<bool>) {
        let interval = self
            .backlog
            .iter()
            .find(|m| m["op"] == 8)
            .and_then(|hello| hello["d"]["heartbeat_interval"].as_u64())
            .map_or(DEFAULT_HEARTBEAT, Duration::from_millis);
        let mut beat = tokio::time::interval(interval);
        beat.tick().await;
        let mut nonce = 0u64;
        while !*stop.borrow() {
            tokio::select! {
                // Stopped, or nobody left to say stop.
                changed = stop.changed() => if changed.is_err() {
                    break;
                },
                _ = beat.tick() => {
                    nonce += 1;
                    let seq_ack = self.last_seq.map_or(json!(-1), |s| json!(s));
                    let beat = json!({"op": 3, "d": {"t": nonce, "seq_ack": seq_ack}});
                    if self.ws.send(Message::text(beat.to_string())).await.is_err() {
                        return;
                    }
                }
                message = self.ws.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(value) = serde_json::from_str::<Value>(&text) {
                            self.numbered(&value);
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                },
            }
        }
        let _ = self.ws.close(None).await;
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
    udp.send(&discovery_request(ssrc))
        .await
        .expect("send a discovery request");
    let mut buf = [0u8; 2048];
    let len = tokio::time::timeout(PATIENCE, udp.recv(&mut buf))
        .await
        .expect("a discovery answer in time")
        .expect("a discovery answer");
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
    .expect("sealing");
    [header, &sealed, &counter.to_be_bytes()].concat()
}

/// Opens a packet as the voice server sends them (a 12-byte header: no
/// CSRCs, no extension); `None` for any other packet, or if the key does
/// not open it.
pub fn open(mode: &str, key: &[u8; 32], packet: &[u8]) -> Option<Received> {
    if packet.len() < 12 + 16 + 4 || packet[0] != 0x80 {
        return None;
    }
    let (header, rest) = packet.split_at(12);
    let (sealed, counter) = rest.split_at(rest.len() - 4);
    let counter = u32::from_be_bytes(counter.try_into().ok()?);
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
        ssrc: u32::from_be_bytes(header[8..12].try_into().ok()?),
        sequence: u16::from_be_bytes([header[2], header[3]]),
        timestamp: u32::from_be_bytes(header[4..8].try_into().ok()?),
        counter,
        payload: plain,
    })
}
