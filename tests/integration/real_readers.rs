//! Real readers (issue 5, part 4): notmuch indexes the Maildir a private Postfix delivered
//! into, with a GNUPGHOME holding the recipient's secret key, and understands the
//! protected header fields: the real Subject is searchable and shown, while the stored
//! message's outer Subject is `[...]`.

use std::process::Command;

use crate::harness::*;
use crate::real::*;

/// One message to alice delivered by a private Postfix, and a GnuPG home with her secret
/// key.
struct Delivered {
    pf: Postfix,
    h: H,
    g: GpgHome,
    subject: String,
    word: String,
    body_mark: String,
    mid: String,
}

fn deliver_to_alice(test: &str) -> Option<Delivered> {
    let pf = Postfix::start(test, Options::default())?;
    let g = GpgHome::new()?;
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
    Some(Delivered {
        pf,
        h,
        g,
        subject,
        word,
        body_mark,
        mid,
    })
}

#[test]
fn notmuch_shows_the_protected_subject() {
    let test = "notmuch_shows_the_protected_subject";
    let Some(notmuch) = need(test, "notmuch", "notmuch", &["/usr/bin/notmuch"]) else {
        return;
    };
    let Some(d) = deliver_to_alice(test) else {
        return;
    };
    let Delivered {
        pf,
        h,
        g,
        subject,
        word,
        body_mark,
        mid,
    } = &d;
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
    let found = nm(&["search", "--output=messages", body_mark]);
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
    assert!(
        shown.contains(body_mark.as_str()),
        "body not shown: {shown}"
    );
    // Without decryption notmuch sees what is stored: the placeholder.
    let stored = nm(&["show", "--format=json", "--decrypt=false", &id]);
    assert!(stored.contains("\"Subject\": \"[...]\""), "{stored}");
    assert!(
        !stored.contains(word.as_str()) && !stored.contains(body_mark.as_str()),
        "{stored}"
    );
    let file = nm(&["search", "--output=files", &id]);
    let raw = std::fs::read_to_string(file.trim()).unwrap();
    assert!(raw.contains("\nSubject: [...]\n"), "{raw}");
}

/// A tmux server of its own (socket in a temporary directory); killed when dropped.
struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(self.dir.path().join("sock"));
        c
    }

    /// The visible screen.
    fn screen(&self) -> String {
        String::from_utf8_lossy(&run_ok(self.cmd().args(["capture-pane", "-p"]), b"").stdout)
            .to_string()
    }

    /// Waits (up to 20 s) until the screen shows `text` and not `gone`; returns the
    /// screen.
    fn wait_for(&self, text: &str, gone: &str) -> String {
        let start = std::time::Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) && !s.contains(gone) {
                return s;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "the screen never showed {text:?} without {gone:?}:\n{s}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// neomutt in tmux on alice's delivered message, reading protected header fields or not
/// (`crypt_protected_headers_read`): the index before, the pager on the opened message, and
/// tmux (alive until dropped). `None` when a program is missing (outside CI).
fn neomutt_opens(test: &str, protected: bool) -> Option<(Delivered, Tmux, String, String)> {
    let neomutt = need(test, "neomutt", "neomutt", &["/usr/bin/neomutt"])?;
    need(test, "tmux", "tmux", &["/usr/bin/tmux"])?;
    let d = deliver_to_alice(test)?;
    let maildir = d.pf.mail.join("example.org/alice");
    let rc = d.h.dir.path().join("neomuttrc");
    std::fs::write(
        &rc,
        format!(
            "set crypt_use_gpgme=yes\nset crypt_protected_headers_read={}\n\
             set mbox_type=Maildir\nset folder={m}\nset spoolfile={m}\n\
             set header_cache=\"\"\nset message_cachedir=\"\"\nset wait_key=no\n\
             set help=no\nset pager_stop=yes\n",
            if protected { "yes" } else { "no" },
            m = maildir.display()
        ),
    )
    .unwrap();
    let tmux = Tmux {
        dir: tempfile::Builder::new()
            .prefix("tm")
            .tempdir_in("/tmp")
            .unwrap(),
    };
    let shell_quote = |p: &std::path::Path| format!("'{}'", p.display());
    let line = format!(
        "env -i TERM=xterm PATH=/usr/bin:/bin HOME={} GNUPGHOME={} {} -n -F {} -f {}",
        shell_quote(d.h.dir.path()),
        shell_quote(d.g.home.path()),
        shell_quote(&neomutt),
        shell_quote(&rc),
        shell_quote(&maildir),
    );
    run_ok(
        tmux.cmd()
            .args(["new-session", "-d", "-x", "160", "-y", "40"])
            .arg(line),
        b"",
    );
    // The index shows what is stored: the placeholder.
    let index = tmux.wait_for("[...]", "Return-Path");
    assert!(!index.contains(&d.word), "{index}");
    // Opening the message decrypts it: the body shows.
    run_ok(tmux.cmd().args(["send-keys", "Enter"]), b"");
    let pager = tmux.wait_for(&d.body_mark, "\u{0}");
    Some((d, tmux, index, pager))
}

#[test]
fn neomutt_in_tmux_shows_the_protected_subject() {
    let test = "neomutt_in_tmux_shows_the_protected_subject";
    let Some((d, tmux, _, pager)) = neomutt_opens(test, true) else {
        return;
    };
    assert!(
        pager.contains(&format!("Subject: {}", d.subject)),
        "protected Subject not shown:\n{pager}"
    );
    // Back in the index, the real Subject replaces the placeholder.
    run_ok(tmux.cmd().args(["send-keys", "q"]), b"");
    let index = tmux.wait_for(&d.word, &d.body_mark);
    assert!(!index.contains("[...]"), "{index}");
    assert!(index.contains(&d.subject), "{index}");
}

#[test]
fn neomutt_without_header_protection_shows_the_legacy_display() {
    // docs/message.md, rule 20: a reader that decrypts but ignores protected header fields
    // still shows the real Subject, as the first line of the text.
    let test = "neomutt_without_header_protection_shows_the_legacy_display";
    let Some((d, _tmux, _, pager)) = neomutt_opens(test, false) else {
        return;
    };
    assert!(pager.contains("Subject: [...]"), "{pager}");
    let shown = pager
        .lines()
        .position(|l| l.trim_end() == format!("Subject: {}", d.subject))
        .unwrap_or_else(|| panic!("the real Subject not shown:\n{pager}"));
    let body = pager
        .lines()
        .position(|l| l.contains(&d.body_mark))
        .unwrap();
    assert!(shown < body, "{pager}");
}
