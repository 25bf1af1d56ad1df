//! The OpenPGP layer (spec/message.md rules 7-9): PKESK v3 packets, SEIPD v1 with MDC, no
//! compression, binary literal data with an empty name and date 0, ASCII armor with
//! 64-column lines, a CRC-24 line and no armor headers.
//!
//! Owns: [`encrypt_copies`], which reads the payload once and makes one armored OpenPGP
//! message per copy (the first written out whole, the others split around a shared armored
//! body, see [`crate::openpgp::armor`]). All copies share one session key and one encrypted body;
//! each copy carries only the PKESK packets of its own recipients (so a hidden recipient's
//! key ID appears in no other copy). The payload streams: memory does not grow with its
//! size.
//!
//! Does not own: which keys or which copies (see [`crate::keys::recipients`]), or the MIME around
//! the armor (see [`crate::message::pgpmime`]).

use std::io::{self, Read, Write};
use std::sync::mpsc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pgp::composed::Esk;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::PublicKeyEncryptedSessionKey;
use pgp::ser::Serialize;

use crate::error::{Error, Result};
use crate::keys::EncryptionKey;
use crate::openpgp::seipd;

/// CRC-24 (RFC 9580 section 6.1.1), eight bytes per step ("slicing by 8"): a byte-at-a-time
/// table costs more than the AES in a large message. The register is kept in the top 24 bits
/// of a `u32`, so that the usual MSB-first slicing tables apply.
#[derive(Clone, Copy)]
pub struct Crc24(u32);

const CRC24_INIT: u32 = 0x00B7_04CE;
const CRC24_POLY: u32 = 0x0086_4CFB;

const CRC24_TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut b = 0;
    while b < 256 {
        let mut v = (b as u32) << 24;
        let mut k = 0;
        while k < 8 {
            v = if v & 0x8000_0000 != 0 {
                (v << 1) ^ (CRC24_POLY << 8)
            } else {
                v << 1
            };
            k += 1;
        }
        t[0][b] = v;
        b += 1;
    }
    let mut i = 1;
    while i < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = t[i - 1][b];
            t[i][b] = (prev << 8) ^ t[0][(prev >> 24) as usize];
            b += 1;
        }
        i += 1;
    }
    t
};

impl Default for Crc24 {
    fn default() -> Self {
        Crc24(CRC24_INIT << 8)
    }
}

impl Crc24 {
    pub fn update(&mut self, data: &[u8]) {
        let t = &CRC24_TABLES;
        let mut c = self.0;
        let mut chunks = data.chunks_exact(8);
        for d in &mut chunks {
            let x = c ^ u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
            c = t[7][(x >> 24) as usize]
                ^ t[6][((x >> 16) & 0xff) as usize]
                ^ t[5][((x >> 8) & 0xff) as usize]
                ^ t[4][(x & 0xff) as usize]
                ^ t[3][d[4] as usize]
                ^ t[2][d[5] as usize]
                ^ t[1][d[6] as usize]
                ^ t[0][d[7] as usize];
        }
        for &b in chunks.remainder() {
            c = (c << 8) ^ t[0][((c >> 24) ^ u32::from(b)) as usize];
        }
        self.0 = c;
    }

    pub fn value(&self) -> u32 {
        self.0 >> 8
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Two base64 characters for every 12-bit value: three input bytes take two look-ups.
const B64_PAIRS: [[u8; 2]; 4096] = {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [B64[i >> 6], B64[i & 63]];
        i += 1;
    }
    t
};

/// Appends the base64 of `data` (a multiple of 3 bytes long) to `out`.
pub(crate) fn b64_append(data: &[u8], out: &mut Vec<u8>) {
    debug_assert_eq!(data.len() % 3, 0);
    for g in data.chunks_exact(3) {
        let v = (usize::from(g[0]) << 16) | (usize::from(g[1]) << 8) | usize::from(g[2]);
        let [a, b] = B64_PAIRS[v >> 12];
        let [c, d] = B64_PAIRS[v & 0xfff];
        out.extend_from_slice(&[a, b, c, d]);
    }
}

/// Writes ASCII armor (RFC 9580 section 6) of a `PGP MESSAGE` to the inner writer.
pub struct ArmorWriter<W: Write> {
    inner: W,
    /// Bytes not yet encoded (fewer than 48: one line's worth).
    pending: Vec<u8>,
    crc: Crc24,
    line: Vec<u8>,
}

/// 48 input bytes make one 64-column line.
const LINE_IN: usize = 48;

impl<W: Write> ArmorWriter<W> {
    pub fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(b"-----BEGIN PGP MESSAGE-----\n\n")?;
        Ok(ArmorWriter {
            inner,
            pending: Vec::with_capacity(LINE_IN),
            crc: Crc24::default(),
            line: Vec::with_capacity(LINES_PER_WRITE * 65),
        })
    }

    fn encode_lines(&mut self, data: &[u8]) -> io::Result<()> {
        debug_assert_eq!(data.len() % LINE_IN, 0);
        self.line.clear();
        for chunk in data.chunks_exact(LINE_IN) {
            b64_append(chunk, &mut self.line);
            self.line.push(b'\n');
        }
        self.inner.write_all(&self.line)
    }

    /// Writes the last line, the checksum and the footer; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() {
            let line = STANDARD.encode(&self.pending);
            self.inner.write_all(line.as_bytes())?;
            self.inner.write_all(b"\n")?;
        }
        let crc = self.crc.value();
        let crc = STANDARD.encode([(crc >> 16) as u8, (crc >> 8) as u8, crc as u8]);
        self.inner.write_all(b"=")?;
        self.inner.write_all(crc.as_bytes())?;
        self.inner.write_all(b"\n-----END PGP MESSAGE-----\n")?;
        Ok(self.inner)
    }
}

/// Lines encoded per write to the inner writer (64 KiB of input).
const LINES_PER_WRITE: usize = 1365;

impl<W: Write> Write for ArmorWriter<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        self.crc.update(buf);
        if !self.pending.is_empty() {
            let take = (LINE_IN - self.pending.len()).min(buf.len());
            self.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.pending.len() < LINE_IN {
                return Ok(n);
            }
            let p = std::mem::take(&mut self.pending);
            self.encode_lines(&p)?;
            self.pending = p;
            self.pending.clear();
        }
        let whole = buf.len() / LINE_IN * LINE_IN;
        // Encode in slices, so that the line buffer stays bounded.
        for part in buf[..whole].chunks(LINE_IN * LINES_PER_WRITE) {
            self.encode_lines(part)?;
        }
        self.pending.extend_from_slice(&buf[whole..]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes everything to both writers.
struct Tee<A, B>(A, Option<B>);

impl<A: Write, B: Write> Write for Tee<A, B> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        if let Some(b) = self.1.as_mut() {
            b.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()?;
        if let Some(b) = self.1.as_mut() {
            b.flush()?;
        }
        Ok(())
    }
}

/// Bytes per buffer handed from the encryptor to the armor thread.
const PIECE: usize = 256 * 1024;
/// Buffers waiting for the armor thread at most (with one in the works on each side, the
/// queue holds at most 6 x 256 KiB).
const QUEUE: usize = 4;

/// The encryptor's end of the queue to the armor thread: collects writes into buffers of
/// [`PIECE`] bytes, reusing the buffers the armor thread gives back.
struct Feed {
    buf: Vec<u8>,
    to_armor: Option<mpsc::SyncSender<Vec<u8>>>,
    recycled: mpsc::Receiver<Vec<u8>>,
}

impl Feed {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .recycled
            .try_recv()
            .map(|mut b| {
                b.clear();
                b
            })
            .unwrap_or_else(|_| Vec::with_capacity(PIECE));
        let full = std::mem::replace(&mut self.buf, next);
        let tx = self
            .to_armor
            .as_ref()
            .ok_or_else(|| io::Error::other("the ciphertext was closed"))?;
        tx.send(full)
            .map_err(|_| io::Error::other("the armor thread stopped"))
    }

    /// Sends what is left and hangs up.
    fn close(&mut self) -> io::Result<()> {
        self.send()?;
        self.to_armor = None;
        Ok(())
    }
}

impl Write for Feed {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            let take = (PIECE - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == PIECE {
                self.send()?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn io_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Io(format!("{what}: {e}"))
}

/// Encrypts `payload` once for all copies. `copies[i]` lists the keys of copy i; every
/// copy gets the same session key and encrypted body, and only its own PKESK packets.
/// The armor of copy 0 is written to `first` (after whatever the caller already wrote
/// there). With more than one copy, `spool` receives the shared encrypted body and is read
/// back for the others, whose armor is returned split ([`crate::openpgp::armor::armor_split`]):
/// element i-1 is copy i's, the shared lines going to tails made by `new_tail`.
pub fn encrypt_copies<R, W, S, T, F>(
    payload: R,
    copies: &[&[EncryptionKey]],
    cipher: SymmetricKeyAlgorithm,
    first: &mut W,
    spool: Option<&mut S>,
    new_tail: F,
) -> Result<(Vec<crate::openpgp::armor::Split>, Vec<T>)>
where
    R: Read,
    W: Write + Send,
    S: Read + Write + io::Seek + Send,
    T: Write,
    F: FnMut() -> io::Result<T>,
{
    if copies.is_empty() {
        return Err(Error::Internal("encrypt_copies: no copies".into()));
    }
    if copies.len() > 1 && spool.is_none() {
        return Err(Error::Internal(
            "encrypt_copies: several copies need a spool".into(),
        ));
    }
    let mut rng = rand::thread_rng();
    // The session key as rpgp's MessageBuilder makes it; the SEIPD packet is ours
    // (crate::openpgp::seipd: binary literal data, empty name, date 0). RawSessionKey wipes itself
    // when dropped (it is ZeroizeOnDrop in the pgp crate), at the end of this function; we
    // only lend it out (`as_ref`), never copy it into a buffer of ours. The AES key
    // schedule seipd makes from it is wiped with it (seipd::Cfb).
    let session_key: pgp::composed::RawSessionKey = cipher.new_session_key(&mut rng);

    let mut pkesks: Vec<Vec<u8>> = Vec::with_capacity(copies.len());
    for &keys in copies {
        if keys.is_empty() {
            return Err(Error::Internal("a copy without keys".into()));
        }
        let mut bytes = Vec::new();
        for k in keys {
            let p = match k {
                EncryptionKey::Subkey(s) => PublicKeyEncryptedSessionKey::from_session_key_v3(
                    &mut rng,
                    &session_key,
                    cipher,
                    s,
                ),
                EncryptionKey::Primary(p) => PublicKeyEncryptedSessionKey::from_session_key_v3(
                    &mut rng,
                    &session_key,
                    cipher,
                    p,
                ),
            }
            .map_err(|e| {
                Error::Internal(format!(
                    "cannot encrypt the session key to {}: {e}",
                    k.fingerprint()
                ))
            })?;
            Esk::PublicKeyEncryptedSessionKey(p)
                .to_writer(&mut bytes)
                .map_err(|e| Error::Internal(format!("PKESK: {e}")))?;
        }
        pkesks.push(bytes);
    }

    let mut spool = spool;
    // The encryptor (CFB and SHA-1) runs here; the armor (CRC-24, base64) and the writes
    // run on a second thread, fed through a bounded queue of buffers (memory stays flat).
    std::thread::scope(|scope| -> Result<()> {
        let (to_armor, queue) = mpsc::sync_channel::<Vec<u8>>(QUEUE);
        let (give_back, recycled) = mpsc::channel::<Vec<u8>>();
        let pk = &pkesks[0];
        let spool_w = spool.as_deref_mut();
        let armorer = scope.spawn(move || -> io::Result<()> {
            let mut armor = ArmorWriter::new(first)?;
            armor.write_all(pk)?;
            let mut tee = Tee(armor, spool_w);
            for buf in queue {
                tee.write_all(&buf)?;
                // The encryptor may have gone already: then the buffer is simply dropped.
                let _ = give_back.send(buf);
            }
            tee.0.finish()?;
            Ok(())
        });
        let mut feed = Feed {
            buf: Vec::with_capacity(PIECE),
            to_armor: Some(to_armor),
            recycled,
        };
        let enc = seipd::write_seipd_v1(&mut rng, cipher, session_key.as_ref(), payload, &mut feed)
            .map_err(|e| match e {
                // A read error from stdin surfaces here.
                seipd::Fail::Read(e) => Error::Io(format!("encrypting the message: {e}")),
                seipd::Fail::Write(e) => io_err("writing ciphertext", e),
                seipd::Fail::Internal(e) => Error::Internal(e),
            })
            .and_then(|f| f.close().map_err(|e| io_err("writing ciphertext", e)));
        // Hang up first, so that the armorer ends whatever happened here.
        drop(feed);
        let armored = armorer
            .join()
            .map_err(|_| Error::Internal("the armor thread panicked".into()))?;
        // The armorer's own error explains a closed queue better than the encryptor's.
        armored.map_err(|e| io_err("writing ciphertext", e))?;
        enc
    })?;

    match spool {
        // The other copies: the shared body's armor is encoded and kept once per line
        // alignment.
        Some(spool) if copies.len() > 1 => {
            crate::openpgp::armor::armor_split(spool, &pkesks[1..], new_tail)
                .map_err(|e| io_err("writing the copies' ciphertext", e))
        }
        _ => Ok((Vec::new(), Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_key_type_wipes_itself() {
        // Type-level: a change to a session key type that is not wiped stops this compiling.
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<pgp::composed::RawSessionKey>();
    }

    fn armor(data: &[u8], pieces: usize) -> String {
        let mut out = Vec::new();
        let mut a = ArmorWriter::new(&mut out).unwrap();
        let step = data.len().div_ceil(pieces.max(1)).max(1);
        for c in data.chunks(step) {
            a.write_all(c).unwrap();
        }
        a.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn armor_matches_the_crate_and_is_chunking_independent() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let a = armor(&data, 1);
        for pieces in [2, 3, 7, 1000] {
            assert_eq!(a, armor(&data, pieces));
        }
        assert!(a.lines().all(|l| l.len() <= 64));
        // The crate's dearmor accepts it and checks the CRC.
        let mut d = pgp::armor::Dearmor::new(a.as_bytes());
        let mut bytes = Vec::new();
        d.read_to_end(&mut bytes).unwrap();
        assert_eq!(d.typ, Some(pgp::armor::BlockType::Message));
        assert!(d.headers.is_empty());
        assert_eq!(bytes, data);
        let mut crc = Crc24::default();
        crc.update(&data);
        assert_eq!(d.checksum, Some(u64::from(crc.value())));
        assert!(a.contains("\n=") && a.ends_with("-----END PGP MESSAGE-----\n"));
    }

    /// The bit-at-a-time CRC-24 of RFC 9580 section 6.1.1, as the reference.
    fn crc24_bitwise(data: &[u8]) -> u32 {
        let mut crc = CRC24_INIT;
        for &b in data {
            crc ^= u32::from(b) << 16;
            for _ in 0..8 {
                crc <<= 1;
                if crc & 0x0100_0000 != 0 {
                    crc ^= 0x0186_4CFB;
                }
            }
        }
        crc & 0x00FF_FFFF
    }

    #[test]
    fn crc24_matches_the_rfc_in_any_pieces() {
        let mut check = Crc24::default();
        check.update(b"123456789");
        assert_eq!(check.value(), 0x0021_CF02, "the CRC-24/OPENPGP check value");
        assert_eq!(Crc24::default().value(), CRC24_INIT);
        let data: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 4999] {
            let want = crc24_bitwise(&data[..len]);
            for step in [1, 3, 8, 13, 4096] {
                let mut c = Crc24::default();
                for piece in data[..len].chunks(step) {
                    c.update(piece);
                }
                assert_eq!(c.value(), want, "len {len}, pieces of {step}");
            }
        }
    }

    #[test]
    fn base64_table_matches_the_crate() {
        let data: Vec<u8> = (0..3 * 300u32).map(|i| (i * 131 % 256) as u8).collect();
        let mut out = Vec::new();
        b64_append(&data, &mut out);
        assert_eq!(out, STANDARD.encode(&data).into_bytes());
    }
}
