//! Issue 3: role-based access control. Groups and their members, the
//! last-admin rule, the §3 matrix over HTTP, access-check, the clean-up of
//! group scopes when environments and applications are deleted, and a
//! property test comparing the server with a reference model written here.
use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::contract;
use crate::kit::{
    app_scope, assert_error, assert_invalid, env_scope, ids_of, o, org_scope, set, str_of, Acme,
    Robot, TestServer,
};

contract!(
    group_crud_and_validation,
    group_members_are_idempotent_and_organization_bound,
    last_admin_rule,
    superuser_may_disable_the_last_admin,
    last_admin_holds_under_concurrency,
    permission_matrix_over_http,
    tenant_isolation_of_ids,
    access_check_answers,
    deleting_environments_and_applications_cleans_scopes,
    scope_cleanup_races_with_group_changes,
    filtered_lists_paginate,
    instance_lists_do_not_reveal_existence,
    rbac_property,
);

// ---------------------------------------------------------------------------
// The reference model: the spec's §3 tables, written out again here, on
// purpose without `tron_core::authz`.
// ---------------------------------------------------------------------------

mod model {
    use std::collections::BTreeSet;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Role {
        Viewer,
        Editor,
        Admin,
    }

    impl Role {
        pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

        pub fn level(self) -> u8 {
            match self {
                Role::Viewer => 10,
                Role::Editor => 20,
                Role::Admin => 30,
            }
        }

        pub fn name(self) -> &'static str {
            match self {
                Role::Viewer => "viewer",
                Role::Editor => "editor",
                Role::Admin => "admin",
            }
        }
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Scope {
        Org,
        Envs(BTreeSet<String>),
        Apps(BTreeSet<String>),
    }

    impl Scope {
        pub fn json(&self) -> serde_json::Value {
            match self {
                Scope::Org => serde_json::json!({"type": "organization"}),
                Scope::Envs(ids) => {
                    serde_json::json!({"type": "environment", "environment_ids": ids})
                }
                Scope::Apps(ids) => {
                    serde_json::json!({"type": "application", "application_ids": ids})
                }
            }
        }
    }

    #[derive(Debug, Clone)]
    pub struct Group {
        pub id: String,
        pub name: String,
        pub role: Role,
        pub scope: Scope,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Res {
        Org,
        EnvList,
        AppList,
        Env(String),
        App(String),
        /// application, environment
        Inst(String, String),
        Members,
        Groups,
        ServiceAccounts,
        ServiceTokens,
        AuditEvents,
    }

    impl Res {
        /// The `resource` parameter of access-check.
        pub fn param(&self) -> String {
            match self {
                Res::Org => "organization".into(),
                Res::EnvList => "environments".into(),
                Res::AppList => "applications".into(),
                Res::Env(e) => format!("environment:{e}"),
                Res::App(a) => format!("application:{a}"),
                Res::Inst(a, e) => format!("instance:{a}:{e}"),
                Res::Members => "members".into(),
                Res::Groups => "groups".into(),
                Res::ServiceAccounts => "service_accounts".into(),
                Res::ServiceTokens => "service_tokens".into(),
                Res::AuditEvents => "audit_events".into(),
            }
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Act {
        View,
        Create,
        Update,
        Delete,
    }

    impl Act {
        pub const ALL: [Act; 4] = [Act::View, Act::Create, Act::Update, Act::Delete];

        pub fn name(self) -> &'static str {
            match self {
                Act::View => "view",
                Act::Create => "create",
                Act::Update => "update",
                Act::Delete => "delete",
            }
        }
    }

    /// What the table of §3 asks for: any member, or a role. `None`: the
    /// pair is meaningless.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Need {
        AnyMember,
        AtLeast(Role),
    }

    fn need(res: &Res, act: Act) -> Option<Need> {
        use Act::*;
        use Need::*;
        use Role::*;
        Some(match res {
            Res::Org => match act {
                View => AnyMember,
                Create => return None,
                Update | Delete => AtLeast(Admin),
            },
            Res::EnvList | Res::AppList => match act {
                View => AnyMember,
                Create => AtLeast(Editor),
                Update | Delete => return None,
            },
            Res::Env(_) | Res::App(_) => match act {
                View => AtLeast(Viewer),
                Create => return None,
                Update => AtLeast(Editor),
                Delete => AtLeast(Admin),
            },
            Res::Inst(..) => match act {
                View => AtLeast(Viewer),
                Create | Update => AtLeast(Editor),
                Delete => AtLeast(Admin),
            },
            Res::Members | Res::Groups | Res::ServiceAccounts => match act {
                View => AtLeast(Viewer),
                _ => AtLeast(Admin),
            },
            Res::ServiceTokens => AtLeast(Admin),
            Res::AuditEvents => match act {
                View => AtLeast(Admin),
                _ => return None,
            },
        })
    }

    /// Whether a scope reaches a resource (the coverage table of §3).
    pub fn reaches(scope: &Scope, res: &Res) -> bool {
        match scope {
            Scope::Org => true,
            Scope::Envs(envs) => match res {
                Res::Env(e) | Res::Inst(_, e) => envs.contains(e),
                _ => false,
            },
            Scope::Apps(apps) => match res {
                Res::App(a) | Res::Inst(a, _) => apps.contains(a),
                _ => false,
            },
        }
    }

    /// `Some((allowed, groups that grant it))`, `None` for a meaningless
    /// pair.
    pub fn decide(groups: &[&Group], res: &Res, act: Act) -> Option<(bool, BTreeSet<String>)> {
        match need(res, act)? {
            Need::AnyMember => Some((true, BTreeSet::new())),
            Need::AtLeast(role) => {
                let by: BTreeSet<String> = groups
                    .iter()
                    .filter(|g| g.role.level() >= role.level() && reaches(&g.scope, res))
                    .map(|g| g.id.clone())
                    .collect();
                Some((!by.is_empty(), by))
            }
        }
    }

    pub fn allowed(groups: &[&Group], res: &Res, act: Act) -> bool {
        decide(groups, res, act)
            .unwrap_or_else(|| panic!("meaningless {act:?} on {res:?}"))
            .0
    }
}

use model::{Act, Res, Role, Scope};

// ---------------------------------------------------------------------------
// 1. Groups
// ---------------------------------------------------------------------------

async fn group_crud_and_validation(s: TestServer) {
    let (ann_id, ann) = s.user("ann@example.com").await;
    let org = s.org(&ann, "Acme").await;
    let other_org = s.org(&ann, "Other").await;
    let e1 = s.env(&ann, &org, "dev").await;
    let e2 = s.env(&ann, &org, "prod").await;
    let a1 = s.app(&ann, &org, "web").await;
    let foreign_env = s.env(&ann, &other_org, "dev").await;
    let foreign_app = s.app(&ann, &other_org, "web").await;

    // The creator is in the auto-created Administrators group.
    let (status, list) = s.get(&o(&org, "/groups"), &ann).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    let admins = &list["items"][0];
    assert_eq!(admins["name"], "Administrators");
    assert_eq!(admins["role"], "admin");
    assert_eq!(admins["scope"], json!({"type": "organization"}));
    assert_eq!(admins["member_count"], 1);
    let admins_id = str_of(&admins["id"]);
    let (status, members) = s
        .get(&o(&org, &format!("/groups/{admins_id}/members")), &ann)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(members["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(members["items"][0]["user"]["id"], ann_id.as_str());
    assert_eq!(members["items"][0]["principal_type"], "user");

    // Create, with every field of the group object.
    let (status, g) = s
        .post(
            &o(&org, "/groups"),
            &ann,
            json!({"name": "  Deployers  ", "description": "ship it", "role": "editor",
                   "scope": {"type": "environment", "environment_ids": [e1, e2]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let gid = str_of(&g["id"]);
    assert_eq!(g["name"], "Deployers", "names are trimmed");
    assert_eq!(g["description"], "ship it");
    assert_eq!(g["role"], "editor");
    assert_eq!(g["scope"]["type"], "environment");
    assert_eq!(
        set(g["scope"]["environment_ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(str_of)),
        set([&e1, &e2])
    );
    assert_eq!(g["member_count"], 0);
    assert!(g["created_at"].is_string(), "{g}");
    let (status, one) = s.get(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, g, "GET answers what POST answered");
    let (status, list) = s.get(&o(&org, "/groups"), &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids_of(&list), set([&admins_id, &gid]));

    // Duplicate names: 409 conflict on `name`, on create and on rename.
    for name in ["Deployers", " Deployers ", "Administrators"] {
        let (status, body) = s
            .post(
                &o(&org, "/groups"),
                &ann,
                json!({"name": name, "role": "viewer", "scope": {"type": "organization"}}),
            )
            .await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict", name);
        assert_eq!(body["error"]["field"], "name", "{body}");
    }
    let (status, body) = s
        .patch(
            &o(&org, &format!("/groups/{gid}")),
            &ann,
            json!({"name": "Administrators"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict", "rename");
    assert_eq!(body["error"]["field"], "name", "{body}");
    // The same name in another organization is fine.
    s.org_group(&ann, &other_org, "Deployers", "viewer").await;

    // Validation: 400 validation_error, nothing created.
    let bad_bodies = vec![
        (
            "empty environment list",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "environment_ids": []}}),
        ),
        (
            "empty application list",
            json!({"name": "x", "role": "viewer", "scope": {"type": "application", "application_ids": []}}),
        ),
        (
            "environment of another organization",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "environment_ids": [e1, foreign_env]}}),
        ),
        (
            "application of another organization",
            json!({"name": "x", "role": "viewer", "scope": {"type": "application", "application_ids": [foreign_app]}}),
        ),
        (
            "unknown environment id",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "environment_ids": [uuid::Uuid::new_v4()]}}),
        ),
        (
            "an application id as an environment",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "environment_ids": [a1]}}),
        ),
        (
            "an environment id as an application",
            json!({"name": "x", "role": "viewer", "scope": {"type": "application", "application_ids": [e1]}}),
        ),
        (
            "malformed id",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "environment_ids": ["nope"]}}),
        ),
        (
            "missing id list",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment"}}),
        ),
        (
            "unknown scope type",
            json!({"name": "x", "role": "viewer", "scope": {"type": "cluster"}}),
        ),
        (
            "ids on an organization scope",
            json!({"name": "x", "role": "viewer", "scope": {"type": "organization", "environment_ids": [e1]}}),
        ),
        (
            "both id lists",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "environment_ids": [e1], "application_ids": [a1]}}),
        ),
        (
            "the other kind's id list",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "application_ids": [a1]}}),
        ),
        (
            "ids that are not strings",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "environment_ids": [1, 2]}}),
        ),
        (
            "ids as a string",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "environment_ids": e1}}),
        ),
        (
            "scope without type",
            json!({"name": "x", "role": "viewer", "scope": {}}),
        ),
        (
            "scope as a string",
            json!({"name": "x", "role": "viewer", "scope": "organization"}),
        ),
        ("missing scope", json!({"name": "x", "role": "viewer"})),
        (
            "bad role",
            json!({"name": "x", "role": "owner", "scope": {"type": "organization"}}),
        ),
        (
            "role with capitals",
            json!({"name": "x", "role": "Admin", "scope": {"type": "organization"}}),
        ),
        (
            "missing role",
            json!({"name": "x", "scope": {"type": "organization"}}),
        ),
        (
            "empty name",
            json!({"name": "   ", "role": "viewer", "scope": {"type": "organization"}}),
        ),
        (
            "long name",
            json!({"name": "n".repeat(101), "role": "viewer", "scope": {"type": "organization"}}),
        ),
        (
            "control character in name",
            json!({"name": "a\u{0001}b", "role": "viewer", "scope": {"type": "organization"}}),
        ),
        (
            "unknown field",
            json!({"name": "x", "role": "viewer", "scope": {"type": "organization"}, "colour": "red"}),
        ),
    ];
    for (what, body) in &bad_bodies {
        let (status, resp) = s.post(&o(&org, "/groups"), &ann, body.clone()).await;
        assert_invalid(status, &resp, what);
    }
    // The field names the culprit: `role` itself, or a field below
    // `scope` (`exact` false).
    for (what, body, field, exact) in [
        (
            "bad role",
            json!({"name": "x", "role": "owner", "scope": {"type": "organization"}}),
            "role",
            true,
        ),
        (
            "empty environment list",
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "environment_ids": []}}),
            "scope",
            false,
        ),
        (
            "application of another organization",
            json!({"name": "x", "role": "viewer", "scope": {"type": "application", "application_ids": [foreign_app]}}),
            "scope",
            false,
        ),
    ] {
        let (_, resp) = s.post(&o(&org, "/groups"), &ann, body).await;
        let got = resp["error"]["field"].as_str();
        let named = if exact {
            got == Some(field)
        } else {
            got.is_some_and(|f| f.starts_with(field))
        };
        assert!(named, "{what}: field {got:?}, want {field}: {resp}");
    }
    let (_, list) = s.get(&o(&org, "/groups"), &ann).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2), "{list}");

    // The same validation on PATCH, which changes nothing when refused.
    for (what, patch) in [
        (
            "empty list",
            json!({"scope": {"type": "environment", "environment_ids": []}}),
        ),
        (
            "foreign id",
            json!({"scope": {"type": "environment", "environment_ids": [foreign_env]}}),
        ),
        ("unknown scope type", json!({"scope": {"type": "galaxy"}})),
        (
            "ids on an organization scope",
            json!({"scope": {"type": "organization", "application_ids": [a1]}}),
        ),
        ("bad role", json!({"role": "superadmin"})),
        ("empty name", json!({"name": ""})),
        ("unknown field", json!({"members": []})),
    ] {
        let (status, resp) = s
            .patch(&o(&org, &format!("/groups/{gid}")), &ann, patch)
            .await;
        assert_invalid(status, &resp, what);
    }
    let (_, unchanged) = s.get(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(unchanged, g);

    // Update each field.
    let (status, up) = s
        .patch(
            &o(&org, &format!("/groups/{gid}")),
            &ann,
            json!({"name": "Web team", "description": "", "role": "admin",
                   "scope": {"type": "application", "application_ids": [a1]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{up}");
    assert_eq!(up["id"], gid.as_str());
    assert_eq!(up["name"], "Web team");
    assert_eq!(up["description"], "");
    assert_eq!(up["role"], "admin");
    assert_eq!(
        up["scope"],
        json!({"type": "application", "application_ids": [a1]})
    );
    assert_eq!(up["created_at"], g["created_at"]);
    let (status, up) = s
        .patch(
            &o(&org, &format!("/groups/{gid}")),
            &ann,
            json!({"scope": {"type": "organization"}, "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{up}");
    assert_eq!(up["scope"], json!({"type": "organization"}));
    assert_eq!(up["name"], "Web team", "untouched fields stay");
    let (_, one) = s.get(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(one, up);

    // Unknown and foreign groups are not found.
    let foreign_group = str_of(&s.group_named(&ann, &other_org, "Deployers").await["id"]);
    let mut calls = Vec::new();
    for id in [uuid::Uuid::new_v4().to_string(), foreign_group.clone()] {
        let group = o(&org, &format!("/groups/{id}"));
        calls.extend([
            (Method::GET, group.clone(), None),
            (Method::PATCH, group.clone(), Some(json!({"name": "y"}))),
            (Method::DELETE, group.clone(), None),
            (Method::GET, format!("{group}/members"), None),
        ]);
    }
    calls.push((Method::GET, o(&org, "/groups/not-a-uuid"), None));
    let not_found = |(method, path, body)| (method, path, body, StatusCode::NOT_FOUND);
    s.expect_each(&ann, calls.into_iter().map(not_found).collect())
        .await;

    // Delete: 204, then gone.
    let (status, _) = s.delete(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.delete(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = s.get(&o(&org, "/groups"), &ann).await;
    assert_eq!(ids_of(&list), set([&admins_id]));
    // The foreign group was untouched by all of this.
    let (status, _) = s
        .get(&o(&other_org, &format!("/groups/{foreign_group}")), &ann)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Every change is audited.
    for action in ["group.create", "group.update", "group.delete"] {
        assert!(s.audit_count(&ann, &org, action).await >= 1, "{action}");
    }
    // A group name may be reused after deletion.
    s.org_group(&ann, &org, "Web team", "viewer").await;
}

async fn group_members_are_idempotent_and_organization_bound(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    let (bob_id, _) = s.user("bob@example.com").await;
    let (_, carol) = s.user("carol@example.com").await;
    let org = s.org(&ann, "Acme").await;
    let other = s.org(&carol, "Other").await;
    let bob = s.add_member(&ann, &org, "bob@example.com").await;
    let (sa, sa_member) = s.service_account(&ann, &org, "ci").await;
    let foreign_member = s.add_member(&carol, &other, "bob@example.com").await;
    let (_, foreign_sa_member) = s.service_account(&carol, &other, "ci").await;
    let gid = s.org_group(&ann, &org, "Readers", "viewer").await;
    let path = |m: &str| o(&org, &format!("/groups/{gid}/members/{m}"));

    // PUT twice: 204 both times, one member, one audit event.
    for _ in 0..2 {
        let (status, body) = s.put(&path(&bob), &ann, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (status, body) = s.put(&path(&sa_member), &ann, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, g) = s.get(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(g["member_count"], 2, "{g}");
    assert_eq!(s.audit_count(&ann, &org, "group.member_add").await, 2);
    let (status, list) = s
        .get(&o(&org, &format!("/groups/{gid}/members")), &ann)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids_of(&list), set([&bob, &sa_member]));
    let by_id: BTreeMap<String, Value> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| (str_of(&m["id"]), m.clone()))
        .collect();
    assert_eq!(by_id[&bob]["principal_type"], "user");
    assert_eq!(by_id[&bob]["user"]["id"], bob_id.as_str());
    assert_eq!(by_id[&bob]["user"]["email"], "bob@example.com");
    assert!(by_id[&bob]["service_account"].is_null());
    assert_eq!(by_id[&sa_member]["principal_type"], "service_account");
    assert_eq!(by_id[&sa_member]["service_account"]["id"], sa.as_str());
    assert!(by_id[&sa_member]["user"].is_null());
    // Member and service-account objects name their groups.
    let (_, members) = s.get(&o(&org, "/members"), &ann).await;
    let bob_obj = members["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["id"] == bob.as_str())
        .cloned()
        .expect("bob");
    assert_eq!(bob_obj["groups"], json!([{"id": gid, "name": "Readers"}]));
    let (_, sa_obj) = s
        .get(&o(&org, &format!("/service-accounts/{sa}")), &ann)
        .await;
    assert_eq!(sa_obj["groups"], json!([{"id": gid, "name": "Readers"}]));

    // DELETE twice: 204 both times.
    for _ in 0..2 {
        let (status, body) = s.delete(&path(&bob), &ann).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (_, g) = s.get(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(g["member_count"], 1, "{g}");
    assert_eq!(s.audit_count(&ann, &org, "group.member_remove").await, 1);
    // Removing someone who never was in the group is also fine.
    let (status, _) = s.delete(&path(&bob), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Members of another organization, unknown members: 404, in both
    // directions, and nothing changes.
    for m in [
        foreign_member.clone(),
        foreign_sa_member.clone(),
        uuid::Uuid::new_v4().to_string(),
    ] {
        let (status, body) = s.put(&path(&m), &ann, None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found", "put");
        let (status, body) = s.delete(&path(&m), &ann).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found", "delete");
    }
    let (status, _) = s.put(&path("not-a-uuid"), &ann, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Unknown group.
    let (status, _) = s
        .put(
            &o(
                &org,
                &format!("/groups/{}/members/{bob}", uuid::Uuid::new_v4()),
            ),
            &ann,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, g) = s.get(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(g["member_count"], 1, "{g}");
    // A group of the other organization cannot be reached from this one,
    // nor can its admin put this organization's members in it.
    let other_admins = s.admins_group(&carol, &other).await;
    for (token, group_org, member) in [
        (&ann, &org, &bob),
        (&carol, &other, &bob),
        (&carol, &other, &sa_member),
    ] {
        let path = o(
            group_org,
            &format!("/groups/{other_admins}/members/{member}"),
        );
        s.expect_each(
            token,
            vec![(Method::PUT, path, None, StatusCode::NOT_FOUND)],
        )
        .await;
    }

    // Removing a member from the organization removes it from its groups.
    s.join(&ann, &org, &gid, &bob).await;
    let (status, _) = s.delete(&o(&org, &format!("/members/{bob}")), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = s
        .get(&o(&org, &format!("/groups/{gid}/members")), &ann)
        .await;
    assert_eq!(ids_of(&list), set([&sa_member]));
    let (_, g) = s.get(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(g["member_count"], 1, "{g}");
    // Deleting a service account removes its member from its groups.
    let (status, _) = s
        .delete(&o(&org, &format!("/service-accounts/{sa}")), &ann)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, g) = s.get(&o(&org, &format!("/groups/{gid}")), &ann).await;
    assert_eq!(g["member_count"], 0, "{g}");
    let (_, list) = s
        .get(&o(&org, &format!("/groups/{gid}/members")), &ann)
        .await;
    assert_eq!(ids_of(&list), BTreeSet::new());
}

// ---------------------------------------------------------------------------
// 2. The last-admin rule
// ---------------------------------------------------------------------------

async fn last_admin_rule(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    let (bob_id, bob) = s.user("bob@example.com").await;
    let org = s.org(&ann, "Acme").await;
    let env = s.env(&ann, &org, "prod").await;
    let ann_m = s.member_of(&ann, &org, "ann@example.com").await;
    let admins = s.admins_group(&ann, &org).await;
    let bob_m = s.add_member(&ann, &org, "bob@example.com").await;
    let in_admins = |m: &str| o(&org, &format!("/groups/{admins}/members/{m}"));

    // Every way of losing the only active admin user is refused, by 409
    // last_admin, and changes nothing.
    // `case` names the situation in every failure.
    async fn all_refused(
        case: &str,
        s: &TestServer,
        token: &str,
        org: &str,
        admins: &str,
        member: &str,
    ) {
        let what = [
            (
                "remove from Administrators",
                s.delete(
                    &o(org, &format!("/groups/{admins}/members/{member}")),
                    token,
                )
                .await,
            ),
            (
                "delete Administrators",
                s.delete(&o(org, &format!("/groups/{admins}")), token).await,
            ),
            (
                "role editor",
                s.patch(
                    &o(org, &format!("/groups/{admins}")),
                    token,
                    json!({"role": "editor"}),
                )
                .await,
            ),
            (
                "role viewer",
                s.patch(
                    &o(org, &format!("/groups/{admins}")),
                    token,
                    json!({"role": "viewer"}),
                )
                .await,
            ),
            (
                "remove the member",
                s.delete(&o(org, &format!("/members/{member}")), token)
                    .await,
            ),
        ];
        for (w, (status, body)) in what {
            let w = format!("{case}: {w}");
            assert_error(status, &body, StatusCode::CONFLICT, "last_admin", &w);
        }
        let (status, g) = s.get(&o(org, &format!("/groups/{admins}")), token).await;
        assert_eq!(status, StatusCode::OK, "{case}: {g}");
        assert_eq!(g["role"], "admin", "{case}: {g}");
        assert_eq!(g["scope"], json!({"type": "organization"}), "{case}: {g}");
    }
    all_refused("ann is the only admin", &s, &ann, &org, &admins, &ann_m).await;
    let (status, body) = s
        .patch(
            &o(&org, &format!("/groups/{admins}")),
            &ann,
            json!({"scope": {"type": "environment", "environment_ids": [env]}}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "last_admin", "scope");
    // Harmless changes to Administrators are fine.
    let (status, body) = s
        .patch(
            &o(&org, &format!("/groups/{admins}")),
            &ann,
            json!({"description": "the keys", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The superuser is held to the same rule.
    all_refused("the superuser asks", &s, &s.root, &org, &admins, &ann_m).await;
    // No refused change left an audit event behind.
    assert_eq!(s.audit_count(&ann, &org, "group.member_remove").await, 0);
    assert_eq!(s.audit_count(&ann, &org, "group.delete").await, 0);
    assert_eq!(s.audit_count(&ann, &org, "member.remove").await, 0);

    // A service account in an admin group does not count as an admin.
    let (_, sa_m) = s.service_account(&ann, &org, "robot").await;
    s.join(&ann, &org, &admins, &sa_m).await;
    let robots = s.org_group(&ann, &org, "Robot admins", "admin").await;
    s.join(&ann, &org, &robots, &sa_m).await;
    all_refused(
        "a service account in admin groups",
        &s,
        &ann,
        &org,
        &admins,
        &ann_m,
    )
    .await;
    // Neither does a user in an admin group of a narrower scope, nor an
    // editor at organization scope (bob stays in each group).
    for (case, group, role, scope) in [
        (
            "bob is an admin of prod",
            "Prod admins",
            "admin",
            env_scope(&[&env]),
        ),
        (
            "bob is an editor of the organization",
            "Editors",
            "editor",
            org_scope(),
        ),
    ] {
        let g = s.group(&ann, &org, group, role, scope).await;
        s.join(&ann, &org, &g, &bob_m).await;
        all_refused(case, &s, &ann, &org, &admins, &ann_m).await;
    }
    // The service account may be removed from admin groups at will.
    let (status, _) = s.delete(&in_admins(&sa_m), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.delete(&o(&org, &format!("/groups/{robots}")), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // A disabled user does not count either.
    let backup = s.org_group(&ann, &org, "Backup admins", "admin").await;
    s.join(&ann, &org, &backup, &bob_m).await;
    s.set_active(&bob_id, false).await;
    all_refused("bob is disabled", &s, &ann, &org, &admins, &ann_m).await;
    s.set_active(&bob_id, true).await;

    // With another active admin user, each change is allowed.
    let (status, body) = s
        .patch(
            &o(&org, &format!("/groups/{admins}")),
            &ann,
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ann is an editor now: bob carries on.
    let (status, _) = s.get(&o(&org, "/audit-events"), &ann).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = s
        .patch(
            &o(&org, &format!("/groups/{admins}")),
            &bob,
            json!({"role": "admin", "scope": {"type": "environment", "environment_ids": [env]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s
        .patch(
            &o(&org, &format!("/groups/{admins}")),
            &bob,
            json!({"scope": {"type": "organization"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = s.delete(&in_admins(&ann_m), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // ann is no longer an admin: bob puts her back.
    let (status, _) = s.put(&in_admins(&ann_m), &ann, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.put(&in_admins(&ann_m), &bob, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.delete(&o(&org, &format!("/groups/{admins}")), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Now bob, in Backup admins, is the last one: his way out is closed.
    all_refused("bob is the last admin", &s, &bob, &org, &backup, &bob_m).await;
    // ann (no longer an admin) can be removed by bob.
    let (status, _) = s.delete(&o(&org, &format!("/members/{ann_m}")), &bob).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&o(&org, ""), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An admin may even remove themselves when another admin stays.
    s.add_member(&bob, &org, "ann@example.com").await;
    let ann_m = s.member_of(&bob, &org, "ann@example.com").await;
    s.join(&bob, &org, &backup, &ann_m).await;
    let (status, _) = s.delete(&o(&org, &format!("/members/{bob_m}")), &bob).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&o(&org, ""), &bob).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    all_refused(
        "ann is the last admin again",
        &s,
        &ann,
        &org,
        &backup,
        &ann_m,
    )
    .await;
}

async fn superuser_may_disable_the_last_admin(s: TestServer) {
    let (ann_id, ann) = s.user("ann@example.com").await;
    let (_, carol) = s.user("carol@example.com").await;
    let org = s.org(&ann, "Acme").await;
    let ann_m = s.member_of(&ann, &org, "ann@example.com").await;
    let admins = s.admins_group(&ann, &org).await;
    let (_, sa_m) = s.service_account(&ann, &org, "robot").await;
    s.join(&ann, &org, &admins, &sa_m).await;

    // Disabling a user is a platform operation: allowed.
    s.set_active(&ann_id, false).await;
    let (status, body) = s.get("/me", &ann).await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "principal_disabled",
        "ann",
    );

    // The organization stays manageable by the superuser: no active admin
    // user is left, so nothing it does can lose one.
    let group = o(&org, &format!("/groups/{admins}"));
    s.expect_each(
        &s.root,
        vec![
            (Method::GET, o(&org, "/members"), None, StatusCode::OK),
            (
                Method::PATCH,
                o(&org, ""),
                Some(json!({"name": "Acme (rescued)"})),
                StatusCode::OK,
            ),
            (
                Method::DELETE,
                format!("{group}/members/{sa_m}"),
                None,
                StatusCode::NO_CONTENT,
            ),
            (
                Method::PATCH,
                group.clone(),
                Some(json!({"description": "rescue"})),
                StatusCode::OK,
            ),
            (
                Method::DELETE,
                format!("{group}/members/{ann_m}"),
                None,
                StatusCode::NO_CONTENT,
            ),
        ],
    )
    .await;
    // The superuser appoints a new admin, who is then protected.
    let carol_m = s.add_member(&s.root, &org, "carol@example.com").await;
    s.join(&s.root, &org, &admins, &carol_m).await;
    let (status, _) = s.get(&o(&org, "/audit-events"), &carol).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s
        .delete(
            &o(&org, &format!("/groups/{admins}/members/{carol_m}")),
            &s.root,
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "last_admin",
        "carol is the last",
    );
    // Re-enabling ann gives two admins again if she rejoins.
    s.set_active(&ann_id, true).await;
    s.join(&carol, &org, &admins, &ann_m).await;
    let (status, body) = s
        .delete(
            &o(&org, &format!("/groups/{admins}/members/{carol_m}")),
            &carol,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

// ---------------------------------------------------------------------------
// 3. The §3 matrix over HTTP
// ---------------------------------------------------------------------------

/// Calls routes as one principal and records every unexpected status.
struct Probe<'a> {
    s: &'a TestServer,
    token: String,
    label: String,
    failures: Vec<String>,
    checked: usize,
}

impl<'a> Probe<'a> {
    fn new(s: &'a TestServer, token: &str, label: String) -> Self {
        Probe {
            s,
            token: token.to_owned(),
            label,
            failures: Vec::new(),
            checked: 0,
        }
    }

    async fn call(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        want: StatusCode,
    ) -> (StatusCode, Value) {
        let (status, resp) = self
            .s
            .call(method.clone(), path, Some(&self.token), body)
            .await;
        self.checked += 1;
        if status != want {
            self.failures.push(format!(
                "{}: {method} {path}: got {status}, want {want}: {resp}",
                self.label
            ));
        } else if want == StatusCode::FORBIDDEN && resp["error"]["code"] != "forbidden" {
            self.failures
                .push(format!("{}: {method} {path}: 403 body {resp}", self.label));
        }
        (status, resp)
    }

    async fn get(&mut self, path: &str, want: StatusCode) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None, want).await
    }

    fn fail(&mut self, what: String) {
        self.failures.push(format!("{}: {what}", self.label));
    }
}

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;
const NO_CONTENT: StatusCode = StatusCode::NO_CONTENT;

/// One row of the matrix: a call below the organization's path, the
/// resource and action of §3 it needs, and its status when allowed (when
/// refused it is 403 `forbidden`).
struct Route {
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
    res: Res,
    act: Act,
    ok: StatusCode,
}

impl Route {
    fn new(
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        res: Res,
        act: Act,
        ok: StatusCode,
    ) -> Self {
        Route {
            method,
            path: path.to_owned(),
            body,
            res,
            act,
            ok,
        }
    }

    /// A `GET` answering 200 when allowed.
    fn get(path: &str, res: Res, act: Act) -> Self {
        Route::new(reqwest::Method::GET, path, None, res, act, OK)
    }
}

impl Probe<'_> {
    /// Calls each route in turn, expecting what the model decides for the
    /// caller's groups; a mismatch names the route, its resource and its
    /// action.
    async fn expect_all(&mut self, org: &str, groups: &[&model::Group], routes: Vec<Route>) {
        for r in routes {
            let allowed = model::allowed(groups, &r.res, r.act);
            let before = self.failures.len();
            self.call(r.method, &o(org, &r.path), r.body, want(allowed, r.ok))
                .await;
            for f in &mut self.failures[before..] {
                f.push_str(&format!(
                    " ({:?} on {:?}, allowed: {allowed})",
                    r.act, r.res
                ));
            }
        }
    }
}

fn want(allowed: bool, ok: StatusCode) -> StatusCode {
    if allowed {
        ok
    } else {
        StatusCode::FORBIDDEN
    }
}

/// What `GET /environments/{e}/instances` (`owner` is `Res::Env(e)`) or
/// `GET /applications/{a}/instances` (`Res::App(a)`) answers in the model:
/// `None` for 403, else the other side (applications, environments) of the
/// listed instances; `here` is the other side of every instance there.
/// Everything of a viewable owner; otherwise the instances the caller may
/// view through a scope of the other kind; 403 when no scope of the caller
/// could ever reach an instance there.
fn model_instances(
    groups: &[&model::Group],
    owner: &Res,
    here: &BTreeSet<String>,
) -> Option<BTreeSet<String>> {
    if model::allowed(groups, owner, Act::View) {
        return Some(here.clone());
    }
    let cross = |scope: &Scope| match (owner, scope) {
        (Res::Env(_), Scope::Apps(ids)) | (Res::App(_), Scope::Envs(ids)) => !ids.is_empty(),
        _ => false,
    };
    let instance = |other: &String| match owner {
        Res::Env(e) => Res::Inst(other.clone(), e.clone()),
        Res::App(a) => Res::Inst(a.clone(), other.clone()),
        _ => panic!("{owner:?} has no instances"),
    };
    if !groups.iter().any(|g| cross(&g.scope)) {
        return None;
    }
    Some(
        here.iter()
            .filter(|other| model::allowed(groups, &instance(other), Act::View))
            .cloned()
            .collect(),
    )
}

fn instance_keys(list: &Value, key: &str) -> BTreeSet<String> {
    list["items"]
        .as_array()
        .map(|items| items.iter().map(|i| str_of(&i[key])).collect())
        .unwrap_or_default()
}

async fn permission_matrix_over_http(s: TestServer) {
    let (_, owner) = s.user("owner@example.com").await;
    let mut cases: Vec<(Option<Role>, &str)> = vec![(None, "no group")];
    for role in Role::ALL {
        for kind in ["organization", "environment", "application"] {
            cases.push((Some(role), kind));
        }
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, (role, kind)) in cases.into_iter().enumerate() {
        let (f, n) = matrix_case(&s, &owner, i, role, kind).await;
        failures.extend(f);
        checked += n;
    }
    println!("rbac matrix: {checked} route calls checked");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn matrix_case(
    s: &TestServer,
    owner: &str,
    i: usize,
    role: Option<Role>,
    kind: &str,
) -> (Vec<String>, usize) {
    let org = s.org(owner, &format!("Matrix {i}")).await;
    let e_in = s.env(owner, &org, "e-in").await;
    let e_out = s.env(owner, &org, "e-out").await;
    let a_in = s.app(owner, &org, "a-in").await;
    let a_out = s.app(owner, &org, "a-out").await;
    for a in [&a_in, &a_out] {
        for e in [&e_in, &e_out] {
            s.put_instance(owner, &org, a, e).await;
        }
    }
    let Robot {
        id: robot,
        member: robot_m,
        token_id: robot_token,
        ..
    } = s.robot(owner, &org, "robot", "t").await;
    let (doomed, _) = s.service_account(owner, &org, "doomed").await;
    let other = s.org_group(owner, &org, "other", "viewer").await;
    let email = format!("u{i}@example.com");
    let (user_id, token) = s.user(&email).await;
    let spare = format!("spare{i}@example.com");
    s.user(&spare).await;
    let member = s.add_member(owner, &org, &email).await;
    let mut groups = Vec::new();
    if let Some(role) = role {
        let scope = match kind {
            "organization" => Scope::Org,
            "environment" => Scope::Envs(set([&e_in])),
            _ => Scope::Apps(set([&a_in])),
        };
        let id = s
            .group(owner, &org, "subject", role.name(), scope.json())
            .await;
        s.join(owner, &org, &id, &member).await;
        groups.push(model::Group {
            id,
            name: "subject".into(),
            role,
            scope,
        });
    }
    let g: Vec<&model::Group> = groups.iter().collect();
    let may = |res: Res, act: Act| model::allowed(&g, &res, act);
    let label = format!(
        "{} at {kind} scope",
        role.map(Role::name).unwrap_or("no role")
    );
    let mut p = Probe::new(s, &token, label);

    // The organization itself.
    p.get(&o(&org, ""), StatusCode::OK).await;

    // Lists hold what the caller may view.
    let all_envs = set([&e_in, &e_out]);
    let all_apps = set([&a_in, &a_out]);
    let to_env: fn(String) -> Res = Res::Env;
    let lists = [
        ("environments", &all_envs, to_env),
        ("applications", &all_apps, Res::App),
    ];
    for (what, all, res) in lists {
        let (_, list) = p.get(&o(&org, &format!("/{what}")), StatusCode::OK).await;
        let seen = ids_of(&list);
        let visible = set(all.iter().filter(|id| may(res((*id).clone()), Act::View)));
        if seen != visible {
            p.fail(format!("{what} listed {seen:?}, visible {visible:?}"));
        }
    }
    // The instance lists of each environment and each application: the
    // path, what the model expects (`None`: 403), and the key of the other
    // side in each listed instance.
    let mut instance_lists = Vec::new();
    for e in [&e_in, &e_out] {
        instance_lists.push((
            format!("/environments/{e}/instances"),
            model_instances(&g, &Res::Env(e.clone()), &all_apps),
            "application_id",
        ));
    }
    for a in [&a_in, &a_out] {
        instance_lists.push((
            format!("/applications/{a}/instances"),
            model_instances(&g, &Res::App(a.clone()), &all_envs),
            "environment_id",
        ));
    }
    for (path, expected, key) in instance_lists {
        let path = o(&org, &path);
        let ok = want(expected.is_some(), StatusCode::OK);
        let (status, list) = p.get(&path, ok).await;
        if let (Some(want), StatusCode::OK) = (&expected, status) {
            let got = instance_keys(&list, key);
            if &got != want {
                p.fail(format!("{path} listed {got:?}, want {want:?}"));
            }
        }
    }

    // Environments and applications: view and update.
    let mut routes = Vec::new();
    for e in [&e_in, &e_out] {
        let (path, r) = (format!("/environments/{e}"), Res::Env(e.clone()));
        routes.push(Route::get(&path, r.clone(), Act::View));
        routes.push(Route::new(
            Method::PATCH,
            &path,
            Some(json!({})),
            r,
            Act::Update,
            OK,
        ));
    }
    for a in [&a_in, &a_out] {
        let (path, r) = (format!("/applications/{a}"), Res::App(a.clone()));
        routes.push(Route::get(&path, r.clone(), Act::View));
        let body = json!({"repository": "https://git.example/x"});
        routes.push(Route::new(
            Method::PATCH,
            &path,
            Some(body),
            r,
            Act::Update,
            OK,
        ));
    }
    p.expect_all(&org, &g, routes).await;

    // Instances and deployments.
    for a in [&a_in, &a_out] {
        for e in [&e_in, &e_out] {
            let r = Res::Inst(a.clone(), e.clone());
            let inst = format!("/applications/{a}/instances/{e}");
            let deps = format!("{inst}/deployments");
            let image = |tag: u8| Some(json!({"image": format!("registry.example/app:{tag}")}));
            p.expect_all(
                &org,
                &g,
                vec![
                    Route::get(&inst, r.clone(), Act::View),
                    Route::get(&deps, r.clone(), Act::View),
                    Route::new(Method::PUT, &inst, image(2), r.clone(), Act::Update, OK),
                ],
            )
            .await;
            let (inst, deps) = (o(&org, &inst), o(&org, &deps));
            let (status, d) = p
                .call(
                    Method::POST,
                    &deps,
                    Some(json!({"image": "registry.example/app:3", "version": "3"})),
                    want(may(r.clone(), Act::Update), StatusCode::CREATED),
                )
                .await;
            if status == StatusCode::CREATED {
                let by = &d["created_by"];
                if by["type"] != "user" || by["id"] != user_id.as_str() || by["name"] != email {
                    p.fail(format!("deployment created_by {by}"));
                }
                let (_, now) = s.get(&inst, owner).await;
                if now["image"] != "registry.example/app:3" {
                    p.fail(format!("after deploying, the instance runs {now}"));
                }
            }
            // Creating needs create: start from no instance.
            let (status, _) = s.delete(&inst, owner).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
            let (status, _) = p
                .call(
                    Method::PUT,
                    &inst,
                    image(4),
                    want(may(r.clone(), Act::Create), StatusCode::CREATED),
                )
                .await;
            if status != StatusCode::CREATED {
                s.put_instance(owner, &org, a, e).await;
            }
            p.call(
                Method::DELETE,
                &inst,
                None,
                want(may(r, Act::Delete), StatusCode::NO_CONTENT),
            )
            .await;
        }
    }

    // Creating environments and applications needs editor at organization
    // scope.
    p.expect_all(
        &org,
        &g,
        vec![
            Route::new(
                Method::POST,
                "/environments",
                Some(json!({"name": "new-env"})),
                Res::EnvList,
                Act::Create,
                CREATED,
            ),
            Route::new(
                Method::POST,
                "/applications",
                Some(json!({"name": "new-app"})),
                Res::AppList,
                Act::Create,
                CREATED,
            ),
        ],
    )
    .await;

    // Members.
    p.get(
        &o(&org, "/members"),
        want(may(Res::Members, Act::View), StatusCode::OK),
    )
    .await;
    let (status, added) = p
        .call(
            Method::POST,
            &o(&org, "/members"),
            Some(json!({"email": spare})),
            want(may(Res::Members, Act::Create), StatusCode::CREATED),
        )
        .await;
    let spare_m = if status == StatusCode::CREATED {
        str_of(&added["id"])
    } else {
        s.add_member(owner, &org, &spare).await
    };

    let tokens = format!("/service-accounts/{robot}/tokens");
    let group = format!("/groups/{other}");
    let new_group = json!({"name": "made", "role": "viewer", "scope": {"type": "organization"}});
    let sa = format!("/service-accounts/{robot}");
    let sa_change = Some(json!({"description": "changed"}));
    let group_change = Some(json!({"description": "changed"}));
    let in_group = format!("/groups/{other}/members/{robot_m}");
    use Act::{Create, Delete, Update, View};
    let (groups, sas, toks) = (Res::Groups, Res::ServiceAccounts, Res::ServiceTokens);
    p.expect_all(
        &org,
        &g,
        vec![
            Route::new(
                Method::DELETE,
                &format!("/members/{spare_m}"),
                None,
                Res::Members,
                Delete,
                NO_CONTENT,
            ),
            // Groups and group membership.
            Route::get("/groups", groups.clone(), View),
            Route::get(&group, groups.clone(), View),
            Route::get(&format!("{group}/members"), groups.clone(), View),
            Route::new(
                Method::POST,
                "/groups",
                Some(new_group),
                groups.clone(),
                Create,
                CREATED,
            ),
            Route::new(
                Method::PATCH,
                &group,
                group_change,
                groups.clone(),
                Update,
                OK,
            ),
            Route::new(
                Method::PUT,
                &in_group,
                None,
                groups.clone(),
                Update,
                NO_CONTENT,
            ),
            Route::new(
                Method::DELETE,
                &in_group,
                None,
                groups.clone(),
                Update,
                NO_CONTENT,
            ),
            Route::new(Method::DELETE, &group, None, groups, Delete, NO_CONTENT),
            // Service accounts and service tokens.
            Route::get("/service-accounts", sas.clone(), View),
            Route::get(&sa, sas.clone(), View),
            Route::new(
                Method::POST,
                "/service-accounts",
                Some(json!({"name": "made-sa"})),
                sas.clone(),
                Create,
                CREATED,
            ),
            Route::new(Method::PATCH, &sa, sa_change, sas.clone(), Update, OK),
            Route::new(
                Method::DELETE,
                &format!("/service-accounts/{doomed}"),
                None,
                sas,
                Delete,
                NO_CONTENT,
            ),
            Route::get(&tokens, toks.clone(), View),
            Route::new(
                Method::POST,
                &tokens,
                Some(json!({"name": "t2"})),
                toks.clone(),
                Create,
                CREATED,
            ),
            Route::new(
                Method::POST,
                &format!("{tokens}/{robot_token}/rotate"),
                Some(json!({})),
                toks.clone(),
                Update,
                CREATED,
            ),
            Route::new(
                Method::DELETE,
                &format!("{tokens}/{robot_token}"),
                None,
                toks,
                Delete,
                NO_CONTENT,
            ),
            // The audit log.
            Route::get("/audit-events", Res::AuditEvents, View),
        ],
    )
    .await;

    // access-check about oneself is open to every member, and agrees.
    for r in [
        Res::Org,
        Res::EnvList,
        Res::Env(e_in.clone()),
        Res::Env(e_out.clone()),
        Res::App(a_in.clone()),
        Res::Inst(a_in.clone(), e_out.clone()),
        Res::Inst(a_out.clone(), e_out.clone()),
        Res::Members,
        Res::ServiceTokens,
        Res::AuditEvents,
    ] {
        for act in Act::ALL {
            let path = o(
                &org,
                &format!("/access-check?resource={}&action={}", r.param(), act.name()),
            );
            match model::decide(&g, &r, act) {
                None => {
                    p.get(&path, StatusCode::BAD_REQUEST).await;
                }
                Some((allowed, by)) => {
                    let (_, ans) = p.get(&path, StatusCode::OK).await;
                    let named = ans["granted_by"].as_array().is_some_and(|entries| {
                        entries.iter().all(|e| {
                            g.iter().any(|gr| {
                                e["group_id"] == gr.id.as_str()
                                    && e["group_name"] == gr.name.as_str()
                                    && e["role"] == gr.role.name()
                            })
                        })
                    });
                    if ans["allowed"] != allowed || granted_ids(&ans) != by || !named {
                        p.fail(format!("{path} answered {ans}"));
                    }
                }
            }
        }
    }

    // Deleting environments and applications, then the organization.
    let mut routes: Vec<Route> = [
        (format!("/environments/{e_out}"), Res::Env(e_out.clone())),
        (format!("/environments/{e_in}"), Res::Env(e_in.clone())),
        (format!("/applications/{a_out}"), Res::App(a_out.clone())),
        (format!("/applications/{a_in}"), Res::App(a_in.clone())),
    ]
    .into_iter()
    .map(|(path, r)| Route::new(Method::DELETE, &path, None, r, Delete, NO_CONTENT))
    .collect();
    let rename = Some(json!({"name": "renamed"}));
    routes.push(Route::new(Method::PATCH, "", rename, Res::Org, Update, OK));
    routes.push(Route::new(
        Method::DELETE,
        "",
        None,
        Res::Org,
        Delete,
        NO_CONTENT,
    ));
    p.expect_all(&org, &g, routes).await;
    (p.failures, p.checked)
}

/// Ids of another organization never reach its data, whatever the caller's
/// power in its own organization.
async fn tenant_isolation_of_ids(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    let (_, carol) = s.user("carol@example.com").await;
    let mine = s.org(&ann, "Mine").await;
    let theirs = s.org(&carol, "Theirs").await;
    let (my_sa, _) = s.service_account(&ann, &mine, "ci").await;
    let admins = s.admins_group(&ann, &mine).await;
    let my_sa_m = str_of(
        &s.get(&o(&mine, &format!("/service-accounts/{my_sa}")), &ann)
            .await
            .1["member_id"],
    );
    s.join(&ann, &mine, &admins, &my_sa_m).await;
    let (_, my_sa_token) = s
        .service_token(&ann, &mine, &my_sa, json!({"name": "t"}))
        .await;

    let env = s.env(&carol, &theirs, "prod").await;
    let app = s.app(&carol, &theirs, "web").await;
    s.put_instance(&carol, &theirs, &app, &env).await;
    let Robot {
        id: sa,
        member: sa_m,
        token_id: tok,
        ..
    } = s.robot(&carol, &theirs, "ci", "t").await;
    let group = s.org_group(&carol, &theirs, "g", "viewer").await;
    let carol_m = s.member_of(&carol, &theirs, "carol@example.com").await;

    let inst = format!("/applications/{app}/instances/{env}");
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/environments/{env}"), None),
        (
            Method::PATCH,
            format!("/environments/{env}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/environments/{env}"), None),
        (Method::GET, format!("/environments/{env}/instances"), None),
        (Method::GET, format!("/applications/{app}"), None),
        (
            Method::PATCH,
            format!("/applications/{app}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/applications/{app}"), None),
        (Method::GET, format!("/applications/{app}/instances"), None),
        (Method::GET, inst.clone(), None),
        (Method::PUT, inst.clone(), Some(json!({"image": "evil:1"}))),
        (Method::GET, format!("{inst}/deployments"), None),
        (
            Method::POST,
            format!("{inst}/deployments"),
            Some(json!({"image": "evil:1"})),
        ),
        (Method::DELETE, inst.clone(), None),
        (Method::GET, format!("/groups/{group}"), None),
        (
            Method::PATCH,
            format!("/groups/{group}"),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, format!("/groups/{group}/members"), None),
        (
            Method::PUT,
            format!("/groups/{group}/members/{carol_m}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/groups/{group}/members/{carol_m}"),
            None,
        ),
        (Method::DELETE, format!("/groups/{group}"), None),
        (Method::DELETE, format!("/members/{carol_m}"), None),
        (Method::GET, format!("/service-accounts/{sa}"), None),
        (
            Method::PATCH,
            format!("/service-accounts/{sa}"),
            Some(json!({"status": "disabled"})),
        ),
        (Method::GET, format!("/service-accounts/{sa}/tokens"), None),
        (
            Method::POST,
            format!("/service-accounts/{sa}/tokens"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::POST,
            format!("/service-accounts/{sa}/tokens/{tok}/rotate"),
            Some(json!({})),
        ),
        (
            Method::DELETE,
            format!("/service-accounts/{sa}/tokens/{tok}"),
            None,
        ),
        (Method::DELETE, format!("/service-accounts/{sa}"), None),
        (
            Method::GET,
            format!("/access-check?resource=organization&action=view&member_id={sa_m}"),
            None,
        ),
    ];
    let askers = [("ann", &ann), ("ann's service account", &my_sa_token)];
    for (who, token) in askers {
        for (method, path, body) in &calls {
            let (status, resp) = s
                .call(method.clone(), &o(&mine, path), Some(token), body.clone())
                .await;
            let what = format!("{who}: {method} {path}");
            assert_error(status, &resp, StatusCode::NOT_FOUND, "not_found", &what);
        }
    }
    // And the other organization is simply not there for them.
    for (who, token) in askers {
        for path in ["", "/environments", "/groups", "/members", &inst] {
            let (status, _) = s.get(&o(&theirs, path), token).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{who}: {path}");
        }
    }
    // Nothing of theirs changed.
    let (status, i) = s.get(&o(&theirs, &inst), &carol).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(i["image"], "registry.example/app:1");
    let (_, g) = s
        .get(&o(&theirs, &format!("/groups/{group}")), &carol)
        .await;
    assert_eq!(g["name"], "g");
    let (_, sa_obj) = s
        .get(&o(&theirs, &format!("/service-accounts/{sa}")), &carol)
        .await;
    assert_eq!(sa_obj["status"], "active");
    let (_, toks) = s
        .get(
            &o(&theirs, &format!("/service-accounts/{sa}/tokens")),
            &carol,
        )
        .await;
    assert_eq!(toks["items"][0]["status"], "active");
    assert_eq!(toks["items"].as_array().map(Vec::len), Some(1));
    let (_, envs) = s.get(&o(&theirs, "/environments"), &carol).await;
    assert_eq!(ids_of(&envs), set([&env]));
    // Their ids cannot be put into our group scopes either.
    let (status, body) = s
        .post(
            &o(&mine, "/groups"),
            &ann,
            json!({"name": "x", "role": "viewer", "scope": {"type": "environment", "environment_ids": [env]}}),
        )
        .await;
    assert_invalid(status, &body, "foreign scope");
}

// ---------------------------------------------------------------------------
// 4. access-check
// ---------------------------------------------------------------------------

fn granted_ids(ans: &Value) -> BTreeSet<String> {
    ans["granted_by"]
        .as_array()
        .unwrap_or_else(|| panic!("no granted_by: {ans}"))
        .iter()
        .map(|g| str_of(&g["group_id"]))
        .collect()
}

async fn access_check_answers(s: TestServer) {
    let Acme {
        ann,
        bob,
        carol,
        org,
        dev: e1,
        prod: e2,
        web: a1,
        api: a2,
    } = s.acme().await;
    let ann_m = s.member_of(&ann, &org, "ann@example.com").await;
    let admins = s.admins_group(&ann, &org).await;
    let bob_m = s.add_member(&ann, &org, "bob@example.com").await;
    let env_viewers = s
        .group(&ann, &org, "Env viewers", "viewer", env_scope(&[&e1]))
        .await;
    let app_editors = s
        .group(&ann, &org, "App editors", "editor", app_scope(&[&a1]))
        .await;
    s.join(&ann, &org, &env_viewers, &bob_m).await;
    s.join(&ann, &org, &app_editors, &bob_m).await;
    let robots = s.org_group(&ann, &org, "Robots", "admin").await;
    let Robot {
        member: robot_m,
        token: robot_token,
        ..
    } = s.robot_in(&ann, &org, "robot", &robots, "t").await;

    let check = |token: &str, q: String| {
        let (token, org, s) = (token.to_owned(), org.clone(), &s);
        async move { s.access_check(&token, &org, &q).await }
    };

    // One granting group: the whole group in granted_by.
    let (status, ans) = check(&bob, format!("resource=environment:{e1}&action=view")).await;
    assert_eq!(status, StatusCode::OK, "{ans}");
    assert_eq!(
        ans,
        json!({"allowed": true, "superuser": false, "granted_by": [{
            "group_id": env_viewers, "group_name": "Env viewers", "role": "viewer",
            "scope": {"type": "environment", "environment_ids": [e1]}}]})
    );
    // bob's answers, asked by bob, by bob naming himself, and by an admin.
    let bob_cases: Vec<(String, &str, bool, BTreeSet<String>)> = vec![
        (
            format!("environment:{e1}"),
            "view",
            true,
            set([&env_viewers]),
        ),
        (
            format!("environment:{e1}"),
            "update",
            false,
            BTreeSet::new(),
        ),
        (format!("environment:{e2}"), "view", false, BTreeSet::new()),
        (
            format!("application:{a1}"),
            "view",
            true,
            set([&app_editors]),
        ),
        (
            format!("application:{a1}"),
            "update",
            true,
            set([&app_editors]),
        ),
        (
            format!("application:{a1}"),
            "delete",
            false,
            BTreeSet::new(),
        ),
        (format!("application:{a2}"), "view", false, BTreeSet::new()),
        (
            format!("instance:{a1}:{e1}"),
            "view",
            true,
            set([&env_viewers, &app_editors]),
        ),
        (
            format!("instance:{a1}:{e1}"),
            "update",
            true,
            set([&app_editors]),
        ),
        (
            format!("instance:{a1}:{e2}"),
            "create",
            true,
            set([&app_editors]),
        ),
        (
            format!("instance:{a1}:{e2}"),
            "delete",
            false,
            BTreeSet::new(),
        ),
        (
            format!("instance:{a2}:{e1}"),
            "view",
            true,
            set([&env_viewers]),
        ),
        (
            format!("instance:{a2}:{e1}"),
            "update",
            false,
            BTreeSet::new(),
        ),
        (
            format!("instance:{a2}:{e2}"),
            "view",
            false,
            BTreeSet::new(),
        ),
        ("organization".into(), "view", true, BTreeSet::new()),
        ("organization".into(), "update", false, BTreeSet::new()),
        ("environments".into(), "view", true, BTreeSet::new()),
        ("environments".into(), "create", false, BTreeSet::new()),
        ("applications".into(), "view", true, BTreeSet::new()),
        ("members".into(), "view", false, BTreeSet::new()),
        ("groups".into(), "view", false, BTreeSet::new()),
        ("service_accounts".into(), "view", false, BTreeSet::new()),
        ("service_tokens".into(), "view", false, BTreeSet::new()),
        ("audit_events".into(), "view", false, BTreeSet::new()),
    ];
    for (resource, action, allowed, by) in &bob_cases {
        for (who, token, suffix) in [
            ("bob", &bob, String::new()),
            ("bob", &bob, format!("&member_id={bob_m}")),
            ("ann", &ann, format!("&member_id={bob_m}")),
            ("the superuser", &s.root, format!("&member_id={bob_m}")),
            ("the robot", &robot_token, format!("&member_id={bob_m}")),
        ] {
            let (status, ans) = check(
                token,
                format!("resource={resource}&action={action}{suffix}"),
            )
            .await;
            let what = format!("asked by {who}: {resource} {action}{suffix}");
            assert_eq!(status, StatusCode::OK, "{what}: {ans}");
            assert_eq!(ans["allowed"], *allowed, "{what}: {ans}");
            assert_eq!(ans["superuser"], false, "{what}: {ans}");
            assert_eq!(&granted_ids(&ans), by, "{what}: {ans}");
        }
    }
    // Every entry of granted_by is a whole group.
    let (_, ans) = check(&bob, format!("resource=instance:{a1}:{e1}&action=view")).await;
    for g in ans["granted_by"].as_array().expect("granted_by") {
        let (_, full) = s
            .get(
                &o(&org, &format!("/groups/{}", str_of(&g["group_id"]))),
                &ann,
            )
            .await;
        assert_eq!(g["group_name"], full["name"]);
        assert_eq!(g["role"], full["role"]);
        assert_eq!(g["scope"], full["scope"]);
    }

    // Asking about another member needs admin.
    for other in [&ann_m, &robot_m] {
        let (status, body) = check(
            &bob,
            format!("resource=organization&action=view&member_id={other}"),
        )
        .await;
        assert_error(
            status,
            &body,
            StatusCode::FORBIDDEN,
            "forbidden",
            "bob asks",
        );
    }
    // An unknown member: 404 for an admin; a malformed one: 400.
    let (status, _) = check(
        &ann,
        format!(
            "resource=organization&action=view&member_id={}",
            uuid::Uuid::new_v4()
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = check(
        &ann,
        "resource=organization&action=view&member_id=bob".into(),
    )
    .await;
    assert_invalid(status, &body, "bad member_id");

    // A service account member: its own grants.
    let (status, ans) = check(
        &ann,
        format!("resource=service_tokens&action=delete&member_id={robot_m}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ans}");
    assert_eq!(ans["allowed"], true);
    assert_eq!(ans["superuser"], false);
    assert_eq!(granted_ids(&ans), set([&robots]));
    // The same, asked by the service account itself.
    let (status, ans) = check(&robot_token, "resource=service_tokens&action=delete".into()).await;
    assert_eq!(status, StatusCode::OK, "{ans}");
    assert_eq!(granted_ids(&ans), set([&robots]));
    assert_eq!(ans["superuser"], false);
    // The admin about itself.
    let (_, ans) = check(&ann, "resource=audit_events&action=view".into()).await;
    assert_eq!(ans["allowed"], true);
    assert_eq!(granted_ids(&ans), set([&admins]));
    let (_, ans) = check(
        &ann,
        format!("resource=audit_events&action=view&member_id={ann_m}"),
    )
    .await;
    assert_eq!(granted_ids(&ans), set([&admins]));

    // A superuser that is not a member: allowed as superuser, by no group.
    let (status, ans) = check(&s.root, "resource=audit_events&action=view".into()).await;
    assert_eq!(status, StatusCode::OK, "{ans}");
    assert_eq!(
        ans,
        json!({"allowed": true, "superuser": true, "granted_by": []})
    );
    // A non-member: not found.
    let (status, _) = check(&carol, "resource=organization&action=view".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad and meaningless questions: 400, whoever asks.
    let bad: Vec<String> = vec![
        "action=view".into(),
        "resource=organization".into(),
        "resource=planet&action=view".into(),
        "resource=&action=view".into(),
        "resource=environment&action=view".into(),
        "resource=environment:nope&action=view".into(),
        format!("resource=environment:{e1}:{e1}&action=view"),
        format!("resource=instance:{a1}&action=view"),
        "resource=organization:x&action=view".into(),
        format!("resource=environment:{e1}&action=destroy"),
        format!("resource=environment:{e1}&action="),
        "resource=organization&action=create".into(),
        "resource=environments&action=update".into(),
        "resource=environments&action=delete".into(),
        "resource=applications&action=update".into(),
        "resource=applications&action=delete".into(),
        format!("resource=environment:{e1}&action=create"),
        format!("resource=application:{a1}&action=create"),
        "resource=audit_events&action=create".into(),
        "resource=audit_events&action=update".into(),
        "resource=audit_events&action=delete".into(),
    ];
    for q in &bad {
        for (who, token) in [
            ("bob", &bob),
            ("ann", &ann),
            ("the superuser", &s.root),
            ("the robot", &robot_token),
        ] {
            let (status, body) = check(token, q.clone()).await;
            assert_invalid(status, &body, &format!("asked by {who}: {q}"));
        }
    }
    // Unknown query parameters are ignored.
    let (status, _) = check(&bob, "resource=organization&action=view&colour=red".into()).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------
// 5. Deleting environments and applications
// ---------------------------------------------------------------------------

async fn deleting_environments_and_applications_cleans_scopes(s: TestServer) {
    let Acme {
        ann,
        bob,
        carol,
        org,
        dev: e1,
        prod: e2,
        web: a1,
        api: a2,
    } = s.acme().await;
    for (a, e) in [(&a1, &e1), (&a1, &e2), (&a2, &e1), (&a2, &e2)] {
        s.put_instance(&ann, &org, a, e).await;
    }
    let (status, _) = s
        .post(
            &o(
                &org,
                &format!("/applications/{a1}/instances/{e1}/deployments"),
            ),
            &ann,
            json!({"image": "registry.example/app:2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let bob_m = s.add_member(&ann, &org, "bob@example.com").await;
    let carol_m = s.add_member(&ann, &org, "carol@example.com").await;
    let only_dev = s
        .group(&ann, &org, "Dev editors", "editor", env_scope(&[&e1]))
        .await;
    let both = s
        .group(&ann, &org, "All viewers", "viewer", env_scope(&[&e1, &e2]))
        .await;
    let only_web = s
        .group(&ann, &org, "Web admins", "admin", app_scope(&[&a1]))
        .await;
    s.join(&ann, &org, &only_dev, &bob_m).await;
    s.join(&ann, &org, &both, &carol_m).await;
    s.join(&ann, &org, &only_web, &carol_m).await;
    let (_, ans) = s
        .access_check(
            &bob,
            &org,
            &format!("resource=environment:{e1}&action=update"),
        )
        .await;
    assert_eq!(granted_ids(&ans), set([&only_dev]));

    // Delete dev.
    let dev = o(&org, &format!("/environments/{e1}"));
    s.expect_each(
        &ann,
        vec![
            (Method::DELETE, dev.clone(), None, StatusCode::NO_CONTENT),
            (Method::GET, dev.clone(), None, StatusCode::NOT_FOUND),
            (Method::DELETE, dev, None, StatusCode::NOT_FOUND),
        ],
    )
    .await;
    assert_eq!(s.audit_count(&ann, &org, "environment.delete").await, 1);
    // The groups stay; dev left their lists.
    let (status, g) = s.get(&o(&org, &format!("/groups/{only_dev}")), &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        g["scope"],
        json!({"type": "environment", "environment_ids": []})
    );
    assert_eq!(g["member_count"], 1);
    assert_eq!(g["role"], "editor");
    let (_, g) = s.get(&o(&org, &format!("/groups/{both}")), &ann).await;
    assert_eq!(
        g["scope"],
        json!({"type": "environment", "environment_ids": [e2]})
    );
    // Its instances and their deployments are gone.
    for a in [&a1, &a2] {
        let inst = o(&org, &format!("/applications/{a}/instances/{e1}"));
        let (status, _) = s.get(&inst, &ann).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{inst}");
        let (status, _) = s.get(&format!("{inst}/deployments"), &ann).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{inst}");
    }
    let (_, list) = s
        .get(&o(&org, &format!("/applications/{a1}/instances")), &ann)
        .await;
    assert_eq!(instance_keys(&list, "environment_id"), set([&e2]));
    // The emptied group grants nothing.
    let (_, envs) = s.get(&o(&org, "/environments"), &bob).await;
    assert_eq!(ids_of(&envs), BTreeSet::new());
    for (resource, action) in [
        (format!("environment:{e1}"), "view"),
        (format!("environment:{e2}"), "view"),
        (format!("instance:{a1}:{e1}"), "view"),
        (format!("instance:{a2}:{e2}"), "update"),
    ] {
        let (status, ans) = s
            .access_check(&bob, &org, &format!("resource={resource}&action={action}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ans["allowed"], false, "{resource}: {ans}");
        assert_eq!(ans["granted_by"], json!([]), "{resource}: {ans}");
    }
    let (status, _) = s.get(&o(&org, &format!("/environments/{e2}")), &bob).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .get(
            &o(&org, &format!("/applications/{a2}/instances/{e2}")),
            &bob,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A new environment of the same name is a new id: still nothing.
    let dev_again = s.env(&ann, &org, "dev").await;
    assert_ne!(dev_again, e1);
    let (status, _) = s
        .get(&o(&org, &format!("/environments/{dev_again}")), &bob)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, g) = s.get(&o(&org, &format!("/groups/{only_dev}")), &ann).await;
    assert_eq!(g["scope"]["environment_ids"], json!([]));
    // The emptied group can be renamed or re-scoped, never set empty.
    let (status, body) = s
        .patch(
            &o(&org, &format!("/groups/{only_dev}")),
            &ann,
            json!({"name": "Dev editors (old)", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"]["environment_ids"], json!([]));
    // Re-scoping: (what, the new environments, `None` when accepted, else
    // the error code).
    let no_env: [&str; 0] = [];
    for (what, scope, refused) in [
        ("empty", env_scope(&no_env), Some("validation_error")),
        ("deleted id", env_scope(&[&e1]), Some("validation_error")),
        ("new id", env_scope(&[&dev_again]), None),
    ] {
        let (status, body) = s
            .patch(
                &o(&org, &format!("/groups/{only_dev}")),
                &ann,
                json!({ "scope": scope }),
            )
            .await;
        match refused {
            Some(code) => assert_error(status, &body, StatusCode::BAD_REQUEST, code, what),
            None => assert_eq!(status, StatusCode::OK, "{what}: {body}"),
        }
    }
    let (status, _) = s
        .get(&o(&org, &format!("/environments/{dev_again}")), &bob)
        .await;
    assert_eq!(status, StatusCode::OK);

    // The same for an application.
    let (status, _) = s
        .get(&o(&org, &format!("/applications/{a1}")), &carol)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .delete(&o(&org, &format!("/applications/{a1}")), &ann)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(s.audit_count(&ann, &org, "application.delete").await, 1);
    let (status, _) = s.get(&o(&org, &format!("/applications/{a1}")), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, g) = s.get(&o(&org, &format!("/groups/{only_web}")), &ann).await;
    assert_eq!(
        g["scope"],
        json!({"type": "application", "application_ids": []})
    );
    assert_eq!(g["member_count"], 1);
    let (status, _) = s
        .get(
            &o(&org, &format!("/applications/{a1}/instances/{e2}")),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = s
        .get(&o(&org, &format!("/environments/{e2}/instances")), &ann)
        .await;
    assert_eq!(instance_keys(&list, "application_id"), set([&a2]));
    let (_, apps) = s.get(&o(&org, "/applications"), &carol).await;
    assert_eq!(ids_of(&apps), BTreeSet::new());
    let (_, ans) = s
        .access_check(
            &carol,
            &org,
            &format!("resource=application:{a1}&action=delete"),
        )
        .await;
    assert_eq!(ans["allowed"], false, "{ans}");
    // carol still views prod through her other group.
    let (_, ans) = s
        .access_check(
            &carol,
            &org,
            &format!("resource=instance:{a2}:{e2}&action=view"),
        )
        .await;
    assert_eq!(granted_ids(&ans), set([&both]));
}

// ---------------------------------------------------------------------------
// 5b. Scope clean-up under concurrency
// ---------------------------------------------------------------------------

/// Sends one request from a spawned task (owned arguments).
fn spawn_call(
    s: &TestServer,
    method: reqwest::Method,
    path: String,
    token: &str,
    body: Option<Value>,
) -> tokio::task::JoinHandle<StatusCode> {
    let mut req = s.http.request(method, s.url(&path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    tokio::spawn(async move { req.send().await.expect("request").status() })
}

/// Groups created or re-scoped while an environment or application is
/// being deleted never keep its id: whichever commits first, the deletion
/// takes the id out of every scope, or the group change is refused.
async fn scope_cleanup_races_with_group_changes(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    let org = s.org(&ann, "Acme").await;
    let keep_env = s.env(&ann, &org, "keep").await;
    let keep_app = s.app(&ann, &org, "keep").await;
    let rescoped_env = s
        .group(
            &ann,
            &org,
            "re-scoped env",
            "viewer",
            env_scope(&[&keep_env]),
        )
        .await;
    let rescoped_app = s
        .group(
            &ann,
            &org,
            "re-scoped app",
            "viewer",
            app_scope(&[&keep_app]),
        )
        .await;
    for round in 0..12 {
        let env = s.env(&ann, &org, &format!("doomed-{round}")).await;
        let app = s.app(&ann, &org, &format!("doomed-{round}")).await;
        let mut tasks = Vec::new();
        for k in 0..3 {
            tasks.push(spawn_call(
                &s,
                Method::POST,
                o(&org, "/groups"),
                &ann,
                Some(json!({"name": format!("e{round}-{k}"), "role": "viewer",
                    "scope": {"type": "environment", "environment_ids": [keep_env, env]}})),
            ));
            tasks.push(spawn_call(
                &s,
                Method::POST,
                o(&org, "/groups"),
                &ann,
                Some(json!({"name": format!("a{round}-{k}"), "role": "viewer",
                    "scope": {"type": "application", "application_ids": [app, keep_app]}})),
            ));
        }
        tasks.push(spawn_call(
            &s,
            Method::PATCH,
            o(&org, &format!("/groups/{rescoped_env}")),
            &ann,
            Some(json!({"scope": {"type": "environment", "environment_ids": [keep_env, env]}})),
        ));
        tasks.push(spawn_call(
            &s,
            Method::PATCH,
            o(&org, &format!("/groups/{rescoped_app}")),
            &ann,
            Some(json!({"scope": {"type": "application", "application_ids": [keep_app, app]}})),
        ));
        tasks.push(spawn_call(
            &s,
            Method::DELETE,
            o(&org, &format!("/environments/{env}")),
            &ann,
            None,
        ));
        tasks.push(spawn_call(
            &s,
            Method::DELETE,
            o(&org, &format!("/applications/{app}")),
            &ann,
            None,
        ));
        for t in tasks {
            let status = t.await.expect("task");
            assert!(
                [
                    StatusCode::OK,
                    StatusCode::CREATED,
                    StatusCode::NO_CONTENT,
                    StatusCode::BAD_REQUEST
                ]
                .contains(&status),
                "{status}"
            );
        }
        let (_, list) = s.get(&o(&org, "/groups?limit=200"), &ann).await;
        for g in list["items"].as_array().expect("items") {
            let ids = g["scope"]["environment_ids"]
                .as_array()
                .into_iter()
                .chain(g["scope"]["application_ids"].as_array())
                .flatten()
                .collect::<Vec<_>>();
            assert!(
                !ids.iter().any(|i| *i == env.as_str() || *i == app.as_str()),
                "round {round}: {} keeps a deleted id: {}",
                g["name"],
                g["scope"]
            );
        }
    }
}

/// Two changes that each leave one admin, but together none, never both
/// succeed, whatever the interleaving.
async fn last_admin_holds_under_concurrency(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    s.user("bob@example.com").await;
    let org = s.org(&ann, "Acme").await;
    let ann_m = s.member_of(&ann, &org, "ann@example.com").await;
    let mut bob_m = s.add_member(&ann, &org, "bob@example.com").await;
    let admins = s.admins_group(&ann, &org).await;
    let backup = s.org_group(&ann, &org, "Backup", "admin").await;
    for round in 0..12 {
        // ann in Administrators, bob in Backup: two admins.
        s.join(&s.root, &org, &admins, &ann_m).await;
        s.join(&s.root, &org, &backup, &bob_m).await;
        let remove_ann = (
            Method::DELETE,
            o(&org, &format!("/groups/{admins}/members/{ann_m}")),
            None,
        );
        let (first, second) = match round % 3 {
            0 => (
                remove_ann,
                (
                    Method::DELETE,
                    o(&org, &format!("/groups/{backup}/members/{bob_m}")),
                    None,
                ),
            ),
            1 => (
                (
                    Method::PATCH,
                    o(&org, &format!("/groups/{admins}")),
                    Some(json!({"role": "editor"})),
                ),
                (Method::DELETE, o(&org, &format!("/members/{bob_m}")), None),
            ),
            _ => (
                (
                    Method::PATCH,
                    o(&org, &format!("/groups/{backup}")),
                    Some(json!({"scope": {"type": "application", "application_ids": [
                        s.app(&ann, &org, &format!("app-{round}")).await
                    ]}})),
                ),
                remove_ann,
            ),
        };
        let a = spawn_call(&s, first.0, first.1, &s.root, first.2);
        let b = spawn_call(&s, second.0, second.1, &s.root, second.2);
        let mut got = [a.await.expect("task"), b.await.expect("task")];
        got.sort();
        assert!(
            got[0].is_success() && got[1] == StatusCode::CONFLICT,
            "round {round}: {got:?}"
        );
        // Exactly one admin is left.
        let (_, members) = s.get(&o(&org, "/members?limit=200"), &s.root).await;
        let mut admins_left = 0;
        for m in members["items"].as_array().expect("items") {
            let (_, ans) = s
                .get(
                    &o(
                        &org,
                        &format!(
                            "/access-check?resource=members&action=delete&member_id={}",
                            str_of(&m["id"])
                        ),
                    ),
                    &s.root,
                )
                .await;
            admins_left += usize::from(ans["allowed"] == true);
        }
        assert_eq!(admins_left, 1, "round {round}");
        // Back to the starting point.
        if !ids_of(&members).contains(&bob_m) {
            bob_m = s.add_member(&s.root, &org, "bob@example.com").await;
        }
        for g in [&admins, &backup] {
            let (status, body) = s
                .patch(
                    &o(&org, &format!("/groups/{g}")),
                    &s.root,
                    json!({"role": "admin", "scope": {"type": "organization"}}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
}

// ---------------------------------------------------------------------------
// 5c. Filtered lists
// ---------------------------------------------------------------------------

/// Lists filtered by visibility page through exactly the visible items.
/// `…/applications/{a}/instances` and `…/environments/{e}/instances`: to a
/// member who cannot view the application (environment), one that does not
/// exist looks exactly like one that does (SPEC §3). The permission is
/// decided before anything is looked up: `403` when no scope of the caller
/// could reach an instance there, else the filtered list, empty for an id
/// that exists nowhere. Who may view every application (environment) gets
/// `404` for a missing one, which reveals nothing to them.
async fn instance_lists_do_not_reveal_existence(s: TestServer) {
    let org = s.org(&s.root, "Acme").await;
    let e1 = s.env(&s.root, &org, "staging").await;
    let e2 = s.env(&s.root, &org, "production").await;
    let a1 = s.app(&s.root, &org, "web").await;
    let a2 = s.app(&s.root, &org, "api").await;
    let (status, _) = s
        .put(
            &o(&org, &format!("/applications/{a1}/instances/{e1}")),
            &s.root,
            Some(json!({"image": "web:1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ghost = uuid::Uuid::now_v7().to_string();
    let mut who = Vec::new();
    for (email, scope) in [
        (
            "carol@example.com",
            Some(json!({"type": "environment", "environment_ids": [e1]})),
        ),
        (
            "dave@example.com",
            Some(json!({"type": "application", "application_ids": [a1]})),
        ),
        ("erin@example.com", None),
    ] {
        let token = match scope {
            Some(scope) => {
                s.member_in_group(&s.root, &org, email, "viewer", scope)
                    .await
                    .0
            }
            None => s.member(&s.root, &org, email).await.1,
        };
        who.push(token);
    }
    let (carol, dave, erin) = (&who[0], &who[1], &who[2]);
    let list = |kind: &str, id: &str| o(&org, &format!("/{kind}/{id}/instances"));
    // (caller, collection, an id it cannot view, what both answer).
    let cases = [
        ("carol", carol, "applications", &a2, StatusCode::OK),
        ("carol", carol, "environments", &e2, StatusCode::FORBIDDEN),
        ("dave", dave, "environments", &e2, StatusCode::OK),
        ("dave", dave, "applications", &a2, StatusCode::FORBIDDEN),
        ("erin", erin, "applications", &a2, StatusCode::FORBIDDEN),
        ("erin", erin, "environments", &e2, StatusCode::FORBIDDEN),
    ];
    for (who, token, kind, existing, want) in cases {
        let (status, real) = s.get(&list(kind, existing), token).await;
        assert_eq!(status, want, "{who}: {kind}/{existing}: {real}");
        let (status, fake) = s.get(&list(kind, &ghost), token).await;
        assert_eq!(status, want, "{who}: {kind}/ghost: {fake}");
        assert_eq!(
            real, fake,
            "{who}: {kind}: an existing id and a missing one differ"
        );
    }
    // What they may view is listed as before.
    let (_, l) = s.get(&list("applications", &a1), carol).await;
    assert_eq!(instance_keys(&l, "environment_id"), set([&e1]));
    let (_, l) = s.get(&list("environments", &e1), dave).await;
    assert_eq!(instance_keys(&l, "application_id"), set([&a1]));
    // Who views everything learns nothing from a 404.
    for kind in ["applications", "environments"] {
        let (status, _) = s.get(&list(kind, &ghost), &s.root).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{kind}");
    }
}

async fn filtered_lists_paginate(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    let (_, bob) = s.user("bob@example.com").await;
    let org = s.org(&ann, "Acme").await;
    let mut envs = Vec::new();
    let mut apps = Vec::new();
    for k in 0..7 {
        envs.push(s.env(&ann, &org, &format!("env-{k}")).await);
        apps.push(s.app(&ann, &org, &format!("app-{k}")).await);
    }
    for a in &apps {
        s.put_instance(&ann, &org, a, &envs[0]).await;
    }
    for e in &envs[1..] {
        s.put_instance(&ann, &org, &apps[0], e).await;
    }
    let bob_m = s.add_member(&ann, &org, "bob@example.com").await;
    let seen_envs: Vec<&String> = envs.iter().step_by(2).collect();
    let seen_apps: Vec<&String> = apps.iter().skip(1).step_by(2).collect();
    let g1 = s
        .group(&ann, &org, "some envs", "viewer", env_scope(&seen_envs))
        .await;
    let g2 = s
        .group(&ann, &org, "some apps", "viewer", app_scope(&seen_apps))
        .await;
    s.join(&ann, &org, &g1, &bob_m).await;
    s.join(&ann, &org, &g2, &bob_m).await;

    async fn walk(s: &TestServer, token: &str, path: &str, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=2&cursor={c}"),
                None => format!("{path}{sep}limit=2"),
            };
            let (status, page) = s.get(&url, token).await;
            assert_eq!(status, StatusCode::OK, "{url}: {page}");
            let items = page["items"].as_array().expect("items");
            assert!(items.len() <= 2, "{page}");
            out.extend(items.iter().map(|i| str_of(&i[key])));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
        panic!("{path} does not end");
    }
    // What bob walks through, page by page: each list once, no duplicates.
    // env-0 is visible: all of its instances; app-0 is not, but bob sees
    // its instances in the environments he covers; env-1 is not visible:
    // only the instances of the covered applications (app-0 is not
    // covered, so none).
    let no_apps: Vec<&String> = Vec::new();
    for (path, key, want) in [
        ("/environments".to_owned(), "id", &seen_envs),
        ("/applications".to_owned(), "id", &seen_apps),
        (
            format!("/environments/{}/instances", envs[0]),
            "application_id",
            &apps.iter().collect(),
        ),
        (
            format!("/applications/{}/instances", apps[0]),
            "environment_id",
            &seen_envs,
        ),
        (
            format!("/environments/{}/instances", envs[1]),
            "application_id",
            &no_apps,
        ),
    ] {
        let got = walk(&s, &bob, &o(&org, &path), key).await;
        assert_eq!(got.len(), want.len(), "{path}: no duplicates: {got:?}");
        assert_eq!(set(&got), set(want), "{path}");
    }
}

// ---------------------------------------------------------------------------
// 6. Property: random organizations against the reference model
// ---------------------------------------------------------------------------

/// splitmix64: small and deterministic, to draw organizations from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Inclusive.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A non-empty random subset.
    fn subset(&mut self, items: &[String]) -> BTreeSet<String> {
        loop {
            let chosen: BTreeSet<String> =
                items.iter().filter(|_| self.percent(45)).cloned().collect();
            if !chosen.is_empty() {
                return chosen;
            }
        }
    }
}

const PROPERTY_SEED: u64 = 0x7207_0003_5EED;
const PROPERTY_ROUNDS: usize = 6;
const ROUTE_SAMPLES_PER_PRINCIPAL: usize = 16;

#[derive(Debug, Clone)]
enum PrincipalId {
    User(String),
    ServiceAccount(String),
}

#[derive(Debug, Clone)]
struct Who {
    label: String,
    member: String,
    token: String,
    id: PrincipalId,
    groups: BTreeSet<String>,
}

#[derive(Default)]
struct World {
    org: String,
    envs: Vec<String>,
    apps: Vec<String>,
    gone_envs: Vec<String>,
    gone_apps: Vec<String>,
    /// (application, environment)
    instances: BTreeSet<(String, String)>,
    groups: Vec<model::Group>,
    who: Vec<Who>,
    service_accounts: Vec<String>,
}

impl World {
    fn grants(&self, who: &Who) -> Vec<&model::Group> {
        self.groups
            .iter()
            .filter(|g| who.groups.contains(&g.id))
            .collect()
    }

    /// Every resource access-check is asked about: the fixed ones, each
    /// environment and application (deleted ones included) and each pair of
    /// them as an instance, whether it exists or not.
    fn resources(&self) -> Vec<Res> {
        let mut out = vec![
            Res::Org,
            Res::EnvList,
            Res::AppList,
            Res::Members,
            Res::Groups,
            Res::ServiceAccounts,
            Res::ServiceTokens,
            Res::AuditEvents,
        ];
        let envs: Vec<&String> = self.envs.iter().chain(&self.gone_envs).collect();
        let apps: Vec<&String> = self.apps.iter().chain(&self.gone_apps).collect();
        out.extend(envs.iter().map(|e| Res::Env((*e).clone())));
        out.extend(apps.iter().map(|a| Res::App((*a).clone())));
        for a in &apps {
            for e in &envs {
                out.push(Res::Inst((*a).clone(), (*e).clone()));
            }
        }
        out
    }

    fn apps_in(&self, env: &str) -> BTreeSet<String> {
        self.instances
            .iter()
            .filter(|(_, e)| e == env)
            .map(|(a, _)| a.clone())
            .collect()
    }

    fn envs_of(&self, app: &str) -> BTreeSet<String> {
        self.instances
            .iter()
            .filter(|(a, _)| a == app)
            .map(|(_, e)| e.clone())
            .collect()
    }
}

#[derive(Default)]
struct Tally {
    access_checks: usize,
    route_calls: usize,
    mismatches: Vec<String>,
}

impl Tally {
    fn mismatch(&mut self, what: String) {
        self.mismatches.push(what);
    }
}

/// Compares an access-check answer with the model.
fn compare_answer(
    world: &World,
    grants: &[&model::Group],
    res: &Res,
    act: Act,
    status: StatusCode,
    ans: &Value,
) -> Option<String> {
    let Some((allowed, by)) = model::decide(grants, res, act) else {
        return (status != StatusCode::BAD_REQUEST || ans["error"]["code"] != "validation_error")
            .then(|| format!("meaningless pair answered {status} {ans}"));
    };
    if status != StatusCode::OK {
        return Some(format!("answered {status} {ans}"));
    }
    if ans["allowed"] != allowed || ans["superuser"] != false {
        return Some(format!("answered {ans}, model allowed={allowed}"));
    }
    let Some(entries) = ans["granted_by"].as_array() else {
        return Some(format!("no granted_by in {ans}"));
    };
    let got: BTreeSet<String> = entries
        .iter()
        .map(|g| g["group_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    if got != by || entries.len() != by.len() {
        return Some(format!("granted_by {got:?}, model {by:?}"));
    }
    for e in entries {
        let Some(g) = world.groups.iter().find(|g| g.id == e["group_id"]) else {
            return Some(format!("granted_by names an unknown group {e}"));
        };
        if e["group_name"] != g.name.as_str() || e["role"] != g.role.name() {
            return Some(format!("granted_by entry {e} for {g:?}"));
        }
        if scope_of(&e["scope"]).as_ref() != Some(&g.scope) {
            return Some(format!("granted_by scope {} for {:?}", e["scope"], g.scope));
        }
    }
    None
}

/// A scope as the server shows it, in model terms.
fn scope_of(v: &Value) -> Option<Scope> {
    let ids = |key: &str| -> Option<BTreeSet<String>> {
        v[key]
            .as_array()?
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect()
    };
    match v["type"].as_str()? {
        "organization" => Some(Scope::Org),
        "environment" => Some(Scope::Envs(ids("environment_ids")?)),
        "application" => Some(Scope::Apps(ids("application_ids")?)),
        _ => None,
    }
}

async fn rbac_property(s: TestServer) {
    let seed = std::env::var("TRON_RBAC_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PROPERTY_SEED);
    println!(
        "rbac property ({:?}): seed {seed} (set TRON_RBAC_SEED to replay another)",
        s.db
    );
    let mut rng = Rng(seed);
    let (owner_id, owner) = s.user("owner@example.com").await;
    let mut tally = Tally::default();
    for round in 0..PROPERTY_ROUNDS {
        let world = build_world(&s, &owner_id, &owner, round, &mut rng, &mut tally).await;
        check_world(&s, &owner, world, &mut rng, &mut tally).await;
    }
    let n = tally.access_checks + tally.route_calls;
    println!(
        "rbac property ({:?}): {n} cases ({} access-checks, {} route calls) over {PROPERTY_ROUNDS} organizations, {} mismatches",
        s.db,
        tally.access_checks,
        tally.route_calls,
        tally.mismatches.len()
    );
    assert!(
        tally.mismatches.is_empty(),
        "seed {seed}: {} mismatches, first ones:\n{}",
        tally.mismatches.len(),
        tally
            .mismatches
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(n >= 2000, "too few cases: {n}");
}

async fn build_world(
    s: &TestServer,
    owner_id: &str,
    owner: &str,
    round: usize,
    rng: &mut Rng,
    tally: &mut Tally,
) -> World {
    let mut w = World {
        org: s.org(owner, &format!("Property {round}")).await,
        ..World::default()
    };
    let org = w.org.clone();
    let admins = s.admins_group(owner, &org).await;
    w.groups.push(model::Group {
        id: admins.clone(),
        name: "Administrators".into(),
        role: Role::Admin,
        scope: Scope::Org,
    });
    w.who.push(Who {
        label: "owner".into(),
        member: s.member_of(owner, &org, "owner@example.com").await,
        token: owner.to_owned(),
        id: PrincipalId::User(owner_id.to_owned()),
        groups: set([&admins]),
    });
    for k in 0..rng.between(2, 4) {
        w.envs.push(s.env(owner, &org, &format!("env-{k}")).await);
    }
    for k in 0..rng.between(2, 4) {
        w.apps.push(s.app(owner, &org, &format!("app-{k}")).await);
    }
    for a in &w.apps {
        for e in &w.envs {
            if rng.percent(50) {
                s.put_instance(owner, &org, a, e).await;
                w.instances.insert((a.clone(), e.clone()));
            }
        }
    }
    for k in 0..rng.between(2, 4) {
        let email = format!("r{round}-u{k}@example.com");
        let (id, token, member) = s.member(owner, &org, &email).await;
        w.who.push(Who {
            label: email,
            member,
            token,
            id: PrincipalId::User(id),
            groups: BTreeSet::new(),
        });
    }
    for k in 0..rng.between(1, 2) {
        let name = format!("bot-{k}");
        let Robot {
            id, member, token, ..
        } = s.robot(owner, &org, &name, "t").await;
        w.service_accounts.push(id.clone());
        w.who.push(Who {
            label: format!("service account {name}"),
            member,
            token,
            id: PrincipalId::ServiceAccount(id),
            groups: BTreeSet::new(),
        });
    }
    for k in 0..rng.between(2, 5) {
        let role = *rng.pick(&Role::ALL);
        let scope = match rng.below(8) {
            0 | 1 => Scope::Org,
            2..=4 => Scope::Envs(rng.subset(&w.envs)),
            _ => Scope::Apps(rng.subset(&w.apps)),
        };
        let name = format!("g{k}");
        let id = s.group(owner, &org, &name, role.name(), scope.json()).await;
        w.groups.push(model::Group {
            id,
            name,
            role,
            scope,
        });
    }
    for i in 1..w.who.len() {
        for j in 0..w.groups.len() {
            let p = if j == 0 { 10 } else { 40 };
            if rng.percent(p) {
                let gid = w.groups[j].id.clone();
                s.join(owner, &org, &gid, &w.who[i].member).await;
                w.who[i].groups.insert(gid);
            }
        }
    }
    // Sometimes change a group's role and scope, or take a member out.
    for _ in 0..rng.below(3) {
        let j = rng.between(1, w.groups.len() - 1);
        let role = *rng.pick(&Role::ALL);
        let scope = match rng.below(3) {
            0 => Scope::Org,
            1 => Scope::Envs(rng.subset(&w.envs)),
            _ => Scope::Apps(rng.subset(&w.apps)),
        };
        let (status, body) = s
            .patch(
                &o(&org, &format!("/groups/{}", w.groups[j].id)),
                owner,
                json!({"role": role.name(), "scope": scope.json()}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        w.groups[j].role = role;
        w.groups[j].scope = scope;
    }
    for _ in 0..rng.below(3) {
        let i = rng.between(1, w.who.len() - 1);
        let Some(gid) = w.who[i].groups.iter().next().cloned() else {
            continue;
        };
        let (status, body) = s
            .delete(
                &o(&org, &format!("/groups/{gid}/members/{}", w.who[i].member)),
                owner,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        w.who[i].groups.remove(&gid);
    }
    // Sometimes delete an environment or an application: it leaves every
    // scope and takes its instances along.
    if rng.percent(40) {
        let e = w.envs.remove(rng.below(w.envs.len()));
        let (status, _) = s
            .delete(&o(&org, &format!("/environments/{e}")), owner)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        w.instances.retain(|(_, ie)| ie != &e);
        for g in &mut w.groups {
            if let Scope::Envs(ids) = &mut g.scope {
                ids.remove(&e);
            }
        }
        w.gone_envs.push(e);
    }
    if rng.percent(40) {
        let a = w.apps.remove(rng.below(w.apps.len()));
        let (status, _) = s
            .delete(&o(&org, &format!("/applications/{a}")), owner)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        w.instances.retain(|(ia, _)| ia != &a);
        for g in &mut w.groups {
            if let Scope::Apps(ids) = &mut g.scope {
                ids.remove(&a);
            }
        }
        w.gone_apps.push(a);
    }
    // The server's groups are the model's.
    let (_, list) = s.get(&o(&org, "/groups?limit=200"), owner).await;
    let items = list["items"].as_array().expect("items");
    if items.len() != w.groups.len() {
        tally.mismatch(format!(
            "round {round}: {} groups listed, {} in the model",
            items.len(),
            w.groups.len()
        ));
    }
    for g in &w.groups {
        let Some(got) = items.iter().find(|i| i["id"] == g.id.as_str()) else {
            tally.mismatch(format!("round {round}: group {} missing", g.name));
            continue;
        };
        let members = w.who.iter().filter(|p| p.groups.contains(&g.id)).count();
        if scope_of(&got["scope"]).as_ref() != Some(&g.scope)
            || got["role"] != g.role.name()
            || got["member_count"] != members
        {
            tally.mismatch(format!(
                "round {round}: group {got}, model {g:?} with {members} members"
            ));
        }
    }
    w
}

async fn check_world(s: &TestServer, owner: &str, mut w: World, rng: &mut Rng, tally: &mut Tally) {
    let org = w.org.clone();
    // access-check for every principal, resource and action, asked by an
    // admin about the member.
    let resources = w.resources();
    for who in &w.who {
        let grants = w.grants(who);
        for res in &resources {
            for act in Act::ALL {
                let path = o(
                    &org,
                    &format!(
                        "/access-check?resource={}&action={}&member_id={}",
                        res.param(),
                        act.name(),
                        who.member
                    ),
                );
                let (status, ans) = s.get(&path, owner).await;
                tally.access_checks += 1;
                if let Some(m) = compare_answer(&w, &grants, res, act, status, &ans) {
                    tally.mismatch(format!("{} {} {}: {m}", who.label, res.param(), act.name()));
                }
            }
        }
    }
    // Real routes, called by each principal, in a random order.
    let mut order: Vec<usize> = (0..w.who.len())
        .flat_map(|i| (0..ROUTE_SAMPLES_PER_PRINCIPAL).map(move |_| i))
        .collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    for i in order {
        let who = w.who[i].clone();
        if let Some(m) = sample_route(s, &mut w, &who, rng).await {
            tally.mismatch(format!("{}: {m}", who.label));
        }
        tally.route_calls += 1;
    }
}

/// One random route call as `who`, compared with the model; updates the
/// world when the call changes it.
async fn sample_route(s: &TestServer, w: &mut World, who: &Who, rng: &mut Rng) -> Option<String> {
    let org = w.org.clone();
    let grants_owned: Vec<model::Group> = w.grants(who).into_iter().cloned().collect();
    let g: Vec<&model::Group> = grants_owned.iter().collect();
    let may = |res: Res, act: Act| model::allowed(&g, &res, act);
    let e = rng.pick(&w.envs).clone();
    let a = rng.pick(&w.apps).clone();
    let exists = w.instances.contains(&(a.clone(), e.clone()));
    let inst_res = Res::Inst(a.clone(), e.clone());
    let inst = o(&org, &format!("/applications/{a}/instances/{e}"));
    let if_exists = |ok: StatusCode| {
        if exists {
            ok
        } else {
            StatusCode::NOT_FOUND
        }
    };
    let kind = rng.below(20);
    let (method, path, body, expected): (Method, String, Option<Value>, StatusCode) = match kind {
        0 => (Method::GET, o(&org, ""), None, StatusCode::OK),
        1 => (Method::GET, o(&org, "/environments"), None, StatusCode::OK),
        2 => (Method::GET, o(&org, "/applications"), None, StatusCode::OK),
        3 => (
            Method::GET,
            o(&org, &format!("/environments/{e}")),
            None,
            want(may(Res::Env(e.clone()), Act::View), StatusCode::OK),
        ),
        4 => (
            Method::PATCH,
            o(&org, &format!("/environments/{e}")),
            Some(json!({})),
            want(may(Res::Env(e.clone()), Act::Update), StatusCode::OK),
        ),
        5 => (
            Method::GET,
            o(&org, &format!("/applications/{a}")),
            None,
            want(may(Res::App(a.clone()), Act::View), StatusCode::OK),
        ),
        6 => (
            Method::PATCH,
            o(&org, &format!("/applications/{a}")),
            Some(json!({})),
            want(may(Res::App(a.clone()), Act::Update), StatusCode::OK),
        ),
        7 => (
            Method::GET,
            o(&org, &format!("/environments/{e}/instances")),
            None,
            match model_instances(&g, &Res::Env(e.clone()), &w.apps_in(&e)) {
                Some(_) => StatusCode::OK,
                None => StatusCode::FORBIDDEN,
            },
        ),
        8 => (
            Method::GET,
            o(&org, &format!("/applications/{a}/instances")),
            None,
            match model_instances(&g, &Res::App(a.clone()), &w.envs_of(&a)) {
                Some(_) => StatusCode::OK,
                None => StatusCode::FORBIDDEN,
            },
        ),
        9 => (
            Method::GET,
            inst.clone(),
            None,
            want(may(inst_res.clone(), Act::View), if_exists(StatusCode::OK)),
        ),
        10 | 11 => {
            let (act, ok) = if exists {
                (Act::Update, StatusCode::OK)
            } else {
                (Act::Create, StatusCode::CREATED)
            };
            (
                Method::PUT,
                inst.clone(),
                Some(
                    json!({"image": format!("registry.example/app:{}", rng.below(100)), "replicas": rng.below(5)}),
                ),
                want(may(inst_res.clone(), act), ok),
            )
        }
        12 => (
            Method::POST,
            format!("{inst}/deployments"),
            Some(json!({"image": "registry.example/app:9", "version": "9"})),
            want(
                may(inst_res.clone(), Act::Update),
                if_exists(StatusCode::CREATED),
            ),
        ),
        13 => (
            Method::GET,
            format!("{inst}/deployments"),
            None,
            want(may(inst_res.clone(), Act::View), if_exists(StatusCode::OK)),
        ),
        14 => (
            Method::DELETE,
            inst.clone(),
            None,
            want(
                may(inst_res.clone(), Act::Delete),
                if_exists(StatusCode::NO_CONTENT),
            ),
        ),
        15 => (
            Method::GET,
            o(&org, "/members"),
            None,
            want(may(Res::Members, Act::View), StatusCode::OK),
        ),
        16 => (
            Method::GET,
            o(&org, "/groups"),
            None,
            want(may(Res::Groups, Act::View), StatusCode::OK),
        ),
        17 => (
            Method::GET,
            o(&org, "/service-accounts"),
            None,
            want(may(Res::ServiceAccounts, Act::View), StatusCode::OK),
        ),
        18 => {
            let sa = rng.pick(&w.service_accounts).clone();
            (
                Method::GET,
                o(&org, &format!("/service-accounts/{sa}/tokens")),
                None,
                want(may(Res::ServiceTokens, Act::View), StatusCode::OK),
            )
        }
        _ => (
            Method::GET,
            o(&org, "/audit-events"),
            None,
            want(may(Res::AuditEvents, Act::View), StatusCode::OK),
        ),
    };
    let (status, resp) = s.call(method.clone(), &path, Some(&who.token), body).await;
    let what = format!("{method} {path}");
    if status != expected {
        return Some(format!("{what}: got {status}, model {expected}: {resp}"));
    }
    if status == StatusCode::FORBIDDEN && resp["error"]["code"] != "forbidden" {
        return Some(format!("{what}: 403 with {resp}"));
    }
    // The bodies that the model also predicts.
    match (kind, status) {
        (1, _) => {
            let want: BTreeSet<String> = w
                .envs
                .iter()
                .filter(|e| may(Res::Env((*e).clone()), Act::View))
                .cloned()
                .collect();
            let got = ids_of(&resp);
            (got != want).then(|| format!("{what}: listed {got:?}, model {want:?}"))
        }
        (2, _) => {
            let want: BTreeSet<String> = w
                .apps
                .iter()
                .filter(|a| may(Res::App((*a).clone()), Act::View))
                .cloned()
                .collect();
            let got = ids_of(&resp);
            (got != want).then(|| format!("{what}: listed {got:?}, model {want:?}"))
        }
        (7, StatusCode::OK) => {
            let want =
                model_instances(&g, &Res::Env(e.clone()), &w.apps_in(&e)).unwrap_or_default();
            let got = instance_keys(&resp, "application_id");
            (got != want).then(|| format!("{what}: listed {got:?}, model {want:?}"))
        }
        (8, StatusCode::OK) => {
            let want =
                model_instances(&g, &Res::App(a.clone()), &w.envs_of(&a)).unwrap_or_default();
            let got = instance_keys(&resp, "environment_id");
            (got != want).then(|| format!("{what}: listed {got:?}, model {want:?}"))
        }
        (10 | 11, StatusCode::OK | StatusCode::CREATED) => {
            w.instances.insert((a, e));
            None
        }
        (12, StatusCode::CREATED) => {
            let by = &resp["created_by"];
            let (kind, id) = match &who.id {
                PrincipalId::User(id) => ("user", id),
                PrincipalId::ServiceAccount(id) => ("service_account", id),
            };
            (by["type"] != kind || by["id"] != id.as_str())
                .then(|| format!("{what}: created_by {by}"))
        }
        (14, StatusCode::NO_CONTENT) => {
            w.instances.remove(&(a, e));
            None
        }
        _ => None,
    }
}
