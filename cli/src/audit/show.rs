//! `airlock audit show`.

use super::super::{exit, fail};
use super::LogFiles;
use airlock_audit::show::{Filter, line, not_a_record};
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Write};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    logs: LogFiles,
    /// Only this run (a prefix of its id is enough).
    #[arg(long)]
    run: Option<String>,
    /// Only this action (`name` or `name@version`).
    #[arg(long)]
    action: Option<String>,
    /// Only this event (`file.open`; `file.` for every file event).
    #[arg(long)]
    event: Option<String>,
    /// Only this decision.
    #[arg(long, value_parser = ["allow", "deny"])]
    decision: Option<String>,
    /// Only runs whose context has KEY=VALUE, like
    /// `temporal.workflow_id=order-42` (their `run.start` or `run.refused`).
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    context: Option<(String, String)>,
    /// One JSON object per line, every non-ASCII character escaped.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> u8 {
    let filter = Filter {
        run: args.run.clone(),
        action: args.action.clone(),
        event: args.event.clone(),
        decision: args.decision.clone(),
        context: args.context.clone(),
    };
    if let Err(e) = filter.check() {
        return fail(exit::USAGE, e);
    }
    let files = match args.logs.resolve() {
        Ok((files, _)) => files,
        Err(e) => return fail(exit::USAGE, format!("{e:#}")),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in files {
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => return fail(exit::USAGE, format!("cannot read {}: {e}", path.display())),
        };
        let mut reader = BufReader::new(file);
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return fail(exit::USAGE, format!("cannot read {}: {e}", path.display())),
            }
            line_no += 1;
            let text = match serde_json::from_slice::<Map<String, Value>>(&buf) {
                Ok(record) if filter.matches(&record) => match args.json {
                    true => ascii_json(&record),
                    false => line(&record),
                },
                Ok(_) => continue,
                Err(_) => not_a_record(line_no, buf.len()),
            };
            if writeln!(out, "{text}").is_err() {
                return exit::OK; // a closed pipe
            }
        }
    }
    exit::OK
}

/// JSON with every character outside printable ASCII as a `\u` escape.
fn ascii_json(record: &Map<String, Value>) -> String {
    let text = serde_json::to_string(record).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}
