//! The paths of MAIL FROM and RCPT TO (RFC 5321 4.1.2), read leniently and handed on
//! normalized: spaces inside the brackets and comments (`(...)`, which RFC 5321 does not
//! have but clients write) dropped, a source route dropped, a quoted local part unquoted
//! when it needs no quotes and quoted minimally when it does (`"b o b"@example.org` is
//! kept, `"bob"@example.org` becomes `bob@example.org`). UTF-8 is allowed in local parts
//! and domains (RFC 6531); the server asks for SMTPUTF8 before it takes one.

/// A mailbox as it is handed on: `local@domain`, or a bare local name (`root`) as
/// sendmail -bs takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox(String);

impl Mailbox {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it needs SMTPUTF8 (RFC 6531): any byte outside ASCII.
    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }
}

/// Why a path was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// No `<...>` where one must be.
    Syntax,
    /// `<...>` holds no valid mailbox.
    Mailbox,
}

/// Splits the argument after `FROM:` or `TO:` into its path and its parameters: the
/// mailbox (`None` for `<>`), and the rest after `>`, trimmed.
pub fn parse(arg: &str) -> Result<(Option<Mailbox>, &str), PathError> {
    let arg = arg.trim_start();
    let rest = arg.strip_prefix('<').ok_or(PathError::Syntax)?;
    let end = closing_bracket(rest).ok_or(PathError::Syntax)?;
    let inner = strip_comments(&rest[..end]).ok_or(PathError::Mailbox)?;
    let inner = inner.trim_matches([' ', '\t']);
    let params = rest[end + 1..].trim();
    if inner.is_empty() {
        return Ok((None, params));
    }
    let mailbox = mailbox(strip_route(inner)).ok_or(PathError::Mailbox)?;
    Ok((Some(mailbox), params))
}

/// The index in `s` of the `>` that closes the path: outside quotes and comments.
fn closing_bracket(s: &str) -> Option<usize> {
    let (mut quoted, mut escaped, mut depth) = (false, false, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            '>' if !quoted && depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// `s` without its comments (nested, with quoted pairs), or `None` when one is not closed.
fn strip_comments(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let (mut quoted, mut escaped, mut depth) = (false, false, 0usize);
    for c in s.chars() {
        if depth > 0 {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            continue;
        }
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => {
                depth = 1;
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    (depth == 0 && !quoted).then_some(out)
}

/// Drops an RFC 5321 source route (`@a,@b:user@c`), which servers ignore.
fn strip_route(path: &str) -> &str {
    if path.starts_with('@')
        && let Some(i) = path.find(':')
    {
        return &path[i + 1..];
    }
    path
}

/// `atext` (RFC 5322 3.2.3), and any non-ASCII character (RFC 6531 3.3).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Whether `s` is a Dot-string: atoms of atext separated by single dots.
fn is_dot_string(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|a| !a.is_empty() && a.chars().all(is_atext))
}

/// A mailbox `local[@domain]`, normalized.
fn mailbox(s: &str) -> Option<Mailbox> {
    let (local, rest) = local_part(s)?;
    let domain = match rest.strip_prefix('@') {
        Some(d) => Some(domain(d)?),
        None if rest.is_empty() => None,
        None => return None,
    };
    let mut out = local;
    if let Some(d) = domain {
        out.push('@');
        out.push_str(d);
    }
    Some(Mailbox(out))
}

/// The local part at the start of `s`, normalized, and what follows it.
fn local_part(s: &str) -> Option<(String, &str)> {
    let Some(q) = s.strip_prefix('"') else {
        let end = s.find('@').unwrap_or(s.len());
        return is_dot_string(&s[..end]).then(|| (s[..end].to_string(), &s[end..]));
    };
    let mut text = String::new();
    let mut escaped = false;
    for (i, c) in q.char_indices() {
        if c.is_control() {
            return None;
        }
        match c {
            _ if escaped => {
                text.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            '"' => return Some((quote_if_needed(&text), &q[i + 1..])),
            _ => text.push(c),
        }
    }
    None
}

/// A local part's text as a Dot-string when it is one, else quoted with `"` and `\`
/// escaped (RFC 5321 4.1.2: the unquoted form SHOULD be used where it exists).
fn quote_if_needed(text: &str) -> String {
    if is_dot_string(text) {
        return text.to_string();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A domain: dot-separated labels of letters, digits and hyphens (or non-ASCII, a
/// U-label), none starting or ending with a hyphen; or an address literal `[...]`.
fn domain(d: &str) -> Option<&str> {
    if let Some(lit) = d.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
        let ok = !lit.is_empty()
            && lit
                .bytes()
                .all(|b| (33..127).contains(&b) && b != b'[' && b != b']' && b != b'\\');
        return ok.then_some(d);
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
    };
    (!d.is_empty() && d.split('.').all(label_ok)).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(arg: &str) -> Result<Option<String>, PathError> {
        parse(arg).map(|(m, _)| m.map(|m| m.0))
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(
            norm("< alice@example.org>"),
            Ok(Some("alice@example.org".into()))
        );
        assert_eq!(
            norm("<alice@example.org >"),
            Ok(Some("alice@example.org".into()))
        );
        assert_eq!(
            norm("<alice@example.org (Alice Liddell)>"),
            Ok(Some("alice@example.org".into()))
        );
        assert_eq!(
            norm("<(x (nested) \\) y)alice@example.org>"),
            Ok(Some("alice@example.org".into()))
        );
        assert_eq!(
            norm("<\"bob\"@example.org>"),
            Ok(Some("bob@example.org".into()))
        );
        assert_eq!(
            norm("<\"b o b\"@example.org>"),
            Ok(Some("\"b o b\"@example.org".into()))
        );
        assert_eq!(
            norm("<\"a\\\"(b)>\"@example.org>"),
            Ok(Some("\"a\\\"(b)>\"@example.org".into()))
        );
        assert_eq!(norm("<@r1,@r2:u@x>"), Ok(Some("u@x".into())));
        assert_eq!(norm("<root>"), Ok(Some("root".into())));
        assert_eq!(norm("<a@[192.0.2.1]>"), Ok(Some("a@[192.0.2.1]".into())));
        assert_eq!(
            norm("<josé@exämple.org>"),
            Ok(Some("josé@exämple.org".into()))
        );
        assert_eq!(norm("<>"), Ok(None));
        assert_eq!(norm("< (nobody) >"), Ok(None));
    }

    #[test]
    fn bad_paths_are_refused() {
        assert_eq!(norm("a@x"), Err(PathError::Syntax));
        assert_eq!(norm("<a@x"), Err(PathError::Syntax));
        assert_eq!(norm("<\"a>b@x"), Err(PathError::Syntax));
        // An unclosed comment holds the `>`.
        assert_eq!(norm("<a(open@x>"), Err(PathError::Syntax));
        for bad in [
            "<a b@x>",
            "<a@x y>",
            "<a..b@x>",
            "<.a@x>",
            "<a@-x>",
            "<a@x.>",
            "<a@>",
            "<@x>",
            "<a@b@c>",
            "<\"a\u{7}\"@x>",
            "<a@[]>",
        ] {
            assert_eq!(norm(bad), Err(PathError::Mailbox), "{bad}");
        }
    }

    #[test]
    fn parameters_follow_the_path() {
        let (m, p) = parse("<a@x> BODY=8BITMIME SIZE=10").unwrap();
        assert_eq!(m.unwrap().as_str(), "a@x");
        assert_eq!(p, "BODY=8BITMIME SIZE=10");
        assert!(!parse("<é@x>").unwrap().0.unwrap().is_ascii());
    }
}
