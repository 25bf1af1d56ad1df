//! Diagnostics: making untrusted text safe to print, dates readable in it, and bytes as
//! hexadecimal ([`hex_upper`], [`hex_lower`]).
//!
//! Owns: [`sanitize`], applied to every address, header name or file name that came from
//! outside before it is placed in an error or warning. Escapes control characters and
//! non-ASCII bytes and cuts long values, so stderr and syslog lines stay one line and
//! cannot carry forged log entries or terminal escape sequences.

/// Writes one line `pgpsendmail: <text>` to stderr. A stderr that cannot be written (a
/// closed pipe) is ignored: a diagnostic must never turn into a failure of its own, and
/// `eprintln!` would panic there.
pub fn say(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let line = format!("pgpsendmail: {text}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Longest piece of untrusted text put into one message.
const MAX_SHOWN: usize = 200;

/// Returns `s` with control characters, backslashes and quotes escaped, cut to a bounded
/// length (marked with `...`).
pub fn sanitize(s: &str) -> String {
    sanitize_to(s, MAX_SHOWN)
}

/// [`sanitize`], cut at `max` characters instead: for a whole line assembled from pieces
/// that were sanitized each (a syslog line).
pub fn sanitize_to(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max) + 8);
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push_str("...");
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// [`sanitize`] for raw bytes that may not be UTF-8.
pub fn sanitize_bytes(b: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(b))
}

/// `YYYY-MM-DD` (UTC) for a Unix time, without a date crate.
pub fn format_date(t: u64) -> String {
    let days = (t / 86_400) as i64;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// `bytes` in hexadecimal, upper case (fingerprints and key IDs as users read them).
pub fn hex_upper(bytes: &[u8]) -> String {
    hex(bytes, b"0123456789ABCDEF")
}

/// `bytes` in hexadecimal, lower case (file names).
pub fn hex_lower(bytes: &[u8]) -> String {
    hex(bytes, b"0123456789abcdef")
}

/// Two digits of `digits` per byte, without a formatter per byte: key lookup formats
/// every fingerprint it meets.
fn hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_in_both_cases() {
        assert_eq!(hex_upper(&[0x00, 0x9f, 0xa0, 0xff]), "009FA0FF");
        assert_eq!(hex_lower(&[0x00, 0x9f, 0xa0, 0xff]), "009fa0ff");
        assert_eq!(hex_upper(&[]), "");
    }

    #[test]
    fn dates() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(1_795_000_000), "2026-11-18");
        assert_eq!(format_date(951_782_400), "2000-02-29");
    }

    #[test]
    fn escapes_controls_and_bounds_length() {
        assert_eq!(sanitize("a\nb\x1b[31m"), "a\\x0ab\\x1b[31m");
        assert_eq!(sanitize(&"x".repeat(500)).len(), MAX_SHOWN + 3);
        assert_eq!(sanitize_bytes(b"r\xffx"), "r\u{fffd}x");
    }
}
