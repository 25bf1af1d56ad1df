//! What an administrator meets after `make install-sendmail` (issue 12): keys that every
//! sender can read, the real sendmail found where an administrator expects it, `check`'s
//! exit status for monitoring, and the size limit of the real MTA.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::*;

const MSG: &[u8] = b"From: me@example.org\nTo: alice@example.org\nSubject: s\n\nbody\n";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Runs pgpsendmail with `args` as the user nobody (group nogroup, no other groups), as
/// sudo sends its alert as the user who typed the wrong password. `None` when not root.
pub(crate) fn as_nobody(h: &H, args: &[&str], stdin: &[u8]) -> Option<std::process::Output> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: the test as another user must run"
        );
        eprintln!("SKIPPED: running as nobody needs root");
        return None;
    }
    // The stand-in sendmail, run as nobody too, writes what it gets here.
    chmod(&h.capture, 0o777);
    let mut c = assert_cmd::Command::new("setpriv");
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("pgpsendmail"))
        .args(args)
        .write_stdin(stdin.to_vec());
    Some(c.output().unwrap())
}

fn check(h: &H) -> (i32, String) {
    let out = h.cmd().arg("check").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

fn import(h: &H, files: &[&Path]) -> String {
    let out = h
        .cmd()
        .args(["keys", "import"])
        .args(files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}");
    text
}

#[test]
fn a_sender_other_than_root_can_use_the_keys_that_keys_import_wrote() {
    let h = H::with_keys(&[], "");
    import(&h, &[&keys_dir().join("alice.asc")]);
    let stored = h.keys.join(format!("{}.asc", fingerprint("alice")));
    assert_eq!(mode(&stored), 0o644, "{}", stored.display());
    let Some(out) = as_nobody(&h, &["-i", "alice@example.org"], MSG) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = h.captures();
    assert_eq!(c.len(), 1);
    assert!(contains(&c[0].body("alice"), b"body"));

    // What the tester met before: a 0600 key file. Then nobody's mail is refused, and
    // `check`, run as root, says so beforehand.
    chmod(&stored, 0o600);
    let out = as_nobody(&h, &["-i", "alice@example.org"], MSG).unwrap();
    assert_eq!(out.status.code(), Some(67));
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!(
            "warning: {} is not readable by other users (mode 0600: no read permission for others)",
            stored.display()
        )),
        "{text}"
    );
}

#[test]
fn keys_import_makes_a_missing_key_directory_0755_and_its_files_0644() {
    let h = H::with_keys(&[], "");
    let kd = h.dir.path().join("etc/pgpsendmail/keys");
    let text = std::fs::read_to_string(&h.config)
        .unwrap()
        .replace(&h.keys.display().to_string(), &kd.display().to_string());
    std::fs::write(&h.config, text).unwrap();
    let out = import(&h, &[&keys_dir().join("alice.asc")]);
    assert!(out.contains("made the key directory"), "{out}");
    for d in [
        &kd,
        kd.parent().unwrap(),
        kd.parent().unwrap().parent().unwrap(),
    ] {
        assert_eq!(mode(d), 0o755, "{}", d.display());
    }
    let stored = kd.join(format!("{}.asc", fingerprint("alice")));
    assert_eq!(mode(&stored), 0o644);
}

#[test]
fn check_warns_about_paths_other_senders_cannot_reach() {
    let h = H::with_keys(&["alice"], "");
    let (code, text) = check(&h);
    assert_eq!(code, 0, "{text}");
    // A directory on the way to the keys without search permission for others.
    chmod(&h.keys, 0o700);
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!(
            "warning: {} is not readable by other users (mode 0700: no read and search permission for others)",
            h.keys.display()
        )),
        "{text}"
    );
    chmod(&h.keys, 0o755);
    // The configuration file.
    chmod(&h.config, 0o640);
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("warning: {} is not readable", h.config.display()))
            && text.contains("exit 78"),
        "{text}"
    );
    chmod(&h.config, 0o644);
    // A key file named directly in keyring, behind a closed directory.
    let inner = h.dir.path().join("closed");
    std::fs::create_dir(&inner).unwrap();
    chmod(&inner, 0o711);
    let f = inner.join("ring.asc");
    std::fs::copy(keys_dir().join("bob.asc"), &f).unwrap();
    chmod(&f, 0o644);
    let text = std::fs::read_to_string(&h.config).unwrap().replace(
        &format!("keyring = [\"{}\"]", h.keys.display()),
        &format!("keyring = [\"{}\", \"{}\"]", h.keys.display(), f.display()),
    );
    std::fs::write(&h.config, text).unwrap();
    let (code, text) = check(&h);
    assert_eq!(code, 0, "{text}");
    chmod(&inner, 0o700);
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!(
            "directory {} on the way has mode 0700: no search permission for others",
            inner.display()
        )),
        "{text}"
    );
    // The cache directory.
    chmod(&inner, 0o755);
    let cache = h.dir.path().join("cache");
    chmod(&cache, 0o700);
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("warning: {} is not readable", cache.display()))
            && text.contains("key index"),
        "{text}"
    );
}

// ---- Finding the real sendmail without a `sendmail` setting, under a fake root ----

use pgpsendmail::config::Config;
use pgpsendmail::sendmail::deliver::{Rule, find_real_sendmail};
use pgpsendmail::{Env, admin};

/// A fake root for the fixed paths, and an Env that looks there; our own executable is the
/// built pgpsendmail.
struct Root {
    h: H,
    root: std::path::PathBuf,
}

impl Root {
    fn new() -> Root {
        let h = H::with_keys(&["alice"], "");
        let root = h.dir.path().join("root");
        for d in ["usr/sbin", "usr/lib", "usr/bin"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        // No sendmail line: the search decides.
        std::fs::write(
            &h.config,
            format!(
                "keyring = [\"{}\"]\ncache_dir = \"{}\"\n",
                h.keys.display(),
                h.dir.path().join("cache").display()
            ),
        )
        .unwrap();
        Root { h, root }
    }

    fn path(&self, p: &str) -> std::path::PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// An MTA program (the stand-in) at `p`.
    fn mta(&self, p: &str) -> &Self {
        install_executable(&stand_in(), &self.path(p), "0755", None);
        self
    }

    /// `p` as a symbolic link to `to` (pgpsendmail itself, after a takeover).
    fn link(&self, p: &str, to: &Path) -> &Self {
        std::os::unix::fs::symlink(to, self.path(p)).unwrap();
        self
    }

    fn env(&self) -> Env {
        Env {
            config_path: Some(self.h.config.clone()),
            login: "root".into(),
            full_name: None,
            hostname: "test.example".into(),
            tmpdir: None,
            self_exe: Some(assert_cmd::cargo::cargo_bin("pgpsendmail")),
            root: Some(self.root.clone()),
            passwd: Some(self.h.passwd()),
            cache_default: self.h.dir.path().join("default-cache"),
            discovered_default: self.h.dir.path().join("discovered"),
            xdg_cache_home: None,
            home: None,
            now: std::time::SystemTime::now(),
        }
    }

    fn find(&self) -> Result<(std::path::PathBuf, Rule), String> {
        let cfg = Config::load(Some(&self.h.config)).unwrap();
        find_real_sendmail(&cfg, &self.env()).map_err(|e| e.to_string())
    }

    fn check(&self) -> (i32, String) {
        let mut out = Vec::new();
        let code = admin::check(&self.env(), None, &mut out).unwrap();
        (code, String::from_utf8(out).unwrap())
    }
}

fn us() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("pgpsendmail")
}

#[test]
fn real_sendmail_the_configured_path_comes_first() {
    let r = Root::new();
    r.mta("/usr/sbin/sendmail.real").mta("/usr/sbin/sendmail");
    let text = std::fs::read_to_string(&r.h.config).unwrap();
    std::fs::write(
        &r.h.config,
        format!("sendmail = \"{}\"\n{text}", stand_in().display()),
    )
    .unwrap();
    assert_eq!(r.find().unwrap(), (stand_in(), Rule::Configured));
    let (code, text) = r.check();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "real sendmail: {} (configured) (flavor postfix, inferred)",
            stand_in().display()
        )),
        "{text}"
    );
}

#[test]
fn real_sendmail_the_diverted_one_comes_before_the_system_sendmail() {
    let r = Root::new();
    r.mta("/usr/sbin/sendmail.real")
        .link("/usr/sbin/sendmail", &us())
        .mta("/usr/bin/msmtp");
    let real = r.path("/usr/sbin/sendmail.real");
    assert_eq!(r.find().unwrap(), (real.clone(), Rule::Diverted));
    let (code, text) = r.check();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "real sendmail: {0} (found: {0}, the diverted system sendmail) (flavor postfix, inferred)",
            real.display()
        )),
        "{text}"
    );
}

#[test]
fn real_sendmail_a_diverted_nullmailer_is_told_by_its_package_and_a_stale_flavor_is_flagged() {
    // nullmailer's own /usr/sbin/sendmail, renamed by the takeover's diversion: the name
    // says nothing, dpkg's file list of the package says nullmailer (pgpsendmail(8), THE
    // REAL SENDMAIL).
    let r = Root::new();
    r.mta("/usr/sbin/sendmail.real")
        .link("/usr/sbin/sendmail", &us());
    let info = r.path("/var/lib/dpkg/info");
    std::fs::create_dir_all(&info).unwrap();
    std::fs::write(
        info.join("nullmailer.list"),
        "/.\n/usr/sbin/sendmail\n/usr/sbin/nullmailer-queue\n",
    )
    .unwrap();
    let (code, text) = r.check();
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("(flavor nullmailer, inferred)"), "{text}");
    // A flavor written for another MTA (the MTA was replaced since): a warning, exit 1.
    let cfg = std::fs::read_to_string(&r.h.config).unwrap();
    std::fs::write(&r.h.config, format!("flavor = \"postfix\"\n{cfg}")).unwrap();
    let (code, text) = r.check();
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("(flavor postfix, configured)"), "{text}");
    assert!(
        text.contains(
            "warning: flavor postfix is configured, but the real sendmail looks like nullmailer's"
        ),
        "{text}"
    );
}

#[test]
fn real_sendmail_the_system_sendmail_when_it_is_not_pgpsendmail() {
    // Postfix's /usr/sbin/sendmail beside an unconfigured msmtp: Postfix, as the
    // administrator expects (the tester's case).
    let r = Root::new();
    r.mta("/usr/sbin/sendmail").mta("/usr/bin/msmtp");
    let sys = r.path("/usr/sbin/sendmail");
    assert_eq!(r.find().unwrap(), (sys.clone(), Rule::System));
    let (code, text) = r.check();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "real sendmail: {0} (found: {0}, not pgpsendmail) (flavor postfix, inferred)",
            sys.display()
        )),
        "{text}"
    );
    // /usr/lib/sendmail when /usr/sbin/sendmail leads back to pgpsendmail (through a
    // chain of links).
    let r = Root::new();
    r.link("/usr/sbin/pgpsendmail", &us())
        .link("/usr/sbin/sendmail", &r.path("/usr/sbin/pgpsendmail"))
        .mta("/usr/lib/sendmail")
        .mta("/usr/bin/msmtp");
    assert_eq!(
        r.find().unwrap(),
        (r.path("/usr/lib/sendmail"), Rule::System)
    );
}

#[test]
fn real_sendmail_the_other_candidates_only_when_exactly_one_exists() {
    let r = Root::new();
    r.link("/usr/sbin/sendmail", &us())
        .link("/usr/lib/sendmail", &us())
        .mta("/usr/bin/msmtp");
    let msmtp = r.path("/usr/bin/msmtp");
    assert_eq!(r.find().unwrap(), (msmtp.clone(), Rule::OnlyCandidate));
    let (code, text) = r.check();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "real sendmail: {0} (found: {0}, the only known MTA program present) (flavor msmtp, inferred)",
            msmtp.display()
        )),
        "{text}"
    );
    r.mta("/usr/sbin/exim4");
    let e = r.find().unwrap_err();
    assert!(e.contains("several real sendmails found"), "{e}");
    let (code, text) = r.check();
    assert_eq!(code, 78, "{text}");
    assert!(
        text.contains("error: several real sendmails found"),
        "{text}"
    );
    // Nothing but pgpsendmail itself: no real sendmail.
    let r = Root::new();
    r.link("/usr/sbin/sendmail", &us());
    let e = r.find().unwrap_err();
    assert!(e.contains("no real sendmail found"), "{e}");
    // A diverted program that is pgpsendmail is refused, not passed over.
    r.link("/usr/sbin/sendmail.real", &us())
        .mta("/usr/bin/msmtp");
    let e = r.find().unwrap_err();
    assert!(e.contains("is pgpsendmail itself"), "{e}");
}

// ---- check's exit status: 0 all well, 1 warnings, 78 when no mail can be sent ----

#[test]
fn check_exit_78_when_no_key_is_usable_for_anything() {
    // A typo in keyring: nothing loads, every recipient would be refused.
    let h = H::with_keys(&["alice"], "");
    let text = std::fs::read_to_string(&h.config)
        .unwrap()
        .replace(&h.keys.display().to_string(), "/etc/pgpsendmail/kyes");
    std::fs::write(&h.config, text).unwrap();
    let (code, text) = check(&h);
    assert_eq!(code, 78, "{text}");
    assert!(
        text.contains(
            "error: no usable certificate in the keyring: every recipient would be refused"
        ),
        "{text}"
    );
    // Only unusable certificates: the same.
    let h = H::with_keys(&["expired"], "");
    let (code, text) = check(&h);
    assert_eq!(code, 78, "{text}");
    assert!(text.contains("error: no usable certificate"), "{text}");
    // With missing_key = "plaintext" mail still goes (unencrypted): a warning only, not 78.
    let h = H::with_keys(&["expired"], "missing_key = \"plaintext\"\n");
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(!text.contains("error:"), "{text}");
    // One recipient entry that may get plaintext is enough, too.
    let h = H::with_keys(
        &["expired"],
        "[recipients]\n\"list@example.net\" = { missing_key = \"plaintext\" }\n",
    );
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
}

#[test]
fn check_exit_1_for_warnings_and_0_when_all_is_well() {
    // A usable key beside a dead [recipients] entry: some mail goes, so a warning.
    let h = H::with_keys(
        &["alice"],
        "[recipients]\n\"root\" = { alias = \"nobody@example.org\" }\n",
    );
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("warning: [recipients] \"root\""), "{text}");
    assert!(!text.contains("error:"), "{text}");
    let h = H::with_keys(&["alice"], "");
    let (code, text) = check(&h);
    assert_eq!(code, 0, "{text}");
    assert!(text.ends_with("all well\n"), "{text}");
}

#[test]
fn check_exit_78_without_a_real_sendmail_or_with_a_broken_configuration() {
    let h = H::with_keys(&["alice"], "");
    h.use_sendmail(&h.dir.path().join("no-such-sendmail"));
    let (code, text) = check(&h);
    assert_eq!(code, 78, "{text}");
    assert!(text.contains("error: real sendmail"), "{text}");
    std::fs::write(&h.config, "keyring = [\n").unwrap();
    let (code, text) = check(&h);
    assert_eq!(code, 78, "{text}");
    assert!(text.starts_with("error: "), "{text}");
}

// ---- The real MTA's size limit ----

/// A Postfix stand-in: `bin/sendmail` (the stand-in sendmail) with `script` as its
/// `bin/postconf`.
fn postfix_with_postconf(h: &H, script: &str) {
    let bin = h.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    install_executable(&stand_in(), &bin.join("sendmail"), "0755", None);
    write_script(&bin.join("postconf"), script);
    h.use_sendmail(&bin.join("sendmail"));
}

/// [`postfix_with_postconf`], answering `postconf -hx message_size_limit` with `limit`, or
/// with the file `limit` in `$MAIL_CONFIG` when that is set.
fn postfix_with_limit(h: &H, limit: &str) {
    postfix_with_postconf(
        h,
        &format!(
            "#!/bin/sh\n[ \"$1 $2\" = \"-hx message_size_limit\" ] || exit 1\n\
             if [ -n \"$MAIL_CONFIG\" ]; then cat \"$MAIL_CONFIG/limit\"; else echo {limit}; fi\n"
        ),
    );
}

/// [`postfix_with_postconf`], answering `postconf -hx smtputf8_enable` with `value` and
/// counting its runs in the file `postconf-runs` beside it.
fn postfix_with_smtputf8(h: &H, value: &str) -> std::path::PathBuf {
    let runs = h.dir.path().join("bin/postconf-runs");
    postfix_with_postconf(
        h,
        &format!(
            "#!/bin/sh\necho run >> {}\n\
             [ \"$1 $2\" = \"-hx smtputf8_enable\" ] || exit 1\necho {value}\n",
            runs.display()
        ),
    );
    runs
}

/// pgpsendmail(8), RECIPIENTS: a Postfix with `smtputf8_enable = no` cannot carry a UTF-8
/// envelope address: `check` warns, and such a message is refused (65, nothing sent) where it
/// was handed on with exit 0 to bounce later. An ASCII message runs no postconf.
#[test]
fn a_postfix_without_smtputf8_is_warned_about_and_utf8_envelopes_are_refused() {
    let h = H::with_keys(&["alice"], "");
    let runs = postfix_with_smtputf8(&h, "no");
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("warning: Postfix cannot carry UTF-8 addresses (smtputf8_enable = no)"),
        "{text}"
    );
    let _ = std::fs::remove_file(&runs);
    let msg = b"From: me@example.org\nSubject: s\n\nbody\n";
    h.ok(&["-i", "alice@example.org"], msg);
    assert!(!runs.exists(), "postconf ran for an ASCII message");
    for args in [
        &["-i", "alice@example.org", "jos\u{e9}@ex\u{e4}mple.org"][..],
        &["-i", "-f", "r\u{e9}ponse@example.org", "alice@example.org"],
    ] {
        let e = h.fails(65, args, msg);
        assert!(
            e.contains("the real sendmail cannot carry UTF-8 addresses"),
            "{args:?}: {e}"
        );
    }
    // explain says what sending would do.
    let out = h
        .cmd()
        .args(["explain", "-i", "jos\u{e9}@ex\u{e4}mple.org"])
        .write_stdin(msg.to_vec())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    // A Postfix that carries them: no warning, and the message goes on to its keys (here
    // a UTF-8 recipient without one: 67, not 65).
    postfix_with_smtputf8(&h, "yes");
    let (code, text) = check(&h);
    assert_eq!(code, 0, "{text}");
    h.fails(67, &["-i", "jos\u{e9}@ex\u{e4}mple.org"], msg);
}

#[test]
fn check_warns_when_postfix_refuses_what_encryption_makes_of_a_default_sized_message() {
    let mut h = H::with_keys(&["alice"], "");
    postfix_with_limit(&h, "10240000");
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    // (10240000 - 16384) * 100 / 137 = 7462493
    assert!(
        text.contains(
            "warning: a message over 7462493 bytes before encryption will be refused by \
             Postfix (message_size_limit = 10240000): encryption makes it about 1.37 times \
             larger; to pass what a default Postfix passes, set message_size_limit = 14045184 \
             or more"
        ),
        "{text}"
    );
    // A limit with room for the growth: a note, all well.
    postfix_with_limit(&h, "14045184");
    let (code, text) = check(&h);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("note: a message over 10240000 bytes before encryption will be refused"),
        "{text}"
    );
    // No limit (0): nothing said.
    postfix_with_limit(&h, "0");
    let (code, text) = check(&h);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("message_size_limit"), "{text}");
    // postconf reads MAIL_CONFIG itself: pgpsendmail passes its environment on.
    let conf = h.dir.path().join("postfix-conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("limit"), "5000000\n").unwrap();
    h.env
        .push(("MAIL_CONFIG".into(), conf.display().to_string()));
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("(message_size_limit = 5000000)"), "{text}");
    // Another flavor: nothing said, even with a postconf beside it.
    h.env.clear();
    postfix_with_limit(&h, "10240000");
    let cfg = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(&h.config, format!("flavor = \"exim\"\n{cfg}")).unwrap();
    let (code, text) = check(&h);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("message_size_limit"), "{text}");
}

#[test]
fn the_documented_growth_holds_for_a_base64_attachment() {
    // A 1 MB base64 body (76-character lines, as mail programs write attachments) grows by
    // at most the factor check uses, plus the fixed overhead.
    let h = H::with_keys(&["alice"], "");
    let mut msg = b"From: me@example.org\nTo: alice@example.org\nSubject: s\nMIME-Version: 1.0\n\
Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        .to_vec();
    let line = [b'Q'; 76];
    for _ in 0..13_000 {
        msg.extend_from_slice(&line);
        msg.push(b'\n');
    }
    let c = h.ok(&["-i", "alice@example.org"], &msg);
    let (before, after) = (msg.len() as u64, c[0].stdin.len() as u64);
    assert!(
        after <= pgpsendmail::admin::limit_for(before),
        "{before} bytes became {after}, over {}",
        pgpsendmail::admin::limit_for(before)
    );
    assert!(
        after * 100 >= before * 135,
        "{before} -> {after}: less growth than documented"
    );
}

#[test]
fn check_looks_at_serve_its_listen_addresses_next_hop_and_limits() {
    // No [serve] section: nothing said about the gateway.
    let h = H::with_keys(&["alice"], "");
    let (code, text) = check(&h);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("serve:"), "{text}");
    // A next hop that takes connections, sane limits: all well.
    let hop = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let relay = hop.local_addr().unwrap().to_string();
    let serve = |more: &str| {
        format!("[serve]\nlisten = [\"127.0.0.1:10025\"]\nrelay = \"{relay}\"\n{more}")
    };
    h.write_config(&serve(""));
    let (code, text) = check(&h);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("serve: listens on 127.0.0.1:10025, at most 20 sessions"),
        "{text}"
    );
    assert!(
        text.contains(&format!("serve: relay {relay} takes connections")),
        "{text}"
    );
    // Nobody there: a warning (mail would be answered 451), not an error.
    drop(hop);
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!(
            "warning: serve: relay {relay} is not reachable now"
        )),
        "{text}"
    );
    // Timeouts under RFC 5321's, a socket in a missing directory: warnings.
    let hop = std::net::TcpListener::bind(&relay).unwrap();
    h.write_config(&serve("command_timeout = 10\ndata_timeout = 5\n"));
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("warning: serve: command_timeout = 10"),
        "{text}"
    );
    assert!(text.contains("warning: serve: data_timeout = 5"), "{text}");
    h.write_config(&format!(
        "[serve]\nlisten = [\"unix:/nonexistent/pgpsendmail/s.sock\"]\nrelay = \"{relay}\"\n"
    ));
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("warning: serve: listen unix:/nonexistent/pgpsendmail/s.sock: its directory"),
        "{text}"
    );
    drop(hop);
    // Beyond loopback: the configuration itself is refused.
    h.write_config("[serve]\nlisten = [\"0.0.0.0:10025\"]\n");
    let (code, text) = check(&h);
    assert_eq!(code, 78, "{text}");
    assert!(text.contains("is not a loopback address"), "{text}");
}

#[test]
fn check_says_whether_the_handoff_smtp_listener_takes_connections() {
    let h = H::with_keys(&["alice"], "");
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    h.write_config(&format!("handoff_smtp = \"{addr}\"\n"));
    let (code, text) = check(&h);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "handoff_smtp: batched copies go to {addr}, which takes connections"
        )),
        "{text}"
    );
    // Nobody there: a warning (sendmail -bs takes the copies meanwhile), not an error.
    drop(l);
    let (code, text) = check(&h);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!(
            "warning: handoff_smtp: {addr} is not reachable now ("
        )),
        "{text}"
    );
}
