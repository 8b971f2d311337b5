//! The event envelope, the event types and a webhook's event filter.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::data::EventData;

/// The events a webhook can receive (SPEC §8), by their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "service_token.expiring")]
    ServiceTokenExpiring,
    #[serde(rename = "service_token.expired")]
    ServiceTokenExpired,
    #[serde(rename = "service_token.revoked")]
    ServiceTokenRevoked,
    #[serde(rename = "service_account.disabled")]
    ServiceAccountDisabled,
    #[serde(rename = "service_account.deleted")]
    ServiceAccountDeleted,
    #[serde(rename = "service_token.exchange_rejected")]
    ServiceTokenExchangeRejected,
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::ServiceTokenExpiring,
        EventType::ServiceTokenExpired,
        EventType::ServiceTokenRevoked,
        EventType::ServiceAccountDisabled,
        EventType::ServiceAccountDeleted,
        EventType::ServiceTokenExchangeRejected,
        EventType::Ping,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ServiceTokenExpiring => "service_token.expiring",
            EventType::ServiceTokenExpired => "service_token.expired",
            EventType::ServiceTokenRevoked => "service_token.revoked",
            EventType::ServiceAccountDisabled => "service_account.disabled",
            EventType::ServiceAccountDeleted => "service_account.deleted",
            EventType::ServiceTokenExchangeRejected => "service_token.exchange_rejected",
            EventType::Ping => "ping",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of the event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an event type")]
pub struct UnknownEventType;

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(UnknownEventType)
    }
}

/// What is POSTed: `{id, type, occurred_at, organization_id, data}`. `id`
/// is also the `webhook-id` header, the same on every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub occurred_at: DateTime<Utc>,
    pub organization_id: Uuid,
    /// Ids, names and hints only (see [`crate::data`]): never a token or a
    /// secret.
    pub data: serde_json::Value,
}

impl Event {
    /// An event whose `type` is the one of its data.
    pub fn new<D: EventData>(
        id: Uuid,
        organization_id: Uuid,
        occurred_at: DateTime<Utc>,
        data: &D,
    ) -> Result<Event, serde_json::Error> {
        Ok(Event {
            id,
            event_type: D::TYPE,
            occurred_at,
            organization_id,
            data: serde_json::to_value(data)?,
        })
    }

    /// The exact bytes sent and signed. Deterministic (object keys of
    /// `data` come out sorted), so every attempt sends the same body.
    pub fn body(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

/// A webhook's `events`: every type (`["*"]`) or a non-empty set of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub enum EventFilter {
    All,
    Only(BTreeSet<EventType>),
}

/// Why a list is not a valid `events`. Never repeats the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("`events` must list at least one event type, or be [\"*\"]")]
    Empty,
    #[error("\"*\" stands alone in `events`: it already means every event type")]
    WildcardNotAlone,
    #[error(
        "events[{index}] is not an event type; expected \"*\" or some of service_token.expiring, \
         service_token.expired, service_token.revoked, service_account.disabled, \
         service_account.deleted, service_token.exchange_rejected, ping"
    )]
    Unknown { index: usize },
}

impl EventFilter {
    pub const WILDCARD: &'static str = "*";

    /// Validates a webhook's `events`. Duplicates collapse.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, FilterError> {
        if items.is_empty() {
            return Err(FilterError::Empty);
        }
        if items.iter().any(|i| i.as_ref() == Self::WILDCARD) {
            return if items.len() == 1 {
                Ok(EventFilter::All)
            } else {
                Err(FilterError::WildcardNotAlone)
            };
        }
        let mut set = BTreeSet::new();
        for (index, item) in items.iter().enumerate() {
            let t = item
                .as_ref()
                .parse()
                .map_err(|_| FilterError::Unknown { index })?;
            set.insert(t);
        }
        Ok(EventFilter::Only(set))
    }

    /// Whether the webhook receives events of this type. A `ping` is
    /// addressed to one webhook by its admin, so it always passes.
    pub fn matches(&self, event_type: EventType) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Only(set) => event_type == EventType::Ping || set.contains(&event_type),
        }
    }

    /// The wire form: `["*"]`, or the types in the order of [`EventType::ALL`].
    pub fn to_strings(&self) -> Vec<&'static str> {
        match self {
            EventFilter::All => vec![Self::WILDCARD],
            EventFilter::Only(set) => set.iter().map(|t| t.as_str()).collect(),
        }
    }
}

impl TryFrom<Vec<String>> for EventFilter {
    type Error = FilterError;

    fn try_from(items: Vec<String>) -> Result<Self, Self::Error> {
        EventFilter::parse(&items)
    }
}

impl From<EventFilter> for Vec<String> {
    fn from(filter: EventFilter) -> Self {
        filter.to_strings().into_iter().map(String::from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ServiceAccountRef, TokenExpired, TokenRef};

    #[test]
    fn wire_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            let back: EventType = serde_json::from_value(t.as_str().into()).unwrap();
            assert_eq!(back, t);
        }
        assert_eq!(
            "service_token.*".parse::<EventType>(),
            Err(UnknownEventType)
        );
        assert_eq!("Ping".parse::<EventType>(), Err(UnknownEventType));
    }

    #[test]
    fn the_filter_validates() {
        assert_eq!(EventFilter::parse(&["*"]), Ok(EventFilter::All));
        assert_eq!(EventFilter::parse::<&str>(&[]), Err(FilterError::Empty));
        assert_eq!(
            EventFilter::parse(&["*", "ping"]),
            Err(FilterError::WildcardNotAlone)
        );
        assert_eq!(
            EventFilter::parse(&["*", "*"]),
            Err(FilterError::WildcardNotAlone)
        );
        let err = EventFilter::parse(&["ping", "service_token.exploded"]).unwrap_err();
        assert_eq!(err, FilterError::Unknown { index: 1 });
        assert!(err
            .to_string()
            .starts_with("events[1] is not an event type"));
        assert!(!err.to_string().contains("exploded"));
        assert_eq!(
            EventFilter::parse(&[""]),
            Err(FilterError::Unknown { index: 0 })
        );
        // Duplicates collapse; the wire order is the canonical one.
        let f = EventFilter::parse(&[
            "service_account.deleted",
            "service_token.expiring",
            "service_token.expiring",
        ])
        .unwrap();
        assert_eq!(
            f.to_strings(),
            ["service_token.expiring", "service_account.deleted"]
        );
    }

    #[test]
    fn the_filter_matches() {
        let f = EventFilter::parse(&["service_token.revoked"]).unwrap();
        assert!(f.matches(EventType::ServiceTokenRevoked));
        assert!(!f.matches(EventType::ServiceTokenExpired));
        assert!(f.matches(EventType::Ping));
        for t in EventType::ALL {
            assert!(EventFilter::All.matches(t));
        }
    }

    #[test]
    fn the_filter_is_a_json_list() {
        let f: EventFilter = serde_json::from_str(r#"["ping","service_token.expired"]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"["service_token.expired","ping"]"#
        );
        assert_eq!(
            serde_json::to_string(&EventFilter::All).unwrap(),
            r#"["*"]"#
        );
        let err = serde_json::from_str::<EventFilter>("[]").unwrap_err();
        assert!(err.to_string().contains("at least one event type"), "{err}");
    }

    #[test]
    fn the_envelope_takes_its_type_from_its_data() {
        let event = Event::new(
            Uuid::now_v7(),
            Uuid::now_v7(),
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            &TokenExpired {
                service_account: ServiceAccountRef {
                    id: Uuid::nil(),
                    name: "deployer".into(),
                },
                token: TokenRef {
                    id: Uuid::nil(),
                    name: "ci".into(),
                    hint: "a1B2".into(),
                    expires_at: DateTime::from_timestamp(1_700_000_000, 0),
                },
            },
        )
        .unwrap();
        assert_eq!(event.event_type, EventType::ServiceTokenExpired);
        let json: serde_json::Value = serde_json::from_slice(&event.body().unwrap()).unwrap();
        assert_eq!(json["type"], "service_token.expired");
        assert_eq!(json["occurred_at"], "2023-11-14T22:13:20Z");
        assert_eq!(json["data"]["token"]["hint"], "a1B2");
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["data", "id", "occurred_at", "organization_id", "type"]
        );
        assert_eq!(event.body().unwrap(), event.body().unwrap());
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
