//! Keys: loading certificates, deciding which are valid, and finding each recipient's
//! (spec/keys.md).
//!
//! Owns: reading the `keyring` sources (directories of `*.asc *.gpg *.pgp *.key`, armored or
//! binary files with any number of certificates and armor blocks, GnuPG keyboxes and GnuPG
//! home directories, through [`crate::keys::kbx`]), the validity rules
//! (self-signatures only, newest wins, revocation, expiry, key flags, weak algorithms) and
//! matching a user ID's e-mail to an address. The `pgp` crate parses packets and verifies
//! signatures; it decides nothing about validity, so every rule lives here.
//!
//! Does not own: the `[recipients]` table and the `missing_key` policy (see
//! [`crate::keys::recipients`]), or a lookup index (every source is parsed for every message).
//!
//! Untrusted input: every byte of every key file. A file that cannot be read or parsed is a
//! [`SourceProblem`] (path and reason) and never stops mail to recipients whose keys are
//! elsewhere; nothing is dropped silently: certificates found vs. loaded are counted.

pub mod gather;
pub mod index;
pub mod kbx;
pub mod policy;
pub mod recipients;

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{self, Signature, SignatureType, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, KeyVersion, Tag};

use crate::diag::sanitize;
use gather::Gathered;

/// Largest key file read; larger ones are reported, not read (they would stall every message).
const MAX_KEY_FILE: u64 = 64 << 20;
/// File name endings read from a key directory (`rev`: revocation certificates, as GnuPG
/// names them in `openpgp-revocs.d/`).
pub const KEY_EXTENSIONS: &[&str] = &["asc", "gpg", "pgp", "key", "rev"];

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
    /// Keys flagged for encryption that the key policy passed over, one line each
    /// ("subkey FPR: unsupported (...)"), whether or not another key is usable.
    pub notes: Vec<String>,
}

/// Everything loaded from the configured sources.
#[derive(Debug, Default)]
pub struct Keyring {
    pub certs: Vec<Cert>,
    pub problems: Vec<SourceProblem>,
}

/// What one message needs from the keyring: the addresses and fingerprints its recipients'
/// keys are looked up under (see [`crate::keys::recipients::wanted`]).
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
pub fn source_files(src: &Path) -> std::result::Result<Vec<PathBuf>, String> {
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

/// Which certificates and revocations a read of a source keeps.
struct Filter<'a> {
    emails: &'a HashSet<String>,
    /// Upper-case hex primary fingerprints.
    fingerprints: HashSet<String>,
    /// Upper-case hex key IDs (a revocation may name its issuer by key ID only).
    key_ids: HashSet<String>,
}

impl Filter<'_> {
    fn keeps(&self, cert: &SignedPublicKey) -> bool {
        let fpr = hex_upper(cert.primary_key.fingerprint().as_bytes());
        self.fingerprints.contains(&fpr)
            || cert
                .details
                .users
                .iter()
                .filter_map(|u| uid_email(u.id.id()))
                .any(|m| self.emails.contains(&m))
    }
}

/// The index keys of a revocation: its issuer fingerprints (kind `f`), else its issuer key
/// IDs (kind `k`), else none at all (kind `n`, looked up by every query).
fn revocation_claims(sig: &Signature) -> Vec<(u8, Vec<u8>)> {
    let fprs: Vec<(u8, Vec<u8>)> = sig
        .issuer_fingerprint()
        .iter()
        .map(|f| (b'f', f.as_bytes().to_vec()))
        .collect();
    if !fprs.is_empty() {
        return fprs;
    }
    let ids: Vec<(u8, Vec<u8>)> = sig
        .issuer_key_id()
        .iter()
        .map(|k| (b'k', k.as_ref().to_vec()))
        .collect();
    if ids.is_empty() {
        vec![(b'n', Vec::new())]
    } else {
        ids
    }
}

impl Keyring {
    /// Loads every source in order, whole; problems are collected, not fatal. Every copy of
    /// a certificate is merged before it is judged, and a revocation that belongs to no
    /// certificate is reported.
    pub fn load(sources: &[PathBuf], now: SystemTime) -> Keyring {
        let mut kr = Keyring::default();
        let mut g = Gathered::default();
        for src in sources {
            match source_files(src) {
                Ok(files) => {
                    for f in files {
                        kr.read_file(&f, &mut g, None, None);
                    }
                }
                Err(reason) => kr.problem(src, reason),
            }
        }
        kr.judge(g, now, true);
        kr
    }

    /// Loads only the certificates a message needs, through the index of each source in
    /// `cache_dir` (rebuilt when missing, stale or corrupt). Without a usable cache
    /// directory every source is read whole, as [`Keyring::load`] does. Two passes: the
    /// wanted addresses and fingerprints, then every other copy of what was found and its
    /// revocations, from every source.
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
        let mut g = Gathered::default();
        let first = Filter {
            emails: &want.emails,
            fingerprints: want.fingerprints.clone(),
            key_ids: HashSet::new(),
        };
        let mut indexed = Vec::new();
        for src in sources {
            match source_files(src) {
                Ok(files) => {
                    let stamp = index::stamp(&files);
                    let ipath = index::path_for(cache, src);
                    kr.take_source(&files, &ipath, &stamp, &first, &mut g, true);
                    indexed.push((files, ipath, stamp));
                }
                Err(reason) => kr.problem(src, reason),
            }
        }
        let none = HashSet::new();
        let second = Filter {
            emails: &none,
            fingerprints: g.fingerprints().map(hex_upper).collect(),
            key_ids: g.key_ids().map(|k| hex_upper(&k)).collect(),
        };
        if !second.fingerprints.is_empty() {
            for (files, ipath, stamp) in &indexed {
                kr.take_source(files, ipath, stamp, &second, &mut g, false);
            }
        }
        kr.judge(g, now, false);
        kr
    }

    /// Takes what `filter` wants from one source: through its index, or by reading it
    /// (rebuilding the index on the way, best effort). Problems are recorded when `report`.
    fn take_source(
        &mut self,
        files: &[PathBuf],
        ipath: &Path,
        stamp: &[u8],
        filter: &Filter,
        g: &mut Gathered,
        report: bool,
    ) {
        let found = index::query(
            ipath,
            stamp,
            filter.emails,
            &filter.fingerprints,
            &filter.key_ids,
        );
        if let Some(c) = found
            && let Some(problems) = take_verified(c, g)
        {
            if report {
                for (p, r) in problems {
                    self.problem(&p, r);
                }
            }
            return;
        }
        let mut builder = index::Builder::new(None).ok();
        let mut quiet = Keyring::default();
        let sink = if report { &mut *self } else { &mut quiet };
        for f in files {
            sink.read_file(f, g, Some(filter), builder.as_mut());
        }
        if let Some(mut b) = builder {
            for p in &sink.problems {
                b.problem(&p.path, &p.reason);
            }
            let _ = b.write(ipath, stamp);
        }
    }

    /// Reads one key file into `g`: everything, or what `filter` keeps (bare revocations
    /// always: they are few, and belong to no address). Each item also goes to `builder`.
    fn read_file(
        &mut self,
        path: &Path,
        g: &mut Gathered,
        filter: Option<&Filter>,
        mut builder: Option<&mut index::Builder>,
    ) {
        let bytes = match read_capped(path) {
            Ok(b) => b,
            Err(reason) => return self.problem(path, reason),
        };
        let mut index_failed = false;
        let parsed = each_certificate(&bytes, &mut |item| {
            if let Some(b) = builder.as_deref_mut()
                && index_item(b, path, &item).is_err()
            {
                index_failed = true;
            }
            match item {
                Item::Cert(c) if filter.is_none_or(|f| f.keeps(&c)) => g.add_cert(*c, path),
                Item::Cert(_) => {}
                Item::Revocation(r) => g.add_revocation(r, path),
            }
        });
        if index_failed {
            self.problem(path, "cannot add it to the key index".into());
        }
        match parsed {
            Ok(errors) => errors.into_iter().for_each(|e| self.problem(path, e)),
            Err(reason) => self.problem(path, reason),
        }
    }

    /// Judges every gathered certificate once; `orphans`: report revocations that belong to
    /// no certificate.
    fn judge(&mut self, g: Gathered, now: SystemTime, orphans: bool) {
        let (certs, lost) = g.finish();
        for (c, src) in &certs {
            self.certs.push(evaluate(c, src, now));
        }
        if orphans {
            for (rev, src) in lost {
                let who: Vec<String> = revocation_claims(&rev)
                    .into_iter()
                    .map(|(_, id)| hex_upper(&id))
                    .collect();
                self.problem(
                    &src,
                    format!(
                        "a revocation certificate for {}, whose certificate is not in the keyring",
                        if who.join("").is_empty() {
                            "an unnamed key".into()
                        } else {
                            who.join(", ")
                        }
                    ),
                );
            }
        }
    }

    fn problem(&mut self, path: &Path, reason: String) {
        self.problems.push(SourceProblem {
            path: path.to_path_buf(),
            reason,
        });
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

/// Adds one item of `source` to the index being built.
fn index_item(b: &mut index::Builder, source: &Path, item: &Item) -> std::io::Result<()> {
    match item {
        Item::Cert(cert) => {
            let fpr = cert.primary_key.fingerprint();
            let emails: Vec<String> = cert
                .details
                .users
                .iter()
                .filter_map(|u| uid_email(u.id.id()))
                .collect();
            let bytes = cert.to_bytes().map_err(std::io::Error::other)?;
            b.add(
                source,
                fpr.as_bytes(),
                &hex_upper(fpr.as_bytes()),
                &emails,
                &bytes,
            )
        }
        Item::Revocation(sig) => {
            let mut bytes = Vec::new();
            pgp::packet::Packet::from(sig.clone())
                .to_writer(&mut bytes)
                .map_err(std::io::Error::other)?;
            for (kind, id) in revocation_claims(sig) {
                b.add_keyed(source, &id, kind, &hex_upper(&id), &bytes)?;
            }
            Ok(())
        }
    }
}

/// Parses what an index returned into `g`, checking each entry against the fingerprint
/// (or key ID) the index claims; `None` (the index is not believed) on any mismatch.
fn take_verified(c: index::Contents, g: &mut Gathered) -> Option<Vec<(PathBuf, String)>> {
    let mut items = Vec::with_capacity(c.entries.len());
    for e in &c.entries {
        let mut found = Vec::new();
        packets(&e.bytes, &mut |i| found.push(i), &mut Vec::new()).ok()?;
        let [item] = <[Item; 1]>::try_from(found).ok()?;
        let claimed = match &item {
            Item::Cert(cert) => {
                hex_upper(cert.primary_key.fingerprint().as_bytes()) == e.fingerprint
            }
            Item::Revocation(sig) => revocation_claims(sig)
                .iter()
                .any(|(_, id)| hex_upper(id) == e.fingerprint),
        };
        if !claimed {
            return None;
        }
        items.push((item, &e.source));
    }
    for (item, src) in items {
        match item {
            Item::Cert(cert) => g.add_cert(*cert, src),
            Item::Revocation(sig) => g.add_revocation(sig, src),
        }
    }
    Some(c.problems)
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

/// One thing a key file holds: a certificate, or a bare key revocation (a revocation
/// certificate, as `gpg --gen-revoke` writes and `openpgp-revocs.d/` keeps).
pub enum Item {
    Cert(Box<SignedPublicKey>),
    Revocation(Signature),
}

/// What one file held: its certificates, its bare revocations, and one message per thing
/// that could not be parsed.
#[derive(Default)]
pub struct Parsed {
    pub certs: Vec<SignedPublicKey>,
    pub revocations: Vec<Signature>,
    pub errors: Vec<String>,
}

/// Parses every certificate and revocation in a file: a GnuPG keybox, armored (any number
/// of armor blocks, each with any number of certificates, or revocations) or binary. `Err`
/// when nothing in the file is usable at all.
pub fn parse_certificates(bytes: &[u8]) -> std::result::Result<Parsed, String> {
    let mut p = Parsed::default();
    p.errors = each_certificate(bytes, &mut |item| match item {
        Item::Cert(c) => p.certs.push(*c),
        Item::Revocation(r) => p.revocations.push(r),
    })?;
    Ok(p)
}

/// [`parse_certificates`], handing each item to `f` as it is parsed instead of collecting
/// them (a large keyring is never held whole). Returns the per-item errors; `Err` when
/// nothing in the file is usable at all.
pub fn each_certificate(
    bytes: &[u8],
    f: &mut dyn FnMut(Item),
) -> std::result::Result<Vec<String>, String> {
    let mut found = 0usize;
    let mut errors = Vec::new();
    let mut take = |item: Item| {
        found += 1;
        f(item);
    };
    if crate::keys::kbx::is_keybox(bytes) {
        let kbx = crate::keys::kbx::read_keybox(bytes)?;
        if kbx.certs.is_empty() && !kbx.errors.is_empty() {
            return Err(kbx.errors.join("; "));
        }
        kbx.certs
            .into_iter()
            .for_each(|c| take(Item::Cert(Box::new(c))));
        return Ok(kbx.errors);
    }
    let Some(start) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Err("empty file".into());
    };
    let blocks = if bytes[start] & 0x80 == 0 {
        split_armor_blocks(bytes)
    } else {
        Vec::new()
    };
    if !blocks.is_empty() {
        for (n, block) in blocks.iter().enumerate() {
            if let Err(e) = armor_block(block, &mut take, &mut errors) {
                errors.push(format!("armor block {}: {e}", n + 1));
            }
        }
    } else if bytes[start] & 0x80 != 0 {
        let before = errors.len();
        packets(&bytes[start..], &mut take, &mut errors)
            .map_err(|e| format!("not an OpenPGP keyring: {e}"))?;
        if found == 0 && errors.len() == before {
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

/// One armor block: its certificates or revocations go to `take`; `Err` when the block as
/// a whole is refused (a secret key block, bad armor, nothing in it).
fn armor_block(
    block: &[u8],
    take: &mut dyn FnMut(Item),
    errors: &mut Vec<String>,
) -> std::result::Result<(), String> {
    if block.starts_with(b"-----BEGIN PGP PRIVATE KEY BLOCK-----") {
        return Err("a secret key block; give public certificates only".into());
    }
    let mut binary = Vec::new();
    pgp::armor::Dearmor::new(Cursor::new(block))
        .read_to_end(&mut binary)
        .map_err(|e| one_line(&e))?;
    let mut n = 0usize;
    let before = errors.len();
    packets(
        &binary,
        &mut |item| {
            n += 1;
            take(item)
        },
        errors,
    )?;
    if n == 0 && errors.len() == before {
        return Err("no certificate and no revocation in it".into());
    }
    Ok(())
}

/// Binary OpenPGP packets: certificates, or (when the first packet is a signature) bare
/// key revocations.
fn packets(
    bytes: &[u8],
    take: &mut dyn FnMut(Item),
    errors: &mut Vec<String>,
) -> std::result::Result<(), String> {
    let Some(&first) = bytes.first() else {
        return Ok(());
    };
    let tag = if first & 0x40 != 0 {
        first & 0x3f
    } else {
        (first >> 2) & 0x0f
    };
    if tag == u8::from(Tag::Signature) {
        return revocations(bytes, take, errors);
    }
    let iter = SignedPublicKey::from_bytes_many(Cursor::new(bytes)).map_err(|e| one_line(&e))?;
    for (n, r) in iter.enumerate() {
        match r {
            Ok(c) => take(Item::Cert(Box::new(c))),
            Err(e) => errors.push(format!("certificate {}: {}", n + 1, one_line(&e))),
        }
    }
    Ok(())
}

/// A run of bare signature packets: each must be a key revocation.
fn revocations(
    bytes: &[u8],
    take: &mut dyn FnMut(Item),
    errors: &mut Vec<String>,
) -> std::result::Result<(), String> {
    for (n, p) in pgp::packet::PacketParser::new(Cursor::new(bytes)).enumerate() {
        match p {
            Ok(pgp::packet::Packet::Signature(s))
                if s.typ() == Some(SignatureType::KeyRevocation) =>
            {
                take(Item::Revocation(s))
            }
            Ok(other) => errors.push(format!(
                "packet {}: a {:?} without a certificate; only key revocations stand alone",
                n + 1,
                pgp::packet::PacketTrait::tag(&other)
            )),
            Err(e) => errors.push(format!("packet {}: {}", n + 1, one_line(&e))),
        }
    }
    Ok(())
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    sanitize(&e.to_string())
}

/// Splits armored text at every `-----BEGIN PGP ` line; text before the first is not
/// part of any block. A line `:-----BEGIN PGP ` (GnuPG's guard in `openpgp-revocs.d/`
/// files) starts a block too, without its colon: a revocation only ever stops mail.
fn split_armor_blocks(text: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PGP ";
    let mut starts = Vec::new();
    let mut line_start = 0;
    while line_start < text.len() {
        let line = &text[line_start..];
        if line.starts_with(BEGIN) {
            starts.push(line_start);
        } else if line.first() == Some(&b':') && line[1..].starts_with(BEGIN) {
            starts.push(line_start + 1);
        }
        match line.iter().position(|&b| b == b'\n') {
            Some(p) => line_start += p + 1,
            None => break,
        }
    }
    let mut blocks = Vec::new();
    for (i, &s) in starts.iter().enumerate() {
        let e = starts
            .get(i + 1)
            .map_or(text.len(), |&n| n - usize::from(text[n - 1] == b':'));
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

const MODERN_CIPHERS: &[SymmetricKeyAlgorithm] = &[
    SymmetricKeyAlgorithm::AES128,
    SymmetricKeyAlgorithm::AES192,
    SymmetricKeyAlgorithm::AES256,
    SymmetricKeyAlgorithm::Twofish,
    SymmetricKeyAlgorithm::Camellia128,
    SymmetricKeyAlgorithm::Camellia192,
    SymmetricKeyAlgorithm::Camellia256,
];

/// Applies the validity rules of pgpsendmail(8), KEYS, to one certificate. The key policy
/// (hashes, key sizes, what the encryptor can use) is [`crate::keys::policy`]'s.
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
        notes: Vec::new(),
    };

    if primary.version() != KeyVersion::V4 {
        out.usable = Err(Unusable::Unsupported(format!(
            "a version {} key; pgpsendmail encrypts to version 4 keys (SEIPD v1)",
            u8::from(primary.version())
        )));
        return out;
    }
    // Why a verified self-signature did not count (rule 7), for the reason given.
    let weak_sig = RefCell::new(None);

    // Rule 3: a valid self-revocation makes the whole certificate unusable. Revocations
    // are honoured whatever their hash: they can only stop mail.
    let revoked = cert.details.revocation_signatures.iter().any(|s| {
        s.typ() == Some(SignatureType::KeyRevocation)
            && gather::issued_by(s, primary)
            && secs(s).is_some_and(|c| c <= now)
            && s.verify_key(primary).is_ok()
    });

    // Rule 2: a user ID counts if its newest valid self-signature is a certification.
    let mut uid_sigs: Vec<(&Signature, bool)> = Vec::new(); // (newest valid cert sig, primary?)
    // Addresses whose self-signatures verify but do not count by the key policy: they name
    // the certificate in a refusal, so that it gives the reason.
    let mut weak_emails = Vec::new();
    for user in &cert.details.users {
        let verified: Vec<&Signature> = user
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
                ) && gather::issued_by(s, primary)
                    && alive(s, now)
                    && s.verify_certification(primary, Tag::UserId, &user.id)
                        .is_ok()
            })
            .collect();
        let newest = verified
            .iter()
            .copied()
            .filter(|s| {
                s.typ() == Some(SignatureType::CertRevocation) || hash_counts(s, now, &weak_sig)
            })
            .max_by_key(|s| secs(s));
        match newest {
            Some(sig) if sig.typ() != Some(SignatureType::CertRevocation) => {
                out.emails.extend(uid_email(user.id.id()));
                uid_sigs.push((sig, sig.is_primary()));
            }
            Some(_) => {}
            None if !verified.is_empty() => weak_emails.extend(uid_email(user.id.id())),
            None => {}
        }
    }
    // Rule 6: a weak primary key makes the whole certificate weak.
    if let Some(w) = policy::weak_key(primary.public_params()) {
        out.emails.append(&mut weak_emails);
        out.usable = Err(Unusable::Weak(format!("primary key: {w}")));
        return out;
    }
    let direct = cert
        .details
        .direct_signatures
        .iter()
        .filter(|s| {
            s.typ() == Some(SignatureType::Key)
                && gather::issued_by(s, primary)
                && alive(s, now)
                && s.verify_key(primary).is_ok()
                && hash_counts(s, now, &weak_sig)
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
        } else if let Some(w) = weak_sig.take() {
            out.emails.append(&mut weak_emails);
            Unusable::Weak(w)
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

    // Rules 4, 5 and 8: the keys the encryptor can use.
    let mut found = Found::default();
    let primary_flags_ok = has_key_flags(primary_sig) && {
        let f = primary_sig.key_flags();
        f.encrypt_comms() || f.encrypt_storage()
    };
    if primary_flags_ok && can_encrypt(primary.algorithm()) {
        found.offer(
            EncryptionKey::Primary(primary.clone()),
            primary_expiry,
            "primary key".into(),
        );
    }
    for sub in &cert.public_subkeys {
        subkey(sub, primary, now, &weak_sig, &mut found);
    }
    out.notes = std::mem::take(&mut found.notes);
    // Usable until the primary expires, or the last encryption key does.
    let last_key = if found.expiries.iter().any(Option::is_none) {
        None
    } else {
        found.expiries.iter().flatten().max().copied()
    };
    out.expires = match (primary_expiry, last_key) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    out.usable = found.verdict(weak_sig.take());
    out
}

/// When a key made at `created` expires by `sig` (Unix time), if it does.
fn key_expiry(sig: &Signature, created: u64) -> Option<u64> {
    match sig.key_expiration_time() {
        Some(d) if d.as_secs() != 0 => Some(created + u64::from(d.as_secs())),
        _ => None,
    }
}

/// Rule 7: whether a verified self-signature's hash lets it count; the first reason it did
/// not is kept in `weak`.
fn hash_counts(sig: &Signature, now: u64, weak: &RefCell<Option<String>>) -> bool {
    match policy::weak_hash(sig, now) {
        None => true,
        Some(w) => {
            weak.borrow_mut().get_or_insert(w);
            false
        }
    }
}

/// The encryption keys of one certificate, and why the others were passed over.
#[derive(Default)]
struct Found {
    keys: Vec<EncryptionKey>,
    /// Expiry of each key in `keys` (None: never).
    expiries: Vec<Option<u64>>,
    weak: Option<String>,
    unsupported: Option<String>,
    expired: Option<u64>,
    /// One line per key passed over by the key policy: "subkey FPR: reason".
    notes: Vec<String>,
}

impl Found {
    /// Takes `key` (live, flagged for encryption) when the policy lets the encryptor use it.
    fn offer(&mut self, key: EncryptionKey, expiry: Option<u64>, what: String) {
        let (params, tried) = match &key {
            EncryptionKey::Subkey(k) => (k.public_params(), policy::encryptable(k)),
            EncryptionKey::Primary(k) => (k.public_params(), policy::encryptable(k)),
        };
        if let Some(w) = policy::weak_key(params) {
            self.notes.push(format!("{what}: weak ({w})"));
            self.weak.get_or_insert(w);
        } else if let Err(why) = tried {
            self.notes.push(format!("{what}: unsupported ({why})"));
            self.unsupported.get_or_insert(why);
        } else {
            self.keys.push(key);
            self.expiries.push(expiry);
        }
    }

    /// The certificate's verdict: its keys, or the most telling reason there are none.
    fn verdict(
        self,
        weak_sig: Option<String>,
    ) -> std::result::Result<Vec<EncryptionKey>, Unusable> {
        if !self.keys.is_empty() {
            Ok(self.keys)
        } else if let Some(w) = self.weak {
            Err(Unusable::Weak(w))
        } else if let Some(u) = self.unsupported {
            Err(Unusable::Unsupported(u))
        } else if let Some(exp) = self.expired {
            Err(Unusable::Expired(exp))
        } else if let Some(w) = weak_sig {
            Err(Unusable::Weak(w))
        } else {
            Err(Unusable::NoEncryptionKey)
        }
    }
}

/// Rules 4 and 5 for one subkey: its newest valid binding, its flags, revocation and expiry.
fn subkey(
    sub: &pgp::composed::SignedPublicSubKey,
    primary: &packet::PublicKey,
    now: u64,
    weak_sig: &RefCell<Option<String>>,
    found: &mut Found,
) {
    let valid = |s: &&Signature| {
        gather::issued_by(s, primary)
            && secs(s).is_some_and(|c| c <= now)
            && s.verify_subkey_binding(primary, &sub.key).is_ok()
    };
    let sub_revoked = sub
        .signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
        .any(|s| valid(&s));
    if sub_revoked {
        return;
    }
    let binding = sub
        .signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding) && alive(s, now))
        .filter(valid)
        .filter(|s| hash_counts(s, now, weak_sig))
        .max_by_key(|s| secs(s));
    let Some(binding) = binding else { return };
    let flagged = if has_key_flags(binding) {
        let f = binding.key_flags();
        f.encrypt_comms() || f.encrypt_storage()
    } else {
        true
    };
    if !flagged || !can_encrypt(sub.key.algorithm()) {
        return;
    }
    let sub_created = sub.key.created_at().as_secs() as u64;
    let expiry = key_expiry(binding, sub_created);
    if let Some(exp) = expiry
        && exp <= now
    {
        found.expired = Some(found.expired.map_or(exp, |e| e.max(exp)));
        return;
    }
    let what = format!("subkey {}", hex_upper(sub.key.fingerprint().as_bytes()));
    found.offer(EncryptionKey::Subkey(sub.key.clone()), expiry, what);
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
        crate::sys::mkfifo(&fifo, 0o600).unwrap();
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
    fn gnupgs_guarded_armor_line_starts_a_block_without_its_colon() {
        let t = b"This is a revocation certificate\n\n:-----BEGIN PGP PUBLIC KEY BLOCK-----\nA\n\
-----END PGP PUBLIC KEY BLOCK-----\n:-----BEGIN PGP PUBLIC KEY BLOCK-----\nB\n";
        let blocks = split_armor_blocks(t);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].starts_with(b"-----BEGIN") && blocks[0].ends_with(b"BLOCK-----\n"));
        assert!(blocks[1].starts_with(b"-----BEGIN"));
        assert!(split_armor_blocks(b"no armor here\n").is_empty());
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
