//! Helper threads that run beside the thread that starts them.
//!
//! Linux often queues a new thread on the CPU of the thread that starts
//! it, where it waits while its starter runs, another CPU idle, until the
//! kernel balances the two — which can take longer than the helper's whole
//! job. On the 2-vCPU machines the benchmarks run on, about half of the
//! helpers `airlock run` starts waited ~0.6 ms that way, and a one-call run
//! gained nothing from them. So a helper first takes its starter's CPU out
//! of its own affinity (if the process may use another), and the starter
//! yields once, so that a helper queued behind it gets to do that at once.
//!
//! A thread or process started from a helper would inherit that narrower
//! affinity for good, so helpers do one bounded job and start nothing:
//! building the engine and linker, opening the audit log.

use std::thread::{JoinHandle, Scope, ScopedJoinHandle};

/// Start `work` on a new thread called `name`.
pub fn spawn<T, F>(name: &str, work: F) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(off_this_cpu(work))?;
    std::thread::yield_now();
    Ok(thread)
}

/// Start `work` on a new thread of `scope` called `name`.
pub fn spawn_scoped<'scope, 'env, T, F>(
    scope: &'scope Scope<'scope, 'env>,
    name: &str,
    work: F,
) -> std::io::Result<ScopedJoinHandle<'scope, T>>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn_scoped(scope, off_this_cpu(work))?;
    std::thread::yield_now();
    Ok(thread)
}

/// `work`, preceded by leaving the CPU the calling thread is on now: the
/// body of a helper this thread is about to start.
fn off_this_cpu<T, F: FnOnce() -> T>(work: F) -> impl FnOnce() -> T {
    let starter = rustix::thread::sched_getcpu();
    move || {
        keep_off(starter);
        work()
    }
}

/// Move the calling thread off `cpu` if it may run on another.
fn keep_off(cpu: usize) {
    use rustix::thread::{sched_getaffinity, sched_setaffinity};
    if let Ok(mut allowed) = sched_getaffinity(None)
        && allowed.is_set(cpu)
        && allowed.count() > 1
    {
        allowed.unset(cpu);
        let _ = sched_setaffinity(None, &allowed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::thread::{CpuSet, sched_getaffinity};

    fn allowed() -> CpuSet {
        sched_getaffinity(None).unwrap()
    }

    #[test]
    fn a_thread_leaves_a_cpu_only_if_it_may_run_on_another() {
        let before = allowed();
        let first = (0..CpuSet::MAX_CPU).find(|&c| before.is_set(c)).unwrap();
        let after = std::thread::spawn(move || {
            keep_off(first);
            allowed()
        })
        .join()
        .unwrap();
        let mut expected = before;
        if before.count() > 1 {
            expected.unset(first);
        }
        assert_eq!(after, expected);
        // A CPU it may not use anyway changes nothing.
        let outside = (0..CpuSet::MAX_CPU).find(|&c| !before.is_set(c)).unwrap();
        let after = std::thread::spawn(move || {
            keep_off(outside);
            allowed()
        })
        .join()
        .unwrap();
        assert_eq!(after, before);
    }

    #[test]
    fn a_helper_does_its_work_with_one_cpu_fewer_where_there_are_more() {
        let before = allowed();
        let (value, helper) = spawn("airlock-test", || (7, allowed()))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(value, 7);
        assert_eq!(helper.count(), before.count().saturating_sub(1).max(1));
        std::thread::scope(|s| {
            let helper = spawn_scoped(s, "airlock-test", allowed)
                .unwrap()
                .join()
                .unwrap();
            assert_eq!(helper.count(), before.count().saturating_sub(1).max(1));
        });
    }
}
