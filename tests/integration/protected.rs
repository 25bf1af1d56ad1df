//! Rule 16 of docs/message.md: input that is already encrypted is handed on as it is only when
//! its body is verified ciphertext (src/message/protected.rs); everything that merely looks
//! encrypted is encrypted like any other message. The inputs are made at test time by the
//! machine's gpg (a throw-away GNUPGHOME) and openssl; without them these tests skip
//! loudly, and fail under CI=true.

use crate::harness::*;

/// The header of every test message: a secret Subject, a hidden recipient.
const HEAD: &str = "From: me@example.org\nTo: nokey@example.org\nBcc: bob@example.org\n\
                    Subject: SECRET-SUBJECT\n";

/// A GnuPG home that can encrypt to alice and sign as its own key.
pub fn gpg_home() -> Option<GpgHome> {
    let g = GpgHome::new()?;
    let alice = keys_dir().join("alice.asc");
    g.run(&["--import", alice.to_str().unwrap()], b"");
    g.make_key("Signer <signer@example.org>", "never");
    Some(g)
}

pub fn gpg_encrypt(g: &GpgHome, text: &[u8]) -> Vec<u8> {
    g.run(
        &[
            "--trust-model",
            "always",
            "--encrypt",
            "--armor",
            "-r",
            "alice@example.org",
        ],
        text,
    )
}

fn message(extra_head: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!("{HEAD}{extra_head}\n").into_bytes();
    m.extend_from_slice(body);
    m
}

/// Asserts that `msg` went out unchanged but for Bcc: one copy to every envelope
/// recipient, the body byte for byte.
fn passes_through(h: &H, msg: &[u8], body: &[u8]) {
    let c = h.ok(&["-i", "-t"], msg);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rcpts(), ["nokey@example.org", "bob@example.org"]);
    let out = &c[0].stdin;
    assert!(
        contains(out, b"Subject: SECRET-SUBJECT\n"),
        "not handed on as it is"
    );
    assert!(!contains(out, b"\nBcc:"));
    assert!(out.ends_with(body), "the body changed");
    let head_len = find(out, b"\n\n").unwrap() + 2;
    assert_eq!(&out[head_len..], body, "the body changed");
}

/// Asserts that `msg` was not handed on as it is: refused for the recipient without a key
/// (67, nothing sent), and encrypted (Subject hidden) for recipients with keys.
fn is_encrypted(msg: &[u8]) {
    let h = H::new();
    let err = h.fails(67, &["-i", "-t"], msg);
    assert!(!err.contains("SECRET"), "{err}");
    let h = H::new();
    let to_alice = String::from_utf8_lossy(msg).replace("nokey@", "alice@");
    let c = h.ok(&["-i", "-t"], to_alice.as_bytes());
    assert_eq!(c.len(), 2, "a copy for alice and one for the hidden bob");
    for copy in &c {
        assert!(copy.outer_header().contains("Subject: [...]"));
        assert!(!contains(&copy.cleartext(), b"SECRET"), "readable outside");
    }
    let inner = c[0].open("alice").payload;
    assert!(contains(&inner, b"Subject: SECRET-SUBJECT"));
}

#[test]
fn gpg_signed_armored_body_is_encrypted_not_passed_through() {
    let Some(g) = gpg_home() else { return };
    // `gpg --sign --armor`: one PGP MESSAGE block that is compressed + signed, not encrypted.
    let signed = g.run(
        &["--sign", "--armor", "-u", "signer@example.org"],
        b"SECRET body text\n",
    );
    assert!(signed.starts_with(b"-----BEGIN PGP MESSAGE-----"));
    is_encrypted(&message("", &signed));
}

#[test]
fn gpg_encrypted_armored_body_passes_through_byte_for_byte() {
    let Some(g) = gpg_home() else { return };
    let enc = gpg_encrypt(&g, b"SECRET body text\n");
    passes_through(&H::new(), &message("", &enc), &enc);
}

#[test]
fn gpg_symmetric_armored_body_passes_through() {
    let Some(g) = gpg_home() else { return };
    let sym = g.run(
        &["--passphrase", "pw", "--symmetric", "--armor"],
        b"SECRET body text\n",
    );
    passes_through(&H::new(), &message("", &sym), &sym);
}

#[test]
fn gpg_clearsigned_body_is_encrypted() {
    let Some(g) = gpg_home() else { return };
    let clear = g.run(
        &["--clearsign", "-u", "signer@example.org"],
        b"SECRET body text\n",
    );
    is_encrypted(&message("", &clear));
}

/// RFC 3156 around `second`, as Thunderbird writes it (with its preamble note).
pub fn pgp_mime(second: &[u8]) -> (String, Vec<u8>) {
    let head = "MIME-Version: 1.0\nContent-Type: multipart/encrypted;\n \
                protocol=\"application/pgp-encrypted\";\n boundary=\"------------b1\"\n";
    let mut body = b"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n\
--------------b1\nContent-Type: application/pgp-encrypted\n\
Content-Description: PGP/MIME version identification\n\nVersion: 1\n\n\
--------------b1\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\n\
Content-Description: OpenPGP encrypted message\n\
Content-Disposition: inline; filename=\"encrypted.asc\"\n\n"
        .to_vec();
    body.extend_from_slice(second);
    body.extend_from_slice(b"\n--------------b1--\n\n");
    (head.to_string(), body)
}

#[test]
fn pgp_mime_label_over_a_plaintext_second_part_is_encrypted() {
    // Needs no gpg: the leak was the label alone.
    let (head, body) = pgp_mime(b"SECRET body text, not encrypted at all\n");
    is_encrypted(&message(&head, &body));
    // Nor a label over a plain body with no parts at all.
    is_encrypted(&message(&head, b"SECRET plain body\n"));
}

#[test]
fn pgp_mime_with_a_signed_second_part_is_encrypted_and_explain_says_why() {
    let Some(g) = gpg_home() else { return };
    let signed = g.run(
        &["--sign", "--armor", "-u", "signer@example.org"],
        b"SECRET body text\n",
    );
    let (head, body) = pgp_mime(&signed);
    let msg = message(&head, &body);
    is_encrypted(&msg);
    let out = H::new()
        .cmd()
        .args(["explain", "-t"])
        .write_stdin(msg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "labelled multipart/encrypted but its second part is not an encrypted OpenPGP \
             message (compressed data: a signed or plain message"
        ),
        "{text}"
    );
    assert!(text.contains("; it will be encrypted"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
}

#[test]
fn real_pgp_mime_passes_through_unchanged() {
    let Some(g) = gpg_home() else { return };
    let (head, body) = pgp_mime(&gpg_encrypt(&g, b"SECRET body text\n"));
    passes_through(&H::new(), &message(&head, &body), &body);

    // pgpsendmail's own output, sent on again, is not encrypted twice.
    let h = H::new();
    let c = h.ok(
        &["-i", "-t"],
        b"To: alice@example.org\nSubject: SECRET-SUBJECT\n\nSECRET\n",
    );
    let own = c[0].stdin.clone();
    let inner = c[0].open("alice").payload;
    let mut again = b"Bcc: bob@example.org\n".to_vec();
    again.extend_from_slice(&own);
    let h = H::new();
    let c = h.ok(&["-i", "-t"], &again);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rcpts(), ["alice@example.org", "bob@example.org"]);
    assert_eq!(c[0].stdin, own, "handed on unchanged");
    assert_eq!(c[0].open("alice").payload, inner);
}

#[test]
fn an_encrypted_body_over_the_in_memory_limit_passes_through_unchanged() {
    let Some(g) = gpg_home() else { return };
    // 3 MiB of ciphertext: kept sealed while it is verified, then handed on unchanged.
    let mut big = Vec::with_capacity(2 << 20);
    let mut x: u64 = 1;
    while big.len() < 2 << 20 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        big.extend_from_slice(&x.to_le_bytes());
    }
    let enc = g.run(
        &[
            "--trust-model",
            "always",
            "-z",
            "0",
            "--encrypt",
            "--armor",
            "-r",
            "alice@example.org",
        ],
        &big,
    );
    assert!(enc.len() > 2 << 20);
    passes_through(&H::new(), &message("", &enc), &enc);
}

/// A throw-away certificate and key for openssl, in a temporary directory.
pub fn openssl_dir() -> Option<tempfile::TempDir> {
    openssl()?;
    let d = tempfile::tempdir().unwrap();
    openssl_run(
        d.path(),
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem",
            "-subj", "/CN=test", "-days", "2",
        ],
        b"",
    );
    Some(d)
}

#[test]
fn smime_enveloped_data_from_openssl_passes_through() {
    let Some(d) = openssl_dir() else { return };
    // `openssl smime -encrypt` writes a whole MIME entity: its header fields and body.
    let entity = openssl_run(
        d.path(),
        &["smime", "-encrypt", "-aes256", "c.pem"],
        b"SECRET body text\n",
    );
    assert!(contains(&entity, b"smime-type=enveloped-data"));
    let split = find(&entity, b"\n\n").unwrap();
    let (fields, body) = (&entity[..=split], &entity[split + 2..]);
    let msg = message(std::str::from_utf8(fields).unwrap(), body);
    passes_through(&H::new(), &msg, body);
    // The same without its smime-type parameter: the content proves it, not the label.
    let bare = String::from_utf8(fields.to_vec())
        .unwrap()
        .replace(" smime-type=enveloped-data;", "");
    passes_through(&H::new(), &message(&bare, body), body);
}

#[test]
fn smime_streamed_ber_and_auth_enveloped_data_from_openssl_pass_through() {
    let Some(d) = openssl_dir() else { return };
    // `-stream`: BER with indefinite lengths; AES-GCM: authEnvelopedData.
    for args in [
        &["cms", "-encrypt", "-stream", "-aes256", "c.pem"][..],
        &["cms", "-encrypt", "-aes-256-gcm", "c.pem"][..],
    ] {
        let entity = openssl_run(d.path(), args, b"SECRET body text\n");
        let split = find(&entity, b"\n\n").unwrap();
        let (fields, body) = (&entity[..=split], &entity[split + 2..]);
        let msg = message(std::str::from_utf8(fields).unwrap(), body);
        passes_through(&H::new(), &msg, body);
    }
}

#[test]
fn smime_signed_data_without_smime_type_is_encrypted() {
    let Some(d) = openssl_dir() else { return };
    // `openssl cms -sign -nodetach`: signed-data, readable by anyone, labelled pkcs7-mime
    // with no smime-type (the label alone once passed it through).
    let der = openssl_run(
        d.path(),
        &[
            "cms",
            "-sign",
            "-nodetach",
            "-signer",
            "c.pem",
            "-inkey",
            "k.pem",
            "-outform",
            "DER",
        ],
        b"SECRET body text\n",
    );
    let head = "MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; name=\"smime.p7m\"\n\
                Content-Transfer-Encoding: base64\n";
    is_encrypted(&message(head, &base64_lines(&der)));
    // `openssl smime -sign -nodetach`: x-pkcs7-mime; smime-type=signed-data.
    let entity = openssl_run(
        d.path(),
        &[
            "smime",
            "-sign",
            "-nodetach",
            "-signer",
            "c.pem",
            "-inkey",
            "k.pem",
        ],
        b"SECRET body text\n",
    );
    let split = find(&entity, b"\n\n").unwrap();
    let fields = std::str::from_utf8(&entity[..=split]).unwrap();
    is_encrypted(&message(fields, &entity[split + 2..]));
    // A label that lies: smime-type=enveloped-data over signed data.
    let lying = head.replace("name=", "smime-type=enveloped-data; name=");
    is_encrypted(&message(&lying, &base64_lines(&der)));
}

fn base64_lines(data: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::new();
    for l in s.as_bytes().chunks(64) {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}
