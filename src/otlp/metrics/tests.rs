use super::*;
use opentelemetry_proto::tonic::metrics::v1::{
    Histogram, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};

fn request(metric: Metric) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![metric],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn cumulative_sum(start: u64, value: i64) -> ExportMetricsServiceRequest {
    request(Metric {
        name: "c".into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                start_time_unix_nano: start,
                time_unix_nano: start + 10,
                value: Some(number_data_point::Value::AsInt(value)),
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    })
}

fn values(points: &[Point]) -> Vec<f64> {
    points
        .iter()
        .flat_map(|p| p.values.iter().map(|v| v.0))
        .collect()
}

#[test]
fn cumulative_sums_become_counts_of_their_increase_and_survive_a_reset() {
    let cfg = OtlpConfig::default();
    let mut t = Translator::new(1_000);
    // Started before the extension: the first point only sets the baseline.
    assert!(t.map(&cumulative_sum(500, 40), &cfg).is_empty());
    assert_eq!(values(&t.map(&cumulative_sum(500, 45), &cfg)), [5.0]);
    assert_eq!(values(&t.map(&cumulative_sum(500, 45), &cfg)), [0.0]);
    // The process restarted after the extension: everything since its start is news.
    let after = t.map(&cumulative_sum(2_000, 3), &cfg);
    assert_eq!(values(&after), [3.0]);
    assert_eq!(after[0].kind, Kind::Count);
    // A new stream that started after the extension counts from zero.
    let mut fresh = Translator::new(1_000);
    assert_eq!(values(&fresh.map(&cumulative_sum(1_500, 7), &cfg)), [7.0]);
}

#[test]
fn cumulative_histograms_become_distributions_of_the_interval() {
    let cfg = OtlpConfig::default();
    let hist = |counts: Vec<u64>| {
        request(Metric {
            name: "h".into(),
            data: Some(Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    start_time_unix_nano: 5_000,
                    time_unix_nano: 6_000,
                    count: counts.iter().sum(),
                    bucket_counts: counts,
                    explicit_bounds: vec![10.0, 100.0],
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        })
    };
    let mut t = Translator::new(1_000);
    let first = t.map(&hist(vec![1, 2, 0]), &cfg);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].kind, Kind::Distribution);
    assert_eq!(first[0].values, [(10.0, 1.0), (55.0, 2.0)]);
    let second = t.map(&hist(vec![1, 5, 1]), &cfg);
    assert_eq!(
        second[0].values,
        [(55.0, 3.0), (100.0, 1.0)],
        "only the new values"
    );
    let counters = OtlpConfig {
        histogram_mode: HistogramMode::Counters,
        histogram_aggregations: true,
        ..OtlpConfig::default()
    };
    let mut t = Translator::new(1_000);
    let out = t.map(&hist(vec![1, 2, 0]), &counters);
    let buckets: Vec<&Point> = out.iter().filter(|p| p.name == "h.bucket").collect();
    assert_eq!(buckets.len(), 3);
    assert!(buckets[0].tags.contains(&"lower_bound:-inf".to_string()));
    assert!(buckets[2].tags.contains(&"upper_bound:inf".to_string()));
    assert!(
        out.iter()
            .any(|p| p.name == "h.count" && p.values == [(3.0, 1.0)])
    );
}

#[test]
fn exponential_buckets_land_within_their_bounds() {
    let p = ExponentialHistogramDataPoint {
        scale: 0,
        zero_count: 1,
        positive: Some(
            opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets {
                offset: 3,
                bucket_counts: vec![2, 0, 1],
            },
        ),
        ..Default::default()
    };
    let v = exponential_values(&p, &exponential_counts(&p));
    assert_eq!(v.len(), 3);
    assert_eq!(v[0], (0.0, 1.0));
    // Bucket 3 at scale 0 is (8, 16]; bucket 5 is (32, 64].
    assert!(v[1].0 > 8.0 && v[1].0 < 16.0 && v[1].1 == 2.0, "{v:?}");
    assert!(v[2].0 > 32.0 && v[2].0 < 64.0, "{v:?}");
}

#[test]
fn a_forged_histogram_is_refused_not_remembered() {
    let huge = request(Metric {
        name: "h".into(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                bucket_counts: vec![1; MAX_BUCKETS + 1],
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    });
    let mut t = Translator::new(0);
    let (points, refused) = t.map_counted(&huge, &OtlpConfig::default());
    assert!(points.is_empty());
    assert_eq!(refused, 1);
    assert!(t.streams.is_empty());
}

#[test]
fn remembered_buckets_stay_within_their_bound() {
    let cfg = OtlpConfig::default();
    let mut t = Translator::new(0);
    for n in 0..400u64 {
        let wide = request(Metric {
            name: format!("h{n}"),
            data: Some(Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    start_time_unix_nano: 1,
                    time_unix_nano: 2,
                    count: 1,
                    bucket_counts: vec![0; MAX_BUCKETS],
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        });
        let _ = t.map(&wide, &cfg);
        let held: usize = t.streams.values().map(|p| p.buckets.len()).sum();
        assert!(held <= MAX_REMEMBERED_BUCKETS, "{held} after {n}");
    }
}
