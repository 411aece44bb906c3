//! Readiness: whether this node can serve, and why not. Liveness needs no
//! module: a process that answers is alive.

use serde::Serialize;

use crate::{Service, ServiceError, ServiceResult};

/// What `/readyz` reports: `ready` is false when a check needed for
/// serving fails; each check says what it found.
#[derive(Debug, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    /// Whether serving depends on it.
    pub required: bool,
    pub ok: bool,
    pub detail: String,
}

impl Service {
    /// Whether a write may be taken now: while the event bus is down it is
    /// refused (503) before anything is committed, since its event would
    /// reach no session and no other node. Reads go on meanwhile.
    pub fn writable(&self) -> ServiceResult<()> {
        self.bus
            .available()
            .map_err(|e| ServiceError::Unavailable(e.to_string()))
    }

    pub async fn readiness(&self) -> Readiness {
        // A read: a networked store answers it or says why not.
        let name = self.store.backend_name();
        let store = match self.store.meta("token_secret").await {
            Ok(_) => Check {
                name,
                required: true,
                ok: true,
                detail: "open".into(),
            },
            Err(e) => Check {
                name,
                required: true,
                ok: false,
                detail: e.to_string(),
            },
        };
        // Search filling up answers 202 to searches; everything else serves.
        let search = match (&self.search, self.search_index()) {
            (None, _) => ("disabled".to_owned(), true),
            (Some(_), Some(index)) if index.is_ready() => {
                (format!("{} messages indexed", index.documents()), true)
            }
            (Some(_), Some(index)) => (
                format!("indexing, {} messages so far", index.documents()),
                false,
            ),
            (Some(_), None) => ("waiting for the index to be written".to_owned(), false),
        };
        let mut checks = vec![
            store,
            Check {
                name: "search",
                required: false,
                ok: search.1,
                detail: search.0,
            },
        ];
        // The realtime server, when the nodes share one: without it no
        // session, presence or rate limit is shared, so the node is not ready.
        if let Some(remote) = &self.realtime().remote {
            let answer = remote.check().await;
            checks.push(Check {
                name: remote.name(),
                required: true,
                ok: answer.is_ok(),
                detail: answer.map_or_else(|e| e.to_string(), |()| "answers".into()),
            });
        }
        // Without the bus, writes are not announced to other nodes.
        if let Some(bus) = self.bus.health().await {
            checks.push(Check {
                name: bus.backend,
                required: true,
                ok: bus.answers.is_ok(),
                detail: bus.answers.err().unwrap_or_else(|| "answers".into()),
            });
        }
        Readiness {
            ready: checks.iter().all(|c| c.ok || !c.required),
            checks,
        }
    }
}
