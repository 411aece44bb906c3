//! Messages as clients read them: with their authors, mentions,
//! replied-to messages, threads, attachment URLs signed afresh, and the
//! votes on their polls.

use std::collections::HashMap;

use concord_model::{Snowflake, records, wire};

use crate::{Service, ServiceResult};

impl Service {
    /// Messages with their authors, mentions and replied-to messages.
    pub(crate) async fn render_messages(
        &self,
        messages: &[records::Message],
    ) -> ServiceResult<Vec<wire::Message>> {
        let mut referenced: HashMap<Snowflake, Option<records::Message>> = HashMap::new();
        for m in messages {
            if let Some(r) = m.message_reference
                && m.kind == records::message_type::REPLY
                && !referenced.contains_key(&r.message_id)
            {
                let target = self.store.message(r.channel_id, r.message_id).await?;
                referenced.insert(r.message_id, target);
            }
        }
        // Threads started from these messages.
        let mut threads: HashMap<Snowflake, wire::Channel> = HashMap::new();
        for m in messages {
            if m.flags & crate::threads::HAS_THREAD != 0
                && let Some(thread) = self.store.channel(m.id).await?
            {
                threads.insert(m.id, self.channel_wire(&thread).await?);
            }
        }
        let all = messages.iter().chain(referenced.values().flatten());
        let ids: Vec<Snowflake> = all
            .flat_map(|m| {
                let author = m.webhook.is_none().then_some(m.author_id);
                let invoker = m.interaction.as_ref().map(|i| i.user_id);
                author
                    .into_iter()
                    .chain(invoker)
                    .chain(m.mentions.iter().copied())
            })
            .collect();
        let users = self.users_wire(&ids).await?;
        let one = |m: &records::Message| {
            let author = match &m.webhook {
                Some(webhook) => wire::User::webhook_author(m.author_id, webhook),
                None => users[&m.author_id].clone(),
            };
            let mentions = m.mentions.iter().map(|id| users[id].clone()).collect();
            let mut out = wire::Message::new(m, author, mentions);
            if let Some(interaction) = &m.interaction {
                let invoker = &users[&interaction.user_id];
                out.interaction_metadata = Some(wire::interaction_metadata(interaction, invoker));
                out.interaction = Some(wire::message_interaction(interaction, invoker));
            }
            // Signed afresh at every rendering: reading a message again
            // always gives URLs that work.
            out.attachments = m
                .attachments
                .iter()
                .map(|a| wire::Attachment::new(a, self.attachment_url(a)))
                .collect();
            out
        };
        let mut rendered: Vec<wire::Message> = messages
            .iter()
            .map(|m| {
                let mut out = one(m);
                out.thread = threads.remove(&m.id).map(Box::new);
                if let Some(r) = m
                    .message_reference
                    .filter(|_| m.kind == records::message_type::REPLY)
                {
                    let target = referenced.get(&r.message_id).and_then(|t| t.as_ref());
                    out.referenced_message = Some(target.map(|t| Box::new(one(t))));
                }
                out
            })
            .collect();
        self.count_poll_votes(messages, &mut rendered).await?;
        Ok(rendered)
    }

    pub(crate) async fn render_message(
        &self,
        message: &records::Message,
    ) -> ServiceResult<wire::Message> {
        let mut rendered = self.render_messages(std::slice::from_ref(message)).await?;
        Ok(rendered.remove(0))
    }
}
