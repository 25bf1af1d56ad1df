//! The listening sockets of `serve`: bound on loopback or as unix sockets only, each
//! connection admitted against the session bound or answered 421 4.3.2 and closed.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::control::{Seat, Shared};
use crate::config::Listen;
use crate::diag::sanitize;
use crate::error::{Error, Result};

/// One listening socket.
pub enum Listener {
    Tcp(TcpListener),
    /// The socket and its path, removed when `serve` ends.
    Unix(UnixListener, PathBuf),
}

/// One accepted connection.
pub enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    /// The same connection again, for a second handle (the reader beside the writer).
    pub fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
        })
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_write_timeout(t),
            Conn::Unix(s) => s.set_write_timeout(t),
        }
    }

    /// Ends both directions (the peer sees end of file), whatever other handles exist.
    pub fn shutdown(&self) {
        let _ = match self {
            Conn::Tcp(s) => s.shutdown(Shutdown::Both),
            Conn::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Conn {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Conn::Tcp(s) => s.as_fd(),
            Conn::Unix(s) => s.as_fd(),
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l, _) => l.as_fd(),
        }
    }
}

impl Listener {
    fn accept(&self) -> io::Result<Conn> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
            Listener::Unix(l, _) => l.accept().map(|(s, _)| Conn::Unix(s)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds every address (non-blocking, so that a connection gone before accept never
/// blocks the loop). A unix socket left by a run that ended without removing it (nobody
/// answers on it) is replaced; one in use, or a path that is not a socket, is an error.
/// A unix socket is made mode 0660: its group decides who may connect.
pub fn bind(addrs: &[Listen]) -> Result<Vec<Listener>> {
    let mut out = Vec::new();
    for a in addrs {
        let shown = sanitize(&a.to_string());
        let fail = |e: io::Error| Error::Os(format!("cannot listen on {shown}: {e}"));
        let l = match a {
            Listen::Tcp(sa) => {
                let l = TcpListener::bind(sa).map_err(fail)?;
                l.set_nonblocking(true).map_err(fail)?;
                Listener::Tcp(l)
            }
            Listen::Unix(p) => {
                clear_stale_socket(p).map_err(fail)?;
                let l = UnixListener::bind(p).map_err(fail)?;
                // Ours now: removed with the listener, even if what follows fails.
                let l = Listener::Unix(l, p.clone());
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o660))
                    .map_err(fail)?;
                if let Listener::Unix(u, _) = &l {
                    u.set_nonblocking(true).map_err(fail)?;
                }
                l
            }
        };
        out.push(l);
    }
    Ok(out)
}

/// Removes a unix socket at `p` that nobody listens on; refuses anything else there.
fn clear_stale_socket(p: &std::path::Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if !m.file_type().is_socket() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket",
        )),
        Ok(_) => match UnixStream::connect(p) {
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another server answers on it",
            )),
            Err(_) => std::fs::remove_file(p),
        },
    }
}

/// The reply to a connection beyond the bound (RFC 5321 3.8: 421 at the greeting).
pub const BUSY: &[u8] = b"421 4.3.2 too many sessions at once; try again later\r\n";

/// Accepts connections until the stop signal: each admitted one goes to `session` on a
/// thread of its own; one beyond the bound (or one no thread could be started for) is
/// answered [`BUSY`] and closed.
pub fn accept_loop<F>(listeners: &[Listener], shared: &Arc<Shared>, session: F) -> Result<()>
where
    F: Fn(Conn, Seat) + Clone + Send + 'static,
{
    loop {
        let mut fds: Vec<BorrowedFd<'_>> = listeners.iter().map(|l| l.as_fd()).collect();
        fds.push(shared.stop.fd());
        let ready = crate::sys::poll_readable(&fds, -1)
            .map_err(|e| Error::Os(format!("cannot wait for connections: {e}")))?;
        if shared.stop.is_set() {
            return Ok(());
        }
        for (l, _) in listeners.iter().zip(&ready).filter(|(_, r)| **r) {
            let Ok(conn) = l.accept() else {
                // Gone before accept, or out of descriptors for now: the next poll retries.
                continue;
            };
            let bound = shared.setup().serve.max_sessions;
            match shared.admit(bound) {
                Some(seat) => start(conn, seat, session.clone()),
                None => refuse(conn),
            }
        }
    }
}

/// Runs `session` for `conn` on a thread of its own.
fn start<F>(conn: Conn, seat: Seat, session: F)
where
    F: Fn(Conn, Seat) + Send + 'static,
{
    let spare = conn.try_clone();
    let started = std::thread::Builder::new()
        .name("serve-session".into())
        .spawn(move || session(conn, seat));
    if started.is_err()
        && let Ok(c) = spare
    {
        refuse(c);
    }
}

/// Answers [`BUSY`] (waiting at most a second for the client to take it) and closes.
fn refuse(mut conn: Conn) {
    let _ = conn.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = conn.write_all(BUSY);
    conn.shutdown();
}
