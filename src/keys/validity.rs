//! The validity rules of pgpsendmail(8), KEYS: which certificates and which
//! of their keys pgpsendmail encrypts to.
//!
//! Owns: [`evaluate`], which judges one certificate (every copy merged by
//! [`crate::keys::gather`]) as of a given time and returns a [`Cert`]: its counting e-mail
//! addresses, its encryption keys or why it has none, its cipher, its expiry and the keys
//! passed over. Self-signatures only (third-party certifications are ignored), the newest
//! valid one wins, revocations count over any hash. The thresholds (hashes, key sizes,
//! whether the encryptor can use a key) are [`crate::keys::policy`]'s; every rule that
//! uses them is here, one function per step, each named by its rule.
//!
//! Also here, because `evaluate` makes them and this module imports nothing from
//! [`crate::keys`] itself (no cycle): the judged certificate's types ([`Cert`],
//! [`EncryptionKey`], [`Unusable`]), a user ID's e-mail part ([`uid_email`]) and how
//! fingerprints are shown ([`hex_upper`]); `crate::keys`
//! re-exports them all under their old paths.
//!
//! Untrusted input: the certificate (parsed, not yet judged). Nothing here fails: every
//! problem is an [`Unusable`] reason or a note.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgp::composed::SignedPublicKey;
use pgp::crypto::aead::AeadAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{self, Signature, SignatureType, SignatureVersion, SubpacketData};
use pgp::types::{KeyDetails, KeyVersion, Tag};

use crate::keys::wire::{Cursor, put_str};
use crate::keys::{gather, policy};
use crate::message::canonical::{self, LocalCase};

/// A public key packet pgpsendmail may encrypt to: an encryption subkey, or a primary key
/// whose own flags allow encryption (never the whole certificate: the crate would silently
/// pick the primary).
#[derive(Debug, Clone)]
pub enum EncryptionKey {
    Subkey(packet::PublicSubkey),
    Primary(packet::PublicKey),
}

impl EncryptionKey {
    pub fn fingerprint(&self) -> String {
        match self {
            EncryptionKey::Subkey(k) => hex_upper(k.fingerprint().as_bytes()),
            EncryptionKey::Primary(k) => hex_upper(k.fingerprint().as_bytes()),
        }
    }

    /// A version 6 key: reached only through a v6 PKESK in SEIPD v2 (rule 9).
    pub fn is_v6(&self) -> bool {
        let v = match self {
            EncryptionKey::Subkey(k) => k.version(),
            EncryptionKey::Primary(k) => k.version(),
        };
        v == KeyVersion::V6
    }

    /// A post-quantum composite key, ML-KEM with X25519 or X448 (rule 10).
    pub fn is_pqc(&self) -> bool {
        let alg = match self {
            EncryptionKey::Subkey(k) => k.algorithm(),
            EncryptionKey::Primary(k) => k.algorithm(),
        };
        policy::is_pqc_kem(alg)
    }

    /// A key that only a SEIPD v2 copy may carry: a version 6 key (rule 9) or a
    /// post-quantum one (rule 10).
    pub fn needs_seipd_v2(&self) -> bool {
        self.is_v6() || self.is_pqc()
    }
}

/// A SEIPD v2 cipher suite: the symmetric cipher and the AEAD mode (rule 9).
pub type Suite = (SymmetricKeyAlgorithm, AeadAlgorithm);

/// The suite of a certificate that states no preference, and of a copy whose recipients
/// all take it: AES-256 with OCB, the mode every RFC 9580 implementation must read.
pub const DEFAULT_SUITE: Suite = (SymmetricKeyAlgorithm::AES256, AeadAlgorithm::Ocb);

/// The suite every RFC 9580 implementation must read (AES-128, OCB): the copy's suite when
/// its recipients' preferences differ.
pub const COMMON_SUITE: Suite = (SymmetricKeyAlgorithm::AES128, AeadAlgorithm::Ocb);

/// Why a certificate cannot be used for encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    Revoked,
    Expired(u64),
    NoEncryptionKey,
    Weak(String),
    NoValidSelfSignature,
    /// A key version we do not encrypt to (v6 needs SEIPD v2, which GnuPG 2.2 and
    /// Thunderbird cannot read; v2/v3 are obsolete).
    Unsupported(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Revoked => f.write_str("revoked"),
            Unusable::Expired(t) => write!(f, "expired on {}", crate::diag::format_date(*t)),
            Unusable::NoEncryptionKey => f.write_str("no usable encryption subkey"),
            Unusable::Weak(why) => write!(f, "weak ({why})"),
            Unusable::NoValidSelfSignature => f.write_str("no valid self-signature"),
            Unusable::Unsupported(why) => write!(f, "unsupported ({why})"),
        }
    }
}

/// One certificate after evaluation.
#[derive(Debug, Clone)]
pub struct Cert {
    /// Primary key fingerprint, upper-case hex.
    pub fingerprint: String,
    /// Where it was loaded from.
    pub source: PathBuf,
    /// The e-mail addresses of the user IDs that count, as [`uid_email`] spells them.
    pub emails: Vec<String>,
    /// Keys to encrypt to, or why there are none.
    pub usable: std::result::Result<Vec<EncryptionKey>, Unusable>,
    /// The strongest cipher every usable key accepts.
    pub cipher: SymmetricKeyAlgorithm,
    /// Rule 9: the SEIPD v2 suite, when the certificate takes SEIPD v2 (it says so in its
    /// features, or it is a version 6 certificate); `None`: SEIPD v1 only.
    pub aead: Option<Suite>,
    /// When a usable certificate stops being usable (Unix time): its primary key expires,
    /// or its last encryption key does. `None`: never.
    pub expires: Option<u64>,
    /// Keys flagged for encryption that the key policy passed over, one line each
    /// ("subkey FPR: unsupported (...)"), whether or not another key is usable.
    pub notes: Vec<String>,
}

/// The e-mail part of a user ID: the text in the last `<...>`, or the whole ID when it
/// holds an `@` and no brackets; spelled for matching with its local part as written
/// ([`canonical::key`] with [`LocalCase::Exact`]: NFC, the domain through UTS 46), so that
/// matching may still say whether case counts there.
pub fn uid_email(uid: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(uid).ok()?;
    let addr = if let (Some(open), Some(close)) = (s.rfind('<'), s.rfind('>')) {
        if close <= open {
            return None;
        }
        &s[open + 1..close]
    } else if s.contains('@') && !s.contains('<') && !s.contains('>') {
        s
    } else {
        return None;
    };
    let addr = addr.trim();
    if addr.is_empty() || addr.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some(canonical::key(addr, LocalCase::Exact))
}

fn secs(sig: &Signature) -> Option<u64> {
    sig.created().map(|t| t.as_secs() as u64)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// A signature is alive when it is not from the future and not past its own expiry.
fn alive(sig: &Signature, now: u64) -> bool {
    let Some(created) = secs(sig) else {
        return false;
    };
    if created > now {
        return false;
    }
    match sig.signature_expiration_time() {
        Some(d) if d.as_secs() != 0 => created + u64::from(d.as_secs()) > now,
        _ => true,
    }
}

/// True when the hashed area has a key-flags subpacket (absent flags: infer from algorithm).
fn has_key_flags(sig: &Signature) -> bool {
    sig.config().is_some_and(|c| {
        c.hashed_subpackets()
            .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
    })
}

fn can_encrypt(alg: PublicKeyAlgorithm) -> bool {
    alg.can_encrypt()
}

const MODERN_CIPHERS: &[SymmetricKeyAlgorithm] = &[
    SymmetricKeyAlgorithm::AES128,
    SymmetricKeyAlgorithm::AES192,
    SymmetricKeyAlgorithm::AES256,
    SymmetricKeyAlgorithm::Twofish,
    SymmetricKeyAlgorithm::Camellia128,
    SymmetricKeyAlgorithm::Camellia192,
    SymmetricKeyAlgorithm::Camellia256,
];

thread_local! {
    static JUDGEMENTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many certificates [`evaluate`] has judged (signatures checked) on this thread: lets
/// tests see that a cached verdict was used instead.
pub fn judgements() -> u64 {
    JUDGEMENTS.with(|n| n.get())
}

/// The first time after `now` at which [`evaluate`]'s verdict on `cert` could change: the
/// next creation or expiry time of any of its signatures, expiry of any of its keys by any
/// of its signatures, or the key policy's SHA-1 cutoff. Between `now` and then every
/// comparison with the time that `evaluate` makes comes out the same. `u64::MAX`: never.
pub fn verdict_holds_until(cert: &SignedPublicKey, now: u64) -> u64 {
    let mut times = vec![policy::SHA1_CUTOFF];
    let mut sig_times = |sig: &Signature, key_created: u64| {
        if let Some(c) = secs(sig) {
            times.push(c);
            if let Some(d) = sig.signature_expiration_time() {
                times.push(c.saturating_add(u64::from(d.as_secs())));
            }
        }
        if let Some(d) = sig.key_expiration_time() {
            times.push(key_created.saturating_add(u64::from(d.as_secs())));
        }
    };
    let created = cert.primary_key.created_at().as_secs() as u64;
    let d = &cert.details;
    for s in d.revocation_signatures.iter().chain(&d.direct_signatures) {
        sig_times(s, created);
    }
    for u in &d.users {
        u.signatures.iter().for_each(|s| sig_times(s, created));
    }
    for u in &d.user_attributes {
        u.signatures.iter().for_each(|s| sig_times(s, created));
    }
    for k in &cert.public_subkeys {
        let sub_created = k.key.created_at().as_secs() as u64;
        k.signatures.iter().for_each(|s| sig_times(s, sub_created));
    }
    times
        .into_iter()
        .filter(|&t| t > now)
        .min()
        .unwrap_or(u64::MAX)
}

/// A verdict of [`evaluate`] as bytes, to be kept with the certificate (the key index):
/// everything a [`Cert`] holds but its source, its encryption keys named by fingerprint.
pub fn encode_verdict(c: &Cert) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(c.emails.len() as u32).to_le_bytes());
    c.emails.iter().for_each(|e| put_str(&mut out, e));
    match &c.usable {
        Ok(keys) => {
            out.push(0);
            out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
            for k in keys {
                out.push(u8::from(matches!(k, EncryptionKey::Subkey(_))));
                put_str(&mut out, &k.fingerprint());
            }
        }
        Err(Unusable::Revoked) => out.push(1),
        Err(Unusable::Expired(t)) => {
            out.push(2);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Err(Unusable::NoEncryptionKey) => out.push(3),
        Err(Unusable::Weak(w)) => {
            out.push(4);
            put_str(&mut out, w);
        }
        Err(Unusable::NoValidSelfSignature) => out.push(5),
        Err(Unusable::Unsupported(w)) => {
            out.push(6);
            put_str(&mut out, w);
        }
    }
    out.push(u8::from(c.cipher));
    match c.aead {
        Some((sym, mode)) => out.extend_from_slice(&[1, u8::from(sym), u8::from(mode)]),
        None => out.push(0),
    }
    match c.expires {
        Some(t) => {
            out.push(1);
            out.extend_from_slice(&t.to_le_bytes());
        }
        None => out.push(0),
    }
    out.extend_from_slice(&(c.notes.len() as u32).to_le_bytes());
    c.notes.iter().for_each(|n| put_str(&mut out, n));
    out
}

/// The [`Cert`] an [`encode_verdict`] verdict on `cert` stands for, its encryption keys
/// taken from `cert`'s own packets; `None` when the bytes do not parse or name a key
/// `cert` lacks (then the certificate is judged again).
pub fn decode_verdict(bytes: &[u8], cert: &SignedPublicKey, source: &Path) -> Option<Cert> {
    let mut r = Cursor(bytes);
    let emails = r.strs()?;
    let usable = decode_usable(&mut r, cert)?;
    let cipher = SymmetricKeyAlgorithm::from(r.u8()?);
    let aead = match r.u8()? {
        0 => None,
        1 => Some((
            SymmetricKeyAlgorithm::from(r.u8()?),
            AeadAlgorithm::from(r.u8()?),
        )),
        _ => return None,
    };
    let expires = match r.u8()? {
        0 => None,
        1 => Some(r.u64()?),
        _ => return None,
    };
    let notes = r.strs()?;
    if !r.0.is_empty() {
        return None;
    }
    Some(Cert {
        fingerprint: hex_upper(cert.primary_key.fingerprint().as_bytes()),
        source: source.to_path_buf(),
        emails,
        usable,
        cipher,
        aead,
        expires,
        notes,
    })
}

/// A verdict's usable keys (found again in `cert` by fingerprint) or why there are none.
fn decode_usable(
    r: &mut Cursor,
    cert: &SignedPublicKey,
) -> Option<std::result::Result<Vec<EncryptionKey>, Unusable>> {
    Some(match r.u8()? {
        0 => {
            let n = r.u32()? as usize;
            let mut keys = Vec::new();
            for _ in 0..n.min(r.0.len()) {
                let sub = r.u8()?;
                let fpr = r.str()?.to_string();
                keys.push(match sub {
                    0 if hex_upper(cert.primary_key.fingerprint().as_bytes()) == fpr => {
                        EncryptionKey::Primary(cert.primary_key.clone())
                    }
                    1 => EncryptionKey::Subkey(
                        cert.public_subkeys
                            .iter()
                            .find(|k| hex_upper(k.key.fingerprint().as_bytes()) == fpr)?
                            .key
                            .clone(),
                    ),
                    _ => return None,
                });
            }
            Ok(keys)
        }
        1 => Err(Unusable::Revoked),
        2 => Err(Unusable::Expired(r.u64()?)),
        3 => Err(Unusable::NoEncryptionKey),
        4 => Err(Unusable::Weak(r.str()?.to_string())),
        5 => Err(Unusable::NoValidSelfSignature),
        6 => Err(Unusable::Unsupported(r.str()?.to_string())),
        _ => return None,
    })
}

/// Applies the validity rules of pgpsendmail(8), KEYS, to one certificate. The key policy
/// (hashes, key sizes, what the encryptor can use) is [`crate::keys::policy`]'s.
pub fn evaluate(cert: &SignedPublicKey, source: &Path, now: SystemTime) -> Cert {
    JUDGEMENTS.with(|n| n.set(n.get() + 1));
    let primary = &cert.primary_key;
    let mut out = Cert {
        fingerprint: hex_upper(primary.fingerprint().as_bytes()),
        source: source.to_path_buf(),
        emails: Vec::new(),
        usable: Err(Unusable::NoValidSelfSignature),
        cipher: SymmetricKeyAlgorithm::AES256,
        aead: None,
        expires: None,
        notes: Vec::new(),
    };
    // Rule 1: version 4 and version 6 only.
    if !matches!(primary.version(), KeyVersion::V4 | KeyVersion::V6) {
        out.usable = Err(Unusable::Unsupported(format!(
            "a version {} key; pgpsendmail encrypts to version 4 and 6 keys",
            u8::from(primary.version())
        )));
        return out;
    }
    out.usable = judge(cert, unix(now), &mut out);
    out
}

/// Rules 2 to 8 for a version 4 certificate: its keys, or why there are none. Fills in
/// `out`'s e-mail addresses, cipher, expiry and notes on the way.
fn judge(
    cert: &SignedPublicKey,
    now: u64,
    out: &mut Cert,
) -> std::result::Result<Vec<EncryptionKey>, Unusable> {
    let primary = &cert.primary_key;
    // Why a verified self-signature did not count (rule 7), for the reason given.
    let weak_sig = RefCell::new(None);
    let revoked = revoked(cert, now);
    let mut uids = user_ids(cert, now, &weak_sig);
    out.emails.append(&mut uids.emails);
    // Rule 6: a weak primary key makes the whole certificate weak.
    if let Some(w) = policy::weak_key(primary.public_params()) {
        out.emails.append(&mut uids.weak_emails);
        return Err(Unusable::Weak(format!("primary key: {w}")));
    }
    let direct = direct_sig(cert, now, &weak_sig);
    // Rule 9: a version 6 certificate speaks for its primary key in its direct-key
    // signature, which it must have.
    let v6 = primary.version() == KeyVersion::V6;
    let speaks = if v6 {
        direct
    } else {
        primary_self_sig(&uids.sigs, direct)
    };
    let Some(primary_sig) = speaks else {
        return Err(if revoked {
            Unusable::Revoked
        } else if let Some(w) = weak_sig.take() {
            out.emails.append(&mut uids.weak_emails);
            Unusable::Weak(w)
        } else {
            Unusable::NoValidSelfSignature
        });
    };
    // Rule 3: revoked, or the primary key expired.
    if revoked {
        return Err(Unusable::Revoked);
    }
    let created = primary.created_at().as_secs() as u64;
    let primary_expiry =
        key_expiry(primary_sig, created).or_else(|| direct.and_then(|d| key_expiry(d, created)));
    if let Some(exp) = primary_expiry
        && exp <= now
    {
        return Err(Unusable::Expired(exp));
    }
    out.cipher = cipher(primary_sig)?;
    let mut found = encryption_keys(cert, primary_sig, primary_expiry, now, &weak_sig);
    out.expires = usable_until(primary_expiry, &found.expiries);
    let pqc = found.prefer_pqc();
    out.aead = seipd_v2(primary_sig, v6 || pqc);
    out.notes = std::mem::take(&mut found.notes);
    found.verdict(weak_sig.take())
}

/// A signature that may be a self-signature of `primary`: issued by it (or naming no
/// issuer), and of the signature version its key version makes (RFC 9580: a version 6 key
/// makes version 6 signatures only, a version 4 key never does).
fn self_sig(s: &Signature, primary: &packet::PublicKey) -> bool {
    let v6_key = primary.version() == KeyVersion::V6;
    let v6_sig = s.version() == SignatureVersion::V6;
    v6_key == v6_sig && gather::issued_by(s, primary)
}

/// Rule 9: the SEIPD v2 suite of a certificate whose primary self-signature `sig` lists
/// SEIPD v2 in its features, or that must be reached that way (`only_v2`: a version 6
/// certificate, or one whose keys are post-quantum, rule 10).
/// AES-256 with OCB, unless its preferred AEAD ciphersuites list others and not that one:
/// then the first listed pair with an AES cipher and a mode RFC 9580 names, else AES-128
/// with OCB, which every RFC 9580 implementation reads.
fn seipd_v2(sig: &Signature, only_v2: bool) -> Option<Suite> {
    if !only_v2 && !sig.features().is_some_and(|f| f.seipd_v2()) {
        return None;
    }
    let prefs = sig.preferred_aead_algs();
    if prefs.is_empty() || prefs.contains(&DEFAULT_SUITE) {
        return Some(DEFAULT_SUITE);
    }
    let aes = [
        SymmetricKeyAlgorithm::AES128,
        SymmetricKeyAlgorithm::AES192,
        SymmetricKeyAlgorithm::AES256,
    ];
    let modes = [AeadAlgorithm::Ocb, AeadAlgorithm::Gcm, AeadAlgorithm::Eax];
    Some(
        prefs
            .iter()
            .copied()
            .find(|(sym, mode)| aes.contains(sym) && modes.contains(mode))
            .unwrap_or(COMMON_SUITE),
    )
}

/// Rule 3: a valid self-revocation makes the whole certificate unusable. Revocations are
/// honoured whatever their hash: they can only stop mail.
fn revoked(cert: &SignedPublicKey, now: u64) -> bool {
    let primary = &cert.primary_key;
    cert.details.revocation_signatures.iter().any(|s| {
        s.typ() == Some(SignatureType::KeyRevocation)
            && gather::issued_by(s, primary)
            && secs(s).is_some_and(|c| c <= now)
            && s.verify_key(primary).is_ok()
    })
}

/// What the user IDs of a certificate say (rule 2).
struct UserIds<'a> {
    /// The e-mail addresses of the user IDs that count.
    emails: Vec<String>,
    /// The newest valid certification of each user ID that counts, and whether it marks
    /// the primary user ID.
    sigs: Vec<(&'a Signature, bool)>,
    /// Addresses whose self-signatures verify but do not count by the key policy: they name
    /// the certificate in a refusal, so that it gives the reason.
    weak_emails: Vec<String>,
}

/// Rule 2: a user ID counts if its newest valid self-signature is a certification.
fn user_ids<'a>(
    cert: &'a SignedPublicKey,
    now: u64,
    weak_sig: &RefCell<Option<String>>,
) -> UserIds<'a> {
    let primary = &cert.primary_key;
    let mut out = UserIds {
        emails: Vec::new(),
        sigs: Vec::new(),
        weak_emails: Vec::new(),
    };
    for user in &cert.details.users {
        let verified: Vec<&Signature> = user
            .signatures
            .iter()
            .filter(|s| {
                matches!(
                    s.typ(),
                    Some(
                        SignatureType::CertGeneric
                            | SignatureType::CertPersona
                            | SignatureType::CertCasual
                            | SignatureType::CertPositive
                            | SignatureType::CertRevocation
                    )
                ) && self_sig(s, primary)
                    && alive(s, now)
                    && s.verify_certification(primary, Tag::UserId, &user.id)
                        .is_ok()
            })
            .collect();
        let newest = verified
            .iter()
            .copied()
            .filter(|s| {
                s.typ() == Some(SignatureType::CertRevocation) || hash_counts(s, now, weak_sig)
            })
            .max_by_key(|s| secs(s));
        match newest {
            Some(sig) if sig.typ() != Some(SignatureType::CertRevocation) => {
                out.emails.extend(uid_email(user.id.id()));
                out.sigs.push((sig, sig.is_primary()));
            }
            Some(_) => {}
            None if !verified.is_empty() => out.weak_emails.extend(uid_email(user.id.id())),
            None => {}
        }
    }
    out
}

/// The newest valid direct-key self-signature whose hash counts (rule 7).
fn direct_sig<'a>(
    cert: &'a SignedPublicKey,
    now: u64,
    weak_sig: &RefCell<Option<String>>,
) -> Option<&'a Signature> {
    let primary = &cert.primary_key;
    cert.details
        .direct_signatures
        .iter()
        .filter(|s| {
            s.typ() == Some(SignatureType::Key)
                && self_sig(s, primary)
                && alive(s, now)
                && s.verify_key(primary).is_ok()
                && hash_counts(s, now, weak_sig)
        })
        .max_by_key(|s| secs(s))
}

/// The self-signature that speaks for the primary key: primary user ID's, else the newest
/// counting user ID's, else a direct-key signature.
fn primary_self_sig<'a>(
    uid_sigs: &[(&'a Signature, bool)],
    direct: Option<&'a Signature>,
) -> Option<&'a Signature> {
    uid_sigs
        .iter()
        .filter(|(_, p)| *p)
        .map(|(s, _)| *s)
        .max_by_key(|s| secs(s))
        .or_else(|| uid_sigs.iter().map(|(s, _)| *s).max_by_key(|s| secs(s)))
        .or(direct)
}

/// Rule 5: the cipher, from the symmetric preferences of the primary self-signature
/// (AES-256 unless only AES-128 of the two is listed); weak with only legacy ciphers.
fn cipher(primary_sig: &Signature) -> std::result::Result<SymmetricKeyAlgorithm, Unusable> {
    let prefs = primary_sig.preferred_symmetric_algs();
    if prefs.is_empty() {
        return Ok(SymmetricKeyAlgorithm::AES256);
    }
    if !prefs.iter().any(|a| MODERN_CIPHERS.contains(a)) {
        return Err(Unusable::Weak(
            "only legacy ciphers (IDEA, CAST5, 3DES) in its preferences".into(),
        ));
    }
    Ok(if prefs.contains(&SymmetricKeyAlgorithm::AES256) {
        SymmetricKeyAlgorithm::AES256
    } else {
        SymmetricKeyAlgorithm::AES128
    })
}

/// Rules 4, 6 and 8: the keys the encryptor can use (the primary key by its own flags,
/// then each subkey), and why the others were passed over.
fn encryption_keys(
    cert: &SignedPublicKey,
    primary_sig: &Signature,
    primary_expiry: Option<u64>,
    now: u64,
    weak_sig: &RefCell<Option<String>>,
) -> Found {
    let primary = &cert.primary_key;
    let mut found = Found::default();
    let primary_flags_ok = has_key_flags(primary_sig) && {
        let f = primary_sig.key_flags();
        f.encrypt_comms() || f.encrypt_storage()
    };
    if primary_flags_ok && can_encrypt(primary.algorithm()) {
        found.offer(
            EncryptionKey::Primary(primary.clone()),
            primary_expiry,
            "primary key".into(),
        );
    }
    for sub in &cert.public_subkeys {
        subkey(sub, primary, now, weak_sig, &mut found);
    }
    found
}

/// Usable until the primary expires, or the last encryption key does (`expiries`: of each
/// usable key, `None` for never).
fn usable_until(primary_expiry: Option<u64>, expiries: &[Option<u64>]) -> Option<u64> {
    let last_key = if expiries.iter().any(Option::is_none) {
        None
    } else {
        expiries.iter().flatten().max().copied()
    };
    match (primary_expiry, last_key) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// When a key made at `created` expires by `sig` (Unix time), if it does.
fn key_expiry(sig: &Signature, created: u64) -> Option<u64> {
    match sig.key_expiration_time() {
        Some(d) if d.as_secs() != 0 => Some(created + u64::from(d.as_secs())),
        _ => None,
    }
}

/// Rule 7: whether a verified self-signature's hash lets it count; the first reason it did
/// not is kept in `weak`.
fn hash_counts(sig: &Signature, now: u64, weak: &RefCell<Option<String>>) -> bool {
    match policy::weak_hash(sig, now) {
        None => true,
        Some(w) => {
            weak.borrow_mut().get_or_insert(w);
            false
        }
    }
}

/// The encryption keys of one certificate, and why the others were passed over.
#[derive(Default)]
struct Found {
    keys: Vec<EncryptionKey>,
    /// Expiry of each key in `keys` (None: never).
    expiries: Vec<Option<u64>>,
    weak: Option<String>,
    unsupported: Option<String>,
    expired: Option<u64>,
    /// One line per key passed over by the key policy: "subkey FPR: reason".
    notes: Vec<String>,
}

impl Found {
    /// Takes `key` (live, flagged for encryption) when the policy lets the encryptor use it.
    fn offer(&mut self, key: EncryptionKey, expiry: Option<u64>, what: String) {
        let (params, tried) = match &key {
            EncryptionKey::Subkey(k) => (k.public_params(), policy::encryptable(k)),
            EncryptionKey::Primary(k) => (k.public_params(), policy::encryptable(k)),
        };
        if let Some(w) = policy::weak_key(params) {
            self.notes.push(format!("{what}: weak ({w})"));
            self.weak.get_or_insert(w);
        } else if let Err(why) = tried {
            self.notes.push(format!("{what}: unsupported ({why})"));
            self.unsupported.get_or_insert(why);
        } else {
            self.keys.push(key);
            self.expiries.push(expiry);
        }
    }

    /// Rule 10: when a post-quantum key is usable, only the post-quantum keys are kept (a
    /// classical PKESK beside it would leave the message as weak as that key against a
    /// quantum computer); each key dropped gets a note. True when one is kept.
    fn prefer_pqc(&mut self) -> bool {
        if !self.keys.iter().any(EncryptionKey::is_pqc) {
            return false;
        }
        let keys = std::mem::take(&mut self.keys);
        let expiries = std::mem::take(&mut self.expiries);
        for (k, e) in keys.into_iter().zip(expiries) {
            if k.is_pqc() {
                self.keys.push(k);
                self.expiries.push(e);
            } else {
                self.notes.push(format!(
                    "{} {}: passed over for the post-quantum key",
                    if matches!(k, EncryptionKey::Subkey(_)) {
                        "subkey"
                    } else {
                        "primary key"
                    },
                    k.fingerprint()
                ));
            }
        }
        true
    }

    /// The certificate's verdict: its keys, or the most telling reason there are none.
    fn verdict(
        self,
        weak_sig: Option<String>,
    ) -> std::result::Result<Vec<EncryptionKey>, Unusable> {
        if !self.keys.is_empty() {
            Ok(self.keys)
        } else if let Some(w) = self.weak {
            Err(Unusable::Weak(w))
        } else if let Some(u) = self.unsupported {
            Err(Unusable::Unsupported(u))
        } else if let Some(exp) = self.expired {
            Err(Unusable::Expired(exp))
        } else if let Some(w) = weak_sig {
            Err(Unusable::Weak(w))
        } else {
            Err(Unusable::NoEncryptionKey)
        }
    }
}

/// A subkey's newest valid, live binding signature whose hash still counts (rule 4), or
/// `None` when a valid revocation revokes the subkey or no binding holds.
fn live_binding<'s>(
    sub: &'s pgp::composed::SignedPublicSubKey,
    primary: &packet::PublicKey,
    now: u64,
    weak_sig: &RefCell<Option<String>>,
) -> Option<&'s Signature> {
    let valid = |s: &&Signature| {
        self_sig(s, primary)
            && secs(s).is_some_and(|c| c <= now)
            && s.verify_subkey_binding(primary, &sub.key).is_ok()
    };
    let revoked = sub
        .signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
        .any(|s| valid(&s));
    if revoked {
        return None;
    }
    sub.signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding) && alive(s, now))
        .filter(valid)
        .filter(|s| hash_counts(s, now, weak_sig))
        .max_by_key(|s| secs(s))
}

/// Rule 4 for one subkey: its newest valid binding, its flags, revocation and expiry (rules
/// 6 and 8 in [`Found::offer`]).
fn subkey(
    sub: &pgp::composed::SignedPublicSubKey,
    primary: &packet::PublicKey,
    now: u64,
    weak_sig: &RefCell<Option<String>>,
    found: &mut Found,
) {
    let Some(binding) = live_binding(sub, primary, now, weak_sig) else {
        return;
    };
    let what = format!("subkey {}", hex_upper(sub.key.fingerprint().as_bytes()));
    let flagged = if has_key_flags(binding) {
        let f = binding.key_flags();
        f.encrypt_comms() || f.encrypt_storage()
    } else {
        true
    };
    if !flagged || !can_encrypt(sub.key.algorithm()) {
        return;
    }
    if sub.key.version() != primary.version() {
        // Rule 9: a version 6 certificate binds version 6 subkeys only, and a version 4 one
        // version 4 subkeys.
        let why = format!(
            "a version {} subkey of a version {} key",
            u8::from(sub.key.version()),
            u8::from(primary.version())
        );
        found.notes.push(format!("{what}: unsupported ({why})"));
        found.unsupported.get_or_insert(why);
        return;
    }
    let sub_created = sub.key.created_at().as_secs() as u64;
    let expiry = key_expiry(binding, sub_created);
    if let Some(exp) = expiry
        && exp <= now
    {
        found.expired = Some(found.expired.map_or(exp, |e| e.max(exp)));
        return;
    }
    found.offer(EncryptionKey::Subkey(sub.key.clone()), expiry, what);
}

/// The key of a certificate that can make the host signature (pgpsendmail.toml(5),
/// `sign_key`): its fingerprint and when it expires, if it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyChoice {
    pub fingerprint: Vec<u8>,
    pub expires: Option<u64>,
}

/// Which key of `cert` signs, by the rules of pgpsendmail(8), KEYS, that judge encryption
/// keys (version, revocation, expiry, hashes, key sizes, the self-signature that speaks
/// for the primary key), with signing in place of encryption: the primary key when its
/// flags (or, without flags, its algorithm) allow signing, else the signing subkey with
/// the newest valid binding. `Err`: why no key of it can sign, in words.
pub fn signing_key(
    cert: &SignedPublicKey,
    now: SystemTime,
) -> std::result::Result<SigningKeyChoice, String> {
    let now = unix(now);
    let primary = &cert.primary_key;
    if !matches!(primary.version(), KeyVersion::V4 | KeyVersion::V6) {
        return Err(format!(
            "a version {} key; only version 4 and 6 keys sign",
            u8::from(primary.version())
        ));
    }
    if let Some(w) = policy::weak_key(primary.public_params()) {
        return Err(format!("weak primary key: {w}"));
    }
    let weak_sig = RefCell::new(None);
    let uids = user_ids(cert, now, &weak_sig);
    let direct = direct_sig(cert, now, &weak_sig);
    let speaks = if primary.version() == KeyVersion::V6 {
        direct
    } else {
        primary_self_sig(&uids.sigs, direct)
    };
    if revoked(cert, now) {
        return Err("revoked".into());
    }
    let Some(primary_sig) = speaks else {
        return Err(match weak_sig.take() {
            Some(w) => format!("no valid self-signature ({w})"),
            None => "no valid self-signature".into(),
        });
    };
    let created = primary.created_at().as_secs() as u64;
    let expires =
        key_expiry(primary_sig, created).or_else(|| direct.and_then(|d| key_expiry(d, created)));
    if let Some(exp) = expires
        && exp <= now
    {
        return Err(format!("expired on {}", crate::diag::format_date(exp)));
    }
    let flags_sign = if has_key_flags(primary_sig) {
        primary_sig.key_flags().sign()
    } else {
        primary.algorithm().can_sign()
    };
    if flags_sign && primary.algorithm().can_sign() {
        return Ok(SigningKeyChoice {
            fingerprint: primary.fingerprint().as_bytes().to_vec(),
            expires,
        });
    }
    cert.public_subkeys
        .iter()
        .filter_map(|sub| signing_subkey(sub, primary, now, &weak_sig))
        .max_by_key(|(_, made)| *made)
        .map(|(c, _)| SigningKeyChoice {
            expires: match (c.expires, expires) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            ..c
        })
        .ok_or_else(|| "no key of it can sign (no signing flag on a live key)".into())
}

/// A subkey that can sign: bound by a valid, live binding signature that flags it for
/// signing (or has no flags and a signing algorithm), not revoked, not expired, of the
/// primary's version and not weak; with its binding's creation time.
fn signing_subkey(
    sub: &pgp::composed::SignedPublicSubKey,
    primary: &packet::PublicKey,
    now: u64,
    weak_sig: &RefCell<Option<String>>,
) -> Option<(SigningKeyChoice, u64)> {
    let binding = live_binding(sub, primary, now, weak_sig)?;
    let flagged = if has_key_flags(binding) {
        binding.key_flags().sign()
    } else {
        true
    };
    let usable = flagged
        && sub.key.algorithm().can_sign()
        && sub.key.version() == primary.version()
        && policy::weak_key(sub.key.public_params()).is_none();
    let expires = key_expiry(binding, sub.key.created_at().as_secs() as u64);
    if !usable || expires.is_some_and(|e| e <= now) {
        return None;
    }
    let choice = SigningKeyChoice {
        fingerprint: sub.key.fingerprint().as_bytes().to_vec(),
        expires,
    };
    Some((choice, secs(binding).unwrap_or(0)))
}

pub use crate::diag::hex_upper;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verdict_comes_back_from_its_bytes() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys");
        let mut kinds = std::collections::HashSet::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "asc") || p.to_string_lossy().contains(".sec.") {
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            for cert in crate::keys::parse_certificates(&bytes).unwrap().certs {
                let judged = evaluate(&cert, &p, SystemTime::now());
                kinds.insert(format!("{:?}", judged.usable.as_ref().map(|_| ())));
                let back = decode_verdict(&encode_verdict(&judged), &cert, &p).unwrap();
                assert_eq!(
                    format!("{back:?}"),
                    format!("{judged:?}"),
                    "{}",
                    p.display()
                );
                // Cut short anywhere: not a verdict.
                let enc = encode_verdict(&judged);
                for n in 0..enc.len() {
                    assert!(decode_verdict(&enc[..n], &cert, &p).is_none());
                }
            }
        }
        assert!(
            kinds.len() >= 4,
            "usable, revoked, expired, weak...: {kinds:?}"
        );
    }

    #[test]
    fn a_verdict_holds_until_the_next_time_that_could_change_it() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys");
        let bytes = std::fs::read(dir.join("expired.asc")).unwrap();
        let cert = &crate::keys::parse_certificates(&bytes).unwrap().certs[0];
        let made = cert.primary_key.created_at().as_secs() as u64;
        // Made, then expired 2 s later: the expiry is the bound right after it was made.
        assert_eq!(verdict_holds_until(cert, made), made + 2);
        assert!(verdict_holds_until(cert, made + 2) > made + 2);
        // Before the SHA-1 cutoff it is a bound too.
        assert!(verdict_holds_until(cert, 0) <= policy::SHA1_CUTOFF);
    }

    /// A certificate made by the pgp crate: version `v`, Ed25519 and X25519 (v6) or their
    /// legacy forms (v4); SEIPD v2 in its features when `v2`, with these AEAD preferences.
    pub(crate) fn made(v: KeyVersion, v2: bool, aead: &[Suite]) -> SignedPublicKey {
        use pgp::composed::{EncryptionCaps, KeyType, SecretKeyParamsBuilder, SubkeyParamsBuilder};
        use pgp::crypto::ecc_curve::ECCCurve;
        let (sign, enc) = match v {
            KeyVersion::V6 => (KeyType::Ed25519, KeyType::X25519),
            _ => (
                KeyType::Ed25519Legacy,
                KeyType::ECDH(ECCCurve::Curve25519Legacy),
            ),
        };
        let params = SecretKeyParamsBuilder::default()
            .version(v)
            .key_type(sign)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("Six <six@example.org>".into())
            .feature_seipd_v2(v2)
            .preferred_aead_algorithms(aead.iter().copied().collect())
            .subkey(
                SubkeyParamsBuilder::default()
                    .version(v)
                    .key_type(enc)
                    .can_encrypt(EncryptionCaps::All)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        SignedPublicKey::from(params.generate(rand::thread_rng()).unwrap())
    }

    #[test]
    fn rule_1_and_9_v6_certificates_are_usable_through_seipd_v2() {
        let c = evaluate(
            &made(KeyVersion::V6, false, &[]),
            Path::new("six.asc"),
            SystemTime::now(),
        );
        let keys = c.usable.expect("a v6 certificate is usable");
        assert_eq!(keys.len(), 1);
        assert!(keys[0].is_v6());
        assert_eq!(c.emails, ["six@example.org"]);
        // Version 6: SEIPD v2 whatever its features say, AES-256 with OCB by default.
        assert_eq!(c.aead, Some(DEFAULT_SUITE));
    }

    #[test]
    fn rule_9_a_v4_certificate_takes_seipd_v2_only_when_its_features_say_so() {
        let now = SystemTime::now();
        let p = Path::new("four.asc");
        let c = evaluate(&made(KeyVersion::V4, false, &[]), p, now);
        assert!(c.usable.is_ok());
        assert_eq!(c.aead, None);
        let c = evaluate(&made(KeyVersion::V4, true, &[]), p, now);
        assert!(!c.usable.unwrap()[0].is_v6());
        assert_eq!(c.aead, Some(DEFAULT_SUITE));
    }

    #[test]
    fn rule_9_the_suite_follows_the_aead_preferences() {
        use AeadAlgorithm::*;
        use SymmetricKeyAlgorithm::*;
        let now = SystemTime::now();
        let p = Path::new("six.asc");
        let suite = |prefs: &[Suite]| evaluate(&made(KeyVersion::V6, true, prefs), p, now).aead;
        assert_eq!(suite(&[(AES128, Gcm), (AES256, Ocb)]), Some((AES256, Ocb)));
        assert_eq!(suite(&[(AES128, Gcm), (AES256, Eax)]), Some((AES128, Gcm)));
        assert_eq!(suite(&[(Camellia256, Ocb)]), Some(COMMON_SUITE));
    }

    #[test]
    fn rule_9_a_v6_certificate_without_a_direct_key_signature_is_not_usable() {
        let mut cert = made(KeyVersion::V6, true, &[]);
        cert.details.direct_signatures.clear();
        let c = evaluate(&cert, Path::new("six.asc"), SystemTime::now());
        assert_eq!(c.usable.unwrap_err(), Unusable::NoValidSelfSignature);
    }

    /// A certificate made by the pgp crate: version `v`, a `primary` signing key, one
    /// encryption subkey of each of `subs`, SEIPD v2 in its features when `v2`.
    pub(crate) fn made_with(
        v: KeyVersion,
        primary: pgp::composed::KeyType,
        subs: &[pgp::composed::KeyType],
        v2: bool,
    ) -> SignedPublicKey {
        use pgp::composed::{EncryptionCaps, SecretKeyParamsBuilder, SubkeyParamsBuilder};
        let subkeys = subs
            .iter()
            .map(|t| {
                SubkeyParamsBuilder::default()
                    .version(v)
                    .key_type(t.clone())
                    .can_encrypt(EncryptionCaps::All)
                    .build()
                    .unwrap()
            })
            .collect();
        let params = SecretKeyParamsBuilder::default()
            .version(v)
            .key_type(primary)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("PQ <pq@example.org>".into())
            .feature_seipd_v2(v2)
            .subkeys(subkeys)
            .build()
            .unwrap();
        SignedPublicKey::from(params.generate(rand::thread_rng()).unwrap())
    }

    #[test]
    fn rule_10_v6_ml_dsa_and_slh_dsa_certificates_with_ml_kem_subkeys_are_usable() {
        use pgp::composed::KeyType::*;
        let pairs = [
            (MlDsa65Ed25519, MlKem768X25519),
            (MlDsa87Ed448, MlKem1024X448),
            (SlhDsaShake128f, MlKem768X25519),
        ];
        for (primary, sub) in pairs {
            let cert = made_with(KeyVersion::V6, primary.clone(), &[sub], false);
            let c = evaluate(&cert, Path::new("pq.asc"), SystemTime::now());
            let keys = c.usable.unwrap_or_else(|e| panic!("{primary:?}: {e}"));
            assert_eq!(keys.len(), 1);
            assert!(keys[0].is_pqc() && keys[0].needs_seipd_v2());
            assert_eq!(c.emails, ["pq@example.org"]);
            assert_eq!(c.aead, Some(DEFAULT_SUITE), "{primary:?}");
            assert!(c.notes.is_empty(), "{:?}", c.notes);
        }
    }

    #[test]
    fn rule_10_the_post_quantum_subkey_is_preferred_and_needs_seipd_v2() {
        use pgp::composed::KeyType::*;
        use pgp::crypto::ecc_curve::ECCCurve;
        let now = SystemTime::now();
        let p = Path::new("pq.asc");
        // Version 4, no SEIPD v2 in its features: still SEIPD v2, for the ML-KEM subkey.
        let classical = ECDH(ECCCurve::Curve25519Legacy);
        let cert = made_with(
            KeyVersion::V4,
            Ed25519Legacy,
            &[classical, MlKem768X25519],
            false,
        );
        let pq = hex_upper(cert.public_subkeys[1].key.fingerprint().as_bytes());
        let old = hex_upper(cert.public_subkeys[0].key.fingerprint().as_bytes());
        let c = evaluate(&cert, p, now);
        let keys = c.usable.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].fingerprint(), pq);
        assert!(keys[0].needs_seipd_v2() && !keys[0].is_v6());
        assert_eq!(c.aead, Some(DEFAULT_SUITE));
        assert_eq!(
            c.notes,
            [format!(
                "subkey {old}: passed over for the post-quantum key"
            )]
        );
        // Version 6, X25519 beside ML-KEM-768+X25519, in either order.
        let cert = made_with(KeyVersion::V6, Ed25519, &[MlKem768X25519, X25519], true);
        let keys = evaluate(&cert, p, now).usable.unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].is_pqc());
        // Without a post-quantum key nothing changes.
        let cert = made_with(
            KeyVersion::V4,
            Ed25519Legacy,
            &[ECDH(ECCCurve::Curve25519Legacy)],
            false,
        );
        let c = evaluate(&cert, p, now);
        assert!(!c.usable.unwrap()[0].needs_seipd_v2());
        assert_eq!(c.aead, None);
    }

    #[test]
    fn rule_10_a_verdict_with_a_post_quantum_key_comes_back_from_its_bytes() {
        use pgp::composed::KeyType::*;
        let cert = made_with(
            KeyVersion::V6,
            MlDsa65Ed25519,
            &[X25519, MlKem768X25519],
            false,
        );
        let p = Path::new("pq.asc");
        let judged = evaluate(&cert, p, SystemTime::now());
        let back = decode_verdict(&encode_verdict(&judged), &cert, p).unwrap();
        assert_eq!(format!("{back:?}"), format!("{judged:?}"));
        assert!(back.usable.unwrap()[0].is_pqc());
    }

    /// A v4 Ed25519/Cv25519 certificate with these symmetric preferences.
    fn with_prefs(prefs: &[SymmetricKeyAlgorithm]) -> SignedPublicKey {
        use pgp::composed::{EncryptionCaps, KeyType, SecretKeyParamsBuilder, SubkeyParamsBuilder};
        use pgp::crypto::ecc_curve::ECCCurve;
        let params = SecretKeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("Prefs <prefs@example.org>".into())
            .preferred_symmetric_algorithms(prefs.iter().copied().collect())
            .subkey(
                SubkeyParamsBuilder::default()
                    .key_type(KeyType::ECDH(ECCCurve::Curve25519Legacy))
                    .can_encrypt(EncryptionCaps::All)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        SignedPublicKey::from(params.generate(rand::thread_rng()).unwrap())
    }

    #[test]
    fn cipher_follows_preferences_and_legacy_only_is_weak() {
        use SymmetricKeyAlgorithm::*;
        let now = SystemTime::now();
        let p = Path::new("k.asc");
        let c = evaluate(&with_prefs(&[AES256, AES128]), p, now);
        assert!(c.usable.is_ok());
        assert_eq!(c.cipher, AES256);
        let c = evaluate(&with_prefs(&[]), p, now);
        assert_eq!(c.cipher, AES256, "no preferences: AES-256");
        let c = evaluate(&with_prefs(&[AES128, CAST5]), p, now);
        assert!(c.usable.is_ok());
        assert_eq!(c.cipher, AES128);
        let c = evaluate(&with_prefs(&[CAST5, TripleDES]), p, now);
        assert!(matches!(c.usable, Err(Unusable::Weak(_))), "{:?}", c.usable);
        assert_eq!(c.emails, ["prefs@example.org"]);
    }
}
