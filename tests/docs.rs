//! The documentation says what the code does: every sendmail option is in pgpsendmail(8),
//! every setting in pgpsendmail.toml(5), the example configurations parse, and the README
//! shows the two commands a newcomer runs.

use pgpsendmail::config::Config;
use pgpsendmail::sendmail::args::OPTIONS;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap()
}

#[test]
fn man8_documents_every_option() {
    let man = read("man/pgpsendmail.8");
    for o in OPTIONS {
        assert!(
            man.contains(&format!("\\fB\\-{}", o.letter)),
            "pgpsendmail.8 does not document -{}",
            o.letter
        );
    }
    for word in [
        "check",
        "explain",
        "keys list",
        "keys import",
        "warn\\-days",
        "PGPSENDMAIL_CONFIG",
        "EXIT STATUS",
        "SECURITY",
    ] {
        assert!(man.contains(word), "pgpsendmail.8 lacks {word}");
    }
}

#[test]
fn man5_documents_every_setting_and_its_example_parses() {
    let man = read("man/pgpsendmail.toml.5");
    for key in [
        "sendmail",
        "flavor",
        "keyring",
        "missing_key",
        "subject",
        "warn_days",
        "cache_dir",
        "sign_key",
        "sign_unreadable",
        "local_domains",
        "recipients",
        "alias",
        "key",
        "always",
        "serve",
        "listen",
        "relay",
        "max_sessions",
        "message_size_limit",
        "max_recipients",
        "command_timeout",
        "data_timeout",
    ] {
        assert!(
            man.contains(&format!(".B {key}\n")) || man.contains(&format!("\\fB{key}\\fR")),
            "pgpsendmail.toml.5 does not document {key}"
        );
    }
    // The EXAMPLE section's file is a valid configuration.
    let ex = man.split(".SH EXAMPLE").nth(1).expect("EXAMPLE section");
    let body = ex
        .split(".nf\n")
        .nth(1)
        .and_then(|s| s.split(".fi").next())
        .unwrap();
    let toml = body
        .replace("\\e", "\\")
        .replace("\\(dq", "\"")
        .replace("\\-", "-");
    Config::parse(&toml, "man example").unwrap_or_else(|e| panic!("{e}\n{toml}"));
}

#[test]
fn readme_shows_demo_test_and_a_valid_configuration() {
    let readme = read("README.md");
    assert!(readme.contains("make demo"));
    assert!(readme.contains("make test"));
    let toml = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .unwrap();
    Config::parse(toml, "README").unwrap();
}

/// Every `FILE.rs::NAME` in `doc` that looks like a test name is a test function in that
/// file (tests/integration/FILE.rs, or src/FILE.rs for unit tests); returns how many.
fn named_tests_exist(doc: &str) -> usize {
    let text = read(doc);
    let mut named = 0;
    for piece in text.split('`') {
        let Some((file, name)) = piece.split_once(".rs::") else {
            continue;
        };
        let name = name.trim_end_matches("_*").trim_end_matches('*');
        // (Not the placeholders of the introduction, MODULE.rs::NAME, nor globs.)
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            continue;
        }
        let file = file.trim_start_matches("tests/integration/");
        let path = if file.starts_with("src/") {
            format!("{file}.rs")
        } else {
            format!("tests/integration/{file}.rs")
        };
        let source = read(&path);
        let exact = source.contains(&format!("fn {name}()"));
        let prefix = piece.ends_with('*') && source.contains(&format!("fn {name}"));
        assert!(
            exact || prefix,
            "{doc} names {piece}, which is not a test in {path}"
        );
        named += 1;
    }
    named
}

#[test]
fn security_md_names_only_tests_that_exist() {
    assert!(named_tests_exist("SECURITY.md") >= 40);
}

#[test]
fn docs_name_only_tests_that_exist() {
    for doc in ["docs/message.md", "docs/callers.md", "docs/interface.md"] {
        assert!(named_tests_exist(doc) > 0, "{doc} names no test");
    }
}

#[test]
fn nothing_points_at_a_file_outside_the_repository() {
    // The rules live in the man pages and docs/: no comment, test or document may send a
    // newcomer to a document that is not in this repository.
    let mut files = vec![
        "README.md".to_string(),
        "ARCHITECTURE.md".into(),
        "SECURITY.md".into(),
        "CHANGELOG.md".into(),
        "man/pgpsendmail.8".into(),
        "man/pgpsendmail.toml.5".into(),
    ];
    for dir in [
        "src",
        "tests",
        "examples",
        "docs",
        "fuzz/fuzz_targets",
        "scripts",
    ] {
        walk(&format!("{ROOT}/{dir}"), &mut files);
    }
    // Spelled in pieces, so that a grep of the tree for them finds no hit here either.
    let banned = [
        concat!("spec", "/"),
        concat!("research", "/"),
        concat!("research", " "),
        concat!("cli", ".md"),
        concat!("keys", ".md"),
        concat!("config", ".md"),
    ];
    for f in &files {
        let text = std::fs::read_to_string(format!("{ROOT}/{f}")).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            for b in banned {
                assert!(!line.contains(b), "{f}:{}: points outside: {line}", n + 1);
            }
        }
    }
}

/// The text files below `dir` (relative to the repository), not the ones npm or cargo
/// fetched or built, nor the test data.
fn walk(dir: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if ["node_modules", "target", "data", "corpus", "artifacts"].contains(&name.as_str()) {
            continue;
        }
        if p.is_dir() {
            walk(&p.display().to_string(), out);
        } else if [".rs", ".md", ".sh", ".js", ".mjs"]
            .iter()
            .any(|x| name.ends_with(x))
        {
            out.push(
                p.strip_prefix(ROOT)
                    .unwrap()
                    .display()
                    .to_string()
                    .trim_start_matches('/')
                    .to_string(),
            );
        }
    }
}

/// The commands listed in the "Commands:" section of `pgpsendmail ARGS --help`.
fn commands(args: &[&str]) -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgpsendmail"))
        .args(args)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let Some(section) = text.split("Commands:\n").nth(1) else {
        return Vec::new();
    };
    section
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

#[test]
fn man8_synopsis_names_every_admin_command() {
    let man = read("man/pgpsendmail.8");
    let synopsis = man
        .split(".SH SYNOPSIS\n")
        .nth(1)
        .and_then(|s| s.split(".SH ").next())
        .expect("SYNOPSIS section");
    let top = commands(&[]);
    assert!(top.len() >= 4, "no commands in --help: {top:?}");
    let mut all = Vec::new();
    for c in &top {
        let sub: Vec<String> = if c == "help" {
            Vec::new()
        } else {
            commands(&[c]).into_iter().filter(|s| s != "help").collect()
        };
        if sub.is_empty() {
            all.push(c.clone());
        } else {
            all.extend(sub.iter().map(|s| format!("{c} {s}")));
        }
    }
    for c in &all {
        assert!(
            synopsis.contains(&format!("\\fBpgpsendmail {c}\\fR")),
            "the SYNOPSIS of pgpsendmail.8 lacks pgpsendmail {c}"
        );
        assert!(
            man.contains(&format!(".TP\n\\fB{c}\\fR")) || man.contains(&format!("\\fB{c}\\fR [")),
            "ADMIN COMMANDS of pgpsendmail.8 does not describe {c}"
        );
    }
    assert!(all.iter().any(|c| c == "keys import"), "{all:?}");
}

#[test]
fn no_documentation_says_something_is_not_supported_yet() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgpsendmail"))
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for (name, text) in [
        ("man/pgpsendmail.8", read("man/pgpsendmail.8")),
        ("man/pgpsendmail.toml.5", read("man/pgpsendmail.toml.5")),
        ("README.md", read("README.md")),
        ("pgpsendmail --help", help),
    ] {
        let flat = text.replace("\\-", "-").replace('\n', " ").to_lowercase();
        for phrase in ["supported yet", "not yet supported", "not yet implemented"] {
            assert!(!flat.contains(phrase), "{name} says \"{phrase}\"");
        }
    }
}

#[test]
fn readme_and_man8_tell_the_growth_postfixs_limit_and_mutts_plaintext_copy() {
    let readme = read("README.md");
    for want in ["message_size_limit", "1.37", "set copy = no", "keys import"] {
        assert!(readme.contains(want), "README.md lacks {want}");
    }
    let man = read("man/pgpsendmail.8");
    assert!(
        man.contains(".SH SIZE\n") && man.contains("1.37"),
        "no SIZE in pgpsendmail.8"
    );
    // The numbers in the documentation are the ones check computes.
    use pgpsendmail::admin::{POSTFIX_DEFAULT_LIMIT, largest_before_encryption, limit_for};
    let needed = limit_for(POSTFIX_DEFAULT_LIMIT).to_string();
    let fits = largest_before_encryption(POSTFIX_DEFAULT_LIMIT).to_string();
    for (name, text) in [("README.md", &readme), ("pgpsendmail.8", &man)] {
        assert!(text.contains(&needed), "{name} lacks {needed}");
    }
    assert!(man.contains(&fits), "pgpsendmail.8 lacks {fits}");
}

/// The top-level settings pgpsendmail.toml(5) describes in SETTINGS (`.TP` then
/// `\fBname\fR (`, outside the indented fields of a table).
fn man5_settings() -> Vec<String> {
    let man = read("man/pgpsendmail.toml.5");
    let settings = man.split(".SH SETTINGS").nth(1).unwrap();
    let settings = settings.split("\n.SH ").next().unwrap();
    let mut out = Vec::new();
    let (mut after_tp, mut indented) = (false, false);
    for line in settings.lines() {
        match line {
            ".RS" => indented = true,
            ".RE" => indented = false,
            _ => {}
        }
        if after_tp
            && !indented
            && let Some(rest) = line.strip_prefix("\\fB")
            && let Some((name, tail)) = rest.split_once("\\fR")
            && tail.starts_with(" (")
        {
            out.push(name.replace("\\-", "-"));
        }
        after_tp = line == ".TP";
    }
    out
}

#[test]
fn the_packaged_default_configuration_shows_every_setting_and_parses() {
    // contrib/pgpsendmail.toml becomes /etc/pgpsendmail/pgpsendmail.toml in the Debian
    // package: every setting of pgpsendmail.toml(5) is there with its default, commented out.
    let text = read("contrib/pgpsendmail.toml");
    let settings = man5_settings();
    assert!(settings.len() >= 8, "{settings:?}");
    for s in &settings {
        assert!(
            text.contains(&format!("\n#{s} = ")),
            "contrib/pgpsendmail.toml does not show {s}"
        );
    }
    // As shipped, and with every example line taken in.
    Config::parse(&text, "contrib/pgpsendmail.toml").unwrap();
    let all: String = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    Config::parse(&all, "contrib/pgpsendmail.toml, uncommented")
        .unwrap_or_else(|e| panic!("{e}\n{all}"));
}
