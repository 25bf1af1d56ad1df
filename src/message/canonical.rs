//! One spelling of an e-mail address for matching (pgpsendmail(8), KEYS, and RECIPIENTS for
//! duplicates; pgpsendmail.toml(5), `local_part_case`).
//!
//! Owns: [`key`], the one function under which a recipient, a user ID's e-mail part, a
//! `[recipients]` entry and a duplicate are compared. Internationalized addresses (RFC 6531,
//! 6532) have several spellings of one mailbox: Unicode text in composed or decomposed form,
//! a domain in any case and as U-labels (`exämple.org`) or A-labels (`xn--exmple-cua.org`).
//! The key is NFC throughout; the domain goes through UTS 46 processing (its mapping lower-
//! cases it, in Unicode, and decodes punycode labels), so all of its spellings are one; the
//! local part is lower-cased (Unicode) unless [`LocalCase::Exact`] says otherwise.
//!
//! Untrusted input: addresses from arguments, header fields and certificates. A domain that
//! UTS 46 refuses (an invalid punycode label, say) is still a key: NFC and lower case, as
//! written. Nothing here fails.

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

/// How the local part of an address is compared (pgpsendmail.toml(5), `local_part_case`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalCase {
    /// Without regard to case (Unicode lower case): `Alice@x` is `alice@x`. The default.
    #[default]
    Ignore,
    /// As written (after NFC): `Alice@x` is not `alice@x`, as RFC 5321 allows a host to say.
    Exact,
}

/// The matching key of an address `local@domain` (split at its last `@`: a domain never
/// holds one) or of a bare local name: [`local`] `@` [`domain`].
pub fn key(addr: &str, case: LocalCase) -> String {
    match addr.rsplit_once('@') {
        Some((l, d)) => format!("{}@{}", local(l, case), domain(d)),
        None => local(addr, case),
    }
}

/// A local part for matching: unquoted (its content, as RFC 5321 4.1.2 compares it), NFC, and lower case (Unicode) under
/// [`LocalCase::Ignore`].
pub fn local(l: &str, case: LocalCase) -> String {
    let unquoted;
    let l = if l.contains('"') {
        unquoted = unquote(l);
        unquoted.as_str()
    } else {
        l
    };
    match case {
        LocalCase::Exact => l.nfc().collect(),
        LocalCase::Ignore if l.is_ascii() => l.to_ascii_lowercase(),
        // NFC again after the case mapping, which may leave a sequence uncomposed.
        LocalCase::Ignore => l.nfc().collect::<String>().to_lowercase().nfc().collect(),
    }
}

/// A local part without its quoting: `"b o b"` is `b o b`, `"bob"` is `bob` (RFC 5321
/// 4.1.2: a quoted local part and its content are one mailbox), `"a"."b"` is `a.b`, `\x`
/// inside quotes is `x`. Content holding `@`, `"` or `\` stays quoted as written: without
/// its quotes it would read as another address.
fn unquote(l: &str) -> String {
    let mut out = String::with_capacity(l.len());
    let (mut quoted, mut escaped) = (false, false);
    for c in l.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else {
            out.push(c);
        }
    }
    if out.contains(['@', '"', '\\']) {
        return l.to_string();
    }
    out
}

/// A domain for matching: UTS 46 to Unicode (NFC, lower case and the other mappings,
/// punycode labels decoded), so `EXÄMPLE.ORG`, `exämple.org` and `xn--exmple-cua.org` are
/// one key. An ASCII domain without a punycode label is only lower-cased (all UTS 46 would
/// do to it); an address literal (`[192.0.2.1]`) too. A domain UTS 46 refuses: NFC and
/// Unicode lower case.
pub fn domain(d: &str) -> String {
    if d.is_ascii() {
        let lower = d.to_ascii_lowercase();
        if d.starts_with('[') || !(lower.starts_with("xn--") || lower.contains(".xn--")) {
            return lower;
        }
    }
    match idna::domain_to_unicode(d) {
        (u, Ok(())) => u,
        (_, Err(_)) => d.nfc().collect::<String>().to_lowercase().nfc().collect(),
    }
}

/// A domain as DNS and URLs spell it: UTS 46 to ASCII (punycode A-labels, lower case), so
/// `exämple.org` is `xn--exmple-cua.org`; a domain UTS 46 refuses, in ASCII lower case.
pub fn domain_ascii(d: &str) -> String {
    idna::domain_to_ascii(d).unwrap_or_else(|_| d.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_local_part_matches_as_its_content() {
        let k = |a: &str| key(a, LocalCase::Ignore);
        assert_eq!(k("\"b o b\"@Example.ORG"), "b o b@example.org");
        assert_eq!(k("\"bob\"@x"), k("bob@x"));
        assert_eq!(k("\"a\".\"b\"@x"), "a.b@x");
        // Content that needs its quotes keeps them.
        assert_eq!(k(r#""a\"b"@x"#), r#""a\"b"@x"#);
        assert_eq!(k("\"a@b\"@x"), "\"a@b\"@x");
        assert_eq!(key("\"B o B\"@x", LocalCase::Exact), "B o B@x");
    }

    #[test]
    fn punycode_and_unicode_spellings_of_a_domain_are_one_key() {
        let want = "c@exämple.org";
        for a in [
            "c@xn--exmple-cua.org",
            "c@XN--EXMPLE-CUA.ORG",
            "c@exämple.org",
            "c@EXÄMPLE.ORG",
            // "a" and U+0308 COMBINING DIAERESIS: the decomposed spelling.
            "c@exa\u{308}mple.org",
            "c@EXA\u{308}MPLE.ORG",
        ] {
            assert_eq!(key(a, LocalCase::Ignore), want, "{a}");
            assert_eq!(key(a, LocalCase::Exact), want, "{a}");
        }
        assert_eq!(key("用户@例子.广告", LocalCase::Ignore), "用户@例子.广告");
        assert_eq!(
            key("用户@xn--fsqu00a.xn--4rr70v", LocalCase::Ignore),
            "用户@例子.广告"
        );
    }

    #[test]
    fn the_local_part_is_folded_in_unicode_unless_exact() {
        assert_eq!(key("d@EXÄMPLE.ORG", LocalCase::Ignore), "d@exämple.org");
        assert_eq!(key("JOSÉ@x.org", LocalCase::Ignore), "josé@x.org");
        assert_eq!(key("JOSE\u{301}@x.org", LocalCase::Ignore), "josé@x.org");
        assert_eq!(key("JOSÉ@X.org", LocalCase::Exact), "JOSÉ@x.org");
        assert_eq!(key("JOSE\u{301}@x.org", LocalCase::Exact), "JOSÉ@x.org");
        assert_eq!(key("Root", LocalCase::Ignore), "root");
        assert_eq!(key("Root", LocalCase::Exact), "Root");
        // A quoted local part holding an "@": split at the last one.
        assert_eq!(key("\"A@B\"@X.org", LocalCase::Ignore), "\"a@b\"@x.org");
    }

    #[test]
    fn literals_and_domains_uts46_refuses_still_have_a_key() {
        assert_eq!(domain("[IPv6:::1]"), "[ipv6:::1]");
        assert_eq!(domain("EXAMPLE.org"), "example.org");
        // Not valid punycode: kept, lower-cased.
        assert_eq!(domain("XN--ZZ-.ORG"), "xn--zz-.org");
        assert_eq!(domain("xn--"), "xn--");
    }
}
