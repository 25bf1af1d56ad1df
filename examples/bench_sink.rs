//! The sendmail of `make bench`, on both sides alike: reads its standard input to the end
//! and throws it away. With `$BENCH_SINK_COUNT` set, writes the number of bytes it read to
//! that file (the benchmark checks once that something plausible arrived). With
//! `$BENCH_SINK_CPU` set, appends its own CPU time (user + system, microseconds, from the
//! start of its `main`, so not what an exec'ing pgpsendmail used) as a line
//! to that file, so that the benchmark can tell pgpsendmail's CPU from its sinks'.

use std::io::Read;

/// This process's CPU time so far, microseconds (what it used before an exec included).
fn cpu_us() -> i64 {
    // SAFETY: getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
    us(ru.ru_utime) + us(ru.ru_stime)
}

fn main() {
    // A sink pgpsendmail exec'd carries pgpsendmail's CPU time: only what it used after
    // this point is its own.
    let at_start = cpu_us();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total: u64 = 0;
    let mut stdin = std::io::stdin().lock();
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("bench sink: {e}");
                std::process::exit(74);
            }
        }
    }
    if let Some(path) = std::env::var_os("BENCH_SINK_CPU") {
        let line = format!("{}\n", cpu_us() - at_start);
        // One short write with O_APPEND: lines of sinks running at once do not mix.
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        if let Err(e) = appended {
            eprintln!("bench sink: {e}");
            std::process::exit(73);
        }
    }
    if let Some(path) = std::env::var_os("BENCH_SINK_COUNT")
        && let Err(e) = std::fs::write(&path, format!("{total}\n"))
    {
        eprintln!("bench sink: {e}");
        std::process::exit(73);
    }
}
