use crate::{Stage, installed, run_bot, workspace};

#[tokio::test]
async fn discord_js_runs_the_whole_scenario() {
    let stage = Stage::new().await;
    installed(workspace().join("tests/compat/node_modules/discord.js"));
    run_bot(&stage, "node".into(), "discordjs_bot.mjs").await;
}
