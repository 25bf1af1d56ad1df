//! What the admin commands share: the certificate view (`explain`, `keys list`) with its
//! trust and provenance, how a
//! route is told, the flavor's name and the time of the run.

use serde::Serialize;

use crate::Env;
use crate::config::Flavor;
use crate::diag::format_date;
use crate::diag::sanitize;
use crate::discover::store::{Found, Store};
use crate::keys::recipients::Route;
use crate::keys::{Cert, EncryptionKey, Keyring};
use crate::message::address::Address;

pub(super) fn unix_now(env: &Env) -> u64 {
    env.now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(super) fn flavor_name(f: Flavor) -> String {
    f.name().to_string()
}

/// One certificate as `explain` and `keys list` show it.
#[derive(Debug, Serialize)]
pub struct CertView {
    pub fingerprint: String,
    pub source: String,
    pub addresses: Vec<String>,
    pub usable: bool,
    /// Why not, when not usable.
    pub reason: Option<String>,
    /// YYYY-MM-DD when it stops being usable.
    pub expires: Option<String>,
    pub encryption_keys: Vec<String>,
    /// Keys the key policy passed over, with the reason ("subkey FPR: unsupported (...)").
    pub passed_over: Vec<String>,
    /// "manual" (a `keyring` source) or "discovered" (`keys fetch`, ranked below).
    pub trust: &'static str,
    /// For a discovered certificate: where and when it was found, for each address.
    pub provenance: Vec<FoundView>,
}

/// Where and when a discovered certificate was found for one address.
#[derive(Debug, Serialize)]
pub struct FoundView {
    pub address: String,
    pub method: String,
    pub url: String,
    /// YYYY-MM-DD.
    pub first_seen: String,
    pub last_refreshed: String,
}

impl FoundView {
    pub(super) fn of(f: &Found) -> FoundView {
        FoundView {
            address: sanitize(&f.address),
            method: sanitize(&f.method),
            url: sanitize(&f.url),
            first_seen: format_date(f.first_seen),
            last_refreshed: format_date(f.last_refreshed),
        }
    }

    /// "wkd-advanced https://... (first seen D, last refreshed D)".
    pub(super) fn line(&self) -> String {
        format!(
            "{} {} for {} (first seen {}, last refreshed {})",
            self.method, self.url, self.address, self.first_seen, self.last_refreshed
        )
    }
}

/// The provenance lines of `kr`'s certificate `c` when it was discovered.
fn provenance(c: &Cert, kr: &Keyring) -> Vec<FoundView> {
    let Some(dir) = kr.discovered.as_deref().filter(|_| kr.is_discovered(c)) else {
        return Vec::new();
    };
    Store::new(dir)
        .provenance(&c.fingerprint)
        .map(|p| p.found.iter().map(FoundView::of).collect())
        .unwrap_or_default()
}

/// One line per certificate held for review in `store` (for `address` only, when given):
/// what it is, where it was found, what it would replace and how to decide.
pub(super) fn held_lines(store: &Store, address: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for fpr in store.pending() {
        let Some(p) = store.pending_provenance(&fpr) else {
            continue;
        };
        for f in &p.found {
            if address.is_some_and(|a| a != f.address) {
                continue;
            }
            out.push(format!(
                "held for review: {fpr}, found by {}, instead of {}: pgpsendmail keys accept \
                 {fpr} (or keys reject {fpr})",
                FoundView::of(f).line(),
                p.replaces.join(", ")
            ));
        }
    }
    out
}

impl CertView {
    pub(super) fn of(c: &Cert, kr: &Keyring) -> CertView {
        CertView {
            trust: if kr.is_discovered(c) {
                "discovered"
            } else {
                "manual"
            },
            provenance: provenance(c, kr),
            fingerprint: c.fingerprint.clone(),
            source: c.source.display().to_string(),
            addresses: c.emails.clone(),
            usable: c.usable.is_ok(),
            reason: c.usable.as_ref().err().map(|u| u.to_string()),
            expires: c.expires.map(format_date),
            encryption_keys: c
                .usable
                .as_ref()
                .map(|k| k.iter().map(EncryptionKey::fingerprint).collect())
                .unwrap_or_default(),
            passed_over: c.notes.iter().map(|n| sanitize(n)).collect(),
        }
    }
}

pub(super) fn route_text(route: &Route, rcpt: &Address, lookup: &Address) -> String {
    match route {
        Route::Own => "own address".into(),
        Route::Alias => format!("alias of {} in [recipients]", sanitize(rcpt.as_str())),
        Route::Untagged(a) => format!("+tag dropped: {}", sanitize(a.as_str())),
        Route::Pinned => "key pinned in [recipients]".into(),
        Route::LocalAlias(entry) => format!(
            "local name, alias of \"{}\" in [recipients]",
            sanitize(entry)
        ),
        Route::LocalPinned(entry) => format!(
            "local name, key pinned by \"{}\" in [recipients]",
            sanitize(entry)
        ),
        Route::DomainKey => format!(
            "domain key (no personal key for {})",
            sanitize(lookup.as_str())
        ),
        Route::DomainAlways => "domain key (always = true)".into(),
    }
}

/// The configuration, or its error written to `out` as `error: ...` with the exit status
/// of an admin command that cannot go on without it (78).
pub(super) fn config_or_report(
    env: &crate::Env,
    out: &mut dyn std::io::Write,
) -> std::io::Result<Result<crate::config::Config, i32>> {
    match env.load_config() {
        Ok(c) => Ok(Ok(c)),
        Err(e) => {
            writeln!(out, "error: {e}")?;
            Ok(Err(crate::error::ExitCode::Config.code()))
        }
    }
}
