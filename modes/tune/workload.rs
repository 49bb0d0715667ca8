//! The workload `tandem tune` plays: invocation arrivals (milliseconds from the start) with
//! their durations and, when known, their execution environment. From a CloudWatch export of
//! REPORT lines (the text `aws logs tail` prints, or `aws logs filter-log-events` JSON), a CSV
//! (`timestamp_ms,duration_ms[,environment]`) or a built-in profile. Pure: parsing and
//! generation only; bad lines are counted, with the first few kept to show.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// Milliseconds from the workload's first arrival.
    pub at_ms: f64,
    pub duration_ms: f64,
    /// The log stream (one execution environment) when the source says.
    pub environment: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Workload {
    pub arrivals: Vec<Arrival>,
    /// Lines that were neither a REPORT nor ignorable, and the first few with their numbers.
    pub malformed: usize,
    pub examples: Vec<(usize, String)>,
    /// Lines that were not REPORT lines (other log lines in an export).
    pub skipped: usize,
}

const EXAMPLES: usize = 3;

impl Workload {
    fn bad(&mut self, line_no: usize, line: &str) {
        self.malformed += 1;
        if self.examples.len() < EXAMPLES {
            self.examples
                .push((line_no, line.chars().take(120).collect()));
        }
    }

    /// Sorted by arrival, times relative to the first.
    pub fn normalised(self) -> Workload {
        self.finish()
    }

    /// Sorts by arrival and makes times relative to the first.
    fn finish(mut self) -> Workload {
        super::sort_by(&mut self.arrivals, |a, b| a.at_ms < b.at_ms);
        if let Some(first) = self.arrivals.first().map(|a| a.at_ms) {
            for a in &mut self.arrivals {
                a.at_ms -= first;
            }
        }
        self
    }

    /// Seconds from the first arrival to the last.
    pub fn span_s(&self) -> f64 {
        self.arrivals.last().map_or(0.0, |a| a.at_ms / 1000.0)
    }
}

/// `Duration: 12.34 ms` → 12.34, from a REPORT line.
fn field_ms(line: &str, name: &str) -> Option<f64> {
    let start = line.find(name)? + name.len();
    let rest = line.get(start..)?.trim_start();
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    rest.get(..end)?.parse().ok()
}

/// `2024-05-01T12:00:00.123456+00:00` or `…Z` → epoch milliseconds.
pub fn parse_iso_ms(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if b.len() < 19 || b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut frac = 0.0;
    let mut rest = s.get(19..)?;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        frac = format!("0.{}", r.get(..digits)?).parse().unwrap_or(0.0);
        rest = r.get(digits..)?;
    }
    let offset_min = match rest.get(..1) {
        None | Some("Z") | Some("") => 0,
        Some(sign) => {
            let m = num_at(rest, 1..3)? * 60 + num_at(rest, 4..6)?;
            if sign == "-" { -m } else { m }
        }
    };
    // Days from civil (Howard Hinnant).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs as f64 * 1000.0 + frac * 1000.0)
}

fn num_at(s: &str, r: std::ops::Range<usize>) -> Option<i64> {
    s.get(r)?.parse().ok()
}

/// Environment numbers by log stream name, in order of first appearance.
#[derive(Default)]
struct Streams(HashMap<String, u32>);

impl Streams {
    fn id(&mut self, name: &str) -> u32 {
        let next = self.0.len() as u32;
        *self.0.entry(name.to_string()).or_insert(next)
    }
}

/// A CloudWatch export of REPORT lines: `aws logs tail` text or `filter-log-events` JSON.
pub fn from_report_logs(text: &str) -> Workload {
    let mut w = Workload::default();
    let mut streams = Streams::default();
    let mut add =
        |w: &mut Workload, report_ms: f64, stream: &str, msg: &str, n: usize, line: &str| {
            match field_ms(msg, "Duration:") {
                Some(d) => w.arrivals.push(Arrival {
                    at_ms: report_ms - d,
                    duration_ms: d,
                    environment: Some(streams.id(stream)),
                }),
                None => w.bad(n, line),
            }
        };
    if text.trim_start().starts_with('{') {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            w.bad(1, text.lines().next().unwrap_or(""));
            return w;
        };
        for (i, e) in v
            .get("events")
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let msg = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
            if !msg.starts_with("REPORT ") {
                w.skipped += 1;
                continue;
            }
            match (
                e.get("timestamp").and_then(|t| t.as_f64()),
                e.get("logStreamName").and_then(|s| s.as_str()),
            ) {
                (Some(t), Some(s)) => add(&mut w, t, s, msg, i + 1, msg),
                _ => w.bad(i + 1, msg),
            }
        }
        return w.finish();
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (time, stream, msg) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
        if !msg.starts_with("REPORT ") {
            if line.contains("REPORT RequestId") {
                w.bad(i + 1, line);
            } else {
                w.skipped += 1;
            }
            continue;
        }
        match (time.and_then(parse_iso_ms), stream) {
            (Some(t), Some(s)) => add(&mut w, t, s, msg, i + 1, line),
            _ => w.bad(i + 1, line),
        }
    }
    w.finish()
}

/// `timestamp_ms,duration_ms[,environment]`; a header line is skipped.
pub fn from_csv(text: &str) -> Workload {
    let mut w = Workload::default();
    let mut streams = Streams::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (i == 0 && line.starts_with(|c: char| c.is_ascii_alphabetic())) {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed = match f.as_slice() {
            [t, d] | [t, d, _] => t.parse::<f64>().ok().zip(d.parse::<f64>().ok()),
            _ => None,
        };
        match parsed {
            Some((t, d)) if t.is_finite() && d.is_finite() && d >= 0.0 => {
                w.arrivals.push(Arrival {
                    at_ms: t,
                    duration_ms: d,
                    environment: f.get(2).map(|e| streams.id(e)),
                })
            }
            _ => w.bad(i + 1, line),
        }
    }
    w.finish()
}

/// A small deterministic generator (xorshift64*), so a profile is the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    /// Uniform in (0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.unit().ln()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProfileError {
    #[error("unknown profile {0:?}: expected sporadic, cron, steady, bursty or diurnal")]
    Unknown(String),
    #[error("profile parameter {0:?}: expected key=number")]
    Parameter(String),
    #[error("profile parameter {0} = {1}: {2}")]
    Range(String, f64, &'static str),
}

/// `NAME[:k=v,…]`: `sporadic` (gap_min, mean minutes between invocations, 10), `cron` (every_s,
/// 300), `steady` (rate per second, 1), `bursty` (rate 10 during on_s 60, then off_s 600 idle),
/// `diurnal` (peak rate 5 at midday, near 0 at night); all take `duration_ms` (100), `hours`
/// (24) and `seed` (1).
pub fn from_profile(spec: &str) -> Result<Workload, ProfileError> {
    let (name, params) = spec.split_once(':').unwrap_or((spec, ""));
    let mut p: HashMap<&str, f64> = HashMap::new();
    for kv in params.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| ProfileError::Parameter(kv.into()))?;
        let v: f64 = v.parse().map_err(|_| ProfileError::Parameter(kv.into()))?;
        if !v.is_finite() || v < 0.0 {
            return Err(ProfileError::Range(
                k.into(),
                v,
                "must be a finite number ≥ 0",
            ));
        }
        p.insert(k.trim(), v);
    }
    let get = |k: &str, d: f64| p.get(k).copied().unwrap_or(d);
    let hours = get("hours", 24.0);
    let end_ms = hours * 3_600_000.0;
    let duration = get("duration_ms", 100.0);
    let mut rng = Rng::new(get("seed", 1.0) as u64);
    let positive = |k: &str, v: f64| {
        if v > 0.0 {
            Ok(v)
        } else {
            Err(ProfileError::Range(k.into(), v, "must be > 0"))
        }
    };
    let mut times = Vec::new();
    match name {
        "sporadic" => {
            let gap = positive("gap_min", get("gap_min", 10.0))? * 60_000.0;
            let mut t = rng.exp(gap);
            while t < end_ms {
                times.push(t);
                t += rng.exp(gap);
            }
        }
        "cron" => {
            let every = positive("every_s", get("every_s", 300.0))? * 1000.0;
            let mut t = 0.0;
            while t < end_ms {
                times.push(t);
                t += every;
            }
        }
        "steady" => {
            let mean = 1000.0 / positive("rate", get("rate", 1.0))?;
            let mut t = rng.exp(mean);
            while t < end_ms {
                times.push(t);
                t += rng.exp(mean);
            }
        }
        "bursty" => {
            let mean = 1000.0 / positive("rate", get("rate", 10.0))?;
            let on = positive("on_s", get("on_s", 60.0))? * 1000.0;
            let off = get("off_s", 600.0) * 1000.0;
            let mut start = 0.0;
            while start < end_ms {
                let mut t = start + rng.exp(mean);
                while t < (start + on).min(end_ms) {
                    times.push(t);
                    t += rng.exp(mean);
                }
                start += on + off;
            }
        }
        "diurnal" => {
            let peak = positive("rate", get("rate", 5.0))?;
            // Thinning: candidates at the peak rate, kept with the hour's share of it.
            let mean = 1000.0 / peak;
            let mut t = rng.exp(mean);
            while t < end_ms {
                let day = (t / 86_400_000.0).fract();
                let share = 0.05 + 0.95 * (std::f64::consts::PI * day).sin().powi(2);
                if rng.unit() < share {
                    times.push(t);
                }
                t += rng.exp(mean);
            }
        }
        other => return Err(ProfileError::Unknown(other.into())),
    }
    let arrivals = times
        .into_iter()
        .map(|at_ms| Arrival {
            at_ms,
            duration_ms: duration,
            environment: None,
        })
        .collect();
    Ok(Workload {
        arrivals,
        ..Workload::default()
    })
}

#[cfg(test)]
mod tests;
