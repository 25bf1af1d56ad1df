//! Memory stays flat: a 200 MiB message goes through pgpsendmail with a peak resident set
//! under 32 MiB (spec issue: streaming). A separate test binary, because it reads the peak
//! memory of its children (getrusage), which other tests' children would disturb.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

const SIZE: usize = 200 << 20;

/// Deterministic body lines: no need to hold the message in the test either.
fn line(i: usize) -> String {
    format!("line {i:09} of the big cron report, with padding to make it longer\n")
}

#[test]
fn two_hundred_mib_message_in_under_32_mib() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("cap");
    std::fs::create_dir(&cap).unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::copy(
        format!("{root}/tests/data/keys/bob.asc"),
        keys.join("bob.asc"),
    )
    .unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\n",
            std::path::Path::new(env!("CARGO_BIN_EXE_pgpsendmail"))
                .parent()
                .unwrap()
                .join("examples/stand_in_sendmail")
                .display(),
            keys.display()
        ),
    )
    .unwrap();
    let mut p = Command::new(env!("CARGO_BIN_EXE_pgpsendmail"))
        .env("PGPSENDMAIL_CONFIG", &cfg)
        .env("STAND_IN_DIR", &cap)
        .args(["-i", "bob@example.org"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = p.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin
            .write_all(b"From: cron@example.org\nTo: bob@example.org\nSubject: big\nContent-Type: text/plain\n\n")
            .unwrap();
        let mut n = 0;
        let mut i = 0;
        let mut buf = String::new();
        while n < SIZE {
            buf.clear();
            while buf.len() < 1 << 16 {
                buf.push_str(&line(i));
                i += 1;
            }
            stdin.write_all(buf.as_bytes()).unwrap();
            n += buf.len();
        }
        i
    });
    let out = p.wait_with_output().unwrap();
    let lines = writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let peak_mib = ru.ru_maxrss as f64 / 1024.0;
    eprintln!("peak resident memory for a 200 MiB message: {peak_mib:.1} MiB");
    assert!(peak_mib < 32.0, "peak {peak_mib:.1} MiB");

    // And it decrypts back to the same body.
    let msg = std::fs::read(cap.join("1.stdin")).unwrap();
    let key = pgpsendmail::openpgp::decrypt::secret_key(std::path::Path::new(&format!(
        "{root}/tests/data/keys/bob.sec.asc"
    )))
    .unwrap();
    let opened = pgpsendmail::openpgp::decrypt::open(&msg, &key).unwrap();
    let p = opened.payload;
    let start = p.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let start = start
        + p[start..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap()
        + 4;
    // The text part opens with the Legacy Display Element (docs/message.md, rule 20).
    let legacy = b"Subject: big\r\n\r\n";
    assert!(p[start..].starts_with(legacy), "no legacy display element");
    let start = start + legacy.len();
    let mut expect = Vec::with_capacity(p.len());
    for i in 0..lines {
        expect.extend_from_slice(line(i).replace('\n', "\r\n").as_bytes());
    }
    assert_eq!(&p[start..start + expect.len()], &expect[..]);
    let mut rest = String::new();
    (&p[start + expect.len()..])
        .read_to_string(&mut rest)
        .unwrap();
    assert!(
        rest.starts_with("\r\n--") && rest.ends_with("--\r\n"),
        "{rest}"
    );
}
