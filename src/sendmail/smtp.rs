//! `-bs`: an SMTP session on standard input and output (pgpsendmail(8), MODES;
//! docs/interface.md section 4). This is how Alpine, and anything else configured to "speak
//! SMTP to sendmail -bs", sends mail.
//!
//! Owns: what a `-bs` session's transactions become. The protocol itself (commands, paths,
//! the data's dot rule, SIZE, timeouts) is [`crate::smtp::server`]'s; this is its
//! [`Handler`]: each DATA is read straight into the same pipeline as `-bm`
//! ([`crate::pipeline::send`]): encrypted, then every copy is spawned (never exec'ed) and
//! waited for; the reply after DATA is 250 only when the real sendmail accepted every copy.
//!
//! Invariants: standard output carries SMTP replies and nothing else (diagnostics go to
//! standard error, and the real sendmail's standard output is redirected there by the
//! deliverer). No message content appears in a reply. A message that cannot be encrypted
//! is answered 554 (permanent) or 451 (temporary) and nothing of it is handed on: `-bs` is
//! never a way around encryption.
//!
//! Untrusted input: every byte of standard input. Command lines are bounded
//! ([`Limits::line`]); message data is streamed, never held whole.

use std::io::{Read, Write};
use std::time::Duration;

use crate::diag::{self, sanitize};
use crate::error::{Error, ExitCode, Result};
use crate::message::address::Address;
use crate::pipeline::{self, Context};
use crate::sendmail::args::{Invocation, Sender};
use crate::sendmail::deliver::{Deliverer, Handoff};
use crate::sendmail::size;
use crate::smtp::server::{self, End, Failure, Handler, Limits, Transaction};
use crate::smtp::{Input, Mailbox, Reply};

/// The `-bs` face: each transaction through the pipeline.
struct Face<'a, 'd> {
    ctx: Context<'a>,
    deliverer: &'d mut dyn Deliverer,
}

impl Handler for Face<'_, '_> {
    fn hostname(&self) -> String {
        self.ctx.env.hostname.clone()
    }

    /// A recipient the policy refuses already (no usable key under `refuse`) is refused
    /// here, 550 with the reason (450 when a key source could not be read), rather than
    /// after the message.
    fn rcpt(&mut self, tx: &Transaction, rcpt: &Mailbox) -> std::result::Result<(), Reply> {
        let a = address(rcpt)?;
        match pipeline::refusal_at_rcpt(&self.ctx, &a) {
            None => Ok(()),
            Some((reason, temporary)) => {
                // The mail log's line for this recipient, as for a message refused.
                crate::syslog::Entry {
                    sender: tx_sender(tx),
                    recipients: 1,
                    ..Default::default()
                }
                .refused(ExitCode::NoUser.code(), &reason);
                let (code, ext) = if temporary {
                    (450, "4.7.1")
                } else {
                    (550, "5.7.1")
                };
                Err(Reply::new(code, format!("{ext} {}", sanitize(&reason))))
            }
        }
    }

    fn message(&mut self, tx: Transaction, data: &mut dyn Read) -> Reply {
        let recipients: Vec<Address> = tx.rcpts.iter().filter_map(|m| address(m).ok()).collect();
        let inv = Invocation {
            sender: Some(match &tx.sender {
                None => Sender::Null,
                Some(m) => Sender::Address(m.as_str().to_string()),
            }),
            recipients,
            extract_recipients: false,
            ignore_dots: true,
            ..self.ctx.inv.clone()
        };
        let ctx = Context {
            inv: &inv,
            ..self.ctx
        };
        let res = pipeline::send(&ctx, data, self.deliverer);
        if let Err(e) = &res {
            diag::say(format_args!("{e}"));
        }
        let handoff = self.deliverer.take_handoff();
        let (code, text) = match (&res, handoff) {
            // Every copy taken, some queued for later (a 75 that means queued).
            (Ok(_), Some(h)) if h.failed.is_empty() => data_reply(&Ok(0)),
            (Ok(c), Some(h)) if *c != 0 => handoff_reply(&h),
            _ => data_reply(&res),
        };
        Reply::new(code, text)
    }
}

/// The sender the mail log names for `tx` (empty for the null sender).
fn tx_sender(tx: &Transaction) -> String {
    tx.sender
        .as_ref()
        .map_or_else(String::new, |m| m.as_str().to_string())
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

/// The reply after DATA when a run of the real sendmail did not take its copy, giving what
/// it did (status or signal). When some copies went, 250: those recipients have the
/// message, which no reply can take back; 4xx would make the client send it to all of them
/// again, 5xx bounce it although they have it. The copies that did not go are named in the
/// reply, on standard error and in the mail log.
fn handoff_reply(h: &Handoff) -> (u16, String) {
    let list: Vec<String> = h
        .failed
        .iter()
        .map(|(who, st)| format!("{who} ({st})"))
        .collect();
    let sent = h.total - h.failed.len();
    if sent > 0 {
        return (
            250,
            format!(
                "2.0.0 {sent} of {} copies handed on; not sent to: {}",
                h.total,
                list.join("; ")
            ),
        );
    }
    let (code, ext) = match h.failed.first() {
        Some((_, st)) if !st.is_temporary() => (554, "5.3.0"),
        _ => (451, "4.3.0"),
    };
    let what = match h.failed.as_slice() {
        [(_, st)] => st.to_string(),
        _ => list.join("; "),
    };
    (
        code,
        format!("{ext} the real sendmail did not take the message: {what}"),
    )
}

/// The reply after DATA for the pipeline's result.
pub fn data_reply(res: &Result<i32>) -> (u16, String) {
    match res {
        Ok(0) => (250, "2.0.0 Ok: encrypted and handed on".into()),
        Ok(code) => {
            let temporary = [69, 71, 73, 74, 75].contains(code);
            let (c, e) = if temporary {
                (451, "4.3.0")
            } else {
                (554, "5.3.0")
            };
            (
                c,
                format!("{e} the real sendmail failed with status {code}; see its error output"),
            )
        }
        Err(e) => {
            let (c, ext) = match e.exit_code() {
                ExitCode::NoUser => (554, "5.7.1"),
                ExitCode::DataErr => (554, "5.6.0"),
                ExitCode::Usage => (554, "5.5.4"),
                _ => (451, "4.3.0"),
            };
            (c, format!("{ext} {}", sanitize(&e.to_string())))
        }
    }
}

/// The limits of a session: SIZE from `[smtp]` or the real MTA
/// ([`crate::sendmail::size::smtp_limit`]), the timeouts from `[smtp]` (RFC 5321's by
/// default).
pub fn limits(ctx: &Context) -> Limits {
    let smtp = &ctx.cfg.smtp;
    let d = Limits::default();
    Limits {
        size: size::smtp_limit(ctx.cfg, ctx.program, ctx.flavor, ctx.env.root.as_deref()),
        command_timeout: smtp
            .command_timeout
            .map_or(d.command_timeout, Duration::from_secs),
        data_timeout: smtp
            .data_timeout
            .map_or(d.data_timeout, Duration::from_secs),
        ..d
    }
}

/// Serves one SMTP session; returns the exit status: 0 after QUIT or end of input between
/// transactions (every message was answered), 66 when input ended inside DATA (that message
/// was not sent), 74 when a reply could not be written.
pub fn serve<R: Input + ?Sized>(
    ctx: &Context,
    input: &mut R,
    out: &mut dyn Write,
    deliverer: &mut dyn Deliverer,
) -> Result<i32> {
    let mut face = Face {
        ctx: *ctx,
        deliverer,
    };
    match server::serve(input, out, &mut face, &limits(ctx)) {
        Ok(End::Quit | End::Closed | End::TooManyErrors | End::TimedOut { in_data: false }) => {
            Ok(0)
        }
        Ok(End::ClosedInData) => {
            diag::say(format_args!(
                "input ended inside DATA: that message was not sent"
            ));
            Ok(ExitCode::NoInput.code())
        }
        Ok(End::TimedOut { in_data: true }) => {
            diag::say(format_args!(
                "the SMTP client was silent too long inside DATA: that message was not sent"
            ));
            Ok(ExitCode::NoInput.code())
        }
        Err(Failure::Read(e)) => Err(Error::NoInput(format!(
            "cannot read the SMTP session from standard input: {e}"
        ))),
        Err(Failure::Write(e)) => Err(Error::Io(format!("cannot write the SMTP reply: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sendmail::deliver::Status;

    #[test]
    fn replies_for_results() {
        assert_eq!(data_reply(&Ok(0)).0, 250);
        assert_eq!(data_reply(&Ok(75)).0, 451);
        assert_eq!(data_reply(&Ok(1)).0, 554);
        assert_eq!(data_reply(&Err(Error::NoKey("no key".into()))).0, 554);
        assert_eq!(data_reply(&Err(Error::Data("bad".into()))).0, 554);
        assert_eq!(data_reply(&Err(Error::Os("memfd".into()))).0, 451);
        assert_eq!(data_reply(&Err(Error::Unavailable("gone".into()))).0, 451);
    }

    #[test]
    fn replies_after_a_partial_or_failed_hand_off() {
        let h = |failed: Vec<Status>, total| Handoff {
            total,
            failed: failed.into_iter().map(|s| ("b@x".to_string(), s)).collect(),
        };
        let (c, t) = handoff_reply(&h(vec![Status::Exit(75)], 2));
        assert_eq!(c, 250);
        assert!(
            t.contains("1 of 2 copies") && t.contains("b@x (status 75)"),
            "{t}"
        );
        let (c, t) = handoff_reply(&h(vec![Status::Exit(75)], 1));
        assert_eq!(
            (c, t.as_str()),
            (
                451,
                "4.3.0 the real sendmail did not take the message: status 75"
            )
        );
        let (c, t) = handoff_reply(&h(vec![Status::Signal(9)], 1));
        assert_eq!((c, t.contains("signal 9")), (451, true));
        assert_eq!(handoff_reply(&h(vec![Status::Exit(1)], 1)).0, 554);
    }
}
