//! Organization settings and the token-lifetime policy.
use chrono::{DateTime, Duration, Utc};

use crate::values::add_clamped;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrganizationSettings {
    pub max_token_lifetime_days: Option<u32>,
    pub service_token_rate_limit_per_minute: u32,
}

impl Default for OrganizationSettings {
    fn default() -> Self {
        OrganizationSettings {
            max_token_lifetime_days: None,
            service_token_rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
        }
    }
}

/// A `PATCH` of the settings: only the fields present change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "crate::validate::double_option_int")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650)]
    pub max_token_lifetime_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::validate::opt_int")]
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub service_token_rate_limit_per_minute: Option<i64>,
}

impl OrganizationSettings {
    pub fn merge(mut self, patch: &SettingsPatch) -> Result<Self> {
        if let Some(days) = patch.max_token_lifetime_days {
            self.max_token_lifetime_days = match days {
                None => None,
                Some(d) if (1..=3650).contains(&d) => Some(d as u32),
                Some(_) => {
                    return Err(Error::validation(
                        "settings.max_token_lifetime_days",
                        "max_token_lifetime_days must be null or between 1 and 3650",
                    ))
                }
            };
        }
        if let Some(rate) = patch.service_token_rate_limit_per_minute {
            if !(1..=10_000_000).contains(&rate) {
                return Err(Error::validation(
                    "settings.service_token_rate_limit_per_minute",
                    "service_token_rate_limit_per_minute must be between 1 and 10000000",
                ));
            }
            self.service_token_rate_limit_per_minute = rate as u32;
        }
        Ok(self)
    }

    /// Checks a requested expiry of a service token against the policy.
    pub fn check_service_token_expiry(
        &self,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        if let Some(at) = expires_at {
            if at <= now {
                return Err(Error::validation(
                    "expires_at",
                    "expires_at must be in the future",
                ));
            }
        }
        if let Some(days) = self.max_token_lifetime_days {
            let limit = add_clamped(now, Duration::days(i64::from(days)));
            match expires_at {
                None => {
                    return Err(Error::validation_code(
                        "expiry_required",
                        "expires_at",
                        format!(
                        "this organization requires service tokens to expire within {days} days"
                    ),
                    ))
                }
                Some(at) if at > limit => {
                    return Err(Error::validation_code(
                        "expiry_too_long",
                        "expires_at",
                        format!("service tokens of this organization may live at most {days} days"),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The expiry of a rotated token: the old lifetime counted from now,
    /// clamped to the organization's limit; no expiry stays none unless a
    /// limit is set.
    pub fn rotated_expiry(
        &self,
        now: DateTime<Utc>,
        old_created_at: DateTime<Utc>,
        old_expires_at: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        // Stored times may predate the request range (a far-future expiry
        // written before it was enforced): clamp rather than overflow.
        let kept = old_expires_at.map(|exp| {
            let lifetime = exp
                .signed_duration_since(old_created_at)
                .max(Duration::seconds(1));
            add_clamped(now, lifetime)
        });
        let limit = self
            .max_token_lifetime_days
            .map(|d| add_clamped(now, Duration::days(i64::from(d))));
        match (kept, limit) {
            (Some(k), Some(l)) => Some(k.min(l)),
            (Some(k), None) => Some(k),
            (None, l) => l,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rules() {
        let now = Utc::now();
        let open = OrganizationSettings::default();
        assert!(open.check_service_token_expiry(now, None).is_ok());
        assert!(open
            .check_service_token_expiry(now, Some(now - Duration::seconds(1)))
            .is_err());
        let strict = OrganizationSettings {
            max_token_lifetime_days: Some(30),
            ..open
        };
        let code = |r: Result<()>| match r {
            Err(Error::Validation { code, .. }) => code,
            _ => "ok",
        };
        assert_eq!(
            code(strict.check_service_token_expiry(now, None)),
            "expiry_required"
        );
        assert_eq!(
            code(strict.check_service_token_expiry(now, Some(now + Duration::days(31)))),
            "expiry_too_long"
        );
        assert_eq!(
            code(strict.check_service_token_expiry(now, Some(now + Duration::days(30)))),
            "ok"
        );
    }

    #[test]
    fn rotation_keeps_lifetime_clamped() {
        let now = Utc::now();
        let created = now - Duration::days(10);
        let open = OrganizationSettings::default();
        assert_eq!(open.rotated_expiry(now, created, None), None);
        assert_eq!(
            open.rotated_expiry(now, created, Some(created + Duration::days(20))),
            Some(now + Duration::days(20))
        );
        let strict = OrganizationSettings {
            max_token_lifetime_days: Some(7),
            ..open
        };
        assert_eq!(
            strict.rotated_expiry(now, created, None),
            Some(now + Duration::days(7))
        );
        assert_eq!(
            strict.rotated_expiry(now, created, Some(created + Duration::days(20))),
            Some(now + Duration::days(7))
        );
    }

    #[test]
    fn merge_validates() {
        let s = OrganizationSettings::default();
        let p: SettingsPatch =
            serde_json::from_str(r#"{"max_token_lifetime_days": 0}"#).unwrap_or_default();
        assert!(s.merge(&p).is_err());
        let p: SettingsPatch =
            serde_json::from_str(r#"{"max_token_lifetime_days": 90}"#).unwrap_or_default();
        assert_eq!(
            s.merge(&p).ok().and_then(|s| s.max_token_lifetime_days),
            Some(90)
        );
        let p: SettingsPatch =
            serde_json::from_str(r#"{"max_token_lifetime_days": null}"#).unwrap_or_default();
        assert_eq!(p.max_token_lifetime_days, Some(None));
        let p: SettingsPatch = serde_json::from_str(r#"{}"#).unwrap_or_default();
        assert_eq!(p.max_token_lifetime_days, None);
    }
}
