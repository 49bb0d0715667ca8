//! Span processing between the tracer and the intake: the Agent's normalisation, Lambda origin
//! and function tags, dropping spans that only call the extension / Runtime API / DogStatsD,
//! `DD_APM_REPLACE_TAGS` scrubbing and `DD_APM_FILTER_TAGS_*` trace filters. Pure: a chunk in,
//! a chunk (or nothing) out.

use super::proto::{Span, TraceChunk};
use crate::config::{Config, ReplaceTagRule};
use crate::tags::FunctionContext;
use regex_lite::Regex;

const MAX_NAME: usize = 100;
const MAX_SERVICE: usize = 100;
const MAX_TYPE: usize = 100;
const MAX_META_KEY: usize = 200;
const MAX_META_VALUE: usize = 25_000;
/// Before 2000-01-01 a start time is taken as garbage (the Agent's rule).
const YEAR_2000_NS: i64 = 946_684_800_000_000_000;

/// Why a trace was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// A span had a zero trace or span id.
    ZeroId,
    /// `DD_APM_FILTER_TAGS_REQUIRE` / `_REJECT` said no.
    Filtered,
    /// Every span only talked to the extension.
    Empty,
}

enum Filter {
    Tag { key: String, value: Option<String> },
    Regex { key: String, value: Regex },
}

impl Filter {
    fn parse(spec: &str, regex: bool) -> Option<Filter> {
        let (key, value) = match spec.split_once(':') {
            Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
            None => (spec.trim().to_string(), None),
        };
        if key.is_empty() {
            return None;
        }
        match (regex, value) {
            (true, Some(v)) => Regex::new(&v)
                .ok()
                .map(|value| Filter::Regex { key, value }),
            (_, value) => Some(Filter::Tag { key, value }),
        }
    }

    fn matches(&self, span: &Span) -> bool {
        match self {
            Filter::Tag { key, value } => span
                .meta
                .get(key)
                .is_some_and(|v| value.as_ref().is_none_or(|want| want == v)),
            Filter::Regex { key, value } => span.meta.get(key).is_some_and(|v| value.is_match(v)),
        }
    }
}

pub struct Processor {
    service: String,
    function_tags: Vec<(String, String)>,
    replace: Vec<(String, Regex, String)>,
    require: Vec<Filter>,
    reject: Vec<Filter>,
    /// `DD_APM_IGNORE_RESOURCES`, matched against the root span's resource.
    ignore_resources: Vec<Regex>,
    obfuscation: super::obfuscate::Options,
    /// `host:port` strings whose HTTP spans are the tracer talking to us or to Lambda.
    internal_hosts: Vec<String>,
}

/// Addresses a DNS span resolves against when it is the sandbox's own plumbing, not the
/// function's work: the non-routable and loopback addresses, and the X-Ray daemon's
/// (Datadog's extension drops these spans too).
const PLUMBING_DNS: [&str; 3] = ["0.0.0.0", "127.0.0.1", "169.254.79.129"];

impl Processor {
    pub fn new(config: &Config, function: &FunctionContext) -> Self {
        let replace = config
            .apm_replace_tags
            .iter()
            .filter_map(|ReplaceTagRule { name, pattern, repl }| match Regex::new(pattern) {
                Ok(re) => Some((name.clone(), re, repl.clone())),
                Err(e) => {
                    crate::log_warn!("DD_APM_REPLACE_TAGS rule for {name:?} has an invalid pattern ({e}); expected a regular expression; skipping it");
                    None
                }
            })
            .collect();
        let filters = |specs: &[String], regex: bool| {
            specs
                .iter()
                .filter_map(|s| Filter::parse(s, regex))
                .collect::<Vec<_>>()
        };
        let mut require = filters(&config.apm_filter_tags_require, false);
        require.extend(filters(&config.apm_filter_tags_regex_require, true));
        let mut reject = filters(&config.apm_filter_tags_reject, false);
        reject.extend(filters(&config.apm_filter_tags_regex_reject, true));
        let ignore_resources = config
            .apm_ignore_resources
            .iter()
            .filter_map(|pattern| match Regex::new(pattern) {
                Ok(re) => Some(re),
                Err(e) => {
                    crate::log_warn!("DD_APM_IGNORE_RESOURCES pattern {pattern:?} is invalid ({e}); expected a regular expression; skipping it");
                    None
                }
            })
            .collect();
        let mut internal_hosts: Vec<String> = [
            config.lifecycle_port,
            config.apm_receiver_port,
            config.dogstatsd_port,
        ]
        .iter()
        .flat_map(|p| [format!("127.0.0.1:{p}"), format!("localhost:{p}")])
        .collect();
        if let Some(api) = &config.lambda.runtime_api {
            internal_hosts.push(api.clone());
        }
        let function_tags = function
            .tags
            .iter()
            .filter_map(|t| t.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self {
            service: function.service.clone(),
            function_tags,
            replace,
            require,
            reject,
            ignore_resources,
            obfuscation: super::obfuscate::Options::new(config),
            internal_hosts,
        }
    }

    /// Processes one trace (all spans of a chunk share a trace id) whose stats nobody computed.
    pub fn process(&self, spans: Vec<Span>, now_ns: i64) -> Result<TraceChunk, Rejected> {
        self.process_with(spans, now_ns, true)
    }

    /// Processes one trace; `stamp_stats` when the backend must compute its stats (the tracer
    /// did not): each span then says so in `_dd.compute_stats`, as Datadog's extension does.
    pub fn process_with(
        &self,
        spans: Vec<Span>,
        now_ns: i64,
        stamp_stats: bool,
    ) -> Result<TraceChunk, Rejected> {
        if spans.iter().any(|s| s.trace_id == 0 || s.span_id == 0) {
            return Err(Rejected::ZeroId);
        }
        let mut spans: Vec<Span> = spans.into_iter().filter(|s| !self.is_internal(s)).collect();
        if spans.is_empty() {
            return Err(Rejected::Empty);
        }
        let root = root_index(&spans);
        if !self.require.iter().all(|f| f.matches(&spans[root]))
            || self.reject.iter().any(|f| f.matches(&spans[root]))
            || self
                .ignore_resources
                .iter()
                .any(|re| re.is_match(&spans[root].resource))
        {
            return Err(Rejected::Filtered);
        }
        let priority = spans[root]
            .metrics
            .get("_sampling_priority_v1")
            .map_or(1, |p| *p as i32);
        for span in &mut spans {
            // Lambda libraries sometimes name the service after the operation.
            if span.service == "aws.lambda" {
                span.service.clone_from(&self.service);
            }
            self.normalize(span, now_ns);
            // One growth of the tag table, not one per tag added below.
            span.meta.reserve(self.function_tags.len() + 3);
            for (k, v) in &self.function_tags {
                span.meta.entry(k.clone()).or_insert_with(|| v.clone());
            }
            span.meta.insert("_dd.origin".into(), "lambda".into());
            span.meta.insert("origin".into(), "lambda".into());
            if stamp_stats {
                span.meta.insert("_dd.compute_stats".into(), "1".into());
            }
            super::obfuscate::span(span, &self.obfuscation);
            self.scrub(span);
        }
        mark_top_level(&mut spans);
        Ok(TraceChunk {
            priority,
            origin: "lambda".into(),
            spans,
            ..Default::default()
        })
    }

    /// A span of the sandbox's plumbing: the tracer or library talking to us, to Lambda's
    /// Runtime API or to DogStatsD (by URL or TCP peer), or a DNS lookup of the sandbox's own.
    fn is_internal(&self, span: &Span) -> bool {
        let meta = |k: &str| span.meta.get(k).map(String::as_str);
        let url = meta("http.url").or_else(|| meta("url"));
        if url.is_some_and(|u| self.internal_hosts.iter().any(|h| u.contains(h.as_str()))) {
            return true;
        }
        if let (Some(host), Some(port)) = (meta("tcp.remote.host"), meta("tcp.remote.port")) {
            let peer = format!("{host}:{port}");
            if self.internal_hosts.contains(&peer) {
                return true;
            }
        }
        let plumbing = |v: &str| PLUMBING_DNS.iter().any(|p| v.starts_with(p));
        span.name == "dns.lookup"
            || meta("dns.address").is_some_and(plumbing)
            || span.resource == "0.0.0.0"
            || span.resource == "127.0.0.1"
    }

    fn normalize(&self, s: &mut Span, now_ns: i64) {
        if s.service.is_empty() {
            s.service = self.service.clone();
        }
        normalize_service(&mut s.service);
        if s.name.is_empty() {
            s.name = "unnamed_operation".into();
        }
        truncate(&mut s.name, MAX_NAME);
        if s.resource.is_empty() {
            s.resource = s.name.clone();
        }
        truncate(&mut s.r#type, MAX_TYPE);
        if s.duration < 0 {
            s.duration = 0;
        }
        if s.start < YEAR_2000_NS {
            s.start = now_ns.saturating_sub(s.duration);
        }
        if s.meta.keys().any(|k| k.len() > MAX_META_KEY)
            || s.meta.values().any(|v| v.len() > MAX_META_VALUE)
        {
            s.meta = std::mem::take(&mut s.meta)
                .into_iter()
                .map(|(mut k, mut v)| {
                    truncate(&mut k, MAX_META_KEY);
                    truncate(&mut v, MAX_META_VALUE);
                    (k, v)
                })
                .collect();
        }
    }

    /// `DD_APM_REPLACE_TAGS`: `*` scrubs every meta value and the resource; `resource.name`
    /// the resource; any other name that tag.
    fn scrub(&self, s: &mut Span) {
        for (name, re, repl) in &self.replace {
            match name.as_str() {
                "*" => {
                    for v in s.meta.values_mut() {
                        replace(v, re, repl);
                    }
                    replace(&mut s.resource, re, repl);
                }
                "resource.name" => replace(&mut s.resource, re, repl),
                tag => {
                    if let Some(v) = s.meta.get_mut(tag) {
                        replace(v, re, repl);
                    }
                }
            }
        }
    }
}

/// The Agent's service normalisation: lower case; letters, digits and `_ - : . /` kept, any
/// other run of characters becomes one `_`; leading non-letters and trailing `_` dropped; at
/// most 100 bytes. A name left empty becomes `unnamed-service`, as the Agent names it.
fn normalize_service(service: &mut String) {
    let ok = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '/');
    if service.len() <= MAX_SERVICE
        && service.starts_with(|c: char| c.is_alphabetic())
        && service.chars().all(|c| ok(c) && !c.is_uppercase())
        && !service.ends_with('_')
    {
        return;
    }
    let mut out = String::with_capacity(service.len());
    let mut underscore = false;
    for c in service.chars().flat_map(char::to_lowercase) {
        if out.is_empty() && !c.is_alphabetic() {
            continue;
        }
        if ok(c) {
            out.push(c);
            underscore = false;
        } else if !underscore {
            out.push('_');
            underscore = true;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    truncate(&mut out, MAX_SERVICE);
    *service = if out.is_empty() {
        "unnamed-service".to_string()
    } else {
        out
    };
}

fn replace(v: &mut String, re: &Regex, repl: &str) {
    if let std::borrow::Cow::Owned(new) = re.replace_all(v, repl) {
        *v = new;
    }
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// The Agent's top-level marker (`_top_level: 1`): a span whose parent is not in the trace or
/// belongs to another service — what trace metrics and stats are computed on.
fn mark_top_level(spans: &mut [Span]) {
    let top: Vec<bool> = {
        let services: std::collections::HashMap<u64, &str> = spans
            .iter()
            .map(|s| (s.span_id, s.service.as_str()))
            .collect();
        spans
            .iter()
            .map(|s| {
                s.parent_id == 0
                    || services
                        .get(&s.parent_id)
                        .is_none_or(|parent| *parent != s.service)
            })
            .collect()
    };
    for (s, top) in spans.iter_mut().zip(top) {
        if top {
            s.metrics.insert("_top_level".into(), 1.0);
        } else {
            s.metrics.remove("_top_level");
        }
    }
}

/// The root: the span whose parent is not in the trace (the last such, as the Agent picks).
pub fn root_index(spans: &[Span]) -> usize {
    let ids: std::collections::HashSet<u64> = spans.iter().map(|s| s.span_id).collect();
    spans
        .iter()
        .rposition(|s| s.parent_id == 0 || !ids.contains(&s.parent_id))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
