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
fn as_nobody(h: &H, args: &[&str], stdin: &[u8]) -> Option<std::process::Output> {
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
