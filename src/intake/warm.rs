//! Warm connections before a flush needs them: at an invocation's start (on-demand), every
//! destination origin not used within `WARM_AFTER` gets one request without data (`HEAD /`,
//! no API key), so TCP and TLS are done while the function runs and the flush after it pays one
//! round trip. The pool never reuses a connection idle past `CONNECTION_IDLE` (client.rs),
//! safely below NAT gateways' idle timeout (350 s) and intakes' (about a minute), so a warmed or
//! reused connection is one the network has not dropped. Runs in the background; nothing waits
//! for it, and its failures only cost the flush the connection it would have opened anyway.

use super::Intake;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Idle time after which the pool drops a connection instead of reusing it.
pub(crate) const CONNECTION_IDLE: Duration = Duration::from_secs(50);
/// An origin used more recently than this has a live connection: no warming.
pub(crate) const WARM_AFTER: Duration = Duration::from_secs(20);
/// A warming request that takes longer than this is abandoned.
const WARM_TIMEOUT: Duration = Duration::from_secs(5);

/// `scheme://host[:port]` of a URL.
pub(crate) fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url.get(after_scheme..).and_then(|rest| rest.find('/')) {
        Some(slash) => url.get(..after_scheme + slash).unwrap_or(url),
        None => url,
    }
}

/// When each origin last carried a request.
#[derive(Default)]
pub(crate) struct LastUsed(std::sync::Mutex<HashMap<String, Instant>>);

impl LastUsed {
    pub(crate) fn touch(&self, url: &str) {
        let o = origin(url);
        let mut m = crate::sync::lock(&self.0);
        match m.get_mut(o) {
            Some(t) => *t = Instant::now(),
            None => {
                m.insert(o.to_string(), Instant::now());
            }
        }
    }

    /// Whether `origin` was used within `WARM_AFTER` of `now`.
    fn fresh(&self, origin: &str, now: Instant) -> bool {
        crate::sync::lock(&self.0)
            .get(origin)
            .is_some_and(|t| now.saturating_duration_since(*t) < WARM_AFTER)
    }
}

impl Intake {
    /// Every origin the intake ships to: the primary intakes and each additional destination.
    fn origins(&self) -> Vec<String> {
        let d = self.destinations();
        let mut all: Vec<String> = [&self.logs_url, &self.metrics_base, &self.apm_base]
            .into_iter()
            .cloned()
            .chain(
                [&d.metrics, &d.traces, &d.logs, &d.profiling]
                    .into_iter()
                    .flatten()
                    .map(|x| x.base.clone()),
            )
            .map(|u| origin(&u).to_string())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Opens a connection, in the background, to every origin without a fresh one; returns
    /// how many. Must be called within the runtime; never waits.
    pub(crate) fn warm(&self) -> usize {
        let now = Instant::now();
        let cold: Vec<String> = self
            .origins()
            .into_iter()
            .filter(|o| !self.last_used.fresh(o, now))
            .collect();
        for o in &cold {
            self.last_used.touch(o);
            let req = self.http.head(format!("{o}/")).timeout(WARM_TIMEOUT).send();
            tokio::spawn(async move {
                if let Ok(resp) = req.await {
                    // Read to the end so the connection goes back to the pool.
                    let _ = resp.bytes().await;
                }
            });
        }
        cold.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_of_urls() {
        assert_eq!(
            origin("https://api.datadoghq.com/api/v2/series"),
            "https://api.datadoghq.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/api/v2/logs"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            origin("https://trace.agent.datadoghq.com"),
            "https://trace.agent.datadoghq.com"
        );
    }

    #[test]
    fn a_recent_use_is_fresh_an_old_one_is_not() {
        let l = LastUsed::default();
        l.touch("https://a.example/api/v2/logs");
        let now = Instant::now();
        assert!(l.fresh("https://a.example", now));
        assert!(!l.fresh("https://a.example", now + WARM_AFTER));
        assert!(!l.fresh("https://b.example", now));
    }
}
