//! Errors and exit codes: the one place where a failure becomes a sysexits(3) value.
//!
//! Owns: the [`Error`] type every stage returns, its one-line wording, and the exhaustive
//! mapping to [`ExitCode`] (pgpsendmail(8), EXIT STATUS). Does not own: printing (main.rs prints
//! `pgpsendmail: <error>` once) or sanitizing message text (see [`crate::diag`]).
//!
//! Invariants: no variant ever maps to 75 (EX_TEMPFAIL): callers read 75 as "queued".
//! Error text never quotes message content; addresses and header names that come from the
//! message pass through [`crate::diag::sanitize`] before they reach a variant.

use std::fmt;

/// sysexits.h values pgpsendmail itself can return (the real sendmail's own status is
/// passed through unchanged and never goes through this type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Ok = 0,
    Usage = 64,
    DataErr = 65,
    NoInput = 66,
    NoUser = 67,
    Unavailable = 69,
    Software = 70,
    OsErr = 71,
    IoErr = 74,
    Config = 78,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Every way pgpsendmail can refuse or fail. The string is the one-line reason, already
/// sanitized; it never holds message content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad command line: unknown or forbidden option, CR/LF in a value, no recipients,
    /// unsupported mode.
    Usage(String),
    /// The message cannot be parsed (header section too large, NUL in headers, ...).
    Data(String),
    /// Standard input could not be read.
    NoInput(String),
    /// A recipient has no usable key and the policy says refuse.
    NoKey(String),
    /// The real sendmail is missing or cannot be run, or a copy could not be handed on.
    Unavailable(String),
    /// A bug: an internal invariant did not hold.
    Internal(String),
    /// A system call failed (memfd, fork, ...).
    Os(String),
    /// Writing the ciphertext failed.
    Io(String),
    /// The configuration is invalid, or the real sendmail is pgpsendmail itself.
    Config(String),
}

impl Error {
    /// The exit status for this error (pgpsendmail(8), EXIT STATUS).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) => ExitCode::Usage,
            Error::Data(_) => ExitCode::DataErr,
            Error::NoInput(_) => ExitCode::NoInput,
            Error::NoKey(_) => ExitCode::NoUser,
            Error::Unavailable(_) => ExitCode::Unavailable,
            Error::Internal(_) => ExitCode::Software,
            Error::Os(_) => ExitCode::OsErr,
            Error::Io(_) => ExitCode::IoErr,
            Error::Config(_) => ExitCode::Config,
        }
    }

    fn text(&self) -> &str {
        match self {
            Error::Usage(s)
            | Error::Data(s)
            | Error::NoInput(s)
            | Error::NoKey(s)
            | Error::Unavailable(s)
            | Error::Internal(s)
            | Error::Os(s)
            | Error::Io(s)
            | Error::Config(s) => s,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, always: a stray newline would let message text forge log lines.
        f.write_str(&self.text().replace(['\r', '\n'], " "))
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_sysexits_code_and_none_is_tempfail() {
        let cases = [
            (Error::Usage(String::new()), 64),
            (Error::Data(String::new()), 65),
            (Error::NoInput(String::new()), 66),
            (Error::NoKey(String::new()), 67),
            (Error::Unavailable(String::new()), 69),
            (Error::Internal(String::new()), 70),
            (Error::Os(String::new()), 71),
            (Error::Io(String::new()), 74),
            (Error::Config(String::new()), 78),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit_code().code(), code, "{e:?}");
            assert_ne!(e.exit_code().code(), 75);
        }
    }

    #[test]
    fn display_is_one_line() {
        let e = Error::Data("a\nb\rc".into());
        assert_eq!(e.to_string(), "a b c");
    }
}
