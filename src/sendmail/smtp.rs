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

use crate::diag::{self, sanitize};
use crate::error::{Error, ExitCode, Result};
use crate::message::address::Address;
use crate::pipeline::{self, Context};
use crate::sendmail::args::{Invocation, Sender};
use crate::sendmail::deliver::Deliverer;
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

    fn rcpt(&mut self, _: &Transaction, rcpt: &Mailbox) -> std::result::Result<(), Reply> {
        address(rcpt).map(|_| ())
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
        let (code, text) = data_reply(&res);
        Reply::new(code, text)
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

/// The reply after DATA for the pipeline's result (`serve` answers its errors the same).
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

/// The limits of a `-bs` session.
pub fn limits(_ctx: &Context) -> Limits {
    Limits::default()
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
}
