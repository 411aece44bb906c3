//! The behavioural suite every backend must pass, written once against the
//! traits. A backend runs it with [`store_conformance!`], naming an async
//! `open(bucket_ms) -> (Arc<dyn Store>, guard)` function; the guard keeps
//! whatever backs the store (a temp dir) alive for the test.

use std::collections::BTreeSet;
use std::sync::Arc;

use concord_model::Snowflake;
use concord_model::permissions::Permissions;
use concord_model::records::{
    Attachment, AuditEntry, Channel, Command, CommandChoice, CommandOption, CommandPermission,
    CommandPermissions, Emoji, Guild, Invite, Member, Message, MessagePatch, Poll, PollAnswer,
    PushSubscription, QueuedPush, ReadState, Role, ThreadMember, ThreadState, User,
    UserGuildSettings, Webhook, WebhookAuthor, channel_type,
};

use crate::{
    CommandCreate, CommandUpdate, HistoryAnchor, InviteUse, NewGuild, OpenPoll, PollVote, Store,
    StoreError, ThreadEdit, ThreadUpdate, history,
};
use crate::{Mention, MentionTarget, Mentioned};

/// Expands to one `#[tokio::test]` per conformance case.
#[macro_export]
macro_rules! store_conformance {
    ($open:path) => {
        $crate::store_conformance!(@cases $open;
            users_and_logins, applications, guild_lifecycle, members_paging, channels_and_cascade, channel_edits_never_recreate,
            threads, invites, bans, pins, reactions, private_channels, read_states, emojis, audit_log, attachments, meta, oversized_text_keys_are_refused, message_crud, history_semantics, empty_buckets_are_skipped,
            users_by_ids, members_by_ids, members_by_name, thread_updates, large_channels_are_deleted_whole, threads_are_created_once, invite_uses, meta_if_absent,
            webhooks, webhooks_go_with_their_channel, images_keep_their_blobs,
            poll_votes, polls_end_once_and_are_listed_until_then, poll_votes_go_with_their_message_and_channel,
            commands, command_overwrites_keep_ids, commands_go_with_their_guild, command_permissions,
            push_subscriptions, push_queue, user_guild_settings, mentions_inbox);
        $crate::store_conformance!(@concurrent $open;
            concurrent_invite_uses_admit_max_uses, concurrent_thread_messages_all_count,
            concurrent_thread_updates_never_recreate, concurrent_thread_starts_create_one,
            concurrent_meta_bootstraps_agree, concurrent_poll_votes_all_count,
            concurrent_vote_changes_keep_one_vote, concurrent_poll_ends_end_once,
            concurrent_command_overwrites_are_whole, concurrent_command_creates_make_one,
            concurrent_command_renames_keep_names_unique,
            concurrent_push_subscriptions_stay_within_max);
    };
    (@concurrent $open:path; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let (store, _guard) = $open($crate::conformance::TEST_BUCKET_MS).await;
                $crate::conformance::$case(store).await;
            }
        )*
    };
    (@cases $open:path; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $open($crate::conformance::TEST_BUCKET_MS).await;
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
}

/// Small buckets so tests cross many of them.
pub const TEST_BUCKET_MS: u64 = 1_000;

/// 2026-01-01T00:00:00Z, a fixed base for synthetic ids.
const BASE_MS: u64 = 1_767_225_600_000;

fn id_at(ms: u64, seq: u64) -> Snowflake {
    Snowflake(Snowflake::from_timestamp_ms(ms).get() | (seq & 0xfff))
}

fn user(id: u64, name: &str) -> User {
    User {
        email: Some(format!("{name}@example.com")),
        password_hash: Some("hash".into()),
        ..User::new(Snowflake(id), name)
    }
}

fn channel(id: u64, guild: u64) -> Channel {
    Channel::new(Snowflake(id), 0, Snowflake(guild), &format!("c{id}"))
}

fn member(guild: u64, user: u64) -> Member {
    Member::new(Snowflake(guild), Snowflake(user), BASE_MS)
}

fn message(channel: u64, id: Snowflake, content: &str) -> Message {
    Message {
        guild_id: Some(Snowflake(1)),
        ..Message::new(id, Snowflake(channel), Snowflake(10), content)
    }
}

/// A live invite of guild 100's channel 101.
fn invite(code: &str) -> Invite {
    Invite {
        code: code.to_owned(),
        guild_id: Snowflake(100),
        channel_id: Snowflake(101),
        inviter_id: Snowflake(1),
        created_ms: BASE_MS,
        max_age: 0,
        max_uses: 0,
        uses: 0,
        temporary: false,
    }
}

fn new_guild(guild: u64, owner: u64, channels: &[u64]) -> NewGuild {
    NewGuild {
        guild: Guild::new(Snowflake(guild), "g", Snowflake(owner)),
        roles: vec![Role::everyone(Snowflake(guild))],
        channels: channels.iter().map(|c| channel(*c, guild)).collect(),
        owner: member(guild, owner),
    }
}

/// Takes what deleted channels left, step by step, as the service does in
/// the background.
async fn purge(store: &dyn Store) {
    while store.purge_deleted().await.unwrap() {}
}

fn ids(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.id.get()).collect()
}

pub async fn users_and_logins(store: &dyn Store) {
    let ada = user(1, "Ada");
    store.create_user(&ada).await.unwrap();
    assert_eq!(store.user(Snowflake(1)).await.unwrap(), Some(ada.clone()));
    assert_eq!(store.user(Snowflake(2)).await.unwrap(), None);
    for login in ["ada", "ADA", "ada@EXAMPLE.com"] {
        let found = store.user_by_login(login).await.unwrap();
        assert_eq!(found.map(|u| u.id), Some(Snowflake(1)), "{login}");
    }
    let clash = user(2, "aDa");
    assert!(matches!(
        store.create_user(&clash).await,
        Err(StoreError::Conflict("username"))
    ));
    assert_eq!(
        store.user(Snowflake(2)).await.unwrap(),
        None,
        "a refused create writes nothing"
    );

    let mut renamed = ada.clone();
    renamed.username = "lovelace".into();
    assert!(store.update_user(&renamed, 0).await.unwrap());
    // A write read before a revocation is refused, whole.
    let mut revoked = renamed.clone();
    revoked.token_generation = 1;
    revoked.password_hash = Some("new".into());
    assert!(store.update_user(&revoked, 0).await.unwrap());
    let mut stale = renamed.clone();
    stale.global_name = Some("Ada".into());
    assert!(!store.update_user(&stale, 0).await.unwrap());
    let kept = store.user(Snowflake(1)).await.unwrap().unwrap();
    assert_eq!((kept.token_generation, kept.global_name), (1, None));
    assert_eq!(kept.password_hash.as_deref(), Some("new"));
    assert_eq!(
        store.user_by_login("ada").await.unwrap(),
        None,
        "old name is freed"
    );
    assert!(store.user_by_login("lovelace").await.unwrap().is_some());
    let mut reuse = user(3, "ada");
    reuse.email = Some("other@example.com".into());
    store.create_user(&reuse).await.unwrap();

    let listed = |users: Vec<User>| users.iter().map(|u| u.id.get()).collect::<Vec<_>>();
    assert_eq!(
        listed(store.users_after(Snowflake(0), 10).await.unwrap()),
        [1, 3]
    );
    assert_eq!(
        listed(store.users_after(Snowflake(1), 10).await.unwrap()),
        [3]
    );
    assert_eq!(
        listed(store.users_after(Snowflake(0), 1).await.unwrap()),
        [1]
    );
}

pub async fn applications(store: &dyn Store) {
    let mut bot = user(20, "helper");
    bot.bot = true;
    bot.email = None;
    bot.password_hash = None;
    let app = concord_model::records::Application {
        id: bot.id,
        name: "helper".into(),
        owner_id: Snowflake(1),
        description: String::new(),
        bot_public: true,
        allow_presences: true,
        allow_members: true,
        allow_message_content: true,
        interactions_endpoint_url: None,
    };
    store.create_application(&app, &bot).await.unwrap();
    assert_eq!(store.application(bot.id).await.unwrap(), Some(app.clone()));
    assert_eq!(store.user(bot.id).await.unwrap(), Some(bot.clone()));
    assert_eq!(
        store.user_by_login("helper").await.unwrap(),
        None,
        "bots cannot log in"
    );
    let mut changed = app.clone();
    changed.allow_message_content = false;
    changed.interactions_endpoint_url = Some("https://bot.example/interactions".into());
    store.update_application(&changed).await.unwrap();
    assert_eq!(store.application(bot.id).await.unwrap(), Some(changed));
}

pub async fn guild_lifecycle(store: &dyn Store) {
    store
        .create_guild(&new_guild(100, 1, &[101, 102]))
        .await
        .unwrap();
    let g = store.guild(Snowflake(100)).await.unwrap().unwrap();
    assert_eq!(g.owner_id, Snowflake(1));
    store
        .create_guild(&new_guild(200, 1, &[201]))
        .await
        .unwrap();
    let listed: Vec<u64> = (store.guilds_after(Snowflake(0), 10).await.unwrap())
        .iter()
        .map(|g| g.id.get())
        .collect();
    assert_eq!(listed, [100, 200]);
    assert_eq!(
        store.guilds_after(Snowflake(100), 10).await.unwrap().len(),
        1
    );
    store.delete_guild(Snowflake(200)).await.unwrap();
    purge(store).await;
    assert_eq!(store.roles(Snowflake(100)).await.unwrap().len(), 1);
    let channels = store.guild_channels(Snowflake(100)).await.unwrap();
    assert_eq!(
        channels.iter().map(|c| c.id.get()).collect::<Vec<_>>(),
        [101, 102]
    );
    assert!(
        store
            .member(Snowflake(100), Snowflake(1))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.user_guild_ids(Snowflake(1)).await.unwrap(),
        [Snowflake(100)]
    );

    let mut renamed = g.clone();
    renamed.name = "renamed".into();
    store.update_guild(&renamed).await.unwrap();
    assert_eq!(
        store.guild(Snowflake(100)).await.unwrap().unwrap().name,
        "renamed"
    );

    let role = Role {
        id: Snowflake(103),
        guild_id: Snowflake(100),
        name: "mods".into(),
        permissions: Permissions::MANAGE_MESSAGES,
        position: 1,
        color: 0,
        hoist: false,
        mentionable: false,
        bot_id: None,
    };
    store.put_role(&role).await.unwrap();
    assert_eq!(store.roles(Snowflake(100)).await.unwrap().len(), 2);
    store
        .delete_role(Snowflake(100), Snowflake(103))
        .await
        .unwrap();
    assert_eq!(store.roles(Snowflake(100)).await.unwrap().len(), 1);

    store.put_member(&member(100, 2)).await.unwrap();
    store
        .create_message(&message(101, id_at(BASE_MS, 1), "hi"))
        .await
        .unwrap();
    let invite = invite("abcdEFGH");
    store.put_invite(&invite).await.unwrap();
    // Another guild must survive the delete untouched.
    store
        .create_guild(&new_guild(200, 2, &[201]))
        .await
        .unwrap();

    store.delete_guild(Snowflake(100)).await.unwrap();
    purge(store).await;
    assert_eq!(store.guild(Snowflake(100)).await.unwrap(), None);
    assert!(store.roles(Snowflake(100)).await.unwrap().is_empty());
    assert!(
        store
            .guild_channels(Snowflake(100))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.channel(Snowflake(101)).await.unwrap(), None);
    assert!(
        store
            .messages_before(Snowflake(101), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.member(Snowflake(100), Snowflake(2)).await.unwrap(),
        None
    );
    assert_eq!(store.member_count(Snowflake(100)).await.unwrap(), 0);
    assert!(store.user_guild_ids(Snowflake(1)).await.unwrap().is_empty());
    assert_eq!(
        store.user_guild_ids(Snowflake(2)).await.unwrap(),
        [Snowflake(200)]
    );
    assert_eq!(store.invite("abcdEFGH").await.unwrap(), None);
    assert!(store.guild(Snowflake(200)).await.unwrap().is_some());
    assert!(store.channel(Snowflake(201)).await.unwrap().is_some());
}

pub async fn members_paging(store: &dyn Store) {
    store
        .create_guild(&new_guild(100, 5, &[101]))
        .await
        .unwrap();
    for u in [9, 3, 7, 1] {
        store.put_member(&member(100, u)).await.unwrap();
    }
    assert_eq!(store.member_count(Snowflake(100)).await.unwrap(), 5);
    let page = |after, limit| async move {
        let members = store
            .members(Snowflake(100), Snowflake(after), limit)
            .await
            .unwrap();
        members.iter().map(|m| m.user_id.get()).collect::<Vec<_>>()
    };
    assert_eq!(page(0, 100).await, [1, 3, 5, 7, 9]);
    assert_eq!(page(3, 2).await, [5, 7]);
    assert_eq!(page(9, 10).await, Vec::<u64>::new());

    let mut nick = member(100, 3);
    nick.nick = Some("three".into());
    store.put_member(&nick).await.unwrap();
    assert_eq!(
        store.member_count(Snowflake(100)).await.unwrap(),
        5,
        "replace is not insert"
    );
    store
        .delete_member(Snowflake(100), Snowflake(3))
        .await
        .unwrap();
    store
        .delete_member(Snowflake(100), Snowflake(3))
        .await
        .unwrap();
    assert_eq!(store.member_count(Snowflake(100)).await.unwrap(), 4);
    assert_eq!(page(0, 100).await, [1, 5, 7, 9]);
}

pub async fn channels_and_cascade(store: &dyn Store) {
    store
        .create_guild(&new_guild(100, 1, &[101]))
        .await
        .unwrap();
    let mut c = channel(102, 100);
    store.put_channel(&c).await.unwrap();
    c.name = "renamed".into();
    store.put_channel(&c).await.unwrap();
    assert_eq!(store.guild_channels(Snowflake(100)).await.unwrap().len(), 2);
    let every: Vec<u64> = (store.channels_after(Snowflake(0), 10).await.unwrap())
        .iter()
        .map(|c| c.id.get())
        .collect();
    assert_eq!(every, [101, 102]);
    let rest = store.channels_after(Snowflake(101), 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id, Snowflake(102));
    assert_eq!(
        store.channels_after(Snowflake(0), 1).await.unwrap().len(),
        1
    );
    assert_eq!(
        store.channel(Snowflake(102)).await.unwrap().unwrap().name,
        "renamed"
    );
    for i in 0..5 {
        store
            .create_message(&message(102, id_at(BASE_MS + i * 700, i), "x"))
            .await
            .unwrap();
    }
    store
        .create_message(&message(101, id_at(BASE_MS, 9), "kept"))
        .await
        .unwrap();
    store.delete_channel(Snowflake(102)).await.unwrap();
    purge(store).await;
    assert_eq!(store.channel(Snowflake(102)).await.unwrap(), None);
    assert!(
        store
            .messages_before(Snowflake(102), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .messages_before(Snowflake(101), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.guild_channels(Snowflake(100)).await.unwrap().len(), 1);
}

/// An edit of a channel that is gone writes nothing, also when it races
/// the deletion: the channel stays deleted, with no index entry left.
pub async fn channel_edits_never_recreate(store: &dyn Store) {
    store.create_guild(&new_guild(100, 1, &[])).await.unwrap();
    let mut c = channel(102, 100);
    store.put_channel(&c).await.unwrap();
    c.name = "renamed".into();
    assert!(store.update_channel(&c).await.unwrap());
    assert_eq!(
        store.channel(Snowflake(102)).await.unwrap().unwrap().name,
        "renamed"
    );
    store.delete_channel(Snowflake(102)).await.unwrap();
    purge(store).await;
    c.name = "too late".into();
    assert!(!store.update_channel(&c).await.unwrap());
    assert_eq!(store.channel(Snowflake(102)).await.unwrap(), None);
    assert!(
        store
            .guild_channels(Snowflake(100))
            .await
            .unwrap()
            .is_empty()
    );
    for id in 200..220 {
        let c = channel(id, 100);
        store.put_channel(&c).await.unwrap();
        let (_, deleted) = tokio::join!(store.update_channel(&c), store.delete_channel(c.id));
        deleted.unwrap();
        assert_eq!(store.channel(c.id).await.unwrap(), None, "channel {id}");
    }
    assert!(
        store
            .guild_channels(Snowflake(100))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn threads(store: &dyn Store) {
    store.create_guild(&new_guild(1, 10, &[2])).await.unwrap();
    let thread = |id: u64| Channel {
        parent_id: Some(Snowflake(2)),
        owner_id: Some(Snowflake(10)),
        thread: Some(ThreadState::new(60, BASE_MS)),
        ..Channel::new(
            Snowflake(id),
            channel_type::PUBLIC_THREAD,
            Snowflake(1),
            "t",
        )
    };
    store.put_channel(&thread(30)).await.unwrap();
    store.put_channel(&thread(31)).await.unwrap();
    let listed = |cs: Vec<Channel>| cs.iter().map(|c| c.id.get()).collect::<Vec<_>>();
    assert_eq!(
        listed(store.guild_channels(Snowflake(1)).await.unwrap()),
        [2]
    );
    assert_eq!(
        listed(store.guild_threads(Snowflake(1)).await.unwrap()),
        [30, 31]
    );
    let follower = |user: u64| ThreadMember {
        thread_id: Snowflake(30),
        user_id: Snowflake(user),
        join_ms: BASE_MS,
        flags: 0,
    };
    for (u, count) in [(12, 1), (10, 2), (11, 3)] {
        let added = store.add_thread_member(&follower(u)).await.unwrap();
        let state = added.and_then(|t| t.thread).expect("added");
        assert_eq!(state.member_count, count, "counted with the member");
    }
    assert_eq!(
        store.add_thread_member(&follower(11)).await.unwrap(),
        None,
        "a follower is added once"
    );
    let counted = store.channel(Snowflake(30)).await.unwrap().unwrap();
    assert_eq!(counted.thread.unwrap().member_count, 3);
    let users = |ms: Vec<ThreadMember>| ms.iter().map(|m| m.user_id.get()).collect::<Vec<_>>();
    let page = store
        .thread_members(Snowflake(30), Snowflake(10), 10)
        .await
        .unwrap();
    assert_eq!(users(page), [11, 12], "after 10, by user id");
    assert_eq!(
        store
            .thread_member(Snowflake(30), Snowflake(11))
            .await
            .unwrap(),
        Some(follower(11))
    );
    let removed = store
        .remove_thread_member(Snowflake(30), Snowflake(11))
        .await
        .unwrap();
    assert_eq!(removed.and_then(|t| t.thread).unwrap().member_count, 2);
    assert_eq!(
        store
            .remove_thread_member(Snowflake(30), Snowflake(11))
            .await
            .unwrap(),
        None,
        "removed once"
    );
    let not_thread = ThreadMember {
        thread_id: Snowflake(2),
        ..follower(10)
    };
    assert_eq!(store.add_thread_member(&not_thread).await.unwrap(), None);
    assert_eq!(
        store
            .thread_member(Snowflake(2), Snowflake(10))
            .await
            .unwrap(),
        None,
        "a channel that is no thread has no followers"
    );
    store.delete_channel(Snowflake(30)).await.unwrap();
    purge(store).await;
    assert!(
        store
            .thread_member(Snowflake(30), Snowflake(12))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        listed(store.guild_threads(Snowflake(1)).await.unwrap()),
        [31]
    );
    let in_31 = ThreadMember {
        thread_id: Snowflake(31),
        ..follower(10)
    };
    store.add_thread_member(&in_31).await.unwrap().unwrap();
    store.delete_guild(Snowflake(1)).await.unwrap();
    purge(store).await;
    assert!(store.channel(Snowflake(31)).await.unwrap().is_none());
    assert!(store.guild_threads(Snowflake(1)).await.unwrap().is_empty());
    assert!(
        store
            .thread_member(Snowflake(31), Snowflake(10))
            .await
            .unwrap()
            .is_none(),
        "a deleted guild's thread members go with it"
    );
}

pub async fn invites(store: &dyn Store) {
    let mut invite = Invite {
        code: "Zz12Zz12".into(),
        guild_id: Snowflake(100),
        channel_id: Snowflake(101),
        inviter_id: Snowflake(1),
        created_ms: BASE_MS,
        max_age: 60,
        max_uses: 2,
        uses: 0,
        temporary: false,
    };
    store.put_invite(&invite).await.unwrap();
    invite.uses = 1;
    store.put_invite(&invite).await.unwrap();
    assert_eq!(
        store.invite("Zz12Zz12").await.unwrap(),
        Some(invite.clone())
    );
    assert_eq!(
        store.invite("zz12zz12").await.unwrap(),
        None,
        "codes are case-sensitive"
    );
    let other = Invite {
        code: "Aa34Aa34".into(),
        ..invite.clone()
    };
    store.put_invite(&other).await.unwrap();
    store
        .put_invite(&Invite {
            code: "Elsewhere".into(),
            guild_id: Snowflake(200),
            ..invite.clone()
        })
        .await
        .unwrap();
    let codes = |list: Vec<Invite>| list.into_iter().map(|i| i.code).collect::<Vec<_>>();
    assert_eq!(
        codes(store.guild_invites(Snowflake(100)).await.unwrap()),
        ["Aa34Aa34", "Zz12Zz12"],
        "the guild's own, by code"
    );
    store.delete_invite("Zz12Zz12").await.unwrap();
    assert_eq!(store.invite("Zz12Zz12").await.unwrap(), None);
    assert_eq!(
        codes(store.guild_invites(Snowflake(100)).await.unwrap()),
        ["Aa34Aa34"]
    );
}

pub async fn bans(store: &dyn Store) {
    let ban = |user: u64| concord_model::records::Ban {
        guild_id: Snowflake(100),
        user_id: Snowflake(user),
        reason: Some("spam".into()),
        created_ms: BASE_MS,
    };
    assert_eq!(store.ban(Snowflake(100), Snowflake(5)).await.unwrap(), None);
    for user in [9, 5, 7] {
        store.put_ban(&ban(user)).await.unwrap();
    }
    assert_eq!(
        store.ban(Snowflake(100), Snowflake(5)).await.unwrap(),
        Some(ban(5))
    );
    let listed = store.bans(Snowflake(100), Snowflake(5), 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|b| b.user_id.get()).collect::<Vec<_>>(),
        [7, 9]
    );
    store
        .delete_ban(Snowflake(100), Snowflake(7))
        .await
        .unwrap();
    assert_eq!(
        store
            .bans(Snowflake(100), Snowflake(0), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    store
        .create_guild(&new_guild(100, 1, &[101]))
        .await
        .unwrap();
    store.delete_guild(Snowflake(100)).await.unwrap();
    purge(store).await;
    assert!(
        store
            .bans(Snowflake(100), Snowflake(0), 10)
            .await
            .unwrap()
            .is_empty(),
        "bans go with the guild"
    );
}

pub async fn pins(store: &dyn Store) {
    let c = Snowflake(101);
    let ids: Vec<Snowflake> = (0..4).map(|i| id_at(BASE_MS, i)).collect();
    for id in &ids {
        store.create_message(&message(101, *id, "m")).await.unwrap();
    }
    for (i, id) in ids.iter().enumerate() {
        store
            .put_pin(c, *id, BASE_MS + 10 * i as u64)
            .await
            .unwrap();
    }
    let newest_first = |pins: Vec<(Snowflake, u64)>| {
        pins.iter()
            .map(|(m, _)| m.get() & 0xfff)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        newest_first(store.pins(c, None, 10).await.unwrap()),
        [3, 2, 1, 0]
    );
    assert_eq!(
        newest_first(store.pins(c, Some(BASE_MS + 20), 10).await.unwrap()),
        [1, 0],
        "before is exclusive"
    );
    assert_eq!(newest_first(store.pins(c, None, 2).await.unwrap()), [3, 2]);
    store.put_pin(c, ids[0], BASE_MS + 100).await.unwrap();
    assert_eq!(
        newest_first(store.pins(c, None, 10).await.unwrap()),
        [0, 3, 2, 1],
        "re-pinning moves it"
    );
    assert_eq!(store.pin_count(c).await.unwrap(), 4);
    assert!(store.delete_pin(c, ids[2]).await.unwrap());
    assert!(!store.delete_pin(c, ids[2]).await.unwrap());
    store.delete_messages(c, &[ids[3]]).await.unwrap();
    assert_eq!(
        newest_first(store.pins(c, None, 10).await.unwrap()),
        [0, 1],
        "a deleted message is unpinned"
    );
    store.delete_channel(c).await.unwrap();
    purge(store).await;
    assert_eq!(store.pin_count(c).await.unwrap(), 0);
}

pub async fn mentions_inbox(store: &dyn Store) {
    let (reader, other) = (Snowflake(1), Snowflake(2));
    let (role, guild) = (Snowflake(30), Snowflake(40));
    let (c1, c2) = (Snowflake(101), Snowflake(102));
    let entry = |target, n: u64, channel_id| Mention {
        target,
        message_id: id_at(BASE_MS, n),
        channel_id,
    };
    let entries = [
        entry(MentionTarget::User(reader), 1, c1),
        entry(MentionTarget::Role(role), 2, c2),
        entry(MentionTarget::Everyone(guild), 3, c1),
        // One message mentioning the reader twice is listed once.
        entry(MentionTarget::User(reader), 4, c2),
        entry(MentionTarget::Role(role), 4, c2),
        entry(MentionTarget::User(other), 5, c1),
    ];
    store.put_mentions(&entries).await.unwrap();
    // Putting again keeps one entry.
    store.put_mentions(&entries[..1]).await.unwrap();
    let all = [
        MentionTarget::User(reader),
        MentionTarget::Role(role),
        MentionTarget::Everyone(guild),
    ];
    let page = |list: Vec<Mentioned>| {
        list.iter()
            .map(|m| (m.message_id.get() & 0xfff, m.channel_id.get()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        page(store.mentions(reader, &all, None, 10).await.unwrap()),
        [(4, 102), (3, 101), (2, 102), (1, 101)]
    );
    assert_eq!(
        page(store.mentions(reader, &all, None, 2).await.unwrap()),
        [(4, 102), (3, 101)]
    );
    let before = Some(id_at(BASE_MS, 3));
    assert_eq!(
        page(store.mentions(reader, &all, before, 10).await.unwrap()),
        [(2, 102), (1, 101)],
        "before is exclusive"
    );
    assert_eq!(
        page(store.mentions(reader, &all[..1], None, 10).await.unwrap()),
        [(4, 102), (1, 101)],
        "only the targets asked for"
    );
    assert!(
        store
            .mentions(reader, &[], None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .dismiss_mention(reader, id_at(BASE_MS, 4))
        .await
        .unwrap();
    assert_eq!(
        page(store.mentions(reader, &all, None, 2).await.unwrap()),
        [(3, 101), (2, 102)],
        "a dismissed message leaves the reader's inbox and takes no place in a page"
    );
    assert_eq!(
        page(
            store
                .mentions(other, &[MentionTarget::Role(role)], None, 10)
                .await
                .unwrap()
        ),
        [(4, 102), (2, 102)],
        "but not anyone else's"
    );
    store.delete_mentions(&entries[..2]).await.unwrap();
    assert_eq!(
        page(store.mentions(reader, &all, None, 10).await.unwrap()),
        [(3, 101)]
    );
}

pub async fn reactions(store: &dyn Store) {
    let (c, m) = (Snowflake(101), id_at(BASE_MS, 1));
    let (thumbs, heart) = ("👍", "❤️");
    assert_eq!(
        store
            .add_reaction(c, m, thumbs, Snowflake(5))
            .await
            .unwrap(),
        None,
        "no such message"
    );
    store
        .create_message(&message(101, m, "react to me"))
        .await
        .unwrap();
    for user in [7, 5, 9] {
        assert_eq!(
            store
                .add_reaction(c, m, thumbs, Snowflake(user))
                .await
                .unwrap(),
            Some(true)
        );
    }
    assert_eq!(
        store
            .add_reaction(c, m, thumbs, Snowflake(5))
            .await
            .unwrap(),
        Some(false),
        "once per user"
    );
    store.add_reaction(c, m, heart, Snowflake(5)).await.unwrap();
    let counts = |msg: Message| {
        msg.reactions
            .iter()
            .map(|r| (r.emoji.clone(), r.count))
            .collect::<Vec<_>>()
    };
    let row = store.message(c, m).await.unwrap().unwrap();
    assert_eq!(
        counts(row),
        [(thumbs.to_owned(), 3), (heart.to_owned(), 1)],
        "counts live on the row, first emoji first"
    );
    let users = store
        .reaction_users(c, m, thumbs, Snowflake(5), 10)
        .await
        .unwrap();
    assert_eq!(users, [Snowflake(7), Snowflake(9)]);
    assert!(store.has_reacted(c, m, heart, Snowflake(5)).await.unwrap());
    assert!(
        store
            .remove_reaction(c, m, thumbs, Snowflake(7))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_reaction(c, m, thumbs, Snowflake(7))
            .await
            .unwrap()
    );
    let row = store
        .clear_reactions(c, m, Some(heart))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counts(row), [(thumbs.to_owned(), 2)]);
    assert!(!store.has_reacted(c, m, heart, Snowflake(5)).await.unwrap());
    let row = store.clear_reactions(c, m, None).await.unwrap().unwrap();
    assert!(row.reactions.is_empty());
    assert!(
        store
            .reaction_users(c, m, thumbs, Snowflake(0), 10)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .add_reaction(c, m, thumbs, Snowflake(5))
        .await
        .unwrap();
    store.delete_messages(c, &[m]).await.unwrap();
    assert!(
        !store.has_reacted(c, m, thumbs, Snowflake(5)).await.unwrap(),
        "reactions go with the message"
    );
}

pub async fn private_channels(store: &dyn Store) {
    use concord_model::records::channel_type::{DM, GROUP_DM};
    let (a, b, c) = (Snowflake(1), Snowflake(2), Snowflake(3));
    assert_eq!(store.dm_between(a, b).await.unwrap(), None);
    store
        .create_private_channel(&Channel::private(Snowflake(50), DM, vec![b, a]))
        .await
        .unwrap();
    let mut group = Channel::private(Snowflake(51), GROUP_DM, vec![a, b, c]);
    group.owner_id = Some(a);
    store.create_private_channel(&group).await.unwrap();
    assert_eq!(store.dm_between(a, b).await.unwrap(), Some(Snowflake(50)));
    assert_eq!(
        store.dm_between(b, a).await.unwrap(),
        Some(Snowflake(50)),
        "either way round"
    );
    assert_eq!(
        store.dm_between(a, c).await.unwrap(),
        None,
        "a group is not a DM"
    );
    let of = |u| async move {
        store
            .private_channels(u)
            .await
            .unwrap()
            .iter()
            .map(|ch| ch.id.get())
            .collect::<Vec<_>>()
    };
    assert_eq!(of(a).await, [50, 51]);
    assert_eq!(of(c).await, [51]);
    assert_eq!(
        store.channel(Snowflake(51)).await.unwrap(),
        Some(group.clone())
    );
    // Recipients change: d joins, c leaves.
    let d = Snowflake(4);
    group.recipients = vec![a, b, d];
    store.update_private_channel(&group, &[c]).await.unwrap();
    assert_eq!(of(c).await, Vec::<u64>::new());
    assert_eq!(of(d).await, [51]);
    assert_eq!(store.channel(Snowflake(51)).await.unwrap(), Some(group));
    let every = store.channels_after(Snowflake(0), 10).await.unwrap();
    assert_eq!(every.len(), 2, "private channels are listed with the rest");
}

pub async fn read_states(store: &dyn Store) {
    let state = |user: u64, channel: u64, last: u64| ReadState {
        user_id: Snowflake(user),
        channel_id: Snowflake(channel),
        last_message_id: Snowflake(last),
    };
    assert!(store.read_states(Snowflake(1)).await.unwrap().is_empty());
    for s in [state(1, 20, 5), state(1, 10, 7), state(2, 10, 3)] {
        store.put_read_state(&s).await.unwrap();
    }
    store.put_read_state(&state(1, 20, 9)).await.unwrap();
    assert_eq!(
        store.read_states(Snowflake(1)).await.unwrap(),
        [state(1, 10, 7), state(1, 20, 9)],
        "one per channel, by channel, the latest kept"
    );
    assert_eq!(
        store.read_states(Snowflake(2)).await.unwrap(),
        [state(2, 10, 3)]
    );
}

pub async fn emojis(store: &dyn Store) {
    store
        .create_guild(&new_guild(100, 1, &[101]))
        .await
        .unwrap();
    let emoji = |id: u64, name: &str| Emoji {
        id: Snowflake(id),
        guild_id: Snowflake(100),
        name: name.into(),
        roles: Vec::new(),
        user_id: Snowflake(1),
        animated: false,
        content_type: "image/png".into(),
    };
    store
        .put_emoji(&emoji(7, "blob"), Some(b"png7"))
        .await
        .unwrap();
    store
        .put_emoji(&emoji(6, "wave"), Some(b"png6"))
        .await
        .unwrap();
    store.put_emoji(&emoji(7, "renamed"), None).await.unwrap();
    let names: Vec<String> = (store.emojis(Snowflake(100)).await.unwrap())
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(
        names,
        ["wave", "renamed"],
        "by id; a rename keeps the image"
    );
    assert_eq!(
        store.emoji_image(Snowflake(7)).await.unwrap(),
        Some(b"png7".to_vec())
    );
    store
        .delete_emoji(Snowflake(100), Snowflake(6))
        .await
        .unwrap();
    assert_eq!(store.emoji_image(Snowflake(6)).await.unwrap(), None);
    store.delete_guild(Snowflake(100)).await.unwrap();
    purge(store).await;
    assert!(store.emojis(Snowflake(100)).await.unwrap().is_empty());
    assert_eq!(
        store.emoji_image(Snowflake(7)).await.unwrap(),
        None,
        "gone with the guild"
    );
}

pub async fn audit_log(store: &dyn Store) {
    let entry = |guild: u64, id: u64| AuditEntry {
        id: Snowflake(id),
        guild_id: Snowflake(guild),
        user_id: Snowflake(1),
        target_id: Some(Snowflake(2)),
        action_type: 20,
        changes: Vec::new(),
        options: None,
        reason: Some("spam".into()),
    };
    for (guild, id) in [(100, 5), (100, 9), (100, 7), (200, 8)] {
        store.append_audit(&entry(guild, id)).await.unwrap();
    }
    let ids = |entries: Vec<AuditEntry>| entries.iter().map(|e| e.id.get()).collect::<Vec<_>>();
    let all = store.audit_entries(Snowflake(100), None, 10).await.unwrap();
    assert_eq!(all[0], entry(100, 9));
    assert_eq!(ids(all), [9, 7, 5], "newest first, one guild");
    let older = store
        .audit_entries(Snowflake(100), Some(Snowflake(9)), 1)
        .await
        .unwrap();
    assert_eq!(ids(older), [7], "before is exclusive");
    store
        .create_guild(&new_guild(100, 1, &[101]))
        .await
        .unwrap();
    store.delete_guild(Snowflake(100)).await.unwrap();
    purge(store).await;
    assert!(
        store
            .audit_entries(Snowflake(100), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn attachments(store: &dyn Store) {
    let file = |id: u64, sha: &str| Attachment {
        id: Snowflake(id),
        channel_id: Snowflake(10),
        filename: format!("f{id}.png"),
        size: 3,
        content_type: Some("image/png".into()),
        width: Some(2),
        height: Some(1),
        sha256: sha.into(),
        description: None,
    };
    store
        .put_attachments(&[file(1, "aa"), file(2, "aa"), file(3, "bb")])
        .await
        .unwrap();
    assert_eq!(
        store.attachment(Snowflake(1)).await.unwrap(),
        Some(file(1, "aa"))
    );
    assert_eq!(store.attachment(Snowflake(9)).await.unwrap(), None);
    store.put_attachments(&[file(4, "aa")]).await.unwrap();

    let freed = store
        .delete_attachments(&[Snowflake(1), Snowflake(3)])
        .await
        .unwrap();
    assert_eq!(freed, ["bb"], "aa is still held by 2 and 4");
    assert_eq!(store.attachment(Snowflake(1)).await.unwrap(), None);
    assert!(
        store
            .delete_attachments(&[Snowflake(1)])
            .await
            .unwrap()
            .is_empty()
    );
    let freed = store
        .delete_attachments(&[Snowflake(2), Snowflake(4)])
        .await
        .unwrap();
    assert_eq!(freed, ["aa"]);
}

/// A blob is referred to while an attachment or any stored record's image
/// names it, and stops being once the last of them is replaced, removed
/// or deleted with what showed it.
pub async fn images_keep_their_blobs(store: &dyn Store) {
    let referenced = |sha: &'static str| async move { store.blob_referenced(sha).await.unwrap() };
    let mut ada = user(1, "ada");
    ada.avatar_blob = Some("aa".into());
    store.create_user(&ada).await.unwrap();
    let mut bob = user(2, "bob");
    bob.avatar_blob = Some("aa".into());
    store.create_user(&bob).await.unwrap();
    assert!(referenced("aa").await);
    assert!(!referenced("a").await, "a prefix of a name is not the name");

    ada.avatar_blob = Some("bb".into());
    assert!(store.update_user(&ada, 0).await.unwrap());
    assert!(
        referenced("aa").await && referenced("bb").await,
        "bob still shows aa"
    );
    bob.avatar_blob = None;
    assert!(store.update_user(&bob, 0).await.unwrap());
    assert!(!referenced("aa").await, "replaced and removed");
    assert!(store.update_user(&ada, 0).await.unwrap());
    assert!(referenced("bb").await, "written again unchanged");

    let file = Attachment {
        id: Snowflake(7),
        channel_id: Snowflake(10),
        filename: "f.png".into(),
        size: 3,
        content_type: None,
        width: None,
        height: None,
        sha256: "bb".into(),
        description: None,
    };
    store.put_attachments(&[file]).await.unwrap();
    ada.avatar_blob = None;
    assert!(store.update_user(&ada, 0).await.unwrap());
    assert!(referenced("bb").await, "the attachment still refers to it");
    let freed = store.delete_attachments(&[Snowflake(7)]).await.unwrap();
    assert!(freed.len() <= 1, "at most the blob itself: {freed:?}");
    assert!(!referenced("bb").await);

    let mut guild = new_guild(100, 1, &[101]);
    guild.guild.icon_blob = Some("cc".into());
    store.create_guild(&guild).await.unwrap();
    assert!(referenced("cc").await);
    guild.guild.icon_blob = Some("dd".into());
    store.update_guild(&guild.guild).await.unwrap();
    assert!(!referenced("cc").await && referenced("dd").await);

    let mut hook = webhook(50, 100, 101);
    hook.avatar_blob = Some("ee".into());
    store.create_webhook(&hook).await.unwrap();
    assert!(referenced("ee").await);
    hook.avatar_blob = Some("ff".into());
    assert!(store.update_webhook(&hook).await.unwrap());
    assert!(!referenced("ee").await && referenced("ff").await);
    let mut other = webhook(51, 100, 101);
    other.avatar_blob = Some("99".into());
    store.create_webhook(&other).await.unwrap();
    store.delete_webhook(Snowflake(51)).await.unwrap();
    assert!(!referenced("99").await, "a deleted webhook shows nothing");

    store.delete_guild(Snowflake(100)).await.unwrap();
    purge(store).await;
    assert!(
        !referenced("dd").await && !referenced("ff").await,
        "a deleted guild's icon and webhooks show nothing"
    );

    // A group DM's icon, set by an edit of its channel, then by one of
    // its recipients.
    let mut group = Channel::private(
        Snowflake(200),
        channel_type::GROUP_DM,
        vec![Snowflake(1), Snowflake(2)],
    );
    store.create_private_channel(&group).await.unwrap();
    group.icon_blob = Some("77".into());
    assert!(store.update_channel(&group).await.unwrap());
    assert!(referenced("77").await);
    group.icon_blob = Some("88".into());
    group.recipients.pop();
    store
        .update_private_channel(&group, &[Snowflake(2)])
        .await
        .unwrap();
    assert!(!referenced("77").await && referenced("88").await);
    group.icon_blob = None;
    assert!(store.update_channel(&group).await.unwrap());
    assert!(!referenced("88").await, "removed");
}

pub async fn meta(store: &dyn Store) {
    assert_eq!(store.meta("secret").await.unwrap(), None);
    store.put_meta("secret", b"\x00\x01").await.unwrap();
    assert_eq!(store.meta("secret").await.unwrap(), Some(vec![0, 1]));
    assert_eq!(store.take_meta("secret").await.unwrap(), Some(vec![0, 1]));
    assert_eq!(store.take_meta("secret").await.unwrap(), None, "taken once");
    assert_eq!(store.meta("secret").await.unwrap(), None);

    // Listed by prefix, in byte order, the first `limit` of them.
    for key in ["due:002", "due:010", "due:001", "dues", "du", "other:000"] {
        store.put_meta(key, b"").await.unwrap();
    }
    let due = store.meta_keys("due:", 10).await.unwrap();
    assert_eq!(due, ["due:001", "due:002", "due:010"]);
    assert_eq!(store.meta_keys("due:", 2).await.unwrap(), due[..2]);
    assert!(store.meta_keys("none:", 10).await.unwrap().is_empty());
    store.take_meta("due:001").await.unwrap();
    assert_eq!(store.meta_keys("due:", 1).await.unwrap(), ["due:002"]);
}

pub async fn message_crud(store: &dyn Store) {
    let id = id_at(BASE_MS, 1);
    let mut m = message(101, id, "first");
    m.nonce = Some(serde_json::json!("n1"));
    m.embeds = vec![serde_json::json!({"title": "t"})];
    store.create_message(&m).await.unwrap();
    assert_eq!(
        store.message(Snowflake(101), id).await.unwrap(),
        Some(m.clone())
    );
    assert_eq!(
        store.message(Snowflake(999), id).await.unwrap(),
        None,
        "other channel"
    );

    let row = serde_json::json!([{ "type": 1, "components": [{ "type": 2, "custom_id": "b" }] }]);
    let file = concord_model::records::Attachment {
        id: id_at(BASE_MS, 9),
        channel_id: Snowflake(101),
        filename: "added.txt".into(),
        size: 3,
        content_type: None,
        width: None,
        height: None,
        sha256: "ab".repeat(32),
        description: None,
    };
    let patch = MessagePatch {
        content: Some("second".into()),
        components: Some(vec![row.clone()]),
        edited_ms: Some(BASE_MS + 5),
        attachments: Some(vec![file.clone()]),
        ..MessagePatch::default()
    };
    let edited = store
        .update_message(Snowflake(101), id, &patch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.content, "second");
    assert_eq!(edited.components, vec![row], "components are patched");
    assert_eq!(edited.attachments, vec![file], "an edit's files are kept");
    assert_eq!(edited.embeds, m.embeds, "unpatched columns are kept");
    assert_eq!(edited.nonce, m.nonce);
    assert_eq!(
        store.message(Snowflake(101), id).await.unwrap(),
        Some(edited)
    );
    let missing = store
        .update_message(Snowflake(101), id_at(BASE_MS, 2), &patch)
        .await;
    assert_eq!(missing.unwrap(), None);

    let deleted = store
        .delete_messages(Snowflake(101), &[id, id_at(BASE_MS, 3)])
        .await
        .unwrap();
    assert_eq!(ids(&deleted), [id.get()]);
    assert_eq!(store.message(Snowflake(101), id).await.unwrap(), None);
    assert!(
        store
            .delete_messages(Snowflake(101), &[id])
            .await
            .unwrap()
            .is_empty()
    );
}

/// Every anchor against a plain sorted list, across many buckets.
pub async fn history_semantics(store: &dyn Store) {
    let channel = Snowflake(101);
    let page =
        |anchor, limit| async move { ids(&history(store, channel, anchor, limit).await.unwrap()) };
    assert!(
        page(HistoryAnchor::Latest, 50).await.is_empty(),
        "empty channel"
    );

    // 250 messages, 3 per second, so buckets of 1 s hold 2-3 each; one gap of empty buckets.
    let mut all: Vec<u64> = (0..250u64)
        .map(|i| {
            let gap = if i >= 200 { 60_000 } else { 0 };
            id_at(BASE_MS + i * 333 + gap, i).get()
        })
        .collect();
    for id in &all {
        store
            .create_message(&message(101, Snowflake(*id), "m"))
            .await
            .unwrap();
    }
    store
        .create_message(&message(102, id_at(BASE_MS + 100, 7), "other"))
        .await
        .unwrap();
    all.sort_unstable();
    let desc: Vec<u64> = all.iter().rev().copied().collect();

    assert_eq!(page(HistoryAnchor::Latest, 100).await, desc[..100]);
    assert_eq!(page(HistoryAnchor::Latest, 1).await, desc[..1]);
    let cursor = all[150];
    let before: Vec<u64> = desc
        .iter()
        .copied()
        .filter(|i| *i < cursor)
        .take(100)
        .collect();
    assert_eq!(
        page(HistoryAnchor::Before(Snowflake(cursor)), 100).await,
        before
    );
    assert_eq!(before.len(), 100, "exactly 100 across bucket boundaries");
    let mut after: Vec<u64> = all
        .iter()
        .copied()
        .filter(|i| *i > cursor)
        .take(100)
        .collect();
    after.reverse();
    assert_eq!(
        page(HistoryAnchor::After(Snowflake(cursor)), 100).await,
        after
    );
    assert_eq!(
        page(HistoryAnchor::After(Snowflake(0)), 3).await,
        [all[2], all[1], all[0]]
    );
    assert!(
        page(HistoryAnchor::After(Snowflake(all[249])), 50)
            .await
            .is_empty()
    );
    assert!(
        page(HistoryAnchor::Before(Snowflake(all[0])), 50)
            .await
            .is_empty()
    );

    // around: ceil(limit/2) at or below the anchor, floor(limit/2) above, newest first.
    let around_mid = page(HistoryAnchor::Around(Snowflake(all[100])), 5).await;
    assert_eq!(around_mid, [all[102], all[101], all[100], all[99], all[98]]);
    let around_first = page(HistoryAnchor::Around(Snowflake(all[0])), 4).await;
    assert_eq!(around_first, [all[2], all[1], all[0]]);
    let around_last = page(HistoryAnchor::Around(Snowflake(all[249])), 4).await;
    assert_eq!(around_last, [all[249], all[248]]);

    // Page through the whole channel both ways: nothing lost, nothing twice.
    let mut seen = BTreeSet::new();
    let mut cursor = None;
    loop {
        let anchor = cursor.map_or(HistoryAnchor::Latest, |c| {
            HistoryAnchor::Before(Snowflake(c))
        });
        let batch = page(anchor, 100).await;
        let Some(last) = batch.last() else { break };
        cursor = Some(*last);
        assert!(batch.iter().all(|id| seen.insert(*id)));
    }
    assert_eq!(seen.len(), 250);
    let mut cursor = 0;
    let mut ascending: Vec<u64> = Vec::new();
    loop {
        let batch = page(HistoryAnchor::After(Snowflake(cursor)), 100).await;
        let Some(first) = batch.first() else { break };
        cursor = *first;
        ascending.extend(batch.iter().rev());
    }
    assert_eq!(ascending, all);
}

/// The tombstone lesson: 100,000 deleted messages across many buckets, one
/// left, and reading the channel opens at most two partitions.
pub async fn empty_buckets_are_skipped(store: &dyn Store) {
    let channel = Snowflake(101);
    let survivor = id_at(BASE_MS, 0);
    store
        .create_message(&message(101, survivor, "last one standing"))
        .await
        .unwrap();
    let doomed: Vec<Snowflake> = (1..=100_000u64)
        .map(|i| id_at(BASE_MS + 1_000 + i * 10, i))
        .collect();
    for id in &doomed {
        store.create_message(&message(101, *id, "x")).await.unwrap();
    }
    for chunk in doomed.chunks(1_000) {
        assert_eq!(
            store.delete_messages(channel, chunk).await.unwrap().len(),
            chunk.len()
        );
    }

    let before = store.buckets_visited();
    let page = history(store, channel, HistoryAnchor::Latest, 50)
        .await
        .unwrap();
    assert_eq!(ids(&page), [survivor.get()]);
    let visited = store.buckets_visited() - before;
    assert!((1..=2).contains(&visited), "visited {visited} buckets");

    let before = store.buckets_visited();
    let page = history(store, channel, HistoryAnchor::After(Snowflake(0)), 50)
        .await
        .unwrap();
    assert_eq!(ids(&page), [survivor.get()]);
    assert!(store.buckets_visited() - before <= 2);
}

/// Client text that becomes a key (a login, an invite code, a meta key)
/// is refused with an error at any length, never a panic.
pub async fn oversized_text_keys_are_refused(store: &dyn Store) {
    let long = "x".repeat(70_000);
    let too_long = |r: Result<(), StoreError>| matches!(r, Err(StoreError::KeyTooLong(_)));
    assert!(too_long(store.user_by_login(&long).await.map(|_| ())));
    assert!(too_long(store.invite(&long).await.map(|_| ())));
    assert!(too_long(store.delete_invite(&long).await));
    assert!(too_long(store.meta(&long).await.map(|_| ())));
    assert!(too_long(store.take_meta(&long).await.map(|_| ())));
    assert!(too_long(store.put_meta(&long, b"v").await));
    assert!(too_long(
        store.put_meta_if_absent(&long, b"v").await.map(|_| ())
    ));
    assert!(too_long(store.use_invite(&long, BASE_MS).await.map(|_| ())));
    assert!(too_long(store.create_user(&user(1, &long)).await));
    let invite = invite(&long);
    assert!(too_long(store.put_invite(&invite).await));
    let fits = "y".repeat(crate::keys::TEXT_KEY_MAX);
    store.put_meta(&fits, b"v").await.unwrap();
    assert_eq!(store.meta(&fits).await.unwrap(), Some(b"v".to_vec()));
}

pub async fn users_by_ids(store: &dyn Store) {
    for (id, name) in [(1, "a"), (2, "b"), (3, "c")] {
        store.create_user(&user(id, name)).await.unwrap();
    }
    let asked = [3, 99, 1, 3].map(Snowflake);
    let found: Vec<u64> = store
        .users(&asked)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id.get())
        .collect();
    assert_eq!(found, [3, 1], "those that exist, in the order asked, once");
    assert!(store.users(&[]).await.unwrap().is_empty());
}

pub async fn members_by_ids(store: &dyn Store) {
    store.create_guild(&new_guild(1, 10, &[])).await.unwrap();
    store.create_guild(&new_guild(2, 11, &[])).await.unwrap();
    store.put_member(&member(1, 12)).await.unwrap();
    let asked = [12, 11, 99, 10, 12].map(Snowflake);
    let found: Vec<u64> = store
        .members_by_ids(Snowflake(1), &asked)
        .await
        .unwrap()
        .iter()
        .map(|m| m.user_id.get())
        .collect();
    assert_eq!(
        found,
        [12, 10],
        "the guild's own members, in the order asked, once"
    );
}

pub async fn members_by_name(store: &dyn Store) {
    let found = |prefix: &'static str, limit: usize| async move {
        let members = store.members_by_name(Snowflake(1), prefix, limit).await;
        let ids = members.unwrap().into_iter().map(|m| m.user_id.get());
        ids.collect::<Vec<u64>>()
    };
    let mut alice = user(10, "Alice");
    alice.global_name = Some("Wonder".into());
    for user in [
        alice,
        user(11, "bob"),
        user(12, "alfred"),
        user(13, "Carol"),
        user(14, "alan"),
        user(15, "ÉLODIE"),
    ] {
        store.create_user(&user).await.unwrap();
    }
    store.create_guild(&new_guild(1, 10, &[])).await.unwrap();
    store.create_guild(&new_guild(2, 14, &[])).await.unwrap();
    let carol = Member {
        nick: Some("Al".into()),
        ..member(1, 13)
    };
    for member in [member(1, 11), member(1, 12), carol, member(1, 15)] {
        store.put_member(&member).await.unwrap();
    }
    assert_eq!(found("al", 100).await, [10, 12, 13], "by username or nick");
    assert_eq!(found("al", 2).await, [10, 12], "the first by user id");
    assert_eq!(found("wond", 100).await, [10], "by global name");
    assert_eq!(found("élo", 100).await, [15], "lowercased beyond ASCII");
    assert!(found("zz", 100).await.is_empty());
    assert!(
        found("alan", 100).await.is_empty(),
        "another guild's member"
    );

    // A rename moves the user's entries; a nick dropped goes.
    let mut alfred = store.user(Snowflake(12)).await.unwrap().unwrap();
    alfred.username = "zed".into();
    let seen = alfred.token_generation;
    assert!(store.update_user(&alfred, seen).await.unwrap());
    store.put_member(&member(1, 13)).await.unwrap();
    assert_eq!(found("al", 100).await, [10]);
    assert_eq!(found("ze", 100).await, [12]);
    store
        .delete_member(Snowflake(1), Snowflake(10))
        .await
        .unwrap();
    assert!(found("al", 100).await.is_empty(), "a member who left");

    // A name too long to index (stored before names were bounded) is not
    // found by, and does not keep its record from being written.
    let mut long = user(16, "xena");
    long.global_name = Some("x".repeat(5000));
    store.create_user(&long).await.unwrap();
    store.put_member(&member(1, 16)).await.unwrap();
    assert_eq!(found("xe", 100).await, [16]);
    assert!(found("xx", 100).await.is_empty());
    long.global_name = Some("Xavier".into());
    assert!(
        store
            .update_user(&long, long.token_generation)
            .await
            .unwrap()
    );
    assert_eq!(found("xav", 100).await, [16]);
    assert_eq!(found("xe", 100).await, [16], "a name kept stays found");
    // A member written again with the same nick keeps it.
    let nicked = Member {
        nick: Some("Zora".into()),
        ..member(1, 16)
    };
    store.put_member(&nicked).await.unwrap();
    store.put_member(&nicked).await.unwrap();
    assert_eq!(found("zo", 100).await, [16]);
}

/// A channel with more records than a backend removes in one step (if it
/// purges in steps) is deleted whole: messages, reactions, pins and
/// attachments, in a guild's deletion too.
pub async fn large_channels_are_deleted_whole(store: &dyn Store) {
    store
        .create_guild(&new_guild(100, 1, &[101, 102]))
        .await
        .unwrap();
    let ids: Vec<Snowflake> = (0..1500).map(|i| id_at(BASE_MS + i * 3, i)).collect();
    for channel in [101, 102] {
        for id in &ids {
            let m = message(channel, *id, "x");
            store.create_message(&m).await.unwrap();
        }
        let (first, c) = (ids[0], Snowflake(channel));
        store
            .add_reaction(c, first, "👍", Snowflake(1))
            .await
            .unwrap();
        store.put_pin(c, first, BASE_MS).await.unwrap();
        let file = Attachment {
            id: Snowflake(channel),
            channel_id: c,
            filename: "f.png".into(),
            size: 3,
            content_type: None,
            width: None,
            height: None,
            sha256: format!("sha{channel}"),
            description: None,
        };
        store.put_attachments(&[file]).await.unwrap();
    }
    store.delete_channel(Snowflake(101)).await.unwrap();
    assert_eq!(
        store.channel(Snowflake(101)).await.unwrap(),
        None,
        "unknown at once"
    );
    purge(store).await;
    assert!(!store.purge_deleted().await.unwrap(), "nothing is left");
    let first = ids[0];
    let gone = |channel: u64| async move {
        let c = Snowflake(channel);
        let left = store.messages_before(c, None, 10).await.unwrap();
        let reacted = store
            .has_reacted(c, first, "👍", Snowflake(1))
            .await
            .unwrap();
        let pins = store.pin_count(c).await.unwrap();
        let file = store.attachment(c).await.unwrap();
        let blob = store.blob_referenced(&format!("sha{channel}")).await;
        left.is_empty() && !reacted && pins == 0 && file.is_none() && !blob.unwrap()
    };
    assert!(gone(101).await, "every record of the channel goes");
    assert!(!gone(102).await, "the other channel keeps its own");
    let again = channel(101, 100);
    assert!(
        store.create_channel(&again).await.unwrap(),
        "the id is free once its records are gone"
    );
    store.delete_guild(Snowflake(100)).await.unwrap();
    purge(store).await;
    assert!(gone(101).await && gone(102).await, "a guild's go with it");
}

/// Thread 30 of guild 1's channel 2, active since `BASE_MS` with an
/// archive delay of 60 minutes.
async fn open_thread(store: &dyn Store) -> Channel {
    if store.guild(Snowflake(1)).await.unwrap().is_none() {
        store.create_guild(&new_guild(1, 10, &[2])).await.unwrap();
    }
    let thread = Channel {
        parent_id: Some(Snowflake(2)),
        thread: Some(ThreadState::new(60, BASE_MS)),
        ..Channel::new(
            Snowflake(30),
            channel_type::PUBLIC_THREAD,
            Snowflake(1),
            "t",
        )
    };
    store.put_channel(&thread).await.unwrap();
    thread
}

pub async fn thread_updates(store: &dyn Store) {
    let id = open_thread(store).await.id;
    let update = |u: ThreadUpdate| async move {
        store
            .update_thread(id, &u)
            .await
            .unwrap()
            .map(|t| t.thread.unwrap())
    };
    let sent = |counted, at_ms| ThreadUpdate::MessageSent { counted, at_ms };
    let s = update(sent(true, BASE_MS + 5)).await.unwrap();
    assert_eq!((s.message_count, s.total_message_sent), (1, 1));
    assert_eq!(s.last_activity_ms, BASE_MS + 5);
    let s = update(sent(false, BASE_MS + 7)).await.unwrap();
    assert_eq!(
        (s.message_count, s.total_message_sent, s.last_activity_ms),
        (1, 1, BASE_MS + 7),
        "a starter message is activity, not a count"
    );
    update(sent(true, BASE_MS + 8)).await.unwrap();
    let s = update(ThreadUpdate::MessagesDeleted { count: 5 })
        .await
        .unwrap();
    assert_eq!(
        (s.message_count, s.total_message_sent),
        (0, 2),
        "deletions lower the live count only, never below zero"
    );
    let stored = store.channel(id).await.unwrap().unwrap().thread.unwrap();
    assert_eq!(stored, s, "what is returned is what is stored");

    let due = s.archive_due_ms();
    assert_eq!(
        update(ThreadUpdate::Unarchive { at_ms: due }).await,
        None,
        "an active thread is not unarchived"
    );
    assert_eq!(
        update(ThreadUpdate::ArchiveIfIdle { now_ms: due - 1 }).await,
        None,
        "not idle long enough"
    );
    let s = update(ThreadUpdate::ArchiveIfIdle { now_ms: due })
        .await
        .unwrap();
    assert!(s.archived);
    assert_eq!(s.archive_ms, due);
    assert_eq!(
        update(ThreadUpdate::ArchiveIfIdle { now_ms: due + 1 }).await,
        None,
        "archived once"
    );
    let s = update(ThreadUpdate::Unarchive { at_ms: due + 2 })
        .await
        .unwrap();
    assert!(!s.archived);
    assert_eq!((s.archive_ms, s.last_activity_ms), (due + 2, due + 2));

    let lock = ThreadEdit {
        name: Some("renamed".into()),
        rate_limit_per_user: Some(5),
        locked: Some(true),
        archived: Some(true),
        applied_tags: Some(vec![Snowflake(7), Snowflake(8)]),
        at_ms: due + 3,
        ..ThreadEdit::default()
    };
    let edited = store
        .update_thread(id, &ThreadUpdate::Edit(lock))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (edited.name.as_str(), edited.rate_limit_per_user),
        ("renamed", 5)
    );
    let s = edited.thread.unwrap();
    assert!(s.locked && s.archived);
    assert_eq!(s.archive_ms, due + 3);
    assert_eq!(s.applied_tags, [Snowflake(7), Snowflake(8)]);
    let reopen = |unless_locked| ThreadEdit {
        archived: Some(false),
        at_ms: due + 4,
        unless_locked,
        ..ThreadEdit::default()
    };
    assert_eq!(
        update(ThreadUpdate::Edit(reopen(true))).await,
        None,
        "a locked thread stays archived for who may not unlock it"
    );
    assert!(
        !update(ThreadUpdate::Edit(reopen(false)))
            .await
            .unwrap()
            .archived
    );

    assert_eq!(
        store
            .update_thread(Snowflake(2), &sent(true, BASE_MS))
            .await
            .unwrap(),
        None,
        "a channel that is no thread has no thread state"
    );
    assert_eq!(
        store.channel(Snowflake(2)).await.unwrap().unwrap().thread,
        None
    );
    store.delete_channel(id).await.unwrap();
    purge(store).await;
    assert_eq!(update(sent(true, BASE_MS + 9)).await, None);
    assert_eq!(store.channel(id).await.unwrap(), None, "never recreated");
    assert!(store.guild_threads(Snowflake(1)).await.unwrap().is_empty());
}

pub async fn threads_are_created_once(store: &dyn Store) {
    store.create_guild(&new_guild(1, 10, &[2])).await.unwrap();
    let first = channel(40, 1);
    assert!(store.create_channel(&first).await.unwrap());
    let second = Channel {
        name: "second".into(),
        ..first.clone()
    };
    assert!(!store.create_channel(&second).await.unwrap());
    assert_eq!(store.channel(first.id).await.unwrap(), Some(first));
    let listed: Vec<u64> = store
        .guild_channels(Snowflake(1))
        .await
        .unwrap()
        .iter()
        .map(|c| c.id.get())
        .collect();
    assert_eq!(listed, [2, 40], "a created channel is listed");
}

pub async fn invite_uses(store: &dyn Store) {
    assert_eq!(
        store.use_invite("Missing1", BASE_MS).await.unwrap(),
        InviteUse::Unknown
    );
    store.put_invite(&invite("Unlimit1")).await.unwrap();
    for uses in 1..=3 {
        match store.use_invite("Unlimit1", BASE_MS).await.unwrap() {
            InviteUse::Admitted(invite) => assert_eq!(invite.uses, uses),
            other => panic!("max_uses 0 is unlimited, got {other:?}"),
        }
    }
    let limited = Invite {
        max_uses: 2,
        ..invite("Limited1")
    };
    store.put_invite(&limited).await.unwrap();
    assert!(matches!(
        store.use_invite("Limited1", BASE_MS).await.unwrap(),
        InviteUse::Admitted(_)
    ));
    assert!(matches!(
        store.use_invite("Limited1", BASE_MS).await.unwrap(),
        InviteUse::Admitted(_)
    ));
    assert_eq!(
        store.use_invite("Limited1", BASE_MS).await.unwrap(),
        InviteUse::Exhausted
    );
    let stored = store.invite("Limited1").await.unwrap().unwrap();
    assert_eq!(stored.uses, 2, "a refused use is not counted");
    let expiring = Invite {
        max_age: 60,
        ..invite("Expires1")
    };
    store.put_invite(&expiring).await.unwrap();
    let expiry = expiring.expires_ms().unwrap();
    assert!(matches!(
        store.use_invite("Expires1", expiry - 1).await.unwrap(),
        InviteUse::Admitted(_)
    ));
    assert_eq!(
        store.use_invite("Expires1", expiry).await.unwrap(),
        InviteUse::Exhausted,
        "an expired invite admits no one"
    );
}

pub async fn meta_if_absent(store: &dyn Store) {
    assert_eq!(
        store.put_meta_if_absent("boot", b"first").await.unwrap(),
        b"first"
    );
    assert_eq!(
        store.put_meta_if_absent("boot", b"second").await.unwrap(),
        b"first",
        "the value already there wins"
    );
    assert_eq!(store.meta("boot").await.unwrap(), Some(b"first".to_vec()));
}

/// Runs `n` copies of `op` at once on the runtime's threads, all released
/// together, and returns their results.
async fn all_at_once<T, F, Fut>(store: &Arc<dyn Store>, n: usize, op: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<dyn Store>, usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let start = start.clone();
            let run = op(store.clone(), i);
            tokio::spawn(async move {
                start.wait().await;
                run.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

pub async fn concurrent_invite_uses_admit_max_uses(store: Arc<dyn Store>) {
    let limited = Invite {
        max_uses: 5,
        ..invite("Crowded1")
    };
    store.put_invite(&limited).await.unwrap();
    let uses = all_at_once(&store, 20, |store, _| async move {
        store.use_invite("Crowded1", BASE_MS).await.unwrap()
    })
    .await;
    let admitted = uses
        .iter()
        .filter(|u| matches!(u, InviteUse::Admitted(_)))
        .count();
    assert_eq!(admitted, 5, "exactly max_uses joins are admitted");
    assert_eq!(
        uses.iter().filter(|u| **u == InviteUse::Exhausted).count(),
        15
    );
    let mut counts: Vec<u32> = uses
        .iter()
        .filter_map(|u| match u {
            InviteUse::Admitted(invite) => Some(invite.uses),
            _ => None,
        })
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 3, 4, 5], "each admission saw its own count");
    assert_eq!(store.invite("Crowded1").await.unwrap().unwrap().uses, 5);
}

pub async fn concurrent_thread_messages_all_count(store: Arc<dyn Store>) {
    let id = open_thread(&*store).await.id;
    let results = all_at_once(&store, 50, move |store, i| async move {
        let sent = ThreadUpdate::MessageSent {
            counted: true,
            at_ms: BASE_MS + i as u64,
        };
        let thread = store.update_thread(id, &sent).await.unwrap();
        // Members join at the same time as the messages count.
        let follower = ThreadMember {
            thread_id: id,
            user_id: Snowflake(100 + i as u64),
            join_ms: BASE_MS,
            flags: 0,
        };
        store.add_thread_member(&follower).await.unwrap();
        thread
    })
    .await;
    assert!(results.iter().all(Option::is_some));
    let state = store.channel(id).await.unwrap().unwrap().thread.unwrap();
    assert_eq!(state.message_count, 50, "no increment is lost");
    assert_eq!(state.total_message_sent, 50);
    assert_eq!(state.member_count, 50, "nor a member count");
    assert_eq!(state.last_activity_ms, BASE_MS + 49, "the latest activity");
}

pub async fn concurrent_thread_updates_never_recreate(store: Arc<dyn Store>) {
    let id = open_thread(&*store).await.id;
    let outcomes = all_at_once(&store, 21, move |store, i| async move {
        if i == 0 {
            store.delete_channel(id).await.unwrap();
            return None;
        }
        let sent = ThreadUpdate::MessageSent {
            counted: true,
            at_ms: BASE_MS,
        };
        let follower = ThreadMember {
            thread_id: id,
            user_id: Snowflake(100 + i as u64),
            join_ms: BASE_MS,
            flags: 0,
        };
        store.add_thread_member(&follower).await.unwrap();
        store.update_thread(id, &sent).await.unwrap()
    })
    .await;
    assert_eq!(store.channel(id).await.unwrap(), None, "still deleted");
    assert!(store.guild_threads(Snowflake(1)).await.unwrap().is_empty());
    assert!(
        store
            .thread_members(id, Snowflake(0), 100)
            .await
            .unwrap()
            .is_empty(),
        "no follower outlives the thread"
    );
    let counted: Vec<u32> = outcomes
        .iter()
        .flatten()
        .map(|t| t.thread.as_ref().unwrap().message_count)
        .collect();
    assert!(counted.len() <= 20);
}

pub async fn concurrent_thread_starts_create_one(store: Arc<dyn Store>) {
    store.create_guild(&new_guild(1, 10, &[2])).await.unwrap();
    let created = all_at_once(&store, 10, |store, i| async move {
        let mut thread = channel(50, 1);
        thread.name = format!("by {i}");
        store.create_channel(&thread).await.unwrap()
    })
    .await;
    assert_eq!(created.iter().filter(|c| **c).count(), 1, "one start wins");
    assert!(store.channel(Snowflake(50)).await.unwrap().is_some());
}

pub async fn concurrent_meta_bootstraps_agree(store: Arc<dyn Store>) {
    let stored = all_at_once(&store, 10, |store, i| async move {
        let mine = format!("secret {i}").into_bytes();
        store
            .put_meta_if_absent("token_secret", &mine)
            .await
            .unwrap()
    })
    .await;
    let kept = store.meta("token_secret").await.unwrap().unwrap();
    assert!(
        stored.iter().all(|s| *s == kept),
        "every node ends with the one secret"
    );
}

fn webhook(id: u64, guild: u64, channel: u64) -> Webhook {
    Webhook {
        id: Snowflake(id),
        guild_id: Snowflake(guild),
        channel_id: Snowflake(channel),
        user_id: Snowflake(1),
        name: format!("hook {id}"),
        avatar: None,
        avatar_blob: None,
        token: format!("token-{id}"),
    }
}

pub async fn webhooks(store: &dyn Store) {
    store
        .create_guild(&new_guild(100, 1, &[101, 102]))
        .await
        .unwrap();
    store
        .create_guild(&new_guild(200, 1, &[201]))
        .await
        .unwrap();
    for w in [
        webhook(12, 100, 102),
        webhook(11, 100, 101),
        webhook(13, 100, 101),
    ] {
        store.create_webhook(&w).await.unwrap();
    }
    store.create_webhook(&webhook(21, 200, 201)).await.unwrap();
    let listed = |hooks: Vec<Webhook>| hooks.iter().map(|w| w.id.get()).collect::<Vec<_>>();
    assert_eq!(
        store.webhook(Snowflake(11)).await.unwrap(),
        Some(webhook(11, 100, 101))
    );
    assert_eq!(store.webhook(Snowflake(99)).await.unwrap(), None);
    let in_101 = store.channel_webhooks(Snowflake(101)).await.unwrap();
    assert_eq!(listed(in_101), [11, 13], "a channel's, by id");
    let in_100 = store.guild_webhooks(Snowflake(100)).await.unwrap();
    assert_eq!(listed(in_100), [11, 12, 13], "a guild's, by id");

    // An edit may move it: the lists follow.
    let moved = Webhook {
        name: "moved".into(),
        avatar: Some("abc".into()),
        ..webhook(11, 100, 102)
    };
    assert!(store.update_webhook(&moved).await.unwrap());
    assert_eq!(
        store.webhook(Snowflake(11)).await.unwrap(),
        Some(moved.clone())
    );
    let in_101 = store.channel_webhooks(Snowflake(101)).await.unwrap();
    assert_eq!(listed(in_101), [13]);
    let in_102 = store.channel_webhooks(Snowflake(102)).await.unwrap();
    assert_eq!(listed(in_102), [11, 12]);

    assert_eq!(
        store.delete_webhook(Snowflake(11)).await.unwrap(),
        Some(moved.clone())
    );
    assert_eq!(store.delete_webhook(Snowflake(11)).await.unwrap(), None);
    assert!(
        !store.update_webhook(&moved).await.unwrap(),
        "never recreated"
    );
    assert_eq!(store.webhook(Snowflake(11)).await.unwrap(), None);
    let in_100 = store.guild_webhooks(Snowflake(100)).await.unwrap();
    assert_eq!(listed(in_100), [12, 13]);

    // A webhook's message keeps who posted it.
    let posted = Message {
        webhook: Some(WebhookAuthor {
            username: "CI".into(),
            avatar: None,
            avatar_url: Some("https://example.com/a.png".into()),
        }),
        ..message(101, id_at(BASE_MS, 1), "built")
    };
    store.create_message(&posted).await.unwrap();
    let read = store.message(Snowflake(101), posted.id).await.unwrap();
    assert_eq!(read, Some(posted));
}

pub async fn webhooks_go_with_their_channel(store: &dyn Store) {
    store
        .create_guild(&new_guild(100, 1, &[101, 102]))
        .await
        .unwrap();
    store
        .create_guild(&new_guild(200, 1, &[201]))
        .await
        .unwrap();
    for w in [
        webhook(11, 100, 101),
        webhook(12, 100, 102),
        webhook(21, 200, 201),
    ] {
        store.create_webhook(&w).await.unwrap();
    }
    store.delete_channel(Snowflake(101)).await.unwrap();
    assert_eq!(store.webhook(Snowflake(11)).await.unwrap(), None);
    assert!(
        store
            .channel_webhooks(Snowflake(101))
            .await
            .unwrap()
            .is_empty()
    );
    let left: Vec<Webhook> = store.guild_webhooks(Snowflake(100)).await.unwrap();
    assert_eq!(left, [webhook(12, 100, 102)]);
    store.delete_guild(Snowflake(200)).await.unwrap();
    assert_eq!(store.webhook(Snowflake(21)).await.unwrap(), None);
    assert!(
        store
            .guild_webhooks(Snowflake(200))
            .await
            .unwrap()
            .is_empty()
    );
    purge(store).await;
    assert_eq!(
        store.webhook(Snowflake(12)).await.unwrap(),
        Some(webhook(12, 100, 102))
    );
}

/// When the polls of these cases end: an hour after [`BASE_MS`].
const POLL_EXPIRY_MS: u64 = BASE_MS + 3_600_000;

/// A message of guild 100's channel 101 with a poll of three answers.
fn poll_message(id: Snowflake, expiry_ms: u64, multiselect: bool) -> Message {
    let answer = |answer_id: u8| PollAnswer {
        answer_id,
        text: format!("answer {answer_id}"),
        emoji: None,
    };
    Message {
        guild_id: Some(Snowflake(100)),
        poll: Some(Poll {
            question: "which?".into(),
            answers: (1..=3).map(answer).collect(),
            expiry_ms,
            allow_multiselect: multiselect,
            layout_type: 1,
            finalized: false,
        }),
        ..Message::new(id, Snowflake(101), Snowflake(10), "")
    }
}

async fn poll_world(store: &dyn Store) -> Snowflake {
    store
        .create_guild(&new_guild(100, 1, &[101, 102]))
        .await
        .unwrap();
    let id = id_at(BASE_MS, 1);
    store
        .create_message(&poll_message(id, POLL_EXPIRY_MS, true))
        .await
        .unwrap();
    id
}

fn changed(removed: &[u8], added: &[u8]) -> PollVote {
    PollVote::Changed {
        removed: removed.to_vec(),
        added: added.to_vec(),
    }
}

pub async fn poll_votes(store: &dyn Store) {
    let id = poll_world(store).await;
    let c = Snowflake(101);
    let now = BASE_MS + 1_000;
    let vote = |user: u64, answers: &'static [u8]| async move {
        store
            .vote_poll(c, id, Snowflake(user), answers, now)
            .await
            .unwrap()
    };
    assert_eq!(vote(21, &[1, 2]).await, changed(&[], &[1, 2]));
    assert_eq!(vote(21, &[2, 3]).await, changed(&[1], &[3]));
    assert_eq!(
        vote(21, &[2, 3]).await,
        changed(&[], &[]),
        "the same vote again"
    );
    assert_eq!(vote(22, &[3]).await, changed(&[], &[3]));
    assert_eq!(vote(23, &[3]).await, changed(&[], &[3]));
    assert_eq!(
        store.poll_counts(c, id).await.unwrap(),
        [(2, 1), (3, 3)],
        "answers without votes are left out"
    );
    assert_eq!(
        store.poll_votes(c, id, Snowflake(21)).await.unwrap(),
        [2, 3]
    );
    assert!(
        store
            .poll_votes(c, id, Snowflake(24))
            .await
            .unwrap()
            .is_empty()
    );
    let voters = |after: u64, limit: usize| async move {
        let ids = store
            .poll_voters(c, id, 3, Snowflake(after), limit)
            .await
            .unwrap();
        ids.iter().map(|u| u.get()).collect::<Vec<_>>()
    };
    assert_eq!(voters(0, 10).await, [21, 22, 23]);
    assert_eq!(voters(0, 2).await, [21, 22]);
    assert_eq!(voters(22, 2).await, [23]);
    assert!(voters(23, 2).await.is_empty());
    assert_eq!(
        vote(21, &[]).await,
        changed(&[2, 3], &[]),
        "an empty vote removes it"
    );
    assert_eq!(store.poll_counts(c, id).await.unwrap(), [(3, 2)]);
    // Neither a message without a poll nor one that is not there takes votes.
    let plain = id_at(BASE_MS, 2);
    store
        .create_message(&message(101, plain, "no poll"))
        .await
        .unwrap();
    let voted = store.vote_poll(c, plain, Snowflake(21), &[1], now).await;
    assert_eq!(voted.unwrap(), PollVote::Unknown);
    let gone = id_at(BASE_MS, 3);
    let voted = store.vote_poll(c, gone, Snowflake(21), &[1], now).await;
    assert_eq!(voted.unwrap(), PollVote::Unknown);
    // At its expiry, it takes no more.
    let late = store
        .vote_poll(c, id, Snowflake(24), &[1], POLL_EXPIRY_MS)
        .await
        .unwrap();
    assert_eq!(late, PollVote::Ended);
    assert_eq!(store.poll_counts(c, id).await.unwrap(), [(3, 2)]);
}

pub async fn polls_end_once_and_are_listed_until_then(store: &dyn Store) {
    let first = poll_world(store).await;
    let c = Snowflake(101);
    let sooner = id_at(BASE_MS, 2);
    let sooner_expiry = POLL_EXPIRY_MS - 60_000;
    store
        .create_message(&poll_message(sooner, sooner_expiry, false))
        .await
        .unwrap();
    let listed = |at: Snowflake, expiry_ms: u64| OpenPoll {
        channel_id: c,
        message_id: at,
        expiry_ms,
    };
    assert!(
        store
            .polls_due(sooner_expiry - 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.polls_due(POLL_EXPIRY_MS, 10).await.unwrap(),
        [listed(sooner, sooner_expiry), listed(first, POLL_EXPIRY_MS)],
        "soonest first"
    );
    assert_eq!(store.polls_due(POLL_EXPIRY_MS, 1).await.unwrap().len(), 1);
    // Its author ends the first early: its expiry is then.
    let early = BASE_MS + 5_000;
    let ended = store
        .end_poll(c, first, POLL_EXPIRY_MS, early)
        .await
        .unwrap()
        .expect("ended by this call");
    let poll = ended.poll.unwrap();
    assert!(poll.finalized);
    assert_eq!(poll.expiry_ms, early);
    assert_eq!(
        store.message(c, first).await.unwrap().unwrap().poll,
        Some(poll)
    );
    assert_eq!(
        store
            .end_poll(c, first, POLL_EXPIRY_MS, early)
            .await
            .unwrap(),
        None,
        "a poll ends once"
    );
    let voted = store
        .vote_poll(c, first, Snowflake(21), &[1], early - 1)
        .await
        .unwrap();
    assert_eq!(voted, PollVote::Ended, "an ended poll takes no votes");
    assert_eq!(
        store.polls_due(u64::MAX, 10).await.unwrap(),
        [listed(sooner, sooner_expiry)]
    );
    // Ended at its expiry, it keeps it.
    let ended = store
        .end_poll(c, sooner, sooner_expiry, POLL_EXPIRY_MS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.poll.unwrap().expiry_ms, sooner_expiry);
    assert!(store.polls_due(u64::MAX, 10).await.unwrap().is_empty());
    // A message without a poll, or none at all, ends nothing.
    let plain = id_at(BASE_MS, 3);
    store
        .create_message(&message(101, plain, "no poll"))
        .await
        .unwrap();
    assert_eq!(store.end_poll(c, plain, 0, early).await.unwrap(), None);
    assert_eq!(store.message(c, plain).await.unwrap().unwrap().poll, None);
}

pub async fn poll_votes_go_with_their_message_and_channel(store: &dyn Store) {
    let id = poll_world(store).await;
    let c = Snowflake(101);
    let now = BASE_MS + 1_000;
    store
        .vote_poll(c, id, Snowflake(21), &[1], now)
        .await
        .unwrap();
    store.delete_messages(c, &[id]).await.unwrap();
    assert!(store.poll_counts(c, id).await.unwrap().is_empty());
    assert!(
        store
            .poll_votes(c, id, Snowflake(21))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store.polls_due(u64::MAX, 10).await.unwrap().is_empty(),
        "a deleted poll is no longer listed"
    );
    // In a deleted channel, its votes go with its messages; its listing
    // goes when it falls due and is found gone.
    let other = id_at(BASE_MS, 2);
    store
        .create_message(&poll_message(other, POLL_EXPIRY_MS, true))
        .await
        .unwrap();
    store
        .vote_poll(c, other, Snowflake(21), &[2], now)
        .await
        .unwrap();
    store.delete_channel(c).await.unwrap();
    purge(store).await;
    assert!(store.poll_counts(c, other).await.unwrap().is_empty());
    let due = store.polls_due(u64::MAX, 10).await.unwrap();
    for poll in due {
        let ended = store
            .end_poll(poll.channel_id, poll.message_id, poll.expiry_ms, now)
            .await
            .unwrap();
        assert_eq!(ended, None, "its message is gone");
    }
    assert!(store.polls_due(u64::MAX, 10).await.unwrap().is_empty());
}

pub async fn concurrent_poll_votes_all_count(store: Arc<dyn Store>) {
    let id = poll_world(&*store).await;
    let now = BASE_MS + 1_000;
    let votes = all_at_once(&store, 30, move |store, i| async move {
        let user = Snowflake(1_000 + i as u64);
        let answers = [(i % 3) as u8 + 1];
        store
            .vote_poll(Snowflake(101), id, user, &answers, now)
            .await
            .unwrap()
    })
    .await;
    assert!(votes.iter().all(|v| matches!(v, PollVote::Changed { .. })));
    let counts = store.poll_counts(Snowflake(101), id).await.unwrap();
    assert_eq!(counts, [(1, 10), (2, 10), (3, 10)], "no vote is lost");
}

pub async fn concurrent_vote_changes_keep_one_vote(store: Arc<dyn Store>) {
    let id = poll_world(&*store).await;
    let now = BASE_MS + 1_000;
    all_at_once(&store, 12, move |store, i| async move {
        let answers = [(i % 3) as u8 + 1];
        store
            .vote_poll(Snowflake(101), id, Snowflake(21), &answers, now)
            .await
            .unwrap()
    })
    .await;
    let mine = store
        .poll_votes(Snowflake(101), id, Snowflake(21))
        .await
        .unwrap();
    assert_eq!(
        mine.len(),
        1,
        "each change replaced the one before: {mine:?}"
    );
    let counts = store.poll_counts(Snowflake(101), id).await.unwrap();
    assert_eq!(counts, [(mine[0], 1)]);
}

pub async fn concurrent_poll_ends_end_once(store: Arc<dyn Store>) {
    let id = poll_world(&*store).await;
    let ended = all_at_once(&store, 8, move |store, _| async move {
        store
            .end_poll(Snowflake(101), id, POLL_EXPIRY_MS, POLL_EXPIRY_MS)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(ended.iter().flatten().count(), 1, "one caller ends it");
}

/// Application `app`'s command `name` (a chat-input one), global or in
/// `guild`, at `version`.
fn command(id: u64, app: u64, guild: Option<u64>, name: &str, version: u64) -> Command {
    Command {
        id: Snowflake(id),
        application_id: Snowflake(app),
        guild_id: guild.map(Snowflake),
        kind: 1,
        name: name.into(),
        name_localizations: Some([("fr".to_owned(), format!("{name}-fr"))].into()),
        description: format!("about {name}"),
        description_localizations: None,
        options: vec![CommandOption {
            kind: 3,
            name: "what".into(),
            name_localizations: None,
            description: "which".into(),
            description_localizations: None,
            required: true,
            choices: vec![CommandChoice {
                name: "one".into(),
                name_localizations: None,
                value: serde_json::json!("1"),
            }],
            options: Vec::new(),
            channel_types: Vec::new(),
            min_value: None,
            max_value: None,
            min_length: Some(1),
            max_length: None,
            autocomplete: false,
        }],
        default_member_permissions: Some(Permissions(32)),
        dm_permission: false,
        nsfw: false,
        contexts: Some(vec![0]),
        integration_types: None,
        version: Snowflake(version),
    }
}

fn command_ids(commands: &[Command]) -> Vec<u64> {
    commands.iter().map(|c| c.id.get()).collect()
}

pub async fn commands(store: &dyn Store) {
    let created = store
        .create_command(&command(11, 1, None, "ping", 1), 2)
        .await
        .unwrap();
    assert_eq!(
        created,
        CommandCreate::Created(command(11, 1, None, "ping", 1))
    );
    assert_eq!(
        store.command(Snowflake(11)).await.unwrap(),
        Some(command(11, 1, None, "ping", 1)),
        "kept whole"
    );
    for c in [
        command(13, 1, Some(100), "ping", 3),
        command(14, 2, None, "ping", 4),
        command(15, 1, None, "pong", 5),
    ] {
        let outcome = store.create_command(&c, 2).await.unwrap();
        assert_eq!(
            outcome,
            CommandCreate::Created(c),
            "another scope, app or name"
        );
    }
    let user_command = Command {
        kind: 2,
        ..command(16, 1, None, "ping", 6)
    };
    let outcome = store.create_command(&user_command, 2).await.unwrap();
    assert_eq!(
        outcome,
        CommandCreate::Created(user_command),
        "another type"
    );

    // The same type and name replaces, keeping the id; the version moves
    // only when the definition does.
    let same = store
        .create_command(&command(17, 1, None, "ping", 7), 2)
        .await
        .unwrap();
    assert_eq!(
        same,
        CommandCreate::Replaced(command(11, 1, None, "ping", 1))
    );
    let edited = Command {
        description: "changed".into(),
        ..command(18, 1, None, "ping", 8)
    };
    let outcome = store.create_command(&edited, 2).await.unwrap();
    let expected = Command {
        id: Snowflake(11),
        ..edited.clone()
    };
    assert_eq!(outcome, CommandCreate::Replaced(expected.clone()));
    assert_eq!(store.command(Snowflake(11)).await.unwrap(), Some(expected));
    assert_eq!(store.command(Snowflake(18)).await.unwrap(), None);

    // A third chat-input command is over the limit of 2; a replacement is not.
    let third = store
        .create_command(&command(19, 1, None, "third", 9), 2)
        .await
        .unwrap();
    assert_eq!(third, CommandCreate::LimitReached);
    assert_eq!(store.command(Snowflake(19)).await.unwrap(), None);

    let global = store.commands(Snowflake(1), None).await.unwrap();
    assert_eq!(command_ids(&global), [11, 15, 16], "one scope, by id");
    let in_guild = store
        .commands(Snowflake(1), Some(Snowflake(100)))
        .await
        .unwrap();
    assert_eq!(command_ids(&in_guild), [13]);
    assert!(store.commands(Snowflake(3), None).await.unwrap().is_empty());

    let renamed = Command {
        name: "renamed".into(),
        ..command(15, 1, None, "pong", 20)
    };
    assert_eq!(
        store.update_command(&renamed).await.unwrap(),
        CommandUpdate::Updated
    );
    // Not to the name of another of its type in the scope.
    let other = store.command(Snowflake(16)).await.unwrap().unwrap();
    let onto_other = Command {
        name: other.name.clone(),
        kind: other.kind,
        ..renamed.clone()
    };
    assert_eq!(
        store.update_command(&onto_other).await.unwrap(),
        CommandUpdate::NameTaken
    );
    assert_eq!(
        store.command(Snowflake(15)).await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(
        store.delete_command(Snowflake(15)).await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(store.delete_command(Snowflake(15)).await.unwrap(), None);
    assert_eq!(
        store.update_command(&renamed).await.unwrap(),
        CommandUpdate::Gone,
        "never recreated"
    );
    assert_eq!(store.command(Snowflake(15)).await.unwrap(), None);
    let global = store.commands(Snowflake(1), None).await.unwrap();
    assert_eq!(command_ids(&global), [11, 16]);
}

pub async fn command_overwrites_keep_ids(store: &dyn Store) {
    let scope = (Snowflake(1), Some(Snowflake(100)));
    for c in [
        command(11, 1, Some(100), "a", 1),
        command(12, 1, Some(100), "b", 2),
        command(13, 1, Some(100), "c", 3),
        command(21, 1, None, "a", 4),
    ] {
        store.create_command(&c, 100).await.unwrap();
    }
    let changed_b = Command {
        description: "new b".into(),
        ..command(32, 1, Some(100), "b", 9)
    };
    let message_a = Command {
        kind: 3,
        description: String::new(),
        options: Vec::new(),
        ..command(34, 1, Some(100), "a", 9)
    };
    let new_set = [
        command(31, 1, Some(100), "a", 9),
        changed_b.clone(),
        message_a.clone(),
        command(35, 1, Some(100), "d", 9),
    ];
    let stored = store
        .overwrite_commands(scope.0, scope.1, &new_set)
        .await
        .unwrap();
    let expected = vec![
        command(11, 1, Some(100), "a", 1),
        Command {
            id: Snowflake(12),
            ..changed_b
        },
        message_a,
        command(35, 1, Some(100), "d", 9),
    ];
    assert_eq!(
        stored, expected,
        "ids kept by type and name, in order given"
    );
    let listed = store.commands(scope.0, scope.1).await.unwrap();
    assert_eq!(command_ids(&listed), [11, 12, 34, 35]);
    assert_eq!(
        store.command(Snowflake(13)).await.unwrap(),
        None,
        "c is gone"
    );
    assert_eq!(store.command(Snowflake(31)).await.unwrap(), None);
    assert_eq!(
        command_ids(&store.commands(Snowflake(1), None).await.unwrap()),
        [21],
        "other scopes untouched"
    );

    let emptied = store
        .overwrite_commands(scope.0, scope.1, &[])
        .await
        .unwrap();
    assert!(emptied.is_empty());
    assert!(store.commands(scope.0, scope.1).await.unwrap().is_empty());
    assert_eq!(store.command(Snowflake(11)).await.unwrap(), None);
}

pub async fn commands_go_with_their_guild(store: &dyn Store) {
    store
        .create_guild(&new_guild(100, 1, &[101]))
        .await
        .unwrap();
    store
        .create_guild(&new_guild(200, 1, &[201]))
        .await
        .unwrap();
    for c in [
        command(11, 1, Some(100), "a", 1),
        command(12, 2, Some(100), "a", 1),
        command(21, 1, Some(200), "a", 1),
        command(31, 1, None, "a", 1),
    ] {
        store.create_command(&c, 100).await.unwrap();
    }
    let allowed = |guild: u64, id: u64| CommandPermissions {
        id: Snowflake(id),
        application_id: Snowflake(1),
        guild_id: Snowflake(guild),
        permissions: vec![CommandPermission {
            id: Snowflake(guild),
            kind: 1,
            permission: false,
        }],
    };
    store
        .put_command_permissions(&allowed(100, 11))
        .await
        .unwrap();
    store
        .put_command_permissions(&allowed(200, 21))
        .await
        .unwrap();
    store.delete_guild(Snowflake(100)).await.unwrap();
    for gone in [11, 12] {
        assert_eq!(store.command(Snowflake(gone)).await.unwrap(), None);
    }
    assert!(
        store
            .commands(Snowflake(1), Some(Snowflake(100)))
            .await
            .unwrap()
            .is_empty()
    );
    let left = store
        .command_permissions(Snowflake(100), Snowflake(1))
        .await
        .unwrap();
    assert!(left.is_empty());
    assert!(store.command(Snowflake(21)).await.unwrap().is_some());
    assert!(store.command(Snowflake(31)).await.unwrap().is_some());
    let kept = store
        .command_permissions(Snowflake(200), Snowflake(1))
        .await
        .unwrap();
    assert_eq!(kept, [allowed(200, 21)]);
}

pub async fn command_permissions(store: &dyn Store) {
    let set = |app: u64, guild: u64, id: u64, allow: bool| CommandPermissions {
        id: Snowflake(id),
        application_id: Snowflake(app),
        guild_id: Snowflake(guild),
        permissions: vec![
            CommandPermission {
                id: Snowflake(7),
                kind: 2,
                permission: allow,
            },
            CommandPermission {
                id: Snowflake(guild - 1),
                kind: 3,
                permission: !allow,
            },
        ],
    };
    for p in [
        set(1, 100, 12, true),
        set(1, 100, 1, false),
        set(2, 100, 22, true),
        set(1, 200, 12, true),
    ] {
        store.put_command_permissions(&p).await.unwrap();
    }
    let found = store
        .command_permissions(Snowflake(100), Snowflake(1))
        .await
        .unwrap();
    assert_eq!(
        found,
        [set(1, 100, 1, false), set(1, 100, 12, true)],
        "by id"
    );
    store
        .put_command_permissions(&set(1, 100, 12, false))
        .await
        .unwrap();
    let found = store
        .command_permissions(Snowflake(100), Snowflake(1))
        .await
        .unwrap();
    assert_eq!(
        found,
        [set(1, 100, 1, false), set(1, 100, 12, false)],
        "replaced"
    );
    let cleared = CommandPermissions {
        permissions: Vec::new(),
        ..set(1, 100, 1, true)
    };
    store.put_command_permissions(&cleared).await.unwrap();
    let found = store
        .command_permissions(Snowflake(100), Snowflake(1))
        .await
        .unwrap();
    assert_eq!(found, [set(1, 100, 12, false)], "an empty list removes");
    let other = store
        .command_permissions(Snowflake(100), Snowflake(2))
        .await
        .unwrap();
    assert_eq!(other, [set(2, 100, 22, true)]);
}

/// Writers overwrite a scope with one of two sets while readers list it:
/// every list is one whole set, never a mix.
pub async fn concurrent_command_overwrites_are_whole(store: Arc<dyn Store>) {
    let set = |first: u64, names: &[&str]| -> Vec<Command> {
        let names = names.iter().enumerate();
        names
            .map(|(i, n)| command(first + i as u64, 1, Some(100), n, first))
            .collect()
    };
    let a = ["a", "b", "c", "d"];
    let b = ["c", "d", "e", "f", "g"];
    store
        .overwrite_commands(Snowflake(1), Some(Snowflake(100)), &set(10, &a))
        .await
        .unwrap();
    let seen = all_at_once(&store, 12, |store, i| async move {
        let mut seen = Vec::new();
        for round in 0..10 {
            if i % 2 == 0 {
                let names: &[&str] = if (i / 2 + round) % 2 == 0 { &b } else { &a };
                let first = 1000 * (i as u64 + 1) + 10 * round as u64;
                let given = set(first, names);
                let stored = store
                    .overwrite_commands(Snowflake(1), Some(Snowflake(100)), &given)
                    .await
                    .unwrap();
                assert_eq!(stored.len(), names.len());
            } else {
                let listed = store
                    .commands(Snowflake(1), Some(Snowflake(100)))
                    .await
                    .unwrap();
                let mut names: Vec<String> = listed.iter().map(|c| c.name.clone()).collect();
                names.sort();
                seen.push(names);
            }
        }
        seen
    })
    .await;
    for names in seen.into_iter().flatten() {
        assert!(names == a || names == b, "a mixed set: {names:?}");
    }
    // "c" and "d" were in every set: they kept their first ids throughout.
    let listed = store
        .commands(Snowflake(1), Some(Snowflake(100)))
        .await
        .unwrap();
    let kept: Vec<u64> = listed
        .iter()
        .filter(|c| c.name == "c" || c.name == "d")
        .map(|c| c.id.get())
        .collect();
    assert_eq!(kept, [12, 13]);
}

/// Nodes create the same command at once: one is created, the others
/// replace it, and one command is left.
pub async fn concurrent_command_creates_make_one(store: Arc<dyn Store>) {
    let outcomes = all_at_once(&store, 8, |store, i| async move {
        let c = command(10 + i as u64, 1, None, "same", 10 + i as u64);
        store.create_command(&c, 100).await.unwrap()
    })
    .await;
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, CommandCreate::Created(_)))
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
    let listed = store.commands(Snowflake(1), None).await.unwrap();
    assert_eq!(listed.len(), 1);
}

/// Commands renamed at once to one name: one rename is kept.
pub async fn concurrent_command_renames_keep_names_unique(store: Arc<dyn Store>) {
    for i in 0..8u64 {
        let c = command(10 + i, 1, None, &format!("c{i}"), 1);
        store.create_command(&c, 100).await.unwrap();
    }
    let outcomes = all_at_once(&store, 8, |store, i| async move {
        let c = command(10 + i as u64, 1, None, "same", 2);
        store.update_command(&c).await.unwrap()
    })
    .await;
    let updated = outcomes
        .iter()
        .filter(|o| **o == CommandUpdate::Updated)
        .count();
    assert_eq!(updated, 1, "{outcomes:?}");
    let listed = store.commands(Snowflake(1), None).await.unwrap();
    let same = listed.iter().filter(|c| c.name == "same").count();
    assert_eq!((listed.len(), same), (8, 1));
}

fn push_subscription(user: u64, endpoint: &str) -> PushSubscription {
    PushSubscription {
        user_id: Snowflake(user),
        endpoint: endpoint.into(),
        p256dh: "BKey".into(),
        auth: "secret".into(),
        expiration_ms: None,
    }
}

/// A user's subscriptions, one per endpoint, at most `max`; replacing one
/// does not count against it; each user sees only their own.
pub async fn push_subscriptions(store: &dyn Store) {
    let a = "https://push.example/a";
    assert!(
        store
            .put_push_subscription(&push_subscription(1, a), 2)
            .await
            .unwrap()
    );
    let replaced = PushSubscription {
        auth: "other".into(),
        expiration_ms: Some(5),
        ..push_subscription(1, a)
    };
    assert!(store.put_push_subscription(&replaced, 2).await.unwrap());
    let b = "https://push.example/b";
    assert!(
        store
            .put_push_subscription(&push_subscription(1, b), 2)
            .await
            .unwrap()
    );
    let c = "https://push.example/c";
    assert!(
        !store
            .put_push_subscription(&push_subscription(1, c), 2)
            .await
            .unwrap(),
        "max"
    );
    assert!(
        store
            .put_push_subscription(&push_subscription(1, a), 2)
            .await
            .unwrap(),
        "a replacement"
    );
    assert!(
        store
            .put_push_subscription(&push_subscription(2, c), 2)
            .await
            .unwrap()
    );
    let mine = store.push_subscriptions(Snowflake(1)).await.unwrap();
    assert_eq!(mine, vec![push_subscription(1, a), push_subscription(1, b)]);
    assert!(
        store
            .delete_push_subscription(Snowflake(1), a)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_push_subscription(Snowflake(1), a)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_push_subscription(Snowflake(1), c)
            .await
            .unwrap(),
        "another's"
    );
    assert_eq!(
        store.push_subscriptions(Snowflake(1)).await.unwrap(),
        vec![push_subscription(1, b)]
    );
    assert_eq!(
        store.push_subscriptions(Snowflake(2)).await.unwrap().len(),
        1
    );
    let long = format!(
        "https://push.example/{}",
        "x".repeat(crate::keys::TEXT_KEY_MAX)
    );
    assert!(matches!(
        store
            .put_push_subscription(&push_subscription(3, &long), 2)
            .await,
        Err(StoreError::KeyTooLong(_))
    ));
}

fn queued(id: u64, due_ms: u64) -> QueuedPush {
    QueuedPush {
        id: Snowflake(id),
        due_ms,
        attempts: 0,
        user_id: Snowflake(1),
        endpoint: "https://push.example/a".into(),
        urgency: "high".into(),
        payload: format!("{{\"n\":{id}}}"),
    }
}

/// The queue lists what is due, soonest first; a push queued again (a
/// retry) moves to its new time; an unqueued one is gone.
pub async fn push_queue(store: &dyn Store) {
    store
        .queue_pushes(&[queued(1, 30), queued(2, 10), queued(3, 20)])
        .await
        .unwrap();
    let due = store.pushes_due(20, 10).await.unwrap();
    assert_eq!(due, vec![queued(2, 10), queued(3, 20)]);
    assert_eq!(store.pushes_due(100, 1).await.unwrap(), vec![queued(2, 10)]);
    let retried = QueuedPush {
        attempts: 1,
        ..queued(2, 40)
    };
    store
        .queue_pushes(std::slice::from_ref(&retried))
        .await
        .unwrap();
    let due = store.pushes_due(100, 10).await.unwrap();
    assert_eq!(due, vec![queued(3, 20), queued(1, 30), retried]);
    store.unqueue_push(Snowflake(3)).await.unwrap();
    store.unqueue_push(Snowflake(3)).await.unwrap();
    let ids: Vec<Snowflake> = store
        .pushes_due(100, 10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, vec![Snowflake(1), Snowflake(2)]);
}

/// Settings per user and guild (or DMs), replaced whole.
pub async fn user_guild_settings(store: &dyn Store) {
    assert!(
        store
            .user_guild_settings(Snowflake(1))
            .await
            .unwrap()
            .is_empty()
    );
    let guild = UserGuildSettings {
        message_notifications: Some(1),
        muted: true,
        mute_end_ms: Some(99),
        channel_overrides: vec![concord_model::records::ChannelNotifyOverride {
            channel_id: Snowflake(7),
            message_notifications: 2,
            muted: true,
            mute_end_ms: None,
        }],
        ..UserGuildSettings::new(Snowflake(1), Some(Snowflake(5)))
    };
    let dms = UserGuildSettings {
        suppress_everyone: true,
        ..UserGuildSettings::new(Snowflake(1), None)
    };
    store.put_user_guild_settings(&guild).await.unwrap();
    store.put_user_guild_settings(&dms).await.unwrap();
    store
        .put_user_guild_settings(&UserGuildSettings::new(Snowflake(2), Some(Snowflake(5))))
        .await
        .unwrap();
    let mine = store.user_guild_settings(Snowflake(1)).await.unwrap();
    assert_eq!(mine, vec![dms.clone(), guild.clone()]);
    let unmuted = UserGuildSettings {
        muted: false,
        ..guild
    };
    store.put_user_guild_settings(&unmuted).await.unwrap();
    let mine = store.user_guild_settings(Snowflake(1)).await.unwrap();
    assert_eq!(mine, vec![dms, unmuted]);
}

/// Many devices of one user subscribing at once never exceed the bound.
pub async fn concurrent_push_subscriptions_stay_within_max(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let endpoint = format!("https://push.example/{i}");
                store
                    .put_push_subscription(&push_subscription(1, &endpoint), 5)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        admitted += usize::from(task.await.unwrap());
    }
    assert_eq!(admitted, 5);
    assert_eq!(
        store.push_subscriptions(Snowflake(1)).await.unwrap().len(),
        5
    );
}
