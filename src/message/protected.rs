//! Input that claims to be encrypted already (rule 16, docs/message.md): is it?
//!
//! Owns the one decision "hand this message on as it is": a label (a Content-Type, or a
//! body that starts like an armor block) makes a message a candidate, and only its body,
//! checked here, makes it protected. Everything else is encrypted like any other message
//! (encrypting twice is harmless; handing on something readable is not).
//!
//! * **OpenPGP**, inline (a body that is one `-----BEGIN PGP MESSAGE-----` block, white space
//!   around it allowed) or PGP/MIME (`multipart/encrypted;
//!   protocol="application/pgp-encrypted"`): the armor must decode (base64, padding, the
//!   CRC-24 line checked when present, at most [`ARMOR_HEADERS_MAX`] armor header lines) and
//!   its packets must be one or more PKESK (tag 1, v3 or v6) or SKESK (tag 3, v4, v5 or v6)
//!   packets, marker packets (tag 10) allowed among them, followed by exactly one encrypted
//!   data packet that runs exactly to the end of the data: SEIPD (tag 18, v1 or v2), SED
//!   (tag 9) or LibrePGP's OCB encrypted data (tag 20, v1). Tag 20 is admitted because it is
//!   what GnuPG 2.4 writes for keys that advertise it, and it is ciphertext (AES-OCB) as much
//!   as SEIPD v2 is; whether the recipient can read it is the sender's choice, not a
//!   confidentiality question. Old and new packet formats, partial body lengths and the
//!   old format's indeterminate length (data packets only) are framed here, in bounded
//!   memory: the data packet's body is skipped, never kept. A literal, compressed,
//!   signature or key packet, trailing bytes, bad base64, a wrong CRC, a second block or
//!   text around the block is not protected.
//! * **PGP/MIME structure**: exactly two parts. A preamble of at most [`PREAMBLE_MAX`] bytes
//!   (clients' "This is an OpenPGP/MIME encrypted message" note) and an epilogue of white
//!   space only. Part headers are `Content-*` fields only, at most [`PART_HEAD_MAX`] bytes;
//!   part 1 is `application/pgp-encrypted` whose body is `Version: 1` (and white space);
//!   part 2 is `application/octet-stream` whose body is one armor block as above. A part's
//!   Content-Transfer-Encoding, and the message's, must be absent, `7bit` or `8bit`
//!   (`binary` too for the message): armor is never base64 or quoted-printable encoded.
//! * **S/MIME** (`application/pkcs7-mime`, `application/x-pkcs7-mime`): the body (base64
//!   when the Content-Transfer-Encoding says so, else the raw bytes) must be one BER/DER
//!   ContentInfo: a SEQUENCE holding the contentType OID id-envelopedData
//!   (1.2.840.113549.1.7.3) or id-ct-authEnvelopedData (1.2.840.113549.1.9.16.1.23) and a
//!   `[0]` explicit content that is a SEQUENCE, and nothing else. Every element is walked,
//!   definite and indefinite lengths at every level (nesting up to [`DER_DEPTH_MAX`]), so
//!   the structure covers exactly all of the decoded data. An `smime-type` parameter that
//!   disagrees with the OID means not protected; its absence proves nothing either way.
//!
//! What this proves is the format, not that the bytes could not be read by a key nobody
//! meant: a caller that forges ciphertext-shaped bytes sends its own bytes on purpose. The
//! header section of a protected message is handed on as given (less Bcc).
//!
//! A [`Verifier`] is fed the body (CRLF lines, as [`crate::message::Body`] gives it) in
//! pieces of any size, so it can watch the body on its way into the
//! [`crate::spool::BodyStore`] ([`Feed`]); nothing it says quotes the message.

use std::io::{self, Read};

use crate::message::Head;
use crate::openpgp::armor::Crc24;

/// Bytes of preamble text allowed before the first part of a `multipart/encrypted`.
pub const PREAMBLE_MAX: usize = 1024;
/// The longest line looked at (without its line ending); a longer one is not protected.
pub const LINE_MAX: usize = 1024;
/// The largest header section of one part of a `multipart/encrypted`.
pub const PART_HEAD_MAX: usize = 4096;
/// Armor header lines (`Version:`, `Comment:`, ...) allowed in an armor block.
pub const ARMOR_HEADERS_MAX: usize = 16;
/// A key packet (PKESK, SKESK) longer than this is not believed.
pub const ESK_MAX: u64 = 64 * 1024;
/// Nesting depth of the S/MIME BER walk.
pub const DER_DEPTH_MAX: usize = 32;

/// The judgement on one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub protected: bool,
    /// Protected: what it is ("OpenPGP (PGP/MIME), 2 PKESK + SEIPD v1"). Not: what the
    /// label claimed and why it is not so. Never quotes message content.
    pub text: String,
}

/// What made the message a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// A body that starts like `-----BEGIN PGP MESSAGE-----`.
    Inline,
    /// `multipart/encrypted; protocol="application/pgp-encrypted"`.
    PgpMime,
    /// `application/pkcs7-mime` (or `x-pkcs7-mime`).
    Smime,
}

type Check = Result<(), String>;

/// Checks one candidate's body, fed in pieces.
pub struct Verifier {
    claim: Claim,
    inner: Inner,
    failed: Option<String>,
}

enum Inner {
    /// Refused from the header section alone.
    Label,
    Inline(Lines, Box<Armor>),
    PgpMime(Lines, Box<Mime>),
    Smime(Box<Smime>),
}

impl Verifier {
    /// A verifier when the message is a candidate: labelled in `head`, or a body whose
    /// first bytes `start` may begin an armor block. `None`: encrypt as usual.
    pub fn for_message(head: &Head, start: &[u8]) -> Option<Verifier> {
        let label = head.get("Content-Type").and_then(|ct| {
            let raw = ct.unfolded();
            // Bounded input for mailparse, whose tokenizer is quadratic on long values.
            (raw.len() <= 8 * 1024)
                .then(|| mailparse::parse_content_type(&String::from_utf8_lossy(&raw)))
        });
        let cte = transfer_encoding(head);
        if let Some(ct) = label {
            let protocol = ct.params.get("protocol").map(|p| p.to_ascii_lowercase());
            match ct.mimetype.as_str() {
                "multipart/encrypted"
                    if protocol.as_deref() == Some("application/pgp-encrypted") =>
                {
                    return Some(Self::pgp_mime(ct.params.get("boundary"), &cte));
                }
                "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
                    return Some(Self::smime(ct.params.get("smime-type"), &cte));
                }
                _ => {}
            }
        }
        may_be_armor(start).then(|| Verifier {
            claim: Claim::Inline,
            inner: Inner::Inline(Lines::default(), Box::default()),
            failed: None,
        })
    }

    fn pgp_mime(boundary: Option<&String>, cte: &str) -> Verifier {
        let failed = match boundary {
            _ if !matches!(cte, "" | "7bit" | "8bit" | "binary") => {
                Some("its transfer encoding is not 7bit, 8bit or binary".to_string())
            }
            Some(b) if (1..=70).contains(&b.len()) => None,
            _ => Some("it has no usable boundary parameter".to_string()),
        };
        let mime = Mime {
            boundary: boundary.map(|b| b.as_bytes().to_vec()).unwrap_or_default(),
            ..Mime::default()
        };
        Verifier {
            claim: Claim::PgpMime,
            inner: Inner::PgpMime(Lines::default(), Box::new(mime)),
            failed,
        }
    }

    fn smime(smime_type: Option<&String>, cte: &str) -> Verifier {
        let label = match smime_type.map(|t| t.to_ascii_lowercase()).as_deref() {
            None => Some(None),
            Some("enveloped-data") => Some(Some(Enveloped::Plain)),
            Some("authenveloped-data") => Some(Some(Enveloped::Auth)),
            Some(_) => None,
        };
        let base64 = match cte {
            "base64" => Some(B64::default()),
            "" | "7bit" | "8bit" | "binary" => None,
            _ => {
                return Self::refused(
                    Claim::Smime,
                    "its transfer encoding is not base64 or binary",
                );
            }
        };
        let Some(label) = label else {
            return Self::refused(
                Claim::Smime,
                "its smime-type parameter names something other than enveloped data",
            );
        };
        let smime = Smime {
            base64,
            label,
            scratch: Vec::new(),
            der: Der::default(),
        };
        Verifier {
            claim: Claim::Smime,
            inner: Inner::Smime(Box::new(smime)),
            failed: None,
        }
    }

    fn refused(claim: Claim, why: &str) -> Verifier {
        Verifier {
            claim,
            inner: Inner::Label,
            failed: Some(why.to_string()),
        }
    }

    pub fn claim(&self) -> Claim {
        self.claim
    }

    /// Looks at the next piece of the body. After the first failure the rest is ignored.
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        let r = match &mut self.inner {
            Inner::Label => Ok(()),
            Inner::Inline(lines, armor) => lines.feed(data, &mut |l| armor.line(l)),
            Inner::PgpMime(lines, mime) => lines.feed(data, &mut |l| mime.line(l)),
            Inner::Smime(s) => s.feed(data),
        };
        if let Err(e) = r {
            self.failed = Some(e);
        }
    }

    /// The judgement, once the whole body has been fed.
    pub fn finish(self) -> Verdict {
        let done = match (self.failed, self.inner) {
            (Some(e), _) => Err(e),
            (None, Inner::Label) => Err("nothing was checked".into()),
            (None, Inner::Inline(mut lines, mut armor)) => {
                let last = lines.finish(&mut |l| armor.line(l));
                last.and_then(|()| armor.finish())
            }
            (None, Inner::PgpMime(mut lines, mut mime)) => {
                let last = lines.finish(&mut |l| mime.line(l));
                last.and_then(|()| mime.finish())
            }
            (None, Inner::Smime(s)) => s.finish(),
        };
        let (protected, text) = match (self.claim, done) {
            (Claim::Inline, Ok(what)) => (true, format!("OpenPGP (inline), {what}")),
            (Claim::PgpMime, Ok(what)) => (true, format!("OpenPGP (PGP/MIME), {what}")),
            (Claim::Smime, Ok(what)) => (true, what),
            (Claim::Inline, Err(e)) => (
                false,
                format!(
                    "the body looks like an inline PGP message but is not an encrypted one ({e})"
                ),
            ),
            (Claim::PgpMime, Err(e)) => (false, format!("labelled multipart/encrypted but {e}")),
            (Claim::Smime, Err(e)) => (
                false,
                format!(
                    "labelled application/pkcs7-mime but its body is not S/MIME enveloped data ({e})"
                ),
            ),
        };
        Verdict { protected, text }
    }
}

/// A reader that shows everything it reads to a [`Verifier`] (so that the body is checked
/// on its way into the store, in the same single read of standard input).
pub struct Feed<'a, R> {
    pub inner: R,
    pub verifier: &'a mut Verifier,
}

impl<R: Read> Read for Feed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.verifier.feed(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// The message's Content-Transfer-Encoding, lower case ("" when absent).
fn transfer_encoding(head: &Head) -> String {
    head.get("Content-Transfer-Encoding")
        .map(|f| {
            String::from_utf8_lossy(&f.unfolded())
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

const BEGIN: &[u8] = b"-----BEGIN PGP MESSAGE-----";
const END: &[u8] = b"-----END PGP MESSAGE-----";

/// Could a body starting with `start` be an inline PGP message?
fn may_be_armor(start: &[u8]) -> bool {
    let t = start.trim_ascii_start();
    let n = t.len().min(BEGIN.len());
    n > 0 && t.get(..n) == BEGIN.get(..n)
}

/// `l` without trailing spaces, tabs and CRs.
fn trim_end(l: &[u8]) -> &[u8] {
    let n = l
        .iter()
        .rposition(|&b| !matches!(b, b' ' | b'\t' | b'\r'))
        .map_or(0, |i| i + 1);
    l.get(..n).unwrap_or_default()
}

/// Splits a stream into lines (LF; a CR before it is the caller's to trim), each at most
/// [`LINE_MAX`] bytes.
#[derive(Default)]
struct Lines {
    held: Vec<u8>,
}

impl Lines {
    fn feed(&mut self, mut data: &[u8], f: &mut dyn FnMut(&[u8]) -> Check) -> Check {
        while let Some(i) = crate::sys::find_byte(b'\n', data) {
            let (line, rest) = data.split_at(i);
            data = rest.get(1..).unwrap_or_default();
            if self.held.is_empty() {
                Self::bounded(line)?;
                f(line)?;
            } else {
                self.hold(line)?;
                let held = std::mem::take(&mut self.held);
                f(&held)?;
                self.held = held;
                self.held.clear();
            }
        }
        self.hold(data)
    }

    fn hold(&mut self, data: &[u8]) -> Check {
        if self.held.len().saturating_add(data.len()) > LINE_MAX + 1 {
            return Err(format!("a line longer than {LINE_MAX} bytes"));
        }
        self.held.extend_from_slice(data);
        Ok(())
    }

    fn bounded(line: &[u8]) -> Check {
        if line.len() > LINE_MAX + 1 {
            return Err(format!("a line longer than {LINE_MAX} bytes"));
        }
        Ok(())
    }

    /// The last line, when the body does not end with a line ending.
    fn finish(&mut self, f: &mut dyn FnMut(&[u8]) -> Check) -> Check {
        if self.held.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        f(&held)
    }
}

/// An incremental base64 decoder (standard alphabet, padding required at the end).
#[derive(Default)]
struct B64 {
    acc: u32,
    /// Sextets in the current quad.
    n: u8,
    /// Padding characters seen in the current quad.
    pad: u8,
    done: bool,
}

fn b64_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

impl B64 {
    fn at_quad_start(&self) -> bool {
        self.n == 0 && self.pad == 0
    }

    /// Decodes `s` onto `out`; `skip_ws`: white space anywhere is ignored.
    fn decode(&mut self, s: &[u8], out: &mut Vec<u8>, skip_ws: bool) -> Check {
        for &c in s {
            if skip_ws && matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                continue;
            }
            if c == b'=' {
                self.padding(out)?;
                continue;
            }
            if self.done || self.pad > 0 {
                return Err("base64 data after its padding".into());
            }
            let v = b64_value(c).ok_or("characters that are not base64")?;
            self.acc = (self.acc << 6) | v;
            self.n += 1;
            if self.n == 4 {
                out.extend_from_slice(&[
                    (self.acc >> 16) as u8,
                    (self.acc >> 8) as u8,
                    self.acc as u8,
                ]);
                self.n = 0;
                self.acc = 0;
            }
        }
        Ok(())
    }

    fn padding(&mut self, out: &mut Vec<u8>) -> Check {
        if self.done || self.n < 2 {
            return Err("misplaced base64 padding".into());
        }
        self.pad += 1;
        if self.pad < 4 - self.n {
            return Ok(());
        }
        if self.n == 2 {
            out.push((self.acc >> 4) as u8);
        } else {
            out.extend_from_slice(&[(self.acc >> 10) as u8, (self.acc >> 2) as u8]);
        }
        self.done = true;
        self.n = 0;
        self.pad = 0;
        self.acc = 0;
        Ok(())
    }

    fn finish(&self) -> Check {
        if self.at_quad_start() {
            Ok(())
        } else {
            Err("base64 cut short".into())
        }
    }
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum AState {
    #[default]
    Before,
    Headers,
    Data,
    Sum,
    After,
}

/// One ASCII-armored `PGP MESSAGE` block, line by line, its packets framed as they decode.
#[derive(Default)]
struct Armor {
    state: AState,
    b64: B64,
    crc: Crc24,
    sum: Option<u32>,
    headers: usize,
    packets: Packets,
    scratch: Vec<u8>,
}

impl Armor {
    fn line(&mut self, line: &[u8]) -> Check {
        let l = trim_end(line);
        match self.state {
            AState::Before => self.before(l),
            AState::Headers => self.header(l),
            AState::Data => self.data(l),
            AState::Sum if l == END => {
                self.state = AState::After;
                Ok(())
            }
            AState::Sum => Err("a line between the armor checksum and its end".into()),
            AState::After if l.is_empty() => Ok(()),
            AState::After if l.starts_with(b"-----BEGIN") => {
                Err("more than one armor block".into())
            }
            AState::After => Err("text after the armor block".into()),
        }
    }

    fn before(&mut self, l: &[u8]) -> Check {
        if l.is_empty() {
            Ok(())
        } else if l == BEGIN {
            self.state = AState::Headers;
            Ok(())
        } else if l.starts_with(b"-----BEGIN PGP SIGNED MESSAGE") {
            Err("a clearsigned message, which anyone can read".into())
        } else if l.starts_with(b"-----BEGIN PGP") {
            Err("an armor block that is not a PGP MESSAGE".into())
        } else {
            Err("text before the armor block".into())
        }
    }

    fn header(&mut self, l: &[u8]) -> Check {
        if l.is_empty() {
            self.state = AState::Data;
            return Ok(());
        }
        self.headers += 1;
        let well_formed = crate::sys::find_bytes(b": ", l).is_some_and(|i| i > 0);
        if !well_formed || self.headers > ARMOR_HEADERS_MAX {
            return Err("malformed armor header lines".into());
        }
        Ok(())
    }

    fn data(&mut self, l: &[u8]) -> Check {
        if l == END {
            self.state = AState::After;
            return Ok(());
        }
        if l.len() == 5 && l.first() == Some(&b'=') && self.b64.at_quad_start() {
            let mut sum = Vec::with_capacity(3);
            let mut d = B64::default();
            d.decode(l.get(1..).unwrap_or_default(), &mut sum, false)?;
            if let [a, b, c] = sum[..] {
                self.sum = Some(u32::from_be_bytes([0, a, b, c]));
                self.state = AState::Sum;
                return Ok(());
            }
            return Err("a malformed armor checksum".into());
        }
        if l.starts_with(b"-----") {
            return Err("an armor line out of place".into());
        }
        self.scratch.clear();
        self.b64.decode(l, &mut self.scratch, false)?;
        self.crc.update(&self.scratch);
        self.packets.feed(&self.scratch)
    }

    /// What the block holds ("2 PKESK + SEIPD v1"), once every line has been seen.
    fn finish(&mut self) -> Result<String, String> {
        match self.state {
            AState::After => {}
            AState::Before => return Err("no armor block".into()),
            _ => return Err("an armor block without its end line".into()),
        }
        self.b64.finish()?;
        if self.sum.is_some_and(|s| s != self.crc.value()) {
            return Err("a wrong armor checksum (CRC-24)".into());
        }
        self.packets.finish()
    }
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum PState {
    #[default]
    Tag,
    Len,
    Body,
}

/// The encrypted data packet that ends the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataPacket {
    Sed,
    Seipd(u8),
    Ocb,
}

/// OpenPGP packet framing: key packets, then one encrypted data packet to the end.
#[derive(Default)]
struct Packets {
    st: PState,
    tag: u8,
    old: bool,
    hdr: [u8; 5],
    hdr_n: usize,
    hdr_need: usize,
    /// Bytes left in the current body chunk.
    left: u64,
    /// More chunks follow this one (a partial body length).
    partial: bool,
    /// Inside the chunks of a partial-length packet: the next length is a chunk's.
    chunked: bool,
    /// Old format, indeterminate length: the packet runs to the end of the data.
    to_end: bool,
    version_pending: bool,
    pkesk: u32,
    skesk: u32,
    data: Option<DataPacket>,
    /// The data packet is complete: nothing may follow.
    done: bool,
    seen_any: bool,
}

impl Packets {
    fn feed(&mut self, mut d: &[u8]) -> Check {
        while let Some((&b, rest)) = d.split_first() {
            match self.st {
                PState::Tag => {
                    d = rest;
                    self.tag_byte(b)?;
                }
                PState::Len => {
                    d = rest;
                    self.len_byte(b)?;
                }
                PState::Body if self.version_pending => {
                    d = rest;
                    self.left = self.left.saturating_sub(1);
                    self.version_pending = false;
                    self.version(b)?;
                    self.chunk_maybe_done();
                }
                PState::Body if self.to_end => d = &[],
                PState::Body => {
                    let k = self.left.min(d.len() as u64) as usize;
                    d = d.get(k..).unwrap_or_default();
                    self.left -= k as u64;
                    self.chunk_maybe_done();
                }
            }
        }
        Ok(())
    }

    fn tag_byte(&mut self, b: u8) -> Check {
        if self.done {
            return Err("data after the encrypted data packet".into());
        }
        if b & 0x80 == 0 {
            return Err("bytes that are not OpenPGP packets".into());
        }
        self.seen_any = true;
        self.old = b & 0x40 == 0;
        self.tag = if self.old { (b >> 2) & 0x0f } else { b & 0x3f };
        match self.tag {
            1 | 3 | 10 => {}
            9 | 18 | 20 if self.pkesk.saturating_add(self.skesk) > 0 => {}
            9 | 18 | 20 => return Err("an encrypted data packet without a key packet".into()),
            t => return Err(describe(t)),
        }
        self.hdr_n = 0;
        self.hdr_need = match (self.old, b & 3) {
            (false, _) => 1,
            (true, 0) => 1,
            (true, 1) => 2,
            (true, 2) => 4,
            (true, _) => return self.start_body(None, false),
        };
        self.st = PState::Len;
        Ok(())
    }

    fn len_byte(&mut self, b: u8) -> Check {
        let Some(slot) = self.hdr.get_mut(self.hdr_n) else {
            return Err("a malformed packet length".into());
        };
        *slot = b;
        self.hdr_n += 1;
        if !self.old && self.hdr_n == 1 {
            match b {
                0..=191 => {}
                192..=223 => self.hdr_need = 2,
                255 => self.hdr_need = 5,
                _ => return self.length(1u64 << (b & 0x1f), true),
            }
        }
        if self.hdr_n < self.hdr_need {
            return Ok(());
        }
        let h = self.hdr;
        let len = match (self.old, self.hdr_need) {
            (true, n) => h.iter().take(n).fold(0u64, |a, &x| (a << 8) | u64::from(x)),
            (false, 1) => u64::from(h[0]),
            (false, 2) => (u64::from(h[0]).saturating_sub(192) << 8) + u64::from(h[1]) + 192,
            (false, _) => u64::from(u32::from_be_bytes([h[1], h[2], h[3], h[4]])),
        };
        self.length(len, false)
    }

    /// A length is complete: the packet's first, or the next chunk's.
    fn length(&mut self, len: u64, partial: bool) -> Check {
        if self.chunked {
            self.left = len;
            self.partial = partial;
            self.st = PState::Body;
            self.chunk_maybe_done();
            return Ok(());
        }
        self.start_body(Some(len), partial)
    }

    fn start_body(&mut self, len: Option<u64>, partial: bool) -> Check {
        let key = matches!(self.tag, 1 | 3 | 10);
        match len {
            _ if key && (partial || len.is_none()) => {
                return Err("a key packet without a fixed length".into());
            }
            Some(n) if key && (n == 0 || n > ESK_MAX) => {
                return Err("a key packet of implausible length".into());
            }
            Some(n) if self.tag == 10 && n != 3 => return Err("a malformed marker packet".into()),
            Some(0) if !partial => return Err("an empty encrypted data packet".into()),
            _ => {}
        }
        self.left = len.unwrap_or(0);
        self.partial = partial;
        self.chunked = partial;
        self.to_end = len.is_none();
        self.version_pending = !matches!(self.tag, 9 | 10);
        if self.tag == 9 {
            self.data = Some(DataPacket::Sed);
        }
        self.st = PState::Body;
        Ok(())
    }

    fn version(&mut self, v: u8) -> Check {
        match (self.tag, v) {
            (1, 3 | 6) => self.pkesk = self.pkesk.saturating_add(1),
            (3, 4..=6) => self.skesk = self.skesk.saturating_add(1),
            (18, 1 | 2) => self.data = Some(DataPacket::Seipd(v)),
            (20, 1) => self.data = Some(DataPacket::Ocb),
            (1, _) => return Err("a PKESK packet of an unknown version".into()),
            (3, _) => return Err("an SKESK packet of an unknown version".into()),
            _ => return Err("an encrypted data packet of an unknown version".into()),
        }
        Ok(())
    }

    /// At the end of a chunk: the next chunk's length, or the next packet.
    fn chunk_maybe_done(&mut self) {
        if self.left > 0 || self.to_end || self.version_pending {
            return;
        }
        if self.partial {
            self.old = false;
            self.hdr_n = 0;
            self.hdr_need = 1;
            self.st = PState::Len;
            return;
        }
        self.chunked = false;
        self.done = matches!(self.tag, 9 | 18 | 20);
        self.st = PState::Tag;
    }

    fn finish(&self) -> Result<String, String> {
        let ended = self.done || (self.to_end && !self.version_pending && self.st == PState::Body);
        if !ended {
            return Err(match (self.seen_any, self.st) {
                (false, _) => "no OpenPGP packets".into(),
                (true, PState::Tag) => "key packets but no encrypted data packet".into(),
                _ => "an OpenPGP packet cut short".into(),
            });
        }
        let mut parts = Vec::new();
        if self.pkesk > 0 {
            parts.push(format!("{} PKESK", self.pkesk));
        }
        if self.skesk > 0 {
            parts.push(format!("{} SKESK", self.skesk));
        }
        parts.push(match self.data {
            Some(DataPacket::Seipd(v)) => format!("SEIPD v{v}"),
            Some(DataPacket::Ocb) => "OCB encrypted data (LibrePGP)".into(),
            Some(DataPacket::Sed) => "SED (no integrity protection)".into(),
            None => return Err("no encrypted data packet".into()),
        });
        Ok(parts.join(" + "))
    }
}

/// Why a packet that is neither a key packet nor encrypted data ends the check.
fn describe(tag: u8) -> String {
    match tag {
        2 | 4 => "a signature packet: a signed message, which anyone can read".into(),
        8 => "compressed data: a signed or plain message, which anyone can read".into(),
        11 => "literal data, which anyone can read".into(),
        5..=7 | 14 | 13 => "a key, not an encrypted message".into(),
        t => {
            format!("an OpenPGP packet of type {t}, which does not belong in an encrypted message")
        }
    }
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum MState {
    #[default]
    Preamble,
    Head,
    Control,
    Data,
    Epilogue,
}

/// The two parts of a `multipart/encrypted` (RFC 3156 section 4), line by line.
#[derive(Default)]
struct Mime {
    boundary: Vec<u8>,
    st: MState,
    preamble: usize,
    head: Vec<u8>,
    /// 1 or 2: the part whose header section is being read.
    part: u8,
    version: bool,
    armor: Armor,
}

impl Mime {
    /// `Some(false)` for a delimiter line, `Some(true)` for the close delimiter.
    fn delimiter(&self, l: &[u8]) -> Option<bool> {
        let rest = l.strip_prefix(b"--")?.strip_prefix(&self.boundary[..])?;
        match rest {
            b"" => Some(false),
            b"--" => Some(true),
            _ => None,
        }
    }

    fn line(&mut self, line: &[u8]) -> Check {
        let l = trim_end(line);
        match (self.st, self.delimiter(l)) {
            (MState::Preamble, None) => {
                self.preamble = self.preamble.saturating_add(line.len() + 1);
                if self.preamble > PREAMBLE_MAX {
                    return Err(format!("its preamble is longer than {PREAMBLE_MAX} bytes"));
                }
                Ok(())
            }
            (MState::Preamble, Some(false)) => {
                self.part = 1;
                self.st = MState::Head;
                Ok(())
            }
            (MState::Head, None) => self.head_line(l),
            (MState::Control, None) => self.control_line(l),
            (MState::Control, Some(false)) if self.version => {
                self.part = 2;
                self.st = MState::Head;
                Ok(())
            }
            (MState::Control, Some(false)) => Err("its first part lacks Version: 1".into()),
            (MState::Data, None) => self.armor.line(l).map_err(not_encrypted),
            (MState::Data, Some(false)) => Err("it has more than two parts".into()),
            (MState::Data, Some(true)) => {
                self.st = MState::Epilogue;
                Ok(())
            }
            (MState::Epilogue, _) if l.is_empty() => Ok(()),
            (MState::Epilogue, _) => Err("text after its last part".into()),
            (MState::Preamble | MState::Control, Some(true)) => {
                Err("it has fewer than two parts".into())
            }
            (MState::Head, Some(_)) => Err("a part's header section is cut short".into()),
        }
    }

    fn head_line(&mut self, l: &[u8]) -> Check {
        if !l.is_empty() {
            if self.head.len() + l.len() >= PART_HEAD_MAX {
                return Err(format!("a part header section over {PART_HEAD_MAX} bytes"));
            }
            self.head.extend_from_slice(l);
            self.head.push(b'\n');
            return Ok(());
        }
        let head = std::mem::take(&mut self.head);
        check_part_head(&head, self.part)?;
        self.st = if self.part == 1 {
            MState::Control
        } else {
            MState::Data
        };
        Ok(())
    }

    fn control_line(&mut self, l: &[u8]) -> Check {
        if l.is_empty() {
            return Ok(());
        }
        let mut kv = l.splitn(2, |&b| b == b':');
        let (k, v) = (kv.next().unwrap_or_default(), kv.next().unwrap_or_default());
        if k.trim_ascii().eq_ignore_ascii_case(b"Version") && v.trim_ascii() == b"1" {
            self.version = true;
            return Ok(());
        }
        Err("its first part holds more than Version: 1".into())
    }

    fn finish(&mut self) -> Result<String, String> {
        match self.st {
            MState::Epilogue => self.armor.finish().map_err(not_encrypted),
            MState::Data => Err("its closing boundary is missing".into()),
            _ => Err("it has fewer than two parts".into()),
        }
    }
}

fn not_encrypted(e: String) -> String {
    format!("its second part is not an encrypted OpenPGP message ({e})")
}

/// Part 1 is `application/pgp-encrypted`, part 2 `application/octet-stream`; only
/// `Content-*` fields; no transfer encoding but 7bit or 8bit.
fn check_part_head(head: &[u8], part: u8) -> Check {
    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for line in head.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            let last = fields.last_mut().ok_or("a malformed part header")?;
            last.1.extend_from_slice(line);
            continue;
        }
        let i = crate::sys::find_byte(b':', line).ok_or("a malformed part header")?;
        let (name, value) = line.split_at(i);
        let name = name.trim_ascii();
        let content = name.len() > 8
            && name
                .get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"Content-"));
        if !content {
            return Err("a part header field other than Content-*".into());
        }
        fields.push((name.to_vec(), value.get(1..).unwrap_or_default().to_vec()));
    }
    let get = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n.as_bytes()))
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_ascii_lowercase())
    };
    let ct = get("Content-Type").map(|v| mailparse::parse_content_type(&v).mimetype);
    let (want, which) = if part == 1 {
        ("application/pgp-encrypted", "first")
    } else {
        ("application/octet-stream", "second")
    };
    if ct.as_deref() != Some(want) {
        return Err(format!("its {which} part is not {want}"));
    }
    if !matches!(
        get("Content-Transfer-Encoding").as_deref(),
        None | Some("7bit" | "8bit")
    ) {
        return Err(format!(
            "its {which} part has a transfer encoding other than 7bit or 8bit"
        ));
    }
    Ok(())
}

/// Which enveloped content an S/MIME body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enveloped {
    Plain,
    Auth,
}

/// An S/MIME body: base64 (or raw) bytes into the BER walk.
struct Smime {
    base64: Option<B64>,
    /// What the smime-type parameter says (`None`: absent).
    label: Option<Enveloped>,
    scratch: Vec<u8>,
    der: Der,
}

impl Smime {
    fn feed(&mut self, d: &[u8]) -> Check {
        match &mut self.base64 {
            Some(b) => {
                self.scratch.clear();
                b.decode(d, &mut self.scratch, true)?;
                self.der.feed(&self.scratch)
            }
            None => self.der.feed(d),
        }
    }

    fn finish(&self) -> Result<String, String> {
        if let Some(b) = &self.base64 {
            b.finish()?;
        }
        let kind = self.der.finish()?;
        if self.label.is_some_and(|l| l != kind) {
            return Err("its smime-type parameter disagrees with its content type".into());
        }
        Ok(match kind {
            Enveloped::Plain => "S/MIME enveloped data".into(),
            Enveloped::Auth => "S/MIME authenticated enveloped data".into(),
        })
    }
}

const OID_ENVELOPED: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03];
const OID_AUTH_ENVELOPED: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17,
];
const OID_SIGNED: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const OID_COMPRESSED: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x09,
];

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum DState {
    #[default]
    Tag,
    TagMore,
    Len,
    LenMore,
    Prim,
}

/// A streaming BER walk of one ContentInfo: every element's tag and length, contents
/// skipped (but the content type OID's), nesting tracked with each element's end.
#[derive(Default)]
struct Der {
    /// Bytes consumed so far.
    pos: u64,
    /// The open constructed elements: each one's end (`None`: indefinite length).
    stack: Vec<Option<u64>>,
    st: DState,
    tag: u8,
    tag_bytes: u8,
    eoc: bool,
    len_need: u8,
    len: u64,
    /// Content bytes left of the current primitive element.
    left: u64,
    oid: Option<Vec<u8>>,
    /// Elements begun at depth 0, 1 and 2.
    count: [u32; 3],
    kind: Option<Enveloped>,
    content: bool,
    done: bool,
}

impl Der {
    fn feed(&mut self, mut d: &[u8]) -> Check {
        while let Some((&b, rest)) = d.split_first() {
            if self.st == DState::Prim {
                let k = self.left.min(d.len() as u64) as usize;
                let (taken, rest) = d.split_at(k);
                if let Some(oid) = &mut self.oid
                    && oid.len() + taken.len() <= 32
                {
                    oid.extend_from_slice(taken);
                }
                d = rest;
                self.pos = self.pos.saturating_add(k as u64);
                self.left -= k as u64;
                if self.left == 0 {
                    self.element_end()?;
                }
                continue;
            }
            d = rest;
            self.pos = self.pos.saturating_add(1);
            self.header_byte(b)?;
        }
        Ok(())
    }

    fn header_byte(&mut self, b: u8) -> Check {
        match self.st {
            DState::Tag => {
                if self.done {
                    return Err("data after the ContentInfo".into());
                }
                self.tag = b;
                self.eoc = b == 0;
                self.tag_bytes = 1;
                self.st = if b & 0x1f == 0x1f {
                    DState::TagMore
                } else {
                    DState::Len
                };
            }
            DState::TagMore => {
                self.tag_bytes += 1;
                if self.tag_bytes > 5 {
                    return Err("a tag too long".into());
                }
                if b & 0x80 == 0 {
                    self.st = DState::Len;
                }
            }
            DState::Len => match b {
                0..=0x7f => return self.header_done(Some(u64::from(b))),
                0x80 => return self.header_done(None),
                0x81..=0x88 => {
                    self.len_need = b & 0x7f;
                    self.len = 0;
                    self.st = DState::LenMore;
                }
                _ => return Err("a length too large".into()),
            },
            DState::LenMore => {
                self.len = (self.len << 8) | u64::from(b);
                self.len_need -= 1;
                if self.len_need == 0 {
                    return self.header_done(Some(self.len));
                }
            }
            DState::Prim => {}
        }
        Ok(())
    }

    /// The nearest end that is known: no element may run past it.
    fn limit(&self) -> Option<u64> {
        self.stack.iter().rev().find_map(|e| *e)
    }

    fn header_done(&mut self, len: Option<u64>) -> Check {
        self.st = DState::Tag;
        let constructed = self.tag & 0x20 != 0;
        if self.eoc {
            if len != Some(0) || self.stack.last() != Some(&None) {
                return Err("a misplaced end-of-contents".into());
            }
            self.stack.pop();
            return self.closed();
        }
        let depth = self.stack.len();
        if depth >= DER_DEPTH_MAX {
            return Err("nesting too deep".into());
        }
        self.element_start(depth, constructed)?;
        let end = match len {
            Some(l) => Some(self.pos.checked_add(l).ok_or("a length too large")?),
            None if constructed => None,
            None => return Err("an indefinite length on a primitive element".into()),
        };
        if let (Some(e), Some(lim)) = (end.or(Some(self.pos)), self.limit())
            && e > lim
        {
            return Err("an element longer than its container".into());
        }
        if constructed {
            self.stack.push(end);
            return self.close_ended();
        }
        self.left = len.unwrap_or(0);
        self.oid = (depth == 1 && self.tag == 0x06).then(Vec::new);
        if self.left == 0 {
            return self.element_end();
        }
        self.st = DState::Prim;
        Ok(())
    }

    /// The shape of a ContentInfo: SEQUENCE { OID, [0] { SEQUENCE ... } }.
    fn element_start(&mut self, depth: usize, constructed: bool) -> Check {
        if let Some(c) = self.count.get_mut(depth) {
            *c = c.saturating_add(1);
        }
        match (depth, self.count.get(depth).copied().unwrap_or(0)) {
            (0, _) if self.tag != 0x30 => Err("it does not start with a SEQUENCE".into()),
            (1, 1) if self.tag != 0x06 => Err("no content type".into()),
            (1, 2) if self.tag != 0xa0 || !constructed => Err("no [0] content".into()),
            (1, 3..) => Err("more than a content type and its content".into()),
            (2, 1) if self.tag != 0x30 => Err("its content is not a SEQUENCE".into()),
            (2, 1) => {
                self.content = true;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn element_end(&mut self) -> Check {
        self.st = DState::Tag;
        if let Some(oid) = self.oid.take() {
            self.kind = Some(match &oid[..] {
                OID_ENVELOPED => Enveloped::Plain,
                OID_AUTH_ENVELOPED => Enveloped::Auth,
                OID_SIGNED => return Err("signed data, which anyone can read".into()),
                OID_DATA => return Err("plain data".into()),
                OID_COMPRESSED => return Err("compressed data, which anyone can read".into()),
                _ => return Err("a content type other than enveloped data".into()),
            });
        }
        self.close_ended()
    }

    /// Closes every definite-length element that ends here.
    fn close_ended(&mut self) -> Check {
        while let Some(&Some(end)) = self.stack.last() {
            if end != self.pos {
                break;
            }
            self.stack.pop();
            self.closed()?;
        }
        Ok(())
    }

    /// An element was just closed; the outermost one ends the ContentInfo.
    fn closed(&mut self) -> Check {
        if self.stack.is_empty() {
            self.done = true;
            return Ok(());
        }
        self.close_ended()
    }

    fn finish(&self) -> Result<Enveloped, String> {
        if !self.done || !self.stack.is_empty() || self.st != DState::Tag {
            return Err(if self.pos == 0 {
                "an empty body".into()
            } else {
                "a structure cut short".into()
            });
        }
        match (self.kind, self.content) {
            (Some(k), true) => Ok(k),
            _ => Err("no encrypted content".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Field;

    fn head(ct: Option<&str>, cte: Option<&str>) -> Head {
        let mut fields = Vec::new();
        for (name, v) in [("Content-Type", ct), ("Content-Transfer-Encoding", cte)] {
            if let Some(v) = v {
                fields.push(Field {
                    name: name.into(),
                    value: format!(" {v}").into_bytes(),
                });
            }
        }
        Head { fields }
    }

    /// Feeds `body` in pieces of `step` bytes.
    fn verdict(h: &Head, body: &[u8], step: usize) -> Option<Verdict> {
        let mut v = Verifier::for_message(h, body.get(..64.min(body.len())).unwrap())?;
        for piece in body.chunks(step.max(1)) {
            v.feed(piece);
        }
        Some(v.finish())
    }

    fn armor(packets: &[u8], crc: bool) -> Vec<u8> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(packets);
        let mut s = b"-----BEGIN PGP MESSAGE-----\r\nComment: test\r\n\r\n".to_vec();
        for line in b64.as_bytes().chunks(64) {
            s.extend_from_slice(line);
            s.extend_from_slice(b"\r\n");
        }
        if crc {
            let mut c = Crc24::default();
            c.update(packets);
            let v = c.value().to_be_bytes();
            let sum = base64::engine::general_purpose::STANDARD.encode(&v[1..]);
            s.extend_from_slice(format!("={sum}\r\n").as_bytes());
        }
        s.extend_from_slice(b"-----END PGP MESSAGE-----\r\n");
        s
    }

    /// New-format packet with a one- or two-octet length.
    fn pkt(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut p = vec![0xc0 | tag];
        let n = body.len();
        if n < 192 {
            p.push(n as u8);
        } else {
            let m = n - 192;
            p.extend_from_slice(&[(m >> 8) as u8 + 192, m as u8]);
        }
        p.extend_from_slice(body);
        p
    }

    fn encrypted() -> Vec<u8> {
        let mut m = pkt(1, &[3; 20]);
        m.extend(pkt(1, &[3; 30]));
        m.extend(pkt(18, &[1; 300]));
        m
    }

    fn inline(body: &[u8]) -> Verdict {
        verdict(&head(None, None), body, 7).expect("a candidate")
    }

    #[test]
    fn inline_encrypted_passes_in_any_piece_size() {
        let body = armor(&encrypted(), true);
        for step in [1, 2, 3, 64, 1 << 20] {
            let v = verdict(&head(None, None), &body, step).unwrap();
            assert!(v.protected, "{step}: {}", v.text);
            assert_eq!(v.text, "OpenPGP (inline), 2 PKESK + SEIPD v1");
        }
        let mut spaced = b"\r\n  \r\n".to_vec();
        spaced.extend(armor(&encrypted(), false));
        spaced.extend_from_slice(b"\r\n\r\n");
        assert!(inline(&spaced).protected);
    }

    #[test]
    fn readable_packets_are_not_protected() {
        for (first, why) in [
            (pkt(8, &[1; 40]), "compressed"),
            (pkt(11, b"b\0\0\0\0\0hello"), "literal"),
            (pkt(4, &[3; 13]), "signature"),
            (pkt(2, &[4; 40]), "signature"),
            (pkt(6, &[4; 40]), "a key"),
        ] {
            let v = inline(&armor(&first, true));
            assert!(!v.protected && v.text.contains(why), "{}", v.text);
        }
        // Key packets but no data, data without key packets, SKESK of an unknown version.
        assert!(!inline(&armor(&pkt(1, &[3; 9]), true)).protected);
        assert!(!inline(&armor(&pkt(18, &[1; 9]), true)).protected);
        let mut m = pkt(3, &[9; 9]);
        m.extend(pkt(18, &[1; 9]));
        assert!(!inline(&armor(&m, true)).protected);
        // Encrypted, then a literal packet after it.
        let mut m = encrypted();
        m.extend(pkt(11, b"b\0\0\0\0\0x"));
        assert!(
            inline(&armor(&m, true))
                .text
                .contains("after the encrypted data")
        );
    }

    #[test]
    fn every_encrypted_data_packet_and_key_packet_version() {
        let mut m = pkt(10, b"PGP");
        m.extend(pkt(3, &[4; 13]));
        m.extend(pkt(3, &[6; 40]));
        m.extend(pkt(1, &[6; 40]));
        for (data, name) in [
            (pkt(18, &[2; 99]), "SEIPD v2"),
            (pkt(9, &[7; 99]), "SED (no integrity protection)"),
            (pkt(20, &[1; 99]), "OCB encrypted data (LibrePGP)"),
        ] {
            let mut all = m.clone();
            all.extend(data);
            let v = inline(&armor(&all, true));
            assert_eq!(
                v.text,
                format!("OpenPGP (inline), 1 PKESK + 2 SKESK + {name}")
            );
        }
        let mut bad = m.clone();
        bad.extend(pkt(18, &[3; 99]));
        assert!(!inline(&armor(&bad, true)).protected);
    }

    #[test]
    fn old_format_and_partial_lengths() {
        // Old format: PKESK with a 2-octet length, SEIPD with indeterminate length.
        let mut m = vec![0x85, 0x00, 0x05, 3, 0, 0, 0, 0];
        m.extend_from_slice(&[0xa7, 1, 2, 3, 4]);
        assert!(
            inline(&armor(&m, true)).protected,
            "{}",
            inline(&armor(&m, true)).text
        );
        // Old format, 4-octet length.
        let mut m = vec![0x86, 0, 0, 0, 4, 3, 0, 0, 0];
        m.extend_from_slice(&[0xa4, 3, 1, 9, 9]);
        assert!(inline(&armor(&m, true)).protected);
        // New format partial lengths: 512 + 2 + final 5 (and a final zero-length chunk).
        for last in [&[0x05, 1, 1, 1, 1, 1][..], &[0xe1, 7, 7, 0x00][..]] {
            let mut m = pkt(1, &[3; 20]);
            m.extend_from_slice(&[0xd2, 0xe9]);
            m.push(1);
            m.extend_from_slice(&[0; 511]);
            m.extend_from_slice(last);
            assert!(inline(&armor(&m, true)).protected);
            m.pop();
            assert!(!inline(&armor(&m, true)).protected, "cut short");
        }
        // Five-octet length.
        let mut m = pkt(1, &[3; 20]);
        m.extend_from_slice(&[0xd2, 0xff, 0, 0, 0, 3, 1, 2, 3]);
        assert!(inline(&armor(&m, true)).protected);
        // A partial length on a key packet.
        let mut m = vec![0xc1, 0xe0, 3];
        m.extend(pkt(18, &[1; 9]));
        assert!(!inline(&armor(&m, true)).protected);
    }

    #[test]
    fn huge_or_truncated_lengths_never_panic() {
        for m in [
            vec![0xc1, 0xff, 0xff, 0xff, 0xff, 0xff],
            vec![0xc1, 0xff],
            vec![0xd2, 0xff, 0xff, 0xff, 0xff, 0xff, 1],
            vec![0xc1, 0xdf, 0xff],
            vec![0x86, 0xff, 0xff, 0xff, 0xff, 3],
            vec![0xc1, 0x05, 3],
            vec![0xc1],
            vec![0x00],
            vec![0xff; 40],
        ] {
            assert!(!inline(&armor(&m, true)).protected, "{m:?}");
        }
        let mut m = encrypted();
        m.truncate(m.len() - 1);
        assert!(inline(&armor(&m, true)).text.contains("cut short"));
        // Arbitrary bytes in every position.
        let mut x: u32 = 12345;
        for _ in 0..300 {
            let mut m = Vec::new();
            for _ in 0..(x % 60) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                m.push((x >> 16) as u8);
            }
            let _ = inline(&armor(&m, x.is_multiple_of(2)));
            let mut body = b"-----BEGIN PGP MESSAGE-----\n\n".to_vec();
            body.extend_from_slice(&m);
            let _ = inline(&body);
        }
    }

    #[test]
    fn armor_errors() {
        let good = armor(&encrypted(), true);
        let text = String::from_utf8(good.clone()).unwrap();
        // A wrong CRC.
        let lines: Vec<&str> = text.split("\r\n").collect();
        let sum = lines.iter().find(|l| l.starts_with('=')).unwrap();
        let flipped = if sum.ends_with('A') { "B" } else { "A" };
        let bad = text.replace(sum, &format!("{}{flipped}", &sum[..4]));
        assert!(inline(bad.as_bytes()).text.contains("checksum"));
        // Bad base64, text around, two blocks, no end, clearsigned, a long line.
        let bad = text.replacen("\r\n\r\n", "\r\n\r\n!!!!\r\n", 1);
        assert!(inline(bad.as_bytes()).text.contains("not base64"));
        assert!(
            inline(format!("{text}P.S. hello\r\n").as_bytes())
                .text
                .contains("after")
        );
        assert!(
            inline(format!("{text}\r\n{text}").as_bytes())
                .text
                .contains("more than one")
        );
        assert!(!inline(&good[..good.len() - 10]).protected);
        let clear = b"-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nhi\r\n";
        assert!(Verifier::for_message(&head(None, None), clear).is_none());
        let long = format!("{}{}", &text[..40], "A".repeat(5000));
        assert!(inline(long.as_bytes()).text.contains("longer"));
        assert!(Verifier::for_message(&head(None, None), b"Hello").is_none());
        assert!(Verifier::for_message(&head(None, None), b"  -----BEGIN PGP").is_some());
    }

    fn pgp_mime_body(preamble: &str, second: &[u8]) -> Vec<u8> {
        let mut b = format!(
            "{preamble}--b1\r\nContent-Type: application/pgp-encrypted\r\n\
             Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n\
             --b1\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\
             Content-Disposition: inline;\r\n filename=\"encrypted.asc\"\r\n\r\n"
        )
        .into_bytes();
        b.extend_from_slice(second);
        b.extend_from_slice(b"\r\n--b1--\r\n\r\n");
        b
    }

    fn mime(body: &[u8]) -> Verdict {
        let h = head(
            Some("multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\""),
            None,
        );
        verdict(&h, body, 5).unwrap()
    }

    #[test]
    fn pgp_mime_structure() {
        let ct = armor(&encrypted(), true);
        let v = mime(&pgp_mime_body(
            "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n",
            &ct,
        ));
        assert!(v.protected, "{}", v.text);
        assert_eq!(v.text, "OpenPGP (PGP/MIME), 2 PKESK + SEIPD v1");
        // Plaintext second part, a long preamble, a third part, text after.
        assert!(
            mime(&pgp_mime_body("", b"secret text\r\n"))
                .text
                .contains("second part")
        );
        let long = "x".repeat(70) + "\r\n";
        let long = long.repeat(PREAMBLE_MAX / 70 + 1);
        assert!(mime(&pgp_mime_body(&long, &ct)).text.contains("preamble"));
        let mut three = pgp_mime_body("", &ct);
        three.truncate(three.len() - 6);
        three.extend_from_slice(b"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b1--\r\n");
        assert!(mime(&three).text.contains("more than two"));
        let mut after = pgp_mime_body("", &ct);
        after.extend_from_slice(b"epilogue words\r\n");
        assert!(mime(&after).text.contains("after its last part"));
        let no_close = pgp_mime_body("", &ct);
        assert!(!mime(&no_close[..no_close.len() - 10]).protected);
        let other = String::from_utf8(pgp_mime_body("", &ct)).unwrap();
        let x = other.replace("Content-Disposition", "X-Secret");
        assert!(mime(x.as_bytes()).text.contains("Content-*"));
        let x = other.replace("Version: 1", "Version: 1\r\nhello");
        assert!(mime(x.as_bytes()).text.contains("Version"));
        let x = other.replace("inline;", "inline;\r\nContent-Transfer-Encoding: base64");
        assert!(mime(x.as_bytes()).text.contains("transfer encoding"));
        let h = head(
            Some("multipart/encrypted; protocol=\"application/pgp-encrypted\""),
            None,
        );
        assert!(
            verdict(&h, &pgp_mime_body("", &ct), 9)
                .unwrap()
                .text
                .contains("boundary")
        );
    }

    /// DER header for tag `t` and length `n`.
    fn tlv(t: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![t];
        let n = content.len();
        if n < 128 {
            v.push(n as u8);
        } else {
            v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
        }
        v.extend_from_slice(content);
        v
    }

    fn content_info(oid: &[u8]) -> Vec<u8> {
        let inner = tlv(0x30, &[2, 1, 0, 0x31, 0x03, 0x04, 0x01, 0x00]);
        let mut c = tlv(0x06, oid);
        c.extend(tlv(0xa0, &inner));
        tlv(0x30, &c)
    }

    fn smime(ct: &str, cte: Option<&str>, body: &[u8]) -> Verdict {
        verdict(&head(Some(ct), cte), body, 3).unwrap()
    }

    fn b64(d: &[u8]) -> Vec<u8> {
        use base64::Engine;
        let s = base64::engine::general_purpose::STANDARD.encode(d);
        let mut out = Vec::new();
        for l in s.as_bytes().chunks(76) {
            out.extend_from_slice(l);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn smime_content_info() {
        let p7 = "application/pkcs7-mime; smime-type=enveloped-data";
        let env = content_info(OID_ENVELOPED);
        assert!(smime(p7, Some("base64"), &b64(&env)).protected);
        assert!(smime("application/x-pkcs7-mime", None, &env).protected);
        let auth = content_info(OID_AUTH_ENVELOPED);
        let v = smime("application/pkcs7-mime", Some("base64"), &b64(&auth));
        assert_eq!(v.text, "S/MIME authenticated enveloped data");
        // The label disagrees; signed data without a label; trailing bytes; cut short.
        assert!(
            smime(
                p7.replace("enveloped", "authenveloped").as_str(),
                None,
                &env
            )
            .text
            .contains("disagrees")
        );
        assert!(smime(p7, None, &auth).text.contains("disagrees"));
        let signed = content_info(OID_SIGNED);
        assert!(
            smime("application/pkcs7-mime", Some("base64"), &b64(&signed))
                .text
                .contains("signed")
        );
        let mut trailing = env.clone();
        trailing.push(0);
        assert!(!smime(p7, None, &trailing).protected);
        assert!(!smime(p7, None, &env[..env.len() - 1]).protected);
        assert!(!smime(p7, Some("quoted-printable"), &env).protected);
        assert!(!smime("application/pkcs7-mime; smime-type=signed-data", None, &env).protected);
        // No [0] content.
        assert!(!smime(p7, None, &tlv(0x30, &tlv(0x06, OID_ENVELOPED))).protected);
    }

    #[test]
    fn smime_indefinite_lengths() {
        let p7 = "application/pkcs7-mime";
        // SEQUENCE(indef) { OID, [0](indef) { SEQUENCE(indef) { INTEGER 0 } } }
        let mut ber = vec![0x30, 0x80];
        ber.extend(tlv(0x06, OID_ENVELOPED));
        ber.extend_from_slice(&[0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00, 0, 0, 0, 0, 0, 0]);
        let v = smime(p7, Some("base64"), &b64(&ber));
        assert!(v.protected, "{}", v.text);
        assert!(!smime(p7, None, &ber[..ber.len() - 2]).protected);
        let mut extra = ber.clone();
        extra.extend_from_slice(&[0, 0]);
        assert!(!smime(p7, None, &extra).protected);
        // An indefinite length on a primitive element; a child longer than its parent.
        let mut prim = ber.clone();
        prim[2] = 0x06;
        prim[3] = 0x80;
        assert!(!smime(p7, None, &prim).protected);
        let mut long = content_info(OID_ENVELOPED);
        long[1] -= 1;
        assert!(!smime(p7, None, &long).protected);
    }

    #[test]
    fn smime_hostile_lengths_never_panic() {
        let p7 = "application/pkcs7-mime";
        for m in [
            vec![0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            vec![0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            vec![
                0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x06, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff,
            ],
            vec![0x30, 0x80, 0x06, 0x09],
            vec![0x30, 0x80, 0, 0],
            vec![0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            [0x30, 0x80].repeat(100),
            vec![],
        ] {
            assert!(!smime(p7, None, &m).protected, "{m:?}");
        }
        let mut x: u32 = 99;
        for _ in 0..300 {
            let mut m = content_info(OID_ENVELOPED);
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let i = (x as usize >> 8) % m.len();
            m[i] = (x >> 20) as u8;
            let _ = smime(p7, None, &m);
            m.truncate(i);
            let _ = smime(p7, None, &m);
        }
    }

    #[test]
    fn unlabelled_plain_bodies_are_no_candidates() {
        assert!(Verifier::for_message(&head(Some("text/plain"), None), b"hello").is_none());
        assert!(Verifier::for_message(&head(None, None), b"").is_none());
        let h = head(
            Some("multipart/encrypted; protocol=\"application/pkcs7-signature\"; boundary=x"),
            None,
        );
        assert!(Verifier::for_message(&h, b"x").is_none());
    }
}
