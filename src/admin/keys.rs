//! `pgpsendmail keys list` and `keys import`.

use std::io::Write;
use std::path::{Path, PathBuf};

use pgp::types::KeyDetails;

use super::view::{CertView, held_lines, route_text};
use crate::Env;
use crate::config::Config;
use crate::diag::sanitize;
use crate::error::ExitCode;
use crate::keys::recipients::{self, Decision, Route};
use crate::keys::store::{make_key_dir, write_atomically};
use crate::keys::{self, Keyring, Unusable, gather};
use crate::message::address::Address;
use crate::message::canonical::LocalCase;

/// `pgpsendmail keys list [ADDRESS]`: every certificate, or those for one address.
pub fn keys_list(
    env: &Env,
    address: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<i32> {
    let cfg = match super::view::config_or_report(env, out)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let kr = Keyring::load_config(&cfg, env.now);
    // With an address: the certificates sending would use, found the same way (alias, local
    // names, "*", pinned and domain keys), and the unusable ones at the address looked up.
    let mut route_line = None;
    let mut why_none = None;
    let certs: Vec<CertView> = match address {
        None => kr.certs.iter().map(|c| CertView::of(c, &kr)).collect(),
        Some(a) => match Address::parse_single(a) {
            Err(e) => {
                why_none = Some(format!(
                    "no certificate for {}: not an address ({e})",
                    sanitize(a)
                ));
                Vec::new()
            }
            Ok(rcpt) => {
                let (fprs, line, why) = list_for(&rcpt, &cfg, &kr);
                route_line = line;
                why_none = why;
                kr.certs
                    .iter()
                    .filter(|c| fprs.contains(&c.fingerprint))
                    .map(|c| CertView::of(c, &kr))
                    .collect()
            }
        },
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &certs)?;
        writeln!(out)?;
    } else {
        if let Some(l) = &route_line {
            writeln!(out, "{l}")?;
        }
        for c in &certs {
            let state = match (&c.reason, &c.expires) {
                (Some(r), _) => format!("NOT USABLE: {r}"),
                (None, Some(d)) => format!("usable until {d}"),
                (None, None) => "usable".into(),
            };
            writeln!(out, "{} {state}", c.fingerprint)?;
            writeln!(out, "  addresses: {}", c.addresses.join(", "))?;
            writeln!(out, "  source: {} ({})", sanitize(&c.source), c.trust)?;
            for p in &c.provenance {
                writeln!(out, "  found by {}", p.line())?;
            }
            for n in &c.passed_over {
                writeln!(out, "  passed over: {n}")?;
            }
        }
        if certs.is_empty()
            && let Some(w) = &why_none
        {
            writeln!(out, "{w}")?;
        }
        let store = crate::discover::store::Store::new(&cfg.discovery.dir);
        let addr = address.and_then(|a| Address::parse_single(a).ok());
        for l in held_lines(
            &store,
            addr.map(|a| a.match_key(LocalCase::Ignore)).as_deref(),
        ) {
            writeln!(out, "{l}")?;
        }
        for p in &kr.problems {
            writeln!(out, "warning: keyring {p}")?;
        }
    }
    Ok(if certs.is_empty() { 1 } else { 0 })
}

/// For `keys list ADDRESS`: the fingerprints to show (those sending would use, and every
/// certificate at the address the keys are looked up under or pinned by its entry, usable or
/// not), a line saying how they were found, and why there is nothing when there is nothing.
fn list_for(
    rcpt: &Address,
    cfg: &Config,
    kr: &Keyring,
) -> (Vec<String>, Option<String>, Option<String>) {
    let res = recipients::resolve(rcpt, cfg, kr);
    let mut fprs: Vec<String> = match &res.decision {
        Decision::Encrypt { certs, .. } => certs.clone(),
        _ => Vec::new(),
    };
    let looked_up = match &res.route {
        Route::Untagged(u) => u.clone(),
        _ => res.lookup.clone(),
    };
    let pinned_by = match &res.route {
        Route::Pinned | Route::LocalPinned(_) => res.entries.first(),
        Route::DomainKey | Route::DomainAlways => res.entries.iter().find(|n| n.starts_with('@')),
        _ => None,
    };
    match pinned_by
        .and_then(|n| cfg.recipients.get(n))
        .and_then(|r| r.key.as_deref())
    {
        Some(fpr) => fprs.extend(kr.by_fingerprint(fpr).map(|c| c.fingerprint.clone())),
        None => fprs.extend(
            kr.by_email(&looked_up, cfg.local_part_case)
                .map(|c| c.fingerprint.clone()),
        ),
    }
    let shown = sanitize(rcpt.as_str());
    let mut line = format!(
        "{shown}: keys looked up as {} ({})",
        sanitize(res.lookup.as_str()),
        route_text(&res.route, rcpt, &res.lookup)
    );
    for c in kr.outranked(&looked_up, cfg.local_part_case) {
        line.push_str(&format!(
            "\nnot used: discovered certificate {} (a keyring source has a certificate for {})",
            c.fingerprint,
            sanitize(looked_up.as_str())
        ));
    }
    let local = rcpt.domain().is_none_or(|d| cfg.is_local_domain(d));
    let why = match &res.decision {
        Decision::Encrypt { .. } => None,
        _ if res.entries.is_empty() => Some(format!(
            "no certificate for {shown}; no [recipients] entry{}",
            if local {
                ", and no \"*\" entry for local names"
            } else {
                ""
            }
        )),
        Decision::Refuse { reason } | Decision::Plaintext { reason } => {
            let entries: Vec<String> = res
                .entries
                .iter()
                .map(|n| format!("\"{}\"", sanitize(n)))
                .collect();
            Some(format!(
                "no usable certificate for {reason} ([recipients] {})",
                entries.join(", ")
            ))
        }
    };
    (fprs, Some(line), why)
}

/// The key directory `keys import` writes to: the first `keyring` entry that is a directory
/// and not a GnuPG home; else the first entry, when it does not exist and is not named like
/// a key file (no `.asc`, `.kbx`, ... ending), which is then made.
fn key_dir(cfg: &Config) -> Option<(PathBuf, bool)> {
    if let Some(d) = cfg
        .keyring
        .iter()
        .find(|p| p.is_dir() && keys::gnupg_keyring(p).is_none())
    {
        return Some((d.clone(), false));
    }
    let first = cfg.keyring.first()?;
    let file_like = first.extension().is_some_and(|e| {
        let e = e.to_string_lossy().to_ascii_lowercase();
        keys::KEY_EXTENSIONS.contains(&e.as_str()) || e == "kbx"
    });
    (!file_like && std::fs::symlink_metadata(first).is_err()).then(|| (first.clone(), true))
}

/// `pgpsendmail keys import FILE...`: validates the certificates in each file and writes
/// each to the key directory (the first directory in `keyring` that is not a GnuPG home)
/// as `FINGERPRINT.asc`, merging new user IDs, subkeys and signatures (revocations above
/// all) into a certificate already there. A revocation certificate is applied to the
/// stored certificate it revokes. Exit 0, or 1 when something was refused.
pub fn keys_import(env: &Env, files: &[PathBuf], out: &mut dyn Write) -> std::io::Result<i32> {
    let cfg = match super::view::config_or_report(env, out)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let Some((dir, missing)) = key_dir(&cfg) else {
        writeln!(
            out,
            "error: no key directory in keyring (a GnuPG home or a file cannot be written to)"
        )?;
        return Ok(ExitCode::Config.code());
    };
    if missing {
        if let Err(e) = make_key_dir(&dir) {
            writeln!(out, "error: {}: {e}", sanitize(&dir.display().to_string()))?;
            return Ok(ExitCode::IoErr.code());
        }
        writeln!(
            out,
            "made the key directory {} (mode 0755)",
            sanitize(&dir.display().to_string())
        )?;
    }
    let dir = dir.as_path();
    let mut refused = 0;
    for file in files {
        let shown = sanitize(&file.display().to_string());
        let parsed = match keys::read_capped(file).and_then(|b| keys::parse_certificates(&b)) {
            Ok(p) => p,
            Err(why) => {
                writeln!(out, "refused {shown}: {why}")?;
                refused += 1;
                continue;
            }
        };
        for e in parsed.errors {
            writeln!(out, "refused {shown}: {e}")?;
            refused += 1;
        }
        for cert in parsed.certs {
            match import_cert(dir, cert, file, env, out)? {
                Imported::Done => {}
                Imported::Refused => refused += 1,
                Imported::Failed(code) => return Ok(code),
            }
        }
        for rev in parsed.revocations {
            match import_revocation(dir, &rev, &shown, env, out)? {
                Imported::Done => {}
                Imported::Refused => refused += 1,
                Imported::Failed(code) => return Ok(code),
            }
        }
    }
    Ok(if refused > 0 { 1 } else { 0 })
}

/// How one certificate or revocation of `keys import` went.
enum Imported {
    Done,
    Refused,
    /// Writing failed: stop with this exit code.
    Failed(i32),
}

/// The certificate stored as `dir/FINGERPRINT.asc`, if there is one.
fn stored_cert(dir: &Path, fpr: &str) -> Option<pgp::composed::SignedPublicKey> {
    let bytes = keys::read_capped(&dir.join(format!("{fpr}.asc"))).ok()?;
    keys::parse_certificates(&bytes)
        .ok()?
        .certs
        .into_iter()
        .find(|c| keys::hex_upper(c.primary_key.fingerprint().as_bytes()) == fpr)
}

fn import_cert(
    dir: &Path,
    cert: pgp::composed::SignedPublicKey,
    file: &Path,
    env: &Env,
    out: &mut dyn Write,
) -> std::io::Result<Imported> {
    let shown = sanitize(&file.display().to_string());
    let ev = keys::evaluate(&cert, file, env.now);
    if let Err(why @ (Unusable::NoValidSelfSignature | Unusable::Unsupported(_))) = &ev.usable {
        writeln!(out, "refused {} from {shown}: {why}", ev.fingerprint)?;
        return Ok(Imported::Refused);
    }
    let (to_write, verb) = match stored_cert(dir, &ev.fingerprint) {
        Some(mut s) => {
            let m = gather::merge(&mut s, &cert);
            if m.is_empty() {
                writeln!(out, "unchanged {}", ev.fingerprint)?;
                return Ok(Imported::Done);
            }
            (s, format!("updated {} ({m})", ev.fingerprint))
        }
        None => (cert, format!("added {}", ev.fingerprint)),
    };
    store(dir, &to_write, &verb, env, out)
}

/// Applies a revocation certificate to the stored certificate whose primary key made it.
fn import_revocation(
    dir: &Path,
    rev: &pgp::packet::Signature,
    shown: &str,
    env: &Env,
    out: &mut dyn Write,
) -> std::io::Result<Imported> {
    // The certificate it revokes, in whichever file of the key directory it is (put there
    // by `keys import` as FINGERPRINT.asc, or by hand under any name).
    let files = keys::source_files(dir).unwrap_or_default();
    let target = files
        .iter()
        .filter_map(|f| keys::read_capped(f).ok())
        .filter_map(|b| keys::parse_certificates(&b).ok())
        .flat_map(|p| p.certs)
        .find(|c| gather::issued_by(rev, &c.primary_key) && rev.verify_key(&c.primary_key).is_ok());
    let Some(cert) = target else {
        let issuer: Vec<String> = rev
            .issuer_fingerprint()
            .iter()
            .map(|f| keys::hex_upper(f.as_bytes()))
            .chain(
                rev.issuer_key_id()
                    .iter()
                    .map(|k| keys::hex_upper(k.as_ref())),
            )
            .collect();
        writeln!(
            out,
            "refused {shown}: a revocation certificate for {}, but no certificate in {} that \
             it revokes (import the certificate first)",
            if issuer.is_empty() {
                "an unnamed key".to_string()
            } else {
                issuer.join(", ")
            },
            sanitize(&dir.display().to_string())
        )?;
        return Ok(Imported::Refused);
    };
    let fpr = keys::hex_upper(cert.primary_key.fingerprint().as_bytes());
    let mut cert = match stored_cert(dir, &fpr) {
        Some(mut s) => {
            gather::merge(&mut s, &cert);
            s
        }
        None => cert,
    };
    gather::attach(&mut cert, rev);
    store(dir, &cert, &format!("revoked {fpr}"), env, out)
}

/// Writes `cert` as `dir/FINGERPRINT.asc` and says what it is now.
fn store(
    dir: &Path,
    cert: &pgp::composed::SignedPublicKey,
    verb: &str,
    env: &Env,
    out: &mut dyn Write,
) -> std::io::Result<Imported> {
    let fpr = keys::hex_upper(cert.primary_key.fingerprint().as_bytes());
    let target = dir.join(format!("{fpr}.asc"));
    let armored = match cert.to_armored_string(pgp::composed::ArmorOptions::default()) {
        Ok(a) => a,
        Err(e) => {
            writeln!(out, "refused {fpr}: cannot serialize: {e}")?;
            return Ok(Imported::Refused);
        }
    };
    if let Err(e) = write_atomically(&target, &armored) {
        writeln!(
            out,
            "error: {}: {e}",
            sanitize(&target.display().to_string())
        )?;
        return Ok(Imported::Failed(ExitCode::IoErr.code()));
    }
    let now_state = keys::evaluate(cert, &target, env.now);
    let state = match &now_state.usable {
        Ok(_) => "usable".to_string(),
        Err(why) => format!("not usable: {why}"),
    };
    writeln!(
        out,
        "{verb}: {} -> {} ({state})",
        now_state.emails.join(", "),
        sanitize(&target.display().to_string())
    )?;
    Ok(Imported::Done)
}
