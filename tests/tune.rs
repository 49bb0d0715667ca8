//! `tandem-tune` end to end: the built binary on built-in profiles and a CloudWatch-shaped
//! export, its recommendation and reasons, its `--json` schema, its HTML page, and
//! `--validate` (the model against the real extension on the simulator).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_json::Value;
use std::process::Command;

fn tune(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(tandem_testkit::process::release_tune())
        .env("TANDEM_BIN", tandem_testkit::process::release_extension())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let (ok, out, err) = tune(&a);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn recommended(v: &Value) -> String {
    v["recommendation"]["strategy"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn sporadic_traffic_flushes_at_the_end_and_says_why() {
    let (ok, out, err) = tune(&["--profile", "sporadic"]);
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("recommended: DD_SERVERLESS_FLUSH_STRATEGY="))
        .unwrap();
    // Idle environments freeze and are reaped: only a flush at the end delivers in time.
    assert!(
        line.contains("=default ") || line.contains("=end "),
        "{line}"
    );
    assert!(line.contains("within") && line.contains("p99"), "{line}");
    assert!(
        out.contains("continuously,30000"),
        "every candidate is in the table"
    );
}

#[test]
fn steady_traffic_gets_a_strategy_that_never_holds_the_invocation() {
    let v = json(&["--profile", "steady:rate=20,hours=2"]);
    let best = recommended(&v);
    assert!(best.starts_with("continuously,"), "{best}");
    let row = v["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["strategy"] == best.as_str())
        .unwrap();
    assert_eq!(row["added_billed_ms_mean"], 0.0);
    assert!(row["delay_s_p99"].as_f64().unwrap() <= 60.0);
    let end = v["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["strategy"] == "end")
        .unwrap();
    assert!(
        end["added_billed_ms_mean"].as_f64().unwrap() >= 20.0,
        "a round trip each"
    );
}

#[test]
fn the_json_report_follows_its_schema() {
    let v = json(&["--profile", "cron:every_s=60,hours=1", "--rtt-ms", "5"]);
    assert_eq!(v["schema"], "tandem-tune/1");
    assert_eq!(v["workload"]["invocations"], 60);
    assert_eq!(v["model"]["rtt_ms"], 5.0);
    let fields = [
        "strategy",
        "added_billed_ms_mean",
        "added_billed_ms_p99",
        "delay_s_p50",
        "delay_s_p99",
        "delay_s_max",
        "intake_requests_per_hour",
        "flushes",
        "environments",
        "peak_held_bytes",
        "cost_usd_per_million",
        "cost_usd_per_month",
    ];
    let rows = v["strategies"].as_array().unwrap();
    assert_eq!(rows.len(), 14);
    for r in rows {
        for f in fields {
            assert!(!r[f].is_null(), "{f} in {r}");
        }
    }
    assert!(v["recommendation"]["why"].as_str().unwrap().len() > 20);
}

#[test]
fn a_cloudwatch_export_is_read_and_its_bad_lines_reported() {
    let dir = std::env::temp_dir().join(format!("tandem-tune-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("reports.txt");
    let mut text = String::new();
    for n in 0..200u32 {
        let s = 5 * n;
        text.push_str(&format!(
            "2024-05-01T12:{:02}:{:02}.500000+00:00 2024/05/01/[$LATEST]env{} REPORT RequestId: {n}\tDuration: 120.00 ms\tBilled Duration: 121 ms\tMemory Size: 512 MB\tMax Memory Used: 90 MB\n",
            s / 60,
            s % 60,
            n % 3
        ));
    }
    text.push_str("2024-05-01T13:00:00.000000+00:00 stream REPORT RequestId: x Duration: soon\n");
    std::fs::write(&path, text).unwrap();
    let (ok, out, err) = tune(&["--report-logs", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.starts_with("workload: 200 invocations"), "{out}");
    assert!(
        err.contains("1 malformed lines skipped") && err.contains("line 201"),
        "{err}"
    );
    let (ok, _, err) = tune(&["--profile", "nope"]);
    assert!(!ok && err.contains("unknown profile"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_html_report_is_self_contained_and_renders_its_charts() {
    let dir = std::env::temp_dir().join(format!("tandem-tune-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let (ok, _, err) = tune(&[
        "--profile",
        "steady:rate=2,hours=1",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    for outside in ["http://", "https://", "<script", "<link", "src="] {
        assert!(
            !html.contains(outside),
            "the page fetches nothing: {outside}"
        );
    }
    let url = format!("file://{}", page.display());
    let dom = tandem_testkit::tools::chromium_headless(&url, &["--dump-dom"]);
    assert_eq!(dom.matches("<svg").count(), 2, "both charts render");
    assert!(
        dom.matches("<circle").count() >= 5,
        "a dot per strategy group"
    );
    assert!(dom.contains("Recommended:"));
    let shot = dir.join("report.png");
    tandem_testkit::tools::chromium_headless(
        &url,
        &[
            "--window-size=1100,1400",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn validate_agrees_with_the_real_extension_within_ten_percent() {
    // 30 s of Poisson traffic, about 60 invocations over two environments (enough for the
    // adaptive default to leave `end` after its first 20 per environment), 20 ms away.
    let v = json(&[
        "--profile",
        "steady:rate=2,hours=1",
        "--validate",
        "--validate-minutes",
        "0.5",
        "--validate-strategy",
        "end",
        "--validate-strategy",
        "default",
        "--validate-strategy",
        "continuously,10000",
    ]);
    let rows = v["validation"]["strategies"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        let invocations = r["invocations"].as_u64().unwrap();
        assert!(invocations >= 30, "{r}");
        let (model, measured) = (
            r["model_added_billed_ms"].as_f64().unwrap(),
            r["measured_added_billed_ms"].as_f64().unwrap(),
        );
        assert!(
            (model - measured).abs() <= 0.1 * measured.max(1.0),
            "added billed ms: model {model} vs measured {measured}: {r}"
        );
        let (model, measured) = (
            r["model_requests"].as_f64().unwrap(),
            r["measured_requests"].as_f64().unwrap(),
        );
        assert!(
            measured > 0.0 && (model - measured).abs() <= 0.1 * measured,
            "intake requests: model {model} vs measured {measured}: {r}"
        );
        assert_eq!(r["within_tolerance"], true, "{r}");
        // Every signal the function produced reached the intake.
        for path in [
            "/api/v2/logs",
            "/api/v2/series",
            "/api/beta/sketches",
            "/api/v0.2/traces",
        ] {
            assert!(
                r["measured_requests_by_path"][path].as_u64().unwrap_or(0) > 0,
                "{path}: {r}"
            );
        }
    }
    // `end` waits for runtimeDone and flushes every time; `continuously` never holds `/next`.
    let by = |s: &str| rows.iter().find(|r| r["strategy"] == s).unwrap();
    let end = by("end")["measured_added_billed_ms"].as_f64().unwrap();
    assert!(end >= 20.0, "a round trip at least: {end}");
    assert!(
        by("continuously,10000")["measured_added_billed_ms"]
            .as_f64()
            .unwrap()
            < end / 4.0
    );
}
