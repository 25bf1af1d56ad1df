//! The real MTA's size limit and encryption's growth (pgpsendmail(8), SIZE): how large a
//! message may be before encryption so that the real MTA still takes it once encrypted.
//! `check` warns with it; the SMTP faces advertise it as SIZE.

use std::path::Path;

use crate::config::{Config, Flavor};

/// How much larger a message is after encryption, in percent: the armor's base64 (4/3) with
/// its line ends (65/64), times the CRLF form inside the encryption (78/77 for base64 lines
/// of 76 characters); measured 1.372 on a base64 attachment (pgpsendmail(8), SIZE).
pub const GROWTH_PERCENT: u64 = 137;
/// What encryption adds whatever the size (outer header, MIME parts, armor lines, PKESKs),
/// rounded up.
pub const OVERHEAD: u64 = 16 * 1024;
/// Postfix's default `message_size_limit`.
pub const POSTFIX_DEFAULT_LIMIT: u64 = 10_240_000;

/// The largest message, before encryption, that still fits `limit` once encrypted.
pub fn largest_before_encryption(limit: u64) -> u64 {
    limit.saturating_sub(OVERHEAD) * 100 / GROWTH_PERCENT
}

/// The smallest limit that lets a message of `size` bytes through once encrypted.
pub fn limit_for(size: u64) -> u64 {
    size * GROWTH_PERCENT / 100 + OVERHEAD
}

/// Postfix's `message_size_limit` (bytes; `None`: unlimited, or unknown), from `postconf
/// -hx message_size_limit` ([`super::postconf::value`]).
pub fn postfix_size_limit(program: &Path, root: Option<&Path>) -> Option<u64> {
    let limit: u64 = super::postconf::value(program, root, "message_size_limit")?
        .parse()
        .ok()?;
    (limit > 0).then_some(limit)
}

/// The largest message an SMTP face takes (before encryption), as SIZE advertises it:
/// `size_limit` of `[smtp]` (0: none), else what fits Postfix's `message_size_limit` once
/// encrypted (found by [`postfix_size_limit`]; a Postfix without postconf: its default),
/// else none.
pub fn smtp_limit(
    cfg: &Config,
    program: &Path,
    flavor: Flavor,
    root: Option<&Path>,
) -> Option<u64> {
    match cfg.smtp.size_limit {
        Some(0) => None,
        Some(n) => Some(n),
        None if flavor == Flavor::Postfix => Some(largest_before_encryption(
            postfix_size_limit(program, root).unwrap_or(POSTFIX_DEFAULT_LIMIT),
        )),
        None => None,
    }
}
