//! Compatibility: real Discord client libraries, unchanged but pointed at
//! Concord, run a bot through the same scenario. The Python (discord.py,
//! hikari) and Node (discord.js) libraries come from `scripts/test`, which
//! installs them first; the Rust ones (twilight, serenity) are
//! dev-dependencies.

mod cluster;
mod discordjs;
mod discordpy;
mod hikari;
mod peer;
mod serenity;
mod twilight;
mod voice;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use concord_testkit::{Account, TestServer};
use serde_json::json;

/// Messages in the history channel: more than one page of 100.
pub const HISTORY_COUNT: usize = 150;

/// A server with an owner, a guild, a bot in it and a channel of history.
pub struct Stage {
    pub s: TestServer,
    pub owner: Account,
    pub guild: String,
    pub general: String,
    pub history: String,
    pub forum: String,
    pub bot: Account,
}

impl Stage {
    pub async fn new() -> Stage {
        let s = TestServer::start(env!("CARGO_BIN_EXE_concord"), &["--fsync", "off"]);
        let owner = s.register("owner").await;
        let (guild, general) = s.guild(&owner, "Compat").await;
        let history = s
            .post(
                &format!("/guilds/{guild}/channels"),
                &owner.auth,
                json!({ "name": "history" }),
            )
            .await;
        let history = history.body["id"]
            .as_str()
            .expect("history channel")
            .to_owned();
        for i in 0..HISTORY_COUNT {
            s.say(&owner, &history, &format!("history {i}")).await;
        }
        let forum = s
            .post(
                &format!("/guilds/{guild}/channels"),
                &owner.auth,
                json!({ "name": "ideas", "type": 15 }),
            )
            .await;
        let forum = forum.body["id"].as_str().expect("forum").to_owned();
        // VIEW_CHANNEL, SEND_MESSAGES, MANAGE_MESSAGES, READ_MESSAGE_HISTORY,
        // MANAGE_GUILD_EXPRESSIONS, VIEW_AUDIT_LOG, ATTACH_FILES, MANAGE_THREADS,
        // MANAGE_WEBHOOKS.
        let bot = s
            .bot(
                &owner,
                "compat-bot",
                &guild,
                &((1u64 << 10)
                    | (1 << 11)
                    | (1 << 13)
                    | (1 << 15)
                    | (1 << 16)
                    | (1 << 30)
                    | (1 << 7)
                    | (1 << 34)
                    | (1 << 29))
                    .to_string(),
            )
            .await;
        Stage {
            s,
            owner,
            guild,
            general,
            history,
            forum,
            bot,
        }
    }

    /// What the scripts read from their environment.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CONCORD_HTTP", format!("http://{}", self.s.addr)),
            ("CONCORD_WS", self.s.ws_url()),
            (
                "BOT_TOKEN",
                self.bot.auth.trim_start_matches("Bot ").to_owned(),
            ),
            ("OWNER_TOKEN", self.owner.auth.clone()),
            ("OWNER_ID", self.owner.id.clone()),
            ("GUILD_ID", self.guild.clone()),
            ("CHANNEL_ID", self.general.clone()),
            ("HISTORY_CHANNEL_ID", self.history.clone()),
            ("HISTORY_COUNT", HISTORY_COUNT.to_string()),
            ("FORUM_ID", self.forum.clone()),
        ]
    }
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The Python that has discord.py and hikari: `CONCORD_PYTHON`, or the
/// virtual environment `scripts/test` makes.
pub fn python() -> PathBuf {
    std::env::var_os("CONCORD_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| workspace().join("target/compat/venv/bin/python"))
}

/// A tool installed by `scripts/test`; a clear failure if it is missing.
pub fn installed(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, which installs discord.py and discord.js before testing",
        path.display()
    );
    path
}

/// A bot script run by `program` with `env`, its output piped, killed if
/// the test ends first.
pub fn bot_command(
    program: PathBuf,
    script: &str,
    env: Vec<(&'static str, String)>,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command
        .arg(workspace().join("tests/compat").join(script))
        .current_dir(workspace().join("tests/compat"))
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs a bot script to completion and fails the test with its output if it failed.
pub async fn run_bot(stage: &Stage, program: PathBuf, script: &str) {
    run_script(program, script, stage.env()).await;
}

/// Runs `script` with `env` to completion; fails the test with its output
/// if it failed.
pub async fn run_script(program: PathBuf, script: &str, env: Vec<(&'static str, String)>) {
    let child = bot_command(program, script, env)
        .spawn()
        .expect("start the bot");
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("the bot finished within 3 minutes")
        .expect("bot output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{script} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}
