//! Every flavor against its real MTA (docs/interface.md, section 9): each MTA's Debian
//! bookworm package in a tree of its own (tests/mta/tree), run in private namespaces
//! (tests/mta/run: loopback only, nothing of this host's MTA or network in reach), given
//! the same calls through pgpsendmail and alone (tests/mta/cases.sh). What pgpsendmail
//! exits is compared with what the MTA alone exits; what reaches the next hop (the sink,
//! examples/smtp_sink.rs) is opened with the recipients' keys; and nothing the run wrote
//! (queues, spools, logs, the sink, pgpsendmail's own output) holds the plaintext or the Bcc.
//!
//! Needs root, unshare(1), mmdebstrap and the Debian mirror (fails under CI=true without
//! them, skips loudly otherwise). The trees are cached under target/mta between runs.

#[allow(dead_code)]
#[path = "integration/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "integration/real.rs"]
mod real;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use harness::*;
use real::*;

/// One MTA: its Debian packages, the flavor pgpsendmail must infer, the cases whose exit
/// status differs from the MTA's own on purpose (case, pgpsendmail's, the MTA's), and the
/// cases the MTA alone does not deliver as pgpsendmail does (its own reading of an option).
struct Mta {
    name: &'static str,
    packages: &'static [&'static str],
    flavor: &'static str,
    differs: &'static [(&'static str, i32, i32)],
    native_skips: &'static [&'static str],
    /// NAME.sh puts `pgpsendmail serve` in front of the MTA as the man page says (the "gw"
    /// case: the MTA's own sendmail, one encrypted copy at the sink).
    gateway: bool,
}

/// The trees: target/mta (the base and one overlay layer per MTA).
fn trees() -> PathBuf {
    Path::new(ROOT).join("target/mta")
}

/// Runs tests/mta/tree with `args`, asserting success, and that nothing it ran reached a
/// process of this host: a canary named `sendmail` (sleep(1) by a symlink) lives through it.
/// sendmail-bin's postinst stops every process called sendmail it can see; before the
/// install ran in a PID namespace of its own, that was the other MTAs' cases, running
/// at the same time (a SIGTERM, 143, in their results).
fn tree(args: &[&str]) {
    let canary_dir = tempfile::tempdir().unwrap();
    let canary = canary_dir.path().join("sendmail");
    // A symlink, not a copy: the kernel names a process after the path it was started by,
    // and a file just written can be "busy" (ETXTBSY) while another test thread forks.
    std::os::unix::fs::symlink("/bin/sleep", &canary).unwrap();
    let mut alive = Command::new(&canary).arg("3600").spawn().unwrap();
    let out = Command::new("sh")
        .arg(Path::new(ROOT).join("tests/mta/tree"))
        .args(args)
        .output()
        .unwrap();
    let killed = alive.try_wait().unwrap();
    let _ = alive.kill();
    let _ = alive.wait();
    assert!(
        out.status.success(),
        "tests/mta/tree {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        killed.is_none(),
        "tests/mta/tree {args:?} reached a process of this host: {killed:?}"
    );
}

/// The base tree, built once for all the MTAs of a run (and kept for later runs).
fn base() {
    static BASE: OnceLock<()> = OnceLock::new();
    BASE.get_or_init(|| tree(&["base", &trees().display().to_string()]));
}

/// `false` (skipped loudly, or a failure under CI=true) without what the trees need.
fn can_run(test: &str) -> bool {
    if need(test, "mmdebstrap", "mmdebstrap", &["/usr/bin/mmdebstrap"]).is_none() {
        return false;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let why = "needs root (chroot, namespaces, mounts)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: {why}"
        );
        eprintln!("SKIPPED: {test}: {why}");
        return false;
    }
    true
}

/// The secret marker of a run: in the Subject, the body and a Bcc display name of every
/// message given to pgpsendmail, so it must appear nowhere the run wrote.
struct Marks {
    secret: String,
    native: String,
}

/// The messages of every case, pgpsendmail's (CASE.p.eml) and the MTA's own (CASE.n.eml).
fn write_input(dir: &Path, m: &Marks) {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for k in DEFAULT_KEYS {
        let name = format!("{k}.asc");
        std::fs::copy(keys_dir().join(&name), keys.join(&name)).unwrap();
    }
    std::fs::write(
        dir.join("pgpsendmail.toml"),
        "keyring = [\"/etc/pgpsendmail/keys\"]\n\n[recipients]\n\
         \"root\" = { alias = \"ops@example.org\" }\n\
         \"refused@example.org\" = { alias = \"dave@example.net\" }\n",
    )
    .unwrap();
    // The man page's Exim router and transport, as it prints them (tests/mta/exim.sh).
    let exim = man_block("Exim");
    let (router, transport) = exim
        .split_once("\n\n")
        .expect("router, blank line, transport");
    std::fs::write(dir.join("exim-router"), format!("{router}\n\n")).unwrap();
    std::fs::write(dir.join("exim-transport"), format!("{transport}\n")).unwrap();
    for (side, mark) in [("p", &m.secret), ("n", &m.native)] {
        for (case, head) in messages(mark) {
            let text = format!("{head}Subject: {case} {mark}\n\ncase: {case}\n{mark}\n.\nend\n");
            std::fs::write(dir.join(format!("{case}.{side}.eml")), text).unwrap();
        }
    }
}

/// The header fields of each case's message (the Subject and body are added).
fn messages(mark: &str) -> Vec<(&'static str, String)> {
    let me = "From: me@example.org\n";
    vec![
        (
            "mutt",
            format!("{me}To: alice@example.org\nCc: bob@example.org\n"),
        ),
        (
            "cron",
            "From: root (Cron Daemon)\nTo: root\nX-Cron-Env: <SHELL=/bin/sh>\n".into(),
        ),
        (
            "tbcc",
            format!("{me}To: alice@example.org\nBcc: Carol {mark} <carol@example.net>\n"),
        ),
        ("dsn", format!("{me}To: alice@example.org\n")),
        ("null", format!("{me}To: alice@example.org\n")),
        ("refused", format!("{me}To: refused@example.org\n")),
        ("stopped", format!("{me}To: alice@example.org\n")),
        ("down", format!("{me}To: alice@example.org\n")),
        ("gw", format!("{me}To: alice@example.org\n")),
    ]
}

/// A case's message at a recipient: (case, recipient key).
type Delivery = (String, String);

/// The copies pgpsendmail must have got to the sink, as (case, recipient key); carol, a
/// hidden recipient, gets a copy of her own. "stopped" is delivered after the restart
/// when it was taken (0 or 75).
fn expected(stopped_taken: bool, gateway: bool) -> Vec<Delivery> {
    let mut want = vec![
        ("mutt", "alice"),
        ("mutt", "bob"),
        ("mutt", "carol"),
        ("cron", "ops"),
        ("tbcc", "alice"),
        ("tbcc", "carol"),
        ("dsn", "alice"),
        ("null", "alice"),
    ];
    if stopped_taken {
        want.push(("stopped", "alice"));
    }
    if gateway {
        want.push(("gw", "alice"));
    }
    let mut want: Vec<_> = want
        .into_iter()
        .map(|(c, k)| (c.to_string(), k.to_string()))
        .collect();
    want.sort();
    want
}

/// The test key of an envelope address at the sink.
fn key_of(addr: &str) -> Option<&'static str> {
    let a = addr.trim_matches(|c| c == '<' || c == '>');
    DEFAULT_KEYS.iter().copied().find(|k| address(k) == a)
}

/// One message at the sink: its envelope recipients and the message itself.
fn sink_messages(run: &Path) -> Vec<(Vec<String>, Capture)> {
    let dir = run.join("t/sink");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "eml") {
            continue;
        }
        let text = std::fs::read(&p).unwrap();
        let mut rcpts = Vec::new();
        let mut rest = &text[..];
        while rest.starts_with(b"X-Sink-") {
            let end = find(rest, b"\r\n").unwrap();
            let line = String::from_utf8_lossy(&rest[..end]).to_string();
            if let Some(r) = line.strip_prefix("X-Sink-To: ") {
                rcpts.push(r.split_whitespace().next().unwrap_or("").to_string());
            }
            rest = &rest[end + 2..];
        }
        let stdin = String::from_utf8_lossy(rest)
            .replace("\r\n", "\n")
            .into_bytes();
        out.push((
            rcpts,
            Capture {
                argv: vec![p.display().to_string()],
                stdin,
            },
        ));
    }
    out
}

/// The case a decrypted payload or a plain message names.
fn case_of(text: &str) -> String {
    text.split("case: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("?")
        .to_string()
}

/// Opens every copy pgpsendmail got to the sink: each must decrypt with the key of every
/// envelope recipient, show neither marker outside the ciphertext, and name no Bcc; a
/// hidden recipient's copy opens with no other key. Returns what arrived, as [`expected`]
/// has it, and the MTA's own deliveries alike.
fn open_sink(run: &Path, m: &Marks) -> (Vec<Delivery>, BTreeSet<Delivery>) {
    let mut got = Vec::new();
    let mut native = BTreeSet::new();
    for (rcpts, copy) in sink_messages(run) {
        let text = copy.text();
        // The MTA's own message (its Subject names the case), not a bounce quoting it.
        if copy.outer_header().contains(&m.native) {
            for r in &rcpts {
                native.insert((case_of(&text), key_of(r).unwrap_or("?").to_string()));
            }
            continue;
        }
        if !copy.outer_header().contains("multipart/encrypted") {
            continue; // a bounce or a notice of the MTA's own: only the grep looks at it
        }
        let keys: Vec<&str> = rcpts.iter().filter_map(|r| key_of(r)).collect();
        assert_eq!(keys.len(), rcpts.len(), "unknown recipient in {rcpts:?}");
        for k in &keys {
            let payload = copy.open(k).payload;
            let clear = String::from_utf8_lossy(&payload).to_string();
            assert!(clear.contains(&m.secret), "{k}: marker not in the payload");
            assert!(
                !clear.to_ascii_lowercase().contains("\nbcc:"),
                "Bcc in {clear}"
            );
            // carol is hidden wherever she is sent: her copy is hers alone.
            let others: &[&str] = if *k == "carol" {
                &["alice", "bob"]
            } else {
                &["carol"]
            };
            for o in others {
                assert!(copy.try_open(o).is_err(), "{o}'s key opens {k}'s copy");
            }
            got.push((case_of(&clear), k.to_string()));
        }
        let clear = String::from_utf8_lossy(&copy.cleartext()).to_string();
        assert!(!clear.contains(&m.secret), "marker in clear:\n{clear}");
        assert!(
            !clear.to_ascii_lowercase().contains("\nbcc:"),
            "Bcc:\n{clear}"
        );
    }
    got.sort();
    (got, native)
}

/// The exit status a side of a case recorded.
fn rc(out: &Path, case: &str, side: &str) -> Option<i32> {
    let p = out.join(format!("{case}.{side}.rc"));
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().parse().unwrap())
}

/// What a side of a case wrote to stdout and stderr (for messages).
fn said(out: &Path, case: &str, side: &str) -> String {
    let read = |x: &str| std::fs::read_to_string(out.join(format!("{case}.{side}.{x}")));
    format!(
        "{case}.{side}: stdout {:?} stderr {:?}",
        read("out").unwrap_or_default(),
        read("err").unwrap_or_default()
    )
}

/// The cases compared by exit status.
const CASES: &[&str] = &[
    "mutt",
    "cron",
    "tbcc",
    "dsn",
    "null",
    "bp",
    "bi",
    "q",
    "bv",
    "mailq",
    "newaliases",
    "refused",
    "stopped",
    "down",
];

/// Builds `mta`'s tree, runs its cases, and checks them (see the module comment).
fn prove(test: &str, mta: &Mta) {
    if !can_run(test) {
        return;
    }
    base();
    let dir = trees().display().to_string();
    let mut install = vec!["install", &dir, mta.name];
    install.extend(mta.packages);
    tree(&install);
    let input = tempfile::tempdir().unwrap();
    let m = Marks {
        secret: marker("SECRET"),
        native: marker("NATIVE"),
    };
    write_input(input.path(), &m);
    let sink = pgpsendmail().parent().unwrap().join("examples/smtp_sink");
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--net",
            "--pid",
            "--uts",
            "--fork",
            "--kill-child",
        ])
        .arg("sh")
        .arg(Path::new(ROOT).join("tests/mta/run"))
        .args([&dir, mta.name])
        .arg(&sink)
        .arg(pgpsendmail())
        .arg(input.path())
        .output()
        .unwrap();
    let run = trees().join(mta.name).join("run");
    let results = run.join("t/out");
    assert!(
        results.join("done").exists(),
        "{}: the cases did not finish: {}\n{}\n{}",
        mta.name,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let check = std::fs::read_to_string(results.join("check.out")).unwrap();
    let flavor = format!("(flavor {}, inferred)", mta.flavor);
    assert!(
        check.contains(&flavor),
        "check does not say {flavor}:\n{check}"
    );
    compare_exits(mta, &results);
    let stopped = matches!(rc(&results, "stopped", "p"), Some(0 | 75));
    let (got, native) = open_sink(&run, &m);
    if mta.gateway {
        assert_eq!(
            rc(&results, "gw", "p"),
            Some(0),
            "{}",
            said(&results, "gw", "p")
        );
    }
    assert_eq!(
        got,
        expected(stopped, mta.gateway),
        "{}: copies at the sink",
        mta.name
    );
    // The MTA alone delivered each case to the same recipients (the gateway case has no
    // such twin: it is the MTA's own sendmail already).
    let mine: BTreeSet<Delivery> = got
        .into_iter()
        .filter(|(c, _)| !mta.native_skips.contains(&c.as_str()) && c != "gw")
        .collect();
    assert_eq!(
        native, mine,
        "{}: the MTA alone delivered otherwise",
        mta.name
    );
    for needle in [&m.secret, "Bcc: Carol"] {
        let mut hits = Vec::new();
        grep_tree(&run, needle.as_bytes(), &mut hits);
        assert!(hits.is_empty(), "{}: {needle} found in {hits:?}", mta.name);
    }
    // The same grep finds the MTA's own plaintext messages: it sees the spools and the sink.
    let mut hits = Vec::new();
    grep_tree(&run, m.native.as_bytes(), &mut hits);
    assert!(
        hits.len() >= 5,
        "{}: the grep found only {hits:?}",
        mta.name
    );
}

/// pgpsendmail exits as the MTA alone does, case by case, except where `mta.differs` says.
fn compare_exits(mta: &Mta, results: &Path) {
    for case in CASES {
        let p = rc(results, case, "p").unwrap_or_else(|| panic!("{case}: not run"));
        let n = rc(results, case, "n");
        let want = mta.differs.iter().find(|d| d.0 == *case);
        match (want, n) {
            (Some(&(_, wp, wn)), _) => {
                assert_eq!(
                    (p, n),
                    (wp, Some(wn)),
                    "{}: {case}\n{}\n{}",
                    mta.name,
                    said(results, case, "p"),
                    said(results, case, "n")
                );
            }
            (None, Some(n)) => assert_eq!(
                p,
                n,
                "{}: {case}\n{}\n{}",
                mta.name,
                said(results, case, "p"),
                said(results, case, "n")
            ),
            // The MTA has no such program (msmtp's mailq, nullmailer's newaliases): the name
            // is its mode, and pgpsendmail exits as for -bp or -bi.
            (None, None) => {
                let mode = if *case == "mailq" { "bp" } else { "bi" };
                assert_eq!(
                    Some(p),
                    rc(results, mode, "p"),
                    "{}",
                    said(results, case, "p")
                );
            }
        }
    }
}

#[test]
fn postfix() {
    prove(
        "postfix",
        &Mta {
            name: "postfix",
            packages: &["postfix"],
            flavor: "postfix",
            differs: &[],
            native_skips: &[],
            gateway: false,
        },
    );
}

#[test]
fn nullmailer() {
    prove(
        "nullmailer",
        &Mta {
            name: "nullmailer",
            packages: &["nullmailer"],
            flavor: "nullmailer",
            // nullmailer's sendmail knows none of -bi, -q and -bv: it exits 1; pgpsendmail
            // refuses them as usage (64, pgpsendmail(8) MODES). It has no newaliases.
            differs: &[("bi", 64, 1), ("q", 64, 1), ("bv", 64, 1)],
            native_skips: &[],
            gateway: false,
        },
    );
}

#[test]
fn exim() {
    prove(
        "exim",
        &Mta {
            name: "exim",
            packages: &["exim4-daemon-light"],
            flavor: "exim",
            differs: &[],
            // Exim alone reads -N as "do not deliver" (pgpsendmail drops it).
            native_skips: &["dsn"],
            gateway: true,
        },
    );
}

#[test]
fn dma() {
    prove(
        "dma",
        &Mta {
            name: "dma",
            packages: &["dma"],
            flavor: "dma",
            // dma's sendmail takes -bi and -bv as a message to send (-bi: "no recipients",
            // 66; -bv: an empty message to the address, 0): pgpsendmail runs it as
            // newaliases for -bi, and refuses -bv (pgpsendmail(8) MODES).
            differs: &[("bi", 0, 66), ("bv", 64, 0)],
            native_skips: &[],
            gateway: false,
        },
    );
}

#[test]
fn msmtp() {
    prove(
        "msmtp",
        &Mta {
            name: "msmtp",
            packages: &["msmtp-mta"],
            flavor: "msmtp",
            // msmtp alone refuses -V (64) and so sends nothing; pgpsendmail drops it and
            // passes -N and -R (docs/interface.md, section 5). msmtp-mta has no mailq and
            // no newaliases; pgpsendmail called so exits 64 as for -bp and -bi.
            differs: &[("dsn", 0, 64)],
            native_skips: &["dsn"],
            gateway: false,
        },
    );
}

#[test]
fn ssmtp() {
    prove(
        "ssmtp",
        &Mta {
            name: "ssmtp",
            packages: &["ssmtp"],
            flavor: "ssmtp",
            differs: &[],
            // ssmtp alone prints its version on -V and exits 0, sending nothing; pgpsendmail
            // drops the DSN options.
            native_skips: &["dsn"],
            gateway: false,
        },
    );
}

#[test]
fn opensmtpd() {
    prove(
        "opensmtpd",
        &Mta {
            name: "opensmtpd",
            packages: &["opensmtpd"],
            flavor: "opensmtpd",
            // Its sendmail (smtpctl) alone refuses the DSN options ("503 5.5.4 Unsupported
            // option RET=hdrs", 70), which pgpsendmail drops; it takes -bp, -q and -bv as a
            // message to send (-bp, -q: "no recipients", 70; -bv: an empty message, 0):
            // pgpsendmail runs -bp as mailq and refuses -q and -bv (pgpsendmail(8) MODES).
            // With smtpd stopped both exit 75, the copy queued offline and sent after the
            // restart.
            differs: &[("dsn", 0, 70), ("bp", 0, 70), ("q", 64, 70), ("bv", 64, 0)],
            native_skips: &["dsn"],
            gateway: false,
        },
    );
}

#[test]
fn sendmail() {
    prove(
        "sendmail",
        &Mta {
            name: "sendmail",
            packages: &["sendmail-bin", "sendmail-cf", "m4", "make"],
            flavor: "sendmail",
            differs: &[],
            native_skips: &[],
            gateway: false,
        },
    );
}
