//! Header field values as pgpsendmail writes them (docs/message.md, rules 11, 17-20): bare
//! local names qualified, the outer copy of a field made RFC 5322/6532-valid (display
//! names RFC 2047-encoded, UTF-8 addr-specs and IDs carried as they are, RFC 6532), folded
//! at 78 columns and never over 998 octets, and the text of a Legacy Display Element.
//!
//! Untrusted input: every value comes from the message. Nothing here panics on any bytes;
//! a value that cannot be made valid is reported as `None` and left out by the caller.

use base64::Engine;

use crate::message::address::{self, Mailbox};

/// Fields whose values are address lists: their bare local names are qualified (rule 17).
pub const ADDRESS_FIELDS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Mail-Followup-To",
    "Mail-Reply-To",
    "Disposition-Notification-To",
    "Return-Receipt-To",
    "Errors-To",
];

/// Fields holding a list of msg-ids, which may be folded between two of them.
const MSG_ID_FIELDS: &[&str] = &[
    "Message-ID",
    "In-Reply-To",
    "References",
    "Resent-Message-ID",
];

/// Longest line of a folded field the folding aims at, and the most RFC 5322 allows.
pub const FOLD_AT: usize = 78;
pub const MAX_LINE: usize = 998;

fn is_any(name: &str, list: &[&str]) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

pub fn is_address_field(name: &str) -> bool {
    is_any(name, ADDRESS_FIELDS)
}

/// The value with its folds removed (the white space after each fold stays) and trimmed.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let v: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\n' && b != b'\r')
        .collect();
    v.trim_ascii().to_vec()
}

/// Rule 17: `value` (an address list, folds kept) with `@domain` after every bare local
/// name; `None` when it has none or does not parse (it is then left as it is).
pub fn qualify(value: &[u8], domain: &str) -> Option<Vec<u8>> {
    let boxes = address::parse_mailboxes(value).ok()?;
    let bare: Vec<&Mailbox> = boxes
        .iter()
        .filter(|m| m.address.domain().is_none())
        .collect();
    if bare.is_empty() || domain.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(value.len() + bare.len() * (domain.len() + 1));
    let mut pos = 0;
    for m in bare {
        out.extend_from_slice(value.get(pos..m.addr.end)?);
        out.push(b'@');
        out.extend_from_slice(domain.as_bytes());
        pos = m.addr.end;
    }
    out.extend_from_slice(value.get(pos..)?);
    Some(out)
}

/// `text` as RFC 2047 encoded words (UTF-8, base64), each at most 75 characters, separated
/// by spaces; ASCII text without `=?` is returned as it is.
pub fn encode_words(text: &str) -> String {
    if text.is_ascii() && !text.contains("=?") {
        return text.to_string();
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        // 45 bytes are 60 base64 characters: `=?utf-8?B?` + 60 + `?=` is 72.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?utf-8?B?{}?=", b64.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?utf-8?B?{}?=", b64.encode(chunk.as_bytes())));
    }
    words.join(" ")
}

/// The text of a display name as a reader shows it: quoted strings unquoted, comments
/// left out, white space runs made one space; `None` when it is not UTF-8.
fn phrase_text(raw: &[u8]) -> Option<String> {
    let mut out = Vec::new();
    let mut space = false;
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        i += 1;
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => space = !out.is_empty(),
            b'(' => i = skip_comment(raw, i),
            b'"' => {
                if space {
                    out.push(b' ');
                    space = false;
                }
                while let Some(&q) = raw.get(i) {
                    i += 1;
                    match q {
                        b'"' => break,
                        b'\\' => {
                            out.extend(raw.get(i));
                            i += 1;
                        }
                        b'\r' | b'\n' => {}
                        _ => out.push(q),
                    }
                }
            }
            _ => {
                if space {
                    out.push(b' ');
                    space = false;
                }
                out.push(b);
            }
        }
    }
    String::from_utf8(out).ok()
}

/// After a `(` at `i - 1`: the index after its matching `)`.
fn skip_comment(raw: &[u8], mut i: usize) -> usize {
    let mut depth = 1;
    while let Some(&b) = raw.get(i) {
        i += 1;
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b'\\' => i += 1,
            _ => {}
        }
    }
    i
}

/// The outer form of one field's value (rule 11): unfolded, 7-bit but for what RFC 6532
/// lets stay UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuterValue {
    pub value: Vec<u8>,
    /// It holds UTF-8 (an addr-spec, a msg-id, a list-id): the path must carry SMTPUTF8.
    pub utf8: bool,
    /// Members were left out because the path cannot carry UTF-8.
    pub trimmed: bool,
}

/// The outer value of the field `name` (rules 11, 18): as given when it is ASCII; display
/// names RFC 2047-encoded; UTF-8 addr-specs, msg-ids and list-ids kept as they are when
/// `utf8` (the path carries SMTPUTF8), else left out. `None`: the field stays inside only.
pub fn outer_value(name: &str, value: &[u8], utf8: bool) -> Option<OuterValue> {
    let v = unfold(value);
    if v.is_ascii() {
        return Some(OuterValue {
            value: v,
            utf8: false,
            trimmed: false,
        });
    }
    if is_address_field(name) {
        return address_outer(&v, utf8);
    }
    if name.eq_ignore_ascii_case("List-Id")
        && let Some(lt) = v.iter().rposition(|&b| b == b'<')
    {
        let (phrase, id) = v.split_at(lt);
        let mut out = encode_words(&phrase_text(phrase)?).into_bytes();
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(id);
        return carried(out, utf8);
    }
    std::str::from_utf8(&v).ok()?;
    carried(v, utf8)
}

/// A value that may hold UTF-8 the RFC 6532 way: kept when the path carries it.
fn carried(value: Vec<u8>, utf8: bool) -> Option<OuterValue> {
    let needs = !value.is_ascii();
    (!needs || utf8).then_some(OuterValue {
        value,
        utf8: needs,
        trimmed: false,
    })
}

/// An address list's outer value: in place when only display names need encoding, else
/// rebuilt from its mailboxes (UTF-8 ones dropped when the path cannot carry them).
fn address_outer(v: &[u8], utf8: bool) -> Option<OuterValue> {
    let boxes = address::parse_mailboxes(v).ok()?;
    let utf8_addr = boxes.iter().any(|m| !m.address.as_str().is_ascii());
    if utf8_addr && !utf8 {
        let kept: Vec<&Mailbox> = boxes
            .iter()
            .filter(|m| m.address.as_str().is_ascii())
            .collect();
        if kept.is_empty() {
            return None;
        }
        return Some(OuterValue {
            value: rebuilt(v, &kept),
            utf8: false,
            trimmed: true,
        });
    }
    let value =
        in_place(v, &boxes).unwrap_or_else(|| rebuilt(v, &boxes.iter().collect::<Vec<_>>()));
    Some(OuterValue {
        value,
        utf8: utf8_addr,
        trimmed: false,
    })
}

/// The display name of `m` as an encoded phrase (empty when it has none or it is not UTF-8).
fn phrase_of(v: &[u8], m: &Mailbox) -> String {
    m.phrase
        .clone()
        .and_then(|p| v.get(p))
        .and_then(phrase_text)
        .map(|t| encode_words(&t))
        .unwrap_or_default()
}

/// `v` with each non-ASCII display name replaced by its encoded form; `None` when 8-bit
/// text remains anywhere but in an addr-spec (a comment, a group name).
fn in_place(v: &[u8], boxes: &[Mailbox]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(v.len() * 2);
    let mut pos = 0;
    for m in boxes {
        if let Some(p) = m.phrase.clone() {
            out.extend_from_slice(v.get(pos..p.start)?);
            if v.get(p.clone())?.is_ascii() {
                out.extend_from_slice(v.get(p.clone())?);
            } else {
                out.extend_from_slice(phrase_of(v, m).as_bytes());
            }
            pos = p.end;
        }
        let between = v.get(pos..m.addr.start)?;
        if !between.is_ascii() {
            return None;
        }
        out.extend_from_slice(between);
        out.extend_from_slice(v.get(m.addr.clone())?);
        pos = m.addr.end;
    }
    let rest = v.get(pos..)?;
    rest.is_ascii().then(|| {
        out.extend_from_slice(rest);
        out
    })
}

/// The mailboxes as a plain list: `phrase <addr>` or `addr`, comma-separated.
fn rebuilt(v: &[u8], boxes: &[&Mailbox]) -> Vec<u8> {
    boxes
        .iter()
        .map(|m| match phrase_of(v, m) {
            p if p.is_empty() => m.address.as_str().to_string(),
            p => format!("{p} <{}>", m.address),
        })
        .collect::<Vec<_>>()
        .join(", ")
        .into_bytes()
}

/// `Name: value` folded (rule 19): a line break before white space wherever a line would
/// pass 78 columns (and, in msg-id lists, between `>` and `<`); the field value as
/// [`crate::message::Field`] holds it (a leading space, `\n` at each fold). `None` when
/// some line would still be over 998 octets.
pub fn fold(name: &str, value: &[u8]) -> Option<Vec<u8>> {
    let v = unfold(value);
    let v = if is_any(name, MSG_ID_FIELDS) {
        space_msg_ids(&v)
    } else {
        v
    };
    // Pieces: each starts at a white space byte followed by text (a possible fold).
    let mut starts = vec![0];
    for i in 1..v.len() {
        let here = matches!(v[i], b' ' | b'\t');
        let next_text = v.get(i + 1).is_some_and(|b| !matches!(b, b' ' | b'\t'));
        if here && next_text {
            starts.push(i);
        }
    }
    starts.push(v.len());
    let mut out = vec![b' '];
    let mut line = name.len() + 2;
    for w in starts.windows(2) {
        let piece = v.get(w[0]..w[1])?;
        if line + piece.len() > FOLD_AT && w[0] > 0 {
            out.push(b'\n');
            line = 0;
        }
        out.extend_from_slice(piece);
        line += piece.len();
        if line > MAX_LINE {
            return None;
        }
    }
    Some(out)
}

/// A msg-id list with a space put between `>` and `<` where there is none (outside quotes).
fn space_msg_ids(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() + 8);
    let mut quoted = false;
    for (i, &b) in v.iter().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        }
        if b == b'<' && !quoted && i > 0 && v[i - 1] == b'>' {
            out.push(b' ');
        }
        out.push(b);
    }
    out
}

/// Longest value decoded for a Legacy Display Element (the decoder is slow on long ones).
const MAX_DECODED: usize = 4096;

/// The value of a field as a Legacy Display Element line shows it (rule 20): unfolded,
/// RFC 2047 words decoded when the part can hold UTF-8 (`utf8`), else in its 7-bit header
/// form (encoding UTF-8 text); `None` when it cannot be shown (not UTF-8).
pub fn display_value(value: &[u8], utf8: bool) -> Option<String> {
    let v = String::from_utf8(unfold(value)).ok()?;
    if !utf8 {
        return Some(if v.is_ascii() { v } else { encode_words(&v) });
    }
    if !v.contains("=?") || v.len() > MAX_DECODED {
        return Some(v);
    }
    let line = format!("X: {v}");
    let decoded = mailparse::parse_header(line.as_bytes())
        .ok()
        .map(|(h, _)| h.get_value())?;
    // A decoded control character (an encoded CR or LF) would break the body's lines.
    Some(
        decoded
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}

/// CRLF-ended lines in quoted-printable (RFC 2045 section 6.7), for a Legacy Display
/// Element before a quoted-printable body (rule 20): each line ends in a hard line break,
/// none is over 76 characters (soft breaks, `=` CRLF), `=`, bytes outside printable ASCII
/// and white space before a line break are `=XX`. A partial last line is encoded as a line.
pub fn quoted_printable(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 2);
    for line in text.split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut col = 0;
        for (i, &b) in line.iter().enumerate() {
            let end = i + 1 == line.len();
            let literal = matches!(b, 33..=60 | 62..=126) || (matches!(b, b' ' | b'\t') && !end);
            let width = if literal { 1 } else { 3 };
            if col + width > 75 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            if literal {
                out.push(b);
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
            col += width;
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_lines_are_short_and_decode_to_the_text() {
        let long = format!("Subject: K\u{f6}ln = {} end \r\n\r\n", "x".repeat(100));
        let qp = quoted_printable(long.as_bytes());
        let text = String::from_utf8(qp.clone()).unwrap();
        assert!(text.starts_with("Subject: K=C3=B6ln =3D xxx"), "{text}");
        assert!(text.ends_with(" end=20\r\n\r\n"), "{text}");
        assert!(text.split("\r\n").all(|l| l.len() <= 76), "{text}");
        let decoded = mailparse::parse_mail(
            &[
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n".as_slice(),
                &qp,
            ]
            .concat(),
        )
        .unwrap()
        .get_body_raw()
        .unwrap();
        assert_eq!(decoded, long.as_bytes());
    }

    #[test]
    fn bare_local_names_are_qualified_in_place() {
        let q =
            |v: &str| qualify(v.as_bytes(), "host.example").map(|o| String::from_utf8(o).unwrap());
        assert_eq!(
            q(" root (Cron Daemon)").as_deref(),
            Some(" root@host.example (Cron Daemon)")
        );
        assert_eq!(
            q(" Cron Daemon <root>").as_deref(),
            Some(" Cron Daemon <root@host.example>")
        );
        assert_eq!(
            q(" root, a@x.org,\n www-data").as_deref(),
            Some(" root@host.example, a@x.org,\n www-data@host.example")
        );
        assert_eq!(q(" a@x.org"), None);
        assert_eq!(q(" a@@"), None);
    }

    #[test]
    fn words_are_rfc2047_and_short() {
        assert_eq!(encode_words("plain"), "plain");
        let long = "\u{e9}".repeat(100);
        let e = encode_words(&long);
        assert!(
            e.split(' ')
                .all(|w| w.len() <= 75 && w.starts_with("=?utf-8?B?"))
        );
        let line = format!("X: {e}");
        let (h, _) = mailparse::parse_header(line.as_bytes()).unwrap();
        assert_eq!(h.get_value(), long);
    }

    #[test]
    fn utf8_addresses_stay_outside_with_their_ascii_neighbours() {
        let o = |v: &str, utf8| {
            outer_value("To", v.as_bytes(), utf8)
                .map(|o| (String::from_utf8(o.value).unwrap(), o.utf8, o.trimmed))
        };
        let v = " Jos\u{e9} <jos\u{e9}@ex\u{e4}mple.org>, b@x.org";
        let (value, utf8, _) = o(v, true).unwrap();
        assert!(value.starts_with("=?utf-8?B?"), "{value}");
        assert!(
            value.ends_with(" <jos\u{e9}@ex\u{e4}mple.org>, b@x.org"),
            "{value}"
        );
        assert!(utf8);
        assert_eq!(o(v, false).unwrap(), ("b@x.org".into(), false, true));
        assert_eq!(
            o(" \u{7528}\u{6237}@\u{4f8b}\u{5b50}.\u{5e7f}\u{544a}", false),
            None
        );
        // A comment with 8-bit text: the list is rebuilt.
        let (value, utf8, _) = o(" a@x.org (J\u{f6}rg), b@x.org", true).unwrap();
        assert_eq!((value.as_str(), utf8), ("a@x.org, b@x.org", false));
    }

    #[test]
    fn ids_and_list_ids_are_carried_or_left_out() {
        let id = " <caf\u{e9}@x.org>";
        assert!(outer_value("Message-ID", id.as_bytes(), true).unwrap().utf8);
        assert_eq!(outer_value("Message-ID", id.as_bytes(), false), None);
        let l = outer_value("List-Id", " Caf\u{e9} talk <cafe.x.org>".as_bytes(), false).unwrap();
        assert!(l.value.is_ascii() && l.value.ends_with(b" <cafe.x.org>"));
        assert_eq!(outer_value("X-Any", b" \xff", true), None);
    }

    #[test]
    fn folding_keeps_lines_short_and_gives_up_over_998() {
        let refs: String = (0..40).map(|i| format!("<id{i}@example.org>")).collect();
        let f = fold("References", refs.as_bytes()).unwrap();
        let text = String::from_utf8(f).unwrap();
        assert!(text.lines().all(|l| l.len() <= FOLD_AT), "{text}");
        assert!(text.lines().next().unwrap().len() + 11 <= FOLD_AT, "{text}");
        assert_eq!(unfold(text.as_bytes()).len(), refs.len() + 39);
        let to: String = (0..100).map(|i| format!("user{i}@example.org, ")).collect();
        let text = String::from_utf8(fold("To", to.as_bytes()).unwrap()).unwrap();
        assert!(text.lines().all(|l| l.len() <= FOLD_AT));
        assert_eq!(unfold(text.as_bytes()), to.trim().as_bytes());
        assert_eq!(fold("X", "y".repeat(1200).as_bytes()), None);
    }

    #[test]
    fn display_values_decode_only_where_utf8_fits() {
        let v = b" =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus K\xc3\xb6ln";
        assert_eq!(
            display_value(v, true).unwrap(),
            "Gr\u{fc}\u{df}e aus K\u{f6}ln"
        );
        let ascii = display_value(v, false).unwrap();
        assert!(ascii.is_ascii());
        assert_eq!(display_value(b" \xff", true), None);
    }
}
