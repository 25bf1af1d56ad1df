//! The pipeline for one message, the same for `-bm` and each message of a `-bs` session
//! (ARCHITECTURE.md, "The pipeline"): the header section and the envelope; a body that
//! claims to be encrypted checked (`body.rs`); every recipient decided before the body is
//! read (`decide.rs`); the copies built, encrypted once for all (`copies.rs`); then every copy
//! handed to the deliverer, which logs what became of them.
//!
//! Invariant: on every error nothing has been handed to the real sendmail, and no plaintext
//! was written to any file; every message leaves one line in the mail log.

mod body;
mod context;
mod copies;
mod decide;

pub use context::Context;
pub use decide::refusal as refusal_at_rcpt;

use std::cell::{Cell, RefCell};
use std::io::Read;
use std::rc::Rc;

use crate::Env;
use crate::error::Result;
use crate::keys::recipients;
use crate::message::pgpmime;
use crate::sendmail::args::{Invocation, Sender};
use crate::sendmail::deliver::{self, Deliverer};
use crate::syslog;

/// Reads one message from `stdin`, encrypts it and hands every copy to `deliverer`.
pub fn send<R: Read>(ctx: &Context, stdin: R, deliverer: &mut dyn Deliverer) -> Result<i32> {
    // The deliverer writes the log line of a message handed on; this, one refused.
    let mut log = syslog::Entry {
        sender: log_sender(Some(ctx.inv), ctx.env),
        ..Default::default()
    };
    let read = Rc::new(Cell::new(0u64));
    let r = send_message(ctx, stdin, deliverer, &mut log, &read);
    if let Err(e) = &r {
        log.size = read.get();
        log.refused(e.exit_code().code(), &e.to_string());
    }
    r
}

/// The sender the mail log names: `-f` (empty for the null sender), else the caller.
pub fn log_sender(inv: Option<&Invocation>, env: &Env) -> String {
    match inv.and_then(|i| i.sender.as_ref()) {
        Some(Sender::Address(a)) => a.clone(),
        Some(Sender::Null) => String::new(),
        None => env.login.clone(),
    }
}

fn send_message<R: Read>(
    ctx: &Context,
    stdin: R,
    deliverer: &mut dyn Deliverer,
    log: &mut syslog::Entry,
    read: &Rc<Cell<u64>>,
) -> Result<i32> {
    let read_error = Rc::new(RefCell::new(None));
    let mut input = body::input(stdin, ctx.inv.ignore_dots, &read_error, read);
    let head = input.read_head()?;
    if let Some(id) = head.get("Message-ID") {
        log.message_id = String::from_utf8_lossy(&id.unfolded()).into_owned();
    }
    let envelope = recipients::envelope(
        &ctx.inv.recipients,
        &head,
        ctx.inv.extract_recipients,
        ctx.flavor,
    )?;
    log.recipients = envelope.recipients.len();
    let sender = ctx.inv.sender.as_ref();
    deliver::carriable(
        ctx.program,
        ctx.flavor,
        ctx.env,
        sender,
        &envelope.recipients,
    )?;
    let mut body = body::Body::start(input.body(), &head, ctx.env.tmpdir.clone(), &read_error)?;
    if body.protected {
        let copy = copies::passed_through(ctx, &head, envelope.recipients.clone(), &body)?;
        log.size = read.get();
        return deliverer.deliver(ctx.program, vec![copy], log);
    }
    let decisions = decide::decide(ctx, &envelope, log)?;
    let plan = recipients::plan(&decisions, &envelope);
    // Copies in two formats read the body twice (docs/message.md, rule 8).
    if !plan.plaintext.is_empty() || pgpmime::needs_scan(&head) || plan.formats() > 1 {
        body.keep()?;
    }
    let mut all = copies::encrypted(ctx, &head, &mut body, plan.encrypted, plan.cipher, log)?;
    all.extend(copies::plaintext(ctx, &head, &body, plan.plaintext)?);
    log.size = read.get();
    deliverer.deliver(ctx.program, all, log)
}
