//! Webhooks over HTTP: managed with MANAGE_WEBHOOKS, executed with their
//! token alone (JSON, files, Slack's and GitHub's shapes), their messages
//! posted as the webhook, rate limited per webhook, and their tokens kept
//! out of the log.

use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, Reply, TestServer};
use serde_json::{Value, json};

use crate::{server, server_with};

const MANAGE_WEBHOOKS: u64 = 1 << 29;

fn code(reply: &Reply) -> (u16, Value) {
    (reply.status, reply.body["code"].clone())
}

/// A webhook in `channel`, made by `who`: (id, token).
async fn create(s: &TestServer, who: &Account, channel: &str, name: &str) -> (String, String) {
    let path = format!("/channels/{channel}/webhooks");
    let reply = s.post(&path, &who.auth, json!({ "name": name })).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    (id, reply.body["token"].as_str().unwrap().to_owned())
}

/// `POST` without authorization, as an integration does.
async fn execute(s: &TestServer, path: &str, body: Value) -> Reply {
    s.request("POST", path, None, Some(body)).await
}

/// The channel's newest message.
async fn newest(s: &TestServer, who: &Account, channel: &str) -> Value {
    let page = s
        .get(&format!("/channels/{channel}/messages?limit=1"), &who.auth)
        .await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    page.body[0].clone()
}

#[tokio::test]
async fn managing_webhooks_needs_manage_webhooks() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;

    let made = s
        .post(
            &format!("/channels/{general}/webhooks"),
            &ada.auth,
            json!({ "name": "CI", "avatar": "data:image/png;base64,iVBORw0KGgo=" }),
        )
        .await;
    assert_eq!(made.status, 200, "{:?}", made.body);
    let hook = made.body.clone();
    let (id, token) = (
        hook["id"].as_str().unwrap(),
        hook["token"].as_str().unwrap(),
    );
    assert_eq!(hook["type"], 1);
    assert_eq!(hook["name"], "CI");
    assert_eq!(hook["channel_id"], general.as_str());
    assert_eq!(hook["guild_id"], guild.as_str());
    assert_eq!(hook["user"]["id"], ada.id.as_str());
    assert!(hook["avatar"].as_str().is_some_and(|a| a.len() == 32));
    assert!(token.len() >= 60, "{token}");
    assert!(
        hook["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/v10/webhooks/{id}/{token}"))
    );

    // Without the permission, every managing route refuses.
    let denied = [
        s.post(
            &format!("/channels/{general}/webhooks"),
            &bob.auth,
            json!({ "name": "x" }),
        )
        .await,
        s.get(&format!("/channels/{general}/webhooks"), &bob.auth)
            .await,
        s.get(&format!("/guilds/{guild}/webhooks"), &bob.auth).await,
        s.get(&format!("/webhooks/{id}"), &bob.auth).await,
        s.patch(
            &format!("/webhooks/{id}"),
            &bob.auth,
            json!({ "name": "y" }),
        )
        .await,
        s.delete(&format!("/webhooks/{id}"), &bob.auth).await,
    ];
    for reply in denied {
        assert_eq!(code(&reply), (403, json!(50013)), "{:?}", reply.body);
    }

    // With it, through a role.
    let role = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "hooks", "permissions": MANAGE_WEBHOOKS.to_string() }),
        )
        .await;
    let role = role.body["id"].as_str().unwrap();
    let given = s
        .put(
            &format!("/guilds/{guild}/members/{}/roles/{role}", bob.id),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(given.status, 204);
    let (bobs, _) = create(&s, &bob, &general, "bob's").await;
    let listed = s
        .get(&format!("/channels/{general}/webhooks"), &bob.auth)
        .await;
    let ids: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id, bobs.as_str()]);
    let in_guild = s.get(&format!("/guilds/{guild}/webhooks"), &ada.auth).await;
    assert_eq!(in_guild.body.as_array().unwrap().len(), 2);
    assert_eq!(
        s.get(&format!("/webhooks/{id}"), &bob.auth).await.body["token"],
        token
    );

    // Edits, by id and by token; the token route shows neither token nor creator.
    let renamed = s
        .patch(
            &format!("/webhooks/{id}"),
            &ada.auth,
            json!({ "name": "Builds", "avatar": null }),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(
        (renamed.body["name"].clone(), renamed.body["avatar"].clone()),
        (json!("Builds"), Value::Null)
    );
    let by_token = format!("/webhooks/{id}/{token}");
    let read = s.request("GET", &by_token, None, None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["name"], "Builds");
    assert!(read.body.get("token").is_none() && read.body.get("user").is_none());
    let patched = s
        .request("PATCH", &by_token, None, Some(json!({ "name": "Deploys" })))
        .await;
    assert_eq!(patched.body["name"], "Deploys");
    // The last character changed, to one it cannot already be.
    let (kept, last) = token.split_at(token.len() - 1);
    let other = if last == "x" { 'y' } else { 'x' };
    let wrong = s
        .request("GET", &format!("/webhooks/{id}/{kept}{other}"), None, None)
        .await;
    assert_eq!(code(&wrong), (401, json!(50027)));
    assert_eq!(wrong.body["message"], "Invalid Webhook Token");
    let bad_name = s
        .patch(
            &format!("/webhooks/{id}"),
            &ada.auth,
            json!({ "name": "discord hook" }),
        )
        .await;
    assert_eq!(code(&bad_name), (400, json!(50035)));

    // Deleted by token, then unknown everywhere.
    assert_eq!(s.request("DELETE", &by_token, None, None).await.status, 204);
    assert_eq!(
        code(&s.request("GET", &by_token, None, None).await),
        (404, json!(10015))
    );
    assert_eq!(
        code(&s.get(&format!("/webhooks/{id}"), &ada.auth).await),
        (404, json!(10015))
    );
    assert_eq!(
        s.delete(&format!("/webhooks/{bobs}"), &ada.auth)
            .await
            .status,
        204
    );
    assert_eq!(
        s.get(&format!("/guilds/{guild}/webhooks"), &ada.auth)
            .await
            .body,
        json!([])
    );

    // Each managing write by a member is on the record.
    let log = s
        .get(&format!("/guilds/{guild}/audit-logs"), &ada.auth)
        .await;
    let actions: Vec<u64> = log.body["audit_log_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action_type"].as_u64().unwrap())
        .filter(|a| (50..=52).contains(a))
        .collect();
    assert_eq!(actions, [52, 51, 50, 50], "newest first: {:?}", log.body);
}

#[tokio::test]
async fn executing_posts_as_the_webhook() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let (id, token) = create(&s, &ada, &general, "CI").await;
    let path = format!("/webhooks/{id}/{token}");

    // Without `wait`: 204, and the message is in history.
    let sent = execute(&s, &path, json!({ "content": "build passed" })).await;
    assert_eq!((sent.status, sent.body.clone()), (204, Value::Null));
    let posted = newest(&s, &ada, &general).await;
    assert_eq!(posted["content"], "build passed");
    assert_eq!(posted["webhook_id"], id.as_str());
    assert_eq!(posted["author"]["id"], id.as_str());
    assert_eq!(posted["author"]["username"], "CI");
    assert_eq!(posted["author"]["bot"], true);
    let search = format!("/guilds/{guild}/messages/search?content=passed");
    let found = s
        .get_until(&search, &ada.auth, |r| {
            r.status == 200 && r.body["total_results"] == 1
        })
        .await;
    let hit = &found.body["messages"][0][0];
    assert_eq!(
        (hit["id"].clone(), hit["webhook_id"].clone()),
        (posted["id"].clone(), json!(id))
    );

    // With it: the message, under the overrides.
    let waited = execute(
        &s,
        &format!("{path}?wait=true"),
        json!({ "content": "hi <@&1> @everyone", "username": "Deploy bot",
                "avatar_url": "https://example.com/a.png",
                "embeds": [{ "title": "v1.2" }], "allowed_mentions": { "parse": [] } }),
    )
    .await;
    assert_eq!(waited.status, 200, "{:?}", waited.body);
    let message = waited.body.clone();
    assert_eq!(message["webhook_id"], id.as_str());
    assert_eq!(message["author"]["username"], "Deploy bot");
    assert_eq!(message["author"]["avatar"], Value::Null);
    assert_eq!(message["embeds"][0]["title"], "v1.2");
    assert_eq!(message["mention_everyone"], false, "allowed_mentions holds");
    assert_eq!(message["guild_id"], guild.as_str());
    assert_eq!(newest(&s, &ada, &general).await["id"], message["id"]);

    // Roles are mentioned, as a webhook may mention anyone.
    let role = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "oncall" }),
        )
        .await;
    let role = role.body["id"].as_str().unwrap();
    let paged = execute(
        &s,
        &format!("{path}?wait=true"),
        json!({ "content": format!("<@&{role}> <@{}>", ada.id) }),
    )
    .await;
    assert_eq!(paged.body["mention_roles"], json!([role]));
    assert_eq!(paged.body["mentions"][0]["id"], ada.id.as_str());
    assert!(paged.body.get("member").is_none());

    // Checked as any message, and the overrides as names are.
    let empty = execute(&s, &path, json!({ "content": " " })).await;
    assert_eq!(code(&empty), (400, json!(50006)));
    let long = execute(&s, &path, json!({ "content": "x".repeat(2001) })).await;
    assert_eq!(code(&long), (400, json!(50035)));
    let named = execute(&s, &path, json!({ "content": "x", "username": "Clyde" })).await;
    assert_eq!(code(&named), (400, json!(50035)));
    assert!(
        named.body["errors"]["username"].is_object(),
        "{:?}",
        named.body
    );
    let wrong = execute(
        &s,
        &format!("/webhooks/{id}/nope"),
        json!({ "content": "x" }),
    )
    .await;
    assert_eq!(code(&wrong), (401, json!(50027)));
    let unknown = execute(
        &s,
        &format!("/webhooks/1/{token}"),
        json!({ "content": "x" }),
    )
    .await;
    assert_eq!(code(&unknown), (404, json!(10015)));

    // Its own messages, edited, read and deleted through the token.
    let mid = message["id"].as_str().unwrap();
    let own = format!("{path}/messages/{mid}");
    let edited = s
        .request("PATCH", &own, None, Some(json!({ "content": "edited" })))
        .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert_eq!(edited.body["content"], "edited");
    assert!(edited.body["edited_timestamp"].is_string());
    let read = s.request("GET", &own, None, None).await;
    assert_eq!(
        (
            read.body["content"].clone(),
            read.body["webhook_id"].clone()
        ),
        (json!("edited"), json!(id))
    );
    let others = s.say(&ada, &general, "mine").await;
    let not_its = s
        .request(
            "PATCH",
            &format!("{path}/messages/{others}"),
            None,
            Some(json!({ "content": "x" })),
        )
        .await;
    assert_eq!(code(&not_its), (404, json!(10008)));
    assert_eq!(s.request("DELETE", &own, None, None).await.status, 204);
    assert_eq!(
        code(&s.request("GET", &own, None, None).await),
        (404, json!(10008))
    );

    // Into a thread of its channel, by `thread_id`.
    let thread = s
        .post(
            &format!("/channels/{general}/threads"),
            &ada.auth,
            json!({ "name": "builds", "type": 11 }),
        )
        .await;
    assert_eq!(thread.status, 201, "{:?}", thread.body);
    let thread = thread.body["id"].as_str().unwrap();
    let in_thread = execute(
        &s,
        &format!("{path}?wait=true&thread_id={thread}"),
        json!({ "content": "in thread" }),
    )
    .await;
    assert_eq!(in_thread.status, 200, "{:?}", in_thread.body);
    assert_eq!(in_thread.body["channel_id"], thread);
    assert_eq!(newest(&s, &ada, thread).await["content"], "in thread");
    let thread_message = in_thread.body["id"].as_str().unwrap();
    let edited = s
        .request(
            "PATCH",
            &format!("{path}/messages/{thread_message}?thread_id={thread}"),
            None,
            Some(json!({ "content": "again" })),
        )
        .await;
    assert_eq!(edited.body["content"], "again");
    let members = s
        .get(&format!("/channels/{thread}/thread-members"), &ada.auth)
        .await;
    assert!(
        !members.body.to_string().contains(&id),
        "a webhook joins no thread: {:?}",
        members.body
    );
    let elsewhere = execute(
        &s,
        &format!("{path}?thread_id={general}"),
        json!({ "content": "x" }),
    )
    .await;
    assert_eq!(code(&elsewhere), (404, json!(10003)));

    // A file, as multipart, through the same upload path as any message.
    let form = reqwest::multipart::Form::new()
        .text(
            "payload_json",
            json!({ "content": "log attached" }).to_string(),
        )
        .part(
            "files[0]",
            reqwest::multipart::Part::bytes(b"all green".to_vec())
                .file_name("build.log")
                .mime_str("text/plain")
                .unwrap(),
        );
    let reply = reqwest::Client::new()
        .post(s.url(&format!("/api/v10{path}?wait=true")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let with_file: Value = reply.json().await.unwrap();
    assert_eq!(with_file["attachments"][0]["filename"], "build.log");
    assert_eq!(with_file["attachments"][0]["size"], 9);
    let url = with_file["attachments"][0]["url"].as_str().unwrap();
    assert_eq!(
        reqwest::get(url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"all green"
    );

    // As `curl -F content=... -F file=@...` sends it: text fields, no JSON.
    let form = reqwest::multipart::Form::new()
        .text("content", "from curl")
        .text("username", "curl")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"),
        );
    let reply = reqwest::Client::new()
        .post(s.url(&format!("/api/v10{path}?wait=true")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let curled: Value = reply.json().await.unwrap();
    assert_eq!(
        (
            curled["content"].clone(),
            curled["author"]["username"].clone()
        ),
        (json!("from curl"), json!("curl"))
    );
    assert_eq!(curled["attachments"][0]["filename"], "x.txt");

    // Deleting its channel deletes it.
    let other = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "tmp" }),
        )
        .await;
    let other = other.body["id"].as_str().unwrap();
    let (gone, gone_token) = create(&s, &ada, other, "tmp").await;
    assert_eq!(
        s.delete(&format!("/channels/{other}"), &ada.auth)
            .await
            .status,
        200
    );
    let after = execute(
        &s,
        &format!("/webhooks/{gone}/{gone_token}"),
        json!({ "content": "x" }),
    )
    .await;
    assert_eq!(code(&after), (404, json!(10015)));
}

/// A forum holds posts alone: its webhook posts into one named by
/// `thread_id` or starts one named by `thread_name`, and without either
/// is refused as Discord refuses it.
#[tokio::test]
async fn a_forums_webhook_posts_into_its_posts() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, text) = s.guild(&ada, "Home").await;
    let forum = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "ideas", "type": 15 }),
        )
        .await;
    assert_eq!(forum.status, 201, "{:?}", forum.body);
    let forum = forum.body["id"].as_str().unwrap().to_owned();
    let (id, token) = create(&s, &ada, &forum, "Feed").await;
    let path = format!("/webhooks/{id}/{token}");

    let loose = execute(&s, &path, json!({ "content": "where to?" })).await;
    assert_eq!(code(&loose), (400, json!(220001)));
    assert_eq!(
        loose.body["message"],
        "Webhooks posted to forum channels must have a thread_name or thread_id"
    );

    let post = s
        .post(
            &format!("/channels/{forum}/threads"),
            &ada.auth,
            json!({ "name": "a post", "message": { "content": "first" } }),
        )
        .await;
    assert_eq!(post.status, 201, "{:?}", post.body);
    let post = post.body["id"].as_str().unwrap();
    let into_post = execute(
        &s,
        &format!("{path}?wait=true&thread_id={post}"),
        json!({ "content": "into the post" }),
    )
    .await;
    assert_eq!(into_post.status, 200, "{:?}", into_post.body);
    assert_eq!(into_post.body["channel_id"], post);

    // `thread_name` starts a post, the message its first, its id the post's.
    let started = execute(
        &s,
        &format!("{path}?wait=true"),
        json!({ "content": "release notes", "thread_name": "v1.2" }),
    )
    .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let new_post = started.body["channel_id"].as_str().unwrap().to_owned();
    assert_eq!(started.body["id"], new_post.as_str());
    assert_eq!(started.body["webhook_id"], id.as_str());
    let channel = s.get(&format!("/channels/{new_post}"), &ada.auth).await;
    assert_eq!(channel.body["name"], "v1.2");
    assert_eq!(channel.body["parent_id"], forum.as_str());
    assert_eq!(channel.body["owner_id"], id.as_str());
    let members = s
        .get(&format!("/channels/{new_post}/thread-members"), &ada.auth)
        .await;
    assert!(
        !members.body.to_string().contains(&id),
        "{:?}",
        members.body
    );
    let first = newest(&s, &ada, &new_post).await;
    assert_eq!(first["content"], "release notes");
    assert_eq!(first["author"]["username"], "Feed");

    let both = execute(
        &s,
        &format!("{path}?thread_id={post}"),
        json!({ "content": "x", "thread_name": "y" }),
    )
    .await;
    assert_eq!(code(&both), (400, json!(220002)));
    let (text_id, text_token) = create(&s, &ada, &text, "Text").await;
    let not_forum = execute(
        &s,
        &format!("/webhooks/{text_id}/{text_token}"),
        json!({ "content": "x", "thread_name": "y" }),
    )
    .await;
    assert_eq!(code(&not_forum), (400, json!(220003)));

    // A service's format (Slack, GitHub) cannot post into a forum at all.
    let slack = execute(&s, &format!("{path}/slack"), json!({ "text": "x" })).await;
    assert_eq!(code(&slack), (400, json!(220004)));
    let github = s
        .request_with(
            "POST",
            &format!("{path}/github?thread_id={post}"),
            None,
            Some(json!({ "action": "started", "repository": { "full_name": "o/r" } })),
            &[("x-github-event", "watch")],
        )
        .await;
    assert_eq!(code(&github), (400, json!(220004)));
}

#[tokio::test]
async fn github_and_slack_deliveries_post_as_discord_shows_them() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let (id, token) = create(&s, &ada, &general, "GitHub").await;
    let github = format!("/webhooks/{id}/{token}/github");
    let deliver = |event: &'static str, body: Value| {
        let path = github.clone();
        let s = &s;
        async move {
            s.request_with(
                "POST",
                &path,
                None,
                Some(body),
                &[("x-github-event", event)],
            )
            .await
        }
    };

    // A ping (the hook being set up) posts nothing.
    let before = newest(&s, &ada, &general).await["id"].clone();
    let ping = deliver(
        "ping",
        json!({ "zen": "Design for failure.", "hook_id": 1,
        "repository": { "full_name": "octo/repo" } }),
    )
    .await;
    assert_eq!(ping.status, 204, "{:?}", ping.body);
    assert_eq!(newest(&s, &ada, &general).await["id"], before);

    let push = json!({
        "ref": "refs/heads/main",
        "compare": "https://github.com/octo/repo/compare/1111111...2222222",
        "repository": { "full_name": "octo/repo", "html_url": "https://github.com/octo/repo" },
        "sender": { "login": "octocat", "html_url": "https://github.com/octocat",
                    "avatar_url": "https://avatars.githubusercontent.com/u/1" },
        "commits": [
            { "id": "1111111aaaa", "message": "Fix the build", "url": "https://github.com/octo/repo/commit/1111111aaaa",
              "author": { "name": "Octo Cat", "username": "octocat" } },
            { "id": "2222222bbbb", "message": "Add tests\n\nMore.", "url": "https://github.com/octo/repo/commit/2222222bbbb",
              "author": { "name": "Octo Cat", "username": "octocat" } }
        ]
    });
    assert_eq!(deliver("push", push).await.status, 204);
    let posted = newest(&s, &ada, &general).await;
    assert_eq!(posted["webhook_id"], id.as_str());
    let embed = &posted["embeds"][0];
    assert_eq!(embed["title"], "[octo/repo:main] 2 new commits");
    assert_eq!(
        embed["url"],
        "https://github.com/octo/repo/compare/1111111...2222222"
    );
    assert_eq!(embed["author"]["name"], "octocat");
    let description = embed["description"].as_str().unwrap();
    assert!(
        description.starts_with(
            "[`1111111`](https://github.com/octo/repo/commit/1111111aaaa) Fix the build - octocat"
        ),
        "{description}"
    );

    let issue = json!({ "action": "opened", "repository": { "full_name": "octo/repo" },
        "sender": { "login": "octocat" },
        "issue": { "number": 12, "title": "It breaks", "html_url": "https://github.com/octo/repo/issues/12", "body": "Steps..." } });
    assert_eq!(deliver("issues", issue).await.status, 204);
    let posted = newest(&s, &ada, &general).await;
    assert_eq!(
        posted["embeds"][0]["title"],
        "[octo/repo] Issue opened: #12 It breaks"
    );

    let wrong = s
        .request_with(
            "POST",
            &format!("/webhooks/{id}/nope/github"),
            None,
            Some(json!({})),
            &[("x-github-event", "ping")],
        )
        .await;
    assert_eq!(code(&wrong), (401, json!(50027)));

    // Slack's shape: `ok`, or the message when waited for.
    let slack = format!("/webhooks/{id}/{token}/slack");
    let body = json!({ "text": "Deployed <https://example.com|the site>", "username": "deployer",
        "attachments": [{ "title": "Build 7", "color": "good", "text": "all green" }] });
    let said = execute(&s, &slack, body.clone()).await;
    assert_eq!((said.status, said.body.clone()), (200, json!("ok")));
    let posted = newest(&s, &ada, &general).await;
    assert_eq!(
        posted["content"],
        "Deployed [the site](https://example.com)"
    );
    assert_eq!(posted["author"]["username"], "deployer");
    assert_eq!(posted["embeds"][0]["title"], "Build 7");
    let waited = execute(&s, &format!("{slack}?wait=true"), body).await;
    assert_eq!(waited.body["webhook_id"], id.as_str());
}

#[tokio::test]
async fn executions_are_limited_per_webhook() {
    let s = server_with(&["--rate-limits", "on"]);
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let (id, token) = create(&s, &ada, &general, "CI").await;
    let path = format!("/webhooks/{id}/{token}");
    // However slow this machine, a refusal comes only once a window's five
    // executions are spent: the one before it had none remaining.
    let mut previous: Option<Reply> = None;
    let mut sent = 0;
    let limited = loop {
        // Each different: the same content again would meet the flood check.
        sent += 1;
        let reply = execute(&s, &path, json!({ "content": format!("tick {sent}") })).await;
        if reply.status == 429 {
            break reply;
        }
        assert_eq!(reply.status, 204, "{:?}", reply.body);
        assert_eq!(reply.header("x-ratelimit-limit"), Some("5"));
        previous = Some(reply);
    };
    let previous = previous.expect("five went through first");
    assert_eq!(previous.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(limited.body["message"], "You are being rate limited.");
    assert_eq!(limited.body["global"], false);
    let retry = limited.body["retry_after"].as_f64().unwrap();
    assert!(retry > 0.0 && retry <= 2.0, "{retry}");
    assert!(limited.header("retry-after").is_some());
    assert_eq!(limited.header("x-ratelimit-limit"), Some("5"));
    // Another webhook is counted apart.
    let (other, other_token) = create(&s, &ada, &general, "Other").await;
    let other = execute(
        &s,
        &format!("/webhooks/{other}/{other_token}"),
        json!({ "content": "x" }),
    )
    .await;
    assert_eq!(other.status, 204, "{:?}", other.body);
}

#[tokio::test]
async fn the_token_is_never_logged() {
    crate::check_replies();
    let mut s = TestServer::start_logging(env!("CARGO_BIN_EXE_concord"), "trace", &[]);
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let (id, token) = create(&s, &ada, &general, "CI").await;
    let path = format!("/webhooks/{id}/{token}");
    assert_eq!(
        execute(&s, &path, json!({ "content": "x" })).await.status,
        204
    );
    let refused = execute(&s, &path, json!({ "content": "x".repeat(3000) })).await;
    assert_eq!(refused.status, 400);
    let messages = format!("{path}/messages/1");
    assert_eq!(
        s.request("PATCH", &messages, None, Some(json!({ "content": "y" })))
            .await
            .status,
        404
    );
    s.request_with(
        "POST",
        &format!("{path}/github"),
        None,
        Some(json!({})),
        &[("x-github-event", "ping")],
    )
    .await;
    assert_eq!(s.request("DELETE", &path, None, None).await.status, 204);
    // Metrics name the route, never the path it was called by.
    let metrics = s.metrics().await;
    assert!(metrics.contains("{webhook_token}"), "{metrics}");
    assert!(!metrics.contains(&token), "the token is in the metrics");
    let log = s.stop_and_read_log();
    assert!(
        log.lines().count() > 10,
        "the server logged at trace: {log}"
    );
    assert!(!log.contains(&token), "the token was logged");
}

#[tokio::test]
async fn gateway_sessions_hear_of_webhooks_and_their_messages() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.receive().await;
    ws.send(json!({ "op": 2, "d": { "token": ada.auth, "properties": {} } }))
        .await;
    ws.dispatch("READY").await;

    let (id, token) = create(&s, &ada, &general, "CI").await;
    let update = ws.dispatch("WEBHOOKS_UPDATE").await;
    assert_eq!(
        update["d"],
        json!({ "guild_id": guild, "channel_id": general })
    );

    let sent = execute(
        &s,
        &format!("/webhooks/{id}/{token}"),
        json!({ "content": "deployed", "username": "Deployer" }),
    )
    .await;
    assert_eq!(sent.status, 204);
    let created = ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["content"], "deployed");
    assert_eq!(created["d"]["webhook_id"], id.as_str());
    assert_eq!(created["d"]["author"]["id"], id.as_str());
    assert_eq!(created["d"]["author"]["username"], "Deployer");
    assert!(
        created["d"].get("member").is_none(),
        "a webhook is no member"
    );

    s.patch(
        &format!("/webhooks/{id}"),
        &ada.auth,
        json!({ "name": "Builds" }),
    )
    .await;
    assert_eq!(
        ws.dispatch("WEBHOOKS_UPDATE").await["d"]["channel_id"],
        general.as_str()
    );
    s.delete(&format!("/webhooks/{id}"), &ada.auth).await;
    assert_eq!(
        ws.dispatch("WEBHOOKS_UPDATE").await["d"]["channel_id"],
        general.as_str()
    );
}

/// A webhook's `components` count only with `with_components`, and then
/// link buttons alone: anything someone could click for an interaction is
/// refused with 50035 at its path, on execute and on edit alike.
#[tokio::test]
async fn components_need_with_components_and_are_links_alone() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let (id, token) = create(&s, &ada, &general, "CI").await;
    let hook = format!("/webhooks/{id}/{token}");
    let link = json!({ "type": 2, "style": 5, "label": "Build", "url": "https://ci.example/1" });
    let button = json!({ "type": 2, "style": 1, "label": "Retry", "custom_id": "retry" });
    let links = json!([{ "type": 1, "components": [link] }]);
    let mixed = json!([{ "type": 1, "components": [link, button] }]);

    // Without the parameter they are ignored, even a button.
    let body = json!({ "content": "plain", "components": mixed });
    let reply = execute(&s, &format!("{hook}?wait=true"), body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["components"], json!([]));

    // With it, link buttons are kept ...
    let body = json!({ "content": "linked", "components": links });
    let path = format!("{hook}?wait=true&with_components=true");
    let reply = execute(&s, &path, body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let message = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.body["components"][0]["components"][0]["url"],
        "https://ci.example/1"
    );
    assert_eq!(
        newest(&s, &ada, &general).await["components"],
        reply.body["components"]
    );

    // ... and an interactive one is refused, naming it.
    let body = json!({ "content": "clicky", "components": mixed });
    let reply = execute(&s, &path, body).await;
    assert_eq!(code(&reply), (400, json!(50035)), "{:?}", reply.body);
    let at = &reply.body["errors"]["components"]["0"]["components"];
    assert!(at["1"]["_errors"].is_array(), "{:?}", reply.body);
    assert!(at["0"].is_null(), "the link is fine: {:?}", reply.body);
    assert_eq!(newest(&s, &ada, &general).await["id"], message.as_str());

    // Editing the webhook's message follows the same rule.
    let own = format!("{hook}/messages/{message}");
    let edit = |path: String, body: Value| {
        let s = &s;
        async move { s.request("PATCH", &path, None, Some(body)).await }
    };
    let reply = edit(own.clone(), json!({ "components": mixed })).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body["components"][0]["components"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let with = format!("{own}?with_components=true");
    let reply = edit(with.clone(), json!({ "components": mixed })).await;
    assert_eq!(code(&reply), (400, json!(50035)), "{:?}", reply.body);
    let reply = edit(with, json!({ "components": [] })).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["components"], json!([]));
}

/// A multipart body (boundary `part`) of `payload` and `files` (field
/// name, file name, bytes).
fn multipart(payload: &Value, files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = format!(
        "--part\r\ncontent-disposition: form-data; name=\"payload_json\"\r\n\
         content-type: application/json\r\n\r\n{payload}\r\n"
    )
    .into_bytes();
    for (field, name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--part\r\ncontent-disposition: form-data; name=\"{field}\"; \
                 filename=\"{name}\"\r\ncontent-type: text/plain\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--part--\r\n");
    body
}

const FORM: &str = "multipart/form-data; boundary=part";

/// `attachments` in `payload_json` names each file by the `n` of its
/// `files[n]` and gives it a description (alt text) and a filename in
/// place of the part's, on execute, on an edit of the webhook's message
/// and on any message; a description over 1024 characters is refused.
#[tokio::test]
async fn attachments_carry_their_descriptions_and_filenames() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let (id, token) = create(&s, &ada, &general, "CI").await;
    let hook = format!("/webhooks/{id}/{token}");

    // Listed out of order, the id a string for one and a number for the
    // other, as libraries send them.
    let payload = json!({ "content": "logs", "attachments": [
        { "id": "1", "description": "The test report" },
        { "id": 0, "filename": "build.log", "description": "The build log" },
    ] });
    let files = [
        ("files[0]", "a.txt", &b"built"[..]),
        ("files[1]", "b.txt", b"tested"),
    ];
    let path = format!("{hook}?wait=true");
    let reply = s
        .raw("POST", &path, None, FORM, multipart(&payload, &files))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let sent = &reply.body["attachments"];
    assert_eq!(sent[0]["filename"], "build.log");
    assert_eq!(sent[0]["description"], "The build log");
    assert_eq!(sent[0]["size"], 5);
    assert_eq!(sent[1]["filename"], "b.txt");
    assert_eq!(sent[1]["description"], "The test report");
    let message = reply.body["id"].as_str().unwrap().to_owned();
    let read = newest(&s, &ada, &general).await;
    assert_eq!(read["attachments"][1]["description"], "The test report");

    // An edit through the token keeps the files its list names and adds
    // a described one after them.
    let (log, report) = (sent[0]["id"].clone(), sent[1]["id"].clone());
    let payload = json!({ "attachments": [
        { "id": log }, { "id": report },
        { "id": 0, "filename": "coverage.txt", "description": "Coverage" },
    ] });
    let files = [("files[0]", "c.txt", &b"91%"[..])];
    let own = format!("{hook}/messages/{message}");
    let reply = s
        .raw("PATCH", &own, None, FORM, multipart(&payload, &files))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let edited = &reply.body["attachments"];
    assert_eq!(edited.as_array().unwrap().len(), 3, "{edited:?}");
    assert_eq!(edited[2]["filename"], "coverage.txt");
    assert_eq!(edited[2]["description"], "Coverage");
    assert_eq!(edited[0]["description"], "The build log");
    // A list that leaves a file out takes it off; no list keeps them all.
    let kept = s
        .patch(&own, "", json!({ "attachments": [{ "id": report }] }))
        .await;
    assert_eq!(kept.status, 200, "{:?}", kept.body);
    let ids: Vec<_> = kept.body["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, std::slice::from_ref(&report));
    let untouched = s
        .patch(&own, "", json!({ "content": "logs, trimmed" }))
        .await;
    assert_eq!(untouched.body["attachments"][0]["id"], report);
    let read = newest(&s, &ada, &general).await;
    assert_eq!(read["attachments"].as_array().unwrap().len(), 1);

    // A person's message reads them the same way.
    let payload = json!({ "attachments": [{ "id": 0, "description": "A note" }] });
    let files = [("files[0]", "note.txt", &b"hi"[..])];
    let path = format!("/channels/{general}/messages");
    let body = multipart(&payload, &files);
    let reply = s.raw("POST", &path, Some(&ada.auth), FORM, body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["attachments"][0]["description"], "A note");

    let long = "x".repeat(1025);
    let payload = json!({ "attachments": [{ "id": 0, "description": long }] });
    let files = [("files[0]", "a.txt", &b"x"[..])];
    let reply = s
        .raw("POST", &hook, None, FORM, multipart(&payload, &files))
        .await;
    assert_eq!(code(&reply), (400, json!(50035)), "{:?}", reply.body);
    let error = &reply.body["errors"]["attachments"]["0"]["description"]["_errors"][0];
    assert_eq!(error["code"], "BASE_TYPE_MAX_LENGTH", "{:?}", reply.body);
}

/// A forum's webhook starting a post tags it with the forum's tags, and is
/// held to the forum's rule that a post carries one.
#[tokio::test]
async fn a_forums_webhook_tags_the_posts_it_starts() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, _) = s.guild(&ada, "Home").await;
    let forum = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "releases", "type": 15, "flags": 16, "available_tags": [{ "name": "stable" }] }),
        )
        .await;
    assert_eq!(forum.status, 201, "{:?}", forum.body);
    let stable = forum.body["available_tags"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let forum = forum.body["id"].as_str().unwrap().to_owned();
    let (id, token) = create(&s, &ada, &forum, "Feed").await;
    let path = format!("/webhooks/{id}/{token}?wait=true");
    let untagged = execute(&s, &path, json!({ "content": "v2", "thread_name": "v2" })).await;
    assert_eq!(code(&untagged), (400, json!(40067)));
    let tagged = execute(
        &s,
        &path,
        json!({ "content": "v2", "thread_name": "v2", "applied_tags": [stable] }),
    )
    .await;
    assert_eq!(tagged.status, 200, "{:?}", tagged.body);
    let post = tagged.body["channel_id"].as_str().unwrap();
    let read = s.get(&format!("/channels/{post}"), &ada.auth).await;
    assert_eq!(read.body["applied_tags"], json!([stable]));
}
