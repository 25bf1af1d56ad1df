//! `pgpsendmail explain`: what sending a message would do (recipients, keys, copies, the
//! downstream argv, the outer header), as text or JSON.

use std::ffi::OsString;
use std::io::{BufRead, Read, Write};

use serde::Serialize;

use super::view::{CertView, flavor_name, route_text};
use crate::Env;
use crate::config::{Config, Flavor};
use crate::diag::sanitize;
use crate::error::{Error, ExitCode};
use crate::keys::Keyring;
use crate::keys::recipients::{self, Decision};
use crate::message::Input;
use crate::message::address::Address;
use crate::message::pgpmime::{Child, Payload};
use crate::message::protected;
use crate::openpgp::encrypt::Format;
use crate::sendmail::batch::Batch;
use crate::sendmail::{args, deliver, share};

#[derive(Debug, Serialize)]
struct RecipientView {
    address: String,
    visible: bool,
    lookup: String,
    route: String,
    decision: &'static str,
    reason: Option<String>,
    certificates: Vec<CertView>,
}

#[derive(Debug, Serialize)]
struct CopyView {
    recipients: Vec<String>,
    encrypted: bool,
    /// The encrypted body's format and cipher ("SEIPD v1, AES256", "SEIPD v2, AES256/OCB").
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    argv: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Explanation {
    real_sendmail: Option<String>,
    flavor: String,
    already_encrypted: bool,
    /// For a message that claims to be encrypted: what it is, or why it is not so.
    protection: Option<String>,
    recipients: Vec<RecipientView>,
    cipher: Option<String>,
    copies: Vec<CopyView>,
    /// How several copies would be handed on (`None`: one copy, exec'd; or none at all).
    #[serde(skip_serializing_if = "Option::is_none")]
    handoff: Option<String>,
    outer_header: Vec<String>,
    /// The exit status sending this message would end with (before the real sendmail's own).
    exit: i32,
    error: Option<String>,
}

/// `pgpsendmail explain [--json] [sendmail arguments] < message`: what sending would do.
pub fn explain<R: BufRead>(
    args: Vec<OsString>,
    env: &Env,
    stdin: R,
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<i32> {
    let mut ex = Explanation {
        real_sendmail: None,
        flavor: String::new(),
        already_encrypted: false,
        protection: None,
        recipients: Vec::new(),
        cipher: None,
        copies: Vec::new(),
        handoff: None,
        outer_header: Vec::new(),
        exit: 0,
        error: None,
    };
    if let Err(e) = explain_into(&mut ex, args, env, stdin) {
        ex.exit = e.exit_code().code();
        ex.error = Some(e.to_string());
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &ex)?;
        writeln!(out)?;
    } else {
        write_text(&ex, out)?;
    }
    Ok(ex.exit)
}

fn explain_into<R: BufRead>(
    ex: &mut Explanation,
    args: Vec<OsString>,
    env: &Env,
    stdin: R,
) -> crate::error::Result<()> {
    let inv = args::parse(args)?;
    if inv.mode != args::Mode::Deliver {
        return Err(Error::Usage(format!(
            "explain shows what sending a message (-bm) would do; mode {} is not explained",
            inv.mode.flag()
        )));
    }
    let cfg = env.load_config()?;
    let program = deliver::find_sendmail(&cfg, env);
    let flavor = match (&program, cfg.flavor) {
        (_, Some(f)) => f,
        (Ok(p), None) => Flavor::infer(p, env.root.as_deref()),
        (Err(_), None) => Flavor::Postfix,
    };
    ex.flavor = flavor_name(flavor);
    let program = program?;
    ex.real_sendmail = Some(program.display().to_string());
    let mut input = Input::new(stdin, inv.ignore_dots);
    let head = input.read_head()?;
    let envelope = recipients::envelope(&inv.recipients, &head, inv.extract_recipients, flavor)?;
    let sender = inv.sender.as_ref();
    deliver::carriable(&program, flavor, env, sender, &envelope.recipients)?;
    // As sending does: a candidate (labelled encrypted, or a body that starts like an
    // armor block) has its whole body checked; other bodies are not read.
    let verdict = check_protected(&head, input.body())?;
    ex.already_encrypted = verdict.as_ref().is_some_and(|v| v.protected);
    ex.protection = verdict.map(|v| v.text);
    let argv = |rcpts: &[Address]| -> crate::error::Result<Vec<String>> {
        let mut v = vec![program.display().to_string()];
        v.extend(
            deliver::downstream_args(&inv, flavor, rcpts)?
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned()),
        );
        Ok(v)
    };
    if ex.already_encrypted {
        ex.copies.push(CopyView {
            recipients: envelope.recipients.iter().map(|a| a.to_string()).collect(),
            encrypted: false,
            format: None,
            argv: argv(&envelope.recipients)?,
        });
        return Ok(());
    }
    let want = recipients::wanted(&envelope.recipients, &cfg);
    let cache = crate::keys::index::cache_dir(&env.cache_places(&cfg)).ok();
    let keyring = Keyring::load_config_for(&cfg, cache.as_deref(), &want, env.now);
    let (decisions, refused) = decide(ex, &envelope, &cfg, &keyring);
    if refused {
        ex.exit = ExitCode::NoUser.code();
        return Ok(());
    }
    let plan = recipients::plan(&decisions, &envelope);
    if !plan.encrypted.is_empty() {
        ex.cipher = Some(format!("{:?}", plan.cipher));
    }
    for g in &plan.encrypted {
        let format = g.aead.map_or(Format::V1(plan.cipher), Format::V2);
        ex.copies.push(CopyView {
            recipients: g.rcpts.iter().map(|a| a.to_string()).collect(),
            encrypted: true,
            format: Some(format.to_string()),
            argv: argv(&g.rcpts)?,
        });
    }
    for r in &plan.plaintext {
        ex.copies.push(CopyView {
            recipients: vec![r.to_string()],
            encrypted: false,
            format: None,
            argv: argv(std::slice::from_ref(r))?,
        });
    }
    let batch = Batch::new(&inv, flavor, cfg.batch_copies, &env.login, &env.hostname)
        .map(|b| b.through(cfg.handoff_smtp.clone(), &cfg.qualify_domain(&env.hostname)));
    ex.handoff = handoff(&ex.copies, batch.as_ref(), cfg.handoff_jobs);
    ex.outer_header = outer_header(&head, &cfg, &inv, env);
    Ok(())
}

/// How `copies` would be handed on, as sending does it (pgpsendmail(8), THE REAL
/// SENDMAIL): `None` for one copy (the real sendmail replaces pgpsendmail).
fn handoff(copies: &[CopyView], batch: Option<&Batch>, jobs: usize) -> Option<String> {
    if copies.len() < 2 {
        return None;
    }
    let encrypted = copies.iter().filter(|c| c.encrypted).count();
    let runs = |n: usize| {
        format!(
            "one run of the real sendmail each, at most {} at once",
            share::workers(jobs, n)
        )
    };
    let Some(b) = batch.filter(|b| encrypted >= b.min) else {
        return Some(format!("{} copies, {}", copies.len(), runs(copies.len())));
    };
    let to = match b.listener() {
        Some(l) => format!("the MTA's listener {} (else sendmail -bs)", sanitize(l)),
        None => "sendmail -bs".into(),
    };
    let mut text = format!(
        "{encrypted} encrypted copies as SMTP transactions to {to}, {} session(s) at once \
         (one run per copy if none starts)",
        share::workers(jobs, encrypted)
    );
    let other = copies.len() - encrypted;
    if other > 0 {
        text.push_str(&format!("; {other} other copies, {}", runs(other)));
    }
    Some(text)
}

/// Each recipient's key decision, shown in `ex.recipients`; returns the decisions, and
/// whether some recipient is refused.
fn decide(
    ex: &mut Explanation,
    envelope: &recipients::Envelope,
    cfg: &Config,
    keyring: &Keyring,
) -> (Vec<(Address, Decision)>, bool) {
    let mut decisions = Vec::new();
    let mut refused = false;
    for r in &envelope.recipients {
        let res = recipients::resolve(r, cfg, keyring);
        let (decision, reason, certs) = match &res.decision {
            Decision::Encrypt { certs, .. } => (
                "encrypt",
                None,
                certs
                    .iter()
                    .filter_map(|f| keyring.by_fingerprint(f))
                    .map(|c| CertView::of(c, keyring))
                    .collect(),
            ),
            Decision::Plaintext { reason } => ("plaintext", Some(reason.clone()), Vec::new()),
            Decision::Refuse { reason } => {
                refused = true;
                ("refuse", Some(reason.clone()), Vec::new())
            }
        };
        ex.recipients.push(RecipientView {
            address: r.to_string(),
            visible: envelope.is_visible(r),
            lookup: res.lookup.to_string(),
            route: route_text(&res.route, r, &res.lookup),
            decision,
            reason,
            certificates: certs,
        });
        decisions.push((r.clone(), res.decision));
    }
    (decisions, refused)
}

/// The outer header section as it would be (synthesized fields get fresh values).
fn outer_header(
    head: &crate::message::Head,
    cfg: &Config,
    inv: &args::Invocation,
    env: &Env,
) -> Vec<String> {
    let payload = Payload::build(
        head,
        &Child::for_head(head, None),
        &crate::payload_options(inv, cfg, env),
    );
    let outer = String::from_utf8_lossy(&payload.outer_prefix).into_owned();
    let header = outer.split("\n\n").next().unwrap_or("");
    header.lines().map(String::from).collect()
}

/// The rule 16 verdict on a candidate body (`None`: not a candidate, it is encrypted).
fn check_protected<R: Read>(
    head: &crate::message::Head,
    mut body: R,
) -> crate::error::Result<Option<protected::Verdict>> {
    let read = |e: std::io::Error| {
        Error::NoInput(format!("cannot read the message from standard input: {e}"))
    };
    let mut start = Vec::with_capacity(64);
    (&mut body).take(64).read_to_end(&mut start).map_err(read)?;
    let Some(mut v) = protected::Verifier::for_message(head, &start) else {
        return Ok(None);
    };
    v.feed(&start);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => v.feed(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read(e)),
        }
    }
    Ok(Some(v.finish()))
}

fn write_text(ex: &Explanation, out: &mut dyn Write) -> std::io::Result<()> {
    if let Some(p) = &ex.real_sendmail {
        writeln!(out, "real sendmail: {p} (flavor {})", ex.flavor)?;
    }
    match &ex.protection {
        Some(what) if ex.already_encrypted => writeln!(
            out,
            "already encrypted: {what}; handed on as it is, Bcc removed"
        )?,
        Some(why) => writeln!(out, "{why}; it will be encrypted")?,
        None => {}
    }
    for r in &ex.recipients {
        let vis = if r.visible { "visible" } else { "hidden" };
        writeln!(out, "recipient {} ({vis})", sanitize(&r.address))?;
        writeln!(
            out,
            "  keys looked up as {} ({})",
            sanitize(&r.lookup),
            r.route
        )?;
        for c in &r.certificates {
            let exp = c
                .expires
                .as_deref()
                .map_or(String::new(), |d| format!(", expires {d}"));
            writeln!(
                out,
                "  certificate {} from {}{exp} ({})",
                c.fingerprint,
                sanitize(&c.source),
                c.trust
            )?;
            for p in &c.provenance {
                writeln!(out, "    found by {}", p.line())?;
            }
            for k in &c.encryption_keys {
                writeln!(out, "    encryption key {k}")?;
            }
            for n in &c.passed_over {
                writeln!(out, "    passed over: {n}")?;
            }
        }
        match r.decision {
            "refuse" => writeln!(
                out,
                "  REFUSED: {}",
                r.reason.as_deref().unwrap_or_default()
            )?,
            "plaintext" => writeln!(
                out,
                "  no usable key; gets an UNENCRYPTED copy (missing_key = \"plaintext\"): {}",
                r.reason.as_deref().unwrap_or_default()
            )?,
            _ => {}
        }
    }
    for (i, c) in ex.copies.iter().enumerate() {
        let how = match (&c.format, c.encrypted) {
            (Some(format), true) => format!("encrypted, {format}"),
            _ if ex.already_encrypted => "as given".to_string(),
            _ => "NOT encrypted".to_string(),
        };
        writeln!(out, "copy {} ({how}): {}", i + 1, c.recipients.join(", "))?;
        writeln!(out, "  {}", c.argv.join(" "))?;
    }
    if let Some(h) = &ex.handoff {
        writeln!(out, "handed on: {h}")?;
    }
    if !ex.outer_header.is_empty() {
        writeln!(out, "outer header:")?;
        for l in &ex.outer_header {
            writeln!(out, "  {l}")?;
        }
    }
    match (&ex.error, ex.exit) {
        (Some(e), code) => writeln!(out, "error: {e} (sending would exit {code})")?,
        (None, 0) => writeln!(out, "result: would be sent")?,
        (None, code) => writeln!(out, "result: nothing would be sent (exit {code})")?,
    }
    Ok(())
}
