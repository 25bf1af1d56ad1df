//! The sendmail command line: one option table, a getopt-shaped parser, and the validated
//! [`Invocation`] (pgpsendmail(8), OPTIONS and MODES).
//!
//! Owns: what every sendmail option means to pgpsendmail. The table [`OPTIONS`] drives the
//! parser, the `-h` text ([`usage`]) and the OPTIONS section of `man/pgpsendmail.8`; a test
//! checks the man page lists every letter.
//!
//! Stage 1 ([`parse`]) walks argv like POSIX getopt: options stop at the first operand or
//! `--`; flags group (`-ti`); values are glued or separate (`-fme@x`, `-f me@x`); a
//! value-taking option consumes the next argument even when it starts with `-`.
//! Stage 2 (the end of [`parse`]) applies the cross-option rules and parses every operand as
//! an RFC 5322 address list.
//!
//! Untrusted input: every argument. Errors are [`Error::Usage`] (exit 64) naming the option.
//! Dangerous options (`-X -C -O -oQ -D -d -M -p`) are refused, never forwarded: the
//! downstream argv is rebuilt from the parsed values only (see [`crate::sendmail::deliver`]).

use std::ffi::OsString;

use crate::diag::sanitize;
use crate::error::{Error, Result};
use crate::message::address::{self, Address};

/// How an option is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Changes what pgpsendmail does.
    Honoured,
    /// Accepted so callers keep working; takes no part in encryption or delivery.
    Ignored,
    /// Refused with exit 64, never forwarded.
    Refused,
}

/// Whether an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    Flag,
    /// Glued or the next argument.
    Value,
    /// Only glued (`-q30m`, bare `-q`).
    OptionalGlued,
    /// Only glued, and required (`-oi`; a bare `-o` is an error, it never takes the next
    /// argument, which may be a recipient).
    Glued,
}

/// One row of the option table.
#[derive(Debug)]
pub struct OptSpec {
    pub letter: char,
    pub arity: Arity,
    pub treatment: Treatment,
    /// Argument name shown in help.
    pub value: &'static str,
    pub help: &'static str,
}

const fn opt(
    letter: char,
    arity: Arity,
    treatment: Treatment,
    value: &'static str,
    help: &'static str,
) -> OptSpec {
    OptSpec {
        letter,
        arity,
        treatment,
        value,
        help,
    }
}

use Arity::*;
use Treatment::*;

/// Every sendmail option pgpsendmail knows. Anything else is refused with exit 64.
pub const OPTIONS: &[OptSpec] = &[
    opt(
        't',
        Flag,
        Honoured,
        "",
        "take recipients from To, Cc and Bcc (or Resent-To, Resent-Cc and Resent-Bcc); argument recipients are added (removed for flavor exim)",
    ),
    opt(
        'i',
        Flag,
        Honoured,
        "",
        "a line holding only a dot does not end the message; read to end of file",
    ),
    opt(
        'f',
        Value,
        Honoured,
        "SENDER",
        "envelope sender, passed on as -f; '', \"\" and <> mean the null sender; the last -f or -r wins",
    ),
    opt('r', Value, Honoured, "SENDER", "the same as -f"),
    opt(
        'F',
        Value,
        Honoured,
        "NAME",
        "full name, used in a From: that pgpsendmail has to add, and passed on as -F",
    ),
    opt(
        'N',
        Value,
        Honoured,
        "DSN",
        "delivery status notification (never, or success,failure,delay), passed on where the flavor supports it",
    ),
    opt(
        'R',
        Value,
        Honoured,
        "RET",
        "DSN return (hdrs or full), passed on where the flavor supports it",
    ),
    opt(
        'V',
        Value,
        Honoured,
        "ENVID",
        "DSN envelope id, passed on where the flavor supports it",
    ),
    opt(
        'o',
        Glued,
        Honoured,
        "OPTION",
        "-oi and -oitrue are -i; -oe*, -od*, -om are accepted and ignored; -oQ is refused; others are refused",
    ),
    opt(
        'e',
        Glued,
        Ignored,
        "MODE",
        "error mode, the same as -oe; ignored",
    ),
    opt(
        'b',
        Value,
        Honoured,
        "MODE",
        "mode: -bm deliver (the default); -bs speak SMTP on stdin and stdout, encrypting each message; -bp list the queue, -bi rebuild the aliases, -bv verify addresses (handed to the real sendmail, stdin /dev/null); others are refused",
    ),
    opt(
        'B',
        Value,
        Ignored,
        "TYPE",
        "body type (7BIT, 8BITMIME); ignored, the output is always 7-bit",
    ),
    opt(
        'q',
        OptionalGlued,
        Honoured,
        "[TIME]",
        "run the queue (handed to the real sendmail as -q with the same value)",
    ),
    opt(
        'I',
        Flag,
        Honoured,
        "",
        "rebuild the alias database, the same as -bi",
    ),
    opt('v', Flag, Ignored, "", "verbose; ignored"),
    opt('m', Flag, Ignored, "", "me too; ignored"),
    opt('h', Value, Ignored, "HOPS", "hop count; ignored"),
    opt('L', Value, Ignored, "TAG", "syslog tag; ignored"),
    opt('U', Flag, Ignored, "", "initial user submission; ignored"),
    opt('G', Flag, Ignored, "", "gateway submission; ignored"),
    opt('n', Flag, Ignored, "", "no aliasing; ignored"),
    opt(
        'X',
        Value,
        Refused,
        "FILE",
        "traffic log file: refused (CVE-2016-10033)",
    ),
    opt(
        'C',
        Value,
        Refused,
        "FILE",
        "alternate configuration: refused",
    ),
    opt('O', Value, Refused, "OPT=VAL", "long option: refused"),
    opt('D', Value, Refused, "FILE", "debug log: refused"),
    opt('d', OptionalGlued, Refused, "[FLAGS]", "debug: refused"),
    opt(
        'M',
        Value,
        Refused,
        "MACRO",
        "macro definition or queue action: refused",
    ),
    opt('p', Value, Refused, "PROTO", "protocol: refused"),
];

/// Looks a letter up in [`OPTIONS`].
pub fn spec(letter: char) -> Option<&'static OptSpec> {
    OPTIONS.iter().find(|o| o.letter == letter)
}

/// What the invocation asks for (pgpsendmail(8), MODES). The last mode option wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `-bm`: read, encrypt, deliver.
    Deliver,
    /// `-bs`: an SMTP session on stdin/stdout; each message is encrypted and delivered.
    Smtp,
    /// `-bp`, or invoked as `mailq`: list the queue (the real sendmail's job).
    ListQueue,
    /// `-q[VALUE]`: run the queue (the real sendmail's job). The value is kept as given.
    RunQueue(String),
    /// `-bi`, `-I`, or invoked as `newaliases`: rebuild the alias database.
    Aliases,
    /// `-bv`: verify the recipient addresses (the real sendmail's job; reads no message).
    Verify,
}

impl Mode {
    /// The option that selects this mode, for messages.
    pub fn flag(&self) -> String {
        match self {
            Mode::Deliver => "-bm".into(),
            Mode::Smtp => "-bs".into(),
            Mode::ListQueue => "-bp".into(),
            Mode::RunQueue(v) => format!("-q{}", sanitize(v)),
            Mode::Aliases => "-bi".into(),
            Mode::Verify => "-bv".into(),
        }
    }

    /// Whether the mode reads a message (and so must encrypt).
    pub fn sends(&self) -> bool {
        matches!(self, Mode::Deliver | Mode::Smtp)
    }
}

/// The name pgpsendmail was invoked as (its `argv[0]`), where it changes the meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invoked {
    Sendmail,
    /// `mailq`: the same as `sendmail -bp`.
    Mailq,
    /// `newaliases`: the same as `sendmail -bi`.
    Newaliases,
}

impl Invoked {
    /// From the file name of `argv[0]`: `mailq` and `newaliases` are special, every other
    /// name is sendmail.
    pub fn from_name(name: &str) -> Invoked {
        match name {
            "mailq" => Invoked::Mailq,
            "newaliases" => Invoked::Newaliases,
            _ => Invoked::Sendmail,
        }
    }
}

/// The envelope sender given with `-f`/`-r`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// `''`, `""` or `<>`.
    Null,
    /// Any other value, kept as one argument.
    Address(String),
}

/// A validated sendmail invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub mode: Mode,
    pub invoked: Invoked,
    /// `-t`
    pub extract_recipients: bool,
    /// `-i`, `-oi`, `-oitrue`
    pub ignore_dots: bool,
    pub sender: Option<Sender>,
    pub full_name: Option<String>,
    pub dsn_notify: Option<String>,
    pub dsn_ret: Option<String>,
    pub envid: Option<String>,
    /// Operands, each split as an address list, in order, duplicates kept.
    pub recipients: Vec<Address>,
}

impl Default for Invocation {
    fn default() -> Self {
        Invocation {
            mode: Mode::Deliver,
            invoked: Invoked::Sendmail,
            extract_recipients: false,
            ignore_dots: false,
            sender: None,
            full_name: None,
            dsn_notify: None,
            dsn_ret: None,
            envid: None,
            recipients: Vec::new(),
        }
    }
}

fn usage_err(msg: String) -> Error {
    Error::Usage(format!("{msg} (see pgpsendmail --help)"))
}

/// Rejects control characters (CR and LF above all: they inject headers or envelope
/// commands further down) in an option value or operand.
fn check_value(what: &str, v: &str) -> Result<()> {
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(usage_err(format!(
            "{what}: control character U+{:04X} not allowed",
            c as u32
        )));
    }
    Ok(())
}

fn to_utf8(a: OsString) -> Result<String> {
    a.into_string().map_err(|a| {
        usage_err(format!(
            "argument is not valid UTF-8: '{}'",
            sanitize(&a.to_string_lossy())
        ))
    })
}

/// Parses the sendmail arguments (without `argv[0]`) of pgpsendmail invoked as sendmail.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Invocation> {
    parse_as(Invoked::Sendmail, args)
}

/// Parses the arguments (without `argv[0]`) of pgpsendmail invoked under `name`: as `mailq`
/// the mode is always -bp, as `newaliases` always -bi.
pub fn parse_as<I: IntoIterator<Item = OsString>>(name: Invoked, args: I) -> Result<Invocation> {
    let mut inv = parse_args(args)?;
    inv.invoked = name;
    match name {
        Invoked::Mailq => inv.mode = Mode::ListQueue,
        Invoked::Newaliases => inv.mode = Mode::Aliases,
        Invoked::Sendmail => {}
    }
    let m = inv.mode.flag();
    let what = match name {
        Invoked::Mailq => "mailq".to_string(),
        Invoked::Newaliases => "newaliases".to_string(),
        Invoked::Sendmail => m.clone(),
    };
    match &inv.mode {
        Mode::Deliver => {}
        Mode::Smtp if inv.extract_recipients => {
            return Err(usage_err(
                "-bs takes its recipients from RCPT TO: -t cannot be used with it".into(),
            ));
        }
        Mode::Smtp | Mode::ListQueue | Mode::RunQueue(_) | Mode::Aliases
            if !inv.recipients.is_empty() =>
        {
            return Err(usage_err(format!(
                "{what} takes no recipient arguments{}",
                if inv.mode == Mode::Smtp {
                    " (they come from RCPT TO)"
                } else {
                    ""
                }
            )));
        }
        Mode::Verify if inv.recipients.is_empty() => {
            return Err(usage_err("-bv needs the addresses to verify".into()));
        }
        _ => {}
    }
    Ok(inv)
}

fn parse_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<Invocation> {
    let mut inv = Invocation::default();
    let mut it = args.into_iter();
    let mut operands: Vec<String> = Vec::new();

    while let Some(arg) = it.next() {
        let arg = to_utf8(arg)?;
        if arg == "--" {
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            operands.push(arg);
            break;
        }
        if arg.starts_with("--") {
            return Err(usage_err(format!("unknown option '{}'", sanitize(&arg))));
        }
        // A group of letters after one dash: flags until one takes a value.
        let body = &arg[1..];
        for (i, c) in body.char_indices() {
            let Some(o) = spec(c) else {
                return Err(usage_err(format!(
                    "unknown option '-{}'",
                    sanitize(&c.to_string())
                )));
            };
            if o.treatment == Refused {
                return Err(usage_err(format!(
                    "option -{c} is refused: pgpsendmail never passes it to the real sendmail"
                )));
            }
            match o.arity {
                Flag => apply(&mut inv, c, None)?,
                OptionalGlued | Glued => {
                    let v = &body[i + c.len_utf8()..];
                    if o.arity == Glued && v.is_empty() {
                        return Err(usage_err(format!(
                            "option -{c} needs its value glued to it (for example -{c}{})",
                            if c == 'o' { "i" } else { "m" }
                        )));
                    }
                    apply(&mut inv, c, Some(v.to_string()))?;
                    break;
                }
                Value => {
                    let glued = &body[i + c.len_utf8()..];
                    let v = if !glued.is_empty() {
                        glued.to_string()
                    } else {
                        match it.next() {
                            Some(v) => to_utf8(v)?,
                            None => {
                                return Err(usage_err(format!("option -{c} needs a value")));
                            }
                        }
                    };
                    apply(&mut inv, c, Some(v))?;
                    break;
                }
            }
        }
    }
    for a in it {
        operands.push(to_utf8(a)?);
    }

    for op in &operands {
        check_value("recipient", op)?;
        let list = address::parse_list(op.as_bytes()).map_err(|e| {
            usage_err(format!(
                "recipient '{}' is not an address: {e}",
                sanitize(op)
            ))
        })?;
        inv.recipients.extend(list);
    }
    Ok(inv)
}

/// Applies one option with its value: a flat table, one line per option; the values that
/// need checking beyond [`check_value`] have a function of their own below.
fn apply(inv: &mut Invocation, c: char, v: Option<String>) -> Result<()> {
    let v = v.unwrap_or_default();
    match c {
        't' => inv.extract_recipients = true,
        'i' => inv.ignore_dots = true,
        'f' | 'r' => inv.sender = Some(sender(c, v)?),
        'F' => inv.full_name = Some(check_value("-F", &v).map(|()| v)?),
        'N' => inv.dsn_notify = Some(dsn_notify(&v)?),
        'R' => inv.dsn_ret = Some(dsn_ret(&v)?),
        'V' => inv.envid = Some(envid(v)?),
        'o' => apply_o(inv, &v)?,
        'e' => check_value("-e", &v)?,
        'b' => inv.mode = mode_b(&v)?,
        'q' => inv.mode = Mode::RunQueue(queue_run(v)?),
        'I' => inv.mode = Mode::Aliases,
        'B' | 'h' | 'L' => check_value(&format!("-{c}"), &v)?,
        'v' | 'm' | 'U' | 'G' | 'n' => {}
        _ => {
            return Err(Error::Internal(format!(
                "option -{c} is in the table but has no handler"
            )));
        }
    }
    Ok(())
}

/// `-f` / `-r` (`c`): the envelope sender; empty, `""` or `<>` is the null sender.
fn sender(c: char, v: String) -> Result<Sender> {
    check_value(&format!("-{c}"), &v)?;
    Ok(match v.as_str() {
        "" | "\"\"" | "<>" => Sender::Null,
        _ => Sender::Address(v),
    })
}

/// `-N`: `never`, or a list of `success`, `failure`, `delay`; lower-cased.
fn dsn_notify(v: &str) -> Result<String> {
    check_value("-N", v)?;
    let ok = v.eq_ignore_ascii_case("never")
        || (!v.is_empty()
            && v.split(',').all(|w| {
                ["success", "failure", "delay"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
            }));
    if !ok {
        return Err(usage_err(format!(
            "-N: '{}' is not never or a list of success, failure, delay",
            sanitize(v)
        )));
    }
    Ok(v.to_ascii_lowercase())
}

/// `-R`: `hdrs` or `full`, lower-cased.
fn dsn_ret(v: &str) -> Result<String> {
    check_value("-R", v)?;
    let l = v.to_ascii_lowercase();
    if l != "hdrs" && l != "full" {
        return Err(usage_err(format!(
            "-R: '{}' is not hdrs or full",
            sanitize(v)
        )));
    }
    Ok(l)
}

/// `-V`: the envelope id, 1 to 100 printable ASCII characters.
fn envid(v: String) -> Result<String> {
    check_value("-V", &v)?;
    if v.is_empty() || v.len() > 100 || !v.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(usage_err(
            "-V: the envelope id must be 1 to 100 printable ASCII characters".into(),
        ));
    }
    Ok(v)
}

/// `-b`: the mode.
fn mode_b(v: &str) -> Result<Mode> {
    check_value("-b", v)?;
    match v {
        "m" => Ok(Mode::Deliver),
        "s" => Ok(Mode::Smtp),
        "p" => Ok(Mode::ListQueue),
        "i" => Ok(Mode::Aliases),
        "v" => Ok(Mode::Verify),
        _ => Err(usage_err(format!(
            "mode -b{} is not supported",
            sanitize(v)
        ))),
    }
}

/// `-q`: a queue run interval or selector, handed on glued as one argument: -q30m,
/// -qRexample.org, -qIABC123, -qf.
fn queue_run(v: String) -> Result<String> {
    let ok = v.len() <= 255
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".@_:!+=%/-[]".contains(&b));
    if !ok {
        return Err(usage_err(format!(
            "-q: '{}' is not a queue run interval or selector",
            sanitize(&v)
        )));
    }
    Ok(v)
}

/// `-o` takes one glued value naming a sendmail short option.
fn apply_o(inv: &mut Invocation, v: &str) -> Result<()> {
    check_value("-o", v)?;
    let mut cs = v.chars();
    match cs.next() {
        Some('i') => {
            // -oi, -oitrue, -oiT, -oiyes: ignore dots; -oifalse turns it off.
            let rest = cs.as_str().to_ascii_lowercase();
            match rest.as_str() {
                "" | "t" | "true" | "y" | "yes" => inv.ignore_dots = true,
                "f" | "false" | "n" | "no" => inv.ignore_dots = false,
                _ => {
                    return Err(usage_err(format!("unknown option '-o{}'", sanitize(v))));
                }
            }
        }
        Some('e') | Some('d') | Some('m') => {}
        Some('Q') => {
            return Err(usage_err(
                "option -oQ is refused: pgpsendmail never passes it to the real sendmail".into(),
            ));
        }
        _ => return Err(usage_err(format!("unknown option '-o{}'", sanitize(v)))),
    }
    Ok(())
}

/// The `-h`-style usage text, generated from [`OPTIONS`].
pub fn usage() -> String {
    let mut s = String::from(
        "usage: sendmail [options] [--] [recipient ...]\n\
         pgpsendmail encrypts the message on standard input to every recipient's OpenPGP\n\
         key and hands only ciphertext to the real sendmail.\n\nsendmail options:\n",
    );
    for o in OPTIONS {
        let head = if o.value.is_empty() {
            format!("-{}", o.letter)
        } else if matches!(o.arity, OptionalGlued | Glued) {
            format!("-{}{}", o.letter, o.value)
        } else {
            format!("-{} {}", o.letter, o.value)
        };
        s.push_str(&format!("  {head:<12} {}\n", o.help));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Invocation> {
        parse(args.iter().map(OsString::from))
    }

    fn rcpts(inv: &Invocation) -> Vec<&str> {
        inv.recipients.iter().map(|a| a.as_str()).collect()
    }

    #[test]
    fn table_has_no_duplicate_letters_and_every_letter_has_a_handler() {
        let mut seen = std::collections::HashSet::new();
        for o in OPTIONS {
            assert!(seen.insert(o.letter), "duplicate -{}", o.letter);
            assert!(!o.help.is_empty());
            if o.treatment == Refused {
                let e = p(&[&format!("-{}", o.letter), "x"]).unwrap_err();
                assert_eq!(e.exit_code().code(), 64);
            } else {
                // The handler exists: an Internal error would mean a table row without code.
                let args: Vec<String> = match o.arity {
                    Flag | OptionalGlued => vec![format!("-{}", o.letter)],
                    Glued => vec![format!("-{}x", o.letter)],
                    Value => vec![format!("-{}", o.letter), "x".into()],
                };
                if let Err(e) = parse(args.iter().map(OsString::from)) {
                    assert_eq!(e.exit_code().code(), 64, "-{}: {e}", o.letter);
                }
            }
        }
    }

    #[test]
    fn mutt() {
        let i = p(&[
            "-oem",
            "-oi",
            "-B8BITMIME",
            "-f",
            "me@x.org",
            "-N",
            "failure,delay",
            "-R",
            "hdrs",
            "--",
            "a@x.org",
            "c@x.org",
        ])
        .unwrap();
        assert!(i.ignore_dots);
        assert_eq!(i.sender, Some(Sender::Address("me@x.org".into())));
        assert_eq!(i.dsn_notify.as_deref(), Some("failure,delay"));
        assert_eq!(i.dsn_ret.as_deref(), Some("hdrs"));
        assert_eq!(rcpts(&i), ["a@x.org", "c@x.org"]);
    }

    #[test]
    fn grouped_and_glued() {
        let i = p(&["-ti"]).unwrap();
        assert!(i.extract_recipients && i.ignore_dots);
        let i = p(&["-it", "a@x"]).unwrap();
        assert!(i.extract_recipients && i.ignore_dots);
        let i = p(&["-t", "-fraid@x.org"]).unwrap();
        assert_eq!(i.sender, Some(Sender::Address("raid@x.org".into())));
        let i = p(&["-i", "-B", "8BITMIME", "u@x.org"]).unwrap();
        assert_eq!(rcpts(&i), ["u@x.org"]);
        let i = p(&[
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "a@x.org,b@x.org",
        ])
        .unwrap();
        assert_eq!(i.full_name.as_deref(), Some("CronDaemon"));
        assert_eq!(rcpts(&i), ["a@x.org", "b@x.org"]);
    }

    #[test]
    fn value_option_consumes_dash_argument() {
        let i = p(&["-f", "-weird", "a@x"]).unwrap();
        assert_eq!(i.sender, Some(Sender::Address("-weird".into())));
    }

    #[test]
    fn stops_at_first_operand_and_after_double_dash() {
        let i = p(&["-i", "a@x", "-t"]);
        // "-t" after an operand is an operand, and not an address.
        assert!(i.is_err() || !i.unwrap().extract_recipients);
        let i = p(&["-i", "--", "-oQ/tmp@x.org"]).unwrap();
        assert_eq!(rcpts(&i), ["-oQ/tmp@x.org"]);
    }

    #[test]
    fn null_senders_and_last_wins() {
        for v in ["", "\"\"", "<>"] {
            assert_eq!(p(&["-f", v, "a@x"]).unwrap().sender, Some(Sender::Null));
        }
        let i = p(&["-f", "a@x.org", "-r", "b@x.org", "c@x.org"]).unwrap();
        assert_eq!(i.sender, Some(Sender::Address("b@x.org".into())));
    }

    #[test]
    fn phpmailer_cve_sender_stays_one_value() {
        let s = "\"x\\\" -oQ/var/spool -X/var/www/s.php y\"@example.com";
        let i = p(&["-oi", "-f", s, "-t"]).unwrap();
        assert_eq!(i.sender, Some(Sender::Address(s.into())));
    }

    #[test]
    fn refusals_are_usage_errors() {
        for bad in [
            vec!["-z", "a@x"],
            vec!["-f"],
            vec!["-X", "/tmp/log", "a@x"],
            vec!["-oQ/tmp", "a@x"],
            vec!["-OQueueDirectory=/tmp", "a@x"],
            vec!["-bt"],
            vec!["-bd"],
            vec!["--help"],
            vec!["-ox", "a@x"],
            vec!["-o", "i", "a@x"],
            vec!["-e", "a@x"],
            vec!["-f", "me@x\nBcc: evil@x", "a@x"],
            vec!["-F", "Name\r", "a@x"],
            vec!["-N", "sometimes", "a@x"],
            vec!["-V", "a\nb", "a@x"],
            vec!["a@x\nBcc: e@x"],
        ] {
            let e = p(&bad).unwrap_err();
            assert_eq!(e.exit_code().code(), 64, "{bad:?}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn modes() {
        for (m, want) in [
            (&["-bs", "-odb", "-oem"][..], Mode::Smtp),
            (&["-bp"], Mode::ListQueue),
            (&["-q"], Mode::RunQueue("".into())),
            (&["-q30m"], Mode::RunQueue("30m".into())),
            (&["-qRexample.org"], Mode::RunQueue("Rexample.org".into())),
            (&["-bi"], Mode::Aliases),
            (&["-I"], Mode::Aliases),
            (&["-bv", "a@x"], Mode::Verify),
            (&["-bm", "a@x"], Mode::Deliver),
            (&["-bp", "-bm", "a@x"], Mode::Deliver),
        ] {
            assert_eq!(p(m).unwrap().mode, want, "{m:?}");
        }
        let q = |name, args: &[&str]| parse_as(name, args.iter().map(OsString::from));
        assert_eq!(q(Invoked::Mailq, &[]).unwrap().mode, Mode::ListQueue);
        assert_eq!(q(Invoked::Mailq, &["-v"]).unwrap().mode, Mode::ListQueue);
        assert_eq!(q(Invoked::Newaliases, &[]).unwrap().mode, Mode::Aliases);
        for bad in [
            q(Invoked::Sendmail, &["-bs", "a@x"]),
            q(Invoked::Sendmail, &["-bs", "-t"]),
            q(Invoked::Sendmail, &["-bp", "a@x"]),
            q(Invoked::Sendmail, &["-q", "a@x"]),
            q(Invoked::Sendmail, &["-bv"]),
            q(Invoked::Sendmail, &["-q30m;rm"]),
            q(Invoked::Sendmail, &["-q", "30m"]),
            q(Invoked::Mailq, &["a@x"]),
            q(Invoked::Newaliases, &["a@x"]),
        ] {
            assert_eq!(bad.unwrap_err().exit_code().code(), 64);
        }
    }

    #[test]
    fn o_variants() {
        assert!(p(&["-oitrue", "a@x"]).unwrap().ignore_dots);
        assert!(!p(&["-oi", "-oifalse", "a@x"]).unwrap().ignore_dots);
        for ok in [
            "-oem", "-oee", "-oep", "-oeq", "-oew", "-odi", "-odb", "-odq", "-om",
        ] {
            p(&[ok, "a@x"]).unwrap();
        }
    }

    #[test]
    fn usage_lists_every_option() {
        let u = usage();
        for o in OPTIONS {
            assert!(u.contains(&format!("-{}", o.letter)));
        }
    }
}
