//! The node's sessions and the fan-out. One bus subscription per node feeds
//! one dispatcher task, which routes each event to the sessions that may
//! receive it: by guild membership, shard, intents and, for channel events,
//! the recipient's VIEW_CHANNEL there. The subscription hears only the
//! topics the node's sessions need: a guild from its first local session
//! there until its last leaves, and each user with a local session (their
//! DMs and what is sent to them alone). Routing reads the event's typed
//! route; permissions come from each guild's state in memory
//! ([`crate::guilds`]), which the dispatcher updates from the payloads of
//! the events that change it, so it never waits on the store. What a guild
//! still needs read (the guild when a session first needs it, a member who
//! connected, a thread not heard of, a joining session's GUILD_CREATE) is
//! read by a task of its own while that guild's events wait, in order,
//! and every other guild's go on. When the bus reports a gap, every session of
//! the node is told to reconnect (op 7) and stores nothing more, since
//! what it missed is unknown: its RESUME replays the bus history from what
//! the session directory holds, or fails (op 9) where that history no
//! longer reaches. A person's session also follows
//! which channels they can view: channel lifecycle events reach them only
//! for those, as CHANNEL_CREATE or CHANNEL_DELETE when their view changes
//! (bots get every channel). Each event is serialized once (and once more
//! without message content, if a recipient needs that); every session
//! shares those bytes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use concord_bus::{Delivery, Interest, Subscription, Topic};
use concord_model::event::{Audience, Event, EventKind};
use concord_model::wire::content_shown_without_intent;
use concord_model::{Permissions, Snowflake};
use concord_service::Service;
use concord_service::access::Revocation;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::directory::Cursor;
use crate::guilds::GuildState;
use crate::protocol::{in_shard, intents, required_intent, required_private_intent};
use crate::resume::Refusal;
use crate::session::{Pushed, Session};

mod dispatch;
mod presence;

use dispatch::{Dispatch, Done};

#[derive(Default)]
struct Index {
    sessions: HashMap<Arc<str>, Arc<Session>>,
    by_guild: Sessions,
    by_user: Sessions,
    followers: presence::Followers,
}

/// Session ids by guild or user.
type Sessions = HashMap<Snowflake, HashSet<Arc<str>>>;

/// Adds a session under `key`: true if it is the first there.
fn join(map: &mut Sessions, key: Snowflake, id: &Arc<str>) -> bool {
    let set = map.entry(key).or_default();
    set.insert(Arc::clone(id)) && set.len() == 1
}

/// Removes a session from under `key`: true if it was the last there.
fn leave(map: &mut Sessions, key: Snowflake, id: &str) -> bool {
    let Some(set) = map.get_mut(&key) else {
        return false;
    };
    set.remove(id);
    let last = set.is_empty();
    if last {
        map.remove(&key);
    }
    last
}

pub(crate) struct Hub {
    pub(crate) service: Arc<Service>,
    index: RwLock<Index>,
    /// The topics the node's subscription hears, changed with the index
    /// (under its lock, so changes apply in the index's order).
    interest: Arc<dyn Interest>,
    /// Where the fan-out stands on the bus.
    cursor: Arc<Cursor>,
    /// To the dispatcher: guilds a session needs or no longer needs, and
    /// finished loads.
    commands: mpsc::UnboundedSender<Command>,
    /// Per guild, the users whose sessions joined it since the dispatcher
    /// last looked: it reads the members it lacks among them, without
    /// going over every session of the guild on each arrival.
    arrivals: Mutex<HashMap<Snowflake, Vec<Snowflake>>>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Command>>>,
}

/// What the dispatcher is told besides the bus's events.
enum Command {
    /// A local session needs the guild: its state is read now, not when
    /// its first event comes.
    Need(Snowflake),
    /// The node's last session in the guild left: its state goes stale.
    Forget(Snowflake),
    Loaded(Box<Done>),
}

impl Hub {
    pub(crate) fn new(
        service: Arc<Service>,
        interest: Arc<dyn Interest>,
        cursor: Arc<Cursor>,
    ) -> Hub {
        let (commands, receiver) = mpsc::unbounded_channel();
        Hub {
            service,
            index: RwLock::new(Index::default()),
            interest,
            cursor,
            commands,
            arrivals: Mutex::default(),
            receiver: Mutex::new(Some(receiver)),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn tell(&self, command: Command) {
        // No dispatcher (a hub replaying history): nothing to tell.
        let _ = self.commands.send(command);
    }

    /// Registers a session in the guilds it was given; the dispatcher
    /// starts reading what it needs of them.
    pub(crate) fn insert(&self, session: Arc<Session>) {
        let mut index = self.write();
        let mut first = Vec::new();
        let guilds = session.guilds();
        for guild in &guilds {
            if join(&mut index.by_guild, *guild, &session.id) {
                first.push(Topic::Guild(*guild));
            }
        }
        if join(&mut index.by_user, session.user_id, &session.id) {
            first.push(Topic::User(session.user_id));
        }
        self.arrived(&guilds, session.user_id);
        index.followers.add_session(&session, &guilds);
        index.sessions.insert(Arc::clone(&session.id), session);
        if !first.is_empty() {
            self.interest.add(&first);
        }
        drop(index);
        for guild in guilds {
            self.tell(Command::Need(guild));
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.read().sessions.get(id).cloned()
    }

    pub(crate) fn remove(&self, id: &str) {
        let mut index = self.write();
        let Some(session) = index.sessions.remove(id) else {
            return;
        };
        let mut last = Vec::new();
        let guilds = session.guilds();
        index.followers.remove_session(&session, &guilds);
        for guild in guilds {
            if leave(&mut index.by_guild, guild, id) {
                last.push(Topic::Guild(guild));
            }
        }
        if leave(&mut index.by_user, session.user_id, id) {
            last.push(Topic::User(session.user_id));
        }
        if !last.is_empty() {
            self.interest.remove(&last);
        }
        drop(index);
        for topic in last {
            if let Topic::Guild(guild) = topic {
                self.tell(Command::Forget(guild));
            }
        }
    }

    pub(crate) fn all(&self) -> Vec<Arc<Session>> {
        self.read().sessions.values().cloned().collect()
    }

    pub(crate) fn count(&self) -> usize {
        self.read().sessions.len()
    }

    fn subscribe(&self, session: &Session, guild: Snowflake) {
        if !session.add_guild(guild) {
            return;
        }
        let mut index = self.write();
        self.arrived(&[guild], session.user_id);
        index.followers.add_guild(session, guild);
        if join(&mut index.by_guild, guild, &session.id) {
            self.interest.add(&[Topic::Guild(guild)]);
        }
    }

    fn unsubscribe(&self, session: &Session, guild: Snowflake) {
        let followed = session.remove_guild(guild);
        let mut index = self.write();
        index.followers.remove_guild(&session.id, guild, &followed);
        if leave(&mut index.by_guild, guild, &session.id) {
            self.interest.remove(&[Topic::Guild(guild)]);
            drop(index);
            self.tell(Command::Forget(guild));
        }
    }

    /// Whether a local session follows the guild.
    /// Notes that `user` has a session in `guilds` now.
    fn arrived(&self, guilds: &[Snowflake], user: Snowflake) {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        for guild in guilds {
            arrivals.entry(*guild).or_default().push(user);
        }
    }

    /// The users who joined `guild` since the last call, and forgets them.
    fn take_arrivals(&self, guild: Snowflake) -> Vec<Snowflake> {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        arrivals.remove(&guild).unwrap_or_default()
    }

    fn has_guild(&self, guild: Snowflake) -> bool {
        self.read().by_guild.contains_key(&guild)
    }

    fn in_guild(&self, guild: Snowflake) -> Vec<Arc<Session>> {
        let index = self.read();
        let ids = index.by_guild.get(&guild);
        ids.into_iter()
            .flatten()
            .filter_map(|id| index.sessions.get(id).cloned())
            .collect()
    }

    fn of_users(&self, users: &[Snowflake]) -> Vec<Arc<Session>> {
        let index = self.read();
        users
            .iter()
            .filter_map(|u| index.by_user.get(u))
            .flatten()
            .filter_map(|id| index.sessions.get(id).cloned())
            .collect()
    }

    /// The dispatcher: runs until the bus closes. It never waits on the
    /// store: what a guild's events need is read by tasks of their own
    /// while that guild's events wait, in order, and others go on.
    pub(crate) async fn fan_out(self: Arc<Self>, events: Subscription) {
        let Some(mut commands) = self
            .receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        // A stream keeps the bus's `next` alive across the select below.
        let mut events = Box::pin(futures_util::stream::unfold(events, |mut events| async {
            events.next().await.map(|delivery| (delivery, events))
        }));
        let mut dispatch = Dispatch::new(Arc::clone(&self));
        loop {
            tokio::select! {
                biased;
                Some(command) = commands.recv() => dispatch.command(command),
                delivery = events.next() => match delivery {
                    None => return,
                    Some(Delivery::Event(event)) => dispatch.event(event),
                    Some(Delivery::Gap { after }) => {
                        dispatch.clear();
                        self.lost(after);
                    }
                },
            }
            for load in dispatch.loads.drain(..) {
                let hub = Arc::clone(&self);
                tokio::spawn(async move {
                    let done = load.run(&hub.service).await;
                    hub.tell(Command::Loaded(Box::new(done)));
                });
            }
        }
    }

    /// Routes `events` as the fan-out does, but to `session` alone, in a
    /// hub of its own: a session taken over from another node catches up
    /// on the events its old holder never handled. What the routing needs
    /// is read here, in the resuming connection's task; if it cannot be,
    /// the replay would have holes, and it fails as the read did.
    pub(crate) async fn replay_to(
        &self,
        session: &Arc<Session>,
        events: &[Arc<Event>],
    ) -> Result<(), Refusal> {
        let solo = Arc::new(Hub::new(
            Arc::clone(&self.service),
            Arc::new(crate::resume::NoInterest),
            Arc::default(),
        ));
        solo.insert(Arc::clone(session));
        let mut dispatch = Dispatch::new(Arc::clone(&solo));
        for event in events {
            dispatch.event(Arc::clone(event));
            while let Some(load) = dispatch.loads.pop() {
                let done = load.run(&solo.service).await;
                if let Some(e) = done.failure() {
                    tracing::warn!(error = %e, "history not replayed: guild state not read");
                    return Err(if e.is_unavailable() {
                        Refusal::Unavailable
                    } else {
                        Refusal::Unresumable
                    });
                }
                dispatch.command(Command::Loaded(Box::new(done)));
            }
        }
        Ok(())
    }

    /// Events after `after` were lost to this node. Which sessions they
    /// were for is unknown, so every session is told to reconnect (op 7)
    /// and stores nothing more: its RESUME replays the bus history from
    /// what the directory holds, or fails (op 9) and its client identifies
    /// afresh, rather than resuming past a hole.
    fn lost(&self, after: u64) {
        let sessions = self.all();
        tracing::error!(
            after,
            sessions = sessions.len(),
            "gateway fell behind the bus; its sessions start afresh"
        );
        metrics::counter!("concord_gateway_event_gaps_total").increment(1);
        for session in sessions {
            session.lose_events();
        }
    }
}

impl Hub {
    /// Events that need no guild state: DMs, presences, and events sent
    /// to users.
    fn deliver_elsewhere(&self, event: &Event) {
        let mut payload = Payload::new(event);
        match &event.audience {
            // Only participants; message content is never hidden in DMs.
            Audience::Private { recipients, .. } => {
                for session in self.of_users(recipients) {
                    if session.has_intent(required_private_intent(event.kind)) {
                        push(&session, event.kind.name(), Arc::clone(&payload.full));
                    }
                }
            }
            Audience::Users(users) => {
                for session in self.of_users(users) {
                    self.deliver_to_user(event, &session, &payload);
                }
            }
            Audience::Guilds {
                guild_ids,
                about,
                member_counts,
            } => {
                self.deliver_once_per_session(event, guild_ids, *about, member_counts, &mut payload)
            }
            Audience::Guild { .. } => self.deliver_in_guild(event, None),
        }
    }

    /// An event to a guild's members, by the guild's state (its change
    /// already applied). Without a state, only what needs no permissions
    /// goes out.
    fn deliver_in_guild(&self, event: &Event, mut state: Option<&mut GuildState>) {
        let Audience::Guild {
            guild_id,
            channel_id,
            required,
        } = &event.audience
        else {
            return;
        };
        let mut payload = Payload::new(event);
        let changed_channel = changed_channel(event);
        for session in self.in_guild(*guild_id) {
            if !session.has_intent(required_intent(event.kind)) {
                continue;
            }
            let mut permissions = |channel| match state.as_deref_mut() {
                Some(state) => state.permissions(session.user_id, channel),
                None => Permissions::NONE,
            };
            if let Some(channel) = changed_channel
                && !session.bot
            {
                let now = event.kind != EventKind::ChannelDelete
                    && permissions(Some(channel)).contains(Permissions::VIEW_CHANNEL);
                if let Some(kind) = follow_channel(&session, *guild_id, channel, event.kind, now) {
                    push(&session, kind, Arc::clone(&payload.full));
                }
                continue;
            }
            if channel_id.is_none()
                && *required != Permissions::NONE
                && !permissions(None).contains(*required)
            {
                continue;
            }
            if let Some(channel) = channel_id
                && !permissions(Some(*channel)).contains(Permissions::VIEW_CHANNEL | *required)
            {
                continue;
            }
            let data = match payload.hidden() {
                Some(hidden) if hides_content(&session, event) => hidden,
                _ => Arc::clone(&payload.full),
            };
            push(&session, event.kind.name(), data);
        }
        if event.kind == EventKind::GuildDelete {
            for session in self.in_guild(*guild_id) {
                self.unsubscribe(&session, *guild_id);
            }
        }
        if let (Some(whose), Some(state)) = (views_changed_by(event), state) {
            self.refresh_views(state, *guild_id, whose);
        }
    }

    /// A guild joined: the users' sessions (of the guild's shard) follow
    /// it from now on; those with the GUILDS intent are owed its
    /// GUILD_CREATE, built off the dispatcher.
    fn join(&self, event: &Event, guild: Snowflake) -> Vec<Arc<Session>> {
        let Audience::Users(users) = &event.audience else {
            return Vec::new();
        };
        let mut owed = Vec::new();
        for session in self.of_users(users) {
            if !in_shard(guild, session.shard) {
                continue;
            }
            self.subscribe(&session, guild);
            if session.has_intent(intents::GUILDS) {
                owed.push(session);
            }
        }
        owed
    }

    /// Events aimed at users (a guild joined is [`Hub::join`]): leaving a
    /// guild unsubscribes their sessions.
    fn deliver_to_user(&self, event: &Event, session: &Session, payload: &Payload<'_>) {
        let full = Arc::clone(&payload.full);
        // The guild left, or the one an event is about.
        let guild = event.route.guild_id;
        match (event.kind, guild) {
            (EventKind::SessionsRevoked, _) => {
                if Revocation::ends(&event.data, session.token_generation) {
                    session.revoke();
                }
            }
            (EventKind::GuildCreate, Some(_)) => {}
            (EventKind::GuildDelete, Some(guild)) => {
                if session.has_intent(intents::GUILDS) && in_shard(guild, session.shard) {
                    push(session, event.kind.name(), Arc::clone(&full));
                }
                self.unsubscribe(session, guild);
            }
            _ => {
                // An event about a guild (a thread joined, a list synced)
                // belongs to the shard that has the guild.
                let elsewhere = guild.is_some_and(|g| !in_shard(g, session.shard));
                // An event for one session (VOICE_SERVER_UPDATE) skips the others.
                let other_session = event
                    .route
                    .session_id
                    .as_deref()
                    .is_some_and(|id| id != &*session.id);
                if !elsewhere && !other_session && session.has_intent(required_intent(event.kind)) {
                    push(session, event.kind.name(), Arc::clone(&full));
                }
            }
        }
    }

    /// After an event that may change what people see (a role's
    /// permissions, someone's roles, the owner), compares each affected
    /// person's view of the guild's channels with what their client was told
    /// and sends CHANNEL_CREATE for each channel revealed and CHANNEL_DELETE
    /// for each hidden. Bots see every channel and are left alone.
    fn refresh_views(&self, state: &mut GuildState, guild: Snowflake, whose: Whose) {
        let sessions: Vec<_> = self
            .in_guild(guild)
            .into_iter()
            .filter(|s| !s.bot && s.has_intent(intents::GUILDS))
            .filter(|s| match whose {
                Whose::Everyone => true,
                Whose::User(user) => s.user_id == user,
            })
            .collect();
        if sessions.is_empty() {
            return;
        }
        let channels = state.channel_ids();
        for session in sessions {
            for id in &channels {
                let now = state
                    .permissions(session.user_id, Some(*id))
                    .contains(Permissions::VIEW_CHANNEL);
                if session.mark_visible(guild, *id, now) == now {
                    continue;
                }
                let Some(object) = state.channel_object(*id) else {
                    continue;
                };
                let kind = if now {
                    EventKind::ChannelCreate
                } else {
                    EventKind::ChannelDelete
                };
                push(&session, kind.name(), object);
            }
        }
    }
}

/// Where a person's client stands after a channel of theirs was created,
/// edited or deleted (`now`: whether they may view it after): the
/// dispatch to send them, if any. An edit that reveals the channel
/// arrives as CHANNEL_CREATE and one that hides it as CHANNEL_DELETE (the
/// same channel object either way), so their client only ever holds the
/// channels they can view.
fn follow_channel(
    session: &Session,
    guild: Snowflake,
    channel: Snowflake,
    kind: EventKind,
    now: bool,
) -> Option<&'static str> {
    let was = session.mark_visible(guild, channel, now);
    let sent = match (was, now) {
        (true, true) => kind,
        (false, true) => EventKind::ChannelCreate,
        (true, false) => EventKind::ChannelDelete,
        (false, false) => return None,
    };
    Some(sent.name())
}

fn push(session: &Session, kind: &'static str, data: Arc<str>) {
    metrics::counter!("concord_gateway_dispatches_total").increment(1);
    if session.push_event(kind, data) == Pushed::Kicked {
        metrics::counter!("concord_gateway_slow_consumers_total").increment(1);
        tracing::info!(session = %session.id, "slow consumer disconnected");
    }
}

/// The channel a CHANNEL_CREATE/UPDATE/DELETE is about.
fn changed_channel(event: &Event) -> Option<Snowflake> {
    use EventKind::*;
    if !matches!(event.kind, ChannelCreate | ChannelUpdate | ChannelDelete) {
        return None;
    }
    event.route.channel_id
}

/// `data` (a JSON object) with a `guild_id` added, without parsing it.
/// The payloads sent to several guilds at once carry none of their own.
fn with_guild_id(data: &str, guild: Snowflake) -> Arc<str> {
    let rest = data.strip_prefix('{').unwrap_or(data).trim_start();
    let separator = if rest.starts_with('}') { "" } else { "," };
    format!("{{\"guild_id\":\"{guild}\"{separator}{rest}").into()
}

/// Whose view of a guild's channels an event may change.
#[derive(Clone, Copy)]
enum Whose {
    Everyone,
    User(Snowflake),
}

/// Events that may change who can view which channels, besides a channel's
/// own edits (which [`Hub::follow_channel`] handles).
fn views_changed_by(event: &Event) -> Option<Whose> {
    use EventKind::*;
    match event.kind {
        GuildRoleUpdate | GuildRoleDelete | GuildUpdate => Some(Whose::Everyone),
        GuildMemberUpdate => event.route.user_id.map(Whose::User),
        _ => None,
    }
}

/// Whether a message event reaches `session` without its content: a bot
/// session without the MESSAGE_CONTENT intent, unless Discord makes an
/// exception for it (its own message, one mentioning it). Guild messages
/// only: DMs are delivered whole.
fn hides_content(session: &Session, event: &Event) -> bool {
    let route = &event.route;
    session.bot
        && !session.has_intent(intents::MESSAGE_CONTENT)
        && !route.author_id.is_some_and(|author| {
            content_shown_without_intent(session.user_id, author, &route.mentions, false)
        })
}

/// One event's bytes, whole and, for a message, without its content,
/// each shared by every session that gets it.
struct Payload<'a> {
    event: &'a Event,
    full: Arc<str>,
    hidden: Option<Arc<str>>,
}

impl<'a> Payload<'a> {
    fn new(event: &'a Event) -> Payload<'a> {
        Payload {
            event,
            full: Arc::from(event.data.as_str()),
            hidden: None,
        }
    }

    fn hidden(&mut self) -> Option<Arc<str>> {
        let text = self.event.hidden.as_deref()?;
        Some(Arc::clone(
            self.hidden.get_or_insert_with(|| Arc::from(text)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use concord_bus::{EventBus, LocalBus};
    use concord_model::event::NodeId;
    use concord_model::records::{Channel, Guild, Member, Role, User, channel_type};
    use concord_service::ServiceConfig;
    use concord_store::memory::MemoryStore;
    use concord_store::{DEFAULT_BUCKET_MS, GuildStore, MemberStore, NewGuild, UserStore};
    use tokio::sync::Notify;

    use concord_service::access::TokenOwner;

    use super::*;
    use crate::session::Attachment;

    const OWNER: Snowflake = Snowflake(10);
    const GUILD: Snowflake = Snowflake(1);
    const TEXT: Snowflake = Snowflake(2);

    /// A hub over a bus that keeps `capacity` events, and its subscription.
    async fn hub(capacity: usize) -> (Arc<Hub>, Arc<LocalBus>, Subscription) {
        let (hub, bus, events, _) = hub_over_store(capacity).await;
        (hub, bus, events)
    }

    /// As [`hub`], with the store the service uses.
    async fn hub_over_store(
        capacity: usize,
    ) -> (Arc<Hub>, Arc<LocalBus>, Subscription, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::new(DEFAULT_BUCKET_MS));
        store.create_user(&User::new(OWNER, "owner")).await.unwrap();
        let guild = NewGuild {
            guild: Guild::new(GUILD, "g", OWNER),
            roles: vec![Role::everyone(GUILD)],
            channels: vec![Channel::new(TEXT, channel_type::GUILD_TEXT, GUILD, "text")],
            owner: Member::new(GUILD, OWNER, 0),
        };
        store.create_guild(&guild).await.unwrap();
        let bus = Arc::new(LocalBus::new(capacity));
        let config = ServiceConfig::defaults();
        let service = Service::open(store.clone(), bus.clone(), config)
            .await
            .unwrap();
        let events = bus.subscribe().await.unwrap();
        let hub = Arc::new(Hub::new(
            Arc::new(service),
            Arc::clone(events.interest()),
            Arc::default(),
        ));
        (hub, bus, events, store)
    }

    fn owner(id: Snowflake, bot: bool, generation: u64) -> TokenOwner {
        TokenOwner {
            caller: concord_service::Caller { id, bot },
            generation,
        }
    }

    fn attachment(id: u64) -> Attachment {
        Attachment {
            id,
            wake: Arc::new(Notify::new()),
            kick: Arc::new(Notify::new()),
        }
    }

    fn session(id: &str) -> Arc<Session> {
        session_of(id, 0, intents::GUILD_MESSAGES)
    }

    /// An open session of the owner's in the guild, opened with a token of
    /// `generation`.
    fn session_of(id: &str, generation: u64, intents: u64) -> Arc<Session> {
        let session = Session::new(
            id.into(),
            owner(OWNER, true, generation),
            intents,
            [0, 1],
            50,
            Arc::default(),
        );
        session.set_guilds([GUILD]);
        session.open(Vec::new());
        Arc::new(session)
    }

    fn typing() -> Event {
        let data = serde_json::json!({ "channel_id": TEXT, "guild_id": GUILD });
        Event::new(EventKind::TypingStart, in_text(), NodeId(1), &data)
    }

    fn in_text() -> Audience {
        Audience::Guild {
            guild_id: GUILD,
            channel_id: Some(TEXT),
            required: Permissions::NONE,
        }
    }

    fn role_update(permissions: Permissions) -> Event {
        let role = Role {
            permissions,
            ..Role::everyone(GUILD)
        };
        let data = serde_json::json!({
            "guild_id": GUILD,
            "role": concord_model::wire::Role::from(&role),
        });
        let audience = Audience::Guild {
            guild_id: GUILD,
            channel_id: None,
            required: Permissions::NONE,
        };
        Event::new(EventKind::GuildRoleUpdate, audience, NodeId(1), &data)
    }

    /// Waits (boundedly) until `session` numbered `frames` dispatches.
    async fn numbered(session: &Session, frames: u64) {
        let reached = async {
            while session.numbered() < frames {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let waited = tokio::time::timeout(Duration::from_secs(5), reached).await;
        waited.unwrap_or_else(|_| panic!("{} of {frames} frames", session.numbered()));
    }

    /// Once a guild's state is read, delivering its events reads nothing
    /// from the store: a role edit is applied from its own payload, and
    /// the next events follow it.
    #[tokio::test]
    async fn delivery_reads_nothing_once_the_guild_is_loaded() {
        let (hub, bus, events, store) = hub_over_store(64).await;
        let member = Snowflake(20);
        store.create_user(&User::new(member, "m")).await.unwrap();
        store
            .put_member(&Member::new(GUILD, member, 0))
            .await
            .unwrap();
        let session = Session::new(
            "m".into(),
            owner(member, false, 0),
            intents::ALL,
            [0, 1],
            50,
            Arc::default(),
        );
        session.set_guilds([GUILD]);
        session.open(Vec::new());
        let session = Arc::new(session);
        hub.insert(Arc::clone(&session));
        tokio::spawn(Arc::clone(&hub).fan_out(events));
        bus.publish(typing()).await.unwrap();
        numbered(&session, 1).await;

        let before = store.calls();
        let everyone = Permissions::DEFAULT_EVERYONE;
        bus.publish(role_update(everyone.remove(Permissions::VIEW_CHANNEL)))
            .await
            .unwrap();
        bus.publish(typing()).await.unwrap(); // not theirs to see
        bus.publish(role_update(everyone)).await.unwrap(); // and CHANNEL_CREATE
        for _ in 0..20 {
            bus.publish(typing()).await.unwrap();
        }
        numbered(&session, 24).await;
        assert_eq!(store.calls(), before, "no store call while delivering");
        bus.publish(typing()).await.unwrap();
        numbered(&session, 25).await;
        assert_eq!(session.numbered(), 25, "the hidden one was withheld");
    }

    /// TYPING_START in `channel` of `guild`, numbered `id` on the bus.
    fn typing_in(guild: Snowflake, channel: Snowflake, id: u64) -> Arc<Event> {
        let data = serde_json::json!({ "channel_id": channel, "guild_id": guild, "n": id });
        let audience = Audience::Guild {
            guild_id: guild,
            channel_id: Some(channel),
            required: Permissions::NONE,
        };
        let mut event = Event::new(EventKind::TypingStart, audience, NodeId(1), &data);
        event.id = id;
        Arc::new(event)
    }

    /// Runs the loads the dispatcher asked for, as its tasks would.
    async fn run_loads(dispatch: &mut Dispatch) {
        while let Some(load) = dispatch.loads.pop() {
            let done = load.run(&dispatch.hub.service).await;
            dispatch.command(Command::Loaded(Box::new(done)));
        }
    }

    /// While one guild is read, its events wait in order (and the cursor
    /// stays below them) and another guild's go out.
    #[tokio::test]
    async fn a_guild_being_read_holds_its_events_while_others_go_on() {
        let (hub, _bus, _events, store) = hub_over_store(8).await;
        let (other, other_text) = (Snowflake(3), Snowflake(4));
        store
            .create_guild(&NewGuild {
                guild: Guild::new(other, "h", OWNER),
                roles: vec![Role::everyone(other)],
                channels: vec![Channel::new(
                    other_text,
                    channel_type::GUILD_TEXT,
                    other,
                    "t",
                )],
                owner: Member::new(other, OWNER, 0),
            })
            .await
            .unwrap();
        let session = Session::new(
            "o".into(),
            owner(OWNER, false, 0),
            intents::ALL,
            [0, 1],
            50,
            Arc::default(),
        );
        session.set_guilds([GUILD, other]);
        session.open(Vec::new());
        let session = Arc::new(session);
        hub.insert(Arc::clone(&session));
        let mut dispatch = Dispatch::new(Arc::clone(&hub));
        dispatch.event(typing_in(other, other_text, 1));
        run_loads(&mut dispatch).await;
        assert_eq!(session.numbered(), 1);

        dispatch.event(typing_in(GUILD, TEXT, 2));
        dispatch.event(typing_in(GUILD, TEXT, 3));
        assert_eq!(dispatch.loads.len(), 1, "the guild is being read");
        dispatch.event(typing_in(other, other_text, 4));
        assert_eq!(session.numbered(), 2, "the other guild goes on");
        hub.cursor.start(4);
        hub.cursor.finish();
        assert_eq!(hub.cursor.delivered(), 1, "not past the held events");

        run_loads(&mut dispatch).await;
        assert_eq!(hub.cursor.delivered(), 4);
        let frames = session.take_batch(0).unwrap().frames;
        let order: Vec<u64> = frames
            .iter()
            .map(|f| {
                serde_json::from_str::<serde_json::Value>(&f.data).unwrap()["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(order, [1, 4, 2, 3]);
    }

    /// A guild joined: the joining session's GUILD_CREATE is built off
    /// the dispatcher, and the guild's events wait until it is sent.
    #[tokio::test]
    async fn a_joining_session_gets_guild_create_before_the_guilds_events() {
        let (hub, _bus, _events, _store) = hub_over_store(8).await;
        let session = Session::new(
            "o".into(),
            owner(OWNER, false, 0),
            intents::ALL,
            [0, 1],
            50,
            Arc::default(),
        );
        session.open(Vec::new());
        let session = Arc::new(session);
        hub.insert(Arc::clone(&session));
        let mut dispatch = Dispatch::new(Arc::clone(&hub));
        let data = serde_json::json!({ "id": GUILD });
        let mut joined = Event::new(
            EventKind::GuildCreate,
            Audience::Users(vec![OWNER]),
            NodeId(1),
            &data,
        );
        joined.id = 1;
        dispatch.event(Arc::new(joined));
        dispatch.event(typing_in(GUILD, TEXT, 2));
        assert_eq!(
            session.numbered(),
            0,
            "nothing before GUILD_CREATE is built"
        );
        assert_eq!(dispatch.loads.len(), 1);
        run_loads(&mut dispatch).await;
        let frames = session.take_batch(0).unwrap().frames;
        let kinds: Vec<&str> = frames.iter().map(|f| &*f.kind).collect();
        assert_eq!(kinds, ["GUILD_CREATE", "TYPING_START"]);
        assert_eq!(session.guilds(), [GUILD]);
    }

    fn held(events: &Subscription) -> HashSet<Topic> {
        events.interest().topics().into_iter().collect()
    }

    #[test]
    fn a_guild_id_is_added_without_parsing() {
        let added = |data: &str| -> serde_json::Value {
            serde_json::from_str(&with_guild_id(data, GUILD)).unwrap()
        };
        assert_eq!(added("{}"), serde_json::json!({ "guild_id": "1" }));
        assert_eq!(
            added(r#"{"user":{"id":"10"}}"#),
            serde_json::json!({ "guild_id": "1", "user": { "id": "10" } })
        );
    }

    #[tokio::test]
    async fn the_subscription_holds_what_local_sessions_need() {
        let (hub, _bus, events) = hub(8).await;
        assert!(held(&events).is_empty());
        hub.insert(session("a"));
        hub.insert(session("b"));
        let both = HashSet::from([Topic::Guild(GUILD), Topic::User(OWNER)]);
        assert_eq!(held(&events), both);
        hub.remove("a");
        assert_eq!(held(&events), both, "b still needs them");
        hub.remove("b");
        assert!(held(&events).is_empty());
    }

    /// A hub that falls behind the bus's history cannot know what its
    /// sessions missed: each is told to reconnect and cannot resume.
    #[tokio::test(flavor = "current_thread")]
    async fn a_gap_makes_every_session_start_afresh() {
        let (hub, bus, events) = hub(2).await;
        let (attached, detached) = (session("attached"), session("detached"));
        hub.insert(Arc::clone(&attached));
        hub.insert(Arc::clone(&detached));
        let connection = attachment(1);
        attached.attach(connection.clone());
        // Three events before the dispatcher runs: the first is gone.
        for _ in 0..3 {
            bus.publish(typing()).await.unwrap();
        }
        tokio::spawn(Arc::clone(&hub).fan_out(events));
        let kicked = tokio::time::timeout(Duration::from_secs(5), connection.kick.notified());
        kicked.await.expect("the connection is let go");
        assert!(attached.take_reconnect(), "with op 7 first");
        assert!(attached.is_broken(), "and no resume");
        assert!(detached.is_broken());
        // The connection of an identify under way is told as it attaches.
        let late = attachment(4);
        detached.attach(late.clone());
        let kicked = tokio::time::timeout(Duration::from_secs(5), late.kick.notified());
        kicked.await.expect("told as it attaches");
    }

    /// A revocation ends the sessions opened with the tokens it revoked,
    /// not one opened with a new token before the event arrived (the
    /// client of a password change identifies with the token it got).
    #[tokio::test]
    async fn a_revocation_spares_a_session_of_the_new_token() {
        let (hub, bus, events) = hub(64).await;
        let old = session_of("old", 4, intents::ALL);
        let new = session_of("new", 5, intents::ALL);
        hub.insert(Arc::clone(&old));
        hub.insert(Arc::clone(&new));
        tokio::spawn(Arc::clone(&hub).fan_out(events));
        let data = serde_json::to_value(Revocation { generation: 5 }).unwrap();
        let audience = Audience::Users(vec![OWNER]);
        let revoked = Event::new(EventKind::SessionsRevoked, audience, NodeId(1), &data);
        bus.publish(revoked).await.unwrap();
        // A typing event after it: once it is numbered, the revocation was applied.
        bus.publish(typing()).await.unwrap();
        numbered(&new, 1).await;
        assert!(old.is_revoked(), "the old token's session ends");
        assert!(!new.is_revoked(), "the new token's session stays");
    }
}
