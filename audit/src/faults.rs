//! Fault injection for the audit log's writes and syncs — part of the
//! library's test API, so embedders can prove their own fail-closed paths.
//!
//! A [`Faults`] handle is shared by a log and the test that holds it; by
//! default it injects nothing. The `airlock` crate's
//! `HostBuilder::audit_faults` hands one to a host.

use std::fs::File;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// What an injected fault does.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A write fails with "no space left on device"; nothing is written.
    Write,
    /// A write puts half its bytes in the file, then fails like a full disk.
    TornWrite,
    /// An `fsync` fails with an I/O error.
    Sync,
}

const NONE: u8 = 0;

/// A switch for the faults a log meets.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    kind: AtomicU8,
    /// Operations of that kind that still succeed before the faults start.
    after: AtomicU64,
}

impl Faults {
    /// No faults, until told.
    pub fn new() -> Faults {
        Faults::default()
    }

    /// From now on, let `after` more operations of `fault`'s kind succeed,
    /// then fail every one.
    pub fn fail(&self, fault: Fault, after: u64) {
        self.inner.after.store(after, Ordering::SeqCst);
        let kind = match fault {
            Fault::Write => 1,
            Fault::TornWrite => 2,
            Fault::Sync => 3,
        };
        self.inner.kind.store(kind, Ordering::SeqCst);
    }

    /// Stop injecting faults: the storage works again.
    pub fn heal(&self) {
        self.inner.kind.store(NONE, Ordering::SeqCst);
    }

    fn trips(&self, kinds: &[u8]) -> Option<u8> {
        let kind = self.inner.kind.load(Ordering::SeqCst);
        if !kinds.contains(&kind) {
            return None;
        }
        let passed = self
            .inner
            .after
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        passed.is_err().then_some(kind)
    }

    /// Write all of `buf`, unless a fault says otherwise.
    pub(crate) fn write_all(&self, mut file: &File, buf: &[u8]) -> std::io::Result<()> {
        match self.trips(&[1, 2]) {
            None => file.write_all(buf),
            Some(kind) => {
                if kind == 2 {
                    file.write_all(&buf[..buf.len() / 2])?;
                }
                Err(std::io::Error::from_raw_os_error(28)) // ENOSPC
            }
        }
    }

    /// `fsync` the data of `file`, unless a fault says otherwise.
    pub(crate) fn sync(&self, file: &File) -> std::io::Result<()> {
        match self.trips(&[3]) {
            None => file.sync_data(),
            Some(_) => Err(std::io::Error::from_raw_os_error(5)), // EIO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_start_after_the_allowed_operations_and_heal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap();
        let f = Faults::new();
        f.write_all(&file, b"ok\n").unwrap();
        f.fail(Fault::TornWrite, 1);
        f.write_all(&file, b"one\n").unwrap();
        assert!(f.write_all(&file, b"torn\n").is_err());
        f.sync(&file).unwrap();
        f.fail(Fault::Sync, 0);
        assert!(f.sync(&file).is_err());
        f.write_all(&file, b"\n").unwrap();
        f.heal();
        f.sync(&file).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"ok\none\nto\n");
    }
}
