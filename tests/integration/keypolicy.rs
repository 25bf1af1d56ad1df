//! The key policy and one certificate per fingerprint (pgpsendmail(8), KEYS), on
//! certificates that the machine's gpg makes for each test: revocations from every source
//! stick, keys the encryptor cannot use are passed over when keys are judged (never a
//! send-time exit 70), and weak hashes and key sizes make a certificate weak.
//! Fails under CI=true when gpg is missing; skipped loudly otherwise.

use crate::harness::*;

fn msg(to: &str) -> Vec<u8> {
    format!("From: me@example.org\nTo: {to}\nSubject: s\n\nsecret body MARKER\n").into_bytes()
}

/// Makes a key for `uid` in `g`: a primary key of the algorithm last in `primary` (the gpg
/// options before it apply to its generation), then one encryption subkey per `subkeys`
/// entry (none: the primary key encrypts too). Returns the primary fingerprint.
fn make(g: &GpgHome, uid: &str, primary: &[&str], subkeys: &[&str]) -> String {
    let mut args = primary.to_vec();
    let algo = args.pop().unwrap();
    args.extend(["--quick-gen-key", uid, algo, "sign,cert", "never"]);
    if subkeys.is_empty() {
        // A primary key that also encrypts.
        let n = args.len();
        args[n - 2] = "sign,cert,encr";
    }
    g.run(&args, b"");
    let fpr = g.fingerprint(uid);
    for s in subkeys {
        g.run(&["--quick-add-key", &fpr, s, "encr", "never"], b"");
    }
    fpr
}

fn export(g: &GpgHome, fpr: &str) -> Vec<u8> {
    g.run(&["--export", "--armor", fpr], b"")
}

/// The revocation certificate gpg wrote when it made the key, as it is on disk (with the
/// colon that guards its armor line).
fn revocs_file(g: &GpgHome, fpr: &str) -> Vec<u8> {
    std::fs::read(
        g.home
            .path()
            .join("openpgp-revocs.d")
            .join(format!("{fpr}.rev")),
    )
    .unwrap()
}

/// The revocation certificate with GnuPG's guard removed: what `gpg --gen-revoke` prints.
fn revocation(g: &GpgHome, fpr: &str) -> Vec<u8> {
    let text = String::from_utf8(revocs_file(g, fpr)).unwrap();
    let at = text.find(":-----BEGIN").unwrap();
    text.as_bytes()[at + 1..].to_vec()
}

/// An installation whose key directory holds exactly `files` (name, bytes).
fn with_files(files: &[(&str, &[u8])]) -> H {
    let h = H::with_keys(&[], "");
    for (name, bytes) in files {
        std::fs::write(h.keys.join(name), bytes).unwrap();
    }
    h
}

/// Sends to `addr` twice (the first run builds the key index, the second reads through
/// it) and asserts exit 67 naming `addr` and `why` each time; nothing handed on.
fn refused_twice(h: &H, addr: &str, why: &str) {
    for run in ["building the index", "through the index"] {
        let e = h.fails(67, &["-i", addr], &msg(addr));
        assert!(
            e.contains(addr) && e.contains(why),
            "{run}: wanted '{why}' in: {e}"
        );
        assert!(!e.contains("MARKER"));
    }
}

fn keys_list(h: &H, addr: &str) -> String {
    let out = h.cmd().args(["keys", "list", addr]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn check(h: &H) -> (i32, String) {
    let out = h.cmd().arg("check").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn a_revoked_export_beside_an_old_one_revokes_the_certificate() {
    let Some(g) = GpgHome::new() else { return };
    let fpr = g.make_key("Rev <rev@example.org>", "never");
    let old = export(&g, &fpr);
    g.run(&["--import"], &revocation(&g, &fpr));
    let revoked = export(&g, &fpr);
    // Either order of the two files, and each in a source of its own.
    for files in [
        [("a-old.asc", &old[..]), ("b-revoked.asc", &revoked[..])],
        [("a-revoked.asc", &revoked[..]), ("b-old.asc", &old[..])],
    ] {
        let h = with_files(&files);
        refused_twice(&h, "rev@example.org", "revoked");
        assert!(keys_list(&h, "rev@example.org").contains("NOT USABLE: revoked"));
    }
    let h = with_files(&[("old.asc", &old)]);
    let second = h.dir.path().join("more");
    std::fs::create_dir(&second).unwrap();
    std::fs::write(second.join("revoked.asc"), &revoked).unwrap();
    let text = std::fs::read_to_string(&h.config).unwrap().replace(
        &format!("keyring = [\"{}\"]", h.keys.display()),
        &format!(
            "keyring = [\"{}\", \"{}\"]",
            h.keys.display(),
            second.display()
        ),
    );
    std::fs::write(&h.config, text).unwrap();
    refused_twice(&h, "rev@example.org", "revoked");
}

#[test]
fn a_revocation_certificate_in_the_key_directory_revokes() {
    let Some(g) = GpgHome::new() else { return };
    let fpr = g.make_key("Rev <rev@example.org>", "never");
    let cert = export(&g, &fpr);
    let mut appended = cert.clone();
    appended.extend_from_slice(&revocation(&g, &fpr));
    for files in [
        // As gpg keeps it in openpgp-revocs.d/, guard and all.
        vec![
            ("rev.asc", cert.clone()),
            (&*format!("{fpr}.rev"), revocs_file(&g, &fpr)),
        ],
        vec![
            ("rev.asc", cert.clone()),
            ("rev-cert.asc", revocation(&g, &fpr)),
        ],
        vec![("rev.asc", appended)],
    ] {
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, &b[..])).collect();
        let h = with_files(&files);
        refused_twice(&h, "rev@example.org", "revoked");
        // Its only certificate revoked, the keyring can encrypt to nobody: 78.
        let (code, text) = check(&h);
        assert_eq!(code, 78, "{text}");
        assert!(
            text.contains(&format!("{fpr} ")) && text.contains("revoked"),
            "{text}"
        );
    }
}

#[test]
fn keys_import_of_a_revocation_certificate_applies_it_or_says_why_not() {
    let Some(g) = GpgHome::new() else { return };
    let fpr = g.make_key("Rev <rev@example.org>", "never");
    let h = H::with_keys(&[], "");
    let rev = h.dir.path().join("rev.asc");
    std::fs::write(&rev, revocation(&g, &fpr)).unwrap();
    let out = h.cmd().args(["keys", "import"]).arg(&rev).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("a revocation certificate for") && text.contains("import the certificate"),
        "{text}"
    );
    let cert = h.dir.path().join("cert.asc");
    std::fs::write(&cert, export(&g, &fpr)).unwrap();
    h.cmd()
        .args(["keys", "import"])
        .arg(&cert)
        .assert()
        .success();
    h.ok(&["-i", "rev@example.org"], &msg("rev@example.org"));
    let out = h.cmd().args(["keys", "import"]).arg(&rev).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("revoked {fpr}")) && text.contains("not usable: revoked"));
    refused_twice(&h, "rev@example.org", "revoked");
}

#[test]
fn keys_import_of_a_revocation_finds_a_certificate_put_there_by_hand() {
    // The certificate is in the key directory under a name of its own, not FINGERPRINT.asc.
    let Some(g) = GpgHome::new() else { return };
    let fpr = g.make_key("Rev <rev@example.org>", "never");
    let h = with_files(&[("by-hand.asc", &export(&g, &fpr))]);
    let rev = h.dir.path().join("rev.asc");
    std::fs::write(&rev, revocation(&g, &fpr)).unwrap();
    let out = h.cmd().args(["keys", "import"]).arg(&rev).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("revoked {fpr}")), "{text}");
    refused_twice(&h, "rev@example.org", "revoked");
}

#[test]
fn an_armor_block_with_nothing_in_it_is_a_reported_problem() {
    let h = H::with_keys(&["alice"], "");
    std::fs::write(
        h.keys.join("empty.asc"),
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n=twTO\n-----END PGP PUBLIC KEY BLOCK-----\n",
    )
    .unwrap();
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("empty.asc") && text.contains("no certificate and no revocation"));
    // Mail to others still goes, with the warning.
    let out = h.run(&["-i", "alice@example.org"], &msg("alice@example.org"));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty.asc"));
}

#[test]
fn dsa_and_elgamal_alone_is_refused_with_the_reason_never_70() {
    let Some(g) = GpgHome::new() else { return };
    let fpr = make(&g, "Old <old@example.org>", &["dsa2048"], &["elg2048"]);
    let h = with_files(&[("old.asc", &export(&g, &fpr))]);
    refused_twice(&h, "old@example.org", "ElGamal");
    let list = keys_list(&h, "old@example.org");
    assert!(
        list.contains("NOT USABLE: unsupported") && list.contains("passed over"),
        "{list}"
    );
}

/// A certificate with a subkey pgpsendmail cannot use beside a Curve25519 one: the mail
/// goes to the good subkey only, gpg opens it, and every admin command names the other.
fn bad_subkey_beside_a_good_one(primary: &str, bad: &str, why: &str) {
    let Some(g) = GpgHome::new() else { return };
    let fpr = make(
        &g,
        "Mixed <mixed@example.org>",
        &[primary],
        &[bad, "cv25519"],
    );
    let h = with_files(&[("mixed.asc", &export(&g, &fpr))]);
    for _ in 0..2 {
        let before = h.captures().len();
        let c = h.ok(&["-i", "mixed@example.org"], &msg("mixed@example.org"));
        let armor = pgpsendmail::openpgp::decrypt::armored_block(&c[before].stdin)
            .unwrap()
            .to_vec();
        let plain = g.run(&["--decrypt"], &armor);
        assert!(contains(&plain, b"secret body MARKER"));
    }
    let list = keys_list(&h, "mixed@example.org");
    assert!(list.contains(" usable") && list.contains("passed over") && list.contains(why));
    let (_, text) = check(&h);
    assert!(
        text.contains("is used, but not its subkey") && text.contains(why),
        "{text}"
    );
    let out = h
        .cmd()
        .args(["explain", "-i", "mixed@example.org"])
        .write_stdin(msg("mixed@example.org"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("passed over") && text.contains(why), "{text}");
}

#[test]
fn an_elgamal_subkey_beside_a_cv25519_one_is_passed_over() {
    bad_subkey_beside_a_good_one("dsa2048", "elg2048", "ElGamal");
}

#[test]
fn a_brainpool_subkey_beside_a_cv25519_one_is_passed_over() {
    bad_subkey_beside_a_good_one("ed25519", "brainpoolP256r1", "brainpool");
}

#[test]
fn a_brainpool_subkey_alone_is_refused_with_the_reason() {
    let Some(g) = GpgHome::new() else { return };
    let fpr = make(
        &g,
        "Bp <bp@example.org>",
        &["ed25519"],
        &["brainpoolP256r1"],
    );
    let h = with_files(&[("bp.asc", &export(&g, &fpr))]);
    refused_twice(&h, "bp@example.org", "brainpool");
}

#[test]
fn md5_self_signatures_do_not_count() {
    let Some(g) = GpgHome::new() else { return };
    let fpr = make(
        &g,
        "Md5 <md5@example.org>",
        &[
            "--allow-weak-digest-algos",
            "--cert-digest-algo",
            "MD5",
            "rsa2048",
        ],
        &[],
    );
    let h = with_files(&[("md5.asc", &export(&g, &fpr))]);
    refused_twice(&h, "md5@example.org", "MD5");
}

#[test]
fn sha1_self_signatures_do_not_count_after_the_cutoff() {
    let Some(g) = GpgHome::new() else { return };
    let fpr = make(
        &g,
        "Sha1 <sha1@example.org>",
        &["--cert-digest-algo", "SHA1", "rsa2048"],
        &[],
    );
    let h = with_files(&[("sha1.asc", &export(&g, &fpr))]);
    refused_twice(&h, "sha1@example.org", "SHA-1");
}

#[test]
fn an_rsa_1024_primary_key_is_weak_even_with_a_modern_subkey() {
    let Some(g) = GpgHome::new() else { return };
    let fpr = make(&g, "Small <small@example.org>", &["rsa1024"], &["cv25519"]);
    let h = with_files(&[("small.asc", &export(&g, &fpr))]);
    refused_twice(&h, "small@example.org", "primary key: RSA with 1024 bits");
}
