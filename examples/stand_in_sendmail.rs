//! A stand-in for the real sendmail, for `make demo` and the tests: it stores what
//! pgpsendmail hands it and exits with a chosen status. It never sends mail.
//!
//! For each call N (1, 2, ...) it writes, in the directory `$STAND_IN_DIR`:
//!   N.argv   argv[0] and every argument, one per line
//!   N.stdin  the bytes it received on standard input
//!   N.fd     only with `$STAND_IN_CHECK_FD=K`: "open" or "closed", whether descriptor K
//!            was inherited (pgpsendmail must pass on only 0-2)
//! and exits with `$STAND_IN_EXIT` (default 0).

use std::io::Write;
use std::path::PathBuf;

fn main() {
    // Before this program opens anything of its own.
    let fd_state = std::env::var("STAND_IN_CHECK_FD").ok().map(|k| {
        if std::path::Path::new(&format!("/proc/self/fd/{k}")).exists() {
            "open\n"
        } else {
            "closed\n"
        }
    });
    let Some(dir) = std::env::var_os("STAND_IN_DIR").map(PathBuf::from) else {
        eprintln!("stand-in sendmail: STAND_IN_DIR is not set");
        std::process::exit(78);
    };
    // Claim the next number atomically: create_new fails if another call took it.
    let mut n = 1;
    let argv_file = loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(format!("{n}.argv")))
        {
            Ok(f) => break f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => {
                eprintln!("stand-in sendmail: {}: {e}", dir.display());
                std::process::exit(73);
            }
        }
    };
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // Streamed, not read into memory: tests measure the peak memory of this process too
    // (pgpsendmail execs us).
    if let Some(state) = fd_state
        && let Err(e) = std::fs::write(dir.join(format!("{n}.fd")), state)
    {
        eprintln!("stand-in sendmail: {}: {e}", dir.display());
        std::process::exit(74);
    }
    let write = std::fs::File::create(dir.join(format!("{n}.stdin")))
        .and_then(|mut f| std::io::copy(&mut std::io::stdin().lock(), &mut f))
        .and_then(|_| (&argv_file).write_all((argv.join("\n") + "\n").as_bytes()));
    if let Err(e) = write {
        eprintln!("stand-in sendmail: {}: {e}", dir.display());
        std::process::exit(74);
    }
    let code = std::env::var("STAND_IN_EXIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    std::process::exit(code);
}
