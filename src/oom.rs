//! Out of memory ends pgpsendmail with one line on stderr and exit 71 (EX_OSERR), instead
//! of Rust's default: a message, then abort(), whose core file would hold the plaintext
//! the process was encrypting. Used by the binary only (`#[global_allocator]` in main.rs).
//!
//! Nothing in pgpsendmail or its dependencies recovers from a failed allocation
//! (no `try_reserve`), so ending at the first one changes no behaviour but the ending.
//!
//! The C library's own allocations do not come here; when one fails where glibc can only
//! abort(), [`exit_on_abort`] turns the SIGABRT into exit 71 (and main.rs marks the process
//! not dumpable, `pgpsendmail::sys::set_not_dumpable`, so that no crash of any kind leaves
//! a core file).
//!
//! The binary's one module with unsafe code (`#![deny(unsafe_code)]` elsewhere; the
//! library's system calls are in `pgpsendmail::sys`): a `GlobalAlloc` is an `unsafe impl`
//! forwarding to `System`, and the out-of-memory and SIGABRT paths call write(2) and
//! _exit(2) directly, because they must not allocate or run destructors.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, ending the process cleanly when it returns null.
pub struct ExitOnOom;

// SAFETY: every call is forwarded to `System` with the caller's arguments unchanged; a null
// result never returns.
unsafe impl GlobalAlloc for ExitOnOom {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        check(unsafe { System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        check(unsafe { System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is the caller's.
        check(unsafe { System.realloc(ptr, layout, new_size) }, new_size)
    }
}

#[inline]
fn check(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        out_of_memory(size);
    }
    p
}

/// Writes "pgpsendmail: out of memory (N bytes wanted)" without allocating, then exits 71
/// without running destructors or atexit handlers (they might allocate).
#[cold]
fn out_of_memory(size: usize) -> ! {
    let mut buf = [0u8; 96];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        for &b in bytes {
            if n < buf.len() {
                buf[n] = b;
                n += 1;
            }
        }
    };
    put(b"pgpsendmail: out of memory (");
    let mut digits = [0u8; 20];
    let mut d = digits.len();
    let mut v = size;
    loop {
        d -= 1;
        digits[d] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    put(&digits[d..]);
    put(b" bytes wanted)\n");
    // SAFETY: write(2) from a stack buffer and _exit(2) are async-signal-safe and allocate
    // nothing.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), n);
        libc::_exit(71);
    }
}

/// Ends the process with a line and exit 71 when anything calls abort(), instead of dying
/// by SIGABRT. The C library aborts when its own allocations fail where it cannot report
/// it (glibc: "failed to register TLS destructor: out of memory" when a thread starts with
/// no memory left), and the Rust runtime aborts on a few fatal errors. Either way a caller
/// would otherwise see a signal, not a sysexits status. The reason, if the aborting code
/// gave one, is already on stderr above our line. Exit 71 (EX_OSERR): a system failure,
/// and callers treat it as a failed submission.
pub fn exit_on_abort() {
    extern "C" fn on_abort(_: libc::c_int) {
        let m: &[u8] = b"pgpsendmail: stopped by abort() (memory exhausted or a fatal \
runtime error; the reason, if one was given, is above)\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe; `m` is a static buffer.
        unsafe {
            libc::write(2, m.as_ptr().cast(), m.len());
            libc::_exit(71);
        }
    }
    // SAFETY: a zeroed sigaction is a valid value; the handler only calls async-signal-safe
    // functions and never returns.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_abort as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGABRT, &sa, std::ptr::null_mut());
    }
}
