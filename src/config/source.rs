//! Where raw setting values come from: the process environment and an optional
//! `datadog.yaml`. Owns name resolution (`DD_` / `DATADOG_` alias, yaml nested keys → env
//! names, env wins). Must not interpret values: that is `parse.rs`'s job.

use std::collections::HashMap;
use std::path::Path;

/// Raw settings, looked up by their `DD_*` name.
#[derive(Debug, Default, Clone)]
pub struct Source {
    env: HashMap<String, String>,
    yaml: HashMap<String, String>,
}

impl Source {
    /// Builds a source from explicit maps (tests, `tandem-local`).
    pub fn from_maps(env: HashMap<String, String>, yaml: HashMap<String, String>) -> Self {
        Self { env, yaml }
    }

    /// Reads the process environment and `$LAMBDA_TASK_ROOT/datadog.yaml` (default
    /// `/var/task`). A yaml file that cannot be parsed yields one warning and is ignored.
    pub fn from_process(warnings: &mut Vec<String>) -> Self {
        let env: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let root = env
            .get("LAMBDA_TASK_ROOT")
            .filter(|r| !r.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| "/var/task".to_string());
        let path = Path::new(&root).join("datadog.yaml");
        let yaml = match std::fs::read_to_string(&path) {
            Ok(text) => flatten_yaml(&text).unwrap_or_else(|e| {
                warnings.push(format!(
                    "{} is not valid YAML ({e}); ignoring the file and using environment variables only",
                    path.display()
                ));
                HashMap::new()
            }),
            Err(_) => HashMap::new(),
        };
        Self { env, yaml }
    }

    /// The same source with `values` set as environment variables (settings resolved from
    /// secrets), which win over everything else.
    pub fn overlaid(&self, values: &[(String, String)]) -> Self {
        let mut out = self.clone();
        for (name, value) in values {
            out.env.insert(name.clone(), value.clone());
        }
        out
    }

    /// Value of a `DD_*` setting: `DD_X`, then `DATADOG_X`, then the yaml key mapped to `DD_X`.
    /// Returns the name it was found under (for warnings) and the trimmed, non-empty value.
    pub fn get(&self, dd_name: &str) -> Option<(String, &str)> {
        let alias = dd_name
            .strip_prefix("DD_")
            .map(|rest| format!("DATADOG_{rest}"));
        if let Some(v) = non_empty(self.env.get(dd_name)) {
            return Some((dd_name.to_string(), v));
        }
        if let Some(alias) = alias
            && let Some(v) = non_empty(self.env.get(&alias))
        {
            return Some((alias, v));
        }
        non_empty(self.yaml.get(dd_name)).map(|v| (format!("{dd_name} (datadog.yaml)"), v))
    }

    /// A variable that is not a Datadog setting (`AWS_*`, `HTTPS_PROXY`, …): environment only.
    pub fn raw(&self, name: &str) -> Option<&str> {
        non_empty(self.env.get(name))
    }

    /// Names of every `DD_*`/`DATADOG_*` setting present, normalised to `DD_*`.
    pub fn dd_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .env
            .keys()
            .filter_map(|k| {
                if k.starts_with("DD_") {
                    Some(k.clone())
                } else {
                    k.strip_prefix("DATADOG_").map(|r| format!("DD_{r}"))
                }
            })
            .chain(self.yaml.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

fn non_empty(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Maps the Agent's nested yaml keys to env names: `logs_config.processing_rules` →
/// `DD_LOGS_CONFIG_PROCESSING_RULES`, `apm_config.replace_tags` → `DD_APM_REPLACE_TAGS` (the
/// Agent binds `apm_config.*` to `DD_APM_*`). Every mapping and list is also kept whole, as
/// JSON, under its own name, because settings such as `additional_endpoints` are maps whose
/// env form is JSON.
pub fn flatten_yaml(text: &str) -> Result<HashMap<String, String>, serde_norway::Error> {
    let value: serde_json::Value = match serde_norway::from_str(text)? {
        serde_json::Value::Null => return Ok(HashMap::new()),
        v => v,
    };
    let mut out = HashMap::new();
    flatten_into(&mut out, &mut Vec::new(), &value);
    Ok(out)
}

fn flatten_into(out: &mut HashMap<String, String>, path: &mut Vec<String>, v: &serde_json::Value) {
    use serde_json::Value;
    if !path.is_empty() {
        let mut segments = path.clone();
        if segments[0] == "apm_config" {
            segments[0] = "apm".to_string();
        }
        let name = format!("DD_{}", segments.join("_").to_ascii_uppercase());
        let text = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) => v.to_string(),
            Value::Array(_) | Value::Object(_) => v.to_string(),
        };
        out.insert(name, text);
    }
    if let Value::Object(map) = v {
        for (k, child) in map {
            path.push(k.clone());
            flatten_into(out, path, child);
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests;
