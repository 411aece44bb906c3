use crate::server;

#[tokio::test]
async fn healthz_and_metrics() {
    let s = server();
    let health = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    s.say(&ada, &general, "counted").await;
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("concord_messages_created_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("concord_http_requests_total{method=\"POST\",route=\"/api/v10/channels/{channel_id}/messages\",status=\"200\"} 1"), "{metrics}");
    assert!(metrics.contains("concord_http_request_seconds"));
}

/// flags > CONCORD_* environment > config file > defaults.
#[tokio::test]
async fn configuration_layers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("concord.toml");
    std::fs::write(
        &file,
        "rate_limits = \"on\"\nmessage_rate_limit = 2\nmessage_rate_window_ms = 60000\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let sends_allowed = |s: concord_testkit::TestServer| async move {
        let ada = s.register("ada").await;
        let (_, general) = s.guild(&ada, "Home").await;
        let mut allowed = 0;
        for _ in 0..4 {
            let reply = s
                .post(
                    &format!("/channels/{general}/messages"),
                    &ada.auth,
                    serde_json::json!({ "content": "x" }),
                )
                .await;
            allowed += usize::from(reply.status == 200);
        }
        allowed
    };
    // The test server sets CONCORD_RATE_LIMITS=off, which beats the file.
    assert_eq!(
        sends_allowed(crate::server_with(&["--config", file])).await,
        4
    );
    // A flag beats the environment; the file's message limit still applies.
    assert_eq!(
        sends_allowed(crate::server_with(&[
            "--config",
            file,
            "--rate-limits",
            "on"
        ]))
        .await,
        2
    );
}
