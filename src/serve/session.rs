//! One SMTP session of `serve`: the protocol is [`crate::smtp::server`]'s; this is its
//! [`Handler`]. A recipient the policy refuses is refused at RCPT (5xx, its reason, never
//! message content); each message goes through the same pipeline as `-bm` and its copies
//! to the next hop ([`super::relay`]); the reply after DATA is the relay's verdict.
//!
//! Between commands a session also watches the stop signal: after SIGTERM a session waiting
//! for a command is answered `421 4.3.2` and closed, while one reading or relaying a
//! message finishes it first.

use std::cell::Cell;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::control::{Seat, Setup, Shared};
use super::listen::Conn;
use super::relay::Relay;
use crate::Env;
use crate::config::Flavor;
use crate::diag::sanitize;
use crate::keys::Keyring;
use crate::keys::recipients::{self, Decision};
use crate::message::address::Address;
use crate::pipeline::{self, Context};
use crate::sendmail::args::{Invocation, Sender};
use crate::sendmail::smtp::data_reply;
use crate::smtp::server::{self, Failure, Handler, Limits, Transaction};
use crate::smtp::{Input, Mailbox, Reply};

/// The reply to a session waiting for a command when `serve` stops.
pub const STOPPING: &str = "4.3.2 shutting down; try again later";

/// A session's connection as [`Input`]: each read waits for data, for the timeout the
/// server set, and (unless a message is under way) for the stop signal, which ends the
/// wait with [`io::ErrorKind::ConnectionAborted`].
pub struct Watched {
    conn: Conn,
    shared: Arc<Shared>,
    /// Set while a message is read and relayed: the stop signal waits for its end.
    busy: Rc<Cell<bool>>,
    timeout: Option<Duration>,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::fd::AsFd;
        let deadline = self.timeout.map(|t| Instant::now() + t);
        loop {
            let watch = !self.busy.get();
            if watch && self.shared.stop.is_set() {
                return Err(io::Error::new(io::ErrorKind::ConnectionAborted, STOPPING));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client was silent",
                ));
            }
            let ms = left.map_or(-1, |l| {
                i32::try_from(l.as_millis().max(1)).unwrap_or(i32::MAX)
            });
            let mut fds = vec![self.conn.as_fd()];
            if watch {
                fds.push(self.shared.stop.fd());
            }
            if crate::sys::poll_readable(&fds, ms)?[0] {
                return self.conn.read(buf);
            }
        }
    }
}

impl Input for BufReader<Watched> {
    fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.get_mut().timeout = timeout;
    }
}

/// The `serve` face for one session.
struct Gateway<'a> {
    setup: &'a Setup,
    env: &'a Env,
    busy: Rc<Cell<bool>>,
    /// This session's place under `max_sessions`, given back by [`Handler::closing`] (before
    /// the client reads the last reply) or when the session ends otherwise.
    seat: Option<Seat>,
}

impl Gateway<'_> {
    /// The environment for one message: the time now, not the start's.
    fn env_now(&self) -> Env {
        Env {
            now: SystemTime::now(),
            ..self.env.clone()
        }
    }
}

impl Handler for Gateway<'_> {
    fn closing(&mut self) {
        self.seat = None;
    }

    fn hostname(&self) -> String {
        self.env.hostname.clone()
    }

    /// The policy for one recipient, decided now with the keys it needs: refused (5xx and
    /// the reason) when it has no usable key and may not get a plaintext copy; 4xx instead
    /// when a key source could not be read (the key may be there once it can).
    fn rcpt(&mut self, _: &Transaction, rcpt: &Mailbox) -> std::result::Result<(), Reply> {
        let addr = address(rcpt)?;
        let cfg = &self.setup.cfg;
        let env = self.env_now();
        let want = recipients::wanted(std::slice::from_ref(&addr), cfg);
        let cache = crate::keys::index::cache_dir(&env.cache_places(cfg)).ok();
        let kr = Keyring::load_for(&cfg.keyring, cache.as_deref(), &want, env.now);
        match recipients::decide(&addr, cfg, &kr) {
            Decision::Refuse { reason } if !kr.problems.is_empty() => Err(Reply::new(
                451,
                format!(
                    "4.3.0 a key source cannot be read ({}): {}",
                    sanitize(&kr.problems[0].to_string()),
                    sanitize(&reason)
                ),
            )),
            Decision::Refuse { reason } => {
                Err(Reply::new(550, format!("5.7.1 {}", sanitize(&reason))))
            }
            _ => Ok(()),
        }
    }

    fn message(&mut self, tx: Transaction, data: &mut dyn Read) -> Reply {
        self.busy.set(true);
        let reply = self.relay_message(tx, data);
        self.busy.set(false);
        reply
    }
}

impl Gateway<'_> {
    /// The pipeline for one message, its copies relayed.
    fn relay_message(&mut self, tx: Transaction, data: &mut dyn Read) -> Reply {
        let recipients: Vec<Address> = tx.rcpts.iter().filter_map(|m| address(m).ok()).collect();
        let sender = tx.sender.as_ref().map(|m| m.as_str().to_string());
        let inv = Invocation {
            sender: Some(sender.clone().map_or(Sender::Null, Sender::Address)),
            recipients,
            ignore_dots: true,
            ..Invocation::default()
        };
        let env = self.env_now();
        let relay = &self.setup.serve.relay;
        let ctx = Context {
            inv: &inv,
            cfg: &self.setup.cfg,
            // Named in messages only: the copies go to the next hop, not to a program.
            program: Path::new(relay),
            flavor: Flavor::Postfix,
            env: &env,
        };
        let mut next = Relay {
            relay,
            sender: sender.unwrap_or_default(),
            helo: &env.hostname,
            tmpdir: env.tmpdir.as_deref(),
            reply: None,
        };
        let res = pipeline::send(&ctx, data, &mut next);
        match next.reply {
            Some(r) => r,
            None => {
                let (code, text) = data_reply(&res);
                Reply::new(code, text)
            }
        }
    }
}

/// A recipient as the pipeline takes it, or the reply refusing it at RCPT.
fn address(m: &Mailbox) -> std::result::Result<Address, Reply> {
    Address::parse_single(m.as_str()).map_err(|e| {
        Reply::new(
            553,
            format!("5.1.3 recipient <{}> not taken: {e}", sanitize(m.as_str())),
        )
    })
}

/// The limits of a `serve` session, from `[serve]`: SIZE is the largest message that still
/// fits the next hop's `message_size_limit` once encrypted.
pub fn limits(setup: &Setup) -> Limits {
    let s = &setup.serve;
    Limits {
        rcpts: s.max_recipients,
        size: (s.message_size_limit > 0)
            .then(|| crate::sendmail::size::largest_before_encryption(s.message_size_limit)),
        command_timeout: Duration::from_secs(s.command_timeout),
        data_timeout: Duration::from_secs(s.data_timeout),
        ..Limits::default()
    }
}

/// Serves one connection with the setup in force when it was accepted; gives its seat
/// back when it ends, however it ends.
pub fn run(conn: Conn, seat: Seat, shared: Arc<Shared>, env: &Env) {
    let setup = shared.setup();
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    // A client that stops reading cannot hold a session forever.
    let _ = out.set_write_timeout(Some(server::COMMAND_TIMEOUT));
    let busy = Rc::new(Cell::new(false));
    let mut input = BufReader::with_capacity(
        64 << 10,
        Watched {
            conn,
            shared: Arc::clone(&shared),
            busy: Rc::clone(&busy),
            timeout: None,
        },
    );
    let mut gateway = Gateway {
        setup: &setup,
        env,
        busy,
        seat: Some(seat),
    };
    let ended = server::serve(&mut input, &mut out, &mut gateway, &limits(&setup));
    if let Err(Failure::Read(e)) = &ended
        && e.kind() == io::ErrorKind::ConnectionAborted
    {
        let _ = Reply::new(421, STOPPING).write_to(&mut out);
    }
    let _ = out.flush();
    out.shutdown();
}
