//! Who a request comes from: the `Authorization` header, its token checked
//! in memory (see [`super::auth`]), tokens issued, and every older token
//! revoked at once.

use concord_model::Snowflake;
use concord_model::codes;
use concord_model::event::{Audience, EventKind};
use concord_model::records::User;
use concord_model::snowflake::now_ms;
use serde::{Deserialize, Serialize};

use super::auth::{TokenSigner, TokenState};
use crate::error::taken;
use crate::{Caller, Service, ServiceError, ServiceResult};

/// How many times [`Service::edit_user`] reads and edits again when a
/// revocation lands between its read and its write.
const EDIT_TRIES: usize = 3;

/// Where `Authorization` says the token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `Bot <token>`
    Bot,
    /// A bare token: a user account.
    User,
}

/// Splits an `Authorization` header into its kind and token.
pub fn parse_authorization(header: &str) -> Option<(TokenKind, &str)> {
    let header = header.trim();
    match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bot") => {
            Some((TokenKind::Bot, token.trim()))
        }
        Some(_) => None,
        None => Some((TokenKind::User, header)),
    }
}

/// Who a token belongs to, and the generation of their tokens it is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenOwner {
    pub caller: Caller,
    pub generation: u64,
}

/// SESSIONS_REVOKED's data: every session opened with a token of an
/// earlier generation than this ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub generation: u64,
}

impl Revocation {
    /// Whether it ends a session opened with a token of `generation`. An
    /// event without a generation ends them all.
    pub fn ends(data: &str, generation: u64) -> bool {
        serde_json::from_str::<Revocation>(data).map_or(true, |r| generation < r.generation)
    }
}

pub(crate) fn state_of(user: &User) -> TokenState {
    TokenState {
        generation: user.token_generation,
        bot: user.bot,
    }
}

impl Service {
    /// Checks a token; the user's state is read from the store only the
    /// first time the user is seen, and again after another node revoked
    /// their tokens (once this node has applied what the bus holds).
    pub async fn authenticate(&self, kind: TokenKind, token: &str) -> ServiceResult<Caller> {
        Ok(self.token_owner(kind, token).await?.caller)
    }

    async fn token_owner(&self, kind: TokenKind, token: &str) -> ServiceResult<TokenOwner> {
        let parsed = TokenSigner::parse(token).ok_or(ServiceError::Unauthorized)?;
        self.caught_up().await;
        let state = match self.access.tokens.known(parsed.user_id) {
            Some(state) => state,
            None => {
                let read = self.access.tokens.epoch();
                let user = self
                    .store
                    .user(parsed.user_id)
                    .await?
                    .ok_or(ServiceError::Unauthorized)?;
                let state = state_of(&user);
                self.access.tokens.remember_read(read, user.id, state);
                state
            }
        };
        if !self.access.tokens.verify(&parsed, state) || state.bot != (kind == TokenKind::Bot) {
            return Err(ServiceError::Unauthorized);
        }
        let caller = Caller {
            id: parsed.user_id,
            bot: state.bot,
        };
        Ok(TokenOwner {
            caller,
            generation: state.generation,
        })
    }

    /// Saves the user with a new token generation, so every earlier token
    /// stops working, and ends the user's live gateway sessions: a
    /// person's own password change. A generation moves only here and in
    /// [`edit_user`](Self::edit_user) (resets by others, disabling an
    /// account, logging out everywhere).
    ///
    /// `user` is the record as read; a revocation that landed since (the
    /// user changed their password elsewhere, say) refuses the write: the
    /// reader's own token is gone with it.
    pub(crate) async fn save_revoking(&self, user: &mut User) -> ServiceResult<()> {
        let seen = user.token_generation;
        user.token_generation += 1;
        self.save_user(user, seen).await?;
        self.revoked(user).await;
        Ok(())
    }

    /// Saves `user`, read at token generation `seen`. A revocation that
    /// landed since refuses it (401: the reader's own token went with it),
    /// so that an edit racing a password change never puts the old
    /// password or the revoked tokens back.
    pub(crate) async fn save_user(&self, user: &User, seen: u64) -> ServiceResult<()> {
        match self.store.update_user(user, seen).await.map_err(taken)? {
            true => Ok(()),
            false => Err(ServiceError::Unauthorized),
        }
    }

    /// Reads user `id`, applies `edit` and saves the result, with a new
    /// token generation when `edit` says so (`true`): for edits by someone
    /// other than the user (an administrator, an application's owner), or
    /// of everything at once, which a concurrent revocation does not make
    /// wrong. Such a revocation makes it read and edit again.
    pub(crate) async fn edit_user(
        &self,
        id: Snowflake,
        mut edit: impl FnMut(&mut User) -> ServiceResult<bool>,
    ) -> ServiceResult<User> {
        for _ in 0..EDIT_TRIES {
            let mut user = self.user_record(id).await?;
            let seen = user.token_generation;
            let revoke = edit(&mut user)?;
            if revoke {
                user.token_generation += 1;
            }
            if self.store.update_user(&user, seen).await.map_err(taken)? {
                if revoke {
                    self.revoked(&user).await;
                }
                return Ok(user);
            }
        }
        Err(ServiceError::Unavailable(
            "the account kept changing while it was edited".into(),
        ))
    }

    /// After a revocation was stored: this node forgets the old tokens now,
    /// the others and the gateway sessions through the event. The event
    /// names the generation that is current now, so a session opened with
    /// a new token before the event reached its node stays open.
    async fn revoked(&self, user: &User) {
        self.access.tokens.remember(user.id, state_of(user));
        let audience = Audience::Users(vec![user.id]);
        let data = Revocation {
            generation: user.token_generation,
        };
        self.publish(EventKind::SessionsRevoked, audience, data)
            .await;
    }

    /// Logs the caller's account out everywhere: every token issued so far
    /// (the caller's own too) stops working on every node, and its gateway
    /// sessions close. People only: a bot resets its token instead.
    pub async fn log_out_everywhere(&self, caller: Caller) -> ServiceResult<()> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        self.edit_user(caller.id, |_| Ok(true)).await?;
        Ok(())
    }

    pub(crate) fn issue_token(&self, user: &User) -> String {
        self.access.tokens.issue(user.id, state_of(user), now_ms())
    }

    /// A gateway token, bot or user: IDENTIFY carries it without a prefix.
    pub async fn authenticate_token(&self, token: &str) -> ServiceResult<TokenOwner> {
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        let user_id = TokenSigner::parse(token)
            .ok_or(ServiceError::Unauthorized)?
            .user_id;
        let kind = match self.store.user(user_id).await? {
            Some(u) if u.bot => TokenKind::Bot,
            Some(_) => TokenKind::User,
            None => return Err(ServiceError::Unauthorized),
        };
        self.token_owner(kind, token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_header_forms() {
        assert_eq!(
            parse_authorization("Bot abc.def.ghi"),
            Some((TokenKind::Bot, "abc.def.ghi"))
        );
        assert_eq!(
            parse_authorization("bot abc"),
            Some((TokenKind::Bot, "abc"))
        );
        assert_eq!(
            parse_authorization("abc.def.ghi"),
            Some((TokenKind::User, "abc.def.ghi"))
        );
        assert_eq!(parse_authorization("Bearer abc"), None);
    }
}
