//! The Agent's obfuscation of span data, applied to every span before it leaves: SQL queries
//! (literals become `?`, comments go, `IN (?, ?)` lists fold), Redis commands (arguments
//! after the key), Memcached commands, MongoDB and Elasticsearch JSON bodies (values become
//! `?`), and — when switched on — HTTP query strings, path segments with digits and stack
//! traces. Pure; never fails: what cannot be parsed is left as it is or fully hidden.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // span data comes from outside

use super::proto::Span;
use crate::config::{Config, Obfuscation};
use serde_json::Value;

/// What the obfuscator does, from `DD_APM_OBFUSCATION_*`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options(Obfuscation);

impl Options {
    pub(crate) fn new(config: &Config) -> Self {
        Self(config.obfuscation.clone())
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn with(o: Obfuscation) -> Self {
        Self(o)
    }
}

/// Obfuscates one span in place, by its type, as the Agent does.
pub(crate) fn span(s: &mut Span, opts: &Options) {
    let o = &opts.0;
    match s.r#type.as_str() {
        "sql" | "cassandra" => {
            if !s.resource.is_empty() {
                let q = sql(&s.resource);
                s.meta.insert("sql.query".into(), q.clone());
                s.resource = q;
            } else if let Some(q) = s.meta.get_mut("sql.query") {
                *q = sql(q);
            }
        }
        "redis" | "valkey" if o.redis_enabled => {
            for key in ["redis.raw_command", "valkey.raw_command"] {
                if let Some(cmd) = s.meta.get_mut(key) {
                    *cmd = redis(cmd, o.redis_remove_all_args);
                }
            }
        }
        "memcached" if o.memcached_enabled => {
            let kept = s
                .meta
                .get("memcached.command")
                .filter(|_| o.memcached_keep_command)
                .map(|c| c.split("\r\n").next().unwrap_or("").trim().to_string());
            match kept {
                Some(c) if !c.is_empty() => {
                    s.meta.insert("memcached.command".into(), c);
                }
                _ => {
                    s.meta.remove("memcached.command");
                }
            }
        }
        "mongodb" if o.mongodb_enabled => {
            if let Some(q) = s.meta.get_mut("mongodb.query") {
                *q = json(q, &o.mongodb_keep_values);
            }
        }
        "elasticsearch" | "opensearch" if o.elasticsearch_enabled => {
            for key in ["elasticsearch.body", "opensearch.body"] {
                if let Some(b) = s.meta.get_mut(key) {
                    *b = json(b, &o.elasticsearch_keep_values);
                }
            }
        }
        "http" | "web" => {
            if let Some(u) = s.meta.get_mut("http.url")
                && let Some(clean) = url(
                    u,
                    o.http_remove_query_string,
                    o.http_remove_paths_with_digits,
                )
            {
                *u = clean;
            }
        }
        _ => {}
    }
    if o.remove_stack_traces
        && let Some(st) = s.meta.get_mut("error.stack")
    {
        *st = "?".into();
    }
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Word(&'a str),
    /// An operator (`=`, `<>`, `::`): printed like a word, but a sign after it is a number's.
    Op(&'a str),
    Literal,
    Punct(char),
}

/// SQL with every literal replaced by `?`, comments removed, `?` lists folded, and tokens
/// separated by single spaces.
pub(crate) fn sql(q: &str) -> String {
    let tokens = sql_tokens(q);
    let mut out = String::with_capacity(q.len());
    let mut prev: Option<&Token> = None;
    let mut i = 0;
    while let Some(t) = tokens.get(i) {
        // `( ?, ?, ? )` → `( ? )`
        if *t == Token::Literal && prev == Some(&Token::Punct('(')) {
            let mut j = i + 1;
            while tokens.get(j) == Some(&Token::Punct(','))
                && tokens.get(j + 1) == Some(&Token::Literal)
            {
                j += 2;
            }
            i = j - 1;
        }
        let tok = tokens.get(i).unwrap_or(t);
        match tok {
            Token::Punct(',') => out.push(','),
            Token::Punct('.') => out.push('.'),
            other => {
                let glued = matches!(prev, Some(Token::Punct('.')));
                if !out.is_empty() && !glued {
                    out.push(' ');
                }
                match other {
                    Token::Word(w) | Token::Op(w) => out.push_str(w),
                    Token::Literal => out.push('?'),
                    Token::Punct(c) => out.push(*c),
                }
            }
        }
        prev = Some(tok);
        i += 1;
    }
    out
}

fn sql_tokens(q: &str) -> Vec<Token<'_>> {
    let b = q.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let at = |k: usize| b.get(k).copied().unwrap_or(0);
    while i < b.len() {
        let c = at(i);
        let start = i;
        match c {
            c if c.is_ascii_whitespace() => i += 1,
            b'-' if at(i + 1) == b'-' => {
                while i < b.len() && at(i) != b'\n' {
                    i += 1;
                }
            }
            b'/' if at(i + 1) == b'*' => {
                i += 2;
                while i < b.len() && !(at(i) == b'*' && at(i + 1) == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'\'' => {
                i += 1;
                while i < b.len() {
                    // `''` and `\'` escape a quote.
                    if (at(i) == b'\'' && at(i + 1) == b'\'') || at(i) == b'\\' {
                        i += 2;
                    } else if at(i) == b'\'' {
                        break;
                    } else {
                        i += 1;
                    }
                }
                i += 1;
                tokens.push(Token::Literal);
            }
            b'"' | b'`' => {
                i += 1;
                while i < b.len() && at(i) != c {
                    i += 1;
                }
                i += 1;
                tokens.push(Token::Word(q.get(start..i.min(b.len())).unwrap_or("")));
            }
            b'0'..=b'9' => {
                while i < b.len() && (at(i).is_ascii_alphanumeric() || at(i) == b'.') {
                    i += 1;
                }
                tokens.push(Token::Literal);
            }
            b'-' | b'+'
                if at(i + 1).is_ascii_digit()
                    && !matches!(
                        tokens.last(),
                        Some(Token::Word(_) | Token::Literal | Token::Punct(')'))
                    ) =>
            {
                i += 1;
                while i < b.len() && (at(i).is_ascii_alphanumeric() || at(i) == b'.') {
                    i += 1;
                }
                tokens.push(Token::Literal);
            }
            b'$' | b':' | b'@' if at(i + 1).is_ascii_alphanumeric() => {
                // Bind parameters (`$1`, `:name`, `@p0`) are placeholders already.
                i += 1;
                while i < b.len() && (at(i).is_ascii_alphanumeric() || at(i) == b'_') {
                    i += 1;
                }
                tokens.push(Token::Literal);
            }
            b'?' => {
                i += 1;
                tokens.push(Token::Literal);
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len()
                    && (at(i).is_ascii_alphanumeric()
                        || matches!(at(i), b'_' | b'$' | b'#')
                        || at(i) >= 0x80)
                {
                    i += 1;
                }
                let w = q.get(start..i).unwrap_or("");
                if ["null", "true", "false"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    tokens.push(Token::Literal);
                } else {
                    tokens.push(Token::Word(w));
                }
            }
            b'<' | b'>' | b'!' | b'=' | b'|' | b':' => {
                while i < b.len() && matches!(at(i), b'<' | b'>' | b'!' | b'=' | b'|' | b':') {
                    i += 1;
                }
                tokens.push(Token::Op(q.get(start..i).unwrap_or("")));
            }
            _ => {
                i += 1;
                tokens.push(Token::Punct(char::from(c)));
            }
        }
    }
    tokens
}

/// Redis: each command keeps its name and its key; the other arguments become `?` (or all of
/// them with `remove_all_args`). Commands are separated by new lines.
fn redis(raw: &str, remove_all_args: bool) -> String {
    raw.lines()
        .map(|line| {
            let mut words = line.split_whitespace();
            let Some(cmd) = words.next() else {
                return String::new();
            };
            let args: Vec<&str> = words.collect();
            if args.is_empty() {
                return cmd.to_string();
            }
            if remove_all_args {
                return format!("{cmd} ?");
            }
            let upper = cmd.to_ascii_uppercase();
            match upper.as_str() {
                "AUTH" | "HELLO" | "MIGRATE" => format!("{cmd} ?"),
                _ if args.len() == 1 => format!("{cmd} {}", args.first().copied().unwrap_or("")),
                _ => format!("{cmd} {} ?", args.first().copied().unwrap_or("")),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JSON body with every value replaced by `"?"`, except under `keep` keys. Not JSON: `?`.
fn json(body: &str, keep: &[String]) -> String {
    fn walk(v: &mut Value, keep: &[String]) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if !keep.iter().any(|kk| kk == k) {
                        walk(child, keep);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, keep)),
            other => *other = Value::String("?".into()),
        }
    }
    match serde_json::from_str::<Value>(body) {
        Ok(mut v) => {
            walk(&mut v, keep);
            v.to_string()
        }
        Err(_) => "?".into(),
    }
}

/// An HTTP URL without its query string (`?` kept as a marker) and/or with path segments that
/// hold digits replaced by `?`; userinfo (a credential) is always removed. `None`: unchanged
/// (the common case, which must not allocate: every web span passes here).
fn url(u: &str, remove_query: bool, remove_digits: bool) -> Option<String> {
    let authority = u.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or("")
    });
    if !remove_query && !remove_digits && !authority.contains('@') {
        return None;
    }
    let (mut base, query) = match u.split_once('?') {
        Some((b, q)) => (b.to_string(), Some(q)),
        None => (u.to_string(), None),
    };
    if let Some((scheme, rest)) = base.split_once("://")
        && let Some(at) = rest.split('/').next().and_then(|auth| auth.rfind('@'))
    {
        base = format!("{scheme}://{}", rest.get(at + 1..).unwrap_or(""));
    }
    if remove_digits {
        let (prefix, path) = match base.split_once("://") {
            Some((scheme, rest)) => match rest.find('/') {
                Some(p) => (
                    format!("{scheme}://{}", rest.get(..p).unwrap_or("")),
                    rest.get(p..).unwrap_or("").to_string(),
                ),
                None => (base.clone(), String::new()),
            },
            None => (String::new(), base.clone()),
        };
        let path: Vec<&str> = path
            .split('/')
            .map(|seg| {
                if seg.bytes().any(|c| c.is_ascii_digit()) {
                    "?"
                } else {
                    seg
                }
            })
            .collect();
        base = format!("{prefix}{}", path.join("/"));
    }
    Some(match query {
        Some(_) if remove_query => format!("{base}?"),
        Some(q) => format!("{base}?{q}"),
        None => base,
    })
}

#[cfg(test)]
mod tests;
