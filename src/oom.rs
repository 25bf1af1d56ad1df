//! Out of memory ends pgpsendmail with one line on stderr and exit 71 (EX_OSERR), instead
//! of Rust's default: a message, then abort(), whose core file would hold the plaintext
//! the process was encrypting. Used by the binary only (`#[global_allocator]` in main.rs).
//!
//! Nothing in pgpsendmail or its dependencies recovers from a failed allocation
//! (no `try_reserve`), so ending at the first one changes no behaviour but the ending.

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
