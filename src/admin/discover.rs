//! `pgpsendmail keys fetch`, `keys refresh`, `keys accept` and `keys reject`: discovered
//! certificates (pgpsendmail(8), ADMIN COMMANDS and KEYS, discovered certificates).
//!
//! One line per address or change; `keys refresh` writes nothing when nothing changed, so
//! that cron mails only news. Exit codes: 0 (done), 1 (something was not found, refused or
//! held for review: the lines say what), 64 (not a fingerprint), 69 (no HTTPS client: no CA
//! roots), 74 (writing the discovered directory failed), 78 (configuration).

use std::io::Write;
use std::time::{Duration, SystemTime};

use pgp::composed::SignedPublicKey;

use crate::Env;
use crate::config::{Config, KeyChanges, normalize_fingerprint};
use crate::diag::{format_date, sanitize};
use crate::discover::http::Client;
use crate::discover::lookup::{self, Method};
use crate::discover::store::{Change, Found, Store};
use crate::error::ExitCode;
use crate::keys::{self, Keyring};
use crate::message::address::Address;
use crate::message::canonical::LocalCase;

use super::view::unix_now;

/// What a fetch or refresh works with.
struct Fetcher<'a> {
    client: Client,
    store: Store,
    policy: KeyChanges,
    now: SystemTime,
    at: u64,
    out: &'a mut dyn Write,
    /// Something not found, refused or held: exit 1.
    failed: bool,
    /// `keys refresh`: say nothing about what did not change.
    quiet: bool,
}

/// The configuration and an HTTPS client, or the exit code after the error line.
fn start<'a>(
    env: &Env,
    out: &'a mut dyn Write,
    quiet: bool,
) -> std::io::Result<Result<(Config, Fetcher<'a>), i32>> {
    let cfg = match super::view::config_or_report(env, out)? {
        Ok(c) => c,
        Err(code) => return Ok(Err(code)),
    };
    let client = match Client::new(Duration::from_secs(cfg.discovery.timeout)) {
        Ok(c) => c,
        Err(e) => {
            writeln!(out, "error: {e}")?;
            return Ok(Err(ExitCode::Unavailable.code()));
        }
    };
    let f = Fetcher {
        client,
        store: Store::new(&cfg.discovery.dir),
        policy: cfg.discovery.key_changes,
        now: env.now,
        at: unix_now(env),
        out,
        failed: false,
        quiet,
    };
    Ok(Ok((cfg, f)))
}

/// `pgpsendmail keys fetch ADDRESS...`: looks each address up (WKD advanced, WKD direct,
/// then each keyserver) and stores what it finds in the discovered directory.
pub fn keys_fetch(env: &Env, addresses: &[String], out: &mut dyn Write) -> std::io::Result<i32> {
    let (cfg, mut f) = match start(env, out, false)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    for a in addresses {
        let addr = match Address::parse_single(a) {
            Ok(addr) if addr.domain().is_some() => addr.match_key(LocalCase::Ignore),
            Ok(_) => {
                writeln!(
                    f.out,
                    "refused {}: a local name has no domain to ask",
                    sanitize(a)
                )?;
                f.failed = true;
                continue;
            }
            Err(e) => {
                writeln!(f.out, "refused {}: not an address ({e})", sanitize(a))?;
                f.failed = true;
                continue;
            }
        };
        let tries = lookup::urls(&addr, &cfg.discovery);
        if tries.is_empty() {
            writeln!(
                f.out,
                "no certificate for {}: [discovery] has wkd = false and no keyservers",
                sanitize(&addr)
            )?;
            f.failed = true;
            continue;
        }
        if let Err(code) = f.look_up(&addr, &tries, None)? {
            return Ok(code);
        }
    }
    Ok(f.exit())
}

impl Fetcher<'_> {
    fn exit(&self) -> i32 {
        i32::from(self.failed)
    }

    /// Looks `addr` up at `tries` and applies every certificate found (`only`: only that
    /// fingerprint, for a certificate of the key directory); `Err(code)`: stop.
    fn look_up(
        &mut self,
        addr: &str,
        tries: &[(Method, String)],
        only: Option<&SignedPublicKey>,
    ) -> std::io::Result<Result<(), i32>> {
        let shown = sanitize(addr);
        let answer = match lookup::find(&self.client, addr, tries, self.now) {
            Ok(a) => a,
            // A keyring certificate published nowhere is no news.
            Err(why) if only.is_some() && why.iter().all(|w| w.ends_with(": not found")) => {
                return Ok(Ok(()));
            }
            Err(why) => {
                let verb = if self.quiet {
                    "cannot refresh"
                } else {
                    "no certificate for"
                };
                writeln!(self.out, "{verb} {shown}: {}", why.join("; "))?;
                self.failed = true;
                return Ok(Ok(()));
            }
        };
        for c in answer.candidates {
            let fpr = c.judged.fingerprint.clone();
            let found = Found {
                address: addr.to_string(),
                method: answer.method.name().to_string(),
                url: answer.url.clone(),
                first_seen: self.at,
                last_refreshed: self.at,
            };
            let change = match only {
                Some(manual)
                    if keys::hex_upper(
                        pgp::types::KeyDetails::fingerprint(&manual.primary_key).as_bytes(),
                    ) != fpr =>
                {
                    continue;
                }
                Some(manual) => self.store.keep_update(manual, &c.cert, found),
                None => self.store.apply(&c.cert, &c.judged, found, self.policy),
            };
            match change {
                Ok(change) => self.tell(&shown, &fpr, &answer.url, change)?,
                Err(e) => {
                    writeln!(
                        self.out,
                        "error: {}: {e}",
                        sanitize(&self.store.dir.display().to_string())
                    )?;
                    return Ok(Err(ExitCode::IoErr.code()));
                }
            }
        }
        Ok(Ok(()))
    }

    /// The state of the stored certificate `fpr`, judged as every certificate is.
    fn state(&self, fpr: &str) -> String {
        let Some(cert) = self.store.cert(fpr) else {
            return "not stored".into();
        };
        let c = keys::evaluate(&cert, &self.store.dir, self.now);
        match (&c.usable, c.expires) {
            (Err(why), _) => format!("not usable: {why}"),
            (Ok(_), Some(t)) => format!("usable until {}", format_date(t)),
            (Ok(_), None) => "usable".into(),
        }
    }

    /// One line for `change` (none for what did not change, in a refresh).
    fn tell(&mut self, addr: &str, fpr: &str, url: &str, change: Change) -> std::io::Result<()> {
        let url = sanitize(url);
        let line = match change {
            Change::Added => format!("added {fpr} for {addr} from {url}: {}", self.state(fpr)),
            Change::Updated(m) if m.is_empty() => {
                if self.quiet {
                    return Ok(());
                }
                format!("unchanged {fpr} for {addr}: {}", self.state(fpr))
            }
            Change::Updated(m) => format!("updated {fpr} for {addr} ({m}): {}", self.state(fpr)),
            Change::Replaced(old) => format!(
                "replaced {} with {fpr} for {addr} from {url}: {}",
                old.join(", "),
                self.state(fpr)
            ),
            Change::Held(old) => {
                self.failed = true;
                format!(
                    "held {fpr} for {addr} from {url}: a different key than {}; the known one \
                     stays in use until pgpsendmail keys accept {fpr} (or keys reject {fpr})",
                    old.join(", ")
                )
            }
            Change::StillHeld | Change::Rejected if self.quiet => return Ok(()),
            Change::StillHeld => {
                self.failed = true;
                format!(
                    "still held {fpr} for {addr}: pgpsendmail keys accept {fpr} or keys reject {fpr}"
                )
            }
            Change::Rejected => {
                self.failed = true;
                format!("ignored {fpr} for {addr}: rejected by keys reject")
            }
            Change::Refused(why) => {
                self.failed = true;
                format!("refused {addr} from {url}: {why}; nothing stored")
            }
        };
        writeln!(self.out, "{line}")
    }
}

/// The method a provenance entry names.
fn method_named(name: &str) -> Method {
    match name {
        "wkd-advanced" => Method::WkdAdvanced,
        "wkd-direct" => Method::WkdDirect,
        _ => Method::Keyserver,
    }
}

/// `pgpsendmail keys refresh`: every discovered certificate again from where it was found;
/// every certificate of the key directory that expires within `warn_days` or is pinned in
/// `[recipients]` looked up under its addresses, taking only its own fingerprint's updates.
pub fn keys_refresh(env: &Env, out: &mut dyn Write) -> std::io::Result<i32> {
    let (cfg, mut f) = match start(env, out, true)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    for fpr in f.store.stored() {
        let Some(prov) = f.store.provenance(&fpr) else {
            continue;
        };
        for found in prov.found {
            let tries = [(method_named(&found.method), found.url.clone())];
            if let Err(code) = f.look_up(&found.address, &tries, None)? {
                return Ok(code);
            }
        }
    }
    let kr = Keyring::load(&cfg.keyring, env.now);
    let soon = f.at + u64::from(cfg.warn_days) * 86_400;
    let pinned: Vec<&String> = cfg
        .recipients
        .values()
        .filter_map(|r| r.key.as_ref())
        .collect();
    for c in &kr.certs {
        // A copy in the discovered directory was refreshed above, from where it was found.
        let due = (c.expires.is_some_and(|t| t <= soon) || pinned.contains(&&c.fingerprint))
            && f.store.cert(&c.fingerprint).is_none();
        let Some(cert) = due.then(|| manual_cert(c)).flatten() else {
            continue;
        };
        for addr in &c.emails {
            let tries = lookup::urls(addr, &cfg.discovery);
            if let Err(code) = f.look_up(addr, &tries, Some(&cert))? {
                return Ok(code);
            }
        }
    }
    Ok(f.exit())
}

/// The certificate `c` was judged from, read again from its file.
fn manual_cert(c: &keys::Cert) -> Option<SignedPublicKey> {
    let bytes = keys::read_capped(&c.source).ok()?;
    let parsed = keys::parse_certificates(&bytes).ok()?;
    parsed.certs.into_iter().find(|x| {
        keys::hex_upper(pgp::types::KeyDetails::fingerprint(&x.primary_key).as_bytes())
            == c.fingerprint
    })
}

/// `pgpsendmail keys accept FPR...` and `keys reject FPR...`.
pub fn keys_review(
    env: &Env,
    accept: bool,
    fprs: &[String],
    out: &mut dyn Write,
) -> std::io::Result<i32> {
    let cfg = match super::view::config_or_report(env, out)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let store = Store::new(&cfg.discovery.dir);
    let mut code = 0;
    for given in fprs {
        let Some(fpr) = normalize_fingerprint(given) else {
            writeln!(out, "refused {}: not a fingerprint", sanitize(given))?;
            code = ExitCode::Usage.code();
            continue;
        };
        let done = if accept {
            store.accept(&fpr)
        } else {
            store.reject(&fpr)
        };
        match done {
            Ok(Some(prov)) => {
                let addrs: Vec<&str> = prov.found.iter().map(|f| f.address.as_str()).collect();
                let (verb, old) = if accept {
                    ("accepted", "replacing")
                } else {
                    ("rejected", "keeping")
                };
                writeln!(
                    out,
                    "{verb} {fpr} for {}, {old} {}",
                    sanitize(&addrs.join(", ")),
                    if prov.replaces.is_empty() {
                        "nothing".to_string()
                    } else {
                        prov.replaces.join(", ")
                    }
                )?;
            }
            Ok(None) => {
                writeln!(
                    out,
                    "no key change is held under {fpr} (pgpsendmail keys list shows those held)"
                )?;
                code = code.max(1);
            }
            Err(e) => {
                writeln!(
                    out,
                    "error: {}: {e}",
                    sanitize(&store.dir.display().to_string())
                )?;
                return Ok(ExitCode::IoErr.code());
            }
        }
    }
    Ok(code)
}
