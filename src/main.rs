//! Entry point: hardening, then the sendmail interface or the admin interface
//! (pgpsendmail(8), DESCRIPTION; docs/interface.md section 8), then an exit status. All the
//! work is in the library, and so are the system calls of the hardening
//! (`pgpsendmail::sys`).

#![deny(unsafe_code)]

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use clap::{Parser, Subcommand};
use pgpsendmail::error::ExitCode;
use pgpsendmail::sendmail::args::Invoked;
use pgpsendmail::sendmail::deliver;
use pgpsendmail::{Env, admin, diag, serve, sys};

#[allow(unsafe_code)]
mod oom;

#[global_allocator]
static ALLOC: oom::ExitOnOom = oom::ExitOnOom;

/// The admin interface (invoked as `pgpsendmail` with a subcommand or --help/--version).
#[derive(Parser, Debug)]
#[command(
    name = "pgpsendmail",
    version,
    about = "A drop-in sendmail that encrypts every message to its recipients' OpenPGP keys",
    long_about = "A drop-in /usr/sbin/sendmail that encrypts every message to its recipients' \
OpenPGP keys (PGP/MIME, RFC 3156, with RFC 9788 header protection) before handing only \
ciphertext to the real sendmail.\n\n\
Used as sendmail:  pgpsendmail [sendmail options] [--] recipient...  < message\n\
(the sendmail options are listed after the commands below)"
)]
struct Admin {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Validate the configuration, the real sendmail and every keyring source; exit 0
    /// when all is well, 1 with warnings, 78 when no mail can be sent at all (broken
    /// configuration, no real sendmail, no usable key for anything)
    Check {
        /// Warn about certificates that stop being usable within this many days
        /// (default: the warn_days setting, 30)
        #[arg(long, value_name = "N")]
        warn_days: Option<u32>,
    },
    /// Dry run: read a message on stdin and print what sending it with these sendmail
    /// arguments would do (recipients, keys, copies, outer header, downstream argv);
    /// exits with the status sending would end with. Nothing is sent.
    Explain {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
        /// The sendmail arguments (for example: -t, or -i -- alice@example.org)
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "SENDMAIL-ARGS"
        )]
        args: Vec<OsString>,
    },
    /// The gateway: an SMTP server on loopback or unix sockets that encrypts every message
    /// as the sendmail face does and relays each copy to the next hop; stops on SIGTERM,
    /// reloads the configuration on SIGHUP. Flags override the [serve] section.
    Serve {
        /// Listen here: 127.0.0.1:PORT, [::1]:PORT or unix:/path (repeatable; anything not
        /// loopback exits 78)
        #[arg(long, value_name = "ADDR")]
        listen: Vec<String>,
        /// The next hop every copy is relayed to (Postfix's reinjection smtpd)
        #[arg(long, value_name = "HOST:PORT")]
        relay: Option<String>,
        /// Sessions served at once (1 to 1000); one more is answered 421 4.3.2
        #[arg(long, value_name = "N")]
        max_sessions: Option<usize>,
        /// The next hop's size limit in bytes (0: none); SIZE offers what still fits once
        /// encrypted
        #[arg(long, value_name = "BYTES")]
        message_size_limit: Option<u64>,
        /// Recipients in one transaction (1 to 100000); more are answered 452 4.5.3
        #[arg(long, value_name = "N")]
        max_recipients: Option<usize>,
    },
    /// Print the shell completion script of these commands for SHELL (bash, zsh, fish,
    /// elvish or powershell) on stdout
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Certificates in the keyring
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Validate the certificates in FILEs and write each to the key directory as
    /// FINGERPRINT.asc, merging into one already there; a revocation certificate revokes
    /// the stored certificate it belongs to
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::path::PathBuf>,
    },
    /// List every certificate, or those sending to ADDRESS would use (following
    /// [recipients] aliases, local names and "*"), and whether each is usable
    List {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
        address: Option<String>,
    },
    /// Look each ADDRESS up by WKD (advanced, then direct method), then at the [discovery]
    /// keyservers, over HTTPS only, and store what is found in the discovered directory;
    /// a different key for an address that has one is held for review
    Fetch {
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
    },
    /// Fetch every discovered certificate again from where it was found, and updates for
    /// the key directory's certificates that expire within warn_days or are pinned; quiet
    /// when nothing changed, exit 1 when something failed or was held (for cron)
    Refresh,
    /// Take a certificate held for review: it replaces the one it was held against
    Accept {
        #[arg(required = true, value_name = "FINGERPRINT")]
        fingerprints: Vec<String>,
    },
    /// Drop a certificate held for review and do not hold it again; the known one stays
    Reject {
        #[arg(required = true, value_name = "FINGERPRINT")]
        fingerprints: Vec<String>,
    },
}

/// Hardening at start-up, one step each, before anything reads input.
fn harden() {
    // fds 0-2 must be open: a caller that closed stdout (sudo sends it to /dev/null, others
    // close it) would otherwise see our ciphertext file or the real sendmail's pipe land on
    // fd 1 or 2 and error text written into it.
    sys::open_std_fds();
    // No core file of a process holding plaintext, and abort() (the C library out of
    // memory) ends with a line and exit 71 instead of SIGABRT.
    let _ = sys::set_not_dumpable();
    oom::exit_on_abort();
    // Files we create (a fallback ciphertext file) are for us alone.
    sys::set_umask(0o077);
    // Never run set-uid or set-gid: pgpsendmail is not built for privilege, and the real
    // sendmail must see the caller's own ids.
    let (ruid, euid, rgid, egid) = (sys::uid(), sys::euid(), sys::gid(), sys::egid());
    if ruid != euid || rgid != egid {
        // An installation mistake, not a bug: EX_CONFIG.
        diag::say(format_args!(
            "refusing to run set-uid or set-gid (real uid {ruid}, effective uid {euid}, \
             real gid {rgid}, effective gid {egid}): install pgpsendmail without the set-ID bits"
        ));
        std::process::exit(ExitCode::Config.code());
    }
}

fn is_admin_word(a: &OsString) -> bool {
    matches!(
        a.to_str(),
        // Not -h or -V: those are sendmail options (hop count, DSN envelope id).
        Some(
            "check"
                | "completions"
                | "explain"
                | "keys"
                | "serve"
                | "help"
                | "--help"
                | "--version"
        )
    )
}

fn main() {
    harden();
    // A panic is a bug: one line, exit 70, never 75, and nothing was handed on (delivery is
    // the last step and happens by exec or after every copy was built).
    std::panic::set_hook(Box::new(|info| {
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "pgpsendmail: internal error{loc}; nothing sent (please report this bug)"
        );
        std::process::exit(ExitCode::Software.code());
    }));

    let mut argv: Vec<OsString> = std::env::args_os().collect();
    let argv0 = if argv.is_empty() {
        OsString::from("sendmail")
    } else {
        argv.remove(0)
    };
    let name = Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    if name == "pgpsendmail" && argv.first().is_some_and(is_admin_word) {
        std::process::exit(admin(argv0, argv));
    }
    let env = Env::snapshot();
    let mark = stdin_offset();
    // Read through our own buffer, never std's (a read as large as std's 8 KiB buffer
    // bypasses it): so the -bs timeouts (poll before a read) never wait on bytes already
    // buffered. The same size as std's, so memory is as before. Not std's Stdin either,
    // which reads EBADF (`0>file`) as an empty message.
    let stdin =
        std::io::BufReader::with_capacity(8 << 10, pgpsendmail::smtp::Timed::new(sys::stdin()));
    let mut stdout = std::io::stdout().lock();
    let mut exec = deliver::Exec::new(env.tmpdir.clone());
    let invoked = Invoked::from_name(&name);
    let code = match pgpsendmail::run(invoked, argv, &env, stdin, &mut stdout, &mut exec) {
        Ok(code) => code,
        Err(e) => {
            diag::say(format_args!("{e}"));
            e.exit_code().code()
        }
    };
    if code != 0 {
        restore_stdin(mark);
    }
    std::process::exit(code);
}

/// Where standard input stands when it is a file that can seek (mailx, many daemons hand
/// the message over as a temporary file); `None` for a pipe, a socket or a terminal.
fn stdin_offset() -> Option<u64> {
    sys::offset(std::io::stdin())
}

/// After a refusal or failure, puts a seekable standard input back where it started, so the
/// caller's own fallback (mailx's dead.letter, a retry) still has the whole message.
fn restore_stdin(mark: Option<u64>) {
    if let Some(off) = mark {
        // An offset it had before; a failure changes nothing.
        let _ = sys::seek_to(std::io::stdin(), off);
    }
}

fn admin(argv0: OsString, args: Vec<OsString>) -> i32 {
    let sendmail_help = format!(
        "{}\nConfiguration: /etc/pgpsendmail/pgpsendmail.toml, or the file named by \
         PGPSENDMAIL_CONFIG. See pgpsendmail(8) and pgpsendmail.toml(5).",
        pgpsendmail::sendmail::args::usage()
    );
    let parsed = <Admin as clap::CommandFactory>::command()
        .after_long_help(sendmail_help)
        .try_get_matches_from(std::iter::once(argv0).chain(args))
        .and_then(|m| <Admin as clap::FromArgMatches>::from_arg_matches(&m));
    let cmd = match parsed {
        Ok(a) => a.command,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::Usage.code()
            } else {
                0
            };
            let _ = e.print();
            return code;
        }
    };
    let env = Env::snapshot();
    // The admin commands that only print: `pgpsendmail check | head` should end quietly on
    // a closed pipe, as other tools do, not report an internal error. (The sendmail face
    // and serve keep SIGPIPE ignored: a real sendmail that stops reading, or a client gone,
    // is an error they report.)
    if !matches!(cmd, AdminCommand::Serve { .. }) {
        sys::default_sigpipe();
    }
    let mut out = std::io::stdout().lock();
    let res = match cmd {
        AdminCommand::Check { warn_days } => admin::check(&env, warn_days, &mut out),
        AdminCommand::Completions { shell } => {
            let mut cmd = <Admin as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "pgpsendmail", &mut out);
            out.flush().map(|()| 0)
        }
        AdminCommand::Explain { json, args } => admin::explain(
            args,
            &env,
            std::io::BufReader::new(sys::stdin()),
            json,
            &mut out,
        ),
        AdminCommand::Keys {
            command: KeysCommand::List { json, address },
        } => admin::keys_list(&env, address.as_deref(), json, &mut out),
        AdminCommand::Keys {
            command: KeysCommand::Import { files },
        } => admin::keys_import(&env, &files, &mut out),
        AdminCommand::Keys {
            command: KeysCommand::Fetch { addresses },
        } => admin::keys_fetch(&env, &addresses, &mut out),
        AdminCommand::Keys {
            command: KeysCommand::Refresh,
        } => admin::keys_refresh(&env, &mut out),
        AdminCommand::Keys {
            command: KeysCommand::Accept { fingerprints },
        } => admin::keys_review(&env, true, &fingerprints, &mut out),
        AdminCommand::Keys {
            command: KeysCommand::Reject { fingerprints },
        } => admin::keys_review(&env, false, &fingerprints, &mut out),
        AdminCommand::Serve {
            listen,
            relay,
            max_sessions,
            message_size_limit,
            max_recipients,
        } => {
            let o = serve::Overrides {
                listen: Vec::new(),
                relay,
                max_sessions,
                message_size_limit,
                max_recipients,
            };
            return serve(&env, listen, o);
        }
    };
    res.unwrap_or_else(|e| {
        diag::say(format_args!("cannot write the output: {e}"));
        ExitCode::IoErr.code()
    })
}

/// `pgpsendmail serve`: its flags checked as the [serve] section's values are (exit 78 with
/// one line for a bad one), then the gateway until SIGTERM.
fn serve(env: &Env, listen: Vec<String>, mut o: serve::Overrides) -> i32 {
    use pgpsendmail::config;
    for l in &listen {
        match config::parse_listen(l) {
            Ok(a) => o.listen.push(a),
            Err(e) => return serve::bad_flag(&format!("--listen: {e}")),
        }
    }
    if let Some(r) = &o.relay
        && let Err(e) = config::check_relay(r)
    {
        return serve::bad_flag(&format!("--relay: {e}"));
    }
    let bad = |n: Option<usize>, hi: usize| n.is_some_and(|n| n == 0 || n > hi);
    if bad(o.max_sessions, config::MAX_SERVE_SESSIONS) {
        return serve::bad_flag(&format!(
            "--max-sessions: must be from 1 to {}",
            config::MAX_SERVE_SESSIONS
        ));
    }
    if bad(o.max_recipients, config::MAX_SERVE_RECIPIENTS) {
        return serve::bad_flag(&format!(
            "--max-recipients: must be from 1 to {}",
            config::MAX_SERVE_RECIPIENTS
        ));
    }
    serve::run(env, &o)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_unwinds_through_the_linked_in_unwinder() {
        // build.rs links GCC's unwinder in (libgcc_eh.a) instead of loading libgcc_s:
        // a panic in another thread must still unwind to its join, running destructors,
        // and a backtrace must still be taken.
        struct Mark<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Mark<'_> {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = std::sync::atomic::AtomicBool::new(false);
        let joined = std::thread::scope(|s| {
            s.spawn(|| {
                let _m = Mark(&dropped);
                std::panic::panic_any(7u8);
            })
            .join()
        });
        let payload = joined.expect_err("the thread panicked");
        assert_eq!(payload.downcast_ref::<u8>(), Some(&7));
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst), "unwound");
        let bt = std::backtrace::Backtrace::force_capture();
        assert_eq!(bt.status(), std::backtrace::BacktraceStatus::Captured);
        if cfg!(static_unwinder) {
            let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
            assert!(!maps.contains("libgcc_s"), "libgcc_s.so.1 was loaded");
        }
    }
}
