//! Reading the operator's files: the policy, the lock, secret files, CA
//! certificates, keys, components and their signatures.
//!
//! Each is read only from a regular file and only up to a cap of its own.
//! A path that names a FIFO, a socket or a device (`/dev/zero`, `/dev/stdin`
//! on a terminal) is refused before it is opened, and the handle is checked
//! again once it is open — opened with `O_NONBLOCK`, so a FIFO swapped in
//! between cannot hold the host. A file larger than its cap is refused
//! without reading past the cap.

use crate::units::ByteSize;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The most read of a policy.
pub const POLICY_MAX: ByteSize = ByteSize::mib(16);
/// The most read of a lock.
pub const LOCK_MAX: ByteSize = ByteSize::mib(16);
/// The most read of a secret file.
pub const SECRET_MAX: ByteSize = ByteSize::kib(64);
/// The most read of a CA certificate file.
pub const CA_MAX: ByteSize = ByteSize::mib(1);
/// The most read of a key file (minisign, checkpoint signing).
pub const KEY_MAX: ByteSize = ByteSize::kib(64);
/// The most read of a signature (`.minisig`) file.
pub const SIGNATURE_MAX: ByteSize = ByteSize::kib(64);
/// The most read of a component file.
pub const COMPONENT_MAX: ByteSize = ByteSize::mib(256);

/// The bytes of the operator's `what` file at `path`, if it is a regular
/// file of at most `cap` bytes.
///
/// Errors keep the kind of the underlying error (`NotFound` stays
/// `NotFound`); a file that is not regular is `InvalidInput` (`IsADirectory`
/// for a directory), one over the cap `FileTooLarge`. Their messages name
/// the kind of file or the cap, not the path: callers name the path.
pub fn read_operator_file(path: &Path, cap: ByteSize, what: &str) -> io::Result<Vec<u8>> {
    // Refused before opening: opening a device can act on it, and opening a
    // FIFO for reading waits for a writer.
    regular(&std::fs::metadata(path)?, what)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nonblocking())
        .open(path)?;
    read_opened(file, cap, what)
}

/// The bytes of `file`, already open, if it is a regular file of at most
/// `cap` bytes.
fn read_opened(file: File, cap: ByteSize, what: &str) -> io::Result<Vec<u8>> {
    let meta = file.metadata()?;
    regular(&meta, what)?;
    if meta.len() > cap.0 {
        return Err(too_large(cap, what));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // One byte past the cap tells a file that grew past it from one that
    // fits exactly.
    file.take(cap.0.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap.0 {
        return Err(too_large(cap, what));
    }
    Ok(bytes)
}

/// The text of the operator's `what` file at `path`, as
/// [`read_operator_file`] reads it; not UTF-8 is `InvalidData`.
pub fn read_operator_text(path: &Path, cap: ByteSize, what: &str) -> io::Result<String> {
    String::from_utf8(read_operator_file(path, cap, what)?).map_err(|_| {
        io::Error::new(
            ErrorKind::InvalidData,
            format!("not UTF-8 text (a {what} is UTF-8)"),
        )
    })
}

/// At most `cap` bytes from `reader`, or an error naming the cap: reads no
/// more than `cap` + 1 bytes.
pub fn read_capped(reader: impl Read, cap: ByteSize, what: &str) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(cap.0.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap.0 {
        return Err(too_large(cap, what));
    }
    Ok(bytes)
}

fn nonblocking() -> i32 {
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    i32::try_from(flags.bits()).unwrap_or(0)
}

fn regular(meta: &std::fs::Metadata, what: &str) -> io::Result<()> {
    let ty = meta.file_type();
    if ty.is_file() {
        return Ok(());
    }
    let (kind, error_kind) = if ty.is_dir() {
        ("a directory", ErrorKind::IsADirectory)
    } else if ty.is_fifo() {
        ("a FIFO", ErrorKind::InvalidInput)
    } else if ty.is_socket() {
        ("a socket", ErrorKind::InvalidInput)
    } else if ty.is_char_device() {
        ("a character device", ErrorKind::InvalidInput)
    } else if ty.is_block_device() {
        ("a block device", ErrorKind::InvalidInput)
    } else {
        ("not a file", ErrorKind::InvalidInput)
    };
    Err(io::Error::new(
        error_kind,
        format!("it is {kind}, not a regular file (a {what} is read only from a regular file)"),
    ))
}

fn too_large(cap: ByteSize, what: &str) -> io::Error {
    io::Error::new(
        ErrorKind::FileTooLarge,
        format!("it is larger than {cap}, the most airlock reads of a {what}"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn reads_a_regular_file_up_to_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "12345678").unwrap();
        assert_eq!(
            read_operator_file(&path, ByteSize(8), "policy").unwrap(),
            b"12345678"
        );
        let e = read_operator_file(&path, ByteSize(7), "policy").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FileTooLarge);
        assert_eq!(
            e.to_string(),
            "it is larger than 7 B, the most airlock reads of a policy"
        );
        let e = read_operator_file(&dir.path().join("missing"), ByteSize(8), "lock").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn refuses_directories_devices_and_fifos_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let started = Instant::now();
        let cases = [
            (dir.path(), "a directory"),
            (Path::new("/dev/zero"), "a character device"),
            (Path::new("/dev/null"), "a character device"),
            (fifo.as_path(), "a FIFO"),
        ];
        for (path, kind) in cases {
            let e = read_operator_file(path, ByteSize::mib(1), "secret file").unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "it is {kind}, not a regular file (a secret file is read only from a regular file)"
                ),
                "{}",
                path.display()
            );
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn an_opened_handle_is_checked_too() {
        // What a path swapped after the first check would open.
        let e = read_opened(File::open("/dev/zero").unwrap(), ByteSize(16), "lock").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let dir = tempfile::tempdir().unwrap();
        let e = read_opened(File::open(dir.path()).unwrap(), ByteSize(16), "lock").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IsADirectory);
    }

    #[test]
    fn a_stream_is_read_to_its_cap_and_one_byte_more() {
        let mut source = io::repeat(b'x').take(1 << 20);
        let e = read_capped(&mut source, ByteSize(10), "input").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FileTooLarge);
        assert_eq!(source.limit(), (1 << 20) - 11, "read cap + 1 bytes only");
        assert_eq!(
            read_capped(&b"0123456789"[..], ByteSize(10), "input").unwrap(),
            b"0123456789"
        );
    }
}
