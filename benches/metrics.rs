//! Metrics benchmarks (a bench binary; it measures and prints, it asserts nothing).
//! Run with `cargo bench --bench metrics`.
//!
//! 1. parse + aggregate throughput on one core for a realistic mix (10,000 contexts, 3–5 tags);
//! 2. UDP ingest: a separate sender process blasts datagrams at the real DogStatsD server on
//!    loopback at a paced rate; received/sent gives the loss;
//! 3. heap bytes per live context (counting allocator);
//! 4. cost of one `/proc` usage sample (start + end snapshot and points);
//! 5. memory of a flush of 100k contexts: the heap's peak while taking, emitting and encoding
//!    them, against the aggregator's steady state (and its own estimate of it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};
use tandem::config::Config;
use tandem::config::source::Source;
use tandem::metrics::aggregator::Aggregator;
use tandem::metrics::pipeline::MetricsPipeline;

struct Counting;
static HEAP: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
// SAFETY: forwards to the system allocator, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = HEAP.fetch_add(l.size() as isize, Ordering::Relaxed) + l.size() as isize;
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        HEAP.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

fn config() -> Config {
    Config::load(&Source::default()).0
}

/// Packets of ~20 lines over `contexts` contexts: counts, gauges, histograms, distributions,
/// 3–5 tags each.
fn workload(contexts: usize, lines: usize) -> Vec<String> {
    let kinds = ["c", "c", "g", "ms", "h", "d"];
    let mut packets = Vec::new();
    let mut cur = String::new();
    for i in 0..lines {
        let c = (i * 7919) % contexts;
        let kind = kinds[c % kinds.len()];
        let ntags = 3 + c % 3;
        let tags: Vec<String> = (0..ntags)
            .map(|t| format!("tag{t}:value{}", (c / (t + 1)) % 97))
            .collect();
        cur.push_str(&format!(
            "app.metric.{}:{}|{kind}|#{}",
            c % 500,
            i % 100,
            tags.join(",")
        ));
        if i % 20 == 19 {
            packets.push(std::mem::take(&mut cur));
        } else {
            cur.push('\n');
        }
    }
    if !cur.is_empty() {
        packets.push(cur);
    }
    packets
}

fn throughput() {
    let packets = workload(10_000, 2_000_000);
    let lines: usize = packets.iter().map(|p| p.lines().count()).sum();
    let mut rates = Vec::new();
    for _ in 0..5 {
        let pipeline = MetricsPipeline::new(&config(), vec!["functionname:f".into()]);
        let start = Instant::now();
        for p in &packets {
            pipeline.ingest_packet(p.as_bytes(), 1_700_000_000);
        }
        rates.push(lines as f64 / start.elapsed().as_secs_f64());
        assert_eq!(pipeline.live_contexts(), 10_000);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "parse+aggregate, one core, 10,000 contexts: median {:.2} M lines/s (min {:.2}, max {:.2}) over 5 runs of {lines} lines",
        rates[2] / 1e6,
        rates[0] / 1e6,
        rates[4] / 1e6
    );
}

fn sender(addr: &str, count: usize, rate: f64) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let payload = b"app.requests:1|c|#env:prod,service:api,route:/users";
    let start = Instant::now();
    for i in 0..count {
        if rate > 0.0 {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            while Instant::now() < due {
                std::hint::spin_loop();
            }
        }
        let _ = sock.send_to(payload, addr);
    }
}

fn udp_ingest(rate: f64) {
    let count = 600_000;
    let rt = tandem::runtime().expect("runtime");
    let pipeline = Arc::new(MetricsPipeline::new(&config(), vec![]));
    let server =
        tandem::dogstatsd::server::DogStatsD::start(0, pipeline.clone()).expect("DogStatsD");
    let addr = server.addrs[0].to_string();
    let exe = std::env::current_exe().expect("exe");
    let start = Instant::now();
    let status = std::process::Command::new(exe)
        .args(["--sender", &addr, &count.to_string(), &rate.to_string()])
        .status()
        .expect("sender");
    let sent_in = start.elapsed();
    // Let the reader finish what the kernel holds: wait until the count stops moving.
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = pipeline.counters.packets.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    rt.block_on(server.stop(Duration::from_millis(200)));
    let received = pipeline.counters.packets.load(Ordering::Relaxed);
    let loss = 100.0 * (count as f64 - received as f64) / count as f64;
    let label = if rate > 0.0 {
        format!("paced at {:.0}k/s", rate / 1e3)
    } else {
        "unpaced".to_string()
    };
    println!(
        "UDP ingest ({label}, sender process {status}): sent {count} in {:.2}s = {:.0}k datagrams/s, received {received}, loss {loss:.3}%",
        sent_in.as_secs_f64(),
        count as f64 / sent_in.as_secs_f64() / 1e3
    );
}

fn memory_per_context() {
    let n = 100_000;
    let packets = workload(n, n);
    let before = HEAP.load(Ordering::Relaxed);
    let mut agg = Aggregator::new(1_000_000, usize::MAX, vec![]);
    for p in &packets {
        for line in tandem::metrics::parse::lines(p) {
            if let Ok(tandem::metrics::parse::Parsed::Metric(m)) =
                tandem::metrics::parse::parse_line(line)
            {
                let _ = agg.insert(&m, m.name, 1_700_000_000);
            }
        }
    }
    let after = HEAP.load(Ordering::Relaxed);
    println!(
        "heap per live context (name + 3–5 tags, one value in the open bucket): {:.0} bytes ({} contexts)",
        (after - before) as f64 / agg.live_contexts() as f64,
        agg.live_contexts()
    );
}

fn flush_memory() {
    let n = 100_000;
    let packets = workload(n, n);
    let common: Vec<String> = (0..10).map(|i| format!("common{i}:value{i}")).collect();
    let pipeline = MetricsPipeline::new(&config(), common);
    let base = HEAP.load(Ordering::Relaxed);
    for p in &packets {
        pipeline.ingest_packet(p.as_bytes(), 1_700_000_000);
    }
    let steady = HEAP.load(Ordering::Relaxed) - base;
    PEAK.store(HEAP.load(Ordering::Relaxed), Ordering::Relaxed);
    let batch = pipeline.take();
    let after_take = PEAK.load(Ordering::Relaxed) - base;
    let payloads = tandem::metrics::encode::payloads(batch);
    let peak = PEAK.load(Ordering::Relaxed) - base;
    eprintln!(
        "DEBUG after take {:.1} MiB",
        after_take as f64 / 1_048_576.0
    );
    let bytes: usize = payloads.iter().map(|p| p.payload.body.len()).sum();
    let mib = |b: isize| b as f64 / 1_048_576.0;
    println!(
        "flush of {} contexts: aggregator steady {:.1} MiB, peak {:.1} MiB once taken, {:.1} MiB while encoding ({:.2}× steady); {} payloads, {:.1} MiB compressed",
        pipeline.live_contexts(),
        mib(steady),
        mib(after_take),
        mib(peak),
        peak as f64 / steady as f64,
        payloads.len(),
        mib(bytes as isize)
    );
}

fn usage_sampler_cost() {
    let runs = 200;
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..runs {
            f();
        }
        start.elapsed().as_secs_f64() * 1e6 / runs as f64
    };
    let snapshot = time(&|| {
        std::hint::black_box(tandem::metrics::usage::Snapshot::take());
    });
    let scan = time(&|| {
        std::hint::black_box(tandem::metrics::usage::resource_points(0, &[]));
    });
    println!(
        "usage sampler: {snapshot:.1} µs per snapshot (two per invocation, on its path); {scan:.1} µs per /proc resource scan (once per invocation, on a blocking thread); means of {runs}"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--sender") {
        let addr = &args[2];
        let count = args[3].parse().unwrap_or(0);
        let rate = args[4].parse().unwrap_or(0.0);
        sender(addr, count, rate);
        return;
    }
    if args.iter().any(|a| a == "--test") {
        return; // `cargo test --benches` compiles this; measuring is for `cargo bench`.
    }
    if std::env::var("ONLY_FLUSH").is_err() {
        throughput();
        udp_ingest(300_000.0);
        udp_ingest(0.0);
        memory_per_context();
        usage_sampler_cost();
    }
    flush_memory();
}
