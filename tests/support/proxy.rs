//! A real HTTP proxy for tests: Debian's tinyproxy (installed by `.ci/run`), started on a
//! free loopback port with a log that tells which requests went through it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A running tinyproxy; stopped on drop.
pub struct Tinyproxy {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tinyproxy {
    /// Starts tinyproxy on a free loopback port, logging connections under `dir`.
    pub fn start(dir: &Path) -> Tinyproxy {
        let port = super::free_port();
        let log = dir.join("tinyproxy.log");
        let conf = dir.join("tinyproxy.conf");
        // No ConnectPort lines: CONNECT to any port (the intake's is random).
        std::fs::write(&conf, format!("Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\nLogFile \"{}\"\nLogLevel Connect\nAllow 127.0.0.1\n", log.display())).unwrap();
        let child = Command::new("tinyproxy")
            .args(["-d", "-c"])
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tinyproxy is installed (.ci/run installs it)");
        assert!(
            super::wait_listening(port, Duration::from_secs(2)),
            "tinyproxy did not start"
        );
        Tinyproxy { child, port, log }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `CONNECT` tunnels opened so far.
    pub fn connects(&self) -> usize {
        self.count("CONNECT")
    }

    /// Log lines naming `needle` (a plain-HTTP request's URL, a tunnel's host).
    pub fn count(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }
}
