//! The mail log (pgpsendmail(8), LOGGING): every message leaves one line in syslog,
//! facility mail, read here at a /dev/log stand-in (PGPSENDMAIL_SYSLOG_SOCKET): `info` for
//! a message handed on, `err` for a refusal naming each recipient and the reason; never the
//! Subject or anything of the body.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::harness::*;

/// A /dev/log stand-in: a datagram socket in the harness's directory.
pub struct Log {
    sock: UnixDatagram,
}

impl Log {
    pub fn on(h: &mut H) -> Log {
        let path = h.dir.path().join("log");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        h.env.push((
            "PGPSENDMAIL_SYSLOG_SOCKET".into(),
            path.display().to_string(),
        ));
        Log { sock }
    }

    /// Every line received so far (the runs have ended: nothing more is coming).
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = self.sock.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    /// Exactly one line, at priority `pri` (facility mail).
    fn one(&self, pri: &str) -> String {
        let lines = self.lines();
        assert_eq!(lines.len(), 1, "{lines:#?}");
        let l = lines.into_iter().next().unwrap();
        assert!(l.starts_with(&format!("<{pri}>pgpsendmail[")), "{l}");
        assert!(
            !l.contains("SECRETSUBJECT") && !l.contains("BODYMARK"),
            "{l}"
        );
        l
    }
}

const INFO: &str = "22";
const ERR: &str = "19";

fn msg(to: &str) -> Vec<u8> {
    format!(
        "From: me@example.org\nTo: {to}\nMessage-ID: <m1@example.org>\n\
         Subject: SECRETSUBJECT\n\nBODYMARK\n"
    )
    .into_bytes()
}

#[test]
fn a_message_handed_on_is_one_info_line_with_its_envelope_and_keys() {
    let mut h = H::new();
    let log = Log::on(&mut h);
    let m = msg("alice@example.org");
    h.ok(&["-i", "-f", "me@example.org", "alice@example.org"], &m);
    let l = log.one(INFO);
    for want in [
        "message-id=<m1@example.org>",
        "from=<me@example.org>",
        "nrcpt=1",
        "copies=1",
        &format!("keys={}", fingerprint("alice")),
        &format!("size={}", m.len()),
        "status=handed to ",
        "(exec)",
    ] {
        assert!(l.contains(want), "wanted {want:?} in {l}");
    }
}

#[test]
fn hidden_copies_are_one_line_with_every_copys_outcome() {
    let mut h = H::new();
    let log = Log::on(&mut h);
    h.ok(
        &["-i", "-t"],
        b"To: alice@example.org\nBcc: bob@example.org, carol@example.net\n\
          Subject: SECRETSUBJECT\n\nBODYMARK\n",
    );
    let l = log.one(INFO);
    assert!(l.contains("nrcpt=3") && l.contains("copies=3") && l.contains("status=sent"));
    // A synthesized Message-ID is logged as the outer header carries it.
    assert!(
        l.contains("message-id=<") && !l.contains("message-id=none"),
        "{l}"
    );
    assert!(l.contains(&fingerprint("bob")) && l.contains(&fingerprint("carol")));
}

#[test]
fn a_refusal_is_one_err_line_naming_each_recipient_and_why() {
    let mut h = H::new();
    let log = Log::on(&mut h);
    h.fails(
        67,
        &["-i", "alice@example.org", "nokey@example.org", "ncuser"],
        &msg("alice@example.org"),
    );
    let l = log.one(ERR);
    assert!(l.contains("status=refused (exit 67)"), "{l}");
    assert!(
        l.contains("nokey@example.org: no certificate") && l.contains("ncuser"),
        "{l}"
    );
    assert!(
        l.contains("message-id=<m1@example.org>") && l.contains("nrcpt=3"),
        "{l}"
    );
}

#[test]
fn a_refusal_of_many_recipients_names_every_one_in_the_log() {
    let mut h = H::new();
    let log = Log::on(&mut h);
    let many: Vec<String> = (0..25).map(|i| format!("nokey{i}@example.org")).collect();
    let mut args = vec!["-i"];
    args.extend(many.iter().map(String::as_str));
    h.fails(67, &args, &msg("x@example.org"));
    let all = log.lines().join("\n");
    for a in &many {
        assert!(
            all.contains(&format!("{a}: no certificate")),
            "{a} missing: {all}"
        );
    }
}

#[test]
fn a_usage_error_or_a_broken_configuration_is_logged_too() {
    let mut h = H::new();
    let log = Log::on(&mut h);
    h.fails(64, &["-X", "/tmp/log", "alice@example.org"], b"x");
    assert!(log.one(ERR).contains("status=refused (exit 64)"));
    std::fs::write(&h.config, "nonsense = 1\n").unwrap();
    h.fails(78, &["-i", "alice@example.org"], b"x");
    let l = log.one(ERR);
    assert!(
        l.contains("status=refused (exit 78)") && l.contains("nrcpt=1"),
        "{l}"
    );
}

#[test]
fn a_partial_send_is_an_err_line_naming_who_did_not_get_it() {
    // Two copies (alice visible, bob hidden); the second run of the real sendmail fails.
    let mut h = H::new();
    h.exit = 75;
    h.env.push(("STAND_IN_ONLY".into(), "2".into()));
    let log = Log::on(&mut h);
    let out = h.run(
        &["-i", "-t"],
        b"To: alice@example.org\nBcc: bob@example.org\nSubject: SECRETSUBJECT\n\nBODYMARK\n",
    );
    assert_eq!(out.status.code(), Some(69));
    let l = log.one(ERR);
    assert!(
        l.contains("status=failed (1 of 2 copies handed on; not sent to: bob@example.org"),
        "{l}"
    );
}

#[test]
fn every_message_of_an_smtp_session_is_one_line() {
    let mut h = H::new();
    let log = Log::on(&mut h);
    let session = "EHLO x\r\nMAIL FROM:<me@example.org>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n\
                   Subject: SECRETSUBJECT\r\n\r\nBODYMARK\r\n.\r\n\
                   MAIL FROM:<me@example.org>\r\nRCPT TO:<nokey@example.org>\r\nDATA\r\n\
                   Subject: SECRETSUBJECT\r\n\r\nBODYMARK\r\n.\r\nQUIT\r\n";
    let out = h.run(&["-bs"], session.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let lines = log.lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with("<22>") && lines[0].contains("status=sent"));
    assert!(lines[1].starts_with("<19>") && lines[1].contains("nokey@example.org"));
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("SECRETSUBJECT") && !l.contains("BODYMARK"))
    );
}
