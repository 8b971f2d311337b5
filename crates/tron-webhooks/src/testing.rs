//! A webhook receiver for tests (feature `testing`): an HTTP server on
//! `127.0.0.1`, port 0, that checks every request's signature with its
//! secret, records what it got, and answers as told — a status for the
//! next N requests, a redirect, or no answer at all.
//!
//! The signature is checked without the clock: the server under test runs
//! on an injected clock, so tests compare [`Received::timestamp`] with it.
//! Deliveries to it need [`crate::NetworkPolicy::AllowPrivate`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::event::Event;
use crate::secret::WebhookSecret;
use crate::signature::{self, VerifyError, HEADER_ID};

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// `302 Found` to this location.
    Redirect(String),
    /// Accept the request and never answer (until the receiver is dropped).
    Hang,
}

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The signature checked with the receiver's secret at that moment.
    pub verified: Result<(), VerifyError>,
    /// `webhook-timestamp`, if it was Unix seconds.
    pub timestamp: Option<i64>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn webhook_id(&self) -> Option<&str> {
        self.header(HEADER_ID)
    }

    pub fn event(&self) -> Result<Event, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// [`TestReceiver::wait_for`] ran out of time; holds what did arrive.
#[derive(Debug, thiserror::Error)]
#[error("expected {wanted} deliveries, got {} in time", .got.len())]
pub struct WaitTimeout {
    pub wanted: usize,
    pub got: Vec<Received>,
}

struct Shared {
    secret: Mutex<WebhookSecret>,
    replies: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
    count: watch::Sender<usize>,
    stop: watch::Receiver<bool>,
}

pub struct TestReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
}

/// Largest body the receiver reads.
const MAX_BODY: usize = 1 << 20;
/// How long [`Reply::Hang`] holds a request at most.
const HANG_FOR: Duration = Duration::from_secs(600);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TestReceiver {
    /// Listens on `127.0.0.1:0`; answers `200` unless told otherwise.
    pub async fn start(secret: WebhookSecret) -> std::io::Result<TestReceiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            secret: Mutex::new(secret),
            replies: Mutex::new(VecDeque::new()),
            received: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
            stop: stop_rx,
        });
        let app = Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(TestReceiver {
            addr,
            shared,
            stop,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:{port}/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Checks later requests with this secret (after a rotation).
    pub fn set_secret(&self, secret: WebhookSecret) {
        *lock(&self.shared.secret) = secret;
    }

    /// Answers the next `n` requests (after those already scripted) so.
    pub fn reply_next(&self, n: usize, reply: Reply) {
        let mut replies = lock(&self.shared.replies);
        replies.extend(std::iter::repeat_n(reply, n));
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }

    /// Waits until at least `n` requests have arrived (a hanging one
    /// counts on arrival), at most `within`.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Result<Vec<Received>, WaitTimeout> {
        let mut count = self.shared.count.subscribe();
        let arrived = tokio::time::timeout(within, count.wait_for(|&c| c >= n)).await;
        match arrived {
            Ok(Ok(_)) => Ok(self.received()),
            _ => Err(WaitTimeout {
                wanted: n,
                got: self.received(),
            }),
        }
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.server.abort();
    }
}

async fn receive(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_BODY).await.unwrap_or_default().to_vec();
    let (verified, timestamp) = {
        let secret = lock(&shared.secret);
        match signature::header_parts(&parts.headers) {
            Ok((id, ts, sigs)) => (
                signature::check_signature(&secret, id, ts, sigs, &body).map(|_| ()),
                ts.parse().ok(),
            ),
            Err(e) => (Err(e), None),
        }
    };
    let received = Received {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.to_string()),
        headers: parts.headers,
        body,
        verified,
        timestamp,
    };
    let total = {
        let mut all = lock(&shared.received);
        all.push(received);
        all.len()
    };
    shared.count.send_replace(total);
    let reply = lock(&shared.replies).pop_front();
    match reply {
        None => (StatusCode::OK, "ok").into_response(),
        Some(Reply::Status(code)) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        Some(Reply::Redirect(location)) => Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, location)
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Some(Reply::Hang) => {
            let mut stop = shared.stop.clone();
            let _ = tokio::time::timeout(HANG_FOR, stop.wait_for(|stopped| *stopped)).await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
