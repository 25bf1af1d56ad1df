//! Anonymous files for ciphertext, and a sealed store for a body that must be read twice.
//!
//! Owns: [`anon_file`] (a memfd, else an unlinked 0600 file in `$TMPDIR` or `/tmp`: never a
//! name anybody can open; for ciphertext), [`memfd`] (no fallback: for a copy we did not
//! encrypt), [`copy_file_range_into`] (a hidden copy's shared armor) and [`BodyStore`],
//! which keeps a body in memory up to [`MEM_LIMIT`] and beyond that in an anonymous file
//! encrypted with AES-256-CTR under a random key that lives only in this process. So
//! plaintext is never at rest, even when pgpsendmail needs the whole body before it can
//! write the first byte of the payload (a synthesized text/plain child, an inline PGP
//! check, a plaintext copy).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::message::{BodyStats, Scanner};

type Aes256Ctr = ctr::Ctr128BE<Aes256>;

/// Bodies up to this size stay in memory.
pub const MEM_LIMIT: usize = 1 << 20;

/// A memfd: anonymous memory with a file descriptor (no name in any file system, never on
/// disk; swap aside). An error where the kernel has none (before 3.17, or a seccomp filter
/// refusing it): the one thing that may hold plaintext never falls back to a file.
pub fn memfd(name: &str) -> io::Result<File> {
    crate::sys::memfd(name)
}

/// An anonymous read-write file for ciphertext: a memfd when the kernel has them, else an
/// unlinked file created with mode 0600 in `$TMPDIR` (or `/tmp`).
pub fn anon_file(name: &str, tmpdir: Option<&std::path::Path>) -> io::Result<File> {
    if let Ok(f) = memfd(name) {
        return Ok(f);
    }
    let dir = tmpdir
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| std::path::PathBuf::from("/tmp"));
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
        .open(&dir)
    {
        Ok(f) => Ok(f),
        Err(_) => {
            // Last resort: a fresh random name, created exclusively, unlinked at once.
            let mut r = [0u8; 12];
            rand::rngs::OsRng.fill_bytes(&mut r);
            let n = crate::diag::hex_lower(&r);
            let path = dir.join(format!(".pgpsendmail-{n}"));
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(&path)?;
            std::fs::remove_file(&path)?;
            Ok(f)
        }
    }
}

/// An AES-256-CTR state for `key` and `iv`, from references (no array of the key copied
/// into a temporary of ours; the cipher's own construction is the `aes` crate's).
fn new_ctr(key: &[u8; 32], iv: &[u8; 16]) -> Aes256Ctr {
    Aes256Ctr::new(key.into(), iv.into())
}

/// A body kept for reading more than once.
pub struct BodyStore {
    mem: Vec<u8>,
    sealed: Option<Sealed>,
    scanner: Scanner,
    stats: Option<BodyStats>,
}

/// The sealed part of a body. The key is the only thing that makes the file readable:
/// it, the IV and the cipher states (here and in every [`StoreReader`]) are wiped when they
/// are dropped (`Zeroizing`, and `ctr`/`aes` built with their `zeroize` feature), by
/// writes the compiler may not remove as dead stores. Key and IV are boxed: they are made in
/// place on the heap and never moved, so no stale copy of them is left where a move was.
struct Sealed {
    file: File,
    key: Box<Zeroizing<[u8; 32]>>,
    iv: Box<Zeroizing<[u8; 16]>>,
    cipher: Aes256Ctr,
    len: u64,
}

impl BodyStore {
    /// Reads `src` to its end into a new store, scanning it on the way.
    pub fn from_reader<R: Read>(mut src: R, tmpdir: Option<&std::path::Path>) -> io::Result<Self> {
        let mut store = BodyStore {
            mem: Vec::new(),
            sealed: None,
            scanner: Scanner::default(),
            stats: None,
        };
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            store.push(&mut buf[..n], tmpdir)?;
        }
        store.stats = Some(std::mem::take(&mut store.scanner).finish());
        Ok(store)
    }

    fn push(&mut self, data: &mut [u8], tmpdir: Option<&std::path::Path>) -> io::Result<()> {
        self.scanner.feed(data);
        if self.sealed.is_none() && self.mem.len() + data.len() <= MEM_LIMIT {
            self.mem.extend_from_slice(data);
            return Ok(());
        }
        if self.sealed.is_none() {
            // Filled in place on the heap: no copy of the key in a local that is not wiped.
            let mut key = Box::new(Zeroizing::new([0u8; 32]));
            let mut iv = Box::new(Zeroizing::new([0u8; 16]));
            rand::rngs::OsRng.fill_bytes(&mut key[..]);
            rand::rngs::OsRng.fill_bytes(&mut iv[..]);
            let cipher = new_ctr(&key, &iv);
            self.sealed = Some(Sealed {
                file: anon_file("pgpsendmail-spool", tmpdir)?,
                key,
                iv,
                cipher,
                len: 0,
            });
        }
        let s = self.sealed.as_mut().expect("just set");
        s.cipher.apply_keystream(data);
        s.file.write_all(data)?;
        s.len += data.len() as u64;
        Ok(())
    }

    pub fn stats(&self) -> BodyStats {
        self.stats.unwrap_or(BodyStats {
            has_nul: false,
            long_line: false,
            lone_cr: false,
            ascii: true,
            utf8: true,
        })
    }

    pub fn len(&self) -> u64 {
        self.mem.len() as u64 + self.sealed.as_ref().map_or(0, |s| s.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first bytes (at most the in-memory part).
    pub fn head(&self) -> &[u8] {
        &self.mem
    }

    /// A fresh reader over the whole body, from the start.
    pub fn reader(&self) -> StoreReader<'_> {
        StoreReader {
            store: self,
            pos: 0,
            cipher: self.sealed.as_ref().map(|s| new_ctr(&s.key, &s.iv)),
        }
    }
}

/// Reads a [`BodyStore`] from the start; independent of other readers.
pub struct StoreReader<'a> {
    store: &'a BodyStore,
    pos: u64,
    cipher: Option<Aes256Ctr>,
}

impl Read for StoreReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mem_len = self.store.mem.len() as u64;
        if self.pos < mem_len {
            let start = self.pos as usize;
            let n = buf.len().min(self.store.mem.len() - start);
            buf[..n].copy_from_slice(&self.store.mem[start..start + n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let (Some(s), Some(c)) = (self.store.sealed.as_ref(), self.cipher.as_mut()) else {
            return Ok(0);
        };
        let off = self.pos - mem_len;
        if off >= s.len {
            return Ok(0);
        }
        let want = buf.len().min((s.len - off) as usize);
        let n = s.file.read_at(&mut buf[..want], off)?;
        c.seek(off);
        c.apply_keystream(&mut buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

/// Appends bytes `0..len` of `src` to `dst` (at its current offset, which ends after them)
/// with copy_file_range(2), both offsets explicit, so that `src`'s own offset is never used
/// or moved (several copies read the same file). Where the kernel cannot copy between
/// these files (EXDEV, EINVAL, ENOSYS, EOPNOTSUPP: another file system, an old kernel), the
/// rest is copied with pread(2) and write(2). `src` ending before `len` is an error, never
/// a short copy.
pub fn copy_file_range_into(src: &File, len: u64, dst: &mut File) -> io::Result<()> {
    let start = dst.stream_position()?;
    let mut off_in: u64 = 0;
    let mut off_out = start;
    let short = || {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the shared ciphertext file ended early",
        )
    };
    while off_in < len {
        let want = (len - off_in).min(1 << 30) as usize;
        let e = match crate::sys::copy_file_range(src, &mut off_in, dst, &mut off_out, want) {
            Ok(0) => return Err(short()),
            Ok(_) => continue,
            Err(e) => e,
        };
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => {
                dst.seek(SeekFrom::Start(off_out))?;
                let mut buf = vec![0u8; 64 << 10];
                let mut off = off_in;
                while off < len {
                    let want = usize::try_from(len - off).map_or(buf.len(), |n| n.min(buf.len()));
                    let k = src.read_at(&mut buf[..want], off)?;
                    if k == 0 {
                        return Err(short());
                    }
                    dst.write_all(&buf[..k])?;
                    off += k as u64;
                }
                return Ok(());
            }
            _ => return Err(e),
        }
    }
    dst.seek(SeekFrom::Start(off_out)).map(|_| ())
}

/// Rewinds a file written by us so that it can become a child's standard input.
pub fn rewind(f: &mut File) -> io::Result<()> {
    f.flush()?;
    f.seek(SeekFrom::Start(0)).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_body_stays_in_memory_and_large_is_sealed() {
        let small = b"hello\r\n".to_vec();
        let s = BodyStore::from_reader(&small[..], None).unwrap();
        assert!(s.sealed.is_none());
        let mut back = Vec::new();
        s.reader().read_to_end(&mut back).unwrap();
        assert_eq!(back, small);

        let marker = b"SECRET-MARKER-0123456789";
        let mut big = Vec::new();
        while big.len() < 3 * MEM_LIMIT {
            big.extend_from_slice(marker);
        }
        let s = BodyStore::from_reader(&big[..], None).unwrap();
        let sealed = s.sealed.as_ref().unwrap();
        let mut raw = vec![0u8; sealed.len as usize];
        sealed.file.read_exact_at(&mut raw, 0).unwrap();
        assert!(
            !raw.windows(marker.len()).any(|w| w == marker),
            "plaintext at rest in the spool"
        );
        for _ in 0..2 {
            let mut back = Vec::new();
            s.reader().read_to_end(&mut back).unwrap();
            assert_eq!(back, big);
        }
        assert_eq!(s.len(), big.len() as u64);
    }

    fn shared(len: usize) -> (File, Vec<u8>) {
        let data: Vec<u8> = (0..len as u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut f = anon_file("t", None).unwrap();
        f.write_all(&data).unwrap();
        (f, data)
    }

    #[test]
    fn copy_file_range_into_appends_and_never_moves_the_source() {
        // 3 MiB between memfds, twice from the same source (copies share it), and into an
        // ordinary file (tempfile: another file system, possibly the pread fallback).
        let (src, data) = shared(3 << 20);
        let pos = (&src).stream_position().unwrap();
        for round in 0..2 {
            let mut dst: File = if round == 0 {
                anon_file("d", None).unwrap()
            } else {
                tempfile::tempfile().unwrap()
            };
            dst.write_all(b"HEAD").unwrap();
            copy_file_range_into(&src, data.len() as u64, &mut dst).unwrap();
            dst.write_all(b"FOOT").unwrap();
            rewind(&mut dst).unwrap();
            let mut back = Vec::new();
            dst.read_to_end(&mut back).unwrap();
            assert_eq!(back.len(), data.len() + 8, "round {round}");
            assert!(back[4..back.len() - 4] == data[..], "round {round}");
            assert_eq!(&back[..4], b"HEAD");
            assert_eq!(&back[back.len() - 4..], b"FOOT");
        }
        assert_eq!((&src).stream_position().unwrap(), pos);
        // A source shorter than its recorded length is an error, not a short copy.
        let mut dst = anon_file("d", None).unwrap();
        let e = copy_file_range_into(&src, data.len() as u64 + 10, &mut dst).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// Compiles only for types that wipe themselves when dropped.
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}

    #[test]
    fn the_sealed_stores_key_and_ciphers_are_wiped_on_drop() {
        // Type-level: the key and IV fields are Zeroizing, the cipher (in Sealed and in
        // every reader) is ZeroizeOnDrop (ctr's and aes's zeroize features). A change of
        // any of these types stops this from compiling.
        fn key(s: &Sealed) -> &Zeroizing<[u8; 32]> {
            &s.key
        }
        fn iv(s: &Sealed) -> &Zeroizing<[u8; 16]> {
            &s.iv
        }
        fn cipher(s: &Sealed) -> &Aes256Ctr {
            &s.cipher
        }
        fn reader<'a>(r: &'a StoreReader<'_>) -> &'a Option<Aes256Ctr> {
            &r.cipher
        }
        let _ = (key, iv, cipher, reader);
        wiped_on_drop::<Zeroizing<[u8; 32]>>();
        wiped_on_drop::<Zeroizing<[u8; 16]>>();
        wiped_on_drop::<Aes256Ctr>();
        wiped_on_drop::<Aes256>();
    }

    #[test]
    fn anon_file_is_read_write() {
        let mut f = anon_file("t", None).unwrap();
        f.write_all(b"abc").unwrap();
        rewind(&mut f).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
    }
}
