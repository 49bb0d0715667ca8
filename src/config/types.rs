//! The value types a [`super::Config`] holds besides plain numbers and strings: processing
//! and tag-replacement rules, logs endpoints, secret references, and the Lambda and AWS facts
//! read from the environment.

use crate::secret::Secret;
use serde::Deserialize;

/// A `DD_LOGS_CONFIG_PROCESSING_RULES` entry, validated later when compiled.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ProcessingRuleSpec {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    pub pattern: String,
    #[serde(default)]
    pub replace_placeholder: Option<String>,
}

/// A `DD_APM_REPLACE_TAGS` entry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ReplaceTagRule {
    pub name: String,
    pub pattern: String,
    #[serde(default)]
    pub repl: String,
}

/// A `DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS` entry.
#[derive(Clone, Deserialize)]
pub struct LogsEndpoint {
    pub api_key: String,
    #[serde(rename = "Host")]
    pub host: String,
    #[serde(rename = "Port", default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub is_reliable: Option<bool>,
}

impl std::fmt::Debug for LogsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogsEndpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish()
    }
}

/// How a setting's value is to be fetched (resolved by the secrets module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `<NAME>_SECRET_ARN`: an AWS Secrets Manager ARN.
    SecretArn(String),
    /// `<NAME>_KMS_ENCRYPTED`: base64 ciphertext for AWS KMS.
    KmsEncrypted(String),
}

/// Facts about the Lambda environment, from AWS's own variables.
#[derive(Debug, Clone, Default)]
pub struct LambdaEnv {
    /// `AWS_LAMBDA_RUNTIME_API` (`host:port`).
    pub runtime_api: Option<String>,
    pub initialization_type: Option<String>,
    pub function_name: Option<String>,
    pub function_version: Option<String>,
    pub region: Option<String>,
    pub memory_size_mb: Option<u64>,
    /// From `AWS_EXECUTION_ENV`, e.g. `python3.12`.
    pub runtime: Option<String>,
}

/// AWS credentials, region and endpoints from the Lambda environment (no instance-metadata
/// probing). Used only when a secret has to be fetched.
#[derive(Debug, Clone, Default)]
pub struct AwsEnv {
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    /// `AWS_ENDPOINT_URL`, and the service-specific overrides.
    pub endpoint_url: Option<String>,
    pub endpoint_url_secrets_manager: Option<String>,
    pub endpoint_url_kms: Option<String>,
    pub endpoint_url_ssm: Option<String>,
    /// SnapStart gives no key variables: credentials come from the container credentials
    /// endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN`
    /// as the `Authorization` header).
    pub container_credentials_uri: Option<String>,
    pub container_authorization_token: Option<Secret>,
    /// `HTTPS_PROXY` / `HTTP_PROXY` (either case) is set: AWS calls honour the standard proxy
    /// variables, with `NO_PROXY`. `DD_PROXY_HTTPS` is for Datadog-bound traffic only.
    pub proxy_from_env: bool,
}

/// `DD_HTTP_PROTOCOL`: how Datadog-bound requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpProtocol {
    /// HTTP/2 when the intake offers it by ALPN, else HTTP/1.1 (Datadog's `auto`).
    #[default]
    Auto,
    Http1,
    /// HTTP/2 without asking (prior knowledge).
    Http2,
}
