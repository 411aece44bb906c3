//! `concord backup` (asks the running server for an online backup and
//! shows its progress) and `concord restore` (an offline copy of a backup
//! into a new data directory, checked before and after).

use std::path::{Path, PathBuf};

use concord_service::operations::backup::{BackupSummary, MANIFEST, STORE_DIR};
use concord_store_fjall::{FjallOptions, FjallStore};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};

use crate::control::Control;

fn bar(template: &str) -> ProgressBar {
    ProgressBar::new(0).with_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

pub(crate) async fn backup(control: &Control, dest: &Path) -> Result<(), String> {
    let dest = std::path::absolute(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let body = json!({ "destination": dest });
    let mut response = control
        .send(Method::POST, "/admin/backup", Some(body))
        .await?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        return Err(crate::control::explain(status, &body));
    }
    let progress = bar("{bar:40} {pos}/~{len} records {msg}");
    let mut pending = String::new();
    let mut last = Value::Null;
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            match event["phase"].as_str() {
                Some("search") => progress.set_message("(search index)"),
                Some("store") => {
                    let copied = event["copied"].as_u64().unwrap_or(0);
                    let estimated = event["estimated"].as_u64().unwrap_or(0);
                    progress.set_length(estimated.max(copied));
                    progress.set_position(copied);
                    progress.set_message("(store)");
                }
                Some("attachments") => progress.set_message("(attachments)"),
                Some(_) => progress.set_message("(config file)"),
                None => last = event,
            }
        }
    }
    progress.finish_and_clear();
    if let Some(error) = last["error"].as_str() {
        return Err(error.to_owned());
    }
    let summary: BackupSummary = serde_json::from_value(last["done"].clone())
        .map_err(|_| "the server stopped before the backup finished".to_owned())?;
    let search = summary
        .search_bytes
        .map_or("no search index (search is off)".into(), |b| {
            format!("{} of search index", megabytes(b))
        });
    println!(
        "backup written to {}: {} store records, {} attachment files, {search}, config file {}, in {:.1} s",
        dest.display(),
        summary.store_records,
        summary.attachment_files,
        if summary.config_file {
            "included"
        } else {
            "not used"
        },
        summary.seconds
    );
    Ok(())
}

/// Every file under `dir`, as paths relative to it, with their sizes.
fn files_under(dir: &Path, relative: &Path, out: &mut Vec<(PathBuf, u64)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir.join(relative))? {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        let meta = entry.metadata()?;
        if meta.is_dir() {
            files_under(dir, &path, out)?;
        } else {
            out.push((path, meta.len()));
        }
    }
    Ok(())
}

fn copy_synced(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from, to)?;
    std::fs::File::open(to)?.sync_all()
}

pub(crate) fn restore(src: &Path, data_dir: &Path) -> Result<(), String> {
    let manifest = std::fs::read(src.join(MANIFEST)).map_err(|e| {
        format!(
            "{} is not a complete concord backup (no readable {MANIFEST}: {e})",
            src.display()
        )
    })?;
    let summary: BackupSummary = serde_json::from_slice(&manifest)
        .map_err(|e| format!("{}: {MANIFEST} is damaged: {e}", src.display()))?;
    let empty = match std::fs::read_dir(data_dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(format!("{}: {e}", data_dir.display())),
    };
    if !empty {
        return Err(format!(
            "{} is not empty: restore only into a new or empty data directory",
            data_dir.display()
        ));
    }
    // Private before anything is copied in, and again after (copies keep
    // the backup's modes).
    concord_server::datadir::prepare(data_dir).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    files_under(src, Path::new(""), &mut files).map_err(|e| format!("{}: {e}", src.display()))?;
    files.retain(|(path, _)| path != Path::new(MANIFEST));
    let total = files.iter().map(|(_, size)| size).sum();
    let progress = bar("{bar:40} {bytes}/{total_bytes} {msg}");
    progress.set_length(total);
    for (path, size) in &files {
        progress.set_message(path.display().to_string());
        copy_synced(&src.join(path), &data_dir.join(path))
            .map_err(|e| format!("copying {}: {e}", path.display()))?;
        progress.inc(*size);
    }
    progress.finish_and_clear();
    concord_server::datadir::prepare(data_dir).map_err(|e| e.to_string())?;
    // The copy must open as a store before anyone relies on it.
    let options = FjallOptions {
        bucket_ms: 1,
        sync: true,
    };
    FjallStore::open(&data_dir.join(STORE_DIR), options)
        .map_err(|e| format!("the restored store does not open: {e}"))?;
    println!(
        "restored {} files ({}, {} store records, backup of concord {}) into {}",
        files.len(),
        megabytes(total),
        summary.store_records,
        summary.concord_version,
        data_dir.display()
    );
    let config = data_dir.join(concord_service::operations::backup::CONFIG_FILE);
    match config.exists() {
        true => println!(
            "start it with: concord serve --config {} --data-dir {}",
            config.display(),
            data_dir.display()
        ),
        false => println!(
            "start it with: concord serve --data-dir {}",
            data_dir.display()
        ),
    }
    Ok(())
}
