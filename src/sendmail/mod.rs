//! The sendmail interface: reading sendmail's command line ([`args`]), the SMTP session
//! of `-bs` ([`smtp`]), finding and running the real sendmail ([`deliver`]; many copies in
//! one `-bs` run, [`batch`], and several runs at once, [`share`]), and its size
//! limit ([`size`]).

pub mod args;
pub mod batch;
pub mod deliver;
pub mod postconf;
pub mod share;
pub mod size;
pub mod smtp;
