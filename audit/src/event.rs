//! Every kind of event airlock records: one list, used by the host that
//! writes records, by the verifier that reads them, by `airlock audit
//! show`'s filter, and by the test that holds `docs/audit-format.md` to it.

use std::fmt;

macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// The kind of an event, its `event` member.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventKind {
            $( $(#[$doc])* $variant, )*
        }

        impl EventKind {
            /// Every kind, in the order of the format's documentation.
            pub const ALL: &'static [EventKind] = &[ $( EventKind::$variant, )* ];

            /// The name records carry, like `file.open`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( EventKind::$variant => $name, )*
                }
            }
        }
    };
}

kinds! {
    /// A run began: the action, its digest and its grant.
    RunStart = "run.start",
    /// A run ended: its outcome, duration, memory and counts.
    RunEnd = "run.end",
    /// An action was refused before it ran (not approved, drift,
    /// signature, manifest, compile bounds, unlinkable).
    RunRefused = "run.refused",
    /// A line the action logged, or wrote to stdout or stderr.
    Log = "log",
    /// Log lines beyond the run's budget, counted rather than written.
    LogDropped = "log.dropped",
    /// stdout or stderr beyond the run's budget, counted rather than written.
    StdioDropped = "stdio.dropped",
    /// Refusals beyond the run's budget, counted rather than written.
    RefusalsDropped = "refusals.dropped",
    /// A secret's plaintext read, or refused.
    SecretRead = "secret.read",
    /// A configuration key the manifest does not declare, asked for and
    /// refused.
    ConfigRead = "config.read",
    /// A secret's value found in the run's output, redacted before it left.
    SecretLeak = "secret.leak",
    /// An HTTP request, allowed or refused.
    NetRequest = "net.request",
    /// A socket or name lookup, which is always refused.
    NetSocket = "net.socket",
    /// A file opened (or refused).
    FileOpen = "file.open",
    /// A refused look at a file's metadata.
    FileStat = "file.stat",
    /// A refused read of a symbolic link.
    FileReadlink = "file.readlink",
    /// A directory created.
    FileMkdir = "file.mkdir",
    /// A directory removed.
    FileRmdir = "file.rmdir",
    /// A file removed.
    FileRemove = "file.remove",
    /// A file renamed.
    FileRename = "file.rename",
    /// A symbolic link created.
    FileSymlink = "file.symlink",
    /// A hard link created (always refused).
    FileLink = "file.link",
    /// A file's times set.
    FileTouch = "file.touch",
    /// The log's torn tail, found and cut when it was opened.
    AuditTorn = "audit.torn",
    /// What a crash left open, found when the log was opened again:
    /// intents with no result and runs with no end.
    AuditRecover = "audit.recover",
    /// A long-lived host took a new policy and lock, or refused them and
    /// kept the ones in force.
    PolicyReload = "policy.reload",
    /// An action approved in the lock: who approved it, what it is, and
    /// what changed since the version approved before. Written to the log
    /// of approvals before the lock is.
    Approval = "approval",
}

impl EventKind {
    /// The kind named `name`, if airlock records one by that name.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl PartialEq<str> for EventKind {
    fn eq(&self, name: &str) -> bool {
        self.as_str() == name
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

impl serde::Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_one_kind_and_parses_back() {
        let mut names = std::collections::BTreeSet::new();
        for &kind in EventKind::ALL {
            assert!(names.insert(kind.as_str()), "{kind} twice");
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("file.nothing"), None);
    }
}
