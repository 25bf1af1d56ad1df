//! `-bs`: an SMTP session on standard input and output (spec/cli.md section 4; research
//! 4.2). This is how Alpine, and anything else configured to "speak SMTP to sendmail -bs",
//! sends mail.
//!
//! Owns: the server side of RFC 5321 for one local client: the greeting, EHLO/HELO, MAIL,
//! RCPT, DATA with dot-unstuffing, RSET, NOOP, VRFY, HELP and QUIT, several transactions
//! per session. Each DATA is read through [`DotReader`] straight into the same pipeline as
//! `-bm` ([`crate::send`]): encrypted, then every copy is spawned (never exec'ed) and
//! waited for; the reply after DATA is 250 only when the real sendmail accepted every copy.
//!
//! Invariants: standard output carries SMTP replies and nothing else (diagnostics go to
//! standard error, and the real sendmail's standard output is redirected there by the
//! deliverer). No message content appears in a reply. A message that cannot be encrypted
//! is answered 554 (permanent) or 451 (temporary) and nothing of it is handed on: `-bs` is
//! never a way around encryption.
//!
//! Untrusted input: every byte of standard input. Command lines are bounded
//! ([`MAX_LINE`]); message data is streamed, never held whole.

use std::io::{self, BufRead, Read, Write};
use std::path::Path;

use crate::config::{Config, Flavor};
use crate::diag::{self, sanitize, sanitize_bytes};
use crate::error::{Error, ExitCode, Result};
use crate::message::address::Address;
use crate::sendmail::args::{Invocation, Sender};
use crate::sendmail::deliver::Deliverer;
use crate::{Env, send};

/// Longest command line accepted (RFC 5321 4.5.3.1.4 asks for 512; we allow more).
pub const MAX_LINE: usize = 4096;
/// Most recipients in one transaction (RFC 5321 asks servers to take at least 100).
pub const MAX_RCPTS: usize = 1000;
/// Most unrecognized or out-of-order commands before the session is closed.
const MAX_ERRORS: usize = 50;

/// Reads one line (up to and including LF) into `buf`, at most `max` bytes of it; the rest
/// of a longer line is read and dropped. Returns `None` at end of input before any byte,
/// else whether the line was cut.
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<bool>> {
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
        let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
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

/// Where [`DotReader`] is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineState {
    /// At the start of a line.
    Start,
    /// Within a line.
    Mid,
    /// After a `.` at the start of a line.
    AfterDot,
    /// After `.` CR at the start of a line.
    AfterDotCr,
    /// The terminating `.` line was read.
    End,
}

/// The data of one DATA command: reads up to the line holding only `.` (CRLF or LF),
/// removes the leading dot of every line that starts with one (RFC 5321 4.5.2), and ends
/// there; the input is left just after the terminating line. End of input before it is an
/// [`io::ErrorKind::UnexpectedEof`] error, so a cut message is never sent.
pub struct DotReader<'a, R> {
    inner: &'a mut R,
    state: LineState,
    /// A byte to hand out before reading on (after `.` CR was found to be data).
    held: Option<u8>,
}

impl<'a, R: BufRead> DotReader<'a, R> {
    pub fn new(inner: &'a mut R) -> Self {
        DotReader {
            inner,
            state: LineState::Start,
            held: None,
        }
    }

    /// Whether the terminating line was read.
    pub fn finished(&self) -> bool {
        self.state == LineState::End
    }

    /// Reads and drops the rest of the data, up to the terminating line.
    pub fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }
}

impl<R: BufRead> Read for DotReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(b) = self.held.take() {
            out[0] = b;
            return Ok(1);
        }
        if self.state == LineState::End {
            return Ok(0);
        }
        loop {
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
            let mut used = 0;
            let mut n = 0;
            for &b in avail {
                if n == out.len() || self.state == LineState::End {
                    break;
                }
                used += 1;
                match self.state {
                    LineState::Start if b == b'.' => self.state = LineState::AfterDot,
                    LineState::Start | LineState::Mid => {
                        out[n] = b;
                        n += 1;
                        self.state = if b == b'\n' {
                            LineState::Start
                        } else {
                            LineState::Mid
                        };
                    }
                    LineState::AfterDot => match b {
                        b'\n' => self.state = LineState::End,
                        b'\r' => self.state = LineState::AfterDotCr,
                        _ => {
                            // A stuffed dot: the first one is dropped.
                            out[n] = b;
                            n += 1;
                            self.state = LineState::Mid;
                        }
                    },
                    LineState::AfterDotCr => {
                        if b == b'\n' {
                            self.state = LineState::End;
                        } else {
                            // `.` CR then data: the dot was stuffing, the CR is data.
                            out[n] = b'\r';
                            n += 1;
                            if n < out.len() {
                                out[n] = b;
                                n += 1;
                            } else {
                                self.held = Some(b);
                            }
                            self.state = LineState::Mid;
                        }
                    }
                    LineState::End => unreachable!("checked above"),
                }
            }
            self.inner.consume(used);
            if n > 0 || self.state == LineState::End {
                return Ok(n);
            }
        }
    }
}

/// The current transaction: MAIL FROM and RCPT TO so far.
#[derive(Default)]
struct Transaction {
    sender: Option<Sender>,
    rcpts: Vec<Address>,
}

/// The session's output: replies, each flushed at once.
struct Replies<'a> {
    out: &'a mut dyn Write,
}

impl Replies<'_> {
    fn send(&mut self, text: &str) -> Result<()> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|_| self.out.flush())
            .map_err(|e| Error::Io(format!("cannot write the SMTP reply: {e}")))
    }

    fn line(&mut self, code: u16, text: &str) -> Result<()> {
        self.send(&format!("{code} {text}\r\n"))
    }
}

/// The path of a MAIL FROM or RCPT TO: the text between `<` and its `>` (quoted parts may
/// hold `>`), and the parameters after it.
fn path_and_params(arg: &str) -> Option<(&str, &str)> {
    let arg = arg.trim_start();
    let rest = arg.strip_prefix('<')?;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some((&rest[..i], rest[i + 1..].trim())),
            _ => {}
        }
    }
    None
}

/// Drops an RFC 5321 source route (`@a,@b:user@c`), which servers ignore.
fn strip_route(path: &str) -> &str {
    if path.starts_with('@')
        && let Some(i) = path.find(':')
    {
        return &path[i + 1..];
    }
    path
}

/// Checks the ESMTP parameters of MAIL FROM: only what a client may send without an
/// extension we do not offer (`BODY=7BIT|8BITMIME`, `SIZE=n`).
fn mail_params(params: &str) -> std::result::Result<(), String> {
    for p in params.split_ascii_whitespace() {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let ok = match k.to_ascii_uppercase().as_str() {
            "BODY" => v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME"),
            "SIZE" => !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()),
            _ => false,
        };
        if !ok {
            return Err(sanitize(p));
        }
    }
    Ok(())
}

/// The reply after DATA for the pipeline's result.
fn data_reply(res: &Result<i32>) -> (u16, String) {
    match res {
        Ok(0) => (250, "2.0.0 Ok: encrypted and handed on".into()),
        Ok(code) => {
            let temporary = [69, 71, 73, 74, 75].contains(code);
            let (c, e) = if temporary {
                (451, "4.3.0")
            } else {
                (554, "5.3.0")
            };
            (
                c,
                format!("{e} the real sendmail failed with status {code}; see its error output"),
            )
        }
        Err(e) => {
            let (c, ext) = match e.exit_code() {
                ExitCode::NoUser => (554, "5.7.1"),
                ExitCode::DataErr => (554, "5.6.0"),
                ExitCode::Usage => (554, "5.5.4"),
                _ => (451, "4.3.0"),
            };
            (c, format!("{ext} {}", sanitize(&e.to_string())))
        }
    }
}

/// Serves one SMTP session; returns the exit status: 0 after QUIT or end of input between
/// transactions (every message was answered), 66 when input ended inside DATA (that message
/// was not sent), 74 when a reply could not be written.
#[allow(clippy::too_many_arguments)]
pub fn serve<R: BufRead>(
    base: &Invocation,
    cfg: &Config,
    program: &Path,
    flavor: Flavor,
    env: &Env,
    mut input: R,
    out: &mut dyn Write,
    deliverer: &mut dyn Deliverer,
) -> Result<i32> {
    let mut r = Replies { out };
    let host = &env.hostname;
    r.line(220, &format!("{host} ESMTP pgpsendmail"))?;
    let mut tx = Transaction::default();
    let mut errors = 0usize;
    let mut line = Vec::with_capacity(512);
    loop {
        if errors >= MAX_ERRORS {
            r.line(421, "4.7.0 too many errors; closing the session")?;
            return Ok(0);
        }
        let cut = match read_line(&mut input, &mut line, MAX_LINE) {
            Ok(Some(cut)) => cut,
            Ok(None) => return Ok(0),
            Err(e) => {
                return Err(Error::NoInput(format!(
                    "cannot read the SMTP session from standard input: {e}"
                )));
            }
        };
        if cut {
            errors += 1;
            r.line(500, "5.5.6 line too long")?;
            continue;
        }
        while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            line.pop();
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            errors += 1;
            r.line(500, "5.5.2 command is not valid UTF-8")?;
            continue;
        };
        if text.chars().any(|c| c.is_control() && c != '\t') {
            errors += 1;
            r.line(501, "5.5.2 control character in command")?;
            continue;
        }
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v, a),
            None => (text, ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if arg.trim().is_empty() => {
                errors += 1;
                r.line(501, "5.5.4 a domain or address literal is required")?;
            }
            "EHLO" => {
                tx = Transaction::default();
                r.send(&format!(
                    "250-{host}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
                ))?;
            }
            "HELO" => {
                tx = Transaction::default();
                r.line(250, host)?;
            }
            "MAIL" => {
                if tx.sender.is_some() {
                    errors += 1;
                    r.line(503, "5.5.1 nested MAIL command")?;
                    continue;
                }
                let Some(rest) = strip_keyword(arg, "FROM:") else {
                    errors += 1;
                    r.line(501, "5.5.4 syntax: MAIL FROM:<address>")?;
                    continue;
                };
                let Some((path, params)) = path_and_params(rest) else {
                    errors += 1;
                    r.line(501, "5.5.4 syntax: MAIL FROM:<address>")?;
                    continue;
                };
                if let Err(p) = mail_params(params) {
                    errors += 1;
                    r.line(555, &format!("5.5.4 parameter not supported: {p}"))?;
                    continue;
                }
                let path = strip_route(path);
                if path.is_empty() {
                    tx.sender = Some(Sender::Null);
                } else if Address::parse_single(path).is_ok() {
                    tx.sender = Some(Sender::Address(path.to_string()));
                } else {
                    errors += 1;
                    r.line(
                        501,
                        &format!("5.1.7 bad sender address <{}>", sanitize(path)),
                    )?;
                    continue;
                }
                r.line(250, "2.1.0 Ok")?;
            }
            "RCPT" => {
                if tx.sender.is_none() {
                    errors += 1;
                    r.line(503, "5.5.1 need MAIL before RCPT")?;
                    continue;
                }
                let Some((path, params)) = strip_keyword(arg, "TO:").and_then(path_and_params)
                else {
                    errors += 1;
                    r.line(501, "5.5.4 syntax: RCPT TO:<address>")?;
                    continue;
                };
                if !params.is_empty() {
                    errors += 1;
                    r.line(
                        555,
                        &format!("5.5.4 parameter not supported: {}", sanitize(params)),
                    )?;
                    continue;
                }
                if tx.rcpts.len() >= MAX_RCPTS {
                    r.line(452, "4.5.3 too many recipients")?;
                    continue;
                }
                match Address::parse_single(strip_route(path)) {
                    Ok(a) => {
                        tx.rcpts.push(a);
                        r.line(250, "2.1.5 Ok")?;
                    }
                    Err(_) => {
                        errors += 1;
                        r.line(
                            501,
                            &format!("5.1.3 bad recipient address <{}>", sanitize(path)),
                        )?;
                    }
                }
            }
            "DATA" => {
                if !arg.trim().is_empty() {
                    errors += 1;
                    r.line(501, "5.5.4 DATA takes no argument")?;
                    continue;
                }
                if tx.sender.is_none() {
                    errors += 1;
                    r.line(503, "5.5.1 need MAIL before DATA")?;
                    continue;
                }
                if tx.rcpts.is_empty() {
                    errors += 1;
                    r.line(554, "5.5.1 no valid recipients")?;
                    continue;
                }
                r.line(354, "End data with <CR><LF>.<CR><LF>")?;
                let t = std::mem::take(&mut tx);
                let inv = Invocation {
                    sender: t.sender,
                    recipients: t.rcpts,
                    extract_recipients: false,
                    ignore_dots: true,
                    ..base.clone()
                };
                let mut data = DotReader::new(&mut input);
                let res = send(&inv, cfg, program, flavor, env, &mut data, deliverer);
                // Whatever happened, the rest of this message is read before the reply.
                let drained = data.drain();
                if !data.finished() || drained.is_err() {
                    diag::say(format_args!(
                        "input ended inside DATA: that message was not sent"
                    ));
                    return Ok(ExitCode::NoInput.code());
                }
                if let Err(e) = &res {
                    diag::say(format_args!("{e}"));
                }
                let (code, text) = data_reply(&res);
                r.line(code, &text)?;
            }
            "RSET" => {
                tx = Transaction::default();
                r.line(250, "2.0.0 Ok")?;
            }
            "NOOP" => r.line(250, "2.0.0 Ok")?,
            "VRFY" => r.line(252, "2.5.0 cannot VRFY, but will take the message")?,
            "HELP" => r.line(
                214,
                "2.0.0 pgpsendmail: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY QUIT",
            )?,
            "QUIT" => {
                r.line(221, "2.0.0 Bye")?;
                return Ok(0);
            }
            "EXPN" | "STARTTLS" | "AUTH" | "BDAT" | "ETRN" | "TURN" | "ATRN" | "SEND" | "SOML"
            | "SAML" => {
                errors += 1;
                r.line(502, "5.5.1 command not implemented")?;
            }
            _ => {
                errors += 1;
                r.line(
                    500,
                    &format!(
                        "5.5.2 command not recognized: {}",
                        sanitize_bytes(&verb.as_bytes()[..verb.len().min(20)])
                    ),
                )?;
            }
        }
    }
}

/// `FROM:` / `TO:` after the verb, case-insensitive, with optional spaces around the colon
/// (a common client deviation).
fn strip_keyword<'a>(arg: &'a str, kw: &str) -> Option<&'a str> {
    let arg = arg.trim_start();
    let name = &kw[..kw.len() - 1];
    // `get`: the argument is any UTF-8, and the keyword's length may end inside a character.
    match arg.get(..name.len()) {
        Some(head) if head.eq_ignore_ascii_case(name) => {
            arg[name.len()..].trim_start().strip_prefix(':')
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unstuff(input: &[u8]) -> (io::Result<Vec<u8>>, Vec<u8>) {
        let mut r = io::BufReader::with_capacity(3, input);
        let mut out = Vec::new();
        let res = {
            let mut d = DotReader::new(&mut r);
            d.read_to_end(&mut out).map(|_| out)
        };
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        (res, rest)
    }

    #[test]
    fn dot_reader_unstuffs_and_stops_at_the_dot_line() {
        let (got, rest) = unstuff(b"a\r\n..b\r\n.\r\nQUIT\r\n");
        assert_eq!(got.unwrap(), b"a\r\n.b\r\n");
        assert_eq!(rest, b"QUIT\r\n");
        let (got, rest) = unstuff(b"x\n.\nnext");
        assert_eq!(got.unwrap(), b"x\n");
        assert_eq!(rest, b"next");
        let (got, _) = unstuff(b".\r\n");
        assert_eq!(got.unwrap(), b"");
        // A dot then CR not followed by LF is data.
        let (got, _) = unstuff(b".\rx\r\n.\r\n");
        assert_eq!(got.unwrap(), b"\rx\r\n");
        // Dots inside a line are data.
        let (got, _) = unstuff(b"a.\r\n.\r\n");
        assert_eq!(got.unwrap(), b"a.\r\n");
    }

    #[test]
    fn dot_reader_errors_at_end_of_input() {
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
    fn dot_reader_with_tiny_output_buffers() {
        let input = b"..a\r\n.\rb\r\n.\r\n";
        let mut r = &input[..];
        let mut d = DotReader::new(&mut r);
        let mut out = Vec::new();
        let mut buf = [0u8; 1];
        loop {
            let n = d.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, b".a\r\n\rb\r\n");
    }

    #[test]
    fn paths_and_parameters() {
        assert_eq!(
            path_and_params("<a@x> BODY=8BITMIME"),
            Some(("a@x", "BODY=8BITMIME"))
        );
        assert_eq!(path_and_params(" <\"a>b\"@x>"), Some(("\"a>b\"@x", "")));
        assert_eq!(path_and_params("<>"), Some(("", "")));
        assert_eq!(path_and_params("a@x"), None);
        assert_eq!(path_and_params("<a@x"), None);
        assert_eq!(strip_route("@r1,@r2:u@x"), "u@x");
        assert_eq!(strip_keyword("from:<a>", "FROM:"), Some("<a>"));
        assert_eq!(strip_keyword("FROM : <a>", "FROM:"), Some(" <a>"));
        assert_eq!(strip_keyword("TO:<a>", "FROM:"), None);
        // Found by fuzz/fuzz_targets/smtp.rs: a multi-byte character across the keyword's
        // length panicked on slicing.
        assert_eq!(strip_keyword("RPT\u{5eb}O:<b@x>", "TO:"), None);
        assert_eq!(strip_keyword("T\u{5eb}:<b@x>", "TO:"), None);
        assert!(mail_params("BODY=8BITMIME SIZE=100").is_ok());
        assert!(mail_params("SMTPUTF8").is_err());
        assert!(mail_params("BODY=BINARYMIME").is_err());
    }

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
    fn replies_for_results() {
        assert_eq!(data_reply(&Ok(0)).0, 250);
        assert_eq!(data_reply(&Ok(75)).0, 451);
        assert_eq!(data_reply(&Ok(1)).0, 554);
        assert_eq!(data_reply(&Err(Error::NoKey("no key".into()))).0, 554);
        assert_eq!(data_reply(&Err(Error::Data("bad".into()))).0, 554);
        assert_eq!(data_reply(&Err(Error::Os("memfd".into()))).0, 451);
        assert_eq!(data_reply(&Err(Error::Unavailable("gone".into()))).0, 451);
    }
}
