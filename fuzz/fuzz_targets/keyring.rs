//! The keyring reader (src/keys.rs): armored or binary certificates (and keyboxes) give
//! certificates and per-certificate errors, never a panic; every parsed certificate can be
//! judged.
#![no_main]

use std::path::Path;
use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((certs, _errors)) = pgpsendmail::keys::parse_certificates(data) {
        for c in &certs {
            let _ = pgpsendmail::keys::evaluate(c, Path::new("fuzz"), SystemTime::UNIX_EPOCH);
        }
    }
});
