//! Opening what pgpsendmail wrote, with a secret key: for the tests, `make demo` and
//! anyone who wants to check a message. The sendmail path never calls this.
//!
//! Owns: finding the armored block in an RFC 3156 message, listing its PKESK key IDs and
//! checking the OpenPGP layer's shape (SEIPD v1 or v2, no compression, binary literal data with
//! an empty name and date 0), and decrypting it.

use std::io::{BufReader, Read};

use pgp::composed::{Deserializable, Edata, Esk, Message, SignedPublicKey, SignedSecretKey};
use pgp::packet::{
    ProtectedDataConfig, PublicKeyEncryptedSessionKey, SymEncryptedProtectedDataConfig,
};
use pgp::types::{KeyDetails, Password};

/// What one encrypted message holds.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The decrypted payload (the MIME entity that was encrypted).
    pub payload: Vec<u8>,
    /// Key IDs (upper-case hex) of every v3 PKESK packet and fingerprints of every v6 one,
    /// in order.
    pub recipients: Vec<String>,
    /// The SEIPD packet's version and settings (v2: cipher, AEAD mode, chunk size, salt).
    pub seipd: Option<SymEncryptedProtectedDataConfig>,
    /// The literal data packet was binary, with an empty file name and date 0.
    pub literal_ok: bool,
}

/// The armored `PGP MESSAGE` block of a message, if it has exactly one.
pub fn armored_block(msg: &[u8]) -> Option<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PGP MESSAGE-----";
    const END: &[u8] = b"-----END PGP MESSAGE-----";
    let s = msg.windows(BEGIN.len()).position(|w| w == BEGIN)?;
    let e = msg[s..].windows(END.len()).position(|w| w == END)? + s + END.len();
    Some(&msg[s..e])
}

/// Reads a secret key (armored or binary) from a file.
pub fn secret_key(path: &std::path::Path) -> Result<SignedSecretKey, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    SignedSecretKey::from_reader_single(f)
        .map(|(k, _)| k)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Decrypts the armored message in `msg` (a whole RFC 3156 message or just the armor).
pub fn open(msg: &[u8], key: &SignedSecretKey) -> Result<Opened, String> {
    open_with(msg, key, None).map(|(o, _)| o)
}

/// Decrypts like [`open`] and checks the host signature inside (docs/message.md, rule 9):
/// one-pass signed, by a key of `signer` (its primary or a subkey). Returns the
/// fingerprint (upper-case hex) of the key whose signature verified.
pub fn open_signed(
    msg: &[u8],
    key: &SignedSecretKey,
    signer: &SignedPublicKey,
) -> Result<(Opened, String), String> {
    let (o, fpr) = open_with(msg, key, Some(signer))?;
    Ok((o, fpr.unwrap_or_default()))
}

fn open_with(
    msg: &[u8],
    key: &SignedSecretKey,
    signer: Option<&SignedPublicKey>,
) -> Result<(Opened, Option<String>), String> {
    let block = armored_block(msg).ok_or("no PGP MESSAGE block")?;
    let (m, _) = Message::from_armor(BufReader::new(block)).map_err(|e| e.to_string())?;
    let recipients = match &m {
        Message::Encrypted { esk, .. } => esk
            .iter()
            .filter_map(|e| match e {
                Esk::PublicKeyEncryptedSessionKey(p) => pkesk_target(p),
                Esk::SymKeyEncryptedSessionKey(_) => None,
            })
            .collect(),
        _ => return Err("not an encrypted message".into()),
    };
    let seipd = match &m {
        Message::Encrypted {
            edata: Edata::SymEncryptedProtectedData { reader },
            ..
        } => match reader.config() {
            ProtectedDataConfig::Seipd(c) => Some(c.clone()),
            ProtectedDataConfig::GnupgAead(_) => None,
        },
        _ => None,
    };
    let mut dec = m
        .decrypt(&Password::empty(), key)
        .map_err(|e| format!("cannot decrypt: {e}"))?;
    if dec.is_compressed() {
        return Err("the message is compressed".into());
    }
    let literal_ok = dec.literal_data_header().is_some_and(|h| {
        h.mode() == pgp::packet::DataMode::Binary
            && h.file_name().is_empty()
            && h.created().as_secs() == 0
    });
    let one_pass = dec.is_one_pass_signed();
    let mut payload = Vec::new();
    dec.read_to_end(&mut payload)
        .map_err(|e| format!("cannot decrypt: {e}"))?;
    let signed_by = match signer {
        None => None,
        Some(_) if !one_pass => return Err("not one-pass signed".into()),
        Some(cert) => Some(verified_by(&dec, cert)?),
    };
    let opened = Opened {
        payload,
        recipients,
        seipd,
        literal_ok,
    };
    Ok((opened, signed_by))
}

/// The fingerprint of the key of `cert` whose signature over the read message verifies.
fn verified_by(dec: &Message<'_>, cert: &SignedPublicKey) -> Result<String, String> {
    let hex = crate::diag::hex_upper;
    if dec.verify(&cert.primary_key).is_ok() {
        return Ok(hex(cert.primary_key.fingerprint().as_bytes()));
    }
    cert.public_subkeys
        .iter()
        .find(|s| dec.verify(&s.key).is_ok())
        .map(|s| hex(s.key.fingerprint().as_bytes()))
        .ok_or_else(|| "the signature does not verify with the signer's keys".into())
}

/// The key ID (v3) or fingerprint (v6) a PKESK names, upper-case hex.
fn pkesk_target(p: &PublicKeyEncryptedSessionKey) -> Option<String> {
    let hex = crate::diag::hex_upper;
    match p {
        PublicKeyEncryptedSessionKey::V6 { fingerprint, .. } => {
            fingerprint.as_ref().map(|f| hex(f.as_bytes()))
        }
        _ => p.id().ok().map(|id| hex(id.as_ref())),
    }
}
