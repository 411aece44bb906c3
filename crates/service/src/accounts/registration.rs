//! Who may create an account: the configured mode, one-time registration
//! tokens, and the setup token that lets the first account become the
//! instance administrator. Nothing is created silently on first start: the
//! setup token is printed until someone uses it (or an admin exists).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use concord_config::Registration;
use concord_model::limits;
use concord_model::records::User;
use serde::{Deserialize, Serialize};

use super::input::Register;
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult};

/// The setup token, kept in clear so every start can print it again.
const SETUP_TOKEN: &str = "setup_token";
/// Set once an instance admin exists; the setup token is then gone.
const SETUP_DONE: &str = "setup_done";

fn token_key(token: &str) -> String {
    format!("registration_token:{token}")
}

/// What a registration token grants.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
struct Grant {
    #[serde(default)]
    admin: bool,
}

/// What let a registration in, so it can be completed or undone.
pub(crate) enum Admission {
    Open,
    /// The account joins the invite's guild once created.
    Invite(String),
    Token {
        token: String,
        admin: bool,
    },
}

impl Admission {
    pub(crate) fn admin(&self) -> bool {
        matches!(self, Admission::Token { admin: true, .. })
    }
}

fn refused(field: &str, code: &str, message: &str) -> ServiceError {
    ServiceError::InvalidForm(FormErrors::single(field, code, message))
}

fn new_token() -> String {
    B64.encode(rand::random::<[u8; 24]>())
}

impl Service {
    /// A one-time token that lets one account register in any mode.
    pub async fn create_registration_token(&self) -> ServiceResult<String> {
        let token = new_token();
        self.put_grant(&token, &Grant::default()).await?;
        Ok(token)
    }

    async fn put_grant(&self, token: &str, grant: &Grant) -> ServiceResult<()> {
        let value = serde_json::to_vec(grant).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(self.store.put_meta(&token_key(token), &value).await?)
    }

    /// The token that makes its user the instance admin, while no admin
    /// exists; created on first call.
    pub async fn setup_token(&self) -> ServiceResult<Option<String>> {
        if self.store.meta(SETUP_DONE).await?.is_some() {
            return Ok(None);
        }
        if let Some(token) = self.store.meta(SETUP_TOKEN).await? {
            return Ok(Some(String::from_utf8_lossy(&token).into_owned()));
        }
        // Two nodes may get here at once: the token stored first is the
        // one, and the other's grant is withdrawn before anyone sees it.
        let token = new_token();
        self.put_grant(&token, &Grant { admin: true }).await?;
        let stored = self
            .store
            .put_meta_if_absent(SETUP_TOKEN, token.as_bytes())
            .await?;
        if stored != token.as_bytes() {
            self.store.take_meta(&token_key(&token)).await?;
        }
        Ok(Some(String::from_utf8_lossy(&stored).into_owned()))
    }

    /// An admin exists: the setup token stops working.
    pub(crate) async fn setup_done(&self) -> ServiceResult<()> {
        self.store.put_meta(SETUP_DONE, b"1").await?;
        if let Some(token) = self.store.take_meta(SETUP_TOKEN).await? {
            let token = String::from_utf8_lossy(&token).into_owned();
            self.store.take_meta(&token_key(&token)).await?;
        }
        Ok(())
    }

    /// Checks the registration against the mode; a token is used up here
    /// (and given back by [`Service::readmit`] if the account is refused).
    pub(crate) async fn admit(&self, input: &Register) -> ServiceResult<Admission> {
        let mut errors = FormErrors::new();
        let fields = [
            (
                "registration_token",
                &input.registration_token,
                limits::REGISTRATION_TOKEN_MAX,
            ),
            ("invite", &input.invite, limits::INVITE_CODE_MAX),
        ];
        for (field, value, max) in fields {
            if value.as_ref().is_some_and(|v| v.len() > max) {
                let message = format!("Must be {max} or fewer in length.");
                errors.add(field, "BASE_TYPE_MAX_LENGTH", message);
            }
        }
        errors.into_result()?;
        if let Some(token) = input
            .registration_token
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            let Some(grant) = self.store.take_meta(&token_key(token)).await? else {
                return Err(refused(
                    "registration_token",
                    "REGISTRATION_TOKEN_INVALID",
                    "This registration token is invalid or already used.",
                ));
            };
            let grant: Grant = serde_json::from_slice(&grant).unwrap_or_default();
            return Ok(Admission::Token {
                token: token.to_owned(),
                admin: grant.admin,
            });
        }
        if let Some(code) = input.invite.as_deref().filter(|c| !c.is_empty()) {
            if self.live_invite(code).await.is_err() {
                return Err(refused(
                    "invite",
                    "INVITE_INVALID",
                    "This invite is invalid or has expired.",
                ));
            }
            return Ok(Admission::Invite(code.to_owned()));
        }
        match self.config.registration {
            Registration::Open => Ok(Admission::Open),
            Registration::Invite => Err(refused(
                "invite",
                "INVITE_REQUIRED",
                "Registration on this server needs an invite or a registration token.",
            )),
            Registration::Token => Err(refused(
                "registration_token",
                "REGISTRATION_TOKEN_REQUIRED",
                "Registration on this server needs a registration token.",
            )),
            Registration::Closed => Err(refused(
                "",
                "REGISTRATION_CLOSED",
                "Registration is closed on this server; an administrator creates accounts.",
            )),
        }
    }

    /// Gives a used token back when the account could not be created.
    pub(crate) async fn readmit(&self, admission: &Admission) -> ServiceResult<()> {
        if let Admission::Token { token, admin } = admission {
            self.put_grant(token, &Grant { admin: *admin }).await?;
        }
        Ok(())
    }

    /// Completes an admitted registration: joins the invite's guild, or
    /// ends setup for the first admin.
    pub(crate) async fn welcome(&self, user: &User, admission: &Admission) -> ServiceResult<()> {
        match admission {
            Admission::Invite(code) => {
                let caller = Caller {
                    id: user.id,
                    bot: false,
                };
                // The account stands even if the invite ran out meanwhile.
                if let Err(e) = self.accept_invite(caller, code).await {
                    tracing::info!(error = %e, "registration invite not used");
                }
                Ok(())
            }
            Admission::Token { admin: true, .. } => self.setup_done().await,
            _ => Ok(()),
        }
    }
}
