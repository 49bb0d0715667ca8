//! The figures `tandem tune` reports per strategy, and its recommendation: the cheapest
//! strategy (added billed time) whose p99 data delay meets the limit, the runner-up, and why.
//! Pure maths over model outcomes; the terminal and JSON renderings live here too.

use super::model::Outcome;
use serde::Serialize;
use std::time::Duration;
use tandem::config::FlushStrategy;

/// The strategies tried: Datadog's adaptive default, `end`, and the other three over a grid.
pub fn candidates() -> Vec<(String, FlushStrategy)> {
    let mut out = vec![
        ("default".to_string(), FlushStrategy::Default),
        ("end".to_string(), FlushStrategy::End),
    ];
    for s in [10u64, 30, 60, 120] {
        out.push((
            format!("end,{}", s * 1000),
            FlushStrategy::EndPeriodically(secs(s)),
        ));
    }
    for s in [10u64, 30, 60, 120] {
        out.push((
            format!("periodically,{}", s * 1000),
            FlushStrategy::Periodically(secs(s)),
        ));
    }
    for s in [10u64, 30, 60, 120] {
        out.push((
            format!("continuously,{}", s * 1000),
            FlushStrategy::Continuously(secs(s)),
        ));
    }
    out
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Pricing and limits of the report.
#[derive(Debug, Clone)]
pub struct Pricing {
    pub memory_mb: f64,
    /// USD per GB-second.
    pub price_gb_s: f64,
    pub max_delay_s: f64,
}

/// AWS's published Lambda GB-second prices (first tier, us-east-1).
pub const PRICE_X86: f64 = 0.000_016_666_7;
pub const PRICE_ARM64: f64 = 0.000_013_333_4;

/// One strategy's figures (the `--json` schema: field names are stable).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub strategy: String,
    pub added_billed_ms_mean: f64,
    pub added_billed_ms_p99: f64,
    pub delay_s_p50: f64,
    pub delay_s_p99: f64,
    pub delay_s_max: f64,
    pub intake_requests_per_hour: f64,
    pub flushes: u64,
    pub environments: u64,
    pub peak_held_bytes: f64,
    pub cost_usd_per_million: f64,
    pub cost_usd_per_month: f64,
}

/// Percentile `q` (0–1) of `v`, nearest rank, to 1% (log-spaced buckets: one pass, no sort,
/// little code); the value returned is the largest seen in the rank's bucket, so a set of a few
/// distinct values gets them exactly. 0 when empty.
pub fn percentile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    // Bucket 0: ≤ 1 µs (in ms); then 1% steps up to ~10^9 ms.
    const BUCKETS: usize = 2_800;
    let step = 1.01f64.ln();
    let bucket = |x: f64| -> usize {
        if x <= 1e-3 {
            0
        } else {
            (1.0 + ((x / 1e-3).ln() / step)).min((BUCKETS - 1) as f64) as usize
        }
    };
    let mut count = vec![0usize; BUCKETS];
    let mut max = vec![f64::MIN; BUCKETS];
    for &x in v {
        let b = bucket(x);
        if let (Some(c), Some(m)) = (count.get_mut(b), max.get_mut(b)) {
            *c += 1;
            *m = m.max(x);
        }
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    let mut seen = 0;
    for (c, m) in count.iter().zip(&max) {
        seen += c;
        if seen >= rank {
            return *m;
        }
    }
    max.iter().copied().fold(0.0, f64::max)
}

pub fn row(strategy: &str, o: &Outcome, invocations: usize, pricing: &Pricing) -> Row {
    let n = invocations.max(1) as f64;
    let mean = o.added_billed_ms.iter().sum::<f64>() / n;
    let hours = (o.span_s / 3600.0).max(1.0 / 3600.0);
    let gb = pricing.memory_mb / 1024.0;
    let per_million = mean / 1000.0 * gb * pricing.price_gb_s * 1e6;
    let per_second = n / o.span_s.max(1.0);
    Row {
        strategy: strategy.to_string(),
        added_billed_ms_mean: mean,
        added_billed_ms_p99: percentile(&o.added_billed_ms, 0.99),
        delay_s_p50: percentile(&o.delay_ms, 0.50) / 1000.0,
        delay_s_p99: percentile(&o.delay_ms, 0.99) / 1000.0,
        delay_s_max: o.delay_ms.iter().copied().fold(0.0, f64::max) / 1000.0,
        intake_requests_per_hour: o.requests as f64 / hours,
        flushes: o.flushes,
        environments: o.environments,
        peak_held_bytes: o.peak_frozen_bytes,
        cost_usd_per_million: per_million,
        cost_usd_per_month: per_million * per_second * 30.0 * 86_400.0 / 1e6,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    pub strategy: String,
    pub why: String,
    pub runner_up: Option<String>,
}

/// The cheapest row meeting the delay limit (ties: fewer intake requests); when none does,
/// the one with the smallest p99 delay.
pub fn recommend(rows: &[Row], max_delay_s: f64) -> Recommendation {
    let mut ok: Vec<&Row> = rows
        .iter()
        .filter(|r| r.delay_s_p99 <= max_delay_s)
        .collect();
    // Cheapest first (to the hundredth of a millisecond); on a tie, the strategy that never
    // holds the extension's `/next`, then fewer intake requests.
    let hundredths = |r: &Row| (r.added_billed_ms_mean * 100.0).round() as i64;
    super::sort_by(&mut ok, |a, b| {
        hundredths(a)
            .cmp(&hundredths(b))
            .then(kind_rank(&a.strategy).cmp(&kind_rank(&b.strategy)))
            .then(
                a.intake_requests_per_hour
                    .total_cmp(&b.intake_requests_per_hour),
            )
            .is_lt()
    });
    if let Some(best) = ok.first() {
        let why = format!(
            "it adds {:.1} ms of billed time per invocation (${:.4} per million) and its data reaches Datadog within {:.1} s at p99 (limit {max_delay_s:.0} s)",
            best.added_billed_ms_mean, best.cost_usd_per_million, best.delay_s_p99
        );
        return Recommendation {
            strategy: best.strategy.clone(),
            why,
            runner_up: ok.get(1).map(|r| r.strategy.clone()),
        };
    }
    let mut all: Vec<&Row> = rows.iter().collect();
    super::sort_by(&mut all, |a, b| {
        a.delay_s_p99.total_cmp(&b.delay_s_p99).is_lt()
    });
    match all.first() {
        Some(best) => Recommendation {
            strategy: best.strategy.clone(),
            why: format!(
                "no strategy delivers within {max_delay_s:.0} s at p99 for this traffic; this one comes closest ({:.1} s)",
                best.delay_s_p99
            ),
            runner_up: all.get(1).map(|r| r.strategy.clone()),
        },
        None => Recommendation {
            strategy: "default".into(),
            why: "no invocations to judge by".into(),
            runner_up: None,
        },
    }
}

/// Preference between equally cheap strategies: background flushes never hold `/next`;
/// Datadog's default needs no setting; `end` and `periodically` hold it.
fn kind_rank(strategy: &str) -> u8 {
    match strategy.split(',').next() {
        Some("continuously") => 0,
        Some("default") => 1,
        Some("end") => 2,
        _ => 3,
    }
}

/// The report's columns, shared by the terminal table and the HTML page.
pub const COLUMNS: [&str; 10] = [
    "strategy",
    "+billed ms",
    "+p99 ms",
    "delay p50",
    "delay p99",
    "delay max",
    "requests/h",
    "envs",
    "$/M invoc.",
    "$/month",
];

impl Row {
    /// The row's cells under [`COLUMNS`], formatted.
    pub fn cells(&self) -> [String; 10] {
        [
            self.strategy.clone(),
            format!("{:.2}", self.added_billed_ms_mean),
            format!("{:.2}", self.added_billed_ms_p99),
            format!("{:.1}s", self.delay_s_p50),
            format!("{:.1}s", self.delay_s_p99),
            format!("{:.1}s", self.delay_s_max),
            format!("{:.0}", self.intake_requests_per_hour),
            self.environments.to_string(),
            format!("{:.4}", self.cost_usd_per_million),
            format!("{:.2}", self.cost_usd_per_month),
        ]
    }
}

/// The terminal table.
pub fn table(rows: &[Row]) -> String {
    const WIDTHS: [usize; 10] = [18, 10, 10, 9, 9, 9, 10, 6, 11, 9];
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(WIDTHS).enumerate() {
            if i == 0 {
                l.push_str(&format!("{c:<w$}"));
            } else {
                l.push_str(&format!(" {c:>w$}"));
            }
        }
        l.push('\n');
        l
    };
    let mut t = line(&COLUMNS.map(String::from));
    for r in rows {
        t.push_str(&line(&r.cells()));
    }
    t
}
