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
