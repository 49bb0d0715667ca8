//! The import rules of README "Architecture", read from the source: every `crate::…` path in
//! the core (`src/`), every `tandem::…` path in the controllers (`modes/`), and the crates'
//! manifests. A forbidden edge fails with its name and the file that makes it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Modules that import nothing of ours but each other: everything may stand on them.
const FOUNDATION: &[&str] = &[
    "base64", "counters", "diag", "durable", "http", "level", "memory", "payload", "secret",
    "sync", "time",
];
/// Pure leaves: they import nothing of ours at all.
const LEAVES: &[&str] = &[
    "base64", "durable", "level", "payload", "secret", "sync", "time",
];
/// Signals and pipelines the intake must never know.
const SIGNALS: &[&str] = &[
    "core",
    "dogstatsd",
    "invocations",
    "lambda",
    "logs",
    "metrics",
    "otlp",
    "secrets",
    "tags",
    "traces",
];
/// Listener files: they hand data to pipelines (or the forwarder) and never ship.
const LISTENERS: &[&str] = &[
    "dogstatsd/server.rs",
    "lambda/listener.rs",
    "otlp/grpc.rs",
    "otlp/receiver.rs",
    "traces/lifecycle.rs",
    "traces/server.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its test module (test modules may reach anywhere). Only a
/// `#[cfg(test)]` on a `mod` ends the production code: one on a single helper does not.
fn production_code(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    if name == "tests.rs" || name.ends_with("_tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let test_module = text
        .match_indices("#[cfg(test)]")
        .find(|(i, marker)| text[i + marker.len()..].trim_start().starts_with("mod "));
    match test_module {
        Some((i, _)) => text[..i].to_string(),
        None => text,
    }
}

/// The first path segments after `prefix` (`crate::config::X` → `config`), including those in
/// grouped imports (`use crate::{config, intake::Key}`).
fn imported(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(|g| ident(g.trim())));
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

/// Each core module (top-level file or folder of `src/`) → the core modules it imports, with
/// the file that does it.
fn core_edges() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| top_module(&src, f))
        .filter(|m| m != "lib")
        .collect();
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in &files {
        let from = top_module(&src, f);
        let rel = f.strip_prefix(&src).unwrap().display().to_string();
        for to in imported(&production_code(f), "crate::") {
            if modules.contains(&to) && to != from {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert(rel.clone());
            }
        }
    }
    edges
}

fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every rule broken, as `from -> to (file): rule`.
fn violations() -> Vec<String> {
    let edges = core_edges();
    let mut out = Vec::new();
    let mut forbid = |from: &str, to: &str, file: &str, rule: &str| {
        out.push(format!("src/{file}: {from} -> {to}: {rule}"));
    };
    for (from, tos) in &edges {
        for (to, file) in tos {
            if edges.get(to).is_some_and(|back| back.contains_key(from)) {
                forbid(from, to, file, "no two modules import each other");
            }
            if LEAVES.contains(&from.as_str()) {
                forbid(from, to, file, "a leaf imports nothing of ours");
            }
            if FOUNDATION.contains(&from.as_str()) && !FOUNDATION.contains(&to.as_str()) {
                forbid(
                    from,
                    to,
                    file,
                    "foundation modules stand on foundation only",
                );
            }
            if from == "diag" && !LEAVES.contains(&to.as_str()) {
                forbid(from, to, file, "the logger depends on leaves only");
            }
            if from == "config" && !LEAVES.contains(&to.as_str()) {
                forbid(from, to, file, "config depends on leaves only");
            }
            if from == "intake" && SIGNALS.contains(&to.as_str()) {
                forbid(
                    from,
                    to,
                    file,
                    "the intake takes encoded payloads only: no signal or pipeline type",
                );
            }
        }
    }
    // Listeners never ship.
    let src = root().join("src");
    for l in LISTENERS {
        let code = production_code(&src.join(l));
        if imported(&code, "crate::").contains("intake") {
            out.push(format!(
                "src/{l}: listener -> intake: listeners hand data to pipelines and never ship"
            ));
        }
    }
    // The controllers drive the core's interface; they never touch payloads or delivery.
    let mut files = Vec::new();
    rust_files(&root().join("modes"), &mut files);
    for f in files {
        let code = production_code(&f);
        for m in imported(&code, "tandem::") {
            if ["intake", "payload", "metrics", "traces"].contains(&m.as_str()) {
                out.push(format!(
                    "{}: modes -> {m}: the controllers decide when to flush, never touch payloads",
                    f.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    out
}

#[test]
fn the_import_rules_hold() {
    let broken = violations();
    assert!(
        broken.is_empty(),
        "forbidden imports:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn the_core_and_the_controllers_never_depend_on_the_test_kit() {
    for manifest in ["src/Cargo.toml", "Cargo.toml"] {
        let text = std::fs::read_to_string(root().join(manifest)).unwrap();
        let deps = text
            .split("[dependencies]")
            .nth(1)
            .unwrap_or("")
            .split("\n[")
            .next()
            .unwrap_or("");
        assert!(
            !deps.contains("tandem-testkit"),
            "{manifest}: the test kit is a normal dependency; it may only be a dev-dependency"
        );
    }
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("modes"), &mut files);
    for f in files {
        assert!(
            !production_code(&f).contains("tandem_testkit"),
            "{} uses the test kit",
            f.display()
        );
    }
}

#[test]
fn the_reader_sees_grouped_and_nested_paths() {
    let code =
        "use crate::{config::Config, intake};\nlet x = crate::time::now_ms();\n$crate::diag::write";
    let got = imported(code, "crate::");
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        ["config", "intake", "time"]
    );
}
