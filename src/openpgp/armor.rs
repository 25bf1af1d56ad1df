//! ASCII armor (RFC 9580 section 6; rule 9 of docs/message.md): a `PGP MESSAGE` block with
//! 64-column lines, a CRC-24 line and no armor headers, for every copy.
//!
//! Owns: the armor writer ([`ArmorWriter`], used for the first copy, written out whole as it
//! is encrypted), [`Crc24`] (also used by [`crate::message::protected`] to check armor),
//! the base64 line encoding (`b64_append`) and the armor's header and footer lines; and
//! the armor of the copies that share one encrypted body (the hidden-recipient copies):
//! [`armor_split`] and [`Split`].
//!
//! The copies after the first: copy i of a message is the armor of `PKESKs_i || SEIPD`,
//! where only the PKESK packets differ between copies. Armor encodes 48 bytes per line, so
//! once `len(PKESKs_i) + k` is a multiple of 48 the lines of `SEIPD[k..]` are the same in
//! every copy with that `k`: they are encoded and stored once per distinct `k` (usually one
//! or two: PKESK lengths vary only with the key type and, for RSA, a leading zero byte),
//! while each copy keeps only its own short head and foot; delivery writes head, shared
//! tail and foot into a file of the copy's own when its turn comes
//! ([`crate::sendmail::deliver::Parts`]). Each copy's CRC-24 is combined from the CRC of
//! its head and the CRC of the shared tail (the "advance over n zero bytes" operator of
//! zlib's `crc32_combine`). The result is byte for byte what [`ArmorWriter`] writes for the
//! copy (the tests compare both).
//!
//! Does not own: the encryption or the PKESKs ([`crate::openpgp::encrypt`], which calls
//! this module; nothing here calls back), the MIME around the armor
//! ([`crate::message::pgpmime`]). Input: ciphertext only. Errors: those of the reader and
//! the writers, unchanged.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::openpgp::read_full;

/// 48 input bytes make one 64-column line.
const LINE_IN: usize = 48;
/// The armor header line and the blank line that ends the (empty) armor headers.
const HEADER: &[u8] = b"-----BEGIN PGP MESSAGE-----\n\n";
/// The line break after the CRC-24 line, and the armor footer line.
const FOOTER: &[u8] = b"\n-----END PGP MESSAGE-----\n";

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

impl<W: Write> ArmorWriter<W> {
    pub fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(HEADER)?;
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

    /// Writes the last line, the checksum and the footer, in one write; returns the inner
    /// writer.
    pub fn finish(mut self) -> io::Result<W> {
        let mut end = std::mem::take(&mut self.line);
        end.clear();
        if !self.pending.is_empty() {
            end.extend_from_slice(STANDARD.encode(&self.pending).as_bytes());
            end.push(b'\n');
        }
        let crc = self.crc.value();
        end.push(b'=');
        b64_append(&[(crc >> 16) as u8, (crc >> 8) as u8, crc as u8], &mut end);
        end.extend_from_slice(FOOTER);
        self.inner.write_all(&end)?;
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

// The copies after the first: armor of a shared body, split.

/// Input bytes encoded per pass (64 KiB, as [`ArmorWriter`]'s writes). Larger pieces
/// save few system calls and cost address space, which the RLIMIT_AS test
/// (tests/integration/faults.rs) shows is tight: 1 MiB pieces made glibc abort at 17 MiB
/// there.
const TAIL_PIECE: usize = LINE_IN * LINES_PER_WRITE;

/// Multiplies two polynomials of degree < 24 over GF(2), modulo the CRC-24 polynomial.
fn mulmod(a: u32, b: u32) -> u32 {
    let mut r = 0u32;
    for bit in (0..24).rev() {
        r <<= 1;
        if r & 0x0100_0000 != 0 {
            r ^= 0x0100_0000 | CRC24_POLY;
        }
        if b >> bit & 1 != 0 {
            r ^= a;
        }
    }
    r
}

/// "Advance the CRC-24 register over `n` zero bytes": multiplication by x^(8n) modulo the
/// polynomial (what zlib's `crc32_combine` does for CRC-32). The CRC has no final XOR and is
/// linear, so for any A and B: `crc(A || B) = shift(crc(A)) ^ crc(B) ^ shift(INIT)`, with
/// `shift` advancing over `len(B)` bytes (`crc(B) ^ shift(INIT)` is B's CRC from a zero
/// register).
struct Crc24Shift(u32);

impl Crc24Shift {
    fn new(n: u64) -> Self {
        let mut result = 1u32; // x^0
        let mut base = 1u32 << 8; // x^8: one byte
        let mut n = n;
        while n != 0 {
            if n & 1 != 0 {
                result = mulmod(result, base);
            }
            base = mulmod(base, base);
            n >>= 1;
        }
        Crc24Shift(result)
    }

    fn apply(&self, reg: u32) -> u32 {
        mulmod(reg, self.0)
    }
}

/// crc(A || B) from crc(A), crc(B) and len(B) (both CRCs from the usual initial value).
fn crc24_combine(crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
    let shift = Crc24Shift::new(len_b);
    shift.apply(crc_a) ^ crc_b ^ shift.apply(CRC24_INIT)
}

/// Appends armor lines for `data` (a multiple of 48 bytes long).
fn lines(data: &[u8], out: &mut Vec<u8>) {
    debug_assert_eq!(data.len() % LINE_IN, 0);
    for line in data.chunks_exact(LINE_IN) {
        b64_append(line, out);
        out.push(b'\n');
    }
}

/// One copy's armor as [`armor_split`] makes it: `head`, then the lines of the shared
/// tail `class` (none when `class` is `None`: a body too short to share), then `foot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The armor header line and the copy's own lines (its PKESKs and the first bytes of
    /// the shared body, up to the end of a line).
    pub head: Vec<u8>,
    /// Index of the shared tail this copy continues with.
    pub class: Option<usize>,
    /// The CRC-24 line and the armor footer.
    pub foot: Vec<u8>,
}

impl Split {
    /// The whole armor, with `tails` as [`armor_split`] wrote them (for tests and for
    /// writers without a faster path).
    pub fn assemble(&self, tails: &[Vec<u8>]) -> Vec<u8> {
        let mut out = self.head.clone();
        if let Some(c) = self.class {
            out.extend_from_slice(&tails[c]);
        }
        out.extend_from_slice(&self.foot);
        out
    }
}

/// The armor of `heads[i] || shared` for every i (`shared` read from its start), split so
/// that the common part is encoded and stored once per distinct `len(heads[i]) % 48`
/// instead of once per copy: each copy's own head and foot are returned in memory (a few
/// hundred bytes each), and the shared lines go to tails made by `new_tail`, which are
/// returned in class order. Head, tail and foot together are byte for byte what
/// [`ArmorWriter`] writes for the copy. Memory: about 150 KiB besides the heads and feet.
pub fn armor_split<S, T, F>(
    shared: &mut S,
    heads: &[Vec<u8>],
    mut new_tail: F,
) -> io::Result<(Vec<Split>, Vec<T>)>
where
    S: Read + Seek,
    T: Write,
    F: FnMut() -> io::Result<T>,
{
    let len = shared.seek(SeekFrom::End(0))?;
    let mut splits: Vec<Option<Split>> = vec![None; heads.len()];
    let mut tails = Vec::new();
    let mut piece = vec![0u8; TAIL_PIECE];
    let mut text = Vec::with_capacity(TAIL_PIECE / LINE_IN * 65 + 70);
    for (k, members) in by_alignment(heads) {
        shared.seek(SeekFrom::Start(0))?;
        if (k as u64) > len {
            // Shorter than the rest of a line: nothing to share.
            let mut all = Vec::with_capacity(k);
            shared.read_to_end(&mut all)?;
            for i in members {
                splits[i] = Some(unshared(&heads[i], &all)?);
            }
            continue;
        }
        let mut lead = vec![0u8; k];
        shared.read_exact(&mut lead)?;
        let own: Vec<(u32, Vec<u8>)> = members
            .iter()
            .map(|&i| own_lines(&heads[i], &lead))
            .collect();
        // The shared lines, encoded once, written once for every copy of this k.
        let mut tail = new_tail()?;
        let tail_crc = write_tail(shared, &mut tail, &mut piece, &mut text)?;
        let class = tails.len();
        tails.push(tail);
        for (&i, (head_crc, head)) in members.iter().zip(own) {
            let crc = crc24_combine(head_crc, tail_crc, len - k as u64);
            splits[i] = Some(Split {
                head,
                class: Some(class),
                foot: foot(crc),
            });
        }
    }
    Ok((splits.into_iter().flatten().collect(), tails))
}

/// The copies (indices into `heads`) by the number k of shared bytes that complete their
/// head's last line.
fn by_alignment(heads: &[Vec<u8>]) -> BTreeMap<usize, Vec<usize>> {
    let mut by_k: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, h) in heads.iter().enumerate() {
        by_k.entry((LINE_IN - h.len() % LINE_IN) % LINE_IN)
            .or_default()
            .push(i);
    }
    by_k
}

/// A copy whose shared body is shorter than the rest of its head's last line: its whole
/// armor is its head.
fn unshared(head: &[u8], all: &[u8]) -> io::Result<Split> {
    let mut a = ArmorWriter::new(Vec::new())?;
    a.write_all(head)?;
    a.write_all(all)?;
    Ok(Split {
        head: a.finish()?,
        class: None,
        foot: Vec::new(),
    })
}

/// One copy's own lines: the armor header, then its PKESKs and the first k shared bytes
/// (`lead`), a whole number of lines; with the CRC-24 of those bytes.
fn own_lines(head: &[u8], lead: &[u8]) -> (u32, Vec<u8>) {
    let mut bytes = Vec::with_capacity(head.len() + lead.len());
    bytes.extend_from_slice(head);
    bytes.extend_from_slice(lead);
    let mut crc = Crc24::default();
    crc.update(&bytes);
    let mut text = Vec::with_capacity(HEADER.len() + bytes.len() / LINE_IN * 65);
    text.extend_from_slice(HEADER);
    lines(&bytes, &mut text);
    (crc.value(), text)
}

/// Encodes the rest of `shared` (from where it is) into `tail`, `piece` bytes at a time
/// (`text` is the line buffer); returns the CRC-24 of those bytes.
fn write_tail<S: Read, T: Write>(
    shared: &mut S,
    tail: &mut T,
    piece: &mut [u8],
    text: &mut Vec<u8>,
) -> io::Result<u32> {
    let mut crc = Crc24::default();
    loop {
        let n = read_full(shared, piece)?;
        if n == 0 {
            break;
        }
        let data = &piece[..n];
        crc.update(data);
        let whole = n / LINE_IN * LINE_IN;
        text.clear();
        lines(&data[..whole], text);
        if whole < n {
            // Only at the end: a full piece is a whole number of lines.
            text.extend_from_slice(STANDARD.encode(&data[whole..]).as_bytes());
            text.push(b'\n');
        }
        tail.write_all(text)?;
        if n < piece.len() {
            break;
        }
    }
    Ok(crc.value())
}

/// The CRC-24 line for `crc`, and the armor footer.
fn foot(crc: u32) -> Vec<u8> {
    let mut foot = Vec::with_capacity(6 + FOOTER.len());
    foot.push(b'=');
    let sum = STANDARD.encode([(crc >> 16) as u8, (crc >> 8) as u8, crc as u8]);
    foot.extend_from_slice(sum.as_bytes());
    foot.extend_from_slice(FOOTER);
    foot
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

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

    /// What the straightforward path writes: one ArmorWriter per copy over the whole body.
    fn one_by_one(shared: &[u8], heads: &[Vec<u8>]) -> Vec<Vec<u8>> {
        heads
            .iter()
            .map(|h| {
                let mut a = ArmorWriter::new(Vec::new()).unwrap();
                a.write_all(h).unwrap();
                a.write_all(shared).unwrap();
                a.finish().unwrap()
            })
            .collect()
    }

    fn shared_path(shared: &[u8], heads: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let (splits, tails) =
            armor_split(&mut Cursor::new(shared), heads, || Ok(Vec::new())).unwrap();
        assert_eq!(splits.len(), heads.len());
        splits.iter().map(|s| s.assemble(&tails)).collect()
    }

    /// A small deterministic generator (xorshift), so that failures repeat.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    /// The length of a v3 PKESK packet for one key, as rpgp writes it: packet header
    /// (2 octets of length above 191), version, key ID, algorithm, then for RSA one MPI of
    /// the modulus size (a byte shorter when the value has a leading zero byte, 1 in 256) and
    /// for Cv25519 the 33-byte point MPI, the length octet and the 40-byte wrapped key.
    fn pkesk_len(rng: &mut Rng) -> usize {
        let body = |mpi: usize| 1 + 8 + 1 + 2 + mpi;
        let rsa = |bits: usize, rng: &mut Rng| {
            let short = if rng.below(4) == 0 { rng.below(3) } else { 0 };
            body(bits / 8 - short)
        };
        let b = match rng.below(5) {
            0 => rsa(2048, rng),
            1 => rsa(3072, rng),
            2 => rsa(4096, rng),
            _ => body(33) + 1 + 40,
        };
        b + if b < 192 { 2 } else { 3 }
    }

    #[test]
    fn crc_combination_matches_the_crc_of_the_whole() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let data = rng.bytes(5000);
        for cut in [0, 1, 47, 48, 49, 1000, 4999, 5000] {
            let (a, b) = data.split_at(cut);
            let crc = |d: &[u8]| {
                let mut c = Crc24::default();
                c.update(d);
                c.value()
            };
            assert_eq!(
                crc24_combine(crc(a), crc(b), b.len() as u64),
                crc(&data),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn every_alignment_and_short_bodies_match_one_by_one() {
        let mut rng = Rng(42);
        // Heads of every length mod 48 (0..=100 bytes), bodies around a line and a piece.
        let heads: Vec<Vec<u8>> = (0..=100).map(|n| rng.bytes(n)).collect();
        for body_len in [0, 1, 2, 3, 46, 47, 48, 49, 95, 96, 97, 200, 4801] {
            let body = rng.bytes(body_len);
            assert_eq!(
                shared_path(&body, &heads),
                one_by_one(&body, &heads),
                "body of {body_len} bytes"
            );
        }
        // Around the piece boundary for k = 0 and k = 47.
        for extra in [-1, 0, 1, 47, 48, 49] {
            let body = rng.bytes(TAIL_PIECE.checked_add_signed(extra).unwrap());
            let heads = vec![rng.bytes(96), rng.bytes(1), rng.bytes(49)];
            assert_eq!(shared_path(&body, &heads), one_by_one(&body, &heads));
        }
    }

    #[test]
    fn realistic_pkesk_mixes_match_one_by_one() {
        let mut rng = Rng(7);
        for round in 0..24 {
            let copies = 1 + rng.below(60);
            // Each copy: one to three keys (a hidden recipient with several certificates).
            let heads: Vec<Vec<u8>> = (0..copies)
                .map(|_| {
                    let keys = 1 + if rng.below(4) == 0 { rng.below(3) } else { 0 };
                    let n = (0..keys).map(|_| pkesk_len(&mut rng)).sum();
                    rng.bytes(n)
                })
                .collect();
            let body_len = if round < 4 {
                round
            } else {
                rng.below(200 * 1024 + 1)
            };
            let body = rng.bytes(body_len);
            assert_eq!(
                shared_path(&body, &heads),
                one_by_one(&body, &heads),
                "round {round}: {copies} copies, body of {body_len} bytes"
            );
        }
    }

    #[test]
    fn the_armor_decodes_with_the_crate() {
        let mut rng = Rng(99);
        let body = rng.bytes(10_000);
        let heads = vec![rng.bytes(94), rng.bytes(271)];
        for (out, head) in shared_path(&body, &heads).iter().zip(&heads) {
            let mut d = pgp::armor::Dearmor::new(&out[..]);
            let mut bytes = Vec::new();
            d.read_to_end(&mut bytes).unwrap();
            let mut want = head.clone();
            want.extend_from_slice(&body);
            assert_eq!(bytes, want);
        }
    }
}
