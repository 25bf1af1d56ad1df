//! Our streaming SEIPD v2 writer (RFC 9580 section 5.13.2): the body of a copy whose
//! recipients all take SEIPD v2 (docs/message.md, rule 8). The AEAD itself is the pgp
//! crate's (`AeadAlgorithm::encrypt_in_place`, one call per chunk); what is ours is the
//! schedule: the crate's own `StreamEncryptor` seals one chunk after the other on one
//! thread, while the chunks of SEIPD v2 are independent, so here they are sealed on every
//! core (bench/RESULTS.md has the figures).
//!
//! Owns: [`write_seipd_v2`], which reads the payload once and writes one SEIPD v2 packet
//! (and `write_seipd_v2_whole`, the same for a small payload in memory, on one thread):
//! version 2, the cipher, the AEAD mode, the chunk size octet and a random 32-byte salt;
//! then the encrypted chunks of the inner packet stream (a binary literal data packet with
//! an empty file name and date 0, in partial bodies, as in SEIPD v1), each with its tag;
//! then the final tag over the total length. The message key and nonce come from the
//! session key and the salt by HKDF-SHA256. The packet is framed in partial bodies, so
//! nothing needs the payload's length, and memory is a fixed pool of chunk buffers.
//!
//! The chunk size is 256 KiB ([`CHUNK_SIZE`]): large enough that the per-chunk cost (a
//! cipher set-up, a nonce, a 16-byte tag, a trip through the queues) is lost in the
//! chunk's own work, and that a chunk is a unit worth handing to another core; small
//! enough that a decryptor, which releases a chunk's plaintext only once its tag checks,
//! holds little (OpenPGP.js uses the same size by default; RFC 9580 lets readers refuse
//! chunks over 4 MiB only).
//!
//! Does not own: the session key, the PKESK packets, the armor or the copies.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::{Mutex, mpsc};

use bytes::BytesMut;
use pgp::crypto::aead::{AeadAlgorithm, ChunkSize};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use rand::{CryptoRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::openpgp::read_full;
use crate::openpgp::seipd::{
    self, Around, Fail, Framer, Hashed, LIT_CHUNK, LIT_CHUNK_LOG2, LIT_HEADER, TAG_LITERAL,
    TAG_SEIPD, put_length, tail_of,
};

/// The chunk size of every SEIPD v2 packet written here (see the module's text).
pub const CHUNK_SIZE: ChunkSize = ChunkSize::C256KiB;
const CHUNK: usize = 256 * 1024;
/// The tag of each chunk (OCB, EAX and GCM all have 16-byte tags).
const TAG: usize = 16;
/// The packet type octet of the associated data: SEIPD, new format (RFC 9580 5.13.2).
const AD_TAG: u8 = 0xC0 | 18;

/// The message key, the nonce's fixed part and the associated data of one packet.
struct Sealer {
    sym: SymmetricKeyAlgorithm,
    mode: AeadAlgorithm,
    key: Zeroizing<Vec<u8>>,
    iv: Vec<u8>,
    info: [u8; 5],
}

impl Sealer {
    /// HKDF-SHA256 over the session key with the salt, `info` as its info: the message key,
    /// then the nonce's first (nonce size - 8) bytes.
    fn new(
        sym: SymmetricKeyAlgorithm,
        mode: AeadAlgorithm,
        session_key: &[u8],
        salt: &[u8; 32],
    ) -> Result<Sealer, Fail> {
        if !matches!(
            sym,
            SymmetricKeyAlgorithm::AES128
                | SymmetricKeyAlgorithm::AES192
                | SymmetricKeyAlgorithm::AES256
        ) || !matches!(
            mode,
            AeadAlgorithm::Ocb | AeadAlgorithm::Gcm | AeadAlgorithm::Eax
        ) || session_key.len() != sym.key_size()
        {
            return Err(Fail::Internal(format!(
                "cannot seal with {sym:?}/{mode:?} and a session key of {} bytes",
                session_key.len()
            )));
        }
        let info = [
            AD_TAG,
            2,
            u8::from(sym),
            u8::from(mode),
            u8::from(CHUNK_SIZE),
        ];
        let iv_len = mode.nonce_size() - 8;
        let mut okm = Zeroizing::new(vec![0u8; sym.key_size() + iv_len]);
        hkdf::Hkdf::<Sha256>::new(Some(salt), session_key)
            .expand(&info, &mut okm)
            .map_err(|_| Fail::Internal("HKDF output length".into()))?;
        Ok(Sealer {
            sym,
            mode,
            key: Zeroizing::new(okm[..sym.key_size()].to_vec()),
            iv: okm[sym.key_size()..].to_vec(),
            info,
        })
    }

    /// Encrypts chunk `index` in place and appends its tag; `total`: the final tag, over
    /// nothing, with the total plaintext length in its associated data.
    fn seal(&self, index: u64, buf: &mut BytesMut, total: Option<u64>) -> io::Result<()> {
        let mut nonce = self.iv.clone();
        nonce.extend_from_slice(&index.to_be_bytes());
        let mut ad = self.info.to_vec();
        if let Some(t) = total {
            ad.extend_from_slice(&t.to_be_bytes());
        }
        self.mode
            .encrypt_in_place(&self.sym, &self.key, &nonce, &ad, buf)
            .map_err(|e| io::Error::other(format!("AEAD: {e}")))
    }
}

/// How many threads seal chunks: one per core, at most 4.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4))
}

/// Cuts the inner packet stream into chunks and queues them for the sealing threads,
/// each chunk in a buffer from the pool (so memory stays at the pool's size).
struct Chunker<'a> {
    cur: BytesMut,
    index: u64,
    total: u64,
    jobs: mpsc::SyncSender<(u64, BytesMut)>,
    pool: &'a mpsc::Receiver<BytesMut>,
}

impl Chunker<'_> {
    fn write(&mut self, mut data: &[u8]) -> Result<(), Option<io::Error>> {
        while !data.is_empty() {
            let take = (CHUNK - self.cur.len()).min(data.len());
            self.cur.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.cur.len() == CHUNK {
                self.send()?;
            }
        }
        Ok(())
    }

    /// Queues the chunk in hand (if any bytes) and takes the next buffer from the pool.
    /// `Err(None)`: the sealing or writing threads stopped.
    fn send(&mut self) -> Result<(), Option<io::Error>> {
        if self.cur.is_empty() {
            return Ok(());
        }
        let mut next = self.pool.recv().map_err(|_| None)?;
        next.clear();
        let full = std::mem::replace(&mut self.cur, next);
        self.total += full.len() as u64;
        self.jobs.send((self.index, full)).map_err(|_| None)?;
        self.index += 1;
        Ok(())
    }
}

/// Reads the payload as a binary literal data packet (tag, partial bodies of
/// [`LIT_CHUNK`] bytes, a regular length for the last part) into `out` (its last chunk not
/// sent yet). `Err(Some(e))`: reading failed.
fn literal<R: Read>(payload: &mut R, out: &mut Chunker) -> Result<(), Option<io::Error>> {
    out.write(&[TAG_LITERAL])?;
    let mut part = vec![0u8; LIT_CHUNK];
    part[..LIT_HEADER.len()].copy_from_slice(&LIT_HEADER);
    let mut len = LIT_HEADER.len();
    loop {
        len += read_full(payload, &mut part[len..]).map_err(Some)?;
        if len < LIT_CHUNK {
            break;
        }
        let mut next = [0u8; 1];
        if read_full(payload, &mut next).map_err(Some)? == 0 {
            break;
        }
        out.write(&[0xE0 | LIT_CHUNK_LOG2])?;
        out.write(&part)?;
        part[0] = next[0];
        len = 1;
    }
    let mut head = Vec::with_capacity(5);
    put_length(len, &mut head);
    out.write(&head)?;
    out.write(&part[..len])
}

/// The inner packet stream into `out`: the packets of `around` before the literal data
/// packet, the literal data packet (`around` given its bytes), the packets after it; the
/// last chunk sent. `tail` keeps why the packets after could not be made, if so.
fn inner<R: Read>(
    payload: R,
    around: Option<&mut dyn Around>,
    out: &mut Chunker,
    tail: &mut Result<(), Fail>,
) -> Result<(), Option<io::Error>> {
    if let Some(a) = around.as_deref() {
        out.write(a.head())?;
    }
    let mut hashed = Hashed { payload, around };
    literal(&mut hashed, out)?;
    match tail_of(hashed.around) {
        Ok(t) => out.write(&t)?,
        Err(e) => {
            // The packet stops short of its final tag.
            *tail = Err(e);
            return Err(None);
        }
    }
    out.send()
}

/// Writes the sealed chunks to `framer` in their order, giving each buffer back to the
/// pool; returns the framer and how many chunks it wrote.
fn write_in_order<W: Write>(
    mut framer: Framer<W>,
    done: mpsc::Receiver<io::Result<(u64, BytesMut)>>,
    pool: mpsc::Sender<BytesMut>,
) -> io::Result<(Framer<W>, u64)> {
    let mut next = 0u64;
    let mut waiting = BTreeMap::new();
    for sealed in done {
        let (i, buf) = sealed?;
        waiting.insert(i, buf);
        while let Some(buf) = waiting.remove(&next) {
            framer.push(&buf)?;
            next += 1;
            // The reader may have finished: then the buffer is dropped.
            let _ = pool.send(buf);
        }
    }
    if !waiting.is_empty() {
        return Err(io::Error::other("a chunk was lost"));
    }
    Ok((framer, next))
}

/// The start of a SEIPD v2 packet, written to `out`: its tag, version, cipher, mode,
/// chunk size and a fresh salt; with the sealer of its chunks and the framer of the rest.
fn start<W: Write, G: RngCore + CryptoRng>(
    rng: &mut G,
    sym: SymmetricKeyAlgorithm,
    mode: AeadAlgorithm,
    session_key: &[u8],
    mut out: W,
) -> Result<(Sealer, Framer<W>), Fail> {
    let mut salt = [0u8; 32];
    rng.fill_bytes(&mut salt);
    let sealer = Sealer::new(sym, mode, session_key, &salt)?;
    out.write_all(&[TAG_SEIPD]).map_err(Fail::Write)?;
    let mut framer = Framer::new(out);
    let mut head = vec![2, u8::from(sym), u8::from(mode), u8::from(CHUNK_SIZE)];
    head.extend_from_slice(&salt);
    framer.push(&head).map_err(Fail::Write)?;
    Ok((sealer, framer))
}

/// [`write_seipd_v2`] for a payload of at most [`seipd::WHOLE_MAX`] bytes held in memory,
/// on the calling thread alone: the chunks of the inner stream (one, unless the payload
/// is within a few bytes of [`CHUNK`]) sealed here in turn, then the final tag.
pub(crate) fn write_seipd_v2_whole<W: Write, G: RngCore + CryptoRng>(
    rng: &mut G,
    sym: SymmetricKeyAlgorithm,
    mode: AeadAlgorithm,
    session_key: &[u8],
    payload: &[u8],
    around: Option<&mut dyn Around>,
    out: W,
) -> Result<W, Fail> {
    let (sealer, mut framer) = start(rng, sym, mode, session_key, out)?;
    let inner = seipd::inner_whole(payload, around)?;
    let mut index = 0;
    for part in inner.chunks(CHUNK) {
        let mut chunk = BytesMut::from(part);
        sealer.seal(index, &mut chunk, None).map_err(Fail::Write)?;
        framer.push(&chunk).map_err(Fail::Write)?;
        index += 1;
    }
    let mut last = BytesMut::new();
    let total = Some(inner.len() as u64);
    sealer.seal(index, &mut last, total).map_err(Fail::Write)?;
    framer.finish(&last).map_err(Fail::Write)
}

/// Writes one SEIPD v2 packet holding `payload` as binary literal data, sealed with
/// `sym` and `mode` under a message key derived from `session_key` (the one the PKESK
/// packets carry). Returns the writer.
///
/// The payload is read and cut into chunks on the calling thread; the chunks are sealed
/// on `workers()` threads and written to `out`, in order, by one more.
pub fn write_seipd_v2<R, W, G>(
    rng: &mut G,
    sym: SymmetricKeyAlgorithm,
    mode: AeadAlgorithm,
    session_key: &[u8],
    payload: R,
    around: Option<&mut dyn Around>,
    out: W,
) -> Result<W, Fail>
where
    R: Read,
    W: Write + Send,
    G: RngCore + CryptoRng,
{
    let (sealer, framer) = start(rng, sym, mode, session_key, out)?;
    let n = workers();
    let (jobs_tx, jobs) = mpsc::sync_channel::<(u64, BytesMut)>(n);
    let jobs = Mutex::new(jobs);
    let (done_tx, done) = mpsc::sync_channel::<io::Result<(u64, BytesMut)>>(n);
    let (pool_tx, pool) = mpsc::channel::<BytesMut>();
    for _ in 0..2 * n + 2 {
        let _ = pool_tx.send(BytesMut::with_capacity(CHUNK + TAG));
    }
    std::thread::scope(|scope| {
        for _ in 0..n {
            let (jobs, done_tx, sealer) = (&jobs, done_tx.clone(), &sealer);
            scope.spawn(move || {
                loop {
                    let job = jobs.lock().map(|r| r.recv());
                    let Ok(Ok((i, mut buf))) = job else { return };
                    let sealed = sealer.seal(i, &mut buf, None).map(|()| (i, buf));
                    if done_tx.send(sealed).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let writer = scope.spawn(move || write_in_order(framer, done, pool_tx));
        let first = pool
            .recv()
            .map_err(|_| Fail::Internal("no buffer".into()))?;
        let mut chunker = Chunker {
            cur: first,
            index: 0,
            total: 0,
            jobs: jobs_tx,
            pool: &pool,
        };
        let mut tail = Ok(());
        let read = inner(payload, around, &mut chunker, &mut tail);
        let (chunks, total) = (chunker.index, chunker.total);
        // Hang up, so that the sealers and the writer end whatever happened here.
        drop(chunker);
        let written = writer
            .join()
            .map_err(|_| Fail::Internal("the writing thread panicked".into()))?;
        tail?;
        match (read, written) {
            (Err(Some(e)), _) => Err(Fail::Read(e)),
            (_, Err(e)) => Err(Fail::Write(e)),
            (Err(None), Ok(_)) => Err(Fail::Internal("the sealing threads ended early".into())),
            (Ok(()), Ok((_, w))) if w != chunks => Err(Fail::Internal("a chunk was lost".into())),
            (Ok(()), Ok((framer, _))) => {
                let mut last = BytesMut::new();
                sealer
                    .seal(chunks, &mut last, Some(total))
                    .map_err(Fail::Write)?;
                framer.finish(&last).map_err(Fail::Write)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgp::composed::{Message, PlainSessionKey};

    fn payload(len: usize) -> Vec<u8> {
        (0..len as u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 37) as u8)
            .collect()
    }

    fn seal(
        sym: SymmetricKeyAlgorithm,
        mode: AeadAlgorithm,
        key: &[u8],
        data: impl Read,
    ) -> Result<Vec<u8>, Fail> {
        write_seipd_v2(
            &mut rand::thread_rng(),
            sym,
            mode,
            key,
            data,
            None,
            Vec::new(),
        )
    }

    /// Opens a lone SEIPD v2 packet with the pgp crate under `key`, checking the literal
    /// packet's header.
    fn open(packet: &[u8], key: &[u8]) -> Result<Vec<u8>, String> {
        let m = Message::from_bytes(packet).map_err(|e| e.to_string())?;
        let mut d = m
            .decrypt_with_session_key(PlainSessionKey::V6 {
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
    fn the_crate_opens_every_length_and_suite() {
        use AeadAlgorithm::*;
        use SymmetricKeyAlgorithm::*;
        // Around the chunk and the literal's partial-body boundaries (the literal adds its
        // tag, its length octets and 6 header bytes before the payload).
        let lens = [
            0,
            1,
            CHUNK - 8,
            CHUNK - 7,
            CHUNK,
            2 * CHUNK + 5,
            LIT_CHUNK + 1,
            9 * CHUNK,
        ];
        let suites = [(AES256, Ocb), (AES128, Gcm), (AES192, Eax)];
        for (i, len) in lens.into_iter().enumerate() {
            let (sym, mode) = suites[i % suites.len()];
            let key = sym.new_session_key(rand::thread_rng());
            let data = payload(len);
            let out = seal(sym, mode, key.as_ref(), &data[..]).unwrap();
            assert_eq!(out[0], TAG_SEIPD);
            assert_eq!(
                open(&out, key.as_ref()).unwrap(),
                data,
                "{len} bytes, {sym:?}"
            );
        }
    }

    #[test]
    fn a_changed_byte_does_not_open() {
        let sym = SymmetricKeyAlgorithm::AES256;
        let key = sym.new_session_key(rand::thread_rng());
        let data = payload(3 * CHUNK);
        let out = seal(sym, AeadAlgorithm::Ocb, key.as_ref(), &data[..]).unwrap();
        for at in [60, out.len() / 2, out.len() - 3] {
            let mut bad = out.clone();
            bad[at] ^= 1;
            assert!(open(&bad, key.as_ref()).is_err(), "changed at {at}");
        }
    }

    /// Gives `.0` bytes, then fails.
    struct Broken(usize);

    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("gone"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(b'x');
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_read_error_is_a_read_error_and_a_bad_key_internal() {
        let sym = SymmetricKeyAlgorithm::AES256;
        let key = sym.new_session_key(rand::thread_rng());
        let r = seal(sym, AeadAlgorithm::Ocb, key.as_ref(), Broken(5 * CHUNK));
        assert!(matches!(r, Err(Fail::Read(_))), "{:?}", r.err());
        let r = seal(sym, AeadAlgorithm::Ocb, &key.as_ref()[..16], &b"x"[..]);
        assert!(matches!(r, Err(Fail::Internal(_))), "{:?}", r.err());
    }

    #[test]
    fn a_signature_that_cannot_be_made_stops_the_packet() {
        let sym = SymmetricKeyAlgorithm::AES256;
        let key = sym.new_session_key(rand::thread_rng());
        let mut around = crate::openpgp::seipd::tests::Unsignable(0);
        let data = vec![b'x'; 3 * CHUNK + 5];
        let r = write_seipd_v2(
            &mut rand::thread_rng(),
            sym,
            AeadAlgorithm::Ocb,
            key.as_ref(),
            &data[..],
            Some(&mut around),
            Vec::new(),
        );
        crate::openpgp::seipd::tests::assert_stopped_unsigned(&r, &around, data.len());
    }

    #[test]
    fn a_whole_payload_makes_the_streamed_packet_byte_for_byte() {
        use crate::openpgp::seipd::tests::{Framing, WHOLE_SIZES};
        use rand::SeedableRng;
        let key = [5u8; 32];
        for n in WHOLE_SIZES {
            let data = payload(n);
            for (framed, mode) in [(false, AeadAlgorithm::Ocb), (true, AeadAlgorithm::Gcm)] {
                let packet = |whole: bool| {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64);
                    let mut around = Framing(b"\xc4\x0dhead".to_vec(), 3);
                    let a = framed.then_some(&mut around as &mut dyn Around);
                    let sym = SymmetricKeyAlgorithm::AES256;
                    if whole {
                        write_seipd_v2_whole(&mut rng, sym, mode, &key, &data, a, Vec::new())
                    } else {
                        write_seipd_v2(&mut rng, sym, mode, &key, &data[..], a, Vec::new())
                    }
                    .unwrap()
                };
                let whole = packet(true);
                assert!(whole == packet(false), "{n} bytes, {mode:?}");
                if !framed {
                    assert!(open(&whole, &key).unwrap() == data, "{n} bytes open");
                }
            }
        }
    }
}
