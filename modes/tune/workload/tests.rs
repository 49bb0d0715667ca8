#![allow(clippy::indexing_slicing)] // test code: a panic is a failed test
use super::*;

const TAIL: &str = "\
2024-05-01T12:00:00.250000+00:00 2024/05/01/[$LATEST]aaa START RequestId: 1 Version: $LATEST
2024-05-01T12:00:00.250000+00:00 2024/05/01/[$LATEST]aaa REPORT RequestId: 1\tDuration: 250.00 ms\tBilled Duration: 251 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\tInit Duration: 300.10 ms
2024-05-01T12:00:10.100000+00:00 2024/05/01/[$LATEST]bbb REPORT RequestId: 2\tDuration: 100.00 ms\tBilled Duration: 100 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB
2024-05-01T12:00:20.000000+00:00 2024/05/01/[$LATEST]aaa REPORT RequestId: 3 Billed Duration: oops
garbage
";

#[test]
fn cloudwatch_text_gives_arrivals_per_stream() {
    let w = from_report_logs(TAIL);
    assert_eq!(w.arrivals.len(), 2);
    assert_eq!(w.arrivals[0].at_ms, 0.0, "arrival = report time − duration");
    assert_eq!(w.arrivals[0].duration_ms, 250.0);
    assert!((w.arrivals[1].at_ms - 10_000.0).abs() < 1e-6);
    assert_eq!(w.arrivals[0].environment, Some(0));
    assert_eq!(w.arrivals[1].environment, Some(1));
    assert_eq!(w.malformed, 1, "the REPORT without a duration");
    assert_eq!(w.examples[0].0, 4, "shown with its line number");
    assert_eq!(w.skipped, 2, "START and garbage");
}

#[test]
fn cloudwatch_json_gives_the_same() {
    let json = r#"{"events": [
        {"logStreamName": "s1", "timestamp": 1714564800250, "message": "REPORT RequestId: 1\tDuration: 250.00 ms\tBilled Duration: 251 ms"},
        {"logStreamName": "s1", "timestamp": 1714564800300, "message": "START RequestId: 2"},
        {"logStreamName": "s2", "timestamp": 1714564810100, "message": "REPORT RequestId: 2\tDuration: 100.00 ms"},
        {"logStreamName": "s2", "message": "REPORT RequestId: 3\tDuration: 1.00 ms"}
    ]}"#;
    let w = from_report_logs(json);
    assert_eq!(w.arrivals.len(), 2);
    assert!((w.arrivals[1].at_ms - 10_000.0).abs() < 1e-6);
    assert_eq!((w.malformed, w.skipped), (1, 1));
}

#[test]
fn iso_times_with_offsets_and_fractions() {
    assert_eq!(parse_iso_ms("1970-01-01T00:00:01Z"), Some(1000.0));
    assert_eq!(parse_iso_ms("1970-01-01T01:00:00.5+01:00"), Some(500.0));
    assert_eq!(
        parse_iso_ms("2024-05-01T12:00:00.250000+00:00"),
        Some(1_714_564_800_250.0)
    );
    assert_eq!(parse_iso_ms("yesterday"), None);
}

#[test]
fn csv_rows_and_bad_lines() {
    let w = from_csv("timestamp_ms,duration_ms,environment\n1000,50,a\n500,20,b\nx,1\n2000,30\n");
    assert_eq!(w.arrivals.len(), 3);
    assert_eq!(w.arrivals[0].at_ms, 0.0);
    // Environments are numbered in file order (a = 0, b = 1); arrivals are sorted by time.
    assert_eq!(w.arrivals[0].environment, Some(1));
    assert_eq!(w.malformed, 1);
    assert_eq!(w.examples, vec![(4, "x,1".to_string())]);
}

#[test]
fn profiles_are_deterministic_and_shaped() {
    let a = from_profile("steady:rate=20,hours=0.1").unwrap();
    let b = from_profile("steady:rate=20,hours=0.1").unwrap();
    assert_eq!(a, b);
    let per_s = a.arrivals.len() as f64 / 360.0;
    assert!((per_s - 20.0).abs() < 2.0, "{per_s}");
    let cron = from_profile("cron:every_s=60,hours=1").unwrap();
    assert_eq!(cron.arrivals.len(), 60);
    let sporadic = from_profile("sporadic:gap_min=10").unwrap();
    assert!(
        (100..200).contains(&sporadic.arrivals.len()),
        "{}",
        sporadic.arrivals.len()
    );
    let bursty = from_profile("bursty:rate=10,on_s=60,off_s=540,hours=1").unwrap();
    assert!(
        bursty
            .arrivals
            .iter()
            .all(|x| (x.at_ms / 1000.0) % 600.0 < 61.0)
    );
    assert!(from_profile("diurnal:hours=24").unwrap().arrivals.len() > 1000);
    assert!(matches!(
        from_profile("nope"),
        Err(ProfileError::Unknown(_))
    ));
    assert!(matches!(
        from_profile("steady:rate"),
        Err(ProfileError::Parameter(_))
    ));
    assert!(matches!(
        from_profile("steady:rate=0"),
        Err(ProfileError::Range(..))
    ));
}
