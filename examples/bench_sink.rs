//! The sendmail of `make bench`, on both sides alike: reads its standard input to the end
//! and throws it away. With `$BENCH_SINK_COUNT` set, writes the number of bytes it read to
//! that file (the benchmark checks once that something plausible arrived).

use std::io::Read;

fn main() {
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
    if let Some(path) = std::env::var_os("BENCH_SINK_COUNT")
        && let Err(e) = std::fs::write(&path, format!("{total}\n"))
    {
        eprintln!("bench sink: {e}");
        std::process::exit(73);
    }
}
