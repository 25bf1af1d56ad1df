//! Runs a program and records its peak memory, for tests that bound it: a process forked
//! from a large test binary starts with that binary's pages counted as its own
//! (ru_maxrss keeps the high-water mark across exec), so the tests start this small program
//! instead, and it forks the program they measure.
//!
//! Usage: peak_rss OUT PROGRAM [ARG...]
//! Runs PROGRAM with the same standard input, output, error and environment, writes
//! "MAXRSS_KIB EXIT SIGNAL\n" to the file OUT (EXIT or SIGNAL is -1 when not applicable)
//! and exits with PROGRAM's status (128 + the signal if it was killed).

use std::os::unix::process::ExitStatusExt;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), Some(program)) = (args.next(), args.next()) else {
        eprintln!("usage: peak_rss OUT PROGRAM [ARG...]");
        std::process::exit(64);
    };
    let mut child = match std::process::Command::new(&program).args(args).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("peak_rss: {}: {e}", program.to_string_lossy());
            std::process::exit(71);
        }
    };
    let status = child.wait().expect("wait");
    // SAFETY: getrusage fills the struct we pass; our only child has been waited for.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let line = format!(
        "{} {} {}\n",
        ru.ru_maxrss,
        status.code().unwrap_or(-1),
        status.signal().unwrap_or(-1)
    );
    if let Err(e) = std::fs::write(&out, line) {
        eprintln!("peak_rss: {}: {e}", out.to_string_lossy());
        std::process::exit(74);
    }
    std::process::exit(status.code().unwrap_or(128 + status.signal().unwrap_or(0)));
}
