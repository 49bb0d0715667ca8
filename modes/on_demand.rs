//! On-demand controller: registers INVOKE+SHUTDOWN, and for each invocation asks the flush
//! planner what to do — flush at start (blocking or in the background), or after the
//! invocation's `platform.runtimeDone` (i.e. once the response went back) — then calls `/next`.
//! Never waits for a runtimeDone that cannot come (no telemetry, `DD_LOCAL_TEST`).

use super::flush_planner::{AtStart, FlushPlanner, SAFETY_INTERVAL};
use super::tune::traffic::Traffic;
use std::time::{Duration, Instant};
use tandem::core::Agent;
use tandem::lambda::client::{ExtensionsClient, LambdaApiError};
use tandem::lambda::events::NextEvent;
use tandem::time::deadline_or;

/// Kept back from an invocation's deadline so our flush never makes it time out.
const DEADLINE_MARGIN: Duration = Duration::from_millis(50);

pub async fn run(
    agent: Agent,
    client: ExtensionsClient,
    telemetry_active: bool,
) -> Result<(), LambdaApiError> {
    let config = agent.config().clone();
    let mut planner =
        FlushPlanner::new(config.flush_strategy, config.flush_timeout, Instant::now());
    let await_runtime_done = telemetry_active && !config.local_test;
    // What this environment's traffic was, for the advice at SHUTDOWN — kept only when that
    // line will be shown (debug level, or TANDEM_FLUSH_ADVICE).
    let mut traffic = (config.flush_advice
        || tandem::diag::enabled(tandem::level::LogLevel::Debug))
    .then(|| Traffic::new(Instant::now()));
    while let Some(event) = super::next_event(&client).await {
        match event {
            NextEvent::Invoke(invoke) => {
                let invocation_deadline = deadline_or(invoke.deadline_ms, config.flush_timeout);
                let request_id = invoke.request_id.clone();
                agent.on_invoke(invoke);
                let flush_deadline = |now: Instant| {
                    (now + config.flush_timeout).min(
                        invocation_deadline
                            .checked_sub(DEADLINE_MARGIN)
                            .unwrap_or(now),
                    )
                };

                let now = Instant::now();
                if let Some(t) = traffic.as_mut() {
                    t.started(now);
                }
                match planner.on_invocation_start(now) {
                    AtStart::Nothing => {}
                    AtStart::FlushBlocking => {
                        agent.flush(flush_deadline(now)).await;
                        planner.record_flush(Instant::now());
                    }
                    AtStart::FlushInBackground => {
                        if agent
                            .flush_in_background(now + config.flush_timeout)
                            .is_some()
                        {
                            planner.record_flush(now);
                        }
                    }
                }

                if planner.may_flush_at_end() {
                    if await_runtime_done {
                        // Like the flushes, the wait ends before the deadline: `/next` must go
                        // out before Lambda times the invocation out.
                        let until = invocation_deadline
                            .checked_sub(DEADLINE_MARGIN)
                            .unwrap_or_else(Instant::now);
                        wait_runtime_done(&agent, &request_id, until, config.flush_timeout).await;
                    }
                    let now = Instant::now();
                    if let Some(t) = traffic.as_mut().filter(|_| await_runtime_done) {
                        t.ended(now);
                    }
                    if planner.flush_at_end(now) {
                        agent.flush(flush_deadline(now)).await;
                        planner.record_flush(Instant::now());
                    }
                }
            }
            NextEvent::Shutdown {
                reason,
                deadline_ms,
            } => {
                tandem::log_debug!("SHUTDOWN ({reason})");
                if let Some(t) = &traffic {
                    advise(t, &config);
                }
                agent
                    .shutdown(deadline_or(deadline_ms, super::SHUTDOWN_FALLBACK))
                    .await;
                return Ok(());
            }
        }
    }
    // The Extensions API went away: ship what we can quickly and stop.
    agent
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await;
    Ok(())
}

/// Waits for the invocation's runtimeDone, flushing in the background every
/// `SAFETY_INTERVAL` of a long invocation, and never past the invocation's deadline.
async fn wait_runtime_done(
    agent: &Agent,
    request_id: &str,
    deadline: Instant,
    flush_timeout: Duration,
) {
    loop {
        let until = deadline.min(Instant::now() + SAFETY_INTERVAL);
        if agent
            .wait_for(until, |t| t.has_runtime_done(request_id))
            .await
        {
            return;
        }
        if Instant::now() >= deadline {
            tandem::log_debug!("no runtimeDone for {request_id} before its deadline");
            return;
        }
        agent.flush_in_background(Instant::now() + flush_timeout);
    }
}

/// At debug level (info with `TANDEM_FLUSH_ADVICE`): the traffic this environment saw and the
/// strategy `tandem-tune` would recommend for it (the model runs only when the line is shown).
/// Once, at SHUTDOWN: kept out of the controller's loop.
#[cold]
#[inline(never)]
fn advise(traffic: &Traffic, config: &tandem::config::Config) {
    use tandem::level::LogLevel;
    let level = if config.flush_advice {
        LogLevel::Info
    } else {
        LogLevel::Debug
    };
    if traffic.is_empty() || !tandem::diag::enabled(level) {
        return;
    }
    let memory = config.lambda.memory_size_mb.unwrap_or(1024) as f64;
    let params = super::tune::model::Params {
        flush_timeout: config.flush_timeout,
        ..Default::default()
    };
    if let Some(line) = traffic.advice(memory, &params) {
        tandem::diag::write(level, format_args!("{line}"));
    }
}
