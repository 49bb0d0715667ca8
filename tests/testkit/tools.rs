//! The external programs the tests drive — Datadog's real Python and Node clients, AWS's runtime
//! client, moto and cfn-lint — provisioned on first use, so that `cargo test` alone is all a
//! fresh machine needs. Versions are pinned in `tests/clients/requirements.txt` (every
//! dependency too, in `constraints.txt`) and `tests/clients/package-lock.json`; each set is
//! installed once into a cache under the target folder (`test-tools/`, keyed by a hash of its
//! pin files), so later runs need no network.
//!
//! A tool that cannot be had is one panic line naming it and the command that installs it;
//! never a silent skip. Provisioning is serialised across test processes with a file lock.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root (this crate is `tests/testkit/`).
fn workspace() -> PathBuf {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR"));
    kit.ancestors().nth(2).unwrap_or(kit).to_path_buf()
}

/// Where cargo builds: `CARGO_TARGET_DIR` if set, else `target/` at the workspace root.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

fn clients() -> PathBuf {
    workspace().join("tests/clients")
}

/// FNV-1a: a stable name for a pin file's content (std's hasher is not stable across builds).
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Runs `cmd`; on failure, the reason and the last lines it printed.
fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot start: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = text.lines().rev().take(3).collect();
    Err(format!(
        "{}: {}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    ))
}

/// Installs one pinned set into `test-tools/<kind>-<hash of pins>` unless a finished install
/// is already there (marked by an `ok` file written last).
fn provision(
    kind: &str,
    pins: &[PathBuf],
    install: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let mut content = Vec::new();
    for p in pins {
        content.extend(std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?);
    }
    let root = target_dir().join("test-tools");
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let dir = root.join(format!("{kind}-{}", fingerprint(&content)));
    let done = dir.join("ok");
    if done.exists() {
        return Ok(dir);
    }
    // Another test process may be installing the same set: wait for it, then look again.
    let lock = std::fs::File::create(root.join(format!("{kind}.lock")))
        .map_err(|e| format!("cannot create the lock file: {e}"))?;
    lock.lock().map_err(|e| format!("cannot lock: {e}"))?;
    if done.exists() {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    eprintln!(
        "testkit: installing the pinned {kind} test clients into {} (once)",
        dir.display()
    );
    install(&dir)?;
    std::fs::write(&done, "").map_err(|e| format!("cannot mark {}: {e}", dir.display()))?;
    Ok(dir)
}

/// A virtual environment with `tests/clients/requirements.txt`; its `bin/`.
fn python_bin() -> Result<PathBuf, String> {
    let pins = clients().join("requirements.txt");
    let constraints = clients().join("constraints.txt");
    let dir = provision("python", &[pins.clone(), constraints], |dir| {
        let venv = dir.join("venv");
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .map_err(|e| format!("python3 -m venv: {e}"))?;
        run(Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&pins))
        .map_err(|e| format!("pip install -r {}: {e}", pins.display()))
    })?;
    Ok(dir.join("venv/bin"))
}

/// `node_modules` installed from `tests/clients/package-lock.json`.
fn node_modules() -> Result<PathBuf, String> {
    let lock = clients().join("package-lock.json");
    let dir = provision("node", &[lock], |dir| {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(clients().join(file), dir.join(file))
                .map_err(|e| format!("cannot copy {file}: {e}"))?;
        }
        run(Command::new("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(dir))
        .map_err(|e| format!("npm ci: {e}"))
    })?;
    Ok(dir.join("node_modules"))
}

/// The Python clients (datadog, ddtrace, datadog-lambda, awslambdaric), moto and cfn-lint.
/// Environment for a child process: `PATH` starts with the virtual environment's `bin/`, so
/// `python3`, `moto_server` and `cfn-lint` are the pinned ones. Panics (one line) if they
/// cannot be installed.
pub fn python_env() -> Vec<(OsString, OsString)> {
    static BIN: OsOnce = OnceLock::new();
    let bin = BIN.get_or_init(python_bin).as_ref().unwrap_or_else(|e| {
        panic!(
            "the Python test clients are missing ({e}); install them with: python3 -m pip install -r tests/clients/requirements.txt"
        )
    });
    vec![("PATH".into(), prepend_path(bin))]
}

/// The Node clients (hot-shots, dd-trace): environment for `node` with `NODE_PATH` set.
/// Panics (one line) if they cannot be installed.
pub fn node_env() -> Vec<(OsString, OsString)> {
    static MODULES: OsOnce = OnceLock::new();
    let modules = MODULES.get_or_init(node_modules).as_ref().unwrap_or_else(|e| {
        panic!(
            "the Node test clients are missing ({e}); install them with: (cd tests/clients && npm ci)"
        )
    });
    vec![("NODE_PATH".into(), modules.clone().into_os_string())]
}

/// Both client sets, for tests that run either.
pub fn clients_env() -> Vec<(OsString, OsString)> {
    let mut env = python_env();
    env.extend(node_env());
    env
}

type OsOnce = OnceLock<Result<PathBuf, String>>;

fn prepend_path(dir: &Path) -> OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(existing) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

/// Debian's Chromium, for the tests that render a page headless: `/usr/bin/chromium`, installed
/// with apt once if missing (the machine is root). Panics (one line) if it cannot be had.
pub fn chromium() -> PathBuf {
    static BIN: OsOnce = OnceLock::new();
    let bin = BIN.get_or_init(|| {
        let bin = PathBuf::from("/usr/bin/chromium");
        if bin.exists() {
            return Ok(bin);
        }
        let root = target_dir().join("test-tools");
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let lock = std::fs::File::create(root.join("chromium.lock"))
            .map_err(|e| format!("cannot create the lock file: {e}"))?;
        lock.lock().map_err(|e| format!("cannot lock: {e}"))?;
        if !bin.exists() {
            eprintln!("testkit: installing Debian's chromium with apt (once)");
            run(Command::new("apt-get").args(["update", "-qq"]))
                .map_err(|e| format!("apt-get update: {e}"))?;
            run(Command::new("apt-get")
                .args(["install", "-y", "-qq", "chromium"])
                .env("DEBIAN_FRONTEND", "noninteractive"))
            .map_err(|e| format!("apt-get install chromium: {e}"))?;
        }
        Ok(bin)
    });
    bin.as_ref().cloned().unwrap_or_else(|e| {
        panic!("Chromium is missing ({e}); install it with: apt-get install -y chromium")
    })
}

/// Runs headless Chromium on `url` with `args` (the flags a closed network needs included);
/// returns its stdout.
pub fn chromium_headless(url: &str, args: &[&str]) -> String {
    let profile = std::env::temp_dir().join(format!("testkit-chromium-{}", std::process::id()));
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot start chromium: {e}"));
    let _ = std::fs::remove_dir_all(profile);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a client script of `tests/clients/` with `program` (`node`, else the pinned Python) to
/// completion within `timeout`, with `env` added; its stdout. Panics, showing its stderr, on a
/// non-zero exit or when it does not finish.
pub async fn run_client(
    program: &str,
    args: &[String],
    env: &[(&str, String)],
    timeout: std::time::Duration,
) -> String {
    let tools = match program {
        "node" => node_env(),
        _ => python_env(),
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.envs(tools)
        .args(args)
        .current_dir(clients())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} did not finish"))
        .unwrap_or_else(|e| panic!("{program} could not start ({e})"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
