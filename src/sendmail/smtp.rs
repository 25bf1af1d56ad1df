//! `-bs`: an SMTP session on standard input and output (pgpsendmail(8), MODES;
//! docs/interface.md section 4). This is how Alpine, and anything else configured to "speak
//! SMTP to sendmail -bs", sends mail.
//!
//! Owns: the server side of RFC 5321 for one local client: the greeting, EHLO/HELO, MAIL,
//! RCPT, DATA with dot-unstuffing, RSET, NOOP, VRFY, HELP and QUIT, several transactions
//! per session. Each DATA is read through [`DotReader`] straight into the same pipeline as
//! `-bm` ([`crate::pipeline::send`]): encrypted, then every copy is spawned (never exec'ed) and
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

use crate::diag::{self, sanitize, sanitize_bytes};
use crate::error::{Error, ExitCode, Result};
use crate::message::address::Address;
use crate::pipeline::{self, Context};
use crate::sendmail::args::{Invocation, Sender};
use crate::sendmail::deliver::Deliverer;

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

/// One reply: its code and its lines (several for EHLO), written at once.
#[derive(Debug, PartialEq)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }
}

/// What the loop does after a command (a command that failed is an error reply instead).
enum Next {
    /// Answer and read the next command.
    Reply(Reply),
    /// Answer 354 and read the message of this transaction.
    Data(Transaction),
    /// Answer and end the session.
    Quit(Reply),
}

/// A command's outcome: what to do next, or an error reply (counted toward [`MAX_ERRORS`]).
type Handled = std::result::Result<Next, Reply>;

/// The session's output: replies, each flushed at once.
struct Replies<'a> {
    out: &'a mut dyn Write,
}

impl Replies<'_> {
    fn send(&mut self, reply: &Reply) -> Result<()> {
        let mut text = String::new();
        for (i, l) in reply.lines.iter().enumerate() {
            let sep = if i + 1 == reply.lines.len() { ' ' } else { '-' };
            text.push_str(&format!("{}{sep}{l}\r\n", reply.code));
        }
        self.out
            .write_all(text.as_bytes())
            .and_then(|_| self.out.flush())
            .map_err(|e| Error::Io(format!("cannot write the SMTP reply: {e}")))
    }
}

/// The state of one session between commands: the transaction so far.
struct Session<'a> {
    ctx: Context<'a>,
    tx: Transaction,
}

impl Session<'_> {
    /// One command line (read whole unless `cut`): checked, then handed to its verb.
    fn command(&mut self, line: &[u8], cut: bool) -> Handled {
        if cut {
            return Err(Reply::new(500, "5.5.6 line too long"));
        }
        let mut line = line;
        while let [rest @ .., b'\n' | b'\r'] = line {
            line = rest;
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return Err(Reply::new(500, "5.5.2 command is not valid UTF-8"));
        };
        if text.chars().any(|c| c.is_control() && c != '\t') {
            return Err(Reply::new(501, "5.5.2 control character in command"));
        }
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        let ok = |code, text: &str| Ok(Next::Reply(Reply::new(code, text)));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if arg.trim().is_empty() => Err(Reply::new(
                501,
                "5.5.4 a domain or address literal is required",
            )),
            "EHLO" => self.ehlo(),
            "HELO" => self.helo(),
            "MAIL" => self.mail(arg),
            "RCPT" => self.rcpt(arg),
            "DATA" => self.data(arg),
            "RSET" => self.rset(),
            "NOOP" => ok(250, "2.0.0 Ok"),
            "VRFY" => ok(252, "2.5.0 cannot VRFY, but will take the message"),
            "HELP" => ok(
                214,
                "2.0.0 pgpsendmail: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY QUIT",
            ),
            "QUIT" => Ok(Next::Quit(Reply::new(221, "2.0.0 Bye"))),
            "EXPN" | "STARTTLS" | "AUTH" | "BDAT" | "ETRN" | "TURN" | "ATRN" | "SEND" | "SOML"
            | "SAML" => Err(Reply::new(502, "5.5.1 command not implemented")),
            _ => Err(Reply::new(
                500,
                format!(
                    "5.5.2 command not recognized: {}",
                    sanitize_bytes(&verb.as_bytes()[..verb.len().min(20)])
                ),
            )),
        }
    }

    fn ehlo(&mut self) -> Handled {
        self.tx = Transaction::default();
        let host = self.ctx.env.hostname.clone();
        Ok(Next::Reply(Reply {
            code: 250,
            lines: vec![
                host,
                "PIPELINING".into(),
                "8BITMIME".into(),
                "ENHANCEDSTATUSCODES".into(),
            ],
        }))
    }

    fn helo(&mut self) -> Handled {
        self.tx = Transaction::default();
        Ok(Next::Reply(Reply::new(250, self.ctx.env.hostname.clone())))
    }

    fn rset(&mut self) -> Handled {
        self.tx = Transaction::default();
        Ok(Next::Reply(Reply::new(250, "2.0.0 Ok")))
    }

    fn mail(&mut self, arg: &str) -> Handled {
        if self.tx.sender.is_some() {
            return Err(Reply::new(503, "5.5.1 nested MAIL command"));
        }
        let syntax = || Reply::new(501, "5.5.4 syntax: MAIL FROM:<address>");
        let rest = strip_keyword(arg, "FROM:").ok_or_else(syntax)?;
        let (path, params) = path_and_params(rest).ok_or_else(syntax)?;
        mail_params(params)
            .map_err(|p| Reply::new(555, format!("5.5.4 parameter not supported: {p}")))?;
        let path = strip_route(path);
        self.tx.sender = Some(if path.is_empty() {
            Sender::Null
        } else if Address::parse_single(path).is_ok() {
            Sender::Address(path.to_string())
        } else {
            return Err(Reply::new(
                501,
                format!("5.1.7 bad sender address <{}>", sanitize(path)),
            ));
        });
        Ok(Next::Reply(Reply::new(250, "2.1.0 Ok")))
    }

    fn rcpt(&mut self, arg: &str) -> Handled {
        if self.tx.sender.is_none() {
            return Err(Reply::new(503, "5.5.1 need MAIL before RCPT"));
        }
        let (path, params) = strip_keyword(arg, "TO:")
            .and_then(path_and_params)
            .ok_or_else(|| Reply::new(501, "5.5.4 syntax: RCPT TO:<address>"))?;
        if !params.is_empty() {
            return Err(Reply::new(
                555,
                format!("5.5.4 parameter not supported: {}", sanitize(params)),
            ));
        }
        if self.tx.rcpts.len() >= MAX_RCPTS {
            // Not the client's error: it may send the rest in another transaction.
            return Ok(Next::Reply(Reply::new(452, "4.5.3 too many recipients")));
        }
        let a = Address::parse_single(strip_route(path)).map_err(|_| {
            Reply::new(
                501,
                format!("5.1.3 bad recipient address <{}>", sanitize(path)),
            )
        })?;
        self.tx.rcpts.push(a);
        Ok(Next::Reply(Reply::new(250, "2.1.5 Ok")))
    }

    /// DATA: whether the message may be read now; the transaction ends here.
    fn data(&mut self, arg: &str) -> Handled {
        if !arg.trim().is_empty() {
            return Err(Reply::new(501, "5.5.4 DATA takes no argument"));
        }
        if self.tx.sender.is_none() {
            return Err(Reply::new(503, "5.5.1 need MAIL before DATA"));
        }
        if self.tx.rcpts.is_empty() {
            return Err(Reply::new(554, "5.5.1 no valid recipients"));
        }
        Ok(Next::Data(std::mem::take(&mut self.tx)))
    }

    /// Reads the message of `tx` from `input` and sends it: the reply for it, or `None`
    /// when input ended inside it (nothing of it was sent).
    fn message<R: BufRead>(
        &self,
        tx: Transaction,
        input: &mut R,
        deliverer: &mut dyn Deliverer,
    ) -> Option<Reply> {
        let inv = Invocation {
            sender: tx.sender,
            recipients: tx.rcpts,
            extract_recipients: false,
            ignore_dots: true,
            ..self.ctx.inv.clone()
        };
        let ctx = Context {
            inv: &inv,
            ..self.ctx
        };
        let mut data = DotReader::new(input);
        let res = pipeline::send(&ctx, &mut data, deliverer);
        // Whatever happened, the rest of this message is read before the reply.
        let drained = data.drain();
        if !data.finished() || drained.is_err() {
            diag::say(format_args!(
                "input ended inside DATA: that message was not sent"
            ));
            return None;
        }
        if let Err(e) = &res {
            diag::say(format_args!("{e}"));
        }
        let (code, text) = data_reply(&res);
        Some(Reply::new(code, text))
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
pub fn serve<R: BufRead>(
    ctx: &Context,
    mut input: R,
    out: &mut dyn Write,
    deliverer: &mut dyn Deliverer,
) -> Result<i32> {
    let mut r = Replies { out };
    r.send(&Reply::new(
        220,
        format!("{} ESMTP pgpsendmail", ctx.env.hostname),
    ))?;
    let mut session = Session {
        ctx: *ctx,
        tx: Transaction::default(),
    };
    let mut errors = 0usize;
    let mut line = Vec::with_capacity(512);
    loop {
        if errors >= MAX_ERRORS {
            r.send(&Reply::new(
                421,
                "4.7.0 too many errors; closing the session",
            ))?;
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
        let next = session.command(&line, cut).unwrap_or_else(|reply| {
            errors += 1;
            Next::Reply(reply)
        });
        match next {
            Next::Reply(reply) => r.send(&reply)?,
            Next::Quit(reply) => {
                r.send(&reply)?;
                return Ok(0);
            }
            Next::Data(tx) => {
                r.send(&Reply::new(354, "End data with <CR><LF>.<CR><LF>"))?;
                match session.message(tx, &mut input, deliverer) {
                    Some(reply) => r.send(&reply)?,
                    None => return Ok(ExitCode::NoInput.code()),
                }
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
