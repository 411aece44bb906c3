use std::sync::Arc;

use concord_model::records::User;
use concord_model::snowflake::now_ms;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::*;
use crate::attachments::Upload;
use crate::attachments::blobs::{BlobStore, DirectoryBlobs, hex};
use crate::cluster::two_nodes::{GUILD, OWNER, TEXT, config, seeded_store};
use crate::interactions::{InteractionCallback, interaction_type, token};
use crate::messages::CreateMessage;

const BOT: Snowflake = Snowflake(20);

/// A node over `store` keeping files in `blobs`.
async fn node(
    store: &Arc<dyn concord_store::Store>,
    worker: u8,
    blobs: &std::path::Path,
) -> Service {
    let bus = Arc::new(concord_bus::LocalBus::new(64));
    let service = Service::open(store.clone(), bus, config(worker))
        .await
        .unwrap();
    service.with_blobs(blobs.to_path_buf())
}

/// The world's store with the application's bot.
async fn store() -> Arc<dyn concord_store::Store> {
    let store = seeded_store().await;
    let mut bot = User::new(BOT, "bot");
    bot.bot = true;
    store.create_user(&bot).await.unwrap();
    store
}

/// An interaction of the bot's command in the guild's channel, numbered
/// `id`, as the node accepting it stores it; and its token.
async fn accepted(service: &Service, id: Snowflake) -> String {
    let (interaction, token) = command(id);
    service.remember_interaction(&interaction).await.unwrap();
    token
}

/// The owner's invocation of the bot's command numbered `id`, and its token.
fn command(id: Snowflake) -> (Interaction, String) {
    let (secret, token) = token::issue(id);
    let interaction = Interaction {
        id,
        kind: interaction_type::APPLICATION_COMMAND,
        application_id: BOT,
        secret,
        user_id: OWNER,
        guild_id: Some(GUILD),
        user_install: false,
        channel_id: TEXT,
        nonce: None,
        command_name: Some("ping".into()),
        command_type: Some(1),
        message_id: None,
        original: None,
        original_ephemeral: false,
        ephemeral: Vec::new(),
        modal: None,
    };
    (interaction, token)
}

/// An interaction numbered `id` that answered with a modal `custom_id`.
async fn opened_modal(service: &Service, id: Snowflake, custom_id: &str) {
    let (mut interaction, _) = command(id);
    interaction.modal = Some(custom_id.into());
    service.remember_interaction(&interaction).await.unwrap();
    service.open_modal(&interaction, b"null").await.unwrap();
}

/// A received file of `bytes`, and the name of its blob.
async fn upload(service: &Service, bytes: &[u8]) -> (Upload, String) {
    let turn = service.upload_turn().await.unwrap();
    let mut file = service
        .receive_upload(&turn, "f.txt".into(), None)
        .await
        .unwrap();
    file.write(bytes).await.unwrap();
    (file.finish().await.unwrap(), hex(&Sha256::digest(bytes)))
}

async fn kept(service: &Service, id: Snowflake) -> bool {
    service.interaction_record(id).await.unwrap().is_some()
}

/// A node keeping files in `dir` and an interaction it accepted, answered
/// ephemerally with a file: the node, the interaction, its token and the
/// file's blob.
async fn answered_ephemerally(dir: &std::path::Path) -> (Service, Snowflake, String, String) {
    let service = node(&store().await, 0, dir).await;
    let id = service.next_id();
    let token = accepted(&service, id).await;
    let (file, blob) = upload(&service, b"only for you").await;
    let answer = InteractionCallback {
        kind: 4,
        data: Some(json!({ "content": "psst", "flags": 64 })),
        uploads: vec![file],
    };
    service
        .interaction_callback(id, &token, answer, false)
        .await
        .unwrap();
    assert!(blobs(dir).exists(&blob).await.unwrap());
    (service, id, token, blob)
}

fn blobs(dir: &std::path::Path) -> DirectoryBlobs {
    DirectoryBlobs::new(dir.to_path_buf())
}

/// Once its token has closed, an interaction's ephemeral answers go with
/// their files, and the files of its answers in the channel stay.
#[tokio::test]
async fn ephemeral_files_go_when_the_interaction_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (service, id, token, ephemeral_blob) = answered_ephemerally(dir.path()).await;
    let (file, ephemeral_follow_up_blob) = upload(&service, b"also for you").await;
    let follow_up = CreateMessage {
        flags: Some(64),
        uploads: vec![file],
        ..CreateMessage::default()
    };
    service
        .interaction_follow_up(BOT, &token, follow_up)
        .await
        .unwrap();
    let (file, public_blob) = upload(&service, b"for everyone").await;
    let public = CreateMessage {
        uploads: vec![file],
        ..CreateMessage::default()
    };
    service
        .interaction_follow_up(BOT, &token, public)
        .await
        .unwrap();

    let blobs = blobs(dir.path());
    assert!(blobs.exists(&ephemeral_follow_up_blob).await.unwrap());
    assert!(blobs.exists(&public_blob).await.unwrap());
    let closed = due_ms(id);
    assert_eq!(service.sweep_interactions(closed - 1).await.unwrap(), 0);
    assert!(kept(&service, id).await, "open until its token closes");
    assert_eq!(service.sweep_interactions(closed).await.unwrap(), 1);
    assert!(!kept(&service, id).await);
    assert!(!blobs.exists(&ephemeral_blob).await.unwrap());
    assert!(!blobs.exists(&ephemeral_follow_up_blob).await.unwrap());
    assert!(
        blobs.exists(&public_blob).await.unwrap(),
        "still in the channel"
    );
}

/// Deleting an ephemeral answer releases its file.
#[tokio::test]
async fn a_deleted_ephemeral_answer_releases_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let (service, _, token, blob) = answered_ephemerally(dir.path()).await;
    let original = crate::interactions::WebhookMessageId::Original;
    service
        .delete_interaction_response(BOT, &token, original)
        .await
        .unwrap();
    assert!(!blobs(dir.path()).exists(&blob).await.unwrap());
}

/// What a node accepted is removed by another once its token has closed,
/// the node that accepted it gone: the sweep runs on the node holding its
/// lease, and interactions still open stay.
#[tokio::test(start_paused = true)]
async fn another_node_removes_what_a_stopped_node_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let store = store().await;
    let stopped = node(&store, 0, dir.path()).await;
    let long_ago = now_ms() - (TOKEN_LIFETIME + GRACE).as_millis() as u64 - 1_000;
    let closed = Snowflake::from_timestamp_ms(long_ago);
    accepted(&stopped, closed).await;
    let open = stopped.next_id();
    accepted(&stopped, open).await;
    drop(stopped);

    let realtime = concord_realtime::Realtime::local();
    let survivor = node(&store, 1, dir.path()).await;
    let survivor = Arc::new(survivor.with_realtime(realtime.clone()));
    let leases = &realtime.leases;
    let long = SWEEP_EVERY * 100;
    assert!(leases.acquire(SWEEP_LEASE, "other", long).await.unwrap());
    let task = tokio::spawn(interaction_sweep(Arc::downgrade(&survivor), "this".into()));
    // The paused clock runs ahead while every task waits: three turns.
    tokio::time::sleep(SWEEP_EVERY * 3).await;
    assert!(
        kept(&survivor, closed).await,
        "another node holds the lease"
    );

    leases.release(SWEEP_LEASE, "other").await.unwrap();
    for _ in 0..3 {
        if !kept(&survivor, closed).await {
            break;
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
    assert!(
        !kept(&survivor, closed).await,
        "removed by the lease holder"
    );
    assert!(kept(&survivor, open).await, "still open");
    task.abort();
}

/// A modal left open by an interaction that closes goes with it, but a
/// newer modal of the same `custom_id`, opened by a later interaction,
/// stays open for its submission.
#[tokio::test]
async fn a_closing_interaction_leaves_a_newer_modal_of_the_same_custom_id() {
    let dir = tempfile::tempdir().unwrap();
    let service = node(&store().await, 0, dir.path()).await;
    let long_ago = now_ms() - (TOKEN_LIFETIME + GRACE).as_millis() as u64 - 1_000;
    let closed = Snowflake::from_timestamp_ms(long_ago);
    opened_modal(&service, closed, "form").await;
    let also_closed = Snowflake::from_timestamp_ms(long_ago + 1);
    opened_modal(&service, also_closed, "left-open").await;
    let open = service.next_id();
    opened_modal(&service, open, "form").await;

    assert_eq!(service.sweep_interactions(now_ms()).await.unwrap(), 2);
    assert!(!kept(&service, closed).await);
    let left = service.take_modal(BOT, OWNER, "left-open").await.unwrap();
    assert!(left.is_none(), "the closed interaction's own modal went");
    let newer = service.take_modal(BOT, OWNER, "form").await.unwrap();
    assert!(newer.is_some(), "the newer modal is still open");
    let again = service.take_modal(BOT, OWNER, "form").await.unwrap();
    assert!(again.is_none(), "submitted once");
}
