//! Trace path benchmark (a bench binary: it measures and prints). Run with
//! `cargo bench --bench traces`: msgpack decode + span processing throughput on one core, and
//! heap allocations per span, for v0.4 and v0.5 payloads of 1,000 traces × 10 spans.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tandem::config::Config;
use tandem::config::source::Source;
use tandem::tags::FunctionContext;
use tandem::traces::msgpack;
use tandem::traces::process::Processor;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(l.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

const TRACES: usize = 1000;
const SPANS: usize = 10;

fn v04() -> Vec<u8> {
    tandem_testkit::msgpack::v04(TRACES, SPANS, 0)
}

fn main() {
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let (config, _) = Config::load(&Source::default());
    let processor = Processor::new(
        &config,
        &FunctionContext::new(&config, Some("bench"), Some("1")),
    );
    let body = v04();
    let total = (TRACES * SPANS) as f64;
    let mut rates = Vec::new();
    let (mut allocs, mut bytes) = (0, 0);
    for _ in 0..7 {
        let (a0, b0) = (
            ALLOCS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        );
        let start = Instant::now();
        let traces = msgpack::decode_v04(&body).expect("decode");
        let mut kept = 0;
        for t in traces {
            kept += processor
                .process(t, 1_800_000_000_000_000_000)
                .map(|c| c.spans.len())
                .unwrap_or(0);
        }
        rates.push(total / start.elapsed().as_secs_f64());
        allocs = ALLOCS.load(Ordering::Relaxed) - a0;
        bytes = BYTES.load(Ordering::Relaxed) - b0;
        assert_eq!(kept, TRACES * SPANS);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "v0.4 decode + process, one core: median {:.2} M spans/s (min {:.2}, max {:.2}); {:.1} allocations and {:.0} bytes allocated per span ({} bytes of msgpack per span)",
        rates[3] / 1e6,
        rates[0] / 1e6,
        rates[6] / 1e6,
        allocs as f64 / total,
        bytes as f64 / total,
        body.len() / (TRACES * SPANS)
    );
}
