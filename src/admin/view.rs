//! What the admin commands share: the certificate view (`explain`, `keys list`), how a
//! route is told, the flavor's name and the time of the run.

use serde::Serialize;

use crate::Env;
use crate::config::Flavor;
use crate::diag::format_date;
use crate::diag::sanitize;
use crate::keys::recipients::Route;
use crate::keys::{Cert, EncryptionKey};
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
}

impl CertView {
    pub(super) fn of(c: &Cert) -> CertView {
        CertView {
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
