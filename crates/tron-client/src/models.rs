//! What only a client needs on top of the shared wire types of `tron-api`:
//! the query strings of lists, the audit filter and the access check, and
//! the two answers that carry a plaintext token, which hold it as a
//! [`Secret`] so that printing them never shows it.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tron_api::{Instance, Page, User};
use tron_core::ids::MemberId;

use crate::Secret;

/// `limit` (1–200, server default 50) and `cursor` of a list request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn limit(limit: u32) -> Self {
        ListParams {
            limit: Some(limit),
            cursor: None,
        }
    }

    /// The request for the page after `page`, if there is one.
    pub fn next<T>(&self, page: &Page<T>) -> Option<Self> {
        page.next_cursor.as_ref().map(|c| ListParams {
            limit: self.limit,
            cursor: Some(c.clone()),
        })
    }
}

/// An object created with a token, whose plaintext is shown this once
/// (the client's reading of `tron_api::WithToken`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WithSecret<T> {
    #[serde(flatten)]
    pub item: T,
    pub token: Secret,
}

/// The answer of `POST /auth/login` (the client's reading of
/// `tron_api::LoginResponse`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// `GET .../access-check`: `resource` and `action` as in SPEC §3
/// (`environment:<id>`, `view`, ...).
#[derive(Debug, Clone, Serialize)]
pub struct AccessCheck {
    pub resource: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<MemberId>,
}

/// The answer of `PUT .../instances/{env}`: `created` for `201`, not for
/// `200`.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePut {
    pub instance: Instance,
    pub created: bool,
}

/// Filters of the audit log; `action` is exact or a prefix ending in `.*`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// Inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Exclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}
