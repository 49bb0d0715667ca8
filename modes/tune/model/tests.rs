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

/// RTT 10 ms, no transfer time to speak of, no time of the extension's own and no telemetry
/// buffering (each has its own test): the round trips alone.
fn params() -> Params {
    Params {
        rtt_ms: 10.0,
        bandwidth_mbps: 1e9,
        overhead_ms: 0.0,
        telemetry_ms: 0.0,
        ..Params::default()
    }
}

#[test]
fn end_flushes_after_every_invocation_on_a_warmed_or_live_connection() {
    // Gaps of 100 s (past the 50 s pool bound: the connection is gone, and the INVOKE warms a
    // new one while the 50 ms function runs), then one of 1 s (live), then a 5 ms function
    // after 99 s (the warmed connection is ready 20 ms after the INVOKE: the flush waits 15).
    let w = workload(&[
        (0.0, 50.0),
        (100_000.0, 50.0),
        (101_000.0, 50.0),
        (200_000.0, 5.0),
    ]);
    let o = run(&w, FlushStrategy::End, &params());
    assert_eq!(o.environments, 1, "never two at once");
    // Four at the ends, and the SHUTDOWN's: the last report arrives after the last flush.
    assert_eq!(o.flushes, 5);
    assert_eq!(
        o.requests,
        4 * 4 + 2,
        "logs, series, sketches, traces per flush; the report's REPORT line and sketches last"
    );
    let added: Vec<f64> = o.added_billed_ms.iter().map(|x| x.round()).collect();
    assert_eq!(
        added,
        [10.0, 10.0, 10.0, 25.0],
        "1 round trip once warmed; the rest of the warming when the function was shorter"
    );
    let delays: Vec<f64> = o.delay_ms.iter().map(|x| x.round()).collect();
    assert_eq!(delays, [10.0, 10.0, 10.0, 25.0]);
}

#[test]
fn a_flush_never_costs_more_than_a_cold_connection() {
    // A function that ends at once: the warming has not finished, the flush pays 3 round trips
    // (as if it had opened its own), not the warming's 2 and its own 1 on top of a wait.
    let o = run(&workload(&[(0.0, 0.0)]), FlushStrategy::End, &params());
    let added: Vec<f64> = o.added_billed_ms.iter().map(|x| x.round()).collect();
    assert_eq!(added, [30.0]);
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
    // Continuously every 10 s; the second invocation (10 ms long, 60 s later: the connection
    // is gone) starts a 30 ms cold flush of the first one's data beside the warming, which the
    // freeze cuts; the third invocation thaws it 5 s later.
    let w = workload(&[(0.0, 10.0), (60_000.0, 10.0), (65_000.0, 10.0)]);
    let o = run(
        &w,
        FlushStrategy::Continuously(Duration::from_secs(10)),
        &params(),
    );
    assert!(o.added_billed_ms.iter().all(|x| *x == 0.0));
    // First invocation's data: ended at 10 ms, delivered at 65,000 + 20 ms left.
    assert!(
        (o.delay_ms[0] - (65_020.0 - 10.0)).abs() < 1e-6,
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

#[test]
fn waiting_for_runtime_done_and_the_extension_s_own_work_are_billed() {
    let p = Params {
        telemetry_ms: 25.0,
        overhead_ms: 5.0,
        ..params()
    };
    let w = workload(&[(0.0, 50.0), (1_000.0, 50.0)]);
    let end = run(&w, FlushStrategy::End, &p);
    // The flush starts once runtimeDone arrives: 25 ms, then 1 round trip (the connection was
    // warmed while the function ran) + 5 ms.
    let added: Vec<f64> = end.added_billed_ms.iter().map(|x| x.round()).collect();
    assert_eq!(added, [25.0 + 10.0 + 5.0, 25.0 + 10.0 + 5.0]);
    // A periodic plan never waits for runtimeDone, so Lambda's buffering costs it nothing.
    let cont = run(&w, FlushStrategy::Continuously(Duration::from_secs(60)), &p);
    assert_eq!(cont.added_billed_ms, [0.0, 0.0]);
}

#[test]
fn a_flush_sends_a_request_per_signal_and_logs_split_at_a_thousand_entries() {
    // 100 invocations on one environment within a minute, 20 log lines each, no metrics or
    // spans: nothing flushes before the reap, which sends 100 × (20 + START/END) + 100 REPORT
    // lines = 2,300 entries (3 requests) and the enhanced metrics' sketches.
    let arrivals: Vec<(f64, f64)> = (0..100).map(|i| (f64::from(i) * 500.0, 10.0)).collect();
    let p = Params {
        per_invocation: [20.0, 0.0, 0.0],
        ..params()
    };
    let o = run(
        &workload(&arrivals),
        FlushStrategy::Continuously(Duration::from_secs(60)),
        &p,
    );
    assert_eq!((o.environments, o.flushes), (1, 1));
    assert_eq!(o.requests, 3 + 1);
}
