use super::*;
use crate::metrics::parse::{Parsed, parse_line};

const NOW: i64 = 1_700_000_005;

fn feed(a: &mut Aggregator, lines: &[&str]) {
    for l in lines {
        let Ok(Parsed::Metric(m)) = parse_line(l) else {
            panic!("{l}")
        };
        a.insert(&m, m.name, NOW);
    }
}

fn find<'a>(f: &'a Flushed, name: &str) -> Vec<&'a MetricSeries> {
    f.series.iter().filter(|s| s.metric == name).collect()
}

#[test]
fn counts_gauges_sets() {
    let mut a = Aggregator::new(100, vec!["functionname:f".into()]);
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
    let f = a.flush();
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
    let mut a = Aggregator::new(100, vec![]);
    let lines: Vec<String> = (1..=100).map(|i| format!("h:{i}|h")).collect();
    feed(
        &mut a,
        &lines.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    feed(&mut a, &["t:10|ms|@0.5", "t:30|ms"]);
    let f = a.flush();
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
    let mut a = Aggregator::new(100, vec![]);
    feed(&mut a, &["d:1|d", "d:2:3|d", "d:4|d|@0.5"]);
    let f = a.flush();
    assert!(f.series.is_empty());
    let d = &f.sketches[0].dogsketches[0];
    assert_eq!((d.cnt, d.min, d.max, d.sum), (5, 1.0, 4.0, 14.0));
    assert_eq!(d.n.iter().sum::<u32>(), 5);
}

#[test]
fn timestamps_pick_buckets_and_future_is_clamped() {
    let mut a = Aggregator::new(100, vec![]);
    feed(&mut a, &["c:1|c|T1699999990", "c:1|c|T1800000000", "c:1|c"]);
    let f = a.flush();
    let mut ts: Vec<(i64, f64)> = find(&f, "c")
        .iter()
        .map(|s| (s.points[0].timestamp, s.points[0].value))
        .collect();
    ts.sort_by_key(|t| t.0);
    assert_eq!(ts, [(1_699_999_990, 1.0), (1_700_000_000, 2.0)]);
}

#[test]
fn context_cap_counts_overflow_and_idle_contexts_are_forgotten() {
    let mut a = Aggregator::new(3, vec![]);
    feed(
        &mut a,
        &["a:1|c", "b:1|c", "c:1|c", "d:1|c", "a:1|c|#x", "a:5|c"],
    );
    assert_eq!(a.live_contexts(), 3);
    assert_eq!(a.overflow, 2);
    let f = a.flush();
    assert_eq!(find(&f, "a")[0].points[0].value, 6.0);
    feed(&mut a, &["a:1|c"]);
    a.flush();
    assert_eq!(
        a.live_contexts(),
        1,
        "b and c saw nothing since the last flush"
    );
}

#[test]
fn many_tags_and_duplicates() {
    let mut a = Aggregator::new(100, vec![]);
    let tags: Vec<String> = (0..40).map(|i| format!("t{i}:v")).collect();
    let line = format!("m:1|c|#{},t0:v", tags.join(","));
    feed(&mut a, &[&line, &line]);
    let f = a.flush();
    let m = find(&f, "m");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].points[0].value, 2.0);
    assert_eq!(m[0].tags.len(), 40, "duplicate tags collapse");
}
