#![allow(clippy::indexing_slicing)] // test code: a panic is a failed test

use super::*;

fn opts(f: impl FnOnce(&mut Obfuscation)) -> Options {
    let mut o = Obfuscation::default();
    f(&mut o);
    Options(o)
}

fn typed(t: &str, resource: &str, meta: &[(&str, &str)]) -> Span {
    Span {
        r#type: t.into(),
        resource: resource.into(),
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

/// Issue 12, item 7: the Agent's SQL obfuscation on the resource and `sql.query`.
#[test]
fn sql_literals_comments_and_lists() {
    for (q, want) in [
        (
            "SELECT * FROM users WHERE id = 42",
            "SELECT * FROM users WHERE id = ?",
        ),
        (
            "select name from t where a = 'x''y' and b = -1.5 and c = TRUE",
            "select name from t where a = ? and b = ? and c = ?",
        ),
        (
            "SELECT * FROM t WHERE id IN (1, 2, 3) -- trailing",
            "SELECT * FROM t WHERE id IN ( ? )",
        ),
        (
            "INSERT INTO t (a, b) VALUES (1, 'secret') /* c */",
            "INSERT INTO t ( a, b ) VALUES ( ? )",
        ),
        (
            "SELECT articles.* FROM articles WHERE articles.id = $1",
            "SELECT articles.* FROM articles WHERE articles.id = ?",
        ),
        ("SELECT count(*) FROM x", "SELECT count ( * ) FROM x"),
        ("UPDATE t SET a = a - 1", "UPDATE t SET a = a - ?"),
    ] {
        assert_eq!(sql(q), want, "{q}");
    }
    let mut s = typed("sql", "SELECT * FROM t WHERE pw = 'hunter2'", &[]);
    span(&mut s, &Options::default());
    assert_eq!(s.resource, "SELECT * FROM t WHERE pw = ?");
    assert_eq!(s.meta["sql.query"], s.resource);
}

#[test]
fn redis_memcached_and_json_bodies() {
    let mut s = typed(
        "redis",
        "SET",
        &[("redis.raw_command", "SET user:1 hunter2\nAUTH pw\nGET k")],
    );
    span(&mut s, &Options::default());
    assert_eq!(s.meta["redis.raw_command"], "SET user:1 ?\nAUTH ?\nGET k");
    let mut s = typed("redis", "SET", &[("redis.raw_command", "SET k v")]);
    span(&mut s, &opts(|o| o.redis_remove_all_args = true));
    assert_eq!(s.meta["redis.raw_command"], "SET ?");

    let mut s = typed(
        "memcached",
        "set",
        &[("memcached.command", "set k 0 0 5\r\nvalue")],
    );
    span(&mut s.clone(), &Options::default());
    let mut kept = s.clone();
    span(&mut s, &Options::default());
    assert!(!s.meta.contains_key("memcached.command"));
    span(&mut kept, &opts(|o| o.memcached_keep_command = true));
    assert_eq!(kept.meta["memcached.command"], "set k 0 0 5");

    let mut s = typed(
        "mongodb",
        "find",
        &[("mongodb.query", r#"{"name":"bob","age":{"$gt":3}}"#)],
    );
    span(
        &mut s,
        &opts(|o| o.mongodb_keep_values = vec!["name".into()]),
    );
    assert_eq!(
        s.meta["mongodb.query"],
        r#"{"age":{"$gt":"?"},"name":"bob"}"#
    );
    let mut s = typed("elasticsearch", "q", &[("elasticsearch.body", "not json")]);
    span(&mut s, &Options::default());
    assert_eq!(s.meta["elasticsearch.body"], "?");
}

#[test]
fn http_urls_only_when_asked_and_stack_traces() {
    let u = "https://user:pw@api.example.com/users/42/orders?token=abc";
    let mut s = typed("http", "GET", &[("http.url", u), ("error.stack", "at x")]);
    span(&mut s, &Options::default());
    assert_eq!(
        s.meta["http.url"], "https://api.example.com/users/42/orders?token=abc",
        "userinfo always goes; the rest stays by default"
    );
    assert_eq!(s.meta["error.stack"], "at x");
    let mut s = typed("web", "GET", &[("http.url", u), ("error.stack", "at x")]);
    span(
        &mut s,
        &opts(|o| {
            o.http_remove_query_string = true;
            o.http_remove_paths_with_digits = true;
            o.remove_stack_traces = true;
        }),
    );
    assert_eq!(
        s.meta["http.url"],
        "https://api.example.com/users/?/orders?"
    );
    assert_eq!(s.meta["error.stack"], "?");
}
