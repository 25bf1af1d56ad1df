//! pgpsendmail(8) EXIT STATUS: every exit code pgpsendmail gives itself, each with nothing
//! handed on and one line on stderr. (70 is a panic, which no input should cause; its
//! mapping is a unit test in src/error.rs.)

use std::process::Stdio;

use crate::harness::*;

const MSG: &[u8] = b"From: me@example.org\nTo: alice@example.org\nSubject: s\n\nbody\n";

#[test]
fn ex_usage_64() {
    let h = H::new();
    h.fails(64, &["--bogus", "alice@example.org"], MSG);
    h.fails(64, &["-C", "/etc/mail.cf", "alice@example.org"], MSG);
    h.fails(64, &["-bt"], MSG);
    h.fails(64, &["not an address <"], MSG);
}

#[test]
fn ex_dataerr_65_nul_in_headers_and_oversized_header_section() {
    let h = H::new();
    h.fails(
        65,
        &["alice@example.org"],
        b"To: alice@example.org\nX-A: a\0b\n\nx\n",
    );
    let mut big = b"To: alice@example.org\n".to_vec();
    for _ in 0..20_000 {
        big.extend_from_slice(
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        );
    }
    big.extend_from_slice(b"\nbody\n");
    let e = h.fails(65, &["alice@example.org"], &big);
    assert!(e.contains("header section"), "{e}");
}

#[test]
fn ex_dataerr_65_unparsable_recipient_field_under_t() {
    let h = H::new();
    h.fails(65, &["-t"], b"To: alice@example.org bob@example.org\n\nx\n");
}

/// Runs pgpsendmail with `args` and `stdin` as its standard input; asserts exit 66, one
/// line on stderr and nothing handed on. Returns that line.
fn noinput(h: &H, args: &[&str], stdin: impl Into<Stdio>) -> String {
    let out = h.std_cmd().args(args).stdin(stdin).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(66), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("pgpsendmail: "), "{err}");
    assert!(h.captures().is_empty(), "{args:?}: something was handed on");
    err
}

#[test]
fn ex_noinput_66_unreadable_stdin() {
    let h = H::new();
    // A directory as standard input: every read fails with EISDIR.
    noinput(
        &h,
        &["-i", "alice@example.org"],
        std::fs::File::open("/").unwrap(),
    );
}

/// pgpsendmail(8), INPUT: standard input opened write-only (`0>file`) fails every read
/// with EBADF, which the standard library's stdin takes for end of file: an encrypted
/// empty message went out with exit 0. Now 66 and nothing handed on, in every mode that
/// reads it.
#[test]
fn ex_noinput_66_stdin_opened_write_only_in_every_mode() {
    let h = H::new();
    let file = h.dir.path().join("written");
    let write_only = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&file)
            .unwrap()
    };
    for args in [
        &["alice@example.org"][..],
        &["-i", "alice@example.org"],
        &["-bm", "root"],
        &["-t"],
        &["-t", "-i"],
        &["-bs"],
    ] {
        let e = noinput(&h, args, write_only());
        assert!(e.contains("standard input"), "{args:?}: {e}");
    }
    // explain exits with the status sending would end with.
    let out = h
        .std_cmd()
        .args(["explain", "alice@example.org"])
        .stdin(write_only())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(66), "{out:?}");
    // -bv reads no message (its real sendmail gets /dev/null): unaffected.
    let out = h
        .std_cmd()
        .args(["-bv", "alice@example.org"])
        .stdin(write_only())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(h.captures()[0].args(), ["-bv", "--", "alice@example.org"]);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"",
        "nothing written to stdin"
    );
}

/// pgpsendmail(8), INPUT: a closed standard input (`0<&-`) read as an empty message, since
/// the runtime opens /dev/null on a closed descriptor 0 before main: an encrypted empty
/// message went out with exit 0. Now 66 and nothing handed on; -bv, which reads no message,
/// still runs.
#[test]
fn ex_noinput_66_stdin_closed() {
    let closed = |h: &H, args: &[&str]| {
        std::process::Command::new("/bin/sh")
            .env_clear()
            .envs(h.envs())
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 0<&-")
            .arg(h.std_cmd().get_program())
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        &["alice@example.org"][..],
        &["-i", "alice@example.org"],
        &["-t"],
        &["-bs"],
    ] {
        let h = H::new();
        let out = closed(&h, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(66), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "not one line: {err}");
        assert!(err.contains("standard input"), "{args:?}: {err}");
        assert!(h.captures().is_empty(), "{args:?}: something was handed on");
    }
    let h = H::new();
    let out = closed(&h, &["-bv", "alice@example.org"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(h.captures()[0].args(), ["-bv", "--", "alice@example.org"]);
}

#[test]
fn ex_nouser_67_names_recipient_and_reason() {
    let h = H::new();
    let e = h.fails(67, &["-i", "alice@example.org", "expired@example.org"], MSG);
    assert!(e.contains("expired@example.org"), "{e}");
    assert!(!e.contains("body"), "message content in the error");
}

#[test]
fn ex_unavailable_69_real_sendmail_missing_or_not_executable() {
    let h = H::new();
    std::fs::write(
        &h.config,
        format!(
            "sendmail = \"/nonexistent/sendmail\"\nkeyring = [\"{}\"]\n",
            h.keys.display()
        ),
    )
    .unwrap();
    h.fails(69, &["-i", "alice@example.org"], MSG);
    let plain = h.dir.path().join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    std::fs::write(
        &h.config,
        format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\n",
            plain.display(),
            h.keys.display()
        ),
    )
    .unwrap();
    h.fails(69, &["-i", "alice@example.org"], MSG);
}

#[test]
fn ex_config_78_broken_configuration() {
    let h = H::new();
    for bad in [
        "flavor = \"qmail\"\n",
        "unknown_setting = 1\n",
        "sendmail = 5\n",
        "keyring = \"not-a-list\"\n",
        "[recipients]\n\"root\" = { key = \"123\" }\n",
        "missing_key = \"sometimes\"\n",
        "this is not toml\n",
    ] {
        std::fs::write(&h.config, bad).unwrap();
        let e = h.fails(78, &["-i", "alice@example.org"], MSG);
        assert!(
            e.contains(&h.config.display().to_string()),
            "file not named: {e}"
        );
    }
    std::fs::write(&h.config, b"subject = \"\xff\"\n").unwrap();
    h.fails(78, &["-i", "alice@example.org"], MSG);
    let dir_cfg = h.dir.path().join("cfgdir");
    std::fs::create_dir(&dir_cfg).unwrap();
    let out = h
        .cmd()
        .env("PGPSENDMAIL_CONFIG", &dir_cfg)
        .args(["-i", "alice@example.org"])
        .write_stdin(MSG)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let out = h
        .cmd()
        .env("PGPSENDMAIL_CONFIG", h.dir.path().join("missing.toml"))
        .args(["-i", "alice@example.org"])
        .write_stdin(MSG)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
}

#[test]
fn ex_config_78_real_sendmail_is_pgpsendmail() {
    let h = H::new();
    let me = assert_cmd::cargo::cargo_bin("pgpsendmail");
    let link = h.dir.path().join("sendmail-link");
    std::os::unix::fs::symlink(&me, &link).unwrap();
    let hard = h.dir.path().join("sendmail-hard");
    let hard_ok = std::fs::hard_link(&me, &hard).is_ok();
    let mut targets = vec![me.clone(), link];
    if hard_ok {
        targets.push(hard);
    }
    for target in targets {
        std::fs::write(
            &h.config,
            format!(
                "sendmail = \"{}\"\nkeyring = [\"{}\"]\n",
                target.display(),
                h.keys.display()
            ),
        )
        .unwrap();
        let e = h.fails(78, &["-i", "alice@example.org"], MSG);
        assert!(e.contains("pgpsendmail itself"), "{e}");
    }
}

#[test]
fn help_and_version_work_with_a_broken_configuration() {
    let h = H::new();
    std::fs::write(&h.config, "broken = [").unwrap();
    for a in ["--help", "--version", "help"] {
        let out = h.cmd().arg(a).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{a}");
        assert!(!out.stdout.is_empty());
    }
    let out = h.cmd().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for o in pgpsendmail::sendmail::args::OPTIONS {
        assert!(
            text.contains(&format!("  -{}", o.letter)),
            "--help lacks -{}",
            o.letter
        );
    }
    assert!(text.contains("check"));
}

#[test]
fn check_reports_configuration_and_keys() {
    let h = H::with_keys(&["alice", "expired"], "");
    let out = h.cmd().arg("check").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("expired"), "{text}");
    let h = H::with_keys(&["alice"], "");
    let out = h.cmd().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    std::fs::write(&h.config, "bogus = 1\n").unwrap();
    let out = h.cmd().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(78));
}

#[test]
fn no_recipients_fails_before_reading_input() {
    let h = H::new();
    let mut p = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"))
        .env_clear()
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .arg("-oi")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Standard input stays open and empty: pgpsendmail must not wait for it.
    let _keep_open = p.stdin.take();
    let start = std::time::Instant::now();
    while p.try_wait().unwrap().is_none() {
        assert!(start.elapsed().as_secs() < 60, "waited for standard input");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(p.wait().unwrap().code(), Some(64));
}

#[test]
fn ex_oserr_71_no_file_for_the_ciphertext() {
    // Four descriptors: 0-2 and one more; the second copy's file cannot be created. (A
    // first run builds the key index, so that the limited run reads keys through it.)
    let h = H::new();
    h.ok(&["-i", "bob@example.org"], b"To: bob@example.org\n\nx\n");
    let out = run_limited(
        &h,
        libc::RLIMIT_NOFILE,
        4,
        &["-i", "bob@example.org", "alice@example.org"],
        b"To: bob@example.org\n\nx\n",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(71), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(h.captures().len(), 1, "only the first run handed on");
}

#[test]
fn ex_ioerr_74_ciphertext_cannot_be_written() {
    // Files may not grow past 64 KiB: writing the ciphertext of a larger message fails.
    let h = H::new();
    let mut msg = b"To: bob@example.org\nContent-Type: text/plain\n\n".to_vec();
    msg.extend(std::iter::repeat_n(b'x', 300_000));
    let out = run_limited(
        &h,
        libc::RLIMIT_FSIZE,
        64 * 1024,
        &["-i", "bob@example.org"],
        &msg,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(h.captures().is_empty());
    assert!(!err.contains("xxxx"), "message content in the error");
}

#[test]
fn check_into_a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    let h = H::with_keys(&["alice"], "");
    // More warnings than a pipe holds (64 KiB), so that writing really meets the closed pipe.
    for i in 0..2000 {
        std::fs::write(h.keys.join(format!("broken-{i:04}.asc")), "not a key\n").unwrap();
    }
    let mut p = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"))
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .arg("check")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(p.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The pipe is closed now (like `check | head -1`).
    let out = p.wait_with_output().unwrap();
    assert!(first.starts_with("configuration:"), "{first}");
    assert!(
        out.status.code() != Some(70),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("internal error"));
}

#[test]
fn a_closed_stderr_pipe_does_not_stop_delivery() {
    // A warning (a broken key file) written to a stderr nobody reads: the message still
    // goes out, and pgpsendmail does not die on EPIPE.
    let h = H::with_keys(&["alice"], "");
    std::fs::write(h.keys.join("broken.asc"), "not a key\n").unwrap();
    let (r, w) = {
        let mut fds = [0; 2];
        // SAFETY: pipe() fills two new descriptors that we own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        use std::os::fd::FromRawFd;
        unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        }
    };
    drop(r);
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"))
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .args(["-i", "alice@example.org"])
        .stdin(Stdio::from(
            std::fs::File::open(h.dir.path().join("pgpsendmail.toml")).unwrap(),
        ))
        .stderr(Stdio::from(w))
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(0));
    assert_eq!(h.captures().len(), 1);
}

#[test]
fn the_real_sendmail_inherits_only_descriptors_0_to_2() {
    // docs/interface.md section 6, item 5: a descriptor the caller left open (here 9, without close-on-exec) is not
    // passed on, whether the copy is exec'ed (one copy) or spawned (two copies).
    use std::os::unix::process::CommandExt;
    let h = H::new();
    for rcpts in [
        &["bob@example.org"][..],
        &["bob@example.org", "carol@example.net"],
    ] {
        let before = h.captures().len();
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"));
        cmd.env("PGPSENDMAIL_CONFIG", &h.config)
            .env("STAND_IN_DIR", &h.capture)
            .env("STAND_IN_CHECK_FD", "9")
            .arg("-i")
            .args(rcpts)
            .stdin(std::fs::File::open(h.config.as_path()).unwrap());
        let leak = std::fs::File::open("/dev/null").unwrap();
        let leak_fd = std::os::fd::AsRawFd::as_raw_fd(&leak);
        // SAFETY: dup2 between fork and exec; the new fd 9 has no close-on-exec flag.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(leak_fd, 9) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        assert!(cmd.status().unwrap().success());
        let after = h.captures().len();
        assert_eq!(after - before, rcpts.len());
        for n in before + 1..=after {
            let state = std::fs::read_to_string(h.capture.join(format!("{n}.fd"))).unwrap();
            assert_eq!(state, "closed\n", "copy {n}: descriptor 9 was passed on");
        }
    }
}

#[test]
fn a_refusal_puts_a_seekable_stdin_back_where_it_started() {
    // mailx and many daemons hand the message over as a file and, after a failure, save it
    // from the file's offset (dead.letter): a refusal must leave that offset where it was.
    // A message sent is consumed, as a real sendmail leaves it.
    use std::io::{Seek, SeekFrom, Write};
    let h = H::new();
    for (to, code) in [("nokey@example.org", 67), ("alice@example.org", 0)] {
        let mut f = tempfile::tempfile().unwrap();
        write!(f, "xx\nTo: {to}\nSubject: s\n\nbody\n").unwrap();
        let end = f.stream_position().unwrap();
        f.seek(SeekFrom::Start(3)).unwrap();
        // The child's stdin shares this open file, and so its offset.
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"))
            .env_clear()
            .env("PGPSENDMAIL_CONFIG", &h.config)
            .env("STAND_IN_DIR", &h.capture)
            .args(["-i", to])
            .stdin(f.try_clone().unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code));
        let want = if code == 0 { end } else { 3 };
        assert_eq!(f.stream_position().unwrap(), want, "after exit {code}");
    }
}
