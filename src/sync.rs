//! Shared-state primitives: poison-tolerant locking, and waiting for a condition on shared
//! state with a deadline. A panic while a lock is held must not take every later user of the
//! same data down with it (the extension never crashes the function), so a poisoned lock is
//! simply taken over: every guarded structure here stays valid between statements.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::Notify;

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits until `condition` holds, re-checking whenever `changed` is notified, or until `until`.
/// Returns whether it held. Whoever changes the state must call `changed.notify_waiters()`;
/// the waiter registers before checking, so a change between check and wait is never missed.
pub async fn wait_until(
    changed: &Notify,
    until: Instant,
    mut condition: impl FnMut() -> bool,
) -> bool {
    loop {
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if condition() {
            return true;
        }
        if tokio::time::timeout_at(until.into(), notified)
            .await
            .is_err()
        {
            return condition();
        }
    }
}
