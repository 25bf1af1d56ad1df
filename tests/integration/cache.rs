//! The cache directory (pgpsendmail.toml(5), `cache_dir`): made on first use, for root the
//! system one, for any other user a private one; never one that others could write.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::harness::*;

const MSG: &[u8] = b"From: root@example.org\nTo: alice@example.org\nSubject: s\n\nhello\n";

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: the tests of the cache directory must run"
        );
        eprintln!("SKIPPED: needs root");
    }
    root
}

/// The harness's configuration without a `cache_dir` line, or with `cache_dir`.
fn configure(h: &H, cache_dir: Option<&Path>) {
    let mut text = format!(
        "sendmail = \"{}\"\nkeyring = [\"{}\"]\n",
        stand_in().display(),
        h.keys.display()
    );
    if let Some(d) = cache_dir {
        text += &format!("cache_dir = \"{}\"\n", d.display());
    }
    std::fs::write(&h.config, text).unwrap();
}

fn index_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "idx"))
                .collect()
        })
        .unwrap_or_default()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn check(h: &H) -> String {
    let out = h.cmd().arg("check").output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Runs pgpsendmail as nobody (group nogroup) with the harness's configuration, the
/// default cache directory `default` and `XDG_CACHE_HOME` `xdg`.
fn as_nobody(h: &H, default: &Path, xdg: &Path, args: &[&str]) -> std::process::Output {
    std::fs::set_permissions(&h.capture, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut c = assert_cmd::Command::new("setpriv");
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .env("PGPSENDMAIL_CACHE_DIR", default)
        .env("XDG_CACHE_HOME", xdg)
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("pgpsendmail"))
        .args(args)
        .write_stdin(MSG.to_vec());
    c.output().unwrap()
}

/// A directory owned by nobody with `mode`.
fn nobodys_dir(p: &Path, m: u32) {
    std::fs::create_dir_all(p).unwrap();
    std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

#[test]
fn root_makes_the_default_cache_directory_on_first_use() {
    if !is_root() {
        return;
    }
    let h = H::new();
    configure(&h, None);
    let cache = h.default_cache();
    assert!(!cache.exists());
    h.ok(&["-i", "alice@example.org"], MSG);
    let meta = std::fs::metadata(&cache).unwrap();
    assert!(meta.is_dir());
    assert_eq!((meta.uid(), mode(&cache)), (0, 0o755));
    let idx = index_files(&cache);
    assert_eq!(idx.len(), 1, "the index is in the new directory");
    let built = std::fs::read(&idx[0]).unwrap();
    h.ok(&["-i", "bob@example.org"], MSG);
    assert_eq!(std::fs::read(&idx[0]).unwrap(), built, "and used");
    assert!(!check(&h).contains("no cache directory"));
}

#[test]
fn root_makes_a_configured_cache_dir_that_is_missing() {
    if !is_root() {
        return;
    }
    let h = H::new();
    let cache = h.dir.path().join("configured");
    configure(&h, Some(&cache));
    h.ok(&["-i", "alice@example.org"], MSG);
    assert_eq!(mode(&cache), 0o755);
    assert_eq!(index_files(&cache).len(), 1);
    assert!(
        !h.default_cache().exists(),
        "the configured one, not the default"
    );
}

#[test]
fn without_its_parent_no_cache_is_made_and_check_says_what_it_costs() {
    if !is_root() {
        return;
    }
    let mut h = H::new();
    configure(&h, None);
    // No /var/cache: it is not made up; every source is read whole.
    let missing = h.dir.path().join("var/cache/pgpsendmail");
    h.env.push((
        "PGPSENDMAIL_CACHE_DIR".into(),
        missing.display().to_string(),
    ));
    let c = h.ok(&["-i", "alice@example.org"], MSG);
    c.last().unwrap().open("alice");
    assert!(!h.dir.path().join("var").exists());
    let out = check(&h);
    let want = format!(
        "warning: every message parses {} certificates: no cache directory could be made at {}",
        DEFAULT_KEYS.len(),
        missing.display()
    );
    assert!(out.contains(&want), "{out}");
    // With a cache directory the warning is gone.
    std::fs::create_dir_all(missing.parent().unwrap()).unwrap();
    assert!(!check(&h).contains("no cache directory"));
    assert!(missing.is_dir(), "check made it as a message would");
}

#[test]
fn a_user_other_than_root_gets_a_private_cache() {
    if !is_root() {
        return;
    }
    let h = H::new();
    configure(&h, None);
    let default = h.dir.path().join("var/cache/pgpsendmail");
    let xdg = h.dir.path().join("xdg");
    nobodys_dir(&xdg, 0o700);
    let out = as_nobody(&h, &default, &xdg, &["-i", "alice@example.org"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let private = xdg.join("pgpsendmail");
    let meta = std::fs::metadata(&private).unwrap();
    assert_eq!((meta.uid(), mode(&private)), (65534, 0o700));
    let idx = index_files(&private);
    assert_eq!(idx.len(), 1);
    let built = std::fs::read(&idx[0]).unwrap();
    let out = as_nobody(&h, &default, &xdg, &["-i", "bob@example.org"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read(&idx[0]).unwrap(), built, "used, not rebuilt");
    assert!(!default.exists() && !h.dir.path().join("var").exists());
    assert_eq!(h.captures().len(), 2);
}

#[test]
fn a_private_cache_others_can_write_is_not_used() {
    if !is_root() {
        return;
    }
    let h = H::new();
    configure(&h, None);
    let default = h.dir.path().join("nothing/pgpsendmail");
    // XDG_CACHE_HOME writable by others: nothing is made in it.
    let open = h.dir.path().join("open");
    nobodys_dir(&open, 0o777);
    let out = as_nobody(&h, &default, &open, &["-i", "alice@example.org"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!open.join("pgpsendmail").exists());
    // Its pgpsendmail directory writable by others: no index in it.
    let xdg = h.dir.path().join("xdg");
    nobodys_dir(&xdg, 0o700);
    nobodys_dir(&xdg.join("pgpsendmail"), 0o777);
    let out = as_nobody(&h, &default, &xdg, &["-i", "alice@example.org"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(index_files(&xdg.join("pgpsendmail")).is_empty());
    // And nobody's check says what that costs.
    let out = as_nobody(&h, &default, &xdg, &["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "every message parses {} certificates: no cache directory could be made at {}",
            DEFAULT_KEYS.len(),
            default.display()
        )),
        "{text}"
    );
    assert_eq!(h.captures().len(), 2);
}

// The verdicts an index keeps: a lookup through a fresh index judges (checks the
// signatures of) no certificate it has a verdict for, and any change of the certificate's
// inputs or of the time past the verdict's bound judges it again.

mod verdicts {
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use pgp::ser::Serialize;
    use pgp::types::KeyDetails;
    use pgpsendmail::keys::validity::judgements;
    use pgpsendmail::keys::{Keyring, Unusable, Wanted, parse_certificates};
    use pgpsendmail::message::address::Address;
    use pgpsendmail::message::canonical::LocalCase;

    use crate::harness::keys_dir;

    fn want(email: &str) -> Wanted {
        Wanted {
            emails: HashSet::from([email.to_string()]),
            fingerprints: HashSet::new(),
        }
    }

    /// Loads `email`'s certificates through the index in `cache`; how many were judged.
    fn load(sources: &[PathBuf], cache: &Path, email: &str, now: SystemTime) -> (Keyring, u64) {
        let before = judgements();
        let kr = Keyring::load_for(sources, Some(cache), &want(email), now);
        (kr, judgements() - before)
    }

    /// A key directory holding the test keys `names`, and an empty cache directory.
    fn dirs(names: &[&str]) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let (keys, cache) = (d.path().join("keys"), d.path().join("cache"));
        std::fs::create_dir(&keys).unwrap();
        std::fs::create_dir(&cache).unwrap();
        for k in names {
            std::fs::copy(
                keys_dir().join(format!("{k}.asc")),
                keys.join(format!("{k}.asc")),
            )
            .unwrap();
        }
        (d, keys, cache)
    }

    #[test]
    fn a_cached_verdict_is_used_without_checking_signatures_again() {
        let (_d, keys, cache) = dirs(&["alice", "bob", "carol"]);
        let now = SystemTime::now();
        let src = [keys.clone()];
        let (first, judged) = load(&src, &cache, "alice@example.org", now);
        assert!(judged >= 1, "the first load judges (and builds the index)");
        let (second, judged) = load(&src, &cache, "alice@example.org", now);
        assert_eq!(judged, 0, "the verdict kept in the index is used");
        // The cached verdict is the judgement itself: emails, keys, cipher, expiry, notes.
        let whole = Keyring::load(&src, now);
        let addr = Address::parse_single("alice@example.org").unwrap();
        let alice = whole.by_email(&addr, LocalCase::Ignore).next().unwrap();
        let cached = second.by_email(&addr, LocalCase::Ignore).next().unwrap();
        assert_eq!(format!("{cached:?}"), format!("{alice:?}"));
        assert_eq!(format!("{:?}", first.certs), format!("{:?}", second.certs));
        assert!(cached.usable.is_ok());
    }

    #[test]
    fn a_rebuilt_index_keeps_the_verdicts_of_what_did_not_change() {
        let (_d, keys, cache) = dirs(&["alice", "bob", "dave"]);
        let now = SystemTime::now();
        let src = [keys.clone()];
        let (_, judged) = load(&src, &cache, "alice@example.org", now);
        // Every certificate, for the index; alice's verdict then comes through the new
        // index (the second pass).
        assert_eq!(judged, 3);
        // carol joins: the source changed, its index is rebuilt; only carol is judged.
        std::fs::copy(keys_dir().join("carol.asc"), keys.join("carol.asc")).unwrap();
        let (kr, judged) = load(&src, &cache, "alice@example.org", now);
        assert_eq!(judged, 1);
        assert!(kr.certs[0].usable.is_ok());
        let (kr, judged) = load(&src, &cache, "carol@example.net", now);
        assert_eq!(judged, 0);
        assert!(kr.certs[0].usable.is_ok());
    }

    #[test]
    fn a_verdict_past_its_time_is_judged_again() {
        let (_d, keys, cache) = dirs(&["expired"]);
        let ring = keys.join("expired.asc");
        // The key expires 2 s after it was made (tests/data/keys/mkkeys.sh).
        let bytes = std::fs::read(&ring).unwrap();
        let cert = &parse_certificates(&bytes).unwrap().certs[0];
        let made = UNIX_EPOCH + Duration::from_secs(cert.primary_key.created_at().as_secs().into());
        let src = [keys.clone()];
        let before = made + Duration::from_secs(1);
        let (kr, _) = load(&src, &cache, "expired@example.org", before);
        assert!(kr.certs[0].usable.is_ok(), "{:?}", kr.certs[0].usable);
        let (kr, judged) = load(&src, &cache, "expired@example.org", before);
        assert_eq!(judged, 0);
        assert!(kr.certs[0].usable.is_ok());
        // After the expiry the index is still fresh, but its verdict no longer holds.
        let after = made + Duration::from_secs(3);
        let (kr, judged) = load(&src, &cache, "expired@example.org", after);
        assert_eq!(judged, 1, "judged again");
        assert!(matches!(kr.certs[0].usable, Err(Unusable::Expired(_))));
        // And a time before the verdict was made does not use it either.
        let (_, judged) = load(&src, &cache, "expired@example.org", made);
        assert_eq!(judged, 1);
    }

    #[test]
    fn a_revocation_in_another_source_invalidates_the_cached_verdict() {
        let (d, keys, cache) = dirs(&[]);
        // revoked.asc without its revocation in one source, the revocation alone in another.
        let bytes = std::fs::read(keys_dir().join("revoked.asc")).unwrap();
        let mut cert = parse_certificates(&bytes).unwrap().certs.remove(0);
        let rev = cert.details.revocation_signatures.remove(0);
        std::fs::write(keys.join("revoked.gpg"), cert.to_bytes().unwrap()).unwrap();
        let revs = d.path().join("revs");
        std::fs::create_dir(&revs).unwrap();
        let mut packet = Vec::new();
        pgp::packet::Packet::from(rev)
            .to_writer(&mut packet)
            .unwrap();
        std::fs::write(revs.join("revoked.rev"), packet).unwrap();

        let now = SystemTime::now();
        let one = [keys.clone()];
        load(&one, &cache, "revoked@example.org", now);
        let (kr, judged) = load(&one, &cache, "revoked@example.org", now);
        assert_eq!(judged, 0, "cached while the revocation is elsewhere");
        assert!(kr.certs[0].usable.is_ok());
        // The revocation's source joins: that index knows nothing of the certificate, and
        // the certificate's own index still holds its verdict, for other bytes.
        let both = [keys.clone(), revs.clone()];
        let (kr, judged) = load(&both, &cache, "revoked@example.org", now);
        assert!(judged >= 1, "judged again");
        assert_eq!(kr.certs[0].usable.as_ref().unwrap_err(), &Unusable::Revoked);
        let (kr, _) = load(&both, &cache, "revoked@example.org", now);
        assert_eq!(kr.certs[0].usable.as_ref().unwrap_err(), &Unusable::Revoked);
    }
}
