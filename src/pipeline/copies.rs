//! The copies of one message, built before any is handed on: the encrypted ones (one
//! session key, one encrypted body, each copy with only its own PKESK packets), and the
//! ones that are not encrypted (verified ciphertext passed through, `plaintext` copies).

use std::ffi::OsString;
use std::io::{self, Cursor, Read, Write};
use std::sync::Arc;

use pgp::crypto::sym::SymmetricKeyAlgorithm;

use crate::config::{Flavor, SignUnreadable};
use crate::diag::{self, sanitize};
use crate::error::{Error, Result};
use crate::keys::EncryptionKey;
use crate::keys::recipients::Group;
use crate::message::address::Address;
use crate::message::pgpmime::{self, Child, Payload};
use crate::message::{self, Head};
use crate::openpgp::armor;
use crate::openpgp::encrypt::{self, Format};
use crate::openpgp::sign::{HostKey, LoadError};
use crate::sendmail::deliver::{self, Copy, CopyBody};
use crate::sendmail::postconf;
use crate::spool::{self, BodyStore};
use crate::syslog;

use super::body::{Base64Lines, Body, copy_as_lf};
use super::context::Context;

/// A copy and the arguments its run of the real sendmail gets.
pub type Handed = (Vec<OsString>, Copy);

/// The recipients of each encrypted copy, with the keys it is encrypted to and its format.
pub type Groups = Vec<Group>;

fn os(e: io::Error) -> Error {
    Error::Os(format!("cannot create a file for the ciphertext: {e}"))
}

fn wr(e: io::Error) -> Error {
    Error::Io(format!("writing the ciphertext: {e}"))
}

/// The groups by format, in the order each format first appears: the SEIPD v1 ones under
/// `cipher`, the SEIPD v2 ones under their suite.
fn by_format(groups: Groups, cipher: SymmetricKeyAlgorithm) -> Vec<(Format, Groups)> {
    let mut out: Vec<(Format, Groups)> = Vec::new();
    for g in groups {
        let f = g.aead.map_or(Format::V1(cipher), Format::V2);
        match out.iter_mut().find(|(o, _)| *o == f) {
            Some((_, gs)) => gs.push(g),
            None => out.push((f, vec![g])),
        }
    }
    out
}

/// Encrypts the message once for every format (docs/message.md, rule 8), and within one
/// format once for every group: the first copy of each format is a whole file (it may
/// become the real sendmail's stdin by exec); the others are their own bytes around armor
/// lines they share (`deliver::Parts`), one file per armor line alignment, each assembled
/// into a whole file of its own only when its turn comes. Every copy has the same outer
/// header and payload; with more than one format the body was kept ([`Body::keep`]) and is
/// read once per format.
pub fn encrypted(
    ctx: &Context,
    head: &Head,
    body: &mut Body,
    groups: Groups,
    cipher: SymmetricKeyAlgorithm,
    log: &mut syslog::Entry,
) -> Result<Vec<Handed>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let child = Child::for_head(head, body.stats());
    let payload = build_payload(ctx, head, &child, log);
    if log.message_id.is_empty() {
        log.message_id = synthesized_id(&payload);
    }
    let host = host_key(ctx, log)?;
    let mut out = Vec::new();
    for (format, groups) in by_format(groups, cipher) {
        let sign = host.as_ref();
        out.extend(encrypted_as(
            ctx, &child, &payload, body, format, groups, sign,
        )?);
    }
    Ok(out)
}

/// The host signature's key (pgpsendmail.toml(5), `sign_key`), read for this message: `None`
/// when none is set, or when the running user cannot read it and `sign_unreadable` is
/// `unsigned` (then a warning on stderr and in the mail log). A key that is read but cannot
/// sign is a configuration error whatever `sign_unreadable` says.
fn host_key(ctx: &Context, log: &syslog::Entry) -> Result<Option<HostKey>> {
    let Some(path) = ctx.cfg.sign_key.as_deref() else {
        return Ok(None);
    };
    let shown = sanitize(&path.display().to_string());
    match HostKey::load(path, ctx.env.now) {
        Ok(k) => Ok(Some(k)),
        Err(LoadError::Bad(why)) => Err(Error::Config(format!(
            "sign_key {shown}: {}",
            sanitize(&why)
        ))),
        Err(LoadError::Unreadable(why)) => match ctx.cfg.sign_unreadable {
            SignUnreadable::Refuse => Err(Error::Config(format!(
                "sign_key {shown}: cannot read: {} (sign_unreadable = \"refuse\")",
                sanitize(&why)
            ))),
            SignUnreadable::Unsigned => {
                let text = format!(
                    "warning: sign_key {shown}: cannot read: {}; sending unsigned",
                    sanitize(&why)
                );
                diag::say(format_args!("{text}"));
                log.warning(&text);
                Ok(None)
            }
        },
    }
}

/// The copies of one format: the payload read from `body` and encrypted once.
fn encrypted_as(
    ctx: &Context,
    child: &Child,
    payload: &Payload,
    body: &mut Body,
    format: Format,
    groups: Groups,
    sign: Option<&HostKey>,
) -> Result<Vec<Handed>> {
    let tmpdir = ctx.env.tmpdir.as_deref();
    let mut first = spool::anon_file("pgpsendmail-copy", tmpdir).map_err(os)?;
    first.write_all(&payload.outer_prefix).map_err(wr)?;
    let encrypted = {
        let src = Cursor::new(payload.lead.clone()).chain(body.reader()?);
        let src: Box<dyn Read + '_> = if child.needs_base64() {
            Box::new(Base64Lines::new(src))
        } else {
            Box::new(src)
        };
        let plain = Cursor::new(payload.prefix.clone())
            .chain(src)
            .chain(Cursor::new(payload.suffix.clone()));
        encrypt_all(plain, &groups, (format, sign), &mut first, tmpdir)
    };
    if let Some(e) = body.read_failed() {
        return Err(e);
    }
    let (splits, tails) = encrypted?;
    first.write_all(&payload.outer_suffix).map_err(wr)?;
    spool::rewind(&mut first).map_err(wr)?;
    assemble(ctx, groups, first, splits, tails, payload)
}

/// The payload's header material. When its outer header would carry UTF-8 and the real
/// sendmail is a Postfix that does not (`smtputf8_enable = no`), it is built again without
/// (rule 18). Outer fields left out are a warning on stderr and in the mail log.
fn build_payload(ctx: &Context, head: &Head, child: &Child, log: &syslog::Entry) -> Payload {
    let mut opts = crate::payload_options(ctx.inv, ctx.cfg, ctx.env);
    let mut payload = Payload::build(head, child, &opts);
    if payload.utf8
        && ctx.flavor == Flavor::Postfix
        && !postconf::carries_utf8(ctx.program, ctx.env.root.as_deref())
    {
        opts.utf8 = false;
        payload = Payload::build(head, child, &opts);
    }
    if !payload.left_out.is_empty() {
        let what: Vec<String> = payload
            .left_out
            .iter()
            .map(|(name, why)| format!("{} ({why})", sanitize(name)))
            .collect();
        let text = format!(
            "warning: left out of the outer header, kept inside the encryption: {}",
            what.join(", ")
        );
        diag::say(format_args!("{text}"));
        log.warning(&text);
    }
    payload
}

/// The outer header's Message-ID that [`Payload::build`] added, for the mail log.
fn synthesized_id(payload: &Payload) -> String {
    let outer = message::Input::new(&payload.outer_prefix[..], true).read_head();
    outer
        .ok()
        .as_ref()
        .and_then(|h| h.get("Message-ID"))
        .map(|id| String::from_utf8_lossy(&id.unfolded()).into_owned())
        .unwrap_or_default()
}

/// The shared lines' files of the hidden copies, each with its length.
type Tails = Vec<(Arc<std::fs::File>, u64)>;

/// Runs the encryptor over `plain` for every group: copy 0's armor into `first`, the
/// others' split around the shared lines (files made in `tmpdir`). A read error of
/// standard input surfaces here wrapped; the caller reports it as such first.
fn encrypt_all(
    plain: impl Read,
    groups: &Groups,
    (format, sign): (Format, Option<&HostKey>),
    first: &mut std::fs::File,
    tmpdir: Option<&std::path::Path>,
) -> Result<(Vec<armor::Split>, Tails)> {
    let mut shared = match groups.len() {
        1 => None,
        _ => Some(spool::anon_file("pgpsendmail-shared", tmpdir).map_err(os)?),
    };
    let tail_error: std::cell::RefCell<Option<io::Error>> = std::cell::RefCell::new(None);
    let new_tail = || {
        spool::anon_file("pgpsendmail-tail", tmpdir).inspect_err(|e| {
            *tail_error.borrow_mut() = Some(io::Error::new(e.kind(), e.to_string()));
        })
    };
    let key_sets: Vec<&[EncryptionKey]> = groups.iter().map(|g| g.keys.as_slice()).collect();
    let res = encrypt::encrypt_copies(
        plain,
        &key_sets,
        format,
        sign,
        first,
        shared.as_mut(),
        new_tail,
    );
    if let Some(e) = tail_error.take() {
        return Err(os(e));
    }
    let (splits, files) = res?;
    let tails = files
        .into_iter()
        .map(|f| {
            let len = f_len(&f)?;
            Ok((Arc::new(f), len))
        })
        .collect::<io::Result<Tails>>()
        .map_err(wr)?;
    Ok((splits, tails))
}

fn f_len(f: &std::fs::File) -> io::Result<u64> {
    Ok(f.metadata()?.len())
}

/// The copies: the first group's whole file, then each hidden copy's parts.
fn assemble(
    ctx: &Context,
    groups: Groups,
    first: std::fs::File,
    splits: Vec<armor::Split>,
    tails: Tails,
    payload: &Payload,
) -> Result<Vec<Handed>> {
    let mut groups = groups.into_iter();
    let rcpts = groups
        .next()
        .ok_or_else(|| Error::Internal("no copy to encrypt".into()))?
        .rcpts;
    let mut copies = vec![(
        deliver::downstream_args(ctx.inv, ctx.flavor, &rcpts)?,
        Copy {
            recipients: rcpts,
            body: CopyBody::File(first),
        },
    )];
    if splits.len() != groups.len() {
        return Err(Error::Internal("a hidden copy's armor is missing".into()));
    }
    let prefix: Arc<[u8]> = payload.outer_prefix.as_slice().into();
    let suffix: Arc<[u8]> = payload.outer_suffix.as_slice().into();
    for (Group { rcpts, .. }, split) in groups.zip(splits) {
        copies.push((
            deliver::downstream_args(ctx.inv, ctx.flavor, &rcpts)?,
            Copy {
                recipients: rcpts,
                body: CopyBody::Parts(deliver::Parts {
                    prefix: prefix.clone(),
                    head: split.head,
                    tail: split.class.map(|c| tails[c].clone()),
                    foot: split.foot,
                    suffix: suffix.clone(),
                }),
            },
        ));
    }
    Ok(copies)
}

/// Rule 16: verified ciphertext, handed on as it is to every recipient (Bcc removed).
pub fn passed_through(
    ctx: &Context,
    head: &Head,
    rcpts: Vec<Address>,
    body: &Body,
) -> Result<Handed> {
    plain_copy(ctx, rcpts, pgpmime::plain_header(head), body.stored()?)
}

/// One unencrypted copy for each `plaintext` recipient (`missing_key = "plaintext"`),
/// announced on stderr.
pub fn plaintext(
    ctx: &Context,
    head: &Head,
    body: &Body,
    rcpts: Vec<Address>,
) -> Result<Vec<Handed>> {
    if rcpts.is_empty() {
        return Ok(Vec::new());
    }
    let store = body.stored()?;
    let header = pgpmime::plain_header(head);
    let names: Vec<String> = rcpts.iter().map(|a| sanitize(a.as_str())).collect();
    diag::say(format_args!(
        "warning: no usable key; sending an unencrypted copy, as configured, to: {}",
        names.join(", ")
    ));
    rcpts
        .into_iter()
        .map(|r| plain_copy(ctx, vec![r], header.clone(), store.clone()))
        .collect()
}

/// A copy handed on without encryption: the header section as given (less Bcc) and the
/// body, written into a memfd (never a file) when its turn comes.
fn plain_copy(
    ctx: &Context,
    rcpts: Vec<Address>,
    header: Vec<u8>,
    store: Arc<BodyStore>,
) -> Result<Handed> {
    Ok((
        deliver::downstream_args(ctx.inv, ctx.flavor, &rcpts)?,
        Copy {
            recipients: rcpts,
            body: CopyBody::Memory(Box::new(move |w| {
                w.write_all(&header)?;
                copy_as_lf(store.reader(), w)
            })),
        },
    ))
}
