//! Services over one store, as the nodes of a cluster run: what holds
//! across them rests on the store's atomic operations, not on a lock in
//! one process. Also the fixtures the service's other tests build on.

use std::sync::Arc;

use concord_bus::LocalBus;
use concord_model::Snowflake;
use concord_model::records::{Channel, Guild, Member, Role, User, channel_type};
use concord_store::memory::MemoryStore;
use concord_store::{DEFAULT_BUCKET_MS, GuildStore, NewGuild, Store, UserStore};

use crate::{Caller, Service, ServiceConfig};

pub(crate) const OWNER: Snowflake = Snowflake(10);
pub(crate) const GUILD: Snowflake = Snowflake(1);
pub(crate) const TEXT: Snowflake = Snowflake(2);

pub(crate) const OWNER_CALLER: Caller = Caller {
    id: OWNER,
    bot: false,
};

/// A store holding the owner and their guild with one text channel; each
/// call yields first, as a networked store's do, so concurrent callers
/// interleave between a caller's reads and writes.
pub(crate) async fn seeded_store() -> Arc<dyn Store> {
    let store = Arc::new(MemoryStore::networked(DEFAULT_BUCKET_MS));
    store.create_user(&User::new(OWNER, "owner")).await.unwrap();
    let guild = NewGuild {
        guild: Guild::new(GUILD, "g", OWNER),
        roles: vec![Role::everyone(GUILD)],
        channels: vec![Channel::new(TEXT, channel_type::GUILD_TEXT, GUILD, "text")],
        owner: Member::new(GUILD, OWNER, 0),
    };
    store.create_guild(&guild).await.unwrap();
    store
}

/// The default configuration, without rate limits, as node `worker_id`.
pub(crate) fn config(worker_id: u8) -> ServiceConfig {
    let mut config = ServiceConfig::defaults();
    config.worker_id = worker_id;
    config.rate_limits.enabled = false;
    config
}

/// `n` services over `store` and one bus, each its own node.
pub(crate) async fn nodes(store: &Arc<dyn Store>, n: u8) -> Vec<Arc<Service>> {
    let bus = Arc::new(LocalBus::new(4096));
    let mut nodes = Vec::new();
    for worker in 0..n {
        let service = Service::open(store.clone(), bus.clone(), config(worker)).await;
        nodes.push(Arc::new(service.unwrap()));
    }
    nodes
}

mod tests {
    use concord_model::records::ThreadState;

    use super::*;
    use crate::access::TokenKind;
    use crate::guilds::CreateInvite;
    use crate::messages::CreateMessage;
    use crate::threads::StartThread;

    /// Runs `op` once per `i` in `0..n`, on the runtime's threads at once.
    async fn all_at_once<T, F, Fut>(n: usize, op: F) -> Vec<T>
    where
        T: Send + 'static,
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = T> + Send + 'static,
    {
        let start = Arc::new(tokio::sync::Barrier::new(n));
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let (start, run) = (start.clone(), op(i));
                tokio::spawn(async move {
                    start.wait().await;
                    run.await
                })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn nodes_starting_together_share_one_token_secret() {
        let store = seeded_store().await;
        let bus = Arc::new(LocalBus::new(16));
        let opened = all_at_once(2, |i| {
            let (store, bus) = (store.clone(), bus.clone());
            async move {
                let config = config(u8::try_from(i).unwrap());
                Service::open(store, bus, config).await.unwrap()
            }
        })
        .await;
        let owner = store.user(OWNER).await.unwrap().unwrap();
        let token = opened[0].issue_token(&owner);
        let caller = opened[1].authenticate(TokenKind::User, &token).await;
        assert_eq!(
            caller.unwrap().id,
            OWNER,
            "a token one node issued is valid on the other"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_invite_admits_max_uses_joins_across_nodes() {
        let store = seeded_store().await;
        let users: Vec<Snowflake> = (100..120).map(Snowflake).collect();
        for id in &users {
            let name = format!("u{}", id.get());
            store.create_user(&User::new(*id, &name)).await.unwrap();
        }
        let nodes = nodes(&store, 2).await;
        let input = CreateInvite {
            max_uses: Some(5),
            ..CreateInvite::default()
        };
        let invite = nodes[0].create_invite(OWNER_CALLER, TEXT, input).await;
        let code = invite.unwrap().code;
        let joins = all_at_once(users.len(), |i| {
            let node = nodes[i % 2].clone();
            let (code, id) = (code.clone(), users[i]);
            async move {
                let caller = Caller { id, bot: false };
                node.accept_invite(caller, &code).await.is_ok()
            }
        })
        .await;
        assert_eq!(joins.iter().filter(|ok| **ok).count(), 5);
        assert_eq!(store.member_count(GUILD).await.unwrap(), 6, "owner + 5");
        assert_eq!(store.invite(&code).await.unwrap().unwrap().uses, 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn thread_messages_sent_through_two_nodes_all_count() {
        let store = seeded_store().await;
        let nodes = nodes(&store, 2).await;
        let input = StartThread {
            name: Some("busy".into()),
            kind: Some(channel_type::PUBLIC_THREAD),
            ..StartThread::default()
        };
        let thread = nodes[0].start_thread(OWNER_CALLER, TEXT, input).await;
        let thread: Snowflake = thread.unwrap()["id"].as_str().unwrap().parse().unwrap();
        let sent = all_at_once(50, |i| {
            let node = nodes[i % 2].clone();
            async move {
                let input = CreateMessage {
                    content: Some(format!("message {i}")),
                    ..CreateMessage::default()
                };
                node.create_message(OWNER_CALLER, thread, input).await
            }
        })
        .await;
        assert!(sent.iter().all(Result::is_ok));
        let state: ThreadState = store
            .channel(thread)
            .await
            .unwrap()
            .unwrap()
            .thread
            .unwrap();
        assert_eq!(state.message_count, 50, "no count is lost");
        assert_eq!(state.total_message_sent, 50);
        assert_eq!(state.member_count, 1, "the owner follows it once");
    }
}
