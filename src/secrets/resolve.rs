//! Fetching secret values from AWS: Secrets Manager (`GetSecretValue`; a plain string, or JSON
//! holding `dd_api_key` / `apiKey`; the region comes from the ARN), KMS (`Decrypt`, first
//! without an encryption context, then with `{"LambdaFunctionName": <name>}`) and SSM
//! (`GetParameter` with decryption; the region comes from the ARN), through the official SDK
//! crates with explicit credentials from the Lambda environment (or, under SnapStart, from the
//! container credentials endpoint: `credentials`), `AWS_ENDPOINT_URL*` honoured, a per-call
//! timeout and rustls on ring. Clients are built only when needed. Errors name the source,
//! never the value.

use crate::config::{AwsEnv, Config, SecretRef};
use crate::secret::Secret;
use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use std::collections::HashMap;
use std::time::Duration;

/// Per AWS call.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the API key comes from, in Datadog's order of precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// The variable it came from (`DD_KMS_API_KEY` or `DD_API_KEY_KMS_ENCRYPTED`) and the
    /// ciphertext.
    Kms(&'static str, String),
    SecretArn(String),
    /// `DD_API_KEY_SSM_ARN`: a SecureString parameter.
    SsmArn(String),
    Plain,
    Missing,
}

impl KeySource {
    pub(crate) fn of(config: &Config) -> KeySource {
        if let Some(k) = &config.kms_api_key {
            KeySource::Kms("DD_KMS_API_KEY", k.expose().to_string())
        } else if let Some(SecretRef::KmsEncrypted(c)) = config.secret_refs.get("DD_API_KEY") {
            // The generic form of DD_KMS_API_KEY.
            KeySource::Kms("DD_API_KEY_KMS_ENCRYPTED", c.clone())
        } else if let Some(arn) = &config.api_key_secret_arn {
            KeySource::SecretArn(arn.clone())
        } else if let Some(arn) = &config.api_key_ssm_arn {
            KeySource::SsmArn(arn.clone())
        } else if config.api_key.is_some() {
            KeySource::Plain
        } else {
            KeySource::Missing
        }
    }

    /// Names the source for messages (an ARN is not a secret; a ciphertext is not shown).
    pub(crate) fn describe(&self) -> String {
        match self {
            KeySource::Kms(variable, _) => format!("{variable} (AWS KMS)"),
            KeySource::SecretArn(arn) => {
                format!("DD_API_KEY_SECRET_ARN={arn} (AWS Secrets Manager)")
            }
            KeySource::SsmArn(arn) => format!("DD_API_KEY_SSM_ARN={arn} (AWS SSM Parameter Store)"),
            KeySource::Plain => "DD_API_KEY".into(),
            KeySource::Missing => "no API key setting".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    #[error(
        "AWS credentials are missing (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN)"
    )]
    NoCredentials,
    #[error("the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI) failed: {0}")]
    ContainerCredentials(String),
    #[error("no AWS region (the ARN has none and AWS_REGION is unset)")]
    NoRegion,
    #[error("{0} is not a valid ARN")]
    BadArn(String),
    #[error("the KMS ciphertext is not valid base64")]
    BadCiphertext,
    #[error("the secret is empty or has no dd_api_key/apiKey field")]
    Empty,
    #[error("the decrypted value is not UTF-8")]
    NotText,
    #[error("AWS call failed: {0}")]
    Aws(String),
}

/// The SDK's HTTP client (see `aws_http`): the standard proxy variables when set, never
/// `DD_PROXY_HTTPS`.
fn http_client(aws: &AwsEnv) -> aws_sdk_kms::config::SharedHttpClient {
    super::aws_http::client(aws.proxy_from_env)
}

/// Credentials for one AWS call: the key variables Lambda sets, or under SnapStart (where it sets
/// none) the container credentials endpoint, asked on every call since its credentials expire.
pub(super) async fn credentials(
    aws: &AwsEnv,
) -> Result<aws_credential_types::Credentials, ResolveError> {
    match (&aws.access_key_id, &aws.secret_access_key) {
        (Some(id), Some(secret)) => Ok(aws_credential_types::Credentials::new(
            id.clone(),
            secret.expose().to_string(),
            aws.session_token.as_ref().map(|t| t.expose().to_string()),
            None,
            "lambda-environment",
        )),
        _ => match (
            &aws.container_credentials_uri,
            &aws.container_authorization_token,
        ) {
            (Some(uri), Some(token)) => super::container::fetch(uri, token, CALL_TIMEOUT).await,
            _ => Err(ResolveError::NoCredentials),
        },
    }
}

/// What went wrong with an AWS call, for the one error line: the HTTP status, AWS's error
/// code and message when there was an answer (a 403 also says which permission is missing),
/// else the full chain of the transport error. Redacted.
fn aws_error<E>(e: &SdkError<E, HttpResponse>, permission: &str) -> ResolveError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = match e.raw_response().map(|r| r.status().as_u16()) {
        Some(status) => {
            let service = e.as_service_error();
            let code = service.and_then(|s| s.code());
            let message = service.and_then(|s| s.message());
            answered(status, code, message, permission)
        }
        None => crate::intake::error_chain(e),
    };
    ResolveError::Aws(crate::secret::redact(&text).into_owned())
}

/// AWS's answer to a failed call, as one line: the status, AWS's error code and message, and
/// for a refusal the permission the function's role lacks. Not yet redacted.
pub(super) fn answered(
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
    permission: &str,
) -> String {
    let mut t = format!("AWS answered HTTP {status}");
    if let Some(c) = code {
        t.push_str(&format!(" {c}"));
    }
    if let Some(m) = message {
        t.push_str(&format!(": {m}"));
    }
    if status == 403 || code.is_some_and(|c| c.contains("AccessDenied")) {
        t.push_str(&format!(
            " (access denied: the function's role needs {permission})"
        ));
    }
    t
}

/// `GetSecretValue`; the key is the secret string, or its `dd_api_key`/`apiKey` field.
pub(crate) async fn from_secrets_manager(aws: &AwsEnv, arn: &str) -> Result<Secret, ResolveError> {
    key_from_secret_text(secret_string(aws, arn).await?.expose())
}

/// `GetSecretValue`: the secret's string (or UTF-8 binary) as stored.
pub(crate) async fn secret_string(aws: &AwsEnv, arn: &str) -> Result<Secret, ResolveError> {
    use aws_sdk_secretsmanager as sm;
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[0] != "arn" {
        return Err(ResolveError::BadArn(arn.to_string()));
    }
    let region = Some(parts[3])
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .or_else(|| aws.region.clone())
        .ok_or(ResolveError::NoRegion)?;
    let mut conf = sm::Config::builder()
        .behavior_version(sm::config::BehaviorVersion::latest())
        .region(sm::config::Region::new(region))
        .credentials_provider(credentials(aws).await?)
        .http_client(http_client(aws))
        .timeout_config(
            sm::config::timeout::TimeoutConfig::builder()
                .operation_timeout(CALL_TIMEOUT)
                .build(),
        );
    if let Some(url) = aws
        .endpoint_url_secrets_manager
        .as_ref()
        .or(aws.endpoint_url.as_ref())
    {
        conf = conf.endpoint_url(url);
    }
    let client = sm::Client::from_conf(conf.build());
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| aws_error(&e, "secretsmanager:GetSecretValue on the secret"))?;
    out.secret_string()
        .map(str::to_string)
        .or_else(|| {
            out.secret_binary()
                .and_then(|b| String::from_utf8(b.as_ref().to_vec()).ok())
        })
        .filter(|t| !t.trim().is_empty())
        .map(Secret::new)
        .ok_or(ResolveError::Empty)
}

/// A secret string is the key itself, or JSON holding it.
pub(crate) fn key_from_secret_text(text: &str) -> Result<Secret, ResolveError> {
    let t = text.trim();
    if t.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(t).map_err(|_| ResolveError::Empty)?;
        return ["dd_api_key", "apiKey", "DD_API_KEY"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
            .filter(|k| !k.trim().is_empty())
            .map(|k| Secret::new(k.trim()))
            .ok_or(ResolveError::Empty);
    }
    if t.is_empty() {
        Err(ResolveError::Empty)
    } else {
        Ok(Secret::new(t))
    }
}

/// `Decrypt`: without an encryption context first, then with the function name.
pub(crate) async fn from_kms(
    aws: &AwsEnv,
    ciphertext_b64: &str,
    function_name: &str,
) -> Result<Secret, ResolveError> {
    use aws_sdk_kms as kms;
    let blob = crate::base64::decode(ciphertext_b64.trim())
        .filter(|b| !b.is_empty())
        .ok_or(ResolveError::BadCiphertext)?;
    let region = aws.region.clone().ok_or(ResolveError::NoRegion)?;
    let mut conf = kms::Config::builder()
        .behavior_version(kms::config::BehaviorVersion::latest())
        .region(kms::config::Region::new(region))
        .credentials_provider(credentials(aws).await?)
        .http_client(http_client(aws))
        .timeout_config(
            kms::config::timeout::TimeoutConfig::builder()
                .operation_timeout(CALL_TIMEOUT)
                .build(),
        );
    if let Some(url) = aws.endpoint_url_kms.as_ref().or(aws.endpoint_url.as_ref()) {
        conf = conf.endpoint_url(url);
    }
    let client = kms::Client::from_conf(conf.build());
    let plain = match client
        .decrypt()
        .ciphertext_blob(kms::primitives::Blob::new(blob.clone()))
        .send()
        .await
    {
        Ok(out) => out,
        Err(first) => {
            let context =
                HashMap::from([("LambdaFunctionName".to_string(), function_name.to_string())]);
            match client
                .decrypt()
                .ciphertext_blob(kms::primitives::Blob::new(blob))
                .set_encryption_context(Some(context))
                .send()
                .await
            {
                Ok(out) => out,
                Err(_) => return Err(aws_error(&first, "kms:Decrypt on the key")),
            }
        }
    };
    let bytes = plain
        .plaintext()
        .map(|b| b.as_ref().to_vec())
        .ok_or(ResolveError::Empty)?;
    let text = String::from_utf8(bytes).map_err(|_| ResolveError::NotText)?;
    if text.trim().is_empty() {
        Err(ResolveError::Empty)
    } else {
        Ok(Secret::new(text.trim()))
    }
}

/// Runs one resolution within `limit`; running out of time is an error like any other.
pub(crate) async fn within<T>(
    limit: Duration,
    resolution: impl Future<Output = Result<T, ResolveError>>,
) -> Result<T, ResolveError> {
    tokio::time::timeout(limit, resolution)
        .await
        .unwrap_or_else(|_| Err(ResolveError::Aws("timed out".into())))
}

/// Resolves one `<NAME>_SECRET_ARN` / `<NAME>_KMS_ENCRYPTED` reference to the setting's value.
pub(crate) async fn setting(
    aws: &AwsEnv,
    reference: &SecretRef,
    function_name: &str,
) -> Result<Secret, ResolveError> {
    match reference {
        SecretRef::SecretArn(arn) => secret_string(aws, arn).await,
        SecretRef::KmsEncrypted(c) => from_kms(aws, c, function_name).await,
    }
}

/// Resolves the API key from `source`.
pub(crate) async fn api_key(
    config: &Config,
    source: &KeySource,
    function_name: &str,
) -> Result<Option<Secret>, ResolveError> {
    match source {
        KeySource::Kms(_, c) => from_kms(&config.aws, c, function_name).await.map(Some),
        KeySource::SecretArn(arn) => from_secrets_manager(&config.aws, arn).await.map(Some),
        KeySource::SsmArn(arn) => {
            super::ssm::get_parameter(&config.aws, arn, credentials(&config.aws).await?)
                .await
                .map(Some)
        }
        KeySource::Plain => Ok(config.api_key.clone()),
        KeySource::Missing => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_text_forms() {
        assert_eq!(key_from_secret_text(" abc \n").unwrap().expose(), "abc");
        assert_eq!(
            key_from_secret_text(r#"{"dd_api_key":"k1"}"#)
                .unwrap()
                .expose(),
            "k1"
        );
        assert_eq!(
            key_from_secret_text(r#"{"apiKey":"k2","other":1}"#)
                .unwrap()
                .expose(),
            "k2"
        );
        assert!(key_from_secret_text(r#"{"nope":"x"}"#).is_err());
        assert!(key_from_secret_text("").is_err());
    }
}
