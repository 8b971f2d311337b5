//! One delivery attempt.
//!
//! Invariant: an attempt is one `POST` to checked addresses only (see
//! [`crate::ssrf`]), redirects not followed, within the configured timeout
//! (10 s); a `2xx` is delivered and anything else a failure with a short
//! reason. The reason is built here from the kind of error, never from
//! reqwest's message with its URL, and never holds the secret or the
//! signature; no proxy is used.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::redirect::Policy;

use crate::event::Event;
use crate::secret::WebhookSecret;
use crate::signature::{self, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use crate::ssrf::resolve::{GuardedResolver, Lookup, Refusal, ResolveError, SystemLookup};
use crate::ssrf::{NetworkPolicy, TargetError, TargetUrl};

/// Longest error text kept for the delivery log.
const MAX_ERROR_LEN: usize = 200;

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// The whole attempt: connecting, sending, the answer's head and the
    /// part of its body that is read.
    pub timeout: Duration,
    pub network: NetworkPolicy,
    /// How much of the answer's body is kept for the log (0: none is read).
    pub max_response_bytes: usize,
    pub user_agent: String,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: Duration::from_secs(10),
            network: NetworkPolicy::PublicOnly,
            max_response_bytes: 4096,
            user_agent: format!("Tron-Webhooks/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The HTTP client could not be set up (TLS initialisation).
#[derive(Debug, thiserror::Error)]
#[error("the webhook HTTP client could not be built")]
pub struct BuildError(#[source] reqwest::Error);

/// Sends webhook attempts. One per process, shared (cloning is cheap): it
/// keeps a connection pool (connections are only ever opened to checked
/// addresses).
#[derive(Debug, Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    config: DeliveryConfig,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: AttemptResult,
    /// The start of the answer's body (lossy UTF-8), if there was one.
    pub response_body: Option<String>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered {
        status_code: u16,
    },
    Failed {
        kind: FailureKind,
        status_code: Option<u16>,
        /// For `last_error`: short, without secrets, signatures or URLs.
        error: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Answered, with a status that is neither `2xx` nor `3xx`.
    Status,
    /// Answered `3xx`: redirects are not followed.
    Redirect,
    Timeout,
    /// The name did not resolve (or to no address at all), or the
    /// connection or TLS failed.
    Connect,
    /// The target's addresses are refused (the SSRF guard): nothing was sent.
    Refused,
    /// The stored URL does not pass [`TargetUrl::parse`] (any more).
    InvalidUrl,
    /// The event could not be serialized, or another error of the exchange
    /// (the connection closed before an answer, a malformed answer).
    Request,
}

impl Outcome {
    pub fn is_delivered(&self) -> bool {
        matches!(self.result, AttemptResult::Delivered { .. })
    }

    pub fn status_code(&self) -> Option<u16> {
        match &self.result {
            AttemptResult::Delivered { status_code } => Some(*status_code),
            AttemptResult::Failed { status_code, .. } => *status_code,
        }
    }

    pub fn error(&self) -> Option<&str> {
        match &self.result {
            AttemptResult::Delivered { .. } => None,
            AttemptResult::Failed { error, .. } => Some(error),
        }
    }

    pub fn failure(&self) -> Option<FailureKind> {
        match &self.result {
            AttemptResult::Delivered { .. } => None,
            AttemptResult::Failed { kind, .. } => Some(*kind),
        }
    }
}

impl Deliverer {
    pub fn new(config: DeliveryConfig) -> Result<Self, BuildError> {
        Deliverer::with_lookup(config, Arc::new(SystemLookup))
    }

    /// With another name resolution (tests: a name pointing where they
    /// need). Its answers still go through the address check.
    pub fn with_lookup(
        config: DeliveryConfig,
        lookup: Arc<dyn Lookup>,
    ) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(config.network, lookup)))
            .no_proxy()
            .redirect(Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .https_only(config.network == NetworkPolicy::PublicOnly)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(BuildError)?;
        Ok(Deliverer { client, config })
    }

    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    /// One attempt to deliver `event` to `url`, signed with `secret` and
    /// `attempt_time` as `webhook-timestamp`. Never fails: every problem is
    /// an [`Outcome`] to record.
    pub async fn deliver(
        &self,
        url: &str,
        secret: &WebhookSecret,
        event: &Event,
        attempt_time: DateTime<Utc>,
    ) -> Outcome {
        let started = Instant::now();
        let (result, response_body) = self.attempt(url, secret, event, attempt_time).await;
        Outcome {
            result,
            response_body,
            elapsed: started.elapsed(),
        }
    }

    async fn attempt(
        &self,
        url: &str,
        secret: &WebhookSecret,
        event: &Event,
        attempt_time: DateTime<Utc>,
    ) -> (AttemptResult, Option<String>) {
        // Checked again at each attempt: the policy may have changed since
        // registration, and IP literals never reach the resolver.
        let target = match TargetUrl::parse(url, self.config.network) {
            Ok(t) => t,
            Err(e) => {
                let kind = match e {
                    TargetError::Forbidden(_) => FailureKind::Refused,
                    _ => FailureKind::InvalidUrl,
                };
                return (failed(kind, None, e.to_string()), None);
            }
        };
        let Ok(body) = event.body() else {
            let error = "the event could not be serialized".to_owned();
            return (failed(FailureKind::Request, None, error), None);
        };
        let id = event.id.to_string();
        let timestamp = attempt_time.timestamp();
        let signature = signature::sign(secret, &id, timestamp, &body);
        let sent = self
            .client
            .post(target.url().clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(HEADER_ID, id)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => {
                let (kind, error) = self.describe(&e);
                return (failed(kind, None, error), None);
            }
        };
        let status = response.status();
        let code = status.as_u16();
        let response_body = read_capped(&mut response, self.config.max_response_bytes).await;
        let result = if status.is_success() {
            AttemptResult::Delivered { status_code: code }
        } else if status.is_redirection() {
            let error =
                format!("the endpoint answered {code}, a redirect; redirects are not followed");
            failed(FailureKind::Redirect, Some(code), error)
        } else {
            failed(
                FailureKind::Status,
                Some(code),
                format!("the endpoint answered {code}"),
            )
        };
        (result, response_body)
    }

    fn describe(&self, err: &reqwest::Error) -> (FailureKind, String) {
        let mut source = err.source();
        while let Some(e) = source {
            if let Some(resolve) = e.downcast_ref::<ResolveError>() {
                let kind = match resolve {
                    ResolveError::Refused(Refusal::Forbidden(_)) => FailureKind::Refused,
                    _ => FailureKind::Connect,
                };
                return (kind, resolve.to_string());
            }
            source = e.source();
        }
        if err.is_timeout() {
            let error = format!("no answer within {}", human(self.config.timeout));
            return (FailureKind::Timeout, error);
        }
        let cause = innermost(err);
        if err.is_connect() {
            (
                FailureKind::Connect,
                clip(format!("could not connect: {cause}")),
            )
        } else {
            (
                FailureKind::Request,
                clip(format!("the request failed: {cause}")),
            )
        }
    }
}

fn failed(kind: FailureKind, status_code: Option<u16>, error: String) -> AttemptResult {
    AttemptResult::Failed {
        kind,
        status_code,
        error,
    }
}

/// Reads at most `cap` bytes of the body; stops at the first error (the
/// status is already known and decides the outcome).
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> Option<String> {
    if cap == 0 {
        return None;
    }
    let mut buf = Vec::new();
    while buf.len() < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(cap - buf.len());
                buf.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned())
}

/// The deepest cause's message: "Connection refused (os error 111)",
/// "invalid peer certificate: UnknownIssuer", …. reqwest's own message
/// (with the URL) is never used.
fn innermost(err: &reqwest::Error) -> String {
    let mut last: Option<&dyn std::error::Error> = None;
    let mut source = err.source();
    while let Some(e) = source {
        last = Some(e);
        source = e.source();
    }
    last.map_or_else(|| "unknown error".to_owned(), |e| e.to_string())
}

fn clip(mut text: String) -> String {
    if text.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

fn human(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests;
