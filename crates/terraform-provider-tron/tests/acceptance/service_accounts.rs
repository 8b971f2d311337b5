//! Service accounts, tokens (with rotation by `rotate_before_days`),
//! groups, trust policies, environments and applications.
use tron_client::{
    Client, CreateServiceAccount, CreateToken, DisplayName, GroupId, ListParams, Name,
    ServiceAccountId, TokenStatus,
};

use crate::harness::{
    start_server, terraform_version, works, Tf, ADMIN_EMAIL, GITHUB_ACTIONS, PASSWORD,
};

fn config(description: &str, rotate_before_days: u32, extra: &str) -> String {
    config_with_role(description, "editor", rotate_before_days, extra)
}

fn config_with_role(description: &str, role: &str, rotate_before_days: u32, extra: &str) -> String {
    format!(
        r#"
resource "tron_service_account" "ci" {{
  name        = "ci"
  description = "{description}"
}}

resource "tron_service_account_token" "ci" {{
  service_account_id   = tron_service_account.ci.id
  name                 = "deploy"
  expires_in_days      = 30
  rotate_before_days   = {rotate_before_days}
  grace_period_seconds = 600
}}

resource "tron_group" "deployers" {{
  name       = "deployers"
  role       = "{role}"
  scope_type = "organization"
}}

resource "tron_group_member" "ci" {{
  group_id  = tron_group.deployers.id
  member_id = tron_service_account.ci.member_id
}}

data "tron_service_account" "ci" {{
  name       = "ci"
  depends_on = [tron_service_account.ci]
}}

output "token" {{
  value     = tron_service_account_token.ci.token
  sensitive = true
}}
output "token_id" {{ value = tron_service_account_token.ci.id }}
output "sa_id" {{ value = tron_service_account.ci.id }}
output "member_id" {{ value = data.tron_service_account.ci.member_id }}
output "group_id" {{ value = tron_group.deployers.id }}

data "tron_organization" "acme" {{
  name = "Acme"
}}
output "org_from_data" {{ value = data.tron_organization.acme.id }}

data "tron_access_check" "ci_creates_environments" {{
  resource   = "environments"
  action     = "create"
  member_id  = tron_service_account.ci.member_id
  depends_on = [tron_group_member.ci]
}}
output "ci_may_create_environments" {{ value = data.tron_access_check.ci_creates_environments.allowed }}
{extra}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_manages_service_accounts_and_rotates_tokens_without_a_gap() {
    println!("{}", terraform_version());
    let server = start_server().await;
    let anon = Client::new(server.base.clone());
    let session = anon.login(ADMIN_EMAIL, PASSWORD).await.expect("login");
    let admin = anon.with_token(session.token.expose());
    let org = admin.create_organization("Acme").await.expect("org").id;

    let work = tempfile::tempdir().expect("temp dir");
    let tf = Tf::new(work.path(), &server.base, session.token.expose());
    let list_sas = || async {
        admin
            .list_service_accounts(org, &ListParams::limit(200))
            .await
            .expect("list service accounts")
            .items
    };

    let groups_before: Vec<_> = admin
        .list_groups(org, &ListParams::limit(200))
        .await
        .expect("groups")
        .items
        .into_iter()
        .map(|g| g.id)
        .collect();

    // 1. apply: the account, its token and the data source.
    tf.write(org, &config("CI", 5, ""));
    let out = tf.apply();
    assert!(out.contains("4 added"), "{out}");
    let sas = list_sas().await;
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].description, "CI");
    let sa_id: ServiceAccountId = tf.output("sa_id").parse().expect("sa id");
    assert_eq!(sas[0].id, sa_id);
    assert_eq!(tf.output("member_id"), sas[0].member_id.to_string());
    let token = tf.output("token");
    assert!(works(&anon, &token).await, "the created token works");
    let group: GroupId = tf.output("group_id").parse().expect("group id");
    let members = admin
        .list_group_members(org, group, &ListParams::limit(200))
        .await
        .expect("group members")
        .items;
    assert_eq!(members.len(), 1);
    assert_eq!(
        members[0].id, sas[0].member_id,
        "the account is in the group"
    );
    assert!(!out.contains(&token), "the token is never printed");

    assert_eq!(tf.output("org_from_data"), org.to_string());
    assert_eq!(tf.output("ci_may_create_environments"), "true");

    // 2. a second plan has nothing to do.
    tf.no_changes();

    // 2b. an API error is a diagnostic naming the resource, code and message.
    let dup = "\nresource \"tron_service_account\" \"dup\" {\n  name = \"ci\"\n}\n";
    tf.write(org, &config("CI", 5, dup));
    let r = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(r.code, 0, "{}", r.out);
    assert!(
        r.out
            .contains("tron_service_account \"ci\": the Tron API answered 409 conflict"),
        "{}",
        r.out
    );
    tf.write(org, &config("CI", 5, ""));
    tf.no_changes();

    // 3. an in-place change.
    tf.write(org, &config_with_role("CI pipelines", "admin", 5, ""));
    let out = tf.apply();
    assert!(
        out.contains("2 changed") && out.contains("0 destroyed"),
        "{out}"
    );
    let sa = admin
        .get_service_account(org, sa_id)
        .await
        .expect("same account");
    assert_eq!(sa.description, "CI pipelines");
    let g = admin.get_group(org, group).await.expect("same group");
    assert_eq!(g.role, tron_client::Role::Admin);
    tf.no_changes();
    // Back to editor for the rest of the run.
    tf.write(org, &config("CI pipelines", 5, ""));
    tf.apply();
    tf.no_changes();

    // 4. deleted behind Terraform's back: the next apply creates it again.
    admin
        .delete_service_account(org, sa_id)
        .await
        .expect("delete");
    let out = tf.apply();
    assert!(out.contains("3 added"), "{out}");
    let sas = list_sas().await;
    assert_eq!(sas.len(), 1);
    assert_ne!(sas[0].id, sa_id, "a new account");
    let sa_id = sas[0].id;
    let token = tf.output("token");
    assert!(works(&anon, &token).await);
    tf.no_changes();

    // 5. import an account made elsewhere.
    let made = admin
        .create_service_account(
            org,
            &CreateServiceAccount {
                name: Name::parse("name", "legacy").expect("name"),
                description: None,
            },
        )
        .await
        .expect("create");
    let imported = "\nresource \"tron_service_account\" \"legacy\" {\n  name = \"legacy\"\n}\n";
    tf.write(org, &config("CI pipelines", 5, imported));
    tf.ok(&[
        "import",
        "-input=false",
        "-no-color",
        "tron_service_account.legacy",
        &format!("{org}/{}", made.id),
    ]);
    tf.no_changes();

    // 5a. a token of that account made elsewhere, imported by ORG_ID/ID
    // alone (the provider finds its account); it has no plaintext.
    let legacy_token = admin
        .create_service_token(
            org,
            made.id,
            &CreateToken {
                name: DisplayName::parse("name", "old").expect("name"),
                expires_at: None,
            },
        )
        .await
        .expect("create token");
    let imported = format!(
        r#"{imported}
resource "tron_service_account_token" "legacy" {{
  service_account_id = tron_service_account.legacy.id
  name               = "old"
}}
output "legacy_token" {{
  value     = tron_service_account_token.legacy.token == null ? "none" : "some"
  sensitive = true
}}
"#
    );
    let imported = imported.as_str();
    tf.write(org, &config("CI pipelines", 5, imported));
    tf.ok(&[
        "import",
        "-input=false",
        "-no-color",
        "tron_service_account_token.legacy",
        &format!("{org}/{}", legacy_token.item.id),
    ]);
    let out = tf.apply();
    assert!(out.contains("0 added, 0 changed, 0 destroyed"), "{out}");
    assert_eq!(tf.output("legacy_token"), "none", "an import has no token");
    tf.no_changes();

    // 5b. a trust policy for GitHub Actions, then a change in place.
    let policy = |audience: &str| {
        format!(
            r#"{imported}
resource "tron_trust_policy" "gha" {{
  service_account_id = tron_service_account.ci.id
  name               = "github-main"
  issuer             = "{GITHUB_ACTIONS}"
  audience           = "{audience}"
  conditions = {{
    repository_id = "123456"
    ref           = "refs/heads/main"
  }}
}}
"#
        )
    };
    tf.write(org, &config("CI pipelines", 5, &policy("tron")));
    let out = tf.apply();
    assert!(out.contains("1 added"), "{out}");
    tf.no_changes();
    tf.write(org, &config("CI pipelines", 5, &policy("tron-ci")));
    let out = tf.apply();
    assert!(
        out.contains("1 changed") && out.contains("0 destroyed"),
        "{out}"
    );
    let policies = admin
        .list_trust_policies(org, sa_id, &ListParams::limit(200))
        .await
        .expect("trust policies")
        .items;
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].audience, "tron-ci");
    assert_eq!(policies[0].conditions["ref"], "refs/heads/main");
    assert_eq!(policies[0].token_ttl_seconds, 900);
    tf.no_changes();

    // 5c. the trust policy imported again by ORG_ID/ID alone: the provider
    // finds its service account.
    tf.ok(&["state", "rm", "tron_trust_policy.gha"]);
    tf.ok(&[
        "import",
        "-input=false",
        "-no-color",
        "tron_trust_policy.gha",
        &format!("{org}/{}", policies[0].id),
    ]);
    tf.no_changes();
    let imported = policy("tron-ci");
    let imported = imported.as_str();

    // 6. rotation by rotate_before_days: a 30-day token is within 40 days of
    // its expiry, so the plan rotates it in place; the old one keeps
    // working through the grace period, the new one works at once.
    let old_id = tf.output("token_id");
    let old_token = token;
    tf.write(org, &config("CI pipelines", 40, imported));
    let plan = tf.ok(&["plan", "-input=false", "-no-color"]);
    assert!(plan.contains("1 to change, 0 to destroy"), "{plan}");
    let out = tf.apply();
    assert!(out.contains("0 destroyed"), "{out}");
    let new_id = tf.output("token_id");
    let new_token = tf.output("token");
    assert_ne!(new_id, old_id);
    assert!(works(&anon, &new_token).await, "the successor works");
    assert!(
        works(&anon, &old_token).await,
        "the old token lives its grace period"
    );
    let tokens = admin
        .list_service_tokens(org, sa_id, &ListParams::limit(200))
        .await
        .expect("tokens")
        .items;
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert!(tokens.iter().all(|t| t.status == TokenStatus::Active));
    tf.write(org, &config("CI pipelines", 5, imported));
    tf.apply();
    tf.no_changes();

    // 6b. an environment and an application, a group scoped to the
    // environment, the data sources by name; then a rename in place.
    let platform = |env_name: &str| {
        format!(
            r#"{imported}
resource "tron_environment" "prod" {{
  name = "{env_name}"
}}
resource "tron_application" "web" {{
  name       = "web"
  repository = "github.com/acme/web"
}}
resource "tron_group" "prod_deployers" {{
  name            = "prod-deployers"
  role            = "editor"
  scope_type      = "environment"
  environment_ids = [tron_environment.prod.id]
}}
data "tron_application" "web" {{
  name       = "web"
  depends_on = [tron_application.web]
}}
output "web_repository" {{ value = data.tron_application.web.repository }}
"#
        )
    };
    tf.write(org, &config("CI pipelines", 5, &platform("prod")));
    let out = tf.apply();
    assert!(out.contains("3 added"), "{out}");
    assert_eq!(tf.output("web_repository"), "github.com/acme/web");
    tf.no_changes();
    tf.write(org, &config("CI pipelines", 5, &platform("production")));
    let out = tf.apply();
    assert!(
        out.contains("1 changed") && out.contains("0 destroyed"),
        "{out}"
    );
    let envs = admin
        .list_environments(org, &ListParams::limit(200))
        .await
        .expect("environments")
        .items;
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0].name, "production");
    tf.no_changes();

    // 7. destroy leaves nothing.
    let out = tf.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert!(list_sas().await.is_empty(), "no service account left");
    let groups: Vec<_> = admin
        .list_groups(org, &ListParams::limit(200))
        .await
        .expect("groups")
        .items
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(
        groups, groups_before,
        "only the organization's own groups are left"
    );
    let envs = admin
        .list_environments(org, &ListParams::limit(200))
        .await
        .expect("environments")
        .items;
    assert!(envs.is_empty(), "no environment left");
    assert!(!works(&anon, &new_token).await, "no token left working");
    assert!(!works(&anon, &old_token).await);
}
