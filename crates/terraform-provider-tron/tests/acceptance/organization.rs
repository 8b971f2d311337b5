//! An organization's members, settings and webhooks: apply, an empty second
//! plan, changes in place, imports (`ORG_ID/ID`, `ORG_ID/EMAIL`, `ORG_ID`),
//! drift, and destroy.
use tron_client::{
    Client, CreateUser, CreateWebhook, Description, DisplayName, Email, ListParams, MemberId,
    OrganizationId, WebhookId,
};

use crate::harness::{start_server, terraform_version, Tf, ADMIN_EMAIL, PASSWORD};

/// The organization's resources: a member put in a group, the settings and
/// a webhook for expiry warnings; `extra` is appended.
fn config(webhook: &str, settings: &str, extra: &str) -> String {
    format!(
        r#"
resource "tron_organization_member" "bob" {{
  email = "Bob@Example.com"
}}

resource "tron_group" "viewers" {{
  name       = "viewers"
  role       = "viewer"
  scope_type = "organization"
}}

resource "tron_group_member" "bob" {{
  group_id  = tron_group.viewers.id
  member_id = tron_organization_member.bob.id
}}

resource "tron_organization_settings" "this" {{
{settings}
}}

resource "tron_webhook" "expiry" {{
{webhook}
}}

output "webhook_id" {{ value = tron_webhook.expiry.id }}
output "webhook_secret" {{
  value     = tron_webhook.expiry.secret
  sensitive = true
}}
output "bob_member_id" {{ value = tron_organization_member.bob.id }}
output "bob_user_id" {{ value = tron_organization_member.bob.user_id }}
{extra}
"#
    )
}

const WEBHOOK: &str = r#"  url         = "http://127.0.0.1:9/hooks/tron"
  events      = ["service_token.expiring", "service_token.expired"]
  description = "expiry warnings""#;
/// Another URL, which the server normalizes (the host in lower case): the
/// state keeps it as configured.
const WEBHOOK_CHANGED: &str = r#"  url         = "http://LocalHost:9/hooks/tron"
  events      = ["service_token.expiring", "service_token.expired", "service_token.revoked"]
  description = "expiry and revocation"
  active      = false"#;
const SETTINGS: &str = "  max_token_lifetime_days = 365";
const SETTINGS_CHANGED: &str =
    "  max_token_lifetime_days             = 180\n  service_token_rate_limit_per_minute = 1200";

async fn user(admin: &Client, email: &str, name: &str) {
    admin
        .create_user(&CreateUser {
            email: Email::parse("email", email).expect("email"),
            name: DisplayName::parse("name", name).expect("name"),
            password: PASSWORD.into(),
            is_superuser: false,
        })
        .await
        .expect("create user");
}

async fn member_emails(admin: &Client, org: OrganizationId) -> Vec<String> {
    let mut emails: Vec<String> = admin
        .list_members(org, None, &ListParams::limit(200))
        .await
        .expect("members")
        .items
        .into_iter()
        .filter_map(|m| m.user.map(|u| u.email))
        .collect();
    emails.sort();
    emails
}

async fn webhooks(admin: &Client, org: OrganizationId) -> Vec<tron_client::Webhook> {
    admin
        .list_webhooks(org, &ListParams::limit(200))
        .await
        .expect("webhooks")
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_manages_members_settings_and_webhooks() {
    println!("{}", terraform_version());
    let server = start_server().await;
    let anon = Client::new(server.base.clone());
    let session = anon.login(ADMIN_EMAIL, PASSWORD).await.expect("login");
    let admin = anon.with_token(session.token.expose());
    let org = admin.create_organization("Acme").await.expect("org").id;
    user(&admin, "bob@example.com", "Bob").await;
    user(&admin, "carol@example.com", "Carol").await;
    let work = tempfile::tempdir().expect("temp dir");
    let tf = Tf::new(work.path(), &server.base, session.token.expose());

    // 1. apply: a member in a group, the settings, a webhook with its secret.
    tf.write(org, &config(WEBHOOK, SETTINGS, ""));
    let out = tf.apply();
    assert!(out.contains("5 added"), "{out}");
    let emails = member_emails(&admin, org).await;
    assert!(emails.contains(&"bob@example.com".to_owned()), "{emails:?}");
    let bob: MemberId = tf.output("bob_member_id").parse().expect("member id");
    let settings = admin.get_organization(org).await.expect("org").settings;
    assert_eq!(settings.max_token_lifetime_days, Some(365));
    assert_eq!(settings.service_token_rate_limit_per_minute, 600);
    let hook_id: WebhookId = tf.output("webhook_id").parse().expect("webhook id");
    let hook = admin.get_webhook(org, hook_id).await.expect("webhook");
    assert_eq!(hook.url, "http://127.0.0.1:9/hooks/tron");
    assert_eq!(
        hook.events,
        ["service_token.expiring", "service_token.expired"]
    );
    assert_eq!(hook.description, "expiry warnings");
    assert!(hook.active);
    let secret = tf.output("webhook_secret");
    assert!(secret.starts_with("whsec_"), "the secret is in the state");
    assert!(!out.contains(&secret), "the secret is never printed");
    let shown = tf.ok(&["state", "show", "-no-color", "tron_webhook.expiry"]);
    assert!(shown.contains("(sensitive value)"), "{shown}");
    assert!(!shown.contains(&secret), "{shown}");

    // 2. a second plan has nothing to do (the email keeps its case).
    tf.no_changes();

    // 3. changes in place: the webhook's URL, events, description and active,
    // and both settings.
    tf.write(org, &config(WEBHOOK_CHANGED, SETTINGS_CHANGED, ""));
    let out = tf.apply();
    assert!(
        out.contains("2 changed") && out.contains("0 destroyed"),
        "{out}"
    );
    let hook = admin.get_webhook(org, hook_id).await.expect("same webhook");
    assert_eq!(hook.url, "http://localhost:9/hooks/tron");
    assert_eq!(hook.events.len(), 3);
    assert_eq!(hook.description, "expiry and revocation");
    assert!(!hook.active);
    assert_eq!(tf.output("webhook_secret"), secret, "the secret is kept");
    let settings = admin.get_organization(org).await.expect("org").settings;
    assert_eq!(settings.max_token_lifetime_days, Some(180));
    assert_eq!(settings.service_token_rate_limit_per_minute, 1200);
    tf.no_changes();

    // 4. imports: a webhook by ORG_ID/ID (without its secret), a member by
    // ORG_ID/EMAIL, the settings by ORG_ID.
    let made = admin
        .create_webhook(
            org,
            &CreateWebhook {
                url: "http://127.0.0.1:9/hooks/legacy".into(),
                events: vec!["*".into()],
                description: Some(Description::parse("description", "legacy").expect("d")),
            },
        )
        .await
        .expect("create webhook");
    admin
        .add_member(org, "carol@example.com")
        .await
        .expect("add carol");
    let imported = r#"
resource "tron_webhook" "legacy" {
  url         = "http://127.0.0.1:9/hooks/legacy"
  events      = ["*"]
  description = "legacy"
}
resource "tron_organization_member" "carol" {
  email = "carol@example.com"
}
output "legacy_secret" {
  value     = tron_webhook.legacy.secret == null ? "none" : "some"
  sensitive = true
}
"#;
    let cfg = config(WEBHOOK_CHANGED, SETTINGS_CHANGED, imported);
    tf.write(org, &cfg);
    let import = |address: &str, id: &str| {
        tf.ok(&["import", "-input=false", "-no-color", address, id]);
    };
    import("tron_webhook.legacy", &format!("{org}/{}", made.item.id));
    import(
        "tron_organization_member.carol",
        &format!("{org}/carol@example.com"),
    );
    // Nothing to do but the new output.
    let out = tf.apply();
    assert!(out.contains("0 added, 0 changed, 0 destroyed"), "{out}");
    assert_eq!(
        tf.output("legacy_secret"),
        "none",
        "an import has no secret"
    );
    tf.no_changes();
    // The other forms: a member by ORG_ID/MEMBER_ID, the settings by ORG_ID.
    tf.ok(&[
        "state",
        "rm",
        "tron_organization_member.bob",
        "tron_organization_settings.this",
    ]);
    import("tron_organization_member.bob", &format!("{org}/{bob}"));
    import("tron_organization_settings.this", &org.to_string());
    // An import knows the API's spelling of the email: one change in place
    // spells it as configured, nothing is replaced.
    let out = tf.apply();
    assert!(out.contains("0 added, 1 changed, 0 destroyed"), "{out}");
    assert_eq!(tf.output("bob_member_id"), bob.to_string());
    tf.no_changes();

    // 5. removed behind Terraform's back: the next apply adds it again.
    admin.remove_member(org, bob).await.expect("remove bob");
    let out = tf.apply();
    assert!(
        out.contains("2 added"),
        "the member and its group membership: {out}"
    );
    let bob: MemberId = tf.output("bob_member_id").parse().expect("member id");
    let group = admin
        .list_groups(org, &ListParams::limit(200))
        .await
        .expect("groups")
        .items
        .into_iter()
        .find(|g| g.name == "viewers")
        .expect("the group");
    let in_group = admin
        .list_group_members(org, group.id, &ListParams::limit(200))
        .await
        .expect("group members")
        .items;
    assert!(
        in_group.iter().any(|m| m.id == bob),
        "bob is back in the group"
    );
    tf.no_changes();

    // 6. an API error names the resource, the code and the message.
    let unknown = "\nresource \"tron_organization_member\" \"nobody\" {\n  email = \"nobody@example.com\"\n}\n";
    tf.write(
        org,
        &config(
            WEBHOOK_CHANGED,
            SETTINGS_CHANGED,
            &format!("{imported}{unknown}"),
        ),
    );
    let r = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(r.code, 0, "{}", r.out);
    assert!(
        r.out
            .contains("tron_organization_member \"nobody@example.com\": the Tron API answered"),
        "{}",
        r.out
    );
    tf.write(org, &cfg);
    tf.no_changes();

    // 7. destroy leaves no webhook and no member it made; the settings stay.
    let out = tf.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert!(webhooks(&admin, org).await.is_empty(), "no webhook left");
    assert_eq!(
        member_emails(&admin, org).await,
        [ADMIN_EMAIL],
        "only the organization's creator is left"
    );
    let settings = admin.get_organization(org).await.expect("org").settings;
    assert_eq!(
        settings.max_token_lifetime_days,
        Some(180),
        "destroying the settings leaves them as they are"
    );
}
