//! Black-box tests of the gateway over real WebSockets.

mod bounds;
mod compression;
mod events;
mod fuzz;
mod handshake;
mod interactions;
mod lazy_presences;
mod ordering;
mod polls;
mod presence;
mod resume;
mod resume_elsewhere;
mod threads;
mod views;
mod voice;

use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, TestServer};
use serde_json::Value;

/// Every intent except the privileged ones.
pub const DEFAULT_INTENTS: u64 = 53_608_447 & !(1 << 1 | 1 << 8 | 1 << 15);
pub const ALL_INTENTS: u64 = 53_608_447;
pub const MESSAGE_CONTENT: u64 = 1 << 15;
pub const GUILD_MESSAGES: u64 = 1 << 9;
pub const GUILDS: u64 = 1;

/// A server with an owner, a guild and a bot in it.
pub struct World {
    pub s: TestServer,
    pub owner: Account,
    pub guild: String,
    pub general: String,
    pub bot: Account,
}

impl World {
    /// One process, or a cluster taken node by node when
    /// `CONCORD_TEST_NODES` is above 1.
    pub async fn new(args: &[&str]) -> World {
        Self::on(TestServer::start(env!("CARGO_BIN_EXE_concord"), args)).await
    }

    /// One process, always: for tests of its restarts and signals.
    pub async fn single(args: &[&str]) -> World {
        Self::on(TestServer::start_single(
            env!("CARGO_BIN_EXE_concord"),
            args,
        ))
        .await
    }

    async fn on(s: TestServer) -> World {
        let owner = s.register("owner").await;
        let (guild, general) = s.guild(&owner, "Home").await;
        let bot = s.bot(&owner, "helper", &guild, "0").await;
        World {
            s,
            owner,
            guild,
            general,
            bot,
        }
    }

    pub fn bot_token(&self) -> &str {
        self.bot.auth.trim_start_matches("Bot ")
    }

    /// A bot connection that has seen READY and its GUILD_CREATE.
    pub async fn connect_bot(&self, intents: u64) -> (GatewayClient, serde_json::Value) {
        self.connect(self.bot_token(), intents).await
    }

    /// A connection for `token` that has seen READY (and GUILD_CREATE with GUILDS).
    pub async fn connect(&self, token: &str, intents: u64) -> (GatewayClient, serde_json::Value) {
        let mut ws = GatewayClient::connect(&self.s.ws_url(), "v=10&encoding=json").await;
        assert_eq!(ws.receive().await["op"], 10);
        ws.identify(token.trim_start_matches("Bot "), intents).await;
        let ready = ws.dispatch("READY").await;
        if intents & GUILDS != 0 {
            ws.dispatch("GUILD_CREATE").await;
        }
        (ws, ready)
    }

    /// A message from the owner in #general; returns its id.
    pub async fn say(&self, content: &str) -> String {
        self.s.say(&self.owner, &self.general, content).await
    }
}

/// Reads dispatches until `t`, returning every dispatch type seen before it.
pub async fn until(ws: &mut GatewayClient, t: &str) -> (Vec<String>, Value) {
    let mut seen = Vec::new();
    loop {
        let p = ws.receive().await;
        if p["op"] != 0 {
            continue;
        }
        if p["t"] == t {
            return (seen, p);
        }
        seen.push(p["t"].as_str().unwrap_or_default().to_owned());
    }
}

/// Like [`until`], for the MESSAGE_CREATE with this content (others, such
/// as join notices, count among the types seen before it).
pub async fn until_message(ws: &mut GatewayClient, content: &str) -> (Vec<String>, Value) {
    let mut seen = Vec::new();
    loop {
        let (before, p) = until(ws, "MESSAGE_CREATE").await;
        seen.extend(before);
        if p["d"]["content"] == content {
            return (seen, p);
        }
        seen.push("MESSAGE_CREATE".to_owned());
    }
}
