//! Discord's permission algorithm: base permissions from `@everyone` and
//! the member's roles, then channel overwrites in Discord's order, then the
//! implicit denials; a thread's through its parent
//! (`Service::permissions_in`, which reads what a thread needs).

use concord_model::Permissions;
use concord_model::Snowflake;
use concord_model::records::{Channel, Guild, Member, Overwrite, Role, channel_type};

use crate::{Service, ServiceResult};

/// What the computation needs about one member of one guild.
pub struct MemberContext<'a> {
    pub guild: &'a Guild,
    pub roles: &'a [Role],
    pub member: &'a Member,
    pub now_ms: u64,
}

impl MemberContext<'_> {
    fn everyone(&self) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == self.guild.id)
    }

    /// Guild-wide permissions.
    pub fn base(&self) -> Permissions {
        if self.member.user_id == self.guild.owner_id {
            return Permissions::ALL;
        }
        let mut p = self.everyone().map_or(Permissions::NONE, |r| r.permissions);
        for role in self
            .roles
            .iter()
            .filter(|r| self.member.roles.contains(&r.id))
        {
            p |= role.permissions;
        }
        if p.contains(Permissions::ADMINISTRATOR) {
            return Permissions::ALL;
        }
        self.timed_out(p)
    }

    /// A timed-out member keeps only what reading needs.
    fn timed_out(&self, p: Permissions) -> Permissions {
        let until = self.member.communication_disabled_until_ms.unwrap_or(0);
        if until > self.now_ms {
            p & (Permissions::VIEW_CHANNEL | Permissions::READ_MESSAGE_HISTORY)
        } else {
            p
        }
    }

    /// Permissions in one channel of the guild.
    pub fn in_channel(&self, channel: &Channel) -> Permissions {
        implicit(self.overwritten(channel))
    }

    /// The base with the channel's overwrites applied, before the implicit
    /// denials (which a thread applies after its own send rule).
    fn overwritten(&self, channel: &Channel) -> Permissions {
        let base = self.base();
        if base.contains(Permissions::ADMINISTRATOR) {
            return Permissions::ALL;
        }
        let overwrites = &channel.permission_overwrites;
        let apply = |p: Permissions, allow: Permissions, deny: Permissions| (p & !deny) | allow;
        let mut p = base;
        if let Some(o) = overwrites
            .iter()
            .find(|o| o.kind == 0 && o.id == self.guild.id)
        {
            p = apply(p, o.allow, o.deny);
        }
        let (mut allow, mut deny) = (Permissions::NONE, Permissions::NONE);
        for o in overwrites
            .iter()
            .filter(|o| o.kind == 0 && self.member.roles.contains(&o.id))
        {
            allow |= o.allow;
            deny |= o.deny;
        }
        p = apply(p, allow, deny);
        if let Some(o) = overwrites
            .iter()
            .find(|o| o.kind == 1 && o.id == self.member.user_id)
        {
            p = apply(p, o.allow, o.deny);
        }
        self.timed_out(p)
    }

    /// Permissions in a thread: its parent's, with sending governed by
    /// SEND_MESSAGES_IN_THREADS; a private thread is seen only by its
    /// members (`joined`) and by those who manage threads.
    pub fn in_thread(&self, parent: &Channel, private: bool, joined: bool) -> Permissions {
        let p = self.overwritten(parent);
        if !p.contains(Permissions::VIEW_CHANNEL)
            || (private && !joined && !p.contains(Permissions::MANAGE_THREADS))
        {
            return Permissions::NONE;
        }
        let p = if p.contains(Permissions::SEND_MESSAGES_IN_THREADS) {
            p | Permissions::SEND_MESSAGES
        } else {
            p.remove(Permissions::SEND_MESSAGES)
        };
        implicit(p)
    }

    /// The highest rank among the member's roles.
    pub fn top_rank(&self) -> Rank {
        highest_rank(self.roles, &self.member.roles)
    }
}

impl Service {
    /// A member's permissions in a channel of a guild; none if either is gone.
    pub async fn channel_permissions(
        &self,
        user_id: Snowflake,
        guild_id: Snowflake,
        channel_id: Snowflake,
    ) -> ServiceResult<Permissions> {
        let (Some(guild), Some(member), Some(channel)) = (
            self.store.guild(guild_id).await?,
            self.store.member(guild_id, user_id).await?,
            self.store.channel(channel_id).await?,
        ) else {
            return Ok(Permissions::NONE);
        };
        let roles = self.store.roles(guild_id).await?;
        let now = concord_model::snowflake::now_ms();
        let ctx = MemberContext {
            guild: &guild,
            roles: &roles,
            member: &member,
            now_ms: now,
        };
        self.permissions_in(&ctx, &channel).await
    }

    /// The member's permissions in `channel`; a thread's through its parent.
    pub(crate) async fn permissions_in(
        &self,
        ctx: &MemberContext<'_>,
        channel: &Channel,
    ) -> ServiceResult<Permissions> {
        if !channel.is_thread() {
            return Ok(ctx.in_channel(channel));
        }
        let parent = match channel.parent_id {
            Some(id) => self.store.channel(id).await?,
            None => None,
        };
        let Some(parent) = parent else {
            return Ok(Permissions::NONE);
        };
        let private = channel.kind == channel_type::PRIVATE_THREAD;
        let joined = private
            && self
                .store
                .thread_member(channel.id, ctx.member.user_id)
                .await?
                .is_some();
        Ok(ctx.in_thread(&parent, private, joined))
    }
}

/// A place in a guild's role hierarchy. Roles are ordered by position and,
/// at equal positions, the older (lower id) above the newer, as Discord
/// orders them: a bot's role, made when it joined, outranks a role made
/// later at the same position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank {
    position: i32,
    newer: std::cmp::Reverse<Snowflake>,
}

impl Rank {
    /// Below every role: a member with none.
    pub const BOTTOM: Rank = Rank {
        position: i32::MIN,
        newer: std::cmp::Reverse(Snowflake(u64::MAX)),
    };
    /// Above every role: the owner.
    pub const TOP: Rank = Rank {
        position: i32::MAX,
        newer: std::cmp::Reverse(Snowflake(0)),
    };

    pub fn of(role: &Role) -> Rank {
        Rank::at(role, role.position)
    }

    /// Where `role` would stand at `position`.
    pub fn at(role: &Role, position: i32) -> Rank {
        Rank {
            position,
            newer: std::cmp::Reverse(role.id),
        }
    }
}

/// The highest rank among the member's roles.
pub fn highest_rank(roles: &[Role], member_roles: &[Snowflake]) -> Rank {
    roles
        .iter()
        .filter(|r| member_roles.contains(&r.id))
        .map(Rank::of)
        .max()
        .unwrap_or(Rank::BOTTOM)
}

/// The bits whose overwrite state a write changes: for every target (role
/// or member) in either list, what differs in its allow or its deny. An
/// overwrite added or removed changes its own bits; reordering changes nothing.
pub fn overwrite_changes(before: &[Overwrite], after: &[Overwrite]) -> Permissions {
    let state = |list: &[Overwrite], o: &Overwrite| {
        list.iter()
            .filter(|x| x.id == o.id && x.kind == o.kind)
            .fold((Permissions::NONE, Permissions::NONE), |(a, d), x| {
                (a | x.allow, d | x.deny)
            })
    };
    let differ = |x: Permissions, y: Permissions| x.remove(y) | y.remove(x);
    let mut changed = Permissions::NONE;
    for o in before.iter().chain(after) {
        let (was, is) = (state(before, o), state(after, o));
        changed |= differ(was.0, is.0) | differ(was.1, is.1);
    }
    changed
}

/// Without VIEW_CHANNEL nothing is allowed; without SEND_MESSAGES none of
/// what sending carries.
fn implicit(p: Permissions) -> Permissions {
    if !p.contains(Permissions::VIEW_CHANNEL) {
        return Permissions::NONE;
    }
    if !p.contains(Permissions::SEND_MESSAGES) {
        return p.remove(
            Permissions::MENTION_EVERYONE
                | Permissions::SEND_TTS_MESSAGES
                | Permissions::ATTACH_FILES
                | Permissions::EMBED_LINKS,
        );
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_model::records::Overwrite;

    const G: Snowflake = Snowflake(1);
    const MOD: Snowflake = Snowflake(2);
    const MUTED: Snowflake = Snowflake(3);
    const USER: Snowflake = Snowflake(10);

    fn guild() -> Guild {
        Guild::new(G, "g", Snowflake(99))
    }

    fn role(id: Snowflake, p: Permissions, position: i32) -> Role {
        Role {
            id,
            guild_id: G,
            name: "r".into(),
            permissions: p,
            position,
            color: 0,
            hoist: false,
            mentionable: false,
            bot_id: None,
        }
    }

    fn roles() -> Vec<Role> {
        vec![
            role(
                G,
                Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES | Permissions::EMBED_LINKS,
                0,
            ),
            role(MOD, Permissions::MANAGE_MESSAGES, 2),
            role(MUTED, Permissions::NONE, 1),
        ]
    }

    fn member(roles: &[Snowflake]) -> Member {
        Member {
            roles: roles.to_vec(),
            ..Member::new(G, USER, 0)
        }
    }

    fn channel(overwrites: Vec<Overwrite>) -> Channel {
        Channel {
            permission_overwrites: overwrites,
            ..Channel::new(Snowflake(50), 0, G, "c")
        }
    }

    fn ow(id: Snowflake, kind: u8, allow: Permissions, deny: Permissions) -> Overwrite {
        Overwrite {
            id,
            kind,
            allow,
            deny,
        }
    }

    fn perms(member_roles: &[Snowflake], overwrites: Vec<Overwrite>) -> Permissions {
        let (g, r, m) = (guild(), roles(), member(member_roles));
        let ctx = MemberContext {
            guild: &g,
            roles: &r,
            member: &m,
            now_ms: 1_000,
        };
        ctx.in_channel(&channel(overwrites))
    }

    #[test]
    fn base_is_everyone_plus_roles_and_owner_gets_all() {
        let (g, r) = (guild(), roles());
        let m = member(&[MOD]);
        let ctx = MemberContext {
            guild: &g,
            roles: &r,
            member: &m,
            now_ms: 0,
        };
        assert!(
            ctx.base()
                .contains(Permissions::MANAGE_MESSAGES | Permissions::SEND_MESSAGES)
        );
        assert!(!ctx.base().contains(Permissions::KICK_MEMBERS));
        let mut owner = member(&[]);
        owner.user_id = Snowflake(99);
        let ctx = MemberContext {
            guild: &g,
            roles: &r,
            member: &owner,
            now_ms: 0,
        };
        assert_eq!(ctx.base(), Permissions::ALL);
    }

    #[test]
    fn administrator_ignores_overwrites() {
        let mut r = roles();
        r[1].permissions = Permissions::ADMINISTRATOR;
        let (g, m) = (guild(), member(&[MOD]));
        let ctx = MemberContext {
            guild: &g,
            roles: &r,
            member: &m,
            now_ms: 0,
        };
        let deny_all = channel(vec![ow(G, 0, Permissions::NONE, Permissions::ALL)]);
        assert_eq!(ctx.in_channel(&deny_all), Permissions::ALL);
    }

    #[test]
    fn overwrite_order_everyone_then_roles_then_member() {
        let deny_send = ow(G, 0, Permissions::NONE, Permissions::SEND_MESSAGES);
        assert!(!perms(&[], vec![deny_send]).contains(Permissions::SEND_MESSAGES));
        // A role allow beats the @everyone deny.
        let mod_allow = ow(MOD, 0, Permissions::SEND_MESSAGES, Permissions::NONE);
        assert!(perms(&[MOD], vec![deny_send, mod_allow]).contains(Permissions::SEND_MESSAGES));
        // Among roles, an allow on one beats a deny on another.
        let muted_deny = ow(MUTED, 0, Permissions::NONE, Permissions::SEND_MESSAGES);
        let p = perms(&[MOD, MUTED], vec![deny_send, mod_allow, muted_deny]);
        assert!(p.contains(Permissions::SEND_MESSAGES));
        assert!(!perms(&[MUTED], vec![muted_deny]).contains(Permissions::SEND_MESSAGES));
        // The member overwrite has the last word.
        let member_deny = ow(USER, 1, Permissions::NONE, Permissions::SEND_MESSAGES);
        assert!(!perms(&[MOD], vec![mod_allow, member_deny]).contains(Permissions::SEND_MESSAGES));
    }

    #[test]
    fn implicit_denials() {
        let hide = ow(G, 0, Permissions::NONE, Permissions::VIEW_CHANNEL);
        assert_eq!(perms(&[MOD], vec![hide]), Permissions::NONE);
        let mute = ow(G, 0, Permissions::NONE, Permissions::SEND_MESSAGES);
        let p = perms(&[], vec![mute]);
        assert!(p.contains(Permissions::VIEW_CHANNEL));
        assert!(!p.contains(Permissions::EMBED_LINKS), "no send, no embeds");
    }

    #[test]
    fn threads_follow_the_parent_with_their_own_send_rule() {
        let (g, r, m) = (guild(), roles(), member(&[]));
        let ctx = MemberContext {
            guild: &g,
            roles: &r,
            member: &m,
            now_ms: 0,
        };
        let parent = channel(vec![]);
        // @everyone has SEND_MESSAGES but not SEND_MESSAGES_IN_THREADS.
        let p = ctx.in_thread(&parent, false, false);
        assert!(p.contains(Permissions::VIEW_CHANNEL));
        assert!(!p.contains(Permissions::SEND_MESSAGES));
        let allow = ow(
            G,
            0,
            Permissions::SEND_MESSAGES_IN_THREADS,
            Permissions::NONE,
        );
        let parent = channel(vec![allow]);
        assert!(
            ctx.in_thread(&parent, false, false)
                .contains(Permissions::SEND_MESSAGES)
        );
        assert_eq!(
            ctx.in_thread(&parent, true, false),
            Permissions::NONE,
            "private, not joined"
        );
        assert!(
            ctx.in_thread(&parent, true, true)
                .contains(Permissions::VIEW_CHANNEL)
        );
        let hidden = channel(vec![ow(G, 0, Permissions::NONE, Permissions::VIEW_CHANNEL)]);
        assert_eq!(ctx.in_thread(&hidden, false, true), Permissions::NONE);
        // A read-only channel with discussion threads: files and links
        // still go with a message sent in a thread.
        let read_only = channel(vec![ow(
            G,
            0,
            Permissions::SEND_MESSAGES_IN_THREADS,
            Permissions::SEND_MESSAGES,
        )]);
        assert!(
            !ctx.in_channel(&read_only)
                .contains(Permissions::EMBED_LINKS)
        );
        assert!(
            ctx.in_thread(&read_only, false, false)
                .contains(Permissions::SEND_MESSAGES | Permissions::EMBED_LINKS)
        );
    }

    #[test]
    fn overwrite_changes_are_per_target_and_per_bit() {
        let send = Permissions::SEND_MESSAGES;
        let view = Permissions::VIEW_CHANNEL;
        let a = ow(G, 0, send, view);
        assert_eq!(overwrite_changes(&[a], &[a]), Permissions::NONE);
        let b = ow(MOD, 0, Permissions::MANAGE_MESSAGES, Permissions::NONE);
        assert_eq!(
            overwrite_changes(&[a, b], &[b, a]),
            Permissions::NONE,
            "order is not a change"
        );
        assert_eq!(
            overwrite_changes(&[a], &[a, b]),
            Permissions::MANAGE_MESSAGES
        );
        assert_eq!(overwrite_changes(&[a, b], &[b]), send | view, "removed");
        let c = ow(G, 0, send | Permissions::EMBED_LINKS, Permissions::NONE);
        assert_eq!(
            overwrite_changes(&[a], &[c]),
            Permissions::EMBED_LINKS | view
        );
        let as_member = ow(G, 1, send, view);
        assert_eq!(overwrite_changes(&[a], &[as_member]), send | view);
    }

    #[test]
    fn timed_out_members_can_only_read() {
        let (g, r) = (guild(), roles());
        let mut m = member(&[MOD]);
        m.communication_disabled_until_ms = Some(5_000);
        let ctx = MemberContext {
            guild: &g,
            roles: &r,
            member: &m,
            now_ms: 1_000,
        };
        assert_eq!(ctx.in_channel(&channel(vec![])), Permissions::VIEW_CHANNEL);
        let later = MemberContext {
            now_ms: 6_000,
            ..ctx
        };
        assert!(
            later
                .in_channel(&channel(vec![]))
                .contains(Permissions::SEND_MESSAGES)
        );
    }
}
