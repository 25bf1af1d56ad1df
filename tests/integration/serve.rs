//! `pgpsendmail serve` (pgpsendmail(8), SERVE): the gateway against a next hop the test
//! runs (a sink built on the crate's own SMTP server), on loopback and unix sockets only.
//! Every gateway started here is stopped by the test (SIGTERM), or killed when its guard
//! is dropped; every sink stops when dropped.

use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgpsendmail::smtp::client::{Client, Outcome};
use pgpsendmail::smtp::server::{self, Handler, Limits, Transaction};
use pgpsendmail::smtp::{Reply, Timed};

use crate::harness::{Capture, H, contains};

/// One message the sink took.
#[derive(Debug, Clone)]
pub struct Got {
    pub sender: String,
    pub rcpts: Vec<String>,
    pub data: Vec<u8>,
}

impl Got {
    /// As the harness opens what a real sendmail got.
    pub fn capture(&self) -> Capture {
        Capture {
            argv: Vec::new(),
            stdin: self.data.clone(),
        }
    }
}

/// The next hop: takes every transaction and records it, answering the end of the data
/// with `reply` (250 unless a test says otherwise). Stops when dropped.
pub struct Sink {
    pub addr: String,
    pub got: Arc<Mutex<Vec<Got>>>,
    pub reply: Arc<Mutex<Reply>>,
    stop: Arc<AtomicBool>,
}

struct Record {
    got: Arc<Mutex<Vec<Got>>>,
    reply: Arc<Mutex<Reply>>,
}

impl Handler for Record {
    fn hostname(&self) -> String {
        "sink.test".into()
    }

    fn message(&mut self, tx: Transaction, data: &mut dyn Read) -> Reply {
        let mut bytes = Vec::new();
        if data.read_to_end(&mut bytes).is_err() {
            return Reply::new(451, "cut");
        }
        let reply = self.reply.lock().unwrap().clone();
        if reply.code == 250 {
            self.got.lock().unwrap().push(Got {
                sender: tx
                    .sender
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
                rcpts: tx.rcpts.iter().map(|m| m.as_str().to_string()).collect(),
                data: bytes,
            });
        }
        reply
    }
}

impl Sink {
    pub fn start() -> Sink {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let got = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(Mutex::new(Reply::new(250, "2.0.0 Ok: queued as SINK")));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, r, s) = (Arc::clone(&got), Arc::clone(&reply), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((c, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                c.set_nonblocking(false).unwrap();
                let mut rec = Record {
                    got: Arc::clone(&g),
                    reply: Arc::clone(&r),
                };
                std::thread::spawn(move || {
                    let mut out = c.try_clone().unwrap();
                    let mut input = BufReader::new(Timed::new(c));
                    let _ = server::serve(&mut input, &mut out, &mut rec, &Limits::default());
                });
            }
        });
        Sink {
            addr,
            got,
            reply,
            stop,
        }
    }

    pub fn messages(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A running `pgpsendmail serve`, listening on a unix socket in the test's directory (or on
/// a 127.0.0.1 port, [`Gateway::start_tcp`]); killed when dropped if the test did not stop
/// it.
pub struct Gateway {
    pub child: Child,
    pub sock: PathBuf,
    /// The 127.0.0.1 port it listens on, when not the socket.
    pub port: Option<u16>,
}

impl Gateway {
    /// Starts `serve` for `h` relaying to `relay`, with `args` more, and waits until it
    /// listens.
    pub fn start(h: &H, relay: &str, args: &[&str]) -> Gateway {
        let sock = h.dir.path().join("serve.sock");
        let listen = format!("unix:{}", sock.display());
        Self::spawn(h, relay, &listen, args, sock, None)
    }

    /// [`Gateway::start`] listening on 127.0.0.1:`port`, as Postfix's filter.
    pub fn start_tcp(h: &H, relay: &str, port: u16, args: &[&str]) -> Gateway {
        let listen = format!("127.0.0.1:{port}");
        let sock = h.dir.path().join("serve.sock");
        Self::spawn(h, relay, &listen, args, sock, Some(port))
    }

    fn spawn(
        h: &H,
        relay: &str,
        listen: &str,
        args: &[&str],
        sock: PathBuf,
        port: Option<u16>,
    ) -> Gateway {
        let child = h
            .spawn_cmd()
            .args(["serve", "--relay", relay, "--listen", listen])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut g = Gateway { child, sock, port };
        g.wait_listening();
        // The probe's session ends at once (end of input between commands).
        g
    }

    fn listening(&self) -> bool {
        match self.port {
            Some(p) => std::net::TcpStream::connect(("127.0.0.1", p)).is_ok(),
            None => UnixStream::connect(&self.sock).is_ok(),
        }
    }

    fn wait_listening(&mut self) {
        let start = Instant::now();
        while !self.listening() {
            if let Some(st) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("serve ended ({st}): {err}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "serve never listened"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Killed with SIGKILL, and reaped.
    pub fn kill(mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// A client session, greeted.
    pub fn client(&self) -> Client<BufReader<Timed<UnixStream>>, UnixStream> {
        let s = UnixStream::connect(&self.sock).unwrap();
        let w = s.try_clone().unwrap();
        Client::start(BufReader::new(Timed::new(s)), w, "client.test").unwrap()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: a signal to our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// SIGTERM, and the exit status with standard error.
    pub fn stop(mut self) -> (i32, String) {
        self.signal(libc::SIGTERM);
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
                return (st.code().unwrap_or(-1), err);
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "serve did not stop"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message from alice to bob (visible) with carol in Bcc, holding `marker`.
pub fn message(marker: &str) -> Vec<u8> {
    format!(
        "From: alice@example.org\r\nTo: bob@example.org\r\nBcc: carol@example.net\r\n\
         Subject: the plan {marker}\r\nMessage-ID: <m.{}@example.org>\r\n\r\n\
         The secret {marker}\r\n.starts with a dot\r\n",
        std::process::id()
    )
    .into_bytes()
}

#[test]
fn each_copy_is_its_own_transaction_and_250_comes_after_the_next_hop_took_all() {
    let h = H::new();
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &[]);
    let marker = crate::real::marker("servecopies");
    let mut c = gw.client();
    let out = c
        .send(
            "alice@example.org",
            &["bob@example.org", "carol@example.net"],
            &mut &message(&marker)[..],
        )
        .unwrap();
    assert_eq!(
        out,
        Outcome::Accepted {
            taken: vec![0, 1],
            refused: vec![]
        }
    );
    let got = sink.messages();
    assert_eq!(got.len(), 2, "{got:?}");
    let by = |r: &str| got.iter().find(|g| g.rcpts == [r]).expect(r).clone();
    let (bob, carol) = (by("bob@example.org"), by("carol@example.net"));
    for (g, who) in [(&bob, "bob"), (&carol, "carol")] {
        assert_eq!(g.sender, "alice@example.org");
        assert!(!contains(&g.data, marker.as_bytes()), "plaintext relayed");
        let payload = String::from_utf8_lossy(&g.capture().open(who).payload).to_string();
        assert!(
            payload.contains(&format!("The secret {marker}")),
            "{payload}"
        );
        // Dot-stuffing undone once by the sink, as by any SMTP server.
        assert!(payload.contains("\n.starts with a dot"), "{payload}");
    }
    // The hidden recipient's copy is not readable by the visible one, and no copy says Bcc.
    assert!(carol.capture().try_open("bob").is_err());
    assert!(!contains(&bob.data, b"carol@"), "the Bcc recipient shows");
    c.quit().unwrap();
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}

/// A session typed by hand: each line sent, each reply read.
pub struct Raw {
    r: BufReader<Box<dyn Read + Send>>,
    w: Box<dyn std::io::Write + Send>,
}

impl Raw {
    pub fn connect(sock: &Path) -> Raw {
        let s = UnixStream::connect(sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Raw {
            w: Box::new(s.try_clone().unwrap()),
            r: BufReader::new(Box::new(s) as Box<dyn Read + Send>),
        }
    }

    /// A session with 127.0.0.1:`port` (its replies waited for at most `wait`).
    pub fn connect_tcp(port: u16, wait: Duration) -> Raw {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(wait)).unwrap();
        Raw {
            w: Box::new(s.try_clone().unwrap()),
            r: BufReader::new(Box::new(s) as Box<dyn Read + Send>),
        }
    }

    /// The next reply, all its lines.
    pub fn reply(&mut self) -> String {
        match Reply::read_from(&mut self.r) {
            Ok(r) => format!("{} {}", r.code, r.text()),
            Err(e) => format!("error: {e}"),
        }
    }

    /// Sends `text`; a server that has closed already (after an unasked 421) is not an
    /// error here: its reply says so.
    pub fn send(&mut self, text: &str) {
        let _ = self.w.write_all(text.as_bytes());
    }

    /// `line` CRLF, and the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n"));
        self.reply()
    }

    /// Greeting, EHLO, MAIL, RCPT `to`, DATA: ready for the message.
    fn to_data(sock: &Path, to: &str) -> Raw {
        let mut s = Raw::connect(sock);
        assert!(s.reply().starts_with("220 "));
        assert!(s.cmd("EHLO client.test").starts_with("250 "));
        assert!(s.cmd("MAIL FROM:<alice@example.org>").starts_with("250 "));
        assert!(s.cmd(&format!("RCPT TO:<{to}>")).starts_with("250 "));
        assert!(s.cmd("DATA").starts_with("354 "));
        s
    }
}

#[test]
fn a_recipient_the_policy_refuses_is_refused_at_rcpt_with_its_reason() {
    let h = H::new();
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &[]);
    let marker = crate::real::marker("serverefused");
    let mut c = gw.client();
    let out = c
        .send(
            "alice@example.org",
            &["bob@example.org", "nokey@example.com"],
            &mut &message(&marker)[..],
        )
        .unwrap();
    let Outcome::Accepted { taken, refused } = out else {
        panic!("{out:?}")
    };
    assert_eq!(taken, [0]);
    assert_eq!(refused.len(), 1);
    let r = &refused[0].1;
    assert_eq!(r.code, 550, "{r:?}");
    assert!(r.text().contains("nokey@example.com"), "{r:?}");
    assert!(!r.text().contains(&marker));
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpts, ["bob@example.org"]);
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn the_next_hop_down_or_refusing_is_the_clients_answer_and_nothing_is_taken() {
    let h = H::new();
    // Nobody listens there.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let gw = Gateway::start(&h, &down, &[]);
    let mut c = gw.client();
    let out = c
        .send(
            "alice@example.org",
            &["bob@example.org"],
            &mut &message("x")[..],
        )
        .unwrap();
    let Outcome::Refused(r) = out else {
        panic!("{out:?}")
    };
    assert_eq!(r.code, 451, "{r:?}");
    assert!(r.text().starts_with("4.4.1 next hop"), "{r:?}");
    drop(gw);

    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &[]);
    for (said, want) in [(452, 451), (554, 554)] {
        *sink.reply.lock().unwrap() = Reply::new(said, "no thanks");
        let mut c = gw.client();
        let out = c
            .send(
                "alice@example.org",
                &["bob@example.org", "carol@example.net"],
                &mut &message("y")[..],
            )
            .unwrap();
        let Outcome::Refused(r) = out else {
            panic!("{out:?}")
        };
        assert_eq!(r.code, want, "{r:?}");
        assert!(r.text().contains(&format!("{said} no thanks")), "{r:?}");
    }
    assert!(sink.messages().is_empty());
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn serve_refuses_to_listen_beyond_loopback() {
    let h = H::new();
    for bad in [
        "0.0.0.0:10025",
        "192.0.2.1:25",
        "[::]:25",
        "localhost:25",
        "unix:rel",
    ] {
        let out = h.run(&["serve", "--listen", bad], b"");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(78), "{bad}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("pgpsendmail: serve: --listen: "), "{err}");
    }
    h.write_config("[serve]\nlisten = [\"0.0.0.0:10025\"]\n");
    let out = h.run(&["serve"], b"");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("listen: '0.0.0.0:10025' is not a loopback address"),
        "{err}"
    );
}

#[test]
fn beyond_max_sessions_a_connection_gets_421_4_3_2() {
    let h = H::new();
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &["--max-sessions", "2"]);
    // The probe of `start` held a seat until its session saw it close.
    std::thread::sleep(Duration::from_millis(300));
    let mut a = Raw::connect(&gw.sock);
    let mut b = Raw::connect(&gw.sock);
    assert!(a.reply().starts_with("220 "));
    assert!(b.reply().starts_with("220 "));
    let mut c = Raw::connect(&gw.sock);
    assert!(
        c.reply().starts_with("421 4.3.2 "),
        "the third session was served"
    );
    // A seat given back is taken again.
    assert!(a.cmd("QUIT").starts_with("221 "));
    let start = Instant::now();
    loop {
        let mut d = Raw::connect(&gw.sock);
        if d.reply().starts_with("220 ") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the seat was not given back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(b);
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}

/// pgpsendmail(8), SERVE: a session gives its place back before its last reply, so a
/// client (Postfix's smtpd, reusing its process) that connects again the moment it has read
/// 221 is served, never refused for a session that has already ended.
#[test]
fn a_seat_is_given_back_before_the_221_so_the_next_connection_is_served() {
    let h = H::new();
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &["--max-sessions", "1"]);
    // The probe of `start` held the seat until its session saw it close.
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..100 {
        let mut c = Raw::connect(&gw.sock);
        let greeting = c.reply();
        assert!(greeting.starts_with("220 "), "connection {i}: {greeting}");
        assert!(c.cmd("QUIT").starts_with("221 "));
    }
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn sigterm_refuses_idle_sessions_with_421_and_finishes_a_message_in_flight() {
    let h = H::new();
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &[]);
    let mut idle = Raw::connect(&gw.sock);
    assert!(idle.reply().starts_with("220 "));
    assert!(idle.cmd("EHLO client.test").starts_with("250 "));
    let marker = crate::real::marker("serveterm");
    let msg = String::from_utf8(message(&marker)).unwrap();
    let (first, second) = msg.split_at(msg.len() / 2);
    let mut busy = Raw::to_data(&gw.sock, "bob@example.org");
    busy.send(first);
    std::thread::sleep(Duration::from_millis(100));
    gw.signal(libc::SIGTERM);
    assert!(idle.reply().starts_with("421 4.3.2 "), "the idle session");
    std::thread::sleep(Duration::from_millis(200));
    busy.send(second);
    busy.send(".\r\n");
    let r = busy.reply();
    assert!(r.starts_with("250 "), "{r}");
    // Then the session ends: 421 without waiting for the next command.
    let next = busy.cmd("MAIL FROM:<alice@example.org>");
    assert!(next.starts_with("421 4.3.2 "), "{next}");
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
    assert_eq!(sink.messages().len(), 1);
    assert!(
        !h.dir.path().join("serve.sock").exists(),
        "socket left behind"
    );
}

#[test]
fn killed_inside_data_nothing_reaches_the_next_hop() {
    let h = H::new();
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &[]);
    let mut busy = Raw::to_data(&gw.sock, "bob@example.org");
    let msg = String::from_utf8(message("killed")).unwrap();
    busy.send(&msg[..msg.len() / 2]);
    std::thread::sleep(Duration::from_millis(100));
    gw.signal(libc::SIGKILL);
    assert!(busy.reply().starts_with("error: "));
    drop(gw);
    std::thread::sleep(Duration::from_millis(100));
    assert!(sink.messages().is_empty());
}

#[test]
fn sighup_reloads_the_configuration_and_new_keys_are_used_without_a_restart() {
    let h = H::with_keys(&["alice", "bob"], "");
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &[]);
    let rcpt = |to: &str| {
        let mut s = Raw::connect(&gw.sock);
        s.reply();
        s.cmd("EHLO c");
        s.cmd("MAIL FROM:<alice@example.org>");
        s.cmd(&format!("RCPT TO:<{to}>"))
    };
    assert!(rcpt("ops@example.org").starts_with("550 5.7.1 "));
    assert!(rcpt("boss@example.org").starts_with("550 5.7.1 "));
    // A key file added is found by the next session, without a signal.
    std::fs::copy(
        crate::harness::keys_dir().join("ops.asc"),
        h.keys.join("ops.asc"),
    )
    .unwrap();
    assert!(rcpt("ops@example.org").starts_with("250 "));
    // A configuration change takes SIGHUP.
    h.write_config("[recipients]\n\"boss@example.org\" = { alias = \"bob@example.org\" }\n");
    assert!(rcpt("boss@example.org").starts_with("550 "));
    gw.signal(libc::SIGHUP);
    let start = Instant::now();
    while !rcpt("boss@example.org").starts_with("250 ") {
        assert!(start.elapsed() < Duration::from_secs(10), "not reloaded");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A broken configuration is not taken: the old one stays.
    std::fs::write(&h.config, "bogus = 1\n").unwrap();
    gw.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(200));
    assert!(rcpt("boss@example.org").starts_with("250 "));
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("configuration not reloaded"), "{err}");
}

#[test]
fn mail_already_encrypted_is_relayed_as_it_is() {
    let h = H::new();
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &[]);
    let marker = crate::real::marker("serveloop");
    let mut c = gw.client();
    c.send(
        "alice@example.org",
        &["bob@example.org"],
        &mut &message(&marker)[..],
    )
    .unwrap();
    let first = sink.messages()[0].data.clone();
    // The encrypted copy comes back through the filter (a loop): passed on unchanged.
    c.send("alice@example.org", &["bob@example.org"], &mut &first[..])
        .unwrap();
    let got = sink.messages();
    assert_eq!(got.len(), 2);
    assert!(got[1].data == first, "encrypted again, or changed");
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn size_is_what_fits_the_next_hop_once_encrypted_and_more_is_552() {
    let h = H::new();
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &["--message-size-limit", "100000"]);
    let fits = pgpsendmail::admin::largest_before_encryption(100_000);
    let c = gw.client();
    assert!(c.offers("SIZE"), "{:?}", c.extensions);
    assert!(
        c.extensions.contains(&format!("SIZE {fits}")),
        "{:?}",
        c.extensions
    );
    let mut c = c;
    let big = format!(
        "From: alice@example.org\r\nTo: bob@example.org\r\n\r\n{}",
        "x".repeat(fits as usize + 10)
    );
    let out = c
        .send(
            "alice@example.org",
            &["bob@example.org"],
            &mut big.as_bytes(),
        )
        .unwrap();
    let Outcome::Refused(r) = out else {
        panic!("{out:?}")
    };
    assert_eq!(r.code, 552, "{r:?}");
    assert!(sink.messages().is_empty());
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}

/// The peak resident set of process `pid` in KiB (VmHWM).
pub fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn memory_stays_under_24_mib_whatever_the_message_size() {
    let h = H::new();
    let sink = Sink::start();
    let gw = Gateway::start(&h, &sink.addr, &["--message-size-limit", "0"]);
    let mut c = gw.client();
    // 32 MiB of body, streamed by the client from a reader that makes it line by line.
    struct Lines(usize, Vec<u8>);
    impl Read for Lines {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.1.is_empty() {
                if self.0 == 0 {
                    return Ok(0);
                }
                // 1,000 lines at a time: the client writes what one read gives.
                for _ in 0..1000.min(self.0) {
                    self.0 -= 1;
                    let l = format!("line {:09} of a large report, padded out a bit\r\n", self.0);
                    self.1.extend_from_slice(l.as_bytes());
                }
            }
            let n = buf.len().min(self.1.len());
            buf[..n].copy_from_slice(&self.1[..n]);
            self.1.drain(..n);
            Ok(n)
        }
    }
    let head = b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: big\r\n\r\n";
    let lines = (32 << 20) / 52;
    let mut msg = (&head[..]).chain(Lines(lines, Vec::new()));
    let out = c
        .send("alice@example.org", &["bob@example.org"], &mut msg)
        .unwrap();
    assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    let peak = peak_kib(gw.child.id());
    assert!(
        sink.messages()[0].data.len() > 32 << 20,
        "the message was not relayed whole"
    );
    // pgpsendmail(8) SERVE: the process with one session stays under 24 MiB, whatever the
    // message's size (here: more than it).
    assert!(peak < 24 << 10, "peak {} MiB", peak >> 10);
    eprintln!("serve peak for a 32 MiB message: {} MiB", peak >> 10);
    let (code, err) = gw.stop();
    assert_eq!(code, 0, "{err}");
}
