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

use rand::RngCore;

use crate::message::encode;
use crate::message::{BodyStats, Field, Head};

/// Fields that stay in the outer header section (rule 11), besides `List-*` and
/// [`TRANSPORT`].
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

/// Fields for the transport or for the recipient's client before it decrypts (rule 21):
/// copied outside as well as inside. Autocrypt (the sender's key, read before decryption),
/// TLS-Required (RFC 8689), MT-Priority (RFC 6710), Require-Recipient-Valid-Since (RFC 7293).
pub const TRANSPORT: &[&str] = &[
    "Autocrypt",
    "TLS-Required",
    "MT-Priority",
    "Require-Recipient-Valid-Since",
];

/// User-facing fields (RFC 9788): a Legacy Display Element shows those that are not outside
/// as they are inside (rule 20).
const USER_FACING: &[&str] = &[
    "Subject",
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Followup-To",
    "Date",
    "Keywords",
    "Comments",
];

fn is_any(name: &str, list: &[&str]) -> bool {
    list.iter().any(|o| o.eq_ignore_ascii_case(name))
}

fn is_outer(name: &str) -> bool {
    is_any(name, OUTER)
        || is_any(name, TRANSPORT)
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

/// A random token of `n` characters from `[0-9A-Za-z]`, uniformly: bytes from the kernel
/// (one getrandom(2) per 2n of them), those of 248 and above dropped, the rest taken
/// modulo 62.
pub fn random_token(n: usize) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let limit = (256 / CHARS.len() * CHARS.len()) as u8;
    let mut out = String::with_capacity(n);
    let mut bytes = vec![0u8; 2 * n];
    while out.len() < n {
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let fair = bytes.iter().filter(|&&b| b < limit);
        out.extend(
            fair.map(|&b| CHARS[usize::from(b) % CHARS.len()] as char)
                .take(n - out.len()),
        );
    }
    out
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

/// Values used when From, Date or Message-ID is missing (rule 5), and the domain of bare
/// local names (rule 17).
#[derive(Debug, Clone)]
pub struct Synth {
    /// The address for a synthesized From (the -f sender, else the login name).
    pub from_addr: String,
    /// The display name of a synthesized From: -F, else the login's full name.
    pub full_name: Option<String>,
    /// Right-hand side of a synthesized Message-ID.
    pub host: String,
    /// Added to bare local names (`qualify_domain`); empty: they stay bare.
    pub domain: String,
    pub now: SystemTime,
}

/// How the payload and the outer header section are made.
#[derive(Debug, Clone)]
pub struct Options {
    /// The outer Subject placeholder (`subject`).
    pub subject: String,
    /// `legacy_display`: a Legacy Display Element where it is safe (rule 20).
    pub legacy_display: bool,
    /// The outer header may carry UTF-8 (RFC 6532); false when the path is known not to.
    pub utf8: bool,
    pub synth: Synth,
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
        /// The body is led by a Legacy Display Element (`hp-legacy-display="1"`).
        legacy_display: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    SevenBit,
    EightBit,
    /// The body is re-encoded as base64 (NUL bytes, a lone CR, lines over 998 octets).
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
            lone_cr: false,
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
        } else if stats.has_nul || stats.long_line || stats.lone_cr {
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
            legacy_display: false,
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
    /// What leads the body inside the child's transfer encoding: the Legacy Display
    /// Element (CRLF), or nothing. It is base64-encoded with the body when the body is.
    pub lead: Vec<u8>,
    /// After the body (CRLF).
    pub suffix: Vec<u8>,
    /// The outer header carries UTF-8 (RFC 6532): the path must carry SMTPUTF8.
    pub utf8: bool,
    /// Outer fields left out or shortened, each with why (for the warning).
    pub left_out: Vec<(String, &'static str)>,
}

/// Why an outer field is left out or shortened.
pub const NO_UTF8_PATH: &str = "the real sendmail cannot carry UTF-8 (SMTPUTF8)";
const NOT_UTF8: &str = "8-bit text that is not UTF-8";
const TOO_LONG: &str = "a line over 998 octets";

impl Payload {
    /// Builds the header material for `head`, whose body `child` describes.
    pub fn build(head: &Head, child: &Child, opts: &Options) -> Payload {
        let inner_boundary = random_token(32);
        let outer_boundary = random_token(32);
        let fields = inner_fields(head, &opts.synth);
        let outer = outer_fields(&fields, opts);
        let (child, lead) = match opts.legacy_display {
            true => legacy_display(child, &fields, &outer.fields)
                .unwrap_or_else(|| (child.clone(), Vec::new())),
            false => (child.clone(), Vec::new()),
        };

        // Inner header section (rules 1, 3, 4, 6).
        let mut prefix = Vec::new();
        prefix.extend_from_slice(
            format!(
                "Content-Type: multipart/mixed; boundary=\"{inner_boundary}\";\r\n \
                 protected-headers=\"v1\"; hp=\"cipher\"\r\n"
            )
            .as_bytes(),
        );
        for f in fields
            .iter()
            .filter(|f| !is_dropped(&f.name) && !is_content(&f.name))
        {
            f.write_to(&mut prefix, b"\r\n");
        }
        for f in &outer.fields {
            hp_outer(f).write_to(&mut prefix, b"\r\n");
        }
        prefix.extend_from_slice(b"\r\n");
        prefix.extend_from_slice(format!("--{inner_boundary}\r\n").as_bytes());
        child_header(&child, &mut prefix);
        prefix.extend_from_slice(b"\r\n");
        let suffix = format!("\r\n--{inner_boundary}--\r\n").into_bytes();

        let (outer_prefix, outer_suffix) = outer_message(&outer.fields, &outer_boundary);
        Payload {
            outer_prefix,
            outer_suffix,
            prefix,
            lead,
            suffix,
            utf8: outer.utf8,
            left_out: outer.left_out,
        }
    }
}

/// Rule 5: the input's fields with what is missing (From, Date, Message-ID) synthesized,
/// once, for both sides; rule 17: bare local names in address fields qualified.
fn inner_fields(head: &Head, synth: &Synth) -> Vec<Field> {
    let mut fields: Vec<Field> = head.fields.clone();
    for f in fields
        .iter_mut()
        .filter(|f| encode::is_address_field(&f.name))
    {
        if let Some(q) = encode::qualify(&f.value, &synth.domain) {
            f.value = q;
        }
    }
    if !head.has("From") {
        let addr = match synth.from_addr.contains('@') || synth.domain.is_empty() {
            true => synth.from_addr.clone(),
            false => format!("{}@{}", synth.from_addr, synth.domain),
        };
        let v = match &synth.full_name {
            Some(n) if !n.is_empty() => format!(" {} <{addr}>", quote_phrase(n)),
            _ => format!(" {addr}"),
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

/// The outer header section's fields, folded (rule 19), with what it needs and lacks.
struct Outer {
    fields: Vec<Field>,
    utf8: bool,
    left_out: Vec<(String, &'static str)>,
}

/// The outer fields (rules 11, 18, 21): the routing and transport fields in their outer
/// form, then the placeholder Subject when the message has a Subject.
fn outer_fields(fields: &[Field], opts: &Options) -> Outer {
    let mut out = Outer {
        fields: Vec::new(),
        utf8: false,
        left_out: Vec::new(),
    };
    let kept = fields
        .iter()
        .filter(|f| is_outer(&f.name) && !is_dropped(&f.name));
    for f in kept {
        let name = f.name.clone();
        let Some(full) = encode::outer_value(&f.name, &f.value, true) else {
            out.left_out.push((name, NOT_UTF8));
            continue;
        };
        let v = if full.utf8 && !opts.utf8 {
            out.left_out.push((name.clone(), NO_UTF8_PATH));
            match encode::outer_value(&f.name, &f.value, false) {
                Some(v) => v,
                None => continue,
            }
        } else {
            full
        };
        let Some(value) = encode::fold(&f.name, &v.value) else {
            out.left_out.push((name, TOO_LONG));
            continue;
        };
        out.utf8 |= v.utf8;
        out.fields.push(Field { name, value });
    }
    if fields.iter().any(|f| f.is("Subject")) {
        let value =
            encode::fold("Subject", opts.subject.as_bytes()).unwrap_or_else(|| b" [...]".to_vec());
        out.fields.push(Field {
            name: "Subject".into(),
            value,
        });
    }
    out
}

/// The `HP-Outer` record of an outer field (rule 4), folded like it.
fn hp_outer(f: &Field) -> Field {
    let mut record = format!(" {}: ", f.name).into_bytes();
    record.extend_from_slice(&encode::unfold(&f.value));
    let value = encode::fold("HP-Outer", &record).unwrap_or_else(|| {
        let mut v = format!(" {}:", f.name).into_bytes();
        v.extend_from_slice(&f.value);
        v
    });
    Field {
        name: "HP-Outer".into(),
        value,
    }
}

/// Largest Content-Type value looked into (the MIME parser is slow on long values).
const MAX_CONTENT_TYPE: usize = 4096;

/// Charsets in which ASCII lines can lead a text without changing how it reads (besides
/// `iso-8859-*` and `windows-125*`).
const ASCII_COMPATIBLE: &[&str] = &[
    "us-ascii",
    "ascii",
    "ansi_x3.4-1968",
    "utf-8",
    "utf8",
    "latin1",
    "koi8-r",
    "koi8-u",
    "iso-2022-jp",
    "euc-jp",
    "euc-kr",
    "shift_jis",
    "gb2312",
    "gbk",
    "gb18030",
    "big5",
];

/// Rule 20: the child with a Legacy Display Element leading its body, where that is safe:
/// the text/plain pgpsendmail makes itself (not when the body is already encoded), or a
/// top-level text/plain that is not an attachment, in 7bit, 8bit, binary, quoted-printable
/// or base64 and an ASCII-compatible charset. `None`: none is added.
fn legacy_display(child: &Child, fields: &[Field], outer: &[Field]) -> Option<(Child, Vec<u8>)> {
    let shown: Vec<&Field> = fields
        .iter()
        .filter(|f| is_any(&f.name, USER_FACING))
        .filter(|f| f.is("Subject") || !outer.iter().any(|o| o.is(&f.name)))
        .collect();
    if shown.is_empty() {
        return None;
    }
    match child {
        Child::Text {
            charset,
            encoding,
            original_cte: None,
            ..
        } => {
            let lead = display_lines(&shown, *charset != "unknown-8bit")?;
            let utf8 = !lead.is_ascii();
            let child = Child::Text {
                charset: if utf8 && *charset == "us-ascii" {
                    "utf-8"
                } else {
                    charset
                },
                encoding: match encoding {
                    TransferEncoding::SevenBit if utf8 => TransferEncoding::EightBit,
                    e => *e,
                },
                original_cte: None,
                legacy_display: true,
            };
            Some((child, lead))
        }
        Child::Mime(cf) => {
            let part = plain_text_part(cf)?;
            let mut lead = display_lines(&shown, part.utf8)?;
            if part.quoted_printable {
                lead = encode::quoted_printable(&lead);
            } else if part.base64 {
                lead = base64_lead(lead);
            }
            let mut cf = cf.clone();
            let ct = cf.iter_mut().find(|f| f.is("Content-Type"))?;
            ct.value.extend_from_slice(b";\n hp-legacy-display=\"1\"");
            Some((Child::Mime(cf), lead))
        }
        Child::Text { .. } => None,
    }
}

/// A top-level text/plain part that a display can lead (rule 20).
struct PlainText {
    /// The display's lines may hold UTF-8 (a `utf-8` part in 8bit, binary or
    /// quoted-printable).
    utf8: bool,
    /// The body is quoted-printable: the display goes before it encoded so, a sequence
    /// of encoded lines like the body's own.
    quoted_printable: bool,
    /// The body is base64: the display goes before it as base64 lines of its own
    /// ([`base64_lead`]).
    base64: bool,
}

/// A display as base64 lines (76 characters, CRLF) that a base64 body can follow
/// unchanged: padded with spaces at the end of its last field line to a multiple of three
/// bytes, so that its encoding ends without `=` and the part decodes to the display and
/// then the body, its encoded lines never re-cut.
fn base64_lead(mut lead: Vec<u8>) -> Vec<u8> {
    use base64::Engine;
    // The display ends with its last field line's CRLF and the empty line's.
    let pad = (3 - lead.len() % 3) % 3;
    let at = lead.len().saturating_sub(4);
    lead.splice(at..at, std::iter::repeat_n(b' ', pad));
    let text = base64::engine::general_purpose::STANDARD.encode(&lead);
    let mut out = Vec::with_capacity(text.len() + text.len() / 38);
    for line in text.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// For a top-level part's Content-* fields: `Some` when it is a text/plain main body part
/// a display can lead, and how.
fn plain_text_part(cf: &[Field]) -> Option<PlainText> {
    let value = |name: &str| {
        cf.iter()
            .find(|f| f.is(name))
            .map(|f| String::from_utf8_lossy(&f.unfolded()).to_ascii_lowercase())
    };
    let ct = value("Content-Type")?;
    if ct.len() > MAX_CONTENT_TYPE {
        return None;
    }
    let ct = mailparse::parse_content_type(&ct);
    let cte = value("Content-Transfer-Encoding").unwrap_or_default();
    let attachment = value("Content-Disposition").is_some_and(|d| d.starts_with("attachment"));
    let charset = ct.charset.to_ascii_lowercase();
    let compatible = is_any(&charset, ASCII_COMPATIBLE)
        || charset.starts_with("iso-8859-")
        || charset.starts_with("windows-125");
    let quoted_printable = cte == "quoted-printable";
    let base64 = cte == "base64";
    let plain_cte =
        quoted_printable || base64 || matches!(cte.as_str(), "" | "7bit" | "8bit" | "binary");
    let utf8 = matches!(charset.as_str(), "utf-8" | "utf8")
        && matches!(
            cte.as_str(),
            "8bit" | "binary" | "quoted-printable" | "base64"
        );
    (ct.mimetype == "text/plain" && !attachment && plain_cte && compatible).then_some(PlainText {
        utf8,
        quoted_printable,
        base64,
    })
}

/// The Legacy Display Element: a `Name: value` line for each field (folded, CRLF), then an
/// empty line; `None` when no field can be shown.
fn display_lines(shown: &[&Field], utf8: bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for f in shown {
        let Some(v) = encode::display_value(&f.value, utf8) else {
            continue;
        };
        if let Some(value) = encode::fold(&f.name, v.as_bytes()) {
            Field {
                name: f.name.clone(),
                value,
            }
            .write_to(&mut out, b"\r\n");
        }
    }
    if out.is_empty() {
        return None;
    }
    out.extend_from_slice(b"\r\n");
    Some(out)
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
            legacy_display,
        } => {
            let lde = if *legacy_display {
                "; hp-legacy-display=\"1\""
            } else {
                ""
            };
            prefix.extend_from_slice(
                format!("Content-Type: text/plain; charset=\"{charset}\"{lde}\r\n").as_bytes(),
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

/// A display name as an RFC 5322 phrase: as is when it is plain atoms, RFC 2047 encoded
/// words when it is not ASCII, else quoted.
fn quote_phrase(s: &str) -> String {
    let plain = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c));
    if !s.is_ascii() {
        encode::encode_words(s)
    } else if plain && !s.contains("=?") {
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

    #[test]
    fn random_tokens_have_their_length_and_use_every_character() {
        let mut seen = std::collections::HashSet::new();
        for n in [0, 1, 24, 32] {
            let t = random_token(n);
            assert_eq!(t.len(), n);
            assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()), "{t}");
        }
        for _ in 0..200 {
            seen.extend(random_token(32).bytes());
        }
        // 6,400 fair draws miss one of 62 characters with a chance of about 62 * e^-103.
        assert_eq!(seen.len(), 62);
        assert_ne!(random_token(32), random_token(32));
    }

    fn opts() -> Options {
        Options {
            subject: "[...]".into(),
            legacy_display: true,
            utf8: true,
            synth: Synth {
                from_addr: "root".into(),
                full_name: Some("Cron Daemon".into()),
                host: "host.example".into(),
                domain: "host.example".into(),
                now: UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000),
            },
        }
    }

    #[test]
    fn outer_keeps_routing_fields_only_and_inner_keeps_all() {
        let h = head(
            "From: a@x\nTo: b@x\nSubject: secret subject\nX-Cron-Env: <PATH=/bin>\n\
             Bcc: hidden@x\nReceived: by x\nContent-Type: text/plain\nList-Id: <l.x>\n\n",
        );
        let p = Payload::build(&h, &Child::for_head(&h, None), &opts());
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
        assert!(
            inner[child_start..]
                .contains("Content-Type: text/plain;\r\n hp-legacy-display=\"1\"\r\n")
        );
        // The one text part is led by the Legacy Display Element (rule 20).
        assert_eq!(p.lead, b"Subject: secret subject\r\n\r\n");
    }

    #[test]
    fn synthesized_fields_agree_inside_and_out() {
        let h = head("To: b@x\n\n");
        let p = Payload::build(&h, &Child::for_head(&h, None), &opts());
        let outer = String::from_utf8(p.outer_prefix).unwrap();
        let inner = String::from_utf8(p.prefix).unwrap();
        for name in ["From: ", "Date: ", "Message-ID: "] {
            let line = outer.lines().find(|l| l.starts_with(name)).unwrap();
            assert!(inner.contains(&format!("{line}\r\n")), "{line}");
        }
        assert!(
            outer.contains("From: Cron Daemon <root@host.example>\n"),
            "{outer}"
        );
    }

    #[test]
    fn child_for_non_mime_bodies() {
        let h = head("To: b@x\n\n");
        let st = |ascii, utf8, has_nul, long_line| BodyStats {
            has_nul,
            long_line,
            lone_cr: false,
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
    fn eight_bit_display_names_are_encoded_outside() {
        let h = head("From: J\u{f6}rg <j@x.org>\nTo: b@x\nReply-To: R\u{e9}n\u{e9} <r@x>\n\n");
        let p = Payload::build(&h, &Child::for_head(&h, None), &opts());
        assert!(p.outer_prefix.is_ascii() && !p.utf8);
        let outer = String::from_utf8(p.outer_prefix).unwrap();
        assert!(
            outer.contains("From: =?utf-8?B?SsO2cmc=?= <j@x.org>\n"),
            "{outer}"
        );
        assert!(
            outer.contains("Reply-To: =?utf-8?B?UsOpbsOp?= <r@x>\n"),
            "{outer}"
        );
    }

    #[test]
    fn dates_are_rfc5322() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 1 Jan 1970 00:00:00 +0000");
    }
}
