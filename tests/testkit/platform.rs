//! A Lambda platform simulator on loopback: the Extensions API (register, next, init/exit
//! error), the Runtime API (for a real runtime client; see `runtime_api`) and the Telemetry API
//! (subscription, and delivery of batches to the subscriber with Lambda's buffering: maxItems / maxBytes / timeoutMs, one batch in flight at a time). Scripts
//! invocations for both modes: on-demand (INVOKE events, one at a time) and Managed Instances
//! (SHUTDOWN only, overlapping start/report, no runtimeDone, INVOKE registration refused).

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tandem::http::{self, ServerHandle};
use tokio::sync::{Notify, mpsc};

mod api;
use api::{deliver_telemetry, route};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimMode {
    OnDemand,
    ManagedInstance,
}

/// How the Telemetry API answers a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelemetryAnswer {
    Accept,
    /// 202 with `errorType: Telemetry.NotSupported`, as AWS's Runtime Interface Emulator.
    NotSupported,
    /// 500.
    Fail,
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub events: Vec<String>,
    pub name: Option<String>,
    pub accept_feature: Option<String>,
    pub status: u16,
}

#[derive(Debug, Clone)]
pub struct SubscriptionRequest {
    pub body: Value,
    pub status: u16,
}

/// One batch POSTed to the subscriber.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// When the subscriber's answer came back.
    pub answered_at: Instant,
    pub sent_at: Instant,
    pub events: Vec<Value>,
    pub status: Option<u16>,
}

#[derive(Default)]
struct State {
    registrations: Vec<Registration>,
    subscriptions: Vec<SubscriptionRequest>,
    next_calls: Vec<Instant>,
    errors: Vec<(String, String)>,
    deliveries: Vec<Delivery>,
    pending: VecDeque<Value>,
    pending_since: Option<Instant>,
    destination: Option<(String, u64, usize, Duration)>,
    /// What the runtime posted, by request id: (`response` or `error`, body).
    runtime_results: std::collections::HashMap<String, (String, String)>,
    /// Faults to answer the next Extensions API calls with, in order.
    api_faults: VecDeque<ApiFault>,
}

/// A misbehaving Extensions API: how one call is answered instead of the normal way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFault {
    /// `/register` answers this status.
    RegisterStatus(u16),
    /// `/register` answers 200 with a body that is not JSON.
    RegisterGarbage,
    /// `/event/next` answers this status.
    NextStatus(u16),
    /// `/event/next` answers 200 with a body that is not JSON.
    NextGarbage,
}

struct Shared {
    mode: SimMode,
    telemetry: TelemetryAnswer,
    state: Mutex<State>,
    changed: Notify,
    telemetry_queued: Notify,
    next_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Value>>,
    runtime_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<crate::runtime_api::Invocation>>,
}

/// The simulator. Dropping it stops its server.
pub struct Platform {
    shared: Arc<Shared>,
    next_tx: mpsc::UnboundedSender<Value>,
    runtime_tx: mpsc::UnboundedSender<crate::runtime_api::Invocation>,
    server: ServerHandle,
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.server.stop();
    }
}

/// How a scripted invocation ends.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// `success`, `error`, `failure` or `timeout`.
    pub status: &'static str,
    pub error_type: Option<&'static str>,
    /// Of the 128 MB the simulated function has.
    pub max_memory_used_mb: u64,
    pub init_duration_ms: Option<f64>,
}

impl Default for Outcome {
    fn default() -> Self {
        Self {
            status: "success",
            error_type: None,
            max_memory_used_mb: 64,
            init_duration_ms: None,
        }
    }
}

/// When an on-demand invocation's milestones happened.
#[derive(Debug, Clone)]
pub struct InvocationTiming {
    pub request_id: String,
    /// When the batch holding runtimeDone was sent to, and answered by, the extension.
    pub runtime_done_sent: Instant,
    pub runtime_done_delivered: Instant,
    /// When the extension called `/next` again (the end of the invocation for Lambda).
    pub next_called: Instant,
}

impl Platform {
    pub async fn start(mode: SimMode, telemetry: TelemetryAnswer) -> std::io::Result<Platform> {
        let (next_tx, next_rx) = mpsc::unbounded_channel();
        let (runtime_tx, runtime_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            runtime_rx: tokio::sync::Mutex::new(runtime_rx),
            mode,
            telemetry,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            telemetry_queued: Notify::new(),
            next_rx: tokio::sync::Mutex::new(next_rx),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let handler_shared = shared.clone();
        let server = http::serve(listener, move |req| {
            let shared = handler_shared.clone();
            async move { route(shared, req).await }
        })?;
        tokio::spawn(deliver_telemetry(shared.clone()));
        Ok(Platform {
            shared,
            next_tx,
            runtime_tx,
            server,
        })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.server.addr.to_string()
    }

    pub fn mode(&self) -> SimMode {
        self.shared.mode
    }

    /// Answers the next Extensions API calls of each fault's route with these, in order.
    pub fn queue_api_faults(&self, faults: impl IntoIterator<Item = ApiFault>) {
        self.state().api_faults.extend(faults);
    }

    pub fn registrations(&self) -> Vec<Registration> {
        self.state().registrations.clone()
    }
    pub fn subscriptions(&self) -> Vec<SubscriptionRequest> {
        self.state().subscriptions.clone()
    }
    pub fn next_calls(&self) -> Vec<Instant> {
        self.state().next_calls.clone()
    }
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state().deliveries.clone()
    }
    pub fn errors(&self) -> Vec<(String, String)> {
        self.state().errors.clone()
    }

    /// Waits until the extension has called `/next` at least `n` times.
    pub async fn wait_next_calls(&self, n: usize, timeout: Duration) -> bool {
        crate::wait_until(&self.shared.changed, timeout, || {
            self.state().next_calls.len() >= n
        })
        .await
    }

    /// Waits until every queued telemetry event has been delivered and answered.
    pub async fn wait_telemetry_drained(&self, timeout: Duration) -> bool {
        crate::wait_until(&self.shared.changed, timeout, || {
            let s = self.state();
            s.pending.is_empty() && s.deliveries.last().is_none_or(|d| d.status.is_some())
        })
        .await
    }

    /// Queues telemetry events for delivery (dropped when nobody subscribed, as Lambda does).
    pub fn emit(&self, events: impl IntoIterator<Item = Value>) {
        let mut s = self.state();
        if s.destination.is_none() {
            return;
        }
        for e in events {
            s.pending.push_back(e);
        }
        s.pending_since.get_or_insert_with(Instant::now);
        drop(s);
        self.shared.telemetry_queued.notify_one();
    }

    /// Sends an INVOKE to the extension's pending `/next`.
    pub fn send_invoke(&self, request_id: &str, timeout: Duration) {
        let deadline = tandem::time::now_ms() + timeout.as_millis() as i64;
        let _ = self.next_tx.send(json!({
            "eventType": "INVOKE", "deadlineMs": deadline, "requestId": request_id,
            "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:tandem-test",
            "tracing": { "type": "X-Amzn-Trace-Id", "value": "Root=1-00000000-000000000000000000000000;Sampled=1" }
        }));
    }

    /// Sends SHUTDOWN with a deadline `within` from now.
    pub fn send_shutdown(&self, within: Duration) {
        let deadline = tandem::time::now_ms() + within.as_millis() as i64;
        let _ = self.next_tx.send(json!({ "eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": deadline }));
    }

    /// Runs one on-demand invocation as Lambda does: INVOKE and `platform.start`, the function's
    /// log lines, `platform.runtimeDone`; waits for the extension's next `/next`; then the
    /// `platform.report`. Fails if the extension does not call `/next` within `timeout`.
    pub async fn invoke(
        &self,
        request_id: &str,
        logs: Vec<Value>,
        timeout: Duration,
    ) -> Result<InvocationTiming, String> {
        self.invoke_as(request_id, logs, Outcome::default(), timeout)
            .await
    }

    /// Like [`Platform::invoke`], ending the way `outcome` says.
    pub async fn invoke_as(
        &self,
        request_id: &str,
        logs: Vec<Value>,
        outcome: Outcome,
        timeout: Duration,
    ) -> Result<InvocationTiming, String> {
        let before = self.begin_invoke(request_id, timeout).await?;
        self.emit(logs);
        self.finish_invoke(request_id, before, outcome, timeout)
            .await
    }

    /// Runs one invocation through a real runtime client polling the Runtime API: INVOKE to
    /// the extension and `platform.start`, `payload` to the runtime, its response; then
    /// `output()` gives the function's log lines (as telemetry events) and runtimeDone and the
    /// report follow as in [`Platform::invoke`]. Returns the timing and the runtime's result
    /// (`response` or `error`, body).
    pub async fn invoke_runtime(
        &self,
        request_id: &str,
        payload: Value,
        timeout: Duration,
        output: impl AsyncFnOnce() -> Vec<Value>,
    ) -> Result<(InvocationTiming, (String, String)), String> {
        let before = self.begin_invoke(request_id, timeout).await?;
        let _ = self.runtime_tx.send(crate::runtime_api::Invocation {
            request_id: request_id.to_string(),
            payload,
            deadline_ms: tandem::time::now_ms() + 30_000,
        });
        let got = crate::wait_until(&self.shared.changed, timeout, || {
            self.state().runtime_results.contains_key(request_id)
        })
        .await;
        let result = self
            .state()
            .runtime_results
            .get(request_id)
            .cloned()
            .filter(|_| got)
            .ok_or_else(|| format!("the runtime never answered invocation {request_id}"))?;
        self.emit(output().await);
        let outcome = Outcome {
            status: if result.0 == "response" {
                "success"
            } else {
                "error"
            },
            ..Outcome::default()
        };
        let timing = self
            .finish_invoke(request_id, before, outcome, timeout)
            .await?;
        Ok((timing, result))
    }

    /// INVOKE to the extension's pending `/next` and `platform.start`; returns how many
    /// `/next` calls had been made.
    pub async fn begin_invoke(&self, request_id: &str, timeout: Duration) -> Result<usize, String> {
        let before = self.state().next_calls.len();
        if before == 0 || !self.wait_next_calls(before, timeout).await {
            return Err("the extension is not waiting on /next".into());
        }
        self.send_invoke(request_id, Duration::from_secs(30));
        self.emit([crate::events::start(request_id)]);
        Ok(before)
    }

    /// `platform.runtimeDone`, the extension's next `/next`, then `platform.report`.
    pub async fn finish_invoke(
        &self,
        request_id: &str,
        before: usize,
        outcome: Outcome,
        timeout: Duration,
    ) -> Result<InvocationTiming, String> {
        let timing = self
            .finish_invoke_holding_report(request_id, before, outcome, timeout)
            .await?;
        self.emit_report(request_id, outcome);
        Ok(timing)
    }

    /// `platform.runtimeDone` and the extension's next `/next`, without the `platform.report`
    /// (for a caller that freezes the environment first and emits it at the thaw, as the
    /// report of a frozen environment reaches its extension).
    pub async fn finish_invoke_holding_report(
        &self,
        request_id: &str,
        before: usize,
        outcome: Outcome,
        timeout: Duration,
    ) -> Result<InvocationTiming, String> {
        let mut runtime_done = crate::events::runtime_done(request_id, outcome.status, 12.5);
        if let Some(e) = outcome.error_type {
            runtime_done["record"]["errorType"] = json!(e);
        }
        let marker = runtime_done.clone();
        self.emit([runtime_done]);
        let (runtime_done_sent, runtime_done_delivered) = if self.state().destination.is_none() {
            // Nobody subscribed: Lambda delivers nothing.
            (Instant::now(), Instant::now())
        } else {
            crate::wait_until(&self.shared.changed, timeout, || {
                self.delivered_at(&marker).is_some()
            })
            .await;
            self.delivered_at(&marker)
                .ok_or("runtimeDone was not delivered")?
        };
        if !self.wait_next_calls(before + 1, timeout).await {
            return Err(format!(
                "the extension did not call /next after invocation {request_id}"
            ));
        }
        let next_called = self.state().next_calls[before];
        Ok(InvocationTiming {
            request_id: request_id.to_string(),
            runtime_done_sent,
            runtime_done_delivered,
            next_called,
        })
    }

    /// `platform.report` for an invocation that ended the way `outcome` says.
    pub fn emit_report(&self, request_id: &str, outcome: Outcome) {
        let mut report = crate::events::report(request_id, 20.0, false);
        report["record"]["status"] = json!(outcome.status);
        report["record"]["metrics"]["maxMemoryUsedMB"] = json!(outcome.max_memory_used_mb);
        if let Some(init) = outcome.init_duration_ms {
            report["record"]["metrics"]["initDurationMs"] = json!(init);
        }
        self.emit([report]);
    }

    fn delivered_at(&self, event: &Value) -> Option<(Instant, Instant)> {
        self.state()
            .deliveries
            .iter()
            .find(|d| d.status.is_some() && d.events.contains(event))
            .map(|d| (d.sent_at, d.answered_at))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared)
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    tandem::sync::lock(&shared.state)
}
