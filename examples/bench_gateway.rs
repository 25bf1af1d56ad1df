//! `make bench-gateway`: pgpsendmail as the encryption stage of a Postfix relay, against no
//! filter and against the design of the MTA filters that run gpg per message, in one run.
//!
//! Postfix's own load tools drive one private Postfix instance on loopback (its own
//! `MAIL_CONFIG`, queue and data directories under target/bench-gateway/, never the
//! system's), which has four front `smtpd` listeners, one per setup:
//! (a) no filter; (b) `pgpsendmail serve` before the queue (`smtpd_proxy_filter`, the recipe
//! of pgpsendmail(8), SERVE, "Postfix before the queue"); (c) a pipe(8) transport running the
//! sendmail face `pgpsendmail -f ${sender} -- ${recipient}` (SERVE, "Postfix with pipe(8)");
//! (d) a pipe(8) transport running `gpg --encrypt --armor ... | sendmail`. (c) and (d) submit
//! their output with msmtp to the reinjection smtpd of (b), not with Postfix's sendmail: see
//! [`reinject_script`]. Every message ends at an `smtp-sink` on another loopback port.
//!
//! For each message size, recipient count and number of concurrent sessions, the four setups
//! run one after the other (so that the machine's load falls on all alike):
//! - throughput: `smtp-source -s SESSIONS -m N`, timed until the sink has every message
//!   (from Postfix's log); messages/s, and CPU per message of Postfix, its children (pipe,
//!   pgpsendmail, sh, gpg, sendmail) and `pgpsendmail serve` (from /proc; the load tools
//!   are not counted);
//! - latency: one probe session of its own, beside SESSIONS-1 `smtp-source` sessions, sends
//!   messages one after another; each message's latency runs from its connection to its
//!   arrival at a second, capturing `smtp-sink` (Postfix routes the probe's sender there),
//!   p50 and p99, and "added" is the difference to (a) in the same cell.
//!
//! It also checks, once per setup, that the probe's copy reached the sink encrypted (setups
//! b, c and d) and that the body is nowhere in it.
//!
//! Needs root (Postfix), Postfix with `smtp-source` and `smtp-sink`, `gpg`, a release build
//! (`make bench-gateway`), and `gnuplot` for the plot (skipped without it). Output: the table
//! on stdout and in target/bench-gateway/table.md, the numbers in data.txt there, the plot
//! (bench/plot_gateway.gp) in results.png there.
//!
//! Environment: `BENCH_GW_MESSAGES` (messages per throughput phase for 10 KiB, default 300;
//! 1 MiB gets a fifth), `BENCH_GW_PROBES` (probe messages per latency phase for 10 KiB,
//! default 100; 1 MiB a fifth), `BENCH_GW_SESSIONS` (default `1,10,50`), `BENCH_GW_SIZES`
//! (KiB, default `10,1024`), `BENCH_GW_RCPTS` (default `1,5`).

#[path = "shared/machine.rs"]
mod machine;

use machine::machine;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The setups, in the order each cell runs them.
const SETUPS: [Setup; 4] = [Setup::Plain, Setup::Serve, Setup::PipeFace, Setup::PipeGpg];
/// The envelope sender of the load; the probe's is `pN@probe.bench.example`.
const SENDER: &str = "load@bench.example";
/// The first recipient; smtp-source makes the others by prepending 2, 3, ... to it.
const RCPT: &str = "user@bench.example";
/// Body text: it must never reach the sink in setups b, c and d.
const BODY_LINE: &str = "line of the nightly gateway report: all checks passed";
/// How long one phase may wait for its messages.
const PHASE_LIMIT: Duration = Duration::from_secs(300);
/// The same gpg options as `make bench` (examples/bench.rs).
const GPG_ARGS: &str = "--cipher-algo AES256 --batch --trust-model always --encrypt --armor \
                        --compress-algo none";

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Setup {
    Plain,
    Serve,
    PipeFace,
    PipeGpg,
}

impl Setup {
    fn label(self) -> &'static str {
        match self {
            Setup::Plain => "(a) no filter",
            Setup::Serve => "(b) serve, before the queue",
            Setup::PipeFace => "(c) pipe: pgpsendmail",
            Setup::PipeGpg => "(d) pipe: gpg | sendmail",
        }
    }
}

/// One phase's result for one setup in one cell.
#[derive(Clone, Copy, Default)]
struct Measured {
    mps: f64,
    cpu_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    client_p99_ms: f64,
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) => v.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        Err(_) => default.to_vec(),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn run_quiet(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chown_nobody(p: &Path) {
    run_quiet(
        Command::new("chown").args(["-R", "nobody:nogroup"]).arg(p),
        "chown",
    );
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while !done() {
        if t.elapsed() > limit {
            eprintln!("bench-gateway: timed out waiting for {what}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn connects(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The recipients smtp-source sends to with `-r n`: user@, 2user@, ... (its own naming).
fn recipients(n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| {
            if i == 1 {
                RCPT.to_string()
            } else {
                format!("{i}{RCPT}")
            }
        })
        .collect()
}

/// Five recipients' keys: a GnuPG home for gpg (owned by nobody, whom pipe(8) runs it as)
/// and the same certificates as a binary keyring for pgpsendmail.
fn make_keys(dir: &Path) -> (PathBuf, PathBuf) {
    let scratch = dir.join("gnupg-scratch");
    let home = dir.join("gnupg");
    let ring = dir.join("ring.gpg");
    if home.join("pubring.kbx").exists() && ring.exists() {
        return (home, ring);
    }
    for d in [&scratch, &home] {
        let _ = std::fs::remove_dir_all(d);
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    let gpg = |h: &Path| {
        let mut c = Command::new("gpg");
        c.arg("--homedir").arg(h).args(["--batch", "--quiet"]);
        c
    };
    for r in recipients(5) {
        run_quiet(
            gpg(&scratch)
                .args(["--passphrase", "", "--pinentry-mode", "loopback"])
                .args(["--quick-gen-key", &format!("<{r}>"), "future-default"])
                .args(["default", "never"]),
            "gpg --quick-gen-key",
        );
    }
    let out = gpg(&scratch)
        .arg("--export")
        .output()
        .expect("gpg --export");
    std::fs::write(&ring, &out.stdout).unwrap();
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&scratch)
        .args(["--kill", "gpg-agent"])
        .status();
    run_quiet(gpg(&home).arg("--import").arg(&ring), "gpg --import");
    chown_nobody(&home);
    (home, ring)
}

/// A message of about `size` bytes whose To names all `rcpts`, so that every setup makes
/// one copy for all of them.
fn make_message(path: &Path, size: usize, rcpts: &[String]) {
    let mut m = format!(
        "From: {SENDER}\nTo: {}\nSubject: gateway report\nMessage-ID: <bench@bench.example>\n\n",
        rcpts.join(", ")
    );
    let mut i = 0;
    while m.len() < size {
        let _ = writeln!(m, "{i:06} {BODY_LINE}");
        i += 1;
    }
    std::fs::write(path, m).unwrap();
}

/// The private Postfix, the gateway, the sinks; everything stops when this is dropped.
struct Rig {
    root: PathBuf,
    etc: PathBuf,
    ports: HashMap<Setup, u16>,
    master_pid: i32,
    serve: Child,
    sink: Child,
    probe_sink: Child,
    probe_dir: PathBuf,
    log_offset: u64,
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(&self.etc)
            .arg("stop")
            .output();
        for c in [&mut self.serve, &mut self.sink, &mut self.probe_sink] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The pipe(8) script of setup (d): what zeyple-like filters do, one gpg per message.
fn gpg_script(home: &Path, port: u16) -> String {
    format!(
        "#!/bin/sh\n# Setup (d) of make bench-gateway: gpg to every recipient, then sendmail.\n\
         sender=\"$1\"; shift\nr=\"\"\nfor a in \"$@\"; do r=\"$r -r $a\"; done\n\
         {{ printf 'Subject: [encrypted]\\n\\n'; gpg --homedir {} --no-autostart --quiet \
         {GPG_ARGS} $r || exit 75; }} | /usr/bin/msmtp --host=127.0.0.1 --port={port} -i \
         -f \"$sender\" -- \"$@\"\n",
        home.display()
    )
}

fn main_cf(root: &Path, etc: &Path, sink: u16, face_config: &Path) -> String {
    format!(
        "compatibility_level = 3.6\n\
         queue_directory = {r}/queue\n\
         data_directory = {r}/data\n\
         mail_owner = postfix\n\
         setgid_group = postdrop\n\
         myhostname = relay.bench.example\n\
         mydomain = bench.example\n\
         myorigin = bench.example\n\
         mydestination =\n\
         inet_interfaces = 127.0.0.1\n\
         inet_protocols = ipv4\n\
         mynetworks = 127.0.0.0/8\n\
         relayhost = [127.0.0.1]:{sink}\n\
         sender_dependent_relayhost_maps = texthash:{e}/probe_relay\n\
         smtp_dns_support_level = disabled\n\
         alias_maps =\n\
         alias_database =\n\
         smtputf8_enable = no\n\
         import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C \
           POSTLOG_SERVICE POSTLOG_HOSTNAME PGPSENDMAIL_CONFIG={f}\n\
         export_environment = TZ MAIL_CONFIG LANG PGPSENDMAIL_CONFIG\n\
         maillog_file_prefixes = {r}\n\
         maillog_file = {r}/maillog\n",
        r = root.display(),
        e = etc.display(),
        f = face_config.display(),
    )
}

/// master.cf: the four front listeners, the reinjection smtpd of (b), the two pipes, and
/// the daemons (no chroot: the queue is not a jail here).
fn master_cf(ports: &HashMap<Setup, u16>, gw: [u16; 2], face: &Path, script: &Path) -> String {
    let [f, reinject] = gw;
    let p = |s| ports[&s];
    format!(
        "127.0.0.1:{a} inet n - n - 50 smtpd\n\
         127.0.0.1:{b} inet n - n - 50 smtpd\n\
         \x20 -o smtpd_proxy_filter=127.0.0.1:{f}\n\
         127.0.0.1:{reinject} inet n - n - - smtpd\n\
         \x20 -o smtpd_proxy_filter=\n\
         \x20 -o smtpd_authorized_xforward_hosts=127.0.0.0/8\n\
         \x20 -o smtpd_client_restrictions=\n\
         \x20 -o smtpd_helo_restrictions=\n\
         \x20 -o smtpd_sender_restrictions=\n\
         \x20 -o smtpd_relay_restrictions=permit_mynetworks,reject\n\
         \x20 -o smtpd_recipient_restrictions=permit_mynetworks,reject\n\
         \x20 -o smtpd_data_restrictions=\n\
         \x20 -o mynetworks=127.0.0.0/8\n\
         \x20 -o receive_override_options=no_unknown_recipient_checks\n\
         127.0.0.1:{c} inet n - n - 50 smtpd\n\
         \x20 -o content_filter=pgpsendmail:dummy\n\
         127.0.0.1:{d} inet n - n - 50 smtpd\n\
         \x20 -o content_filter=gpgpipe:dummy\n\
         pgpsendmail unix - n n - 10 pipe\n\
         \x20 flags=q user=nobody null_sender=\n\
         \x20 argv={face} -f ${{sender}} -- ${{recipient}}\n\
         gpgpipe unix - n n - 10 pipe\n\
         \x20 flags=q user=nobody null_sender=\n\
         \x20 argv={script} ${{sender}} ${{recipient}}\n\
         {DAEMONS}",
        a = p(Setup::Plain),
        b = p(Setup::Serve),
        c = p(Setup::PipeFace),
        d = p(Setup::PipeGpg),
        face = face.display(),
        script = script.display(),
    )
}

/// Postfix's daemons (tests/data/postfix-daemons.cf, shared with the tests) and the two
/// delivery agents the benchmark uses.
const DAEMONS: &str = concat!(
    include_str!("../tests/data/postfix-daemons.cf"),
    "smtp      unix  -       -       n       -       -       smtp\nrelay     unix  -       -       n       -       -       smtp\n"
);

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// Paths and programs the rig is built from.
struct Parts {
    root: PathBuf,
    pgpsendmail: PathBuf,
    gnupg: PathBuf,
    ring: PathBuf,
}

/// A pgpsendmail configuration: the keyring, a cache directory of its own, the real
/// sendmail (msmtp-like, see [`reinject_script`]), and `extra` lines.
fn write_config(path: &Path, p: &Parts, cache: &Path, sendmail: &Path, extra: &str) {
    std::fs::create_dir_all(cache).unwrap();
    std::fs::write(
        path,
        format!(
            "sendmail = \"{}\"\nflavor = \"msmtp\"\nkeyring = [\"{}\"]\n\
             cache_dir = \"{}\"\n{extra}",
            sendmail.display(),
            p.ring.display(),
            cache.display()
        ),
    )
    .unwrap();
}

/// The submission of setups (c) and (d): msmtp into the reinjection smtpd (the next hop of
/// (b) too), since pipe(8) runs its command unprivileged and Postfix's setgid postdrop
/// honours a private `MAIL_CONFIG` only when the system's main.cf lists it
/// (`alternate_config_directories`), which this benchmark never touches.
fn reinject_script(port: u16) -> String {
    format!(
        "#!/bin/sh\n# make bench-gateway: a sendmail that submits to the reinjection smtpd.\n\
         exec /usr/bin/msmtp --host=127.0.0.1 --port={port} \"$@\"\n"
    )
}

/// `smtp-sink` on a free loopback port, as nobody; with `dump`, capturing every message
/// into files in that directory.
fn start_sink(dump: Option<&Path>) -> (Child, u16) {
    let port = free_port();
    let mut c = Command::new("/usr/sbin/smtp-sink");
    c.args(["-u", "nobody", "-m", "512"]);
    if let Some(d) = dump {
        c.args(["-d", "p."]).current_dir(d);
    }
    let child = c
        .arg(format!("127.0.0.1:{port}"))
        .arg("512")
        .stdout(Stdio::null())
        .spawn()
        .expect("smtp-sink runs");
    assert!(
        wait_until("smtp-sink", Duration::from_secs(10), || connects(port)),
        "smtp-sink does not listen"
    );
    (child, port)
}

/// Stops a Postfix left by an interrupted run and starts from empty directories (the data
/// directory is Postfix's to make).
fn fresh_dirs(root: &Path) {
    let _ = Command::new("/usr/sbin/postfix")
        .arg("-c")
        .arg(root.join("etc"))
        .arg("stop")
        .output();
    for d in ["queue", "data", "probe", "etc", "cache-serve", "cache-face"] {
        let _ = std::fs::remove_dir_all(root.join(d));
    }
    for d in ["queue", "probe", "etc"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let _ = std::fs::remove_file(root.join("maillog"));
    chown_nobody(&root.join("probe"));
}

/// The configuration files of Postfix and pgpsendmail, and the scripts; returns the
/// gateway's configuration file. `gw`: serve's port and the reinjection port; `sinks`: the
/// load sink's port and the capturing one's.
fn write_files(p: &Parts, ports: &HashMap<Setup, u16>, gw: [u16; 2], sinks: [u16; 2]) -> PathBuf {
    let (root, etc) = (&p.root, p.root.join("etc"));
    let reinject = root.join("msmtp-reinject");
    write_script(&reinject, &reinject_script(gw[1]));
    let serve_config = root.join("serve.toml");
    let serve_extra = "[serve]\nmax_sessions = 100\n";
    write_config(
        &serve_config,
        p,
        &root.join("cache-serve"),
        &reinject,
        serve_extra,
    );
    let face_config = root.join("face.toml");
    write_config(&face_config, p, &root.join("cache-face"), &reinject, "");
    chown_nobody(&root.join("cache-face"));
    let script = root.join("gpg-pipe.sh");
    write_script(&script, &gpg_script(&p.gnupg, gw[1]));
    let probe_relay = format!("@probe.bench.example [127.0.0.1]:{}\n", sinks[1]);
    std::fs::write(etc.join("probe_relay"), probe_relay).unwrap();
    let main = main_cf(root, &etc, sinks[0], &face_config);
    std::fs::write(etc.join("main.cf"), main).unwrap();
    let master = master_cf(ports, gw, &p.pgpsendmail, &script);
    std::fs::write(etc.join("master.cf"), master).unwrap();
    serve_config
}

impl Rig {
    fn start(p: &Parts) -> Rig {
        let root = p.root.clone();
        let etc = root.join("etc");
        let probe_dir = root.join("probe");
        fresh_dirs(&root);
        let (sink, sink_port) = start_sink(None);
        let (probe_sink, probe_port) = start_sink(Some(&probe_dir));
        let ports: HashMap<Setup, u16> = SETUPS.iter().map(|&s| (s, free_port())).collect();
        let gw = [free_port(), free_port()];
        let serve_config = write_files(p, &ports, gw, [sink_port, probe_port]);
        let serve = Command::new(&p.pgpsendmail)
            .env("PGPSENDMAIL_CONFIG", &serve_config)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", gw[0])])
            .args(["--relay", &format!("127.0.0.1:{}", gw[1])])
            .spawn()
            .expect("pgpsendmail serve runs");
        let mut rig = Rig {
            root: root.clone(),
            etc: etc.clone(),
            ports,
            master_pid: 0,
            serve,
            sink,
            probe_sink,
            probe_dir,
            log_offset: 0,
        };
        run_quiet(
            Command::new("/usr/sbin/postfix")
                .arg("-c")
                .arg(&etc)
                .arg("start"),
            "postfix start",
        );
        let all_up = || rig.ports.values().chain(&gw).all(|&p| connects(p));
        assert!(
            wait_until("the listeners", Duration::from_secs(30), all_up),
            "Postfix or pgpsendmail serve does not listen; see {}/maillog",
            root.display()
        );
        let pid = std::fs::read_to_string(root.join("queue/pid/master.pid")).unwrap();
        rig.master_pid = pid.trim().parse().expect("master.pid");
        rig
    }

    fn maillog(&self) -> String {
        std::fs::read_to_string(self.root.join("maillog")).unwrap_or_default()
    }

    /// Deliveries to the sinks and problems logged since the last call's mark.
    fn log_since_mark(&self) -> (usize, usize) {
        let log = self.maillog();
        let new = log.get(self.log_offset as usize..).unwrap_or("");
        let sent = new
            .lines()
            .filter(|l| l.contains(" postfix/smtp[") && l.contains("status=sent"))
            .count();
        let bad = new
            .lines()
            .filter(|l| l.contains("status=bounced") || l.contains("status=deferred"))
            .count();
        (sent, bad)
    }

    fn mark_log(&mut self) {
        self.log_offset = self.maillog().len() as u64;
    }

    fn queue_empty(&self) -> bool {
        Command::new("/usr/sbin/postqueue")
            .arg("-c")
            .arg(&self.etc)
            .arg("-j")
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout.is_empty())
    }

    /// CPU seconds used so far by Postfix's master and every descendant, and by the
    /// gateway (each with its waited-for children).
    fn cpu(&self) -> f64 {
        tree_cpu(&[self.master_pid, self.serve.id() as i32])
    }

    /// smtp-source against setup `s`: `sessions` at once, `count` messages of `msg`.
    fn source(&self, s: Setup, sessions: usize, count: usize, rcpts: usize, msg: &Path) -> Child {
        Command::new("/usr/sbin/smtp-source")
            .args(["-s", &sessions.to_string(), "-m", &count.to_string()])
            .args(["-r", &rcpts.to_string(), "-f", SENDER, "-t", RCPT])
            .arg("-F")
            .arg(msg)
            .arg(format!("127.0.0.1:{}", self.ports[&s]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smtp-source runs")
    }
}

/// Clock ticks (utime, stime, cutime, cstime) of `roots` and all their descendants.
fn tree_cpu(roots: &[i32]) -> f64 {
    let mut stats: Vec<(i32, i32, u64)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(s) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some(rest) = s.rsplit_once(')').map(|x| x.1) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        let ppid = f.get(1).and_then(|x| x.parse().ok()).unwrap_or(0);
        stats.push((pid, ppid, num(11) + num(12) + num(13) + num(14)));
    }
    let mut inside: Vec<i32> = roots.to_vec();
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, ppid, _) in &stats {
            if inside.contains(ppid) && !inside.contains(pid) {
                inside.push(*pid);
                grew = true;
            }
        }
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let ticks: u64 = stats
        .iter()
        .filter(|(pid, _, _)| inside.contains(pid))
        .map(|s| s.2)
        .sum();
    ticks as f64 / hz
}

fn kill_wait(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

/// Throughput: `count` messages over `sessions` sessions, until the sink has them all.
/// Returns messages/s and CPU ms per message, or `None` when they did not all arrive.
fn throughput(
    rig: &mut Rig,
    s: Setup,
    sessions: usize,
    count: usize,
    rcpts: usize,
    msg: &Path,
) -> Option<(f64, f64)> {
    rig.mark_log();
    let cpu0 = rig.cpu();
    let t = Instant::now();
    let mut src = rig.source(s, sessions, count, rcpts, msg);
    let ok = src.wait().is_ok_and(|st| st.success());
    // Postfix logs one "sent" line per recipient.
    let arrived = wait_until("the sink's deliveries", PHASE_LIMIT, || {
        rig.log_since_mark().0 >= count * rcpts
    });
    let wall = t.elapsed().as_secs_f64();
    let cpu = rig.cpu() - cpu0;
    let (sent, bad) = rig.log_since_mark();
    if !ok || !arrived || bad > 0 {
        eprintln!(
            "bench-gateway: {}: smtp-source ok {ok}, {sent} of {} deliveries, {bad} \
             bounced or deferred",
            s.label(),
            count * rcpts
        );
        return None;
    }
    Some((count as f64 / wall, cpu / count as f64 * 1e3))
}

/// Reads one SMTP reply; its code.
fn reply(r: &mut impl BufRead) -> std::io::Result<u16> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| std::io::Error::other(format!("bad reply {line:?}")));
        }
    }
}

/// One probe message on a connection of its own: from connecting to the 250 after its
/// data. `data` is the message, dot-stuffed, CRLF, with the final dot.
fn probe_once(port: u16, sender: &str, rcpts: &[String], data: &[u8]) -> std::io::Result<()> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = std::io::BufWriter::new(s);
    let mut step = |w: &mut std::io::BufWriter<TcpStream>, cmd: &str, want: u16| {
        w.write_all(cmd.as_bytes())?;
        w.flush()?;
        match reply(&mut r)? {
            c if c == want => Ok(()),
            c => Err(std::io::Error::other(format!("{cmd:?}: {c}"))),
        }
    };
    step(&mut w, "", 220)?;
    step(&mut w, "EHLO probe.bench.example\r\n", 250)?;
    step(&mut w, &format!("MAIL FROM:<{sender}>\r\n"), 250)?;
    for rc in rcpts {
        step(&mut w, &format!("RCPT TO:<{rc}>\r\n"), 250)?;
    }
    step(&mut w, "DATA\r\n", 354)?;
    w.write_all(data)?;
    step(&mut w, "", 250)?;
    let _ = w.write_all(b"QUIT\r\n");
    Ok(())
}

fn smtp_data(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + msg.len() / 32);
    for line in msg.split(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The arrival time of every captured probe message, by its envelope sender.
fn arrivals(dir: &Path) -> HashMap<String, SystemTime> {
    let mut seen: HashMap<String, SystemTime> = HashMap::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let (Ok(m), Ok(f)) = (e.metadata(), std::fs::File::open(e.path())) else {
            continue;
        };
        let from = BufReader::new(f)
            .lines()
            .take(20)
            .map_while(Result::ok)
            .find_map(|l| {
                // "<sender> PARAMS" (some versions write "FROM:<sender>").
                let a = l.strip_prefix("X-Mail-Args: ")?;
                let a = a.split_once('<')?.1;
                Some(a.split('>').next()?.to_string())
            });
        if let (Some(from), Ok(t)) = (from, m.modified()) {
            let slot = seen.entry(from).or_insert(t);
            *slot = (*slot).max(t);
        }
    }
    seen
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// Latency: `probes` messages from the probe session, beside `sessions - 1` smtp-source
/// sessions. Returns (end-to-end p50, p99, client p99) in ms.
#[allow(clippy::too_many_arguments)]
fn latency(
    rig: &mut Rig,
    s: Setup,
    sessions: usize,
    probes: usize,
    rcpts: usize,
    msg: &Path,
    next_id: &mut usize,
) -> Option<(f64, f64, f64)> {
    // Empties the directory, not removes it: it is smtp-sink's working directory.
    for e in std::fs::read_dir(&rig.probe_dir).unwrap().flatten() {
        let _ = std::fs::remove_file(e.path());
    }
    let data = smtp_data(&std::fs::read(msg).unwrap());
    let to = recipients(rcpts);
    let load = (sessions > 1).then(|| rig.source(s, sessions - 1, 1_000_000, rcpts, msg));
    let mut sent: Vec<(String, SystemTime)> = Vec::new();
    let mut client = Vec::new();
    for _ in 0..probes {
        *next_id += 1;
        let sender = format!("p{next_id}@probe.bench.example");
        let t0 = SystemTime::now();
        let t = Instant::now();
        if let Err(e) = probe_once(rig.ports[&s], &sender, &to, &data) {
            eprintln!("bench-gateway: {}: probe: {e}", s.label());
            continue;
        }
        client.push(t.elapsed().as_secs_f64() * 1e3);
        sent.push((sender, t0));
    }
    if let Some(l) = load {
        kill_wait(l);
    }
    let all = wait_until("the probes' arrival", PHASE_LIMIT, || {
        let got = arrivals(&rig.probe_dir);
        sent.iter().all(|(f, _)| got.contains_key(f))
    });
    let got = arrivals(&rig.probe_dir);
    let mut lat: Vec<f64> = sent
        .iter()
        .filter_map(|(f, t0)| got.get(f)?.duration_since(*t0).ok())
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    drain(rig);
    if !all || lat.len() < probes {
        eprintln!(
            "bench-gateway: {}: {} of {probes} probes arrived",
            s.label(),
            lat.len()
        );
        return None;
    }
    Some((
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99),
        percentile(&mut client, 0.99),
    ))
}

/// Waits until the queue is empty (what a phase left behind), so the next starts clean.
fn drain(rig: &Rig) {
    if !wait_until("the queue to drain", PHASE_LIMIT, || rig.queue_empty()) {
        let _ = Command::new("/usr/sbin/postsuper")
            .arg("-c")
            .arg(&rig.etc)
            .args(["-d", "ALL"])
            .output();
    }
}

/// Once per setup: one probe reaches the capturing sink, encrypted unless it is (a).
fn check_setup(rig: &mut Rig, s: Setup, msg: &Path, next_id: &mut usize) {
    latency(rig, s, 1, 1, 5, msg, next_id)
        .unwrap_or_else(|| panic!("{}: the first message did not arrive", s.label()));
    for e in std::fs::read_dir(&rig.probe_dir).unwrap().flatten() {
        let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).to_string();
        let encrypted = text.contains("-----BEGIN PGP MESSAGE-----");
        let clear = text.contains(BODY_LINE);
        assert_eq!(
            (encrypted, clear),
            (s != Setup::Plain, s == Setup::Plain),
            "{}: the copy at the sink (encrypted, readable body):\n{}",
            s.label(),
            &text[..text.len().min(2000)]
        );
    }
}

fn fmt_ms(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// One cell of the grid: every setup, throughput then latency. `None` where a phase failed.
fn cell(
    rig: &mut Rig,
    msg: &Path,
    [size, rcpts, sessions]: [usize; 3],
    [count, probes]: [usize; 2],
    next_id: &mut usize,
) -> Vec<Option<Measured>> {
    SETUPS
        .iter()
        .map(|&s| {
            drain(rig);
            let (mps, cpu_ms) = throughput(rig, s, sessions, count, rcpts, msg)?;
            let (p50_ms, p99_ms, client_p99_ms) =
                latency(rig, s, sessions, probes, rcpts, msg, next_id)?;
            eprintln!(
                "  {size} B, {rcpts} rcpt, {sessions} sessions, {}: {mps:.1} msg/s, \
                 {cpu_ms:.2} ms CPU/msg, p50 {p50_ms:.1} p99 {p99_ms:.1} ms",
                s.label()
            );
            Some(Measured {
                mps,
                cpu_ms,
                p50_ms,
                p99_ms,
                client_p99_ms,
            })
        })
        .collect()
}

/// The table rows of one cell, and its data line for the plot.
fn report(
    [kib, rcpts, sessions]: [usize; 3],
    [count, probes]: [usize; 2],
    r: &[Option<Measured>],
) -> (String, String) {
    let mut rows = String::new();
    let base = r[0];
    let mut data = format!("cell {kib} {rcpts} {sessions}");
    for (s, m) in SETUPS.iter().zip(r) {
        let Some(m) = m else {
            let _ = writeln!(
                rows,
                "| {kib} KiB | {rcpts} | {sessions} | {} | failed (see stderr) | | | | | | |",
                s.label()
            );
            data.push_str(" NaN NaN NaN");
            continue;
        };
        let (add50, add99, vs_a) = match base {
            Some(b) => (m.p50_ms - b.p50_ms, m.p99_ms - b.p99_ms, m.mps / b.mps),
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
        let _ = writeln!(
            rows,
            "| {kib} KiB | {rcpts} | {sessions} | {} | {:.1} ({count}) | {vs_a:.2} | {:.2} | \
             {} / {} ({probes}) | {} / {} | {} |",
            s.label(),
            m.mps,
            m.cpu_ms,
            fmt_ms(m.p50_ms),
            fmt_ms(m.p99_ms),
            if *s == Setup::Plain {
                "-".into()
            } else {
                fmt_ms(add50)
            },
            if *s == Setup::Plain {
                "-".into()
            } else {
                fmt_ms(add99)
            },
            fmt_ms(m.client_p99_ms),
        );
        let _ = write!(data, " {:.3} {:.4} {:.3}", m.mps, m.cpu_ms, m.p99_ms);
    }
    (rows, data)
}

/// The three targets, from the cells measured.
fn targets(results: &[([usize; 3], Vec<Option<Measured>>)]) -> String {
    let mut t = String::from("\n| target | cell | result | met? |\n|---|---|---|---|\n");
    for ([kib, rcpts, sessions], r) in results {
        let cell = format!("{kib} KiB, {rcpts} rcpt, {sessions} sessions");
        let (Some(a), Some(b)) = (r[0], r[1]) else {
            continue;
        };
        if let Some(d) = r[3] {
            let x = b.mps / d.mps;
            let _ = writeln!(
                t,
                "| (b) ≥ 10× (d) msgs/s | {cell} | {x:.1}× | {} |",
                yes(x >= 10.0)
            );
        }
        let x = b.mps / a.mps;
        let _ = writeln!(
            t,
            "| (b) ≥ ½ (a) msgs/s | {cell} | {:.0}% | {} |",
            x * 100.0,
            yes(x >= 0.5)
        );
        if *kib == 10 && *sessions == 10 {
            let add = b.p99_ms - a.p99_ms;
            let _ = writeln!(
                t,
                "| (b) adds < 5 ms p99 | {cell} | {add:.1} ms ({:.1} against {:.1}) | {} |",
                b.p99_ms,
                a.p99_ms,
                yes(add < 5.0)
            );
        }
    }
    t
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "**no**" }
}

fn plot(root: &Path, work: &Path) {
    let out = work.join("results.png");
    let st = Command::new("gnuplot")
        .arg("-e")
        .arg(format!(
            "datafile='{}'; outfile='{}'",
            work.join("data.txt").display(),
            out.display()
        ))
        .arg(root.join("bench/plot_gateway.gp"))
        .status();
    match st {
        Ok(s) if s.success() => println!("plot: {}", out.display()),
        Ok(s) => eprintln!("bench-gateway: gnuplot failed ({s}); no plot"),
        Err(_) => eprintln!("bench-gateway: gnuplot not found; no plot (the table is complete)"),
    }
}

/// Exits 69 (or 77 without root) with one line unless everything needed is there.
fn preflight(pgpsendmail: &Path) {
    for p in [
        "/usr/sbin/postfix",
        "/usr/sbin/smtp-source",
        "/usr/sbin/smtp-sink",
        "/usr/sbin/postqueue",
    ] {
        if !Path::new(p).exists() {
            eprintln!("bench-gateway: {p} is needed (package postfix; see bench/README.md)");
            std::process::exit(69);
        }
    }
    if Command::new("gpg").arg("--version").output().is_err() {
        eprintln!("bench-gateway: gpg is needed (package gnupg)");
        std::process::exit(69);
    }
    if !pgpsendmail.exists() {
        eprintln!(
            "bench-gateway: {} missing: run `make bench-gateway`",
            pgpsendmail.display()
        );
        std::process::exit(69);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("bench-gateway: a private Postfix needs root");
        std::process::exit(77);
    }
}

fn main() {
    let exe_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let pgpsendmail = exe_dir.parent().unwrap().join("pgpsendmail");
    preflight(&pgpsendmail);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = root.join("target/bench-gateway");
    std::fs::create_dir_all(&work).unwrap();
    for d in [&root.join("target"), &work] {
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let (gnupg, ring) = make_keys(&work);
    let parts = Parts {
        root: work.clone(),
        pgpsendmail,
        gnupg,
        ring,
    };
    let messages = env_num("BENCH_GW_MESSAGES", 300).max(5);
    let probes = env_num("BENCH_GW_PROBES", 100).max(2);
    let sizes = env_list("BENCH_GW_SIZES", &[10, 1024]);
    let rcpt_counts = env_list("BENCH_GW_RCPTS", &[1, 5]);
    let sessions = env_list("BENCH_GW_SESSIONS", &[1, 10, 50]);
    let start = Instant::now();
    let head = machine("load average");
    println!("{head}");
    let mut rig = Rig::start(&parts);
    let mut next_id = 0;
    let check = work.join("check.eml");
    make_message(&check, 10 << 10, &recipients(5));
    for s in SETUPS {
        check_setup(&mut rig, s, &check, &mut next_id);
    }
    let mut table = format!(
        "{head}\n\n| size | rcpts | sessions | setup | msgs/s (messages) | vs (a) | CPU ms/msg | \
         latency p50 / p99 ms (probes) | added p50 / p99 ms | client p99 ms |\n\
         |---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n"
    );
    println!("{}", table.lines().skip(2).collect::<Vec<_>>().join("\n"));
    let mut data =
        String::from("# cell KIB RCPTS SESSIONS then per setup a b c d: MPS CPU_MS P99_MS\n");
    let mut results = Vec::new();
    for &kib in &sizes {
        let scale = if kib >= 512 { 5 } else { 1 };
        let counts = [(messages / scale).max(5), (probes / scale).max(2)];
        for &rcpts in &rcpt_counts {
            let msg = work.join(format!("msg-{kib}k-{rcpts}.eml"));
            make_message(&msg, kib << 10, &recipients(rcpts));
            for &n in &sessions {
                let key = [kib, rcpts, n];
                let r = cell(&mut rig, &msg, [kib << 10, rcpts, n], counts, &mut next_id);
                let (rows, line) = report(key, counts, &r);
                print!("{rows}");
                table.push_str(&rows);
                let _ = writeln!(data, "{line}");
                results.push((key, r));
            }
        }
    }
    let t = targets(&results);
    println!("{t}");
    table.push_str(&t);
    let _ = writeln!(
        table,
        "\nrun took {:.0} s; load average at the end {}",
        start.elapsed().as_secs_f64(),
        machine("load average")
            .rsplit("load average ")
            .next()
            .unwrap_or("")
    );
    std::fs::write(work.join("table.md"), &table).unwrap();
    std::fs::write(work.join("data.txt"), &data).unwrap();
    println!(
        "(table in {}, data in {})",
        work.join("table.md").display(),
        work.join("data.txt").display()
    );
    drop(rig);
    plot(&root, &work);
}
