//! discord.py connected to one node of a cluster (PostgreSQL, NATS and
//! Redis under `concord serve` processes) while discord.js, or a person in
//! the web client, is connected to another: each sees the other's message.
//! The bot scripts run in their peer mode (`PEER_ID`), the browser through
//! `tests/web/peer.mjs`.

use std::path::PathBuf;

use concord_testkit::processes::ProcessCluster;
use concord_testkit::{Account, TestServer};

use crate::peer::{Peer, web_command};
use crate::{bot_command, installed, workspace};

impl Peer {
    /// Starts `script` as `bot`, through `node`, with `peer` the other bot.
    fn start(
        program: PathBuf,
        script: &'static str,
        node: &TestServer,
        bot: &Account,
        peer: &Account,
        (guild, channel): (&str, &str),
    ) -> Peer {
        let env = vec![
            ("CONCORD_HTTP", format!("http://{}", node.addr)),
            ("CONCORD_WS", node.ws_url()),
            ("BOT_TOKEN", bot.auth.trim_start_matches("Bot ").to_owned()),
            ("PEER_ID", peer.id.clone()),
            ("GUILD_ID", guild.to_owned()),
            ("CHANNEL_ID", channel.to_owned()),
            // Read by the full scenario's set-up, unused by the peer's.
            ("OWNER_TOKEN", String::new()),
            ("OWNER_ID", "0".to_owned()),
            ("HISTORY_CHANNEL_ID", channel.to_owned()),
            ("HISTORY_COUNT", "0".to_owned()),
            ("FORUM_ID", channel.to_owned()),
        ];
        Peer::spawn(script, bot_command(program, script, env))
    }

    /// Starts `person` in the web client on `node`, in `channel`, to answer
    /// `peer`.
    fn browser(
        node: &TestServer,
        person: &Account,
        peer: &Account,
        (guild, channel): (&str, &str),
    ) -> Peer {
        const SCRIPT: &str = "peer.mjs";
        let env = vec![
            ("CONCORD_HTTP", format!("http://{}", node.addr)),
            ("TOKEN", person.auth.clone()),
            ("PEER_ID", peer.id.clone()),
            ("GUILD_ID", guild.to_owned()),
            ("CHANNEL_ID", channel.to_owned()),
        ];
        Peer::spawn(SCRIPT, web_command(SCRIPT, env))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_py_on_one_node_and_discord_js_on_another_see_each_others_messages() {
    let binary = env!("CARGO_BIN_EXE_concord");
    let Some(cluster) = ProcessCluster::start(binary, 2, &["--search", "off"]).await else {
        return;
    };
    let python = installed(crate::python());
    installed(workspace().join("tests/compat/node_modules/discord.js"));
    let (a, b) = (cluster.node(0), cluster.node(1));
    let owner = a.register("owner").await;
    let (guild, general) = a.guild(&owner, "Peers").await;
    // VIEW_CHANNEL, SEND_MESSAGES, READ_MESSAGE_HISTORY.
    let permissions = ((1u64 << 10) | (1 << 11) | (1 << 16)).to_string();
    let py_bot = a.bot(&owner, "py-peer", &guild, &permissions).await;
    let js_bot = b.bot(&owner, "js-peer", &guild, &permissions).await;
    let place = (guild.as_str(), general.as_str());
    let mut py = Peer::start(python, "discordpy_bot.py", a, &py_bot, &js_bot, place);
    let mut js = Peer::start(
        "node".into(),
        "discordjs_bot.mjs",
        b,
        &js_bot,
        &py_bot,
        place,
    );
    py.ready().await;
    js.ready().await;
    py.go().await;
    js.go().await;
    py.finish().await;
    js.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_on_one_node_and_a_person_in_the_browser_on_another_talk() {
    let binary = env!("CARGO_BIN_EXE_concord");
    let Some(cluster) = ProcessCluster::start(binary, 3, &["--search", "off"]).await else {
        return;
    };
    let python = installed(crate::python());
    installed(workspace().join("tests/web/node_modules/playwright-core"));
    installed(PathBuf::from("/usr/bin/chromium"));
    let (a, c) = (cluster.node(0), cluster.node(2));
    let person = a.register("person").await;
    let (guild, general) = a.guild(&person, "Browser and bot").await;
    // VIEW_CHANNEL, SEND_MESSAGES, READ_MESSAGE_HISTORY.
    let permissions = ((1u64 << 10) | (1 << 11) | (1 << 16)).to_string();
    let bot = a.bot(&person, "py-peer", &guild, &permissions).await;
    let place = (guild.as_str(), general.as_str());
    let mut py = Peer::start(python, "discordpy_bot.py", a, &bot, &person, place);
    let mut browser = Peer::browser(c, &person, &bot, place);
    py.ready().await;
    browser.ready().await;
    py.go().await;
    py.finish().await;
    browser.finish().await;
}
