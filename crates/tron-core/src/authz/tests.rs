use super::*;

fn env() -> EnvironmentId {
    EnvironmentId::new()
}
fn app() -> ApplicationId {
    ApplicationId::new()
}

fn grant(role: Role, scope: Scope) -> Grant {
    Grant {
        group_id: GroupId::new(),
        group_name: "g".into(),
        role,
        scope,
    }
}

/// An independent statement of the spec's table, written as the spec
/// reads: (needs role, needs organization scope) per resource kind and
/// action, `None` where meaningless, `Some(None)` for any member.
fn spec_table(kind: &str, action: Action) -> Option<Option<Role>> {
    use Action::*;
    match (kind, action) {
        ("organization", View) => Some(None),
        ("organization", Create) => None,
        ("organization", _) => Some(Some(Role::Admin)),
        ("collection", View) => Some(None),
        ("collection", Create) => Some(Some(Role::Editor)),
        ("collection", _) => None,
        ("environment" | "application", Create) => None,
        ("environment" | "application" | "instance", View) => Some(Some(Role::Viewer)),
        ("environment" | "application" | "instance", Update) => Some(Some(Role::Editor)),
        ("instance", Create) => Some(Some(Role::Editor)),
        ("environment" | "application" | "instance", Delete) => Some(Some(Role::Admin)),
        ("org_view", View) => Some(Some(Role::Viewer)),
        ("org_view", _) => Some(Some(Role::Admin)),
        ("tokens", _) => Some(Some(Role::Admin)),
        ("audit", View) => Some(Some(Role::Admin)),
        ("audit", _) => None,
        _ => unreachable!(),
    }
}

/// Exhaustive over role × scope kind (covering, not covering) ×
/// resource kind × action × superuser.
#[test]
fn decision_matches_the_spec_table_exhaustively() {
    let (e, a) = (env(), app());
    let (other_e, other_a) = (env(), app());
    let resources: Vec<(Resource, &str)> = vec![
        (Resource::Organization, "organization"),
        (Resource::Environments, "collection"),
        (Resource::Applications, "collection"),
        (Resource::Environment(e), "environment"),
        (Resource::Application(a), "application"),
        (
            Resource::Instance {
                application: a,
                environment: e,
            },
            "instance",
        ),
        (Resource::Members, "org_view"),
        (Resource::Groups, "org_view"),
        (Resource::ServiceAccounts, "org_view"),
        (Resource::ServiceTokens, "tokens"),
        (Resource::AuditEvents, "audit"),
        (Resource::Webhooks, "tokens"),
    ];
    let scopes = vec![
        Scope::Organization,
        Scope::Environment {
            environment_ids: vec![e],
        },
        Scope::Environment {
            environment_ids: vec![other_e],
        },
        Scope::Application {
            application_ids: vec![a],
        },
        Scope::Application {
            application_ids: vec![other_a],
        },
        Scope::Environment {
            environment_ids: vec![],
        },
    ];
    let mut cases = 0;
    for role in [Role::Viewer, Role::Editor, Role::Admin] {
        for scope in &scopes {
            for (resource, kind) in &resources {
                for action in Action::ALL {
                    for superuser in [false, true] {
                        let grants = vec![grant(role, scope.clone())];
                        let got = decide(&grants, superuser, resource, action);
                        let want = spec_table(kind, action);
                        let Some(need) = want else {
                            assert!(got.is_none(), "{kind} {action:?} should be invalid");
                            cases += 1;
                            continue;
                        };
                        let covers = match (scope, *kind) {
                            (Scope::Organization, _) => true,
                            (Scope::Environment { environment_ids }, "environment") => {
                                environment_ids.contains(&e)
                            }
                            (Scope::Environment { environment_ids }, "instance") => {
                                environment_ids.contains(&e)
                            }
                            (Scope::Application { application_ids }, "application") => {
                                application_ids.contains(&a)
                            }
                            (Scope::Application { application_ids }, "instance") => {
                                application_ids.contains(&a)
                            }
                            _ => false,
                        };
                        let by_grant = match need {
                            None => true,
                            Some(r) => covers && role.rank() >= r.rank(),
                        };
                        let d = got.unwrap_or_else(|| panic!("{kind} {action:?} valid"));
                        assert_eq!(
                            d.allowed,
                            by_grant || superuser,
                            "{role:?} {scope:?} {kind} {action:?} su={superuser}"
                        );
                        assert_eq!(d.superuser, superuser);
                        assert_eq!(d.granted_by.len(), usize::from(by_grant && need.is_some()));
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 3 * 6 * 12 * 4 * 2);
}

#[test]
fn rank_is_explicit() {
    assert!(Role::Admin.at_least(Role::Editor));
    assert!(Role::Editor.at_least(Role::Viewer));
    assert!(!Role::Viewer.at_least(Role::Editor));
    assert!(!Role::Editor.at_least(Role::Admin));
}

#[test]
fn granted_by_lists_every_justifying_group() {
    let e = env();
    let grants = vec![
        grant(Role::Admin, Scope::Organization),
        grant(
            Role::Editor,
            Scope::Environment {
                environment_ids: vec![e],
            },
        ),
        grant(
            Role::Viewer,
            Scope::Environment {
                environment_ids: vec![e],
            },
        ),
    ];
    let d = decide(&grants, false, &Resource::Environment(e), Action::Update);
    assert_eq!(d.map(|d| d.granted_by.len()), Some(2));
}

#[test]
fn resource_strings() {
    let (e, a) = (env(), app());
    assert_eq!(
        Resource::parse(&format!("environment:{e}")),
        Some(Resource::Environment(e))
    );
    assert_eq!(
        Resource::parse(&format!("instance:{a}:{e}")),
        Some(Resource::Instance {
            application: a,
            environment: e
        })
    );
    assert_eq!(Resource::parse("environment:nope"), None);
    assert_eq!(Resource::parse("organization:x"), None);
    assert_eq!(
        Resource::parse("service_tokens"),
        Some(Resource::ServiceTokens)
    );
    assert_eq!(Resource::parse(""), None);
}

#[test]
fn visibility() {
    let (e1, e2, a) = (env(), env(), app());
    let grants = vec![
        grant(
            Role::Viewer,
            Scope::Environment {
                environment_ids: vec![e1],
            },
        ),
        grant(
            Role::Editor,
            Scope::Application {
                application_ids: vec![a],
            },
        ),
    ];
    let v = visible_environments(&grants, false);
    assert!(v.contains(&e1) && !v.contains(&e2));
    assert!(visible_applications(&grants, false).contains(&a));
    assert_eq!(visible_environments(&grants, true), Visible::All);
    assert_eq!(
        visible_environments(&[grant(Role::Viewer, Scope::Organization)], false),
        Visible::All
    );
}
