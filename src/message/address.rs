//! Recipient address parsing: a linear-time, lenient-but-safe parser for
//! RFC 5322 address lists.
//!
//! This module owns the extraction of recipient addresses from
//!
//! * the raw values of the `To`, `Cc`, `Bcc` and `Resent-*` header fields of a
//!   message piped to sendmail (the value may still contain folding line
//!   breaks, i.e. CRLF or LF followed by a space or tab, which count as white
//!   space), and
//! * sendmail command-line recipient operands, each of which is itself an
//!   address list (`a@x.org,b@x.org`) or a bare local name (`root`).
//!
//! All input is untrusted. The parser makes a single pass over the bytes with
//! one token of look-ahead and never rescans, so it runs in time linear in the
//! input length whatever the input (deeply nested comments, millions of quotes,
//! endless phrases, ...). It never panics on any input.
//!
//! # Accepted syntax
//!
//! The grammar is that of RFC 5322 §3.4 (`address-list`, `mailbox`,
//! `name-addr`, `angle-addr`, `group`, `addr-spec`) together with the obsolete
//! forms of §4.4 that occur in real mail: empty list elements and leading or
//! trailing commas (`obs-addr-list`), routes in angle addresses
//! (`<@r1,@r2:user@x>`, the route is dropped), white space and comments
//! between the words and dots of a local part or domain outside angle
//! brackets (`john . doe@x` becomes `john.doe@x`), and phrases containing dots
//! (`obs-phrase`). Comments may appear anywhere between tokens and may nest.
//! Display names and group names are skipped without being decoded (RFC 2047
//! encoded words are just words), and so are comments; bytes that are not
//! UTF-8 or are control characters are tolerated there.
//!
//! Deliberate leniencies beyond RFC 5322:
//!
//! * a bare local name without `@` (`root`, `www-data`) is an address;
//! * a `;` after a mailbox outside a group acts as a separator;
//! * nested groups (`a: b: c@x;;`) are accepted and their members included,
//!   each `;` closing the innermost open group;
//! * UTF-8 addresses (RFC 6532) are accepted as they are;
//! * local parts may contain consecutive, leading or trailing dots (some
//!   mobile carriers hand out such addresses);
//! * stray `]`, `)` and `\` inside a display name are skipped.
//!
//! # Safety guarantees and errors
//!
//! A returned [`Address`] is a bare `addr-spec` (`local@domain`) or bare local
//! name, valid UTF-8, and never contains a control character (C0, DEL, C1),
//! white space (but a space inside a quoted local part, `"b o b"@x`), `,`, `<` or
//! `>`; quoted local parts are kept verbatim with their quotes and escapes. Anything that does not fit is reported as an
//! [`AddressError`] rather than being guessed at: a missing comma between two
//! addresses, an unterminated quoted string, comment, domain literal, angle
//! address or group, text after `>`, an empty local part or domain, `<>`,
//! more than one `@`, white space or a comment inside an angle-bracketed
//! `addr-spec`, a control character or non-UTF-8 byte inside an address, and
//! a CR or LF that is not part of a folding line break (anywhere in the input,
//! so the caller must strip the line break that ends the header field).
//! Policy decisions such as refusing addresses that start with `-` or `|` are
//! left to the caller.

use std::fmt;
use std::ops::Range;

use super::canonical::{self, LocalCase};

/// One recipient address as a bare addr-spec: `local@domain`, or a bare local
/// name (`root`).
///
/// The text is valid UTF-8 and contains no control character, white space (but a space
/// inside a quoted local part: `"b o b"@x`), `,`, `<` or `>`; a quoted local part is kept
/// verbatim, quotes included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address(String);

impl Address {
    /// The whole address as text, e.g. `a@x.org` or `root`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The local part: everything before the last `@` outside quotes (the
    /// whole address for a bare local name).
    ///
    /// A domain never contains `@`, so this is also the first `@` outside a
    /// quoted string.
    pub fn local(&self) -> &str {
        match self.at_index() {
            Some(at) => self.0.get(..at).unwrap_or(&self.0),
            None => &self.0,
        }
    }

    /// The domain after the `@`, or `None` for a bare local name.
    pub fn domain(&self) -> Option<&str> {
        self.at_index().and_then(|at| self.0.get(at + 1..))
    }

    /// The key this address is matched under: against user IDs, `[recipients]` entries
    /// ([`canonical::key`]: NFC, the domain through UTS 46, the local part as `case` says).
    pub fn match_key(&self, case: LocalCase) -> String {
        canonical::key(&self.0, case)
    }

    /// Key for telling envelope recipients apart: the local part as written (it is
    /// case-sensitive in RFC 5321; NFC), the domain in any of its spellings
    /// (pgpsendmail(8), RECIPIENTS: duplicates collapse with a case-insensitive domain).
    pub fn envelope_key(&self) -> String {
        self.match_key(LocalCase::Exact)
    }

    /// Parse exactly one addr-spec or bare local name (no display name, no
    /// angle brackets), validating it like an address in a list.
    ///
    /// White space and comments are allowed before and after the address but
    /// not inside it.
    pub fn parse_single(s: &str) -> Result<Address, AddressError> {
        let mut parser = Parser::new(s.as_bytes());
        if parser.peek()?.kind == Kind::Eof {
            return Err(AddressError::Empty);
        }
        let address = parser.addr_spec_strict()?;
        let next = parser.peek()?;
        match next.kind {
            Kind::Eof => Ok(address),
            Kind::Special(b'@') => Err(AddressError::MultipleAt),
            Kind::Special(b',' | b';' | b':' | b'<' | b'>') => Err(AddressError::NotSingle),
            _ if next.gap => Err(AddressError::WhitespaceInAddress),
            kind => Err(unexpected(kind)),
        }
    }

    /// Byte index of the `@` separating local part and domain.
    fn at_index(&self) -> Option<usize> {
        let mut in_quotes = false;
        let mut escaped = false;
        for (i, b) in self.0.bytes().enumerate() {
            if escaped {
                escaped = false;
                continue;
            }
            match b {
                b'\\' if in_quotes => escaped = true,
                b'"' => in_quotes = !in_quotes,
                b'@' if !in_quotes => return Some(i),
                _ => {}
            }
        }
        None
    }

    /// Assemble an address from the raw bytes of its local part and domain
    /// and check the guarantees documented on [`Address`].
    fn from_parts(mut bytes: Vec<u8>, domain: Option<Vec<u8>>) -> Result<Address, AddressError> {
        let local_len = bytes.len();
        if let Some(domain) = &domain {
            bytes.push(b'@');
            bytes.extend_from_slice(domain);
        }
        let text = String::from_utf8(bytes).map_err(|_| AddressError::InvalidUtf8)?;
        check_chars(&text, local_len)?;
        if let Some(literal) = text.get(local_len + 1..).and_then(|d| d.strip_prefix('[')) {
            check_domain_literal(literal)?;
        }
        Ok(Address(text))
    }
}

impl fmt::Display for Address {
    /// Writes the bare addr-spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an address or address list was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// There was no address at all (only for [`Address::parse_single`]).
    Empty,
    /// A quoted string has no closing `"`.
    UnterminatedQuote,
    /// A comment has no closing `)`.
    UnterminatedComment,
    /// An angle address has no closing `>`.
    UnterminatedAngle,
    /// A domain literal has no closing `]`.
    UnterminatedDomainLiteral,
    /// A group has no closing `;`.
    UnterminatedGroup,
    /// A special character appeared where it is not allowed.
    UnexpectedChar(char),
    /// A word appeared where it is not allowed.
    UnexpectedText,
    /// The input ended in the middle of an address.
    UnexpectedEnd,
    /// Two addresses (or words) are not separated by a comma, e.g. `a@x b@x`.
    MissingSeparator,
    /// Something other than a comment or separator follows `>`.
    TextAfterAngle,
    /// An empty angle address `<>`.
    EmptyAngleAddr,
    /// The local part (before the `@`) is empty.
    EmptyLocalPart,
    /// The domain (after the `@`) is empty.
    EmptyDomain,
    /// The local part is not a sequence of words and dots.
    InvalidLocalPart,
    /// The domain is not a dot-separated sequence of labels or a domain literal.
    InvalidDomain,
    /// More than one `@` outside quotes.
    MultipleAt,
    /// White space inside an address.
    WhitespaceInAddress,
    /// A control character inside an address, or a CR/LF that is not part of
    /// a folding line break anywhere in the input.
    ControlChar(char),
    /// Bytes inside an address that are not valid UTF-8.
    InvalidUtf8,
    /// A character that may not appear in an address (or domain literal).
    ForbiddenChar(char),
    /// [`Address::parse_single`] found more than one address or a display name.
    NotSingle,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no address"),
            Self::UnterminatedQuote => f.write_str("unterminated quoted string"),
            Self::UnterminatedComment => f.write_str("unterminated comment"),
            Self::UnterminatedAngle => f.write_str("unterminated angle address (missing '>')"),
            Self::UnterminatedDomainLiteral => {
                f.write_str("unterminated domain literal (missing ']')")
            }
            Self::UnterminatedGroup => f.write_str("unterminated group (missing ';')"),
            Self::UnexpectedChar(c) => write!(f, "unexpected character {}", CharName(*c)),
            Self::UnexpectedText => f.write_str("unexpected text"),
            Self::UnexpectedEnd => f.write_str("unexpected end of input"),
            Self::MissingSeparator => f.write_str("missing ',' between addresses"),
            Self::TextAfterAngle => f.write_str("unexpected text after '>'"),
            Self::EmptyAngleAddr => f.write_str("empty address '<>'"),
            Self::EmptyLocalPart => f.write_str("empty local part"),
            Self::EmptyDomain => f.write_str("empty domain"),
            Self::InvalidLocalPart => f.write_str("malformed local part"),
            Self::InvalidDomain => f.write_str("malformed domain"),
            Self::MultipleAt => f.write_str("more than one '@' in address"),
            Self::WhitespaceInAddress => f.write_str("white space inside address"),
            Self::ControlChar(c) => write!(f, "control character U+{:04X}", u32::from(*c)),
            Self::InvalidUtf8 => f.write_str("invalid UTF-8 in address"),
            Self::ForbiddenChar(c) => {
                write!(f, "character {} not allowed in address", CharName(*c))
            }
            Self::NotSingle => f.write_str("expected exactly one bare address"),
        }
    }
}

impl std::error::Error for AddressError {}

/// Displays a character as `'c'` if it is printable ASCII, else as `U+XXXX`.
struct CharName(char);

impl fmt::Display for CharName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", self.0)
        } else {
            write!(f, "U+{:04X}", u32::from(self.0))
        }
    }
}

/// Parse an address list. Returns the mailboxes in order (group members
/// included, group names dropped, empty groups such as
/// `undisclosed-recipients:;` yield nothing).
///
/// An empty list (or one made only of commas, white space and comments)
/// yields an empty vector. Duplicates are not removed.
pub fn parse_list(input: &[u8]) -> Result<Vec<Address>, AddressError> {
    Ok(parse_mailboxes(input)?
        .into_iter()
        .map(|m| m.address)
        .collect())
}

/// One mailbox of an address list and where its pieces are in the input, so that a
/// caller can rewrite them in place (qualify a bare local name, encode a display name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: Address,
    /// The bytes of the addr-spec (or bare local name) as written, without angle brackets.
    pub addr: Range<usize>,
    /// The bytes of the display name (before `<`), when there is one.
    pub phrase: Option<Range<usize>>,
}

/// [`parse_list`] with each mailbox's pieces located in `input`.
pub fn parse_mailboxes(input: &[u8]) -> Result<Vec<Mailbox>, AddressError> {
    let mut parser = Parser::new(input);
    let mut addresses = Vec::new();
    let mut open_groups = 0usize;
    loop {
        let token = parser.peek()?;
        match token.kind {
            Kind::Eof if open_groups > 0 => return Err(AddressError::UnterminatedGroup),
            Kind::Eof => return Ok(addresses),
            Kind::Special(b',') => parser.bump(),
            Kind::Special(b';') => {
                parser.bump();
                open_groups = open_groups.saturating_sub(1);
            }
            _ => match parser.element()? {
                Element::GroupStart => open_groups += 1,
                Element::Mailbox {
                    address,
                    angle,
                    addr,
                    phrase,
                } => {
                    addresses.push(Mailbox {
                        address,
                        addr,
                        phrase,
                    });
                    parser.expect_separator(angle)?;
                }
            },
        }
    }
}

/// Check the character-level guarantees of [`Address`]; the first `local_len` bytes are
/// the local part, where a space inside a quoted string is allowed (`"b o b"@x`, RFC 5321
/// 4.1.2 Quoted-string).
fn check_chars(text: &str, local_len: usize) -> Result<(), AddressError> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in text.char_indices() {
        if c.is_control() {
            return Err(AddressError::ControlChar(c));
        }
        let in_local = i < local_len;
        if c == ' ' && in_local && quoted {
            escaped = false;
            continue;
        }
        if c.is_whitespace() {
            return Err(AddressError::WhitespaceInAddress);
        }
        if matches!(c, ',' | '<' | '>') {
            return Err(AddressError::ForbiddenChar(c));
        }
        if in_local {
            if escaped {
                escaped = false;
            } else if quoted && c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = !quoted;
            }
        }
    }
    Ok(())
}

/// Check the inside of a domain literal (the text after `[`, including the
/// closing `]`): printable ASCII other than `[`, `]`, `\` and `@`.
fn check_domain_literal(literal: &str) -> Result<(), AddressError> {
    let inner = literal
        .strip_suffix(']')
        .ok_or(AddressError::UnterminatedDomainLiteral)?;
    if inner.is_empty() {
        return Err(AddressError::InvalidDomain);
    }
    match inner
        .chars()
        .find(|&c| !c.is_ascii_graphic() || matches!(c, '[' | ']' | '\\' | '@'))
    {
        Some(c) => Err(AddressError::ForbiddenChar(c)),
        None => Ok(()),
    }
}

/// The kind of a lexical token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A run of atom bytes: anything but white space, CR, LF and the RFC 5322
    /// specials. Includes non-ASCII bytes and control characters, which are
    /// rejected only if the atom ends up in an address.
    Atom,
    /// A quoted string, including its quotes.
    Quoted,
    /// A domain literal, including its brackets.
    Literal,
    /// One of `<`, `>`, `:`, `;`, `@`, `,` and `.`.
    Special(u8),
    /// A `)`, `]` or `\` outside any comment, quoted string or literal.
    Stray(u8),
    /// End of input.
    Eof,
}

/// A token: its kind, its byte range in the input, and whether white space
/// or a comment preceded it.
#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
    gap: bool,
}

/// Whether `b` can be part of an atom.
fn is_atom_byte(b: u8) -> bool {
    !matches!(
        b,
        b' ' | b'\t'
            | b'\r'
            | b'\n'
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'['
            | b']'
            | b':'
            | b';'
            | b'@'
            | b'\\'
            | b','
            | b'.'
            | b'"'
    )
}

/// Single-pass tokenizer; every input byte is looked at once.
struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// Produce the next token, skipping white space, folding and comments.
    fn next_token(&mut self) -> Result<Token, AddressError> {
        let gap = self.skip_cfws()?;
        let start = self.pos;
        let Some(&b) = self.src.get(start) else {
            return Ok(Token {
                kind: Kind::Eof,
                start,
                end: start,
                gap,
            });
        };
        let kind = match b {
            b'"' => {
                self.scan_delimited(b'"', AddressError::UnterminatedQuote)?;
                Kind::Quoted
            }
            b'[' => {
                self.scan_delimited(b']', AddressError::UnterminatedDomainLiteral)?;
                Kind::Literal
            }
            b'<' | b'>' | b':' | b';' | b'@' | b',' | b'.' => {
                self.pos += 1;
                Kind::Special(b)
            }
            b')' | b']' | b'\\' => {
                self.pos += 1;
                Kind::Stray(b)
            }
            _ => {
                self.pos += 1;
                while self.src.get(self.pos).is_some_and(|&c| is_atom_byte(c)) {
                    self.pos += 1;
                }
                Kind::Atom
            }
        };
        Ok(Token {
            kind,
            start,
            end: self.pos,
            gap,
        })
    }

    /// Skip white space, folding line breaks and comments; report whether
    /// anything was skipped.
    fn skip_cfws(&mut self) -> Result<bool, AddressError> {
        let start = self.pos;
        while let Some(&b) = self.src.get(self.pos) {
            match b {
                b' ' | b'\t' => self.pos += 1,
                b'\r' | b'\n' => self.skip_fold()?,
                b'(' => self.skip_comment()?,
                _ => break,
            }
        }
        Ok(self.pos != start)
    }

    /// At a CR or LF: skip it if it starts a folding line break (CRLF or LF
    /// followed by a space or tab; the space or tab itself is left in place),
    /// otherwise fail.
    fn skip_fold(&mut self) -> Result<(), AddressError> {
        let rest = self.src.get(self.pos..).unwrap_or_default();
        let len = match rest {
            [b'\r', b'\n', b' ' | b'\t', ..] => 2,
            [b'\n', b' ' | b'\t', ..] => 1,
            [b, ..] => return Err(AddressError::ControlChar(char::from(*b))),
            [] => 0,
        };
        self.pos += len;
        Ok(())
    }

    /// After a backslash: consume the escaped byte unless it is a line break,
    /// which must still be checked for being a fold.
    fn skip_escaped(&mut self) {
        if self
            .src
            .get(self.pos)
            .is_some_and(|&c| c != b'\r' && c != b'\n')
        {
            self.pos += 1;
        }
    }

    /// At `(`: skip a possibly nested comment with backslash escapes.
    fn skip_comment(&mut self) -> Result<(), AddressError> {
        self.pos += 1;
        let mut depth = 1usize;
        while depth > 0 {
            let Some(&b) = self.src.get(self.pos) else {
                return Err(AddressError::UnterminatedComment);
            };
            match b {
                b'(' => {
                    depth += 1;
                    self.pos += 1;
                }
                b')' => {
                    depth -= 1;
                    self.pos += 1;
                }
                b'\\' => {
                    self.pos += 1;
                    self.skip_escaped();
                }
                b'\r' | b'\n' => self.skip_fold()?,
                _ => self.pos += 1,
            }
        }
        Ok(())
    }

    /// At an opening `"` or `[`: scan to the matching `close` byte, honouring
    /// backslash escapes and folding.
    fn scan_delimited(
        &mut self,
        close: u8,
        unterminated: AddressError,
    ) -> Result<(), AddressError> {
        self.pos += 1;
        loop {
            let Some(&b) = self.src.get(self.pos) else {
                return Err(unterminated);
            };
            match b {
                _ if b == close => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.pos += 1;
                    self.skip_escaped();
                }
                b'\r' | b'\n' => self.skip_fold()?,
                _ => self.pos += 1,
            }
        }
    }
}

/// A list element as seen by [`parse_list`].
enum Element {
    /// A mailbox; `angle` tells whether it was written as `<...>`; `addr` and `phrase`
    /// locate its addr-spec and display name in the input.
    Mailbox {
        address: Address,
        angle: bool,
        addr: Range<usize>,
        phrase: Option<Range<usize>>,
    },
    /// The `name:` that opens a group.
    GroupStart,
}

/// Accumulates a sequence of words and dots that is either a display name
/// (phrase) or a local part; which one is only known at its end.
#[derive(Default)]
struct Words {
    /// The local part so far (words and dots without white space); no longer
    /// maintained once `bad` is set.
    bytes: Vec<u8>,
    /// Tokens consumed.
    tokens: usize,
    /// Whether any word was a quoted string.
    quoted: bool,
    /// Whether any word was an atom or a non-empty quoted string.
    content: bool,
    /// Whether the last token was a word.
    last_word: bool,
    /// Why this cannot be a local part, if it cannot.
    bad: Option<AddressError>,
}

impl Words {
    fn push_word(&mut self, text: &[u8], gap: bool, quoted: bool) {
        if self.last_word && self.bad.is_none() {
            self.bad = Some(if gap {
                AddressError::MissingSeparator
            } else {
                AddressError::InvalidLocalPart
            });
        }
        self.tokens += 1;
        self.quoted |= quoted;
        self.content |= !quoted || text.len() > 2;
        self.last_word = true;
        if self.bad.is_none() {
            self.bytes.extend_from_slice(text);
        }
    }

    fn push_dot(&mut self) {
        self.tokens += 1;
        self.last_word = false;
        if self.bad.is_none() {
            self.bytes.push(b'.');
        }
    }

    fn push_bad(&mut self, error: AddressError) {
        self.tokens += 1;
        self.last_word = false;
        self.bad.get_or_insert(error);
    }

    /// The local part, if this is a valid one.
    fn into_local(self) -> Result<Vec<u8>, AddressError> {
        match self.bad {
            Some(error) => Err(error),
            None if !self.content => Err(AddressError::EmptyLocalPart),
            None => Ok(self.bytes),
        }
    }

    /// The address, if this is a valid bare local name (a dot-atom).
    fn into_bare_name(self) -> Result<Address, AddressError> {
        let quoted = self.quoted;
        let local = self.into_local()?;
        if quoted {
            return Err(AddressError::InvalidLocalPart);
        }
        Address::from_parts(local, None)
    }
}

/// The error for a token that does not fit where it appears.
fn unexpected(kind: Kind) -> AddressError {
    match kind {
        Kind::Special(c) | Kind::Stray(c) => AddressError::UnexpectedChar(char::from(c)),
        Kind::Quoted => AddressError::UnexpectedChar('"'),
        Kind::Literal => AddressError::UnexpectedChar('['),
        Kind::Atom => AddressError::UnexpectedText,
        Kind::Eof => AddressError::UnexpectedEnd,
    }
}

/// Iterative parser over the token stream with one token of look-ahead.
struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    /// Where the last consumed token ended.
    last_end: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a [u8]) -> Self {
        Parser {
            lexer: Lexer { src, pos: 0 },
            peeked: None,
            last_end: 0,
        }
    }

    /// The next token, without consuming it.
    fn peek(&mut self) -> Result<Token, AddressError> {
        if let Some(token) = self.peeked {
            return Ok(token);
        }
        let token = self.lexer.next_token()?;
        self.peeked = Some(token);
        Ok(token)
    }

    /// Consume the token returned by the last [`Parser::peek`].
    fn bump(&mut self) {
        if let Some(t) = self.peeked.take() {
            self.last_end = t.end;
        }
    }

    /// The input bytes of a token.
    fn text(&self, token: Token) -> &'a [u8] {
        self.lexer
            .src
            .get(token.start..token.end)
            .unwrap_or_default()
    }

    /// Parse one list element starting at a token that is not `,`, `;` or
    /// the end: a group start, a name-addr, an addr-spec (obsolete white
    /// space allowed) or a bare local name.
    fn element(&mut self) -> Result<Element, AddressError> {
        let mut words = Words::default();
        let start = self.peek()?.start;
        let end = loop {
            let token = self.peek()?;
            match token.kind {
                Kind::Atom => words.push_word(self.text(token), token.gap, false),
                Kind::Quoted => words.push_word(self.text(token), token.gap, true),
                Kind::Special(b'.') => words.push_dot(),
                Kind::Literal => words.push_bad(AddressError::UnexpectedChar('[')),
                Kind::Stray(c) => words.push_bad(AddressError::ForbiddenChar(char::from(c))),
                _ => break token,
            }
            self.bump();
        };
        match end.kind {
            Kind::Special(b'<') => {
                let phrase = (words.tokens > 0).then_some(start..self.last_end);
                self.bump();
                let (address, addr) = self.angle_addr()?;
                Ok(Element::Mailbox {
                    address,
                    angle: true,
                    addr,
                    phrase,
                })
            }
            Kind::Special(b':') if words.tokens > 0 => {
                self.bump();
                Ok(Element::GroupStart)
            }
            Kind::Special(b'@') => {
                let local = words.into_local()?;
                self.bump();
                let domain = self.domain(false)?;
                Ok(Element::Mailbox {
                    address: Address::from_parts(local, Some(domain))?,
                    angle: false,
                    addr: start..self.last_end,
                    phrase: None,
                })
            }
            Kind::Special(b',' | b';') | Kind::Eof if words.tokens > 0 => Ok(Element::Mailbox {
                address: words.into_bare_name()?,
                angle: false,
                addr: start..self.last_end,
                phrase: None,
            }),
            kind => Err(unexpected(kind)),
        }
    }

    /// After a mailbox: require `,`, `;` or the end of input.
    fn expect_separator(&mut self, after_angle: bool) -> Result<(), AddressError> {
        let token = self.peek()?;
        match token.kind {
            Kind::Eof | Kind::Special(b',' | b';') => Ok(()),
            _ if after_angle => Err(AddressError::TextAfterAngle),
            Kind::Special(b'@') => Err(AddressError::MultipleAt),
            Kind::Atom | Kind::Quoted | Kind::Special(b'<') => Err(AddressError::MissingSeparator),
            kind => Err(unexpected(kind)),
        }
    }

    /// After `<`: an optional obsolete route, an addr-spec (or bare local
    /// name) without inner white space, and `>`. Returns the address and where it is.
    fn angle_addr(&mut self) -> Result<(Address, Range<usize>), AddressError> {
        match self.peek()?.kind {
            Kind::Special(b'>') => return Err(AddressError::EmptyAngleAddr),
            Kind::Special(b'@') => self.obs_route()?,
            Kind::Eof => return Err(AddressError::UnterminatedAngle),
            _ => {}
        }
        let start = self.peek()?.start;
        let address = self.addr_spec_strict()?;
        let span = start..self.last_end;
        let token = self.peek()?;
        match token.kind {
            Kind::Special(b'>') => {
                self.bump();
                Ok((address, span))
            }
            Kind::Eof => Err(AddressError::UnterminatedAngle),
            Kind::Special(b'@') => Err(AddressError::MultipleAt),
            _ if token.gap => Err(AddressError::WhitespaceInAddress),
            kind => Err(unexpected(kind)),
        }
    }

    /// At the `@` of an obsolete route (`@r1,@r2:`): skip it up to and
    /// including the `:`.
    fn obs_route(&mut self) -> Result<(), AddressError> {
        loop {
            // The current token is '@'.
            self.bump();
            self.domain(false)?;
            let mut comma = false;
            loop {
                match self.peek()?.kind {
                    Kind::Special(b',') => {
                        comma = true;
                        self.bump();
                    }
                    Kind::Special(b'@') if comma => break,
                    Kind::Special(b'@') => return Err(AddressError::MultipleAt),
                    Kind::Special(b':') => {
                        self.bump();
                        return Ok(());
                    }
                    Kind::Special(b'>') => return Err(AddressError::EmptyLocalPart),
                    Kind::Eof => return Err(AddressError::UnterminatedAngle),
                    kind => return Err(unexpected(kind)),
                }
            }
        }
    }

    /// An addr-spec or bare local name with no white space or comment between
    /// its tokens (some may precede it). Stops before the following token.
    fn addr_spec_strict(&mut self) -> Result<Address, AddressError> {
        let mut words = Words::default();
        loop {
            let token = self.peek()?;
            let continues = matches!(
                token.kind,
                Kind::Atom
                    | Kind::Quoted
                    | Kind::Literal
                    | Kind::Stray(_)
                    | Kind::Special(b'.' | b'@')
            );
            if continues && token.gap && words.tokens > 0 {
                return Err(AddressError::WhitespaceInAddress);
            }
            match token.kind {
                Kind::Atom => words.push_word(self.text(token), false, false),
                Kind::Quoted => words.push_word(self.text(token), false, true),
                Kind::Special(b'.') => words.push_dot(),
                Kind::Stray(c) => return Err(AddressError::ForbiddenChar(char::from(c))),
                Kind::Literal => return Err(AddressError::UnexpectedChar('[')),
                _ => break,
            }
            self.bump();
        }
        let next = self.peek()?.kind;
        if words.tokens == 0 {
            return Err(match next {
                Kind::Special(b'@') => AddressError::EmptyLocalPart,
                Kind::Special(b'>') => AddressError::EmptyAngleAddr,
                kind => unexpected(kind),
            });
        }
        if next == Kind::Special(b'@') {
            let local = words.into_local()?;
            self.bump();
            let domain = self.domain(true)?;
            Address::from_parts(local, Some(domain))
        } else {
            words.into_bare_name()
        }
    }

    /// After `@`: a domain literal or dot-separated labels. With `strict`, no
    /// white space or comment may precede any of its tokens.
    fn domain(&mut self, strict: bool) -> Result<Vec<u8>, AddressError> {
        let no_gap = |token: &Token| {
            if strict && token.gap {
                Err(AddressError::WhitespaceInAddress)
            } else {
                Ok(())
            }
        };
        let first = self.peek()?;
        match first.kind {
            Kind::Literal => {
                no_gap(&first)?;
                self.bump();
                Ok(self.text(first).to_vec())
            }
            Kind::Atom => {
                no_gap(&first)?;
                self.bump();
                let mut domain = self.text(first).to_vec();
                loop {
                    let dot = self.peek()?;
                    if dot.kind != Kind::Special(b'.') {
                        return Ok(domain);
                    }
                    no_gap(&dot)?;
                    self.bump();
                    let label = self.peek()?;
                    if label.kind != Kind::Atom {
                        return Err(AddressError::InvalidDomain);
                    }
                    no_gap(&label)?;
                    self.bump();
                    domain.push(b'.');
                    domain.extend_from_slice(self.text(label));
                }
            }
            Kind::Special(b'@') => Err(AddressError::MultipleAt),
            Kind::Quoted | Kind::Stray(_) | Kind::Special(b'.') => Err(AddressError::InvalidDomain),
            _ => Err(AddressError::EmptyDomain),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse a list and return the addresses as strings, panicking on error.
    fn ok(input: &str) -> Vec<String> {
        ok_bytes(input.as_bytes())
    }

    fn ok_bytes(input: &[u8]) -> Vec<String> {
        match parse_list(input) {
            Ok(list) => list.iter().map(|a| a.as_str().to_owned()).collect(),
            Err(e) => panic!(
                "{:?} should parse, got error: {e}",
                String::from_utf8_lossy(input)
            ),
        }
    }

    fn err(input: &str) -> AddressError {
        err_bytes(input.as_bytes())
    }

    fn err_bytes(input: &[u8]) -> AddressError {
        match parse_list(input) {
            Ok(list) => panic!(
                "{:?} should fail, got {list:?}",
                String::from_utf8_lossy(input)
            ),
            Err(e) => e,
        }
    }

    /// The invariants every returned address must satisfy.
    fn assert_valid(address: &Address) {
        let s = address.as_str();
        assert!(!s.is_empty());
        let unquoted: String = s.split('"').step_by(2).collect();
        assert!(
            !unquoted.contains(' '),
            "white space outside quotes in {s:?}"
        );
        for c in s.chars() {
            assert!(!c.is_control(), "control character in {s:?}");
            assert!(c == ' ' || !c.is_whitespace(), "white space in {s:?}");
            assert!(
                !matches!(c, ',' | '<' | '>'),
                "forbidden character in {s:?}"
            );
        }
        assert!(!address.local().is_empty(), "empty local part in {s:?}");
        match address.domain() {
            Some(domain) => {
                assert!(!domain.is_empty(), "empty domain in {s:?}");
                assert!(!domain.contains('@'), "two '@' in {s:?}");
                assert_eq!(format!("{}@{}", address.local(), domain), s);
            }
            None => assert_eq!(address.local(), s),
        }
        assert_eq!(
            Address::parse_single(s).as_ref(),
            Ok(address),
            "reparse {s:?}"
        );
        assert_eq!(
            parse_list(s.as_bytes()),
            Ok(vec![address.clone()]),
            "relist {s:?}"
        );
    }

    #[test]
    fn plain_addr_spec() {
        assert_eq!(ok("a@x.org"), ["a@x.org"]);
        assert_eq!(ok("  a@x.org  "), ["a@x.org"]);
        assert_eq!(ok("first.last+tag@sub.x.org"), ["first.last+tag@sub.x.org"]);
    }

    #[test]
    fn empty_lists() {
        assert!(ok("").is_empty());
        assert!(ok("   ").is_empty());
        assert!(ok(",,, ,").is_empty());
        assert!(ok("(just a comment)").is_empty());
    }

    #[test]
    fn name_addr() {
        assert_eq!(ok("Name <a@x.org>"), ["a@x.org"]);
        assert_eq!(ok("John Q. Public <jqp@x.org>"), ["jqp@x.org"]);
        assert_eq!(ok("<a@x.org>"), ["a@x.org"]);
        assert_eq!(ok("Name < a@x.org >"), ["a@x.org"]);
        assert_eq!(ok("Name<a@x.org>,Other<b@x.org>"), ["a@x.org", "b@x.org"]);
        assert_eq!(ok("[External] Bob <b@x.org>"), ["b@x.org"]);
    }

    #[test]
    fn quoted_display_names() {
        assert_eq!(ok("\"Doe, John\" <j@x>"), ["j@x"]);
        assert_eq!(ok(r#""Doe \"JD\", John" <j@x>, k@x"#), ["j@x", "k@x"]);
        assert_eq!(ok(r#""back\\slash" <j@x>"#), ["j@x"]);
        assert_eq!(ok(r#""" <j@x>"#), ["j@x"]);
        assert_eq!(ok(r#""a@b" <j@x>"#), ["j@x"]);
    }

    #[test]
    fn comments() {
        assert_eq!(ok("(c) a@x.org (trailing)"), ["a@x.org"]);
        assert_eq!(ok("a(x)@(y)x.org"), ["a@x.org"]);
        assert_eq!(ok("Name (c) <a@x> (c2), b@y"), ["a@x", "b@y"]);
        assert_eq!(ok("(a (nested (deeply)) b) a@x"), ["a@x"]);
        assert_eq!(ok(r"(escaped \) paren \( and \\) a@x"), ["a@x"]);
        assert_eq!(ok("(\"quote in comment) a@x"), ["a@x"]);
        assert_eq!(ok("a@x(no space)"), ["a@x"]);
        assert_eq!(ok("<a@x>(c),(d)b@y"), ["a@x", "b@y"]);
    }

    #[test]
    fn encoded_words_in_display_names() {
        assert_eq!(ok("=?utf-8?q?J=C3=B6rg?= <j@x>"), ["j@x"]);
        assert_eq!(
            ok("=?utf-8?B?SsO2cmc=?= =?utf-8?q?_M=C3=BCller?= <j@x>, k@y"),
            ["j@x", "k@y"]
        );
        assert_eq!(ok("\"=?utf-8?q?a?=\" <j@x>"), ["j@x"]);
    }

    #[test]
    fn mailboxes_locate_their_addresses_and_display_names() {
        let input = "root (Cron Daemon), \"Doe, J\" <j@x>,\n Team: <b@y>, c . d@z;, www";
        let boxes = parse_mailboxes(input.as_bytes()).unwrap();
        let at = |r: &Range<usize>| &input[r.clone()];
        let got: Vec<(&str, Option<&str>)> = boxes
            .iter()
            .map(|m| (at(&m.addr), m.phrase.as_ref().map(at)))
            .collect();
        assert_eq!(
            got,
            [
                ("root", None),
                ("j@x", Some("\"Doe, J\"")),
                ("b@y", None),
                ("c . d@z", None),
                ("www", None),
            ]
        );
        assert_eq!(boxes[3].address.as_str(), "c.d@z");
    }

    #[test]
    fn groups() {
        assert_eq!(ok("Team: a@x, b@x;"), ["a@x", "b@x"]);
        assert_eq!(ok("Team: a@x, Bee <b@x>;"), ["a@x", "b@x"]);
        assert!(ok("undisclosed-recipients:;").is_empty());
        assert!(ok("undisclosed-recipients: ;").is_empty());
        assert!(ok("\"My Group\": ;, ").is_empty());
        assert_eq!(ok("g: ;, a@x"), ["a@x"]);
        assert_eq!(ok("g:a@x;h:b@y;"), ["a@x", "b@y"]);
    }

    #[test]
    fn address_after_group() {
        assert_eq!(ok("g: a@x;, B <b@x>"), ["a@x", "b@x"]);
        assert_eq!(ok("g: a@x; B <b@x>"), ["a@x", "b@x"]);
    }

    #[test]
    fn unterminated_group() {
        assert_eq!(err("g: a@x"), AddressError::UnterminatedGroup);
        assert_eq!(
            err("undisclosed-recipients:"),
            AddressError::UnterminatedGroup
        );
    }

    #[test]
    fn nested_groups_are_flattened() {
        assert_eq!(ok("a: b: c@x;;"), ["c@x"]);
        assert_eq!(
            ok("a: x@y, b: c@x;, d@z;, e@w"),
            ["x@y", "c@x", "d@z", "e@w"]
        );
        assert_eq!(err("a: b: c@x;"), AddressError::UnterminatedGroup);
    }

    #[test]
    fn group_needs_a_name() {
        assert_eq!(err(": a@x;"), AddressError::UnexpectedChar(':'));
    }

    #[test]
    fn obsolete_empty_elements() {
        assert_eq!(ok("a@x, , ,b@x"), ["a@x", "b@x"]);
        assert_eq!(ok(",a@x"), ["a@x"]);
        assert_eq!(ok(", ,a@x,,"), ["a@x"]);
        assert_eq!(ok("a@x,"), ["a@x"]);
    }

    #[test]
    fn semicolon_outside_group() {
        assert_eq!(ok("a@x; b@y"), ["a@x", "b@y"]);
        assert_eq!(ok("A <a@x>; b@y;"), ["a@x", "b@y"]);
        assert_eq!(ok(";a@x"), ["a@x"]);
    }

    #[test]
    fn obsolete_route() {
        assert_eq!(ok("<@r1,@r2:user@x>"), ["user@x"]);
        assert_eq!(ok("Name <@r1.org, ,@r2.org : user@x>"), ["user@x"]);
        assert_eq!(ok("<@r1:user@x>, b@y"), ["user@x", "b@y"]);
        assert_eq!(err("<@r1@r2:user@x>"), AddressError::MultipleAt);
        assert_eq!(err("<@r1>"), AddressError::EmptyLocalPart);
        assert_eq!(err("<@:a@x>"), AddressError::EmptyDomain);
        assert_eq!(err("<@r1:>"), AddressError::EmptyAngleAddr);
        assert_eq!(err("<@r1:"), AddressError::UnexpectedEnd);
    }

    #[test]
    fn quoted_local_part() {
        assert_eq!(ok("\"quoted@local\"@x"), ["\"quoted@local\"@x"]);
        let list = parse_list(b"\"quoted@local\"@x").unwrap();
        assert_eq!(list[0].local(), "\"quoted@local\"");
        assert_eq!(list[0].domain(), Some("x"));
        assert_eq!(ok(r#"<"a\"b"@x>"#), [r#""a\"b"@x"#]);
        assert_eq!(ok(r#"Name <"j.doe"@x>"#), [r#""j.doe"@x"#]);
        assert_eq!(ok(r#""a"."b"@x"#), [r#""a"."b"@x"#]);
        // A space inside the quotes is part of the local part (RFC 5321 Quoted-string),
        // never outside them.
        assert_eq!(ok(r#""john doe"@x"#), [r#""john doe"@x"#]);
        assert_eq!(ok(r#"J <"b o b"@x>"#), [r#""b o b"@x"#]);
        assert_eq!(
            Address::parse_single(r#""b o b"@example.org"#)
                .unwrap()
                .local(),
            r#""b o b""#
        );
        assert_eq!(err(r#""a"b c@x"#), AddressError::InvalidLocalPart);
        assert_eq!(err(r#""a,b"@x"#), AddressError::ForbiddenChar(','));
        assert_eq!(err(r#"<"a<b"@x>"#), AddressError::ForbiddenChar('<'));
        assert_eq!(err(r#""a>b"@x"#), AddressError::ForbiddenChar('>'));
        assert_eq!(err(r#"a"b"@x"#), AddressError::InvalidLocalPart);
        assert_eq!(err(r#"""@x"#), AddressError::EmptyLocalPart);
        assert_eq!(err(r#""root""#), AddressError::InvalidLocalPart);
    }

    #[test]
    fn domain_literals() {
        assert_eq!(ok("a@[192.0.2.1]"), ["a@[192.0.2.1]"]);
        assert_eq!(ok("A <a@[IPv6:2001:db8::1]>"), ["a@[IPv6:2001:db8::1]"]);
        let list = parse_list(b"a@[192.0.2.1]").unwrap();
        assert_eq!(list[0].domain(), Some("[192.0.2.1]"));
        assert_eq!(err("a@[1.2.3.4"), AddressError::UnterminatedDomainLiteral);
        assert_eq!(err("a@[1.2 .3.4]"), AddressError::WhitespaceInAddress);
        assert_eq!(err("a@[a@b]"), AddressError::ForbiddenChar('@'));
        assert_eq!(err(r"a@[a\]b]"), AddressError::ForbiddenChar('\\'));
        assert_eq!(err("a@[]"), AddressError::InvalidDomain);
        assert_eq!(err("a@[é]"), AddressError::ForbiddenChar('é'));
        assert_eq!(err("a@[1.2.3.4].x"), AddressError::UnexpectedChar('.'));
    }

    #[test]
    fn bare_local_names() {
        assert_eq!(ok("root"), ["root"]);
        assert_eq!(ok("www-data"), ["www-data"]);
        assert_eq!(
            ok("root, www-data,postmaster"),
            ["root", "www-data", "postmaster"]
        );
        assert_eq!(ok("first.last"), ["first.last"]);
        let list = parse_list(b"root").unwrap();
        assert_eq!(list[0].local(), "root");
        assert_eq!(list[0].domain(), None);
        assert_eq!(ok("Root <root>"), ["root"]);
    }

    #[test]
    fn command_line_operands() {
        assert_eq!(ok("a@x.org,b@x.org"), ["a@x.org", "b@x.org"]);
        assert_eq!(ok("-oi@x.org"), ["-oi@x.org"]);
        assert_eq!(ok("-root"), ["-root"]);
    }

    #[test]
    fn utf8_addresses() {
        assert_eq!(ok("jörg@exämple.org"), ["jörg@exämple.org"]);
        assert_eq!(ok("Jörg Müller <jörg@exämple.org>"), ["jörg@exämple.org"]);
        assert_eq!(ok("用户@例子.广告"), ["用户@例子.广告"]);
        assert_eq!(ok("é"), ["é"]);
    }

    #[test]
    fn empty_angle_address() {
        assert_eq!(err("<>"), AddressError::EmptyAngleAddr);
        assert_eq!(err("Name <>"), AddressError::EmptyAngleAddr);
        assert_eq!(err("a@x, < >"), AddressError::EmptyAngleAddr);
    }

    #[test]
    fn folding() {
        assert_eq!(ok("a@x,\r\n b@y,\n\tc@z"), ["a@x", "b@y", "c@z"]);
        assert_eq!(
            ok("Name\r\n <a@x>,\n (comment\r\n\tcontinued) b@y"),
            ["a@x", "b@y"]
        );
        assert_eq!(ok("\"Doe,\r\n John\" <j@x>"), ["j@x"]);
        assert_eq!(ok("g:\r\n a@x,\n b@y\r\n ;"), ["a@x", "b@y"]);
        assert_eq!(ok("\r\n a@x\r\n "), ["a@x"]);
    }

    #[test]
    fn obsolete_white_space_in_addr_spec() {
        assert_eq!(ok("john . doe@x"), ["john.doe@x"]);
        assert_eq!(ok("a @ x . org"), ["a@x.org"]);
        assert_eq!(ok("a\r\n @x"), ["a@x"]);
        assert_eq!(ok("a..b@docomo.ne.jp"), ["a..b@docomo.ne.jp"]);
        assert_eq!(ok("a.@x"), ["a.@x"]);
    }

    #[test]
    fn missing_comma() {
        assert_eq!(err("a@x b@x"), AddressError::MissingSeparator);
        assert_eq!(err("a@x <b@x>"), AddressError::MissingSeparator);
        assert_eq!(err("a@x \"B\" <b@x>"), AddressError::MissingSeparator);
        assert_eq!(err("John Doe"), AddressError::MissingSeparator);
        assert_eq!(err("root admin"), AddressError::MissingSeparator);
        assert_eq!(err("john doe@x"), AddressError::MissingSeparator);
    }

    #[test]
    fn unterminated() {
        assert_eq!(err("\"abc"), AddressError::UnterminatedQuote);
        assert_eq!(err("\"abc\\\""), AddressError::UnterminatedQuote);
        assert_eq!(err("\"Name <a@x>"), AddressError::UnterminatedQuote);
        assert_eq!(err("(abc"), AddressError::UnterminatedComment);
        assert_eq!(err("a@x ((a)"), AddressError::UnterminatedComment);
        assert_eq!(err("a@x (a\\)"), AddressError::UnterminatedComment);
        assert_eq!(err("<a@x"), AddressError::UnterminatedAngle);
        assert_eq!(err("Name <a@x, b@y"), AddressError::UnexpectedChar(','));
        assert_eq!(err("Name <"), AddressError::UnterminatedAngle);
        assert_eq!(err("[abc"), AddressError::UnterminatedDomainLiteral);
    }

    #[test]
    fn text_after_angle() {
        assert_eq!(err("Name <a@x> junk"), AddressError::TextAfterAngle);
        assert_eq!(err("Name <a@x> <b@x>"), AddressError::TextAfterAngle);
        assert_eq!(err("<a@x>.b"), AddressError::TextAfterAngle);
        assert_eq!(err("<a@x>>"), AddressError::TextAfterAngle);
    }

    #[test]
    fn empty_parts() {
        assert_eq!(err("@x"), AddressError::EmptyLocalPart);
        assert_eq!(err("a@"), AddressError::EmptyDomain);
        assert_eq!(err("a@, b@y"), AddressError::EmptyDomain);
        assert_eq!(err("<@x>"), AddressError::EmptyLocalPart);
        assert_eq!(err("Name <a@>"), AddressError::EmptyDomain);
        assert_eq!(err("<a@ >"), AddressError::EmptyDomain);
        assert_eq!(err(".@x"), AddressError::EmptyLocalPart);
        assert_eq!(err("."), AddressError::EmptyLocalPart);
    }

    #[test]
    fn malformed_domains() {
        assert_eq!(err("a@x..org"), AddressError::InvalidDomain);
        assert_eq!(err("a@.x"), AddressError::InvalidDomain);
        assert_eq!(err("a@x."), AddressError::InvalidDomain);
        assert_eq!(err("a@\"x\""), AddressError::InvalidDomain);
    }

    #[test]
    fn multiple_at() {
        assert_eq!(err("a@b@c"), AddressError::MultipleAt);
        assert_eq!(err("<a@b@c>"), AddressError::MultipleAt);
        assert_eq!(err("a@@b"), AddressError::MultipleAt);
    }

    #[test]
    fn white_space_inside_angle_addr_spec() {
        assert_eq!(err("<a @x>"), AddressError::WhitespaceInAddress);
        assert_eq!(err("<a@ x>"), AddressError::WhitespaceInAddress);
        assert_eq!(err("<a. b@x>"), AddressError::WhitespaceInAddress);
        assert_eq!(err("<a@x .org>"), AddressError::WhitespaceInAddress);
        assert_eq!(err("<a@x y>"), AddressError::WhitespaceInAddress);
        assert_eq!(err("<a(c)@x>"), AddressError::WhitespaceInAddress);
        assert_eq!(err("<john doe@x>"), AddressError::WhitespaceInAddress);
        assert_eq!(err("<a\r\n @x>"), AddressError::WhitespaceInAddress);
    }

    #[test]
    fn control_characters() {
        assert_eq!(err_bytes(b"a\0b@x"), AddressError::ControlChar('\0'));
        assert_eq!(err_bytes(b"a@x\0"), AddressError::ControlChar('\0'));
        assert_eq!(err_bytes(b"<a\x01@x>"), AddressError::ControlChar('\u{1}'));
        assert_eq!(err_bytes(b"a\x7f@x"), AddressError::ControlChar('\u{7f}'));
        assert_eq!(err_bytes(b"a\x1b@x"), AddressError::ControlChar('\u{1b}'));
        assert_eq!(err("a\u{85}@x"), AddressError::ControlChar('\u{85}'));
        assert_eq!(
            err_bytes(b"\"a\x01\"@x"),
            AddressError::ControlChar('\u{1}')
        );
        assert_eq!(err_bytes(b"root\0"), AddressError::ControlChar('\0'));
        // Line breaks that are not folding, anywhere.
        assert_eq!(err("a@x\r\nBcc: y@z"), AddressError::ControlChar('\r'));
        assert_eq!(err("a@x\nb@y"), AddressError::ControlChar('\n'));
        assert_eq!(err("a@x,\nb@y"), AddressError::ControlChar('\n'));
        assert_eq!(err("a@x\r"), AddressError::ControlChar('\r'));
        assert_eq!(err("a@x\r\n"), AddressError::ControlChar('\r'));
        assert_eq!(err("a\r @x"), AddressError::ControlChar('\r'));
        assert_eq!(err("(a\nb) a@x"), AddressError::ControlChar('\n'));
        assert_eq!(err("\"a\nb\" <a@x>"), AddressError::ControlChar('\n'));
        // A folded quoted local part keeps the line break: rejected.
        assert_eq!(err("\"a\r\n b\"@x"), AddressError::ControlChar('\r'));
        // Other control characters in display names and comments are skipped.
        assert_eq!(ok_bytes(b"Na\x01me <a@x>"), ["a@x"]);
        assert_eq!(ok_bytes(b"(\0) \"\x7f\" <a@x>"), ["a@x"]);
    }

    #[test]
    fn non_utf8() {
        assert_eq!(err_bytes(b"a\xff@x"), AddressError::InvalidUtf8);
        assert_eq!(err_bytes(b"<a@x\xc3>"), AddressError::InvalidUtf8);
        assert_eq!(err_bytes(b"\xff"), AddressError::InvalidUtf8);
        assert_eq!(ok_bytes(b"N\xffme <a@x>"), ["a@x"]);
        assert_eq!(ok_bytes(b"\"N\xffme\" <a@x>"), ["a@x"]);
        assert_eq!(ok_bytes(b"(\xfe\xff) a@x"), ["a@x"]);
    }

    #[test]
    fn forbidden_characters() {
        assert_eq!(err(r"a\b@x"), AddressError::ForbiddenChar('\\'));
        assert_eq!(err("<a]@x>"), AddressError::ForbiddenChar(']'));
        assert_eq!(err("a\u{a0}b@x"), AddressError::WhitespaceInAddress);
        assert_eq!(err("a@x>"), AddressError::UnexpectedChar('>'));
        assert_eq!(err(">"), AddressError::UnexpectedChar('>'));
        assert_eq!(err("a@x:"), AddressError::UnexpectedChar(':'));
    }

    /// The cases the mailparse crate gets wrong.
    #[test]
    fn mailparse_failure_cases() {
        assert_eq!(ok("g: a@x;, B <b@x>"), ["a@x", "b@x"]);
        assert_eq!(ok(",a@x, ,b@x"), ["a@x", "b@x"]);
        assert_eq!(ok("A (x (y) z) <a@x>"), ["a@x"]);
        assert_eq!(ok("\"quoted@local\"@x"), ["\"quoted@local\"@x"]);
        assert_eq!(ok("root"), ["root"]);
    }

    #[test]
    fn address_accessors() {
        let a = Address::parse_single("John.Doe@Example.ORG").unwrap();
        assert_eq!(a.as_str(), "John.Doe@Example.ORG");
        assert_eq!(a.to_string(), "John.Doe@Example.ORG");
        assert_eq!(a.local(), "John.Doe");
        assert_eq!(a.domain(), Some("Example.ORG"));
        assert_eq!(a.match_key(LocalCase::Ignore), "john.doe@example.org");
        assert_eq!(a.envelope_key(), "John.Doe@example.org");
        let b = Address::parse_single("Jörg@ÄX.org").unwrap();
        assert_eq!(b.match_key(LocalCase::Ignore), "jörg@äx.org");
        assert_eq!(b.envelope_key(), "Jörg@äx.org");
        let q = Address::parse_single(r#""A\"@B"@X"#).unwrap();
        assert_eq!(q.local(), r#""A\"@B""#);
        assert_eq!(q.domain(), Some("X"));
        assert_eq!(q.match_key(LocalCase::Ignore), r#""a\"@b"@x"#);
    }

    #[test]
    fn parse_single() {
        assert_eq!(Address::parse_single("a@x").unwrap().as_str(), "a@x");
        assert_eq!(Address::parse_single(" root ").unwrap().as_str(), "root");
        assert_eq!(
            Address::parse_single("a@[1.2.3.4]").unwrap().as_str(),
            "a@[1.2.3.4]"
        );
        assert_eq!(Address::parse_single(""), Err(AddressError::Empty));
        assert_eq!(Address::parse_single("  "), Err(AddressError::Empty));
        assert_eq!(
            Address::parse_single("a@x, b@x"),
            Err(AddressError::NotSingle)
        );
        assert_eq!(
            Address::parse_single("Name <a@x>"),
            Err(AddressError::NotSingle)
        );
        assert_eq!(
            Address::parse_single("<a@x>"),
            Err(AddressError::UnexpectedChar('<'))
        );
        assert_eq!(
            Address::parse_single("a @x"),
            Err(AddressError::WhitespaceInAddress)
        );
        assert_eq!(
            Address::parse_single("a@x y"),
            Err(AddressError::WhitespaceInAddress)
        );
        assert_eq!(
            Address::parse_single("a@b@c"),
            Err(AddressError::MultipleAt)
        );
        assert_eq!(
            Address::parse_single("@x"),
            Err(AddressError::EmptyLocalPart)
        );
        assert_eq!(Address::parse_single("a@"), Err(AddressError::EmptyDomain));
        assert_eq!(
            Address::parse_single("a\0@x"),
            Err(AddressError::ControlChar('\0'))
        );
        assert_eq!(
            Address::parse_single("\"a"),
            Err(AddressError::UnterminatedQuote)
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            AddressError::ControlChar('\n').to_string(),
            "control character U+000A"
        );
        assert_eq!(
            AddressError::MissingSeparator.to_string(),
            "missing ',' between addresses"
        );
        assert_eq!(
            AddressError::UnexpectedChar('>').to_string(),
            "unexpected character '>'"
        );
        assert_eq!(
            AddressError::ForbiddenChar('\u{e9}').to_string(),
            "character U+00E9 not allowed in address"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(AddressError::EmptyDomain);
        assert_eq!(boxed.to_string(), "empty domain");
    }

    #[test]
    fn ten_thousand_addresses() {
        let mut input = String::new();
        for i in 0..10_000 {
            match i % 4 {
                0 => input.push_str(&format!("user{i}@x.org, ")),
                1 => input.push_str(&format!("\"User, {i}\" <user{i}@x.org>,\r\n ")),
                2 => input.push_str(&format!("User {i} <user{i}@x.org>;\n\t")),
                _ => input.push_str(&format!("user{i}@x.org (c {i}),")),
            }
        }
        let list = parse_list(input.as_bytes()).unwrap();
        assert_eq!(list.len(), 10_000);
        for (i, address) in list.iter().enumerate() {
            assert_eq!(address.as_str(), format!("user{i}@x.org"));
        }
    }

    /// 1 MiB of each pathological pattern must be handled (an error is fine);
    /// linear time is guaranteed by construction, this guards against
    /// accidental quadratic behaviour making the test suite hang.
    #[test]
    fn pathological_inputs_complete() {
        const SIZE: usize = 1 << 20;
        let patterns: &[&[u8]] = &[
            b"=?x ",
            b"((((",
            b"))))",
            b"\"",
            b"\"a\" ",
            b"<",
            b"<<>>",
            b">",
            b"a",
            b"a ",
            b"a.",
            b". ",
            b",",
            b";",
            b"a:",
            b"a: b@x;",
            b":",
            b"@",
            b"a@",
            b"@a",
            b"\\",
            b"[",
            b"[a]",
            b"\r\n ",
            b"a@x,",
            b"<a@x>,",
            b"<@a,",
            b"(a)",
            b"\xff",
            b"\0",
            b"\"\\",
            b"(\\",
            b"=?utf-8?q?",
        ];
        for pattern in patterns {
            let input: Vec<u8> = pattern.iter().copied().cycle().take(SIZE).collect();
            let result = parse_list(&input);
            if let Ok(list) = &result {
                list.iter().for_each(assert_valid);
            }
            let _ = Address::parse_single(&String::from_utf8_lossy(&input));
        }
        // The worst case for nesting: all opens, then all closes.
        let mut nested = vec![b'('; SIZE / 2];
        nested.extend(std::iter::repeat_n(b')', SIZE / 2));
        nested.extend_from_slice(b" a@x");
        assert_eq!(parse_list(&nested), Ok(vec![Address("a@x".to_owned())]));
    }

    /// Deterministic pseudo-random fuzzing from a fixed alphabet of fragments.
    #[test]
    fn fuzz_invariants() {
        const FRAGMENTS: &[&[u8]] = &[
            b"a",
            b"B",
            b"@",
            b"x.org",
            b"<",
            b">",
            b"\"",
            b"\\",
            b"(",
            b")",
            b",",
            b";",
            b":",
            b" ",
            b"\r\n ",
            b"\n\t",
            b"\r",
            b"\n",
            b"\0",
            b"\xff",
            b"=?utf-8?q?",
            "é".as_bytes(),
            b".",
            b"[",
            b"]",
            b"1.2",
            b"\t",
            b"\x7f",
            b"-",
        ];
        // xorshift64*: small, deterministic, good enough for input generation.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut accepted = 0usize;
        let mut input = Vec::new();
        for _ in 0..200_000 {
            input.clear();
            let len = next() % 24;
            for _ in 0..len {
                let index = usize::try_from(next() % FRAGMENTS.len() as u64).unwrap_or(0);
                input.extend_from_slice(FRAGMENTS[index]);
            }
            if let Ok(list) = parse_list(&input) {
                accepted += list.len();
                list.iter().for_each(assert_valid);
            }
            if let Ok(text) = std::str::from_utf8(&input)
                && let Ok(address) = Address::parse_single(text)
            {
                assert_valid(&address);
            }
        }
        // Make sure the fuzzer actually exercises the success paths.
        assert!(accepted > 1_000, "only {accepted} addresses accepted");
    }
}
