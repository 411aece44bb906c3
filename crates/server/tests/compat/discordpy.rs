use crate::{Stage, installed, python, run_bot};

#[tokio::test]
async fn discord_py_runs_the_whole_scenario() {
    let stage = Stage::new().await;
    run_bot(&stage, installed(python()), "discordpy_bot.py").await;
}
