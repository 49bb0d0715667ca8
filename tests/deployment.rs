//! The deployment templates in `layer/templates/`: valid for CloudFormation and SAM (checked by
//! the real `cfn-lint`, from PyPI; the test kit provisions it) and wired the way Tandem needs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_norway::Value;
use std::path::{Path, PathBuf};

fn template(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("layer/templates")
        .join(name)
}

fn cfn_lint(path: &Path) {
    let out = std::process::Command::new("cfn-lint")
        .envs(tandem_testkit::tools::python_env())
        .arg(path)
        .output()
        .expect("cfn-lint is provisioned by the test kit");
    assert!(
        out.status.success(),
        "cfn-lint {}:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The template as YAML values (CloudFormation's `!Ref`/`!GetAtt` tags are kept as tagged values).
fn load(path: &Path) -> Value {
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<&'a Value> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some(kind))
        .collect()
}

/// The function uses the layer, reads its key from Secrets Manager and may read that secret.
fn check_function(f: &Value) {
    let p = &f["Properties"];
    assert_eq!(p["Layers"].as_sequence().map(Vec::len), Some(1));
    assert!(!p["Environment"]["Variables"]["DD_API_KEY_SECRET_ARN"].is_null());
    let text = serde_norway::to_string(&p["Policies"]).unwrap();
    assert!(text.contains("secretsmanager:GetSecretValue"), "{text}");
}

#[test]
fn on_demand_template_is_valid_and_complete() {
    let path = template("on-demand.yaml");
    cfn_lint(&path);
    let t = load(&path);
    let functions = of_type(&t, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 1);
    check_function(functions[0]);
    assert!(functions[0]["Properties"]["CapacityProviderConfig"].is_null());
}

#[test]
fn managed_instances_template_is_valid_and_complete() {
    let path = template("managed-instances.yaml");
    cfn_lint(&path);
    let t = load(&path);
    let providers = of_type(&t, "AWS::Serverless::CapacityProvider");
    assert_eq!(providers.len(), 1);
    let vpc = &providers[0]["Properties"]["VpcConfig"];
    assert!(!vpc["SubnetIds"].is_null() && !vpc["SecurityGroupIds"].is_null());
    let functions = of_type(&t, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 1);
    check_function(functions[0]);
    let p = &functions[0]["Properties"];
    assert!(p["MemorySize"].as_u64().is_some_and(|m| m >= 2048));
    assert!(!p["CapacityProviderConfig"]["Arn"].is_null());
}

#[test]
fn cfn_lint_rejects_a_broken_template() {
    // The check above can fail: a Managed Instances function without its capacity provider's VPC.
    let t = std::fs::read_to_string(template("managed-instances.yaml")).unwrap();
    let broken = t.replace("      VpcConfig:\n", "      VpcConfigs:\n");
    assert_ne!(broken, t);
    let path = std::env::temp_dir().join(format!("tandem-broken-{}.yaml", std::process::id()));
    std::fs::write(&path, broken).unwrap();
    let out = std::process::Command::new("cfn-lint")
        .envs(tandem_testkit::tools::python_env())
        .arg(&path)
        .output()
        .expect("cfn-lint");
    let _ = std::fs::remove_file(&path);
    assert!(
        !out.status.success(),
        "cfn-lint accepted a capacity provider without VpcConfig"
    );
}
