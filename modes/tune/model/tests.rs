use super::*;
use crate::tune::workload::Arrival;

fn workload(arrivals: &[(f64, f64)]) -> Workload {
    Workload {
        arrivals: arrivals
            .iter()
            .map(|&(at_ms, duration_ms)| Arrival {
                at_ms,
                duration_ms,
                environment: None,
            })
            .collect(),
        ..Workload::default()
    }
}

/// RTT 10 ms, no transfer time to speak of.
fn params() -> Params {
    Params {
        rtt_ms: 10.0,
        bandwidth_mbps: 1e9,
        ..Params::default()
    }
}

#[test]
fn end_flushes_after_every_invocation_on_a_cold_or_warm_connection() {
    // Gaps of 100 s (past the 60 s keep-alive: every flush handshakes), then one of 1 s.
    let w = workload(&[(0.0, 50.0), (100_000.0, 50.0), (101_000.0, 50.0)]);
    let o = run(&w, FlushStrategy::End, &params());
    assert_eq!(o.environments, 1, "never two at once");
    assert_eq!(o.flushes, 3);
    assert_eq!(o.requests, 9, "three signals per flush");
    let added: Vec<f64> = o.added_billed_ms.iter().map(|x| x.round()).collect();
    assert_eq!(added, [30.0, 30.0, 10.0], "3 round trips cold, 1 warm");
    let delays: Vec<f64> = o.delay_ms.iter().map(|x| x.round()).collect();
    assert_eq!(delays, [30.0, 30.0, 10.0]);
}

#[test]
fn overlapping_invocations_need_more_environments() {
    let w = workload(&[(0.0, 1_000.0), (10.0, 1_000.0), (2_000.0, 10.0)]);
    let o = run(&w, FlushStrategy::End, &params());
    assert_eq!(o.environments, 2, "the third reuses a warm one");
}

#[test]
fn continuously_adds_nothing_but_idle_data_waits_for_the_shutdown() {
    // One invocation, then silence: its data leaves at the reap (idle 600 s) + a cold flush.
    let w = workload(&[(0.0, 100.0)]);
    let o = run(
        &w,
        FlushStrategy::Continuously(Duration::from_secs(60)),
        &params(),
    );
    assert_eq!(o.added_billed_ms, [0.0]);
    assert_eq!(o.delay_ms.len(), 1);
    assert!(
        (o.delay_ms[0] - (600_000.0 - 100.0 + 100.0 + 30.0)).abs() < 1e-6,
        "{:?}",
        o.delay_ms
    );
    assert_eq!(o.flushes, 1);
}

#[test]
fn a_background_flush_cut_by_the_freeze_ends_at_the_next_thaw() {
    // Continuously every 10 s; the second invocation (10 ms long) starts a 30 ms cold flush of
    // the first one's data, which the freeze cuts; the third invocation thaws it 5 s later.
    let w = workload(&[(0.0, 10.0), (15_000.0, 10.0), (20_000.0, 10.0)]);
    let o = run(
        &w,
        FlushStrategy::Continuously(Duration::from_secs(10)),
        &params(),
    );
    assert!(o.added_billed_ms.iter().all(|x| *x == 0.0));
    // First invocation's data: ended at 10 ms, delivered at 20,000 + 20 ms left.
    assert!(
        (o.delay_ms[0] - (20_020.0 - 10.0)).abs() < 1e-6,
        "{:?}",
        o.delay_ms
    );
}

#[test]
fn periodic_blocking_flushes_run_beside_the_function() {
    // periodically,10s: the second invocation (100 ms) starts a 30 ms flush: no billed time.
    // The third (5 ms) starts a warm 10 ms flush that outlasts it by 5 ms.
    let w = workload(&[(0.0, 100.0), (11_000.0, 100.0), (22_000.0, 5.0)]);
    let o = run(
        &w,
        FlushStrategy::Periodically(Duration::from_secs(10)),
        &params(),
    );
    let added: Vec<f64> = o.added_billed_ms.iter().map(|x| x.round()).collect();
    assert_eq!(added, [0.0, 0.0, 5.0]);
}

#[test]
fn percentiles_by_rank() {
    use crate::tune::report::percentile;
    assert_eq!(percentile(&[30.0, 30.0, 10.0], 0.99), 30.0);
    assert_eq!(percentile(&[30.0, 30.0, 10.0], 0.2), 10.0);
    assert_eq!(percentile(&[], 0.5), 0.0);
    assert_eq!(percentile(&[0.0, 0.0, 5.0], 0.5), 0.0);
    let v: Vec<f64> = (1..=1000).map(f64::from).collect();
    let p99 = percentile(&v, 0.99);
    assert!((p99 - 990.0).abs() <= 990.0 * 0.01, "{p99}");
}

/// Times from outside (a CSV) never panic the clock: they saturate.
#[test]
fn absurd_times_saturate() {
    let w = workload(&[(0.0, 1.0), (1e300, 1e300)]);
    let o = run(&w, FlushStrategy::Default, &params());
    assert_eq!(o.added_billed_ms.len(), 2);
}
