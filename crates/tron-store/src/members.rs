//! Organization members (users and service accounts) and the membership
//! that the access context loads once per request.
use std::collections::HashMap;

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};
use tron_core::authz::{Grant, Role, Scope};
use tron_core::ids::*;
use tron_core::{Error, Result};

use crate::audit::Target;
use crate::db::*;
use crate::invalidate::Invalidation;
use crate::models::*;
use crate::scope::OrgStore;
use crate::Store;

/// The principal whose membership is looked up.
#[derive(Debug, Clone, Copy)]
pub enum MemberKey {
    User(UserId),
    ServiceAccount(ServiceAccountId),
}

const MEMBER_SELECT: &str = "SELECT m.id, m.user_id, m.service_account_id, m.created_at, \
     u.email AS u_email, u.name AS u_name, sa.name AS sa_name \
     FROM members m LEFT JOIN users u ON u.id = m.user_id \
     LEFT JOIN service_accounts sa ON sa.id = m.service_account_id";

fn row_to_member(row: &AnyRow) -> Result<Member> {
    let user_id: Option<UserId> = get_opt_id(row, "user_id")?;
    let sa_id: Option<ServiceAccountId> = get_opt_id(row, "service_account_id")?;
    let (principal_type, user, service_account) = match (user_id, sa_id) {
        (Some(id), _) => (
            PrincipalType::User,
            Some(MemberUser {
                id,
                email: get_str(row, "u_email")?,
                name: get_str(row, "u_name")?,
            }),
            None,
        ),
        (None, Some(id)) => (
            PrincipalType::ServiceAccount,
            None,
            Some(MemberServiceAccount {
                id,
                name: get_str(row, "sa_name")?,
            }),
        ),
        (None, None) => return Err(Error::internal("member without principal")),
    };
    Ok(Member {
        id: get_id(row, "id")?,
        principal_type,
        user,
        service_account,
        groups: Vec::new(),
        created_at: get_ts(row, "created_at")?,
    })
}

/// Loads the grants of a group list: role, scope kind and scope items.
pub(crate) async fn grants_of_groups(
    conn: &mut AnyConnection,
    rows: Vec<AnyRow>,
) -> Result<Vec<Grant>> {
    let mut grants = Vec::with_capacity(rows.len());
    for row in rows {
        let group_id: GroupId = get_id(&row, "id")?;
        let role =
            Role::parse(&get_str(&row, "role")?).ok_or_else(|| Error::internal("unknown role"))?;
        let scope_type = get_str(&row, "scope_type")?;
        let scope = if scope_type == "organization" {
            Scope::Organization
        } else {
            let items = sqlx::query::<Any>(
                "SELECT resource_id FROM group_scope_items WHERE group_id = $1 ORDER BY resource_id",
            )
            .bind(group_id.to_string())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
            let ids = items
                .iter()
                .map(|r| get_str(r, "resource_id"))
                .collect::<Result<Vec<_>>>()?;
            let parse = |s: &String| {
                s.parse::<uuid::Uuid>()
                    .map_err(|_| Error::internal("bad scope id"))
            };
            match scope_type.as_str() {
                "environment" => Scope::Environment {
                    environment_ids: ids
                        .iter()
                        .map(|s| parse(s).map(EnvironmentId))
                        .collect::<Result<_>>()?,
                },
                "application" => Scope::Application {
                    application_ids: ids
                        .iter()
                        .map(|s| parse(s).map(ApplicationId))
                        .collect::<Result<_>>()?,
                },
                other => return Err(Error::internal(format!("unknown scope type {other}"))),
            }
        };
        grants.push(Grant {
            group_id,
            group_name: get_str(&row, "name")?,
            role,
            scope,
        });
    }
    Ok(grants)
}

/// Group references of the given members, for member and service-account
/// objects.
pub(crate) async fn groups_of_members(
    conn: &mut AnyConnection,
    org: OrganizationId,
    members: &[MemberId],
) -> Result<HashMap<MemberId, Vec<GroupRef>>> {
    let mut out: HashMap<MemberId, Vec<GroupRef>> = HashMap::new();
    if members.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT gm.member_id, g.id, g.name FROM group_members gm JOIN org_groups g ON g.id = gm.group_id \
         WHERE g.organization_id = $1 AND gm.member_id IN ({}) ORDER BY g.name, g.id",
        placeholders(2, members.len())
    );
    let mut q = sqlx::query::<Any>(&sql).bind(org.to_string());
    for m in members {
        q = q.bind(m.to_string());
    }
    for row in q.fetch_all(&mut *conn).await.map_err(db_err)? {
        out.entry(get_id(&row, "member_id")?)
            .or_default()
            .push(GroupRef {
                id: get_id(&row, "id")?,
                name: get_str(&row, "name")?,
            });
    }
    Ok(out)
}

/// Active users in an organization-scoped admin group.
pub(crate) async fn count_active_admins(
    conn: &mut AnyConnection,
    org: OrganizationId,
) -> Result<i64> {
    let row = sqlx::query::<Any>(
        "SELECT COUNT(DISTINCT m.user_id) AS n FROM group_members gm \
         JOIN org_groups g ON g.id = gm.group_id \
         JOIN members m ON m.id = gm.member_id \
         JOIN users u ON u.id = m.user_id \
         WHERE g.organization_id = $1 AND g.role = 'admin' AND g.scope_type = 'organization' AND u.is_active = 1",
    )
    .bind(org.to_string())
    .fetch_one(conn)
    .await
    .map_err(db_err)?;
    get_i64(&row, "n")
}

/// The last-admin rule: a change inside `conn`'s transaction may not take
/// the organization from having an active admin user to having none.
pub(crate) async fn ensure_admin_kept(
    conn: &mut AnyConnection,
    org: OrganizationId,
    before: i64,
) -> Result<()> {
    if before > 0 && count_active_admins(conn, org).await? == 0 {
        return Err(Error::LastAdmin);
    }
    Ok(())
}

impl Store {
    /// The member row and grants of a principal, or `None` for a
    /// non-member.
    pub async fn load_membership(
        &self,
        org: OrganizationId,
        who: MemberKey,
    ) -> Result<Option<Membership>> {
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        let (col, id) = match who {
            MemberKey::User(u) => ("user_id", u.to_string()),
            MemberKey::ServiceAccount(s) => ("service_account_id", s.to_string()),
        };
        let row = sqlx::query::<Any>(&format!(
            "SELECT id FROM members WHERE organization_id = $1 AND {col} = $2"
        ))
        .bind(org.to_string())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let member_id: MemberId = get_id(&row, "id")?;
        let rows = sqlx::query::<Any>(
            "SELECT g.id, g.name, g.role, g.scope_type FROM group_members gm JOIN org_groups g ON g.id = gm.group_id \
             WHERE gm.member_id = $1 AND g.organization_id = $2 ORDER BY g.name, g.id",
        )
        .bind(member_id.to_string())
        .bind(org.to_string())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let grants = grants_of_groups(&mut conn, rows).await?;
        Ok(Some(Membership { member_id, grants }))
    }
}

impl OrgStore<'_> {
    /// The membership of any member by id (access-check about another
    /// member).
    pub async fn load_membership_by_id(&self, member: MemberId) -> Result<Option<Membership>> {
        let org = self.org;
        let row = sqlx::query::<Any>("SELECT user_id, service_account_id FROM members WHERE organization_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(member.to_string())
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let key = match (
            get_opt_id::<UserId>(&row, "user_id")?,
            get_opt_id::<ServiceAccountId>(&row, "service_account_id")?,
        ) {
            (Some(u), _) => MemberKey::User(u),
            (None, Some(s)) => MemberKey::ServiceAccount(s),
            _ => return Ok(None),
        };
        self.load_membership(org, key).await
    }

    /// Whether a member is a user with the superuser flag (access-check
    /// about another member).
    pub async fn member_is_superuser(&self, member: MemberId) -> Result<bool> {
        let org = self.org;
        let row = sqlx::query::<Any>(
            "SELECT u.is_superuser FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.organization_id = $1 AND m.id = $2 AND u.is_active = 1",
        )
        .bind(org.to_string())
        .bind(member.to_string())
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        row.map(|r| get_bool(&r, "is_superuser"))
            .transpose()
            .map(|b| b.unwrap_or(false))
    }

    pub async fn get_member(&self, id: MemberId) -> Result<Member> {
        let org = self.org;
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        let row = sqlx::query::<Any>(&format!(
            "{MEMBER_SELECT} WHERE m.organization_id = $1 AND m.id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound)?;
        let mut member = row_to_member(&row)?;
        member.groups = groups_of_members(&mut conn, org, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        Ok(member)
    }

    pub async fn list_members(
        &self,
        principal_type: Option<PrincipalType>,
        group: Option<GroupId>,
        page: &PageRequest,
    ) -> Result<Page<Member>> {
        let org = self.org;
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        let mut sql = format!("{MEMBER_SELECT} WHERE m.organization_id = $1 AND m.id > $2");
        match principal_type {
            Some(PrincipalType::User) => sql.push_str(" AND m.user_id IS NOT NULL"),
            Some(PrincipalType::ServiceAccount) => {
                sql.push_str(" AND m.service_account_id IS NOT NULL")
            }
            None => {}
        }
        if group.is_some() {
            sql.push_str(" AND m.id IN (SELECT member_id FROM group_members WHERE group_id = $3)");
        }
        sql.push_str(&format!(" ORDER BY m.id LIMIT {}", page.limit + 1));
        let mut q = sqlx::query::<Any>(&sql)
            .bind(org.to_string())
            .bind(page.after.map(|a| a.to_string()).unwrap_or_default());
        if let Some(g) = group {
            q = q.bind(g.to_string());
        }
        let rows = q.fetch_all(&mut *conn).await.map_err(db_err)?;
        let mut items = rows.iter().map(row_to_member).collect::<Result<Vec<_>>>()?;
        let ids: Vec<MemberId> = items.iter().map(|m| m.id).collect();
        let mut groups = groups_of_members(&mut conn, org, &ids).await?;
        for m in &mut items {
            m.groups = groups.remove(&m.id).unwrap_or_default();
        }
        Ok(Page::from_rows(items, page.limit, |m| m.id.to_string()))
    }

    pub async fn add_member(&self, user: &User) -> Result<Member> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let id = MemberId::new();
        let mut tx = self.begin().await?;
        sqlx::query::<Any>(
            "INSERT INTO members (id, organization_id, user_id, service_account_id, created_at) VALUES ($1, $2, $3, NULL, $4)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(user.id.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(unique_as("email", "this user's membership"))?;
        tx.audit(
            Some(org),
            meta,
            now,
            "member.add",
            Target::new("member", id, user.email.clone()),
            json!({"user_id": user.id, "email": user.email}),
        )
        .await?;
        tx.commit(&[Invalidation::Organization(org)]).await?;
        Ok(Member {
            id,
            principal_type: PrincipalType::User,
            user: Some(MemberUser {
                id: user.id,
                email: user.email.clone(),
                name: user.name.clone(),
            }),
            service_account: None,
            groups: Vec::new(),
            created_at: now,
        })
    }

    /// Removes a user member. A service account's member leaves only by
    /// deleting the service account.
    pub async fn remove_member(&self, id: MemberId) -> Result<Member> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        self.lock_org(&mut tx, org).await?;
        let row = sqlx::query::<Any>(&format!(
            "{MEMBER_SELECT} WHERE m.organization_id = $1 AND m.id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound)?;
        let member = row_to_member(&row)?;
        if member.principal_type == PrincipalType::ServiceAccount {
            return Err(Error::Conflict {
                message: "a service account leaves the organization when it is deleted".into(),
                field: None,
            });
        }
        let before = count_active_admins(&mut tx, org).await?;
        let deleted =
            sqlx::query::<Any>("DELETE FROM members WHERE organization_id = $1 AND id = $2")
                .bind(org.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        if deleted == 0 {
            return Err(Error::NotFound);
        }
        ensure_admin_kept(&mut tx, org, before).await?;
        let email = member
            .user
            .as_ref()
            .map(|u| u.email.clone())
            .unwrap_or_default();
        tx.audit(
            Some(org),
            meta,
            now,
            "member.remove",
            Target::new("member", id, email.clone()),
            json!({"user_id": member.user.as_ref().map(|u| u.id), "email": email}),
        )
        .await?;
        tx.commit(&[Invalidation::Organization(org)]).await?;
        Ok(member)
    }
}
