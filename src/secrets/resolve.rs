//! Fetching secret values from AWS: Secrets Manager (`GetSecretValue`; a plain string, or JSON
//! holding `dd_api_key` / `apiKey`; the region comes from the ARN), KMS (`Decrypt`, first
//! without an encryption context, then with `{"LambdaFunctionName": <name>}`) and SSM
//! (`GetParameter` with decryption; the region comes from the ARN), as signed JSON calls
//! (`aws_json`) with explicit credentials from the Lambda environment (or, under SnapStart, from
//! the container credentials endpoint: `credentials`), `AWS_ENDPOINT_URL*` honoured, a per-call
//! timeout and rustls on ring. Errors name the source, never the value.

use crate::config::{AwsEnv, Config, SecretRef};
use crate::secret::Secret;
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
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts.first() != Some(&"arn") {
        return Err(ResolveError::BadArn(arn.to_string()));
    }
    let region = parts
        .get(3)
        .filter(|r| !r.is_empty())
        .map(|r| r.to_string())
        .or_else(|| aws.region.clone())
        .ok_or(ResolveError::NoRegion)?;
    super::aws_json::get_secret_value(aws, arn, &region, credentials(aws).await?).await
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
    let blob = crate::base64::decode(ciphertext_b64.trim())
        .filter(|b| !b.is_empty())
        .ok_or(ResolveError::BadCiphertext)?;
    let region = aws.region.clone().ok_or(ResolveError::NoRegion)?;
    let credentials = credentials(aws).await?;
    let decrypt =
        |context| super::aws_json::decrypt(aws, &blob, context, &region, credentials.clone());
    let bytes = match decrypt(None).await {
        Ok(bytes) => bytes,
        Err(first) => match decrypt(Some(("LambdaFunctionName", function_name))).await {
            Ok(bytes) => bytes,
            // The context-free attempt's error is the one that explains a misconfiguration.
            Err(_) => return Err(first),
        },
    };
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
            super::aws_json::get_parameter(&config.aws, arn, credentials(&config.aws).await?)
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
