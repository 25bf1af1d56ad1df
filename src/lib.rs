//! pgpsendmail: a drop-in `/usr/sbin/sendmail` that encrypts every message to its
//! recipients' OpenPGP keys (PGP/MIME, RFC 3156, with RFC 9788 header protection) before the
//! real sendmail sees a byte of it.
//!
//! The stages, a folder each (see ARCHITECTURE.md):
//!
//! 1. [`sendmail::args`]: the sendmail command line → [`sendmail::args::Invocation`];
//! 2. [`config`]: the configuration file, `pgpsendmail.toml`;
//! 3. [`sendmail::deliver::find_sendmail`]: the real sendmail, before any input is read;
//! 4. [`pipeline`], for each message: [`message`] reads the header section, and
//!    [`keys::recipients`] works out the envelope, visible and hidden recipients and a key
//!    decision for each ([`keys`] loads and judges certificates);
//! 5. [`message::pgpmime`] + [`openpgp`]: the payload streams from stdin through the
//!    encryptor into one anonymous file per copy; only ciphertext is ever written;
//! 6. [`sendmail::deliver`]: exec (one copy) or spawn (several) the real sendmail;
//!    [`sendmail::smtp`] is the `-bs` session around the same pipeline (the protocol is
//!    [`smtp`]'s, shared with any other SMTP face), and [`admin`] the admin face that
//!    reuses its stages without sending.
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
pub mod discover;
pub mod error;
pub mod keys;
pub mod message;
pub mod openpgp;
pub mod pipeline;
pub mod sendmail;
pub mod serve;
pub mod smtp;
pub mod spool;
#[allow(unsafe_code)]
pub mod sys;
pub mod syslog;

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::{Config, Flavor};
use crate::diag::sanitize;
use crate::error::{Error, Result};
use crate::message::address::Address;
use crate::message::pgpmime::{Options, Synth};
use crate::sendmail::args::{self, Invocation, Invoked, Mode, Sender};
use crate::sendmail::deliver::{self, Deliverer, PassThrough};

/// Everything pgpsendmail reads from its environment, read once at start-up.
#[derive(Debug, Clone)]
pub struct Env {
    /// `PGPSENDMAIL_CONFIG`
    pub config_path: Option<PathBuf>,
    /// The login name of the real uid (for a synthesized From).
    pub login: String,
    /// That user's full name, from the password database's GECOS field (for a synthesized
    /// From; `-F` overrides it).
    pub full_name: Option<String>,
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
    /// `PGPSENDMAIL_CACHE_DIR`: the cache directory when the configuration names none
    /// (`/var/cache/pgpsendmail` unless set; for tests).
    pub cache_default: PathBuf,
    /// `PGPSENDMAIL_DISCOVERED_DIR`: the `[discovery] dir` when the configuration names
    /// none (`/var/lib/pgpsendmail/discovered` unless set; for tests, so that a machine
    /// where pgpsendmail is installed does not lend them its discovered keys).
    pub discovered_default: PathBuf,
    /// `XDG_CACHE_HOME`: where a user other than root keeps a private cache.
    pub xdg_cache_home: Option<PathBuf>,
    /// The home directory of the real uid, from the password database: `$HOME` is not
    /// read (sudo keeps the caller's in some setups, cron sets its own).
    pub home: Option<PathBuf>,
    pub now: SystemTime,
}

impl Env {
    /// Reads the process environment.
    pub fn snapshot() -> Env {
        let uid = sys::uid();
        let user = sys::user(uid);
        let login = login_name(uid, user.as_ref());
        Env {
            config_path: std::env::var_os("PGPSENDMAIL_CONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            full_name: user.as_ref().and_then(|u| full_name(&u.gecos, &login)),
            login,
            hostname: host_name(),
            tmpdir: std::env::var_os("TMPDIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            self_exe: None,
            root: None,
            passwd: std::env::var_os("PGPSENDMAIL_PASSWD")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            cache_default: std::env::var_os("PGPSENDMAIL_CACHE_DIR")
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from(config::DEFAULT_CACHE_DIR), PathBuf::from),
            discovered_default: std::env::var_os("PGPSENDMAIL_DISCOVERED_DIR")
                .filter(|v| !v.is_empty())
                .map_or_else(
                    || PathBuf::from(config::DEFAULT_DISCOVERED_DIR),
                    PathBuf::from,
                ),
            xdg_cache_home: std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            home: user
                .map(|u| u.home)
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(OsString::from_vec(h))),
            now: SystemTime::now(),
        }
    }

    /// Loads the configuration (`PGPSENDMAIL_CONFIG` or the default file); a `[discovery]
    /// dir` it does not name is this environment's default.
    pub fn load_config(&self) -> Result<Config> {
        let mut cfg = Config::load(self.config_path.as_deref())?;
        if cfg.discovery.dir == Path::new(config::DEFAULT_DISCOVERED_DIR) {
            cfg.discovery.dir = self.discovered_default.clone();
        }
        Ok(cfg)
    }

    /// Where this run may keep its key indexes, `cfg` naming `cache_dir` or not (see
    /// [`keys::index::cache_dir`]).
    pub fn cache_places(&self, cfg: &Config) -> keys::index::CachePlaces {
        keys::index::CachePlaces {
            configured: cfg.cache_dir.clone(),
            default: self.cache_default.clone(),
            xdg_cache_home: self.xdg_cache_home.clone(),
            home: self.home.clone(),
            euid: sys::euid(),
        }
    }
}

/// The login name of the real uid, as Postfix picks the sender: from the password database,
/// so that sudo's or cron's environment cannot change it.
fn login_name(uid: u32, user: Option<&sys::User>) -> String {
    if let Some(u) = user {
        let name = String::from_utf8_lossy(&u.name);
        if Address::parse_single(&name).is_ok() {
            return name.into_owned();
        }
    }
    format!("uid{uid}")
}

/// The real uid's full name as Postfix takes it from the GECOS field: up to the first
/// comma, `&` standing for the login name with its first letter in upper case; `None`
/// when it is empty, not UTF-8, or holds a control character.
fn full_name(gecos: &[u8], login: &str) -> Option<String> {
    gecos_name(std::str::from_utf8(gecos).ok()?, login)
}

/// The full name in a GECOS field `gecos` of the user `login`.
pub fn gecos_name(gecos: &str, login: &str) -> Option<String> {
    let first = gecos.split(',').next().unwrap_or("");
    let mut cap = login.chars();
    let cap: String = cap
        .next()
        .map(|c| c.to_uppercase().chain(cap).collect())
        .unwrap_or_default();
    let name = first.replace('&', &cap).trim().to_string();
    (!name.is_empty() && !name.chars().any(char::is_control)).then_some(name)
}

fn host_name() -> String {
    let raw = sys::host_name();
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

/// The values for header fields a message lacks (rule 5, docs/message.md): From from the `-f`
/// sender when it is an address, else the login name; `-F` as its display name, else the
/// login's full name when From is the login; the domain of bare local names (rule 17).
pub fn synth(inv: &args::Invocation, cfg: &Config, env: &Env) -> Synth {
    let (from_addr, full_name) = match &inv.sender {
        Some(Sender::Address(a)) if Address::parse_single(a).is_ok() => {
            (a.clone(), inv.full_name.clone())
        }
        _ => (
            env.login.clone(),
            inv.full_name.clone().or_else(|| env.full_name.clone()),
        ),
    };
    Synth {
        from_addr,
        full_name,
        host: env.hostname.clone(),
        domain: cfg.qualify_domain(&env.hostname),
        now: env.now,
    }
}

/// How the payload and the outer header are made (docs/message.md, rules 1-21), for a path
/// that carries UTF-8 unless the caller finds otherwise.
pub fn payload_options(inv: &args::Invocation, cfg: &Config, env: &Env) -> Options {
    Options {
        subject: cfg.subject.clone(),
        legacy_display: cfg.legacy_display,
        utf8: true,
        synth: synth(inv, cfg, env),
    }
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
        smtp::Untimed(stdin),
        &mut io::sink(),
        deliverer,
    )
}

/// Runs the sendmail interface invoked under `name` (`sendmail`, `mailq`, `newaliases`):
/// parses `args`, then sends the message on `stdin` (`-bm`), serves an SMTP session on
/// `stdin` and `stdout` (`-bs`), or passes a mode that sends nothing to the real sendmail.
pub fn run<R: smtp::Input>(
    name: Invoked,
    args: Vec<OsString>,
    env: &Env,
    mut stdin: R,
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
    let setup = env.load_config().and_then(|cfg| {
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
    let flavor = cfg
        .flavor
        .unwrap_or_else(|| Flavor::infer(&program, env.root.as_deref()));
    let ctx = pipeline::Context {
        inv: &inv,
        cfg: &cfg,
        program: &program,
        flavor,
        env,
    };
    deliverer.flavor(flavor);
    deliverer.jobs(cfg.handoff_jobs);
    let batch =
        sendmail::batch::Batch::new(&inv, flavor, cfg.batch_copies, &env.login, &env.hostname)
            .map(|b| b.through(cfg.handoff_smtp.clone(), &cfg.qualify_domain(&env.hostname)));
    deliverer.batch(batch);
    match inv.mode {
        Mode::Deliver => pipeline::send(&ctx, stdin, deliverer),
        Mode::Smtp => {
            deliverer.smtp_session();
            sendmail::smtp::serve(&ctx, &mut stdin, stdout, deliverer)
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
        sender: pipeline::log_sender(inv, env),
        recipients: inv.map_or(0, |i| i.recipients.len()),
        ..Default::default()
    }
    .refused(e.exit_code().code(), &e.to_string());
}
