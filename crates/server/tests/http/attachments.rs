//! Files sent with messages: multipart upload, durable content-addressed
//! storage, serving, size limits, ATTACH_FILES, and freeing on delete.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, TestServer};
use serde_json::{Value, json};

use crate::{single_server, single_server_with};

/// A 3×2 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAEElEQVR4nGP4z8AAQQxwFgBB0gX7h/C5SAAAAABJRU5ErkJggg==";
const ATTACH_FILES: u64 = 1 << 15;

fn png() -> Vec<u8> {
    STANDARD.decode(PNG).unwrap()
}

/// Posts a message with `files` (name, type, bytes) as discord.py does.
pub(crate) async fn send_files(
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

pub(crate) fn blob_files(s: &TestServer) -> usize {
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
    let mut s = single_server();
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
    // The channel's messages and files go in the background.
    let mut left = blob_files(&s);
    for _ in 0..100 {
        if left == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        left = blob_files(&s);
    }
    assert_eq!(left, 1, "only the image still sent in #files stays");
}

#[tokio::test]
async fn oversized_files_and_missing_permission_are_refused() {
    let s = single_server_with(&["--attachment-max-bytes", "100"]);
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

/// The files waiting to be accepted (received, not yet blobs).
fn receiving(s: &TestServer) -> usize {
    std::fs::read_dir(s.data_dir().join("attachments/tmp"))
        .map(|files| files.count())
        .unwrap_or(0)
}

/// Fetches `url` until it stops being served, for at most 15 s.
async fn until_refused(url: &str) -> (u16, Vec<u8>) {
    for _ in 0..75 {
        let (status, _, body) = fetch(url).await;
        if status == 404 {
            return (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("{url} is still served");
}

/// `ex`, `is` and `hm` of an attachment URL.
fn signature(url: &str) -> (u64, u64, String) {
    let query = url.split_once('?').map_or("", |q| q.1);
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{url} has no {name}"))
            .to_owned()
    };
    let hex = |v: String| u64::from_str_radix(&v, 16).unwrap();
    (hex(param("ex")), hex(param("is")), param("hm"))
}

/// The URL of the first attachment of a message, as read now.
async fn read_url(s: &TestServer, who: &Account, channel: &str, message: &str) -> String {
    let reply = s
        .get(
            &format!("/channels/{channel}/messages/{message}"),
            &who.auth,
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["attachments"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn guessed_attachment_urls_are_refused() {
    let s = single_server_with(&["--attachment-url-ttl-s", "2"]);
    let ada = s.register("ada").await;
    let (_, channel) = s.guild(&ada, "hidden").await;
    let (status, sent) = send_files(
        &s,
        &ada,
        &channel,
        "secret",
        &[("a.png", "image/png", png())],
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let url = sent["attachments"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(sent["attachments"][0]["proxy_url"], url.as_str());
    let (path, _) = url.split_once('?').expect("a signed URL");
    let (_, _, mac) = signature(&url);
    assert_eq!(fetch(&url).await.0, 200, "the URL as given works");

    // The attachment id is the message id plus one: knowing it is not enough.
    let id = sent["attachments"][0]["id"].as_str().unwrap();
    let next = (id.parse::<u64>().unwrap() + 1).to_string();
    let flipped = format!(
        "{}{}",
        &mac[..63],
        if mac.ends_with('0') { '1' } else { '0' }
    );
    let refused = [
        path.to_owned(),
        url.replace(&mac, &flipped),
        url.replace(&mac, ""),
        url.replacen("ex=", "ex=1", 1),
        url.replace(id, &next),
        url.replace("/a.png", "/b.png"),
    ];
    for guess in refused {
        let (status, _, body) = fetch(&guess).await;
        assert_eq!(status, 404, "{guess}");
        assert_eq!(body, b"This content is no longer available.");
    }

    // A URL stops working once expired; reading the message again gives one that works.
    until_refused(&url).await;
    let message = sent["id"].as_str().unwrap();
    let fresh = read_url(&s, &ada, &channel, message).await;
    let (status, headers, bytes) = fetch(&fresh).await;
    assert_eq!((status, bytes), (200, png()));
    let cache = headers["cache-control"].to_str().unwrap();
    assert!(cache.starts_with("private, max-age="), "{cache}");
}

#[tokio::test]
async fn attachment_url_refreshes_when_message_is_read() {
    let s = single_server_with(&["--attachment-url-ttl-s", "2"]);
    let ada = s.register("ada").await;
    let (_, channel) = s.guild(&ada, "files").await;
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.identify(&ada.auth, 1 | (1 << 9) | (1 << 15)).await;
    ws.dispatch("READY").await;
    let (_, sent) = send_files(&s, &ada, &channel, "", &[("a.png", "image/png", png())]).await;
    let message = sent["id"].as_str().unwrap().to_owned();
    let first = sent["attachments"][0]["url"].as_str().unwrap().to_owned();
    let (expires, issued, _) = signature(&first);
    assert_eq!(expires - issued, 2, "valid for the configured lifetime");
    let event = ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        fetch(event["d"]["attachments"][0]["url"].as_str().unwrap())
            .await
            .0,
        200
    );

    until_refused(&first).await;
    // History, the single message and the pins all sign afresh.
    let history = s
        .get(&format!("/channels/{channel}/messages"), &ada.auth)
        .await;
    let from_history = history.body[0]["attachments"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = read_url(&s, &ada, &channel, &message).await;
    for url in [&from_history, &read] {
        let (ex, is, _) = signature(url);
        assert!(is > issued && ex > expires, "{url} is newer than {first}");
        assert_eq!(fetch(url).await.0, 200, "{url}");
    }
}

const MIB: usize = 1024 * 1024;

/// The server's peak resident memory so far (a measurement, not a timing).
fn peak_rss(s: &TestServer) -> usize {
    let pid = s.pid().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test]
async fn uploads_stream_to_disk() {
    let s = single_server();
    let ada = s.register("ada").await;
    let (_, channel) = s.guild(&ada, "big").await;
    let peak = || peak_rss(&s);
    // Warm up the upload path, so only the file sizes differ below.
    send_files(
        &s,
        &ada,
        &channel,
        "",
        &[("w.bin", "application/octet-stream", vec![1; 1000])],
    )
    .await;
    let before = peak();
    let files: Vec<(&str, &str, Vec<u8>)> = (0..2u8)
        .map(|i| ("big.bin", "application/octet-stream", vec![i + 2; 24 * MIB]))
        .collect();
    let (status, sent) = send_files(&s, &ada, &channel, "big", &files).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["attachments"][1]["size"], 24 * MIB);
    let grown = peak().saturating_sub(before);
    assert!(
        grown < 16 * MIB,
        "48 MiB of files raised the peak RSS by {} MiB",
        grown / MIB
    );
    assert_eq!(blob_files(&s), 3);
    assert_eq!(receiving(&s), 0, "received files became blobs");
}

#[tokio::test]
async fn downloads_stream_from_disk() {
    let s = single_server();
    let ada = s.register("ada").await;
    let (_, channel) = s.guild(&ada, "big").await;
    let big = vec![9u8; 24 * MIB];
    let (status, sent) = send_files(
        &s,
        &ada,
        &channel,
        "",
        &[("big.bin", "application/octet-stream", big)],
    )
    .await;
    assert_eq!(status, 200);
    let url = sent["attachments"][0]["url"].as_str().unwrap().to_owned();
    let small = send_files(&s, &ada, &channel, "", &[("a.png", "image/png", png())])
        .await
        .1;
    fetch(small["attachments"][0]["url"].as_str().unwrap()).await;
    let before = peak_rss(&s);
    // Three readers at once, each reading slowly.
    let readers = (0..3).map(|_| {
        let url = url.clone();
        tokio::spawn(async move {
            let mut reply = reqwest::get(&url).await.unwrap();
            assert_eq!(reply.content_length(), Some(24 * MIB as u64));
            let mut read = 0;
            while let Some(chunk) = reply.chunk().await.unwrap() {
                read += chunk.len();
                if read % (4 * MIB) < chunk.len() {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
            read
        })
    });
    for reader in readers.collect::<Vec<_>>() {
        assert_eq!(reader.await.unwrap(), 24 * MIB);
    }
    let grown = peak_rss(&s).saturating_sub(before);
    assert!(
        grown < 16 * MIB,
        "three downloads of a 24 MiB file raised the peak RSS by {} MiB",
        grown / MIB
    );
}

/// A message with one file, sent over a raw connection in two parts: the
/// head (headers, payload and the start of the file) now, and the rest
/// when `rest` is sent. Resolves to the status code.
async fn slow_upload(
    s: &TestServer,
    who: &Account,
    channel: &str,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<u16>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut body = SLOW_HEAD.to_vec();
    body.extend(vec![b'a'; 100_000]);
    let split = body.len();
    body.extend(SLOW_TAIL);
    let head = format!(
        "POST /api/v10/channels/{channel}/messages HTTP/1.1\r\nhost: {}\r\nauthorization: {}\r\n\
         content-type: multipart/form-data; boundary=XyZ\r\ncontent-length: {}\r\n\r\n",
        s.addr,
        who.auth,
        body.len()
    );
    let mut socket = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body[..split]).await.unwrap();
    let (rest, wait) = tokio::sync::oneshot::channel();
    let reply = tokio::spawn(async move {
        let _ = wait.await;
        socket.write_all(&body[split..]).await.unwrap();
        let mut answer = vec![0; 64];
        let n = socket.read(&mut answer).await.unwrap();
        let line = String::from_utf8_lossy(&answer[..n]).into_owned();
        line.split(' ').nth(1).unwrap().parse().unwrap()
    });
    (rest, reply)
}

const SLOW_HEAD: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n{\"content\":\"slow\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"s.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n";
const SLOW_TAIL: &[u8] = b"\r\n--XyZ--\r\n";

#[tokio::test]
async fn uploads_beyond_the_concurrency_bound_wait_their_turn() {
    let s = single_server_with(&["--upload-concurrency", "1"]);
    let ada = s.register("ada").await;
    let (_, channel) = s.guild(&ada, "slow").await;
    let (first, first_reply) = slow_upload(&s, &ada, &channel).await;
    for _ in 0..100 {
        if receiving(&s) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(receiving(&s), 1, "the file goes to disk while it arrives");
    let (second, second_reply) = slow_upload(&s, &ada, &channel).await;
    second.send(()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !second_reply.is_finished(),
        "the second upload waits its turn"
    );
    assert_eq!(receiving(&s), 1, "and receives nothing meanwhile");
    first.send(()).unwrap();
    assert_eq!(first_reply.await.unwrap(), 200);
    assert_eq!(second_reply.await.unwrap(), 200);
    assert_eq!(receiving(&s), 0);
}

#[tokio::test]
async fn refused_uploads_leave_no_files() {
    let s = single_server_with(&["--attachment-max-bytes", "100"]);
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let (guild, channel) = s.guild(&ada, "strict").await;
    s.join(&ada, &channel, &bob).await;
    let (status, _) = send_files(
        &s,
        &ada,
        &channel,
        "big",
        &[("b.bin", "text/plain", vec![7; 101])],
    )
    .await;
    assert_eq!(status, 413);
    let deny = json!({ "type": 0, "allow": "0", "deny": ATTACH_FILES.to_string() });
    s.put(
        &format!("/channels/{channel}/permissions/{guild}"),
        &ada.auth,
        deny,
    )
    .await;
    let (status, _) = send_files(&s, &bob, &channel, "no", &[("ok.png", "image/png", png())]).await;
    assert_eq!(status, 403);
    let (status, _) = send_files(&s, &ada, &channel, "", &[("e.png", "image/png", png())]).await;
    assert_eq!(status, 200);
    assert_eq!(receiving(&s), 0, "no received file outlives its request");
    assert_eq!(blob_files(&s), 1);
}
