use std::path::PathBuf;

use crate::{Stage, installed, run_bot, workspace};

/// The Python with discord.py: `CONCORD_PYTHON`, else the one `scripts/test` installs.
pub(crate) fn python() -> PathBuf {
    std::env::var_os("CONCORD_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| workspace().join("target/compat/venv/bin/python"))
}

#[tokio::test]
async fn discord_py_runs_the_whole_scenario() {
    let stage = Stage::new().await;
    run_bot(&stage, installed(python()), "discordpy_bot.py").await;
}
