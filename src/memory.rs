//! The process's memory as the kernel sees it: keeping glibc's allocator to one arena (each
//! thread's own arena keeps what it freed, so RSS grew with the number of threads that once
//! handled a large payload), and reading the peak (`VmHWM`). Must not allocate on hot paths.

/// One malloc arena for the whole process: call first thing in `main`, before any thread.
/// Freed memory is then reused by every thread, and peak RSS follows the live heap.
pub fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// The process's peak resident memory (`VmHWM` of `/proc/self/status`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
