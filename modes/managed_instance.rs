//! Managed Instance controller: registers SHUTDOWN only and flushes in the background on a
//! ticker (default 30 s; `continuously,N` sets N), never two flushes at once and never in an
//! invocation's way — invocations are observed only through telemetry. Final flush at SHUTDOWN.

use std::time::{Duration, Instant};
use tandem::config::FlushStrategy;
use tandem::core::Agent;
use tandem::lambda::client::{ExtensionsClient, LambdaApiError};
use tandem::lambda::events::NextEvent;
use tandem::time::deadline_or;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// The background flush interval for a strategy, and a warning when the strategy cannot apply.
pub fn interval_for(strategy: FlushStrategy) -> (Duration, Option<String>) {
    match strategy {
        FlushStrategy::Continuously(every) => (every, None),
        FlushStrategy::Default => (DEFAULT_INTERVAL, None),
        other => (
            DEFAULT_INTERVAL,
            Some(format!(
                "DD_SERVERLESS_FLUSH_STRATEGY={other:?} does not apply in Managed Instance mode (only continuously,<ms>); flushing in the background every {}s",
                DEFAULT_INTERVAL.as_secs()
            )),
        ),
    }
}

pub async fn run(agent: Agent, client: ExtensionsClient) -> Result<(), LambdaApiError> {
    let config = agent.config().clone();
    let (every, warning) = interval_for(config.flush_strategy);
    if let Some(w) = warning {
        tandem::log_warn!("{w}");
    }
    let ticker_agent = agent.clone();
    // A slow flush only delays the next tick (never two at once), so it gets the whole
    // DD_FLUSH_TIMEOUT rather than the interval.
    let flush_timeout = config.flush_timeout;
    let ticker = tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Skipped when the previous flush is still running: never two at once.
            if ticker_agent
                .flush_in_background(Instant::now() + flush_timeout)
                .is_none()
            {
                tandem::log_debug!("background flush skipped: the previous one is still running");
            }
        }
    });
    let mut deadline = Instant::now() + Duration::from_secs(1);
    while let Some(event) = super::next_event(&client).await {
        match event {
            NextEvent::Shutdown {
                reason,
                deadline_ms,
            } => {
                tandem::log_debug!("SHUTDOWN ({reason})");
                deadline = deadline_or(deadline_ms, super::SHUTDOWN_FALLBACK);
                break;
            }
            NextEvent::Invoke(_) => {
                tandem::log_warn!("unexpected INVOKE event in Managed Instance mode; ignored")
            }
        }
    }
    ticker.abort();
    agent.shutdown(deadline).await;
    Ok(())
}
