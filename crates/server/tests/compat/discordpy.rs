use crate::{Stage, installed, run_bot, workspace};

#[tokio::test]
async fn discord_py_runs_the_whole_scenario() {
    let stage = Stage::new().await;
    let python = std::env::var_os("CONCORD_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| workspace().join("target/compat/venv/bin/python"));
    run_bot(&stage, installed(python), "discordpy_bot.py").await;
}
