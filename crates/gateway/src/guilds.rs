//! What the fan-out computes permissions from, per guild, in the node's
//! memory: the guild's owner, its roles, its channels with their
//! overwrites, the threads heard of (parent and type), and the members
//! with a session on this node (roles and timeout) with the private
//! threads they follow. A guild's state is read from the store when a
//! local session first needs it, off the dispatcher ([`load`]), and then
//! kept current by applying each event's payload, parsed once per event
//! ([`Change::of`]): every change to these records is announced on the
//! bus, so delivering an event reads nothing. It is a cache of store
//! state that every node keeps for itself; after a gap it is read again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use concord_model::event::{Event, EventKind};
use concord_model::records::{Channel, Guild, Member, Role, channel_type};
use concord_model::timestamp::parse_iso8601;
use concord_model::{Permissions, Snowflake};
use concord_service::access::permissions::MemberContext;
use concord_service::{Service, ServiceResult};
use serde::Deserialize;

/// One guild as the fan-out sees it.
pub(crate) struct GuildState {
    guild: Guild,
    roles: Vec<Role>,
    /// The guild's channels (threads aside), each with its newest message
    /// and its object as clients get it (rendered when first needed).
    channels: HashMap<Snowflake, Known>,
    /// Threads heard of; `None` for an id that is no thread of the guild.
    threads: HashMap<Snowflake, Option<Thread>>,
    /// Members asked about (those with a session here); `None` for a user
    /// who is not one.
    members: HashMap<Snowflake, Option<Member>>,
    /// (thread, user): who follows which private thread, for the members
    /// kept here.
    joined: HashSet<(Snowflake, Snowflake)>,
    /// Per (channel, or the guild's own id for guild-wide, and user);
    /// cleared by any change.
    computed: HashMap<(Snowflake, Snowflake), Permissions>,
}

struct Known {
    channel: Channel,
    /// As the last event about the channel or in it said (unknown for a
    /// channel read with the guild until a message arrives).
    last_message: Option<Snowflake>,
    object: Option<Arc<str>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Thread {
    parent: Snowflake,
    private: bool,
}

/// What must be read before an event of the guild can be delivered.
#[derive(Default, Debug, PartialEq)]
pub(crate) struct Needs {
    pub(crate) members: Vec<Snowflake>,
    pub(crate) threads: Vec<Snowflake>,
}

impl Needs {
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.threads.is_empty()
    }
}

/// What a load read: the guild itself on its first load (`None` inside
/// when it is gone), then members and threads as they are needed.
#[derive(Default)]
pub(crate) struct Loaded {
    pub(crate) guild: Option<Option<GuildBase>>,
    pub(crate) members: Vec<(Snowflake, Option<Member>)>,
    /// A thread, and which of the users asked about follow it (private).
    pub(crate) threads: Vec<(Snowflake, Option<Thread>, Vec<Snowflake>)>,
}

pub(crate) struct GuildBase {
    guild: Guild,
    roles: Vec<Role>,
    channels: Vec<Channel>,
}

/// Reads what `needs` says of `guild` (and the guild itself if `first`).
/// Runs in a task of its own, never in the dispatcher.
pub(crate) async fn load(
    service: &Service,
    guild: Snowflake,
    first: bool,
    needs: &Needs,
    users: &[Snowflake],
) -> ServiceResult<Loaded> {
    let mut loaded = Loaded::default();
    if first {
        let snapshot = service.guild_snapshot(guild).await?;
        loaded.guild = Some(snapshot.map(|s| GuildBase {
            guild: s.guild,
            roles: s.roles,
            channels: s.channels.into_values().collect(),
        }));
    }
    for user in &needs.members {
        loaded
            .members
            .push((*user, service.guild_member(guild, *user).await?));
    }
    for id in &needs.threads {
        let object = service.channel_object(*id).await?;
        let channel = object.and_then(|o| serde_json::from_str::<Channel>(&o).ok());
        let thread = channel.and_then(|c| thread_of(&c, guild));
        let mut joined = Vec::new();
        if thread.is_some_and(|t| t.private) {
            // Whoever sees a private thread follows it or manages threads:
            // either way the thread's rule grants what it grants a follower.
            for user in users {
                let held = service.channel_permissions(*user, guild, *id).await?;
                if held.contains(Permissions::VIEW_CHANNEL) {
                    joined.push(*user);
                }
            }
        }
        loaded.threads.push((*id, thread, joined));
    }
    Ok(loaded)
}

/// A thread of `guild`, if the channel is one.
fn thread_of(channel: &Channel, guild: Snowflake) -> Option<Thread> {
    if !channel.is_thread() || channel.guild_id != Some(guild) {
        return None;
    }
    Some(Thread {
        parent: channel.parent_id?,
        private: channel.kind == channel_type::PRIVATE_THREAD,
    })
}

impl GuildState {
    /// The state a first load read; `None` if the guild is gone.
    pub(crate) fn new(base: GuildBase) -> GuildState {
        GuildState {
            guild: base.guild,
            roles: base.roles,
            channels: base
                .channels
                .into_iter()
                .map(|channel| {
                    let known = Known {
                        channel,
                        last_message: None,
                        object: None,
                    };
                    (known.channel.id, known)
                })
                .collect(),
            threads: HashMap::new(),
            members: HashMap::new(),
            joined: HashSet::new(),
            computed: HashMap::new(),
        }
    }

    /// Adds what a later load read. Something an event set meanwhile is
    /// not there to overwrite: loads start only while the guild's events
    /// are held, and those are applied after.
    pub(crate) fn install(&mut self, loaded: Loaded) {
        for (user, member) in loaded.members {
            self.members.insert(user, member);
        }
        for (id, thread, joined) in loaded.threads {
            self.threads.insert(id, thread);
            self.joined
                .extend(joined.into_iter().map(|user| (id, user)));
        }
        self.computed.clear();
    }

    /// What must be read before `users` (given without repeats) can be
    /// told of something in `channel` (or guild-wide with `None`).
    pub(crate) fn needs(
        &self,
        users: impl IntoIterator<Item = Snowflake>,
        channel: Option<Snowflake>,
    ) -> Needs {
        let unknown_thread = channel.filter(|channel| {
            *channel != self.guild.id
                && !self.channels.contains_key(channel)
                && !self.threads.contains_key(channel)
        });
        Needs {
            members: users
                .into_iter()
                .filter(|user| !self.members.contains_key(user))
                .collect(),
            threads: unknown_thread.into_iter().collect(),
        }
    }

    /// Users asked about whose private-thread memberships are kept.
    pub(crate) fn users(&self) -> Vec<Snowflake> {
        self.members.keys().copied().collect()
    }

    /// The guild's channels (threads aside), in id order: stable, and a
    /// category made before its channels comes first.
    pub(crate) fn channel_ids(&self) -> Vec<Snowflake> {
        let mut ids: Vec<_> = self.channels.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// A channel's object as its clients get it.
    pub(crate) fn channel_object(&mut self, id: Snowflake) -> Option<Arc<str>> {
        let known = self.channels.get_mut(&id)?;
        let object = known.object.get_or_insert_with(|| {
            let wire = concord_model::wire::Channel::new(&known.channel, known.last_message);
            serde_json::to_string(&wire).unwrap_or_default().into()
        });
        Some(Arc::clone(object))
    }

    /// A user's permissions in a channel or thread of the guild, or
    /// guild-wide with `None`; nothing for what is not known (a user who
    /// is no member, a channel that is gone).
    pub(crate) fn permissions(
        &mut self,
        user: Snowflake,
        channel: Option<Snowflake>,
    ) -> Permissions {
        let key = (channel.unwrap_or(self.guild.id), user);
        if let Some(p) = self.computed.get(&key) {
            return *p;
        }
        let computed = self.compute(user, channel);
        self.computed.insert(key, computed);
        computed
    }

    fn compute(&self, user: Snowflake, channel: Option<Snowflake>) -> Permissions {
        let Some(Some(member)) = self.members.get(&user) else {
            return Permissions::NONE;
        };
        let context = MemberContext {
            guild: &self.guild,
            roles: &self.roles,
            member,
            now_ms: concord_model::snowflake::now_ms(),
        };
        let Some(channel) = channel else {
            return context.base();
        };
        if let Some(known) = self.channels.get(&channel) {
            return context.in_channel(&known.channel);
        }
        let Some(Some(thread)) = self.threads.get(&channel) else {
            return Permissions::NONE;
        };
        let Some(parent) = self.channels.get(&thread.parent) else {
            return Permissions::NONE;
        };
        let joined = thread.private && self.joined.contains(&(channel, user));
        context.in_thread(&parent.channel, thread.private, joined)
    }

    /// Applies what an event of the guild changed.
    pub(crate) fn apply(&mut self, change: &Change) {
        match change {
            Change::None | Change::Unreadable => return,
            // Changes no one's permissions: nothing computed is dropped.
            Change::Message { channel, id } => {
                if let Some(known) = self.channels.get_mut(channel) {
                    known.last_message = Some(*id);
                    known.object = None;
                }
                return;
            }
            Change::Owner(owner) => self.guild.owner_id = *owner,
            Change::Role(role) => {
                let role = Role {
                    guild_id: self.guild.id,
                    ..role.clone()
                };
                match self.roles.iter_mut().find(|r| r.id == role.id) {
                    Some(slot) => *slot = role,
                    None => self.roles.push(role),
                }
            }
            Change::RoleGone(id) => {
                self.roles.retain(|r| r.id != *id);
                // Taken from every member in the store, without events of their own.
                for member in self.members.values_mut().flatten() {
                    member.roles.retain(|r| r != id);
                }
            }
            Change::Channel(channel, last_message) => {
                let known = Known {
                    channel: Channel::clone(channel),
                    last_message: *last_message,
                    object: None,
                };
                self.channels.insert(channel.id, known);
            }
            Change::ChannelGone(id) => {
                self.channels.remove(id);
                self.threads
                    .retain(|_, t| t.is_none_or(|t| t.parent != *id));
            }
            Change::Member(member) => {
                // Only those asked about are kept: a member with no session
                // here is read when one connects.
                if let Some(slot) = self.members.get_mut(&member.user_id) {
                    let joined_at_ms = slot.as_ref().map_or(0, |m| m.joined_at_ms);
                    *slot = Some(Member {
                        guild_id: self.guild.id,
                        joined_at_ms: member.joined_at_ms.max(joined_at_ms),
                        ..member.clone()
                    });
                }
            }
            Change::MemberGone(user) => {
                if let Some(slot) = self.members.get_mut(user) {
                    *slot = None;
                }
                self.joined.retain(|(_, u)| u != user);
            }
            Change::Thread { id, thread, owner } => {
                self.threads.insert(*id, *thread);
                // A private thread's creator follows it from the start;
                // THREAD_MEMBERS_UPDATE says so only after THREAD_CREATE.
                if let (Some(thread), Some(owner)) = (thread, owner)
                    && thread.private
                {
                    self.joined.insert((*id, *owner));
                }
            }
            Change::ThreadGone(id) => {
                self.threads.remove(id);
                self.joined.retain(|(t, _)| t != id);
            }
            Change::ThreadMembers {
                thread,
                added,
                removed,
            } => {
                for user in added {
                    self.joined.insert((*thread, *user));
                }
                for user in removed {
                    self.joined.remove(&(*thread, *user));
                }
            }
        }
        self.computed.clear();
    }
}

/// What an event changes in its guild's state, read from its payload once.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    None,
    /// The payload did not parse: the state must be read again.
    Unreadable,
    Owner(Snowflake),
    Role(Role),
    RoleGone(Snowflake),
    /// A channel (boxed: the largest of the changes by far), and its
    /// newest message as the event says.
    Channel(Box<Channel>, Option<Snowflake>),
    /// A message sent in a channel.
    Message {
        channel: Snowflake,
        id: Snowflake,
    },
    ChannelGone(Snowflake),
    Member(Member),
    MemberGone(Snowflake),
    Thread {
        id: Snowflake,
        thread: Option<Thread>,
        owner: Option<Snowflake>,
    },
    ThreadGone(Snowflake),
    ThreadMembers {
        thread: Snowflake,
        added: Vec<Snowflake>,
        removed: Vec<Snowflake>,
    },
}

/// A channel object (CHANNEL_CREATE/UPDATE/DELETE): the record's fields
/// carry the wire's names.
#[derive(Deserialize)]
struct ChannelPayload {
    #[serde(flatten)]
    channel: Channel,
    #[serde(default)]
    last_message_id: Option<Snowflake>,
}

/// The `d` of GUILD_ROLE_CREATE/UPDATE.
#[derive(Deserialize)]
struct RoleEvent {
    role: RolePayload,
}

/// A role object: what permissions need of it.
#[derive(Deserialize)]
struct RolePayload {
    id: Snowflake,
    #[serde(default)]
    name: String,
    permissions: Permissions,
    #[serde(default)]
    position: i32,
}

/// The `d` of GUILD_ROLE_DELETE.
#[derive(Deserialize)]
struct RoleDeleted {
    role_id: Snowflake,
}

/// A guild object (GUILD_UPDATE): who owns it.
#[derive(Deserialize)]
struct GuildPayload {
    owner_id: Snowflake,
}

/// A member object (GUILD_MEMBER_ADD/UPDATE), or the user of
/// GUILD_MEMBER_REMOVE.
#[derive(Deserialize)]
struct MemberPayload {
    user: UserPayload,
    #[serde(default)]
    roles: Vec<Snowflake>,
    #[serde(default)]
    joined_at: Option<String>,
    #[serde(default)]
    communication_disabled_until: Option<String>,
}

#[derive(Deserialize)]
struct UserPayload {
    id: Snowflake,
}

#[derive(Deserialize)]
struct MemberRemoved {
    user: UserPayload,
}

/// A thread object (THREAD_CREATE/UPDATE/DELETE): what it hangs from.
#[derive(Deserialize)]
struct ThreadPayload {
    id: Snowflake,
    #[serde(rename = "type")]
    kind: u8,
    parent_id: Option<Snowflake>,
    #[serde(default)]
    owner_id: Option<Snowflake>,
}

/// The `d` of THREAD_MEMBERS_UPDATE.
#[derive(Deserialize)]
struct ThreadMembersPayload {
    id: Snowflake,
    #[serde(default)]
    added_members: Vec<AddedMember>,
    #[serde(default)]
    removed_member_ids: Vec<Snowflake>,
}

#[derive(Deserialize)]
struct AddedMember {
    user_id: Snowflake,
}

impl Change {
    /// What `event` (one of the guild's, to its members) changes. The
    /// service writes these payloads from the same wire types; one that
    /// does not parse is logged and the guild read again.
    pub(crate) fn of(event: &Event) -> Change {
        use EventKind::*;
        let data = event.data.as_str();
        let parsed = match event.kind {
            GuildUpdate => parse::<GuildPayload>(data).map(|g| Change::Owner(g.owner_id)),
            GuildRoleCreate | GuildRoleUpdate => parse::<RoleEvent>(data).map(|e| {
                Change::Role(Role {
                    id: e.role.id,
                    guild_id: Snowflake(0),
                    name: e.role.name,
                    permissions: e.role.permissions,
                    position: e.role.position,
                    color: 0,
                    hoist: false,
                    mentionable: false,
                    bot_id: None,
                })
            }),
            GuildRoleDelete => parse::<RoleDeleted>(data).map(|e| Change::RoleGone(e.role_id)),
            ChannelCreate | ChannelUpdate => parse::<ChannelPayload>(data)
                .map(|c| Change::Channel(Box::new(c.channel), c.last_message_id)),
            ChannelDelete => parse::<Channel>(data).map(|c| Change::ChannelGone(c.id)),
            // Read from the route: a message's payload is never parsed.
            MessageCreate => match (event.route.channel_id, event.route.id) {
                (Some(channel), Some(id)) => Some(Change::Message { channel, id }),
                _ => Some(Change::None),
            },
            GuildMemberAdd | GuildMemberUpdate => parse::<MemberPayload>(data).map(|m| {
                Change::Member(Member {
                    guild_id: Snowflake(0),
                    user_id: m.user.id,
                    nick: None,
                    roles: m.roles,
                    joined_at_ms: m.joined_at.as_deref().and_then(parse_iso8601).unwrap_or(0),
                    deaf: false,
                    mute: false,
                    communication_disabled_until_ms: m
                        .communication_disabled_until
                        .as_deref()
                        .and_then(parse_iso8601),
                })
            }),
            GuildMemberRemove => {
                parse::<MemberRemoved>(data).map(|m| Change::MemberGone(m.user.id))
            }
            ThreadCreate | ThreadUpdate => parse::<ThreadPayload>(data).map(|t| Change::Thread {
                id: t.id,
                thread: t.parent_id.map(|parent| Thread {
                    parent,
                    private: t.kind == channel_type::PRIVATE_THREAD,
                }),
                owner: t.owner_id,
            }),
            ThreadDelete => parse::<ThreadPayload>(data).map(|t| Change::ThreadGone(t.id)),
            ThreadMembersUpdate => {
                parse::<ThreadMembersPayload>(data).map(|t| Change::ThreadMembers {
                    thread: t.id,
                    added: t.added_members.into_iter().map(|m| m.user_id).collect(),
                    removed: t.removed_member_ids,
                })
            }
            _ => Some(Change::None),
        };
        parsed.unwrap_or_else(|| {
            tracing::error!(
                kind = event.kind.name(),
                "event payload unreadable; guild read again"
            );
            Change::Unreadable
        })
    }
}

fn parse<'a, T: Deserialize<'a>>(data: &'a str) -> Option<T> {
    serde_json::from_str(data).ok()
}

#[cfg(test)]
mod tests {
    use concord_model::event::{Audience, NodeId};
    use concord_model::records::{Overwrite, User, channel_type};
    use concord_model::wire;
    use serde_json::{Value, json};

    use super::*;

    const GUILD: Snowflake = Snowflake(1);
    const TEXT: Snowflake = Snowflake(2);
    const OWNER: Snowflake = Snowflake(10);
    const USER: Snowflake = Snowflake(20);
    const ROLE: Snowflake = Snowflake(5);
    const VIEW: Permissions = Permissions::VIEW_CHANNEL;

    fn role(id: Snowflake, permissions: Permissions) -> Role {
        Role {
            id,
            permissions,
            ..Role::everyone(GUILD)
        }
    }

    fn member(roles: &[Snowflake]) -> Member {
        Member {
            roles: roles.to_vec(),
            ..Member::new(GUILD, USER, 0)
        }
    }

    /// A guild where @everyone views and sends, with one text channel,
    /// and USER a member without roles.
    fn state() -> GuildState {
        let mut state = GuildState::new(GuildBase {
            guild: Guild::new(GUILD, "g", OWNER),
            roles: vec![role(GUILD, VIEW | Permissions::SEND_MESSAGES)],
            channels: vec![Channel::new(TEXT, channel_type::GUILD_TEXT, GUILD, "text")],
        });
        state.install(Loaded {
            members: vec![(USER, Some(member(&[])))],
            ..Loaded::default()
        });
        state
    }

    /// The event the service would publish, from the same wire types.
    fn event(kind: EventKind, data: Value) -> Event {
        let audience = Audience::Guild {
            guild_id: GUILD,
            channel_id: None,
            required: Permissions::NONE,
        };
        Event::new(kind, audience, NodeId(1), &data)
    }

    fn apply(state: &mut GuildState, kind: EventKind, data: Value) {
        let change = Change::of(&event(kind, data));
        let changes = !matches!(change, Change::None | Change::Unreadable);
        assert!(changes, "{kind:?} changes the state: {change:?}");
        state.apply(&change);
    }

    fn sees(state: &mut GuildState, channel: Snowflake) -> bool {
        state.permissions(USER, Some(channel)).contains(VIEW)
    }

    fn role_event(role: &Role) -> Value {
        json!({ "guild_id": GUILD, "role": wire::Role::from(role) })
    }

    fn member_event(member: &Member) -> Value {
        let user = wire::User::from(&User::new(member.user_id, "user"));
        let mut out = serde_json::to_value(wire::Member::new(member, Some(user))).unwrap();
        out["guild_id"] = json!(GUILD);
        out
    }

    fn channel_event(channel: &Channel) -> Value {
        serde_json::to_value(wire::Channel::new(channel, None)).unwrap()
    }

    #[test]
    fn role_events_change_what_members_hold() {
        let mut state = state();
        assert!(sees(&mut state, TEXT));
        let everyone = role(GUILD, Permissions::SEND_MESSAGES);
        apply(
            &mut state,
            EventKind::GuildRoleUpdate,
            role_event(&everyone),
        );
        assert!(!sees(&mut state, TEXT), "@everyone lost VIEW_CHANNEL");
        apply(
            &mut state,
            EventKind::GuildRoleCreate,
            role_event(&role(ROLE, VIEW)),
        );
        assert!(!sees(&mut state, TEXT), "not given yet");
        apply(
            &mut state,
            EventKind::GuildMemberUpdate,
            member_event(&member(&[ROLE])),
        );
        assert!(sees(&mut state, TEXT), "given");
        let deleted = json!({ "guild_id": GUILD, "role_id": ROLE });
        apply(&mut state, EventKind::GuildRoleDelete, deleted);
        assert!(!sees(&mut state, TEXT), "the role left every member");
        apply(
            &mut state,
            EventKind::GuildRoleCreate,
            role_event(&role(ROLE, VIEW)),
        );
        assert!(!sees(&mut state, TEXT), "a role made anew is no one's");
    }

    #[test]
    fn channel_events_carry_their_overwrites_and_objects() {
        let mut state = state();
        let hidden = Channel {
            permission_overwrites: vec![Overwrite {
                id: USER,
                kind: 1,
                allow: Permissions::NONE,
                deny: VIEW,
            }],
            ..Channel::new(TEXT, channel_type::GUILD_TEXT, GUILD, "text")
        };
        apply(&mut state, EventKind::ChannelUpdate, channel_event(&hidden));
        assert!(!sees(&mut state, TEXT));
        let object = state.channel_object(TEXT).unwrap();
        let object: Value = serde_json::from_str(&object).unwrap();
        assert_eq!(object, channel_event(&hidden), "the object clients got");
        let message = json!({ "id": "77", "channel_id": TEXT, "author": { "id": OWNER } });
        let audience = Audience::Guild {
            guild_id: GUILD,
            channel_id: Some(TEXT),
            required: Permissions::NONE,
        };
        let sent = Event::new(EventKind::MessageCreate, audience, NodeId(1), &message);
        state.apply(&Change::of(&sent));
        let object = state.channel_object(TEXT).unwrap();
        let object: Value = serde_json::from_str(&object).unwrap();
        assert_eq!(object["last_message_id"], "77", "its newest message");
        assert!(!sees(&mut state, TEXT), "a message changes no permission");
        let other = Channel::new(Snowflake(3), channel_type::GUILD_TEXT, GUILD, "other");
        apply(&mut state, EventKind::ChannelCreate, channel_event(&other));
        assert!(sees(&mut state, other.id));
        assert_eq!(state.channel_ids(), vec![TEXT, other.id]);
        apply(&mut state, EventKind::ChannelDelete, channel_event(&other));
        assert!(!sees(&mut state, other.id));
        assert_eq!(state.channel_ids(), vec![TEXT]);
    }

    #[test]
    fn an_unreadable_payload_is_told_apart() {
        let broken = event(EventKind::GuildRoleUpdate, json!({ "role": { "id": "x" } }));
        assert_eq!(Change::of(&broken), Change::Unreadable);
        let other = event(EventKind::MessageCreate, json!({ "id": "3" }));
        assert_eq!(Change::of(&other), Change::None);
    }

    #[test]
    fn guild_updates_move_ownership() {
        let mut state = state();
        let everyone = role(GUILD, Permissions::NONE);
        apply(
            &mut state,
            EventKind::GuildRoleUpdate,
            role_event(&everyone),
        );
        assert!(!sees(&mut state, TEXT));
        let guild = wire::Guild::new(&Guild::new(GUILD, "g", USER), &[everyone]);
        let data = serde_json::to_value(guild).unwrap();
        apply(&mut state, EventKind::GuildUpdate, data);
        assert_eq!(state.permissions(USER, None), Permissions::ALL);
    }

    #[test]
    fn members_leave_and_come_back_timed_out() {
        let mut state = state();
        let user = wire::User::from(&User::new(USER, "user"));
        let removed = json!({ "guild_id": GUILD, "user": user });
        apply(&mut state, EventKind::GuildMemberRemove, removed);
        assert_eq!(state.permissions(USER, Some(TEXT)), Permissions::NONE);
        let timed_out = Member {
            communication_disabled_until_ms: Some(concord_model::snowflake::now_ms() + 60_000),
            ..member(&[])
        };
        apply(
            &mut state,
            EventKind::GuildMemberAdd,
            member_event(&timed_out),
        );
        let held = state.permissions(USER, Some(TEXT));
        assert!(held.contains(VIEW));
        assert!(!held.contains(Permissions::SEND_MESSAGES), "timed out");
        // Someone with no session here is not kept.
        let stranger = Member::new(GUILD, Snowflake(30), 0);
        apply(
            &mut state,
            EventKind::GuildMemberAdd,
            member_event(&stranger),
        );
        assert_eq!(
            state.permissions(Snowflake(30), Some(TEXT)),
            Permissions::NONE
        );
        assert_eq!(
            state.needs([Snowflake(30)], None).members,
            vec![Snowflake(30)]
        );
    }

    #[test]
    fn threads_follow_their_parent_and_private_ones_their_members() {
        let mut state = state();
        let thread = |id: u64, kind: u8| Channel {
            parent_id: Some(TEXT),
            owner_id: Some(USER),
            ..Channel::new(Snowflake(id), kind, GUILD, "t")
        };
        let public = thread(7, channel_type::PUBLIC_THREAD);
        assert_eq!(
            state.needs([USER], Some(public.id)).threads,
            vec![public.id]
        );
        apply(&mut state, EventKind::ThreadCreate, channel_event(&public));
        assert!(state.needs([USER], Some(public.id)).is_empty());
        assert!(sees(&mut state, public.id));
        // A private thread: its creator follows it from THREAD_CREATE on.
        let private = thread(8, channel_type::PRIVATE_THREAD);
        apply(&mut state, EventKind::ThreadCreate, channel_event(&private));
        assert!(sees(&mut state, private.id));
        let left = json!({ "id": private.id, "guild_id": GUILD, "member_count": 0,
            "removed_member_ids": [USER] });
        apply(&mut state, EventKind::ThreadMembersUpdate, left);
        assert!(!sees(&mut state, private.id));
        let added = json!({ "id": private.id, "guild_id": GUILD, "member_count": 1,
            "added_members": [{ "id": private.id, "user_id": USER, "join_timestamp": "", "flags": 0 }] });
        apply(&mut state, EventKind::ThreadMembersUpdate, added);
        assert!(sees(&mut state, private.id));
        // The parent's overwrites rule the thread.
        let hidden = Channel {
            permission_overwrites: vec![Overwrite {
                id: GUILD,
                kind: 0,
                allow: Permissions::NONE,
                deny: VIEW,
            }],
            ..Channel::new(TEXT, channel_type::GUILD_TEXT, GUILD, "text")
        };
        apply(&mut state, EventKind::ChannelUpdate, channel_event(&hidden));
        assert!(!sees(&mut state, public.id));
        let gone =
            json!({ "id": public.id, "guild_id": GUILD, "parent_id": TEXT, "type": public.kind });
        apply(&mut state, EventKind::ThreadDelete, gone);
        assert!(
            !state.needs([USER], Some(public.id)).is_empty(),
            "forgotten"
        );
    }
}
