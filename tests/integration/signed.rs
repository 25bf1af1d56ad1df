//! The host signature (pgpsendmail.toml(5), `sign_key` and `sign_unreadable`; docs/message.md,
//! rule 9): every encrypted copy, SEIPD v1 and v2, one-pass signed inside the encryption by
//! the host key, each copy still with only its own recipients' PKESKs; what an unreadable
//! or unusable key does; what `check` says of the key. Then the real verifiers: GnuPG 2.2,
//! Sequoia's sq, RNP and OpenPGP.js report a good signature from the host key.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pgp::composed::{Deserializable, SignedPublicKey};
use pgpsendmail::openpgp::decrypt;

use crate::harness::*;
use crate::real::*;

const BODY: &str = "Cron output line\n.\nthe end\n";

/// A test key's certificate.
fn cert(name: &str) -> SignedPublicKey {
    let f = std::fs::File::open(keys_dir().join(format!("{name}.asc"))).unwrap();
    SignedPublicKey::from_reader_single(f).unwrap().0
}

fn secret(name: &str) -> PathBuf {
    keys_dir().join(format!("{name}.sec.asc"))
}

/// Copies secret key `name` into the harness's tree as root's 0600 file `host.key`, and
/// configures it as `sign_key` (with `extra` settings); returns its path.
fn with_host_key(h: &H, name: &str, extra: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = h.dir.path().join("host.key");
    std::fs::copy(secret(name), &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    h.write_config(&format!("sign_key = \"{}\"\n{extra}", p.display()));
    p
}

/// The copies of one message to alice (SEIPD v1), six and aead4 (SEIPD v2) in To and
/// seven (v2) and carol (v1) in Bcc, with `host` as the host key.
fn signed_copies(host: &str) -> (H, Vec<(Capture, Vec<&'static str>)>) {
    signed_copies_of(host, BODY)
}

/// [`signed_copies`] of a message with `body`.
fn signed_copies_of(host: &str, body: &str) -> (H, Vec<(Capture, Vec<&'static str>)>) {
    let h = H::with_keys(&["alice", "carol", "six", "aead4", "seven"], "");
    with_host_key(&h, host, "");
    let msg = format!(
        "From: root@example.org\nTo: alice@example.org, six@example.org, aead4@example.org\n\
         Bcc: seven@example.org, carol@example.net\nSubject: cron\n\n{body}"
    );
    let c = h.ok(&["-t", "-i"], msg.as_bytes());
    let by = |r: &[&str]| c.iter().find(|c| c.rcpts() == r).unwrap().clone();
    let copies = vec![
        (by(&["alice@example.org"]), vec!["alice"]),
        (
            by(&["six@example.org", "aead4@example.org"]),
            vec!["six", "aead4"],
        ),
        (by(&["seven@example.org"]), vec!["seven"]),
        (by(&["carol@example.net"]), vec!["carol"]),
    ];
    assert_eq!(c.len(), 4);
    (h, copies)
}

#[test]
fn every_copy_of_both_formats_is_signed_by_the_host_key() {
    for host in ["gateway", "six"] {
        every_copy_is_signed(host, BODY);
    }
}

#[test]
fn messages_made_whole_and_streamed_are_signed_alike() {
    // Up to 64 KiB of payload is encrypted in one pass on one thread, more streams
    // (docs/message.md, rule 8): bodies on both sides of that line, every copy signed.
    let line = "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n";
    for lines in [900, 1100] {
        every_copy_is_signed("gateway", &line.repeat(lines));
    }
}

/// Every copy of [`signed_copies_of`] `body` opens with its own keys alone, signed by
/// `host`, each format where it belongs.
fn every_copy_is_signed(host: &str, body: &str) {
    {
        let (_h, copies) = signed_copies_of(host, body);
        let signer = cert(host);
        let mut versions = Vec::new();
        for (copy, keys) in &copies {
            assert!(
                copy.outer_header()
                    .to_ascii_lowercase()
                    .contains("multipart/encrypted"),
                "the outer message stays RFC 3156"
            );
            // Only its own recipients' PKESKs (the hidden-copy rule).
            let own: Vec<String> = keys.iter().flat_map(|k| pkesk_names(k)).collect();
            let opened = copy.open(keys[0]);
            assert!(
                opened.recipients.iter().all(|r| own.contains(r)),
                "{keys:?}"
            );
            assert_eq!(opened.recipients.len(), keys.len());
            for k in keys {
                let key = decrypt::secret_key(&secret(k)).unwrap();
                let (o, by) = decrypt::open_signed(&copy.stdin, &key, &signer)
                    .unwrap_or_else(|e| panic!("host {host}, {k}'s copy: {e}"));
                assert_eq!(by, fingerprint(host), "signed by the host key");
                assert!(o.literal_ok);
                assert_eq!(payload_parts(&o.payload).2, crlf(body.as_bytes()));
            }
            versions.push(opened.seipd.map(|s| format!("{s:?}").contains("V2")));
        }
        assert_eq!(
            versions,
            [Some(false), Some(true), Some(true), Some(false)],
            "SEIPD v1 and v2 copies"
        );
    }
}

#[test]
fn an_unreadable_sign_key_sends_unsigned_by_default_and_refuse_sends_nothing() {
    let mut h = H::new();
    let log = crate::maillog::Log::on(&mut h);
    let missing = h.dir.path().join("no-such.key");
    h.write_config(&format!("sign_key = \"{}\"\n", missing.display()));
    let msg = b"From: root@example.org\nTo: alice@example.org\nSubject: s\n\nhello\n";
    let out = h.run(&["-t", "-i"], msg);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sign_key") && err.contains("sending unsigned"),
        "{err}"
    );
    let c = h.captures();
    assert_eq!(c.len(), 1);
    let key = decrypt::secret_key(&secret("alice")).unwrap();
    let e = decrypt::open_signed(&c[0].stdin, &key, &cert("gateway")).unwrap_err();
    assert!(e.contains("not one-pass signed"), "{e}");
    assert!(contains(&c[0].open("alice").payload, b"hello"));
    // The mail log: a warning (facility mail, priority warning) beside the info line.
    let lines = log.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<20>pgpsendmail[") && l.contains("sending unsigned")),
        "{lines:#?}"
    );

    h.write_config(&format!(
        "sign_key = \"{}\"\nsign_unreadable = \"refuse\"\n",
        missing.display()
    ));
    let err = h.fails(78, &["-t", "-i"], msg);
    assert!(err.contains("sign_key") && err.contains("refuse"), "{err}");
    assert_eq!(h.captures().len(), 1, "nothing more handed on");
}

#[test]
fn a_user_other_than_root_cannot_read_the_key_and_sign_unreadable_decides() {
    let h = H::with_keys(&["alice"], "");
    let key = with_host_key(&h, "gateway", "");
    let msg = b"From: nobody@example.org\nTo: alice@example.org\nSubject: s\n\nhello\n";
    let Some(out) = crate::adminops::as_nobody(&h, &["-t", "-i"], msg) else {
        return;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("Permission denied") && err.contains("sending unsigned"),
        "{err}"
    );
    let c = h.captures();
    assert_eq!(c.len(), 1);
    let alice = decrypt::secret_key(&secret("alice")).unwrap();
    assert!(decrypt::open_signed(&c[0].stdin, &alice, &cert("gateway")).is_err());
    let check = crate::adminops::as_nobody(&h, &["check"], b"").unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains("note: sign_key") && text.contains("is sent unsigned (sign_unreadable)"),
        "{text}"
    );
    h.write_config(&format!(
        "sign_key = \"{}\"\nsign_unreadable = \"refuse\"\n",
        key.display()
    ));
    let out = crate::adminops::as_nobody(&h, &["-t", "-i"], msg).unwrap();
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert_eq!(h.captures().len(), 1, "nothing more handed on");
    // Root reads it: signed.
    let c = h.ok(&["-t", "-i"], msg);
    decrypt::open_signed(&c.last().unwrap().stdin, &alice, &cert("gateway")).unwrap();
}

#[test]
fn a_sign_key_that_cannot_sign_is_refused_whatever_sign_unreadable_says() {
    let h = H::new();
    // A public certificate, not a secret key.
    let p = h.dir.path().join("host.key");
    std::fs::copy(keys_dir().join("gateway.asc"), &p).unwrap();
    h.write_config(&format!("sign_key = \"{}\"\n", p.display()));
    let msg = b"From: root@example.org\nTo: alice@example.org\nSubject: s\n\nhello\n";
    let err = h.fails(78, &["-t", "-i"], msg);
    assert!(
        err.contains("sign_key") && err.contains("secret key"),
        "{err}"
    );
    assert!(h.captures().is_empty());
}

#[test]
fn check_validates_the_sign_key() {
    use std::os::unix::fs::PermissionsExt;
    let h = H::new();
    let p = with_host_key(&h, "gateway", "");
    let out = h.run(&["check"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = format!(
        "signing key {} of {}",
        fingerprint("gateway"),
        fingerprint("gateway")
    );
    assert!(text.contains(&line), "{text}");
    assert!(!text.contains("error: sign_key"), "{text}");
    // Others can read it: an error (anyone could sign as this host).
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = h.run(&["check"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains("mode 0644"), "{text}");
    // A public certificate in its place.
    std::fs::copy(keys_dir().join("gateway.asc"), &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = h.run(&["check"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains("error: sign_key"), "{text}");
}

#[test]
fn an_expired_sign_key_is_an_error_for_check_and_stops_mail() {
    let test = "an_expired_sign_key_is_an_error_for_check_and_stops_mail";
    if !wanted(test) {
        return;
    }
    let Some(g) = GpgHome::new() else { return };
    let uid = "Old Host <root@old.example>";
    g.run(
        &["--quick-gen-key", uid, "ed25519", "sign,cert", "seconds=1"],
        b"",
    );
    let sec = g.run(
        &["--armor", "--export-secret-keys", &g.fingerprint(uid)],
        b"",
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    let h = H::new();
    let p = h.dir.path().join("host.key");
    std::fs::write(&p, &sec).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    h.write_config(&format!("sign_key = \"{}\"\n", p.display()));
    let out = h.run(&["check"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.contains("error: sign_key") && text.contains("expired"),
        "{text}"
    );
    let msg = b"From: root@example.org\nTo: alice@example.org\nSubject: s\n\nhello\n";
    let err = h.fails(78, &["-t", "-i"], msg);
    assert!(err.contains("expired"), "{err}");
    assert!(h.captures().is_empty());
}

// The real verifiers, on a signed SEIPD v1 copy to alice.

/// One signed copy to alice (SEIPD v1) with `host.key` made from `host`, as an armored file.
fn signed_v1(host: &str) -> (H, PathBuf) {
    let h = H::with_keys(&["alice"], "");
    with_host_key(&h, host, "");
    let msg = format!("From: root@example.org\nTo: alice@example.org\nSubject: cron\n\n{BODY}");
    let c = h.ok(&["-t", "-i"], msg.as_bytes());
    let file = h.dir.path().join("signed.asc");
    std::fs::write(&file, decrypt::armored_block(&c[0].stdin).unwrap()).unwrap();
    (h, file)
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn assert_opened(tool: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{tool}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        payload_parts(&out.stdout).2,
        crlf(BODY.as_bytes()),
        "{tool}"
    );
}

/// gpg --decrypt with alice's secret key and the host's certificate imported; the status
/// lines.
fn gpg_verify(g: &GpgHome, file: &Path) -> (Output, String) {
    g.run(&["--import", secret("alice").to_str().unwrap()], b"");
    let out = output(
        Command::new("gpg")
            .env("GNUPGHOME", g.home.path())
            .args(["--batch", "--status-fd", "2", "--decrypt"])
            .arg(file),
    );
    let status = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, status)
}

#[test]
fn gpg_reports_a_good_signature_from_the_host_key() {
    let test = "gpg_reports_a_good_signature_from_the_host_key";
    if !wanted(test) {
        return;
    }
    let Some(g) = GpgHome::new() else { return };
    let (_h, file) = signed_v1("gateway");
    g.run(
        &["--import", keys_dir().join("gateway.asc").to_str().unwrap()],
        b"",
    );
    let (out, status) = gpg_verify(&g, &file);
    assert_opened("gpg", &out);
    let fpr = fingerprint("gateway");
    assert!(status.contains("[GNUPG:] GOODSIG "), "{status}");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with(&format!("[GNUPG:] VALIDSIG {fpr} ")) && l.ends_with(&fpr)),
        "{status}"
    );
}

#[test]
fn a_host_key_gpg_made_with_a_signing_subkey_signs_and_gpg_agrees() {
    let test = "a_host_key_gpg_made_with_a_signing_subkey_signs_and_gpg_agrees";
    if !wanted(test) {
        return;
    }
    let Some(g) = GpgHome::new() else { return };
    // As a new user would: a certify-only primary and a signing subkey, no passphrase.
    let uid = "Host Key <root@host.example>";
    g.run(&["--quick-gen-key", uid, "ed25519", "cert", "never"], b"");
    let primary = g.fingerprint(uid);
    g.run(&["--quick-add-key", &primary, "ed25519", "sign", "1y"], b"");
    let sec = g.run(&["--armor", "--export-secret-keys", &primary], b"");
    let h = H::with_keys(&["alice"], "");
    let p = h.dir.path().join("host.key");
    std::fs::write(&p, &sec).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    h.write_config(&format!("sign_key = \"{}\"\n", p.display()));
    let check = String::from_utf8_lossy(&h.run(&["check"], b"").stdout).into_owned();
    assert!(
        check.contains(&format!("of {primary} (expires ")),
        "{check}"
    );
    let msg = format!("From: root@example.org\nTo: alice@example.org\nSubject: cron\n\n{BODY}");
    let c = h.ok(&["-t", "-i"], msg.as_bytes());
    let file = h.dir.path().join("signed.asc");
    std::fs::write(&file, decrypt::armored_block(&c[0].stdin).unwrap()).unwrap();
    let (out, status) = gpg_verify(&g, &file);
    assert_opened("gpg", &out);
    let valid = status
        .lines()
        .find(|l| l.starts_with("[GNUPG:] VALIDSIG "))
        .unwrap_or_else(|| panic!("{status}"));
    let sub = valid.split(' ').nth(2).unwrap();
    assert_ne!(sub, primary, "the subkey signed: {valid}");
    assert!(valid.ends_with(&primary), "{valid}");
}

#[test]
fn sequoia_sq_verifies_the_host_signature() {
    let test = "sequoia_sq_verifies_the_host_signature";
    let Some(sq) = need(test, "Sequoia sq", "sq", &["/usr/bin/sq"]) else {
        return;
    };
    let (_h, file) = signed_v1("gateway");
    let out = output(
        Command::new(&sq)
            .args(["decrypt", "--recipient-key"])
            .arg(secret("alice"))
            .arg("--signer-cert")
            .arg(keys_dir().join("gateway.asc"))
            .arg(&file),
    );
    assert_opened("sq", &out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Good signature"), "{err}");
    // And with another signer's certificate it fails: the signature is checked.
    let out = output(
        Command::new(&sq)
            .args(["decrypt", "--recipient-key"])
            .arg(secret("alice"))
            .arg("--signer-cert")
            .arg(keys_dir().join("bob.asc"))
            .arg(&file),
    );
    assert!(!out.status.success(), "sq took bob as the signer");
}

#[test]
fn rnp_verifies_the_host_signature() {
    let test = "rnp_verifies_the_host_signature";
    let Some(rnp) = need(test, "rnp", "rnp", &["/usr/bin/rnp"]) else {
        return;
    };
    let Some(rnpkeys) = need(test, "rnpkeys", "rnp", &["/usr/bin/rnpkeys"]) else {
        return;
    };
    let (_h, file) = signed_v1("gateway");
    let home = tempfile::tempdir().unwrap();
    for k in [secret("alice"), keys_dir().join("gateway.asc")] {
        run_ok(
            Command::new(&rnpkeys)
                .arg("--homedir")
                .arg(home.path())
                .arg("--import")
                .arg(k),
            b"",
        );
    }
    let out = output(
        Command::new(&rnp)
            .arg("--homedir")
            .arg(home.path())
            .args(["--notty", "--decrypt", "--output=-"])
            .arg(&file),
    );
    assert_opened("rnp", &out);
    let err = String::from_utf8_lossy(&out.stderr);
    let id = &fingerprint("gateway")[24..].to_ascii_lowercase();
    assert!(err.contains("Good signature"), "{err}");
    assert!(err.to_ascii_lowercase().contains(id.as_str()), "{err}");
}

#[test]
fn openpgp_js_verifies_the_host_signature_in_v1_and_v2() {
    let test = "openpgp_js_verifies_the_host_signature_in_v1_and_v2";
    let Some(node) = need(
        test,
        "node",
        "nodejs",
        &["/usr/bin/node", "/usr/local/bin/node"],
    ) else {
        return;
    };
    let js = Path::new(ROOT).join("tests/js");
    let lib = js.join("node_modules/openpgp");
    if need(
        test,
        "OpenPGP.js (npm ci in tests/js)",
        "openpgp from npm",
        &[lib.to_str().unwrap()],
    )
    .is_none()
    {
        return;
    }
    for host in ["gateway", "six"] {
        let (h, copies) = signed_copies(host);
        for (i, (copy, keys)) in copies.iter().enumerate() {
            let file = h.dir.path().join(format!("{i}.asc"));
            std::fs::write(&file, decrypt::armored_block(&copy.stdin).unwrap()).unwrap();
            let run = |signer: &str| {
                output(
                    Command::new(&node)
                        .arg(js.join("decrypt.mjs"))
                        .arg(secret(keys[0]))
                        .arg(keys_dir().join(format!("{signer}.asc")))
                        .stdin(std::fs::File::open(&file).unwrap()),
                )
            };
            let out = run(host);
            assert_opened("OpenPGP.js", &out);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!(
                    "good signature by {}",
                    fingerprint(host).to_lowercase()
                )),
                "host {host}, copy {i}: {err}"
            );
            assert!(
                !run("bob").status.success(),
                "OpenPGP.js took bob as the signer"
            );
        }
    }
}
