//! Keys: loading certificates, deciding which are valid, and finding each recipient's
//! (pgpsendmail(8), KEYS).
//!
//! Owns: reading the `keyring` sources (directories of `*.asc *.gpg *.pgp *.key *.rev`,
//! armored or binary files with any number of certificates, armor blocks and revocation
//! certificates, GnuPG keyboxes through [`kbx`] and GnuPG home directories), the
//! [`Keyring`] a message or an admin command works with ([`Keyring::load`]: every source
//! whole; [`Keyring::load_for`]: only what a message's recipients need, in two passes
//! through each source's index), and looking a recipient's address up in it
//! ([`Keyring::by_email`]). The `pgp` crate parses packets and verifies signatures; it
//! decides nothing about validity.
//!
//! The rest of the key handling is in the submodules: [`gather`] merges every copy of a
//! certificate and attaches bare revocations before it is judged; [`validity`] judges it
//! ([`evaluate`], the rules of pgpsendmail(8), KEYS) and defines what a judged certificate
//! is ([`Cert`], re-exported here with its helpers); [`policy`] is the key policy those
//! rules apply (hashes, key sizes, what the encryptor can use); [`index`] is the per-source
//! index in the cache directory, which narrows the search and never vouches (what it
//! returns is parsed again and checked against its fingerprint; its recorded verdict on a
//! certificate stands in for the signature checks only for exactly the merged certificate
//! it judged and only while it holds, see `cached`; else it is judged like any other).
//!
//! Does not own: the `[recipients]` table and the `missing_key` policy (see
//! [`recipients`]).
//!
//! Untrusted input: every byte of every key file, and the index files. A file that cannot
//! be read or parsed is a [`SourceProblem`] (path and reason) and never stops mail to
//! recipients whose keys are elsewhere; nothing is dropped silently: certificates found
//! vs. loaded are counted.

pub mod gather;
pub mod index;
pub mod kbx;
pub mod policy;
pub mod recipients;
pub mod store;
pub mod validity;
mod wire;

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::packet::{Signature, SignatureType};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, Tag};

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::diag::sanitize;
use crate::message::address::Address;
use crate::message::canonical::{self, LocalCase};
use gather::Gathered;
pub use validity::{
    COMMON_SUITE, Cert, DEFAULT_SUITE, EncryptionKey, Suite, Unusable, evaluate, hex_upper,
    uid_email,
};

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

/// Everything loaded from the configured sources.
#[derive(Debug, Default)]
pub struct Keyring {
    pub certs: Vec<Cert>,
    pub problems: Vec<SourceProblem>,
    /// The discovered directory, when it was loaded (after every `keyring` source): its
    /// certificates rank below theirs ([`Keyring::by_email`]).
    pub discovered: Option<PathBuf>,
}

/// The key sources of `cfg`: its `keyring`, then the discovered directory (`[discovery]
/// dir`) when it exists. So a certificate in both keeps its `keyring` source, and merges
/// what the discovered copy adds (a revocation from any source stops mail to that key).
pub fn sources(cfg: &Config) -> (Vec<PathBuf>, Option<PathBuf>) {
    let mut all = cfg.keyring.clone();
    let dir = &cfg.discovery.dir;
    let discovered = (dir.is_dir() && !all.contains(dir)).then(|| dir.clone());
    all.extend(discovered.clone());
    (all, discovered)
}

/// What one message needs from the keyring: the addresses and fingerprints its recipients'
/// keys are looked up under (see [`crate::keys::recipients::wanted`]).
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// E-mail addresses as [`index_key`] spells them.
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
                .any(|m| self.emails.contains(&index_key(&m)))
    }
}

/// The spelling an address is found under in the index and through [`Wanted`]: its
/// matching key with the local part folded ([`canonical::key`], [`LocalCase::Ignore`]),
/// whatever `local_part_case` says. That finds every certificate an exact match could
/// want; [`Keyring::by_email`] then matches as the setting says.
pub fn index_key(addr: &str) -> String {
    canonical::key(addr, LocalCase::Ignore)
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
    /// [`Keyring::load`] of every source of `cfg` ([`sources`]).
    pub fn load_config(cfg: &Config, now: SystemTime) -> Keyring {
        let (all, discovered) = sources(cfg);
        let mut kr = Self::load(&all, now);
        kr.discovered = discovered;
        kr
    }

    /// [`Keyring::load_for`] of every source of `cfg` ([`sources`]).
    pub fn load_config_for(
        cfg: &Config,
        cache_dir: Option<&Path>,
        want: &Wanted,
        now: SystemTime,
    ) -> Keyring {
        let (all, discovered) = sources(cfg);
        let mut kr = Self::load_for(&all, cache_dir, want, now);
        kr.discovered = discovered;
        kr
    }

    /// Whether `cert` came from the discovered directory (and from no `keyring` source).
    pub fn is_discovered(&self, cert: &Cert) -> bool {
        self.discovered
            .as_deref()
            .is_some_and(|d| cert.source.starts_with(d))
    }

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
                        kr.read_file(&f, &mut g, None, None, now);
                    }
                }
                Err(reason) => kr.problem(src, reason),
            }
        }
        kr.judge(g, now, true, &HashMap::new());
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
        let mut verdicts = HashMap::new();
        for src in sources {
            match source_files(src) {
                Ok(files) => {
                    let stamp = index::stamp(&files);
                    let ipath = index::path_for(cache, src);
                    let take = (&first, &mut g, &mut verdicts);
                    kr.take_source(&files, &ipath, &stamp, take, true, now);
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
                let take = (&second, &mut g, &mut verdicts);
                kr.take_source(files, ipath, stamp, take, false, now);
            }
        }
        kr.judge(g, now, false, &verdicts);
        kr
    }

    /// Takes what `filter` wants from one source into `g`: through its index (its recorded
    /// verdicts into `verdicts`), or by reading it (rebuilding the index on the way, best
    /// effort, each certificate judged as of `now` for its verdict). Problems are recorded
    /// when `report`.
    fn take_source(
        &mut self,
        files: &[PathBuf],
        ipath: &Path,
        stamp: &[u8],
        (filter, g, verdicts): (&Filter, &mut Gathered, &mut HashMap<String, Vec<u8>>),
        report: bool,
        now: SystemTime,
    ) {
        let found = index::query(
            ipath,
            stamp,
            filter.emails,
            &filter.fingerprints,
            &filter.key_ids,
        );
        if let Some(c) = found
            && let Some(problems) = take_verified(c, g, verdicts)
        {
            if report {
                for (p, r) in problems {
                    self.problem(&p, r);
                }
            }
            return;
        }
        let mut builder = index::Builder::new(None).ok();
        // The index being replaced: the verdicts of certificates that did not change.
        let previous = builder.as_ref().and_then(|_| index::Previous::open(ipath));
        let mut build = builder.as_mut().map(|b| (b, previous.as_ref()));
        let mut quiet = Keyring::default();
        let sink = if report { &mut *self } else { &mut quiet };
        for f in files {
            sink.read_file(f, g, Some(filter), build.as_mut(), now);
        }
        if let Some(mut b) = builder {
            for p in &sink.problems {
                b.problem(&p.path, &p.reason);
            }
            let _ = b.write(ipath, stamp);
        }
    }

    /// Reads one key file into `g`: everything, or what `filter` keeps (bare revocations
    /// always: they are few, and belong to no address). Each item also goes to `builder`,
    /// a certificate with its verdict as of `now` (kept from the previous index when it
    /// judged the same bytes and still holds).
    fn read_file(
        &mut self,
        path: &Path,
        g: &mut Gathered,
        filter: Option<&Filter>,
        mut builder: Option<&mut (&mut index::Builder, Option<&index::Previous>)>,
        now: SystemTime,
    ) {
        let bytes = match read_capped(path) {
            Ok(b) => b,
            Err(reason) => return self.problem(path, reason),
        };
        let mut index_failed = false;
        let parsed = each_certificate(&bytes, &mut |item| {
            if let Some((b, previous)) = builder.as_deref_mut()
                && index_item(b, *previous, path, &item, now).is_err()
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

    /// Judges every gathered certificate once, or takes the verdict an index recorded for
    /// it when that verdict is for exactly these bytes and still holds ([`cached`]);
    /// `orphans`: report revocations that belong to no certificate.
    fn judge(
        &mut self,
        g: Gathered,
        now: SystemTime,
        orphans: bool,
        verdicts: &HashMap<String, Vec<u8>>,
    ) {
        let (certs, lost) = g.finish();
        for (c, src) in &certs {
            let fpr = hex_upper(c.primary_key.fingerprint().as_bytes());
            let judged = verdicts
                .get(&fpr)
                .and_then(|v| cached(v, c, src, now))
                .unwrap_or_else(|| evaluate(c, src, now));
            self.certs.push(judged);
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

    /// Certificates with a counting user ID for `addr`: the same matching key
    /// ([`canonical::key`]) with the local part compared as `case` says. Discovered ones only
    /// when no `keyring` source has a certificate for `addr`, usable or not: what the
    /// administrator put there is never outranked (pgpsendmail(8), KEYS).
    pub fn by_email<'a>(
        &'a self,
        addr: &Address,
        case: LocalCase,
    ) -> impl Iterator<Item = &'a Cert> + 'a {
        let hits = self.matching(addr, case);
        let manual = hits.iter().any(|c| !self.is_discovered(c));
        hits.into_iter()
            .filter(move |c| !(manual && self.is_discovered(c)))
    }

    /// Every certificate with a counting user ID for `addr`, discovered or not.
    fn matching(&self, addr: &Address, case: LocalCase) -> Vec<&Cert> {
        let want = addr.match_key(case);
        self.certs
            .iter()
            .filter(|c| c.emails.iter().any(|e| canonical::key(e, case) == want))
            .collect()
    }

    /// Discovered certificates for `addr` that [`Keyring::by_email`] passes over, because a
    /// `keyring` source has one for it.
    pub fn outranked<'a>(
        &'a self,
        addr: &Address,
        case: LocalCase,
    ) -> impl Iterator<Item = &'a Cert> + 'a {
        let used: Vec<&str> = self
            .by_email(addr, case)
            .map(|c| c.fingerprint.as_str())
            .collect();
        self.matching(addr, case)
            .into_iter()
            .filter(move |c| self.is_discovered(c) && !used.contains(&c.fingerprint.as_str()))
    }

    /// The certificate with this primary fingerprint (normalized upper-case hex).
    pub fn by_fingerprint(&self, fpr: &str) -> Option<&Cert> {
        self.certs.iter().find(|c| c.fingerprint == fpr)
    }
}

/// The verdict an index keeps with a certificate: the SHA-256 of the certificate it judged
/// (one copy, as [`Gathered`] keeps it), when it was judged and until when it holds
/// ([`validity::verdict_holds_until`]), then the verdict ([`validity::encode_verdict`]).
fn verdict_record(
    cert: &SignedPublicKey,
    previous: Option<&index::Previous>,
    source: &Path,
    now: SystemTime,
) -> Option<Vec<u8>> {
    let one = gather::normalized(cert);
    let bytes = one.to_bytes().ok()?;
    let at = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    let hash = Sha256::digest(&bytes);
    if let Some(p) = previous {
        let fpr = hex_upper(one.primary_key.fingerprint().as_bytes());
        if let Some(v) = p
            .verdicts(&fpr)
            .into_iter()
            .find(|v| holding(v, &hash, now).is_some())
        {
            return Some(v);
        }
    }
    let mut out = hash.to_vec();
    out.extend_from_slice(&at.to_le_bytes());
    out.extend_from_slice(&validity::verdict_holds_until(&one, at).to_le_bytes());
    out.extend_from_slice(&validity::encode_verdict(&evaluate(&one, source, now)));
    Some(out)
}

/// The recorded verdict `v` on `cert` (merged from every copy found, revocations attached)
/// as a [`Cert`], when it was made for exactly these bytes, at or before `now`, and holds
/// beyond `now`; `None`: judge it. So a second copy elsewhere, or a revocation found in
/// another source, changes the bytes and the certificate is judged again.
fn cached(v: &[u8], cert: &SignedPublicKey, source: &Path, now: SystemTime) -> Option<Cert> {
    let verdict = holding(v, &Sha256::digest(cert.to_bytes().ok()?), now)?;
    validity::decode_verdict(verdict, cert, source)
}

/// The verdict in the record `v` when it judged the certificate whose SHA-256 is `hash`,
/// at or before `now`, and holds beyond `now`.
fn holding<'a>(v: &'a [u8], hash: &[u8], now: SystemTime) -> Option<&'a [u8]> {
    let (judged, rest) = v.split_first_chunk::<32>()?;
    let (at, rest) = rest.split_first_chunk::<8>()?;
    let (until, verdict) = rest.split_first_chunk::<8>()?;
    let now = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    let holds = (u64::from_le_bytes(*at)..u64::from_le_bytes(*until)).contains(&now);
    (holds && judged[..] == hash[..]).then_some(verdict)
}

/// Adds one item of `source` to the index being built (a certificate with its verdict as
/// of `now`).
fn index_item(
    b: &mut index::Builder,
    previous: Option<&index::Previous>,
    source: &Path,
    item: &Item,
    now: SystemTime,
) -> std::io::Result<()> {
    match item {
        Item::Cert(cert) => {
            let fpr = cert.primary_key.fingerprint();
            let emails: Vec<String> = cert
                .details
                .users
                .iter()
                .filter_map(|u| uid_email(u.id.id()))
                .map(|e| index_key(&e))
                .collect();
            let bytes = cert.to_bytes().map_err(std::io::Error::other)?;
            b.add(
                source,
                fpr.as_bytes(),
                &hex_upper(fpr.as_bytes()),
                &emails,
                &bytes,
                verdict_record(cert, previous, source, now).as_deref(),
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
/// (or key ID) the index claims, and each certificate's recorded verdict into `verdicts`;
/// `None` (the index is not believed) on any mismatch.
fn take_verified(
    c: index::Contents,
    g: &mut Gathered,
    verdicts: &mut HashMap<String, Vec<u8>>,
) -> Option<Vec<(PathBuf, String)>> {
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
        items.push((item, &e.source, &e.verdict));
    }
    for (item, src, verdict) in items {
        match item {
            Item::Cert(cert) => {
                if let Some(v) = verdict {
                    verdicts.insert(
                        hex_upper(cert.primary_key.fingerprint().as_bytes()),
                        v.clone(),
                    );
                }
                g.add_cert(*cert, src)
            }
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
    fn discovered_certificates_rank_below_the_keyring_sources() {
        // two.asc holds two certificates for two@example.org: one in the key directory,
        // the other discovered (pgpsendmail(8), KEYS, Discovered certificates).
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys");
        let parsed = parse_certificates(&std::fs::read(data.join("two.asc")).unwrap()).unwrap();
        let (manual, found) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let armored = |c: &SignedPublicKey| {
            c.to_armored_string(pgp::composed::ArmorOptions::default())
                .unwrap()
        };
        std::fs::write(manual.path().join("a.asc"), armored(&parsed.certs[0])).unwrap();
        std::fs::write(found.path().join("b.asc"), armored(&parsed.certs[1])).unwrap();
        let mut cfg = Config::default();
        cfg.discovery.dir = found.path().to_path_buf();
        let now = SystemTime::now();
        let two = Address::parse_single("two@example.org").unwrap();
        let fprs = |kr: &Keyring| -> Vec<String> {
            kr.by_email(&two, LocalCase::Ignore)
                .map(|c| c.fingerprint.clone())
                .collect()
        };
        let fpr = |i: usize| hex_upper(parsed.certs[i].primary_key.fingerprint().as_bytes());
        cfg.keyring = vec![manual.path().to_path_buf()];
        let kr = Keyring::load_config(&cfg, now);
        assert_eq!(
            fprs(&kr),
            vec![fpr(0)],
            "the discovered one outranked the key directory"
        );
        assert_eq!(kr.outranked(&two, LocalCase::Ignore).count(), 1);
        // With nothing in the key directory for the address, the discovered one is used.
        cfg.keyring = vec![found.path().join("none")];
        let kr = Keyring::load_config(&cfg, now);
        assert_eq!(fprs(&kr), vec![fpr(1)]);
        assert!(kr.is_discovered(&kr.certs[0]));
    }

    #[test]
    fn uid_emails() {
        assert_eq!(
            uid_email(b"Alice <Alice@Example.ORG>").unwrap(),
            "Alice@example.org"
        );
        assert_eq!(
            index_key(&uid_email(b"Alice <Alice@Example.ORG>").unwrap()),
            "alice@example.org"
        );
        // Every spelling of an internationalized domain, and NFC.
        for uid in [
            "C <c@xn--exmple-cua.org>",
            "C <c@EXÄMPLE.ORG>",
            "C <c@exa\u{308}mple.org>",
        ] {
            assert_eq!(uid_email(uid.as_bytes()).unwrap(), "c@exämple.org", "{uid}");
        }
        assert_eq!(uid_email(b"bob@example.org").unwrap(), "bob@example.org");
        assert!(uid_email(b"Just A Name").is_none());
        assert!(uid_email(b"Broken <a@b").is_none());
        assert!(uid_email(b"\xff<a@b>").is_none());
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
