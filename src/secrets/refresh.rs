//! Keeps what the intake needs from AWS up to date, in the background, after init: the API
//! key (retried with backoff while it cannot be resolved, re-resolved on
//! `DD_API_KEY_SECRET_RELOAD_INTERVAL` and whenever the intake rejects it) and the
//! dual-shipping endpoints held in secrets. Must never run on the init path nor block a
//! flush beyond its deadline: flushes wait through the intake's pending flags only.

use super::indirect;
use super::resolve::{self, KeySource};
use crate::config::Config;
use crate::intake::Intake;
use std::sync::Arc;
use std::time::Duration;

/// How long after init resolution starts: the first `/next` goes out before the SDK (TLS
/// roots, clients) takes the CPU, which on a small function would delay the end of init.
const START_DELAY: Duration = Duration::from_millis(20);
/// Longest time flushes wait for a first resolution (a hanging AWS endpoint must not hold every
/// invocation to its deadline): past it, or after a failed attempt, flushes go on without the
/// key or settings and the data waits in its buffers, within their caps.
const PENDING_AT_MOST: Duration = Duration::from_secs(2);

/// Starts the resolvers this config needs (none for a plain `DD_API_KEY` and no endpoint
/// secrets).
pub(crate) fn start(config: Arc<Config>, intake: Arc<Intake>, function_name: String) {
    start_key(config.clone(), intake.clone(), function_name.clone());
    start_endpoints(config, intake, function_name);
}

fn start_key(config: Arc<Config>, intake: Arc<Intake>, function_name: String) {
    let source = KeySource::of(&config);
    match source {
        KeySource::Plain => return,
        KeySource::Missing => {
            crate::log_error!(
                "no API key is configured (DD_API_KEY, DD_API_KEY_SECRET_ARN or DD_KMS_API_KEY); nothing can be shipped"
            );
            return;
        }
        _ => {}
    }
    intake.set_key_pending(true);
    intake.set_key_rotates(true);
    stop_waiting_after(intake.clone(), PENDING_AT_MOST);
    tokio::spawn(async move {
        tokio::time::sleep(START_DELAY).await;
        let mut failures = 0u32;
        loop {
            let outcome = resolve::within(
                resolve::CALL_TIMEOUT * 3,
                resolve::api_key(&config, &source, &function_name),
            )
            .await;
            let wait = match outcome {
                Ok(Some(key)) => {
                    let known = intake.api_key().load_full().is_some_and(|k| *k == key);
                    if !known {
                        intake.set_api_key(key);
                        crate::log_info!("API key resolved from {}", source.describe());
                    }
                    failures = 0;
                    config.api_key_secret_reload_interval
                }
                Ok(None) => {
                    intake.set_key_pending(false);
                    return;
                }
                Err(e) => {
                    intake.set_key_pending(false);
                    failures += 1;
                    report_failure(
                        &format!("the API key from {}", source.describe()),
                        &e.to_string(),
                        failures,
                    );
                    Some(retry_wait(failures))
                }
            };
            match wait {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = intake.key_rejected() => {}
                    }
                }
                None => intake.key_rejected().await,
            }
        }
    });
}

/// Dual-shipping endpoint settings held in secrets: the first flushes wait for the first
/// attempt (so their data reaches every destination); failures are retried with backoff.
fn start_endpoints(config: Arc<Config>, intake: Arc<Intake>, function_name: String) {
    let mut refs = config.late_secret_refs();
    if refs.is_empty() {
        return;
    }
    intake.set_endpoints_pending(true);
    stop_waiting_after(intake.clone(), PENDING_AT_MOST);
    tokio::spawn(async move {
        tokio::time::sleep(START_DELAY).await;
        let mut live = (*config).clone();
        let mut failures = 0u32;
        loop {
            let resolved = indirect::resolve_all(&config.aws, refs.clone(), &function_name).await;
            if !resolved.values.is_empty() {
                let (updated, warnings) = live.with_endpoints(&resolved.values);
                for w in warnings {
                    crate::log_warn!("{w}");
                }
                intake.set_endpoints(&updated);
                live = updated;
                for (name, _) in &resolved.values {
                    crate::log_info!("{name} resolved from its secret");
                }
            }
            intake.set_endpoints_pending(false);
            if resolved.failures.is_empty() {
                return;
            }
            failures += 1;
            for (name, reference, why) in &resolved.failures {
                report_failure(&indirect::describe(name, reference), why, failures);
            }
            refs.retain(|(n, _)| resolved.failures.iter().any(|(f, _, _)| f == n));
            tokio::time::sleep(retry_wait(failures)).await;
        }
    });
}

/// Ends the flushes' wait for first resolutions `after` from now, whatever their state.
fn stop_waiting_after(intake: Arc<Intake>, after: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(START_DELAY + after).await;
        if intake.settle_pending() {
            crate::log_warn!(
                "resolution from AWS is still running after {after:?}; flushes no longer wait for it (data stays buffered until it succeeds)"
            );
        }
    });
}

/// The first failure is an error; repeats are debug lines (the error stands until fixed).
fn report_failure(what: &str, why: &str, failures: u32) {
    if failures == 1 {
        crate::log_error!(
            "cannot resolve {what}: {why}; data stays buffered and resolution is retried"
        );
    } else {
        crate::log_debug!("resolving {what}: attempt {failures} failed: {why}");
    }
}

/// 1 s, 2 s, 4 s … capped at 30 s.
fn retry_wait(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}
