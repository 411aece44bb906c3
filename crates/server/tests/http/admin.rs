//! Registration modes, the setup token, and the admin command line run
//! against a live server.

use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, TestServer};
use serde_json::{Value, json};

use crate::{single_server, single_server_with};

/// Runs `concord ARGS` against the server; (success, stdout, stderr).
fn concord(s: &TestServer, args: &[&str], stdin: &str) -> (bool, String, String) {
    let out = s.command(args, stdin);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(s: &TestServer, args: &[&str]) -> String {
    let (success, stdout, stderr) = concord(s, args, "");
    assert!(success, "concord {args:?} failed: {stderr}");
    stdout
}

fn registration(name: &str, extra: Value) -> Value {
    let mut body = json!({ "username": name, "password": format!("password-{name}") });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

async fn register(s: &TestServer, name: &str, extra: Value) -> (u16, Value) {
    let reply = s
        .request(
            "POST",
            "/auth/register",
            None,
            Some(registration(name, extra)),
        )
        .await;
    (reply.status, reply.body)
}

fn field_code(body: &Value, field: &str) -> String {
    let errors = match field {
        "" => &body["errors"],
        field => &body["errors"][field],
    };
    errors["_errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn login(s: &TestServer, name: &str, password: &str) -> (u16, Value) {
    let body = json!({ "login": name, "password": password });
    let reply = s.request("POST", "/auth/login", None, Some(body)).await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn closed_and_token_modes_take_one_time_tokens() {
    for mode in ["closed", "token"] {
        let s = single_server_with(&["--registration", mode]);
        let (status, body) = register(&s, "walk-in", json!({})).await;
        assert_eq!(status, 400, "{mode}: {body}");
        let expected = match mode {
            "closed" => ("", "REGISTRATION_CLOSED"),
            _ => ("registration_token", "REGISTRATION_TOKEN_REQUIRED"),
        };
        assert_eq!(field_code(&body, expected.0), expected.1, "{body}");

        let token = ok(&s, &["token", "create"]).trim().to_owned();
        assert!(token.len() >= 20, "{token}");
        let with = json!({ "registration_token": token });
        let (status, _) = register(&s, "invited", with.clone()).await;
        assert_eq!(status, 201);
        let (status, body) = register(&s, "second", with).await;
        assert_eq!(status, 400, "a token is used once");
        assert_eq!(
            field_code(&body, "registration_token"),
            "REGISTRATION_TOKEN_INVALID"
        );

        // A refused account gives its token back.
        let token = ok(&s, &["token", "create"]).trim().to_owned();
        let with = json!({ "registration_token": token });
        let (status, body) = register(&s, "invited", with.clone()).await;
        assert_eq!(status, 400);
        assert_eq!(field_code(&body, "username"), "USERNAME_ALREADY_TAKEN");
        assert_eq!(register(&s, "third", with).await.0, 201);
    }
}

#[tokio::test]
async fn invite_mode_needs_an_invite_and_joins_its_guild() {
    let s = single_server_with(&["--registration", "invite"]);
    let (status, body) = register(&s, "walk-in", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(field_code(&body, "invite"), "INVITE_REQUIRED");
    let (status, body) = register(&s, "walk-in", json!({ "invite": "nope" })).await;
    assert_eq!(status, 400);
    assert_eq!(field_code(&body, "invite"), "INVITE_INVALID");

    let (success, stdout, stderr) = concord(
        &s,
        &["user", "create", "host", "--password-stdin"],
        "a long enough password\n",
    );
    assert!(success, "{stderr}");
    assert!(stdout.contains("host"), "{stdout}");
    assert!(
        !stdout.contains("password:"),
        "a given password is not printed"
    );
    let (status, body) = login(&s, "host", "a long enough password").await;
    assert_eq!(status, 200, "{body}");
    let host = Account {
        id: body["user_id"].as_str().unwrap().to_owned(),
        auth: body["token"].as_str().unwrap().to_owned(),
    };
    let (guild_id, channel) = s.guild(&host, "club").await;
    let invite = s
        .post(
            &format!("/channels/{channel}/invites"),
            &host.auth,
            json!({}),
        )
        .await;
    let code = invite.body["code"].as_str().unwrap();

    let (status, body) = register(&s, "guest", json!({ "invite": code })).await;
    assert_eq!(status, 201, "{body}");
    let guest = body["token"].as_str().unwrap();
    let guilds = s.get("/users/@me/guilds", guest).await;
    assert_eq!(
        guilds.body[0]["id"],
        guild_id.as_str(),
        "joined by registering"
    );
}

/// The setup token the server printed, once it has been read.
async fn printed_setup_token(s: &TestServer) -> Option<String> {
    // The server prints before it serves: an answer means it is printed.
    assert_eq!(s.get("/gateway", "").await.status, 200);
    for _ in 0..50 {
        let token = s.printed().iter().find_map(|l| {
            l.trim()
                .strip_prefix("registration token: ")
                .map(str::to_owned)
        });
        if token.is_some() {
            return token;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test]
async fn the_setup_token_makes_the_first_admin_once() {
    let mut s = single_server();
    let setup = printed_setup_token(&s)
        .await
        .expect("a setup token is printed");

    let plain = s.register("plain").await;
    assert_eq!(s.get("/admin/stats", &plain.auth).await.status, 403);
    let (status, body) = register(&s, "root", json!({ "registration_token": setup })).await;
    assert_eq!(status, 201, "{body}");
    let root = body["token"].as_str().unwrap().to_owned();
    let stats = s.get("/admin/stats", &root).await;
    assert_eq!(stats.status, 200, "{:?}", stats.body);
    assert_eq!(stats.body["users"], 2);
    assert_eq!(stats.body["admins"], 1);
    assert_eq!(s.get("/admin/stats", "").await.status, 401);
    let forged = s
        .request_with("GET", "/admin/stats", Some("Control forged"), None, &[])
        .await;
    assert_eq!(forged.status, 401);

    s.restart();
    assert_eq!(
        printed_setup_token(&s).await,
        None,
        "not once an admin exists"
    );
    let (status, _) = register(&s, "late", json!({ "registration_token": setup })).await;
    assert_eq!(status, 400, "the setup token is spent");
}

#[tokio::test]
async fn admin_commands_manage_users_and_guilds() {
    let s = single_server();
    let ada = s.register("ada").await;
    let (guild_id, _) = s.guild(&ada, "doomed").await;

    let listed = ok(&s, &["user", "list"]);
    assert!(
        listed.contains(&ada.id) && listed.contains("ada@example.org"),
        "{listed}"
    );

    let created = ok(&s, &["user", "create", "bob", "--email", "bob@example.org"]);
    let password = created
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("generated password printed: {created}"))
        .to_owned();
    assert_eq!(login(&s, "bob", &password).await.0, 200);

    let (success, _, stderr) = concord(
        &s,
        &["user", "reset-password", "ada", "--password-stdin"],
        "brand new secret\n",
    );
    assert!(success, "{stderr}");
    assert_eq!(
        s.get("/users/@me", &ada.auth).await.status,
        401,
        "old tokens revoked"
    );
    assert_eq!(login(&s, "ada", "password-ada").await.0, 400);
    let (status, body) = login(&s, "ada", "brand new secret").await;
    assert_eq!(status, 200);
    let ada_token = body["token"].as_str().unwrap().to_owned();

    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.identify(&ada_token, 0).await;
    ws.dispatch("READY").await;
    ok(&s, &["user", "disable", &ada.id]);
    assert!(
        ws.closed().await.is_some(),
        "a disabled user's connection is closed"
    );
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.identify(&ada_token, 0).await;
    assert_eq!(ws.closed().await, Some(4004), "and cannot come back");
    assert_eq!(s.get("/users/@me", &ada_token).await.status, 401);
    let (status, body) = login(&s, "ada", "brand new secret").await;
    assert_eq!(status, 400);
    assert_eq!(field_code(&body, "login"), "ACCOUNT_DISABLED");
    assert!(ok(&s, &["user", "list"]).contains("disabled"));
    ok(&s, &["user", "enable", "ada"]);
    let (status, body) = login(&s, "ada", "brand new secret").await;
    assert_eq!(status, 200);
    let ada_token = body["token"].as_str().unwrap().to_owned();

    assert_eq!(s.get("/admin/users", &ada_token).await.status, 403);
    ok(&s, &["user", "make-admin", "ada@example.org"]);
    let users = s.get("/admin/users", &ada_token).await;
    assert_eq!(users.status, 200);
    assert_eq!(users.body.as_array().unwrap().len(), 2);

    let guilds = ok(&s, &["guild", "list"]);
    assert!(
        guilds.contains(&guild_id) && guilds.contains("doomed"),
        "{guilds}"
    );
    let stats = ok(&s, &["stats"]);
    assert!(
        stats.contains("guilds: 1") && stats.contains("users: 2"),
        "{stats}"
    );
    ok(&s, &["guild", "delete", &guild_id]);
    let gone = s.get(&format!("/guilds/{guild_id}"), &ada_token).await;
    assert_eq!(gone.status, 404);
    assert!(ok(&s, &["stats"]).contains("guilds: 0"));
}

#[tokio::test]
async fn admin_commands_fail_clearly() {
    let s = single_server();
    let cases: &[(&[&str], &str)] = &[
        (&["user", "disable", "nobody"], "Unknown User"),
        (&["guild", "delete", "abc"], "snowflake"),
        (&["guild", "delete", "1"], "Unknown Guild"),
        (&["user", "create", "has space"], "invalid characters"),
        (&["user", "frobnicate"], "unrecognized subcommand"),
    ];
    for (args, expected) in cases {
        let (success, _, stderr) = concord(&s, args, "");
        assert!(!success, "{args:?} must fail");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let (success, _, stderr) = concord(&s, &["user", "create", "x1", "--password-stdin"], "");
    assert!(!success && stderr.contains("no password"), "{stderr}");
    for help in [
        &["user", "--help"][..],
        &["token", "create", "--help"],
        &["guild", "--help"],
        &["stats", "--help"],
    ] {
        let (success, stdout, _) = concord(&s, help, "");
        assert!(success && stdout.contains("Usage"), "{help:?}: {stdout}");
    }

    // Only the server's own user may read the control token.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let token = std::fs::metadata(s.data_dir().join("control.token")).unwrap();
        assert_eq!(token.permissions().mode() & 0o777, 0o600);
    }

    // No server at that address: the command says so and fails.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(["stats", "--listen", "127.0.0.1:9", "--data-dir"])
        .arg(s.data_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no concord server answers"), "{stderr}");
}
