//! JSON bodies and multipart forms, mutated from the committed corpus
//! (`tests/fuzz/corpus/{json,multipart}`), sent to a real server as its
//! owner: every answer is a Discord error or a success, never a 5xx or a
//! dropped connection, and the server still answers afterwards.

use concord_testkit::TestServer;
use concord_testkit::fuzz::{self, Case, Seed};
use serde_json::json;

use crate::server;

/// The ids a seed's `{placeholders}` stand for.
struct Targets {
    pairs: Vec<(&'static str, String)>,
}

impl Targets {
    async fn make(s: &TestServer) -> (Targets, String) {
        let owner = s.register("owner").await;
        let member = s.register("member").await;
        let (guild, channel) = s.guild(&owner, "Fuzz").await;
        s.join(&owner, &channel, &member).await;
        let message = s.say(&owner, &channel, "first").await;
        let role = s
            .post(
                &format!("/guilds/{guild}/roles"),
                &owner.auth,
                json!({ "name": "r" }),
            )
            .await;
        let role = role.body["id"].as_str().expect("role id").to_owned();
        let pairs = vec![
            ("{guild}", guild),
            ("{channel}", channel),
            ("{message}", message),
            ("{user}", member.id),
            ("{role}", role),
        ];
        (Targets { pairs }, owner.auth)
    }

    fn fill(&self, text: &str) -> String {
        self.pairs
            .iter()
            .fold(text.to_owned(), |t, (from, to)| t.replace(from, to))
    }

    fn fill_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.fill(text).into_bytes(),
            Err(_) => bytes.to_vec(),
        }
    }
}

/// Sends one request on a connection of its own; the status, or what went wrong.
async fn send(
    s: &TestServer,
    method: &str,
    path: &str,
    auth: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<u16, String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let response = reqwest::Client::new()
        .request(method, s.url(&format!("/api/v10{path}")))
        .header("authorization", auth)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    response
        .bytes()
        .await
        .map_err(|e| format!("body cut off: {e}"))?;
    Ok(status)
}

/// At most 200 characters of `text`, for failure messages.
fn cut(text: &str) -> String {
    text.chars().take(200).collect()
}

fn judge(status: Result<u16, String>) -> Result<(), String> {
    match status {
        Ok(status) if status < 500 => Ok(()),
        Ok(status) => Err(format!("answered {status}")),
        Err(e) => Err(e),
    }
}

/// Runs the cases of `seeds` against a fresh server, then checks it still serves.
fn fuzz_target(
    seeds: &[Seed],
    request: impl Fn(&Case, Vec<u8>) -> (String, String, String, Vec<u8>),
) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let s = server();
    let (targets, auth) = runtime.block_on(Targets::make(&s));
    fuzz::run(seeds, |case, bytes| {
        let (method, path, content_type, body) = request(case, bytes);
        let path = targets.fill(&path);
        let body = targets.fill_bytes(&body);
        judge(runtime.block_on(send(&s, &method, &path, &auth, &content_type, body)))
            .map_err(|e| format!("{method} {}: {}", cut(&path), cut(&e)))
    });
    let health = runtime.block_on(async { reqwest::get(s.url("/healthz")).await });
    assert!(
        health.is_ok_and(|r| r.status() == 200),
        "the server stopped answering"
    );
}

#[test]
fn fuzzed_json_bodies_never_fail_the_server() {
    // A JSON seed is `METHOD PATH` on its first line, then the body; only
    // the body is mutated.
    let mut lines = Vec::new();
    let seeds: Vec<Seed> = fuzz::corpus("json")
        .into_iter()
        .map(|seed| {
            let text = String::from_utf8(seed.bytes).expect("JSON seeds are text");
            let (line, body) = text
                .split_once('\n')
                .expect("a request line, then the body");
            let (method, path) = line.split_once(' ').expect("METHOD PATH");
            lines.push((method.to_owned(), path.to_owned()));
            Seed {
                name: seed.name,
                bytes: body.as_bytes().to_vec(),
            }
        })
        .collect();
    fuzz_target(&seeds, |case, body| {
        let (method, path) = lines[case.seed].clone();
        (method, path, "application/json".to_owned(), body)
    });
}

#[test]
fn fuzzed_multipart_forms_never_fail_the_server() {
    fuzz_target(&fuzz::corpus("multipart"), |_, body| {
        (
            "POST".to_owned(),
            "/channels/{channel}/messages".to_owned(),
            "multipart/form-data; boundary=fuzzboundary".to_owned(),
            body,
        )
    });
}
