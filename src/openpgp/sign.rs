//! The host signature (pgpsendmail.toml(5), `sign_key`; docs/message.md, rule 9): every
//! encrypted copy signed inside the encryption by this host's key, as one-pass signature,
//! literal data, signature, so that its recipients can see the mail came from this host.
//!
//! Owns: reading and judging the secret key file ([`HostKey::load`]; which of its keys
//! signs is [`crate::keys::validity::signing_key`]'s rule), and per message a [`Signing`]:
//! the one-pass signature packet (version 3 for a version 4 key, version 6 with the
//! signature's salt for a version 6 key), the hash that the literal data streams through
//! ([`Around`]), and the signature packet made from it at the end. The signature
//! is the pgp crate's (`SignatureConfig`, `SignatureHasher`, `OnePassSignature`): a binary
//! document signature with the issuer fingerprint and creation time hashed, and for a
//! version 4 key the issuer key ID unhashed, as the crate's own message builder makes it.
//!
//! Does not own: what happens when the key cannot be read (`sign_unreadable`, in
//! [`crate::pipeline`]), the encryption, or `check`'s report.

use std::path::Path;
use std::time::SystemTime;

use pgp::composed::{Deserializable, SignedSecretKey};
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::packet::{
    OnePassSignature, PacketTrait, SignatureConfig, SignatureHasher, SignatureType,
    SignatureVersionSpecific, Subpacket, SubpacketData,
};
use pgp::types::{Fingerprint, KeyDetails, KeyVersion, Password, SigningKey, Timestamp};

use crate::keys::validity::{self, hex_upper};
use crate::openpgp::seipd::Around;

/// Why a signing key file gave no signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The file could not be opened (for most users: it is root's, mode 0600).
    Unreadable(String),
    /// The file was read but holds no usable signing key.
    Bad(String),
}

/// A judged signing key: the secret key file's key, and which of its keys signs.
pub struct HostKey {
    key: SignedSecretKey,
    /// `None`: the primary key signs; else this secret subkey.
    subkey: Option<usize>,
    /// The signing key's fingerprint (upper-case hex).
    pub fingerprint: String,
    /// The primary key's fingerprint (upper-case hex).
    pub primary: String,
    /// When the signing key stops being usable (Unix time), if it does.
    pub expires: Option<u64>,
}

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostKey({})", self.fingerprint)
    }
}

impl HostKey {
    /// Reads the secret key file at `path` (armored or binary) and judges it as of `now`.
    pub fn load(path: &Path, now: SystemTime) -> Result<HostKey, LoadError> {
        use std::os::unix::fs::OpenOptionsExt;
        // Whether this user may open it at all (O_NONBLOCK: a FIFO in its place must not
        // wait for a writer; read_capped then refuses anything but a regular file).
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| LoadError::Unreadable(e.to_string()))?;
        let bytes = crate::keys::read_capped(path).map_err(LoadError::Bad)?;
        HostKey::parse(&bytes, now).map_err(LoadError::Bad)
    }

    /// A secret key (armored or binary) judged as of `now`: a key of it must be able to
    /// sign by the validity rules, its secret part must be in the file, without a
    /// passphrase.
    pub fn parse(bytes: &[u8], now: SystemTime) -> Result<HostKey, String> {
        let (key, _) = SignedSecretKey::from_reader_single(bytes)
            .map_err(|e| format!("not a secret key: {}", one_line(&e)))?;
        let choice = validity::signing_key(&key.to_public_key(), now)?;
        let primary = hex_upper(key.primary_key.fingerprint().as_bytes());
        let subkey = if key.primary_key.fingerprint().as_bytes() == choice.fingerprint {
            None
        } else {
            let at = key
                .secret_subkeys
                .iter()
                .position(|s| s.key.fingerprint().as_bytes() == choice.fingerprint)
                .ok_or_else(|| {
                    format!(
                        "the secret part of signing subkey {} is not in the file",
                        hex_upper(&choice.fingerprint)
                    )
                })?;
            Some(at)
        };
        let host = HostKey {
            fingerprint: hex_upper(&choice.fingerprint),
            primary,
            expires: choice.expires,
            subkey,
            key,
        };
        if host.locked() {
            return Err(format!(
                "signing key {} is protected by a passphrase; sign_key takes a key without one",
                host.fingerprint
            ));
        }
        refuse_ml_dsa(host.signer().algorithm(), &host.fingerprint)?;
        Ok(host)
    }

    /// Whether the signing key's secret part is encrypted (or a stub without one).
    fn locked(&self) -> bool {
        match self.subkey {
            None => self.key.primary_key.secret_params().is_encrypted(),
            Some(i) => self.key.secret_subkeys[i]
                .key
                .secret_params()
                .is_encrypted(),
        }
    }

    fn signer(&self) -> &dyn SigningKey {
        match self.subkey {
            None => &self.key.primary_key,
            Some(i) => &self.key.secret_subkeys[i].key,
        }
    }

    /// Starts the signature of one message.
    pub fn start(&self) -> Result<Signing<'_>, String> {
        let key = self.signer();
        let (typ, alg, hash) = (SignatureType::Binary, key.algorithm(), key.hash_alg());
        let e = |e: pgp::errors::Error| format!("cannot start the signature: {}", one_line(&e));
        let mut config = match key.version() {
            KeyVersion::V6 => SignatureConfig::v6(rand::rngs::OsRng, typ, alg, hash).map_err(e)?,
            _ => SignatureConfig::v4(typ, alg, hash),
        };
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint())).map_err(e)?,
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now()))
                .map_err(e)?,
        ];
        let ops = match (&config.version_specific, key.fingerprint()) {
            (SignatureVersionSpecific::V6 { salt }, Fingerprint::V6(fp)) => {
                OnePassSignature::v6(typ, hash, alg, salt.clone(), fp)
            }
            (SignatureVersionSpecific::V4, _) => {
                config.unhashed_subpackets = vec![
                    Subpacket::regular(SubpacketData::IssuerKeyId(key.legacy_key_id()))
                        .map_err(e)?,
                ];
                OnePassSignature::v3(typ, hash, alg, key.legacy_key_id())
            }
            _ => return Err("a signing key of neither version 4 nor 6".into()),
        };
        let mut head = Vec::new();
        ops.to_writer_with_header(&mut head).map_err(e)?;
        Ok(Signing {
            key,
            head,
            hasher: Some(config.into_hasher().map_err(e)?),
        })
    }
}

/// The signature of one message in the making: the [`Around`] of its encrypted copies.
pub struct Signing<'k> {
    key: &'k dyn SigningKey,
    /// The one-pass signature packet.
    head: Vec<u8>,
    /// `None` once the signature was made.
    hasher: Option<SignatureHasher>,
}

impl Around for Signing<'_> {
    fn head(&self) -> &[u8] {
        &self.head
    }

    fn update(&mut self, data: &[u8]) {
        if let Some(h) = self.hasher.as_mut() {
            // Writing to a hasher cannot fail.
            let _ = std::io::Write::write_all(h, data);
        }
    }

    fn tail(&mut self) -> Result<Vec<u8>, String> {
        let hasher = self.hasher.take().ok_or("the signature was made already")?;
        let sig = hasher
            .sign(self.key, &Password::empty())
            .map_err(|e| one_line(&e))?;
        let mut out = Vec::new();
        sig.to_writer_with_header(&mut out)
            .map_err(|e| one_line(&e))?;
        Ok(out)
    }
}

/// An ML-DSA signing key is refused (pgpsendmail.toml(5), `sign_key`): the `ml-dsa` crate
/// the `pgp` crate signs it with (0.0.4) has a timing side channel in signing that can leak
/// the key (RUSTSEC-2025-0144, see SECURITY.md), and the host key signs every message.
fn refuse_ml_dsa(alg: PublicKeyAlgorithm, fingerprint: &str) -> Result<(), String> {
    match alg {
        PublicKeyAlgorithm::MlDsa65Ed25519 | PublicKeyAlgorithm::MlDsa87Ed448 => Err(format!(
            "signing key {fingerprint} is ML-DSA, which sign_key refuses: the ML-DSA code \
             pgpsendmail is built with leaks the key through timing (RUSTSEC-2025-0144)"
        )),
        _ => Ok(()),
    }
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgp::composed::{EncryptionCaps, KeyType, SecretKeyParamsBuilder, SubkeyParamsBuilder};
    use pgp::ser::Serialize;

    /// A fresh secret key: its primary signs when `primary_signs`, else one subkey does
    /// (when `sub_signs`); `v6`: a version 6 key.
    fn make(primary_signs: bool, sub_signs: bool, v6: bool) -> Vec<u8> {
        let (kt, version) = if v6 {
            (KeyType::Ed25519, KeyVersion::V6)
        } else {
            (KeyType::Ed25519Legacy, KeyVersion::V4)
        };
        let mut sub = SubkeyParamsBuilder::default();
        sub.key_type(kt.clone())
            .version(version)
            .can_sign(sub_signs)
            .can_encrypt(EncryptionCaps::None);
        let mut p = SecretKeyParamsBuilder::default();
        p.key_type(kt)
            .version(version)
            .can_certify(true)
            .can_sign(primary_signs)
            .primary_user_id("Host <root@host.example>".into())
            .subkeys(vec![sub.build().unwrap()]);
        let key = p.build().unwrap().generate(rand::thread_rng()).unwrap();
        key.to_bytes().unwrap()
    }

    #[test]
    fn an_ml_dsa_signing_key_is_refused() {
        for kt in [KeyType::MlDsa65Ed25519, KeyType::MlDsa87Ed448] {
            let mut p = SecretKeyParamsBuilder::default();
            p.key_type(kt.clone())
                .version(KeyVersion::V6)
                .can_certify(true)
                .can_sign(true)
                .primary_user_id("Host <root@host.example>".into());
            let key = p.build().unwrap().generate(rand::thread_rng()).unwrap();
            let e = HostKey::parse(&key.to_bytes().unwrap(), SystemTime::now()).unwrap_err();
            assert!(e.contains("RUSTSEC-2025-0144"), "{kt:?}: {e}");
        }
    }

    #[test]
    fn the_primary_signs_when_it_may_else_the_signing_subkey() {
        let now = SystemTime::now();
        let k = HostKey::parse(&make(true, false, false), now).unwrap();
        assert_eq!(k.fingerprint, k.primary);
        let k = HostKey::parse(&make(false, true, false), now).unwrap();
        assert_ne!(k.fingerprint, k.primary);
        assert_eq!(k.subkey, Some(0));
        let e = HostKey::parse(&make(false, false, false), now).unwrap_err();
        assert!(e.contains("can sign"), "{e}");
        let k = HostKey::parse(&make(true, false, true), now).unwrap();
        assert_eq!(k.fingerprint.len(), 64, "a version 6 fingerprint");
    }

    #[test]
    fn a_revoked_key_is_refused() {
        let bytes = make(true, false, false);
        let (mut key, _) = SignedSecretKey::from_reader_single(&bytes[..]).unwrap();
        let p = &key.primary_key;
        let mut cfg =
            SignatureConfig::v4(SignatureType::KeyRevocation, p.algorithm(), p.hash_alg());
        cfg.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::IssuerFingerprint(p.fingerprint())).unwrap(),
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now())).unwrap(),
        ];
        let rev = cfg.sign_key(p, &Password::empty(), p.public_key()).unwrap();
        key.details.revocation_signatures.push(rev);
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        let e = HostKey::parse(&key.to_bytes().unwrap(), later).unwrap_err();
        assert!(e.contains("revoked"), "{e}");
    }

    #[test]
    fn a_key_with_a_passphrase_is_refused() {
        let bytes = make(true, false, false);
        let (mut key, _) = SignedSecretKey::from_reader_single(&bytes[..]).unwrap();
        key.primary_key
            .set_password(rand::thread_rng(), &Password::from("secret"))
            .unwrap();
        let e = HostKey::parse(&key.to_bytes().unwrap(), SystemTime::now()).unwrap_err();
        assert!(e.contains("passphrase"), "{e}");
    }

    #[test]
    fn a_public_key_or_garbage_is_not_a_signing_key() {
        let now = SystemTime::now();
        let public = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys/gateway.asc"),
        )
        .unwrap();
        assert!(HostKey::parse(&public, now).is_err());
        assert!(HostKey::parse(b"hello", now).is_err());
    }

    #[test]
    fn an_unreadable_file_is_told_apart_from_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none");
        let r = HostKey::load(&missing, SystemTime::now());
        assert!(matches!(r, Err(LoadError::Unreadable(_))), "{r:?}");
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "not a key").unwrap();
        let r = HostKey::load(&bad, SystemTime::now());
        assert!(matches!(r, Err(LoadError::Bad(_))), "{r:?}");
        // A FIFO in its place: refused at once, not waited on.
        let fifo = dir.path().join("fifo");
        crate::sys::mkfifo(&fifo, 0o600).unwrap();
        let r = HostKey::load(&fifo, SystemTime::now());
        assert!(
            matches!(&r, Err(LoadError::Bad(e)) if e.contains("regular file")),
            "{r:?}"
        );
    }

    #[test]
    fn the_one_pass_signature_matches_the_signature() {
        for v6 in [false, true] {
            let k = HostKey::parse(&make(true, false, v6), SystemTime::now()).unwrap();
            let mut s = k.start().unwrap();
            let (ops, _) = pgp::packet::PacketParser::new(s.head())
                .next()
                .map(|p| (p.unwrap(), ()))
                .unwrap();
            s.update(b"hello");
            let tail = s.tail().unwrap();
            let sig = pgp::packet::PacketParser::new(&tail[..])
                .next()
                .unwrap()
                .unwrap();
            let (pgp::packet::Packet::OnePassSignature(ops), pgp::packet::Packet::Signature(sig)) =
                (ops, sig)
            else {
                panic!("not a one-pass signature and a signature");
            };
            assert!(ops.matches(&sig), "v6 {v6}");
            assert_eq!(ops.version(), if v6 { 6 } else { 3 });
            let public = k.key.to_public_key();
            sig.verify(&public.primary_key, &b"hello"[..]).unwrap();
            assert!(s.tail().is_err(), "only one signature");
        }
    }
}
