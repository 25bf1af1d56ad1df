//! A stand-in for the real sendmail, for `make demo` and the tests: it stores what
//! pgpsendmail hands it and exits with a chosen status. It never sends mail.
//!
//! For each call N (1, 2, ...) it writes, in the directory `$STAND_IN_DIR`:
//!   N.argv   argv[0] and every argument, one per line
//!   N.stdin  the bytes it received on standard input
//!   N.fd     only with `$STAND_IN_CHECK_FD=K`: "open" or "closed", whether descriptor K
//!            was inherited (pgpsendmail must pass on only 0-2)
//!   N.env    its whole environment, each `NAME=VALUE` followed by a NUL byte
//!   N.fds    what descriptors 0, 1 and 2 are, one `K TARGET` line each (readlink)
//!   N.nofile its RLIMIT_NOFILE, "SOFT HARD"
//!   N.status its exit status, written last, only when it ends by exiting (not by a
//!            signal): a call with N.status "0" is a message it committed (queued)
//! and exits with `$STAND_IN_EXIT` (default 0).
//!
//! With `-bs` it is an SMTP server on standard input and output (the crate's own,
//! `pgpsendmail::smtp::server`), and each transaction is a call N of its own: N.argv (its
//! argv), N.smtp (`MAIL FROM:<sender>` and a `RCPT TO:<rcpt>` line per recipient taken),
//! N.stdin (the data, unstuffed, LF line ends), N.pid (its process id) and N.status ("0", only when it answered 250
//! to the data). Faults, for the Nth transaction of the session that reaches its data when
//! `$STAND_IN_ONLY=N`, else for all: STAND_IN_DATA=CODE answers the data with CODE;
//! STAND_IN_SIGNAL=S kills itself with S after reading the data, before answering;
//! STAND_IN_HANG=1 never answers the data (it gives up after two minutes with 75). And
//! STAND_IN_REFUSE=ADDR refuses that recipient at RCPT, with STAND_IN_REFUSE_CODE (550).
//! It never offers DSN. It exits with `$STAND_IN_EXIT` after QUIT.
//!
//! With `$STAND_IN_MEET=1`, a call (in `-bs` mode, a session's first transaction) meets
//! another one going at the same time: it writes
//! N.here, and waits (ten seconds at most) until a second call has written its own; one
//! that waited in vain writes N.alone. So runs one at a time leave an N.alone, and runs
//! going two at once none.
//!
//! Faults, for the tests of tests/integration/faults.rs (with `$STAND_IN_ONLY=N` they apply
//! to call N alone, with `$STAND_IN_ONLY_RCPT=A,B` to the calls for recipient A or B; the
//! other calls behave):
//!   STAND_IN_READ=B    read only B bytes of standard input, then close it
//!   STAND_IN_HANG=1    record the call, then sleep without reading (until killed; it
//!                      gives up after two minutes with 75)
//!   STAND_IN_SIGNAL=S  after reading, kill itself with signal S
//!   STAND_IN_PAUSE=B   a slow reader: after B bytes of standard input (0: before the
//!                      first), write N.paused (the count read) and read no more until the
//!                      file N.resume exists; then read to the end as usual (it gives up
//!                      after two minutes with 75, committing nothing)

use std::io::Write;
use std::path::PathBuf;

mod smtp {
    //! `-bs`: one SMTP session, each transaction recorded as a call of its own.

    use std::io::{Read, Write};
    use std::path::{Path, PathBuf};

    use pgpsendmail::smtp::server::{self, Handler, Limits, Transaction};
    use pgpsendmail::smtp::{Mailbox, Reply, Untimed};

    struct Stand {
        dir: PathBuf,
        /// Transactions that reached their data so far.
        k: u32,
        /// The call number to try first for the next transaction.
        next: u32,
    }

    fn fault(k: u32, name: &str) -> Option<u64> {
        let only = std::env::var("STAND_IN_ONLY")
            .ok()
            .and_then(|v| v.parse::<u32>().ok());
        if only.is_some_and(|o| o != k) {
            return None;
        }
        std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok())
    }

    fn reply(code: u64, what: &str) -> Reply {
        let class = code / 100;
        Reply::new(code as u16, format!("{class}.0.0 {what} (stand-in)"))
    }

    /// The next free call number from `from` on: N.argv created (with `argv`), as a call of
    /// its own does.
    fn claim(dir: &Path, argv: &str, from: u32) -> u32 {
        let mut n = from;
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(dir.join(format!("{n}.argv")))
            {
                Ok(mut f) => {
                    f.write_all(argv.as_bytes()).unwrap();
                    return n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => panic!("{}: {e}", dir.display()),
            }
        }
    }

    impl Handler for Stand {
        fn hostname(&self) -> String {
            "stand-in".into()
        }

        fn rcpt(&mut self, _: &Transaction, rcpt: &Mailbox) -> Result<(), Reply> {
            if std::env::var("STAND_IN_REFUSE").is_ok_and(|a| a == rcpt.as_str()) {
                let code = std::env::var("STAND_IN_REFUSE_CODE")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(550);
                return Err(reply(code, "this recipient refused"));
            }
            Ok(())
        }

        fn message(&mut self, tx: Transaction, data: &mut dyn Read) -> Reply {
            self.k += 1;
            let mut bytes = Vec::new();
            if data.read_to_end(&mut bytes).is_err() {
                return reply(451, "data not read");
            }
            let lf: Vec<u8> = String::from_utf8_lossy(&bytes).replace("\r\n", "\n").into();
            let argv: Vec<String> = std::env::args().collect();
            let n = claim(&self.dir, &(argv.join("\n") + "\n"), self.next);
            self.next = n + 1;
            if self.k == 1 && std::env::var_os("STAND_IN_MEET").is_some() {
                super::meet(&self.dir, n);
            }
            let mut smtp = format!(
                "MAIL FROM:<{}>\n",
                tx.sender.as_ref().map_or("", |m| m.as_str())
            );
            for r in &tx.rcpts {
                smtp.push_str(&format!("RCPT TO:<{}>\n", r.as_str()));
            }
            std::fs::write(self.dir.join(format!("{n}.smtp")), smtp).unwrap();
            let pid = format!("{}\n", std::process::id());
            std::fs::write(self.dir.join(format!("{n}.pid")), pid).unwrap();
            std::fs::write(self.dir.join(format!("{n}.stdin")), lf).unwrap();
            if let Some(sig) = fault(self.k, "STAND_IN_SIGNAL") {
                // SAFETY: raise() with a signal number from the test.
                unsafe {
                    libc::signal(sig as i32, libc::SIG_DFL);
                    libc::raise(sig as i32);
                }
            }
            if fault(self.k, "STAND_IN_HANG").is_some() {
                // No answer, until killed (two minutes at most).
                std::thread::sleep(std::time::Duration::from_secs(120));
                std::process::exit(75);
            }
            if let Some(c) = fault(self.k, "STAND_IN_DATA") {
                return reply(c, "message refused");
            }
            std::fs::write(self.dir.join(format!("{n}.status")), "0\n").unwrap();
            Reply::new(250, "2.0.0 queued (stand-in)")
        }
    }

    /// Serves one session on standard input and output, then exits.
    pub fn session(dir: &Path) -> ! {
        let mut stand = Stand {
            dir: dir.to_path_buf(),
            k: 0,
            next: 1,
        };
        let mut input = Untimed(std::io::BufReader::new(std::io::stdin()));
        let mut out = std::io::stdout();
        let end = server::serve(&mut input, &mut out, &mut stand, &Limits::default());
        let _ = out.flush();
        if end.is_err() {
            std::process::exit(74);
        }
        let code = std::env::var("STAND_IN_EXIT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        std::process::exit(code);
    }
}

fn main() {
    // Before this program opens anything of its own.
    let fd_state = std::env::var("STAND_IN_CHECK_FD").ok().map(|k| {
        if std::path::Path::new(&format!("/proc/self/fd/{k}")).exists() {
            "open\n"
        } else {
            "closed\n"
        }
    });
    let Some(dir) = std::env::var_os("STAND_IN_DIR").map(PathBuf::from) else {
        eprintln!("stand-in sendmail: STAND_IN_DIR is not set");
        std::process::exit(78);
    };
    if std::env::args().skip(1).any(|a| a == "-bs") {
        smtp::session(&dir);
    }
    // Claim the next number atomically: create_new fails if another call took it.
    let mut n = 1;
    let argv_file = loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(format!("{n}.argv")))
        {
            Ok(f) => break f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => {
                eprintln!("stand-in sendmail: {}: {e}", dir.display());
                std::process::exit(73);
            }
        }
    };
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let faulty = std::env::var("STAND_IN_ONLY")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .is_none_or(|only| only == n)
        && std::env::var("STAND_IN_ONLY_RCPT")
            .ok()
            .is_none_or(|list| list.split(',').any(|r| argv[1..].iter().any(|a| a == r)));
    if std::env::var_os("STAND_IN_MEET").is_some() {
        meet(&dir, n);
    }
    let fault = |name: &str| {
        if faulty {
            std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok())
        } else {
            None
        }
    };
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        use std::os::unix::ffi::OsStrExt;
        env.extend_from_slice(k.as_bytes());
        env.push(b'=');
        env.extend_from_slice(v.as_bytes());
        env.push(0);
    }
    let fds: String = (0..=2)
        .map(|k| {
            let t = std::fs::read_link(format!("/proc/self/fd/{k}"))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "closed".into());
            format!("{k} {t}\n")
        })
        .collect();
    let mut nofile = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we own.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut nofile) };
    let nofile = format!("{} {}\n", nofile.rlim_cur, nofile.rlim_max);
    if let Err(e) = std::fs::write(dir.join(format!("{n}.env")), env)
        .and_then(|_| std::fs::write(dir.join(format!("{n}.fds")), fds))
        .and_then(|_| std::fs::write(dir.join(format!("{n}.nofile")), nofile))
    {
        eprintln!("stand-in sendmail: {}: {e}", dir.display());
        std::process::exit(74);
    }
    // Streamed, not read into memory: tests measure the peak memory of this process too
    // (pgpsendmail execs us).
    if let Some(state) = fd_state
        && let Err(e) = std::fs::write(dir.join(format!("{n}.fd")), state)
    {
        eprintln!("stand-in sendmail: {}: {e}", dir.display());
        std::process::exit(74);
    }
    if fault("STAND_IN_HANG").is_some() {
        let _ = std::fs::File::create(dir.join(format!("{n}.stdin")));
        let _ = (&argv_file).write_all((argv.join("\n") + "\n").as_bytes());
        // Until killed, or two minutes at most: a test that died must not leave it behind.
        std::thread::sleep(std::time::Duration::from_secs(120));
        std::process::exit(75);
    }
    let limit = fault("STAND_IN_READ").unwrap_or(u64::MAX);
    let pause = fault("STAND_IN_PAUSE");
    let write = std::fs::File::create(dir.join(format!("{n}.stdin")))
        .and_then(|mut f| match pause {
            None => {
                use std::io::Read;
                std::io::copy(&mut std::io::stdin().lock().take(limit), &mut f)
            }
            Some(at) => read_with_pause(&mut f, at, &dir, n),
        })
        .and_then(|_| (&argv_file).write_all((argv.join("\n") + "\n").as_bytes()));
    if limit != u64::MAX {
        // SAFETY: closing our own standard input; nothing reads it afterwards.
        unsafe {
            libc::close(0);
        }
    }
    if let Err(e) = write {
        eprintln!("stand-in sendmail: {}: {e}", dir.display());
        std::process::exit(74);
    }
    if let Some(sig) = fault("STAND_IN_SIGNAL") {
        // SAFETY: raise() with a signal number from the test.
        unsafe {
            libc::signal(sig as i32, libc::SIG_DFL);
            libc::raise(sig as i32);
        }
    }
    let code = if faulty {
        std::env::var("STAND_IN_EXIT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    } else {
        0
    };
    let _ = std::fs::write(dir.join(format!("{n}.status.tmp")), format!("{code}\n"));
    let _ = std::fs::rename(
        dir.join(format!("{n}.status.tmp")),
        dir.join(format!("{n}.status")),
    );
    std::process::exit(code);
}

/// STAND_IN_MEET: writes `DIR/N.here`, then waits up to ten seconds for a second `.here`
/// file; `DIR/N.alone` when none came.
fn meet(dir: &std::path::Path, n: u32) {
    let here = |d: &std::path::Path| {
        std::fs::read_dir(d).map_or(0, |it| {
            it.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".here"))
                .count()
        })
    };
    let _ = std::fs::write(dir.join(format!("{n}.here")), "");
    let start = std::time::Instant::now();
    while here(dir) < 2 {
        if start.elapsed() > std::time::Duration::from_secs(10) {
            let _ = std::fs::write(dir.join(format!("{n}.alone")), "");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Copies standard input to `out`, stopping after `at` bytes until `DIR/N.resume` exists
/// (STAND_IN_PAUSE).
fn read_with_pause(
    out: &mut std::fs::File,
    at: u64,
    dir: &std::path::Path,
    n: u32,
) -> std::io::Result<u64> {
    use std::io::Read;
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    let mut paused = false;
    loop {
        if !paused && total == at {
            paused = true;
            std::fs::write(dir.join(format!("{n}.paused")), format!("{total}\n"))?;
            let start = std::time::Instant::now();
            while !dir.join(format!("{n}.resume")).exists() {
                if start.elapsed() > std::time::Duration::from_secs(120) {
                    std::process::exit(75);
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        let want = if paused {
            buf.len()
        } else {
            usize::try_from(at - total).map_or(buf.len(), |r| r.min(buf.len()))
        };
        let got = match stdin.read(&mut buf[..want]) {
            Ok(0) => return Ok(total),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..got])?;
        total += got as u64;
    }
}
