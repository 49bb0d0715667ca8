//! The test kit: a Lambda platform simulator (Extensions + Telemetry APIs, both modes), a
//! capture intake that decodes and records what the agent ships and can inject faults, and a
//! handle on the real `tandem` process, and the external tools the tests drive (provisioned on
//! first use). Its own crate, used by the integration tests, the benches and `tandem-local`;
//! the extension binary never links it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a panic fails the test that hit it

pub mod certs;
pub mod events;
pub mod floods;
pub mod idle_close;
pub mod intake;
pub mod latency;
pub mod lifecycle;
pub mod msgpack;
pub mod platform;
pub mod process;
pub mod proxy;
pub mod replay;
pub mod runtime_api;
pub mod tools;

use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A loopback port that was free a moment ago (for servers that take a port number).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Waits (polling, up to `timeout`) until a child server accepts connections on `port`: an
/// external process offers nothing else to wait on.
pub fn wait_listening(port: u16, timeout: Duration) -> bool {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Waits until `condition` holds, re-checking whenever `changed` is notified; `false` on timeout.
pub async fn wait_until(
    changed: &Notify,
    timeout: Duration,
    condition: impl FnMut() -> bool,
) -> bool {
    tandem::sync::wait_until(changed, Instant::now() + timeout, condition).await
}

/// A fresh 36-character request id, unique within the process.
pub fn request_id(n: u64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let pid = u64::from(std::process::id());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n & 0xffff_ffff,
        pid & 0xffff,
        seq & 0xfff,
        (seq >> 12) & 0xfff,
        (n << 16) ^ seq
    )
}

/// A simulator, a capture intake and the real agent wired together.
pub struct Harness {
    pub platform: platform::Platform,
    pub intake: intake::CaptureIntake,
    pub agent: process::AgentProcess,
}

impl Harness {
    /// Starts everything and waits for the agent's first `/next` (the end of its init).
    pub async fn start(
        binary: &std::path::Path,
        mode: platform::SimMode,
        telemetry: platform::TelemetryAnswer,
        extra_env: &[(&str, &str)],
    ) -> Result<Harness, String> {
        let platform = platform::Platform::start(mode, telemetry)
            .await
            .map_err(|e| format!("platform: {e}"))?;
        let intake = intake::CaptureIntake::start()
            .await
            .map_err(|e| format!("intake: {e}"))?;
        let mut env = process::lambda_env(
            &platform.runtime_api(),
            &intake.url(),
            mode == platform::SimMode::ManagedInstance,
        );
        process::set_env(&mut env, extra_env.iter().copied());
        let agent = process::AgentProcess::spawn(binary, &env)
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        if !platform.wait_next_calls(1, Duration::from_secs(10)).await {
            return Err(format!(
                "the agent never called /next; its stderr:\n{}",
                agent.stderr().join("\n")
            ));
        }
        Ok(Harness {
            platform,
            intake,
            agent,
        })
    }

    /// Sends SHUTDOWN with `deadline` and waits for the agent to exit; returns the exit time.
    pub async fn shutdown(
        &mut self,
        deadline: Duration,
    ) -> Result<(std::process::ExitStatus, Instant, Instant), String> {
        let sent = Instant::now();
        self.platform.send_shutdown(deadline);
        let (status, at) = self
            .agent
            .wait_exit(deadline + Duration::from_secs(5))
            .await
            .ok_or_else(|| {
                format!(
                    "the agent did not exit; its stderr:\n{}",
                    self.agent.stderr().join("\n")
                )
            })?;
        Ok((status, sent, at))
    }
}
