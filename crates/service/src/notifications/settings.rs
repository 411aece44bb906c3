//! Notification settings as Discord keeps them ("user guild settings"):
//! per guild (and once for DMs, Discord's `@me`) a level (all messages,
//! only mentions, nothing), whether @everyone/@here and role mentions are
//! suppressed, a mute with an optional end, and per channel a level and a
//! mute of its own. Changed through the route Discord's client uses,
//! announced to the user's sessions (USER_GUILD_SETTINGS_UPDATE), listed
//! in READY; [`lets_through`] is the one rule that reads them.

use concord_model::event::{Audience, EventKind};
use concord_model::records::{ChannelNotifyOverride, UserGuildSettings, notify_level};
use concord_model::timestamp::{iso8601, parse_iso8601};
use concord_model::{Snowflake, codes};
use serde_json::{Value, json};

use super::input::{MuteConfigInput, PatchGuildSettings, PatchGuildSettingsBulk};
use crate::guilds::guild::GUILDS_PER_USER;
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult};

/// Why a person would hear of a message, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// A DM or group DM they are in.
    Direct,
    /// They are mentioned by name.
    Mention,
    /// A role of theirs is mentioned.
    RoleMention,
    /// The message replies to theirs.
    Reply,
    /// @everyone.
    Everyone,
}

fn mute_active(muted: bool, end_ms: Option<u64>, now_ms: u64) -> bool {
    muted && end_ms.is_none_or(|end| end > now_ms)
}

/// Whether settings let a notification for `reason` through in the
/// channel `channels[0]` (then its parents, whose overrides apply where it
/// has none) of `guild_id` (none: DMs), whose default level is
/// `guild_default`.
pub fn lets_through(
    settings: Option<&UserGuildSettings>,
    guild_default: u8,
    channels: &[Snowflake],
    reason: Reason,
    now_ms: u64,
) -> bool {
    let Some(s) = settings else {
        return guild_default != notify_level::NO_MESSAGES || reason == Reason::Direct;
    };
    let own = own_override(s, channels);
    if own.is_some_and(|o| mute_active(o.muted, o.mute_end_ms, now_ms))
        || mute_active(s.muted, s.mute_end_ms, now_ms)
    {
        return false;
    }
    allowed_by_level(s, own, guild_default, reason)
}

/// Whether an unread message mentioning the user (`reason`: by name, a
/// role, @everyone) counts in their mention badge: as for a push, but a
/// mute hides notifications, not badges.
pub fn counts_mention(
    settings: Option<&UserGuildSettings>,
    guild_default: u8,
    channels: &[Snowflake],
    reason: Reason,
) -> bool {
    match settings {
        None => guild_default != notify_level::NO_MESSAGES,
        Some(s) => allowed_by_level(s, own_override(s, channels), guild_default, reason),
    }
}

/// The override of the first of `channels` that has one.
fn own_override<'a>(
    s: &'a UserGuildSettings,
    channels: &[Snowflake],
) -> Option<&'a ChannelNotifyOverride> {
    channels
        .iter()
        .find_map(|c| s.channel_overrides.iter().find(|o| o.channel_id == *c))
}

/// The level that applies (the channel's own, else the guild's as set,
/// else the guild's default) and the suppressions, for `reason`.
fn allowed_by_level(
    s: &UserGuildSettings,
    own: Option<&ChannelNotifyOverride>,
    guild_default: u8,
    reason: Reason,
) -> bool {
    let level = own
        .map(|o| o.message_notifications)
        .filter(|l| *l != notify_level::INHERIT)
        .or(s.message_notifications)
        .unwrap_or(guild_default);
    match reason {
        _ if level == notify_level::NO_MESSAGES => false,
        Reason::Everyone => !s.suppress_everyone,
        Reason::RoleMention => !s.suppress_roles,
        _ => true,
    }
}

fn mute_config(muted: bool, end_ms: Option<u64>) -> Value {
    match (muted, end_ms) {
        (false, None) => Value::Null,
        (_, end) => json!({ "end_time": end.map(iso8601), "selected_time_window": -1 }),
    }
}

/// The settings as Discord's clients read them; `guild_default` stands in
/// for a level never set.
pub fn settings_wire(s: &UserGuildSettings, guild_default: u8) -> Value {
    let overrides: Vec<Value> = s
        .channel_overrides
        .iter()
        .map(|o| {
            json!({
                "channel_id": o.channel_id,
                "message_notifications": o.message_notifications,
                "muted": o.muted,
                "mute_config": mute_config(o.muted, o.mute_end_ms),
                "collapsed": false,
                "flags": 0,
            })
        })
        .collect();
    json!({
        "guild_id": s.guild_id,
        "message_notifications": s.message_notifications.unwrap_or(guild_default),
        "suppress_everyone": s.suppress_everyone,
        "suppress_roles": s.suppress_roles,
        "muted": s.muted,
        "mute_config": mute_config(s.muted, s.mute_end_ms),
        "mobile_push": true,
        "hide_muted_channels": false,
        "mute_scheduled_events": false,
        "notify_highlights": 0,
        "flags": 0,
        "version": 0,
        "channel_overrides": overrides,
    })
}

/// A mute's end from `mute_config` (`null` or no `end_time`: none).
fn mute_end(errors: &mut FormErrors, path: &str, config: Option<MuteConfigInput>) -> Option<u64> {
    let end = config?.end_time?;
    let parsed = parse_iso8601(&end);
    if parsed.is_none() {
        errors.add(path, "DATE_TIME_INVALID", "Not a valid ISO 8601 timestamp.");
    }
    parsed
}

fn check_level(errors: &mut FormErrors, path: &str, level: Option<u8>, max: u8) {
    if level.is_some_and(|l| l > max) {
        errors.add(
            path,
            "BASE_TYPE_CHOICES",
            format!("Value must be one of 0 to {max}."),
        );
    }
}

impl Service {
    /// The guild's default level, and whether the caller may keep settings
    /// there: a member of the guild; anyone for DMs (`None`).
    async fn settings_scope(
        &self,
        caller: Caller,
        guild_id: Option<Snowflake>,
    ) -> ServiceResult<u8> {
        match guild_id {
            None => Ok(notify_level::ALL_MESSAGES),
            Some(id) => Ok(self
                .guild_view(caller, id)
                .await?
                .guild
                .default_message_notifications),
        }
    }

    /// `PATCH /users/@me/guilds/{guild}/settings` (`@me`: DMs): changes
    /// what is given, keeps the rest; channel overrides merge by channel.
    /// The settings as they now are, also sent to the user's sessions.
    pub async fn patch_guild_settings(
        &self,
        caller: Caller,
        guild_id: Option<Snowflake>,
        input: PatchGuildSettings,
    ) -> ServiceResult<Value> {
        let mut errors = FormErrors::new();
        let merged = self
            .merge_guild_settings(caller, guild_id, input, &mut errors, "")
            .await?;
        errors.into_result()?;
        self.save_guild_settings(caller, merged).await
    }

    /// `PATCH /users/@me/guilds/settings`: the per-guild change for each
    /// guild named (`@me`: DMs), all checked before any is kept. The
    /// settings as they now are, in the order of the guild ids, each also
    /// sent to the user's sessions.
    pub async fn patch_guild_settings_bulk(
        &self,
        caller: Caller,
        input: PatchGuildSettingsBulk,
    ) -> ServiceResult<Vec<Value>> {
        // One per guild a user can be in, and DMs.
        let most = GUILDS_PER_USER + 1;
        if input.guilds.len() > most {
            let message = format!("Must be {most} or fewer in length.");
            return Err(ServiceError::InvalidForm(FormErrors::single(
                "guilds",
                "BASE_TYPE_MAX_LENGTH",
                message,
            )));
        }
        let mut errors = FormErrors::new();
        let mut merged = Vec::with_capacity(input.guilds.len());
        for (key, patch) in input.guilds {
            let at = format!("guilds.{key}.");
            let guild_id = match key.as_str() {
                "@me" => None,
                id => match id.parse() {
                    Ok(id) => Some(Snowflake(id)),
                    Err(_) => {
                        let path = format!("guilds.{key}");
                        errors.add(&path, "NUMBER_TYPE_COERCE", "Not a snowflake.");
                        continue;
                    }
                },
            };
            let settings = self
                .merge_guild_settings(caller, guild_id, patch, &mut errors, &at)
                .await?;
            merged.push(settings);
        }
        errors.into_result()?;
        let mut out = Vec::with_capacity(merged.len());
        for settings in merged {
            out.push(self.save_guild_settings(caller, settings).await?);
        }
        Ok(out)
    }

    /// Keeps settings [`Self::merge_guild_settings`] made and tells the
    /// user's sessions; the settings as clients read them.
    async fn save_guild_settings(
        &self,
        caller: Caller,
        (s, guild_default): (UserGuildSettings, u8),
    ) -> ServiceResult<Value> {
        self.store.put_user_guild_settings(&s).await?;
        let out = settings_wire(&s, guild_default);
        self.publish(
            EventKind::UserGuildSettingsUpdate,
            Audience::Users(vec![caller.id]),
            &out,
        )
        .await;
        Ok(out)
    }

    /// The caller's settings for `guild_id` with `input` applied (what is
    /// given changes, the rest stays; channel overrides merge by channel),
    /// and the guild's default level; what is wrong in `input` goes to
    /// `errors` under `at` (the field paths' prefix).
    async fn merge_guild_settings(
        &self,
        caller: Caller,
        guild_id: Option<Snowflake>,
        input: PatchGuildSettings,
        errors: &mut FormErrors,
        at: &str,
    ) -> ServiceResult<(UserGuildSettings, u8)> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        let guild_default = self.settings_scope(caller, guild_id).await?;
        let stored = self.store.user_guild_settings(caller.id).await?;
        let mut s = stored
            .into_iter()
            .find(|s| s.guild_id == guild_id)
            .unwrap_or_else(|| UserGuildSettings::new(caller.id, guild_id));
        check_level(
            errors,
            &format!("{at}message_notifications"),
            input.message_notifications,
            2,
        );
        if let Some(level) = input.message_notifications {
            s.message_notifications = Some(level);
        }
        if let Some(v) = input.suppress_everyone {
            s.suppress_everyone = v;
        }
        if let Some(v) = input.suppress_roles {
            s.suppress_roles = v;
        }
        if let Some(muted) = input.muted {
            s.muted = muted;
            if !muted {
                s.mute_end_ms = None;
            }
        }
        if let Some(config) = input.mute_config {
            s.mute_end_ms = mute_end(errors, &format!("{at}mute_config.end_time"), config);
        }
        for (channel_id, o) in input.channel_overrides.unwrap_or_default() {
            let path = format!("{at}channel_overrides.{channel_id}");
            let channel = self.store.channel(channel_id).await?;
            let here = channel.is_some_and(|c| {
                c.guild_id == guild_id && (guild_id.is_some() || c.recipients.contains(&caller.id))
            });
            if !here {
                errors.add(&path, "CHANNEL_INVALID", "Unknown channel.");
                continue;
            }
            let level_path = format!("{path}.message_notifications");
            check_level(errors, &level_path, o.message_notifications, 3);
            let at = match s
                .channel_overrides
                .iter()
                .position(|c| c.channel_id == channel_id)
            {
                Some(at) => at,
                None => {
                    s.channel_overrides.push(ChannelNotifyOverride {
                        channel_id,
                        message_notifications: notify_level::INHERIT,
                        muted: false,
                        mute_end_ms: None,
                    });
                    s.channel_overrides.len() - 1
                }
            };
            let entry = &mut s.channel_overrides[at];
            if let Some(level) = o.message_notifications {
                entry.message_notifications = level;
            }
            if let Some(muted) = o.muted {
                entry.muted = muted;
                if !muted {
                    entry.mute_end_ms = None;
                }
            }
            if let Some(config) = o.mute_config {
                entry.mute_end_ms =
                    mute_end(errors, &format!("{path}.mute_config.end_time"), config);
            }
        }
        // An override that says nothing of its own is no override.
        s.channel_overrides.retain(|o| {
            o.muted || o.mute_end_ms.is_some() || o.message_notifications != notify_level::INHERIT
        });
        s.channel_overrides.sort_by_key(|o| o.channel_id);
        Ok((s, guild_default))
    }

    /// Every setting the user keeps, as READY's `user_guild_settings` lists them.
    pub async fn user_guild_settings_entries(&self, caller: Caller) -> ServiceResult<Vec<Value>> {
        let stored = self.store.user_guild_settings(caller.id).await?;
        let mut entries = Vec::with_capacity(stored.len());
        for s in &stored {
            let default = match s.guild_id {
                Some(id) => match self.store.guild(id).await? {
                    Some(guild) => guild.default_message_notifications,
                    None => continue,
                },
                None => notify_level::ALL_MESSAGES,
            };
            entries.push(settings_wire(s, default));
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000;
    const C: Snowflake = Snowflake(7);
    const PARENT: Snowflake = Snowflake(6);

    fn settings() -> UserGuildSettings {
        UserGuildSettings::new(Snowflake(1), Some(Snowflake(2)))
    }

    fn over(level: u8, muted: bool, end: Option<u64>, channel: Snowflake) -> ChannelNotifyOverride {
        ChannelNotifyOverride {
            channel_id: channel,
            message_notifications: level,
            muted,
            mute_end_ms: end,
        }
    }

    #[test]
    fn without_settings_the_guild_default_decides() {
        assert!(lets_through(None, 0, &[C], Reason::Mention, NOW));
        assert!(lets_through(None, 1, &[C], Reason::Everyone, NOW));
        assert!(!lets_through(None, 2, &[C], Reason::Mention, NOW));
    }

    #[test]
    fn mutes_silence_everything_until_they_end() {
        let muted = UserGuildSettings {
            muted: true,
            ..settings()
        };
        assert!(!lets_through(Some(&muted), 0, &[C], Reason::Mention, NOW));
        let ended = UserGuildSettings {
            mute_end_ms: Some(NOW),
            ..muted.clone()
        };
        assert!(lets_through(Some(&ended), 0, &[C], Reason::Mention, NOW));
        let later = UserGuildSettings {
            mute_end_ms: Some(NOW + 1),
            ..muted
        };
        assert!(!lets_through(Some(&later), 0, &[C], Reason::Mention, NOW));
        let channel = UserGuildSettings {
            channel_overrides: vec![over(notify_level::INHERIT, true, None, C)],
            ..settings()
        };
        assert!(!lets_through(Some(&channel), 0, &[C], Reason::Mention, NOW));
        assert!(lets_through(
            Some(&channel),
            0,
            &[Snowflake(8)],
            Reason::Mention,
            NOW
        ));
        // A thread follows its parent's override.
        let parent = UserGuildSettings {
            channel_overrides: vec![over(notify_level::INHERIT, true, None, PARENT)],
            ..settings()
        };
        assert!(!lets_through(
            Some(&parent),
            0,
            &[C, PARENT],
            Reason::Mention,
            NOW
        ));
    }

    #[test]
    fn badges_follow_levels_and_suppressions_but_not_mutes() {
        let muted = UserGuildSettings {
            muted: true,
            suppress_everyone: true,
            ..settings()
        };
        assert!(counts_mention(Some(&muted), 0, &[C], Reason::Mention));
        assert!(!counts_mention(Some(&muted), 0, &[C], Reason::Everyone));
        let nothing = UserGuildSettings {
            message_notifications: Some(2),
            ..settings()
        };
        assert!(!counts_mention(Some(&nothing), 0, &[C], Reason::Mention));
        assert!(!counts_mention(None, 2, &[C], Reason::Mention));
        assert!(counts_mention(None, 1, &[C], Reason::Everyone));
    }

    #[test]
    fn levels_and_suppressions() {
        let nothing = UserGuildSettings {
            message_notifications: Some(2),
            ..settings()
        };
        assert!(!lets_through(Some(&nothing), 0, &[C], Reason::Mention, NOW));
        let but_here = UserGuildSettings {
            channel_overrides: vec![over(1, false, None, C)],
            ..nothing
        };
        assert!(lets_through(Some(&but_here), 0, &[C], Reason::Mention, NOW));
        let suppress = UserGuildSettings {
            suppress_everyone: true,
            suppress_roles: true,
            ..settings()
        };
        assert!(!lets_through(
            Some(&suppress),
            0,
            &[C],
            Reason::Everyone,
            NOW
        ));
        assert!(!lets_through(
            Some(&suppress),
            0,
            &[C],
            Reason::RoleMention,
            NOW
        ));
        assert!(lets_through(Some(&suppress), 0, &[C], Reason::Mention, NOW));
    }
}
