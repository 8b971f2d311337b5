//! Values read from requests whose range the domain bounds. A timestamp in
//! a request lies between the years 1970 and 9999, so no arithmetic on it
//! (a lifetime kept through rotation, a grace period) can leave chrono's
//! range; anything else is refused at the edge, naming the field.
mod text;
pub use text::{Description, DisplayName, Email, ImageRef, Name, ShortText, RULE_MESSAGES};

use std::fmt;

use chrono::{DateTime, Datelike, Duration, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An RFC 3339 instant between 1970-01-01T00:00:00Z and
/// 9999-12-31T23:59:59.999999999Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// What a request is told when a timestamp is not acceptable; the
    /// extractor recognizes it and lets it through (it holds no value).
    pub const EXPECTED: &'static str = "must be an RFC 3339 time between the years 1970 and 9999";

    /// The latest acceptable instant.
    pub fn max() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            + Duration::nanoseconds(999_999_999)
    }

    /// `Some` when `t` lies in the accepted range.
    pub fn new(t: DateTime<Utc>) -> Option<Self> {
        (1970..=9999).contains(&t.year()).then_some(Timestamp(t))
    }

    /// Parses RFC 3339 text within the accepted range.
    pub fn parse(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .and_then(|t| Timestamp::new(t.with_timezone(&Utc)))
    }

    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

/// `t + d`, clamped to the accepted range instead of overflowing.
pub fn add_clamped(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d)
        .map_or_else(Timestamp::max, |r| r.min(Timestamp::max()))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).ok_or_else(|| E::custom(Timestamp::EXPECTED))
            }
        }
        de.deserialize_str(V)
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .description(Some(
                "RFC 3339, between the years 1970 and 9999 (UTC offsets accepted).",
            ))
            // The year range, for generators and validators that read the
            // schema: a date-time whose year is 1970 to 9999.
            .pattern(Some("^(19[7-9][0-9]|[2-9][0-9]{3})-"))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_1970_to_9999() {
        assert!(Timestamp::parse("1970-01-01T00:00:00Z").is_some());
        assert!(Timestamp::parse("9999-12-31T23:59:59Z").is_some());
        assert!(Timestamp::parse("9999-12-31T23:59:59.999999999Z").is_some());
        assert!(Timestamp::parse("1969-12-31T23:59:59Z").is_none());
        assert!(Timestamp::parse("+262142-12-31T23:59:59Z").is_none());
        assert!(Timestamp::parse("10000-01-01T00:00:00Z").is_none());
        assert!(Timestamp::parse("2030-01-01").is_none());
        // An offset that carries a time over the edge in UTC.
        assert!(Timestamp::parse("9999-12-31T23:00:00-02:00").is_none());
    }

    #[test]
    fn deserializing_refuses_out_of_range_without_the_value() {
        let e = serde_json::from_str::<Timestamp>("\"+262142-12-31T23:59:59Z\"").unwrap_err();
        assert!(e.to_string().starts_with(Timestamp::EXPECTED));
        assert!(!e.to_string().contains("262142"));
    }

    #[test]
    fn adding_clamps_instead_of_overflowing() {
        let t = Timestamp::max();
        assert_eq!(add_clamped(t, Duration::days(365)), Timestamp::max());
        assert_eq!(
            add_clamped(DateTime::<Utc>::MAX_UTC, Duration::seconds(1)),
            Timestamp::max()
        );
        let now = Utc::now();
        assert_eq!(
            add_clamped(now, Duration::seconds(5)),
            now + Duration::seconds(5)
        );
    }
}
