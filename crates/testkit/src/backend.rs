//! A backend server of a test's own (PostgreSQL, Redis or NATS), started
//! by `scripts/services/NAME` as the shared ones are, which the test stops
//! and starts again on the same port and data to see a node lose it and
//! recover. Never one of the shared servers: other tests use those.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running (or stopped) backend server of one test.
pub struct Backend {
    name: &'static str,
    state: TempDir,
    port: u16,
    url: String,
    pid: Option<u32>,
}

impl Backend {
    /// Starts `scripts/services/NAME` (`postgres`, `redis` or `nats`) in a
    /// state directory of its own. `None`, having said so, when this
    /// machine runs no such server for the tests (`CONCORD_TEST_NAME` is
    /// unset); panics then if `CONCORD_TEST_SERVICES_REQUIRED` is set.
    pub fn start(name: &'static str) -> Option<Backend> {
        let variable = format!("CONCORD_TEST_{}", name.to_uppercase());
        if std::env::var_os(&variable).is_none() {
            assert!(
                std::env::var_os("CONCORD_TEST_SERVICES_REQUIRED").is_none(),
                "{variable} is not set: run scripts/services/{name} and export what it prints"
            );
            eprintln!("skipped: {variable} is not set (scripts/services/{name} starts a server)");
            return None;
        }
        let mut backend = Backend {
            name,
            state: tempfile::tempdir().expect("temp dir"),
            port: 0,
            url: String::new(),
            pid: None,
        };
        backend.run_script();
        Some(backend)
    }

    /// The URL a node connects to; the same after [`start_again`](Self::start_again).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server as an operator would (SIGINT: PostgreSQL's fast
    /// shutdown, which ends its clients' connections) and waits until it
    /// has exited.
    pub fn stop(&mut self) {
        let Some(pid) = self.pid.take() else {
            return;
        };
        signal(pid, "-INT");
        let deadline = Instant::now() + Duration::from_secs(60);
        while running(pid) {
            if Instant::now() > deadline {
                signal(pid, "-KILL");
                panic!(
                    "{} did not stop within a minute of SIGINT; killed",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Removes what the stopped server kept (`STATE_DIR/NAME`), so that it
    /// starts again as on an empty disk.
    pub fn lose_data(&mut self) {
        assert!(self.pid.is_none(), "{} is still running", self.name);
        let data = self.state.path().join(self.name);
        std::fs::remove_dir_all(&data).expect("remove the server's data");
    }

    /// Starts the stopped server again, on its port and its data.
    pub fn start_again(&mut self) {
        assert!(self.pid.is_none(), "{} is still running", self.name);
        self.run_script();
    }

    fn run_script(&mut self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../scripts/services")
            .join(self.name);
        let mut command = Command::new(&script);
        command.arg(self.state.path());
        if self.port != 0 {
            command.arg(self.port.to_string());
        }
        let output = command.output().expect("run scripts/services");
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{} did not start: {}{}",
            script.display(),
            printed,
            String::from_utf8_lossy(&output.stderr)
        );
        let url = printed
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(_, url)| url.trim().to_owned())
            .next_back()
            .expect("the script prints NAME=URL");
        let port = url
            .rsplit_once(':')
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .and_then(|port| port.parse().ok())
            .expect("a port in the URL");
        let pid_file = self.state.path().join(format!("{}.pid", self.name));
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse().ok())
            .expect("the script writes the server's pid");
        self.url = url;
        self.port = port;
        self.pid = Some(pid);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            signal(pid, "-KILL");
        }
    }
}

fn signal(pid: u32, which: &str) {
    let _ = Command::new("kill")
        .arg(which)
        .arg(pid.to_string())
        .status();
}

/// Whether `pid` still runs (a zombie nobody reaped has exited).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}
