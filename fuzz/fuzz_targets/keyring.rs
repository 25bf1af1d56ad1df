//! The keyring reader (src/keys/mod.rs): armored or binary certificates (and keyboxes) give
//! certificates, bare revocations and per-item errors, never a panic; every parsed certificate can be
//! judged.
#![no_main]

use std::path::Path;
use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = pgpsendmail::keys::parse_certificates(data) {
        let mut certs = parsed.certs;
        for c in &mut certs {
            for r in &parsed.revocations {
                pgpsendmail::keys::gather::attach(c, r);
            }
            let _ = pgpsendmail::keys::evaluate(c, Path::new("fuzz"), SystemTime::UNIX_EPOCH);
        }
    }
});
