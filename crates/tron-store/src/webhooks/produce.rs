//! The webhook events changes cause, built from what the change's
//! transaction already holds: ids, names and hints, never a secret.
use chrono::{DateTime, Utc};
use sqlx::{Any, AnyConnection};
use tron_core::ids::{OrganizationId, ServiceAccountId};
use tron_core::principal::ActorType;
use tron_core::{Error, Result};
use tron_webhooks::data::{ActorKind, ActorRef, EventData, ServiceAccountRef, TokenRef};
use tron_webhooks::Event;
use uuid::Uuid;

use crate::db::*;
use crate::models::{RequestMeta, TokenRecord};

/// An event of `org` at `now`.
pub(crate) fn event<D: EventData>(
    org: OrganizationId,
    now: DateTime<Utc>,
    data: &D,
) -> Result<Event> {
    Event::new(Uuid::now_v7(), org.0, now, data).map_err(|e| Error::internal(e.to_string()))
}

/// The person or service account acting; `None` for anonymous callers
/// and the system.
pub(crate) fn actor_ref(meta: &RequestMeta) -> Option<ActorRef> {
    let kind = match meta.actor.kind {
        ActorType::User => ActorKind::User,
        ActorType::ServiceAccount => ActorKind::ServiceAccount,
        ActorType::Anonymous | ActorType::System => return None,
    };
    Some(ActorRef {
        kind,
        id: meta.actor.id?,
        name: meta.actor.name.clone().unwrap_or_default(),
    })
}

pub(crate) fn token_ref(t: &TokenRecord) -> TokenRef {
    TokenRef {
        id: t.id.0,
        name: t.name.clone(),
        hint: t.hint.clone(),
        expires_at: t.expires_at,
    }
}

/// The account's id and name, read in the change's transaction.
pub(crate) async fn sa_ref(
    conn: &mut AnyConnection,
    sa: ServiceAccountId,
) -> Result<ServiceAccountRef> {
    let row = sqlx::query::<Any>("SELECT name FROM service_accounts WHERE id = $1")
        .bind(sa.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(ServiceAccountRef {
        id: sa.0,
        name: match row {
            Some(r) => get_str(&r, "name")?,
            None => String::new(),
        },
    })
}
