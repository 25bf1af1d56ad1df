//! `make install-sendmail` and `make uninstall-sendmail` (scripts/sendmail-takeover), issue 3
//! item 6. A separate test binary, run alone after every other test by `make test`, because
//! the real-Postfix test changes this machine's /usr/sbin/sendmail while it runs.
//!
//! * In a scratch tree (no root needed): the alternatives method (with dpkg's
//!   update-alternatives and its --altdir/--admindir), the symlink method, and the refusal
//!   of a regular file that nothing protects; each undone exactly.
//! * For real, as a new user would on Debian (root, Postfix, bsd-mailx and cron from Debian
//!   packages; fails under CI=true when any is missing, skips loudly otherwise):
//!   `make install-sendmail`, then `echo test | mail -s hi root` and a crontab job's output
//!   arrive encrypted in /var/mail/root; `mailq` still lists the queue; `make
//!   uninstall-sendmail` puts /usr/sbin/sendmail back byte for byte.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pgpsendmail::openpgp::decrypt;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn script() -> PathBuf {
    Path::new(ROOT).join("scripts/sendmail-takeover")
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have(program: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).exists())
}

/// Under CI=true a missing requirement fails the test; otherwise it is skipped, loudly.
fn require(what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required under CI=true (.ci/run installs it)");
    }
    eprintln!("SKIPPED: {what} is missing; this test does not run here");
    false
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A scratch tree with a fake MTA, a fake pgpsendmail and a configuration.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["alt", "admin", "sbin", "bin", "lib", "man", "etc"] {
            std::fs::create_dir_all(s.p(d)).unwrap();
        }
        write_exec(&s.p("sbin/sendmail.postfix"), "#!/bin/sh\nexit 0\n");
        write_exec(&s.p("sbin/pgpsendmail"), "#!/bin/sh\nexit 0\n");
        std::fs::write(s.p("man/sendmail.postfix.8"), "man page\n").unwrap();
        std::fs::write(
            s.p("etc/pgpsendmail.toml"),
            "# mine\nkeyring = [\"/k\"]\nsendmail = \"/old/path\"\n\n[recipients]\n",
        )
        .unwrap();
        s
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn alternatives(&self) -> String {
        format!(
            "update-alternatives --altdir {} --admindir {}",
            self.p("alt").display(),
            self.p("admin").display()
        )
    }

    fn takeover(&self, what: &str, extra: &[(&str, &str)]) -> Output {
        let mut c = Command::new("sh");
        c.arg(script())
            .arg(what)
            .env("TAKEOVER_ANY_USER", "1")
            .env("PGPSENDMAIL", self.p("sbin/pgpsendmail"))
            .env("SENDMAIL", self.p("sbin/sendmail"))
            .env("CONFIG", self.p("etc/pgpsendmail.toml"))
            .env("STATE", self.p("state/takeover"))
            .env("ALTDIR", self.p("alt"))
            .env("ADMINDIR", self.p("admin"))
            .env("ALTERNATIVES", self.alternatives());
        for (k, v) in extra {
            c.env(k, v);
        }
        run(&mut c)
    }

    fn resolve(&self, rel: &str) -> PathBuf {
        std::fs::canonicalize(self.p(rel)).unwrap()
    }

    fn config(&self) -> String {
        std::fs::read_to_string(self.p("etc/pgpsendmail.toml")).unwrap()
    }
}

#[test]
fn takeover_of_an_mta_alternative_and_back() {
    if !require("update-alternatives", have("update-alternatives")) {
        return;
    }
    let s = Scratch::new();
    let original_config = s.config();
    let mta = s.p("sbin/sendmail.postfix").display().to_string();
    let man = s.p("man/sendmail.postfix.8").display().to_string();
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "{alt} --install {r}/sbin/sendmail mta {mta} 60 \
         --slave {r}/bin/mailq mta-mailq {mta} --slave {r}/bin/newaliases mta-newaliases {mta} \
         --slave {r}/lib/sendmail mta-sendmail {mta} --slave {r}/man/sendmail.8 mta-sendmailman {man}",
        alt = s.alternatives(),
        r = s.dir.path().display()
    ));
    ok(&mut c);
    let admin_before = std::fs::read(s.p("admin/mta")).unwrap();

    let out = s.takeover("install", &[("DPKG_DIVERT", "")]);
    assert!(out.status.success(), "{out:?}");
    let me = s.p("sbin/pgpsendmail");
    // The group now chooses pgpsendmail, whose mailq, newaliases and /usr/lib/sendmail
    // links lead to it too, while the manual page stays the MTA's.
    for link in [
        "sbin/sendmail",
        "bin/mailq",
        "bin/newaliases",
        "lib/sendmail",
    ] {
        assert_eq!(s.resolve(link), me, "{link}");
    }
    assert_eq!(s.resolve("man/sendmail.8"), s.p("man/sendmail.postfix.8"));
    let cfg = s.config();
    assert!(
        cfg.contains(&format!("\nsendmail = \"{mta}\"\n")),
        "the MTA's program is the real sendmail: {cfg}"
    );
    assert!(
        !cfg.contains("/old/path"),
        "one sendmail setting only: {cfg}"
    );
    // A second install refuses: the record exists.
    assert!(
        !s.takeover("install", &[("DPKG_DIVERT", "")])
            .status
            .success()
    );

    let out = s.takeover("uninstall", &[("DPKG_DIVERT", "")]);
    assert!(out.status.success(), "{out:?}");
    for link in [
        "sbin/sendmail",
        "bin/mailq",
        "bin/newaliases",
        "lib/sendmail",
    ] {
        assert_eq!(s.resolve(link), s.p("sbin/sendmail.postfix"), "{link}");
    }
    assert_eq!(
        s.config(),
        original_config,
        "configuration back byte for byte"
    );
    assert_eq!(std::fs::read(s.p("admin/mta")).unwrap(), admin_before);
    assert!(!s.p("state/takeover").exists());
}

#[test]
fn takeover_of_a_plain_symlink_and_back_keeps_edits_to_the_configuration() {
    let s = Scratch::new();
    std::os::unix::fs::symlink("sendmail.postfix", s.p("sbin/sendmail")).unwrap();
    let none = [("DPKG_DIVERT", ""), ("ALTERNATIVES", "")];
    let out = s.takeover("install", &none);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(s.resolve("sbin/sendmail"), s.p("sbin/pgpsendmail"));
    assert!(s.config().contains(&format!(
        "sendmail = \"{}\"",
        s.p("sbin/sendmail.postfix").display()
    )));
    // The administrator adds a mapping after installing.
    let edited = s.config() + "\"root\" = { alias = \"ops@example.org\" }\n";
    std::fs::write(s.p("etc/pgpsendmail.toml"), &edited).unwrap();
    let out = s.takeover("uninstall", &none);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_link(s.p("sbin/sendmail")).unwrap(),
        Path::new("sendmail.postfix"),
        "the link's own text is restored"
    );
    assert_eq!(
        s.config(),
        "sendmail = \"/old/path\"\n# mine\nkeyring = [\"/k\"]\n\n[recipients]\n\
         \"root\" = { alias = \"ops@example.org\" }\n",
        "our lines out, the old setting back, the edit kept"
    );
}

#[test]
fn takeover_writes_the_flavor_check_infers_and_uninstall_takes_it_out() {
    let s = Scratch::new();
    std::os::unix::fs::symlink("sendmail.postfix", s.p("sbin/sendmail")).unwrap();
    // A pgpsendmail whose check infers nullmailer for the configuration it is given.
    write_exec(
        &s.p("sbin/pgpsendmail"),
        "#!/bin/sh\n[ \"$1\" = check ] && grep -q '^sendmail = ' \"$PGPSENDMAIL_CONFIG\" || exit 64\n\
         echo 'keys: 1 certificate'\n\
         echo 'real sendmail: /x (configured) (flavor nullmailer, inferred)'\nexit 1\n",
    );
    let none = [("DPKG_DIVERT", ""), ("ALTERNATIVES", "")];
    let out = s.takeover("install", &none);
    assert!(out.status.success(), "{out:?}");
    let cfg = s.config();
    let line = "\nflavor = \"nullmailer\" # the MTA's, found by the sendmail takeover\n";
    assert!(cfg.contains(line), "{cfg}");
    assert!(
        cfg.find(line) > cfg.find("sendmail = "),
        "under the sendmail line: {cfg}"
    );
    // Edited since: our two lines out, the old one back, the edit kept.
    std::fs::write(s.p("etc/pgpsendmail.toml"), cfg + "# edit\n").unwrap();
    let out = s.takeover("uninstall", &none);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        s.config(),
        "sendmail = \"/old/path\"\n# mine\nkeyring = [\"/k\"]\n\n[recipients]\n# edit\n"
    );
    // A configuration that sets a flavor keeps its own: nothing is written.
    std::fs::write(s.p("etc/pgpsendmail.toml"), "flavor = \"exim\"\n").unwrap();
    write_exec(
        &s.p("sbin/pgpsendmail"),
        "#!/bin/sh\necho 'real sendmail: /x (configured) (flavor exim, configured)'\n",
    );
    let out = s.takeover("install", &none);
    assert!(out.status.success(), "{out:?}");
    assert!(
        !s.config().contains("found by the sendmail takeover"),
        "{}",
        s.config()
    );
    assert_eq!(s.config().matches("flavor = ").count(), 1, "{}", s.config());
}

#[test]
fn takeover_refuses_a_regular_file_nothing_protects() {
    let s = Scratch::new();
    std::fs::copy(s.p("sbin/sendmail.postfix"), s.p("sbin/sendmail")).unwrap();
    let before = s.config();
    let out = s.takeover("install", &[("DPKG_DIVERT", ""), ("ALTERNATIVES", "")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing"), "{err}");
    assert!(s.p("sbin/sendmail").symlink_metadata().unwrap().is_file());
    assert_eq!(s.config(), before);
    assert!(!s.p("state/takeover").exists());
    // And uninstall without a record refuses too.
    assert!(!s.takeover("uninstall", &[]).status.success());
}

/// Undoes, in reverse order, what the real test changed on this machine, even when it fails.
struct Undo(Vec<(String, Box<dyn FnOnce()>)>);

impl Undo {
    fn push(&mut self, what: &str, f: impl FnOnce() + 'static) {
        self.0.push((what.to_string(), Box::new(f)));
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        while let Some((what, f)) = self.0.pop() {
            eprintln!("undo: {what}");
            f();
        }
    }
}

fn quiet(cmd: &mut Command) {
    let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
}

fn make(target: &str) -> Command {
    let mut c = Command::new("make");
    c.arg("-C")
        .arg(ROOT)
        .arg(target)
        .arg("PREFIX=/usr/local")
        .arg(format!("CARGO={}", env!("CARGO")));
    c
}

fn sha256(path: &str) -> String {
    ok(Command::new("sha256sum").arg(path))
}

fn mailbox() -> Vec<u8> {
    std::fs::read("/var/mail/root").unwrap_or_default()
}

/// Waits for the mailbox to hold `n` more messages than `from` bytes into it; returns the
/// new messages.
fn wait_for_mail(from: usize, n: usize, limit: Duration) -> Vec<Vec<u8>> {
    let start = Instant::now();
    loop {
        let all = mailbox();
        let new = &all[from.min(all.len())..];
        let msgs = split_mbox(new);
        if msgs.len() >= n {
            return msgs;
        }
        assert!(
            start.elapsed() < limit,
            "{} of {n} messages arrived in /var/mail/root within {limit:?}; mail.log or \
             `postqueue -p` may tell why",
            msgs.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn split_mbox(b: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(b);
    let mut out: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("From ") {
            out.push(String::new());
        }
        if let Some(m) = out.last_mut() {
            m.push_str(line);
        }
    }
    // A message is complete once the next one started or the mailbox ends in a blank line.
    out.into_iter()
        .filter(|m| m.ends_with("\n\n"))
        .map(String::into_bytes)
        .collect()
}

fn open_as_ops(msg: &[u8]) -> Vec<u8> {
    let key = decrypt::secret_key(&Path::new(ROOT).join("tests/data/keys/ops.sec.asc")).unwrap();
    decrypt::open(msg, &key)
        .unwrap_or_else(|e| panic!("cannot decrypt the delivered message: {e}"))
        .payload
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

const MAIN_CF: &str = "# written by pgpsendmail's tests/system.rs for the length of one test
compatibility_level = 3.6
myhostname = pgpsendmail-test.localdomain
mydestination = $myhostname, localhost.localdomain, localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
mailbox_size_limit = 0
default_transport = error:this test delivers locally only
relay_transport = error:this test delivers locally only
maillog_file = /var/log/postfix-pgpsendmail-test.log
";

/// This machine's Postfix with local delivery only, for the length of the test (`undo`
/// puts its main.cf back, stops it and cuts root's mailbox back); returns the mailbox's
/// length before.
fn local_postfix(undo: &mut Undo) -> usize {
    let main_cf = Path::new("/etc/postfix/main.cf");
    let old_main = std::fs::read(main_cf).ok();
    std::fs::write(main_cf, MAIN_CF).unwrap();
    undo.push("restore /etc/postfix/main.cf", move || match old_main {
        Some(b) => std::fs::write("/etc/postfix/main.cf", b).unwrap(),
        None => std::fs::remove_file("/etc/postfix/main.cf").unwrap(),
    });
    ok(&mut Command::new("newaliases"));
    quiet(Command::new("postfix").arg("stop"));
    ok(Command::new("postfix").arg("start"));
    undo.push("stop postfix", || {
        quiet(Command::new("postfix").arg("stop"))
    });
    let mbox_len = mailbox().len();
    undo.push("truncate /var/mail/root", move || {
        if let Ok(f) = std::fs::OpenOptions::new()
            .write(true)
            .open("/var/mail/root")
        {
            let _ = f.set_len(mbox_len as u64);
        }
    });
    mbox_len
}

#[test]
fn install_sendmail_on_debian_with_postfix_then_uninstall() {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !require("root", root)
        || !require("dpkg-divert", have("dpkg-divert"))
        || !require("postfix (Debian package postfix)", have("postfix"))
        || !require("mail (Debian package bsd-mailx)", have("bsd-mailx"))
        || !require(
            "cron (Debian package cron)",
            have("cron") && have("crontab"),
        )
    {
        return;
    }
    if Path::new("/etc/pgpsendmail").exists() || Path::new("/usr/local/sbin/pgpsendmail").exists() {
        require(
            "a machine without an installed pgpsendmail (/etc/pgpsendmail, \
             /usr/local/sbin/pgpsendmail), which this test would change",
            false,
        );
        return;
    }
    let sendmail = "/usr/sbin/sendmail";
    let owner = ok(Command::new("dpkg-query").args(["-S", sendmail]));
    assert!(
        owner.starts_with("postfix:"),
        "{sendmail} is Postfix's: {owner}"
    );
    let before_sum = sha256(sendmail);
    let before_ino = std::fs::metadata(sendmail).unwrap().ino();
    let links = ["/usr/bin/mailq", "/usr/bin/newaliases", "/usr/lib/sendmail"];
    let before_links: Vec<_> = links.iter().map(|l| std::fs::read_link(l).ok()).collect();
    let mut undo = Undo(Vec::new());
    let mbox_len = local_postfix(&mut undo);

    // As a new user would: make install-sendmail (it builds, installs, takes over).
    undo.push("make uninstall", || {
        quiet(&mut make("uninstall"));
        let _ = std::fs::remove_dir_all("/etc/pgpsendmail");
        let _ = std::fs::remove_dir_all("/var/cache/pgpsendmail");
        // make install makes the discovered-keys directory too: a key source every later
        // run on this machine would read (and index) if it stayed.
        let _ = std::fs::remove_dir_all("/var/lib/pgpsendmail/discovered");
        let _ = std::fs::remove_dir("/var/lib/pgpsendmail");
    });
    undo.push("make uninstall-sendmail (if still installed)", || {
        if Path::new("/var/lib/pgpsendmail/sendmail-takeover").exists() {
            quiet(&mut make("uninstall-sendmail"));
        }
    });
    let out = ok(&mut make("install-sendmail"));
    assert!(out.contains("diverted /usr/sbin/sendmail"), "{out}");
    assert_eq!(
        std::fs::read_link(sendmail).unwrap(),
        Path::new("/usr/local/sbin/pgpsendmail")
    );
    assert_eq!(
        std::fs::metadata("/usr/sbin/sendmail.real").unwrap().ino(),
        before_ino,
        "Postfix's file renamed, not copied"
    );
    // The key for root: the administrator's part.
    std::fs::copy(
        Path::new(ROOT).join("tests/data/keys/ops.asc"),
        "/etc/pgpsendmail/keys/ops.asc",
    )
    .unwrap();
    let cfg_path = "/etc/pgpsendmail/pgpsendmail.toml";
    let cfg = std::fs::read_to_string(cfg_path).unwrap();
    assert!(
        cfg.contains("sendmail = \"/usr/sbin/sendmail.real\""),
        "{cfg}"
    );
    // Postfix's diverted program, told by its package: the flavor is written down.
    assert!(
        cfg.contains("\nflavor = \"postfix\" # the MTA's, found by the sendmail takeover\n"),
        "{cfg}"
    );
    // root's mail to ops, and every other local user's too ("*"): a user's crontab mails
    // that user, and pgpsendmail then runs as that user, not as root.
    std::fs::write(
        cfg_path,
        cfg + "\n[recipients]\n\"root\" = { alias = \"ops@example.org\" }\n\
               \"*\" = { alias = \"ops@example.org\" }\n",
    )
    .unwrap();
    let check = run(Command::new("/usr/local/sbin/pgpsendmail").arg("check"));
    assert!(
        matches!(check.status.code(), Some(0 | 1)),
        "pgpsendmail check: {check:?}"
    );

    // echo test | mail -s hi root
    let mark = format!("MAIL-BODY-{}", std::process::id());
    let subject = format!("MAIL-SUBJECT-{}", std::process::id());
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("echo '{mark}' | mail -s '{subject}' root"));
    ok(&mut c);
    let msgs = wait_for_mail(mbox_len, 1, Duration::from_secs(30));
    let all = mailbox();
    assert!(
        !contains(&all[mbox_len..], &mark),
        "plaintext in the mailbox"
    );
    assert!(
        !contains(&all[mbox_len..], &subject),
        "subject in the mailbox"
    );
    let opened = open_as_ops(&msgs[0]);
    assert!(contains(&opened, &mark) && contains(&opened, &subject));

    // mailq still lists the queue: with Postfix stopped a message waits in it.
    ok(Command::new("postfix").arg("stop"));
    let mark2 = format!("QUEUED-{}", std::process::id());
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "printf 'Subject: q\\n\\n{mark2}\\n' | /usr/sbin/sendmail -i root"
    ));
    ok(&mut c);
    let listing = ok(&mut Command::new("mailq"));
    assert!(
        listing.contains("root@pgpsendmail-test.localdomain") || listing.contains("root"),
        "mailq lists the waiting message: {listing}"
    );
    assert!(!listing.contains("Mail queue is empty"), "{listing}");
    ok(Command::new("postfix").arg("start"));
    let msgs = wait_for_mail(mbox_len, 2, Duration::from_secs(30));
    assert!(contains(&open_as_ops(&msgs[1]), &mark2));

    // A crontab job's output: cron mails it to root through /usr/sbin/sendmail.
    let cron_mark = format!("CRON-OUTPUT-{}", std::process::id());
    let old_tab = run(Command::new("crontab").arg("-l"));
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("echo '* * * * * echo {cron_mark}' | crontab -"));
    ok(&mut c);
    undo.push("restore root's crontab", move || {
        if old_tab.status.success() {
            let mut c = Command::new("crontab");
            c.arg("-").stdin(Stdio::piped());
            if let Ok(mut child) = c.spawn() {
                use std::io::Write;
                let _ = child.stdin.take().unwrap().write_all(&old_tab.stdout);
                let _ = child.wait();
            }
        } else {
            quiet(Command::new("crontab").arg("-r"));
        }
    });
    // A local user's crontab: cron mails its output to that user, running
    // /usr/sbin/sendmail (pgpsendmail) as the user, who must be able to read the key files
    // `keys import` and the takeover wrote, and whose mail the "*" entry routes.
    let user = "pgpsmuser";
    let user_mark = format!("USER-CRON-{}", std::process::id());
    let user_mbox = format!("/var/mail/{user}");
    if run(Command::new("id").arg(user)).status.success() {
        quiet(Command::new("userdel").arg(user));
    }
    ok(Command::new("useradd").args(["-M", "-s", "/bin/sh", user]));
    undo.push("remove the test user", move || {
        quiet(Command::new("crontab").args(["-u", "pgpsmuser", "-r"]));
        quiet(Command::new("userdel").arg("pgpsmuser"));
        let _ = std::fs::remove_file("/var/mail/pgpsmuser");
    });
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "echo '* * * * * echo {user_mark}' | crontab -u {user} -"
    ));
    ok(&mut c);
    let cron_running = run(Command::new("pgrep").args(["-x", "cron"]))
        .status
        .success();
    if !cron_running {
        ok(&mut Command::new("cron"));
        undo.push("stop cron", || {
            quiet(Command::new("pkill").args(["-x", "cron"]))
        });
    }
    let msgs = wait_for_mail(mbox_len, 3, Duration::from_secs(90));
    let all = mailbox();
    assert!(
        !contains(&all[mbox_len..], &cron_mark),
        "cron output in clear"
    );
    let opened = open_as_ops(&msgs[2]);
    assert!(contains(&opened, &cron_mark), "the cron job's output");
    quiet(Command::new("crontab").arg("-r"));
    let start = Instant::now();
    let theirs = loop {
        let b = std::fs::read(&user_mbox).unwrap_or_default();
        if let Some(m) = split_mbox(&b).into_iter().next() {
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{user}'s cron mail did not arrive in {user_mbox}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        !contains(&theirs, &user_mark),
        "{user}'s cron output in clear"
    );
    assert!(
        contains(&open_as_ops(&theirs), &user_mark),
        "{user}'s cron output"
    );
    quiet(Command::new("crontab").args(["-u", user, "-r"]));

    // make uninstall-sendmail puts everything back.
    ok(&mut make("uninstall-sendmail"));
    let meta = std::fs::symlink_metadata(sendmail).unwrap();
    assert!(meta.is_file(), "{sendmail} is a file again");
    assert_eq!(meta.ino(), before_ino);
    assert_eq!(sha256(sendmail), before_sum, "byte for byte");
    assert!(!Path::new("/usr/sbin/sendmail.real").exists());
    let diversions = ok(Command::new("dpkg-divert").args(["--list", sendmail]));
    assert!(diversions.trim().is_empty(), "{diversions}");
    let after_links: Vec<_> = links.iter().map(|l| std::fs::read_link(l).ok()).collect();
    assert_eq!(after_links, before_links);
    assert!(!Path::new("/var/lib/pgpsendmail/sendmail-takeover").exists());
}

/// What `dpkg -i` of the package put where, and what purging must take away.
const PACKAGED: &[&str] = &[
    "/usr/sbin/pgpsendmail",
    "/usr/sbin/pgpsendmail-takeover",
    "/usr/share/man/man8/pgpsendmail.8.gz",
    "/usr/share/man/man5/pgpsendmail.toml.5.gz",
    "/usr/share/bash-completion/completions/pgpsendmail",
    "/usr/share/zsh/vendor-completions/_pgpsendmail",
    "/usr/share/fish/vendor_completions.d/pgpsendmail.fish",
    "/etc/pgpsendmail/pgpsendmail.toml",
    "/etc/pgpsendmail/keys",
    "/var/cache/pgpsendmail",
];

#[test]
fn debian_package_install_takeover_cron_mail_remove_and_purge() {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !require("root", root)
        || !require("dpkg-deb", have("dpkg-deb"))
        || !require("postfix (Debian package postfix)", have("postfix"))
    {
        return;
    }
    if Path::new("/etc/pgpsendmail").exists() || Path::new("/usr/sbin/pgpsendmail").exists() {
        require(
            "a machine without an installed pgpsendmail (/etc/pgpsendmail, \
             /usr/sbin/pgpsendmail), which this test would change",
            false,
        );
        return;
    }
    let sendmail = "/usr/sbin/sendmail";
    let before = std::fs::read(sendmail).unwrap();
    let before_ino = std::fs::metadata(sendmail).unwrap().ino();
    let mut undo = Undo(Vec::new());
    let mbox_len = local_postfix(&mut undo);
    let deb = ok(&mut make("deb"));
    let deb = deb
        .lines()
        .find(|l| l.starts_with("target/deb/"))
        .unwrap_or_else(|| panic!("make deb printed no package: {deb}"))
        .trim()
        .to_string();
    assert!(deb.ends_with(".deb"), "make deb printed {deb}");
    undo.push("purge the package", || {
        quiet(Command::new("dpkg").args(["--purge", "pgpsendmail"]))
    });

    // Installing changes nothing about mail.
    ok(Command::new("dpkg").args(["-i", &format!("{ROOT}/{deb}")]));
    for p in PACKAGED {
        assert!(Path::new(p).exists(), "{p} installed");
    }
    assert_eq!(
        std::fs::read(sendmail).unwrap(),
        before,
        "no takeover on install"
    );
    assert!(ok(Command::new("dpkg-divert").args(["--list", sendmail])).is_empty());

    // The administrator's takeover: a diversion owned by the package.
    let out = ok(Command::new("pgpsendmail-takeover").arg("install"));
    assert!(out.contains("dpkg-divert --package pgpsendmail"), "{out}");
    let div = ok(Command::new("dpkg-divert").args(["--list", sendmail]));
    assert!(div.contains("by pgpsendmail"), "{div}");
    assert_eq!(
        std::fs::read_link(sendmail).unwrap(),
        Path::new("/usr/sbin/pgpsendmail")
    );
    std::fs::copy(
        Path::new(ROOT).join("tests/data/keys/ops.asc"),
        "/etc/pgpsendmail/keys/ops.asc",
    )
    .unwrap();
    let cfg = std::fs::read_to_string("/etc/pgpsendmail/pgpsendmail.toml").unwrap();
    assert!(cfg.contains("\nflavor = \"postfix\" # the MTA's"), "{cfg}");
    let cfg = cfg.replace(
        "[recipients]\n",
        "[recipients]\n\"root\" = { alias = \"ops@example.org\" }\n",
    );
    std::fs::write("/etc/pgpsendmail/pgpsendmail.toml", cfg).unwrap();

    // A cron mail, as cron hands it to /usr/sbin/sendmail.
    let mark = format!("PACKAGED-CRON-{}", std::process::id());
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "printf 'From: root (Cron Daemon)\\nTo: root\\nSubject: Cron <root@host> echo\\n\
         X-Cron-Env: <SHELL=/bin/sh>\\n\\n{mark}\\n' | \
         /usr/sbin/sendmail -FCronDaemon -i -B8BITMIME -oem root"
    ));
    ok(&mut c);
    let msgs = wait_for_mail(mbox_len, 1, Duration::from_secs(30));
    assert!(
        !contains(&mailbox()[mbox_len..], &mark),
        "plaintext in the mailbox"
    );
    assert!(contains(&open_as_ops(&msgs[0]), &mark));

    // apt-get remove: the takeover undone, /usr/sbin/sendmail Postfix's again, byte for
    // byte; the configuration stays (a conffile) until purge.
    ok(Command::new("apt-get")
        .args(["remove", "-y", "-q", "pgpsendmail"])
        .env("DEBIAN_FRONTEND", "noninteractive"));
    let meta = std::fs::symlink_metadata(sendmail).unwrap();
    assert!(
        meta.is_file() && meta.ino() == before_ino,
        "{sendmail} back"
    );
    assert_eq!(std::fs::read(sendmail).unwrap(), before, "byte for byte");
    assert!(ok(Command::new("dpkg-divert").args(["--list", sendmail])).is_empty());
    assert!(!Path::new("/usr/sbin/pgpsendmail").exists());
    assert!(!Path::new("/var/lib/pgpsendmail/sendmail-takeover").exists());
    assert!(Path::new("/etc/pgpsendmail/pgpsendmail.toml").exists());

    // apt-get purge: nothing left.
    ok(Command::new("apt-get")
        .args(["purge", "-y", "-q", "pgpsendmail"])
        .env("DEBIAN_FRONTEND", "noninteractive"));
    for p in PACKAGED
        .iter()
        .chain(&["/etc/pgpsendmail", "/var/lib/pgpsendmail"])
    {
        assert!(!Path::new(p).exists(), "{p} left behind");
    }
    let status = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", "pgpsendmail"]));
    assert!(
        !String::from_utf8_lossy(&status.stdout).contains("installed"),
        "{status:?}"
    );
}
