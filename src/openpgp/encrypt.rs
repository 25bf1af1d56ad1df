//! The OpenPGP layer (docs/message.md, rules 7-9): PKESK v3 packets and SEIPD v1 with MDC,
//! or PKESK v6 packets and SEIPD v2 ([`Format`]), no compression, binary literal data with
//! an empty name and date 0, ASCII armor with 64-column lines, a CRC-24 line and no armor
//! headers (written by
//! [`crate::openpgp::armor`]; the SEIPD packet by [`crate::openpgp::seipd`] or
//! [`crate::openpgp::seipd2`]).
//!
//! Owns: [`encrypt_copies`], which reads the payload once and makes one armored OpenPGP
//! message per copy (the first written out whole, the others split around a shared armored
//! body, see [`armor::armor_split`]). All copies share one session key and one encrypted body;
//! each copy carries only the PKESK packets of its own recipients (so a hidden recipient's
//! key ID appears in no other copy). The payload streams: memory does not grow with its
//! size.
//!
//! Does not own: which keys or which copies (see [`crate::keys::recipients`]), or the MIME around
//! the armor (see [`crate::message::pgpmime`]).

use std::io::{self, Read, Write};
use std::sync::mpsc;

use pgp::composed::Esk;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::PublicKeyEncryptedSessionKey;
use pgp::ser::Serialize;
use rand::rngs::OsRng;

use crate::error::{Error, Result};
use crate::keys::{EncryptionKey, Suite};
use crate::openpgp::armor::{self, ArmorWriter, Split};
use crate::openpgp::seipd::Around;
use crate::openpgp::sign::HostKey;
use crate::openpgp::{rsa, seipd, seipd2};

/// The encrypted body of a set of copies (docs/message.md, rule 8): SEIPD v1 with v3
/// PKESKs under this cipher, or SEIPD v2 with v6 PKESKs under this suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    V1(SymmetricKeyAlgorithm),
    V2(Suite),
}

impl Format {
    /// The session key's cipher.
    fn cipher(self) -> SymmetricKeyAlgorithm {
        match self {
            Format::V1(c) => c,
            Format::V2((c, _)) => c,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Format::V1(c) => write!(f, "SEIPD v1, {c:?}"),
            Format::V2((c, m)) => write!(f, "SEIPD v2, {c:?}/{}", format!("{m:?}").to_uppercase()),
        }
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

/// Why a SEIPD writer stopped, as our error.
fn failed(e: seipd::Fail) -> Error {
    match e {
        // A read error from stdin surfaces here.
        seipd::Fail::Read(e) => reading(e),
        seipd::Fail::Write(e) => io_err("writing ciphertext", e),
        seipd::Fail::Internal(e) => Error::Internal(e),
    }
}

fn reading(e: io::Error) -> Error {
    Error::Io(format!("encrypting the message: {e}"))
}

/// Encrypts `payload` once for all copies. `copies[i]` lists the keys of copy i; every
/// copy gets the same session key and encrypted body, and only its own PKESK packets.
/// With `sign`, the body is signed inside the encryption by that key ([`crate::openpgp::sign`]).
/// The armor of copy 0 is written to `first` (after whatever the caller already wrote
/// there). With more than one copy, `spool` receives the shared encrypted body and is read
/// back for the others, whose armor is returned split ([`armor::armor_split`]):
/// element i-1 is copy i's, the shared lines going to tails made by `new_tail`.
pub fn encrypt_copies<R, W, S, T, F>(
    payload: R,
    copies: &[&[EncryptionKey]],
    format: Format,
    sign: Option<&HostKey>,
    first: &mut W,
    spool: Option<&mut S>,
    new_tail: F,
) -> Result<(Vec<Split>, Vec<T>)>
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
    // Every random byte of the message (session key, ephemeral keys and padding of the
    // PKESKs, the SEIPD prefix or salt) is the kernel's, read when needed (getrandom(2)):
    // a user-space generator would add its own seeding and, for rand's ChaCha, a
    // CPU-feature detection at every start (bench/RESULTS.md, "Start-up").
    let mut rng = OsRng;
    // The session key as rpgp's MessageBuilder makes it; the SEIPD packet is ours
    // (crate::openpgp::seipd: binary literal data, empty name, date 0). RawSessionKey wipes itself
    // when dropped (it is ZeroizeOnDrop in the pgp crate), at the end of this function; we
    // only lend it out (`as_ref`), never copy it into a buffer of ours. The AES key
    // schedule seipd makes from it is wiped with it (seipd::Cfb).
    let session_key: pgp::composed::RawSessionKey = format.cipher().new_session_key(rng);

    let mut pkesks: Vec<Vec<u8>> = Vec::with_capacity(copies.len());
    for &keys in copies {
        pkesks.push(pkesks_of(&mut rng, &session_key, format, keys)?);
    }

    let mut spool = spool;
    let mut signing = sign
        .map(HostKey::start)
        .transpose()
        .map_err(Error::Internal)?;
    encrypt_body(
        &mut rng,
        format,
        signing.as_mut().map(|s| s as &mut dyn Around),
        session_key.as_ref(),
        &pkesks[0],
        payload,
        first,
        spool.as_deref_mut(),
    )?;

    match spool {
        // The other copies: the shared body's armor is encoded and kept once per line
        // alignment.
        Some(spool) if copies.len() > 1 => armor::armor_split(spool, &pkesks[1..], new_tail)
            .map_err(|e| io_err("writing the copies' ciphertext", e)),
        _ => Ok((Vec::new(), Vec::new())),
    }
}

/// One PKESK: v3 (SEIPD v1) or v6 (SEIPD v2).
fn pkesk<K: pgp::types::EncryptionKey>(
    rng: &mut OsRng,
    session_key: &pgp::composed::RawSessionKey,
    format: Format,
    key: &K,
) -> pgp::errors::Result<PublicKeyEncryptedSessionKey> {
    match format {
        Format::V1(c) => {
            PublicKeyEncryptedSessionKey::from_session_key_v3(rng, session_key, c, key)
        }
        Format::V2(_) => PublicKeyEncryptedSessionKey::from_session_key_v6(rng, session_key, key),
    }
}

/// One copy's PKESK packets: the session key encrypted to each of its `keys`.
fn pkesks_of(
    rng: &mut OsRng,
    session_key: &pgp::composed::RawSessionKey,
    format: Format,
    keys: &[EncryptionKey],
) -> Result<Vec<u8>> {
    if keys.is_empty() {
        return Err(Error::Internal("a copy without keys".into()));
    }
    if matches!(format, Format::V1(_)) && keys.iter().any(EncryptionKey::needs_seipd_v2) {
        return Err(Error::Internal(
            "a version 6 or post-quantum key in a SEIPD v1 copy".into(),
        ));
    }
    let mut bytes = Vec::new();
    for k in keys {
        // An RSA key of a SEIPD v1 copy: our own PKESK (crate::openpgp::rsa, for speed).
        let ours = match (format, k) {
            (Format::V1(c), EncryptionKey::Subkey(s)) => {
                rsa::pkesk_v3(rng, session_key.as_ref(), c, s)
            }
            (Format::V1(c), EncryptionKey::Primary(p)) => {
                rsa::pkesk_v3(rng, session_key.as_ref(), c, p)
            }
            _ => None,
        };
        if let Some(made) = ours {
            let made = made.map_err(|e| {
                Error::Internal(format!(
                    "cannot encrypt the session key to {}: {e}",
                    k.fingerprint()
                ))
            })?;
            bytes.extend_from_slice(&made);
            continue;
        }
        let p = match k {
            EncryptionKey::Subkey(s) => pkesk(rng, session_key, format, s),
            EncryptionKey::Primary(p) => pkesk(rng, session_key, format, p),
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
    Ok(bytes)
}

/// Payloads of at most this many bytes (the `-t` cron mail, a mailx note) are encrypted
/// and armored in one pass on the calling thread ([`encrypt_whole`]): the threads and
/// queues of the streaming path pay off only when there is enough to overlap, and their
/// start-up (stacks, a malloc arena each, the hand-offs) was a tenth of a small message's
/// cost (bench/RESULTS.md). Larger ones stream.
const WHOLE: usize = 64 * 1024;

/// Encrypts `payload` into one SEIPD packet under `session_key` (lent out, never copied);
/// writes the armor of the first copy (`first_pkesks`, then the SEIPD) to `first` and the
/// bare SEIPD to `spool`, if any. Up to [`WHOLE`] bytes of the payload are read first: if
/// that is all of it, [`encrypt_whole`] makes the packet; otherwise [`encrypt_stream`],
/// starting again from those bytes.
#[allow(clippy::too_many_arguments)]
fn encrypt_body<R, W, S>(
    rng: &mut OsRng,
    format: Format,
    around: Option<&mut dyn Around>,
    session_key: &[u8],
    first_pkesks: &[u8],
    mut payload: R,
    first: &mut W,
    spool: Option<&mut S>,
) -> Result<()>
where
    R: Read,
    W: Write + Send,
    S: Write + Send,
{
    let mut start = Vec::new();
    (&mut payload)
        .take(WHOLE as u64 + 1)
        .read_to_end(&mut start)
        .map_err(reading)?;
    let keys = (session_key, first_pkesks);
    if start.len() <= WHOLE {
        return encrypt_whole(rng, format, around, keys, &start, first, spool);
    }
    let payload = io::Cursor::new(start).chain(payload);
    encrypt_stream(rng, format, around, keys, payload, first, spool)
}

/// [`encrypt_body`] for a payload wholly in memory (at most [`WHOLE`] bytes): the packet
/// made and armored on this thread, the writes buffered.
fn encrypt_whole<W: Write, S: Write>(
    rng: &mut OsRng,
    format: Format,
    around: Option<&mut dyn Around>,
    (session_key, first_pkesks): (&[u8], &[u8]),
    payload: &[u8],
    first: &mut W,
    spool: Option<&mut S>,
) -> Result<()> {
    let write = |e| io_err("writing ciphertext", e);
    let mut armor = ArmorWriter::new(io::BufWriter::with_capacity(PIECE, first)).map_err(write)?;
    armor.write_all(first_pkesks).map_err(write)?;
    let tee = Tee(armor, spool.map(io::BufWriter::new));
    let Tee(armor, spool) = match format {
        Format::V1(c) => seipd::write_seipd_v1_whole(rng, c, session_key, payload, around, tee),
        Format::V2((c, m)) => {
            seipd2::write_seipd_v2_whole(rng, c, m, session_key, payload, around, tee)
        }
    }
    .map_err(failed)?;
    if let Some(mut s) = spool {
        s.flush().map_err(write)?;
    }
    armor.finish().and_then(|mut f| f.flush()).map_err(write)
}

/// [`encrypt_body`] streaming: the encryptor (CFB and SHA-1; for SEIPD v2 the chunking,
/// its sealers on threads of their own) runs here; the armor (CRC-24, base64) and the
/// writes run on a second thread, fed through a bounded queue of buffers (memory stays
/// flat).
fn encrypt_stream<R, W, S>(
    rng: &mut OsRng,
    format: Format,
    around: Option<&mut dyn Around>,
    (session_key, first_pkesks): (&[u8], &[u8]),
    payload: R,
    first: &mut W,
    spool: Option<&mut S>,
) -> Result<()>
where
    R: Read,
    W: Write + Send,
    S: Write + Send,
{
    std::thread::scope(|scope| -> Result<()> {
        let (to_armor, queue) = mpsc::sync_channel::<Vec<u8>>(QUEUE);
        let (give_back, recycled) = mpsc::channel::<Vec<u8>>();
        let pk = first_pkesks;
        let armorer = scope.spawn(move || -> io::Result<()> {
            let mut armor = ArmorWriter::new(first)?;
            armor.write_all(pk)?;
            let mut tee = Tee(armor, spool);
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
        let enc = match format {
            Format::V1(c) => seipd::write_seipd_v1(rng, c, session_key, payload, around, &mut feed),
            Format::V2((c, m)) => {
                seipd2::write_seipd_v2(rng, c, m, session_key, payload, around, &mut feed)
            }
        };
        let enc = enc
            .map_err(failed)
            .and_then(|f| f.close().map_err(|e| io_err("writing ciphertext", e)));
        // Hang up first, so that the armorer ends whatever happened here.
        drop(feed);
        let armored = armorer
            .join()
            .map_err(|_| Error::Internal("the armor thread panicked".into()))?;
        // The armorer's own error explains a closed queue better than the encryptor's.
        armored.map_err(|e| io_err("writing ciphertext", e))?;
        enc
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_session_key_type_wipes_itself() {
        // Type-level: a change to a session key type that is not wiped stops this compiling.
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<pgp::composed::RawSessionKey>();
    }
}
