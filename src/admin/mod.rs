//! The admin commands behind `pgpsendmail check`, `explain` and `keys list`: they read the
//! same configuration and keys as the sendmail face and say what it would do, without
//! sending anything. main.rs parses their arguments (clap) and calls these.
//!
//! Output goes to the writer given (stdout in main); exit codes: `check` 0 (all well) / 1
//! (warnings: some mail may fail) / 78 (errors: no mail can be sent at all: a broken
//! configuration, no real sendmail, no usable key for anything), for cron and monitoring;
//! `explain` the status sending would end with; `keys list` 0, or 1 when nothing matches.
//!
//! One file per command: `check.rs` (`check` and its helpers: permissions, size, local
//! users), `explain.rs`, `keys.rs` (`keys list`, `keys import`); `view.rs` what they share
//! (the certificate view, the route text); this file only names them.

mod check;
mod discover;
mod explain;
mod keys;
mod view;

pub use crate::sendmail::size::{
    GROWTH_PERCENT, OVERHEAD, POSTFIX_DEFAULT_LIMIT, largest_before_encryption, limit_for,
};
pub use check::{check, local_users};
pub use discover::{keys_fetch, keys_refresh, keys_review};
pub use explain::explain;
pub use keys::{keys_import, keys_list};
