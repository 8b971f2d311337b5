//! The `data` of each event type. Invariant: these types hold ids, names,
//! hints (a token's last 4 characters) and times only; none has a field that
//! could carry a token, a secret or an ID token, so an event built from them
//! cannot leak one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::EventType;

/// The data of one event type.
pub trait EventData: Serialize {
    const TYPE: EventType;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRef {
    pub id: Uuid,
    pub name: String,
    /// The token's last 4 characters, as shown in token lists.
    pub hint: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Who did it, as in audit events: `{type, id, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ServiceAccount,
}

/// `service_token.expiring`: sent once at each of 30, 7 and 1 days before
/// `token.expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenExpiring {
    pub service_account: ServiceAccountRef,
    pub token: TokenRef,
    /// 30, 7 or 1: which warning this is.
    pub days_left: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenExpired {
    pub service_account: ServiceAccountRef,
    pub token: TokenRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// Revoked by a person (or a service account) through the API or portal.
    Manual,
    /// Reported through `/tokens/revoke-leaked`.
    LeakReport,
    /// The old token of a rotation, at the end of its grace period.
    RotationGraceEnded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevoked {
    pub service_account: ServiceAccountRef,
    pub token: TokenRef,
    pub reason: RevocationReason,
    /// `null` for a leak report or the end of a grace period.
    pub revoked_by: Option<ActorRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDisabled {
    pub service_account: ServiceAccountRef,
    pub disabled_by: Option<ActorRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDeleted {
    pub service_account: ServiceAccountRef,
    pub deleted_by: Option<ActorRef>,
}

/// One trust policy's first failing condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyMismatch {
    pub policy_id: Uuid,
    pub claim: String,
    /// The policy's pattern for that claim.
    pub pattern: String,
    /// The claim's value in the ID token (its string form), `null` if absent.
    pub value: Option<String>,
}

/// `service_token.exchange_rejected`: a correctly signed ID token of a
/// trusted issuer that no trust policy of the account accepted. Never the
/// ID token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRejected {
    pub service_account: ServiceAccountRef,
    pub issuer: String,
    /// The ID token's `sub`.
    pub subject: Option<String>,
    pub policies: Vec<PolicyMismatch>,
}

/// `ping`: queued by `POST …/webhooks/{id}/ping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub webhook_id: Uuid,
}

impl EventData for TokenExpiring {
    const TYPE: EventType = EventType::ServiceTokenExpiring;
}
impl EventData for TokenExpired {
    const TYPE: EventType = EventType::ServiceTokenExpired;
}
impl EventData for TokenRevoked {
    const TYPE: EventType = EventType::ServiceTokenRevoked;
}
impl EventData for AccountDisabled {
    const TYPE: EventType = EventType::ServiceAccountDisabled;
}
impl EventData for AccountDeleted {
    const TYPE: EventType = EventType::ServiceAccountDeleted;
}
impl EventData for ExchangeRejected {
    const TYPE: EventType = EventType::ServiceTokenExchangeRejected;
}
impl EventData for Ping {
    const TYPE: EventType = EventType::Ping;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use serde::de::DeserializeOwned;

    const DOCS: &str = include_str!("../../../docs/webhooks.md");

    /// The JSON block that follows the heading of `event_type` in the docs.
    fn documented(event_type: EventType) -> Event {
        let heading = format!("#### `{event_type}`");
        let start = DOCS
            .find(&heading)
            .unwrap_or_else(|| panic!("no {heading}"));
        let rest = &DOCS[start..];
        let open = rest.find("```json\n").unwrap() + "```json\n".len();
        let close = open + rest[open..].find("```").unwrap();
        serde_json::from_str(&rest[open..close]).unwrap()
    }

    /// The example's data is exactly what the type writes: no field missing
    /// or extra, so the docs cannot drift from the code.
    fn round_trips<D: EventData + DeserializeOwned>() {
        let event = documented(D::TYPE);
        assert_eq!(event.event_type, D::TYPE);
        let data: D = serde_json::from_value(event.data.clone()).unwrap();
        assert_eq!(
            serde_json::to_value(&data).unwrap(),
            event.data,
            "{}",
            D::TYPE
        );
        let rebuilt = Event::new(event.id, event.organization_id, event.occurred_at, &data);
        assert_eq!(rebuilt.unwrap(), event);
    }

    #[test]
    fn every_documented_example_is_what_its_type_writes() {
        round_trips::<TokenExpiring>();
        round_trips::<TokenExpired>();
        round_trips::<TokenRevoked>();
        round_trips::<AccountDisabled>();
        round_trips::<AccountDeleted>();
        round_trips::<ExchangeRejected>();
        round_trips::<Ping>();
    }

    #[test]
    fn no_documented_example_holds_anything_like_a_secret() {
        for t in EventType::ALL {
            let text = documented(t).data.to_string();
            for needle in ["trn_", "whsec_", "eyJ", "secret", "password"] {
                assert!(!text.contains(needle), "{t}: {needle}");
            }
        }
    }
}
