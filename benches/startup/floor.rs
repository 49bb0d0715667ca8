//! The floor under the post-runtime measure: a stand-in extension that does no work of its own.
//! One thread, blocking sockets, no async runtime, no parsing beyond finding `runtimeDone`: at
//! each INVOKE it reads the telemetry batches (answering each at once) until the one carrying
//! `platform.runtimeDone`, then makes the requests Tandem's flush made — same paths, bodies of
//! the same sizes (`TANDEM_BENCH_FLOOR_REQUESTS="path=bytes,…"`, taken from Tandem's run),
//! built once at start and written side by side on kept connections — reads the answers and
//! calls `/next`. What it takes from runtimeDone sent to `/next` is what the hops themselves
//! cost on this machine (the simulator's delivery, the intake round trips, `/next`), so
//! Tandem's figure minus this one is Tandem's own share. Its bodies go uncompressed (the intake
//! does not decompress them), which favours the floor by the intake's decompression of two
//! small payloads. Run by the startup bench, which starts its own executable with
//! `TANDEM_BENCH_FLOOR=1`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

type Result<T> = std::result::Result<T, String>;

/// A kept HTTP/1.1 connection read through a buffer.
struct Conn {
    host: String,
    stream: BufReader<TcpStream>,
}

impl Conn {
    fn connect(host: &str) -> Result<Conn> {
        let stream = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            host: host.to_string(),
            stream: BufReader::new(stream),
        })
    }

    /// Sends a request; returns the answer's head (lower-cased) and body.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(String, Vec<u8>)> {
        self.send(method, path, headers, body)?;
        read_message(&mut self.stream)
    }

    /// Writes a request without reading its answer.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<()> {
        let mut out = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        self.stream
            .get_mut()
            .write_all(&bytes)
            .map_err(|e| format!("{method} {path}: {e}"))
    }
}

/// Reads one HTTP/1.1 message (request or answer): its head, lower-cased, and its body.
fn read_message(r: &mut BufReader<TcpStream>) -> Result<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    let mut body = Vec::new();
    if let Some(len) = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body).map_err(|e| e.to_string())?;
    } else if header(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).map_err(|e| e.to_string())?;
            let n = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok((head, body))
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim().to_string())
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub(crate) fn run() -> Result<()> {
    let env = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    let mut lambda = Conn::connect(&env("AWS_LAMBDA_RUNTIME_API")?)?;
    let intake_url = env("DD_LOGS_CONFIG_LOGS_DD_URL")?;
    let intake_host = intake_url.trim_start_matches("http://");
    let api_key = env("DD_API_KEY")?;
    // One kept connection per request, as Tandem's HTTP/1.1 pool holds one per request in
    // flight; a body of the same size, built once.
    let mut requests = Vec::new();
    let specs = env("TANDEM_BENCH_FLOOR_REQUESTS")?;
    for spec in specs.split(',').filter(|s| !s.is_empty()) {
        let (path, bytes) = spec.split_once('=').ok_or("a request is path=bytes")?;
        let bytes: usize = bytes
            .parse()
            .map_err(|_| format!("{spec}: not path=bytes"))?;
        requests.push((
            Conn::connect(intake_host)?,
            path.to_string(),
            vec![b'x'; bytes],
        ));
    }
    let (head, _) = lambda.request(
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "floor")],
        br#"{"events":["INVOKE","SHUTDOWN"]}"#,
    )?;
    let id = header(&head, "lambda-extension-identifier").ok_or("no extension identifier")?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    // The same buffering as Tandem's subscription, so batches go out at the same moments.
    let subscription = format!(
        r#"{{"schemaVersion":"2022-12-13","types":["platform","function"],"buffering":{{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}},"destination":{{"protocol":"HTTP","URI":"http://sandbox.localdomain:{port}/"}}}}"#
    );
    lambda.request(
        "PUT",
        "/2022-07-01/telemetry",
        &[("Lambda-Extension-Identifier", &id)],
        subscription.as_bytes(),
    )?;
    let mut telemetry: Option<BufReader<TcpStream>> = None;
    loop {
        let (_, event) = lambda.request(
            "GET",
            "/2020-01-01/extension/event/next",
            &[("Lambda-Extension-Identifier", &id)],
            b"",
        )?;
        if contains(&event, b"SHUTDOWN") {
            return Ok(());
        }
        // Batches until the one that carries runtimeDone, each answered at once.
        loop {
            let conn = match telemetry.as_mut() {
                Some(c) => c,
                None => {
                    let (s, _) = listener.accept().map_err(|e| e.to_string())?;
                    let _ = s.set_nodelay(true);
                    telemetry.insert(BufReader::new(s))
                }
            };
            let Ok((_, batch)) = read_message(conn) else {
                // The simulator opened another connection: take the next one.
                telemetry = None;
                continue;
            };
            let _ = conn
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
            if contains(&batch, b"platform.runtimeDone") {
                break;
            }
        }
        let headers = [("DD-API-KEY", api_key.as_str())];
        for (conn, path, body) in &mut requests {
            conn.send("POST", path, &headers, body)?;
        }
        for (conn, _, _) in &mut requests {
            read_message(&mut conn.stream)?;
        }
    }
}
