//! The embedded store's write-ahead log.
//!
//! redb makes a commit durable by writing every page the commit touched and syncing them, a
//! few hundred microseconds per commit. The write-ahead log makes a batch of writes durable with
//! one sequential append and one `fdatasync` instead; redb then commits the batch without
//! syncing, and a periodic checkpoint (a durable redb commit) makes the log's content redundant.
//!
//! The log is one preallocated file, rewritten from its start after every checkpoint. Records
//! carry the log generation they belong to, which the checkpoint advances in the same durable
//! commit, so recovery replays exactly the records written since the last checkpoint: it reads
//! from the start and stops at the first record that is torn, of an older generation, or out of
//! revision order.
//!
//! Record: `magic u32 | body length u32 | crc32(body) u32 | body`, body =
//! `generation u64 | kind u8 | ...`:
//! - kind 1, a write: `revision i64 | op count u32 | ops`, op = `0 (put) | key | value` or
//!   `1 (delete) | key`, key and value each as `length u32 | bytes`;
//! - kind 2, a compaction: `compacted revision i64`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::Revision;

const MAGIC: u32 = 0x1C0E_57A1;
const HEADER: usize = 12;
const KIND_WRITE: u8 = 1;
const KIND_COMPACT: u8 = 2;
/// The log file grows by this much at a time.
const GROW_STEP: u64 = 4 << 20;

/// One logged change.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Record {
    /// A write that produced `revision`.
    Write {
        /// Its revision.
        revision: Revision,
        /// Its operations, in order.
        ops: Vec<LoggedOp>,
    },
    /// A compaction to `revision`.
    Compact {
        /// The new compacted revision.
        revision: Revision,
    },
}

/// One operation of a logged write (conditions already checked).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LoggedOp {
    /// Put a value.
    Put(String, Bytes),
    /// Delete a key.
    Delete(String),
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE).
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    buf.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
    buf.extend_from_slice(b);
}

/// Appends records to an in-memory buffer, then writes the buffer with one append.
pub(super) struct RecordBuf {
    buf: Vec<u8>,
}

impl RecordBuf {
    pub(super) fn new() -> Self {
        RecordBuf { buf: Vec::new() }
    }

    pub(super) fn clear(&mut self) {
        self.buf.clear();
    }

    pub(super) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn record(&mut self, generation: u64, kind: u8, body: impl FnOnce(&mut Vec<u8>)) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&MAGIC.to_le_bytes());
        self.buf.extend_from_slice(&[0; 8]);
        self.buf.extend_from_slice(&generation.to_le_bytes());
        self.buf.push(kind);
        body(&mut self.buf);
        let body_len = self.buf.len() - start - HEADER;
        let crc = crc32(&self.buf[start + HEADER..]);
        self.buf[start + 4..start + 8]
            .copy_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_le_bytes());
        self.buf[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    }

    /// Logs a write: `puts_and_deletes` yields `(key, Some(value))` for a put, `(key, None)`
    /// for a delete.
    pub(super) fn write<'a>(
        &mut self,
        generation: u64,
        revision: Revision,
        ops: impl ExactSizeIterator<Item = (&'a str, Option<&'a [u8]>)>,
    ) {
        self.record(generation, KIND_WRITE, |b| {
            b.extend_from_slice(&revision.to_le_bytes());
            b.extend_from_slice(&u32::try_from(ops.len()).unwrap_or(u32::MAX).to_le_bytes());
            for (key, value) in ops {
                match value {
                    Some(v) => {
                        b.push(0);
                        put_bytes(b, key.as_bytes());
                        put_bytes(b, v);
                    }
                    None => {
                        b.push(1);
                        put_bytes(b, key.as_bytes());
                    }
                }
            }
        });
    }

    /// Logs a compaction.
    pub(super) fn compact(&mut self, generation: u64, revision: Revision) {
        self.record(generation, KIND_COMPACT, |b| {
            b.extend_from_slice(&revision.to_le_bytes());
        });
    }
}

/// Reads fields off a record body.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn parse_body(body: &[u8]) -> Option<(u64, Record)> {
    let mut c = Cursor { b: body, at: 0 };
    let generation = c.u64()?;
    let record = match c.u8()? {
        KIND_WRITE => {
            let revision = c.i64()?;
            let n = c.u32()? as usize;
            let mut ops = Vec::with_capacity(n.min(4096));
            for _ in 0..n {
                let kind = c.u8()?;
                let key = String::from_utf8(c.bytes()?.to_vec()).ok()?;
                ops.push(match kind {
                    0 => LoggedOp::Put(key, Bytes::copy_from_slice(c.bytes()?)),
                    1 => LoggedOp::Delete(key),
                    _ => return None,
                });
            }
            Record::Write { revision, ops }
        }
        KIND_COMPACT => Record::Compact { revision: c.i64()? },
        _ => return None,
    };
    Some((generation, record))
}

/// The log file.
pub(super) struct Wal {
    file: File,
    path: PathBuf,
    /// Where the next record goes.
    offset: u64,
    /// Bytes of the file written (with zeros, at least) so far.
    allocated: u64,
    /// The most the file may grow to.
    capacity: u64,
    /// The generation records are written with (the one recorded by the last checkpoint).
    pub(super) generation: u64,
}

impl Wal {
    /// Opens (or creates) the log at `path`, which may grow to `capacity` bytes.
    pub(super) fn open(path: &Path, capacity: u64, generation: u64) -> std::io::Result<Self> {
        let existed = path.exists();
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let allocated = file.metadata()?.len();
        let mut wal = Wal {
            file,
            path: path.to_owned(),
            offset: 0,
            allocated,
            capacity: capacity.max(allocated).max(GROW_STEP),
            generation,
        };
        if allocated < GROW_STEP {
            wal.grow(GROW_STEP)?;
        }
        if !existed && let Some(dir) = path.parent() {
            // Make the new file's directory entry durable too.
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            File::open(dir)?.sync_all()?;
        }
        Ok(wal)
    }

    /// Extends the file to at least `len` bytes (in `GROW_STEP`s, up to the capacity). The
    /// new space is left sparse: zero-filling it would cost a burst of writes that slows every
    /// sync on the machine for a while, for no gain measured here; after the first checkpoint
    /// the log overwrites blocks it already wrote.
    fn grow(&mut self, len: u64) -> std::io::Result<()> {
        let target = len
            .div_ceil(GROW_STEP)
            .saturating_mul(GROW_STEP)
            .min(self.capacity);
        if target <= self.allocated {
            return Ok(());
        }
        self.file.set_len(target)?;
        self.file.sync_all()?;
        self.allocated = target;
        Ok(())
    }

    /// The log's file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether anything was logged since the last checkpoint.
    pub(super) fn is_dirty(&self) -> bool {
        self.offset > 0
    }

    /// Whether `n` more bytes fit.
    pub(super) fn fits(&self, n: usize) -> bool {
        self.offset.saturating_add(n as u64) <= self.capacity
    }

    /// Used fraction of the file.
    pub(super) fn fill(&self) -> f64 {
        self.offset as f64 / self.capacity.max(1) as f64
    }

    /// Appends `buf` and makes it durable.
    pub(super) fn append(&mut self, buf: &RecordBuf) -> std::io::Result<()> {
        let end = self.offset + buf.buf.len() as u64;
        if end > self.allocated {
            self.grow(end)?;
        }
        self.file.seek(SeekFrom::Start(self.offset))?;
        self.file.write_all(&buf.buf)?;
        self.file.sync_data()?;
        self.offset += buf.buf.len() as u64;
        Ok(())
    }

    /// Makes the records appended last (from `offset`) unreadable again, after the commit
    /// they belong to failed.
    pub(super) fn retract(&mut self, offset: u64) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.write_all(&[0; HEADER])?;
        self.file.sync_data()?;
        self.offset = offset;
        Ok(())
    }

    /// The write position.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// After a checkpoint recorded `generation`: start over at the beginning.
    pub(super) fn reset(&mut self, generation: u64) {
        self.generation = generation;
        self.offset = 0;
    }

    /// The records of the current generation, from the start of the file up to the first
    /// torn or foreign record.
    pub(super) fn read_records(&mut self) -> std::io::Result<Vec<Record>> {
        self.file.seek(SeekFrom::Start(0))?;
        let mut reader = std::io::BufReader::new(&self.file);
        let mut records = Vec::new();
        let mut header = [0u8; HEADER];
        let mut read = 0u64;
        loop {
            if read + HEADER as u64 > self.allocated || reader.read_exact(&mut header).is_err() {
                break;
            }
            let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as u64;
            let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
            if magic != MAGIC || read + HEADER as u64 + len > self.allocated {
                break;
            }
            let mut body = vec![0u8; len as usize];
            if reader.read_exact(&mut body).is_err() || crc32(&body) != crc {
                break;
            }
            match parse_body(&body) {
                Some((generation, record)) if generation == self.generation => records.push(record),
                _ => break,
            }
            read += HEADER as u64 + len;
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn records_roundtrip_and_stop_at_foreign_generation() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("wal");
        let mut wal = Wal::open(&path, 1 << 16, 7)?;
        let mut buf = RecordBuf::new();
        buf.write(7, 5, [("/a", Some(&b"x"[..])), ("/b", None)].into_iter());
        buf.compact(7, 4);
        buf.write(6, 6, [("/c", Some(&b"y"[..]))].into_iter());
        wal.append(&buf)?;
        let records = wal.read_records()?;
        assert_eq!(
            records,
            vec![
                Record::Write {
                    revision: 5,
                    ops: vec![
                        LoggedOp::Put("/a".into(), Bytes::from_static(b"x")),
                        LoggedOp::Delete("/b".into())
                    ]
                },
                Record::Compact { revision: 4 }
            ]
        );
        // A torn record ends the log.
        let first_len = {
            let mut one = RecordBuf::new();
            one.write(7, 5, [("/a", Some(&b"x"[..])), ("/b", None)].into_iter());
            one.len() as u64
        };
        wal.retract(first_len)?;
        assert_eq!(wal.read_records()?.len(), 1);
        Ok(())
    }
}
