//! The SMTP face `-bs` against scripted sessions: the rules of pgpsendmail(8) MODES ("SMTP on
//! standard input and output") and SIZE, and docs/interface.md section 4: SIZE, timeouts,
//! the end of DATA, paths, refusal at RCPT, a partial hand-off, SMTPUTF8.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

const MARK: &str = "SMTP-SECRET-4410";

/// MAIL, RCPT and DATA of one message from me@example.org to `rcpt` with `body`.
fn transaction(rcpt: &str, body: &str) -> String {
    format!(
        "MAIL FROM:<me@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\nSubject: s\r\n\r\n{body}\r\n.\r\n"
    )
}

#[test]
fn bs_advertises_size_and_refuses_a_larger_message_at_mail_and_at_the_end_of_data() {
    let h = H::new();
    h.write_config("[smtp]\nsize_limit = 2000\n");
    let big = format!("{MARK} {}", "x".repeat(3000));
    let script = format!(
        "EHLO c\r\nMAIL FROM:<me@example.org> SIZE=5000\r\n{}{}QUIT\r\n",
        transaction("alice@example.org", &big),
        transaction("alice@example.org", "small"),
    );
    let out = session(&h, &[], script.as_bytes());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("250-SIZE 2000\r\n"), "{text}");
    assert_eq!(
        codes(&out.stdout),
        [220, 250, 552, 250, 250, 354, 552, 250, 250, 354, 250, 221]
    );
    assert!(text.contains("552 5.3.4 "), "{text}");
    assert!(!text.contains(MARK));
    let c = h.captures();
    assert_eq!(c.len(), 1, "only the small message");
    assert!(contains(&c[0].open("alice").payload, b"small"));
}

/// Without `size_limit`, SIZE is what fits Postfix's message_size_limit once encrypted.
#[test]
fn bs_size_follows_the_real_postfix_limit_allowing_for_growth() {
    let h = H::new();
    let bin = h.dir.path().join("postfix-bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_script(
        &bin.join("sendmail"),
        &format!("#!/bin/sh\nexec {} \"$@\"\n", stand_in().display()),
    );
    write_script(&bin.join("postconf"), "#!/bin/sh\necho 1000000\n");
    h.use_sendmail(&bin.join("sendmail"));
    let mut cfg = std::fs::read_to_string(&h.config).unwrap();
    cfg.push_str("flavor = \"postfix\"\n");
    std::fs::write(&h.config, cfg).unwrap();
    let out = session(&h, &[], b"EHLO c\r\nQUIT\r\n");
    let want = pgpsendmail::admin::largest_before_encryption(1_000_000);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("250-SIZE {want}\r\n")), "{text}");
}

/// Runs `-bs`, writes `script`, then stays silent (standard input open) until pgpsendmail
/// ends the session itself; returns its exit status and output.
fn silent_after(h: &H, script: &[u8]) -> (Option<i32>, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"))
        .args(["-bs"])
        .env_clear()
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .env("PGPSENDMAIL_CACHE_DIR", h.default_cache())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("-bs still waiting for a silent client after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    drop(stdin);
    (status.code(), out)
}

#[test]
fn bs_a_silent_client_is_timed_out_with_421_and_nothing_is_sent() {
    let h = H::new();
    h.write_config("[smtp]\ncommand_timeout = 2\ndata_timeout = 1\n");
    let half = format!(
        "EHLO c\r\nMAIL FROM:<me@example.org>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n\
         Subject: {MARK}\r\n\r\nhalf a mess"
    );
    let (code, out) = silent_after(&h, half.as_bytes());
    assert_eq!(code, Some(66), "{out}");
    assert!(
        out.ends_with("421 4.4.2 timeout exceeded; closing\r\n"),
        "{out}"
    );
    assert!(h.captures().is_empty());
    let (code, out) = silent_after(&h, b"EHLO c\r\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.ends_with("421 4.4.2 timeout exceeded; closing\r\n"),
        "{out}"
    );
}

/// The SMTP smuggling pattern: LF . LF is not the end of the data, so the "second message"
/// is text of the first, encrypted with it, and never a message of its own.
#[test]
fn bs_bare_lf_dot_lf_does_not_end_data() {
    let h = H::new();
    let script = format!(
        "EHLO c\r\nMAIL FROM:<me@example.org>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n\
         Subject: s\r\n\r\nhello\n.\nMAIL FROM:<evil@example.org>\r\n\
         RCPT TO:<bob@example.org>\r\nDATA\r\nSubject: spoof\r\n\r\n{MARK}\r\n.\r\nQUIT\r\n"
    );
    let out = session(&h, &[], script.as_bytes());
    assert_eq!(codes(&out.stdout), [220, 250, 250, 250, 354, 250, 221]);
    let c = h.captures();
    assert_eq!(c.len(), 1, "one message, not two");
    assert_eq!(c[0].rcpts(), ["alice@example.org"]);
    assert!(contains(&c[0].open("alice").payload, MARK.as_bytes()));
}

#[test]
fn bs_paths_are_normalized_and_a_comment_never_reaches_from() {
    let h = H::new();
    let script = "EHLO c\r\nMAIL FROM:< me@example.org>\r\nRCPT TO:<alice@example.org >\r\n\
                  DATA\r\nSubject: one\r\n\r\nx\r\n.\r\n\
                  MAIL FROM:<me@example.org (Evil Name)>\r\nRCPT TO:<(c)alice@example.org>\r\n\
                  DATA\r\nSubject: two\r\n\r\ny\r\n.\r\nQUIT\r\n";
    let out = session(&h, &[], script.as_bytes());
    assert_eq!(
        codes(&out.stdout),
        [220, 250, 250, 250, 354, 250, 250, 250, 354, 250, 221]
    );
    let c = h.captures();
    assert_eq!(c.len(), 2);
    for cap in &c {
        assert_eq!(
            cap.args(),
            ["-i", "-f", "me@example.org", "--", "alice@example.org"]
        );
        let payload = cap.open("alice").payload;
        assert!(!contains(&payload, b"Evil Name"));
        assert!(!contains(&cap.stdin, b"Evil Name"));
    }
}

/// The policy refuses a recipient without a key (missing_key = "refuse"): at RCPT, with
/// the reason, before the client sends any content.
#[test]
fn bs_a_recipient_without_a_key_is_refused_at_rcpt() {
    let h = H::new();
    let script = format!(
        "EHLO c\r\nMAIL FROM:<me@example.org>\r\nRCPT TO:<nokey@example.org>\r\n\
         RCPT TO:<alice@example.org>\r\nDATA\r\nSubject: s\r\n\r\n{MARK}\r\n.\r\nQUIT\r\n"
    );
    let out = session(&h, &[], script.as_bytes());
    assert_eq!(codes(&out.stdout), [220, 250, 250, 550, 250, 354, 250, 221]);
    let text = String::from_utf8_lossy(&out.stdout);
    let refusal = text.lines().find(|l| l.starts_with("550 ")).unwrap();
    assert!(
        refusal.starts_with("550 5.7.1 ") && refusal.contains("nokey@example.org"),
        "{refusal}"
    );
    assert!(!text.contains(MARK));
    let c = h.captures();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rcpts(), ["alice@example.org"]);
}

/// Two copies (alice visible, bob hidden); the second run of the real sendmail fails. The
/// first copy went: 250, never a reply that has the client send it again, and the text
/// names the copy that did not go with the real status, not 69.
#[test]
fn bs_a_partial_hand_off_is_250_naming_the_failed_copy_and_its_real_status() {
    let script = "EHLO c\r\nMAIL FROM:<me@example.org>\r\nRCPT TO:<alice@example.org>\r\n\
                  RCPT TO:<bob@example.org>\r\nDATA\r\nTo: alice@example.org\r\nSubject: s\r\n\
                  \r\nhi\r\n.\r\nQUIT\r\n";
    let mut h = H::new();
    h.exit = 75;
    h.env.push(("STAND_IN_ONLY".into(), "2".into()));
    let out = session(&h, &[], script.as_bytes());
    assert_eq!(codes(&out.stdout), [220, 250, 250, 250, 250, 354, 250, 221]);
    let text = String::from_utf8_lossy(&out.stdout);
    let reply = text.lines().find(|l| l.contains("copies")).unwrap();
    assert!(
        reply.starts_with("250 2.0.0 1 of 2 copies handed on"),
        "{reply}"
    );
    assert!(
        reply.contains("(status 75)") && !reply.contains("69"),
        "{reply}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(status 75)"), "{err}");
    // One copy, and it fails: 451 with the real status, or the signal.
    for (env, said) in [
        ("STAND_IN_EXIT", "status 75"),
        ("STAND_IN_SIGNAL", "signal 9"),
    ] {
        let mut h = H::new();
        let value = if env == "STAND_IN_EXIT" { "75" } else { "9" };
        h.env.push((env.into(), value.into()));
        let one = format!(
            "EHLO c\r\n{}QUIT\r\n",
            transaction("alice@example.org", "x")
        );
        let out = session(&h, &[], one.as_bytes());
        assert_eq!(codes(&out.stdout), [220, 250, 250, 250, 354, 451, 221]);
        let text = String::from_utf8_lossy(&out.stdout);
        let reply = text.lines().find(|l| l.starts_with("451 ")).unwrap();
        assert!(reply.ends_with(said), "{reply}");
    }
}

#[test]
fn bs_offers_smtputf8_and_requires_it_for_a_utf8_path() {
    let h = H::new();
    let script = "EHLO c\r\nMAIL FROM:<josé@example.org>\r\nMAIL FROM:<me@example.org>\r\n\
                  RCPT TO:<josé@example.org>\r\nRSET\r\n\
                  MAIL FROM:<josé@example.org> SMTPUTF8\r\nRSET\r\nQUIT\r\n";
    let out = session(&h, &[], script.as_bytes());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("250-SMTPUTF8\r\n") || text.contains("250 SMTPUTF8\r\n"),
        "{text}"
    );
    assert_eq!(
        codes(&out.stdout),
        [220, 250, 553, 250, 553, 250, 250, 250, 221]
    );
    assert!(text.contains("553 5.6.7 "), "{text}");
}
