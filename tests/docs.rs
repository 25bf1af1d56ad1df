//! The documentation says what the code does: every sendmail option is in pgpsendmail(8),
//! every setting in pgpsendmail.toml(5), the example configurations parse, and the README
//! shows the two commands a newcomer runs.

use pgpsendmail::args::OPTIONS;
use pgpsendmail::config::Config;

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
        "local_domains",
        "recipients",
        "alias",
        "key",
        "always",
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

#[test]
fn security_md_names_only_tests_that_exist() {
    // Every `FILE.rs::NAME` in SECURITY.md is a test function in that file
    // (tests/integration/FILE.rs, or src/FILE.rs for unit tests).
    let text = read("SECURITY.md");
    let mut named = 0;
    for piece in text.split('`') {
        let Some((file, name)) = piece.split_once(".rs::") else {
            continue;
        };
        // (Not the placeholders of the introduction, MODULE.rs::NAME.)
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            continue;
        }
        let path = if file.starts_with("src/") {
            format!("{file}.rs")
        } else {
            format!("tests/integration/{file}.rs")
        };
        let source = read(&path);
        assert!(
            source.contains(&format!("fn {name}()")),
            "SECURITY.md names {piece}, which is not a test in {path}"
        );
        named += 1;
    }
    assert!(named >= 40, "SECURITY.md names only {named} tests");
}
