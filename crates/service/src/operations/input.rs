//! What the admin API reads: creating, editing and resetting accounts.

use serde::Deserialize;

/// `POST /admin/users`: the password is generated when left out.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AdminCreateUser {
    pub username: String,
    pub email: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

/// `PATCH /admin/users/{user}`
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct AdminPatchUser {
    pub disabled: Option<bool>,
    pub admin: Option<bool>,
}

/// `POST /admin/users/{user}/password`: generated when left out.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct AdminResetPassword {
    pub password: Option<String>,
}
