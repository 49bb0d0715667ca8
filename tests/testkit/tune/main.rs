//! `tandem-tune`: which `DD_SERVERLESS_FLUSH_STRATEGY` suits a function's traffic, from
//! evidence. It plays a workload (a CloudWatch export of REPORT lines, a CSV, or a built-in
//! profile) through a model of Lambda's environments, each running the extension's own flush
//! planner (`tandem_modes::flush_planner`, the code the extension runs), and reports per
//! strategy the billed time added, the data delay, the intake requests and the cost, then a
//! recommendation. `--validate` replays the first minutes through the real extension on the
//! test kit's simulator and compares. A binary of the test kit: nothing of it is in the Lambda
//! extension.

mod html;
mod validate;

use tandem_modes::tune::{model, report, workload};

use std::process::ExitCode;

const USAGE: &str =
    "usage: tandem-tune (--profile NAME[:k=v,...] | --csv FILE | --report-logs FILE) [options]

workload
  --profile NAME[:k=v,...]  sporadic (gap_min=10), cron (every_s=300), steady (rate=1),
                            bursty (rate=10,on_s=60,off_s=600), diurnal (rate=5); all take
                            duration_ms=100, hours=24, seed=1
  --csv FILE                timestamp_ms,duration_ms[,environment]
  --report-logs FILE        REPORT lines as `aws logs tail` prints them, or the JSON of
                            `aws logs filter-log-events` (one log stream = one environment)
model
  --rtt-ms MS               round trip to the intake (default: from --site and --region, else 20)
  --site SITE --region R    e.g. datadoghq.com us-east-1 (a rough table, see README)
  --bandwidth-mbps N        100
  --idle-shutdown S         seconds before Lambda reaps an idle environment (600)
  --keepalive-s S           idle seconds a pooled connection survives (50: the extension's
                            TANDEM_INTAKE_IDLE_MS; less if the intake or a NAT closes sooner)
  --overhead-ms MS          the extension's own time per flush (5, measured on loopback)
  --logs-per-invocation N   10      --metrics-per-invocation N  5     --spans-per-invocation N  10
  --memory-mb MB            1024    --arch x86_64|arm64 (x86_64)     --price-gb-s USD
  --flush-timeout S         30 (DD_FLUSH_TIMEOUT)
report
  --max-delay S             p99 data delay the recommendation must meet (60)
  --json                    the report as JSON (schema in the README)
  --html FILE               also write a self-contained HTML page with charts
validate
  --validate                replay the first minutes through the real extension (the `tandem`
                            binary beside this one, or TANDEM_BIN) on the embedded simulator,
                            with an intake --rtt-ms away; print model vs measured
  --validate-minutes M      3 (wall time per strategy)
  --validate-strategy S     repeatable; default: the recommendation, `end` and `default`";

struct Args {
    workload: workload::Workload,
    source: String,
    params: model::Params,
    pricing: report::Pricing,
    json: bool,
    html: Option<String>,
    /// `--validate`: minutes, and the strategies asked for.
    validate: Option<(f64, Vec<String>)>,
}

fn value<'a>(args: &'a [String], i: &mut usize, name: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i)
        .map(String::as_str)
        .ok_or_else(|| format!("{name} needs a value"))
}

fn number(args: &[String], i: &mut usize, name: &str) -> Result<f64, String> {
    let v = value(args, i, name)?;
    v.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("{name} {v:?}: expected a number ≥ 0"))
}

/// Rough round trips from an AWS region to a Datadog site (ms): same place 2, same continent
/// 30–70, across an ocean 80–230.
fn rtt_for(site: &str, region: &str) -> Option<f64> {
    let site_area = match site {
        "datadoghq.com" | "ddog-gov.com" => "us-east",
        "us3.datadoghq.com" => "us-west",
        "us5.datadoghq.com" => "us-central",
        "datadoghq.eu" => "eu",
        "ap1.datadoghq.com" => "ap-northeast",
        _ => return None,
    };
    let region_area = if region.starts_with("us-east") {
        "us-east"
    } else if region.starts_with("us-west") {
        "us-west"
    } else if region.starts_with("us-") || region.starts_with("ca-") {
        "us-central"
    } else if region.starts_with("eu-") {
        "eu"
    } else if region.starts_with("ap-northeast") {
        "ap-northeast"
    } else if region.starts_with("ap-") || region.starts_with("me-") {
        "ap-other"
    } else if region.starts_with("sa-") {
        "sa"
    } else {
        return None;
    };
    let ms = match (site_area, region_area) {
        (a, b) if a == b => 2.0,
        ("us-east", "us-central") | ("us-central", "us-east") => 30.0,
        ("us-central", "us-west") | ("us-west", "us-central") => 40.0,
        ("us-east", "us-west") | ("us-west", "us-east") => 65.0,
        ("us-east", "eu") | ("eu", "us-east") => 80.0,
        (_, "sa") => 120.0,
        ("eu", "us-central") | ("eu", "us-west") => 130.0,
        ("ap-northeast", "us-west") | ("us-west", "ap-northeast") => 110.0,
        ("ap-northeast", "ap-other") => 70.0,
        ("eu", "ap-northeast") | ("ap-northeast", "eu") | ("eu", "ap-other") => 230.0,
        _ => 160.0,
    };
    Some(ms)
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut params = model::Params::default();
    let mut counts = [10.0, 5.0, 10.0];
    let (mut memory_mb, mut arm64, mut price, mut max_delay) = (1024.0, false, None, 60.0);
    let (mut site, mut region, mut rtt) = (None, None, None);
    let (mut source, mut json, mut html) = (None, false, None);
    let (mut validate, mut minutes, mut validate_strategies) = (false, 3.0, Vec::new());
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--profile" | "--csv" | "--report-logs" => {
                if source.is_some() {
                    return Err("give one workload: --profile, --csv or --report-logs".into());
                }
                source = Some((a.to_string(), value(args, &mut i, a)?.to_string()));
            }
            "--rtt-ms" => rtt = Some(number(args, &mut i, a)?),
            "--site" => site = Some(value(args, &mut i, a)?.to_string()),
            "--region" => region = Some(value(args, &mut i, a)?.to_string()),
            "--bandwidth-mbps" => params.bandwidth_mbps = number(args, &mut i, a)?.max(0.001),
            "--idle-shutdown" => params.idle_shutdown_s = number(args, &mut i, a)?,
            "--keepalive-s" => params.keepalive_s = number(args, &mut i, a)?,
            "--overhead-ms" => params.overhead_ms = number(args, &mut i, a)?,
            "--logs-per-invocation" => counts[0] = number(args, &mut i, a)?,
            "--metrics-per-invocation" => counts[1] = number(args, &mut i, a)?,
            "--spans-per-invocation" => counts[2] = number(args, &mut i, a)?,
            "--memory-mb" => memory_mb = number(args, &mut i, a)?,
            "--arch" => {
                arm64 = match value(args, &mut i, a)? {
                    "arm64" | "aarch64" => true,
                    "x86_64" | "amd64" => false,
                    other => return Err(format!("--arch {other:?}: expected x86_64 or arm64")),
                }
            }
            "--price-gb-s" => price = Some(number(args, &mut i, a)?),
            "--flush-timeout" => {
                let s = number(args, &mut i, a)?;
                params.flush_timeout = std::time::Duration::try_from_secs_f64(s)
                    .map_err(|_| format!("{a} {s:e}: expected seconds a Duration can hold"))?
            }
            "--max-delay" => max_delay = number(args, &mut i, a)?,
            "--json" => json = true,
            "--html" => html = Some(value(args, &mut i, a)?.to_string()),
            "--validate" => validate = true,
            "--validate-minutes" => minutes = number(args, &mut i, a)?,
            "--validate-strategy" => validate_strategies.push(value(args, &mut i, a)?.to_string()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
        i += 1;
    }
    params.rtt_ms = match (rtt, &site, &region) {
        (Some(r), _, _) => r,
        (None, Some(s), Some(r)) => rtt_for(s, r).ok_or_else(|| {
            format!("no RTT known for site {s:?} from region {r:?}: give --rtt-ms")
        })?,
        _ => params.rtt_ms,
    };
    params.per_invocation = counts;
    let (kind, path) = source.ok_or("give a workload: --profile, --csv or --report-logs")?;
    let workload = match kind.as_str() {
        "--profile" => workload::from_profile(&path).map_err(|e| e.to_string())?,
        _ => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{kind} {path}: {e}"))?;
            if kind == "--csv" {
                workload::from_csv(&text)
            } else {
                workload::from_report_logs(&text)
            }
        }
    };
    Ok(Args {
        workload,
        source: format!("{kind} {path}"),
        params,
        pricing: report::Pricing {
            memory_mb,
            price_gb_s: price.unwrap_or(if arm64 {
                report::PRICE_ARM64
            } else {
                report::PRICE_X86
            }),
            max_delay_s: max_delay,
        },
        json,
        html,
        validate: validate.then_some((minutes, validate_strategies)),
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("tandem-tune: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let w = &a.workload;
    if w.malformed > 0 {
        eprintln!(
            "tandem-tune: {} malformed lines skipped, e.g.:",
            w.malformed
        );
        for (n, l) in &w.examples {
            eprintln!("  line {n}: {l}");
        }
    }
    if w.arrivals.is_empty() {
        eprintln!("tandem-tune: no invocation in {}", a.source);
        return ExitCode::from(1);
    }
    let mut timelines = Vec::new();
    let rows: Vec<report::Row> = report::candidates()
        .into_iter()
        .map(|(name, strategy)| {
            let o = model::run(w, strategy, &a.params);
            let row = report::row(&name, &o, w.arrivals.len(), &a.pricing);
            timelines.push((name, o.timeline));
            row
        })
        .collect();
    let rec = report::recommend(&rows, a.pricing.max_delay_s);
    if let Some(path) = &a.html {
        let events = timelines
            .iter()
            .find(|(n, _)| *n == rec.strategy)
            .map(|(_, t)| t.as_slice())
            .unwrap_or_default();
        let summary = format!(
            "{} invocations over {:.1} h ({}); RTT {} ms; idle shutdown {} s; {} MB at ${} per GB-s.",
            w.arrivals.len(),
            w.span_s() / 3600.0,
            a.source,
            a.params.rtt_ms,
            a.params.idle_shutdown_s,
            a.pricing.memory_mb,
            a.pricing.price_gb_s
        );
        let page = html::render(&summary, &rows, &rec, a.pricing.max_delay_s, events);
        if let Err(e) = std::fs::write(path, page) {
            eprintln!("tandem-tune: --html {path}: {e}");
            return ExitCode::from(1);
        }
    }
    let validation = match &a.validate {
        None => None,
        Some((minutes, asked)) => match validate_slice(&a, *minutes, asked, &rec.strategy) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("tandem-tune: --validate: {e}");
                return ExitCode::from(1);
            }
        },
    };
    if a.json {
        let mut doc = serde_json::json!({
            "schema": "tandem-tune/1",
            "workload": {
                "source": a.source,
                "invocations": w.arrivals.len(),
                "span_s": w.span_s(),
                "malformed_lines": w.malformed,
                "skipped_lines": w.skipped,
            },
            "model": {
                "rtt_ms": a.params.rtt_ms,
                "bandwidth_mbps": a.params.bandwidth_mbps,
                "idle_shutdown_s": a.params.idle_shutdown_s,
                "keepalive_s": a.params.keepalive_s,
                "bytes_per_invocation": a.params.bytes_per_invocation(),
                "overhead_ms": a.params.overhead_ms,
                "memory_mb": a.pricing.memory_mb,
                "price_gb_s": a.pricing.price_gb_s,
                "max_delay_s": a.pricing.max_delay_s,
            },
            "strategies": rows,
            "recommendation": rec,
        });
        if let Some((minutes, rows)) = &validation {
            doc["validation"] = serde_json::json!({
                "minutes": minutes,
                "tolerance": validate::TOLERANCE,
                "strategies": rows,
            });
        }
        println!("{doc:#}");
        return ExitCode::SUCCESS;
    }
    println!(
        "workload: {} invocations over {:.1} h ({}); RTT {} ms, idle shutdown {} s",
        w.arrivals.len(),
        w.span_s() / 3600.0,
        a.source,
        a.params.rtt_ms,
        a.params.idle_shutdown_s
    );
    print!("{}", report::table(&rows));
    println!(
        "recommended: DD_SERVERLESS_FLUSH_STRATEGY={} — {}.",
        rec.strategy, rec.why
    );
    if let Some(r) = &rec.runner_up {
        println!("runner-up: {r}");
    }
    if let Some((minutes, rows)) = &validation {
        let n = rows.first().map_or(0, |r| r.invocations);
        println!(
            "\nvalidation: the first {minutes} min ({n} invocations) replayed through the real extension, intake {} ms away",
            a.params.rtt_ms
        );
        print!("{}", validate::table(rows));
        let ok = rows.iter().all(|r| r.within_tolerance);
        println!(
            "model {} the measurement within {:.0}% on every strategy",
            if ok {
                "agrees with"
            } else {
                "does NOT agree with"
            },
            validate::TOLERANCE * 100.0
        );
    }
    ExitCode::SUCCESS
}

/// Runs `--validate` on the first `minutes` of the workload: the strategies asked for, else the
/// recommendation, `end` and `default`.
fn validate_slice(
    a: &Args,
    minutes: f64,
    asked: &[String],
    recommended: &str,
) -> Result<(f64, Vec<validate::Comparison>), String> {
    let mut strategies = asked.to_vec();
    if strategies.is_empty() {
        for s in [recommended, "end", "default"] {
            if !strategies.iter().any(|x| x == s) {
                strategies.push(s.to_string());
            }
        }
    }
    let w = validate::slice(&a.workload, minutes);
    if w.arrivals.is_empty() {
        return Err(format!("no invocation in the first {minutes} min"));
    }
    let volume = tandem_testkit::replay::Volume {
        logs: a.params.per_invocation[0] as usize,
        metrics: a.params.per_invocation[1] as usize,
        spans: a.params.per_invocation[2] as usize,
    };
    let runtime = tandem::runtime().map_err(|e| format!("the async runtime: {e}"))?;
    let rows = runtime.block_on(validate::run(&w, &strategies, &a.params, volume))?;
    Ok((minutes, rows))
}
