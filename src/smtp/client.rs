//! The client side of RFC 5321: the greeting and EHLO (HELO when EHLO is refused), then
//! transactions of MAIL, RCPT and DATA, one command at a time, each reply awaited within
//! RFC 5321 4.5.3.2's time; RSET and QUIT. The message is sent with CRLF line ends and
//! dot-stuffed.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::wire::{Input, Reply};

/// RFC 5321 4.5.3.2: the greeting, MAIL and RCPT (5 minutes), DATA's 354 (2 minutes) and
/// the reply after the data (10 minutes).
const GREETING: Duration = Duration::from_secs(300);
const MAIL: Duration = Duration::from_secs(300);
const RCPT: Duration = Duration::from_secs(300);
const DATA_INIT: Duration = Duration::from_secs(120);
const DATA_END: Duration = Duration::from_secs(600);

/// A TCP connection to `relay` (`HOST:PORT`), each address it names tried in turn, each
/// for at most `timeout`: the one way the gateway, `check` and `handoff_smtp` reach an SMTP
/// server. Without Nagle's algorithm (TCP_NODELAY): a client's commands are small writes,
/// each awaiting its reply, and Nagle held each one back for the server's delayed
/// acknowledgement (about 23 ms per transaction measured against Postfix's smtpd).
pub fn connect(relay: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::other("the name resolves to no address");
    for a in relay.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Why a session could not go on.
#[derive(Debug)]
pub enum Error {
    /// Reading or writing failed, or the server's reply was not SMTP (or took too long:
    /// [`io::ErrorKind::TimedOut`]).
    Io(io::Error),
    /// The server refused the session (its greeting or EHLO and HELO).
    Refused(Reply),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Refused(r) => write!(f, "refused: {} {}", r.code, r.text()),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

/// What became of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server took the message for these recipients (indexes into the list given);
    /// `refused` are those it refused at RCPT, with its replies.
    Accepted {
        taken: Vec<usize>,
        refused: Vec<(usize, Reply)>,
    },
    /// The server did not take the message: the reply that refused it (MAIL, DATA, the end
    /// of the data, or the last RCPT when it refused every recipient).
    Refused(Reply),
}

/// Where [`Client::stage`] left a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staged {
    /// The message was sent but for its final `.`: these recipients taken (indexes into the
    /// list given), these refused at RCPT with the server's replies.
    Ready {
        taken: Vec<usize>,
        refused: Vec<(usize, Reply)>,
    },
    /// The server refused it before its data (and it was reset).
    Refused(Reply),
}

/// A session with a server on `input` (its replies) and `output` (our commands).
pub struct Client<R, W> {
    input: R,
    output: W,
    /// The EHLO keywords, upper case (`SIZE`, `8BITMIME`, ...), with their parameters.
    pub extensions: Vec<String>,
    /// Parameters added to every MAIL (`RET=HDRS`, `ENVID=...`) and every RCPT
    /// (`NOTIFY=...`), each after a space; empty unless set.
    pub mail_params: String,
    pub rcpt_params: String,
    /// No reply is awaited longer than this (`None`: RFC 5321's times alone).
    cap: Option<Duration>,
}

impl<R: Input, W: Write> Client<R, W> {
    /// Waits for the greeting and says EHLO `host` (HELO when EHLO is refused).
    pub fn start(input: R, output: W, host: &str) -> Result<Self, Error> {
        Client::start_capped(input, output, host, None)
    }

    /// [`Client::start`], but no reply of the session is awaited longer than `cap`.
    pub fn start_within(input: R, output: W, host: &str, cap: Duration) -> Result<Self, Error> {
        Client::start_capped(input, output, host, Some(cap))
    }

    fn start_capped(input: R, output: W, host: &str, cap: Option<Duration>) -> Result<Self, Error> {
        let mut c = Client {
            input,
            output,
            extensions: Vec::new(),
            mail_params: String::new(),
            rcpt_params: String::new(),
            cap,
        };
        let greeting = c.reply(GREETING)?;
        if greeting.code != 220 {
            return Err(Error::Refused(greeting));
        }
        let ehlo = c.command(&format!("EHLO {host}"), MAIL)?;
        if ehlo.code == 250 {
            c.extensions = ehlo.lines[1..]
                .iter()
                .map(|l| l.to_ascii_uppercase())
                .collect();
            return Ok(c);
        }
        let helo = c.command(&format!("HELO {host}"), MAIL)?;
        if helo.code != 250 {
            return Err(Error::Refused(helo));
        }
        Ok(c)
    }

    /// From now on no reply is awaited longer than `cap`.
    pub fn set_cap(&mut self, cap: Duration) {
        self.cap = Some(cap);
    }

    /// Whether the server offered the extension `name` (`8BITMIME`, `SMTPUTF8`).
    pub fn offers(&self, name: &str) -> bool {
        self.extensions
            .iter()
            .any(|e| e.split(' ').next() == Some(name))
    }

    /// One transaction: MAIL FROM:<`sender`> (empty: the null sender), a RCPT TO for each
    /// of `rcpts`, and DATA with `message` (LF or CRLF line ends) when any was taken. A
    /// transaction that fails before its data is reset (RSET), so the session can go on.
    pub fn send(
        &mut self,
        sender: &str,
        rcpts: &[&str],
        message: &mut dyn Read,
    ) -> Result<Outcome, Error> {
        match self.stage(sender, rcpts, message)? {
            Staged::Refused(r) => Ok(Outcome::Refused(r)),
            Staged::Ready { taken, refused } => {
                let r = self.commit()?;
                if r.code != 250 {
                    return Ok(Outcome::Refused(r));
                }
                Ok(Outcome::Accepted { taken, refused })
            }
        }
    }

    /// [`Client::send`] but for the final `.`: the server has the whole message and has
    /// taken nothing yet; [`Client::commit`] ends the data, and a connection closed before
    /// that discards the transaction (RFC 5321 4.1.1.4). Several transactions staged on
    /// several connections can so be committed back to back.
    pub fn stage(
        &mut self,
        sender: &str,
        rcpts: &[&str],
        message: &mut dyn Read,
    ) -> Result<Staged, Error> {
        let mut mail = format!("MAIL FROM:<{sender}>{}", self.mail_params);
        if self.offers("8BITMIME") {
            mail.push_str(" BODY=8BITMIME");
        }
        let utf8 = !sender.is_ascii() || rcpts.iter().any(|r| !r.is_ascii());
        if utf8 && self.offers("SMTPUTF8") {
            mail.push_str(" SMTPUTF8");
        }
        if self.offers("PIPELINING") {
            return self.stage_pipelined(&mail, rcpts, message);
        }
        let r = self.command(&mail, MAIL)?;
        if r.code != 250 {
            self.rset()?;
            return Ok(Staged::Refused(r));
        }
        let (mut taken, mut refused) = (Vec::new(), Vec::new());
        for (i, rcpt) in rcpts.iter().enumerate() {
            let r = self.command(&format!("RCPT TO:<{rcpt}>{}", self.rcpt_params), RCPT)?;
            if r.code == 250 || r.code == 251 {
                taken.push(i);
            } else {
                refused.push((i, r));
            }
        }
        if taken.is_empty() {
            self.rset()?;
            let last = refused.pop().map(|(_, r)| r);
            return Ok(Staged::Refused(
                last.unwrap_or_else(|| Reply::new(554, "no recipients")),
            ));
        }
        let r = self.command("DATA", DATA_INIT)?;
        if r.code != 354 {
            self.rset()?;
            return Ok(Staged::Refused(r));
        }
        write_lines(message, &mut self.output)?;
        self.output.flush()?;
        Ok(Staged::Ready { taken, refused })
    }

    /// [`Client::stage`] with RFC 2920 PIPELINING: MAIL, every RCPT and DATA in one
    /// write, then their replies in order. A DATA answered 354 although MAIL or every RCPT
    /// was refused gets an empty message ended at once, whose reply is not taken for a
    /// success; the transaction is then reset.
    fn stage_pipelined(
        &mut self,
        mail: &str,
        rcpts: &[&str],
        message: &mut dyn Read,
    ) -> Result<Staged, Error> {
        let mut group = format!("{mail}\r\n");
        for rcpt in rcpts {
            group.push_str(&format!("RCPT TO:<{rcpt}>{}\r\n", self.rcpt_params));
        }
        group.push_str("DATA\r\n");
        self.output.write_all(group.as_bytes())?;
        self.output.flush()?;
        let mail = self.reply(MAIL)?;
        let (mut taken, mut refused) = (Vec::new(), Vec::new());
        for i in 0..rcpts.len() {
            let r = self.reply(RCPT)?;
            if r.code == 250 || r.code == 251 {
                taken.push(i);
            } else {
                refused.push((i, r));
            }
        }
        let data = self.reply(DATA_INIT)?;
        let why = if mail.code != 250 {
            Some(mail)
        } else if taken.is_empty() {
            Some(
                refused
                    .pop()
                    .map_or_else(|| Reply::new(554, "no recipients"), |(_, r)| r),
            )
        } else if data.code != 354 {
            Some(data.clone())
        } else {
            None
        };
        let Some(why) = why else {
            write_lines(message, &mut self.output)?;
            self.output.flush()?;
            return Ok(Staged::Ready { taken, refused });
        };
        if data.code == 354 {
            self.commit()?;
        }
        self.rset()?;
        Ok(Staged::Refused(why))
    }

    /// Ends the data of a [`Client::stage`]d transaction: the server's reply to it.
    pub fn commit(&mut self) -> Result<Reply, Error> {
        self.output.write_all(b".\r\n")?;
        self.output.flush()?;
        self.reply(DATA_END)
    }

    /// RSET: ends the transaction under way.
    pub fn rset(&mut self) -> Result<Reply, Error> {
        self.command("RSET", MAIL)
    }

    /// QUIT, and the server's 221.
    pub fn quit(mut self) -> Result<Reply, Error> {
        self.command("QUIT", MAIL)
    }

    /// Sends one command and reads its reply, waiting at most `wait`.
    fn command(&mut self, line: &str, wait: Duration) -> Result<Reply, Error> {
        self.output.write_all(line.as_bytes())?;
        self.output.write_all(b"\r\n")?;
        self.output.flush()?;
        self.reply(wait)
    }

    fn reply(&mut self, wait: Duration) -> Result<Reply, Error> {
        let wait = self.cap.map_or(wait, |c| c.min(wait));
        self.input.set_timeout(Some(wait));
        Ok(Reply::read_from(&mut self.input)?)
    }
}

/// Writes `message` as SMTP data: every line end CRLF (a bare LF becomes CRLF), a line
/// starting with `.` gets one more, a last line without an end gets one; then `.` CRLF.
pub fn write_stuffed(message: &mut dyn Read, w: &mut dyn Write) -> io::Result<()> {
    write_lines(message, w)?;
    w.write_all(b".\r\n")
}

/// [`write_stuffed`] without the final `.` CRLF.
fn write_lines(message: &mut dyn Read, w: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    let mut out = Vec::with_capacity(70 << 10);
    // At the start of a line; and whether the last byte was a CR.
    let (mut start, mut cr) = (true, false);
    loop {
        let n = match message.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        for &b in &buf[..n] {
            if start && b == b'.' {
                out.push(b'.');
            }
            if b == b'\n' && !cr {
                out.push(b'\r');
            }
            out.push(b);
            start = b == b'\n';
            cr = b == b'\r';
        }
        w.write_all(&out)?;
    }
    if !start {
        w.write_all(if cr { b"\n" } else { b"\r\n" })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed(m: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_stuffed(&mut &m[..], &mut out).unwrap();
        out
    }

    #[test]
    fn data_is_crlf_and_dot_stuffed() {
        assert_eq!(stuffed(b"a\n.b\n..\n"), b"a\r\n..b\r\n...\r\n.\r\n");
        assert_eq!(stuffed(b"a\r\n.\r\n"), b"a\r\n..\r\n.\r\n");
        assert_eq!(stuffed(b"no end"), b"no end\r\n.\r\n");
        assert_eq!(stuffed(b""), b".\r\n");
        assert_eq!(stuffed(b".x\r"), b"..x\r\n.\r\n");
    }

    #[test]
    fn a_staged_transaction_sends_all_but_the_final_dot_until_committed() {
        let replies = b"220 s\r\n250 s\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
        let mut cmds = Vec::new();
        {
            let mut c = Client::start(&replies[..], &mut cmds, "me").unwrap();
            let st = c.stage("a@x", &["b@x"], &mut &b"hi\n"[..]).unwrap();
            assert_eq!(
                st,
                Staged::Ready {
                    taken: vec![0],
                    refused: vec![]
                }
            );
        }
        assert!(
            cmds.ends_with(b"DATA\r\nhi\r\n"),
            "{:?}",
            String::from_utf8_lossy(&cmds)
        );
        let mut cmds = Vec::new();
        let mut c = Client::start(&replies[..], &mut cmds, "me").unwrap();
        c.stage("a@x", &["b@x"], &mut &b"hi\n"[..]).unwrap();
        assert_eq!(c.commit().unwrap().code, 250);
        drop(c);
        assert!(cmds.ends_with(b"hi\r\n.\r\n"));
    }

    #[test]
    fn pipelined_a_refused_transaction_sends_no_data_and_is_reset() {
        // MAIL, RCPT and DATA in one group; every RCPT refused, and a server that still
        // says 354 to DATA gets an empty message at once, then RSET.
        let replies = b"220 s\r\n250-s\r\n250 PIPELINING\r\n250 ok\r\n550 no\r\n\
354 go\r\n554 nothing\r\n250 reset\r\n";
        let mut cmds = Vec::new();
        let mut c = Client::start(&replies[..], &mut cmds, "me").unwrap();
        let out = c.send("a@x", &["no@x"], &mut &b"secret\n"[..]).unwrap();
        assert_eq!(out, Outcome::Refused(Reply::new(550, "no")));
        drop(c);
        let text = String::from_utf8(cmds).unwrap();
        assert!(
            text.ends_with("MAIL FROM:<a@x>\r\nRCPT TO:<no@x>\r\nDATA\r\n.\r\nRSET\r\n"),
            "{text}"
        );
        assert!(!text.contains("secret"));
        // Taken: the data follows the group.
        let replies = b"220 s\r\n250-s\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n\
354 go\r\n250 queued\r\n";
        let mut cmds = Vec::new();
        let mut c = Client::start(&replies[..], &mut cmds, "me").unwrap();
        c.rcpt_params = " NOTIFY=NEVER".into();
        let out = c.send("a@x", &["b@x"], &mut &b"hi\n"[..]).unwrap();
        assert_eq!(
            out,
            Outcome::Accepted {
                taken: vec![0],
                refused: vec![]
            }
        );
        drop(c);
        let text = String::from_utf8(cmds).unwrap();
        assert!(
            text.ends_with("RCPT TO:<b@x> NOTIFY=NEVER\r\nDATA\r\nhi\r\n.\r\n"),
            "{text}"
        );
    }

    /// A client against our own server: what was sent is what was received.
    #[test]
    fn a_transaction_against_the_server() {
        use crate::smtp::server::{self, Handler, Limits, Transaction};
        struct Take(Vec<u8>);
        impl Handler for Take {
            fn hostname(&self) -> String {
                "s".into()
            }
            fn rcpt(&mut self, _: &Transaction, m: &crate::smtp::Mailbox) -> Result<(), Reply> {
                if m.as_str() == "no@x" {
                    return Err(Reply::new(550, "5.1.1 no"));
                }
                Ok(())
            }
            fn message(&mut self, _: Transaction, data: &mut dyn Read) -> Reply {
                data.read_to_end(&mut self.0).unwrap();
                Reply::new(250, "2.0.0 ok")
            }
        }
        // The client's commands, recorded; then replayed into the server, whose replies the
        // client reads (lockstep is not needed: each side's reads are buffered).
        let script = {
            let mut cmds = Vec::new();
            let replies = b"220 s\r\n250-s\r\n250 8BITMIME\r\n250 ok\r\n250 ok\r\n550 no\r\n\
354 go\r\n250 ok\r\n221 bye\r\n";
            let mut c = Client::start(&replies[..], &mut cmds, "me").unwrap();
            let out = c
                .send("a@x", &["b@x", "no@x"], &mut &b"hi\n.dot\n"[..])
                .unwrap();
            assert_eq!(
                out,
                Outcome::Accepted {
                    taken: vec![0],
                    refused: vec![(1, Reply::new(550, "no"))]
                }
            );
            c.quit().unwrap();
            cmds
        };
        let mut take = Take(Vec::new());
        let mut replies = Vec::new();
        let end = server::serve(
            &mut &script[..],
            &mut replies,
            &mut take,
            &Limits::default(),
        );
        assert_eq!(end.unwrap(), server::End::Quit);
        assert_eq!(take.0, b"hi\r\n.dot\r\n");
        let text = String::from_utf8(replies).unwrap();
        assert!(text.contains("550 5.1.1 no"), "{text}");
    }
}
