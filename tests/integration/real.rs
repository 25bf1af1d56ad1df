//! Helpers for the tests against real software (real_*.rs): finding a program (a failure
//! under CI=true, a loud skip elsewhere), a private Postfix instance that the test
//! configures, starts and stops itself, and reading what it delivered.
//!
//! The private Postfix lives wholly under a temporary directory: its own configuration
//! directory (`MAIL_CONFIG`), queue and data directories, and Maildirs under `mail/`. It
//! delivers only to the test keys' addresses (virtual(8), Maildir), bounces everything
//! else, and listens (when asked) on 127.0.0.1 only. The system's /etc/postfix and
//! /usr/sbin/sendmail are never changed: Postfix's sendmail follows `MAIL_CONFIG`, which
//! pgpsendmail hands on untouched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

/// Set (to anything) by `make test-fast`: the tests against real software skip.
pub const NO_REAL: &str = "PGPSENDMAIL_NO_REAL";

/// Postfix's sendmail, the one the private instances are reached through.
pub const POSTFIX_SENDMAIL: &str = "/usr/sbin/sendmail";

/// Where Postfix's sendmail is now: [`POSTFIX_SENDMAIL`], or the file a dpkg diversion
/// moved it to while `make install-sendmail` (tests/system.rs) has taken that path over.
pub fn postfix_sendmail() -> String {
    Command::new("dpkg-divert")
        .args(["--truename", POSTFIX_SENDMAIL])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| s.starts_with('/'))
        .unwrap_or_else(|| POSTFIX_SENDMAIL.to_string())
}

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// `false` (skip, loudly) when `make test-fast` asked for no real software.
pub fn wanted(test: &str) -> bool {
    if std::env::var_os(NO_REAL).is_some() {
        eprintln!("SKIPPED: {test}: {NO_REAL} is set (make test-fast)");
        return false;
    }
    true
}

/// The first of `paths` that exists, for the program `what` of package `pkg`; or
/// `None` (a loud skip) outside CI. Under CI=true a missing program fails the test.
pub fn need(test: &str, what: &str, pkg: &str, paths: &[&str]) -> Option<PathBuf> {
    if !wanted(test) {
        return None;
    }
    if let Some(p) = paths.iter().map(PathBuf::from).find(|p| p.exists()) {
        return Some(p);
    }
    let why = format!("{what} is not installed (package {pkg}; .ci/run installs it)");
    assert!(!in_ci(), "{test}: {why}, and CI=true");
    eprintln!("SKIPPED: {test}: {why}");
    None
}

/// Runs `cmd`, feeding `input`; asserts success and returns its output.
pub fn run_ok(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{shown}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The pgpsendmail binary under test.
pub fn pgpsendmail() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pgpsendmail")
}

/// Every address the private Postfix delivers to: the harness's default keys.
pub fn address(key: &str) -> &'static str {
    match key {
        "alice" => "alice@example.org",
        "bob" => "bob@example.org",
        "ops" => "ops@example.org",
        "carol" => "carol@example.net",
        "dave" => "dave@example.net",
        "gateway" => "gateway@example.com",
        _ => panic!("no mailbox for {key}"),
    }
}

/// How a private Postfix is started.
#[derive(Default, Clone)]
pub struct Options {
    /// Put every message on hold (cleanup's header_checks), so it stays in the queue
    /// until [`Postfix::release`].
    pub hold: bool,
    /// Run smtpd on a free 127.0.0.1 port.
    pub smtp: bool,
    /// `smtputf8_enable = yes` (the instances say `no` otherwise).
    pub smtputf8: bool,
    /// The port of that smtpd when the test chose it (else a free one).
    pub smtp_port: Option<u16>,
    /// More main.cf settings: each replaces the instance's own of that name, or is added.
    pub main_cf: String,
    /// More master.cf lines, before the instance's own services.
    pub master_cf: String,
    /// Run the instance in a mount namespace of its own whose /etc/postfix is the
    /// instance's configuration directory (a bind mount; the machine's stays untouched):
    /// then the set-gid postdrop, run by a user other than root below the instance (a
    /// pipe(8) command), accepts the instance's `MAIL_CONFIG`.
    pub own_etc: bool,
}

/// A private Postfix instance; stopped when dropped.
pub struct Postfix {
    pub dir: tempfile::TempDir,
    pub etc: PathBuf,
    pub queue: PathBuf,
    pub mail: PathBuf,
    pub port: Option<u16>,
}

impl Postfix {
    /// Starts a private instance; `None` (a loud skip) when Postfix is missing or this is
    /// not root, outside CI.
    pub fn start(test: &str, opt: Options) -> Option<Postfix> {
        need(test, "Postfix", "postfix", &["/usr/sbin/postfix"])?;
        need(test, "Postfix's sendmail", "postfix", &[POSTFIX_SENDMAIL])?;
        if !is_root() {
            let why = "starting a private Postfix needs root";
            assert!(!in_ci(), "{test}: {why}, and CI=true");
            eprintln!("SKIPPED: {test}: {why}");
            return None;
        }
        // Short path; 0755 so that the virtual delivery agent (nobody) reaches mail/.
        let dir = tempfile::Builder::new()
            .prefix("pf")
            .tempdir_in("/tmp")
            .unwrap();
        set_mode(dir.path(), 0o755);
        let root = dir.path().to_path_buf();
        let etc = root.join("etc");
        let queue = root.join("queue");
        let mail = root.join("mail");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::create_dir_all(&mail).unwrap();
        std::fs::create_dir_all(&queue).unwrap();
        run_ok(
            Command::new("chown").args(["nobody:nogroup", mail.to_str().unwrap()]),
            b"",
        );
        let port = opt.smtp.then(|| opt.smtp_port.unwrap_or_else(free_port));
        let mut main_cf = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {q}\n\
             data_directory = {r}/data\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = mx.pgpsendmail.test\n\
             mydomain = pgpsendmail.test\n\
             myorigin = pgpsendmail.test\n\
             mydestination =\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mynetworks = 127.0.0.0/8\n\
             relayhost =\n\
             default_transport = error:the test Postfix delivers locally only\n\
             relay_transport = error:the test Postfix delivers locally only\n\
             virtual_mailbox_domains = example.org example.net example.com\n\
             virtual_mailbox_base = {m}\n\
             virtual_mailbox_maps = texthash:{e}/vmailbox\n\
             virtual_uid_maps = static:65534\n\
             virtual_gid_maps = static:65534\n\
             virtual_alias_maps = texthash:{e}/valias\n\
             alias_maps =\n\
             alias_database =\n\
             smtputf8_enable = {u}\n\
             maillog_file_prefixes = {r}\n\
             maillog_file = {r}/maillog\n",
            q = queue.display(),
            r = root.display(),
            m = mail.display(),
            e = etc.display(),
            u = if opt.smtputf8 { "yes" } else { "no" },
        );
        if opt.hold {
            std::fs::write(etc.join("hold"), "/^/ HOLD\n").unwrap();
            main_cf.push_str(&format!("header_checks = regexp:{}/hold\n", etc.display()));
        }
        if opt.own_etc {
            // Postfix's own files of /etc/postfix, where the namespace shows them.
            main_cf.push_str(&format!(
                "alternate_config_directories = {}\nmeta_directory = {}/meta\n",
                etc.display(),
                root.display()
            ));
        }
        let main_cf = override_settings(&main_cf, &opt.main_cf);
        std::fs::write(etc.join("main.cf"), main_cf).unwrap();
        let vmailbox: String = DEFAULT_KEYS
            .iter()
            .map(|k| {
                let a = address(k);
                let (local, domain) = a.split_once('@').unwrap();
                format!("{a} {domain}/{local}/\n")
            })
            .collect();
        std::fs::write(etc.join("vmailbox"), vmailbox).unwrap();
        // What /etc/aliases does on a real system: root's mail goes to the admin.
        std::fs::write(
            etc.join("valias"),
            "root@pgpsendmail.test ops@example.org\n",
        )
        .unwrap();
        let mut master = String::new();
        if let Some(p) = port {
            master.push_str(&format!("127.0.0.1:{p} inet n - n - - smtpd\n"));
        }
        master.push_str(&opt.master_cf);
        master.push_str(MASTER_CF);
        std::fs::write(etc.join("master.cf"), master).unwrap();
        let pf = Postfix {
            dir,
            etc,
            queue,
            mail,
            port,
        };
        let out = if opt.own_etc {
            pf.start_in_own_namespace()
        } else {
            pf.postfix(&["start"])
        };
        assert!(
            out.status.success(),
            "postfix start: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            pf.maillog()
        );
        if let Some(p) = port {
            pf.wait("smtpd to listen", || {
                std::net::TcpStream::connect(("127.0.0.1", p)).is_ok()
            });
        }
        Some(pf)
    }

    /// `postfix start` in a private mount namespace with the instance's etc on /etc/postfix
    /// (see [`Options::own_etc`]).
    fn start_in_own_namespace(&self) -> Output {
        let etc = self.etc.display().to_string();
        let meta = self.dir.path().join("meta").display().to_string();
        bounded(
            Command::new("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-ec"])
                .arg(
                    "mkdir -p \"$2\"; mount --bind /etc/postfix \"$2\"; \
                 mount --bind \"$1\" /etc/postfix; exec /usr/sbin/postfix -c \"$1\" start",
                )
                .args(["sh", &etc, &meta]),
        )
    }

    /// Stops the instance (its queue stays), as a next hop that went down.
    pub fn stop(&self) {
        let out = self.postfix(&["stop"]);
        assert!(out.status.success(), "postfix stop: {out:?}");
        if let Some(p) = self.port {
            self.wait("smtpd to stop listening", || {
                std::net::TcpStream::connect(("127.0.0.1", p)).is_err()
            });
        }
    }

    /// Starts a stopped instance again (not one of [`Options::own_etc`]), and waits until
    /// its smtpd listens.
    pub fn restart(&self) {
        let out = self.postfix(&["start"]);
        assert!(
            out.status.success(),
            "postfix start: {out:?}\n{}",
            self.maillog()
        );
        if let Some(p) = self.port {
            self.wait("smtpd to listen", || {
                std::net::TcpStream::connect(("127.0.0.1", p)).is_ok()
            });
        }
    }

    fn postfix(&self, args: &[&str]) -> Output {
        bounded(
            Command::new("/usr/sbin/postfix")
                .arg("-c")
                .arg(&self.etc)
                .args(args),
        )
    }

    /// Kills the instance's master if it is still there (its daemons follow it): after a
    /// `postfix stop` that did not end in time.
    fn kill_master(&self) {
        let pid_file = self.queue.join("pid/master.pid");
        let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        else {
            return;
        };
        let ours = std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c == self.queue);
        if ours {
            // SAFETY: a signal to this instance's own master, found through its pid file
            // and checked by its working directory.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// Postfix's own log of this instance (for failure messages).
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The environment that points Postfix's sendmail at this instance.
    pub fn mail_config(&self) -> (String, String) {
        ("MAIL_CONFIG".into(), self.etc.display().to_string())
    }

    /// A harness installation whose real sendmail is `sendmail` of `flavor`, with
    /// `MAIL_CONFIG` set; `root` is aliased to ops as in [`H::new`].
    pub fn harness_with(&self, sendmail: &str, flavor: &str) -> H {
        let mut h = H::new();
        let cache = h.dir.path().join("cache");
        std::fs::write(
            &h.config,
            format!(
                "sendmail = \"{sendmail}\"\nflavor = \"{flavor}\"\nkeyring = [\"{}\"]\n\
                 cache_dir = \"{}\"\n\
                 [recipients]\n\"root\" = {{ alias = \"ops@example.org\" }}\n",
                h.keys.display(),
                cache.display()
            ),
        )
        .unwrap();
        h.env.push(self.mail_config());
        h
    }

    /// pgpsendmail in front of this instance's sendmail.
    pub fn harness(&self) -> H {
        self.harness_with(&postfix_sendmail(), "postfix")
    }

    /// The environment a caller program runs pgpsendmail with: the harness's
    /// configuration, `MAIL_CONFIG`, and `home` as HOME.
    pub fn caller_env(&self, h: &H, home: &Path) -> Vec<(String, String)> {
        vec![
            ("PATH".into(), "/usr/bin:/bin:/usr/sbin:/sbin".into()),
            ("HOME".into(), home.display().to_string()),
            ("USER".into(), "root".into()),
            ("LOGNAME".into(), "root".into()),
            ("PGPSENDMAIL_CONFIG".into(), h.config.display().to_string()),
            self.mail_config(),
        ]
    }

    /// The queue as `postqueue -j` reports it, one JSON object a message.
    pub fn queue_lines(&self) -> Vec<String> {
        let out = Command::new("/usr/sbin/postqueue")
            .arg("-c")
            .arg(&self.etc)
            .arg("-j")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    /// Waits until `n` messages sit in the hold queue.
    pub fn wait_held(&self, n: usize) {
        self.wait(&format!("{n} held messages"), || {
            let q = self.queue_lines();
            q.len() == n && q.iter().all(|l| l.contains("\"queue_name\": \"hold\""))
        });
    }

    /// Releases every held message and asks for delivery now.
    pub fn release(&self) {
        run_ok(
            Command::new("/usr/sbin/postsuper")
                .arg("-c")
                .arg(&self.etc)
                .args(["-H", "ALL"]),
            b"",
        );
        run_ok(
            Command::new("/usr/sbin/postqueue")
                .arg("-c")
                .arg(&self.etc)
                .arg("-f"),
            b"",
        );
    }

    /// The messages delivered to `key`'s Maildir, oldest first (by file name).
    pub fn mailbox(&self, key: &str) -> Vec<Capture> {
        let (local, domain) = address(key).split_once('@').unwrap();
        let new = self.mail.join(domain).join(local).join("new");
        let mut names: Vec<PathBuf> = match std::fs::read_dir(&new) {
            Ok(d) => d.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
            .into_iter()
            .map(|p| Capture {
                argv: vec![p.display().to_string()],
                stdin: std::fs::read(&p).unwrap(),
            })
            .collect()
    }

    /// Waits until the queue is empty and `counts` messages (key, number) were delivered;
    /// then asserts that nobody else got anything.
    pub fn wait_delivered(&self, counts: &[(&str, usize)]) {
        self.wait(&format!("delivery of {counts:?}"), || {
            let log = self.maillog();
            assert!(!log.contains("status=bounced"), "a bounce:\n{log}");
            self.queue_lines().is_empty() && counts.iter().all(|(k, n)| self.mailbox(k).len() >= *n)
        });
        for k in DEFAULT_KEYS {
            let want = counts.iter().find(|(c, _)| c == k).map_or(0, |c| c.1);
            assert_eq!(
                self.mailbox(k).len(),
                want,
                "messages for {k}\n{}",
                self.maillog()
            );
        }
    }

    /// Waits (at most a minute) until `done`, polling; the queue and the log on a timeout.
    pub fn wait(&self, what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}; queue: {:?}\n{}",
                self.queue_lines(),
                self.maillog()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every regular file under the queue directory and the Maildirs whose bytes contain
    /// `needle` (sockets and FIFOs are skipped: they are not storage).
    pub fn grep(&self, needle: &[u8]) -> Vec<PathBuf> {
        let mut hits = Vec::new();
        for top in [&self.queue, &self.mail] {
            grep_tree(top, needle, &mut hits);
        }
        hits
    }

    /// Makes this running instance deliver to `addrs` too (each `local@domain`, Maildirs
    /// under `mail/domain/local/`): their domains and mailboxes added, then `postfix
    /// reload`.
    pub fn add_mailboxes(&self, addrs: &[String]) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.etc.join("vmailbox"))
            .unwrap();
        let mut domains = vec![
            "example.org".to_string(),
            "example.net".into(),
            "example.com".into(),
        ];
        for a in addrs {
            let (local, domain) = a.split_once('@').unwrap();
            writeln!(f, "{a} {domain}/{local}/").unwrap();
            if !domains.iter().any(|d| d == domain) {
                domains.push(domain.into());
            }
        }
        drop(f);
        run_ok(
            Command::new("/usr/sbin/postconf")
                .arg("-c")
                .arg(&self.etc)
                .arg("-e")
                .arg(format!("virtual_mailbox_domains = {}", domains.join(" "))),
            b"",
        );
        let out = self.postfix(&["reload"]);
        assert!(out.status.success(), "postfix reload: {out:?}");
    }

    /// The messages delivered to `addr`'s Maildir (one added by [`Postfix::add_mailboxes`]).
    pub fn delivered_to(&self, addr: &str) -> Vec<PathBuf> {
        let (local, domain) = addr.split_once('@').unwrap();
        match std::fs::read_dir(self.mail.join(domain).join(local).join("new")) {
            Ok(d) => d.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Waits, at most `secs` seconds, until `done` holds (the queue and the log for a
    /// failure message).
    pub fn wait_for(&self, what: &str, secs: u64, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}; queue: {} messages\n{}",
                self.queue_lines().len(),
                self.maillog()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many regular files the queue directory holds (to show the grep saw the mail).
    pub fn queue_files(&self) -> usize {
        let mut hits = Vec::new();
        grep_tree(&self.queue, b"", &mut hits);
        hits.len()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = self.postfix(&["stop"]);
        self.kill_master();
    }
}

/// `main_cf` with the settings of `more` in place of its own of the same names, the others
/// added at the end. Never a name twice: Postfix would warn of it from every daemon at
/// once, and those warnings can fill the log socket before postlogd reads it.
fn override_settings(main_cf: &str, more: &str) -> String {
    let name = |l: &str| l.split('=').next().unwrap_or("").trim().to_string();
    let mut out: Vec<String> = main_cf.lines().map(String::from).collect();
    for line in more.lines().filter(|l| l.contains('=')) {
        match out.iter_mut().find(|l| name(l) == name(line)) {
            Some(l) => *l = line.to_string(),
            None => out.push(line.to_string()),
        }
    }
    out.join("\n") + "\n"
}

/// How long one `postfix` command may take. A private instance can hang at start when its
/// postlogd blocks on its own full log socket (Linux's `net.unix.max_dgram_qlen` is often
/// 10) and every daemon that logs waits on it, as a burst of warnings did; the command is
/// then killed and the test fails saying so, instead of hanging the run.
const POSTFIX_COMMAND: Duration = Duration::from_secs(60);

/// `cmd`'s output, or a failure when it runs longer than [`POSTFIX_COMMAND`].
fn bounded(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > POSTFIX_COMMAND {
            let _ = child.kill();
            let mut out = child.wait_with_output().unwrap();
            out.stderr.extend_from_slice(
                format!("\n{shown}: still running after 60 s (postlogd stuck?), killed\n")
                    .as_bytes(),
            );
            return out;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

pub fn grep_tree(dir: &Path, needle: &[u8], hits: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            grep_tree(&p, needle, hits);
        } else if m.is_file() {
            // A queue file can be removed between listing and reading.
            if let Ok(bytes) = std::fs::read(&p)
                && (needle.is_empty() || contains(&bytes, needle))
            {
                hits.push(p);
            }
        }
    }
}

/// A TCP port on 127.0.0.1 that nobody listens on now, and that no other test of this
/// process was given (the kernel may hand a port just released out again).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let p = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&p) {
            given.push(p);
            return p;
        }
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// master.cf without chroot (the queue is not a chroot jail here); postlogd writes the
/// instance's maillog.
const MASTER_CF: &str = concat!(
    include_str!("../data/postfix-daemons.cf"),
    "virtual   unix  -       n       n       -       -       virtual\n"
);

/// A marker no test data holds by chance: `word` with the process id and the time.
pub fn marker(word: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{word}{}x{t}", std::process::id())
}

/// What each recipient of one message must have got: `visible` keys share a copy, each
/// `hidden` key has one of its own. Every copy decrypts with its recipient's key to a
/// payload holding the body `marker` and the real `subject`; outside the ciphertext
/// neither shows and the Subject is `[...]`; no copy but a hidden recipient's own names
/// that recipient, and no copy names Bcc at all.
pub fn check_mailboxes(
    pf: &Postfix,
    visible: &[&str],
    hidden: &[&str],
    marker: &str,
    subject: &str,
) {
    let mut counts: Vec<(&str, usize)> = visible.iter().map(|k| (*k, 1)).collect();
    counts.extend(hidden.iter().map(|k| (*k, 1)));
    pf.wait_delivered(&counts);
    let all: Vec<&str> = visible.iter().chain(hidden).copied().collect();
    for who in &all {
        let copy = &pf.mailbox(who)[0];
        let payload = copy.open(who).payload;
        let text = String::from_utf8_lossy(&payload);
        assert!(
            text.contains(marker),
            "{who}: body marker not in the payload:\n{text}"
        );
        assert!(
            text.contains(subject),
            "{who}: real Subject not in the payload:\n{text}"
        );
        let clear = String::from_utf8_lossy(&copy.cleartext()).to_string();
        assert!(
            !clear.contains(marker),
            "{who}: body marker in clear:\n{clear}"
        );
        assert!(
            !clear.contains(subject),
            "{who}: Subject in clear:\n{clear}"
        );
        assert!(copy.outer_header().contains("\nSubject: [...]"), "{clear}");
        for bcc in [&clear, text.as_ref()] {
            assert!(
                !bcc.to_ascii_lowercase().contains("\nbcc:"),
                "{who}: Bcc in {bcc}"
            );
        }
        for h in hidden.iter().filter(|h| *h != who) {
            let a = address(h);
            assert!(
                !clear.contains(a) && !text.contains(a),
                "{who}'s copy names {a}"
            );
            assert!(copy.try_open(h).is_err(), "{h}'s key opens {who}'s copy");
        }
        if hidden.contains(who) {
            for v in visible {
                assert!(
                    copy.try_open(v).is_err(),
                    "{v}'s key opens hidden {who}'s copy"
                );
            }
        }
    }
}

/// The first `.nf` ... `.fi` block of section `.SS title` of man/pgpsendmail.8, as text
/// (`\-` is `-`).
pub fn man_block(title: &str) -> String {
    let man = std::fs::read_to_string(format!("{}/man/pgpsendmail.8", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    let start = man
        .find(&format!(".SS {title}\n"))
        .unwrap_or_else(|| panic!("no section {title}"));
    let section = &man[start..];
    let from = section.find("\n.nf\n").expect(".nf") + 5;
    let to = from + section[from..].find("\n.fi\n").expect(".fi");
    section[from..to].replace("\\-", "-") + "\n"
}
