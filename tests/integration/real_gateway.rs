//! `pgpsendmail serve` against real Postfix (pgpsendmail(8), SERVE): the man page's
//! recipes, before the queue (`smtpd_proxy_filter`), after it (`content_filter`) and with
//! pipe(8), run as the page prints them ([`recipe`] reads them from man/pgpsendmail.8 and
//! changes only ports, the chroot column, the user and the binary's path); two relays
//! ("More than one relay"); mail that loops back; and the gateway's reliability: killed
//! inside DATA, the next hop down, 1,000 connections at once, slow and malformed clients.
//!
//! Every Postfix listens on 127.0.0.1 only, on ports from [`free_port`]; every instance and
//! gateway is stopped when its guard is dropped. The queue and the Maildirs are grepped
//! for the plaintext marker as in real_mta.rs.

use std::io::BufReader;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use pgpsendmail::smtp::Timed;
use pgpsendmail::smtp::client::{Client, Outcome};

use crate::harness::{Capture, H, ROOT, contains};
use crate::real::{Options, Postfix, check_mailboxes, free_port, man_block, marker, pgpsendmail};
use crate::serve::{Gateway, Raw, Sink, message, peak_kib};

/// The text of section `.SS title` of man/pgpsendmail.8 up to the next section, as text.
fn man_section(title: &str) -> String {
    let man = std::fs::read_to_string(format!("{ROOT}/man/pgpsendmail.8")).unwrap();
    let start = man.find(&format!(".SS {title}\n")).unwrap();
    let rest = &man[start + 4..];
    let end = rest.find("\n.S").unwrap_or(rest.len());
    rest[..end]
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fR", "")
}

/// The master.cf lines of the man page's section `title`, for a private instance: each
/// `(from, to)` of `subst` replaced, the `smtp inet` service on 127.0.0.1:`edge`, and every
/// service out of the chroot (the private queue is no chroot jail). Nothing else changes.
fn recipe(title: &str, edge: Option<u16>, subst: &[(&str, String)]) -> String {
    let mut out = String::new();
    for line in man_block(title).lines() {
        let mut line = line.to_string();
        for (from, to) in subst {
            line = line.replace(from, to);
        }
        if !line.starts_with(char::is_whitespace) {
            let mut f: Vec<String> = line.split_whitespace().map(String::from).collect();
            if let (Some(p), true) = (edge, f[0] == "smtp" && f[1] == "inet") {
                f[0] = format!("127.0.0.1:{p}");
            }
            f[4] = "n".into();
            line = f.join(" ");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A session with 127.0.0.1:`port`, greeted.
fn client(port: u16) -> Client<BufReader<Timed<TcpStream>>, TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let w = s.try_clone().unwrap();
    Client::start(BufReader::new(Timed::new(s)), w, "client.test").unwrap()
}

/// One message from alice over SMTP to 127.0.0.1:`port`.
fn submit(port: u16, rcpts: &[&str], msg: &[u8]) -> Outcome {
    let mut c = client(port);
    let out = c.send("alice@example.org", rcpts, &mut &msg[..]).unwrap();
    let _ = c.quit();
    out
}

/// Waits until `port` on 127.0.0.1 takes connections.
fn wait_port(pf: &Postfix, port: u16) {
    pf.wait(&format!("127.0.0.1:{port} to listen"), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// The plaintext marker is nowhere in `pf`'s queue or Maildirs.
fn no_plaintext(pf: &Postfix, marker: &str) {
    let hits = pf.grep(marker.as_bytes());
    assert!(hits.is_empty(), "plaintext at rest: {hits:?}");
}

/// An edge Postfix set up as pgpsendmail(8) "Postfix before the queue" says, with `opt`
/// more, and its gateway; `None` (a loud skip) without Postfix.
struct BeforeQueue {
    pf: Postfix,
    gw: Option<Gateway>,
    /// The edge smtpd, the filter, the reinjection smtpd.
    edge: u16,
    filter: u16,
    reinject: u16,
}

impl BeforeQueue {
    fn start(test: &str, h: &H, mut opt: Options) -> Option<BeforeQueue> {
        let (edge, filter, reinject) = (free_port(), free_port(), free_port());
        let master = recipe(
            "Postfix before the queue",
            Some(edge),
            &[
                ("127.0.0.1:10025", format!("127.0.0.1:{filter}")),
                ("127.0.0.1:10026", format!("127.0.0.1:{reinject}")),
            ],
        );
        opt.master_cf = master + &opt.master_cf;
        let pf = Postfix::start(test, opt)?;
        wait_port(&pf, edge);
        wait_port(&pf, reinject);
        let mut bq = BeforeQueue {
            pf,
            gw: None,
            edge,
            filter,
            reinject,
        };
        bq.start_gateway(h);
        Some(bq)
    }

    /// `pgpsendmail serve --listen 127.0.0.1:FILTER --relay 127.0.0.1:REINJECT`.
    fn start_gateway(&mut self, h: &H) {
        let relay = format!("127.0.0.1:{}", self.reinject);
        self.gw = Some(Gateway::start_tcp(h, &relay, self.filter, &[]));
    }
}

/// Harness keys without dave's: dave has a mailbox at the private Postfix and no key.
fn without_dave() -> H {
    H::with_keys(&["alice", "bob", "carol", "ops", "gateway"], "")
}

#[test]
fn before_queue_mail_arrives_encrypted_the_queue_never_holds_plaintext_and_keyless_is_550() {
    let test = "before_queue";
    let h = without_dave();
    let opt = Options {
        hold: true,
        ..Options::default()
    };
    let Some(bq) = BeforeQueue::start(test, &h, opt) else {
        return;
    };
    let marker = marker("beforequeue");
    let out = submit(
        bq.edge,
        &["bob@example.org", "carol@example.net", "dave@example.net"],
        &message(&marker),
    );
    let Outcome::Accepted { taken, refused } = out else {
        panic!("{out:?}\n{}", bq.pf.maillog())
    };
    assert_eq!(taken, [0, 1]);
    // dave's refusal reaches the client through Postfix, at RCPT, with its reason.
    let (i, r) = &refused[0];
    assert_eq!((*i, r.code), (2, 550), "{r:?}");
    assert!(r.text().contains("5.7.1"), "{r:?}");
    assert!(r.text().contains("dave@example.net"), "{r:?}");
    assert!(!r.text().contains(&marker), "{r:?}");
    // Held in the queue: what Postfix stored is ciphertext only.
    bq.pf.wait_held(2);
    assert!(bq.pf.queue_files() >= 2);
    no_plaintext(&bq.pf, &marker);
    bq.pf.release();
    check_mailboxes(&bq.pf, &["bob"], &["carol"], &marker, "the plan");
    no_plaintext(&bq.pf, &marker);
}

#[test]
fn before_queue_mail_that_comes_back_encrypted_is_relayed_as_it_is() {
    let h = H::new();
    let Some(bq) = BeforeQueue::start("before_queue_loop", &h, Options::default()) else {
        return;
    };
    let marker = marker("bqloop");
    let out = submit(bq.edge, &["bob@example.org"], &message(&marker));
    assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    bq.pf.wait_delivered(&[("bob", 1)]);
    let first = bq.pf.mailbox("bob").remove(0);
    // As a forwarder sends it back: without the fields that local delivery added.
    let again: Vec<u8> = String::from_utf8(first.stdin.clone())
        .unwrap()
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("Return-Path:") && !l.starts_with("Delivered-To:"))
        .collect::<String>()
        .into_bytes();
    let out = submit(bq.edge, &["bob@example.org"], &again);
    assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    bq.pf.wait_delivered(&[("bob", 2)]);
    let second = bq.pf.mailbox("bob").remove(1);
    let body = |c: &Capture| {
        let t = c.text();
        t[t.find("\n\n").unwrap()..].to_string()
    };
    assert_eq!(body(&first), body(&second), "encrypted again, or changed");
    let payload = String::from_utf8_lossy(&second.open("bob").payload).to_string();
    assert!(payload.contains(&marker), "{payload}");
    no_plaintext(&bq.pf, &marker);
}

/// A message whose last line says it is whole.
fn whole(marker: &str, n: usize) -> Vec<u8> {
    let filler = "a line of the report that makes the message long enough\r\n".repeat(2000);
    format!(
        "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: part {n}\r\n\r\n\
         {marker}\r\n{filler}END {n} {marker}\r\n"
    )
    .into_bytes()
}

#[test]
fn gateway_killed_inside_data_and_restarted_every_message_arrives_once_whole_and_encrypted() {
    let h = H::new();
    // Postfix tells its postmaster of the filter's death (notify_classes); this instance
    // has no postmaster mailbox, and the notice is not what is counted here.
    let opt = Options {
        main_cf: "notify_classes =\n".into(),
        ..Options::default()
    };
    let Some(mut bq) = BeforeQueue::start("killed_inside_data", &h, opt) else {
        return;
    };
    let marker = marker("bqkilled");
    let out = submit(bq.edge, &["bob@example.org"], &whole(&marker, 1));
    assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    bq.pf.wait_delivered(&[("bob", 1)]);
    // The second message is half sent when the gateway dies.
    let msg = String::from_utf8(whole(&marker, 2)).unwrap();
    let mut s = Raw::connect_tcp(bq.edge, Duration::from_secs(60));
    assert!(s.reply().starts_with("220 "));
    assert!(s.cmd("EHLO client.test").starts_with("250"));
    assert!(s.cmd("MAIL FROM:<alice@example.org>").starts_with("250 "));
    assert!(s.cmd("RCPT TO:<bob@example.org>").starts_with("250 "));
    assert!(s.cmd("DATA").starts_with("354 "));
    s.send(&msg[..msg.len() / 2]);
    // Let Postfix pass the first half on before the gateway dies.
    std::thread::sleep(Duration::from_millis(300));
    bq.gw.take().unwrap().kill();
    s.send(&msg[msg.len() / 2..]);
    let r = s.cmd(".");
    assert!(r.starts_with('4'), "the cut message was answered {r}");
    eprintln!("the message cut by the gateway's death was answered {r}");
    // While the gateway is down, Postfix takes nothing: 4xx, nothing queued.
    match submit(bq.edge, &["bob@example.org"], &whole(&marker, 2)) {
        Outcome::Refused(r) => assert!(r.is_transient(), "{r:?}"),
        out => panic!("taken without a gateway: {out:?}"),
    }
    assert!(bq.pf.queue_lines().is_empty(), "{:?}", bq.pf.queue_lines());
    // The client tries again once the gateway is back, as an MTA does after a 4xx.
    bq.start_gateway(&h);
    for n in [2, 3] {
        let out = submit(bq.edge, &["bob@example.org"], &whole(&marker, n));
        assert!(matches!(out, Outcome::Accepted { .. }), "{n}: {out:?}");
    }
    bq.pf.wait_delivered(&[("bob", 3)]);
    let mut seen = Vec::new();
    for copy in bq.pf.mailbox("bob") {
        let payload = String::from_utf8_lossy(&copy.open("bob").payload).to_string();
        let n = (1..=3)
            .find(|n| payload.contains(&format!("END {n} {marker}")))
            .unwrap_or_else(|| panic!("a truncated message:\n{payload}"));
        seen.push(n);
    }
    seen.sort();
    assert_eq!(seen, [1, 2, 3], "not each message once");
    no_plaintext(&bq.pf, &marker);
}

/// A Postfix set up as pgpsendmail(8) "Postfix after the queue" says (its main.cf line and
/// master.cf lines as printed), with the gateway of `h` as its content filter.
fn after_queue(test: &str, h: &H) -> Option<(Postfix, Gateway)> {
    let (filter, reinject) = (free_port(), free_port());
    let section = man_section("Postfix after the queue");
    let line = "content_filter = pgpsendmail:[127.0.0.1]:10025";
    assert!(section.contains(line), "{section}");
    let opt = Options {
        smtp: true,
        main_cf: line.replace("10025", &filter.to_string()) + "\n",
        master_cf: recipe(
            "Postfix after the queue",
            None,
            &[("127.0.0.1:10026", format!("127.0.0.1:{reinject}"))],
        ),
        ..Options::default()
    };
    let pf = Postfix::start(test, opt)?;
    wait_port(&pf, reinject);
    let gw = Gateway::start_tcp(h, &format!("127.0.0.1:{reinject}"), filter, &[]);
    Some((pf, gw))
}

#[test]
fn after_queue_content_filter_mail_arrives_encrypted() {
    let test = "after_queue";
    let h = H::new();
    let Some((pf, _gw)) = after_queue(test, &h) else {
        return;
    };
    let marker = marker("afterqueue");
    let out = submit(
        pf.port.unwrap(),
        &["bob@example.org", "carol@example.net"],
        &message(&marker),
    );
    assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    check_mailboxes(&pf, &["bob"], &["carol"], &marker, "the plan");
    no_plaintext(&pf, &marker);
}

#[test]
/// pgpsendmail(8) "Postfix after the queue": the refusal at RCPT becomes Postfix's bounce to
/// the sender, with the reason; that bounce is Postfix's own mail, which content_filter
/// does not take, so it returns the message as queued, in clear (as the page says).
fn after_queue_a_recipient_without_a_key_bounces_to_the_sender_with_the_reason() {
    let test = "after_queue_bounce";
    let h = without_dave();
    let Some((pf, _gw)) = after_queue(test, &h) else {
        return;
    };
    let marker = marker("aqbounce");
    let out = submit(
        pf.port.unwrap(),
        &["bob@example.org", "dave@example.net"],
        &message(&marker),
    );
    assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    pf.wait("bob's copy and alice's bounce", || {
        pf.queue_lines().is_empty()
            && pf.mailbox("bob").len() == 1
            && pf.mailbox("alice").len() == 1
    });
    assert!(
        pf.maillog().contains("to=<dave@example.net>"),
        "{}",
        pf.maillog()
    );
    assert!(pf.mailbox("dave").is_empty());
    let bounce = pf.mailbox("alice")[0].text();
    assert!(
        bounce.contains("<dave@example.net>: host 127.0.0.1[127.0.0.1] said: 550 5.7.1"),
        "{bounce}"
    );
    assert!(bounce.contains("no certificate"), "{bounce}");
    assert!(
        contains(bounce.as_bytes(), marker.as_bytes()),
        "the bounce no longer returns the message: update the man page"
    );
    // bob's copy went through the filter as usual.
    let copy = &pf.mailbox("bob")[0];
    assert!(!contains(&copy.stdin, marker.as_bytes()));
    assert!(String::from_utf8_lossy(&copy.open("bob").payload).contains(&marker));
}

#[test]
fn pipe_transport_runs_the_sendmail_face_and_its_copies_do_not_loop() {
    let test = "pipe_transport";
    // The pipe runs as nobody: the binary, the keys and the configuration where it can
    // read them (the harness's directory is 0755), without a cache directory (nobody's
    // own is private to it).
    let h = H::new();
    let bin = h.dir.path().join("pgpsendmail");
    std::fs::copy(pgpsendmail(), &bin).unwrap();
    let port = free_port();
    let master = recipe(
        "Postfix with pipe(8)",
        Some(port),
        &[
            ("user=pgpsendmail", "user=nobody".to_string()),
            ("/usr/sbin/pgpsendmail", bin.display().to_string()),
        ],
    );
    // What pipe(8) hands on is the environment main.cf exports (Postfix's defaults, and
    // where the configuration is).
    let main = format!(
        "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE \
         POSTLOG_HOSTNAME PGPSENDMAIL_CONFIG={}\n\
         export_environment = TZ MAIL_CONFIG LANG PGPSENDMAIL_CONFIG\n",
        h.config.display()
    );
    let opt = Options {
        main_cf: main,
        master_cf: master,
        own_etc: true,
        ..Options::default()
    };
    let Some(pf) = Postfix::start(test, opt) else {
        return;
    };
    std::fs::write(
        &h.config,
        format!(
            "sendmail = \"{}\"\nflavor = \"postfix\"\nkeyring = [\"{}\"]\n",
            crate::real::postfix_sendmail(),
            h.keys.display()
        ),
    )
    .unwrap();
    wait_port(&pf, port);
    let marker = marker("pipe");
    let out = submit(
        port,
        &["bob@example.org", "carol@example.net"],
        &message(&marker),
    );
    assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    check_mailboxes(&pf, &["bob"], &["carol"], &marker, "the plan");
    no_plaintext(&pf, &marker);
}

/// An edge relay (before-queue gateway) whose queue delivers to a final Postfix on
/// 127.0.0.1, retrying within a second or two; and that final Postfix.
fn two_relays(test: &str, h: &H) -> Option<(BeforeQueue, Postfix)> {
    let last = Postfix::start(
        &format!("{test} (final)"),
        Options {
            smtp: true,
            ..Options::default()
        },
    )?;
    let next = format!("smtp:[127.0.0.1]:{}", last.port.unwrap());
    let opt = Options {
        main_cf: format!(
            "virtual_mailbox_domains =\n\
             relay_domains = example.org example.net example.com\n\
             relay_transport = {next}\n\
             default_transport = {next}\n\
             queue_run_delay = 1s\n\
             minimal_backoff_time = 1s\n\
             maximal_backoff_time = 2s\n\
             smtp_connect_timeout = 2s\n"
        ),
        master_cf: "smtp      unix  -       -       n       -       -       smtp\n".into(),
        ..Options::default()
    };
    let edge = BeforeQueue::start(&format!("{test} (edge)"), h, opt)?;
    Some((edge, last))
}

#[test]
fn two_relays_the_edge_encrypts_and_the_final_one_delivers_ciphertext() {
    let h = H::new();
    let Some((edge, last)) = two_relays("two_relays", &h) else {
        return;
    };
    let marker = marker("tworelays");
    let out = submit(
        edge.edge,
        &["bob@example.org", "carol@example.net"],
        &message(&marker),
    );
    assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    check_mailboxes(&last, &["bob"], &["carol"], &marker, "the plan");
    assert!(edge.pf.queue_lines().is_empty());
    no_plaintext(&edge.pf, &marker);
    no_plaintext(&last, &marker);
}

#[test]
fn the_next_hop_down_mail_waits_encrypted_in_the_queue_and_arrives_after() {
    let h = H::new();
    let Some((edge, last)) = two_relays("next_hop_down", &h) else {
        return;
    };
    last.stop();
    let marker = marker("hopdown");
    for n in 1..=3 {
        let out = submit(edge.edge, &["bob@example.org"], &whole(&marker, n));
        assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    }
    // Down long enough for several of the edge's tries (a second or two apart) to fail:
    // what a minute's outage does, without waiting a minute.
    edge.pf.wait("three failed tries", || {
        edge.pf.maillog().matches("status=deferred").count() >= 9
    });
    assert_eq!(edge.pf.queue_lines().len(), 3);
    no_plaintext(&edge.pf, &marker);
    last.restart();
    last.wait_delivered(&[("bob", 3)]);
    edge.pf.wait("the edge's queue to empty", || {
        edge.pf.queue_lines().is_empty()
    });
    for copy in last.mailbox("bob") {
        let payload = String::from_utf8_lossy(&copy.open("bob").payload).to_string();
        assert!(payload.contains("END "), "truncated:\n{payload}");
    }
    no_plaintext(&edge.pf, &marker);
    no_plaintext(&last, &marker);
}

#[test]
fn a_thousand_connections_at_once_bounded_memory_no_crash_the_rest_get_421() {
    let h = H::new();
    let sink = Sink::start();
    let port = free_port();
    let mut gw = Gateway::start_tcp(&h, &sink.addr, port, &["--max-sessions", "20"]);
    // The probe of `start` holds a seat until its session sees it close.
    std::thread::sleep(Duration::from_millis(300));
    let conns: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let (mut served, mut busy) = (0, 0);
    for c in &conns {
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut BufReader::new(c), &mut line).unwrap();
        if line.starts_with("220 ") {
            served += 1;
        } else {
            assert!(line.starts_with("421 4.3.2 "), "{line:?}");
            busy += 1;
        }
    }
    assert!(served <= 20 && served > 0, "{served} served");
    assert_eq!(served + busy, 1000);
    assert!(gw.child.try_wait().unwrap().is_none(), "serve ended");
    let peak = peak_kib(gw.child.id());
    eprintln!("serve peak with 1,000 connections: {} MiB", peak >> 10);
    assert!(peak < 64 << 10, "peak {} MiB", peak >> 10);
    drop(conns);
    // Still serving (once the sessions above saw their ends): a message goes through.
    let start = Instant::now();
    let out = loop {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let w = s.try_clone().unwrap();
        if let Ok(mut c) = Client::start(BufReader::new(Timed::new(s)), w, "client.test") {
            let msg = b"From: alice@example.org\r\n\r\nx\r\n";
            break c
                .send("alice@example.org", &["bob@example.org"], &mut &msg[..])
                .unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no seat again");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    assert_eq!(sink.messages().len(), 1);
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_slow_client_times_out_with_421_and_nothing_is_relayed() {
    let h = H::new();
    h.write_config("[serve]\ncommand_timeout = 1\ndata_timeout = 1\n");
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &[]);
    let mut idle = Raw::connect(&gw.sock);
    assert!(idle.reply().starts_with("220 "));
    let started = Instant::now();
    let r = idle.reply();
    assert!(r.starts_with("421 4.4.2 "), "{r}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut s = Raw::connect(&gw.sock);
    assert!(s.reply().starts_with("220 "));
    assert!(s.cmd("EHLO client.test").starts_with("250"));
    assert!(s.cmd("MAIL FROM:<alice@example.org>").starts_with("250 "));
    assert!(s.cmd("RCPT TO:<bob@example.org>").starts_with("250 "));
    assert!(s.cmd("DATA").starts_with("354 "));
    s.send("From: alice@example.org\r\nTo: bob@example.org\r\n\r\nhalf a mess");
    let r = s.reply();
    assert!(r.starts_with("421 4.4.2 "), "{r}");
    assert!(sink.messages().is_empty());
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn malformed_and_oversized_commands_get_5xx_and_the_session_goes_on() {
    let h = H::new();
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &[]);
    let mut s = Raw::connect(&gw.sock);
    assert!(s.reply().starts_with("220 "));
    assert!(s.cmd("EHLO client.test").starts_with("250"));
    for bad in [
        "FROB everything".to_string(),
        "MAIL FROM:<alice@example.org".to_string(),
        "RCPT TO:<bob@example.org>".to_string(),
        format!("NOOP {}", "x".repeat(5000)),
        "MAIL FROM:<alice@example.org> SIZE=lots".to_string(),
    ] {
        let r = s.cmd(&bad);
        assert!(r.starts_with('5'), "{}: {r}", &bad[..bad.len().min(40)]);
        assert!(s.cmd("NOOP").starts_with("250 "), "after {bad:.40}");
    }
    // Still a working session.
    assert!(s.cmd("MAIL FROM:<alice@example.org>").starts_with("250 "));
    assert!(s.cmd("RCPT TO:<bob@example.org>").starts_with("250 "));
    assert!(s.cmd("DATA").starts_with("354 "));
    let r = s.cmd("From: a@example.org\r\n\r\nx\r\n.");
    assert!(r.starts_with("250 "), "{r}");
    assert!(s.cmd("QUIT").starts_with("221 "));
    assert_eq!(sink.messages().len(), 1);
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}
