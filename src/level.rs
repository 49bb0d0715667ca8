//! The log level of the extension's own diagnostics (`DD_LOG_LEVEL`). A leaf, shared by the
//! config (which parses it) and the logger (which applies it), so neither imports the other.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Off = 5,
}
