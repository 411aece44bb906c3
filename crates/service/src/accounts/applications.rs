//! Bot applications: each has one bot user whose id is the application id.

use concord_model::event::EventKind;
use concord_model::records::{Application, Member, Role, User};
use concord_model::snowflake::now_ms;
use concord_model::wire::application_flags::*;
use concord_model::{Permissions, Snowflake, codes, wire};

use super::input::{Authorize, CreateApplication, PatchApplication};
use super::users::TokenResponse;
use crate::error::check_length;
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult, to_guild};

impl Service {
    async fn application_record(&self, id: Snowflake) -> ServiceResult<Application> {
        self.store
            .application(id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_APPLICATION))
    }

    /// An application owned by the caller: others get 10002, as if absent.
    async fn owned_application(&self, caller: Caller, id: Snowflake) -> ServiceResult<Application> {
        let app = self.application_record(id).await?;
        if app.owner_id != caller.id {
            return Err(ServiceError::NotFound(codes::UNKNOWN_APPLICATION));
        }
        Ok(app)
    }

    async fn application_wire(&self, app: &Application) -> ServiceResult<wire::Application> {
        let owner = self.user_wire(app.owner_id).await?;
        let bot = self.user_wire(app.id).await?;
        let verify_key = self.application_key(app.id).await?.verify_key();
        Ok(wire::Application::new(app, owner, bot, verify_key))
    }

    pub async fn create_application(
        &self,
        caller: Caller,
        input: CreateApplication,
    ) -> ServiceResult<wire::Application> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        let mut errors = FormErrors::new();
        check_length(&mut errors, "name", input.name.trim(), 2, 32);
        errors.into_result()?;
        let id = self.next_id();
        let bot = User {
            bot: true,
            ..User::new(id, input.name.trim())
        };
        let app = Application {
            id,
            name: bot.username.clone(),
            owner_id: caller.id,
            description: input.description.unwrap_or_default(),
            bot_public: true,
            allow_presences: true,
            allow_members: true,
            allow_message_content: true,
            interactions_endpoint_url: None,
        };
        self.store.create_application(&app, &bot).await?;
        self.application_wire(&app).await
    }

    /// Issues a new bot token; every earlier one stops working.
    pub async fn reset_bot_token(
        &self,
        caller: Caller,
        id: Snowflake,
    ) -> ServiceResult<TokenResponse> {
        self.owned_application(caller, id).await?;
        let bot = self.edit_user(id, |_| Ok(true)).await?;
        Ok(TokenResponse {
            token: self.issue_token(&bot),
        })
    }

    /// The application of the calling bot.
    pub async fn current_application(&self, caller: Caller) -> ServiceResult<wire::Application> {
        if !caller.bot {
            return Err(ServiceError::Unauthorized);
        }
        let app = self.application_record(caller.id).await?;
        self.application_wire(&app).await
    }

    pub async fn application(
        &self,
        caller: Caller,
        id: Snowflake,
    ) -> ServiceResult<wire::Application> {
        let app = self.owned_application(caller, id).await?;
        self.application_wire(&app).await
    }

    /// The owner edits the description, which privileged intents are
    /// allowed and the interactions endpoint.
    pub async fn patch_application(
        &self,
        caller: Caller,
        id: Snowflake,
        input: PatchApplication,
    ) -> ServiceResult<wire::Application> {
        let app = self.owned_application(caller, id).await?;
        self.edit_application(app, input).await
    }

    /// `PATCH /applications/@me`: the bot edits its own application, as
    /// its owner may.
    pub async fn patch_current_application(
        &self,
        caller: Caller,
        input: PatchApplication,
    ) -> ServiceResult<wire::Application> {
        if !caller.bot {
            return Err(ServiceError::Unauthorized);
        }
        let app = self.application_record(caller.id).await?;
        self.edit_application(app, input).await
    }

    async fn edit_application(
        &self,
        mut app: Application,
        input: PatchApplication,
    ) -> ServiceResult<wire::Application> {
        if let Some(description) = input.description {
            app.description = description;
        }
        if let Some(flags) = input.flags {
            app.allow_presences = flags & GATEWAY_PRESENCE_LIMITED != 0;
            app.allow_members = flags & GATEWAY_GUILD_MEMBERS_LIMITED != 0;
            app.allow_message_content = flags & GATEWAY_MESSAGE_CONTENT_LIMITED != 0;
        }
        if let Some(url) = input.interactions_endpoint_url {
            app.interactions_endpoint_url = match url.filter(|u| !u.is_empty()) {
                Some(url) => Some(self.verified_endpoint(app.id, &url).await?),
                None => None,
            };
        }
        self.store.update_application(&app).await?;
        self.application_wire(&app).await
    }

    /// Privileged intents an application may use, if the user is a bot.
    pub async fn application_of(&self, user_id: Snowflake) -> ServiceResult<Option<Application>> {
        Ok(self.store.application(user_id).await?)
    }

    /// Adds a bot to a guild, as the OAuth2 `bot` scope does. With
    /// permissions, the bot gets a role of its own holding them.
    pub async fn authorize_bot(
        &self,
        caller: Caller,
        client_id: Snowflake,
        scope: &str,
        input: Authorize,
    ) -> ServiceResult<serde_json::Value> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        if !scope.split([' ', '+']).any(|s| s == "bot") {
            return Err(ServiceError::InvalidForm(FormErrors::single(
                "scope",
                "SCOPE_INVALID",
                "The bot scope is required.",
            )));
        }
        let app = self.application_record(client_id).await?;
        let view = self.guild_view(caller, input.guild_id).await?;
        view.require(Permissions::MANAGE_GUILD)?;
        if !input.authorize {
            return Ok(serde_json::json!({ "location": "" }));
        }
        let guild_id = input.guild_id;
        self.refuse_banned(guild_id, app.id).await?;
        if self.store.member(guild_id, app.id).await?.is_some() {
            return Ok(serde_json::json!({ "location": "" }));
        }
        let permissions = input.permissions.unwrap_or_default();
        if !view.base().contains(permissions) {
            return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
        }
        let mut member = Member::new(guild_id, app.id, now_ms());
        if permissions != Permissions::NONE {
            let role = Role {
                id: self.next_id(),
                guild_id,
                name: app.name.clone(),
                permissions,
                position: 1,
                color: 0,
                hoist: false,
                mentionable: false,
                bot_id: Some(app.id),
            };
            self.store.put_role(&role).await?;
            self.publish(
                EventKind::GuildRoleCreate,
                to_guild(guild_id),
                serde_json::json!({ "guild_id": guild_id, "role": wire::Role::from(&role) }),
            )
            .await;
            member.roles.push(role.id);
        }
        self.add_member(&member).await?;
        Ok(serde_json::json!({ "location": "" }))
    }
}
