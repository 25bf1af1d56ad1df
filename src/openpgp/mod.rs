//! OpenPGP: the encryptor ([`encrypt`]: PKESKs and the armor writer), our streaming SEIPD
//! ([`seipd`]), the hidden copies' shared armor ([`armor`]), and opening a message with a
//! secret key for tests and the demo ([`decrypt`]).

pub mod armor;
pub mod decrypt;
pub mod encrypt;
pub mod seipd;
