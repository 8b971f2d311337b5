//! Durations on the command line (`30d`, `1h`, `90s`) and the instants
//! they name.
use chrono::{DateTime, Duration, Utc};

/// `N` followed by `s`, `m`, `h`, `d` or `w`; a clap value parser, so a
/// bad one is a usage error.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or("needs a unit: s, m, h, d or w (as in 30d)")?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| "must start with a number (as in 30d)".to_string())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err("the unit must be s, m, h, d or w (as in 30d)".into()),
    };
    n.checked_mul(seconds)
        .filter(|s| *s <= 10_000 * 365 * 86_400)
        .map(Duration::seconds)
        .ok_or_else(|| "is too long".into())
}

/// An RFC 3339 instant; a clap value parser.
pub fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| "must be an RFC 3339 time such as 2030-01-31T12:00:00Z".into())
}

/// `--since`: a duration back from now, or an instant.
pub fn since(text: &str) -> Result<DateTime<Utc>, String> {
    match duration(text) {
        Ok(d) => Ok(Utc::now() - d),
        Err(_) => instant(text)
            .map_err(|_| "must be a duration such as 1h or an RFC 3339 time".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30d").unwrap(), Duration::days(30));
        assert_eq!(duration("1h").unwrap(), Duration::hours(1));
        assert_eq!(duration("90s").unwrap(), Duration::seconds(90));
        assert!(duration("30").is_err());
        assert!(duration("d").is_err());
        assert!(duration("3y").is_err());
        assert!(duration("99999999999999w").is_err());
        assert!(since("2030-01-01T00:00:00Z").is_ok());
        assert!(since("yesterday").is_err());
    }
}
