//! The -bs SMTP face (src/sendmail/smtp.rs, on src/smtp/server.rs): any byte stream on stdin gives a session whose
//! standard output is well-formed SMTP replies only, never a panic. Messages go through the
//! whole pipeline to a recording deliverer; with no keys and missing_key = plaintext each
//! accepted message becomes a plaintext copy written into memory (no crypto per input, so
//! the reader and the message path get the executions).
#![no_main]

use std::ffi::OsString;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pgpsendmail::sendmail::args::Invocation;
use pgpsendmail::config::{Config, Flavor, MissingKey};
use pgpsendmail::sendmail::deliver::{Copy, CopyBody, Deliverer};
use pgpsendmail::syslog::Entry;
use pgpsendmail::error::Result;
use pgpsendmail::Env;
use pgpsendmail::pipeline::Context;
use pgpsendmail::sendmail::smtp;

struct Record;

impl Deliverer for Record {
    fn deliver(&mut self, _: &Path, copies: Vec<(Vec<OsString>, Copy)>, _: &Entry) -> Result<i32> {
        for (_, copy) in copies {
            match copy.body {
                CopyBody::Memory(write) => {
                    let mut sink = Vec::new();
                    write(&mut sink).expect("writing into memory");
                }
                CopyBody::File(_) | CopyBody::Parts(_) => {}
            }
        }
        Ok(0)
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = Config {
        keyring: Vec::new(),
        missing_key: MissingKey::Plaintext,
        ..Config::default()
    };
    let mut env = Env::snapshot();
    env.hostname = "fuzz.example".into();
    let mut out = Vec::new();
    let inv = Invocation::default();
    let ctx = Context {
        inv: &inv,
        cfg: &cfg,
        program: Path::new("/nonexistent/sendmail"),
        flavor: Flavor::Postfix,
        env: &env,
    };
    let mut input = data;
    let _ = smtp::serve(&ctx, &mut input, &mut out, &mut Record);
    // Replies only: every line is "NNN " or "NNN-" and text, CRLF-terminated.
    let text = std::str::from_utf8(&out).expect("replies are UTF-8");
    assert!(text.is_empty() || text.ends_with("\r\n"), "{text:?}");
    for line in text.split_terminator("\r\n") {
        let b = line.as_bytes();
        assert!(b.len() >= 4, "{line:?}");
        assert!(b[..3].iter().all(u8::is_ascii_digit), "{line:?}");
        assert!(b[3] == b' ' || b[3] == b'-', "{line:?}");
        assert!(!line.contains('\r') && !line.contains('\n'), "{line:?}");
    }
});
