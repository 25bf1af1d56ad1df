//! Privilege and environment (issue 7, item 4): never set-ID; works with an almost empty
//! environment, HOME=/, an unwritable current directory, stdout and stderr closed; the
//! environment reaches the real sendmail untouched and nothing from the message is added.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::harness::*;

const MSG: &[u8] = b"From: me@example.org\nTo: alice@example.org\nSubject: Walrus-Pepper\n\
X-Env: PATH=/tmp/evil\nX-Env-2: LD_PRELOAD=/tmp/evil.so\n\nWalrus-Pepper body\n";

/// The environment the stand-in recorded for call `n`, as `NAME=VALUE` byte strings.
fn env_of(h: &H, n: usize) -> Vec<Vec<u8>> {
    let raw = std::fs::read(h.capture.join(format!("{n}.env"))).unwrap();
    let mut v: Vec<Vec<u8>> = raw
        .split(|&b| b == 0)
        .filter(|v| !v.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    v.sort();
    v
}

fn bin() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"))
}

fn feed(mut c: Command, input: &[u8]) -> std::process::Output {
    let mut p = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refusal comes before reading: the pipe may be closed already.
    let _ = p.stdin.take().unwrap().write_all(input);
    p.wait_with_output().unwrap()
}

#[test]
fn refuses_to_run_set_uid_or_set_gid() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        // Without root a set-ID copy owned by another user cannot be made.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: the set-ID test must run"
        );
        eprintln!("SKIPPED: refuses_to_run_set_uid_or_set_gid needs root (to chown a copy)");
        return;
    }
    let h = H::new();
    // Set-ID bits only work outside nosuid mounts (/tmp often is one): the copies go under
    // target/.
    let place = tempfile::tempdir_in(Path::new(ROOT).join("target")).unwrap();
    let c = std::ffi::CString::new(place.path().to_str().unwrap()).unwrap();
    // SAFETY: statvfs fills the zeroed struct we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
    if st.f_flag & libc::ST_NOSUID != 0 {
        eprintln!("SKIPPED: refuses_to_run_set_uid_or_set_gid: target/ is on a nosuid mount");
        return;
    }
    for (mode, what) in [(0o4755, "set-uid"), (0o2755, "set-gid")] {
        let copy = place.path().join(format!("sendmail-{mode:o}"));
        // Owned by nobody (65534), so that the set-ID bit changes the ids.
        install_executable(
            &assert_cmd::cargo::cargo_bin("pgpsendmail"),
            &copy,
            &format!("{mode:o}"),
            Some("65534:65534"),
        );
        let mut cmd = Command::new(&copy);
        cmd.env("PGPSENDMAIL_CONFIG", &h.config)
            .env("STAND_IN_DIR", &h.capture)
            .args(["-i", "alice@example.org"]);
        let out = feed(cmd, MSG);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("refusing to run set-uid or set-gid"), "{err}");
        assert!(h.captures().is_empty(), "{what}: something was handed on");
    }
}

#[test]
fn an_almost_empty_environment_is_passed_on_exactly() {
    // Only the two variables the test itself needs (no PATH, HOME, USER, LANG, TMPDIR).
    let h = H::new();
    let mut c = bin();
    c.env_clear()
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .args(["-i", "alice@example.org", "bob@example.org"]);
    let out = feed(c, MSG);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = vec![
        format!("PGPSENDMAIL_CONFIG={}", h.config.display()).into_bytes(),
        format!("STAND_IN_DIR={}", h.capture.display()).into_bytes(),
    ];
    // Both the spawned copies: nothing added, nothing removed.
    assert_eq!(env_of(&h, 1), want);
    assert_eq!(env_of(&h, 2), want);
}

#[test]
fn the_environment_is_passed_on_untouched_and_nothing_from_the_message_is_added() {
    // Odd but legal variables, one not UTF-8, one empty, one with '=' in its value; one
    // copy (exec) and two copies (spawned).
    let h = H::new();
    for rcpts in [
        &["alice@example.org"][..],
        &["alice@example.org", "bob@example.org"],
    ] {
        let before = h.captures().len();
        let mut c = bin();
        c.env_clear()
            .env("PGPSENDMAIL_CONFIG", &h.config)
            .env("STAND_IN_DIR", &h.capture)
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", "/home/someone")
            .env("EMPTY", "")
            .env("EQUALS", "a=b=c")
            .env("LATIN1", OsStr::from_bytes(b"caf\xe9"))
            .env("LANG", "C.UTF-8")
            .arg("-i")
            .args(rcpts);
        let out = feed(c, MSG);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut want: Vec<Vec<u8>> = [
            format!("PGPSENDMAIL_CONFIG={}", h.config.display()).into_bytes(),
            format!("STAND_IN_DIR={}", h.capture.display()).into_bytes(),
            b"PATH=/usr/bin:/bin".to_vec(),
            b"HOME=/home/someone".to_vec(),
            b"EMPTY=".to_vec(),
            b"EQUALS=a=b=c".to_vec(),
            b"LATIN1=caf\xe9".to_vec(),
            b"LANG=C.UTF-8".to_vec(),
        ]
        .to_vec();
        want.sort();
        for n in before + 1..=h.captures().len() {
            let got = env_of(&h, n);
            assert_eq!(got, want, "copy {n}");
            for v in &got {
                assert!(!contains(v, b"Walrus"), "message text in the environment");
                assert!(!contains(v, b"evil"), "message text in the environment");
            }
        }
    }
}

#[test]
fn home_is_root_and_the_current_directory_is_unwritable() {
    // /proc is not writable even for root; HOME=/ like a daemon's.
    let h = H::new();
    let mut c = bin();
    c.env_clear()
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .env("HOME", "/")
        .current_dir("/proc")
        .args(["-i", "alice@example.org", "bob@example.org"]);
    let out = feed(c, MSG);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let caps = h.captures();
    assert_eq!(caps.len(), 2);
    caps[0].open("alice");
    caps[1].open("bob");
}

#[test]
fn stdout_and_stderr_closed_as_sudo_may_run_the_mailer() {
    // fds 1 and 2 closed in the child: pgpsendmail opens /dev/null on them, so neither the
    // ciphertext file nor anything else lands on 1 or 2 of the real sendmail.
    for (rcpts, code) in [
        (&["alice@example.org"][..], Some(0)),
        (&["alice@example.org", "bob@example.org"], Some(0)),
        (&["nobody@example.org"], Some(67)),
    ] {
        let h = H::new();
        let mut c = bin();
        c.env_clear()
            .env("PGPSENDMAIL_CONFIG", &h.config)
            .env("STAND_IN_DIR", &h.capture)
            .arg("-i")
            .args(rcpts)
            .stdin(Stdio::piped());
        // SAFETY: close() between fork and exec.
        unsafe {
            c.pre_exec(|| {
                libc::close(1);
                libc::close(2);
                Ok(())
            });
        }
        let mut p = c.spawn().unwrap();
        let _ = p.stdin.take().unwrap().write_all(MSG);
        let st = p.wait().unwrap();
        assert_eq!(st.code(), code, "{rcpts:?}");
        let caps = h.captures();
        if code == Some(0) {
            assert_eq!(caps.len(), rcpts.len());
            for (n, r) in rcpts.iter().enumerate() {
                caps[n].open(r.split('@').next().unwrap());
                let fds =
                    std::fs::read_to_string(h.capture.join(format!("{}.fds", n + 1))).unwrap();
                assert!(fds.contains("1 /dev/null\n"), "{fds}");
                assert!(fds.contains("2 /dev/null\n"), "{fds}");
            }
        } else {
            assert!(caps.is_empty());
        }
    }
}
