//! Bot libraries in a voice channel: one bot plays a tone through
//! Concord's voice server, another receives it with its own key: discord.py
//! in both AEAD modes (`tests/compat/voice_bot.py`) and @discordjs/voice
//! (`tests/compat/voice_djs.mjs`). The server runs with its voice server on
//! (the default), its certificate self-signed into the data directory,
//! which the bots are told to trust.

use concord_testkit::TestServer;
use serde_json::json;

use crate::{installed, python, run_script, workspace};

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
