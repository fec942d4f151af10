//! `wasi:filesystem` with a record of every operation that touches a name.
//!
//! [`FsView`] implements the WASI filesystem host traits by delegating each
//! call to wasmtime-wasi's own implementation — nothing here re-implements a
//! file operation or a permission check — and records the ones that open,
//! create, remove, rename or link, with the mount-relative path and the
//! outcome. A permission refusal (a write on a `read` mount, a path leaving
//! the mount) is recorded as a `deny`.
//!
//! Everything that changes the host's files is written ahead: an `intent`
//! record, durable, before the call is delegated, and a `result` after it.
//! That covers making, removing, renaming and linking names, changing a
//! name's times, and opening a file for writing (write, create or truncate)
//! — the intent of an open for writing also covers every later write,
//! resize and time change through that descriptor. If the intent cannot be
//! recorded the call is not made and the run traps with `audit
//! unavailable`. Opening for reading and reading are recorded after the
//! fact, as single records.
//!
//! The preopens are airlock's own: each granted mount's directory handle,
//! opened once by [`Mounts`](super::Mounts), becomes a descriptor with the
//! grant's permissions.

use super::{FsState, Location};
use crate::caps::secrets::Redactor;
use airlock_audit::EventKind;
use airlock_audit::{AuditError, Event, Intent, Recorder};
use airlock_rules::manifest::Access;
use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::OpenMode;
use wasmtime_wasi::filesystem::{Descriptor, Dir, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::filesystem::types::{HostDescriptor, HostDirectoryEntryStream};
use wasmtime_wasi::p2::bindings::filesystem::{preopens, types};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};

/// The filesystem's view of one run.
pub struct FsView<'a> {
    /// wasmtime-wasi's implementation, which every call is delegated to.
    pub inner: WasiFilesystemCtxView<'a>,
    /// Preopens and descriptor locations.
    pub state: &'a mut FsState,
    /// Where operations are recorded.
    pub recorder: &'a Recorder,
    /// Known secret values, kept out of recorded paths.
    pub redactor: &'a Redactor,
}

/// [`HasData`] marker for linking the audited filesystem.
pub struct AuditedFs;

impl HasData for AuditedFs {
    type Data<'a> = FsView<'a>;
}

/// A permission refusal, as opposed to an ordinary failure like a missing
/// file.
fn is_refusal(code: types::ErrorCode) -> bool {
    matches!(
        code,
        types::ErrorCode::NotPermitted | types::ErrorCode::Access | types::ErrorCode::ReadOnly
    )
}

impl FsView<'_> {
    fn location(&self, fd: &Resource<Descriptor>) -> Location {
        self.state
            .locations
            .get(&fd.rep())
            .cloned()
            .unwrap_or_else(|| Location {
                mount: "?".into(),
                inner: String::new(),
            })
    }

    /// `event` about `target`: its mount and guest-visible path.
    fn about(&self, event: Event, target: &Location) -> Event {
        event
            .field("mount", &*target.mount)
            .guest_text("target", &self.redactor.redact(&target.shown()))
    }

    /// Record the outcome of an operation on `target`, then hand the
    /// outcome back. A record that cannot be written turns the call into a
    /// trap: the action does not go on unrecorded.
    fn record<T>(&mut self, event: Event, target: &Location, outcome: FsResult<T>) -> FsResult<T> {
        let event = self.decided(event, target, &outcome);
        self.recorder.record(event).map_err(audit_trap)?;
        outcome
    }

    /// Record, durably, that the operation `event` on `target` is about to
    /// be made. If this fails the operation must not be made.
    fn intend(&mut self, event: Event, target: &Location) -> FsResult<Intent> {
        let event = self.about(event, target);
        self.recorder.intent(event).map_err(audit_trap)
    }

    /// Close `intent` with the outcome of the operation, then hand it back.
    fn close<T>(
        &mut self,
        intent: Intent,
        event: Event,
        target: &Location,
        outcome: FsResult<T>,
    ) -> FsResult<T> {
        let event = self.decided(event, target, &outcome);
        self.recorder.result(intent, event).map_err(audit_trap)?;
        outcome
    }

    /// `event` about `target` with the decision the outcome shows.
    fn decided<T>(&self, event: Event, target: &Location, outcome: &FsResult<T>) -> Event {
        let event = self.about(event, target);
        match outcome {
            Ok(_) => event.allow(),
            Err(e) => match e.downcast_ref() {
                Some(&code) if is_refusal(code) => event.deny(self.refusal(code, target)),
                Some(&code) => event.allow().field("error", code.name()),
                None => event.allow().field("error", "trap"),
            },
        }
    }
}

impl FsView<'_> {
    /// Record the outcome of a call that only looks at a name, if it was
    /// refused — so an attempt to look outside a mount is on the record —
    /// then hand it back.
    fn record_refusal<T>(
        &mut self,
        event: Event,
        target: &Location,
        outcome: FsResult<T>,
    ) -> FsResult<T> {
        match &outcome {
            Err(e) if e.downcast_ref().is_some_and(|&code| is_refusal(code)) => {
                self.record(event, target, outcome)
            }
            _ => outcome,
        }
    }

    /// Record airlock's own refusal of `event` on `target`, for `reason`,
    /// and return the error the guest gets (or the trap if the record
    /// cannot be written).
    fn refuse(&mut self, event: Event, target: &Location, reason: String) -> FsResult<FsError> {
        let event = self.about(event, target).deny(reason);
        self.recorder.record(event).map_err(audit_trap)?;
        Ok(types::ErrorCode::NotPermitted.into())
    }
}

/// Why what `stat` describes, at `target`, is not opened — for writing if
/// `writing` — or `None` if it may be.
///
/// Only regular files and directories are opened (a symlink is followed
/// or refused by the sandbox before this). And a regular file with more
/// than one link is not opened for writing: another of its names may be
/// outside the mount, or in a mount this run may only read.
fn unopenable(stat: &types::DescriptorStat, writing: bool, target: &Location) -> Option<String> {
    use types::DescriptorType as T;
    let shown = target.shown();
    let kind = match stat.type_ {
        T::RegularFile if writing && stat.link_count > 1 => {
            return Some(format!(
                "{shown} has {} hard links: a file with other names, which may be outside \
                 mount `{}`, is not opened for writing; give it one name (copy it)",
                stat.link_count, target.mount
            ));
        }
        T::RegularFile | T::Directory | T::SymbolicLink => return None,
        T::CharacterDevice => "a character device",
        T::BlockDevice => "a block device",
        // wasmtime-wasi reports FIFOs and sockets as `unknown`.
        T::Fifo | T::Socket | T::Unknown => "a FIFO, a socket or another special file",
    };
    Some(format!(
        "{shown} is {kind}: actions open only regular files and directories in a mount"
    ))
}

/// `oflags` and `flags` with a truncation taken out, and whether there was
/// one. The descriptor is opened with the access the truncation would have
/// given it (writing, and reading unless writing was asked for).
fn deferred_truncation(
    oflags: types::OpenFlags,
    flags: types::DescriptorFlags,
) -> (types::OpenFlags, types::DescriptorFlags, bool) {
    if !oflags.contains(types::OpenFlags::TRUNCATE) {
        return (oflags, flags, false);
    }
    let mut added = types::DescriptorFlags::WRITE;
    if !flags.contains(types::DescriptorFlags::WRITE) {
        added |= types::DescriptorFlags::READ;
    }
    (oflags & !types::OpenFlags::TRUNCATE, flags | added, true)
}

/// Whether opening with these flags can change the file.
fn opens_for_writing(oflags: types::OpenFlags, flags: types::DescriptorFlags) -> bool {
    flags.contains(types::DescriptorFlags::WRITE)
        || oflags.intersects(types::OpenFlags::CREATE | types::OpenFlags::TRUNCATE)
}

impl FsView<'_> {
    /// Why the sandbox refused an operation on `target`, and what would
    /// allow it.
    fn refusal(&self, code: types::ErrorCode, target: &Location) -> String {
        let mount = &*target.mount;
        let shown = target.shown();
        let read_only = self
            .state
            .preopens
            .iter()
            .any(|p| &*p.mount == mount && p.access == Access::Read);
        if target.inner.starts_with("/..") || target.inner.starts_with("(absolute)") {
            format!(
                "{shown} leaves mount `{mount}`: an action reaches only paths inside its mounts"
            )
        } else if read_only
            && matches!(
                code,
                types::ErrorCode::NotPermitted | types::ErrorCode::ReadOnly
            )
        {
            format!(
                "mount `{mount}` is granted read only: changing {shown} needs access = \"read-write\" \
                 in the manifest's files entry and in the policy's [mounts.{mount}]"
            )
        } else {
            format!(
                "{shown} was refused ({}): a symlink or path that resolves outside mount `{mount}` is never followed",
                code.name()
            )
        }
    }
}

fn audit_trap(e: AuditError) -> FsError {
    FsError::trap(wasmtime::Error::new(e))
}

fn open_mode(oflags: types::OpenFlags, flags: types::DescriptorFlags) -> String {
    let mut mode = Vec::new();
    if flags.contains(types::DescriptorFlags::READ) {
        mode.push("read");
    }
    if flags.contains(types::DescriptorFlags::WRITE) {
        mode.push("write");
    }
    if oflags.contains(types::OpenFlags::CREATE) {
        mode.push("create");
    }
    if oflags.contains(types::OpenFlags::EXCLUSIVE) {
        mode.push("exclusive");
    }
    if oflags.contains(types::OpenFlags::TRUNCATE) {
        mode.push("truncate");
    }
    if oflags.contains(types::OpenFlags::DIRECTORY) {
        mode.push("directory");
    }
    mode.join("+")
}

impl preopens::Host for FsView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let mut out = Vec::with_capacity(self.state.preopens.len());
        for p in &self.state.preopens {
            let mode = match p.perms() {
                wasmtime_wasi::FsPerms::ReadOnly => OpenMode::READ,
                wasmtime_wasi::FsPerms::ReadWrite => OpenMode::READ | OpenMode::WRITE,
            };
            let dir = Dir::new(p.dir.try_clone()?, p.perms(), mode, false);
            let fd = self.inner.table.push(Descriptor::Dir(dir))?;
            self.state.locations.insert(
                fd.rep(),
                Location {
                    mount: p.mount.clone(),
                    inner: String::new(),
                },
            );
            out.push((fd, format!("/{}", p.mount)));
        }
        Ok(out)
    }
}

impl types::Host for FsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<types::ErrorCode> {
        types::Host::convert_error_code(&mut self.inner, err)
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<types::ErrorCode>> {
        types::Host::filesystem_error_code(&mut self.inner, err)
    }
}

impl HostDescriptor for FsView<'_> {
    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        oflags: types::OpenFlags,
        flags: types::DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let target = self.location(&fd).join(&path);
        let mode = open_mode(oflags, flags);
        let event = || Event::new(EventKind::FileOpen).field("mode", mode.clone());
        let writing = opens_for_writing(oflags, flags);
        // What the name is now decides whether it is opened at all: opening
        // a device acts on it, and opening a FIFO waits for its other end.
        let now = HostDescriptor::stat_at(
            &mut self.inner,
            Resource::new_borrow(fd.rep()),
            path_flags,
            path.clone(),
        )
        .await;
        if let Ok(stat) = &now
            && let Some(reason) = unopenable(stat, writing, &target)
        {
            return Err(self.refuse(event(), &target, reason)?);
        }
        let intent = match writing {
            true => Some(self.intend(event(), &target)?),
            false => None,
        };
        // A truncation waits until the opened file is checked, so that a
        // name swapped for a hard link meanwhile is refused unchanged.
        let (oflags, flags, truncate) = deferred_truncation(oflags, flags);
        let mut outcome =
            HostDescriptor::open_at(&mut self.inner, fd, path_flags, path, oflags, flags).await;
        if let Ok(opened) = &outcome {
            // The name may have changed since it was looked at: what was
            // opened is checked again, before anything is done through it.
            let opened = opened.rep();
            let stat = HostDescriptor::stat(&mut self.inner, Resource::new_borrow(opened)).await;
            let refused = match stat {
                Ok(stat) => unopenable(&stat, writing, &target),
                Err(_) => Some(format!("{} cannot be checked once open", target.shown())),
            };
            if let Some(reason) = refused {
                HostDescriptor::drop(&mut self.inner, Resource::new_own(opened))
                    .map_err(FsError::trap)?;
                let event = self.about(event(), &target).deny(reason);
                match intent {
                    Some(intent) => self.recorder.result(intent, event).map(drop),
                    None => self.recorder.record(event).map(drop),
                }
                .map_err(audit_trap)?;
                return Err(types::ErrorCode::NotPermitted.into());
            }
            if truncate {
                let truncated =
                    HostDescriptor::set_size(&mut self.inner, Resource::new_borrow(opened), 0)
                        .await;
                if let Err(e) = truncated {
                    HostDescriptor::drop(&mut self.inner, Resource::new_own(opened))
                        .map_err(FsError::trap)?;
                    outcome = Err(e);
                }
            }
        }
        let opened = match intent {
            Some(intent) => self.close(intent, event(), &target, outcome)?,
            None => self.record(event(), &target, outcome)?,
        };
        self.state.locations.insert(opened.rep(), target);
        Ok(opened)
    }

    async fn create_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let target = self.location(&fd).join(&path);
        let intent = self.intend(Event::new(EventKind::FileMkdir), &target)?;
        let outcome = HostDescriptor::create_directory_at(&mut self.inner, fd, path).await;
        self.close(intent, Event::new(EventKind::FileMkdir), &target, outcome)
    }

    async fn remove_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let target = self.location(&fd).join(&path);
        let intent = self.intend(Event::new(EventKind::FileRmdir), &target)?;
        let outcome = HostDescriptor::remove_directory_at(&mut self.inner, fd, path).await;
        self.close(intent, Event::new(EventKind::FileRmdir), &target, outcome)
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let target = self.location(&fd).join(&path);
        let intent = self.intend(Event::new(EventKind::FileRemove), &target)?;
        let outcome = HostDescriptor::unlink_file_at(&mut self.inner, fd, path).await;
        self.close(intent, Event::new(EventKind::FileRemove), &target, outcome)
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let from = self.location(&fd).join(&old_path);
        let to = self.location(&new_fd).join(&new_path);
        let event =
            Event::new(EventKind::FileRename).guest_text("to", &self.redactor.redact(&to.shown()));
        let intent = self.intend(event.clone(), &from)?;
        let outcome =
            HostDescriptor::rename_at(&mut self.inner, fd, old_path, new_fd, new_path).await;
        self.close(intent, event, &from, outcome)
    }

    async fn symlink_at(
        &mut self,
        fd: Resource<Descriptor>,
        src_path: String,
        dest_path: String,
    ) -> FsResult<()> {
        let target = self.location(&fd).join(&dest_path);
        let event = Event::new(EventKind::FileSymlink)
            .guest_text("points_to", &self.redactor.redact(&src_path));
        let intent = self.intend(event.clone(), &target)?;
        let outcome = HostDescriptor::symlink_at(&mut self.inner, fd, src_path, dest_path).await;
        self.close(intent, event, &target, outcome)
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path_flags: types::PathFlags,
        old_path: String,
        new_descriptor: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        // Never made: a hard link is one file under two names, and a write
        // through either changes both — across mounts, and past a `read`
        // grant. Opening for writing refuses files with more than one link.
        let _ = old_path_flags;
        let from = self.location(&fd).join(&old_path);
        let to = self.location(&new_descriptor).join(&new_path);
        let event =
            Event::new(EventKind::FileLink).guest_text("to", &self.redactor.redact(&to.shown()));
        let reason = format!(
            "{} cannot be hard-linked: actions do not make hard links (a hard link is one \
             file under two names); copy the file instead",
            from.shown()
        );
        Err(self.refuse(event, &from, reason)?)
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        self.state.locations.remove(&fd.rep());
        HostDescriptor::drop(&mut self.inner, fd)
    }

    // Everything below works on an already-open descriptor, or only reads
    // what a name is (recorded when refused); it is delegated.

    async fn advise(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
        len: types::Filesize,
        advice: types::Advice,
    ) -> FsResult<()> {
        HostDescriptor::advise(&mut self.inner, fd, offset, len, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        HostDescriptor::sync_data(&mut self.inner, fd).await
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorFlags> {
        HostDescriptor::get_flags(&mut self.inner, fd).await
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorType> {
        HostDescriptor::get_type(&mut self.inner, fd).await
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: types::Filesize) -> FsResult<()> {
        HostDescriptor::set_size(&mut self.inner, fd, size).await
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        HostDescriptor::set_times(&mut self.inner, fd, atim, mtim).await
    }

    async fn read(
        &mut self,
        fd: Resource<Descriptor>,
        len: types::Filesize,
        offset: types::Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        HostDescriptor::read(&mut self.inner, fd, len, offset).await
    }

    async fn write(
        &mut self,
        fd: Resource<Descriptor>,
        buf: Vec<u8>,
        offset: types::Filesize,
    ) -> FsResult<types::Filesize> {
        HostDescriptor::write(&mut self.inner, fd, buf, offset).await
    }

    async fn read_directory(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<types::DirectoryEntryStream>> {
        HostDescriptor::read_directory(&mut self.inner, fd).await
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        HostDescriptor::sync(&mut self.inner, fd).await
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorStat> {
        HostDescriptor::stat(&mut self.inner, fd).await
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::DescriptorStat> {
        let target = self.location(&fd).join(&path);
        let outcome = HostDescriptor::stat_at(&mut self.inner, fd, path_flags, path).await;
        self.record_refusal(Event::new(EventKind::FileStat), &target, outcome)
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        let target = self.location(&fd).join(&path);
        let intent = self.intend(Event::new(EventKind::FileTouch), &target)?;
        let outcome =
            HostDescriptor::set_times_at(&mut self.inner, fd, path_flags, path, atim, mtim).await;
        self.close(intent, Event::new(EventKind::FileTouch), &target, outcome)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        let target = self.location(&fd).join(&path);
        let outcome = HostDescriptor::readlink_at(&mut self.inner, fd, path).await;
        self.record_refusal(Event::new(EventKind::FileReadlink), &target, outcome)
    }

    fn read_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynInputStream>> {
        HostDescriptor::read_via_stream(&mut self.inner, fd, offset)
    }

    fn write_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        HostDescriptor::write_via_stream(&mut self.inner, fd, offset)
    }

    fn append_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        HostDescriptor::append_via_stream(&mut self.inner, fd)
    }

    async fn is_same_object(
        &mut self,
        a: Resource<Descriptor>,
        b: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        HostDescriptor::is_same_object(&mut self.inner, a, b).await
    }

    async fn metadata_hash(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<types::MetadataHashValue> {
        HostDescriptor::metadata_hash(&mut self.inner, fd).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::MetadataHashValue> {
        let target = self.location(&fd).join(&path);
        let outcome = HostDescriptor::metadata_hash_at(&mut self.inner, fd, path_flags, path).await;
        self.record_refusal(Event::new(EventKind::FileStat), &target, outcome)
    }
}

impl HostDirectoryEntryStream for FsView<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<types::DirectoryEntryStream>,
    ) -> FsResult<Option<types::DirectoryEntry>> {
        HostDirectoryEntryStream::read_directory_entry(&mut self.inner, stream).await
    }

    fn drop(&mut self, stream: Resource<types::DirectoryEntryStream>) -> wasmtime::Result<()> {
        HostDirectoryEntryStream::drop(&mut self.inner, stream)
    }
}
