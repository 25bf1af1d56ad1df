//! The test harness: a temporary tree with a configuration, a key directory and the
//! stand-in sendmail (examples/stand_in_sendmail.rs), and helpers to run pgpsendmail as a caller
//! would and to open what reached the real sendmail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use pgpsendmail::openpgp::decrypt;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

pub fn keys_dir() -> PathBuf {
    Path::new(ROOT).join("tests/data/keys")
}

/// The configuration line of one run of the real sendmail per copy (pgpsendmail.toml(5),
/// `batch_copies`), for the tests of what each run gets.
pub const PER_COPY: &str = "batch_copies = 0\n";

/// The stand-in sendmail (examples/stand_in_sendmail.rs), built beside pgpsendmail.
pub fn stand_in() -> PathBuf {
    let bin = assert_cmd::cargo::cargo_bin("pgpsendmail");
    let p = bin.parent().unwrap().join("examples/stand_in_sendmail");
    assert!(
        p.exists(),
        "{} is missing: run 'cargo build --examples' first (make test does)",
        p.display()
    );
    p
}

/// Fingerprints of the committed test keys, from tests/data/keys/fingerprints.txt.
pub fn fingerprint(name: &str) -> String {
    let text = std::fs::read_to_string(keys_dir().join("fingerprints.txt")).unwrap();
    let map: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once(' ')).collect();
    map.get(name)
        .unwrap_or_else(|| panic!("no test key {name}"))
        .to_string()
}

/// The 16-hex-digit key IDs of every subkey of a test key, as gpg shows them.
pub fn key_ids(name: &str) -> Vec<String> {
    use pgp::composed::{Deserializable, SignedPublicKey};
    use pgp::types::KeyDetails;
    let f = std::fs::File::open(keys_dir().join(format!("{name}.asc"))).unwrap();
    let (k, _) = SignedPublicKey::from_reader_single(f).unwrap();
    let mut ids = vec![hex(k.primary_key.legacy_key_id().as_ref())];
    ids.extend(
        k.public_subkeys
            .iter()
            .map(|s| hex(s.key.legacy_key_id().as_ref())),
    );
    ids
}

/// What a PKESK to test key `name` may name: the key IDs of its keys (v3 PKESK) and their
/// fingerprints (v6 PKESK).
pub fn pkesk_names(name: &str) -> Vec<String> {
    use pgp::composed::{Deserializable, SignedPublicKey};
    use pgp::types::KeyDetails;
    let f = std::fs::File::open(keys_dir().join(format!("{name}.asc"))).unwrap();
    let (k, _) = SignedPublicKey::from_reader_single(f).unwrap();
    let mut out = key_ids(name);
    out.push(hex(k.primary_key.fingerprint().as_bytes()));
    out.extend(
        k.public_subkeys
            .iter()
            .map(|s| hex(s.key.fingerprint().as_bytes())),
    );
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Installs `from` as the executable `to` with `mode` (and owner `owner`, a user:group
/// name), by `install(1)` in a child process. Writing an executable from the test process
/// and then running it races with the other tests: a child they fork in between inherits
/// the write descriptor until it execs, and running the file fails with ETXTBSY ("Text file
/// busy"). The child's descriptor is never shared with a sibling.
pub fn install_executable(from: &Path, to: &Path, mode: &str, owner: Option<&str>) {
    let mut c = StdCommand::new("install");
    c.args(["-m", mode]);
    if let Some(o) = owner {
        let (user, group) = o.split_once(':').unwrap_or((o, o));
        c.args(["-o", user, "-g", group]);
    }
    let out = c.arg(from).arg(to).output().unwrap();
    assert!(
        out.status.success(),
        "install {} {}: {}",
        from.display(),
        to.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A shell script `text` as the executable `path` (mode 0755), safe to run at once (see
/// [`install_executable`]).
pub fn write_script(path: &Path, text: &str) {
    let src = path.with_extension("source");
    std::fs::write(&src, text).unwrap();
    install_executable(&src, path, "0755", None);
}

/// Gives the child default SIGINT, SIGQUIT and SIGTERM dispositions, as a caller such as
/// Nodemailer starts sendmail. A test runner started as a background job of a shell without
/// job control ignores SIGINT and SIGQUIT, and its children would inherit that.
pub fn default_signals(c: &mut StdCommand) -> &mut StdCommand {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal() is async-signal-safe; only the child's dispositions change.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    c
}

/// What the stand-in sendmail recorded for one call.
#[derive(Debug, Clone)]
pub struct Capture {
    pub argv: Vec<String>,
    pub stdin: Vec<u8>,
}

impl Capture {
    /// The arguments after argv[0].
    pub fn args(&self) -> Vec<&str> {
        self.argv[1..].iter().map(String::as_str).collect()
    }

    /// The recipients after `--`.
    pub fn rcpts(&self) -> Vec<&str> {
        let a = self.args();
        let i = a.iter().position(|x| *x == "--").expect("-- downstream");
        a[i + 1..].to_vec()
    }

    /// What is readable without a key: the bytes handed on with the armored ciphertext
    /// lines taken out (base64 can spell any short word by chance, like "Bcc").
    pub fn cleartext(&self) -> Vec<u8> {
        let text = String::from_utf8_lossy(&self.stdin);
        let mut out = String::new();
        let mut inside = false;
        for line in text.split_inclusive('\n') {
            if line.starts_with("-----BEGIN PGP MESSAGE-----") {
                inside = true;
            } else if line.starts_with("-----END PGP MESSAGE-----") {
                inside = false;
            } else if inside {
                continue;
            }
            out.push_str(line);
        }
        out.into_bytes()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.stdin.clone()).expect("output is ASCII")
    }

    /// The outer header section (up to the first empty line).
    pub fn outer_header(&self) -> String {
        let t = self.text();
        t.split("\n\n").next().unwrap_or("").to_string()
    }

    /// Decrypts with the secret key of test key `name`.
    pub fn open(&self, name: &str) -> decrypt::Opened {
        let key = decrypt::secret_key(&keys_dir().join(format!("{name}.sec.asc"))).unwrap();
        decrypt::open(&self.stdin, &key).unwrap_or_else(|e| panic!("decrypt as {name}: {e}"))
    }

    /// The original body as the payload carries it, decrypted with `name`'s key.
    pub fn body(&self, name: &str) -> Vec<u8> {
        payload_parts(&self.open(name).payload).2
    }

    pub fn try_open(&self, name: &str) -> Result<decrypt::Opened, String> {
        let key = decrypt::secret_key(&keys_dir().join(format!("{name}.sec.asc"))).unwrap();
        decrypt::open(&self.stdin, &key)
    }
}

/// A temporary installation: config, keys, the stand-in sendmail.
pub struct H {
    pub dir: tempfile::TempDir,
    pub capture: PathBuf,
    pub keys: PathBuf,
    pub config: PathBuf,
    pub exit: i32,
    pub env: Vec<(String, String)>,
}

pub const DEFAULT_KEYS: &[&str] = &["alice", "bob", "carol", "dave", "ops", "gateway"];

impl H {
    /// Keys of alice, bob, carol, dave, ops and gateway; `root` aliased to ops.
    pub fn new() -> H {
        Self::with_keys(
            DEFAULT_KEYS,
            "[recipients]\n\"root\" = { alias = \"ops@example.org\" }\n",
        )
    }

    /// The public certificates `keys` in the key directory, and `extra` configuration.
    pub fn with_keys(keys: &[&str], extra: &str) -> H {
        let dir = tempfile::tempdir().unwrap();
        // 0755, as /etc/pgpsendmail is: `check` warns about a key or configuration that
        // other users could not reach.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let capture = dir.path().join("capture");
        let kd = dir.path().join("keys");
        std::fs::create_dir_all(&capture).unwrap();
        std::fs::create_dir_all(&kd).unwrap();
        for k in keys {
            std::fs::copy(
                keys_dir().join(format!("{k}.asc")),
                kd.join(format!("{k}.asc")),
            )
            .unwrap();
        }
        let h = H {
            config: dir.path().join("pgpsendmail.toml"),
            dir,
            capture,
            keys: kd,
            exit: 0,
            env: Vec::new(),
        };
        h.write_config(extra);
        // check reads the local users from here (PGPSENDMAIL_PASSWD), not from the machine's
        // /etc/passwd: none unless a test writes some.
        std::fs::write(h.passwd(), "").unwrap();
        h
    }

    /// The default cache directory of its runs (`PGPSENDMAIL_CACHE_DIR`): made by the first
    /// run as root whose configuration names no `cache_dir`.
    pub fn default_cache(&self) -> PathBuf {
        self.dir.path().join("default-cache")
    }

    /// The password database `check` reads (empty unless a test writes it).
    pub fn passwd(&self) -> PathBuf {
        self.dir.path().join("passwd")
    }

    /// Rewrites the configuration: sendmail, keyring and cache_dir lines, then `extra`.
    /// (With a cache directory every message goes through the key index.) One run of the
    /// stand-in per copy (`batch_copies = 0`), which the tests of each run's argv and faults
    /// need, unless `extra` sets `batch_copies` (the tests of one `-bs` run for many copies).
    pub fn write_config(&self, extra: &str) {
        let cache = self.dir.path().join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        let text = format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\ncache_dir = \"{}\"\n{}{extra}",
            stand_in().display(),
            self.keys.display(),
            cache.display(),
            if extra.contains("batch_copies") {
                ""
            } else {
                PER_COPY
            }
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// Rewrites the configuration to name `program` as the real sendmail (with the same key
    /// directory, no cache directory and no flavor: it is inferred from the name).
    pub fn use_sendmail(&self, program: &Path) {
        let text = format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\n{PER_COPY}",
            program.display(),
            self.keys.display()
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// The whole environment of its runs.
    pub fn envs(&self) -> Vec<(String, String)> {
        let path = |p: PathBuf| p.display().to_string();
        let mut v = vec![
            ("PATH".into(), "/usr/bin:/bin".into()),
            ("PGPSENDMAIL_CONFIG".into(), path(self.config.clone())),
            ("STAND_IN_DIR".into(), path(self.capture.clone())),
            ("STAND_IN_EXIT".into(), self.exit.to_string()),
            ("PGPSENDMAIL_PASSWD".into(), path(self.passwd())),
            // Not the machine's /var/cache/pgpsendmail, which root would make on first use.
            ("PGPSENDMAIL_CACHE_DIR".into(), path(self.default_cache())),
            // Nor its /var/lib/pgpsendmail/discovered, which would be a key source.
            (
                "PGPSENDMAIL_DISCOVERED_DIR".into(),
                path(self.dir.path().join("discovered")),
            ),
        ];
        v.extend(self.env.iter().cloned());
        v
    }

    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// [`H::cmd`] as a `std::process::Command`, for a run whose standard input is a
    /// descriptor of the test's choosing.
    pub fn std_cmd(&self) -> StdCommand {
        let mut c = StdCommand::new(assert_cmd::cargo::cargo_bin("pgpsendmail"));
        c.env_clear().envs(self.envs());
        c
    }

    /// [`H::cmd`] as a std `Command` with default signal dispositions, to start
    /// pgpsendmail as a process the test keeps running (`serve`).
    pub fn spawn_cmd(&self) -> StdCommand {
        let mut c = self.std_cmd();
        default_signals(&mut c);
        c
    }

    /// Runs pgpsendmail with `args` and `stdin`.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.cmd()
            .args(args)
            .write_stdin(stdin.to_vec())
            .output()
            .unwrap()
    }

    /// Runs and asserts success (exit 0, nothing on stderr but warnings).
    pub fn ok(&self, args: &[&str], stdin: &[u8]) -> Vec<Capture> {
        let out = self.run(args, stdin);
        assert_eq!(
            out.status.code(),
            Some(0),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.captures()
    }

    /// Runs and asserts the exit code, that nothing reached the real sendmail, and that
    /// stderr is one line starting with "pgpsendmail: ". Returns that line.
    pub fn fails(&self, code: i32, args: &[&str], stdin: &[u8]) -> String {
        let before = self.captures().len();
        let out = self.run(args, stdin);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(code), "stderr: {err}");
        assert_eq!(self.captures().len(), before, "something was handed on");
        assert_eq!(err.lines().count(), 1, "not one line: {err}");
        assert!(err.starts_with("pgpsendmail: "), "{err}");
        err
    }

    /// Call N's file `ext` in the stand-in's capture directory (`None`: not written).
    pub fn call_file(&self, n: usize, ext: &str) -> Option<String> {
        std::fs::read_to_string(self.capture.join(format!("{n}.{ext}"))).ok()
    }

    /// The RCPT TO addresses of the stand-in's `-bs` transaction N.
    pub fn smtp_rcpts(&self, n: usize) -> Vec<String> {
        self.call_file(n, "smtp")
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("RCPT TO:<")?.strip_suffix('>'))
            .map(String::from)
            .collect()
    }

    /// Every call the stand-in sendmail recorded, in order.
    pub fn captures(&self) -> Vec<Capture> {
        let mut out = Vec::new();
        for n in 1.. {
            let argv = self.capture.join(format!("{n}.argv"));
            if !argv.exists() {
                break;
            }
            out.push(Capture {
                argv: std::fs::read_to_string(argv)
                    .unwrap()
                    .lines()
                    .map(String::from)
                    .collect(),
                stdin: std::fs::read(self.capture.join(format!("{n}.stdin"))).unwrap(),
            });
        }
        out
    }
}

/// The child entity of a payload: the payload root's header, the child's header, and its
/// body up to the closing boundary, without the Legacy Display Element that leads a part
/// marked `hp-legacy-display="1"` (rule 20; see [`legacy_display`]), as an RFC 9788 reader
/// shows it.
pub fn payload_parts(payload: &[u8]) -> (String, Vec<u8>, Vec<u8>) {
    let (root, child_header, body) = payload_parts_raw(payload);
    let body = match legacy_display(&child_header, &body) {
        Some(lde) => body[lde.len()..].to_vec(),
        None => body,
    };
    (root, child_header, body)
}

/// The Legacy Display Element that leads `body` when `child_header` marks one (and the part
/// is not base64): its `Name: value` lines (folds kept) and the empty line after them.
/// Panics when the mark is there and the element is not well formed.
pub fn legacy_display(child_header: &[u8], body: &[u8]) -> Option<String> {
    let header = String::from_utf8_lossy(child_header);
    if !header.contains("hp-legacy-display=\"1\"") || header.contains("base64") {
        return None;
    }
    let end = find(body, b"\r\n\r\n").expect("a legacy display ends in an empty line") + 4;
    let lde = String::from_utf8(body[..end].to_vec()).expect("legacy display is UTF-8");
    for line in lde.trim_end().split("\r\n") {
        let field = line.starts_with(' ')
            || line.split_once(": ").is_some_and(|(n, _)| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        assert!(field, "not a header line in the legacy display: {line:?}");
    }
    Some(lde)
}

/// [`payload_parts`] with the child's body as it is (a Legacy Display Element included).
pub fn payload_parts_raw(payload: &[u8]) -> (String, Vec<u8>, Vec<u8>) {
    let text = payload;
    let hdr_end = find(text, b"\r\n\r\n").expect("payload header end");
    let root_header = String::from_utf8(text[..hdr_end + 2].to_vec()).unwrap();
    let b = root_header
        .split("boundary=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("boundary")
        .to_string();
    let open = format!("--{b}\r\n");
    let start = find(text, open.as_bytes()).expect("first boundary") + open.len();
    let child = &text[start..];
    let child_hdr_end = find(child, b"\r\n\r\n").expect("child header end");
    let child_header = child[..child_hdr_end + 2].to_vec();
    let close = format!("\r\n--{b}--\r\n");
    let body_start = child_hdr_end + 4;
    let body_end = find(child, close.as_bytes()).expect("closing boundary");
    assert!(
        child.ends_with(close.as_bytes()),
        "text after the closing boundary"
    );
    (
        root_header,
        child_header,
        child[body_start..body_end].to_vec(),
    )
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// LF → CRLF, for comparing an input body with the payload's canonical form.
pub fn crlf(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = 0u8;
    for &b in s {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// `program` if `program ARG` runs, or `None` (a loud skip) outside CI; under CI=true a
/// missing program fails the test. `what` names the test that would not run.
fn program(program: &'static str, arg: &str, install: &str, what: &str) -> Option<&'static str> {
    let found = StdCommand::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(program);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{program} is not installed, and CI=true: {install}");
    }
    eprintln!("SKIPPED: {program} is not installed; {what} did not run");
    None
}

/// The gpg binary, or `None` (skip) outside CI.
pub fn gpg() -> Option<&'static str> {
    program(
        "gpg",
        "--version",
        "install gnupg (.ci/run does)",
        "the GnuPG interop test",
    )
}

/// The openssl binary, or `None` (skip, loudly) outside CI; under CI=true, a failure.
pub fn openssl() -> Option<&'static str> {
    program("openssl", "version", "install openssl", "the S/MIME test")
}

/// Runs openssl in `dir` with `args` and `input` on stdin; asserts success.
pub fn openssl_run(dir: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut p = StdCommand::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin.take().unwrap().write_all(input).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A throw-away GnuPG home in /tmp (short paths for gpg-agent's socket); its agent is
/// stopped when it is dropped.
pub struct GpgHome {
    pub home: tempfile::TempDir,
    gpg: &'static str,
}

impl GpgHome {
    /// `None` when gpg is missing (outside CI; under CI=true, a failure).
    pub fn new() -> Option<GpgHome> {
        let gpg = gpg()?;
        let home = tempfile::Builder::new()
            .prefix("gh")
            .tempdir_in("/tmp")
            .unwrap();
        Some(GpgHome { home, gpg })
    }

    /// Runs gpg in batch mode with `args` and `input` on stdin; asserts success.
    pub fn run(&self, args: &[&str], input: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut p = StdCommand::new(self.gpg)
            .env("GNUPGHOME", self.home.path())
            .args([
                "--batch",
                "--quiet",
                "--passphrase",
                "",
                "--pinentry-mode",
                "loopback",
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Written from a thread: gpg writes its output while it reads (a large input would
        // otherwise fill both pipes).
        let mut stdin = p.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = p.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Makes an Ed25519 + Cv25519 key for `uid` expiring after `expire` (gpg syntax: "7d",
    /// "never"); returns its fingerprint.
    pub fn make_key(&self, uid: &str, expire: &str) -> String {
        self.run(
            &["--quick-gen-key", uid, "ed25519", "sign,cert", expire],
            b"",
        );
        let fpr = self.fingerprint(uid);
        self.run(&["--quick-add-key", &fpr, "cv25519", "encr", expire], b"");
        fpr
    }

    /// The primary fingerprint of the key for `uid` in this home.
    pub fn fingerprint(&self, uid: &str) -> String {
        String::from_utf8(self.run(&["--with-colons", "--list-keys", uid], b""))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .unwrap()
            .to_string()
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = StdCommand::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "gpg-agent"])
            .status();
    }
}

/// A fresh public certificate for `uid` made by gpg, expiring after `expire`; armored.
/// `None` when gpg is missing (outside CI).
pub fn gpg_make_cert(uid: &str, expire: &str) -> Option<String> {
    let g = GpgHome::new()?;
    let fpr = g.make_key(uid, expire);
    Some(String::from_utf8(g.run(&["--export", "--armor", &fpr], b"")).unwrap())
}

/// Runs pgpsendmail with one resource limit set in the child (and SIGXFSZ ignored, so that
/// a write over RLIMIT_FSIZE fails with EFBIG instead of killing the process).
pub fn run_limited(
    h: &H,
    resource: libc::__rlimit_resource_t,
    limit: u64,
    args: &[&str],
    msg: &[u8],
) -> std::process::Output {
    run_limited_soft(h, resource, limit, limit, args, msg)
}

/// [`run_limited`] with a soft limit below the hard one.
pub fn run_limited_soft(
    h: &H,
    resource: libc::__rlimit_resource_t,
    soft: u64,
    hard: u64,
    args: &[&str],
    msg: &[u8],
) -> std::process::Output {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgpsendmail"));
    cmd.env_clear()
        .env("PGPSENDMAIL_CONFIG", &h.config)
        .env("STAND_IN_DIR", &h.capture)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec only async-signal-safe calls: signal and setrlimit.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let r = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(resource, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut p = cmd.spawn().unwrap();
    let mut stdin = p.stdin.take().unwrap();
    let msg = msg.to_vec();
    let w = std::thread::spawn(move || {
        let _ = stdin.write_all(&msg);
    });
    // Bounded: a run that does not end within two minutes is killed and fails the test.
    let start = std::time::Instant::now();
    while p.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(120) {
            let _ = p.kill();
            panic!("pgpsendmail under a resource limit still running after 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = p.wait_with_output().unwrap();
    w.join().unwrap();
    out
}

/// The reply codes in an SMTP server's output, one per reply (continuation lines of a
/// multi-line reply are skipped).
pub fn codes(out: &[u8]) -> Vec<u16> {
    let text = String::from_utf8(out.to_vec()).expect("replies are UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\r\n"),
        "replies end in CRLF: {text:?}"
    );
    text.split_terminator("\r\n")
        .map(|l| {
            assert!(
                l.len() >= 4 && (l.as_bytes()[3] == b' ' || l.as_bytes()[3] == b'-'),
                "not an SMTP reply line: {l:?}"
            );
            (l, l[..3].parse::<u16>().expect("reply code"))
        })
        .filter(|(l, _)| l.as_bytes()[3] == b' ')
        .map(|(_, c)| c)
        .collect()
}

/// Runs `pgpsendmail -bs ARGS` with the SMTP session `script` on standard input.
pub fn session(h: &H, args: &[&str], script: &[u8]) -> Output {
    let mut a = vec!["-bs"];
    a.extend_from_slice(args);
    h.run(&a, script)
}
