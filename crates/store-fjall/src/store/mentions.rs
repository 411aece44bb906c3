//! The mentions inbox index: `mention` holds `kind | target | !message id
//! -> channel id`, so one target's entries are a prefix, newest first;
//! `mention_dismissed` holds `reader | message id -> ()`.

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_store::{
    Mention, MentionStore, MentionTarget, Mentioned, StoreError, StoreResult, keys,
};

use super::FjallStore;
use crate::codec::backend;

fn mention_key(target: MentionTarget, message_id: Snowflake) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[..9].copy_from_slice(&target.key());
    key[9..].copy_from_slice(&(!message_id.get()).to_be_bytes());
    key
}

fn corrupt() -> StoreError {
    StoreError::Corrupt("short mention entry".into())
}

fn id_at(bytes: &[u8], at: usize) -> StoreResult<u64> {
    let raw: [u8; 8] = bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(corrupt)?;
    Ok(u64::from_be_bytes(raw))
}

#[async_trait]
impl MentionStore for FjallStore {
    async fn put_mentions(&self, mentions: &[Mention]) -> StoreResult<()> {
        self.write(|b| {
            for m in mentions {
                let key = mention_key(m.target, m.message_id);
                b.insert(&self.t.mention, key, keys::id(m.channel_id));
            }
            Ok(())
        })
        .await
    }

    async fn delete_mentions(&self, mentions: &[Mention]) -> StoreResult<()> {
        self.write(|b| {
            for m in mentions {
                b.remove(&self.t.mention, mention_key(m.target, m.message_id));
            }
            Ok(())
        })
        .await
    }

    async fn mentions(
        &self,
        reader: Snowflake,
        targets: &[MentionTarget],
        before: Option<Snowflake>,
        limit: usize,
    ) -> StoreResult<Vec<Mentioned>> {
        let first = Snowflake(before.map_or(u64::MAX, |b| b.get().saturating_sub(1)));
        let mut lists = Vec::with_capacity(targets.len());
        for target in targets {
            let start = mention_key(*target, first);
            let end = mention_key(*target, Snowflake(0));
            let mut list = Vec::new();
            for guard in self.t.mention.range(&start[..]..=&end[..]) {
                if list.len() == limit {
                    break;
                }
                let (key, value) = guard.into_inner().map_err(backend)?;
                let message_id = Snowflake(!id_at(&key, 9)?);
                let dismissed = keys::pair(reader.get(), message_id.get());
                if self
                    .t
                    .mention_dismissed
                    .get(dismissed)
                    .map_err(backend)?
                    .is_some()
                {
                    continue;
                }
                list.push(Mentioned {
                    message_id,
                    channel_id: Snowflake(id_at(&value, 0)?),
                });
            }
            lists.push(list);
        }
        Ok(concord_store::mentions::merge_newest(lists, limit))
    }

    async fn dismiss_mention(&self, reader: Snowflake, message_id: Snowflake) -> StoreResult<()> {
        self.write(|b| {
            let key = keys::pair(reader.get(), message_id.get());
            b.insert(&self.t.mention_dismissed, key, []);
            Ok(())
        })
        .await
    }
}
