//! Avatars and guild icons: uploaded as data URIs, kept as blobs, served
//! at Discord's CDN paths, released when replaced or removed (but never
//! while anything else shows or carries the same bytes), and who may
//! change a guild's.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, TestServer};
use serde_json::{Value, json};

use crate::attachments::{blob_files, send_files};
use crate::{server, single_server};

/// A 3×2 red PNG.
pub(crate) const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAEElEQVR4nGP4z8AAQQxwFgBB0gX7h/C5SAAAAABJRU5ErkJggg==";
/// A 1×1 GIF.
const GIF: &str = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==";

pub(crate) fn uri(kind: &str, base64: &str) -> String {
    format!("data:{kind};base64,{base64}")
}

pub(crate) fn bytes(base64: &str) -> Vec<u8> {
    STANDARD.decode(base64).unwrap()
}

/// Status, content type, cache policy and bytes of a path at the root.
pub(crate) async fn fetch(s: &TestServer, path: &str) -> (u16, String, String, Vec<u8>) {
    let reply = reqwest::get(s.url(path)).await.unwrap();
    let header = |name: &str| {
        reply
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (kind, cache) = (header("content-type"), header("cache-control"));
    let status = reply.status().as_u16();
    (status, kind, cache, reply.bytes().await.unwrap().to_vec())
}

async fn set_avatar(s: &TestServer, who: &Account, avatar: Value) -> Value {
    let reply = s
        .patch("/users/@me", &who.auth, json!({ "avatar": avatar }))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

fn hash(body: &Value, field: &str) -> String {
    body[field].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn avatars_are_uploaded_served_replaced_and_removed() {
    let s = single_server();
    let ada = s.register("ada").await;
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.identify(&ada.auth, 1).await;
    ws.dispatch("READY").await;

    let me = set_avatar(&s, &ada, uri("image/png", PNG).into()).await;
    let png = hash(&me, "avatar");
    assert!(
        png.len() == 32 && png.bytes().all(|b| b.is_ascii_hexdigit()),
        "{png}"
    );
    let update = ws.dispatch("USER_UPDATE").await;
    assert_eq!(update["d"]["avatar"], png.as_str());
    let read = s.get(&format!("/users/{}", ada.id), &ada.auth).await;
    assert_eq!(read.body["avatar"], png.as_str());

    let path = format!("/avatars/{}/{png}.png", ada.id);
    let (status, kind, cache, served) = fetch(&s, &format!("{path}?size=128")).await;
    assert_eq!(status, 200);
    assert_eq!(served, bytes(PNG), "the bytes uploaded");
    assert_eq!(kind, "image/png");
    assert!(
        cache.contains("public") && cache.contains("immutable"),
        "{cache}"
    );
    let other_extension = fetch(&s, &format!("/avatars/{}/{png}.webp", ada.id)).await;
    assert_eq!(
        (other_extension.0, other_extension.1.as_str()),
        (200, "image/png"),
        "served as what it is"
    );
    assert_eq!(blob_files(&s), 1);

    // A GIF replaces it: marked animated, and the PNG's blob goes.
    let me = set_avatar(&s, &ada, uri("image/gif", GIF).into()).await;
    let gif = hash(&me, "avatar");
    assert!(gif.starts_with("a_") && gif.len() == 34, "{gif}");
    assert_eq!(
        ws.dispatch("USER_UPDATE").await["d"]["avatar"],
        gif.as_str()
    );
    assert_eq!(fetch(&s, &path).await.0, 404, "the old hash is gone");
    let (status, kind, _, served) = fetch(&s, &format!("/avatars/{}/{gif}.gif", ada.id)).await;
    assert_eq!((status, kind.as_str()), (200, "image/gif"));
    assert_eq!(served, bytes(GIF));
    assert_eq!(blob_files(&s), 1, "the replaced image's blob is released");

    // Another edit leaves the avatar as it is.
    let renamed = s
        .patch("/users/@me", &ada.auth, json!({ "global_name": "Ada" }))
        .await;
    assert_eq!(renamed.body["avatar"], gif.as_str());
    assert_eq!(
        ws.dispatch("USER_UPDATE").await["d"]["avatar"],
        gif.as_str()
    );

    let me = set_avatar(&s, &ada, Value::Null).await;
    assert!(me["avatar"].is_null());
    assert!(ws.dispatch("USER_UPDATE").await["d"]["avatar"].is_null());
    let gone = fetch(&s, &format!("/avatars/{}/{gif}.gif", ada.id)).await;
    assert_eq!(gone.0, 404);
    assert_eq!(blob_files(&s), 0, "a removed avatar releases its blob");
}

#[tokio::test]
async fn an_image_shared_by_users_and_an_attachment_stays_while_any_holds_it() {
    let s = single_server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (_, channel) = s.guild(&ada, "Home").await;
    let png = || uri("image/png", PNG).into();
    let ada_hash = hash(&set_avatar(&s, &ada, png()).await, "avatar");
    let bob_hash = hash(&set_avatar(&s, &bob, png()).await, "avatar");
    assert_eq!(ada_hash, bob_hash, "the hash names the content");
    assert_eq!(blob_files(&s), 1, "one blob for both");
    let (ada_path, bob_path) = (
        format!("/avatars/{}/{ada_hash}.png", ada.id),
        format!("/avatars/{}/{bob_hash}.png", bob.id),
    );

    set_avatar(&s, &ada, Value::Null).await;
    assert_eq!(
        fetch(&s, &bob_path).await.3,
        bytes(PNG),
        "bob still shows it"
    );

    // An attachment of the same bytes shares the blob too.
    let file = [("red.png", "image/png", bytes(PNG))];
    let (status, sent) = send_files(&s, &ada, &channel, "", &file).await;
    assert_eq!(status, 200, "{sent:?}");
    set_avatar(&s, &bob, Value::Null).await;
    assert_eq!(fetch(&s, &bob_path).await.0, 404);
    assert_eq!(blob_files(&s), 1, "the attachment still carries it");

    // And an avatar keeps it when the attachment goes.
    set_avatar(&s, &ada, png()).await;
    let message = sent["id"].as_str().unwrap();
    let deleted = s
        .delete(
            &format!("/channels/{channel}/messages/{message}"),
            &ada.auth,
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        fetch(&s, &ada_path).await.3,
        bytes(PNG),
        "ada still shows it"
    );
    set_avatar(&s, &ada, Value::Null).await;
    assert_eq!(blob_files(&s), 0, "nothing holds it any more");
}

#[tokio::test]
async fn bad_images_and_unknown_paths_are_refused() {
    let s = server();
    let ada = s.register("ada").await;
    let too_big = [bytes(PNG), vec![0; 10 * 1024 * 1024]].concat();
    let cases = [
        (
            "not base64",
            "data:image/png;base64,%%%".to_owned(),
            "IMAGE_INVALID",
        ),
        (
            "a link",
            "https://example.com/a.png".to_owned(),
            "IMAGE_INVALID",
        ),
        (
            "an SVG",
            uri("image/svg+xml", &STANDARD.encode("<svg/>")),
            "IMAGE_INVALID",
        ),
        (
            "text",
            uri("image/png", &STANDARD.encode("hello")),
            "IMAGE_INVALID",
        ),
        (
            "over 10 MiB",
            uri("image/png", &STANDARD.encode(&too_big)),
            "BINARY_TYPE_MAX_SIZE",
        ),
    ];
    for (what, avatar, code) in cases {
        let reply = s
            .patch("/users/@me", &ada.auth, json!({ "avatar": avatar }))
            .await;
        assert_eq!(reply.status, 400, "{what}: {:?}", reply.body);
        assert_eq!(reply.body["code"], 50035, "{what}");
        assert_eq!(
            reply.body["errors"]["avatar"]["_errors"][0]["code"], code,
            "{what}"
        );
    }
    let me = s.get("/users/@me", &ada.auth).await;
    assert!(me.body["avatar"].is_null(), "nothing was kept");

    let hash = hash(
        &set_avatar(&s, &ada, uri("image/png", PNG).into()).await,
        "avatar",
    );
    for path in [
        format!("/avatars/{}/{}.png", ada.id, "0".repeat(32)),
        format!("/avatars/1/{hash}.png"),
        format!("/avatars/x/{hash}.png"),
        format!("/avatars/{}/{hash}.svg", ada.id),
        format!("/avatars/{}/{hash}", ada.id),
        format!("/icons/{}/{hash}.png", ada.id),
    ] {
        assert_eq!(fetch(&s, &path).await.0, 404, "{path}");
    }
}

#[tokio::test]
async fn guild_icons_need_manage_guild_and_are_announced() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let made = s
        .post(
            "/guilds",
            &ada.auth,
            json!({ "name": "Home", "icon": uri("image/png", PNG) }),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let guild = made.body["id"].as_str().unwrap().to_owned();
    let first = hash(&made.body, "icon");
    assert_eq!(first.len(), 32, "{first}");
    let (status, kind, _, served) = fetch(&s, &format!("/icons/{guild}/{first}.png")).await;
    assert_eq!(
        (status, kind.as_str(), served),
        (200, "image/png", bytes(PNG))
    );

    let general = made.body["system_channel_id"].as_str().unwrap().to_owned();
    s.join(&ada, &general, &bob).await;
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.identify(&ada.auth, 1).await;
    ws.dispatch("READY").await;

    let path = format!("/guilds/{guild}");
    let denied = s
        .patch(&path, &bob.auth, json!({ "icon": uri("image/gif", GIF) }))
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.body["code"], 50013);

    let bad = s
        .patch(
            &path,
            &ada.auth,
            json!({ "icon": "data:image/png;base64,%%%" }),
        )
        .await;
    assert_eq!(bad.body["code"], 50035);
    assert_eq!(
        bad.body["errors"]["icon"]["_errors"][0]["code"],
        "IMAGE_INVALID"
    );

    let changed = s
        .patch(&path, &ada.auth, json!({ "icon": uri("image/gif", GIF) }))
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let second = hash(&changed.body, "icon");
    assert!(second.starts_with("a_"), "{second}");
    let update = ws.dispatch("GUILD_UPDATE").await;
    assert_eq!(update["d"]["icon"], second.as_str());
    assert_eq!(
        fetch(&s, &format!("/icons/{guild}/{first}.png")).await.0,
        404
    );
    assert_eq!(
        fetch(&s, &format!("/icons/{guild}/{second}.gif")).await.3,
        bytes(GIF)
    );

    let log = s
        .get(&format!("/guilds/{guild}/audit-logs"), &ada.auth)
        .await;
    let entry = &log.body["audit_log_entries"][0];
    assert_eq!(entry["action_type"], 1, "GUILD_UPDATE");
    assert_eq!(
        entry["changes"],
        json!([{ "key": "icon_hash", "old_value": first, "new_value": second }])
    );

    let removed = s.patch(&path, &ada.auth, json!({ "icon": null })).await;
    assert!(removed.body["icon"].is_null());
    assert!(ws.dispatch("GUILD_UPDATE").await["d"]["icon"].is_null());
    assert_eq!(
        fetch(&s, &format!("/icons/{guild}/{second}.gif")).await.0,
        404
    );
}

#[tokio::test]
async fn webhook_avatars_are_served_as_users_are() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let made = s
        .post(
            &format!("/channels/{general}/webhooks"),
            &ada.auth,
            json!({ "name": "CI", "avatar": uri("image/png", PNG) }),
        )
        .await;
    assert_eq!(made.status, 200, "{:?}", made.body);
    let (id, first) = (
        made.body["id"].as_str().unwrap(),
        hash(&made.body, "avatar"),
    );
    assert_eq!(
        fetch(&s, &format!("/avatars/{id}/{first}.png")).await.3,
        bytes(PNG)
    );
    let changed = s
        .patch(
            &format!("/webhooks/{id}"),
            &ada.auth,
            json!({ "avatar": uri("image/gif", GIF) }),
        )
        .await;
    let second = hash(&changed.body, "avatar");
    assert_eq!(
        fetch(&s, &format!("/avatars/{id}/{first}.png")).await.0,
        404
    );
    assert_eq!(
        fetch(&s, &format!("/avatars/{id}/{second}.gif")).await.3,
        bytes(GIF)
    );
    let bad = s
        .patch(
            &format!("/webhooks/{id}"),
            &ada.auth,
            json!({ "avatar": "data:text/plain;base64,aGk=" }),
        )
        .await;
    assert_eq!(bad.body["code"], 50035);
}

/// An image of `width`×`height` in `format`, made here.
fn made_image(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let picture = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 255])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A GIF of three `side`×`side` frames.
fn animated_gif(side: u32) -> Vec<u8> {
    use image::codecs::gif::{GifEncoder, Repeat};
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        for shade in [0u8, 120, 240] {
            let frame = image::RgbaImage::from_pixel(side, side, image::Rgba([shade, 0, 0, 255]));
            let delay = image::Delay::from_numer_denom_ms(100, 1);
            encoder
                .encode_frame(image::Frame::from_parts(frame, 0, 0, delay))
                .unwrap();
        }
    }
    out
}

/// The format and dimensions of what a path serves, checked to be that
/// format's content type.
async fn served_image(s: &TestServer, path: &str) -> (image::ImageFormat, u32, u32) {
    let (status, kind, cache, body) = fetch(s, path).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    assert!(cache.contains("immutable"), "{cache}");
    let format = image::guess_format(&body).unwrap();
    assert_eq!(kind, format.to_mime_type(), "{path}");
    let decoded = image::load_from_memory(&body).unwrap();
    (format, decoded.width(), decoded.height())
}

#[tokio::test]
async fn images_are_served_no_larger_than_the_size_asked() {
    use image::ImageFormat::{Gif, Jpeg, Png, WebP};
    let s = server();
    let ada = s.register("ada").await;
    let wide = made_image(300, 150, Png);
    let me = set_avatar(&s, &ada, json!(uri("image/png", &STANDARD.encode(&wide)))).await;
    let avatar = format!("/avatars/{}/{}", ada.id, hash(&me, "avatar"));
    for (ext, format) in [
        ("png", Png),
        ("jpg", Jpeg),
        ("jpeg", Jpeg),
        ("webp", WebP),
        ("gif", Gif),
    ] {
        let path = format!("{avatar}.{ext}?size=64");
        assert_eq!(served_image(&s, &path).await, (format, 64, 32), "{path}");
    }
    assert_eq!(
        served_image(&s, &format!("{avatar}.png?size=16")).await,
        (Png, 16, 8)
    );
    // Asked again, the same (a kept copy).
    let again = fetch(&s, &format!("{avatar}.webp?size=64")).await.3;
    assert_eq!(fetch(&s, &format!("{avatar}.webp?size=64")).await.3, again);
    // Never larger than uploaded: a size it fits in serves the upload.
    for path in [format!("{avatar}.png?size=512"), format!("{avatar}.png")] {
        assert_eq!(fetch(&s, &path).await.3, wide, "{path}");
    }
    for size in ["100", "8", "8192", "0", "-16", "abc", ""] {
        let path = format!("{avatar}.png?size={size}");
        let (status, _, _, body) = fetch(&s, &path).await;
        assert_eq!(status, 400, "{path}: {}", String::from_utf8_lossy(&body));
    }
    let unknown = format!("/avatars/{}/{}.png?size=64", ada.id, "0".repeat(32));
    assert_eq!(fetch(&s, &unknown).await.0, 404);

    // A guild's animated icon stays animated as a GIF, its first frame otherwise.
    let gif = animated_gif(100);
    let made = s
        .post(
            "/guilds",
            &ada.auth,
            json!({ "name": "Moving", "icon": uri("image/gif", &STANDARD.encode(&gif)) }),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let icon = format!(
        "/icons/{}/{}",
        made.body["id"].as_str().unwrap(),
        hash(&made.body, "icon")
    );
    let (_, kind, _, body) = fetch(&s, &format!("{icon}.gif?size=32")).await;
    assert_eq!(kind, "image/gif");
    let frames = {
        use image::AnimationDecoder;
        let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(body)).unwrap();
        decoder.into_frames().collect_frames().unwrap()
    };
    assert_eq!(frames.len(), 3);
    assert!(frames.iter().all(|f| f.buffer().dimensions() == (32, 32)));
    assert_eq!(
        served_image(&s, &format!("{icon}.png?size=32")).await,
        (Png, 32, 32)
    );

    // A webhook's avatar, served at the same path as users'.
    let (_, general) = s.guild(&ada, "Home").await;
    let tall = made_image(40, 80, Png);
    let hook = s
        .post(
            &format!("/channels/{general}/webhooks"),
            &ada.auth,
            json!({ "name": "CI", "avatar": uri("image/png", &STANDARD.encode(&tall)) }),
        )
        .await;
    assert_eq!(hook.status, 200, "{:?}", hook.body);
    let path = format!(
        "/avatars/{}/{}.webp?size=32",
        hook.body["id"].as_str().unwrap(),
        hash(&hook.body, "avatar")
    );
    assert_eq!(served_image(&s, &path).await, (WebP, 16, 32));
}
