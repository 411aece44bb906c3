//! serenity as a Rust bot author writes it (an `EventHandler` on a
//! `Client`), pointed at Concord through its HTTP proxy setting; the
//! gateway URL comes from `GET /gateway`. The bot answers `!ping`,
//! registers a guild slash command and answers its invocation, which the
//! test makes as the web client does.

use std::time::Duration;

use serde_json::{Value, json};
use serenity::all::{
    ClientBuilder, CommandInteraction, Context, CreateCommand, CreateInteractionResponse,
    CreateInteractionResponseMessage, EventHandler, GatewayIntents, GuildId, Http, HttpBuilder,
    Interaction, Message, Ready,
};
use serenity::async_trait;
use tokio::sync::mpsc;

use crate::Stage;

/// What the handler saw, for the test to wait on.
#[derive(Debug)]
enum Seen {
    Ready(Box<Ready>),
    Answered(String),
    Failed(String),
}

struct Bot(mpsc::UnboundedSender<Seen>);

impl Bot {
    fn tell(&self, seen: Seen) {
        let _ = self.0.send(seen);
    }

    async fn answer(&self, ctx: &Context, command: &CommandInteraction) {
        let message = CreateInteractionResponseMessage::new()
            .content(format!("hello {}, from serenity", command.user.name));
        let reply = CreateInteractionResponse::Message(message);
        match command.create_response(&ctx.http, reply).await {
            Ok(()) => self.tell(Seen::Answered(command.data.name.clone())),
            Err(e) => self.tell(Seen::Failed(format!("interaction response: {e}"))),
        }
    }
}

#[async_trait]
impl EventHandler for Bot {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        self.tell(Seen::Ready(Box::new(ready)));
    }

    async fn message(&self, ctx: Context, message: Message) {
        if message.content == "!ping" {
            match message
                .channel_id
                .say(&ctx.http, "pong from serenity")
                .await
            {
                Ok(_) => self.tell(Seen::Answered("!ping".into())),
                Err(e) => self.tell(Seen::Failed(format!("reply: {e}"))),
            }
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Command(command) => self.answer(&ctx, &command).await,
            other => self.tell(Seen::Failed(format!("unexpected {other:?}"))),
        }
    }
}

/// The next thing the bot saw; a failure it reports fails the test.
async fn next(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    let next = tokio::time::timeout(Duration::from_secs(30), seen.recv())
        .await
        .expect("the serenity bot acts within 30 s")
        .expect("the handler is alive");
    if let Seen::Failed(why) = &next {
        panic!("serenity failed: {why}");
    }
    next
}

/// serenity's HTTP client sending to Concord: its proxy setting takes
/// the place of Discord's origin, and is honoured only with serenity's own
/// rate limiter off (the limiter sends to Discord itself).
fn concord_http(stage: &Stage, token: &str) -> Http {
    HttpBuilder::new(token)
        .proxy(format!("http://{}", stage.s.addr))
        .ratelimiter_disabled(true)
        .build()
}

/// The newest messages of `channel`, as its owner reads them.
async fn history(stage: &Stage, channel: &str) -> Vec<Value> {
    let path = format!("/channels/{channel}/messages?limit=10");
    let reply = stage.s.get(&path, &stage.owner.auth).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn serenity_answers_a_message_and_a_slash_command() {
    let stage = Stage::new().await;
    let _ = tracing_subscriber::fmt()
        .with_env_filter("serenity=debug")
        .try_init();
    let token = stage.bot.auth.trim_start_matches("Bot ").to_owned();
    let http = concord_http(&stage, &token);
    let intents =
        GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let mut client = ClientBuilder::new_with_http(http, intents)
        .event_handler(Bot(tx))
        .await
        .expect("a serenity client");
    let (shards, http) = (client.shard_manager.clone(), client.http.clone());
    let running = tokio::spawn(async move { client.start().await });

    let Seen::Ready(ready) = next(&mut seen).await else {
        panic!("READY first");
    };
    assert_eq!(ready.user.id.get().to_string(), stage.bot.id);
    let guild = GuildId::new(stage.guild.parse().unwrap());
    assert!(ready.guilds.iter().any(|g| g.id == guild));

    // A message in, a reply out.
    stage.s.say(&stage.owner, &stage.general, "!ping").await;
    assert!(matches!(next(&mut seen).await, Seen::Answered(m) if m == "!ping"));
    let newest = history(&stage, &stage.general).await;
    assert_eq!(newest[0]["content"], "pong from serenity");
    assert_eq!(newest[0]["author"]["id"], json!(stage.bot.id));

    // A guild command registered through the client's HTTP (which READY
    // told the application's id)...
    let hello = CreateCommand::new("hello").description("Says hello");
    let commands = guild.set_commands(&http, vec![hello]).await.unwrap();
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].name, "hello");

    // ... invoked by the owner as the web client does, answered by the bot.
    let invocation = json!({
        "type": 2,
        "application_id": stage.bot.id,
        "guild_id": stage.guild,
        "channel_id": stage.general,
        "session_id": "web",
        "nonce": "4242",
        "data": { "version": commands[0].version.get().to_string(),
            "id": commands[0].id.get().to_string(), "name": "hello", "type": 1 },
    });
    let invoked = stage
        .s
        .post("/interactions", &stage.owner.auth, invocation)
        .await;
    assert_eq!(invoked.status, 204, "{:?}", invoked.body);
    assert!(matches!(next(&mut seen).await, Seen::Answered(m) if m == "hello"));
    let newest = history(&stage, &stage.general).await;
    assert_eq!(newest[0]["content"], "hello owner, from serenity");
    assert_eq!(newest[0]["type"], 20);
    assert_eq!(newest[0]["interaction_metadata"]["name"], "hello");

    shards.shutdown_all().await;
    let _ = running.await;
}
