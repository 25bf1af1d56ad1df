//! The admin commands behind `pgpsendmail check`, `explain` and `keys list`: they read the
//! same configuration and keys as the sendmail face and say what it would do, without
//! sending anything. main.rs parses their arguments (clap) and calls these.
//!
//! Output goes to the writer given (stdout in main); exit codes: `check` 0 (all well) / 1
//! (warnings: some mail may fail) / 78 (errors: no mail can be sent at all: a broken
//! configuration, no real sendmail, no usable key for anything), for cron and monitoring; `explain` the status sending would end with;
//! `keys list` 0, or 1 when nothing matches.
//!
//! One file per command: `check.rs` (`check` and its helpers: permissions, size, local
//! users), `explain.rs`, `keys.rs` (`keys list`, `keys import`); this file keeps what they
//! share (the certificate view, the route text).

use serde::Serialize;

use crate::Env;
use crate::config::Flavor;
use crate::diag::sanitize;
use crate::keys::recipients::Route;
use crate::keys::{Cert, EncryptionKey, format_date};
use crate::message::address::Address;

mod check;
mod explain;
mod keys;

pub use check::{
    GROWTH_PERCENT, OVERHEAD, POSTFIX_DEFAULT_LIMIT, check, largest_before_encryption, limit_for,
    local_users,
};
pub use explain::explain;
pub use keys::{keys_import, keys_list};

fn unix_now(env: &Env) -> u64 {
    env.now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn flavor_name(f: Flavor) -> String {
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
    fn of(c: &Cert) -> CertView {
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

fn route_text(route: &Route, rcpt: &Address, lookup: &Address) -> String {
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
