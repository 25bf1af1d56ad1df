//! One certificate per fingerprint: every copy of a certificate, from every source, merged
//! before it is judged, with bare revocation signatures attached (pgpsendmail(8), KEYS).
//!
//! Owns: merging two copies of one certificate ([`merge`]: user IDs, subkeys, signatures;
//! nothing is ever removed), gathering the certificates and revocations a load found
//! ([`Gathered`]), and telling who issued a signature ([`issued_by`]). So an old export
//! beside a revoked one, a revocation certificate in a file of its own, or one appended to
//! the certificate's file, all reach the judgement of the one certificate they belong to.
//!
//! Does not own: parsing files ([`crate::keys`]) or judging validity
//! ([`crate::keys::validity`]): a merged certificate
//! is judged like any other, and a revocation that does not verify is ignored there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pgp::composed::SignedPublicKey;
use pgp::packet::{self, Signature, SignatureType};
use pgp::types::KeyDetails;

/// Issued by `key` (or carries no issuer at all: then verification decides).
pub fn issued_by(sig: &Signature, key: &packet::PublicKey) -> bool {
    let ids = sig.issuer_key_id();
    let fprs = sig.issuer_fingerprint();
    if ids.is_empty() && fprs.is_empty() {
        return true;
    }
    let kid = key.legacy_key_id();
    let fpr = key.fingerprint();
    ids.iter().any(|i| **i == kid) || fprs.iter().any(|f| **f == fpr)
}

/// What [`merge`] added to a stored certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    pub user_ids: usize,
    pub subkeys: usize,
    pub signatures: usize,
}

impl Merged {
    pub fn is_empty(&self) -> bool {
        *self == Merged::default()
    }
}

impl std::fmt::Display for Merged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} new user IDs, {} new subkeys, {} new signatures",
            self.user_ids, self.subkeys, self.signatures
        )
    }
}

fn add_signatures(into: &mut Vec<Signature>, from: &[Signature]) -> usize {
    let mut n = 0;
    for s in from {
        if !into.contains(s) {
            into.push(s.clone());
            n += 1;
        }
    }
    n
}

/// Adds to `stored` what `new` (the same primary key) has and `stored` lacks: user IDs,
/// subkeys, and signatures (revocations above all: an update must never be dropped).
/// Nothing is removed. Validity is judged later, as for any certificate.
pub fn merge(stored: &mut SignedPublicKey, new: &SignedPublicKey) -> Merged {
    let mut m = Merged::default();
    m.signatures += add_signatures(
        &mut stored.details.revocation_signatures,
        &new.details.revocation_signatures,
    );
    m.signatures += add_signatures(
        &mut stored.details.direct_signatures,
        &new.details.direct_signatures,
    );
    for u in &new.details.users {
        match stored.details.users.iter_mut().find(|s| s.id == u.id) {
            Some(s) => m.signatures += add_signatures(&mut s.signatures, &u.signatures),
            None => {
                stored.details.users.push(u.clone());
                m.user_ids += 1;
            }
        }
    }
    for k in &new.public_subkeys {
        let fpr = k.key.fingerprint();
        match stored
            .public_subkeys
            .iter_mut()
            .find(|s| s.key.fingerprint() == fpr)
        {
            Some(s) => m.signatures += add_signatures(&mut s.signatures, &k.signatures),
            None => {
                stored.public_subkeys.push(k.clone());
                m.subkeys += 1;
            }
        }
    }
    m
}

/// Adds a bare key revocation to `cert` when `cert`'s primary key issued it; true if so.
/// (Whether it verifies is decided when the certificate is judged.)
pub fn attach(cert: &mut SignedPublicKey, rev: &Signature) -> bool {
    if !issued_by(rev, &cert.primary_key) {
        return false;
    }
    // No issuer at all: only a signature that verifies is taken for this certificate.
    if rev.issuer_key_id().is_empty()
        && rev.issuer_fingerprint().is_empty()
        && rev.verify_key(&cert.primary_key).is_err()
    {
        return false;
    }
    if !cert.details.revocation_signatures.contains(rev) {
        cert.details.revocation_signatures.push(rev.clone());
    }
    true
}

/// A key revocation that a parser filed under a user ID or a subkey (it followed their
/// packets in the file, as an appended revocation certificate does) belongs to the primary
/// key: move it there, where the judgement looks for it.
fn normalize(cert: &mut SignedPublicKey) {
    let is_key_rev = |s: &Signature| s.typ() == Some(SignatureType::KeyRevocation);
    let mut stray = Vec::new();
    for u in &mut cert.details.users {
        stray.extend(u.signatures.extract_if(.., |s| is_key_rev(s)));
    }
    for k in &mut cert.public_subkeys {
        stray.extend(k.signatures.extract_if(.., |s| is_key_rev(s)));
    }
    add_signatures(&mut cert.details.revocation_signatures, &stray);
}

/// `cert` as [`Gathered`] keeps a single copy of it: key revocations filed under a user ID
/// or a subkey moved to the primary key.
pub fn normalized(cert: &SignedPublicKey) -> SignedPublicKey {
    let mut c = cert.clone();
    normalize(&mut c);
    c
}

/// Something found in a file, with that file.
pub type Sourced<T> = (T, PathBuf);

/// The certificates and revocations a load found, one certificate per fingerprint, in the
/// order first seen; each remembers the first source it came from.
#[derive(Default)]
pub struct Gathered {
    certs: Vec<Sourced<SignedPublicKey>>,
    by_fpr: HashMap<Vec<u8>, usize>,
    revocations: Vec<Sourced<Signature>>,
}

impl Gathered {
    pub fn add_cert(&mut self, mut cert: SignedPublicKey, source: &Path) {
        normalize(&mut cert);
        let fpr = cert.primary_key.fingerprint().as_bytes().to_vec();
        match self.by_fpr.get(&fpr) {
            Some(&i) => {
                merge(&mut self.certs[i].0, &cert);
            }
            None => {
                self.by_fpr.insert(fpr, self.certs.len());
                self.certs.push((cert, source.to_path_buf()));
            }
        }
    }

    pub fn add_revocation(&mut self, sig: Signature, source: &Path) {
        self.revocations.push((sig, source.to_path_buf()));
    }

    /// The primary fingerprints gathered so far (raw bytes).
    pub fn fingerprints(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.by_fpr.keys().map(Vec::as_slice)
    }

    /// The primary key IDs gathered so far (raw bytes).
    pub fn key_ids(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.certs
            .iter()
            .map(|(c, _)| c.primary_key.legacy_key_id().as_ref().to_vec())
    }

    /// Every certificate with its revocations attached, and the revocations that belong to
    /// none of them (with the file each came from).
    pub fn finish(mut self) -> (Vec<Sourced<SignedPublicKey>>, Vec<Sourced<Signature>>) {
        let mut orphans = Vec::new();
        for (rev, src) in std::mem::take(&mut self.revocations) {
            let mut used = false;
            for (cert, _) in &mut self.certs {
                used |= attach(cert, &rev);
            }
            if !used {
                orphans.push((rev, src));
            }
        }
        (self.certs, orphans)
    }
}
