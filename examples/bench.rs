//! `make bench`: pgpsendmail against the pipelines a user would otherwise write, in one run,
//! on the same inputs, each peer holding the same certificates and encrypting with AES-256,
//! without compression, armored:
//! - `gpg --batch --trust-model always --encrypt --armor --compress-algo none -r ... | sendmail`;
//! - Sequoia's `sq encrypt --compression none --recipient-cert CERTS | sendmail`, CERTS from
//!   `sq keyring filter --email ...` over the keyring (sq 0.27 is stateless: it finds no key
//!   by address itself);
//! - RNP's `rnp --encrypt --cipher AES256 -z 0 --armor -r ... | sendmail`, the keyring as its
//!   home's pubring.gpg.
//!
//! All hand their output to the same sendmail, `bench_sink` (reads its input and drops it).
//! A peer that is not installed is skipped, loudly; its columns say so.
//!
//! What it needs: a release build of pgpsendmail and the examples (`make bench` builds
//! them), `openssl` on PATH, the peers (`gpg`, `sq`, `rnp` and `rnpkeys`), and `gnuplot` for
//! the plot (skipped without it). It installs nothing. It keeps its keyrings, GnuPG and RNP
//! homes under target/bench-keys/ (made once: 100,000 certificates take minutes) and its
//! messages, data and plot under target/bench/.
//!
//! Environment: `BENCH_RUNS` (runs per median, default 15 for small messages; large ones
//! use a third of it, at least 3), `BENCH_MESSAGES` (messages per throughput batch, default
//! 1000), `BENCH_BATCH_SECONDS` (a batch stops early after this long, default 60; the table
//! says how many it did), `BENCH_LARGE_MIB` (default 256), `BENCH_ONLY` (`small`, `large`,
//! `v2`, `bcc`, `ceiling` or `signed`: one part only), `BENCH_CERTS` (keyring sizes of the small part,
//! default `10,10000,100000`), `BENCH_PEERS` (the peers to run, default `gpg,sq,rnp`). The
//! table and data files are written after each part, so an interrupted run keeps what it
//! measured.

#[path = "shared/machine.rs"]
mod machine;

use machine::machine;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Keyring sizes of the small-message rows (`BENCH_CERTS` overrides: `10,10000`).
const SIZES: [usize; 3] = [10, 10_000, 100_000];

fn cert_sizes() -> Vec<usize> {
    match std::env::var("BENCH_CERTS") {
        Ok(v) => v.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        Err(_) => SIZES.to_vec(),
    }
}
/// Every configuration's: the sink is no SMTP server, so one run of it per copy (not a
/// `-bs` session, which it would never answer), as each peer's pipeline ends in one.
const SINK_RUNS: &str = "batch_copies = 0\n";

/// The keyring for the large and the Bcc messages (51 recipients needed).
const WIDE: usize = 1_000;
/// `--cipher-algo AES256`: the generated certificates state no cipher preferences, so gpg
/// would fall back to 3DES; pgpsendmail uses AES-256, and so must the comparison.
const GPG_ARGS: [&str; 9] = [
    "--cipher-algo",
    "AES256",
    "--batch",
    "--trust-model",
    "always",
    "--encrypt",
    "--armor",
    "--compress-algo",
    "none",
];

fn addr(i: usize) -> String {
    format!("user{i}@bench.example")
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One measured process run (or pipeline): wall time, CPU time, peak resident set.
#[derive(Clone, Copy, Debug)]
struct Run {
    wall: f64,
    cpu: f64,
    rss_kib: i64,
}

/// Waits for `child` and returns its exit status and resource usage (which
/// `Child::wait` does not give).
fn wait4(child: std::process::Child) -> (i32, libc::rusage) {
    let pid = child.id();
    let mut status = 0;
    // SAFETY: wait4 fills the status and the rusage struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut ru) };
    assert_eq!(r, pid as i32, "wait4: {}", std::io::Error::last_os_error());
    (status, ru)
}

fn cpu_of(ru: &libc::rusage) -> f64 {
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn input(path: &Path) -> Stdio {
    Stdio::from(File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Runs `c` (stdout discarded) to its end; its wall time, CPU time and peak memory.
/// Panics, naming `what`, unless it exits 0.
fn timed(mut c: Command, what: &str) -> Run {
    let t = Instant::now();
    let child = c.stdout(Stdio::null()).spawn().expect("the command runs");
    let (status, ru) = wait4(child);
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(status, 0, "{what} failed");
    Run {
        wall,
        cpu: cpu_of(&ru),
        rss_kib: ru.ru_maxrss,
    }
}

struct Setup {
    sink: PathBuf,
    pgpsendmail: PathBuf,
    work: PathBuf,
}

impl Setup {
    /// `pgpsendmail -i RCPT...` with the configuration of keyring size `n`.
    fn pgpsendmail(&self, n: usize, msg: &Path, rcpts: &[String]) -> Run {
        self.ours(n, &["-i"], msg, rcpts)
    }

    /// `pgpsendmail explain -i RCPT...`: start-up, configuration, reading the message and
    /// looking up and checking the recipients' keys, without encrypting or sending.
    fn lookup(&self, n: usize, msg: &Path, rcpts: &[String]) -> Run {
        self.ours(n, &["explain", "-i"], msg, rcpts)
    }

    /// [`Setup::pgpsendmail`], and pgpsendmail's own CPU time: the run's, less what its
    /// sinks said they used (`BENCH_SINK_CPU`).
    fn pgpsendmail_own(&self, n: usize, msg: &Path, rcpts: &[String]) -> (Run, f64) {
        let file = self.work.join("sink-cpu");
        let _ = std::fs::remove_file(&file);
        let mut c = Command::new(&self.pgpsendmail);
        c.env("PGPSENDMAIL_CONFIG", self.work.join(format!("{n}.toml")))
            .env("BENCH_SINK_CPU", &file)
            .arg("-i")
            .args(rcpts)
            .stdin(input(msg));
        let run = timed(c, &format!("pgpsendmail on {}", msg.display()));
        let sinks: f64 = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse::<f64>().ok())
            .sum::<f64>()
            / 1e6;
        let own = run.cpu - sinks;
        (run, own)
    }

    /// pgpsendmail with `args` and the recipients, the message on stdin.
    fn ours(&self, n: usize, args: &[&str], msg: &Path, rcpts: &[String]) -> Run {
        let mut c = Command::new(&self.pgpsendmail);
        c.env("PGPSENDMAIL_CONFIG", self.work.join(format!("{n}.toml")))
            .args(args)
            .args(rcpts)
            .stdin(input(msg));
        timed(c, &format!("pgpsendmail {args:?} on {}", msg.display()))
    }

    /// The start-up and key lookup of `peer` alone (no encryption), the step `explain` is
    /// on our side: `gpg --list-keys`, `sq keyring filter --email`, `rnpkeys --list-keys`.
    fn peer_lookup(&self, peer: Peer, n: usize, rcpts: &[String]) -> Run {
        let mut c = match peer {
            Peer::Gpg => {
                let mut c = Command::new("gpg");
                c.arg("--homedir")
                    .arg(gpg_home(n))
                    .args(["--no-autostart", "--batch", "--with-colons", "--list-keys"])
                    .args(rcpts);
                c
            }
            Peer::Sq => return self.sq_filter(n, rcpts).0,
            Peer::Rnp => {
                let mut c = Command::new("rnpkeys");
                c.arg("--homedir").arg(rnp_home(n)).arg("--list-keys");
                c.args(rcpts);
                c
            }
        };
        c.stderr(Stdio::null());
        timed(c, &format!("{} lookup", peer.name()))
    }

    /// `peer`'s encryption to `rcpts` piped into the sink, as a shell would run it.
    fn peer(&self, peer: Peer, n: usize, msg: &Path, rcpts: &[String]) -> Run {
        let mut pre = None;
        let mut c = match peer {
            Peer::Gpg => {
                let mut c = Command::new("gpg");
                c.arg("--homedir")
                    .arg(gpg_home(n))
                    .args(["--no-autostart", "--quiet"])
                    .args(GPG_ARGS);
                for r in rcpts {
                    c.args(["-r", r]);
                }
                c
            }
            Peer::Sq => {
                let (run, certs) = self.sq_filter(n, rcpts);
                pre = Some(run);
                let mut c = Command::new("sq");
                c.args(SQ_ARGS).arg("--recipient-cert").arg(certs);
                c
            }
            Peer::Rnp => {
                let mut c = Command::new("rnp");
                c.arg("--homedir").arg(rnp_home(n)).args(RNP_ARGS);
                for r in rcpts {
                    c.args(["-r", r]);
                }
                c
            }
        };
        // sq warns that its CLI is unstable; rnp, about subpackets it does not know.
        c.stderr(Stdio::null());
        let mut run = self.pipeline(&mut c, peer.name(), msg, rcpts);
        if let Some(p) = pre {
            run.wall += p.wall;
            run.cpu += p.cpu;
            run.rss_kib = run.rss_kib.max(p.rss_kib);
        }
        run
    }

    /// sq 0.27 is stateless: a user finds the recipients' certificates in the keyring with
    /// `sq keyring filter --email`, then encrypts to them. Returns that step and its output.
    fn sq_filter(&self, n: usize, rcpts: &[String]) -> (Run, PathBuf) {
        let out = self.work.join("sq-recipients.pgp");
        let mut c = Command::new("sq");
        c.args(["keyring", "filter", "--binary"]);
        for r in rcpts {
            c.args(["--email", r]);
        }
        c.arg(ring(n))
            .stdout(File::create(&out).expect("sq's certificate file"))
            .stderr(Stdio::null());
        let t = Instant::now();
        let child = c.spawn().expect("sq runs");
        let (status, ru) = wait4(child);
        assert_eq!(status, 0, "sq keyring filter failed");
        let run = Run {
            wall: t.elapsed().as_secs_f64(),
            cpu: cpu_of(&ru),
            rss_kib: ru.ru_maxrss,
        };
        (run, out)
    }

    /// `enc` (the message on stdin) piped into the sink, both at once.
    fn pipeline(&self, enc: &mut Command, name: &str, msg: &Path, rcpts: &[String]) -> Run {
        let t = Instant::now();
        let mut g = enc
            .stdin(input(msg))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} runs: {e}"));
        let pipe = g.stdout.take().unwrap();
        let s = Command::new(&self.sink)
            .arg("-i")
            .args(rcpts)
            .stdin(pipe)
            .spawn()
            .expect("sink runs");
        let (gs, gru) = wait4(g);
        let (ss, sru) = wait4(s);
        let wall = t.elapsed().as_secs_f64();
        assert!(
            gs == 0 && ss == 0,
            "{name} pipeline failed on {}",
            msg.display()
        );
        Run {
            wall,
            cpu: cpu_of(&gru) + cpu_of(&sru),
            rss_kib: gru.ru_maxrss.max(sru.ru_maxrss),
        }
    }
}

/// The tools pgpsendmail is compared with, each as a pipeline into the same sink.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Peer {
    Gpg,
    Sq,
    Rnp,
}

const PEERS: [Peer; 3] = [Peer::Gpg, Peer::Sq, Peer::Rnp];

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Gpg => "gpg",
            Peer::Sq => "sq",
            Peer::Rnp => "rnp",
        }
    }

    /// Its first `--version` line, or `None` when it is not installed.
    fn version(self) -> Option<String> {
        let progs: &[&str] = match self {
            Peer::Gpg => &["gpg"],
            Peer::Sq => &["sq"],
            Peer::Rnp => &["rnp", "rnpkeys"],
        };
        let mut first = None;
        for p in progs {
            let o = Command::new(p).arg("--version").output().ok()?;
            if !o.status.success() {
                return None;
            }
            first.get_or_insert_with(|| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            });
        }
        first
    }
}

/// `sq encrypt` as the comparison needs it: no compression (its default pads through a
/// compression packet); armored, like the others. Sequoia encrypts with AES-256 by default.
const SQ_ARGS: [&str; 3] = ["encrypt", "--compression", "none"];
/// `rnp`: AES-256, no compression, armored, to standard output.
const RNP_ARGS: [&str; 7] = [
    "--encrypt",
    "--cipher",
    "AES256",
    "-z",
    "0",
    "--armor",
    "--notty",
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `a` and `b` alternately `runs` times (so that the machine's load falls on both
/// alike); returns the medians of wall and CPU time and the highest peak memory.
fn paired(runs: usize, mut a: impl FnMut() -> Run, mut b: impl FnMut() -> Run) -> [Run; 2] {
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ra.push(a());
        rb.push(b());
    }
    [summary(&ra), summary(&rb)]
}

/// The medians of wall and CPU time and the highest peak memory of `v`.
fn summary(v: &[Run]) -> Run {
    Run {
        wall: median(v.iter().map(|r| r.wall).collect()),
        cpu: median(v.iter().map(|r| r.cpu).collect()),
        rss_kib: v.iter().map(|r| r.rss_kib).max().unwrap_or(0),
    }
}

/// Messages per second over a batch of up to `count` messages, one after the other,
/// stopping early after `budget`; returns (messages/s, messages done).
fn batch(count: usize, budget: Duration, mut one: impl FnMut() -> Run) -> (f64, usize) {
    let t = Instant::now();
    let mut done = 0;
    while done < count {
        one();
        done += 1;
        if t.elapsed() > budget {
            break;
        }
    }
    (done as f64 / t.elapsed().as_secs_f64(), done)
}

fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-keys")
}

fn ring(n: usize) -> PathBuf {
    keys_dir().join(format!("ring-{n}.gpg"))
}

fn gpg_home(n: usize) -> PathBuf {
    keys_dir().join(format!("gnupg-{n}"))
}

/// An RNP home whose pubring.gpg is ring-N (RNP reads GnuPG 1 keyrings).
fn rnp_home(n: usize) -> PathBuf {
    keys_dir().join(format!("rnp-{n}"))
}

fn ensure_rnp_home(n: usize) {
    let home = rnp_home(n);
    let ring_link = home.join("pubring.gpg");
    if ring_link.exists() {
        return;
    }
    std::fs::create_dir_all(&home).unwrap();
    std::fs::hard_link(ring(n), &ring_link)
        .or_else(|_| std::fs::copy(ring(n), &ring_link).map(drop))
        .unwrap();
}

/// Splits a binary keyring into its certificates (each starts with a public-key packet).
fn split_certs(data: &[u8]) -> Vec<&[u8]> {
    let mut certs = Vec::new();
    let (mut start, mut pos) = (0, 0);
    while pos < data.len() {
        let h = data[pos];
        assert!(h & 0x80 != 0, "not an OpenPGP packet at {pos}");
        let (tag, hlen, len) = if h & 0x40 != 0 {
            let tag = h & 0x3f;
            let b = data[pos + 1] as usize;
            match b {
                0..=191 => (tag, 2, b),
                192..=223 => (tag, 3, ((b - 192) << 8) + data[pos + 2] as usize + 192),
                255 => (
                    tag,
                    6,
                    u32::from_be_bytes(data[pos + 2..pos + 6].try_into().unwrap()) as usize,
                ),
                _ => panic!("partial length in a keyring"),
            }
        } else {
            let tag = (h >> 2) & 0x0f;
            match h & 3 {
                0 => (tag, 2, data[pos + 1] as usize),
                1 => (
                    tag,
                    3,
                    u16::from_be_bytes([data[pos + 1], data[pos + 2]]) as usize,
                ),
                2 => (
                    tag,
                    5,
                    u32::from_be_bytes(data[pos + 1..pos + 5].try_into().unwrap()) as usize,
                ),
                _ => panic!("indeterminate length in a keyring"),
            }
        };
        if tag == 6 && pos > start {
            certs.push(&data[start..pos]);
            start = pos;
        }
        pos += hlen + len;
    }
    if pos > start {
        certs.push(&data[start..pos]);
    }
    certs
}

/// A GnuPG home holding ring-N's certificates in a pubring.kbx. `gpg --import` rewrites the
/// whole keybox for every certificate (quadratic: 100,000 would take hours), so the ring is
/// imported in slices of 500 into scratch homes, and their keyboxes' blobs are joined behind
/// one header blob (blobs are self-contained; GnuPG 2.2 keyboxes have no index).
fn ensure_gpg_home(n: usize) {
    let home = gpg_home(n);
    if home.join("pubring.kbx").exists() {
        return;
    }
    let data = std::fs::read(ring(n)).unwrap();
    let certs = split_certs(&data);
    assert_eq!(certs.len(), n, "certificates in {}", ring(n).display());
    eprintln!(
        "importing {n} certificates into GnuPG (once; kept in {}) ...",
        home.display()
    );
    let scratch = keys_dir().join(format!("gnupg-{n}.tmp"));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let mut kbx: Vec<u8> = Vec::new();
    let t = Instant::now();
    for (i, slice) in certs.chunks(500).enumerate() {
        let h = scratch.join(format!("h{i}"));
        std::fs::create_dir(&h).unwrap();
        std::fs::set_permissions(&h, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let file = scratch.join(format!("s{i}.gpg"));
        std::fs::write(&file, slice.concat()).unwrap();
        let st = Command::new("gpg")
            .arg("--homedir")
            .arg(&h)
            .args([
                "--batch",
                "--quiet",
                "--no-autostart",
                "--no-auto-check-trustdb",
                "--import-options",
                "import-minimal",
                "--import",
            ])
            .arg(&file)
            .stderr(Stdio::null())
            .status()
            .expect("gpg runs");
        assert!(st.success(), "gpg --import failed");
        let part = std::fs::read(h.join("pubring.kbx")).unwrap();
        let first = u32::from_be_bytes(part[..4].try_into().unwrap()) as usize;
        assert_eq!(part[4], 1, "a keybox starts with its header blob");
        if kbx.is_empty() {
            kbx.extend_from_slice(&part[..first]);
        }
        kbx.extend_from_slice(&part[first..]);
        std::fs::remove_dir_all(&h).unwrap();
        std::fs::remove_file(&file).unwrap();
        if i % 20 == 19 {
            eprintln!(
                "  {} of {n} ({:.0} s)",
                (i + 1) * 500,
                t.elapsed().as_secs_f64()
            );
        }
    }
    let tmp_home = keys_dir().join(format!("gnupg-{n}.new"));
    let _ = std::fs::remove_dir_all(&tmp_home);
    std::fs::create_dir(&tmp_home).unwrap();
    std::fs::set_permissions(
        &tmp_home,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    std::fs::write(tmp_home.join("pubring.kbx"), &kbx).unwrap();
    std::fs::rename(&tmp_home, &home).unwrap();
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// A message: the header section, then body lines until `size` bytes.
fn make_message(path: &Path, head: &str, size: usize, base64_attachment: bool) {
    if std::fs::metadata(path).is_ok_and(|m| m.len() as usize == size) {
        return;
    }
    let mut f = std::io::BufWriter::new(File::create(path).unwrap());
    let mut n = 0;
    let put = |f: &mut std::io::BufWriter<File>, n: &mut usize, s: &[u8]| {
        f.write_all(s).unwrap();
        *n += s.len();
    };
    put(&mut f, &mut n, head.as_bytes());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let end = if base64_attachment {
        put(
            &mut f,
            &mut n,
            b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n\
              Content-Type: text/plain; charset=us-ascii\n\nThe report is attached.\n\n--b1\n\
              Content-Type: application/octet-stream; name=\"report.bin\"\n\
              Content-Transfer-Encoding: base64\n\n",
        );
        &b"--b1--\n"[..]
    } else {
        put(&mut f, &mut n, b"\n");
        &b""[..]
    };
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut line = Vec::with_capacity(80);
    let mut i = 0usize;
    while n + end.len() < size {
        line.clear();
        if base64_attachment {
            while line.len() < 76 {
                // xorshift: incompressible, and fast to make.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                line.extend(x.to_le_bytes().iter().map(|b| B64[(b & 63) as usize]));
            }
            line.truncate(76);
        } else {
            write!(
                &mut line as &mut dyn std::io::Write,
                "line {i:05} of the nightly job output: all checks passed"
            )
            .unwrap();
            i += 1;
        }
        line.push(b'\n');
        let room = size - end.len() - n;
        if line.len() > room {
            line.truncate(room.saturating_sub(1));
            line.push(b'\n');
        }
        put(&mut f, &mut n, &line);
    }
    put(&mut f, &mut n, end);
    f.flush().unwrap();
}

fn openssl(args: &[&str], file: &Path) -> Run {
    let t = Instant::now();
    // `enc` reads `-in FILE`; `dgst` takes the file as an operand.
    let c = Command::new("openssl")
        .args(args)
        .args(if args[0] == "enc" {
            &["-in"][..]
        } else {
            &[][..]
        })
        .arg(file)
        .stdout(Stdio::null())
        .spawn()
        .expect("openssl runs");
    let (st, ru) = wait4(c);
    assert_eq!(st, 0, "openssl {args:?} failed");
    Run {
        wall: t.elapsed().as_secs_f64(),
        cpu: cpu_of(&ru),
        rss_kib: ru.ru_maxrss,
    }
}

/// Whether `prog ARG` runs at all.
fn runs(prog: &str, arg: &str) -> bool {
    Command::new(prog)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The table being written, its data file, and the peers that are installed.
struct Out {
    table: String,
    data: String,
    peers: Vec<Peer>,
}

impl Out {
    /// A row: our value, then each peer's value with our lead over it (peer ÷ ours, or
    /// ours ÷ peer where `higher_is_better`); "skipped" for a missing peer.
    fn row(&mut self, case: &str, what: &str, ours: String, theirs: &[(Peer, String, f64)]) {
        let mut line = format!("| {case} | {what} | {ours} |");
        for p in PEERS {
            match theirs.iter().find(|t| t.0 == p) {
                Some((_, v, ratio)) => {
                    let _ = write!(line, " {v} | {ratio:.2}× |");
                }
                None => line.push_str(" skipped | |"),
            }
        }
        println!("{line}");
        let _ = writeln!(self.table, "{line}");
    }

    /// One data value per peer in PEERS order (NaN for a missing one), for the plot.
    fn per_peer(&self, values: &[(Peer, f64)]) -> String {
        PEERS
            .iter()
            .map(|p| {
                values
                    .iter()
                    .find(|v| v.0 == *p)
                    .map_or("NaN".into(), |v| format!("{:.4}", v.1))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Our run and each installed peer's, alternated `runs` times (so that the machine's load
/// falls on all alike): the medians of each, as [`paired`] gives them.
fn against(
    runs: usize,
    peers: &[Peer],
    mut ours: impl FnMut() -> Run,
    mut theirs: impl FnMut(Peer) -> Run,
) -> (Run, Vec<(Peer, Run)>) {
    let mut all: Vec<Vec<Run>> = vec![Vec::new(); peers.len() + 1];
    for _ in 0..runs {
        all[0].push(ours());
        for (i, &p) in peers.iter().enumerate() {
            all[i + 1].push(theirs(p));
        }
    }
    let s: Vec<Run> = all.iter().map(|v| summary(v)).collect();
    (
        s[0],
        peers.iter().copied().zip(s[1..].iter().copied()).collect(),
    )
}

fn ms(r: &Run) -> String {
    format!("{:.2} ms", r.wall * 1e3)
}

fn part_small(setup: &Setup, out: &mut Out, runs: usize, messages: usize, budget: Duration) {
    for n in cert_sizes() {
        let msg = setup.work.join(format!("small-{n}.eml"));
        let who = addr(n / 2);
        make_message(
            &msg,
            &format!("From: cron@bench.example\nTo: {who}\nSubject: nightly report\n"),
            2048,
            false,
        );
        let rc = [who.clone()];
        let peers = out.peers.clone();
        // Warm-up: builds pgpsendmail's key index, fills the page cache for all.
        for _ in 0..2 {
            setup.pgpsendmail(n, &msg, &rc);
            for &p in &peers {
                setup.peer(p, n, &msg, &rc);
            }
        }
        let (ours, theirs) = against(
            runs,
            &peers,
            || setup.pgpsendmail(n, &msg, &rc),
            |p| setup.peer(p, n, &msg, &rc),
        );
        let (mps_ours, k_ours) = batch(messages, budget, || setup.pgpsendmail(n, &msg, &rc));
        let mps: Vec<(Peer, f64, usize)> = peers
            .iter()
            .map(|&p| {
                let (m, k) = batch(messages, budget, || setup.peer(p, n, &msg, &rc));
                (p, m, k)
            })
            .collect();
        let case = format!("2 KiB, 1 rcpt, {n} certs");
        small_rows(
            out,
            n,
            &case,
            runs,
            (ours, &theirs),
            (mps_ours, k_ours, &mps),
        );
        let (ours, theirs) = against(
            runs,
            &peers,
            || setup.lookup(n, &msg, &rc),
            |p| setup.peer_lookup(p, n, &rc),
        );
        let look: Vec<_> = theirs
            .iter()
            .map(|(p, r)| (*p, ms(r), r.wall / ours.wall))
            .collect();
        out.row(
            &case,
            &format!("start-up + key lookup, wall (median of {runs}; see bench/README.md)"),
            ms(&ours),
            &look,
        );
        let line = format!(
            "lookup {n} {:.4} {}",
            ours.wall * 1e3,
            out.per_peer(
                &theirs
                    .iter()
                    .map(|(p, r)| (*p, r.wall * 1e3))
                    .collect::<Vec<_>>()
            )
        );
        let _ = writeln!(out.data, "{line}");
    }
}

/// The rows (and data line) of one keyring size: wall, CPU, messages/s.
fn small_rows(
    out: &mut Out,
    n: usize,
    case: &str,
    runs: usize,
    (ours, theirs): (Run, &[(Peer, Run)]),
    (mps_ours, k_ours, mps): (f64, usize, &[(Peer, f64, usize)]),
) {
    let wall: Vec<_> = theirs
        .iter()
        .map(|(p, r)| (*p, ms(r), r.wall / ours.wall))
        .collect();
    out.row(
        case,
        &format!("wall per message (median of {runs})"),
        ms(&ours),
        &wall,
    );
    let cpu: Vec<_> = theirs
        .iter()
        .map(|(p, r)| (*p, format!("{:.2} ms", r.cpu * 1e3), r.cpu / ours.cpu))
        .collect();
    out.row(
        case,
        "CPU per message (median)",
        format!("{:.2} ms", ours.cpu * 1e3),
        &cpu,
    );
    let thr: Vec<_> = mps
        .iter()
        .map(|(p, m, k)| (*p, format!("{m:.1} (of {k})"), mps_ours / m))
        .collect();
    out.row(
        case,
        "messages/s, one after another",
        format!("{mps_ours:.0} (of {k_ours})"),
        &thr,
    );
    let line = format!(
        "small {n} {:.4} {} {mps_ours:.2} {}",
        ours.wall * 1e3,
        out.per_peer(
            &theirs
                .iter()
                .map(|(p, r)| (*p, r.wall * 1e3))
                .collect::<Vec<_>>()
        ),
        out.per_peer(&mps.iter().map(|(p, m, _)| (*p, *m)).collect::<Vec<_>>()),
    );
    let _ = writeln!(out.data, "{line}");
}

fn part_large(setup: &Setup, out: &mut Out, runs: usize, large: &Path, large_mib: usize) {
    let mib = large_mib as f64;
    let rc = [addr(1), addr(2), addr(3)];
    let peers = out.peers.clone();
    setup.pgpsendmail(WIDE, large, &rc);
    let (ours, theirs) = against(
        runs,
        &peers,
        || setup.pgpsendmail(WIDE, large, &rc),
        |p| setup.peer(p, WIDE, large, &rc),
    );
    let case = format!("{large_mib} MiB, 3 rcpts");
    let w: Vec<_> = theirs
        .iter()
        .map(|(p, r)| (*p, format!("{:.0}", mib / r.wall), r.wall / ours.wall))
        .collect();
    out.row(
        &case,
        &format!("MiB/s, wall (median of {runs})"),
        format!("{:.0}", mib / ours.wall),
        &w,
    );
    let c: Vec<_> = theirs
        .iter()
        .map(|(p, r)| (*p, format!("{:.0}", mib / r.cpu), r.cpu / ours.cpu))
        .collect();
    out.row(
        &case,
        "MiB/s of CPU time (median)",
        format!("{:.0}", mib / ours.cpu),
        &c,
    );
    let mem = |r: &Run| r.rss_kib as f64 / 1024.0;
    let m: Vec<_> = theirs
        .iter()
        .map(|(p, r)| (*p, format!("{:.1} MiB", mem(r)), mem(r) / mem(&ours)))
        .collect();
    out.row(
        &case,
        "peak resident memory",
        format!("{:.1} MiB", mem(&ours)),
        &m,
    );
    let line = format!(
        "large {:.2} {:.2} {} {}",
        mib / ours.wall,
        mem(&ours),
        out.per_peer(
            &theirs
                .iter()
                .map(|(p, r)| (*p, mib / r.wall))
                .collect::<Vec<_>>()
        ),
        out.per_peer(&theirs.iter().map(|(p, r)| (*p, mem(r))).collect::<Vec<_>>()),
    );
    let _ = writeln!(out.data, "{line}");
}

fn part_ceiling(out: &mut Out, runs: usize, large: &Path, large_mib: usize) {
    let mib = large_mib as f64;
    let key = "00".repeat(32);
    let iv = "00".repeat(16);
    let enc = [
        "enc",
        "-aes-256-cfb",
        "-K",
        &key,
        "-iv",
        &iv,
        "-out",
        "/dev/null",
    ];
    let dgst = ["dgst", "-sha1"];
    let [aes, sha] = paired(runs, || openssl(&enc, large), || openssl(&dgst, large));
    for (name, r) in [
        ("openssl enc -aes-256-cfb", aes),
        ("openssl dgst -sha1", sha),
    ] {
        let mut line = format!(
            "| {large_mib} MiB, ceiling | {name}: MiB/s wall (CPU) | {:.0} ({:.0}) |",
            mib / r.wall,
            mib / r.cpu
        );
        line.push_str(&" | |".repeat(PEERS.len()));
        println!("{line}");
        let _ = writeln!(out.table, "{line}");
    }
    let _ = writeln!(
        out.data,
        "ceiling {:.2} {:.2}",
        mib / aes.wall,
        mib / sha.wall
    );
}

/// The rows (and data line) of the hidden copies: all copies, one copy, their ratio.
fn bcc_rows(
    out: &mut Out,
    r: usize,
    (ours_bcc, ours_one): (Run, Run),
    theirs: &[(Peer, Run, Run)],
) {
    let case = "10 MiB, 1 To + 50 Bcc (51 copies)";
    let msf = |r: &Run| format!("{:.0} ms", r.wall * 1e3);
    let b: Vec<_> = theirs
        .iter()
        .map(|(p, b, _)| (*p, msf(b), b.wall / ours_bcc.wall))
        .collect();
    out.row(
        case,
        &format!("wall, all copies (median of {r}; peers 3)"),
        msf(&ours_bcc),
        &b,
    );
    let o: Vec<_> = theirs
        .iter()
        .map(|(p, _, o)| (*p, msf(o), o.wall / ours_one.wall))
        .collect();
    out.row("10 MiB, 1 rcpt", "wall, one copy", msf(&ours_one), &o);
    let ours_x = ours_bcc.wall / ours_one.wall;
    let x: Vec<_> = theirs
        .iter()
        .map(|(p, b, o)| {
            let x = b.wall / o.wall;
            (*p, format!("{x:.2}×"), x / ours_x)
        })
        .collect();
    out.row(
        "51 copies / 1 copy",
        "cost of the hidden copies",
        format!("{ours_x:.2}×"),
        &x,
    );
    let line = format!(
        "bcc {:.2} {:.2} {} {}",
        ours_one.wall * 1e3,
        ours_bcc.wall * 1e3,
        out.per_peer(
            &theirs
                .iter()
                .map(|(p, _, o)| (*p, o.wall * 1e3))
                .collect::<Vec<_>>()
        ),
        out.per_peer(
            &theirs
                .iter()
                .map(|(p, b, _)| (*p, b.wall * 1e3))
                .collect::<Vec<_>>()
        ),
    );
    let _ = writeln!(out.data, "{line}");
}

fn part_bcc(setup: &Setup, out: &mut Out, runs: usize) {
    let work = &setup.work;
    let bcc = work.join("bcc.eml");
    let one = work.join("one.eml");
    let hidden: Vec<String> = (1..=50).map(addr).collect();
    let head = |bcc: &str| {
        format!(
            "From: list@bench.example\nTo: {}\n{bcc}Subject: the newsletter\n",
            addr(0)
        )
    };
    make_message(
        &bcc,
        &head(&format!("Bcc: {}\n", hidden.join(", "))),
        10 << 20,
        true,
    );
    make_message(&one, &head(""), 10 << 20, true);
    let all: Vec<String> = std::iter::once(addr(0)).chain(hidden.clone()).collect();
    let rc1 = [addr(0)];
    let r = runs.max(5);
    let (mut own_bcc, mut own_one) = (Vec::new(), Vec::new());
    let [ours_bcc, ours_one] = paired(
        r,
        || {
            let (run, own) = setup.pgpsendmail_own(WIDE, &bcc, &all);
            own_bcc.push(own);
            run
        },
        || {
            let (run, own) = setup.pgpsendmail_own(WIDE, &one, &rc1);
            own_one.push(own);
            run
        },
    );
    let own = (median(own_bcc), median(own_one));
    // The peers: one pipeline per copy, as a user must to keep Bcc recipients hidden.
    let copies = |p: Peer| {
        let mut sum = setup.peer(p, WIDE, &bcc, &rc1);
        for h in &hidden {
            let x = setup.peer(p, WIDE, &bcc, std::slice::from_ref(h));
            sum.wall += x.wall;
            sum.cpu += x.cpu;
        }
        sum
    };
    let peers = out.peers.clone();
    let theirs: Vec<(Peer, Run, Run)> = peers
        .iter()
        .map(|&p| {
            let [b, o] = paired(3, || copies(p), || setup.peer(p, WIDE, &one, &rc1));
            (p, b, o)
        })
        .collect();
    bcc_rows(out, r, (ours_bcc, ours_one), &theirs);
    own_cpu_row(out, own);
}

/// pgpsendmail's own CPU for the 51 copies and for one, the sinks' taken out (the peers'
/// pipelines are not split so).
fn own_cpu_row(out: &mut Out, (bcc, one): (f64, f64)) {
    let mut line = format!(
        "| 51 copies / 1 copy | pgpsendmail's own CPU, its sinks' taken out (median) | \
         {:.0} ms / {:.0} ms = {:.2}× |",
        bcc * 1e3,
        one * 1e3,
        bcc / one
    );
    for _ in PEERS {
        line.push_str(" not split | |");
    }
    println!("{line}");
    let _ = writeln!(out.table, "{line}");
}

/// The peers that are installed (of those `BENCH_PEERS` names, default all); each missing
/// or left-out one is named, loudly, and skipped.
fn find_peers() -> (Vec<Peer>, String) {
    let mut found = Vec::new();
    let mut versions = Vec::new();
    let wanted = std::env::var("BENCH_PEERS").unwrap_or_else(|_| "gpg,sq,rnp".into());
    for p in PEERS {
        if !wanted.split(',').any(|w| w.trim() == p.name()) {
            eprintln!("bench: SKIPPED: {}: not in BENCH_PEERS", p.name());
            continue;
        }
        match p.version() {
            Some(v) => {
                found.push(p);
                versions.push(v);
            }
            None => eprintln!(
                "bench: SKIPPED: {} is not installed (Debian package {}); its columns say \
                 \"skipped\"",
                p.name(),
                match p {
                    Peer::Gpg => "gnupg",
                    Peer::Sq => "sq",
                    Peer::Rnp => "rnp",
                }
            ),
        }
    }
    (found, versions.join("; "))
}

/// Keyring `n`, the same certificates for GnuPG and RNP, and pgpsendmail's configuration.
fn ensure_keys(exe_dir: &Path, setup: &Setup, n: usize, peers: &[Peer]) {
    if !ring(n).exists() {
        let st = Command::new(exe_dir.join("bench_keys"))
            .args(["--make", &n.to_string()])
            .status()
            .expect("bench_keys runs");
        assert!(st.success());
    }
    if peers.contains(&Peer::Gpg) {
        ensure_gpg_home(n);
    }
    if peers.contains(&Peer::Rnp) {
        ensure_rnp_home(n);
    }
    let cache = setup.work.join(format!("cache-{n}"));
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(
        setup.work.join(format!("{n}.toml")),
        format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\ncache_dir = \"{}\"\n{SINK_RUNS}",
            setup.sink.display(),
            ring(n).display(),
            cache.display()
        ),
    )
    .unwrap();
}

fn main() {
    if !runs("openssl", "version") {
        eprintln!("bench: openssl is needed (see bench/README.md)");
        std::process::exit(69);
    }
    let (peers, versions) = find_peers();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let part = |p: &str| only.is_empty() || only == p;
    let runs = env_num("BENCH_RUNS", 15).max(1);
    let large_runs = (runs / 3).max(3);
    let messages = env_num("BENCH_MESSAGES", 1000).max(1);
    let budget = Duration::from_secs(env_num("BENCH_BATCH_SECONDS", 60) as u64);
    let large_mib = env_num("BENCH_LARGE_MIB", 256).max(1);

    let exe_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = root.join("target/bench");
    std::fs::create_dir_all(&work).unwrap();
    let setup = Setup {
        sink: exe_dir.join("bench_sink"),
        pgpsendmail: exe_dir.parent().unwrap().join("pgpsendmail"),
        work: work.clone(),
    };
    for p in [&setup.sink, &setup.pgpsendmail] {
        assert!(p.exists(), "{} missing: run `make bench`", p.display());
    }
    let mut sizes: Vec<usize> = Vec::new();
    if part("small") {
        sizes.extend(cert_sizes());
    }
    if part("large") || part("bcc") {
        sizes.push(WIDE);
    }
    for &n in &sizes {
        ensure_keys(&exe_dir, &setup, n, &peers);
    }

    let machine = format!("{}; {versions}", machine("load average at start"));
    let mut out = Out {
        table: format!(
            "{machine}\n\n| case | measure | pgpsendmail | gpg | × | sq | × | rnp | × |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|\n"
        ),
        data: String::new(),
        peers,
    };
    println!("{}", out.table.trim_end());
    let save = |out: &Out| {
        std::fs::write(work.join("table.md"), &out.table).unwrap();
        std::fs::write(work.join("data.txt"), &out.data).unwrap();
    };
    if part("small") {
        part_small(&setup, &mut out, runs, messages, budget);
        save(&out);
    }
    let large = work.join(format!("large-{large_mib}.eml"));
    if part("large") || part("ceiling") || part("signed") {
        let to = format!("To: {}, {}, {}\n", addr(1), addr(2), addr(3));
        let head = format!("From: backup@bench.example\n{to}Subject: the weekly archive\n");
        make_message(&large, &head, large_mib << 20, true);
    }
    if part("large") {
        part_large(&setup, &mut out, large_runs, &large, large_mib);
        save(&out);
    }
    // The rows of signed_rows and seipd_v2_rows keep the gpg-only columns.
    if part("signed") {
        signed_rows(&setup, &large, large_mib as f64, large_runs, &mut out.table);
        save(&out);
    }
    if part("v2") {
        let size = large_mib << 20;
        seipd_v2_rows(&setup, size, large_runs, &mut out.table, &mut out.data);
        save(&out);
    }
    if part("ceiling") {
        part_ceiling(&mut out, large_runs, &large, large_mib);
        save(&out);
    }
    if part("bcc") {
        part_bcc(&setup, &mut out, large_runs);
        save(&out);
    }
    println!(
        "(table in {}, data in {})",
        work.join("table.md").display(),
        work.join("data.txt").display()
    );
    plot(&root, &work);
}

/// SEIPD v2 next to our own SEIPD v1 (docs/message.md, rule 8): a large message (`size`
/// bytes, as the large part's, but To its own three recipients), in runs taken in turn, with the certificates of [`seipd_configs`]. Rows:
/// MiB/s of wall and of CPU time, and each row's wall ratio to SEIPD v1; then the same
/// formats in-process ([`seipd_packet_rows`]), to tell the cipher from the rest.
fn seipd_v2_rows(setup: &Setup, size: usize, runs: usize, table: &mut String, data: &mut String) {
    let rcpts: Vec<String> = (1..=3).map(|i| format!("v2-{i}@bench.example")).collect();
    let large = &setup.work.join(format!("large-v2-{}.eml", size >> 20));
    let head = format!(
        "From: backup@bench.example\nTo: {}\nSubject: the weekly archive\n",
        rcpts.join(", ")
    );
    make_message(large, &head, size, true);
    let configs = seipd_configs(setup, &rcpts);
    let one = |config: &Path| {
        let mut c = Command::new(&setup.pgpsendmail);
        c.env("PGPSENDMAIL_CONFIG", config)
            .arg("-i")
            .args(&rcpts)
            .stdin(input(large));
        timed(c, "pgpsendmail (SEIPD v2 row)")
    };
    // Warm-up: builds each key index, fills the page cache.
    for (_, c) in &configs {
        one(c);
    }
    let mut walls = vec![Vec::new(); configs.len()];
    let mut cpus = vec![Vec::new(); configs.len()];
    for _ in 0..runs {
        for (i, (_, c)) in configs.iter().enumerate() {
            let r = one(c);
            walls[i].push(r.wall);
            cpus[i].push(r.cpu);
        }
    }
    let mib = std::fs::metadata(large).unwrap().len() as f64 / (1 << 20) as f64;
    let v1_wall = median(walls[0].clone());
    for (i, (name, _)) in configs.iter().enumerate() {
        let (wall, cpu) = (median(walls[i].clone()), median(cpus[i].clone()));
        let line = format!(
            "| {mib:.0} MiB, 3 rcpts, {name} | MiB/s wall (CPU), median of {runs}; ratio to v1 | {:.0} ({:.0}) | | {:.2}× |",
            mib / wall,
            mib / cpu,
            v1_wall / wall
        );
        println!("{line}");
        let _ = writeln!(table, "{line}");
        let _ = writeln!(data, "seipd {i} {:.2} {:.2}", mib / wall, mib / cpu);
    }
    seipd_packet_rows(mib.round().max(1.0) as usize, runs, table);
}

/// For [`seipd_v2_rows`]: one configuration per format, each with three certificates for
/// `rcpts` made by the pgp crate (target/bench/v2-N/): version 4 Curve25519 ones without
/// SEIPD v2 (SEIPD v1, AES-256), and version 6 Ed25519/X25519 ones whose AEAD preference
/// is AES-256 with OCB, GCM or EAX (SEIPD v2 in that suite). Returns (format, config).
fn seipd_configs(setup: &Setup, rcpts: &[String]) -> Vec<(&'static str, PathBuf)> {
    use pgp::composed::{
        ArmorOptions, EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
        SubkeyParamsBuilder,
    };
    use pgp::crypto::aead::AeadAlgorithm::{self, Eax, Gcm, Ocb};
    use pgp::crypto::{ecc_curve::ECCCurve, sym::SymmetricKeyAlgorithm::AES256};
    use pgp::types::KeyVersion;
    let cert = |uid: &str, mode: Option<AeadAlgorithm>| -> String {
        let (v, sign, enc) = match mode {
            None => (
                KeyVersion::V4,
                KeyType::Ed25519Legacy,
                KeyType::ECDH(ECCCurve::Curve25519Legacy),
            ),
            Some(_) => (KeyVersion::V6, KeyType::Ed25519, KeyType::X25519),
        };
        let sub = SubkeyParamsBuilder::default()
            .version(v)
            .key_type(enc)
            .can_encrypt(EncryptionCaps::All)
            .build()
            .unwrap();
        let sec = SecretKeyParamsBuilder::default()
            .version(v)
            .key_type(sign)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(uid.into())
            .preferred_aead_algorithms(mode.iter().map(|m| (AES256, *m)).collect())
            .subkey(sub)
            .build()
            .unwrap()
            .generate(rand::thread_rng())
            .unwrap();
        let public = SignedPublicKey::from(sec);
        public.to_armored_string(ArmorOptions::default()).unwrap()
    };
    let variants = [
        ("SEIPD v1, AES-256", None),
        ("SEIPD v2, AES-256/OCB", Some(Ocb)),
        ("SEIPD v2, AES-256/GCM", Some(Gcm)),
        ("SEIPD v2, AES-256/EAX", Some(Eax)),
    ];
    let mut configs = Vec::new();
    for (i, (name, mode)) in variants.into_iter().enumerate() {
        let dir = setup.work.join(format!("v2-{i}"));
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        std::fs::create_dir_all(dir.join("cache")).unwrap();
        let certs: String = rcpts
            .iter()
            .map(|r| cert(&format!("<{r}>"), mode))
            .collect();
        std::fs::write(dir.join("keys/certs.asc"), certs).unwrap();
        let config = dir.join("pgpsendmail.toml");
        let text = format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\ncache_dir = \"{}\"\n{SINK_RUNS}",
            setup.sink.display(),
            dir.join("keys").display(),
            dir.join("cache").display()
        );
        std::fs::write(&config, text).unwrap();
        configs.push((name, config));
    }
    configs
}

/// For [`seipd_v2_rows`]: the SEIPD packet alone, in-process, over `mib` MiB of input
/// from memory to nowhere, then with the armor on the same thread (what the second thread
/// of `encrypt.rs` does): MiB/s of wall and of this process's CPU time, best of `runs`.
fn seipd_packet_rows(mib: usize, runs: usize, table: &mut String) {
    use pgp::crypto::aead::AeadAlgorithm::{Eax, Gcm, Ocb};
    use pgp::crypto::sym::SymmetricKeyAlgorithm::AES256;
    use pgpsendmail::openpgp::{armor::ArmorWriter, seipd, seipd2};
    use std::io::Read as _;
    let cpu = || {
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        cpu_of(&ru)
    };
    let key = [7u8; 32];
    for armored in [false, true] {
        for (name, mode) in [
            ("v1", None),
            ("v2 OCB", Some(Ocb)),
            ("v2 GCM", Some(Gcm)),
            ("v2 EAX", Some(Eax)),
        ] {
            let (mut best_wall, mut best_cpu) = (f64::MAX, f64::MAX);
            for _ in 0..runs {
                let input = std::io::repeat(0x41).take((mib as u64) << 20);
                let mut rng = rand::thread_rng();
                let (t, c) = (Instant::now(), cpu());
                let out: Box<dyn Write + Send> = if armored {
                    Box::new(ArmorWriter::new(std::io::sink()).unwrap())
                } else {
                    Box::new(std::io::sink())
                };
                let ok = match mode {
                    None => seipd::write_seipd_v1(&mut rng, AES256, &key, input, None, out).is_ok(),
                    Some(m) => {
                        seipd2::write_seipd_v2(&mut rng, AES256, m, &key, input, None, out).is_ok()
                    }
                };
                assert!(ok, "the {name} packet");
                best_wall = best_wall.min(t.elapsed().as_secs_f64());
                best_cpu = best_cpu.min(cpu() - c);
            }
            let what = if armored {
                "packet + armor, one thread"
            } else {
                "packet only"
            };
            let line = format!(
                "| {mib} MiB in-process, SEIPD {name} | {what}: MiB/s wall (CPU), best of {runs} | {:.0} ({:.0}) | | |",
                mib as f64 / best_wall,
                mib as f64 / best_cpu
            );
            println!("{line}");
            let _ = writeln!(table, "{line}");
        }
    }
}

/// The PNG, from the data just measured (needs gnuplot; skipped without it).
fn plot(root: &Path, work: &Path) {
    let script = root.join("bench/plot.gp");
    let out = work.join("results.png");
    let st = Command::new("gnuplot")
        .arg("-e")
        .arg(format!(
            "datafile='{}'; outfile='{}'",
            work.join("data.txt").display(),
            out.display()
        ))
        .arg(&script)
        .status();
    match st {
        Ok(s) if s.success() => println!("plot: {}", out.display()),
        Ok(s) => eprintln!("bench: gnuplot failed ({s}); no plot"),
        Err(_) => eprintln!("bench: gnuplot not found; no plot (the table is complete)"),
    }
}

/// The host signature's rows (`sign_key`, issue 16): the large message to one recipient,
/// pgpsendmail signed against `gpg --sign --encrypt ... | sink`, and signed against unsigned
/// pgpsendmail (the signature's cost). Its own keys, made by gpg under target/bench/signed/:
/// an Ed25519 host key without a passphrase and an Ed25519 + Cv25519 recipient.
fn signed_rows(setup: &Setup, large: &Path, mib: f64, runs: usize, table: &mut String) {
    let dir = setup.work.join("signed");
    let home = dir.join("gnupg");
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args([
                "--batch",
                "--quiet",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .expect("gpg runs");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let (host, rcpt) = ("host@bench.example", addr(1));
    if !dir.join("host.key").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        gpg(&["--quick-gen-key", host, "ed25519", "sign", "never"]);
        gpg(&["--quick-gen-key", &rcpt, "ed25519", "sign,cert", "never"]);
        let fpr = String::from_utf8(gpg(&["--with-colons", "--list-keys", &rcpt])).unwrap();
        let fpr = fpr
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .unwrap()
            .split(':')
            .nth(9)
            .unwrap()
            .to_string();
        gpg(&["--quick-add-key", &fpr, "cv25519", "encr", "never"]);
        std::fs::write(
            dir.join("keys/rcpt.asc"),
            gpg(&["--armor", "--export", &rcpt]),
        )
        .unwrap();
        let key = dir.join("host.key");
        std::fs::write(&key, gpg(&["--armor", "--export-secret-keys", host])).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for (name, extra) in [
        (
            "signed",
            format!("sign_key = \"{}\"\n", dir.join("host.key").display()),
        ),
        ("unsigned", String::new()),
    ] {
        let conf = format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\n{SINK_RUNS}{extra}",
            setup.sink.display(),
            dir.join("keys").display()
        );
        std::fs::write(dir.join(format!("{name}.toml")), conf).unwrap();
    }
    let ours = |name: &str| {
        let mut c = Command::new(&setup.pgpsendmail);
        c.env("PGPSENDMAIL_CONFIG", dir.join(format!("{name}.toml")))
            .args(["-i", &rcpt])
            .stdin(input(large));
        timed(c, &format!("pgpsendmail ({name})"))
    };
    let theirs = || {
        let t = Instant::now();
        let mut g = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--quiet", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(GPG_ARGS)
            .args(["--sign", "-u", host, "-r", &rcpt])
            .stdin(input(large))
            .stdout(Stdio::piped())
            .spawn()
            .expect("gpg runs");
        let pipe = g.stdout.take().unwrap();
        let s = Command::new(&setup.sink)
            .args(["-i", &rcpt])
            .stdin(pipe)
            .spawn()
            .expect("sink runs");
        let ((gs, gru), (ss, sru)) = (wait4(g), wait4(s));
        assert!(gs == 0 && ss == 0, "gpg --sign --encrypt failed");
        Run {
            wall: t.elapsed().as_secs_f64(),
            cpu: cpu_of(&gru) + cpu_of(&sru),
            rss_kib: gru.ru_maxrss.max(sru.ru_maxrss),
        }
    };
    ours("signed");
    let [signed, gpg_signed] = paired(runs, || ours("signed"), theirs);
    let [signed2, unsigned] = paired(runs, || ours("signed"), || ours("unsigned"));
    let case = format!("{mib:.0} MiB, 1 rcpt, signed (SEIPD v1)");
    let mut row = |what: &str, a: f64, b: f64, ratio: f64| {
        let line = format!("| {case} | {what} | {a:.0} | {b:.0} | {ratio:.2}× |");
        println!("{line}");
        let _ = writeln!(table, "{line}");
    };
    row(
        &format!("MiB/s, wall (median of {runs}), vs gpg --sign --encrypt"),
        mib / signed.wall,
        mib / gpg_signed.wall,
        gpg_signed.wall / signed.wall,
    );
    row(
        "MiB/s of CPU time (median), vs gpg --sign --encrypt",
        mib / signed.cpu,
        mib / gpg_signed.cpu,
        gpg_signed.cpu / signed.cpu,
    );
    let cost = 100.0 * (1.0 - unsigned.wall / signed2.wall);
    let line = format!(
        "| {case} | MiB/s, wall: signed vs our unsigned | {:.0} | {:.0} (unsigned) | signing costs {cost:.1}% |",
        mib / signed2.wall,
        mib / unsigned.wall
    );
    println!("{line}");
    let _ = writeln!(table, "{line}");
    let cost = 100.0 * (1.0 - unsigned.cpu / signed2.cpu);
    let line = format!(
        "| {case} | MiB/s of CPU time: signed vs our unsigned | {:.0} | {:.0} (unsigned) | signing costs {cost:.1}% |",
        mib / signed2.cpu,
        mib / unsigned.cpu
    );
    println!("{line}");
    let _ = writeln!(table, "{line}");
}
