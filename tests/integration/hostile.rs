//! Hostile header sections: bounded, linear, and a clean result or a clear error.
//! (The time guard only catches a hang; speed is measured by benchmarks, not here.)

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
