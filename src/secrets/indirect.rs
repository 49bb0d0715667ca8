//! Settings held in AWS: `<NAME>_SECRET_ARN` / `<NAME>_KMS_ENCRYPTED` give the value of the
//! setting `<NAME>` (as Datadog's extension reads them). Owns resolving a set of such
//! references concurrently, and the init-time pass for settings that shape the pipelines.
//! The API key and the dual-shipping endpoints are resolved after init by the core instead.
//! Never logs a value: errors name the variable and the ARN only.

use super::resolve;
use crate::config::source::Source;
use crate::config::{AwsEnv, Config, SecretRef};

/// Names the variable a reference came from, for messages (an ARN is not a secret; a
/// ciphertext is never shown).
pub fn describe(name: &str, reference: &SecretRef) -> String {
    match reference {
        SecretRef::SecretArn(arn) => format!("{name}_SECRET_ARN={arn} (AWS Secrets Manager)"),
        SecretRef::KmsEncrypted(_) => format!("{name}_KMS_ENCRYPTED (AWS KMS)"),
    }
}

/// What a resolution pass produced: the values found, and one message per failure.
#[derive(Debug, Default)]
pub struct Resolved {
    pub values: Vec<(String, String)>,
    pub failures: Vec<(String, SecretRef, String)>,
}

/// Resolves every reference at once, each bounded by a timeout.
pub async fn resolve_all(
    aws: &AwsEnv,
    refs: Vec<(String, SecretRef)>,
    function_name: &str,
) -> Resolved {
    let mut set = tokio::task::JoinSet::new();
    for (name, reference) in refs {
        let (aws, function_name) = (aws.clone(), function_name.to_string());
        set.spawn(async move {
            let outcome = resolve::within(
                resolve::CALL_TIMEOUT * 2,
                resolve::setting(&aws, &reference, &function_name),
            )
            .await;
            (name, reference, outcome)
        });
    }
    let mut out = Resolved::default();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((name, _, Ok(value))) => out.values.push((name, value.expose().to_string())),
            Ok((name, reference, Err(e))) => out.failures.push((name, reference, e.to_string())),
            // Only a panic inside the SDK gets here; the setting keeps its default.
            Err(e) => crate::log_error!("a secret resolution task failed: {e}"),
        }
    }
    out.values.sort();
    out
}

/// Before the pipelines start: resolves the references of settings that shape them (tags,
/// service, rules …) and loads the config again with their values. Costs init time only when
/// such references exist. Returns the config, its warnings and one error line per failure
/// (that setting then keeps its plain value or default).
pub async fn at_init(config: Config, source: &Source) -> (Config, Vec<String>, Vec<String>) {
    let refs = config.init_secret_refs();
    if refs.is_empty() {
        return (config, Vec::new(), Vec::new());
    }
    let function_name = config.lambda.function_name.clone().unwrap_or_default();
    let resolved = resolve_all(&config.aws, refs, &function_name).await;
    let errors = resolved
        .failures
        .iter()
        .map(|(name, reference, why)| {
            format!(
                "cannot resolve {} ({why}); {name} keeps its plain value or default",
                describe(name, reference)
            )
        })
        .collect();
    let (config, warnings) = Config::load(&source.overlaid(&resolved.values));
    (config, warnings, errors)
}
