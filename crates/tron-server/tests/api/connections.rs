//! Issue 13, defect 14: slow clients and connection floods. Raw TCP from
//! other loopback addresses (127.0.0.2, .3), since an HTTP client cannot
//! send half a request head.
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::kit::{Db, TestServer};

async fn connect_from(source: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().expect("socket");
    s.bind(SocketAddr::from((source, 0))).expect("bind source");
    s.connect(to).await.expect("connect")
}

/// Whether the server closes `stream` within `within` (reads end or fail).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // an answer (e.g. 408) before the close
        }
    }
}

/// A complete request from `source`: its status line.
async fn get_healthz(source: [u8; 4], to: SocketAddr) -> String {
    let mut s = connect_from(source, to).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// A client that sends half a request head is disconnected after the
/// header-read timeout (before: held open for good); one client address
/// holds at most `max_connections_per_address` connections while another
/// is served (before: no limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_heads_are_cut_and_one_client_cannot_take_every_connection() {
    let s = TestServer::start_configured(Db::Sqlite, |c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.max_connections_per_address = 8;
    })
    .await;

    let mut held = Vec::new();
    for _ in 0..8 {
        let mut c = connect_from([127, 0, 0, 2], s.addr).await;
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("write");
        held.push(c);
    }
    // The ninth connection of that address is closed at once...
    let mut ninth = connect_from([127, 0, 0, 2], s.addr).await;
    let _ = ninth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert!(
        closed_within(&mut ninth, Duration::from_millis(900)).await,
        "a ninth connection from one address was served"
    );
    // ...while another address is served.
    assert_eq!(get_healthz([127, 0, 0, 3], s.addr).await, "HTTP/1.1 200 OK");

    // The half-sent heads are cut after the timeout.
    for (i, c) in held.iter_mut().enumerate() {
        assert!(
            closed_within(c, Duration::from_secs(5)).await,
            "slow connection {i} was still open"
        );
    }
    // Their places are given back.
    assert_eq!(get_healthz([127, 0, 0, 2], s.addr).await, "HTTP/1.1 200 OK");
}
