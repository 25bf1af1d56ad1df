//! The values every stage of a message is given.

use std::path::Path;

use crate::Env;
use crate::config::{Config, Flavor};
use crate::sendmail::args::Invocation;

/// What every stage of one message needs to know of the run: the parsed command line, the
/// configuration, the real sendmail and its flavor, and the environment. `run` makes it
/// once; an SMTP session (`-bs`) keeps it and makes one per message with that message's
/// envelope in `inv`.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub inv: &'a Invocation,
    pub cfg: &'a Config,
    pub program: &'a Path,
    pub flavor: Flavor,
    pub env: &'a Env,
}
