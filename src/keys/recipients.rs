//! Who gets the message, and with which keys (pgpsendmail(8), RECIPIENTS and KEYS;
//! pgpsendmail.toml(5), HOW A RECIPIENT'S KEY IS FOUND).
//!
//! Owns: the envelope recipients (arguments, and with `-t` the To/Cc/Bcc or Resent-* fields;
//! added to the arguments, or for flavor exim the arguments removed), the split into visible
//! recipients (named in To/Cc) and hidden ones (all others), and the key decision for each:
//! the `[recipients]` table first (`alias`, `key`, `@domain` keys with `always`), then the
//! recipient's own address, then the `+tag` fallback, then a domain key; without a usable
//! key, `missing_key` decides (refuse, or a plaintext copy for that recipient alone).
//! A local name (bare, or at one of this host's names: [`Config::is_local_domain`]) without
//! an exact entry follows, after its own certificate, its local part's entry, else `"*"`.
//!
//! Untrusted input: header values and argument addresses (already parsed by
//! [`crate::message::address`]). Errors: [`Error::Usage`] (no recipients), [`Error::Data`] (a
//! recipient field that cannot be parsed under `-t`).

use std::collections::HashSet;

use crate::config::{Config, Flavor, MissingKey, Rule};
use crate::diag::sanitize;
use crate::error::{Error, Result};
use crate::keys::{COMMON_SUITE, EncryptionKey, Keyring, Suite, Unusable, index_key};
use crate::message::Head;
use crate::message::address::{self, Address};
use crate::message::canonical::{self, LocalCase};

/// The envelope: every recipient once (first spelling kept), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub recipients: Vec<Address>,
    /// Envelope keys ([`Address::envelope_key`]) of the addresses named in To/Cc (or
    /// Resent-To/Resent-Cc when those rule).
    pub visible: HashSet<String>,
}

impl Envelope {
    pub fn is_visible(&self, a: &Address) -> bool {
        self.visible.contains(&a.envelope_key())
    }
}

fn parse_fields(head: &Head, names: &[&str], strict: bool) -> Result<Vec<Address>> {
    let mut out = Vec::new();
    for name in names {
        for f in head.all(name) {
            match address::parse_list(&f.value) {
                Ok(list) => out.extend(list),
                Err(e) if strict => {
                    return Err(Error::Data(format!(
                        "the {} field cannot be parsed: {e}",
                        sanitize(&f.name)
                    )));
                }
                Err(_) => {}
            }
        }
    }
    Ok(out)
}

/// Works out the envelope recipients (pgpsendmail(8), RECIPIENTS).
pub fn envelope(args: &[Address], head: &Head, extract: bool, flavor: Flavor) -> Result<Envelope> {
    let resent = ["Resent-To", "Resent-Cc", "Resent-Bcc"]
        .iter()
        .any(|n| head.has(n));
    let (vis_names, all_names): (&[&str], &[&str]) = if resent {
        (
            &["Resent-To", "Resent-Cc"],
            &["Resent-To", "Resent-Cc", "Resent-Bcc"],
        )
    } else {
        (&["To", "Cc"], &["To", "Cc", "Bcc"])
    };
    let visible: HashSet<String> = parse_fields(head, vis_names, false)?
        .iter()
        .map(|a| a.envelope_key())
        .collect();

    let mut list: Vec<Address> = Vec::new();
    if extract {
        let from_headers = parse_fields(head, all_names, true)?;
        if flavor == Flavor::Exim {
            // Exim's extract_addresses_remove_arguments: -t minus the arguments.
            let removed: HashSet<String> = args.iter().map(|a| a.envelope_key()).collect();
            list.extend(
                from_headers
                    .into_iter()
                    .filter(|a| !removed.contains(&a.envelope_key())),
            );
        } else {
            list.extend(args.iter().cloned());
            list.extend(from_headers);
        }
    } else {
        list.extend(args.iter().cloned());
    }
    let mut seen = HashSet::new();
    list.retain(|a| seen.insert(a.envelope_key()));
    if list.is_empty() {
        return Err(Error::Usage(if extract {
            "no recipients: none on the command line and none in the To, Cc or Bcc fields".into()
        } else {
            "no recipients: give them as arguments, or use -t to read them from the message".into()
        }));
    }
    Ok(Envelope {
        recipients: list,
        visible,
    })
}

/// What happens to one recipient.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Encrypt to these keys.
    Encrypt {
        keys: Vec<EncryptionKey>,
        /// Primary fingerprints used (for messages and `explain`).
        certs: Vec<String>,
        cipher: pgp::crypto::sym::SymmetricKeyAlgorithm,
        /// The SEIPD v2 suite when every certificate used takes SEIPD v2, or one of them
        /// is a version 6 certificate (rule 9 of pgpsendmail(8), KEYS); `None`: SEIPD v1.
        aead: Option<Suite>,
    },
    /// No usable key, and the policy allows an unencrypted copy.
    Plaintext { reason: String },
    /// No usable key, and the policy refuses.
    Refuse { reason: String },
}

/// The `[recipients]` entries that apply to one recipient (pgpsendmail.toml(5), HOW A
/// RECIPIENT'S KEY IS FOUND).
struct Entries<'a> {
    /// The entry named exactly like the recipient.
    exact: Option<&'a Rule>,
    /// A local name (bare, or at one of this host's names) without an exact entry: the
    /// entry of its local part, else of its local part without `+tag`, else `"*"`; with
    /// the entry's name.
    local: Option<(String, &'a Rule)>,
    /// The recipient is a local name: bare, or at one of this host's names.
    is_local: bool,
    /// The `@domain` entry of the recipient's domain, with its name.
    domain: Option<(String, &'a Rule)>,
    /// How local parts compare (`local_part_case`).
    case: LocalCase,
}

fn entries<'a>(rcpt: &Address, cfg: &'a Config) -> Entries<'a> {
    let exact = cfg.recipients.get(&rcpt.match_key(cfg.local_part_case));
    let is_local = rcpt.domain().is_none_or(|d| cfg.is_local_domain(d));
    let local = if exact.is_none() && is_local {
        let name = canonical::local(rcpt.local(), cfg.local_part_case);
        let untagged = name
            .split_once('+')
            .map(|(u, _)| u.to_string())
            .filter(|u| !u.is_empty());
        [Some(name), untagged, Some("*".to_string())]
            .into_iter()
            .flatten()
            .find_map(|n| cfg.recipients.get(&n).map(|r| (n, r)))
    } else {
        None
    };
    let domain = rcpt.domain().and_then(|d| {
        let n = format!("@{}", canonical::domain(d));
        cfg.recipients.get(&n).map(|r| (n, r))
    });
    Entries {
        exact,
        local,
        is_local,
        domain,
        case: cfg.local_part_case,
    }
}

/// The addresses and fingerprints [`resolve`] can look `rcpts` up under, so that only those
/// certificates are loaded ([`crate::keys::Keyring::load_for`]). It follows `resolve`
/// step by step: the recipient's own address and the alias of the entry that applies
/// (exact, or for a local name its local part's or `"*"`), each also without `+tag`, a
/// pinned key, and the domain key.
pub fn wanted(rcpts: &[Address], cfg: &Config) -> crate::keys::Wanted {
    let mut w = crate::keys::Wanted::default();
    for rcpt in rcpts {
        let e = entries(rcpt, cfg);
        let rule = e.exact.or(e.local.as_ref().map(|(_, r)| *r));
        for a in [Some(rcpt.clone()), rule.and_then(|r| r.alias.clone())]
            .into_iter()
            .flatten()
        {
            if let Some(u) = strip_tag(&a) {
                w.emails.insert(index_key(u.as_str()));
            }
            w.emails.insert(index_key(a.as_str()));
        }
        for rule in [rule, e.domain.map(|(_, r)| r)].into_iter().flatten() {
            if let Some(k) = &rule.key {
                w.fingerprints.insert(k.clone());
            }
        }
    }
    w
}

/// How a recipient's keys were found (for `explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Under the recipient's own address.
    Own,
    /// Under the address of an `alias` entry.
    Alias,
    /// Under the address without its `+tag`.
    Untagged(Address),
    /// The fingerprint pinned by the recipient's `key` entry.
    Pinned,
    /// A local name (bare, or at one of this host's names) without an entry or certificate
    /// of its own: under the `alias` of this entry (the local part's, or `"*"`).
    LocalAlias(String),
    /// A local name, as [`Route::LocalAlias`]: the fingerprint pinned by this entry.
    LocalPinned(String),
    /// The `@domain` key, because there is no personal key.
    DomainKey,
    /// The `@domain` key, because the entry says `always = true`.
    DomainAlways,
}

/// The decision for one recipient and how it was reached.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub decision: Decision,
    /// The address the keys were looked up under (the alias target, or the recipient).
    pub lookup: Address,
    pub route: Route,
    /// The names of the `[recipients]` entries that apply to the recipient, in the order
    /// they are considered (its own or its local name's, then its domain's); empty when none.
    pub entries: Vec<String>,
}

/// Finds the keys for `rcpt` under the configuration (pgpsendmail.toml(5), HOW A
/// RECIPIENT'S KEY IS FOUND; pgpsendmail(8), KEYS).
pub fn decide(rcpt: &Address, cfg: &Config, keyring: &Keyring) -> Decision {
    resolve(rcpt, cfg, keyring).decision
}

/// The refusal hint for a local name without an entry.
fn local_hint(name: &str) -> String {
    format!(
        "no certificate: a local name needs an entry in [recipients], or a \"*\" entry for \
         every local name (for example \"{}\" = {{ alias = \"admin@example.org\" }})",
        sanitize(name)
    )
}

/// [`decide`], with the route taken. The order: the recipient's exact entry (`key`, else
/// `alias`); an `@domain` key with `always`; for a local name at one of this host's names
/// without an exact entry, its own certificate; for a local name, its local part's entry or
/// `"*"`; the certificates of the address looked up (the alias, or the recipient), then
/// without `+tag`; the `@domain` key.
pub fn resolve(rcpt: &Address, cfg: &Config, keyring: &Keyring) -> Resolution {
    let e = entries(rcpt, cfg);
    let domain_rule: Option<&Rule> = e.domain.as_ref().map(|(_, r)| *r);
    let local_rule: Option<&Rule> = e.local.as_ref().map(|(_, r)| *r);
    let rule = e.exact.or(local_rule);
    let mut names: Vec<String> = Vec::new();
    if e.exact.is_some() {
        names.push(rcpt.match_key(cfg.local_part_case));
    }
    if let Some((n, _)) = &e.local {
        names.push(n.clone());
    }
    if let Some((n, _)) = &e.domain {
        names.push(n.clone());
    }
    let policy = rule
        .and_then(|r| r.missing_key)
        .or(domain_rule.and_then(|r| r.missing_key))
        .unwrap_or(cfg.missing_key);

    let (result, lookup, route) = find_certs(rcpt, &e, keyring);
    let decision = match result {
        Ok(certs) => encrypt_to(certs),
        Err(why) => {
            let shown = sanitize(rcpt.as_str());
            let reason = if lookup != *rcpt {
                format!(
                    "{shown} (keys looked up as {}): {why}",
                    sanitize(lookup.as_str())
                )
            } else {
                format!("{shown}: {why}")
            };
            match policy {
                MissingKey::Refuse => Decision::Refuse { reason },
                MissingKey::Plaintext => Decision::Plaintext { reason },
            }
        }
    };
    Resolution {
        decision,
        lookup,
        route,
        entries: names,
    }
}

/// The certificates for `rcpt` in [`resolve`]'s order, or why there are none; with the
/// address they were looked up under and the route taken.
fn find_certs<'k>(
    rcpt: &Address,
    e: &Entries<'_>,
    keyring: &'k Keyring,
) -> (
    std::result::Result<Vec<&'k crate::keys::Cert>, String>,
    Address,
    Route,
) {
    let domain_rule: Option<&Rule> = e.domain.as_ref().map(|(_, r)| *r);
    let rule = e.exact.or(e.local.as_ref().map(|(_, r)| *r));
    let mut lookup = rcpt.clone();
    let mut route = Route::Own;
    let result = 'found: {
        if let Some(fpr) = e.exact.and_then(|r| r.key.as_deref()) {
            route = Route::Pinned;
            break 'found by_fpr(keyring, fpr);
        }
        if let Some(fpr) = domain_rule
            .filter(|r| r.always)
            .and_then(|r| r.key.as_deref())
        {
            route = Route::DomainAlways;
            break 'found by_fpr(keyring, fpr);
        }
        if let Some((name, local)) = &e.local {
            // An address at one of this host's names: its own certificate comes before
            // the local name's entry.
            if rcpt.domain().is_some()
                && let Ok((certs, r)) = personal_or_untagged(keyring, rcpt, e.case)
            {
                route = r;
                break 'found Ok(certs);
            }
            if let Some(fpr) = local.key.as_deref() {
                route = Route::LocalPinned(name.clone());
                break 'found by_fpr(keyring, fpr);
            }
            if let Some(a) = &local.alias {
                lookup = a.clone();
                route = Route::LocalAlias(name.clone());
            }
        } else if let Some(a) = e.exact.and_then(|r| r.alias.as_ref()) {
            lookup = a.clone();
            route = Route::Alias;
        }
        let found = match personal_or_untagged(keyring, &lookup, e.case) {
            Ok((certs, r)) => {
                if matches!(r, Route::Untagged(_)) {
                    route = r;
                }
                Ok(certs)
            }
            // A local name that no entry routes: say how to route it.
            Err(why) if e.is_local && rule.is_none() && why == "no certificate" => {
                Err(local_hint(rcpt.local()))
            }
            Err(why) => Err(why),
        };
        match (found, domain_rule.and_then(|r| r.key.as_deref())) {
            (Ok(c), _) => Ok(c),
            (Err(_), Some(fpr)) => {
                route = Route::DomainKey;
                by_fpr(keyring, fpr)
            }
            (Err(e), None) => Err(e),
        }
    };
    (result, lookup, route)
}

/// One suite for several: theirs when they agree, else AES-128 with OCB (which every RFC
/// 9580 implementation reads); `None` when one of them is `None`.
fn common_suite(suites: impl IntoIterator<Item = Option<Suite>>) -> Option<Suite> {
    let mut out: Option<Suite> = None;
    for s in suites {
        let s = s?;
        out = Some(match out {
            Some(o) if o != s => COMMON_SUITE,
            _ => s,
        });
    }
    out
}

/// Encrypt to every usable key of `certs`, each certificate once; AES-128 when one of them
/// asks for it; SEIPD v2 when all take it, or one has a key reached only that way (version
/// 6 or post-quantum).
fn encrypt_to(certs: Vec<&crate::keys::Cert>) -> Decision {
    let mut keys: Vec<EncryptionKey> = Vec::new();
    let mut fprs = Vec::new();
    let mut suites = Vec::new();
    let mut cipher = pgp::crypto::sym::SymmetricKeyAlgorithm::AES256;
    for c in certs {
        // The same certificate may be in two sources: use it once.
        if fprs.contains(&c.fingerprint) {
            continue;
        }
        if let Ok(k) = &c.usable {
            keys.extend(k.iter().cloned());
            fprs.push(c.fingerprint.clone());
            suites.push(c.aead);
            if c.cipher == pgp::crypto::sym::SymmetricKeyAlgorithm::AES128 {
                cipher = c.cipher;
            }
        }
    }
    let aead = common_suite(suites.iter().copied()).or_else(|| {
        keys.iter()
            .any(EncryptionKey::needs_seipd_v2)
            .then(|| common_suite(suites.into_iter().flatten().map(Some)).unwrap_or(COMMON_SUITE))
    });
    Decision::Encrypt {
        keys,
        certs: fprs,
        cipher,
        aead,
    }
}

/// The usable certificates of `addr`, else of `addr` without its `+tag` (with
/// [`Route::Untagged`]); else the reason for `addr` itself.
fn personal_or_untagged<'a>(
    keyring: &'a Keyring,
    addr: &Address,
    case: LocalCase,
) -> std::result::Result<(Vec<&'a crate::keys::Cert>, Route), String> {
    match personal(keyring, addr, case) {
        Ok(c) => Ok((c, Route::Own)),
        Err(why) => match strip_tag(addr) {
            Some(u) => match personal(keyring, &u, case) {
                Ok(c) => Ok((c, Route::Untagged(u))),
                Err(_) => Err(why),
            },
            None => Err(why),
        },
    }
}

/// One encrypted copy: its recipients, the keys it is encrypted to (each once), and its
/// body's format: SEIPD v2 with this suite, or SEIPD v1 (`None`).
#[derive(Debug, Clone)]
pub struct Group {
    pub rcpts: Vec<Address>,
    pub keys: Vec<EncryptionKey>,
    pub aead: Option<Suite>,
}

impl Group {
    /// Adds a recipient and those of its keys the copy does not have yet (two visible
    /// recipients may share keys: an alias, a domain key; one PKESK each).
    fn add(&mut self, r: &Address, keys: &[EncryptionKey]) {
        self.rcpts.push(r.clone());
        for k in keys {
            if !self.keys.iter().any(|g| g.fingerprint() == k.fingerprint()) {
                self.keys.push(k.clone());
            }
        }
    }
}

/// The copies a message becomes (rule 10, docs/message.md): one encrypted to every visible
/// recipient (two when they cannot share one format, rule 8), one for each hidden
/// recipient, and one unencrypted copy for each recipient that `missing_key = "plaintext"`
/// allows to go without a key.
#[derive(Debug, Clone)]
pub struct Plan {
    pub encrypted: Vec<Group>,
    /// The cipher of the SEIPD v1 copies (they share one session key): AES-256 unless
    /// some recipient's key does not list it.
    pub cipher: pgp::crypto::sym::SymmetricKeyAlgorithm,
    pub plaintext: Vec<Address>,
}

impl Plan {
    /// How many formats the encrypted copies are in (each is encrypted once).
    pub fn formats(&self) -> usize {
        let mut seen: Vec<Option<Suite>> = Vec::new();
        for g in &self.encrypted {
            if !seen.contains(&g.aead) {
                seen.push(g.aead);
            }
        }
        seen.len()
    }
}

/// A visible recipient with its keys and format.
type Visible<'a> = (&'a Address, &'a [EncryptionKey], Option<Suite>);

/// The visible recipients' copies (rule 8, docs/message.md): one in SEIPD v2 when all take
/// it; else one in SEIPD v1 when none needs SEIPD v2 (a version 6 or post-quantum key);
/// else one of each,
/// those that take SEIPD v2 in that one.
fn visible_groups(visible: &[Visible]) -> Vec<Group> {
    let group = |aead| Group {
        rcpts: Vec::new(),
        keys: Vec::new(),
        aead,
    };
    let all_v2 = visible.iter().all(|(_, _, a)| a.is_some());
    let needs_v2 = visible
        .iter()
        .any(|(_, k, _)| k.iter().any(EncryptionKey::needs_seipd_v2));
    if all_v2 || !needs_v2 {
        let aead = if all_v2 {
            common_suite(visible.iter().map(|v| v.2))
        } else {
            None
        };
        let mut g = group(aead);
        visible.iter().for_each(|(r, k, _)| g.add(r, k));
        return vec![g];
    }
    let aead = common_suite(visible.iter().filter_map(|v| v.2).map(Some));
    let (mut v1, mut v2) = (group(None), group(aead));
    for (r, k, a) in visible {
        if a.is_some() { &mut v2 } else { &mut v1 }.add(r, k);
    }
    vec![v1, v2]
}

/// Groups the decided recipients into copies.
pub fn plan(decisions: &[(Address, Decision)], envelope: &Envelope) -> Plan {
    use pgp::crypto::sym::SymmetricKeyAlgorithm;
    let mut p = Plan {
        encrypted: Vec::new(),
        cipher: SymmetricKeyAlgorithm::AES256,
        plaintext: Vec::new(),
    };
    let mut visible: Vec<Visible> = Vec::new();
    // Where the visible copies go: before the first hidden copy that follows a visible
    // recipient.
    let mut visible_at: Option<usize> = None;
    for (r, d) in decisions {
        let (keys, cipher, aead) = match d {
            Decision::Encrypt {
                keys, cipher, aead, ..
            } => (keys, cipher, aead),
            Decision::Plaintext { .. } => {
                p.plaintext.push(r.clone());
                continue;
            }
            Decision::Refuse { .. } => continue,
        };
        if *cipher == SymmetricKeyAlgorithm::AES128 {
            p.cipher = SymmetricKeyAlgorithm::AES128;
        }
        if envelope.is_visible(r) {
            visible_at.get_or_insert(p.encrypted.len());
            visible.push((r, keys, *aead));
        } else {
            let mut g = Group {
                rcpts: Vec::new(),
                keys: Vec::new(),
                aead: *aead,
            };
            g.add(r, keys);
            p.encrypted.push(g);
        }
    }
    if let Some(at) = visible_at {
        let groups = visible_groups(&visible);
        p.encrypted.splice(at..at, groups);
    }
    p
}

/// `user+tag@domain` → `user@domain`.
fn strip_tag(a: &Address) -> Option<Address> {
    let domain = a.domain()?;
    let (user, _) = a.local().split_once('+')?;
    if user.is_empty() {
        return None;
    }
    Address::parse_single(&format!("{user}@{domain}")).ok()
}

/// Usable certificates with a user ID for `addr`, or the most telling reason there are none.
fn personal<'a>(
    keyring: &'a Keyring,
    addr: &Address,
    case: LocalCase,
) -> std::result::Result<Vec<&'a crate::keys::Cert>, String> {
    if addr.domain().is_none() {
        return Err(local_hint(addr.as_str()));
    }
    let all: Vec<&crate::keys::Cert> = keyring.by_email(addr, case).collect();
    usable_or_reason(all)
}

fn by_fpr<'a>(
    keyring: &'a Keyring,
    fpr: &str,
) -> std::result::Result<Vec<&'a crate::keys::Cert>, String> {
    match keyring.by_fingerprint(fpr) {
        Some(c) => usable_or_reason(vec![c]),
        None => Err(format!(
            "no certificate with fingerprint {fpr} in the keyring"
        )),
    }
}

fn usable_or_reason(
    all: Vec<&crate::keys::Cert>,
) -> std::result::Result<Vec<&crate::keys::Cert>, String> {
    if all.is_empty() {
        return Err("no certificate".into());
    }
    let usable: Vec<_> = all.iter().copied().filter(|c| c.usable.is_ok()).collect();
    if !usable.is_empty() {
        return Ok(usable);
    }
    let reasons: Vec<String> = all
        .iter()
        .map(|c| {
            let why = c
                .usable
                .as_ref()
                .err()
                .unwrap_or(&Unusable::NoEncryptionKey);
            format!("certificate {} {why}", c.fingerprint)
        })
        .collect();
    Err(reasons.join("; "))
}
