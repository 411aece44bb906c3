//! The behavioural suite every realtime backend must pass, written once
//! against the traits. A backend runs it with [`realtime_conformance!`],
//! naming an async `open(nodes) -> Option<Vec<Realtime>>` function: `nodes`
//! handles on one fresh, empty backend, as the nodes of one cluster hold
//! them (a networked backend gives each its own connection), or `None` to
//! skip (its server is not configured).
//!
//! Time is real: what must expire is given [`SHORT`] and waited out, what
//! must live is given [`LONG`], so no case depends on how fast the machine
//! runs, except that a call answers within [`SHORT`] where a case renews
//! something short-lived.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use concord_model::Snowflake;
use serde_json::json;

use crate::leases::{NodeIdError, claim_node_id};
use crate::limiter::{Limit, Streak};
use crate::presence::{Status, Touched, Transition, UserPresence};
use crate::sessions::{Append, FRAMES_KEPT, Frame, NodeId, Resumed, SessionRecord};
use crate::voice::{Change, Held, Joined, VoiceState};
use crate::{Presence, Realtime};

/// Expands to one `#[tokio::test]` per conformance case, each on a
/// multi-threaded runtime (the concurrent cases run their callers in
/// parallel).
#[macro_export]
macro_rules! realtime_conformance {
    ($open:path) => {
        $crate::realtime_conformance!(@cases $open;
            presence_offline_only_when_every_session_on_every_node_ended,
            presence_the_most_recently_set_session_wins,
            presence_an_expired_session_stops_counting_while_another_lives,
            presence_afk_only_when_every_live_session_says_it,
            presence_a_crashed_nodes_users_are_swept_offline,
            presence_sweeping_forgets_every_expired_session_in_bounded_steps,
            presence_reads_are_batched_and_in_order,
            presence_concurrent_sessions_tell_each_change_once,
            presence_concurrent_sweeps_tell_each_user_once,
            limiter_window_allows_count_then_refuses_until_reset,
            limiter_nodes_share_the_window,
            limiter_a_refusal_stops_the_batch,
            limiter_streaks_count_failures_until_forgotten_or_ended,
            limiter_concurrent_requests_over_nodes_admit_the_limit,
            limiter_concurrent_failures_all_count,
            leases_have_one_holder_until_they_run_out,
            leases_renewing_keeps_a_lease_past_its_first_ttl,
            leases_nodes_take_distinct_ids_in_order,
            leases_a_set_pair_held_by_another_node_is_refused,
            leases_no_free_pair_is_refused,
            leases_concurrent_claims_have_one_winner,
            sessions_a_resume_gets_the_frames_after_its_sequence,
            sessions_frames_are_bounded_and_a_resume_past_them_is_refused,
            sessions_confirmed_frames_are_freed,
            sessions_a_batch_after_a_hole_replaces_the_kept_frames,
            sessions_a_takeover_refuses_the_old_holder,
            sessions_one_append_carries_many_sessions,
            sessions_state_and_last_event_follow_the_holder,
            sessions_expire_unless_renewed,
            sessions_only_the_holder_removes,
            sessions_concurrent_takeovers_form_one_chain,
            voice_the_first_join_sets_the_guilds_endpoint_for_every_node,
            voice_the_same_channel_keeps_its_token_a_move_takes_the_new_one,
            voice_a_full_channel_refuses_a_newcomer_only,
            voice_the_guild_mutes_deafens_and_moves,
            voice_a_dead_nodes_states_are_swept_once,
            voice_concurrent_joins_over_nodes_hold_the_user_limit,
            voice_a_stopped_servers_guild_moves_once);
    };
    (@cases $open:path; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                if let Some(nodes) = $open(3).await {
                    $crate::conformance::$case(nodes).await;
                }
            }
        )*
    };
}

/// A TTL that the case waits out.
pub const SHORT: Duration = Duration::from_millis(2_000);
/// A TTL that outlives the case.
pub const LONG: Duration = Duration::from_secs(300);

/// Lets [`SHORT`] pass, with room for the server's clock granularity.
async fn wait_out_short() {
    tokio::time::sleep(SHORT + Duration::from_millis(300)).await;
}

const ADA: Snowflake = Snowflake(1);

fn with(status: Status) -> UserPresence {
    UserPresence {
        status,
        activities: vec![json!({ "name": "chess", "type": 0 })],
        afk: false,
    }
}

fn to(before: UserPresence, after: UserPresence) -> Option<Transition> {
    Some(Transition { before, after })
}

async fn shown(presence: &dyn Presence, user: Snowflake) -> UserPresence {
    presence.get_many(&[user]).await.unwrap().remove(0)
}

pub async fn presence_offline_only_when_every_session_on_every_node_ended(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].presence, &*nodes[1].presence);
    let online = with(Status::Online);
    assert_eq!(
        a.connect(ADA, "on-a", online.clone(), LONG).await.unwrap(),
        to(UserPresence::offline(), online.clone())
    );
    assert_eq!(
        b.connect(ADA, "on-b", online.clone(), LONG).await.unwrap(),
        None,
        "already online"
    );
    assert_eq!(a.disconnect(ADA, "on-a").await.unwrap(), None);
    assert_eq!(shown(a, ADA).await, online, "b still holds a session");
    assert_eq!(
        b.disconnect(ADA, "on-b").await.unwrap(),
        to(online, UserPresence::offline())
    );
    assert_eq!(shown(a, ADA).await, UserPresence::offline());
    assert_eq!(b.disconnect(ADA, "on-b").await.unwrap(), None, "told once");
}

pub async fn presence_the_most_recently_set_session_wins(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].presence, &*nodes[1].presence);
    a.connect(ADA, "on-a", with(Status::Idle), LONG)
        .await
        .unwrap();
    let dnd = b
        .connect(ADA, "on-b", with(Status::Dnd), LONG)
        .await
        .unwrap();
    assert_eq!(dnd, to(with(Status::Idle), with(Status::Dnd)));
    let back = a.update(ADA, "on-a", with(Status::Online)).await.unwrap();
    assert_eq!(
        back,
        Touched::Live(to(with(Status::Dnd), with(Status::Online)))
    );
    // The most recent one leaves: the other's presence shows again.
    assert_eq!(
        a.disconnect(ADA, "on-a").await.unwrap(),
        to(with(Status::Online), with(Status::Dnd))
    );
    let hidden = b.update(ADA, "on-b", with(Status::Invisible)).await;
    assert_eq!(
        hidden.unwrap(),
        Touched::Live(to(with(Status::Dnd), UserPresence::offline())),
        "invisible is told as offline"
    );
    let unknown = a.update(ADA, "on-a", with(Status::Online)).await;
    assert_eq!(unknown.unwrap(), Touched::Gone, "an ended session stays so");
    let stranger = Snowflake(9);
    let gone = a.refresh(stranger, "s", LONG).await.unwrap();
    assert_eq!(gone, Touched::Gone);
    assert_eq!(a.disconnect(stranger, "s").await.unwrap(), None);
}

pub async fn presence_an_expired_session_stops_counting_while_another_lives(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].presence, &*nodes[1].presence);
    a.connect(ADA, "on-a", with(Status::Idle), LONG)
        .await
        .unwrap();
    // Node b stops heartbeating (it crashed); a's session lives on.
    let dnd = b.connect(ADA, "on-b", with(Status::Dnd), SHORT).await;
    assert_eq!(dnd.unwrap(), to(with(Status::Idle), with(Status::Dnd)));
    wait_out_short().await;
    assert_eq!(
        shown(a, ADA).await,
        with(Status::Idle),
        "b's session expired, a's shows"
    );
    assert_eq!(
        a.refresh(ADA, "on-a", LONG).await.unwrap(),
        Touched::Live(to(with(Status::Dnd), with(Status::Idle))),
        "the expiry is told by the next change"
    );
    assert_eq!(
        a.refresh(ADA, "on-a", LONG).await.unwrap(),
        Touched::Live(None)
    );
    assert_eq!(
        b.refresh(ADA, "on-b", LONG).await.unwrap(),
        Touched::Gone,
        "an expired session is not revived by a late heartbeat"
    );
    assert_eq!(
        b.update(ADA, "on-b", with(Status::Online)).await.unwrap(),
        Touched::Gone
    );
    assert_eq!(
        b.connect(ADA, "on-b", with(Status::Dnd), LONG)
            .await
            .unwrap(),
        to(with(Status::Idle), with(Status::Dnd)),
        "connected again, it counts again"
    );
}

fn away(status: Status) -> UserPresence {
    UserPresence {
        afk: true,
        ..with(status)
    }
}

pub async fn presence_afk_only_when_every_live_session_says_it(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].presence, &*nodes[1].presence);
    a.connect(ADA, "on-a", with(Status::Online), LONG)
        .await
        .unwrap();
    b.connect(ADA, "on-b", away(Status::Idle), LONG)
        .await
        .unwrap();
    assert_eq!(
        shown(a, ADA).await,
        with(Status::Idle),
        "the latest session's status, but a's client is in use"
    );
    let touched = a.update(ADA, "on-a", away(Status::Online)).await.unwrap();
    assert_eq!(
        touched,
        Touched::Live(to(with(Status::Idle), away(Status::Online)))
    );
    assert_eq!(shown(b, ADA).await, away(Status::Online), "both are away");
    b.update(ADA, "on-b", with(Status::Idle)).await.unwrap();
    assert_eq!(shown(a, ADA).await, with(Status::Idle), "b is back");
    assert_eq!(
        b.disconnect(ADA, "on-b").await.unwrap(),
        to(with(Status::Idle), away(Status::Online))
    );
    // A session in use that stops heartbeating (its node crashed) stops
    // holding the others' afk back.
    b.connect(ADA, "short", with(Status::Dnd), SHORT)
        .await
        .unwrap();
    assert_eq!(shown(a, ADA).await, with(Status::Dnd));
    wait_out_short().await;
    assert_eq!(shown(b, ADA).await, away(Status::Online));
    // An invisible session is not away: it says nothing of its device.
    b.connect(ADA, "hidden", away(Status::Invisible), LONG)
        .await
        .unwrap();
    a.update(ADA, "on-a", away(Status::Online)).await.unwrap();
    assert_eq!(shown(a, ADA).await, with(Status::Online));
}

pub async fn presence_a_crashed_nodes_users_are_swept_offline(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].presence, &*nodes[1].presence);
    let bob = Snowflake(2);
    a.connect(ADA, "on-a", with(Status::Idle), LONG)
        .await
        .unwrap();
    b.connect(bob, "on-b", with(Status::Online), SHORT)
        .await
        .unwrap();
    assert!(
        a.sweep(100).await.unwrap().is_empty(),
        "nothing expired yet"
    );
    // Node b stopped: nothing refreshes bob's session.
    wait_out_short().await;
    assert_eq!(shown(a, bob).await, UserPresence::offline());
    let swept = a.sweep(100).await.unwrap();
    assert_eq!(
        swept,
        vec![(
            bob,
            Transition {
                before: with(Status::Online),
                after: UserPresence::offline()
            }
        )]
    );
    assert!(a.sweep(100).await.unwrap().is_empty(), "told once");
    assert_eq!(b.disconnect(bob, "on-b").await.unwrap(), None, "told once");
    assert_eq!(shown(a, ADA).await, with(Status::Idle));
}

pub async fn presence_sweeping_forgets_every_expired_session_in_bounded_steps(
    nodes: Vec<Realtime>,
) {
    let presence = &*nodes[0].presence;
    for user in 0..10 {
        for session in ["x", "y"] {
            let online = with(Status::Online);
            presence
                .connect(Snowflake(user), session, online, SHORT)
                .await
                .unwrap();
        }
    }
    wait_out_short().await;
    let mut told = Vec::new();
    loop {
        let swept = presence.sweep(3).await.unwrap();
        assert!(swept.len() <= 3);
        if swept.is_empty() {
            break;
        }
        for (_, transition) in &swept {
            assert_eq!(transition.after, UserPresence::offline());
        }
        told.extend(swept.into_iter().map(|(user, _)| user));
    }
    told.sort();
    assert_eq!(told, (0..10).map(Snowflake).collect::<Vec<_>>());
    let unknown = presence.update(Snowflake(1), "x", with(Status::Idle)).await;
    assert_eq!(unknown.unwrap(), Touched::Gone);
}

pub async fn presence_reads_are_batched_and_in_order(nodes: Vec<Realtime>) {
    let presence = &*nodes[0].presence;
    let bob = Snowflake(2);
    let hidden = Snowflake(3);
    presence
        .connect(bob, "b", with(Status::Dnd), LONG)
        .await
        .unwrap();
    let invisible = with(Status::Invisible);
    presence
        .connect(hidden, "h", invisible, LONG)
        .await
        .unwrap();
    let read = presence.get_many(&[ADA, bob, hidden, bob]).await.unwrap();
    let offline = UserPresence::offline();
    assert_eq!(
        read,
        vec![
            offline.clone(),
            with(Status::Dnd),
            offline,
            with(Status::Dnd)
        ]
    );
    assert!(presence.get_many(&[]).await.unwrap().is_empty());
    // Many users in one call (more than a networked backend reads at once).
    let many: Vec<Snowflake> = (0..1_200).map(|i| Snowflake(10_000 + i)).collect();
    let mut asked = many.clone();
    asked.insert(600, bob);
    let read = presence.get_many(&asked).await.unwrap();
    assert_eq!(read.len(), asked.len());
    assert_eq!(read[600], with(Status::Dnd));
    assert_eq!(
        read.iter().filter(|p| p.status == Status::Offline).count(),
        many.len()
    );
}

/// Sessions of one user come and go on every node at once: others are
/// told they came online once, and offline once.
pub async fn presence_concurrent_sessions_tell_each_change_once(nodes: Vec<Realtime>) {
    const SESSIONS: usize = 24;
    let run = |connect: bool| {
        let tasks: Vec<_> = (0..SESSIONS)
            .map(|i| {
                let presence = Arc::clone(&nodes[i % nodes.len()].presence);
                tokio::spawn(async move {
                    let session = format!("s{i}");
                    if connect {
                        let online = with(Status::Online);
                        presence.connect(ADA, &session, online, LONG).await
                    } else {
                        presence.disconnect(ADA, &session).await
                    }
                })
            })
            .collect();
        async move {
            let mut told = Vec::new();
            for task in tasks {
                told.extend(task.await.unwrap().unwrap());
            }
            told
        }
    };
    let online = run(true).await;
    assert_eq!(
        online,
        vec![to(UserPresence::offline(), with(Status::Online)).unwrap()]
    );
    let offline = run(false).await;
    assert_eq!(
        offline,
        vec![to(with(Status::Online), UserPresence::offline()).unwrap()]
    );
    assert_eq!(
        shown(&*nodes[0].presence, ADA).await,
        UserPresence::offline()
    );
}

/// Every node sweeps at once: each expired user is told of once.
pub async fn presence_concurrent_sweeps_tell_each_user_once(nodes: Vec<Realtime>) {
    const USERS: u64 = 40;
    for user in 0..USERS {
        let presence = &nodes[user as usize % nodes.len()].presence;
        let online = with(Status::Online);
        presence
            .connect(Snowflake(user), "s", online, SHORT)
            .await
            .unwrap();
    }
    wait_out_short().await;
    let tasks: Vec<_> = (0..nodes.len() * 2)
        .map(|i| {
            let presence = Arc::clone(&nodes[i % nodes.len()].presence);
            tokio::spawn(async move {
                let mut told = Vec::new();
                loop {
                    let swept = presence.sweep(5).await.unwrap();
                    if swept.is_empty() {
                        return told;
                    }
                    told.extend(swept.into_iter().map(|(user, _)| user));
                }
            })
        })
        .collect();
    let mut told = Vec::new();
    for task in tasks {
        told.extend(task.await.unwrap());
    }
    told.sort();
    assert_eq!(told, (0..USERS).map(Snowflake).collect::<Vec<_>>());
}

const TWO_PER_SECOND: Limit = Limit {
    count: 2,
    window_ms: 1_000,
};

pub async fn limiter_window_allows_count_then_refuses_until_reset(nodes: Vec<Realtime>) {
    let limiter = &*nodes[0].limiter;
    let limit = TWO_PER_SECOND;
    let a = limiter.check("k", limit, 10_000).await.unwrap();
    assert!(a.allowed && a.remaining == 1 && a.reset_after_ms == 1_000);
    assert_eq!((a.limit, a.reset_at_ms), (2, 11_000));
    assert!(limiter.check("k", limit, 10_100).await.unwrap().allowed);
    let refused = limiter.check("k", limit, 10_500).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!((refused.remaining, refused.reset_after_ms), (0, 500));
    let other = limiter.check("other", limit, 10_500).await.unwrap();
    assert!(other.allowed, "keys are separate");
    let next = limiter.check("k", limit, 11_000).await.unwrap();
    assert!(next.allowed, "a new window");
    assert_eq!((next.remaining, next.reset_at_ms), (1, 12_000));
}

/// Nodes sharing a limiter share its windows: two nodes allow what one
/// does.
pub async fn limiter_nodes_share_the_window(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].limiter, &*nodes[1].limiter);
    assert!(a.check("u:1", TWO_PER_SECOND, 0).await.unwrap().allowed);
    assert!(b.check("u:1", TWO_PER_SECOND, 1).await.unwrap().allowed);
    assert!(!a.check("u:1", TWO_PER_SECOND, 2).await.unwrap().allowed);
    assert!(!b.check("u:1", TWO_PER_SECOND, 3).await.unwrap().allowed);
}

/// A refusal stops the batch: the route is not counted when the global
/// limit refuses.
pub async fn limiter_a_refusal_stops_the_batch(nodes: Vec<Realtime>) {
    let limiter = &*nodes[0].limiter;
    let one = Limit {
        count: 1,
        window_ms: 1_000,
    };
    let both = [("global", one), ("route", TWO_PER_SECOND)];
    let first = limiter.check_all(&both, 0).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|d| d.allowed));
    assert_eq!((first[0].limit, first[1].limit), (1, 2));
    let refused = limiter.check_all(&both, 1).await.unwrap();
    assert_eq!(refused.len(), 1, "stopped at the global limit");
    assert!(!refused[0].allowed);
    let route = limiter.check("route", TWO_PER_SECOND, 2).await.unwrap();
    assert_eq!(
        route.remaining, 0,
        "the refused request left the route alone"
    );
    assert!(route.allowed);
    assert!(limiter.check_all(&[], 3).await.unwrap().is_empty());
}

pub async fn limiter_streaks_count_failures_until_forgotten_or_ended(nodes: Vec<Realtime>) {
    let (limiter, other) = (&*nodes[0].limiter, &*nodes[1].limiter);
    let read = |now| async move { other.streaks(&["a", "b"], now).await.unwrap() };
    assert_eq!(read(0).await, vec![None, None]);
    limiter
        .extend_streaks(&["a", "b"], 10, 1_000)
        .await
        .unwrap();
    other.extend_streaks(&["a"], 20, 1_000).await.unwrap();
    let two = Streak {
        count: 2,
        last_ms: 20,
    };
    let one = Streak {
        count: 1,
        last_ms: 10,
    };
    assert_eq!(read(30).await, vec![Some(two), Some(one)]);
    assert_eq!(read(1_010).await, vec![Some(two), None], "b forgotten");
    limiter.extend_streaks(&["b"], 1_010, 1_000).await.unwrap();
    let again = Streak {
        count: 1,
        last_ms: 1_010,
    };
    assert_eq!(read(1_010).await, vec![Some(two), Some(again)], "afresh");
    limiter.end_streak("a").await.unwrap();
    assert_eq!(read(1_010).await, vec![None, Some(again)]);
    assert!(limiter.streaks(&[], 0).await.unwrap().is_empty());
}

/// One user's requests spread over every node at once: the window admits
/// its count, no more.
pub async fn limiter_concurrent_requests_over_nodes_admit_the_limit(nodes: Vec<Realtime>) {
    let limit = Limit {
        count: 10,
        window_ms: 60_000,
    };
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let limiter = Arc::clone(&nodes[i % nodes.len()].limiter);
            tokio::spawn(async move {
                let checks = [("global:u", limit), ("route:u", limit)];
                limiter.check_all(&checks, 5_000).await.unwrap()
            })
        })
        .collect();
    let mut admitted = 0;
    let mut remaining = HashSet::new();
    for task in tasks {
        let decisions = task.await.unwrap();
        if decisions.iter().all(|d| d.allowed) {
            assert_eq!(decisions.len(), 2);
            admitted += 1;
            assert!(remaining.insert(decisions[0].remaining), "one count each");
        }
    }
    assert_eq!(admitted, 10);
    let route = nodes[0].limiter.check("route:u", limit, 5_001).await;
    assert!(
        !route.unwrap().allowed,
        "the route counted only the admitted"
    );
}

pub async fn limiter_concurrent_failures_all_count(nodes: Vec<Realtime>) {
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let limiter = Arc::clone(&nodes[i % nodes.len()].limiter);
            tokio::spawn(async move {
                limiter
                    .extend_streaks(&["login:ada"], 100, 60_000)
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let streaks = nodes[0].limiter.streaks(&["login:ada"], 200).await.unwrap();
    assert_eq!(streaks[0].map(|s| s.count), Some(30));
}

pub async fn leases_have_one_holder_until_they_run_out(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].leases, &*nodes[1].leases);
    assert!(a.acquire("task", "a", SHORT).await.unwrap());
    assert!(!b.acquire("task", "b", LONG).await.unwrap(), "held by a");
    assert!(a.acquire("task", "a", SHORT).await.unwrap(), "a again");
    assert!(!b.renew("task", "b", LONG).await.unwrap());
    wait_out_short().await;
    assert!(!a.renew("task", "a", LONG).await.unwrap(), "ran out");
    assert!(b.acquire("task", "b", LONG).await.unwrap(), "free again");
    assert!(!a.acquire("task", "a", LONG).await.unwrap());
    assert!(
        a.acquire("other", "a", LONG).await.unwrap(),
        "names are apart"
    );
}

pub async fn leases_renewing_keeps_a_lease_past_its_first_ttl(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].leases, &*nodes[1].leases);
    assert!(a.acquire("task", "a", SHORT).await.unwrap());
    assert!(a.renew("task", "a", LONG).await.unwrap());
    wait_out_short().await;
    assert!(!b.acquire("task", "b", LONG).await.unwrap(), "still a's");
    b.release("task", "b").await.unwrap();
    assert!(!b.acquire("task", "b", LONG).await.unwrap(), "not b's");
    a.release("task", "a").await.unwrap();
    assert!(b.acquire("task", "b", LONG).await.unwrap(), "given up");
    // A renewal also shortens: the lease lives `ttl` from the renewal.
    assert!(b.renew("task", "b", SHORT).await.unwrap());
    wait_out_short().await;
    assert!(a.acquire("task", "a", LONG).await.unwrap());
}

/// Today's default for one node: no ids set, the first pair.
pub async fn leases_nodes_take_distinct_ids_in_order(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].leases, &*nodes[1].leases);
    let first = claim_node_id(a, "a", None, None, LONG).await.unwrap();
    assert_eq!(first, (0, 0));
    let second = claim_node_id(b, "b", None, None, LONG).await.unwrap();
    assert_eq!(second, (0, 1));
    let worker_3 = claim_node_id(a, "c", Some(3), None, LONG).await;
    assert_eq!(worker_3.unwrap(), (3, 0), "the set worker id is kept");
    let process_1 = claim_node_id(b, "d", None, Some(1), LONG).await;
    assert_eq!(process_1.unwrap(), (1, 1), "(0, 1) is b's");
    let again = claim_node_id(a, "a", None, None, LONG).await;
    assert_eq!(again.unwrap(), (0, 0), "a node's own pair is its again");
}

pub async fn leases_a_set_pair_held_by_another_node_is_refused(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].leases, &*nodes[1].leases);
    let taken = claim_node_id(a, "a", Some(2), Some(5), SHORT).await;
    assert_eq!(taken.unwrap(), (2, 5));
    let refused = claim_node_id(b, "b", Some(2), Some(5), LONG)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            NodeIdError::Taken {
                worker_id: 2,
                process_id: 5
            }
        ),
        "{refused}"
    );
    assert!(refused.to_string().contains("worker_id 2 and process_id 5"));
    // A node that stopped renewing gives its ids up.
    wait_out_short().await;
    let b_now = claim_node_id(b, "b", Some(2), Some(5), LONG).await;
    assert_eq!(b_now.unwrap(), (2, 5));
}

pub async fn leases_no_free_pair_is_refused(nodes: Vec<Realtime>) {
    let leases = &*nodes[0].leases;
    for p in 0..32 {
        let taken = claim_node_id(leases, &format!("n{p}"), Some(7), None, LONG).await;
        assert_eq!(taken.unwrap(), (7, p));
    }
    let full = claim_node_id(leases, "late", Some(7), None, LONG).await;
    assert!(matches!(full, Err(NodeIdError::NoneFree)));
    let elsewhere = claim_node_id(leases, "late", None, None, LONG).await;
    assert_eq!(elsewhere.unwrap(), (0, 0));
}

/// Nodes starting together: every one gets a pair of its own, and one
/// task lease has one holder.
pub async fn leases_concurrent_claims_have_one_winner(nodes: Vec<Realtime>) {
    const CLAIMS: usize = 24;
    let tasks: Vec<_> = (0..CLAIMS)
        .map(|i| {
            let leases = Arc::clone(&nodes[i % nodes.len()].leases);
            tokio::spawn(async move {
                let holder = format!("node-{i}");
                let pair = claim_node_id(&*leases, &holder, Some(1), None, LONG).await;
                let task = leases.acquire("sweep", &holder, LONG).await.unwrap();
                (pair.unwrap(), task)
            })
        })
        .collect();
    let mut pairs = HashSet::new();
    let mut holders = 0;
    for task in tasks {
        let (pair, holds) = task.await.unwrap();
        assert!(pairs.insert(pair), "{pair:?} given twice");
        holders += usize::from(holds);
    }
    assert_eq!(pairs.len(), CLAIMS);
    assert_eq!(holders, 1);
}

const A: NodeId = NodeId(1);
const B: NodeId = NodeId(2);
const USER: Snowflake = Snowflake(7);

fn record(id: &str) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        user_id: USER,
        node: A,
        intents: 513,
        shard: [0, 1],
        state: "{}".into(),
        seq: 0,
        last_event: 10,
    }
}

fn frames(seqs: std::ops::RangeInclusive<u64>) -> Vec<Frame> {
    seqs.map(|seq| Frame {
        seq,
        kind: "MESSAGE_CREATE".into(),
        // Opaque text, a line break included.
        data: format!("{{\"n\":{seq}}}\nand more").into(),
    })
    .collect()
}

fn append(id: &str, seqs: std::ops::RangeInclusive<u64>, last_event: u64) -> Append {
    Append {
        id: id.into(),
        frames: frames(seqs),
        last_event,
        ..Append::default()
    }
}

fn seqs(resumed: &Option<Resumed>) -> Vec<u64> {
    resumed
        .as_ref()
        .expect("resumable")
        .frames
        .iter()
        .map(|f| f.seq)
        .collect()
}

pub async fn sessions_a_resume_gets_the_frames_after_its_sequence(nodes: Vec<Realtime>) {
    let d = &*nodes[0].sessions;
    d.create(record("s"), LONG).await.unwrap();
    let refused = d.append(A, vec![append("s", 1..=3, 11)]).await.unwrap();
    assert!(refused.is_empty());
    d.append(A, vec![append("s", 4..=5, 12)]).await.unwrap();
    let resumed = nodes[1].sessions.resume("s", USER, A, 2, LONG).await;
    let resumed = resumed.unwrap();
    assert_eq!(seqs(&resumed), [3, 4, 5]);
    let resumed = resumed.unwrap();
    assert_eq!(resumed.frames, frames(3..=5), "frames come back as given");
    let mut expected = record("s");
    (expected.seq, expected.last_event) = (5, 12);
    assert_eq!(resumed.record, expected);
    let none = d.resume("s", USER, A, 5, LONG).await.unwrap();
    assert_eq!(seqs(&none), Vec::<u64>::new(), "nothing missed");
    assert!(
        d.resume("s", USER, A, 6, LONG).await.unwrap().is_none(),
        "a seq from the future"
    );
    assert!(
        d.resume("s", Snowflake(8), A, 2, LONG)
            .await
            .unwrap()
            .is_none(),
        "someone else's"
    );
    assert!(
        d.resume("t", USER, A, 0, LONG).await.unwrap().is_none(),
        "unknown"
    );
}

pub async fn sessions_frames_are_bounded_and_a_resume_past_them_is_refused(nodes: Vec<Realtime>) {
    let d = &*nodes[0].sessions;
    let last = FRAMES_KEPT as u64 + 10;
    d.create(record("s"), LONG).await.unwrap();
    d.append(A, vec![append("s", 1..=5, 11)]).await.unwrap();
    d.append(A, vec![append("s", 6..=last, 12)]).await.unwrap();
    assert!(
        d.resume("s", USER, A, 9, LONG).await.unwrap().is_none(),
        "10 was dropped"
    );
    let resumed = d.resume("s", USER, A, 10, LONG).await.unwrap();
    assert_eq!(seqs(&resumed), (11..=last).collect::<Vec<_>>());
}

pub async fn sessions_confirmed_frames_are_freed(nodes: Vec<Realtime>) {
    let d = &*nodes[0].sessions;
    d.create(record("s"), LONG).await.unwrap();
    d.append(A, vec![append("s", 1..=40, 11)]).await.unwrap();
    d.confirm("s", B, 30).await.unwrap();
    assert!(
        d.resume("s", USER, A, 1, LONG).await.unwrap().is_some(),
        "only the holder confirms"
    );
    d.confirm("s", A, 35).await.unwrap();
    assert!(d.resume("s", USER, A, 34, LONG).await.unwrap().is_none());
    let resumed = d.resume("s", USER, A, 35, LONG).await.unwrap();
    assert_eq!(seqs(&resumed), (36..=40).collect::<Vec<_>>());
    d.confirm("s", A, 40).await.unwrap();
    let resumed = d.resume("s", USER, A, 40, LONG).await.unwrap();
    assert_eq!(seqs(&resumed), Vec::<u64>::new(), "all confirmed");
    assert!(d.resume("s", USER, A, 39, LONG).await.unwrap().is_none());
}

/// A batch that does not follow the kept frames replaces them: frames
/// lost on the way are never papered over.
pub async fn sessions_a_batch_after_a_hole_replaces_the_kept_frames(nodes: Vec<Realtime>) {
    let d = &*nodes[0].sessions;
    d.create(record("s"), LONG).await.unwrap();
    d.append(A, vec![append("s", 1..=3, 11)]).await.unwrap();
    d.append(A, vec![append("s", 6..=7, 12)]).await.unwrap();
    assert!(
        d.resume("s", USER, A, 3, LONG).await.unwrap().is_none(),
        "4 and 5 are lost"
    );
    assert_eq!(
        seqs(&d.resume("s", USER, A, 5, LONG).await.unwrap()),
        [6, 7]
    );
}

pub async fn sessions_a_takeover_refuses_the_old_holder(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].sessions, &*nodes[1].sessions);
    a.create(record("s"), LONG).await.unwrap();
    a.append(A, vec![append("s", 1..=2, 11)]).await.unwrap();
    let taken = b.resume("s", USER, B, 1, LONG).await.unwrap().unwrap();
    assert_eq!(taken.record.node, A, "the answer names the previous holder");
    assert_eq!(seqs(&Some(taken)), [2]);

    a.create(record("kept"), LONG).await.unwrap();
    let batches = vec![append("s", 3..=3, 12), append("kept", 1..=1, 12)];
    let refused = a.append(A, batches).await.unwrap();
    assert_eq!(refused, [Arc::<str>::from("s")], "A no longer holds it");
    a.remove(A, vec!["s".into()]).await.unwrap();
    assert!(
        b.append(B, vec![append("s", 3..=3, 13)])
            .await
            .unwrap()
            .is_empty()
    );
    let again = b.resume("s", USER, B, 2, LONG).await.unwrap().unwrap();
    assert_eq!((again.record.node, again.record.last_event), (B, 13));
    assert_eq!(seqs(&Some(again)), [3]);
}

/// A node's flush after one dispatch: hundreds of sessions in one append,
/// the same text in each (the backend may send it once), one of them
/// held by another node: each session gets its own frames, and only that
/// one is refused.
pub async fn sessions_one_append_carries_many_sessions(nodes: Vec<Realtime>) {
    let (a, b) = (&*nodes[0].sessions, &*nodes[1].sessions);
    let ids: Vec<String> = (0..600).map(|i| format!("many-{i}")).collect();
    for id in &ids {
        a.create(record(id), LONG).await.unwrap();
    }
    let taken = &ids[300];
    b.resume(taken, USER, B, 0, LONG).await.unwrap().unwrap();
    let shared: Arc<str> = "{\"shared\":true}\nline two".into();
    let batches = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let seq = 1 + i as u64 % 3;
            let mut frames = vec![Frame {
                seq,
                kind: "MESSAGE_CREATE".into(),
                data: Arc::clone(&shared),
            }];
            frames.push(Frame {
                seq: seq + 1,
                kind: "TYPING_START".into(),
                data: format!("{{\"own\":{i}}}").into(),
            });
            Append {
                id: id.as_str().into(),
                frames,
                last_event: 20,
                ..Append::default()
            }
        })
        .collect();
    let refused = a.append(A, batches).await.unwrap();
    assert_eq!(refused, [Arc::<str>::from(taken.as_str())]);
    for (i, id) in ids.iter().enumerate() {
        if id == taken {
            continue;
        }
        let seq = 1 + i as u64 % 3;
        let resumed = b.resume(id, USER, B, seq - 1, LONG).await.unwrap();
        let resumed = resumed.expect("resumable");
        assert_eq!(resumed.record.last_event, 20);
        let got: Vec<(u64, &str, &str)> = resumed
            .frames
            .iter()
            .map(|f| (f.seq, &*f.kind, &*f.data))
            .collect();
        let own = format!("{{\"own\":{i}}}");
        let expected = [
            (seq, "MESSAGE_CREATE", &*shared),
            (seq + 1, "TYPING_START", own.as_str()),
        ];
        assert_eq!(got, expected, "{id}");
    }
}

pub async fn sessions_state_and_last_event_follow_the_holder(nodes: Vec<Realtime>) {
    let d = &*nodes[0].sessions;
    d.create(record("s"), LONG).await.unwrap();
    let batch = Append {
        id: "s".into(),
        last_event: 20,
        state: Some("{\"guilds\":[1]}".into()),
        ..Append::default()
    };
    d.append(A, vec![batch, append("s", 1..=1, 15)])
        .await
        .unwrap();
    let record = d
        .resume("s", USER, A, 0, LONG)
        .await
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(record.state, "{\"guilds\":[1]}");
    assert_eq!(record.last_event, 20, "never moves back");
    // Event ids past what a double holds exactly still compare exactly.
    let big = u64::MAX - 1;
    let batch = Append {
        id: "s".into(),
        last_event: big,
        ..Append::default()
    };
    d.append(A, vec![batch, append("s", 2..=2, big - 1)])
        .await
        .unwrap();
    let record = d.resume("s", USER, A, 0, LONG).await.unwrap().unwrap();
    assert_eq!(record.record.last_event, big);
}

pub async fn sessions_expire_unless_renewed(nodes: Vec<Realtime>) {
    let d = &*nodes[0].sessions;
    d.create(record("kept"), SHORT).await.unwrap();
    d.create(record("left"), SHORT).await.unwrap();
    let renew = Append {
        id: "kept".into(),
        renew: Some(LONG),
        ..Append::default()
    };
    assert!(d.append(A, vec![renew]).await.unwrap().is_empty());
    d.append(A, vec![append("kept", 1..=2, 11)]).await.unwrap();
    wait_out_short().await;
    let kept = d.resume("kept", USER, A, 0, LONG).await.unwrap();
    assert_eq!(seqs(&kept), [1, 2], "renewed, with its frames");
    assert!(
        d.resume("left", USER, A, 0, LONG).await.unwrap().is_none(),
        "expired"
    );
    let refused = d.append(A, vec![append("left", 1..=1, 11)]).await.unwrap();
    assert_eq!(refused.len(), 1, "an expired session takes no frames");
}

pub async fn sessions_only_the_holder_removes(nodes: Vec<Realtime>) {
    let d = &*nodes[0].sessions;
    d.create(record("s"), LONG).await.unwrap();
    d.create(record("t"), LONG).await.unwrap();
    d.remove(B, vec!["s".into()]).await.unwrap();
    assert!(d.resume("s", USER, A, 0, LONG).await.unwrap().is_some());
    d.remove(A, vec!["s".into(), "t".into()]).await.unwrap();
    assert!(d.resume("s", USER, A, 0, LONG).await.unwrap().is_none());
    assert!(d.resume("t", USER, A, 0, LONG).await.unwrap().is_none());
}

/// Clients resuming one session on many nodes at once: each takeover sees
/// the one before it, so no two name the same previous holder.
pub async fn sessions_concurrent_takeovers_form_one_chain(nodes: Vec<Realtime>) {
    const TAKERS: u64 = 12;
    nodes[0].sessions.create(record("s"), LONG).await.unwrap();
    let tasks: Vec<_> = (0..TAKERS)
        .map(|i| {
            let sessions = Arc::clone(&nodes[i as usize % nodes.len()].sessions);
            tokio::spawn(async move {
                let taker = NodeId(100 + i);
                let resumed = sessions.resume("s", USER, taker, 0, LONG).await;
                resumed.unwrap().expect("resumable").record.node
            })
        })
        .collect();
    let mut previous = HashSet::new();
    for task in tasks {
        let before = task.await.unwrap();
        assert!(previous.insert(before), "{before:?} was taken over twice");
    }
    assert!(previous.contains(&A));
    let takers: HashSet<NodeId> = (0..TAKERS).map(|i| NodeId(100 + i)).collect();
    let last: Vec<_> = takers.difference(&previous).collect();
    assert_eq!(last.len(), 1, "one taker holds it now");
    let holder = *last[0];
    let refused = nodes[0].sessions.append(A, vec![append("s", 1..=1, 11)]);
    assert_eq!(refused.await.unwrap().len(), 1);
    let accepted = nodes[1]
        .sessions
        .append(holder, vec![append("s", 1..=1, 11)]);
    assert!(accepted.await.unwrap().is_empty());
}

const GUILD: Snowflake = Snowflake(50);
const ROOM: Snowflake = Snowflake(60);
const HALL: Snowflake = Snowflake(61);

fn voice_state(user: u64, channel: Snowflake, session: &str, token: &str) -> VoiceState {
    VoiceState {
        guild_id: GUILD,
        channel_id: channel,
        user_id: Snowflake(user),
        session_id: session.to_owned(),
        token: token.to_owned(),
        deaf: false,
        mute: false,
        self_deaf: false,
        self_mute: false,
        self_stream: false,
        self_video: false,
        suppress: false,
    }
}

/// The state a join set, or a panic if the channel was full.
fn set(joined: Joined) -> (Option<VoiceState>, VoiceState, String) {
    match joined {
        Joined::Set {
            before,
            after,
            endpoint,
        } => (before, after, endpoint),
        Joined::Full => panic!("the join was refused"),
    }
}

pub async fn voice_the_first_join_sets_the_guilds_endpoint_for_every_node(nodes: Vec<Realtime>) {
    let first = voice_state(1, ROOM, "s1", "t1");
    let (before, after, endpoint) = set(nodes[0]
        .voice
        .join(first.clone(), None, "a:1", LONG)
        .await
        .unwrap());
    assert_eq!((before, &after, endpoint.as_str()), (None, &first, "a:1"));
    let second = voice_state(2, HALL, "s2", "t2");
    let (_, _, endpoint) = set(nodes[1]
        .voice
        .join(second, None, "b:2", LONG)
        .await
        .unwrap());
    assert_eq!(endpoint, "a:1", "one voice server per guild");
    let mut all = nodes[2].voice.guild(GUILD).await.unwrap();
    all.sort_by_key(|s| s.user_id);
    assert_eq!(all.len(), 2);
    assert_eq!(
        nodes[2].voice.get(GUILD, Snowflake(1)).await.unwrap(),
        Some(first)
    );
    for user in [1, 2] {
        let left = nodes[2]
            .voice
            .leave(GUILD, Snowflake(user), None)
            .await
            .unwrap();
        assert!(left.is_some());
    }
    assert!(nodes[0].voice.guild(GUILD).await.unwrap().is_empty());
    let again = voice_state(1, ROOM, "s1", "t3");
    let (_, _, endpoint) = set(nodes[1].voice.join(again, None, "b:2", LONG).await.unwrap());
    assert_eq!(endpoint, "b:2", "the endpoint went with the last state");
}

pub async fn voice_a_stopped_servers_guild_moves_once(nodes: Vec<Realtime>) {
    assert_eq!(nodes[0].voice.endpoint(GUILD).await.unwrap(), None);
    let moved = nodes[0].voice.move_endpoint(GUILD, "a:1", "b:2").await;
    assert!(!moved.unwrap(), "nobody in voice: nothing to move");
    set(nodes[0]
        .voice
        .join(voice_state(1, ROOM, "s1", "t1"), None, "a:1", LONG)
        .await
        .unwrap());
    let endpoint = nodes[1].voice.endpoint(GUILD).await.unwrap();
    assert_eq!(endpoint.as_deref(), Some("a:1"));
    // Two nodes notice the stop at once: one of them moves the guild.
    let (b, c) = tokio::join!(
        nodes[1].voice.move_endpoint(GUILD, "a:1", "b:2"),
        nodes[2].voice.move_endpoint(GUILD, "a:1", "c:3"),
    );
    let (b, c) = (b.unwrap(), c.unwrap());
    assert!(b != c, "exactly one move: {b} {c}");
    let to = if b { "b:2" } else { "c:3" };
    let endpoint = nodes[0].voice.endpoint(GUILD).await.unwrap();
    assert_eq!(endpoint.as_deref(), Some(to));
    // Joins after the move get the new endpoint.
    let (_, _, endpoint) = set(nodes[0]
        .voice
        .join(voice_state(2, ROOM, "s2", "t2"), None, "a:1", LONG)
        .await
        .unwrap());
    assert_eq!(endpoint, to);
    for user in [1, 2] {
        let left = nodes[0].voice.leave(GUILD, Snowflake(user), None).await;
        assert!(left.unwrap().is_some());
    }
    assert_eq!(nodes[1].voice.endpoint(GUILD).await.unwrap(), None);
}

pub async fn voice_the_same_channel_keeps_its_token_a_move_takes_the_new_one(nodes: Vec<Realtime>) {
    let voice = &nodes[0].voice;
    set(voice
        .join(voice_state(1, ROOM, "s1", "t1"), None, "a:1", LONG)
        .await
        .unwrap());
    let mut muted = voice_state(1, ROOM, "s1", "t2");
    muted.self_mute = true;
    let (before, after, _) = set(voice.join(muted, None, "a:1", LONG).await.unwrap());
    assert_eq!(after.token, "t1", "only the flags changed");
    assert!(after.self_mute);
    assert!(!Joined::connected(&before, &after));
    let (before, after, _) = set(nodes[1]
        .voice
        .join(voice_state(1, HALL, "s1", "t3"), None, "a:1", LONG)
        .await
        .unwrap());
    assert_eq!((after.channel_id, after.token.as_str()), (HALL, "t3"));
    assert!(Joined::connected(&before, &after));
    // Another session of the user takes the state over, with a new token.
    let (before, after, _) = set(nodes[2]
        .voice
        .join(voice_state(1, HALL, "s2", "t4"), None, "a:1", LONG)
        .await
        .unwrap());
    assert_eq!(before.map(|b| b.session_id), Some("s1".to_owned()));
    assert_eq!(after.token, "t4");
    assert_eq!(
        voice.leave(GUILD, Snowflake(1), Some("s1")).await.unwrap(),
        None
    );
    let left = voice.leave(GUILD, Snowflake(1), Some("s2")).await.unwrap();
    assert_eq!(left.map(|s| s.token), Some("t4".to_owned()));
    assert_eq!(voice.leave(GUILD, Snowflake(1), None).await.unwrap(), None);
}

pub async fn voice_a_full_channel_refuses_a_newcomer_only(nodes: Vec<Realtime>) {
    let voice = &nodes[0].voice;
    for user in [1, 2] {
        let state = voice_state(user, ROOM, &format!("s{user}"), "t");
        set(voice.join(state, Some(2), "a:1", LONG).await.unwrap());
    }
    let third = voice_state(3, ROOM, "s3", "t");
    let refused = nodes[1].voice.join(third.clone(), Some(2), "a:1", LONG);
    assert_eq!(refused.await.unwrap(), Joined::Full);
    assert_eq!(voice.get(GUILD, Snowflake(3)).await.unwrap(), None);
    // Someone already inside changes flags or session freely.
    let mut muted = voice_state(2, ROOM, "s2", "t");
    muted.self_mute = true;
    set(voice.join(muted, Some(2), "a:1", LONG).await.unwrap());
    set(voice
        .join(voice_state(2, ROOM, "s9", "u"), Some(2), "a:1", LONG)
        .await
        .unwrap());
    // No limit given (the joiner may move members): in it goes.
    set(nodes[2].voice.join(third, None, "a:1", LONG).await.unwrap());
    assert_eq!(voice.guild(GUILD).await.unwrap().len(), 3);
    // A refused join into an empty guild leaves nothing behind.
    let other = VoiceState {
        guild_id: Snowflake(51),
        ..voice_state(4, ROOM, "s4", "t")
    };
    assert_eq!(
        voice
            .join(other.clone(), Some(0), "b:2", LONG)
            .await
            .unwrap(),
        Joined::Full
    );
    let (_, _, endpoint) = set(voice.join(other, None, "c:3", LONG).await.unwrap());
    assert_eq!(endpoint, "c:3");
}

pub async fn voice_the_guild_mutes_deafens_and_moves(nodes: Vec<Realtime>) {
    let voice = &nodes[0].voice;
    let none = voice
        .change(GUILD, Snowflake(1), Change::default())
        .await
        .unwrap();
    assert_eq!(none, None, "not connected");
    set(voice
        .join(voice_state(1, ROOM, "s1", "t1"), None, "a:1", LONG)
        .await
        .unwrap());
    let change = Change {
        mute: Some(true),
        deaf: Some(true),
        move_to: None,
    };
    let (before, after, endpoint) = nodes[1]
        .voice
        .change(GUILD, Snowflake(1), change)
        .await
        .unwrap()
        .unwrap();
    assert!(!before.mute && after.mute && after.deaf);
    assert_eq!((after.token.as_str(), endpoint.as_str()), ("t1", "a:1"));
    let change = Change {
        move_to: Some((HALL, "t2".to_owned())),
        ..Change::default()
    };
    let (_, after, _) = nodes[2]
        .voice
        .change(GUILD, Snowflake(1), change)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (after.channel_id, after.token.as_str(), after.mute),
        (HALL, "t2", true)
    );
    assert_eq!(voice.get(GUILD, Snowflake(1)).await.unwrap(), Some(after));
}

pub async fn voice_a_dead_nodes_states_are_swept_once(nodes: Vec<Realtime>) {
    let voice = &nodes[0].voice;
    set(voice
        .join(voice_state(1, ROOM, "s1", "t"), None, "a:1", SHORT)
        .await
        .unwrap());
    set(voice
        .join(voice_state(2, ROOM, "s2", "t"), None, "a:1", SHORT)
        .await
        .unwrap());
    set(voice
        .join(voice_state(3, HALL, "s3", "t"), None, "a:1", LONG)
        .await
        .unwrap());
    let held = |user: u64, session: &str| Held {
        guild_id: GUILD,
        user_id: Snowflake(user),
        session_id: session.to_owned(),
    };
    // Node 1 renews user 1's state; user 2's node is gone.
    let renewed = nodes[1]
        .voice
        .renew(&[held(1, "s1"), held(2, "other"), held(4, "s4")], LONG)
        .await
        .unwrap();
    assert_eq!(renewed, vec![true, false, false]);
    assert!(nodes[2].voice.sweep(100).await.unwrap().is_empty());
    wait_out_short().await;
    let sweeps: Vec<_> = nodes
        .iter()
        .map(|n| {
            let voice = Arc::clone(&n.voice);
            tokio::spawn(async move { voice.sweep(100).await.unwrap() })
        })
        .collect();
    let mut swept: Vec<VoiceState> = Vec::new();
    for sweep in sweeps {
        swept.extend(sweep.await.unwrap());
    }
    assert_eq!(swept.len(), 1, "swept once: {swept:?}");
    assert_eq!(swept[0].user_id, Snowflake(2));
    let mut left: Vec<u64> = voice
        .guild(GUILD)
        .await
        .unwrap()
        .iter()
        .map(|s| s.user_id.0)
        .collect();
    left.sort_unstable();
    assert_eq!(left, vec![1, 3]);
}

pub async fn voice_concurrent_joins_over_nodes_hold_the_user_limit(nodes: Vec<Realtime>) {
    let joins: Vec<_> = (1..=12u64)
        .map(|user| {
            let voice = Arc::clone(&nodes[user as usize % nodes.len()].voice);
            tokio::spawn(async move {
                let state = voice_state(user, ROOM, &format!("s{user}"), "t");
                voice.join(state, Some(5), "a:1", LONG).await.unwrap()
            })
        })
        .collect();
    let mut admitted = 0;
    for join in joins {
        if matches!(join.await.unwrap(), Joined::Set { .. }) {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5);
    assert_eq!(nodes[0].voice.guild(GUILD).await.unwrap().len(), 5);
}
