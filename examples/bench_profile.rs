//! One message through the whole pipeline in-process, for profilers: `valgrind
//! --tool=callgrind target/release/examples/bench_profile MESSAGE RECIPIENT...` with
//! `PGPSENDMAIL_CONFIG` set. The real `pgpsendmail` execs the sendmail at the end, which
//! takes the profile away with it; here the copies are read to their end and dropped.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;

use pgpsendmail::error::Result;
use pgpsendmail::sendmail::deliver::{Copy, CopyBody, Deliverer};

struct Drain(u64);

/// Counts what is written to it.
struct Count(u64);

impl std::io::Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Deliverer for Drain {
    fn deliver(
        &mut self,
        _program: &Path,
        copies: Vec<(Vec<OsString>, Copy)>,
        _log: &pgpsendmail::syslog::Entry,
    ) -> Result<i32> {
        for (_, copy) in copies {
            match copy.body {
                CopyBody::File(mut f) => {
                    let mut buf = vec![0u8; 1 << 16];
                    loop {
                        match f.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => self.0 += n as u64,
                        }
                    }
                }
                CopyBody::Parts(parts) => {
                    let mut count = Count(0);
                    let _ = parts.write_to(&mut count);
                    self.0 += count.0;
                }
                CopyBody::Memory(_) => {}
            }
        }
        Ok(0)
    }
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let msg = args
        .next()
        .expect("usage: bench_profile MESSAGE RECIPIENT...");
    let mut argv: Vec<OsString> = vec!["-i".into()];
    argv.extend(args);
    let input = std::io::BufReader::new(std::fs::File::open(msg).expect("message"));
    let env = pgpsendmail::Env::snapshot();
    let mut drain = Drain(0);
    let code = pgpsendmail::run_sendmail(argv, &env, input, &mut drain).expect("sent");
    eprintln!("exit {code}, {} bytes of ciphertext", drain.0);
}
