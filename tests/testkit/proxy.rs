//! An HTTP forward proxy for tests, on a free loopback port: `CONNECT` tunnels (what HTTPS
//! clients open through `DD_PROXY_HTTPS`) and absolute-form plain-HTTP requests (what the AWS
//! SDK sends through `HTTP_PROXY`). It records the request line of each, so a test can tell what
//! went through it. Blocking threads, so it needs no async runtime; stopped on drop.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest request head accepted; a test client's is a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;

pub struct HttpProxy {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl HttpProxy {
    pub fn start() -> std::io::Result<HttpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let l = l.clone();
                    std::thread::spawn(move || serve(conn, &l));
                }
            }
        });
        Ok(HttpProxy { port, log, stop })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `CONNECT` tunnels opened so far.
    pub fn connects(&self) -> usize {
        self.count("CONNECT")
    }

    /// Request lines naming `needle` (a plain-HTTP request's URL, a tunnel's host).
    pub fn count(&self, needle: &str) -> usize {
        self.log().iter().filter(|l| l.contains(needle)).count()
    }

    /// Every request line seen, in order.
    pub fn log(&self) -> Vec<String> {
        tandem::sync::lock(&self.log).clone()
    }
}

/// One client connection: read the head, open the upstream, then relay both ways.
fn serve(client: TcpStream, log: &Mutex<Vec<String>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(client);
    let mut head = Vec::new();
    while head.len() < MAX_HEAD {
        let before = head.len();
        match reader.read_until(b'\n', &mut head) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if head[before..] == *b"\r\n" || head[before..] == *b"\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("").to_string();
    let mut parts = first.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    tandem::sync::lock(log).push(first.clone());
    let buffered = reader.buffer().to_vec();
    let mut client = reader.into_inner();

    if method == "CONNECT" {
        let Ok(mut upstream) = TcpStream::connect(target) else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
            return;
        };
        if client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .is_err()
            || upstream.write_all(&buffered).is_err()
        {
            return;
        }
        relay(client, upstream);
        return;
    }

    // Absolute form: `GET http://host:port/path HTTP/1.1`; sent on in origin form, one request
    // per connection (so every request shows up here).
    let Some(rest) = target.strip_prefix("http://") else {
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let host = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let Ok(mut upstream) = TcpStream::connect(&host) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    let mut out = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if name != "connection" && name != "proxy-connection" {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("connection: close\r\n\r\n");
    if upstream.write_all(out.as_bytes()).is_err() || upstream.write_all(&buffered).is_err() {
        return;
    }
    relay(client, upstream);
}

/// Copies bytes both ways until each side has finished sending.
fn relay(client: TcpStream, upstream: TcpStream) {
    let (Ok(mut client_r), Ok(mut upstream_w)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = copy(&mut client_r, &mut upstream_w);
        let _ = upstream_w.shutdown(Shutdown::Write);
    });
    let (mut upstream_r, mut client_w) = (upstream, client);
    let _ = copy(&mut upstream_r, &mut client_w);
    let _ = client_w.shutdown(Shutdown::Write);
    let _ = up.join();
}

fn copy(from: &mut TcpStream, to: &mut TcpStream) -> std::io::Result<u64> {
    let _ = from.set_read_timeout(Some(Duration::from_secs(30)));
    std::io::copy(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A one-shot origin: answers one request with `hello` and returns the head it saw.
    fn origin() -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(conn);
            let mut head = String::new();
            while reader.read_line(&mut head).unwrap() > 2 {}
            let mut conn = reader.into_inner();
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
                .unwrap();
            head
        });
        (port, seen)
    }

    fn answer(mut conn: TcpStream) -> String {
        let mut out = String::new();
        conn.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn plain_http_is_forwarded_in_origin_form_and_recorded() {
        let (port, seen) = origin();
        let proxy = HttpProxy::start().unwrap();
        let mut conn = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        let head = format!(
            "GET http://127.0.0.1:{port}/x?y=1 HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: keep-alive\r\n\r\n"
        );
        conn.write_all(head.as_bytes()).unwrap();
        assert!(answer(conn).ends_with("hello"));
        let head = seen.join().unwrap();
        assert!(head.starts_with("GET /x?y=1 HTTP/1.1\r\n"), "{head}");
        assert!(head.contains("connection: close") && !head.contains("keep-alive"));
        assert_eq!(proxy.count(&format!("127.0.0.1:{port}")), 1);
        assert_eq!(proxy.connects(), 0);
    }

    #[test]
    fn connect_opens_a_tunnel() {
        let (port, seen) = origin();
        let proxy = HttpProxy::start().unwrap();
        let mut conn = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        let head = format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        conn.write_all(head.as_bytes()).unwrap();
        let out = answer(conn);
        assert!(out.starts_with("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK"));
        assert_eq!(seen.join().unwrap(), "GET / HTTP/1.1\r\n\r\n");
        assert_eq!(proxy.connects(), 1);
    }
}
