//! Finding certificates on the network: `keys fetch` and `keys refresh` (pgpsendmail(8),
//! ADMIN COMMANDS and KEYS, discovered certificates).
//!
//! Only the admin face uses this folder; the send path (`-bm`, `-bs`, `-t`) never does: it
//! reads the discovered directory like any key directory, through the index, ranked below
//! the `keyring` sources ([`crate::keys::Keyring::by_email`]).
//!
//! The files: `http.rs` (the HTTPS client and its rules), `lookup.rs` (WKD and VKS URLs,
//! trimming an answer to the address), `store.rs` (the discovered directory: certificates,
//! provenance, changes held for review, and applying what a lookup found).

pub mod http;
pub mod lookup;
pub mod store;
