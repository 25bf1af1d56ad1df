//! SMTP (RFC 5321) without a transport: both sides of the protocol over any buffered
//! reader and writer, so that `-bs` (standard input and output), a network server and a
//! client of the real sendmail's `-bs` share one implementation (docs/interface.md
//! section 4).
//!
//! # Server ([`server`])
//!
//! [`server::serve`]`(input, output, handler, limits)` runs one session: the 220
//! greeting, then commands until QUIT, end of input, a timeout or too many errors; it
//! returns how it ended ([`server::End`]) or why it could not go on
//! ([`server::Failure`]: a read or a write failed). The caller supplies:
//!
//! * `input`: an [`Input`], a `BufRead` whose reads can be given a timeout. `&[u8]` is
//!   one (no waiting); a descriptor is one as `BufReader<Timed<fd>>` ([`Timed`]: poll(2)
//!   before each read, for pipes, terminals and sockets alike).
//! * `handler`: a [`server::Handler`]: the host name it greets with, a check of each
//!   recipient at RCPT (`Err(reply)` refuses it there: the policy's 5xx with its reason),
//!   and the message of each transaction ([`server::Transaction`]: the normalized
//!   reverse-path, the recipients taken, SIZE=, BODY=, SMTPUTF8), read from a reader of
//!   the unstuffed data. The handler returns the reply; when reading the data failed
//!   (input cut, SIZE exceeded, timeout) it must hand nothing on, and the server answers
//!   (552 5.3.4, 421 4.4.2) or ends the session instead.
//! * `limits`: [`server::Limits`]: line length, recipients per transaction, errors, SIZE
//!   (advertised in EHLO, enforced at MAIL with SIZE= and at the end of the data), and the
//!   command and data timeouts (RFC 5321 4.5.3.2: 5 and 3 minutes by default).
//!
//! The rules it keeps whatever the handler: EHLO offers PIPELINING, SIZE, 8BITMIME,
//! ENHANCEDSTATUSCODES and SMTPUTF8; a UTF-8 path without SMTPUTF8 on MAIL is 553 5.6.7;
//! paths are normalized ([`path`]: spaces and comments inside the brackets dropped,
//! quoted local parts kept quoted only where needed); only CRLF `.` CRLF ends the data,
//! a bare LF is a line end but never part of the end ([`data`], as Postfix's
//! `smtpd_forbid_bare_newline = normal`); every reply is flushed before the next command
//! is read; no reply line holds a control character.
//!
//! # Client ([`client`])
//!
//! [`client::Client::start`]`(input, output, host)` reads the greeting and says EHLO
//! (HELO when refused); [`client::Client::send`]`(sender, rcpts, message)` is one
//! transaction (MAIL with BODY=8BITMIME and SMTPUTF8 where offered and needed, a RCPT per
//! recipient, DATA with the message CRLF'd and dot-stuffed) and says which recipients the
//! server took and which it refused ([`client::Outcome`]); a transaction refused before
//! its data is reset, so the session goes on; [`client::Client::stage`] is the same but
//! for the final `.`, which [`client::Client::commit`] sends (so that several copies, each
//! on its own connection, are committed back to back); [`client::Client::quit`] ends it. Each reply
//! is awaited within RFC 5321 4.5.3.2's time for its command, or less
//! ([`client::Client::start_within`]). Where the server offers PIPELINING, MAIL, the RCPTs
//! and DATA of a transaction go in one write (RFC 2920); `mail_params` and `rcpt_params`
//! add DSN's parameters (RFC 3461) to every MAIL and RCPT.
//!
//! Nothing here knows about encryption, the pipeline or the real sendmail; the faces do
//! (`sendmail/smtp.rs` for `-bs`).

pub mod client;
pub mod data;
pub mod path;
pub mod server;
pub mod wire;

pub use path::Mailbox;
pub use wire::{Input, Reply, Timed, Untimed};
