//! The connection every part shares: one multiplexed client (commands from
//! many tasks are pipelined on it), the key prefix, and the Lua scripts,
//! called by hash (EVALSHA) and loaded again when the server has lost them
//! (after a restart).

use std::time::Duration;

use fred::error::Error;
use fred::interfaces::{ClientLike, LuaInterface};
use fred::prelude::{Builder, Client, Config, Options, ReconnectPolicy};
use fred::types::scripts::Script;
use fred::types::{Key, Value};

/// The helpers every script starts with.
const COMMON: &str = include_str!("lua/common.lua");

/// How long a command may take before the caller is told the backend is
/// unavailable (it may still run on the server).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a Redis URL cannot be used.
pub fn check_url(url: &str) -> Result<(), String> {
    if !url.starts_with("redis://") {
        return Err("must start with redis://".into());
    }
    Config::from_url(url)
        .map(drop)
        .map_err(|e| e.details().to_owned())
}

/// A script, with the common helpers before its own text.
pub(crate) struct Lua(Script);

impl Lua {
    /// `parts` follow the common helpers, in order.
    pub(crate) fn new(parts: &[&str]) -> Lua {
        let mut text = String::from(COMMON);
        for part in parts {
            text.push('\n');
            text.push_str(part);
        }
        Lua(Script::from_lua(text))
    }
}

/// A call of a script: its keys and arguments (both shared buffers, so a
/// retry copies no text).
pub(crate) struct Call<'a> {
    pub(crate) lua: &'a Lua,
    pub(crate) keys: Vec<Key>,
    pub(crate) args: Vec<Value>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(lua: &'a Lua) -> Call<'a> {
        Call {
            lua,
            keys: Vec::new(),
            args: Vec::new(),
        }
    }

    pub(crate) fn key(mut self, key: String) -> Self {
        self.keys.push(Key::from(key));
        self
    }

    pub(crate) fn arg(mut self, arg: impl ToString) -> Self {
        self.args.push(Value::from(arg.to_string()));
        self
    }
}

/// Redis as the parts see it.
pub(crate) struct Conn {
    client: Client,
    prefix: String,
}

/// What went wrong, as text for the seams' errors.
pub(crate) fn why(error: &Error) -> String {
    format!("redis: {error}")
}

fn is_noscript(error: &Error) -> bool {
    error.details().starts_with("NOSCRIPT")
}

impl Conn {
    /// Connects to `url`; fails when the server does not answer.
    pub(crate) async fn connect(url: &str, prefix: &str) -> Result<Conn, String> {
        check_url(url)?;
        let config = Config::from_url(url).map_err(|e| why(&e))?;
        let client = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(5);
                c.internal_command_timeout = Duration::from_secs(5);
                // A script whose connection dropped is never sent again: it
                // may have run, and running it twice would count twice.
                c.max_command_attempts = 1;
                c.unresponsive.max_timeout = Some(Duration::from_secs(10));
            })
            .with_performance_config(|p| p.default_command_timeout = COMMAND_TIMEOUT)
            // Reconnects forever, at most 2 s apart, once it has connected.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build()
            .map_err(|e| why(&e))?;
        client
            .init()
            .await
            .map_err(|e| format!("cannot connect to redis: {}", e.details()))?;
        Ok(Conn {
            client,
            prefix: prefix.to_owned(),
        })
    }

    /// `name` under the prefix.
    pub(crate) fn key(&self, name: std::fmt::Arguments<'_>) -> String {
        format!("{}{name}", self.prefix)
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the server answers; at once "no" while the connection is
    /// down, rather than after a timeout.
    pub(crate) async fn ping(&self) -> Result<(), String> {
        let fail_fast = Options {
            fail_fast: true,
            ..Options::default()
        };
        self.client
            .with_options(&fail_fast)
            .ping::<()>(None)
            .await
            .map_err(|e| why(&e))
    }

    async fn load(&self, lua: &Lua) -> Result<(), String> {
        let text = lua.0.lua().cloned().unwrap_or_default();
        self.client
            .script_load::<(), _>(text)
            .await
            .map_err(|e| why(&e))
    }

    /// Runs one script.
    pub(crate) async fn eval(&self, call: Call<'_>) -> Result<Value, String> {
        let run = || {
            self.client.evalsha::<Value, _, _, _>(
                call.lua.0.sha1().clone(),
                call.keys.clone(),
                call.args.clone(),
            )
        };
        match run().await {
            Err(e) if is_noscript(&e) => {
                self.load(call.lua).await?;
                run().await.map_err(|e| why(&e))
            }
            result => result.map_err(|e| why(&e)),
        }
    }

    /// Runs many scripts at once: the client writes them one after the
    /// other without waiting for answers (one pipeline); their answers in
    /// order.
    pub(crate) async fn eval_all(&self, calls: Vec<Call<'_>>) -> Result<Vec<Value>, String> {
        futures_util::future::join_all(calls.into_iter().map(|call| self.eval(call)))
            .await
            .into_iter()
            .collect()
    }
}

/// Reading script answers.
pub(crate) mod read {
    use fred::types::Value;

    pub(crate) fn bad(what: &str, value: &Value) -> String {
        format!("redis: unexpected answer for {what}: {value:?}")
    }

    pub(crate) fn int(value: &Value, what: &str) -> Result<i64, String> {
        value.as_i64().ok_or_else(|| bad(what, value))
    }

    pub(crate) fn text(value: Value, what: &str) -> Result<String, String> {
        match value {
            Value::String(s) => Ok(s.to_string()),
            Value::Bytes(b) => {
                String::from_utf8(b.to_vec()).map_err(|_| format!("redis: {what} is not text"))
            }
            Value::Integer(i) => Ok(i.to_string()),
            other => Err(bad(what, &other)),
        }
    }

    pub(crate) fn number<T: std::str::FromStr>(value: Value, what: &str) -> Result<T, String> {
        let text = text(value, what)?;
        text.parse()
            .map_err(|_| format!("redis: {what} is not a number: {text}"))
    }

    /// An array answer (nil is empty).
    pub(crate) fn array(value: Value) -> Vec<Value> {
        match value {
            Value::Null => Vec::new(),
            other => other.into_array(),
        }
    }
}

/// Milliseconds of a TTL, at least one (Redis refuses zero).
pub(crate) fn ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}
