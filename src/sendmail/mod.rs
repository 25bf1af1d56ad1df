//! The sendmail interface: reading sendmail's command line ([`args`]), the SMTP session
//! of `-bs` ([`smtp`]), and finding and running the real sendmail ([`deliver`]).

pub mod args;
pub mod deliver;
pub mod postconf;
pub mod smtp;
