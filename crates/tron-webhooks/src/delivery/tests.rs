use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeDelta;
use uuid::Uuid;

use super::*;
use crate::data::Ping;
use crate::signature::DEFAULT_TOLERANCE;
use crate::ssrf::resolve::LookupFuture;
use crate::ssrf::AddressClass;
use crate::testing::{Reply, TestReceiver};

fn event() -> Event {
    let webhook_id = Uuid::now_v7();
    Event::new(
        Uuid::now_v7(),
        Uuid::now_v7(),
        Utc::now(),
        &Ping { webhook_id },
    )
    .unwrap()
}

fn private(timeout: Duration) -> Deliverer {
    Deliverer::new(DeliveryConfig {
        timeout,
        network: NetworkPolicy::AllowPrivate,
        ..DeliveryConfig::default()
    })
    .unwrap()
}

async fn receiver() -> (TestReceiver, WebhookSecret) {
    let secret = WebhookSecret::generate();
    (TestReceiver::start(secret.clone()).await.unwrap(), secret)
}

/// Names that resolve where the test says; counts lookups.
struct Fixed(HashMap<&'static str, Vec<IpAddr>>, AtomicUsize);

impl Lookup for Fixed {
    fn lookup(&self, host: &str) -> LookupFuture {
        self.1.fetch_add(1, Ordering::SeqCst);
        let found = self.0.get(host).cloned();
        Box::pin(async move { found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no")) })
    }
}

#[tokio::test]
async fn a_2xx_is_delivered_signed_with_the_three_headers() {
    let (rx, secret) = receiver().await;
    let event = event();
    let now = Utc::now();
    let outcome = private(Duration::from_secs(5))
        .deliver(&rx.url(), &secret, &event, now)
        .await;
    assert_eq!(
        outcome.result,
        AttemptResult::Delivered { status_code: 200 }
    );
    assert_eq!(outcome.status_code(), Some(200));
    assert_eq!(outcome.error(), None);
    assert_eq!(outcome.response_body.as_deref(), Some("ok"));

    let got = rx.wait_for(1, Duration::from_secs(5)).await.unwrap();
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hook");
    assert_eq!(r.verified, Ok(()));
    assert_eq!(r.timestamp, Some(now.timestamp()));
    assert_eq!(r.webhook_id(), Some(event.id.to_string().as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r
        .header("user-agent")
        .unwrap()
        .starts_with("Tron-Webhooks/"));
    assert!(r.header("webhook-signature").unwrap().starts_with("v1,"));
    assert_eq!(r.event().unwrap(), event);
    // What a receiver does, with its own clock.
    assert_eq!(signature::verify(&secret, &r.headers, &r.body, now), Ok(()));
    assert_eq!(
        signature::verify(
            &secret,
            &r.headers,
            &r.body,
            now + DEFAULT_TOLERANCE + TimeDelta::seconds(1)
        ),
        Err(signature::VerifyError::TooOld)
    );
}

#[tokio::test]
async fn retries_keep_the_webhook_id_and_sign_their_own_timestamp() {
    let (rx, secret) = receiver().await;
    rx.reply_next(2, Reply::Status(500));
    let d = private(Duration::from_secs(5));
    let event = event();
    let t0 = Utc::now();
    let mut outcomes = vec![];
    for i in 0..3 {
        let at = t0 + TimeDelta::seconds(i * 60);
        outcomes.push(d.deliver(&rx.url(), &secret, &event, at).await);
    }
    for o in &outcomes[..2] {
        assert_eq!(o.failure(), Some(FailureKind::Status));
        assert_eq!(o.status_code(), Some(500));
        assert_eq!(o.error(), Some("the endpoint answered 500"));
    }
    assert!(outcomes[2].is_delivered());
    let got = rx.received();
    assert_eq!(got.len(), 3);
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.webhook_id().unwrap().to_owned())
        .collect();
    assert!(ids.iter().all(|id| *id == event.id.to_string()));
    let stamps: Vec<_> = got.iter().map(|r| r.timestamp.unwrap()).collect();
    assert_eq!(stamps, [0, 60, 120].map(|s| t0.timestamp() + s));
    assert!(got.iter().all(|r| r.verified.is_ok()));
    assert_eq!(got[0].body, got[2].body);
}

#[tokio::test]
async fn a_receiver_with_another_secret_sees_a_bad_signature() {
    let (rx, secret) = receiver().await;
    rx.set_secret(WebhookSecret::generate());
    let outcome = private(Duration::from_secs(5))
        .deliver(&rx.url(), &secret, &event(), Utc::now())
        .await;
    assert!(outcome.is_delivered());
    assert_eq!(
        rx.received()[0].verified,
        Err(signature::VerifyError::NoMatch)
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (rx, secret) = receiver().await;
    // To itself: following it would show as a second request.
    rx.reply_next(1, Reply::Redirect(format!("{}/elsewhere", rx.url())));
    let outcome = private(Duration::from_secs(5))
        .deliver(&rx.url(), &secret, &event(), Utc::now())
        .await;
    assert_eq!(outcome.failure(), Some(FailureKind::Redirect));
    assert_eq!(outcome.status_code(), Some(302));
    assert!(outcome
        .error()
        .unwrap()
        .contains("redirects are not followed"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.received().len(), 1);
}

#[tokio::test]
async fn a_hanging_endpoint_times_out() {
    let (rx, secret) = receiver().await;
    rx.reply_next(1, Reply::Hang);
    let started = std::time::Instant::now();
    let outcome = private(Duration::from_millis(300))
        .deliver(&rx.url(), &secret, &event(), Utc::now())
        .await;
    assert_eq!(outcome.failure(), Some(FailureKind::Timeout));
    assert_eq!(outcome.status_code(), None);
    assert_eq!(outcome.error(), Some("no answer within 300 ms"));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(rx.received().len(), 1);
}

#[tokio::test]
async fn the_response_body_is_read_up_to_the_cap() {
    let (rx, secret) = receiver().await;
    let d = Deliverer::new(DeliveryConfig {
        network: NetworkPolicy::AllowPrivate,
        max_response_bytes: 1,
        ..DeliveryConfig::default()
    })
    .unwrap();
    let outcome = d.deliver(&rx.url(), &secret, &event(), Utc::now()).await;
    assert_eq!(outcome.response_body.as_deref(), Some("o"));
}

#[tokio::test]
async fn a_closed_port_is_a_connection_failure_without_the_url() {
    let (rx, secret) = receiver().await;
    let url = format!("{}?token=querysecret", rx.url());
    drop(rx);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let outcome = private(Duration::from_secs(5))
        .deliver(&url, &secret, &event(), Utc::now())
        .await;
    assert_eq!(outcome.failure(), Some(FailureKind::Connect));
    let error = outcome.error().unwrap();
    assert!(error.starts_with("could not connect: "), "{error}");
    assert!(
        !error.contains("querysecret") && !error.contains("127.0.0.1"),
        "{error}"
    );
    assert!(!error.contains(&secret.reveal()[6..]));
}

#[tokio::test]
async fn the_public_policy_refuses_the_local_receiver_without_connecting() {
    let (rx, secret) = receiver().await;
    let public = Deliverer::new(DeliveryConfig::default()).unwrap();
    let port = rx.addr().port();
    for (url, kind, error) in [
        // http:// is refused before anything else.
        (
            rx.url(),
            FailureKind::InvalidUrl,
            "the URL must start with https://".to_owned(),
        ),
        (
            format!("https://127.0.0.1:{port}/hook"),
            FailureKind::Refused,
            "the URL's address is a loopback address, which webhooks may not reach".to_owned(),
        ),
        (
            format!("https://[::ffff:127.0.0.1]:{port}/hook"),
            FailureKind::Refused,
            "the URL's address is a loopback address, which webhooks may not reach".to_owned(),
        ),
        (
            format!("https://localhost:{port}/hook"),
            FailureKind::Refused,
            "the URL's address is a loopback address, which webhooks may not reach".to_owned(),
        ),
    ] {
        let outcome = public.deliver(&url, &secret, &event(), Utc::now()).await;
        assert_eq!(outcome.failure(), Some(kind), "{url}");
        assert_eq!(outcome.error(), Some(error.as_str()), "{url}");
    }
    assert!(rx.received().is_empty());
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused_without_connecting() {
    let (rx, secret) = receiver().await;
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let lookup = Arc::new(Fixed(
        HashMap::from([
            ("hooks.example.test", vec![loopback]),
            (
                "mapped.example.test",
                vec!["::ffff:127.0.0.1".parse().unwrap()],
            ),
            (
                "lan.example.test",
                vec!["192.168.1.20".parse().unwrap(), loopback],
            ),
        ]),
        AtomicUsize::new(0),
    ));
    let public = Deliverer::with_lookup(DeliveryConfig::default(), lookup.clone()).unwrap();
    let port = rx.addr().port();
    for (host, class) in [
        ("hooks.example.test", AddressClass::Loopback),
        ("mapped.example.test", AddressClass::Loopback),
        ("lan.example.test", AddressClass::Private),
    ] {
        let url = format!("https://{host}:{port}/hook");
        let outcome = public.deliver(&url, &secret, &event(), Utc::now()).await;
        assert_eq!(outcome.failure(), Some(FailureKind::Refused), "{host}");
        let want = format!("the host resolves to {class}, which webhooks may not reach");
        assert_eq!(outcome.error(), Some(want.as_str()));
    }
    assert_eq!(
        lookup.1.load(Ordering::SeqCst),
        3,
        "resolved once per attempt"
    );
    let outcome = public
        .deliver(
            &format!("https://nowhere.test:{port}/"),
            &secret,
            &event(),
            Utc::now(),
        )
        .await;
    assert_eq!(outcome.failure(), Some(FailureKind::Connect));
    assert_eq!(outcome.error(), Some("the host could not be resolved"));
    assert!(rx.received().is_empty());
}

#[tokio::test]
async fn allow_private_reaches_the_local_receiver_by_name_through_the_checked_lookup() {
    let (rx, secret) = receiver().await;
    let lookup = Arc::new(Fixed(
        HashMap::from([("receiver.test", vec!["127.0.0.1".parse().unwrap()])]),
        AtomicUsize::new(0),
    ));
    let config = DeliveryConfig {
        network: NetworkPolicy::AllowPrivate,
        ..DeliveryConfig::default()
    };
    let d = Deliverer::with_lookup(config, lookup.clone()).unwrap();
    let url = format!("http://receiver.test:{}/hook", rx.addr().port());
    let outcome = d.deliver(&url, &secret, &event(), Utc::now()).await;
    assert!(outcome.is_delivered(), "{outcome:?}");
    assert_eq!(lookup.1.load(Ordering::SeqCst), 1);
    assert_eq!(
        rx.received()[0].header("host"),
        Some(format!("receiver.test:{}", rx.addr().port()).as_str())
    );
}

#[tokio::test]
async fn wait_for_gives_up_with_what_arrived() {
    let (rx, _secret) = receiver().await;
    let err = rx.wait_for(1, Duration::from_millis(50)).await.unwrap_err();
    assert_eq!(err.wanted, 1);
    assert!(err.got.is_empty());
}

/// A TCP listener that only counts the connections it is offered.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn a_refused_name_opens_no_connection_at_all() {
    let (port, accepted) = counting_listener().await;
    let lookup = || {
        Arc::new(Fixed(
            HashMap::from([("rebound.example.test", vec!["127.0.0.1".parse().unwrap()])]),
            AtomicUsize::new(0),
        ))
    };
    let url = format!("https://rebound.example.test:{port}/hook");
    let secret = WebhookSecret::generate();

    let public = Deliverer::with_lookup(DeliveryConfig::default(), lookup()).unwrap();
    let outcome = public.deliver(&url, &secret, &event(), Utc::now()).await;
    assert_eq!(outcome.failure(), Some(FailureKind::Refused));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no TCP connection");

    // The control: allowed, the same name does connect (and fails TLS).
    let config = DeliveryConfig {
        network: NetworkPolicy::AllowPrivate,
        ..DeliveryConfig::default()
    };
    let open = Deliverer::with_lookup(config, lookup()).unwrap();
    let outcome = open.deliver(&url, &secret, &event(), Utc::now()).await;
    assert_eq!(outcome.failure(), Some(FailureKind::Connect), "{outcome:?}");
    let error = outcome.error().unwrap();
    assert!(error.starts_with("could not connect: "), "{error}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
