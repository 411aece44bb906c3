//! Presences in large guilds reach those who asked. A guild above a
//! session's `large_threshold` is lazy for it, as Discord makes it: its
//! client is told a member's presence only if it follows that member
//! (named in op 8 with `presences`, op 14 or op 37), and bots with the
//! GUILD_PRESENCES intent hear every presence of their guilds. So that a
//! presence costs what its recipients cost and not what the guild's
//! size does, the node keeps, beside its sessions by guild, the sessions
//! that follow each (guild, member) and, per guild, those that hear
//! everything: a change in a guild large for every session (above the
//! highest threshold a client may ask for) looks only there.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use concord_model::Snowflake;
use concord_model::event::Event;

use super::{Hub, Payload, Sessions, join, leave, push, with_guild_id};
use crate::protocol::{LARGE_THRESHOLD, required_intent};
use crate::session::{Followed, Session};

/// The node's sessions that follow presences, by guild.
#[derive(Default)]
pub(super) struct Followers {
    /// (guild, member) to the sessions that follow that member there.
    by_member: HashMap<(Snowflake, Snowflake), HashSet<Arc<str>>>,
    /// Guild to the sessions that hear every presence in it (bots).
    everything: Sessions,
}

impl Followers {
    /// Indexes what `session` follows in its guilds (a new session, or one
    /// rebuilt from the directory with what its client asked before).
    pub(super) fn add_session(&mut self, session: &Session, guilds: &[Snowflake]) {
        for (guild, member) in session.follows() {
            self.add(guild, member, &session.id);
        }
        for guild in guilds {
            self.add_guild(session, *guild);
        }
    }

    pub(super) fn remove_session(&mut self, session: &Session, guilds: &[Snowflake]) {
        for (guild, member) in session.follows() {
            self.remove(guild, member, &session.id);
        }
        for guild in guilds {
            leave(&mut self.everything, *guild, &session.id);
        }
    }

    /// The session joined `guild`.
    pub(super) fn add_guild(&mut self, session: &Session, guild: Snowflake) {
        if session.hears_every_presence() {
            join(&mut self.everything, guild, &session.id);
        }
    }

    /// The session left `guild`, where it followed `followed`.
    pub(super) fn remove_guild(&mut self, id: &str, guild: Snowflake, followed: &[Snowflake]) {
        for member in followed {
            self.remove(guild, *member, id);
        }
        leave(&mut self.everything, guild, id);
    }

    pub(super) fn apply(&mut self, id: &Arc<str>, guild: Snowflake, change: &Followed) {
        for member in &change.added {
            self.add(guild, *member, id);
        }
        for member in &change.dropped {
            self.remove(guild, *member, id);
        }
    }

    fn add(&mut self, guild: Snowflake, member: Snowflake, id: &Arc<str>) {
        let set = self.by_member.entry((guild, member)).or_default();
        set.insert(Arc::clone(id));
    }

    fn remove(&mut self, guild: Snowflake, member: Snowflake, id: &str) {
        let key = (guild, member);
        if let Some(set) = self.by_member.get_mut(&key) {
            set.remove(id);
            if set.is_empty() {
                self.by_member.remove(&key);
            }
        }
    }

    /// Who may hear of `member`'s presence in `guild` when it is large for
    /// every session: its followers and the sessions that hear everything.
    fn of(&self, guild: Snowflake, member: Snowflake) -> impl Iterator<Item = &Arc<str>> {
        let following = self.by_member.get(&(guild, member)).into_iter().flatten();
        following.chain(self.everything.get(&guild).into_iter().flatten())
    }
}

/// Whether a session hears of `about`'s presence in `guild`, of
/// `member_count` members: all of it in a guild that is small for it,
/// else only the members it follows, unless it hears everything.
fn hears(session: &Session, guild: Snowflake, about: Snowflake, member_count: u64) -> bool {
    member_count <= session.large_threshold
        || session.hears_every_presence()
        || session.follows_member(guild, about)
}

impl Hub {
    /// Follows `members` for `session` in `guild` (replacing what it
    /// followed there when `replace`): a session not (or no longer) in the
    /// hub, or a bot, which hears everything, follows nothing.
    pub(crate) fn follow(
        &self,
        session: &Session,
        guild: Snowflake,
        members: Vec<Snowflake>,
        replace: bool,
    ) {
        if session.bot {
            return;
        }
        let mut index = self.write();
        let current = index.sessions.get(&session.id);
        if !current.is_some_and(|s| std::ptr::eq(&**s, session)) {
            return;
        }
        let change = session.follow(guild, members, replace);
        index.followers.apply(&session.id, guild, &change);
    }

    /// The sessions that may hear of `about` in `guild`: in a guild large
    /// for every session, only its followers (and those that hear
    /// everything), found without going over the guild's sessions.
    fn presence_candidates(
        &self,
        guild: Snowflake,
        about: Snowflake,
        member_count: u64,
    ) -> Vec<Arc<Session>> {
        if member_count <= *LARGE_THRESHOLD.end() {
            return self.in_guild(guild);
        }
        let index = self.read();
        index
            .followers
            .of(guild, about)
            .filter_map(|id| index.sessions.get(id).cloned())
            .collect()
    }

    /// One frame per session across `guilds`, naming the first guild it
    /// shares with the event (serialized once per guild, not per session);
    /// in a guild large for a session, only if it follows `about` there.
    pub(super) fn deliver_once_per_session(
        &self,
        event: &Event,
        guilds: &[Snowflake],
        about: Snowflake,
        member_counts: &[u64],
        payload: &mut Payload<'_>,
    ) {
        let mut reached = HashSet::new();
        for (i, guild) in guilds.iter().enumerate() {
            // A publisher that gave no count: a small guild.
            let count = member_counts.get(i).copied().unwrap_or(0);
            let mut framed: Option<Arc<str>> = None;
            for session in self.presence_candidates(*guild, about, count) {
                if session.user_id == about
                    || !session.has_intent(required_intent(event.kind))
                    || !hears(&session, *guild, about, count)
                    || !reached.insert(Arc::clone(&session.id))
                {
                    continue;
                }
                let data = framed.get_or_insert_with(|| with_guild_id(&payload.full, *guild));
                push(&session, event.kind.name(), Arc::clone(data));
            }
        }
    }
}
