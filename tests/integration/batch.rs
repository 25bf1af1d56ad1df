//! Many copies through one `-bs` run of the real sendmail (pgpsendmail(8), THE REAL
//! SENDMAIL; pgpsendmail.toml(5), `batch_copies`), against the stand-in in `-bs` mode
//! (examples/stand_in_sendmail.rs): one transaction per copy, each copy with only its own
//! keys, a refusal or a run that dies reported per copy, and one run per copy where the
//! session cannot carry what the argv would.

use crate::harness::*;

const MSG: &[u8] = b"To: alice@example.org\nBcc: bob@example.org, carol@example.net\n\
Subject: s\n\nthe body\n.a dot line\n";

fn batched() -> H {
    H::with_keys(DEFAULT_KEYS, "batch_copies = 2\n")
}

#[test]
fn hidden_copies_go_to_one_bs_run_each_with_only_its_own_keys() {
    let h = batched();
    let c = h.ok(&["-i", "-t", "-f", "me@example.org"], MSG);
    assert_eq!(c.len(), 3, "one transaction per copy");
    let pid = h.call_file(1, "pid").unwrap();
    for (n, (copy, name)) in c.iter().zip(["alice", "bob", "carol"]).enumerate() {
        let n = n + 1;
        assert_eq!(copy.args(), ["-bs"], "the argv of a -bs run");
        assert_eq!(
            h.call_file(n, "pid").unwrap(),
            pid,
            "one run for every copy"
        );
        assert_eq!(h.call_file(n, "status").as_deref(), Some("0\n"));
        let smtp = h.call_file(n, "smtp").unwrap();
        assert!(smtp.starts_with("MAIL FROM:<me@example.org>\n"), "{smtp}");
        assert_eq!(h.smtp_rcpts(n), [real_address(name)]);
        let opened = copy.open(name);
        assert_eq!(opened.recipients, key_ids(name)[1..].to_vec(), "{name}");
        let text = String::from_utf8_lossy(&opened.payload).into_owned();
        assert!(
            text.contains("\r\n.a dot line\r\n"),
            "dot line kept: {text}"
        );
    }
}

fn real_address(name: &str) -> &'static str {
    match name {
        "alice" => "alice@example.org",
        "bob" => "bob@example.org",
        _ => "carol@example.net",
    }
}

#[test]
fn a_copy_refused_is_reported_alone_and_the_others_go() {
    // 550 at RCPT for bob's copy: not sent; alice's and carol's are.
    let mut h = batched();
    h.env
        .push(("STAND_IN_REFUSE".into(), "bob@example.org".into()));
    let out = h.run(&["-i", "-t"], MSG);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("2 of 3 copies handed on; not sent to: bob@example.org (status 69, reply 550"),
        "{err}"
    );
    let sent: Vec<Vec<String>> = (1..=2).map(|n| h.smtp_rcpts(n)).collect();
    assert_eq!(sent, [["alice@example.org"], ["carol@example.net"]]);
    assert!(h.call_file(3, "smtp").is_none());

    // 451 after the data of the second transaction: 75 for that copy alone, and after a
    // partial hand-off never 75 for the whole.
    let mut h = batched();
    h.env.push(("STAND_IN_DATA".into(), "451".into()));
    h.env.push(("STAND_IN_ONLY".into(), "2".into()));
    let out = h.run(&["-i", "-t"], MSG);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(
        err.contains("not sent to: bob@example.org (status 75, reply 451"),
        "{err}"
    );
    assert_eq!(h.call_file(1, "status").as_deref(), Some("0\n"));
    assert_eq!(h.call_file(2, "status"), None);
    assert_eq!(h.call_file(3, "status").as_deref(), Some("0\n"));

    // Every copy refused with 451: 75, as one run's 75 would be.
    let mut h = batched();
    h.env.push(("STAND_IN_DATA".into(), "451".into()));
    let out = h.run(&["-i", "-t"], MSG);
    assert_eq!(out.status.code(), Some(75), "{out:?}");
}

#[test]
fn a_run_that_dies_mid_session_hands_on_only_the_copies_it_answered() {
    let mut h = batched();
    h.env.push(("STAND_IN_SIGNAL".into(), "9".into()));
    h.env.push(("STAND_IN_ONLY".into(), "2".into()));
    let out = h.run(&["-i", "-t"], MSG);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(
        err.contains(
            "1 of 3 copies handed on; not sent to: bob@example.org (signal 9); \
             carol@example.net (signal 9)"
        ),
        "{err}"
    );
    assert_eq!(h.call_file(1, "status").as_deref(), Some("0\n"));
    assert_eq!(h.call_file(2, "status"), None, "killed before its 250");
    assert!(h.call_file(3, "smtp").is_none(), "nothing after it");
}

/// PGPSENDMAIL_WAIT_SECONDS bounds each reply of a -bs run: one that does not answer is
/// stopped, and the copies it did not answer are not sent.
#[test]
fn a_run_that_stops_answering_is_stopped_and_its_unanswered_copies_not_sent() {
    let mut h = batched();
    h.env.push(("STAND_IN_HANG".into(), "1".into()));
    h.env.push(("STAND_IN_ONLY".into(), "2".into()));
    h.env.push(("PGPSENDMAIL_WAIT_SECONDS".into(), "2".into()));
    let start = std::time::Instant::now();
    let out = h.run(&["-i", "-t"], MSG);
    assert!(start.elapsed().as_secs() < 60, "not waited for");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(
        err.contains("its -bs session ended: nothing received for 2 s"),
        "{err}"
    );
    assert!(
        err.contains(
            "1 of 3 copies handed on; not sent to: bob@example.org (status 69); \
             carol@example.net (status 69)"
        ),
        "{err}"
    );
    assert_eq!(h.call_file(1, "status").as_deref(), Some("0\n"));
    assert_eq!(h.call_file(2, "status"), None);
}

#[test]
fn one_run_per_copy_below_the_threshold_or_when_smtp_cannot_say_it() {
    // 3 copies under batch_copies = 4: a run each, with the argv of a run of its own.
    let h = H::with_keys(DEFAULT_KEYS, "batch_copies = 4\n");
    let c = h.ok(&["-i", "-t"], MSG);
    assert_eq!(c.len(), 3);
    assert!(c.iter().all(|c| c.args()[0] == "-i"), "{:?}", c[0].argv);
    // DSN options, which the stand-in's session does not offer: a run each, -N kept.
    let h = batched();
    let c = h.ok(&["-i", "-t", "-N", "failure"], MSG);
    assert_eq!(c.len(), 3);
    assert!(
        c.iter().all(|c| c.args().contains(&"-N")),
        "{:?}",
        c[0].argv
    );
    // -F: still in the From pgpsendmail writes, with one run for all.
    let h = batched();
    let c = h.ok(
        &["-i", "-t", "-F", "Cron Daemon"],
        b"To: alice@example.org\nBcc: bob@example.org\n\nx\n",
    );
    assert_eq!(c.len(), 2);
    assert_eq!(c[1].args(), ["-bs"]);
    assert!(
        c[1].text().contains("From: Cron Daemon <"),
        "{}",
        c[1].text()
    );
}

#[test]
fn a_sendmail_that_never_greets_gets_a_run_per_copy_after_the_start_limit() {
    // A "sendmail" that reads its standard input and never speaks SMTP (a sink, a flavor
    // guessed wrong): the -bs session does not start within the limit (here the 2-second
    // wait bound, below the 30-second start limit), and every copy gets a run of its own.
    let mut h = batched();
    let out_dir = h.dir.path().join("sink");
    std::fs::create_dir(&out_dir).unwrap();
    let sink = h.dir.path().join("sink.sh");
    write_script(
        &sink,
        &format!(
            "#!/bin/sh\nf={}/$$\nprintf '%s\\n' \"$@\" > \"$f.argv\"\ncat > \"$f.in\"\n",
            out_dir.display()
        ),
    );
    let cfg = std::fs::read_to_string(&h.config).unwrap();
    let cfg = cfg
        .lines()
        .map(|l| {
            if l.starts_with("sendmail = ") {
                format!("sendmail = \"{}\"", sink.display())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&h.config, cfg + "\n").unwrap();
    h.env.push(("PGPSENDMAIL_WAIT_SECONDS".into(), "2".into()));
    let out = h.run(&["-i", "-t"], MSG);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("its -bs session did not start") && err.contains("one run per copy instead"),
        "{err}"
    );
    let mut runs: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".argv"))
        .map(|n| std::fs::read_to_string(out_dir.join(n)).unwrap())
        .collect();
    runs.sort();
    // The killed -bs run, and one run per copy with its own argv.
    assert_eq!(runs.len(), 4, "{runs:?}");
    assert_eq!(runs.iter().filter(|a| a.as_str() == "-bs\n").count(), 1);
    for r in ["alice@example.org", "bob@example.org", "carol@example.net"] {
        assert!(
            runs.iter()
                .any(|a| a.starts_with("-i\n") && a.ends_with(&format!("--\n{r}\n"))),
            "{r}: {runs:?}"
        );
    }
}

/// The batched harness with `handoff_smtp` naming `addr`, and `extra`.
fn through_listener(addr: &str, extra: &str) -> H {
    H::with_keys(
        DEFAULT_KEYS,
        &format!("batch_copies = 2\nhandoff_smtp = \"{addr}\"\n{extra}"),
    )
}

#[test]
fn handoff_smtp_sends_every_copy_to_the_listener_and_nothing_to_sendmail() {
    let sink = crate::serve::Sink::start();
    let h = through_listener(&sink.addr, "");
    let c = h.ok(&["-i", "-t", "-f", "me@example.org"], MSG);
    assert!(c.is_empty(), "nothing to the real sendmail: {c:?}");
    let got = sink.messages();
    assert_eq!(got.len(), 3, "one transaction per copy");
    for name in ["alice", "bob", "carol"] {
        let m = got
            .iter()
            .find(|m| m.rcpts == [real_address(name)])
            .unwrap_or_else(|| panic!("{name}: {got:?}"));
        assert_eq!(m.sender, "me@example.org");
        let opened = m.capture().open(name);
        assert_eq!(opened.recipients, key_ids(name)[1..].to_vec(), "{name}");
    }
}

#[test]
fn handoff_smtp_qualifies_a_bare_sender_and_recipient_with_qualify_domain() {
    // Without -f the sender is the login name, which the MTA's sendmail would qualify with
    // its own domain; on the way to a listener pgpsendmail does, with qualify_domain.
    // So does a bare recipient (root, its key by an alias).
    let sink = crate::serve::Sink::start();
    let h = through_listener(
        &sink.addr,
        "qualify_domain = \"host.example\"\n\
         [recipients]\n\"root\" = { alias = \"ops@example.org\" }\n",
    );
    h.ok(&["-i", "-t"], MSG);
    let got = sink.messages();
    assert_eq!(got.len(), 3);
    for m in &got {
        let (local, domain) = m.sender.split_once('@').unwrap();
        assert!(!local.is_empty() && !local.contains('@'), "{}", m.sender);
        assert_eq!(domain, "host.example", "{}", m.sender);
    }
    h.ok(&["-i", "root", "bob@example.org"], b"Subject: s\n\nx\n");
    let got = sink.messages();
    assert_eq!(got.len(), 5);
    let root = got[3..]
        .iter()
        .find(|m| m.rcpts == ["root@host.example"])
        .unwrap_or_else(|| panic!("{:?}", &got[3..]));
    assert_eq!(
        root.capture().open("ops").recipients,
        key_ids("ops")[1..].to_vec()
    );
}

#[test]
fn handoff_smtp_down_falls_back_to_sendmail_bs() {
    // Nothing listens there: one line says so, and the copies go to `sendmail -bs`.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let h = through_listener(&format!("127.0.0.1:{port}"), "");
    let out = h.run(&["-i", "-t"], MSG);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("its listener 127.0.0.1:{port}: "))
            && err.ends_with("; sendmail -bs instead\n"),
        "{err}"
    );
    let c = h.captures();
    assert_eq!(c.len(), 3);
    assert!(c.iter().all(|c| c.args() == ["-bs"]), "{c:?}");
}
