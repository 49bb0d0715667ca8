//! The invocation tracker shared by both modes: request id → what has been seen of that
//! invocation (INVOKE, start, runtimeDone, report), and how many are in flight. A pure state
//! machine — the caller supplies events and times — correct when invocations overlap and
//! when events arrive out of order (a `report` before its `start`). Bounded in entries.
//! Must not do I/O or know about payloads.

use crate::lambda::events::{InvocationRecord, InvokeEvent, TelemetryEvent};
use std::collections::{HashMap, HashSet, VecDeque};

/// Most invocations tracked at once (Managed Instances allow 1,600 concurrent per environment).
pub(crate) const MAX_TRACKED: usize = 10_000;
/// How many finished request ids are remembered to ignore late duplicates.
const RECENT_FINISHED: usize = 2_048;

#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub request_id: String,
    pub invoke: Option<InvokeEvent>,
    pub start_ms: Option<i64>,
    pub runtime_done: Option<(i64, InvocationRecord)>,
    pub report: Option<(i64, InvocationRecord)>,
}

/// What a telemetry event meant for an invocation's life; broadcast to the controllers.
#[derive(Debug, Clone, PartialEq)]
pub enum Lifecycle {
    Started {
        request_id: String,
    },
    RuntimeDone {
        request_id: String,
        status: String,
    },
    Reported {
        request_id: String,
        status: String,
    },
    /// Lambda dropped telemetry records because we were slow.
    LogsDropped {
        records: u64,
        bytes: u64,
    },
}

#[derive(Debug, Default)]
pub struct Tracker {
    live: HashMap<String, Invocation>,
    order: VecDeque<String>,
    finished: HashSet<String>,
    finished_order: VecDeque<String>,
    /// Request id of the latest `platform.start` in stream order (on-demand attribution).
    current: Option<String>,
    evicted: u64,
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an INVOKE event (on-demand only).
    pub fn on_invoke(&mut self, ev: InvokeEvent) {
        let id = ev.request_id.clone();
        if let Some(inv) = self.entry(&id) {
            inv.invoke = Some(ev);
        }
    }

    /// Applies one telemetry event; returns what it meant, if anything.
    pub fn apply(&mut self, event: &TelemetryEvent, time_ms: i64) -> Option<Lifecycle> {
        match event {
            TelemetryEvent::Start(r) => {
                self.current = Some(r.request_id.clone());
                let inv = self.entry(&r.request_id)?;
                inv.start_ms = Some(time_ms);
                let id = r.request_id.clone();
                self.finish_if_complete(&id);
                Some(Lifecycle::Started { request_id: id })
            }
            TelemetryEvent::RuntimeDone(r) => {
                let inv = self.entry(&r.request_id)?;
                inv.runtime_done = Some((time_ms, r.clone()));
                Some(Lifecycle::RuntimeDone {
                    request_id: r.request_id.clone(),
                    status: r.status.clone().unwrap_or_default(),
                })
            }
            TelemetryEvent::Report(r) => {
                let inv = self.entry(&r.request_id)?;
                inv.report = Some((time_ms, r.clone()));
                let id = r.request_id.clone();
                self.finish_if_complete(&id);
                Some(Lifecycle::Reported {
                    request_id: id,
                    status: r.status.clone().unwrap_or_default(),
                })
            }
            TelemetryEvent::LogsDropped(d) => Some(Lifecycle::LogsDropped {
                records: d.dropped_records,
                bytes: d.dropped_bytes,
            }),
            _ => None,
        }
    }

    /// Invocations started and not yet reported.
    pub fn concurrency(&self) -> usize {
        self.live
            .values()
            .filter(|i| i.start_ms.is_some() && i.report.is_none())
            .count()
    }

    /// Invocations known (by INVOKE or start) whose report has not arrived.
    pub fn awaiting_report(&self) -> usize {
        self.live
            .values()
            .filter(|i| (i.start_ms.is_some() || i.invoke.is_some()) && i.report.is_none())
            .count()
    }

    pub fn has_runtime_done(&self, request_id: &str) -> bool {
        self.live
            .get(request_id)
            .is_some_and(|i| i.runtime_done.is_some())
            || self.finished.contains(request_id)
    }

    pub fn get(&self, request_id: &str) -> Option<&Invocation> {
        self.live.get(request_id)
    }

    /// The invocation the telemetry stream is currently inside (latest `platform.start`).
    pub fn current_request_id(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// Entries dropped because more than [`MAX_TRACKED`] were live.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The entry for `id`, created if new; `None` for an id already finished (a duplicate).
    fn entry(&mut self, id: &str) -> Option<&mut Invocation> {
        if self.finished.contains(id) {
            return None;
        }
        if !self.live.contains_key(id) {
            while self.live.len() >= MAX_TRACKED {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                if self.live.remove(&old).is_some() {
                    self.evicted += 1;
                }
            }
            self.order.push_back(id.to_string());
            self.live.insert(
                id.to_string(),
                Invocation {
                    request_id: id.to_string(),
                    ..Default::default()
                },
            );
        }
        self.live.get_mut(id)
    }

    fn finish_if_complete(&mut self, id: &str) {
        let done = self
            .live
            .get(id)
            .is_some_and(|i| i.start_ms.is_some() && i.report.is_some());
        if !done {
            return;
        }
        self.live.remove(id);
        self.order.retain(|o| o != id);
        self.finished.insert(id.to_string());
        self.finished_order.push_back(id.to_string());
        if self.finished_order.len() > RECENT_FINISHED
            && let Some(old) = self.finished_order.pop_front()
        {
            self.finished.remove(&old);
        }
    }
}

#[cfg(test)]
mod tests;
