use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn env_wins_over_alias_and_yaml() {
    let yaml = flatten_yaml("site: yaml.example\nenv: y\n").unwrap();
    let s = Source::from_maps(
        env(&[("DD_SITE", "env.example"), ("DATADOG_ENV", "alias")]),
        yaml,
    );
    assert_eq!(s.get("DD_SITE").unwrap().1, "env.example");
    assert_eq!(
        s.get("DD_ENV").unwrap(),
        ("DATADOG_ENV".to_string(), "alias")
    );
}

#[test]
fn yaml_nested_keys_map_to_env_names() {
    let yaml = flatten_yaml(
        "apm_config:\n  replace_tags:\n    - name: a\n      pattern: b\n      repl: c\nlogs_config:\n  use_compression: false\nproxy:\n  https: http://p:3128\nadditional_endpoints:\n  https://x.example: [k1]\n",
    )
    .unwrap();
    assert!(yaml["DD_APM_REPLACE_TAGS"].starts_with('['));
    assert_eq!(yaml["DD_LOGS_CONFIG_USE_COMPRESSION"], "false");
    assert_eq!(yaml["DD_PROXY_HTTPS"], "http://p:3128");
    assert_eq!(
        yaml["DD_ADDITIONAL_ENDPOINTS"],
        r#"{"https://x.example":["k1"]}"#
    );
}

#[test]
fn empty_values_are_unset() {
    let s = Source::from_maps(env(&[("DD_ENV", "  ")]), HashMap::new());
    assert!(s.get("DD_ENV").is_none());
}

#[test]
fn bad_yaml_is_an_error_not_a_panic() {
    assert!(flatten_yaml("a: [unclosed").is_err());
    assert!(flatten_yaml("").unwrap().is_empty());
}
