//! Event time as milliseconds since the Unix epoch (UTC).

use serde_json::Value;

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// One day in milliseconds.
pub const DAY: Millis = 86_400_000;

/// Reads an ISO-8601 / RFC 3339 string (or a number of epoch milliseconds) as a time.
pub fn parse_time(value: &Value) -> Option<Millis> {
    match value {
        Value::String(text) => parse_time_str(text),
        Value::Number(n) => n.as_i64().filter(|ms| ms.unsigned_abs() < 1 << 50),
        _ => None,
    }
}

/// Reads an RFC 3339 string, also accepting a date-time without offset as UTC.
pub fn parse_time_str(text: &str) -> Option<Millis> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond());
    }
    let civil = text.parse::<jiff::civil::DateTime>().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// Formats a time as RFC 3339 with milliseconds, e.g. `2024-03-01T10:00:00.000Z`.
pub fn format_time(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => ms.to_string(),
    }
}

/// The current wall-clock time.
pub fn now() -> Millis {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        let ms = parse_time_str("2024-03-01T10:00:00.123+01:00").unwrap();
        assert_eq!(format_time(ms), "2024-03-01T09:00:00.123Z");
        assert_eq!(parse_time_str("2024-03-01T09:00:00.123"), Some(ms));
        assert_eq!(parse_time(&Value::from(ms)), Some(ms));
        assert_eq!(parse_time_str("not a time"), None);
    }
}
