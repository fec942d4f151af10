//! Log lines for the operator, recorded in the run's audit log.
//!
//! The host cuts long lines and redacts known secret values before it
//! stores anything. Anything printed to stdout or stderr is captured and
//! recorded too, but these calls keep their level.
//!
//! Run natively (an author's `cargo test`), lines go to stderr.

use crate::bindings::airlock::action::log::Level;

fn emit(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::airlock::action::log::emit(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Log at `trace` level.
pub fn trace(message: &str) {
    emit(Level::Trace, message);
}

/// Log at `debug` level.
pub fn debug(message: &str) {
    emit(Level::Debug, message);
}

/// Log at `info` level.
pub fn info(message: &str) {
    emit(Level::Info, message);
}

/// Log at `warn` level.
pub fn warn(message: &str) {
    emit(Level::Warn, message);
}

/// Log at `error` level.
pub fn error(message: &str) {
    emit(Level::Error, message);
}
