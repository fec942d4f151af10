//! What an action says: `log.emit` lines and captured stdout/stderr. All of
//! it is redacted, cut to size, counted against the run's record budget and
//! recorded; none of it reaches the host's terminal unescaped.

use super::secrets::Redactor;
use crate::runtime::bindings::airlock::action::log::{Host, Level};
use airlock_audit::EventKind;
use airlock_audit::{AuditError, Event, Recorder};
use bytes::Bytes;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use wasmtime::component::HasData;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Log lines of one run: how many were kept, how many dropped over budget.
#[derive(Debug)]
pub struct LogState {
    budget: u32,
    kept: u32,
    dropped: u32,
}

impl LogState {
    /// A run may keep `budget` log records; the rest are counted.
    pub fn new(budget: u32) -> LogState {
        LogState {
            budget,
            kept: 0,
            dropped: 0,
        }
    }

    /// Record one line at `level` (or `stdout`/`stderr`), if the budget allows.
    pub fn line(
        &mut self,
        level: &'static str,
        message: &str,
        redactor: &Redactor,
        recorder: &Recorder,
    ) -> Result<(), AuditError> {
        if self.kept >= self.budget {
            self.dropped += 1;
            return Ok(());
        }
        self.kept += 1;
        let message = redactor.redact(message);
        tracing::debug!(target: "airlock::guest", level, message = %message.escape_debug());
        recorder.record(
            Event::new(EventKind::Log)
                .field("level", level)
                .guest_text("message", &message),
        )?;
        Ok(())
    }

    /// Record how many lines were dropped, if any.
    pub fn finish(&mut self, recorder: &Recorder) -> Result<(), AuditError> {
        if self.dropped > 0 {
            recorder.record(
                Event::new(EventKind::LogDropped)
                    .field("lines", self.dropped)
                    .field("budget", self.budget),
            )?;
        }
        Ok(())
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// The `log` interface's view of a run.
pub struct LogView<'a> {
    /// Budget and counters.
    pub state: &'a mut LogState,
    /// Known secret values.
    pub redactor: &'a Redactor,
    /// Where lines are recorded.
    pub recorder: &'a Recorder,
}

/// [`HasData`] marker for linking the `log` interface.
pub struct LogCap;

impl HasData for LogCap {
    type Data<'a> = LogView<'a>;
}

impl Host for LogView<'_> {
    fn emit(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.state
            .line(level_name(level), &message, self.redactor, self.recorder)
            .map_err(wasmtime::Error::new)
    }
}

/// Captures one of the guest's output streams in memory, keeping at most
/// `limit` bytes and counting the rest. Writes never fail: an action that
/// prints too much loses output, not its run.
#[derive(Clone, Debug)]
pub struct Capture {
    inner: Arc<Mutex<Captured>>,
}

/// What a [`Capture`] holds.
#[derive(Debug, Default)]
pub struct Captured {
    /// The first `limit` bytes written.
    pub bytes: Vec<u8>,
    /// Bytes written beyond the limit.
    pub dropped: u64,
    limit: usize,
}

impl Capture {
    /// A capture keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Capture {
        Capture {
            inner: Arc::new(Mutex::new(Captured {
                limit,
                ..Default::default()
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Captured> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, data: &[u8]) {
        let mut c = self.lock();
        let room = c.limit.saturating_sub(c.bytes.len());
        let kept = room.min(data.len());
        c.bytes.extend_from_slice(&data[..kept]);
        c.dropped += (data.len() - kept) as u64;
    }

    /// Take what was captured, leaving the capture empty.
    pub fn take(&self) -> Captured {
        let mut c = self.lock();
        let limit = c.limit;
        std::mem::replace(
            &mut *c,
            Captured {
                limit,
                ..Default::default()
            },
        )
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_the_limit_and_counts_the_rest() {
        let c = Capture::new(10);
        c.push(b"hello ");
        c.push(b"world, again");
        let got = c.take();
        assert_eq!(got.bytes, b"hello worl");
        assert_eq!(got.dropped, 8);
        assert!(c.take().bytes.is_empty());
    }
}
