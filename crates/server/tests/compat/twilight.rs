//! twilight (gateway + HTTP) as a Rust bot author would use it, pointed at
//! Concord with the libraries' own proxy settings. Its gateway asks for
//! zstd-stream by default.

use std::time::Duration;

use concord_testkit::Account;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt,
};
use twilight_http::Client;
use twilight_model::id::Id;

use crate::{HISTORY_COUNT, Stage};

/// The next event that `pick` accepts, skipping the others.
async fn next<T>(shard: &mut Shard, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    let wait = async {
        loop {
            match shard.next_event(EventTypeFlags::all()).await {
                Some(Ok(event)) => {
                    if let Some(found) = pick(event) {
                        return found;
                    }
                }
                Some(Err(e)) => panic!("twilight could not read an event: {e}"),
                None => panic!("the shard stopped"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("event within 20 s")
}

#[tokio::test]
async fn twilight_runs_the_whole_scenario() {
    let stage = Stage::new().await;
    let token = stage.bot.auth.trim_start_matches("Bot ").to_owned();
    let http = Client::builder()
        .proxy(stage.s.addr.to_string(), true)
        .token(token.clone())
        .build();
    let intents = Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT;
    let config = ConfigBuilder::new(token, intents)
        .proxy_url(stage.s.ws_url())
        .build();
    let mut shard = Shard::with_config(ShardId::ONE, config);

    let guild_id = Id::new(stage.guild.parse().unwrap());
    let channel_id = Id::new(stage.general.parse().unwrap());
    let ready = next(&mut shard, |e| match e {
        Event::Ready(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(ready.guilds[0].id, guild_id);
    let guild = next(&mut shard, |e| match e {
        Event::GuildCreate(g) => Some(g),
        _ => None,
    })
    .await;
    assert_eq!(guild.id(), guild_id);

    let sent = http
        .create_message(channel_id)
        .content("hello from twilight")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let created = next(&mut shard, |e| match e {
        Event::MessageCreate(m) if m.id == sent.id => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(created.content, "hello from twilight");
    assert_eq!(created.guild_id, Some(guild_id));
    assert!(created.member.is_some());

    http.update_message(channel_id, sent.id)
        .content(Some("edited by twilight"))
        .await
        .unwrap();
    let updated = next(&mut shard, |e| match e {
        Event::MessageUpdate(m) if m.id == sent.id => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(updated.content, "edited by twilight");

    http.delete_message(channel_id, sent.id).await.unwrap();
    next(&mut shard, |e| {
        matches!(&e, Event::MessageDelete(d) if d.id == sent.id).then_some(())
    })
    .await;

    let history = Id::new(stage.history.parse().unwrap());
    let mut ids = Vec::new();
    let mut before = None;
    loop {
        let request = http.channel_messages(history).limit(100);
        let page = match before {
            Some(id) => request.before(id).await,
            None => request.await,
        };
        let page = page.unwrap().models().await.unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        ids.extend(page.iter().map(|m| m.id));
    }
    assert_eq!(ids.len(), HISTORY_COUNT);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");

    // Drop the socket keeping the session; twilight reconnects and resumes.
    shard.close(CloseFrame::RESUME);
    let owner: &Account = &stage.owner;
    stage.s.say(owner, &stage.general, "sent while away").await;
    let mut resumed = false;
    let missed = next(&mut shard, |e| match e {
        Event::Resumed => {
            resumed = true;
            None
        }
        Event::MessageCreate(m) if m.content == "sent while away" => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(missed.channel_id, channel_id);
    if !resumed {
        next(&mut shard, |e| matches!(e, Event::Resumed).then_some(())).await;
    }
}
