//! A poll's end: early by its author (`POST .../expire`), or at its expiry
//! by the node holding the [`EXPIRY_LEASE`], which walks the store's list
//! of open polls. Either way the store ends it once (`PollStore::end_poll`),
//! and whoever ended it announces it finalized (MESSAGE_UPDATE) and posts
//! its result (a POLL_RESULT message replying to it, with the embed
//! Discord's clients read).

use concord_model::event::EventKind;
use concord_model::records::{Message, MessageReference, Poll, message_type};
use concord_model::snowflake::now_ms;
use concord_model::{Snowflake, codes, wire};
use serde_json::{Value, json};

use crate::{Caller, Service, ServiceError, ServiceResult, audience_of};

/// Open polls read from the store at a time.
const DUE_BATCH: usize = 100;
/// How often polls past their expiry are looked for.
const EXPIRY_EVERY: std::time::Duration = std::time::Duration::from_secs(15);
/// The lease that makes one node of a cluster the one ending polls.
pub const EXPIRY_LEASE: &str = "poll-expiry";

/// One field of the result embed.
fn field(name: &str, value: impl ToString) -> Value {
    json!({ "name": name, "value": value.to_string(), "inline": false })
}

/// The embed of a poll's result, as Discord posts it: the question, the
/// total, the most votes an answer got, and the winning answer when one
/// answer alone got them.
pub(crate) fn result_embed(poll: &Poll, counts: &[(u8, u64)]) -> Value {
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let most = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let leaders: Vec<u8> = counts
        .iter()
        .filter(|(_, n)| *n == most && most > 0)
        .map(|(a, _)| *a)
        .collect();
    let mut fields = vec![
        field("poll_question_text", &poll.question),
        field("victor_answer_votes", most),
        field("total_votes", total),
    ];
    if let [winner] = leaders[..]
        && let Some(answer) = poll.answer(winner)
    {
        fields.push(field("victor_answer_id", winner));
        fields.push(field("victor_answer_text", &answer.text));
        if let Some(emoji) = &answer.emoji {
            if let Some(id) = emoji.id {
                fields.push(field("victor_answer_emoji_id", id));
            }
            if let Some(name) = &emoji.name {
                fields.push(field("victor_answer_emoji_name", name));
            }
            if emoji.animated {
                fields.push(field("victor_answer_emoji_animated", true));
            }
        }
    }
    json!({ "type": "poll_result", "fields": fields })
}

/// The result message of an ended poll: from the poll's author (a webhook
/// under the same name), mentioning them, replying to the poll.
fn result_message(ended: &Message, poll: &Poll, counts: &[(u8, u64)]) -> Message {
    Message {
        guild_id: ended.guild_id,
        kind: message_type::POLL_RESULT,
        mentions: match ended.webhook {
            Some(_) => Vec::new(),
            None => vec![ended.author_id],
        },
        embeds: vec![result_embed(poll, counts)],
        message_reference: Some(MessageReference {
            message_id: ended.id,
            channel_id: ended.channel_id,
            guild_id: ended.guild_id,
        }),
        webhook: ended.webhook.clone(),
        ..Message::new(Snowflake(0), ended.channel_id, ended.author_id, "")
    }
}

impl Service {
    /// `POST /channels/{c}/polls/{m}/expire`: its author ends the poll now.
    pub async fn expire_poll(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> ServiceResult<wire::Message> {
        let not_poll = ServiceError::BadRequest(codes::NOT_A_POLL);
        let (_, message, poll) = self
            .poll_message(caller, channel_id, message_id, not_poll)
            .await?;
        if message.author_id != caller.id || message.webhook.is_some() {
            return Err(ServiceError::Forbidden(codes::CANNOT_EDIT_OTHERS_MESSAGE));
        }
        if poll.finalized {
            return Err(ServiceError::BadRequest(codes::POLL_EXPIRED));
        }
        let ended = self
            .end_poll_now(channel_id, message_id, poll.expiry_ms, now_ms())
            .await?;
        let Some(ended) = ended else {
            // Another request, or the expiry task, ended it first.
            return Err(ServiceError::BadRequest(codes::POLL_EXPIRED));
        };
        let mut shown = [ended];
        self.mark_own_votes(caller.id, &mut shown).await?;
        let [shown] = shown;
        Ok(shown)
    }

    /// Ends every open poll whose expiry is at or before `now`; how many
    /// this call ended. The node holding the [`EXPIRY_LEASE`] runs it.
    pub async fn end_due_polls(&self, now: u64) -> ServiceResult<usize> {
        let mut ended = 0;
        loop {
            let due = self.store.polls_due(now, DUE_BATCH).await?;
            for poll in &due {
                let end = self.end_poll_now(poll.channel_id, poll.message_id, poll.expiry_ms, now);
                if end.await?.is_some() {
                    ended += 1;
                }
            }
            // Each one seen is unlisted, ended or not: the next read moves on.
            if due.len() < DUE_BATCH {
                return Ok(ended);
            }
        }
    }

    /// Ends the poll (listed under `expiry_ms`) at `now` if nobody has, and
    /// then announces it and posts its result; the poll's message as it now
    /// is, `None` if it had ended or is gone (its channel too).
    async fn end_poll_now(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        expiry_ms: u64,
        now: u64,
    ) -> ServiceResult<Option<wire::Message>> {
        let ended = self
            .store
            .end_poll(channel_id, message_id, expiry_ms, now)
            .await?;
        let (Some(ended), Some(channel)) = (ended, self.store.channel(channel_id).await?) else {
            return Ok(None);
        };
        let Some(poll) = &ended.poll else {
            return Ok(None);
        };
        self.messages.cache.updated(&ended).await;
        let out = self.render_message(&ended).await?;
        self.publish_message_to(EventKind::MessageUpdate, audience_of(&channel), &out)
            .await;
        let counts = self.store.poll_counts(channel_id, message_id).await?;
        self.post_system_message(&channel, result_message(&ended, poll, &counts))
            .await?;
        Ok(Some(out))
    }
}

/// Ends polls past their expiry every [`EXPIRY_EVERY`], for as long as the
/// service lives and while this node (named `holder`) holds the
/// [`EXPIRY_LEASE`]: one node of a cluster ends them, another takes over
/// if it stops, and what is due is read from the store each time.
pub async fn poll_expiry(service: std::sync::Weak<Service>, holder: String) {
    let mut tick = tokio::time::interval(EXPIRY_EVERY);
    loop {
        tick.tick().await;
        let Some(service) = service.upgrade() else {
            return;
        };
        if !service
            .takes_turn(EXPIRY_LEASE, &holder, EXPIRY_EVERY * 3)
            .await
        {
            continue;
        }
        match service.end_due_polls(now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(polls = n, "ended expired polls"),
            Err(e) => tracing::warn!(error = %e, "ending expired polls failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use concord_bus::{Delivery, EventBus, LocalBus, Topic};
    use concord_model::records::{PollAnswer, PollEmoji};

    use super::*;
    use crate::cluster::two_nodes::{OWNER_CALLER, TEXT, config, seeded_store};
    use crate::messages::CreateMessage;

    /// A poll of an hour in the world's channel, sent now; its id and expiry.
    async fn hour_poll(service: &Service) -> (Snowflake, u64) {
        let input: CreateMessage = serde_json::from_value(json!({
            "poll": {
                "question": {"text": "lunch?"},
                "answers": [{"poll_media": {"text": "pizza"}}, {"poll_media": {"text": "soup"}}],
                "duration": 1,
            }
        }))
        .unwrap();
        let sent = service
            .create_message(OWNER_CALLER, TEXT, input)
            .await
            .unwrap();
        let poll = service.message_record(TEXT, sent.id).await.unwrap().poll;
        (sent.id, poll.unwrap().expiry_ms)
    }

    /// The expiry task ends what the store lists as due, and only that,
    /// once: the poll is finalized (MESSAGE_UPDATE) and its result posted.
    #[tokio::test]
    async fn polls_end_when_due_and_once() {
        let bus = Arc::new(LocalBus::new(64));
        let mut events = bus.subscribe().await.unwrap();
        events.interest().add(&[Topic::All]);
        let service = Service::open(seeded_store().await, bus, config(0))
            .await
            .unwrap();
        let (id, expiry) = hour_poll(&service).await;
        assert_eq!(service.end_due_polls(expiry - 1).await.unwrap(), 0);
        assert_eq!(service.end_due_polls(expiry).await.unwrap(), 1);
        assert_eq!(service.end_due_polls(expiry + 1).await.unwrap(), 0, "once");
        let poll = service
            .message_record(TEXT, id)
            .await
            .unwrap()
            .poll
            .unwrap();
        assert!(poll.finalized);
        assert_eq!(poll.expiry_ms, expiry, "ended at its expiry, not later");

        let mut seen = Vec::new();
        while let Some(Delivery::Event(event)) = events.try_next() {
            let data: Value = serde_json::from_str(&event.data).unwrap();
            seen.push((event.kind, data));
        }
        let updates: Vec<&Value> = seen
            .iter()
            .filter(|(k, _)| *k == EventKind::MessageUpdate)
            .map(|(_, d)| d)
            .collect();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0]["poll"]["results"]["is_finalized"], true);
        let results: Vec<&Value> = seen
            .iter()
            .filter(|(k, d)| *k == EventKind::MessageCreate && d["type"] == 46)
            .map(|(_, d)| d)
            .collect();
        assert_eq!(results.len(), 1, "one result message");
        assert_eq!(
            results[0]["message_reference"]["message_id"],
            id.to_string()
        );
        assert_eq!(results[0]["embeds"][0]["type"], "poll_result");
    }

    async fn finalized(service: &Service, id: Snowflake) -> bool {
        let message = service.message_record(TEXT, id).await.unwrap();
        message.poll.unwrap().finalized
    }

    /// Nodes sharing leases end polls on one node only: the loop of a node
    /// that does not hold the lease ends none, and takes over once the
    /// holder gives it up. What is due is read from the store each turn.
    #[tokio::test(start_paused = true)]
    async fn only_the_lease_holder_ends_polls() {
        let realtime = concord_realtime::Realtime::local();
        let bus = Arc::new(LocalBus::new(64));
        let service = Service::open(seeded_store().await, bus, config(0))
            .await
            .unwrap()
            .with_realtime(realtime.clone());
        let service = Arc::new(service);
        // A poll already past its expiry, as one sent by a node that stopped.
        let id = service.next_id();
        let past_due = Message {
            guild_id: Some(crate::cluster::two_nodes::GUILD),
            poll: Some(Poll {
                expiry_ms: now_ms() - 1,
                finalized: false,
                ..poll()
            }),
            ..Message::new(id, TEXT, crate::cluster::two_nodes::OWNER, "")
        };
        service.store.create_message(&past_due).await.unwrap();
        let leases = &realtime.leases;
        let long = EXPIRY_EVERY * 100;
        assert!(leases.acquire(EXPIRY_LEASE, "other", long).await.unwrap());

        let task = tokio::spawn(poll_expiry(Arc::downgrade(&service), "this".into()));
        // The paused clock runs ahead while every task waits: three turns.
        tokio::time::sleep(EXPIRY_EVERY * 3).await;
        assert!(
            !finalized(&service, id).await,
            "another node holds the lease"
        );

        leases.release(EXPIRY_LEASE, "other").await.unwrap();
        for _ in 0..3 {
            if finalized(&service, id).await {
                break;
            }
            tokio::time::sleep(EXPIRY_EVERY).await;
        }
        assert!(finalized(&service, id).await, "the lease was free to take");
        let now_held = leases.acquire(EXPIRY_LEASE, "other", long).await.unwrap();
        assert!(!now_held, "this node holds it now");
        task.abort();
    }

    fn poll() -> Poll {
        Poll {
            question: "lunch?".into(),
            answers: vec![
                PollAnswer {
                    answer_id: 1,
                    text: "pizza".into(),
                    emoji: Some(PollEmoji {
                        id: None,
                        name: Some("🍕".into()),
                        animated: false,
                    }),
                },
                PollAnswer {
                    answer_id: 2,
                    text: "soup".into(),
                    emoji: None,
                },
            ],
            expiry_ms: 1,
            allow_multiselect: true,
            layout_type: 1,
            finalized: true,
        }
    }

    fn fields(embed: &Value) -> Vec<(String, String)> {
        embed["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().into(),
                    f["value"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    fn named(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn a_winner_is_named_with_its_emoji() {
        let embed = result_embed(&poll(), &[(1, 3), (2, 1)]);
        assert_eq!(embed["type"], "poll_result");
        assert_eq!(
            fields(&embed),
            named(&[
                ("poll_question_text", "lunch?"),
                ("victor_answer_votes", "3"),
                ("total_votes", "4"),
                ("victor_answer_id", "1"),
                ("victor_answer_text", "pizza"),
                ("victor_answer_emoji_name", "🍕"),
            ])
        );
    }

    #[test]
    fn a_tie_or_no_votes_names_no_winner() {
        let tie = result_embed(&poll(), &[(1, 2), (2, 2)]);
        assert_eq!(
            fields(&tie),
            named(&[
                ("poll_question_text", "lunch?"),
                ("victor_answer_votes", "2"),
                ("total_votes", "4"),
            ])
        );
        let none = result_embed(&poll(), &[]);
        assert_eq!(
            fields(&none),
            named(&[
                ("poll_question_text", "lunch?"),
                ("victor_answer_votes", "0"),
                ("total_votes", "0"),
            ])
        );
    }
}
