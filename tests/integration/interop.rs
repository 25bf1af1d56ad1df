//! GnuPG decrypts what pgpsendmail writes, for an RSA-3072 and a Curve25519 recipient.
//! gpg missing: the test fails under CI=true, and only skips (loudly) elsewhere.

use crate::harness::*;

/// Decrypts a copy with gpg, holding only `secret`'s key.
pub fn gpg_decrypt(g: &GpgHome, secret: &str, capture: &Capture) -> Vec<u8> {
    let key = keys_dir().join(format!("{secret}.sec.asc"));
    g.run(&["--import", key.to_str().unwrap()], b"");
    let block = pgpsendmail::openpgp::decrypt::armored_block(&capture.stdin).unwrap();
    g.run(&["--decrypt"], block)
}

#[test]
fn gpg_decrypts_for_rsa3072_and_curve25519_recipients() {
    if gpg().is_none() {
        return;
    }
    let h = H::new();
    let msg = b"From: me@example.org\nTo: alice@example.org, bob@example.org\nSubject: Interop\n\nhello gpg\n";
    let c = h.ok(&["-i", "-t"], msg);
    assert_eq!(c.len(), 1);
    let ours = c[0].open("bob").payload;
    for who in ["alice", "bob"] {
        let theirs = gpg_decrypt(&GpgHome::new().unwrap(), who, &c[0]);
        assert_eq!(theirs, ours, "gpg and rpgp disagree for {who}");
        let (root, _, body) = payload_parts(&theirs);
        assert!(root.contains("Subject: Interop\r\n"));
        assert_eq!(body, b"hello gpg\r\n");
    }
}

#[test]
fn gpg_decrypts_a_hidden_recipients_own_copy() {
    // Hidden copies share the encrypted body with the visible copy but carry only their
    // own PKESK: GnuPG must open each with its own key alone.
    if gpg().is_none() {
        return;
    }
    let h = H::new();
    let msg = b"From: me@example.org\nTo: alice@example.org\nBcc: carol@example.net\nSubject: Hidden\n\nfor carol too\n";
    let c = h.ok(&["-i", "-t"], msg);
    assert_eq!(c.len(), 2);
    let theirs = gpg_decrypt(&GpgHome::new().unwrap(), "carol", &c[1]);
    assert_eq!(payload_parts(&theirs).2, b"for carol too\r\n");
    assert_eq!(
        gpg_decrypt(&GpgHome::new().unwrap(), "alice", &c[0]),
        theirs
    );
}
