//! The README's configuration table and the code agree: every Datadog setting Tandem knows but
//! does not implement (`tandem::config::unsupported::UNSUPPORTED`) has a "warned" row, and every
//! `DD_` variable the code reads is listed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};
use tandem::config::unsupported::UNSUPPORTED;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs")
            && p.file_name().is_none_or(|n| n != "tests.rs")
        {
            out.push(p);
        }
    }
}

/// `"DD_…"` string literals of a file's production code (before its test module).
fn dd_literals(code: &str) -> Vec<String> {
    let code = code.split("#[cfg(test)]\nmod tests").next().unwrap_or(code);
    let mut out = Vec::new();
    for (i, _) in code.match_indices("\"DD_") {
        let rest = &code[i + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        if rest[end..].starts_with('"') {
            out.push(rest[..end].to_string());
        }
    }
    out
}

#[test]
fn every_unsupported_setting_has_a_warned_row() {
    let readme = readme();
    for u in UNSUPPORTED {
        let shown = if u.prefix {
            format!("`{}*`", u.name)
        } else {
            format!("`{}`", u.name)
        };
        let row = readme
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&shown));
        assert!(
            row.is_some_and(|r| r.contains("warned")),
            "README lacks a warned row for {shown}"
        );
    }
}

#[test]
fn every_variable_the_code_reads_is_in_the_configuration_table() {
    let readme = readme();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut missing = Vec::new();
    for f in files {
        for name in dd_literals(&std::fs::read_to_string(&f).unwrap()) {
            if !readme.contains(&format!("`{name}")) {
                missing.push(format!("{name} ({})", f.display()));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "not in README:\n{}", missing.join("\n"));
}
