//! Handing the encrypted copies to the next hop: each copy in an SMTP transaction of its
//! own, on a connection of its own (pgpsendmail(8), SERVE).
//!
//! Nothing is half-relayed: a transaction's data is only taken by the next hop at its
//! final `.` line, and SMTP discards a transaction whose connection ends before it (RFC 5321
//! 4.1.1.4). So the copies are staged first, up to [`BATCH`] at a time: each connected,
//! MAIL, every RCPT taken, DATA answered 354 and the whole copy sent but for the final
//! `.`; only when every copy of the batch stands there are the dots sent, back to back.
//! A failure before that closes every staged connection: nothing of the message was taken.
//! 250 goes to the client only when the next hop took every copy.

use std::io::{BufReader, BufWriter};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::diag::sanitize;
use crate::error::Result;
use crate::sendmail::deliver::{self, Copy, Deliverer};
use crate::smtp::client::{Client, Staged};
use crate::smtp::{Reply, Timed};
use crate::syslog;

/// Copies staged at once (connections to the next hop per message).
pub const BATCH: usize = 8;
/// How long a connection to the next hop may take to open.
const CONNECT: Duration = Duration::from_secs(30);

type Relayed = Client<BufReader<Timed<TcpStream>>, BufWriter<TcpStream>>;

/// The deliverer of `serve`: relays each copy to `relay` from `sender`, saying EHLO `helo`.
/// After [`Deliverer::deliver`], `reply` is what the client is to be told.
pub struct Relay<'a> {
    pub relay: &'a str,
    /// The reverse-path, empty for `<>`.
    pub sender: String,
    pub helo: &'a str,
    /// Where a copy not yet in a file of its own is assembled when memfds are unavailable.
    pub tmpdir: Option<&'a Path>,
    pub reply: Option<Reply>,
}

/// Why a copy could not be relayed: the reply for the client.
fn unreachable(relay: &str, e: &dyn std::fmt::Display) -> Reply {
    Reply::new(
        451,
        format!(
            "4.4.1 next hop {} not reachable: {}",
            sanitize(relay),
            sanitize(&e.to_string())
        ),
    )
}

/// The next hop's own refusal, passed on in its class.
fn refused(relay: &str, r: &Reply) -> Reply {
    let code = if r.is_transient() { 451 } else { 554 };
    let ext = if r.is_transient() { "4.4.0" } else { "5.4.0" };
    Reply::new(
        code,
        format!(
            "{ext} next hop {} refused the message: {} {}",
            sanitize(relay),
            r.code,
            sanitize(&r.text())
        ),
    )
}

impl Relay<'_> {
    /// Connects, and stages one copy: everything but the final `.`.
    fn stage(&self, copy: Copy) -> std::result::Result<Relayed, Reply> {
        let to = |e: &dyn std::fmt::Display| unreachable(self.relay, e);
        let stream = crate::smtp::client::connect(self.relay, CONNECT).map_err(|e| to(&e))?;
        let writer = stream.try_clone().map_err(|e| to(&e))?;
        let input = BufReader::new(Timed::new(stream));
        let mut c = Client::start(input, BufWriter::new(writer), self.helo).map_err(|e| to(&e))?;
        let mut body = deliver::stdin_for(copy.body, self.tmpdir).map_err(|e| to(&e))?;
        let rcpts: Vec<&str> = copy.recipients.iter().map(|a| a.as_str()).collect();
        match c
            .stage(&self.sender, &rcpts, &mut body)
            .map_err(|e| to(&e))?
        {
            Staged::Ready { refused: r, .. } if r.is_empty() => Ok(c),
            // Any recipient refused: the copy is not relayed whole, so not at all.
            Staged::Ready { refused: r, .. } => Err(refused(self.relay, &r[0].1)),
            Staged::Refused(r) => Err(refused(self.relay, &r)),
        }
    }

    /// Relays every copy; the client's reply, and each copy's reply from the next hop.
    fn relay_all(&self, copies: Vec<(Vec<std::ffi::OsString>, Copy)>) -> (Reply, Vec<String>) {
        let total = copies.len();
        let mut taken: Vec<String> = Vec::new();
        let mut rest = copies.into_iter().map(|(_, c)| c).peekable();
        while rest.peek().is_some() {
            let mut staged = Vec::new();
            for copy in rest.by_ref().take(BATCH) {
                match self.stage(copy) {
                    Ok(c) => staged.push(c),
                    // Dropping `staged` closes each connection before its `.`.
                    Err(r) => return (partial(r, taken.len(), total), taken),
                }
            }
            for mut c in staged {
                match c.commit() {
                    Ok(r) if r.code == 250 => {
                        taken.push(format!("{} {}", r.code, sanitize(&r.text())));
                        let _ = c.quit();
                    }
                    Ok(r) => return (partial(refused(self.relay, &r), taken.len(), total), taken),
                    Err(e) => {
                        let r = unreachable(self.relay, &e);
                        return (partial(r, taken.len(), total), taken);
                    }
                }
            }
        }
        let text = format!("2.0.0 Ok: encrypted, {total} cop{} relayed", plural(total));
        (Reply::new(250, text), taken)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

/// A failure after `sent` of `total` copies were taken: said in the reply, which keeps
/// the failure's class. A 4xx makes the client send the message again to every recipient
/// (those `sent` copies' recipients get it twice): a duplicate rather than a loss.
fn partial(r: Reply, sent: usize, total: usize) -> Reply {
    if sent == 0 {
        return r;
    }
    Reply::new(
        r.code,
        format!(
            "{} ({sent} of {total} copies were relayed before this)",
            r.text()
        ),
    )
}

impl Deliverer for Relay<'_> {
    fn deliver(
        &mut self,
        _program: &Path,
        copies: Vec<(Vec<std::ffi::OsString>, Copy)>,
        log: &syslog::Entry,
    ) -> Result<i32> {
        let start = Instant::now();
        let total = copies.len();
        let (reply, taken) = self.relay_all(copies);
        let delay = format!("delay={:.3}", start.elapsed().as_secs_f64());
        let shown = sanitize(self.relay);
        if reply.code == 250 {
            let status = format!("sent (relay {shown}: {}), {delay}", taken.join("; "));
            log.handed_on(total, &status);
        } else {
            let status = format!("failed (relay {shown}: {}), {delay}", reply.text());
            log.failed(total, &status);
        }
        let code = if reply.code == 250 { 0 } else { 75 };
        self.reply = Some(reply);
        Ok(code)
    }

    fn smtp_session(&mut self) {}
}
