//! The three AWS calls secrets need — SSM `GetParameter` (with decryption), Secrets Manager
//! `GetSecretValue` and KMS `Decrypt` — as AWS JSON-protocol POSTs signed by the AWS SDK's own
//! SigV4 signer (`aws-sigv4`), over the intake's reqwest/rustls stack. The SDK's service clients
//! cost ~930 KB of binary each (measured for SSM: 5,921,792 → 6,849,304 bytes stripped) for one
//! call apiece. `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL` are honoured, and only the
//! standard proxy variables (never `DD_PROXY_HTTPS`, which is for Datadog-bound traffic).
//! Errors never carry the value.

use super::resolve::{CALL_TIMEOUT, ResolveError};
use crate::config::AwsEnv;
use crate::secret::Secret;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use serde_json::Value;
use std::time::SystemTime;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// One JSON-protocol operation.
struct Call<'a> {
    /// The signing name and endpoint prefix: `ssm`, `secretsmanager`, `kms`.
    service: &'static str,
    /// `X-Amz-Target`.
    target: &'static str,
    /// Named in an access-denied error.
    permission: &'static str,
    region: &'a str,
    /// The service's own `AWS_ENDPOINT_URL_<SERVICE>`, if set.
    endpoint_override: Option<&'a String>,
}

/// SSM `GetParameter`: the parameter's value, as stored (Datadog's extension reads no JSON form
/// here). The region comes from the ARN, else `AWS_REGION`.
pub(crate) async fn get_parameter(
    aws: &AwsEnv,
    arn: &str,
    credentials: Credentials,
) -> Result<Secret, ResolveError> {
    let region = region_of(arn)
        .or_else(|| aws.region.clone())
        .ok_or(ResolveError::NoRegion)?;
    let call = Call {
        service: "ssm",
        target: "AmazonSSM.GetParameter",
        permission: "ssm:GetParameter on the parameter (and kms:Decrypt on its key)",
        region: &region,
        endpoint_override: aws.endpoint_url_ssm.as_ref(),
    };
    let body = serde_json::json!({ "Name": arn, "WithDecryption": true });
    let answer = send(aws, &call, &body, credentials).await?;
    answer["Parameter"]["Value"]
        .as_str()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(Secret::new)
        .ok_or(ResolveError::Empty)
}

/// Secrets Manager `GetSecretValue`: the secret's string (or UTF-8 binary) as stored.
pub(crate) async fn get_secret_value(
    aws: &AwsEnv,
    arn: &str,
    region: &str,
    credentials: Credentials,
) -> Result<Secret, ResolveError> {
    let call = Call {
        service: "secretsmanager",
        target: "secretsmanager.GetSecretValue",
        permission: "secretsmanager:GetSecretValue on the secret",
        region,
        endpoint_override: aws.endpoint_url_secrets_manager.as_ref(),
    };
    let answer = send(
        aws,
        &call,
        &serde_json::json!({ "SecretId": arn }),
        credentials,
    )
    .await?;
    answer["SecretString"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            answer["SecretBinary"]
                .as_str()
                .and_then(crate::base64::decode)
                .and_then(|b| String::from_utf8(b).ok())
        })
        .filter(|t| !t.trim().is_empty())
        .map(Secret::new)
        .ok_or(ResolveError::Empty)
}

/// KMS `Decrypt` of `blob`, with an encryption context when given: the plaintext bytes.
pub(crate) async fn decrypt(
    aws: &AwsEnv,
    blob: &[u8],
    context: Option<(&str, &str)>,
    region: &str,
    credentials: Credentials,
) -> Result<Vec<u8>, ResolveError> {
    let call = Call {
        service: "kms",
        target: "TrentService.Decrypt",
        permission: "kms:Decrypt on the key",
        region,
        endpoint_override: aws.endpoint_url_kms.as_ref(),
    };
    let mut body = serde_json::json!({ "CiphertextBlob": crate::base64::encode(blob) });
    if let Some((k, v)) = context {
        body["EncryptionContext"] = serde_json::json!({ k: v });
    }
    let answer = send(aws, &call, &body, credentials).await?;
    answer["Plaintext"]
        .as_str()
        .and_then(crate::base64::decode)
        .ok_or(ResolveError::Empty)
}

/// Signs and sends one call; the answer's JSON, or AWS's error as one line.
async fn send(
    aws: &AwsEnv,
    call: &Call<'_>,
    body: &Value,
    credentials: Credentials,
) -> Result<Value, ResolveError> {
    let endpoint = match call.endpoint_override.or(aws.endpoint_url.as_ref()) {
        Some(url) => url.trim_end_matches('/').to_string(),
        None if call.region.starts_with("cn-") => {
            format!("https://{}.{}.amazonaws.com.cn", call.service, call.region)
        }
        None => format!("https://{}.{}.amazonaws.com", call.service, call.region),
    };
    let body = body.to_string();
    let signed = signed_headers(call, &endpoint, &body, credentials)?;
    // HTTP/1.1 as before the intake client learnt HTTP/2: one small call per environment.
    let mut client = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .http1_only();
    if !aws.proxy_from_env {
        client = client.no_proxy();
    }
    let client = client
        .build()
        .map_err(|e| ResolveError::Aws(format!("HTTP client: {e}")))?;
    let mut req = client
        .post(&endpoint)
        .header("content-type", CONTENT_TYPE)
        .header("x-amz-target", call.target)
        .body(body);
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send().await.map_err(|e| {
        ResolveError::Aws(crate::secret::redact(&crate::intake::error_chain(&e)).into_owned())
    })?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap_or_default();
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if (200..300).contains(&status) {
        Ok(answer)
    } else {
        Err(answer_error(status, &answer, call.permission))
    }
}

/// The fourth field of an ARN (`arn:aws:ssm:<region>:…`); a bare parameter name has none.
fn region_of(arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(2))
        .flatten()
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// The SigV4 headers (`authorization`, `x-amz-date`, the session token) for one POST.
fn signed_headers(
    call: &Call<'_>,
    endpoint: &str,
    body: &str,
    credentials: Credentials,
) -> Result<Vec<(String, String)>, ResolveError> {
    let fail = |e: &dyn std::fmt::Display| ResolveError::Aws(format!("signing the request: {e}"));
    let identity = credentials.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(call.region)
        .name(call.service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| fail(&e))?
        .into();
    let headers = [
        ("content-type", CONTENT_TYPE),
        ("x-amz-target", call.target),
    ];
    let request = SignableRequest::new(
        "POST",
        endpoint,
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| fail(&e))?;
    let (instructions, _) = sign(request, &params).map_err(|e| fail(&e))?.into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// AWS's error answer (`{"__type": "…#ParameterNotFound", "message": …}`) as one line.
fn answer_error(status: u16, answer: &Value, permission: &str) -> ResolveError {
    let code = answer["__type"]
        .as_str()
        .map(|t| t.rsplit('#').next().unwrap_or(t));
    let message = answer["message"]
        .as_str()
        .or_else(|| answer["Message"].as_str());
    let t = super::resolve::answered(status, code, message, permission);
    ResolveError::Aws(crate::secret::redact(&t).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_the_arn_only_when_there_is_one() {
        assert_eq!(
            region_of("arn:aws:ssm:eu-west-1:123456789012:parameter/dd/key").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of("/dd/key"), None);
        assert_eq!(region_of("arn:aws:ssm::1:parameter/x"), None);
    }

    #[test]
    fn an_aws_error_answer_reads_as_one_line() {
        let e = answer_error(
            400,
            &serde_json::json!({"__type": "com.amazonaws#ParameterNotFound", "message": "nope"}),
            "ssm:GetParameter",
        );
        assert_eq!(
            e.to_string(),
            "AWS call failed: AWS answered HTTP 400 ParameterNotFound: nope"
        );
        let e = answer_error(
            403,
            &serde_json::json!({"__type": "AccessDeniedException"}),
            "ssm:GetParameter",
        );
        assert!(e.to_string().contains("ssm:GetParameter"));
    }
}
