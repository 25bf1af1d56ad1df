//! OpenPGP: the encryptor ([`encrypt`]: the session key and PKESKs, one encrypted body for
//! every copy), our streaming SEIPD ([`seipd`]), ASCII armor ([`armor`]: CRC-24, the armor
//! writer, the hidden copies' shared armor), and opening a message with a secret key for
//! tests and the demo ([`decrypt`]).
//!
//! `encrypt` uses `seipd` and `armor`; neither uses `encrypt` or the other.

pub mod armor;
pub mod decrypt;
pub mod encrypt;
pub mod seipd;
