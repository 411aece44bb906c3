//! Request bodies, as clients send them. Unknown fields are ignored, as
//! Discord does; types are strict, so a wrong type is a 50035 naming the field.

use concord_model::Snowflake;
use serde::{Deserialize, Deserializer};

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /channels/{c}/threads` and `.../messages/{m}/threads`.
#[derive(Debug, Default, Deserialize)]
pub struct StartThread {
    pub name: Option<String>,
    pub auto_archive_duration: Option<u32>,
    pub rate_limit_per_user: Option<u32>,
    /// 10, 11 or 12; a thread not started from a message defaults to private.
    #[serde(rename = "type")]
    pub kind: Option<u8>,
    pub invitable: Option<bool>,
    /// A forum post's first message.
    pub message: Option<crate::messages::CreateMessage>,
}

/// `POST /users/@me/channels`: a DM with `recipient_id`, or a group DM
/// with `recipients`.
#[derive(Debug, Deserialize)]
pub struct OpenPrivateChannel {
    pub recipient_id: Option<Snowflake>,
    pub recipients: Option<Vec<Snowflake>>,
}

/// `POST /admin/users`: the password is generated when left out.
#[derive(Debug, Deserialize)]
pub struct AdminCreateUser {
    pub username: String,
    pub email: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

/// `PATCH /admin/users/{user}`
#[derive(Debug, Default, Deserialize)]
pub struct AdminPatchUser {
    pub disabled: Option<bool>,
    pub admin: Option<bool>,
}

/// `POST /admin/users/{user}/password`: generated when left out.
#[derive(Debug, Default, Deserialize)]
pub struct AdminResetPassword {
    pub password: Option<String>,
}
