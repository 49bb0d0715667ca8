//! The extension's own diagnostic log (stderr). Every line starts with [`PREFIX`] so that the
//! logs pipeline can recognise — and refuse to ship — its own output when Lambda hands it back
//! as `extension` telemetry records. Every line passes through [`redact`]. Must not allocate a
//! buffer per call beyond the formatted line, and must not block on anything but stderr.

use crate::level::LogLevel;
use crate::secret::redact;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// Marks our own lines; see the module docs.
pub const PREFIX: &str = "TANDEM |";

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: LogLevel) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed) && level != LogLevel::Off
}

/// Writes one line. Use the `log_*!` macros.
pub fn write(level: LogLevel, args: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let name = match level {
        LogLevel::Trace => "TRACE",
        LogLevel::Debug => "DEBUG",
        LogLevel::Info => "INFO",
        LogLevel::Warn => "WARN",
        LogLevel::Error | LogLevel::Off => "ERROR",
    };
    let text = args.to_string();
    // One line per message: Lambda would otherwise split it into several records.
    let line = format!("{PREFIX} {name} | {}\n", redact(&text).replace('\n', " "));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[macro_export]
macro_rules! log_debug { ($($t:tt)*) => { $crate::diag::write($crate::level::LogLevel::Debug, format_args!($($t)*)) } }
#[macro_export]
macro_rules! log_info { ($($t:tt)*) => { $crate::diag::write($crate::level::LogLevel::Info, format_args!($($t)*)) } }
#[macro_export]
macro_rules! log_warn { ($($t:tt)*) => { $crate::diag::write($crate::level::LogLevel::Warn, format_args!($($t)*)) } }
#[macro_export]
macro_rules! log_error { ($($t:tt)*) => { $crate::diag::write($crate::level::LogLevel::Error, format_args!($($t)*)) } }
