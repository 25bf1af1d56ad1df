//! Diagnostics: making untrusted text safe to print.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bounds_length() {
        assert_eq!(sanitize("a\nb\x1b[31m"), "a\\x0ab\\x1b[31m");
        assert_eq!(sanitize(&"x".repeat(500)).len(), MAX_SHOWN + 3);
        assert_eq!(sanitize_bytes(b"r\xffx"), "r\u{fffd}x");
    }
}
