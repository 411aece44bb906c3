//! The blob seam: where attachments' bytes live, named by their SHA-256.
//! [`DirectoryBlobs`] keeps them in a directory (the data directory by
//! default; a mount every node shares, in a cluster).
//!
//! No lock orders the writers: a new reference is put, recorded, then
//! checked for; a blob is dropped by withdrawing it out of reach, checking
//! once more that nothing refers to it, and only then discarding it (else
//! restoring it). Whichever node does either, a recorded attachment keeps
//! its blob (see `attachments`).

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

/// Where received files wait, beside the blobs: each in a `*.partial`
/// file of its own, which the server removes at start if a crash left
/// one behind.
pub const STAGING_DIR: &str = "tmp";
/// Where withdrawn blobs wait to be discarded or restored.
const WITHDRAWN_DIR: &str = "withdrawn";

/// A blob taken out of reach by [`BlobStore::withdraw`].
#[derive(Debug)]
pub struct Withdrawn {
    pub sha256: String,
    /// Its name while withdrawn, its own to this withdrawal.
    held_as: PathBuf,
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Where received files are written before [`put`](Self::put): on the
    /// blobs' own file system, so that a put links rather than copies.
    fn staging_dir(&self) -> PathBuf;

    /// Makes `sha256` hold the synced file `staged` (left in place),
    /// durably; a blob already there is left as it is (blobs never change).
    async fn put(&self, sha256: &str, staged: &Path) -> io::Result<()>;

    async fn exists(&self, sha256: &str) -> io::Result<bool>;

    /// The blob opened for reading, served as it is read.
    async fn open(&self, sha256: &str) -> io::Result<Option<tokio::fs::File>>;

    /// Takes the blob out of reach; `None` if it is not there.
    async fn withdraw(&self, sha256: &str) -> io::Result<Option<Withdrawn>>;

    /// Puts a withdrawn blob back (something came to refer to it).
    async fn restore(&self, withdrawn: Withdrawn) -> io::Result<()>;

    /// Deletes a withdrawn blob for good.
    async fn discard(&self, withdrawn: Withdrawn) -> io::Result<()>;

    /// Blobs left withdrawn (by a node that stopped halfway), to be
    /// restored or discarded. Restoring or discarding one twice is no error.
    async fn withdrawn(&self) -> io::Result<Vec<Withdrawn>>;

    /// The names of every blob (and of any stray file among them).
    async fn list(&self) -> io::Result<Vec<String>>;

    /// Puts every blob into the directory `dest` (hard links where the
    /// file system allows: blobs never change); returns how many.
    fn copy_to(&self, dest: &Path) -> io::Result<u64>;
}

/// Blobs as files in a directory: `ab/abcdef...`, two hex digits of
/// fan-out keeping directories small.
pub struct DirectoryBlobs {
    dir: PathBuf,
}

impl DirectoryBlobs {
    pub fn new(dir: PathBuf) -> DirectoryBlobs {
        DirectoryBlobs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        let fan = name.get(..2).unwrap_or("__");
        self.dir.join(fan).join(name)
    }
}

/// A name a blob can have: hex digits only, so no path can be built from
/// it but the blob's own.
fn valid(sha256: &str) -> bool {
    sha256.len() >= 2 && sha256.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
}

#[async_trait]
impl BlobStore for DirectoryBlobs {
    fn staging_dir(&self) -> PathBuf {
        self.dir.join(STAGING_DIR)
    }

    async fn put(&self, sha256: &str, staged: &Path) -> io::Result<()> {
        if !valid(sha256) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a blob name",
            ));
        }
        let (from, to) = (staged.to_path_buf(), self.path(sha256));
        blocking(move || link_durably(&from, &to)).await
    }

    async fn exists(&self, sha256: &str) -> io::Result<bool> {
        if !valid(sha256) {
            return Ok(false);
        }
        tokio::fs::try_exists(self.path(sha256)).await
    }

    async fn open(&self, sha256: &str) -> io::Result<Option<tokio::fs::File>> {
        if !valid(sha256) {
            return Ok(None);
        }
        match tokio::fs::File::open(self.path(sha256)).await {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn withdraw(&self, name: &str) -> io::Result<Option<Withdrawn>> {
        let withdrawn_dir = self.dir.join(WITHDRAWN_DIR);
        create_private_dir(&withdrawn_dir)?;
        let held_as = withdrawn_dir.join(format!("{name}.{}", hex(&rand::random::<[u8; 8]>())));
        match tokio::fs::rename(self.path(name), &held_as).await {
            Ok(()) => Ok(Some(Withdrawn {
                sha256: name.to_owned(),
                held_as,
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn restore(&self, withdrawn: Withdrawn) -> io::Result<()> {
        let to = self.path(&withdrawn.sha256);
        match blocking(move || place(&withdrawn.held_as, &to)).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    async fn discard(&self, withdrawn: Withdrawn) -> io::Result<()> {
        match tokio::fs::remove_file(&withdrawn.held_as).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn withdrawn(&self) -> io::Result<Vec<Withdrawn>> {
        let dir = self.dir.join(WITHDRAWN_DIR);
        let mut found = Vec::new();
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(e),
        };
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((sha256, _)) = name.split_once('.') {
                found.push(Withdrawn {
                    sha256: sha256.to_owned(),
                    held_as: entry.path(),
                });
            }
        }
        Ok(found)
    }

    async fn list(&self) -> io::Result<Vec<String>> {
        let dir = self.dir.clone();
        let files = blocking(move || blob_files(&dir)).await?;
        Ok(files.into_iter().map(|(name, _)| name).collect())
    }

    fn copy_to(&self, dest: &Path) -> io::Result<u64> {
        let mut copied = 0;
        for (name, path) in blob_files(&self.dir)? {
            let fan = path.parent().and_then(Path::file_name).unwrap_or_default();
            let target = dest.join(fan).join(&name);
            create_private_dir(&dest.join(fan))?;
            if std::fs::hard_link(&path, &target).is_err() {
                std::fs::copy(&path, &target)?;
            }
            copied += 1;
        }
        Ok(copied)
    }
}

/// Every file among the blobs, by name (partial writes included, under
/// their own name, which no attachment refers to), but not the staged
/// files, which belong to requests still running, nor withdrawn ones.
fn blob_files(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    let fans = match std::fs::read_dir(dir) {
        Ok(fans) => fans,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for fan in fans {
        let fan = fan?;
        let name = fan.file_name();
        if name == STAGING_DIR || name == WITHDRAWN_DIR || !fan.file_type()?.is_dir() {
            continue;
        }
        for blob in std::fs::read_dir(fan.path())? {
            let blob = blob?;
            files.push((blob.file_name().to_string_lossy().into_owned(), blob.path()));
        }
    }
    Ok(files)
}

/// A new, empty, private file in `dir` to receive into.
pub(crate) fn staging_file(dir: &Path) -> io::Result<(PathBuf, std::fs::File)> {
    create_private_dir(dir)?;
    let name = hex(&rand::random::<[u8; 16]>());
    let path = dir.join(format!("{name}.partial"));
    let file = private_file(&path)?;
    Ok((path, file))
}

/// Creates `dir` and its missing parents, readable by this user only.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates a new file readable by this user only.
fn private_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Gives the synced file `from` the name `path` too (a copy where links
/// are not allowed), unless `path` exists, and syncs the directory, so
/// that once this returns the file is there after a crash.
fn link_durably(from: &Path, path: &Path) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let new_dir = !dir.exists();
    create_private_dir(dir)?;
    match std::fs::hard_link(from, path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(_) => {
            let copy = path.with_extension("partial");
            std::fs::copy(from, &copy)?;
            std::fs::File::open(&copy)?.sync_all()?;
            std::fs::rename(&copy, path)?;
        }
    }
    sync_dir(dir, new_dir)
}

/// Moves a synced file to `path` and syncs its directory, so that once
/// this returns the file is there after a crash.
fn place(from: &Path, path: &Path) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let new_dir = !dir.exists();
    create_private_dir(dir)?;
    std::fs::rename(from, path)?;
    sync_dir(dir, new_dir)
}

fn sync_dir(dir: &Path, new_dir: bool) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()?;
    // A directory made just now must itself be in its parent after a crash.
    match dir.parent() {
        Some(parent) if new_dir => std::fs::File::open(parent)?.sync_all(),
        _ => Ok(()),
    }
}

/// Writes the file through a temporary name and syncs it and its
/// directory, so that once this returns the file survives a crash whole.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let temporary = path.with_extension("partial");
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let _ = std::fs::remove_file(&temporary);
    let mut file = private_file(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    place(&temporary, path)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(blobs: &DirectoryBlobs, bytes: &[u8]) -> PathBuf {
        use std::io::Write;
        let (path, mut file) = staging_file(&blobs.staging_dir()).unwrap();
        file.write_all(bytes).unwrap();
        path
    }

    #[tokio::test]
    async fn a_withdrawn_blob_is_out_of_reach_until_restored() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DirectoryBlobs::new(dir.path().to_path_buf());
        let name = "ab".repeat(32);
        let file = staged(&blobs, b"bytes");
        blobs.put(&name, &file).await.unwrap();
        assert!(file.exists(), "the staged file stays for a second put");
        assert!(blobs.exists(&name).await.unwrap());
        assert_eq!(blobs.list().await.unwrap(), vec![name.clone()]);

        let withdrawn = blobs.withdraw(&name).await.unwrap().unwrap();
        assert!(!blobs.exists(&name).await.unwrap());
        assert!(blobs.withdraw(&name).await.unwrap().is_none(), "once");
        assert!(blobs.list().await.unwrap().is_empty());
        blobs.restore(withdrawn).await.unwrap();
        assert!(blobs.open(&name).await.unwrap().is_some());

        let withdrawn = blobs.withdraw(&name).await.unwrap().unwrap();
        let left = blobs.withdrawn().await.unwrap();
        assert_eq!(left.len(), 1, "a stopped node's withdrawal is found");
        blobs
            .restore(left.into_iter().next().unwrap())
            .await
            .unwrap();
        blobs.restore(withdrawn).await.unwrap();
        assert!(
            blobs.exists(&name).await.unwrap(),
            "restored once, twice is no error"
        );
        let withdrawn = blobs.withdraw(&name).await.unwrap().unwrap();
        blobs.discard(withdrawn).await.unwrap();
        assert!(!blobs.exists(&name).await.unwrap());
        blobs.put(&name, &file).await.unwrap();
        assert!(
            blobs.exists(&name).await.unwrap(),
            "put again from the staged file"
        );
    }

    #[tokio::test]
    async fn names_that_are_not_hashes_reach_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DirectoryBlobs::new(dir.path().join("blobs"));
        for name in ["../x", "", "a", "zz/../../etc"] {
            assert!(blobs.open(name).await.unwrap().is_none(), "{name}");
            assert!(!blobs.exists(name).await.unwrap(), "{name}");
        }
    }
}
