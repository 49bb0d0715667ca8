//! Mode selection and the start-up both modes share: register with the Extensions API, start
//! the core, subscribe to the Telemetry API, then hand over to exactly one controller. The
//! controllers decide *when* to flush; they never touch payloads.

pub mod flush_planner;
pub mod managed_instance;
pub mod on_demand;
pub mod tune;

use std::sync::Arc;
use std::time::Duration;
use tandem::config::Config;
use tandem::core::Agent;
use tandem::lambda::client::{EventType, ExtensionsClient, LambdaApiError, Subscription};
use tandem::lambda::events::NextEvent;
use tandem::logs::Attribution;
use tandem::tags::FunctionContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    OnDemand,
    ManagedInstance,
}

impl Mode {
    /// `lambda-managed-instances` (exactly) selects Managed Instance mode; anything else,
    /// including no value, is on-demand.
    pub fn select(initialization_type: Option<&str>) -> Mode {
        match initialization_type {
            Some("lambda-managed-instances") => Mode::ManagedInstance,
            _ => Mode::OnDemand,
        }
    }

    /// Managed Instances refuse INVOKE registration (403 `Extension.InvalidEventType`).
    pub fn events(self) -> &'static [EventType] {
        match self {
            Mode::OnDemand => &[EventType::Invoke, EventType::Shutdown],
            Mode::ManagedInstance => &[EventType::Shutdown],
        }
    }

    /// Managed Instances accept only schema 2025-01-29.
    pub fn telemetry_schema(self) -> &'static str {
        match self {
            Mode::OnDemand => "2022-12-13",
            Mode::ManagedInstance => "2025-01-29",
        }
    }

    pub fn attribution(self) -> Attribution {
        match self {
            Mode::OnDemand => Attribution::StreamOrder,
            Mode::ManagedInstance => Attribution::RecordOnly,
        }
    }
}

/// Runs the extension to completion (SHUTDOWN). Only an unreachable Extensions API is an
/// error: every other failure degrades to an extension that keeps answering the platform.
pub async fn run(config: Arc<Config>) -> Result<(), LambdaApiError> {
    let mut mode = Mode::select(config.lambda.initialization_type.as_deref());
    let runtime_api = config
        .lambda
        .runtime_api
        .clone()
        .ok_or(LambdaApiError::NoRuntimeApi)?;
    let t0 = std::time::Instant::now();
    let (client, info) = match ExtensionsClient::register(&runtime_api, mode.events()).await {
        // Only Managed Instances refuse INVOKE: an environment that says so without the
        // initialization type (an emulator's Managed Instance mode) still gets a working
        // extension instead of a failed init.
        Err(e) if mode == Mode::OnDemand && refuses_invoke(&e) => {
            tandem::log_warn!(
                "INVOKE registration refused ({e}); running in Managed Instance mode although AWS_LAMBDA_INITIALIZATION_TYPE is not lambda-managed-instances"
            );
            mode = Mode::ManagedInstance;
            ExtensionsClient::register(&runtime_api, mode.events()).await?
        }
        other => other?,
    };
    let registered = t0.elapsed();
    let function = FunctionContext::new(
        &config,
        info.function_name.as_deref(),
        info.account_id.as_deref(),
    );
    tandem::log_debug!("registered as {mode:?} for {}", function.arn);

    let agent = match Agent::start(config.clone(), function, mode.attribution()).await {
        Ok(agent) => agent,
        Err(e) => {
            tandem::log_error!("{e}; the extension will stay idle and ship nothing until SHUTDOWN");
            return idle_until_shutdown(&client).await;
        }
    };
    let types: &[&str] = if config.logs_enabled {
        &["platform", "function", "extension"]
    } else {
        &["platform"]
    };
    let telemetry = client
        .subscribe_telemetry(mode.telemetry_schema(), types, agent.telemetry_port())
        .await;
    tandem::log_debug!(
        "init: registered after {registered:?}, core started and telemetry subscribed after {:?}",
        t0.elapsed()
    );
    let telemetry_active = match telemetry {
        Subscription::Active => true,
        Subscription::Unavailable(why) => {
            tandem::log_warn!(
                "Telemetry API subscription unavailable ({why}): no function logs or platform events will arrive; flushing without waiting for them"
            );
            false
        }
    };
    // Init is done: fetch the API key in the background while we wait for events.
    agent.start_secret_resolution();
    match mode {
        Mode::OnDemand => on_demand::run(agent, client, telemetry_active).await,
        Mode::ManagedInstance => managed_instance::run(agent, client).await,
    }
}

/// The Extensions API's answer to an INVOKE registration in a Managed Instance environment.
fn refuses_invoke(e: &LambdaApiError) -> bool {
    matches!(e, LambdaApiError::Refused { status: 403, body, .. } if body.contains("Extension.InvalidEventType"))
}

/// SHUTDOWN budget when the event carries no deadline (Lambda gives 2 s with extensions).
pub const SHUTDOWN_FALLBACK: Duration = Duration::from_millis(1_500);

/// Consecutive `/event/next` failures tolerated before giving up.
const MAX_NEXT_FAILURES: u32 = 5;

/// Calls `/event/next`, retrying transient failures with a short backoff. `None` means the
/// Extensions API is gone for good (the environment is ending).
pub async fn next_event(client: &ExtensionsClient) -> Option<NextEvent> {
    let mut failures = 0;
    loop {
        match client.next_event().await {
            Ok(ev) => return Some(ev),
            Err(e) => {
                failures += 1;
                tandem::log_error!("/event/next failed ({failures}/{MAX_NEXT_FAILURES}): {e}");
                if failures >= MAX_NEXT_FAILURES {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20 << failures)).await;
            }
        }
    }
}

/// Keeps the platform answered when the core could not start.
async fn idle_until_shutdown(client: &ExtensionsClient) -> Result<(), LambdaApiError> {
    while let Some(ev) = next_event(client).await {
        if let NextEvent::Shutdown { .. } = ev {
            break;
        }
    }
    Ok(())
}
