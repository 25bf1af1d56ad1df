//! Handing copies to the real sendmail (spec/cli.md sections 5 and 6).
//!
//! Owns: finding the real sendmail (the configured absolute path, else exactly one hit in a
//! fixed list of absolute paths, never `PATH`), refusing to run ourselves (same device and
//! inode as `/proc/self/exe`), building the downstream argument vector from parsed values
//! only (`sendmail -i [-f S] [-F N] [DSN flags the flavor supports] -- rcpt...`), and
//! running it: one copy is `exec`ed with the ciphertext file as standard input, so the
//! caller sees the real sendmail's status and stderr; several copies are spawned one by one
//! after all of them were built.
//!
//! Keeps uid, gid, groups, environment and fds 0-2; every other descriptor is closed on
//! exec; no no-new-privs (Exim is setuid, dma and smtpctl setgid).

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::address::Address;
use crate::args::{Invocation, Invoked, Mode, Sender};
use crate::config::{Config, Flavor};
use crate::diag::{self, sanitize};
use crate::error::{Error, Result};

/// Where real sendmails live when `sendmail` is not configured (research 6.1).
pub const CANDIDATES: &[&str] = &[
    "/usr/sbin/sendmail.real",
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

/// Finds the real sendmail and checks that it is not pgpsendmail itself.
pub fn find_sendmail(cfg: &Config, self_exe: Option<&Path>) -> Result<PathBuf> {
    let path = match &cfg.sendmail {
        Some(p) => p.clone(),
        None => {
            let hits: Vec<PathBuf> = CANDIDATES
                .iter()
                .map(PathBuf::from)
                .filter(|p| which::which(p).is_ok())
                .collect();
            match hits.len() {
                1 => hits.into_iter().next().unwrap_or_default(),
                0 => {
                    return Err(Error::Config(
                        "no real sendmail found: set sendmail = \"/path\" in the configuration"
                            .into(),
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
    let me = self_exe
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
    if let Ok(m) = std::fs::metadata(&me)
        && m.dev() == meta.dev()
        && m.ino() == meta.ino()
    {
        return Err(Error::Config(format!(
            "real sendmail {shown} is pgpsendmail itself: set sendmail to the MTA's own program"
        )));
    }
    Ok(path)
}

/// The downstream arguments (without `argv[0]`) for these recipients.
pub fn downstream_args(
    inv: &Invocation,
    flavor: Flavor,
    rcpts: &[Address],
) -> Result<Vec<OsString>> {
    let mut a: Vec<OsString> = vec!["-i".into()];
    match &inv.sender {
        Some(Sender::Null) => a.extend(["-f".into(), "<>".into()]),
        Some(Sender::Address(s)) => a.extend(["-f".into(), s.into()]),
        None => {}
    }
    if let Some(n) = &inv.full_name {
        a.extend(["-F".into(), n.into()]);
    }
    let dsn_nr = !matches!(
        flavor,
        Flavor::Exim | Flavor::Nullmailer | Flavor::Dma | Flavor::Ssmtp
    );
    let dsn_v = matches!(
        flavor,
        Flavor::Postfix | Flavor::Sendmail | Flavor::Opensmtpd
    );
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
/// becomes for a flavor (cli.md section 4, research 4.1 and 4.2).
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
            Msmtp => done("flavor msmtp keeps no mail queue: nothing to list".into()),
            Nullmailer => cannot("list its queue (use nullmailer's own mailq)"),
        },
        Mode::RunQueue(v) => match flavor {
            Postfix | Sendmail | Exim | Dma => Ok(PassThrough::Run {
                argv0: "sendmail",
                args: vec![format!("-q{v}").into()],
            }),
            Msmtp => done("flavor msmtp keeps no mail queue: nothing to run".into()),
            Nullmailer | Opensmtpd | Ssmtp => cannot("run its queue"),
        },
        Mode::Aliases => match flavor {
            Postfix | Sendmail | Exim if inv.invoked == Invoked::Sendmail => {
                run("sendmail", &["-bi"])
            }
            Postfix | Sendmail | Exim | Dma | Opensmtpd | Ssmtp => run("newaliases", &[]),
            Msmtp | Nullmailer => done(format!(
                "flavor {} has no alias database: nothing to rebuild",
                flavor.name()
            )),
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
            _ => cannot("verify addresses (-bv)"),
        },
        Mode::Deliver | Mode::Smtp => Err(Error::Internal(format!(
            "mode {} sends a message; it is never passed through",
            inv.mode.flag()
        ))),
    }
}

/// One message ready to go: its recipients and its complete ciphertext (or, for a
/// `plaintext` recipient, the bytes to write into a pipe).
pub struct Copy {
    pub recipients: Vec<Address>,
    pub body: CopyBody,
}

/// Writes a copy's bytes into the pipe to the real sendmail.
pub type PipeWriter = Box<dyn FnOnce(&mut dyn Write) -> std::io::Result<()>>;

pub enum CopyBody {
    /// A complete file, rewound: becomes standard input.
    File(File),
    /// Written into a pipe by the closure (plaintext never goes into a file).
    Pipe(PipeWriter),
    /// A hidden recipient's copy: its own bytes around a part it shares with other copies.
    Parts(Parts),
}

/// A copy made of its own head and foot (in memory, a few KiB) around an armored body that
/// is stored once for every copy with the same armor line alignment
/// ([`crate::armor::armor_split`]): fifty hidden recipients of a 10 MiB message keep one
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

    /// Writes the whole copy into a pipe. The shared part is spliced from its file: page
    /// references move into the pipe, the bytes are not copied through this process. Where
    /// the file cannot be spliced, it is copied as [`Parts::write_to`] does.
    fn write_to_pipe<P: Write + std::os::fd::AsRawFd>(&self, pipe: &mut P) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        pipe.write_all(&self.prefix)?;
        pipe.write_all(&self.head)?;
        if let Some((f, len)) = &self.tail {
            // A larger pipe: fewer switches between this process and the reader. Best
            // effort (the system's pipe-max-size may be lower).
            // SAFETY: F_SETPIPE_SZ on our own pipe descriptor.
            unsafe {
                libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
            }
            let mut off: libc::loff_t = 0;
            while (off as u64) < *len {
                let want = (*len - off as u64).min(1 << 30) as usize;
                // SAFETY: splice between two descriptors we own; `off` is ours, so the
                // file's shared offset is not used.
                let n = unsafe {
                    libc::splice(
                        f.as_raw_fd(),
                        &mut off,
                        pipe.as_raw_fd(),
                        std::ptr::null_mut(),
                        want,
                        libc::SPLICE_F_MORE,
                    )
                };
                if n > 0 {
                    continue;
                }
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the shared ciphertext file ended early",
                    ));
                }
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EINVAL | libc::ENOSYS) => {
                        copy_range(f, off as u64, *len, pipe)?;
                        break;
                    }
                    _ => return Err(e),
                }
            }
        }
        pipe.write_all(&self.foot)?;
        pipe.write_all(&self.suffix)
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
    /// Hands every copy on; returns the exit status for the caller. A single file copy may
    /// replace the process (exec) and never return, unless [`Deliverer::smtp_session`] was
    /// called.
    fn deliver(&mut self, program: &Path, argv: Vec<(Vec<OsString>, Copy)>) -> Result<i32>;

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
}

/// The real thing: exec for one file copy, spawn and wait otherwise.
#[derive(Debug, Default)]
pub struct Exec {
    /// Set by [`Deliverer::smtp_session`].
    smtp: bool,
}

/// Marks every descriptor above 2 close-on-exec, so the real sendmail inherits only 0-2.
fn cloexec_above_stderr() {
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: F_GETFD/F_SETFD on an fd number only changes its close-on-exec flag;
            // an fd that was closed meanwhile makes fcntl fail harmlessly.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                }
            }
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

/// What [`run_bounded`] writes into the pipe to the real sendmail.
enum Feed {
    Writer(PipeWriter),
    Parts(Parts),
}

/// Runs one copy: spawns `cmd` with the copy as its standard input (the file itself, or a
/// pipe written here), and waits at most `limit` for it to end. A run still going then is
/// killed (SIGKILL) and is an error: the copy is not known to be queued. Returns the exit
/// code (`None`: killed by a signal).
fn run_bounded(
    mut cmd: Command,
    body: CopyBody,
    limit: Duration,
) -> std::io::Result<(Option<i32>, ())> {
    let (stdin, feed) = match body {
        CopyBody::File(f) => (Stdio::from(f), None),
        CopyBody::Pipe(write) => (Stdio::piped(), Some(Feed::Writer(write))),
        CopyBody::Parts(parts) => (Stdio::piped(), Some(Feed::Parts(parts))),
    };
    let mut child = cmd.stdin(stdin).spawn()?;
    let pid = child.id() as libc::pid_t;
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
                    // SAFETY: kill() on our own unreaped child; it cannot fail harmfully.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
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
    let wrote = feed.map(|body| {
        let mut pipe = child.stdin.take().expect("piped");
        let r = match body {
            Feed::Writer(write) => write(&mut pipe),
            Feed::Parts(parts) => parts.write_to_pipe(&mut pipe),
        };
        drop(pipe);
        r
    });
    // Wait for the end without reaping (WNOWAIT), so that the watchdog can still kill.
    loop {
        // SAFETY: waitid fills the zeroed siginfo_t we own.
        let r = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break;
        }
    }
    {
        let (lock, cv) = &*state;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
    let _ = dog.join();
    let st = child.wait()?;
    if timed_out.load(Ordering::SeqCst) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "still running after {} s (PGPSENDMAIL_WAIT_SECONDS); stopped it",
                limit.as_secs()
            ),
        ));
    }
    match wrote {
        // It exited 0 without reading all: not known to be sent.
        Some(Err(e)) if st.success() => Err(e),
        _ => Ok((st.code(), ())),
    }
}

impl Deliverer for Exec {
    fn smtp_session(&mut self) {
        self.smtp = true;
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

    fn deliver(&mut self, program: &Path, copies: Vec<(Vec<OsString>, Copy)>) -> Result<i32> {
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
            let err = command(program, &args).stdin(Stdio::from(f)).exec();
            return Err(Error::Unavailable(format!(
                "cannot run real sendmail {shown}: {err}"
            )));
        }
        let total = copies.len();
        let mut failed: Vec<(String, i32)> = Vec::new();
        let mut sent = 0usize;
        let limit = wait_limit();
        for (args, copy) in copies {
            let mut cmd = command(program, &args);
            cmd.stdout(child_stdout(self.smtp));
            let status = run_bounded(cmd, copy.body, limit);
            match status {
                Ok((Some(0), _)) => sent += 1,
                Ok((Some(code), _)) => failed.push((who(&copy.recipients), code)),
                // Killed by a signal: the copy is not known to be queued.
                Ok((None, _)) => failed.push((
                    who(&copy.recipients),
                    crate::error::ExitCode::Unavailable.code(),
                )),
                Err(e) => {
                    diag::say(format_args!(
                        "real sendmail {shown} for {}: {e}",
                        who(&copy.recipients)
                    ));
                    failed.push((
                        who(&copy.recipients),
                        crate::error::ExitCode::Unavailable.code(),
                    ))
                }
            }
        }
        if failed.is_empty() {
            return Ok(0);
        }
        let list: Vec<String> = failed
            .iter()
            .map(|(w, c)| format!("{w} (status {c})"))
            .collect();
        diag::say(format_args!(
            "{sent} of {total} copies handed on; not sent to: {}",
            list.join("; ")
        ));
        // The first failure's status; but after a partial send never 75, which callers
        // read as "queued, will be delivered": the failed copies will not be.
        let first = failed[0].1;
        let tempfail = 75;
        Ok(if sent > 0 && first == tempfail {
            crate::error::ExitCode::Unavailable.code()
        } else {
            first
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::FromRawFd;

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

    /// A pipe: (read end, write end).
    fn pipe() -> (File, File) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two descriptors, each owned by one File from here on.
        unsafe {
            assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
            (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1]))
        }
    }

    #[test]
    fn parts_written_or_spliced_are_head_tail_foot() {
        // 3 MiB: more than a pipe holds, so the splice loop waits for the reader many times.
        let tail: Vec<u8> = (0..3u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
        let (p, whole) = parts(&tail);
        let mut out = Vec::new();
        p.write_to(&mut out).unwrap();
        assert!(out == whole, "write_to");
        // Twice through a pipe: copies share the file, whose own offset is never used.
        for round in 0..2 {
            let (mut r, mut w) = pipe();
            let reader = std::thread::spawn(move || {
                let mut v = Vec::new();
                r.read_to_end(&mut v).unwrap();
                v
            });
            p.write_to_pipe(&mut w).unwrap();
            drop(w);
            assert!(
                reader.join().unwrap() == whole,
                "write_to_pipe, round {round}"
            );
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
    }

    #[test]
    fn a_reader_gone_is_an_error_and_a_short_file_too() {
        let (p, _) = parts(&vec![b'x'; 1 << 20]);
        let (r, mut w) = pipe();
        drop(r);
        // SIGPIPE is ignored in Rust programs: EPIPE comes back as an error.
        assert!(p.write_to_pipe(&mut w).is_err());
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
        let (mut r, mut w) = pipe();
        let reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            v
        });
        let e = short.write_to_pipe(&mut w).unwrap_err();
        drop(w);
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(reader.join().unwrap(), b"0123456789");
    }
}
