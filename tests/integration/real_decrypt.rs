//! Real decryptors (issue 5, part 3): GnuPG, Sequoia (`sq`), RNP (Thunderbird's OpenPGP
//! engine) and OpenPGP.js (tests/js/decrypt.mjs under node) open pgpsendmail's output for
//! one recipient, three visible recipients, and visible plus hidden, each importing the
//! secret key its own way, and give back the payload pgpsendmail's own decrypt gives.
//! Each also fails to open the hidden copy with a visible recipient's key, and opens the
//! copies a private Postfix delivered into the Maildirs.
//! For docs/message.md rule 8: OpenPGP.js opens the SEIPD v2 copies (version 6 keys, a
//! version 4 key that advertises SEIPD v2, a hidden version 6 recipient) and the SEIPD v1
//! copy beside them, which GnuPG 2.2 opens too. The installed sq (0.27, sequoia-openpgp
//! 1.12) predates RFC 9580 and reads no SEIPD v2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::*;
use crate::real::*;

/// A copy: what it is, the copy, the recipients whose keys open it.
type Copy = (&'static str, Capture, Vec<&'static str>);

/// One message of every shape; each copy with the keys that must open it.
struct Outputs {
    _h: H,
    dir: tempfile::TempDir,
    copies: Vec<Copy>,
}

const BODY: &str = "Payload line\n.\nthe end\n";

fn outputs() -> Outputs {
    let h = H::new();
    let mut copies = Vec::new();
    let one = format!("From: me@example.org\nTo: alice@example.org\nSubject: one\n\n{BODY}");
    let c = h.ok(&["-t", "-i"], one.as_bytes());
    copies.push(("one recipient", c[0].clone(), vec!["alice"]));
    let three = format!(
        "From: me@example.org\nTo: alice@example.org, bob@example.org\n\
         Cc: carol@example.net\nSubject: three\n\n{BODY}"
    );
    let c = h.ok(&["-t", "-i"], three.as_bytes());
    let n = c.len();
    copies.push((
        "three visible",
        c[n - 1].clone(),
        vec!["alice", "bob", "carol"],
    ));
    let hidden = format!(
        "From: me@example.org\nTo: alice@example.org\nBcc: carol@example.net\n\
         Subject: hidden\n\n{BODY}"
    );
    let c = h.ok(&["-t", "-i"], hidden.as_bytes());
    let n = c.len();
    copies.push(("visible copy", c[n - 2].clone(), vec!["alice"]));
    copies.push(("hidden copy", c[n - 1].clone(), vec!["carol"]));
    assert_eq!(h.captures().len(), 4);
    Outputs {
        _h: h,
        dir: tempfile::tempdir().unwrap(),
        copies,
    }
}

fn secret(name: &str) -> PathBuf {
    keys_dir().join(format!("{name}.sec.asc"))
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// The copies of one To/Cc/Bcc message as a private Postfix delivered them into the
/// Maildirs (alice and bob To, carol Cc, dave Bcc); `None` when Postfix is not there
/// (outside CI).
fn delivered(test: &str) -> Option<(Postfix, Vec<Copy>)> {
    let pf = Postfix::start(test, Options::default())?;
    let h = pf.harness();
    let msg = format!(
        "From: me@example.org\nTo: alice@example.org, bob@example.org\n\
         Cc: carol@example.net\nBcc: dave@example.net\nSubject: delivered\n\n{BODY}"
    );
    let out = h.run(&["-t", "-i"], msg.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    pf.wait_delivered(&[("alice", 1), ("bob", 1), ("carol", 1), ("dave", 1)]);
    let mut copies = Vec::new();
    for who in ["alice", "bob", "carol"] {
        copies.push(("delivered visible", pf.mailbox(who).remove(0), vec![who]));
    }
    copies.push((
        "delivered hidden",
        pf.mailbox("dave").remove(0),
        vec!["dave"],
    ));
    Some((pf, copies))
}

/// Every copy opened by `open(secret key name, armored message file)`: pgpsendmail's
/// output of every shape, then the copies a private Postfix delivered. The payload must be
/// the one pgpsendmail's own decrypt gives and carry the original body. The hidden copy
/// must not open with alice's key.
fn check(test: &str, tool: &str, open: impl Fn(&str, &Path) -> Output) {
    let o = outputs();
    check_copies(tool, &o.copies, o.dir.path(), &open);
    let hidden = o.dir.path().join("3.asc");
    let out = open("alice", &hidden);
    assert!(
        !out.status.success() || !contains(&out.stdout, b"Payload line"),
        "{tool} opened carol's hidden copy with alice's key"
    );
    if let Some((pf, copies)) = delivered(test) {
        check_copies(tool, &copies, pf.dir.path(), &open);
    }
}

fn check_copies(tool: &str, copies: &[Copy], dir: &Path, open: &impl Fn(&str, &Path) -> Output) {
    for (i, (what, copy, keys)) in copies.iter().enumerate() {
        let file = dir.join(format!("{i}.asc"));
        std::fs::write(
            &file,
            pgpsendmail::openpgp::decrypt::armored_block(&copy.stdin).unwrap(),
        )
        .unwrap();
        for k in keys {
            let out = open(k, &file);
            assert!(
                out.status.success(),
                "{tool}, {what}, {k}'s key: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            let ours = copy.open(k).payload;
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&ours),
                "{tool}, {what}, {k}'s key: not the same payload"
            );
            assert_eq!(payload_parts(&out.stdout).2, crlf(BODY.as_bytes()));
        }
    }
}

/// gpg --decrypt in a GnuPG home of its own, with `k`'s secret key imported.
fn gpg_open(k: &str, file: &Path) -> Output {
    let g = GpgHome::new().unwrap();
    g.run(&["--import", secret(k).to_str().unwrap()], b"");
    output(
        Command::new("gpg")
            .env("GNUPGHOME", g.home.path())
            .args(["--batch", "--quiet", "--decrypt"])
            .arg(file),
    )
}

#[test]
fn gpg_opens_every_shape() {
    let test = "gpg_opens_every_shape";
    if !wanted(test) || gpg().is_none() {
        return;
    }
    check(test, "gpg", gpg_open);
}

#[test]
fn sequoia_sq_opens_every_shape() {
    let test = "sequoia_sq_opens_every_shape";
    let Some(sq) = need(test, "Sequoia sq", "sq", &["/usr/bin/sq"]) else {
        return;
    };
    // sq takes the secret key file itself; no keyring.
    check(test, "sq", |k, file| {
        output(
            Command::new(&sq)
                .args(["decrypt", "--recipient-key"])
                .arg(secret(k))
                .arg(file),
        )
    });
}

#[test]
fn rnp_opens_every_shape() {
    let test = "rnp_opens_every_shape";
    let Some(rnp) = need(test, "rnp", "rnp", &["/usr/bin/rnp"]) else {
        return;
    };
    let Some(rnpkeys) = need(test, "rnpkeys", "rnp", &["/usr/bin/rnpkeys"]) else {
        return;
    };
    // rnpkeys imports into an RNP home directory of its own; rnp decrypts from it.
    check(test, "rnp", |k, file| {
        let home = tempfile::tempdir().unwrap();
        run_ok(
            Command::new(&rnpkeys)
                .arg("--homedir")
                .arg(home.path())
                .arg("--import")
                .arg(secret(k)),
            b"",
        );
        output(
            Command::new(&rnp)
                .arg("--homedir")
                .arg(home.path())
                .args(["--notty", "--decrypt", "--output=-"])
                .arg(file),
        )
    });
}

/// OpenPGP.js under node (tests/js/decrypt.mjs, after `npm ci` there): node and the script;
/// `None` (a loud skip) outside CI when either is missing.
fn openpgp_js(test: &str) -> Option<(PathBuf, PathBuf)> {
    let node = need(
        test,
        "node",
        "nodejs",
        &["/usr/bin/node", "/usr/local/bin/node"],
    )?;
    let js = Path::new(ROOT).join("tests/js");
    let lib = js.join("node_modules/openpgp");
    need(
        test,
        "OpenPGP.js (npm ci in tests/js)",
        "openpgp from npm",
        &[lib.to_str().unwrap()],
    )?;
    Some((node, js.join("decrypt.mjs")))
}

/// readPrivateKey on the armored key file, readMessage on the armored message.
fn js_open(node: &Path, script: &Path, k: &str, file: &Path) -> Output {
    output(
        Command::new(node)
            .arg(script)
            .arg(secret(k))
            .stdin(std::fs::File::open(file).unwrap()),
    )
}

#[test]
fn openpgp_js_opens_every_shape() {
    let test = "openpgp_js_opens_every_shape";
    let Some((node, script)) = openpgp_js(test) else {
        return;
    };
    check(test, "OpenPGP.js", |k, file| {
        js_open(&node, &script, k, file)
    });
}

/// The copies of one message to alice (GnuPG 2.2, SEIPD v1 only), six (version 6) and aead4
/// (version 4, SEIPD v2) in To, seven (version 6) in Bcc: alice's SEIPD v1 copy, the SEIPD
/// v2 copy of six and aead4, and seven's own (docs/message.md, rule 8).
fn modern_copies() -> (H, Vec<Copy>) {
    let h = H::with_keys(&["alice", "six", "aead4", "seven"], "");
    let msg = format!(
        "From: me@example.org\nTo: alice@example.org, six@example.org, aead4@example.org\n\
         Bcc: seven@example.org\nSubject: modern\n\n{BODY}"
    );
    let c = h.ok(&["-t", "-i"], msg.as_bytes());
    assert_eq!(c.len(), 3);
    let by = |r: &[&str]| c.iter().find(|c| c.rcpts() == r).unwrap().clone();
    let copies = vec![
        (
            "SEIPD v1 beside v6",
            by(&["alice@example.org"]),
            vec!["alice"],
        ),
        (
            "SEIPD v2, v6 and v4 keys",
            by(&["six@example.org", "aead4@example.org"]),
            vec!["six", "aead4"],
        ),
        (
            "SEIPD v2, hidden v6",
            by(&["seven@example.org"]),
            vec!["seven"],
        ),
    ];
    (h, copies)
}

#[test]
fn openpgp_js_opens_the_seipd_v2_and_v6_copies() {
    let test = "openpgp_js_opens_the_seipd_v2_and_v6_copies";
    let Some((node, script)) = openpgp_js(test) else {
        return;
    };
    let (h, copies) = modern_copies();
    let open = |k: &str, file: &Path| js_open(&node, &script, k, file);
    check_copies("OpenPGP.js", &copies, h.dir.path(), &open);
    // The hidden v6 copy does not open with a visible v6 recipient's key.
    let out = open("six", &h.dir.path().join("2.asc"));
    assert!(
        !out.status.success() || !contains(&out.stdout, b"Payload line"),
        "OpenPGP.js opened seven's hidden copy with six's key"
    );
}

#[test]
fn gpg_opens_the_seipd_v1_copy_beside_a_v6_recipient() {
    let test = "gpg_opens_the_seipd_v1_copy_beside_a_v6_recipient";
    if !wanted(test) || gpg().is_none() {
        return;
    }
    let (h, copies) = modern_copies();
    check_copies("gpg", &copies[..1], h.dir.path(), &gpg_open);
}
