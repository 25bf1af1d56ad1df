//! Our own streaming SEIPD v1 encryptor (RFC 9580 section 5.13.1, version 1; RFC 4880
//! section 5.13): the body of every message, in place of rpgp's `MessageBuilder`, which
//! runs AES-CFB 8 KiB at a time through `cfb_mode::BufEncryptor` and copies its buffers
//! and partial packets around (bench/RESULTS.md). The session key and the PKESK packets are
//! still rpgp's (see [`crate::openpgp::encrypt`]).
//!
//! Owns: [`write_seipd_v1`], which reads the payload once and writes one SEIPD v1 packet
//! (reading on the calling thread, hashing and encrypting on a second one), and
//! `write_seipd_v1_whole`, the same packet for a small payload in memory, on the calling
//! thread alone:
//! version 1, then, encrypted with AES in OpenPGP CFB mode without resynchronization and
//! a zero IV: a random prefix of one block plus its last two bytes repeated, a literal data
//! packet (binary, empty file name, date 0) and the modification detection code packet
//! (0xD3 0x14 and the SHA-1 of everything before it, 0xD3 0x14 included). Both the literal
//! packet and the SEIPD packet use partial body lengths, so nothing needs the payload's
//! length and memory stays near 1 MiB whatever the size.
//!
//! Does not own: the session key, the PKESK packets, the armor or the copies.

use std::io::{self, Read, Write};
use std::sync::mpsc;

use aes::cipher::consts::U16;
use aes::cipher::{BlockBackend, BlockClosure, BlockEncrypt, BlockSizeUser, KeyInit};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use rand::{CryptoRng, RngCore};
use sha1::{Digest, Sha1};

use crate::openpgp::read_full;

/// log2 of the size of each partial body of the literal data packet (256 KiB): the
/// payload is read, hashed and encrypted this much at a time.
pub(crate) const LIT_CHUNK_LOG2: u8 = 18;
pub(crate) const LIT_CHUNK: usize = 1 << LIT_CHUNK_LOG2;
/// log2 of the size of each partial body of the SEIPD packet (256 KiB).
const SEIPD_CHUNK_LOG2: u8 = 18;
const SEIPD_CHUNK: usize = 1 << SEIPD_CHUNK_LOG2;

/// New-format packet tags (RFC 9580 section 4.2.1): literal data (11), SEIPD (18).
pub(crate) const TAG_LITERAL: u8 = 0xC0 | 11;
pub(crate) const TAG_SEIPD: u8 = 0xC0 | 18;
/// The MDC packet's header: new-format tag 19, length 20.
const MDC_HEADER: [u8; 2] = [0xD3, 0x14];

/// The packets around the literal data packet inside the encryption (docs/message.md,
/// rule 9): none, or the host signature's one-pass signature packet before it and its
/// signature packet after ([`crate::openpgp::sign`]). The writers give it the literal data
/// (the payload's bytes) as they read it, so the signature's hash streams with the cipher.
pub trait Around {
    /// The packets that come before the literal data packet.
    fn head(&self) -> &[u8];
    /// Takes the next bytes of the literal data.
    fn update(&mut self, data: &[u8]);
    /// The packets that come after the literal data packet, once all of it was given.
    fn tail(&mut self) -> Result<Vec<u8>, String>;
}

/// The payload as the writers read it, each read given to the [`Around`], if any.
pub(crate) struct Hashed<'a, R> {
    pub(crate) payload: R,
    pub(crate) around: Option<&'a mut dyn Around>,
}

impl<R: Read> Read for Hashed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.payload.read(buf)?;
        if let Some(a) = self.around.as_deref_mut() {
            a.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// The packets after the literal data: the [`Around`]'s tail, or nothing.
pub(crate) fn tail_of(around: Option<&mut dyn Around>) -> Result<Vec<u8>, Fail> {
    around.map_or(Ok(Vec::new()), |a| {
        a.tail()
            .map_err(|e| Fail::Internal(format!("signing the message: {e}")))
    })
}

/// Why [`write_seipd_v1`] stopped.
#[derive(Debug)]
pub enum Fail {
    /// Reading the payload failed.
    Read(io::Error),
    /// Writing the packet failed.
    Write(io::Error),
    /// The cipher or the key does not fit (only AES-128, -192 and -256 are made here), or
    /// the encrypting thread failed.
    Internal(String),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Read(e) => write!(f, "reading the message: {e}"),
            Fail::Write(e) => write!(f, "writing ciphertext: {e}"),
            Fail::Internal(e) => write!(f, "{e}"),
        }
    }
}

/// The block ciphers this encryptor makes (the ones our cipher choice can yield).
enum Aes {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

impl Aes {
    fn new(alg: SymmetricKeyAlgorithm, key: &[u8]) -> Result<Aes, Fail> {
        let bad = |_| Fail::Internal(format!("a {alg:?} session key of {} bytes", key.len()));
        Ok(match alg {
            SymmetricKeyAlgorithm::AES128 => {
                Aes::A128(aes::Aes128::new_from_slice(key).map_err(bad)?)
            }
            SymmetricKeyAlgorithm::AES192 => {
                Aes::A192(aes::Aes192::new_from_slice(key).map_err(bad)?)
            }
            SymmetricKeyAlgorithm::AES256 => {
                Aes::A256(aes::Aes256::new_from_slice(key).map_err(bad)?)
            }
            other => {
                return Err(Fail::Internal(format!(
                    "cannot encrypt with {other:?}: only AES is made here"
                )));
            }
        })
    }
}

/// OpenPGP CFB (RFC 9580 section 5.13.1 / RFC 4880 section 13.9 without the resync step),
/// which is plain CFB-128 with a zero IV over prefix and data.
struct Cfb {
    aes: Aes,
    /// The key stream block being used up; its first `pos` bytes have already been
    /// replaced by ciphertext (they become the next block's cipher input).
    block: aes::Block,
    pos: usize,
}

/// One call of the block cipher's backend over a whole buffer: the CPU-feature dispatch
/// of the `aes` crate happens once per buffer instead of once per block.
struct CfbRun<'a> {
    block: &'a mut aes::Block,
    pos: &'a mut usize,
    data: &'a mut [u8],
}

impl BlockSizeUser for CfbRun<'_> {
    type BlockSize = U16;
}

impl BlockClosure for CfbRun<'_> {
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let CfbRun { block, pos, data } = self;
        let mut data = data;
        if *pos > 0 {
            let n = (16 - *pos).min(data.len());
            for (d, k) in data[..n].iter_mut().zip(&mut block[*pos..*pos + n]) {
                *d ^= *k;
                *k = *d;
            }
            *pos += n;
            data = &mut data[n..];
            if *pos < 16 {
                return;
            }
            backend.proc_block(block.into());
            *pos = 0;
        }
        let mut chunks = data.chunks_exact_mut(16);
        for c in &mut chunks {
            let x = u128::from_ne_bytes(c.try_into().expect("16 bytes"))
                ^ u128::from_ne_bytes(block.as_slice().try_into().expect("16 bytes"));
            let x = x.to_ne_bytes();
            c.copy_from_slice(&x);
            block.copy_from_slice(&x);
            backend.proc_block(block.into());
        }
        let rest = chunks.into_remainder();
        for (d, k) in rest.iter_mut().zip(block.iter_mut()) {
            *d ^= *k;
            *k = *d;
        }
        *pos = rest.len();
    }
}

impl Drop for Cfb {
    fn drop(&mut self) {
        // The rest of the key stream block (the AES key schedules wipe themselves: the
        // `aes` crate's zeroize feature).
        zeroize::Zeroize::zeroize(self.block.as_mut_slice());
    }
}

impl Cfb {
    fn new(aes: Aes) -> Cfb {
        let mut block = aes::Block::default();
        match &aes {
            Aes::A128(c) => c.encrypt_block(&mut block),
            Aes::A192(c) => c.encrypt_block(&mut block),
            Aes::A256(c) => c.encrypt_block(&mut block),
        }
        Cfb { aes, block, pos: 0 }
    }

    /// Encrypts `data` in place, continuing the stream.
    fn encrypt(&mut self, data: &mut [u8]) {
        let run = CfbRun {
            block: &mut self.block,
            pos: &mut self.pos,
            data,
        };
        match &self.aes {
            Aes::A128(c) => c.encrypt_with_backend(run),
            Aes::A192(c) => c.encrypt_with_backend(run),
            Aes::A256(c) => c.encrypt_with_backend(run),
        }
    }
}

/// The new-format length of a packet's (last) body part (RFC 9580 section 4.2.1).
pub(crate) fn put_length(len: usize, out: &mut Vec<u8>) {
    if len < 192 {
        out.push(len as u8);
    } else if len < 8384 {
        let l = len - 192;
        out.extend_from_slice(&[(l >> 8) as u8 + 192, l as u8]);
    } else {
        out.push(0xFF);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// The SEIPD packet's framing: ciphertext goes out in partial bodies of [`SEIPD_CHUNK`]
/// bytes. A partial body is only started with a whole chunk in hand, and the MDC always
/// comes after, so the last part is never empty.
pub(crate) struct Framer<W> {
    out: W,
    /// Ciphertext not yet sent (less than one chunk).
    carry: Vec<u8>,
}

impl<W: Write> Framer<W> {
    pub(crate) fn new(out: W) -> Framer<W> {
        Framer {
            out,
            carry: Vec::with_capacity(SEIPD_CHUNK),
        }
    }

    fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        debug_assert_eq!(data.len(), SEIPD_CHUNK);
        self.out.write_all(&[0xE0 | SEIPD_CHUNK_LOG2])?;
        self.out.write_all(data)
    }

    /// Sends ciphertext that is not the end of the packet.
    pub(crate) fn push(&mut self, mut data: &[u8]) -> io::Result<()> {
        if !self.carry.is_empty() {
            let take = (SEIPD_CHUNK - self.carry.len()).min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < SEIPD_CHUNK {
                return Ok(());
            }
            let c = std::mem::take(&mut self.carry);
            self.chunk(&c)?;
            self.carry = c;
            self.carry.clear();
        }
        let mut chunks = data.chunks_exact(SEIPD_CHUNK);
        for c in &mut chunks {
            self.chunk(c)?;
        }
        self.carry.extend_from_slice(chunks.remainder());
        Ok(())
    }

    /// Sends the last ciphertext (the MDC) as the packet's last part.
    pub(crate) fn finish(mut self, last: &[u8]) -> io::Result<W> {
        self.carry.extend_from_slice(last);
        let mut head = Vec::with_capacity(5);
        put_length(self.carry.len(), &mut head);
        self.out.write_all(&head)?;
        self.out.write_all(&self.carry)?;
        Ok(self.out)
    }
}

/// Hashes, encrypts and frames plaintext of the encrypted stream.
struct Sealer<W> {
    cfb: Cfb,
    sha: Sha1,
    framer: Framer<W>,
}

impl<W: Write> Sealer<W> {
    /// Hashes and encrypts `data` in place, then sends it.
    fn seal(&mut self, data: &mut [u8]) -> io::Result<()> {
        self.sha.update(&*data);
        self.cfb.encrypt(data);
        self.framer.push(data)
    }

    fn finish(mut self) -> io::Result<W> {
        let mut mdc = [0u8; 22];
        mdc[..2].copy_from_slice(&MDC_HEADER);
        self.sha.update(MDC_HEADER);
        mdc[2..].copy_from_slice(&self.sha.finalize());
        self.cfb.encrypt(&mut mdc);
        self.framer.finish(&mdc)
    }
}

/// Buffers of [`LIT_CHUNK`] bytes queued between the reading thread and the encrypting
/// one (with one more on each side and those on their way back, memory stays near 1 MiB).
const QUEUE: usize = 2;

/// Work for the encrypting thread.
enum Job {
    /// Hash, encrypt and send `buf[from..to]`.
    Seal(Vec<u8>, usize, usize),
    /// The payload ended: add the MDC and end the packet.
    Finish,
}

/// The literal packet's body: format 'b', an empty file name, date 0.
pub(crate) const LIT_HEADER: [u8; 6] = [b'b', 0, 0, 0, 0, 0];

/// The start of a SEIPD v1 packet: its tag and version written to `out`, and the sealer
/// that encrypts the rest; with the random prefix (one block, its last two bytes
/// repeated), which is to be sealed first.
fn start_v1<W: Write, G: RngCore + CryptoRng>(
    rng: &mut G,
    alg: SymmetricKeyAlgorithm,
    key: &[u8],
    mut out: W,
) -> Result<(Sealer<W>, Vec<u8>), Fail> {
    let aes = Aes::new(alg, key)?;
    out.write_all(&[TAG_SEIPD]).map_err(Fail::Write)?;
    let mut sealer = Sealer {
        cfb: Cfb::new(aes),
        sha: Sha1::new(),
        framer: Framer::new(out),
    };
    // The version byte is the first byte of the first part, outside the encryption.
    sealer.framer.push(&[1]).map_err(Fail::Write)?;
    let mut prefix = vec![0u8; 18];
    rng.fill_bytes(&mut prefix[..16]);
    prefix[16] = prefix[14];
    prefix[17] = prefix[15];
    Ok((sealer, prefix))
}

/// The most payload bytes [`inner_whole`] takes: with the literal header, one part.
pub(crate) const WHOLE_MAX: usize = LIT_CHUNK - LIT_HEADER.len() - 1;

/// The inner packet stream of a payload of at most [`WHOLE_MAX`] bytes, made at once: the
/// packets of `around` before the literal data packet, that packet (one regular length,
/// as the streaming writers end it) and the packets after it; `around` is given the
/// payload. The same bytes as the streaming writers make of it.
pub(crate) fn inner_whole(
    payload: &[u8],
    mut around: Option<&mut dyn Around>,
) -> Result<Vec<u8>, Fail> {
    if payload.len() > WHOLE_MAX {
        return Err(Fail::Internal(
            "a payload too large to be made whole".into(),
        ));
    }
    let mut inner = Vec::with_capacity(payload.len() + 64);
    if let Some(a) = around.as_deref() {
        inner.extend_from_slice(a.head());
    }
    inner.push(TAG_LITERAL);
    put_length(LIT_HEADER.len() + payload.len(), &mut inner);
    inner.extend_from_slice(&LIT_HEADER);
    inner.extend_from_slice(payload);
    if let Some(a) = around.as_deref_mut() {
        a.update(payload);
    }
    inner.extend_from_slice(&tail_of(around)?);
    Ok(inner)
}

/// [`write_seipd_v1`] for a payload of at most [`WHOLE_MAX`] bytes held in memory, on the
/// calling thread alone: the same packet, without the thread and queues that pay off only
/// when there is reading to overlap with the cipher.
pub(crate) fn write_seipd_v1_whole<W: Write, G: RngCore + CryptoRng>(
    rng: &mut G,
    alg: SymmetricKeyAlgorithm,
    key: &[u8],
    payload: &[u8],
    around: Option<&mut dyn Around>,
    out: W,
) -> Result<W, Fail> {
    let (mut sealer, mut all) = start_v1(rng, alg, key, out)?;
    all.extend_from_slice(&inner_whole(payload, around)?);
    sealer.seal(&mut all).map_err(Fail::Write)?;
    sealer.finish().map_err(Fail::Write)
}

/// Reads the payload into buffers of one partial body each and queues them for the
/// encrypting thread, up to the end of the literal data packet. `Err(Some(e))`: reading
/// failed; `Err(None)`: that thread stopped.
fn read_literal<R: Read>(
    payload: &mut R,
    to_sealer: &mpsc::SyncSender<Job>,
    recycled: &mpsc::Receiver<Vec<u8>>,
) -> Result<(), Option<io::Error>> {
    let send = |job| to_sealer.send(job).map_err(|_| None);
    // Room for one more byte before each chunk: its partial-length octet, so that both go
    // through the cipher in one call.
    let mut buf = vec![0u8; 1 + LIT_CHUNK];
    buf[1..7].copy_from_slice(&LIT_HEADER);
    let mut len = LIT_HEADER.len();
    loop {
        len += read_full(payload, &mut buf[1 + len..]).map_err(Some)?;
        if len < LIT_CHUNK {
            break;
        }
        // A whole chunk: a partial body only if more follows (the last part must be a
        // regular length).
        let mut next = [0u8; 1];
        if read_full(payload, &mut next).map_err(Some)? == 0 {
            break;
        }
        buf[0] = 0xE0 | LIT_CHUNK_LOG2;
        let mut fresh = recycled
            .try_recv()
            .unwrap_or_else(|_| vec![0u8; 1 + LIT_CHUNK]);
        fresh[1] = next[0];
        send(Job::Seal(
            std::mem::replace(&mut buf, fresh),
            0,
            1 + LIT_CHUNK,
        ))?;
        len = 1;
    }
    // The last part: its length, then the bytes.
    let mut last = Vec::with_capacity(5);
    put_length(len, &mut last);
    let n = last.len();
    send(Job::Seal(last, 0, n))?;
    send(Job::Seal(buf, 1, 1 + len))
}

/// Writes one SEIPD v1 packet holding `payload` as binary literal data (with the packets of
/// `around` before and after it), encrypted with `alg` under `key` (the session key the
/// PKESK packets carry). Returns the writer.
///
/// The payload is read on the calling thread; SHA-1, AES and the writes to `out` run on a
/// second one, so that reading the input (a kernel copy) and the CRLF pass of
/// [`crate::message`] overlap with the cipher.
pub fn write_seipd_v1<R, W, G>(
    rng: &mut G,
    alg: SymmetricKeyAlgorithm,
    key: &[u8],
    payload: R,
    around: Option<&mut dyn Around>,
    out: W,
) -> Result<W, Fail>
where
    R: Read,
    W: Write + Send,
    G: RngCore + CryptoRng,
{
    let (mut sealer, mut head) = start_v1(rng, alg, key, out)?;
    // After the prefix: the packets before the literal one, and the literal packet's tag.
    if let Some(a) = around.as_deref() {
        head.extend_from_slice(a.head());
    }
    head.push(TAG_LITERAL);
    sealer.seal(&mut head).map_err(Fail::Write)?;

    std::thread::scope(|scope| {
        let (to_sealer, jobs) = mpsc::sync_channel::<Job>(QUEUE);
        let (give_back, recycled) = mpsc::channel::<Vec<u8>>();
        let worker = scope.spawn(move || -> io::Result<W> {
            for job in jobs {
                match job {
                    Job::Seal(mut buf, from, to) => {
                        sealer.seal(&mut buf[from..to])?;
                        if buf.len() == 1 + LIT_CHUNK {
                            // The reader may have gone already: then it is dropped.
                            let _ = give_back.send(buf);
                        }
                    }
                    Job::Finish => return sealer.finish(),
                }
            }
            // The reader stopped early: no MDC, no end of the packet.
            Err(io::Error::other("the message was not read to its end"))
        });
        let mut hashed = Hashed { payload, around };
        let mut tail = Ok(Vec::new());
        let read = read_literal(&mut hashed, &to_sealer, &recycled).and_then(|()| {
            tail = tail_of(hashed.around.take());
            // A failed signature stops the packet short of its end (no MDC).
            let Ok(t) = tail.as_mut().map(std::mem::take) else {
                return Err(None);
            };
            let n = t.len();
            to_sealer.send(Job::Seal(t, 0, n)).map_err(|_| None)?;
            to_sealer.send(Job::Finish).map_err(|_| None)
        });
        // Hang up, so that the worker ends whatever happened here.
        drop(to_sealer);
        let sealed = worker
            .join()
            .map_err(|_| Fail::Internal("the encryption thread panicked".into()))?;
        tail?;
        match (read, sealed) {
            (Err(Some(e)), _) => Err(Fail::Read(e)),
            (_, Err(e)) => Err(Fail::Write(e)),
            (Ok(()), Ok(w)) => Ok(w),
            (Err(None), Ok(_)) => Err(Fail::Internal(
                "the encryption thread ended too early".into(),
            )),
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use pgp::composed::{Message, PlainSessionKey};

    /// Deterministic payload bytes (with line breaks, like a message).
    fn payload(len: usize) -> Vec<u8> {
        (0..len as u64)
            .map(|i| {
                let v = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 37) as u8;
                if i % 77 == 76 { b'\n' } else { v }
            })
            .collect()
    }

    /// A reader that gives at most `step` bytes per call (tests the chunking).
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn seal(data: &[u8], alg: SymmetricKeyAlgorithm, step: usize) -> (Vec<u8>, Vec<u8>) {
        let mut rng = rand::thread_rng();
        let key = alg.new_session_key(&mut rng);
        let out = write_seipd_v1(
            &mut rng,
            alg,
            key.as_ref(),
            Trickle(data, step),
            None,
            Vec::new(),
        )
        .unwrap();
        (out, key.as_ref().to_vec())
    }

    /// Decrypts a lone SEIPD packet with rpgp, checking the literal packet's header.
    fn open(bytes: &[u8], alg: SymmetricKeyAlgorithm, key: &[u8]) -> Result<Vec<u8>, String> {
        let m = Message::from_bytes(bytes).map_err(|e| e.to_string())?;
        let mut d = m
            .decrypt_with_session_key(PlainSessionKey::V3_4 {
                sym_alg: alg,
                key: key.to_vec().into(),
            })
            .map_err(|e| e.to_string())?;
        let h = d.literal_data_header().ok_or("no literal data")?;
        assert_eq!(h.mode(), pgp::packet::DataMode::Binary);
        assert!(h.file_name().is_empty());
        assert_eq!(h.created().as_secs(), 0);
        let mut out = Vec::new();
        d.read_to_end(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn edge_sizes_decrypt_with_rpgp() {
        // Literal body = 6 + n bytes; the partial boundaries of both packets sit near
        // multiples of 256 KiB (the SEIPD adds 1 + 18 + the literal's framing + 22).
        let c = LIT_CHUNK;
        let sizes = [
            0,
            1,
            15,
            16,
            185,
            186,
            8000,
            c - 7,
            c - 6,
            c - 5,
            c - 4,
            c - 44,
            c - 45,
            c - 46,
            c,
            2 * c - 7,
            2 * c - 6,
            2 * c - 5,
            3 * c + 1000,
        ];
        for n in sizes {
            let data = payload(n);
            for step in [usize::MAX, 4093] {
                let (ct, key) = seal(&data, SymmetricKeyAlgorithm::AES256, step);
                let back = open(&ct, SymmetricKeyAlgorithm::AES256, &key)
                    .unwrap_or_else(|e| panic!("{n} bytes in reads of {step}: {e}"));
                assert!(
                    back == data,
                    "{n} bytes in reads of {step}: wrong plaintext"
                );
            }
        }
    }

    #[test]
    fn ten_mib_and_every_aes_decrypt_with_rpgp() {
        let data = payload(10 << 20);
        for alg in [
            SymmetricKeyAlgorithm::AES128,
            SymmetricKeyAlgorithm::AES192,
            SymmetricKeyAlgorithm::AES256,
        ] {
            let (ct, key) = seal(&data, alg, 65536);
            assert!(open(&ct, alg, &key).unwrap() == data, "{alg:?}");
        }
    }

    #[test]
    fn the_packet_is_seipd_v1_with_partial_lengths() {
        let (ct, _) = seal(
            &payload(3 * LIT_CHUNK),
            SymmetricKeyAlgorithm::AES256,
            1 << 20,
        );
        assert_eq!(ct[0], 0xD2, "new-format tag 18");
        assert_eq!(ct[1], 0xE0 | SEIPD_CHUNK_LOG2, "a partial body");
        assert_eq!(ct[2], 1, "version 1");
        // Walk the partial bodies to the last part, which must end the packet.
        let mut pos = 1;
        let mut body = 0;
        loop {
            let b = ct[pos];
            if (224..255).contains(&b) {
                body += 1usize << (b & 0x1F);
                pos += 1 + (1 << (b & 0x1F));
                continue;
            }
            let (len, hl) = match b {
                0..192 => (b as usize, 1),
                192..224 => (((b as usize - 192) << 8) + ct[pos + 1] as usize + 192, 2),
                _ => (
                    u32::from_be_bytes(ct[pos + 1..pos + 5].try_into().unwrap()) as usize,
                    5,
                ),
            };
            body += len;
            assert_eq!(pos + hl + len, ct.len(), "the last part ends the packet");
            break;
        }
        assert!(body > 3 * LIT_CHUNK);
    }

    #[test]
    fn a_changed_ciphertext_byte_fails_the_mdc_check() {
        let data = payload(100_000);
        let (ct, key) = seal(&data, SymmetricKeyAlgorithm::AES256, usize::MAX);
        assert!(open(&ct, SymmetricKeyAlgorithm::AES256, &key).unwrap() == data);
        // One byte in the middle of the literal data, then one in the MDC's digest.
        for at in [ct.len() / 2, ct.len() - 3] {
            let mut bad = ct.clone();
            bad[at] ^= 0x01;
            let r = open(&bad, SymmetricKeyAlgorithm::AES256, &key);
            assert!(r.is_err(), "a changed byte at {at} went unnoticed");
        }
    }

    /// Gives `0` bytes of payload, then fails.
    struct Broken(usize);

    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("the disk is on fire"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(b'x');
            self.0 -= n;
            Ok(n)
        }
    }

    /// Takes `0` bytes, then fails.
    struct Full(usize);

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if buf.len() > self.0 {
                return Err(io::Error::other("no space left"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn read_and_write_errors_stop_it_with_their_cause() {
        let mut rng = rand::thread_rng();
        let key = [7u8; 32];
        for at in [0, 10, 3 * LIT_CHUNK + 5] {
            let r = write_seipd_v1(
                &mut rng,
                SymmetricKeyAlgorithm::AES256,
                &key,
                Broken(at),
                None,
                Vec::new(),
            );
            assert!(
                matches!(&r, Err(Fail::Read(e)) if e.to_string().contains("on fire")),
                "payload failing after {at} bytes: {r:?}"
            );
        }
        for room in [0, 100, 2 * SEIPD_CHUNK] {
            let r = write_seipd_v1(
                &mut rng,
                SymmetricKeyAlgorithm::AES256,
                &key,
                &payload(4 * LIT_CHUNK)[..],
                None,
                Full(room),
            );
            assert!(
                matches!(&r, Err(Fail::Write(e)) if e.to_string().contains("no space")),
                "output failing after {room} bytes: {:?}",
                r.err()
            );
        }
    }

    #[test]
    fn the_aes_key_schedules_are_wiped_on_drop() {
        // Type-level: the block ciphers Aes holds (the expanded session key) are
        // ZeroizeOnDrop, which needs the aes crate's zeroize feature (Cargo.toml).
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<aes::Aes128>();
        wiped_on_drop::<aes::Aes192>();
        wiped_on_drop::<aes::Aes256>();
    }

    /// An [`Around`] whose signature cannot be made; counts the bytes it was given.
    pub(crate) struct Unsignable(pub(crate) usize);

    impl Around for Unsignable {
        fn head(&self) -> &[u8] {
            b""
        }

        fn update(&mut self, data: &[u8]) {
            self.0 += data.len();
        }

        fn tail(&mut self) -> Result<Vec<u8>, String> {
            Err("the key is gone".into())
        }
    }

    /// `r` failed because [`Unsignable`] could not make its signature, after it was given
    /// all `n` literal bytes.
    pub(crate) fn assert_stopped_unsigned<T>(r: &Result<T, Fail>, around: &Unsignable, n: usize) {
        assert!(
            matches!(r, Err(Fail::Internal(e)) if e.contains("key is gone")),
            "{:?}",
            r.as_ref().err()
        );
        assert_eq!(around.0, n, "every literal byte was hashed");
    }

    #[test]
    fn a_signature_that_cannot_be_made_stops_the_packet() {
        let mut rng = rand::thread_rng();
        let mut around = Unsignable(0);
        let data = payload(3 * LIT_CHUNK + 5);
        let r = write_seipd_v1(
            &mut rng,
            SymmetricKeyAlgorithm::AES256,
            &[7u8; 32],
            &data[..],
            Some(&mut around),
            Vec::new(),
        );
        assert_stopped_unsigned(&r, &around, data.len());
    }

    #[test]
    fn other_ciphers_are_refused() {
        let mut rng = rand::thread_rng();
        let r = write_seipd_v1(
            &mut rng,
            SymmetricKeyAlgorithm::Twofish,
            &[0; 32],
            &b"x"[..],
            None,
            Vec::new(),
        );
        assert!(matches!(r, Err(Fail::Internal(_))));
        let r = write_seipd_v1(
            &mut rng,
            SymmetricKeyAlgorithm::AES256,
            &[0; 16],
            &b"x"[..],
            None,
            Vec::new(),
        );
        assert!(matches!(r, Err(Fail::Internal(_))));
    }

    /// An [`Around`] with packets of its own before and after: a fixed head, and a tail
    /// made of what it was given (its length and a checksum), so that a writer that gave
    /// it other bytes makes another packet.
    pub(crate) struct Framing(pub(crate) Vec<u8>, pub(crate) u64);

    impl Around for Framing {
        fn head(&self) -> &[u8] {
            &self.0
        }

        fn update(&mut self, data: &[u8]) {
            for &b in data {
                self.1 = self.1.wrapping_mul(31).wrapping_add(u64::from(b) + 1);
            }
        }

        fn tail(&mut self) -> Result<Vec<u8>, String> {
            Ok(self.1.to_be_bytes().to_vec())
        }
    }

    /// Sizes on both sides of the length forms and of the largest whole payload.
    pub(crate) const WHOLE_SIZES: [usize; 9] =
        [0, 1, 185, 186, 8000, 8378, 65536, WHOLE_MAX - 1, WHOLE_MAX];

    #[test]
    fn a_whole_payload_makes_the_streamed_packet_byte_for_byte() {
        use rand::SeedableRng;
        let key = [9u8; 32];
        for n in WHOLE_SIZES {
            let data = payload(n);
            for framed in [false, true] {
                let packet = |whole: bool| {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64);
                    let mut around = Framing(b"\xc4\x0dhead".to_vec(), 7);
                    let a = framed.then_some(&mut around as &mut dyn Around);
                    let alg = SymmetricKeyAlgorithm::AES256;
                    if whole {
                        write_seipd_v1_whole(&mut rng, alg, &key, &data, a, Vec::new())
                    } else {
                        write_seipd_v1(&mut rng, alg, &key, &data[..], a, Vec::new())
                    }
                    .unwrap()
                };
                let whole = packet(true);
                assert!(whole == packet(false), "{n} bytes, framed {framed}");
                if !framed {
                    let back = open(&whole, SymmetricKeyAlgorithm::AES256, &key).unwrap();
                    assert!(back == data, "{n} bytes open to themselves");
                }
            }
        }
    }

    #[test]
    fn a_payload_too_large_to_be_whole_is_refused_and_a_failed_tail_stops_it() {
        let mut rng = rand::thread_rng();
        let alg = SymmetricKeyAlgorithm::AES256;
        let big = payload(WHOLE_MAX + 1);
        let r = write_seipd_v1_whole(&mut rng, alg, &[7; 32], &big, None, Vec::new());
        assert!(matches!(r, Err(Fail::Internal(_))), "{:?}", r.err());
        let mut around = Unsignable(0);
        let small = payload(100);
        let r = write_seipd_v1_whole(
            &mut rng,
            alg,
            &[7; 32],
            &small,
            Some(&mut around),
            Vec::new(),
        );
        assert_stopped_unsigned(&r, &around, 100);
    }
}
