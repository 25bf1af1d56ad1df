//! The OpenPGP layer (spec/message.md rules 7-9): PKESK v3 packets, SEIPD v1 with MDC, no
//! compression, binary literal data with an empty name and date 0, ASCII armor with
//! 64-column lines, a CRC-24 line and no armor headers.
//!
//! Owns: [`encrypt_copies`], which reads the payload once and writes one armored OpenPGP
//! message per copy. All copies share one session key and one encrypted body; each copy
//! carries only the PKESK packets of its own recipients (so a hidden recipient's key ID
//! appears in no other copy). The payload streams: memory does not grow with its size.
//!
//! Does not own: which keys or which copies (see [`crate::recipients`]), or the MIME around
//! the armor (see [`crate::pgpmime`]).

use std::hash::Hasher;
use std::io::{self, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pgp::composed::{Esk, MessageBuilder};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::PublicKeyEncryptedSessionKey;
use pgp::ser::Serialize;

use crate::error::{Error, Result};
use crate::keys::EncryptionKey;

/// Writes ASCII armor (RFC 9580 section 6) of a `PGP MESSAGE` to the inner writer.
pub struct ArmorWriter<W: Write> {
    inner: W,
    /// Bytes not yet encoded (fewer than 48: one line's worth).
    pending: Vec<u8>,
    crc: crc24::Crc24Hasher,
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
            crc: crc24::Crc24Hasher::new(),
            line: Vec::with_capacity(64 * 1024),
        })
    }

    fn encode_lines(&mut self, data: &[u8]) -> io::Result<()> {
        debug_assert_eq!(data.len() % LINE_IN, 0);
        self.line.clear();
        let mut tmp = [0u8; 64];
        for chunk in data.chunks(LINE_IN) {
            let n = STANDARD
                .encode_slice(chunk, &mut tmp)
                .map_err(io::Error::other)?;
            self.line.extend_from_slice(&tmp[..n]);
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
        let crc = self.crc.finish() as u32;
        let crc = STANDARD.encode([(crc >> 16) as u8, (crc >> 8) as u8, crc as u8]);
        self.inner.write_all(b"=")?;
        self.inner.write_all(crc.as_bytes())?;
        self.inner.write_all(b"\n-----END PGP MESSAGE-----\n")?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ArmorWriter<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        self.crc.write(buf);
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
        for part in buf[..whole].chunks(LINE_IN * 1024) {
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

fn io_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Io(format!("{what}: {e}"))
}

/// Encrypts `payload` once per copy. `copies[i]` lists the keys of copy i. For each copy,
/// `out(i)` gives the writer that receives the armored message (written after whatever the
/// caller already wrote there). `spool` receives the shared encrypted body when there is
/// more than one copy, and is read back for the others.
pub fn encrypt_copies<R, W, S>(
    payload: R,
    copies: &[&[EncryptionKey]],
    cipher: SymmetricKeyAlgorithm,
    outs: &mut [W],
    spool: Option<&mut S>,
) -> Result<()>
where
    R: Read,
    W: Write,
    S: Read + Write + io::Seek,
{
    if copies.is_empty() || copies.len() != outs.len() {
        return Err(Error::Internal(
            "encrypt_copies: copies and outputs differ".into(),
        ));
    }
    if copies.len() > 1 && spool.is_none() {
        return Err(Error::Internal(
            "encrypt_copies: several copies need a spool".into(),
        ));
    }
    let mut rng = rand::thread_rng();
    let mut builder = MessageBuilder::from_reader("", payload).seipd_v1(&mut rng, cipher);
    let session_key = builder.session_key().clone();
    // Literal data in binary mode with an empty name; the builder sets date 0.
    builder
        .data_mode(pgp::packet::DataMode::Binary)
        .map_err(|e| Error::Internal(format!("data mode: {e}")))?;

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

    let (first, rest) = outs.split_at_mut(1);
    let mut armor = ArmorWriter::new(&mut first[0]).map_err(|e| io_err("writing ciphertext", e))?;
    armor
        .write_all(&pkesks[0])
        .map_err(|e| io_err("writing ciphertext", e))?;
    let mut spool = spool;
    {
        let tee = Tee(&mut armor, spool.as_deref_mut());
        builder.to_writer(&mut rng, tee).map_err(|e| {
            // A read error from stdin surfaces here, wrapped by the crate.
            Error::Io(format!("encrypting the message: {e}"))
        })?;
    }
    armor
        .finish()
        .map_err(|e| io_err("writing ciphertext", e))?;

    if let Some(spool) = spool {
        for (out, pk) in rest.iter_mut().zip(&pkesks[1..]) {
            spool
                .seek(io::SeekFrom::Start(0))
                .map_err(|e| io_err("reading the shared ciphertext", e))?;
            let mut armor = ArmorWriter::new(out).map_err(|e| io_err("writing ciphertext", e))?;
            armor
                .write_all(pk)
                .map_err(|e| io_err("writing ciphertext", e))?;
            io::copy(spool, &mut armor).map_err(|e| io_err("copying the shared ciphertext", e))?;
            armor
                .finish()
                .map_err(|e| io_err("writing ciphertext", e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(d.checksum, Some(u64::from(crc24::hash_raw(&data))));
        assert!(a.contains("\n=") && a.ends_with("-----END PGP MESSAGE-----\n"));
    }
}
