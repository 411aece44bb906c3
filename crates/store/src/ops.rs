//! What the store's conditional operations do, written once: every
//! backend runs these rules inside its own one operation (under its write
//! lock, or in a transaction), so the rule cannot differ between them.

use concord_model::Snowflake;
use concord_model::records::{Channel, Command, Invite};

/// A change to a thread's state, applied by
/// [`ChannelStore::update_thread`](crate::ChannelStore::update_thread) as
/// one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadUpdate {
    /// A message was sent at `at_ms`: the thread is active from then and,
    /// if `counted` (all but a forum post's first message), the message
    /// counts in `message_count` and `total_message_sent`.
    MessageSent { counted: bool, at_ms: u64 },
    /// `count` messages were deleted: `message_count` drops by as many.
    MessagesDeleted { count: u32 },
    /// Unarchives the thread at `at_ms`; applies only while it is archived.
    Unarchive { at_ms: u64 },
    /// Archives the thread at `now_ms`; applies only while it is active and
    /// has been idle for its `auto_archive_duration` by then.
    ArchiveIfIdle { now_ms: u64 },
    /// An edit of the thread's settings.
    Edit(ThreadEdit),
}

/// The settings a thread edit changes: `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadEdit {
    pub name: Option<String>,
    pub rate_limit_per_user: Option<u32>,
    pub auto_archive_duration: Option<u32>,
    pub locked: Option<bool>,
    pub invitable: Option<bool>,
    /// Archives or unarchives at `at_ms` (nothing if it already is so).
    pub archived: Option<bool>,
    /// A forum post's tags, checked against its forum's.
    pub applied_tags: Option<Vec<Snowflake>>,
    pub at_ms: u64,
    /// The edit does not apply if it would unarchive a locked thread (the
    /// editor is no moderator).
    pub unless_locked: bool,
}

impl ThreadUpdate {
    /// Applies the update to a thread; false, leaving it untouched, if the
    /// channel is no thread or the update's condition does not hold.
    pub fn apply(&self, channel: &mut Channel) -> bool {
        let Some(state) = channel.thread.as_mut() else {
            return false;
        };
        match self {
            ThreadUpdate::MessageSent { counted, at_ms } => {
                if *counted {
                    state.message_count = state.message_count.saturating_add(1);
                    state.total_message_sent = state.total_message_sent.saturating_add(1);
                }
                state.last_activity_ms = state.last_activity_ms.max(*at_ms);
            }
            ThreadUpdate::MessagesDeleted { count } => {
                state.message_count = state.message_count.saturating_sub(*count);
            }
            ThreadUpdate::Unarchive { at_ms } => {
                if !state.archived {
                    return false;
                }
                state.archived = false;
                state.archive_ms = *at_ms;
                state.last_activity_ms = *at_ms;
            }
            ThreadUpdate::ArchiveIfIdle { now_ms } => {
                if state.archived || state.archive_due_ms() > *now_ms {
                    return false;
                }
                state.archived = true;
                state.archive_ms = *now_ms;
            }
            ThreadUpdate::Edit(edit) => {
                if edit.unless_locked && state.locked && edit.archived == Some(false) {
                    return false;
                }
                if let Some(minutes) = edit.auto_archive_duration {
                    state.auto_archive_duration = minutes;
                }
                if let Some(locked) = edit.locked {
                    state.locked = locked;
                }
                if let Some(invitable) = edit.invitable {
                    state.invitable = invitable;
                }
                if let Some(tags) = &edit.applied_tags {
                    state.applied_tags.clone_from(tags);
                }
                if let Some(archived) = edit.archived
                    && archived != state.archived
                {
                    state.archived = archived;
                    state.archive_ms = edit.at_ms;
                    state.last_activity_ms = edit.at_ms;
                }
                if let Some(name) = &edit.name {
                    channel.name.clone_from(name);
                }
                if let Some(seconds) = edit.rate_limit_per_user {
                    channel.rate_limit_per_user = seconds;
                }
            }
        }
        true
    }
}

/// What [`InviteStore::use_invite`](crate::InviteStore::use_invite) did.
#[derive(Debug, Clone, PartialEq)]
pub enum InviteUse {
    /// The use was counted; the invite as it is now.
    Admitted(Invite),
    /// The invite exists but is expired or used up; nothing was written.
    Exhausted,
    /// There is no such invite.
    Unknown,
}

impl InviteUse {
    /// Counts one use of `invite` at `now_ms` if it is live; the stored
    /// invite changes only when the answer is `Admitted`.
    pub fn apply(invite: Option<&mut Invite>, now_ms: u64) -> InviteUse {
        match invite {
            None => InviteUse::Unknown,
            Some(invite) if invite.is_spent(now_ms) => InviteUse::Exhausted,
            Some(invite) => {
                invite.uses = invite.uses.saturating_add(1);
                InviteUse::Admitted(invite.clone())
            }
        }
    }
}

/// What [`CommandStore::create_command`](crate::CommandStore::create_command)
/// did.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandCreate {
    /// No command of its scope had its type and name: it is new.
    Created(Command),
    /// It replaced the command of the same type and name, whose id it
    /// took (and whose version, if nothing changed).
    Replaced(Command),
    /// Creating it would exceed the limit for its type.
    LimitReached,
}

impl CommandCreate {
    /// The rule, given the scope's commands now.
    pub fn apply(current: &[Command], command: &Command, max: usize) -> CommandCreate {
        if let Some(old) = current.iter().find(|c| same_slot(c, command)) {
            return CommandCreate::Replaced(successor(old, command));
        }
        let of_kind = current.iter().filter(|c| c.kind == command.kind).count();
        if of_kind >= max {
            return CommandCreate::LimitReached;
        }
        CommandCreate::Created(command.clone())
    }
}

/// What [`CommandStore::update_command`](crate::CommandStore::update_command)
/// did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandUpdate {
    Updated,
    /// The command is gone: nothing was written.
    Gone,
    /// Another command of its scope has its type and (new) name.
    NameTaken,
}

impl CommandUpdate {
    /// The rule, given the scope's commands now.
    pub fn apply(current: &[Command], command: &Command) -> CommandUpdate {
        if !current.iter().any(|c| c.id == command.id) {
            return CommandUpdate::Gone;
        }
        if current
            .iter()
            .any(|c| c.id != command.id && same_slot(c, command))
        {
            return CommandUpdate::NameTaken;
        }
        CommandUpdate::Updated
    }
}

/// What a bulk overwrite of a scope's commands writes.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOverwrite {
    /// The new set, in the order given.
    pub commands: Vec<Command>,
    /// The ids of the scope's commands that are gone.
    pub removed: Vec<Snowflake>,
}

impl CommandOverwrite {
    /// The rule, given the scope's commands now: each new command takes
    /// the id of the current one of its type and name (and its version,
    /// if the definition is the same); the others are removed.
    pub fn apply(current: &[Command], commands: &[Command]) -> CommandOverwrite {
        let commands: Vec<Command> = commands
            .iter()
            .map(|new| match current.iter().find(|c| same_slot(c, new)) {
                Some(old) => successor(old, new),
                None => new.clone(),
            })
            .collect();
        let removed = current
            .iter()
            .filter(|c| !commands.iter().any(|n| n.id == c.id))
            .map(|c| c.id)
            .collect();
        CommandOverwrite { commands, removed }
    }
}

/// Two commands of one scope that cannot both exist: same type and name.
fn same_slot(a: &Command, b: &Command) -> bool {
    a.kind == b.kind && a.name == b.name
}

/// `new` in place of `old`: `old`'s id, and its version unless the
/// definition changed.
fn successor(old: &Command, new: &Command) -> Command {
    let version = if old.same_definition(new) {
        old.version
    } else {
        new.version
    };
    Command {
        id: old.id,
        version,
        ..new.clone()
    }
}
