//! The admin commands: `check`, `explain` (text and JSON) and `keys list` tell the truth
//! about what sending would do, and never send.

use crate::harness::*;

fn admin(h: &H, args: &[&str], stdin: &[u8]) -> (i32, String) {
    let before = h.captures().len();
    let out = h
        .cmd()
        .args(args)
        .write_stdin(stdin.to_vec())
        .output()
        .unwrap();
    assert_eq!(
        h.captures().len(),
        before,
        "an admin command handed something on"
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

const MSG: &[u8] = b"From: me@example.org\nTo: alice@example.org, root\nBcc: carol@example.net\n\
Subject: secret subject\nX-Cron-Env: <A=1>\n\nbody\n";

#[test]
fn explain_tells_every_recipient_copy_header_and_argv() {
    let h = H::new();
    let (code, text) = admin(&h, &["explain", "-t"], MSG);
    assert_eq!(code, 0, "{text}");
    for want in [
        "recipient alice@example.org (visible)",
        "keys looked up as alice@example.org (own address)",
        &format!("certificate {} from ", fingerprint("alice")),
        "recipient root (visible)",
        "keys looked up as ops@example.org (alias of root in [recipients])",
        &format!("certificate {} from ", fingerprint("ops")),
        "recipient carol@example.net (hidden)",
        "copy 1 (encrypted, SEIPD v1, AES256): alice@example.org, root",
        "copy 2 (encrypted, SEIPD v1, AES256): carol@example.net",
        " -i -- alice@example.org root",
        " -i -- carol@example.net",
        "  Subject: [...]",
        "result: would be sent",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(
        !text.contains("secret subject") && !text.contains("X-Cron-Env"),
        "{text}"
    );
}

#[test]
fn explain_says_why_a_recipient_is_refused_and_exits_67() {
    let h = H::with_keys(&["alice", "expired", "signonly"], "");
    let (code, text) = admin(
        &h,
        &[
            "explain",
            "-i",
            "--",
            "alice@example.org",
            "expired@example.org",
            "signonly@example.org",
            "nobody@example.org",
        ],
        b"To: alice@example.org\n\nx\n",
    );
    assert_eq!(code, 67, "{text}");
    assert!(
        text.contains("REFUSED: expired@example.org: certificate"),
        "{text}"
    );
    assert!(text.contains("expired on "), "{text}");
    assert!(text.contains("no usable encryption subkey"), "{text}");
    assert!(
        text.contains("REFUSED: nobody@example.org: no certificate"),
        "{text}"
    );
    assert!(
        text.contains("result: nothing would be sent (exit 67)"),
        "{text}"
    );
}

#[test]
fn explain_json_for_scripts() {
    let fpr = fingerprint("gateway");
    let h = H::with_keys(
        DEFAULT_KEYS,
        &format!(
            "[recipients]\n\"root\" = {{ alias = \"ops@example.org\" }}\n\"@example.com\" = {{ key = \"{fpr}\" }}\n"
        ),
    );
    let (code, text) = admin(
        &h,
        &[
            "explain",
            "--json",
            "-i",
            "--",
            "alice+cron@example.org",
            "x@example.com",
        ],
        b"To: alice+cron@example.org\n\nx\n",
    );
    assert_eq!(code, 0, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["exit"], 0);
    let r = &v["recipients"];
    assert_eq!(r[0]["address"], "alice+cron@example.org");
    assert_eq!(r[0]["route"], "+tag dropped: alice@example.org");
    assert_eq!(
        r[0]["certificates"][0]["fingerprint"],
        fingerprint("alice").as_str()
    );
    assert_eq!(r[1]["visible"], false);
    assert!(r[1]["route"].as_str().unwrap().starts_with("domain key"));
    assert_eq!(r[1]["certificates"][0]["fingerprint"], fpr.as_str());
    assert_eq!(v["copies"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["copies"][1]["argv"].as_array().unwrap().last().unwrap(),
        "x@example.com"
    );
}

#[test]
fn explain_reports_usage_errors_with_their_code() {
    let h = H::new();
    let (code, text) = admin(&h, &["explain", "-X", "/tmp/x", "a@example.org"], b"");
    assert_eq!(code, 64);
    assert!(text.contains("error: option -X is refused"), "{text}");
}

#[test]
fn check_flags_a_key_that_expires_next_week() {
    let Some(cert) = gpg_make_cert("Next Week <nextweek@example.org>", "7d") else {
        return;
    };
    let h = H::with_keys(&[], "");
    std::fs::write(h.keys.join("nextweek.asc"), cert).unwrap();
    let (code, text) = admin(&h, &["check"], b"");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("for nextweek@example.org expires on "),
        "{text}"
    );
    let (code, text) = admin(&h, &["check", "--warn-days", "3"], b"");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("all well"), "{text}");
}

#[test]
fn check_reports_dead_recipients_entries_and_shared_addresses() {
    let h = H::with_keys(
        &["alice", "two"],
        "[recipients]\n\"root\" = { alias = \"nobody@example.org\" }\n\"www-data\" = { alias = \"alice@example.org\" }\n",
    );
    let (code, text) = admin(&h, &["check"], b"");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("warning: [recipients] \"root\" resolves to no usable key"),
        "{text}"
    );
    assert!(!text.contains("\"www-data\""), "{text}");
    assert!(
        text.contains("note: two@example.org has 2 usable certificates"),
        "{text}"
    );
}

#[test]
fn keys_list_shows_usability() {
    let h = H::with_keys(&["alice", "revoked"], "");
    let (code, text) = admin(&h, &["keys", "list"], b"");
    assert_eq!(code, 0);
    assert!(
        text.contains(&format!("{} usable", fingerprint("alice"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} NOT USABLE: revoked", fingerprint("revoked"))),
        "{text}"
    );
    let (code, text) = admin(&h, &["keys", "list", "Alice@Example.org"], b"");
    assert_eq!(code, 0);
    assert!(!text.contains(&fingerprint("revoked")));
    let (code, _) = admin(&h, &["keys", "list", "nobody@example.org"], b"");
    assert_eq!(code, 1);
    let (_, json) = admin(&h, &["keys", "list", "--json"], b"");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
}

#[test]
fn keys_import_adds_and_refuses_with_reasons() {
    let h = H::with_keys(&[], "");
    let k = |n: &str| keys_dir().join(n).display().to_string();
    let (code, text) = admin(
        &h,
        &[
            "keys",
            "import",
            &k("alice.asc"),
            &k("blocks.asc"),
            &k("expired.asc"),
            &k("bob.sec.asc"),
            &k("fingerprints.txt"),
        ],
        b"",
    );
    assert_eq!(code, 1, "{text}");
    let alice = fingerprint("alice");
    assert!(
        text.contains(&format!("added {alice}: alice@example.org -> ")),
        "{text}"
    );
    assert!(text.contains(&format!("unchanged {alice}")), "{text}");
    assert!(
        text.contains(&format!("added {}", fingerprint("bob"))),
        "{text}"
    );
    assert!(text.contains("(not usable: expired on "), "{text}");
    assert!(
        text.contains("bob.sec.asc: armor block 1: a secret key block"),
        "{text}"
    );
    assert!(
        text.contains("refused") && text.contains("fingerprints.txt"),
        "{text}"
    );
    assert!(h.keys.join(format!("{alice}.asc")).exists());
    // What was imported is used for mail.
    let c = h.ok(&["-i", "bob@example.org"], b"To: bob@example.org\n\nx\n");
    c[0].open("bob");
}

#[test]
fn keys_import_merges_a_revocation_into_the_stored_certificate() {
    let Some(g) = GpgHome::new() else { return };
    let fpr = g.make_key("Rev Later <revlater@example.org>", "never");
    let before = g.run(&["--export", "--armor", &fpr], b"");
    let rev =
        std::fs::read_to_string(g.home.path().join(format!("openpgp-revocs.d/{fpr}.rev"))).unwrap();
    g.run(
        &["--import"],
        rev.replace(":-----BEGIN", "-----BEGIN").as_bytes(),
    );
    let after = g.run(&["--export", "--armor", &fpr], b"");
    let h = H::with_keys(&[], "");
    let v1 = h.dir.path().join("v1.asc");
    let v2 = h.dir.path().join("v2.asc");
    std::fs::write(&v1, before).unwrap();
    std::fs::write(&v2, after).unwrap();
    let (code, text) = admin(&h, &["keys", "import", v1.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("added {fpr}")) && text.contains("(usable)"),
        "{text}"
    );
    h.ok(
        &["-i", "revlater@example.org"],
        b"To: revlater@example.org\n\nx\n",
    );
    let (code, text) = admin(&h, &["keys", "import", v2.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "updated {fpr} (0 new user IDs, 0 new subkeys, 1 new signatures)"
        )),
        "{text}"
    );
    assert!(text.contains("(not usable: revoked)"), "{text}");
    assert_eq!(
        std::fs::read_dir(&h.keys).unwrap().count(),
        1,
        "one file per certificate"
    );
    let out = h.run(
        &["-i", "revlater@example.org"],
        b"To: revlater@example.org\n\nx\n",
    );
    assert_eq!(out.status.code(), Some(67), "the revocation took effect");
}

#[test]
fn keys_import_needs_a_key_directory() {
    let h = H::with_keys(&[], "");
    std::fs::write(
        &h.config,
        format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\n",
            stand_in().display(),
            keys_dir().join("pubring.kbx").display()
        ),
    )
    .unwrap();
    let (code, text) = admin(&h, &["keys", "import", "/dev/null"], b"");
    assert_eq!(code, 78, "{text}");
    assert!(text.contains("no key directory"), "{text}");
}

#[test]
fn explain_recognizes_already_encrypted_input() {
    let Some(g) = crate::protected::gpg_home() else {
        return;
    };
    let h = H::new();
    let mut inline = b"To: nokey@example.org\n\n".to_vec();
    inline.extend_from_slice(&crate::protected::gpg_encrypt(&g, b"hello\n"));
    let (code, text) = admin(&h, &["explain", "-t"], &inline);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "already encrypted: OpenPGP (inline), 1 PKESK + SEIPD v1; handed on as it is"
        ),
        "{text}"
    );
    assert!(
        text.contains("copy 1 (as given): nokey@example.org"),
        "{text}"
    );
}

#[test]
fn explain_says_why_input_that_only_looks_encrypted_is_encrypted() {
    let h = H::new();
    let fake =
        b"To: nokey@example.org\n\n-----BEGIN PGP MESSAGE-----\n\nabc\n-----END PGP MESSAGE-----\n";
    let (code, text) = admin(&h, &["explain", "-t"], fake);
    assert_eq!(code, 67, "{text}");
    assert!(
        text.contains(
            "the body looks like an inline PGP message but is not an encrypted one \
             (base64 cut short); it will be encrypted"
        ),
        "{text}"
    );
    assert!(text.contains("REFUSED"), "{text}");
    let (_, json) = admin(&h, &["explain", "--json", "-t"], fake);
    assert!(json.contains("\"already_encrypted\": false"), "{json}");
    assert!(
        json.contains("\"protection\": \"the body looks like"),
        "{json}"
    );
}

#[test]
fn completions_are_generated_from_the_admin_commands_for_each_shell() {
    // pgpsendmail(8), ADMIN COMMANDS: completions SHELL (the Debian package installs them).
    let h = H::new();
    for (shell, marker) in [
        ("bash", "complete -F _pgpsendmail"),
        ("zsh", "#compdef pgpsendmail"),
        ("fish", "complete -c pgpsendmail"),
    ] {
        let (code, text) = admin(&h, &["completions", shell], b"");
        assert_eq!(code, 0, "{shell}");
        assert!(text.contains(marker), "{shell}: {text}");
        for sub in ["check", "explain", "keys", "import", "list", "warn-days"] {
            assert!(text.contains(sub), "{shell} completes {sub}");
        }
    }
    // An unknown shell is a usage error; no message is read or sent.
    let out = h.cmd().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));
    assert!(h.captures().is_empty());
}

#[test]
fn explain_says_how_several_copies_would_be_handed_on() {
    // H's configuration: one run per copy (batch_copies = 0).
    let h = H::new();
    let (code, text) = admin(&h, &["explain", "-t"], MSG);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("handed on: 2 copies, one run of the real sendmail each, at most 1 at once"),
        "{text}"
    );
    // Batched: SMTP transactions of sendmail -bs, or the listener of handoff_smtp.
    let two: &[u8] = b"To: alice@example.org\nBcc: carol@example.net\n\nbody\n";
    let h = H::with_keys(DEFAULT_KEYS, "batch_copies = 2\n");
    let (_, text) = admin(&h, &["explain", "-t"], two);
    assert!(
        text.contains(
            "handed on: 2 encrypted copies as SMTP transactions to sendmail -bs, 1 session(s) \
             at once (one run per copy if none starts)"
        ),
        "{text}"
    );
    let h = H::with_keys(
        DEFAULT_KEYS,
        "batch_copies = 2\nhandoff_smtp = \"127.0.0.1:2525\"\n",
    );
    let (_, text) = admin(&h, &["explain", "-t"], two);
    assert!(
        text.contains("to the MTA's listener 127.0.0.1:2525 (else sendmail -bs)"),
        "{text}"
    );
    // One copy: no such line (the real sendmail replaces pgpsendmail).
    let (_, text) = admin(&h, &["explain", "-t"], b"To: alice@example.org\n\nx\n");
    assert!(!text.contains("handed on:"), "{text}");
}
