//! Several `concord serve` processes over the networked backends, as an
//! operator runs a cluster: one PostgreSQL database, one NATS stream and
//! one Redis key prefix of their own (from `CONCORD_TEST_POSTGRES`,
//! `CONCORD_TEST_NATS` and `CONCORD_TEST_REDIS`), one shared attachments
//! and search directory, and each node its own data directory and port.
//!
//! Each node is a [`TestServer`], so a test can `kill -9` one, stop it
//! with SIGTERM or restart it, exactly as with a single server. A node's
//! gateway gives its own address as the resume URL, as each node behind a
//! load balancer does.

use std::time::{SystemTime, UNIX_EPOCH};

use concord_store_postgres::testing::{ScratchDatabase, test_server};

use crate::{Client, TempDir, TestServer};

/// The Redis server tests may use (`CONCORD_TEST_REDIS`, which
/// `scripts/services/redis` prints); `None` (after saying so) when it is
/// unset, and a panic instead when `CONCORD_TEST_SERVICES_REQUIRED` is set.
pub fn test_redis() -> Option<String> {
    match std::env::var("CONCORD_TEST_REDIS") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CONCORD_TEST_SERVICES_REQUIRED").is_none(),
                "CONCORD_TEST_REDIS is not set (scripts/services/redis starts a server)"
            );
            eprintln!(
                "skipped: CONCORD_TEST_REDIS is not set (scripts/services/redis starts a server)"
            );
            None
        }
    }
}

/// The networked backends one cluster's nodes share: a scratch PostgreSQL
/// database, a NATS stream and a Redis key prefix of their own, and one
/// attachments and search directory; `args` tell a node to use them.
pub(crate) struct SharedBackends {
    pub(crate) args: Vec<String>,
    _database: ScratchDatabase,
    /// Attachments' files and the search index, as a shared mount.
    _shared: TempDir,
}

impl SharedBackends {
    /// `None` when a backend's variable is unset (see [`test_redis`]).
    pub(crate) fn prepare() -> Option<SharedBackends> {
        let postgres = test_server()?;
        let nats = concord_bus_nats::test_options(65_536)?;
        let redis = test_redis()?;
        // A thread and runtime of its own: callers may be inside a
        // current-thread runtime, which cannot block on a future.
        let database = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(ScratchDatabase::migrated(&postgres))
        })
        .join()
        .expect("database thread")
        .expect("create a test database");
        let shared = tempfile::tempdir().expect("shared dir");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let prefix = format!("processes:{}:{nanos}:", std::process::id());
        let args = vec![
            "--store".into(),
            database.url.clone(),
            "--bus".into(),
            nats.url,
            "--bus-stream".into(),
            nats.stream,
            "--realtime".into(),
            redis,
            "--realtime-prefix".into(),
            prefix,
            "--blob-dir".into(),
            shared.path().join("attachments").display().to_string(),
            "--search-dir".into(),
            shared.path().join("search").display().to_string(),
        ];
        Some(SharedBackends {
            args,
            _database: database,
            _shared: shared,
        })
    }
}

/// `concord serve` processes sharing PostgreSQL, NATS and Redis.
pub struct ProcessCluster {
    binary: String,
    /// Every node's options: the backends and shared directories, then
    /// what the test asked for.
    args: Vec<String>,
    /// Declared before the backends, so the nodes stop before the
    /// database is dropped.
    nodes: Vec<TestServer>,
    _backends: SharedBackends,
}

impl ProcessCluster {
    /// `count` nodes of `binary` (`env!("CARGO_BIN_EXE_concord")`), started
    /// one after the other (the first holds the cluster's singleton
    /// leases), each with `args` added; `None` when a backend's variable
    /// is unset (see [`test_redis`]).
    pub async fn start(binary: &str, count: usize, args: &[&str]) -> Option<ProcessCluster> {
        let backends = SharedBackends::prepare()?;
        let mut all = backends.args.clone();
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let mut cluster = ProcessCluster {
            binary: binary.to_owned(),
            args: all,
            nodes: Vec::new(),
            _backends: backends,
        };
        for _ in 0..count {
            cluster.add_node();
        }
        Some(cluster)
    }

    /// Starts one more node; its index.
    pub fn add_node(&mut self) -> usize {
        self.add_node_with(&[])
    }

    /// Starts one more node with options of its own besides the
    /// cluster's (its own voice endpoint, say); its index.
    pub fn add_node_with(&mut self, own: &[&str]) -> usize {
        let mut args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        args.extend(own);
        self.nodes
            .push(TestServer::start_single(&self.binary, &args));
        self.nodes.len() - 1
    }

    /// Node `index` (HTTP through its [`Client`], and its process).
    pub fn node(&self, index: usize) -> &TestServer {
        &self.nodes[index]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A client that sends each request (and gives each gateway URL) to
    /// the next node in turn, as a round-robin load balancer does. It
    /// knows the nodes' addresses now: make it again after a restart.
    pub fn round_robin(&self) -> Client {
        Client::round_robin(self.nodes.iter().map(|n| n.addr).collect())
    }

    /// SIGKILL node `index`: no shutdown, its sessions simply vanish.
    pub fn kill9(&mut self, index: usize) {
        self.nodes[index].kill9();
    }

    /// SIGTERM node `index`: it asks its sessions to reconnect elsewhere
    /// (op 7) and drains; [`terminate_wait`](Self::terminate_wait) reaps it.
    pub fn signal_terminate(&self, index: usize) {
        self.nodes[index].signal_terminate();
    }

    /// Waits for node `index` to exit (after SIGTERM) and returns how it did.
    pub fn terminate_wait(&mut self, index: usize) -> std::process::ExitStatus {
        self.nodes[index].terminate_wait()
    }

    /// Starts node `index` again (killing it first if it runs), on its
    /// data directory, at a new address.
    pub fn restart(&mut self, index: usize) {
        self.nodes[index].restart();
    }
}
