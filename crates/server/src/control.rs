//! The command line's client for a running server's admin API. Commands
//! never open the data directory's store themselves (the server holds it,
//! and two writers would corrupt it): they read the control token the
//! server left in the data directory and ask the server over loopback.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use concord_config::{Config, Settings};
use reqwest::Method;
use serde_json::Value;

/// Which running server to talk to.
#[derive(Debug, Clone, Args)]
pub(crate) struct Target {
    /// TOML file the server runs with, for its address and data directory
    #[arg(long, env = "CONCORD_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Data directory of the running server [default: from the config, else ./data]
    #[arg(long, env = "CONCORD_DATA_DIR", global = true)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Address the running server listens on [default: from the config, else 127.0.0.1:8080]
    #[arg(long, env = "CONCORD_LISTEN", global = true)]
    pub(crate) listen: Option<SocketAddr>,
}

impl Target {
    /// The server's settings, as `concord serve` would read them.
    pub(crate) fn resolve(&self) -> Result<Config, String> {
        let file = match &self.config {
            Some(path) => Settings::from_file(path).map_err(|e| e.to_string())?,
            None => Settings::default(),
        };
        let flags = Settings {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            ..Settings::default()
        };
        Config::from_settings(flags.over(file)).map_err(|e| e.to_string())
    }
}

/// An authenticated connection to the admin API.
pub(crate) struct Control {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Control {
    pub(crate) fn new(target: &Target) -> Result<Control, String> {
        let config = target.resolve()?;
        let path = concord_server::control_token_path(&config.data_dir);
        let token = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "cannot read {}: {e}; is `concord serve` running with data directory {}?",
                path.display(),
                config.data_dir.display()
            )
        })?;
        Ok(Control {
            http: reqwest::Client::new(),
            base: format!(
                "http://{}/api/v10",
                concord_server::local_address(config.listen)
            ),
            token: token.trim().to_owned(),
        })
    }

    /// Sends a request and returns the answer's JSON, or what went wrong
    /// in words.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            Err(explain(status.as_u16(), &value))
        }
    }

    /// Sends a request; the caller reads the answer (a stream, say).
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<reqwest::Response, String> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("Control {}", self.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.map_err(|e| {
            format!(
                "no concord server answers at {} ({e}); start it with `concord serve`",
                self.base
            )
        })
    }
}

/// A Discord-shaped error body as one line: the message, then each field's.
pub(crate) fn explain(status: u16, body: &Value) -> String {
    let mut text = body["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("the server answered {status}"));
    let mut fields = Vec::new();
    collect_field_errors(&body["errors"], String::new(), &mut fields);
    for (field, message) in fields {
        let field = if field.is_empty() {
            "request".into()
        } else {
            field
        };
        text.push_str(&format!("; {field}: {message}"));
    }
    text
}

fn collect_field_errors(errors: &Value, path: String, out: &mut Vec<(String, String)>) {
    let Some(map) = errors.as_object() else {
        return;
    };
    for (key, value) in map {
        if key == "_errors" {
            for e in value.as_array().into_iter().flatten() {
                let message = e["message"].as_str().unwrap_or_default().to_owned();
                out.push((path.clone(), message));
            }
        } else {
            let path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            collect_field_errors(value, path, out);
        }
    }
}
