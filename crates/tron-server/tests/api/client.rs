//! The typed client (`tron-client`) end to end: every call goes through it,
//! as a CLI would make it, on both backends.
use tron_client::{
    AccessCheck, ActorType, AuditFilter, ClientError, CreateApplication, CreateDeployment,
    CreateGroup, CreateServiceAccount, CreateToken, Description, DisplayName, ImageRef, ListParams,
    MePrincipalType, MeTokenKind, Name, PutInstance, RotateOwnToken, RotateToken, Scope,
    ServiceAccountId, ServiceAccountStatus, ShortText, Timestamp, TokenStatus, Uuid,
};

use crate::contract;
use crate::kit::{TestServer, ADMIN_EMAIL, PASSWORD};

contract!(typed_client_end_to_end, typed_client_errors);

fn name(s: &str) -> Name {
    Name::parse("name", s).unwrap()
}

fn display(s: &str) -> DisplayName {
    DisplayName::parse("name", s).unwrap()
}

fn text(s: &str) -> ShortText {
    ShortText::parse("text", s).unwrap()
}

fn image(s: &str) -> ImageRef {
    ImageRef::parse("image", s).unwrap()
}

fn token_named(s: &str) -> CreateToken {
    CreateToken {
        name: display(s),
        expires_at: None,
    }
}

/// The error code of a call that must fail.
fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (u16, String) {
    match r {
        Err(ClientError::Api { status, code, .. }) => (status, code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn typed_client_end_to_end(s: TestServer) {
    let anon = s.anon();
    assert_eq!(anon.healthz().await.unwrap().status, "ok");
    assert_eq!(anon.readyz().await.unwrap().status, "ready");

    // Login: the session token is a Secret that a printed response hides.
    let session = anon.login(ADMIN_EMAIL, PASSWORD).await.unwrap();
    assert!(session.token.expose().starts_with("trn_ses_"));
    assert!(!format!("{session:?}").contains(session.token.expose()));
    assert_eq!(session.user.email, ADMIN_EMAIL);
    let admin = anon.with_token(&session.token);
    let me = admin.me().await.unwrap();
    assert_eq!(me.principal.kind, MePrincipalType::User);
    assert_eq!(me.principal.email.as_deref(), Some(ADMIN_EMAIL));
    assert_eq!(me.principal.is_superuser, Some(true));
    assert_eq!(me.token.kind, MeTokenKind::Session);
    assert_eq!(admin.get_user(session.user.id).await.unwrap(), session.user);

    // Organization, environment, application.
    let org = admin.create_organization("Acme").await.unwrap();
    assert_eq!(org.settings.service_token_rate_limit_per_minute, 600);
    let orgs = admin
        .list_organizations(&ListParams::default())
        .await
        .unwrap();
    assert!(orgs.items.iter().any(|o| o.id == org.id));
    let env = admin.create_environment(org.id, "prod").await.unwrap();
    let app = admin
        .create_application(
            org.id,
            &CreateApplication {
                name: name("web"),
                repository: Some(text("git@example.com:acme/web")),
            },
        )
        .await
        .unwrap();
    assert_eq!(app.repository.as_deref(), Some("git@example.com:acme/web"));

    // PUT an instance: created, then updated.
    let put = admin
        .put_instance(
            org.id,
            app.id,
            env.id,
            &PutInstance {
                image: image("web:1"),
                replicas: Some(2),
            },
        )
        .await
        .unwrap();
    assert!(put.created);
    assert_eq!(
        (put.instance.image.as_str(), put.instance.replicas),
        ("web:1", 2)
    );
    let put = admin
        .put_instance(
            org.id,
            app.id,
            env.id,
            &PutInstance {
                image: image("web:2"),
                replicas: None,
            },
        )
        .await
        .unwrap();
    assert!(!put.created);
    assert_eq!(put.instance.image, "web:2");

    // Deploy as the user.
    let d = admin
        .create_deployment(
            org.id,
            app.id,
            env.id,
            &CreateDeployment {
                image: image("web:3"),
                version: Some(text("3.0.0")),
            },
        )
        .await
        .unwrap();
    assert_eq!(d.created_by.kind, ActorType::User);
    assert_eq!(d.created_by.id, Some(session.user.id.0));
    let inst = admin.get_instance(org.id, app.id, env.id).await.unwrap();
    assert_eq!(inst.image, "web:3");

    // A service account in an editor group, with a token it then uses.
    let sa = admin
        .create_service_account(
            org.id,
            &CreateServiceAccount {
                name: name("ci"),
                description: Some(Description::parse("description", "pipeline").unwrap()),
            },
        )
        .await
        .unwrap();
    assert_eq!(sa.status, ServiceAccountStatus::Active);
    let group = admin
        .create_group(
            org.id,
            &CreateGroup {
                name: display("deployers"),
                description: None,
                role: "editor".into(),
                scope: serde_json::to_value(Scope::Environment {
                    environment_ids: vec![env.id],
                })
                .unwrap(),
            },
        )
        .await
        .unwrap();
    admin
        .add_group_member(org.id, group.id, sa.member_id)
        .await
        .unwrap();
    let members = admin
        .list_group_members(org.id, group.id, &ListParams::default())
        .await
        .unwrap();
    assert_eq!(members.items.len(), 1);
    assert_eq!(members.items[0].id, sa.member_id);

    let created = admin
        .create_service_token(org.id, sa.id, &token_named("deploy"))
        .await
        .unwrap();
    let plaintext = created.token.expose().to_owned();
    assert!(plaintext.starts_with("trn_sat_"));
    assert!(plaintext.ends_with(&created.item.hint));
    assert_eq!(created.item.status, TokenStatus::Active);
    assert!(!format!("{created:?}").contains(&plaintext));

    let ci = anon.with_token(&created.token);
    let me = ci.me().await.unwrap();
    assert_eq!(me.principal.kind, MePrincipalType::ServiceAccount);
    assert_eq!(
        (me.principal.id, me.principal.name.as_str()),
        (sa.id.0, "ci")
    );
    assert_eq!(me.principal.organization_id, Some(org.id.0));
    assert_eq!(me.token.kind, MeTokenKind::Service);
    let check = ci
        .access_check(
            org.id,
            &AccessCheck {
                resource: format!("environment:{}", env.id),
                action: "update".into(),
                member_id: None,
            },
        )
        .await
        .unwrap();
    assert!(check.allowed && !check.superuser);
    assert_eq!(check.granted_by[0].group_id, group.id);
    let d = ci
        .create_deployment(
            org.id,
            app.id,
            env.id,
            &CreateDeployment {
                image: image("web:4"),
                version: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(d.created_by.kind, ActorType::ServiceAccount);
    assert_eq!(d.created_by.id, Some(sa.id.0));
    let deployments = ci
        .list_deployments(org.id, app.id, env.id, &ListParams::default())
        .await
        .unwrap();
    assert_eq!(deployments.items.len(), 2);

    // Rotate (no grace): the old token is revoked at once.
    let rotated = admin
        .rotate_service_token(org.id, sa.id, created.item.id, &RotateToken::default())
        .await
        .unwrap();
    assert_eq!(rotated.item.name, "deploy");
    assert_ne!(rotated.token, created.token);
    assert_eq!(code(ci.me().await), (401, "token_revoked".into()));
    // The new token rotates itself.
    let ci = anon.with_token(&rotated.token);
    let again = ci.rotate_self(&RotateOwnToken::default()).await.unwrap();
    assert_eq!(code(ci.me().await), (401, "token_revoked".into()));
    let ci = anon.with_token(&again.token);
    ci.me().await.unwrap();

    // Revoke: the token answers token_revoked.
    admin
        .revoke_service_token(org.id, sa.id, again.item.id)
        .await
        .unwrap();
    assert_eq!(code(ci.me().await), (401, "token_revoked".into()));
    let tokens = admin
        .list_service_tokens(org.id, sa.id, &ListParams::default())
        .await
        .unwrap();
    assert_eq!(tokens.items.len(), 3);
    assert!(tokens
        .items
        .iter()
        .all(|t| t.status == TokenStatus::Revoked));

    // A leaked personal token is revoked by a scanner.
    let pat = admin
        .create_personal_token(&token_named("script"))
        .await
        .unwrap();
    assert!(pat.token.expose().starts_with("trn_pat_"));
    let script = anon.with_token(&pat.token);
    script.me().await.unwrap();
    assert_eq!(anon.revoke_leaked(&[pat.token.expose()]).await.unwrap(), 1);
    assert_eq!(code(script.me().await), (401, "token_revoked".into()));

    // Audit events, filtered.
    let by_sa = admin
        .list_audit_events(
            org.id,
            &AuditFilter {
                actor_type: Some("service_account".into()),
                action: Some("deployment.*".into()),
                ..Default::default()
            },
            &ListParams::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_sa.items.len(), 1, "{by_sa:?}");
    assert_eq!(by_sa.items[0].action, "deployment.create");
    assert_eq!(by_sa.items[0].actor.id, Some(sa.id.to_string()));
    let rotations = AuditFilter {
        action: Some("service_token.rotate".into()),
        since: Some(org.created_at),
        ..Default::default()
    };
    let first = admin
        .list_audit_events(org.id, &rotations, &ListParams::limit(1))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    // Newest first: the self-rotation, by the service account.
    assert_eq!(first.items[0].actor.kind, "service_account");
    let next = ListParams::limit(1).next(&first).expect("a second page");
    let second = admin
        .list_audit_events(org.id, &rotations, &next)
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].actor.kind, "user");
    let platform = admin
        .list_platform_audit_events(
            &AuditFilter {
                action: Some("auth.login".into()),
                ..Default::default()
            },
            &ListParams::default(),
        )
        .await
        .unwrap();
    assert!(!platform.items.is_empty());

    // Logout ends the session.
    admin.logout().await.unwrap();
    assert_eq!(code(admin.me().await), (401, "token_revoked".into()));
}

async fn typed_client_errors(s: TestServer) {
    let admin = s.client(&s.root);
    let org = admin.create_organization("Errors").await.unwrap();
    match admin.create_environment(org.id, "Not A Slug").await {
        Err(ClientError::Api {
            status,
            code,
            field,
            message,
            retry_after,
        }) => {
            assert_eq!((status, code.as_str()), (400, "validation_error"));
            assert_eq!(field.as_deref(), Some("name"));
            assert!(!message.is_empty());
            assert_eq!(retry_after, None);
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    let err = admin
        .create_service_token(
            org.id,
            ServiceAccountId(Uuid::new_v4()),
            &CreateToken {
                name: display("t"),
                expires_at: Timestamp::new(
                    tron_client::chrono::Utc::now() - chrono::Duration::hours(1),
                ),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.field(), Some("expires_at"));
    assert_eq!(
        code(
            admin
                .get_environment(org.id, tron_client::EnvironmentId(Uuid::new_v4()))
                .await
        ),
        (404, "not_found".into())
    );
    assert_eq!(code(s.anon().me().await), (401, "unauthenticated".into()));
    assert_eq!(
        code(s.anon().login(ADMIN_EMAIL, "wrong password!").await),
        (401, "invalid_credentials".into())
    );
    // Another user is not a member: the organization does not exist for it.
    let (_, ann) = s.user("ann@example.com").await;
    assert_eq!(
        code(s.client(&ann).get_organization(org.id).await),
        (404, "not_found".into())
    );
}
