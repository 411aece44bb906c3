//! The accounts and the channel a run measures with: registered for the
//! run as Discord-style servers want them (logging in when registration is
//! refused or hands out no token), or made beforehand and given as tokens.
//! Every failure is a sentence naming the step, the request and the answer,
//! never a panic: a server that is not Concord answers as it likes.

use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

/// Why provisioning failed, in a sentence.
pub(crate) type Refusal = String;

/// The accounts sockets identify as and the channel messages go to.
#[derive(Clone, Debug)]
pub(crate) struct Cast {
    /// `Authorization` values; socket `i` identifies with token `i` modulo
    /// their number, the first sends.
    pub(crate) tokens: Vec<String>,
    pub(crate) channel: String,
    /// How the accounts were come by, for the report.
    pub(crate) tally: Tally,
}

/// How many accounts a run registered, logged into or was given.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub(crate) struct Tally {
    pub(crate) registered: usize,
    pub(crate) logged_in: usize,
    pub(crate) given: usize,
}

impl Tally {
    pub(crate) fn add(self, other: Tally) -> Tally {
        Tally {
            registered: self.registered + other.registered,
            logged_in: self.logged_in + other.logged_in,
            given: self.given + other.given,
        }
    }
}

/// The server's HTTP API at `base` (no trailing slash), and how the run's
/// accounts are named.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    /// Accounts are `{prefix}{role}{k}`, with e-mail `…@bench.invalid`.
    pub(crate) prefix: String,
    pub(crate) password: String,
}

/// The text a refusal quotes of an answer's body: enough to read the
/// server's error code, not a whole page.
fn excerpt(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &body[..at]),
        None => body.to_owned(),
    }
}

impl Api {
    /// `step` as `method path` with `body`; the JSON of a 2xx answer (null
    /// when it has none).
    pub(crate) async fn call(
        &self,
        step: &str,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, Refusal> {
        let url = format!("{}/api/v10{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request
            .send()
            .await
            .map_err(|e| format!("{step}: {method} {url} failed: {e}"))?;
        let status = reply.status();
        let text = reply.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!(
                "{step}: {method} {url} answered {status}: {}",
                excerpt(&text)
            ));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A token for account `username`: registered with what Discord-style
    /// servers ask for, or, when registration is refused, not offered or
    /// hands out no token (e-mail verification), logged in by e-mail.
    pub(crate) async fn account(&self, username: &str) -> Result<(String, Tally), Refusal> {
        let email = format!("{username}@bench.invalid");
        let body = json!({
            "username": username, "password": self.password, "email": email,
            "consent": true, "date_of_birth": "2000-01-01",
        });
        let step = format!("registering {username}");
        let registered = self
            .call(&step, Method::POST, "/auth/register", None, Some(body))
            .await;
        let why_not = match &registered {
            Ok(reply) => match reply["token"].as_str() {
                Some(token) => {
                    let tally = Tally {
                        registered: 1,
                        ..Tally::default()
                    };
                    return Ok((token.to_owned(), tally));
                }
                None => format!("{step}: the answer carries no token"),
            },
            Err(refusal) => refusal.clone(),
        };
        let body = json!({ "login": email, "password": self.password });
        let step = format!("logging in as {email}");
        let reply = self
            .call(&step, Method::POST, "/auth/login", None, Some(body))
            .await
            .map_err(|e| format!("{e} (after {why_not})"))?;
        match reply["token"].as_str() {
            Some(token) => {
                let tally = Tally {
                    logged_in: 1,
                    ..Tally::default()
                };
                Ok((token.to_owned(), tally))
            }
            None => Err(format!(
                "{step}: the answer carries no token (after {why_not})"
            )),
        }
    }

    /// The guild's first text channel (lowest position), read from
    /// `GET /guilds/{id}/channels`: not every server lists channels in the
    /// answer that creates a guild.
    pub(crate) async fn first_text_channel(
        &self,
        token: &str,
        guild: &str,
    ) -> Result<String, Refusal> {
        let step = format!("listing the channels of guild {guild}");
        let path = format!("/guilds/{guild}/channels");
        let channels = self
            .call(&step, Method::GET, &path, Some(token), None)
            .await?;
        let position = |c: &&Value| (c["position"].as_i64().unwrap_or(0), c["id"].to_string());
        channels
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["type"] == 0)
            .min_by_key(position)
            .and_then(|c| c["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "{step}: no text channel in {}",
                    excerpt(&channels.to_string())
                )
            })
    }

    /// `users` accounts named for `role` in a fresh guild (the first owns
    /// it, the others join by invite).
    pub(crate) async fn provision(&self, role: &str, users: usize) -> Result<Cast, Refusal> {
        let first = self.username(role, 0);
        let (owner, tally) = self.account(&first).await?;
        let step = format!("creating a guild as {first}");
        let guild = self
            .call(
                &step,
                Method::POST,
                "/guilds",
                Some(&owner),
                Some(json!({ "name": "bench" })),
            )
            .await?;
        let guild = guild["id"]
            .as_str()
            .ok_or_else(|| format!("{step}: the answer carries no id"))?;
        let channel = self.first_text_channel(&owner, guild).await?;
        let (more, how) = self.enlist(role, &owner, &channel, 1..users).await?;
        let tokens = std::iter::once(owner).chain(more).collect();
        let tally = tally.add(how);
        Ok(Cast {
            tokens,
            channel,
            tally,
        })
    }

    /// Accounts `k` in `range` named for `role`, each joined to
    /// `channel`'s guild by an invite of `owner`'s; their tokens, in order.
    /// A few register at once (each waits on the server's password hash).
    pub(crate) async fn enlist(
        &self,
        role: &str,
        owner: &str,
        channel: &str,
        range: std::ops::Range<usize>,
    ) -> Result<(Vec<String>, Tally), Refusal> {
        use futures_util::{StreamExt, TryStreamExt};
        if range.is_empty() {
            return Ok((Vec::new(), Tally::default()));
        }
        let step = format!("creating an invite to channel {channel}");
        let path = format!("/channels/{channel}/invites");
        let body = json!({ "max_age": 0 });
        let invite = self
            .call(&step, Method::POST, &path, Some(owner), Some(body))
            .await?;
        let code = invite["code"]
            .as_str()
            .ok_or_else(|| format!("{step}: the answer carries no code"))?;
        let join = |k: usize| async move {
            let username = self.username(role, k);
            let (token, how) = self.account(&username).await?;
            let step = format!("joining by invite {code} as {username}");
            let path = format!("/invites/{code}");
            self.call(&step, Method::POST, &path, Some(&token), Some(json!({})))
                .await?;
            Ok::<_, Refusal>((token, how))
        };
        let joined: Vec<(String, Tally)> = futures_util::stream::iter(range)
            .map(join)
            .buffered(4)
            .try_collect()
            .await?;
        let tally = joined
            .iter()
            .fold(Tally::default(), |t, (_, how)| t.add(*how));
        Ok((joined.into_iter().map(|(token, _)| token).collect(), tally))
    }

    /// The name of account `k` of `role`.
    fn username(&self, role: &str, k: usize) -> String {
        format!("{}{role}{k}", self.prefix)
    }

    /// Tokens made beforehand, with their channel: `channel` itself, or
    /// the first text channel of `guild` as the first token sees it.
    pub(crate) async fn ready_made(
        &self,
        tokens: Vec<String>,
        channel: Option<String>,
        guild: Option<String>,
    ) -> Result<Cast, Refusal> {
        let channel = match (channel, guild) {
            (Some(channel), _) => channel,
            (None, Some(guild)) => self.first_text_channel(&tokens[0], &guild).await?,
            (None, None) => return Err("ready-made tokens need --channel or --guild".into()),
        };
        let tally = Tally {
            given: tokens.len(),
            ..Tally::default()
        };
        Ok(Cast {
            tokens,
            channel,
            tally,
        })
    }
}

/// The tokens in `path`: one a line; blank lines and lines starting with
/// `#` are skipped.
pub(crate) fn tokens_file(path: &Path) -> Result<Vec<String>, Refusal> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading tokens from {}: {e}", path.display()))?;
    Ok(parse_tokens(&text))
}

fn parse_tokens(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// What a socket sends in IDENTIFY for `Authorization` value `auth`: a bot
/// token without its `Bot ` scheme.
pub(crate) fn identify_token(auth: &str) -> &str {
    auth.strip_prefix("Bot ").unwrap_or(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokens_file_skips_blank_lines_and_comments() {
        let text = "# made by hand\nabc.def\n\n  Bot xyz  \n#later\n";
        assert_eq!(parse_tokens(text), ["abc.def", "Bot xyz"]);
    }

    #[test]
    fn bot_tokens_identify_without_their_scheme() {
        assert_eq!(identify_token("Bot abc"), "abc");
        assert_eq!(identify_token("abc"), "abc");
    }

    #[test]
    fn refusals_quote_a_bounded_excerpt() {
        let long = "é".repeat(1000);
        assert_eq!(excerpt(&long).chars().count(), 301);
        assert_eq!(excerpt(" {\"code\": 50035} "), "{\"code\": 50035}");
    }
}
