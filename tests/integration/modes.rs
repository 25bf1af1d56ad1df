//! pgpsendmail(8) MODES: the modes other than plain sending. `-bs` (an SMTP session on
//! stdin/stdout, each message encrypted), and the modes that send no message (`-bp`, `-q`,
//! `-bi`, `-I`, `-bv`, invoked as `mailq` or `newaliases`), which go to the real sendmail
//! with arguments rebuilt from parsed values and stdin /dev/null, per flavor. Test names
//! carry the row of the checklist in docs/callers.md.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::harness::*;

/// The reply codes in an SMTP server's output, one per reply (continuation lines of a
/// multi-line reply are skipped).
fn codes(out: &[u8]) -> Vec<u16> {
    let text = String::from_utf8(out.to_vec()).expect("replies are UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\r\n"),
        "replies end in CRLF: {text:?}"
    );
    text.split_terminator("\r\n")
        .map(|l| {
            assert!(
                l.len() >= 4 && (l.as_bytes()[3] == b' ' || l.as_bytes()[3] == b'-'),
                "not an SMTP reply line: {l:?}"
            );
            (l, l[..3].parse::<u16>().expect("reply code"))
        })
        .filter(|(l, _)| l.as_bytes()[3] == b' ')
        .map(|(_, c)| c)
        .collect()
}

fn session(h: &H, args: &[&str], script: &[u8]) -> Output {
    let mut a = vec!["-bs"];
    a.extend_from_slice(args);
    h.run(&a, script)
}

const MARK: &str = "SMTP-SECRET-7731";

/// Alpine's way: two messages in one session; the second to a recipient without a key.
#[test]
fn row36_alpine_bs_two_messages_one_without_a_key() {
    let h = H::new();
    let script = format!(
        "EHLO client.example.org\r\n\
         MAIL FROM:<me@example.org> BODY=8BITMIME\r\n\
         RCPT TO:<alice@example.org>\r\n\
         DATA\r\n\
         From: me@example.org\r\nTo: alice@example.org\r\nSubject: {MARK} one\r\n\r\n\
         first {MARK}\r\n..stuffed line\r\n.\r\n\
         MAIL FROM:<me@example.org>\r\n\
         RCPT TO:<nokey@example.org>\r\n\
         DATA\r\n\
         To: nokey@example.org\r\nSubject: two\r\n\r\nsecond {MARK}\r\n.\r\n\
         QUIT\r\n"
    );
    let out = session(&h, &["-odb", "-oem"], script.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        codes(&out.stdout),
        [220, 250, 250, 250, 354, 250, 250, 250, 354, 554, 221]
    );
    let replies = String::from_utf8_lossy(&out.stdout);
    assert!(
        replies.contains("554 5.7.1") && replies.contains("nokey@example.org"),
        "{replies}"
    );
    assert!(!replies.contains(MARK), "message content in a reply");
    let c = h.captures();
    assert_eq!(c.len(), 1, "only the first message was handed on");
    assert_eq!(c[0].argv[0], "sendmail");
    assert_eq!(
        c[0].args(),
        ["-i", "-f", "me@example.org", "--", "alice@example.org"]
    );
    assert!(!contains(&c[0].stdin, MARK.as_bytes()));
    let body = c[0].body("alice");
    assert!(contains(&body, b"\r\n.stuffed line\r\n"), "dot-unstuffed");
    assert!(!contains(&body, b"..stuffed"));
    assert!(contains(&c[0].open("alice").payload, MARK.as_bytes()));
}

#[test]
fn bs_hidden_recipient_gets_its_own_copy_and_null_sender_is_kept() {
    let h = H::new();
    let script = b"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\n\
RCPT TO:<bob@example.org>\r\nDATA\r\nTo: alice@example.org\r\nBcc: bob@example.org\r\n\
Subject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n";
    let out = session(&h, &[], script);
    assert_eq!(codes(&out.stdout), [220, 250, 250, 250, 250, 354, 250, 221]);
    let c = h.captures();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].args(), ["-i", "-f", "<>", "--", "alice@example.org"]);
    assert_eq!(c[1].rcpts(), ["bob@example.org"]);
    for cap in &c {
        assert!(!contains(&cap.cleartext(), b"Bcc"));
    }
    assert!(!contains(&c[0].open("alice").payload, b"bob@example.org"));
    c[1].open("bob");
}

#[test]
fn bs_real_sendmail_failure_is_451_or_554_by_status() {
    for (status, reply) in [(75, 451), (69, 451), (1, 554)] {
        let mut h = H::new();
        h.exit = status;
        let script = b"EHLO x\r\nMAIL FROM:<me@example.org>\r\nRCPT TO:<alice@example.org>\r\n\
DATA\r\nSubject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n";
        let out = session(&h, &[], script);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(codes(&out.stdout), [220, 250, 250, 250, 354, reply, 221]);
    }
}

/// The real sendmail's own standard output must not reach the SMTP client.
#[test]
fn bs_stdout_carries_only_replies() {
    let h = H::new();
    let noisy = h.dir.path().join("noisy-sendmail");
    write_script(
        &noisy,
        &format!(
            "#!/bin/sh\necho 'NOISE FROM THE MTA'\nexec {} \"$@\"\n",
            stand_in().display()
        ),
    );
    h.use_sendmail(&noisy);
    let script = b"EHLO x\r\nMAIL FROM:<me@example.org>\r\nRCPT TO:<alice@example.org>\r\n\
DATA\r\nSubject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n";
    let out = session(&h, &[], script);
    assert_eq!(codes(&out.stdout), [220, 250, 250, 250, 354, 250, 221]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOISE FROM THE MTA"));
    assert_eq!(h.captures().len(), 1);
}

#[test]
fn bs_input_ending_inside_data_sends_nothing() {
    let h = H::new();
    let script = b"EHLO x\r\nMAIL FROM:<me@example.org>\r\nRCPT TO:<alice@example.org>\r\n\
DATA\r\nSubject: s\r\n\r\nhalf a mess";
    let out = session(&h, &[], script);
    assert_eq!(out.status.code(), Some(66));
    assert_eq!(codes(&out.stdout), [220, 250, 250, 250, 354]);
    assert!(h.captures().is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("inside DATA"), "{err}");
}

#[test]
fn bs_protocol_errors_and_other_commands() {
    let h = H::new();
    let script = b"EHLO\r\nMAIL TO:<a@x>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n\
MAIL FROM:<me@example.org> RET=HDRS\r\nMAIL FROM:<not an address>\r\n\
MAIL FROM:<me@example.org>\r\nMAIL FROM:<me@example.org>\r\nDATA\r\n\
RCPT TO:<alice@example.org> NOTIFY=NEVER\r\nRCPT TO:<@relay.example:alice@example.org>\r\n\
DATA x\r\nRSET\r\nDATA\r\nNOOP\r\nVRFY alice\r\nSTARTTLS\r\nAUTH PLAIN\r\nHELP\r\nFOO bar\r\n\
QUIT\r\n";
    let out = session(&h, &[], script);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        codes(&out.stdout),
        [
            220, 501, 501, 503, 503, 555, 501, 250, 503, 554, 555, 250, 501, 250, 503, 250, 252,
            502, 502, 214, 500, 221
        ]
    );
    assert!(h.captures().is_empty());
}

/// A message piped to `sendmail -bs` by mistake is never sent: it is not SMTP.
#[test]
fn bs_with_a_plain_message_on_stdin_sends_nothing() {
    let h = H::new();
    let msg = format!("From: me@example.org\nTo: alice@example.org\nSubject: {MARK}\n\nbody\n");
    let out = session(&h, &[], msg.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert!(h.captures().is_empty());
    assert!(!contains(&out.stdout, MARK.as_bytes()));
    assert!(codes(&out.stdout).iter().skip(1).all(|&c| c >= 500));
}

/// A broken setup is told to the client as a 421 greeting (and on stderr, with its exit
/// code), not as a closed connection.
#[test]
fn bs_with_a_broken_configuration_greets_with_421() {
    let h = H::new();
    std::fs::write(&h.config, "sendmail = \"/nonexistent/sendmail\"\n").unwrap();
    let out = session(&h, &[], b"EHLO x\r\nQUIT\r\n");
    assert_eq!(out.status.code(), Some(69));
    assert_eq!(codes(&out.stdout), [421]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("/nonexistent/sendmail"));
    std::fs::write(&h.config, "flavor = \"qmail\"\n").unwrap();
    let out = session(&h, &[], b"EHLO x\r\nQUIT\r\n");
    assert_eq!(out.status.code(), Some(78));
    assert_eq!(codes(&out.stdout), [421]);
}

#[test]
fn bs_refuses_t_and_argument_recipients() {
    let h = H::new();
    h.fails(64, &["-bs", "-t"], b"QUIT\r\n");
    h.fails(64, &["-bs", "alice@example.org"], b"QUIT\r\n");
}

/// Each reply comes before the next command is read: a client that waits for the
/// greeting before writing (as Alpine does) is served.
#[test]
fn bs_answers_interactively() {
    use std::io::{BufRead, BufReader};
    let h = H::new();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"))
        .args(["-bs"])
        .env_clear()
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut say = |cmd: &str, line: &mut String| {
        if !cmd.is_empty() {
            stdin.write_all(cmd.as_bytes()).unwrap();
            stdin.flush().unwrap();
        }
        loop {
            line.clear();
            out.read_line(line).unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        line[..3].to_string()
    };
    assert_eq!(say("", &mut line), "220");
    assert_eq!(say("EHLO x\r\n", &mut line), "250");
    assert_eq!(say("MAIL FROM:<me@example.org>\r\n", &mut line), "250");
    assert_eq!(say("RCPT TO:<bob@example.org>\r\n", &mut line), "250");
    assert_eq!(say("DATA\r\n", &mut line), "354");
    assert_eq!(say("Subject: s\r\n\r\nhi\r\n.\r\n", &mut line), "250");
    assert_eq!(say("QUIT\r\n", &mut line), "221");
    assert!(child.wait().unwrap().success());
    h.captures()[0].open("bob");
}

/// Runs pgpsendmail under another name (a symlink, as mailq and newaliases are
/// installed), with `stdin` as its input.
fn invoked_as(h: &H, name: &str, args: &[&str], stdin: &[u8]) -> Output {
    let link: PathBuf = h.dir.path().join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("pgpsendmail"), &link).unwrap();
    }
    let mut child = Command::new(&link)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .env("STAND_IN_EXIT", h.exit.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The real sendmail gets /dev/null, so nobody may read this: ignore a closed pipe.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

const SECRET_INPUT: &[u8] = b"To: alice@example.org\n\nPASS-THROUGH-SECRET\n";

#[test]
fn row37_mailq_symlink_runs_the_real_mailq_with_stdin_dev_null() {
    let mut h = H::new();
    h.exit = 3;
    let out = invoked_as(&h, "mailq", &[], SECRET_INPUT);
    assert_eq!(out.status.code(), Some(3), "exit = the real sendmail's");
    let c = h.captures();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].argv, ["mailq"]);
    assert!(c[0].stdin.is_empty(), "stdin must be /dev/null");
}

#[test]
fn row38_newaliases_bi_and_i_per_flavor() {
    let h = H::new();
    assert!(invoked_as(&h, "newaliases", &[], b"").status.success());
    h.ok(&["-bi"], SECRET_INPUT);
    h.ok(&["-I"], SECRET_INPUT);
    let c = h.captures();
    assert_eq!(c[0].argv, ["newaliases"]);
    assert_eq!(c[1].argv, ["sendmail", "-bi"]);
    assert_eq!(c[2].argv, ["sendmail", "-bi"]);
    assert!(c.iter().all(|c| c.stdin.is_empty()));
    // msmtp and nullmailer have no alias database: exit 0, nothing run.
    for flavor in ["msmtp", "nullmailer"] {
        h.write_config(&format!("flavor = \"{flavor}\"\n"));
        let out = h.run(&["-bi"], b"");
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stderr).contains("no alias database"));
        assert!(invoked_as(&h, "newaliases", &[], b"").status.success());
    }
    // dma, OpenSMTPD and ssmtp know the name newaliases, not -bi.
    for flavor in ["dma", "opensmtpd", "ssmtp"] {
        h.write_config(&format!("flavor = \"{flavor}\"\n"));
        h.ok(&["-bi"], b"");
        assert_eq!(h.captures().last().unwrap().argv, ["newaliases"]);
    }
    assert_eq!(h.captures().len(), 6);
}

#[test]
fn row39_queue_modes_pass_through_unchanged_with_stdin_dev_null() {
    let h = H::new();
    for (args, want) in [
        (&["-bp"][..], &["sendmail", "-bp"][..]),
        (&["-q"], &["sendmail", "-q"]),
        (&["-q30m"], &["sendmail", "-q30m"]),
        (&["-qRexample.org"], &["sendmail", "-qRexample.org"]),
        (&["-qIABC123"], &["sendmail", "-qIABC123"]),
        (&["-v", "-bp"], &["sendmail", "-bp"]),
    ] {
        let before = h.captures().len();
        h.ok(args, SECRET_INPUT);
        let c = h.captures();
        assert_eq!(c.len(), before + 1);
        assert_eq!(c[before].argv, want, "{args:?}");
        assert!(c[before].stdin.is_empty());
    }
    // OpenSMTPD would read -bp as a message to send: it gets the name mailq instead.
    h.write_config("flavor = \"opensmtpd\"\n");
    h.ok(&["-bp"], SECRET_INPUT);
    assert_eq!(h.captures().last().unwrap().argv, ["mailq"]);
    // Flavors that cannot run their queue through sendmail refuse; msmtp and ssmtp have
    // none (ssmtp itself exits 0 for -q, and so does pgpsendmail for it).
    for flavor in ["opensmtpd", "nullmailer"] {
        h.write_config(&format!("flavor = \"{flavor}\"\n"));
        let e = h.fails(64, &["-q"], b"");
        assert!(e.contains(flavor), "{e}");
    }
    // nullmailer's sendmail lists its own queue with -bp.
    h.write_config("flavor = \"nullmailer\"\n");
    h.ok(&["-bp"], SECRET_INPUT);
    assert_eq!(h.captures().last().unwrap().argv, ["sendmail", "-bp"]);
    let n = h.captures().len();
    for (flavor, args) in [
        ("msmtp", &["-bp"][..]),
        ("msmtp", &["-q"]),
        ("ssmtp", &["-q"]),
    ] {
        h.write_config(&format!("flavor = \"{flavor}\"\n"));
        let out = h.run(args, b"");
        assert_eq!(out.status.code(), Some(0), "{flavor} {args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no mail queue"));
    }
    assert_eq!(h.captures().len(), n);
    // Values that could carry anything else are refused.
    h.write_config("");
    h.fails(64, &["-q", "30m"], b"");
    h.fails(64, &["-q30m;x"], b"");
    h.fails(64, &["-bp", "alice@example.org"], b"");
}

#[test]
fn row40_bv_passes_addresses_without_reading_a_message() {
    let h = H::new();
    h.ok(
        &["-bv", "alice@example.org,-oQ/tmp@example.org"],
        SECRET_INPUT,
    );
    let c = h.captures();
    assert_eq!(
        c[0].argv,
        [
            "sendmail",
            "-bv",
            "--",
            "alice@example.org",
            "-oQ/tmp@example.org"
        ]
    );
    assert!(c[0].stdin.is_empty());
    for flavor in ["msmtp", "dma", "opensmtpd", "nullmailer"] {
        h.write_config(&format!("flavor = \"{flavor}\"\n"));
        h.fails(64, &["-bv", "alice@example.org"], b"");
    }
    // ssmtp itself exits 0 for -bv without verifying anything; so does pgpsendmail for it.
    h.write_config("flavor = \"ssmtp\"\n");
    let n = h.captures().len();
    let out = h.run(&["-bv", "alice@example.org"], b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("verifies no address"));
    assert_eq!(h.captures().len(), n);
    h.write_config("");
    h.fails(64, &["-bv"], b"");
}

#[test]
fn pass_through_still_refuses_dangerous_options_and_loops() {
    let h = H::new();
    h.fails(64, &["-bp", "-X", "/tmp/x"], b"");
    h.fails(64, &["-q", "-C/tmp/cf"], b"");
    let me = assert_cmd::cargo::cargo_bin("pgpsendmail");
    h.use_sendmail(&me);
    let out = invoked_as(&h, "mailq", &[], b"");
    assert_eq!(out.status.code(), Some(78));
}

#[test]
fn row49_opensmtpd_smtpctl_is_called_as_sendmail() {
    let h = H::new();
    let smtpctl = h.dir.path().join("smtpctl");
    std::os::unix::fs::symlink(stand_in(), &smtpctl).unwrap();
    h.use_sendmail(&smtpctl);
    let c = h.ok(
        &["-i", "-N", "never", "alice@example.org"],
        b"Subject: s\n\nx\n",
    );
    assert_eq!(c[0].argv[0], "sendmail");
    // -N is dropped: OpenSMTPD's stock configuration refuses it.
    assert_eq!(c[0].args(), ["-i", "--", "alice@example.org"]);
    // and as mailq for the queue listing (inferred flavor opensmtpd)
    h.ok(&["-bp"], b"");
    assert_eq!(h.captures()[1].argv, ["mailq"]);
}

/// Issue 3, loops: an MTA's own child (a .forward pipe, vacation) calling sendmail again
/// is served normally; only the real sendmail being pgpsendmail itself is a loop.
#[test]
fn pgpsendmail_called_again_by_the_mtas_child_works() {
    let h = H::new();
    let me = assert_cmd::cargo::cargo_bin("pgpsendmail");
    let forwarding = h.dir.path().join("forwarding-sendmail");
    // The first delivery runs a ".forward pipe" that sends a new message through
    // pgpsendmail (as sendmail) to bob, then stores its own copy.
    write_script(
        &forwarding,
        &format!(
            "#!/bin/sh\n\
             if [ ! -e \"$STAND_IN_DIR/forwarded\" ]; then\n\
               touch \"$STAND_IN_DIR/forwarded\"\n\
               printf 'Subject: auto\\n\\nvacation\\n' | {me} -i bob@example.org || exit 1\n\
             fi\n\
             exec {stand_in} \"$@\"\n",
            me = me.display(),
            stand_in = stand_in().display()
        ),
    );
    h.use_sendmail(&forwarding);
    let c = h.ok(&["-i", "alice@example.org"], b"Subject: s\n\nx\n");
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].rcpts(), ["bob@example.org"]);
    c[0].open("bob");
    assert_eq!(c[1].rcpts(), ["alice@example.org"]);
    c[1].open("alice");
}
