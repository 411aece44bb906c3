//! Users: registration, login, the current user.

use concord_model::event::{Audience, EventKind};
use concord_model::records::User;
use concord_model::snowflake::now_ms;
use concord_model::{Snowflake, codes, limits, wire};
use serde::Serialize;

use super::input::{Login, PatchMe, Register};
use crate::access::passwords::LoginAttempt;
use crate::attachments::images::image_edit;
use crate::error::{check_length, taken};
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult};

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TokenResponse {
    pub token: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LoginResponse {
    pub user_id: Snowflake,
    pub token: String,
    pub user_settings: serde_json::Value,
}

/// An account about to be created, by registration or by an administrator.
pub(crate) struct NewAccount {
    pub username: String,
    pub global_name: Option<String>,
    pub email: Option<String>,
    pub password: String,
    pub admin: bool,
}

impl NewAccount {
    /// The same rules whoever creates the account.
    pub(crate) fn check(&self) -> ServiceResult<()> {
        let mut errors = FormErrors::new();
        let username = &self.username;
        let (min, max) = limits::USERNAME;
        check_length(&mut errors, "username", username, min, max);
        if username
            .chars()
            .any(|c| c.is_whitespace() || c == '@' || c == '#' || c == ':')
        {
            errors.add(
                "username",
                "USERNAME_INVALID_CHARACTERS",
                "Username contains invalid characters.",
            );
        }
        check_password(&mut errors, "password", &self.password);
        check_global_name(&mut errors, self.global_name.as_deref());
        if let Some(email) = &self.email
            && (!email.contains('@') || email.chars().count() > limits::EMAIL_MAX)
        {
            errors.add(
                "email",
                "EMAIL_TYPE_INVALID_EMAIL",
                "Not a well formed email address.",
            );
        }
        errors.into_result()
    }
}

/// A login name is a username or an email: 50035 beyond an email's length,
/// before the store is asked.
fn check_login(login: &str) -> ServiceResult<()> {
    let mut errors = FormErrors::new();
    let (min, max) = limits::LOGIN;
    check_length(&mut errors, "login", login, min, max);
    errors.into_result()
}

/// A display name, unless blank (which clears it).
fn check_global_name(errors: &mut FormErrors, name: Option<&str>) {
    if let Some(name) = name.filter(|n| !n.trim().is_empty()) {
        let (min, max) = limits::GLOBAL_NAME;
        check_length(errors, "global_name", name, min, max);
    }
}

pub(crate) fn check_password(errors: &mut FormErrors, field: &str, password: &str) {
    let (min, max) = limits::PASSWORD;
    check_length(errors, field, password, min, max);
}

impl Service {
    /// Creates an account if the registration mode (or a token or invite)
    /// allows it.
    pub async fn register(&self, input: Register) -> ServiceResult<TokenResponse> {
        let account = NewAccount {
            username: input.username.clone().unwrap_or_default(),
            global_name: input.global_name.clone(),
            email: input.email.clone(),
            password: input.password.clone(),
            admin: false,
        };
        account.check()?;
        let admission = self.admit(&input).await?;
        let created = self
            .create_account(NewAccount {
                admin: admission.admin(),
                ..account
            })
            .await;
        let user = match created {
            Ok(user) => user,
            Err(e) => {
                self.readmit(&admission).await?;
                return Err(e);
            }
        };
        self.welcome(&user, &admission).await?;
        Ok(TokenResponse {
            token: self.issue_token(&user),
        })
    }

    /// Stores a checked account with its password hashed.
    pub(crate) async fn create_account(&self, account: NewAccount) -> ServiceResult<User> {
        let hash = self.access.passwords.hash(account.password).await?;
        let user = User {
            global_name: account.global_name.filter(|n| !n.trim().is_empty()),
            email: account.email,
            password_hash: Some(hash),
            admin: account.admin,
            ..User::new(self.next_id(), account.username)
        };
        self.store.create_user(&user).await.map_err(taken)?;
        metrics::counter!("concord_users_registered_total").increment(1);
        Ok(user)
    }

    /// Logs in with a username or email. Throttled per account and per
    /// `address` after failures (when rate limits are on), and as costly
    /// for an account that does not exist as for one that does.
    pub async fn login(&self, input: Login, address: &str) -> ServiceResult<LoginResponse> {
        let invalid = || {
            let mut e = FormErrors::new();
            e.add("login", "INVALID_LOGIN", "Login or password is invalid.");
            e.add("password", "INVALID_LOGIN", "Login or password is invalid.");
            ServiceError::InvalidForm(e)
        };
        check_login(&input.login)?;
        let attempt = LoginAttempt {
            login: &input.login,
            address,
        };
        let throttled = self.config.rate_limits.enabled;
        if throttled {
            self.check_login_throttle(&attempt, now_ms()).await?;
        }
        let user = self.store.user_by_login(&input.login).await?;
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let matches = self.access.passwords.verify(input.password, hash).await?;
        let user = match user {
            Some(user) if matches => user,
            _ => {
                if throttled {
                    self.login_failed(&attempt, now_ms()).await;
                }
                return Err(invalid());
            }
        };
        self.login_succeeded(&attempt).await;
        if user.disabled {
            return Err(ServiceError::InvalidForm(FormErrors::single(
                "login",
                "ACCOUNT_DISABLED",
                "This account has been disabled by an administrator.",
            )));
        }
        Ok(LoginResponse {
            user_id: user.id,
            token: self.issue_token(&user),
            user_settings: serde_json::json!({ "locale": "en-US", "theme": "dark" }),
        })
    }

    pub(crate) async fn user_record(&self, id: Snowflake) -> ServiceResult<User> {
        self.store
            .user(id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_USER))
    }

    pub async fn me(&self, caller: Caller) -> ServiceResult<wire::CurrentUser> {
        Ok(wire::CurrentUser::from(&self.user_record(caller.id).await?))
    }

    pub async fn user(&self, id: Snowflake) -> ServiceResult<wire::User> {
        Ok(wire::User::from(&self.user_record(id).await?))
    }

    /// Edits the current user. A password change revokes every other token
    /// and returns a fresh one in `token`.
    pub async fn patch_me(
        &self,
        caller: Caller,
        input: PatchMe,
    ) -> ServiceResult<serde_json::Value> {
        let mut user = self.user_record(caller.id).await?;
        let mut errors = FormErrors::new();
        if let Some(name) = input.username {
            let (min, max) = limits::USERNAME;
            check_length(&mut errors, "username", &name, min, max);
            user.username = name;
        }
        if let Some(global_name) = input.global_name {
            check_global_name(&mut errors, global_name.as_deref());
            user.global_name = global_name.filter(|n| !n.trim().is_empty());
        }
        let avatar = image_edit("avatar", input.avatar, &mut errors);
        let password_change = input.new_password.is_some();
        if let Some(new_password) = input.new_password {
            let (min, max) = limits::PASSWORD;
            check_length(&mut errors, "new_password", &new_password, min, max);
            let current = input.password.unwrap_or_default();
            let hash = user.password_hash.clone();
            if !self.access.passwords.verify(current, hash).await? {
                errors.add(
                    "password",
                    "PASSWORD_DOES_NOT_MATCH",
                    "Password does not match.",
                );
            }
            if !errors.is_empty() {
                return Err(ServiceError::InvalidForm(errors));
            }
            user.password_hash = Some(self.access.passwords.hash(new_password).await?);
        }
        errors.into_result()?;
        let old_avatar = user.avatar_blob.clone();
        let avatar = self.stage_image(avatar).await?;
        if let Some(staged) = &avatar {
            staged.apply(&mut user.avatar, &mut user.avatar_blob);
        }
        if password_change {
            self.save_revoking(&mut user).await?;
        } else {
            let seen = user.token_generation;
            self.save_user(&user, seen).await?;
        }
        self.settle_image(avatar, old_avatar.as_deref()).await?;
        let current = wire::CurrentUser::from(&user);
        self.publish(
            EventKind::UserUpdate,
            Audience::Users(vec![user.id]),
            &current,
        )
        .await;
        let mut body =
            serde_json::to_value(&current).map_err(|e| ServiceError::Internal(e.to_string()))?;
        if password_change {
            body["token"] = self.issue_token(&user).into();
        }
        Ok(body)
    }
}
