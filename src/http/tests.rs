use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn ok_server() -> ServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(listener, |_req| async { respond(StatusCode::OK, "ok") }).unwrap()
}

async fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// Issue 11, row 14: a client that never finishes its headers is cut off (slowloris).
#[tokio::test(start_paused = true)]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let server = ok_server().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let started = tokio::time::Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    assert!(started.elapsed() >= HEADER_TIMEOUT);
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"), "{buf:?}");
}

/// Issue 11, row 14: at most `MAX_CONNECTIONS` are served at once; the next waits for a slot
/// and is served as soon as one frees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_slot() {
    let server = ok_server().await;
    let mut idle = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // Each idle connection holds a slot once accepted; a request on the next one waits.
    let mut waiting = tokio::spawn(get(server.addr));
    let early = tokio::time::timeout(Duration::from_millis(300), &mut waiting).await;
    assert!(early.is_err(), "served beyond the cap");
    drop(idle.pop());
    let answer = waiting.await.unwrap().unwrap();
    assert!(answer.contains("200 OK"), "{answer}");
}

/// Issue 11, row 14: `drain` lets a request in flight finish before the server is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_waits_for_the_requests_in_flight() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (release, released) = tokio::sync::watch::channel(false);
    let (started_tx, mut started) = tokio::sync::mpsc::channel::<()>(1);
    let server = serve(listener, move |req| {
        let mut released = released.clone();
        let started_tx = started_tx.clone();
        async move {
            let body = read_body(req.into_body(), 1024).await.unwrap_or_default();
            let _ = started_tx.send(()).await;
            let _ = released.wait_for(|r| *r).await;
            respond(StatusCode::OK, body)
        }
    })
    .unwrap();
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nlate")
        .await
        .unwrap();
    // The request is being handled when SHUTDOWN comes.
    started.recv().await.unwrap();
    let drained = tokio::spawn(async move {
        server
            .drain(std::time::Instant::now() + Duration::from_secs(10))
            .await
    });
    release.send(true).unwrap();
    let mut out = vec![0u8; 256];
    let n = s.read(&mut out).await.unwrap();
    let answer = String::from_utf8_lossy(&out[..n]).into_owned();
    assert!(
        answer.contains("200 OK") && answer.ends_with("late"),
        "{answer}"
    );
    assert!(drained.await.unwrap(), "drained");
}
