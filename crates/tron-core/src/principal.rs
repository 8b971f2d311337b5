//! Who is calling: the principal a token resolved to.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{OrganizationId, ServiceAccountId, TokenId, UserId};
use crate::token::TokenKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    User {
        id: UserId,
        /// Shared with the token cache's entry: a request clones a pointer.
        email: Arc<str>,
        is_superuser: bool,
    },
    ServiceAccount {
        id: ServiceAccountId,
        organization_id: OrganizationId,
    },
}

/// An authenticated caller, with the token it presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// Shared with the token cache's entry: a request clones a pointer.
    pub name: Arc<str>,
    pub token_id: TokenId,
    pub token_kind: TokenKind,
    pub token_expires_at: Option<DateTime<Utc>>,
}

impl Principal {
    /// Superuser power comes only from a user's flag, and only through a
    /// session or personal token. A service account is never a superuser.
    pub fn is_superuser(&self) -> bool {
        matches!(
            self.kind,
            PrincipalKind::User {
                is_superuser: true,
                ..
            }
        ) && matches!(self.token_kind, TokenKind::Session | TokenKind::Personal)
    }

    pub fn user_id(&self) -> Option<UserId> {
        match self.kind {
            PrincipalKind::User { id, .. } => Some(id),
            PrincipalKind::ServiceAccount { .. } => None,
        }
    }

    pub fn service_account_id(&self) -> Option<ServiceAccountId> {
        match self.kind {
            PrincipalKind::ServiceAccount { id, .. } => Some(id),
            PrincipalKind::User { .. } => None,
        }
    }

    pub fn actor(&self) -> Actor {
        match &self.kind {
            PrincipalKind::User { id, .. } => Actor {
                kind: ActorType::User,
                id: Some(id.0),
                name: Some(self.name.to_string()),
                token_id: Some(self.token_id),
            },
            PrincipalKind::ServiceAccount { id, .. } => Actor {
                kind: ActorType::ServiceAccount,
                id: Some(id.0),
                name: Some(self.name.to_string()),
                token_id: Some(self.token_id),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    User,
    ServiceAccount,
    Anonymous,
    System,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::ServiceAccount => "service_account",
            ActorType::Anonymous => "anonymous",
            ActorType::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(ActorType::User),
            "service_account" => Some(ActorType::ServiceAccount),
            "anonymous" => Some(ActorType::Anonymous),
            "system" => Some(ActorType::System),
            _ => None,
        }
    }
}

/// Who did something, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub id: Option<uuid::Uuid>,
    pub name: Option<String>,
    pub token_id: Option<TokenId>,
}

impl Actor {
    pub fn anonymous() -> Self {
        Actor {
            kind: ActorType::Anonymous,
            id: None,
            name: None,
            token_id: None,
        }
    }

    /// The command line (`tron admin …`) and first-start bootstrap.
    pub fn system() -> Self {
        Actor {
            kind: ActorType::System,
            id: None,
            name: Some("tron".into()),
            token_id: None,
        }
    }
}
