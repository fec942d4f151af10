//! `airlock approve`: show a person what an action is and asks for — and
//! what changed since the approved version — and, once they agree, record
//! the approval in the lock.

use super::{code_of, exit, fail, failed};
use airlock::Policy;
use airlock::approve::{self, ApproveError, Review, Written};
use airlock_rules::bounds;
use airlock_rules::provenance::Lock;
use airlock_rules::provenance::admit::approve_command;
use airlock_rules::provenance::trust::SignatureFile;
use airlock_rules::sbom::DepChange;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Vet an action and approve it in the lock (`airlock.lock`). Writes only
/// with --yes, or when confirmed at a terminal.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An action name from the policy, or a path to a component (.wasm).
    action: String,
    /// Approve without asking (for scripts that already vetted it).
    #[arg(long)]
    yes: bool,
    /// Allow approving an older version over a newer approved one.
    #[arg(long)]
    allow_downgrade: bool,
    /// The operator policy (its [trust] lock says where the lock is).
    #[arg(short, long, env = "AIRLOCK_CONFIG", default_value = "airlock.toml")]
    config: PathBuf,
    /// Print the review as JSON.
    #[arg(long)]
    json: bool,
    /// Compile the component without storing it in the compile cache
    /// (otherwise the approved component is compiled and cached here, so
    /// that its first `airlock run` does not compile it).
    #[arg(long)]
    no_cache: bool,
}

pub fn run(args: Args) -> u8 {
    let policy = match Policy::load(&args.config) {
        Ok(p) => p,
        Err(e) => return fail(exit::USAGE, e),
    };
    let path = match super::component_path(&policy, &args.action) {
        Ok(p) => p,
        Err(e) => return fail(exit::REFUSED, e),
    };
    // An action from a registry: pulled into the store (by the manifest
    // digest its source pins) every time, so that what is reviewed and
    // recorded as coming from the source did, then reviewed like any file.
    let registry_source = (!super::by_path(&args.action))
        .then(|| policy.actions.get(&args.action))
        .flatten()
        .and_then(|a| a.source.clone());
    if let Some(source) = &registry_source {
        match crate::oci::fetch_source(source, &path) {
            Ok(pulled) => eprintln!(
                "airlock: pulled {source} (component {}) into {}",
                pulled.component,
                pulled.written.join(", ")
            ),
            Err(e) => return fail(exit::HOST, e),
        }
    }
    let origin = path.display().to_string();
    let bytes = match bounds::read_file(&path, &policy.compile) {
        Ok(Ok(b)) => b,
        Ok(Err(exceeded)) => {
            let refusal = airlock::Refusal::OverCeiling { origin, exceeded };
            return fail(exit::REFUSED, format!("cannot approve: {refusal}"));
        }
        Err(e) => return fail(exit::USAGE, format!("cannot read {origin}: {e}")),
    };
    let lock_path = &policy.trust.lock;
    let lock = match Lock::load(lock_path) {
        Ok(l) => l,
        Err(e) => return fail(exit::USAGE, e),
    };
    let (signature, bundle) = match (
        SignatureFile::next_to(&path),
        SignatureFile::bundle_next_to(&path),
    ) {
        (Ok(s), Ok(b)) => (s, b),
        (Err(e), _) | (_, Err(e)) => return fail(exit::USAGE, e),
    };
    let review = match Review::of(
        &bytes,
        &origin,
        signature.as_ref(),
        bundle.as_ref(),
        &policy,
        &lock,
    ) {
        Ok(r) => r,
        Err(refusal) => return fail(exit::REFUSED, format!("cannot approve: {refusal}")),
    };
    let name = &review.manifest.action.name;
    if !super::by_path(&args.action) && *name != args.action {
        return fail(
            exit::REFUSED,
            format!(
                "cannot approve: {origin} declares action `{name}`, not `{}`",
                args.action
            ),
        );
    }

    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&review).unwrap_or_default()
        );
    } else {
        print_review(&review);
    }
    if review.already_approved() {
        eprintln!(
            "airlock: {name} {} is already approved; nothing to write",
            review.manifest.action.version
        );
        return exit::OK;
    }
    if let Err(e) = approve::check_downgrade(&review, args.allow_downgrade) {
        return refused(e, &args.action);
    }
    // Compiled now, so that the cost is paid and seen at review, and a
    // component wasmtime refuses is never approved.
    match compile(&bytes, &review, &policy, args.no_cache) {
        Ok(note) => eprintln!("airlock: {note}"),
        Err((code, e)) => return fail(code, e),
    }
    if !args.yes {
        match confirm(&review) {
            Some(true) => {}
            Some(false) => {
                eprintln!(
                    "airlock: not approved; {} is unchanged",
                    lock_path.display()
                );
                return exit::ACTION_ERROR;
            }
            None => {
                eprintln!(
                    "airlock: not approved: nothing was written. Re-run with --yes to approve, \
                     or at a terminal to confirm."
                );
                return exit::ACTION_ERROR;
            }
        }
    }

    let version = &review.manifest.action.version;
    let written = approve::write(
        &review,
        &lock,
        &policy,
        registry_source.unwrap_or_else(|| source(&path, lock_path)),
        &approver(),
        args.allow_downgrade,
    );
    let entry = match written {
        Ok(Written::Approved(entry)) => entry,
        Ok(Written::AlreadyApproved | Written::ApprovedMeanwhile) => {
            eprintln!("airlock: {name} {version} was approved meanwhile; nothing to write");
            return exit::OK;
        }
        Err(e) => return refused(e, &args.action),
    };
    if let Some(from) = &entry.downgraded_from {
        eprintln!(
            "airlock: note: a downgrade from {from}, allowed with --allow-downgrade; the lock records \
             it (downgraded_from) and keeps {} as the highest approved version",
            entry.high_water()
        );
    }
    eprintln!(
        "airlock: approved {name} {} ({}) in {}; recorded in {}",
        review.manifest.action.version,
        review.digest,
        lock_path.display(),
        policy.audit.for_approvals().path.display()
    );
    exit::OK
}

/// The difference between two dependency lists: `+` a new crate, `~` a
/// changed version, `-` a removed crate.
pub fn print_dependency_changes(changes: Option<&[DepChange]>) {
    match changes {
        None => println!("dependency changes: unknown (one side carries no dependency list)"),
        Some([]) => println!("dependency changes: none"),
        Some(changes) => {
            println!("dependency changes:");
            for c in changes {
                let mark = match c.kind {
                    "added" => '+',
                    "removed" => '-',
                    _ => '~',
                };
                println!("  {mark} {c}");
            }
        }
    }
}

/// Who approves: the user this command runs as, by name and uid, on this
/// host.
fn approver() -> approve::Approver {
    use std::os::unix::fs::MetadataExt as _;
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    let user = match std::fs::metadata("/proc/self").map(|m| m.uid()) {
        Ok(uid) if name.is_empty() => format!("uid {uid}"),
        Ok(uid) => format!("{name} (uid {uid})"),
        Err(_) => name,
    };
    approve::Approver {
        user,
        host: gethostname::gethostname().to_string_lossy().into_owned(),
    }
}

/// Why an approval was not written, as the command says it.
fn refused(e: ApproveError, action: &str) -> u8 {
    match e {
        ApproveError::Downgrade {
            name,
            version,
            previous,
        } => fail(
            exit::REFUSED,
            format!(
                "cannot approve: {name} {version} is older than the approved {previous}; a \
                 downgrade can bring back what a newer version fixed: pass --allow-downgrade if \
                 that is intended"
            ),
        ),
        ApproveError::Changed {
            lock,
            name,
            version,
            now,
        } => fail(
            exit::REFUSED,
            format!(
                "cannot approve: {lock} changed while {name} {version} was reviewed: {now}; \
                 nothing was written: run `{}` again to review against it",
                approve_command(action)
            ),
        ),
        ApproveError::Unrecorded(reason) => fail(
            exit::HOST,
            format!(
                "cannot approve: the approval could not be recorded in the log of approvals, so \
                 the lock was not written: {reason}"
            ),
        ),
        ApproveError::Lock(e) => {
            let e = airlock::Error::from(e);
            failed(&e)
        }
        e => fail(exit::HOST, e),
    }
}

/// Compile `bytes` as `airlock run` will, in a child process held to the
/// policy's `[compile] timeout` and `memory`, into the compile cache it
/// reads (unless `no_cache`, or there is none); what was done and how long
/// it took, or the exit code and the error.
fn compile(
    bytes: &[u8],
    review: &Review,
    policy: &Policy,
    no_cache: bool,
) -> Result<String, (u8, String)> {
    let host = |e: String| (exit::HOST, e);
    let compiler = super::compiler().map_err(host)?;
    let cache = if no_cache {
        None
    } else {
        // Bound by the key of the hosts that run it, so they load it.
        match super::run::compile_cache().map_err(host)? {
            Some(cache) => match cache.keyed_for(&policy.audit) {
                Ok(cache) => Some(cache),
                Err(e) => {
                    eprintln!("airlock: note: compiling without caching: {e}");
                    None
                }
            },
            None => None,
        }
    };
    let started = Instant::now();
    approve::compile(review, bytes, policy, &compiler, cache.as_ref()).map_err(|e| match e {
        airlock::Error::Refused(r) => (exit::REFUSED, format!("cannot approve: {r}")),
        e => (code_of(&e), e.to_string()),
    })?;
    let took = format!("{:.2}s", started.elapsed().as_secs_f64());
    Ok(match &cache {
        Some(cache) => format!(
            "compiled {} in {took}; cached in {}",
            review.origin,
            cache.path().display()
        ),
        None => format!("compiled {} in {took}; not cached", review.origin),
    })
}

/// Ask at a terminal; `None` when there is no terminal to ask at.
fn confirm(review: &Review) -> Option<bool> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let a = &review.manifest.action;
    eprint!(
        "Approve {} {} ({})? [y/N] ",
        a.name, a.version, review.digest
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok()?;
    Some(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Where the component came from, relative to the lock's directory when
/// it is under it.
fn source(path: &Path, lock: &Path) -> String {
    let dir = lock
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (path.canonicalize(), dir.canonicalize()) {
        (Ok(p), Ok(d)) => p
            .strip_prefix(&d)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string()),
        _ => path.display().to_string(),
    }
}

fn print_review(r: &Review) {
    let a = &r.manifest.action;
    let req = &r.requested;
    println!("action:     {} {} by {}", a.name, a.version, a.publisher);
    if !a.description.is_empty() {
        println!("            {}", a.description);
    }
    println!("file:       {}", r.origin);
    println!("digest:     {}", r.digest);
    println!("signature:  {}", r.signature);
    println!("requests:");
    let none = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    println!(
        "  network:  {}",
        none(req.network.iter().cloned().collect())
    );
    println!(
        "  files:    {}",
        none(
            req.files
                .iter()
                .map(|(m, a)| format!("{m} ({a})"))
                .collect()
        )
    );
    let secrets = req
        .secrets
        .iter()
        .map(|(name, s)| {
            let mut uses = Vec::new();
            if !s.send_to.is_empty() {
                let to: Vec<&str> = s.send_to.iter().map(String::as_str).collect();
                uses.push(format!("sent to {}", to.join(" ")));
            }
            if s.expose {
                uses.push("EXPOSED".to_owned());
            }
            if uses.is_empty() {
                name.clone()
            } else {
                format!("{name} ({})", uses.join("; "))
            }
        })
        .collect();
    println!("  secrets:  {}", none(secrets));
    // Not capabilities, but every value is recorded in each run.start.
    let config = r
        .manifest
        .config
        .iter()
        .map(|(key, c)| match (&c.default, c.required) {
            (Some(d), _) => format!(
                "{key} ({}, default {})",
                c.kind,
                serde_json::to_string(d).unwrap_or_default()
            ),
            (None, true) => format!("{key} ({}, required)", c.kind),
            (None, false) => format!("{key} ({})", c.kind),
        })
        .collect();
    println!("  config:   {}", none(config));
    let l = &req.limits;
    let output = l
        .output
        .map_or("the policy's ceiling".to_owned(), |o| o.to_string());
    println!(
        "  limits:   memory {}, timeout {}, output {output}",
        l.memory, l.timeout
    );
    // In the words of [limits], so each one can be found in the manifest.
    println!(
        "            http_requests {}, http_request_body {}, http_response_body {}",
        l.http_requests, l.http_request_body, l.http_response_body
    );
    println!(
        "            http_connect_timeout {}, http_first_byte_timeout {}, http_timeout {}",
        l.http_connect_timeout, l.http_first_byte_timeout, l.http_timeout
    );
    crate::inspect::print_dependencies(r.sbom.as_ref(), r.sbom_error.as_deref());
    crate::inspect::print_flags(&r.flags, "flags:      none");
    for n in &r.narrowed {
        println!("policy:     {n}");
    }
    match &r.previous {
        None => println!(
            "approved:   nothing yet for `{}`: this is a first approval",
            a.name
        ),
        Some(p) => {
            println!(
                "approved:   {} {} ({}) by {}, on {}",
                a.name, p.version, p.digest, p.publisher, p.approved_at
            );
            if p.version == a.version && p.digest != r.digest {
                println!(
                    "  ! the same version as the approved one, with other bytes: a rebuild, or a \
                     re-release without a new version"
                );
            }
            if r.publisher_changed() {
                println!(
                    "  ! the publisher changes from `{}` to `{}`",
                    p.publisher, a.publisher
                );
            }
            if r.changes.is_empty() {
                println!("changes:    none to the capabilities");
            } else {
                println!("changes:");
                for c in &r.changes {
                    println!("  {} {}", if c.wider { '+' } else { '-' }, c.text);
                }
            }
            print_dependency_changes(r.dependency_changes.as_deref());
        }
    }
}
