//! A real MTA behind pgpsendmail (issue 5, part 1): a private Postfix reached through its
//! own sendmail (pickup) and through msmtp (SMTP on loopback), with the no-plaintext-at-rest
//! check on the queue while the mail is held and on the Maildirs after delivery, and the
//! same check shown to fail when a plain pass-through stands in for pgpsendmail.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;
use crate::real::*;

/// How the caller's message reaches Postfix.
#[derive(Clone, Copy, PartialEq)]
enum Route {
    /// pgpsendmail, then Postfix's sendmail (postdrop, pickup).
    Pgpsendmail,
    /// pgpsendmail, then msmtp over SMTP to Postfix's smtpd on 127.0.0.1.
    PgpsendmailMsmtp,
    /// A `cat` pass-through in pgpsendmail's place, then Postfix's sendmail: the negative
    /// check that the grep finds plaintext when it is there.
    PassThrough,
}

/// A $HOME with an .msmtprc that submits to `port` on 127.0.0.1 without TLS or auth.
fn msmtp_home(dir: &Path, port: u16) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let rc = home.join(".msmtprc");
    std::fs::write(
        &rc,
        format!(
            "defaults\nauth off\ntls off\nsyslog off\n\n\
             account default\nhost 127.0.0.1\nport {port}\nfrom me@example.org\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    home
}

/// Sends one message with To, Cc and Bcc through `route` into a Postfix that holds it;
/// greps the queue while it is held and the Maildirs after delivery for the body marker
/// and the real Subject. They must be absent, except for the pass-through, where both
/// greps must find them.
fn at_rest(test: &str, route: Route) {
    let smtp = route == Route::PgpsendmailMsmtp;
    if smtp && need(test, "msmtp", "msmtp", &["/usr/bin/msmtp"]).is_none() {
        return;
    }
    let Some(pf) = Postfix::start(
        test,
        Options {
            hold: true,
            smtp,
            ..Options::default()
        },
    ) else {
        return;
    };
    let mut h = if smtp {
        pf.harness_with("/usr/bin/msmtp", "msmtp")
    } else {
        pf.harness()
    };
    let home = msmtp_home(h.dir.path(), pf.port.unwrap_or(25));
    h.env.push(("HOME".into(), home.display().to_string()));
    let body_mark = marker("BODYMARK");
    let subject = format!("Quarterly figures {}", marker("SUBJ"));
    let msg = format!(
        "From: me@example.org\nTo: alice@example.org\nCc: bob@example.org\n\
         Bcc: carol@example.net\nSubject: {subject}\n\n\
         The figures: {body_mark}\n.\nlast line\n"
    );
    match route {
        Route::Pgpsendmail | Route::PgpsendmailMsmtp => {
            let out = h.run(&["-t", "-i"], msg.as_bytes());
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Route::PassThrough => {
            let cat = h.dir.path().join("cat-sendmail");
            let text = format!("#!/bin/sh\ncat | {} \"$@\"\n", postfix_sendmail());
            std::fs::write(&cat, text).unwrap();
            run_ok(
                Command::new("/bin/sh")
                    .arg(&cat)
                    .args(["-t", "-i"])
                    .env_clear()
                    .env("PATH", "/usr/bin:/bin")
                    .envs(h.env.iter().cloned()),
                msg.as_bytes(),
            );
        }
    }
    // pgpsendmail hands on two messages (the shared copy, carol's own); Postfix's sendmail
    // -t one.
    let queued = if route == Route::PassThrough { 1 } else { 2 };
    pf.wait_held(queued);
    assert!(pf.queue_files() >= queued, "no queue files to grep");
    let plain = route == Route::PassThrough;
    for needle in [&body_mark, &subject] {
        let hits = pf.grep(needle.as_bytes());
        assert_eq!(
            !hits.is_empty(),
            plain,
            "held in the queue: {needle} found in {hits:?}"
        );
    }
    pf.release();
    if plain {
        pf.wait_delivered(&[("alice", 1), ("bob", 1), ("carol", 1)]);
    } else {
        check_mailboxes(&pf, &["alice", "bob"], &["carol"], &body_mark, &subject);
    }
    assert_eq!(pf.queue_lines(), Vec::<String>::new());
    // The route taken, as Postfix recorded it.
    let how = if smtp {
        "(Postfix) with ESMTP id"
    } else {
        "(Postfix, from userid 0)"
    };
    let text = pf.mailbox("alice")[0].text();
    assert!(text.contains(how), "not received {how}:\n{text}");
    for needle in [&body_mark, &subject] {
        let hits = pf.grep(needle.as_bytes());
        assert_eq!(
            !hits.is_empty(),
            plain,
            "delivered: {needle} found in {hits:?}"
        );
        if plain {
            // All three Maildirs hold the plaintext.
            assert!(hits.len() >= 3, "{hits:?}");
        }
    }
}

#[test]
fn postfix_queue_and_maildir_hold_no_plaintext() {
    at_rest(
        "postfix_queue_and_maildir_hold_no_plaintext",
        Route::Pgpsendmail,
    );
}

#[test]
fn msmtp_to_postfix_queue_and_maildir_hold_no_plaintext() {
    at_rest(
        "msmtp_to_postfix_queue_and_maildir_hold_no_plaintext",
        Route::PgpsendmailMsmtp,
    );
}

#[test]
fn the_plaintext_grep_finds_a_pass_through() {
    at_rest(
        "the_plaintext_grep_finds_a_pass_through",
        Route::PassThrough,
    );
}

#[test]
fn postfix_delivers_what_decrypts_to_the_original() {
    // One recipient, three visible recipients, and the envelope sender and a lone dot
    // line: the body that arrives is byte for byte the one sent.
    let test = "postfix_delivers_what_decrypts_to_the_original";
    let Some(pf) = Postfix::start(test, Options::default()) else {
        return;
    };
    let h = pf.harness();
    let body = "first line\n.\n..two dots\nFrom the start of a line\nlast\n";
    let one = format!("From: me@example.org\nTo: alice@example.org\nSubject: one\n\n{body}");
    let three = format!(
        "From: me@example.org\nTo: alice@example.org, bob@example.org\n\
         Cc: carol@example.net\nSubject: three\n\n{body}"
    );
    for (msg, args) in [
        (
            &one,
            &["-i", "-f", "me@example.org", "alice@example.org"][..],
        ),
        (&three, &["-t", "-i"][..]),
    ] {
        let out = h.run(args, msg.as_bytes());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    pf.wait_delivered(&[("alice", 2), ("bob", 1), ("carol", 1)]);
    let alice = pf.mailbox("alice");
    let mut subjects = Vec::new();
    for copy in &alice {
        let opened = copy.open("alice");
        assert_eq!(payload_parts(&opened.payload).2, crlf(body.as_bytes()));
        let root = payload_parts(&opened.payload).0;
        subjects.push(if root.contains("Subject: one\r\n") {
            "one"
        } else {
            "three"
        });
    }
    subjects.sort();
    assert_eq!(subjects, ["one", "three"]);
    // Postfix saw pgpsendmail's -f: the Return-Path it wrote.
    assert!(
        alice
            .iter()
            .any(|c| c.text().starts_with("Return-Path: <me@example.org>")),
        "{}",
        alice[0].text()
    );
    for who in ["bob", "carol"] {
        let copy = &pf.mailbox(who)[0];
        assert_eq!(copy.body(who), crlf(body.as_bytes()));
        for other in ["alice", "bob", "carol"] {
            copy.open(other);
        }
    }
}

const EAI_MSG: &str = "From: Jos\u{e9} <jos\u{e9}@ex\u{e4}mple.org>\n\
    To: \u{7528}\u{6237}@\u{4f8b}\u{5b50}.\u{5e7f}\u{544a}, Alice <alice@example.org>\n\
    Subject: s\n\nx\n";

/// [`EAI_MSG`] sent to alice through a private Postfix with `smtputf8_enable` as `utf8`
/// says: the outer From and To alice's copy arrived with, and pgpsendmail's stderr.
fn eai_through_postfix(test: &str, utf8: bool) -> Option<(Vec<String>, Vec<String>, String)> {
    let opt = Options {
        smtputf8: utf8,
        ..Options::default()
    };
    let pf = Postfix::start(test, opt)?;
    let h = pf.harness();
    let out = h.run(&["-i", "alice@example.org"], EAI_MSG.as_bytes());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    pf.wait_delivered(&[("alice", 1)]);
    let copy = pf.mailbox("alice").remove(0);
    let (headers, _) = mailparse::parse_headers(&copy.stdin).unwrap();
    let get = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|h| h.get_key().eq_ignore_ascii_case(name))
            .map(|h| h.get_value())
            .collect()
    };
    // Inside, always as given.
    assert!(contains(
        &copy.open("alice").payload,
        "From: Jos\u{e9} <jos\u{e9}@ex\u{e4}mple.org>\r\n".as_bytes()
    ));
    Some((get("From"), get("To"), err))
}

#[test]
fn postfix_delivers_utf8_addresses_in_the_outer_header() {
    // docs/message.md, rule 18: with SMTPUTF8, a UTF-8 From and a To holding a UTF-8 and an
    // ASCII address stay outside as they are (RFC 6532): Postfix makes up no From.
    let test = "postfix_delivers_utf8_addresses_in_the_outer_header";
    let Some((from, to, err)) = eai_through_postfix(test, true) else {
        return;
    };
    assert_eq!(from, ["Jos\u{e9} <jos\u{e9}@ex\u{e4}mple.org>"]);
    assert_eq!(
        to,
        ["\u{7528}\u{6237}@\u{4f8b}\u{5b50}.\u{5e7f}\u{544a}, Alice <alice@example.org>"]
    );
    assert!(err.is_empty(), "{err}");
}

#[test]
fn postfix_without_smtputf8_gets_the_ascii_addresses_and_a_warning() {
    // rule 18: smtputf8_enable = no (postconf says so): the UTF-8 addresses are left out
    // outside, the ASCII one stays, and the warning names the fields.
    let test = "postfix_without_smtputf8_gets_the_ascii_addresses_and_a_warning";
    let Some((from, to, err)) = eai_through_postfix(test, false) else {
        return;
    };
    assert_eq!(to, ["Alice <alice@example.org>"]);
    assert!(!from.iter().any(|f| f.contains("jos")), "{from:?}");
    assert!(
        err.contains("warning: left out of the outer header"),
        "{err}"
    );
    assert!(err.contains("From (") && err.contains("To ("), "{err}");
}
