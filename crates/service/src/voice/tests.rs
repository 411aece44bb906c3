//! Voice over two nodes sharing one store, bus and realtime state: the
//! voice server's admission rule, the guild's one endpoint, and the sweep
//! of a stopped node's states.

use std::sync::Arc;

use concord_bus::{Delivery, EventBus, LocalBus, Subscription, Topic};
use concord_model::event::EventKind;
use concord_model::records::{Channel, Guild, Member, Overwrite, Role, User, channel_type};
use concord_model::{Permissions, Snowflake};
use concord_realtime::Realtime;
use concord_realtime::RealtimeResult;
use concord_realtime::voice::{Change, Held, VoiceStates};
use concord_store::memory::MemoryStore;
use concord_store::{DEFAULT_BUCKET_MS, NewGuild, Store};
use serde_json::Value;

use super::*;
use crate::ServiceConfig;

const ADA: Snowflake = Snowflake(10);
const BOB: Snowflake = Snowflake(11);
const GUILD: Snowflake = Snowflake(1);
const ROOM: Snowflake = Snowflake(2);
const HALL: Snowflake = Snowflake(3);

fn caller(id: Snowflake) -> Caller {
    Caller { id, bot: false }
}

/// Two nodes with their own voice endpoints (`None`: voice off); Ada owns
/// a guild with two voice channels, where Bob may not speak in the first.
async fn two_nodes(endpoints: [Option<&str>; 2]) -> (Service, Service, Subscription) {
    two_nodes_with(endpoints, |_, voice| voice).await
}

/// [`two_nodes`], their voice states made by `voice` from the store and
/// the in-process states.
async fn two_nodes_with(
    endpoints: [Option<&str>; 2],
    voice: impl FnOnce(Arc<dyn Store>, Arc<dyn VoiceStates>) -> Arc<dyn VoiceStates>,
) -> (Service, Service, Subscription) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(DEFAULT_BUCKET_MS));
    for (id, name) in [(ADA, "ada"), (BOB, "bob")] {
        store.create_user(&User::new(id, name)).await.unwrap();
    }
    let mut room = Channel::new(ROOM, channel_type::GUILD_VOICE, GUILD, "Room");
    room.permission_overwrites = vec![Overwrite {
        id: BOB,
        kind: 1,
        allow: Permissions::NONE,
        deny: Permissions::SPEAK,
    }];
    let hall = Channel::new(HALL, channel_type::GUILD_VOICE, GUILD, "Hall");
    let guild = NewGuild {
        guild: Guild::new(GUILD, "g", ADA),
        roles: vec![Role::everyone(GUILD)],
        channels: vec![room, hall],
        owner: Member::new(GUILD, ADA, 0),
    };
    store.create_guild(&guild).await.unwrap();
    store.put_member(&Member::new(GUILD, BOB, 0)).await.unwrap();
    let bus: Arc<dyn EventBus> = Arc::new(LocalBus::new(256));
    let events = bus.subscribe().await.unwrap();
    events.interest().add(&[Topic::All]);
    let mut realtime = Realtime::local();
    realtime.voice = voice(Arc::clone(&store), realtime.voice);
    let node = |endpoint: Option<&str>| {
        let mut config = ServiceConfig::defaults();
        config.voice_endpoint = endpoint.map(str::to_owned);
        let store = Arc::clone(&store);
        let bus = Arc::clone(&bus);
        let realtime = realtime.clone();
        async move {
            let service = Service::open(store, bus, config).await.unwrap();
            service.with_realtime(realtime)
        }
    };
    let a = node(endpoints[0]).await;
    let b = node(endpoints[1]).await;
    (a, b, events)
}

/// The voice events published since the last call: (kind, session the
/// event is for, data).
fn told(events: &mut Subscription) -> Vec<(EventKind, Option<String>, Value)> {
    let mut out = Vec::new();
    while let Some(Delivery::Event(event)) = events.try_next() {
        if matches!(
            event.kind,
            EventKind::VoiceStateUpdate | EventKind::VoiceServerUpdate
        ) {
            let data = serde_json::from_str(&event.data).unwrap();
            out.push((event.kind, event.route.session_id.clone(), data));
        }
    }
    out
}

/// The token and endpoint of the one VOICE_SERVER_UPDATE among `told`.
fn server_update(told: &[(EventKind, Option<String>, Value)], session: &str) -> (String, String) {
    let servers: Vec<_> = told
        .iter()
        .filter(|(kind, ..)| *kind == EventKind::VoiceServerUpdate)
        .collect();
    assert_eq!(servers.len(), 1, "{told:?}");
    let (_, to, data) = servers[0];
    assert_eq!(to.as_deref(), Some(session), "for the joining session only");
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    (text(&data["token"]), text(&data["endpoint"]))
}

fn join(channel: Option<Snowflake>) -> VoiceRequest {
    VoiceRequest {
        guild_id: GUILD,
        channel_id: channel,
        ..VoiceRequest::default()
    }
}

#[tokio::test]
async fn only_the_current_token_of_the_owning_session_is_admitted() {
    let (a, b, mut events) = two_nodes([Some("a.example:1"), Some("b.example:2")]).await;
    a.update_voice_state(caller(BOB), "s1", join(Some(ROOM)))
        .await
        .unwrap();
    let (token, endpoint) = server_update(&told(&mut events), "s1");
    assert_eq!(endpoint, "a.example:1");
    let admitted = b.voice_admission(GUILD, BOB, "s1", &token).await.unwrap();
    assert_eq!(
        admitted,
        Some(VoiceAdmission {
            channel_id: ROOM,
            mute: false,
            deaf: false,
            self_mute: false,
            self_deaf: false,
            suppress: false,
            may_speak: false,
            priority: false,
            // STREAM is @everyone's; only SPEAK is denied in this channel.
            may_stream: true,
        })
    );
    for (user, session, token) in [
        (BOB, "s1", "not-the-token"),
        (BOB, "s2", token.as_str()),
        (ADA, "s1", token.as_str()),
    ] {
        let refused = a
            .voice_admission(GUILD, user, session, token)
            .await
            .unwrap();
        assert_eq!(refused, None, "{user} {session} {token}");
    }

    // Ada joins through the other node: the guild keeps its endpoint.
    b.update_voice_state(caller(ADA), "s9", join(Some(HALL)))
        .await
        .unwrap();
    let (ada_token, endpoint) = server_update(&told(&mut events), "s9");
    assert_eq!(endpoint, "a.example:1", "one voice server per guild");
    let ada = a
        .voice_admission(GUILD, ADA, "s9", &ada_token)
        .await
        .unwrap();
    assert!(ada.is_some_and(|a| a.may_speak && a.priority), "the owner");

    // A move: the old token no longer opens anything.
    b.update_voice_state(caller(BOB), "s1", join(Some(HALL)))
        .await
        .unwrap();
    let (moved, _) = server_update(&told(&mut events), "s1");
    assert_ne!(moved, token);
    assert_eq!(
        a.voice_admission(GUILD, BOB, "s1", &token).await.unwrap(),
        None
    );
    let now = a.voice_admission(GUILD, BOB, "s1", &moved).await.unwrap();
    assert!(now.is_some_and(|n| n.channel_id == HALL && n.may_speak));

    a.update_voice_state(caller(BOB), "s1", join(None))
        .await
        .unwrap();
    let left = told(&mut events);
    assert_eq!(left.len(), 1, "one leave: {left:?}");
    assert_eq!(left[0].2["channel_id"], Value::Null);
    assert_eq!(
        a.voice_admission(GUILD, BOB, "s1", &moved).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_node_without_voice_ignores_joins() {
    let (a, b, mut events) = two_nodes([None, Some("b.example:2")]).await;
    a.update_voice_state(caller(BOB), "s1", join(Some(ROOM)))
        .await
        .unwrap();
    assert!(told(&mut events).is_empty());
    assert!(b.listed_voice_states(GUILD).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_stopped_nodes_states_are_swept_and_told_once() {
    let (a, b, mut events) = two_nodes([Some("a.example:1"), Some("b.example:2")]).await;
    a.update_voice_state(caller(ADA), "on-a", join(Some(ROOM)))
        .await
        .unwrap();
    b.update_voice_state(caller(BOB), "on-b", join(Some(ROOM)))
        .await
        .unwrap();
    told(&mut events);
    // Node a keeps renewing its session's state; node b has stopped.
    let held = [Held {
        guild_id: GUILD,
        user_id: ADA,
        session_id: "on-a".into(),
    }];
    for _ in 0..3 {
        tokio::time::advance(VOICE_TTL / 2).await;
        assert_eq!(a.renew_voice(&held).await, vec![true]);
    }
    assert_eq!(a.sweep_voice().await.unwrap(), 1);
    assert_eq!(b.sweep_voice().await.unwrap(), 0, "told once");
    let swept = told(&mut events);
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!(swept[0].2["user_id"], BOB.to_string());
    assert_eq!(swept[0].2["channel_id"], Value::Null);
    let listed = a.listed_voice_states(GUILD).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].user_id, ADA);
}

/// Voice states whose every join first sees `channel` deleted, as when a
/// delete lands between a joiner's read of the channel and its write.
struct DeletedBeforeJoin {
    states: Arc<dyn VoiceStates>,
    store: Arc<dyn Store>,
    channel: Snowflake,
}

#[async_trait::async_trait]
impl VoiceStates for DeletedBeforeJoin {
    async fn join(
        &self,
        state: VoiceState,
        limit: Option<u32>,
        endpoint: &str,
        ttl: std::time::Duration,
    ) -> RealtimeResult<Joined> {
        self.store.delete_channel(self.channel).await.unwrap();
        self.states.join(state, limit, endpoint, ttl).await
    }
    async fn leave(
        &self,
        guild: Snowflake,
        user: Snowflake,
        session: Option<&str>,
    ) -> RealtimeResult<Option<VoiceState>> {
        self.states.leave(guild, user, session).await
    }
    async fn change(
        &self,
        guild: Snowflake,
        user: Snowflake,
        change: Change,
    ) -> RealtimeResult<Option<(VoiceState, VoiceState, String)>> {
        self.states.change(guild, user, change).await
    }
    async fn get(&self, guild: Snowflake, user: Snowflake) -> RealtimeResult<Option<VoiceState>> {
        self.states.get(guild, user).await
    }
    async fn guild(&self, guild: Snowflake) -> RealtimeResult<Vec<VoiceState>> {
        self.states.guild(guild).await
    }
    async fn renew(&self, held: &[Held], ttl: std::time::Duration) -> RealtimeResult<Vec<bool>> {
        self.states.renew(held, ttl).await
    }
    async fn sweep(&self, max: usize) -> RealtimeResult<Vec<VoiceState>> {
        self.states.sweep(max).await
    }
    async fn endpoint(&self, guild: Snowflake) -> RealtimeResult<Option<String>> {
        self.states.endpoint(guild).await
    }
    async fn move_endpoint(&self, guild: Snowflake, from: &str, to: &str) -> RealtimeResult<bool> {
        self.states.move_endpoint(guild, from, to).await
    }
}

#[tokio::test]
async fn a_join_racing_the_channels_delete_leaves_no_state() {
    let (a, _, mut events) = two_nodes_with([Some("a.example:1"), None], |store, states| {
        Arc::new(DeletedBeforeJoin {
            states,
            store,
            channel: ROOM,
        })
    })
    .await;
    a.update_voice_state(caller(BOB), "s1", join(Some(ROOM)))
        .await
        .unwrap();
    assert!(a.listed_voice_states(GUILD).await.is_empty());
    let told = told(&mut events);
    assert!(
        told.iter()
            .all(|(kind, ..)| *kind != EventKind::VoiceServerUpdate),
        "no voice server for a deleted channel: {told:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stopped_voice_servers_guild_moves_to_a_live_one_once() {
    let (a, b, mut events) = two_nodes([Some("a.example:1"), Some("b.example:2")]).await;
    a.hold_voice_server("node-a").await;
    b.hold_voice_server("node-b").await;
    a.update_voice_state(caller(ADA), "on-a", join(Some(HALL)))
        .await
        .unwrap();
    told(&mut events);
    b.update_voice_state(caller(BOB), "on-b", join(Some(HALL)))
        .await
        .unwrap();
    let (_, endpoint) = server_update(&told(&mut events), "on-b");
    assert_eq!(endpoint, "a.example:1", "the first joiner's server");
    let held = [Held {
        guild_id: GUILD,
        user_id: BOB,
        session_id: "on-b".into(),
    }];
    // Node a runs: nothing moves.
    assert_eq!(b.renew_voice(&held).await, vec![true]);
    assert!(told(&mut events).is_empty());
    // Node a stops: its lease runs out while b goes on.
    let mut updates = Vec::new();
    for _ in 0..6 {
        tokio::time::advance(SERVER_RENEW_EVERY).await;
        b.hold_voice_server("node-b").await;
        assert_eq!(b.renew_voice(&held).await, vec![true]);
        updates.extend(told(&mut events));
    }
    let to_bob: Vec<_> = updates
        .iter()
        .filter(|(kind, to, _)| {
            *kind == EventKind::VoiceServerUpdate && to.as_deref() == Some("on-b")
        })
        .collect();
    assert_eq!(to_bob.len(), 1, "told once: {updates:?}");
    assert_eq!(to_bob[0].2["endpoint"], "b.example:2");
    // The member's token still admits them, now at b's server.
    let token = to_bob[0].2["token"].as_str().unwrap().to_owned();
    let admitted = b.voice_admission(GUILD, BOB, "on-b", &token).await;
    assert!(admitted.unwrap().is_some());
}
