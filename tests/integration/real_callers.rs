//! Real callers (issue 5, part 2): mutt, s-nail, bsd-mailx, GNU mailutils mail, PHP's
//! mail(), git send-email, and the exact argv and environment of Debian cron and cronie,
//! each sending through pgpsendmail into a private Postfix. Every recipient's delivered
//! copy must decrypt with its own key, each Bcc recipient gets a copy of its own, and no
//! Bcc shows in what the others receive (real::check_mailboxes).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use crate::harness::*;
use crate::real::*;

/// One caller test: a private Postfix, pgpsendmail in front of it, and a HOME for the
/// caller's throwaway configuration.
struct Caller {
    pf: Postfix,
    h: H,
    home: PathBuf,
    prog: PathBuf,
    body_mark: String,
    subject: String,
}

impl Caller {
    fn new(test: &str, what: &str, pkg: &str, path: &str) -> Option<Caller> {
        let prog = need(test, what, pkg, &[path])?;
        let pf = Postfix::start(test, Options::default())?;
        let h = pf.harness();
        let home = h.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        Some(Caller {
            pf,
            h,
            home,
            prog,
            body_mark: marker("BODYMARK"),
            subject: format!("Caller test {}", marker("SUBJ")),
        })
    }

    /// The caller program, with only the environment a user's shell would give it plus
    /// PGPSENDMAIL_CONFIG and MAIL_CONFIG (which pgpsendmail hands on to Postfix).
    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.prog);
        c.env_clear()
            .envs(self.pf.caller_env(&self.h, &self.home))
            .current_dir(&self.home);
        c
    }

    /// A body with the marker and a lone dot line in the middle.
    fn body(&self) -> String {
        format!(
            "Hello,\n{}\n.\nThe line above is a lone dot.\n",
            self.body_mark
        )
    }

    fn rc(&self, name: &str, text: &str) -> PathBuf {
        let p = self.home.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// alice (To) and bob (Cc) share a copy, carol (Bcc) has her own.
    fn check(&self) {
        self.check_hidden(&["carol"]);
    }

    /// alice (To) and bob (Cc) share a copy, each of `hidden` (Bcc) has one of its own.
    fn check_hidden(&self, hidden: &[&str]) {
        check_mailboxes(
            &self.pf,
            &["alice", "bob"],
            hidden,
            &self.body_mark,
            &self.subject,
        );
        let copy = &self.pf.mailbox("alice")[0];
        let body = String::from_utf8(copy.body("alice")).unwrap();
        assert!(
            body.contains("\r\n.\r\nThe line above"),
            "lone dot lost: {body}"
        );
    }
}

#[test]
fn mutt_batch_with_cc_and_two_bcc() {
    let Some(c) = Caller::new(
        "mutt_batch_with_cc_and_bcc",
        "mutt",
        "mutt",
        "/usr/bin/mutt",
    ) else {
        return;
    };
    let rc = c.rc(
        "muttrc",
        &format!(
            "set sendmail=\"{} -oem -oi\"\nset from=\"me@example.org\"\nset use_from=yes\n\
             set copy=no\nset record=\"\"\nset send_charset=\"us-ascii:utf-8\"\n",
            pgpsendmail().display()
        ),
    );
    run_ok(
        c.cmd().arg("-n").arg("-F").arg(&rc).args([
            "-s",
            &c.subject,
            "-c",
            "bob@example.org",
            "-b",
            "carol@example.net",
            "-b",
            "dave@example.net",
            "--",
            "alice@example.org",
        ]),
        c.body().as_bytes(),
    );
    c.check_hidden(&["carol", "dave"]);
}

#[test]
fn mutt_to_bare_root_follows_the_root_entry_at_this_hosts_name() {
    // mutt rewrites `root` to root@HOSTNAME before it calls sendmail: that address is this
    // host's, so it follows the "root" entry (ops) like the bare name.
    let test = "mutt_to_bare_root_follows_the_root_entry_at_this_hosts_name";
    let Some(mutt) = need(test, "mutt", "mutt", &["/usr/bin/mutt"]) else {
        return;
    };
    let h = H::new();
    let home = h.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let rc = home.join("muttrc");
    std::fs::write(
        &rc,
        format!(
            "set sendmail=\"{}\"\nset copy=no\nset record=\"\"\n",
            pgpsendmail().display()
        ),
    )
    .unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    run_ok(
        Command::new(mutt)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("PGPSENDMAIL_CONFIG", &h.config)
            .env("STAND_IN_DIR", &h.capture)
            .args(["-n", "-F"])
            .arg(&rc)
            .args(["-s", "disk report", "root"]),
        b"the disks are fine\n",
    );
    let c = h.captures();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rcpts(), [format!("root@{}", host.trim())]);
    assert!(contains(&c[0].open("ops").payload, b"the disks are fine"));
}

#[test]
fn s_nail_with_cc_and_bcc() {
    let Some(c) = Caller::new(
        "s_nail_with_cc_and_bcc",
        "s-nail",
        "s-nail",
        "/usr/bin/s-nail",
    ) else {
        return;
    };
    run_ok(
        c.cmd().args([
            "-:/",
            "-S",
            &format!("mta={}", pgpsendmail().display()),
            "-S",
            "from=me@example.org",
            "-s",
            &c.subject,
            "-c",
            "bob@example.org",
            "-b",
            "carol@example.net",
            "alice@example.org",
        ]),
        c.body().as_bytes(),
    );
    c.check();
}

/// A bsd-mailx caller, and its mailrc naming pgpsendmail as sendmail.
fn mailx(test: &str) -> Option<(Caller, PathBuf)> {
    let c = Caller::new(test, "bsd-mailx", "bsd-mailx", "/usr/bin/bsd-mailx")?;
    let rc = c.rc(
        "mailrc",
        &format!("set sendmail={}\n", pgpsendmail().display()),
    );
    Some((c, rc))
}

#[test]
fn bsd_mailx_with_cc_and_bcc() {
    // bsd-mailx writes the Bcc field into the header and calls `sendmail -i -t`.
    let Some((c, rc)) = mailx("bsd_mailx_with_cc_and_bcc") else {
        return;
    };
    run_ok(
        c.cmd().env("MAILRC", &rc).args([
            "-n",
            "-s",
            &c.subject,
            "-c",
            "bob@example.org",
            "-b",
            "carol@example.net",
            "-r",
            "me@example.org",
            "alice@example.org",
        ]),
        c.body().as_bytes(),
    );
    c.check();
}

#[test]
fn bsd_mailx_keeps_the_whole_letter_in_dead_letter_after_a_refusal() {
    // mailx hands the message over as a temporary file and, when sendmail fails, saves the
    // letter from that file's offset: pgpsendmail puts the offset back after a refusal, so
    // ~/dead.letter holds the whole letter, not 0 bytes.
    let Some((c, rc)) = mailx("bsd_mailx_keeps_the_whole_letter_in_dead_letter_after_a_refusal")
    else {
        return;
    };
    let mut child = c
        .cmd()
        .env("MAILRC", &rc)
        .args(["-s", &c.subject, "nokey@example.org"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(c.body().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("nokey@example.org") && err.contains("67"),
        "{err}"
    );
    let dead = std::fs::read_to_string(c.home.join("dead.letter")).unwrap_or_default();
    assert!(
        dead.contains(&c.body_mark) && dead.contains(&c.subject),
        "dead.letter: {dead:?}"
    );
    assert!(c.pf.mailbox("alice").is_empty());
}

#[test]
fn gnu_mailutils_mail_with_cc_and_bcc() {
    // GNU mail calls `sendmail -oi -f USER -t` with Cc and Bcc in the header.
    let Some(c) = Caller::new(
        "gnu_mailutils_mail_with_cc_and_bcc",
        "GNU mailutils mail",
        "mailutils",
        "/usr/bin/mail.mailutils",
    ) else {
        return;
    };
    run_ok(
        c.cmd().env("MAILRC", "/dev/null").args([
            "--no-config",
            "-n",
            "-E",
            &format!("set sendmail=sendmail://{}", pgpsendmail().display()),
            "-s",
            &c.subject,
            "-a",
            "From: me@example.org",
            "-a",
            "Cc: bob@example.org",
            "-a",
            "Bcc: carol@example.net",
            "alice@example.org",
        ]),
        c.body().as_bytes(),
    );
    c.check();
}

#[test]
fn php_mail_with_bcc_header() {
    // PHP's mail() runs sendmail_path through the shell and writes the extra headers,
    // Bcc included, into the message.
    let Some(c) = Caller::new("php_mail_with_bcc_header", "php", "php-cli", "/usr/bin/php") else {
        return;
    };
    let script =
        "exit(mail(getenv('TO'), getenv('SUBJ'), getenv('BODY'), getenv('HDRS')) ? 0 : 1);";
    run_ok(
        c.cmd()
            .env("TO", "alice@example.org")
            .env("SUBJ", &c.subject)
            .env("BODY", c.body())
            .env(
                "HDRS",
                "From: me@example.org\r\nCc: bob@example.org\r\nBcc: carol@example.net",
            )
            .args([
                "-n",
                "-d",
                &format!("sendmail_path={} -t -i", pgpsendmail().display()),
                "-r",
                script,
            ]),
        b"",
    );
    c.check();
}

#[test]
fn git_send_email_patch_with_a_lone_dot_line() {
    // git send-email runs `sh -c 'CMD "$@"'` with `-i to cc bcc` (no --): the lone dot in
    // the commit message is safe only because of -i.
    git_send_email(
        "git_send_email_patch_with_a_lone_dot_line",
        &format!("--sendmail-cmd={}", pgpsendmail().display()),
    );
}

#[test]
fn git_send_email_smtp_server_path() {
    // An absolute --smtp-server path is executed directly, with the same arguments.
    git_send_email(
        "git_send_email_smtp_server_path",
        &format!("--smtp-server={}", pgpsendmail().display()),
    );
}

fn git_send_email(test: &str, how: &str) {
    let Some(c) = Caller::new(
        test,
        "git send-email",
        "git-email",
        "/usr/lib/git-core/git-send-email",
    ) else {
        return;
    };
    let git = |args: &[&str]| {
        let mut cmd = Command::new("/usr/bin/git");
        cmd.env_clear()
            .envs(c.pf.caller_env(&c.h, &c.home))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .current_dir(c.home.join("repo"))
            .args(args);
        run_ok(&mut cmd, b"")
    };
    std::fs::create_dir_all(c.home.join("repo")).unwrap();
    git(&["init", "-q"]);
    git(&["config", "user.name", "Me"]);
    git(&["config", "user.email", "me@example.org"]);
    std::fs::write(c.home.join("repo/README"), "readme\n").unwrap();
    git(&["add", "README"]);
    let msg = format!("{}\n\n{}", c.subject, c.body());
    git(&["commit", "-q", "-m", &msg]);
    git(&["format-patch", "-q", "-1", "-o", "out"]);
    let patch = std::fs::read_dir(c.home.join("repo/out"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    git(&[
        "send-email",
        "--quiet",
        "--confirm=never",
        "--suppress-cc=all",
        "--from=me@example.org",
        "--to=alice@example.org",
        "--cc=bob@example.org",
        "--bcc=carol@example.net",
        how,
        patch.to_str().unwrap(),
    ]);
    c.check();
}

/// What cron writes: its header section, then the job's output (with a lone dot line).
fn cron_mail(c: &Caller, to: &str, extra: &str) -> String {
    format!(
        "From: root (Cron Daemon)\nTo: {to}\nSubject: {}\n{extra}\
         X-Cron-Env: <SHELL=/bin/sh>\nX-Cron-Env: <HOME=/root>\n\
         X-Cron-Env: <PATH=/usr/bin:/bin>\nX-Cron-Env: <LOGNAME=root>\n\n{}",
        c.subject,
        c.body()
    )
}

/// pgpsendmail invoked as /usr/sbin/sendmail with `args`, in the job environment cron
/// sets (SHELL, HOME, PATH, LOGNAME) plus pgpsendmail's and Postfix's configuration.
fn cron_replay(c: &Caller, args: &[&str], mail: &str) {
    let mut cmd = Command::new(pgpsendmail());
    cmd.arg0("/usr/sbin/sendmail")
        .args(args)
        .env_clear()
        .env("SHELL", "/bin/sh")
        .env("HOME", "/root")
        .env("PATH", "/usr/bin:/bin")
        .env("LOGNAME", "root")
        .env("PGPSENDMAIL_CONFIG", &c.h.config)
        .envs([c.pf.mail_config()])
        .current_dir("/");
    run_ok(&mut cmd, mail.as_bytes());
}

#[test]
fn debian_cron_argv_and_environment() {
    // Debian cron 3.0pl1: `sendmail -FCronDaemon -i -B8BITMIME -oem MAILTO`, MAILTO as one
    // argument even when it holds a comma list.
    let Some(c) = Caller::new(
        "debian_cron_argv_and_environment",
        "Postfix",
        "postfix",
        "/usr/sbin/postfix",
    ) else {
        return;
    };
    let extra = "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\
                 Content-Transfer-Encoding: 8bit\n";
    let mailto = "root,alice@example.org";
    cron_replay(
        &c,
        &["-FCronDaemon", "-i", "-B8BITMIME", "-oem", mailto],
        &cron_mail(&c, mailto, extra),
    );
    check_mailboxes(&c.pf, &["ops", "alice"], &[], &c.body_mark, &c.subject);
    let body = String::from_utf8(c.pf.mailbox("ops")[0].body("ops")).unwrap();
    assert!(body.contains("\r\n.\r\n"), "lone dot lost: {body}");
}

#[test]
fn cronie_argv_and_environment() {
    // cronie: `sendmail -FCronDaemon -i -odi -oem -oi -t -f USER`, recipients from To.
    let Some(c) = Caller::new(
        "cronie_argv_and_environment",
        "Postfix",
        "postfix",
        "/usr/sbin/postfix",
    ) else {
        return;
    };
    let extra = "Content-Type: text/plain; charset=UTF-8\nAuto-Submitted: auto-generated\n\
                 Precedence: bulk\n";
    cron_replay(
        &c,
        &[
            "-FCronDaemon",
            "-i",
            "-odi",
            "-oem",
            "-oi",
            "-t",
            "-f",
            "root",
        ],
        &cron_mail(&c, "root", extra),
    );
    check_mailboxes(&c.pf, &["ops"], &[], &c.body_mark, &c.subject);
    let copy = &c.pf.mailbox("ops")[0];
    assert!(
        copy.text()
            .starts_with("Return-Path: <root@pgpsendmail.test>"),
        "{}",
        copy.text()
    );
}
