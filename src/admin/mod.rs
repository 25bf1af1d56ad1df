//! The admin commands behind `pgpsendmail check`, `explain` and `keys list`: they read the
//! same configuration and keys as the sendmail face and say what it would do, without
//! sending anything. main.rs parses their arguments (clap) and calls these.
//!
//! Output goes to the writer given (stdout in main); exit codes: `check` 0 (all well) / 1
//! (warnings: some mail may fail) / 78 (errors: no mail can be sent at all: a broken
//! configuration, no real sendmail, no usable key for anything), for cron and monitoring; `explain` the status sending would end with;
//! `keys list` 0, or 1 when nothing matches.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use pgp::types::KeyDetails;
use serde::Serialize;

use crate::config::{Config, Flavor};
use crate::diag::sanitize;
use crate::error::{Error, ExitCode};
use crate::keys::gather;
use crate::keys::recipients::{self, Decision, Route};
use crate::keys::{self, Cert, EncryptionKey, Keyring, Unusable, format_date};
use crate::message::Input;
use crate::message::address::Address;
use crate::message::pgpmime::{Child, Payload};
use crate::message::protected;
use crate::sendmail::args;
use crate::sendmail::deliver;
use crate::{Env, config};

fn unix_now(env: &Env) -> u64 {
    env.now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn flavor_name(f: Flavor) -> String {
    f.name().to_string()
}

/// `pgpsendmail check`: the configuration, the real sendmail and every keyring source.
pub fn check(env: &Env, warn_days: Option<u32>, out: &mut dyn Write) -> std::io::Result<i32> {
    let cfg = match Config::load(env.config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            writeln!(out, "error: {e}")?;
            return Ok(ExitCode::Config.code());
        }
    };
    let warn_days = warn_days.unwrap_or(cfg.warn_days);
    let (mut errors, mut warnings) = (0u32, 0u32);
    match &cfg.path {
        Some(p) => writeln!(out, "configuration: {} (valid)", p.display())?,
        None => writeln!(
            out,
            "configuration: {} not found, using defaults",
            config::DEFAULT_PATH
        )?,
    }
    let mut real = None;
    match deliver::find_real_sendmail(&cfg, env) {
        Ok((p, rule)) => {
            let (flavor, how) = match cfg.flavor {
                Some(f) => (f, "configured"),
                None => (Flavor::infer(&p), "inferred"),
            };
            writeln!(
                out,
                "real sendmail: {} ({}) (flavor {}, {how})",
                sanitize(&p.display().to_string()),
                rule.describe(&p),
                flavor_name(flavor)
            )?;
            real = Some((p, flavor));
        }
        Err(e) => {
            writeln!(out, "error: {e}")?;
            errors += 1;
        }
    }
    if let Some((p, Flavor::Postfix)) = &real
        && let Some(limit) = postfix_size_limit(p, env)
    {
        warnings += size_limit(limit, out)?;
    }
    let kr = Keyring::load(&cfg.keyring, env.now);
    for p in &kr.problems {
        writeln!(out, "warning: keyring {p}")?;
        warnings += 1;
    }
    warnings += readable_by_senders(&cfg, out)?;
    let usable = kr.certs.iter().filter(|c| c.usable.is_ok()).count();
    writeln!(
        out,
        "certificates: {} loaded, {usable} usable for encryption",
        kr.certs.len()
    )?;
    let horizon = unix_now(env) + u64::from(warn_days) * 86_400;
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
    // Several usable certificates for one address: all are used (keys.md); say so.
    let mut by_addr: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in kr.certs.iter().filter(|c| c.usable.is_ok()) {
        for e in &c.emails {
            by_addr.entry(e).or_default().push(&c.fingerprint);
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
    // Every [recipients] entry must lead to a usable key (an "@domain" entry without key
    // has nothing to resolve).
    // Whether any mail at all could go: to an address of a usable certificate, through an
    // entry that resolves to a key, or unencrypted where missing_key = "plaintext" says so.
    let mut sendable = cfg.missing_key == config::MissingKey::Plaintext
        || kr
            .certs
            .iter()
            .any(|c| c.usable.is_ok() && !c.emails.is_empty());
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
        let res = recipients::resolve(&probe, &cfg, &kr);
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
    // Local users whose mail (cron, at, mail to the bare name) no entry routes.
    if !cfg.recipients.contains_key("*") {
        let db = env.passwd.clone().unwrap_or_else(|| PathBuf::from(PASSWD));
        match read_passwd(&db) {
            Ok(text) => {
                let unrouted: Vec<String> = local_users(&text)
                    .into_iter()
                    .filter(|u| !cfg.recipients.contains_key(&u.to_ascii_lowercase()))
                    .map(|u| sanitize(&u))
                    .collect();
                if !unrouted.is_empty() {
                    writeln!(
                        out,
                        "warning: local users whose mail would be refused (no [recipients] \
                         entry, and no \"*\" entry): {}",
                        unrouted.join(", ")
                    )?;
                    warnings += 1;
                }
            }
            Err(e) => writeln!(
                out,
                "note: cannot read the password database {}: {e}",
                sanitize(&db.display().to_string())
            )?,
        }
    }
    if !sendable {
        let why = if usable == 0 {
            "no usable certificate in the keyring"
        } else {
            "no usable certificate names an address, and no [recipients] entry resolves to one"
        };
        writeln!(
            out,
            "error: {why}: every recipient would be refused (exit 67), no mail can be sent"
        )?;
        errors += 1;
    }
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
/// -h message_size_limit`. postconf is looked for beside the real sendmail (as named, then
/// with symbolic links followed), then in /usr/sbin when the real sendmail is under /usr
/// (Fedora's /usr/libexec/postfix/sendmail). postconf reads `MAIL_CONFIG` itself: our
/// environment is its environment.
fn postfix_size_limit(program: &Path, env: &Env) -> Option<u64> {
    let mut places: Vec<PathBuf> = Vec::new();
    if let Some(d) = program.parent() {
        places.push(d.join("postconf"));
    }
    if let Ok(real) = std::fs::canonicalize(program)
        && let Some(d) = real.parent()
    {
        places.push(d.join("postconf"));
    }
    let usr = env.root.as_deref().unwrap_or(Path::new("/")).join("usr");
    if program.starts_with(&usr) {
        places.push(usr.join("sbin/postconf"));
    }
    let postconf = places
        .into_iter()
        .find(|p| p.is_file() && which::which(p).is_ok())?;
    let out = std::process::Command::new(&postconf)
        .args(["-h", "message_size_limit"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let limit: u64 = std::str::from_utf8(&out.stdout).ok()?.trim().parse().ok()?;
    (limit > 0).then_some(limit)
}

/// `check`'s line about Postfix's size limit: a warning when a message that a default
/// Postfix accepts would be refused once encrypted, else a note. Returns the warnings.
fn size_limit(limit: u64, out: &mut dyn Write) -> std::io::Result<u32> {
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
        Ok(1)
    } else {
        writeln!(out, "note: {fact}")?;
        Ok(0)
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
fn readable_by_senders(cfg: &Config, out: &mut dyn Write) -> std::io::Result<u32> {
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
    if cfg.cache_dir.is_dir()
        && let Some(why) = closed_to_others(&cfg.cache_dir, Need::Search)
    {
        found.push((
            cfg.cache_dir.clone(),
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
    Ok(found.len() as u32)
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

#[derive(Debug, Serialize)]
struct RecipientView {
    address: String,
    visible: bool,
    lookup: String,
    route: String,
    decision: &'static str,
    reason: Option<String>,
    certificates: Vec<CertView>,
}

#[derive(Debug, Serialize)]
struct CopyView {
    recipients: Vec<String>,
    encrypted: bool,
    argv: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Explanation {
    real_sendmail: Option<String>,
    flavor: String,
    already_encrypted: bool,
    /// For a message that claims to be encrypted: what it is, or why it is not so.
    protection: Option<String>,
    recipients: Vec<RecipientView>,
    cipher: Option<String>,
    copies: Vec<CopyView>,
    outer_header: Vec<String>,
    /// The exit status sending this message would end with (before the real sendmail's own).
    exit: i32,
    error: Option<String>,
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

/// `pgpsendmail explain [--json] [sendmail arguments] < message`: what sending would do.
pub fn explain<R: BufRead>(
    args: Vec<OsString>,
    env: &Env,
    stdin: R,
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<i32> {
    let mut ex = Explanation {
        real_sendmail: None,
        flavor: String::new(),
        already_encrypted: false,
        protection: None,
        recipients: Vec::new(),
        cipher: None,
        copies: Vec::new(),
        outer_header: Vec::new(),
        exit: 0,
        error: None,
    };
    if let Err(e) = explain_into(&mut ex, args, env, stdin) {
        ex.exit = e.exit_code().code();
        ex.error = Some(e.to_string());
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &ex)?;
        writeln!(out)?;
    } else {
        write_text(&ex, out)?;
    }
    Ok(ex.exit)
}

fn explain_into<R: BufRead>(
    ex: &mut Explanation,
    args: Vec<OsString>,
    env: &Env,
    stdin: R,
) -> crate::error::Result<()> {
    let inv = args::parse(args)?;
    if inv.mode != args::Mode::Deliver {
        return Err(Error::Usage(format!(
            "explain shows what sending a message (-bm) would do; mode {} is not explained",
            inv.mode.flag()
        )));
    }
    let cfg = Config::load(env.config_path.as_deref())?;
    let program = deliver::find_sendmail(&cfg, env);
    let flavor = match (&program, cfg.flavor) {
        (_, Some(f)) => f,
        (Ok(p), None) => Flavor::infer(p),
        (Err(_), None) => Flavor::Postfix,
    };
    ex.flavor = flavor_name(flavor);
    let program = program?;
    ex.real_sendmail = Some(program.display().to_string());
    let mut input = Input::new(stdin, inv.ignore_dots);
    let head = input.read_head()?;
    let envelope = recipients::envelope(&inv.recipients, &head, inv.extract_recipients, flavor)?;
    // As sending does: a candidate (labelled encrypted, or a body that starts like an
    // armor block) has its whole body checked; other bodies are not read.
    let verdict = check_protected(&head, input.body())?;
    ex.already_encrypted = verdict.as_ref().is_some_and(|v| v.protected);
    ex.protection = verdict.map(|v| v.text);
    let argv = |rcpts: &[Address]| -> crate::error::Result<Vec<String>> {
        let mut v = vec![program.display().to_string()];
        v.extend(
            deliver::downstream_args(&inv, flavor, rcpts)?
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned()),
        );
        Ok(v)
    };
    if ex.already_encrypted {
        ex.copies.push(CopyView {
            recipients: envelope.recipients.iter().map(|a| a.to_string()).collect(),
            encrypted: false,
            argv: argv(&envelope.recipients)?,
        });
        return Ok(());
    }
    let want = recipients::wanted(&envelope.recipients, &cfg);
    let keyring = Keyring::load_for(&cfg.keyring, Some(&cfg.cache_dir), &want, env.now);
    let mut decisions = Vec::new();
    let mut refused = false;
    for r in &envelope.recipients {
        let res = recipients::resolve(r, &cfg, &keyring);
        let (decision, reason, certs) = match &res.decision {
            Decision::Encrypt { certs, .. } => (
                "encrypt",
                None,
                certs
                    .iter()
                    .filter_map(|f| keyring.by_fingerprint(f))
                    .map(CertView::of)
                    .collect(),
            ),
            Decision::Plaintext { reason } => ("plaintext", Some(reason.clone()), Vec::new()),
            Decision::Refuse { reason } => {
                refused = true;
                ("refuse", Some(reason.clone()), Vec::new())
            }
        };
        ex.recipients.push(RecipientView {
            address: r.to_string(),
            visible: envelope.is_visible(r),
            lookup: res.lookup.to_string(),
            route: route_text(&res.route, r, &res.lookup),
            decision,
            reason,
            certificates: certs,
        });
        decisions.push((r.clone(), res.decision));
    }
    if refused {
        ex.exit = ExitCode::NoUser.code();
        return Ok(());
    }
    let plan = recipients::plan(&decisions, &envelope);
    if !plan.encrypted.is_empty() {
        ex.cipher = Some(format!("{:?}", plan.cipher));
    }
    for (rcpts, _) in &plan.encrypted {
        ex.copies.push(CopyView {
            recipients: rcpts.iter().map(|a| a.to_string()).collect(),
            encrypted: true,
            argv: argv(rcpts)?,
        });
    }
    for r in &plan.plaintext {
        ex.copies.push(CopyView {
            recipients: vec![r.to_string()],
            encrypted: false,
            argv: argv(std::slice::from_ref(r))?,
        });
    }
    // The outer header section as it would be (synthesized fields get fresh values).
    let payload = Payload::build(
        &head,
        &Child::for_head(&head, None),
        &cfg.subject,
        &crate::synth(&inv, env),
    );
    let outer = String::from_utf8_lossy(&payload.outer_prefix).into_owned();
    let header = outer.split("\n\n").next().unwrap_or("");
    ex.outer_header = header.lines().map(String::from).collect();
    Ok(())
}

/// The rule 16 verdict on a candidate body (`None`: not a candidate, it is encrypted).
fn check_protected<R: Read>(
    head: &crate::message::Head,
    mut body: R,
) -> crate::error::Result<Option<protected::Verdict>> {
    let read = |e: std::io::Error| {
        Error::NoInput(format!("cannot read the message from standard input: {e}"))
    };
    let mut start = Vec::with_capacity(64);
    (&mut body).take(64).read_to_end(&mut start).map_err(read)?;
    let Some(mut v) = protected::Verifier::for_message(head, &start) else {
        return Ok(None);
    };
    v.feed(&start);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => v.feed(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read(e)),
        }
    }
    Ok(Some(v.finish()))
}

fn write_text(ex: &Explanation, out: &mut dyn Write) -> std::io::Result<()> {
    if let Some(p) = &ex.real_sendmail {
        writeln!(out, "real sendmail: {p} (flavor {})", ex.flavor)?;
    }
    match &ex.protection {
        Some(what) if ex.already_encrypted => writeln!(
            out,
            "already encrypted: {what}; handed on as it is, Bcc removed"
        )?,
        Some(why) => writeln!(out, "{why}; it will be encrypted")?,
        None => {}
    }
    for r in &ex.recipients {
        let vis = if r.visible { "visible" } else { "hidden" };
        writeln!(out, "recipient {} ({vis})", sanitize(&r.address))?;
        writeln!(
            out,
            "  keys looked up as {} ({})",
            sanitize(&r.lookup),
            r.route
        )?;
        for c in &r.certificates {
            let exp = c
                .expires
                .as_deref()
                .map_or(String::new(), |d| format!(", expires {d}"));
            writeln!(
                out,
                "  certificate {} from {}{exp}",
                c.fingerprint,
                sanitize(&c.source)
            )?;
            for k in &c.encryption_keys {
                writeln!(out, "    encryption key {k}")?;
            }
            for n in &c.passed_over {
                writeln!(out, "    passed over: {n}")?;
            }
        }
        match r.decision {
            "refuse" => writeln!(
                out,
                "  REFUSED: {}",
                r.reason.as_deref().unwrap_or_default()
            )?,
            "plaintext" => writeln!(
                out,
                "  no usable key; gets an UNENCRYPTED copy (missing_key = \"plaintext\"): {}",
                r.reason.as_deref().unwrap_or_default()
            )?,
            _ => {}
        }
    }
    for (i, c) in ex.copies.iter().enumerate() {
        let how = match (&ex.cipher, c.encrypted) {
            (Some(cipher), true) => format!("encrypted, {cipher}"),
            _ if ex.already_encrypted => "as given".to_string(),
            _ => "NOT encrypted".to_string(),
        };
        writeln!(out, "copy {} ({how}): {}", i + 1, c.recipients.join(", "))?;
        writeln!(out, "  {}", c.argv.join(" "))?;
    }
    if !ex.outer_header.is_empty() {
        writeln!(out, "outer header:")?;
        for l in &ex.outer_header {
            writeln!(out, "  {l}")?;
        }
    }
    match (&ex.error, ex.exit) {
        (Some(e), code) => writeln!(out, "error: {e} (sending would exit {code})")?,
        (None, 0) => writeln!(out, "result: would be sent")?,
        (None, code) => writeln!(out, "result: nothing would be sent (exit {code})")?,
    }
    Ok(())
}

/// `pgpsendmail keys list [ADDRESS]`: every certificate, or those for one address.
pub fn keys_list(
    env: &Env,
    address: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<i32> {
    let cfg = match Config::load(env.config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            writeln!(out, "error: {e}")?;
            return Ok(ExitCode::Config.code());
        }
    };
    let kr = Keyring::load(&cfg.keyring, env.now);
    // With an address: the certificates sending would use, found the same way (alias, local
    // names, "*", pinned and domain keys), and the unusable ones at the address looked up.
    let mut route_line = None;
    let mut why_none = None;
    let certs: Vec<CertView> = match address {
        None => kr.certs.iter().map(CertView::of).collect(),
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
                    .map(CertView::of)
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
            writeln!(out, "  source: {}", sanitize(&c.source))?;
            for n in &c.passed_over {
                writeln!(out, "  passed over: {n}")?;
            }
        }
        if certs.is_empty()
            && let Some(w) = &why_none
        {
            writeln!(out, "{w}")?;
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
            kr.by_email(&looked_up.normalized())
                .map(|c| c.fingerprint.clone()),
        ),
    }
    let shown = sanitize(rcpt.as_str());
    let line = format!(
        "{shown}: keys looked up as {} ({})",
        sanitize(res.lookup.as_str()),
        route_text(&res.route, rcpt, &res.lookup)
    );
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

/// The mode of every file `keys import` writes: certificates are public, and every user who
/// sends mail (sudo's alert goes out as the user who typed the wrong password) must read them.
const KEY_FILE_MODE: u32 = 0o644;
/// The mode of a key directory `keys import` makes.
const KEY_DIR_MODE: u32 = 0o755;

/// Writes `text` to `path` through a temporary file in the same directory and a rename, so
/// that a concurrent reader sees the old file or the new one, never half of one. The mode is
/// [`KEY_FILE_MODE`], set explicitly: our umask (077) would make it 0600.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(KEY_FILE_MODE)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(KEY_FILE_MODE))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    })();
    written
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

/// Makes the directory `dir` and any missing parents, each with mode [`KEY_DIR_MODE`].
fn make_key_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_key_dir(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(KEY_DIR_MODE)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
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
    let cfg = match Config::load(env.config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            writeln!(out, "error: {e}")?;
            return Ok(ExitCode::Config.code());
        }
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
    let stored = Keyring::load(&[dir.to_path_buf()], env.now);
    let target = stored.certs.iter().find_map(|c| {
        let mut s = stored_cert(dir, &c.fingerprint)?;
        (gather::issued_by(rev, &s.primary_key) && rev.verify_key(&s.primary_key).is_ok()).then(
            || {
                gather::attach(&mut s, rev);
                s
            },
        )
    });
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
