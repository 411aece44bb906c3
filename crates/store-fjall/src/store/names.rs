//! The member-name index, for finding a guild's members by the start of a
//! name (op 8 with a query) without reading the guild: `name_user` holds
//! `name | 0 | user id -> ()` for each user's username and global name,
//! and `guild_nick` holds `guild id | nick | 0 | user id -> ()`. Names are
//! lowercased by [`concord_store::name_key`], so a prefix is one range of
//! keys. A user's names serve every guild of theirs: a name that matches
//! is kept when the user is a member of the guild asked about.

use std::collections::BTreeSet;

use concord_model::Snowflake;
use concord_model::records::{Member, User};
use concord_store::{StoreError, StoreResult, keys, nick_key, user_name_keys};
use fjall::Keyspace;

use super::FjallStore;
use crate::batch::WriteBatch;
use crate::codec::{backend, decode};

fn name_entry(name: &str, user: Snowflake) -> StoreResult<Vec<u8>> {
    let name = keys::text(name)?;
    let mut key = Vec::with_capacity(name.len() + 9);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(&user.get().to_be_bytes());
    Ok(key)
}

fn nick_entry(guild: Snowflake, nick: &str, user: Snowflake) -> StoreResult<Vec<u8>> {
    let mut key = guild.get().to_be_bytes().to_vec();
    key.extend(name_entry(nick, user)?);
    Ok(key)
}

/// The user id every entry ends with.
fn entry_user(key: &[u8]) -> StoreResult<Snowflake> {
    let tail = key.len().checked_sub(8).and_then(|at| key.get(at..));
    let raw: [u8; 8] = tail
        .and_then(|t| t.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt("short name entry".into()))?;
    Ok(Snowflake(u64::from_be_bytes(raw)))
}

impl FjallStore {
    /// Moves a user's name entries from `old` (the stored record) to `new`.
    /// A name both have is left alone: one batch never both removes and
    /// inserts a key.
    pub(super) fn stage_user_names(
        &self,
        batch: &mut WriteBatch,
        old: Option<&User>,
        new: &User,
    ) -> StoreResult<()> {
        let names = user_name_keys(new);
        for name in old.map(user_name_keys).unwrap_or_default() {
            if !names.contains(&name) {
                batch.remove(&self.t.name_user, name_entry(&name, new.id)?);
            }
        }
        for name in names {
            batch.insert(&self.t.name_user, name_entry(&name, new.id)?, []);
        }
        Ok(())
    }

    /// Moves a member's nick entry from `old` (the stored record, if any)
    /// to `new` (`None`: the member goes).
    pub(super) fn stage_member_nick(
        &self,
        batch: &mut WriteBatch,
        old: Option<&Member>,
        new: Option<&Member>,
    ) -> StoreResult<()> {
        let kept = new.and_then(nick_key);
        if let Some(old) = old
            && let Some(nick) = nick_key(old)
            && kept.as_ref() != Some(&nick)
        {
            let entry = nick_entry(old.guild_id, &nick, old.user_id)?;
            batch.remove(&self.t.guild_nick, entry);
        }
        if let Some(new) = new
            && let Some(nick) = nick_key(new)
        {
            let entry = nick_entry(new.guild_id, &nick, new.user_id)?;
            batch.insert(&self.t.guild_nick, entry, []);
        }
        Ok(())
    }

    /// Removes the nick entries of a guild that goes.
    pub(super) fn stage_guild_nicks_removal(
        &self,
        batch: &mut WriteBatch,
        guild: Snowflake,
    ) -> StoreResult<()> {
        for key in Self::scan_keys(&self.t.guild_nick, keys::id(guild))? {
            batch.remove(&self.t.guild_nick, key);
        }
        Ok(())
    }

    /// The ids of the guild's members named from `prefix` on, ascending.
    pub(super) fn member_ids_named(
        &self,
        guild: Snowflake,
        prefix: &str,
    ) -> StoreResult<BTreeSet<Snowflake>> {
        let prefix = keys::text(prefix)?;
        let mut ids = BTreeSet::new();
        for key in Self::scan_keys(&self.t.name_user, prefix)? {
            let user = entry_user(&key)?;
            let member = keys::pair(guild.get(), user.get());
            if self.t.guild_member.contains_key(member).map_err(backend)? {
                ids.insert(user);
            }
        }
        let mut nicks = keys::id(guild).to_vec();
        nicks.extend_from_slice(prefix.as_bytes());
        for key in Self::scan_keys(&self.t.guild_nick, nicks)? {
            ids.insert(entry_user(&key)?);
        }
        Ok(ids)
    }

    /// Builds the index over the records of a store written before it
    /// existed: once, in one batch, so it is there whole or not at all.
    pub(super) fn index_names_if_new(&self) -> StoreResult<()> {
        let empty = |ks: &Keyspace| ks.is_empty().map_err(backend);
        if !empty(&self.t.name_user)? || empty(&self.t.user)? {
            return Ok(());
        }
        self.commit(|batch| {
            for entry in self.t.user.iter() {
                let user: User = decode(&entry.value().map_err(backend)?)?;
                self.stage_user_names(batch, None, &user)?;
            }
            for entry in self.t.guild_member.iter() {
                let member: Member = decode(&entry.value().map_err(backend)?)?;
                self.stage_member_nick(batch, None, Some(&member))?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use concord_model::records::Guild;
    use concord_store::{GuildStore, MemberStore, NewGuild, UserStore};

    use super::*;
    use crate::FjallOptions;

    /// A store written before the index existed gets it whole when opened.
    #[tokio::test]
    async fn a_store_without_the_index_is_indexed_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let options = FjallOptions {
            bucket_ms: 1000,
            sync: false,
        };
        let guild = Snowflake(1);
        {
            let store = FjallStore::open(dir.path(), options.clone()).unwrap();
            for (id, name) in [(10, "Owner"), (11, "Alma")] {
                store
                    .create_user(&User::new(Snowflake(id), name))
                    .await
                    .unwrap();
            }
            let owner = Member::new(guild, Snowflake(10), 0);
            let new = NewGuild {
                guild: Guild::new(guild, "g", Snowflake(10)),
                roles: Vec::new(),
                channels: Vec::new(),
                owner: Member {
                    nick: Some("Alpha".into()),
                    ..owner
                },
            };
            store.create_guild(&new).await.unwrap();
            store
                .put_member(&Member::new(guild, Snowflake(11), 0))
                .await
                .unwrap();
            // As an older version left it: no entries.
            store
                .write(|b| {
                    for ks in [&store.t.name_user, &store.t.guild_nick] {
                        for key in FjallStore::scan_keys(ks, [])? {
                            b.remove(ks, key);
                        }
                    }
                    Ok(())
                })
                .await
                .unwrap();
            assert!(store.member_ids_named(guild, "al").unwrap().is_empty());
        }
        let store = FjallStore::open(dir.path(), options).unwrap();
        let named = store.members_by_name(guild, "al", 10).await.unwrap();
        let ids: Vec<u64> = named.iter().map(|m| m.user_id.get()).collect();
        assert_eq!(ids, [10, 11], "by the owner's nick and by a username");
    }
}
