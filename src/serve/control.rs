//! What the threads of `serve` share: the stop signal every wait also watches, the count of
//! sessions against the bound, and the setup in force (swapped whole on SIGHUP).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::config::{self, Config};

/// The stop signal: the read end of a socket pair whose write end is dropped to stop. Once
/// it is, every poll of [`Stop::fd`] finds it readable (end of file) at once, in every
/// thread, without a byte to consume: a broadcast that cannot be missed.
pub struct Stop {
    rx: UnixStream,
    tx: Mutex<Option<UnixStream>>,
}

impl Stop {
    pub fn new() -> io::Result<Stop> {
        let (tx, rx) = UnixStream::pair()?;
        Ok(Stop {
            rx,
            tx: Mutex::new(Some(tx)),
        })
    }

    /// Stops: from now on [`Stop::is_set`] is true and [`Stop::fd`] readable.
    pub fn trigger(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    pub fn is_set(&self) -> bool {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }

    /// A descriptor to poll beside others: readable once stopped.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.rx.as_fd()
    }
}

/// The configuration in force and what `serve` takes from it with its flags applied.
#[derive(Debug, Clone)]
pub struct Setup {
    pub cfg: Config,
    /// `[serve]` with the command line's values over it.
    pub serve: config::Serve,
}

/// What the command line sets over `[serve]`, applied again after every reload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub listen: Vec<config::Listen>,
    pub relay: Option<String>,
    pub max_sessions: Option<usize>,
    pub message_size_limit: Option<u64>,
    pub max_recipients: Option<usize>,
}

impl Overrides {
    /// `cfg`'s `[serve]` with these over it.
    pub fn apply(&self, cfg: Config) -> Setup {
        let mut serve = cfg.serve.clone();
        if !self.listen.is_empty() {
            serve.listen = self.listen.clone();
        }
        if let Some(r) = &self.relay {
            serve.relay = r.clone();
        }
        if let Some(n) = self.max_sessions {
            serve.max_sessions = n;
        }
        if let Some(n) = self.message_size_limit {
            serve.message_size_limit = n;
        }
        if let Some(n) = self.max_recipients {
            serve.max_recipients = n;
        }
        Setup { cfg, serve }
    }
}

/// Everything the listener, the sessions and the signal thread share.
pub struct Shared {
    pub stop: Stop,
    setup: RwLock<Arc<Setup>>,
    active: AtomicUsize,
}

impl Shared {
    pub fn new(setup: Setup) -> io::Result<Shared> {
        Ok(Shared {
            stop: Stop::new()?,
            setup: RwLock::new(Arc::new(setup)),
            active: AtomicUsize::new(0),
        })
    }

    /// The setup in force now; a session keeps the one it started with.
    pub fn setup(&self) -> Arc<Setup> {
        Arc::clone(&self.setup.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts `setup` in force for every session that starts from now on.
    pub fn replace(&self, setup: Setup) {
        *self.setup.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(setup);
    }

    /// A place for one more session, or `None` when `bound` are served already.
    pub fn admit(self: &Arc<Self>, bound: usize) -> Option<Seat> {
        let mut n = self.active.load(Ordering::SeqCst);
        loop {
            if n >= bound {
                return None;
            }
            match self
                .active
                .compare_exchange(n, n + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Some(Seat(Arc::clone(self))),
                Err(now) => n = now,
            }
        }
    }

    /// Sessions being served now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

/// One admitted session's place: given back when dropped, however the session ends.
pub struct Seat(Arc<Shared>);

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Arc<Shared> {
        let cfg = Config::default();
        Arc::new(Shared::new(Overrides::default().apply(cfg)).unwrap())
    }

    #[test]
    fn seats_are_bounded_and_given_back() {
        let s = shared();
        let a = s.admit(2).unwrap();
        let _b = s.admit(2).unwrap();
        assert!(s.admit(2).is_none());
        drop(a);
        assert_eq!(s.active(), 1);
        assert!(s.admit(2).is_some());
    }

    #[test]
    fn stop_is_seen_by_every_poll() {
        let s = shared();
        assert!(!s.stop.is_set());
        assert_eq!(
            crate::sys::poll_readable(&[s.stop.fd()], 0).unwrap(),
            [false]
        );
        s.stop.trigger();
        assert!(s.stop.is_set());
        for _ in 0..3 {
            assert_eq!(
                crate::sys::poll_readable(&[s.stop.fd()], 0).unwrap(),
                [true]
            );
        }
    }

    #[test]
    fn flags_override_the_section_and_survive_a_reload() {
        let o = Overrides {
            relay: Some("127.0.0.1:2525".into()),
            max_sessions: Some(3),
            ..Default::default()
        };
        let cfg =
            Config::parse("[serve]\nrelay = \"127.0.0.1:9\"\nmax_sessions = 7\n", "f").unwrap();
        let s = o.apply(cfg);
        assert_eq!(s.serve.relay, "127.0.0.1:2525");
        assert_eq!(s.serve.max_sessions, 3);
        assert_eq!(s.serve.listen, Config::default().serve.listen);
    }
}
