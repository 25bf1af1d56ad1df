//! The MIME around the ciphertext: the RFC 3156 envelope outside, the RFC 9788 protected
//! payload inside (docs/message.md, rules 1-6 and 10-16).
//!
//! Owns: which header fields stay outside, which only inside, the `HP-Outer` records, the
//! synthesized From/Date/Message-ID, the child entity's headers (the original Content-*
//! fields, or a synthesized text/plain), and the header of a copy handed on as it is (input
//! that is already encrypted is recognized in `protected.rs`).
//!
//! Everything here works on the header section in memory; the body never passes through
//! this module (it is streamed between [`Payload::prefix`] and [`Payload::suffix`]).

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

use crate::message::address;
use crate::message::{BodyStats, Field, Head};

/// Fields that stay in the outer header section (rule 11), besides `List-*`.
const OUTER: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "Precedence",
];

/// Fields that carry addresses and so can be rebuilt in ASCII from their addr-specs.
const ADDRESS_FIELDS: &[&str] = &["From", "Sender", "Reply-To", "To", "Cc"];

fn is_outer(name: &str) -> bool {
    OUTER.iter().any(|o| o.eq_ignore_ascii_case(name))
        || name.len() > 5 && name[..5].eq_ignore_ascii_case("List-")
}

/// Never copied anywhere: Bcc, and trace fields (rule 3).
fn is_dropped(name: &str) -> bool {
    [
        "Bcc",
        "Resent-Bcc",
        "Received",
        "Return-Path",
        "DKIM-Signature",
    ]
    .iter()
    .any(|d| d.eq_ignore_ascii_case(name))
        || name.len() > 4 && name[..4].eq_ignore_ascii_case("ARC-")
}

/// Structural fields: they describe the body and move to the child entity.
fn is_content(name: &str) -> bool {
    name.eq_ignore_ascii_case("MIME-Version")
        || name.len() > 8 && name[..8].eq_ignore_ascii_case("Content-")
}

/// A random token of `n` characters from `[0-9A-Za-z]`.
pub fn random_token(n: usize) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// RFC 5322 date in UTC, for a synthesized Date field.
pub fn rfc5322_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ymd = crate::diag::format_date(s);
    let (y, m, d) = (&ymd[0..4], &ymd[5..7], &ymd[8..10]);
    let m: usize = m.parse().unwrap_or(1);
    let d: u32 = d.parse().unwrap_or(1);
    let dow = DAYS[((s / 86_400) % 7) as usize];
    let rem = s % 86_400;
    format!(
        "{dow}, {d} {} {y} {:02}:{:02}:{:02} +0000",
        MONTHS[m.saturating_sub(1).min(11)],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Values used when From, Date or Message-ID is missing (rule 5).
#[derive(Debug, Clone)]
pub struct Synth {
    /// The address for a synthesized From (the -f sender, else the login name).
    pub from_addr: String,
    /// The -F full name, if any.
    pub full_name: Option<String>,
    /// Right-hand side of a synthesized Message-ID.
    pub host: String,
    pub now: SystemTime,
}

/// How the original body is described inside the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    /// The input's own Content-* fields (it is a MIME message).
    Mime(Vec<Field>),
    /// No Content-Type: a synthesized text/plain, with the transfer encoding chosen.
    Text {
        charset: &'static str,
        encoding: TransferEncoding,
        /// The input's own Content-Transfer-Encoding, kept when the body is already encoded.
        original_cte: Option<Field>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    SevenBit,
    EightBit,
    /// The body is re-encoded as base64 (NUL bytes or lines over 998 octets).
    Base64,
}

impl Child {
    /// Describes the child for `head`; `stats` is needed only when there is no Content-Type.
    pub fn for_head(head: &Head, stats: Option<BodyStats>) -> Child {
        if head.has("Content-Type") {
            return Child::Mime(
                head.fields
                    .iter()
                    .filter(|f| is_content(&f.name) && !f.is("MIME-Version"))
                    .cloned()
                    .collect(),
            );
        }
        let stats = stats.unwrap_or(BodyStats {
            has_nul: false,
            long_line: false,
            ascii: true,
            utf8: true,
        });
        let charset = if stats.ascii {
            "us-ascii"
        } else if stats.utf8 {
            "utf-8"
        } else {
            "unknown-8bit"
        };
        let original_cte = head.get("Content-Transfer-Encoding").cloned().filter(|f| {
            let v = String::from_utf8_lossy(&f.unfolded()).to_ascii_lowercase();
            v == "base64" || v == "quoted-printable"
        });
        let encoding = if original_cte.is_some() {
            TransferEncoding::SevenBit
        } else if stats.has_nul || stats.long_line {
            TransferEncoding::Base64
        } else if stats.ascii {
            TransferEncoding::SevenBit
        } else {
            TransferEncoding::EightBit
        };
        Child::Text {
            charset,
            encoding,
            original_cte,
        }
    }

    /// True when the body must be base64-encoded on its way into the payload.
    pub fn needs_base64(&self) -> bool {
        matches!(
            self,
            Child::Text {
                encoding: TransferEncoding::Base64,
                ..
            }
        )
    }
}

/// True when the head alone decides that the message needs its body scanned first.
pub fn needs_scan(head: &Head) -> bool {
    !head.has("Content-Type")
}

/// The assembled header material for one message.
#[derive(Debug, Clone)]
pub struct Payload {
    /// Outer header section, MIME preamble and part headers, up to the armor (LF).
    pub outer_prefix: Vec<u8>,
    /// After the armor (LF).
    pub outer_suffix: Vec<u8>,
    /// Payload root header, child header, empty line (CRLF).
    pub prefix: Vec<u8>,
    /// After the body (CRLF).
    pub suffix: Vec<u8>,
}

/// The outer form of a field: as given when it is ASCII; for address fields with 8-bit
/// text, rebuilt from the bare addresses; otherwise `None` (it stays inside only).
fn outer_value(f: &Field) -> Option<Vec<u8>> {
    if f.value.is_ascii() {
        return Some(f.value.clone());
    }
    if ADDRESS_FIELDS.iter().any(|n| f.is(n)) {
        let list = address::parse_list(&f.value).ok()?;
        let joined = list
            .iter()
            .map(|a| a.as_str().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if joined.is_ascii() && !joined.is_empty() {
            return Some(format!(" {joined}").into_bytes());
        }
    }
    None
}

impl Payload {
    /// Builds the header material. `head` is the input's header section; `subject` the
    /// outer placeholder.
    pub fn build(head: &Head, child: &Child, subject: &str, synth: &Synth) -> Payload {
        let inner_boundary = random_token(32);
        let outer_boundary = random_token(32);
        let fields = with_synthesized(head, synth);

        // Inner header section (rules 1, 3, 4, 6).
        let mut prefix = Vec::new();
        prefix.extend_from_slice(
            format!(
                "Content-Type: multipart/mixed; boundary=\"{inner_boundary}\";\r\n \
                 protected-headers=\"v1\"; hp=\"cipher\"\r\n"
            )
            .as_bytes(),
        );
        let outer_fields = protected_fields(&fields, subject, &mut prefix);
        prefix.extend_from_slice(b"\r\n");
        prefix.extend_from_slice(format!("--{inner_boundary}\r\n").as_bytes());
        child_header(child, &mut prefix);
        prefix.extend_from_slice(b"\r\n");
        let suffix = format!("\r\n--{inner_boundary}--\r\n").into_bytes();

        let (outer_prefix, outer_suffix) = outer_message(&outer_fields, &outer_boundary);
        Payload {
            outer_prefix,
            outer_suffix,
            prefix,
            suffix,
        }
    }
}

/// Rule 5: the input's fields with what is missing (From, Date, Message-ID) synthesized,
/// once, for both sides.
fn with_synthesized(head: &Head, synth: &Synth) -> Vec<Field> {
    let mut fields: Vec<Field> = head.fields.clone();
    if !head.has("From") {
        let v = match &synth.full_name {
            Some(n) if !n.is_empty() => {
                format!(" {} <{}>", quote_phrase(n), synth.from_addr)
            }
            _ => format!(" {}", synth.from_addr),
        };
        fields.push(Field {
            name: "From".into(),
            value: v.into_bytes(),
        });
    }
    if !head.has("Date") {
        fields.push(Field {
            name: "Date".into(),
            value: format!(" {}", rfc5322_date(synth.now)).into_bytes(),
        });
    }
    if !head.has("Message-ID") {
        fields.push(Field {
            name: "Message-ID".into(),
            value: format!(" <{}@{}>", random_token(24), synth.host).into_bytes(),
        });
    }
    fields
}

/// Writes the protected fields to the inner header section `prefix`, then an `HP-Outer`
/// copy of each field that is shown outside; returns those outer fields (the Subject is
/// `subject`).
fn protected_fields(fields: &[Field], subject: &str, prefix: &mut Vec<u8>) -> Vec<Field> {
    let mut outer_fields: Vec<Field> = Vec::new();
    for f in fields {
        if is_dropped(&f.name) || is_content(&f.name) {
            continue;
        }
        f.write_to(prefix, b"\r\n");
        if is_outer(&f.name)
            && let Some(v) = outer_value(f)
        {
            outer_fields.push(Field {
                name: f.name.clone(),
                value: v,
            });
        }
    }
    outer_fields.push(Field {
        name: "Subject".into(),
        value: format!(" {subject}").into_bytes(),
    });
    for f in &outer_fields {
        prefix.extend_from_slice(b"HP-Outer: ");
        f.write_to(prefix, b"\r\n");
    }
    outer_fields
}

/// The header section of the one child part: the original content fields, or those of a
/// text part.
fn child_header(child: &Child, prefix: &mut Vec<u8>) {
    match child {
        Child::Mime(cf) => {
            for f in cf {
                f.write_to(prefix, b"\r\n");
            }
        }
        Child::Text {
            charset,
            encoding,
            original_cte,
        } => {
            prefix.extend_from_slice(
                format!("Content-Type: text/plain; charset=\"{charset}\"\r\n").as_bytes(),
            );
            match original_cte {
                Some(f) => f.write_to(prefix, b"\r\n"),
                None => {
                    let cte = match encoding {
                        TransferEncoding::SevenBit => "7bit",
                        TransferEncoding::EightBit => "8bit",
                        TransferEncoding::Base64 => "base64",
                    };
                    prefix.extend_from_slice(
                        format!("Content-Transfer-Encoding: {cte}\r\n").as_bytes(),
                    );
                }
            }
        }
    }
}

/// The outer message (rules 11-15), LF line endings: its header and the MIME parts up to
/// the armored ciphertext, and what follows it.
fn outer_message(outer_fields: &[Field], outer_boundary: &str) -> (Vec<u8>, Vec<u8>) {
    let mut outer = Vec::new();
    for f in outer_fields {
        f.write_to(&mut outer, b"\n");
    }
    outer.extend_from_slice(
        format!(
            "MIME-Version: 1.0\n\
             Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\n \
             boundary=\"{outer_boundary}\"\n\
             \n\
             This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n\
             --{outer_boundary}\n\
             Content-Type: application/pgp-encrypted\n\
             Content-Description: PGP/MIME version identification\n\
             \n\
             Version: 1\n\
             \n\
             --{outer_boundary}\n\
             Content-Type: application/octet-stream; name=\"encrypted.asc\"\n\
             Content-Description: OpenPGP encrypted message\n\
             Content-Disposition: inline; filename=\"encrypted.asc\"\n\
             \n"
        )
        .as_bytes(),
    );
    let outer_suffix = format!("\n--{outer_boundary}--\n").into_bytes();
    (outer, outer_suffix)
}

/// A display name as an RFC 5322 phrase: as is when it is plain atoms, else quoted.
fn quote_phrase(s: &str) -> String {
    let plain = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c));
    if plain && s.is_ascii() {
        s.to_string()
    } else {
        let esc = s.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{esc}\"")
    }
}

/// The header section of a copy handed on without encryption (already-protected input, or
/// a `plaintext` recipient): the input's fields, less Bcc and Resent-Bcc, LF line endings.
pub fn plain_header(head: &Head) -> Vec<u8> {
    let mut out = Vec::new();
    for f in &head.fields {
        if f.is("Bcc") || f.is("Resent-Bcc") {
            continue;
        }
        f.write_to(&mut out, b"\n");
    }
    out.extend_from_slice(b"\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Input;

    fn head(s: &str) -> Head {
        Input::new(s.as_bytes(), true).read_head().unwrap()
    }

    fn synth() -> Synth {
        Synth {
            from_addr: "root".into(),
            full_name: Some("Cron Daemon".into()),
            host: "host.example".into(),
            now: UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000),
        }
    }

    #[test]
    fn outer_keeps_routing_fields_only_and_inner_keeps_all() {
        let h = head(
            "From: a@x\nTo: b@x\nSubject: secret subject\nX-Cron-Env: <PATH=/bin>\n\
             Bcc: hidden@x\nReceived: by x\nContent-Type: text/plain\nList-Id: <l.x>\n\n",
        );
        let p = Payload::build(&h, &Child::for_head(&h, None), "[...]", &synth());
        let outer = String::from_utf8(p.outer_prefix.clone()).unwrap();
        assert!(outer.starts_with("From: a@x\nTo: b@x\n"));
        assert!(outer.contains("Subject: [...]\n"));
        assert!(outer.contains("List-Id: <l.x>\n"));
        assert!(outer.contains("Date: Wed, 18 Nov 2026"), "{outer}");
        for bad in [
            "secret",
            "X-Cron-Env",
            "Bcc",
            "hidden",
            "Received",
            "Content-Transfer",
        ] {
            assert!(!outer.contains(bad), "{bad} outside");
        }
        let inner = String::from_utf8(p.prefix.clone()).unwrap();
        assert!(inner.contains("Subject: secret subject\r\n"));
        assert!(inner.contains("X-Cron-Env: <PATH=/bin>\r\n"));
        assert!(inner.contains("HP-Outer: Subject: [...]\r\n"));
        assert!(inner.contains("HP-Outer: From: a@x\r\n"));
        assert!(!inner.contains("HP-Outer: X-Cron-Env"));
        assert!(!inner.contains("Bcc") && !inner.contains("Received"));
        assert!(inner.contains("protected-headers=\"v1\"; hp=\"cipher\""));
        assert!(!inner.replace("\r\n", "").contains('\n'), "bare LF inside");
        // The Content-Type moves to the child.
        let child_start = inner.find("\r\n--").unwrap();
        assert!(inner[child_start..].contains("Content-Type: text/plain\r\n"));
    }

    #[test]
    fn synthesized_fields_agree_inside_and_out() {
        let h = head("To: b@x\n\n");
        let p = Payload::build(&h, &Child::for_head(&h, None), "[...]", &synth());
        let outer = String::from_utf8(p.outer_prefix).unwrap();
        let inner = String::from_utf8(p.prefix).unwrap();
        for name in ["From: ", "Date: ", "Message-ID: "] {
            let line = outer.lines().find(|l| l.starts_with(name)).unwrap();
            assert!(inner.contains(&format!("{line}\r\n")), "{line}");
        }
        assert!(
            outer.contains("From: \"Cron Daemon\" <root>")
                || outer.contains("From: Cron Daemon <root>")
        );
    }

    #[test]
    fn child_for_non_mime_bodies() {
        let h = head("To: b@x\n\n");
        let st = |ascii, utf8, has_nul, long_line| BodyStats {
            has_nul,
            long_line,
            ascii,
            utf8,
        };
        let c = Child::for_head(&h, Some(st(true, true, false, false)));
        assert!(matches!(
            c,
            Child::Text {
                charset: "us-ascii",
                encoding: TransferEncoding::SevenBit,
                ..
            }
        ));
        let c = Child::for_head(&h, Some(st(false, true, false, false)));
        assert!(matches!(
            c,
            Child::Text {
                charset: "utf-8",
                encoding: TransferEncoding::EightBit,
                ..
            }
        ));
        let c = Child::for_head(&h, Some(st(false, false, false, false)));
        assert!(matches!(
            c,
            Child::Text {
                charset: "unknown-8bit",
                ..
            }
        ));
        let c = Child::for_head(&h, Some(st(true, true, true, false)));
        assert!(c.needs_base64());
        let c = Child::for_head(&h, Some(st(true, true, false, true)));
        assert!(c.needs_base64());
    }

    #[test]
    fn eight_bit_address_fields_are_rebuilt_ascii_outside() {
        let h = head("From: J\u{f6}rg <j@x.org>\nTo: b@x\nReply-To: R\u{e9}n\u{e9} <r@x>\n\n");
        let p = Payload::build(&h, &Child::for_head(&h, None), "[...]", &synth());
        assert!(p.outer_prefix.is_ascii());
        let outer = String::from_utf8(p.outer_prefix).unwrap();
        assert!(outer.contains("From: j@x.org\n"));
        assert!(outer.contains("Reply-To: r@x\n"));
    }

    #[test]
    fn dates_are_rfc5322() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 1 Jan 1970 00:00:00 +0000");
    }
}
