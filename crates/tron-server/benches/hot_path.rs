//! The in-process hot path: token parse + checksum + HMAC, a cached token
//! lookup, and the permission decision. Run with `cargo bench -p tron-server`.
use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tron_core::authz::{decide, Action, Grant, Resource, Role, Scope};
use tron_core::ids::*;
use tron_core::token::{SecretToken, ServerSecret, TokenKind};
use tron_server::cache::{CachedToken, Caches};
use tron_server::metrics::Metrics;
use tron_store::models::{CreatedBy, ResolvedToken, TokenOwner, TokenRecord};

fn bench(c: &mut Criterion) {
    let secret = ServerSecret::generate();
    let text = SecretToken::generate(TokenKind::Service).reveal();
    c.bench_function("parse + checksum + hmac", |b| {
        b.iter(|| {
            let t = SecretToken::parse(black_box(&text)).map(|t| secret.hash(&t));
            black_box(t)
        })
    });

    let Some(token) = SecretToken::parse(&text).map(|t| secret.hash(&t)) else {
        unreachable!("a generated token parses")
    };
    let cache = Caches::new(true, Arc::new(Metrics::new()));
    let now = chrono::Utc::now();
    let record = ResolvedToken {
        stored_hash: token,
        token: TokenRecord {
            id: TokenId::new(),
            kind: TokenKind::Service,
            name: "ci".into(),
            hint: "abcd".into(),
            user_id: None,
            service_account_id: Some(ServiceAccountId::new()),
            organization_id: Some(OrganizationId::new()),
            created_at: now,
            created_by: CreatedBy {
                kind: tron_core::principal::ActorType::System,
                id: None,
                name: None,
            },
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            source: Default::default(),
            trust_policy_id: None,
            replaced_by: None,
        },
        owner: TokenOwner::ServiceAccount {
            id: ServiceAccountId::new(),
            organization_id: OrganizationId::new(),
            name: "ci".into(),
            is_active: true,
            rate_limit_per_minute: 600,
        },
    };
    cache.put_token(token, Arc::new(CachedToken::new(record)), cache.epoch());
    c.bench_function("cached token lookup", |b| {
        b.iter(|| black_box(cache.get_token(black_box(&token))))
    });

    let (app, env) = (ApplicationId::new(), EnvironmentId::new());
    let grants: Vec<Grant> = (0..5)
        .map(|i| Grant {
            group_id: GroupId::new(),
            group_name: format!("g{i}"),
            role: Role::Editor,
            scope: Scope::Environment {
                environment_ids: vec![EnvironmentId::new(), EnvironmentId::new()],
            },
        })
        .chain(std::iter::once(Grant {
            group_id: GroupId::new(),
            group_name: "staging".into(),
            role: Role::Viewer,
            scope: Scope::Environment {
                environment_ids: vec![env],
            },
        }))
        .collect();
    let resource = Resource::Instance {
        application: app,
        environment: env,
    };
    c.bench_function("decide (6 grants)", |b| {
        b.iter(|| {
            black_box(decide(black_box(&grants), false, &resource, Action::View).map(|d| d.allowed))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
