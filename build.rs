//! Links GCC's unwinder statically (libgcc_eh.a) instead of loading libgcc_s.so.1, on
//! glibc targets where the C compiler has the archive.
//!
//! Why: pgpsendmail is one process per message, so what it pays before `main` counts.
//! libgcc_s.so.1 is loaded only for the panic unwinder, and its constructor
//! (`__cpu_indicator_init`) runs twelve CPUID instructions at every start; on a virtual
//! machine each one traps to the hypervisor (about 6 µs each on the machines of
//! bench/RESULTS.md, "Start-up"), and the library's loading and symbol lookups come on top.
//! The unwinder from libgcc_eh.a is the same code, linked in; nothing calls
//! `__cpu_indicator_init` then.
//!
//! How: Rust's standard library asks the linker for `-lgcc_s`. A linker script named
//! `libgcc_s.so` in this build's own search directory, found before the system's, says
//! `INPUT("<the compiler's libgcc_eh.a>")`. Where the compiler has no libgcc_eh.a (or the
//! target is not linux-gnu, or is linked statically anyway), nothing changes and
//! libgcc_s.so.1 is loaded as usual. `PGPSENDMAIL_SHARED_LIBGCC=1` keeps it loaded on purpose.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PGPSENDMAIL_SHARED_LIBGCC");
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rustc-check-cfg=cfg(static_unwinder)");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let static_crt = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if !var("TARGET").ends_with("-linux-gnu")
        || static_crt
        || var("PGPSENDMAIL_SHARED_LIBGCC") == "1"
    {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(out) = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let found = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    // Without the archive the compiler prints the bare name back.
    if !out.status.success() || !found.is_absolute() || !found.is_file() {
        return;
    }
    let dir = PathBuf::from(var("OUT_DIR")).join("static-unwinder");
    let script = dir.join("libgcc_s.so");
    // Quoted, so that a directory with a space in its name is one file name to the linker.
    let text = format!("INPUT(\"{}\")\n", found.display());
    if std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&script, text))
        .is_err()
    {
        return;
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
    // For the test that checks libgcc_s.so.1 is not loaded (src/main.rs).
    println!("cargo:rustc-cfg=static_unwinder");
}
