//! Instance administration, behind the admin API that `concord user`,
//! `token`, `guild` and `stats` call. Guild permissions play no part here:
//! the API layer lets only instance admins (or the local control token) in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use concord_model::records::{Guild, User};
use concord_model::{Snowflake, codes, limits};
use serde::Serialize;

use super::input::{AdminCreateUser, AdminPatchUser, AdminResetPassword};
use crate::accounts::users::{NewAccount, check_password};
use crate::{FormErrors, Service, ServiceError, ServiceResult};

/// Page size when counting everything for [`Service::stats`].
const SCAN_PAGE: usize = 1_000;

/// A user as an administrator sees it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AdminUser {
    pub id: Snowflake,
    pub username: String,
    pub global_name: Option<String>,
    pub email: Option<String>,
    pub bot: bool,
    pub admin: bool,
    pub disabled: bool,
}

impl From<&User> for AdminUser {
    fn from(u: &User) -> Self {
        AdminUser {
            id: u.id,
            username: u.username.clone(),
            global_name: u.global_name.clone(),
            email: u.email.clone(),
            bot: u.bot,
            admin: u.admin,
            disabled: u.disabled,
        }
    }
}

/// An account with the password it was given, shown once when generated.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Credentials {
    pub user: AdminUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AdminGuild {
    pub id: Snowflake,
    pub name: String,
    pub owner_id: Snowflake,
    pub member_count: u64,
}

/// Instance-wide counts.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Stats {
    pub users: u64,
    pub bots: u64,
    pub admins: u64,
    pub disabled: u64,
    pub guilds: u64,
    pub channels: u64,
    /// Messages in the search index, when search is on.
    pub indexed_messages: Option<u64>,
}

fn generated_password() -> String {
    B64.encode(rand::random::<[u8; 15]>())
}

impl Service {
    /// An enabled account with the instance admin flag.
    pub async fn is_instance_admin(&self, caller: crate::Caller) -> ServiceResult<bool> {
        let user = self.store.user(caller.id).await?;
        Ok(user.is_some_and(|u| u.admin && !u.disabled))
    }

    pub async fn admin_users(
        &self,
        after: Snowflake,
        limit: usize,
    ) -> ServiceResult<Vec<AdminUser>> {
        let users = self.store.users_after(after, limit).await?;
        Ok(users.iter().map(AdminUser::from).collect())
    }

    /// A user by id or by username/email.
    async fn admin_user_record(&self, key: &str) -> ServiceResult<User> {
        if key.chars().count() > limits::LOGIN.1 {
            return Err(ServiceError::NotFound(codes::UNKNOWN_USER));
        }
        if let Ok(id) = key.parse::<Snowflake>()
            && let Some(user) = self.store.user(id).await?
        {
            return Ok(user);
        }
        self.store
            .user_by_login(key)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_USER))
    }

    pub async fn admin_user(&self, key: &str) -> ServiceResult<AdminUser> {
        Ok(AdminUser::from(&self.admin_user_record(key).await?))
    }

    pub async fn admin_create_user(&self, input: AdminCreateUser) -> ServiceResult<Credentials> {
        let generated = input.password.is_none().then(generated_password);
        let account = NewAccount {
            username: input.username,
            global_name: None,
            email: input.email,
            password: input
                .password
                .or_else(|| generated.clone())
                .unwrap_or_default(),
            admin: input.admin,
        };
        account.check()?;
        let user = self.create_account(account).await?;
        if user.admin {
            self.setup_done().await?;
        }
        Ok(Credentials {
            user: AdminUser::from(&user),
            password: generated,
        })
    }

    /// Sets a new password and revokes every token the user had.
    pub async fn admin_reset_password(
        &self,
        key: &str,
        input: AdminResetPassword,
    ) -> ServiceResult<Credentials> {
        let found = self.admin_user_record(key).await?;
        if found.bot {
            return Err(ServiceError::BadRequest(codes::INVALID_FORM_BODY));
        }
        let generated = input.password.is_none().then(generated_password);
        let password = input
            .password
            .or_else(|| generated.clone())
            .unwrap_or_default();
        let mut errors = FormErrors::new();
        check_password(&mut errors, "password", &password);
        errors.into_result()?;
        let hash = self.access.passwords.hash(password).await?;
        let user = self
            .edit_user(found.id, |user| {
                user.password_hash = Some(hash.clone());
                Ok(true)
            })
            .await?;
        Ok(Credentials {
            user: AdminUser::from(&user),
            password: generated,
        })
    }

    /// Disables or enables an account, grants or takes instance admin.
    /// Disabling revokes every token of the user.
    pub async fn admin_patch_user(
        &self,
        key: &str,
        input: AdminPatchUser,
    ) -> ServiceResult<AdminUser> {
        let id = self.admin_user_record(key).await?.id;
        let user = self
            .edit_user(id, |user| {
                if let Some(admin) = input.admin {
                    user.admin = admin;
                }
                let revoke = input.disabled.is_some_and(|d| d != user.disabled);
                if let Some(disabled) = input.disabled {
                    user.disabled = disabled;
                }
                Ok(revoke)
            })
            .await?;
        if user.admin {
            self.setup_done().await?;
        }
        Ok(AdminUser::from(&user))
    }

    pub async fn admin_guilds(
        &self,
        after: Snowflake,
        limit: usize,
    ) -> ServiceResult<Vec<AdminGuild>> {
        let mut out = Vec::new();
        for guild in self.store.guilds_after(after, limit).await? {
            out.push(AdminGuild {
                member_count: self.store.member_count(guild.id).await?,
                id: guild.id,
                name: guild.name,
                owner_id: guild.owner_id,
            });
        }
        Ok(out)
    }

    pub async fn admin_delete_guild(&self, guild_id: Snowflake) -> ServiceResult<()> {
        let guild: Guild = self
            .store
            .guild(guild_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_GUILD))?;
        self.remove_guild(guild.id).await
    }

    /// Counts by walking every user, guild and channel.
    pub async fn stats(&self) -> ServiceResult<Stats> {
        let mut stats = Stats::default();
        let mut after = Snowflake(0);
        loop {
            let page = self.store.users_after(after, SCAN_PAGE).await?;
            for user in &page {
                stats.users += u64::from(!user.bot);
                stats.bots += u64::from(user.bot);
                stats.admins += u64::from(user.admin);
                stats.disabled += u64::from(user.disabled);
            }
            match page.last() {
                Some(last) if page.len() == SCAN_PAGE => after = last.id,
                _ => break,
            }
        }
        stats.guilds = count_pages(|after| async move {
            Ok(self
                .store
                .guilds_after(after, SCAN_PAGE)
                .await?
                .iter()
                .map(|g| g.id)
                .collect())
        })
        .await?;
        stats.channels = count_pages(|after| async move {
            Ok(self
                .store
                .channels_after(after, SCAN_PAGE)
                .await?
                .iter()
                .map(|c| c.id)
                .collect())
        })
        .await?;
        stats.indexed_messages = self.search_index().map(|index| index.documents());
        Ok(stats)
    }
}

/// Counts ids over pages fetched after the last id seen.
async fn count_pages<F, Fut>(page: F) -> ServiceResult<u64>
where
    F: Fn(Snowflake) -> Fut,
    Fut: Future<Output = ServiceResult<Vec<Snowflake>>>,
{
    let (mut count, mut after) = (0, Snowflake(0));
    loop {
        let ids = page(after).await?;
        count += ids.len() as u64;
        match ids.last() {
            Some(last) if ids.len() == SCAN_PAGE => after = *last,
            _ => return Ok(count),
        }
    }
}
