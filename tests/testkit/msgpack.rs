//! Trace payloads as a tracer sends them (msgpack v0.4), built by hand: realistic spans in any
//! number, for the trace tests, the floods and the benches.

fn str_(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else {
        out.push(0xd9);
        out.push(n as u8);
    }
    out.extend_from_slice(s.as_bytes());
}

fn uint(out: &mut Vec<u8>, v: u64) {
    out.push(0xcf);
    out.extend_from_slice(&v.to_be_bytes());
}

fn map(out: &mut Vec<u8>, n: usize) {
    out.push(0x80 | n as u8);
}

fn arr(out: &mut Vec<u8>, n: usize) {
    out.push(0xdd);
    out.extend_from_slice(&(n as u32).to_be_bytes());
}

/// `traces` traces of `spans` spans each (11 fields, five meta tags, one metric — about 330
/// bytes a span); trace ids start after `first_trace`.
pub fn v04(traces: usize, spans: usize, first_trace: u64) -> Vec<u8> {
    let mut o = Vec::with_capacity(traces * spans * 340 + 8);
    arr(&mut o, traces);
    for t in 0..traces {
        let trace_id = first_trace + 1 + t as u64;
        arr(&mut o, spans);
        for s in 0..spans {
            map(&mut o, 11);
            for (k, v) in [
                ("service", "orders"),
                ("name", "http.request"),
                ("resource", "GET /users/{id}"),
                ("type", "web"),
            ] {
                str_(&mut o, k);
                str_(&mut o, v);
            }
            let span_id = trace_id * 1_000 + s as u64 + 1;
            str_(&mut o, "trace_id");
            uint(&mut o, trace_id);
            str_(&mut o, "span_id");
            uint(&mut o, span_id);
            str_(&mut o, "parent_id");
            uint(&mut o, if s == 0 { 0 } else { span_id - 1 });
            str_(&mut o, "start");
            uint(&mut o, 1_700_000_000_000_000_000);
            str_(&mut o, "duration");
            uint(&mut o, 1_000_000);
            str_(&mut o, "meta");
            map(&mut o, 5);
            for (k, v) in [
                ("http.url", "https://api.example.com/users/42"),
                ("http.method", "GET"),
                ("http.status_code", "200"),
                ("component", "requests"),
                ("span.kind", "client"),
            ] {
                str_(&mut o, k);
                str_(&mut o, v);
            }
            str_(&mut o, "metrics");
            map(&mut o, 1);
            str_(&mut o, "_dd.measured");
            o.push(0xcb);
            o.extend_from_slice(&1.0f64.to_be_bytes());
        }
    }
    o
}

/// Any JSON value as msgpack: objects as maps, arrays, strings, and numbers as the tracers
/// write them (non-negative integers as uint64, negative as int64, others as float64) — so a
/// test writes a tracer's spans as `json!` and sends them as v0.4.
pub fn from_json(v: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_json(&mut out, v);
    out
}

fn write_json(o: &mut Vec<u8>, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => o.push(0xc0),
        Value::Bool(b) => o.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                uint(o, u);
            } else if let Some(i) = n.as_i64() {
                o.push(0xd3);
                o.extend_from_slice(&i.to_be_bytes());
            } else {
                o.push(0xcb);
                o.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_be_bytes());
            }
        }
        Value::String(s) => {
            o.push(0xdb);
            o.extend_from_slice(&(s.len() as u32).to_be_bytes());
            o.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            arr(o, a.len());
            a.iter().for_each(|x| write_json(o, x));
        }
        Value::Object(m) => {
            o.push(0xdf);
            o.extend_from_slice(&(m.len() as u32).to_be_bytes());
            for (k, x) in m {
                write_json(o, &Value::String(k.clone()));
                // Metrics are doubles even when written as whole numbers.
                if k == "metrics"
                    && let Value::Object(metrics) = x
                {
                    o.push(0xdf);
                    o.extend_from_slice(&(metrics.len() as u32).to_be_bytes());
                    for (mk, mv) in metrics {
                        write_json(o, &Value::String(mk.clone()));
                        o.push(0xcb);
                        o.extend_from_slice(&mv.as_f64().unwrap_or(0.0).to_be_bytes());
                    }
                } else {
                    write_json(o, x);
                }
            }
        }
    }
}
