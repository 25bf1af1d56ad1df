//! The configuration file, `pgpsendmail.toml(5)`.
//!
//! Owns: finding the file (`PGPSENDMAIL_CONFIG`, else `/etc/pgpsendmail/pgpsendmail.toml`),
//! parsing it strictly and validating every value. The setting names are a contract.
//!
//! Untrusted input: the file's bytes (it may be empty, a directory, not UTF-8, or name
//! unknown keys). Every problem is an [`Error::Config`] naming the file, the line and the
//! key. A missing file at the default path is valid (defaults apply); a missing file named
//! by `PGPSENDMAIL_CONFIG` is an error, since somebody asked for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diag::sanitize;
use crate::error::{Error, Result};
use crate::message::address::Address;
use crate::message::canonical::{self, LocalCase};

pub const DEFAULT_PATH: &str = "/etc/pgpsendmail/pgpsendmail.toml";
pub const DEFAULT_KEYRING: &str = "/etc/pgpsendmail/keys";
pub const DEFAULT_SUBJECT: &str = "[...]";
pub const DEFAULT_WARN_DAYS: u32 = 30;
pub const DEFAULT_CACHE_DIR: &str = "/var/cache/pgpsendmail";
/// `[discovery] dir`: where `keys fetch` and `keys refresh` keep what they found.
pub const DEFAULT_DISCOVERED_DIR: &str = "/var/lib/pgpsendmail/discovered";
/// `[discovery] timeout`, seconds per request.
pub const DEFAULT_DISCOVERY_TIMEOUT: u64 = 10;
/// `batch_copies`: two copies already cost two runs of the real sendmail one at a time,
/// where one `-bs` run takes both for the cost of one start and a few local round trips.
pub const DEFAULT_BATCH_COPIES: usize = 2;
/// `handoff_jobs`: 0, one run of the real sendmail at once per CPU this process may use.
pub const DEFAULT_HANDOFF_JOBS: usize = 0;
/// `handoff_smtp`'s value checked: an IP address on loopback and a port (`127.0.0.1:25`,
/// `[::1]:25`), never a name, which could resolve elsewhere. Returns it as given.
fn loopback_listener(v: &str) -> std::result::Result<String, String> {
    match v.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_loopback() && a.port() != 0 => Ok(v.to_string()),
        _ => Err(
            "must be a loopback address and port, such as 127.0.0.1:25 or [::1]:25 (the \
             MTA's own SMTP listener on this host)"
                .into(),
        ),
    }
}

/// Largest `handoff_jobs`: more runs at once than this only crowd the MTA.
const MAX_HANDOFF_JOBS: usize = 64;
/// Largest configuration file read, so a hostile path (a device, a huge file) cannot stall us.
const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Which MTA the real sendmail is: decides which options survive downstream
/// (pgpsendmail(8), THE REAL SENDMAIL; docs/interface.md section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    #[default]
    Postfix,
    Sendmail,
    Exim,
    Msmtp,
    Opensmtpd,
    Nullmailer,
    Dma,
    Ssmtp,
}

impl Flavor {
    /// The configuration value naming this flavor (`postfix`, `exim`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Postfix => "postfix",
            Flavor::Sendmail => "sendmail",
            Flavor::Exim => "exim",
            Flavor::Msmtp => "msmtp",
            Flavor::Opensmtpd => "opensmtpd",
            Flavor::Nullmailer => "nullmailer",
            Flavor::Dma => "dma",
            Flavor::Ssmtp => "ssmtp",
        }
    }

    /// Whether this MTA's sendmail exits 75 after queueing the message for later: OpenSMTPD's
    /// `smtpctl`, which writes it to its offline queue when `smtpd` is not running. For the
    /// others 75 means the message was not taken (Postfix's sendmail, for one, exits 75 when
    /// it cannot write the queue file; msmtp and ssmtp keep no queue at all).
    pub fn tempfail_is_queued(self) -> bool {
        self == Flavor::Opensmtpd
    }

    /// Whether this MTA's sendmail reads an SMTP session on standard input and answers on
    /// standard output with `-bs` (Postfix, Sendmail, Exim), so that many copies can be
    /// handed to one run as successive transactions. msmtp, nullmailer, dma, ssmtp and
    /// OpenSMTPD's smtpctl have no `-bs`.
    pub fn reads_smtp(self) -> bool {
        matches!(self, Flavor::Postfix | Flavor::Sendmail | Flavor::Exim)
    }

    /// The flavor of a real sendmail, from the name of the file it resolves to (its
    /// symlinks followed): `exim4` is Exim, `msmtp` msmtp, `smtpctl` OpenSMTPD, ... . A
    /// name that says nothing (`sendmail`, a diverted `sendmail.real`: nullmailer's and
    /// Postfix's own programs are both called that) is then looked up in the file lists
    /// of the Debian packages that install a system sendmail ([`PACKAGES`], under `root`
    /// for the tests), when it is the system's sendmail (`/usr/sbin/sendmail`,
    /// `/usr/lib/sendmail`) or the diverted one; anything else is Postfix, the default.
    pub fn infer(program: &Path, root: Option<&Path>) -> Flavor {
        Flavor::recognize(program, root).unwrap_or(Flavor::Postfix)
    }

    /// The flavor that the name or the package list shows (see [`Flavor::infer`]), if any.
    pub fn recognize(program: &Path, root: Option<&Path>) -> Option<Flavor> {
        let resolved = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
        for p in [program, resolved.as_path()] {
            if let Some(f) = Flavor::by_name(p) {
                return Some(f);
            }
        }
        // The system's sendmail, or the takeover's diverted name of it: what the package
        // lists say is about that file only.
        let base = root.unwrap_or(Path::new("/"));
        let system = [
            "usr/sbin/sendmail",
            "usr/lib/sendmail",
            "usr/sbin/sendmail.real",
        ]
        .map(|p| base.join(p));
        if system.iter().any(|s| s == program || s == &resolved) {
            return Flavor::by_package(root);
        }
        None
    }

    /// The flavor a program's own name (or path) tells, if any.
    fn by_name(p: &Path) -> Option<Flavor> {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match name {
            n if n.starts_with("exim") || n == "sendmail.exim" => Some(Flavor::Exim),
            n if n.starts_with("msmtp") => Some(Flavor::Msmtp),
            "smtpctl" => Some(Flavor::Opensmtpd),
            n if n.starts_with("ssmtp") || n == "sendmail.ssmtp" => Some(Flavor::Ssmtp),
            "dma" => Some(Flavor::Dma),
            "sendmail.sendmail" => Some(Flavor::Sendmail),
            _ if p.starts_with("/usr/libexec/sendmail") || p.starts_with("/usr/lib/sm.bin") => {
                Some(Flavor::Sendmail)
            }
            _ if p.to_str().is_some_and(|s| s.contains("nullmailer")) => Some(Flavor::Nullmailer),
            _ => None,
        }
    }

    /// The flavor of the installed Debian package whose file list (dpkg's
    /// `/var/lib/dpkg/info/PACKAGE.list`) holds `/usr/sbin/sendmail`; a diversion renames
    /// the file but leaves the package's list as it was.
    fn by_package(root: Option<&Path>) -> Option<Flavor> {
        let info = root.unwrap_or(Path::new("/")).join("var/lib/dpkg/info");
        PACKAGES.iter().find_map(|&(package, flavor)| {
            let list = std::fs::read(info.join(format!("{package}.list"))).ok()?;
            list.split(|&b| b == b'\n')
                .any(|line| line == b"/usr/sbin/sendmail")
                .then_some(flavor)
        })
    }
}

/// The Debian packages that install `/usr/sbin/sendmail`, and their flavors (a flat table;
/// only one of them can be installed at a time: they all provide mail-transport-agent).
pub const PACKAGES: &[(&str, Flavor)] = &[
    ("postfix", Flavor::Postfix),
    ("sendmail-bin", Flavor::Sendmail),
    ("exim4-daemon-light", Flavor::Exim),
    ("exim4-daemon-heavy", Flavor::Exim),
    ("exim4-base", Flavor::Exim),
    ("opensmtpd", Flavor::Opensmtpd),
    ("nullmailer", Flavor::Nullmailer),
    ("dma", Flavor::Dma),
    ("ssmtp", Flavor::Ssmtp),
    ("msmtp-mta", Flavor::Msmtp),
];

/// What happens to a recipient without a usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MissingKey {
    /// Send nothing; exit 67 naming the recipient (the default).
    #[default]
    Refuse,
    /// Explicit opt-in: that recipient gets its own unencrypted copy.
    Plaintext,
}

/// What happens to a message when `sign_key` is set but the running user cannot read the
/// key file (pgpsendmail.toml(5), `sign_unreadable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SignUnreadable {
    /// Send it unsigned, with a warning on stderr and in the mail log (the default: the key
    /// is root's, and mail from other users must not stop for want of it).
    #[default]
    Unsigned,
    /// Send nothing; exit 78.
    Refuse,
}

/// One `[recipients]` entry, keyed by exact address, bare local name or `@domain`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RecipientRule {
    /// Look the key up under this address instead (the envelope recipient is unchanged).
    pub alias: Option<String>,
    /// Pin one certificate by fingerprint (hex, spaces allowed).
    pub key: Option<String>,
    /// Per-recipient or per-domain override of the global `missing_key`.
    pub missing_key: Option<MissingKey>,
    /// For `@domain` entries with `key`: use the domain key even when a personal key exists.
    #[serde(default)]
    pub always: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    sendmail: Option<PathBuf>,
    flavor: Option<Flavor>,
    keyring: Option<Vec<PathBuf>>,
    missing_key: Option<MissingKey>,
    subject: Option<String>,
    warn_days: Option<u32>,
    cache_dir: Option<PathBuf>,
    local_domains: Option<Vec<String>>,
    local_part_case: Option<LocalCase>,
    legacy_display: Option<bool>,
    qualify_domain: Option<String>,
    sign_key: Option<PathBuf>,
    sign_unreadable: Option<SignUnreadable>,
    batch_copies: Option<usize>,
    handoff_jobs: Option<usize>,
    handoff_smtp: Option<String>,
    #[serde(default)]
    recipients: BTreeMap<String, RecipientRule>,
    discovery: Option<RawDiscovery>,
    smtp: Option<RawSmtp>,
    serve: Option<RawServe>,
}

/// The `[discovery]` section as written (pgpsendmail.toml(5), `[discovery]`).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDiscovery {
    dir: Option<PathBuf>,
    wkd: Option<bool>,
    keyservers: Option<Vec<String>>,
    key_changes: Option<KeyChanges>,
    timeout: Option<u64>,
}

/// What a refresh does with a certificate of a different fingerprint for an address that
/// already has a discovered one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KeyChanges {
    /// Held as pending until `keys accept` or `keys reject` (the default).
    #[default]
    Hold,
    /// Taken at once, replacing the known one.
    Accept,
}

/// The validated `[discovery]` section: how `keys fetch` and `keys refresh` find keys. The
/// send path never uses the network; it reads `dir` like any key directory, ranked below
/// the `keyring` sources (pgpsendmail(8), KEYS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub dir: PathBuf,
    /// Look addresses up by WKD (advanced, then direct method).
    pub wkd: bool,
    /// Base URLs (`https://` only) of VKS keyservers, tried in order after WKD.
    pub keyservers: Vec<String>,
    pub key_changes: KeyChanges,
    /// Seconds each request may take, from connecting to the last byte.
    pub timeout: u64,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery {
            dir: PathBuf::from(DEFAULT_DISCOVERED_DIR),
            wkd: true,
            keyservers: Vec::new(),
            key_changes: KeyChanges::Hold,
            timeout: DEFAULT_DISCOVERY_TIMEOUT,
        }
    }
}

/// `[smtp]`: the SMTP faces' limits (pgpsendmail.toml(5), `[smtp]`).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    size_limit: Option<u64>,
    command_timeout: Option<u64>,
    data_timeout: Option<u64>,
}

/// The validated `[smtp]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Smtp {
    /// The largest message taken, before encryption, in bytes; `Some(0)`: no limit; `None`:
    /// the real MTA's limit allowing for encryption's growth, where it can be found.
    pub size_limit: Option<u64>,
    /// Seconds a server waits for a command (`None`: RFC 5321's 300).
    pub command_timeout: Option<u64>,
    /// Seconds a server waits for more data inside DATA (`None`: RFC 5321's 180).
    pub data_timeout: Option<u64>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from (for messages); `None` when defaults are used.
    pub path: Option<PathBuf>,
    pub sendmail: Option<PathBuf>,
    /// `None`: inferred from the real sendmail's path (see [`Flavor::infer`]).
    pub flavor: Option<Flavor>,
    pub keyring: Vec<PathBuf>,
    pub missing_key: MissingKey,
    pub subject: String,
    /// A key used for a message that expires within this many days is warned about.
    pub warn_days: u32,
    /// Where key indexes are kept, when the configuration says (see
    /// [`crate::keys::index::cache_dir`] for the default and for users other than root).
    pub cache_dir: Option<PathBuf>,
    /// More names of this host (`local_domains`), lower-case, without a trailing dot: an
    /// address at one of them is a local name (see [`Config::is_local_domain`]).
    pub local_domains: Vec<String>,
    /// This host's own names, found by [`Config::load`] ([`host_names`]); empty after
    /// [`Config::parse`] alone.
    pub host_names: Vec<String>,
    /// How local parts are compared when keys are looked up (`local_part_case`).
    pub local_part_case: LocalCase,
    /// `legacy_display`: the real Subject leads the main text part (docs/message.md, rule 20).
    pub legacy_display: bool,
    /// `qualify_domain`: the domain added to bare local names in the message (rule 17);
    /// `None`: this host's canonical name ([`Config::qualify_domain`]).
    pub qualify_domain: Option<String>,
    /// `sign_key`: the secret key file whose key signs every encrypted copy
    /// ([`crate::openpgp::sign`]); `None`: nothing is signed.
    pub sign_key: Option<PathBuf>,
    /// `sign_unreadable`: what happens when the running user cannot read `sign_key`.
    pub sign_unreadable: SignUnreadable,
    /// `batch_copies`: from this many copies of one message on, a flavor whose sendmail
    /// reads SMTP on standard input ([`Flavor::reads_smtp`]) gets them all in one `-bs` run;
    /// 0: never (pgpsendmail(8), THE REAL SENDMAIL).
    pub batch_copies: usize,
    /// `handoff_jobs`: at most this many runs of the real sendmail (or `-bs` sessions) at
    /// once for the copies of one message; 0: one per CPU ([`crate::sendmail::share`]).
    pub handoff_jobs: usize,
    /// `handoff_smtp`: the MTA's SMTP listener (a loopback address and port) that batched
    /// copies go to instead of `sendmail -bs` ([`crate::sendmail::batch::Batch::through`]);
    /// `None`: `sendmail -bs`.
    pub handoff_smtp: Option<String>,
    /// Keys normalized: addresses and local names by [`Address::match_key`] under
    /// `local_part_case`, domains as `@domain` by [`canonical::domain`], fingerprints as
    /// upper-case hex without spaces, aliases parsed.
    pub recipients: BTreeMap<String, Rule>,
    pub discovery: Discovery,
    /// `[smtp]`.
    pub smtp: Smtp,
    /// `[serve]`: the gateway `pgpsendmail serve`.
    pub serve: Serve,
}

/// A validated `[recipients]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub alias: Option<Address>,
    pub key: Option<String>,
    pub missing_key: Option<MissingKey>,
    pub always: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: None,
            sendmail: None,
            flavor: None,
            keyring: vec![PathBuf::from(DEFAULT_KEYRING)],
            missing_key: MissingKey::Refuse,
            subject: DEFAULT_SUBJECT.to_string(),
            warn_days: DEFAULT_WARN_DAYS,
            cache_dir: None,
            local_domains: Vec::new(),
            host_names: Vec::new(),
            local_part_case: LocalCase::Ignore,
            legacy_display: true,
            qualify_domain: None,
            sign_key: None,
            sign_unreadable: SignUnreadable::Unsigned,
            batch_copies: DEFAULT_BATCH_COPIES,
            handoff_jobs: DEFAULT_HANDOFF_JOBS,
            handoff_smtp: None,
            recipients: BTreeMap::new(),
            discovery: Discovery::default(),
            smtp: Smtp::default(),
            serve: Serve::default(),
        }
    }
}

impl Config {
    /// Loads the configuration named by `env_path` (the value of `PGPSENDMAIL_CONFIG`), or
    /// the default path, and finds this host's names ([`host_names`]).
    pub fn load(env_path: Option<&Path>) -> Result<Config> {
        let mut cfg = match env_path {
            Some(p) => Self::load_file(p)?,
            None => {
                let p = Path::new(DEFAULT_PATH);
                match std::fs::symlink_metadata(p) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
                    _ => Self::load_file(p)?,
                }
            }
        };
        cfg.host_names = host_names();
        Ok(cfg)
    }

    /// Whether `domain` is one of this host's own names, so that an address there is the
    /// local name itself: `localhost`, `localhost.localdomain`, the host name and its
    /// canonical name ([`host_names`]), a loopback address literal (`[127.0.0.1]`,
    /// `[IPv6:::1]`, in any spelling), or a name in `local_domains`. In any of the domain's
    /// spellings ([`canonical::domain`]: case, punycode); one trailing dot is ignored.
    pub fn is_local_domain(&self, domain: &str) -> bool {
        let d = canonical::domain(domain.strip_suffix('.').unwrap_or(domain));
        if let Some(lit) = d.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let ip = match lit.strip_prefix("ipv6:") {
                Some(v6) => v6
                    .parse::<std::net::Ipv6Addr>()
                    .ok()
                    .map(std::net::IpAddr::V6),
                None => lit
                    .parse::<std::net::Ipv4Addr>()
                    .ok()
                    .map(std::net::IpAddr::V4),
            };
            return ip.is_some_and(|ip| ip.is_loopback()) || self.local_domains.contains(&d);
        }
        d == "localhost"
            || d == "localhost.localdomain"
            || self
                .host_names
                .iter()
                .chain(&self.local_domains)
                .any(|n| canonical::domain(n) == d)
    }

    /// Reads and validates one file.
    pub fn load_file(path: &Path) -> Result<Config> {
        let shown = sanitize(&path.display().to_string());
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::Config(format!("{shown}: cannot read configuration: {e}")))?;
        if !meta.is_file() {
            return Err(Error::Config(format!(
                "{shown}: configuration is not a regular file"
            )));
        }
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(Error::Config(format!(
                "{shown}: configuration is larger than {MAX_CONFIG_BYTES} bytes"
            )));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| Error::Config(format!("{shown}: cannot read configuration: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            Error::Config(format!("{shown}:{line}: configuration is not valid UTF-8"))
        })?;
        let mut cfg = Self::parse(&text, &shown)?;
        cfg.path = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Parses and validates configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let src = Source { text, origin };
        let mut raw: RawConfig = toml::from_str(text).map_err(|e| src.syntax_error(&e))?;
        let recipients = std::mem::take(&mut raw.recipients);
        let local_domains = raw.local_domains.take();
        let discovery = raw.discovery.take();
        let smtp = raw.smtp.take();
        let serve = raw.serve.take();
        let mut cfg = Self::settings(raw, &src)?;
        if let Some(d) = discovery {
            cfg.discovery = discovery_section(d, &src)?;
        }
        if let Some(smtp) = smtp {
            cfg.smtp = smtp_section(smtp, &src)?;
        }
        if let Some(s) = serve {
            cfg.serve = serve_section(s, &src)?;
        }
        if let Some(list) = local_domains {
            cfg.local_domains = local_domain_list(list, &src)?;
        }
        cfg.recipients = recipient_table(recipients, cfg.local_part_case, &src)?;
        Ok(cfg)
    }

    /// The top-level settings of `raw` (all but `local_domains` and `[recipients]`),
    /// checked one by one; defaults for those not given.
    fn settings(raw: RawConfig, src: &Source<'_>) -> Result<Config> {
        let err = |key: &str, msg: String| src.key_error(key, msg);
        let mut cfg = Config::default();
        if let Some(p) = raw.sendmail {
            if !p.is_absolute() {
                return Err(err("sendmail", "must be an absolute path".into()));
            }
            cfg.sendmail = Some(p);
        }
        cfg.flavor = raw.flavor;
        cfg.local_part_case = raw.local_part_case.unwrap_or_default();
        if let Some(k) = raw.keyring {
            if let Some(bad) = k.iter().find(|p| !p.is_absolute()) {
                return Err(err(
                    "keyring",
                    format!(
                        "'{}' is not an absolute path",
                        sanitize(&bad.display().to_string())
                    ),
                ));
            }
            cfg.keyring = k;
        }
        if let Some(m) = raw.missing_key {
            cfg.missing_key = m;
        }
        if let Some(s) = raw.subject {
            if s.is_empty() || !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                return Err(err(
                    "subject",
                    "must be non-empty printable ASCII (it becomes the outer Subject)".into(),
                ));
            }
            cfg.subject = s;
        }
        if let Some(d) = raw.warn_days {
            if d > 3650 {
                return Err(err(
                    "warn_days",
                    "must be a number of days from 0 to 3650".into(),
                ));
            }
            cfg.warn_days = d;
        }
        if let Some(d) = raw.cache_dir {
            if !d.is_absolute() {
                return Err(err("cache_dir", "must be an absolute path".into()));
            }
            cfg.cache_dir = Some(d);
        }
        cfg.legacy_display = raw.legacy_display.unwrap_or(true);
        if let Some(k) = raw.sign_key {
            if !k.is_absolute() {
                return Err(err("sign_key", "must be an absolute path".into()));
            }
            cfg.sign_key = Some(k);
        }
        cfg.sign_unreadable = raw.sign_unreadable.unwrap_or_default();
        if let Some(n) = raw.batch_copies {
            if n == 1 || n > 1_000_000 {
                return Err(err(
                    "batch_copies",
                    "must be 0 (never) or a number of copies from 2 to 1000000".into(),
                ));
            }
            cfg.batch_copies = n;
        }
        if let Some(a) = raw.handoff_smtp {
            cfg.handoff_smtp = Some(loopback_listener(&a).map_err(|why| err("handoff_smtp", why))?);
        }
        if let Some(n) = raw.handoff_jobs {
            if n > MAX_HANDOFF_JOBS {
                return Err(err(
                    "handoff_jobs",
                    format!(
                        "must be 0 (one per CPU) or a number of runs from 1 to {MAX_HANDOFF_JOBS}"
                    ),
                ));
            }
            cfg.handoff_jobs = n;
        }
        if let Some(d) = raw.qualify_domain {
            let d = normalize_local_domain(&d).ok_or_else(|| {
                err(
                    "qualify_domain",
                    "must be a domain name or an address literal".into(),
                )
            })?;
            cfg.qualify_domain = Some(d);
        }
        Ok(cfg)
    }
}

/// The configuration text being parsed and its name, for errors with file, line and key.
struct Source<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Source<'_> {
    /// `origin:line` where the line is known, else `origin`.
    fn at(&self, line: usize) -> String {
        if line > 0 {
            format!("{}:{line}", self.origin)
        } else {
            self.origin.to_string()
        }
    }

    /// A TOML syntax or type error, at the line (and key) where the parser found it.
    fn syntax_error(&self, e: &toml::de::Error) -> Error {
        let text = self.text;
        let (line, key) = match e.span() {
            // An empty span at the start of a line: the parser ran past the end of the
            // line before it (a missing `}`, `]` or comma there).
            Some(span) if span.is_empty() && ran_past_a_line_end(text, span.start) => {
                locate(text, end_of_previous_line(text, span.start))
            }
            Some(span) => locate(text, span.start),
            None => (0, String::new()),
        };
        let msg = e.message().replace('\n', " ");
        let at = self.at(line);
        if key.is_empty() {
            Error::Config(format!("{at}: {msg}"))
        } else {
            Error::Config(format!("{at}: {}: {msg}", sanitize(&key)))
        }
    }

    /// A bad value of `key`, at the line that sets it.
    fn key_error(&self, key: &str, msg: String) -> Error {
        let at = self.at(find_key_line(self.text, key));
        Error::Config(format!("{at}: {}: {msg}", sanitize(key)))
    }
}

/// `[discovery]`: `dir` absolute, every keyserver an `https://` URL, a timeout of 1 to 300
/// seconds.
fn discovery_section(raw: RawDiscovery, src: &Source<'_>) -> Result<Discovery> {
    let mut d = Discovery::default();
    if let Some(dir) = raw.dir {
        if !dir.is_absolute() {
            return Err(src.key_error("dir", "must be an absolute path".into()));
        }
        d.dir = dir;
    }
    d.wkd = raw.wkd.unwrap_or(d.wkd);
    for url in raw.keyservers.unwrap_or_default() {
        let host = url.strip_prefix("https://").unwrap_or("");
        let host = host.split('/').next().unwrap_or("");
        if host.is_empty() || !url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(src.key_error(
                "keyservers",
                format!(
                    "'{}' is not an https:// URL (only HTTPS is used)",
                    sanitize(&url)
                ),
            ));
        }
        d.keyservers.push(url.trim_end_matches('/').to_string());
    }
    d.key_changes = raw.key_changes.unwrap_or_default();
    if let Some(t) = raw.timeout {
        if !(1..=300).contains(&t) {
            return Err(src.key_error("timeout", "must be 1 to 300 seconds".into()));
        }
        d.timeout = t;
    }
    Ok(d)
}

/// `[smtp]`: timeouts from 1 second to a day.
fn smtp_section(raw: RawSmtp, src: &Source<'_>) -> Result<Smtp> {
    for (key, v) in [
        ("command_timeout", raw.command_timeout),
        ("data_timeout", raw.data_timeout),
    ] {
        if v.is_some_and(|s| !(1..=86_400).contains(&s)) {
            return Err(src.key_error(key, "must be a number of seconds from 1 to 86400".into()));
        }
    }
    Ok(Smtp {
        size_limit: raw.size_limit,
        command_timeout: raw.command_timeout,
        data_timeout: raw.data_timeout,
    })
}

/// `local_domains`: each a host name or an address literal, normalized, none twice.
fn local_domain_list(list: Vec<String>, src: &Source<'_>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for d in list {
        let n = normalize_local_domain(&d).ok_or_else(|| {
            src.key_error(
                "local_domains",
                format!(
                    "'{}' is not a host name or an address literal such as [192.0.2.1]",
                    sanitize(&d)
                ),
            )
        })?;
        if out.contains(&n) {
            return Err(src.key_error(
                "local_domains",
                format!("'{}' is listed twice", sanitize(&d)),
            ));
        }
        out.push(n);
    }
    Ok(out)
}

/// `[recipients]`: every entry validated, keyed by its normalized name, none twice.
fn recipient_table(
    raw: BTreeMap<String, RecipientRule>,
    case: LocalCase,
    src: &Source<'_>,
) -> Result<BTreeMap<String, Rule>> {
    let mut out = BTreeMap::new();
    for (name, rule) in raw {
        let (key, rule) = recipient_rule(&name, &rule, case, src)?;
        if out.contains_key(&key) {
            return Err(src.key_error(
                &name,
                "duplicate entry (another spelling of the same address: domains are \
                 compared without regard to case or punycode, local parts as \
                 local_part_case says)"
                    .into(),
            ));
        }
        out.insert(key, rule);
    }
    Ok(out)
}

/// One `[recipients]` entry `name`: its normalized name and its checked rule.
fn recipient_rule(
    name: &str,
    rule: &RecipientRule,
    case: LocalCase,
    src: &Source<'_>,
) -> Result<(String, Rule)> {
    let err = |msg: String| src.key_error(name, msg);
    let key = normalize_rule_key(name, case).map_err(err)?;
    let alias = match &rule.alias {
        Some(a) => Some(
            Address::parse_single(a).map_err(|e| err(format!("alias is not an address: {e}")))?,
        ),
        None => None,
    };
    let fpr =
        match &rule.key {
            Some(k) => Some(normalize_fingerprint(k).ok_or_else(|| {
                err("key must be a full fingerprint (40 or 64 hex digits)".into())
            })?),
            None => None,
        };
    if rule.always && (fpr.is_none() || !key.starts_with('@')) {
        return Err(err(
            "always = true needs a key and an \"@domain\" entry".into()
        ));
    }
    if alias.is_some() && key.starts_with('@') {
        return Err(err("an \"@domain\" entry takes key, not alias".into()));
    }
    if alias.is_some() && fpr.is_some() {
        return Err(err("alias and key exclude each other".into()));
    }
    let rule = Rule {
        alias,
        key: fpr,
        missing_key: rule.missing_key,
        always: rule.always,
    };
    Ok((key, rule))
}

impl Config {
    /// The domain bare local names get (rule 17): `qualify_domain`, else this host's
    /// canonical name (the one with a dot, as Postfix's `myorigin`), else `host`.
    pub fn qualify_domain(&self, host: &str) -> String {
        self.qualify_domain
            .clone()
            .or_else(|| {
                self.host_names
                    .iter()
                    .rev()
                    .find(|n| n.contains('.'))
                    .cloned()
            })
            .or_else(|| self.host_names.first().cloned())
            .unwrap_or_else(|| host.to_ascii_lowercase())
    }
}

/// A `local_domains` value, lower-cased and without a trailing dot: a host name (labels of
/// ASCII letters, digits and `-`, none empty, none starting or ending with `-`) or an address
/// literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`); `None` for anything else.
fn normalize_local_domain(s: &str) -> Option<String> {
    let d = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    if let Some(lit) = d.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
        let ok = match lit.strip_prefix("ipv6:") {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => lit.parse::<std::net::Ipv4Addr>().is_ok(),
        };
        return ok.then_some(d);
    }
    is_host_name(&d).then_some(d)
}

/// Labels of ASCII letters, digits and `-` (not at either end), 1 to 63 bytes each, at most
/// 253 bytes in all.
fn is_host_name(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Largest `/etc/hosts` read when looking for the canonical host name.
const MAX_HOSTS_BYTES: u64 = 1 << 20;

/// This host's own names, lower-case: the kernel's host name ([`crate::sys::host_name`],
/// what gethostname(2) returns) and its canonical name, which is what `hostname -f` prints
/// when the name is in `/etc/hosts`: the first name of the first line that lists it. Only
/// `/etc/hosts` is read (at most 1 MiB); no DNS query is made, so this cannot hang.
pub fn host_names() -> Vec<String> {
    use std::io::Read;
    let host = crate::sys::host_name().trim().to_ascii_lowercase();
    if !is_host_name(&host) || host == "localhost" {
        return Vec::new();
    }
    let mut names = vec![host.clone()];
    let mut hosts = String::new();
    if let Ok(f) = std::fs::File::open("/etc/hosts") {
        let _ = f.take(MAX_HOSTS_BYTES).read_to_string(&mut hosts);
    }
    if let Some(c) = canonical_name(&hosts, &host)
        && !names.contains(&c)
    {
        names.push(c);
    }
    names
}

/// The canonical name of `host` in the text of an `/etc/hosts` file: the first name on the
/// first line that lists `host` (as canonical name or alias), lower-cased; `None` when no
/// line does, or the name found is not a host name.
pub fn canonical_name(hosts: &str, host: &str) -> Option<String> {
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        if fields.next().is_none() {
            continue;
        }
        let names: Vec<&str> = fields.collect();
        if names.iter().any(|n| n.eq_ignore_ascii_case(host)) {
            let c = names[0]
                .strip_suffix('.')
                .unwrap_or(names[0])
                .to_ascii_lowercase();
            return is_host_name(&c).then_some(c);
        }
    }
    None
}

/// `"@Example.COM"` → `"@example.com"`, `"@xn--exmple-cua.org"` → `"@exämple.org"`
/// ([`canonical::domain`]); `"Root"` → `"root"`, `"A@X"` → `"a@x"` ([`Address::match_key`]
/// under `case`); `"*"` (the entry for every local name without one of its own) stays `"*"`.
fn normalize_rule_key(name: &str, case: LocalCase) -> std::result::Result<String, String> {
    if name == "*" {
        return Ok(name.to_string());
    }
    if let Some(domain) = name.strip_prefix('@') {
        if domain.is_empty()
            || domain
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "@<>,;\"".contains(c))
        {
            return Err("not a valid \"@domain\" entry".into());
        }
        return Ok(format!("@{}", canonical::domain(domain)));
    }
    Address::parse_single(name)
        .map(|a| a.match_key(case))
        .map_err(|e| format!("not an address, local name or \"@domain\": {e}"))
}

/// Upper-case hex fingerprint without spaces, or `None` when it is not 40 or 64 hex digits.
pub fn normalize_fingerprint(s: &str) -> Option<String> {
    let hex: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .trim_start_matches("0x")
        .trim_start_matches("0X")
        .to_ascii_uppercase();
    let ok = (hex.len() == 40 || hex.len() == 64) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(hex)
}

/// Where `pgpsendmail serve` listens: a TCP address on loopback or a unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(std::net::SocketAddr),
    Unix(PathBuf),
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Tcp(a) => write!(f, "{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Default `[serve]` `listen`: Postfix's customary content-filter port.
pub const DEFAULT_SERVE_LISTEN: &str = "127.0.0.1:10025";
/// Default `[serve]` `relay`: Postfix's customary reinjection smtpd.
pub const DEFAULT_SERVE_RELAY: &str = "127.0.0.1:10026";
/// Default `[serve]` `max_sessions`: sessions served at once (pgpsendmail(8), SERVE).
pub const DEFAULT_SERVE_SESSIONS: usize = 20;
/// Largest `max_sessions` accepted: each session is a thread with bounded memory.
pub const MAX_SERVE_SESSIONS: usize = 1000;
/// Largest `max_recipients` accepted.
pub const MAX_SERVE_RECIPIENTS: usize = 100_000;

/// A `listen` value: `IP:PORT` (`[IPv6]:PORT`) on loopback, or `unix:/absolute/path`. A host
/// name is refused (no lookup: what it resolves to could change), and so is any address
/// that is not loopback: a content filter never faces the network.
pub fn parse_listen(s: &str) -> std::result::Result<Listen, String> {
    if let Some(p) = s.strip_prefix("unix:") {
        let p = PathBuf::from(p);
        if !p.is_absolute() {
            return Err(format!(
                "'{}': a unix socket needs an absolute path",
                sanitize(s)
            ));
        }
        return Ok(Listen::Unix(p));
    }
    let a: std::net::SocketAddr = s.parse().map_err(|_| {
        format!(
            "'{}' is not 127.0.0.1:PORT, [::1]:PORT or unix:/path",
            sanitize(s)
        )
    })?;
    if !a.ip().is_loopback() {
        return Err(format!(
            "'{}' is not a loopback address: serve listens on loopback and unix sockets only",
            sanitize(s)
        ));
    }
    if a.port() == 0 {
        return Err(format!(
            "'{}': port 0 is not a port to listen on",
            sanitize(s)
        ));
    }
    Ok(Listen::Tcp(a))
}

/// A `relay` value: `HOST:PORT` (a name, an IPv4 address or `[IPv6]`) with a port from 1.
pub fn check_relay(s: &str) -> std::result::Result<(), String> {
    let bad = || format!("'{}' is not HOST:PORT", sanitize(s));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    if !port.parse::<u16>().is_ok_and(|p| p > 0) {
        return Err(bad());
    }
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            host.parse::<std::net::Ipv4Addr>().is_ok() || is_host_name(&host.to_ascii_lowercase())
        }
    };
    if host_ok { Ok(()) } else { Err(bad()) }
}

/// `[serve]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServe {
    listen: Option<Vec<String>>,
    relay: Option<String>,
    max_sessions: Option<usize>,
    message_size_limit: Option<u64>,
    max_recipients: Option<usize>,
    command_timeout: Option<u64>,
    data_timeout: Option<u64>,
}

/// `[serve]`, validated: what `pgpsendmail serve` does unless its flags say otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serve {
    pub listen: Vec<Listen>,
    /// The next hop, `HOST:PORT` ([`check_relay`]).
    pub relay: String,
    /// Sessions served at once; one more is answered 421 4.3.2 and closed.
    pub max_sessions: usize,
    /// The next hop's size limit in bytes (Postfix's `message_size_limit`); 0: none.
    pub message_size_limit: u64,
    /// Recipients in one transaction; more are answered 452 4.5.3.
    pub max_recipients: usize,
    /// Seconds a session waits for a command (RFC 5321 4.5.3.2.7).
    pub command_timeout: u64,
    /// Seconds a session waits for more data inside DATA (RFC 5321 4.5.3.2.5).
    pub data_timeout: u64,
    /// Whether the file has a `[serve]` section (`check` looks at the gateway only then).
    pub configured: bool,
}

impl Default for Serve {
    fn default() -> Self {
        Serve {
            listen: vec![parse_listen(DEFAULT_SERVE_LISTEN).expect("a loopback default")],
            relay: DEFAULT_SERVE_RELAY.to_string(),
            max_sessions: DEFAULT_SERVE_SESSIONS,
            message_size_limit: 10_240_000,
            max_recipients: 1000,
            command_timeout: 300,
            data_timeout: 180,
            configured: false,
        }
    }
}

/// `[serve]`: every value checked, defaults for those not given.
fn serve_section(raw: RawServe, src: &Source<'_>) -> Result<Serve> {
    let mut s = Serve {
        configured: true,
        ..Serve::default()
    };
    if let Some(list) = raw.listen {
        if list.is_empty() {
            return Err(src.key_error("listen", "needs at least one address".into()));
        }
        s.listen = list
            .iter()
            .map(|l| parse_listen(l))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| src.key_error("listen", e))?;
    }
    if let Some(r) = raw.relay {
        check_relay(&r).map_err(|e| src.key_error("relay", e))?;
        s.relay = r;
    }
    if let Some(n) = raw.max_sessions {
        if n == 0 || n > MAX_SERVE_SESSIONS {
            return Err(src.key_error(
                "max_sessions",
                format!("must be from 1 to {MAX_SERVE_SESSIONS}"),
            ));
        }
        s.max_sessions = n;
    }
    if let Some(n) = raw.message_size_limit {
        s.message_size_limit = n;
    }
    let ranged = |key: &str, v: Option<u64>, hi: u64| match v {
        Some(n) if n == 0 || n > hi => Err(src.key_error(key, format!("must be from 1 to {hi}"))),
        _ => Ok(v),
    };
    let rcpts = raw.max_recipients.map(|n| n as u64);
    if let Some(n) = ranged("max_recipients", rcpts, MAX_SERVE_RECIPIENTS as u64)? {
        s.max_recipients = n as usize;
    }
    if let Some(n) = ranged("command_timeout", raw.command_timeout, 3600)? {
        s.command_timeout = n;
    }
    if let Some(n) = ranged("data_timeout", raw.data_timeout, 3600)? {
        s.data_timeout = n;
    }
    Ok(s)
}

/// Line number (1-based) and key name at byte offset `pos` of the TOML text.
fn locate(text: &str, pos: usize) -> (usize, String) {
    let pos = pos.min(text.len());
    let line_no = 1 + text.as_bytes()[..pos]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .unwrap_or_default();
    (line_no, key)
}

/// Whether byte offset `pos` is at the start of a line (or at the end of text ending in a
/// line end), where an error about something missing belongs to the line before.
fn ran_past_a_line_end(text: &str, pos: usize) -> bool {
    pos > 0 && text.as_bytes().get(pos - 1) == Some(&b'\n')
}

/// The offset of the last character before `pos` that is not blank and not in a comment
/// line: on the line where the parser should have seen what it missed.
fn end_of_previous_line(text: &str, pos: usize) -> usize {
    let mut end = pos.min(text.len());
    loop {
        let before = &text[..end];
        let trimmed = before.trim_end();
        let start = trimmed.rfind('\n').map_or(0, |i| i + 1);
        let line = &trimmed[start..];
        if start == 0 || !(line.trim().is_empty() || line.trim_start().starts_with('#')) {
            return trimmed.len().saturating_sub(1).max(start);
        }
        end = start;
    }
}

/// The first line that assigns `key` (bare or quoted), for messages about valid TOML with
/// a bad value; 0 when not found.
fn find_key_line(text: &str, key: &str) -> usize {
    for (n, line) in text.lines().enumerate() {
        if let Some((k, _)) = line.split_once('=')
            && k.trim().trim_matches('"') == key
        {
            return n + 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_key_is_an_absolute_path_and_sign_unreadable_one_of_two() {
        let c = Config::parse("", "t.toml").unwrap();
        assert_eq!(
            (c.sign_key, c.sign_unreadable),
            (None, SignUnreadable::Unsigned)
        );
        let c = Config::parse(
            "sign_key = \"/etc/pgpsendmail/host.key\"\nsign_unreadable = \"refuse\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(c.sign_key, Some(PathBuf::from("/etc/pgpsendmail/host.key")));
        assert_eq!(c.sign_unreadable, SignUnreadable::Refuse);
        let e = Config::parse("sign_key = \"host.key\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("sign_key"), "{e}");
        let e = Config::parse("sign_unreadable = \"maybe\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("sign_unreadable"), "{e}");
    }

    #[test]
    fn full_example_parses() {
        let c = Config::parse(
            r#"
sendmail = "/usr/sbin/sendmail.real"
flavor = "postfix"
keyring = ["/etc/pgpsendmail/keys"]
missing_key = "refuse"
subject = "[...]"

[recipients]
"root"              = { alias = "ops@example.org" }
"@Example.com"      = { key = "0123456789ABCDEF0123456789ABCDEF01234567" }
"news@example.net"  = { missing_key = "plaintext" }
"#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(
            c.sendmail.unwrap(),
            PathBuf::from("/usr/sbin/sendmail.real")
        );
        assert_eq!(
            c.recipients["root"].alias.as_ref().unwrap().as_str(),
            "ops@example.org"
        );
        assert!(c.recipients["@example.com"].key.is_some());
        assert_eq!(
            c.recipients["news@example.net"].missing_key,
            Some(MissingKey::Plaintext)
        );
    }

    #[test]
    fn smtp_section() {
        let c = Config::parse(
            "[smtp]\nsize_limit = 1000\ncommand_timeout = 60\ndata_timeout = 30\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            c.smtp,
            Smtp {
                size_limit: Some(1000),
                command_timeout: Some(60),
                data_timeout: Some(30)
            }
        );
        assert_eq!(Config::parse("", "t").unwrap().smtp, Smtp::default());
        let e = Config::parse("[smtp]\ndata_timeout = 0\n", "t").unwrap_err();
        assert!(e.to_string().starts_with("t:2: data_timeout:"), "{e}");
        assert!(Config::parse("[smtp]\nsize = 1\n", "t").is_err());
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = Config::parse("flavor = \"postfix\"\nbogus = 1\n", "f.toml").unwrap_err();
        assert_eq!(e.exit_code().code(), 78);
        let s = e.to_string();
        assert!(s.starts_with("f.toml:2: bogus:"), "{s}");

        let e = Config::parse("\n\nsendmail = 3\n", "f.toml").unwrap_err();
        assert!(e.to_string().starts_with("f.toml:3: sendmail:"), "{e}");

        let e = Config::parse("sendmail = \"relative\"\n", "f.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.toml:1: sendmail: must be an absolute path"
        );

        let e = Config::parse("flavor = \"qmail\"\n", "f.toml").unwrap_err();
        assert!(e.to_string().starts_with("f.toml:1: flavor:"), "{e}");

        let e =
            Config::parse("[recipients]\n\"root\" = { key = \"abc\" }\n", "f.toml").unwrap_err();
        assert!(e.to_string().starts_with("f.toml:2: root:"), "{e}");

        let e =
            Config::parse("[recipients]\n\"@x\" = { alias = \"a@b\" }\n", "f.toml").unwrap_err();
        assert!(e.to_string().contains("takes key, not alias"), "{e}");

        let e = Config::parse("[recipients]\n\"x\" = { nope = 1 }\n", "f.toml").unwrap_err();
        assert!(e.to_string().contains("f.toml:2"), "{e}");
    }

    #[test]
    fn an_unclosed_inline_table_or_array_is_reported_on_its_own_line() {
        // The parser notices a missing `}` or `]` only at the next line; the error names the
        // line where it is missing.
        let e = Config::parse(
            "[recipients]\n\"root\" = { alias = \"a@b.example\"\n\"x\" = { alias = \"c@d.example\" }\n",
            "f.toml",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("f.toml:2: root: "), "{e}");
        let e = Config::parse(
            "keyring = [\"/a\"\n\n# comment\nflavor = \"postfix\"\n",
            "f.toml",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("f.toml:1: keyring: "), "{e}");
        // At the end of the file, too.
        let e = Config::parse(
            "[recipients]\n\"root\" = { alias = \"a@b.example\"\n",
            "f.toml",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("f.toml:2: root: "), "{e}");
        // A span that covers text stays where it is.
        let e = Config::parse("flavor = \"postfix\"\nbogus = 1\n", "f.toml").unwrap_err();
        assert!(e.to_string().starts_with("f.toml:2: bogus:"), "{e}");
    }

    #[test]
    fn empty_text_is_defaults() {
        let c = Config::parse("", "f").unwrap();
        assert_eq!(c.keyring, vec![PathBuf::from(DEFAULT_KEYRING)]);
        assert_eq!(c.subject, "[...]");
        assert_eq!(c.missing_key, MissingKey::Refuse);
        assert_eq!(c.flavor, None);
    }

    #[test]
    fn flavor_is_inferred_from_the_program_name() {
        for (p, f) in [
            ("/usr/sbin/exim4", Flavor::Exim),
            ("/usr/sbin/sendmail.exim", Flavor::Exim),
            ("/usr/bin/msmtp", Flavor::Msmtp),
            ("/usr/sbin/smtpctl", Flavor::Opensmtpd),
            ("/usr/sbin/ssmtp", Flavor::Ssmtp),
            ("/usr/sbin/dma", Flavor::Dma),
            ("/usr/sbin/sendmail.sendmail", Flavor::Sendmail),
            ("/usr/sbin/sendmail.real", Flavor::Postfix),
            ("/usr/sbin/sendmail.postfix", Flavor::Postfix),
        ] {
            assert_eq!(
                Flavor::infer(Path::new(p), Some(Path::new("/nonexistent"))),
                f,
                "{p}"
            );
        }
    }

    #[test]
    fn a_generic_name_is_inferred_from_the_debian_package_that_installed_it() {
        let root = tempfile::tempdir().unwrap();
        let info = root.path().join("var/lib/dpkg/info");
        std::fs::create_dir_all(&info).unwrap();
        // Files of a package that was removed stay behind only in its config files, never
        // in its .list: an unrelated list and a near miss do not count.
        std::fs::write(info.join("postfix.list"), "/.\n/usr/sbin/postfix\n").unwrap();
        std::fs::write(info.join("dma.list"), "/usr/sbin/sendmail.dma\n").unwrap();
        for (package, flavor) in [
            ("nullmailer", Flavor::Nullmailer),
            ("ssmtp", Flavor::Ssmtp),
            ("exim4-daemon-light", Flavor::Exim),
        ] {
            let list = info.join(format!("{package}.list"));
            std::fs::write(&list, "/.\n/usr/sbin\n/usr/sbin/sendmail\n").unwrap();
            for p in [
                "usr/sbin/sendmail.real",
                "usr/sbin/sendmail",
                "usr/lib/sendmail",
            ] {
                let p = root.path().join(p);
                assert_eq!(Flavor::infer(&p, Some(root.path())), flavor, "{p:?}");
            }
            // A program of that name elsewhere is not the one the package installed.
            let elsewhere = root.path().join("opt/bin/sendmail");
            assert_eq!(Flavor::recognize(&elsewhere, Some(root.path())), None);
            // A name that says what it is wins over the lists.
            let msmtp = Path::new("/usr/bin/msmtp");
            assert_eq!(Flavor::infer(msmtp, Some(root.path())), Flavor::Msmtp);
            std::fs::remove_file(&list).unwrap();
        }
        let real = root.path().join("usr/sbin/sendmail.real");
        assert_eq!(Flavor::infer(&real, Some(root.path())), Flavor::Postfix);
    }

    #[test]
    fn fingerprints_normalize() {
        assert_eq!(
            normalize_fingerprint("0123 4567 89ab cdef 0123 4567 89AB CDEF 0123 4567").unwrap(),
            "0123456789ABCDEF0123456789ABCDEF01234567"
        );
        assert!(normalize_fingerprint("0123").is_none());
    }

    #[test]
    fn local_domains_are_validated_and_normalized() {
        let c = Config::parse(
            "local_domains = [\"Example.Internal.\", \"[192.0.2.1]\", \"[IPv6:2001:db8::1]\"]\n",
            "f.toml",
        )
        .unwrap();
        assert_eq!(
            c.local_domains,
            ["example.internal", "[192.0.2.1]", "[ipv6:2001:db8::1]"]
        );
        for bad in [
            "\"\"",
            "\"a b\"",
            "\"x@y\"",
            "\"-x.org\"",
            "\"a..b\"",
            "\"[300.1.1.1]\"",
            "\"[IPv6:zz]\"",
            "\"x\", \"X\"",
        ] {
            let e = Config::parse(&format!("\nlocal_domains = [{bad}]\n"), "f.toml").unwrap_err();
            assert!(e.to_string().starts_with("f.toml:2: local_domains:"), "{e}");
            assert_eq!(e.exit_code().code(), 78);
        }
        let e = Config::parse("local_domains = \"x.org\"\n", "f.toml").unwrap_err();
        assert!(e.to_string().starts_with("f.toml:1: local_domains:"), "{e}");
    }

    #[test]
    fn this_hosts_names_are_local_domains_in_any_case() {
        let mut c = Config::parse("local_domains = [\"example.internal\"]\n", "f").unwrap();
        c.host_names = vec!["vm".into(), "vm.example.net".into()];
        for d in [
            "localhost",
            "LocalHost",
            "localhost.",
            "localhost.localdomain",
            "vm",
            "VM",
            "vm.Example.NET",
            "example.internal",
            "EXAMPLE.INTERNAL.",
            "[127.0.0.1]",
            "[127.0.1.1]",
            "[IPv6:::1]",
            "[ipv6:0:0:0:0:0:0:0:1]",
        ] {
            assert!(c.is_local_domain(d), "{d}");
        }
        for d in [
            "example.net",
            "vm.example.org",
            "[192.0.2.1]",
            "[IPv6:::2]",
            "localhost.x",
        ] {
            assert!(!c.is_local_domain(d), "{d}");
        }
    }

    #[test]
    fn the_canonical_name_is_the_first_name_of_the_first_line_listing_the_host() {
        let hosts = "# comment vm\n\n127.0.0.1 localhost\n127.0.1.1\tVM.Example.NET vm # me\n\
                     10.0.0.1 vm.other.example vm\n";
        assert_eq!(
            canonical_name(hosts, "vm").as_deref(),
            Some("vm.example.net")
        );
        assert_eq!(
            canonical_name(hosts, "VM").as_deref(),
            Some("vm.example.net")
        );
        assert_eq!(canonical_name(hosts, "db"), None);
        assert_eq!(
            canonical_name("127.0.0.1 vm\n", "vm").as_deref(),
            Some("vm")
        );
    }

    #[test]
    fn the_star_entry_is_kept_as_it_is() {
        let c = Config::parse(
            "[recipients]\n\"*\" = { alias = \"ops@example.org\" }\n",
            "f",
        )
        .unwrap();
        assert!(c.recipients["*"].alias.is_some());
        let e = Config::parse(
            "[recipients]\n\"*\" = { key = \"0123456789ABCDEF0123456789ABCDEF01234567\", always = true }\n",
            "f",
        )
        .unwrap_err();
        assert!(e.to_string().contains("always = true needs"), "{e}");
    }

    #[test]
    fn discovery_section_parses_and_refuses_plain_http() {
        let c = Config::parse(
            "[discovery]\ndir = \"/d\"\nkeyservers = [\"https://keys.openpgp.org/\"]\n\
             key_changes = \"accept\"\ntimeout = 3\nwkd = false\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(c.discovery.dir, PathBuf::from("/d"));
        assert_eq!(c.discovery.keyservers, vec!["https://keys.openpgp.org"]);
        assert_eq!(c.discovery.key_changes, KeyChanges::Accept);
        assert_eq!((c.discovery.timeout, c.discovery.wkd), (3, false));
        let d = Config::parse("", "t.toml").unwrap().discovery;
        assert_eq!(d, Discovery::default());
        assert!(d.keyservers.is_empty(), "no keyserver unless configured");
        let e = Config::parse(
            "[discovery]\nkeyservers = [\"http://keys.example\"]\n",
            "t.toml",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("t.toml:2: keyservers: "), "{e}");
        for bad in ["dir = \"rel\"", "timeout = 0", "verify_tls = false"] {
            let text = format!("[discovery]\n{bad}\n");
            assert!(Config::parse(&text, "t.toml").is_err(), "{bad}");
        }
    }

    #[test]
    fn serve_listens_on_loopback_and_unix_sockets_only() {
        let c = Config::parse(
            "[serve]\nlisten = [\"127.0.0.1:10025\", \"[::1]:10025\", \"unix:/run/p.sock\"]\n\
             relay = \"[::1]:10026\"\nmax_sessions = 5\n",
            "f",
        )
        .unwrap();
        assert_eq!(c.serve.listen.len(), 3);
        assert_eq!(
            c.serve.listen[2],
            Listen::Unix(PathBuf::from("/run/p.sock"))
        );
        assert_eq!(c.serve.relay, "[::1]:10026");
        assert_eq!(c.serve.max_sessions, 5);
        assert_eq!(Config::parse("", "f").unwrap().serve, Serve::default());
        for bad in [
            "0.0.0.0:25",
            "192.0.2.1:10025",
            "[::]:10025",
            "localhost:10025",
            "127.0.0.1",
            "127.0.0.1:0",
            "unix:relative",
        ] {
            let e = Config::parse(&format!("[serve]\nlisten = [\"{bad}\"]\n"), "f").unwrap_err();
            assert!(e.to_string().starts_with("f:2: listen: "), "{e}");
            assert_eq!(e.exit_code().code(), 78);
        }
        for bad in ["x", "host:", "host:0", "[zz]:25", "a b:25", "h:99999"] {
            assert!(check_relay(bad).is_err(), "{bad}");
        }
        for ok in ["relay.example:25", "127.0.0.1:10026", "[::1]:25"] {
            assert!(check_relay(ok).is_ok(), "{ok}");
        }
        for bad in [
            "max_sessions = 0",
            "max_sessions = 1001",
            "bogus = 1",
            "listen = []",
        ] {
            let e = Config::parse(&format!("[serve]\n{bad}\n"), "f").unwrap_err();
            assert_eq!(e.exit_code().code(), 78, "{bad}");
        }
    }

    #[test]
    fn handoff_smtp_is_a_loopback_address_and_port() {
        assert_eq!(Config::parse("", "f").unwrap().handoff_smtp, None);
        for ok in ["127.0.0.1:25", "127.0.0.2:10025", "[::1]:25"] {
            let c = Config::parse(&format!("handoff_smtp = \"{ok}\"\n"), "f").unwrap();
            assert_eq!(c.handoff_smtp.as_deref(), Some(ok));
        }
        for bad in [
            "localhost:25",
            "192.0.2.1:25",
            "0.0.0.0:25",
            "127.0.0.1",
            "127.0.0.1:0",
            "unix:/run/smtp",
            "",
        ] {
            let e = Config::parse(&format!("handoff_smtp = \"{bad}\"\n"), "f").unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("f:1: handoff_smtp: must be a loopback"),
                "{bad}: {e}"
            );
            assert_eq!(e.exit_code().code(), 78, "{bad}");
        }
    }

    #[test]
    fn handoff_jobs_from_0_to_64() {
        assert_eq!(Config::parse("", "f").unwrap().handoff_jobs, 0);
        for n in [0, 1, 2, 64] {
            let c = Config::parse(&format!("handoff_jobs = {n}\n"), "f").unwrap();
            assert_eq!(c.handoff_jobs, n);
        }
        for bad in ["65", "-1", "\"2\"", "1.5"] {
            let e = Config::parse(&format!("handoff_jobs = {bad}\n"), "f").unwrap_err();
            assert!(
                e.to_string().starts_with("f:1: handoff_jobs: "),
                "{bad}: {e}"
            );
            assert_eq!(e.exit_code().code(), 78, "{bad}");
        }
    }
}
