//! The conformance suite against a real PostgreSQL server, named by
//! `CONCORD_TEST_POSTGRES` (`scripts/services/postgres` starts one): each
//! test in a database of its own, dropped after it.

use std::sync::Arc;

use super::PgStore;
use super::testing::{ScratchDatabase, test_server};
use crate::codec::{Json, key};
use concord_model::Snowflake;
use concord_model::records::{Channel, Message};
use concord_store::{ChannelStore, MessageStore, Store};

/// The store in a fresh database; `None` when there is no server.
async fn fresh(bucket_ms: u64) -> Option<(Arc<PgStore>, ScratchDatabase)> {
    let database = ScratchDatabase::create(&test_server()?).await.unwrap();
    let store = database.store(bucket_ms).await.unwrap();
    Some((Arc::new(store), database))
}

async fn open(bucket_ms: u64) -> (Arc<dyn Store>, Box<dyn std::any::Any + Send>) {
    match fresh(bucket_ms).await {
        Some((store, database)) => (store, Box::new(database)),
        // No server: the suite runs on memory, so a skipped run still
        // exercises the macro's wiring and nothing fails for want of it.
        None => (
            Arc::new(concord_store::memory::MemoryStore::new(bucket_ms)),
            Box::new(()),
        ),
    }
}

concord_store::store_conformance!(open);

/// Nodes starting together on a new database apply the schema once (the
/// migrator's advisory lock), and all of them open.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_apply_the_schema_once() {
    let Some(url) = test_server() else { return };
    let database = Arc::new(ScratchDatabase::create(&url).await.unwrap());
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let database = Arc::clone(&database);
            tokio::spawn(async move { database.store(1000).await.unwrap() })
        })
        .collect();
    for start in starts {
        start.await.unwrap().ping().await.unwrap();
    }
}

/// A channel whose deletion stopped half-way (a node crashed) stays
/// marked across a restart, is purged by `purge_deleted`, and its id is
/// free again after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_purges_outlive_a_restart() {
    let Some((store, database)) = fresh(1000).await else {
        return;
    };
    let channel = Channel::new(Snowflake(7), 0, Snowflake(1), "c");
    store.put_channel(&channel).await.unwrap();
    for i in 1..=50u64 {
        let id = Snowflake(Snowflake::from_timestamp_ms(1_767_225_600_000 + i * 100).get());
        let m = Message::new(id, channel.id, Snowflake(2), "x");
        store.create_message(&m).await.unwrap();
    }
    // Deleted and marked, as a crash before the purge leaves it.
    let mut tx = store.begin().await.unwrap();
    sqlx::query("DELETE FROM channels WHERE id = 7")
        .execute(&mut *tx)
        .await
        .unwrap();
    crate::purge::mark(&mut tx, &[7]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!store.create_channel(&channel).await.unwrap(), "not yet");

    let restarted = database.store(1000).await.unwrap();
    assert!(
        !restarted.create_channel(&channel).await.unwrap(),
        "still marked"
    );
    while restarted.purge_deleted().await.unwrap() {}
    assert!(
        restarted.create_channel(&channel).await.unwrap(),
        "the id is free again"
    );
    let left = restarted.messages_before(channel.id, None, 10).await;
    assert!(left.unwrap().is_empty());
}

/// Text holding NUL (which PostgreSQL refuses) or the stuffing character
/// is kept exactly, in records, keys and the fields SQL writes itself.
#[tokio::test]
async fn text_with_nul_is_kept_exactly() {
    use concord_model::records::{Invite, MessagePatch, ThreadState, User, channel_type};
    use concord_store::{
        InviteStore, InviteUse, MetaStore, ReactionStore, ThreadEdit, ThreadUpdate, UserStore,
    };
    let Some((store, _database)) = fresh(1000).await else {
        return;
    };
    let odd = "a\0b \u{E000}0 \u{E000}\u{E000} \\u0000 \0";
    let (channel, id) = (
        Snowflake(101),
        Snowflake(Snowflake::from_timestamp_ms(1_767_225_600_000).get()),
    );
    let message = Message::new(id, channel, Snowflake(2), odd);
    store.create_message(&message).await.unwrap();
    assert_eq!(store.message(channel, id).await.unwrap(), Some(message));
    let patch = MessagePatch {
        content: Some(format!("{odd}!")),
        ..MessagePatch::default()
    };
    let edited = store.update_message(channel, id, &patch).await.unwrap();
    assert_eq!(edited.unwrap().content, format!("{odd}!"));
    assert_eq!(
        store
            .add_reaction(channel, id, odd, Snowflake(5))
            .await
            .unwrap(),
        Some(true)
    );
    assert!(
        store
            .has_reacted(channel, id, odd, Snowflake(5))
            .await
            .unwrap()
    );
    let row = store.message(channel, id).await.unwrap().unwrap();
    assert_eq!(row.reactions[0].emoji, odd, "counted under the same emoji");
    assert!(
        store
            .remove_reaction(channel, id, odd, Snowflake(5))
            .await
            .unwrap()
    );

    let user = User::new(Snowflake(3), odd);
    store.create_user(&user).await.unwrap();
    assert_eq!(store.user_by_login(odd).await.unwrap(), Some(user));
    store.put_meta(odd, b"v").await.unwrap();
    assert_eq!(store.meta(odd).await.unwrap(), Some(b"v".to_vec()));
    let invite = Invite {
        code: odd.into(),
        guild_id: Snowflake(1),
        channel_id: channel,
        inviter_id: Snowflake(3),
        created_ms: 0,
        max_age: 0,
        max_uses: 0,
        uses: 0,
        temporary: false,
    };
    store.put_invite(&invite).await.unwrap();
    assert!(
        matches!(store.use_invite(odd, 0).await.unwrap(), InviteUse::Admitted(i) if i.code == odd)
    );

    let thread = Channel {
        thread: Some(ThreadState::new(60, 0)),
        ..Channel::new(
            Snowflake(30),
            channel_type::PUBLIC_THREAD,
            Snowflake(1),
            odd,
        )
    };
    store.put_channel(&thread).await.unwrap();
    let rename = ThreadEdit {
        name: Some(format!("{odd}?")),
        ..ThreadEdit::default()
    };
    let renamed = store
        .update_thread(thread.id, &ThreadUpdate::Edit(rename))
        .await;
    assert_eq!(renamed.unwrap().unwrap().name, format!("{odd}?"));
}

/// A partition found empty by a deletion while a message is being
/// written into it (not yet committed) is kept: the deletion waits for the
/// write, and the message is where history looks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_found_empty_during_a_write_into_it_is_kept() {
    let Some((store, _database)) = fresh(1000).await else {
        return;
    };
    let channel = Snowflake(9);
    let at = Snowflake::from_timestamp_ms(1_767_225_600_000).get();
    let (first, second) = (Snowflake(at | 1), Snowflake(at | 2));
    let leaving = Message::new(first, channel, Snowflake(2), "leaving");
    store.create_message(&leaving).await.unwrap();
    // The second message, written and not yet committed.
    let mut writing = store.begin().await.unwrap();
    let arriving = Message::new(second, channel, Snowflake(2), "arriving");
    sqlx::query(crate::messages::CREATE_MESSAGE)
        .bind(key(channel))
        .bind(store.bucket(second))
        .bind(key(second))
        .bind(Json(&arriving))
        .execute(&mut *writing)
        .await
        .unwrap();
    // The first goes: its partition looks empty to the deletion.
    let deleting = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.delete_messages(channel, &[first]).await })
    };
    // Until the deletion finishes or waits for the write's lock.
    loop {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock')",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        if waiting || deleting.is_finished() {
            break;
        }
        tokio::task::yield_now().await;
    }
    writing.commit().await.unwrap();
    assert_eq!(deleting.await.unwrap().unwrap().len(), 1);
    let page = store.messages_before(channel, None, 10).await.unwrap();
    assert_eq!(page, [arriving]);
}

/// A store reached over TLS with the server's certificate verified against
/// the root the URL names (`sslmode=verify-full&sslrootcert=FILE`, as
/// docs/deployment.md shows) talks over an encrypted connection; a root
/// that did not sign the certificate is refused. The test server of
/// `scripts/services/postgres` has TLS on with a certificate of its own;
/// a server with TLS off skips this.
#[tokio::test]
async fn a_store_over_tls_verifies_the_server() {
    let Some((plain, database)) = fresh(1000).await else {
        return;
    };
    let ssl: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&plain.pool)
        .await
        .unwrap();
    if ssl != "on" {
        eprintln!("skipped: the test server has TLS off");
        return;
    }
    let certificate: String = sqlx::query_scalar("SHOW ssl_cert_file")
        .fetch_one(&plain.pool)
        .await
        .unwrap();
    let separator = if database.url.contains('?') { '&' } else { '?' };
    let verified = |root: &str| {
        format!(
            "{}{separator}sslmode=verify-full&sslrootcert={root}",
            database.url
        )
    };
    let options = super::PgOptions {
        bucket_ms: 1000,
        max_connections: 2,
    };
    let store = PgStore::connect(&verified(&certificate), options.clone())
        .await
        .expect("verified against the server's own certificate");
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert!(encrypted, "the connection is encrypted");

    let stranger = tempfile::tempdir().unwrap();
    let root = stranger.path().join("root.crt");
    // Made as scripts/services/postgres makes the server's, so it differs
    // only in who signed it.
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(stranger.path().join("root.key"))
        .arg("-out")
        .arg(&root)
        .output()
        .expect("run openssl");
    assert!(made.status.success(), "openssl: {made:?}");
    let refused = PgStore::connect(&verified(root.to_str().unwrap()), options).await;
    assert!(
        refused.is_err(),
        "a certificate from another root is refused"
    );
}
