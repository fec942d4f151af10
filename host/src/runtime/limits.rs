//! Memory and table limits of one run, and the limits a run can exceed.

use airlock_rules::units::ByteSize;
use std::fmt;
use std::time::Duration;

/// Elements a table may grow to: far beyond what real code needs, far below
/// what would exhaust the host.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// A limit that ended a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitExceeded {
    /// Linear memory would have grown past the grant.
    Memory(ByteSize),
    /// The run took longer than the grant.
    Timeout(Duration),
    /// The output (or error message) is larger than the grant.
    Output {
        /// The granted size.
        limit: ByteSize,
        /// The size the action returned.
        size: u64,
    },
    /// A table would have grown past the host's ceiling.
    Table(usize),
    /// The run was refused more host calls than its `refusals` budget.
    Refusals(u32),
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitExceeded::Memory(limit) => write!(f, "memory limit of {limit} exceeded"),
            LimitExceeded::Timeout(limit) => {
                write!(
                    f,
                    "timeout of {} exceeded",
                    humantime::format_duration(*limit)
                )
            }
            LimitExceeded::Output { limit, size } => {
                write!(
                    f,
                    "output limit of {limit} exceeded ({size} bytes returned)"
                )
            }
            LimitExceeded::Table(limit) => write!(f, "table limit of {limit} elements exceeded"),
            LimitExceeded::Refusals(limit) => write!(
                f,
                "refusal budget of {limit} refused host calls exceeded (raise [limits] refusals in the policy)"
            ),
        }
    }
}

impl std::error::Error for LimitExceeded {}

impl LimitExceeded {
    /// The name of the limit, as recorded: `memory`, `timeout`, `output`,
    /// `table`, `refusals`.
    pub fn name(&self) -> &'static str {
        match self {
            LimitExceeded::Memory(_) => "memory",
            LimitExceeded::Timeout(_) => "timeout",
            LimitExceeded::Output { .. } => "output",
            LimitExceeded::Table(_) => "table",
            LimitExceeded::Refusals(_) => "refusals",
        }
    }
}

/// Enforces the memory grant across all of a run's memories, and remembers
/// the peak and what was exceeded.
#[derive(Debug)]
pub struct RunLimiter {
    limit: usize,
    total: usize,
    peak: usize,
    exceeded: Option<LimitExceeded>,
}

impl RunLimiter {
    /// A limiter allowing `limit` bytes of linear memory.
    pub fn new(limit: ByteSize) -> RunLimiter {
        RunLimiter {
            limit: limit.as_usize(),
            total: 0,
            peak: 0,
            exceeded: None,
        }
    }

    /// The most linear memory the run had at once.
    pub fn peak(&self) -> u64 {
        self.peak as u64
    }

    /// The limit that was exceeded, if one was.
    pub fn exceeded(&self) -> Option<&LimitExceeded> {
        self.exceeded.as_ref()
    }
}

impl wasmtime::ResourceLimiter for RunLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        if total > self.limit {
            let exceeded = LimitExceeded::Memory(ByteSize(self.limit as u64));
            self.exceeded = Some(exceeded.clone());
            return Err(wasmtime::Error::new(exceeded));
        }
        self.total = total;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            let exceeded = LimitExceeded::Table(MAX_TABLE_ELEMENTS);
            self.exceeded = Some(exceeded.clone());
            return Err(wasmtime::Error::new(exceeded));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn memory_is_limited_across_memories_and_the_peak_kept() {
        let mut l = RunLimiter::new(ByteSize(100));
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(l.memory_growing(0, 30, None).unwrap()); // a second memory
        assert!(l.memory_growing(30, 40, None).unwrap());
        assert_eq!(l.peak(), 100);
        assert!(l.memory_growing(60, 61, None).is_err());
        assert_eq!(l.exceeded(), Some(&LimitExceeded::Memory(ByteSize(100))));
        assert_eq!(
            l.exceeded().unwrap().to_string(),
            "memory limit of 100 B exceeded"
        );
    }
}
