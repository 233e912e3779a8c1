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

/// A time as written into event JSON: RFC 3339 text, or epoch milliseconds for times past
/// the years ±9999 that RFC 3339 cannot write, so that [`parse_time`] reads back the same
/// time (a text fallback such as `"351844674407330"` would not parse).
pub fn time_value(ms: Millis) -> Value {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => Value::String(format!("{ts:.3}")),
        Err(_) => Value::from(ms),
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

    /// Found by fuzzing (fuzz/artifacts/event_parser/crash-0415cec6…): an event time in
    /// year 13119 (epoch milliseconds) was written back as the text "351844674407330",
    /// which no longer read as a time, so the stored JSON did not read back.
    #[test]
    fn every_written_time_reads_back() {
        for ms in [0, 1_709_287_200_123, -1, 351_844_674_407_330, -(1 << 49)] {
            assert_eq!(parse_time(&time_value(ms)), Some(ms), "{ms}");
        }
        assert_eq!(time_value(0), Value::from("1970-01-01T00:00:00.000Z"));
    }
}
