//! Reading the body: standard input counted and watched for read errors, the first bytes
//! peeked, a message that claims to be encrypted checked on its way into the store, and the
//! body kept (memory up to 1 MiB, sealed beyond) when it must be read twice.

use std::cell::{Cell, RefCell};
use std::io::{self, Cursor, Read, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::message::{self, Head, protected};
use crate::spool::BodyStore;

/// The first read error of standard input, kept so that it is reported as such (66) even
/// when it surfaces wrapped inside the encryptor's error.
pub type ReadError = Rc<RefCell<Option<String>>>;

/// Standard input with its read errors remembered and its bytes counted (for the mail log).
pub struct Track<R> {
    inner: R,
    error: ReadError,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Track<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|e| {
            self.error.borrow_mut().get_or_insert_with(|| e.to_string());
        })?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// The message reader over `stdin`, buffered in 64 KiB pieces.
pub fn input<R: Read>(
    stdin: R,
    ignore_dots: bool,
    error: &ReadError,
    read: &Rc<Cell<u64>>,
) -> message::Input<io::BufReader<Track<R>>> {
    let tracked = io::BufReader::with_capacity(
        64 * 1024,
        Track {
            inner: stdin,
            error: error.clone(),
            read: read.clone(),
        },
    );
    message::Input::new(tracked, ignore_dots)
}

/// The body of one message, read at most once from standard input: what has not been read
/// yet, and the store once it had to be kept.
pub struct Body<'a> {
    rest: Option<Box<dyn Read + 'a>>,
    store: Option<Arc<BodyStore>>,
    /// Verified ciphertext (rule 16): it is handed on as it is.
    pub protected: bool,
    error: ReadError,
    tmpdir: Option<PathBuf>,
}

impl<'a> Body<'a> {
    /// Peeks at the body's start and, when the message claims to be encrypted (its
    /// Content-Type, or a body that starts like an armor block), reads and checks it whole
    /// on its way into the store: only verified ciphertext is protected (rule 16,
    /// docs/message.md; `message::protected`).
    pub fn start(
        mut body: impl Read + 'a,
        head: &Head,
        tmpdir: Option<PathBuf>,
        error: &ReadError,
    ) -> Result<Body<'a>> {
        let mut peek = Vec::with_capacity(64);
        (&mut body)
            .take(64)
            .read_to_end(&mut peek)
            .map_err(|e| no_input(error, e))?;
        let mut verifier = protected::Verifier::for_message(head, &peek);
        let mut b = Body {
            rest: Some(Box::new(Cursor::new(peek).chain(body))),
            store: None,
            protected: false,
            error: error.clone(),
            tmpdir,
        };
        if let Some(v) = verifier.as_mut()
            && let Some(rest) = b.rest.take()
        {
            let fed = protected::Feed {
                inner: rest,
                verifier: v,
            };
            b.store = Some(b.keep_from(fed)?);
        }
        b.protected = verifier
            .map(protected::Verifier::finish)
            .is_some_and(|v| v.protected);
        Ok(b)
    }

    /// Reads the rest of the body into the store, if it is not there yet.
    pub fn keep(&mut self) -> Result<()> {
        if self.store.is_none()
            && let Some(rest) = self.rest.take()
        {
            self.store = Some(self.keep_from(rest)?);
        }
        Ok(())
    }

    fn keep_from(&self, src: impl Read) -> Result<Arc<BodyStore>> {
        BodyStore::from_reader(src, self.tmpdir.as_deref())
            .map(Arc::new)
            .map_err(|e| no_input(&self.error, e))
    }

    /// The kept body, for the copies that are not encrypted.
    pub fn stored(&self) -> Result<Arc<BodyStore>> {
        self.store
            .clone()
            .ok_or_else(|| Error::Internal("no body kept".into()))
    }

    pub fn stats(&self) -> Option<message::BodyStats> {
        self.store.as_ref().map(|s| s.stats())
    }

    /// The body for the encryptor: from the store, or streamed from standard input.
    pub fn reader(&mut self) -> Result<Box<dyn Read + '_>> {
        match (&self.store, self.rest.take()) {
            (Some(s), _) => Ok(Box::new(s.reader())),
            (None, Some(r)) => Ok(r),
            (None, None) => Err(Error::Internal("no body".into())),
        }
    }

    /// A read error of standard input met while the body streamed through the encryptor.
    pub fn read_failed(&self) -> Option<Error> {
        self.error.borrow().clone().map(|e| {
            Error::NoInput(format!(
                "cannot read the message from standard input: {e}; nothing sent"
            ))
        })
    }
}

/// An error while reading and keeping the body: a read error of standard input (66), or a
/// failure to keep it (71).
fn no_input(error: &ReadError, e: io::Error) -> Error {
    match error.borrow().clone() {
        Some(msg) => Error::NoInput(format!(
            "cannot read the message from standard input: {msg}; nothing sent"
        )),
        None => Error::Os(format!("cannot keep the message body: {e}; nothing sent")),
    }
}

/// Base64 in 76-column CRLF lines, for a body that needs it (rule 2, docs/message.md).
pub struct Base64Lines<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> Base64Lines<R> {
    pub fn new(inner: R) -> Self {
        Base64Lines {
            inner,
            out: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl<R: Read> Read for Base64Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use base64::Engine;
        if self.pos == self.out.len() {
            if self.done {
                return Ok(0);
            }
            let mut raw = vec![0u8; 57 * 512];
            let n = crate::openpgp::read_full(&mut self.inner, &mut raw)?;
            self.done = n < raw.len();
            self.out.clear();
            self.pos = 0;
            for line in raw[..n].chunks(57) {
                self.out.extend_from_slice(
                    base64::engine::general_purpose::STANDARD
                        .encode(line)
                        .as_bytes(),
                );
                self.out.extend_from_slice(b"\r\n");
            }
            if self.out.is_empty() {
                return Ok(0);
            }
        }
        let k = buf.len().min(self.out.len() - self.pos);
        buf[..k].copy_from_slice(&self.out[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

/// Copies CRLF-canonical text to `w` with LF line endings (the local sendmail's convention).
pub fn copy_as_lf<R: Read>(mut r: R, w: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(buf.len() + 1);
    let mut held_cr = false;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        for &b in &buf[..n] {
            if held_cr {
                held_cr = false;
                if b != b'\n' {
                    out.push(b'\r');
                }
            }
            if b == b'\r' {
                held_cr = true;
            } else {
                out.push(b);
            }
        }
        w.write_all(&out)?;
    }
    if held_cr {
        w.write_all(b"\r")?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_conversion_handles_split_crlf() {
        struct Bytewise<'a>(&'a [u8]);
        impl Read for Bytewise<'_> {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || b.is_empty() {
                    return Ok(0);
                }
                b[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let mut out = Vec::new();
        copy_as_lf(Bytewise(b"a\r\nb\rc\r\n\r"), &mut out).unwrap();
        assert_eq!(out, b"a\nb\rc\n\r");
    }

    #[test]
    fn base64_lines_are_76_columns() {
        let data = vec![7u8; 1000];
        let mut r = Base64Lines::new(&data[..]);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert!(s.split("\r\n").all(|l| l.len() <= 76));
        use base64::Engine;
        let back = base64::engine::general_purpose::STANDARD
            .decode(s.replace("\r\n", ""))
            .unwrap();
        assert_eq!(back, data);
    }
}
