//! Client of the Extensions API (register, next, init/exit error) and of the Telemetry API
//! subscription. Owns the extension identifier. Must not retry on its own: the controllers
//! decide what a failure means.

use super::events::{NextEvent, RegisterResponse, parse_next};
use std::time::Duration;

/// The file name Datadog's libraries look for under `/opt/extensions`.
pub const EXTENSION_NAME: &str = "datadog-agent";

/// The Telemetry API subscription's `timeoutMs` (Datadog's, observed): Lambda holds a batch
/// up to this long, so an extension that waits for `platform.runtimeDone` adds up to this much
/// to the billed duration (`tandem-tune` models it).
pub const TELEMETRY_TIMEOUT_MS: u64 = 25;

#[derive(Debug, thiserror::Error)]
pub enum LambdaApiError {
    #[error("AWS_LAMBDA_RUNTIME_API is not set: not running inside Lambda")]
    NoRuntimeApi,
    #[error("request to the Lambda {api} API failed: {source}")]
    Transport {
        api: &'static str,
        source: reqwest::Error,
    },
    #[error("the Lambda {api} API answered {status}: {body}")]
    Refused {
        api: &'static str,
        status: u16,
        body: String,
    },
    #[error("the Lambda {api} API sent an undecodable answer: {detail}")]
    Decode { api: &'static str, detail: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Invoke,
    Shutdown,
}

/// Outcome of a Telemetry API subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    Active,
    /// Refused or not supported (AWS's emulator answers 202 with `Telemetry.NotSupported`).
    Unavailable(String),
}

/// The registered extension's handle on the Extensions and Telemetry APIs.
#[derive(Clone)]
pub struct ExtensionsClient {
    http: reqwest::Client,
    base: String,
    id: String,
}

impl ExtensionsClient {
    /// Registers for `events`, asking for the account id.
    pub async fn register(
        runtime_api: &str,
        events: &[EventType],
    ) -> Result<(Self, RegisterResponse), LambdaApiError> {
        // Loopback only, and `/next` blocks across freezes: no timeout, no proxy, no TLS.
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_idle_timeout(None)
            .build()
            .map_err(|source| LambdaApiError::Transport {
                api: "Extensions",
                source,
            })?;
        let base = format!("http://{runtime_api}");
        let names: Vec<&str> = events
            .iter()
            .map(|e| match e {
                EventType::Invoke => "INVOKE",
                EventType::Shutdown => "SHUTDOWN",
            })
            .collect();
        let body = serde_json::json!({ "events": names }).to_string();
        let (headers, bytes) = call(
            http.post(format!("{base}/2020-01-01/extension/register"))
                .header("Lambda-Extension-Name", EXTENSION_NAME)
                .header("Lambda-Extension-Accept-Feature", "accountId")
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await?;
        let id = crate::http::header(&headers, "Lambda-Extension-Identifier")
            .map(str::to_string)
            .ok_or_else(|| LambdaApiError::Decode {
                api: "Extensions",
                detail: "no Lambda-Extension-Identifier header".into(),
            })?;
        let info = serde_json::from_slice(&bytes).unwrap_or_default();
        Ok((Self { http, base, id }, info))
    }

    /// Blocks until the next event (no timeout: the environment may be frozen meanwhile).
    pub async fn next_event(&self) -> Result<NextEvent, LambdaApiError> {
        let (_, bytes) = call(
            self.http
                .get(format!("{}/2020-01-01/extension/event/next", self.base))
                .header("Lambda-Extension-Identifier", &self.id),
        )
        .await?;
        parse_next(&bytes).map_err(|detail| LambdaApiError::Decode {
            api: "Extensions",
            detail,
        })
    }

    /// Reports an init failure (`/init/error`) or a fatal error later (`/exit/error`).
    pub async fn report_error(
        &self,
        during_init: bool,
        error_type: &str,
        message: &str,
    ) -> Result<(), LambdaApiError> {
        let path = if during_init {
            "init/error"
        } else {
            "exit/error"
        };
        let body = serde_json::json!({ "errorMessage": message, "errorType": error_type, "stackTrace": [] }).to_string();
        self.http
            .post(format!("{}/2020-01-01/extension/{path}", self.base))
            .header("Lambda-Extension-Identifier", &self.id)
            .header("Lambda-Extension-Function-Error-Type", error_type)
            .header("Content-Type", "application/json")
            .timeout(Duration::from_secs(1))
            .body(body)
            .send()
            .await
            .map_err(|source| LambdaApiError::Transport {
                api: "Extensions",
                source,
            })?;
        Ok(())
    }

    /// Subscribes to the Telemetry API, delivering to `sandbox.localdomain:<port>`.
    pub async fn subscribe_telemetry(
        &self,
        schema: &str,
        types: &[&str],
        port: u16,
    ) -> Subscription {
        // Datadog's buffering (observed): small batches, delivered every 25 ms.
        let body = serde_json::json!({
            "schemaVersion": schema,
            "types": types,
            "buffering": { "maxItems": 1000, "maxBytes": 262_144, "timeoutMs": TELEMETRY_TIMEOUT_MS },
            "destination": { "protocol": "HTTP", "URI": format!("http://sandbox.localdomain:{port}/") },
        })
        .to_string();
        let resp = self
            .http
            .put(format!("{}/2022-07-01/telemetry", self.base))
            .header("Lambda-Extension-Identifier", &self.id)
            .header("Content-Type", "application/json")
            .timeout(Duration::from_secs(2))
            .body(body)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Subscription::Unavailable(format!("request failed: {e}")),
        };
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        subscription_outcome(status, &bytes)
    }
}

/// Interprets a subscription answer. A success status whose body names an `errorType` is a
/// refusal (AWS's Runtime Interface Emulator: 202 + `Telemetry.NotSupported`).
pub fn subscription_outcome(status: u16, body: &[u8]) -> Subscription {
    let error_type = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errorType")
                .and_then(|t| t.as_str())
                .map(str::to_string)
        });
    match (status, error_type) {
        (200..=299, None) => Subscription::Active,
        (s, Some(t)) => Subscription::Unavailable(format!("status {s}, errorType {t}")),
        (s, None) => Subscription::Unavailable(format!(
            "status {s}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )),
    }
}

/// Sends a request to the Extensions API; an answer other than 2xx is `Refused`.
async fn call(
    req: reqwest::RequestBuilder,
) -> Result<(reqwest::header::HeaderMap, bytes::Bytes), LambdaApiError> {
    let transport = |source| LambdaApiError::Transport {
        api: "Extensions",
        source,
    };
    let resp = req.send().await.map_err(transport)?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.map_err(transport)?;
    if !status.is_success() {
        return Err(refused("Extensions", status.as_u16(), &bytes));
    }
    Ok((headers, bytes))
}

fn refused(api: &'static str, status: u16, body: &[u8]) -> LambdaApiError {
    LambdaApiError::Refused {
        api,
        status,
        body: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_answers() {
        assert_eq!(subscription_outcome(200, b"OK"), Subscription::Active);
        assert_eq!(subscription_outcome(200, b""), Subscription::Active);
        assert!(matches!(
            subscription_outcome(202, br#"{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}"#),
            Subscription::Unavailable(m) if m.contains("Telemetry.NotSupported")
        ));
        assert!(matches!(
            subscription_outcome(400, b"bad"),
            Subscription::Unavailable(_)
        ));
    }
}
