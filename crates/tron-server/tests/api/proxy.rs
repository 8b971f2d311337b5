//! A TCP proxy between a server under test and PostgreSQL, for outages on
//! demand: connections can be frozen (bytes are swallowed, nothing is
//! closed: a half-open connection as a dead NAT or a pulled cable leaves
//! it) or cut (closed, and new ones refused, as by a stopped PostgreSQL)
//! and then let through again.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Default)]
struct Conn {
    /// It sent `LISTEN`: the invalidation listener's connection.
    listener: AtomicBool,
    frozen: AtomicBool,
    pumps: Mutex<Vec<AbortHandle>>,
}

#[derive(Default)]
struct State {
    conns: Mutex<Vec<Arc<Conn>>>,
}

pub struct Proxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    state: Arc<State>,
    /// The accept loop, which owns the listening socket: `None` while cut,
    /// so that connecting is refused as when PostgreSQL is down.
    accept: Mutex<Option<AbortHandle>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let socket = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = socket.local_addr().expect("proxy addr");
        let state = Arc::new(State::default());
        let accept = accept_loop(socket, upstream, state.clone());
        Proxy {
            addr,
            upstream,
            state,
            accept: Mutex::new(Some(accept)),
        }
    }

    /// `url` (a PostgreSQL URL) with its host and port replaced by the
    /// proxy's.
    pub fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("scheme");
        let (auth_host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let user = auth_host.rsplit_once('@').map(|(u, _)| format!("{u}@"));
        format!(
            "{scheme}://{}{}/{path}",
            user.unwrap_or_default(),
            self.addr
        )
    }

    /// Freezes every connection that has sent `LISTEN`; how many.
    pub fn freeze_listeners(&self) -> usize {
        let conns = self.state.conns.lock().expect("lock");
        let mut n = 0;
        for c in conns.iter().filter(|c| c.listener.load(Ordering::SeqCst)) {
            c.frozen.store(true, Ordering::SeqCst);
            n += 1;
        }
        n
    }

    /// Closes every connection and the listening socket: connecting is
    /// refused until [`Proxy::restore`].
    pub fn cut(&self) {
        if let Some(accept) = self.accept.lock().expect("lock").take() {
            accept.abort();
        }
        let mut conns = self.state.conns.lock().expect("lock");
        for c in conns.drain(..) {
            for p in c.pumps.lock().expect("lock").iter() {
                p.abort();
            }
        }
    }

    /// Listens again, on the same address.
    pub async fn restore(&self) {
        let socket = TcpListener::bind(self.addr).await.expect("rebind proxy");
        let accept = accept_loop(socket, self.upstream, self.state.clone());
        *self.accept.lock().expect("lock") = Some(accept);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

fn accept_loop(socket: TcpListener, upstream: SocketAddr, state: Arc<State>) -> AbortHandle {
    tokio::spawn(async move {
        loop {
            let Ok((inbound, _)) = socket.accept().await else {
                continue;
            };
            let Ok(outbound) = TcpStream::connect(upstream).await else {
                continue;
            };
            let conn = Arc::new(Conn::default());
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            let up = tokio::spawn(pump(ri, wo, conn.clone(), true));
            let down = tokio::spawn(pump(ro, wi, conn.clone(), false));
            if let Ok(mut p) = conn.pumps.lock() {
                p.extend([up.abort_handle(), down.abort_handle()]);
            }
            if let Ok(mut c) = state.conns.lock() {
                c.push(conn);
            }
        }
    })
    .abort_handle()
}

/// The upstream address of a PostgreSQL URL (`postgres://user@host:port/db`).
pub fn upstream_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").expect("scheme").1;
    let host_port = rest.split('/').next().expect("host");
    let host_port = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    host_port.parse().expect("host:port")
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    conn: Arc<Conn>,
    from_client: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        if from_client
            && buf[..n]
                .windows(6)
                .any(|w| w.eq_ignore_ascii_case(b"LISTEN"))
        {
            conn.listener.store(true, Ordering::SeqCst);
        }
        if conn.frozen.load(Ordering::SeqCst) {
            continue; // swallowed: the peer neither gets it nor hears of it
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
