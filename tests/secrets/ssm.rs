//! `DD_API_KEY_SSM_ARN` (an SSM SecureString read with decryption) and SnapStart's credentials
//! (no key variables; the container credentials endpoint instead), against moto.

use super::*;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "container-token-33333333";

impl Moto {
    /// A SecureString parameter; returns its ARN (moto's account is 123456789012).
    async fn put_secure_parameter(&self, name: &str, value: &str) -> String {
        self.call(
            "ssm",
            "AmazonSSM.PutParameter",
            json!({"Name": name, "Value": value, "Type": "SecureString"}),
        )
        .await;
        format!("arn:aws:ssm:us-east-1:123456789012:parameter{name}")
    }
}

/// A container credentials endpoint on loopback: answers every GET with `credentials` and
/// records the `Authorization` header of each request.
struct CredentialsEndpoint {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl CredentialsEndpoint {
    async fn start(id: &str, secret: &str) -> CredentialsEndpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/2021-04-23/credentials",
            listener.local_addr().unwrap()
        );
        let body = json!({
            "AccessKeyId": id,
            "SecretAccessKey": secret,
            "Token": "session-from-container",
            "Expiration": "2099-01-01T00:00:00Z",
        })
        .to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let auth = text
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("authorization")
                            .then(|| v.trim().to_string())
                    })
                    .unwrap_or_default();
                record.lock().unwrap().push(auth);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        CredentialsEndpoint { url, seen }
    }

    fn authorizations(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ssm_secure_string_key_reaches_the_intake() {
    let moto = Moto::start(free_port());
    let arn = moto.put_secure_parameter("/dd/api-key", KEY_1).await;
    assert_only(keys_seen(("DD_API_KEY_SSM_ARN", &arn), &moto).await, KEY_1);
    // Datadog's order of precedence: a Secrets Manager ARN wins over the SSM parameter.
    let secret = moto.create_secret("dd-wins", KEY_2).await;
    let (platform, intake, mut a) = start(
        &moto.url(),
        ("DD_API_KEY_SSM_ARN", &arn),
        &[("DD_API_KEY_SECRET_ARN", &secret)],
    )
    .await;
    let keys = keys_of_one_invocation(&platform, &intake, &mut a, "keyed").await;
    assert_only(keys, KEY_2);
}

/// An agent with SnapStart's environment: no key variables, the container endpoint instead.
async fn snapstart_agent(
    platform: &Platform,
    intake: &CaptureIntake,
    moto_url: &str,
    arn: &str,
    endpoint: &CredentialsEndpoint,
) -> AgentProcess {
    let mut env = lambda_env(&platform.runtime_api(), &intake.url(), false);
    env.retain(|(k, _)| {
        !["DD_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].contains(&k.as_str())
    });
    for (k, v) in [
        ("AWS_ENDPOINT_URL", moto_url),
        ("DD_API_KEY_SSM_ARN", arn),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &endpoint.url),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", TOKEN),
        ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
        ("DD_FLUSH_TIMEOUT", "1"),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    let agent = AgentProcess::spawn(Path::new(env!("CARGO_BIN_EXE_tandem")), &env).unwrap();
    assert!(platform.wait_next_calls(1, T).await, "{:?}", agent.stderr());
    agent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapstart_credentials_come_from_the_container_endpoint() {
    // Auth enforced after set-up (put, create user, create key): the credentials the endpoint
    // hands out are the ones AWS checks, so a user without permissions is refused.
    let moto = Moto::start_with(free_port(), &[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let arn = moto.put_secure_parameter("/dd/guarded", KEY_1).await;
    let (id, secret) = moto.user_without_permissions().await;
    let endpoint = CredentialsEndpoint::start(&id, &secret).await;
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .unwrap();
    let intake = CaptureIntake::start().await.unwrap();
    let mut a = snapstart_agent(&platform, &intake, &moto.url(), &arn, &endpoint).await;
    assert!(a.wait_for_line("cannot resolve the API key", T).await);
    platform.send_shutdown(Duration::from_secs(2));
    a.wait_exit(T).await.unwrap();
    let log = a.stderr();
    let error = log
        .iter()
        .find(|l| l.contains("cannot resolve the API key"))
        .unwrap();
    assert!(
        error.contains("HTTP 403") && error.contains("ssm:GetParameter"),
        "the container's credentials were checked by AWS: {error}"
    );
    assert!(endpoint.authorizations().iter().all(|a| a == TOKEN));
    assert!(!endpoint.authorizations().is_empty());
    let joined = log.join("\n");
    assert!(
        !joined.contains(&secret) && !joined.contains(TOKEN) && !joined.contains(KEY_1),
        "a secret leaked"
    );

    // Without enforcement, the key those credentials fetch reaches the intake.
    let open = Moto::start(free_port());
    let arn = open.put_secure_parameter("/dd/open", KEY_2).await;
    let endpoint = CredentialsEndpoint::start("ASIACONTAINER", "container-secret").await;
    let platform = Platform::start(SimMode::OnDemand, TelemetryAnswer::Accept)
        .await
        .unwrap();
    let intake = CaptureIntake::start().await.unwrap();
    let mut a = snapstart_agent(&platform, &intake, &open.url(), &arn, &endpoint).await;
    let keys = keys_of_one_invocation(&platform, &intake, &mut a, "restored").await;
    assert_only(keys, KEY_2);
    assert_eq!(endpoint.authorizations(), vec![TOKEN.to_string()]);
}
