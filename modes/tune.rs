//! `tandem-tune`'s model, shared with the on-demand controller (which reports, at SHUTDOWN, what
//! it would recommend for the traffic it saw): workloads, the environment model running the
//! real flush planner, and the per-strategy report. The command line and the HTML page are the
//! `tandem-tune` binary's (`modes/tune/main.rs`). Pure: no I/O.

pub mod model;
pub mod report;
pub mod traffic;
pub mod workload;
