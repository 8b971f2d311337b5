//! The accept loop: one HTTP/1.1 connection per accepted socket, with the
//! limits `axum::serve` does not have.
//!
//! - A request head must arrive within `Config::header_read_timeout`
//!   (hyper's `header_read_timeout`, also between requests on a kept-alive
//!   connection); a client that sends half a head is disconnected, so slow
//!   clients cannot hold descriptors indefinitely.
//! - Each client address holds at most `Config::max_connections_per_address`
//!   connections at once; one more is closed on accept. Trusted proxies
//!   (`TRON_TRUSTED_PROXIES`) are exempt: every client behind them shares
//!   their address. IPv4-mapped IPv6 peers (`--listen [::]:…`) count as
//!   their IPv4 address.
//! - Accept errors (out of descriptors) pause the loop briefly instead of
//!   spinning.
//!
//! On shutdown the listener closes, in-flight requests may finish within
//! [`crate::SHUTDOWN_GRACE`], and idle connections are closed.
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::state::AppState;

/// Connections held per client address.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in [`PerClient`], given back on drop.
struct Slot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn take(table: &Arc<PerClient>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut held = table.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            table: table.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub(crate) async fn serve_connections<S>(
    listener: TcpListener,
    app: S,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    S: tower::Service<
            Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.config.header_read_timeout)
        .keep_alive(true);
    let max = state.config.max_connections_per_address.max(1);
    let trusted = state.config.trusted_proxies.clone();
    let table = Arc::new(PerClient::default());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let ip = peer.ip().to_canonical();
        let slot = if trusted.iter().any(|n| n.contains(&ip)) {
            None
        } else {
            match PerClient::take(&table, ip, max) {
                Some(slot) => Some(slot),
                None => {
                    tracing::debug!(client = %ip, "too many connections from one client; closed");
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let peer = SocketAddr::new(ip, peer.port());
        let service = app
            .clone()
            .map_request(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(crate::SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within the shutdown grace period");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_max_slots_and_gets_them_back() {
        let table = Arc::new(PerClient::default());
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let held: Vec<_> = (0..3)
            .filter_map(|_| PerClient::take(&table, a, 3))
            .collect();
        assert_eq!(held.len(), 3);
        assert!(PerClient::take(&table, a, 3).is_none());
        assert!(PerClient::take(&table, b, 3).is_some());
        drop(held);
        assert!(PerClient::take(&table, a, 3).is_some());
        assert!(table.0.lock().map(|t| t.get(&a).is_none()).unwrap_or(false));
    }
}
