//! `make bench-keys`: what key lookup costs per message as the keyring grows.
//!
//! For each size (default 1,000, 10,000 and 100,000 certificates) it makes a binary keyring
//! of generated Ed25519/Cv25519 certificates once (kept under target/bench-keys/), then, in
//! a fresh child process each time so that memory figures are the lookup's own:
//! - the first message, which builds the index;
//! - the median over 50 messages of finding the keys of 10 recipients through the index;
//! - for comparison, reading the whole keyring without an index (up to 10,000).
//!
//! A benchmark, not a test: run it with `make bench-keys` (release build). `--make N` only
//! makes the keyring of N certificates (`make bench` uses it).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use pgp::composed::{
    EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedPublicKey, SubkeyParamsBuilder,
};
use pgp::crypto::ecc_curve::ECCCurve;
use pgp::ser::Serialize;
use pgpsendmail::keys::{Keyring, Wanted};

fn addr(i: usize) -> String {
    format!("user{i}@bench.example")
}

fn make_ring(path: &Path, n: usize) {
    if path.exists() {
        return;
    }
    eprintln!("generating {n} certificates into {} ...", path.display());
    let tmp = path.with_extension("tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
    let mut rng = rand::thread_rng();
    for i in 0..n {
        let key = SecretKeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(format!("User {i} <{}>", addr(i)))
            .subkey(
                SubkeyParamsBuilder::default()
                    .key_type(KeyType::ECDH(ECCCurve::Curve25519Legacy))
                    .can_encrypt(EncryptionCaps::All)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
            .generate(&mut rng)
            .unwrap();
        SignedPublicKey::from(key).to_writer(&mut f).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    std::fs::rename(tmp, path).unwrap();
}

fn max_rss_kib() -> i64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss
}

/// Child mode: `--run MODE RING CACHE N` prints "micros max_rss_kib".
fn child(mode: &str, ring: &Path, cache: &Path, n: usize) {
    let sources = vec![ring.to_path_buf()];
    let pick = |k: usize| (k * 7919 + 13) % n;
    let wanted = |round: usize| Wanted {
        emails: (0..10)
            .map(|r| addr(pick(round * 10 + r)))
            .collect::<HashSet<_>>(),
        fingerprints: HashSet::new(),
    };
    let micros = match mode {
        "build" => {
            let t = Instant::now();
            let kr = Keyring::load_for(&sources, Some(cache), &wanted(0), SystemTime::now());
            assert_eq!(kr.certs.len(), 10);
            t.elapsed().as_micros()
        }
        "lookup" => {
            let mut times = Vec::new();
            for round in 0..50 {
                let t = Instant::now();
                let kr =
                    Keyring::load_for(&sources, Some(cache), &wanted(round), SystemTime::now());
                times.push(t.elapsed().as_micros());
                assert_eq!(kr.certs.len(), 10, "all 10 found");
                assert!(kr.certs.iter().all(|c| c.usable.is_ok()));
            }
            times.sort_unstable();
            times[times.len() / 2]
        }
        "full" => {
            let t = Instant::now();
            let kr = Keyring::load(&sources, SystemTime::now());
            assert_eq!(kr.certs.len(), n);
            t.elapsed().as_micros()
        }
        _ => panic!("unknown mode {mode}"),
    };
    println!("{micros} {}", max_rss_kib());
}

fn run(mode: &str, ring: &Path, cache: &Path, n: usize) -> (f64, f64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--run", mode])
        .arg(ring)
        .arg(cache)
        .arg(n.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().unwrap());
    (it.next().unwrap() / 1000.0, it.next().unwrap() / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--make") {
        // `--make N`: only make target/bench-keys/ring-N.gpg (for `make bench`).
        let n: usize = args[1].parse().expect("a number of certificates");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-keys");
        std::fs::create_dir_all(&dir).unwrap();
        return make_ring(&dir.join(format!("ring-{n}.gpg")), n);
    }
    if args.first().map(String::as_str) == Some("--run") {
        return child(
            &args[1],
            Path::new(&args[2]),
            Path::new(&args[3]),
            args[4].parse().unwrap(),
        );
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        args.iter()
            .map(|a| a.parse().expect("sizes are numbers"))
            .collect()
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-keys");
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "key lookup per message (10 recipients), {}",
        std::env::consts::ARCH
    );
    println!(
        "{:>9} | {:>15} | {:>22} | {:>22}",
        "certs", "index build", "lookup (median of 50)", "whole keyring, no index"
    );
    for n in sizes {
        let ring = dir.join(format!("ring-{n}.gpg"));
        make_ring(&ring, n);
        let cache = dir.join(format!("cache-{n}"));
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::create_dir_all(&cache).unwrap();
        let (build_ms, build_rss) = run("build", &ring, &cache, n);
        let (lookup_ms, lookup_rss) = run("lookup", &ring, &cache, n);
        let full = if n <= 10_000 {
            let (ms, rss) = run("full", &ring, &cache, n);
            format!("{ms:9.1} ms {rss:6.1} MiB")
        } else {
            "(skipped)".to_string()
        };
        println!(
            "{n:>9} | {build_ms:8.0} ms {build_rss:4.0} MiB | {lookup_ms:9.2} ms {lookup_rss:5.1} MiB | {full:>22}"
        );
    }
}
