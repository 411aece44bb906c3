//! Online backup while messages are being written, and restore into a new
//! data directory that a new server then serves.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use concord_testkit::{TempDir, TestServer, ids};
use serde_json::json;

use crate::single_server;

const BIN: &str = env!("CARGO_BIN_EXE_concord");

fn restore(src: &std::path::Path, data_dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("restore")
        .arg(src)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Every message id of the channel, oldest first.
async fn history(s: &TestServer, auth: &str, channel: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut before = String::new();
    loop {
        let path = format!("/channels/{channel}/messages?limit=100{before}");
        let page = s.get(&path, auth).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let page = ids(&page.body);
        let Some(last) = page.last() else { break };
        before = format!("&before={last}");
        all.extend(page);
    }
    all.reverse();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_writes_restores_exactly_a_prefix_of_them() {
    let s = Arc::new(single_server());
    let ada = s.register("ada").await;
    let (_, channel) = s.guild(&ada, "kept").await;
    let mut acked = Vec::new();
    for i in 0..30 {
        acked.push(s.say(&ada, &channel, &format!("before backup {i}")).await);
    }
    let worded = acked.len();
    let file = reqwest::multipart::Part::bytes(b"kept bytes".to_vec()).file_name("kept.txt");
    let form = reqwest::multipart::Form::new()
        .text("payload_json", "{}")
        .part("files[0]", file);
    let with_file: serde_json::Value = reqwest::Client::new()
        .post(s.url(&format!("/api/v10/channels/{channel}/messages")))
        .header("authorization", &ada.auth)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file_path = with_file["attachments"][0]["url"]
        .as_str()
        .unwrap()
        .replace(&s.url(""), "");
    acked.push(with_file["id"].as_str().unwrap().to_owned());
    let acked_before = acked.len();
    let acked = Arc::new(Mutex::new(acked));

    // A writer keeps sending, one acknowledged message at a time.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (s, ada, channel) = (Arc::clone(&s), ada.clone(), channel.clone());
        let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = s.say(&ada, &channel, &format!("during backup {i}")).await;
                acked.lock().unwrap().push(id);
                i += 1;
            }
        })
    };
    while acked.lock().unwrap().len() < acked_before + 5 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let backups = TempDir::new().unwrap();
    let dest = backups.path().join("nightly");
    let backup = {
        let (s, dest) = (Arc::clone(&s), dest.clone());
        tokio::task::spawn_blocking(move || s.command(&["backup", dest.to_str().unwrap()], ""))
    };
    let out = backup.await.unwrap();
    let written = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(written.contains("backup written to"), "{written}");
    // Messages written once the backup has returned are surely after it.
    let acked_by_then = acked.lock().unwrap().len();
    while acked.lock().unwrap().len() < acked_by_then + 5 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let acked = acked.lock().unwrap().clone();

    // The live server refuses to back up over that backup.
    let again = s.command(&["backup", dest.to_str().unwrap()], "");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let restored = TempDir::new().unwrap();
    let (ok, text) = restore(&dest, restored.path());
    assert!(ok, "{text}");
    assert!(text.contains("restored"), "{text}");
    let (ok, text) = restore(&dest, restored.path());
    assert!(!ok && text.contains("not empty"), "{text}");

    crate::check_replies();
    let r = TestServer::start_on(BIN, restored, &[]);
    let kept = history(&r, &ada.auth, &channel).await;
    assert!(kept.len() >= acked_before + 5, "{} kept", kept.len());
    assert!(
        kept.len() < acked.len(),
        "messages after the backup are not in it"
    );
    assert_eq!(
        kept,
        acked[..kept.len()],
        "the backup holds exactly the messages acknowledged before one instant"
    );
    // The restored server searches what it holds.
    let search = format!("/channels/{channel}/messages/search?content=before");
    let found = r
        .get_until(&search, &ada.auth, |reply| {
            reply.status == 200 && reply.body["total_results"] == worded
        })
        .await;
    assert_eq!(found.body["total_results"], worded, "{:?}", found.body);
    let served = reqwest::get(r.url(&file_path)).await.unwrap();
    assert_eq!(served.status(), 200, "attachments are in the backup");
    assert_eq!(served.bytes().await.unwrap().as_ref(), b"kept bytes");
    let me = r.get("/users/@me", &ada.auth).await;
    assert_eq!(
        me.status, 200,
        "tokens survive: the signing secret is backed up"
    );
}

#[tokio::test]
async fn restore_refuses_what_is_not_a_backup() {
    let s = single_server();
    let not_a_backup = TempDir::new().unwrap();
    std::fs::write(not_a_backup.path().join("notes.txt"), "hello").unwrap();
    let target = TempDir::new().unwrap();
    let (ok, text) = restore(not_a_backup.path(), &target.path().join("data"));
    assert!(
        !ok && text.contains("not a complete concord backup"),
        "{text}"
    );

    // Nor does the server back up into a file or a non-empty directory.
    let out = s.command(&["backup", not_a_backup.path().to_str().unwrap()], "");
    assert!(!out.status.success());
    let body = json!({ "destination": "relative/path" });
    let control = std::fs::read_to_string(s.data_dir().join("control.token")).unwrap();
    let reply = s
        .request(
            "POST",
            "/admin/backup",
            Some(&format!("Control {control}")),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
}
