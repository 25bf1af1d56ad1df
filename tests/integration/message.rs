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
    assert!(c.outer_header().contains("From: joerg@example.org"));
    assert!(contains(
        &o.payload,
        "From: J\u{f6}rg <joerg@example.org>\r\n".as_bytes()
    ));
}
