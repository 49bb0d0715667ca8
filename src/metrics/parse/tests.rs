#![allow(clippy::indexing_slicing, clippy::string_slice)] // a test may index: a panic fails it

use super::*;

fn metric(line: &str) -> MetricLine<'_> {
    match parse_line(line) {
        Ok(Parsed::Metric(m)) => m,
        other => panic!("{line:?} → {other:?}"),
    }
}

#[test]
fn every_metric_type() {
    for (line, kind) in [
        ("a:1|c", Kind::Count),
        ("a:1.5|g", Kind::Gauge),
        ("a:-2|g", Kind::Gauge),
        ("a:12|ms", Kind::Timer),
        ("a:3|h", Kind::Histogram),
        ("a:user42|s", Kind::Set),
        ("a:0.25|d", Kind::Distribution),
    ] {
        let m = metric(line);
        assert_eq!(
            (m.name, m.kind, m.sample_rate, m.tags, m.timestamp),
            ("a", kind, 1.0, "", None),
            "{line}"
        );
    }
}

#[test]
fn every_optional_section() {
    let m = metric(
        "page.views:1:2:3.5|c|@0.5|#env:prod,team:x|T1700000000|c:abc123|card:low|e:it-false",
    );
    assert_eq!(m.numbers().collect::<Vec<_>>(), [1.0, 2.0, 3.5]);
    assert_eq!(m.sample_rate, 0.5);
    assert_eq!(m.tags().collect::<Vec<_>>(), ["env:prod", "team:x"]);
    assert_eq!(m.timestamp, Some(1_700_000_000));
    assert_eq!(m.container, Some("abc123"));
    let s = metric("users:a:b:a|s|#x");
    assert_eq!(s.raw_values().collect::<Vec<_>>(), ["a", "b", "a"]);
    let sci = metric("x:1e3|d");
    assert_eq!(sci.numbers().collect::<Vec<_>>(), [1000.0]);
}

#[test]
fn packets_split_into_lines() {
    let packet = "a:1|c\nb:2|g\r\n\n_sc|db|0\n";
    let parsed: Vec<_> = lines(packet).map(parse_line).collect();
    assert_eq!(parsed.len(), 3);
    assert!(parsed.iter().all(Result::is_ok));
}

#[test]
fn events() {
    let Ok(Parsed::Event(e)) = parse_line(
        "_e{5,12}:Hello|line1\\nline2|d:1700000000|h:host|k:agg|p:low|s:src|t:warning|#a:b,c",
    ) else {
        panic!()
    };
    assert_eq!(e.title, "Hello");
    assert_eq!(e.text, "line1\nline2");
    assert_eq!(e.timestamp, Some(1_700_000_000));
    assert_eq!(
        (
            e.hostname,
            e.aggregation_key,
            e.priority,
            e.source_type,
            e.alert_type
        ),
        (
            Some("host"),
            Some("agg"),
            Some("low"),
            Some("src"),
            Some("warning")
        )
    );
    assert_eq!(e.tags, "a:b,c");
    // Lengths are bytes, and the text may hold `|`.
    let Ok(Parsed::Event(e)) = parse_line("_e{5,3}:héé|a|b") else {
        panic!()
    };
    assert_eq!((e.title.as_str(), e.text.as_str()), ("héé", "a|b"));
}

#[test]
fn service_checks() {
    let Ok(Parsed::ServiceCheck(sc)) =
        parse_line("_sc|app.db|2|d:1700000000|h:h1|#env:prod|m:down\\nbad")
    else {
        panic!()
    };
    assert_eq!(
        (sc.name, sc.status, sc.timestamp, sc.hostname, sc.tags),
        ("app.db", 2, Some(1_700_000_000), Some("h1"), "env:prod")
    );
    assert_eq!(sc.message.as_deref(), Some("down\nbad"));
}

#[test]
fn malformed_lines_are_errors_never_panics() {
    let bad = [
        "",
        ":",
        "a",
        "a:",
        ":1|c",
        "a:1",
        "a:1|",
        "a:1|x",
        "a:1|cc",
        "a:abc|c",
        "a:1:|c",
        "a::1|c",
        "a:NaN|g",
        "a:inf|g",
        "a:1|c|@0",
        "a:1|c|@2",
        "a:1|c|@-1",
        "a:1|c|@x",
        "a:1|c|T",
        "a:1|c|T-5",
        "a:1|c|Tabc",
        "a b:1|c",
        "a|b:1|c",
        "a:|s",
        "a:x::y|s",
        "_e{",
        "_e{5,5}:Hello",
        "_e{x,1}:a|b",
        "_e{10,1}:short|b",
        "_e{1,10}:a|short",
        "_e{0,1}:|b",
        "_e{1,1}:a|bc",
        "_e{1,1}:a|b|d:nope",
        "_sc|",
        "_sc|name",
        "_sc|name|4",
        "_sc|name|x",
        "_sc||0",
        "_sc|name|0|d:-1",
        "_e{1,2}:é|ab",
    ];
    assert!(bad.len() >= 30);
    for line in bad {
        assert!(
            parse_line(line).is_err(),
            "{line:?} should be rejected: {:?}",
            parse_line(line)
        );
    }
}

#[test]
fn a_bad_line_does_not_spoil_the_packet() {
    let packet = "good:1|c\nbad:x|c\nalso.good:2|g|#t";
    let (ok, err): (Vec<_>, Vec<_>) = lines(packet).map(parse_line).partition(Result::is_ok);
    assert_eq!((ok.len(), err.len()), (2, 1));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic sweep over byte soup built from grammar characters.
    let alphabet = b"a:1|c@#,T_e{}sc.-\\n\n0.5gmshd ";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        let len = (x % 40) as usize;
        let mut s = String::new();
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.push(alphabet[(x % alphabet.len() as u64) as usize] as char);
        }
        for l in lines(&s) {
            let _ = parse_line(l);
        }
    }
}
