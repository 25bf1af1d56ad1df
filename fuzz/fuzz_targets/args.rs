//! The sendmail argument parser (src/sendmail/args.rs): arguments are the input split at NUL bytes.
//! Any argv must give an `Invocation` or a usage error, never a panic; an accepted
//! invocation never carries CR or LF in a value that goes downstream.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = data
        .split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    if let Ok(inv) = pgpsendmail::sendmail::args::parse(args) {
        for v in [&inv.full_name, &inv.dsn_notify, &inv.dsn_ret, &inv.envid]
            .into_iter()
            .flatten()
        {
            assert!(!v.contains('\r') && !v.contains('\n'), "CR/LF in {v:?}");
        }
    }
});
