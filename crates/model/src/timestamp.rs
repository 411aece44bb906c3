//! Discord's timestamp format: `2026-01-02T03:04:05.123456+00:00`.
//! Always six fraction digits and `+00:00`, never `Z`: discord.py parses
//! with `datetime.fromisoformat`, which rejects `Z` on older Pythons.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats unix milliseconds as Discord does.
pub fn iso8601(unix_ms: u64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // Written digit by digit: every message carries one or two of these.
    let mut out = String::with_capacity(32);
    let mut push = |value: u32, width: usize, after: char| {
        let digits = [1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
        for d in &digits[digits.len() - width..] {
            out.push(char::from(b'0' + (value / d % 10) as u8));
        }
        out.push(after);
    };
    push(t.year().max(0) as u32, 4, '-');
    push(u32::from(u8::from(t.month())), 2, '-');
    push(u32::from(t.day()), 2, 'T');
    push(u32::from(t.hour()), 2, ':');
    push(u32::from(t.minute()), 2, ':');
    push(u32::from(t.second()), 2, '.');
    push(t.microsecond(), 6, '+');
    out.push_str("00:00");
    out
}

/// Parses an RFC 3339 timestamp into unix milliseconds.
pub fn parse_iso8601(s: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_and_offset() {
        assert_eq!(
            iso8601(1_462_015_105_796),
            "2016-04-30T11:18:25.796000+00:00"
        );
        assert_eq!(
            parse_iso8601("2016-04-30T11:18:25.796000+00:00"),
            Some(1_462_015_105_796)
        );
        assert_eq!(
            parse_iso8601("2016-04-30T11:18:25.796Z"),
            Some(1_462_015_105_796)
        );
        assert_eq!(parse_iso8601("yesterday"), None);
    }
}
