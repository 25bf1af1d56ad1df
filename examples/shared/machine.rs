//! The machine, the date and the load, for the record of a benchmark run (examples/bench.rs
//! and examples/bench_gateway.rs include this file with `#[path]`).

use std::process::Command;

/// `DATE; CPU, N cores; LABEL L1 L5 L15`, from /proc and date(1).
pub fn machine(label: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{date}; {cpu}, {cores} cores; {label} {}", load.join(" "))
}
