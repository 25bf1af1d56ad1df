//! Keys: loading certificates, deciding which are valid, and finding each recipient's
//! (spec/keys.md).
//!
//! Owns: reading the `keyring` sources (directories of `*.asc *.gpg *.pgp *.key`, armored or
//! binary files with any number of certificates and armor blocks, GnuPG keyboxes and GnuPG
//! home directories, through [`crate::kbx`]), the validity rules
//! (self-signatures only, newest wins, revocation, expiry, key flags, weak algorithms) and
//! matching a user ID's e-mail to an address. The `pgp` crate parses packets and verifies
//! signatures; it decides nothing about validity, so every rule lives here.
//!
//! Does not own: the `[recipients]` table and the `missing_key` policy (see
//! [`crate::recipients`]), or a lookup index (every source is parsed for every message).
//!
//! Untrusted input: every byte of every key file. A file that cannot be read or parsed is a
//! [`SourceProblem`] (path and reason) and never stops mail to recipients whose keys are
//! elsewhere; nothing is dropped silently: certificates found vs. loaded are counted.

use std::collections::HashSet;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{self, Signature, SignatureType, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, KeyVersion, PublicParams, Tag};

use crate::diag::sanitize;
use crate::index;

/// Largest key file read; larger ones are reported, not read (they would stall every message).
const MAX_KEY_FILE: u64 = 64 << 20;
/// File name endings read from a key directory.
const KEY_EXTENSIONS: &[&str] = &["asc", "gpg", "pgp", "key"];

/// A key file that could not be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            sanitize(&self.path.display().to_string()),
            self.reason
        )
    }
}

/// A public key packet pgpsendmail may encrypt to: an encryption subkey, or a primary key
/// whose own flags allow encryption (never the whole certificate: the crate would silently
/// pick the primary).
#[derive(Debug, Clone)]
pub enum EncryptionKey {
    Subkey(packet::PublicSubkey),
    Primary(packet::PublicKey),
}

impl EncryptionKey {
    pub fn fingerprint(&self) -> String {
        match self {
            EncryptionKey::Subkey(k) => hex_upper(k.fingerprint().as_bytes()),
            EncryptionKey::Primary(k) => hex_upper(k.fingerprint().as_bytes()),
        }
    }
}

/// Why a certificate cannot be used for encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    Revoked,
    Expired(u64),
    NoEncryptionKey,
    Weak(String),
    NoValidSelfSignature,
    /// A key version we do not encrypt to (v6 needs SEIPD v2, which GnuPG 2.2 and
    /// Thunderbird cannot read; v2/v3 are obsolete).
    Unsupported(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Revoked => f.write_str("revoked"),
            Unusable::Expired(t) => write!(f, "expired on {}", format_date(*t)),
            Unusable::NoEncryptionKey => f.write_str("no usable encryption subkey"),
            Unusable::Weak(why) => write!(f, "weak ({why})"),
            Unusable::NoValidSelfSignature => f.write_str("no valid self-signature"),
            Unusable::Unsupported(why) => write!(f, "unsupported ({why})"),
        }
    }
}

/// One certificate after evaluation.
#[derive(Debug, Clone)]
pub struct Cert {
    /// Primary key fingerprint, upper-case hex.
    pub fingerprint: String,
    /// Where it was loaded from.
    pub source: PathBuf,
    /// Normalized (lower-case) e-mail addresses of the user IDs that count.
    pub emails: Vec<String>,
    /// Keys to encrypt to, or why there are none.
    pub usable: std::result::Result<Vec<EncryptionKey>, Unusable>,
    /// The strongest cipher every usable key accepts.
    pub cipher: SymmetricKeyAlgorithm,
    /// When a usable certificate stops being usable (Unix time): its primary key expires,
    /// or its last encryption key does. `None`: never.
    pub expires: Option<u64>,
}

/// Everything loaded from the configured sources.
#[derive(Debug, Default)]
pub struct Keyring {
    pub certs: Vec<Cert>,
    pub problems: Vec<SourceProblem>,
}

/// What one message needs from the keyring: the addresses and fingerprints its recipients'
/// keys are looked up under (see [`crate::recipients::wanted`]).
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// Lower-cased e-mail addresses.
    pub emails: HashSet<String>,
    /// Upper-case hex fingerprints.
    pub fingerprints: HashSet<String>,
}

/// The files a `keyring` source contributes: the file itself; for a directory its key
/// files, sorted (so that results do not depend on directory order), or the keyring of a
/// GnuPG home.
fn source_files(src: &Path) -> std::result::Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(src).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_dir() {
        return Ok(vec![src.to_path_buf()]);
    }
    if let Some(ring) = gnupg_keyring(src) {
        return Ok(vec![ring]);
    }
    let entries = std::fs::read_dir(src).map_err(|e| format!("cannot read directory: {e}"))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| KEY_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    Ok(files)
}

impl Keyring {
    /// Loads every source in order, whole; problems are collected, not fatal.
    pub fn load(sources: &[PathBuf], now: SystemTime) -> Keyring {
        let mut kr = Keyring::default();
        for src in sources {
            match source_files(src) {
                Ok(files) => {
                    for f in files {
                        kr.load_file(&f, now);
                    }
                }
                Err(reason) => kr.problem(src, reason),
            }
        }
        kr
    }

    /// Loads only the certificates a message needs, through the index of each source in
    /// `cache_dir` (rebuilt when missing, stale or corrupt). Without a usable cache
    /// directory every source is read whole, as [`Keyring::load`] does.
    pub fn load_for(
        sources: &[PathBuf],
        cache_dir: Option<&Path>,
        want: &Wanted,
        now: SystemTime,
    ) -> Keyring {
        let usable =
            |d: &&Path| std::fs::metadata(d).is_ok_and(|m| m.is_dir() && index::trusted(&m));
        let Some(cache) = cache_dir.filter(usable) else {
            return Self::load(sources, now);
        };
        let mut kr = Keyring::default();
        for src in sources {
            let files = match source_files(src) {
                Ok(f) => f,
                Err(reason) => {
                    kr.problem(src, reason);
                    continue;
                }
            };
            let stamp = index::stamp(&files);
            let ipath = index::path_for(cache, src);
            let found = index::query(&ipath, &stamp, &want.emails, &want.fingerprints);
            if let Some(problems) = found.and_then(|c| kr.take_verified(c, now)) {
                for (p, r) in problems {
                    kr.problem(&p, r);
                }
                continue;
            }
            // Read the source, keeping only what this message wants, and rebuild the
            // index on the way. Best effort: an unwritable cache only costs speed.
            let mut builder = index::Builder::new(None).ok();
            for f in &files {
                let parsed =
                    read_capped(f).and_then(|bytes| {
                        each_certificate(&bytes, &mut |cert| {
                            let fpr = cert.primary_key.fingerprint();
                            let fpr_hex = hex_upper(fpr.as_bytes());
                            let emails: Vec<String> = cert
                                .details
                                .users
                                .iter()
                                .filter_map(|u| uid_email(u.id.id()))
                                .collect();
                            if let Some(b) = builder.as_mut() {
                                let added =
                                    cert.to_bytes().map_err(std::io::Error::other).and_then(
                                        |bytes| b.add(f, fpr.as_bytes(), &fpr_hex, &emails, &bytes),
                                    );
                                if added.is_err() {
                                    builder = None;
                                }
                            }
                            if want.fingerprints.contains(&fpr_hex)
                                || emails.iter().any(|m| want.emails.contains(m))
                            {
                                kr.certs.push(evaluate(&cert, f, now));
                            }
                        })
                    });
                let problems = match parsed {
                    Ok(errors) => errors,
                    Err(reason) => vec![reason],
                };
                for reason in problems {
                    if let Some(b) = builder.as_mut() {
                        b.problem(f, &reason);
                    }
                    kr.problem(f, reason);
                }
            }
            if let Some(b) = builder {
                let _ = b.write(&ipath, &stamp);
            }
        }
        kr
    }

    /// Parses the certificates an index returned and checks each against the fingerprint
    /// the index claims; `None` (the index is not believed) on any mismatch.
    fn take_verified(
        &mut self,
        c: index::Contents,
        now: SystemTime,
    ) -> Option<Vec<(PathBuf, String)>> {
        let mut certs = Vec::with_capacity(c.entries.len());
        for e in &c.entries {
            let cert = SignedPublicKey::from_bytes(&e.bytes[..]).ok()?;
            if hex_upper(cert.primary_key.fingerprint().as_bytes()) != e.fingerprint {
                return None;
            }
            certs.push(evaluate(&cert, &e.source, now));
        }
        self.certs.extend(certs);
        Some(c.problems)
    }

    fn problem(&mut self, path: &Path, reason: String) {
        self.problems.push(SourceProblem {
            path: path.to_path_buf(),
            reason,
        });
    }

    fn load_file(&mut self, path: &Path, now: SystemTime) {
        let bytes = match read_capped(path) {
            Ok(b) => b,
            Err(reason) => return self.problem(path, reason),
        };
        match parse_certificates(&bytes) {
            Ok((certs, errors)) => {
                for c in certs {
                    self.certs.push(evaluate(&c, path, now));
                }
                for e in errors {
                    self.problem(path, e);
                }
            }
            Err(reason) => self.problem(path, reason),
        }
    }

    /// Certificates with a counting user ID for `addr` (already normalized).
    pub fn by_email<'a>(&'a self, addr: &str) -> impl Iterator<Item = &'a Cert> + 'a {
        let addr = addr.to_string();
        self.certs.iter().filter(move |c| c.emails.contains(&addr))
    }

    /// The certificate with this primary fingerprint (normalized upper-case hex).
    pub fn by_fingerprint(&self, fpr: &str) -> Option<&Cert> {
        self.certs.iter().find(|c| c.fingerprint == fpr)
    }
}

/// The public keyring of a GnuPG home directory, when `dir` is one: only that file is read
/// there (trustdb.gpg and friends are not keyrings). GnuPG 2.1+ writes pubring.kbx, older
/// versions pubring.gpg.
pub fn gnupg_keyring(dir: &Path) -> Option<PathBuf> {
    ["pubring.kbx", "pubring.gpg"]
        .iter()
        .map(|r| dir.join(r))
        .find(|p| p.is_file())
}

pub fn read_capped(path: &Path) -> std::result::Result<Vec<u8>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO (or a device) dropped among the key files must not wait
    // for a writer; a regular file ignores the flag.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("cannot read: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(format!("larger than {MAX_KEY_FILE} bytes; not read"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(bytes)
}

/// Parses every certificate in a file: a GnuPG keybox, armored (any number of armor
/// blocks, each with any number of certificates) or binary. Returns the certificates and one
/// message per certificate that could not be parsed; `Err` when nothing in the file is
/// usable at all.
pub fn parse_certificates(
    bytes: &[u8],
) -> std::result::Result<(Vec<SignedPublicKey>, Vec<String>), String> {
    let mut certs = Vec::new();
    let errors = each_certificate(bytes, &mut |c| certs.push(c))?;
    Ok((certs, errors))
}

/// [`parse_certificates`], handing each certificate to `f` as it is parsed instead of
/// collecting them (a large keyring is never held whole). Returns the per-certificate
/// errors; `Err` when nothing in the file is usable at all.
pub fn each_certificate(
    bytes: &[u8],
    f: &mut dyn FnMut(SignedPublicKey),
) -> std::result::Result<Vec<String>, String> {
    let mut found = 0usize;
    let mut errors = Vec::new();
    let mut take = |iter: Box<dyn Iterator<Item = pgp::errors::Result<SignedPublicKey>> + '_>,
                    errors: &mut Vec<String>| {
        for (n, r) in iter.enumerate() {
            match r {
                Ok(c) => {
                    found += 1;
                    f(c);
                }
                Err(e) => errors.push(format!("certificate {}: {}", n + 1, one_line(&e))),
            }
        }
    };
    if crate::kbx::is_keybox(bytes) {
        let kbx = crate::kbx::read_keybox(bytes)?;
        if kbx.certs.is_empty() && !kbx.errors.is_empty() {
            return Err(kbx.errors.join("; "));
        }
        take(Box::new(kbx.certs.into_iter().map(Ok)), &mut errors);
        errors.extend(kbx.errors);
        return Ok(errors);
    }
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Err("empty file".into());
    };
    if bytes[start..].starts_with(b"-----BEGIN ") {
        // The crate returns only the first armor block by itself: split them.
        let blocks = split_armor_blocks(&bytes[start..]);
        for (n, block) in blocks.iter().enumerate() {
            if block.starts_with(b"-----BEGIN PGP PRIVATE KEY BLOCK-----") {
                errors.push(format!(
                    "armor block {}: a secret key block; give public certificates only",
                    n + 1
                ));
                continue;
            }
            match SignedPublicKey::from_armor_many(Cursor::new(*block)) {
                Ok((iter, _)) => take(iter, &mut errors),
                Err(e) => errors.push(format!("armor block {}: {}", n + 1, one_line(&e))),
            }
        }
    } else if bytes[start] & 0x80 != 0 {
        match SignedPublicKey::from_bytes_many(Cursor::new(&bytes[start..])) {
            Ok(iter) => take(iter, &mut errors),
            Err(e) => return Err(format!("not an OpenPGP keyring: {}", one_line(&e))),
        }
        if found == 0 && errors.is_empty() {
            // The crate returns nothing, silently, for a binary secret keyring.
            return Err("no public certificate found (a secret keyring?)".into());
        }
    } else {
        return Err("neither an armored nor a binary OpenPGP file".into());
    }
    if found == 0 && !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(errors)
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    sanitize(&e.to_string())
}

/// Splits armored text at every `-----BEGIN PGP ` line.
fn split_armor_blocks(text: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PGP ";
    let mut starts = Vec::new();
    let mut line_start = 0;
    while line_start < text.len() {
        if text[line_start..].starts_with(BEGIN) {
            starts.push(line_start);
        }
        match text[line_start..].iter().position(|&b| b == b'\n') {
            Some(p) => line_start += p + 1,
            None => break,
        }
    }
    let mut blocks = Vec::new();
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(text.len());
        blocks.push(&text[s..e]);
    }
    blocks
}

/// The e-mail part of a user ID: the text in the last `<...>`, or the whole ID when it
/// holds an `@` and no brackets; lower-cased for matching.
pub fn uid_email(uid: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(uid).ok()?;
    let addr = if let (Some(open), Some(close)) = (s.rfind('<'), s.rfind('>')) {
        if close <= open {
            return None;
        }
        &s[open + 1..close]
    } else if s.contains('@') && !s.contains('<') && !s.contains('>') {
        s
    } else {
        return None;
    };
    let addr = addr.trim();
    if addr.is_empty() || addr.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some(addr.to_lowercase())
}

fn secs(sig: &Signature) -> Option<u64> {
    sig.created().map(|t| t.as_secs() as u64)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// A signature is alive when it is not from the future and not past its own expiry.
fn alive(sig: &Signature, now: u64) -> bool {
    let Some(created) = secs(sig) else {
        return false;
    };
    if created > now {
        return false;
    }
    match sig.signature_expiration_time() {
        Some(d) if d.as_secs() != 0 => created + u64::from(d.as_secs()) > now,
        _ => true,
    }
}

/// Issued by the primary key itself (or carries no issuer at all: then verification decides).
fn issued_by_primary(sig: &Signature, primary: &packet::PublicKey) -> bool {
    let ids = sig.issuer_key_id();
    let fprs = sig.issuer_fingerprint();
    if ids.is_empty() && fprs.is_empty() {
        return true;
    }
    let kid = primary.legacy_key_id();
    let fpr = primary.fingerprint();
    ids.iter().any(|i| **i == kid) || fprs.iter().any(|f| **f == fpr)
}

/// True when the hashed area has a key-flags subpacket (absent flags: infer from algorithm).
fn has_key_flags(sig: &Signature) -> bool {
    sig.config().is_some_and(|c| {
        c.hashed_subpackets()
            .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
    })
}

fn can_encrypt(alg: PublicKeyAlgorithm) -> bool {
    alg.can_encrypt()
}

/// RSA modulus size in bits, read from the serialized MPI of n (its first two octets).
fn rsa_bits(params: &PublicParams) -> Option<usize> {
    if let PublicParams::RSA(_) = params {
        let b = params.to_bytes().ok()?;
        if b.len() >= 2 {
            return Some(u16::from_be_bytes([b[0], b[1]]) as usize);
        }
    }
    None
}

const MODERN_CIPHERS: &[SymmetricKeyAlgorithm] = &[
    SymmetricKeyAlgorithm::AES128,
    SymmetricKeyAlgorithm::AES192,
    SymmetricKeyAlgorithm::AES256,
    SymmetricKeyAlgorithm::Twofish,
    SymmetricKeyAlgorithm::Camellia128,
    SymmetricKeyAlgorithm::Camellia192,
    SymmetricKeyAlgorithm::Camellia256,
];

/// Applies the rules of keys.md "Which key is valid" to one certificate.
pub fn evaluate(cert: &SignedPublicKey, source: &Path, now: SystemTime) -> Cert {
    let now = unix(now);
    let primary = &cert.primary_key;
    let fingerprint = hex_upper(primary.fingerprint().as_bytes());
    let mut out = Cert {
        fingerprint,
        source: source.to_path_buf(),
        emails: Vec::new(),
        usable: Err(Unusable::NoValidSelfSignature),
        cipher: SymmetricKeyAlgorithm::AES256,
        expires: None,
    };

    if primary.version() != KeyVersion::V4 {
        out.usable = Err(Unusable::Unsupported(format!(
            "a version {} key; pgpsendmail encrypts to version 4 keys (SEIPD v1)",
            u8::from(primary.version())
        )));
        return out;
    }

    // Rule 3: a valid self-revocation makes the whole certificate unusable.
    let revoked = cert.details.revocation_signatures.iter().any(|s| {
        s.typ() == Some(SignatureType::KeyRevocation)
            && issued_by_primary(s, primary)
            && secs(s).is_some_and(|c| c <= now)
            && s.verify_key(primary).is_ok()
    });

    // Rule 2: a user ID counts if its newest valid self-signature is a certification.
    let mut uid_sigs: Vec<(&Signature, bool)> = Vec::new(); // (newest valid cert sig, primary?)
    for user in &cert.details.users {
        let newest = user
            .signatures
            .iter()
            .filter(|s| {
                matches!(
                    s.typ(),
                    Some(
                        SignatureType::CertGeneric
                            | SignatureType::CertPersona
                            | SignatureType::CertCasual
                            | SignatureType::CertPositive
                            | SignatureType::CertRevocation
                    )
                ) && issued_by_primary(s, primary)
                    && alive(s, now)
                    && s.verify_certification(primary, Tag::UserId, &user.id)
                        .is_ok()
            })
            .max_by_key(|s| secs(s));
        if let Some(sig) = newest
            && sig.typ() != Some(SignatureType::CertRevocation)
        {
            if let Some(email) = uid_email(user.id.id()) {
                out.emails.push(email);
            }
            uid_sigs.push((sig, sig.is_primary()));
        }
    }
    let direct = cert
        .details
        .direct_signatures
        .iter()
        .filter(|s| {
            s.typ() == Some(SignatureType::Key)
                && issued_by_primary(s, primary)
                && alive(s, now)
                && s.verify_key(primary).is_ok()
        })
        .max_by_key(|s| secs(s));

    // The self-signature that speaks for the primary key: primary user ID's, else the newest
    // counting user ID's, else a direct-key signature.
    let primary_sig = uid_sigs
        .iter()
        .filter(|(_, p)| *p)
        .map(|(s, _)| *s)
        .max_by_key(|s| secs(s))
        .or_else(|| uid_sigs.iter().map(|(s, _)| *s).max_by_key(|s| secs(s)))
        .or(direct);
    let Some(primary_sig) = primary_sig else {
        out.usable = Err(if revoked {
            Unusable::Revoked
        } else {
            Unusable::NoValidSelfSignature
        });
        return out;
    };
    if revoked {
        out.usable = Err(Unusable::Revoked);
        return out;
    }
    let created = primary.created_at().as_secs() as u64;
    let key_expiry = |sig: &Signature, created: u64| match sig.key_expiration_time() {
        Some(d) if d.as_secs() != 0 => Some(created + u64::from(d.as_secs())),
        _ => None,
    };
    let primary_expiry =
        key_expiry(primary_sig, created).or_else(|| direct.and_then(|d| key_expiry(d, created)));
    if let Some(exp) = primary_expiry
        && exp <= now
    {
        out.usable = Err(Unusable::Expired(exp));
        return out;
    }

    // Symmetric preferences: from the primary self-signature.
    let prefs = primary_sig.preferred_symmetric_algs();
    if !prefs.is_empty() {
        if !prefs.iter().any(|a| MODERN_CIPHERS.contains(a)) {
            out.usable = Err(Unusable::Weak(
                "only legacy ciphers (IDEA, CAST5, 3DES) in its preferences".into(),
            ));
            return out;
        }
        if !prefs.contains(&SymmetricKeyAlgorithm::AES256) {
            out.cipher = SymmetricKeyAlgorithm::AES128;
        }
    }

    // Rules 4 and 5: the encryption-capable keys.
    let mut keys = Vec::new();
    let mut weak: Option<String> = None;
    let mut expired_sub: Option<u64> = None;
    let primary_flags_ok = if has_key_flags(primary_sig) {
        let f = primary_sig.key_flags();
        f.encrypt_comms() || f.encrypt_storage()
    } else {
        false
    };
    let mut unsupported: Option<String> = None;
    // Expiry of each usable encryption key (None: never), for `expires`.
    let mut key_expiries: Vec<Option<u64>> = Vec::new();
    if primary_flags_ok && can_encrypt(primary.algorithm()) {
        match weak_reason(primary.public_params()) {
            Some(w) => weak = Some(w),
            None => {
                keys.push(EncryptionKey::Primary(primary.clone()));
                key_expiries.push(primary_expiry);
            }
        }
    }
    for sub in &cert.public_subkeys {
        let valid = |s: &&Signature| {
            issued_by_primary(s, primary)
                && secs(s).is_some_and(|c| c <= now)
                && s.verify_subkey_binding(primary, &sub.key).is_ok()
        };
        let sub_revoked = sub
            .signatures
            .iter()
            .filter(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
            .any(|s| valid(&s));
        if sub_revoked {
            continue;
        }
        let binding = sub
            .signatures
            .iter()
            .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding) && alive(s, now))
            .filter(valid)
            .max_by_key(|s| secs(s));
        let Some(binding) = binding else { continue };
        let alg = sub.key.algorithm();
        let flagged = if has_key_flags(binding) {
            let f = binding.key_flags();
            f.encrypt_comms() || f.encrypt_storage()
        } else {
            true
        };
        if !flagged || !can_encrypt(alg) {
            continue;
        }
        if matches!(alg, PublicKeyAlgorithm::Elgamal) {
            // The pgp crate parses ElGamal keys but cannot encrypt to them.
            unsupported = Some("ElGamal encryption subkeys cannot be encrypted to".into());
            continue;
        }
        let sub_created = sub.key.created_at().as_secs() as u64;
        if let Some(exp) = key_expiry(binding, sub_created)
            && exp <= now
        {
            expired_sub = Some(expired_sub.map_or(exp, |e: u64| e.max(exp)));
            continue;
        }
        if let Some(w) = weak_reason(sub.key.public_params()) {
            weak = Some(w);
            continue;
        }
        keys.push(EncryptionKey::Subkey(sub.key.clone()));
        key_expiries.push(key_expiry(binding, sub_created));
    }
    // Usable until the primary expires, or the last encryption key does.
    let last_key = if key_expiries.iter().any(Option::is_none) {
        None
    } else {
        key_expiries.iter().flatten().max().copied()
    };
    out.expires = match (primary_expiry, last_key) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    out.usable = if !keys.is_empty() {
        Ok(keys)
    } else if let Some(w) = weak {
        Err(Unusable::Weak(w))
    } else if let Some(u) = unsupported {
        Err(Unusable::Unsupported(u))
    } else if let Some(exp) = expired_sub {
        Err(Unusable::Expired(exp))
    } else {
        Err(Unusable::NoEncryptionKey)
    };
    out
}

/// Rule 6: RSA under 2048 bits is weak.
fn weak_reason(params: &PublicParams) -> Option<String> {
    match rsa_bits(params) {
        Some(bits) if bits < 2048 => Some(format!("RSA with {bits} bits")),
        _ => None,
    }
}

/// What [`merge`] added to a stored certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    pub user_ids: usize,
    pub subkeys: usize,
    pub signatures: usize,
}

impl Merged {
    pub fn is_empty(&self) -> bool {
        *self == Merged::default()
    }
}

impl std::fmt::Display for Merged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} new user IDs, {} new subkeys, {} new signatures",
            self.user_ids, self.subkeys, self.signatures
        )
    }
}

fn add_signatures(into: &mut Vec<Signature>, from: &[Signature]) -> usize {
    let mut n = 0;
    for s in from {
        if !into.contains(s) {
            into.push(s.clone());
            n += 1;
        }
    }
    n
}

/// Adds to `stored` what `new` (the same primary key) has and `stored` lacks: user IDs,
/// subkeys, and signatures (revocations above all: an update must never be dropped).
/// Nothing is removed. Validity is judged later, by [`evaluate`], as for any certificate.
pub fn merge(stored: &mut SignedPublicKey, new: &SignedPublicKey) -> Merged {
    let mut m = Merged::default();
    m.signatures += add_signatures(
        &mut stored.details.revocation_signatures,
        &new.details.revocation_signatures,
    );
    m.signatures += add_signatures(
        &mut stored.details.direct_signatures,
        &new.details.direct_signatures,
    );
    for u in &new.details.users {
        match stored.details.users.iter_mut().find(|s| s.id == u.id) {
            Some(s) => m.signatures += add_signatures(&mut s.signatures, &u.signatures),
            None => {
                stored.details.users.push(u.clone());
                m.user_ids += 1;
            }
        }
    }
    for k in &new.public_subkeys {
        let fpr = k.key.fingerprint();
        match stored
            .public_subkeys
            .iter_mut()
            .find(|s| s.key.fingerprint() == fpr)
        {
            Some(s) => m.signatures += add_signatures(&mut s.signatures, &k.signatures),
            None => {
                stored.public_subkeys.push(k.clone());
                m.subkeys += 1;
            }
        }
    }
    m
}

pub fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// `YYYY-MM-DD` (UTC) for a Unix time, without a date crate.
pub fn format_date(t: u64) -> String {
    let days = (t / 86_400) as i64;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_among_the_key_files_is_refused_without_waiting() {
        // Regression (fault matrix): opening a FIFO blocked until a writer came, forever.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.asc");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(read_capped(&fifo)).unwrap());
        let r = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("read_capped blocked on a FIFO");
        assert_eq!(r.unwrap_err(), "not a regular file");
    }

    #[test]
    fn uid_emails() {
        assert_eq!(
            uid_email(b"Alice <Alice@Example.ORG>").unwrap(),
            "alice@example.org"
        );
        assert_eq!(uid_email(b"bob@example.org").unwrap(), "bob@example.org");
        assert!(uid_email(b"Just A Name").is_none());
        assert!(uid_email(b"Broken <a@b").is_none());
        assert!(uid_email(b"\xff<a@b>").is_none());
    }

    #[test]
    fn dates() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(1_795_000_000), "2026-11-18");
        assert_eq!(format_date(951_782_400), "2000-02-29");
    }

    #[test]
    fn armor_blocks_split() {
        let t = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\nA\n-----END PGP PUBLIC KEY BLOCK-----\n\
-----BEGIN PGP PUBLIC KEY BLOCK-----\nB\n-----END PGP PUBLIC KEY BLOCK-----\n";
        assert_eq!(split_armor_blocks(t).len(), 2);
    }

    #[test]
    fn v6_certificates_are_refused_with_a_reason() {
        use pgp::composed::{EncryptionCaps, KeyType, SecretKeyParamsBuilder, SubkeyParamsBuilder};
        let params = SecretKeyParamsBuilder::default()
            .version(KeyVersion::V6)
            .key_type(KeyType::Ed25519)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("Six <six@example.org>".into())
            .subkey(
                SubkeyParamsBuilder::default()
                    .version(KeyVersion::V6)
                    .key_type(KeyType::X25519)
                    .can_encrypt(EncryptionCaps::All)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let key = params.generate(rand::thread_rng()).unwrap();
        let public = SignedPublicKey::from(key);
        let c = evaluate(&public, Path::new("six.asc"), SystemTime::now());
        let err = c.usable.unwrap_err();
        assert!(matches!(err, Unusable::Unsupported(_)));
        assert!(err.to_string().contains("version 6"), "{err}");
    }

    /// A v4 Ed25519/Cv25519 certificate with these symmetric preferences.
    fn with_prefs(prefs: &[SymmetricKeyAlgorithm]) -> SignedPublicKey {
        use pgp::composed::{EncryptionCaps, KeyType, SecretKeyParamsBuilder, SubkeyParamsBuilder};
        use pgp::crypto::ecc_curve::ECCCurve;
        let params = SecretKeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("Prefs <prefs@example.org>".into())
            .preferred_symmetric_algorithms(prefs.iter().copied().collect())
            .subkey(
                SubkeyParamsBuilder::default()
                    .key_type(KeyType::ECDH(ECCCurve::Curve25519Legacy))
                    .can_encrypt(EncryptionCaps::All)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        SignedPublicKey::from(params.generate(rand::thread_rng()).unwrap())
    }

    #[test]
    fn cipher_follows_preferences_and_legacy_only_is_weak() {
        use SymmetricKeyAlgorithm::*;
        let now = SystemTime::now();
        let p = Path::new("k.asc");
        let c = evaluate(&with_prefs(&[AES256, AES128]), p, now);
        assert!(c.usable.is_ok());
        assert_eq!(c.cipher, AES256);
        let c = evaluate(&with_prefs(&[]), p, now);
        assert_eq!(c.cipher, AES256, "no preferences: AES-256");
        let c = evaluate(&with_prefs(&[AES128, CAST5]), p, now);
        assert!(c.usable.is_ok());
        assert_eq!(c.cipher, AES128);
        let c = evaluate(&with_prefs(&[CAST5, TripleDES]), p, now);
        assert!(matches!(c.usable, Err(Unusable::Weak(_))), "{:?}", c.usable);
        assert_eq!(c.emails, ["prefs@example.org"]);
    }

    #[test]
    fn garbage_is_a_reason_not_a_panic() {
        assert!(parse_certificates(b"").is_err());
        assert!(parse_certificates(b"hello").is_err());
        assert!(parse_certificates(&[0x99, 0x00, 0x01]).is_err());
        // A keybox header and a blob cut short: an error, not an empty success.
        let mut kbx = vec![0u8; 32];
        kbx[3] = 32;
        kbx[4] = 1;
        kbx[8..12].copy_from_slice(b"KBXf");
        kbx.extend_from_slice(&[0, 0, 0, 200, 2, 1]);
        assert!(parse_certificates(&kbx).is_err());
    }
}
