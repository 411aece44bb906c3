//! The mega-guild phase: one guild grown to each member count in turn
//! (10,000 then 100,000 by default), with the same sockets connected to it
//! each time (5,000, spread over `--mega-users` accounts), and the same
//! measurements at every size: IDENTIFY→READY and the GUILD_CREATE a
//! member gets, a message's fan-out to every socket, a presence storm, and
//! reading the member list. Side by side, the sizes show which costs grow
//! with the guild and which only with who receives.
//!
//! The accounts are registered and joined as any phase's are; the rest of
//! the members are written through the store with the server stopped
//! ([`seed`]), so the phase needs a server this run started (`--spawn`,
//! one node).

use std::time::Duration;

use concord_model::Snowflake;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::accounts::{Refusal, Tally};
use crate::fleet::Fleet;
use crate::setup::Setup;
use crate::socket::{GUILD_PRESENCES, INTENTS};
use crate::stats::Processes;
use crate::target::{self, Kind, Target};
use crate::{RunArgs, Spawned, phases, summary};

mod listing;
mod seed;
mod storm;

use storm::Follows;

/// What stays the same across the phase's member counts.
struct Guild {
    id: Snowflake,
    /// The accounts' `Authorization` values; socket `i` is account `i % len`.
    tokens: Vec<String>,
    /// Their user ids, in the same order.
    users: Vec<String>,
    channel: String,
    /// Members written through the store so far, and their ids.
    seeded: Vec<Snowflake>,
    /// How its accounts were come by.
    tally: Tally,
}

/// Runs the phase for each member count of `--mega-members`, restarting
/// `node` to write the members each count adds.
pub(crate) async fn run(
    args: &RunArgs,
    setup: &Setup,
    node: &mut Spawned,
    epoch: std::time::Instant,
) -> Value {
    let mut guild = match provision(args, setup).await {
        Ok(guild) => guild,
        Err(e) => return json!({ "error": e }),
    };
    let mut counts = args.mega_members.clone();
    counts.sort_unstable();
    let mut sizes = Vec::new();
    for members in counts {
        let result = match grow(args, node, &mut guild, members).await {
            Ok(()) => measure(args, setup, node, &guild, epoch).await,
            Err(e) => json!({ "error": e }),
        };
        let failed = result.get("error").is_some();
        sizes.push(json!({ "members": members, "result": result }));
        if failed {
            break;
        }
    }
    json!({
        "connected": args.mega_connected,
        "accounts": args.mega_users,
        "follows_per_socket": args.mega_follows,
        "account_tally": guild.tally,
        "sizes": sizes,
    })
}

/// The phase's accounts in a guild of their own, with their user ids.
async fn provision(args: &RunArgs, setup: &Setup) -> Result<Guild, Refusal> {
    let cast = setup.cast("mega", args.mega_users).await?;
    let api = &setup.api;
    let owner = cast.tokens[0].clone();
    let step = "reading the mega guild's channel";
    let path = format!("/channels/{}", cast.channel);
    let channel = api
        .call(step, Method::GET, &path, Some(&owner), None)
        .await?;
    let id = channel["guild_id"]
        .as_str()
        .and_then(|g| g.parse().ok())
        .map(Snowflake)
        .ok_or_else(|| format!("{step}: no guild_id in {channel}"))?;
    let users = futures_util::stream::iter(&cast.tokens)
        .map(|token| async move {
            let me = api
                .call(
                    "reading an account",
                    Method::GET,
                    "/users/@me",
                    Some(token),
                    None,
                )
                .await?;
            me["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("/users/@me: no id in {me}"))
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(Guild {
        id,
        tokens: cast.tokens,
        users,
        channel: cast.channel,
        seeded: Vec::new(),
        tally: cast.tally,
    })
}

/// Brings the guild to `members` (the accounts and those seeded so far
/// count), restarting the server around the writes.
async fn grow(
    args: &RunArgs,
    node: &mut Spawned,
    guild: &mut Guild,
    members: usize,
) -> Result<(), Refusal> {
    let have = guild.tokens.len() + guild.seeded.len();
    if members <= have {
        return Ok(());
    }
    let names = guild.seeded.len()..guild.seeded.len() + (members - have);
    let started = std::time::Instant::now();
    let seeded = &mut guild.seeded;
    let id = guild.id;
    node.restart(|data| async move {
        seeded.extend(seed::members(data, args.bucket_ms, id, names).await?);
        Ok(())
    })
    .await?;
    println!(
        "mega-guild: {members} members ({} written through the store) in {:.1} s",
        members - have,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The target as the restarted node serves it: its sockets ask for
/// presences, its messages go to the mega guild's channel.
async fn target(
    args: &RunArgs,
    setup: &Setup,
    node: &Spawned,
    guild: &Guild,
) -> Result<Target, Refusal> {
    let api = crate::accounts::Api {
        base: format!("http://{}", node.addr),
        ..setup.api.clone()
    };
    let (endpoint, _) = target::discover(&api, None).await?;
    Ok(Target {
        name: "concord",
        nodes: vec![endpoint],
        processes: Processes {
            trees: vec![node.child.id()],
            ..Processes::default()
        },
        kind: Kind::Discord {
            tokens: guild.tokens.clone(),
            auth: guild.tokens[0].clone(),
            channel: guild.channel.clone(),
        },
        http: setup.api.http.clone(),
        content_bytes: args.content_bytes,
        intents: INTENTS | GUILD_PRESENCES,
        zlib: args.zlib,
        sockets_per_source: args.sockets_per_source,
    })
}

/// Has each socket follow its accounts (op 14), as a member list would.
async fn follow(fleet: &Fleet, guild: &Guild, follows: &Follows) {
    for (at, index) in fleet.indices.iter().enumerate() {
        let members: Vec<&str> = follows
            .of(*index)
            .map(|a| guild.users[a].as_str())
            .collect();
        let d = json!({ "guild_id": guild.id, "typing": true, "members": members });
        fleet.send(at, json!({ "op": 14, "d": d }).to_string());
    }
    // Each connection handles its payloads in order, well within this.
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Every measurement at the guild's current size.
async fn measure(
    args: &RunArgs,
    setup: &Setup,
    node: &Spawned,
    guild: &Guild,
    epoch: std::time::Instant,
) -> Value {
    let target = match target(args, setup, node, guild).await {
        Ok(target) => target,
        Err(e) => return json!({ "error": e }),
    };
    let probe = match listing::Probe::open(&target).await {
        Ok(probe) => probe,
        Err(e) => return json!({ "error": format!("the probe socket: {e}") }),
    };
    let (ready, guild_create_bytes) = (probe.ready, probe.guild_create_bytes);
    drop(probe);
    let (fleet, connect) = Fleet::connect(
        &target,
        args.mega_connected,
        args.connect_concurrency,
        epoch,
    )
    .await;
    let follows = Follows {
        users: guild.tokens.len(),
        follows: args.mega_follows,
    };
    follow(&fleet, guild, &follows).await;
    let fanout = phases::fanout_latency(&target, &fleet, epoch, args.messages, args.rate).await;
    let storm = storm::run(
        &target,
        &fleet,
        &follows,
        args.mega_storm_rate,
        args.mega_storm_seconds,
    )
    .await;
    fleet.close().await;
    let listing = match listing::Probe::open(&target).await {
        Ok(mut probe) => {
            listing::run(
                &target,
                &mut probe,
                guild.id,
                &guild.seeded,
                args.mega_probes,
            )
            .await
        }
        Err(e) => json!({ "error": format!("the probe socket: {e}") }),
    };
    let members = guild.tokens.len() + guild.seeded.len();
    println!(
        "mega-guild {members}: {} sockets, IDENTIFY→READY {}; GUILD_CREATE {guild_create_bytes} bytes",
        connect["connected"],
        summary(&connect["identify_to_ready"])
    );
    println!(
        "mega-guild {members}: fan-out {}, missing {}",
        summary(&fanout["latency"]),
        fanout["missing"]
    );
    println!(
        "mega-guild {members}: presence storm {}/s: {:.1} received per socket per second (expected {:.1}), missing {}, server CPU {:.0}%",
        args.mega_storm_rate,
        storm["received_per_socket_per_second"]["mean"]
            .as_f64()
            .unwrap_or(0.0),
        storm["expected_per_socket_per_second"]["mean"]
            .as_f64()
            .unwrap_or(0.0),
        storm["missing"],
        storm["cost"]["server_cpu_percent"].as_f64().unwrap_or(0.0)
    );
    for key in [
        "op8_by_query",
        "op8_by_query_unmatched",
        "op8_by_ids",
        "http_pages",
    ] {
        println!(
            "mega-guild {members}: {key} {}",
            summary(&listing[key]["latency"])
        );
    }
    json!({
        "probe_identify_to_ready_us": ready.as_micros() as u64,
        "guild_create_bytes": guild_create_bytes,
        "connect": connect,
        "fanout": fanout,
        "presence_storm": storm,
        "member_list": listing,
    })
}

/// What the phase counts as failures: sockets that did not connect,
/// messages or presences not delivered, member-list requests that failed.
pub(crate) fn failures(result: &Value) -> u64 {
    let Some(sizes) = result["sizes"].as_array() else {
        return 1;
    };
    let counted = |v: &Value| v.as_u64().unwrap_or(0);
    sizes
        .iter()
        .map(|size| {
            let r = &size["result"];
            let errors = u64::from(r.get("error").is_some())
                + u64::from(r["member_list"]["http_pages"]["error"].is_string());
            errors
                + counted(&r["connect"]["failed"])
                + counted(&r["fanout"]["missing"])
                + counted(&r["fanout"]["send_errors"])
                + counted(&r["presence_storm"]["missing"])
                + ["op8_by_query", "op8_by_query_unmatched", "op8_by_ids"]
                    .iter()
                    .map(|k| counted(&r["member_list"][k]["errors"]))
                    .sum::<u64>()
        })
        .sum::<u64>()
        .max(u64::from(sizes.is_empty()))
}
