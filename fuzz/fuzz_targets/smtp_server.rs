//! The SMTP server alone (src/smtp/server.rs, path.rs, data.rs), without the pipeline: any
//! byte stream gives well-formed replies only and never a panic; every message a handler
//! is given has recipients with normalized, valid paths; a UTF-8 path only with SMTPUTF8.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use pgpsendmail::smtp::server::{self, Handler, Limits, Transaction};
use pgpsendmail::smtp::{Mailbox, Reply};

struct Take;

impl Handler for Take {
    fn hostname(&self) -> String {
        "fuzz.example".into()
    }

    fn rcpt(&mut self, _: &Transaction, m: &Mailbox) -> Result<(), Reply> {
        if m.as_str().starts_with('x') {
            return Err(Reply::new(550, "5.7.1 refused"));
        }
        Ok(())
    }

    fn message(&mut self, tx: Transaction, data: &mut dyn Read) -> Reply {
        assert!(!tx.rcpts.is_empty());
        for m in tx.rcpts.iter().chain(tx.sender.iter()) {
            assert!(tx.smtputf8 || m.is_ascii(), "{m:?}");
            assert!(!m.as_str().contains(['<', '>', '\r', '\n']) || m.as_str().starts_with('"'));
        }
        let mut sink = Vec::new();
        match data.read_to_end(&mut sink) {
            Ok(_) => Reply::new(250, "2.0.0 Ok"),
            Err(_) => Reply::new(451, "4.3.0 cut"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        size: Some(1000),
        rcpts: 5,
        ..Limits::default()
    };
    let mut input = data;
    let mut out = Vec::new();
    let _ = server::serve(&mut input, &mut out, &mut Take, &limits);
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
