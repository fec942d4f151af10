//! The compiled-artifact cache: a component compiled once is kept on disk,
//! so the next `airlock run` of it loads machine code instead of compiling.
//!
//! This is the one module of airlock that uses `unsafe`: loading compiled
//! code is [`Component::deserialize`], which wasmtime marks `unsafe`
//! because it trusts the bytes to be what `Component::serialize` wrote —
//! machine code is not validated again. The trust argument is in the
//! `SAFETY` comment in `CompileCache::load`; in short, a cached artifact
//! is loaded only if
//!
//! 1. the cache directory is owned by the user airlock runs as and nobody
//!    else can write it (airlock creates it `0700`), and the file is a
//!    regular file owned by that user that nobody else can write;
//! 2. its trailer carries a MAC (keyed BLAKE3) over the component's
//!    SHA-256 digest (checked against the lock before anything was looked
//!    up; for a development run, the digest of the bytes given), wasmtime's compatibility hash of the engine configuration and
//!    the whole payload, under a key derived from the audit log's
//!    checkpoint signing key. The key is not in the cache directory, so
//!    whoever can write the cache but cannot read that key — an action
//!    whose mount reached the cache, say — cannot make an artifact that
//!    loads, nor pass one component's artifact off as another's (renaming
//!    it changes the digest the MAC is checked against). A host refuses to
//!    start with a mount that reaches the cache or the key at all
//!    ([`crate::caps::fs::overlap`]);
//! 3. wasmtime's own header check accepts it for this engine (version,
//!    target, configuration).
//!
//! A file that fails any check is compiled again and replaced, never
//! trusted; the cache can only make a run faster, never change what runs.
//! A cache without a key (one not given to a host) compiles every time.
//!
//! The cache is held to a size ([`CompileCache::max_size`], 1 GiB unless
//! set): after each file it stores, the least recently used files are
//! removed until the rest fit. A file's modification time is its last
//! use: set when it is written, and again each time it is loaded.
//!
//! A sound file is mapped, not copied: the payload comes first so that
//! wasmtime can map the file as it is (through the checked handle,
//! `/proc/self/fd/N`), and its pages are shared with the page cache instead
//! of read into the heap and copied again into executable memory.

#![allow(unsafe_code)]

use crate::runtime::compiler::{CompileError, Compiled};
use airlock_rules::provenance::Digest;
use airlock_rules::units::ByteSize;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A cache file is the payload (what `Component::serialize` returned), then
/// its MAC (32 bytes), then these bytes.
const MAGIC: &[u8; 16] = b"airlock-cwasm-4\n";
const MAC_LEN: usize = 32;
const TRAILER: usize = MAC_LEN + MAGIC.len();

/// What the cache's MAC key is derived for, from the audit log's key.
pub(crate) const KEY_CONTEXT: &str = "airlock compile cache v1";

/// The key that binds cached artifacts to their components.
struct CacheKey {
    secret: zeroize::Zeroizing<[u8; 32]>,
    /// Names the key in file names (so caches shared by hosts with other
    /// keys do not overwrite each other's files): not secret.
    id: String,
}

impl CacheKey {
    /// The MAC of a payload for `digest` under `engine`, fed everything but
    /// the payload.
    fn mac(&self, digest: &Digest, engine: &str) -> blake3::Hasher {
        let mut mac = blake3::Hasher::new_keyed(&self.secret);
        mac.update(MAGIC);
        mac.update(digest.as_bytes());
        mac.update(engine.as_bytes());
        mac
    }
}

/// A directory of compiled components, opened once and used through its
/// handle (so renaming or replacing its path later changes nothing).
pub struct CompileCache {
    dir: cap_std::fs::Dir,
    path: PathBuf,
    key: Option<CacheKey>,
    max_size: ByteSize,
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileCache")
            .field("path", &self.path)
            .field("key", &self.key.as_ref().map(|k| &k.id))
            .field("max_size", &self.max_size)
            .finish()
    }
}

/// The cache directory cannot be trusted or used.
#[derive(Debug, thiserror::Error)]
#[error("compile cache {}: {reason}", path.display())]
pub struct CacheError {
    /// The directory.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// The part of a cache file's name that changes with the engine: wasmtime's
/// compatibility hash of its version and configuration.
fn engine_key(engine: &Engine) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Read a cache file of `len` bytes from `file` in chunks (never all of it
/// in memory) and check its trailer against `mac`; the payload's length if
/// it is sound.
fn check(mut file: impl Read, len: u64, mut mac: blake3::Hasher) -> Result<usize, String> {
    let payload = len
        .checked_sub(TRAILER as u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or("not an airlock cache file")?;
    let mut buf = vec![0; 64 * 1024];
    let mut left = payload;
    while left > 0 {
        let n = left.min(buf.len());
        file.read_exact(&mut buf[..n])
            .map_err(|e| format!("cannot read it: {e}"))?;
        mac.update(&buf[..n]);
        left -= n;
    }
    let mut trailer = [0; TRAILER];
    file.read_exact(&mut trailer)
        .map_err(|e| format!("cannot read it: {e}"))?;
    let (recorded, magic) = trailer.split_at(MAC_LEN);
    if magic != MAGIC {
        return Err("not an airlock cache file (or one of an older format)".into());
    }
    // `Hash`'s equality is constant-time.
    let recorded = <[u8; MAC_LEN]>::try_from(recorded).map_err(|_| "not an airlock cache file")?;
    if mac.finalize() != blake3::Hash::from_bytes(recorded) {
        return Err(
            "its MAC does not match this component, engine and key: it was not written for them"
                .into(),
        );
    }
    Ok(payload)
}

/// Whether `meta` is owned by this process's user and writable by no one
/// else.
fn private(meta: &std::fs::Metadata) -> Result<(), String> {
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!("owned by uid {}, not by uid {me}", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "writable by group or others (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Load the artifact a compiling child process wrote
/// ([`crate::runtime::compiler`]).
pub(crate) fn deserialize_from_child(
    engine: &Engine,
    artifact: &[u8],
) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize` requires bytes produced by
    // `Component::serialize` (or `Engine::precompile_component`, the same
    // format) of a compatible engine. These bytes are what the child the
    // host started — the program it was configured with, the `airlock`
    // binary — wrote on a pipe only the two of them hold, from
    // `precompile_component` of the component the host had admitted and
    // handed it on another such pipe; they are in this process's memory,
    // which nothing else changes. wasmtime checks its own header (version,
    // target, configuration) and refuses a mismatch.
    unsafe { Component::deserialize(engine, artifact) }
}

impl CompileCache {
    /// The environment variable that moves the cache, or turns it off
    /// (`off`), for the `airlock` binaries.
    pub const DIR_ENV: &'static str = "AIRLOCK_CACHE_DIR";

    /// The environment variable that sets the cache's size for the
    /// `airlock` binaries, like `512 MiB`.
    pub const MAX_SIZE_ENV: &'static str = "AIRLOCK_CACHE_MAX_SIZE";

    /// The size a cache is held to unless [`max_size`](Self::max_size)
    /// says otherwise.
    pub const DEFAULT_MAX_SIZE: ByteSize = ByteSize::mib(1024);

    /// The size `$AIRLOCK_CACHE_MAX_SIZE` sets, else
    /// [`DEFAULT_MAX_SIZE`](Self::DEFAULT_MAX_SIZE). Only reads the
    /// environment.
    pub fn max_size_from_env() -> Result<ByteSize, String> {
        match std::env::var(Self::MAX_SIZE_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(Self::DEFAULT_MAX_SIZE),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!(
                "{} is not UTF-8: set it to a size like \"512 MiB\"",
                Self::MAX_SIZE_ENV
            )),
            Ok(text) => text.parse().map_err(|e| {
                format!(
                    "{}={text:?} is not a size ({e}): set it like \"512 MiB\"",
                    Self::MAX_SIZE_ENV
                )
            }),
        }
    }

    /// Where the `airlock` binaries keep the cache: `$AIRLOCK_CACHE_DIR`,
    /// else `$XDG_CACHE_HOME/airlock`, else `$HOME/.cache/airlock`; `None`
    /// when `$AIRLOCK_CACHE_DIR` is `off` (or empty) or no home is known.
    /// Only reads the environment; a host uses a cache only when given one
    /// ([`HostBuilder::compile_cache`](crate::HostBuilder::compile_cache)).
    pub fn dir_from_env() -> Option<PathBuf> {
        match std::env::var_os(Self::DIR_ENV) {
            Some(v) if v.is_empty() || v == "off" => None,
            Some(v) => Some(PathBuf::from(v)),
            None => std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
                .map(|base| base.join("airlock")),
        }
    }

    /// Open the cache at `path`, creating it (mode `0700`) if it is
    /// missing. Refused unless it is a directory of this user that no one
    /// else can write.
    pub fn open(
        path: &Path,
        ambient: cap_std::AmbientAuthority,
    ) -> Result<CompileCache, CacheError> {
        let fail = |reason: String| CacheError {
            path: path.to_owned(),
            reason,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| fail(format!("cannot create it: {e}")))?;
        let dir = cap_std::fs::Dir::open_ambient_dir(path, ambient)
            .map_err(|e| fail(format!("cannot open it: {e}")))?;
        let dir = dir.into_std_file();
        let meta = dir
            .metadata()
            .map_err(|e| fail(format!("cannot read its metadata: {e}")))?;
        private(&meta).map_err(fail)?;
        Ok(CompileCache {
            dir: cap_std::fs::Dir::from_std_file(dir),
            path: path.to_owned(),
            key: None,
            max_size: Self::DEFAULT_MAX_SIZE,
        })
    }

    /// Hold the cache to `max`: after each file it stores, the least
    /// recently used are removed until the rest fit (the file just stored
    /// always stays, even alone over `max`).
    pub fn max_size(mut self, max: ByteSize) -> CompileCache {
        self.max_size = max;
        self
    }

    /// Bind artifacts with the key of hosts that write the log `audit`
    /// configures (derived from its checkpoint signing key, which is
    /// created beside the log if there is none yet, as a host would).
    pub fn keyed_for(
        self,
        audit: &airlock_rules::policy::AuditConfig,
    ) -> Result<CompileCache, airlock_audit::AuditError> {
        let paths = airlock_audit::paths::Paths::new(&audit.path);
        if let Some(dir) = audit.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| airlock_audit::AuditError::storage("cannot create", dir, &e))?;
        }
        let key = airlock_audit::signing_key(audit.key.as_deref(), &paths)?;
        Ok(self.keyed(key.derive(KEY_CONTEXT)))
    }

    /// Bind artifacts with `secret` (a host derives it from its audit log's
    /// key, [`KEY_CONTEXT`]); without a key nothing is loaded or stored.
    pub(crate) fn keyed(mut self, secret: zeroize::Zeroizing<[u8; 32]>) -> CompileCache {
        use sha2::Digest as _;
        let id = sha2::Sha256::new()
            .chain_update(b"airlock compile cache key id\0")
            .chain_update(*secret)
            .finalize();
        self.key = Some(CacheKey {
            secret,
            id: hex::encode(&id[..4]),
        });
        self
    }

    /// The cache's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file name for `digest` under `engine` and `key`.
    fn name(engine: &str, digest: &Digest, key: &CacheKey) -> String {
        format!("{}-{engine}-{}.cwasm", digest.hex(), key.id)
    }

    /// The compiled `component` (whose digest is `digest`): loaded from the
    /// cache if a sound copy is there, else compiled in this process and
    /// stored.
    #[cfg(test)]
    pub(crate) fn component(
        &self,
        engine: &Engine,
        digest: &Digest,
        component: &[u8],
    ) -> Result<Component, CompileError> {
        let ceilings = airlock_rules::policy::CompileCeilings::default();
        self.compiled(engine, digest, || {
            crate::runtime::compiler::Compiler::InProcess.compile(
                engine,
                component,
                "the component",
                &ceilings,
            )
        })
    }

    /// The component whose digest is `digest`: loaded from the cache if a
    /// sound copy is there, else made by `compile` and stored.
    pub(crate) fn compiled(
        &self,
        engine: &Engine,
        digest: &Digest,
        compile: impl FnOnce() -> Result<Compiled, CompileError>,
    ) -> Result<Component, CompileError> {
        let Some(key) = &self.key else {
            return compile().map(|c| c.component);
        };
        let engine_id = engine_key(engine);
        let name = Self::name(&engine_id, digest, key);
        match self.load(engine, &name, key.mac(digest, &engine_id)) {
            Ok(Some(c)) => return Ok(c),
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(cache = %self.path.display(), file = %name, "recompiling: {why}")
            }
        }
        let Compiled {
            component,
            artifact,
        } = compile()?;
        let bytes = match artifact {
            Some(bytes) => Ok(bytes),
            None => component.serialize().map_err(|e| e.to_string()),
        };
        if let Err(e) = bytes.and_then(|bytes| {
            let mac = key.mac(digest, &engine_id).update(&bytes).finalize();
            self.store(&name, &bytes, mac.as_bytes())
                .map_err(|e| e.to_string())
        }) {
            tracing::warn!(cache = %self.path.display(), file = %name, "cannot store the compiled component: {e}");
        } else if let Err(e) = self.prune(&name) {
            tracing::warn!(cache = %self.path.display(), "cannot prune the cache: {e}");
        }
        Ok(component)
    }

    /// Load `name`: `Ok(None)` if it is not cached, `Err` (why) if a file
    /// is there but fails a check.
    fn load(
        &self,
        engine: &Engine,
        name: &str,
        mac: blake3::Hasher,
    ) -> Result<Option<Component>, String> {
        let file = match self.dir.open(name) {
            Ok(f) => f.into_std(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot open it: {e}")),
        };
        let meta = file.metadata().map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
        private(&meta)?;
        let payload = check(&file, meta.len(), mac.clone())?;
        // Its last use, which pruning keeps the most recent of. A file whose
        // time cannot be set is still loaded; it is only evicted sooner.
        let _ = file.set_modified(std::time::SystemTime::now());
        // SAFETY: `Component::deserialize*` requires bytes produced by
        // `Component::serialize` of a compatible engine, unmodified while
        // they are in use. These bytes are a regular file, owned by this
        // process's user and writable by no one else, in a directory of that
        // user that no one else can write (both checked above, on the handle
        // that is read and mapped), and they carry a MAC, under a key only a
        // reader of the audit log's signing key has, over this component's
        // approved digest, this engine's compatibility hash and the payload
        // — which `store` wrote from `serialize`'s output for exactly these
        // (it never changes a file in place: it renames a new one over it).
        // wasmtime checks its own header (version, target, configuration)
        // and refuses a mismatch.
        let mapped = format!("/proc/self/fd/{}", file.as_raw_fd());
        let component = if Path::new(&mapped).exists() {
            // The same file, reopened through its handle: wasmtime maps it.
            // The trailer after the payload is outside every ELF section.
            unsafe { Component::deserialize_file(engine, &mapped) }
        } else {
            // No /proc: read the payload into memory, checked again.
            let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
            (&file)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read it: {e}"))?;
            if check(bytes.as_slice(), bytes.len() as u64, mac)? != payload {
                return Err("it changed while it was read".into());
            }
            unsafe { Component::deserialize(engine, &bytes[..payload]) }
        };
        let component = component.map_err(|e| format!("wasmtime refused it: {e:#}"))?;
        Ok(Some(component))
    }

    /// Remove the least recently used files until the cache fits its size,
    /// never `keep` (the file just stored); and temporary files of writers
    /// that stopped an hour ago or more. Another process may remove the
    /// same files at the same time: a file already gone is not an error.
    fn prune(&self, keep: &str) -> std::io::Result<()> {
        let stale = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let mut files = Vec::new();
        let mut total = 0u64;
        for entry in self.dir.entries()? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let meta = match entry.metadata() {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let used = meta.modified()?;
            if name.starts_with('.') && name.ends_with(".tmp") {
                if used.into_std() < stale {
                    gone_is_fine(self.dir.remove_file(&name))?;
                }
            } else if name.ends_with(".cwasm") {
                total += meta.len();
                if name != keep {
                    files.push((used, name, meta.len()));
                }
            }
        }
        files.sort();
        for (_, name, len) in files {
            if total <= self.max_size.0 {
                break;
            }
            gone_is_fine(self.dir.remove_file(&name))?;
            tracing::debug!(cache = %self.path.display(), file = %name, "evicted");
            total -= len;
        }
        Ok(())
    }

    /// Write `payload` under `name`: to a temporary file, then renamed over
    /// any old one, so a reader sees a whole file or none.
    fn store(&self, name: &str, payload: &[u8], mac: &[u8]) -> std::io::Result<()> {
        let mut nonce = [0u8; 8];
        let _ = getrandom::fill(&mut nonce);
        let tmp = format!(".{name}.{}.tmp", hex::encode(nonce));
        let mut options = cap_std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        let written = self.dir.open_with(&tmp, &options).and_then(|f| {
            let mut f = f.into_std();
            f.write_all(payload)?;
            f.write_all(mac)?;
            f.write_all(MAGIC)
        });
        match written.and_then(|()| self.dir.rename(&tmp, &self.dir, name)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.dir.remove_file(&tmp);
                Err(e)
            }
        }
    }
}

/// A file removed by someone else first is removed all the same.
fn gone_is_fine(removed: std::io::Result<()>) -> std::io::Result<()> {
    match removed {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(&crate::runtime::config(None)).unwrap()
    }

    /// The smallest component: no imports, no exports.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";
    /// Another: the same with a custom section.
    const OTHER: &[u8] = b"\0asm\x0d\0\x01\0\x00\x03\x01xy";

    fn key(byte: u8) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new([byte; 32])
    }

    fn open(path: &Path, k: u8) -> CompileCache {
        CompileCache::open(path, cap_std::ambient_authority())
            .unwrap()
            .keyed(key(k))
    }

    fn file_of(cache: &CompileCache, engine: &Engine, digest: &Digest) -> PathBuf {
        let name = CompileCache::name(&engine_key(engine), digest, cache.key.as_ref().unwrap());
        cache.path.join(name)
    }

    fn loads(cache: &CompileCache, engine: &Engine, digest: &Digest) -> Result<bool, String> {
        let key = cache.key.as_ref().unwrap();
        let engine_id = engine_key(engine);
        let name = CompileCache::name(&engine_id, digest, key);
        cache
            .load(engine, &name, key.mac(digest, &engine_id))
            .map(|c| c.is_some())
    }

    #[test]
    fn the_least_recently_used_files_go_when_the_cache_is_over_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine();
        // Three components; room for two of their artifacts.
        let third: &[u8] = b"\0asm\x0d\0\x01\0\x00\x03\x01zz";
        let probe = open(dir.path(), 1);
        probe.component(&engine, &Digest::of(EMPTY), EMPTY).unwrap();
        let one = std::fs::metadata(file_of(&probe, &engine, &Digest::of(EMPTY)))
            .unwrap()
            .len();
        let cache = open(dir.path(), 1).max_size(ByteSize(one * 5 / 2));
        let old = |digest: &Digest, secs: u64| {
            let file = std::fs::File::options()
                .append(true)
                .open(file_of(&cache, &engine, digest))
                .unwrap();
            let when = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
            file.set_modified(when).unwrap();
        };
        let (a, b, c) = (Digest::of(EMPTY), Digest::of(OTHER), Digest::of(third));
        cache.component(&engine, &b, OTHER).unwrap();
        old(&a, 300);
        old(&b, 200);
        // A load is a use: `a` becomes the most recent of the two.
        assert_eq!(loads(&cache, &engine, &a), Ok(true));
        // A stale writer's temporary file goes; a fresh one stays.
        let stale = dir.path().join(".x.cwasm.00.tmp");
        let fresh = dir.path().join(".y.cwasm.00.tmp");
        std::fs::write(&stale, b"partial").unwrap();
        std::fs::write(&fresh, b"partial").unwrap();
        std::fs::File::options()
            .append(true)
            .open(&stale)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
            .unwrap();

        cache.component(&engine, &c, third).unwrap();
        let present = |d: &Digest| file_of(&cache, &engine, d).exists();
        assert!(present(&a) && present(&c), "the recent ones stay");
        assert!(!present(&b), "the least recently used is evicted");
        assert!(!stale.exists() && fresh.exists());
        // The file just stored stays even when it alone is over the size.
        let tiny = open(dir.path(), 1).max_size(ByteSize(1));
        tiny.component(&engine, &b, OTHER).unwrap();
        assert!(present(&b) && !present(&a) && !present(&c));
    }

    #[test]
    fn a_component_is_compiled_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir.path().join("c"), 1);
        let engine = engine();
        let digest = Digest::of(EMPTY);
        cache.component(&engine, &digest, EMPTY).unwrap();
        assert_eq!(loads(&cache, &engine, &digest), Ok(true));
        let meta = std::fs::metadata(dir.path().join("c")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
    }

    #[test]
    fn a_changed_file_is_not_loaded_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path(), 1);
        let engine = engine();
        let digest = Digest::of(EMPTY);
        cache.component(&engine, &digest, EMPTY).unwrap();
        let file = file_of(&cache, &engine, &digest);
        let good = std::fs::read(&file).unwrap();

        let cases: [(&str, Vec<u8>); 6] = [
            ("truncated", good[..good.len() - 1].to_vec()),
            ("one byte of code flipped", {
                let mut b = good.clone();
                let middle = (b.len() - TRAILER) / 2;
                b[middle] ^= 1;
                b
            }),
            ("one byte of the MAC flipped", {
                let mut b = good.clone();
                let at = b.len() - TRAILER;
                b[at] ^= 1;
                b
            }),
            ("no trailer", good[..good.len() - TRAILER].to_vec()),
            ("grown", [good.as_slice(), b"\0"].concat()),
            ("empty", Vec::new()),
        ];
        for (what, bytes) in cases {
            std::fs::write(&file, &bytes).unwrap();
            assert!(
                loads(&cache, &engine, &digest).is_err(),
                "{what} was loaded"
            );
            // Compiled again, and the sound copy written back.
            cache.component(&engine, &digest, EMPTY).unwrap();
            assert_eq!(std::fs::read(&file).unwrap(), good, "{what}");
        }
    }

    #[test]
    fn one_components_artifact_does_not_load_as_anothers() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path(), 1);
        let engine = engine();
        let (empty, other) = (Digest::of(EMPTY), Digest::of(OTHER));
        cache.component(&engine, &empty, EMPTY).unwrap();
        cache.component(&engine, &other, OTHER).unwrap();
        let (empty_file, other_file) = (
            file_of(&cache, &engine, &empty),
            file_of(&cache, &engine, &other),
        );
        let other_bytes = std::fs::read(&other_file).unwrap();
        // Renamed over another's name, or copied there: refused.
        std::fs::rename(&empty_file, &other_file).unwrap();
        let err = loads(&cache, &engine, &other).unwrap_err();
        assert!(err.contains("MAC does not match"), "{err}");
        // Recompiled from the right bytes.
        cache.component(&engine, &other, OTHER).unwrap();
        assert_eq!(std::fs::read(&other_file).unwrap(), other_bytes);

        // An artifact written under another key (a cache shared with
        // another host, or one forged without the key) never loads.
        let foreign = open(dir.path(), 2);
        foreign.component(&engine, &empty, EMPTY).unwrap();
        let foreign_file = file_of(&foreign, &engine, &empty);
        assert_ne!(foreign_file, file_of(&cache, &engine, &empty));
        std::fs::copy(&foreign_file, file_of(&cache, &engine, &empty)).unwrap();
        assert!(loads(&cache, &engine, &empty).is_err());
    }

    #[test]
    fn a_cache_without_a_key_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(dir.path(), cap_std::ambient_authority()).unwrap();
        cache
            .component(&engine(), &Digest::of(EMPTY), EMPTY)
            .unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = CompileCache::open(dir.path(), cap_std::ambient_authority()).unwrap_err();
        assert!(
            err.to_string().contains("writable by group or others"),
            "{err}"
        );
    }

    #[test]
    fn another_engine_configuration_has_another_name() {
        let mut config = crate::runtime::config(None);
        config.epoch_interruption(false);
        let other = Engine::new(&config).unwrap();
        assert_ne!(engine_key(&engine()), engine_key(&other));
    }
}
