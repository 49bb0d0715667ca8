//! The real `tandem` binary as a child process: spawned with a clean environment pointing at
//! a simulator and a capture intake, its stderr collected line by line.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// A key-shaped test API key (it must never appear in the agent's output).
pub const TEST_API_KEY: &str = "0123456789abcdef0123456789abcdef";

/// Sets each `(name, value)` of `settings` in `env`, replacing an earlier value of that name.
pub fn set_env<K: AsRef<str>, V: AsRef<str>>(
    env: &mut Vec<(String, String)>,
    settings: impl IntoIterator<Item = (K, V)>,
) {
    for (k, v) in settings {
        let k = k.as_ref();
        env.retain(|(ek, _)| ek != k);
        env.push((k.to_string(), v.as_ref().to_string()));
    }
}

/// The environment Lambda would give the extension, pointed at the simulator and intake.
pub fn lambda_env(runtime_api: &str, intake_url: &str, managed: bool) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "tandem-test".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            if managed { "2048" } else { "128" }.into(),
        ),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12".into()),
        ("LAMBDA_TASK_ROOT", "/nonexistent-tandem-task-root".into()),
        ("DD_API_KEY", TEST_API_KEY.into()),
        ("DD_LOGS_CONFIG_LOGS_DD_URL", intake_url.to_string()),
        ("DD_SITE", "datadoghq.com".into()),
        ("DD_LOG_LEVEL", "debug".into()),
        ("TANDEM_TELEMETRY_ADDR", "127.0.0.1:0".into()),
        ("DD_DOGSTATSD_PORT", "0".into()),
        ("DD_DD_URL", intake_url.to_string()),
        ("DD_APM_DD_URL", intake_url.to_string()),
        ("DD_APM_RECEIVER_PORT", "0".into()),
        ("TANDEM_LIFECYCLE_PORT", "0".into()),
    ];
    if managed {
        env.push((
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            "lambda-managed-instances".into(),
        ));
    } else {
        env.push(("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()));
    }
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub struct AgentProcess {
    child: Child,
    pub started: Instant,
    stderr: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
    exited: Option<(ExitStatus, Instant)>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl AgentProcess {
    /// Spawns `binary` with exactly `env` (plus PATH).
    pub fn spawn(binary: &Path, env: &[(String, String)]) -> std::io::Result<AgentProcess> {
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd.spawn()?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let changed = Arc::new(Notify::new());
        let mut reader = None;
        if let Some(pipe) = child.stderr.take() {
            let (lines, changed) = (stderr.clone(), changed.clone());
            reader = Some(tokio::spawn(async move {
                let mut reader = tokio::io::BufReader::new(pipe).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if std::env::var_os("TANDEM_TEST_ECHO").is_some() {
                        eprintln!("[agent] {line}");
                    }
                    tandem::sync::lock(&lines).push(line);
                    changed.notify_waiters();
                }
            }));
        }
        Ok(AgentProcess {
            child,
            started,
            stderr,
            changed,
            exited: None,
            reader,
        })
    }

    /// The child's process id (for reading `/proc`), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Everything the agent wrote to stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        tandem::sync::lock(&self.stderr).clone()
    }

    /// Waits for a stderr line containing `needle`.
    pub async fn wait_for_line(&self, needle: &str, timeout: Duration) -> bool {
        super::wait_until(&self.changed, timeout, || {
            self.stderr().iter().any(|l| l.contains(needle))
        })
        .await
    }

    /// The IPv4 DogStatsD address the agent reported listening on (needs `DD_LOG_LEVEL=debug`).
    pub async fn dogstatsd_addr(&self, timeout: Duration) -> Option<std::net::SocketAddr> {
        self.wait_for_line("DogStatsD listening on", timeout).await;
        let line = self
            .stderr()
            .into_iter()
            .find(|l| l.contains("DogStatsD listening on"))?;
        let list = line.split("listening on [").nth(1)?;
        list.split([',', ']']).find_map(|a| {
            a.trim()
                .parse::<std::net::SocketAddr>()
                .ok()
                .filter(|a| a.is_ipv4())
        })
    }

    /// The trace agent's address, from its start-up line.
    pub async fn trace_agent_addr(&self, timeout: Duration) -> Option<std::net::SocketAddr> {
        self.reported_addr("trace agent listening on ", timeout)
            .await
    }

    /// The lifecycle API's address, from its start-up line.
    pub async fn lifecycle_addr(&self, timeout: Duration) -> Option<std::net::SocketAddr> {
        self.reported_addr("lifecycle API listening on ", timeout)
            .await
    }

    /// The `ip:port` that follows `marker` in the agent's log.
    async fn reported_addr(&self, marker: &str, timeout: Duration) -> Option<std::net::SocketAddr> {
        self.wait_for_line(marker, timeout).await;
        let line = self.stderr().into_iter().find(|l| l.contains(marker))?;
        line.split(marker).nth(1)?.trim().parse().ok()
    }

    /// Waits for the process to exit; returns its status and when it exited.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<(ExitStatus, Instant)> {
        if self.exited.is_none() {
            let status = tokio::time::timeout(timeout, self.child.wait())
                .await
                .ok()?
                .ok()?;
            self.exited = Some((status, Instant::now()));
            // Everything the process wrote is read before anyone looks at it.
            if let Some(reader) = self.reader.take() {
                let _ = tokio::time::timeout(timeout, reader).await;
            }
        }
        self.exited
    }

    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// A counter's value in the agent's last `counters:` line (0 when absent).
pub fn counter(log: &[String], name: &str) -> u64 {
    let prefix = format!(" {name}=");
    log.iter()
        .rev()
        .find(|l| l.contains("counters: "))
        .and_then(|l| {
            let rest = l.get(l.find(&prefix)? + prefix.len()..)?;
            rest.split(' ').next()?.parse::<f64>().ok()
        })
        .map_or(0, |v| v as u64)
}

/// The extension as it ships (release profile), built once per test process by the `cargo`
/// running the tests (a no-op when up to date). Memory bounds are properties of this binary:
/// the debug build carries about 12 MiB more of its own.
pub fn release_extension() -> &'static std::path::Path {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| release_binary("tandem-extension", "tandem"))
}

/// `tandem-tune` in the release profile (its `--validate` runs the release extension beside it).
pub fn release_tune() -> &'static std::path::Path {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| release_binary("tandem-testkit", "tandem-tune"))
}

/// Builds `package`'s binary `bin` in the release profile with the `cargo` running the tests.
fn release_binary(package: &str, bin: &str) -> std::path::PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..");
    let status = std::process::Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--quiet", "--release", "-p", package, "--bin", bin])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the release {bin} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("release").join(bin)
}

/// The extension binary to run: `TANDEM_BIN` if set, else `tandem` beside this executable.
/// Under `cargo run` (which sets `CARGO`) it is built first, in this executable's profile, so
/// the README's one command is all a local run needs (a no-op when it is up to date).
pub fn agent_binary() -> Result<std::path::PathBuf, String> {
    if let Some(path) = std::env::var_os("TANDEM_BIN") {
        return Ok(std::path::PathBuf::from(path));
    }
    let me = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let dir = me
        .parent()
        .ok_or_else(|| format!("{} has no parent folder", me.display()))?;
    if let Some(cargo) = std::env::var_os("CARGO") {
        let mut build = std::process::Command::new(cargo);
        build.args([
            "build",
            "--quiet",
            "-p",
            "tandem-extension",
            "--bin",
            "tandem",
        ]);
        if dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build
            .status()
            .map_err(|e| format!("cannot run cargo to build the extension: {e}"))?;
        if !status.success() {
            return Err(format!("building the extension failed ({status})"));
        }
    }
    let binary = dir.join("tandem");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "{} not found: build it with `cargo build --release --bin tandem`, or set TANDEM_BIN",
            binary.display()
        ))
    }
}

/// The peak RSS the extension logged at shutdown (`shutdown: peak memory N KiB (VmHWM)`).
pub fn peak_kib(log: &[String]) -> Option<u64> {
    log.iter().find_map(|l| {
        l.split("shutdown: peak memory ")
            .nth(1)?
            .split(" KiB")
            .next()?
            .parse()
            .ok()
    })
}
