//! The data directory is private to the user running Concord: it holds the
//! token-signing secret, password hashes and every message. Before anything
//! opens it, [`prepare`] makes sure it is: files the process creates from
//! then on are private whoever creates them (the store and the search index
//! create their own files, so the process umask covers them), what an
//! earlier version or a copy left readable is made private, and the
//! `*.partial` files a crash left behind in the middle of a write go.

use std::path::Path;

use crate::ServerError;

/// The only modes anything under the data directory may have.
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// The suffix of files being written, renamed once complete: one still
/// there at start was cut off by a crash.
const PARTIAL: &str = "partial";

/// What [`prepare`] changed, for its log line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Paths whose permissions were too open.
    pub fixed: u64,
    /// Unfinished writes removed.
    pub partials_removed: u64,
}

/// Creates the data directory if needed and makes everything in it private
/// (directories 0700, files 0600), removes unfinished `*.partial` files,
/// and sets the process umask so that whatever is created later is private
/// too. Says in one log line what it had to fix.
pub fn prepare(data_dir: &Path) -> Result<Prepared, ServerError> {
    let failed =
        |e: std::io::Error| ServerError::DataDir(data_dir.display().to_string(), e.to_string());
    private_umask();
    create_private_dir(data_dir).map_err(failed)?;
    let mut prepared = Prepared::default();
    walk(data_dir, &mut prepared).map_err(failed)?;
    if prepared != Prepared::default() {
        tracing::warn!(
            data_dir = %data_dir.display(),
            permissions_fixed = prepared.fixed,
            partial_files_removed = prepared.partials_removed,
            "data directory made private: {} paths had open permissions, {} unfinished writes removed",
            prepared.fixed,
            prepared.partials_removed,
        );
    }
    Ok(prepared)
}

/// New files and directories get no permissions for group or others,
/// including those libraries create (the store's journal, the index).
fn private_umask() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// Fixes `dir` and everything below it. Symbolic links are neither
/// followed nor changed: what they point to is not ours to decide.
fn walk(dir: &Path, prepared: &mut Prepared) -> std::io::Result<()> {
    restrict(dir, DIR_MODE, prepared)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, prepared)?;
        } else if kind.is_file() {
            if path.extension().is_some_and(|e| e == PARTIAL) {
                std::fs::remove_file(&path)?;
                prepared.partials_removed += 1;
            } else {
                restrict(&path, FILE_MODE, prepared)?;
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32, prepared: &mut Prepared) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Below the root, links were skipped; the root itself may be one.
    let current = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    if current != mode {
        tracing::debug!(path = %path.display(), from = format!("{current:o}"), to = format!("{mode:o}"), "permissions fixed");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        prepared.fixed += 1;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: u32, _: &mut Prepared) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn open_modes_are_fixed_and_partials_removed() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir_all(data.join("store")).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(data.join("store/0.jnl"), "secret").unwrap();
        std::fs::set_permissions(
            data.join("store/0.jnl"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        std::fs::write(data.join("store/blob.partial"), "half").unwrap();

        let prepared = prepare(&data).unwrap();
        assert_eq!(prepared.partials_removed, 1);
        assert!(prepared.fixed >= 2, "{prepared:?}");
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("store")), 0o700);
        assert_eq!(mode(&data.join("store/0.jnl")), 0o600);
        assert!(!data.join("store/blob.partial").exists());
        assert_eq!(
            prepare(&data).unwrap(),
            Prepared::default(),
            "nothing left to fix"
        );
    }
}
