//! Version 3 PKESK packets to RSA keys (docs/message.md, rule 7), made here rather than by
//! the pgp crate, for speed: the crate encrypts with the rsa crate, whose `modpow` for an
//! odd modulus always runs a 4-bit-window Montgomery ladder over all 64 bits of each
//! exponent word, about 95 Montgomery products for the usual exponent 65537, where binary
//! square-and-multiply needs 17 modular products. For a 2 KiB message to one RSA-3072 key
//! that one public-key operation was three quarters of the run's instructions; here it
//! takes half of them (callgrind: 5.3M instructions, now 2.7M, each modular product a
//! multiplication and a division; bench/RESULTS.md, "Start-up").
//!
//! Owns: [`pkesk_v3`]: the session key as RFC 9580 section 5.1.3 and 5.1.4 lay it out for
//! RSA (algorithm octet, key, two-octet checksum), padded as EME-PKCS1-v1_5 (RFC 8017
//! section 7.2.1: `00 02`, at least eight non-zero random octets, `00`, the data), raised to
//! the public exponent modulo n, and written as the packet (new-format tag 1, version 3,
//! the key ID, algorithm 1, the MPI). The padded block and every intermediate power are
//! wiped when dropped. Keys with an exponent of 2^64 or more (or below 2) are left to the
//! crate.
//!
//! Does not own: which keys, or any other algorithm (see [`crate::openpgp::encrypt`]).

use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::types::{KeyDetails, PublicParams};
use rand::{CryptoRng, RngCore};
use rsa::BigUint;
use rsa::traits::PublicKeyParts;
use zeroize::{Zeroize, Zeroizing};

use crate::openpgp::seipd::put_length;

/// The new-format header octet of a PKESK packet (tag 1).
const TAG_PKESK: u8 = 0xC0 | 1;

/// `key`'s version 3 PKESK carrying `session_key` for `cipher`, when `key` is an RSA key
/// with an exponent that fits 64 bits; `None` for any other key (the caller uses the pgp
/// crate). `Some(Err)`: the modulus is too small to hold the session key.
pub fn pkesk_v3<K: KeyDetails + ?Sized, R: RngCore + CryptoRng>(
    rng: &mut R,
    session_key: &[u8],
    cipher: SymmetricKeyAlgorithm,
    key: &K,
) -> Option<Result<Vec<u8>, String>> {
    let PublicParams::RSA(params) = key.public_params() else {
        return None;
    };
    let n = params.key.n();
    let e = params.key.e().to_bytes_be();
    if e.len() > 8 {
        return None;
    }
    let e = e.iter().fold(0u64, |v, &b| v << 8 | u64::from(b));
    if e < 2 {
        return None;
    }
    let mut data = Zeroizing::new(Vec::with_capacity(session_key.len() + 3));
    data.push(u8::from(cipher));
    data.extend_from_slice(session_key);
    let sum = session_key
        .iter()
        .fold(0u16, |s, &b| s.wrapping_add(u16::from(b)));
    data.extend_from_slice(&sum.to_be_bytes());
    let k = n.bits().div_ceil(8);
    let Some(em) = pad(rng, &data, k) else {
        return Some(Err(format!(
            "an RSA modulus of {} bits cannot carry the session key",
            n.bits()
        )));
    };
    let mut m = BigUint::from_bytes_be(&em);
    let c = power(&m, e, n);
    m.zeroize();
    Some(Ok(packet(key.legacy_key_id().as_ref(), &c)))
}

/// EME-PKCS1-v1_5 of `data` in `k` octets: `00 02`, non-zero random octets, `00`, `data`;
/// `None` when fewer than eight random octets would fit.
fn pad<R: RngCore + CryptoRng>(rng: &mut R, data: &[u8], k: usize) -> Option<Zeroizing<Vec<u8>>> {
    let ps = k.checked_sub(data.len() + 3).filter(|&ps| ps >= 8)?;
    let mut em = Zeroizing::new(vec![0u8; k]);
    em[1] = 2;
    rng.fill_bytes(&mut em[2..2 + ps]);
    for b in &mut em[2..2 + ps] {
        while *b == 0 {
            rng.fill_bytes(std::slice::from_mut(b));
        }
    }
    em[3 + ps..].copy_from_slice(data);
    Some(em)
}

/// `m` to the power `e` (at least 2) modulo `n`, by left-to-right binary exponentiation
/// (one squaring per bit of `e` after the first, one product per further set bit); each
/// intermediate value wiped.
fn power(m: &BigUint, e: u64, n: &BigUint) -> BigUint {
    let base = Zeroizing::new(m % n);
    let mut acc = Zeroizing::new((*base).clone());
    for i in (0..63 - e.leading_zeros()).rev() {
        let squared = Zeroizing::new(&*acc * &*acc);
        acc = Zeroizing::new(&*squared % n);
        if e >> i & 1 == 1 {
            let product = Zeroizing::new(&*acc * &*base);
            acc = Zeroizing::new(&*product % n);
        }
    }
    (*acc).clone()
}

/// The PKESK packet: header, version 3, the key ID, algorithm 1 (RSA), the MPI of `c`.
fn packet(key_id: &[u8], c: &BigUint) -> Vec<u8> {
    let value = c.to_bytes_be();
    let bits = c.bits() as u16;
    let mut body = Vec::with_capacity(12 + value.len());
    body.push(3);
    body.extend_from_slice(key_id);
    body.push(1);
    body.extend_from_slice(&bits.to_be_bytes());
    body.extend_from_slice(&value);
    let mut out = vec![TAG_PKESK];
    put_length(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openpgp::{armor::ArmorWriter, decrypt, seipd};
    use pgp::composed::{Deserializable, SignedPublicKey};
    use std::io::Write;

    fn keys(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/keys")
            .join(name)
    }

    #[test]
    fn power_agrees_with_the_crates_modpow() {
        let n = BigUint::from_bytes_be(&[0xC5; 40]) | BigUint::from(1u8);
        for e in [2u64, 3, 17, 65537, (1 << 32) + 15, u64::MAX] {
            for seed in 1u8..6 {
                let m = BigUint::from_bytes_be(&[seed.wrapping_mul(37); 39]);
                let want = m.modpow(&BigUint::from(e), &n);
                assert_eq!(power(&m, e, &n), want, "e = {e}");
            }
        }
    }

    #[test]
    fn the_padding_is_eme_pkcs1_v1_5() {
        let mut rng = rand::rngs::OsRng;
        let data = [7u8; 35];
        for _ in 0..50 {
            let em = pad(&mut rng, &data, 384).unwrap();
            assert_eq!(em.len(), 384);
            assert_eq!(&em[..2], &[0, 2]);
            let ps = &em[2..384 - 36];
            assert!(ps.len() >= 8 && ps.iter().all(|&b| b != 0));
            assert_eq!(em[384 - 36], 0);
            assert_eq!(&em[384 - 35..], &data);
        }
        assert!(
            pad(&mut rng, &data, 46).is_some(),
            "eight random octets fit"
        );
        assert!(pad(&mut rng, &data, 45).is_none(), "seven do not");
    }

    #[test]
    fn alices_rsa_3072_key_opens_what_pkesk_v3_made() {
        let text = std::fs::read(keys("alice.asc")).unwrap();
        let (cert, _) = SignedPublicKey::from_armor_single(&text[..]).unwrap();
        let sub = &cert.public_subkeys[0];
        let secret = decrypt::secret_key(&keys("alice.sec.asc")).unwrap();
        let mut rng = rand::rngs::OsRng;
        let cipher = SymmetricKeyAlgorithm::AES256;
        for round in 0..8 {
            let session_key = cipher.new_session_key(rng);
            let pkesk = pkesk_v3(&mut rng, session_key.as_ref(), cipher, &sub.key)
                .expect("an RSA key")
                .unwrap();
            assert_eq!(pkesk[0], TAG_PKESK);
            // A two-octet length (RFC 9580 section 4.2.1.2), then the body.
            let len = (usize::from(pkesk[1]) - 192) * 256 + usize::from(pkesk[2]) + 192;
            assert_eq!(len, pkesk.len() - 3);
            let mut head = vec![3u8];
            head.extend_from_slice(sub.key.legacy_key_id().as_ref());
            head.push(1);
            assert_eq!(&pkesk[3..13], &head[..], "version, key ID, algorithm");
            let bits = usize::from(u16::from_be_bytes([pkesk[13], pkesk[14]]));
            assert_eq!(bits.div_ceil(8), pkesk.len() - 15, "the MPI's length");
            let payload = format!("round {round}\r\n").into_bytes();
            let seipd = seipd::write_seipd_v1_whole(
                &mut rng,
                cipher,
                session_key.as_ref(),
                &payload,
                None,
                Vec::new(),
            )
            .unwrap();
            let mut armored = Vec::new();
            let mut w = ArmorWriter::new(&mut armored).unwrap();
            w.write_all(&pkesk).unwrap();
            w.write_all(&seipd).unwrap();
            w.finish().unwrap();
            let opened = decrypt::open(&armored, &secret).unwrap();
            assert_eq!(opened.payload, payload);
            assert_eq!(opened.recipients.len(), 1);
        }
    }

    #[test]
    fn other_keys_are_left_to_the_crate() {
        let text = std::fs::read(keys("six.asc")).unwrap();
        let (cert, _) = SignedPublicKey::from_armor_single(&text[..]).unwrap();
        let key = [1u8; 32];
        let cipher = SymmetricKeyAlgorithm::AES256;
        let none = pkesk_v3(&mut rand::rngs::OsRng, &key, cipher, &cert.primary_key);
        assert!(none.is_none());
    }
}
