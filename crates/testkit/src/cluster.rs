//! Several Concord nodes in this test process, each with its own service,
//! gateway and port, sharing one reference store, one in-process bus, one
//! in-process realtime backend, and the blob and search directories: a
//! cluster without networked backends, so a test can ask one node and
//! check what another says.
//!
//! Nodes are `concord_server::run_node` over shared `Backends`, exactly as
//! `concord serve` runs one node over its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use concord_bus::{EventBus, LocalBus};
use concord_config::{Config, RealtimeBackend, Settings, Switch};
use concord_realtime::Realtime;
use concord_server::Backends;
use concord_store::Store;
use concord_store::memory::MemoryStore;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Client;

/// Events a node's dispatcher may fall behind, as `concord serve` allows.
const BUS_CAPACITY: usize = 65_536;
/// Message buckets of the reference store: Discord's ten days. The store
/// yields before every call, as a networked one would, so that requests on
/// different nodes interleave between a request's reads and writes.
const BUCKET_MS: u64 = 10 * 24 * 60 * 60 * 1000;

fn local_bus() -> Arc<dyn EventBus> {
    Arc::new(LocalBus::new(BUS_CAPACITY))
}

/// Nodes sharing one store, bus and realtime state.
pub struct Cluster {
    backends: Backends,
    /// Each node's own connection to a networked bus (node `i` takes
    /// `buses[i % len]`); empty, every node shares `backends.bus`.
    buses: Vec<Arc<dyn EventBus>>,
    settings: Settings,
    nodes: Vec<Node>,
    /// Attachments' files and the search index, shared as a cluster shares a mount.
    _shared: TempDir,
}

/// One running node: HTTP and the gateway on its own loopback port.
pub struct Node {
    client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// The node's own files (attachments, control token).
    _data: TempDir,
}

impl std::ops::Deref for Node {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Node {
    /// Whether the node is still serving.
    pub fn running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Cluster {
    /// `count` nodes with rate limits off and search off.
    pub async fn start(count: usize) -> Cluster {
        Self::start_with(count, |_| {}).await
    }

    /// `count` nodes whose settings `adjust` changes (turning rate limits
    /// on, say); every node gets the same settings.
    pub async fn start_with(count: usize, adjust: impl FnOnce(&mut Settings)) -> Cluster {
        let store = Arc::new(MemoryStore::networked(BUCKET_MS));
        Self::build(count, store, vec![local_bus()], adjust).await
    }

    /// `count` nodes as [`Cluster::start`] makes them, over `store` (a
    /// networked backend's) instead of the reference store.
    pub async fn start_over(count: usize, store: Arc<dyn Store>) -> Cluster {
        Self::build(count, store, vec![local_bus()], |_| {}).await
    }

    /// `count` nodes on a networked bus, each over its own connection
    /// (`buses`, one per node, taken in turn), with rate limits and search
    /// off.
    pub async fn start_on_buses(count: usize, buses: Vec<Arc<dyn EventBus>>) -> Cluster {
        let store = Arc::new(MemoryStore::networked(BUCKET_MS));
        Self::build(count, store, buses, |_| {}).await
    }

    async fn build(
        count: usize,
        store: Arc<dyn Store>,
        buses: Vec<Arc<dyn EventBus>>,
        adjust: impl FnOnce(&mut Settings),
    ) -> Cluster {
        let shared = tempfile::tempdir().expect("shared dir");
        let mut settings = Settings {
            rate_limits: Some(Switch::Off),
            search: Some(Switch::Off),
            blob_dir: Some(shared.path().join("attachments")),
            search_dir: Some(shared.path().join("search")),
            ..Settings::default()
        };
        adjust(&mut settings);
        let backends = Backends {
            store,
            bus: Arc::clone(&buses[0]),
            realtime: Realtime::local(),
        };
        let mut cluster = Cluster {
            backends,
            buses,
            settings,
            nodes: Vec::new(),
            _shared: shared,
        };
        for _ in 0..count {
            cluster.add_node().await;
        }
        cluster
    }

    /// Starts one more node over the shared backends; its index.
    pub async fn add_node(&mut self) -> usize {
        let data = tempfile::tempdir().expect("node data dir");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let settings = Settings {
            listen: Some(addr),
            data_dir: Some(data.path().to_path_buf()),
            ..self.settings.clone()
        };
        let config = Config::from_settings(settings).expect("node config");
        concord_server::datadir::prepare(&config.data_dir).expect("node data dir");
        let (stop, stopped) = oneshot::channel::<()>();
        let mut backends = self.backends.clone();
        // Networked backends: each node has its own connection, as
        // separate processes would.
        backends.bus = Arc::clone(&self.buses[self.nodes.len() % self.buses.len()]);
        if config.realtime != RealtimeBackend::Local {
            backends.realtime = concord_server::open_realtime(&config)
                .await
                .expect("realtime backend");
        }
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = concord_server::run_node(config, backends, listener, shutdown).await {
                panic!("node on {addr} failed: {e}");
            }
        });
        let node = Node {
            client: Client::new(addr),
            stop: Some(stop),
            task: Some(task),
            _data: data,
        };
        wait_until_serving(addr).await;
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    pub fn node(&self, index: usize) -> &Node {
        &self.nodes[index]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Stops a node as `concord serve` stops on SIGTERM: its gateway
    /// sessions are asked to reconnect elsewhere (op 7), then it drains.
    pub async fn stop(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        if let Some(stop) = node.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = node.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("node stops within 30 s")
                .expect("node task");
        }
    }
}

/// Polls the node until HTTP answers; panics after 10 s.
async fn wait_until_serving(addr: SocketAddr) {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/v10/gateway");
    for _ in 0..500 {
        if client.get(&url).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("node on {addr} did not start serving");
}
