//! pgpsendmail: a drop-in `/usr/sbin/sendmail` that encrypts every message to its
//! recipients' OpenPGP keys (PGP/MIME, RFC 3156, with RFC 9788 header protection) before the
//! real sendmail sees a byte of it.
//!
//! The pipeline ([`run_sendmail`]), one module per stage (see ARCHITECTURE.md):
//!
//! 1. [`args`]: the sendmail command line → [`args::Invocation`];
//! 2. [`config`]: the configuration file, `pgpsendmail.toml`;
//! 3. [`deliver::find_sendmail`]: the real sendmail, before any input is read;
//! 4. [`message`]: the header section from standard input;
//! 5. [`recipients`]: the envelope, visible and hidden recipients, a key decision for each
//!    ([`keys`] loads and judges certificates);
//! 6. [`pgpmime`] + [`encrypt`]: the payload streams from stdin through the encryptor into one
//!    anonymous file per copy; only ciphertext is ever written;
//! 7. [`deliver`]: exec (one copy) or spawn (several) the real sendmail.
//!
//! Invariant: on every error nothing has been handed to the real sendmail, and no plaintext
//! was written to any file.
//!
//! No module but [`sys`] has unsafe code: every system call std does not make for us is a
//! safe function there.

#![deny(unsafe_code)]

pub mod admin;
pub mod config;
pub mod diag;
pub mod error;
pub mod keys;
pub mod message;
pub mod openpgp;
pub mod sendmail;
pub mod spool;
#[allow(unsafe_code)]
pub mod sys;
pub mod syslog;

use crate::keys::recipients;
use crate::message::{pgpmime, protected};
use crate::openpgp::encrypt;
use crate::sendmail::{args, deliver, smtp};
use std::cell::RefCell;
use std::ffi::OsString;
use std::io::{self, BufRead, Cursor, Read, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::SystemTime;

use crate::config::{Config, Flavor};
use crate::diag::sanitize;
use crate::error::{Error, Result};
use crate::keys::recipients::Decision;
use crate::keys::{EncryptionKey, Keyring};
use crate::message::address::Address;
use crate::message::pgpmime::{Child, Payload, Synth};
use crate::sendmail::args::{Invocation, Invoked, Mode, Sender};
use crate::sendmail::deliver::{Copy, CopyBody, Deliverer, PassThrough};
use crate::spool::BodyStore;

/// Everything pgpsendmail reads from its environment, read once at start-up.
#[derive(Debug, Clone)]
pub struct Env {
    /// `PGPSENDMAIL_CONFIG`
    pub config_path: Option<PathBuf>,
    /// The login name of the real uid (for a synthesized From).
    pub login: String,
    /// This host's name (for a synthesized Message-ID).
    pub hostname: String,
    /// `TMPDIR`, where an unlinked ciphertext file goes when memfds are unavailable.
    pub tmpdir: Option<PathBuf>,
    /// Our own executable, for the loop check (`None`: `/proc/self/exe`).
    pub self_exe: Option<PathBuf>,
    /// The directory the fixed paths where the real sendmail is looked for are taken under
    /// (`None`: `/`); for tests, which cannot replace the host's `/usr/sbin/sendmail`.
    pub root: Option<PathBuf>,
    /// `PGPSENDMAIL_PASSWD`: the password database `check` reads the local users from
    /// (`None`: `/etc/passwd`).
    pub passwd: Option<PathBuf>,
    pub now: SystemTime,
}

impl Env {
    /// Reads the process environment.
    pub fn snapshot() -> Env {
        Env {
            config_path: std::env::var_os("PGPSENDMAIL_CONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            login: login_name(),
            hostname: host_name(),
            tmpdir: std::env::var_os("TMPDIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            self_exe: None,
            root: None,
            passwd: std::env::var_os("PGPSENDMAIL_PASSWD")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            now: SystemTime::now(),
        }
    }
}

/// The login name of the real uid, as Postfix picks the sender: from the password database,
/// so that sudo's or cron's environment cannot change it.
fn login_name() -> String {
    let uid = sys::uid();
    if let Some(name) = sys::user_name(uid) {
        let name = String::from_utf8_lossy(&name);
        if Address::parse_single(&name).is_ok() {
            return name.into_owned();
        }
    }
    format!("uid{uid}")
}

fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let h = raw.trim();
    let ok = !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        h.to_string()
    } else {
        "localhost.localdomain".into()
    }
}

/// The values for header fields a message lacks (message.md rule 5): From from the `-f`
/// sender when it is an address, else the login name; `-F` as its display name.
pub fn synth(inv: &args::Invocation, env: &Env) -> Synth {
    Synth {
        from_addr: match &inv.sender {
            Some(Sender::Address(a)) if Address::parse_single(a).is_ok() => a.clone(),
            _ => env.login.clone(),
        },
        full_name: inv.full_name.clone(),
        host: env.hostname.clone(),
        now: env.now,
    }
}

/// Remembers the first read error of standard input, so that it is reported as such (66)
/// even when it surfaces wrapped inside the encryptor's error.
/// It also counts the bytes read, for the mail log.
struct Track<R> {
    inner: R,
    error: Rc<RefCell<Option<String>>>,
    read: Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Track<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|e| {
            self.error.borrow_mut().get_or_insert_with(|| e.to_string());
        })?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Base64 in 76-column CRLF lines, for a body that needs it (message.md rule 2).
struct Base64Lines<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> Read for Base64Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use base64::Engine;
        if self.pos == self.out.len() {
            if self.done {
                return Ok(0);
            }
            let mut raw = vec![0u8; 57 * 512];
            let mut n = 0;
            while n < raw.len() {
                match self.inner.read(&mut raw[n..]) {
                    Ok(0) => {
                        self.done = true;
                        break;
                    }
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.out.clear();
            self.pos = 0;
            for line in raw[..n].chunks(57) {
                self.out.extend_from_slice(
                    base64::engine::general_purpose::STANDARD
                        .encode(line)
                        .as_bytes(),
                );
                self.out.extend_from_slice(b"\r\n");
            }
            if self.out.is_empty() {
                return Ok(0);
            }
        }
        let k = buf.len().min(self.out.len() - self.pos);
        buf[..k].copy_from_slice(&self.out[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

/// Copies CRLF-canonical text to `w` with LF line endings (the local sendmail's convention).
fn copy_as_lf<R: Read>(mut r: R, w: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(buf.len() + 1);
    let mut held_cr = false;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        for &b in &buf[..n] {
            if held_cr {
                held_cr = false;
                if b != b'\n' {
                    out.push(b'\r');
                }
            }
            if b == b'\r' {
                held_cr = true;
            } else {
                out.push(b);
            }
        }
        w.write_all(&out)?;
    }
    if held_cr {
        w.write_all(b"\r")?;
    }
    w.flush()
}

/// Runs the sendmail interface invoked as sendmail: `args` without `argv[0]`, the message
/// on `stdin`, the copies handed to `deliverer`. Returns the exit status for the caller.
/// (`-bs` replies go nowhere here; see [`run`].)
pub fn run_sendmail<R: BufRead>(
    args: Vec<OsString>,
    env: &Env,
    stdin: R,
    deliverer: &mut dyn Deliverer,
) -> Result<i32> {
    run(
        Invoked::Sendmail,
        args,
        env,
        stdin,
        &mut io::sink(),
        deliverer,
    )
}

/// Runs the sendmail interface invoked under `name` (`sendmail`, `mailq`, `newaliases`):
/// parses `args`, then sends the message on `stdin` (`-bm`), serves an SMTP session on
/// `stdin` and `stdout` (`-bs`), or passes a mode that sends nothing to the real sendmail.
pub fn run<R: BufRead>(
    name: Invoked,
    args: Vec<OsString>,
    env: &Env,
    stdin: R,
    stdout: &mut dyn Write,
    deliverer: &mut dyn Deliverer,
) -> Result<i32> {
    let inv = args::parse_as(name, args).inspect_err(|e| refused_early(env, None, e))?;
    if inv.mode == Mode::Deliver && !inv.extract_recipients && inv.recipients.is_empty() {
        // Fail before reading a byte: a caller at a terminal would otherwise wait for EOF.
        let e = Error::Usage(
            "no recipients: give them as arguments, or use -t to read them from the message".into(),
        );
        refused_early(env, Some(&inv), &e);
        return Err(e);
    }
    let setup = Config::load(env.config_path.as_deref()).and_then(|cfg| {
        let program = deliver::find_sendmail(&cfg, env)?;
        Ok((cfg, program))
    });
    let (cfg, program) = match setup {
        Ok(s) => s,
        Err(e) => {
            if inv.mode == Mode::Smtp {
                // An SMTP client expects a greeting: it gets the reason as a 421 instead.
                let _ = write!(stdout, "421 4.3.0 {}\r\n", sanitize(&e.to_string()));
                let _ = stdout.flush();
            }
            refused_early(env, Some(&inv), &e);
            return Err(e);
        }
    };
    let flavor = cfg.flavor.unwrap_or_else(|| Flavor::infer(&program));
    match inv.mode {
        Mode::Deliver => send(&inv, &cfg, &program, flavor, env, stdin, deliverer),
        Mode::Smtp => {
            deliverer.smtp_session();
            smtp::serve(&inv, &cfg, &program, flavor, env, stdin, stdout, deliverer)
        }
        _ => match deliver::pass_through(&inv, flavor)? {
            PassThrough::Run { argv0, args } => deliverer.pass(&program, argv0, args),
            PassThrough::Done { code, note } => {
                diag::say(format_args!("{note}"));
                Ok(code)
            }
        },
    }
}

/// The mail log line of a run refused before any message was read (its arguments or the
/// configuration): from whom, for how many, and why.
fn refused_early(env: &Env, inv: Option<&Invocation>, e: &Error) {
    syslog::Entry {
        sender: log_sender(inv, env),
        recipients: inv.map_or(0, |i| i.recipients.len()),
        ..Default::default()
    }
    .refused(e.exit_code().code(), &e.to_string());
}

/// The sender the mail log names: `-f` (empty for the null sender), else the caller.
fn log_sender(inv: Option<&Invocation>, env: &Env) -> String {
    match inv.and_then(|i| i.sender.as_ref()) {
        Some(Sender::Address(a)) => a.clone(),
        Some(Sender::Null) => String::new(),
        None => env.login.clone(),
    }
}

/// Reads one message from `stdin`, encrypts it and hands every copy to `deliverer`: the
/// pipeline of `-bm`, and of each message of a `-bs` session.
pub fn send<R: Read>(
    inv: &Invocation,
    cfg: &Config,
    program: &std::path::Path,
    flavor: Flavor,
    env: &Env,
    stdin: R,
    deliverer: &mut dyn Deliverer,
) -> Result<i32> {
    // Every message leaves one line in the mail log: the deliverer writes it for a message
    // handed on, this for one refused (pgpsendmail(8), LOGGING).
    let mut log = syslog::Entry {
        sender: log_sender(Some(inv), env),
        ..Default::default()
    };
    let read = Rc::new(std::cell::Cell::new(0u64));
    let r = send_message(
        inv, cfg, program, flavor, env, stdin, deliverer, &mut log, &read,
    );
    if let Err(e) = &r {
        log.size = read.get();
        log.refused(e.exit_code().code(), &e.to_string());
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn send_message<R: Read>(
    inv: &Invocation,
    cfg: &Config,
    program: &std::path::Path,
    flavor: Flavor,
    env: &Env,
    stdin: R,
    deliverer: &mut dyn Deliverer,
    log: &mut syslog::Entry,
    read: &Rc<std::cell::Cell<u64>>,
) -> Result<i32> {
    let read_error = Rc::new(RefCell::new(None));
    let tracked = io::BufReader::with_capacity(
        64 * 1024,
        Track {
            inner: stdin,
            error: read_error.clone(),
            read: read.clone(),
        },
    );
    let mut input = message::Input::new(tracked, inv.ignore_dots);
    let head = input.read_head()?;
    if let Some(id) = head.get("Message-ID") {
        log.message_id = String::from_utf8_lossy(&id.unfolded()).into_owned();
    }
    let envelope = recipients::envelope(&inv.recipients, &head, inv.extract_recipients, flavor)?;
    log.recipients = envelope.recipients.len();

    // Peek at the body start: an inline PGP message must be recognized before encrypting.
    let mut body = input.body();
    let mut peek = Vec::with_capacity(64);
    (&mut body)
        .take(64)
        .read_to_end(&mut peek)
        .map_err(|e| no_input(&read_error, e))?;
    let body = Cursor::new(peek.clone()).chain(body);

    // Rule 16: input that claims to be encrypted (its Content-Type, or a body that starts
    // like an armor block) is handed on as it is only when its body proves it
    // (protected.rs). A candidate's body is checked on its way into the store (memory up
    // to 1 MiB, sealed beyond), in the one read of standard input, before any decision;
    // when it is not protected, the store serves the usual path below.
    let mut store: Option<Rc<BodyStore>> = None;
    let mut body = Some(body);
    let mut verifier = protected::Verifier::for_message(&head, &peek);
    if let Some(v) = verifier.as_mut()
        && let Some(b) = body.take()
    {
        let fed = protected::Feed {
            inner: b,
            verifier: v,
        };
        store = Some(keep_body(fed, env, &read_error)?);
    }
    let protected = verifier
        .map(protected::Verifier::finish)
        .is_some_and(|v| v.protected);
    let keyring = if protected {
        Keyring::default()
    } else {
        let want = recipients::wanted(&envelope.recipients, cfg);
        let kr = Keyring::load_for(&cfg.keyring, Some(&cfg.cache_dir), &want, env.now);
        for p in &kr.problems {
            diag::say(format_args!("warning: keyring {p}"));
        }
        kr
    };

    // Decide every recipient before reading the body: a refusal reads no more input.
    let mut decisions: Vec<(Address, Decision)> = Vec::new();
    if !protected {
        let mut refused = Vec::new();
        for r in &envelope.recipients {
            let d = recipients::decide(r, cfg, &keyring);
            if let Decision::Refuse { reason } = &d {
                refused.push(reason.clone());
            }
            decisions.push((r.clone(), d));
        }
        if !refused.is_empty() {
            // One readable line even for 10,000 refused recipients: the first few, then a
            // count (`pgpsendmail explain` lists every one).
            const SHOWN: usize = 10;
            let mut text = refused[..refused.len().min(SHOWN)].join("; ");
            if refused.len() > SHOWN {
                text.push_str(&format!(
                    "; and {} more (pgpsendmail explain lists them)",
                    refused.len() - SHOWN
                ));
                // The mail log names every one: the rest in lines of their own.
                for more in refused[SHOWN..].chunks(SHOWN) {
                    log.refused_too(&more.join("; "));
                }
            }
            return Err(Error::NoKey(format!("no usable key, nothing sent: {text}")));
        }
        warn_expiring(&decisions, &keyring, cfg, env.now);
        for (_, d) in &decisions {
            if let Decision::Encrypt { certs, .. } = d {
                for f in certs {
                    if !log.keys.contains(f) {
                        log.keys.push(f.clone());
                    }
                }
            }
        }
    }
    let recipients::Plan {
        encrypted: groups,
        cipher,
        plaintext,
    } = recipients::plan(&decisions, &envelope);
    if (!plaintext.is_empty() || pgpmime::needs_scan(&head))
        && store.is_none()
        && let Some(b) = body.take()
    {
        store = Some(keep_body(b, env, &read_error)?);
    }

    let mut copies: Vec<(Vec<OsString>, Copy)> = Vec::new();
    if protected {
        // Rule 16: verified ciphertext; Bcc removed, handed on with explicit recipients.
        let store = store
            .clone()
            .ok_or_else(|| Error::Internal("no body kept".into()))?;
        let rcpts = envelope.recipients.clone();
        copies.push(plain_copy(
            inv,
            flavor,
            rcpts,
            pgpmime::plain_header(&head),
            store,
        )?);
        log.size = read.get();
        return deliverer.deliver(program, copies, log);
    }

    if !groups.is_empty() {
        let stats = store.as_ref().map(|s| s.stats());
        let child = Child::for_head(&head, stats);
        let payload = Payload::build(&head, &child, &cfg.subject, &synth(inv, env));
        if log.message_id.is_empty() {
            // The synthesized one, as the outer header carries it.
            let outer = message::Input::new(&payload.outer_prefix[..], true).read_head();
            if let Some(id) = outer.ok().as_ref().and_then(|h| h.get("Message-ID")) {
                log.message_id = String::from_utf8_lossy(&id.unfolded()).into_owned();
            }
        }
        let body_src: Box<dyn Read + '_> = match (&store, body.take()) {
            (Some(s), _) => Box::new(s.reader()),
            (None, Some(b)) => Box::new(b),
            (None, None) => return Err(Error::Internal("no body".into())),
        };
        let body_src: Box<dyn Read + '_> = if child.needs_base64() {
            Box::new(Base64Lines {
                inner: body_src,
                out: Vec::new(),
                pos: 0,
                done: false,
            })
        } else {
            body_src
        };
        let plain = Cursor::new(payload.prefix.clone())
            .chain(body_src)
            .chain(Cursor::new(payload.suffix.clone()));

        let os = |e: io::Error| Error::Os(format!("cannot create a file for the ciphertext: {e}"));
        let wr = |e: io::Error| Error::Io(format!("writing the ciphertext: {e}"));
        // The first copy is a whole file (it may become the real sendmail's stdin by
        // exec); the others are their own bytes around armor lines they share
        // (deliver::Parts), one file per armor line alignment, each assembled into a whole
        // file of its own only when its turn comes (deliver.rs).
        let mut first = spool::anon_file("pgpsendmail-copy", env.tmpdir.as_deref()).map_err(os)?;
        first.write_all(&payload.outer_prefix).map_err(wr)?;
        let mut shared = if groups.len() > 1 {
            Some(spool::anon_file("pgpsendmail-shared", env.tmpdir.as_deref()).map_err(os)?)
        } else {
            None
        };
        let tail_error: RefCell<Option<io::Error>> = RefCell::new(None);
        let new_tail = || {
            spool::anon_file("pgpsendmail-tail", env.tmpdir.as_deref()).inspect_err(|e| {
                *tail_error.borrow_mut() = Some(io::Error::new(e.kind(), e.to_string()));
            })
        };
        let key_sets: Vec<&[EncryptionKey]> = groups.iter().map(|g| g.1.as_slice()).collect();
        let res = encrypt::encrypt_copies(
            plain,
            &key_sets,
            cipher,
            &mut first,
            shared.as_mut(),
            new_tail,
        );
        if let Some(e) = read_error.borrow().clone() {
            return Err(Error::NoInput(format!(
                "cannot read the message from standard input: {e}; nothing sent"
            )));
        }
        if let Some(e) = tail_error.take() {
            return Err(os(e));
        }
        let (splits, tails) = res?;
        drop(shared);
        let tails = tails
            .into_iter()
            .map(|f| {
                let len = f.metadata()?.len();
                Ok((std::sync::Arc::new(f), len))
            })
            .collect::<io::Result<Vec<_>>>()
            .map_err(wr)?;
        let mut groups = groups.into_iter();
        let (rcpts, _) = groups
            .next()
            .ok_or_else(|| Error::Internal("no copy to encrypt".into()))?;
        first.write_all(&payload.outer_suffix).map_err(wr)?;
        spool::rewind(&mut first).map_err(wr)?;
        copies.push((
            deliver::downstream_args(inv, flavor, &rcpts)?,
            Copy {
                recipients: rcpts,
                body: CopyBody::File(first),
            },
        ));
        if splits.len() != groups.len() {
            return Err(Error::Internal("a hidden copy's armor is missing".into()));
        }
        let prefix: std::sync::Arc<[u8]> = payload.outer_prefix.as_slice().into();
        let suffix: std::sync::Arc<[u8]> = payload.outer_suffix.as_slice().into();
        for ((rcpts, _), split) in groups.zip(splits) {
            copies.push((
                deliver::downstream_args(inv, flavor, &rcpts)?,
                Copy {
                    recipients: rcpts,
                    body: CopyBody::Parts(deliver::Parts {
                        prefix: prefix.clone(),
                        head: split.head,
                        tail: split.class.map(|c| tails[c].clone()),
                        foot: split.foot,
                        suffix: suffix.clone(),
                    }),
                },
            ));
        }
    }

    if !plaintext.is_empty() {
        let store = store.ok_or_else(|| Error::Internal("no body kept".into()))?;
        let header = pgpmime::plain_header(&head);
        let names: Vec<String> = plaintext.iter().map(|a| sanitize(a.as_str())).collect();
        diag::say(format_args!(
            "warning: no usable key; sending an unencrypted copy, as configured, to: {}",
            names.join(", ")
        ));
        for r in plaintext {
            copies.push(plain_copy(
                inv,
                flavor,
                vec![r],
                header.clone(),
                store.clone(),
            )?);
        }
    }
    log.size = read.get();
    deliverer.deliver(program, copies, log)
}

/// Warns (stderr and syslog) about every certificate used for this message that stops
/// being usable within `warn_days`: the mail still goes, but the next one may not.
fn warn_expiring(
    decisions: &[(Address, Decision)],
    keyring: &Keyring,
    cfg: &Config,
    now: SystemTime,
) {
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let horizon = now + u64::from(cfg.warn_days) * 86_400;
    for (rcpt, d) in decisions {
        let Decision::Encrypt { certs, .. } = d else {
            continue;
        };
        for fpr in certs {
            if let Some(exp) = keyring.by_fingerprint(fpr).and_then(|c| c.expires)
                && exp <= horizon
            {
                let text = format!(
                    "warning: the key for {} ({fpr}) expires on {}",
                    sanitize(rcpt.as_str()),
                    keys::format_date(exp)
                );
                diag::say(format_args!("{text}"));
                syslog::warn(&text);
            }
        }
    }
}

/// A copy handed on without encryption (already-protected input, or a `plaintext`
/// recipient): the header section as given (less Bcc) and the body, written into a memfd
/// (never a file) when its turn comes.
fn plain_copy(
    inv: &args::Invocation,
    flavor: config::Flavor,
    rcpts: Vec<Address>,
    header: Vec<u8>,
    store: Rc<BodyStore>,
) -> Result<(Vec<OsString>, Copy)> {
    Ok((
        deliver::downstream_args(inv, flavor, &rcpts)?,
        Copy {
            recipients: rcpts,
            body: CopyBody::Memory(Box::new(move |w| {
                w.write_all(&header)?;
                copy_as_lf(store.reader(), w)
            })),
        },
    ))
}

/// Reads the rest of the body into a new store (sealed beyond 1 MiB).
fn keep_body<R: Read>(
    src: R,
    env: &Env,
    read_error: &Rc<RefCell<Option<String>>>,
) -> Result<Rc<BodyStore>> {
    BodyStore::from_reader(src, env.tmpdir.as_deref())
        .map(Rc::new)
        .map_err(|e| no_input(read_error, e))
}

/// An error while reading and keeping the body: a read error of standard input (66), or a
/// failure to keep it (71).
fn no_input(read_error: &Rc<RefCell<Option<String>>>, e: io::Error) -> Error {
    match read_error.borrow().clone() {
        Some(msg) => Error::NoInput(format!(
            "cannot read the message from standard input: {msg}; nothing sent"
        )),
        None => Error::Os(format!("cannot keep the message body: {e}; nothing sent")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_conversion_handles_split_crlf() {
        struct Bytewise<'a>(&'a [u8]);
        impl Read for Bytewise<'_> {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || b.is_empty() {
                    return Ok(0);
                }
                b[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let mut out = Vec::new();
        copy_as_lf(Bytewise(b"a\r\nb\rc\r\n\r"), &mut out).unwrap();
        assert_eq!(out, b"a\nb\rc\n\r");
    }

    #[test]
    fn base64_lines_are_76_columns() {
        let data = vec![7u8; 1000];
        let mut r = Base64Lines {
            inner: &data[..],
            out: Vec::new(),
            pos: 0,
            done: false,
        };
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert!(s.split("\r\n").all(|l| l.len() <= 76));
        use base64::Engine;
        let back = base64::engine::general_purpose::STANDARD
            .decode(s.replace("\r\n", ""))
            .unwrap();
        assert_eq!(back, data);
    }
}
