//! The key index: lets a message find its recipients' certificates in a large keyring
//! without parsing the whole keyring (pgpsendmail.toml(5), `cache_dir`).
//!
//! Owns: one index file per `keyring` source in the cache directory, named by a hash of the
//! source path. It holds the source's certificates in binary form, a sorted table from
//! hashed e-mail address and fingerprint to certificate, and the problems found while
//! reading the source, so that warnings stay the same. It records the size, mtime, ctime
//! and inode of every file it was built from; when any of them differs, or the file is
//! corrupt (checksum), truncated or from another version, it is not believed: the caller
//! rebuilds it from the source. It is written to a temporary file and renamed into place,
//! so two processes rebuilding at once each leave a whole index. Also which cache directory
//! a run uses, made on first use ([`cache_dir`]): root's system one or another user's
//! private one, never one that others could write.
//!
//! Untrusted input: the index file (it may be stale, corrupt or crafted). Every certificate
//! read through it is parsed again and checked against the fingerprint the index claims.
//! A certificate's recorded verdict is opaque here (kept behind its own SHA-256); the
//! caller uses it only for exactly the certificate it judged and only while it holds, else
//! judges with [`crate::keys::evaluate`] like any other: the index never vouches beyond
//! what its source said, and is believed no further than [`trusted`] allows.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::wire::{Cursor, put_str};

/// Version 6: both of version 5's changes (they were made apart): addresses are keyed by
/// their matching spelling (NFC, the domain through UTS 46, the local part folded in
/// Unicode: `keys::index_key`), verdicts keep them with the local part as written, and a
/// verdict says whether the certificate takes SEIPD v2, and its suite. Version 4: a
/// certificate may carry its validity verdict (after its bytes, with its own
/// SHA-256). Version 3: bare revocations are entries too, keyed by their issuer. A change
/// to the validity rules or the key policy (`validity.rs`, `policy.rs`) must bump it too:
/// an index of another version, and so every verdict it recorded, is not believed.
const MAGIC: &[u8; 8] = b"PGPSMIX6";
/// Magic, length of the small section, its SHA-256, certificate and key counts.
const HEADER: u64 = 64;
/// A certificate record: blob offset and length, source, fingerprint, verdict length, check.
const CERT_REC: u64 = 64;
/// A key record: address or fingerprint hash, certificate number, check.
const KEY_REC: u64 = 24;
/// The small section (stamp, problems, sources) is read whole; larger ones are not believed.
const MAX_SMALL: u64 = 64 << 20;

/// One certificate found through the index.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file it came from.
    pub source: PathBuf,
    /// Primary fingerprint, upper-case hex, as the index claims it.
    pub fingerprint: String,
    /// The certificate, as binary OpenPGP packets.
    pub bytes: Vec<u8>,
    /// The verdict recorded with it (opaque here; its checksum held), if any.
    pub verdict: Option<Vec<u8>>,
}

/// What a query found: the wanted certificates and the problems found reading the source.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    pub entries: Vec<Entry>,
    /// (file, reason)
    pub problems: Vec<(PathBuf, String)>,
}

/// The identity of the files a source was read from.
pub fn stamp(files: &[PathBuf]) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(&(files.len() as u32).to_le_bytes());
    for f in files {
        put_str(&mut s, &f.to_string_lossy());
        match std::fs::metadata(f) {
            Ok(m) => {
                for v in [
                    m.len(),
                    m.mtime() as u64,
                    m.mtime_nsec() as u64,
                    m.ctime() as u64,
                    m.ctime_nsec() as u64,
                    m.ino(),
                    m.dev(),
                ] {
                    s.extend_from_slice(&v.to_le_bytes());
                }
            }
            Err(_) => s.extend_from_slice(&[0xff; 8]),
        }
    }
    s
}

/// Whether a cache directory or index file may be believed at all: owned by root or by us,
/// and writable by nobody else. An index decides which certificates a message is encrypted
/// to, so one that another user could have written (a cache in /tmp, say) is never used.
pub fn trusted(meta: &std::fs::Metadata) -> bool {
    let me = crate::sys::euid();
    (meta.uid() == 0 || meta.uid() == me) && meta.mode() & 0o022 == 0
}

/// Where a run may keep its key indexes: the directory the configuration names (`cache_dir`)
/// or the default one, and the private places of a user other than root.
#[derive(Debug, Clone)]
pub struct CachePlaces {
    /// `cache_dir` when the configuration names one.
    pub configured: Option<PathBuf>,
    /// The default, `/var/cache/pgpsendmail` (`PGPSENDMAIL_CACHE_DIR` for tests).
    pub default: PathBuf,
    /// `XDG_CACHE_HOME`, when set to an absolute path.
    pub xdg_cache_home: Option<PathBuf>,
    /// The home directory of the real uid, from the password database (not `$HOME`).
    pub home: Option<PathBuf>,
    /// The effective uid the run has (root makes the system directory).
    pub euid: u32,
}

/// The cache directory a run uses, made on first use when it can be (pgpsendmail.toml(5),
/// `cache_dir`). The configured (or default) directory when it is usable; when it is
/// missing, root makes it (mode 0755, only when its parent exists); any other user gets a
/// private one, `$XDG_CACHE_HOME/pgpsendmail` or `~/.cache/pgpsendmail` (mode 0700), made
/// when missing. A directory is only used when [`trusted`]. `Err`: the places tried, when
/// none is usable (then every source is read whole for every message).
pub fn cache_dir(p: &CachePlaces) -> Result<PathBuf, Vec<PathBuf>> {
    let system = p.configured.clone().unwrap_or_else(|| p.default.clone());
    if usable(&system) {
        return Ok(system);
    }
    if p.euid == 0 {
        // Only the directory itself: a missing parent (no /var/cache) is not made up.
        if std::fs::symlink_metadata(&system).is_err()
            && system.parent().is_some_and(|d| d.is_dir())
            && make_dir(&system, 0o755).is_ok()
            && usable(&system)
        {
            return Ok(system);
        }
        return Err(vec![system]);
    }
    let mut tried = vec![system];
    let bases = [
        p.xdg_cache_home.clone().filter(|d| d.is_absolute()),
        p.home
            .as_ref()
            .filter(|h| h.is_absolute())
            .map(|h| h.join(".cache")),
    ];
    for base in bases.into_iter().flatten() {
        let dir = base.join("pgpsendmail");
        if private(&base, p.euid) && private(&dir, p.euid) {
            return Ok(dir);
        }
        tried.push(dir);
    }
    Err(tried)
}

/// A directory that is there and [`trusted`].
fn usable(dir: &Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && trusted(&m))
}

/// `dir`, made with mode 0700 when missing (its parent must exist), is ours and writable by
/// nobody else.
fn private(dir: &Path, me: u32) -> bool {
    if std::fs::symlink_metadata(dir).is_err() && make_dir(dir, 0o700).is_err() {
        return false;
    }
    std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == me && m.mode() & 0o022 == 0)
}

/// Makes one directory with exactly `mode` (our umask, 077, would narrow 0755).
fn make_dir(dir: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().mode(mode).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// Where the index of `source` lives in `cache_dir`.
pub fn path_for(cache_dir: &Path, source: &Path) -> PathBuf {
    let canon = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let h = Sha256::digest(canon.as_os_str().as_encoded_bytes());
    let name = crate::diag::hex_lower(&h[..16]);
    cache_dir.join(format!("{name}.idx"))
}

fn key_hash(kind: u8, s: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update([kind, b':']);
    h.update(s.as_bytes());
    let d = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// The last four bytes of a record: a check over the rest, so that a damaged record is
/// noticed when it is read (records are read one by one, never the whole table).
fn check(rec: &[u8]) -> [u8; 4] {
    let d = Sha256::digest(rec);
    [d[0], d[1], d[2], d[3]]
}

/// Builds an index while a source is read: certificates go to an anonymous file as they
/// come, and only a few dozen bytes a certificate stay in memory.
pub struct Builder {
    blobs: File,
    blob_len: u64,
    /// (blob offset, length, source number, fingerprint bytes, verdict length)
    certs: Vec<(u64, u32, u32, Vec<u8>, u32)>,
    keys: Vec<([u8; 16], u32)>,
    sources: Vec<String>,
    problems: Vec<(PathBuf, String)>,
}

impl Builder {
    pub fn new(tmpdir: Option<&Path>) -> io::Result<Builder> {
        Ok(Builder {
            blobs: crate::spool::anon_file("pgpsendmail-index", tmpdir)?,
            blob_len: 0,
            certs: Vec::new(),
            keys: Vec::new(),
            sources: Vec::new(),
            problems: Vec::new(),
        })
    }

    /// Adds one certificate: where it came from, its primary fingerprint (raw bytes and
    /// hex), the e-mail part of its user IDs, its binary packets and the verdict to keep
    /// with it, if any (stored after them with a SHA-256 of its own).
    pub fn add(
        &mut self,
        source: &Path,
        fpr: &[u8],
        fpr_hex: &str,
        emails: &[String],
        bytes: &[u8],
        verdict: Option<&[u8]>,
    ) -> io::Result<()> {
        let v_len = verdict.map_or(0, |v| v.len() + 32);
        if fpr.len() > 32 || bytes.len() > u32::MAX as usize || v_len > u32::MAX as usize {
            return Err(io::Error::other("certificate too large for the index"));
        }
        let src = source.to_string_lossy();
        let src_idx = match self.sources.iter().position(|s| *s == src) {
            Some(i) => i,
            None => {
                self.sources.push(src.into_owned());
                self.sources.len() - 1
            }
        } as u32;
        self.blobs.write_all(bytes)?;
        if let Some(v) = verdict {
            self.blobs.write_all(v)?;
            self.blobs.write_all(&Sha256::digest(v))?;
        }
        let idx = self.certs.len() as u32;
        self.certs.push((
            self.blob_len,
            bytes.len() as u32,
            src_idx,
            fpr.to_vec(),
            v_len as u32,
        ));
        self.blob_len += (bytes.len() + v_len) as u64;
        self.keys.push((key_hash(b'f', fpr_hex), idx));
        let mut seen = HashSet::new();
        for m in emails {
            if seen.insert(m) {
                self.keys.push((key_hash(b'e', m), idx));
            }
        }
        Ok(())
    }

    /// Adds one entry found under a single key of `kind`: `f` a fingerprint, `k` a key ID,
    /// `n` none (looked up by every query). For bare revocations, keyed by their issuer.
    pub fn add_keyed(
        &mut self,
        source: &Path,
        id: &[u8],
        kind: u8,
        id_hex: &str,
        bytes: &[u8],
    ) -> io::Result<()> {
        let n_keys = self.keys.len();
        self.add(source, id, id_hex, &[], bytes, None)?;
        if let Some(k) = self.keys.get_mut(n_keys) {
            k.0 = key_hash(kind, if kind == b'n' { "" } else { id_hex });
        }
        Ok(())
    }

    pub fn problem(&mut self, path: &Path, reason: &str) {
        self.problems.push((path.to_path_buf(), reason.to_string()));
    }

    /// Writes the index to `path` (through a temporary file and a rename), mode 0644:
    /// certificates are public, and other users' runs may read what root built.
    pub fn write(mut self, path: &Path, stamp: &[u8]) -> io::Result<()> {
        let mut small = Vec::new();
        small.extend_from_slice(&(stamp.len() as u32).to_le_bytes());
        small.extend_from_slice(stamp);
        small.extend_from_slice(&(self.problems.len() as u32).to_le_bytes());
        for (p, r) in &self.problems {
            put_str(&mut small, &p.to_string_lossy());
            put_str(&mut small, r);
        }
        small.extend_from_slice(&(self.sources.len() as u32).to_le_bytes());
        for s in &self.sources {
            put_str(&mut small, s);
        }
        self.keys.sort();
        let n_certs = self.certs.len() as u64;
        let n_keys = self.keys.len() as u64;
        let blobs_at = HEADER + small.len() as u64 + n_certs * CERT_REC + n_keys * KEY_REC;

        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id()
        ));
        let result = (|| {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .open(&tmp)?;
            // Our umask (077) would make it 0600: set the mode itself.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
            let mut f = io::BufWriter::new(file);
            f.write_all(MAGIC)?;
            f.write_all(&(small.len() as u64).to_le_bytes())?;
            f.write_all(&Sha256::digest(&small))?;
            f.write_all(&n_certs.to_le_bytes())?;
            f.write_all(&n_keys.to_le_bytes())?;
            f.write_all(&small)?;
            for (off, len, src, fpr, v_len) in &self.certs {
                let mut rec = [0u8; CERT_REC as usize];
                rec[0..8].copy_from_slice(&(blobs_at + off).to_le_bytes());
                rec[8..12].copy_from_slice(&len.to_le_bytes());
                rec[12..16].copy_from_slice(&src.to_le_bytes());
                rec[16] = fpr.len() as u8;
                rec[17..17 + fpr.len()].copy_from_slice(fpr);
                rec[49..53].copy_from_slice(&v_len.to_le_bytes());
                let c = check(&rec[..60]);
                rec[60..64].copy_from_slice(&c);
                f.write_all(&rec)?;
            }
            for (k, i) in &self.keys {
                let mut rec = [0u8; KEY_REC as usize];
                rec[..16].copy_from_slice(k);
                rec[16..20].copy_from_slice(&i.to_le_bytes());
                let c = check(&rec[..20]);
                rec[20..24].copy_from_slice(&c);
                f.write_all(&rec)?;
            }
            self.blobs.rewind()?;
            io::copy(&mut self.blobs, &mut f)?;
            f.into_inner().map_err(|e| e.into_error())?.sync_data()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

fn le64(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
}

fn le32(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

/// Looks `emails` (as `keys::index_key` spells them) and `fingerprints` (upper-case hex) up in the index at
/// `path`, reading only the records it needs (binary search with positioned reads: memory
/// does not grow with the keyring). `None` when the index is missing, stale (another
/// `stamp`), corrupt (a checksum), truncated or from another version: then the caller
/// reads the source and rebuilds it.
pub fn query(
    path: &Path,
    stamp: &[u8],
    emails: &HashSet<String>,
    fingerprints: &HashSet<String>,
    key_ids: &HashSet<String>,
) -> Option<Contents> {
    let (index, small) = Index::open(path)?;
    let mut c = Cursor(&small);
    let n = c.u32()? as usize;
    if c.take(n)? != stamp {
        return None;
    }
    let mut out = Contents::default();
    for _ in 0..c.u32()? {
        let p = c.str()?;
        let r = c.str()?;
        out.problems.push((PathBuf::from(p), r.to_string()));
    }
    let mut sources = Vec::new();
    for _ in 0..c.u32()? {
        sources.push(c.str()?);
    }

    let mut wanted: Vec<u32> = Vec::new();
    for e in emails {
        wanted.extend(index.lookup(key_hash(b'e', e))?);
    }
    for fp in fingerprints {
        wanted.extend(index.lookup(key_hash(b'f', fp))?);
    }
    for id in key_ids {
        wanted.extend(index.lookup(key_hash(b'k', id))?);
    }
    if !fingerprints.is_empty() || !key_ids.is_empty() {
        wanted.extend(index.lookup(key_hash(b'n', ""))?);
    }
    wanted.sort_unstable();
    wanted.dedup();
    for i in wanted {
        out.entries.push(index.entry(i, &sources)?);
    }
    Some(out)
}

/// An index as it was before a rebuild (whatever its stamp), for the verdicts it recorded:
/// a verdict is for exactly the bytes it judged, so one whose certificate did not change
/// can be kept when a source is re-indexed, and only what changed is judged again.
pub struct Previous {
    index: Index,
    sources: Vec<String>,
}

impl Previous {
    /// The index at `path`, when it is there, [`trusted`] and whole.
    pub fn open(path: &Path) -> Option<Previous> {
        let (index, small) = Index::open(path)?;
        let mut c = Cursor(&small);
        let n = c.u32()? as usize;
        c.take(n)?;
        for _ in 0..c.u32()? {
            c.str()?;
            c.str()?;
        }
        let mut sources = Vec::new();
        for _ in 0..c.u32()? {
            sources.push(c.str()?.to_string());
        }
        Some(Previous { index, sources })
    }

    /// The verdicts recorded for certificates with this fingerprint (upper-case hex).
    pub fn verdicts(&self, fpr_hex: &str) -> Vec<Vec<u8>> {
        let sources: Vec<&str> = self.sources.iter().map(String::as_str).collect();
        let found = self
            .index
            .lookup(key_hash(b'f', fpr_hex))
            .unwrap_or_default();
        found
            .into_iter()
            .filter_map(|i| self.index.entry(i, &sources)?.verdict)
            .collect()
    }
}

/// An index file whose header and small section passed their checks, and where its
/// tables are; records are read from it one by one, each checked as it is read.
struct Index {
    f: File,
    file_len: u64,
    n_certs: u64,
    n_keys: u64,
    certs_at: u64,
    keys_at: u64,
    blobs_at: u64,
}

impl Index {
    /// Opens the index at `path` and reads its header and small section (returned);
    /// `None` when it is not trusted, not ours, inconsistent or corrupt.
    fn open(path: &Path) -> Option<(Index, Vec<u8>)> {
        let mut f = File::open(path).ok()?;
        let meta = f.metadata().ok()?;
        if !trusted(&meta) {
            return None;
        }
        let file_len = meta.len();
        let mut head = [0u8; HEADER as usize];
        f.read_exact(&mut head).ok()?;
        if &head[..8] != MAGIC {
            return None;
        }
        let small_len = le64(&head[8..])?;
        let n_certs = le64(&head[48..])?;
        let n_keys = le64(&head[56..])?;
        let certs_at = HEADER.checked_add(small_len)?;
        let keys_at = certs_at.checked_add(n_certs.checked_mul(CERT_REC)?)?;
        let blobs_at = keys_at.checked_add(n_keys.checked_mul(KEY_REC)?)?;
        if small_len > MAX_SMALL || blobs_at > file_len {
            return None;
        }
        let mut small = vec![0u8; small_len as usize];
        f.read_exact(&mut small).ok()?;
        if Sha256::digest(&small)[..] != head[16..48] {
            return None;
        }
        let index = Index {
            f,
            file_len,
            n_certs,
            n_keys,
            certs_at,
            keys_at,
            blobs_at,
        };
        Some((index, small))
    }

    /// Key record `i`: its hash and certificate number.
    fn key_rec(&self, i: u64) -> Option<([u8; 16], u32)> {
        let mut rec = [0u8; KEY_REC as usize];
        self.f
            .read_exact_at(&mut rec, self.keys_at + i * KEY_REC)
            .ok()?;
        if check(&rec[..20]) != rec[20..24] {
            return None;
        }
        let mut k = [0u8; 16];
        k.copy_from_slice(&rec[..16]);
        Some((k, le32(&rec[16..])?))
    }

    /// The certificate numbers under key hash `k`.
    fn lookup(&self, k: [u8; 16]) -> Option<Vec<u32>> {
        // The first record with this hash, then every equal one after it.
        let (mut lo, mut hi) = (0, self.n_keys);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.key_rec(mid)?.0 < k {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut found = Vec::new();
        while lo < self.n_keys {
            let (rk, idx) = self.key_rec(lo)?;
            if rk != k {
                break;
            }
            found.push(idx);
            lo += 1;
        }
        Some(found)
    }

    /// Certificate `i`: its record, then its bytes (`sources`: the small section's list).
    fn entry(&self, i: u32, sources: &[&str]) -> Option<Entry> {
        if u64::from(i) >= self.n_certs {
            return None;
        }
        let mut rec = [0u8; CERT_REC as usize];
        self.f
            .read_exact_at(&mut rec, self.certs_at + u64::from(i) * CERT_REC)
            .ok()?;
        if check(&rec[..60]) != rec[60..64] {
            return None;
        }
        let off = le64(&rec[0..])?;
        let len = le32(&rec[8..])?;
        let src = *sources.get(le32(&rec[12..])? as usize)?;
        let fpr = rec.get(17..17 + rec[16] as usize)?;
        let v_len = le32(&rec[49..])?;
        let end = off
            .checked_add(u64::from(len))?
            .checked_add(u64::from(v_len))?;
        if off < self.blobs_at || end > self.file_len || (v_len != 0 && v_len < 32) {
            return None;
        }
        let mut bytes = vec![0u8; len as usize + v_len as usize];
        self.f.read_exact_at(&mut bytes, off).ok()?;
        let verdict = bytes.split_off(len as usize);
        // A verdict whose checksum fails is dropped (the certificate is judged again).
        let verdict = verdict
            .split_last_chunk::<32>()
            .and_then(|(v, sum)| (Sha256::digest(v)[..] == sum[..]).then(|| v.to_vec()));
        Some(Entry {
            source: PathBuf::from(src),
            fingerprint: crate::diag::hex_upper(fpr),
            bytes,
            verdict,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 50;

    fn fpr(i: usize) -> Vec<u8> {
        vec![i as u8; 20]
    }

    fn hex(b: &[u8]) -> String {
        crate::diag::hex_upper(b)
    }

    fn build(p: &Path) {
        let mut b = Builder::new(None).unwrap();
        for i in 0..N {
            b.add(
                Path::new(&format!("/k/{}.asc", i % 3)),
                &fpr(i),
                &hex(&fpr(i)),
                &[format!("u{i}@example.org"), "shared@example.org".into()],
                &vec![i as u8; 10 + i],
                i.is_multiple_of(2).then_some(&b"verdict"[..]),
            )
            .unwrap();
        }
        b.problem(Path::new("/k/bad.asc"), "broken");
        b.write(p, b"stamp").unwrap();
    }

    fn set(xs: &[&str]) -> HashSet<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn build_then_query_finds_exactly_the_wanted_entries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.idx");
        build(&p);
        let got = query(
            &p,
            b"stamp",
            &set(&["u7@example.org"]),
            &set(&[&hex(&fpr(9))]),
            &HashSet::new(),
        )
        .unwrap();
        let mut fprs: Vec<_> = got.entries.iter().map(|e| e.fingerprint.clone()).collect();
        fprs.sort();
        assert_eq!(fprs, [hex(&fpr(7)), hex(&fpr(9))]);
        let seven = got
            .entries
            .iter()
            .find(|e| e.fingerprint == hex(&fpr(7)))
            .unwrap();
        assert_eq!(seven.bytes, vec![7u8; 17]);
        assert_eq!(seven.verdict, None);

        assert_eq!(seven.source, Path::new("/k/1.asc"));
        assert_eq!(
            got.problems,
            [(PathBuf::from("/k/bad.asc"), "broken".to_string())]
        );
        let all = query(
            &p,
            b"stamp",
            &set(&["shared@example.org"]),
            &HashSet::new(),
            &HashSet::new(),
        )
        .unwrap();
        assert_eq!(all.entries.len(), N);
        for e in &all.entries {
            let i = e.bytes[0] as usize;
            let want = i.is_multiple_of(2).then(|| b"verdict".to_vec());
            assert_eq!(e.verdict, want, "the verdict of {i}");
        }
        let none = query(
            &p,
            b"stamp",
            &set(&["none@x"]),
            &HashSet::new(),
            &HashSet::new(),
        )
        .unwrap();
        assert!(none.entries.is_empty());
    }

    #[test]
    fn stale_corrupt_or_truncated_indexes_are_not_believed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.idx");
        build(&p);
        let want = set(&["u7@example.org", "shared@example.org"]);
        assert!(query(&p, b"other", &want, &HashSet::new(), &HashSet::new()).is_none());
        let good = std::fs::read(&p).unwrap();
        let blobs: usize = (0..N)
            .map(|i| 10 + i + if i.is_multiple_of(2) { 39 } else { 0 })
            .sum();
        // Every byte before the certificates is covered by a checksum (the header by the
        // fields it checks); the certificates are re-parsed and checked by the caller.
        for i in (0..good.len() - blobs).step_by(5) {
            let mut bad = good.clone();
            bad[i] ^= 0x41;
            std::fs::write(&p, &bad).unwrap();
            if let Some(c) = query(&p, b"stamp", &want, &HashSet::new(), &HashSet::new()) {
                // Only the reserved bytes of a record may change without notice.
                assert_eq!(c.entries.len(), N, "flip at {i} changed the answer");
            }
            std::fs::write(&p, &good[..i]).unwrap();
            assert!(
                query(&p, b"stamp", &want, &HashSet::new(), &HashSet::new()).is_none(),
                "cut at {i}"
            );
        }
        // A flipped verdict byte: that verdict is dropped, the certificate stays.
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last - 59 - 10] ^= 1; // in the checksum of 48's verdict (49 has none)
        std::fs::write(&p, &bad).unwrap();
        let c = query(&p, b"stamp", &want, &HashSet::new(), &HashSet::new()).unwrap();
        assert_eq!(c.entries.len(), N);
        assert_eq!(
            c.entries.iter().filter(|e| e.verdict.is_some()).count(),
            N / 2 - 1
        );
        std::fs::write(&p, b"junk").unwrap();
        assert!(query(&p, b"stamp", &want, &HashSet::new(), &HashSet::new()).is_none());
    }

    #[test]
    fn stamp_changes_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k.asc");
        std::fs::write(&f, "a").unwrap();
        let s1 = stamp(std::slice::from_ref(&f));
        std::fs::write(&f, "ab").unwrap();
        assert_ne!(s1, stamp(std::slice::from_ref(&f)));
    }
}
