use super::*;

const S: Duration = Duration::from_secs(1);

/// Runs `n` invocations `gap` apart; returns what each start decided and whether its end flushed.
fn drive(p: &mut FlushPlanner, t: &mut Instant, n: usize, gap: Duration) -> Vec<(AtStart, bool)> {
    (0..n)
        .map(|_| {
            *t += gap;
            let at_start = p.on_invocation_start(*t);
            if at_start != AtStart::Nothing {
                p.record_flush(*t);
            }
            let end = p.may_flush_at_end() && p.flush_at_end(*t);
            if end {
                p.record_flush(*t);
            }
            (at_start, end)
        })
        .collect()
}

#[test]
fn end_flushes_after_every_invocation() {
    let mut t = Instant::now();
    let mut p = FlushPlanner::new(FlushStrategy::End, 30 * S, t);
    assert!(
        drive(&mut p, &mut t, 50, Duration::from_millis(10))
            .iter()
            .all(|d| *d == (AtStart::Nothing, true))
    );
}

#[test]
fn end_with_interval_flushes_only_when_due() {
    let mut t = Instant::now();
    let mut p = FlushPlanner::new(FlushStrategy::EndPeriodically(10 * S), 30 * S, t);
    let d = drive(&mut p, &mut t, 25, S);
    let flushed: Vec<usize> = d
        .iter()
        .enumerate()
        .filter(|(_, d)| d.1)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(flushed, [0, 10, 20]);
}

#[test]
fn periodically_blocks_at_start_when_due() {
    let mut t = Instant::now();
    let mut p = FlushPlanner::new(FlushStrategy::Periodically(5 * S), 30 * S, t);
    let d = drive(&mut p, &mut t, 12, S);
    assert!(!p.may_flush_at_end());
    let at: Vec<usize> = d
        .iter()
        .enumerate()
        .filter(|(_, d)| d.0 == AtStart::FlushBlocking)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at, [4, 9]);
    assert!(d.iter().all(|d| !d.1 && d.0 != AtStart::FlushInBackground));
}

#[test]
fn continuously_flushes_in_background_when_due() {
    let mut t = Instant::now();
    let mut p = FlushPlanner::new(FlushStrategy::Continuously(2 * S), 30 * S, t);
    let d = drive(&mut p, &mut t, 6, S);
    let kinds: Vec<AtStart> = d.iter().map(|d| d.0).collect();
    use AtStart::*;
    assert_eq!(
        kinds,
        [
            Nothing,
            FlushInBackground,
            Nothing,
            FlushInBackground,
            Nothing,
            FlushInBackground
        ]
    );
}

#[test]
fn adaptive_19_sparse_invocations_flush_at_end_each_time() {
    let mut t = Instant::now();
    let mut p = FlushPlanner::new(FlushStrategy::Default, 30 * S, t);
    let d = drive(&mut p, &mut t, 19, 200 * S);
    assert!(d.iter().all(|d| *d == (AtStart::Nothing, true)));
}

#[test]
fn adaptive_19_frequent_invocations_still_flush_at_end() {
    let mut t = Instant::now();
    let mut p = FlushPlanner::new(FlushStrategy::Default, 30 * S, t);
    let d = drive(&mut p, &mut t, 19, Duration::from_millis(100));
    assert!(d.iter().all(|d| *d == (AtStart::Nothing, true)));
    assert_eq!(p.plan(), Plan::AtEnd { min_gap: None });
}

#[test]
fn adaptive_20_within_flush_timeout_switches_to_continuous() {
    let mut t = Instant::now();
    let mut p = FlushPlanner::new(FlushStrategy::Default, 30 * S, t);
    drive(&mut p, &mut t, 19, S);
    let twentieth = drive(&mut p, &mut t, 1, S);
    assert_eq!(
        p.plan(),
        Plan::Periodic {
            interval: ADAPTIVE_INTERVAL,
            blocking: false
        }
    );
    assert!(!twentieth[0].1, "no end flush once continuous");
    // Flushes come every 20 s, in the background.
    let d = drive(&mut p, &mut t, 40, S);
    let bg = d
        .iter()
        .filter(|d| d.0 == AtStart::FlushInBackground)
        .count();
    assert_eq!(bg, 2);
    assert!(d.iter().all(|d| d.0 != AtStart::FlushBlocking && !d.1));
}

#[test]
fn adaptive_frequent_but_slower_than_flush_timeout_is_periodic_blocking() {
    let mut t = Instant::now();
    let mut p = FlushPlanner::new(FlushStrategy::Default, 30 * S, t);
    drive(&mut p, &mut t, 20, 10 * S); // 190 s span, mean gap 10 s
    assert_eq!(
        p.plan(),
        Plan::Periodic {
            interval: ADAPTIVE_INTERVAL,
            blocking: true
        }
    );
    let d = drive(&mut p, &mut t, 4, 10 * S);
    assert!(d.iter().any(|d| d.0 == AtStart::FlushBlocking));
}

#[test]
fn adaptive_switch_points_on_mean_gap() {
    let mut t = Instant::now();
    let mut p = FlushPlanner::new(FlushStrategy::Default, 30 * S, t);
    drive(&mut p, &mut t, 20, 119 * S);
    assert!(
        matches!(p.plan(), Plan::Periodic { .. }),
        "mean gap 119 s is frequent"
    );
    drive(&mut p, &mut t, 20, 120 * S);
    assert_eq!(
        p.plan(),
        Plan::AtEnd { min_gap: None },
        "mean gap 120 s is back to end"
    );
}

#[test]
fn adaptive_goes_back_to_end_when_traffic_slows() {
    let mut t = Instant::now();
    let mut p = FlushPlanner::new(FlushStrategy::Default, 30 * S, t);
    drive(&mut p, &mut t, 20, S);
    assert!(matches!(
        p.plan(),
        Plan::Periodic {
            blocking: false,
            ..
        }
    ));
    // Slow traffic pushes the mean gap over 120 s within the window.
    let mut ends = 0;
    for d in drive(&mut p, &mut t, 20, 300 * S) {
        ends += usize::from(d.1);
    }
    assert!(ends > 0);
    assert_eq!(p.plan(), Plan::AtEnd { min_gap: None });
}
