//! Real readers (issue 5, part 4): notmuch indexes the Maildir a private Postfix delivered
//! into, with a GNUPGHOME holding the recipient's secret key, and understands the
//! protected header fields: the real Subject is searchable and shown, while the stored
//! message's outer Subject is `[...]`.

use std::process::Command;

use crate::harness::*;
use crate::real::*;

#[test]
fn notmuch_shows_the_protected_subject() {
    let test = "notmuch_shows_the_protected_subject";
    let Some(notmuch) = need(test, "notmuch", "notmuch", &["/usr/bin/notmuch"]) else {
        return;
    };
    let Some(pf) = Postfix::start(test, Options::default()) else {
        return;
    };
    let Some(g) = GpgHome::new() else {
        return;
    };
    g.run(
        &[
            "--import",
            keys_dir().join("alice.sec.asc").to_str().unwrap(),
        ],
        b"",
    );
    let h = pf.harness();
    let body_mark = marker("BODYMARK");
    let word = marker("Subj");
    let subject = format!("Protected {word}");
    let mid = marker("mid");
    let msg = format!(
        "From: me@example.org\nTo: alice@example.org\nSubject: {subject}\n\
         Message-ID: <{mid}@example.org>\n\n{body_mark}\n"
    );
    let out = h.run(&["-t", "-i"], msg.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    check_mailboxes(&pf, &["alice"], &[], &body_mark, &subject);

    let maildir = pf.mail.join("example.org/alice");
    let config = h.dir.path().join("notmuch-config");
    std::fs::write(
        &config,
        format!(
            "[database]\npath={}\n\n[user]\nname=Alice\nprimary_email=alice@example.org\n\n\
             [new]\ntags=inbox;\n\n[maildir]\nsynchronize_flags=false\n",
            maildir.display()
        ),
    )
    .unwrap();
    let nm = |args: &[&str]| -> String {
        let o = run_ok(
            Command::new(&notmuch)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("HOME", h.dir.path())
                .env("NOTMUCH_CONFIG", &config)
                .env("GNUPGHOME", g.home.path())
                .args(args),
            b"",
        );
        String::from_utf8(o.stdout).unwrap()
    };
    // Index with decryption: the protected Subject becomes searchable.
    nm(&["new", "--quiet", "--decrypt=true"]);
    let id = format!("id:{mid}@example.org");
    assert_eq!(nm(&["count", &id]).trim(), "1", "notmuch did not index it");
    let found = nm(&["search", "--output=messages", &format!("subject:{word}")]);
    assert_eq!(found.trim(), id, "the protected Subject is not indexed");
    let found = nm(&["search", "--output=messages", &body_mark]);
    assert_eq!(found.trim(), id, "the encrypted body is not indexed");

    let shown = nm(&["show", "--format=json", "--decrypt=true", &id]);
    assert!(
        shown.contains(&format!("\"headers\": {{\"Subject\": \"{subject}\"")),
        "notmuch show --decrypt=true: {shown}"
    );
    // notmuch reports the stored outer Subject as the mask it took off.
    assert!(
        shown.contains("\"header-mask\": {\"Subject\": \"[...]\"}"),
        "{shown}"
    );
    assert!(shown.contains(&body_mark), "body not shown: {shown}");
    // Without decryption notmuch sees what is stored: the placeholder.
    let stored = nm(&["show", "--format=json", "--decrypt=false", &id]);
    assert!(stored.contains("\"Subject\": \"[...]\""), "{stored}");
    assert!(
        !stored.contains(&word) && !stored.contains(&body_mark),
        "{stored}"
    );
    let file = nm(&["search", "--output=files", &id]);
    let raw = std::fs::read_to_string(file.trim()).unwrap();
    assert!(raw.contains("\nSubject: [...]\n"), "{raw}");
}
