use super::*;
use crate::metrics::parse::{Kind, Parsed, parse_line};
use crate::metrics::proto::{MetricSeries, MetricType};

const NOW: i64 = 1_700_000_005;

fn feed(a: &mut Aggregator, lines: &[&str]) {
    for l in lines {
        let Ok(Parsed::Metric(m)) = parse_line(l) else {
            panic!("{l}")
        };
        let _ = a.insert(&m, m.name, NOW);
    }
}

fn find<'a>(f: &'a Collected, name: &str) -> Vec<&'a MetricSeries> {
    f.series.iter().filter(|s| s.metric == name).collect()
}

#[test]
fn counts_gauges_sets() {
    let mut a = Aggregator::new(100, usize::MAX, vec!["functionname:f".into()]);
    feed(
        &mut a,
        &[
            "c:1|c",
            "c:2:3|c|#b:2,a:1",
            "c:1|c|#a:1,b:2|@0.5",
            "g:1|g",
            "g:7|g",
            "s:x:y|s",
            "s:x|s",
        ],
    );
    let f = a.flush().collect();
    let c = find(&f, "c");
    assert_eq!(c.len(), 2, "tag order does not split contexts");
    let tagged = c
        .iter()
        .find(|s| s.tags.contains(&"a:1".to_string()))
        .unwrap();
    assert_eq!(tagged.points[0].value, 7.0, "2 + 3 + 1/0.5");
    assert_eq!(tagged.r#type, MetricType::Count as i32);
    assert_eq!(tagged.interval, 10);
    assert_eq!(tagged.points[0].timestamp, 1_700_000_000);
    assert_eq!(tagged.tags, ["a:1", "b:2", "functionname:f"]);
    assert_eq!(find(&f, "g")[0].points[0].value, 7.0);
    assert_eq!(find(&f, "g")[0].r#type, MetricType::Gauge as i32);
    assert_eq!(find(&f, "s")[0].points[0].value, 2.0);
}

#[test]
fn histogram_and_timer_aggregates() {
    let mut a = Aggregator::new(100, usize::MAX, vec![]);
    let lines: Vec<String> = (1..=100).map(|i| format!("h:{i}|h")).collect();
    feed(
        &mut a,
        &lines.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    feed(&mut a, &["t:10|ms|@0.5", "t:30|ms"]);
    let f = a.flush().collect();
    let v = |n: &str| find(&f, n)[0].points[0].value;
    assert_eq!(
        (v("h.max"), v("h.median"), v("h.avg"), v("h.95percentile")),
        (100.0, 50.0, 50.5, 95.0)
    );
    assert_eq!(v("h.count"), 10.0, "100 samples per 10 s, as a rate");
    assert_eq!(find(&f, "h.count")[0].r#type, MetricType::Rate as i32);
    assert_eq!(v("t.count"), 0.3, "10 weighs 2 at @0.5");
    assert_eq!(v("t.avg"), 50.0 / 3.0);
    assert_eq!(v("t.median"), 10.0);
}

#[test]
fn distributions_go_to_sketches() {
    let mut a = Aggregator::new(100, usize::MAX, vec![]);
    feed(&mut a, &["d:1|d", "d:2:3|d", "d:4|d|@0.5"]);
    let f = a.flush().collect();
    assert!(f.series.is_empty());
    let d = &f.sketches[0].dogsketches[0];
    assert_eq!((d.cnt, d.min, d.max, d.sum), (5, 1.0, 4.0, 14.0));
    assert_eq!(d.n.iter().sum::<u32>(), 5);
}

#[test]
fn timestamps_pick_buckets_and_future_is_clamped() {
    let mut a = Aggregator::new(100, usize::MAX, vec![]);
    feed(&mut a, &["c:1|c|T1699999990", "c:1|c|T1800000000", "c:1|c"]);
    let f = a.flush().collect();
    let mut ts: Vec<(i64, f64)> = find(&f, "c")
        .iter()
        .map(|s| (s.points[0].timestamp, s.points[0].value))
        .collect();
    ts.sort_by_key(|t| t.0);
    assert_eq!(ts, [(1_699_999_990, 1.0), (1_700_000_000, 2.0)]);
}

#[test]
fn context_cap_counts_overflow_and_idle_contexts_are_forgotten() {
    let mut a = Aggregator::new(3, usize::MAX, vec![]);
    feed(
        &mut a,
        &["a:1|c", "b:1|c", "c:1|c", "d:1|c", "a:1|c|#x", "a:5|c"],
    );
    assert_eq!(a.live_contexts(), 3);
    assert_eq!(a.overflow, 2);
    let f = a.flush().collect();
    assert_eq!(find(&f, "a")[0].points[0].value, 6.0);
    feed(&mut a, &["a:1|c"]);
    a.flush().collect();
    assert_eq!(
        a.live_contexts(),
        1,
        "b and c saw nothing since the last flush"
    );
}

#[test]
fn many_tags_and_duplicates() {
    let mut a = Aggregator::new(100, usize::MAX, vec![]);
    let tags: Vec<String> = (0..40).map(|i| format!("t{i}:v")).collect();
    let line = format!("m:1|c|#{},t0:v", tags.join(","));
    feed(&mut a, &[&line, &line]);
    let f = a.flush().collect();
    let m = find(&f, "m");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].points[0].value, 2.0);
    assert_eq!(m[0].tags.len(), 40, "duplicate tags collapse");
}

/// Issue 11, row 6: the sample rate scales a value past f64's range; nothing infinite ships.
#[test]
fn values_infinite_after_sample_rate_scaling_are_refused() {
    let mut a = Aggregator::new(100, usize::MAX, vec![]);
    for line in [
        "x:1|c|@1e-320",
        "x:1e308|c|@0.0001",
        "h:1e308|h|@0.0001",
        "d:1|d|@1e-320",
        "d:5|d|@1e-9",
    ] {
        let Ok(Parsed::Metric(m)) = parse_line(line) else {
            panic!("{line}")
        };
        assert_eq!(a.insert(&m, m.name, NOW), Err(Refused::Invalid), "{line}");
    }
    feed(&mut a, &["x:1e308|c", "x:1e308|c"]);
    let f = a.flush().collect();
    for s in &f.series {
        assert!(
            s.points.iter().all(|p| p.value.is_finite()),
            "{} shipped {:?}",
            s.metric,
            s.points
        );
    }
    assert!(f.sketches.is_empty());
}

/// Issue 11, row 17: set members and past timestamps are charged to the memory budget.
#[test]
fn set_members_and_past_buckets_stay_within_the_memory_budget() {
    let budget = 64 * 1024;
    let mut a = Aggregator::new(100, budget, vec![]);
    let mut refused = 0;
    for i in 0..100_000 {
        let members = format!("s:m{i}|s");
        let past = format!("p:1|c|T{}", NOW - 10 * i64::from(i));
        for line in [&members, &past] {
            let Ok(Parsed::Metric(m)) = parse_line(line) else {
                panic!("{line}")
            };
            if a.insert(&m, m.name, NOW) == Err(Refused::ValueCap) {
                refused += 1;
            }
        }
    }
    assert!(a.bytes() <= budget, "{} bytes held", a.bytes());
    assert!(refused > 190_000, "refused {refused}");
    let f = a.flush().collect();
    assert!(!find(&f, "s").is_empty() && !find(&f, "p").is_empty());
}

/// Issue 11, row 5: custom metrics fill their cap; the extension's own still get in.
#[test]
fn enhanced_metrics_keep_capacity_custom_metrics_cannot_take() {
    let mut a = Aggregator::new(100, usize::MAX, vec![]);
    for i in 0..1_000 {
        let line = format!("custom.{i}:1|c");
        feed(&mut a, &[&line]);
    }
    assert_eq!(a.overflow, 900);
    for i in 0..27 {
        let name = format!("aws.lambda.enhanced.m{i}");
        let mut tags = ["functionname:f"];
        assert_eq!(
            a.insert_value(&name, &mut tags, Kind::Distribution, 1.0, NOW),
            Ok(())
        );
    }
    let f = a.flush().collect();
    assert_eq!(f.sketches.len(), 27);
    assert_eq!(f.series.len(), 100);
}

/// `DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS`: the named tags leave custom metrics (their own and
/// the function's), lines that differed only by them aggregate together, and enhanced metrics
/// keep every tag.
#[test]
fn excluded_tag_names_leave_custom_metrics_only() {
    let mut a = Aggregator::new(
        100,
        usize::MAX,
        vec!["functionname:f".into(), "executedversion:3".into()],
    )
    .exclude_from_custom(vec![
        "user_id".into(),
        "executedversion".into(),
        "bare".into(),
    ]);
    feed(
        &mut a,
        &[
            "c:1|c|#user_id:1,team:a",
            "c:2|c|#user_id:2,team:a,bare",
            "aws.lambda.enhanced.invocations:1|c|#user_id:1",
        ],
    );
    let f = a.flush().collect();
    let c = find(&f, "c");
    assert_eq!(c.len(), 1, "one context once user_id is gone");
    assert_eq!(c[0].points[0].value, 3.0);
    assert_eq!(c[0].tags, ["team:a", "functionname:f"]);
    let e = find(&f, "aws.lambda.enhanced.invocations");
    assert_eq!(
        e[0].tags,
        ["user_id:1", "functionname:f", "executedversion:3"]
    );
}

#[test]
fn a_weight_no_sketch_can_hold_is_refused() {
    let mut agg = Aggregator::new(100, usize::MAX, vec![]);
    let heavy = [(1.0, 1e12)];
    assert!(matches!(
        agg.insert_weighted("d", &mut [], Kind::Distribution, &heavy, 10),
        Err(Refused::Invalid)
    ));
    assert!(
        agg.insert_weighted("d", &mut [], Kind::Distribution, &[(1.0, 5.0)], 10)
            .is_ok()
    );
    assert!(
        agg.insert_weighted("c", &mut [], Kind::Count, &heavy, 10)
            .is_ok()
    );
}
