//! `pgpsendmail serve`: the gateway, an SMTP server that encrypts every message with the
//! same pipeline as `-bm` and relays the copies to a next hop (pgpsendmail(8), SERVE).
//!
//! Threads: the main one accepts (`listen.rs`), one per session (`session.rs`), at most
//! `max_sessions` of them, and one takes the signals (SIGTERM and SIGINT stop, SIGHUP
//! reloads the configuration) with sigwait, so no handler ever runs in signal context.
//! What they share is in `control.rs`; the copies go to the next hop through `relay.rs`.
//!
//! Invariants: it listens on loopback and unix sockets only (the configuration refuses
//! anything else); 250 after DATA only once the next hop took every copy; nothing of a
//! message reaches the next hop before every copy is complete, and a copy is taken by the
//! next hop whole or not at all (its final `.` is sent last); memory per session is
//! bounded, whatever the message's size (the pipeline's bounds, plus a 64 KiB input
//! buffer).

mod control;
mod listen;
mod relay;
mod session;

pub use control::Overrides;

use std::sync::Arc;

use crate::Env;
use crate::diag;
use crate::error::{Error, ExitCode};
use crate::sys::{self, ServeSignal};
use crate::syslog;

/// Runs the gateway until SIGTERM or SIGINT: the exit status (0 after a clean stop, 78 for
/// a bad configuration or flag, 71 when it cannot listen).
pub fn run(env: &Env, overrides: &Overrides) -> i32 {
    match serve(env, overrides) {
        Ok(()) => 0,
        Err(e) => {
            diag::say(format_args!("{e}"));
            syslog::log(syslog::Level::Err, &format!("serve: {e}"));
            e.exit_code().code()
        }
    }
}

fn serve(env: &Env, overrides: &Overrides) -> crate::error::Result<()> {
    let setup = overrides.apply(env.load_config()?);
    // Before any thread starts: every thread inherits the mask.
    sys::block_serve_signals().map_err(|e| Error::Os(format!("cannot block signals: {e}")))?;
    let listeners = listen::bind(&setup.serve.listen)?;
    let shown: Vec<String> = setup.serve.listen.iter().map(|l| l.to_string()).collect();
    let started = format!(
        "serve: listening on {}, relaying to {}, at most {} sessions",
        shown.join(", "),
        setup.serve.relay,
        setup.serve.max_sessions
    );
    let shared =
        Arc::new(control::Shared::new(setup).map_err(|e| Error::Os(format!("cannot start: {e}")))?);
    syslog::log(syslog::Level::Info, &diag::sanitize(&started));
    {
        let (shared, env, overrides) = (Arc::clone(&shared), env.clone(), overrides.clone());
        std::thread::Builder::new()
            .name("serve-signals".into())
            .spawn(move || signals(&shared, &env, &overrides))
            .map_err(|e| Error::Os(format!("cannot start: {e}")))?;
    }
    let env = Arc::new(env.clone());
    let session = {
        let shared = Arc::clone(&shared);
        move |conn, seat| session::run(conn, seat, Arc::clone(&shared), &env)
    };
    listen::accept_loop(&listeners, &shared, session)?;
    // Stopped: no new connection is taken; every session finishes what it is doing.
    drop(listeners);
    while shared.active() > 0 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    syslog::log(syslog::Level::Info, "serve: stopped");
    Ok(())
}

/// The signal thread: SIGHUP puts a freshly read configuration in force for the sessions
/// that start after it (a bad one is reported and the old one kept; `listen` takes effect
/// only at a restart); SIGTERM or SIGINT stop.
fn signals(shared: &control::Shared, env: &Env, overrides: &Overrides) {
    loop {
        match sys::wait_serve_signal() {
            Ok(ServeSignal::Reload) => reload(shared, env, overrides),
            Ok(ServeSignal::Stop) | Err(_) => {
                shared.stop.trigger();
                return;
            }
        }
    }
}

fn reload(shared: &control::Shared, env: &Env, overrides: &Overrides) {
    match env.load_config() {
        Ok(cfg) => {
            let new = overrides.apply(cfg);
            if new.serve.listen != shared.setup().serve.listen {
                let text = "serve: listen changed: it takes effect at the next start";
                diag::say(format_args!("{text}"));
                syslog::warn(text);
            }
            shared.replace(new);
            syslog::log(syslog::Level::Info, "serve: configuration reloaded");
        }
        Err(e) => {
            let text = format!("serve: configuration not reloaded, the old one stays: {e}");
            diag::say(format_args!("{text}"));
            syslog::log(syslog::Level::Err, &text);
        }
    }
}

/// The exit status for a flag of `serve` that is not valid.
pub fn bad_flag(reason: &str) -> i32 {
    diag::say(format_args!("serve: {reason}"));
    ExitCode::Config.code()
}
