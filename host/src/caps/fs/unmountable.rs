//! Directories a mount may not offer: the root, the host's devices, and
//! the kernel's own file systems.
//!
//! A mount of `/proc` would show actions airlock's environment and command
//! line, `/sys` the kernel's knobs, `/` everything at once. These are
//! refused when the host starts, mainly by what the opened directory is —
//! its file system's magic number and its identity — not by how its path is
//! spelt, so a symlink or a second mount of the same file system is refused
//! too; and anything whose real path is under `/dev`, `/proc` or `/sys`.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Kernel file systems, by `statfs` magic number (`linux/magic.h`). None
/// holds files an action should work on; each shows or changes the host's
/// state. (`devtmpfs` reports the magic of `tmpfs`; it is refused as `/dev`.)
const KERNEL_FILE_SYSTEMS: &[(u32, &str)] = &[
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x1cd1, "devpts"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0xcafe_4a11, "bpf"),
    (0x6265_6570, "configfs"),
    (0x6165_676c, "pstore"),
    (0xde5e_81e4, "efivarfs"),
    (0x1980_0202, "mqueue"),
    (0x9584_58f6, "hugetlbfs"),
    (0x6573_5543, "fusectl"),
    (0x4249_4e4d, "binfmt_misc"),
    (0xf97c_ff8c, "selinuxfs"),
    (0x4341_5d53, "smackfs"),
    (0x6e73_6673, "nsfs"),
    (0x0765_5821, "resctrl"),
    (0x9fa2, "usbdevfs"),
];

/// The kernel file system with `magic`, if it is one.
fn kernel_file_system(magic: u32) -> Option<&'static str> {
    KERNEL_FILE_SYSTEMS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

/// Why the directory `dir`, opened from `path`, cannot be a mount, or
/// `None` if it can.
pub(super) fn why_not(dir: &File, path: &Path) -> std::io::Result<Option<String>> {
    let fs = rustix::fs::fstatfs(dir)?;
    // The magic numbers are 32-bit; `f_type` is wider on some targets.
    #[allow(clippy::unnecessary_cast, clippy::cast_possible_truncation)]
    let magic = fs.f_type as u32;
    if let Some(name) = kernel_file_system(magic) {
        return Ok(Some(format!(
            "it is on {name}, a kernel file system, which shows actions the host's and \
             airlock's own state; mount a directory of ordinary files"
        )));
    }
    let here = dir.metadata()?;
    let same = |other: &std::fs::Metadata| (here.dev(), here.ino()) == (other.dev(), other.ino());
    let root = std::fs::metadata("/")?;
    if same(&root) {
        return Ok(Some(
            "it is the root directory `/`, which would offer actions the whole host; mount a \
             directory of their own"
                .into(),
        ));
    }
    let devices = "it holds the host's devices; mount a directory of ordinary files";
    if let Ok(dev) = std::fs::metadata("/dev") {
        // On the file system mounted at /dev (where /dev has one of its
        // own), or /dev itself.
        if same(&dev) || (dev.dev() != root.dev() && here.dev() == dev.dev()) {
            return Ok(Some(format!("it is /dev or inside it: {devices}")));
        }
    }
    // Where the kernel's file systems are mounted, whatever is mounted
    // there (a tmpfs holding the cgroup hierarchies, say).
    if let Ok(real) = std::fs::canonicalize(path) {
        if real.starts_with("/dev") {
            return Ok(Some(format!("it is inside /dev: {devices}")));
        }
        if let Some(top) = ["/proc", "/sys"].iter().find(|top| real.starts_with(top)) {
            return Ok(Some(format!(
                "it is inside {top}, where the kernel's file systems are mounted; mount a \
                 directory of ordinary files"
            )));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn refused(path: &str) -> Option<String> {
        why_not(&File::open(path).unwrap(), Path::new(path)).unwrap()
    }

    #[test]
    fn kernel_file_systems_the_root_and_dev_are_refused() {
        let cases = [
            ("/proc", "on proc, a kernel file system"),
            ("/proc/self", "on proc"),
            ("/sys", "on sysfs"),
            ("/", "the root directory"),
            ("/dev", "/dev"),
        ];
        for (path, why) in cases {
            let reason = refused(path).unwrap_or_else(|| panic!("{path} was accepted"));
            assert!(reason.contains(why), "{path}: {reason}");
        }
        // Where the host has them mounted.
        for path in [
            "/dev/pts",
            "/dev/mqueue",
            "/dev/shm",
            "/sys/fs/cgroup",
            "/sys/fs/cgroup/cpu",
            "/sys/kernel/debug",
        ] {
            if Path::new(path).is_dir() {
                assert!(refused(path).is_some(), "{path} was accepted");
            }
        }
        // Through a symlink, by what it is.
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("p");
        std::os::unix::fs::symlink("/proc", &link).unwrap();
        assert!(refused(link.to_str().unwrap()).is_some());
    }

    #[test]
    fn ordinary_directories_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(refused(dir.path().to_str().unwrap()), None);
        assert_eq!(kernel_file_system(0x0102_1994), None, "tmpfs");
        assert_eq!(kernel_file_system(0xef53), None, "ext4");
        assert_eq!(kernel_file_system(0x9fa0), Some("proc"));
    }
}
