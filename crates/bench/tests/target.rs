//! `concord-bench` against a server it did not start, as against another
//! Discord-compatible server: a real `concord` process on a loopback port
//! (the workspace's build next to this crate's binary, or `CONCORD_BIN`),
//! measured at a tiny size. A run must finish with every delivery
//! (`--strict`), and its report must say what it measured; no figure of
//! time is checked.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use concord_testkit::{Account, TempDir, TestServer};
use serde_json::{Value, json};

const BENCH: &str = env!("CARGO_BIN_EXE_concord-bench");

/// The `concord` binary: `CONCORD_BIN`, or the one built beside this
/// crate's binary (`cargo test --workspace` builds it; alone, run
/// `cargo build -p concord-server` first).
fn concord() -> String {
    let path = std::env::var_os("CONCORD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(BENCH).with_file_name("concord"));
    assert!(
        path.exists(),
        "no concord binary at {}: build it (cargo build -p concord-server) or set CONCORD_BIN",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// `concord-bench run` with `args`; its output and, if written, its report.
fn bench(args: &[&str]) -> (Output, Value) {
    let dir = TempDir::new().expect("temp dir");
    let report = dir.path().join("report.json");
    let output = Command::new(BENCH)
        .args(["run", "--strict", "--no-baseline", "--messages", "5"])
        .args(["--rate", "50", "--connect-concurrency", "3"])
        .args(args)
        .arg("--out")
        .arg(&report)
        .output()
        .expect("run concord-bench");
    let report = std::fs::read_to_string(&report)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    (output, report)
}

/// [`bench`], which must succeed.
fn bench_ok(args: &[&str]) -> Value {
    let (output, report) = bench(args);
    assert!(
        output.status.success(),
        "concord-bench {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    report
}

/// [`bench`], which must fail with a message (not a panic); its stderr.
fn bench_refused(args: &[&str]) -> String {
    let (output, _) = bench(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "an error, not a panic: {stderr}"
    );
    stderr
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

/// A process this test starts for the generator to measure beside the
/// server: a shell with one child, whose pids it knows; both are ended
/// when dropped.
struct Tree {
    shell: Child,
    child: u32,
}

impl Tree {
    fn start() -> Tree {
        let mut shell = Command::new("sh")
            .args(["-c", "sleep 120 & echo $!; wait"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start sh");
        let mut line = String::new();
        let stdout = shell.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("the child's pid");
        let child = line.trim().parse().expect("a pid");
        Tree { shell, child }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.to_string()).status();
        let _ = self.shell.kill();
        let _ = self.shell.wait();
    }
}

fn pids(value: &Value) -> Vec<u64> {
    let mut all: Vec<u64> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    all.sort_unstable();
    all
}

#[test]
fn a_server_by_host_name_with_sockets_over_several_users_and_processes() {
    let server = TestServer::start_single(&concord(), &[]);
    let port = server.addr.port();
    let pid = server.pid().expect("running");
    let tree = Tree::start();
    let url = format!("http://localhost:{port}");
    let gateway = format!("ws://localhost:{port}/");
    let prefix = format!("t{}x", std::process::id());
    let (pid_arg, tree_arg) = (pid.to_string(), tree.shell.id().to_string());
    let args = [
        "--url",
        &url,
        "--gateway",
        &gateway,
        "--users",
        "3",
        "--account-prefix",
        &prefix,
        "--server-pid",
        &pid_arg,
        "--server-pid-tree",
        &tree_arg,
        "--sockets",
        "6",
        "--sockets-per-source",
        "2",
        "--phases",
        "connect,fanout-latency",
    ];
    let report = bench_ok(&args);

    let target = &report["target"];
    assert_eq!(target["urls"], json!([url]));
    assert_eq!(target["gateways"], json!([gateway]));
    assert_eq!(target["name"], json!(url), "named by its URL by default");
    let measured = pids(&target["processes"]["measured"]);
    let mut expected = [pid, tree.shell.id(), tree.child].map(u64::from).to_vec();
    expected.sort_unstable();
    assert_eq!(measured, expected, "the server, the shell and its child");
    assert!(report["connect"]["server_rss_before"].is_u64(), "{report}");
    // Three readers and the writer, each registered.
    assert_eq!(
        target["accounts"],
        json!({ "registered": 4, "logged_in": 0, "given": 0 })
    );
    let connect = &report["connect"];
    assert_eq!(connect["connected"], 6, "{connect}");
    // Two sockets from each of 127.0.0.2, .3 and .4.
    assert_eq!(connect["source_addresses"], 3, "{connect}");
    assert_eq!(report["fanout_latency"]["concord"]["missing"], 0);

    // Each reader is in the guild its sockets read: the deliveries above
    // reached every socket, and the accounts are what the option says.
    let rt = runtime();
    for k in 0..3 {
        let login = json!({
            "login": format!("{prefix}reader{k}@bench.invalid"),
            "password": "bench-password",
        });
        let reply = rt.block_on(server.request("POST", "/auth/login", None, Some(login)));
        assert_eq!(reply.status, 200, "reader{k}: {:?}", reply.body);
        let token = reply.body["token"].as_str().expect("token");
        let guilds = rt.block_on(server.get("/users/@me/guilds", token));
        assert_eq!(guilds.body.as_array().map(Vec::len), Some(1), "reader{k}");
    }

    // Again with the same names: registration refuses them (taken), so the
    // run logs into the accounts the first one made.
    let report = bench_ok(&args);
    let accounts = &report["target"]["accounts"];
    assert_eq!(
        accounts,
        &json!({ "registered": 0, "logged_in": 4, "given": 0 })
    );
    assert_eq!(report["connect"]["connected"], 6);
    // Few sockets: all from the default address.
    let report = bench_ok(&[
        "--url",
        &url,
        "--account-prefix",
        &prefix,
        "--sockets",
        "2",
        "--phases",
        "connect",
    ]);
    assert_eq!(report["connect"]["source_addresses"], 1);
}

/// Accounts made beforehand: a guild of an owner, a member and a bot
/// allowed message content; returns their tokens, the guild and its channel.
fn prepared(server: &TestServer) -> (Vec<Account>, String, String) {
    runtime().block_on(async {
        let owner = server.register("owner").await;
        let member = server.register("member").await;
        let (guild, channel) = server.guild(&owner, "prepared").await;
        server.join(&owner, &channel, &member).await;
        let bot = server.bot(&owner, "benchbot", &guild, "1024").await;
        let flags = json!({ "flags": 1u64 << 19 });
        let path = format!("/applications/{}", bot.id);
        let patched = server.patch(&path, &owner.auth, flags).await;
        assert_eq!(patched.status, 200, "{:?}", patched.body);
        (vec![owner, member, bot], guild, channel)
    })
}

#[test]
fn ready_made_tokens_with_a_guild_or_a_channel() {
    let server = TestServer::start_single(&concord(), &[]);
    let url = format!("http://127.0.0.1:{}", server.addr.port());
    let (accounts, guild, channel) = prepared(&server);
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("tokens");
    let listed = format!(
        "# made beforehand\n{}\n\n{}\n",
        accounts[1].auth, accounts[2].auth
    );
    std::fs::write(&file, listed).expect("write tokens");
    let file = file.to_string_lossy();
    assert!(accounts[2].auth.starts_with("Bot "));

    let report = bench_ok(&[
        "--url",
        &url,
        "--token",
        &accounts[0].auth,
        "--tokens-file",
        &file,
        "--guild",
        &guild,
        "--target-name",
        "prepared",
        "--sockets",
        "6",
        "--phases",
        "connect,fanout-latency",
    ]);
    assert_eq!(report["target"]["name"], "prepared");
    assert_eq!(
        report["target"]["accounts"],
        json!({ "registered": 0, "logged_in": 0, "given": 3 })
    );
    assert_eq!(report["connect"]["connected"], 6, "{}", report["connect"]);
    assert_eq!(report["fanout_latency"]["concord"]["deliveries"], 30);
    // No --server-pid: nothing measured, and said so.
    assert_eq!(report["target"]["processes"]["measured"], json!([]));

    let report = bench_ok(&[
        "--url",
        &url,
        "--token",
        &accounts[1].auth,
        "--channel",
        &channel,
        "--sockets",
        "2",
        "--phases",
        "connect,fanout-latency,ingest",
        "--ingest-seconds",
        "0.5",
        "--ingest-senders",
        "1",
    ]);
    assert_eq!(report["fanout_latency"]["concord"]["deliveries"], 10);
    assert!(
        report["ingest"]["accepted"].as_u64() > Some(0),
        "{}",
        report["ingest"]
    );
    let page = runtime().block_on(server.get(
        &format!("/channels/{channel}/messages?limit=1"),
        &accounts[0].auth,
    ));
    assert_eq!(
        page.body[0]["author"]["username"], "member",
        "the given token sent"
    );
}

#[test]
fn what_the_server_refuses_is_named_not_a_panic() {
    let server = TestServer::start_single(&concord(), &["--registration", "closed"]);
    let url = format!("http://127.0.0.1:{}", server.addr.port());
    let phases = ["--sockets", "2", "--phases", "connect"];

    // Registration closed, and no such account to log into.
    let stderr =
        bench_refused(&[&["--url", &url, "--account-prefix", "nobody"][..], &phases].concat());
    assert!(stderr.contains("registering nobodyreader0"), "{stderr}");
    assert!(
        stderr.contains("logging in as nobodyreader0@bench.invalid"),
        "{stderr}"
    );
    assert!(stderr.contains("answered 400"), "{stderr}");

    // A token the server does not know: the channel listing is refused.
    let stderr = bench_refused(
        &[
            &["--url", &url, "--token", "bogus", "--guild", "1"][..],
            &phases,
        ]
        .concat(),
    );
    assert!(
        stderr.contains("listing the channels of guild 1"),
        "{stderr}"
    );
    assert!(stderr.contains("401"), "{stderr}");

    // With a channel given, the sockets' IDENTIFY is: the report says how.
    let (output, report) = bench(
        &[
            &["--url", &url, "--token", "bogus", "--channel", "1"][..],
            &phases,
        ]
        .concat(),
    );
    assert!(!output.status.success());
    let first_error = report["connect"]["first_error"]
        .as_str()
        .unwrap_or_default();
    assert!(first_error.contains("4004"), "{}", report["connect"]);

    // Nothing listening.
    let stderr = bench_refused(&[&["--url", "http://127.0.0.1:1"][..], &phases].concat());
    assert!(stderr.contains("reading the gateway URL"), "{stderr}");

    // Options that need each other.
    let stderr = bench_refused(&[&["--url", &url, "--channel", "1"][..], &phases].concat());
    assert!(
        stderr.contains("--channel and --guild go with --token"),
        "{stderr}"
    );
}
