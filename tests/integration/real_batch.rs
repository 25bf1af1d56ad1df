//! Many hidden recipients through `-bs` runs of a real Postfix's sendmail (pgpsendmail(8),
//! THE REAL SENDMAIL; pgpsendmail.toml(5), `batch_copies` and `handoff_jobs`): 1,000 hidden
//! recipients of a 10 KiB message each get a copy that opens with their own key alone, from
//! one `-bs` session per CPU going at once.

use std::process::Stdio;
use std::time::Instant;

use pgp::composed::{
    EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey,
    SubkeyParamsBuilder,
};
use pgp::crypto::ecc_curve::ECCCurve;
use pgp::ser::Serialize;
use pgp::types::KeyDetails;
use pgpsendmail::openpgp::decrypt;

use crate::harness::*;
use crate::real::*;

const HIDDEN: usize = 1000;

fn addr(i: usize) -> String {
    format!("user{i}@bench.example")
}

/// A certificate (Ed25519, Cv25519 encryption subkey) for `uid`, with its secret key.
fn make_key(uid: &str, rng: &mut rand::rngs::ThreadRng) -> SignedSecretKey {
    SecretKeyParamsBuilder::default()
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(uid.into())
        .subkey(
            SubkeyParamsBuilder::default()
                .key_type(KeyType::ECDH(ECCCurve::Curve25519Legacy))
                .can_encrypt(EncryptionCaps::All)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
        .generate(rng)
        .unwrap()
}

/// The [`HIDDEN`] addresses and their secret keys, their certificates in `h`'s key
/// directory and a mailbox each in `pf`.
fn hidden_recipients(pf: &Postfix, h: &H) -> (Vec<String>, Vec<SignedSecretKey>) {
    let addrs: Vec<String> = (0..HIDDEN).map(addr).collect();
    let mut rng = rand::thread_rng();
    let keys: Vec<SignedSecretKey> = addrs.iter().map(|a| make_key(a, &mut rng)).collect();
    let mut ring = Vec::new();
    for k in &keys {
        SignedPublicKey::from(k.clone())
            .to_writer(&mut ring)
            .unwrap();
    }
    std::fs::write(h.keys.join("bench.pgp"), ring).unwrap();
    pf.add_mailboxes(&addrs);
    (addrs, keys)
}

/// A 10 KiB message to alice (visible) and `rcpts` (hidden) with `-f me@example.org`;
/// asserts it went without a word, and returns how long pgpsendmail ran.
fn send(h: &H, rcpts: &[String]) -> std::time::Duration {
    let mut msg = b"From: me@example.org\nTo: alice@example.org\nSubject: many\n\n".to_vec();
    while msg.len() < 10 << 10 {
        msg.extend_from_slice(b"ten KiB of body text, line after line, for every recipient.\n");
    }
    let mut args = vec!["-i".to_string(), "-f".into(), "me@example.org".into()];
    args.push("alice@example.org".into());
    args.extend(rcpts.iter().cloned());
    let start = Instant::now();
    let out = run_ok(h.std_cmd().args(&args).stdout(Stdio::piped()), &msg);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

/// Spot checks of the delivered copies: the first, the last and a few between, each
/// opening with its own key alone and naming no other hidden recipient.
fn spot_check(pf: &Postfix, addrs: &[String], keys: &[SignedSecretKey]) {
    for i in [0, 1, 137, 500, 998, 999] {
        for file in pf.delivered_to(&addrs[i]) {
            let bytes = std::fs::read(&file).unwrap();
            let opened =
                decrypt::open(&bytes, &keys[i]).unwrap_or_else(|e| panic!("{}: {e}", addrs[i]));
            let sub: Vec<String> = keys[i]
                .secret_subkeys
                .iter()
                .map(|s| hex_id(s.key.legacy_key_id().as_ref()))
                .collect();
            assert_eq!(opened.recipients, sub, "{}: only its own key", addrs[i]);
            assert!(
                String::from_utf8_lossy(&opened.payload).contains("line after line"),
                "{}",
                addrs[i]
            );
            let other = (i + 1) % HIDDEN;
            assert!(
                decrypt::open(&bytes, &keys[other]).is_err(),
                "{} opens {other}'s",
                addrs[i]
            );
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(&addrs[other]),
                "{} names {}",
                addrs[i],
                addrs[other]
            );
        }
    }
}

#[test]
fn a_thousand_hidden_recipients_through_postfixs_smtp_listener() {
    // handoff_smtp: the copies go to Postfix's smtpd on loopback, one connection per CPU,
    // not through its sendmail; each arrives once, with its own key alone.
    let test = "a_thousand_hidden_recipients_through_postfixs_smtp_listener";
    let opt = Options {
        smtp: true,
        ..Options::default()
    };
    let Some(pf) = Postfix::start(test, opt) else {
        return;
    };
    let h = pf.harness();
    let (addrs, keys) = hidden_recipients(&pf, &h);
    let port = pf.port.unwrap();
    let cfg = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(
        &h.config,
        format!("handoff_smtp = \"127.0.0.1:{port}\"\n{cfg}"),
    )
    .unwrap();
    let took = send(&h, &addrs);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    // Printed, not asserted: speed is the benchmark's (bench/README.md, bench_copies).
    eprintln!(
        "{HIDDEN} hidden recipients of a 10 KiB message into Postfix's smtpd: {took:?} (load {})",
        load.trim()
    );
    pf.wait_for("the deliveries", 600, || {
        pf.queue_lines().is_empty()
            && pf.mailbox("alice").len() == 1
            && addrs.iter().all(|a| pf.delivered_to(a).len() == 1)
    });
    let log = pf.maillog();
    assert!(!log.contains("status=bounced"), "{log}");
    assert!(
        log.contains("postfix/smtpd") && log.contains("client=localhost[127.0.0.1]"),
        "the copies came through smtpd: {log}"
    );
    spot_check(&pf, &addrs, &keys);
}

#[test]
fn a_thousand_hidden_recipients_arrive_through_bs_runs_each_with_its_own_key() {
    let test = "a_thousand_hidden_recipients_arrive_through_bs_runs";
    let Some(pf) = Postfix::start(test, Options::default()) else {
        return;
    };
    let h = pf.harness();
    let (addrs, keys) = hidden_recipients(&pf, &h);
    let batched = send(&h, &addrs);
    // The old way for comparison, a tenth of them: one run of Postfix's sendmail per copy.
    let cfg = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(&h.config, format!("{PER_COPY}{cfg}")).unwrap();
    let tenth = &addrs[HIDDEN - HIDDEN / 10..];
    let per_copy = send(&h, tenth);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    // Printed, not asserted: speed is the benchmark's (bench/README.md, bench_copies).
    eprintln!(
        "{HIDDEN} hidden recipients of a 10 KiB message into Postfix: -bs runs (one per CPU at \
         once) {batched:?}; {} of them one run each {per_copy:?} (load {})",
        tenth.len(),
        load.trim()
    );
    pf.wait_for("the deliveries", 600, || {
        pf.queue_lines().is_empty()
            && pf.mailbox("alice").len() == 2
            && addrs.iter().enumerate().all(|(i, a)| {
                pf.delivered_to(a).len() == 1 + usize::from(i >= HIDDEN - HIDDEN / 10)
            })
    });
    let log = pf.maillog();
    assert!(!log.contains("status=bounced"), "{log}");
    spot_check(&pf, &addrs, &keys);
    // The visible copy too.
    let alice = &pf.mailbox("alice")[0];
    assert!(pf.mailbox("alice")[1].text().contains("BEGIN PGP MESSAGE"));
    assert_eq!(
        alice.open("alice").recipients,
        key_ids("alice")[1..].to_vec()
    );
    assert!(
        !alice.text().contains("bench.example"),
        "no hidden recipient in the visible copy"
    );
    // Without -f, MAIL FROM is the login name, which Postfix qualifies with myorigin as it
    // does a caller's of its own sendmail.
    std::fs::write(&h.config, &cfg).unwrap();
    let out = h.run(
        &["-i", "alice@example.org", "bob@example.org"],
        b"To: alice@example.org\nSubject: s\n\nx\n",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    pf.wait_for("bob's copy", 120, || {
        pf.queue_lines().is_empty() && pf.mailbox("bob").len() == 1
    });
    let bob = pf.mailbox("bob")[0].text();
    let rp = bob
        .lines()
        .find(|l| l.starts_with("Return-Path:"))
        .unwrap_or_default()
        .to_string();
    eprintln!("without -f: {rp}");
    assert!(rp.ends_with("@pgpsendmail.test>"), "{rp}");
}

fn hex_id(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
