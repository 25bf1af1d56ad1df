//! The header section reader (src/message/mod.rs) and recipient extraction
//! (src/keys/recipients.rs, -t): any input gives a header or a clean error, the body streams
//! out as CRLF lines, and -t extraction never panics.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use pgpsendmail::config::Flavor;
use pgpsendmail::message::Input;

fuzz_target!(|data: &[u8]| {
    let ignore_dots = data.first().is_some_and(|b| b & 1 == 1);
    let mut input = Input::new(data, ignore_dots);
    let Ok(head) = input.read_head() else {
        return;
    };
    for f in &head.fields {
        let _ = f.unfolded();
    }
    let _ = pgpsendmail::keys::recipients::envelope(&[], &head, true, Flavor::Postfix);
    let mut body = Vec::new();
    if input.body().read_to_end(&mut body).is_ok() {
        // The body is CRLF-canonical: no bare LF.
        for (i, &b) in body.iter().enumerate() {
            if b == b'\n' {
                assert!(i > 0 && body[i - 1] == b'\r', "bare LF at {i}");
            }
        }
    }
});
