//! Discord's JSON error codes, as numbers clients switch on.

pub const GENERAL: u32 = 0;
pub const UNKNOWN_APPLICATION: u32 = 10002;
pub const UNKNOWN_CHANNEL: u32 = 10003;
pub const UNKNOWN_GUILD: u32 = 10004;
pub const UNKNOWN_INVITE: u32 = 10006;
pub const UNKNOWN_MEMBER: u32 = 10007;
pub const UNKNOWN_MESSAGE: u32 = 10008;
pub const UNKNOWN_OVERWRITE: u32 = 10009;
pub const UNKNOWN_ROLE: u32 = 10011;
pub const UNKNOWN_USER: u32 = 10013;
pub const UNKNOWN_EMOJI: u32 = 10014;
pub const UNKNOWN_WEBHOOK: u32 = 10015;
pub const UNKNOWN_BAN: u32 = 10026;
pub const UNKNOWN_ATTACHMENT: u32 = 10049;
pub const BOTS_NOT_ALLOWED: u32 = 20001;
pub const SLOWMODE: u32 = 20016;
pub const WRITE_RATE_LIMIT: u32 = 20028;
pub const MAX_GUILDS: u32 = 30001;
pub const MAX_PINS: u32 = 30003;
pub const MAX_ROLES: u32 = 30005;
pub const MAX_WEBHOOKS: u32 = 30007;
pub const MAX_EMOJIS: u32 = 30008;
pub const MAX_REACTIONS: u32 = 30010;
pub const MAX_CHANNELS: u32 = 30013;
pub const MISSING_ACCESS: u32 = 50001;
pub const DM_CHANNEL: u32 = 50003;
pub const CANNOT_DM_USER: u32 = 50007;
pub const CANNOT_EDIT_OTHERS_MESSAGE: u32 = 50005;
pub const EMPTY_MESSAGE: u32 = 50006;
pub const NON_TEXT_CHANNEL: u32 = 50008;
pub const MISSING_PERMISSIONS: u32 = 50013;
pub const CHANNEL_TYPE_INVALID: u32 = 50024;
pub const BULK_DELETE_COUNT: u32 = 50016;
pub const SYSTEM_MESSAGE: u32 = 50021;
pub const BULK_DELETE_TOO_OLD: u32 = 50034;
pub const INVALID_WEBHOOK_TOKEN: u32 = 50027;
pub const INVALID_FORM_BODY: u32 = 50035;
pub const INVALID_JSON: u32 = 50109;
pub const BANNED: u32 = 40007;
/// A voice change (mute, deafen, move) for a member not in a voice channel.
pub const TARGET_NOT_CONNECTED_TO_VOICE: u32 = 40032;
pub const RESOURCE_RATE_LIMITED: u32 = 40062;
/// Forum tags: two of one name in a forum.
pub const TAG_NAMES_NOT_UNIQUE: u32 = 40061;
/// A post in a forum that requires a tag, whose tags the poster may not set.
pub const NO_TAGS_SETTABLE: u32 = 40066;
/// A post without a tag in a forum that requires one.
pub const TAG_REQUIRED: u32 = 40067;
pub const INVALID_GUILD: u32 = 50055;
pub const INVALID_ROLE: u32 = 50028;
pub const THREAD_ARCHIVED: u32 = 50083;
pub const INDEX_NOT_YET_AVAILABLE: u32 = 110000;
pub const THREAD_ALREADY_CREATED: u32 = 160004;
pub const THREAD_LOCKED: u32 = 160005;
/// A webhook of a forum executed without `thread_id` (nor `thread_name`).
pub const WEBHOOK_FORUM_THREAD_REQUIRED: u32 = 220001;
pub const WEBHOOK_FORUM_THREAD_AND_NAME: u32 = 220002;
/// `thread_name` given to a webhook of a channel that is no forum.
pub const WEBHOOK_THREAD_NOT_IN_FORUM: u32 = 220003;
/// A forum's webhook executed through the Slack or GitHub route.
pub const WEBHOOK_SERVICE_IN_FORUM: u32 = 220004;
pub const POLL_EXPIRED: u32 = 520001;
pub const POLL_CHANNEL_TYPE_INVALID: u32 = 520002;
pub const POLL_NOT_EDITABLE: u32 = 520003;
pub const POLL_EMOJI_INVALID: u32 = 520004;
pub const NOT_A_POLL: u32 = 520006;

/// The `message` Discord sends with each code.
pub fn message(code: u32) -> &'static str {
    match code {
        UNKNOWN_APPLICATION => "Unknown Application",
        UNKNOWN_CHANNEL => "Unknown Channel",
        UNKNOWN_GUILD => "Unknown Guild",
        UNKNOWN_INVITE => "Unknown Invite",
        UNKNOWN_MEMBER => "Unknown Member",
        UNKNOWN_MESSAGE => "Unknown Message",
        UNKNOWN_OVERWRITE => "Unknown Overwrite",
        UNKNOWN_ROLE => "Unknown Role",
        UNKNOWN_USER => "Unknown User",
        UNKNOWN_EMOJI => "Unknown Emoji",
        UNKNOWN_WEBHOOK => "Unknown Webhook",
        MAX_WEBHOOKS => "Maximum number of webhooks reached (15)",
        UNKNOWN_BAN => "Unknown Ban",
        UNKNOWN_ATTACHMENT => "Unknown Attachment",
        BOTS_NOT_ALLOWED => "Bots cannot use this endpoint",
        SLOWMODE => "This action cannot be performed due to slowmode rate limit.",
        WRITE_RATE_LIMIT => "The write action you are performing has hit the write rate limit.",
        MAX_GUILDS => "Maximum number of guilds reached",
        MAX_PINS => "Maximum number of pins reached for the channel (250)",
        MAX_REACTIONS => "Maximum number of reactions reached (20)",
        MAX_ROLES => "Maximum number of server roles reached (250)",
        MAX_EMOJIS => "Maximum number of emojis reached",
        MAX_CHANNELS => "Maximum number of guild channels reached (500)",
        MISSING_ACCESS => "Missing Access",
        DM_CHANNEL => "Cannot execute action on a DM channel",
        CANNOT_DM_USER => "Cannot send messages to this user",
        CANNOT_EDIT_OTHERS_MESSAGE => "Cannot edit a message authored by another user",
        EMPTY_MESSAGE => "Cannot send an empty message",
        NON_TEXT_CHANNEL => "Cannot send messages in a non-text channel",
        MISSING_PERMISSIONS => "Missing Permissions",
        CHANNEL_TYPE_INVALID => "Cannot execute action on this channel type",
        BULK_DELETE_COUNT => "You can only bulk delete messages between 2 and 100",
        SYSTEM_MESSAGE => "Cannot execute action on a system message",
        BULK_DELETE_TOO_OLD => "You can only bulk delete messages that are under 14 days old.",
        INVALID_WEBHOOK_TOKEN => "Invalid Webhook Token",
        INVALID_FORM_BODY => "Invalid Form Body",
        INVALID_JSON => "The request body contains invalid JSON.",
        BANNED => "You are banned from this guild.",
        TARGET_NOT_CONNECTED_TO_VOICE => "Target user is not connected to voice.",
        RESOURCE_RATE_LIMITED => "Service resource is being rate limited.",
        TAG_NAMES_NOT_UNIQUE => "Tag names must be unique",
        NO_TAGS_SETTABLE => "There are no tags available that can be set by non-moderators",
        TAG_REQUIRED => "A tag is required to create a forum post in this channel",
        INVALID_GUILD => "Invalid Guild",
        INVALID_ROLE => "Invalid Role",
        THREAD_ARCHIVED => "Thread is archived",
        INDEX_NOT_YET_AVAILABLE => "Index not yet available. Try again later",
        THREAD_ALREADY_CREATED => "A thread has already been created for this message",
        THREAD_LOCKED => "Thread is locked",
        WEBHOOK_FORUM_THREAD_REQUIRED => {
            "Webhooks posted to forum channels must have a thread_name or thread_id"
        }
        WEBHOOK_FORUM_THREAD_AND_NAME => {
            "Webhooks posted to forum channels cannot have both a thread_name and thread_id"
        }
        WEBHOOK_THREAD_NOT_IN_FORUM => "Webhooks can only create threads in forum channels",
        WEBHOOK_SERVICE_IN_FORUM => "Webhook services cannot be used with forum channels",
        POLL_EXPIRED => "Poll expired",
        POLL_CHANNEL_TYPE_INVALID => "Invalid channel type for poll creation",
        POLL_NOT_EDITABLE => "Cannot edit a poll message",
        POLL_EMOJI_INVALID => "Cannot use an emoji included with the poll",
        NOT_A_POLL => "Cannot expire a non-poll message",
        _ => command_message(code)
            .or_else(|| push_message(code))
            .unwrap_or("Unknown error"),
    }
}

/// Application commands.
pub const UNKNOWN_APPLICATION_COMMAND: u32 = 10063;
pub const UNKNOWN_APPLICATION_COMMAND_PERMISSIONS: u32 = 10066;
pub const NOT_AUTHORIZED_FOR_APPLICATION: u32 = 20012;
pub const MAX_APPLICATION_COMMANDS: u32 = 30032;
pub const UNKNOWN_INTERACTION: u32 = 10062;
pub const INTERACTION_ALREADY_ACKNOWLEDGED: u32 = 40060;

/// The `message` of the application command codes.
pub fn command_message(code: u32) -> Option<&'static str> {
    Some(match code {
        UNKNOWN_APPLICATION_COMMAND => "Unknown application command",
        UNKNOWN_APPLICATION_COMMAND_PERMISSIONS => "Unknown application command permissions",
        NOT_AUTHORIZED_FOR_APPLICATION => {
            "You are not authorized to perform this action on this application"
        }
        MAX_APPLICATION_COMMANDS => "Maximum number of application commands reached",
        UNKNOWN_INTERACTION => "Unknown interaction",
        INTERACTION_ALREADY_ACKNOWLEDGED => "Interaction has already been acknowledged.",
        _ => return None,
    })
}

/// Web Push subscriptions: Concord's own routes, so codes of its own, in
/// ranges Discord leaves unused.
pub const UNKNOWN_PUSH_SUBSCRIPTION: u32 = 10900;
pub const MAX_PUSH_SUBSCRIPTIONS: u32 = 30900;

/// The `message` of the push subscription codes.
pub fn push_message(code: u32) -> Option<&'static str> {
    Some(match code {
        UNKNOWN_PUSH_SUBSCRIPTION => "Unknown push subscription",
        MAX_PUSH_SUBSCRIPTIONS => "Maximum number of push subscriptions reached (10)",
        _ => return None,
    })
}
