//! Every caller, as it really calls sendmail (docs/callers.md). Test names carry the row of
//! that checklist.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

const SIMPLE: &[u8] = b"From: me@example.org\nTo: alice@example.org\nSubject: hello\n\nbody\n";

#[test]
fn row01_mutt_minimal() {
    let h = H::new();
    let msg =
        b"From: me@example.org\nTo: alice@example.org\nCc: bob@example.org\nSubject: s\n\nhi\n";
    let c = h.ok(
        &["-oem", "-oi", "--", "alice@example.org", "bob@example.org"],
        msg,
    );
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].args(),
        ["-i", "--", "alice@example.org", "bob@example.org"]
    );
    assert_eq!(c[0].argv[0], "sendmail", "argv[0] downstream");
    c[0].open("alice");
    c[0].open("bob");
}

#[test]
fn row02_mutt_full_set_with_hidden_recipient() {
    let h = H::new();
    let msg = b"From: me@example.org\nTo: alice@example.org\nSubject: s\n\nhi\n";
    let c = h.ok(
        &[
            "-oem",
            "-oi",
            "-B8BITMIME",
            "-f",
            "me@example.org",
            "-N",
            "failure,delay",
            "-R",
            "hdrs",
            "--",
            "alice@example.org",
            "carol@example.net",
        ],
        msg,
    );
    assert_eq!(c.len(), 2, "visible copy and one hidden copy");
    let pre = [
        "-i",
        "-f",
        "me@example.org",
        "-N",
        "failure,delay",
        "-R",
        "hdrs",
        "--",
    ];
    let mut a = pre.to_vec();
    a.push("alice@example.org");
    assert_eq!(c[0].args(), a);
    let mut b = pre.to_vec();
    b.push("carol@example.net");
    assert_eq!(c[1].args(), b);
    c[0].open("alice");
    c[1].open("carol");
    assert!(
        c[0].try_open("carol").is_err(),
        "carol's key is not in alice's copy"
    );
    assert!(
        c[1].try_open("alice").is_err(),
        "alice's key is not in carol's copy"
    );
}

#[test]
fn row02_exim_flavor_drops_dsn_flags() {
    let h = H::new();
    h.write_config("flavor = \"exim\"\n");
    let c = h.ok(
        &[
            "-oem",
            "-oi",
            "-N",
            "failure,delay",
            "-R",
            "hdrs",
            "-V",
            "id1",
            "--",
            "alice@example.org",
        ],
        SIMPLE,
    );
    assert_eq!(c[0].args(), ["-i", "--", "alice@example.org"]);
}

#[test]
fn row03_mutt_sendmail_setting_with_its_own_double_dash() {
    let h = H::new();
    let c = h.ok(
        &["-oem", "-oi", "--", "bob@example.org", "alice@example.org"],
        SIMPLE,
    );
    let args = c
        .iter()
        .flat_map(|c| c.args())
        .filter(|a| *a == "--")
        .count();
    assert_eq!(args, c.len(), "one -- per downstream call");
    let mut all: Vec<&str> = c.iter().flat_map(|c| c.rcpts()).collect();
    all.sort();
    assert_eq!(all, ["alice@example.org", "bob@example.org"]);
}

#[test]
fn s_nail_with_name_and_sender() {
    let h = H::new();
    let c = h.ok(
        &[
            "-i",
            "-F",
            "Me Myself",
            "-f",
            "me@example.org",
            "--",
            "alice@example.org",
        ],
        SIMPLE,
    );
    assert_eq!(
        c[0].args(),
        [
            "-i",
            "-f",
            "me@example.org",
            "-F",
            "Me Myself",
            "--",
            "alice@example.org"
        ]
    );
}

#[test]
fn bsd_mailx_t_with_bcc_header() {
    let h = H::new();
    let msg =
        b"From: me@example.org\nTo: alice@example.org\nBcc: carol@example.net\nSubject: s\n\nhi\n";
    let c = h.ok(&["-i", "-t", "-f", "me@example.org"], msg);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].rcpts(), ["alice@example.org"]);
    assert_eq!(c[1].rcpts(), ["carol@example.net"]);
    for copy in &c {
        assert!(!contains(&copy.cleartext(), b"Bcc"), "Bcc outside");
        assert!(
            !contains(&copy.cleartext(), b"carol"),
            "hidden recipient named outside"
        );
    }
    for (copy, who) in c.iter().zip(["alice", "carol"]) {
        let o = copy.open(who);
        assert!(!contains(&o.payload, b"Bcc"), "Bcc inside");
        assert!(!contains(&o.payload, b"carol@example.net"));
    }
}

#[test]
fn gnu_mailutils_angle_and_display_names() {
    let h = H::new();
    let msg = b"From: me@example.org\nTo: <alice@example.org>,\"Bob, the second\" <bob@example.org>\nSubject: s\n\nhi\n";
    let c = h.ok(&["-oi", "-f", "me@example.org", "-t"], msg);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rcpts(), ["alice@example.org", "bob@example.org"]);
}

const CRON: &[u8] = b"From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> /usr/local/bin/backup --secret-flag\n\
MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\
X-Cron-Env: <SHELL=/bin/sh>\nX-Cron-Env: <HOME=/root>\nX-Cron-Env: <DB_PASSWORD=hunter2>\n\n\
backup started\n.\nbackup finished\n";

#[test]
fn row04_debian_cron_local_name_and_lone_dot() {
    let h = H::new();
    let c = h.ok(&["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"], CRON);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].args(), ["-i", "-F", "CronDaemon", "--", "root"]);
    let o = c[0].open("ops");
    let (_, _, body) = payload_parts(&o.payload);
    assert_eq!(body, crlf(b"backup started\n.\nbackup finished\n"));
    for secret in [&b"X-Cron-Env"[..], b"hunter2", b"secret-flag", b"backup"] {
        assert!(
            !contains(&c[0].cleartext(), secret),
            "{} outside",
            String::from_utf8_lossy(secret)
        );
    }
    assert!(contains(
        &o.payload,
        b"X-Cron-Env: <DB_PASSWORD=hunter2>\r\n"
    ));
}

#[test]
fn row05_debian_cron_mailto_list_in_one_argument() {
    let h = H::new();
    let msg = b"From: root\nTo: alice@example.org,bob@example.org\nSubject: s\n\nx\n";
    let c = h.ok(
        &[
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "alice@example.org,bob@example.org",
        ],
        msg,
    );
    assert_eq!(c[0].rcpts(), ["alice@example.org", "bob@example.org"]);
}

#[test]
fn row06_cronie() {
    let h = H::new();
    let c = h.ok(
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
        CRON,
    );
    assert_eq!(
        c[0].args(),
        ["-i", "-f", "root", "-F", "CronDaemon", "--", "root"]
    );
    assert!(!c[0].args().contains(&"-t"), "never -t downstream");
}

#[test]
fn row07_anacron_dot_ends_input_without_waiting_for_eof() {
    let h = H::new();
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"));
    cmd.env_clear()
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .args(["-FAnacron", "-odi", "root"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut p = cmd.spawn().unwrap();
    let mut stdin = p.stdin.take().unwrap();
    stdin
        .write_all(b"From: root\nTo: root\nSubject: anacron\n\nl1\n.\nl3\n")
        .unwrap();
    // The writer keeps the pipe open: pgpsendmail must finish anyway (bounded wait only
    // so that a regression fails instead of hanging the suite).
    let start = Instant::now();
    let status = loop {
        if let Some(s) = p.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            p.kill().unwrap();
            panic!("pgpsendmail waited for end of file after the dot line");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    assert!(status.success());
    let c = h.captures();
    assert_eq!(c[0].args(), ["-i", "-F", "Anacron", "--", "root"]);
    let body = c[0].body("ops");
    assert_eq!(body, b"l1\r\n");
}

#[test]
fn row08_atd_local_user() {
    let h = H::with_keys(
        DEFAULT_KEYS,
        "[recipients]\n\"alice\" = { alias = \"alice@example.org\" }\n",
    );
    let c = h.ok(
        &["-i", "alice"],
        b"Subject: Output from your job 42\nTo: alice\n\njob output\n",
    );
    assert_eq!(c[0].rcpts(), ["alice"]);
    c[0].open("alice");
}

#[test]
fn row09_busybox_grouped_flags() {
    let h = H::new();
    let c = h.ok(&["-ti"], b"To: root\nSubject: busybox\n\nx\n.\ny\n");
    assert_eq!(c[0].rcpts(), ["root"]);
    let body = c[0].body("ops");
    assert_eq!(
        body, b"x\r\n.\r\ny\r\n",
        "-i in the group: the dot does not end input"
    );
}

#[test]
fn row10_systemd_cron_separate_b_value() {
    let h = H::new();
    let c = h.ok(&["-i", "-B", "8BITMIME", "alice@example.org"], SIMPLE);
    assert_eq!(c[0].rcpts(), ["alice@example.org"]);
}

#[test]
fn row11_sudo_reset_environment_and_closed_output() {
    let h = H::new();
    let out = Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"))
        .env_clear()
        .env("HOME", "/")
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .env("LOGNAME", "root")
        .env("USER", "root")
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .arg("-t")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut p| {
            p.stdin
                .take()
                .unwrap()
                .write_all(b"To: root\nFrom: alice\nAuto-Submitted: auto-generated\nSubject: *** SECURITY information ***\n\nalice : user NOT in sudoers\n")?;
            p.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let c = h.captures();
    assert_eq!(c[0].rcpts(), ["root"]);
    assert!(
        c[0].outer_header()
            .contains("Auto-Submitted: auto-generated")
    );
}

#[test]
fn row12_mdadm_glued_sender() {
    let h = H::new();
    let c = h.ok(
        &["-t", "-fraid@example.org"],
        b"To: root\nSubject: Fail event\n\nmdstat\n",
    );
    assert_eq!(c[0].args(), ["-i", "-f", "raid@example.org", "--", "root"]);
}

#[test]
fn row13_unattended_upgrades() {
    let h = H::new();
    let c = h.ok(
        &["-oi", "-t"],
        b"From: root\nTo: root\nSubject: upgrades\n\na\n.\nb\n",
    );
    let body = c[0].body("ops");
    assert_eq!(body, b"a\r\n.\r\nb\r\n");
}

#[test]
fn row14_logwatch_without_i_stops_at_dot() {
    let h = H::new();
    let c = h.ok(
        &["-t"],
        b"To: root\nSubject: logwatch\n\nbefore\n.\nafter\n",
    );
    let body = c[0].body("ops");
    assert_eq!(body, b"before\r\n");
    // The row says the msmtp, OpenSMTPD and nullmailer profiles read the whole body; the
    // project's rule (pgpsendmail(8), INPUT: without -i input ends at the first line that is
    // exactly '.') wins,
    // whatever the flavor: the caller's convention is sendmail's, not the MTA's.
    for flavor in ["msmtp", "opensmtpd", "nullmailer"] {
        let h = H::new();
        h.write_config(&format!(
            "flavor = \"{flavor}\"\n[recipients]\n\"root\" = {{ alias = \"ops@example.org\" }}\n"
        ));
        let c = h.ok(
            &["-t"],
            b"To: root\nSubject: logwatch\n\nbefore\n.\nafter\n",
        );
        assert_eq!(c[0].body("ops"), b"before\r\n", "{flavor}");
    }
}

#[test]
fn row15_fail2ban_unqualified_sender_and_recipient() {
    let h = H::new();
    let c = h.ok(
        &["-f", "fail2ban", "root"],
        b"Subject: [Fail2Ban] sshd: banned 192.0.2.1\n\nbanned\n",
    );
    assert_eq!(c[0].args(), ["-i", "-f", "fail2ban", "--", "root"]);
}

#[test]
fn row16_php_mail_crlf_headers_lf_body_bcc() {
    let h = H::new();
    let msg = b"To: alice@example.org\r\nSubject: PHP\r\nFrom: web@example.org\r\nBcc: carol@example.net\r\n\r\nline1\nline2\n";
    let c = h.ok(&["-t", "-i", "-fbounce@example.org"], msg);
    assert_eq!(c.len(), 2);
    assert_eq!(
        c[0].args(),
        ["-i", "-f", "bounce@example.org", "--", "alice@example.org"]
    );
    assert_eq!(c[1].rcpts(), ["carol@example.net"]);
    for copy in &c {
        assert!(
            !contains(&copy.cleartext(), b"\r"),
            "LF only towards the local sendmail"
        );
        assert!(!contains(&copy.cleartext(), b"Bcc"));
    }
    let o = c[0].open("alice");
    assert!(!contains(&o.payload, b"Bcc"));
    let (_, _, body) = payload_parts(&o.payload);
    assert_eq!(body, b"line1\r\nline2\r\n");
}

#[test]
fn row17_phpmailer() {
    let h = H::new();
    let msg = b"To: alice@example.org\nBcc: bob@example.org\nSubject: x\n\nb\n";
    let c = h.ok(&["-oi", "-fsender@example.org", "-t"], msg);
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|c| !contains(&c.cleartext(), b"Bcc")));
}

#[test]
fn row18_nodemailer_bcc_header_without_t() {
    let h = H::new();
    h.write_config("flavor = \"exim\"\n");
    let msg =
        b"From: me@example.org\nTo: alice@example.org\nBcc: bob@example.org\nSubject: x\n\nb\n";
    let c = h.ok(
        &[
            "-i",
            "-f",
            "me@example.org",
            "alice@example.org",
            "bob@example.org",
        ],
        msg,
    );
    assert_eq!(c.len(), 2);
    assert_eq!(c[1].rcpts(), ["bob@example.org"]);
    for copy in &c {
        assert!(!contains(&copy.cleartext(), b"Bcc"));
    }
    assert!(!contains(&c[0].open("alice").payload, b"Bcc"));
}

#[test]
fn row19_git_send_email_no_double_dash_lone_dot() {
    let h = H::new();
    let patch = b"From: me@example.org\nTo: alice@example.org\nCc: bob@example.org\nSubject: [PATCH] fix\n\n---\n a | 1 +\n.\n-- \n2.47.3\n";
    let c = h.ok(
        &[
            "-f",
            "me@example.org",
            "-i",
            "alice@example.org",
            "bob@example.org",
            "carol@example.net",
        ],
        patch,
    );
    assert_eq!(c.len(), 2, "carol is a hidden recipient");
    let body = c[0].body("bob");
    assert_eq!(body, crlf(b"---\n a | 1 +\n.\n-- \n2.47.3\n"));
}

#[test]
fn row20_email_sender_null_sender() {
    let h = H::new();
    let c = h.ok(&["-i", "-f", "", "--", "alice@example.org"], SIMPLE);
    assert_eq!(c[0].args(), ["-i", "-f", "<>", "--", "alice@example.org"]);
}

#[test]
fn row21_lettre_quoted_null_sender() {
    let h = H::new();
    let c = h.ok(&["-i", "-f", "\"\"", "--", "alice@example.org"], SIMPLE);
    assert_eq!(c[0].args(), ["-i", "-f", "<>", "--", "alice@example.org"]);
}

#[test]
fn row22_option_like_recipient_stays_after_double_dash() {
    let h = H::with_keys(
        DEFAULT_KEYS,
        "[recipients]\n\"-oQ/tmp@example.org\" = { alias = \"alice@example.org\" }\n",
    );
    let c = h.ok(&["-i", "--", "-oQ/tmp@example.org"], SIMPLE);
    assert_eq!(c[0].args(), ["-i", "--", "-oQ/tmp@example.org"]);
    // ssmtp has no "--": such a recipient is refused.
    let h2 = H::with_keys(
        DEFAULT_KEYS,
        "flavor = \"ssmtp\"\n[recipients]\n\"-oQ/tmp@example.org\" = { alias = \"alice@example.org\" }\n",
    );
    h2.fails(64, &["-i", "--", "-oQ/tmp@example.org"], SIMPLE);
}

#[test]
fn row23_injection_options_refused() {
    let h = H::new();
    let e = h.fails(
        64,
        &[
            "-oi",
            "-t",
            "-f",
            "a@example.org",
            "-X",
            "/var/www/html/s.php",
            "-OQueueDirectory=/tmp",
        ],
        SIMPLE,
    );
    assert!(e.contains("-X"), "{e}");
    assert!(!std::path::Path::new("/var/www/html/s.php").exists());
}

#[test]
fn row24_newline_in_values_refused() {
    let h = H::new();
    h.fails(
        64,
        &["-f", "me@x.org\nBcc: evil@x.org", "alice@example.org"],
        SIMPLE,
    );
    h.fails(
        64,
        &["-F", "Me\r\nBcc: evil@x.org", "alice@example.org"],
        SIMPLE,
    );
    h.fails(64, &["alice@example.org\nBcc: evil@x.org"], SIMPLE);
}

#[test]
fn row25_t_with_argument_recipients() {
    let h = H::new();
    let msg = b"To: bob@example.org\nSubject: s\n\nx\n";
    let c = h.ok(&["-t", "alice@example.org"], msg);
    let mut all: Vec<&str> = c.iter().flat_map(|c| c.rcpts()).collect();
    all.sort();
    assert_eq!(
        all,
        ["alice@example.org", "bob@example.org"],
        "postfix: added"
    );
    let h = H::new();
    h.write_config("flavor = \"exim\"\n");
    let msg = b"To: bob@example.org, alice@example.org\nSubject: s\n\nx\n";
    let c = h.ok(&["-t", "alice@example.org"], msg);
    assert_eq!(c[0].rcpts(), ["bob@example.org"], "exim: removed");
}

#[test]
fn row26_resent_headers_rule() {
    let h = H::new();
    let msg = b"To: alice@example.org\nResent-To: bob@example.org\nSubject: s\n\nx\n";
    let c = h.ok(&["-t"], msg);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rcpts(), ["bob@example.org"]);
}

#[test]
fn row27_lone_resent_from_does_not_switch() {
    let h = H::new();
    let msg = b"To: alice@example.org\nResent-From: z@example.org\nSubject: s\n\nx\n";
    let c = h.ok(&["-t"], msg);
    assert_eq!(c[0].rcpts(), ["alice@example.org"]);
    // The row expects "no recipients" (64) for the sendmail, exim and nullmailer profiles;
    // the project's rule (pgpsendmail(8), RECIPIENTS: only Resent-To/-Cc/-Bcc switch) wins for every flavor, so no
    // message is refused for a header that names no recipient.
    for flavor in ["sendmail", "exim", "nullmailer"] {
        h.write_config(&format!("flavor = \"{flavor}\"\n"));
        h.ok(&["-t"], msg);
        assert_eq!(h.captures().last().unwrap().rcpts(), ["alice@example.org"]);
    }
}

#[test]
fn row28_undisclosed_recipients_and_bcc() {
    let h = H::new();
    let msg = b"To: undisclosed-recipients:;\nBcc: carol@example.net\nSubject: s\n\nx\n";
    let c = h.ok(&["-t"], msg);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rcpts(), ["carol@example.net"]);
    assert!(c[0].outer_header().contains("To: undisclosed-recipients:;"));
    assert!(!contains(&c[0].cleartext(), b"Bcc"));
}

#[test]
fn row29_30_no_recipients() {
    let h = H::new();
    h.fails(64, &["-t"], b"Subject: s\n\nx\n");
    h.fails(64, &["-oi"], b"To: alice@example.org\n\nx\n");
}

#[test]
fn row31_mbox_from_line_dropped() {
    let h = H::new();
    let msg =
        b"From me@example.org Sat Nov 28 12:00:00 2026\nTo: alice@example.org\nSubject: s\n\nx\n";
    let c = h.ok(&["-i", "alice@example.org"], msg);
    let o = c[0].open("alice");
    assert!(!contains(&o.payload, b"From me@example.org Sat"));
    assert!(!contains(&c[0].cleartext(), b"From me@example.org Sat"));
}

#[test]
fn row32_dot_rules() {
    let h = H::new();
    let c = h.ok(
        &["alice@example.org"],
        b"To: alice@example.org\n\nx\n..y\n.\nz\n",
    );
    let body = c[0].body("alice");
    assert_eq!(body, b"x\r\n..y\r\n", "postfix profile: no unstuffing");
    // The row's Sendmail profile unstuffs "..y" to ".y"; pgpsendmail (pgpsendmail(8), INPUT) does not, for
    // any flavor: a local submission is not SMTP, and the text is the caller's.
    h.write_config("flavor = \"sendmail\"\n");
    h.ok(
        &["alice@example.org"],
        b"To: alice@example.org\n\nx\n..y\n.\nz\n",
    );
    assert_eq!(h.captures()[1].body("alice"), b"x\r\n..y\r\n");
    let h = H::new();
    let c = h.ok(
        &["-oi", "alice@example.org"],
        b"To: alice@example.org\n\nx\n..y\n.\nz\n",
    );
    let body = c[0].body("alice");
    assert_eq!(body, b"x\r\n..y\r\n.\r\nz\r\n");
}

#[test]
fn row33_last_sender_wins() {
    let h = H::new();
    let c = h.ok(
        &[
            "-f",
            "a@example.org",
            "-r",
            "b@example.org",
            "alice@example.org",
        ],
        SIMPLE,
    );
    assert_eq!(
        c[0].args(),
        ["-i", "-f", "b@example.org", "--", "alice@example.org"]
    );
}

#[test]
fn row34_missing_value_and_unknown_flag() {
    let h = H::new();
    h.fails(64, &["-f"], SIMPLE);
    let e = h.fails(64, &["-z", "alice@example.org"], SIMPLE);
    assert!(e.contains("-z"), "{e}");
}

#[test]
fn row35_grouped_either_order() {
    for g in ["-it", "-ti"] {
        let h = H::new();
        let c = h.ok(
            &[g, "bob@example.org"],
            b"To: alice@example.org\n\nx\n.\ny\n",
        );
        let mut all: Vec<&str> = c.iter().flat_map(|c| c.rcpts()).collect();
        all.sort();
        assert_eq!(all, ["alice@example.org", "bob@example.org"]);
    }
}

// Rows 36 to 40 and 49 (-bs and the modes that send no message) are in modes.rs.

#[test]
fn row43_real_sendmail_is_pgpsendmail_by_symlink_or_hard_link() {
    // exits.rs ex_config_78_real_sendmail_is_pgpsendmail tries the file itself, a
    // symbolic link and a hard link; this row is the symlink case through the candidates'
    // own loop check, no recursion (the call returns at once with 78).
    let h = H::new();
    let link = h.dir.path().join("sendmail.real");
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("pgpsendmail"), &link).unwrap();
    h.use_sendmail(&link);
    let e = h.fails(78, &["-i", "alice@example.org"], SIMPLE);
    assert!(e.contains("pgpsendmail itself"), "{e}");
}

#[test]
fn row44_real_sendmail_missing_or_not_executable() {
    let h = H::new();
    for (path, make) in [("missing", false), ("not-executable", true)] {
        let p = h.dir.path().join(path);
        if make {
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
        }
        h.use_sendmail(&p);
        let e = h.fails(69, &["-i", "alice@example.org"], SIMPLE);
        assert!(e.contains(path), "{e}");
    }
}

#[test]
fn row41_no_key_refused_and_sendmail_never_started() {
    let h = H::new();
    let e = h.fails(67, &["-i", "nokey@example.org"], SIMPLE);
    assert!(e.contains("nokey@example.org"), "{e}");
    assert!(e.contains("no certificate"), "{e}");
}

#[test]
fn row42_real_sendmail_status_passed_through() {
    for code in [75, 69, 1] {
        let mut h = H::new();
        h.exit = code;
        let out = h.run(&["-i", "alice@example.org"], SIMPLE);
        assert_eq!(out.status.code(), Some(code));
        assert_eq!(h.captures().len(), 1);
    }
}

#[test]
fn row45_writer_killed_sends_nothing() {
    // Nodemailer aborts by sending SIGINT to sendmail: pgpsendmail dies before handing on.
    let h = H::new();
    let mut p = default_signals(&mut Command::new(assert_cmd::cargo::cargo_bin(
        "pgpsendmail",
    )))
    .env_clear()
    .env("PGPSENDMAIL_CONFIG", &h.config)
    .env("STAND_IN_DIR", &h.capture)
    .args(["-i", "alice@example.org"])
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut stdin = p.stdin.take().unwrap();
    stdin
        .write_all(b"To: alice@example.org\n\nhalf a mess")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(p.id() as i32, libc::SIGINT);
    }
    let st = p.wait().unwrap();
    assert!(!st.success());
    assert!(h.captures().is_empty(), "a half message was handed on");
}

/// A writer that trickles its message (a slow pipe, a CGI that computes as it goes) is
/// waited for: there is no read timeout. (Memory for a 200 MiB message is measured in
/// tests/streaming.rs.)
#[test]
fn row50_a_trickling_writer_is_waited_for() {
    let h = H::new();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"))
        .args(["-i", "alice@example.org"])
        .env_clear()
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"Subject: slow\n\n").unwrap();
    for i in 0..6 {
        std::thread::sleep(Duration::from_millis(500));
        writeln!(stdin, "line {i}").unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let body = h.captures()[0].body("alice");
    assert!(contains(&body, b"line 0\r\n") && contains(&body, b"line 5\r\n"));
}

#[test]
fn row46_already_encrypted_passes_through() {
    // Real ciphertext (gpg at test time): a label or an armor line alone proves nothing
    // (protected.rs has the cases that only look encrypted).
    let Some(g) = crate::protected::gpg_home() else {
        return;
    };
    let enc = crate::protected::gpg_encrypt(&g, b"already encrypted\n");
    let (ct, parts) = crate::protected::pgp_mime(&enc);
    let h = H::new();
    let mut msg = format!(
        "From: me@example.org\nTo: alice@example.org\nBcc: bob@example.org\nSubject: already\n{ct}\n"
    )
    .into_bytes();
    msg.extend_from_slice(&parts);
    let c = h.ok(&["-i", "-t"], &msg);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rcpts(), ["alice@example.org", "bob@example.org"]);
    assert!(
        c[0].text().contains("Subject: already\n"),
        "not encrypted again"
    );
    assert!(!contains(&c[0].cleartext(), b"Bcc"));
    assert_eq!(c[0].text().matches("BEGIN PGP MESSAGE").count(), 1);

    let h = H::new();
    let mut inline = b"To: nokey@example.org\nSubject: inline\n\n".to_vec();
    inline.extend_from_slice(&enc);
    let c = h.ok(&["-i", "nokey@example.org"], &inline);
    assert!(c[0].text().contains("Subject: inline\n"));
}

#[test]
fn row47_mutt_dsn_with_exim() {
    let h = H::new();
    h.write_config("flavor = \"exim\"\n");
    let c = h.ok(
        &[
            "-oem",
            "-oi",
            "-N",
            "failure,delay",
            "--",
            "alice@example.org",
        ],
        SIMPLE,
    );
    assert!(!c[0].args().contains(&"-N"));
    assert!(!c[0].args().contains(&"failure,delay"));
}

#[test]
fn row48_ssmtp_gets_no_dsn_or_body_type() {
    let h = H::new();
    h.write_config("flavor = \"ssmtp\"\n");
    let c = h.ok(
        &["-V", "envid", "-B", "8BITMIME", "-i", "alice@example.org"],
        SIMPLE,
    );
    assert_eq!(c[0].args(), ["-i", "alice@example.org"]);
}

#[test]
fn phpmailer_cve_2016_10033_sender_is_one_argument() {
    let h = H::new();
    let evil = "\"x\\\" -oQ/var/spool -X/var/www/s.php y\"@example.com";
    let c = h.ok(&["-oi", "-f", evil, "-t"], b"To: alice@example.org\n\nx\n");
    assert_eq!(c[0].args(), ["-i", "-f", evil, "--", "alice@example.org"]);
}

#[test]
fn pgpsendmail_name_with_double_dash_recipient_named_like_a_subcommand() {
    let h = H::with_keys(
        DEFAULT_KEYS,
        "[recipients]\n\"check\" = { alias = \"alice@example.org\" }\n",
    );
    let c = h.ok(&["-oem", "-oi", "--", "check"], SIMPLE);
    assert_eq!(c[0].rcpts(), ["check"]);
}

#[test]
fn flavor_is_inferred_from_the_real_sendmail_name() {
    // An Exim found without a flavor setting must not get -N (there: "do not deliver").
    let h = H::new();
    let exim = h.dir.path().join("exim4");
    std::os::unix::fs::symlink(stand_in(), &exim).unwrap();
    h.use_sendmail(&exim);
    let c = h.ok(
        &["-oi", "-N", "failure,delay", "--", "alice@example.org"],
        SIMPLE,
    );
    assert_eq!(c[0].args(), ["-i", "--", "alice@example.org"]);
    // A configured flavor wins.
    std::fs::write(
        &h.config,
        format!(
            "sendmail = \"{}\"\nflavor = \"postfix\"\nkeyring = [\"{}\"]\n",
            exim.display(),
            h.keys.display()
        ),
    )
    .unwrap();
    let out = h.run(&["-oi", "-N", "never", "--", "alice@example.org"], SIMPLE);
    assert!(out.status.success());
    assert_eq!(
        h.captures()[1].args(),
        ["-i", "-N", "never", "--", "alice@example.org"]
    );
}

#[test]
fn bare_o_never_takes_the_next_argument() {
    let h = H::new();
    h.fails(64, &["-o", "alice@example.org"], SIMPLE);
}

#[test]
fn duplicates_collapse_with_case_insensitive_domain_only() {
    let h = H::new();
    let msg = b"To: alice@example.org\nSubject: s\n\nx\n";
    let c = h.ok(&["-t", "alice@EXAMPLE.org"], msg);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rcpts(), ["alice@EXAMPLE.org"]);
}

#[test]
fn row46_smime_enveloped_passes_through() {
    let Some(d) = crate::protected::openssl_dir() else {
        return;
    };
    // `openssl smime -encrypt` writes the MIME header fields and the base64 body.
    let entity = openssl_run(
        d.path(),
        &["smime", "-encrypt", "-aes256", "c.pem"],
        b"already encrypted\n",
    );
    let h = H::new();
    let mut msg = b"From: me@example.org\nTo: nokey@example.org\nSubject: smime\n".to_vec();
    msg.extend_from_slice(&entity);
    let c = h.ok(&["-i", "nokey@example.org"], &msg);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].text().as_bytes(), &msg[..], "handed on unchanged");
}

/// docs/interface.md section 5: each flavor gets the DSN options it understands, `--` unless it is
/// ssmtp, and argv[0] "sendmail" (OpenSMTPD's smtpctl needs that name).
#[test]
fn every_flavor_gets_its_own_downstream_argv() {
    let args = [
        "-oi",
        "-f",
        "me@example.org",
        "-F",
        "Cron Daemon",
        "-N",
        "failure",
        "-R",
        "hdrs",
        "-V",
        "env1",
        "--",
        "alice@example.org",
    ];
    let base = ["-i", "-f", "me@example.org", "-F", "Cron Daemon"];
    let nr = ["-N", "failure", "-R", "hdrs"];
    let v = ["-V", "env1"];
    let end = ["--", "alice@example.org"];
    let cat = |parts: &[&[&str]]| -> Vec<String> {
        parts.concat().iter().map(|s| s.to_string()).collect()
    };
    for (flavor, want) in [
        ("postfix", cat(&[&base, &nr, &v, &end])),
        ("sendmail", cat(&[&base, &nr, &v, &end])),
        // OpenSMTPD's stock smtpd.conf refuses -N, -R and -V (503 5.5.4).
        ("opensmtpd", cat(&[&base, &end])),
        ("msmtp", cat(&[&base, &nr, &end])),
        ("exim", cat(&[&base, &end])),
        ("nullmailer", cat(&[&base, &end])),
        ("dma", cat(&[&base, &end])),
        ("ssmtp", cat(&[&base, &["alice@example.org"]])),
    ] {
        let h = H::new();
        h.write_config(&format!("flavor = \"{flavor}\"\n"));
        let c = h.ok(&args, SIMPLE);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].argv[0], "sendmail", "{flavor}");
        assert_eq!(c[0].args(), want, "{flavor}");
        c[0].open("alice");
    }
}

#[test]
fn dma_gets_no_null_sender() {
    // dma would make `-f <>` the reverse-path <<>@host>, which is none: it gets no -f; the
    // other flavors keep the null sender.
    for (flavor, null_kept) in [("dma", false), ("postfix", true), ("exim", true)] {
        let h = H::new();
        h.write_config(&format!("flavor = \"{flavor}\"\n"));
        let c = h.ok(&["-i", "-f", "<>", "alice@example.org"], SIMPLE);
        let args = c[0].args();
        assert_eq!(args.contains(&"-f"), null_kept, "{flavor}: {args:?}");
        assert_eq!(args.contains(&"<>"), null_kept, "{flavor}: {args:?}");
    }
}

/// Row 43 by bind mount: the loop check compares device and inode, which a bind mount
/// keeps, so path comparison alone would miss it. Needs mount(2) rights (root); skipped,
/// loudly, where they are missing.
#[test]
fn row43_real_sendmail_is_pgpsendmail_by_bind_mount() {
    let h = H::new();
    let target = h.dir.path().join("sendmail.bound");
    std::fs::write(&target, "").unwrap();
    let me = assert_cmd::cargo::cargo_bin("pgpsendmail");
    let mounted = Command::new("mount")
        .arg("--bind")
        .arg(&me)
        .arg(&target)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot bind-mount here (needs root and mount rights)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(target.clone());
    h.use_sendmail(&target);
    let e = h.fails(78, &["-i", "alice@example.org"], SIMPLE);
    assert!(e.contains("pgpsendmail itself"), "{e}");
}
