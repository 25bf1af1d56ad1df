//! The next hop of every MTA in tests/mta.rs: an SMTP server on a loopback ADDRESS:PORT
//! (127.0.0.2:25 there) that stores each message it accepts as DIR/N.eml (the
//! envelope first, as `X-Sink-From:` and `X-Sink-To:` lines), and refuses with 550 every
//! recipient whose local part is `refused`. It offers DSN, as a real next hop does (msmtp
//! refuses `-N` without it), and ignores the parameters. `smtp_sink ADDRESS:PORT DIR` writes DIR/ready once it
//! listens, so a test waits on that file, not on a clock; it runs until it is killed (the
//! test's PID namespace ends it).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNT: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: smtp_sink ADDRESS:PORT DIR");
        std::process::exit(64);
    }
    let dir = PathBuf::from(&args[2]);
    let addr: SocketAddr = args[1].parse().unwrap_or_else(|e| {
        eprintln!("smtp_sink: {}: {e}", args[1]);
        std::process::exit(64);
    });
    if !addr.ip().is_loopback() {
        eprintln!("smtp_sink: {addr} is not a loopback address");
        std::process::exit(64);
    }
    let listener = TcpListener::bind(addr).unwrap_or_else(|e| {
        eprintln!("smtp_sink: {e}");
        std::process::exit(71);
    });
    std::fs::write(dir.join("ready"), b"").expect("smtp_sink: DIR/ready");
    for conn in listener.incoming().flatten() {
        let dir = dir.clone();
        std::thread::spawn(move || {
            if let Err(e) = session(conn, &dir) {
                eprintln!("smtp_sink: {e}");
            }
        });
    }
}

/// One SMTP session: any number of messages, then QUIT.
fn session(conn: TcpStream, dir: &Path) -> std::io::Result<()> {
    let mut out = conn.try_clone()?;
    let mut input = BufReader::new(conn);
    let mut envelope = String::new();
    out.write_all(b"220 sink.example.org ESMTP test sink\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.example.org\r\n250-8BITMIME\r\n250-DSN\r\n250 PIPELINING\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            envelope = format!("X-Sink-From: {}\r\n", line[10..].trim());
            b"250 2.1.0 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if upper.contains("<REFUSED@") {
                b"550 5.1.1 refused: no such user\r\n"
            } else {
                envelope.push_str(&format!("X-Sink-To: {}\r\n", line[8..].trim()));
                b"250 2.1.5 ok\r\n"
            }
        } else if upper.starts_with("DATA") {
            out.write_all(b"354 go ahead\r\n")?;
            let mut text = std::mem::take(&mut envelope).into_bytes();
            data(&mut input, &mut text)?;
            let n = COUNT.fetch_add(1, Ordering::SeqCst);
            // Written under a temporary name and renamed: a reader never sees half a message.
            let tmp = dir.join(format!("{n}.tmp"));
            std::fs::write(&tmp, &text)?;
            std::fs::rename(&tmp, dir.join(format!("{n}.eml")))?;
            b"250 2.0.0 queued\r\n"
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 2.0.0 bye\r\n")?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        out.write_all(reply)?;
    }
}

/// The message up to the lone dot, dot-unstuffed, into `text`.
fn data(input: &mut impl BufRead, text: &mut Vec<u8>) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(());
        }
        let start = usize::from(line.first() == Some(&b'.'));
        text.extend_from_slice(&line[start..]);
    }
}
