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
/// and [`cores`] threads — pure computation, nothing shared — as
/// (1-thread rate, N-thread rate).
pub fn compute_scaling(span: Duration) -> (f64, f64) {
    use sha2::Digest as _;
    let block = vec![7u8; 64 * 1024];
    let call = |_: &tokio::runtime::Runtime| {
        std::hint::black_box(sha2::Sha256::digest(std::hint::black_box(&block)));
    };
    scaling(5, span, call)
}

/// (1-caller rate, `cores()`-caller rate), each the median of `rounds`
/// spans of `span`, the two alternating so that a machine whose speed
/// drifts (a shared VM) shifts both alike. Each span starts [`settle`]d.
pub fn scaling(
    rounds: usize,
    span: Duration,
    call: impl Fn(&tokio::runtime::Runtime) + Sync,
) -> (f64, f64) {
    let (mut one, mut many) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        settle();
        one.push(rate(1, span, &call));
        settle();
        many.push(rate(cores(), span, &call));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut one), median(&mut many))
}
