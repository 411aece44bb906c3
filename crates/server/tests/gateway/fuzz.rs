//! Gateway frames, mutated from the committed corpus
//! (`tests/fuzz/corpus/gateway`), each sent on a fresh connection: the
//! server answers, or closes with one of Discord's gateway close codes;
//! it never drops the socket without a close frame, and keeps serving.

use concord_testkit::fuzz::{self, Case};
use concord_testkit::gateway::{GatewayClient, Received};
use std::time::Duration;

use crate::World;

/// How long the server has to react to a frame before a heartbeat is sent.
const REACTION: Duration = Duration::from_millis(100);

fn judge_close(code: Option<u16>) -> Result<(), String> {
    match code {
        Some(code) if (4000..=4014).contains(&code) || code == 1000 => Ok(()),
        code => Err(format!("closed with {code:?}")),
    }
}

/// What the server did with one frame: fine, or what went wrong.
async fn try_frame(world: &World, frame: Vec<u8>) -> Result<(), String> {
    let mut ws = GatewayClient::connect(&world.s.ws_url(), "v=10&encoding=json").await;
    match ws.receive_within(Duration::from_secs(5)).await {
        Received::Payload(hello) if hello["op"] == 10 => {}
        other => return Err(format!("no HELLO: {other:?}")),
    }
    ws.send_raw(String::from_utf8_lossy(&frame).into_owned())
        .await;
    // Most refusals close at once; otherwise a heartbeat's ACK (after any
    // dispatches the frame caused) shows the connection still works.
    let mut sent_heartbeat = false;
    loop {
        let wait = if sent_heartbeat {
            Duration::from_secs(5)
        } else {
            REACTION
        };
        match ws.receive_within(wait).await {
            Received::Payload(p) if p["op"] == 11 => return Ok(()),
            Received::Payload(_) => continue,
            Received::Closed(code) => return judge_close(code),
            Received::Silent if sent_heartbeat => {
                return Err("no answer to a heartbeat".into());
            }
            Received::Silent => {
                sent_heartbeat = true;
                let heartbeat = r#"{"op":1,"d":null}"#.to_owned();
                if ws.try_send_raw(heartbeat).await.is_err() {
                    // Closed while we were sending: the close frame tells why.
                    if let Received::Closed(code) = ws.receive_within(REACTION).await {
                        return judge_close(code);
                    }
                }
            }
        }
    }
}

#[test]
fn fuzzed_gateway_frames_never_fail_the_server() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let world = runtime.block_on(World::new(&[]));
    let token = world.bot_token().to_owned();
    let guild = world.guild.clone();
    let seeds = fuzz::corpus("gateway");
    fuzz::run(&seeds, |_: &Case, bytes| {
        let text = String::from_utf8_lossy(&bytes)
            .replace("{token}", &token)
            .replace("{guild}", &guild);
        runtime.block_on(try_frame(&world, text.into_bytes()))
    });
    let health = runtime.block_on(reqwest::get(world.s.url("/healthz")));
    assert!(
        health.is_ok_and(|r| r.status() == 200),
        "the server stopped answering"
    );
}
