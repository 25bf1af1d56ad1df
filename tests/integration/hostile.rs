//! Hostile inputs (messages and keys): bounded, linear, and a clean result or a clear
//! error. The message corpus is tests/data/hostile/ with its MANIFEST of outcomes.
//! (The time guard only catches a hang; speed is measured by benchmarks, not here.)

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::*;

fn guarded(h: &H, args: &[&str], msg: &[u8]) -> std::process::Output {
    let start = Instant::now();
    let out = h
        .cmd()
        .args(args)
        .write_stdin(msg.to_vec())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "pgpsendmail hung"
    );
    out
}

#[test]
fn near_1mib_of_encoded_words_in_recipient_and_subject_fields() {
    let h = H::new();
    let mut msg = b"To: alice@example.org,\n".to_vec();
    // Encoded-word look-alikes that make mailparse's tokenizer quadratic.
    for _ in 0..6_000 {
        msg.extend_from_slice(
            b" =?x =?x =?x =?x =?x =?x =?x =?x =?x =?x =?x =?x =?x =?x <alice@example.org>,\n",
        );
    }
    msg.extend_from_slice(b" bob@example.org\nSubject: ");
    for _ in 0..2_000 {
        msg.extend_from_slice(b"=?utf-8?q?=C3=A9?= =?x ");
    }
    msg.extend_from_slice(b"\n\nbody\n");
    assert!(msg.len() < 1 << 20);
    let out = guarded(&h, &["-i", "-t"], &msg);
    // The To field is a list of addresses with junk phrases: a clean result or a clear
    // error, and nothing in between.
    match out.status.code() {
        Some(0) => assert!(!h.captures().is_empty()),
        Some(65) => assert!(h.captures().is_empty()),
        other => panic!(
            "unexpected {other:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn many_header_lines_and_a_to_with_10000_addresses() {
    let mut msg = b"To: alice@example.org".to_vec();
    for i in 0..10_000 {
        msg.extend_from_slice(format!(",\n u{i}@example.net").as_bytes());
    }
    msg.extend_from_slice(b"\n\nx\n");
    let h2 = H::with_keys(&["alice"], "");
    let out = guarded(&h2, &["-i", "-t"], &msg);
    assert_eq!(out.status.code(), Some(67));
    assert!(h2.captures().is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn a_long_to_list_and_many_hidden_recipients_in_bounded_memory() {
    // 20,000 visible addresses (a 480 KB To field, in every copy's outer header) and 300
    // hidden ones: every hidden copy starts with that header, which is kept once, not once
    // per copy (300 x 480 KB would be 140 MiB). All go to one domain key.
    let fpr = fingerprint("gateway");
    let h = H::with_keys(
        DEFAULT_KEYS,
        &format!("[recipients]\n\"@example.com\" = {{ key = \"{fpr}\" }}\n"),
    );
    let mut msg = b"From: me@example.org\nTo: v0@example.com".to_vec();
    for i in 1..20_000 {
        msg.extend_from_slice(format!(",\n v{i}@example.com").as_bytes());
    }
    msg.extend_from_slice(b"\nBcc: h0@example.com");
    for i in 1..300 {
        msg.extend_from_slice(format!(", h{i}@example.com").as_bytes());
    }
    msg.extend_from_slice(b"\nSubject: Okapi-Secret\n\nOkapi-Secret body\n");
    let run = measured(&h, &["-i", "-t"], msg);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    eprintln!("peak RSS {} KiB", run.max_rss_kib);
    assert!(
        run.max_rss_kib < MAX_RSS_KIB,
        "peak RSS {} KiB over {MAX_RSS_KIB} KiB",
        run.max_rss_kib
    );
    // The copies go several runs at a time (handoff_jobs): in no fixed order.
    let c = h.captures();
    assert_eq!(c.len(), 301);
    let (visible, hidden): (Vec<&Capture>, Vec<&Capture>) =
        c.iter().partition(|copy| copy.rcpts().len() > 1);
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0].rcpts().len(), 20_000);
    for copy in &hidden {
        assert_eq!(copy.rcpts().len(), 1);
        assert!(contains(&copy.stdin, b"v19999@example.com"));
    }
    assert!(contains(
        &hidden[299].open("gateway").payload,
        b"Okapi-Secret body"
    ));
}

#[test]
fn header_only_message_and_empty_message() {
    let h = H::new();
    let c = h.ok(
        &["-i", "alice@example.org"],
        b"To: alice@example.org\nSubject: only headers",
    );
    let body = c[0].body("alice");
    assert!(body.is_empty());
    let h = H::new();
    let c = h.ok(&["-i", "alice@example.org"], b"");
    c[0].open("alice");
}

#[test]
fn body_that_is_only_a_dot() {
    let h = H::new();
    let c = h.ok(&["alice@example.org"], b".\n");
    let body = c[0].body("alice");
    assert!(body.is_empty());
}

#[test]
fn nul_and_invalid_utf8_in_body_are_fine() {
    let h = H::new();
    let c = h.ok(
        &["-i", "alice@example.org"],
        b"To: alice@example.org\n\n\0\xff\xfe\n",
    );
    let (_, child, _) = payload_parts(&c[0].open("alice").payload);
    assert!(contains(&child, b"base64"));
}

#[test]
fn eight_bit_header_values_are_accepted() {
    let h = H::new();
    let c = h.ok(
        &["-i", "-t"],
        b"To: alice@example.org\nSubject: caf\xe9\nX-Latin: \xe9\xe8\n\nx\n",
    );
    assert!(c[0].text().is_ascii());
    assert!(contains(
        &c[0].open("alice").payload,
        b"Subject: caf\xe9\r\n"
    ));
}

// ---- the hostile corpus (tests/data/hostile/MANIFEST) and hostile keys ------------------

/// Peak resident memory allowed for one run, in KiB (wait4's ru_maxrss of pgpsendmail,
/// measured by examples/peak_rss.rs; it includes the stand-in sendmail pgpsendmail execs).
/// The header section is capped at 1 MiB and the body streams: the highest measured peak
/// was 31 MiB (100,000 header lines, debug build), printed by the test.
const MAX_RSS_KIB: i64 = 64 * 1024;
/// Wall time allowed for one run: only a hang guard, never a speed measurement.
const MAX_SECONDS: u64 = 60;

/// What one measured run did.
struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stderr: String,
    max_rss_kib: i64,
}

/// Runs pgpsendmail as `h.cmd()` would, feeding `input`, under examples/peak_rss.rs (a
/// small parent, so that the peak is pgpsendmail's own, not this test binary's pages it
/// was forked with). Panics if it runs longer than [`MAX_SECONDS`] (then kills it).
fn measured(h: &H, args: &[&str], input: Vec<u8>) -> Run {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let peak_rss = stand_in().with_file_name("peak_rss");
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut c = Command::new(&peak_rss);
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .env("STAND_IN_EXIT", h.exit.to_string());
    for (k, v) in &h.env {
        c.env(k, v);
    }
    let mut p = c
        .arg(report.path())
        .arg(assert_cmd::cargo::cargo_bin("pgpsendmail"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = p.stdin.take().unwrap();
    let w = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut err_pipe = p.stderr.take().unwrap();
    let r = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    while p.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(MAX_SECONDS) {
            let _ = p.kill();
            panic!("pgpsendmail {args:?} still running after {MAX_SECONDS} s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    w.join().unwrap();
    let stderr = String::from_utf8_lossy(&r.join().unwrap()).into_owned();
    let rep = std::fs::read_to_string(report.path()).unwrap();
    let v: Vec<i64> = rep.split_whitespace().map(|x| x.parse().unwrap()).collect();
    Run {
        code: (v[1] >= 0).then_some(v[1] as i32),
        signal: (v[2] >= 0).then_some(v[2] as i32),
        stderr,
        max_rss_kib: v[0],
    }
}

/// The inputs too large to commit, named gen:NAME in the manifest.
fn generate(name: &str) -> Vec<u8> {
    let mut m = b"From: me@example.org\nTo: alice@example.org\nSubject: Okapi-Secret\n".to_vec();
    let field = |m: &mut Vec<u8>, total: usize| {
        while m.len() < total {
            m.extend_from_slice(b"X-Filler: Okapi-Secret filler filler filler filler filler\n");
        }
    };
    match name {
        "header-over-1mib" => field(&mut m, (1 << 20) + 100),
        "header-just-under-1mib" => field(&mut m, (1 << 20) - 100),
        "100000-header-lines" => {
            for i in 0..100_000 {
                m.extend_from_slice(format!("X{}: v\n", i % 100).as_bytes());
            }
            assert!(m.len() < 1 << 20);
        }
        "10mib-line-in-body" => {
            m.extend_from_slice(b"\nOkapi-Secret ");
            m.extend(std::iter::repeat_n(b'x', 10 << 20));
            m.push(b'\n');
            return m;
        }
        "10mib-line-in-header" => {
            m.extend_from_slice(b"X-Long: ");
            m.extend(std::iter::repeat_n(b'x', 10 << 20));
            m.push(b'\n');
        }
        "10mib-body-no-newline" => {
            m.extend_from_slice(b"\n");
            m.extend(std::iter::repeat_n(b'y', 10 << 20));
            return m;
        }
        "to-10000-addresses" | "to-10000-without-keys" => {
            let domain = if name == "to-10000-addresses" {
                "example.net"
            } else {
                "example.com"
            };
            m = b"From: me@example.org\nSubject: Okapi-Secret\nTo: u0@".to_vec();
            m.extend_from_slice(domain.as_bytes());
            for i in 1..10_000 {
                m.extend_from_slice(format!(",\n u{i}@{domain}").as_bytes());
            }
            m.push(b'\n');
        }
        other => panic!("no generator for gen:{other}"),
    }
    m.extend_from_slice(b"\nbody Okapi-Secret\n");
    m
}

/// The test key that opens a copy for `rcpt` (example.net is bob's, by the configuration).
fn key_for(rcpt: &str) -> &str {
    match rcpt.split_once('@') {
        Some((_, "example.net")) => "bob",
        Some((local, _)) => DEFAULT_KEYS
            .iter()
            .find(|k| **k == local)
            .unwrap_or_else(|| panic!("no key for {rcpt}")),
        None => panic!("bare recipient {rcpt}"),
    }
}

#[test]
fn hostile_corpus_from_the_manifest() {
    let dir = Path::new(ROOT).join("tests/data/hostile");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST")).unwrap();
    let h = H::with_keys(
        DEFAULT_KEYS,
        &format!(
            "[recipients]\n\"@example.net\" = {{ key = \"{}\" }}\n",
            fingerprint("bob")
        ),
    );
    let mut cases = 0;
    let mut peak = (0i64, String::new());
    for line in manifest.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(cols.len(), 3, "MANIFEST line: {line}");
        let (file, args, outcome) = (cols[0], cols[1], cols[2]);
        let input = match file.strip_prefix("gen:") {
            Some(g) => generate(g),
            None => std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}")),
        };
        let args: Vec<&str> = args.split_whitespace().collect();
        let before = h.captures().len();
        let run = measured(&h, &args, input);
        let what = format!("{file} {args:?}");
        let got = &h.captures()[before..];
        assert!(
            run.max_rss_kib <= MAX_RSS_KIB,
            "{what}: peak memory {} KiB over the bound {MAX_RSS_KIB} KiB",
            run.max_rss_kib
        );
        if run.max_rss_kib > peak.0 {
            peak = (run.max_rss_kib, what.clone());
        }
        assert!(
            !run.stderr.contains("Okapi-Secret"),
            "{what}: message content on stderr: {}",
            run.stderr
        );
        if let Some(n) = outcome.strip_prefix("sent=") {
            let n: usize = n.parse().unwrap();
            assert_eq!(run.code, Some(0), "{what}: {}", run.stderr);
            assert_eq!(got.len(), n, "{what}: copies");
            for c in got {
                let opened = c.open(key_for(c.rcpts()[0]));
                assert!(!opened.payload.is_empty());
                assert!(
                    !contains(&c.cleartext(), b"Okapi-Secret"),
                    "{what}: secret outside the armor"
                );
                assert!(
                    !c.outer_header().lines().any(|l| l.starts_with("Bcc")),
                    "{what}: a Bcc line in the outer header"
                );
            }
            if file == "rfc2047-crlf.eml" {
                let p = &got[0].open("alice").payload;
                assert!(
                    !contains(p, b"\r\nBcc:"),
                    "{what}: decoded CR/LF in the payload"
                );
                assert_eq!(got[0].rcpts(), ["alice@example.org"]);
            }
        } else if let Some(rest) = outcome.strip_prefix("exit=") {
            let (code, words) = rest.split_once(' ').unwrap_or((rest, ""));
            let code: i32 = code.parse().unwrap();
            assert_eq!(
                run.code,
                Some(code),
                "{what}: {:?} {}",
                run.signal,
                run.stderr
            );
            assert!(got.is_empty(), "{what}: something was handed on");
            assert_eq!(run.stderr.lines().count(), 1, "{what}: {}", run.stderr);
            assert!(run.stderr.starts_with("pgpsendmail: "), "{what}");
            assert!(run.stderr.contains(words), "{what}: {}", run.stderr);
            // A line a person can read: 10,000 refused recipients are not all listed.
            assert!(
                run.stderr.len() < 4096,
                "{what}: {} bytes on stderr",
                run.stderr.len()
            );
        } else {
            panic!("MANIFEST outcome: {outcome}");
        }
        cases += 1;
    }
    assert!(cases >= 30, "only {cases} cases in the manifest");
    eprintln!(
        "hostile corpus: {cases} cases; peak memory {} KiB ({}), bound {MAX_RSS_KIB} KiB",
        peak.0, peak.1
    );
}

/// OpenPGP packets of a binary certificate: (tag, body). Both header formats.
fn packets(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let h = b[0];
        assert!(h & 0x80 != 0, "not a packet header");
        let (tag, len, hl) = if h & 0x40 != 0 {
            let o = b[1] as usize;
            match o {
                0..192 => (h & 0x3f, o, 2),
                192..224 => (h & 0x3f, ((o - 192) << 8) + b[2] as usize + 192, 3),
                255 => (
                    h & 0x3f,
                    u32::from_be_bytes(b[2..6].try_into().unwrap()) as usize,
                    6,
                ),
                _ => panic!("partial length"),
            }
        } else {
            let tag = (h >> 2) & 0x0f;
            match h & 3 {
                0 => (tag, b[1] as usize, 2),
                1 => (tag, u16::from_be_bytes([b[1], b[2]]) as usize, 3),
                2 => (
                    tag,
                    u32::from_be_bytes(b[1..5].try_into().unwrap()) as usize,
                    5,
                ),
                _ => panic!("indeterminate length"),
            }
        };
        out.push((tag, b[hl..hl + len].to_vec()));
        b = &b[hl + len..];
    }
    out
}

/// One packet, new format with a five-octet length.
fn packet(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![0xc0 | tag, 255];
    p.extend_from_slice(&(body.len() as u32).to_be_bytes());
    p.extend_from_slice(body);
    p
}

fn join(pkts: &[(u8, Vec<u8>)]) -> Vec<u8> {
    pkts.iter().flat_map(|(t, b)| packet(*t, b)).collect()
}

/// bob's certificate, binary: primary key (6), user ID (13), its self-signature (2),
/// encryption subkey (14), its binding signature (2).
fn bob_binary() -> Vec<(u8, Vec<u8>)> {
    use pgp::composed::{Deserializable, SignedPublicKey};
    use pgp::ser::Serialize;
    let f = std::fs::File::open(keys_dir().join("bob.asc")).unwrap();
    let (k, _) = SignedPublicKey::from_armor_single(f).unwrap();
    let p = packets(&k.to_bytes().unwrap());
    let tags: Vec<u8> = p.iter().map(|(t, _)| *t).collect();
    assert_eq!(tags, [6, 13, 2, 14, 2], "bob.asc changed shape");
    p
}

/// Flips the last byte of a signature packet: its last MPI, so it no longer verifies.
fn spoil(sig: &mut [u8]) {
    let n = sig.len();
    sig[n - 2] ^= 0x55;
}

/// Puts `cert` as bob's key beside alice's good one and sends to alice (must work: a bad
/// file never harms another key) and to bob (`bob_ok`: sent and readable, else 67 naming
/// bob). Bounded like the corpus.
fn key_case(name: &str, cert: &[u8], bob_ok: Option<bool>) -> i64 {
    let h = H::with_keys(&["alice"], "");
    std::fs::write(h.keys.join("hostile.gpg"), cert).unwrap();
    let mut peak = 0;
    for rcpt in ["alice@example.org", "bob@example.org"] {
        let before = h.captures().len();
        let msg = format!("To: {rcpt}\nSubject: Okapi-Secret\n\nbody\n").into_bytes();
        let run = measured(&h, &["-i", rcpt], msg);
        peak = peak.max(run.max_rss_kib);
        assert!(
            run.max_rss_kib <= MAX_RSS_KIB,
            "{name}: peak memory {} KiB",
            run.max_rss_kib
        );
        let got = &h.captures()[before..];
        let sent = run.code == Some(0);
        if sent {
            assert_eq!(got.len(), 1, "{name} {rcpt}");
            got[0].open(key_for(rcpt));
        } else {
            assert_eq!(
                run.code,
                Some(67),
                "{name} {rcpt}: {:?} {}",
                run.signal,
                run.stderr
            );
            assert!(got.is_empty());
            // Warnings about the bad file, then the one line that says why.
            let lines: Vec<&str> = run.stderr.lines().collect();
            let (last, warnings) = lines.split_last().expect("an error line");
            for w in warnings {
                assert!(w.starts_with("pgpsendmail: warning: "), "{name}: {w}");
            }
            assert!(last.starts_with("pgpsendmail: "), "{name}: {last}");
            assert!(last.contains(rcpt), "{name}: {last}");
        }
        if rcpt.starts_with("alice") {
            assert!(sent, "{name}: alice's good key was harmed: {}", run.stderr);
        } else if let Some(want) = bob_ok {
            assert_eq!(sent, want, "{name}: {}", run.stderr);
        }
    }
    peak
}

#[test]
fn hostile_keys_truncated_and_bit_flipped() {
    let bob = join(&bob_binary());
    // Truncated anywhere: either a shorter but whole certificate or none.
    for cut in [
        1,
        10,
        bob.len() / 4,
        bob.len() / 2,
        bob.len() * 3 / 4,
        bob.len() - 1,
    ] {
        key_case(&format!("truncated at {cut}"), &bob[..cut], None);
    }
    let armored = std::fs::read(keys_dir().join("bob.asc")).unwrap();
    key_case(
        "armor cut in half",
        &armored[..armored.len() / 2],
        Some(false),
    );
    // One bit flipped, at 40 places spread over the certificate.
    let step = (bob.len() / 40).max(1);
    for pos in (0..bob.len()).step_by(step) {
        let mut b = bob.clone();
        b[pos] ^= 1 << (pos % 8);
        key_case(&format!("bit {} of byte {pos} flipped", pos % 8), &b, None);
    }
}

#[test]
fn hostile_keys_enormous_user_ids_many_subkeys_failing_bindings() {
    let bob = bob_binary();
    let mut peak = 0;
    // A 2 MiB user ID with bob's address, carrying a copy of bob's self-signature (which
    // does not verify for it): ignored, bob's real user ID still works.
    let mut huge = vec![b'A'; 2 << 20];
    huge.extend_from_slice(b" <bob@example.org>");
    let mut p = bob.clone();
    p.insert(3, (13, huge.clone()));
    p.insert(4, bob[2].clone());
    peak = peak.max(key_case("2 MiB user ID added", &join(&p), Some(true)));
    // Only the enormous user ID: no valid binding for bob's address.
    let p = vec![
        bob[0].clone(),
        (13, huge),
        bob[2].clone(),
        bob[3].clone(),
        bob[4].clone(),
    ];
    peak = peak.max(key_case("only a 2 MiB user ID", &join(&p), Some(false)));
    // 1,000 extra subkeys (distinct creation times), each with a binding that fails.
    let mut p = bob.clone();
    for i in 0..1000u32 {
        let mut sub = bob[3].1.clone();
        let t = u32::from_be_bytes(sub[1..5].try_into().unwrap()) - 1 - i;
        sub[1..5].copy_from_slice(&t.to_be_bytes());
        p.push((14, sub));
        p.push(bob[4].clone());
    }
    peak = peak.max(key_case("1,000 subkeys", &join(&p), Some(true)));
    // The encryption subkey's binding signature fails: no subkey to encrypt to.
    let mut p = bob.clone();
    spoil(&mut p[4].1);
    peak = peak.max(key_case("subkey binding fails", &join(&p), Some(false)));
    // The user ID's self-signature fails: the address is not bound to the key.
    let mut p = bob.clone();
    spoil(&mut p[2].1);
    peak = peak.max(key_case("user ID binding fails", &join(&p), Some(false)));
    eprintln!("hostile keys: peak memory {peak} KiB, bound {MAX_RSS_KIB} KiB");
}
