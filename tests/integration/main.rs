//! pgpsendmail's integration tests: one binary, one harness (harness.rs), run against the
//! stand-in sendmail. Each module follows one part of the spec:
//!
//! * admin.rs: check, explain and keys list;
//! * batch.rs: many copies through one `-bs` run of the real sendmail (pgpsendmail(8), THE
//!   REAL SENDMAIL), against the stand-in's `-bs` mode;
//! * adminops.rs: what an administrator meets after the takeover: key file modes, finding
//!   the real sendmail, check's exit status, the real MTA's size limit;
//! * callers.rs: every caller (the rows of docs/callers.md);
//! * exits.rs: every exit code of pgpsendmail(8) EXIT STATUS;
//! * faults.rs: the fault matrix (the real sendmail failing, input cut, no room, broken
//!   keyrings and configurations): nothing partial handed on, nothing leaked;
//! * message.rs: every rule of docs/message.md;
//! * modern.rs: version 6 certificates and SEIPD v2 (rule 8 of docs/message.md), one copy
//!   per format;
//! * modes.rs: `-bs` and the modes passed to the real sendmail (pgpsendmail(8) MODES);
//! * discover.rs: pgpsendmail(8) KEYS, Discovered certificates, and `keys fetch`, `refresh`,
//!   `accept`, `reject` against the HTTPS servers of https.rs (WKD and VKS under their real
//!   names, in a private mount namespace; fails under CI=true when that cannot be done);
//! * smtp.rs: `-bs` against scripted sessions: SIZE, timeouts, the end of DATA, paths,
//!   refusal at RCPT, a partial hand-off, SMTPUTF8 (pgpsendmail(8) MODES and SIZE);
//! * keys.rs: pgpsendmail(8) KEYS (validity, matching, the [recipients] table, policies);
//! * cache.rs: the cache directory (`cache_dir`): made on first use, root's or a private one,
//!   never one others could write;
//! * localnames.rs: addresses at this host's names, local_domains, the "*" entry, and
//!   what check and keys list say about local names;
//! * keypolicy.rs: the key policy and merged certificates, on keys gpg makes per test;
//! * maillog.rs: one syslog line per message, at a /dev/log stand-in;
//! * protected.rs: rule 16, input that is already encrypted (real gpg and openssl output;
//!   fails under CI=true when either is missing);
//! * privenv.rs: never set-ID; empty environment, HOME=/, unwritable cwd, closed stdout
//!   and stderr; the environment passed on untouched;
//! * interop.rs: GnuPG decrypts the output (fails under CI=true when gpg is missing);
//! * inprocess.rs: the pipeline in-process on generated inputs (no panic, no leak);
//! * real.rs and real_*.rs: real software end to end (a private Postfix, msmtp, mail
//!   programs, decryptors, notmuch); fails under CI=true when a program is missing,
//!   skipped with PGPSENDMAIL_NO_REAL set (make test-fast);
//! * share.rs: several runs of the real sendmail (or `-bs` sessions) at once for many copies
//!   (`handoff_jobs`), with reports in the copies' order;
//! * signed.rs: the host signature (`sign_key`, `sign_unreadable`, check), verified by the
//!   pgp crate, GnuPG, sq, RNP and OpenPGP.js (real programs as in real.rs);
//! * serve.rs: `pgpsendmail serve`, the gateway (pgpsendmail(8) SERVE), against a next hop
//!   the test runs;
//! * real_gateway.rs: the gateway against real Postfix: the man page's before-queue,
//!   after-queue and pipe(8) recipes as printed, two relays, loops, and its reliability
//!   (killed inside DATA, the next hop down, 1,000 connections, slow and malformed clients);
//! * hostile header sections are in hostile.rs; memory for a 200 MiB message is the
//!   separate test binary tests/streaming.rs (it reads its children's peak memory).

mod admin;
mod adminops;
mod batch;
mod cache;
mod callers;
mod discover;
mod exits;
mod faults;
mod harness;
mod hostile;
mod https;
mod inprocess;
mod interop;
mod keypolicy;
mod keys;
mod localnames;
mod maillog;
mod message;
mod modern;
mod modes;
mod privenv;
mod protected;
mod real;
mod real_batch;
mod real_callers;
mod real_decrypt;
mod real_gateway;
mod real_mta;
mod real_readers;
mod serve;
mod share;
mod signed;
mod smtp;
