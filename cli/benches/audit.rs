//! Audit overhead per record under each durability setting (the same rows
//! `--bench perf` prints in its table).
//!
//! `cargo bench -p airlock-cli --bench audit` prints the median of several
//! batches, per record, for plain records and for write-ahead intents (which
//! wait for durability). Group commit is measured with 8 writers at once.

#[path = "perf/audit_cost.rs"]
mod audit_cost;

fn main() {
    println!("audit overhead per record (median of 7 batches)");
    println!("{:<44} {:>12}", "setting", "per record");
    for (name, d) in audit_cost::measure(1) {
        println!("{name:<44} {:>9.1} µs", d.as_secs_f64() * 1e6);
    }
}
