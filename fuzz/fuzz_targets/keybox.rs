//! The GnuPG keybox reader (src/keys/kbx.rs): any bytes after a keybox header blob give
//! certificates and per-blob errors, never a panic or a read out of bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pgpsendmail::keys::kbx::read_keybox(data);
});
