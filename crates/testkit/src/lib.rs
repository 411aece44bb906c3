//! Black-box test support: start a real `concord` process on a loopback
//! port with its own data directory, and talk to it over real HTTP.
//!
//! The server is a child process so a test can `kill -9` it and start it
//! again on the same data, exactly as an operator's crash would.

mod backend;
mod client;
pub mod cluster;
mod datadir;
pub mod fuzz;
pub mod gateway;
pub mod openapi;
pub mod processes;
pub mod voice;

pub use backend::Backend;
pub use client::{Account, Client, Reply};

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::Value;
pub use tempfile::TempDir;

/// `count` connections to one NATS bus, on a stream of its own on the test
/// server (`CONCORD_TEST_NATS`), as `count` nodes have; `None` when there
/// is none (see `concord_bus_nats::test_options`).
pub async fn nats_buses(count: usize) -> Option<Vec<Arc<dyn concord_bus::EventBus>>> {
    let options = concord_bus_nats::test_options(65_536)?;
    let mut buses: Vec<Arc<dyn concord_bus::EventBus>> = Vec::new();
    for _ in 0..count {
        let bus = concord_bus_nats::NatsBus::connect(&options)
            .await
            .expect("connect to CONCORD_TEST_NATS");
        buses.push(Arc::new(bus));
    }
    Some(buses)
}

/// A running `concord serve`.
pub struct TestServer {
    binary: PathBuf,
    args: Vec<String>,
    data: tempfile::TempDir,
    child: Option<Child>,
    /// Everything the server printed on stdout since it last started.
    stdout: Arc<Mutex<Vec<String>>>,
    /// The `--log` filter.
    log: String,
    /// What the server logged (stderr), when asked to keep it.
    stderr: Option<Arc<Mutex<Vec<String>>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    /// HTTP to the server, at its current address (to every node in turn,
    /// for a cluster).
    client: Client,
    /// The other nodes, when this one is the first of a cluster.
    peers: Option<Box<Peers>>,
}

/// The nodes a cluster has besides its first, and the backends they share.
struct Peers {
    /// Declared first: the nodes stop before the database is dropped.
    _nodes: Vec<TestServer>,
    _backends: processes::SharedBackends,
}

/// How many nodes [`TestServer::start`] runs: `CONCORD_TEST_NODES`, 1 when
/// unset. Above 1, the suites run against a cluster over the networked
/// backends, each request and gateway connection going to the next node.
fn nodes_wanted() -> usize {
    std::env::var("CONCORD_TEST_NODES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

impl std::ops::Deref for TestServer {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl TestServer {
    /// Starts `binary serve` with rate limits off (unless `args` say
    /// otherwise): one process, or with `CONCORD_TEST_NODES` above 1 that
    /// many over PostgreSQL, NATS and Redis, which this server's HTTP and
    /// gateway URLs take in turn, as behind a round-robin load balancer.
    pub fn start(binary: &str, args: &[&str]) -> TestServer {
        match nodes_wanted() {
            count if count > 1 => Self::start_cluster(binary, count, args),
            _ => Self::start_single(binary, args),
        }
    }

    /// One process, whatever `CONCORD_TEST_NODES` says: for a test of what
    /// one process does with its own data directory, log or signals.
    pub fn start_single(binary: &str, args: &[&str]) -> TestServer {
        Self::start_on(binary, datadir::fresh(binary), args)
    }

    /// One node of a cluster: its data directory holds no store (that is
    /// PostgreSQL), so it starts empty.
    fn start_node(binary: &str, args: &[&str]) -> TestServer {
        Self::start_on(binary, tempfile::tempdir().expect("temp dir"), args)
    }

    fn start_cluster(binary: &str, count: usize, args: &[&str]) -> TestServer {
        let backends = processes::SharedBackends::prepare()
            .expect("CONCORD_TEST_NODES needs CONCORD_TEST_POSTGRES, CONCORD_TEST_NATS and CONCORD_TEST_REDIS");
        let mut all: Vec<&str> = backends.args.iter().map(String::as_str).collect();
        all.extend(args);
        // The first node alone, so that it holds the singleton leases; the
        // others together, which shortens every clustered test's start.
        let mut first = Self::start_node(binary, &all);
        let nodes: Vec<TestServer> = std::thread::scope(|scope| {
            let starting: Vec<_> = (1..count)
                .map(|_| scope.spawn(|| Self::start_node(binary, &all)))
                .collect();
            starting
                .into_iter()
                .map(|node| node.join().expect("a node started"))
                .collect()
        });
        let addrs = std::iter::once(first.addr).chain(nodes.iter().map(|n| n.addr));
        first.client = Client::round_robin(addrs.collect());
        first.peers = Some(Box::new(Peers {
            _nodes: nodes,
            _backends: backends,
        }));
        first
    }

    /// Starts the server on an existing data directory (a restored one, say).
    pub fn start_on(binary: &str, data: TempDir, args: &[&str]) -> TestServer {
        Self::launch(binary, data, "warn", false, args)
    }

    /// Starts the server with the `--log` filter `log`, keeping what it
    /// logs for [`logged`](Self::logged).
    pub fn start_logging(binary: &str, log: &str, args: &[&str]) -> TestServer {
        Self::launch(binary, datadir::fresh(binary), log, true, args)
    }

    fn launch(binary: &str, data: TempDir, log: &str, keep_log: bool, args: &[&str]) -> TestServer {
        let mut server = TestServer {
            binary: PathBuf::from(binary),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            data,
            child: None,
            stdout: Arc::default(),
            log: log.to_owned(),
            stderr: keep_log.then(Arc::default),
            stderr_reader: None,
            client: Client::new(SocketAddr::from(([127, 0, 0, 1], 0))),
            peers: None,
        };
        server.spawn();
        server
    }

    /// The lines the server printed after its listen line.
    pub fn printed(&self) -> Vec<String> {
        self.single_only("printed");
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops a server started with [`start_logging`](Self::start_logging)
    /// (SIGKILL) and returns everything it logged.
    pub fn stop_and_read_log(&mut self) -> String {
        self.kill9();
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().expect("log reader");
        }
        let lines = self.stderr.as_ref().expect("started with start_logging");
        lines.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }

    /// Runs another `concord` command against this server (its address
    /// and data directory), feeding it `stdin`.
    pub fn command(&self, args: &[&str], stdin: &str) -> std::process::Output {
        self.single_only("command");
        use std::io::Write;
        let mut child = Command::new(&self.binary)
            .args(args)
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--data-dir")
            .arg(self.data.path())
            .env_remove("CONCORD_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run concord");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("concord output")
    }

    pub fn data_dir(&self) -> &Path {
        self.single_only("data_dir");
        self.data.path()
    }

    /// The server's process id, while it runs (to read its `/proc` entry).
    pub fn pid(&self) -> Option<u32> {
        self.single_only("pid");
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self) {
        let mut child = Command::new(&self.binary)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--log", &self.log])
            .arg("--data-dir")
            .arg(self.data.path())
            .args(&self.args)
            .env_remove("CONCORD_CONFIG")
            // Flags win over the environment, so a test can turn limits back on.
            .env("CONCORD_RATE_LIMITS", "off")
            .stdout(Stdio::piped())
            .stderr(match self.stderr {
                Some(_) => Stdio::piped(),
                None => Stdio::inherit(),
            })
            .spawn()
            .expect("start concord");
        if let (Some(stderr), Some(logged)) = (child.stderr.take(), &self.stderr) {
            let logged = Arc::clone(logged);
            self.stderr_reader = Some(std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    logged.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            }));
        }
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read listen line");
        // Keep reading, so that the server can go on printing.
        let printed = Arc::new(Mutex::new(Vec::new()));
        self.stdout = Arc::clone(&printed);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                printed.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("concord did not say where it listens: {line:?}");
        };
        self.client.addr = addr;
        self.child = Some(child);
    }

    /// SIGKILL, no shutdown: whatever was not durable is lost.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill");
            child.wait().expect("reap");
        }
    }

    /// SIGTERM: the server starts a graceful shutdown.
    pub fn signal_terminate(&self) {
        self.single_only("signal_terminate");
        let child = self.child.as_ref().expect("server running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("kill -TERM");
        assert!(status.success());
    }

    /// Waits for the server to exit and returns how it did.
    pub fn terminate_wait(&mut self) -> std::process::ExitStatus {
        self.single_only("terminate_wait");
        self.child
            .take()
            .expect("server running")
            .wait()
            .expect("reap")
    }

    /// Starts the server again on the same data directory.
    pub fn restart(&mut self) {
        self.single_only("restart");
        self.kill9();
        self.spawn();
    }
}

impl TestServer {
    /// What concerns one process (its data directory, output, signals,
    /// restarts) means nothing for a cluster's round-robin client.
    fn single_only(&self, what: &str) {
        assert!(
            self.peers.is_none(),
            "{what} is about one process: start this test's server with TestServer::start_single"
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Ids of a message page, in the order given.
pub fn ids(page: &Value) -> Vec<String> {
    page.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
