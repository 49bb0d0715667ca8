//! The DogStatsD UDP server: one blocking thread per socket (127.0.0.1, and [::1] where the
//! host has IPv6), a large kernel receive buffer, and datagrams read in batches with
//! `recvmmsg` on Linux. Each datagram goes straight to the metrics pipeline. Stopping drains
//! what the kernel still holds before the final flush.

use crate::metrics::pipeline::MetricsPipeline;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Largest datagram accepted by default (the Agent's default buffer size).
pub const MAX_DATAGRAM: usize = 8192;
/// Kernel receive buffer asked for by default; bursts from the function land here while we
/// parse.
pub const RCVBUF_BYTES: usize = 8 * 1024 * 1024;

/// The socket settings: `DD_DOGSTATSD_BUFFER_SIZE` (largest datagram read whole) and
/// `DD_DOGSTATSD_SO_RCVBUF` (kernel receive buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketOptions {
    pub buffer_size: usize,
    pub rcvbuf: usize,
}

impl Default for SocketOptions {
    fn default() -> Self {
        Self {
            buffer_size: MAX_DATAGRAM,
            rcvbuf: RCVBUF_BYTES,
        }
    }
}
/// Datagrams read per `recvmmsg` call.
const BATCH: usize = 64;

pub struct DogStatsD {
    pub addrs: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    /// Set when `stop` gave up waiting: the readers then only count what they read.
    abandon: Arc<AtomicBool>,
    done: Vec<tokio::sync::oneshot::Receiver<()>>,
}

impl DogStatsD {
    /// Binds loopback (IPv4 required, IPv6 when available) and starts the reader threads.
    pub fn start(port: u16, pipeline: Arc<MetricsPipeline>) -> std::io::Result<DogStatsD> {
        Self::start_with(port, pipeline, SocketOptions::default())
    }

    /// `start` with explicit socket settings.
    pub fn start_with(
        port: u16,
        pipeline: Arc<MetricsPipeline>,
        options: SocketOptions,
    ) -> std::io::Result<DogStatsD> {
        let v4 = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
        let port = v4.local_addr()?.port();
        let mut sockets = vec![v4];
        match UdpSocket::bind(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port))) {
            Ok(v6) => sockets.push(v6),
            Err(e) => crate::log_debug!("DogStatsD: no IPv6 loopback ({e}); IPv4 only"),
        }
        let stop = Arc::new(AtomicBool::new(false));
        let abandon = Arc::new(AtomicBool::new(false));
        let mut addrs = Vec::new();
        let mut done = Vec::new();
        for socket in sockets {
            addrs.push(socket.local_addr()?);
            set_rcvbuf(&socket, options.rcvbuf);
            socket.set_read_timeout(Some(Duration::from_millis(100)))?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (pipeline, stop, abandon) = (pipeline.clone(), stop.clone(), abandon.clone());
            std::thread::Builder::new()
                .name("dogstatsd".into())
                .spawn(move || {
                    read_loop(&socket, options.buffer_size, &pipeline, &stop, &abandon);
                    let _ = tx.send(());
                })?;
            done.push(rx);
        }
        Ok(DogStatsD {
            addrs,
            stop,
            abandon,
            done,
        })
    }

    /// Stops reading after draining what is queued; waits at most `within`. What is still
    /// queued then would arrive after the final flush: it is counted as dropped
    /// (`tandem.metrics.dropped{reason:shutdown}`), never ingested.
    pub async fn stop(self, within: Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let until = tokio::time::Instant::now() + within;
        for rx in self.done {
            let _ = tokio::time::timeout_at(until, rx).await;
        }
        self.abandon.store(true, Ordering::Relaxed);
    }
}

fn now_secs() -> i64 {
    crate::time::now_ms() / 1000
}

fn read_loop(
    socket: &UdpSocket,
    buffer_size: usize,
    pipeline: &MetricsPipeline,
    stop: &AtomicBool,
    abandon: &AtomicBool,
) {
    let mut batch = Batch::new(buffer_size);
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if stopping {
            let _ = socket.set_nonblocking(true);
        }
        match batch.receive(socket) {
            Ok(0) => {}
            Ok(n) => {
                let now = now_secs();
                for i in 0..n {
                    if abandon.load(Ordering::Relaxed) {
                        let lines = crate::metrics::parse::byte_lines(batch.datagram(i)).count();
                        metrics::counter!("tandem.metrics.dropped", "reason" => "shutdown")
                            .increment(lines as u64);
                        continue;
                    }
                    let (datagram, cut) = whole_lines(batch.datagram(i), batch.truncated[i]);
                    if cut {
                        // The kernel cut the datagram: its last line is partial, never parsed.
                        pipeline
                            .counters
                            .parse_errors
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    pipeline.ingest_packet(datagram, now);
                }
                continue;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                crate::log_warn!("DogStatsD: receive failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if stopping {
            return;
        }
    }
}

fn set_rcvbuf(socket: &UdpSocket, bytes: usize) {
    use std::os::fd::AsRawFd;
    let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    let ptr = (&size as *const libc::c_int).cast::<libc::c_void>();
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a valid socket fd and a pointer to a live c_int of the given length.
    unsafe {
        // FORCE passes rmem_max when we are privileged; otherwise the plain request applies.
        if libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            ptr,
            len,
        ) != 0
        {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                ptr,
                len,
            );
        }
    }
}

/// The complete lines of a datagram: when the kernel truncated it (larger than the buffer), everything after its last newline; returns whether a line was cut off.
fn whole_lines(datagram: &[u8], truncated: bool) -> (&[u8], bool) {
    if !truncated {
        return (datagram, false);
    }
    let keep = datagram
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    (datagram.get(..keep).unwrap_or_default(), true)
}

/// Buffers for one `recvmmsg` call.
struct Batch {
    bufs: Vec<Vec<u8>>,
    lens: [usize; BATCH],
    /// Whether each datagram was longer than its buffer (`MSG_TRUNC`).
    truncated: [bool; BATCH],
}

impl Batch {
    fn new(buffer_size: usize) -> Self {
        Self {
            bufs: vec![vec![0u8; buffer_size]; BATCH],
            lens: [0; BATCH],
            truncated: [false; BATCH],
        }
    }

    fn datagram(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.lens[i]]
    }

    /// Reads up to `BATCH` datagrams: blocks (up to the read timeout) for the first only.
    #[cfg(target_os = "linux")]
    fn receive(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        let mut iovecs: Vec<libc::iovec> = self
            .bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        // SAFETY: mmsghdr is plain data; zeroed is a valid "no name, no control" header.
        let mut msgs: Vec<libc::mmsghdr> = iovecs
            .iter_mut()
            .map(|iov| {
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        // SAFETY: msgs/iovecs point into buffers that outlive the call; the count matches.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        for (i, m) in msgs.iter().take(n).enumerate() {
            self.lens[i] = (m.msg_len as usize).min(self.bufs[i].len());
            self.truncated[i] = m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        }
        Ok(n)
    }

    #[cfg(not(target_os = "linux"))]
    fn receive(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        let n = socket.recv(&mut self.bufs[0])?;
        self.lens[0] = n;
        self.truncated[0] = false;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline() -> Arc<MetricsPipeline> {
        let source =
            crate::config::source::Source::from_maps(Default::default(), Default::default());
        Arc::new(MetricsPipeline::new(
            &crate::config::Config::load(&source).0,
            vec![],
        ))
    }

    /// Stops `server`, draining what the kernel holds.
    fn stop(server: DogStatsD) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(server.stop(Duration::from_secs(2)));
    }

    /// Issue 11, row 16: a datagram longer than the buffer loses its last, partial line only.
    #[test]
    fn a_truncated_datagram_keeps_its_whole_lines_only() {
        assert_eq!(whole_lines(b"a:1|c\nb:12", true), (&b"a:1|c\n"[..], true));
        assert_eq!(whole_lines(b"b:12", true), (&b""[..], true));
        assert_eq!(
            whole_lines(b"a:1|c\nb:12", false),
            (&b"a:1|c\nb:12"[..], false)
        );
    }

    #[test]
    fn the_kernel_flag_is_read() {
        let pipeline = pipeline();
        let server = DogStatsD::start(0, pipeline.clone()).unwrap();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut packet = b"whole:1|c\n".to_vec();
        packet.extend(b"cut:");
        packet.extend(std::iter::repeat_n(b'1', MAX_DATAGRAM));
        packet.extend(b"|c");
        sock.send_to(&packet, server.addrs[0]).unwrap();
        stop(server);
        let series = pipeline.take().flushed.collect().series;
        let names: Vec<&str> = series.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(names, ["whole"]);
        assert_eq!(pipeline.counters.parse_errors.load(Ordering::Relaxed), 1);
    }

    /// `DD_DOGSTATSD_BUFFER_SIZE`: a datagram larger than the default buffer is read whole.
    #[test]
    fn a_larger_buffer_reads_a_larger_datagram_whole() {
        let pipeline = pipeline();
        let options = SocketOptions {
            buffer_size: 4 * MAX_DATAGRAM,
            rcvbuf: 1 << 20,
        };
        let server = DogStatsD::start_with(0, pipeline.clone(), options).unwrap();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        // ~24 KB of short lines: with the default 8 KiB buffer two thirds would be cut off.
        let packet: Vec<u8> = (0..2000)
            .flat_map(|i| format!("m{i:04}:1|c\n").into_bytes())
            .collect();
        assert!(packet.len() > 2 * MAX_DATAGRAM);
        sock.send_to(&packet, server.addrs[0]).unwrap();
        stop(server);
        let series = pipeline.take().flushed.collect().series;
        assert_eq!(series.len(), 2000, "every line of the datagram");
        assert_eq!(pipeline.counters.parse_errors.load(Ordering::Relaxed), 0);
    }
}
