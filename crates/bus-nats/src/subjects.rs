//! Where events live on NATS. Each event is stored once in the stream, on
//! the subject of its only topic (`P.ev.g.GUILD`, `P.ev.u.USER`), or on
//! `P.ev.many` when its audience spans several (a presence update to a
//! user's guilds, a DM to its participants), or `P.ev.none` when it has no
//! topic at all. The stream republishes each stored event, with its
//! sequence, on the same subject under `P.live`, where subscriptions
//! listen: one subject per topic held, so a guild's events reach only the
//! nodes whose sessions see it, plus `P.live.many` for any node holding a
//! topic, which picks the events for its own topics out of it. A NATS
//! message has one subject, so an event for several topics either crosses
//! the network once per topic (and has several ids) or once per node; the
//! bus keeps one id per event.

use concord_model::event::{Event, Topic};

#[derive(Debug, Clone)]
pub(crate) struct Subjects {
    prefix: String,
}

impl Subjects {
    /// Subjects under `prefix`, which also names the stream: letters,
    /// digits, `-` and `_`.
    pub(crate) fn new(prefix: &str) -> Result<Subjects, String> {
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if prefix.is_empty() || !prefix.chars().all(valid) {
            return Err(format!(
                "the stream name {prefix:?} must be letters, digits, '-' and '_'"
            ));
        }
        Ok(Subjects {
            prefix: prefix.to_string(),
        })
    }

    pub(crate) fn stream(&self) -> &str {
        &self.prefix
    }

    /// What the stream stores.
    pub(crate) fn stored_all(&self) -> String {
        format!("{}.ev.>", self.prefix)
    }

    /// Where the stream republishes what it stored.
    pub(crate) fn live_all(&self) -> String {
        format!("{}.live.>", self.prefix)
    }

    /// The subject `event` is published on.
    pub(crate) fn stored(&self, event: &Event) -> String {
        let mut topics = event.topics();
        topics.sort_by_key(|t| match t {
            Topic::Guild(id) => (0, id.0),
            Topic::User(id) => (1, id.0),
            Topic::All => (2, 0),
        });
        topics.dedup();
        let route = match topics.as_slice() {
            [] => "none".to_string(),
            [topic] => token(*topic),
            _ => "many".to_string(),
        };
        format!("{}.ev.{route}", self.prefix)
    }

    /// The live subjects a subscription holding `topic` listens on.
    pub(crate) fn live(&self, topic: Topic) -> Vec<String> {
        match topic {
            Topic::All => vec![self.live_all()],
            _ => vec![
                format!("{}.live.{}", self.prefix, token(topic)),
                format!("{}.live.many", self.prefix),
            ],
        }
    }
}

fn token(topic: Topic) -> String {
    match topic {
        Topic::Guild(id) => format!("g.{}", id.0),
        Topic::User(id) => format!("u.{}", id.0),
        Topic::All => "all".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_model::Snowflake;
    use concord_model::event::{Audience, EventKind, NodeId};

    fn event(audience: Audience) -> Event {
        Event::new(
            EventKind::MessageCreate,
            audience,
            NodeId(1),
            &serde_json::json!({}),
        )
    }

    #[test]
    fn one_topic_has_its_subject_and_several_share_one() {
        let subjects = Subjects::new("c").unwrap();
        let guild = Audience::Guild {
            guild_id: Snowflake(5),
            channel_id: None,
            required: concord_model::Permissions::NONE,
        };
        assert_eq!(subjects.stored(&event(guild)), "c.ev.g.5");
        let dm = Audience::Private {
            channel_id: Snowflake(9),
            recipients: vec![Snowflake(2), Snowflake(3)],
        };
        assert_eq!(subjects.stored(&event(dm)), "c.ev.many");
        let to_one_twice = Audience::Users(vec![Snowflake(2), Snowflake(2)]);
        assert_eq!(subjects.stored(&event(to_one_twice)), "c.ev.u.2");
        assert_eq!(
            subjects.stored(&event(Audience::Users(vec![]))),
            "c.ev.none"
        );
        assert_eq!(
            subjects.live(Topic::User(Snowflake(2))),
            ["c.live.u.2", "c.live.many"]
        );
        assert_eq!(subjects.live(Topic::All), ["c.live.>"]);
        assert!(Subjects::new("a.b").is_err());
        assert!(Subjects::new("").is_err());
    }
}
