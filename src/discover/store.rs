//! The discovered directory (`[discovery] dir`): what `keys fetch` and `keys refresh` found,
//! with where and when, and the key changes held for review (pgpsendmail(8), KEYS,
//! discovered certificates).
//!
//! Owns: the layout (`FPR.asc` the certificate, `FPR.json` its provenance: for each address
//! the method, URL, first seen and last refreshed; `pending/FPR.asc` and `pending/FPR.json`
//! a certificate held for review and the ones it would replace; `rejected/FPR` a
//! fingerprint `keys reject` turned away, not held again), and [`Store::apply`]: what a
//! certificate found for an address does there. The same fingerprint merges at once
//! (revocations, new subkeys, new expiry); a new address takes a usable certificate; a
//! different fingerprint for an address that has one is held (`key_changes = "hold"`) or
//! replaces it (`"accept"`).
//!
//! Untrusted input: the files in the directory (written by us, but read back as any key
//! file is: capped, parsed, checked against the fingerprint in the name).

use std::path::{Path, PathBuf};

use pgp::composed::{ArmorOptions, SignedPublicKey};
use pgp::types::KeyDetails;
use serde::{Deserialize, Serialize};

use crate::config::KeyChanges;
use crate::keys::gather::{self, Merged};
use crate::keys::store::{make_key_dir, write_atomically};
use crate::keys::{self, Cert, hex_upper};

/// Where and when a certificate was found for one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub address: String,
    pub method: String,
    pub url: String,
    /// Unix times.
    pub first_seen: u64,
    pub last_refreshed: u64,
}

/// A certificate's provenance file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    pub found: Vec<Found>,
    /// For a held certificate: the fingerprints it would replace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
}

impl Provenance {
    fn entry(&mut self, addr: &str) -> Option<&mut Found> {
        self.found.iter_mut().find(|f| f.address == addr)
    }
}

/// What [`Store::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added,
    /// The same fingerprint: what was merged (empty: nothing new).
    Updated(Merged),
    /// Held for review; it would replace these fingerprints.
    Held(Vec<String>),
    /// Already held, or rejected before: nothing done.
    StillHeld,
    Rejected,
    /// Taken at once (`key_changes = "accept"`), replacing these.
    Replaced(Vec<String>),
    /// Not stored: why.
    Refused(String),
}

/// The discovered directory.
pub struct Store {
    pub dir: PathBuf,
}

fn fpr_of(cert: &SignedPublicKey) -> String {
    hex_upper(cert.primary_key.fingerprint().as_bytes())
}

/// The certificate with fingerprint `fpr` in the key file `path`.
fn read_cert(path: &Path, fpr: &str) -> Option<SignedPublicKey> {
    let bytes = keys::read_capped(path).ok()?;
    keys::parse_certificates(&bytes)
        .ok()?
        .certs
        .into_iter()
        .find(|c| fpr_of(c) == fpr)
}

fn read_provenance(path: &Path) -> Option<Provenance> {
    let bytes = keys::read_capped(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Upper-case hex fingerprints named by `*.asc` files in `dir`.
fn fingerprints_in(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".asc").map(str::to_string))
        .filter(|f| crate::config::normalize_fingerprint(f).as_deref() == Some(f))
        .collect();
    out.sort();
    out
}

impl Store {
    pub fn new(dir: &Path) -> Store {
        Store {
            dir: dir.to_path_buf(),
        }
    }

    fn pending_dir(&self) -> PathBuf {
        self.dir.join("pending")
    }

    pub fn cert(&self, fpr: &str) -> Option<SignedPublicKey> {
        read_cert(&self.dir.join(format!("{fpr}.asc")), fpr)
    }

    pub fn provenance(&self, fpr: &str) -> Option<Provenance> {
        read_provenance(&self.dir.join(format!("{fpr}.json")))
    }

    pub fn pending_cert(&self, fpr: &str) -> Option<SignedPublicKey> {
        read_cert(&self.pending_dir().join(format!("{fpr}.asc")), fpr)
    }

    pub fn pending_provenance(&self, fpr: &str) -> Option<Provenance> {
        read_provenance(&self.pending_dir().join(format!("{fpr}.json")))
    }

    /// The fingerprints of every stored certificate.
    pub fn stored(&self) -> Vec<String> {
        fingerprints_in(&self.dir)
    }

    /// The fingerprints of every certificate held for review.
    pub fn pending(&self) -> Vec<String> {
        fingerprints_in(&self.pending_dir())
    }

    fn is_rejected(&self, fpr: &str) -> bool {
        self.dir.join("rejected").join(fpr).exists()
    }

    /// The stored certificates found for `addr`.
    pub fn known_for(&self, addr: &str) -> Vec<String> {
        self.stored()
            .into_iter()
            .filter(|f| {
                self.provenance(f)
                    .is_some_and(|p| p.found.iter().any(|x| x.address == addr))
            })
            .collect()
    }

    /// Writes `cert` and `prov` into `dir` (the store or its `pending/`).
    fn write(dir: &Path, cert: &SignedPublicKey, prov: &Provenance) -> std::io::Result<()> {
        make_key_dir(dir)?;
        let fpr = fpr_of(cert);
        let armored = cert
            .to_armored_string(ArmorOptions::default())
            .map_err(std::io::Error::other)?;
        let json = serde_json::to_string_pretty(prov).map_err(std::io::Error::other)?;
        write_atomically(&dir.join(format!("{fpr}.asc")), &armored)?;
        write_atomically(&dir.join(format!("{fpr}.json")), &(json + "\n"))
    }

    fn remove(dir: &Path, fpr: &str) -> std::io::Result<()> {
        for ext in ["asc", "json"] {
            match std::fs::remove_file(dir.join(format!("{fpr}.{ext}"))) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// What `cert` (trimmed to `found.address`, judged as `judged`) does to the store.
    pub fn apply(
        &self,
        cert: &SignedPublicKey,
        judged: &Cert,
        found: Found,
        policy: KeyChanges,
    ) -> std::io::Result<Change> {
        let fpr = fpr_of(cert);
        let addr = found.address.clone();
        if let Some(mut stored) = self.cert(&fpr) {
            let merged = gather::merge(&mut stored, cert);
            let mut prov = self.provenance(&fpr).unwrap_or_default();
            match prov.entry(&addr) {
                Some(e) => e.last_refreshed = found.last_refreshed,
                None => prov.found.push(found),
            }
            Self::write(&self.dir, &stored, &prov)?;
            return Ok(Change::Updated(merged));
        }
        if let Err(why) = &judged.usable {
            return Ok(Change::Refused(format!("certificate {fpr} is {why}")));
        }
        if self.is_rejected(&fpr) {
            return Ok(Change::Rejected);
        }
        let known = self.known_for(&addr);
        let prov = Provenance {
            found: vec![found],
            replaces: Vec::new(),
        };
        if known.is_empty() {
            Self::write(&self.dir, cert, &prov)?;
            return Ok(Change::Added);
        }
        if policy == KeyChanges::Accept {
            Self::write(&self.dir, cert, &prov)?;
            self.drop_address(&known, &addr)?;
            return Ok(Change::Replaced(known));
        }
        if self.pending_cert(&fpr).is_some() {
            return Ok(Change::StillHeld);
        }
        let held = Provenance {
            replaces: known.clone(),
            ..prov
        };
        Self::write(&self.pending_dir(), cert, &held)?;
        Ok(Change::Held(known))
    }

    /// An update found for `manual`, a certificate of the key directory (which is never
    /// written to): kept here as a copy of the same fingerprint when it brings something
    /// `manual` and an earlier copy lack (a revocation, a new subkey, a new expiry), so
    /// that every load merges it in.
    pub fn keep_update(
        &self,
        manual: &SignedPublicKey,
        cert: &SignedPublicKey,
        found: Found,
    ) -> std::io::Result<Change> {
        let fpr = fpr_of(cert);
        let earlier = self.cert(&fpr);
        let mut have = manual.clone();
        if let Some(e) = &earlier {
            gather::merge(&mut have, e);
        }
        let merged = gather::merge(&mut have, cert);
        if merged.is_empty() {
            return Ok(Change::Updated(merged));
        }
        let mut copy = earlier.unwrap_or_else(|| cert.clone());
        gather::merge(&mut copy, cert);
        let mut prov = self.provenance(&fpr).unwrap_or_default();
        match prov.entry(&found.address) {
            Some(e) => e.last_refreshed = found.last_refreshed,
            None => prov.found.push(found),
        }
        Self::write(&self.dir, &copy, &prov)?;
        Ok(Change::Updated(merged))
    }

    /// `fprs` no longer stand for `addr`: each loses its entry, and a certificate left with
    /// none is removed.
    fn drop_address(&self, fprs: &[String], addr: &str) -> std::io::Result<()> {
        for old in fprs {
            let Some(mut prov) = self.provenance(old) else {
                continue;
            };
            prov.found.retain(|f| f.address != addr);
            match self.cert(old) {
                Some(c) if !prov.found.is_empty() => Self::write(&self.dir, &c, &prov)?,
                _ => Self::remove(&self.dir, old)?,
            }
        }
        Ok(())
    }

    /// `keys accept FPR`: the held certificate replaces the ones it was held against.
    /// `Ok(None)`: nothing is held under `fpr`.
    pub fn accept(&self, fpr: &str) -> std::io::Result<Option<Provenance>> {
        let (Some(cert), Some(prov)) = (self.pending_cert(fpr), self.pending_provenance(fpr))
        else {
            return Ok(None);
        };
        let stored = Provenance {
            found: prov.found.clone(),
            replaces: Vec::new(),
        };
        Self::write(&self.dir, &cert, &stored)?;
        for f in &prov.found {
            self.drop_address(&prov.replaces, &f.address)?;
        }
        Self::remove(&self.pending_dir(), fpr)?;
        Ok(Some(prov))
    }

    /// `keys reject FPR`: the held certificate is removed and not held again.
    pub fn reject(&self, fpr: &str) -> std::io::Result<Option<Provenance>> {
        let Some(prov) = self.pending_provenance(fpr) else {
            return Ok(None);
        };
        let rejected = self.dir.join("rejected");
        make_key_dir(&rejected)?;
        write_atomically(&rejected.join(fpr), "")?;
        Self::remove(&self.pending_dir(), fpr)?;
        Ok(Some(prov))
    }
}
