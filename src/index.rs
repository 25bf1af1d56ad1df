//! The key index: lets a message find its recipients' certificates in a large keyring
//! without parsing the whole keyring (spec/keys.md "Speed").
//!
//! Owns: one index file per `keyring` source in the cache directory, named by a hash of the
//! source path. It holds the source's certificates in binary form, a sorted table from
//! hashed e-mail address and fingerprint to certificate, and the problems found while
//! reading the source, so that warnings stay the same. It records the size, mtime, ctime
//! and inode of every file it was built from; when any of them differs, or the file is
//! corrupt (checksum), truncated or from another version, it is not believed: the caller
//! rebuilds it from the source. It is written to a temporary file and renamed into place,
//! so two processes rebuilding at once each leave a whole index.
//!
//! Untrusted input: the index file (it may be stale, corrupt or crafted). Every certificate
//! read through it is parsed again and checked against the fingerprint the index claims,
//! and then judged by [`crate::keys::evaluate`] like any other: the index only narrows the
//! search, it never vouches for a key.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"PGPSMIX1";
/// The metadata of an index is read whole; larger ones are not believed.
const MAX_META: u64 = 256 << 20;

/// One certificate as the index stores it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file it came from.
    pub source: PathBuf,
    /// Primary fingerprint, upper-case hex.
    pub fingerprint: String,
    /// The e-mail part of every user ID, lower-cased (counting or not: the caller judges).
    pub emails: Vec<String>,
    /// The certificate, as binary OpenPGP packets.
    pub bytes: Vec<u8>,
}

/// What a source holds: its certificates and the problems found reading it.
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

/// Where the index of `source` lives in `cache_dir`.
pub fn path_for(cache_dir: &Path, source: &Path) -> PathBuf {
    let canon = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let h = Sha256::digest(canon.as_os_str().as_encoded_bytes());
    let name: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
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

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Writes the index of `contents` for the files identified by `stamp`.
pub fn write(path: &Path, stamp: &[u8], contents: &Contents) -> io::Result<()> {
    let mut meta = Vec::new();
    meta.extend_from_slice(&(stamp.len() as u32).to_le_bytes());
    meta.extend_from_slice(stamp);
    meta.extend_from_slice(&(contents.problems.len() as u32).to_le_bytes());
    for (p, r) in &contents.problems {
        put_str(&mut meta, &p.to_string_lossy());
        put_str(&mut meta, r);
    }
    let mut keys: Vec<([u8; 16], u32)> = Vec::new();
    meta.extend_from_slice(&(contents.entries.len() as u32).to_le_bytes());
    let mut off = 0u64;
    for (i, e) in contents.entries.iter().enumerate() {
        meta.extend_from_slice(&off.to_le_bytes());
        meta.extend_from_slice(&(e.bytes.len() as u32).to_le_bytes());
        put_str(&mut meta, &e.source.to_string_lossy());
        put_str(&mut meta, &e.fingerprint);
        off += e.bytes.len() as u64;
        keys.push((key_hash(b'f', &e.fingerprint), i as u32));
        let mut seen = HashSet::new();
        for m in &e.emails {
            if seen.insert(m) {
                keys.push((key_hash(b'e', m), i as u32));
            }
        }
    }
    keys.sort();
    meta.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    for (k, i) in &keys {
        meta.extend_from_slice(k);
        meta.extend_from_slice(&i.to_le_bytes());
    }
    let sum = Sha256::digest(&meta);

    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = io::BufWriter::new(File::create(&tmp)?);
        f.write_all(MAGIC)?;
        f.write_all(&(meta.len() as u64).to_le_bytes())?;
        f.write_all(&meta)?;
        f.write_all(&sum)?;
        for e in &contents.entries {
            f.write_all(&e.bytes)?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A cursor over the index metadata; every read is bounds-checked.
struct Meta<'a>(&'a [u8]);

impl<'a> Meta<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
}

/// Looks `emails` (lower-cased) and `fingerprints` (upper-case hex) up in the index at
/// `path`. `None` when the index is missing, stale (another `stamp`), corrupt or does not
/// match what it points to: then the caller reads the source and rebuilds the index.
pub fn query(
    path: &Path,
    stamp: &[u8],
    emails: &HashSet<String>,
    fingerprints: &HashSet<String>,
) -> Option<Contents> {
    let mut f = File::open(path).ok()?;
    let mut head = [0u8; 16];
    f.read_exact(&mut head).ok()?;
    if &head[..8] != MAGIC {
        return None;
    }
    let meta_len = u64::from_le_bytes(head[8..16].try_into().ok()?);
    let file_len = f.metadata().ok()?.len();
    if meta_len > MAX_META || 16 + meta_len + 32 > file_len {
        return None;
    }
    let mut meta = vec![0u8; meta_len as usize];
    f.read_exact(&mut meta).ok()?;
    let mut sum = [0u8; 32];
    f.read_exact(&mut sum).ok()?;
    if Sha256::digest(&meta)[..] != sum[..] {
        return None;
    }
    let blobs_at = 16 + meta_len + 32;

    let mut m = Meta(&meta);
    let n = m.u32()? as usize;
    if m.take(n)? != stamp {
        return None;
    }
    let mut out = Contents::default();
    for _ in 0..m.u32()? {
        let p = m.str()?;
        let r = m.str()?;
        out.problems.push((PathBuf::from(p), r.to_string()));
    }
    let n_certs = m.u32()? as usize;
    let mut dir = Vec::with_capacity(n_certs.min(meta.len() / 16));
    for _ in 0..n_certs {
        let off = m.u64()?;
        let len = m.u32()?;
        let src = m.str()?;
        let fpr = m.str()?;
        dir.push((off, len, src, fpr));
    }
    let n_keys = m.u32()? as usize;
    let table = m.take(n_keys.checked_mul(20)?)?;
    let lookup = |k: [u8; 16]| -> Vec<u32> {
        // Binary search for the first record with this hash, then every equal one.
        let rec = |i: usize| &table[i * 20..i * 20 + 20];
        let (mut lo, mut hi) = (0, n_keys);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if rec(mid)[..16] < k[..] {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut found = Vec::new();
        while lo < n_keys && rec(lo)[..16] == k[..] {
            found.push(u32::from_le_bytes(
                rec(lo)[16..20].try_into().unwrap_or([0; 4]),
            ));
            lo += 1;
        }
        found
    };
    let mut wanted: Vec<u32> = Vec::new();
    for e in emails {
        wanted.extend(lookup(key_hash(b'e', e)));
    }
    for fp in fingerprints {
        wanted.extend(lookup(key_hash(b'f', fp)));
    }
    wanted.sort_unstable();
    wanted.dedup();
    for i in wanted {
        let (off, len, src, fpr) = dir.get(i as usize)?;
        if blobs_at + off + u64::from(*len) > file_len {
            return None;
        }
        let mut bytes = vec![0u8; *len as usize];
        f.read_exact_at(&mut bytes, blobs_at + off).ok()?;
        out.entries.push(Entry {
            source: PathBuf::from(src),
            fingerprint: fpr.to_string(),
            emails: Vec::new(),
            bytes,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents() -> Contents {
        Contents {
            entries: (0..50)
                .map(|i| Entry {
                    source: PathBuf::from(format!("/k/{i}.asc")),
                    fingerprint: format!("{i:040X}"),
                    emails: vec![format!("u{i}@example.org"), "shared@example.org".into()],
                    bytes: vec![i as u8; 10 + i],
                })
                .collect(),
            problems: vec![(PathBuf::from("/k/bad.asc"), "broken".into())],
        }
    }

    fn set(xs: &[&str]) -> HashSet<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn write_then_query_finds_exactly_the_wanted_entries() {
        let dir = std::env::temp_dir().join(format!("pgpsm-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.idx");
        write(&p, b"stamp", &contents()).unwrap();
        let got = query(
            &p,
            b"stamp",
            &set(&["u7@example.org"]),
            &set(&[&format!("{:040X}", 9)]),
        )
        .unwrap();
        let mut fprs: Vec<_> = got.entries.iter().map(|e| e.fingerprint.clone()).collect();
        fprs.sort();
        assert_eq!(fprs, [format!("{:040X}", 7), format!("{:040X}", 9)]);
        assert_eq!(got.entries[0].bytes, vec![7u8; 17]);
        assert_eq!(got.problems.len(), 1);
        let all = query(&p, b"stamp", &set(&["shared@example.org"]), &HashSet::new()).unwrap();
        assert_eq!(all.entries.len(), 50);
        assert!(
            query(&p, b"stamp", &set(&["none@x"]), &HashSet::new())
                .unwrap()
                .entries
                .is_empty()
        );

        // Another stamp: stale. A flipped byte or a cut anywhere before the certificates:
        // corrupt, not believed. (The certificates themselves are re-parsed and checked
        // against their fingerprint by the caller.)
        assert!(query(&p, b"other", &set(&["u7@example.org"]), &HashSet::new()).is_none());
        let good = std::fs::read(&p).unwrap();
        let blobs: usize = contents().entries.iter().map(|e| e.bytes.len()).sum();
        for i in (0..good.len() - blobs).step_by(3) {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            std::fs::write(&p, &bad).unwrap();
            assert!(
                query(&p, b"stamp", &set(&["u7@example.org"]), &HashSet::new()).is_none(),
                "flip at {i}"
            );
            std::fs::write(&p, &good[..i]).unwrap();
            assert!(
                query(&p, b"stamp", &set(&["u7@example.org"]), &HashSet::new()).is_none(),
                "cut at {i}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stamp_changes_with_the_file() {
        let dir = std::env::temp_dir().join(format!("pgpsm-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("k.asc");
        std::fs::write(&f, "a").unwrap();
        let s1 = stamp(std::slice::from_ref(&f));
        std::fs::write(&f, "ab").unwrap();
        assert_ne!(s1, stamp(std::slice::from_ref(&f)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
