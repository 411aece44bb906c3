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
