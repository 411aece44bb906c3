use crate::single_server;

#[tokio::test]
async fn healthz_and_metrics() {
    let s = single_server();
    let health = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
    let ready = reqwest::get(s.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["checks"][0]["name"], "store");
    assert_eq!(ready["checks"][0]["detail"], "open");
    assert_eq!(ready["checks"][1]["name"], "search");
    assert_eq!(ready["checks"][1]["required"], false);
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

/// `concord config check` accepts the example and explains each mistake.
#[test]
fn config_files_are_checked() {
    let check = |file: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_concord"))
            .args(["config", "check"])
            .arg(file)
            .output()
            .expect("run concord config check");
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), said)
    };
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../concord.example.toml");
    let (ok, said) = check(&example);
    assert!(ok && said.contains(": ok"), "{said}");

    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("worker_id = 99\n", "worker_id: must be between 0 and 31"),
        (
            "listen = \"127.0.0.1:1\"\nwrokers = 3\n",
            "unknown field `wrokers`",
        ),
        ("fsync = 3\n", "line 1, column 9"),
        ("listen = \"nowhere\"\n", "line 1"),
    ] {
        let file = dir.path().join("concord.toml");
        std::fs::write(&file, text).unwrap();
        let (ok, said) = check(&file);
        assert!(!ok, "{text}");
        assert!(said.contains(expected), "{text}: {said}");
    }
    let (ok, said) = check(&dir.path().join("missing.toml"));
    assert!(!ok && said.contains("missing.toml"), "{said}");
}

/// `/metrics` is for this machine (or the metrics token) by default; a
/// request a proxy forwarded is not from this machine, even though the
/// proxy connects from loopback.
#[tokio::test]
async fn metrics_refuses_remote_without_token() {
    let s = crate::server_with(&[
        "--metrics-token",
        "scrape-secret",
        "--trust-forwarded-for",
        "on",
    ]);
    let client = reqwest::Client::new();
    let status = |auth: Option<&'static str>, forwarded: bool| {
        let mut request = client.get(s.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if forwarded {
            request = request.header("x-forwarded-for", "203.0.113.9");
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(None, false).await, 200, "from loopback");
    assert_eq!(status(None, true).await, 403, "forwarded from elsewhere");
    assert_eq!(status(Some("Bearer wrong"), true).await, 403);
    assert_eq!(status(Some("Bearer scrape-secret"), true).await, 200);
    let open = crate::server_with(&["--metrics", "open"]);
    let forwarded = client
        .get(open.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), 200, "open to all");
}
