//! Warnings to syslog (facility mail), beside stderr: cron and sudo send our stderr to
//! places nobody reads, so "a key expires next week" must also reach the mail log.
//!
//! Owns: one RFC 3164 datagram per message to `/dev/log`. Best effort by design: no
//! syslog daemon, or a full socket, never changes what pgpsendmail does with the mail.
//! The text passes through [`crate::diag::sanitize`] first: it may name an address.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// The local syslog socket.
pub const DEV_LOG: &str = "/dev/log";

/// facility mail (2) * 8 + severity warning (4)
const MAIL_WARNING: u8 = 2 * 8 + 4;

/// Sends one warning to `socket`; errors are returned for tests, ignored by [`warn`].
pub fn send_to(socket: &Path, text: &str) -> io::Result<()> {
    let line = format!(
        "<{MAIL_WARNING}>pgpsendmail[{}]: {}",
        std::process::id(),
        crate::diag::sanitize(text)
    );
    UnixDatagram::unbound()?.send_to(line.as_bytes(), socket)?;
    Ok(())
}

/// Logs a warning to the system log, if there is one.
pub fn warn(text: &str) {
    let _ = send_to(Path::new(DEV_LOG), text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_datagram_with_mail_facility_and_sanitized_text() {
        let dir = std::env::temp_dir().join(format!("pgpsendmail-syslog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("log");
        let _ = std::fs::remove_file(&sock);
        let rx = UnixDatagram::bind(&sock).unwrap();
        send_to(&sock, "key for a@x expires\non 2026-12-01").unwrap();
        let mut buf = [0u8; 512];
        let n = rx.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(got.starts_with("<20>pgpsendmail["), "{got}");
        assert!(
            got.ends_with("]: key for a@x expires\\x0aon 2026-12-01"),
            "{got}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(send_to(&dir.join("missing"), "x").is_err());
    }
}
