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

mod failures;
mod keys;
mod ssm;

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

/// One invocation logging `line`, then SHUTDOWN; the API keys the shipped logs carried.
async fn keys_of_one_invocation(
    platform: &Platform,
    intake: &CaptureIntake,
    a: &mut AgentProcess,
    line: &str,
) -> Vec<String> {
    platform
        .invoke(&request_id(1), vec![ev::function_text(line)], T)
        .await
        .unwrap();
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();
    intake
        .accepted("/api/v2/logs")
        .iter()
        .filter_map(|r| r.header("dd-api-key").map(str::to_string))
        .collect()
}

async fn keys_seen(key_env: (&str, &str), moto: &Moto) -> Vec<String> {
    let (platform, intake, mut a) = start(&moto.url(), key_env, &[]).await;
    let keys = keys_of_one_invocation(&platform, &intake, &mut a, "keyed").await;
    let log = a.stderr().join("\n");
    assert!(
        !log.contains(KEY_1) && !log.contains(KEY_2),
        "a key leaked into the log"
    );
    keys
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
