//! The web client in a real browser. `tests/web/e2e.mjs` drives Debian's
//! Chromium through playwright-core against this build's `concord`, which
//! it starts (and restarts) itself; `node --test` runs the client's own
//! unit tests. `scripts/test` installs playwright-core first.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Runs node with `args` in `tests/web`, failing with its output if it fails.
fn node(args: &[&str], envs: &[(&str, PathBuf)]) {
    let dir = workspace().join("tests/web");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run scripts/test, which installs it before testing"
    );
    let output = Command::new("node")
        .args(args)
        .current_dir(&dir)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_os_str())))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "node {args:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

#[test]
fn the_clients_modules_pass_their_unit_tests() {
    node(&["--test", "."], &[]);
}

#[test]
fn two_people_chat_in_the_browser() {
    let browser = Path::new("/usr/bin/chromium");
    assert!(
        browser.exists(),
        "Chromium is missing: install Debian's chromium package (.ci/run does)"
    );
    let screenshots = workspace().join("target/web-screenshots");
    node(
        &["e2e.mjs"],
        &[
            ("CONCORD_BIN", PathBuf::from(env!("CARGO_BIN_EXE_concord"))),
            ("SCREENSHOT_DIR", screenshots),
        ],
    );
}

/// Two people in Chromium with fake microphones join a voice channel and
/// hear each other through the voice server (`tests/web/voice.mjs`).
#[test]
fn two_people_talk_in_a_voice_channel_in_the_browser() {
    let browser = Path::new("/usr/bin/chromium");
    assert!(
        browser.exists(),
        "Chromium is missing: install Debian's chromium package (.ci/run does)"
    );
    node(
        &["voice.mjs"],
        &[("CONCORD_BIN", PathBuf::from(env!("CARGO_BIN_EXE_concord")))],
    );
}
