//! Poison-tolerant locking. A panic while a lock is held must not take every later user of the
//! same data down with it (the extension never crashes the function), so a poisoned lock is
//! simply taken over: every guarded structure here stays valid between statements.

use std::sync::{Mutex, MutexGuard};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
