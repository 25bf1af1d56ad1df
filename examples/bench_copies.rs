//! `make bench`, after the main bench: what 1,000 hidden recipients of a 10 KiB message cost,
//! one run of the real sendmail per copy (`batch_copies = 0`) against `-bs` runs
//! (`batch_copies = 2`, the default; pgpsendmail.toml(5)), each one at a time
//! (`handoff_jobs = 1`) and one per CPU at once (`handoff_jobs = 0`, the default); with
//! `$BENCH_HANDOFF_SMTP` (the MTA's SMTP listener, `127.0.0.1:PORT`), the same through it
//! (`handoff_smtp`).
//!
//! The real sendmail is the stand-in (examples/stand_in_sendmail.rs), or `$BENCH_SENDMAIL`
//! (for example Postfix's `/usr/sbin/sendmail`, with `MAIL_CONFIG` naming an instance that
//! takes `@bench.example`). The certificates are `bench_keys --make 1000`'s keyring
//! (target/bench-keys/ring-1000.gpg, made first by `make bench`). Release build; a
//! benchmark, not a test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HIDDEN: usize = 1000;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ring = root.join(format!("target/bench-keys/ring-{HIDDEN}.gpg"));
    if !ring.exists() {
        eprintln!(
            "{} is missing: run target/release/examples/bench_keys --make {HIDDEN} first",
            ring.display()
        );
        std::process::exit(66);
    }
    let bin = root.join("target/release/pgpsendmail");
    let sendmail = std::env::var_os("BENCH_SENDMAIL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/examples/stand_in_sendmail"));
    let dir = tempfile::tempdir().unwrap();
    let mut msg = b"From: me@example.org\nTo: undisclosed-recipients:;\nSubject: many\n\n".to_vec();
    while msg.len() < 10 << 10 {
        msg.extend_from_slice(b"ten KiB of body text, line after line, for every recipient.\n");
    }
    println!(
        "{HIDDEN} hidden recipients of a 10 KiB message into {} (load: {})",
        sendmail.display(),
        load()
    );
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    // The MTA's SMTP listener for the handoff_smtp rows (none: no such rows).
    let listener = std::env::var("BENCH_HANDOFF_SMTP").ok();
    println!("| delivery | handoff_jobs | seconds (best of 2) |\n|---|---|---|");
    let mut rows = vec![
        ("one run per copy", 0, 1, None),
        ("one run per copy", 0, 0, None),
        ("-bs runs", 2, 1, None),
        ("-bs runs", 2, 0, None),
    ];
    if let Some(l) = &listener {
        rows.push(("handoff_smtp (the MTA's listener)", 2, 1, Some(l.as_str())));
        rows.push(("handoff_smtp (the MTA's listener)", 2, 0, Some(l.as_str())));
    }
    for (what, batch, jobs, smtp) in rows {
        let best = (0..2)
            .map(|round| {
                let run = dir
                    .path()
                    .join(format!("{batch}-{jobs}-{}-{round}", smtp.is_some()));
                send(&bin, &sendmail, &ring, &run, (batch, jobs, smtp), &msg)
            })
            .min()
            .unwrap();
        let shown = match jobs {
            0 => format!("0 ({cpus} CPUs)"),
            n => n.to_string(),
        };
        println!("| {what} | {shown} | {:.2} |", best.as_secs_f64());
    }
    // The floor: the real sendmail alone, fed ready-made transactions of an encrypted
    // copy's size, in one session and in one per CPU.
    for sessions in [1, cpus] {
        let best = (0..2)
            .map(|round| {
                let run = dir.path().join(format!("floor-{sessions}-{round}"));
                floor(&sendmail, &run, sessions)
            })
            .min()
            .unwrap();
        println!(
            "| the real sendmail alone, {HIDDEN} ready-made transactions | {sessions} session(s) | {:.2} |",
            best.as_secs_f64()
        );
    }
}

/// `sessions` runs of `sendmail -bs` at once, each fed its share of [`HIDDEN`] transactions
/// of 14 KiB (about an encrypted copy of the message) all at once (PIPELINING); how long
/// until the last ended.
fn floor(sendmail: &Path, run: &Path, sessions: usize) -> Duration {
    let capture = run.join("capture");
    std::fs::create_dir_all(&capture).unwrap();
    let mut body = String::new();
    while body.len() < 14 << 10 {
        body.push_str("c2l4dHktZm91ciBjaGFyYWN0ZXJzIG9mIGFybW9yZWQgY2lwaGVydGV4dCBwZXIgbGluZQ\r\n");
    }
    let scripts: Vec<PathBuf> = (0..sessions)
        .map(|k| {
            let mut s = String::from("EHLO bench\r\n");
            for i in (k..HIDDEN).step_by(sessions) {
                s.push_str(&format!(
                    "MAIL FROM:<me@example.org>\r\nRCPT TO:<user{i}@bench.example>\r\nDATA\r\n\
                     Subject: {i}\r\n\r\n{body}.\r\n"
                ));
            }
            s.push_str("QUIT\r\n");
            let path = run.join(format!("session-{k}"));
            std::fs::write(&path, s).unwrap();
            path
        })
        .collect();
    let start = Instant::now();
    let children: Vec<_> = scripts
        .iter()
        .map(|p| {
            Command::new(sendmail)
                .arg("-bs")
                .env("STAND_IN_DIR", &capture)
                .stdin(std::fs::File::open(p).unwrap())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "{} -bs", sendmail.display());
    }
    start.elapsed()
}

/// One message to user0..user{HIDDEN-1}, all hidden, under `batch_copies` and
/// `handoff_jobs`; how long pgpsendmail ran.
fn send(
    bin: &Path,
    sendmail: &Path,
    ring: &Path,
    run: &Path,
    (batch, jobs, smtp): (usize, usize, Option<&str>),
    msg: &[u8],
) -> Duration {
    let smtp = smtp.map_or(String::new(), |l| format!("handoff_smtp = \"{l}\"\n"));
    let capture = run.join("capture");
    std::fs::create_dir_all(&capture).unwrap();
    let config = run.join("pgpsendmail.toml");
    std::fs::write(
        &config,
        format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\ncache_dir = \"{}\"\nbatch_copies = {batch}\n\
             handoff_jobs = {jobs}\n{smtp}",
            sendmail.display(),
            ring.display(),
            run.parent().unwrap_or(run).display()
        ),
    )
    .unwrap();
    let mut args = vec!["-i".to_string(), "-f".into(), "me@example.org".into()];
    args.extend((0..HIDDEN).map(|i| format!("user{i}@bench.example")));
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(&args)
        .env("PGPSENDMAIL_CONFIG", &config)
        .env("STAND_IN_DIR", &capture)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(msg).unwrap();
    let st = child.wait().unwrap();
    let took = start.elapsed();
    assert!(st.success(), "pgpsendmail: {st}");
    took
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
