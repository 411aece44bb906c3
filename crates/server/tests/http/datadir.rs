//! The data directory: private to the server's user, and cleaned of
//! writes a crash cut short.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::single_server;

/// Every path under `dir` (itself included) with its permission bits. The
/// running server replaces files as it goes (the search index's commits,
/// the journal): one gone between listing and reading is passed over.
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    out.extend(mode(dir).map(|m| (dir.to_owned(), m)));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            out.extend(modes(&path));
        } else if kind.is_file() {
            out.extend(mode(&path).map(|m| (path.clone(), m)));
        }
    }
    out
}

/// The permission bits, unless the path is gone.
fn mode(path: &Path) -> Option<u32> {
    match std::fs::metadata(path) {
        Ok(meta) => Some(meta.permissions().mode() & 0o7777),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

fn assert_private(dir: &Path) {
    for (path, mode) in modes(dir) {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, expected, "{} is {mode:o}", path.display());
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn data_dir_is_private() {
    let mut s = single_server();
    let ada = s.register("ada").await;
    let (_, channel) = s.guild(&ada, "secrets").await;
    let form = reqwest::multipart::Form::new()
        .text("payload_json", r#"{"content":"file"}"#)
        .part(
            "files[0]",
            reqwest::multipart::Part::bytes(b"data".to_vec()).file_name("a.txt"),
        );
    let reply = reqwest::Client::new()
        .post(s.url(&format!("/api/v10/channels/{channel}/messages")))
        .header("authorization", &ada.auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let data = s.data_dir().to_owned();
    assert!(data.join("attachments").is_dir() && data.join("store").is_dir());
    assert_private(&data);

    // A data directory from before (or a careless copy) is fixed at start.
    let journal = modes(&data.join("store"))
        .into_iter()
        .find(|(path, _)| path.is_file())
        .unwrap()
        .0;
    chmod(&journal, 0o644);
    chmod(&data.join("store"), 0o755);
    chmod(&data, 0o755);
    s.restart();
    assert_private(&data);
    let me = s.get("/users/@me", &ada.auth).await;
    assert_eq!(me.status, 200, "the fixed store still opens");
}

#[tokio::test]
async fn partial_files_are_removed_at_start() {
    let mut s = single_server();
    let ada = s.register("ada").await;
    let data = s.data_dir().to_owned();
    let left = [
        data.join("attachments/tmp/0123abcd.partial"),
        data.join("attachments/ab/abcdef.partial"),
        data.join("manifest.partial"),
    ];
    for path in &left {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "cut short").unwrap();
    }
    std::fs::write(data.join("notes.txt"), "kept").unwrap();
    s.restart();
    for path in &left {
        assert!(!path.exists(), "{} is still there", path.display());
    }
    assert!(
        data.join("notes.txt").exists(),
        "other files are left alone"
    );
    assert_eq!(s.get("/users/@me", &ada.auth).await.status, 200);
}
