//! The write-ahead log that makes the embedded store's writes durable.
//!
//! Why not fjall's own journal: fjall syncs its journal while holding the
//! lock that every commit takes, so a commit arriving during a sync stalled
//! its thread (a runtime worker) for the rest of that sync, and its own sync
//! came after. Here a batch is committed to fjall unsynced, then encoded onto
//! the log's in-memory tail, both under the store's write lock, so the log
//! holds batches in commit order. One thread of the log's own writes the tail
//! out and syncs it; meanwhile writers keep appending to a fresh tail, which
//! the next sync takes whole (pipelined group commit). A write is
//! acknowledged once the log's durable sequence reaches its record.
//!
//! A record is `length u32 | crc32 u32 | sequence u64 | operations`,
//! little-endian, the checksum over sequence and operations. Each fjall batch
//! also sets [`APPLIED_KEY`] in `meta` to its record's sequence, so opening
//! replays exactly the records fjall lacks: whether a crash lost the tail of
//! fjall's unsynced journal, the log's unsynced tail, or both.
//!
//! Segments are files `wal/NUMBER.log` inside fjall's folder (fjall reads
//! only its own `.jnl` files there). Once a segment is longer than
//! [`SEGMENT_BYTES`] the thread starts the next, and a checkpoint deletes
//! the earlier ones once fjall's journal is synced: everything they hold was
//! committed to fjall before it was appended here.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use concord_store::{StoreError, StoreResult};
use fjall::{Database, Keyspace, PersistMode};
use tokio::sync::watch;

use crate::batch;
use crate::codec::{backend, u64_value};

/// Where in `meta` fjall keeps the sequence of the last record it holds.
pub(crate) const APPLIED_KEY: &[u8] = b"wal_applied";

/// A segment past this length is followed by a new one.
const SEGMENT_BYTES: u64 = 16 << 20;

/// Length, checksum and sequence in front of each record's operations.
const HEADER: usize = 16;

pub(crate) struct Wal {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

struct Shared {
    tail: Mutex<Tail>,
    /// Wakes the writer thread when the tail gains a record or closes.
    wake: Condvar,
    durable: watch::Sender<Durable>,
}

struct Tail {
    /// Records appended and not yet taken by the writer thread.
    bytes: Vec<u8>,
    /// The sequence of the last record appended.
    last: u64,
    /// The store is closing: the writer thread drains the tail and ends.
    closing: bool,
    /// A write or sync failed: nothing more becomes durable.
    failed: bool,
}

#[derive(Clone, Copy)]
struct Durable {
    /// Every record up to this sequence is on disk.
    seq: u64,
    failed: bool,
}

impl Wal {
    /// Replays into `db` the records of the log in `dir` that fjall lacks,
    /// syncs fjall and empties the log; then, with `keep`, starts a new log.
    pub(crate) fn open(
        dir: &Path,
        db: &Database,
        meta: &Keyspace,
        keep: bool,
    ) -> StoreResult<Option<Wal>> {
        let dir = dir.join("wal");
        fs::create_dir_all(&dir).map_err(backend)?;
        let segments = segments(&dir).map_err(backend)?;
        let applied = meta.get(APPLIED_KEY).map_err(backend)?;
        let mut last = applied.as_deref().map_or(0, u64_value);
        for (i, (number, path)) in segments.iter().enumerate() {
            let bytes = fs::read(path).map_err(backend)?;
            let mut records = Records::new(&bytes);
            for record in &mut records {
                if record.seq <= last {
                    continue;
                }
                if record.seq != last + 1 {
                    return Err(StoreError::Corrupt(format!(
                        "write-ahead log segment {number}: record {} follows {last}",
                        record.seq
                    )));
                }
                let mut replayed = db.batch();
                batch::replay(db, record.ops, &mut replayed)?;
                replayed.insert(meta, APPLIED_KEY, record.seq.to_be_bytes());
                replayed.commit().map_err(backend)?;
                last = record.seq;
            }
            // Only the newest segment can end cut short: a segment is
            // followed by the next only once all of it is synced.
            if !records.whole() && i + 1 < segments.len() {
                return Err(StoreError::Corrupt(format!(
                    "write-ahead log segment {number} is damaged at byte {}",
                    records.at
                )));
            }
        }
        if let Some(&(newest, _)) = segments.last() {
            db.persist(PersistMode::SyncAll).map_err(backend)?;
            remove_segments(&dir, newest + 1).map_err(backend)?;
        }
        if !keep {
            return Ok(None);
        }
        let first = segments.last().map_or(0, |(n, _)| n + 1);
        let segment = Segment::create(&dir, first).map_err(backend)?;
        let shared = Arc::new(Shared {
            tail: Mutex::new(Tail {
                bytes: Vec::new(),
                last,
                closing: false,
                failed: false,
            }),
            wake: Condvar::new(),
            durable: watch::channel(Durable {
                seq: last,
                failed: false,
            })
            .0,
        });
        let writer = Writer {
            dir,
            segment,
            db: db.clone(),
            checkpoint: None,
        };
        let thread = std::thread::Builder::new()
            .name("concord-wal".into())
            .spawn({
                let shared = shared.clone();
                move || writer.run(&shared)
            })
            .map_err(backend)?;
        Ok(Some(Wal {
            shared,
            writer: Some(thread),
        }))
    }

    /// The sequence the next record gets. The caller holds the store's write
    /// lock from here until it appends.
    pub(crate) fn next(&self) -> u64 {
        self.shared.lock().last + 1
    }

    /// The sequence of the last record appended.
    pub(crate) fn last(&self) -> u64 {
        self.shared.lock().last
    }

    /// Appends the record of a batch just committed to fjall.
    pub(crate) fn append(&self, seq: u64, ops: &[u8]) {
        let mut tail = self.shared.lock();
        debug_assert_eq!(seq, tail.last + 1);
        tail.last = seq;
        if tail.failed {
            return;
        }
        encode(&mut tail.bytes, seq, ops);
        drop(tail);
        self.shared.wake.notify_one();
    }

    /// Returns once the record `seq` (and every one before it) is on disk.
    pub(crate) async fn durable(&self, seq: u64) -> StoreResult<()> {
        let mut durable = self.shared.durable.subscribe();
        let reached = *durable
            .wait_for(|d| d.failed || d.seq >= seq)
            .await
            .map_err(|_| StoreError::Backend("store closed".into()))?;
        if reached.seq >= seq {
            Ok(())
        } else {
            Err(StoreError::Backend(
                "write-ahead log: a write to disk failed".into(),
            ))
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer thread's side: the open segment, and the checkpoint that
/// deletes older ones.
struct Writer {
    dir: PathBuf,
    segment: Segment,
    db: Database,
    checkpoint: Option<JoinHandle<()>>,
}

impl Writer {
    fn run(mut self, shared: &Shared) {
        let mut taken = Vec::new();
        loop {
            let last = {
                let mut tail = shared.lock();
                while tail.bytes.is_empty() && !tail.closing {
                    tail = shared.wake.wait(tail).unwrap_or_else(|e| e.into_inner());
                }
                if tail.bytes.is_empty() {
                    break;
                }
                std::mem::swap(&mut tail.bytes, &mut taken);
                tail.last
            };
            let started = Instant::now();
            let written = self.segment.write(&taken);
            metrics::histogram!("concord_store_sync_seconds")
                .record(started.elapsed().as_secs_f64());
            taken.clear();
            // A burst's buffer is not kept for ever.
            if taken.capacity() > 1 << 20 {
                taken = Vec::new();
            }
            let rotated = written.and_then(|()| {
                shared.durable.send_modify(|d| d.seq = last);
                self.rotate_when_full()
            });
            if let Err(e) = rotated {
                tracing::error!(error = %e, "write-ahead log: write failed; no further write is acknowledged");
                shared.lock().failed = true;
                shared.durable.send_modify(|d| d.failed = true);
                break;
            }
        }
        if let Some(checkpoint) = self.checkpoint.take() {
            let _ = checkpoint.join();
        }
    }

    /// Starts the next segment once this one is full, and a checkpoint for
    /// the ones before it.
    fn rotate_when_full(&mut self) -> io::Result<()> {
        if self.segment.len < SEGMENT_BYTES {
            return Ok(());
        }
        self.segment = Segment::create(&self.dir, self.segment.number + 1)?;
        if let Some(previous) = self.checkpoint.take() {
            let _ = previous.join();
        }
        let (db, dir, below) = (self.db.clone(), self.dir.clone(), self.segment.number);
        // On a thread of its own: fjall's sync holds its commit lock, and
        // the log's syncs must go on meanwhile.
        let checkpoint = std::thread::Builder::new()
            .name("concord-wal-checkpoint".into())
            .spawn(move || {
                let done = db
                    .persist(PersistMode::SyncAll)
                    .map_err(io::Error::other)
                    .and_then(|()| remove_segments(&dir, below));
                if let Err(e) = done {
                    tracing::error!(error = %e, "write-ahead log: checkpoint failed; segments kept");
                }
            })?;
        self.checkpoint = Some(checkpoint);
        Ok(())
    }
}

struct Segment {
    number: u64,
    file: File,
    /// Bytes of records written.
    len: u64,
    /// Bytes of the file, zeros past `len`.
    zeroed: u64,
}

/// The file grows by this many zeros, written and synced ahead of the
/// records: overwriting blocks the file already has changes no metadata,
/// so a sync is the data alone, not a filesystem journal commit as well
/// (which, on a busy disk, waits for everyone else's metadata).
const ZEROED_STEP: u64 = 1 << 20;

impl Segment {
    fn create(dir: &Path, number: u64) -> io::Result<Segment> {
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(dir.join(format!("{number:020}.log")))?;
        // The file's name must survive a crash as well as its contents.
        File::open(dir)?.sync_all()?;
        Ok(Segment {
            number,
            file,
            len: 0,
            zeroed: 0,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let end = self.len + bytes.len() as u64;
        if end > self.zeroed {
            self.zero_to(end.next_multiple_of(ZEROED_STEP))?;
        }
        self.file.write_all_at(bytes, self.len)?;
        self.file.sync_data()?;
        self.len = end;
        Ok(())
    }

    /// Writes zeros from the file's end up to `end` (this sync includes
    /// the new length; the ones after it need not).
    fn zero_to(&mut self, end: u64) -> io::Result<()> {
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        while self.zeroed < end {
            let n = (end - self.zeroed).min(ZEROS.len() as u64);
            self.file.write_all_at(&ZEROS[..n as usize], self.zeroed)?;
            self.zeroed += n;
        }
        Ok(())
    }
}

/// The log's segments, oldest first.
fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let number = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(number) = number {
            found.push((number, path));
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Deletes the segments numbered below `below`.
fn remove_segments(dir: &Path, below: u64) -> io::Result<()> {
    for (number, path) in segments(dir)? {
        if number < below {
            fs::remove_file(path)?;
        }
    }
    Ok(())
}

fn encode(out: &mut Vec<u8>, seq: u64, ops: &[u8]) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&seq.to_le_bytes());
    crc.update(ops);
    out.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(ops);
}

struct Record<'a> {
    seq: u64,
    ops: &'a [u8],
}

/// The whole records at the front of a segment: reading stops at the first
/// one cut short or damaged (a write the crash tore), or at the zeros the
/// segment was grown with.
struct Records<'a> {
    bytes: &'a [u8],
    /// Where the next record starts.
    at: usize,
}

impl<'a> Records<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Records { bytes, at: 0 }
    }

    /// Whether every byte after the records read is a zero the segment
    /// was grown with: nothing was cut short or damaged.
    fn whole(&self) -> bool {
        self.bytes[self.at..].iter().all(|&b| b == 0)
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let rest = &self.bytes[self.at..];
        let header = rest.get(..HEADER)?;
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let (len, crc) = (word(0) as usize, word(4));
        let body = rest.get(8..HEADER.checked_add(len)?)?;
        if crc32fast::hash(body) != crc {
            return None;
        }
        let (seq, ops) = body.split_at(8);
        self.at += HEADER + len;
        Some(Record {
            seq: u64_value_le(seq),
            ops,
        })
    }
}

fn u64_value_le(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_le_bytes).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(records: &[(u64, &[u8])]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for (seq, ops) in records {
            encode(&mut bytes, *seq, ops);
            ends.push(bytes.len());
        }
        (bytes, ends)
    }

    #[test]
    fn a_segment_cut_at_any_byte_reads_as_its_whole_records() {
        let records: Vec<(u64, Vec<u8>)> = (1..=4)
            .map(|i| (i, vec![i as u8; 30 * i as usize]))
            .collect();
        let borrowed: Vec<(u64, &[u8])> = records.iter().map(|(s, o)| (*s, o.as_slice())).collect();
        let (bytes, ends) = log(&borrowed);
        for cut in 0..=bytes.len() {
            let read: Vec<(u64, Vec<u8>)> = Records::new(&bytes[..cut])
                .map(|r| (r.seq, r.ops.to_vec()))
                .collect();
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            assert_eq!(read, records[..whole], "cut at {cut}");
        }
    }

    #[test]
    fn a_damaged_byte_ends_the_reading_at_its_record() {
        let (bytes, ends) = log(&[(1, b"first"), (2, b"second"), (3, b"third")]);
        for at in ends[0]..ends[1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            let mut records = Records::new(&damaged);
            let seqs: Vec<u64> = records.by_ref().map(|r| r.seq).collect();
            assert_eq!(seqs, [1], "damage at {at}");
            assert!(!records.whole());
        }
    }

    mod store {
        use super::*;
        use crate::{FjallOptions, FjallStore};
        use concord_store::MetaStore;

        const LOGGED: FjallOptions = FjallOptions {
            bucket_ms: 1_000,
            sync: true,
        };

        fn segment_files(dir: &Path) -> Vec<PathBuf> {
            segments(&dir.join("wal"))
                .unwrap()
                .into_iter()
                .map(|(_, p)| p)
                .collect()
        }

        /// Writes `count` keys through a logged store and returns its only
        /// segment's bytes, as a crash would leave them (fjall's copy aside).
        async fn logged_writes(count: usize) -> Vec<u8> {
            let dir = tempfile::tempdir().unwrap();
            {
                let store = FjallStore::open(dir.path(), LOGGED).unwrap();
                for i in 0..count {
                    store.put_meta(&format!("k{i}"), b"v").await.unwrap();
                }
            }
            let files = segment_files(dir.path());
            assert_eq!(files.len(), 1);
            fs::read(&files[0]).unwrap()
        }

        /// A folder holding a fjall database with an empty `meta` (cheaper
        /// to make than a whole store's) and a log segment of these bytes:
        /// as if fjall had lost everything the log holds.
        fn only_the_log(bytes: &[u8]) -> (tempfile::TempDir, Database, Keyspace) {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir(dir.path().join("wal")).unwrap();
            fs::write(dir.path().join("wal").join(format!("{:020}.log", 0)), bytes).unwrap();
            let db = Database::builder(dir.path())
                .manual_journal_persist(true)
                .open()
                .unwrap();
            let meta = db
                .keyspace("meta", fjall::KeyspaceCreateOptions::default)
                .unwrap();
            (dir, db, meta)
        }

        /// A crash can tear the log's last write at any byte. Whatever the
        /// cut in its last record, opening brings back exactly the writes
        /// whose records are whole, and numbers the next one after them.
        /// (Every cut of a whole segment is read in the test above.)
        #[tokio::test]
        async fn a_log_torn_at_any_byte_brings_back_exactly_its_whole_records() {
            let bytes = logged_writes(6).await;
            let mut ends = Vec::new();
            let mut records = Records::new(&bytes);
            while records.next().is_some() {
                ends.push(records.at);
            }
            assert_eq!(ends.len(), 6);
            assert!(records.whole());
            assert_eq!(bytes.len() as u64, ZEROED_STEP, "the segment grew by zeros");
            // Each cut as the crash may leave it: the file cut short, or the
            // zeros it had grown with still behind the torn record.
            let cuts = (ends[4]..=ends[5]).chain([0, 1, ends[0], ends[3] + 5]);
            for (cut, zeros) in cuts.flat_map(|cut| [(cut, false), (cut, true)]) {
                let mut torn = bytes[..cut].to_vec();
                if zeros {
                    torn.resize(bytes.len(), 0);
                }
                let (dir, db, meta) = only_the_log(&torn);
                let wal = Wal::open(dir.path(), &db, &meta, true).unwrap().unwrap();
                let whole = ends.iter().filter(|&&end| end <= cut).count();
                for i in 0..6 {
                    let found = meta.get(format!("k{i}")).unwrap();
                    assert_eq!(found.is_some(), i < whole, "cut at {cut}, key {i}");
                }
                assert_eq!(wal.next(), whole as u64 + 1, "cut at {cut}");
                assert_eq!(
                    segment_files(dir.path()).len(),
                    1,
                    "replayed segments are gone"
                );
            }
        }

        /// After a replay the store goes on: a new write is logged after the
        /// replayed ones and is there after another crash of fjall's copy.
        #[tokio::test]
        async fn a_replayed_store_goes_on_writing() {
            let bytes = logged_writes(3).await;
            let (dir, db, meta) = only_the_log(&bytes);
            drop(Wal::open(dir.path(), &db, &meta, true).unwrap());
            drop((meta, db));
            let store = FjallStore::open(dir.path(), LOGGED).unwrap();
            assert!(store.meta("k2").await.unwrap().is_some());
            store.put_meta("after", b"v").await.unwrap();
            drop(store);
            let store = FjallStore::open(dir.path(), LOGGED).unwrap();
            assert!(store.meta("after").await.unwrap().is_some());
            assert!(store.meta("k0").await.unwrap().is_some());
        }

        /// A log whose first record is not the one after what fjall holds
        /// has lost acknowledged writes: opening refuses.
        #[tokio::test]
        async fn a_log_with_a_gap_is_refused() {
            let mut bytes = Vec::new();
            encode(&mut bytes, 2, &[]);
            let (dir, db, meta) = only_the_log(&bytes);
            let Err(StoreError::Corrupt(why)) = Wal::open(dir.path(), &db, &meta, true) else {
                panic!("opened over a gap");
            };
            assert!(why.contains("follows"), "{why}");
        }

        /// Past a segment's length the log moves to a new segment, and the
        /// old one goes once fjall is synced; nothing is lost on the way.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_full_segment_is_followed_by_the_next_and_then_deleted() {
            let dir = tempfile::tempdir().unwrap();
            let value = vec![7u8; 64 << 10];
            let count = (SEGMENT_BYTES as usize / value.len()) + 2;
            {
                let store = FjallStore::open(dir.path(), LOGGED).unwrap();
                for i in 0..count {
                    store.put_meta(&format!("k{i}"), &value).await.unwrap();
                }
                let deadline = Instant::now() + std::time::Duration::from_secs(10);
                while segment_files(dir.path()).len() > 1 {
                    assert!(
                        Instant::now() < deadline,
                        "the full segment was never deleted"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                let files = segment_files(dir.path());
                assert!(files[0].ends_with(format!("{:020}.log", 1)), "{files:?}");
            }
            let store = FjallStore::open(dir.path(), LOGGED).unwrap();
            for i in [0, count / 2, count - 1] {
                assert_eq!(
                    store.meta(&format!("k{i}")).await.unwrap(),
                    Some(value.clone())
                );
            }
        }
    }
}
