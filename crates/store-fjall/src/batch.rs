//! A write batch that also writes itself down for the write-ahead log.
//!
//! Each operation goes to fjall's batch and, when the store keeps a log, is
//! encoded after the ones before it: `1 | keyspace | key | value` for an
//! insert, `2 | keyspace | key` for a removal, the keyspace as its name (one
//! length byte), keys and values each behind a `u32` length. Names rather
//! than numbers, so a log stays readable by a build that added keyspaces.

use concord_store::{StoreError, StoreResult};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, UserKey, UserValue};

const INSERT: u8 = 1;
const REMOVE: u8 = 2;

pub(crate) struct WriteBatch {
    inner: OwnedWriteBatch,
    /// The operations encoded for the log, when the store keeps one.
    ops: Option<Vec<u8>>,
}

impl WriteBatch {
    pub(crate) fn new(db: &Database, logged: bool) -> Self {
        WriteBatch {
            inner: db.batch(),
            ops: logged.then(Vec::new),
        }
    }

    pub(crate) fn insert<K: Into<UserKey>, V: Into<UserValue>>(
        &mut self,
        keyspace: &Keyspace,
        key: K,
        value: V,
    ) {
        let (key, value) = (key.into(), value.into());
        if let Some(ops) = &mut self.ops {
            ops.push(INSERT);
            put_name(ops, keyspace);
            put_bytes(ops, &key);
            put_bytes(ops, &value);
        }
        self.inner.insert(keyspace, key, value);
    }

    pub(crate) fn remove<K: Into<UserKey>>(&mut self, keyspace: &Keyspace, key: K) {
        let key = key.into();
        if let Some(ops) = &mut self.ops {
            ops.push(REMOVE);
            put_name(ops, keyspace);
            put_bytes(ops, &key);
        }
        self.inner.remove(keyspace, key);
    }

    /// Whether no operation was staged.
    pub(crate) fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Sets a key without logging it: for the log's own position, which the
    /// record carries anyway.
    pub(crate) fn mark(&mut self, keyspace: &Keyspace, key: &'static [u8], value: [u8; 8]) {
        self.inner.insert(keyspace, key, value);
    }

    /// Commits to fjall (not yet durable); the encoded operations, if logged.
    pub(crate) fn commit(self) -> StoreResult<Option<Vec<u8>>> {
        self.inner.commit().map_err(crate::codec::backend)?;
        Ok(self.ops)
    }
}

fn put_name(out: &mut Vec<u8>, keyspace: &Keyspace) {
    let name = keyspace.name().as_bytes();
    // Keyspace names are this crate's own short table names.
    out.push(name.len() as u8);
    out.extend_from_slice(name);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Stages the operations of one logged batch into `batch` again.
pub(crate) fn replay(db: &Database, ops: &[u8], batch: &mut OwnedWriteBatch) -> StoreResult<()> {
    let mut ops = Cursor(ops);
    let mut keyspaces: Vec<Keyspace> = Vec::new();
    while let Some(&tag) = ops.0.first() {
        ops.take(1)?;
        let name_len = ops.take(1)?[0] as usize;
        let name = ops.take(name_len)?;
        let keyspace = match keyspaces.iter().find(|k| k.name().as_bytes() == name) {
            Some(k) => k.clone(),
            None => {
                let name = std::str::from_utf8(name).map_err(|_| damaged())?;
                let k = db
                    .keyspace(name, KeyspaceCreateOptions::default)
                    .map_err(crate::codec::backend)?;
                keyspaces.push(k.clone());
                k
            }
        };
        match tag {
            INSERT => {
                let key = ops.bytes()?;
                let value = ops.bytes()?;
                batch.insert(&keyspace, key, value);
            }
            REMOVE => batch.remove(&keyspace, ops.bytes()?),
            _ => return Err(damaged()),
        }
    }
    Ok(())
}

fn damaged() -> StoreError {
    StoreError::Backend("write-ahead log: a record does not decode".into())
}

/// Reads encoded operations front to back.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> StoreResult<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n).ok_or_else(damaged)?;
        self.0 = rest;
        Ok(head)
    }

    /// Bytes behind their `u32` length.
    fn bytes(&mut self) -> StoreResult<&'a [u8]> {
        let len = self.take(4)?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]);
        self.take(len as usize)
    }
}
