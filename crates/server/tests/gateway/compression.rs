use concord_testkit::gateway::GatewayClient;

use crate::{DEFAULT_INTENTS, MESSAGE_CONTENT, World};

async fn round_trip(compress: &str) {
    let w = World::new(&[]).await;
    let mut ws = GatewayClient::connect(
        &w.s.ws_url(),
        &format!("v=10&encoding=json&compress={compress}"),
    )
    .await;
    assert_eq!(ws.receive().await["op"], 10);
    ws.identify(w.bot_token(), DEFAULT_INTENTS | MESSAGE_CONTENT)
        .await;
    ws.dispatch("READY").await;
    ws.dispatch("GUILD_CREATE").await;
    for i in 0..20 {
        let text = format!("compressed {i} {}", "many words ".repeat(i * 8));
        w.say(&text).await;
        assert_eq!(
            ws.dispatch("MESSAGE_CREATE").await["d"]["content"],
            text.as_str()
        );
    }
    assert_eq!(ws.text_frames, 0, "with compression every frame is binary");
    assert!(ws.binary_frames >= 23);
}

#[tokio::test]
async fn zlib_stream() {
    round_trip("zlib-stream").await;
}

#[tokio::test]
async fn zstd_stream() {
    round_trip("zstd-stream").await;
}

#[tokio::test]
async fn unknown_compression_is_plain_text() {
    let w = World::new(&[]).await;
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10&compress=brotli").await;
    assert_eq!(ws.receive().await["op"], 10);
    assert_eq!((ws.text_frames, ws.binary_frames), (1, 0));
}
