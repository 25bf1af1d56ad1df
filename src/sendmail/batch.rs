//! Many copies through one `-bs` run of the real sendmail (pgpsendmail(8), THE REAL
//! SENDMAIL; docs/interface.md section 5): where the flavor's sendmail reads SMTP on
//! standard input ([`Flavor::reads_smtp`]), the copies of one message become successive
//! transactions of one session ([`crate::smtp::client`]) instead of one run each.
//!
//! What the per-copy argv says goes into the dialogue: `-f` is MAIL FROM's reverse-path
//! (the login name without `-f`, which the MTA qualifies as it does its caller's name),
//! `-R` and `-V` are MAIL's `RET=` and `ENVID=`, `-N` each RCPT's `NOTIFY=` (RFC 3461),
//! offered only when the server says DSN. `-F` needs no place: it only names the sender in
//! a From field the MTA would add, and every copy batched is an encrypted one, whose outer
//! From pgpsendmail always writes (with `-F` in it when it makes one). A sender or DSN value
//! that cannot be said exactly so ([`Batch::new`] says `None`), or a session that does not
//! start or does not offer DSN when it is needed ([`Session::start`] says why), leaves the
//! copies to one run each, as before: nothing was handed on yet.
//!
//! Guarantees, as for one run per copy: every copy is complete in a file of its own before
//! its transaction starts; a transaction ends with the final `.`, so a copy cut short (this
//! process or the run killed) is discarded by the MTA, never taken short (RFC 5321 4.1.1.4);
//! a copy is handed on when, and only when, its final 250 arrived; a refusal of one copy
//! (4xx or 5xx) leaves that copy not sent and the session going on.
//!
//! With `handoff_smtp` (pgpsendmail.toml(5)) a session is a connection to the MTA's own
//! SMTP listener on loopback instead of a run (`Session::connect`): the same transactions,
//! a bare envelope name qualified as the MTA's sendmail would, and `sendmail -bs` when
//! nothing answers there.
//!
//! This file imports nothing of `deliver.rs`, which drives it.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::Flavor;
use crate::message::address::Address;
use crate::sendmail::args::{Invocation, Sender};
use crate::smtp::client::{Client, Outcome};
use crate::smtp::{Reply, Timed};

/// How the copies of one message go to one `-bs` run: from how many copies on, and what
/// MAIL and RCPT say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// From this many copies on (encrypted ones) they go to one run.
    pub min: usize,
    /// MAIL FROM's reverse-path, without the brackets (empty: the null sender).
    sender: String,
    /// MAIL's parameters (`RET=`, `ENVID=`), each after a space.
    mail_params: String,
    /// Each RCPT's parameters (`NOTIFY=`).
    rcpt_params: String,
    /// Name said in EHLO.
    helo: String,
    /// `handoff_smtp`: the MTA's SMTP listener on loopback the sessions connect to instead
    /// of running `sendmail -bs` ([`Batch::through`]).
    listener: Option<String>,
    /// The domain a bare name in the envelope gets on the way to `listener`
    /// (`qualify_domain`), as the MTA's own sendmail would give it.
    domain: String,
}

impl Batch {
    /// The batch for `inv` under `flavor`, from `min` copies on (0: never), for a caller
    /// whose login name is `login`, saying `helo` in EHLO. `None` when the flavor has no
    /// `-bs`, or what the argv would say cannot be said exactly in SMTP: a `-f` value that is
    /// not one bare address, a login name that is no plain local part, a DSN value outside
    /// RFC 3461's grammar.
    pub fn new(
        inv: &Invocation,
        flavor: Flavor,
        min: usize,
        login: &str,
        helo: &str,
    ) -> Option<Batch> {
        if min == 0 || !flavor.reads_smtp() {
            return None;
        }
        let sender = match &inv.sender {
            Some(Sender::Null) => String::new(),
            Some(Sender::Address(s)) => {
                let a = Address::parse_single(s).ok()?;
                (a.as_str() == s && !s.starts_with('-')).then(|| s.clone())?
            }
            None => plain_local_part(login).then(|| login.to_string())?,
        };
        // The flavors whose argv carries DSN options (deliver::downstream_args): Exim's
        // -N is "do not deliver", and it gets none.
        let dsn = matches!(flavor, Flavor::Postfix | Flavor::Sendmail);
        let mut mail_params = String::new();
        let mut rcpt_params = String::new();
        if dsn {
            if let Some(r) = &inv.dsn_ret {
                let r = r.to_ascii_uppercase();
                (r == "FULL" || r == "HDRS").then_some(())?;
                mail_params.push_str(&format!(" RET={r}"));
            }
            if let Some(v) = &inv.envid {
                mail_params.push_str(&format!(" ENVID={}", xtext(v)?));
            }
            if let Some(n) = &inv.dsn_notify {
                rcpt_params.push_str(&format!(" NOTIFY={}", notify(n)?));
            }
        }
        Some(Batch {
            min: min.max(2),
            sender,
            mail_params,
            rcpt_params,
            helo: helo.to_string(),
            listener: None,
            domain: String::new(),
        })
    }

    /// The same batch, its sessions connecting to `listener` (`handoff_smtp`; `None`:
    /// `sendmail -bs`), bare names in the envelope qualified with `domain` there.
    pub fn through(mut self, listener: Option<String>, domain: &str) -> Batch {
        self.listener = listener;
        self.domain = domain.to_string();
        self
    }

    /// Where the sessions go, for reports: the listener, or `None` for `sendmail -bs`.
    pub fn listener(&self) -> Option<&str> {
        self.listener.as_deref()
    }

    /// `addr` as the envelope carries it: on the way to a listener, a bare name (no `@`)
    /// gets `@domain`, as the MTA's sendmail would add its own; the null sender stays.
    fn envelope<'a>(&self, addr: &'a str) -> Cow<'a, str> {
        if self.listener.is_some() && !addr.is_empty() && !addr.contains('@') {
            Cow::Owned(format!("{addr}@{}", self.domain))
        } else {
            Cow::Borrowed(addr)
        }
    }

    /// Whether the transactions carry DSN parameters, which the server must offer.
    fn needs_dsn(&self) -> bool {
        !self.mail_params.is_empty() || !self.rcpt_params.is_empty()
    }
}

/// A login name MAIL FROM can carry as it is: a dot-atom's characters, as sendmail(8)
/// programs make the sender of it.
fn plain_local_part(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
}

/// RFC 3461 4.1 NOTIFY: `NEVER`, or a list of SUCCESS, FAILURE and DELAY.
fn notify(v: &str) -> Option<String> {
    let v = v.to_ascii_uppercase();
    if v == "NEVER" {
        return Some(v);
    }
    v.split(',')
        .all(|w| ["SUCCESS", "FAILURE", "DELAY"].contains(&w))
        .then_some(v)
}

/// RFC 3461 4: xtext, for ENVID (printable ASCII; `+`, `=` and the rest as `+HH`), at most
/// 100 characters before encoding.
fn xtext(v: &str) -> Option<String> {
    if v.is_empty() || v.len() > 100 || !v.is_ascii() {
        return None;
    }
    let mut out = String::new();
    for b in v.bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    Some(out)
}

/// What became of one copy's transaction.
#[derive(Debug)]
pub enum Sent {
    /// Its final 250 arrived: handed on, but for the recipients refused at RCPT (indexes
    /// into its list, with the replies).
    Taken { refused: Vec<(usize, Reply)> },
    /// Refused (at MAIL, at every RCPT, at DATA or after the data): not handed on; the
    /// session goes on.
    Refused(Reply),
    /// The session is over: this copy is not handed on, nor any after it.
    Gone(Gone),
}

/// How a session that cannot go on ended.
#[derive(Debug, Clone)]
pub struct Gone {
    /// The run's exit status, or the signal that ended it (both `None`: it was still
    /// running, and was stopped).
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// What went wrong, for the line on standard error.
    pub why: String,
}

/// A session's input: a `-bs` run's standard output, or a connection.
trait Wire: Read + AsFd + Send {}
impl<T: Read + AsFd + Send> Wire for T {}

type Input = BufReader<Timed<Box<dyn Wire>>>;
type Output = BufWriter<Box<dyn Write + Send>>;

/// How long a `-bs` run may take to greet and answer EHLO: a local sendmail answers at
/// once, and a program that reads its standard input without speaking SMTP (a sink, a
/// wrongly guessed flavor) must not hold the message for the whole wait bound before every
/// copy gets a run of its own instead.
pub const START_SECONDS: u64 = 30;

/// One `-bs` run of the real sendmail and the SMTP session with it, or a session with the
/// MTA's listener (`handoff_smtp`), which has no run.
pub struct Session<'b> {
    child: Option<Child>,
    client: Option<Client<Input, Output>>,
    batch: &'b Batch,
    /// Each reply awaited at most this long (and the run's end after QUIT).
    limit: Duration,
    /// Set when the session is over.
    gone: Option<Gone>,
}

impl<'b> Session<'b> {
    /// Starts `program -bs` (`argv[0]` is `sendmail`) with its standard input and output ours,
    /// its standard error the caller's, and has the greeting and EHLO, each within
    /// [`START_SECONDS`] (or `limit`, when shorter). `Err` (why) when the session does not
    /// start, or cannot carry the DSN parameters `batch` needs; the run is then ended:
    /// nothing was handed on.
    /// With a listener (`handoff_smtp`), the session is a connection to it instead
    /// (`Session::connect`); `Err` then says why it did not start, and the caller may try
    /// [`Session::start_bs`].
    pub fn start(program: &Path, batch: &'b Batch, limit: Duration) -> Result<Self, String> {
        match &batch.listener {
            Some(addr) => Session::connect(addr, batch, limit),
            None => Session::start_bs(program, batch, limit),
        }
    }

    /// A session with the MTA's SMTP listener at `addr` (a loopback address and port).
    fn connect(addr: &str, batch: &'b Batch, limit: Duration) -> Result<Self, String> {
        let start = limit.min(Duration::from_secs(START_SECONDS));
        let failed = |e: &dyn std::fmt::Display| format!("its listener {addr}: {e}");
        let stream = crate::smtp::client::connect(addr, start).map_err(|e| failed(&e))?;
        let writer = stream.try_clone().map_err(|e| failed(&e))?;
        let input: Box<dyn Wire> = Box::new(stream);
        let output: Box<dyn Write + Send> = Box::new(writer);
        Session::greet(None, input, output, batch, limit).map_err(|e| failed(&e))
    }

    /// [`Session::start`] through `sendmail -bs`, whatever the batch's listener.
    pub fn start_bs(program: &Path, batch: &'b Batch, limit: Duration) -> Result<Self, String> {
        let mut child = Command::new(program)
            .arg0("sendmail")
            .arg("-bs")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run it with -bs: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("no pipes to its -bs session".into());
        };
        let input: Box<dyn Wire> = Box::new(stdout);
        let output: Box<dyn Write + Send> = Box::new(stdin);
        Session::greet(Some(child), input, output, batch, limit)
            .map_err(|e| format!("its -bs session {e}"))
    }

    /// The greeting and EHLO on `input` and `output` (of `child`, when a run), within
    /// [`START_SECONDS`]; `Err` ends the run.
    fn greet(
        child: Option<Child>,
        input: Box<dyn Wire>,
        output: Box<dyn Write + Send>,
        batch: &'b Batch,
        limit: Duration,
    ) -> Result<Self, String> {
        let input = BufReader::new(Timed::new(input));
        let start = limit.min(Duration::from_secs(START_SECONDS));
        let started = Client::start_within(input, BufWriter::new(output), &batch.helo, start);
        let mut s = Session {
            child,
            client: None,
            batch,
            limit,
            gone: None,
        };
        match started {
            Ok(mut c) if !batch.needs_dsn() || c.offers("DSN") => {
                c.set_cap(limit);
                c.mail_params = batch.mail_params.clone();
                c.rcpt_params = batch.rcpt_params.clone();
                s.client = Some(c);
                Ok(s)
            }
            Ok(c) => {
                let _ = c.quit();
                s.finish();
                Err("offers no DSN, which -N, -R or -V needs".into())
            }
            Err(e) => {
                s.finish();
                Err(format!("did not start: {e}"))
            }
        }
    }

    /// One copy to `rcpts`, its complete file `copy` (rewound) as the data.
    pub fn send(&mut self, rcpts: &[Address], mut copy: File) -> Sent {
        if let Some(g) = &self.gone {
            return Sent::Gone(g.clone());
        }
        let Some(c) = self.client.as_mut() else {
            return Sent::Gone(self.end("no session".into()));
        };
        let list: Vec<Cow<str>> = rcpts
            .iter()
            .map(|r| self.batch.envelope(r.as_str()))
            .collect();
        let list: Vec<&str> = list.iter().map(|r| r.as_ref()).collect();
        let sender = self.batch.envelope(&self.batch.sender);
        match c.send(&sender, &list, &mut copy) {
            Ok(Outcome::Accepted { refused, .. }) => Sent::Taken { refused },
            Ok(Outcome::Refused(r)) => Sent::Refused(r),
            Err(e) => Sent::Gone(self.end(format!("{} ended: {e}", self.what()))),
        }
    }

    /// What the session is, for reports: `its -bs session`, or `its listener ADDR`.
    fn what(&self) -> String {
        match (&self.child, &self.batch.listener) {
            (None, Some(addr)) => format!("its listener {addr}"),
            _ => "its -bs session".into(),
        }
    }

    /// QUIT, and the run's end. Returns a note when it did not end well (after QUIT every
    /// copy's fate is already known: it changes none).
    pub fn quit(mut self) -> Option<String> {
        if self.gone.is_some() {
            return None;
        }
        let said = self.client.take().map(Client::quit);
        let run = self.child.is_some();
        let st = self.finish();
        match (said, st) {
            (Some(Ok(r)), Some(0)) if r.code == 221 => None,
            (Some(Ok(r)), None) if r.code == 221 && !run => None,
            (Some(Err(e)), _) => Some(format!("{} ended badly at QUIT: {e}", self.what())),
            (_, st) => Some(format!(
                "its -bs run ended with {} after QUIT",
                st.map_or("no exit status".into(), |c| format!("status {c}"))
            )),
        }
    }

    /// The session is over with `why`: the run's own end (its status or signal) when it
    /// ended by itself within a moment; else it is killed, and the end is only `why`.
    fn end(&mut self, why: String) -> Gone {
        use std::os::unix::process::ExitStatusExt;
        self.client = None;
        let Some(child) = self.child.as_mut() else {
            // A connection: it is closed, and that is all.
            let g = Gone {
                code: None,
                signal: None,
                why,
            };
            self.gone = Some(g.clone());
            return g;
        };
        // A run that died closes its pipes just before it can be reaped.
        let start = Instant::now();
        let ended = loop {
            match child.try_wait() {
                Ok(None) if start.elapsed() < Duration::from_millis(200) => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(st) => break st,
                Err(_) => break None,
            }
        };
        let (code, signal) = match ended {
            Some(st) => (st.code(), st.signal()),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                (None, None)
            }
        };
        let g = Gone { code, signal, why };
        self.gone = Some(g.clone());
        g
    }

    /// Closes the run's standard input and waits for it to end, at most `limit` (then it
    /// is killed); its exit code.
    fn finish(&mut self) -> Option<i32> {
        self.client = None;
        let child = self.child.as_mut()?;
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(st)) => return st.code(),
                Ok(None) if start.elapsed() < self.limit => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                _ => {
                    let _ = child.kill();
                    return child.wait().ok().and_then(|s| s.code());
                }
            }
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if self.gone.is_none() && self.client.is_some() {
            // Never left running: a session dropped unfinished hands nothing more on.
            let _ = self.end("stopped".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sendmail::args::{Invoked, parse_as};
    use std::ffi::OsString;

    fn inv(args: &[&str]) -> Invocation {
        parse_as(
            Invoked::Sendmail,
            args.iter().map(OsString::from).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn the_envelope_in_smtp_or_no_batch() {
        let b = Batch::new(&inv(&["a@x"]), Flavor::Postfix, 2, "root", "h").unwrap();
        assert_eq!((b.sender.as_str(), b.mail_params.as_str()), ("root", ""));
        let i = inv(&[
            "-f",
            "me@x.org",
            "-N",
            "failure,delay",
            "-R",
            "hdrs",
            "-V",
            "a+b=c",
            "a@x",
        ]);
        let b = Batch::new(&i, Flavor::Postfix, 2, "root", "h").unwrap();
        assert_eq!(b.sender, "me@x.org");
        assert_eq!(b.mail_params, " RET=HDRS ENVID=a+2Bb+3Dc");
        assert_eq!(b.rcpt_params, " NOTIFY=FAILURE,DELAY");
        assert!(b.needs_dsn());
        // Exim gets no DSN options, in argv or in SMTP.
        let b = Batch::new(&i, Flavor::Exim, 2, "root", "h").unwrap();
        assert!(!b.needs_dsn());
        let b = Batch::new(&inv(&["-f", "<>", "a@x"]), Flavor::Sendmail, 5, "u", "h").unwrap();
        assert_eq!((b.sender.as_str(), b.min), ("", 5));
        // No -bs, off, or not sayable exactly: one run per copy.
        assert!(Batch::new(&inv(&["a@x"]), Flavor::Msmtp, 2, "root", "h").is_none());
        assert!(Batch::new(&inv(&["a@x"]), Flavor::Postfix, 0, "root", "h").is_none());
        assert!(Batch::new(&inv(&["a@x"]), Flavor::Postfix, 2, "a b", "h").is_none());
        let odd = inv(&["-f", "Me <me@x.org>", "a@x"]);
        assert!(Batch::new(&odd, Flavor::Postfix, 2, "root", "h").is_none());
        // 1 is 2: a single copy has a run of its own.
        assert_eq!(
            Batch::new(&inv(&["a@x"]), Flavor::Postfix, 1, "r", "h")
                .unwrap()
                .min,
            2
        );
    }
}
