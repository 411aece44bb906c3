//! Polls on messages: the request checked into a poll (`create`), votes
//! and their events, the voters of an answer, ending a poll early or at
//! its expiry with its result posted (`ending`), and the counts every
//! rendering of a poll carries.
//!
//! Votes live in the store apart from the message (`PollStore`): a change
//! of one person's vote is one conditional store operation, refused once
//! the poll ended, so concurrent votes on any node all count and none
//! lands after the end. Nothing here holds a lock or remembers a poll: the
//! store's list of open polls is what the expiry task walks.

pub(crate) mod create;
pub mod ending;

use concord_model::event::EventKind;
use concord_model::records::{Message, Poll};
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes, wire};
use concord_store::PollVote;
use serde_json::{Value, json};

use super::input::PollVoteInput;
use crate::{Caller, ChannelView, FormErrors, Service, ServiceError, ServiceResult};

/// The answer ids of a vote, as the poll knows them: strings or numbers,
/// each once, at most one unless the poll allows several.
fn checked_vote(poll: &Poll, input: &PollVoteInput) -> ServiceResult<Vec<u8>> {
    let mut errors = FormErrors::new();
    let mut answers = Vec::with_capacity(input.answer_ids.len());
    for (i, id) in input.answer_ids.iter().enumerate() {
        let parsed = match id {
            Value::String(s) => s.parse::<u8>().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
            _ => None,
        };
        match parsed.filter(|a| poll.answer(*a).is_some()) {
            Some(answer) if !answers.contains(&answer) => answers.push(answer),
            Some(_) => {}
            None => errors.add(
                &format!("answer_ids.{i}"),
                "POLL_ANSWER_INVALID",
                "Invalid poll answer.",
            ),
        }
    }
    if !poll.allow_multiselect && answers.len() > 1 {
        errors.add(
            "answer_ids",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 1 or fewer in length.",
        );
    }
    errors.into_result()?;
    answers.sort_unstable();
    Ok(answers)
}

/// A poll's results as read by `reader` (whose own votes are `mine`).
fn results(poll: &Poll, counts: &[(u8, u64)], mine: &[u8]) -> wire::PollResults {
    wire::PollResults {
        is_finalized: poll.finalized,
        answer_counts: counts
            .iter()
            .map(|&(id, count)| wire::PollAnswerCount {
                id,
                count,
                me_voted: mine.contains(&id),
            })
            .collect(),
    }
}

impl Service {
    /// A poll message in a channel the caller sees and may read the
    /// history of: 10008 if there is no such message, `not_poll` if it
    /// carries no poll.
    async fn poll_message(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
        not_poll: ServiceError,
    ) -> ServiceResult<(ChannelView, Message, Poll)> {
        let view = self.text_channel(caller, channel_id).await?;
        view.require(Permissions::READ_MESSAGE_HISTORY)?;
        let message = self.message_record(channel_id, message_id).await?;
        let Some(poll) = message.poll.clone() else {
            return Err(not_poll);
        };
        Ok((view, message, poll))
    }

    /// `PUT /channels/{c}/polls/{m}/answers/@me`: makes `answer_ids` the
    /// caller's whole vote (none removes it), announcing each answer
    /// voted for or no longer. Bots cannot vote (20001), nor anyone once
    /// the poll ended (520001).
    pub async fn vote_poll(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
        input: PollVoteInput,
    ) -> ServiceResult<()> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        let unknown = ServiceError::NotFound(codes::UNKNOWN_MESSAGE);
        let (view, _, poll) = self
            .poll_message(caller, channel_id, message_id, unknown)
            .await?;
        let answers = checked_vote(&poll, &input)?;
        let vote = self
            .store
            .vote_poll(channel_id, message_id, caller.id, &answers, now_ms())
            .await?;
        let (removed, added) = match vote {
            PollVote::Changed { removed, added } => (removed, added),
            PollVote::Ended => return Err(ServiceError::BadRequest(codes::POLL_EXPIRED)),
            PollVote::Unknown => return Err(ServiceError::NotFound(codes::UNKNOWN_MESSAGE)),
        };
        let changes = removed
            .into_iter()
            .map(|a| (EventKind::MessagePollVoteRemove, a))
            .chain(
                added
                    .into_iter()
                    .map(|a| (EventKind::MessagePollVoteAdd, a)),
            );
        for (kind, answer_id) in changes {
            let data = view.with_guild_id(json!({
                "user_id": caller.id,
                "channel_id": channel_id,
                "message_id": message_id,
                "answer_id": answer_id,
            }));
            self.publish(kind, view.audience(), data).await;
        }
        Ok(())
    }

    /// `GET /channels/{c}/polls/{m}/answers/{answer_id}`: who votes for
    /// the answer, by user id, after `after`.
    pub async fn poll_voters(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
        answer_id: u8,
        after: Snowflake,
        limit: usize,
    ) -> ServiceResult<Value> {
        let unknown = ServiceError::NotFound(codes::UNKNOWN_MESSAGE);
        self.poll_message(caller, channel_id, message_id, unknown)
            .await?;
        let ids = self
            .store
            .poll_voters(channel_id, message_id, answer_id, after, limit)
            .await?;
        Ok(json!({ "users": self.users_wire_list(&ids).await? }))
    }

    /// The votes counted on each poll among `messages` (rendered from
    /// `records`), `me_voted` left false: what every reader is shown.
    pub(crate) async fn count_poll_votes(
        &self,
        records: &[Message],
        messages: &mut [wire::Message],
    ) -> ServiceResult<()> {
        for (record, message) in records.iter().zip(messages) {
            let (Some(poll), Some(shown)) = (&record.poll, message.poll.as_mut()) else {
                continue;
            };
            let counts = self.store.poll_counts(record.channel_id, record.id).await?;
            shown.results = Some(results(poll, &counts, &[]));
        }
        Ok(())
    }

    /// Marks the answers `reader` voted for (`me_voted`) in the polls of
    /// messages about to be returned to them.
    pub(crate) async fn mark_own_votes(
        &self,
        reader: Snowflake,
        messages: &mut [wire::Message],
    ) -> ServiceResult<()> {
        for message in messages {
            let Some(results) = message.poll.as_mut().and_then(|p| p.results.as_mut()) else {
                continue;
            };
            if results.answer_counts.is_empty() {
                continue;
            }
            let mine = self
                .store
                .poll_votes(message.channel_id, message.id, reader)
                .await?;
            for count in &mut results.answer_counts {
                count.me_voted = mine.contains(&count.id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use concord_model::records::PollAnswer;

    use super::*;

    fn poll(multiselect: bool) -> Poll {
        Poll {
            question: "q".into(),
            answers: (1..=3)
                .map(|answer_id| PollAnswer {
                    answer_id,
                    text: "a".into(),
                    emoji: None,
                })
                .collect(),
            expiry_ms: 1,
            allow_multiselect: multiselect,
            layout_type: 1,
            finalized: false,
        }
    }

    fn vote(ids: Value) -> PollVoteInput {
        serde_json::from_value(json!({ "answer_ids": ids })).unwrap()
    }

    #[test]
    fn votes_name_answers_of_the_poll() {
        assert_eq!(
            checked_vote(&poll(true), &vote(json!(["3", 1, "3"]))).unwrap(),
            [1, 3]
        );
        assert!(
            checked_vote(&poll(false), &vote(json!([])))
                .unwrap()
                .is_empty()
        );
        for wrong in [json!(["4"]), json!(["0"]), json!(["x"]), json!([null])] {
            let refused = checked_vote(&poll(true), &vote(wrong.clone()));
            assert!(
                matches!(refused, Err(ServiceError::InvalidForm(_))),
                "{wrong}"
            );
        }
        let two = checked_vote(&poll(false), &vote(json!(["1", "2"])));
        assert!(matches!(two, Err(ServiceError::InvalidForm(_))));
    }
}
