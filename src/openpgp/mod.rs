//! OpenPGP: the encryptor ([`encrypt`]: the session key and PKESKs, one encrypted body for
//! every copy), our streaming SEIPD ([`seipd`]), ASCII armor ([`armor`]: CRC-24, the armor
//! writer, the hidden copies' shared armor), and opening a message with a secret key for
//! tests and the demo ([`decrypt`]), the host signature ([`sign`]: the signing key and
//! the one-pass signature around the literal data), and our RSA PKESKs ([`rsa`]).
//!
//! `encrypt` uses `seipd`, `sign`, `rsa` and `armor`; `sign` uses `seipd`'s [`seipd::Around`]; none
//! of them uses `encrypt`.

pub mod armor;
pub mod decrypt;
pub mod encrypt;
pub mod rsa;
pub mod seipd;
pub mod seipd2;
pub mod sign;

use std::io::{self, Read};

/// Reads until `buf` is full or the input ends, retrying reads that were interrupted;
/// returns how many bytes it read (less than `buf.len()` only at the end of the input).
/// The one fill-the-buffer loop of the crate (the armor of shared tails, the SEIPD
/// literal data, and any reader that works in whole pieces).
pub fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives one byte per read, and an interruption before each.
    struct Trickle<'a>(&'a [u8], bool);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = self.0.len().min(buf.len()).min(1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn read_full_fills_through_short_and_interrupted_reads() {
        let mut buf = [0u8; 4];
        let mut r = Trickle(b"abcdef", false);
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"abcd");
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"ef");
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 0);
    }
}
