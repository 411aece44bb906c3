//! Guilds: a guild and everything it holds. The guild itself (`guild`),
//! its channels and their permission overwrites (`channels`), roles
//! (`roles`), members (`members`), kicks and bans (`moderation`), invites
//! (`invites`), custom emoji (`emojis`), reordering roles and channels
//! (`positions`), the audit log every moderation write leaves (`audit`),
//! and the request bodies of those routes (`input`).
//!
//! Depends on access (views, permissions, the role hierarchy), on accounts
//! (a banned user must exist), on private (the channel routes also read
//! and edit DMs), on threads (a member's threads when their roles or
//! membership change, a deleted channel's threads), on messages (a
//! channel's newest message id, a ban's message deletion, the
//! recent-messages cache), on attachments (sweeping the blobs of what a
//! deletion removed) and on sessions (GUILD_CREATE for a new guild or
//! member, presence for a new member).

pub mod audit;
pub mod channels;
pub mod emojis;
pub mod guild;
pub mod input;
pub mod invites;
pub mod members;
pub mod moderation;
pub mod positions;
pub mod roles;

pub use input::{
    ChannelInput, CreateBan, CreateEmoji, CreateGuild, CreateInvite, OverwriteInput, PatchEmoji,
    PatchGuild, PatchMember, PatchNick, Position, PutOverwrite, RoleInput,
};
