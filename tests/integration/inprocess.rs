//! The whole pipeline in-process (`run_sendmail` with a recording deliverer), fed with
//! generated messages and argument vectors: it never panics, every error is one line, and
//! whatever it hands on holds no plaintext marker unless the input declared itself
//! encrypted. A deterministic generator, so a failure names a reproducible case.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use pgpsendmail::Env;
use pgpsendmail::error::Result;
use pgpsendmail::sendmail::deliver::{Copy, CopyBody, Deliverer};

use crate::harness::*;

/// Records every copy in memory instead of running a program.
#[derive(Default)]
struct Recorder {
    copies: Vec<(Vec<OsString>, Vec<u8>)>,
}

impl Deliverer for Recorder {
    fn deliver(
        &mut self,
        _program: &Path,
        copies: Vec<(Vec<OsString>, Copy)>,
        _log: &pgpsendmail::syslog::Entry,
    ) -> Result<i32> {
        for (args, copy) in copies {
            let mut bytes = Vec::new();
            match copy.body {
                CopyBody::File(mut f) => {
                    f.read_to_end(&mut bytes).unwrap();
                }
                CopyBody::Memory(write) => write(&mut bytes).unwrap(),
                CopyBody::Parts(parts) => parts.write_to(&mut bytes).unwrap(),
            }
            self.copies.push((args, bytes));
        }
        Ok(0)
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
    fn chance(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

const ADDRS: &[&str] = &[
    "alice@example.org",
    "bob@example.org",
    "Carol <carol@example.net>",
    "\"Dave, D.\" <dave@example.net>",
    "root",
    "ALICE@EXAMPLE.ORG",
    "alice+tag@example.org",
    "nokey@example.org",
    "undisclosed-recipients:;",
    "team: bob@example.org, alice@example.org;",
    "(comment) bob@example.org (more)",
    "<bob@example.org>",
    "bad address <",
    "a@b c@d",
];

const HEADERS: &[&[u8]] = &[
    b"Subject: SECRETMARK subject",
    b"Subject: =?utf-8?q?SECRETMARK_=C3=A9?=",
    b"X-Cron-Env: <PASSWORD=SECRETMARK>",
    b"From: Me <me@example.org>",
    b"Date: Sat, 28 Nov 2026 12:00:00 +0000",
    b"Message-ID: <x@y>",
    b"Content-Type: text/plain; charset=utf-8",
    b"Content-Type: multipart/mixed; boundary=zz",
    b"Content-Transfer-Encoding: base64",
    b"MIME-Version: 1.0",
    b"Received: from SECRETMARK",
    b"X-Folded: a\n b\n\tc SECRETMARK",
    b"Subject : spaced SECRETMARK",
    b"X-8bit: caf\xe9 SECRETMARK",
    b"X-Nul: a\0b",
    b"X-CR: a\rb",
    b" leading continuation",
    b"no colon line SECRETMARK",
    b"Resent-To: bob@example.org",
];

const BODY: &[&[u8]] = &[
    b"line with SECRETMARK\n",
    b".\n",
    b"..\n",
    b"\r\n",
    b"\r",
    b"\0\0",
    b"\xff\xfe\xe9",
    b"-----BEGIN PGP MESSAGE-----\n",
    b"--zz\n",
    b"From the start\n",
    b"x",
];

const ARGS: &[&[&str]] = &[
    &["-t"],
    &["-i", "-t"],
    &["-oi", "-t", "-f", "me@example.org"],
    &["-i", "alice@example.org"],
    &["-i", "--", "bob@example.org", "carol@example.net"],
    &["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
    &["alice@example.org,bob@example.org"],
    &["-ti", "dave@example.net"],
    &["-N", "never", "-i", "-t"],
];

#[test]
fn generated_inputs_never_panic_and_never_leak() {
    let h = H::new();
    let env = Env {
        config_path: Some(h.config.clone()),
        login: "tester".into(),
        full_name: None,
        hostname: "test.example".into(),
        tmpdir: None,
        self_exe: None,
        root: None,
        passwd: Some(h.passwd()),
        cache_default: h.dir.path().join("default-cache"),
        discovered_default: h.dir.path().join("discovered"),
        xdg_cache_home: None,
        home: None,
        now: SystemTime::now(),
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut sent, mut refused) = (0, 0);
    for case in 0..2000 {
        let args: Vec<OsString> = rng.pick(ARGS).iter().map(OsString::from).collect();
        let mut msg = Vec::new();
        if rng.chance(10) {
            msg.extend_from_slice(b"From me@example.org Sat Nov 28 12:00:00 2026\n");
        }
        for name in ["To", "Cc", "Bcc"] {
            if !rng.chance(3) {
                msg.extend_from_slice(format!("{name}: {}", rng.pick(ADDRS)).as_bytes());
                if rng.chance(2) {
                    msg.extend_from_slice(format!(",\n {}", rng.pick(ADDRS)).as_bytes());
                }
                msg.push(b'\n');
            }
        }
        for _ in 0..(rng.next() % 6) {
            let field: &[u8] = rng.pick::<&[u8]>(HEADERS);
            msg.extend_from_slice(field);
            msg.extend_from_slice(if rng.chance(4) { b"\r\n" } else { b"\n" });
        }
        if !rng.chance(8) {
            msg.push(b'\n');
        }
        for _ in 0..(rng.next() % 12) {
            let piece: &[u8] = rng.pick::<&[u8]>(BODY);
            msg.extend_from_slice(piece);
        }
        let mut rec = Recorder::default();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pgpsendmail::run_sendmail(args.clone(), &env, &msg[..], &mut rec)
        }));
        let result = result.unwrap_or_else(|_| panic!("case {case} panicked: {args:?} {msg:?}"));
        match result {
            Ok(code) => {
                assert_eq!(code, 0);
                sent += 1;
                assert!(
                    !rec.copies.is_empty(),
                    "case {case}: success without a copy"
                );
                for (a, bytes) in &rec.copies {
                    assert_eq!(a[0], "-i", "case {case}");
                    assert!(a.iter().any(|x| x == "--"), "case {case}");
                    assert!(!a.iter().any(|x| x == "-t"), "case {case}");
                    // Even a body with an armor line or a label: none is real ciphertext.
                    assert!(
                        !contains(bytes, b"SECRETMARK"),
                        "case {case}: plaintext handed on: {args:?} {msg:?}"
                    );
                    assert!(contains(bytes, b"multipart/encrypted"), "case {case}");
                    assert!(!contains(bytes, b"\nBcc:") && !bytes.starts_with(b"Bcc:"));
                }
            }
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().contains('\n'), "case {case}: {e}");
                assert!(!e.to_string().contains("SECRETMARK"), "case {case}: {e}");
                assert!(rec.copies.is_empty(), "case {case}: error after handing on");
            }
        }
    }
    eprintln!("generated cases: {sent} sent, {refused} refused");
    // The generator must exercise both outcomes, or it tests nothing.
    assert!(
        sent > 200 && refused > 200,
        "sent {sent}, refused {refused}"
    );
}
