//! System calls behind one door: every call into the operating system that the standard
//! library does not make for us (and that the binary's start-up hardening needs) is a small
//! safe function here.
//!
//! The rule: **no other module of the library has unsafe code** (`#![deny(unsafe_code)]` in
//! `lib.rs` and `main.rs`, allowed only on this module; the binary's allocator `oom.rs` is
//! the one other exception). Each function below either calls [`rustix`], whose safe
//! interface checks what the kernel is given (descriptors are borrowed, offsets and
//! results are typed), or calls `libc` inside an `unsafe` block with a `// SAFETY:` note
//! saying why that call is sound for every argument the safe signature admits.
//!
//! rustix covers memfd_create, copy_file_range, lseek, mkfifoat, waitid, kill, prctl, umask,
//! poll and the get*id calls. libc is left for what rustix has no safe form of: the password
//! database (`getpwuid_r`), signal dispositions (`signal`), the signal mask and sigwait
//! (`serve`), and descriptors known only by
//! their number (`fcntl` on fds 0-2 and on the numbers listed in `/proc/self/fd`, which a
//! `BorrowedFd` may not name while they might be closed).

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, RawFd};
use std::path::Path;

use rustix::fs::{MemfdFlags, Mode};
use rustix::process::{DumpableBehavior, Pid, Signal, WaitId, WaitIdOptions};

/// A memfd (memfd_create(2), close-on-exec): anonymous memory with a file descriptor, read
/// and write, no name in any file system. An error where the kernel has none (before 3.17,
/// or a seccomp filter refusing it).
pub fn memfd(name: &str) -> io::Result<File> {
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC)?;
    Ok(File::from(fd))
}

/// copy_file_range(2) of at most `len` bytes from `src` at `*off_in` to `dst` at
/// `*off_out`, both offsets explicit (the files' own offsets are neither used nor moved)
/// and advanced by what was copied. `Ok(0)`: `src` ends at `*off_in`.
pub fn copy_file_range(
    src: &File,
    off_in: &mut u64,
    dst: &File,
    off_out: &mut u64,
    len: usize,
) -> io::Result<usize> {
    Ok(rustix::fs::copy_file_range(
        src,
        Some(off_in),
        dst,
        Some(off_out),
        len,
    )?)
}

/// The offset of `fd` (lseek(2) `SEEK_CUR`): `None` for what cannot seek (a pipe, a
/// socket, a terminal).
pub fn offset(fd: impl AsFd) -> Option<u64> {
    rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(0)).ok()
}

/// Moves the offset of `fd` to `off` (lseek(2) `SEEK_SET`).
pub fn seek_to(fd: impl AsFd, off: u64) -> io::Result<()> {
    rustix::fs::seek(fd, rustix::fs::SeekFrom::Start(off))?;
    Ok(())
}

/// Makes a FIFO at `path` (mkfifo(3)) with `mode` (less the umask).
pub fn mkfifo(path: &Path, mode: u32) -> io::Result<()> {
    Ok(rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        Mode::from_raw_mode(mode),
    )?)
}

/// Whether the descriptor number `fd` is open (fcntl(2) `F_GETFD` succeeds).
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD takes no argument and reads or writes no memory of ours; on a number
    // that is not an open descriptor it fails with EBADF and changes nothing.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Sets close-on-exec on the descriptor number `fd` (fcntl(2) `F_GETFD`, `F_SETFD`),
/// keeping its other descriptor flags. An error (EBADF) when it is not open.
pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD and F_SETFD take an int (or nothing) and touch no memory of ours;
    // they change only the flag of that descriptor number, which owns nothing in Rust's
    // sense that a flag could invalidate. A number closed meanwhile fails with EBADF.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Opens `/dev/null` on each of the descriptors 0, 1, 2 that is closed (read-only on 0,
/// write-only on 1 and 2), so that no file we open later lands on one of them. Run before
/// anything else opens a file: open(2) returns the lowest free number.
pub fn open_std_fds() {
    for fd in 0..=2 {
        if fd_is_open(fd) {
            continue;
        }
        let null = std::fs::OpenOptions::new()
            .read(fd == 0)
            .write(fd != 0)
            .open("/dev/null");
        if let Ok(f) = null {
            // Kept open for the life of the process, on `fd` when every lower one is open.
            let _ = std::os::fd::IntoRawFd::into_raw_fd(f);
        }
    }
}

/// Whether descriptor 0 was closed when the process started ([`record_stdin`]).
static STDIN_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Run by the C library before `main` and before the Rust runtime, which opens
/// `/dev/null` on a closed descriptor 0, 1 or 2 (so a caller's `0<&-` would read as an empty
/// message): records whether 0 was closed then (fcntl(2) `F_GETFD` failing with EBADF).
extern "C" fn record_stdin() {
    // SAFETY: F_GETFD on a descriptor number touches no memory; a closed one fails.
    let closed = unsafe { libc::fcntl(0, libc::F_GETFD) } < 0;
    STDIN_CLOSED.store(closed, std::sync::atomic::Ordering::Relaxed);
}

/// [`record_stdin`] in the ELF constructors (`.init_array`), which run before `main`.
// SAFETY: a pointer to a function that takes nothing, returns nothing and touches only an
// atomic, the type the C library calls `.init_array` entries with (it passes argc, argv and
// envp, which the C calling convention lets a function without parameters ignore).
#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_STDIN: extern "C" fn() = record_stdin;

/// Whether the caller started us with descriptor 0 closed (`0<&-`): it now holds the
/// runtime's `/dev/null`, and [`Reader`] reads it as EBADF.
pub fn stdin_was_closed() -> bool {
    STDIN_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// A descriptor read with read(2), every error reported as it is. The standard library's
/// `std::io::Stdin` takes EBADF for end of file, so a standard input opened write-only
/// (`0>file`) would read as an empty message: this one reports it. Descriptor 0 that the
/// caller had closed ([`stdin_was_closed`]) reads as EBADF too, never as `/dev/null`'s end of
/// file.
pub struct Reader<F>(pub F);

impl<F: AsFd> io::Read for Reader<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        if self.0.as_fd().as_raw_fd() == 0 && stdin_was_closed() {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        loop {
            match rustix::io::read(&self.0, &mut *buf) {
                Err(rustix::io::Errno::INTR) => continue,
                r => return Ok(r?),
            }
        }
    }
}

/// Its descriptor, for poll(2) (the SMTP timeouts, `smtp::Timed`).
impl<F: AsFd> AsFd for Reader<F> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Standard input (descriptor 0) as a [`Reader`].
pub type Stdin = Reader<io::Stdin>;

/// Standard input, read with every error reported ([`Reader`]).
pub fn stdin() -> Stdin {
    Reader(io::stdin())
}

/// Marks the process not dumpable (prctl(2) `PR_SET_DUMPABLE` 0): no core file whatever
/// `RLIMIT_CORE`, and no ptrace or /proc memory reads by other processes of the user.
/// Reset by execve(2).
pub fn set_not_dumpable() -> io::Result<()> {
    Ok(rustix::process::set_dumpable_behavior(
        DumpableBehavior::NotDumpable,
    )?)
}

/// Sets the file mode creation mask (umask(2)); returns the previous one.
pub fn set_umask(mask: u32) -> u32 {
    rustix::process::umask(Mode::from_raw_mode(mask)).as_raw_mode()
}

/// The real user ID (getuid(2)).
pub fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// The effective user ID (geteuid(2)).
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The real group ID (getgid(2)).
pub fn gid() -> u32 {
    rustix::process::getgid().as_raw()
}

/// The effective group ID (getegid(2)).
pub fn egid() -> u32 {
    rustix::process::getegid().as_raw()
}

/// The first `needle` in `hay`, by glibc's memchr(3): the dynamic loader chose its
/// version for this CPU when the process started, so a search costs no CPU-feature
/// detection of its own (the memchr crate's takes nine CPUID instructions on first use,
/// each a trap to the hypervisor on a virtual machine).
pub fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    if hay.is_empty() {
        return None;
    }
    // SAFETY: memchr reads at most `hay.len()` bytes from `hay.as_ptr()`, all inside the
    // slice, and returns null or a pointer into those bytes.
    let p = unsafe { libc::memchr(hay.as_ptr().cast(), needle.into(), hay.len()) };
    (!p.is_null()).then(|| p as usize - hay.as_ptr() as usize)
}

/// The first of `a` or `b` in `hay`, whichever comes first ([`find_byte`] twice, the
/// second over the part before the first `b`).
pub fn find_either(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    let end = find_byte(b, hay);
    find_byte(a, &hay[..end.unwrap_or(hay.len())]).or(end)
}

/// Where `needle` starts in `hay` first, by glibc's memmem(3); an empty needle is at 0.
pub fn find_bytes(needle: &[u8], hay: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    // SAFETY: memmem reads at most `hay.len()` bytes of `hay` and `needle.len()` of
    // `needle`, both inside their slices, and returns null or a pointer into `hay`.
    let p = unsafe {
        libc::memmem(
            hay.as_ptr().cast(),
            hay.len(),
            needle.as_ptr().cast(),
            needle.len(),
        )
    };
    (!p.is_null()).then(|| p as usize - hay.as_ptr() as usize)
}

/// Every position of `needle` in `hay`, in order ([`find_byte`] from each one on).
pub fn byte_positions(needle: u8, hay: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let p = at + find_byte(needle, &hay[at..])?;
        at = p + 1;
        Some(p)
    })
}

/// The kernel's host name (uname(2)'s node name, what gethostname(2) returns), lossily
/// UTF-8.
pub fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// A user's entry in the password database: the fields pgpsendmail reads, copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Vec<u8>,
    /// Empty when the entry has none.
    pub home: Vec<u8>,
    /// Empty when the entry has none.
    pub gecos: Vec<u8>,
}

/// The entry of the user `uid` in the password database (getpwuid_r(3): files, or whatever
/// NSS is configured; one lookup), `None` when there is none or it cannot be read.
pub fn user(uid: u32) -> Option<User> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: a zeroed passwd is a valid value (integers and null pointers).
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: getpwuid_r (the reentrant form, sound with other threads) writes only into
        // `pw`, `res` and the `buf.len()` bytes of `buf`, all ours and alive for the call;
        // on success `res` points to `pw`, whose strings point into `buf`.
        let r =
            unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut res) };
        if r == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if r != 0 || res.is_null() || pw.pw_name.is_null() {
            return None;
        }
        let copy = |ptr: *mut libc::c_char| {
            if ptr.is_null() {
                return Vec::new();
            }
            // SAFETY: on success each field is null or a NUL-terminated string inside
            // `buf`, which is still alive and not written to until the bytes are copied.
            unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec()
        };
        return Some(User {
            name: copy(pw.pw_name),
            home: copy(pw.pw_dir),
            gecos: copy(pw.pw_gecos),
        });
    }
}

/// Restores the default disposition of SIGPIPE (signal(2) `SIG_DFL`): a write to a closed
/// pipe then ends the process quietly. (The Rust runtime ignores SIGPIPE at start-up.)
pub fn default_sigpipe() {
    // SAFETY: SIG_DFL installs no handler of ours, so nothing runs in signal context; it
    // changes only this process's disposition of SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Sends SIGKILL to the process `pid` (kill(2)). The caller makes sure `pid` is its own
/// child, not yet reaped, so that the number cannot have been reused.
pub fn kill(pid: u32) -> io::Result<()> {
    let pid = pid_of(pid)?;
    Ok(rustix::process::kill_process(pid, Signal::KILL)?)
}

/// Waits until the child `pid` has ended, without reaping it (waitid(2) `WEXITED |
/// WNOWAIT`), so that its number stays ours and another thread may still kill it.
/// Interrupted waits (EINTR) are retried.
pub fn wait_exit_no_reap(pid: u32) -> io::Result<()> {
    let pid = pid_of(pid)?;
    loop {
        match rustix::process::waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map(|_| ()).map_err(io::Error::from),
        }
    }
}

/// What a signal `pgpsendmail serve` waits for asks of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeSignal {
    /// SIGTERM or SIGINT: finish what is in flight, accept nothing new, end.
    Stop,
    /// SIGHUP: read the configuration again.
    Reload,
}

/// The set SIGTERM, SIGINT, SIGHUP.
fn serve_sigset() -> libc::sigset_t {
    // SAFETY: sigemptyset initializes the whole set it is given, a local of the right type;
    // sigaddset only sets bits in it; the signal numbers are valid.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Gives SIGTERM, SIGINT and SIGHUP their default dispositions and blocks them in the
/// calling thread (pthread_sigmask(3)), and so in every thread it starts afterwards: they stay pending until [`wait_serve_signal`] takes
/// them, and no handler ever runs in signal context.
pub fn block_serve_signals() -> io::Result<()> {
    for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: SIG_DFL installs no handler of ours. A disposition inherited as "ignore"
        // (nohup, a shell's background job) could otherwise let the signal be dropped.
        unsafe {
            libc::signal(s, libc::SIG_DFL);
        }
    }
    let set = serve_sigset();
    // SAFETY: `set` is an initialized sigset_t; the old mask is not asked for (null).
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Waits for one of the signals [`block_serve_signals`] blocked (sigwait(3)).
pub fn wait_serve_signal() -> io::Result<ServeSignal> {
    let set = serve_sigset();
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is initialized and `sig` is a valid place for the result.
    let rc = unsafe { libc::sigwait(&set, &mut sig) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(if sig == libc::SIGHUP {
        ServeSignal::Reload
    } else {
        ServeSignal::Stop
    })
}

/// Which of `fds` are readable (or at end, or in error), waiting at most `timeout_ms`
/// milliseconds (poll(2); -1: no bound). An interrupted wait is an empty answer.
pub fn poll_readable(
    fds: &[std::os::fd::BorrowedFd<'_>],
    timeout_ms: i32,
) -> io::Result<Vec<bool>> {
    use rustix::event::{PollFd, PollFlags};
    let mut p: Vec<PollFd<'_>> = fds.iter().map(|f| PollFd::new(f, PollFlags::IN)).collect();
    let timeout = if timeout_ms < 0 {
        None
    } else {
        Some(rustix::event::Timespec {
            tv_sec: i64::from(timeout_ms / 1000),
            tv_nsec: i64::from(timeout_ms % 1000) * 1_000_000,
        })
    };
    match rustix::event::poll(&mut p, timeout.as_ref()) {
        Ok(_) => Ok(p.iter().map(|f| !f.revents().is_empty()).collect()),
        Err(rustix::io::Errno::INTR) => Ok(vec![false; fds.len()]),
        Err(e) => Err(e.into()),
    }
}

/// Waits until a read of `fd` would not block (data, end of file, or an error to report),
/// at most `timeout` (poll(2) `POLLIN`; EINTR restarts the wait for the time left).
/// `Ok(false)`: the time ran out with nothing to read.
pub fn wait_readable(fd: impl AsFd, timeout: std::time::Duration) -> io::Result<bool> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ts = Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: left.subsec_nanos().into(),
        };
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn pid_of(pid: u32) -> io::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn a_reader_reports_ebadf_where_std_stdin_would_see_end_of_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"walrus").unwrap();
        let mut s = String::new();
        Reader(File::open(&path).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "walrus");
        let write_only = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let e = Reader(write_only).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    }

    #[test]
    fn a_blocked_signal_waits_for_sigwait() {
        // On its own thread, and sent to that thread only: other test threads keep their
        // dispositions.
        std::thread::spawn(|| {
            block_serve_signals().unwrap();
            // SAFETY: SIGHUP to this very thread, which blocks it.
            unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGHUP) };
            assert_eq!(wait_serve_signal().unwrap(), ServeSignal::Reload);
            unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGTERM) };
            assert_eq!(wait_serve_signal().unwrap(), ServeSignal::Stop);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn poll_says_which_is_readable() {
        use std::os::fd::AsFd;
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (_c, d) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(
            poll_readable(&[b.as_fd(), d.as_fd()], 10).unwrap(),
            [false, false]
        );
        a.write_all(b"x").unwrap();
        assert_eq!(
            poll_readable(&[b.as_fd(), d.as_fd()], -1).unwrap(),
            [true, false]
        );
    }

    #[test]
    fn memfd_is_read_write_and_has_no_path() {
        let mut f = memfd("pgpsendmail-test").unwrap();
        f.write_all(b"walrus").unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "walrus");
        let link = std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())).unwrap();
        let link = link.to_string_lossy();
        assert!(link.starts_with("/memfd:pgpsendmail-test"), "{link}");
        assert!(link.ends_with("(deleted)"), "{link}");
        // Close-on-exec.
        let flags = rustix::io::fcntl_getfd(&f).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }

    #[test]
    fn wait_readable_times_out_on_a_silent_pipe_and_sees_data_and_eof() {
        let (r, w) = std::io::pipe().unwrap();
        let t = std::time::Duration::from_millis(50);
        let start = std::time::Instant::now();
        assert!(!wait_readable(&r, t).unwrap());
        assert!(start.elapsed() >= t);
        let mut w = w;
        w.write_all(b"x").unwrap();
        assert!(wait_readable(&r, t).unwrap());
        drop(w);
        let mut r = r;
        let mut b = [0u8; 1];
        r.read_exact(&mut b).unwrap();
        // End of file is readable too.
        assert!(wait_readable(&r, t).unwrap());
    }

    #[test]
    fn memfd_refuses_a_name_with_nul() {
        assert!(memfd("a\0b").is_err());
    }

    #[test]
    fn copy_file_range_moves_explicit_offsets_only() {
        let mut src = memfd("src").unwrap();
        src.write_all(b"0123456789").unwrap();
        let mut dst = memfd("dst").unwrap();
        dst.write_all(b"ab").unwrap();
        let (mut off_in, mut off_out) = (3u64, 2u64);
        let n = copy_file_range(&src, &mut off_in, &dst, &mut off_out, 4).unwrap();
        assert_eq!((n, off_in, off_out), (4, 7, 6));
        // The files' own offsets did not move.
        assert_eq!(src.stream_position().unwrap(), 10);
        assert_eq!(dst.stream_position().unwrap(), 2);
        let mut s = String::new();
        dst.seek(SeekFrom::Start(0)).unwrap();
        dst.read_to_string(&mut s).unwrap();
        assert_eq!(s, "ab3456");
        // At the end of `src`: 0.
        let mut end = 10u64;
        assert_eq!(
            copy_file_range(&src, &mut end, &dst, &mut off_out, 4).unwrap(),
            0
        );
    }

    #[test]
    fn offset_of_a_file_and_of_a_pipe() {
        let mut f = memfd("off").unwrap();
        f.write_all(b"hello").unwrap();
        assert_eq!(offset(&f), Some(5));
        seek_to(&f, 1).unwrap();
        assert_eq!(offset(&f), Some(1));
        let (r, _w) = std::io::pipe().unwrap();
        assert_eq!(offset(&r), None);
        assert!(seek_to(&r, 0).is_err());
    }

    #[test]
    fn mkfifo_makes_a_fifo() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        mkfifo(&p, 0o600).unwrap();
        assert!(std::fs::symlink_metadata(&p).unwrap().file_type().is_fifo());
        assert!(mkfifo(&p, 0o600).is_err(), "exists");
    }

    #[test]
    fn fd_is_open_and_set_cloexec() {
        let f = File::open("/dev/null").unwrap();
        let fd = f.as_raw_fd();
        assert!(fd_is_open(fd));
        rustix::io::fcntl_setfd(&f, rustix::io::FdFlags::empty()).unwrap();
        set_cloexec(fd).unwrap();
        assert!(
            rustix::io::fcntl_getfd(&f)
                .unwrap()
                .contains(rustix::io::FdFlags::CLOEXEC)
        );
        drop(f);
        // A number far above anything this test process has open.
        assert!(!fd_is_open(1 << 20));
        assert!(set_cloexec(1 << 20).is_err());
    }

    #[test]
    fn ids_match_proc_self_status() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let field = |name: &str| -> Vec<u32> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap()
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect()
        };
        let (u, g) = (field("Uid:"), field("Gid:"));
        assert_eq!((uid(), euid()), (u[0], u[1]));
        assert_eq!((gid(), egid()), (g[0], g[1]));
    }

    #[test]
    fn byte_searches_find_what_a_scan_finds() {
        let hay = b"ab\r\ncd\n\nefg\rh\x00\n";
        let scan = |n: u8| hay.iter().position(|&b| b == n);
        for n in [b'a', b'\r', b'\n', b'h', 0, b'z'] {
            assert_eq!(find_byte(n, hay), scan(n), "{n}");
            let all: Vec<usize> = (0..hay.len()).filter(|&i| hay[i] == n).collect();
            assert_eq!(byte_positions(n, hay).collect::<Vec<_>>(), all, "{n}");
        }
        assert_eq!(find_byte(b'a', b""), None);
        assert_eq!(byte_positions(b'a', b"").count(), 0);
        assert_eq!(find_either(b'\r', b'\n', hay), Some(2));
        assert_eq!(find_either(b'\r', b'\n', b"xy\nz\r"), Some(2));
        assert_eq!(find_either(b'\r', b'\n', b"xyz"), None);
        assert_eq!(find_bytes(b": ", b"Subject: x"), Some(7));
        assert_eq!(find_bytes(b": ", b"Subject:x"), None);
        assert_eq!(find_bytes(b"", b"abc"), Some(0));
        assert_eq!(find_bytes(b"abcd", b"abc"), None);
    }

    #[test]
    fn the_host_name_is_the_kernels() {
        let proc = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(host_name(), proc.trim_end_matches('\n'));
    }

    #[test]
    fn the_users_root_known_and_nobody_unknown() {
        let root = user(0).unwrap();
        assert_eq!(
            (&root.name[..], &root.home[..]),
            (&b"root"[..], &b"/root"[..])
        );
        // A uid no password database has.
        assert_eq!(user(4_000_000_123), None);
    }

    #[test]
    fn wait_and_kill_a_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        kill(child.id()).unwrap();
        wait_exit_no_reap(child.id()).unwrap();
        // Not reaped: still ours to wait for, and it was killed.
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        // Reaped now: waiting again is an error (ECHILD), never a hang.
        assert!(wait_exit_no_reap(child.id()).is_err());
        assert!(kill(0).is_err(), "pid 0 is not a process");
    }
}
