//! Every type a route line of the table may name (`routes!` brings them
//! into scope), and the shapes of the few answers built as JSON values
//! rather than from a type: those exist only to be described, and the
//! http suite checks that what is sent matches them.
#![allow(dead_code)]

use schemars::JsonSchema;
use serde::Serialize;

pub(crate) use super::{JsonLines, NoBody, PlainText};
pub(crate) use concord_model::records::CommandPermissions;
pub(crate) use concord_model::wire::{
    Application, ApplicationCommand, Channel, CurrentUser, Emoji, Guild, GuildCreate, Invite,
    Member, Message, PartialGuild, Role, ThreadMember, User, Webhook,
};
pub(crate) use concord_service::accounts::users::{LoginResponse, TokenResponse};
pub(crate) use concord_service::accounts::{
    Authorize, CreateApplication, Login, PatchApplication, PatchMe, Register,
};
pub(crate) use concord_service::commands::{CommandInput, EditCommandPermissions};
pub(crate) use concord_service::guilds::audit::AuditLog;
pub(crate) use concord_service::guilds::{
    ChannelInput, CreateBan, CreateEmoji, CreateGuild, CreateInvite, PatchEmoji, PatchGuild,
    PatchMember, PatchNick, Position, PutOverwrite, RoleInput,
};
pub(crate) use concord_service::interactions::{CreateInteraction, InteractionCallback};
pub(crate) use concord_service::messages::pins::PinPage;
pub(crate) use concord_service::messages::read_states::AckToken;
pub(crate) use concord_service::messages::{BulkDelete, CreateMessage, EditMessage, PollVoteInput};
pub(crate) use concord_service::notifications::subscriptions::VapidKey;
pub(crate) use concord_service::notifications::{
    PatchGuildSettings, PatchGuildSettingsBulk, PushSubscriptionInput, PushUnsubscribe,
};
pub(crate) use concord_service::operations::admin::{AdminGuild, AdminUser, Credentials, Stats};
pub(crate) use concord_service::operations::backup::{BackupProgress, BackupSummary};
pub(crate) use concord_service::operations::{AdminCreateUser, AdminPatchUser, AdminResetPassword};
pub(crate) use concord_service::private::OpenPrivateChannel;
pub(crate) use concord_service::search::SearchResults;
pub(crate) use concord_service::threads::{StartThread, ThreadList};
pub(crate) use concord_service::voice::VoiceRegion;
pub(crate) use concord_service::webhooks::{CreateWebhook, ExecuteWebhook, ModifyWebhook};

/// Any JSON value: a shape not described further.
pub(crate) type Anything = serde_json::Value;

/// `GET /gateway`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct GatewayUrl {
    url: String,
}

/// `GET /gateway/bot`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct GatewayBot {
    url: String,
    shards: u32,
    session_start_limit: SessionStartLimit,
}

#[derive(Serialize, JsonSchema)]
struct SessionStartLimit {
    total: u32,
    remaining: u32,
    reset_after: u64,
    max_concurrency: u32,
}

/// A ban: the user and the reason given, if any.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Ban {
    reason: Option<String>,
    user: User,
}

/// Who voted for a poll's answer.
#[derive(Serialize, JsonSchema)]
pub(crate) struct PollVoters {
    users: Vec<User>,
}

/// A registration token an administrator made.
#[derive(Serialize, JsonSchema)]
pub(crate) struct RegistrationToken {
    token: String,
}

/// Where the browser goes after adding a bot to a guild.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Authorized {
    location: String,
}

/// The current user after an edit, with a fresh `token` after a password
/// change (which revoked the others).
#[derive(Serialize, JsonSchema)]
pub(crate) struct PatchedMe {
    #[serde(flatten)]
    user: CurrentUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// A thread just started: the channel, and in a forum its first message.
#[derive(Serialize, JsonSchema)]
pub(crate) struct StartedThread {
    #[serde(flatten)]
    channel: Channel,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
}

/// A search asked before the index is ready: Discord's error object, with
/// how many messages are indexed so far and when to ask again.
#[derive(Serialize, JsonSchema)]
pub(crate) struct IndexNotReady {
    code: u32,
    message: String,
    documents_indexed: u64,
    retry_after: u32,
}

/// The commands the caller may use in a channel, and the bots they are of.
#[derive(Serialize, JsonSchema)]
pub(crate) struct CommandIndex {
    applications: Vec<IndexedApplication>,
    application_commands: Vec<ApplicationCommand>,
    version: String,
}

#[derive(Serialize, JsonSchema)]
struct IndexedApplication {
    id: concord_model::Snowflake,
    name: String,
    icon: Option<String>,
    description: String,
    bot_id: concord_model::Snowflake,
}

/// A user's notification settings for one guild, as Discord's clients
/// read them.
#[derive(Serialize, JsonSchema)]
pub(crate) struct GuildSettings {
    /// `null` for the settings of private channels (`@me`).
    guild_id: Option<concord_model::Snowflake>,
    message_notifications: u8,
    suppress_everyone: bool,
    suppress_roles: bool,
    muted: bool,
    mute_config: Option<MuteConfig>,
    mobile_push: bool,
    hide_muted_channels: bool,
    mute_scheduled_events: bool,
    notify_highlights: u8,
    flags: u64,
    version: u64,
    channel_overrides: Vec<ChannelOverride>,
}

#[derive(Serialize, JsonSchema)]
struct ChannelOverride {
    channel_id: concord_model::Snowflake,
    message_notifications: u8,
    muted: bool,
    mute_config: Option<MuteConfig>,
    collapsed: bool,
    flags: u64,
}

/// Until when a mute lasts (`null` for ever).
#[derive(Serialize, JsonSchema)]
struct MuteConfig {
    end_time: Option<String>,
    selected_time_window: i32,
}

/// One line of a backup's progress: a phase, then the summary or the error.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum BackupLine {
    Progress(BackupProgress),
    Done { done: BackupSummary },
    Failed { error: String },
}
