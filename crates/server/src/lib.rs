//! Wiring and lifecycle of the `concord` binary: open the store, start the
//! service, serve HTTP until shutdown. Everything is passed explicitly; no
//! globals but the metrics recorder, which Prometheus needs.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use concord_api::{AppState, MetricsAccess};
use concord_bus::{EventBus, LocalBus};
use concord_config::{Config, RealtimeBackend, StoreLocation};
use concord_gateway::{Gateway, GatewayConfig};
use concord_model::Snowflake;
use concord_realtime::Realtime;
use concord_realtime::leases::{NodeIdError, claim_node_id, node_id_lease};
use concord_realtime_redis::RedisRealtime;
use concord_search::SearchIndex;
use concord_service::search::{self, FillProgress};
use concord_service::{Service, ServiceConfig};
use concord_store::Store;
use concord_store_fjall::{FjallOptions, FjallStore};
use concord_store_postgres::{PgOptions, PgStore};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

pub mod datadir;
pub mod listener;
mod voice;

/// Events a slow gateway dispatcher may fall behind before it is told.
const BUS_CAPACITY: usize = 65_536;

/// How long a node's hold on its snowflake ids outlives its last renewal
/// (renewed three times as often): after a crash, its ids are free again
/// this long after.
const NODE_ID_TTL: Duration = Duration::from_secs(30);

/// The address to reach a server bound to `addr` from this machine: a
/// wildcard address becomes loopback.
pub fn local_address(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => IpAddr::from([127, 0, 0, 1]),
        ip if ip.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The HTTP base URL that goes with a gateway URL (`wss://` → `https://`).
fn public_base(gateway_url: &str) -> String {
    match gateway_url.strip_prefix("ws") {
        Some(rest) => format!("http{rest}"),
        None => gateway_url.to_owned(),
    }
}

/// `ws://` and the bound address.
fn local_url(addr: SocketAddr) -> String {
    format!("ws://{}", local_address(addr))
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot use data directory {0}: {1}")]
    DataDir(String, String),
    #[error("storage: {0}")]
    Store(#[from] concord_store::StoreError),
    #[error("service: {0}")]
    Service(#[from] concord_service::ServiceError),
    #[error("{0}")]
    Search(#[from] concord_search::SearchError),
    #[error("{0}")]
    Bus(#[from] concord_bus::BusError),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    NodeId(#[from] NodeIdError),
    #[error("realtime backend: {0}")]
    Realtime(String),
    #[error("{0}")]
    Voice(#[from] concord_voice::VoiceError),
}

/// Installs the Prometheus recorder once per process.
fn metrics_handle() -> Option<PrometheusHandle> {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).ok().map(|()| handle)
}

/// Connections one node keeps to a PostgreSQL store.
const POSTGRES_CONNECTIONS: u32 = 16;

/// The store the configuration names: PostgreSQL by its URL, or the
/// embedded store in the data directory, created on first use. Offline
/// tools (`concord reindex`, the load generator's bulk writes) open it
/// this way with the server stopped.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServerError> {
    if let StoreLocation::Postgres(url) = &config.store {
        let options = PgOptions {
            bucket_ms: config.message_bucket_ms,
            max_connections: POSTGRES_CONNECTIONS,
        };
        return Ok(Arc::new(PgStore::connect(url, options).await?));
    }
    let store_dir = config.data_dir.join("store");
    std::fs::create_dir_all(&store_dir)
        .map_err(|e| ServerError::DataDir(config.data_dir.display().to_string(), e.to_string()))?;
    let options = FjallOptions {
        bucket_ms: config.message_bucket_ms,
        sync: config.fsync,
    };
    Ok(Arc::new(FjallStore::open(&store_dir, options)?))
}

/// Where the server leaves the secret the local command line uses.
pub fn control_token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.token")
}

/// A fresh secret for the admin API, readable by this user only, so that
/// whoever may read the data directory (and only they) may administer.
fn write_control_token(data_dir: &Path) -> Result<String, ServerError> {
    use std::io::Write;
    let token: String = rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = control_token_path(data_dir);
    // Made anew each start, so its permissions are always ours.
    let _ = std::fs::remove_file(&path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&path)
        .and_then(|mut file| file.write_all(token.as_bytes()));
    written.map_err(|e| ServerError::DataDir(path.display().to_string(), e.to_string()))?;
    Ok(token)
}

/// Until an instance admin exists, every start says how to become one.
fn announce_setup_token(token: &str) {
    use std::io::Write;
    let text = format!(
        "concord: no instance administrator yet. Register the first account with this\n\
         one-time registration token to become one (any registration mode accepts it):\n\
         \n    registration token: {token}\n\n\
         or create one with `concord user create NAME --admin`.\n"
    );
    // Stdout may be closed by whoever started us; that must not stop the server.
    let _ = std::io::stdout().write_all(text.as_bytes());
    let _ = std::io::stdout().flush();
    tracing::warn!("no instance administrator yet: see the registration token printed on stdout");
}

/// Rebuilds the search index from the store, with the server stopped.
pub async fn reindex(
    config: &Config,
    progress: &mut (dyn FnMut(FillProgress) + Send),
) -> Result<(), ServerError> {
    datadir::prepare(&config.data_dir)?;
    let store = open_store(config).await?;
    let dir = config.search_dir.clone();
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| ServerError::DataDir(dir.display().to_string(), e.to_string()))?;
    }
    let index = Arc::new(SearchIndex::open(&dir)?);
    search::fill(&*store, &index, Snowflake(0), progress).await?;
    Ok(())
}

/// What the nodes of one cluster share. One node opens its own
/// ([`Backends::open`]); a cluster hands the same to every node.
#[derive(Clone)]
pub struct Backends {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn EventBus>,
    pub realtime: Realtime,
}

impl Backends {
    /// The backends `config` names: by default the embedded store in the
    /// data directory, with the bus and the realtime state in this process;
    /// a networked backend must answer now.
    pub async fn open(config: &Config) -> Result<Backends, ServerError> {
        Ok(Backends {
            store: open_store(config).await?,
            bus: open_bus(config).await?,
            realtime: open_realtime(config).await?,
        })
    }
}

/// The realtime state in this process, or on the Redis server every node
/// shares (which must answer now).
pub async fn open_realtime(config: &Config) -> Result<Realtime, ServerError> {
    match &config.realtime {
        RealtimeBackend::Local => Ok(Realtime::local()),
        RealtimeBackend::Redis { url, prefix } => {
            let redis = RedisRealtime::connect(url, prefix)
                .await
                .map_err(ServerError::Realtime)?;
            tracing::info!(prefix, "realtime state on redis");
            Ok(redis.realtime())
        }
    }
}

/// The bus in this process, or the NATS server every node shares.
pub async fn open_bus(config: &Config) -> Result<Arc<dyn EventBus>, ServerError> {
    let Some(bus) = &config.bus else {
        return Ok(Arc::new(LocalBus::new(BUS_CAPACITY)));
    };
    let mut options = concord_bus_nats::NatsOptions::new(bus.url.clone());
    options.stream = bus.stream.clone();
    options.max_age = Duration::from_secs(bus.history_s);
    options.max_events = bus.history_events;
    let nats = concord_bus_nats::NatsBus::connect(&options).await?;
    tracing::info!(url = %bus.url, stream = %bus.stream, "event bus on NATS");
    Ok(Arc::new(nats))
}

/// Serves on `listener` until `shutdown` resolves, then drains requests.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    datadir::prepare(&config.data_dir)?;
    let backends = Backends::open(&config).await?;
    run_node(config, backends, listener, shutdown).await
}

/// Serves one node over `backends` on `listener` until `shutdown`
/// resolves. The node's own files (search index, attachments, control
/// token) live in its data directory, which must be prepared.
pub async fn run_node(
    config: Config,
    backends: Backends,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let Backends {
        store,
        bus,
        realtime,
    } = backends;
    // This node's name for the leases it holds while it runs.
    let holder = format!("{:032x}", rand::random::<u128>());
    let leases = Arc::clone(&realtime.leases);
    let (worker_id, process_id) = claim_node_id(
        &*leases,
        &holder,
        config.worker_id,
        config.process_id,
        NODE_ID_TTL,
    )
    .await?;
    let node_id = node_id_lease(worker_id, process_id);
    tracing::info!(worker_id, process_id, "snowflake ids leased");
    let mut node_id_lost = tokio::spawn(concord_service::cluster::keep_lease(
        Arc::clone(&leases),
        node_id.clone(),
        holder.clone(),
        NODE_ID_TTL,
    ));
    let addr = listener.local_addr()?;
    let gateway_url = config.public_url.clone().unwrap_or_else(|| local_url(addr));
    let mut service_config =
        ServiceConfig::new(&config, (worker_id, process_id), public_base(&gateway_url));
    // The voice server listens first: VOICE_SERVER_UPDATE names its
    // endpoint. Who may connect it asks the service, once there is one.
    let admission = Arc::new(voice::Admission::default());
    let voice_server = match &config.voice {
        Some(settings) => Some(
            concord_voice::VoiceServer::start(
                voice::config(settings),
                admission.clone(),
                Arc::clone(&bus),
            )
            .await?,
        ),
        None => None,
    };
    service_config.voice_endpoint = voice_server.as_ref().map(|v| v.endpoint());
    let mut service = Service::open(store, bus, service_config)
        .await?
        .with_realtime(realtime)
        .with_blobs(config.blob_dir.clone());
    if config.search {
        service = service.with_search();
    }
    let service = Arc::new(service);
    admission.serve(&service);
    // One node of a cluster writes the search index, the others follow
    // it; the writer commits what it holds once HTTP has drained.
    let (stop_search, search_stopped) = tokio::sync::oneshot::channel::<()>();
    let search_feed = config.search.then(|| {
        tokio::spawn(concord_service::search::indexing::write_or_follow(
            Arc::downgrade(&service),
            config.search_dir.clone(),
            holder.clone(),
            async move {
                let _ = search_stopped.await;
            },
        ))
    });
    // Tasks one node of a cluster runs at a time, each under its lease.
    let singletons = [
        tokio::spawn(concord_service::threads::auto_archive(
            Arc::downgrade(&service),
            holder.clone(),
        )),
        tokio::spawn(concord_service::sessions::presence::presence_sweep(
            Arc::downgrade(&service),
            holder.clone(),
        )),
        tokio::spawn(concord_service::voice::voice_sweep(
            Arc::downgrade(&service),
            holder.clone(),
        )),
        tokio::spawn(concord_service::operations::purge::purger(
            Arc::downgrade(&service),
            holder.clone(),
        )),
        tokio::spawn(concord_service::messages::polls::ending::poll_expiry(
            Arc::downgrade(&service),
            holder.clone(),
        )),
        tokio::spawn(concord_service::notifications::delivery::push_delivery(
            Arc::downgrade(&service),
            holder.clone(),
        )),
        tokio::spawn(concord_service::interactions::expiry::interaction_sweep(
            Arc::downgrade(&service),
            holder.clone(),
        )),
        // Not a singleton: each node decides the pushes of what it stored.
        tokio::spawn(concord_service::notifications::delivery::push_intake(
            Arc::downgrade(&service),
        )),
        // Not a singleton either: each node's lease says its voice server runs.
        tokio::spawn(concord_service::voice::voice_server_lease(
            Arc::downgrade(&service),
            holder.clone(),
        )),
    ];
    let setup_token = service.setup_token().await?;
    let control_token = write_control_token(&config.data_dir)?;
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    let gateway = Gateway::start(
        Arc::clone(&service),
        GatewayConfig {
            heartbeat_interval_ms: config.gateway_heartbeat_ms,
            url: gateway_url.clone(),
        },
    )
    .await?;
    let connections = Arc::clone(&gateway);
    let state = Arc::new(AppState {
        service,
        metrics: metrics_handle(),
        metrics_access: MetricsAccess {
            open: config.metrics == concord_config::MetricsAccess::Open,
            token: config.metrics_token.clone(),
        },
        gateway_url,
        control_token,
        gateway_connections: Box::new(move || connections.connections()),
        started: std::time::Instant::now(),
        config_file: config.config_file.clone(),
        web: match &config.web_dir {
            Some(dir) => concord_api::web::WebAssets::Directory(dir.clone()),
            None => concord_api::web::WebAssets::BuiltIn,
        },
    });
    let app = concord_api::router(state, gateway.router());

    tracing::info!(%addr, data_dir = %config.data_dir.display(), "concord listening");
    // Tests and scripts read this line to learn the port and that the
    // server is ready (the admin commands' token is written by now).
    println!("concord listening on http://{addr}");
    if let Some(token) = setup_token {
        announce_setup_token(&token);
    }
    // Gateway sessions are asked to reconnect elsewhere (op 7) before HTTP stops.
    // So does a node that lost its snowflake ids: it must not mint ids
    // that another node mints too.
    let node_id_guard = node_id_lost.abort_handle();
    let drain = async move {
        tokio::select! {
            () = shutdown => {}
            _ = &mut node_id_lost => {
                tracing::error!("another node holds this node's snowflake ids; stopping");
            }
        }
        gateway.shutdown(grace).await;
    };
    listener::serve(listener, app, listener::Bounds::from(&config.bounds), drain).await;
    // Leases given back at once, so another node takes over without
    // waiting for them to run out.
    node_id_guard.abort();
    for task in &singletons {
        task.abort();
    }
    let leased = [
        node_id.as_str(),
        concord_service::threads::ARCHIVE_LEASE,
        concord_service::sessions::presence::SWEEP_LEASE,
        concord_service::voice::SWEEP_LEASE,
        concord_service::operations::purge::PURGE_LEASE,
        concord_service::messages::polls::ending::EXPIRY_LEASE,
        concord_service::notifications::delivery::DELIVERY_LEASE,
    ];
    for name in leased {
        if let Err(e) = leases.release(name, &holder).await {
            tracing::warn!(error = %e, lease = name, "lease not released; it runs out on its own");
        }
    }
    if let Some(voice_server) = voice_server {
        voice_server.shutdown().await;
    }
    let _ = stop_search.send(());
    if let Some(feed) = search_feed {
        // A fill still running is abandoned: the next start resumes it.
        let abort = feed.abort_handle();
        if tokio::time::timeout(grace, feed).await.is_err() {
            abort.abort();
        }
    }
    tracing::info!("concord stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use concord_config::{Settings, Switch};
    use concord_realtime::leases::node_id_lease;
    use concord_store::DEFAULT_BUCKET_MS;
    use concord_store::memory::MemoryStore;
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    use super::*;

    const WITHIN: Duration = Duration::from_secs(20);

    fn shared() -> Backends {
        Backends {
            store: Arc::new(MemoryStore::new(DEFAULT_BUCKET_MS)),
            bus: Arc::new(LocalBus::new(1024)),
            realtime: Realtime::local(),
        }
    }

    struct Node {
        task: JoinHandle<Result<(), ServerError>>,
        stop: oneshot::Sender<()>,
        addr: SocketAddr,
        _dir: tempfile::TempDir,
    }

    /// A node over `backends` with the snowflake ids `ids` set (or none).
    async fn start(backends: &Backends, ids: (Option<u8>, Option<u8>)) -> Node {
        let dir = tempfile::tempdir().unwrap();
        datadir::prepare(dir.path()).unwrap();
        let settings = Settings {
            data_dir: Some(dir.path().to_owned()),
            search: Some(Switch::Off),
            shutdown_grace_ms: Some(200),
            worker_id: ids.0,
            process_id: ids.1,
            ..Settings::default()
        };
        let config = Config::from_settings(settings).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(run_node(config, backends.clone(), listener, shutdown));
        Node {
            task,
            stop,
            addr,
            _dir: dir,
        }
    }

    /// Waits until the node answers HTTP, which it does only once it
    /// holds its ids.
    async fn serving(node: &Node) {
        let url = format!("http://{}/healthz", node.addr);
        let deadline = tokio::time::Instant::now() + WITHIN;
        while reqwest::get(&url).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "node never served");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stopped(node: Node) -> Result<(), ServerError> {
        let _ = node.stop.send(());
        tokio::time::timeout(WITHIN, node.task)
            .await
            .expect("node stopped")
            .expect("node task")
    }

    /// Whether nobody holds the lease on ids `(worker, process)`; a free
    /// one is taken by the probe and given back.
    async fn free(backends: &Backends, worker: u8, process: u8) -> bool {
        let leases = &backends.realtime.leases;
        let name = node_id_lease(worker, process);
        let taken = leases.acquire(&name, "probe", NODE_ID_TTL).await.unwrap();
        if taken {
            leases.release(&name, "probe").await.unwrap();
        }
        taken
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_sharing_leases_never_share_snowflake_ids() {
        let backends = shared();
        let a = start(&backends, (Some(0), Some(0))).await;
        serving(&a).await;

        // The same ids set on a second node: it does not start, and says why.
        let b = start(&backends, (Some(0), Some(0))).await;
        let refused = tokio::time::timeout(WITHIN, b.task).await.unwrap().unwrap();
        let message = refused.expect_err("the ids are a's").to_string();
        assert!(
            message.contains("worker_id 0 and process_id 0"),
            "{message}"
        );

        // None set: the first free pair.
        let c = start(&backends, (None, None)).await;
        serving(&c).await;
        assert!(!free(&backends, 0, 1).await, "c holds (0, 1)");
        assert!(free(&backends, 0, 2).await);

        // A node that stops gives its ids back at once.
        stopped(a).await.unwrap();
        assert!(free(&backends, 0, 0).await, "a's ids are free again");
        assert!(!free(&backends, 0, 1).await, "c still runs");
        stopped(c).await.unwrap();
        assert!(free(&backends, 0, 1).await);
    }
}
