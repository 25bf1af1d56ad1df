//! `pgpsendmail check`: the configuration, the real sendmail, every keyring source, the
//! recipients table, local users, permissions for other senders and Postfix's size limit.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::view::{flavor_name, held_lines, unix_now};
use crate::config::{Config, Flavor};
use crate::diag::format_date;
use crate::diag::sanitize;
use crate::discover::store::Store;
use crate::error::ExitCode;
use crate::keys::recipients::{self, Decision};
use crate::keys::{self, Keyring};
use crate::message::address::Address;
use crate::message::canonical::{self, LocalCase};
use crate::sendmail::deliver;
use crate::sendmail::size::{
    GROWTH_PERCENT, POSTFIX_DEFAULT_LIMIT, largest_before_encryption, limit_for, postfix_size_limit,
};
use crate::{Env, config};

/// What one step of `check` found, beyond the lines it wrote; the steps' findings are added
/// up in [`check`] alone.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Found {
    errors: u32,
    warnings: u32,
}

impl Found {
    /// Nothing wrong.
    const NONE: Found = Found {
        errors: 0,
        warnings: 0,
    };
    /// One error.
    const ERROR: Found = Found {
        errors: 1,
        warnings: 0,
    };

    fn warnings(n: usize) -> Found {
        Found {
            errors: 0,
            warnings: u32::try_from(n).unwrap_or(u32::MAX),
        }
    }
}

impl std::ops::AddAssign for Found {
    fn add_assign(&mut self, other: Found) {
        self.errors += other.errors;
        self.warnings += other.warnings;
    }
}

/// `pgpsendmail check`: the configuration, the real sendmail and every keyring source.
pub fn check(env: &Env, warn_days: Option<u32>, out: &mut dyn Write) -> std::io::Result<i32> {
    let cfg = match super::view::config_or_report(env, out)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let warn_days = warn_days.unwrap_or(cfg.warn_days);
    let mut found = configuration(&cfg, out)?;
    let (step, real) = real_sendmail(&cfg, env, out)?;
    found += step;
    found += size(real.as_ref(), env, out)?;
    found += utf8_addresses(real.as_ref(), env, out)?;
    let kr = Keyring::load_config(&cfg, env.now);
    found += keyring_problems(&kr, out)?;
    found += cache(&cfg, env, &kr, out)?;
    found += readable_by_senders(&cfg, env, out)?;
    found += signing_key(&cfg, env, warn_days, out)?;
    found += certificates(&kr, cfg.local_part_case, unix_now(env), warn_days, out)?;
    found += held_for_review(&cfg, out)?;
    let (step, routed) = recipients_table(&cfg, &kr, out)?;
    found += step;
    found += unrouted_local_users(&cfg, env, out)?;
    found += sendable(&cfg, &kr, routed, out)?;
    found += handoff_smtp(&cfg, out)?;
    found += serve(&cfg.serve, out)?;
    summary(found, out)
}

/// `handoff_smtp`, when set: whether the MTA's listener takes connections now (when it does
/// not, batched copies go to `sendmail -bs`, which works, hence a warning).
fn handoff_smtp(cfg: &Config, out: &mut dyn Write) -> std::io::Result<Found> {
    let Some(addr) = &cfg.handoff_smtp else {
        return Ok(Found::NONE);
    };
    let shown = sanitize(addr);
    match crate::smtp::client::connect(addr, RELAY_CONNECT) {
        Ok(_) => {
            writeln!(
                out,
                "handoff_smtp: batched copies go to {shown}, which takes connections"
            )?;
            Ok(Found::NONE)
        }
        Err(e) => {
            writeln!(
                out,
                "warning: handoff_smtp: {shown} is not reachable now ({}): batched copies go \
                 to sendmail -bs until it is",
                sanitize(&e.to_string())
            )?;
            Ok(Found::warnings(1))
        }
    }
}

/// A warning for each key change `keys fetch` or `keys refresh` held for review: until it
/// is accepted, mail to that address goes on with the known key.
fn held_for_review(cfg: &Config, out: &mut dyn Write) -> std::io::Result<Found> {
    let lines = held_lines(&Store::new(&cfg.discovery.dir), None);
    for l in &lines {
        writeln!(out, "warning: {l}")?;
    }
    Ok(Found::warnings(lines.len()))
}

/// How long `check` waits for the gateway's next hop to take a connection.
const RELAY_CONNECT: std::time::Duration = std::time::Duration::from_secs(5);

/// `[serve]`, when the file has one (pgpsendmail(8), SERVE): where the gateway listens (the
/// configuration took loopback and unix sockets only), a warning for a unix socket whose
/// directory is missing, for a next hop that takes no connection now (mail is then answered
/// 451 until it does), and for timeouts under RFC 5321 4.5.3.2's minimums.
fn serve(s: &config::Serve, out: &mut dyn Write) -> std::io::Result<Found> {
    if !s.configured {
        return Ok(Found::NONE);
    }
    let listen: Vec<String> = s.listen.iter().map(|l| sanitize(&l.to_string())).collect();
    writeln!(
        out,
        "serve: listens on {}, at most {} sessions, {} recipients a message",
        listen.join(", "),
        s.max_sessions,
        s.max_recipients
    )?;
    let mut warnings = Vec::new();
    for l in &s.listen {
        if let config::Listen::Unix(p) = l
            && !p.parent().is_some_and(Path::is_dir)
        {
            warnings.push(format!(
                "serve: listen {}: its directory does not exist",
                sanitize(&l.to_string())
            ));
        }
    }
    let relay = sanitize(&s.relay);
    match crate::smtp::client::connect(&s.relay, RELAY_CONNECT) {
        Ok(_) => writeln!(out, "serve: relay {relay} takes connections")?,
        Err(e) => warnings.push(format!(
            "serve: relay {relay} is not reachable now ({}): mail is answered 451 until it is",
            sanitize(&e.to_string())
        )),
    }
    for (key, value, least) in [
        ("command_timeout", s.command_timeout, 300),
        ("data_timeout", s.data_timeout, 180),
    ] {
        if value < least {
            warnings.push(format!(
                "serve: {key} = {value}: under RFC 5321's {least} seconds, slow clients are cut off"
            ));
        }
    }
    for w in &warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(Found::warnings(warnings.len()))
}

/// The configuration's line (it was loaded, or `check` has ended already).
fn configuration(cfg: &Config, out: &mut dyn Write) -> std::io::Result<Found> {
    match &cfg.path {
        Some(p) => writeln!(out, "configuration: {} (valid)", p.display())?,
        None => writeln!(
            out,
            "configuration: {} not found, using defaults",
            config::DEFAULT_PATH
        )?,
    }
    Ok(Found::NONE)
}

/// The real sendmail, its flavor and the rule that found it; an error when there is none.
fn real_sendmail(
    cfg: &Config,
    env: &Env,
    out: &mut dyn Write,
) -> std::io::Result<(Found, Option<(PathBuf, Flavor)>)> {
    match deliver::find_real_sendmail(cfg, env) {
        Ok((p, rule)) => {
            let recognized = Flavor::recognize(&p, env.root.as_deref());
            let (flavor, how) = match cfg.flavor {
                Some(f) => (f, "configured"),
                None => (recognized.unwrap_or_default(), "inferred"),
            };
            writeln!(
                out,
                "real sendmail: {} ({}) (flavor {}, {how})",
                sanitize(&p.display().to_string()),
                rule.describe(&p),
                flavor_name(flavor)
            )?;
            let Some(seen) = recognized.filter(|&r| r != flavor) else {
                return Ok((Found::NONE, Some((p, flavor))));
            };
            // Configured, and the program looks like another MTA's: the setting may date
            // from an MTA that has since been replaced.
            writeln!(
                out,
                "warning: flavor {} is configured, but the real sendmail looks like {}'s \
                 (pgpsendmail(8), THE REAL SENDMAIL); was the MTA replaced?",
                flavor_name(flavor),
                flavor_name(seen)
            )?;
            Ok((Found::warnings(1), Some((p, flavor))))
        }
        Err(e) => {
            writeln!(out, "error: {e}")?;
            Ok((Found::ERROR, None))
        }
    }
}

/// Postfix's size limit against the growth by encryption (for a Postfix whose limit is known).
fn size(
    real: Option<&(PathBuf, Flavor)>,
    env: &Env,
    out: &mut dyn Write,
) -> std::io::Result<Found> {
    match real {
        Some((p, Flavor::Postfix)) => match postfix_size_limit(p, env.root.as_deref()) {
            Some(limit) => size_limit(limit, out),
            None => Ok(Found::NONE),
        },
        _ => Ok(Found::NONE),
    }
}

/// A warning when the real MTA is known not to carry UTF-8 addresses (Postfix's
/// `smtputf8_enable = no`): a message to or from one is refused (pgpsendmail(8), RECIPIENTS).
fn utf8_addresses(
    real: Option<&(PathBuf, Flavor)>,
    env: &Env,
    out: &mut dyn Write,
) -> std::io::Result<Found> {
    let Some((p, flavor)) = real else {
        return Ok(Found::NONE);
    };
    if !deliver::refuses_utf8_addresses(p, *flavor, env) {
        return Ok(Found::NONE);
    }
    writeln!(
        out,
        "warning: Postfix cannot carry UTF-8 addresses (smtputf8_enable = no): a message \
         with one in its envelope is refused (exit 65); to send it, set smtputf8_enable = yes \
         (postconf -e)"
    )?;
    Ok(Found::warnings(1))
}

/// The cache directory a message would use, made as a message would make it; a warning with
/// the cost when none can be made (every message then parses every certificate).
fn cache(cfg: &Config, env: &Env, kr: &Keyring, out: &mut dyn Write) -> std::io::Result<Found> {
    match keys::index::cache_dir(&env.cache_places(cfg)) {
        Ok(_) => Ok(Found::NONE),
        Err(tried) => {
            let at: Vec<String> = tried
                .iter()
                .map(|p| sanitize(&p.display().to_string()))
                .collect();
            writeln!(
                out,
                "warning: every message parses {} certificates: no cache directory could be made at {}",
                kr.certs.len(),
                at.join(" or ")
            )?;
            Ok(Found::warnings(1))
        }
    }
}

/// A warning for every keyring source that could not be read.
fn keyring_problems(kr: &Keyring, out: &mut dyn Write) -> std::io::Result<Found> {
    for p in &kr.problems {
        writeln!(out, "warning: keyring {p}")?;
    }
    Ok(Found::warnings(kr.problems.len()))
}

/// The certificates: how many are usable; a warning for each that is not, or expires within
/// `warn_days` of `now`; notes on keys passed over and on addresses with several.
fn certificates(
    kr: &Keyring,
    case: LocalCase,
    now: u64,
    warn_days: u32,
    out: &mut dyn Write,
) -> std::io::Result<Found> {
    let usable = kr.certs.iter().filter(|c| c.usable.is_ok()).count();
    writeln!(
        out,
        "certificates: {} loaded, {usable} usable for encryption",
        kr.certs.len()
    )?;
    let horizon = now + u64::from(warn_days) * 86_400;
    let mut warnings = 0;
    for c in &kr.certs {
        let src = sanitize(&c.source.display().to_string());
        match (&c.usable, c.expires) {
            (Err(why), _) => {
                writeln!(
                    out,
                    "warning: certificate {} ({src}) is not usable: {why}",
                    c.fingerprint
                )?;
                warnings += 1;
            }
            (Ok(_), Some(exp)) if exp <= horizon => {
                writeln!(
                    out,
                    "warning: certificate {} ({src}) for {} expires on {} (within {warn_days} days)",
                    c.fingerprint,
                    c.emails.join(", "),
                    format_date(exp)
                )?;
                warnings += 1;
            }
            _ => {}
        }
        if c.usable.is_ok() {
            for n in &c.notes {
                writeln!(
                    out,
                    "note: certificate {} ({src}) is used, but not its {}",
                    c.fingerprint,
                    sanitize(n)
                )?;
            }
        }
    }
    shared_addresses(kr, case, out)?;
    Ok(Found::warnings(warnings))
}

/// Several usable certificates for one address (its spellings matched as sending matches
/// them, `case` for the local part): all are used (pgpsendmail(8), KEYS); a note says so.
fn shared_addresses(kr: &Keyring, case: LocalCase, out: &mut dyn Write) -> std::io::Result<()> {
    let mut by_addr: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for c in kr.certs.iter().filter(|c| c.usable.is_ok()) {
        for e in &c.emails {
            by_addr
                .entry(canonical::key(e, case))
                .or_default()
                .push(&c.fingerprint);
        }
    }
    for (addr, fprs) in by_addr.iter().filter(|(_, f)| f.len() > 1) {
        let mut fprs = fprs.clone();
        fprs.dedup();
        if fprs.len() > 1 {
            writeln!(
                out,
                "note: {} has {} usable certificates; messages are encrypted to all of them: {}",
                sanitize(addr),
                fprs.len(),
                fprs.join(", ")
            )?;
        }
    }
    Ok(())
}

/// Every [recipients] entry must lead to a usable key (an "@domain" entry without key has
/// nothing to resolve): a warning for each that does not. Also returns whether some entry
/// lets mail go (it resolves to a key, or says `missing_key = "plaintext"`).
fn recipients_table(
    cfg: &Config,
    kr: &Keyring,
    out: &mut dyn Write,
) -> std::io::Result<(Found, bool)> {
    let mut sendable = false;
    let mut warnings = 0;
    for (name, rule) in &cfg.recipients {
        let probe = if let Some(domain) = name.strip_prefix('@') {
            if rule.key.is_none() {
                sendable |= rule.missing_key == Some(config::MissingKey::Plaintext);
                continue;
            }
            Address::parse_single(&format!("nobody-{}@{domain}", std::process::id()))
        } else {
            Address::parse_single(name)
        };
        let Ok(probe) = probe else { continue };
        let res = recipients::resolve(&probe, cfg, kr);
        sendable |= !matches!(res.decision, Decision::Refuse { .. });
        if let Decision::Refuse { reason } | Decision::Plaintext { reason } = res.decision {
            let why = reason.split_once(": ").map_or(reason.as_str(), |(_, w)| w);
            writeln!(
                out,
                "warning: [recipients] \"{}\" resolves to no usable key: {why}",
                sanitize(name)
            )?;
            warnings += 1;
        }
    }
    Ok((Found::warnings(warnings), sendable))
}

/// Local users whose mail (cron, at, mail to the bare name) no entry routes: one warning
/// naming them (none when there is a `"*"` entry).
fn unrouted_local_users(cfg: &Config, env: &Env, out: &mut dyn Write) -> std::io::Result<Found> {
    if cfg.recipients.contains_key("*") {
        return Ok(Found::NONE);
    }
    let db = env.passwd.clone().unwrap_or_else(|| PathBuf::from(PASSWD));
    match read_passwd(&db) {
        Ok(text) => {
            let unrouted: Vec<String> = local_users(&text)
                .into_iter()
                .filter(|u| {
                    let key = canonical::key(u, cfg.local_part_case);
                    !cfg.recipients.contains_key(&key)
                })
                .map(|u| sanitize(&u))
                .collect();
            if unrouted.is_empty() {
                return Ok(Found::NONE);
            }
            writeln!(
                out,
                "warning: local users whose mail would be refused (no [recipients] \
                 entry, and no \"*\" entry): {}",
                unrouted.join(", ")
            )?;
            Ok(Found::warnings(1))
        }
        Err(e) => {
            writeln!(
                out,
                "note: cannot read the password database {}: {e}",
                sanitize(&db.display().to_string())
            )?;
            Ok(Found::NONE)
        }
    }
}

/// Whether any mail at all could go: to an address of a usable certificate, through an
/// entry that resolves to a key (`routed`), or unencrypted where missing_key = "plaintext"
/// says so. An error when none could.
fn sendable(
    cfg: &Config,
    kr: &Keyring,
    routed: bool,
    out: &mut dyn Write,
) -> std::io::Result<Found> {
    let sendable = routed
        || cfg.missing_key == config::MissingKey::Plaintext
        || kr
            .certs
            .iter()
            .any(|c| c.usable.is_ok() && !c.emails.is_empty());
    if sendable {
        return Ok(Found::NONE);
    }
    let why = if kr.certs.iter().any(|c| c.usable.is_ok()) {
        "no usable certificate names an address, and no [recipients] entry resolves to one"
    } else {
        "no usable certificate in the keyring"
    };
    writeln!(
        out,
        "error: {why}: every recipient would be refused (exit 67), no mail can be sent"
    )?;
    Ok(Found::ERROR)
}

/// `sign_key` (pgpsendmail.toml(5)): the key file reads, parses, holds a secret key that can
/// sign (not expired, not revoked, no passphrase), is root's and closed to everyone else. An
/// error for what makes the signature unmade or worthless (a key others can read lets
/// them sign as this host); a warning for another owner and an early expiry. Run as a user
/// who cannot read it, a note on what `sign_unreadable` does to that user's mail.
fn signing_key(
    cfg: &Config,
    env: &Env,
    warn_days: u32,
    out: &mut dyn Write,
) -> std::io::Result<Found> {
    use crate::openpgp::sign::{HostKey, LoadError};
    use std::os::unix::fs::MetadataExt;
    let Some(path) = cfg.sign_key.as_deref() else {
        return Ok(Found::NONE);
    };
    let shown = sanitize(&path.display().to_string());
    let mut found = Found::NONE;
    match HostKey::load(path, env.now) {
        Ok(k) => {
            let until = k.expires.map_or("does not expire".to_string(), |e| {
                format!("expires {}", format_date(e))
            });
            writeln!(
                out,
                "sign_key: {shown}: signing key {} of {} ({until})",
                k.fingerprint, k.primary
            )?;
            if let Some(e) = k.expires
                && e < unix_now(env) + u64::from(warn_days) * 86_400
            {
                writeln!(
                    out,
                    "warning: sign_key {shown}: the signing key expires within {warn_days} days"
                )?;
                found += Found::warnings(1);
            }
        }
        Err(LoadError::Unreadable(why)) if crate::sys::euid() != 0 => {
            let what = match cfg.sign_unreadable {
                config::SignUnreadable::Unsigned => "sent unsigned",
                config::SignUnreadable::Refuse => "refused (exit 78)",
            };
            writeln!(
                out,
                "note: sign_key {shown}: cannot read as this user ({}); mail sent as this user is {what} (sign_unreadable)",
                sanitize(&why)
            )?;
            return Ok(found);
        }
        Err(LoadError::Unreadable(why) | LoadError::Bad(why)) => {
            writeln!(out, "error: sign_key {shown}: {}", sanitize(&why))?;
            found += Found::ERROR;
        }
    }
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            writeln!(
                out,
                "error: sign_key {shown}: mode {mode:04o}: others can read or change the host's secret key; make it 0600"
            )?;
            found += Found::ERROR;
        }
        if meta.uid() != 0 {
            writeln!(
                out,
                "warning: sign_key {shown}: owned by uid {}, not root",
                meta.uid()
            )?;
            found += Found::warnings(1);
        }
    }
    Ok(found)
}

/// The last line, and the exit status: 78 with errors, 1 with warnings only, else 0.
fn summary(found: Found, out: &mut dyn Write) -> std::io::Result<i32> {
    let Found { errors, warnings } = found;
    Ok(if errors > 0 {
        writeln!(out, "{errors} error(s), {warnings} warning(s)")?;
        ExitCode::Config.code()
    } else if warnings > 0 {
        writeln!(out, "{warnings} warning(s)")?;
        1
    } else {
        writeln!(out, "all well")?;
        0
    })
}

/// The password database `check` reads (`PGPSENDMAIL_PASSWD` names another).
const PASSWD: &str = "/etc/passwd";
/// Largest password database read.
const MAX_PASSWD_BYTES: u64 = 16 << 20;

fn read_passwd(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_PASSWD_BYTES)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// The users of a password database (passwd(5) lines) whose mail is sent: root (uid 0),
/// every regular user (uid 1000 to 59999, whatever its shell) and every other user with a
/// login shell (not empty, not nologin, false, sync, shutdown or halt); not nobody. In the
/// order of the file, each once; names that are not local names are skipped.
pub fn local_users(passwd: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[0].is_empty() || f[0].starts_with(['+', '-', '#']) {
            continue;
        }
        let Ok(uid) = f[2].parse::<u32>() else {
            continue;
        };
        let shell = f[6].trim();
        let login_shell = !shell.is_empty()
            && !matches!(
                shell.rsplit('/').next(),
                Some("nologin" | "false" | "sync" | "shutdown" | "halt")
            );
        let counts = uid == 0 || (1000..60000).contains(&uid) || (login_shell && uid != 65534);
        let name = f[0].to_string();
        if counts
            && Address::parse_single(&name).is_ok_and(|a| a.domain().is_none())
            && !out.contains(&name)
        {
            out.push(name);
        }
    }
    out
}

/// `check`'s line about Postfix's size limit: a warning when a message that a default
/// Postfix accepts would be refused once encrypted, else a note. Returns the warnings.
fn size_limit(limit: u64, out: &mut dyn Write) -> std::io::Result<Found> {
    let n = largest_before_encryption(limit);
    let growth = format!("{}.{:02}", GROWTH_PERCENT / 100, GROWTH_PERCENT % 100);
    let fact = format!(
        "a message over {n} bytes before encryption will be refused by Postfix \
         (message_size_limit = {limit}): encryption makes it about {growth} times larger"
    );
    let needed = limit_for(POSTFIX_DEFAULT_LIMIT);
    if limit < needed {
        writeln!(
            out,
            "warning: {fact}; to pass what a default Postfix passes, set \
             message_size_limit = {needed} or more (postconf -e)"
        )?;
        Ok(Found::warnings(1))
    } else {
        writeln!(out, "note: {fact}")?;
        Ok(Found::NONE)
    }
}

/// What users other than the owner need on a path: read a file, list a directory (read and
/// search), or only pass through a directory (search).
#[derive(Clone, Copy, PartialEq)]
enum Need {
    Read,
    List,
    Search,
}

/// Why a user other than root and the owner could not use `path` as `need` says, or `None`.
/// Only the "other" permission bits count, of `path` and of every directory on the way to
/// it (as given and after following symbolic links): sudo, at and user crontabs send mail
/// as arbitrary users, who are in no particular group. A path that does not exist is
/// reported elsewhere, not here.
fn closed_to_others(path: &Path, need: Need) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.permissions().mode() & 0o7777;
    let wanted = match need {
        Need::Read => 0o004,
        Need::List => 0o005,
        Need::Search => 0o001,
    };
    if mode & wanted != wanted {
        let what = match need {
            Need::Read => "no read permission for others",
            Need::List => "no read and search permission for others",
            Need::Search => "no search permission for others",
        };
        return Some(format!("mode {mode:04o}: {what}"));
    }
    let mut ways = vec![path.to_path_buf()];
    if let Ok(real) = std::fs::canonicalize(path)
        && real != path
    {
        ways.push(real);
    }
    for way in &ways {
        for dir in way
            .ancestors()
            .skip(1)
            .filter(|d| !d.as_os_str().is_empty())
        {
            let Ok(m) = std::fs::metadata(dir) else {
                continue;
            };
            let mode = m.permissions().mode() & 0o7777;
            if mode & 0o001 == 0 {
                return Some(format!(
                    "directory {} on the way has mode {mode:04o}: no search permission for others",
                    sanitize(&dir.display().to_string())
                ));
            }
        }
    }
    None
}

/// `check`'s warnings about what a sender other than root could not read: the
/// configuration, every key source and key file, the cache directory.
fn readable_by_senders(cfg: &Config, env: &Env, out: &mut dyn Write) -> std::io::Result<Found> {
    const WHO: &str = "mail sent as other users (sudo, at, user crontabs)";
    let mut found: Vec<(PathBuf, String, String)> = Vec::new();
    if let Some(p) = &cfg.path
        && let Some(why) = closed_to_others(p, Need::Read)
    {
        found.push((
            p.clone(),
            why,
            format!("the configuration cannot be read: {WHO} is refused (exit 78)"),
        ));
    }
    let key_harm = format!("its certificates cannot be read: {WHO} to their owners is refused");
    for src in &cfg.keyring {
        let is_dir = src.is_dir();
        let need = match (is_dir, is_dir && keys::gnupg_keyring(src).is_some()) {
            (false, _) => Need::Read,
            (true, true) => Need::Search,
            (true, false) => Need::List,
        };
        if let Some(why) = closed_to_others(src, need) {
            found.push((src.clone(), why, key_harm.clone()));
            continue;
        }
        if is_dir && let Ok(files) = keys::source_files(src) {
            for f in files {
                if let Some(why) = closed_to_others(&f, Need::Read) {
                    found.push((f, why, key_harm.clone()));
                }
            }
        }
    }
    let cache_dir = cfg.cache_dir.as_ref().unwrap_or(&env.cache_default);
    if cache_dir.is_dir()
        && let Some(why) = closed_to_others(cache_dir, Need::Search)
    {
        found.push((
            cache_dir.clone(),
            why,
            format!("the key index cannot be used by {WHO} (every key file is read instead)"),
        ));
    }
    for (path, why, harm) in &found {
        writeln!(
            out,
            "warning: {} is not readable by other users ({why}); {harm}",
            sanitize(&path.display().to_string())
        )?;
    }
    Ok(Found::warnings(found.len()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_users_are_root_regular_users_and_login_shells() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
sync:x:4:65534:sync:/bin:/bin/sync\n\
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
postgres:x:110:117::/var/lib/postgresql:/bin/bash\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n\
ncuser:x:1000:1000::/home/ncuser:/bin/bash\n\
svc:x:1001:1001::/srv:/usr/sbin/nologin\n\
bad user:x:1002:1002::/:/bin/sh\n\
broken:x:notanumber:1::/:/bin/sh\n\
short:x:1003\n\
+nisuser::::::\n\
high:x:65000:65000::/:/usr/sbin/nologin\n\
ncuser:x:1000:1000::/home/ncuser:/bin/bash\n";
        assert_eq!(
            super::local_users(passwd),
            ["root", "postgres", "ncuser", "svc"]
        );
    }
}
