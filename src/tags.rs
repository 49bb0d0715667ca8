//! The function's identity and the tags every signal carries: `functionname`, `region`,
//! `account_id`, … plus `env`/`service`/`version` and `DD_TAGS`/`DD_EXTRA_TAGS`. Built once
//! after registration (when the account id is known). Must not read the environment itself.

use crate::config::Config;

/// Who we are running for.
#[derive(Debug, Clone, Default)]
pub struct FunctionContext {
    pub function_name: String,
    pub region: String,
    pub account_id: String,
    /// Unqualified function ARN, e.g. `arn:aws:lambda:us-east-1:123:function:f`.
    pub arn: String,
    /// The `service` of logs and spans: `DD_SERVICE`, else the function name.
    pub service: String,
    /// Tags as `k:v` strings, in a stable order.
    pub tags: Vec<String>,
}

impl FunctionContext {
    /// `account_id` comes from the register response (`accountId` feature).
    pub fn new(
        config: &Config,
        register_function_name: Option<&str>,
        account_id: Option<&str>,
    ) -> Self {
        let function_name = config
            .lambda
            .function_name
            .as_deref()
            .or(register_function_name)
            .unwrap_or("unknown")
            .to_string();
        let region = config
            .lambda
            .region
            .clone()
            .unwrap_or_else(|| "unknown".into());
        let account_id = account_id.unwrap_or("unknown").to_string();
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        let arn = format!("arn:{partition}:lambda:{region}:{account_id}:function:{function_name}");
        // Lower case, as Datadog's extension ships it (Datadog treats services that way).
        let service = config
            .service
            .as_deref()
            .unwrap_or(&function_name)
            .to_lowercase();
        let architecture = match std::env::consts::ARCH {
            "aarch64" => "arm64",
            other => other,
        };
        // A published version or alias runs as `<function>:<qualifier>` (not `$LATEST`).
        let qualifier = config
            .lambda
            .function_version
            .as_deref()
            .filter(|v| !v.is_empty() && *v != "$LATEST");
        let resource = match qualifier {
            Some(q) => format!("{}:{q}", function_name.to_ascii_lowercase()),
            None => function_name.to_ascii_lowercase(),
        };
        let mut tags = vec![
            format!("functionname:{}", function_name.to_ascii_lowercase()),
            format!("function_arn:{}", arn.to_ascii_lowercase()),
            format!("region:{region}"),
            format!("account_id:{account_id}"),
            format!("aws_account:{account_id}"),
            format!("resource:{resource}"),
            format!("architecture:{architecture}"),
        ];
        if let Some(q) = qualifier {
            tags.push(format!("executedversion:{q}"));
        }
        tags.push(format!(
            "dd_extension_version:tandem-{}",
            env!("CARGO_PKG_VERSION")
        ));
        if let Some(m) = config.lambda.memory_size_mb {
            tags.push(format!("memorysize:{m}"));
        }
        if let Some(r) = &config.lambda.runtime {
            tags.push(format!("runtime:{r}"));
        }
        if let Some(t) = &config.lambda.initialization_type {
            tags.push(format!("init_type:{t}"));
        }
        if let Some(e) = &config.env {
            tags.push(format!("env:{e}"));
        }
        tags.push(format!("service:{service}"));
        if let Some(v) = &config.version {
            tags.push(format!("version:{v}"));
        }
        tags.extend(config.tags.iter().cloned());
        tags.extend(config.extra_tags.iter().cloned());
        Self {
            function_name,
            region,
            account_id,
            arn,
            service,
            tags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::Source;
    use std::collections::HashMap;

    #[test]
    fn tags_and_arn() {
        let env: HashMap<String, String> = [
            ("AWS_LAMBDA_FUNCTION_NAME", "My-Func"),
            ("AWS_REGION", "eu-west-1"),
            ("DD_ENV", "prod"),
            ("DD_TAGS", "team:x"),
            ("DD_EXTRA_TAGS", "extra:y"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
            ("DD_SERVICE", "Orders-API"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (config, _) = Config::load(&Source::from_maps(env, HashMap::new()));
        let f = FunctionContext::new(&config, None, Some("123456789012"));
        assert_eq!(
            f.arn,
            "arn:aws:lambda:eu-west-1:123456789012:function:My-Func"
        );
        assert_eq!(f.service, "orders-api", "lower-cased, as Datadog ships it");
        for t in [
            "functionname:my-func",
            "resource:my-func:7",
            "executedversion:7",
            "region:eu-west-1",
            "account_id:123456789012",
            "env:prod",
            "team:x",
            "extra:y",
            "memorysize:512",
            "service:orders-api",
        ] {
            assert!(f.tags.iter().any(|x| x == t), "missing {t}: {:?}", f.tags);
        }
        assert!(
            f.tags
                .iter()
                .any(|t| t.starts_with("dd_extension_version:tandem-"))
        );
    }
}
