//! The data of one DATA command (RFC 5321 4.1.1.4, 4.5.2): dot-unstuffed, ended only by
//! CRLF `.` CRLF, and bounded by the SIZE limit.
//!
//! A bare LF (not after CR) is taken as a line end, as Postfix's
//! `smtpd_forbid_bare_newline = normal` does, but it never takes part in the end of the
//! data: `LF . LF`, `LF . CRLF` and `CRLF . LF` are a line holding `.`, not the end. A
//! client that means something else by them than its server does (the SMTP smuggling
//! pattern) so never starts a second message inside the first. The line `.` kept as data
//! keeps its dot.

use std::io::{self, BufRead, Read};

/// Where the reader is within the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line; `crlf`: the line before ended in CRLF (or this is the
    /// first line), so a `.` line here may end the data.
    Start { crlf: bool },
    /// Within a line.
    Mid,
    /// Within a line, just after a CR.
    MidCr,
    /// After a `.` at the start of a line.
    Dot { crlf: bool },
    /// After `.` CR at the start of a line.
    DotCr { crlf: bool },
    /// The terminating line was read.
    End,
}

/// Reads the data of one DATA command from `inner`, leaving it just after the terminating
/// line. End of input before it is an [`io::ErrorKind::UnexpectedEof`] error, so a cut
/// message is never taken for a whole one. More than `limit` bytes (after unstuffing) is
/// an error too, and [`DataReader::too_big`] says so; [`DataReader::drain`] then reads on
/// to the end without keeping anything.
pub struct DataReader<'a, R: ?Sized> {
    inner: &'a mut R,
    un: Unstuffer,
    limit: Option<u64>,
    count: u64,
    too_big: bool,
}

/// The dot rule's state machine, byte by byte (runs of plain bytes at once).
struct Unstuffer {
    state: State,
    /// Bytes to hand out before reading on (at most three: `.` CR then data).
    held: Vec<u8>,
    bare_lf: u64,
}

impl<'a, R: BufRead + ?Sized> DataReader<'a, R> {
    /// The data on `inner`, at most `limit` bytes of it (`None`: no limit).
    pub fn new(inner: &'a mut R, limit: Option<u64>) -> Self {
        DataReader {
            inner,
            un: Unstuffer {
                state: State::Start { crlf: true },
                held: Vec::with_capacity(4),
                bare_lf: 0,
            },
            limit,
            count: 0,
            too_big: false,
        }
    }

    /// Whether the terminating line was read.
    pub fn finished(&self) -> bool {
        self.un.state == State::End
    }

    /// Whether the data was longer than the limit.
    pub fn too_big(&self) -> bool {
        self.too_big
    }

    /// How many lines ended in a bare LF.
    pub fn bare_lf(&self) -> u64 {
        self.un.bare_lf
    }

    /// Reads and drops the rest of the data, up to the terminating line (with no limit).
    pub fn drain(&mut self) -> io::Result<()> {
        self.limit = None;
        io::copy(self, &mut io::sink()).map(|_| ())
    }

    /// Counts `n` more bytes handed out: an error past the limit.
    fn count(&mut self, n: usize) -> io::Result<()> {
        self.count += n as u64;
        if let Some(limit) = self.limit
            && self.count > limit
        {
            self.too_big = true;
            return Err(io::Error::other(format!(
                "the message is larger than the limit of {limit} bytes"
            )));
        }
        Ok(())
    }
}

impl Unstuffer {
    /// Steps over one byte `b`, putting what it makes data into `out` (from `n`) or, when
    /// `out` is full, into `held`.
    fn step(&mut self, b: u8, out: &mut [u8], n: &mut usize) {
        let mut put = |bytes: &[u8], held: &mut Vec<u8>| {
            for &x in bytes {
                if *n < out.len() {
                    out[*n] = x;
                    *n += 1;
                } else {
                    held.push(x);
                }
            }
        };
        self.state = match self.state {
            State::Start { crlf } if b == b'.' => State::Dot { crlf },
            State::Start { .. } | State::Mid => {
                put(&[b], &mut self.held);
                self.in_line(b)
            }
            State::MidCr => {
                put(&[b], &mut self.held);
                if b == b'\n' {
                    State::Start { crlf: true }
                } else {
                    self.in_line(b)
                }
            }
            State::Dot { crlf } => match b {
                b'\r' => State::DotCr { crlf },
                b'\n' => {
                    // `.` LF: a line holding a dot, kept.
                    self.bare_lf += 1;
                    put(b".\n", &mut self.held);
                    State::Start { crlf: false }
                }
                _ => {
                    // A stuffed dot: dropped.
                    put(&[b], &mut self.held);
                    State::Mid
                }
            },
            State::DotCr { crlf: true } if b == b'\n' => State::End,
            State::DotCr { crlf: false } if b == b'\n' => {
                put(b".\r\n", &mut self.held);
                State::Start { crlf: true }
            }
            State::DotCr { .. } => {
                // `.` CR then data: the dot was stuffing, the CR is data.
                put(&[b'\r', b], &mut self.held);
                if b == b'\r' { State::MidCr } else { State::Mid }
            }
            State::End => State::End,
        };
    }

    /// The state after data byte `b` within a line.
    fn in_line(&mut self, b: u8) -> State {
        match b {
            b'\r' => State::MidCr,
            b'\n' => {
                self.bare_lf += 1;
                State::Start { crlf: false }
            }
            _ => State::Mid,
        }
    }

    /// Fills `out` from the buffered input `avail`; returns (bytes used, bytes made).
    fn scan(&mut self, avail: &[u8], out: &mut [u8]) -> (usize, usize) {
        let (mut used, mut n) = (0, 0);
        while used < avail.len() && n < out.len() && self.held.is_empty() {
            if self.state == State::End {
                break;
            }
            if self.state == State::Mid {
                // The common case: a run of plain bytes, copied at once.
                let room = (avail.len() - used).min(out.len() - n);
                let run = &avail[used..used + room];
                let k = crate::sys::find_either(b'\r', b'\n', run).unwrap_or(room);
                out[n..n + k].copy_from_slice(&run[..k]);
                (used, n) = (used + k, n + k);
                if k == room {
                    continue;
                }
            }
            let b = avail[used];
            used += 1;
            self.step(b, out, &mut n);
        }
        (used, n)
    }
}

impl<R: BufRead + ?Sized> Read for DataReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if !self.un.held.is_empty() {
            let k = self.un.held.len().min(out.len());
            out[..k].copy_from_slice(&self.un.held[..k]);
            self.un.held.drain(..k);
            self.count(k)?;
            return Ok(k);
        }
        loop {
            if self.un.state == State::End {
                return Ok(0);
            }
            let avail = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "input ended before the line holding only '.'",
                ));
            }
            let (used, n) = self.un.scan(avail, out);
            self.inner.consume(used);
            if n > 0 {
                self.count(n)?;
                return Ok(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unstuff(input: &[u8]) -> (io::Result<Vec<u8>>, Vec<u8>) {
        let mut r = io::BufReader::with_capacity(3, input);
        let mut out = Vec::new();
        let res = {
            let mut d = DataReader::new(&mut r, None);
            d.read_to_end(&mut out).map(|_| out)
        };
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        (res, rest)
    }

    #[test]
    fn unstuffs_and_stops_at_crlf_dot_crlf() {
        let (got, rest) = unstuff(b"a\r\n..b\r\n.\r\nQUIT\r\n");
        assert_eq!(got.unwrap(), b"a\r\n.b\r\n");
        assert_eq!(rest, b"QUIT\r\n");
        let (got, _) = unstuff(b".\r\n");
        assert_eq!(got.unwrap(), b"");
        // A dot then CR not followed by LF is data.
        let (got, _) = unstuff(b".\rx\r\n.\r\n");
        assert_eq!(got.unwrap(), b"\rx\r\n");
        let (got, _) = unstuff(b"a.\r\n.\r\n");
        assert_eq!(got.unwrap(), b"a.\r\n");
        let (got, _) = unstuff(b"a\r\r\n.\r\n");
        assert_eq!(got.unwrap(), b"a\r\r\n");
    }

    /// The smuggling patterns: a bare LF next to the dot never ends the data.
    #[test]
    fn a_bare_lf_never_ends_the_data() {
        let (got, rest) = unstuff(b"a\n.\nMAIL FROM:<x@y>\r\n.\r\nQUIT\r\n");
        assert_eq!(got.unwrap(), b"a\n.\nMAIL FROM:<x@y>\r\n");
        assert_eq!(rest, b"QUIT\r\n");
        let (got, _) = unstuff(b"a\n.\r\nb\r\n.\r\n");
        assert_eq!(got.unwrap(), b"a\n.\r\nb\r\n");
        let (got, _) = unstuff(b"a\r\n.\nb\r\n.\r\n");
        assert_eq!(got.unwrap(), b"a\r\n.\nb\r\n");
        // Bare LF lines are lines: a stuffed dot after one is unstuffed.
        let (got, _) = unstuff(b"a\n..b\r\n.\r\n");
        assert_eq!(got.unwrap(), b"a\n.b\r\n");
        let (got, _) = unstuff(b"x\n.\n");
        assert_eq!(
            got.unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof,
            "LF . LF at the end is not the end"
        );
    }

    #[test]
    fn errors_at_end_of_input() {
        for cut in [&b"a\r\nb"[..], b"", b"a\r\n.", b"a\r\n.\r"] {
            let (got, _) = unstuff(cut);
            assert_eq!(
                got.unwrap_err().kind(),
                io::ErrorKind::UnexpectedEof,
                "{cut:?}"
            );
        }
    }

    #[test]
    fn with_tiny_output_buffers() {
        let input = b"..a\r\n.\rb\r\nc\n.\r\nd\r\n.\r\n";
        let mut r = &input[..];
        let mut d = DataReader::new(&mut r, None);
        let mut out = Vec::new();
        let mut buf = [0u8; 1];
        loop {
            let n = d.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, b".a\r\n\rb\r\nc\n.\r\nd\r\n");
        assert_eq!(d.bare_lf(), 1);
    }

    #[test]
    fn the_limit_stops_the_reader_and_drain_reads_to_the_end() {
        let input = b"0123456789\r\n0123456789\r\n.\r\nQUIT\r\n";
        let mut r = &input[..];
        let mut d = DataReader::new(&mut r, Some(15));
        let mut out = Vec::new();
        assert!(d.read_to_end(&mut out).is_err());
        assert!(d.too_big());
        d.drain().unwrap();
        assert!(d.finished());
        assert_eq!(r, b"QUIT\r\n");
        let mut r = &input[..];
        let mut d = DataReader::new(&mut r, Some(24));
        d.read_to_end(&mut Vec::new()).unwrap();
        assert!(!d.too_big());
    }
}
