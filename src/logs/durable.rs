//! Log lines of a durable function waiting for their invocation's durable execution context
//! (`lambda.durable_function.*` on every line, the execution status on END and REPORT), as
//! Datadog's extension holds them. A line is held only when the function is durable
//! (`platform.initStart`), its request's context is not known yet and the request has not
//! ended; held lines go out at the next flush once the context is known or the request ended,
//! and all of them at the last flush. Bounded: `DD_LAMBDA_DURABLE_FUNCTION_LOG_BUFFER_SIZE`
//! requests (0 = never hold) and `MAX_HELD_BYTES`; past either a line goes out at once,
//! without the context. Nothing here is dropped. Must not encode or ship.

use crate::durable::{Context, Registry};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes of text held at most, across requests.
const MAX_HELD_BYTES: usize = 1024 * 1024;
/// Ended requests remembered (so their late lines are not held), at most.
const MAX_ENDED: usize = 1_000;

/// One line waiting for its request's context.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Line {
    pub time_ms: i64,
    pub text: String,
    pub status: String,
    pub tags: Option<String>,
    /// END or REPORT: carries the execution status.
    pub closing: bool,
}

/// What to do with a line now.
#[derive(Debug, PartialEq)]
pub(super) enum Route {
    /// Ship it, with this context if known.
    Emit(Option<Context>),
    Held,
}

#[derive(Default)]
struct State {
    held: VecDeque<(String, Vec<Line>)>,
    bytes: usize,
    ended: HashSet<String>,
}

pub(super) struct DurableLogs {
    registry: Arc<Registry>,
    function_is_durable: AtomicBool,
    /// Requests held at most; 0 = never hold.
    limit: usize,
    state: Mutex<State>,
}

impl DurableLogs {
    pub(super) fn new(registry: Arc<Registry>, limit: usize) -> Self {
        Self {
            registry,
            function_is_durable: AtomicBool::new(false),
            limit,
            state: Mutex::new(State::default()),
        }
    }

    pub(super) fn set_registry(&mut self, registry: Arc<Registry>) {
        self.registry = registry;
    }

    /// `platform.initStart` said whether the function is durable.
    pub(super) fn set_function_durable(&self, durable: bool) {
        self.function_is_durable.store(durable, Ordering::Relaxed);
    }

    /// Decides for one line of `request_id`; `line` is built only when it is held.
    pub(super) fn route(
        &self,
        request_id: &str,
        closing: bool,
        line: impl FnOnce() -> Line,
    ) -> Route {
        let ctx = self.registry.get(request_id);
        if !self.function_is_durable.load(Ordering::Relaxed) || self.limit == 0 {
            return Route::Emit(ctx);
        }
        // A closing line waits for the status too (the tracer may report it a moment later).
        let complete = ctx.as_ref().is_some_and(|c| !closing || c.status.is_some());
        let mut st = crate::sync::lock(&self.state);
        if complete || st.ended.contains(request_id) && !closing {
            return Route::Emit(ctx);
        }
        let line = line();
        let slot = st.held.iter().position(|(id, _)| id == request_id);
        if st.bytes + line.text.len() > MAX_HELD_BYTES
            || slot.is_none() && st.held.len() >= self.limit
        {
            return Route::Emit(ctx);
        }
        st.bytes += line.text.len();
        match slot.and_then(|i| st.held.get_mut(i)) {
            Some((_, lines)) => lines.push(line),
            None => st.held.push_back((request_id.to_string(), vec![line])),
        }
        Route::Held
    }

    /// `request_id` ended (runtimeDone, or a Managed Instance report): its held lines go out at
    /// the next flush, and its later lines are not held.
    pub(super) fn ended(&self, request_id: &str) {
        let mut st = crate::sync::lock(&self.state);
        if st.ended.len() >= MAX_ENDED {
            st.ended.clear();
        }
        st.ended.insert(request_id.to_string());
    }

    /// The held lines that may go now (their context is known or their request ended; all of
    /// them when `all`), with their request id and context, oldest request first.
    pub(super) fn release(&self, all: bool) -> Vec<(String, Option<Context>, Vec<Line>)> {
        let mut st = crate::sync::lock(&self.state);
        let mut out = Vec::new();
        let mut kept = VecDeque::new();
        for (id, lines) in std::mem::take(&mut st.held) {
            let ctx = self.registry.get(&id);
            if all || ctx.is_some() || st.ended.contains(&id) {
                st.bytes -= lines.iter().map(|l| l.text.len()).sum::<usize>();
                out.push((id, ctx, lines));
            } else {
                kept.push_back((id, lines));
            }
        }
        st.held = kept;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, closing: bool) -> Line {
        Line {
            time_ms: 1,
            text: text.into(),
            status: "info".into(),
            tags: None,
            closing,
        }
    }

    fn ctx() -> Context {
        Context {
            execution_name: "n".into(),
            execution_id: "i".into(),
            first_invocation: Some(true),
            status: None,
        }
    }

    #[test]
    fn lines_wait_for_their_context_and_go_with_it() {
        let registry = Arc::new(Registry::default());
        let d = DurableLogs::new(registry.clone(), 2);
        // Not durable: nothing is held.
        assert_eq!(d.route("a", false, || line("x", false)), Route::Emit(None));
        d.set_function_durable(true);
        assert_eq!(d.route("a", false, || line("x", false)), Route::Held);
        assert!(
            d.release(false).is_empty(),
            "no context, not ended: still held"
        );
        registry.record("a", ctx());
        let out = d.release(false);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, Some(ctx()));
        // Known context: a plain line goes at once; a closing one waits for the status.
        assert_eq!(
            d.route("a", false, || line("y", false)),
            Route::Emit(Some(ctx()))
        );
        assert_eq!(d.route("a", true, || line("END", true)), Route::Held);
        registry.set_status("a", "SUCCEEDED".into());
        let out = d.release(false);
        assert_eq!(
            out[0].1.as_ref().and_then(|c| c.status.as_deref()),
            Some("SUCCEEDED")
        );
    }

    #[test]
    fn holding_is_bounded_and_ended_requests_are_released() {
        let d = DurableLogs::new(Arc::new(Registry::default()), 2);
        d.set_function_durable(true);
        assert_eq!(d.route("a", false, || line("1", false)), Route::Held);
        assert_eq!(d.route("b", false, || line("2", false)), Route::Held);
        assert_eq!(
            d.route("c", false, || line("3", false)),
            Route::Emit(None),
            "a third request is not held"
        );
        assert_eq!(d.route("a", false, || line("4", false)), Route::Held);
        let big = "x".repeat(MAX_HELD_BYTES);
        assert_eq!(d.route("a", false, || line(&big, false)), Route::Emit(None));
        d.ended("a");
        assert_eq!(
            d.route("a", false, || line("late", false)),
            Route::Emit(None)
        );
        let out = d.release(false);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].2.len(), 2, "a's two lines");
        let out = d.release(true);
        assert_eq!(out[0].0, "b", "the last flush takes the rest");
        assert!(d.release(true).is_empty());
        // Off: 0 requests.
        let off = DurableLogs::new(Arc::new(Registry::default()), 0);
        off.set_function_durable(true);
        assert_eq!(
            off.route("a", false, || line("1", false)),
            Route::Emit(None)
        );
    }
}
