//! A bot script or a browser script run beside a test, in step with it:
//! it prints "ready" when set up, waits for a line on stdin ("go"), and
//! ends with its verdict.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use crate::workspace;

/// How long a bot may take to connect, and then to hear its peer.
const PATIENCE: Duration = Duration::from_secs(60);

/// A bot script in peer mode, or the browser, started and reading its stdin.
pub(crate) struct Peer {
    script: &'static str,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    printed: Vec<String>,
}

impl Peer {
    pub(crate) fn spawn(script: &'static str, mut command: tokio::process::Command) -> Peer {
        let mut child = command
            .stdin(Stdio::piped())
            .spawn()
            .expect("start the peer");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Peer {
            script,
            child,
            stdout,
            printed: Vec::new(),
        }
    }

    /// Reads what the bot prints until it says it is ready.
    pub(crate) async fn ready(&mut self) {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.stdout.next_line())
                .await
                .unwrap_or_else(|_| panic!("{} did not get ready: {:?}", self.script, self.printed))
                .expect("bot output");
            match line {
                Some(line) if line == "ready" => return,
                Some(line) => self.printed.push(line),
                None => panic!("{}", self.failure("ended before it was ready").await),
            }
        }
    }

    /// Lets the bot speak.
    pub(crate) async fn go(&mut self) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"go\n").await.expect("write to the bot");
        stdin.flush().await.expect("flush");
    }

    /// Waits for the bot to end; fails the test unless it passed.
    pub(crate) async fn finish(mut self) {
        let ended = tokio::time::timeout(PATIENCE, self.child.wait()).await;
        let passed = matches!(ended, Ok(Ok(status)) if status.success());
        if !passed {
            panic!("{}", self.failure("failed").await);
        }
    }

    /// Says how the bot failed, with all it printed.
    async fn failure(&mut self, what: &str) -> String {
        let _ = self.child.start_kill();
        while let Ok(Some(line)) = self.stdout.next_line().await {
            self.printed.push(line);
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr).await;
        }
        format!(
            "{} {what}\n--- stdout\n{}\n--- stderr\n{stderr}",
            self.script,
            self.printed.join("\n")
        )
    }
}

/// A script of the web client's tests (`tests/web`), run by node with
/// `env`, its output piped, killed if the test ends first.
pub(crate) fn web_command(
    script: &str,
    env: Vec<(&'static str, String)>,
) -> tokio::process::Command {
    let web = workspace().join("tests/web");
    let mut command = tokio::process::Command::new("node");
    command
        .arg(web.join(script))
        .current_dir(&web)
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}
