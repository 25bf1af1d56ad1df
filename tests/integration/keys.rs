//! pgpsendmail(8) KEYS and pgpsendmail.toml(5): which certificates are valid, which belong to a recipient, the
//! [recipients] table and the missing_key policy. Keys: tests/data/keys (mkkeys.sh).

use crate::harness::*;

fn msg(to: &str) -> Vec<u8> {
    format!("From: me@example.org\nTo: {to}\nSubject: s\n\nsecret body MARKER\n").into_bytes()
}

fn refused(key: &str, addr: &str, why: &str) {
    let h = H::with_keys(&[key, "alice"], "");
    let e = h.fails(67, &["-i", addr], &msg(addr));
    assert!(e.contains(addr), "{e}");
    assert!(e.contains(why), "wanted '{why}' in: {e}");
    assert!(!e.contains("MARKER"));
}

#[test]
fn expired_certificate_is_refused() {
    refused("expired", "expired@example.org", "expired on ");
}

#[test]
fn revoked_certificate_is_refused() {
    refused("revoked", "revoked@example.org", "revoked");
}

#[test]
fn revoked_user_id_does_not_match_but_the_other_does() {
    refused("revuid", "old@example.org", "no certificate");
    let h = H::with_keys(&["revuid"], "");
    h.ok(&["-i", "new@example.org"], &msg("new@example.org"));
}

#[test]
fn expired_only_subkey_is_refused() {
    refused("expsub", "expsub@example.org", "expired on ");
}

#[test]
fn sign_only_certificate_is_refused() {
    refused(
        "signonly",
        "signonly@example.org",
        "no usable encryption subkey",
    );
}

#[test]
fn weak_rsa_1024_is_refused() {
    refused("weak", "weak@example.org", "weak");
}

#[test]
fn third_party_certification_is_no_reason_to_reject() {
    let h = H::with_keys(&["certified", "alice"], "");
    let c = h.ok(
        &["-i", "certified@example.org"],
        &msg("certified@example.org"),
    );
    c[0].open("certified");
}

#[test]
fn upper_case_user_id_matches_any_case() {
    for addr in [
        "upper@example.org",
        "Upper@Example.Org",
        "UPPER@EXAMPLE.ORG",
    ] {
        let h = H::with_keys(&["upper"], "");
        let c = h.ok(&["-i", addr], &msg(addr));
        assert_eq!(
            c[0].rcpts(),
            [addr],
            "the envelope keeps the caller's spelling"
        );
        c[0].open("upper");
    }
}

/// pgpsendmail.toml(5), `local_part_case = "exact"`: the local part must match as written
/// (the domain still in any case); the default matches it in any case (the test above).
#[test]
fn local_part_case_exact_matches_the_local_part_as_written() {
    let h = H::with_keys(&["upper"], "local_part_case = \"exact\"\n");
    let c = h.ok(&["-i", "UPPER@example.org"], &msg("UPPER@example.org"));
    c[0].open("upper");
    let e = h.fails(67, &["-i", "upper@EXAMPLE.ORG"], &msg("upper@EXAMPLE.ORG"));
    assert!(e.contains("upper@EXAMPLE.ORG: no certificate"), "{e}");
    // [recipients] names follow the setting too: "Root" is not "root" then.
    h.write_config(
        "local_part_case = \"exact\"\n[recipients]\n\"Root\" = { alias = \"UPPER@EXAMPLE.ORG\" }\n",
    );
    h.ok(&["-i", "Root"], &msg("Root"))
        .last()
        .unwrap()
        .open("upper");
    h.fails(67, &["-i", "root"], &msg("root"));
    std::fs::write(&h.config, "local_part_case = \"sometimes\"\n").unwrap();
    let e = h.fails(78, &["-i", "a@example.org"], &msg("a@example.org"));
    assert!(e.contains("local_part_case"), "{e}");
}

/// pgpsendmail.toml(5), HOW A RECIPIENT'S KEY IS FOUND: `[recipients]` names are matched in
/// the one spelling: an "@domain" entry in punycode serves the Unicode spelling in any case,
/// and an entry with a non-ASCII local part serves it in any case (Unicode lower case).
#[test]
fn recipients_entries_match_every_spelling_of_an_internationalized_address() {
    let h = H::with_keys(
        &["alice", "bob"],
        &format!(
            "[recipients]\n\"@xn--exmple-cua.org\" = {{ key = \"{}\" }}\n\
             \"JOSÉ@x.org\" = {{ alias = \"bob@example.org\" }}\n",
            fingerprint("alice")
        ),
    );
    for addr in ["someone@EXÄMPLE.ORG", "someone@exa\u{308}mple.org"] {
        let c = h.ok(&["-i", addr], &msg(addr));
        let last = c.last().unwrap();
        assert_eq!(
            last.rcpts(),
            [addr],
            "the envelope keeps the caller's spelling"
        );
        last.open("alice");
    }
    for addr in ["josé@X.ORG", "JOSE\u{301}@x.org"] {
        let c = h.ok(&["-i", addr], &msg(addr));
        c.last().unwrap().open("bob");
    }
    // Two spellings of one entry name are one entry twice.
    h.write_config(
        "[recipients]\n\"@EXÄMPLE.ORG\" = { missing_key = \"refuse\" }\n\
         \"@xn--exmple-cua.org\" = { missing_key = \"refuse\" }\n",
    );
    let e = h.fails(78, &["-i", "a@example.org"], &msg("a@example.org"));
    assert!(e.contains("duplicate entry"), "{e}");
}

#[test]
fn plus_tag_falls_back_to_the_plain_address() {
    let h = H::with_keys(&["alice"], "");
    let c = h.ok(
        &["-i", "alice+cron@example.org"],
        &msg("alice+cron@example.org"),
    );
    assert_eq!(c[0].rcpts(), ["alice+cron@example.org"]);
    c[0].open("alice");
}

#[test]
fn alias_keeps_the_envelope_recipient() {
    let h = H::new();
    let c = h.ok(&["-i", "root"], &msg("root"));
    assert_eq!(c[0].rcpts(), ["root"]);
    c[0].open("ops");
}

#[test]
fn local_name_without_entry_is_refused_with_a_hint() {
    let h = H::with_keys(&["alice"], "");
    let e = h.fails(67, &["-i", "www-data"], &msg("www-data"));
    assert!(e.contains("www-data") && e.contains("[recipients]"), "{e}");
}

#[test]
fn pinned_key_by_fingerprint() {
    let fpr = fingerprint("bob");
    let h = H::with_keys(
        DEFAULT_KEYS,
        &format!("[recipients]\n\"alice@example.org\" = {{ key = \"{fpr}\" }}\n"),
    );
    let c = h.ok(&["-i", "alice@example.org"], &msg("alice@example.org"));
    c[0].open("bob");
    assert!(
        c[0].try_open("alice").is_err(),
        "the pin replaces the personal key"
    );
}

#[test]
fn domain_key_when_no_personal_key_and_always() {
    let fpr = fingerprint("gateway");
    let h = H::with_keys(
        DEFAULT_KEYS,
        &format!("[recipients]\n\"@example.com\" = {{ key = \"{fpr}\" }}\n"),
    );
    let c = h.ok(&["-i", "anyone@example.com"], &msg("anyone@example.com"));
    c[0].open("gateway");

    let h = H::with_keys(
        DEFAULT_KEYS,
        &format!("[recipients]\n\"@example.org\" = {{ key = \"{fpr}\" }}\n"),
    );
    let c = h.ok(&["-i", "alice@example.org"], &msg("alice@example.org"));
    c[0].open("alice");
    assert!(c[0].try_open("gateway").is_err(), "personal key first");

    let h = H::with_keys(
        DEFAULT_KEYS,
        &format!("[recipients]\n\"@example.org\" = {{ key = \"{fpr}\", always = true }}\n"),
    );
    let c = h.ok(&["-i", "alice@example.org"], &msg("alice@example.org"));
    c[0].open("gateway");
    assert!(
        c[0].try_open("alice").is_err(),
        "always: the domain key only"
    );
}

#[test]
fn several_certificates_for_one_address_all_used() {
    let h = H::with_keys(&["two"], "");
    let c = h.ok(&["-i", "two@example.org"], &msg("two@example.org"));
    c[0].open("two-a");
    c[0].open("two-b");
}

#[test]
fn missing_key_plaintext_for_one_recipient_only() {
    let h = H::with_keys(
        &["alice"],
        "[recipients]\n\"news@example.net\" = { missing_key = \"plaintext\" }\n",
    );
    let m = b"From: me@example.org\nTo: alice@example.org, news@example.net\nBcc: alice@example.org\nSubject: s\n\nbody MARKER\n";
    let out = h.run(&["-i", "-t"], m);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("news@example.net"),
        "stderr names the plaintext recipient: {err}"
    );
    let c = h.captures();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].rcpts(), ["alice@example.org"]);
    assert_eq!(c[1].rcpts(), ["news@example.net"]);
    c[0].open("alice");
    assert!(
        c[1].text().contains("body MARKER\n"),
        "plaintext copy as given"
    );
    assert!(!contains(&c[1].cleartext(), b"Bcc"));
    assert!(!contains(&c[1].cleartext(), b"-----BEGIN PGP"));
    assert!(!contains(&c[0].cleartext(), b"MARKER"));
}

#[test]
fn missing_key_plaintext_globally_and_refuse_per_domain() {
    let h = H::with_keys(
        &["alice"],
        "missing_key = \"plaintext\"\n[recipients]\n\"@secure.example\" = { missing_key = \"refuse\" }\n",
    );
    h.fails(67, &["-i", "x@secure.example"], &msg("x@secure.example"));
    let c = h.ok(&["-i", "x@other.example"], &msg("x@other.example"));
    assert!(c[0].text().contains("MARKER"));
}

#[test]
fn keyring_files_armored_blocks_binary_and_a_broken_file() {
    let h = H::with_keys(&[], "");
    std::fs::copy(keys_dir().join("blocks.asc"), h.keys.join("blocks.asc")).unwrap();
    std::fs::copy(
        keys_dir().join("keyring.gpg"),
        h.dir.path().join("ring.gpg"),
    )
    .unwrap();
    std::fs::write(h.keys.join("broken.asc"), "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64 at all!\n-----END PGP PUBLIC KEY BLOCK-----\n").unwrap();
    std::fs::write(h.keys.join("ignored.txt"), "not a key file name").unwrap();
    std::fs::write(
        &h.config,
        format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\", \"{}\"]\n",
            stand_in().display(),
            h.keys.display(),
            h.dir.path().join("ring.gpg").display()
        ),
    )
    .unwrap();
    // bob is only in the second armor block of blocks.asc; carol only in the binary keyring.
    let out = h.run(
        &["-i", "bob@example.org", "carol@example.net"],
        b"To: bob@example.org, carol@example.net\n\nx\n",
    );
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.asc"),
        "a broken file is reported: {err}"
    );
    assert!(!err.contains("ignored.txt"));
    let c = h.captures();
    c[0].open("bob");
    c[0].open("carol");
}

#[test]
fn gnupg_keybox_as_a_keyring_file() {
    let h = H::with_keys(&[], "");
    let kbx = keys_dir().join("pubring.kbx");
    std::fs::write(
        &h.config,
        format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\n",
            stand_in().display(),
            kbx.display()
        ),
    )
    .unwrap();
    let out = h.run(
        &[
            "-i",
            "alice@example.org",
            "carol@example.net",
            "certified@example.org",
        ],
        b"To: alice@example.org, carol@example.net, certified@example.org\n\nx\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = h.captures();
    for who in ["alice", "carol", "certified"] {
        c[0].open(who);
    }
}

#[test]
fn a_broken_keybox_is_reported_and_other_keys_still_work() {
    let h = H::with_keys(&["alice"], "");
    let kbx = std::fs::read(keys_dir().join("pubring.kbx")).unwrap();
    std::fs::write(h.keys.join("cut.gpg"), &kbx[..kbx.len() / 2]).unwrap();
    let out = h.run(&["-i", "alice@example.org"], &msg("alice@example.org"));
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.gpg") && err.contains("blob"), "{err}");
    assert_eq!(h.captures().len(), 1);
}

#[test]
fn gnupg_home_directory_as_the_keyring_and_explain_tells_the_truth() {
    let Some(g) = GpgHome::new() else { return };
    let files: Vec<String> = ["alice", "bob", "expired", "revoked"]
        .iter()
        .map(|k| keys_dir().join(format!("{k}.asc")).display().to_string())
        .collect();
    let mut args = vec!["--import"];
    args.extend(files.iter().map(String::as_str));
    g.run(&args, b"");
    let home = &g.home;
    assert!(home.path().join("pubring.kbx").exists());
    let h = H::with_keys(&[], "");
    std::fs::write(
        &h.config,
        format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\n",
            stand_in().display(),
            home.path().display()
        ),
    )
    .unwrap();
    let m = b"To: alice@example.org, expired@example.org\nCc: revoked@example.org\nBcc: bob@example.org\n\nx\n";
    let out = h
        .cmd()
        .args(["explain", "-t"])
        .write_stdin(m.to_vec())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(67), "{text}");
    assert!(
        text.contains(&format!("certificate {} from", fingerprint("alice"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("certificate {} from", fingerprint("bob"))),
        "{text}"
    );
    assert!(
        text.contains("REFUSED: expired@example.org: certificate"),
        "{text}"
    );
    assert!(text.contains("expired on"), "{text}");
    assert!(
        text.contains("REFUSED: revoked@example.org: certificate"),
        "{text}"
    );
    assert!(text.contains("revoked"), "{text}");
    assert!(
        !text.contains("trustdb"),
        "only the public keyring of a GnuPG home is read"
    );
    let out = h.run(
        &["-i", "alice@example.org", "bob@example.org"],
        b"To: alice@example.org\n\nx\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    h.captures()[1].open("bob");
}

#[test]
fn shared_and_duplicated_keys_give_one_pkesk_each() {
    // root is an alias of ops, and ops is also named: one copy, one PKESK. The same
    // certificate in two files is used once.
    let h = H::new();
    std::fs::copy(keys_dir().join("ops.asc"), h.keys.join("ops-again.asc")).unwrap();
    let c = h.ok(
        &["-i", "-t"],
        b"To: root, ops@example.org\nSubject: s\n\nx\n",
    );
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].open("ops").recipients, key_ids("ops")[1..].to_vec());
}

/// The encrypted data packet (SEIPD) of a copy, as bytes.
fn seipd_of(c: &Capture) -> Vec<u8> {
    use pgp::ser::Serialize;
    use std::io::Read;
    let block = pgpsendmail::openpgp::decrypt::armored_block(&c.stdin).unwrap();
    let mut bin = Vec::new();
    pgp::armor::Dearmor::new(std::io::Cursor::new(block))
        .read_to_end(&mut bin)
        .unwrap();
    let last = pgp::packet::PacketParser::new(std::io::Cursor::new(bin))
        .map(|p| p.unwrap())
        .last()
        .unwrap();
    last.to_bytes().unwrap()
}

#[test]
fn hidden_copies_share_one_session_key_and_each_names_only_its_own_keys() {
    // SECURITY.md: every copy of one message carries the same encrypted body under one
    // session key, so any recipient could open any copy of it; no copy names another's key.
    let h = H::new();
    let c = h.ok(
        &["-i", "-t"],
        b"To: alice@example.org\nBcc: bob@example.org, carol@example.net\nSubject: s\n\nx\n",
    );
    assert_eq!(c.len(), 3);
    let body = seipd_of(&c[0]);
    for (copy, name) in c.iter().zip(["alice", "bob", "carol"]) {
        assert_eq!(
            seipd_of(copy),
            body,
            "{name}'s copy has another encrypted body"
        );
        assert_eq!(copy.open(name).recipients, key_ids(name)[1..].to_vec());
    }
}

#[test]
fn key_expiring_soon_is_used_with_a_warning() {
    let Some(cert) = gpg_make_cert("Soon <soon@example.org>", "7d") else {
        return;
    };
    let h = H::with_keys(&[], "");
    std::fs::write(h.keys.join("soon.asc"), cert).unwrap();
    let out = h.run(&["-i", "soon@example.org"], &msg("soon@example.org"));
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("warning: the key for soon@example.org"),
        "{err}"
    );
    assert!(err.contains("expires on 20"), "{err}");
    assert_eq!(h.captures().len(), 1, "still sent");

    // Outside the window: no warning.
    h.write_config("warn_days = 3\n");
    let out = h.run(&["-i", "soon@example.org"], &msg("soon@example.org"));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn index_files(h: &H) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(h.dir.path().join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "idx"))
        .collect()
}

#[test]
fn key_index_is_built_then_used_and_rebuilt_when_the_source_changes() {
    let h = H::with_keys(&[], "");
    let ring = h.dir.path().join("ring.asc");
    std::fs::copy(keys_dir().join("blocks.asc"), &ring).unwrap(); // alice and bob
    h.write_config("");
    let cfg = std::fs::read_to_string(&h.config)
        .unwrap()
        .replace(&h.keys.display().to_string(), &ring.display().to_string());
    std::fs::write(&h.config, cfg).unwrap();

    h.ok(&["-i", "alice@example.org"], &msg("alice@example.org"));
    let idx = index_files(&h);
    assert_eq!(idx.len(), 1, "one index for the one source");
    let built = std::fs::read(&idx[0]).unwrap();
    h.ok(&["-i", "bob@example.org"], &msg("bob@example.org"));
    assert_eq!(
        std::fs::read(&idx[0]).unwrap(),
        built,
        "a fresh index is used, not rebuilt"
    );

    // The source changes: carol replaces alice and bob; the index is not believed.
    std::fs::copy(keys_dir().join("carol.asc"), &ring).unwrap();
    h.fails(67, &["-i", "alice@example.org"], &msg("alice@example.org"));
    let c = h.ok(&["-i", "carol@example.net"], &msg("carol@example.net"));
    c.last().unwrap().open("carol");
    assert_ne!(std::fs::read(&idx[0]).unwrap(), built, "rebuilt");
}

#[test]
fn a_corrupt_or_foreign_index_is_rebuilt_not_believed() {
    let h = H::with_keys(&["alice", "bob"], "");
    h.ok(&["-i", "alice@example.org"], &msg("alice@example.org"));
    let idx = index_files(&h).pop().unwrap();
    let good = std::fs::read(&idx).unwrap();
    // Garbage; a flipped byte; and the index of another keyring under this name.
    let mut flipped = good.clone();
    flipped[good.len() / 3] ^= 1;
    let other = {
        let h2 = H::with_keys(&["carol"], "");
        h2.ok(&["-i", "carol@example.net"], &msg("carol@example.net"));
        std::fs::read(index_files(&h2).pop().unwrap()).unwrap()
    };
    for bad in [b"garbage".to_vec(), flipped, other] {
        std::fs::write(&idx, &bad).unwrap();
        let c = h.ok(&["-i", "bob@example.org"], &msg("bob@example.org"));
        c.last().unwrap().open("bob");
        h.fails(67, &["-i", "carol@example.net"], &msg("carol@example.net"));
    }
}

#[test]
fn concurrent_rebuilds_leave_a_whole_index() {
    let h = H::with_keys(&["alice", "bob", "carol", "dave"], "");
    let procs: Vec<_> = (0..8)
        .map(|_| {
            let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"));
            c.env("PGPSENDMAIL_CONFIG", &h.config)
                .env("STAND_IN_DIR", &h.capture)
                .args(["-i", "dave@example.net"])
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut p = c.spawn().unwrap();
            use std::io::Write;
            p.stdin
                .take()
                .unwrap()
                .write_all(&msg("dave@example.net"))
                .unwrap();
            p
        })
        .collect();
    for p in procs {
        let out = p.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(h.captures().len(), 8);
    assert_eq!(index_files(&h).len(), 1, "no temporary files left behind");
    let c = h.ok(&["-i", "carol@example.net"], &msg("carol@example.net"));
    c.last().unwrap().open("carol");
}

#[test]
fn keyring_warnings_come_back_through_the_index() {
    let h = H::with_keys(&["alice"], "");
    std::fs::write(h.keys.join("broken.asc"), "not a key\n").unwrap();
    for _ in 0..2 {
        let out = h.run(&["-i", "alice@example.org"], &msg("alice@example.org"));
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stderr).contains("broken.asc"));
    }
}

#[test]
fn a_cache_directory_others_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let h = H::with_keys(&["alice"], "");
    let cache = h.dir.path().join("cache");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    h.ok(&["-i", "alice@example.org"], &msg("alice@example.org"));
    assert!(
        index_files(&h).is_empty(),
        "no index in a world-writable directory"
    );
    // An index file others can write is not believed either: it is rebuilt.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    h.ok(&["-i", "alice@example.org"], &msg("alice@example.org"));
    let idx = index_files(&h).pop().unwrap();
    std::fs::set_permissions(&idx, std::fs::Permissions::from_mode(0o666)).unwrap();
    h.ok(&["-i", "alice@example.org"], &msg("alice@example.org"));
    let mode = std::fs::metadata(&idx).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "rebuilt with its own mode");
}

/// KEYS, discovered certificates: with no `[discovery] dir` configured, the default
/// directory is a key source (here the harness's, `PGPSENDMAIL_DISCOVERED_DIR`, so that the
/// tests never read a machine's /var/lib/pgpsendmail/discovered).
#[test]
fn the_default_discovered_directory_is_read_when_no_dir_is_configured() {
    let h = H::with_keys(&["alice"], "");
    let bob = "bob@example.org";
    h.fails(67, &["-i", bob], &msg(bob));
    let discovered = h.dir.path().join("discovered");
    std::fs::create_dir_all(&discovered).unwrap();
    std::fs::copy(keys_dir().join("bob.asc"), discovered.join("bob.asc")).unwrap();
    let copies = h.ok(&["-i", bob], &msg(bob));
    assert_eq!(copies.len(), 1);
    assert!(copies[0].body("bob").windows(6).any(|w| w == b"MARKER"));
}

/// pgpsendmail(8), RECIPIENTS: a quoted local part with spaces (`"b o b"@example.org`, RFC
/// 5321 Quoted-string) is one recipient: taken as an argument, from To and at RCPT in -bs,
/// handed on quoted as one argument, and matched to keys in its canonical spelling (the
/// quotes dropped: `"bob"@example.org` finds bob's user ID, and a `[recipients]` entry in
/// another case serves the quoted address).
#[test]
fn a_quoted_local_part_with_spaces_is_one_recipient_everywhere() {
    let q = "\"b o b\"@example.org";
    let h = H::with_keys(
        DEFAULT_KEYS,
        &format!(
            "[recipients]\n\"\\\"B O B\\\"@EXAMPLE.org\" = {{ key = \"{}\" }}\n",
            fingerprint("bob")
        ),
    );
    let c = h.ok(&["-i", q], &msg(q));
    assert_eq!(c[0].rcpts(), [q], "one argument, quotes kept");
    c[0].open("bob");
    let c = h.ok(
        &["-i", "-t"],
        format!("To: Bob <{q}>\nSubject: s\n\nx\n").as_bytes(),
    );
    assert_eq!(c.last().unwrap().rcpts(), [q]);
    let script = format!(
        "EHLO c\r\nMAIL FROM:<me@example.org>\r\nRCPT TO:<{q}>\r\nDATA\r\nSubject: s\r\n\r\nx\r\n.\r\nQUIT\r\n"
    );
    let out = session(&h, &[], script.as_bytes());
    assert_eq!(
        codes(&out.stdout),
        [220, 250, 250, 250, 354, 250, 221],
        "{out:?}"
    );
    assert_eq!(h.captures().last().unwrap().rcpts(), [q]);
    let c = h.ok(&["-i", "\"bob\"@example.org"], &msg("\"bob\"@example.org"));
    assert_eq!(c.last().unwrap().rcpts(), ["\"bob\"@example.org"]);
    c.last().unwrap().open("bob");
}
