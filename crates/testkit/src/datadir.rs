//! New data directories for test servers, copied from a template.
//!
//! Creating a store's tables is most of what a server's first start costs
//! (each of its keyspaces is a directory of files, each synced), and the
//! suites start hundreds of servers. The template is what a first open
//! leaves: an empty store and search index, made once per binary by
//! `concord reindex` (which opens both, as `serve` does, and exits) and
//! kept next to that binary, so it goes with a rebuild or `cargo clean`.
//! A server started on a copy is a server started on its own data
//! directory after a first open, with nothing in it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use tempfile::TempDir;

/// A new data directory for `binary`, holding an empty store and search
/// index.
pub(crate) fn fresh(binary: &str) -> TempDir {
    let template = template(Path::new(binary));
    let data = tempfile::tempdir().expect("temp dir");
    copy_tree(&template, data.path()).expect("copy the template data directory");
    data
}

/// The template for `binary`, made if there is none for this build of it.
fn template(binary: &Path) -> PathBuf {
    // One test process makes it once, whichever thread asks first.
    static MAKING: Mutex<()> = Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let built = fs::metadata(binary)
        .and_then(|m| m.modified())
        .map(|t| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos())
        .expect("the concord binary");
    let parent = binary.parent().unwrap_or(Path::new("."));
    let templates = parent.join("concord-test-data");
    let template = templates.join(built.to_string());
    if template.is_dir() {
        return template;
    }
    // Templates of earlier builds are stale; another process may be using
    // one, and it only reads it.
    let _ = fs::remove_dir_all(&templates);
    fs::create_dir_all(&templates).expect("template directory");
    // Made aside and renamed, so that a process running at the same time
    // never copies a half-made one.
    let making = tempfile::tempdir_in(&templates).expect("template being made");
    let output = Command::new(binary)
        .arg("reindex")
        .arg("--data-dir")
        .arg(making.path())
        .env_remove("CONCORD_CONFIG")
        .output()
        .expect("run concord reindex");
    assert!(
        output.status.success(),
        "concord reindex on an empty data directory failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let made = making.keep();
    if fs::rename(&made, &template).is_err() {
        // Another process made it first.
        let _ = fs::remove_dir_all(&made);
    }
    template
}

/// Copies the files and directories under `from` into `to`, which
/// exists, with their permissions.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target)?;
            fs::set_permissions(&target, entry.metadata()?.permissions())?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
