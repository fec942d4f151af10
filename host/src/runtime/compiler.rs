//! Where a component is compiled: in the host's process, or in a child
//! process held to the policy's `[compile] timeout` and `memory`.
//!
//! Cranelift cannot be interrupted, so a component within the
//! [`bounds`](airlock_rules::bounds) ceilings can still compile for a minute and in
//! gigabytes. In a child process that costs the host nothing it cannot take
//! back: the child's address space and CPU time are limited by the kernel
//! (`RLIMIT_AS`, `RLIMIT_CPU`), and the host kills it when its wall-clock
//! time is up. The child is the `airlock` binary's hidden `__compile`
//! command: it reads the component on stdin, compiles it with the engine
//! configuration every host uses ([`super::engine`]; an instance pool does
//! not change what is compiled) and writes the compiled artifact on
//! stdout. The host sets the child's limits right after starting it, before
//! it writes the component: the child compiles nothing before the limits
//! hold. The artifact is loaded with wasmtime's checks of its header (the
//! engine's version, target and configuration), through the one module
//! allowed to load compiled code ([`super::cache`]).
//!
//! The host writes to the child's stdin: a child that ends early makes the
//! write fail with `EPIPE`, as Rust programs ignore `SIGPIPE`; an embedder
//! that does not must ignore it itself to use a child.
//!
//! In-process compiling is the library's default, for embedders that do not
//! ship the `airlock` binary; the `airlock` CLI compiles in a child.

use airlock_rules::policy::CompileCeilings;
use rustix::process::{Pid, Resource, Rlimit, prlimit};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The hidden command of the `airlock` binary that compiles for a parent.
pub const COMMAND: &str = "__compile";

/// The child's exit code when wasmtime refused the component (its reason is
/// the last line on stderr).
const EXIT_INVALID: i32 = 3;

/// The child's exit code when it could not get the memory it needed.
const EXIT_MEMORY: i32 = 4;

/// Where a host compiles components.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Compiler {
    /// In the host's own process, unbounded (beyond the parse-time
    /// ceilings): the default.
    #[default]
    InProcess,
    /// In a child process, `program __compile` (`program` is the `airlock`
    /// binary), held to the policy's `[compile] timeout` and `memory`.
    Process(PathBuf),
}

/// Why a component was not compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// wasmtime refused the component.
    #[error("{0}")]
    Invalid(String),
    /// Compiling it went beyond `[compile] timeout` or `memory`.
    #[error("{0}")]
    Bound(String),
    /// Parsing it showed it beyond a `[compile]` ceiling; nothing of it was
    /// compiled.
    #[error("{0}")]
    Ceiling(airlock_rules::bounds::Exceeded),
    /// The compiling process could not be run, or failed for another
    /// reason than the component.
    #[error("{0}")]
    Host(String),
}

impl CompileError {
    /// The refusal this is for the component read from `origin`, or, when
    /// compiling failed for another reason than the component, the host's
    /// error.
    pub(crate) fn refusal(self, origin: String) -> Result<airlock_rules::Refusal, crate::Error> {
        use airlock_rules::Refusal;
        match self {
            CompileError::Invalid(reason) => Ok(Refusal::InvalidComponent { origin, reason }),
            CompileError::Bound(reason) => Ok(Refusal::CompileBound { origin, reason }),
            CompileError::Ceiling(exceeded) => Ok(Refusal::OverCeiling { origin, exceeded }),
            CompileError::Host(reason) => Err(crate::Error::runtime(reason, None)),
        }
    }
}

/// A compiled component, and its serialized artifact when the compiling
/// produced one (a child's), for the cache to store as it is.
pub(crate) struct Compiled {
    pub(crate) component: Component,
    pub(crate) artifact: Option<Vec<u8>>,
}

impl Compiler {
    /// Compile `component` (read from `origin`) for `engine`: first held to
    /// `ceilings` by parsing alone (compiling cannot be interrupted), then,
    /// in a child, to their time and memory. A copy the cache holds is not
    /// compiled, so it is not parsed again either.
    pub(crate) fn compile(
        &self,
        engine: &Engine,
        component: &[u8],
        origin: &str,
        ceilings: &CompileCeilings,
    ) -> Result<Compiled, CompileError> {
        airlock_rules::bounds::check(component, ceilings).map_err(|e| match e {
            airlock_rules::bounds::BoundsError::Exceeded(exceeded) => {
                CompileError::Ceiling(exceeded)
            }
            airlock_rules::bounds::BoundsError::Malformed(reason) => CompileError::Invalid(reason),
        })?;
        match self {
            Compiler::InProcess => Component::new(engine, component)
                .map(|component| Compiled {
                    component,
                    artifact: None,
                })
                .map_err(|e| {
                    CompileError::Invalid(airlock_rules::doc::one_line(&format!("{e:#}")))
                }),
            Compiler::Process(program) => {
                let artifact = in_child(program, component, origin, ceilings)?;
                let component =
                    super::cache::deserialize_from_child(engine, &artifact).map_err(|e| {
                        CompileError::Host(format!(
                            "the compiled artifact of {origin} from {} does not load: {} (is it \
                             the same airlock?)",
                            program.display(),
                            airlock_rules::doc::one_line(&format!("{e:#}"))
                        ))
                    })?;
                Ok(Compiled {
                    component,
                    artifact: Some(artifact),
                })
            }
        }
    }
}

/// Why the child did not compile its component: its exit code and its
/// one-line reason, for the `__compile` command to print and exit with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ChildFailure {
    code: i32,
    message: String,
}

impl ChildFailure {
    /// The exit code the parent reads the failure from.
    pub fn exit_code(&self) -> i32 {
        self.code
    }
}

/// The child's side of [`Compiler::Process`]: compile `component` with the
/// engine every host uses, into the artifact the parent loads. The
/// `airlock` binary's hidden `__compile` command reads `component` from
/// stdin, writes the artifact to stdout, and on failure prints the reason
/// as its last line on stderr and exits with [`ChildFailure::exit_code`].
pub fn compile_as_child(component: &[u8]) -> Result<Vec<u8>, ChildFailure> {
    // An instance pool changes nothing compiled.
    super::engine(None)
        .and_then(|e| e.precompile_component(component))
        .map_err(|e| ChildFailure {
            code: if out_of_memory(&e) {
                EXIT_MEMORY
            } else {
                EXIT_INVALID
            },
            message: airlock_rules::doc::one_line(&format!("{e:#}")),
        })
}

/// Whether `e` is the system refusing memory (a mapping beyond the address
/// space limit), rather than wasmtime refusing the component.
fn out_of_memory(e: &wasmtime::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::OutOfMemory)
            || cause.to_string().contains("Cannot allocate memory")
    })
}

/// Run `program __compile` on `component`, held to `ceilings`' timeout and
/// memory; the artifact it wrote.
fn in_child(
    program: &std::path::Path,
    component: &[u8],
    origin: &str,
    ceilings: &CompileCeilings,
) -> Result<Vec<u8>, CompileError> {
    let host = |what: &str, e: &dyn std::fmt::Display| {
        CompileError::Host(format!(
            "cannot compile {origin} in a child process ({}): {what}: {e}",
            program.display()
        ))
    };
    let started = Instant::now();
    // The child gets no environment (the host's may hold secrets) and no
    // file descriptors but its three pipes (the standard library opens
    // every other one close-on-exec).
    let mut child = Command::new(program)
        .arg(COMMAND)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| host("cannot start it", &e))?;
    // It blocks reading its stdin: nothing is compiled before this.
    if let Err(e) = limit(&child, ceilings) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(host("cannot limit it", &e));
    }
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let cap = ceilings.memory.0;
    let (artifact, status, message) = std::thread::scope(|s| {
        // Each pipe on a thread of its own, so that a child that stops
        // reading, or writes more than a pipe holds, cannot block the wait.
        let writer = s.spawn(move || {
            if let Some(mut stdin) = stdin {
                // A child that ended early closed its end: its status says why.
                let _ = stdin.write_all(component);
            }
        });
        let reader = s.spawn(move || {
            let mut bytes = Vec::new();
            if let Some(stdout) = stdout {
                // Never more than the child could have held.
                stdout.take(cap).read_to_end(&mut bytes).map(|_| bytes)
            } else {
                Ok(bytes)
            }
        });
        let errors = s.spawn(move || {
            let mut text = Vec::new();
            if let Some(mut stderr) = stderr {
                // The first 64 KiB; the rest is read and dropped, so that the
                // child never waits to write it.
                let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut text);
                let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            }
            String::from_utf8_lossy(&text).into_owned()
        });
        let status = wait(&mut child, started + ceilings.timeout);
        let _ = writer.join();
        let artifact = reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let message = errors.join().unwrap_or_default();
        (artifact, status, message)
    });
    // The child's reason, its last line on stderr.
    let last = message
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("airlock: error: ").to_owned())
        .unwrap_or_default();
    let took_too_long = || {
        CompileError::Bound(format!(
            "compiling {origin} took longer than {}: raise `timeout` under [compile] in the \
             policy to allow it more",
            humantime::format_duration(ceilings.timeout)
        ))
    };
    let too_large = || {
        CompileError::Bound(format!(
            "compiling {origin} needed more than {} of memory: raise `memory` under [compile] \
             in the policy to allow it more",
            ceilings.memory
        ))
    };
    let Some(status) = status.map_err(|e| host("cannot wait for it", &e))? else {
        return Err(took_too_long());
    };
    // The system refusing memory, in the child's words: the standard
    // library's abort on a failed allocation, or an error or panic naming
    // `ENOMEM`.
    let refused_memory = [
        "memory allocation of",
        "Cannot allocate memory",
        "out of memory",
    ]
    .iter()
    .any(|m| message.contains(m));
    match (status.code(), signal(&status)) {
        (Some(0), _) => artifact.map_err(|e| host("cannot read its output", &e)),
        (Some(EXIT_MEMORY), _) => Err(too_large()),
        _ if refused_memory => Err(too_large()),
        (Some(EXIT_INVALID), _) => Err(CompileError::Invalid(last)),
        // The CPU-time limit (the hard one, a second later, is never reached:
        // SIGXCPU ends the process).
        (_, Some(libc_signal::SIGXCPU)) => Err(took_too_long()),
        // Any other crash: under an address-space limit, a mapping the
        // process could not make (a thread's stack, its signal stack) can
        // end it with a signal before any message; otherwise the component
        // crashed the compiler. Either way the component is refused.
        (_, Some(signal)) if CRASHES.contains(&signal) => Err(CompileError::Bound(format!(
            "compiling {origin} crashed the compiling process ({status}{}); it may have \
             needed more than {} of memory: raise `memory` under [compile] in the policy to \
             allow it more",
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            },
            ceilings.memory
        ))),
        _ => Err(host(&format!("it failed ({status})"), &last)),
    }
}

/// Signal numbers (the same on every Linux architecture airlock builds for).
mod libc_signal {
    pub const SIGILL: i32 = 4;
    pub const SIGABRT: i32 = 6;
    pub const SIGBUS: i32 = 7;
    pub const SIGSEGV: i32 = 11;
    pub const SIGXCPU: i32 = 24;
}

/// The signals a crashing process ends with.
const CRASHES: [i32; 4] = [
    libc_signal::SIGILL,
    libc_signal::SIGABRT,
    libc_signal::SIGBUS,
    libc_signal::SIGSEGV,
];

fn signal(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// Hold `child` to `ceilings`: its address space to `memory`, its CPU time
/// to `timeout` on every core it can use (the wall-clock timeout is the
/// bound; this one holds even if the host is gone).
fn limit(child: &Child, ceilings: &CompileCeilings) -> std::io::Result<()> {
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other("no process id"))?;
    let memory = Rlimit {
        current: Some(ceilings.memory.0),
        maximum: Some(ceilings.memory.0),
    };
    prlimit(Some(pid), Resource::As, memory)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let cpu = ceilings
        .timeout
        .as_secs()
        .saturating_add(1)
        .saturating_mul(cores);
    let cpu = Rlimit {
        current: Some(cpu),
        maximum: Some(cpu.saturating_add(1)),
    };
    prlimit(Some(pid), Resource::Cpu, cpu)?;
    Ok(())
}

/// Wait for `child` until `deadline`; `None` (and the child killed) if it
/// is still running then.
fn wait(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) => {}
            Err(e) => {
                // Not left running, holding the pipes the host waits on.
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    fn compile(program: &str) -> Result<Compiled, CompileError> {
        let engine = crate::runtime::engine(None).unwrap();
        let compiler = Compiler::Process(program.into());
        compiler.compile(&engine, EMPTY, "empty.wasm", &CompileCeilings::default())
    }

    #[test]
    fn in_process_is_the_default_and_compiles() {
        assert_eq!(Compiler::default(), Compiler::InProcess);
        let engine = crate::runtime::engine(None).unwrap();
        let c = Compiler::InProcess
            .compile(&engine, EMPTY, "empty.wasm", &CompileCeilings::default())
            .unwrap();
        assert!(c.artifact.is_none());
        let err = Compiler::InProcess
            .compile(&engine, b"\0asm", "bad.wasm", &CompileCeilings::default())
            .err()
            .unwrap();
        assert!(matches!(err, CompileError::Invalid(_)), "{err}");
    }

    /// A compiler program that is missing, fails, or is not airlock (its
    /// output is no artifact) is the host's fault, never the component's,
    /// and nothing it wrote is loaded.
    #[test]
    fn a_compiler_program_that_fails_or_is_not_airlock_is_a_host_error() {
        let cases = [
            ("/nonexistent/airlock", "cannot start it"),
            ("/bin/false", "it failed"),
            ("/bin/true", "does not load"),
        ];
        for (program, message) in cases {
            let err = compile(program).err().unwrap();
            assert!(matches!(err, CompileError::Host(_)), "{program}: {err}");
            assert!(err.to_string().contains(message), "{program}: {err}");
            assert!(err.to_string().contains("empty.wasm"), "{program}: {err}");
        }
    }
}
