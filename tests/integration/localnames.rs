//! Local names that just work (pgpsendmail(8), RECIPIENTS and KEYS; pgpsendmail.toml(5),
//! `local_domains` and the `"*"` entry): an address at one of this host's names is the local
//! name itself, `"*"` routes every local name without an entry of its own, and the envelope
//! keeps the caller's spelling.

use crate::harness::*;

/// This host's name, as pgpsendmail reads it.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

fn msg(to: &str) -> Vec<u8> {
    format!("From: me@example.org\nTo: {to}\nSubject: s\n\nsecret body MARKER\n").into_bytes()
}

/// Sends to `rcpt` alone and returns its one copy, which must open for `key` only.
fn sent_to(h: &H, rcpt: &str, key: &str) -> Capture {
    let before = h.captures().len();
    let caps = h.ok(&["-i", rcpt], &msg(rcpt));
    assert_eq!(caps.len(), before + 1, "{rcpt}: one copy");
    let c = caps[before].clone();
    assert_eq!(
        c.rcpts(),
        [rcpt],
        "the envelope keeps the caller's spelling"
    );
    c.open(key);
    for other in ["alice", "bob", "ops", "carol", "dave"] {
        if other != key {
            assert!(c.try_open(other).is_err(), "{rcpt}: {other} can open it");
        }
    }
    c
}

const STAR: &str = "[recipients]\n\"root\" = { alias = \"ops@example.org\" }\n\
                    \"*\" = { alias = \"bob@example.org\" }\n";

#[test]
fn root_at_this_hosts_names_follows_the_root_entry() {
    let h = H::new();
    let host = host();
    for rcpt in [
        format!("root@{host}"),
        format!("root@{}", host.to_uppercase()),
        "root@localhost".to_string(),
        "Root@LocalHost".to_string(),
        "root@[127.0.0.1]".to_string(),
        "root@[IPv6:::1]".to_string(),
    ] {
        sent_to(&h, &rcpt, "ops");
    }
}

#[test]
fn a_configured_local_domain_is_this_host_too() {
    let h = H::new();
    h.write_config(
        "local_domains = [\"mail.example.internal\"]\n\
         [recipients]\n\"root\" = { alias = \"ops@example.org\" }\n",
    );
    sent_to(&h, "root@Mail.Example.Internal", "ops");
    let e = h.fails(67, &["-i", "root@example.internal"], &msg("x"));
    assert!(e.contains("root@example.internal: no certificate"), "{e}");
}

#[test]
fn star_routes_an_unknown_local_user_bare_and_at_this_host() {
    let h = H::with_keys(DEFAULT_KEYS, STAR);
    for rcpt in [
        "ncuser".to_string(),
        "ncuser@localhost".to_string(),
        format!("NCuser@{}", host()),
    ] {
        sent_to(&h, &rcpt, "bob");
    }
    // root has its own entry; "*" does not replace it.
    sent_to(&h, "root@localhost", "ops");
}

#[test]
fn star_routes_a_cron_style_call() {
    let h = H::with_keys(DEFAULT_KEYS, STAR);
    let cron = b"From: root (Cron Daemon)\nTo: ncuser\nSubject: Cron <ncuser@vm> run-parts\n\
X-Cron-Env: <SHELL=/bin/sh>\n\nsecret cron output MARKER\n";
    let c = h.ok(
        &["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "ncuser"],
        cron,
    );
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rcpts(), ["ncuser"]);
    assert!(c[0].open("bob").payload.windows(6).any(|w| w == b"MARKER"));
    assert!(!contains(&c[0].cleartext(), b"MARKER"));
}

#[test]
fn an_explicit_entry_or_own_certificate_beats_star() {
    let host = host();
    let h = H::with_keys(
        DEFAULT_KEYS,
        &format!(
            "local_domains = [\"example.org\"]\n[recipients]\n\
             \"root\" = {{ alias = \"ops@example.org\" }}\n\
             \"root@{host}\" = {{ alias = \"carol@example.net\" }}\n\
             \"dave\" = {{ key = \"{}\" }}\n\
             \"ncuser@localhost\" = {{ alias = \"alice@example.org\" }}\n\
             \"*\" = {{ alias = \"bob@example.org\" }}\n",
            fingerprint("dave")
        ),
    );
    // An exact entry beats the local name's entry and "*".
    sent_to(&h, &format!("root@{host}"), "carol");
    sent_to(&h, "ncuser@localhost", "alice");
    // The local name's own entry beats "*", for the bare name and at a local domain.
    sent_to(&h, "dave", "dave");
    sent_to(&h, "dave@example.org", "dave");
    sent_to(&h, "root@example.org", "ops");
    // A certificate of the address itself beats the local name's entry and "*".
    sent_to(&h, "alice@example.org", "alice");
    sent_to(&h, "ops@example.org", "ops");
    // Everybody else at a local name: "*".
    sent_to(&h, "ncuser@example.org", "bob");
    sent_to(&h, "ncuser", "bob");
}

#[test]
fn star_does_not_touch_other_domains() {
    let h = H::with_keys(DEFAULT_KEYS, STAR);
    sent_to(&h, "ncuser", "bob");
    for rcpt in [
        "nobody@nowhere.example",
        "ncuser@example.net",
        "root@localhost.example.org",
        "root@[192.0.2.1]",
    ] {
        let e = h.fails(67, &["-i", rcpt], &msg(rcpt));
        assert!(e.contains(&format!("{rcpt}: no certificate")), "{e}");
        assert!(!e.contains("MARKER"), "{e}");
    }
}

#[test]
fn the_refusal_for_a_local_name_names_the_star_entry() {
    let h = H::with_keys(&["alice"], "");
    for rcpt in [
        "www-data".to_string(),
        "root@localhost".to_string(),
        format!("root@{}", host()),
    ] {
        let e = h.fails(67, &["-i", &rcpt], &msg(&rcpt));
        assert!(
            e.contains(&format!(
                "{rcpt}: no certificate: a local name needs an entry in [recipients], \
                 or a \"*\" entry for every local name"
            )),
            "{e}"
        );
        assert!(!e.contains("MARKER"), "{e}");
    }
}

fn admin(h: &H, args: &[&str]) -> (i32, String) {
    let before = h.captures().len();
    let out = h.cmd().args(args).output().unwrap();
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

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
postgres:x:110:117::/var/lib/postgresql:/bin/bash\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
ncuser:x:1000:1000::/home/ncuser:/bin/bash\n\
Backup:x:1001:1001::/home/backup:/bin/sh\n";

#[test]
fn check_lists_local_users_whose_mail_nothing_routes() {
    let h = H::new();
    std::fs::write(h.passwd(), PASSWD).unwrap();
    h.write_config(
        "[recipients]\n\"root\" = { alias = \"ops@example.org\" }\n\
         \"backup\" = { alias = \"alice@example.org\" }\n",
    );
    let (code, text) = admin(&h, &["check"]);
    assert_eq!(code, 1, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("warning: local users"))
        .unwrap_or_else(|| panic!("no local users warning in:\n{text}"));
    assert_eq!(
        line,
        "warning: local users whose mail would be refused (no [recipients] entry, and no \
         \"*\" entry): postgres, ncuser"
    );
    // "*" routes them all.
    h.write_config(STAR);
    let (code, text) = admin(&h, &["check"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("all well"), "{text}");
}

#[test]
fn keys_list_follows_aliases_local_names_and_star_and_says_why_not() {
    let h = H::with_keys(
        DEFAULT_KEYS,
        &format!(
            "[recipients]\n\"root\" = {{ alias = \"ops@example.org\" }}\n\
             \"@example.com\" = {{ key = \"{}\" }}\n",
            fingerprint("gateway")
        ),
    );
    let ops = fingerprint("ops");
    for addr in ["root", "root@localhost", &format!("ROOT@{}", host())] {
        let (code, text) = admin(&h, &["keys", "list", addr]);
        assert_eq!(code, 0, "{addr}: {text}");
        assert!(text.contains(&format!("{ops} usable")), "{addr}: {text}");
        assert!(
            text.contains("keys looked up as ops@example.org"),
            "{addr}: {text}"
        );
        assert_eq!(text.matches(" usable").count(), 1, "{text}");
    }
    let (code, text) = admin(&h, &["keys", "list", "someone@example.com"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("{} usable", fingerprint("gateway"))),
        "{text}"
    );

    let (code, text) = admin(&h, &["keys", "list", "nobody@nowhere.example"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("no certificate for nobody@nowhere.example; no [recipients] entry"),
        "{text}"
    );
    let (code, text) = admin(&h, &["keys", "list", "ncuser"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("no certificate for ncuser; no [recipients] entry, and no \"*\" entry"),
        "{text}"
    );

    h.write_config(STAR);
    let (code, text) = admin(&h, &["keys", "list", "ncuser@localhost"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("{} usable", fingerprint("bob"))),
        "{text}"
    );
    assert!(text.contains("alias of \"*\""), "{text}");
    let (_, json) = admin(&h, &["keys", "list", "--json", "root"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["fingerprint"], ops.as_str());
}
