//! The bytes of an SMTP session, for both sides: input whose reads can time out, bounded
//! line reads, and replies written and read.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

/// Most lines in one reply a client reads (a server's EHLO list is a dozen or so).
const MAX_REPLY_LINES: usize = 100;
/// Longest reply line a client reads (RFC 5321 4.5.3.1.5 asks for 512).
const MAX_REPLY_LINE: usize = 4096;

/// The input of a session: buffered, and able to bound how long the next read waits
/// (RFC 5321 4.5.3.2). A read that runs out of time fails with
/// [`io::ErrorKind::TimedOut`].
pub trait Input: BufRead {
    /// From now on, a read that finds nothing buffered waits at most `timeout` (`None`:
    /// as long as it takes).
    fn set_timeout(&mut self, timeout: Option<Duration>);
}

/// Bytes in memory never make a reader wait.
impl Input for &[u8] {
    fn set_timeout(&mut self, _: Option<Duration>) {}
}

/// Any buffered reader, without timeouts (the input of an in-process caller).
pub struct Untimed<R>(pub R);

impl<R: BufRead> Read for Untimed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: BufRead> BufRead for Untimed<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.0.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.0.consume(n)
    }
}

impl<R: BufRead> Input for Untimed<R> {
    fn set_timeout(&mut self, _: Option<Duration>) {}
}

impl<R: Read + AsFd> Input for BufReader<Timed<R>> {
    fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.get_mut().timeout = timeout;
    }
}

/// A descriptor (standard input, a pipe, a socket) whose reads wait at most `timeout` for
/// data: poll(2) first ([`crate::sys::wait_readable`]), then read. Wrap it in a
/// [`BufReader`] to make an [`Input`]; the buffer then sits above the timeout, so that
/// buffered bytes never wait.
pub struct Timed<R> {
    inner: R,
    timeout: Option<Duration>,
}

impl<R: Read + AsFd> Timed<R> {
    /// `inner` without a timeout until [`Input::set_timeout`] sets one.
    pub fn new(inner: R) -> Timed<R> {
        Timed {
            inner,
            timeout: None,
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

impl<R: Read + AsFd> Read for Timed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(t) = self.timeout
            && !crate::sys::wait_readable(self.inner.as_fd(), t)?
        {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("nothing received for {} s", t.as_secs()),
            ));
        }
        self.inner.read(buf)
    }
}

impl<R: AsFd> AsFd for Timed<R> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

/// Reads one line (up to and including LF) into `buf`, at most `max` bytes of it; the rest
/// of a longer line is read and dropped. Returns `None` at end of input before any byte,
/// else whether the line was cut.
pub fn read_line<R: BufRead + ?Sized>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let mut cut = false;
    let mut any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if any { Some(cut) } else { None });
        }
        any = true;
        let (chunk, done) = match crate::sys::find_byte(b'\n', avail) {
            Some(i) => (&avail[..=i], true),
            None => (avail, false),
        };
        let room = max.saturating_sub(buf.len());
        if chunk.len() > room {
            cut = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        r.consume(n);
        if done {
            return Ok(Some(cut));
        }
    }
}

/// One reply: its code and its lines (several for EHLO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// 4xx: the same command may succeed later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The lines joined by spaces, for a log or error line.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// Writes the reply (`code-` on every line but the last, `code ` on that) and flushes.
    /// A control character in a line (which would end it early) is written as `?`.
    pub fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        let mut text = String::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, l) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            let clean: String = l
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            text.push_str(&format!("{}{sep}{clean}\r\n", self.code));
        }
        if self.lines.is_empty() {
            text.push_str(&format!("{}\r\n", self.code));
        }
        w.write_all(text.as_bytes())?;
        w.flush()
    }

    /// Reads one reply, all its lines (a client's side). A line that is not `NNN`, `NNN `
    /// or `NNN-` and text, a code that changes between lines, too many lines, or end of
    /// input inside the reply is an error ([`io::ErrorKind::InvalidData`],
    /// [`io::ErrorKind::UnexpectedEof`]).
    pub fn read_from<R: BufRead + ?Sized>(r: &mut R) -> io::Result<Reply> {
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
        let mut buf = Vec::with_capacity(128);
        let mut reply = Reply {
            code: 0,
            lines: Vec::new(),
        };
        loop {
            if read_line(r, &mut buf, MAX_REPLY_LINE)?.is_none() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection ended inside a reply",
                ));
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line
                .get(..3)
                .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| (200..600).contains(c))
                .ok_or_else(|| bad("a reply line without a reply code"))?;
            if reply.code != 0 && code != reply.code {
                return Err(bad("a reply whose lines have different codes"));
            }
            reply.code = code;
            let (more, text) = match line.as_bytes().get(3) {
                None => (false, ""),
                Some(b' ') => (false, &line[4..]),
                Some(b'-') => (true, &line[4..]),
                Some(_) => return Err(bad("a reply line without a separator after its code")),
            };
            reply.lines.push(text.to_string());
            if !more {
                return Ok(reply);
            }
            if reply.lines.len() >= MAX_REPLY_LINES {
                return Err(bad("a reply of too many lines"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_the_rest_dropped() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        let mut r = &input[..];
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf, 100).unwrap(), Some(true));
        assert_eq!(buf.len(), 100);
        assert_eq!(read_line(&mut r, &mut buf, 100).unwrap(), Some(false));
        assert_eq!(buf, b"NOOP\r\n");
        assert_eq!(read_line(&mut r, &mut buf, 100).unwrap(), None);
    }

    #[test]
    fn replies_written_and_read_back() {
        let r = Reply {
            code: 250,
            lines: vec!["host".into(), "SIZE 100".into(), "bad\r\nline".into()],
        };
        let mut out = Vec::new();
        r.write_to(&mut out).unwrap();
        assert_eq!(out, b"250-host\r\n250-SIZE 100\r\n250 bad??line\r\n");
        let back = Reply::read_from(&mut &out[..]).unwrap();
        assert_eq!(back.code, 250);
        assert_eq!(back.lines, ["host", "SIZE 100", "bad??line"]);
        assert_eq!(Reply::read_from(&mut &b"354\r\n"[..]).unwrap().code, 354);
        for bad in [
            &b"25O ok\r\n"[..],
            b"250-a\r\n251 b\r\n",
            b"250xok\r\n",
            b"999 x\r\n",
        ] {
            let e = Reply::read_from(&mut &bad[..]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }
        let e = Reply::read_from(&mut &b"250-a\r\n"[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_timed_read_of_a_silent_pipe_times_out() {
        let (r, mut w) = std::io::pipe().unwrap();
        let mut input = BufReader::new(Timed::new(r));
        input.set_timeout(Some(Duration::from_millis(30)));
        let mut buf = Vec::new();
        let e = read_line(&mut input, &mut buf, 100).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        w.write_all(b"EHLO x\r\n").unwrap();
        assert_eq!(read_line(&mut input, &mut buf, 100).unwrap(), Some(false));
        assert_eq!(buf, b"EHLO x\r\n");
    }
}
