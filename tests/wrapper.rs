//! `/opt/datadog_wrapper` (issue 13, item 1): a fake Java runtime command and a fake .NET
//! environment run through the layer's wrapper, under `sh` (dash here, as POSIX as it gets) and
//! `bash` (what Amazon Linux runs it with); the exact argv and environment the runtime receives
//! are asserted. The wrapper under AWS's runtime client is in `tests/ecosystem/wrapper.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const SHELLS: [&str; 2] = ["sh", "bash"];

fn wrapper() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("layer/datadog_wrapper")
}

/// A scratch directory with a fake `/opt` and a fake runtime that records what it was given.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("tandem-wrapper-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("opt")).unwrap();
        // The runtime: its argv NUL-separated, its environment NUL-separated.
        let runtime = dir.join("bin/fake runtime");
        std::fs::create_dir_all(runtime.parent().unwrap()).unwrap();
        std::fs::write(
            &runtime,
            "#!/bin/sh\n{ printf '%s\\0' \"$0\"; for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } > \"$OUT.argv\"\nenv -0 > \"$OUT.env\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch { dir }
    }

    fn runtime(&self) -> String {
        self.dir.join("bin/fake runtime").display().to_string()
    }

    fn opt(&self) -> PathBuf {
        self.dir.join("opt")
    }

    fn touch(&self, rel: &str) -> String {
        let p = self.opt().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"stand-in").unwrap();
        p.display().to_string()
    }

    /// Runs `args` through the wrapper with exactly `env` (plus what the harness needs);
    /// returns the runtime's argv and environment and the wrapper's stderr.
    fn run(
        &self,
        shell: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Vec<String>, HashMap<String, String>, String) {
        let out = self.dir.join("out");
        let _ = std::fs::remove_file(out.with_extension("argv"));
        let r = Command::new(shell)
            .arg(wrapper())
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("OUT", &out)
            .env("TANDEM_WRAPPER_OPT", self.opt())
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(r.status.success(), "{shell}: {r:?}");
        let split = |bytes: Vec<u8>| -> Vec<String> {
            bytes
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8(s.to_vec()).unwrap())
                .collect()
        };
        let argv = split(std::fs::read(out.with_extension("argv")).unwrap());
        let envs = split(std::fs::read(out.with_extension("env")).unwrap())
            .into_iter()
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        (argv, envs, String::from_utf8_lossy(&r.stderr).into_owned())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The command Lambda's Java runtime starts, with arguments that hold spaces and quotes.
const JAVA_ARGS: [&str; 7] = [
    "-XX:MaxHeapSize=445645k",
    "-XX:-TieredCompilation",
    "-Dname=with two  spaces",
    "-Dquote=it's \"quoted\"",
    "-cp",
    "/var/runtime/lib/a b.jar:/var/task",
    "com.amazonaws.services.lambda.runtime.api.client.AWSLambda",
];

#[test]
fn java_with_the_tracer_gets_the_agent_and_c1_and_every_argument_intact() {
    let s = Scratch::new("java");
    let jar = s.touch("java/lib/dd-java-agent.jar");
    for shell in SHELLS {
        let mut args = vec![s.runtime()];
        args.extend(JAVA_ARGS.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (argv, env, stderr) = s.run(
            shell,
            &args,
            &[
                ("AWS_EXECUTION_ENV", "AWS_Lambda_java21"),
                ("DD_LOG_LEVEL", "WARN"),
            ],
        );
        let agent = format!("-javaagent:{jar}");
        let runtime = s.runtime();
        let want: Vec<&str> = [runtime.as_str(), agent.as_str(), "-XX:TieredStopAtLevel=1"]
            .into_iter()
            .chain(
                JAVA_ARGS
                    .iter()
                    .copied()
                    .filter(|a| *a != "-XX:-TieredCompilation"),
            )
            .collect();
        assert_eq!(argv, want, "{shell}");
        for (k, v) in [
            ("DD_JMXFETCH_ENABLED", "false"),
            ("DD_RUNTIME_METRICS_ENABLED", "false"),
            ("DD_REMOTE_CONFIG_ENABLED", "false"),
            ("DD_APPSEC_ENABLED", "false"),
            ("DD_LOG_LEVEL", "warn"),
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ] {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "{shell}: {k}");
        }
        assert!(stderr.is_empty(), "{shell}: {stderr}");
    }
}

#[test]
fn java_without_the_tracer_runs_the_command_unchanged() {
    let s = Scratch::new("java-bare");
    for shell in SHELLS {
        let mut args = vec![s.runtime()];
        args.extend(JAVA_ARGS.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (argv, env, _) = s.run(shell, &args, &[("AWS_EXECUTION_ENV", "AWS_Lambda_java21")]);
        assert_eq!(argv, args, "{shell}");
        assert!(!env.contains_key("DD_JMXFETCH_ENABLED"), "{shell}");
    }
}

#[test]
fn dotnet_with_the_tracer_gets_the_profiler_and_without_it_one_warning() {
    let s = Scratch::new("dotnet");
    let args = [
        s.runtime(),
        "/var/runtime/bootstrap.dll".into(),
        "My.Handler::Run".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for shell in SHELLS {
        let (argv, env, stderr) =
            s.run(shell, &args, &[("AWS_EXECUTION_ENV", "AWS_Lambda_dotnet8")]);
        assert_eq!(argv, args, "{shell}");
        assert!(
            !env.contains_key("CORECLR_ENABLE_PROFILING"),
            "{shell}: no profiler, no profiling"
        );
        assert_eq!(stderr.lines().count(), 1, "{shell}: {stderr}");
        assert!(
            stderr.contains(".NET tracer was not found"),
            "{shell}: {stderr}"
        );
    }
    let x64 = s.touch("datadog/linux-x64/Datadog.Trace.ClrProfiler.Native.so");
    let arm64 = s.touch("datadog/linux-arm64/Datadog.Trace.ClrProfiler.Native.so");
    let home = s.opt().join("datadog").display().to_string();
    for shell in SHELLS {
        let (argv, env, stderr) = s.run(
            shell,
            &args,
            &[
                ("AWS_EXECUTION_ENV", "AWS_Lambda_dotnet8"),
                ("DD_LOG_LEVEL", "Debug"),
            ],
        );
        assert_eq!(argv, args, "{shell}");
        for (k, v) in [
            ("CORECLR_ENABLE_PROFILING", "1"),
            ("CORECLR_PROFILER", "{846F5F1C-F9AE-4B07-969E-05C26BC060D8}"),
            ("CORECLR_PROFILER_PATH_64", x64.as_str()),
            ("CORECLR_PROFILER_PATH_ARM64", arm64.as_str()),
            ("DD_DOTNET_TRACER_HOME", home.as_str()),
            ("DD_TRACE_STARTUP_LOGS", "0"),
            ("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false"),
            ("DD_CIVISIBILITY_ENABLED", "0"),
            ("DD_APPSEC_ENABLED", "0"),
            ("DD_PROFILING_ENABLED", "0"),
            ("DD_LOG_LEVEL", "debug"),
        ] {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "{shell}: {k}");
        }
        assert!(
            stderr.contains("configuring the .NET tracer"),
            "{shell}: debug lines at debug level"
        );
    }
}

#[test]
fn appsec_or_the_proxy_leave_the_runtime_api_alone_with_one_warning() {
    let s = Scratch::new("appsec");
    let args = [s.runtime(), "handler".into()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for shell in SHELLS {
        for flag in [
            ("DD_SERVERLESS_APPSEC_ENABLED", "True"),
            ("DD_EXPERIMENTAL_ENABLE_PROXY", "true"),
        ] {
            let (argv, env, stderr) = s.run(
                shell,
                &args,
                &[flag, ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")],
            );
            assert_eq!(argv, args);
            assert_eq!(
                env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001",
                "{shell} {flag:?}"
            );
            assert_eq!(stderr.lines().count(), 1, "{shell} {flag:?}: {stderr}");
            assert!(stderr.contains("AWS_LAMBDA_RUNTIME_API is left as it is"));
        }
        let (_, _, stderr) = s.run(shell, &args, &[("DD_SERVERLESS_APPSEC_ENABLED", "false")]);
        assert!(stderr.is_empty(), "{shell}: {stderr}");
    }
}
