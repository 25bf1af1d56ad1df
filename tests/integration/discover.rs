//! pgpsendmail(8), ADMIN COMMANDS `keys fetch`, `keys refresh`, `keys accept`, `keys reject`
//! and KEYS, discovered certificates: WKD and VKS over HTTPS against the servers of
//! https.rs, reached under their real names; keys gpg makes per test. These tests run
//! pgpsendmail in a private mount namespace (root, `unshare`); outside CI they are skipped
//! loudly when that cannot be done, under CI=true they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pgpsendmail::config::Discovery;
use pgpsendmail::discover::lookup;

use crate::harness::{GpgHome, H};
use crate::https::{Reply, Server};

const ALICE: &str = "alice@example.org";

/// Whether this machine can run the tests: root, and `unshare --mount` works.
fn can_run() -> bool {
    let ok = Command::new("unshare")
        .args(["--mount", "--", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the discovery tests need root and unshare --mount"
        );
        eprintln!("SKIPPED: the discovery tests need root and unshare --mount");
    }
    ok
}

/// A test: the installation (no keys in the key directory, a discovered directory and
/// keys.openpgp.org as keyserver), a server, and gpg homes.
struct T {
    h: H,
    s: Server,
    discovered: PathBuf,
}

impl T {
    fn new() -> Option<T> {
        if !can_run() {
            return None;
        }
        let h = H::with_keys(&[], "");
        let discovered = h.dir.path().join("discovered");
        h.write_config(&format!(
            "[discovery]\ndir = \"{}\"\nkeyservers = [\"https://keys.openpgp.org\"]\ntimeout = 2\n",
            discovered.display()
        ));
        let s = Server::start(h.dir.path());
        Some(T { h, s, discovered })
    }

    /// pgpsendmail `args` in a mount namespace whose /etc/hosts sends the server's names to
    /// the server, trusting its CA through SSL_CERT_FILE.
    fn net(&self, args: &[&str], stdin: &[u8]) -> Output {
        let bin = assert_cmd::cargo::cargo_bin("pgpsendmail");
        let mut c = Command::new("unshare");
        c.args([
            "--mount",
            "--",
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
        ])
        .arg(&self.s.hosts_file)
        .arg(bin)
        .args(args)
        .env_clear()
        .envs(self.h.envs())
        .env("SSL_CERT_FILE", &self.s.ca_file);
        run_with_stdin(c, stdin)
    }

    /// `keys ARGS` over the network: exit code and stdout.
    fn keys(&self, args: &[&str]) -> (i32, String) {
        let mut a = vec!["keys"];
        a.extend_from_slice(args);
        let out = self.net(&a, b"");
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
        )
    }

    /// Serves `cert` (binary) for `addr` by `method`'s URL.
    fn serve(&self, addr: &str, method: lookup::Method, cert: &[u8]) {
        let (host, path) = url_for(addr, method);
        self.s.route(&host, &path, Reply::Body(cert.to_vec()));
    }

    /// The certificate files in the discovered directory (not those held).
    fn stored(&self) -> Vec<String> {
        asc_files(&self.discovered)
    }
}

fn run_with_stdin(mut c: Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut p = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin.take().unwrap().write_all(stdin).unwrap();
    p.wait_with_output().unwrap()
}

fn asc_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".asc"))
        .collect();
    v.sort();
    v
}

/// Host and path (with query) of `addr`'s URL for `method`.
fn url_for(addr: &str, method: lookup::Method) -> (String, String) {
    let cfg = Discovery {
        keyservers: vec!["https://keys.openpgp.org".into()],
        ..Discovery::default()
    };
    let url = lookup::urls(addr, &cfg)
        .into_iter()
        .find(|(m, _)| *m == method)
        .unwrap()
        .1;
    let rest = url.strip_prefix("https://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    (host.to_string(), format!("/{path}"))
}

/// A gpg home with a key for `uid`; its fingerprint and binary certificate.
fn key(uid: &str) -> Option<(GpgHome, String, Vec<u8>)> {
    let g = GpgHome::new()?;
    let fpr = g.make_key(uid, "never");
    let cert = g.run(&["--export", &fpr], b"");
    Some((g, fpr, cert))
}

const MESSAGE: &[u8] = b"From: root@example.org\nTo: alice@example.org\nSubject: hi\n\nthe body\n";

#[test]
fn fetch_by_wkd_advanced_stores_the_key_and_mail_to_it_decrypts_with_gpg() {
    let Some(t) = T::new() else { return };
    let Some((g, fpr, cert)) = key("Alice <alice@example.org>") else {
        return;
    };
    t.serve(ALICE, lookup::Method::WkdAdvanced, &cert);
    let (code, out) = t.keys(&["fetch", ALICE]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "added {fpr} for {ALICE} from https://openpgpkey.example.org/"
        )),
        "{out}"
    );
    assert!(
        t.s.requests()[0].ends_with("?l=alice"),
        "{:?}",
        t.s.requests()
    );
    assert_eq!(t.stored(), vec![format!("{fpr}.asc")]);
    // Sending: no network (outside the namespace the names do not even resolve to the
    // server), the discovered key through the index.
    let before = t.s.requests().len();
    let caps = t.h.ok(&["-i", "--", ALICE], MESSAGE);
    assert_eq!(
        t.s.requests().len(),
        before,
        "the send path asked the network"
    );
    let clear = g.run(&["--decrypt"], &caps[0].stdin);
    assert!(crate::harness::contains(&clear, b"the body"));
}

/// gpg's revocation certificate for `fpr` (written when the key was made) applied, and the
/// certificate exported again (binary).
fn revoked(g: &GpgHome, fpr: &str) -> Vec<u8> {
    let rev =
        std::fs::read_to_string(g.home.path().join(format!("openpgp-revocs.d/{fpr}.rev"))).unwrap();
    g.run(
        &["--import"],
        rev.replace(":-----BEGIN", "-----BEGIN").as_bytes(),
    );
    g.run(&["--export", fpr], b"")
}

#[test]
fn fetch_falls_back_to_wkd_direct_then_to_the_keyserver_keeping_only_the_address() {
    let Some(t) = T::new() else { return };
    let (Some((_, a, alice)), Some((g, b, bob))) = (
        key("Alice <alice@example.org>"),
        key("Bob <bob@example.org>"),
    ) else {
        return;
    };
    g.run(&["--quick-add-uid", &b, "Bob <bob@other.example>"], b"");
    let bob = [bob, g.run(&["--export", &b], b"")].concat();
    t.serve(ALICE, lookup::Method::WkdDirect, &alice);
    t.serve("bob@example.org", lookup::Method::Keyserver, &bob);
    let (code, out) = t.keys(&["fetch", ALICE, "bob@example.org"]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("added {a} for {ALICE} from https://example.org/")),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "added {b} for bob@example.org from https://keys.openpgp.org/vks/v1/by-email/bob%40example.org"
        )),
        "{out}"
    );
    let (code, list) = t.keys(&["list", "bob@example.org"]);
    assert_eq!(code, 0, "{list}");
    assert!(
        list.contains("  addresses: bob@example.org\n"),
        "other user IDs kept: {list}"
    );
    assert!(list.contains("(discovered)"), "{list}");
    assert!(
        list.contains("  found by keyserver https://keys.openpgp.org/"),
        "{list}"
    );
}

#[test]
fn a_discovered_key_never_outranks_the_key_directory() {
    let Some(t) = T::new() else { return };
    let Some((_, fpr, cert)) = key("Alice <alice@example.org>") else {
        return;
    };
    t.serve(ALICE, lookup::Method::WkdAdvanced, &cert);
    assert_eq!(t.keys(&["fetch", ALICE]).0, 0);
    std::fs::copy(
        crate::harness::keys_dir().join("alice.asc"),
        t.h.keys.join("alice.asc"),
    )
    .unwrap();
    let out = t.h.run(&["explain", "--", ALICE], MESSAGE);
    let text = String::from_utf8_lossy(&out.stdout);
    let manual = crate::harness::fingerprint("alice");
    let line = text
        .lines()
        .find(|l| l.contains(&manual))
        .unwrap_or_default();
    assert!(line.ends_with("(manual)"), "{text}");
    assert!(!text.contains(&fpr), "the discovered key was used: {text}");
    let (_, list) = t.keys(&["list", ALICE]);
    assert!(
        list.contains(&format!(
            "not used: discovered certificate {fpr} (a keyring source"
        )),
        "{list}"
    );
}

#[test]
fn refresh_is_quiet_when_nothing_changed_and_applies_a_revocation_at_once() {
    let Some(t) = T::new() else { return };
    let Some((g, fpr, cert)) = key("Alice <alice@example.org>") else {
        return;
    };
    t.serve(ALICE, lookup::Method::WkdAdvanced, &cert);
    assert_eq!(t.keys(&["fetch", ALICE]).0, 0);
    assert_eq!(t.keys(&["refresh"]), (0, String::new()));
    t.serve(ALICE, lookup::Method::WkdAdvanced, &revoked(&g, &fpr));
    let (code, out) = t.keys(&["refresh"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!("updated {fpr} for {ALICE} (")),
        "{out}"
    );
    assert!(out.trim_end().ends_with("not usable: revoked"), "{out}");
    let err = t.h.fails(67, &["-i", "--", ALICE], MESSAGE);
    assert!(err.contains("revoked"), "{err}");
}

#[test]
fn a_changed_fingerprint_is_held_until_accepted() {
    let Some(t) = T::new() else { return };
    let (Some((g1, old, c1)), Some((g2, new, c2))) = (
        key("Alice <alice@example.org>"),
        key("Alice <alice@example.org>"),
    ) else {
        return;
    };
    t.serve(ALICE, lookup::Method::WkdAdvanced, &c1);
    assert_eq!(t.keys(&["fetch", ALICE]).0, 0);
    t.serve(ALICE, lookup::Method::WkdAdvanced, &c2);
    let (code, out) = t.keys(&["refresh"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!("held {new} for {ALICE} from https://")),
        "{out}"
    );
    // Held: the known key stays in use; a second refresh says nothing new.
    assert_eq!(t.keys(&["refresh"]), (0, String::new()));
    let caps = t.h.ok(&["-i", "--", ALICE], MESSAGE);
    assert!(crate::harness::contains(
        &g1.run(&["--decrypt"], &caps[0].stdin),
        b"the body"
    ));
    let check = t.h.run(&["check"], b"");
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "warning: held for review: {new}, found by wkd-advanced"
        )),
        "{text}"
    );
    let (_, list) = t.keys(&["list", ALICE]);
    assert!(list.contains(&format!("instead of {old}")), "{list}");
    let (code, out) = t.keys(&["accept", &new]);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            format!("accepted {new} for {ALICE}, replacing {old}\n").as_str()
        )
    );
    assert_eq!(t.stored(), vec![format!("{new}.asc")]);
    let caps = t.h.ok(&["-i", "--", ALICE], MESSAGE);
    assert!(crate::harness::contains(
        &g2.run(&["--decrypt"], &caps[1].stdin),
        b"the body"
    ));
    assert_eq!(t.keys(&["accept", &new]).0, 1, "accepted twice");
}

#[test]
fn a_rejected_key_change_is_not_held_again() {
    let Some(t) = T::new() else { return };
    let (Some((_, old, c1)), Some((_, new, c2))) = (
        key("Alice <alice@example.org>"),
        key("Alice <alice@example.org>"),
    ) else {
        return;
    };
    t.serve(ALICE, lookup::Method::WkdAdvanced, &c1);
    assert_eq!(t.keys(&["fetch", ALICE]).0, 0);
    t.serve(ALICE, lookup::Method::WkdAdvanced, &c2);
    assert_eq!(t.keys(&["refresh"]).0, 1);
    let (code, out) = t.keys(&["reject", &new]);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            format!("rejected {new} for {ALICE}, keeping {old}\n").as_str()
        )
    );
    assert_eq!(t.keys(&["refresh"]), (0, String::new()));
    assert_eq!(t.stored(), vec![format!("{old}.asc")]);
    assert_eq!(t.h.run(&["check"], b"").status.code(), Some(0));
}

#[test]
fn a_hanging_garbage_redirecting_or_mismatched_server_is_one_line_and_nothing_is_stored() {
    let Some(t) = T::new() else { return };
    let Some((_, _, bob)) = key("Bob <bob@example.org>") else {
        return;
    };
    let cases: [(&str, Reply, &str); 4] = [
        (
            "hang@example.org",
            Reply::Hang,
            "wkd-advanced: no answer within 2 s",
        ),
        (
            "junk@example.org",
            Reply::Body(b"<html>hello</html>".to_vec()),
            "wkd-advanced: not a certificate",
        ),
        (
            "http@example.org",
            Reply::Redirect("http://example.org/key".into()),
            "wkd-advanced: redirected to a URL that is not https://",
        ),
        (
            "other@example.org",
            Reply::Body(bob),
            "has no valid user ID for other@example.org",
        ),
    ];
    for (addr, reply, says) in cases {
        let (host, path) = url_for(addr, lookup::Method::WkdAdvanced);
        t.s.route(&host, &path, reply);
        let (code, out) = t.keys(&["fetch", addr]);
        assert_eq!(code, 1, "{addr}: {out}");
        assert_eq!(out.lines().count(), 1, "{addr}: {out}");
        assert!(
            out.starts_with(&format!("no certificate for {addr}: ")),
            "{out}"
        );
        assert!(out.contains(says), "{addr}: {out}");
        assert!(t.stored().is_empty(), "{addr}: something was stored");
    }
}

#[test]
fn refresh_takes_only_its_own_fingerprints_revocation_for_a_pinned_keyring_certificate() {
    let Some(t) = T::new() else { return };
    let (Some((g, fpr, cert)), Some((_, other, c2))) = (
        key("Alice <alice@example.org>"),
        key("Alice <alice@example.org>"),
    ) else {
        return;
    };
    let armored = g.run(&["--export", "--armor", &fpr], b"");
    std::fs::write(t.h.keys.join("alice.asc"), &armored).unwrap();
    let discovery = std::fs::read_to_string(&t.h.config).unwrap();
    let discovery = discovery.split("[discovery]").nth(1).unwrap().to_string();
    t.h.write_config(&format!(
        "[recipients]\n\"{ALICE}\" = {{ key = \"{fpr}\" }}\n[discovery]{discovery}"
    ));
    drop(cert);
    // A different key at the address: not taken for the pinned one, and no news.
    t.serve(ALICE, lookup::Method::WkdAdvanced, &c2);
    assert_eq!(t.keys(&["refresh"]), (0, String::new()));
    assert!(t.stored().is_empty(), "{other} was stored");
    t.serve(ALICE, lookup::Method::WkdAdvanced, &revoked(&g, &fpr));
    let (code, out) = t.keys(&["refresh"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!("updated {fpr} for {ALICE} (")),
        "{out}"
    );
    assert_eq!(
        std::fs::read(t.h.keys.join("alice.asc")).unwrap(),
        armored,
        "key directory written"
    );
    let err = t.h.fails(67, &["-i", "--", ALICE], MESSAGE);
    assert!(err.contains("revoked"), "{err}");
}
