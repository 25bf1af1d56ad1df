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

/// pgpsendmail(8), KEYS: addresses match in one spelling (NFC, the domain through UTS 46,
/// the local part in Unicode lower case). Certificates gpg made for `c@exämple.org` and
/// `d@exämple.org` are found for `c@xn--exmple-cua.org` and `d@EXÄMPLE.ORG`; `keys list`
/// and `explain` find what sending finds; gpg opens each recipient's copy.
#[test]
fn gpg_decrypts_mail_to_every_spelling_of_an_internationalized_address() {
    let Some(g) = GpgHome::new() else { return };
    let fc = g.make_key("C <c@exämple.org>", "never");
    let fd = g.make_key("D <d@exa\u{308}mple.org>", "never");
    let h = H::with_keys(&[], "");
    let public = g.run(&["--export", "--armor"], b"");
    std::fs::write(h.keys.join("eai.asc"), public).unwrap();
    let (c_addr, d_addr) = ("c@xn--exmple-cua.org", "d@EXÄMPLE.ORG");
    for (addr, fpr) in [(c_addr, &fc), (d_addr, &fd)] {
        let out = h.run(&["keys", "list", addr], b"");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "keys list {addr}: {text}");
        assert!(text.contains(fpr.as_str()), "keys list {addr}: {text}");
        let out = h.run(&["explain", "-i", addr], b"Subject: s\n\nx\n");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "explain {addr}: {text}");
        assert!(text.contains(fpr.as_str()), "explain {addr}: {text}");
    }
    let msg = format!("From: me@example.org\nTo: {c_addr}\nSubject: EAI\n\nhej EAI\n");
    let c = h.ok(&["-i", c_addr, d_addr], msg.as_bytes());
    assert_eq!(c.len(), 2, "c visible, d hidden");
    assert_eq!(c[0].rcpts(), [c_addr]);
    assert_eq!(c[1].rcpts(), [d_addr]);
    for (copy, fpr) in c.iter().zip([&fc, &fd]) {
        let block = pgpsendmail::openpgp::decrypt::armored_block(&copy.stdin).unwrap();
        let out = g.home.path().join("plain");
        let _ = std::fs::remove_file(&out);
        let status = g.run(
            &[
                "--status-fd",
                "1",
                "--output",
                out.to_str().unwrap(),
                "--decrypt",
            ],
            block,
        );
        let status = String::from_utf8_lossy(&status);
        // Each copy is encrypted to its own recipient's key alone.
        let enc_to: Vec<&str> = status.lines().filter(|l| l.contains(" ENC_TO ")).collect();
        assert_eq!(enc_to.len(), 1, "{status}");
        assert!(
            status
                .lines()
                .any(|l| l.contains(" DECRYPTION_KEY ") && l.contains(fpr.as_str())),
            "{status}"
        );
        let plain = std::fs::read(&out).unwrap();
        assert_eq!(payload_parts(&plain).2, b"hej EAI\r\n");
    }
}
