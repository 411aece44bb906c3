use crate::{Stage, installed, python, run_bot};

#[tokio::test]
async fn hikari_runs_the_whole_scenario() {
    let stage = Stage::new().await;
    run_bot(&stage, installed(python()), "hikari_bot.py").await;
}
