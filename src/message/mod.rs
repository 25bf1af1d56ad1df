//! Reading the message from standard input (pgpsendmail(8), INPUT; docs/message.md).
//!
//! Owns: the end-of-input rule (a lone `.` line without `-i`), the mbox `From ` line,
//! line endings (LF, CRLF or mixed in; CRLF out, as MIME canonical form wants), the header
//! section (capped at [`MAX_HEADER_BYTES`], split into fields in one linear pass) and the
//! body as a stream ([`Body`]) that never holds the whole message.
//!
//! Untrusted input: all of it. The header section is an [`Error::Data`] (65) when it is over
//! the cap, holds a NUL or a bare CR; a read error is [`Error::NoInput`] (66). Nothing here
//! quotes message bytes in an error.

pub mod address;
pub mod canonical;
pub mod encode;
pub mod pgpmime;
pub mod protected;

use std::io::{self, BufRead, Read};

use crate::error::{Error, Result};

/// The header section may not be larger than this (RFC 5322 has no limit; Postfix's
/// default header_size_limit is 100 KiB; this keeps a hostile header block bounded).
pub const MAX_HEADER_BYTES: usize = 1 << 20;

/// One header field, exactly as given but for line endings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name as written (trailing white space before the colon removed).
    pub name: String,
    /// Everything after the colon, with folding kept; line breaks inside are `\n`.
    pub value: Vec<u8>,
}

impl Field {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// `Name:value` with the given line ending at every fold and at the end.
    pub fn write_to(&self, out: &mut Vec<u8>, eol: &[u8]) {
        out.extend_from_slice(self.name.as_bytes());
        out.push(b':');
        for (i, part) in self.value.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                out.extend_from_slice(eol);
            }
            out.extend_from_slice(part);
        }
        out.extend_from_slice(eol);
    }

    /// The value unfolded and trimmed (folds become nothing: the white space after them stays).
    pub fn unfolded(&self) -> Vec<u8> {
        let v: Vec<u8> = self.value.iter().copied().filter(|&b| b != b'\n').collect();
        let start = v
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(v.len());
        let end = v
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(start, |e| e + 1);
        v[start..end].to_vec()
    }
}

/// The header section of the input.
#[derive(Debug, Clone, Default)]
pub struct Head {
    pub fields: Vec<Field>,
}

impl Head {
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.is(name))
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        self.fields.iter().filter(move |f| f.is(name))
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Reads standard input: first [`Input::read_head`], then the body through [`Body`].
pub struct Input<R> {
    inner: R,
    ignore_dots: bool,
    /// Input ended (a lone dot, or end of file).
    ended: bool,
    /// The first body line when the header section ended at a line that is not a field.
    carry: Vec<u8>,
}

fn read_err(e: io::Error) -> Error {
    Error::NoInput(format!("cannot read the message from standard input: {e}"))
}

/// Reads one line (with its LF, if any) into `line`, at most `cap` bytes; returns false at
/// end of input. Longer lines are cut at `cap` (the caller reports them).
fn read_line_capped<R: BufRead>(r: &mut R, line: &mut Vec<u8>, cap: usize) -> io::Result<bool> {
    line.clear();
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(!line.is_empty());
        }
        let room = cap.saturating_sub(line.len());
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(p) if p < room => (p + 1, true),
            _ if buf.len() >= room => (room, true),
            _ => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            return Ok(true);
        }
    }
}

/// A line's content without its line ending (LF or CRLF).
fn strip_eol(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn is_dot_line(line: &[u8]) -> bool {
    strip_eol(line) == b"."
}

/// A field line is `name:` with a name of printable ASCII but ':' (obsolete syntax allows
/// white space before the colon).
fn field_name(line: &[u8]) -> Option<&str> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    let trimmed_len = name
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |p| p + 1);
    let name = &name[..trimmed_len];
    if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
        return None;
    }
    std::str::from_utf8(name).ok()
}

impl<R: BufRead> Input<R> {
    pub fn new(inner: R, ignore_dots: bool) -> Self {
        Input {
            inner,
            ignore_dots,
            ended: false,
            carry: Vec::new(),
        }
    }

    /// Reads the header section. Drops one leading mbox `From ` line. The section ends at
    /// an empty line (consumed), at a line that is not a header field (kept as the first
    /// body line), at a lone dot without `-i`, or at the end of input.
    pub fn read_head(&mut self) -> Result<Head> {
        let mut head = Head::default();
        let mut line = Vec::new();
        let mut total = 0usize;
        let mut first = true;
        loop {
            let cap = MAX_HEADER_BYTES + 2 - total.min(MAX_HEADER_BYTES);
            if !read_line_capped(&mut self.inner, &mut line, cap).map_err(read_err)? {
                self.ended = true;
                return Ok(head);
            }
            if first && line.starts_with(b"From ") {
                first = false;
                continue;
            }
            first = false;
            total += line.len();
            if total > MAX_HEADER_BYTES {
                return Err(Error::Data(format!(
                    "the header section is larger than {} KiB",
                    MAX_HEADER_BYTES >> 10
                )));
            }
            if !self.ignore_dots && is_dot_line(&line) {
                self.ended = true;
                return Ok(head);
            }
            let content = strip_eol(&line);
            if content.is_empty() {
                return Ok(head);
            }
            if content.contains(&0) {
                return Err(Error::Data("the header section contains a NUL byte".into()));
            }
            if content.contains(&b'\r') {
                return Err(Error::Data(
                    "the header section contains a bare carriage return".into(),
                ));
            }
            if content[0] == b' ' || content[0] == b'\t' {
                if let Some(last) = head.fields.last_mut() {
                    last.value.push(b'\n');
                    last.value.extend_from_slice(content);
                    continue;
                }
            } else if let Some(name) = field_name(content) {
                let colon = content.iter().position(|&b| b == b':').unwrap_or(0);
                head.fields.push(Field {
                    name: name.to_string(),
                    value: content[colon + 1..].to_vec(),
                });
                continue;
            }
            // Not a field: the body starts here, without an empty line between.
            self.carry = line;
            return Ok(head);
        }
    }

    /// The body, as a stream of CRLF-canonical bytes.
    pub fn body(self) -> Body<R> {
        let mut b = Body {
            inner: self.inner,
            ignore_dots: self.ignore_dots,
            ended: self.ended,
            at_line_start: true,
            last_cr: false,
            out: Vec::with_capacity(CHUNK + 2),
            pos: 0,
        };
        if !self.carry.is_empty() {
            // The carried line was already checked for a dot.
            b.emit(&self.carry);
            b.at_line_start = self.carry.ends_with(b"\n");
        }
        b
    }
}

const CHUNK: usize = 64 * 1024;

/// The message body: reads the rest of the input, turns every line ending into CRLF, and
/// stops at a lone dot line unless `-i` was given. Never waits for more than it needs.
pub struct Body<R> {
    inner: R,
    ignore_dots: bool,
    ended: bool,
    at_line_start: bool,
    /// The last byte emitted was a CR (so a following LF is already canonical).
    last_cr: bool,
    out: Vec<u8>,
    pos: usize,
}

impl<R: BufRead> Body<R> {
    /// Appends input bytes to `out`, canonicalizing line endings.
    fn emit(&mut self, data: &[u8]) {
        emit_crlf(&mut self.out, &mut self.last_cr, data);
    }

    /// Refills `out` with the next piece of the body; leaves it empty at the end.
    fn fill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.pos = 0;
        while self.out.is_empty() && !self.ended {
            if self.ignore_dots {
                let buf = self.inner.fill_buf()?;
                if buf.is_empty() {
                    self.ended = true;
                    break;
                }
                let n = buf.len().min(CHUNK);
                emit_crlf(&mut self.out, &mut self.last_cr, &buf[..n]);
                self.inner.consume(n);
                continue;
            }
            // Dot rule: look at whole lines, but never hold more than CHUNK of one line.
            let mut line = Vec::new();
            if !read_line_capped(&mut self.inner, &mut line, CHUNK)? {
                self.ended = true;
                break;
            }
            if self.at_line_start && is_dot_line(&line) {
                self.ended = true;
                break;
            }
            self.at_line_start = line.ends_with(b"\n");
            self.emit(&line);
        }
        Ok(())
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.out.len() {
            self.fill()?;
            if self.out.is_empty() {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Appends `data` to `out` with every bare LF turned into CRLF; `last_cr` says whether the
/// byte before `data` was a CR (and is updated). Runs of canonical text are copied whole:
/// memchr(3) finds the line ends, so already-CRLF input is one copy.
fn emit_crlf(out: &mut Vec<u8>, last_cr: &mut bool, data: &[u8]) {
    let Some(&last) = data.last() else {
        return;
    };
    let mut start = 0;
    for p in crate::sys::byte_positions(b'\n', data) {
        let cr_before = if p > 0 {
            data[p - 1] == b'\r'
        } else {
            *last_cr
        };
        if !cr_before {
            out.extend_from_slice(&data[start..p]);
            out.extend_from_slice(b"\r\n");
            start = p + 1;
        }
    }
    out.extend_from_slice(&data[start..]);
    *last_cr = last == b'\r';
}

/// What a scan of a whole body found (for synthesizing a text/plain child, rule 2 of
/// docs/message.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyStats {
    pub has_nul: bool,
    /// Some line (without CRLF) is longer than 998 octets.
    pub long_line: bool,
    /// A CR that does not end a line (not followed by LF): 7bit and 8bit forbid it.
    pub lone_cr: bool,
    pub ascii: bool,
    pub utf8: bool,
}

/// Streaming scanner behind [`BodyStats`]: feed it chunks in order, then [`Scanner::finish`].
#[derive(Debug)]
pub struct Scanner {
    stats: BodyStats,
    line_len: usize,
    last_cr: bool,
    /// Bytes of an incomplete UTF-8 sequence at the end of the last chunk.
    carry: Vec<u8>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            stats: BodyStats {
                has_nul: false,
                long_line: false,
                lone_cr: false,
                ascii: true,
                utf8: true,
            },
            line_len: 0,
            last_cr: false,
            carry: Vec::new(),
        }
    }
}

/// A CR in `data` not followed by LF (`cr_before`: the byte before `data` was a CR); a CR
/// at the very end is left for the next piece, or [`Scanner::finish`], to judge.
fn lone_cr(cr_before: bool, data: &[u8]) -> bool {
    if cr_before && data.first().is_some_and(|&b| b != b'\n') {
        return true;
    }
    crate::sys::byte_positions(b'\r', data).any(|p| data.get(p + 1).is_some_and(|&b| b != b'\n'))
}

fn utf8_width(b: u8) -> usize {
    match b {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

impl Scanner {
    pub fn feed(&mut self, mut data: &[u8]) {
        let s = &mut self.stats;
        if data.contains(&0) {
            s.has_nul = true;
        }
        if !s.lone_cr {
            s.lone_cr = lone_cr(self.last_cr, data);
        }
        for part in data.split_inclusive(|&b| b == b'\n') {
            let Some((&last, before)) = part.split_last() else {
                continue;
            };
            if last == b'\n' {
                let cr = before.last().map_or(self.last_cr, |&b| b == b'\r');
                let len = self.line_len + before.len() - usize::from(cr);
                if len > 998 {
                    s.long_line = true;
                }
                self.line_len = 0;
                self.last_cr = false;
            } else {
                self.line_len += part.len();
                self.last_cr = last == b'\r';
                // 999 bytes could still be 998 and a CR of a CRLF.
                if self.line_len > 999 {
                    s.long_line = true;
                }
            }
        }
        if s.ascii && !data.is_ascii() {
            s.ascii = false;
        }
        if !s.utf8 || s.ascii {
            return;
        }
        if !self.carry.is_empty() {
            let want = utf8_width(self.carry[0]);
            let take = (want - self.carry.len()).min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < want {
                return;
            }
            if std::str::from_utf8(&self.carry).is_err() {
                s.utf8 = false;
                return;
            }
            self.carry.clear();
        }
        if let Err(e) = std::str::from_utf8(data) {
            if e.error_len().is_none() {
                self.carry = data[e.valid_up_to()..].to_vec();
            } else {
                s.utf8 = false;
            }
        }
    }

    pub fn finish(mut self) -> BodyStats {
        if self.last_cr {
            self.stats.lone_cr = true;
        }
        if !self.carry.is_empty() {
            self.stats.utf8 = false;
        }
        if self.stats.ascii {
            self.stats.utf8 = true;
        }
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &[u8], ignore_dots: bool) -> Result<(Head, Vec<u8>)> {
        let mut i = Input::new(input, ignore_dots);
        let head = i.read_head()?;
        let mut body = Vec::new();
        i.body().read_to_end(&mut body).unwrap();
        Ok((head, body))
    }

    /// Byte at a time, as the reference for [`emit_crlf`].
    fn crlf_bytewise(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = 0u8;
        for &b in data {
            if b == b'\n' && prev != b'\r' {
                out.push(b'\r');
            }
            out.push(b);
            prev = b;
        }
        out
    }

    #[test]
    fn crlf_conversion_matches_bytewise_in_any_pieces() {
        let mut data = Vec::new();
        for i in 0..3000u32 {
            data.push(match i.wrapping_mul(2_654_435_761) >> 28 {
                0..=2 => b'\n',
                3..=4 => b'\r',
                _ => b'a' + (i % 26) as u8,
            });
        }
        data.extend_from_slice(b"\r\n\n\r\r\n\n");
        let want = crlf_bytewise(&data);
        for step in [1, 2, 3, 7, 64, 1000, data.len()] {
            let mut out = Vec::new();
            let mut last_cr = false;
            for piece in data.chunks(step) {
                emit_crlf(&mut out, &mut last_cr, piece);
                emit_crlf(&mut out, &mut last_cr, &[]);
            }
            assert!(out == want, "pieces of {step}");
        }
    }

    #[test]
    fn headers_fold_and_body_canonicalizes() {
        let (h, b) = read(b"Subject: a\n b\r\nTo: x@y\r\n\nl1\nl2\r\nl3", true).unwrap();
        assert_eq!(h.fields.len(), 2);
        assert_eq!(h.get("subject").unwrap().value, b" a\n b");
        assert_eq!(b, b"l1\r\nl2\r\nl3");
    }

    #[test]
    fn dot_ends_input_without_i() {
        let (_, b) = read(b"S: x\n\nl1\n.\nl3\n", false).unwrap();
        assert_eq!(b, b"l1\r\n");
        let (_, b) = read(b"S: x\n\nl1\n.\r\nl3\n", false).unwrap();
        assert_eq!(b, b"l1\r\n");
        let (_, b) = read(b"S: x\n\nl1\n.\nl3\n", true).unwrap();
        assert_eq!(b, b"l1\r\n.\r\nl3\r\n");
        let (_, b) = read(b"S: x\n\nx\n..y\n.\nz", false).unwrap();
        assert_eq!(b, b"x\r\n..y\r\n");
        let (h, b) = read(b"S: x\n.\nrest\n", false).unwrap();
        assert_eq!(h.fields.len(), 1);
        assert!(b.is_empty());
    }

    #[test]
    fn dot_returns_without_waiting_for_eof() {
        // A reader that fails if read past the dot line.
        struct Guard(&'static [u8], usize);
        impl Read for Guard {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() {
                    panic!("read past the dot");
                }
                let n = 1.min(buf.len());
                buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let r = io::BufReader::with_capacity(1, Guard(b"S: x\n\nl1\n.\n", 0));
        let mut i = Input::new(r, false);
        i.read_head().unwrap();
        let mut body = Vec::new();
        i.body().read_to_end(&mut body).unwrap();
        assert_eq!(body, b"l1\r\n");
    }

    #[test]
    fn mbox_from_line_dropped_once() {
        let (h, _) = read(b"From me@x Sat Nov 28 12:00:00 2026\nTo: a@x\n\nb\n", true).unwrap();
        assert_eq!(h.fields.len(), 1);
        assert!(h.get("To").is_some());
    }

    #[test]
    fn no_separator_body_starts_at_first_non_field() {
        let (h, b) = read(b"To: a@x\nthis is body\nmore\n", true).unwrap();
        assert_eq!(h.fields.len(), 1);
        assert_eq!(b, b"this is body\r\nmore\r\n");
        let (h, b) = read(b"just text\n", true).unwrap();
        assert!(h.fields.is_empty());
        assert_eq!(b, b"just text\r\n");
        let (h, b) = read(b"", true).unwrap();
        assert!(h.fields.is_empty() && b.is_empty());
    }

    #[test]
    fn hostile_headers_are_data_errors() {
        let e = read(b"To: a\0b\n\n", true).unwrap_err();
        assert_eq!(e.exit_code().code(), 65);
        let e = read(b"To: a\rb\n\n", true).unwrap_err();
        assert_eq!(e.exit_code().code(), 65);
        let mut big = b"X-A: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEADER_BYTES + 10));
        let e = read(&big, true).unwrap_err();
        assert_eq!(e.exit_code().code(), 65);
        // Exactly at the cap is fine.
        let mut ok = b"X-A: ".to_vec();
        ok.extend(std::iter::repeat_n(b'a', MAX_HEADER_BYTES - 100));
        ok.extend_from_slice(b"\n\nbody");
        read(&ok, true).unwrap();
    }

    #[test]
    fn obsolete_space_before_colon() {
        let (h, _) = read(b"Subject : hi\n\n", true).unwrap();
        assert!(h.get("Subject").is_some());
    }

    #[test]
    fn scanner() {
        let scan = |parts: &[&[u8]]| {
            let mut s = Scanner::default();
            for p in parts {
                s.feed(p);
            }
            s.finish()
        };
        let s = scan(&[b"hello\r\n"]);
        assert!(s.ascii && s.utf8 && !s.has_nul && !s.long_line);
        let s = scan(&["J\u{f6}rg".as_bytes()]);
        assert!(!s.ascii && s.utf8);
        let split = "\u{20ac}".as_bytes();
        let s = scan(&[&split[..1], &split[1..2], &split[2..]]);
        assert!(s.utf8);
        assert!(!scan(&[b"\xff"]).utf8);
        assert!(!scan(&[b"\xe2\x82"]).utf8);
        assert!(scan(&[b"a\0b"]).has_nul);
        let long = vec![b'a'; 999];
        assert!(scan(&[&long, b"\r\n"]).long_line);
        let ok = vec![b'a'; 998];
        assert!(!scan(&[&ok[..500], &ok[500..], b"\r\n"]).long_line);
    }
}
