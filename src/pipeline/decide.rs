//! Deciding every recipient before the body is read: its keys, or the refusal that stops
//! the message (exit 67, naming each refused recipient and why).

use std::time::SystemTime;

use crate::diag::{self, sanitize};
use crate::error::{Error, Result};
use crate::keys::Keyring;
use crate::keys::recipients::{self, Decision, Envelope};
use crate::message::address::Address;
use crate::syslog;

use super::context::Context;

/// How many refused recipients stderr names before it only counts the rest.
const SHOWN: usize = 10;

/// Loads the certificates the envelope needs and decides each recipient. A recipient left
/// without a usable key (and not allowed a `plaintext` copy) refuses the whole message.
pub fn decide(
    ctx: &Context,
    envelope: &Envelope,
    log: &mut syslog::Entry,
) -> Result<Vec<(Address, Decision)>> {
    let want = recipients::wanted(&envelope.recipients, ctx.cfg);
    let cache = crate::keys::index::cache_dir(&ctx.env.cache_places(ctx.cfg)).ok();
    let keyring = Keyring::load_config_for(ctx.cfg, cache.as_deref(), &want, ctx.env.now);
    for p in &keyring.problems {
        diag::say(format_args!("warning: keyring {p}"));
    }
    let decisions: Vec<(Address, Decision)> = envelope
        .recipients
        .iter()
        .map(|r| (r.clone(), recipients::decide(r, ctx.cfg, &keyring)))
        .collect();
    let refused: Vec<String> = decisions
        .iter()
        .filter_map(|(_, d)| match d {
            Decision::Refuse { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    if !refused.is_empty() {
        return Err(refused_all(&refused, log));
    }
    warn_expiring(&decisions, &keyring, ctx.cfg.warn_days, ctx.env.now);
    for (_, d) in &decisions {
        if let Decision::Encrypt { certs, .. } = d {
            for f in certs {
                if !log.keys.contains(f) {
                    log.keys.push(f.clone());
                }
            }
        }
    }
    Ok(decisions)
}

/// What the policy says of one recipient before any message is read (an SMTP face's RCPT):
/// `None` when it would be taken (a key, or a `plaintext` copy allowed), else the refusal's
/// reason and whether it may pass later (`true`: a key source could not be read, so the
/// refusal may be temporary). The message's own decision (`decide`) still follows.
pub fn refusal(ctx: &Context, rcpt: &Address) -> Option<(String, bool)> {
    let rcpts = std::slice::from_ref(rcpt);
    let want = recipients::wanted(rcpts, ctx.cfg);
    let cache = crate::keys::index::cache_dir(&ctx.env.cache_places(ctx.cfg)).ok();
    let keyring = Keyring::load_for(&ctx.cfg.keyring, cache.as_deref(), &want, ctx.env.now);
    match recipients::decide(rcpt, ctx.cfg, &keyring) {
        Decision::Refuse { reason } => Some((reason, !keyring.problems.is_empty())),
        _ => None,
    }
}

/// One readable line even for 10,000 refused recipients: the first few, then a count
/// (`pgpsendmail explain` lists every one); the mail log names every one, the rest in lines
/// of their own.
fn refused_all(refused: &[String], log: &syslog::Entry) -> Error {
    let mut text = refused[..refused.len().min(SHOWN)].join("; ");
    if refused.len() > SHOWN {
        text.push_str(&format!(
            "; and {} more (pgpsendmail explain lists them)",
            refused.len() - SHOWN
        ));
        for more in refused[SHOWN..].chunks(SHOWN) {
            log.refused_too(&more.join("; "));
        }
    }
    Error::NoKey(format!("no usable key, nothing sent: {text}"))
}

/// Warns (stderr and syslog) about every certificate used for this message that stops
/// being usable within `warn_days`: the mail still goes, but the next one may not.
fn warn_expiring(
    decisions: &[(Address, Decision)],
    keyring: &Keyring,
    warn_days: u32,
    now: SystemTime,
) {
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let horizon = now + u64::from(warn_days) * 86_400;
    for (rcpt, d) in decisions {
        let Decision::Encrypt { certs, .. } = d else {
            continue;
        };
        for fpr in certs {
            if let Some(exp) = keyring.by_fingerprint(fpr).and_then(|c| c.expires)
                && exp <= horizon
            {
                let text = format!(
                    "warning: the key for {} ({fpr}) expires on {}",
                    sanitize(rcpt.as_str()),
                    diag::format_date(exp)
                );
                diag::say(format_args!("{text}"));
                syslog::warn(&text);
            }
        }
    }
}
