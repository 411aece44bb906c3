//! The dispatcher's side of the hub: each guild's state, the events that
//! wait while what they need is read, and the reads to start. It never
//! awaits: the caller runs the loads it asks for (the fan-out in tasks of
//! their own, a replay in place) and hands their results back.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use concord_model::Snowflake;
use concord_model::event::{Audience, Event, EventKind};
use concord_service::Service;

use super::{Command, Hub, push};
use crate::guilds::{self, Change, GuildState, Loaded, Needs};
use crate::protocol::intents;
use crate::session::Session;

/// One guild in the dispatcher: its state, and its events waiting for a
/// load.
struct Slot {
    /// Tells this slot's loads from those of one dropped before it.
    epoch: u64,
    /// `None` before the first load (or if the guild is gone).
    state: Option<GuildState>,
    /// The first load was asked for.
    started: bool,
    /// Loads under way: while any is, the guild's events wait in `held`.
    loads: usize,
    /// A load failed: the guild's sessions here were told they lost
    /// events (they reconnect and resume, replaying the bus history), the
    /// held events go out with what is known (those that need permissions
    /// are withheld), then the state is read again.
    failed: bool,
    held: VecDeque<Held>,
}

/// An event waiting for its guild's state, with what it changes (applied
/// once).
struct Held {
    event: Arc<Event>,
    change: Option<Change>,
}

/// A read for one guild, run in a task of its own.
pub(super) struct Load {
    guild: Snowflake,
    epoch: u64,
    first: bool,
    needs: Needs,
    /// Whose private-thread memberships are read with a thread.
    users: Vec<Snowflake>,
    /// Sessions that joined the guild and are owed its GUILD_CREATE.
    openings: Vec<Arc<Session>>,
}

pub(super) struct Done {
    guild: Snowflake,
    epoch: u64,
    loaded: Result<Loaded, concord_service::ServiceError>,
    /// Each joining session's GUILD_CREATE and the channels it shows.
    openings: Vec<(Arc<Session>, Option<Opening>)>,
}

impl Done {
    /// Whether the guild's state could not be read, and why.
    pub(super) fn failure(&self) -> Option<&concord_service::ServiceError> {
        self.loaded.as_ref().err()
    }
}

/// A joining session's GUILD_CREATE, and the channels it lists.
type Opening = (Arc<str>, Vec<Snowflake>);

impl Load {
    pub(super) async fn run(self, service: &Service) -> Done {
        let loaded = guilds::load(service, self.guild, self.first, &self.needs, &self.users).await;
        let mut openings = Vec::new();
        for session in self.openings {
            let all = session.has_intent(intents::GUILD_PRESENCES);
            let built = service
                .guild_create(self.guild, session.user_id, session.large_threshold, all)
                .await;
            let opening = match built {
                Ok(Some(payload)) => serde_json::to_string(&payload).ok().map(|json| {
                    let channels = payload.channels.iter().map(|c| c.id).collect();
                    (Arc::from(json), channels)
                }),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(error = %e, "GUILD_CREATE not built for a joining session");
                    None
                }
            };
            openings.push((session, opening));
        }
        Done {
            guild: self.guild,
            epoch: self.epoch,
            loaded,
            openings,
        }
    }
}

/// The dispatcher's side: the guilds' states and the loads to start.
pub(super) struct Dispatch {
    pub(super) hub: Arc<Hub>,
    slots: HashMap<Snowflake, Slot>,
    next_epoch: u64,
    /// Loads asked for, for the caller to run.
    pub(super) loads: Vec<Load>,
}

impl Dispatch {
    pub(super) fn new(hub: Arc<Hub>) -> Dispatch {
        Dispatch {
            hub,
            slots: HashMap::new(),
            next_epoch: 1,
            loads: Vec::new(),
        }
    }

    /// After a gap: every state may have missed changes.
    pub(super) fn clear(&mut self) {
        self.slots.clear();
        self.hub.cursor.hold(None);
    }

    pub(super) fn command(&mut self, command: Command) {
        match command {
            Command::Need(guild) => {
                if self.slots.get(&guild).is_none_or(|s| s.loads == 0) {
                    self.prepare(guild, None, Vec::new());
                }
            }
            Command::Forget(guild) => {
                // Unless a session came back meanwhile.
                if !self.hub.has_guild(guild) && self.slots.remove(&guild).is_some() {
                    self.update_hold();
                }
            }
            Command::Loaded(done) => self.loaded(*done),
        }
    }

    /// The guild's slot, made on first use.
    fn slot(&mut self, guild: Snowflake) -> &mut Slot {
        let epoch = &mut self.next_epoch;
        self.slots.entry(guild).or_insert_with(|| {
            *epoch += 1;
            Slot {
                epoch: *epoch,
                state: None,
                started: false,
                loads: 0,
                failed: false,
                held: VecDeque::new(),
            }
        })
    }

    /// Starts reading what the guild's local sessions (and `channel`)
    /// need, with the GUILD_CREATE of `openings`. Returns whether a load
    /// started (the guild's events then wait).
    fn prepare(
        &mut self,
        guild: Snowflake,
        channel: Option<Snowflake>,
        openings: Vec<Arc<Session>>,
    ) -> bool {
        if self.slots.get(&guild).is_some_and(|s| s.failed) {
            return false;
        }
        let slot = self.slot(guild);
        let (first, known) = (!slot.started, slot.state.is_some());
        // Members are looked for among the sessions that arrived since the
        // last look; the first look takes every session of the guild. While
        // the first read is under way, arrivals wait for the next look.
        let users = match (first, known) {
            (true, _) => {
                self.hub.take_arrivals(guild);
                dedup(self.hub.in_guild(guild).iter().map(|s| s.user_id).collect())
            }
            (false, true) => dedup(self.hub.take_arrivals(guild)),
            (false, false) => Vec::new(),
        };
        let slot = self.slot(guild);
        let needs = match &slot.state {
            Some(state) => state.needs(users, channel),
            None if first => Needs {
                members: users,
                threads: channel.into_iter().collect(),
            },
            None => Needs::default(),
        };
        if !first && needs.is_empty() && openings.is_empty() {
            return false;
        }
        slot.started = true;
        slot.loads += 1;
        // Whose private-thread memberships are read, with a thread only.
        let users = match needs.threads.is_empty() {
            true => Vec::new(),
            false => {
                let mut users = slot
                    .state
                    .as_ref()
                    .map(GuildState::users)
                    .unwrap_or_default();
                users.extend(needs.members.iter().copied());
                dedup(users)
            }
        };
        let load = Load {
            guild,
            epoch: slot.epoch,
            first,
            needs,
            users,
            openings,
        };
        self.loads.push(load);
        true
    }

    fn loaded(&mut self, done: Done) {
        let Some(slot) = self.slots.get_mut(&done.guild) else {
            return;
        };
        if slot.epoch != done.epoch {
            return;
        }
        slot.loads -= 1;
        match done.loaded {
            Ok(mut loaded) => {
                if let Some(base) = loaded.guild.take() {
                    slot.state = base.map(GuildState::new);
                }
                if let Some(state) = &mut slot.state {
                    state.install(loaded);
                }
            }
            Err(e) => {
                // Events withheld from a session are a hole in its stream.
                tracing::error!(error = %e, "guild state not read; its sessions here reconnect");
                slot.failed = true;
                for session in self.hub.in_guild(done.guild) {
                    session.lose_events();
                }
            }
        }
        // Each joining session gets its GUILD_CREATE before anything else
        // of the guild: the guild's events waited for it.
        for (session, opening) in done.openings {
            if let Some((json, channels)) = opening {
                session.add_visible(done.guild, channels);
                push(&session, EventKind::GuildCreate.name(), json);
            }
        }
        self.release(done.guild);
    }

    /// Delivers the guild's held events in order, until one needs a load.
    fn release(&mut self, guild: Snowflake) {
        while let Some(slot) = self.slots.get_mut(&guild) {
            if slot.loads > 0 {
                break;
            }
            let Some(held) = slot.held.pop_front() else {
                if std::mem::take(&mut slot.failed) {
                    // Read again on the guild's next event.
                    slot.state = None;
                    slot.started = false;
                } else {
                    // Sessions that arrived during the load are read for now.
                    self.prepare(guild, None, Vec::new());
                }
                break;
            };
            self.hub.cursor.release(Some(held.event.id));
            self.route(guild, held);
        }
        self.hub.cursor.release(None);
        self.update_hold();
    }

    /// Tells the cursor the lowest event held back.
    fn update_hold(&self) {
        let lowest = self
            .slots
            .values()
            .filter_map(|s| s.held.front())
            .map(|h| h.event.id)
            .min();
        self.hub.cursor.hold(lowest);
    }

    pub(super) fn event(&mut self, event: Arc<Event>) {
        let Some(guild) = guild_of(&event) else {
            self.hub.deliver_elsewhere(&event);
            return;
        };
        let held = Held {
            event,
            change: None,
        };
        match self.slots.get_mut(&guild) {
            Some(slot) if slot.loads > 0 => {
                slot.held.push_back(held);
                if slot.held.len() == 1 {
                    self.update_hold();
                }
            }
            _ => self.route(guild, held),
        }
    }

    /// Delivers an event of `guild` whose turn it is, or holds it (first
    /// in line) while what it needs is read.
    fn route(&mut self, guild: Snowflake, mut held: Held) {
        let event = Arc::clone(&held.event);
        if let Audience::Guild { channel_id, .. } = &event.audience {
            let started = self.slots.get(&guild).is_some_and(|s| s.started);
            if !started && !self.hub.has_guild(guild) {
                // Heard before the node's interest in it ended: no one here to tell.
                return;
            }
            if !started && self.prepare(guild, *channel_id, Vec::new()) {
                return self.hold_first(guild, held);
            }
            let slot = self.slot(guild);
            if let Some(state) = &mut slot.state
                && held.change.is_none()
            {
                let change = Change::of(&event);
                state.apply(&change);
                if change == Change::Unreadable {
                    // What it changed is unknown: the guild is read again
                    // (after the write it announces), the event waiting.
                    slot.state = None;
                    slot.started = false;
                    held.change = Some(Change::None);
                } else {
                    held.change = Some(change);
                }
            }
            if self.prepare(guild, *channel_id, Vec::new()) {
                return self.hold_first(guild, held);
            }
            let state = self.slots.get_mut(&guild).and_then(|s| s.state.as_mut());
            self.hub.deliver_in_guild(&event, state);
            if event.kind == EventKind::GuildDelete {
                self.slots.remove(&guild);
                self.update_hold();
            }
            return;
        }
        if event.kind == EventKind::GuildCreate {
            // The guild's events wait for the joining sessions' GUILD_CREATE.
            let joining = self.hub.join(&event, guild);
            self.prepare(guild, None, joining);
            return;
        }
        self.hub.deliver_elsewhere(&event);
    }

    fn hold_first(&mut self, guild: Snowflake, held: Held) {
        self.slot(guild).held.push_front(held);
        self.update_hold();
    }
}

/// The guild whose order an event keeps: its audience's, or the one an
/// event sent to users is about (a guild joined or left, a thread
/// membership). Events to several guilds at once (presences) and DMs keep
/// none.
fn guild_of(event: &Event) -> Option<Snowflake> {
    match &event.audience {
        Audience::Guild { guild_id, .. } => Some(*guild_id),
        Audience::Users(_) => event.route.guild_id,
        Audience::Private { .. } | Audience::Guilds { .. } => None,
    }
}

fn dedup(mut ids: Vec<Snowflake>) -> Vec<Snowflake> {
    ids.sort_unstable();
    ids.dedup();
    ids
}
