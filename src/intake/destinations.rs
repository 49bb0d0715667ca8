//! Where each signal goes: the primary intake of every signal, and the additional
//! (dual-shipping) destinations with their own keys, built from the endpoint settings.

use crate::config::Config;
use crate::secret::Secret;
use std::sync::Arc;

/// Which API key a request carries.
#[derive(Debug, Clone)]
pub(crate) enum Key {
    /// The live key (resolved, and rotated, behind `ArcSwap`).
    Primary,
    /// A dual-shipping destination's own key.
    Fixed(Arc<Secret>),
}

/// Where a signal goes: the primary intake, or an additional (dual-shipping) one.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    /// Base URL (`https://api.datadoghq.eu`), or the full URL for logs.
    pub base: String,
    pub key: Key,
    /// A label for logs and the per-destination retry cap; never the key.
    pub label: String,
    /// `false` for a logs endpoint marked `"is_reliable": false`: best effort, what it fails to
    /// take is dropped (and counted) instead of kept for the next flush.
    pub reliable: bool,
}

/// Every destination of every signal, built from the endpoint settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Destinations {
    pub metrics: Vec<Destination>,
    pub traces: Vec<Destination>,
    /// Additional logs destinations (the primary logs path requeues entries instead).
    pub logs: Vec<Destination>,
    /// Additional profiling destinations (full URLs).
    pub profiling: Vec<Destination>,
}

impl Destinations {
    pub(crate) fn new(config: &Config, metrics_base: &str, apm_base: &str) -> Self {
        let logs = if config.logs_use_http {
            config
                .logs_additional_endpoints
                .iter()
                .map(|e| {
                    let host = if e.host.contains("://") {
                        e.host.trim_end_matches('/').to_string()
                    } else {
                        format!("https://{}", e.host)
                    };
                    let base = match e.port {
                        Some(p) => format!("{host}:{p}/api/v2/logs"),
                        None => format!("{host}/api/v2/logs"),
                    };
                    Destination {
                        label: base.clone(),
                        base,
                        key: Key::Fixed(Arc::new(Secret::new(e.api_key.clone()))),
                        reliable: e.is_reliable.unwrap_or(true),
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let primary = |base: &str| Destination {
            base: base.to_string(),
            key: Key::Primary,
            label: base.to_string(),
            reliable: true,
        };
        let mut metrics = vec![primary(metrics_base)];
        metrics.extend(additional(&config.additional_endpoints));
        let mut traces = vec![primary(apm_base)];
        traces.extend(additional(&config.apm_additional_endpoints));
        Self {
            metrics,
            traces,
            logs,
            profiling: additional(&config.profiling_additional_endpoints),
        }
    }
}

/// One destination per URL × key of a dual-shipping map.
fn additional(map: &std::collections::BTreeMap<String, Vec<Secret>>) -> Vec<Destination> {
    let mut out = Vec::new();
    for (url, keys) in map {
        for (i, k) in keys.iter().enumerate() {
            out.push(Destination {
                base: url.clone(),
                key: Key::Fixed(Arc::new(k.clone())),
                label: format!("{url} (key #{})", i + 1),
                reliable: true,
            });
        }
    }
    out
}

pub(super) fn logs_url(config: &Config) -> String {
    match &config.logs_url {
        Some(u) if has_path(u) => u.clone(),
        Some(u) => format!("{u}/api/v2/logs"),
        None => format!("https://http-intake.logs.{}/api/v2/logs", config.site),
    }
}

fn has_path(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| !matches!(u.path(), "" | "/"))
}
