//! Warm connections before a flush needs them: at an invocation's start (on-demand), every
//! destination origin not used within 2/5 of the pool's idle bound gets one request without
//! data (`HEAD /`, no API key), so TCP and TLS are done while the function runs and the flush
//! after it pays one round trip. The pool never reuses a connection idle past that bound
//! (`TANDEM_INTAKE_IDLE_MS`, 50 s: client.rs), safely below NAT gateways' idle timeout (350 s)
//! and intakes' (about a minute). Should the network have dropped a pooled connection sooner,
//! the warming request is the one that finds out: it is sent again at once, on a new
//! connection, and counted as a stale connection. Runs in the background; nothing waits for it,
//! and its failures only cost the flush the connection it would have opened anyway.

use super::Intake;
use std::collections::HashMap;
use std::time::{Duration, Instant};

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
pub(crate) struct LastUsed {
    at: std::sync::Mutex<HashMap<String, Instant>>,
    /// An origin used more recently than this has a live connection: no warming. 2/5 of the
    /// pool's idle bound, so the connection outlives a function run of the remaining 3/5.
    warm_after: Duration,
}

impl LastUsed {
    pub(crate) fn new(idle: Duration) -> Self {
        LastUsed {
            at: std::sync::Mutex::default(),
            warm_after: idle * 2 / 5,
        }
    }

    pub(crate) fn touch(&self, url: &str) {
        let o = origin(url);
        let mut m = crate::sync::lock(&self.at);
        match m.get_mut(o) {
            Some(t) => *t = Instant::now(),
            None => {
                m.insert(o.to_string(), Instant::now());
            }
        }
    }

    /// Whether `origin` was used within `warm_after` of `now`.
    fn fresh(&self, origin: &str, now: Instant) -> bool {
        crate::sync::lock(&self.at)
            .get(origin)
            .is_some_and(|t| now.saturating_duration_since(*t) < self.warm_after)
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
            let (http, url) = (self.http.clone(), format!("{o}/"));
            tokio::spawn(async move {
                let head = || http.head(&url).timeout(WARM_TIMEOUT).send();
                let resp = match head().await {
                    Err(e) if !e.is_connect() && !e.is_timeout() => {
                        // Sent on a pooled connection the network had dropped: the pool let
                        // it go, so the second request opens the new one the flush will use.
                        super::count_stale_connection();
                        head().await
                    }
                    other => other,
                };
                if let Ok(resp) = resp {
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
        let l = LastUsed::new(Duration::from_secs(50));
        l.touch("https://a.example/api/v2/logs");
        let now = Instant::now();
        assert!(l.fresh("https://a.example", now));
        assert!(l.fresh("https://a.example", now + Duration::from_secs(19)));
        assert!(!l.fresh("https://a.example", now + Duration::from_secs(20)));
        assert!(!l.fresh("https://b.example", now));
    }
}
