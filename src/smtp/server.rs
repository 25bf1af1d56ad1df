//! The server side of RFC 5321 for one session: the greeting, EHLO/HELO, MAIL, RCPT, DATA,
//! RSET, NOOP, VRFY, HELP and QUIT, several transactions per session, within [`Limits`].
//! What a transaction's recipients and message become is the [`Handler`]'s.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::data::DataReader;
use super::path::{self, Mailbox, PathError};
use super::wire::{Input, Reply, read_line};
use crate::diag::sanitize;

/// The bounds of a session. The defaults are RFC 5321's (4.5.3.1, 4.5.3.2).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest command line (RFC 5321 asks for 512; more is taken).
    pub line: usize,
    /// Most recipients in one transaction (RFC 5321 asks for at least 100).
    pub rcpts: usize,
    /// Most unrecognized or refused commands before the session is closed.
    pub errors: usize,
    /// Largest message (bytes of data after unstuffing), advertised as SIZE (RFC 1870);
    /// `None`: no limit, and SIZE without a number.
    pub size: Option<u64>,
    /// How long the server waits for a command (RFC 5321 4.5.3.2.7: 5 minutes).
    pub command_timeout: Duration,
    /// How long it waits for the next piece of data inside DATA (4.5.3.2.5's data block: 3
    /// minutes).
    pub data_timeout: Duration,
}

/// RFC 5321 4.5.3.2.7.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
/// RFC 5321 4.5.3.2.5.
pub const DATA_TIMEOUT: Duration = Duration::from_secs(180);

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            line: 4096,
            rcpts: 1000,
            errors: 50,
            size: None,
            command_timeout: COMMAND_TIMEOUT,
            data_timeout: DATA_TIMEOUT,
        }
    }
}

/// The body type of MAIL's BODY= (RFC 6152).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Body {
    #[default]
    SevenBit,
    EightBitMime,
}

/// One transaction: MAIL FROM's reverse-path (`None`: `<>`) and parameters, and the
/// recipients the handler took.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    pub sender: Option<Mailbox>,
    /// SIZE= of MAIL FROM.
    pub size: Option<u64>,
    pub body: Body,
    /// SMTPUTF8 of MAIL FROM (RFC 6531): UTF-8 paths and header fields allowed.
    pub smtputf8: bool,
    pub rcpts: Vec<Mailbox>,
}

/// What a server does with what it is told.
pub trait Handler {
    /// The name in the greeting and in EHLO's reply.
    fn hostname(&self) -> String;

    /// A recipient of `tx`: `Err` is the reply instead of 250 (a policy that already
    /// refuses it: 5xx with the reason; a resource short now: 4xx).
    fn rcpt(&mut self, tx: &Transaction, rcpt: &Mailbox) -> Result<(), Reply> {
        let _ = (tx, rcpt);
        Ok(())
    }

    /// The message of `tx` (which has recipients): reads `data`, and returns the reply. A
    /// read error means that the message is not whole (cut, too large, timed out): then
    /// nothing of it may be handed on, and the server replies for it, not the handler.
    fn message(&mut self, tx: Transaction, data: &mut dyn Read) -> Reply;

    /// The session ends by a last reply of the server's (221 after QUIT, 421 for a timeout
    /// or too many errors): called before that reply is written, so that what the session
    /// holds is given back before the client can know it ended and connect again (the
    /// gateway's seat under `max_sessions`).
    fn closing(&mut self) {}
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// After QUIT.
    Quit,
    /// Input ended between transactions (every message was answered).
    Closed,
    /// Input ended inside DATA: that message was not taken.
    ClosedInData,
    /// The client was silent longer than a timeout (421 sent); `in_data`: inside DATA, so
    /// that message was not taken.
    TimedOut { in_data: bool },
    /// Too many errors (421 sent).
    TooManyErrors,
}

/// A session that could not go on: the input could not be read, or a reply not written.
#[derive(Debug)]
pub enum Failure {
    Read(io::Error),
    Write(io::Error),
}

/// What the loop does after a command.
enum Next {
    /// Answer and read the next command.
    Reply(Reply),
    /// Answer 354 and read the message of this transaction.
    Data(Transaction),
    /// Answer and end the session.
    Quit(Reply),
}

/// A command's outcome: what to do next, or an error reply (counted toward the limit).
type Handled = Result<Next, Reply>;

/// The state of one session between commands.
struct Session<'h, H> {
    handler: &'h mut H,
    limits: &'h Limits,
    tx: Option<Transaction>,
}

/// Serves one session on `input` and `out`: greeting, commands, each message handed to
/// `handler`. Every reply is flushed before the next command is read.
pub fn serve<R: Input + ?Sized, H: Handler>(
    input: &mut R,
    out: &mut dyn Write,
    handler: &mut H,
    limits: &Limits,
) -> Result<End, Failure> {
    let send = |out: &mut dyn Write, r: &Reply| r.write_to(out).map_err(Failure::Write);
    let greeting = format!("{} ESMTP pgpsendmail", handler.hostname());
    send(out, &Reply::new(220, greeting))?;
    let mut s = Session {
        handler,
        limits,
        tx: None,
    };
    let mut errors = 0usize;
    let mut line = Vec::with_capacity(512);
    loop {
        if errors >= limits.errors {
            s.handler.closing();
            send(out, &Reply::new(421, "4.7.0 too many errors; closing"))?;
            return Ok(End::TooManyErrors);
        }
        input.set_timeout(Some(limits.command_timeout));
        let cut = match read_line(input, &mut line, limits.line) {
            Ok(Some(cut)) => cut,
            Ok(None) => return Ok(End::Closed),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                s.handler.closing();
                send(out, &timed_out())?;
                return Ok(End::TimedOut { in_data: false });
            }
            Err(e) => return Err(Failure::Read(e)),
        };
        let next = s.command(&line, cut).unwrap_or_else(|reply| {
            errors += 1;
            Next::Reply(reply)
        });
        match next {
            Next::Reply(reply) => send(out, &reply)?,
            Next::Quit(reply) => {
                s.handler.closing();
                send(out, &reply)?;
                return Ok(End::Quit);
            }
            Next::Data(tx) => {
                send(out, &Reply::new(354, "End data with <CR><LF>.<CR><LF>"))?;
                input.set_timeout(Some(limits.data_timeout));
                match s.message(tx, input) {
                    Ok(reply) => send(out, &reply)?,
                    Err(end) => {
                        if let End::TimedOut { .. } = end {
                            s.handler.closing();
                            send(out, &timed_out())?;
                        }
                        return Ok(end);
                    }
                }
            }
        }
    }
}

fn timed_out() -> Reply {
    Reply::new(421, "4.4.2 timeout exceeded; closing")
}

impl<H: Handler> Session<'_, H> {
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
            "RSET" => {
                self.tx = None;
                ok(250, "2.0.0 Ok")
            }
            "NOOP" => ok(250, "2.0.0 Ok"),
            "VRFY" => ok(252, "2.5.0 cannot VRFY, but will take the message"),
            "HELP" => ok(
                214,
                "2.0.0 pgpsendmail: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY QUIT",
            ),
            "QUIT" => Ok(Next::Quit(Reply::new(221, "2.0.0 Bye"))),
            "EXPN" | "STARTTLS" | "AUTH" | "BDAT" | "ETRN" | "TURN" | "ATRN" | "SEND" | "SOML"
            | "SAML" => Err(Reply::new(502, "5.5.1 command not implemented")),
            // Not echoed: after a refused DATA a client's message lines arrive as commands,
            // and no reply quotes message content.
            _ => Err(Reply::new(500, "5.5.2 command not recognized")),
        }
    }

    fn ehlo(&mut self) -> Handled {
        self.tx = None;
        let size = match self.limits.size {
            Some(n) => format!("SIZE {n}"),
            None => "SIZE".into(),
        };
        Ok(Next::Reply(Reply {
            code: 250,
            lines: vec![
                self.handler.hostname(),
                "PIPELINING".into(),
                size,
                "8BITMIME".into(),
                "ENHANCEDSTATUSCODES".into(),
                "SMTPUTF8".into(),
            ],
        }))
    }

    fn helo(&mut self) -> Handled {
        self.tx = None;
        Ok(Next::Reply(Reply::new(250, self.handler.hostname())))
    }

    fn mail(&mut self, arg: &str) -> Handled {
        if self.tx.is_some() {
            return Err(Reply::new(503, "5.5.1 nested MAIL command"));
        }
        let syntax = || Reply::new(501, "5.5.4 syntax: MAIL FROM:<address>");
        let rest = strip_keyword(arg, "FROM:").ok_or_else(syntax)?;
        let (sender, params) = path::parse(rest).map_err(|e| match e {
            PathError::Syntax => syntax(),
            PathError::Mailbox => Reply::new(
                501,
                format!("5.1.7 bad sender address {}", sanitize(rest.trim())),
            ),
        })?;
        let mut tx = Transaction {
            sender,
            ..Transaction::default()
        };
        mail_params(params, &mut tx)
            .map_err(|p| Reply::new(555, format!("5.5.4 parameter not supported: {p}")))?;
        if let Some(s) = &tx.sender {
            needs_smtputf8(s, &tx)?;
        }
        if let (Some(want), Some(limit)) = (tx.size, self.limits.size)
            && want > limit
        {
            return Err(too_big(limit));
        }
        self.tx = Some(tx);
        Ok(Next::Reply(Reply::new(250, "2.1.0 Ok")))
    }

    fn rcpt(&mut self, arg: &str) -> Handled {
        let Some(tx) = &mut self.tx else {
            return Err(Reply::new(503, "5.5.1 need MAIL before RCPT"));
        };
        let syntax = || Reply::new(501, "5.5.4 syntax: RCPT TO:<address>");
        let rest = strip_keyword(arg, "TO:").ok_or_else(syntax)?;
        let (rcpt, params) = path::parse(rest).map_err(|e| match e {
            PathError::Syntax => syntax(),
            PathError::Mailbox => Reply::new(
                501,
                format!("5.1.3 bad recipient address {}", sanitize(rest.trim())),
            ),
        })?;
        let rcpt = rcpt.ok_or_else(|| Reply::new(501, "5.1.3 empty recipient address <>"))?;
        if !params.is_empty() {
            return Err(Reply::new(
                555,
                format!("5.5.4 parameter not supported: {}", sanitize(params)),
            ));
        }
        needs_smtputf8(&rcpt, tx)?;
        if tx.rcpts.len() >= self.limits.rcpts {
            // Not the client's error: it may send the rest in another transaction.
            return Ok(Next::Reply(Reply::new(452, "4.5.3 too many recipients")));
        }
        self.handler.rcpt(tx, &rcpt)?;
        tx.rcpts.push(rcpt);
        Ok(Next::Reply(Reply::new(250, "2.1.5 Ok")))
    }

    /// DATA: whether the message may be read now; the transaction ends here.
    fn data(&mut self, arg: &str) -> Handled {
        if !arg.trim().is_empty() {
            return Err(Reply::new(501, "5.5.4 DATA takes no argument"));
        }
        match self.tx.take() {
            None => Err(Reply::new(503, "5.5.1 need MAIL before DATA")),
            Some(tx) if tx.rcpts.is_empty() => {
                self.tx = Some(tx);
                Err(Reply::new(554, "5.5.1 no valid recipients"))
            }
            Some(tx) => Ok(Next::Data(tx)),
        }
    }

    /// Reads the message of `tx` and has the handler take it: its reply, or how the session
    /// ends when the data did not (input ended, or timed out).
    fn message<R: Input + ?Sized>(&mut self, tx: Transaction, input: &mut R) -> Result<Reply, End> {
        let mut data = DataReader::new(input, self.limits.size);
        let reply = self.handler.message(tx, &mut data);
        // Whatever happened, the rest of this message is read before the reply.
        match data.drain() {
            Ok(()) if data.too_big() => Ok(too_big(self.limits.size.unwrap_or(0))),
            Ok(()) if data.finished() => Ok(reply),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(End::TimedOut { in_data: true }),
            _ => Err(End::ClosedInData),
        }
    }
}

/// 552 5.3.4, as Postfix says it (RFC 1870 6.1 and 6.2).
fn too_big(limit: u64) -> Reply {
    Reply::new(
        552,
        format!("5.3.4 message size exceeds the fixed limit of {limit} bytes"),
    )
}

/// A UTF-8 path needs SMTPUTF8 on MAIL FROM (RFC 6531 3.4; Postfix's reply).
fn needs_smtputf8(m: &Mailbox, tx: &Transaction) -> Result<(), Reply> {
    if m.is_ascii() || tx.smtputf8 {
        return Ok(());
    }
    Err(Reply::new(
        553,
        "5.6.7 must declare SMTPUTF8 to send a UTF-8 address",
    ))
}

/// The ESMTP parameters of MAIL FROM: `BODY=7BIT|8BITMIME`, `SIZE=n`, `SMTPUTF8`; another
/// one is an error naming it.
fn mail_params(params: &str, tx: &mut Transaction) -> Result<(), String> {
    for p in params.split_ascii_whitespace() {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        };
        let ok = match (k.to_ascii_uppercase().as_str(), v) {
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => {
                tx.body = Body::SevenBit;
                true
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => {
                tx.body = Body::EightBitMime;
                true
            }
            ("SIZE", Some(v)) if v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) => {
                tx.size = Some(v.parse().unwrap_or(u64::MAX));
                !v.is_empty()
            }
            ("SMTPUTF8", None) => {
                tx.smtputf8 = true;
                true
            }
            _ => false,
        };
        if !ok {
            return Err(sanitize(p));
        }
    }
    Ok(())
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

    /// Takes every message, keeps what it read.
    #[derive(Default)]
    struct Keep {
        got: Vec<(Transaction, Vec<u8>)>,
    }

    impl Handler for Keep {
        fn hostname(&self) -> String {
            "mx.example".into()
        }
        fn rcpt(&mut self, _: &Transaction, rcpt: &Mailbox) -> Result<(), Reply> {
            if rcpt.as_str().starts_with("nokey") {
                return Err(Reply::new(550, "5.7.1 no key"));
            }
            Ok(())
        }
        fn message(&mut self, tx: Transaction, data: &mut dyn Read) -> Reply {
            let mut v = Vec::new();
            match data.read_to_end(&mut v) {
                Ok(_) => {
                    self.got.push((tx, v));
                    Reply::new(250, "2.0.0 Ok")
                }
                Err(_) => Reply::new(451, "4.3.0 not whole"),
            }
        }
    }

    fn run(script: &[u8], limits: &Limits) -> (End, Vec<u16>, String, Keep) {
        let mut k = Keep::default();
        let mut out = Vec::new();
        let mut input = script;
        let end = serve(&mut input, &mut out, &mut k, limits).unwrap();
        let text = String::from_utf8(out).unwrap();
        let codes = text
            .split_terminator("\r\n")
            .filter(|l| l.as_bytes().get(3) != Some(&b'-'))
            .map(|l| l[..3].parse().unwrap())
            .collect();
        (end, codes, text, k)
    }

    #[test]
    fn a_session_with_two_messages() {
        let (end, codes, text, k) = run(
            b"EHLO c\r\nMAIL FROM:< a@x (me)> BODY=8BITMIME\r\nRCPT TO:<\"b o b\"@y>\r\n\
RCPT TO:<nokey@y>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<c@y>\r\nDATA\r\n\
x\r\n.\r\nQUIT\r\n",
            &Limits::default(),
        );
        assert_eq!(end, End::Quit);
        assert_eq!(
            codes,
            [220, 250, 250, 250, 550, 354, 250, 250, 250, 354, 250, 221]
        );
        assert!(text.contains("250-SMTPUTF8\r\n") || text.contains("250 SMTPUTF8"));
        assert_eq!(k.got.len(), 2);
        let (tx, body) = &k.got[0];
        assert_eq!(tx.sender.as_ref().unwrap().as_str(), "a@x");
        assert_eq!(tx.body, Body::EightBitMime);
        let rcpts: Vec<&str> = tx.rcpts.iter().map(Mailbox::as_str).collect();
        assert_eq!(rcpts, ["\"b o b\"@y"]);
        assert_eq!(body, b"hi\r\n");
        assert!(k.got[1].0.sender.is_none());
    }

    #[test]
    fn size_is_advertised_and_enforced_at_mail_and_at_the_end_of_data() {
        let limits = Limits {
            size: Some(100),
            ..Limits::default()
        };
        let big = "x".repeat(200);
        let script = format!(
            "EHLO c\r\nMAIL FROM:<a@x> SIZE=101\r\nMAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<b@y>\r\n\
DATA\r\n{big}\r\n.\r\nNOOP\r\n"
        );
        let (end, codes, text, k) = run(script.as_bytes(), &limits);
        assert!(text.contains("250-SIZE 100\r\n"), "{text}");
        assert_eq!(codes, [220, 250, 552, 250, 250, 354, 552, 250]);
        assert!(text.contains("552 5.3.4 "), "{text}");
        assert_eq!(end, End::Closed);
        assert!(k.got.is_empty());
    }

    #[test]
    fn utf8_paths_need_smtputf8() {
        let (_, codes, text, k) = run(
            "EHLO c\r\nMAIL FROM:<josé@x>\r\nMAIL FROM:<a@x>\r\nRCPT TO:<用户@例子.广告>\r\n\
RSET\r\nMAIL FROM:<josé@x> SMTPUTF8\r\nRCPT TO:<用户@例子.广告>\r\nDATA\r\nhi\r\n.\r\n"
                .as_bytes(),
            &Limits::default(),
        );
        assert_eq!(codes, [220, 250, 553, 250, 553, 250, 250, 250, 354, 250]);
        assert!(text.contains("553 5.6.7 "));
        assert_eq!(k.got[0].0.rcpts[0].as_str(), "用户@例子.广告");
    }

    #[test]
    fn a_smuggled_second_message_is_part_of_the_first() {
        let (_, codes, _, k) = run(
            b"HELO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\none\n.\nMAIL FROM:<evil@x>\r\n\
RCPT TO:<b@y>\r\nDATA\r\nspoof\r\n.\r\nQUIT\r\n",
            &Limits::default(),
        );
        assert_eq!(codes, [220, 250, 250, 250, 354, 250, 221]);
        assert_eq!(k.got.len(), 1);
        assert!(k.got[0].1.starts_with(b"one\n.\nMAIL FROM:<evil@x>\r\n"));
    }

    #[test]
    fn a_silent_client_times_out_in_commands_and_in_data() {
        let limits = Limits {
            command_timeout: Duration::from_millis(50),
            data_timeout: Duration::from_millis(50),
            ..Limits::default()
        };
        for (script, in_data) in [
            (&b"EHLO c\r\n"[..], false),
            (
                b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nhalf",
                true,
            ),
        ] {
            let (r, mut w) = std::io::pipe().unwrap();
            w.write_all(script).unwrap();
            let mut input = io::BufReader::new(super::super::wire::Timed::new(r));
            let mut k = Keep::default();
            let mut out = Vec::new();
            let end = serve(&mut input, &mut out, &mut k, &limits).unwrap();
            assert_eq!(end, End::TimedOut { in_data });
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.ends_with("421 4.4.2 timeout exceeded; closing\r\n"),
                "{text}"
            );
            assert!(k.got.is_empty());
            drop(w);
        }
    }

    #[test]
    fn an_unrecognized_command_is_not_echoed() {
        let (_, codes, text, _) = run(b"HELO c\r\nSECRET-4410 text\r\n", &Limits::default());
        assert_eq!(codes, [220, 250, 500]);
        assert!(!text.contains("SECRET"), "{text}");
    }

    #[test]
    fn keywords_and_parameters() {
        assert_eq!(strip_keyword("from:<a>", "FROM:"), Some("<a>"));
        assert_eq!(strip_keyword("FROM : <a>", "FROM:"), Some(" <a>"));
        assert_eq!(strip_keyword("TO:<a>", "FROM:"), None);
        // Found by fuzz/fuzz_targets/smtp.rs: a multi-byte character across the keyword's
        // length panicked on slicing.
        assert_eq!(strip_keyword("RPT\u{5eb}O:<b@x>", "TO:"), None);
        assert_eq!(strip_keyword("T\u{5eb}:<b@x>", "TO:"), None);
        let mut tx = Transaction::default();
        assert!(mail_params("BODY=8BITMIME SIZE=100 SMTPUTF8", &mut tx).is_ok());
        assert_eq!((tx.size, tx.smtputf8), (Some(100), true));
        assert!(mail_params("SIZE=", &mut tx).is_err());
        assert!(mail_params("SMTPUTF8=yes", &mut tx).is_err());
        assert!(mail_params("BODY=BINARYMIME", &mut tx).is_err());
    }
}
