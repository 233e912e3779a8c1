//! The fixed calendar journeys are spread over, and fast formatting of event times.
//!
//! Generated data never depends on the wall clock: every journey happens in 2025.

use crate::model::Millis;
use crate::model::time::DAY;

/// 2025-01-01T00:00:00Z, the first instant a journey may start.
pub const YEAR_START: Millis = 1_735_689_600_000;
/// Number of days journeys are spread over.
pub const YEAR_DAYS: i64 = 365;
/// 2026-01-01T00:00:00Z: no generated event happens at or after this instant.
pub const YEAR_END: Millis = YEAR_START + YEAR_DAYS * DAY;

/// Writes `ms` (years 0 to 9999) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
///
/// The same text as [`crate::model::time::format_time`], without going through a calendar
/// library (it is written three times per generated event).
pub(crate) fn format_into(ms: Millis, out: &mut [u8; 24]) {
    let days = ms.div_euclid(DAY);
    let in_day = ms.rem_euclid(DAY) as u32;
    let (year, month, day) = civil_from_days(days);
    let year = year.clamp(0, 9999) as u32;
    put2(out, 0, year / 100);
    put2(out, 2, year % 100);
    out[4] = b'-';
    put2(out, 5, month as u32);
    out[7] = b'-';
    put2(out, 8, day as u32);
    out[10] = b'T';
    put2(out, 11, in_day / 3_600_000);
    out[13] = b':';
    put2(out, 14, in_day / 60_000 % 60);
    out[16] = b':';
    put2(out, 17, in_day / 1000 % 60);
    out[19] = b'.';
    let milli = in_day % 1000;
    out[20] = b'0' + (milli / 100) as u8;
    put2(out, 21, milli % 100);
    out[23] = b'Z';
}

/// Writes `value` (below 100) as two digits at `at`.
fn put2(out: &mut [u8; 24], at: usize, value: u32) {
    out[at] = b'0' + (value / 10) as u8;
    out[at + 1] = b'0' + (value % 10) as u8;
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::format_time;
    use proptest::prelude::*;

    fn text(ms: Millis) -> String {
        let mut buf = [0u8; 24];
        format_into(ms, &mut buf);
        String::from_utf8(buf.to_vec()).unwrap()
    }

    #[test]
    fn year_bounds_are_2025() {
        assert_eq!(text(YEAR_START), "2025-01-01T00:00:00.000Z");
        assert_eq!(text(YEAR_END - 1), "2025-12-31T23:59:59.999Z");
    }

    proptest! {
        #[test]
        fn matches_the_model_formatter(ms in 0i64..253_402_300_799_999) {
            prop_assert_eq!(text(ms), format_time(ms));
        }
    }
}
