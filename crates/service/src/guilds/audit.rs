//! The audit log: who did what to whom in a guild, and why. The reason
//! comes from the request's `X-Audit-Log-Reason` header, which the API
//! scopes around the request ([`with_reason`]) so that no service method
//! has to carry it.

use concord_model::event::{Audience, EventKind};
use concord_model::records::AuditEntry;
use concord_model::{Permissions, Snowflake, wire};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{Caller, Service, ServiceResult};

/// Discord's audit log event numbers, for the actions Concord records.
pub mod action {
    pub const GUILD_UPDATE: u16 = 1;
    pub const CHANNEL_CREATE: u16 = 10;
    pub const CHANNEL_UPDATE: u16 = 11;
    pub const CHANNEL_DELETE: u16 = 12;
    pub const CHANNEL_OVERWRITE_UPDATE: u16 = 14;
    pub const CHANNEL_OVERWRITE_DELETE: u16 = 15;
    pub const MEMBER_KICK: u16 = 20;
    pub const MEMBER_BAN_ADD: u16 = 22;
    pub const MEMBER_BAN_REMOVE: u16 = 23;
    pub const MEMBER_UPDATE: u16 = 24;
    pub const MEMBER_ROLE_UPDATE: u16 = 25;
    pub const MEMBER_MOVE: u16 = 26;
    pub const MEMBER_DISCONNECT: u16 = 27;
    pub const ROLE_CREATE: u16 = 30;
    pub const ROLE_UPDATE: u16 = 31;
    pub const ROLE_DELETE: u16 = 32;
    pub const WEBHOOK_CREATE: u16 = 50;
    pub const WEBHOOK_UPDATE: u16 = 51;
    pub const WEBHOOK_DELETE: u16 = 52;
    pub const EMOJI_CREATE: u16 = 60;
    pub const EMOJI_UPDATE: u16 = 61;
    pub const EMOJI_DELETE: u16 = 62;
    pub const MESSAGE_DELETE: u16 = 72;
    pub const MESSAGE_BULK_DELETE: u16 = 73;
    pub const MESSAGE_PIN: u16 = 74;
    pub const MESSAGE_UNPIN: u16 = 75;
    pub const THREAD_CREATE: u16 = 110;
    pub const THREAD_UPDATE: u16 = 111;
    pub const THREAD_DELETE: u16 = 112;
}

/// Longest reason kept, in characters.
pub const MAX_REASON: usize = 512;

tokio::task_local! {
    static REASON: Option<String>;
}

/// Runs `work` (one request) with the reason its client gave.
pub async fn with_reason<F: Future>(reason: Option<String>, work: F) -> F::Output {
    let reason = reason
        .map(|r| r.chars().take(MAX_REASON).collect::<String>())
        .filter(|r| !r.trim().is_empty());
    REASON.scope(reason, work).await
}

pub(crate) fn current_reason() -> Option<String> {
    REASON.try_with(Clone::clone).ok().flatten()
}

/// One change, as `changes` lists them.
pub(crate) fn change(key: &str, old: impl Serialize, new: impl Serialize) -> Value {
    json!({ "key": key, "old_value": old, "new_value": new })
}

/// What an action was done to, and how, beyond who did it.
#[derive(Default)]
pub(crate) struct Details {
    pub(crate) target: Option<Snowflake>,
    pub(crate) changes: Vec<Value>,
    pub(crate) options: Option<Value>,
}

impl Details {
    pub(crate) fn on(target: Snowflake) -> Details {
        Details {
            target: Some(target),
            ..Details::default()
        }
    }
}

/// `GET /guilds/{id}/audit-logs` filters.
#[derive(Debug, Default)]
pub struct AuditQuery {
    pub user_id: Option<Snowflake>,
    pub action_type: Option<u16>,
    pub before: Option<Snowflake>,
    pub limit: usize,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AuditLog {
    pub audit_log_entries: Vec<wire::AuditEntry>,
    pub users: Vec<wire::User>,
    pub integrations: Vec<Value>,
    pub webhooks: Vec<Value>,
    pub guild_scheduled_events: Vec<Value>,
    pub threads: Vec<Value>,
    pub application_commands: Vec<Value>,
    pub auto_moderation_rules: Vec<Value>,
}

/// Entries read per step while filtering.
const SCAN_PAGE: usize = 100;

impl Service {
    /// Records an action and tells those who may read the log.
    pub(crate) async fn audit(
        &self,
        guild_id: Snowflake,
        caller: Caller,
        action_type: u16,
        details: Details,
    ) -> ServiceResult<()> {
        let entry = AuditEntry {
            id: self.next_id(),
            guild_id,
            user_id: caller.id,
            target_id: details.target,
            action_type,
            changes: details.changes,
            options: details.options,
            reason: current_reason(),
        };
        self.store.append_audit(&entry).await?;
        let data = wire::AuditEntry::from(&entry);
        let audience = Audience::Guild {
            guild_id,
            channel_id: None,
            required: Permissions::VIEW_AUDIT_LOG,
        };
        self.publish(EventKind::GuildAuditLogEntryCreate, audience, data)
            .await;
        Ok(())
    }

    /// The log, newest first, for VIEW_AUDIT_LOG holders.
    pub async fn audit_log(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        query: AuditQuery,
    ) -> ServiceResult<AuditLog> {
        let guild = self.guild_view(caller, guild_id).await?;
        guild.require(Permissions::VIEW_AUDIT_LOG)?;
        let wanted = |e: &AuditEntry| {
            query.user_id.is_none_or(|u| e.user_id == u)
                && query.action_type.is_none_or(|a| e.action_type == a)
        };
        let mut entries = Vec::new();
        let mut before = query.before;
        while entries.len() < query.limit {
            let page = self
                .store
                .audit_entries(guild_id, before, SCAN_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            let room = query.limit - entries.len();
            entries.extend(page.into_iter().filter(|e| wanted(e)).take(room));
        }
        let mut user_ids: Vec<Snowflake> = entries
            .iter()
            .flat_map(|e| [Some(e.user_id), e.target_id])
            .flatten()
            .collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        let users = self.store.users(&user_ids).await?;
        let users = users.iter().map(wire::User::from).collect();
        Ok(AuditLog {
            audit_log_entries: entries.iter().map(wire::AuditEntry::from).collect(),
            users,
            integrations: Vec::new(),
            webhooks: Vec::new(),
            guild_scheduled_events: Vec::new(),
            threads: Vec::new(),
            application_commands: Vec::new(),
            auto_moderation_rules: Vec::new(),
        })
    }
}
