//! The process's memory: one budget of (estimated) heap bytes that every buffer of data charges
//! — logs, metric contexts, buffered and in-flight traces, the retry queue — so that floods of
//! every signal at once still fit beside the function; keeping glibc's allocator to one arena
//! (each thread's own arena keeps what it freed, so RSS grew with the number of threads that
//! once handled a large payload); and reading the peak (`VmHWM`). Must not allocate on hot
//! paths.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The process-wide budget of buffered data. Unlimited until [`Budget::set_limit`] (unit tests,
/// benches); the agent sets it from `TANDEM_MEMORY_BYTES` at start.
pub struct Budget {
    used: AtomicUsize,
    limit: AtomicUsize,
}

static BUDGET: Budget = Budget {
    used: AtomicUsize::new(0),
    limit: AtomicUsize::new(usize::MAX),
};

impl Budget {
    /// The one budget of the process.
    pub fn global() -> &'static Budget {
        &BUDGET
    }

    pub fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Relaxed);
    }

    /// Takes `bytes` if they fit; `false` (and nothing taken) otherwise.
    pub fn try_charge(&self, bytes: usize) -> bool {
        let limit = self.limit.load(Ordering::Relaxed);
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|n| *n <= limit)
            })
            .is_ok()
    }

    /// Takes `bytes` whatever the room (the extension's own small data, or memory already
    /// admitted by a bound that read [`Budget::free`]).
    pub fn charge(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn release(&self, bytes: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    /// Follows a holder's own count from `before` to `after` bytes (charges growth, releases
    /// shrinkage).
    pub fn account(&self, before: usize, after: usize) {
        if after > before {
            self.charge(after - before);
        } else {
            self.release(before - after);
        }
    }

    /// Bytes still free.
    pub fn free(&self) -> usize {
        self.limit
            .load(Ordering::Relaxed)
            .saturating_sub(self.used.load(Ordering::Relaxed))
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// [`Budget::try_charge`] as a guard that releases the bytes when dropped.
    pub fn reserve(&'static self, bytes: usize) -> Option<Reserved> {
        self.try_charge(bytes).then_some(Reserved {
            budget: self,
            bytes,
        })
    }
}

/// Bytes taken from a budget until dropped (data in flight: a request body being decoded).
pub struct Reserved {
    budget: &'static Budget,
    bytes: usize,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

/// Sets glibc's allocator so that resident memory follows the live heap: call first thing in
/// `main`, before any thread. One arena, so memory freed by one thread serves the others; a
/// fixed mmap threshold, so large buffers (request bodies, payloads) are mapped and unmapped
/// whole instead of raising the threshold (glibc's default) and fragmenting the heap; and a
/// low trim threshold, so the heap's freed top goes back to the kernel.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024);
    }
}

/// Work on at least this many bytes leaves enough freed heap to be worth handing back.
const LARGE_WORK_BYTES: usize = 512 * 1024;
/// At most one trim per this many milliseconds: trimming walks the heap under its lock.
const TRIM_EVERY_MS: i64 = 50;

/// After handling `bytes` of input (a tracer body, a telemetry batch) whose decoded form is
/// now freed: trims the heap if that was large and no trim ran very recently. Keeps the peak
/// RSS of a flood near its live data instead of its freed fragments.
pub fn trim_after(bytes: usize) {
    static LAST_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    if bytes < LARGE_WORK_BYTES {
        return;
    }
    let now = crate::time::now_ms();
    let last = LAST_MS.load(Ordering::Relaxed);
    if now - last >= TRIM_EVERY_MS
        && LAST_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        trim();
    }
}

/// Hands the heap's free pages back to the kernel (after a flush emptied the buffers).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own heap.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The process's peak resident memory (`VmHWM` of `/proc/self/status`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}

/// The process's resident memory now (`VmRSS`), in KiB.
pub fn rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
