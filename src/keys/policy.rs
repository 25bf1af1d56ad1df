//! The key policy: which signature hashes, key sizes and encryption algorithms count when a
//! certificate is judged (pgpsendmail(8), KEYS).
//!
//! Owns: the hash rule for the self-signatures that make a user ID, a subkey or the primary
//! key valid; the minimum size of RSA and DSA keys; and whether pgpsendmail's encryptor can
//! use a given encryption key, decided once, when the certificate is judged, by encrypting
//! a throw-away session key to it with the same call the encryptor makes. So a key the
//! encryptor cannot use is never offered to it: a send never fails on a key (exit 70); the
//! recipient is refused (67) with the reason, or reached through another subkey.
//!
//! Revocations are not subject to the hash rule: a revocation can only stop mail, so even
//! one over a weak hash is honoured.

use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{PublicKeyEncryptedSessionKey, Signature};
use pgp::ser::Serialize;
use pgp::types::{EcdhPublicParams, EncryptionKey, PublicParams};

/// SHA-1 self-signatures count only before this time (2026-02-01 00:00 UTC), the date from
/// which Sequoia's standard policy rejects them; GnuPG 2.2 still accepts them.
pub const SHA1_CUTOFF: u64 = 1_769_904_000;

/// The smallest RSA or DSA key that is not weak, for the primary key and every subkey.
pub const MIN_BITS: usize = 2048;

/// Why a self-signature's hash keeps it from counting at `now`, or `None` when it counts.
pub fn weak_hash(sig: &Signature, now: u64) -> Option<String> {
    match sig.hash_alg() {
        Some(
            HashAlgorithm::Sha256
            | HashAlgorithm::Sha384
            | HashAlgorithm::Sha512
            | HashAlgorithm::Sha224
            | HashAlgorithm::Sha3_256
            | HashAlgorithm::Sha3_512,
        ) => None,
        Some(HashAlgorithm::Sha1) if now < SHA1_CUTOFF => None,
        Some(HashAlgorithm::Sha1) => {
            Some("its self-signatures use SHA-1, not accepted since 2026-02-01".into())
        }
        Some(HashAlgorithm::Md5) => Some("its self-signatures use MD5".into()),
        Some(HashAlgorithm::Ripemd160) => Some("its self-signatures use RIPEMD-160".into()),
        Some(other) => Some(format!("its self-signatures use the hash {other:?}")),
        None => Some("its self-signatures use an unknown hash".into()),
    }
}

/// Key size in bits of an RSA modulus or a DSA prime, read from the first MPI's length.
fn bits(params: &PublicParams) -> Option<usize> {
    if !matches!(params, PublicParams::RSA(_) | PublicParams::DSA(_)) {
        return None;
    }
    let b = params.to_bytes().ok()?;
    (b.len() >= 2).then(|| u16::from_be_bytes([b[0], b[1]]) as usize)
}

/// Why a key (primary or subkey) is too weak to trust, or `None`.
pub fn weak_key(params: &PublicParams) -> Option<String> {
    let name = match params {
        PublicParams::RSA(_) => "RSA",
        PublicParams::DSA(_) => "DSA",
        _ => return None,
    };
    match bits(params) {
        Some(n) if n < MIN_BITS => Some(format!("{name} with {n} bits")),
        _ => None,
    }
}

/// The post-quantum composite encryption algorithms of the OpenPGP PQC draft that the
/// `pgp` crate implements (pgpsendmail(8), KEYS rule 10): ML-KEM-768 with X25519
/// (algorithm 35) and ML-KEM-1024 with X448 (36).
pub fn is_pqc_kem(alg: pgp::crypto::public_key::PublicKeyAlgorithm) -> bool {
    use pgp::crypto::public_key::PublicKeyAlgorithm::{MlKem768X25519, MlKem1024X448};
    matches!(alg, MlKem768X25519 | MlKem1024X448)
}

/// Whether pgpsendmail can encrypt to `key`: `Err` with the reason when it cannot. Known
/// families get a plain reason; anything else is tried, as the encryptor would do it.
pub fn encryptable<K: EncryptionKey>(key: &K) -> Result<(), String> {
    let alg = key.algorithm();
    match key.public_params() {
        PublicParams::Elgamal(_) => {
            return Err(format!(
                "ElGamal (algorithm {}): pgpsendmail cannot encrypt to it",
                u8::from(alg)
            ));
        }
        PublicParams::ECDH(EcdhPublicParams::Unsupported { curve, .. }) => {
            return Err(format!(
                "ECDH over {curve:?}: pgpsendmail cannot encrypt to this curve"
            ));
        }
        PublicParams::ECDH(
            EcdhPublicParams::Brainpool256 { .. }
            | EcdhPublicParams::Brainpool384 { .. }
            | EcdhPublicParams::Brainpool512 { .. },
        ) => {
            return Err("ECDH over a brainpool curve: pgpsendmail cannot encrypt to it".into());
        }
        _ => {}
    }
    if !alg.can_encrypt() {
        return Err(format!("algorithm {} cannot encrypt", u8::from(alg)));
    }
    let mut rng = rand::rngs::OsRng;
    let cipher = SymmetricKeyAlgorithm::AES256;
    let trial = cipher.new_session_key(rng);
    // A version 6 key or a post-quantum one is reached through a v6 PKESK only (SEIPD
    // v2); the others through a v3 PKESK, or a v6 one when their copy is SEIPD v2: the
    // trial makes the v3 one, whose encryption step is the same.
    let v6_only = key.version() == pgp::types::KeyVersion::V6 || is_pqc_kem(alg);
    let tried = if v6_only {
        PublicKeyEncryptedSessionKey::from_session_key_v6(&mut rng, &trial, key)
    } else {
        PublicKeyEncryptedSessionKey::from_session_key_v3(&mut rng, &trial, cipher, key)
    };
    tried.map(|_| ()).map_err(|e| {
        format!(
            "algorithm {}: pgpsendmail cannot encrypt to it ({})",
            u8::from(alg),
            crate::diag::sanitize(&e.to_string())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sha1_cutoff_is_the_first_of_february_2026() {
        assert_eq!(crate::diag::format_date(SHA1_CUTOFF), "2026-02-01");
        assert_eq!(crate::diag::format_date(SHA1_CUTOFF - 1), "2026-01-31");
    }
}
