//! Accounts: the people and bots who use the instance. Registration and
//! who may register (`registration`: modes, one-time tokens, the setup
//! token), login and the current user (`users`), bot applications and
//! adding a bot to a guild (`applications`), and the request bodies of
//! those routes (`input`).
//!
//! Depends on access (tokens, password hashing, login throttling), on
//! guilds (joining a guild through an invite at registration, a bot's
//! authorization), and on the store's users, applications and instance
//! metadata.

pub mod applications;
pub mod input;
pub mod registration;
pub mod users;

pub use input::{Authorize, CreateApplication, Login, PatchApplication, PatchMe, Register};
