//! Version 6 certificates and SEIPD v2 (docs/message.md, rule 8; pgpsendmail(8), KEYS rule
//! 9), on the certificates OpenPGP.js made (tests/js/mkkeys-v6.mjs): `six` and `seven` are
//! version 6, `aead4` a version 4 certificate that advertises SEIPD v2, `alice` and `bob`
//! GnuPG 2.2 certificates that do not. Each copy is opened with the pgp crate; its format,
//! and that it names only its own recipients' keys, are checked.

use pgp::crypto::aead::{AeadAlgorithm, ChunkSize};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::SymEncryptedProtectedDataConfig as Seipd;

use crate::harness::*;

const MODERN: &[&str] = &["alice", "bob", "six", "seven", "aead4"];

fn message(to: &str, bcc: &str, body: &str) -> Vec<u8> {
    let bcc = if bcc.is_empty() {
        String::new()
    } else {
        format!("Bcc: {bcc}\n")
    };
    format!("From: me@example.org\nTo: {to}\n{bcc}Subject: modern\n\n{body}").into_bytes()
}

/// Opens `copy` with each of `who`'s keys: the body is `body`, the PKESKs name only `who`'s
/// keys, and the SEIPD is v2 (AES-256, OCB, 256 KiB chunks) or v1 as `v2` says.
fn check(copy: &Capture, who: &[&str], v2: bool, body: &str) {
    let own: Vec<String> = who.iter().flat_map(|w| pkesk_names(w)).collect();
    for w in who {
        let o = copy.open(w);
        assert_eq!(payload_parts(&o.payload).2, crlf(body.as_bytes()), "{w}");
        assert!(o.literal_ok);
        assert_eq!(
            o.recipients.len(),
            who.len(),
            "one PKESK each: {:?}",
            o.recipients
        );
        for r in &o.recipients {
            assert!(own.contains(r), "{r} is not a key of {who:?}");
        }
        match o.seipd {
            Some(Seipd::V2 {
                sym_alg,
                aead,
                chunk_size,
                ..
            }) => {
                assert!(v2, "{w}: SEIPD v2 where v1 was due");
                assert_eq!(sym_alg, SymmetricKeyAlgorithm::AES256);
                assert_eq!(aead, AeadAlgorithm::Ocb);
                assert_eq!(chunk_size, ChunkSize::C256KiB);
            }
            Some(Seipd::V1) => assert!(!v2, "{w}: SEIPD v1 where v2 was due"),
            None => panic!("{w}: no SEIPD"),
        }
    }
}

/// The copy whose recipients are `rcpts`.
fn copy_for<'a>(copies: &'a [Capture], rcpts: &[&str]) -> &'a Capture {
    copies
        .iter()
        .find(|c| c.rcpts() == rcpts)
        .unwrap_or_else(|| panic!("no copy for {rcpts:?}"))
}

#[test]
fn rule_8_a_v6_recipient_gets_seipd_v2_and_a_v6_pkesk() {
    let h = H::with_keys(MODERN, "");
    let c = h.ok(
        &["six@example.org"],
        &message("six@example.org", "", "Six\n"),
    );
    assert_eq!(c.len(), 1);
    check(&c[0], &["six"], true, "Six\n");
    // RFC 3156 outside, as for every copy.
    assert!(c[0].outer_header().contains("multipart/encrypted"));
}

#[test]
fn rule_8_recipients_that_all_take_seipd_v2_share_one_v2_copy() {
    let h = H::with_keys(MODERN, "");
    let to = "six@example.org, seven@example.org, aead4@example.org";
    let c = h.ok(&["-t"], &message(to, "", "All v2\n"));
    assert_eq!(c.len(), 1);
    check(&c[0], &["six", "seven", "aead4"], true, "All v2\n");
}

#[test]
fn rule_8_one_key_without_seipd_v2_and_no_v6_key_keeps_one_v1_copy() {
    let h = H::with_keys(MODERN, "");
    let c = h.ok(
        &["-t"],
        &message("aead4@example.org, alice@example.org", "", "V1\n"),
    );
    assert_eq!(c.len(), 1);
    check(&c[0], &["aead4", "alice"], false, "V1\n");
}

#[test]
fn rule_8_a_v6_key_beside_a_v1_only_key_makes_one_copy_per_format() {
    let h = H::with_keys(MODERN, "");
    // Over 1 MiB: the body is kept sealed and read once per format.
    let body = "A line of the body, long enough to count.\n".repeat(40_000);
    let to = "alice@example.org, six@example.org, bob@example.org, aead4@example.org";
    let c = h.ok(&["-t"], &message(to, "", &body));
    assert_eq!(c.len(), 2);
    let v1 = copy_for(&c, &["alice@example.org", "bob@example.org"]);
    let v2 = copy_for(&c, &["six@example.org", "aead4@example.org"]);
    check(v1, &["alice", "bob"], false, &body);
    check(v2, &["six", "aead4"], true, &body);
    // Each copy opens with its own recipients' keys only, and both carry one outer header.
    assert!(v1.try_open("six").is_err());
    assert!(v2.try_open("alice").is_err());
    assert_eq!(v1.outer_header(), v2.outer_header());
}

#[test]
fn rule_8_hidden_recipients_get_their_own_copy_in_their_own_format() {
    let h = H::with_keys(MODERN, "");
    let c = h.ok(
        &["-t"],
        &message(
            "alice@example.org",
            "six@example.org, bob@example.org, seven@example.org",
            "Hidden\n",
        ),
    );
    assert_eq!(c.len(), 4);
    check(
        copy_for(&c, &["alice@example.org"]),
        &["alice"],
        false,
        "Hidden\n",
    );
    check(
        copy_for(&c, &["bob@example.org"]),
        &["bob"],
        false,
        "Hidden\n",
    );
    check(
        copy_for(&c, &["six@example.org"]),
        &["six"],
        true,
        "Hidden\n",
    );
    check(
        copy_for(&c, &["seven@example.org"]),
        &["seven"],
        true,
        "Hidden\n",
    );
    // A hidden recipient's key opens no other copy (check saw each copy's PKESKs).
    for other in c.iter().filter(|c| c.rcpts() != ["six@example.org"]) {
        assert!(other.try_open("six").is_err());
    }
}

#[test]
fn explain_names_each_copy_s_format() {
    let h = H::with_keys(MODERN, "");
    let out = h.run(
        &["explain", "-t"],
        &message("alice@example.org, six@example.org", "", "x\n"),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(encrypted, SEIPD v1, AES256): alice@example.org"),
        "{text}"
    );
    assert!(
        text.contains("(encrypted, SEIPD v2, AES256/OCB): six@example.org"),
        "{text}"
    );
}

/// A post-quantum certificate the pgp crate makes for `name@example.org` (version `v`, a
/// `primary` signing key, an encryption subkey of each of `subs`, no SEIPD v2 in its
/// features), its public part written to `h`'s key directory: the secret key, and the
/// fingerprint of its last subkey (upper-case hex).
fn pq_cert(
    h: &H,
    name: &str,
    v: pgp::types::KeyVersion,
    primary: pgp::composed::KeyType,
    subs: &[pgp::composed::KeyType],
) -> (pgp::composed::SignedSecretKey, String) {
    use pgp::composed::{
        ArmorOptions, EncryptionCaps, SecretKeyParamsBuilder, SignedPublicKey, SubkeyParamsBuilder,
    };
    use pgp::types::KeyDetails;
    let subkeys = subs
        .iter()
        .map(|t| {
            SubkeyParamsBuilder::default()
                .version(v)
                .key_type(t.clone())
                .can_encrypt(EncryptionCaps::All)
                .build()
                .unwrap()
        })
        .collect();
    let sec = SecretKeyParamsBuilder::default()
        .version(v)
        .key_type(primary)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(format!("{name} <{name}@example.org>"))
        .subkeys(subkeys)
        .build()
        .unwrap()
        .generate(rand::thread_rng())
        .unwrap();
    let public = SignedPublicKey::from(sec.clone());
    let armored = public.to_armored_string(ArmorOptions::default()).unwrap();
    std::fs::write(h.keys.join(format!("{name}.asc")), armored).unwrap();
    let last = public.public_subkeys.last().unwrap();
    let fpr = last.key.fingerprint();
    (
        sec,
        fpr.as_bytes().iter().map(|b| format!("{b:02X}")).collect(),
    )
}

/// Opens `copy` with `key`: the body is `body`, SEIPD v2 (AES-256, OCB), and the one PKESK
/// names `fpr`, the post-quantum subkey.
fn check_pq(copy: &Capture, key: &pgp::composed::SignedSecretKey, fpr: &str, body: &str) {
    let o = pgpsendmail::openpgp::decrypt::open(&copy.stdin, key).expect("the pgp crate opens it");
    assert_eq!(payload_parts(&o.payload).2, crlf(body.as_bytes()));
    assert_eq!(o.recipients, [fpr], "only the post-quantum subkey");
    match o.seipd {
        Some(Seipd::V2 { sym_alg, aead, .. }) => {
            assert_eq!(
                (sym_alg, aead),
                (SymmetricKeyAlgorithm::AES256, AeadAlgorithm::Ocb)
            );
        }
        other => panic!("SEIPD v2 was due: {other:?}"),
    }
}

#[test]
fn rule_10_a_post_quantum_recipient_gets_seipd_v2_to_its_ml_kem_subkey_only() {
    use pgp::composed::KeyType::*;
    use pgp::types::KeyVersion::*;
    let h = H::with_keys(&[], "");
    // Version 6, X25519 beside ML-KEM-768+X25519: the ML-KEM one is used.
    let (sec, fpr) = pq_cert(&h, "pq6", V6, Ed25519, &[X25519, MlKem768X25519]);
    let c = h.ok(
        &["pq6@example.org"],
        &message("pq6@example.org", "", "PQ\n"),
    );
    assert_eq!(c.len(), 1);
    check_pq(&c[0], &sec, &fpr, "PQ\n");
    assert!(c[0].outer_header().contains("multipart/encrypted"));
    // ML-DSA-87+Ed448 primary, ML-KEM-1024+X448 subkey.
    let h = H::with_keys(&[], "");
    let (sec, fpr) = pq_cert(&h, "pq87", V6, MlDsa87Ed448, &[MlKem1024X448]);
    let c = h.ok(
        &["pq87@example.org"],
        &message("pq87@example.org", "", "87\n"),
    );
    check_pq(&c[0], &sec, &fpr, "87\n");
}

#[test]
fn rule_10_a_post_quantum_recipient_beside_a_v4_one_gets_its_own_v2_copy() {
    use pgp::composed::KeyType::*;
    use pgp::crypto::ecc_curve::ECCCurve;
    use pgp::types::KeyVersion::*;
    let h = H::with_keys(&["alice", "bob"], "");
    // A version 4 certificate whose features do not list SEIPD v2: its ML-KEM subkey still
    // takes it to a SEIPD v2 copy, away from alice's SEIPD v1 one.
    let legacy = ECDH(ECCCurve::Curve25519Legacy);
    let (pq4, pq4_fpr) = pq_cert(&h, "pq4", V4, Ed25519Legacy, &[legacy, MlKem768X25519]);
    let (pq6, pq6_fpr) = pq_cert(&h, "pq6", V6, MlDsa65Ed25519, &[MlKem768X25519]);
    let c = h.ok(
        &["-t"],
        &message(
            "alice@example.org, pq4@example.org",
            "pq6@example.org, bob@example.org",
            "Mixed\n",
        ),
    );
    assert_eq!(c.len(), 4);
    check(
        copy_for(&c, &["alice@example.org"]),
        &["alice"],
        false,
        "Mixed\n",
    );
    check(
        copy_for(&c, &["bob@example.org"]),
        &["bob"],
        false,
        "Mixed\n",
    );
    let visible_pq = copy_for(&c, &["pq4@example.org"]);
    check_pq(visible_pq, &pq4, &pq4_fpr, "Mixed\n");
    let hidden_pq = copy_for(&c, &["pq6@example.org"]);
    check_pq(hidden_pq, &pq6, &pq6_fpr, "Mixed\n");
    // The hidden post-quantum recipient's key opens no other copy.
    let dec = pgpsendmail::openpgp::decrypt::open;
    for other in c.iter().filter(|c| c.rcpts() != ["pq6@example.org"]) {
        assert!(dec(&other.stdin, &pq6).is_err());
    }
    assert!(dec(&hidden_pq.stdin, &pq4).is_err());
}

#[test]
fn rule_10_explain_and_check_name_the_classical_key_passed_over() {
    use pgp::composed::KeyType::*;
    use pgp::types::KeyVersion::*;
    let h = H::with_keys(&[], "");
    pq_cert(&h, "pq6", V6, Ed25519, &[X25519, MlKem768X25519]);
    let out = h.run(&["explain", "-t"], &message("pq6@example.org", "", "x\n"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(encrypted, SEIPD v2, AES256/OCB): pq6@example.org"),
        "{text}"
    );
    let out = h.run(&["check"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("passed over for the post-quantum key"),
        "{text}"
    );
}
