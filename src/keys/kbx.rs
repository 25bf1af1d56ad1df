//! Reads GnuPG keybox files (`pubring.kbx`) without running gpg.
//!
//! This module owns the keybox container format: it walks the blobs of a
//! keybox, skips those that hold no usable OpenPGP certificate (empty slots,
//! ephemeral blobs, X.509 blobs, unknown types) and turns the OpenPGP
//! keyblock of every other blob into a [`SignedPublicKey`]. It checks no
//! signatures, expiry or revocation: callers treat the certificates like
//! any others read from disk.
//!
//! All input bytes are untrusted. Every length and offset is checked
//! against the input before use, nothing is indexed unchecked, and nothing
//! is allocated from a length field.
//!
//! Errors: [`read_keybox`] returns `Err` only when the input does not start
//! with a keybox header blob. Everything else becomes one short line in
//! [`Keybox::errors`], naming the blob (the header is blob 0) and its byte
//! offset:
//! - a blob length that is short, below 16 or past the end of the input
//!   (reading stops there, as the next blob cannot be found);
//! - an OpenPGP blob of unknown version or whose keyblock range lies
//!   outside the blob;
//! - a keyblock rpgp cannot parse, holds a packet that has no place in a
//!   certificate, or does not hold exactly one certificate. Packets rpgp
//!   would skip silently (unsupported versions such as v5 keys, incomplete
//!   packets) are errors here too: such a blob yields no certificate rather
//!   than one missing, say, a revocation.

use pgp::composed::{SignedPublicKey, SignedPublicKeyParser};
use pgp::packet::{Packet, PacketParser, PacketTrait};

const BLOB_EMPTY: u8 = 0;
const BLOB_HEADER: u8 = 1;
const BLOB_OPENPGP: u8 = 2;
const FLAG_EPHEMERAL: u16 = 0x0002;
/// Length, type, version, flags and the keyblock offset and length.
const MIN_BLOB_LEN: usize = 16;
/// Characters of an rpgp error message kept in an error entry.
const MAX_DETAIL: usize = 120;

/// True when `bytes` starts with a keybox header blob (type 1, "KBXf" at offset 8).
pub fn is_keybox(bytes: &[u8]) -> bool {
    bytes.get(4) == Some(&BLOB_HEADER) && bytes.get(8..12) == Some(b"KBXf".as_slice())
}

/// What a keybox holds.
#[derive(Debug, Clone, Default)]
pub struct Keybox {
    /// The certificate of every readable OpenPGP blob, in file order.
    pub certs: Vec<SignedPublicKey>,
    /// One line per blob that could not be read.
    pub errors: Vec<String>,
    /// OpenPGP blobs skipped because gpg marked them ephemeral.
    pub ephemeral: usize,
    /// X.509 and unknown blob types skipped.
    pub other: usize,
}

/// Reads every OpenPGP blob. Err only when the file is not a keybox at
/// all; a broken blob is one entry in `errors` (with its blob number and
/// byte offset) and reading goes on with the next blob when its length is
/// sane, or stops with an error entry when it is not.
pub fn read_keybox(bytes: &[u8]) -> Result<Keybox, String> {
    if !is_keybox(bytes) {
        return Err("not a keybox: no KBXf header blob".into());
    }
    let mut kbx = Keybox::default();
    let mut pos = 0;
    let mut n = 0;
    while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
        let blob = match blob_at(rest) {
            Ok(blob) => blob,
            Err(e) => {
                kbx.errors
                    .push(format!("blob {n} at offset {pos}: {e}; reading stopped"));
                break;
            }
        };
        // blob_at guarantees the 16 bytes of the fixed part.
        let (typ, version, flags) = (blob.get(4), blob.get(5), be16(blob, 6));
        match (typ, version, flags) {
            (Some(&BLOB_HEADER), _, _) if n == 0 => {}
            (Some(&BLOB_EMPTY), _, _) => {}
            (Some(&BLOB_OPENPGP), _, Some(f)) if f & FLAG_EPHEMERAL != 0 => kbx.ephemeral += 1,
            (Some(&BLOB_OPENPGP), Some(&v), _) => match read_openpgp_blob(blob, v) {
                Ok(cert) => kbx.certs.push(cert),
                Err(e) => kbx.errors.push(format!("blob {n} at offset {pos}: {e}")),
            },
            _ => kbx.other += 1,
        }
        pos += blob.len();
        n += 1;
    }
    Ok(kbx)
}

/// The blob at the start of `rest`, at least [`MIN_BLOB_LEN`] bytes long.
fn blob_at(rest: &[u8]) -> Result<&[u8], String> {
    let len = be32(rest, 0).ok_or("truncated blob length")?;
    if len < MIN_BLOB_LEN {
        return Err(format!("blob length {len} below {MIN_BLOB_LEN}"));
    }
    rest.get(..len).ok_or_else(|| {
        format!(
            "blob length {len} past end of file ({} bytes left)",
            rest.len()
        )
    })
}

fn read_openpgp_blob(blob: &[u8], version: u8) -> Result<SignedPublicKey, String> {
    if !(1..=2).contains(&version) {
        return Err(format!("unsupported openpgp blob version {version}"));
    }
    let (off, len) = (be32(blob, 8), be32(blob, 12));
    let keyblock = off
        .zip(len)
        .and_then(|(off, len)| blob.get(off..off.checked_add(len)?))
        .ok_or_else(|| {
            let (off, len) = (off.unwrap_or(0), len.unwrap_or(0));
            format!("keyblock {off}+{len} outside the {}-byte blob", blob.len())
        })?;
    parse_keyblock(keyblock)
}

/// Parses a keyblock as gpg stores it: one certificate, ring-trust packets
/// after most packets. rpgp's own readers would let the trust packets end
/// the certificate early, leaving it without user IDs and subkeys.
fn parse_keyblock(keyblock: &[u8]) -> Result<SignedPublicKey, String> {
    let mut packets = Vec::new();
    for packet in PacketParser::new(keyblock) {
        match packet {
            Ok(Packet::Trust(_) | Packet::Marker(_) | Packet::Padding(_)) => {}
            Ok(
                p @ (Packet::PublicKey(_)
                | Packet::PublicSubkey(_)
                | Packet::UserId(_)
                | Packet::UserAttribute(_)
                | Packet::Signature(_)),
            ) => packets.push(p),
            Ok(p) => return Err(format!("unexpected {:?} packet in keyblock", p.tag())),
            Err(e) => return Err(format!("bad packet in keyblock: {}", describe(&e))),
        }
    }
    if !matches!(packets.first(), Some(Packet::PublicKey(_))) {
        return Err("keyblock does not start with a public key packet".into());
    }
    let mut parser = SignedPublicKeyParser::from_packets(packets.into_iter().map(Ok).peekable());
    let cert = parser
        .next()
        .ok_or("empty keyblock")?
        .map_err(|e| format!("bad certificate: {}", describe(&e)))?;
    // rpgp stops a certificate at the first packet out of place; whatever
    // follows it would otherwise be dropped without a word.
    match parser.into_inner().next() {
        None => Ok(cert),
        Some(p) => Err(match p {
            Ok(p) => format!("{:?} packet out of place in keyblock", p.tag()),
            Err(e) => format!("bad certificate: {}", describe(&e)),
        }),
    }
}

/// rpgp's error as one short line. Its "invalid packet content" wrapper
/// prints the wrapped error's `Debug` form, backtrace and all: unwrap it.
fn describe(mut e: &pgp::errors::Error) -> String {
    while let pgp::errors::Error::InvalidPacketContent { source } = e {
        e = source;
    }
    let line = e
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match line.char_indices().nth(MAX_DETAIL) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?)).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use pgp::composed::Deserializable;
    use pgp::ser::Serialize;
    use pgp::types::KeyDetails;

    use super::*;

    /// Fingerprint, user IDs and subkey fingerprints of a certificate.
    type Summary = (Vec<u8>, Vec<Vec<u8>>, Vec<Vec<u8>>);

    fn summary(c: &SignedPublicKey) -> Summary {
        let users = c.details.users.iter().map(|u| u.id.id().to_vec()).collect();
        let subs = c
            .public_subkeys
            .iter()
            .map(|s| s.fingerprint().as_bytes().to_vec());
        (c.fingerprint().as_bytes().to_vec(), users, subs.collect())
    }

    fn keys_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys")
    }

    fn asc(name: &str) -> SignedPublicKey {
        let file = std::fs::File::open(keys_dir().join(format!("{name}.asc"))).unwrap();
        SignedPublicKey::from_armor_single(file).unwrap().0
    }

    fn fixture() -> Vec<u8> {
        std::fs::read(keys_dir().join("pubring.kbx")).unwrap()
    }

    fn blob(typ: u8, flags: u16, body: &[u8]) -> Vec<u8> {
        let len = u32::try_from(8 + body.len()).unwrap();
        let mut b = len.to_be_bytes().to_vec();
        b.extend([typ, 1]);
        b.extend(flags.to_be_bytes());
        b.extend(body);
        b
    }

    fn header() -> Vec<u8> {
        blob(
            BLOB_HEADER,
            0,
            b"KBXf\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
        )
    }

    /// An OpenPGP blob: keyblock right after the fixed part, fake checksum.
    fn pgp_blob(flags: u16, keyblock: &[u8]) -> Vec<u8> {
        let mut body = 16u32.to_be_bytes().to_vec();
        body.extend(u32::try_from(keyblock.len()).unwrap().to_be_bytes());
        body.extend(keyblock);
        body.extend([0; 20]);
        blob(BLOB_OPENPGP, flags, &body)
    }

    fn keybox(blobs: &[Vec<u8>]) -> Vec<u8> {
        [header()].iter().chain(blobs).flatten().copied().collect()
    }

    #[test]
    fn recognises_keyboxes() {
        assert!(is_keybox(&header()));
        assert!(is_keybox(&fixture()));
        assert!(!is_keybox(b""));
        assert!(!is_keybox(&header()[..11]));
        assert!(!is_keybox(
            &std::fs::read(keys_dir().join("keyring.gpg")).unwrap()
        ));
        assert!(read_keybox(b"-----BEGIN PGP PUBLIC KEY BLOCK-----").is_err());
    }

    #[test]
    fn synthetic_blobs() {
        let bob = asc("bob").to_bytes().unwrap();

        let kbx = read_keybox(&header()).unwrap();
        assert!(kbx.certs.is_empty() && kbx.errors.is_empty());
        assert_eq!((kbx.ephemeral, kbx.other), (0, 0));

        let kbx = read_keybox(&keybox(&[
            pgp_blob(FLAG_EPHEMERAL, &bob),
            blob(3, 0, &[0; 40]),
            blob(BLOB_EMPTY, 0, &[0; 40]),
            blob(42, 0, &[0; 8]),
            pgp_blob(0, &bob),
        ]))
        .unwrap();
        assert_eq!(kbx.errors, Vec::<String>::new());
        assert_eq!((kbx.ephemeral, kbx.other), (1, 2));
        assert_eq!(kbx.certs, [asc("bob")]);
    }

    #[test]
    fn broken_blobs_are_errors() {
        let bob = asc("bob").to_bytes().unwrap();
        let good = pgp_blob(0, &bob);
        let errors = |blobs: &[Vec<u8>]| {
            let kbx = read_keybox(&keybox(blobs)).unwrap();
            (kbx.certs.len(), kbx.errors)
        };

        // Lengths the walk cannot trust stop it.
        let (certs, errs) = errors(&[good.clone(), good[..good.len() - 1].to_vec()]);
        assert_eq!(certs, 1);
        let at = 32 + good.len();
        assert_eq!(
            errs,
            [format!(
                "blob 2 at offset {at}: blob length {} past end of file ({} bytes left); reading stopped",
                good.len(),
                good.len() - 1
            )]
        );
        let (_, errs) = errors(&[vec![0, 0, 0]]);
        assert_eq!(
            errs,
            ["blob 1 at offset 32: truncated blob length; reading stopped"]
        );
        for len in [0u32, 15, u32::MAX] {
            let (certs, errs) =
                errors(&[[&len.to_be_bytes()[..], &good[4..]].concat(), good.clone()]);
            assert_eq!((certs, errs.len()), (0, 1), "{len}: {errs:?}");
            assert!(
                errs[0].starts_with("blob 1 at offset 32: blob length"),
                "{errs:?}"
            );
        }

        // A broken blob with a sane length is skipped.
        let mut outside = good.clone();
        outside[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut wrapping = good.clone();
        wrapping[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut version = good.clone();
        version[5] = 3;
        let garbage = pgp_blob(0, b"\xc6\x05garbage");
        let trailing = pgp_blob(0, &[&bob[..], &bob[..]].concat());
        let (certs, errs) = errors(&[
            outside,
            wrapping,
            version,
            garbage,
            trailing,
            pgp_blob(0, b""),
            good,
        ]);
        assert_eq!(certs, 1);
        let want = [
            "keyblock 16+4294967295 outside the",
            "keyblock 4294967295+",
            "unsupported openpgp blob version 3",
            "bad packet in keyblock",
            "PublicKey packet out of place in keyblock",
            "keyblock does not start with a public key packet",
        ];
        assert_eq!(errs.len(), want.len(), "{errs:?}");
        for (i, (err, want)) in errs.iter().zip(want).enumerate() {
            assert!(
                err.starts_with(&format!("blob {} at offset", i + 1)),
                "{err}"
            );
            assert!(err.contains(want), "{err} lacks {want}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn fixture_matches_armored_certs() {
        let kbx = read_keybox(&fixture()).unwrap();
        assert_eq!(kbx.errors, Vec::<String>::new());
        assert_eq!((kbx.ephemeral, kbx.other), (0, 0));
        let want: Vec<_> = ["alice", "bob", "carol", "certified"].map(asc).to_vec();
        let got: Vec<_> = kbx.certs.iter().map(summary).collect();
        assert_eq!(got, want.iter().map(summary).collect::<Vec<_>>());
        for (fpr, users, subs) in &got {
            assert!(
                !users.is_empty() && !subs.is_empty(),
                "{fpr:x?}: trust packets?"
            );
        }
        // gpg's ring-trust packets are really there to be dropped.
        let bytes = fixture();
        let blob = bytes.get(32..).unwrap();
        let (off, len) = (be32(blob, 8).unwrap(), be32(blob, 12).unwrap());
        let trust = PacketParser::new(&blob[off..off + len])
            .filter(|p| matches!(p, Ok(Packet::Trust(_))))
            .count();
        assert!(trust > 2, "{trust} trust packets");
        // The third-party certification survives.
        let alice = want[0].fingerprint();
        let certified = &kbx.certs[3].details.users[0];
        assert!(
            certified
                .signatures
                .iter()
                .any(|s| s.issuer_fingerprint().contains(&&alice)),
            "no certification by alice"
        );
    }

    #[test]
    fn mutations_never_panic() {
        let base = fixture();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut rnd = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap()
        };
        let mut read = 0;
        for _ in 0..20_000 {
            let mut b = base.clone();
            match rnd(4) {
                0 => {
                    for _ in 0..=rnd(8) {
                        let i = rnd(b.len());
                        b[i] ^= 1 << rnd(8);
                    }
                }
                1 => b.truncate(rnd(b.len())),
                2 => {
                    let i = rnd(b.len() - 4);
                    let v = [0, 15, 16, 0x7fff_ffff, u32::MAX][rnd(5)];
                    b[i..i + 4].copy_from_slice(&v.to_be_bytes());
                }
                _ => {
                    let i = rnd(b.len());
                    b[i] = u8::try_from(rnd(256)).unwrap();
                }
            }
            if let Ok(kbx) = read_keybox(&b) {
                read += kbx.certs.len();
                kbx.certs.iter().for_each(|c| drop(summary(c)));
                for e in &kbx.errors {
                    assert!(e.chars().count() < 200 && !e.contains('\n'), "{e}");
                }
            }
        }
        assert!(read > 0);
    }

    fn gpg(home: &Path, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg")
            .env("GNUPGHOME", home)
            .args(["--batch", "--quiet"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// A GNUPGHOME whose agent is stopped when it goes away.
    struct Home(tempfile::TempDir);

    impl Drop for Home {
        fn drop(&mut self) {
            let _ = Command::new("gpgconf")
                .env("GNUPGHOME", self.0.path())
                .args(["--kill", "gpg-agent"])
                .status();
        }
    }

    #[test]
    fn matches_gpg_export() {
        if !Command::new("gpg")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "gpg not installed"
            );
            eprintln!("SKIPPED: gpg not installed");
            return;
        }
        let home = Home(
            tempfile::Builder::new()
                .prefix("gh")
                .tempdir_in("/tmp")
                .unwrap(),
        );
        let dir = home.0.path();
        let files = ["alice", "bob", "carol", "certified", "multisub"]
            .map(|n| keys_dir().join(format!("{n}.asc")).display().to_string());
        let mut args = vec!["--import"];
        args.extend(files.iter().map(String::as_str));
        gpg(dir, &args);

        let kbx = std::fs::read(dir.join("pubring.kbx")).expect("no pubring.kbx: keyboxd in use?");
        let kbx = read_keybox(&kbx).unwrap();
        assert_eq!(kbx.errors, Vec::<String>::new());
        let got: BTreeSet<_> = kbx.certs.iter().map(summary).collect();
        let export = gpg(dir, &["--export"]);
        let want: BTreeSet<_> = SignedPublicKey::from_bytes_many(export.as_slice())
            .unwrap()
            .map(|c| summary(&c.unwrap()))
            .collect();
        assert_eq!(want.len(), 5);
        assert_eq!(got, want);
    }
}
