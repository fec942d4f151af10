//! Timing helpers and the printed table.

use std::time::{Duration, Instant};

/// The median of `samples` (sorted in place).
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Time `n` calls of `call` one by one, after `warmup` untimed calls, and
/// return the median.
pub fn per_call(warmup: usize, n: usize, mut call: impl FnMut()) -> Duration {
    for _ in 0..warmup {
        call();
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        call();
        samples.push(t.elapsed());
    }
    median(&mut samples)
}

/// One row of the table: a measured case and its figure.
pub struct Row {
    pub section: &'static str,
    pub case: String,
    pub figure: Figure,
}

/// What a row measured.
#[derive(Clone, Copy)]
pub enum Figure {
    /// A median time per call, request or record.
    Time(Duration),
    /// Invocations per second.
    Rate(f64),
}

/// A human figure: µs below 10 ms, else ms.
pub fn show(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10_000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.1} ms", us / 1000.0)
    }
}

/// The rows and the targets checked against them, printed as Markdown.
#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub targets: Vec<String>,
}

impl Report {
    pub fn time(
        &mut self,
        section: &'static str,
        case: impl Into<String>,
        d: Duration,
    ) -> Duration {
        self.push(section, case, Figure::Time(d));
        d
    }

    pub fn rate(&mut self, section: &'static str, case: impl Into<String>, r: f64) -> f64 {
        self.push(section, case, Figure::Rate(r));
        r
    }

    fn push(&mut self, section: &'static str, case: impl Into<String>, figure: Figure) {
        let case = case.into();
        match figure {
            Figure::Time(d) => eprintln!("  {section}: {case}: {}", show(d)),
            Figure::Rate(r) => eprintln!("  {section}: {case}: {r:.0}/s"),
        }
        self.rows.push(Row {
            section,
            case,
            figure,
        });
    }

    /// Record a target: `ratio` measured, `holds` whether it is met.
    pub fn target(&mut self, name: &str, what: &str, ratio: f64, bound: &str, holds: bool) {
        let verdict = if holds { "met" } else { "NOT met" };
        self.targets.push(format!(
            "| {name} | {what} | {ratio:.2}× | {bound} | {verdict} |"
        ));
    }

    /// A context line of [`Scaling::context`] for each of `rows`
    /// (`(measured, what)`), where it could be measured.
    pub fn scaling_context(&mut self, rows: &[(Scaling, &str)]) {
        let lines = rows.iter().filter_map(|(s, what)| s.context(what));
        self.targets.extend(lines);
    }

    pub fn print(&self) {
        println!("| section | case | median |");
        println!("|---|---|---|");
        for row in &self.rows {
            let figure = match row.figure {
                Figure::Time(d) => show(d),
                Figure::Rate(r) => format!("{r:.0} /s"),
            };
            println!("| {} | {} | {figure} |", row.section, row.case);
        }
        if !self.targets.is_empty() {
            println!();
            println!("| target | ratio of | measured | bound | |");
            println!("|---|---|---|---|---|");
            for t in &self.targets {
                println!("{t}");
            }
        }
    }
}

/// Calls per second with `callers` threads, each calling `call` back to
/// back on a runtime of its own for `span` — a caller per thread, as an
/// embedder serving requests would have, with no scheduler between them.
pub fn rate(callers: usize, span: Duration, call: impl Fn(&tokio::runtime::Runtime) + Sync) -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    let done = AtomicU64::new(0);
    let started = Instant::now();
    let end = started + span;
    std::thread::scope(|s| {
        for _ in 0..callers {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio");
                let mut n = 0;
                while Instant::now() < end {
                    call(&rt);
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Let the kernel write back what earlier spans and sections wrote (audit
/// logs of tens of megabytes), so that its writeback threads do not take a
/// core from the span measured next — which would cost N callers, with no
/// idle core left, more than one.
pub fn settle() {
    let _ = std::process::Command::new("sync").status();
    std::thread::sleep(Duration::from_millis(100));
}

/// The cores this process may use: the number of concurrent callers.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// How far the machine itself scales: SHA-256 over 64 KiB per call, with 1
/// and [`cores`] threads — pure computation, nothing shared.
pub fn compute_scaling(span: Duration) -> Scaling {
    use sha2::Digest as _;
    let block = vec![7u8; 64 * 1024];
    let call = |_: &tokio::runtime::Runtime| {
        std::hint::black_box(sha2::Sha256::digest(std::hint::black_box(&block)));
    };
    scaling(5, span, call)
}

/// What [`scaling`] measured: the median rate of each kind of span and
/// how many of the machine's cores were busy during it (all processes,
/// kernel threads included), where `/proc/stat` can be read.
#[derive(Clone, Copy, Debug)]
pub struct Scaling {
    /// Calls per second with one caller.
    pub one: f64,
    /// Calls per second with [`cores`] callers.
    pub many: f64,
    /// The machine's busy cores with one caller.
    pub busy_one: Option<f64>,
    /// The CPU time the machine spent per call, with one caller and with N.
    pub cpu_per_call: Option<(Duration, Duration)>,
}

impl Scaling {
    /// N callers' rate over one caller's.
    pub fn ratio(&self) -> f64 {
        self.many / self.one
    }

    /// A line for the table of targets: the cores one caller keeps busy
    /// (its own and the work it leaves to other threads: the kernel's
    /// writeback, a checkpoint thread) and the CPU time per call with one
    /// and with N callers.
    pub fn context(&self, what: &str) -> Option<String> {
        let (one, many) = self.cpu_per_call?;
        let busy = self.busy_one?;
        Some(format!(
            "| 3 throughput | (context) {what}: cores busy with 1 caller {busy:.2} (so at most {:.2}× with {}); CPU per call, 1 / N callers | {} / {} | — | |",
            cores() as f64 / busy,
            cores(),
            show(one),
            show(many),
        ))
    }
}

/// The machine's (busy, total) CPU time so far, in clock ticks, and its
/// number of CPUs, from `/proc/stat`: idle, waiting for I/O and stolen by
/// the hypervisor (a VM's CPU that wanted to run and did not) count as not
/// busy.
fn cpu_ticks() -> Option<(u64, u64, usize)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut lines = stat.lines();
    let ticks: Vec<u64> = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already
    // counted in user)
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)? + ticks.get(7)?;
    let cpus = lines
        .take_while(|l| l.starts_with("cpu"))
        .filter(|l| l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    Some((total - idle, total, cpus))
}

/// [`rate`], and how many cores were busy while it ran.
fn rate_busy(
    callers: usize,
    span: Duration,
    call: impl Fn(&tokio::runtime::Runtime) + Sync,
) -> (f64, Option<f64>) {
    let before = cpu_ticks();
    let r = rate(callers, span, call);
    let busy = before
        .zip(cpu_ticks())
        .and_then(|((b0, t0, _), (b1, t1, cpus))| {
            (t1 > t0).then(|| (b1 - b0) as f64 / (t1 - t0) as f64 * cpus as f64)
        });
    (r, busy)
}

/// One caller's and `cores()` callers' rates, each the median of `rounds`
/// spans of `span`, the two alternating so that a machine whose speed
/// drifts (a shared VM) shifts both alike. Each span starts [`settle`]d.
pub fn scaling(
    rounds: usize,
    span: Duration,
    call: impl Fn(&tokio::runtime::Runtime) + Sync,
) -> Scaling {
    let (mut one, mut many) = (Vec::new(), Vec::new());
    let (mut busy_one, mut cpu_one, mut cpu_many) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        settle();
        let (r, busy) = rate_busy(1, span, &call);
        one.push(r);
        busy_one.extend(busy);
        cpu_one.extend(busy.map(|b| b / r));
        settle();
        let (r, busy) = rate_busy(cores(), span, &call);
        many.push(r);
        cpu_many.extend(busy.map(|b| b / r));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let cpu_one = median(&mut cpu_one).map(Duration::from_secs_f64);
    let cpu_many = median(&mut cpu_many).map(Duration::from_secs_f64);
    Scaling {
        one: median(&mut one).expect("at least one round"),
        many: median(&mut many).expect("at least one round"),
        busy_one: median(&mut busy_one),
        cpu_per_call: cpu_one.zip(cpu_many),
    }
}
