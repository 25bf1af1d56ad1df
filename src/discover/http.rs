//! The one HTTP client of pgpsendmail: `keys fetch` and `keys refresh` only, never the send
//! path (pgpsendmail(8), ADMIN COMMANDS).
//!
//! Owns: the rules every request follows: HTTPS only (a redirect to any other scheme is an
//! error), at most [`MAX_REDIRECTS`] redirects, one time limit from connecting to the last
//! byte (`[discovery] timeout`), at most [`MAX_BYTES`] of body, no proxy, no cookies. TLS
//! is rustls with the system's CA roots (rustls-native-certs: the system store, or the
//! files named by `SSL_CERT_FILE` and `SSL_CERT_DIR`); certificate verification cannot be
//! switched off, there is no setting for it.
//!
//! Untrusted input: every byte a server sends. Errors are one line, sanitized.

use std::time::Duration;

use crate::diag::sanitize;

/// Largest response body read; a larger one is an error (a certificate is a few KiB).
pub const MAX_BYTES: u64 = 1 << 20;
/// Redirects followed before a request fails.
pub const MAX_REDIRECTS: u32 = 3;

/// An HTTPS client under the rules above.
pub struct Client {
    agent: ureq::Agent,
    timeout: Duration,
}

impl Client {
    /// A client whose requests each end within `timeout`; `Err` when the system has no CA
    /// roots at all (nothing could be verified).
    pub fn new(timeout: Duration) -> Result<Client, String> {
        let found = rustls_native_certs::load_native_certs();
        let roots: Vec<ureq::tls::Certificate<'static>> = found
            .certs
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        if roots.is_empty() {
            let why = found
                .errors
                .first()
                .map(|e| format!(": {}", sanitize(&e.to_string())))
                .unwrap_or_default();
            return Err(format!("no CA certificates found on this system{why}"));
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .https_only(true)
            .max_redirects(MAX_REDIRECTS)
            .timeout_global(Some(timeout))
            .proxy(None)
            .user_agent(concat!("pgpsendmail/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Client { agent, timeout })
    }

    /// The body at `url`; `Ok(None)` when the server says it has nothing there (404, 410).
    pub fn get(&self, url: &str) -> Result<Option<Vec<u8>>, String> {
        let resp = match self.agent.get(url).call() {
            Ok(r) => r,
            Err(ureq::Error::StatusCode(404 | 410)) => return Ok(None),
            Err(e) => return Err(self.error_text(&e)),
        };
        resp.into_body()
            .with_config()
            .limit(MAX_BYTES)
            .read_to_vec()
            .map(Some)
            .map_err(|e| self.error_text(&e))
    }

    /// One line for a failed request.
    fn error_text(&self, e: &ureq::Error) -> String {
        match e {
            ureq::Error::Timeout(_) => {
                format!("no answer within {} s", self.timeout.as_secs())
            }
            ureq::Error::StatusCode(n) => format!("HTTP status {n}"),
            ureq::Error::RequireHttpsOnly(_) => "redirected to a URL that is not https://".into(),
            ureq::Error::TooManyRedirects => format!("more than {MAX_REDIRECTS} redirects"),
            ureq::Error::BodyExceedsLimit(_) => format!("answer larger than {MAX_BYTES} bytes"),
            ureq::Error::HostNotFound => "host not found".into(),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                format!("no answer within {} s", self.timeout.as_secs())
            }
            other => sanitize(&other.to_string()),
        }
    }
}
