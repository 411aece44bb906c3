//! The server a run measures, found out before any phase: its nodes' HTTP
//! and gateway URLs, what it says it is, the processes it runs in, and the
//! accounts the phases use. Anything missing or refused ends the run with
//! a sentence saying which step failed, before a phase starts.

use serde_json::{Value, json};

use crate::RunArgs;
use crate::accounts::{self, Api, Cast, Refusal, Tally};
use crate::stats::Processes;
use crate::target::{self, Endpoint, Kind, Target};

pub(crate) struct Setup {
    pub(crate) api: Api,
    pub(crate) nodes: Vec<Endpoint>,
    /// What the server's answers name it (`Server`, `X-Powered-By`).
    says: Option<String>,
    pub(crate) processes: Processes,
    /// Tokens and channel given with --token or --tokens-file.
    ready_made: Option<Cast>,
}

/// `url` as a base for `/api/v10/...`: `http://` or `https://`, without a
/// trailing slash.
fn base_url(url: &str) -> Result<String, Refusal> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("--url {url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("--url {url:?}: not an http:// or https:// URL"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The gateway URL given for node `index` of `count`: one for all, or one each.
fn given_gateway(
    gateways: &[String],
    index: usize,
    count: usize,
) -> Result<Option<String>, Refusal> {
    match gateways.len() {
        0 => Ok(None),
        1 => Ok(Some(gateways[0].clone())),
        n if n == count => Ok(Some(gateways[index].clone())),
        n => Err(format!(
            "{n} --gateway URLs for {count} --url: give one, or one each"
        )),
    }
}

impl Setup {
    /// `urls` are the nodes' base URLs (the spawned nodes' or --url's);
    /// `spawned` the pids of the nodes this run started.
    pub(crate) async fn prepare(
        args: &RunArgs,
        http: reqwest::Client,
        urls: &[String],
        spawned: Option<Vec<u32>>,
    ) -> Result<Setup, Refusal> {
        let bases = urls
            .iter()
            .map(|u| base_url(u))
            .collect::<Result<Vec<_>, _>>()?;
        if bases.is_empty() {
            return Err("give --spawn PATH or --url URL".into());
        }
        let processes = match spawned {
            Some(pids) => Processes {
                trees: pids,
                ..Processes::default()
            },
            None => Processes {
                pids: args.server_pid.clone(),
                trees: args.server_pid_tree.clone(),
            },
        };
        if let Some(pid) = processes.unreadable().first() {
            return Err(format!(
                "server pid {pid}: no such process here (/proc/{pid})"
            ));
        }
        let prefix = args
            .account_prefix
            .clone()
            .unwrap_or_else(|| format!("bench{}", std::process::id()));
        let api = Api {
            http,
            base: bases[0].clone(),
            prefix,
            password: args.password.clone(),
        };
        let mut nodes = Vec::new();
        let mut says = None;
        for (index, base) in bases.iter().enumerate() {
            let node = Api {
                base: base.clone(),
                ..api.clone()
            };
            let gateway = given_gateway(&args.gateway, index, bases.len())?;
            let (endpoint, said) = target::discover(&node, gateway).await?;
            nodes.push(endpoint);
            says = says.or(said);
        }
        let mut tokens = args.token.clone();
        if let Some(path) = &args.tokens_file {
            tokens.extend(accounts::tokens_file(path)?);
        }
        let (channel, guild) = (args.channel.clone(), args.guild.clone());
        let ready_made = match (tokens.is_empty(), channel.is_some() || guild.is_some()) {
            (false, _) => Some(api.ready_made(tokens, channel, guild).await?),
            (true, true) => {
                return Err("--channel and --guild go with --token or --tokens-file".into());
            }
            (true, false) => None,
        };
        Ok(Setup {
            api,
            nodes,
            says,
            processes,
            ready_made,
        })
    }

    /// The accounts a phase uses: the ready-made ones (counted once, by
    /// [`report`](Self::report)), or `users` of its own for `role` in a
    /// guild of their own.
    pub(crate) async fn cast(&self, role: &str, users: usize) -> Result<Cast, Refusal> {
        match &self.ready_made {
            Some(given) => Ok(Cast {
                tally: Tally::default(),
                ..given.clone()
            }),
            None => self
                .api
                .provision(role, users.max(1))
                .await
                .map_err(|e| format!("cannot provision the {role}s: {e}")),
        }
    }

    /// Whether the run registers accounts of its own (else it was given them).
    pub(crate) fn registers(&self) -> bool {
        self.ready_made.is_none()
    }

    /// The target the phases drive with `cast`'s accounts.
    pub(crate) fn target(&self, args: &RunArgs, cast: Cast) -> Target {
        Target {
            name: "concord",
            nodes: self.nodes.clone(),
            processes: self.processes.clone(),
            kind: Kind::Discord {
                auth: cast.tokens[0].clone(),
                tokens: cast.tokens,
                channel: cast.channel,
            },
            http: self.api.http.clone(),
            content_bytes: args.content_bytes,
            intents: crate::socket::INTENTS,
            zlib: args.zlib,
            sockets_per_source: args.sockets_per_source,
        }
    }

    /// The report's account of what was measured, with the `accounts`
    /// the casts registered or logged into.
    pub(crate) fn report(&self, name: &str, accounts: Tally) -> Value {
        let given = self
            .ready_made
            .as_ref()
            .map(|c| c.tally)
            .unwrap_or_default();
        json!({
            "name": name,
            "urls": self.nodes.iter().map(|n| &n.http_url).collect::<Vec<_>>(),
            "gateways": self.nodes.iter().map(|n| &n.ws_url).collect::<Vec<_>>(),
            "server_says": self.says,
            "processes": {
                "pids": self.processes.pids,
                "trees": self.processes.trees,
                "measured": self.processes.members(),
            },
            "accounts": accounts.add(given),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_take_host_names_and_paths() {
        assert_eq!(
            base_url("http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(
            base_url("https://chat.example.org/x").unwrap(),
            "https://chat.example.org/x"
        );
        assert!(base_url("localhost:8080").is_err());
        assert!(base_url("ws://localhost:8080").is_err());
    }

    #[test]
    fn gateways_are_one_for_all_or_one_each() {
        let two = ["ws://a".to_owned(), "ws://b".to_owned()];
        assert_eq!(given_gateway(&[], 1, 2).unwrap(), None);
        assert_eq!(
            given_gateway(&two[..1], 1, 3).unwrap().as_deref(),
            Some("ws://a")
        );
        assert_eq!(
            given_gateway(&two, 1, 2).unwrap().as_deref(),
            Some("ws://b")
        );
        assert!(given_gateway(&two, 0, 3).is_err());
    }
}
