//! Issue 12: trace parity with Datadog's extension. Every trigger fixture, with and without
//! `DD_SERVICE`, with and without upstream context, driven both ways a Datadog library drives
//! the extension — universal instrumentation (start-invocation, the tracer's spans including
//! its placeholder root, end-invocation; half of them with the spans arriving before
//! end-invocation, half after) and the Python/Node way (the library sends `aws.lambda` itself)
//! — is compared field by field with `tests/fixtures/parity/expected.json`, which says where
//! each expectation comes from. A failure prints every difference, one per line.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod capture;
mod concurrent;
mod drive;
mod events;
mod signals;
mod verify;

use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);
const UPSTREAM: u64 = 1_111_111_111_111_111_111;
const PLACEHOLDER: &str = "dd-tracer-serverless-span";

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tandem"))
}

fn read(path: &str) -> Value {
    let p = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trigger_ships_what_datadogs_extension_ships() {
    let expected = read("parity/expected.json");
    let mut diffs = Vec::new();
    for (dd_service, library_first) in [(None, true), (Some("orders-api"), false)] {
        let (cap, runs) = drive::run_suite(&expected, dd_service, library_first).await;
        diffs.extend(verify::verify(&expected, dd_service, &cap, &runs));
    }
    assert!(
        diffs.is_empty(),
        "{} differences from Datadog's behaviour:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
