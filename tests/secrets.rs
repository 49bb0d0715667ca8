//! API keys from AWS Secrets Manager and KMS, against a real AWS emulator (moto server, from
//! PyPI; the test kit provisions it): plain and JSON secrets, KMS with and without an encryption
//! context, rotation after a 403, and an emulator that is down at start.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tandem_testkit::events as ev;
use tandem_testkit::intake::{CaptureIntake, Fault};
use tandem_testkit::platform::{Platform, SimMode, TelemetryAnswer};
use tandem_testkit::process::{AgentProcess, lambda_env};
use tandem_testkit::{free_port, request_id, wait_listening};

const T: Duration = Duration::from_secs(15);
const KEY_1: &str = "11111111111111111111111111111111";
const KEY_2: &str = "22222222222222222222222222222222";

struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    fn start(port: u16) -> Moto {
        Moto::start_with(port, &[])
    }

    /// `INITIAL_NO_AUTH_ACTION_COUNT=n` makes moto enforce IAM after `n` calls.
    fn start_with(port: u16, env: &[(&str, &str)]) -> Moto {
        let child = Command::new("moto_server")
            .envs(tandem_testkit::tools::python_env())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is provisioned by the test kit");
        assert!(
            wait_listening(port, Duration::from_secs(10)),
            "moto did not start"
        );
        Moto { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One AWS JSON-protocol call (moto does not check signatures).
    async fn call(&self, service: &str, target: &str, body: Value) -> Value {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let r = reqwest::Client::new()
            .post(self.url())
            .header("X-Amz-Target", target)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("Authorization", auth)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{target}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// An IAM user with no policy at all, and its access key (id, secret).
    async fn user_without_permissions(&self) -> (String, String) {
        let call = |body: &'static str| async move {
            reqwest::Client::new()
                .post(self.url())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header(
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
                )
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        };
        call("Action=CreateUser&UserName=nobody&Version=2010-05-08").await;
        let xml = call("Action=CreateAccessKey&UserName=nobody&Version=2010-05-08").await;
        let field = |tag: &str| {
            let open = format!("<{tag}>");
            let start = xml.find(&open).expect(tag) + open.len();
            let end = xml[start..].find('<').unwrap() + start;
            xml[start..end].to_string()
        };
        (field("AccessKeyId"), field("SecretAccessKey"))
    }

    async fn create_secret(&self, name: &str, value: &str) -> String {
        let v = self
            .call(
                "secretsmanager",
                "secretsmanager.CreateSecret",
                json!({"Name": name, "SecretString": value}),
            )
            .await;
        v["ARN"].as_str().unwrap().to_string()
    }

    async fn kms_encrypt(&self, plaintext: &str, context: Option<Value>) -> String {
        let key = self.call("kms", "TrentService.CreateKey", json!({})).await;
        let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
        let mut body = json!({"KeyId": key_id, "Plaintext": b64(plaintext.as_bytes())});
        if let Some(c) = context {
            body["EncryptionContext"] = c;
        }
        self.call("kms", "TrentService.Encrypt", body).await["CiphertextBlob"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A simulator, a capture intake and an agent whose key comes from AWS, pointed at moto.
async fn start(
    moto_url: &str,
    key_env: (&str, &str),
    extra: &[(&str, &str)],
) -> (Platform, CaptureIntake, AgentProcess) {
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .unwrap();
    let intake = CaptureIntake::start().await.unwrap();
    let a = agent(&platform, &intake, moto_url, key_env, extra).await;
    (platform, intake, a)
}

/// An agent whose key comes from AWS (no DD_API_KEY), pointed at moto.
async fn agent(
    platform: &Platform,
    intake: &CaptureIntake,
    moto_url: &str,
    key_env: (&str, &str),
    extra: &[(&str, &str)],
) -> AgentProcess {
    let mut env = lambda_env(&platform.runtime_api(), &intake.url(), false);
    env.retain(|(k, _)| k != "DD_API_KEY");
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", moto_url),
        key_env,
    ]
    .iter()
    .chain(extra)
    {
        env.push((k.to_string(), v.to_string()));
    }
    let agent = AgentProcess::spawn(Path::new(env!("CARGO_BIN_EXE_tandem")), &env).unwrap();
    assert!(platform.wait_next_calls(1, T).await, "{:?}", agent.stderr());
    agent
}

async fn keys_seen(key_env: (&str, &str), moto: &Moto) -> Vec<String> {
    let (platform, intake, mut a) = start(&moto.url(), key_env, &[]).await;
    platform
        .invoke(&request_id(1), vec![ev::function_text("keyed")], T)
        .await
        .unwrap();
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();
    let log = a.stderr().join("\n");
    assert!(
        !log.contains(KEY_1) && !log.contains(KEY_2),
        "a key leaked into the log"
    );
    intake
        .accepted("/api/v2/logs")
        .iter()
        .filter_map(|r| r.header("dd-api-key").map(str::to_string))
        .collect()
}

fn assert_only(keys: Vec<String>, expected: &str) {
    assert!(!keys.is_empty(), "nothing was shipped");
    assert!(keys.iter().all(|k| k == expected), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_and_kms_keys_reach_the_intake() {
    let moto = Moto::start(free_port());
    let plain = moto.create_secret("dd-plain", KEY_1).await;
    let json = moto
        .create_secret("dd-json", &json!({"dd_api_key": KEY_2}).to_string())
        .await;
    assert_only(
        keys_seen(("DD_API_KEY_SECRET_ARN", &plain), &moto).await,
        KEY_1,
    );
    assert_only(
        keys_seen(("DD_API_KEY_SECRET_ARN", &json), &moto).await,
        KEY_2,
    );
    let bare = moto.kms_encrypt(KEY_1, None).await;
    assert_only(keys_seen(("DD_KMS_API_KEY", &bare), &moto).await, KEY_1);
    let with_context = moto
        .kms_encrypt(KEY_2, Some(json!({"LambdaFunctionName": "tandem-test"})))
        .await;
    assert_only(
        keys_seen(("DD_KMS_API_KEY", &with_context), &moto).await,
        KEY_2,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_is_picked_up_after_a_403_without_losing_data() {
    let moto = Moto::start(free_port());
    let arn = moto.create_secret("dd-rotating", KEY_1).await;
    let (platform, intake, mut a) = start(
        &moto.url(),
        ("DD_API_KEY_SECRET_ARN", &arn),
        &[("DD_SERVERLESS_FLUSH_STRATEGY", "end")],
    )
    .await;
    platform
        .invoke(
            &request_id(1),
            vec![ev::function_text("before rotation")],
            T,
        )
        .await
        .unwrap();
    moto.call(
        "secretsmanager",
        "secretsmanager.PutSecretValue",
        json!({"SecretId": arn, "SecretString": KEY_2}),
    )
    .await;
    // The old key is now refused: every request of the next flush gets a 403.
    intake.set_fault(Fault::Status(403));
    platform
        .invoke(
            &request_id(2),
            vec![ev::function_text("during rotation")],
            T,
        )
        .await
        .unwrap();
    assert!(
        intake
            .wait_for(T, |r| r.iter().any(|r| r.answered == Some(403)))
            .await
    );
    intake.set_fault(Fault::None);
    assert!(a.wait_for_line("API key resolved", T).await);
    platform
        .invoke(&request_id(3), vec![ev::function_text("after rotation")], T)
        .await
        .unwrap();
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();
    let accepted = intake.accepted("/api/v2/logs");
    let first_new = accepted
        .iter()
        .position(|r| r.header("dd-api-key") == Some(KEY_2))
        .expect("the new key was used");
    assert!(
        accepted[first_new..]
            .iter()
            .all(|r| r.header("dd-api-key") == Some(KEY_2)),
        "every request after rotation carries the new key"
    );
    // Metrics took the new key too (every signal reads the same live key).
    assert!(
        intake
            .accepted("/api/beta/sketches")
            .iter()
            .any(|r| r.header("dd-api-key") == Some(KEY_2)),
        "sketches with the new key"
    );
    let lines: Vec<String> = intake
        .log_entries()
        .iter()
        .map(|e| e["message"]["message"].as_str().unwrap_or("").to_string())
        .collect();
    for l in ["before rotation", "during rotation", "after rotation"] {
        assert_eq!(lines.iter().filter(|x| *x == l).count(), 1, "{l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emulator_that_is_down_delays_nothing_and_data_ships_once_the_key_arrives() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dd-late";
    let (platform, intake, mut a) = start(
        &url,
        ("DD_API_KEY_SECRET_ARN", arn),
        &[
            ("DD_FLUSH_TIMEOUT", "1"),
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
        ],
    )
    .await;
    for n in 0..2 {
        let t = platform
            .invoke(
                &request_id(10 + n),
                vec![ev::function_text(&format!("buffered {n}"))],
                T,
            )
            .await
            .unwrap();
        assert!(
            t.next_called.duration_since(t.runtime_done_delivered) < Duration::from_millis(1_500),
            "held past the flush deadline"
        );
    }
    assert!(a.wait_for_line("cannot resolve the API key", T).await);
    // The emulator comes up with the secret; the next retry finds it.
    let moto = Moto::start(port);
    moto.create_secret("dd-late", KEY_1).await;
    assert!(
        a.wait_for_line("API key resolved", Duration::from_secs(40))
            .await,
        "{:?}",
        a.stderr()
    );
    platform
        .invoke(&request_id(12), vec![ev::function_text("buffered 2")], T)
        .await
        .unwrap();
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();
    let lines: Vec<String> = intake
        .log_entries()
        .iter()
        .map(|e| e["message"]["message"].as_str().unwrap_or("").to_string())
        .collect();
    for n in 0..3 {
        assert_eq!(
            lines
                .iter()
                .filter(|l| **l == format!("buffered {n}"))
                .count(),
            1,
            "buffered {n}"
        );
    }
    assert!(
        intake
            .accepted("/api/v2/logs")
            .iter()
            .all(|r| r.header("dd-api-key") == Some(KEY_1))
    );
    let errors = a
        .stderr()
        .iter()
        .filter(|l| l.contains("cannot resolve the API key"))
        .count();
    assert_eq!(errors, 1, "one clear error, not one per retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_held_in_secrets_configure_dual_shipping_and_tags() {
    let moto = Moto::start(free_port());
    let second = CaptureIntake::start().await.unwrap();
    let port = second.url().rsplit(':').next().unwrap().to_string();
    let primary_key = moto
        .create_secret("dd-key", &json!({"apiKey": KEY_1}).to_string())
        .await;
    let metrics = moto
        .create_secret(
            "dd-metrics-endpoints",
            &json!({ second.url(): [KEY_2] }).to_string(),
        )
        .await;
    let logs = moto
        .create_secret(
            "dd-logs-endpoints",
            &json!([{"api_key": KEY_2, "Host": "http://127.0.0.1", "Port": port.parse::<u16>().unwrap()}])
                .to_string(),
        )
        .await;
    let traces = moto
        .kms_encrypt(&json!({ second.url(): [KEY_2] }).to_string(), None)
        .await;
    let tags = moto.create_secret("dd-tags", "team:vault").await;
    let (platform, intake, mut a) = start(
        &moto.url(),
        ("DD_API_KEY_SECRET_ARN", &primary_key),
        &[
            ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
            ("DD_ADDITIONAL_ENDPOINTS_SECRET_ARN", &metrics),
            ("DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS_SECRET_ARN", &logs),
            ("DD_APM_ADDITIONAL_ENDPOINTS_KMS_ENCRYPTED", &traces),
            ("DD_TAGS_SECRET_ARN", &tags),
        ],
    )
    .await;
    let trace_agent = a.trace_agent_addr(T).await.expect("trace agent address");
    let r = reqwest::Client::new()
        .put(format!("http://{trace_agent}/v0.4/traces"))
        .header("Content-Type", "application/msgpack")
        .body(include_bytes!("fixtures/traces/v04.msgpack").to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    platform
        .invoke(&request_id(1), vec![ev::function_text("twice")], T)
        .await
        .unwrap();
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();

    // Each destination got every signal, with its own key, the first flush included.
    for (capture, key) in [(&intake, KEY_1), (&second, KEY_2)] {
        for path in ["/api/v2/logs", "/api/beta/sketches", "/api/v0.2/traces"] {
            let got = capture.accepted(path);
            assert!(!got.is_empty(), "{path} at {}", capture.url());
            assert!(
                got.iter().all(|r| r.header("dd-api-key") == Some(key)),
                "{path} at {} carries its own key",
                capture.url()
            );
        }
        let entries = capture.log_entries();
        let line = entries
            .iter()
            .find(|e| e["message"]["message"] == "twice")
            .unwrap_or_else(|| panic!("the line at {}", capture.url()));
        assert!(
            line["ddtags"]
                .as_str()
                .is_some_and(|t| t.split(',').any(|t| t == "team:vault")),
            "DD_TAGS came from its secret: {line}"
        );
    }
    let log = a.stderr().join("\n");
    assert!(!log.contains(KEY_1) && !log.contains(KEY_2), "a key leaked");
    assert!(!log.contains("cannot resolve"), "{log}");
}

/// Runs one invocation that logs `lines` lines of 500 bytes while the key cannot be resolved;
/// returns the agent's log.
async fn run_without_key(
    moto_url: &str,
    key_env: (&str, &str),
    extra: &[(&str, &str)],
) -> Vec<String> {
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .unwrap();
    let intake = CaptureIntake::start().await.unwrap();
    let mut env = vec![
        ("DD_FLUSH_TIMEOUT", "1"),
        ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
        ("TANDEM_LOGS_BUFFER_BYTES", "65536"),
    ];
    env.extend_from_slice(extra);
    let mut a = agent(&platform, &intake, moto_url, key_env, &env).await;
    assert!(a.wait_for_line("cannot resolve the API key", T).await);
    let padding = "x".repeat(480);
    let lines: Vec<Value> = (0..LINES)
        .map(|n| ev::function_text(&format!("{n:05} {padding}")))
        .collect();
    let t = platform.invoke(&request_id(1), lines, T).await.unwrap();
    assert!(
        t.next_called.duration_since(t.runtime_done_delivered) < Duration::from_millis(1_500),
        "held past the flush deadline"
    );
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();
    assert!(
        intake.requests().is_empty(),
        "nothing can be shipped without a key"
    );
    a.stderr()
}

const LINES: usize = 300;

/// A counter's value in the last `counters:` summary line (0 when absent).
fn counter(log: &[String], name: &str) -> u64 {
    let prefix = format!(" {name}=");
    log.iter()
        .rev()
        .find(|l| l.contains("counters: "))
        .and_then(|l| {
            let rest = &l[l.find(&prefix)? + prefix.len()..];
            rest.split(' ').next()?.parse().ok()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_and_a_wrong_arn_fail_clearly_delay_nothing_and_stay_within_caps() {
    // Access denied: a real IAM user without any policy, with auth enforced after set-up.
    let moto = Moto::start_with(free_port(), &[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let arn = moto.create_secret("dd-guarded", KEY_1).await;
    let (id, secret) = moto.user_without_permissions().await;
    let log = run_without_key(
        &moto.url(),
        ("DD_API_KEY_SECRET_ARN", &arn),
        &[
            ("AWS_ACCESS_KEY_ID", &id),
            ("AWS_SECRET_ACCESS_KEY", &secret),
        ],
    )
    .await;
    let errors: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("cannot resolve the API key"))
        .collect();
    assert_eq!(errors.len(), 1, "one clear error: {log:?}");
    assert!(errors[0].contains(&arn), "names the source: {}", errors[0]);
    assert!(
        errors[0].contains("HTTP 403") && errors[0].contains("secretsmanager:GetSecretValue"),
        "says why: {}",
        errors[0]
    );
    let joined = log.join("\n");
    assert!(
        !joined.contains(&secret) && !joined.contains(KEY_1),
        "a secret leaked"
    );
    // Memory stays within the log buffer's cap: what did not fit was refused and counted, what
    // was kept is reported as dropped at shutdown — nothing is lost silently.
    let accepted = counter(&log, "tandem.logs.accepted");
    let refused = counter(&log, "tandem.logs.dropped{reason:buffer_full}");
    let undelivered = counter(&log, "tandem.logs.dropped{reason:delivery}");
    assert!(
        accepted > 0 && accepted * 500 <= 65_536,
        "accepted {accepted} entries of 500+ bytes under a 64 KiB cap"
    );
    assert!(refused > 0, "{log:?}");
    assert!(
        accepted + refused >= LINES as u64,
        "accepted {accepted} + refused {refused} < {LINES}: {log:?}"
    );
    assert_eq!(
        undelivered, accepted,
        "every accepted entry is accounted for"
    );

    // A wrong ARN: the secret does not exist.
    let open = Moto::start(free_port());
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret";
    let log = run_without_key(&open.url(), ("DD_API_KEY_SECRET_ARN", missing), &[]).await;
    let errors: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("cannot resolve the API key"))
        .collect();
    assert_eq!(errors.len(), 1, "one clear error: {log:?}");
    assert!(
        errors[0].contains(missing) && errors[0].contains("ResourceNotFound"),
        "{}",
        errors[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_calls_take_the_standard_proxy_never_the_datadog_one() {
    let moto = Moto::start(free_port());
    let arn = moto.create_secret("dd-proxied", KEY_1).await;
    let proxy = tandem_testkit::proxy::HttpProxy::start().unwrap();
    // The Datadog proxy is a dead port: were AWS calls sent there, no key would ever arrive.
    let (platform, intake, mut a) = start(
        &moto.url(),
        ("DD_API_KEY_SECRET_ARN", &arn),
        &[
            ("HTTP_PROXY", &proxy.url()),
            ("DD_PROXY_HTTPS", "http://127.0.0.1:9"),
        ],
    )
    .await;
    assert!(
        a.wait_for_line("API key resolved", T).await,
        "{:?}",
        a.stderr()
    );
    platform
        .invoke(&request_id(1), vec![ev::function_text("proxied")], T)
        .await
        .unwrap();
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();
    assert_only(
        intake
            .accepted("/api/v2/logs")
            .iter()
            .filter_map(|r| r.header("dd-api-key").map(str::to_string))
            .collect(),
        KEY_1,
    );
    let moto_host = moto.url().trim_start_matches("http://").to_string();
    assert!(
        proxy.count(&moto_host) > 0,
        "Secrets Manager was reached through HTTP_PROXY: {:?}",
        proxy.log()
    );
}
