//! The node's sessions and the fan-out. One bus subscription per node feeds
//! one dispatcher task, which routes each event to the sessions that may
//! receive it: by guild membership, shard, intents and, for channel events,
//! the recipient's VIEW_CHANNEL there. The subscription hears only the
//! topics the node's sessions need: a guild from its first local session
//! there until its last leaves, and each user with a local session (their
//! DMs and what is sent to them alone). Routing reads the event's typed
//! route, never its payload. When the bus reports a gap, every session of
//! the node is told to reconnect (op 7) and stores nothing more, since
//! what it missed is unknown: its RESUME replays the bus history from what
//! the session directory holds, or fails (op 9) where that history no
//! longer reaches. A person's session also follows
//! which channels they can view: channel lifecycle events reach them only
//! for those, as CHANNEL_CREATE or CHANNEL_DELETE when their view changes
//! (bots get every channel). Each event is serialized once (and once more
//! without message content, if a recipient needs that); every session
//! shares those bytes.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use concord_bus::{Delivery, Interest, Subscription, Topic};
use concord_model::event::{Audience, Event, EventKind};
use concord_model::records::Member;
use concord_model::wire::content_shown_without_intent;
use concord_model::{Permissions, Snowflake};
use concord_service::Service;
use concord_service::sessions::GuildSnapshot;

use crate::protocol::{in_shard, intents, required_intent, required_private_intent};
use crate::session::{Pushed, Session};

#[derive(Default)]
struct Index {
    sessions: HashMap<Arc<str>, Arc<Session>>,
    by_guild: Sessions,
    by_user: Sessions,
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
}

/// What permissions are computed from, per guild; what an event there may
/// change is dropped ([`invalidate`]).
type PermissionCache = HashMap<Snowflake, GuildPermissions>;

/// One guild's snapshot, the members asked about, and what was computed:
/// after the first delivery, permissions come from memory.
#[derive(Default)]
struct GuildPermissions {
    /// Read on first use; `Some(None)` if the guild is gone.
    snapshot: Option<Option<GuildSnapshot>>,
    /// Kept across events but their own (and role deletions).
    members: HashMap<Snowflake, Option<Member>>,
    /// Per (channel, or the guild's own id for guild-wide, and user).
    computed: HashMap<(Snowflake, Snowflake), Permissions>,
}

impl Hub {
    pub(crate) fn new(service: Arc<Service>, interest: Arc<dyn Interest>) -> Hub {
        Hub {
            service,
            index: RwLock::new(Index::default()),
            interest,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a session in the guilds it was given.
    pub(crate) fn insert(&self, session: Arc<Session>) {
        let mut index = self.write();
        let mut first = Vec::new();
        for guild in session.guilds() {
            if join(&mut index.by_guild, guild, &session.id) {
                first.push(Topic::Guild(guild));
            }
        }
        if join(&mut index.by_user, session.user_id, &session.id) {
            first.push(Topic::User(session.user_id));
        }
        index.sessions.insert(Arc::clone(&session.id), session);
        if !first.is_empty() {
            self.interest.add(&first);
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
        for guild in session.guilds() {
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
    }

    pub(crate) fn all(&self) -> Vec<Arc<Session>> {
        self.read().sessions.values().cloned().collect()
    }

    pub(crate) fn count(&self) -> usize {
        self.read().sessions.len()
    }

    fn subscribe(&self, session: &Session, guild: Snowflake) {
        if session.add_guild(guild) && join(&mut self.write().by_guild, guild, &session.id) {
            self.interest.add(&[Topic::Guild(guild)]);
        }
    }

    fn unsubscribe(&self, session: &Session, guild: Snowflake) {
        session.remove_guild(guild);
        let mut index = self.write();
        if leave(&mut index.by_guild, guild, &session.id) {
            self.interest.remove(&[Topic::Guild(guild)]);
        }
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

    /// The dispatcher: runs until the bus closes.
    pub(crate) async fn fan_out(self: Arc<Self>, mut events: Subscription) {
        let mut permissions = PermissionCache::new();
        while let Some(delivery) = events.next().await {
            match delivery {
                Delivery::Event(event) => self.deliver(&event, &mut permissions).await,
                Delivery::Gap { after } => {
                    permissions.clear();
                    self.lost(after);
                }
            }
        }
    }

    /// Routes `events` as the fan-out does, but to `session` alone, in a
    /// hub of its own: a session taken over from another node catches up
    /// on the events its old holder never handled.
    pub(crate) async fn replay_to(&self, session: &Arc<Session>, events: &[Arc<Event>]) {
        let solo = Hub::new(
            Arc::clone(&self.service),
            Arc::new(crate::resume::NoInterest),
        );
        solo.insert(Arc::clone(session));
        let mut permissions = PermissionCache::new();
        for event in events {
            solo.deliver(event, &mut permissions).await;
        }
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

    async fn deliver(&self, event: &Event, permissions: &mut PermissionCache) {
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
                    self.deliver_to_user(event, &session, &mut payload).await;
                }
            }
            Audience::Guilds { guild_ids, about } => {
                self.deliver_once_per_session(event, guild_ids, *about, &mut payload)
            }
            Audience::Guild {
                guild_id,
                channel_id,
                required,
            } => {
                invalidate(permissions, *guild_id, event);
                let changed_channel = changed_channel(event);
                for session in self.in_guild(*guild_id) {
                    if !session.has_intent(required_intent(event.kind)) {
                        continue;
                    }
                    if let Some(channel) = changed_channel
                        && !session.bot
                    {
                        let sent = self
                            .follow_channel(permissions, &session, *guild_id, channel, event.kind)
                            .await;
                        if let Some(kind) = sent {
                            push(&session, kind, Arc::clone(&payload.full));
                        }
                        continue;
                    }
                    if channel_id.is_none() && *required != Permissions::NONE {
                        let held = self
                            .permissions(permissions, &session, *guild_id, None)
                            .await;
                        if !held.contains(*required) {
                            continue;
                        }
                    }
                    if let Some(channel) = channel_id {
                        let held = self
                            .permissions(permissions, &session, *guild_id, Some(*channel))
                            .await;
                        if !held.contains(Permissions::VIEW_CHANNEL | *required) {
                            continue;
                        }
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
                if let Some(whose) = views_changed_by(event) {
                    self.refresh_views(permissions, *guild_id, whose).await;
                }
            }
        }
    }

    /// One frame per session across `guilds`, naming the first guild it
    /// shares with the event (serialized once per guild, not per session).
    fn deliver_once_per_session(
        &self,
        event: &Event,
        guilds: &[Snowflake],
        about: Snowflake,
        payload: &mut Payload<'_>,
    ) {
        let mut reached = HashSet::new();
        for guild in guilds {
            let mut framed: Option<Arc<str>> = None;
            for session in self.in_guild(*guild) {
                if session.user_id == about
                    || !reached.insert(Arc::clone(&session.id))
                    || !session.has_intent(required_intent(event.kind))
                {
                    continue;
                }
                let data = framed.get_or_insert_with(|| with_guild_id(&payload.full, *guild));
                push(&session, event.kind.name(), Arc::clone(data));
            }
        }
    }

    /// Events aimed at users. Joining a guild subscribes their sessions (and
    /// each gets a GUILD_CREATE shaped for it); leaving unsubscribes them.
    async fn deliver_to_user(&self, event: &Event, session: &Session, payload: &mut Payload<'_>) {
        let full = Arc::clone(&payload.full);
        // The guild joined or left, or the one an event is about.
        let guild = event.route.guild_id;
        match (event.kind, guild) {
            (EventKind::SessionsRevoked, _) => session.revoke(),
            (EventKind::GuildCreate, Some(guild)) => {
                if !in_shard(guild, session.shard) {
                    return;
                }
                self.subscribe(session, guild);
                if !session.has_intent(intents::GUILDS) {
                    return;
                }
                let all = session.has_intent(intents::GUILD_PRESENCES);
                let built = self
                    .service
                    .guild_create(guild, session.user_id, session.large_threshold, all)
                    .await;
                if let Ok(Some(payload)) = built
                    && let Ok(json) = serde_json::to_string(&payload)
                {
                    session.add_visible(guild, payload.channels.iter().map(|c| c.id));
                    push(session, event.kind.name(), json.into());
                }
            }
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
                if !elsewhere && session.has_intent(required_intent(event.kind)) {
                    push(session, event.kind.name(), Arc::clone(&full));
                }
            }
        }
    }

    /// Where a person's client stands after a channel of theirs was created,
    /// edited or deleted: the dispatch to send them, if any. An edit that
    /// reveals the channel arrives as CHANNEL_CREATE and one that hides it
    /// as CHANNEL_DELETE (the same channel object either way), so their
    /// client only ever holds the channels they can view.
    async fn follow_channel(
        &self,
        cache: &mut PermissionCache,
        session: &Session,
        guild: Snowflake,
        channel: Snowflake,
        kind: EventKind,
    ) -> Option<&'static str> {
        let now = kind != EventKind::ChannelDelete
            && self
                .permissions(cache, session, guild, Some(channel))
                .await
                .contains(Permissions::VIEW_CHANNEL);
        let was = session.mark_visible(guild, channel, now);
        let sent = match (was, now) {
            (true, true) => kind,
            (false, true) => EventKind::ChannelCreate,
            (true, false) => EventKind::ChannelDelete,
            (false, false) => return None,
        };
        Some(sent.name())
    }

    /// After an event that may change what people see (a role's
    /// permissions, someone's roles, the owner), compares each affected
    /// person's view of the guild's channels with what their client was told
    /// and sends CHANNEL_CREATE for each channel revealed and CHANNEL_DELETE
    /// for each hidden. Bots see every channel and are left alone.
    async fn refresh_views(&self, cache: &mut PermissionCache, guild: Snowflake, whose: Whose) {
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
        // In id order: stable, and a category made before its channels comes first.
        let mut channels: Vec<Snowflake> = match self.snapshot(cache, guild).await {
            Some(snapshot) => snapshot.channels.keys().copied().collect(),
            None => return,
        };
        channels.sort_unstable();
        // Each channel's object is read once, and only if someone's view of it changed.
        let mut objects: HashMap<Snowflake, Option<Arc<str>>> = HashMap::new();
        for session in sessions {
            for id in &channels {
                let now = self
                    .permissions(cache, &session, guild, Some(*id))
                    .await
                    .contains(Permissions::VIEW_CHANNEL);
                if session.mark_visible(guild, *id, now) == now {
                    continue;
                }
                if let Entry::Vacant(slot) = objects.entry(*id) {
                    let object = self.service.channel_object(*id).await.ok().flatten();
                    slot.insert(object.map(Arc::from));
                }
                let Some(Some(object)) = objects.get(id) else {
                    continue;
                };
                let kind = if now {
                    EventKind::ChannelCreate
                } else {
                    EventKind::ChannelDelete
                };
                push(&session, kind.name(), Arc::clone(object));
            }
        }
    }

    /// The guild's snapshot, read if not yet cached.
    async fn snapshot<'a>(
        &self,
        cache: &'a mut PermissionCache,
        guild: Snowflake,
    ) -> Option<&'a GuildSnapshot> {
        let entry = cache.entry(guild).or_default();
        if entry.snapshot.is_none() {
            match self.service.guild_snapshot(guild).await {
                Ok(snapshot) => entry.snapshot = Some(snapshot),
                Err(e) => {
                    tracing::error!(error = %e, "channel views not refreshed");
                    return None;
                }
            }
        }
        entry.snapshot.as_ref().and_then(Option::as_ref)
    }

    /// A session's permissions in a channel, or guild-wide with `None`;
    /// computed in memory from the guild's snapshot, read once until an
    /// event in the guild may change them (a thread asks the service, as
    /// its permissions need its membership).
    async fn permissions(
        &self,
        cache: &mut PermissionCache,
        session: &Session,
        guild: Snowflake,
        channel: Option<Snowflake>,
    ) -> Permissions {
        let user = session.user_id;
        // Guild-wide permissions are cached under the guild's own id.
        let key = (channel.unwrap_or(guild), user);
        let entry = cache.entry(guild).or_default();
        if let Some(p) = entry.computed.get(&key) {
            return *p;
        }
        let loaded = self.load(entry, guild, user).await;
        let computed = match loaded {
            Err(e) => {
                tracing::error!(error = %e, "permission check failed; event withheld");
                return Permissions::NONE;
            }
            Ok(None) => Permissions::NONE,
            Ok(Some((snapshot, member))) => match channel {
                None => snapshot.base(member),
                Some(channel) => match snapshot.in_channel(member, channel) {
                    Some(p) => p,
                    None => {
                        let asked = self.service.channel_permissions(user, guild, channel);
                        match asked.await {
                            Ok(p) => p,
                            Err(e) => {
                                tracing::error!(error = %e, "permission check failed; event withheld");
                                return Permissions::NONE;
                            }
                        }
                    }
                },
            },
        };
        entry.computed.insert(key, computed);
        computed
    }

    /// The guild's snapshot and the user's membership, read if not yet
    /// cached; `None` if either is gone.
    async fn load<'a>(
        &self,
        entry: &'a mut GuildPermissions,
        guild: Snowflake,
        user: Snowflake,
    ) -> Result<Option<(&'a GuildSnapshot, &'a Member)>, concord_service::ServiceError> {
        if entry.snapshot.is_none() {
            entry.snapshot = Some(self.service.guild_snapshot(guild).await?);
        }
        if let Entry::Vacant(slot) = entry.members.entry(user) {
            slot.insert(self.service.guild_member(guild, user).await?);
        }
        let snapshot = entry.snapshot.as_ref().and_then(Option::as_ref);
        let member = entry.members.get(&user).and_then(Option::as_ref);
        Ok(snapshot.zip(member))
    }
}

fn push(session: &Session, kind: &'static str, data: Arc<str>) {
    metrics::counter!("concord_gateway_dispatches_total").increment(1);
    if session.push(kind, data) == Pushed::Kicked {
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

/// Drops what an event in a guild made stale in its permission cache.
fn invalidate(cache: &mut PermissionCache, guild: Snowflake, event: &Event) {
    use EventKind::*;
    let Some(entry) = cache.get_mut(&guild) else {
        return;
    };
    match event.kind {
        // One member changed: only their permissions.
        GuildMemberAdd | GuildMemberUpdate | GuildMemberRemove => match event.route.user_id {
            Some(user) => {
                entry.members.remove(&user);
                entry.computed.retain(|(_, u), _| *u != user);
            }
            None => {
                cache.remove(&guild);
            }
        },
        // Deleting a role edits members' role lists without events of their own.
        GuildDelete | GuildRoleDelete => {
            cache.remove(&guild);
        }
        GuildUpdate | GuildRoleCreate | GuildRoleUpdate | ChannelCreate | ChannelUpdate
        | ChannelDelete => {
            entry.snapshot = None;
            entry.computed.clear();
        }
        // Threads are not in the snapshot; their permissions are recomputed.
        ThreadCreate | ThreadUpdate | ThreadDelete | ThreadMembersUpdate => entry.computed.clear(),
        _ => {}
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
    use concord_model::records::{Channel, Guild, Role, User, channel_type};
    use concord_service::ServiceConfig;
    use concord_store::memory::MemoryStore;
    use concord_store::{DEFAULT_BUCKET_MS, GuildStore, NewGuild, UserStore};
    use tokio::sync::Notify;

    use super::*;
    use crate::session::Attachment;

    const OWNER: Snowflake = Snowflake(10);
    const GUILD: Snowflake = Snowflake(1);
    const TEXT: Snowflake = Snowflake(2);

    /// A hub over a bus that keeps `capacity` events, and its subscription.
    async fn hub(capacity: usize) -> (Arc<Hub>, Arc<LocalBus>, Subscription) {
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
        let service = Service::open(store, bus.clone(), config).await.unwrap();
        let events = bus.subscribe().await.unwrap();
        let hub = Arc::new(Hub::new(Arc::new(service), Arc::clone(events.interest())));
        (hub, bus, events)
    }

    fn attachment(id: u64) -> Attachment {
        Attachment {
            id,
            wake: Arc::new(Notify::new()),
            kick: Arc::new(Notify::new()),
        }
    }

    fn session(id: &str) -> Arc<Session> {
        let session = Session::new(
            id.into(),
            OWNER,
            true,
            intents::GUILD_MESSAGES,
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
}
