//! Bot libraries in a voice channel: one bot plays a tone through
//! Concord's voice server, another receives it with its own key: discord.py
//! in both AEAD modes (`tests/compat/voice_bot.py`) and @discordjs/voice
//! (`tests/compat/voice_djs.mjs`); and discord.py with a person in the web
//! client (`tests/web/voice-peer.mjs`), each hearing the other. The server
//! runs with its voice server on (the default), its certificate self-signed
//! into the data directory, which the bots are told to trust.

use concord_testkit::TestServer;
use serde_json::json;

use crate::peer::{Peer, web_command};
use crate::{bot_command, installed, python, run_script, workspace};

/// VIEW_CHANNEL, CONNECT, SPEAK.
const IN_VOICE: u64 = (1 << 10) | (1 << 20) | (1 << 21);

#[tokio::test]
async fn discord_py_plays_a_tone_that_another_hears_through_the_voice_server() {
    let (_server, env) = voice_channel_with_two_bots().await;
    run_script(installed(python()), "voice_bot.py", env).await;
}

/// @discordjs/voice (with opusscript encoding, AES-GCM) plays a tone that
/// a second @discordjs/voice connection receives, decrypts and decodes
/// (`tests/compat/voice_djs.mjs`).
#[tokio::test]
async fn discord_js_voice_plays_a_tone_that_another_hears() {
    let (_server, env) = voice_channel_with_two_bots().await;
    installed(workspace().join("tests/compat/node_modules/@discordjs/voice"));
    run_script("node".into(), "voice_djs.mjs", env).await;
}

/// discord.py plays a tone to a person in Chromium with a fake microphone,
/// who hears it (inbound-rtp packets with an audio level), and the bot
/// hears the person: Opus under the browser's own SSRC, sealed for the
/// bot's key, through the SFU's bridge between WebRTC and Discord's UDP.
#[tokio::test]
async fn discord_py_and_a_person_in_the_browser_hear_each_other() {
    let (server, env) = voice_channel_with_two_bots().await;
    let value = |name: &str| {
        let found = env.iter().find(|(key, _)| *key == name);
        found.map(|(_, value)| value.clone()).expect(name)
    };
    // The person is the guild's owner.
    let person = value("OWNER_TOKEN");
    let person_id = user_id(&server, &person).await;
    let bot_id = user_id(&server, &format!("Bot {}", value("BOT_TOKEN"))).await;

    let mut bot_env = env.clone();
    bot_env.push(("PEER_ID", person_id));
    let script = "voice_bot.py";
    let mut bot = Peer::spawn(script, bot_command(installed(python()), script, bot_env));
    bot.ready().await;

    let browser_env = vec![
        ("CONCORD_HTTP", value("CONCORD_HTTP")),
        ("TOKEN", person),
        ("GUILD_ID", value("GUILD_ID")),
        ("VOICE_CHANNEL_ID", value("VOICE_CHANNEL_ID")),
        ("PEER_ID", bot_id),
    ];
    let script = "voice-peer.mjs";
    installed(workspace().join("tests/web/node_modules/playwright-core"));
    let mut browser = Peer::spawn(script, web_command(script, browser_env));
    browser.ready().await;
    bot.go().await;
    bot.finish().await;
    browser.go().await;
    browser.finish().await;
}

async fn user_id(server: &TestServer, auth: &str) -> String {
    let me = server.get("/users/@me", auth).await;
    me.body["id"].as_str().expect("a user id").to_owned()
}

/// A server with its voice server on, a guild with a voice channel, and
/// two bots allowed in it: the server, and the bots' environment.
async fn voice_channel_with_two_bots() -> (TestServer, Vec<(&'static str, String)>) {
    let s = TestServer::start_single(env!("CARGO_BIN_EXE_concord"), &["--fsync", "off"]);
    let owner = s.register("owner").await;
    let (guild, _) = s.guild(&owner, "Voice").await;
    let room = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &owner.auth,
            json!({ "name": "Lounge", "type": 2 }),
        )
        .await;
    assert_eq!(room.status, 201, "{:?}", room.body);
    let room = room.body["id"].as_str().expect("channel id").to_owned();
    let permissions = IN_VOICE.to_string();
    let speaker = s.bot(&owner, "speaker", &guild, &permissions).await;
    let listener = s.bot(&owner, "listener", &guild, &permissions).await;
    let token = |bot: &concord_testkit::Account| bot.auth.trim_start_matches("Bot ").to_owned();
    let certificate = s
        .data_dir()
        .join("voice")
        .join(concord_voice::SELF_SIGNED_CERT);
    let env = vec![
        ("CONCORD_HTTP", format!("http://{}", s.addr)),
        ("CONCORD_WS", s.ws_url()),
        ("BOT_TOKEN", token(&speaker)),
        ("LISTENER_TOKEN", token(&listener)),
        ("OWNER_TOKEN", owner.auth.clone()),
        ("GUILD_ID", guild),
        ("VOICE_CHANNEL_ID", room),
        ("VOICE_CA", certificate.display().to_string()),
        // Node trusts the self-signed certificate through this.
        ("NODE_EXTRA_CA_CERTS", certificate.display().to_string()),
    ];
    (s, env)
}
