//! docs/message.md, rule by rule.

use crate::harness::*;

const MIME_MSG: &[u8] = b"From: Alice <alice@example.org>\nTo: bob@example.org\nCc: alice@example.org\n\
Subject: Quarterly numbers MARKER-SUBJECT\nDate: Sat, 28 Nov 2026 12:00:00 +0000\n\
Message-ID: <m1@example.org>\nUser-Agent: TestAgent/1.0\nX-Mailer: MARKER-XMAILER\n\
Received: from trace.example by x\nReturn-Path: <bounce@example.org>\nDKIM-Signature: v=1; MARKER-DKIM\n\
ARC-Seal: i=1; MARKER-ARC\nIn-Reply-To: <m0@example.org>\nReferences: <m0@example.org>\n\
List-Id: <list.example.org>\nMIME-Version: 1.0\n\
Content-Type: multipart/alternative; boundary=\"inner-b\"\nContent-Transfer-Encoding: 7bit\n\n\
--inner-b\nContent-Type: text/plain\n\nMARKER-BODY plain\n--inner-b\nContent-Type: text/html\n\n<p>MARKER-BODY</p>\n--inner-b--\n";

fn one(args: &[&str], msg: &[u8]) -> (Capture, pgpsendmail::openpgp::decrypt::Opened) {
    let h = H::new();
    let c = h.ok(args, msg);
    assert_eq!(c.len(), 1);
    let o = c[0].open("bob");
    (c[0].clone(), o)
}

#[test]
fn rule01_payload_root_is_mixed_with_one_child_holding_the_original_entity() {
    let (_, o) = one(&["-i", "-t"], MIME_MSG);
    let (root, child_hdr, body) = payload_parts(&o.payload);
    assert!(
        root.starts_with("Content-Type: multipart/mixed; boundary=\""),
        "{root}"
    );
    assert!(root.contains("protected-headers=\"v1\""));
    assert!(root.contains("hp=\"cipher\""));
    let child_hdr = String::from_utf8(child_hdr).unwrap();
    assert_eq!(
        child_hdr,
        "Content-Type: multipart/alternative; boundary=\"inner-b\"\r\nContent-Transfer-Encoding: 7bit\r\n"
    );
    let input_body = &MIME_MSG[find(MIME_MSG, b"\n\n").unwrap() + 2..];
    assert_eq!(body, crlf(input_body), "body bytes changed");
}

#[test]
fn rule02_synthesized_text_plain_child() {
    let cases: &[(&[u8], &str, &str)] = &[
        (b"plain ascii\n", "us-ascii", "7bit"),
        (
            "gr\u{fc}\u{df}e aus K\u{f6}ln\n".as_bytes(),
            "utf-8",
            "8bit",
        ),
        (b"latin1 \xe9t\xe9\n", "unknown-8bit", "8bit"),
    ];
    for (body, charset, cte) in cases {
        let mut msg = b"To: bob@example.org\nSubject: s\n\n".to_vec();
        msg.extend_from_slice(body);
        let (_, o) = one(&["-i", "-t"], &msg);
        let (_, child_hdr, got) = payload_parts(&o.payload);
        let child_hdr = String::from_utf8_lossy(&child_hdr);
        assert!(
            child_hdr.contains(&format!("charset=\"{charset}\"")),
            "{child_hdr}"
        );
        assert!(
            child_hdr.contains(&format!("Content-Transfer-Encoding: {cte}")),
            "{child_hdr}"
        );
        assert_eq!(got, crlf(body));
    }
}

#[test]
fn rule02_base64_only_for_nul_or_long_lines() {
    use base64::Engine;
    let mut long = vec![b'x'; 1200];
    long.push(b'\n');
    for body in [b"with a \0 NUL\n".to_vec(), long] {
        let mut msg = b"To: bob@example.org\n\n".to_vec();
        msg.extend_from_slice(&body);
        let (_, o) = one(&["-i", "-t"], &msg);
        let (_, child_hdr, got) = payload_parts(&o.payload);
        assert!(contains(&child_hdr, b"Content-Transfer-Encoding: base64"));
        let text = String::from_utf8(got).unwrap();
        assert!(text.lines().all(|l| l.len() <= 76));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text.replace("\r\n", ""))
            .unwrap();
        assert_eq!(decoded, crlf(&body));
    }
}

#[test]
fn rule02_large_non_mime_body_is_scanned_whole() {
    // Over the in-memory limit: the body goes through the sealed spool and is scanned whole;
    // the one 8-bit byte at the very end decides the charset.
    let mut body = Vec::new();
    while body.len() < 3 << 20 {
        body.extend_from_slice(b"cron output line that is plain ascii\n");
    }
    body.extend_from_slice("end \u{e9}\n".as_bytes());
    let mut msg = b"To: bob@example.org\n\n".to_vec();
    msg.extend_from_slice(&body);
    let (_, o) = one(&["-i", "-t"], &msg);
    let (_, child_hdr, got) = payload_parts(&o.payload);
    assert!(contains(&child_hdr, b"charset=\"utf-8\""));
    assert_eq!(got, crlf(&body));
}

#[test]
fn rule03_inner_header_copies_all_but_structural_bcc_and_trace() {
    let (_, o) = one(&["-i", "-t"], MIME_MSG);
    let (root, _, _) = payload_parts(&o.payload);
    for want in [
        "From: Alice <alice@example.org>",
        "To: bob@example.org",
        "Cc: alice@example.org",
        "Subject: Quarterly numbers MARKER-SUBJECT",
        "Date: Sat, 28 Nov 2026 12:00:00 +0000",
        "Message-ID: <m1@example.org>",
        "User-Agent: TestAgent/1.0",
        "X-Mailer: MARKER-XMAILER",
        "List-Id: <list.example.org>",
    ] {
        assert!(
            root.contains(&format!("\r\n{want}\r\n")),
            "{want} missing inside"
        );
    }
    for gone in [
        "Received",
        "Return-Path",
        "DKIM-Signature",
        "ARC-Seal",
        "MIME-Version",
        "Bcc",
    ] {
        assert!(!root.contains(&format!("\r\n{gone}:")), "{gone} inside");
    }
}

#[test]
fn rule04_hp_outer_records_every_outer_field() {
    let (c, o) = one(&["-i", "-t"], MIME_MSG);
    let (root, _, _) = payload_parts(&o.payload);
    let outer = c.outer_header();
    let mut n = 0;
    for line in outer.lines() {
        if line.starts_with("MIME-Version")
            || line.starts_with("Content-Type")
            || line.starts_with(' ')
        {
            continue;
        }
        n += 1;
        assert!(
            root.contains(&format!("HP-Outer: {line}\r\n")),
            "no HP-Outer for {line}"
        );
    }
    assert_eq!(root.matches("HP-Outer: ").count(), n);
    assert!(root.contains("HP-Outer: Subject: [...]\r\n"));
    assert!(!root.contains("HP-Outer: X-Mailer"));
}

#[test]
fn rule05_missing_from_date_message_id_synthesized_once() {
    let h = H::new();
    let c = h.ok(
        &[
            "-f",
            "sender@example.org",
            "-F",
            "Sender Name",
            "-i",
            "bob@example.org",
            "carol@example.net",
        ],
        b"To: bob@example.org\nSubject: s\n\nx\n",
    );
    assert_eq!(c.len(), 2);
    let outer = c[0].outer_header();
    assert_eq!(outer, c[1].outer_header(), "copies differ outside");
    let (root, _, _) = payload_parts(&c[0].open("bob").payload);
    for name in ["From: ", "Date: ", "Message-ID: "] {
        let line = outer
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}"));
        assert!(
            root.contains(&format!("\r\n{line}\r\n")),
            "{line} differs inside"
        );
    }
    assert!(
        outer.contains("From: Sender Name <sender@example.org>"),
        "{outer}"
    );
    assert!(outer.contains("+0000"));
}

#[test]
fn rule06_payload_is_crlf() {
    let (_, o) = one(&["-i", "-t"], MIME_MSG);
    let p = &o.payload;
    for (i, &b) in p.iter().enumerate() {
        if b == b'\n' {
            assert_eq!(p[i - 1], b'\r', "bare LF at {i}");
        }
    }
}

#[test]
fn rules07_09_openpgp_layer() {
    let h = H::with_keys(&["alice", "multisub"], "");
    let c = h.ok(
        &["-i", "alice@example.org", "multisub@example.org"],
        b"To: alice@example.org, multisub@example.org\n\nx\n",
    );
    assert_eq!(c.len(), 1);
    let o = c[0].open("multisub");
    // One PKESK for every valid encryption subkey: alice has one, multisub two.
    assert_eq!(o.recipients.len(), 3, "{:?}", o.recipients);
    let mut want: Vec<String> = key_ids("alice")[1..].to_vec();
    want.extend(key_ids("multisub")[1..].iter().cloned());
    let mut got = o.recipients.clone();
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "PKESKs name the encryption subkeys, not the primaries"
    );
    assert!(o.literal_ok, "literal data: binary, empty name, date 0");
    let text = c[0].text();
    let armor: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PGP MESSAGE"))
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    assert_eq!(armor[1], "", "no armor headers");
    assert!(armor.iter().all(|l| l.len() <= 64));
    assert!(armor.last().unwrap().starts_with('='), "CRC-24 line");
}

#[test]
fn rule08_seipd_v1_aes256_checked_with_packets() {
    use pgp::packet::{Packet, PacketParser};
    let (c, _) = one(&["-i", "bob@example.org"], b"To: bob@example.org\n\nx\n");
    let block = pgpsendmail::openpgp::decrypt::armored_block(&c.stdin).unwrap();
    let mut d = pgp::armor::Dearmor::new(block);
    let mut bin = Vec::new();
    std::io::Read::read_to_end(&mut d, &mut bin).unwrap();
    let packets: Vec<Packet> = PacketParser::new(&bin[..]).filter_map(|p| p.ok()).collect();
    let mut seipd = 0;
    for p in &packets {
        match p {
            Packet::PublicKeyEncryptedSessionKey(k) => {
                assert_eq!(k.version(), pgp::types::PkeskVersion::V3)
            }
            Packet::SymEncryptedProtectedData(s) => {
                assert_eq!(s.version(), 1);
                seipd += 1;
            }
            other => panic!("unexpected packet {other:?}"),
        }
    }
    assert_eq!(seipd, 1);
}

#[test]
fn rule10_hidden_recipients_get_their_own_copies() {
    let h = H::new();
    let msg = b"From: me@example.org\nTo: alice@example.org\nCc: bob@example.org\nBcc: carol@example.net, dave@example.net\nSubject: s\n\nx\n";
    let c = h.ok(&["-i", "-t"], msg);
    assert_eq!(c.len(), 3);
    assert_eq!(c[0].rcpts(), ["alice@example.org", "bob@example.org"]);
    assert_eq!(c[1].rcpts(), ["carol@example.net"]);
    assert_eq!(c[2].rcpts(), ["dave@example.net"]);
    let ids = |n: &str| key_ids(n)[1..].to_vec();
    let o0 = c[0].open("alice");
    let mut vis = ids("alice");
    vis.extend(ids("bob"));
    vis.sort();
    let mut got = o0.recipients.clone();
    got.sort();
    assert_eq!(got, vis);
    assert_eq!(c[1].open("carol").recipients, ids("carol"));
    assert_eq!(c[2].open("dave").recipients, ids("dave"));
    let mid = |c: &Capture| {
        c.outer_header()
            .lines()
            .find(|l| l.starts_with("Message-ID"))
            .map(String::from)
    };
    assert!(mid(&c[0]).is_some());
    assert!(
        c.iter()
            .all(|x| mid(x) == mid(&c[0]) && x.outer_header() == c[0].outer_header())
    );
    for copy in &c {
        for hidden in [&b"carol"[..], b"dave", b"Bcc"] {
            assert!(!contains(&copy.cleartext(), hidden));
        }
    }
    for (copy, who) in c.iter().zip(["alice", "carol", "dave"]) {
        let o = copy.open(who);
        assert!(!contains(&o.payload, b"Bcc"));
        assert!(!contains(&o.payload, b"carol@example.net"));
    }
}

#[test]
fn rules11_15_outer_message() {
    let (c, _) = one(&["-i", "-t"], MIME_MSG);
    let text = c.text();
    assert!(text.is_ascii(), "7-bit");
    assert!(!text.contains('\r'), "LF line endings");
    let header = c.outer_header();
    let names: Vec<&str> = header
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "From",
            "To",
            "Cc",
            "Date",
            "Message-ID",
            "In-Reply-To",
            "References",
            "List-Id",
            "Subject",
            "MIME-Version",
            "Content-Type"
        ]
    );
    assert!(text.contains("Subject: [...]\n"));
    assert!(text.contains(
        "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\n boundary=\""
    ));
    let boundary = text
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(boundary.len() >= 24);
    assert!(text.contains("\n\nThis is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n"));
    assert!(text.contains(&format!(
        "--{boundary}\nContent-Type: application/pgp-encrypted\nContent-Description: PGP/MIME version identification\n\nVersion: 1\n"
    )));
    assert!(text.contains(&format!(
        "--{boundary}\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\nContent-Description: OpenPGP encrypted message\nContent-Disposition: inline; filename=\"encrypted.asc\"\n\n-----BEGIN PGP MESSAGE-----\n"
    )));
    assert!(text.ends_with(&format!("-----END PGP MESSAGE-----\n\n--{boundary}--\n")));
    for secret in [
        "MARKER",
        "User-Agent",
        "X-Mailer",
        "Received",
        "Return-Path",
        "Content-Transfer-Encoding",
        "multipart/alternative",
    ] {
        assert!(!text.contains(secret), "{secret} outside");
    }
}

#[test]
fn configurable_subject_placeholder() {
    let h = H::with_keys(&["bob"], "subject = \"...\"\n");
    let c = h.ok(
        &["-i", "bob@example.org"],
        b"To: bob@example.org\nSubject: real\n\nx\n",
    );
    assert!(c[0].outer_header().contains("Subject: ...\n"));
    assert!(contains(
        &c[0].open("bob").payload,
        b"HP-Outer: Subject: ...\r\n"
    ));
}

#[test]
fn guarantee_no_byte_of_body_or_removed_header_outside() {
    let (c, o) = one(&["-i", "-t"], MIME_MSG);
    for marker in [
        "MARKER-BODY",
        "MARKER-SUBJECT",
        "MARKER-XMAILER",
        "MARKER-DKIM",
        "MARKER-ARC",
        "trace.example",
    ] {
        assert!(
            !contains(&c.cleartext(), marker.as_bytes()),
            "{marker} outside"
        );
    }
    assert!(contains(&o.payload, b"MARKER-BODY"));
}

#[test]
fn eight_bit_from_is_ascii_outside_and_intact_inside() {
    let msg =
        "From: J\u{f6}rg <joerg@example.org>\nTo: bob@example.org\nSubject: Gr\u{fc}\u{df}e\n\nx\n";
    let (c, o) = one(&["-i", "-t"], msg.as_bytes());
    assert!(c.text().is_ascii());
    // The display name is RFC 2047 encoded outside (rule 18), and reads as given.
    let outer = c.outer_header();
    let from = outer.lines().find(|l| l.starts_with("From: ")).unwrap();
    assert!(from.ends_with(" <joerg@example.org>"), "{from}");
    let (h, _) = mailparse::parse_header(from.as_bytes()).unwrap();
    assert_eq!(h.get_value(), "J\u{f6}rg <joerg@example.org>");
    assert!(contains(
        &o.payload,
        "From: J\u{f6}rg <joerg@example.org>\r\n".as_bytes()
    ));
}

/// The payload of `c` as GnuPG decrypts it with `who`'s key, checked against our own
/// decryption; our own alone when gpg is missing (outside CI).
fn decrypted(c: &Capture, who: &str) -> Vec<u8> {
    let ours = c.open(who).payload;
    if let Some(g) = GpgHome::new() {
        let theirs = crate::interop::gpg_decrypt(&g, who, c);
        assert_eq!(theirs, ours, "gpg and rpgp disagree");
    }
    ours
}

/// The header fields of a message (or of a payload root) as a MIME parser reads them:
/// name and decoded value, in order.
fn parsed_fields(msg: &[u8]) -> Vec<(String, String)> {
    let (headers, _) = mailparse::parse_headers(msg).expect("a valid header section");
    headers
        .iter()
        .map(|h| (h.get_key(), h.get_value()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn rule02_lone_cr_body_is_base64() {
    use base64::Engine;
    let body = b"progress 10%\rprogress 100%\ndone\n";
    let mut msg = b"To: bob@example.org\n\n".to_vec();
    msg.extend_from_slice(body);
    let (_, o) = one(&["-i", "-t"], &msg);
    let (_, child_hdr, got) = payload_parts(&o.payload);
    assert!(
        contains(&child_hdr, b"Content-Transfer-Encoding: base64"),
        "{}",
        String::from_utf8_lossy(&child_hdr)
    );
    let text = String::from_utf8(got).unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(text.replace("\r\n", ""))
        .unwrap();
    assert_eq!(decoded, crlf(body));
}

#[test]
fn rule11_no_subject_means_no_subject_outside_or_inside() {
    let (c, o) = one(
        &["-i", "-t"],
        b"From: a@example.org\nTo: bob@example.org\n\nx\n",
    );
    assert!(
        !c.outer_header().contains("Subject"),
        "{}",
        c.outer_header()
    );
    let (root, _, _) = payload_parts(&o.payload);
    assert!(!root.contains("Subject"), "{root}");
}

#[test]
fn rule17_bare_local_names_are_qualified_inside_outside_and_in_hp_outer() {
    let h = H::with_keys(
        DEFAULT_KEYS,
        "qualify_domain = \"Mail.Example\"\n[recipients]\n\"root\" = { alias = \"ops@example.org\" }\n",
    );
    let c = h.ok(
        &["-i", "-t"],
        b"From: root (Cron Daemon)\nTo: root, Admin <root>\nSubject: s\n\nx\n",
    );
    assert_eq!(c[0].rcpts(), ["root"]);
    let outer = parsed_fields(&c[0].stdin);
    assert_eq!(field(&outer, "From"), ["root@mail.example (Cron Daemon)"]);
    assert_eq!(
        field(&outer, "To"),
        ["root@mail.example, Admin <root@mail.example>"]
    );
    let inner = parsed_fields(&decrypted(&c[0], "ops"));
    assert_eq!(field(&inner, "From"), field(&outer, "From"));
    assert_eq!(field(&inner, "To"), field(&outer, "To"));
    let hp: Vec<&str> = field(&inner, "HP-Outer");
    assert!(
        hp.contains(&"From: root@mail.example (Cron Daemon)"),
        "{hp:?}"
    );
    assert!(
        hp.contains(&"To: root@mail.example, Admin <root@mail.example>"),
        "{hp:?}"
    );
}

/// The real uid's login and the full name in its GECOS field, read from the password
/// database by getent.
fn login_and_gecos_name() -> (String, Option<String>) {
    let uid = pgpsendmail::sys::uid().to_string();
    let out = std::process::Command::new("getent")
        .args(["passwd", &uid])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let f: Vec<&str> = line.trim_end().split(':').collect();
    let name = f[4].split(',').next().unwrap().replace('&', &{
        let mut c = f[0].chars();
        c.next()
            .unwrap()
            .to_uppercase()
            .chain(c)
            .collect::<String>()
    });
    (f[0].to_string(), (!name.is_empty()).then_some(name))
}

#[test]
fn rule17_synthesized_from_is_full_name_and_qualified_login() {
    let h = H::with_keys(DEFAULT_KEYS, "qualify_domain = \"mail.example\"\n");
    let c = h.ok(
        &["-i", "bob@example.org"],
        b"To: bob@example.org\nSubject: s\n\nx\n",
    );
    let (login, name) = login_and_gecos_name();
    let outer = parsed_fields(&c[0].stdin);
    let want = match name {
        Some(n) => format!("{n} <{login}@mail.example>"),
        None => format!("{login}@mail.example"),
    };
    assert_eq!(field(&outer, "From"), [want.as_str()]);
    let inner = parsed_fields(&decrypted(&c[0], "bob"));
    assert_eq!(field(&inner, "From"), [want.as_str()]);
    // -F names it instead, and a bare -f address is qualified too.
    let c = h.ok(
        &["-i", "-F", "Nightly Job", "-f", "backup", "bob@example.org"],
        b"To: bob@example.org\n\nx\n",
    );
    let outer = parsed_fields(&c[1].stdin);
    assert_eq!(field(&outer, "From"), ["Nightly Job <backup@mail.example>"]);
}

const EAI_MSG: &str = "From: Jos\u{e9} <jos\u{e9}@ex\u{e4}mple.org>\n\
To: \u{7528}\u{6237}@\u{4f8b}\u{5b50}.\u{5e7f}\u{544a}, Bob <bob@example.org>\n\
Cc: Gr\u{fc}\u{df}e <alice@example.org>\n\
Message-ID: <caf\u{e9}.1@ex\u{e4}mple.org>\n\
List-Id: Caf\u{e9} talk <cafe.example.org>\n\
Subject: EAI MARKER-SUBJECT\n\nbody\n";

#[test]
fn rule18_utf8_addresses_and_ids_stay_outside_rfc6532() {
    let h = H::new();
    let c = h.ok(&["-i", "bob@example.org"], EAI_MSG.as_bytes());
    let outer = parsed_fields(&c[0].stdin);
    assert_eq!(
        field(&outer, "From"),
        ["Jos\u{e9} <jos\u{e9}@ex\u{e4}mple.org>"]
    );
    assert_eq!(
        field(&outer, "To"),
        ["\u{7528}\u{6237}@\u{4f8b}\u{5b50}.\u{5e7f}\u{544a}, Bob <bob@example.org>"]
    );
    assert_eq!(field(&outer, "Cc"), ["Gr\u{fc}\u{df}e <alice@example.org>"]);
    assert_eq!(
        field(&outer, "Message-ID"),
        ["<caf\u{e9}.1@ex\u{e4}mple.org>"]
    );
    assert_eq!(
        field(&outer, "List-Id"),
        ["Caf\u{e9} talk <cafe.example.org>"]
    );
    // Only the addr-specs and IDs are UTF-8 (RFC 6532); display names are RFC 2047 words.
    let header = c[0].outer_header();
    assert!(header.contains("From: =?utf-8?B?"), "{header}");
    assert!(header.contains("Cc: =?utf-8?B?"), "{header}");
    assert!(!header.contains("MARKER-SUBJECT"));
    let inner = parsed_fields(&decrypted(&c[0], "bob"));
    assert_eq!(field(&inner, "From"), field(&outer, "From"));
    assert_eq!(field(&inner, "Subject"), ["EAI MARKER-SUBJECT"]);
    let hp = field(&inner, "HP-Outer");
    assert!(
        hp.iter().any(|v| v.starts_with("To: \u{7528}\u{6237}@")),
        "{hp:?}"
    );
}

/// A Postfix stand-in whose postconf says `smtputf8_enable = no`; the configuration names it.
fn postfix_without_smtputf8(h: &H) {
    let dir = h.dir.path().join("pf");
    std::fs::create_dir_all(&dir).unwrap();
    install_executable(&stand_in(), &dir.join("sendmail"), "0755", None);
    write_script(
        &dir.join("postconf"),
        "#!/bin/sh\n[ \"$2\" = smtputf8_enable ] && echo no\n",
    );
    std::fs::write(
        &h.config,
        format!(
            "sendmail = \"{}\"\nkeyring = [\"{}\"]\n",
            dir.join("sendmail").display(),
            h.keys.display()
        ),
    )
    .unwrap();
}

#[test]
fn rule18_no_smtputf8_path_leaves_utf8_out_with_a_warning() {
    let mut h = H::new();
    postfix_without_smtputf8(&h);
    let log = crate::maillog::Log::on(&mut h);
    let out = h.run(&["-i", "bob@example.org"], EAI_MSG.as_bytes());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let c = h.captures();
    assert!(c[0].stdin.is_ascii());
    let outer = parsed_fields(&c[0].stdin);
    assert!(field(&outer, "From").is_empty());
    assert_eq!(field(&outer, "To"), ["Bob <bob@example.org>"]);
    assert_eq!(field(&outer, "Cc"), ["Gr\u{fc}\u{df}e <alice@example.org>"]);
    assert!(field(&outer, "Message-ID").is_empty());
    for name in ["From", "To", "Message-ID", "SMTPUTF8"] {
        assert!(err.contains(name), "{name} not in the warning: {err}");
    }
    let warned = log.lines();
    assert!(
        warned
            .iter()
            .any(|l| l.contains("left out of the outer header")),
        "{warned:#?}"
    );
    // Inside, everything is as given.
    let inner = parsed_fields(&decrypted(&c[0], "bob"));
    assert_eq!(
        field(&inner, "From"),
        ["Jos\u{e9} <jos\u{e9}@ex\u{e4}mple.org>"]
    );
}

#[test]
fn rule19_outer_fields_folded_at_78_and_never_over_998() {
    let refs: String = (0..80)
        .map(|i| format!("<ref{i}.abcdefgh@example.org>"))
        .collect();
    let to: String = (0..60).map(|i| format!("u{i}@example.org, ")).collect();
    let msg = format!(
        "From: a@example.org\nTo: {to}bob@example.org\nReferences: {refs}\n\
         List-Id: <{}.example.org>\nSubject: s\n\nx\n",
        "l".repeat(1200)
    );
    assert!(msg.lines().any(|l| l.len() > 998));
    let h = H::new();
    let out = h.run(&["-i", "bob@example.org"], msg.as_bytes());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("List-Id (a line over 998 octets)"), "{err}");
    let c = h.captures();
    let header = c[0].outer_header();
    for line in header.lines() {
        assert!(line.len() <= 78, "{} octets: {line}", line.len());
    }
    let outer = parsed_fields(&c[0].stdin);
    let want_refs: Vec<String> = (0..80)
        .map(|i| format!("<ref{i}.abcdefgh@example.org>"))
        .collect();
    assert_eq!(field(&outer, "References"), [want_refs.join(" ").as_str()]);
    assert_eq!(
        field(&outer, "To"),
        [format!("{to}bob@example.org").as_str()]
    );
    assert!(field(&outer, "List-Id").is_empty());
    let payload = decrypted(&c[0], "bob");
    let (root, _, _) = payload_parts(&payload);
    let mut in_hp = false;
    for line in root.lines() {
        in_hp = line.starts_with("HP-Outer:") || in_hp && line.starts_with(' ');
        assert!(
            !in_hp || line.len() <= 78,
            "an HP-Outer line over 78: {line}"
        );
    }
    // Inside, the long List-Id is kept as given.
    assert_eq!(field(&parsed_fields(&payload), "List-Id").len(), 1);
}

#[test]
fn rule20_legacy_display_leads_the_text_part_pgpsendmail_makes() {
    let (c, _) = one(
        &["-i", "-t"],
        "To: bob@example.org\nKeywords: MARKER-KW\nSubject: Gr\u{fc}\u{df}e MARKER-SUBJECT\n\nbody\n"
            .as_bytes(),
    );
    let payload = decrypted(&c, "bob");
    let (_, child_hdr, body) = payload_parts_raw(&payload);
    let child_hdr = String::from_utf8(child_hdr).unwrap();
    assert!(
        child_hdr.contains("Content-Type: text/plain; charset=\"utf-8\"; hp-legacy-display=\"1\""),
        "{child_hdr}"
    );
    assert!(
        child_hdr.contains("Content-Transfer-Encoding: 8bit"),
        "{child_hdr}"
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "Keywords: MARKER-KW\r\nSubject: Gr\u{fc}\u{df}e MARKER-SUBJECT\r\n\r\nbody\r\n"
    );
    // What a reader that knows nothing of header protection shows: the decrypted part.
    let part = mailparse::parse_mail(&payload).unwrap();
    let text = part.subparts[0].get_body().unwrap();
    assert!(
        text.contains("\r\nSubject: Gr\u{fc}\u{df}e MARKER-SUBJECT\r\n"),
        "{text}"
    );
}

#[test]
fn rule20_legacy_display_in_a_top_level_text_plain_only() {
    let subject = "Subject: =?utf-8?q?K=C3=B6ln?= MARKER\n";
    let plain = format!(
        "To: bob@example.org\n{subject}MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\nbody\n"
    );
    let (c, _) = one(&["-i", "-t"], plain.as_bytes());
    let (_, child_hdr, body) = payload_parts_raw(&decrypted(&c, "bob"));
    assert!(contains(&child_hdr, b"hp-legacy-display=\"1\""));
    assert_eq!(body, "Subject: K\u{f6}ln MARKER\r\n\r\nbody\r\n".as_bytes());
    // Before a quoted-printable body, the display is quoted-printable too: the part
    // decodes to the display and then the body, as it was.
    let qp = plain
        .replace("8bit", "quoted-printable")
        .replace("body\n", "b=C3=B6dy=\n end\n");
    let (c, _) = one(&["-i", "-t"], qp.as_bytes());
    let payload = decrypted(&c, "bob");
    let (_, child_hdr, body) = payload_parts_raw(&payload);
    assert!(contains(&child_hdr, b"hp-legacy-display=\"1\""));
    assert_eq!(
        body,
        b"Subject: K=C3=B6ln MARKER\r\n\r\nb=C3=B6dy=\r\n end\r\n"
    );
    let part = mailparse::parse_mail(&payload).unwrap();
    assert_eq!(
        part.subparts[0].get_body().unwrap(),
        "Subject: K\u{f6}ln MARKER\r\n\r\nb\u{f6}dy end\r\n"
    );
    // Before a base64 body, the display is base64 lines of its own, padded with spaces to
    // three bytes' multiple so that the body's lines follow unchanged and the part decodes
    // to the display and then the body.
    let b64 = plain
        .replace("8bit", "base64")
        .replace("body\n", "YsO2ZHkNCmVu\nZA0K\n");
    let (c, _) = one(&["-i", "-t"], b64.as_bytes());
    let payload = decrypted(&c, "bob");
    let (_, child_hdr, body) = payload_parts_raw(&payload);
    assert!(contains(&child_hdr, b"hp-legacy-display=\"1\""));
    let body = String::from_utf8(body).unwrap();
    assert!(body.ends_with("\r\nYsO2ZHkNCmVu\r\nZA0K\r\n"), "{body}");
    let lead = &body[..body.len() - "YsO2ZHkNCmVu\r\nZA0K\r\n".len()];
    assert!(!lead.contains('='), "no padding inside: {lead}");
    let part = mailparse::parse_mail(&payload).unwrap();
    assert_eq!(
        part.subparts[0].get_body().unwrap(),
        "Subject: K\u{f6}ln MARKER  \r\n\r\nb\u{f6}dy\r\nend\r\n"
    );
    // Not where it would change what the part says: an attachment, a multipart, or when
    // legacy_display is off.
    let attachment = plain.replace(
        "MIME-Version",
        "Content-Disposition: attachment\nMIME-Version",
    );
    let multi = format!(
        "To: bob@example.org\n{subject}MIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b--\n"
    );
    for msg in [&attachment, &multi] {
        let (_, o) = one(&["-i", "-t"], msg.as_bytes());
        let (_, child_hdr, _) = payload_parts_raw(&o.payload);
        assert!(!contains(&child_hdr, b"hp-legacy-display"), "{msg}");
    }
    let h = H::with_keys(DEFAULT_KEYS, "legacy_display = false\n");
    let c = h.ok(&["-i", "-t"], plain.as_bytes());
    let (_, child_hdr, body) = payload_parts_raw(&c[0].open("bob").payload);
    assert!(!contains(&child_hdr, b"hp-legacy-display"));
    assert_eq!(body, b"body\r\n");
}

#[test]
fn rule21_transport_fields_are_outside_and_inside() {
    let msg = "From: a@example.org\nTo: bob@example.org\n\
               Autocrypt: addr=a@example.org; keydata=AAAA\nTLS-Required: No\n\
               MT-Priority: 4\nRequire-Recipient-Valid-Since: bob@example.org; 1 Jan 2026 00:00:00 +0000\n\
               Autocrypt-Gossip: addr=c@example.org; keydata=BBBB\nSubject: s\n\nx\n";
    let (c, _) = one(&["-i", "-t"], msg.as_bytes());
    let outer = parsed_fields(&c.stdin);
    let inner = parsed_fields(&decrypted(&c, "bob"));
    let hp = field(&inner, "HP-Outer");
    for name in [
        "Autocrypt",
        "TLS-Required",
        "MT-Priority",
        "Require-Recipient-Valid-Since",
    ] {
        assert_eq!(field(&outer, name).len(), 1, "{name} not outside");
        assert_eq!(field(&inner, name), field(&outer, name), "{name} inside");
        assert!(
            hp.iter().any(|v| v.starts_with(&format!("{name}: "))),
            "{name}: {hp:?}"
        );
    }
    // Gossip is for the recipient after decryption: inside only.
    assert!(field(&outer, "Autocrypt-Gossip").is_empty());
    assert_eq!(field(&inner, "Autocrypt-Gossip").len(), 1);
}
