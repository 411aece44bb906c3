//! Files sent with messages: multipart upload, durable content-addressed
//! storage, serving, size limits, ATTACH_FILES, and freeing on delete.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, TestServer};
use serde_json::{Value, json};

use crate::{server, server_with};

/// A 3×2 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAEElEQVR4nGP4z8AAQQxwFgBB0gX7h/C5SAAAAABJRU5ErkJggg==";
const ATTACH_FILES: u64 = 1 << 15;

fn png() -> Vec<u8> {
    STANDARD.decode(PNG).unwrap()
}

/// Posts a message with `files` (name, type, bytes) as discord.py does.
async fn send_files(
    s: &TestServer,
    who: &Account,
    channel: &str,
    content: &str,
    files: &[(&str, &str, Vec<u8>)],
) -> (u16, Value) {
    let attachments: Vec<Value> = (0..files.len())
        .map(|i| json!({ "id": i, "filename": files[i].0 }))
        .collect();
    let payload = json!({ "content": content, "attachments": attachments });
    let mut form = reqwest::multipart::Form::new().text("payload_json", payload.to_string());
    for (i, (name, kind, bytes)) in files.iter().enumerate() {
        let part = reqwest::multipart::Part::bytes(bytes.clone())
            .file_name(name.to_string())
            .mime_str(kind)
            .unwrap();
        form = form.part(format!("files[{i}]"), part);
    }
    let reply = reqwest::Client::new()
        .post(s.url(&format!("/api/v10/channels/{channel}/messages")))
        .header("authorization", &who.auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

async fn fetch(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let reply = reqwest::get(url).await.unwrap();
    let status = reply.status().as_u16();
    let headers = reply.headers().clone();
    (status, headers, reply.bytes().await.unwrap().to_vec())
}

fn blob_files(s: &TestServer) -> usize {
    let dir = s.data_dir().join("attachments");
    let Ok(fans) = std::fs::read_dir(dir) else {
        return 0;
    };
    fans.flatten()
        .map(|fan| std::fs::read_dir(fan.path()).unwrap().count())
        .sum()
}

#[tokio::test]
async fn files_are_stored_once_served_and_freed_with_their_last_message() {
    let mut s = server();
    let ada = s.register("ada").await;
    let (guild, channel) = s.guild(&ada, "files").await;
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.identify(&ada.auth, 1 | (1 << 9) | (1 << 15)).await;
    ws.dispatch("READY").await;

    let files = [
        ("red dot.png", "image/png", png()),
        (
            "notes.html",
            "text/html",
            b"<script>alert(1)</script>".to_vec(),
        ),
    ];
    let (status, first) = send_files(&s, &ada, &channel, "look", &files).await;
    assert_eq!(status, 200, "{first}");
    let image = &first["attachments"][0];
    assert_eq!(image["filename"], "red_dot.png");
    assert_eq!(image["size"], png().len());
    assert_eq!(image["content_type"], "image/png");
    assert_eq!(
        (image["width"].clone(), image["height"].clone()),
        (3.into(), 2.into())
    );
    assert!(first["attachments"][1]["width"].is_null());
    let event = ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(event["d"]["attachments"][0]["id"], image["id"]);

    // Acknowledged means durable: the file outlives a kill -9.
    s.restart();
    let history = s
        .get(&format!("/channels/{channel}/messages"), &ada.auth)
        .await;
    let kept = &history.body[0]["attachments"];
    assert_eq!(kept[0]["id"], image["id"]);
    let image_url = kept[0]["url"].as_str().unwrap().to_owned();
    assert!(
        image_url.starts_with(&s.url("/attachments/")),
        "{image_url}"
    );
    let (status, headers, bytes) = fetch(&image_url).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, png());
    assert_eq!(headers["content-type"], "image/png");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    let page_url = kept[1]["url"].as_str().unwrap().to_owned();
    let (_, headers, _) = fetch(&page_url).await;
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
        "a page is downloaded, never rendered"
    );
    assert_eq!(
        headers["content-type"], "application/octet-stream",
        "nor loaded as a script"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");

    // The same image again shares the blob.
    let (status, second) = send_files(&s, &ada, &channel, "", &files[..1]).await;
    assert_eq!(status, 200, "a message of files alone is not empty");
    assert_eq!(blob_files(&s), 2);
    // Search knows what the messages carry.
    for (has, expected) in [("file", 2), ("image", 2), ("sound", 0), ("-file", 0)] {
        let path = format!("/channels/{channel}/messages/search?has={has}");
        let found = s
            .get_until(&path, &ada.auth, |r| {
                r.status == 200 && r.body["total_results"] == expected
            })
            .await;
        assert_eq!(found.body["total_results"], expected, "has={has}");
    }
    let first_id = first["id"].as_str().unwrap();
    let deleted = s
        .delete(
            &format!("/channels/{channel}/messages/{first_id}"),
            &ada.auth,
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        fetch(&image_url).await.0,
        404,
        "the attachment went with its message"
    );
    assert_eq!(fetch(&page_url).await.0, 404);
    assert_eq!(
        blob_files(&s),
        1,
        "the page's blob is freed, the shared image is not"
    );
    let second_url = second["attachments"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&second_url).await.2, png());
    let second_id = second["id"].as_str().unwrap();
    s.delete(
        &format!("/channels/{channel}/messages/{second_id}"),
        &ada.auth,
    )
    .await;
    assert_eq!(blob_files(&s), 0);
    assert_eq!(fetch(&second_url).await.0, 404);
    assert_eq!(fetch(&s.url("/attachments/1/2/x.png")).await.0, 404);

    // Deleting a channel frees the files of all its messages.
    let doomed = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "doomed" }),
        )
        .await;
    let doomed = doomed.body["id"].as_str().unwrap().to_owned();
    send_files(&s, &ada, &doomed, "bye", &files).await;
    send_files(&s, &ada, &channel, "stays", &files[..1]).await;
    assert_eq!(blob_files(&s), 2);
    assert_eq!(
        s.delete(&format!("/channels/{doomed}"), &ada.auth)
            .await
            .status,
        200
    );
    assert_eq!(
        blob_files(&s),
        1,
        "only the image still sent in #files stays"
    );
}

#[tokio::test]
async fn oversized_files_and_missing_permission_are_refused() {
    let s = server_with(&["--attachment-max-bytes", "100"]);
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let (guild, channel) = s.guild(&ada, "strict").await;
    s.join(&ada, &channel, &bob).await;

    let big = vec![7u8; 101];
    let (status, body) = send_files(
        &s,
        &ada,
        &channel,
        "big",
        &[("big.bin", "application/octet-stream", big)],
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (413, 40005.into()),
        "{body}"
    );
    let (status, _) = send_files(
        &s,
        &ada,
        &channel,
        "fits",
        &[("ok.png", "image/png", png())],
    )
    .await;
    assert_eq!(status, 200);
    let history = s
        .get(&format!("/channels/{channel}/messages"), &ada.auth)
        .await;
    let sent: Vec<&str> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == 0)
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ["fits"], "the refused message was not kept");

    let deny = json!({ "type": 0, "allow": "0", "deny": ATTACH_FILES.to_string() });
    let reply = s
        .put(
            &format!("/channels/{channel}/permissions/{guild}"),
            &ada.auth,
            deny,
        )
        .await;
    assert_eq!(reply.status, 204);
    let (status, body) = send_files(
        &s,
        &bob,
        &channel,
        "sneaky",
        &[("ok.png", "image/png", png())],
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (403, 50013.into()),
        "{body}"
    );
    // say() asserts the text message is accepted.
    s.say(&bob, &channel, "text is still fine").await;

    let eleven: Vec<(&str, &str, Vec<u8>)> = (0..11)
        .map(|_| ("a.txt", "text/plain", b"a".to_vec()))
        .collect();
    let (status, _) = send_files(&s, &ada, &channel, "many", &eleven).await;
    assert_eq!(status, 400);
}
