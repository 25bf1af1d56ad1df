//! Asking a Postfix real sendmail for a parameter: `postconf -hx NAME`, with postconf found
//! beside the real sendmail. Used by `check` (the size limit) and by sending (whether the
//! path carries UTF-8, docs/message.md rule 18).

use std::path::{Path, PathBuf};

/// The value of Postfix's parameter `name` (`postconf -hx name`, trimmed: `-x` expands a
/// value that is an expression, as `smtputf8_enable`'s default is one of
/// `compatibility_level`), or `None` when
/// postconf is not found or fails. postconf is looked for beside the real sendmail `program`
/// (as named, then with symbolic links followed), then in `root`/usr/sbin when the real
/// sendmail is under `root`/usr (Fedora's /usr/libexec/postfix/sendmail). postconf reads
/// `MAIL_CONFIG` itself: our environment is its environment.
pub fn value(program: &Path, root: Option<&Path>, name: &str) -> Option<String> {
    let mut places: Vec<PathBuf> = Vec::new();
    if let Some(d) = program.parent() {
        places.push(d.join("postconf"));
    }
    if let Ok(real) = std::fs::canonicalize(program)
        && let Some(d) = real.parent()
    {
        places.push(d.join("postconf"));
    }
    let usr = root.unwrap_or(Path::new("/")).join("usr");
    if program.starts_with(&usr) {
        places.push(usr.join("sbin/postconf"));
    }
    let postconf = places
        .into_iter()
        .find(|p| p.is_file() && which::which(p).is_ok())?;
    let out = std::process::Command::new(&postconf)
        .args(["-hx", name])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

/// False only when the real sendmail is a Postfix that says it does not carry SMTPUTF8
/// (`smtputf8_enable = no`): then a UTF-8 address could not leave this host.
pub fn carries_utf8(program: &Path, root: Option<&Path>) -> bool {
    value(program, root, "smtputf8_enable").is_none_or(|v| !v.eq_ignore_ascii_case("no"))
}
