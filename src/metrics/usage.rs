//! `/proc`-based usage metrics of the execution environment: CPU time, network bytes, `/tmp`
//! space, file descriptors and threads. A snapshot at invocation start and one at its
//! runtimeDone give per-invocation deltas (on-demand only: with overlapping Managed Instance
//! invocations a delta belongs to no single request). Parsers are pure; `Snapshot::take`
//! reads the files. Its own cost is measured in `benches/startup.rs`.

use super::enhanced::Point;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// Linux reports CPU time in USER_HZ ticks, 100 per second on every Lambda kernel.
const MS_PER_TICK: f64 = 10.0;

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub at: Instant,
    pub cpu_user_ms: f64,
    pub cpu_system_ms: f64,
    pub cores: usize,
    /// Idle time of each core (`cpuN` idle + iowait), for per-core utilization.
    pub core_idle_ms: Vec<f64>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// `/proc/stat` and `/proc/net/dev`, opened once and re-read from offset 0 (the kernel
/// regenerates a `/proc` file read at its start): the runtimeDone snapshot is on the
/// post-runtime path, and an open — a path walk through `/proc` — cost it more than the read
/// itself (measured 124 µs for both files by path vs 54 µs through kept descriptors, on a
/// vCPU just woken from idle, as it is when runtimeDone arrives).
static PROC_STAT: KeptFile = KeptFile::new("/proc/stat");
static PROC_NET_DEV: KeptFile = KeptFile::new("/proc/net/dev");

struct KeptFile {
    path: &'static str,
    /// Locked for a whole read: a file longer than one read is read in chunks, each continuing
    /// where the kernel's copy stopped, and another reader's read from offset 0 in between
    /// would regenerate that copy under it.
    file: OnceLock<Option<Mutex<File>>>,
}

impl KeptFile {
    const fn new(path: &'static str) -> Self {
        Self {
            path,
            file: OnceLock::new(),
        }
    }

    /// The whole file, read through the kept descriptor (by path if it could not be kept).
    fn read(&self) -> Option<String> {
        let Some(file) = self
            .file
            .get_or_init(|| File::open(self.path).ok().map(Mutex::new))
        else {
            return std::fs::read_to_string(self.path).ok();
        };
        let file = crate::sync::lock(file);
        let mut buf = vec![0u8; 4096];
        let mut len = 0;
        loop {
            if len == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = file.read_at(&mut buf[len..], len as u64).ok()?;
            if n == 0 {
                break;
            }
            len += n;
        }
        buf.truncate(len);
        String::from_utf8(buf).ok()
    }
}

impl Snapshot {
    /// Reads `/proc/stat` and `/proc/net/dev`; `None` where `/proc` is unavailable.
    pub fn take() -> Option<Snapshot> {
        let stat = PROC_STAT.read()?;
        let (cpu_user_ms, cpu_system_ms, cores) = parse_stat(&stat)?;
        let (rx_bytes, tx_bytes) = PROC_NET_DEV
            .read()
            .map(|t| parse_net_dev(&t))
            .unwrap_or((0, 0));
        Some(Snapshot {
            at: Instant::now(),
            cpu_user_ms,
            cpu_system_ms,
            cores,
            core_idle_ms: parse_core_idle(&stat),
            rx_bytes,
            tx_bytes,
        })
    }
}

/// `cpu` line of /proc/stat → (user ms, system ms), and the number of `cpuN` lines.
pub fn parse_stat(text: &str) -> Option<(f64, f64, usize)> {
    let mut totals = None;
    let mut cores = 0;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("cpu") => {
                let v: Vec<f64> = fields.take(3).filter_map(|f| f.parse().ok()).collect();
                if let [user, nice, system] = v[..] {
                    totals = Some(((user + nice) * MS_PER_TICK, system * MS_PER_TICK));
                }
            }
            Some(c) if c.starts_with("cpu") => cores += 1,
            _ => {}
        }
    }
    totals.map(|(u, s)| (u, s, cores.max(1)))
}

/// Idle (+ iowait) time of each `cpuN` line of /proc/stat, in order.
pub fn parse_core_idle(text: &str) -> Vec<f64> {
    text.lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .map(|l| {
            let f: Vec<f64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.get(3).copied().unwrap_or(0.0) + f.get(4).copied().unwrap_or(0.0)) * MS_PER_TICK
        })
        .collect()
}

/// Sum of received and sent bytes over every interface but loopback.
pub fn parse_net_dev(text: &str) -> (u64, u64) {
    let mut rx = 0;
    let mut tx = 0;
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

/// `Max open files` / `Max processes` soft limits from a /proc/<pid>/limits text.
pub fn parse_limit(text: &str, name: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// Points for the interval between two snapshots (cheap: no I/O).
pub fn interval_points(start: &Snapshot, end: &Snapshot, ts: i64, tags: &[String]) -> Vec<Point> {
    let p = |name: &'static str, value: f64| Point {
        name,
        value,
        ts,
        tags: tags.to_vec(),
    };
    let user = (end.cpu_user_ms - start.cpu_user_ms).max(0.0);
    let system = (end.cpu_system_ms - start.cpu_system_ms).max(0.0);
    let wall_ms = end.at.saturating_duration_since(start.at).as_secs_f64() * 1000.0;
    let mut out = vec![
        p("cpu_user_time", user),
        p("cpu_system_time", system),
        p("cpu_total_time", user + system),
        p("num_cores", end.cores as f64),
        p(
            "rx_bytes",
            end.rx_bytes.saturating_sub(start.rx_bytes) as f64,
        ),
        p(
            "tx_bytes",
            end.tx_bytes.saturating_sub(start.tx_bytes) as f64,
        ),
        p(
            "total_network",
            (end.rx_bytes + end.tx_bytes).saturating_sub(start.rx_bytes + start.tx_bytes) as f64,
        ),
    ];
    if wall_ms > 0.0 {
        let cores_used = (user + system) / wall_ms;
        out.push(p("cpu_total_utilization", cores_used));
        out.push(p(
            "cpu_total_utilization_pct",
            100.0 * cores_used / end.cores as f64,
        ));
        // The busiest and the idlest core, in percent (Datadog's extension sends both).
        let busy: Vec<f64> = start
            .core_idle_ms
            .iter()
            .zip(&end.core_idle_ms)
            .map(|(a, b)| (100.0 * (1.0 - (b - a).max(0.0) / wall_ms)).clamp(0.0, 100.0))
            .collect();
        if let (Some(max), Some(min)) = (
            busy.iter().copied().reduce(f64::max),
            busy.iter().copied().reduce(f64::min),
        ) {
            out.push(p("cpu_max_utilization", max));
            out.push(p("cpu_min_utilization", min));
        }
    }
    out
}

/// Current resource use: `/tmp` space, limits, and every process's descriptors and threads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    /// `/tmp`'s size and bytes used.
    tmp: Option<(f64, f64)>,
    fd_max: Option<f64>,
    threads_max: Option<f64>,
    fds: usize,
    threads: usize,
}

impl Resources {
    /// Reads them. Costs a scan of `/proc` (a directory per process), so callers keep it off
    /// the invocation's critical path.
    pub fn scan() -> Resources {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let (fds, threads) = process_usage();
        Resources {
            tmp: tmp_space(),
            fd_max: parse_limit(&limits, "Max open files"),
            threads_max: parse_limit(&limits, "Max processes"),
            fds,
            threads,
        }
    }

    /// The enhanced metrics they make.
    pub fn points(&self, ts: i64, tags: &[String]) -> Vec<Point> {
        let p = |name: &'static str, value: f64| Point {
            name,
            value,
            ts,
            tags: tags.to_vec(),
        };
        let mut out = Vec::new();
        if let Some((max, used)) = self.tmp {
            out.push(p("tmp_max", max));
            out.push(p("tmp_used", used));
            out.push(p("tmp_free", (max - used).max(0.0)));
        }
        if let Some(m) = self.fd_max {
            out.push(p("fd_max", m));
        }
        if let Some(m) = self.threads_max {
            out.push(p("threads_max", m));
        }
        out.push(p("fd_use", self.fds as f64));
        out.push(p("threads_use", self.threads as f64));
        out
    }
}

/// [`Resources::scan`]'s points.
pub fn resource_points(ts: i64, tags: &[String]) -> Vec<Point> {
    Resources::scan().points(ts, tags)
}

fn tmp_space() -> Option<(f64, f64)> {
    let path = c"/tmp";
    // SAFETY: statvfs fills the zeroed struct for a valid NUL-terminated path.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let frsize = s.f_frsize as f64;
    Some((
        s.f_blocks as f64 * frsize,
        (s.f_blocks.saturating_sub(s.f_bavail)) as f64 * frsize,
    ))
}

/// Open file descriptors and threads over every process of the sandbox.
fn process_usage() -> (usize, usize) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return (0, 0);
    };
    let mut fds = 0;
    let mut threads = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let path = entry.path();
        fds += std::fs::read_dir(path.join("fd"))
            .map(|d| d.count())
            .unwrap_or(0);
        if let Ok(status) = std::fs::read_to_string(path.join("status")) {
            threads += status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
        }
    }
    (fds, threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        let stat =
            "cpu  100 5 50 1000 0 0 0 0 0 0\ncpu0 50 2 25 500 0\ncpu1 50 3 25 500 0\nintr 1\n";
        assert_eq!(parse_stat(stat), Some((1050.0, 500.0, 2)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_core_idle(stat), [5000.0, 5000.0]);
        let net = "Inter-|   Receive\n face |bytes\n    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n  eth0: 1000 5 0 0 0 0 0 0 2000 7 0 0 0 0 0 0\n";
        assert_eq!(parse_net_dev(net), (1000, 2000));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax processes             1024                 1024                 processes\nMax open files            1024                 4096                 files\n";
        assert_eq!(parse_limit(limits, "Max open files"), Some(1024.0));
        assert_eq!(parse_limit(limits, "Max processes"), Some(1024.0));
    }

    #[test]
    fn points_from_real_proc() {
        let a = Snapshot::take().expect("/proc is readable here");
        let b = Snapshot::take().unwrap();
        let mut pts = interval_points(&a, &b, 1, &[]);
        pts.extend(resource_points(1, &[]));
        for name in [
            "cpu_total_time",
            "num_cores",
            "rx_bytes",
            "fd_use",
            "threads_use",
            "tmp_max",
            "tmp_free",
            "cpu_max_utilization",
            "cpu_min_utilization",
        ] {
            assert!(pts.iter().any(|p| p.name == name), "{name}");
        }
        assert!(pts.iter().all(|p| p.value.is_finite() && p.value >= 0.0));
    }

    #[test]
    fn a_kept_proc_file_reads_whole_and_fresh_every_time() {
        // Each read starts over at offset 0: the whole file again, with current values.
        let by_path = std::fs::read_to_string("/proc/stat").unwrap();
        let first = PROC_STAT.read().unwrap();
        let second = PROC_STAT.read().unwrap();
        for text in [&first, &second] {
            assert_eq!(text.lines().count(), by_path.lines().count());
            assert!(parse_stat(text).is_some());
        }
        let idle = |t: &str| parse_core_idle(t).iter().sum::<f64>();
        // A stale buffer would show the first values forever: wait until the kernel's idle or
        // busy counters move (10 ms ticks) and check the kept file sees them move.
        let before = parse_stat(&second).unwrap();
        let moved = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            let now = PROC_STAT.read().unwrap();
            parse_stat(&now).unwrap() != before || idle(&now) != idle(&second)
        });
        assert!(
            moved,
            "/proc/stat read through the kept descriptor never changed"
        );
        assert!(PROC_NET_DEV.read().unwrap().contains("lo:"));
    }
}
