//! Handing copies to the real sendmail (pgpsendmail(8), THE REAL SENDMAIL;
//! docs/interface.md sections 5 and 6).
//!
//! Owns: finding the real sendmail (the configured absolute path, else the diverted
//! `/usr/sbin/sendmail.real`, else the system sendmail when it is not us, else exactly one
//! hit in a fixed list of absolute paths; never `PATH`), refusing to run ourselves (same device and
//! inode as `/proc/self/exe`), building the downstream argument vector from parsed values
//! only (`sendmail -i [-f S] [-F N] [DSN flags the flavor supports] -- rcpt...`), and
//! running it: one copy is `exec`ed with the ciphertext file as standard input, so the
//! caller sees the real sendmail's status and stderr; several copies are spawned after all
//! of them were built, several runs at once from enough copies on ([`super::share`]). A spawned copy's standard input is always a complete file
//! of its own (a hidden copy is assembled into it just before its sendmail starts), never a
//! pipe: whatever happens to this process while copies are handed on (an error, SIGKILL,
//! running out of memory), a real sendmail has either all of its copy or nothing. Where the
//! flavor's sendmail reads SMTP (`-bs`), enough encrypted copies instead go to one run as
//! successive transactions ([`super::batch`]), each from such a complete file, taken only
//! at its final dot.
//!
//! Keeps uid, gid, groups, environment and fds 0-2; every other descriptor is closed on
//! exec; no no-new-privs (Exim is setuid, dma and smtpctl setgid).

use std::ffi::OsString;
use std::fs::File;
use std::io::{Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::config::{Config, Flavor};
use crate::diag::{self, sanitize};
use crate::error::{Error, Result};
use crate::message::address::Address;
use crate::sendmail::args::{Invocation, Invoked, Mode, Sender};
use crate::spool;

use super::batch::{Batch, Sent, Session};
use super::share;

/// The path a Debian diversion moves the MTA's own `/usr/sbin/sendmail` to (what
/// `make install-sendmail` does): the first place looked at without a `sendmail` setting.
pub const DIVERTED: &str = "/usr/sbin/sendmail.real";

/// The system's sendmail, looked at next: used when it does not lead back to pgpsendmail
/// (as before the takeover, or where pgpsendmail is only named in a mail program).
pub const SYSTEM: &[&str] = &["/usr/sbin/sendmail", "/usr/lib/sendmail"];

/// The other places real sendmails live (docs/interface.md section 6, "The candidate
/// paths"), looked at last: exactly one of them must exist.
pub const CANDIDATES: &[&str] = &[
    "/usr/sbin/sendmail.postfix",
    "/usr/sbin/sendmail.sendmail",
    "/usr/sbin/sendmail.exim",
    "/usr/libexec/sendmail/sendmail",
    "/usr/lib/sm.bin/sendmail",
    "/usr/sbin/exim4",
    "/usr/sbin/exim",
    "/usr/sbin/smtpctl",
    "/usr/bin/msmtp",
    "/usr/sbin/dma",
    "/usr/sbin/ssmtp",
    "/usr/libexec/postfix/sendmail",
];

/// Which rule chose the real sendmail (`check` says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The `sendmail` setting.
    Configured,
    /// [`DIVERTED`].
    Diverted,
    /// One of [`SYSTEM`], which is not pgpsendmail.
    System,
    /// The only one of [`CANDIDATES`] that exists.
    OnlyCandidate,
}

impl Rule {
    /// How `check` explains the choice of `path`.
    pub fn describe(self, path: &Path) -> String {
        let shown = sanitize(&path.display().to_string());
        match self {
            Rule::Configured => "configured".into(),
            Rule::Diverted => format!("found: {shown}, the diverted system sendmail"),
            Rule::System => format!("found: {shown}, not pgpsendmail"),
            Rule::OnlyCandidate => format!("found: {shown}, the only known MTA program present"),
        }
    }
}

/// `path` under `root` (an absolute path with its leading `/` dropped; `None` is `/`).
fn rooted(root: Option<&Path>, path: &str) -> PathBuf {
    match root {
        Some(r) => r.join(path.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}

/// The device and inode of `path` after following symbolic links.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether the real sendmail is known not to carry UTF-8 envelope addresses (RFC 6531): a
/// Postfix whose `smtputf8_enable` is `no` ([`super::postconf::carries_utf8`]). Unknown (another flavor, no postconf) is not known.
pub fn refuses_utf8_addresses(program: &Path, flavor: Flavor, env: &crate::Env) -> bool {
    flavor == Flavor::Postfix && !super::postconf::carries_utf8(program, env.root.as_deref())
}

/// Refuses a message with a UTF-8 envelope address (the `-f` sender or a recipient) when
/// the real sendmail is known not to carry one ([`refuses_utf8_addresses`]), so that it is
/// not accepted to bounce later (pgpsendmail(8), RECIPIENTS): [`Error::Data`] (65), before
/// the body is read. postconf runs only for such a message.
pub fn carriable(
    program: &Path,
    flavor: Flavor,
    env: &crate::Env,
    sender: Option<&Sender>,
    recipients: &[Address],
) -> Result<()> {
    let sender = match sender {
        Some(Sender::Address(a)) if !a.is_ascii() => Some(a.as_str()),
        _ => None,
    };
    let Some(first) = sender.or_else(|| {
        recipients
            .iter()
            .map(Address::as_str)
            .find(|a| !a.is_ascii())
    }) else {
        return Ok(());
    };
    if !refuses_utf8_addresses(program, flavor, env) {
        return Ok(());
    }
    Err(Error::Data(format!(
        "{}: the real sendmail cannot carry UTF-8 addresses (Postfix smtputf8_enable = no); \
         nothing sent",
        sanitize(first)
    )))
}

/// Finds the real sendmail and checks that it is not pgpsendmail itself (see
/// [`find_real_sendmail`]).
pub fn find_sendmail(cfg: &Config, env: &crate::Env) -> Result<PathBuf> {
    find_real_sendmail(cfg, env).map(|(p, _)| p)
}

/// Finds the real sendmail, never by `PATH`: the `sendmail` setting; else [`DIVERTED`];
/// else the first of [`SYSTEM`] that is an executable file and not pgpsendmail (same
/// device and inode as our own executable, symbolic links followed); else exactly one of
/// [`CANDIDATES`]. The fixed paths are taken under `env.root` (tests). Whatever chose it,
/// a program that is pgpsendmail itself is refused (78).
pub fn find_real_sendmail(cfg: &Config, env: &crate::Env) -> Result<(PathBuf, Rule)> {
    let me = env
        .self_exe
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
    let me_id = file_id(&me);
    let root = env.root.as_deref();
    let runnable =
        |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file()) && which::which(p).is_ok();
    let (path, rule) = if let Some(p) = &cfg.sendmail {
        (p.clone(), Rule::Configured)
    } else if let Some(p) = Some(rooted(root, DIVERTED)).filter(|p| runnable(p)) {
        (p, Rule::Diverted)
    } else if let Some(p) = SYSTEM
        .iter()
        .map(|s| rooted(root, s))
        .find(|p| runnable(p) && (me_id.is_none() || file_id(p) != me_id))
    {
        (p, Rule::System)
    } else {
        let hits: Vec<PathBuf> = CANDIDATES
            .iter()
            .map(|c| rooted(root, c))
            .filter(|p| runnable(p))
            .collect();
        match hits.len() {
            1 => (
                hits.into_iter().next().unwrap_or_default(),
                Rule::OnlyCandidate,
            ),
            0 => {
                return Err(Error::Config(
                    "no real sendmail found: set sendmail = \"/path\" in the configuration".into(),
                ));
            }
            _ => {
                let list: Vec<String> = hits.iter().map(|p| p.display().to_string()).collect();
                return Err(Error::Config(format!(
                    "several real sendmails found ({}): choose one with sendmail = \"/path\" \
                     in the configuration",
                    list.join(", ")
                )));
            }
        }
    };
    let shown = sanitize(&path.display().to_string());
    let meta = std::fs::metadata(&path)
        .map_err(|e| Error::Unavailable(format!("real sendmail {shown}: {e}")))?;
    if !meta.is_file() || which::which(&path).is_err() {
        return Err(Error::Unavailable(format!(
            "real sendmail {shown} is not an executable file"
        )));
    }
    if me_id.is_some() && me_id == Some((meta.dev(), meta.ino())) {
        return Err(Error::Config(format!(
            "real sendmail {shown} is pgpsendmail itself: set sendmail to the MTA's own program"
        )));
    }
    Ok((path, rule))
}

/// The downstream arguments (without `argv[0]`) for these recipients.
pub fn downstream_args(
    inv: &Invocation,
    flavor: Flavor,
    rcpts: &[Address],
) -> Result<Vec<OsString>> {
    let mut a: Vec<OsString> = vec!["-i".into()];
    match &inv.sender {
        // dma turns `-f <>` into the reverse-path <<>@host>, which is not one: it gets no
        // -f, and so sends as the caller (docs/interface.md section 5).
        Some(Sender::Null) if flavor == Flavor::Dma => {}
        Some(Sender::Null) => a.extend(["-f".into(), "<>".into()]),
        Some(Sender::Address(s)) => a.extend(["-f".into(), s.into()]),
        None => {}
    }
    if let Some(n) = &inv.full_name {
        a.extend(["-F".into(), n.into()]);
    }
    // OpenSMTPD's smtpctl refuses -N, -R and -V with its stock smtpd.conf (503 5.5.4
    // "Unsupported option RET=hdrs"): they are dropped for it, as for the MTAs that have none.
    let dsn_nr = matches!(flavor, Flavor::Postfix | Flavor::Sendmail | Flavor::Msmtp);
    let dsn_v = matches!(flavor, Flavor::Postfix | Flavor::Sendmail);
    if dsn_nr {
        if let Some(n) = &inv.dsn_notify {
            a.extend(["-N".into(), n.into()]);
        }
        if let Some(r) = &inv.dsn_ret {
            a.extend(["-R".into(), r.into()]);
        }
    }
    if dsn_v && let Some(v) = &inv.envid {
        a.extend(["-V".into(), v.into()]);
    }
    if flavor == Flavor::Ssmtp {
        // ssmtp has no "--": a recipient that looks like an option would become one.
        if let Some(bad) = rcpts.iter().find(|r| r.as_str().starts_with('-')) {
            return Err(Error::Usage(format!(
                "recipient '{}' starts with '-', which flavor ssmtp would read as an option",
                sanitize(bad.as_str())
            )));
        }
    } else {
        a.push("--".into());
    }
    a.extend(rcpts.iter().map(|r| OsString::from(r.as_str())));
    Ok(a)
}

/// What a mode that sends no message (`-bp`, `-q`, `-bi`, `-bv`, `mailq`, `newaliases`)
/// becomes for a flavor (pgpsendmail(8), MODES; docs/interface.md section 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassThrough {
    /// Run the real sendmail under this `argv[0]` with these arguments, stdin /dev/null.
    Run {
        argv0: &'static str,
        args: Vec<OsString>,
    },
    /// Nothing to run for this flavor: exit with `code` after saying `note`.
    Done { code: i32, note: String },
}

/// The pass-through call for a mode that sends no message. The arguments are rebuilt from
/// parsed values, never copied from the caller. A flavor that cannot do the mode through
/// its sendmail program is refused (64) rather than handed something it would read as a
/// message to send (OpenSMTPD reads -bp as a send, nullmailer -q, dma -bv).
pub fn pass_through(inv: &Invocation, flavor: Flavor) -> Result<PassThrough> {
    use Flavor::*;
    let run = |argv0, args: &[&str]| {
        Ok(PassThrough::Run {
            argv0,
            args: args.iter().map(OsString::from).collect(),
        })
    };
    let done = |note: String| Ok(PassThrough::Done { code: 0, note });
    let cannot = |what: &str| {
        Err(Error::Usage(format!(
            "flavor {} cannot {what} through its sendmail program",
            flavor.name()
        )))
    };
    match &inv.mode {
        Mode::ListQueue => match flavor {
            Postfix | Sendmail | Exim | Dma if inv.invoked == Invoked::Sendmail => {
                run("sendmail", &["-bp"])
            }
            Postfix | Sendmail | Exim | Dma | Opensmtpd | Ssmtp => run("mailq", &[]),
            // nullmailer's sendmail lists its queue itself (`-bp`), under either name.
            Nullmailer => run("sendmail", &["-bp"]),
            // msmtp keeps no queue, and its sendmail refuses -bp (64): so does pgpsendmail.
            Msmtp => cannot("list a queue (it keeps none)"),
        },
        Mode::RunQueue(v) => match flavor {
            Postfix | Sendmail | Exim | Dma => Ok(PassThrough::Run {
                argv0: "sendmail",
                args: vec![format!("-q{v}").into()],
            }),
            // ssmtp keeps no queue and exits 0 for -q itself: a cron job's `sendmail -q`
            // keeps working. msmtp's sendmail refuses -q (64).
            Ssmtp => done("flavor ssmtp keeps no mail queue: nothing to run".into()),
            Msmtp | Nullmailer | Opensmtpd => cannot("run its queue"),
        },
        Mode::Aliases => match flavor {
            Postfix | Sendmail | Exim if inv.invoked == Invoked::Sendmail => {
                run("sendmail", &["-bi"])
            }
            Postfix | Sendmail | Exim | Dma | Opensmtpd | Ssmtp => run("newaliases", &[]),
            // No alias database, no newaliases program, and their sendmail refuses -bi
            // (msmtp 64, nullmailer 1): refused as a usage error.
            Msmtp | Nullmailer => cannot("rebuild aliases (it has no alias database)"),
        },
        Mode::Verify => match flavor {
            Postfix | Sendmail | Exim => {
                let mut args: Vec<OsString> = vec!["-bv".into(), "--".into()];
                args.extend(inv.recipients.iter().map(|r| OsString::from(r.as_str())));
                Ok(PassThrough::Run {
                    argv0: "sendmail",
                    args,
                })
            }
            // ssmtp verifies nothing and exits 0 for -bv itself; so does pgpsendmail.
            Ssmtp => done("flavor ssmtp verifies no address (-bv): nothing to check".into()),
            _ => cannot("verify addresses (-bv)"),
        },
        Mode::Deliver | Mode::Smtp => Err(Error::Internal(format!(
            "mode {} sends a message; it is never passed through",
            inv.mode.flag()
        ))),
    }
}

/// One message ready to go: its recipients and its complete ciphertext (or, for a
/// `plaintext` recipient, the bytes to write into anonymous memory).
pub struct Copy {
    pub recipients: Vec<Address>,
    pub body: CopyBody,
}

/// Writes a copy's bytes (into a memfd, just before its sendmail starts).
pub type CopyWriter = Box<dyn FnOnce(&mut dyn Write) -> std::io::Result<()> + Send>;

pub enum CopyBody {
    /// A complete file, rewound: becomes standard input.
    File(File),
    /// A copy pgpsendmail did not encrypt (a `plaintext` copy, or a message already
    /// protected passed through): the closure writes it into a memfd of its own just before
    /// its sendmail starts. Never a file: where memfds are unavailable it is not sent, and
    /// since that is checked before the first copy goes, nothing is (71).
    Memory(CopyWriter),
    /// A hidden recipient's copy: its own bytes around a part it shares with other copies,
    /// assembled into a file of its own just before its sendmail starts.
    Parts(Parts),
}

/// A copy made of its own head and foot (in memory, a few KiB) around an armored body that
/// is stored once for every copy with the same armor line alignment
/// ([`crate::openpgp::armor::armor_split`]): fifty hidden recipients of a 10 MiB message keep one
/// 14 MiB file, not fifty.
pub struct Parts {
    /// What every copy starts with, shared: the outer header section and the MIME parts
    /// before the armor (a long To list makes it large; it is kept once).
    pub prefix: Arc<[u8]>,
    /// The copy's own armor lines.
    pub head: Vec<u8>,
    /// The shared armor lines: a complete file and its length.
    pub tail: Option<(Arc<File>, u64)>,
    /// The copy's CRC-24 line and the armor footer.
    pub foot: Vec<u8>,
    /// What every copy ends with, shared: the rest of the MIME structure.
    pub suffix: Arc<[u8]>,
}

impl Parts {
    /// Writes the whole copy to `w`, reading the shared part with pread(2).
    pub fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        w.write_all(&self.prefix)?;
        w.write_all(&self.head)?;
        if let Some((f, len)) = &self.tail {
            copy_range(f, 0, *len, w)?;
        }
        w.write_all(&self.foot)?;
        w.write_all(&self.suffix)
    }

    /// The whole copy in an anonymous file of its own (memfd, else an unlinked file in
    /// `tmpdir`: ciphertext only), rewound: prefix, head, the shared lines copied from
    /// their file ([`spool::copy_file_range_into`]), foot, suffix.
    pub fn assemble(&self, tmpdir: Option<&Path>) -> std::io::Result<File> {
        let mut f = spool::anon_file("pgpsendmail-copy", tmpdir)?;
        f.write_all(&self.prefix)?;
        f.write_all(&self.head)?;
        if let Some((t, len)) = &self.tail {
            spool::copy_file_range_into(t, *len, &mut f)?;
        }
        f.write_all(&self.foot)?;
        f.write_all(&self.suffix)?;
        spool::rewind(&mut f)?;
        Ok(f)
    }
}

/// Copies bytes `off..end` of `f` to `w` with pread(2) (the file's offset is not moved).
fn copy_range(f: &File, mut off: u64, end: u64, w: &mut dyn Write) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 64 << 10];
    while off < end {
        let want = usize::try_from(end - off).map_or(buf.len(), |n| n.min(buf.len()));
        let n = f.read_at(&mut buf[..want], off)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the shared ciphertext file ended early",
            ));
        }
        w.write_all(&buf[..n])?;
        off += n as u64;
    }
    Ok(())
}

/// How the copies are handed on; tests replace it to record in-process.
pub trait Deliverer {
    /// Hands every copy on and logs what became of them (`log`, one line); returns the exit
    /// status for the caller. A single file copy may replace the process (exec) and never
    /// return, unless [`Deliverer::smtp_session`] was called.
    fn deliver(
        &mut self,
        program: &Path,
        argv: Vec<(Vec<OsString>, Copy)>,
        log: &crate::syslog::Entry,
    ) -> Result<i32>;

    /// Runs the real sendmail for a mode that sends no message, with stdin /dev/null; may
    /// replace the process. The default refuses: a recorder that does not model it.
    fn pass(&mut self, program: &Path, argv0: &str, args: Vec<OsString>) -> Result<i32> {
        let _ = (program, argv0, args);
        Err(Error::Internal(
            "this deliverer cannot pass a mode through".into(),
        ))
    }

    /// Called once before an SMTP session (`-bs`): from now on every copy is spawned and
    /// waited for (never exec), and the real sendmail's standard output goes to our
    /// standard error, since ours carries SMTP replies only.
    fn smtp_session(&mut self) {}

    /// Called once before anything is handed on, with the real sendmail's flavor: it
    /// decides what an exit status of 75 means ([`Flavor::tempfail_is_queued`]).
    fn flavor(&mut self, flavor: Flavor) {
        let _ = flavor;
    }

    /// Called once before anything is handed on: how copies may be handed to one `-bs` run
    /// of the real sendmail (`None`: one run per copy; see [`Batch::new`]).
    fn batch(&mut self, batch: Option<Batch>) {
        let _ = batch;
    }

    /// Called once before anything is handed on: the `handoff_jobs` setting, how many runs
    /// of the real sendmail may go at once ([`share::workers`]).
    fn jobs(&mut self, jobs: usize) {
        let _ = jobs;
    }

    /// What became of the copies of the last [`Deliverer::deliver`] that spawned them
    /// (`None`: not known), taken once; for an SMTP face's reply.
    fn take_handoff(&mut self) -> Option<Handoff> {
        None
    }
}

/// What became of the copies of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handoff {
    pub total: usize,
    /// The copies the real sendmail did not take: their recipients, and what it did.
    pub failed: Vec<(String, Status)>,
}

/// How one run of the real sendmail ended, when it did not take its copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// It exited with this status.
    Exit(i32),
    /// A signal ended it.
    Signal(i32),
    /// It could not be run, or was stopped (the reason).
    Error(String),
    /// In a `-bs` run, the real sendmail's SMTP reply refusing the copy (its code and
    /// text, sanitized).
    Reply(u16, String),
}

impl Status {
    /// The exit status pgpsendmail gives for it (69 when there is none).
    pub fn code(&self) -> i32 {
        match self {
            Status::Exit(c) => *c,
            // A 4xx is what the real sendmail's own 75 is in a run of its own: not taken
            // now, may be taken later.
            Status::Reply(c, _) if (400..500).contains(c) => TEMPFAIL,
            _ => crate::error::ExitCode::Unavailable.code(),
        }
    }

    /// Whether the same copy may be taken later (sysexits' temporary statuses, a signal, an
    /// error running it).
    pub fn is_temporary(&self) -> bool {
        match self {
            Status::Exit(c) => [69, 71, 73, 74, 75].contains(c),
            Status::Reply(c, _) => (400..500).contains(c),
            _ => true,
        }
    }
}

/// `status S`, `signal N`, or `status S, reply CODE TEXT`; an error is `status 69` (its reason was said on a line of its
/// own).
impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Signal(s) => write!(f, "signal {s}"),
            Status::Reply(c, t) => write!(f, "status {}, reply {c} {t}", self.code()),
            st => write!(f, "status {}", st.code()),
        }
    }
}

/// The real thing: exec for one file copy, spawn and wait otherwise.
#[derive(Debug, Default)]
pub struct Exec {
    /// Set by [`Deliverer::smtp_session`].
    smtp: bool,
    /// What the last spawned delivery came to ([`Deliverer::take_handoff`]).
    handoff: Option<Handoff>,
    /// Where a hidden copy's file goes when memfds are unavailable (`$TMPDIR`).
    tmpdir: Option<PathBuf>,
    /// Set by [`Deliverer::flavor`]: the real sendmail's 75 means its copy is queued.
    tempfail_queued: bool,
    /// Set by [`Deliverer::batch`]: many copies go to one `-bs` run.
    batch: Option<Batch>,
    /// Set by [`Deliverer::jobs`]: the `handoff_jobs` setting ([`share::workers`]).
    jobs: usize,
}

impl Exec {
    /// A deliverer whose hidden copies fall back to unlinked files in `tmpdir` (`None`:
    /// `/tmp`) where memfds are unavailable.
    pub fn new(tmpdir: Option<PathBuf>) -> Exec {
        Exec {
            smtp: false,
            handoff: None,
            tmpdir,
            tempfail_queued: false,
            batch: None,
            jobs: 0,
        }
    }
}

/// Marks every descriptor above 2 close-on-exec, so the real sendmail inherits only 0-2.
fn cloexec_above_stderr() {
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2)
            .collect();
        for fd in fds {
            // An fd that was closed meanwhile (the directory's own) fails harmlessly.
            let _ = crate::sys::set_cloexec(fd);
        }
    }
}

fn command(program: &Path, args: &[OsString]) -> Command {
    let mut c = Command::new(program);
    c.arg0("sendmail").args(args);
    c
}

fn who(rcpts: &[Address]) -> String {
    rcpts
        .iter()
        .map(|r| sanitize(r.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Standard output for a spawned real sendmail: ours, or in an SMTP session our standard
/// error (the SMTP client must see nothing but replies).
fn child_stdout(smtp: bool) -> Stdio {
    use std::os::fd::AsFd;
    if smtp {
        match std::io::stderr().as_fd().try_clone_to_owned() {
            Ok(fd) => Stdio::from(fd),
            Err(_) => Stdio::null(),
        }
    } else {
        Stdio::inherit()
    }
}

/// How long one run of the real sendmail may take when copies are spawned (an `exec`ed
/// single copy is the caller's to wait for). Ten minutes: a local submission (postdrop,
/// exim -bm, dma) takes well under a second, a relaying one (msmtp) a few seconds per MiB.
pub const WAIT_SECONDS: u64 = 600;

/// [`WAIT_SECONDS`], or the whole seconds in `PGPSENDMAIL_WAIT_SECONDS` (for tests;
/// documented in pgpsendmail(8)).
fn wait_limit() -> Duration {
    let secs = std::env::var("PGPSENDMAIL_WAIT_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(WAIT_SECONDS);
    Duration::from_secs(secs)
}

/// A copy's standard input: a complete file of its own, rewound, made just before its
/// sendmail starts (so that only one such file exists per run going, however many copies).
pub fn stdin_for(body: CopyBody, tmpdir: Option<&Path>) -> std::io::Result<File> {
    match body {
        CopyBody::File(f) => Ok(f),
        CopyBody::Parts(parts) => parts.assemble(tmpdir),
        CopyBody::Memory(write) => {
            let f = spool::memfd("pgpsendmail-copy")?;
            let mut w = std::io::BufWriter::with_capacity(64 << 10, f);
            write(&mut w)?;
            let mut f = w.into_inner().map_err(|e| e.into_error())?;
            spool::rewind(&mut f)?;
            Ok(f)
        }
    }
}

/// Runs one copy: spawns `cmd` with the complete file `stdin` as its standard input, and
/// waits at most `limit` for it to end. A run still going then is killed (SIGKILL) and is
/// an error: the copy is not known to be queued. So is a run that exits 0 before it read
/// its standard input to the end (it shares the file's offset with us, which says how far
/// it read). Returns how it ended.
fn run_bounded(
    mut cmd: Command,
    stdin: File,
    limit: Duration,
) -> std::io::Result<std::process::ExitStatus> {
    let len = stdin.metadata()?.len();
    // The same open file (a dup): its offset is the child's.
    let offset = stdin.try_clone()?;
    let mut child = cmd.stdin(Stdio::from(stdin)).spawn()?;
    // Our descriptor of the copy goes now: the child holds it; it is freed when the child
    // ends.
    drop(cmd);
    let pid = child.id();
    // The watchdog kills only a child not yet reaped (its pid cannot have been reused):
    // `done` is set, under the lock, after the child ended and before it is reaped.
    let state = Arc::new((Mutex::new(false), Condvar::new()));
    let timed_out = Arc::new(AtomicBool::new(false));
    let dog = {
        let (state, timed_out) = (Arc::clone(&state), Arc::clone(&timed_out));
        // A small stack: the watchdog must start under a low RLIMIT_AS too.
        std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || {
                let (lock, cv) = &*state;
                let done = lock.lock().unwrap_or_else(|e| e.into_inner());
                let (done, _) = cv
                    .wait_timeout_while(done, limit, |d| !*d)
                    .unwrap_or_else(|e| e.into_inner());
                if !*done {
                    timed_out.store(true, Ordering::SeqCst);
                    // Our own unreaped child; a failure changes nothing.
                    let _ = crate::sys::kill(pid);
                }
            })
    };
    let dog = match dog {
        Ok(d) => d,
        Err(e) => {
            // No watchdog, no bound: stop the run rather than wait without one.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    // Wait for the end without reaping (WNOWAIT), so that the watchdog can still kill.
    let _ = crate::sys::wait_exit_no_reap(pid);
    end_watchdog(&state, dog);
    let st = child.wait()?;
    run_outcome(st, timed_out.load(Ordering::SeqCst), offset, len, limit)
}

/// Tells the watchdog of [`run_bounded`] that the child has ended (before it is reaped),
/// and waits for the watchdog to end.
fn end_watchdog(state: &(Mutex<bool>, Condvar), dog: std::thread::JoinHandle<()>) {
    {
        let (lock, cv) = state;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
    let _ = dog.join();
}

/// What a run of [`run_bounded`] that has ended with `st` comes to: an error when the
/// watchdog stopped it, or when it exited 0 before `offset` (the child's offset in its
/// standard input) reached `len`; else its exit code.
fn run_outcome(
    st: std::process::ExitStatus,
    timed_out: bool,
    mut offset: File,
    len: u64,
    limit: Duration,
) -> std::io::Result<std::process::ExitStatus> {
    if timed_out {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "still running after {} s (PGPSENDMAIL_WAIT_SECONDS); stopped it",
                limit.as_secs()
            ),
        ));
    }
    let read = offset.stream_position()?;
    drop(offset);
    if st.success() && read < len {
        // It exited 0 without reading all: not known to be sent.
        return Err(std::io::Error::other(format!(
            "it exited 0 after reading {read} of the {len} bytes of its copy"
        )));
    }
    Ok(st)
}

impl Deliverer for Exec {
    fn smtp_session(&mut self) {
        self.smtp = true;
    }

    fn flavor(&mut self, flavor: Flavor) {
        self.tempfail_queued = flavor.tempfail_is_queued();
    }

    fn take_handoff(&mut self) -> Option<Handoff> {
        self.handoff.take()
    }

    fn batch(&mut self, batch: Option<Batch>) {
        self.batch = batch;
    }

    fn jobs(&mut self, jobs: usize) {
        self.jobs = jobs;
    }

    fn pass(&mut self, program: &Path, argv0: &str, args: Vec<OsString>) -> Result<i32> {
        cloexec_above_stderr();
        let err = Command::new(program)
            .arg0(argv0)
            .args(&args)
            .stdin(Stdio::null())
            .exec();
        Err(Error::Unavailable(format!(
            "cannot run real sendmail {}: {err}",
            sanitize(&program.display().to_string())
        )))
    }

    fn deliver(
        &mut self,
        program: &Path,
        copies: Vec<(Vec<OsString>, Copy)>,
        log: &crate::syslog::Entry,
    ) -> Result<i32> {
        cloexec_above_stderr();
        let shown = sanitize(&program.display().to_string());
        if copies.len() == 1
            && !self.smtp
            && let CopyBody::File(_) = &copies[0].1.body
        {
            let (args, copy) = copies.into_iter().next().expect("one copy");
            let CopyBody::File(f) = copy.body else {
                unreachable!("checked above")
            };
            // The real sendmail's own status goes to the caller; its own log line (the same
            // Message-ID) says what it did.
            log.handed_on(1, &format!("handed to {shown} (exec)"));
            let err = command(program, &args).stdin(Stdio::from(f)).exec();
            return Err(Error::Unavailable(format!(
                "cannot run real sendmail {shown}: {err}"
            )));
        }
        // A copy kept in memory only (never in a file) needs a memfd: without one, refuse
        // before anything is handed on rather than after some copies went.
        if copies
            .iter()
            .any(|(_, c)| matches!(c.body, CopyBody::Memory(_)))
            && let Err(e) = spool::memfd("pgpsendmail-probe")
        {
            return Err(Error::Os(format!(
                "no anonymous memory (memfd) for a copy that is not encrypted: {e}; it is \
                 never written to a file; nothing sent"
            )));
        }
        let total = copies.len();
        let (failed, queued) = self.hand_on(program, copies, &shown);
        self.handoff = Some(Handoff {
            total,
            failed: failed.clone(),
        });
        if !failed.is_empty() {
            return Ok(report_failed(&failed, total, log));
        }
        if queued.is_empty() {
            log.handed_on(total, &format!("sent ({shown} took every copy)"));
            return Ok(0);
        }
        // Every copy taken, some of them queued for later by an MTA that is not running:
        // the status the MTA alone gives such a message, and nothing to send again.
        let text = format!(
            "{shown} took every copy; queued for when the MTA runs (status 75): {}",
            queued.join(", ")
        );
        diag::say(format_args!("{text}"));
        log.handed_on(total, &format!("sent ({text})"));
        Ok(TEMPFAIL)
    }
}

impl Exec {
    /// Hands every copy on: the encrypted ones through `-bs` sessions when a [`Batch`] is
    /// set and there are at least its `min` of them ([`Exec::run_batch`]), the others (and
    /// all of them when no session starts) one run each ([`Exec::run_each`]). Either way at
    /// most [`share::workers`] runs go at once.
    fn hand_on(
        &self,
        program: &Path,
        copies: Vec<(Vec<OsString>, Copy)>,
        shown: &str,
    ) -> (Vec<(String, Status)>, Vec<String>) {
        let Some(b) = &self.batch else {
            return tally(self.run_each(program, copies, shown));
        };
        let (batched, single): (Vec<_>, Vec<_>) = copies
            .into_iter()
            .partition(|(_, c)| !matches!(c.body, CopyBody::Memory(_)));
        if batched.len() < b.min {
            let all = batched.into_iter().chain(single).collect();
            return tally(self.run_each(program, all, shown));
        }
        // The first session starts before anything goes: when it cannot, every copy has a
        // run of its own instead.
        let first = match Session::start(program, b, wait_limit()) {
            Ok(s) => Ok(s),
            Err(why) if b.listener().is_some() => {
                // The MTA's listener is down: its sendmail may still queue.
                diag::say(format_args!("{why}; sendmail -bs instead"));
                Session::start_bs(program, b, wait_limit())
            }
            Err(why) => Err(why),
        };
        let first = match first {
            Ok(s) => s,
            Err(why) => {
                diag::say(format_args!(
                    "real sendmail {shown}: {why}; one run per copy instead"
                ));
                let all = batched.into_iter().chain(single).collect();
                return tally(self.run_each(program, all, shown));
            }
        };
        let mut fates = self.run_batch(program, b, first, batched, shown);
        fates.extend(self.run_each(program, single, shown));
        tally(fates)
    }

    /// Hands `copies` on as successive transactions of `-bs` sessions (`first`, and as many
    /// more as [`share::workers`] allows, each started by its worker), each copy from a
    /// complete file of its own made just before its transaction; returns what became of
    /// each copy, in order.
    fn run_batch(
        &self,
        program: &Path,
        b: &Batch,
        first: Session,
        copies: Vec<(Vec<OsString>, Copy)>,
        shown: &str,
    ) -> Vec<Fate> {
        let jobs = share::workers(self.jobs, copies.len());
        let first = Mutex::new(Some(first));
        // The first session whose run is gone, and how: what every copy no session took
        // is reported with.
        let gone: Mutex<Option<Status>> = Mutex::new(None);
        let total = copies.len();
        let done = share::share(copies, jobs, |k| {
            let session = match k {
                0 => first.lock().unwrap_or_else(|e| e.into_inner()).take(),
                // Another session as the first went: the listener, else sendmail -bs.
                _ => Session::start(program, b, wait_limit())
                    .or_else(|e| match b.listener() {
                        Some(_) => Session::start_bs(program, b, wait_limit()),
                        None => Err(e),
                    })
                    .ok(),
            };
            let mut worker = BatchWorker {
                session,
                exec: self,
                shown,
                gone: &gone,
            };
            worker
                .session
                .is_some()
                .then_some(move |(_, c): (_, Copy)| worker.send(c))
        });
        let gone = gone.into_inner().unwrap_or_else(|e| e.into_inner());
        in_order(total, done, |c: &Copy| {
            let st = gone
                .clone()
                .unwrap_or_else(|| Status::Error("not handed on".into()));
            Fate::Failed(vec![(who(&c.recipients), st)])
        })
    }

    /// Runs the real sendmail once per copy, at most [`share::workers`] runs at once;
    /// returns what became of each copy, in order.
    fn run_each(
        &self,
        program: &Path,
        copies: Vec<(Vec<OsString>, Copy)>,
        shown: &str,
    ) -> Vec<Fate> {
        let jobs = share::workers(self.jobs, copies.len());
        let total = copies.len();
        let limit = wait_limit();
        let done = share::share(copies, jobs, |_| {
            Some(|(args, copy): (Vec<OsString>, Copy)| {
                share::Step::Next(self.run_one(program, &args, copy, shown, limit))
            })
        });
        in_order(total, done, |c: &Copy| {
            Fate::Failed(vec![(
                who(&c.recipients),
                Status::Error("not handed on".into()),
            )])
        })
    }

    /// One run of the real sendmail for `copy`, its file made here and dropped when the
    /// run has ended.
    fn run_one(
        &self,
        program: &Path,
        args: &[OsString],
        copy: Copy,
        shown: &str,
        limit: Duration,
    ) -> Fate {
        use std::os::unix::process::ExitStatusExt;
        let mut cmd = command(program, args);
        cmd.stdout(child_stdout(self.smtp));
        let status = stdin_for(copy.body, self.tmpdir.as_deref())
            .and_then(|stdin| run_bounded(cmd, stdin, limit));
        let status = match status {
            Ok(st) if st.success() => return Fate::Taken,
            Ok(st) if st.code() == Some(TEMPFAIL) && self.tempfail_queued => {
                return Fate::Queued(who(&copy.recipients));
            }
            Ok(st) => match (st.code(), st.signal()) {
                (Some(c), _) => Status::Exit(c),
                // Killed by a signal: the copy is not known to be queued.
                (None, Some(sig)) => Status::Signal(sig),
                (None, None) => Status::Error(format!("{st}")),
            },
            Err(e) => {
                diag::say(format_args!(
                    "real sendmail {shown} for {}: {e}",
                    who(&copy.recipients)
                ));
                Status::Error(e.to_string())
            }
        };
        Fate::Failed(vec![(who(&copy.recipients), status)])
    }
}

/// What became of one copy.
enum Fate {
    Taken,
    /// Taken, and queued for later by an MTA that is not running: its recipients.
    Queued(String),
    /// Not taken (or, of a copy, some recipients not): who, and what the real sendmail
    /// did.
    Failed(Vec<(String, Status)>),
}

/// The failures and the queued copies of `fates`, in order.
fn tally(fates: Vec<Fate>) -> (Vec<(String, Status)>, Vec<String>) {
    let (mut failed, mut queued) = (Vec::new(), Vec::new());
    for f in fates {
        match f {
            Fate::Taken => {}
            Fate::Queued(w) => queued.push(w),
            Fate::Failed(v) => failed.extend(v),
        }
    }
    (failed, queued)
}

/// Every copy's fate in the copies' order: a worker's result, or `untaken` for a copy no
/// worker took (or whose worker died with it).
fn in_order<A>(
    total: usize,
    done: share::Shared<(A, Copy), Fate>,
    untaken: impl Fn(&Copy) -> Fate,
) -> Vec<Fate> {
    let mut fates: Vec<Option<Fate>> = (0..total).map(|_| None).collect();
    let mut lost: Vec<Option<Copy>> = (0..total).map(|_| None).collect();
    for (i, f) in done.results {
        fates[i] = Some(f);
    }
    for (i, (_, c)) in done.left {
        lost[i] = Some(c);
    }
    fates
        .into_iter()
        .zip(lost)
        .map(|(f, c)| match (f, c) {
            (Some(f), _) => f,
            (None, Some(c)) => untaken(&c),
            (None, None) => Fate::Failed(vec![(
                "a copy".into(),
                Status::Error("its worker ended".into()),
            )]),
        })
        .collect()
}

/// One `-bs` session of [`Exec::run_batch`], taking copies in turn; it quits (or is
/// stopped) when dropped.
struct BatchWorker<'a> {
    session: Option<Session<'a>>,
    exec: &'a Exec,
    shown: &'a str,
    gone: &'a Mutex<Option<Status>>,
}

impl BatchWorker<'_> {
    /// One copy: made into its file, sent as one transaction. The session being gone ends
    /// the worker.
    fn send(&mut self, copy: Copy) -> share::Step<Fate> {
        use share::Step;
        let rcpts = copy.recipients;
        let Some(session) = self.session.as_mut() else {
            return Step::Last(Fate::Failed(vec![(
                who(&rcpts),
                Status::Error("no session".into()),
            )]));
        };
        let file = match stdin_for(copy.body, self.exec.tmpdir.as_deref()) {
            Ok(f) => f,
            Err(e) => {
                diag::say(format_args!(
                    "real sendmail {} for {}: {e}",
                    self.shown,
                    who(&rcpts)
                ));
                return Step::Next(Fate::Failed(vec![(
                    who(&rcpts),
                    Status::Error(e.to_string()),
                )]));
            }
        };
        match session.send(&rcpts, file) {
            Sent::Taken { refused } if refused.is_empty() => Step::Next(Fate::Taken),
            Sent::Taken { refused } => Step::Next(Fate::Failed(
                refused
                    .into_iter()
                    .map(|(i, r)| (who(&rcpts[i..=i]), reply_status(&r)))
                    .collect(),
            )),
            Sent::Refused(r) => Step::Next(Fate::Failed(vec![(who(&rcpts), reply_status(&r))])),
            Sent::Gone(g) => {
                diag::say(format_args!("real sendmail {}: {}", self.shown, g.why));
                let st = match (g.signal, g.code) {
                    (Some(sig), _) => Status::Signal(sig),
                    (None, Some(c)) if c != 0 => Status::Exit(c),
                    _ => Status::Error(g.why),
                };
                let mut first = self.gone.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert_with(|| st.clone());
                Step::Last(Fate::Failed(vec![(who(&rcpts), st)]))
            }
        }
    }
}

impl Drop for BatchWorker<'_> {
    fn drop(&mut self) {
        if let Some(note) = self.session.take().and_then(Session::quit) {
            diag::say(format_args!("real sendmail {}: {note}", self.shown));
        }
    }
}

/// What a refusal in a `-bs` run says in reports.
fn reply_status(r: &crate::smtp::Reply) -> Status {
    Status::Reply(r.code, sanitize(&r.text()))
}

/// EX_TEMPFAIL.
const TEMPFAIL: i32 = 75;

/// Says which of `total` copies were not sent (stderr and the mail log); returns the exit
/// status: the first failure's, but after a partial send never 75, which callers read as
/// "queued, will be delivered": the failed copies will not be.
fn report_failed(failed: &[(String, Status)], total: usize, log: &crate::syslog::Entry) -> i32 {
    let sent = total - failed.len();
    let list: Vec<String> = failed.iter().map(|(w, st)| format!("{w} ({st})")).collect();
    let text = format!(
        "{sent} of {total} copies handed on; not sent to: {}",
        list.join("; ")
    );
    diag::say(format_args!("{text}"));
    log.failed(total, &format!("failed ({text})"));
    let first = failed[0].1.code();
    if sent > 0 && first == TEMPFAIL {
        crate::error::ExitCode::Unavailable.code()
    } else {
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn parts(tail: &[u8]) -> (Parts, Vec<u8>) {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(tail).unwrap();
        let p = Parts {
            prefix: Arc::from(&b"PREFIX\n"[..]),
            head: b"HEAD\n".to_vec(),
            tail: Some((Arc::new(f), tail.len() as u64)),
            foot: b"FOOT\n".to_vec(),
            suffix: Arc::from(&b"SUFFIX\n"[..]),
        };
        let mut whole = b"PREFIX\nHEAD\n".to_vec();
        whole.extend_from_slice(tail);
        whole.extend_from_slice(b"FOOT\nSUFFIX\n");
        (p, whole)
    }

    #[test]
    fn parts_written_or_assembled_are_head_tail_foot() {
        let tail: Vec<u8> = (0..3u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
        let (p, whole) = parts(&tail);
        let mut out = Vec::new();
        p.write_to(&mut out).unwrap();
        assert!(out == whole, "write_to");
        // Twice: copies share the file, whose own offset is never used.
        for round in 0..2 {
            let mut f = p.assemble(None).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            assert!(v == whole, "assemble, round {round}");
        }
        let none = Parts {
            prefix: Arc::from(&b"p"[..]),
            head: b"a".to_vec(),
            tail: None,
            foot: b"b".to_vec(),
            suffix: Arc::from(&b"s"[..]),
        };
        let mut out = Vec::new();
        none.write_to(&mut out).unwrap();
        assert_eq!(out, b"pabs");
        let mut out = Vec::new();
        none.assemble(None).unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out, b"pabs");
    }

    #[test]
    fn a_short_shared_file_is_an_error_not_a_short_copy() {
        // A tail file shorter than its recorded length (cannot happen: the file is complete
        // before the first copy goes) is an error, not a short copy passed as whole.
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"0123456789").unwrap();
        let mut out = Vec::new();
        copy_range(&f, 3, 8, &mut out).unwrap();
        assert_eq!(out, b"34567");
        let e = copy_range(&f, 5, 20, &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        let short = Parts {
            prefix: Arc::from(&b""[..]),
            head: Vec::new(),
            tail: Some((Arc::new(f), 20)),
            foot: Vec::new(),
            suffix: Arc::from(&b""[..]),
        };
        let e = short.assemble(None).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_run_that_exits_0_before_reading_all_of_its_copy_is_not_sent() {
        let mut f = spool::anon_file("t", None).unwrap();
        f.write_all(&[b'x'; 100_000]).unwrap();
        spool::rewind(&mut f).unwrap();
        let mut cmd = Command::new("head");
        cmd.args(["-c", "10"]).stdout(Stdio::null());
        let e = run_bounded(cmd, f, Duration::from_secs(60)).unwrap_err();
        assert!(e.to_string().contains("of the 100000 bytes"), "{e}");
        let mut f = spool::anon_file("t", None).unwrap();
        f.write_all(&[b'x'; 100_000]).unwrap();
        spool::rewind(&mut f).unwrap();
        let mut cmd = Command::new("cat");
        cmd.stdout(Stdio::null());
        assert_eq!(
            run_bounded(cmd, f, Duration::from_secs(60)).unwrap().code(),
            Some(0)
        );
    }
}
