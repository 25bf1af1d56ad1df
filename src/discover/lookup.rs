//! Where an address's certificate is looked for, and what of an answer is kept
//! (pgpsendmail(8), KEYS, discovered certificates).
//!
//! Owns: the WKD URLs (draft-koch-openpgp-webkey-service: the z-base-32 SHA-1 of the
//! lower-cased local part, `?l=` with the local part as given; the advanced method on
//! `openpgpkey.DOMAIN`, then the direct method on `DOMAIN`), the VKS URLs of the configured
//! keyservers (`/vks/v1/by-email/`, `/vks/v1/by-fingerprint/`), and trimming an answer to
//! the user IDs that carry the address looked up. Judging what is left is
//! [`crate::keys::evaluate`]'s, as for every certificate.
//!
//! Untrusted input: the answers (any bytes). Nothing here panics on them.

use std::path::Path;
use std::time::SystemTime;

use pgp::composed::SignedPublicKey;
use pgp::types::KeyDetails;
use sha1::{Digest, Sha1};

use super::http::Client;
use crate::config::Discovery;
use crate::keys::{self, Cert, hex_upper, uid_email};

/// How a certificate was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    WkdAdvanced,
    WkdDirect,
    Keyserver,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::WkdAdvanced => "wkd-advanced",
            Method::WkdDirect => "wkd-direct",
            Method::Keyserver => "keyserver",
        }
    }
}

/// z-base-32 (as WKD uses it): 5 bits per character, most significant first.
pub fn zbase32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Percent-encoding of everything but the unreserved characters (RFC 3986).
fn escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URLs `addr` (`local@domain`) is looked up at, in order: WKD advanced and direct
/// (when `wkd`), then each keyserver.
pub fn urls(addr: &str, cfg: &Discovery) -> Vec<(Method, String)> {
    let mut out = Vec::new();
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return out;
    };
    // The host in the URL in its ASCII form (an internationalized domain as punycode).
    let domain = crate::message::canonical::domain_ascii(domain);
    if cfg.wkd {
        let hash = zbase32(&Sha1::digest(local.to_ascii_lowercase().as_bytes()));
        let l = escape(local);
        out.push((
            Method::WkdAdvanced,
            format!("https://openpgpkey.{domain}/.well-known/openpgpkey/{domain}/hu/{hash}?l={l}"),
        ));
        out.push((
            Method::WkdDirect,
            format!("https://{domain}/.well-known/openpgpkey/hu/{hash}?l={l}"),
        ));
    }
    for ks in &cfg.keyservers {
        out.push((
            Method::Keyserver,
            format!(
                "{ks}/vks/v1/by-email/{}",
                escape(&format!("{local}@{domain}"))
            ),
        ));
    }
    out
}

/// A certificate an answer held, trimmed to the address, and its judgement.
pub struct Candidate {
    pub cert: SignedPublicKey,
    pub judged: Cert,
}

/// What one URL gave for `addr`.
pub struct Answer {
    pub method: Method,
    pub url: String,
    pub candidates: Vec<Candidate>,
}

/// Asks each URL in turn (`only`: only this one) and returns the first answer holding a
/// certificate with a valid user ID for `addr`; else one line per URL saying why not.
pub fn find(
    client: &Client,
    addr: &str,
    tries: &[(Method, String)],
    now: SystemTime,
) -> Result<Answer, Vec<String>> {
    let mut why = Vec::new();
    for (method, url) in tries {
        match ask(client, addr, url, now) {
            Ok(candidates) => {
                return Ok(Answer {
                    method: *method,
                    url: url.clone(),
                    candidates,
                });
            }
            Err(e) => why.push(format!("{}: {e}", method.name())),
        }
    }
    Err(why)
}

/// The certificates at `url` that carry `addr` in a user ID with a valid self-signature.
fn ask(client: &Client, addr: &str, url: &str, now: SystemTime) -> Result<Vec<Candidate>, String> {
    let bytes = client.get(url)?.ok_or("not found")?;
    let parsed = keys::parse_certificates(&bytes).map_err(|e| format!("not a certificate: {e}"))?;
    if parsed.certs.is_empty() {
        return Err("no certificate in the answer".into());
    }
    let mut out = Vec::new();
    let mut fprs = Vec::new();
    for cert in parsed.certs {
        fprs.push(hex_upper(cert.primary_key.fingerprint().as_bytes()));
        if let Some(cert) = only_address(cert, addr) {
            let judged = keys::evaluate(&cert, Path::new(url), now);
            if judged.emails.iter().any(|e| e == addr) {
                out.push(Candidate { cert, judged });
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "certificate {} has no valid user ID for {addr}",
            fprs.join(", ")
        ));
    }
    Ok(out)
}

/// `cert` with only the user IDs whose address is `addr` (and no user attributes); `None`
/// when it has none.
pub fn only_address(mut cert: SignedPublicKey, addr: &str) -> Option<SignedPublicKey> {
    cert.details
        .users
        .retain(|u| uid_email(u.id.id()).as_deref() == Some(addr));
    cert.details.user_attributes.clear();
    (!cert.details.users.is_empty()).then_some(cert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkd_urls_follow_the_drafts_example() {
        // The draft's own example: Joe.Doe@Example.ORG.
        let cfg = Discovery {
            keyservers: vec!["https://keys.openpgp.org".into()],
            ..Discovery::default()
        };
        let u = urls("Joe.Doe@Example.ORG", &cfg);
        assert_eq!(
            u[0].1,
            "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/\
             iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe"
        );
        assert_eq!(
            u[1].1,
            "https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe"
        );
        assert_eq!(
            u[2].1,
            "https://keys.openpgp.org/vks/v1/by-email/Joe.Doe%40example.org"
        );
        let no_wkd = Discovery {
            wkd: false,
            ..Discovery::default()
        };
        assert!(urls("a@b.example", &no_wkd).is_empty());
    }

    #[test]
    fn zbase32_of_known_bytes() {
        assert_eq!(zbase32(&[0]), "yy");
        assert_eq!(zbase32(&[0xff]), "9h");
        assert_eq!(zbase32(&[0xf0, 0xbf, 0xc7]), "6n9hq");
    }
}
