//! The container credentials provider, as SnapStart functions need it: Lambda sets no key
//! variables there, only `AWS_CONTAINER_CREDENTIALS_FULL_URI` (a local endpoint) and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`, sent as the `Authorization` header. The answer is JSON
//! with `AccessKeyId`, `SecretAccessKey`, `Token` and `Expiration`. Errors never carry the
//! answer's body (it holds the credentials) nor the token.

use super::resolve::ResolveError;
use crate::secret::Secret;
use aws_credential_types::Credentials;
use std::time::Duration;

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
}

/// One GET to the endpoint, within `limit`. The endpoint is local to the sandbox, so no proxy.
pub(super) async fn fetch(
    uri: &str,
    token: &Secret,
    limit: Duration,
) -> Result<Credentials, ResolveError> {
    let fail = |what: String| ResolveError::ContainerCredentials(what);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(limit)
        .build()
        .map_err(|e| fail(format!("HTTP client: {e}")))?;
    let resp = client
        .get(uri)
        .header("Authorization", token.expose())
        .send()
        .await
        .map_err(|e| fail(crate::secret::redact(&crate::intake::error_chain(&e)).into_owned()))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(fail(format!("it answered HTTP {}", status.as_u16())));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| fail(format!("reading the answer: {}", e.without_url())))?;
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|_| fail("the answer is not JSON with AccessKeyId and SecretAccessKey".into()))?;
    if answer.access_key_id.is_empty() || answer.secret_access_key.is_empty() {
        return Err(fail("the answer has empty credentials".into()));
    }
    Ok(Credentials::new(
        answer.access_key_id,
        answer.secret_access_key,
        answer.token.filter(|t| !t.is_empty()),
        None,
        "container-credentials",
    ))
}
