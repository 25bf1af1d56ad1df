//! The mail log: one line per message to syslog (facility mail), Postfix-style, beside
//! stderr: cron, sudo and at send our stderr to places nobody reads, so every hand-off and
//! every refusal must also reach `/var/log/mail.log` (pgpsendmail(8), LOGGING).
//!
//! Owns: one RFC 3164 datagram per line to `/dev/log` (or the socket named by
//! `PGPSENDMAIL_SYSLOG_SOCKET`, for tests), at `info` (a message handed on), `warning` (a
//! key expiring soon) or `err` (a refusal or failure). Best effort by design: no syslog
//! daemon, or a full socket, never changes what pgpsendmail does with the mail. Untrusted
//! pieces (addresses, the Message-ID) are sanitized each, and the line's control
//! characters escaped, so it stays one line. It never holds
//! the Subject or anything of the body: callers pass envelope data, counts, key
//! fingerprints and refusal reasons only.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use crate::diag::sanitize;

/// The local syslog socket.
pub const DEV_LOG: &str = "/dev/log";

/// Syslog severities used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Err = 3,
    Warning = 4,
    Info = 6,
}

/// facility mail (2)
const MAIL: u8 = 2 * 8;

/// Where the lines go: `PGPSENDMAIL_SYSLOG_SOCKET`, else `/dev/log`.
fn socket() -> PathBuf {
    std::env::var_os("PGPSENDMAIL_SYSLOG_SOCKET")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEV_LOG), PathBuf::from)
}

/// Longest line sent, in characters: rsyslog and journald take 8 KiB by default.
const MAX_LINE: usize = 7 * 1024;

/// Sends one line to `socket`; errors are returned for tests, ignored by [`log`]. Control
/// characters are escaped; untrusted pieces must have been sanitized (and so bounded) each.
pub fn send_to(socket: &Path, level: Level, text: &str) -> io::Result<()> {
    let line = format!(
        "<{}>pgpsendmail[{}]: {}",
        MAIL + level as u8,
        std::process::id(),
        crate::diag::sanitize_to(text, MAX_LINE)
    );
    UnixDatagram::unbound()?.send_to(line.as_bytes(), socket)?;
    Ok(())
}

/// Logs one line to the system log, if there is one.
pub fn log(level: Level, text: &str) {
    let _ = send_to(&socket(), level, text);
}

/// Logs a warning to the system log, if there is one.
pub fn warn(text: &str) {
    log(Level::Warning, text);
}

/// What the mail log says about one message: envelope data, counts and key fingerprints,
/// never a header other than Message-ID and nothing of the body.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The Message-ID field as given (or as synthesized), `<...>`; empty when unknown.
    pub message_id: String,
    /// The envelope sender (`-f`), or the caller's login name.
    pub sender: String,
    /// Envelope recipients.
    pub recipients: usize,
    /// Primary fingerprints of the certificates encrypted to.
    pub keys: Vec<String>,
    /// Bytes of input read.
    pub size: u64,
}

impl Entry {
    fn head(&self) -> String {
        let id = if self.message_id.is_empty() {
            "none".to_string()
        } else {
            sanitize(&self.message_id)
        };
        format!(
            "message-id={id}, from=<{}>, nrcpt={}, size={}",
            sanitize(&self.sender),
            self.recipients,
            self.size
        )
    }

    /// A message handed on: `copies` copies, and what became of them.
    pub fn handed_on(&self, copies: usize, status: &str) {
        log(
            Level::Info,
            &format!(
                "{}, copies={copies}, keys={}, status={status}",
                self.head(),
                if self.keys.is_empty() {
                    "none".to_string()
                } else {
                    self.keys.join(",")
                }
            ),
        );
    }

    /// Some or all copies were not handed on after all: `status` says which.
    pub fn failed(&self, copies: usize, status: &str) {
        log(
            Level::Err,
            &format!("{}, copies={copies}, status={status}", self.head()),
        );
    }

    /// Something about a message that is handed on all the same (`text` names no content).
    pub fn warning(&self, text: &str) {
        log(Level::Warning, &format!("{}, {text}", self.head()));
    }

    /// More refused recipients of a message whose refusal names only the first few.
    pub fn refused_too(&self, reasons: &str) {
        log(
            Level::Err,
            &format!("{}, refused too: {reasons}", self.head()),
        );
    }

    /// Nothing was sent: the exit code and the one-line reason (it names each refused
    /// recipient and why).
    pub fn refused(&self, code: i32, reason: &str) {
        log(
            Level::Err,
            &format!("{}, status=refused (exit {code}): {reason}", self.head()),
        );
    }
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
        send_to(&sock, Level::Warning, "key for a@x expires\non 2026-12-01").unwrap();
        let mut buf = [0u8; 512];
        let n = rx.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(got.starts_with("<20>pgpsendmail["), "{got}");
        assert!(
            got.ends_with("]: key for a@x expires\\x0aon 2026-12-01"),
            "{got}"
        );
        send_to(&sock, Level::Info, "i").unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"<22>"));
        send_to(&sock, Level::Err, "e").unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"<19>"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(send_to(&dir.join("missing"), Level::Info, "x").is_err());
    }
}
