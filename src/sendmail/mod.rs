//! The sendmail interface: reading sendmail's command line ([`args`]), the SMTP session
//! of `-bs` ([`smtp`]), finding and running the real sendmail ([`deliver`]), and its size
//! limit ([`size`]).

pub mod args;
pub mod batch;
pub mod deliver;
pub mod postconf;
pub mod size;
pub mod smtp;
