//! `concord-bench`: a load generator for Discord-compatible servers.
//!
//! It speaks only the public protocol (HTTP API v10 and Gateway v10), so it
//! measures any such server given its address; with `--spawn` it starts a
//! Concord of its own. Fan-out phases also run against a minimal broadcast
//! server (`concord-bench baseline`) in the same invocation, and Concord's
//! figures are reported as a share of it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

mod abuse;
mod accounts;
mod baseline;
mod fleet;
mod mega;
mod phases;
mod relay;
mod setup;
mod socket;
mod stats;
mod target;
mod voice;

use accounts::{Api, Refusal};
use fleet::Fleet;
use setup::Setup;
use stats::Processes;
use target::{Endpoint, Kind, Target};

#[derive(Parser)]
#[command(
    name = "concord-bench",
    version,
    about = "Load generator for Discord-compatible servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Measure a server.
    Run(Box<RunArgs>),
    /// Serve the minimal broadcast baseline (started by `run` itself).
    Baseline {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Serve the plain UDP relay the voice phase is compared with (started
    /// by `run` itself).
    UdpRelay {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Start this `concord` binary on a loopback port with a fresh data directory.
    #[arg(long, conflicts_with = "url")]
    spawn: Option<PathBuf>,
    /// With --spawn: nodes to start, each on a port and data directory of
    /// its own, sharing --store, --bus and --realtime (which more than one
    /// node needs) and one blob directory.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// With --spawn: the nodes' store, bus and realtime backends (URLs, as
    /// `concord serve` takes them); embedded when not given.
    #[arg(long)]
    store: Option<String>,
    #[arg(long)]
    bus: Option<String>,
    #[arg(long)]
    realtime: Option<String>,
    /// Measure the server at this base URL instead (`http://` or
    /// `https://`, an address or a host name, maybe a path before
    /// `/api/v10`); several, comma separated, for the nodes of one cluster.
    #[arg(long, value_delimiter = ',')]
    url: Vec<String>,
    /// With --url: the gateway URL (`ws://` or `wss://`, a host name or an
    /// address, maybe a path), one for all nodes or one per --url; by
    /// default what each node's `GET /api/v10/gateway` names.
    #[arg(long, value_delimiter = ',', requires = "url")]
    gateway: Vec<String>,
    /// With --url: pids of the server's processes, each measured alone,
    /// their CPU and memory summed (repeat, or comma separated).
    #[arg(long, value_delimiter = ',', conflicts_with = "spawn")]
    server_pid: Vec<u32>,
    /// With --url: pids measured with every process below them (a server
    /// started by a supervisor or a shell, or one that starts workers);
    /// summed with --server-pid.
    #[arg(long, value_delimiter = ',', conflicts_with = "spawn")]
    server_pid_tree: Vec<u32>,
    /// Ready-made tokens for accounts made beforehand, as the
    /// `Authorization` header takes them (`Bot …` for a bot; IDENTIFY gets
    /// the token alone), instead of accounts registered for the run: socket
    /// `i` identifies with token `i` modulo their number, the first sends.
    /// Repeat, or comma separated. Needs --channel or --guild.
    #[arg(long, value_delimiter = ',', conflicts_with = "spawn")]
    token: Vec<String>,
    /// A file of ready-made tokens, one a line (blank lines and `#`
    /// comments skipped), added to --token.
    #[arg(long, conflicts_with = "spawn")]
    tokens_file: Option<PathBuf>,
    /// With ready-made tokens: the text channel every token's user reads
    /// and the first writes (the tombstones phase, which deletes only what
    /// it sent, wants one without other messages).
    #[arg(long, conflicts_with = "guild")]
    channel: Option<String>,
    /// With ready-made tokens: a guild whose first text channel (as the
    /// first token sees it) is used.
    #[arg(long)]
    guild: Option<String>,
    /// Accounts registered for the run that the sockets are spread over
    /// (socket `i` identifies as account `i` modulo their number), all in
    /// one guild.
    #[arg(long, default_value_t = 1, conflicts_with_all = ["token", "tokens_file"])]
    users: usize,
    /// Names of the accounts registered for the run: `PREFIX` then
    /// `reader0`, `reader1`, ... (the --users sharing the sockets),
    /// `writer0` and `tombs0` (`victim` and `hashed` for the abuse phases),
    /// each with e-mail `NAME@bench.invalid`. An account whose registration
    /// is refused (taken, or registration not open) is logged into, so a
    /// run can reuse a previous run's accounts or accounts an administrator
    /// made [default: bench and this process's id].
    #[arg(long)]
    account_prefix: Option<String>,
    /// The password of the accounts registered or logged into for the run.
    #[arg(long, default_value = "bench-password")]
    password: String,
    /// What the report calls the measured server [default: concord with
    /// --spawn, else the first --url].
    #[arg(long)]
    target_name: Option<String>,
    /// Sockets per local address to a loopback server: beyond it they come
    /// from 127.0.0.2, .3, ... One address has some 28,000 ports, but the
    /// kernel's search for a free one slows as they fill: 18,000 sockets
    /// from one address took 17 s to connect, from three 6 s.
    #[arg(long, default_value_t = 8_000)]
    sockets_per_source: usize,
    /// Phases to run, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "connect,fanout-latency,fanout-saturation,ingest,history,tombstones"
    )]
    phases: Vec<String>,
    /// Gateway sockets for the fan-out phases.
    #[arg(long, default_value_t = 1000)]
    sockets: usize,
    /// Sockets connecting at once.
    #[arg(long, default_value_t = 50)]
    connect_concurrency: usize,
    /// Messages in the latency phase, and their rate per second.
    #[arg(long, default_value_t = 200)]
    messages: u32,
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Concurrent senders and seconds for the saturation phase.
    #[arg(long, default_value_t = 4)]
    saturation_senders: usize,
    #[arg(long, default_value_t = 5.0)]
    saturation_seconds: f64,
    /// Concurrent senders and seconds for the ingest phase.
    #[arg(long, default_value_t = 8)]
    ingest_senders: usize,
    #[arg(long, default_value_t = 5.0)]
    ingest_seconds: f64,
    /// Reads per history measurement.
    #[arg(long, default_value_t = 2000)]
    reads: usize,
    /// Messages deleted around the survivor in the tombstone phase.
    #[arg(long, default_value_t = 100_000)]
    tombstones: usize,
    /// Idle sockets and how long they are held.
    #[arg(long, default_value_t = 10_000)]
    idle_sockets: usize,
    #[arg(long, default_value_t = 60.0)]
    idle_seconds: f64,
    /// Requests, each with an Authorization header of its own, in the flood-headers phase.
    #[arg(long, default_value_t = 120_000)]
    flood_requests: usize,
    /// Wrong-password logins sent at once in the flood-logins phase.
    #[arg(long, default_value_t = 128)]
    flood_logins: usize,
    /// Connections sending one header byte per interval, and for how long, in the slow-connections phase.
    #[arg(long, default_value_t = 1_100)]
    slow_connections: usize,
    #[arg(long, default_value_t = 5.0)]
    slow_interval_seconds: f64,
    #[arg(long, default_value_t = 45.0)]
    slow_seconds: f64,
    /// Speakers in the voice phase's channel, at most the number a server
    /// forwards at once (Concord's three loudest).
    #[arg(long, default_value_t = 3)]
    voice_speakers: usize,
    /// Listeners beside them, a channel size per step of the voice phase's
    /// ramp (comma separated), tried in turn until packets are lost.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10,30,100,200,300,600,1000"
    )]
    voice_listeners: Vec<usize>,
    /// Seconds the speakers send for in each step, a frame every 20 ms.
    #[arg(long, default_value_t = 5.0)]
    voice_seconds: f64,
    /// Bytes of each voice frame (Opus at voice bitrates is about 120).
    #[arg(long, default_value_t = 120)]
    voice_payload_bytes: usize,
    /// The encryption mode the voice connections select.
    #[arg(long, default_value = "aead_aes256_gcm_rtpsize")]
    voice_mode: String,
    /// The member counts the mega-guild phase grows its guild to, in turn
    /// (comma separated); all but its accounts are written through the
    /// store of the server the run spawned, which is restarted around it.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    mega_members: Vec<usize>,
    /// Sockets connected to the mega guild at each member count.
    #[arg(long, default_value_t = 5000)]
    mega_connected: usize,
    /// Accounts the mega guild's sockets are spread over: the members whose
    /// presences change in the storm.
    #[arg(long, default_value_t = 1000)]
    mega_users: usize,
    /// Accounts each socket follows (op 14), as a member list shows a few.
    #[arg(long, default_value_t = 10)]
    mega_follows: usize,
    /// Presence changes per second in the mega guild's storm, and for how long.
    #[arg(long, default_value_t = 1000.0)]
    mega_storm_rate: f64,
    #[arg(long, default_value_t = 5.0)]
    mega_storm_seconds: f64,
    /// Requests of each op 8 kind (by name prefix, by ids) in the mega guild.
    #[arg(long, default_value_t = 20)]
    mega_probes: usize,
    /// Bytes of content per message.
    #[arg(long, default_value_t = 100)]
    content_bytes: usize,
    /// Ask for zlib-stream on the gateway.
    #[arg(long)]
    zlib: bool,
    /// Skip the baseline runs.
    #[arg(long)]
    no_baseline: bool,
    /// With --spawn: width of a message bucket (small widths spread tombstones over many buckets).
    #[arg(long, default_value_t = 60_000)]
    bucket_ms: u64,
    /// With --spawn: durable acknowledgements (fsync) on or off.
    #[arg(long, default_value = "on")]
    fsync: String,
    /// With --spawn: the server's message search index on or off.
    #[arg(long, default_value = "on")]
    search: String,
    /// Where the JSON report goes.
    #[arg(long, default_value = "bench.json")]
    out: PathBuf,
    /// Exit non-zero if any delivery is missing or any request failed.
    #[arg(long)]
    strict: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match cli.command {
        Cmd::Baseline { listen } => match runtime.block_on(baseline::serve(listen)) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("baseline: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Cmd::UdpRelay { listen } => match runtime.block_on(relay::serve(listen)) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("udp relay: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Cmd::Run(args) => runtime.block_on(run(*args)),
    }
}

/// A child process that prints `... listening on SCHEME://ADDR` first.
struct Spawned {
    /// What started it, to start it again.
    command: Command,
    child: Child,
    addr: String,
    data: Option<tempdir::TempDir>,
    /// A directory the process shares with others, removed after it stops.
    shared: Option<tempdir::TempDir>,
}

mod tempdir {
    pub(crate) use concord_testkit::TempDir;
}

impl Spawned {
    fn start(mut command: Command, data: Option<tempdir::TempDir>) -> Result<Spawned, Refusal> {
        let (child, addr) = Self::launch(&mut command)?;
        Ok(Spawned {
            command,
            addr,
            child,
            data,
            shared: None,
        })
    }

    /// Runs `command` until it says where it listens.
    fn launch(command: &mut Command) -> Result<(Child, String), Refusal> {
        use std::io::BufRead;
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {program}: {e}"))?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        }
        // The listen line ends with the address after its scheme.
        let Some((_, addr)) = line.trim().rsplit_once("://") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{program} did not say where it listens: {line:?}"));
        };
        Ok((child, addr.to_owned()))
    }

    /// Stops the process (what it acknowledged is on disk) and starts it
    /// again with the same command and data directory once `between` has
    /// run: a phase writes its data through the store meanwhile.
    async fn restart<F: std::future::Future<Output = Result<(), Refusal>>>(
        &mut self,
        between: impl FnOnce(PathBuf) -> F,
    ) -> Result<(), Refusal> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data = self.data.as_ref().ok_or("no data directory of its own")?;
        between(data.path().to_owned()).await?;
        let (child, addr) = Self::launch(&mut self.command)?;
        (self.child, self.addr) = (child, addr);
        Ok(())
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percent(concord: &Value, baseline: &Value, key: &str) -> Option<f64> {
    let (c, b) = (concord[key].as_f64()?, baseline[key].as_f64()?);
    (b > 0.0).then(|| 100.0 * c / b)
}

async fn run(args: RunArgs) -> std::process::ExitCode {
    let wants = |phase: &str| args.phases.iter().any(|p| p == phase);
    let epoch = Instant::now();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("http client");

    if args.nodes > 1 && (args.store.is_none() || args.bus.is_none() || args.realtime.is_none()) {
        eprintln!("concord-bench: --nodes above 1 needs --store, --bus and --realtime");
        return std::process::ExitCode::FAILURE;
    }
    let mut spawned = match args
        .spawn
        .as_ref()
        .map(|b| spawn_nodes(b, &args))
        .transpose()
    {
        Ok(spawned) => spawned,
        Err(e) => {
            eprintln!("concord-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let urls: Vec<String> = match &spawned {
        Some(nodes) => nodes.iter().map(|s| format!("http://{}", s.addr)).collect(),
        None => args.url.clone(),
    };
    let spawned_pids = spawned
        .as_ref()
        .map(|nodes| nodes.iter().map(|s| s.child.id()).collect());
    let setup = match Setup::prepare(&args, http.clone(), &urls, spawned_pids).await {
        Ok(setup) => setup,
        Err(e) => {
            eprintln!("concord-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let base = setup.api.base.clone();
    let nodes = &setup.nodes;
    let casts = async {
        let readers = setup.cast("reader", args.users).await?;
        Ok::<_, Refusal>((readers, setup.cast("writer", 1).await?))
    };
    let (readers, writer) = match casts.await {
        Ok(casts) => casts,
        Err(e) => {
            eprintln!("concord-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut accounts = readers.tally.add(writer.tally);
    let (concord, writer) = (setup.target(&args, readers), setup.target(&args, writer));
    let target_name = args.target_name.clone().unwrap_or_else(|| match &spawned {
        Some(_) => "concord".to_owned(),
        None => base.clone(),
    });

    let mut report = json!({
        "target": setup.report(&target_name, accounts),
        "parameters": {
            "sockets": args.sockets, "fsync": args.fsync, "search": args.search,
            "nodes": nodes.len(), "store": backend_name(args.store.as_deref(), "embedded"),
            "bus": backend_name(args.bus.as_deref(), "local"),
            "realtime": backend_name(args.realtime.as_deref(), "local"),
            "connect_concurrency": args.connect_concurrency, "messages": args.messages, "rate": args.rate,
            "saturation_senders": args.saturation_senders, "saturation_seconds": args.saturation_seconds,
            "ingest_senders": args.ingest_senders, "ingest_seconds": args.ingest_seconds,
            "reads": args.reads, "tombstones": args.tombstones, "idle_sockets": args.idle_sockets,
            "idle_seconds": args.idle_seconds, "content_bytes": args.content_bytes, "zlib": args.zlib,
            "fsync": args.fsync, "bucket_ms": args.bucket_ms, "phases": args.phases,
            "voice_speakers": args.voice_speakers, "voice_listeners": args.voice_listeners,
            "voice_seconds": args.voice_seconds, "voice_payload_bytes": args.voice_payload_bytes,
            "voice_mode": args.voice_mode,
            "mega_members": args.mega_members, "mega_connected": args.mega_connected,
            "mega_users": args.mega_users, "mega_follows": args.mega_follows,
            "mega_storm_rate": args.mega_storm_rate, "mega_storm_seconds": args.mega_storm_seconds,
            "mega_probes": args.mega_probes,
        },
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
    });
    let mut failures = 0u64;
    let fanout = wants("connect") || wants("fanout-latency") || wants("fanout-saturation");
    if fanout {
        let (fleet, connect) =
            Fleet::connect(&concord, args.sockets, args.connect_concurrency, epoch).await;
        println!(
            "connect: {} sockets, IDENTIFY→READY {}",
            connect["connected"],
            summary(&connect["identify_to_ready"])
        );
        println!(
            "         server bytes per socket: {}",
            connect["server_bytes_per_socket"]
        );
        if let Some(error) = connect["first_error"].as_str() {
            println!("         {} failed, the first: {error}", connect["failed"]);
        }
        failures += connect["failed"].as_u64().unwrap_or(0);
        report["connect"] = connect;
        fanout_phases(
            &args,
            &concord,
            &fleet,
            epoch,
            &mut report,
            "concord",
            &mut failures,
        )
        .await;
        fleet.close().await;

        if !args.no_baseline && (wants("fanout-latency") || wants("fanout-saturation")) {
            let mut command = Command::new(std::env::current_exe().expect("own path"));
            command.args(["baseline", "--listen", "127.0.0.1:0"]);
            let server = match Spawned::start(command, None) {
                Ok(server) => server,
                Err(e) => {
                    eprintln!("concord-bench: the baseline: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            let baseline = Target {
                name: "baseline",
                nodes: vec![Endpoint {
                    http_url: format!("http://{}", server.addr),
                    ws_url: format!("ws://{}", server.addr),
                }],
                processes: Processes {
                    pids: vec![server.child.id()],
                    ..Processes::default()
                },
                kind: Kind::Baseline,
                http: http.clone(),
                content_bytes: args.content_bytes,
                intents: crate::socket::INTENTS,
                zlib: args.zlib,
                sockets_per_source: args.sockets_per_source,
            };
            let (fleet, connect) =
                Fleet::connect(&baseline, args.sockets, args.connect_concurrency, epoch).await;
            println!(
                "baseline connect: server bytes per socket: {}",
                connect["server_bytes_per_socket"]
            );
            report["baseline_connect"] = connect;
            fanout_phases(
                &args,
                &baseline,
                &fleet,
                epoch,
                &mut report,
                "baseline",
                &mut 0,
            )
            .await;
            fleet.close().await;
            let ratio = percent(
                &report["fanout_saturation"]["concord"],
                &report["fanout_saturation"]["baseline"],
                "deliveries_per_second",
            );
            report["fanout_saturation"]["concord_percent_of_baseline"] = json!(ratio);
            if let Some(r) = ratio {
                println!("fan-out saturation: Concord at {r:.0}% of the baseline");
            }
        }
    }
    if wants("ingest") {
        let result = phases::ingest(&writer, args.ingest_senders, args.ingest_seconds).await;
        println!(
            "ingest: {:.0} messages/s accepted, {}",
            result["accepted_per_second"].as_f64().unwrap_or(0.0),
            summary(&result["latency"])
        );
        failures += result["errors"].as_u64().unwrap_or(0);
        report["ingest"] = result;
    }
    if wants("history") {
        let result = phases::history(&writer, args.reads).await;
        for key in ["newest_page_concurrency_1", "newest_page_concurrency_8"] {
            println!(
                "history {key}: {:.0} reads/s, {}",
                result[key]["reads_per_second"].as_f64().unwrap_or(0.0),
                summary(&result[key]["latency"])
            );
            failures += result[key]["errors"].as_u64().unwrap_or(0);
        }
        report["history"] = result;
    }
    if wants("tombstones") {
        let tombs = match setup.cast("tombs", 1).await {
            Ok(cast) => {
                accounts = accounts.add(cast.tally);
                report["target"] = setup.report(&target_name, accounts);
                setup.target(&args, cast)
            }
            Err(e) => {
                eprintln!("concord-bench: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let result = phases::tombstones(&tombs, args.tombstones, args.reads.min(1000)).await;
        println!(
            "tombstones: {} deleted, first page {}",
            result["deleted"],
            summary(&result["first_page"]["latency"])
        );
        if result["first_page_is_the_survivor"] != true {
            failures += 1;
        }
        report["tombstones"] = result;
    }
    if wants("idle") {
        let result = phases::idle(
            &concord,
            args.idle_sockets,
            args.connect_concurrency,
            args.idle_seconds,
            epoch,
        )
        .await;
        println!(
            "idle: {} sockets held {} s, server bytes per socket {}, server CPU {:.1}%",
            result["still_open"],
            args.idle_seconds,
            result["connect"]["server_bytes_per_socket"],
            result["cost"]["server_cpu_percent"].as_f64().unwrap_or(0.0)
        );
        failures += result["connect"]["failed"].as_u64().unwrap_or(0);
        report["idle"] = result;
    }
    if wants("voice") {
        let result = voice_phase(&args, &concord, &setup, epoch).await;
        failures += voice_failures(&result);
        report["voice"] = result;
    }
    let abuse_phases = ["flood-headers", "flood-logins", "slow-connections"];
    if abuse_phases.iter().any(|p| wants(p))
        && let Err(e) = abuse_phases_run(&args, &setup, &mut report).await
    {
        eprintln!("concord-bench: {e}");
        return std::process::ExitCode::FAILURE;
    }
    // Last: it restarts the server this run spawned.
    if wants("mega-guild") {
        let node = match spawned.as_mut() {
            Some(nodes) if nodes.len() == 1 => Some(&mut nodes[0]),
            _ => None,
        };
        let result = match node {
            Some(node) => mega::run(&args, &setup, node, epoch).await,
            None => {
                let error = "the mega-guild phase writes its members through the store: it needs --spawn and one node";
                eprintln!("concord-bench: {error}");
                json!({ "error": error })
            }
        };
        failures += mega::failures(&result);
        report["mega_guild"] = result;
    }
    report["failures"] = json!(failures);
    let text = serde_json::to_string_pretty(&report).expect("report");
    if let Err(e) = std::fs::write(&args.out, text) {
        eprintln!("concord-bench: cannot write {}: {e}", args.out.display());
        return std::process::ExitCode::FAILURE;
    }
    println!("report written to {}", args.out.display());
    if args.strict && failures > 0 {
        eprintln!("concord-bench: {failures} failures (errors or missing deliveries)");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

async fn fanout_phases(
    args: &RunArgs,
    target: &Target,
    fleet: &Fleet,
    epoch: Instant,
    report: &mut Value,
    name: &str,
    failures: &mut u64,
) {
    let wants = |phase: &str| args.phases.iter().any(|p| p == phase);
    if wants("fanout-latency") {
        let result = phases::fanout_latency(target, fleet, epoch, args.messages, args.rate).await;
        println!(
            "{name} fan-out latency: {}, missing {}",
            summary(&result["latency"]),
            result["missing"]
        );
        *failures +=
            result["missing"].as_u64().unwrap_or(0) + result["send_errors"].as_u64().unwrap_or(0);
        report["fanout_latency"][name] = result;
    }
    if wants("fanout-saturation") {
        let result = phases::fanout_saturation(
            target,
            fleet,
            args.saturation_senders,
            args.saturation_seconds,
        )
        .await;
        println!(
            "{name} fan-out saturation: {:.0} deliveries/s, drained in {:.2} s, missing {}",
            result["deliveries_per_second"].as_f64().unwrap_or(0.0),
            result["drain_seconds"].as_f64().unwrap_or(0.0),
            result["missing"]
        );
        *failures += result["missing"].as_u64().unwrap_or(0);
        report["fanout_saturation"][name] = result;
    }
    let _ = target.name;
}

/// Speakers and listeners in a voice channel of `concord`, along the ramp,
/// then through the UDP relay unless the baseline is skipped.
async fn voice_phase(args: &RunArgs, concord: &Target, setup: &Setup, epoch: Instant) -> Value {
    let cap = concord_voice::MAX_FORWARDED_SPEAKERS;
    if args.voice_speakers > cap {
        let error = format!(
            "--voice-speakers above {cap}: a server forwards only the {cap} loudest, so listeners would miss packets that are not lost"
        );
        eprintln!("concord-bench: {error}");
        return json!({ "error": error });
    }
    let plan = voice::VoicePlan {
        speakers: args.voice_speakers,
        listeners: args.voice_listeners.clone(),
        seconds: args.voice_seconds,
        payload_bytes: args.voice_payload_bytes,
    };
    let role = "voice";
    let discord = match setup.cast(role, 1).await {
        Ok(cast) => {
            let enlist_as = setup.registers().then(|| role.to_owned());
            let mode = args.voice_mode.clone();
            let api = setup.api.clone();
            voice::DiscordVoice::new(concord.clone(), api, cast, enlist_as, mode).await
        }
        Err(e) => Err(e),
    };
    let mut result = json!({ "mode": args.voice_mode });
    match discord {
        Ok(mut discord) => {
            let forwarder = voice::Forwarder::Discord(&mut discord);
            result["concord"] = voice::ramp(&plan, forwarder, "concord", epoch).await;
        }
        Err(e) => {
            eprintln!("concord-bench: voice: {e}");
            result["concord"] = json!({ "error": e });
        }
    }
    if !args.no_baseline {
        result["baseline"] = voice::ramp(&plan, voice::Forwarder::Relay, "baseline", epoch).await;
    }
    result
}

/// Joins that failed, packets that did not open, and steps where nothing
/// arrived: a loss is a measurement (the ramp looks for it), these are not.
fn voice_failures(result: &Value) -> u64 {
    let Some(steps) = result["concord"]["steps"].as_array() else {
        return 1;
    };
    steps
        .iter()
        .map(|step| {
            let nothing = u64::from(step["received"].as_u64().unwrap_or(0) == 0);
            step["join_failures"].as_u64().unwrap_or(1)
                + step["unopened"].as_u64().unwrap_or(0)
                + nothing
        })
        .sum::<u64>()
        .max(u64::from(steps.is_empty()))
}

/// The abuse phases, against a server with its default limits: with
/// `--spawn` one of its own (the other phases turn rate limits off).
async fn abuse_phases_run(
    args: &RunArgs,
    setup: &Setup,
    report: &mut Value,
) -> Result<(), Refusal> {
    let wants = |phase: &str| args.phases.iter().any(|p| p == phase);
    let own = match &args.spawn {
        Some(binary) => {
            let data = concord_testkit::TempDir::new().map_err(|e| format!("a temp dir: {e}"))?;
            let mut command = Command::new(binary);
            command
                .args(["serve", "--listen", "127.0.0.1:0", "--log", "error"])
                .arg("--data-dir")
                .arg(data.path());
            Some(Spawned::start(command, Some(data))?)
        }
        None => None,
    };
    let victim = match &own {
        Some(s) => {
            let api = Api {
                base: format!("http://{}", s.addr),
                ..setup.api.clone()
            };
            let processes = Processes {
                pids: vec![s.child.id()],
                ..Processes::default()
            };
            abuse::Victim::on(&api, processes, "victim").await?
        }
        None => abuse::Victim::on(&setup.api, setup.processes.clone(), "victim").await?,
    };
    if wants("flood-headers") {
        let result = abuse::distinct_headers(&victim, args.flood_requests).await;
        println!(
            "flood-headers: {} requests, RSS {} -> {} MiB (peak {}), normal request p50 {} -> {} µs",
            args.flood_requests,
            result["rss_before_mib"],
            result["rss_after_mib"],
            result["rss_peak_mib"],
            result["normal_request_before"]["latency"]["p50_us"],
            result["normal_request_after"]["latency"]["p50_us"]
        );
        report["flood_headers"] = result;
    }
    if wants("flood-logins") {
        // Against the server with rate limits off: the logins all reach the
        // hasher, as they would from as many addresses.
        let unlimited = abuse::Victim::on(&setup.api, setup.processes.clone(), "hashed").await?;
        let result = abuse::concurrent_logins(&unlimited, args.flood_logins).await;
        println!(
            "flood-logins: {} at once, RSS +{} MiB at peak, statuses {}, normal request p99 {} µs",
            args.flood_logins,
            result["rss_growth_mib"],
            result["statuses"],
            result["normal_request_during"]["latency"]["p99_us"]
        );
        report["flood_logins"] = result;
    }
    if wants("slow-connections") {
        let result = abuse::slow_connections(
            &victim,
            args.slow_connections,
            std::time::Duration::from_secs_f64(args.slow_interval_seconds),
            args.slow_seconds,
        )
        .await;
        println!(
            "slow-connections: {} opened, {} refused at accept, {} closed later by the server, {} open after {} s, /healthz failed {}",
            args.slow_connections,
            result["refused_at_accept"],
            result["closed_by_server"],
            result["still_open_at_end"],
            args.slow_seconds,
            result["healthz"]["failed"]
        );
        report["slow_connections"] = result;
    }
    Ok(())
}

/// Starts `args.nodes` nodes of `binary` on loopback ports, each with a
/// fresh data directory, over the backends `args` names.
fn spawn_nodes(binary: &Path, args: &RunArgs) -> Result<Vec<Spawned>, Refusal> {
    let temp_dir = || concord_testkit::TempDir::new().map_err(|e| format!("a temp dir: {e}"));
    let blobs = temp_dir()?;
    let mut nodes: Vec<Spawned> = (0..args.nodes.max(1))
        .map(|_| {
            let data = temp_dir()?;
            let mut command = Command::new(binary);
            command
                .args([
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                    "--rate-limits",
                    "off",
                    "--log",
                    "warn",
                    // Every simulated client comes from loopback, and
                    // the idle phase holds more than the default cap.
                    "--max-connections-per-address",
                    "100000",
                    "--max-connections",
                    "100000",
                ])
                .args([
                    "--message-bucket-ms",
                    &args.bucket_ms.to_string(),
                    "--fsync",
                    &args.fsync,
                    "--search",
                    &args.search,
                ])
                .arg("--data-dir")
                .arg(data.path());
            if args.nodes > 1 {
                command.arg("--blob-dir").arg(blobs.path());
            }
            for (option, url) in [
                ("--store", &args.store),
                ("--bus", &args.bus),
                ("--realtime", &args.realtime),
            ] {
                if let Some(url) = url {
                    command.args([option, url]);
                }
            }
            Spawned::start(command, Some(data))
        })
        .collect::<Result<_, _>>()?;
    // The shared blob directory lives as long as the first node.
    nodes[0].shared = Some(blobs);
    Ok(nodes)
}

/// What a report calls a backend: its URL's scheme, or `default`.
fn backend_name(url: Option<&str>, default: &str) -> String {
    url.and_then(|u| u.split_once("://"))
        .map_or(default, |(scheme, _)| scheme)
        .to_owned()
}

fn summary(latency: &Value) -> String {
    let ms = |key: &str| latency[key].as_u64().unwrap_or(0) as f64 / 1000.0;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms("p50_us"),
        ms("p99_us"),
        ms("max_us")
    )
}
