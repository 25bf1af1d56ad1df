//! The other half of `make demo`: open what the stand-in sendmail stored, with the demo
//! secret key, and show it next to what every mail queue on the way would have seen.
//!
//! Usage: demo_decrypt SECRET-KEY STORED-MESSAGE

use std::process::ExitCode;

use pgpsendmail::openpgp::decrypt;

fn header_block(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(b);
    let end = text
        .find("\n\n")
        .or_else(|| text.find("\r\n\r\n"))
        .unwrap_or(text.len());
    text[..end].replace("\r\n", "\n")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key, stored] = args.as_slice() else {
        eprintln!("usage: demo_decrypt SECRET-KEY STORED-MESSAGE");
        return ExitCode::from(64);
    };
    let run = || -> Result<(), String> {
        let key = decrypt::secret_key(std::path::Path::new(key))?;
        let msg = std::fs::read(stored).map_err(|e| format!("{stored}: {e}"))?;
        let opened = decrypt::open(&msg, &key)?;
        let text = String::from_utf8_lossy(&msg);
        let armor: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN PGP MESSAGE"))
            .take(4)
            .collect();
        println!(
            "=== What the mail queue stores ({stored}, {} bytes) ===",
            msg.len()
        );
        println!("{}\n", header_block(&msg));
        let more = text
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN PGP MESSAGE"))
            .count()
            .saturating_sub(armor.len());
        println!(
            "{}\n[... {more} more lines of ciphertext ...]\n",
            armor.join("\n")
        );

        let payload = String::from_utf8_lossy(&opened.payload).replace("\r\n", "\n");
        let inner = header_block(payload.as_bytes());
        let subject = inner
            .lines()
            .find(|l| l.starts_with("Subject:"))
            .unwrap_or("Subject: (none)");
        // The body is the payload's one child: after its header block, before the boundary.
        let child = payload.split_once("\n\n").map_or("", |(_, c)| c);
        let body = child.split_once("\n\n").map_or("", |(_, b)| b);
        let body = body.rsplit_once("\n--").map_or(body, |(b, _)| b);
        println!("=== What the recipient reads after decrypting with the demo key ===");
        println!("(the real Subject and the cron environment exist only inside the ciphertext)");
        println!("{subject}");
        for line in inner.lines().filter(|l| l.starts_with("X-Cron-Env")) {
            println!("{line}");
        }
        println!("\n{}", body.trim_end());
        println!("\nencrypted to key IDs: {}", opened.recipients.join(", "));
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo_decrypt: {e}");
            ExitCode::from(1)
        }
    }
}
