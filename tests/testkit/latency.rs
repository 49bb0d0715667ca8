//! A TCP proxy that puts distance between the extension and an intake, for the flush-cost tests:
//! every byte waits half a round trip in each direction, so a TLS handshake through it pays its
//! real round trip; TCP's own handshake completes at once on loopback, so the proxy charges it
//! as one more round trip before the first byte goes upstream. A connection idle longer than
//! `reset_idle` is reset (RST, one round trip after the client next sends), as a NAT gateway
//! that dropped the flow while the environment was frozen. It records when connections opened
//! and when resets were met, so tests count round trips and connections instead of timing them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What went through the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub connections: u64,
    pub resets: u64,
    /// When each connection was accepted (its TCP and TLS handshakes start then).
    pub opened_at: Vec<Instant>,
    /// When a client sent on each connection that was then reset.
    pub reset_at: Vec<Instant>,
}

impl Stats {
    /// Connections opened and resets met within `from..=to`: each is round trips a request
    /// waited for (a handshake, or a send that only found the flow gone) instead of one.
    pub fn within(&self, from: Instant, to: Instant) -> (usize, usize) {
        let count = |v: &[Instant]| v.iter().filter(|t| (from..=to).contains(*t)).count();
        (count(&self.opened_at), count(&self.reset_at))
    }
}

pub struct LatencyProxy {
    addr: SocketAddr,
    stats: Arc<Mutex<Stats>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LatencyProxy {
    /// Listens on a free loopback port, relaying to `upstream` from `rtt` away.
    pub async fn start(
        upstream: SocketAddr,
        rtt: Duration,
        reset_idle: Option<Duration>,
    ) -> std::io::Result<LatencyProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Mutex::new(Stats::default()));
        let s = stats.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                {
                    let mut stats = tandem::sync::lock(&s);
                    stats.connections += 1;
                    stats.opened_at.push(Instant::now());
                }
                let s = s.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, rtt, reset_idle, &s).await;
                    }
                });
            }
        });
        Ok(LatencyProxy { addr, stats, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> Stats {
        tandem::sync::lock(&self.stats).clone()
    }
}

/// Milliseconds since `base`, for the shared last-activity mark.
fn ms_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    rtt: Duration,
    reset_idle: Option<Duration>,
    stats: &Mutex<Stats>,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let base = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let reset = Arc::new(AtomicBool::new(false));
    let (mut client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    let (up_tx, up_rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let up = tokio::spawn(deliver(up_rx, server_w, reset.clone()));
    let down = tokio::spawn(pump(
        server_r,
        client_w,
        rtt / 2,
        last.clone(),
        base,
        reset.clone(),
    ));
    let mut first = true;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match client_r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let idle =
            Duration::from_millis(ms_since(base).saturating_sub(last.load(Ordering::Relaxed)));
        if !first && reset_idle.is_some_and(|limit| idle > limit) {
            // The flow is gone: the far end answers the client's next packet with a reset.
            let sent = Instant::now();
            tokio::time::sleep(rtt).await;
            {
                let mut stats = tandem::sync::lock(stats);
                stats.resets += 1;
                stats.reset_at.push(sent);
            }
            reset.store(true, Ordering::SeqCst);
            let _ = client_r.as_ref().set_zero_linger();
            up.abort();
            down.abort();
            // The last half dropped closes the socket: with a zero linger, that is the RST.
            return;
        }
        last.store(ms_since(base), Ordering::Relaxed);
        // TCP's handshake: charged before the first byte, as the client's connect could not be.
        let extra = if first { rtt } else { Duration::ZERO };
        first = false;
        if up_tx
            .send((Instant::now() + rtt / 2 + extra, buf[..n].to_vec()))
            .is_err()
        {
            break;
        }
    }
    drop(up_tx);
    let _ = up.await;
    let _ = down.await;
}

/// Copies `from` to `to`, each chunk `delay` after it was read.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    last: Arc<AtomicU64>,
    base: Instant,
    reset: Arc<AtomicBool>,
) {
    let (tx, rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(deliver(rx, to, reset));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                last.store(ms_since(base), Ordering::Relaxed);
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// Returns at `due`, to within tens of microseconds. tokio's timer rounds a deadline up to the
/// next millisecond — half a millisecond late per hop on average, about one millisecond per
/// request and answer, which the flush-cost bench would charge to the extension — so the last
/// stretch is slept on a blocking thread, and a chunk already due goes at once.
async fn wait_until(due: Instant) {
    let now = Instant::now();
    if due <= now {
        return;
    }
    if let Some(coarse) = due
        .checked_sub(Duration::from_millis(2))
        .filter(|c| *c > now)
    {
        tokio::time::sleep_until(coarse.into()).await;
    }
    let rest = due.saturating_duration_since(Instant::now());
    if !rest.is_zero() {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
    }
}

/// Writes each chunk at its due time; when the chunks end, shuts the write side (a FIN) unless
/// the connection is being reset.
async fn deliver(
    mut rx: mpsc::UnboundedReceiver<(Instant, Vec<u8>)>,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    reset: Arc<AtomicBool>,
) {
    while let Some((due, bytes)) = rx.recv().await {
        wait_until(due).await;
        if reset.load(Ordering::SeqCst) || to.write_all(&bytes).await.is_err() {
            break;
        }
    }
    if !reset.load(Ordering::SeqCst) {
        let _ = to.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server: writes back what it reads, until EOF.
    async fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = c.read(&mut buf).await {
                        if n == 0 || c.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(c: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
        c.write_all(msg).await?;
        let mut got = vec![0u8; msg.len()];
        c.read_exact(&mut got).await?;
        Ok(got)
    }

    #[tokio::test]
    async fn bytes_cross_a_round_trip_away_and_the_first_pays_for_the_handshake() {
        let rtt = Duration::from_millis(40);
        let proxy = LatencyProxy::start(echo().await, rtt, None).await.unwrap();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        let t = Instant::now();
        assert_eq!(round_trip(&mut c, b"hello").await.unwrap(), b"hello");
        // Never sooner than TCP's handshake and the exchange: bounds, not timings.
        assert!(t.elapsed() >= rtt * 2, "{:?}", t.elapsed());
        let t = Instant::now();
        assert_eq!(round_trip(&mut c, b"again").await.unwrap(), b"again");
        assert!(t.elapsed() >= rtt, "{:?}", t.elapsed());
        assert_eq!(proxy.stats().connections, 1);
    }

    #[tokio::test]
    async fn a_connection_idle_past_the_limit_is_reset_when_next_used() {
        let rtt = Duration::from_millis(10);
        let limit = Duration::from_millis(100);
        let proxy = LatencyProxy::start(echo().await, rtt, Some(limit))
            .await
            .unwrap();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        round_trip(&mut c, b"1").await.unwrap();
        // Idle past the limit: what a frozen environment's pooled connection lives through.
        tokio::time::sleep(limit * 2).await;
        assert!(round_trip(&mut c, b"2").await.is_err(), "the flow is gone");
        assert_eq!(proxy.stats().resets, 1);
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut fresh, b"3").await.unwrap(), b"3");
        assert_eq!(proxy.stats().connections, 2);
    }
}
